//! Device files (`aimsim.device/1`): the raw serde form and the validated model.

use crate::{DeviceError, Polarity, Result};
use aimsim_core::config::{self, Check};
use serde::{Deserialize, Serialize};

/// The schema tag every device file carries.
pub const DEVICE_SCHEMA: &str = "aimsim.device/1";

/// The largest conductance a device file may give, µS (1 S).
pub const G_MAX_LIMIT_US: f64 = 1e6;

/// The built-in device files, embedded from `devices/` (name, JSON text).
pub const BUILTIN_DEVICES: &[(&str, &str)] = &[
    (
        "eapu-180nm",
        include_str!("../../../devices/eapu-180nm.device.json"),
    ),
    (
        "taox-hfox",
        include_str!("../../../devices/taox-hfox.device.json"),
    ),
    (
        "alox-hfo2",
        include_str!("../../../devices/alox-hfo2.device.json"),
    ),
    (
        "ag-asi",
        include_str!("../../../devices/ag-asi.device.json"),
    ),
    (
        "epiram",
        include_str!("../../../devices/epiram.device.json"),
    ),
    (
        "fefet-hzo",
        include_str!("../../../devices/fefet-hzo.device.json"),
    ),
];

/// The shape of the mean conductance change of one pulse as a function of
/// the conductance (equations in `docs/device-model.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PulseModel {
    /// The same mean step everywhere in the window; the window clips.
    #[default]
    Linear,
    /// The mean step falls linearly to zero at the bound it moves toward
    /// (aihwkit's soft-bounds device).
    SoftBounds,
    /// NeuroSim's exponential model `G(P) = B(1 − e^{−νP/P_max}) + G_min`:
    /// the mean step falls linearly toward an asymptote beyond the bound,
    /// set by the nonlinearity `ν` of each polarity.
    Exponential,
    /// Ferroelectric FET, nucleation-limited switching: each pulse reverses
    /// a fraction `q = 1 − exp(−t_p/τ(E))` of the still-unswitched domains,
    /// `τ(E) = τ∞ exp(E_a/E)` (Merz law), so the mean step is
    /// `q·(G_bound − G)` — the soft-bounds line, its slope set by the
    /// pulse and the ferroelectric's switching kinetics ([`FefetSwitching`]).
    FefetNls,
}

