//! The sweep spec (`aimsim.sweep/1`, DESIGN.md §5): a base run, axes,
//! sampling, repeated seeds and the metrics of `results.csv`.
//!
//! Parsed by hand from the JSON tree rather than through serde so that
//! every message names the axis (`axes[1] (rule)`) and what was expected.
//! Resolving the points' run specs (unknown `--set` paths, values the chip
//! rejects) is [`crate::Plan`]'s job.

use crate::axis::{axis_name, parse_axis, path_kind, Axis, AxisValues, PathKind};
use crate::json::{is_scalar, Obj};
use crate::{Result, SweepError};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The most runs (points × seeds) one sweep may plan.
pub const MAX_POINTS: u64 = 1_000_000;

/// The runs (points × seeds) of a sweep; `None` on overflow.
fn runs(axes: &[Axis], sample: &Sample, seeds: u64) -> Option<u64> {
    let draws = match sample {
        Sample::Grid => axes.iter().try_fold(1u64, |n, a| {
            let len = match &a.values {
                AxisValues::List(v) => v.len() as u64,
                AxisValues::Range { steps, .. } => steps.unwrap_or(1),
            };
            n.checked_mul(len)
        }),
        Sample::Random { points, .. } | Sample::LatinHypercube { points, .. } => Some(*points),
    };
    draws.and_then(|d| d.checked_mul(seeds))
}

/// The schema tag of a sweep spec.
pub const SWEEP_SCHEMA: &str = "aimsim.sweep/1";

/// The metrics of `results.csv` when a spec names none.
pub const DEFAULT_METRICS: [&str; 4] = [
    "workload.metric.value",
    "energy_pj.total",
    "time.seconds",
    "writes.update_fraction",
];

/// Top-level sections of `report.json` a metric path may start with.
const REPORT_SECTIONS: [&str; 13] = [
    "schema",
    "seed",
    "chip",
    "device",
    "rule",
    "algorithm",
    "workload",
    "time",
    "energy_pj",
    "inference",
    "writes",
    "lifetime",
    "timing",
];

/// A parsed, structurally valid sweep spec.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// The file it came from (for messages).
    pub file: String,
    /// The spec's JSON tree with its keys sorted: what the manifest keeps
    /// and [`SweepSpec::sha256`] hashes (whitespace and key order of the
    /// file do not matter).
    pub tree: Value,
    /// The base run.
    pub base: Base,
    /// The axes, in file order (the first varies slowest in a grid).
    pub axes: Vec<Axis>,
    /// How points are drawn.
    pub sample: Sample,
    /// Runs per point, each with its own seed (default: 1).
    pub seeds: u64,
    /// Report paths written to `results.csv` (default: [`DEFAULT_METRICS`]).
    pub metrics: Vec<String>,
}

/// The base run every point starts from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Base {
    /// Chip name or file.
    pub chip: Option<String>,
    /// Device name or file.
    pub device: Option<String>,
    /// Built-in workload.
    pub workload: Option<String>,
    /// Network file (`aimsim.network/1`).
    pub network: Option<String>,
    /// Write rule.
    pub rule: Option<String>,
    /// Training algorithm.
    pub algorithm: Option<String>,
    /// The sweep seed: every point's seed derives from it (default: 1).
    pub seed: u64,
    /// Training steps.
    pub steps: Option<u64>,
    /// Training epochs.
    pub epochs: Option<u64>,
    /// Trace rows every this many steps.
    pub trace_every: Option<u64>,
    /// `--set` overrides (path → JSON value), applied in key order.
    pub set: Vec<(String, Value)>,
}

/// How points are drawn from the axes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    /// Every combination; the first axis varies slowest.
    Grid,
    /// `points` independent uniform draws.
    Random {
        /// Points drawn.
        points: u64,
        /// Sampling seed.
        seed: u64,
    },
    /// `points` draws stratified on every axis (Latin hypercube).
    LatinHypercube {
        /// Points drawn.
        points: u64,
        /// Sampling seed.
        seed: u64,
    },
}

impl SweepSpec {
    /// Parses and checks the structure of a spec (`file` names it in
    /// messages). Run specs are resolved by [`crate::Plan::new`].
    pub fn parse(file: &str, text: &str) -> Result<SweepSpec> {
        // The core's parser: malformed JSON names the line, and a key
        // given twice in one object is refused (serde_json alone keeps the
        // last one).
        let tree: Value = aimsim_core::config::parse_tree(file, text).map_err(|e| match e {
            aimsim_core::CoreError::Parse { field, message, .. } => {
                SweepError::spec(file, field, message)
            }
            other => SweepError::spec(file, ".", other.to_string()),
        })?;
        SweepSpec::from_tree(file, tree)
    }

    /// The runs the sweep plans: points × seeds (at most `MAX_POINTS`).
    pub fn runs(&self) -> u64 {
        runs(&self.axes, &self.sample, self.seeds).expect("bounded when parsed")
    }

