//! Axes of a sweep spec: their paths, their values (lists, ranges, files)
//! and how each is checked, with messages that name the axis.

use crate::json::{is_scalar, Obj};
use crate::spec::Sample;
use crate::{Result, SweepError};
use serde_json::Value;

/// One axis of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The path: a named choice (`rule`, `algorithm`, `chip`, `device`,
    /// `workload`, `steps`, `epochs`, `trace_every`) or a `--set` path
    /// (`chip.…`, `device.…`, `train.…`).
    pub path: String,
    /// Its values.
    pub values: AxisValues,
}

/// The values of an axis.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisValues {
    /// Listed values (`values`), or files (`files`, as strings).
    List(Vec<Value>),
    /// A numeric range: `steps` values from `from` to `to` (inclusive,
    /// geometric if `log`), rounded if `integer`. Without `steps` (random
    /// and Latin-hypercube sampling only) any value in the range.
    Range {
        /// First value.
        from: f64,
        /// Last value.
        to: f64,
        /// Number of values (`None`: continuous).
        steps: Option<u64>,
        /// Geometric spacing.
        log: bool,
        /// Values are integers.
        integer: bool,
    },
}

/// What an axis path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathKind {
    /// A named choice (`rule`, `chip`, …): strings, or files for `chip` and `device`.
    Choice,
    /// A count (`steps`, `epochs`, `trace_every`): non-negative integers.
    Count,
    /// A `--set` path.
    Set,
}

pub(crate) fn path_kind(path: &str) -> Option<PathKind> {
    match path {
        "chip" | "device" | "workload" | "network" | "rule" | "algorithm" => Some(PathKind::Choice),
        "steps" | "epochs" | "trace_every" => Some(PathKind::Count),
        _ => {
            let (head, rest) = path.split_once('.')?;
            (matches!(head, "chip" | "device" | "train") && !rest.is_empty())
                .then_some(PathKind::Set)
        }
    }
}

/// How messages name axis `i`.
pub(crate) fn axis_name(i: usize, path: &str) -> String {
    format!("axes[{i}] ({path})")
}

pub(crate) fn parse_axis(file: &str, i: usize, v: &Value, sample: Sample) -> Result<Axis> {
    let at = format!("axes[{i}]");
    let o = Obj::new(file, at.clone(), v)?;
    let path = o
        .string("path")?
        .ok_or_else(|| o.err("path", "missing; expected the path the axis varies"))?;
    let name = axis_name(i, &path);
    let err = |m: String| SweepError::spec(file, &name, m);
    o.only(&["path", "values", "range", "files"])?;
    let kind = path_kind(&path).ok_or_else(|| {
        err(format!(
            "unknown path `{path}`; expected rule, algorithm, chip, device, workload, network, steps, \
             epochs, trace_every or a --set path chip.PATH, device.PATH, train.PATH"
        ))
    })?;
    let given: Vec<&str> = ["values", "range", "files"]
        .into_iter()
        .filter(|k| o.get(k).is_some())
        .collect();
    if given.len() != 1 {
        return Err(err("expected exactly one of values, range or files".into()));
    }
    let values = match given[0] {
        "values" => {
            let Some(Value::Array(vs)) = o.get("values") else {
                return Err(err("values: expected a list".into()));
            };
            if vs.is_empty() {
                return Err(err(
                    "values: the axis is empty; expected at least one value".into(),
                ));
            }
            for (j, v) in vs.iter().enumerate() {
                let ok = match kind {
                    PathKind::Choice => matches!(v, Value::String(s) if !s.is_empty()),
                    PathKind::Count => v.is_u64(),
                    PathKind::Set => is_scalar(v),
                };
                if !ok {
                    let want = match kind {
                        PathKind::Choice => "a name (string)",
                        PathKind::Count => "a non-negative integer",
                        PathKind::Set => "a string, number or boolean",
                    };
                    return Err(err(format!("values[{j}] = {v}: expected {want}")));
                }
                if vs[..j].contains(v) {
                    return Err(err(format!("values[{j}] = {v} is listed twice")));
                }
            }
            AxisValues::List(vs.clone())
        }
        "files" => {
            if !matches!(path.as_str(), "chip" | "device") {
                return Err(err("files: only the chip and device axes take files".into()));
            }
            let Some(Value::Array(fs)) = o.get("files") else {
                return Err(err("files: expected a list of paths".into()));
            };
            if fs.is_empty() {
                return Err(err(
                    "files: the axis is empty; expected at least one file".into()
                ));
            }
            for (j, f) in fs.iter().enumerate() {
                let Value::String(p) = f else {
                    return Err(err(format!("files[{j}] = {f}: expected a path (string)")));
                };
                if !std::path::Path::new(p).is_file() {
                    return Err(err(format!(
                        "files[{j}] = {p}: no such file (paths are relative to the folder aimsim runs in)"
                    )));
                }
                if fs[..j].contains(f) {
                    return Err(err(format!("files[{j}] = {p} is listed twice")));
                }
            }
            AxisValues::List(fs.clone())
        }
        _ => {
            if kind == PathKind::Choice {
                return Err(err(
                    "range: a named choice takes values or files, not a range".into(),
                ));
            }
            let r = Obj::new(
                file,
                format!("{name}.range"),
                o.get("range").expect("given"),
            )?;
            r.only(&["from", "to", "steps", "log", "integer"])?;
            let from = r
                .number("from")?
                .ok_or_else(|| r.err("from", "missing; expected a number"))?;
            let to = r
                .number("to")?
                .ok_or_else(|| r.err("to", "missing; expected a number"))?;
            let steps = r.uint("steps")?;
            let log = r.boolean("log")?;
            let integer = r.boolean("integer")? || kind == PathKind::Count;
            if steps == Some(0) {
                return Err(r.err("steps", "the axis is empty; expected at least 1 value"));
            }
            if let Some(n) = steps.filter(|&n| n > crate::spec::MAX_POINTS) {
                return Err(r.err(
                    "steps",
                    format!("{n}; expected at most {} values", crate::spec::MAX_POINTS),
                ));
            }
            if steps.is_none() && sample == Sample::Grid {
                return Err(r.err("steps", "missing; a grid needs the number of values"));
            }
            if log && (from <= 0.0 || to <= 0.0) {
                return Err(r.err("log", "a geometric range needs from > 0 and to > 0"));
            }
            if kind == PathKind::Count && (from < 0.0 || to < 0.0) {
                return Err(r.err("from", "expected non-negative counts"));
            }
            let vals = AxisValues::Range {
                from,
                to,
                steps,
                log,
                integer,
            };
            if let Some(n) = steps {
                let grid = crate::sample::range_values(from, to, n, log, integer);
                if let Some(j) = (1..grid.len()).find(|&j| grid[j] == grid[j - 1]) {
                    return Err(r.err(
                        "steps",
                        format!(
                            "value {} appears twice (integer range with more steps than integers)",
                            grid[j]
                        ),
                    ));
                }
            }
            vals
        }
    };
    Ok(Axis { path, values })
}