impl PulseModel {
    /// The name used in device files.
    pub fn name(self) -> &'static str {
        match self {
            PulseModel::Linear => "linear",
            PulseModel::SoftBounds => "soft-bounds",
            PulseModel::Exponential => "exponential",
            PulseModel::FefetNls => "fefet-nls",
        }
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_default_model(m: &PulseModel) -> bool {
    *m == PulseModel::Linear
}

/// A device file as written on disk. Every field is documented in
/// `docs/device-model.md`; units are in the field names.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    /// Must be `aimsim.device/1`.
    pub schema: String,
    /// Short name (shown in reports).
    pub name: String,
    /// Free text: what device, which process.
    #[serde(default)]
    pub description: String,
    /// Where each parameter comes from (paper, calibration file and hash, …).
    #[serde(default)]
    pub provenance: serde_json::Value,
    /// Lower conductance bound, µS.
    pub g_min_us: f64,
    /// Upper conductance bound, µS.
    pub g_max_us: f64,
    /// Conductance of one weight unit, µS (`R_wg = 1/r_wg_us`).
    pub r_wg_us: f64,
    /// Pulse-response model (default: `linear`).
    #[serde(default, skip_serializing_if = "is_default_model")]
    pub pulse_model: PulseModel,
    /// Mean conductance change of one nominal SET pulse at mid-window, µS
    /// (required unless `levels_set` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_set_us: Option<f64>,
    /// Mean conductance change (magnitude) of one nominal RESET pulse at
    /// mid-window, µS (required unless `levels_reset` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_reset_us: Option<f64>,
    /// Pulses that take a cell across the whole window by SET (NeuroSim's
    /// "levels"); gives `step_set_us` for the linear and exponential models
    /// (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels_set: Option<f64>,
    /// Pulses that take a cell across the whole window by RESET (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels_reset: Option<f64>,
    /// Nonlinearity `ν ≥ 0` of SET pulses, exponential model only (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nonlinearity_set: f64,
    /// Nonlinearity `ν ≥ 0` of RESET pulses, exponential model only (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nonlinearity_reset: f64,
    /// Switching kinetics of a ferroelectric FET, `fefet-nls` model only
    /// (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fefet: Option<RawFefet>,
    /// Cycle-to-cycle write noise σ of one programming operation, µS.
    pub write_noise_us: f64,
    /// Additive cycle-to-cycle noise σ of one nominal pulse, µS (default:
    /// `write_noise_us`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c2c_noise_us: Option<f64>,
    /// Step-proportional cycle-to-cycle noise of one pulse, as a fraction of
    /// its mean step (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub c2c_noise_rel: f64,
    /// Device-to-device spread of the step size: σ of ln(step factor) per
    /// cell (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub d2d_step_sigma_log: f64,
    /// Device-to-device σ of the lower bound, µS (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub d2d_g_min_us: f64,
    /// Device-to-device σ of the upper bound, µS (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub d2d_g_max_us: f64,
    /// Device-to-device relative σ of the nonlinearity (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub d2d_nonlinearity_rel: f64,
    /// Read noise σ of one cell read, µS.
    pub read_noise_us: f64,
    /// Relaxation after a write: fraction of the distance to `relax_rest_us`
    /// lost per decade of `1 + t/relax_t0_s` (default: 0, no relaxation).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub relax_rate_per_decade: f64,
    /// Conductance the written value relaxes toward, µS (default: mid-window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relax_rest_us: Option<f64>,
    /// Time scale of relaxation, s (default: 1e-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relax_t0_s: Option<f64>,
    /// Random relaxation σ per sqrt(decade), µS (default: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub relax_noise_us: f64,
    /// Median pulses to failure of a cell.
    pub endurance_median_pulses: f64,
    /// Log-normal spread (σ of ln N) of pulses to failure across cells (default: 0).
    #[serde(default)]
    pub endurance_sigma_log: f64,
    /// Fraction of cells stuck at `G_min` from fabrication (default: 0).
    #[serde(default)]
    pub stuck_at_min_fraction: f64,
    /// Fraction of cells stuck at `G_max` from fabrication (default: 0).
    #[serde(default)]
    pub stuck_at_max_fraction: f64,
}

/// The switching kinetics of a ferroelectric FET's gate stack as written in
/// a device file (`"fefet": {…}`), all fields required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFefet {
    /// Ferroelectric layer thickness, nm (the field is `E = V/d`).
    pub thickness_nm: f64,
    /// Merz activation field `E_a`, MV/cm.
    pub activation_field_mv_per_cm: f64,
    /// Merz attempt time `τ∞`, s.
    pub tau_inf_s: f64,
    /// Gate amplitude of a potentiating (SET) pulse, V.
    pub set_voltage_v: f64,
    /// Gate amplitude (magnitude) of a depressing (RESET) pulse, V.
    pub reset_voltage_v: f64,
    /// Width of one write pulse, s.
    pub pulse_width_s: f64,
}

/// Validated FeFET switching kinetics (nucleation-limited switching with
/// a Merz-law time constant; Tagantsev et al., Phys. Rev. B 66, 214109
/// (2002); Merz, Phys. Rev. 95, 690 (1954)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FefetSwitching {
    /// Ferroelectric thickness, nm.
    pub thickness_nm: f64,
    /// Merz activation field, MV/cm.
    pub activation_field_mv_per_cm: f64,
    /// Merz attempt time, s.
    pub tau_inf_s: f64,
    /// SET gate amplitude, V.
    pub set_voltage_v: f64,
    /// RESET gate amplitude (magnitude), V.
    pub reset_voltage_v: f64,
    /// Pulse width, s.
    pub pulse_width_s: f64,
}

