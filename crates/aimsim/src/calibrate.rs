//! Calibration from a measured-data file, with its provenance: the fitted
//! device names the file it came from and that file's SHA-256.

use crate::Result;
use aimsim_core::CoreError;
use aimsim_device::{
    calibrate, calibrate_mram, CalibrateOptions, Calibration, Measured, MramCalibration,
};
use sha2::{Digest, Sha256};
use std::path::Path;

/// A calibration and the SHA-256 (hex) of the measured file it read.
pub struct FileCalibration {
    /// The fitted device and the fit report.
    pub calibration: Fitted,
    /// SHA-256 of the measured file's bytes, hex.
    pub sha256: String,
}

/// What a measured file calibrates to.
pub enum Fitted {
    /// An analog device (`aimsim.device/1`) from pulse trains.
    Analog(Box<Calibration>),
    /// An STT-MRAM device (`aimsim.mram/1`) from switching curves
    /// (`devices[].switching`).
    Mram(Box<MramCalibration>),
}

impl Fitted {
    /// The device file, as pretty JSON with a final newline.
    pub fn device_json(&self) -> serde_json::Result<String> {
        let mut json = match self {
            Fitted::Analog(c) => serde_json::to_string_pretty(&c.device)?,
            Fitted::Mram(c) => serde_json::to_string_pretty(&c.device)?,
        };
        json.push('\n');
        Ok(json)
    }

    /// The fit report, as text.
    pub fn report(&self) -> String {
        match self {
            Fitted::Analog(c) => c.report.render(),
            Fitted::Mram(c) => c.report.clone(),
        }
    }
}

/// Fits a device to the measured data in `path` (`aimsim.measured/1`).
/// `name` defaults to the file's stem without `.measured`; `r_wg_us`
/// defaults to 0.8 × the fitted window.
pub fn calibrate_file(
    path: &Path,
    name: Option<String>,
    r_wg_us: Option<f64>,
) -> Result<FileCalibration> {
    let file = path.display().to_string();
    let bytes = aimsim_core::config::read_bytes(path)?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| CoreError::Parse {
        file: file.clone(),
        field: ".".into(),
        message: "not UTF-8 text".into(),
    })?;
    let measured = Measured::from_json(&file, &text)?;
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = name.unwrap_or_else(|| {
        let stem = path
            .file_stem()
            .map_or("calibrated".into(), |s| s.to_string_lossy().into_owned());
        stem.trim_end_matches(".measured").to_string()
    });
    let source = path
        .file_name()
        .map_or(file.clone(), |s| s.to_string_lossy().into_owned());
    let opts = CalibrateOptions {
        name,
        source_file: source,
        source_sha256: sha256.clone(),
        r_wg_us,
    };
    if measured.has_switching() {
        // Switching curves of binary junctions: an STT-MRAM device file.
        return Ok(FileCalibration {
            calibration: Fitted::Mram(Box::new(calibrate_mram(&measured, &opts)?)),
            sha256,
        });
    }
    Ok(FileCalibration {
        calibration: Fitted::Analog(Box::new(calibrate(&measured, &opts)?)),
        sha256,
    })
}
