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
use aimsim_train::RowSink;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom};
use std::path::Path;

/// The files a run writes into its output folder.
pub const OUTPUT_FILES: [&str; 3] = ["report.json", "energy.csv", "lifetime.csv"];

/// Trace rows written as they are made into two anonymous temporary files
/// (removed by the system when closed), so a long run's memory stays flat;
/// read back when the outputs are written.
pub(crate) struct SpilledRows {
    energy: CsvWriter<BufWriter<File>>,
    life: CsvWriter<BufWriter<File>>,
}

/// Read handles of [`SpilledRows`]' files.
pub(crate) struct SpillFiles {
    energy: File,
    life: File,
}

impl SpilledRows {
    /// Two temporary files with their CSV headers, and handles to read them.
    pub(crate) fn create(phases: &[Phase]) -> std::io::Result<(SpilledRows, SpillFiles)> {
        let (e, l) = (tempfile::tempfile()?, tempfile::tempfile()?);
        let files = SpillFiles {
            energy: e.try_clone()?,
            life: l.try_clone()?,
        };
        let life_header = LifetimeRow::HEADER.map(String::from);
        let rows = SpilledRows {
            energy: CsvWriter::new(BufWriter::new(e), &EnergyRow::header(phases))
                .map_err(std::io::Error::other)?,
            life: CsvWriter::new(BufWriter::new(l), &life_header).map_err(std::io::Error::other)?,
        };
        Ok((rows, files))
    }
}

impl RowSink for SpilledRows {
    fn rows(&mut self, energy: &EnergyRow, lifetime: &LifetimeRow) -> aimsim_train::Result<()> {
        let spill = |e: aimsim_trace::TraceError| {
            aimsim_train::TrainError::Engine(aimsim_engine::EngineError::Trace(e))
        };
        // Flushed per row (one write each every `trace_every` steps), so the
        // files are complete whenever they are read back.
        self.energy.row(&energy.fields()).map_err(spill)?;
        self.energy.flush().map_err(spill)?;
        self.life.row(&lifetime.fields()).map_err(spill)?;
        self.life.flush().map_err(spill)?;
        Ok(())
    }
}

impl SpillFiles {
    /// The two CSV files' bytes.
    pub(crate) fn read(&mut self) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
        let read = |f: &mut File| -> std::io::Result<Vec<u8>> {
            f.seek(SeekFrom::Start(0))?;
            let mut v = Vec::new();
            f.read_to_end(&mut v)?;
            Ok(v)
        };
        Ok((read(&mut self.energy)?, read(&mut self.life)?))
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

/// `energy.csv` and `lifetime.csv` of trace rows, as bytes.
pub fn trace_csvs(
    phases: &[Phase],
    energy_rows: &[EnergyRow],
    lifetime_rows: &[LifetimeRow],
) -> (Vec<u8>, Vec<u8>) {
    let energy = csv(
        &EnergyRow::header(phases),
        energy_rows.iter().map(EnergyRow::fields),
    );
    let life_header = LifetimeRow::HEADER.map(String::from);
    let life = csv(&life_header, lifetime_rows.iter().map(LifetimeRow::fields));
    (energy, life)
}

/// Writes the three files of a run into `dir` (created if needed): the
/// report and the bytes of `energy.csv` and `lifetime.csv`
/// (see `trace_csvs`).
pub fn write_outputs(dir: &Path, report: &Report, energy: &[u8], life: &[u8]) -> Result<()> {
    write_outputs_with(dir, report, energy, life, &[])
}

/// [`write_outputs`] with `extra` files (`(name, bytes)`: the plots) in
/// the same result set, committed together under `report.json`.
pub fn write_outputs_with(
    dir: &Path,
    report: &Report,
    energy: &[u8],
    life: &[u8],
    extra: &[(&str, &[u8])],
) -> Result<()> {
    let mut json = serde_json::to_string_pretty(report).expect("a report serialises");
    json.push('\n');
    let mut files: Vec<(&str, &[u8])> = vec![
        (OUTPUT_FILES[0], json.as_bytes()),
        (OUTPUT_FILES[1], energy),
        (OUTPUT_FILES[2], life),
    ];
    files.extend_from_slice(extra);
    crate::fsout::write_set(dir, &files)
}