impl FefetSwitching {
    /// Merz switching time at gate amplitude `v`: `τ∞ exp(E_a/E)`, s, with
    /// `E = V/d` (1 V/nm = 10 MV/cm).
    pub fn switching_time_s(&self, v: f64) -> f64 {
        let e_mv_per_cm = v / self.thickness_nm * 10.0;
        self.tau_inf_s * (self.activation_field_mv_per_cm / e_mv_per_cm).exp()
    }

    /// Fraction of the unswitched domains one pulse of amplitude `v`
    /// reverses: `q = 1 − exp(−t_p/τ(V))`.
    pub fn switched_fraction(&self, v: f64) -> f64 {
        -(-self.pulse_width_s / self.switching_time_s(v)).exp_m1()
    }

    /// `q` of one pulse of `polarity`.
    pub fn fraction(&self, polarity: Polarity) -> f64 {
        match polarity {
            Polarity::Set => self.switched_fraction(self.set_voltage_v),
            Polarity::Reset => self.switched_fraction(self.reset_voltage_v),
        }
    }

    fn validate(c: &Check<'_>, raw: &RawFefet) -> Result<Self> {
        let c = c.section("fefet");
        c.range("thickness_nm", raw.thickness_nm, 0.1, 1e4)?;
        c.range(
            "activation_field_mv_per_cm",
            raw.activation_field_mv_per_cm,
            0.0,
            1e3,
        )?;
        c.range("tau_inf_s", raw.tau_inf_s, 1e-18, 1e3)?;
        c.range("set_voltage_v", raw.set_voltage_v, 1e-3, 100.0)?;
        c.range("reset_voltage_v", raw.reset_voltage_v, 1e-3, 100.0)?;
        c.range("pulse_width_s", raw.pulse_width_s, 1e-15, 1.0)?;
        let f = FefetSwitching {
            thickness_nm: raw.thickness_nm,
            activation_field_mv_per_cm: raw.activation_field_mv_per_cm,
            tau_inf_s: raw.tau_inf_s,
            set_voltage_v: raw.set_voltage_v,
            reset_voltage_v: raw.reset_voltage_v,
            pulse_width_s: raw.pulse_width_s,
        };
        for (field, pol) in [
            ("set_voltage_v", Polarity::Set),
            ("reset_voltage_v", Polarity::Reset),
        ] {
            let q = f.fraction(pol);
            if q.is_nan() || q < 1e-9 {
                return Err(c
                    .err(
                        field,
                        format!(
                            "one pulse switches a fraction {q:e} of the domains: the cell would never move"
                        ),
                    )
                    .into());
            }
        }
        Ok(f)
    }
}

/// Default relaxation time scale, s.
pub(crate) const RELAX_T0_DEFAULT_S: f64 = 1e-3;

/// A validated device model.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceModel {
    /// Short name.
    pub name: String,
    /// Where the parameters come from, as given in the file.
    pub provenance: serde_json::Value,
    /// Lower bound, µS.
    pub g_min_us: f32,
    /// Upper bound, µS.
    pub g_max_us: f32,
    /// One weight unit in µS.
    pub r_wg_us: f32,
    /// Pulse-response model.
    pub pulse_model: PulseModel,
    /// FeFET switching kinetics (`fefet-nls` model; none otherwise).
    pub fefet: Option<FefetSwitching>,
    /// Nominal SET pulse step at mid-window, µS.
    pub step_set_us: f32,
    /// Nominal RESET pulse step (magnitude) at mid-window, µS.
    pub step_reset_us: f32,
    /// Nonlinearity ν of SET pulses (exponential model; 0 otherwise).
    pub nonlinearity_set: f32,
    /// Nonlinearity ν of RESET pulses (exponential model; 0 otherwise).
    pub nonlinearity_reset: f32,
    /// Write noise σ per programming operation, µS.
    pub write_noise_us: f32,
    /// Additive C2C noise σ per nominal pulse, µS.
    pub c2c_noise_us: f32,
    /// Step-proportional C2C noise per pulse (fraction of the mean step).
    pub c2c_noise_rel: f32,
    /// D2D σ of ln(step factor).
    pub d2d_step_sigma_log: f32,
    /// D2D σ of the lower bound, µS.
    pub d2d_g_min_us: f32,
    /// D2D σ of the upper bound, µS.
    pub d2d_g_max_us: f32,
    /// D2D relative σ of the nonlinearity.
    pub d2d_nonlinearity_rel: f32,
    /// Read noise σ per cell read, µS.
    pub read_noise_us: f32,
    /// Relaxation: fraction of the distance to the rest value lost per decade.
    pub relax_rate_per_decade: f32,
    /// Relaxation rest conductance, µS.
    pub relax_rest_us: f32,
    /// Relaxation time scale, s.
    pub relax_t0_s: f64,
    /// Relaxation noise σ per sqrt(decade), µS.
    pub relax_noise_us: f32,
    /// Median pulses to failure.
    pub endurance_median_pulses: f64,
    /// σ of ln(pulses to failure).
    pub endurance_sigma_log: f64,
    /// Fabrication stuck-at-G_min fraction.
    pub stuck_at_min_fraction: f64,
    /// Fabrication stuck-at-G_max fraction.
    pub stuck_at_max_fraction: f64,
    /// The STT-MRAM junction physics when the "cells" are groups of binary
    /// junctions ([`DeviceModel::from_mram`]); none for analog devices.
    pub mram: Option<crate::SttMram>,
}