    /// [`SweepSpec::parse`] of a file.
    pub fn read(path: &std::path::Path) -> Result<SweepSpec> {
        let text = std::fs::read_to_string(path).map_err(SweepError::io(path))?;
        SweepSpec::parse(&path.display().to_string(), &text)
    }

    /// Checks a parsed JSON tree.
    pub fn from_tree(file: &str, tree: Value) -> Result<SweepSpec> {
        let top = Obj::new(file, "", &tree)?;
        top.only(&[
            "schema",
            "description",
            "base",
            "axes",
            "sample",
            "seeds",
            "metrics",
        ])?;
        match top.get("schema") {
            Some(Value::String(s)) if s == SWEEP_SCHEMA => {}
            Some(v) => {
                return Err(top.err("schema", format!("expected \"{SWEEP_SCHEMA}\", got {v}")))
            }
            None => return Err(top.err("schema", format!("missing; expected \"{SWEEP_SCHEMA}\""))),
        }
        let base = match top.get("base") {
            Some(b) => parse_base(file, b)?,
            None => Base {
                seed: 1,
                ..Base::default()
            },
        };
        let axes_v = top
            .get("axes")
            .ok_or_else(|| top.err("axes", "missing; expected a list of axes"))?;
        let Value::Array(list) = axes_v else {
            return Err(top.err("axes", "expected a list of axes"));
        };
        let sample = match top.get("sample") {
            Some(s) => parse_sample(file, s, base.seed)?,
            None => Sample::Grid,
        };
        let axes = list
            .iter()
            .enumerate()
            .map(|(i, a)| parse_axis(file, i, a, sample))
            .collect::<Result<Vec<_>>>()?;
        for (i, a) in axes.iter().enumerate() {
            if let Some(j) = axes[..i].iter().position(|b| b.path == a.path) {
                return Err(SweepError::spec(
                    file,
                    axis_name(i, &a.path),
                    format!("the same path as axes[{j}]; each path is one axis"),
                ));
            }
        }
        if axes.is_empty() && sample != Sample::Grid {
            return Err(top.err(
                "axes",
                "random and latin-hypercube sampling need at least one axis",
            ));
        }
        let seeds = top.uint("seeds")?.unwrap_or(1);
        if seeds == 0 {
            return Err(top.err("seeds", "expected at least 1 run per point"));
        }
        // A plan holds every point in memory: bound it before drawing.
        if runs(&axes, &sample, seeds).is_none_or(|n| n > MAX_POINTS) {
            return Err(top.err(
                "axes",
                format!(
                    "the sweep has more than {MAX_POINTS} runs (points × seeds); expected at most that — split it"
                ),
            ));
        }
        let metrics = match top.get("metrics") {
            None => DEFAULT_METRICS.iter().map(|s| s.to_string()).collect(),
            Some(Value::Array(ms)) if !ms.is_empty() => ms
                .iter()
                .enumerate()
                .map(|(i, m)| parse_metric(file, i, m))
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return Err(top.err("metrics", "expected a non-empty list of report paths")),
        };
        Ok(SweepSpec {
            file: file.to_string(),
            tree,
            base,
            axes,
            sample,
            seeds,
            metrics,
        })
    }

    /// The SHA-256 of the spec's JSON with sorted keys and no whitespace,
    /// in hex: what tells one sweep's folders from another's.
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(self.tree.to_string().as_bytes()))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_base(file: &str, v: &Value) -> Result<Base> {
    let o = Obj::new(file, "base", v)?;
    o.only(&[
        "chip",
        "device",
        "workload",
        "network",
        "rule",
        "algorithm",
        "seed",
        "steps",
        "epochs",
        "trace_every",
        "set",
    ])?;
    let set = match o.get("set") {
        None => Vec::new(),
        Some(Value::Object(m)) => {
            let mut set = Vec::new();
            for (k, v) in m {
                if path_kind(k) != Some(PathKind::Set) {
                    return Err(o.err(
                        &format!("set.{k}"),
                        "unknown path; expected chip.PATH, device.PATH or train.PATH",
                    ));
                }
                if !is_scalar(v) {
                    return Err(o.err(&format!("set.{k}"), "expected a string, number or boolean"));
                }
                set.push((k.clone(), v.clone()));
            }
            set
        }
        Some(_) => return Err(o.err("set", "expected an object of path: value")),
    };
    Ok(Base {
        chip: o.string("chip")?,
        device: o.string("device")?,
        workload: o.string("workload")?,
        network: o.string("network")?,
        rule: o.string("rule")?,
        algorithm: o.string("algorithm")?,
        seed: o.uint("seed")?.unwrap_or(1),
        steps: o.uint("steps")?,
        epochs: o.uint("epochs")?,
        trace_every: o.uint("trace_every")?,
        set,
    })
}

