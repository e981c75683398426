//! The files of a sweep folder and their rows.
//!
//! * `sweep.json` — the [`Manifest`]: the spec (keys sorted), its hash, the
//!   number of points and the shard this folder holds.
//! * `points/HASH.json` — the journal: one file per finished point, named
//!   by the point's run-spec hash, holding exactly its `results.jsonl` line.
//! * `results.jsonl` — one line per point in point order: `index`, `key`,
//!   `rep`, `hash`, `seed`, `axes` (path → value), `spec` (the resolved
//!   run spec) and `report` (the full `aimsim.report/1`), or `error` (the
//!   message) for a point that failed.
//! * `results.csv` — `index,key,rep,seed,hash`, one column per axis, one
//!   per metric, and `error`.

use crate::plan::{display, Plan, Point};
use crate::{Result, SweepError};
use aimsim::{Report, RunSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The manifest file of a sweep folder.
pub const MANIFEST_FILE: &str = "sweep.json";
/// The manifest's schema tag.
pub const MANIFEST_SCHEMA: &str = "aimsim.sweep-run/1";
/// The journal folder: one file per finished point.
pub const POINTS_DIR: &str = "points";
/// The full results, one JSON line per point.
pub const RESULTS_JSONL: &str = "results.jsonl";
/// Axis values and metrics, one CSV row per point.
pub const RESULTS_CSV: &str = "results.csv";

/// `sweep.json`: which sweep, and which part of it, a folder holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA`].
    pub schema: String,
    /// [`crate::SweepSpec::sha256`].
    pub spec_sha256: String,
    /// Points in the whole sweep.
    pub points: usize,
    /// The shard this folder holds (`K/N`; `1/1` for a whole sweep).
    pub shard: String,
    /// The spec, keys sorted.
    pub spec: Value,
}

impl Manifest {
    /// The manifest of `plan`'s shard `shard`.
    pub fn new(plan: &Plan, shard: crate::Shard) -> Manifest {
        Manifest {
            schema: MANIFEST_SCHEMA.into(),
            spec_sha256: plan.spec.sha256(),
            points: plan.points.len(),
            shard: shard.to_string(),
            spec: plan.spec.tree.clone(),
        }
    }

    /// Its file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest serialises");
        s.push('\n');
        s.into_bytes()
    }

    /// Reads `DIR/sweep.json`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| SweepError::Results {
            file: path.display().to_string(),
            message: format!("cannot read ({e}); is {} a sweep folder?", dir.display()),
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| SweepError::Results {
            file: path.display().to_string(),
            message: format!("not a sweep manifest: {e}"),
        })?;
        if m.schema != MANIFEST_SCHEMA {
            return Err(SweepError::Results {
                file: path.display().to_string(),
                message: format!("schema {}: expected {MANIFEST_SCHEMA}", m.schema),
            });
        }
        Ok(m)
    }

    /// The plan the manifest's spec gives (checked against its hash).
    pub fn plan(&self, dir: &Path) -> Result<Plan> {
        let file = dir.join(MANIFEST_FILE).display().to_string();
        let plan = Plan::new(crate::SweepSpec::from_tree(&file, self.spec.clone())?)?;
        if plan.spec.sha256() != self.spec_sha256 || plan.points.len() != self.points {
            return Err(SweepError::Results {
                file,
                message: "the spec does not match its recorded hash or point count".into(),
            });
        }
        Ok(plan)
    }
}

#[derive(Serialize)]
struct RowOut<'a> {
    index: usize,
    key: &'a str,
    rep: u64,
    hash: &'a str,
    seed: u64,
    axes: Map<String, Value>,
    spec: &'a RunSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// The `results.jsonl` line (with its `\n`) of a finished point.
pub(crate) fn row_line(point: &Point, outcome: std::result::Result<&Report, &str>) -> String {
    let row = RowOut {
        index: point.index,
        key: &point.key,
        rep: point.rep,
        hash: &point.hash,
        seed: point.spec.seed,
        axes: point.axes.iter().cloned().collect(),
        spec: &point.spec,
        report: outcome.ok(),
        error: outcome.err(),
    };
    let mut s = serde_json::to_string(&row).expect("a row serialises");
    s.push('\n');
    s
}

/// A `results.jsonl` line read back: its bytes and the fields merge and
/// report use.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub index: usize,
    pub hash: String,
    pub line: String,
    pub value: Value,
}

