//! Writes on binary STT-MRAM junctions ([`WriteMode::Switch`](crate::WriteMode::Switch)): how a
//! decided change becomes junction pulses, and the execution of one phase
//! of them. Kept apart from the analog write paths, which it does not touch.
//!
//! A cell of the array is a group of `N` binary junctions
//! (`DeviceModel::from_mram`), one junction switching moves it by one step
//! `ΔG₁ = G_P − G_AP`. A decided change `|ΔG| = (k + r)·ΔG₁`, `k` whole
//! and `0 ≤ r < 1`, is written as:
//!
//! * `k` deterministic-intent pulses at the write current `I_w`
//!   (`SttMram::write_current_ua`: the pulse that switches with probability
//!   `1 − WER`), one on each of `k` junctions not yet in the target state;
//! * with `stochastic` (EaPU), one more pulse whose amplitude `I(r)`
//!   switches its junction with probability exactly `r`
//!   (`SttMram::current_for_probability_ua`, bisection at the file's pulse
//!   width), so `E[written] = ΔG` and the coin is the junction's thermal
//!   switching, drawn from the tile's write stream — no digital random
//!   bits; without (`bp`), `ΔG` is rounded to whole steps instead
//!   (`round(|ΔG|/ΔG₁)` deterministic-intent pulses: a change below half a
//!   step is lost, as bp's `round_to_pulses` does on analog cells).
//!
//! A phase's pulses on one group follow each other (a group's junctions
//! share a bit line), the groups of a phase are pulsed in parallel: it
//! lasts `setup + max_pulses · pulse_cycles`. Cell energy is `I² R t_p`
//! per pulse (`R` of the state the junction leaves), driver energy the
//! driver's line charging and overhead as for analog cells.

use crate::{PhaseOutcome, PlannedWrite, WriteHardware};
use aimsim_core::Rng;
use aimsim_device::{CellArray, DeviceModel, Polarity};

/// A remainder this close to 0 or 1 (relative to a step) is taken as a
/// whole step count: the f32 arithmetic of `ΔG/ΔG₁` is no finer.
const WHOLE_EPS: f64 = 1e-5;

/// Splits `|dg_us|` into whole steps `k` and the remainder `r ∈ [0, 1)`
/// realised by a probabilistic pulse (`stochastic`), or rounds it to whole
/// steps (`r = 0`).
pub fn split_steps(dg_us: f32, step_us: f32, stochastic: bool) -> (u32, f64) {
    let q = f64::from(dg_us.abs()) / f64::from(step_us);
    if !stochastic {
        return (q.round() as u32, 0.0);
    }
    let k = q.floor();
    let r = q - k;
    if r < WHOLE_EPS {
        (k as u32, 0.0)
    } else if r > 1.0 - WHOLE_EPS {
        (k as u32 + 1, 0.0)
    } else {
        (k as u32, r)
    }
}

/// The most pulses a planned write of `dg_us` applies (0: nothing to write).
pub fn planned_pulses(dg_us: f32, step_us: f32, stochastic: bool) -> u32 {
    let (k, r) = split_steps(dg_us, step_us, stochastic);
    k + u32::from(r > 0.0)
}

