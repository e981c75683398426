//! Switching-probability curves of binary STT-MRAM junctions: synthesised
//! from an [`SttMram`] (`aimsim synth`) and fitted back to its parameters
//! (`aimsim calibrate`).
//!
//! Data (`aimsim.measured/1`, `devices[].switching`, docs/measured-format.md):
//! at each point `n` pulses of current `I` and width `t`, `k` of which
//! switched the junction. Model: `P(I, t)` of [`SttMram`]
//! (thermal activation below `I_c0`, precessional switching above).
//! Fit: maximum likelihood, `−ln L = −Σ [k ln P + (n − k) ln(1 − P)]`
//! over `(ln Δ, ln I_c0, ln τ₀, ln τ_D)` by Nelder–Mead from a grid of
//! starts. What the curves determine: in the thermal regime only `Δ/I_c0`
//! and `ln τ₀ + Δ` (`P ≈ (t/τ₀) e^{−Δ(1 − I/I_c0)}`), in the precessional
//! regime `Δ`, `τ_D` and `I_c0` (`ln(−ln P) = ln(π²Δ/4) − 2(I/I_c0 −
//! 1) t/τ_D`): curves at two or more widths that reach both regimes fix
//! all four. Resistances come from repeated reads of each state
//! (`devices[].reads`: the higher mean is `1/R_P`, the lower `1/R_AP`).

use crate::measured::{Measured, RawMeasured, RawMeasuredDevice, RawReads, RawSwitching};
use crate::mram::{RawSttMram, SttMram, MRAM_SCHEMA};
use crate::{CalibrateOptions, MramCells, Result, MEASURED_SCHEMA};
use aimsim_core::stream;

/// Pulse widths of synthesised curves, in units of the device's width.
const SYNTH_WIDTHS: [f64; 4] = [0.2, 0.5, 1.0, 3.0];
/// Currents of synthesised curves: 0.3 to 3.0 `I_c0` in steps of 0.1.
const SYNTH_CURRENTS: std::ops::RangeInclusive<u32> = 3..=30;

/// Switching curves of `devices` junctions of `m`: at each width of
/// `SYNTH_WIDTHS` × `t_p` and current of 0.3–3.0 `I_c0`, `trials` pulses,
/// each on a junction in the antiparallel state, drawn with the model's own
/// stochastic switching ([`MramCells::pulse`], stream `synth/switching`),
/// plus `reads` reads of each state.
pub fn synthesize_mram(
    m: &SttMram,
    devices: usize,
    trials: u64,
    reads: usize,
    seed: u64,
) -> RawMeasured {
    let mut rng = stream(seed, "synth/switching");
    let mut out = Vec::with_capacity(devices);
    for d in 0..devices {
        let mut sw = RawSwitching {
            current: Vec::new(),
            width: Vec::new(),
            trials: Vec::new(),
            switched: Vec::new(),
        };
        for w in SYNTH_WIDTHS {
            let mut mw = m.clone();
            mw.pulse_width_s = w * m.pulse_width_s;
            for k in SYNTH_CURRENTS {
                let current = f64::from(k) * 0.1 * m.critical_current_ua;
                let mut cells = MramCells::new(1);
                let mut switched = 0;
                for _ in 0..trials {
                    if cells.pulse(&mw, 0, true, current, &mut rng).switched {
                        switched += 1;
                        cells = MramCells::new(1);
                    }
                }
                sw.current.push(current);
                sw.width.push(mw.pulse_width_s);
                sw.trials.push(trials);
                sw.switched.push(switched);
            }
        }
        let read = |g: f64| RawReads {
            conductance: vec![Some(g); reads],
        };
        out.push(RawMeasuredDevice {
            id: Some(format!("junction{d}")),
            reads: if reads > 0 {
                vec![read(m.g_parallel_us()), read(m.g_antiparallel_us())]
            } else {
                Vec::new()
            },
            switching: vec![sw],
            ..Default::default()
        });
    }
    RawMeasured {
        schema: MEASURED_SCHEMA.into(),
        description: format!(
            "synthetic: switching curves of {devices} junctions of STT-MRAM device `{}`, {trials} pulses per point, seed {seed}",
            m.name
        ),
        units: Default::default(),
        devices: out,
    }
}

/// A fitted STT-MRAM device file and its report.
#[derive(Clone, Debug)]
pub struct MramCalibration {
    /// The device file (valid: it passed [`SttMram::validate`]).
    pub device: RawSttMram,
    /// The fit report, as text.
    pub report: String,
}

