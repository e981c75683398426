//! Joining shard folders into the files of one unsharded run.

use crate::rows::{
    csv_header, csv_row, read_rows, write_durable, Manifest, Row, POINTS_DIR, RESULTS_CSV,
    RESULTS_JSONL,
};
use crate::run::prepare_dir;
use crate::{Result, Shard, SweepError};
use std::path::{Path, PathBuf};

/// Merges the sweep folders `dirs` (shards of one sweep, or any folders of
/// it) into `out`: checks that they hold the same spec and every point
/// exactly once, and writes `sweep.json`, the journal, `results.jsonl` and
/// `results.csv` as one unsharded run would. Returns the number of points.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<usize> {
    let Some(first) = dirs.first() else {
        return Err(SweepError::Usage(
            "merge: name at least one sweep folder".into(),
        ));
    };
    let manifest = Manifest::read(first)?;
    let plan = manifest.plan(first)?;
    let mut found: Vec<Vec<(&Path, Row)>> = vec![Vec::new(); plan.points.len()];
    for dir in dirs {
        let m = Manifest::read(dir)?;
        if m.spec_sha256 != manifest.spec_sha256 {
            return Err(SweepError::Merge(format!(
                "{} holds another sweep (spec sha256 {}) than {} ({})",
                dir.display(),
                m.spec_sha256,
                first.display(),
                manifest.spec_sha256
            )));
        }
        let file = dir.join(RESULTS_JSONL);
        for row in read_rows(&file)? {
            let Some(point) = plan.points.get(row.index) else {
                return Err(SweepError::Merge(format!(
                    "{}: point {} is not in the sweep ({} points)",
                    file.display(),
                    row.index,
                    plan.points.len()
                )));
            };
            if row.hash != point.hash {
                return Err(SweepError::Merge(format!(
                    "{}: point {} ({}) has hash {}, expected {}",
                    file.display(),
                    row.index,
                    point.key,
                    row.hash,
                    point.hash
                )));
            }
            found[row.index].push((dir.as_path(), row));
        }
    }
    for (point, rows) in plan.points.iter().zip(&found) {
        match rows.len() {
            1 => {}
            0 => {
                return Err(SweepError::Merge(format!(
                    "point {} ({}) is missing: none of the {} folders holds it (an unfinished \
                     shard? rerun it with the same --shard and --out to resume)",
                    point.index,
                    point.key,
                    dirs.len()
                )))
            }
            _ => {
                let wher: Vec<String> = rows.iter().map(|(d, _)| d.display().to_string()).collect();
                return Err(SweepError::Merge(format!(
                    "point {} ({}) appears {} times: in {}",
                    point.index,
                    point.key,
                    rows.len(),
                    wher.join(", ")
                )));
            }
        }
    }
    prepare_dir(out, &plan, Shard::ALL)?;
    let mut jsonl = Vec::new();
    let mut csv = csv_header(&plan);
    for (point, rows) in plan.points.iter().zip(&found) {
        let row = &rows[0].1;
        write_durable(
            &out.join(POINTS_DIR).join(format!("{}.json", point.hash)),
            row.line.as_bytes(),
        )?;
        jsonl.extend_from_slice(row.line.as_bytes());
        csv.extend_from_slice(&csv_row(&plan, &row.value));
    }
    write_durable(&out.join(RESULTS_JSONL), &jsonl)?;
    write_durable(&out.join(RESULTS_CSV), &csv)?;
    Ok(plan.points.len())
}