/// Executes one phase of `writes` (one row, SET = toward parallel if `set`)
/// on a binary STT-MRAM array; switching draws from `rng_write`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn execute_switch_phase(
    cells: &mut CellArray,
    model: &DeviceModel,
    set: bool,
    writes: &[PlannedWrite],
    step_us: f32,
    stochastic: bool,
    hw: &WriteHardware<'_>,
    rng_write: &mut Rng,
) -> PhaseOutcome {
    let m = model
        .mram
        .as_ref()
        .expect("switch writes run only on binary STT-MRAM devices");
    let polarity = if set { Polarity::Set } else { Polarity::Reset };
    let i_write = m.write_current_ua();
    let mut out = PhaseOutcome::default();
    let mut max_pulses = 0u32;
    for w in writes {
        let (k, r) = split_steps(w.dg_us, step_us, stochastic);
        let cell = w.cell as usize;
        let mut n = 0;
        if k > 0 {
            let (o, e) = cells.switch_junctions(model, cell, polarity, k, i_write, rng_write);
            n += o.pulses;
            out.cell_pj += e;
        }
        if r > 0.0 {
            let i = m.current_for_probability_ua(r);
            let (o, e) = cells.switch_junctions(model, cell, polarity, 1, i, rng_write);
            n += o.pulses;
            out.cell_pj += e;
        }
        max_pulses = max_pulses.max(n);
        out.pulses += u64::from(n);
    }
    out.driver_pj = hw
        .driver
        .phase_energy_pj(set, writes.len() as u32, max_pulses);
    out.rounds = 1;
    out.cycles = hw.driver.setup_cycles() + u64::from(max_pulses) * hw.pulse_cycles;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_rule, execute_phase, RawRule, RuleContext, RuleInput, WriteMode, WritePlan};
    use aimsim_core::config::Check;
    use aimsim_core::stream;
    use aimsim_device::builtin_mram;
    use aimsim_periphery::{Adc, Driver, RawAdc, RawDriver};

    fn mram() -> DeviceModel {
        DeviceModel::from_mram(builtin_mram("stt-mram-pmtj", &[]).unwrap())
    }

    fn periphery() -> (Driver, Adc) {
        let chip: serde_json::Value =
            serde_json::from_str(include_str!("../../../devices/stt-mram-pmtj.chip.json")).unwrap();
        let c = Check::new("chip");
        let driver = serde_json::from_value::<RawDriver>(chip["driver"].clone()).unwrap();
        let adc = serde_json::from_value::<RawAdc>(chip["adc"].clone()).unwrap();
        (
            Driver::validate(&c, driver).unwrap(),
            Adc::validate(&c, adc).unwrap(),
        )
    }

    fn rule(name: &str, m: &DeviceModel) -> Box<dyn crate::UpdateRule> {
        let raw: RawRule = serde_json::from_str(&format!("{{\"name\": \"{name}\"}}")).unwrap();
        build_rule(&Check::new("chip").section("rule"), &raw, m).unwrap()
    }

    /// Runs `rule` on a `rows × cols` array (all weights 0) with every
    /// request `req_us`; returns the array, the decision costs and the
    /// summed phase outcomes.
    fn update(
        rule: &mut dyn crate::UpdateRule,
        m: &DeviceModel,
        rows: usize,
        cols: usize,
        req_us: f32,
        seed: u64,
    ) -> (CellArray, crate::DecisionStats, PhaseOutcome) {
        let (driver, adc) = periphery();
        let hw = WriteHardware {
            driver: &driver,
            adc: &adc,
            pulse_cycles: 1,
            read_cycles: 1,
        };
        let mut a = CellArray::new(m, rows, cols, &mut stream(seed, "cells"));
        a.set_weights(m, &vec![0.0; rows * cols]);
        let req = vec![req_us; rows * cols];
        let mut dec = vec![0.0; rows * cols];
        let mut rng_decide = stream(seed, "decide");
        let mut ctx = RuleContext::new(&mut rng_decide);
        let input = RuleInput {
            tile: 0,
            rows,
            cols,
            requested_us: &req,
            factors: None,
        };
        rule.decide(&input, &mut dec, &mut ctx);
        let costs = ctx.costs();
        let mode = rule.write_mode();
        let plan = WritePlan::build(&a, m, &dec, mode);
        let (mut rw, mut rr) = (stream(seed, "write"), stream(seed, "read"));
        let mut total = PhaseOutcome::default();
        for ph in plan.phases(32) {
            let set = ph.polarity == Polarity::Set;
            let o = execute_phase(mode, &mut a, m, set, ph.writes, &hw, &mut rw, &mut rr);
            total.pulses += o.pulses;
            total.cell_pj += o.cell_pj;
            total.cycles += o.cycles;
            total.rounds += o.rounds;
        }
        (a, costs, total)
    }

    #[test]
    fn eapu_on_mram_writes_with_the_probability_the_rule_asks_for() {
        // 128 × 80 = 10 240 weights per asked p, each asked for p·ΔG₁:
        // the fraction of weights that moved one step is Binomial(n, p)/n,
        // σ = sqrt(p(1−p)/n) ≤ 0.0049; tolerance 5σ (two-sided false-failure
        // chance ~6e-7 per point).
        let m = mram();
        let s = m.mram.as_ref().unwrap();
        let step = m.step_set_us;
        let (rows, cols) = (128, 80);
        let n = (rows * cols) as f64;
        for (k, p) in [0.02f32, 0.1, 0.3, 0.5, 0.75, 0.95].into_iter().enumerate() {
            let mut eapu = rule("eapu", &m);
            let (a, costs, o) = update(eapu.as_mut(), &m, rows, cols, p * step, 40 + k as u64);
            // No digital random bits: the junction is the coin.
            assert_eq!(costs.random_decisions, 0);
            let mut w = vec![0.0; rows * cols];
            a.weights_into(&m, &mut w);
            let moved = w.iter().filter(|&&x| x != 0.0).count() as f64;
            assert!(w.iter().all(|&x| x == 0.0 || (x - 1.0 / 8.0).abs() < 1e-5));
            let f = moved / n;
            let sigma = (f64::from(p) * (1.0 - f64::from(p)) / n).sqrt();
            assert!(
                (f - f64::from(p)).abs() <= 5.0 * sigma,
                "asked {p}, wrote {f} (5σ = {})",
                5.0 * sigma
            );
            // One pulse per weight, at the current whose probability is p,
            // charged I²R t from the state the junction left (the probability
            // the write path computes from f32 ΔG differs from p by ~1e-8).
            assert_eq!(o.pulses, rows as u64 * cols as u64);
            let i = s.current_for_probability_ua(f64::from(p));
            assert!((s.switching_probability(i, s.pulse_width_s) - f64::from(p)).abs() < 1e-6);
            // Every weight is routed to one junction of G⁺ (SET, from AP)
            // or of G⁻ (RESET, from P).
            let (e_set, e_reset) = (s.pulse_energy_pj(i, false), s.pulse_energy_pj(i, true));
            assert!(o.cell_pj >= n * e_set.min(e_reset) * (1.0 - 1e-5));
            assert!(o.cell_pj <= n * e_set.max(e_reset) * (1.0 + 1e-5));
        }
    }

    #[test]
    fn bp_on_mram_rounds_and_switches_with_the_write_current() {
        let m = mram();
        let s = m.mram.as_ref().unwrap();
        let step = m.step_set_us;
        // 2.4 steps asked: bp rounds to 2 deterministic-intent pulses at
        // I_w (P_switch = 1 − 1e-6): every weight moves exactly 2 steps
        // (the chance that any of 2 048 pulses fails is 2e-3).
        let mut bp = rule("bp", &m);
        assert_eq!(
            bp.write_mode(),
            WriteMode::Switch {
                step_us: step,
                stochastic: false
            }
        );
        let (a, costs, o) = update(bp.as_mut(), &m, 32, 32, 2.4 * step, 5);
        assert_eq!(costs.random_decisions, 0);
        let mut w = vec![0.0; 32 * 32];
        a.weights_into(&m, &mut w);
        assert!(w.iter().all(|&x| (x - 0.25).abs() < 1e-5), "{:?}", &w[..4]);
        assert_eq!(o.pulses, 2 * 32 * 32);
        let i_w = s.write_current_ua();
        assert!((s.switching_probability(i_w, s.pulse_width_s) - (1.0 - 1e-6)).abs() < 1e-9);
        // Below half a step bp writes nothing.
        let (_, _, o) = update(bp.as_mut(), &m, 4, 4, 0.49 * step, 6);
        assert_eq!(o.pulses, 0);
    }

    #[test]
    fn steps_split_into_whole_and_probabilistic_parts() {
        assert_eq!(split_steps(2.5, 1.0, true), (2, 0.5));
        assert_eq!(split_steps(-0.25, 1.0, true), (0, 0.25));
        assert_eq!(split_steps(3.0, 1.0, true), (3, 0.0));
        assert_eq!(split_steps(2.999_999, 1.0, true), (3, 0.0));
        assert_eq!(split_steps(2.5, 1.0, false), (3, 0.0));
        assert_eq!(split_steps(0.4, 1.0, false), (0, 0.0));
        assert_eq!(planned_pulses(2.5, 1.0, true), 3);
        assert_eq!(planned_pulses(0.4, 1.0, false), 0);
    }

    #[test]
    fn analog_rules_are_refused_on_binary_devices() {
        let m = mram();
        for name in ["stochastic-pulse", "mixed-precision", "write-verify"] {
            let raw: RawRule = serde_json::from_str(&format!("{{\"name\": \"{name}\"}}")).unwrap();
            let e = build_rule(&Check::new("chip.json").section("rule"), &raw, &m)
                .err()
                .expect("refused")
                .to_string();
            assert!(
                e.contains("rule.name") && e.contains("binary") && e.contains(name),
                "{e}"
            );
        }
        assert!(!rule("ideal", &m).uses_device());
    }
}
