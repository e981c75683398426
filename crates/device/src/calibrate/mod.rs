//! Calibration: fit a device file to measured conductance data
//! (`aimsim.measured/1`) and say how well it fits.
//!
//! Each parameter group is fitted from what the data support; a group the
//! data cannot support keeps a stated default and the report says why
//! ([`FitStatus`]). The groups, in the report's order, and where each is
//! fitted (each module states its equations):
//!
//! * **data** (`data`): outliers dropped, gaps counted; devices that never
//!   moved are found by `stuck` and left out of the pulse fits.
//! * **bounds** (`bounds`), **mean step** (`steps`, `models`): the window
//!   from the saturated ends of the trains, then the steps between two
//!   measured values and the pulse model with the lowest AIC. Bounds need
//!   `σ_r` and `σ_r` needs the steps the bounds select, so this pulse fit
//!   (`pulses`) runs twice.
//! * **write and read noise** (`noise`): separated by the negative
//!   correlation read noise puts between successive steps, or read noise
//!   from repeated reads where given.
//! * **device-to-device** (`d2d`), **stuck-at** (`stuck`), **relaxation**
//!   (`relax`), **endurance** (`endurance`).
//!
//! This module runs the fits in that order and writes the device file, its
//! provenance recording the input file and the whole [`FitReport`].

mod bounds;
mod d2d;
mod data;
mod endurance;
mod models;
mod noise;
mod pulses;
mod relax;
mod report;
mod stats;
mod steps;
mod stuck;
#[cfg(test)]
mod test_support;

pub use report::{FitGroup, FitReport, FitStatus};

use crate::measured::Measured;
use crate::{DeviceModel, Polarity, RawDevice, Result, DEVICE_SCHEMA};
use noise::RepeatedReads;

/// How to name and attribute the fitted device.
#[derive(Clone, Debug, Default)]
pub struct CalibrateOptions {
    /// Name of the device file produced.
    pub name: String,
    /// The measured file's name, recorded in the provenance.
    pub source_file: String,
    /// The measured file's SHA-256 (hex), recorded in the provenance.
    pub source_sha256: String,
    /// Conductance of one weight unit, µS (default: 0.8 × the fitted window,
    /// so a pair holds ±1.25 like the reference chip).
    pub r_wg_us: Option<f64>,
}

/// A fitted device file and its report.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// The device file (valid: it passed [`DeviceModel::validate`]).
    pub device: RawDevice,
    /// The fit report (also recorded in the device's provenance).
    pub report: FitReport,
}

