//! Design-space sweeps over aimsim runs (DESIGN.md §5): parallel,
//! resumable, sharded over SLURM job arrays.
//!
//! Data flow:
//!
//! ```text
//! SPEC.json ──SweepSpec::parse──▶ Plan (points in point order, each a validated
//!   (aimsim.sweep/1)               RunSpec with its own seed and hash)
//!        │
//!        ├─ run_sweep (one shard) ─▶ DIR/points/HASH.json   one journal file per finished point
//!        │   rayon pool, in point order                    (written, fsynced, renamed)
//!        │                        ─▶ DIR/results.jsonl, results.csv  rows in point order, each
//!        │                                                  appended and fsynced as soon as every
//!        │                                                  earlier point of the shard is in
//!        ├─ merge DIR... ─▶ the same files as one unsharded run
//!        ├─ slurm ───────▶ DIR/sweep.sbatch (job array) + DIR/merge.sbatch (afterok merge)
//!        └─ report DIR ──▶ pareto.svg, sensitivity-*.svg, report.md
//! ```
//!
//! Determinism: a point's seed is `derive_seed(sweep seed, "sweep/" + key)`;
//! every point is a single-threaded, seeded simulation; files are assembled
//! in point order from the journal. So the files are the same bytes for any
//! thread count, for a run resumed after SIGKILL, and for shards merged.
//!
//! Units: the report's (pJ, seconds, cycles); nothing here adds its own.

mod axis;
mod error;
mod json;
mod merge;
mod plan;
mod report;
mod rows;
mod run;
mod sample;
mod slurm;
mod spec;
mod svg;

pub use axis::{Axis, AxisValues};
pub use error::{Result, SweepError};
pub use merge::merge;
pub use plan::{Plan, Point};
pub use report::{write_report, ReportFiles};
pub use rows::{Manifest, MANIFEST_FILE, MANIFEST_SCHEMA, POINTS_DIR, RESULTS_CSV, RESULTS_JSONL};
pub use run::{run_sweep, Progress, RunOptions, Summary};
pub use slurm::{write_slurm, SlurmFiles, SlurmOptions};
pub use spec::{Sample, SweepSpec, DEFAULT_METRICS, SWEEP_SCHEMA};

use std::fmt;

/// One slice of a sweep: the points whose index `i` has `i % count == index - 1`
/// (round robin, so every shard gets a share of each axis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parses `K/N` (1 ≤ K ≤ N).
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || SweepError::Usage(format!("--shard {text}: expected K/N with 1 <= K <= N"));
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard of a SLURM job array task, from `SLURM_ARRAY_TASK_ID`,
    /// `SLURM_ARRAY_TASK_MIN` (default 0) and `SLURM_ARRAY_TASK_COUNT`;
    /// `None` outside a job array. `var` reads the environment.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let Some(id) = var("SLURM_ARRAY_TASK_ID") else {
            return Ok(None);
        };
        let num = |name: &str, v: &str| {
            v.trim().parse::<usize>().map_err(|_| {
                SweepError::Usage(format!("{name}={v}: expected a non-negative integer"))
            })
        };
        let id = num("SLURM_ARRAY_TASK_ID", &id)?;
        let min = match var("SLURM_ARRAY_TASK_MIN") {
            Some(v) => num("SLURM_ARRAY_TASK_MIN", &v)?,
            None => 0,
        };
        let count = var("SLURM_ARRAY_TASK_COUNT").ok_or_else(|| {
            SweepError::Usage("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not".into())
        })?;
        let count = num("SLURM_ARRAY_TASK_COUNT", &count)?;
        if id < min || id - min >= count {
            return Err(SweepError::Usage(format!(
                "SLURM_ARRAY_TASK_ID={id} is outside the array (min {min}, count {count}); \
                 sweep arrays must be contiguous, e.g. --array=0-{}",
                count.saturating_sub(1)
            )));
        }
        Ok(Some(Shard {
            index: id - min + 1,
            count,
        }))
    }

    /// Whether point `index` (0-based) belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for i in 0..10 {
            assert_eq!(
                shards.iter().filter(|s| s.contains(i)).count(),
                1,
                "point {i}"
            );
        }
    }

    #[test]
    fn slurm_environment_gives_the_shard() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Shard::from_slurm(env(&[])).unwrap(), None);
        let s = Shard::from_slurm(env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]))
        .unwrap();
        assert_eq!(s, Some(Shard { index: 3, count: 3 }));
        let s = Shard::from_slurm(env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!(s, Some(Shard { index: 1, count: 4 }));
        assert!(Shard::from_slurm(env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]))
        .is_err());
    }
}
