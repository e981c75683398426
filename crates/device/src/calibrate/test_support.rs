//! Fits shared by the calibration tests.

use super::{calibrate, CalibrateOptions, Calibration};
use crate::{builtin_device, synthesize, DeviceModel, Measured, RawMeasured, SynthOptions};
use std::sync::OnceLock;

/// Calibrates `raw` with default options.
pub(super) fn fit(raw: RawMeasured) -> Calibration {
    let m = Measured::validate("synth", raw).unwrap();
    calibrate(
        &m,
        &CalibrateOptions {
            name: "fit".into(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// The fitted device, validated.
pub(super) fn model_of(c: &Calibration) -> DeviceModel {
    DeviceModel::validate("fit", c.device.clone()).unwrap()
}

/// Synthetic data of the EaPU reference device: 8 devices × 20 cycles.
pub(super) fn eapu_raw(seed: u64) -> RawMeasured {
    let d = builtin_device("eapu-180nm", &[]).unwrap();
    synthesize(
        &d,
        &SynthOptions {
            seed,
            cycles: 20,
            ..Default::default()
        },
    )
}

/// The fit of 24 EaPU devices × 10 cycles that relax (rate 0.02 per
/// decade toward 40 µS, walk noise 0.3 µS) and vary (σ of ln step 0.3),
/// shared by the relaxation, device-to-device and endurance tests.
pub(super) fn drifting_population() -> &'static (Calibration, DeviceModel) {
    static FIT: OnceLock<(Calibration, DeviceModel)> = OnceLock::new();
    FIT.get_or_init(|| {
        let o = aimsim_core::config::overrides(&[
            ("relax_rate_per_decade", "0.02"),
            ("relax_rest_us", "40"),
            ("relax_noise_us", "0.3"),
            ("d2d_step_sigma_log", "0.3"),
        ]);
        let d = builtin_device("eapu-180nm", &o).unwrap();
        let c = fit(synthesize(
            &d,
            &SynthOptions {
                devices: 24,
                cycles: 10,
                ..Default::default()
            },
        ));
        let f = model_of(&c);
        (c, f)
    })
}