/// One pooled point: (current µA, width s, trials, switched).
type Point = (f64, f64, f64, f64);

/// −ln L of the points for `m` (binomial, constant terms dropped).
fn neg_log_likelihood(m: &SttMram, pts: &[Point]) -> f64 {
    let mut nll = 0.0;
    for &(i, t, n, k) in pts {
        let p = m.switching_probability(i, t).clamp(1e-300, 1.0);
        let q = m.non_switching_probability(i, t).clamp(1e-300, 1.0);
        nll -= k * p.ln() + (n - k) * q.ln();
    }
    nll
}

/// Nelder–Mead minimisation of `f` from `x0` with initial steps `step`.
fn nelder_mead(
    f: &dyn Fn(&[f64; 4]) -> f64,
    x0: [f64; 4],
    step: f64,
    iters: usize,
) -> ([f64; 4], f64) {
    let mut simplex: Vec<([f64; 4], f64)> = (0..5)
        .map(|k| {
            let mut x = x0;
            if k > 0 {
                x[k - 1] += step;
            }
            (x, f(&x))
        })
        .collect();
    for _ in 0..iters {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[4].1 - simplex[0].1).abs() <= 1e-10 * (1.0 + simplex[0].1.abs()) {
            break;
        }
        let mut c = [0.0; 4];
        for (x, _) in &simplex[..4] {
            for (cj, xj) in c.iter_mut().zip(x) {
                *cj += xj / 4.0;
            }
        }
        let along = |a: f64| {
            let mut x = [0.0; 4];
            for j in 0..4 {
                x[j] = c[j] + a * (simplex[4].0[j] - c[j]);
            }
            x
        };
        let xr = along(-1.0);
        let fr = f(&xr);
        if fr < simplex[0].1 {
            let xe = along(-2.0);
            let fe = f(&xe);
            simplex[4] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[3].1 {
            simplex[4] = (xr, fr);
        } else {
            let xc = along(0.5);
            let fc = f(&xc);
            if fc < simplex[4].1 {
                simplex[4] = (xc, fc);
            } else {
                let best = simplex[0].0;
                for s in simplex.iter_mut().skip(1) {
                    for (v, b) in s.0.iter_mut().zip(best) {
                        *v = b + 0.5 * (*v - b);
                    }
                    s.1 = f(&s.0);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0]
}

/// Fits an STT-MRAM model to the switching curves (and state reads, and
/// cycles to failure) of `measured`. Parameters the data cannot give keep
/// stated defaults: the write pulse width is the median width measured,
/// the read current 0.2 `I_c0` for that width, `cells_per_weight` 8, the
/// write error rate 1e-6, and without data R_P = 3 kΩ, TMR = 1.5,
/// endurance 1e12.
pub fn calibrate_mram(measured: &Measured, opts: &CalibrateOptions) -> Result<MramCalibration> {
    let file = if opts.source_file.is_empty() {
        "<measured>"
    } else {
        &opts.source_file
    };
    // Pool identical conditions over the devices.
    let mut pts: Vec<Point> = Vec::new();
    for d in &measured.devices {
        for s in &d.switching {
            match pts
                .iter_mut()
                .find(|p| p.0 == s.current_ua && p.1 == s.width_s)
            {
                Some(p) => {
                    p.2 += s.trials as f64;
                    p.3 += s.switched as f64;
                }
                None => pts.push((s.current_ua, s.width_s, s.trials as f64, s.switched as f64)),
            }
        }
    }
    let c = aimsim_core::config::Check::new(file);
    if pts.is_empty() {
        return Err(c.err("devices", "no switching curves to fit").into());
    }
    let mut widths: Vec<f64> = pts.iter().map(|p| p.1).collect();
    widths.sort_by(f64::total_cmp);
    let width = widths[widths.len() / 2];
    // Initial I_c0: the smallest current switching half the pulses at the
    // median width (else the median current).
    let mut at_width: Vec<&Point> = pts.iter().filter(|p| p.1 == width).collect();
    at_width.sort_by(|a, b| a.0.total_cmp(&b.0));
    let i50 = at_width
        .iter()
        .find(|p| p.3 >= 0.5 * p.2)
        .map_or(pts[pts.len() / 2].0, |p| p.0)
        .max(1e-3);
    let model = |x: &[f64; 4]| SttMram {
        name: String::new(),
        provenance: serde_json::Value::Null,
        thermal_stability: x[0].exp(),
        critical_current_ua: x[1].exp(),
        attempt_time_s: x[2].exp(),
        precession_time_s: x[3].exp(),
        r_parallel_ohm: 3000.0,
        tmr: 1.5,
        pulse_width_s: width,
        read_current_ua: 0.0,
        read_time_s: 0.0,
        cells_per_weight: 8,
        endurance_median_pulses: 1e12,
        write_error_rate: 1e-6,
    };
    let f = |x: &[f64; 4]| {
        if x[0] > 500f64.ln() || x[0] < 0.0 || x.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        neg_log_likelihood(&model(x), &pts)
    };
    let mut best = ([0.0; 4], f64::INFINITY);
    for delta in [30.0f64, 80.0] {
        for ic in [0.8 * i50, 1.2 * i50] {
            for tau0 in [1e-10f64, 1e-9, 1e-8] {
                for tau_d in [1e-10f64, 1e-9, 1e-8] {
                    let x0 = [delta.ln(), ic.ln(), tau0.ln(), tau_d.ln()];
                    let r = nelder_mead(&f, x0, 0.5, 3000);
                    if r.1 < best.1 {
                        best = r;
                    }
                }
            }
        }
    }
    // Restart from the best to escape a collapsed simplex.
    let best = nelder_mead(&f, best.0, 0.1, 3000);
    let fit = model(&best.0);
    // Worst standardised residual of the fitted curve.
    let mut worst: f64 = 0.0;
    let mut trials = 0.0;
    for &(i, t, n, k) in &pts {
        let p = fit.switching_probability(i, t);
        let sd = (p * (1.0 - p) / n).sqrt().max(1.0 / n);
        worst = worst.max((k / n - p).abs() / sd);
        trials += n;
    }
    // States from the repeated reads.
    let mut means: Vec<f64> = measured
        .devices
        .iter()
        .flat_map(|d| d.reads.iter())
        .filter_map(|r| {
            let v: Vec<f64> = r.iter().flatten().copied().collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let states = (means.len() >= 2 && means[0] > 0.0 && means[means.len() - 1] > means[0])
        .then(|| (means[means.len() - 1], means[0]));
    let (r_p, tmr) = states.map_or((3000.0, 1.5), |(gp, gap)| (1e6 / gp, gp / gap - 1.0));
    let mut lives: Vec<f64> = measured
        .devices
        .iter()
        .filter_map(|d| d.cycles_to_failure)
        .collect();
    lives.sort_by(f64::total_cmp);
    let endurance = lives.get(lives.len() / 2).copied().unwrap_or(1e12);
    let g = |v: f64| format!("{v:.6e}");
    let source = format!("fitted from {file} (sha256 {})", opts.source_sha256);
    let provenance = serde_json::json!({
        "thermal_stability": format!("{source}: maximum likelihood over {} switching points", pts.len()),
        "critical_current_ua": source,
        "attempt_time_s": source,
        "precession_time_s": source,
        "r_parallel_ohm": if states.is_some() { source.clone() } else { "default: no reads of both states".into() },
        "tmr": if states.is_some() { source.clone() } else { "default: no reads of both states".into() },
        "pulse_width_s": "the median pulse width of the switching curves",
        "read_current_ua": "default: 0.2 I_c0 (not in the data)",
        "read_time_s": "default: the pulse width (not in the data)",
        "cells_per_weight": "default: 8",
        "endurance_median_pulses": if lives.is_empty() { "default: no cycles_to_failure".to_string() } else { source.clone() },
        "write_error_rate": "default: 1e-6",
    });
    let device = RawSttMram {
        schema: MRAM_SCHEMA.into(),
        name: opts.name.clone(),
        description: format!("STT-MRAM junction calibrated from {file}"),
        provenance,
        thermal_stability: fit.thermal_stability,
        critical_current_ua: fit.critical_current_ua,
        attempt_time_s: fit.attempt_time_s,
        precession_time_s: fit.precession_time_s,
        r_parallel_ohm: r_p,
        tmr,
        pulse_width_s: width,
        read_current_ua: 0.2 * fit.critical_current_ua,
        read_time_s: width,
        cells_per_weight: 8,
        endurance_median_pulses: endurance.max(1.0),
        write_error_rate: 1e-6,
    };
    let check = SttMram::validate("<calibrated device>", device.clone())?;
    let report = format!(
        "switching curves: {} points, {trials} pulses (pooled over {} devices)\n\
         \x20 thermal_stability (Δ)   {}\n\
         \x20 critical_current_ua     {}\n\
         \x20 attempt_time_s (τ₀)     {}\n\
         \x20 precession_time_s (τ_D) {}\n\
         \x20 worst |k/n − P|/σ       {worst:.2}  (−ln L = {:.3})\n\
         states: {}\n\
         endurance: {}\n",
        pts.len(),
        measured.devices.len(),
        g(check.thermal_stability),
        g(check.critical_current_ua),
        g(check.attempt_time_s),
        g(check.precession_time_s),
        best.1,
        match states {
            Some((gp, gap)) =>
                format!("G_P = {gp:.4} µS, G_AP = {gap:.4} µS → R_P = {r_p:.2} Ω, TMR = {tmr:.4}"),
            None => "not fitted (no reads of both states): R_P = 3 kΩ, TMR = 1.5".into(),
        },
        if lives.is_empty() {
            "not fitted (no cycles_to_failure): 1e12".to_string()
        } else {
            format!("median of {} devices: {endurance:e}", lives.len())
        }
    );
    Ok(MramCalibration { device, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_mram;

    fn round_trip(seed: u64) -> (SttMram, SttMram, String) {
        let truth = builtin_mram("stt-mram-pmtj", &[]).unwrap();
        let raw = synthesize_mram(&truth, 4, 500, 3, seed);
        let text = serde_json::to_string(&raw).unwrap();
        let m = Measured::from_json("synth.json", &text).unwrap();
        assert!(m.has_switching());
        let c = calibrate_mram(
            &m,
            &CalibrateOptions {
                name: "fit".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let fit = SttMram::validate("fit", c.device).unwrap();
        (truth, fit, c.report)
    }

    /// Synthesised curves (4 widths × 28 currents × 2000 pulses) calibrate
    /// back: Δ within 5 %, I_c0 within 2 %, τ_D within 5 %, τ₀ within a
    /// factor 1.5 (only `ln τ₀ + Δ` is pinned by the thermal regime, so
    /// τ₀ carries Δ's error amplified by e^{δΔ}), R_P and TMR exactly
    /// (noise-free reads), and the fitted curve is within 5σ of every point.
    #[test]
    fn switching_curves_calibrate_back() {
        for seed in [1, 2] {
            let (t, f, report) = round_trip(seed);
            let rel = |a: f64, b: f64| (a / b - 1.0).abs();
            assert!(
                rel(f.thermal_stability, t.thermal_stability) < 0.05,
                "{report}"
            );
            assert!(
                rel(f.critical_current_ua, t.critical_current_ua) < 0.02,
                "{report}"
            );
            assert!(
                rel(f.precession_time_s, t.precession_time_s) < 0.05,
                "{report}"
            );
            assert!(
                (f.attempt_time_s / t.attempt_time_s).ln().abs() < 1.5f64.ln(),
                "{report}"
            );
            assert!(rel(f.r_parallel_ohm, t.r_parallel_ohm) < 1e-9);
            assert!(rel(f.tmr, t.tmr) < 1e-9);
            assert_eq!(f.pulse_width_s, t.pulse_width_s);
            let worst: f64 = report
                .lines()
                .find(|l| l.contains("worst"))
                .and_then(|l| l.split_whitespace().nth(4))
                .and_then(|v| v.parse().ok())
                .unwrap();
            assert!(worst < 5.0, "{report}");
        }
    }

    #[test]
    fn synthesised_points_follow_the_model() {
        // Each point is Binomial(n, P(I, t)): within 5σ (σ ≥ 1/n).
        let truth = builtin_mram("stt-mram-pmtj", &[]).unwrap();
        let raw = synthesize_mram(&truth, 1, 400, 0, 9);
        let sw = &raw.devices[0].switching[0];
        assert_eq!(sw.current.len(), SYNTH_WIDTHS.len() * 28);
        for i in 0..sw.current.len() {
            let p = truth.switching_probability(sw.current[i], sw.width[i]);
            let n = sw.trials[i] as f64;
            let f = sw.switched[i] as f64 / n;
            let sd = (p * (1.0 - p) / n).sqrt().max(1.0 / n);
            assert!((f - p).abs() <= 5.0 * sd, "point {i}: {f} vs {p}");
        }
    }
}