/// The normalised asymptote `a` of a polarity's mean-step line (the window
/// is `[0, 1]`): infinite for the linear model, 1 for soft bounds,
/// `1/(1 − e^{−ν})` for the exponential model (infinite at ν = 0).
pub(crate) fn asymptote(model: PulseModel, nu: f32) -> f32 {
    match model {
        PulseModel::Linear => f32::INFINITY,
        PulseModel::SoftBounds | PulseModel::FefetNls => 1.0,
        PulseModel::Exponential => {
            if nu <= 1e-6 {
                f32::INFINITY
            } else {
                1.0 / (1.0 - (-nu).exp())
            }
        }
    }
}

/// The nonlinearity ν whose normalised asymptote is `a` (> 1), the inverse
/// of `a = 1/(1 − e^{−ν})`: 0 for `a = ∞`, ∞ for `a ≤ 1`.
pub fn nonlinearity_from_asymptote(a: f64) -> f64 {
    if a.is_finite() && a > 1.0 {
        -(1.0 - 1.0 / a).ln()
    } else if a.is_finite() {
        f64::INFINITY
    } else {
        0.0
    }
}

/// Shape of the mean step at normalised position `x`, relative to mid-window:
/// SET `(a − x)/(a − ½)`, RESET `(x − 1 + a)/(a − ½)`, never negative.
#[inline]
pub(crate) fn step_shape(set: bool, a: f32, x: f32) -> f32 {
    if a.is_infinite() {
        return 1.0;
    }
    // Both numerators, one kept (by value: the polarity of a write is
    // not predictable).
    let num = crate::array::select_f32(set, a - x, x - 1.0 + a);
    (num / (a - 0.5)).max(0.0)
}

impl DeviceModel {
    /// Parses and validates a device file's JSON text; `overrides` are
    /// `(path, value)` pairs applied first (`--set device.<path>=<value>`).
    pub fn from_json(file: &str, text: &str, overrides: &[(String, String)]) -> Result<Self> {
        let mut tree = config::parse_tree(file, text)?;
        for (path, value) in overrides {
            config::apply_override(&mut tree, path, value)?;
        }
        let raw: RawDevice = config::from_tree(file, tree)?;
        DeviceModel::validate(file, raw)
    }