/// Fits a device to measured data. Never fails on degraded data (it fits
/// less and says so); fails only if the data hold no conductance range at all.
pub fn calibrate(m: &Measured, opts: &CalibrateOptions) -> Result<Calibration> {
    let file = if opts.source_file.is_empty() {
        "<measured>"
    } else {
        &opts.source_file
    };
    let data = data::read(m, file)?;
    let reads = RepeatedReads::of(m);

    // Two passes: bounds need σ_r, σ_r needs the steps that the bounds select.
    let mut sigma_r = reads.map_or(0.0, |r| r.sigma_us);
    let mut pass = None;
    for _ in 0..2 {
        let p = pulses::fit(&data, sigma_r);
        if reads.is_none() {
            sigma_r = p.residuals.sigma_r2().max(0.0).sqrt();
        }
        pass = Some(p);
    }
    let p = pass.expect("two passes ran");
    let (lo, hi) = (p.bounds.g_min, p.bounds.g_max);
    let w = hi - lo;

    let write = noise::write_noise(&p, sigma_r);
    let read = noise::read_noise(&p, sigma_r, reads);
    let d2d = d2d::fit(m.devices.len(), data.stuck.count(), &p, sigma_r);
    let stuck_at = data.stuck.fit();
    let rx = relax::fit(m, lo, hi, sigma_r);
    let (relax_rate, relax_rest, relax_t0, relax_noise) = (
        rx.values
            .get("relax_rate_per_decade")
            .copied()
            .unwrap_or(0.0),
        rx.values.get("relax_rest_us").copied(),
        rx.values.get("relax_t0_s").copied(),
        rx.values.get("relax_noise_us").copied().unwrap_or(0.0),
    );
    let endurance = endurance::fit(m);

    let ms = &p.mean_step;
    let report = FitReport {
        model: ms.model.name().into(),
        groups: vec![
            data.group,
            p.bounds.group.clone(),
            ms.group.clone(),
            write.group,
            read,
            d2d.group,
            stuck_at.group,
            rx,
            endurance.group,
        ],
    };
    let device = RawDevice {
        schema: DEVICE_SCHEMA.into(),
        name: opts.name.clone(),
        description: format!(
            "calibrated by aimsim {} from {} ({})",
            env!("CARGO_PKG_VERSION"),
            opts.source_file,
            m.description
        ),
        provenance: serde_json::json!({
            "calibrated_from": { "file": opts.source_file, "sha256": opts.source_sha256 },
            "aimsim": env!("CARGO_PKG_VERSION"),
            "model_chosen": ms.model.name(),
            "r_wg_us": if opts.r_wg_us.is_some() { "given on the command line" } else { "not from data: 0.8 × the fitted window, so a pair holds ±1.25 weight units" },
            "fit": report,
        }),
        g_min_us: lo,
        g_max_us: hi,
        r_wg_us: opts.r_wg_us.unwrap_or(0.8 * w),
        pulse_model: ms.model,
        step_set_us: Some(ms.set.s_mid.clamp(1e-6 * w, w)),
        step_reset_us: Some(ms.reset.s_mid.clamp(1e-6 * w, w)),
        levels_set: None,
        levels_reset: None,
        nonlinearity_set: ms.nonlinearity(Polarity::Set),
        nonlinearity_reset: ms.nonlinearity(Polarity::Reset),
        fefet: None,
        write_noise_us: write.total_us.min(w),
        c2c_noise_us: Some(write.c2c_add_us.min(w)),
        c2c_noise_rel: write.c2c_rel.min(10.0),
        d2d_step_sigma_log: d2d.step_sigma_log.min(3.0),
        d2d_g_min_us: d2d.g_min_us.min(w),
        d2d_g_max_us: d2d.g_max_us.min(w),
        d2d_nonlinearity_rel: 0.0,
        read_noise_us: sigma_r.min(w),
        relax_rate_per_decade: relax_rate.clamp(0.0, 1.0),
        relax_rest_us: relax_rest.map(|r| r.clamp(lo, hi)),
        relax_t0_s: relax_t0,
        relax_noise_us: relax_noise.min(w),
        endurance_median_pulses: endurance.median_pulses,
        endurance_sigma_log: endurance.sigma_log,
        stuck_at_min_fraction: stuck_at.min_fraction,
        stuck_at_max_fraction: stuck_at.max_fraction,
    };
    // Checked as `run` will read it: through its JSON text, so a value at a
    // limit that printing and parsing could move is caught here.
    let text = serde_json::to_string_pretty(&device).expect("a device serialises");
    DeviceModel::from_json("<calibrated device>", &text, &[])?;
    Ok(Calibration { device, report })
}

#[cfg(test)]
mod tests {
    use super::test_support::{fit, model_of};
    use super::*;
    use crate::{builtin_device, builtin_devices, synthesize, RawMeasured, SynthOptions};

    /// Round trip on every built-in device, three seeds, 8 devices × 40
    /// cycles (≈ 10⁵ usable steps per fit). Tolerances and why they hold:
    /// * bounds within 1.5 % of the window: the q₀.₉₉/q₀.₀₁ of ≥ 10⁴ values
    ///   piled against a bound sit 2σ_r ± ~0.5σ_r outside it, and σ_r ≤ 1.1 %
    ///   of the window for these devices (observed error ≤ 0.6 %);
    /// * mean step at 25/50/75 % of the window, both polarities, within 12 %:
    ///   the step's SE is 2–4 % of its value (σ_step/√n with σ_step up to 5×
    ///   the step), so 12 % is ≥ 3 SE (observed ≤ 7 %);
    /// * additive C2C noise within 6 %: the SE of σ̂_w is ≈ σ_w/√(2n) plus
    ///   the read-noise subtraction, ≈ 1 % (observed ≤ 3 %);
    /// * read noise: |σ̂_r² − σ_r²| ≤ 4 SE(γ₁) (the SE the fit reports), and
    ///   that SE must be below 25 % of σ_r², so the check has teeth.
    ///
    /// The FeFET (`fefet-nls`) has device-to-device variation, step-
    /// proportional noise and relaxation, which these tolerances do not
    /// cover: it has its own test, `round_trip_recovers_the_fefet`.
    #[test]
    fn round_trip_recovers_builtin_devices() {
        for name in builtin_devices() {
            let d = builtin_device(name, &[]).unwrap();
            if d.pulse_model == crate::PulseModel::FefetNls {
                continue;
            }
            for seed in 1..=3 {
                let c = fit(synthesize(
                    &d,
                    &SynthOptions {
                        seed,
                        cycles: 40,
                        ..Default::default()
                    },
                ));
                let f = model_of(&c);
                let at = format!("{name} seed {seed}");
                assert_window_and_steps(&d, &f, &at, 0.015, 0.12);
                let rel = (f.c2c_noise_us - d.c2c_noise_us).abs() / d.c2c_noise_us;
                assert!(
                    rel < 0.06,
                    "{at}: c2c {} vs {}",
                    f.c2c_noise_us,
                    d.c2c_noise_us
                );
                let se = c.report.group("read_noise").unwrap().quality["gamma1_se_us2"];
                let (sr2, tr2) = (
                    f64::from(f.read_noise_us).powi(2),
                    f64::from(d.read_noise_us).powi(2),
                );
                assert!(
                    se < 0.25 * tr2,
                    "{at}: SE(γ1) {se} too large for σ_r² {tr2}"
                );
                assert!(
                    (sr2 - tr2).abs() < 4.0 * se,
                    "{at}: σ_r² {sr2} vs {tr2} (SE {se})"
                );
            }
        }
    }