impl Row {
    /// Parses `line` (with its `\n`), naming `file` and the line number.
    pub fn parse(file: &str, lineno: usize, line: &str) -> Result<Row> {
        let bad = |m: String| SweepError::Results {
            file: file.to_string(),
            message: format!("line {lineno}: {m}"),
        };
        let value: Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let index = value["index"]
            .as_u64()
            .ok_or_else(|| bad("no point index".into()))? as usize;
        let hash = value["hash"]
            .as_str()
            .ok_or_else(|| bad("no point hash".into()))?
            .to_string();
        Ok(Row {
            index,
            hash,
            line: line.to_string(),
            value,
        })
    }

    /// The point's key.
    pub fn key(&self) -> &str {
        self.value["key"].as_str().unwrap_or("")
    }
}

/// Reads every row of a `results.jsonl`.
pub(crate) fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).map_err(SweepError::io(path))?;
    let file = path.display().to_string();
    text.split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| Row::parse(&file, i + 1, l))
        .collect()
}

/// The value at dotted `path` in `v`.
pub(crate) fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// One CSV line of `fields` (quoted where needed), with its `\n`.
fn csv_line<S: AsRef<str>>(fields: &[S]) -> Vec<u8> {
    aimsim_trace::CsvWriter::new(Vec::new(), fields)
        .and_then(|w| w.finish())
        .expect("writing to memory")
}

/// The `results.csv` header line.
pub(crate) fn csv_header(plan: &Plan) -> Vec<u8> {
    let mut h: Vec<String> = ["index", "key", "rep", "seed", "hash"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    h.extend(plan.spec.axes.iter().map(|a| a.path.clone()));
    h.extend(plan.spec.metrics.iter().cloned());
    h.push("error".into());
    csv_line(&h)
}

/// The `results.csv` line of a row: every field from the row's JSON, so a
/// merge writes the same bytes as the run.
pub(crate) fn csv_row(plan: &Plan, row: &Value) -> Vec<u8> {
    let cell = |v: Option<&Value>| v.filter(|v| !v.is_null()).map(display).unwrap_or_default();
    let mut f: Vec<String> = ["index", "key", "rep", "seed", "hash"]
        .iter()
        .map(|k| cell(row.get(*k)))
        .collect();
    f.extend(
        plan.spec
            .axes
            .iter()
            .map(|a| cell(row["axes"].get(&a.path))),
    );
    f.extend(
        plan.spec
            .metrics
            .iter()
            .map(|m| cell(row.get("report").and_then(|r| lookup(r, m)))),
    );
    f.push(cell(row.get("error")));
    csv_line(&f)
}

fn tmp_name(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Makes a folder's entries durable (a rename or a new file in it).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(SweepError::io(dir))
}

/// Writes `bytes` to `path` through a temporary name, fsynced and renamed,
/// so the file is either absent or whole, even after SIGKILL or power loss.
pub(crate) fn write_durable(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_name(path);
    let mut f = std::fs::File::create(&tmp).map_err(SweepError::io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(SweepError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(SweepError::io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// `results.jsonl` and `results.csv` written row by row, each row flushed
/// and fsynced.
pub(crate) struct ResultFiles {
    jsonl: (PathBuf, std::fs::File),
    csv: (PathBuf, std::fs::File),
}

impl ResultFiles {
    /// Starts both files afresh in `dir` (the CSV with its header).
    pub fn create(dir: &Path, plan: &Plan) -> Result<ResultFiles> {
        let open = |name: &str| -> Result<(PathBuf, std::fs::File)> {
            let p = dir.join(name);
            let f = std::fs::File::create(&p).map_err(SweepError::io(&p))?;
            Ok((p, f))
        };
        let mut files = ResultFiles {
            jsonl: open(RESULTS_JSONL)?,
            csv: open(RESULTS_CSV)?,
        };
        Self::append(&mut files.csv, &csv_header(plan))?;
        sync_dir(dir)?;
        Ok(files)
    }

    fn append(file: &mut (PathBuf, std::fs::File), bytes: &[u8]) -> Result<()> {
        file.1
            .write_all(bytes)
            .and_then(|()| file.1.flush())
            .and_then(|()| file.1.sync_data())
            .map_err(SweepError::io(&file.0))
    }

    /// Appends one point's line to both files.
    pub fn push(&mut self, plan: &Plan, line: &str, value: &Value) -> Result<()> {
        Self::append(&mut self.jsonl, line.as_bytes())?;
        Self::append(&mut self.csv, &csv_row(plan, value))
    }
}