    /// Validates a raw device, naming `file` and the field of any impossible value.
    pub fn validate(file: &str, raw: RawDevice) -> Result<Self> {
        let c = Check::new(file);
        if raw.schema != DEVICE_SCHEMA {
            return Err(c
                .err(
                    "schema",
                    format!("expected \"{DEVICE_SCHEMA}\", got \"{}\"", raw.schema),
                )
                .into());
        }
        // Conductances of at most 1 S (10⁶ µS): cells hold them as f32 and
        // square them in energy formulas, which must stay finite.
        c.range("g_min_us", raw.g_min_us, 0.0, G_MAX_LIMIT_US)?;
        c.range("g_max_us", raw.g_max_us, 0.0, G_MAX_LIMIT_US)?;
        c.positive("g_max_us", raw.g_max_us)?;
        if raw.g_max_us <= raw.g_min_us {
            return Err(c
                .err(
                    "g_max_us",
                    format!("must exceed g_min_us ({})", raw.g_min_us),
                )
                .into());
        }
        let window = raw.g_max_us - raw.g_min_us;
        c.range("r_wg_us", raw.r_wg_us, 0.0, G_MAX_LIMIT_US)?;
        c.positive("r_wg_us", raw.r_wg_us)?;
        let model = raw.pulse_model;
        for (field, nu) in [
            ("nonlinearity_set", raw.nonlinearity_set),
            ("nonlinearity_reset", raw.nonlinearity_reset),
        ] {
            c.range(field, nu, 0.0, 50.0)?;
            if nu != 0.0 && model != PulseModel::Exponential {
                return Err(c
                    .err(
                        field,
                        format!(
                            "only the exponential pulse_model has a nonlinearity (pulse_model is {})",
                            model.name()
                        ),
                    )
                    .into());
            }
        }
        let fefet = match (model, &raw.fefet) {
            (PulseModel::FefetNls, Some(f)) => Some(FefetSwitching::validate(&c, f)?),
            (PulseModel::FefetNls, None) => {
                return Err(c
                    .err(
                        "fefet",
                        "missing: the fefet-nls pulse_model needs the switching kinetics",
                    )
                    .into())
            }
            (_, Some(_)) => {
                return Err(c
                    .err(
                        "fefet",
                        format!(
                        "only the fefet-nls pulse_model has switching kinetics (pulse_model is {})",
                        model.name()
                    ),
                    )
                    .into())
            }
            (_, None) => None,
        };
        let (step_set, step_reset) = if let Some(f) = &fefet {
            for (field, given) in [
                ("step_set_us", raw.step_set_us),
                ("step_reset_us", raw.step_reset_us),
                ("levels_set", raw.levels_set),
                ("levels_reset", raw.levels_reset),
            ] {
                if given.is_some() {
                    return Err(c
                        .err(
                            field,
                            "the fefet-nls model derives its steps from `fefet`: leave this out",
                        )
                        .into());
                }
            }
            // Soft bounds: the mean step at mid-window is q·W/2.
            (
                f.fraction(Polarity::Set) * 0.5 * window,
                f.fraction(Polarity::Reset) * 0.5 * window,
            )
        } else {
            mid_step_pair(&c, model, &raw, window)?
        };
        c.range("write_noise_us", raw.write_noise_us, 0.0, window)?;
        let c2c = raw.c2c_noise_us.unwrap_or(raw.write_noise_us);
        c.range("c2c_noise_us", c2c, 0.0, window)?;
        c.range("c2c_noise_rel", raw.c2c_noise_rel, 0.0, 10.0)?;
        c.range("d2d_step_sigma_log", raw.d2d_step_sigma_log, 0.0, 3.0)?;
        c.range("d2d_g_min_us", raw.d2d_g_min_us, 0.0, window)?;
        c.range("d2d_g_max_us", raw.d2d_g_max_us, 0.0, window)?;
        c.range("d2d_nonlinearity_rel", raw.d2d_nonlinearity_rel, 0.0, 10.0)?;
        c.range("read_noise_us", raw.read_noise_us, 0.0, window)?;
        c.range("relax_rate_per_decade", raw.relax_rate_per_decade, 0.0, 1.0)?;
        let rest = raw
            .relax_rest_us
            .unwrap_or(0.5 * (raw.g_min_us + raw.g_max_us));
        c.range("relax_rest_us", rest, raw.g_min_us, raw.g_max_us)?;
        let t0 = raw.relax_t0_s.unwrap_or(RELAX_T0_DEFAULT_S);
        c.range("relax_t0_s", t0, 1e-15, 1e9)?;
        c.range("relax_noise_us", raw.relax_noise_us, 0.0, window)?;
        c.range(
            "endurance_median_pulses",
            raw.endurance_median_pulses,
            1.0,
            4e9,
        )?;
        c.range("endurance_sigma_log", raw.endurance_sigma_log, 0.0, 5.0)?;
        c.range("stuck_at_min_fraction", raw.stuck_at_min_fraction, 0.0, 1.0)?;
        c.range("stuck_at_max_fraction", raw.stuck_at_max_fraction, 0.0, 1.0)?;
        if raw.stuck_at_min_fraction + raw.stuck_at_max_fraction > 1.0 {
            return Err(c
                .err(
                    "stuck_at_max_fraction",
                    "stuck-at fractions add up to more than 1",
                )
                .into());
        }
        Ok(DeviceModel {
            name: raw.name,
            provenance: raw.provenance,
            g_min_us: raw.g_min_us as f32,
            g_max_us: raw.g_max_us as f32,
            r_wg_us: raw.r_wg_us as f32,
            pulse_model: model,
            fefet,
            step_set_us: step_set as f32,
            step_reset_us: step_reset as f32,
            nonlinearity_set: raw.nonlinearity_set as f32,
            nonlinearity_reset: raw.nonlinearity_reset as f32,
            write_noise_us: raw.write_noise_us as f32,
            c2c_noise_us: c2c as f32,
            c2c_noise_rel: raw.c2c_noise_rel as f32,
            d2d_step_sigma_log: raw.d2d_step_sigma_log as f32,
            d2d_g_min_us: raw.d2d_g_min_us as f32,
            d2d_g_max_us: raw.d2d_g_max_us as f32,
            d2d_nonlinearity_rel: raw.d2d_nonlinearity_rel as f32,
            read_noise_us: raw.read_noise_us as f32,
            relax_rate_per_decade: raw.relax_rate_per_decade as f32,
            relax_rest_us: rest as f32,
            relax_t0_s: t0,
            relax_noise_us: raw.relax_noise_us as f32,
            endurance_median_pulses: raw.endurance_median_pulses,
            endurance_sigma_log: raw.endurance_sigma_log,
            stuck_at_min_fraction: raw.stuck_at_min_fraction,
            stuck_at_max_fraction: raw.stuck_at_max_fraction,
            mram: None,
        })
    }

