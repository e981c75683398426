//! The run's files: `report.json`, `energy.csv`, `lifetime.csv`. Each is
//! written through a temporary name and renamed into place only after all
//! three were written, so a failure leaves no partial file.

use crate::report::Report;
use crate::{AimsimError, Result};
use aimsim_energy::Phase;
use aimsim_engine::LifetimeRow;
use aimsim_trace::CsvWriter;
use aimsim_train::EnergyRow;
use std::path::{Path, PathBuf};

/// The files a run writes into its output folder.
pub const OUTPUT_FILES: [&str; 3] = ["report.json", "energy.csv", "lifetime.csv"];

fn tmp_name(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AimsimError + '_ {
    move |source| AimsimError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A CSV file's bytes (the trace crate's writer into memory).
fn csv(header: &[String], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = CsvWriter::new(Vec::new(), header).expect("writing to memory");
    for r in rows {
        w.row(&r).expect("rows have the header's field count");
    }
    w.finish().expect("writing to memory")
}

/// Writes the three files of a run into `dir` (created if needed).
pub fn write_outputs(
    dir: &Path,
    report: &Report,
    phases: &[Phase],
    energy_rows: &[EnergyRow],
    lifetime_rows: &[LifetimeRow],
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut json = serde_json::to_string_pretty(report).expect("a report serialises");
    json.push('\n');
    let energy = csv(
        &EnergyRow::header(phases),
        energy_rows.iter().map(EnergyRow::fields),
    );
    let life_header = LifetimeRow::HEADER.map(String::from);
    let life = csv(&life_header, lifetime_rows.iter().map(LifetimeRow::fields));
    let contents = [json.into_bytes(), energy, life];
    let mut written = Vec::new();
    for (name, text) in OUTPUT_FILES.iter().zip(&contents) {
        let tmp = tmp_name(&dir.join(name));
        if let Err(e) = std::fs::write(&tmp, text).map_err(io(&tmp)) {
            for t in &written {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        written.push(tmp);
    }
    for (name, tmp) in OUTPUT_FILES.iter().zip(&written) {
        let dst = dir.join(name);
        std::fs::rename(tmp, &dst).map_err(io(&dst))?;
    }
    Ok(())
}