fn parse_sample(file: &str, v: &Value, sweep_seed: u64) -> Result<Sample> {
    let o = Obj::new(file, "sample", v)?;
    let kind = o
        .string("kind")?
        .ok_or_else(|| o.err("kind", "missing; expected grid, random or latin-hypercube"))?;
    if kind == "grid" {
        o.only(&["kind"])?;
        return Ok(Sample::Grid);
    }
    o.only(&["kind", "points", "seed"])?;
    let points = o.uint("points")?.filter(|&n| n > 0).ok_or_else(|| {
        o.err(
            "points",
            "expected the number of points to draw (at least 1)",
        )
    })?;
    let seed = o
        .uint("seed")?
        .unwrap_or_else(|| aimsim_core::derive_seed(sweep_seed, "sweep/sample"));
    match kind.as_str() {
        "random" => Ok(Sample::Random { points, seed }),
        "latin-hypercube" | "lhs" => Ok(Sample::LatinHypercube { points, seed }),
        other => Err(o.err(
            "kind",
            format!("unknown sampling `{other}`; expected grid, random or latin-hypercube"),
        )),
    }
}

fn parse_metric(file: &str, i: usize, m: &Value) -> Result<String> {
    let field = format!("metrics[{i}]");
    let Value::String(s) = m else {
        return Err(SweepError::spec(
            file,
            field,
            format!("{m}: expected a report path such as energy_pj.total"),
        ));
    };
    let head = s.split('.').next().unwrap_or("");
    if s.split('.').any(str::is_empty) || !REPORT_SECTIONS.contains(&head) {
        return Err(SweepError::spec(
            file,
            field,
            format!(
                "`{s}`: expected a path into report.json starting with one of {}",
                REPORT_SECTIONS.join(", ")
            ),
        ));
    }
    Ok(s.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SweepSpec> {
        SweepSpec::parse("s.json", json)
    }

    fn err(json: &str) -> String {
        parse(json).unwrap_err().to_string()
    }

    /// A key given twice is refused, not last-one-wins (found by the fuzzer:
    /// `"sample": [..], "sample": {..}`).
    #[test]
    fn duplicate_keys_are_refused() {
        let e = err(r#"{"schema":"aimsim.sweep/1","seeds":2,"seeds":3}"#);
        assert!(e.contains("s.json") && e.contains("seeds"), "{e}");
        let ok = parse(r#"{"schema":"aimsim.sweep/1","axes":[],"seeds":3}"#).unwrap();
        assert_eq!(ok.runs(), 3);
    }

    #[test]
    fn the_design_example_parses() {
        let s = parse(
            r#"{"schema":"aimsim.sweep/1",
                "base":{"chip":"eapu-180nm","workload":"digits-mlp","rule":"eapu","seed":1,"set":{"train.steps":500}},
                "axes":[{"path":"chip.adc.bits","values":[4,6,8]},
                        {"path":"rule","values":["eapu","bp"]},
                        {"path":"device.write_noise_us","range":{"from":0.5,"to":3.0,"steps":6}}],
                "sample":{"kind":"grid"},"seeds":1,
                "metrics":["workload.metric.value","energy_pj.total"]}"#,
        )
        .unwrap();
        assert_eq!(s.axes.len(), 3);
        assert_eq!(
            s.base.set,
            vec![("train.steps".to_string(), Value::from(500))]
        );
        assert_eq!(s.metrics.len(), 2);
    }

    #[test]
    fn bad_axes_are_named() {
        let head = r#"{"schema":"aimsim.sweep/1","axes":["#;
        let cases = [
            (
                r#"{"path":"chip.adc.bits","values":[]}"#,
                "axes[0] (chip.adc.bits)",
                "empty",
            ),
            (
                r#"{"path":"nope","values":[1]}"#,
                "axes[0] (nope)",
                "unknown path",
            ),
            (
                r#"{"path":"rule","values":[3]}"#,
                "axes[0] (rule)",
                "expected a name",
            ),
            (
                r#"{"path":"steps","values":["x"]}"#,
                "axes[0] (steps)",
                "integer",
            ),
            (
                r#"{"path":"chip.adc.bits","values":[[1]]}"#,
                "axes[0] (chip.adc.bits)",
                "string, number",
            ),
            (
                r#"{"path":"chip.adc.bits","range":{"from":"a","to":2,"steps":2}}"#,
                "(chip.adc.bits).range.from",
                "number",
            ),
            (
                r#"{"path":"device","files":["no/such.json"]}"#,
                "axes[0] (device)",
                "no such file",
            ),
            (
                r#"{"path":"chip.adc.bits","values":[4,4]}"#,
                "axes[0] (chip.adc.bits)",
                "twice",
            ),
        ];
        for (axis, field, what) in cases {
            let e = err(&format!("{head}{axis}]}}"));
            assert!(e.contains(field) && e.contains(what), "{axis}: {e}");
        }
        assert!(err(r#"{"schema":"aimsim.sweep/2","axes":[]}"#).contains("schema"));
        assert!(
            err(r#"{"schema":"aimsim.sweep/1","axes":[],"metrics":["nope.x"]}"#)
                .contains("metrics[0]")
        );
        assert!(err(r#"{"schema":"aimsim.sweep/1","axes":[],"extra":1}"#).contains("extra"));
    }
}