    /// The largest weight magnitude one pair can hold: `(G_max − G_min)/R_wg`.
    pub fn max_weight(&self) -> f32 {
        (self.g_max_us - self.g_min_us) / self.r_wg_us
    }

    /// Whether written values relax over time (then the array keeps each
    /// cell's written value and write time).
    pub fn relaxes(&self) -> bool {
        self.relax_rate_per_decade != 0.0 || self.relax_noise_us != 0.0
    }

    /// Mid-window conductance, µS: where both cells of a zero weight sit.
    pub fn g_mid_us(&self) -> f32 {
        0.5 * (self.g_min_us + self.g_max_us)
    }

    /// Whether any device-to-device variation is enabled.
    pub fn has_d2d(&self) -> bool {
        self.d2d_step_sigma_log > 0.0
            || self.d2d_g_min_us > 0.0
            || self.d2d_g_max_us > 0.0
            || self.d2d_nonlinearity_rel > 0.0
    }

    /// Mean conductance change magnitude of one pulse of `polarity` on a
    /// nominal cell (no device-to-device variation) at `g_us`, µS.
    pub fn mean_step_us(&self, polarity: Polarity, g_us: f32) -> f32 {
        let set = polarity == Polarity::Set;
        let (s, nu) = if set {
            (self.step_set_us, self.nonlinearity_set)
        } else {
            (self.step_reset_us, self.nonlinearity_reset)
        };
        let x = (g_us - self.g_min_us) / (self.g_max_us - self.g_min_us);
        s * step_shape(set, asymptote(self.pulse_model, nu), x)
    }

    /// The write noise σ of one nominal pulse at mid-window, µS:
    /// `sqrt(σ_add² + (σ_rel·step)²)` averaged over the two polarities.
    pub fn pulse_noise_us(&self) -> f32 {
        let s = 0.5 * (self.step_set_us + self.step_reset_us);
        (self.c2c_noise_us.powi(2) + (self.c2c_noise_rel * s).powi(2)).sqrt()
    }
}