    /// The fitted window's ends within `window` × its width of the true
    /// ones, and the mean SET / RESET steps at ¼, ½ and ¾ of the window
    /// within the relative tolerance `step`.
    fn assert_window_and_steps(d: &DeviceModel, f: &DeviceModel, at: &str, window: f32, step: f32) {
        let w = d.g_max_us - d.g_min_us;
        assert!(
            (f.g_min_us - d.g_min_us).abs() < window * w,
            "{at}: g_min {}",
            f.g_min_us
        );
        assert!(
            (f.g_max_us - d.g_max_us).abs() < window * w,
            "{at}: g_max {}",
            f.g_max_us
        );
        for pol in [Polarity::Set, Polarity::Reset] {
            for x in [0.25f32, 0.5, 0.75] {
                let g = d.g_min_us + x * w;
                let (t, e) = (d.mean_step_us(pol, g), f.mean_step_us(pol, g));
                assert!(
                    ((e - t) / t).abs() < step,
                    "{at}: {pol:?} step at {x}: {e} vs {t}"
                );
            }
        }
    }

    /// Round trip on `fefet-hzo`, three seeds, 8 devices × 40 cycles.
    /// Tolerances and why they hold (observed values in
    /// docs/device-model.md):
    /// * bounds within 2.5 % of the window: a soft-bounds cell approaches
    ///   its bound geometrically, so the second halves of `2W/s`-pulse
    ///   trains still sit `(1 − q)^{W/s}`·W (~3 % W for RESET) short of it
    ///   and the q₀.₀₁ quantile lands inside (observed ≤ 1.9 %);
    /// * mean step at 25/50/75 % within 15 %: the mean step factor of 8
    ///   devices with σ(ln f) = 0.15 has an SE of 5 %, plus the narrower
    ///   fitted window (observed −11 % … −4 %);
    /// * step-proportional noise within 25 % and read noise within 15 %:
    ///   observed +6 … +21 % and −10 … −2 %; the estimators share the
    ///   residual variance between the two terms and are biased on a
    ///   device with both (not yet corrected — a known limitation);
    /// * D2D σ(ln f) within 0.08: 8 devices give an SE of σ/√14 ≈ 0.04.
    #[test]
    fn round_trip_recovers_the_fefet() {
        let d = builtin_device("fefet-hzo", &[]).unwrap();
        for seed in 1..=3 {
            let c = fit(synthesize(
                &d,
                &SynthOptions {
                    seed,
                    cycles: 40,
                    ..Default::default()
                },
            ));
            let f = model_of(&c);
            let at = format!("fefet-hzo seed {seed}");
            assert_window_and_steps(&d, &f, &at, 0.025, 0.15);
            let rel = (f.c2c_noise_rel - d.c2c_noise_rel).abs() / d.c2c_noise_rel;
            assert!(rel < 0.25, "{at}: σ_rel {}", f.c2c_noise_rel);
            let rel = (f.read_noise_us - d.read_noise_us).abs() / d.read_noise_us;
            assert!(rel < 0.15, "{at}: σ_r {}", f.read_noise_us);
            assert!(
                (f.d2d_step_sigma_log - d.d2d_step_sigma_log).abs() < 0.08,
                "{at}: d2d {}",
                f.d2d_step_sigma_log
            );
        }
    }

