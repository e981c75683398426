//! Device files (`aimsim.device/1`): the raw serde form and the validated model.

use crate::{DeviceError, Result};
use aimsim_core::config::{self, Check};
use serde::{Deserialize, Serialize};

/// The schema tag every device file carries.
pub const DEVICE_SCHEMA: &str = "aimsim.device/1";

/// The built-in device files, embedded from `devices/` (name, JSON text).
pub const BUILTIN_DEVICES: &[(&str, &str)] = &[(
    "eapu-180nm",
    include_str!("../../../devices/eapu-180nm.device.json"),
)];

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
    /// Mean conductance change of one nominal SET pulse, µS.
    pub step_set_us: f64,
    /// Mean conductance change (magnitude) of one nominal RESET pulse, µS.
    pub step_reset_us: f64,
    /// Cycle-to-cycle write noise σ of one programming operation, µS.
    pub write_noise_us: f64,
    /// Read noise σ of one cell read, µS.
    pub read_noise_us: f64,
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
    /// Nominal SET pulse step, µS.
    pub step_set_us: f32,
    /// Nominal RESET pulse step (magnitude), µS.
    pub step_reset_us: f32,
    /// Write noise σ per programming operation, µS.
    pub write_noise_us: f32,
    /// Read noise σ per cell read, µS.
    pub read_noise_us: f32,
    /// Median pulses to failure.
    pub endurance_median_pulses: f64,
    /// σ of ln(pulses to failure).
    pub endurance_sigma_log: f64,
    /// Fabrication stuck-at-G_min fraction.
    pub stuck_at_min_fraction: f64,
    /// Fabrication stuck-at-G_max fraction.
    pub stuck_at_max_fraction: f64,
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
        c.non_negative("g_min_us", raw.g_min_us)?;
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
        c.positive("r_wg_us", raw.r_wg_us)?;
        c.range("step_set_us", raw.step_set_us, f64::MIN_POSITIVE, window)?;
        c.range(
            "step_reset_us",
            raw.step_reset_us,
            f64::MIN_POSITIVE,
            window,
        )?;
        c.range("write_noise_us", raw.write_noise_us, 0.0, window)?;
        c.range("read_noise_us", raw.read_noise_us, 0.0, window)?;
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
            step_set_us: raw.step_set_us as f32,
            step_reset_us: raw.step_reset_us as f32,
            write_noise_us: raw.write_noise_us as f32,
            read_noise_us: raw.read_noise_us as f32,
            endurance_median_pulses: raw.endurance_median_pulses,
            endurance_sigma_log: raw.endurance_sigma_log,
            stuck_at_min_fraction: raw.stuck_at_min_fraction,
            stuck_at_max_fraction: raw.stuck_at_max_fraction,
        })
    }

    /// The largest weight magnitude one pair can hold: `(G_max − G_min)/R_wg`.
    pub fn max_weight(&self) -> f32 {
        (self.g_max_us - self.g_min_us) / self.r_wg_us
    }

    /// Mid-window conductance, µS: where both cells of a zero weight sit.
    pub fn g_mid_us(&self) -> f32 {
        0.5 * (self.g_min_us + self.g_max_us)
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