/// The mid-window steps of both polarities of a non-FeFET model.
fn mid_step_pair(
    c: &Check<'_>,
    model: PulseModel,
    raw: &RawDevice,
    window: f64,
) -> Result<(f64, f64)> {
    let set = mid_step(
        c,
        model,
        ("step_set_us", raw.step_set_us),
        ("levels_set", raw.levels_set),
        raw.nonlinearity_set,
        window,
    )?;
    let reset = mid_step(
        c,
        model,
        ("step_reset_us", raw.step_reset_us),
        ("levels_reset", raw.levels_reset),
        raw.nonlinearity_reset,
        window,
    )?;
    Ok((set, reset))
}

/// The mid-window step of one polarity: given directly, or derived from the
/// pulses that cross the window (`levels`): `W/P` for the linear model,
/// `W(1 − e^{−ν/P})(a − ½)` for the exponential one.
fn mid_step(
    c: &Check<'_>,
    model: PulseModel,
    (step_field, step): (&str, Option<f64>),
    (levels_field, levels): (&str, Option<f64>),
    nu: f64,
    window: f64,
) -> Result<f64> {
    match (step, levels) {
        (Some(s), None) => Ok(c.range(step_field, s, f64::MIN_POSITIVE, window)?),
        (None, Some(p)) => {
            c.range(levels_field, p, 1.0, 1e7)?;
            match model {
                PulseModel::SoftBounds => Err(c
                    .err(
                        levels_field,
                        "soft-bounds never reaches its bound in a finite number of pulses: give the step instead",
                    )
                    .into()),
                _ if nu <= 1e-6 => Ok(window / p),
                _ => {
                    let a = f64::from(asymptote(PulseModel::Exponential, nu as f32));
                    Ok(window * (1.0 - (-nu / p).exp()) * (a - 0.5))
                }
            }
        }
        (Some(_), Some(_)) => Err(c
            .err(
                levels_field,
                format!("give {step_field} or {levels_field}, not both"),
            )
            .into()),
        (None, None) => Err(c
            .err(
                step_field,
                format!("missing: give {step_field} or {levels_field}"),
            )
            .into()),
    }
}

/// The names of the built-in devices.
pub fn builtin_devices() -> impl Iterator<Item = &'static str> {
    BUILTIN_DEVICES.iter().map(|(n, _)| *n)
}