    #[test]
    fn tiny_data_never_panics() {
        for g in [
            vec![Some(1.0), Some(2.0)],
            vec![Some(1.0), None, Some(2.0), Some(1.5)],
            vec![
                Some(5.0),
                Some(4.0),
                Some(6.0),
                Some(-1.0),
                Some(3.0),
                Some(1e6),
            ],
        ] {
            for pol in [Polarity::Set, Polarity::Reset] {
                let raw = RawMeasured {
                    schema: crate::MEASURED_SCHEMA.into(),
                    description: String::new(),
                    units: Default::default(),
                    devices: vec![crate::RawMeasuredDevice {
                        pulse_trains: vec![crate::RawTrain {
                            polarity: pol,
                            amplitude: None,
                            width: None,
                            gate: None,
                            conductance: g.clone(),
                        }],
                        ..Default::default()
                    }],
                };
                let c = fit(raw);
                assert!(!c.report.render().is_empty());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Whatever the trains hold — gaps, jumps, negative values, one
        /// polarity, flat stretches — calibration returns a valid device or
        /// a bad-input error, never a panic.
        #[test]
        fn arbitrary_trains_never_panic(
            trains in proptest::collection::vec(
                (
                    proptest::prelude::any::<bool>(),
                    proptest::collection::vec(
                        proptest::option::weighted(0.8, -5.0f64..200.0),
                        0..40,
                    ),
                ),
                1..12,
            ),
            devices in 1usize..4,
        ) {
            let mut devs: Vec<crate::RawMeasuredDevice> =
                (0..devices).map(|_| Default::default()).collect();
            for (i, (set, g)) in trains.into_iter().enumerate() {
                devs[i % devices].pulse_trains.push(crate::RawTrain {
                    polarity: if set { Polarity::Set } else { Polarity::Reset },
                    amplitude: None,
                    width: None,
                    gate: None,
                    conductance: g,
                });
            }
            let raw = RawMeasured {
                schema: crate::MEASURED_SCHEMA.into(),
                description: String::new(),
                units: Default::default(),
                devices: devs,
            };
            let m = Measured::validate("p", raw).unwrap();
            match calibrate(&m, &CalibrateOptions::default()) {
                Ok(c) => proptest::prop_assert!(DeviceModel::validate("fit", c.device).is_ok()),
                Err(e) => proptest::prop_assert!(e.to_string().contains("nothing to fit"), "{e}"),
            }
        }
    }

    /// Regression (the minimal case the property test above found with
    /// another seed): wild trains whose read-noise estimate exceeds the range
    /// seen, with a negative reading, used to produce a negative window and
    /// panic in a clamp.
    #[test]
    fn wild_trains_give_a_window_not_a_panic() {
        let train = |polarity: Polarity, g: &[Option<f64>]| crate::RawTrain {
            polarity,
            amplitude: None,
            width: None,
            gate: None,
            conductance: g.to_vec(),
        };
        let dev = crate::RawMeasuredDevice {
            pulse_trains: vec![
                train(
                    Polarity::Reset,
                    &[
                        Some(65.86344452221029),
                        Some(0.0),
                        Some(198.0953400099483),
                        Some(0.0),
                    ],
                ),
                train(
                    Polarity::Reset,
                    &[
                        None,
                        None,
                        None,
                        None,
                        Some(95.83599395124223),
                        Some(0.0),
                        Some(117.10481761465152),
                        Some(0.0),
                        Some(112.53514429440096),
                        Some(-0.7167467412660826),
                        None,
                        None,
                    ],
                ),
                train(
                    Polarity::Set,
                    &[
                        None,
                        None,
                        None,
                        None,
                        Some(44.070192459954725),
                        Some(88.37948254540082),
                        Some(37.761340920444034),
                        Some(162.27866670235989),
                        Some(0.0),
                        Some(89.47226997737914),
                        Some(34.94846783546731),
                        Some(195.4413492831169),
                        Some(0.0),
                    ],
                ),
                train(
                    Polarity::Set,
                    &[
                        Some(36.06515250949268),
                        Some(95.18011173675963),
                        Some(171.06360260756045),
                        Some(16.678589607384772),
                        Some(81.46989584696976),
                        Some(0.0),
                        Some(96.04369534959399),
                    ],
                ),
                train(
                    Polarity::Set,
                    &[
                        Some(34.38165209924591),
                        Some(95.94518291303365),
                        Some(27.12257141293072),
                        Some(164.2526860983791),
                        Some(10.531722437612551),
                        Some(30.7151046813683),
                        Some(0.0),
                        Some(0.0),
                        Some(36.72417882078847),
                        Some(76.5836284591729),
                        Some(95.82773274881602),
                        Some(170.9448732006846),
                        Some(0.0),
                    ],
                ),
            ],
            ..Default::default()
        };
        let raw = RawMeasured {
            schema: crate::MEASURED_SCHEMA.into(),
            description: String::new(),
            units: Default::default(),
            devices: vec![dev],
        };
        let m = Measured::validate("p", raw).unwrap();
        match calibrate(&m, &CalibrateOptions::default()) {
            Ok(c) => assert!(DeviceModel::validate("fit", c.device).is_ok()),
            Err(e) => assert!(e.to_string().contains("nothing to fit"), "{e}"),
        }
    }
}
