//! The run's files: `report.json`, `energy.csv`, `lifetime.csv`, replaced
//! as a set with `report.json` as the commit marker ([`crate::fsout`]): a
//! failure leaves no partial file, and a `report.json` is always beside the
//! CSVs of its own run.

use crate::report::Report;
use crate::Result;
use aimsim_energy::Phase;
use aimsim_engine::LifetimeRow;
use aimsim_trace::CsvWriter;
use aimsim_train::EnergyRow;
use std::path::Path;

/// The files a run writes into its output folder.
pub const OUTPUT_FILES: [&str; 3] = ["report.json", "energy.csv", "lifetime.csv"];

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
    let mut json = serde_json::to_string_pretty(report).expect("a report serialises");
    json.push('\n');
    let energy = csv(
        &EnergyRow::header(phases),
        energy_rows.iter().map(EnergyRow::fields),
    );
    let life_header = LifetimeRow::HEADER.map(String::from);
    let life = csv(&life_header, lifetime_rows.iter().map(LifetimeRow::fields));
    crate::fsout::write_set(
        dir,
        &[
            (OUTPUT_FILES[0], json.as_bytes()),
            (OUTPUT_FILES[1], &energy),
            (OUTPUT_FILES[2], &life),
        ],
    )
}