/// A built-in device by name, with overrides applied.
pub fn builtin_device(name: &str, overrides: &[(String, String)]) -> Result<DeviceModel> {
    let (n, text) = BUILTIN_DEVICES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| DeviceError::UnknownDevice {
            name: name.to_string(),
            known: builtin_devices().collect::<Vec<_>>().join(", "),
        })?;
    DeviceModel::from_json(&format!("<built-in device {n}>"), text, overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_validate() {
        for name in builtin_devices() {
            let d = builtin_device(name, &[]).unwrap();
            assert_eq!(d.name, name);
        }
    }

    #[test]
    fn eapu_device_matches_paper() {
        let d = builtin_device("eapu-180nm", &[]).unwrap();
        assert_eq!(d.write_noise_us, 2.4);
        assert_eq!(d.r_wg_us, 80.0);
    }

    #[test]
    fn levels_give_the_neurosim_curve() {
        // NeuroSim's exponential curve reaches G_max after exactly P_max
        // noiseless SET pulses from G_min (and G_min after P_max RESETs).
        for name in ["taox-hfox", "alox-hfo2", "ag-asi", "epiram"] {
            let d = builtin_device(name, &[]).unwrap();
            for (pol, levels) in [(Polarity::Set, 0usize), (Polarity::Reset, 1)] {
                let p = match (name, levels) {
                    ("taox-hfox", _) => 128,
                    ("alox-hfo2", _) => 40,
                    ("ag-asi", 0) => 97,
                    ("ag-asi", _) => 100,
                    _ => 256,
                };
                let mut g = if pol == Polarity::Set {
                    d.g_min_us
                } else {
                    d.g_max_us
                };
                for _ in 0..p {
                    let s = d.mean_step_us(pol, g);
                    g += if pol == Polarity::Set { s } else { -s };
                }
                let target = if pol == Polarity::Set {
                    d.g_max_us
                } else {
                    d.g_min_us
                };
                let w = d.g_max_us - d.g_min_us;
                assert!(
                    (g - target).abs() < 1e-3 * w,
                    "{name} {pol:?}: {g} vs {target}"
                );
            }
        }
    }

    #[test]
    fn defaults_keep_the_old_meaning() {
        let d = builtin_device("eapu-180nm", &[]).unwrap();
        assert_eq!(d.pulse_model, PulseModel::Linear);
        assert_eq!(d.c2c_noise_us, d.write_noise_us);
        assert!(!d.has_d2d());
        assert_eq!(d.mean_step_us(Polarity::Set, 104.0), 2.0);
        assert_eq!(d.relax_rest_us, 55.0);
    }

    #[test]
    fn model_fields_are_checked() {
        let o = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let e = builtin_device("eapu-180nm", &o("nonlinearity_set", "1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `nonlinearity_set`"), "{e}");
        let e = builtin_device("eapu-180nm", &o("levels_set", "50"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `levels_set`"), "{e}");
        let e = builtin_device("eapu-180nm", &o("pulse_model", "cubic"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pulse_model"), "{e}");
        let e = builtin_device("taox-hfox", &o("levels_set", "null"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `step_set_us`"), "{e}");
    }

    #[test]
    fn fefet_steps_follow_nucleation_limited_switching() {
        let d = builtin_device("fefet-hzo", &[]).unwrap();
        let f = d.fefet.unwrap();
        // Merz: τ = τ∞ exp(E_a d / V) at 4 V over 10 nm (E = 4 MV/cm).
        let tau = 5e-9 * (20.0f64 / 4.0).exp();
        assert!((f.switching_time_s(4.0) / tau - 1.0).abs() < 1e-12);
        let q = 1.0 - (-5e-8 / tau).exp();
        assert!((f.fraction(Polarity::Set) - q).abs() < 1e-12);
        // n noiseless SET pulses from G_min leave (1 − q)^n of the domains
        // unswitched: G = G_max − W(1 − q)^n.
        let w = d.g_max_us - d.g_min_us;
        let mut g = d.g_min_us;
        for n in 1..=40 {
            g += d.mean_step_us(Polarity::Set, g);
            let want = d.g_max_us - w * (1.0 - q as f32).powi(n);
            assert!((g - want).abs() < 1e-4 * w, "pulse {n}: {g} vs {want}");
        }
        // Depression is slower (lower gate amplitude).
        assert!(d.step_reset_us < d.step_set_us);
    }

    #[test]
    fn fefet_fields_are_checked() {
        let o = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        for (k, v, field) in [
            ("fefet.pulse_width_s", "-1e-9", "pulse_width_s"),
            ("fefet.tau_inf_s", "0", "tau_inf_s"),
            ("fefet.set_voltage_v", "0.01", "set_voltage_v"),
            ("fefet.thickness_nm", "NaN", "thickness_nm"),
            ("step_set_us", "1", "step_set_us"),
            ("fefet", "null", "fefet"),
        ] {
            let e = builtin_device("fefet-hzo", &o(k, v))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{k}={v}: {e}");
        }
        let e = builtin_device("eapu-180nm", &o("fefet", "{\"thickness_nm\": 10}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fefet"), "{e}");
    }

    #[test]
    fn impossible_values_name_the_field() {
        let o = vec![("g_max_us".to_string(), "1".to_string())];
        let e = builtin_device("eapu-180nm", &o).unwrap_err().to_string();
        assert!(e.contains("field `g_max_us`"), "{e}");
        let o = vec![("write_noise_us".to_string(), "-2".to_string())];
        let e = builtin_device("eapu-180nm", &o).unwrap_err().to_string();
        assert!(e.contains("field `write_noise_us`"), "{e}");
        let o = vec![("colour".to_string(), "1".to_string())];
        let e = builtin_device("eapu-180nm", &o).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
