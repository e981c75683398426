//! The plan: every point of a sweep, in point order, with its key, seed,
//! validated [`RunSpec`] and hash — built, and every run spec resolved,
//! before any point runs.

use crate::axis::{axis_name, path_kind, AxisValues, PathKind};
use crate::sample::{draw, levels};
use crate::spec::{Sample, SweepSpec};
use crate::{Result, SweepError};
use aimsim::{RunSpec, RunSpecBuilder};
use aimsim_core::derive_seed;
use serde_json::Value;

/// One point of a sweep.
#[derive(Clone, Debug)]
pub struct Point {
    /// Position in point order (0-based).
    pub index: usize,
    /// The point's key: its axis values (`path=value`, space-separated),
    /// `sample=i` first for random and Latin-hypercube sampling, and the
    /// seed replicate `rep=r` last. Unique within a sweep.
    pub key: String,
    /// Seed replicate (0 ..< `seeds`).
    pub rep: u64,
    /// The axis values, in axis order.
    pub axes: Vec<(String, Value)>,
    /// The run it simulates; its seed is `derive_seed(sweep seed, "sweep/" + key)`.
    pub spec: RunSpec,
    /// [`RunSpec::hash`] of `spec`: the point's name in the journal.
    pub hash: String,
}

/// A sweep's points.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The spec.
    pub spec: SweepSpec,
    /// The points, in point order.
    pub points: Vec<Point>,
}

/// How a value reads in a key or a CSV cell: strings bare, the rest as JSON.
pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The run spec of the base with `assign` applied, seeded `seed`.
fn builder(spec: &SweepSpec, assign: &[(String, Value)], seed: u64) -> RunSpecBuilder {
    let base = &spec.base;
    let mut b = RunSpec::builder().seed(seed);
    let mut named: Vec<(&str, Value)> = Vec::new();
    let opt = |name: &'static str, v: &Option<String>| {
        v.as_ref().map(|s| (name, Value::from(s.as_str())))
    };
    named.extend(opt("chip", &base.chip));
    named.extend(opt("device", &base.device));
    named.extend(opt("workload", &base.workload));
    named.extend(opt("network", &base.network));
    named.extend(opt("rule", &base.rule));
    named.extend(opt("algorithm", &base.algorithm));
    named.extend(base.steps.map(|n| ("steps", Value::from(n))));
    named.extend(base.epochs.map(|n| ("epochs", Value::from(n))));
    named.extend(base.trace_every.map(|n| ("trace_every", Value::from(n))));
    for (path, v) in &base.set {
        b = b.set(path, v.to_string());
    }
    for (path, v) in assign {
        match path_kind(path) {
            Some(PathKind::Set) => b = b.set(path, v.to_string()),
            _ => named.push((path.as_str(), v.clone())),
        }
    }
    // Later entries (the axes) win over the base's.
    for (name, v) in named {
        let s = display(&v);
        let n = v.as_u64().unwrap_or(0);
        b = match name {
            "chip" => b.chip(s),
            "device" => b.device(s),
            "workload" => b.workload(s),
            "network" => b.network(s),
            "rule" => b.rule(s),
            "algorithm" => b.algorithm(s),
            "steps" => b.steps(n),
            "epochs" => b.epochs(u32::try_from(n).unwrap_or(u32::MAX)),
            "trace_every" => b.trace_every(n),
            other => unreachable!("axis path {other} checked by the spec"),
        };
    }
    b
}

impl Plan {
    /// Draws the points of `spec` and resolves each point's run spec.
    /// Errors name the base, the axis and value, or the point.
    pub fn new(spec: SweepSpec) -> Result<Plan> {
        let file = spec.file.clone();
        builder(&spec, &[], spec.base.seed)
            .build()
            .map_err(|e| SweepError::spec(&file, "base", e.to_string()))?;
        // Each axis value on its own, so a bad value names its axis.
        for (i, axis) in spec.axes.iter().enumerate() {
            let values = levels(axis).unwrap_or_else(|| match axis.values {
                AxisValues::Range {
                    from, to, integer, ..
                } => [from, to]
                    .iter()
                    .map(|&x| {
                        if integer {
                            Value::from(x.round() as i64)
                        } else {
                            Value::from(x)
                        }
                    })
                    .collect(),
                AxisValues::List(_) => unreachable!("lists have levels"),
            });
            for v in values {
                builder(&spec, &[(axis.path.clone(), v.clone())], spec.base.seed)
                    .build()
                    .map_err(|e| {
                        SweepError::spec(&file, axis_name(i, &axis.path), format!("value {v}: {e}"))
                    })?;
            }
        }
        let samples = draw(&spec.axes, spec.sample);
        let keyed = spec.sample != Sample::Grid;
        let mut points = Vec::with_capacity(samples.len() * spec.seeds as usize);
        for (s, values) in samples.into_iter().enumerate() {
            let axes: Vec<(String, Value)> = spec
                .axes
                .iter()
                .map(|a| a.path.clone())
                .zip(values)
                .collect();
            for rep in 0..spec.seeds {
                let mut parts = Vec::new();
                if keyed {
                    parts.push(format!("sample={s}"));
                }
                parts.extend(axes.iter().map(|(p, v)| format!("{p}={}", display(v))));
                parts.push(format!("rep={rep}"));
                let key = parts.join(" ");
                let seed = derive_seed(spec.base.seed, &format!("sweep/{key}"));
                // The replicates of a sample differ only in the seed, which
                // no check depends on (`RunSpec::check` loads no data), so
                // the sample's first replicate is checked and the others
                // copy it with their own seed.
                let run = match points.last() {
                    Some(Point {
                        rep: r,
                        spec: first,
                        ..
                    }) if rep > 0 && *r == rep - 1 => {
                        let mut run = first.clone();
                        run.seed = seed;
                        run
                    }
                    _ => builder(&spec, &axes, seed).build().map_err(|e| {
                        SweepError::spec(
                            &file,
                            format!("point {} ({key})", points.len()),
                            e.to_string(),
                        )
                    })?,
                };
                points.push(Point {
                    index: points.len(),
                    hash: run.hash(),
                    key,
                    rep,
                    axes: axes.clone(),
                    spec: run,
                });
            }
        }
        Ok(Plan { spec, points })
    }

    /// [`SweepSpec::read`] then [`Plan::new`].
    pub fn read(path: &std::path::Path) -> Result<Plan> {
        Plan::new(SweepSpec::read(path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Result<Plan> {
        Plan::new(SweepSpec::parse("s.json", json)?)
    }

    #[test]
    fn points_have_unique_keys_seeds_and_hashes() {
        let p = plan(
            r#"{"schema":"aimsim.sweep/1","base":{"steps":5,"set":{"train.lr":0.05}},
                "axes":[{"path":"chip.adc.bits","values":[4,6]},{"path":"rule","values":["eapu","bp"]}],
                "seeds":2}"#,
        )
        .unwrap();
        assert_eq!(p.points.len(), 8);
        assert_eq!(p.points[0].key, "chip.adc.bits=4 rule=eapu rep=0");
        assert_eq!(p.points[3].key, "chip.adc.bits=4 rule=bp rep=1");
        let mut h: Vec<&str> = p.points.iter().map(|p| p.hash.as_str()).collect();
        h.sort();
        h.dedup();
        assert_eq!(h.len(), 8);
        let s = &p.points[3].spec;
        assert_eq!(s.rule.as_deref(), Some("bp"));
        assert_eq!(s.steps, Some(5));
        assert!(s.overrides.contains(&("chip.adc.bits".into(), "4".into())));
        assert_eq!(
            s.seed,
            derive_seed(1, "sweep/chip.adc.bits=4 rule=bp rep=1")
        );
    }

    /// Replicates copied from their sample's first point are the specs the
    /// builder gives for their own seed.
    #[test]
    fn copied_replicates_equal_built_ones() {
        let p = plan(
            r#"{"schema":"aimsim.sweep/1","base":{"steps":5},
                "axes":[{"path":"chip.adc.bits","values":[4,6]}],"seeds":3}"#,
        )
        .unwrap();
        for pt in &p.points {
            let built = builder(&p.spec, &pt.axes, pt.spec.seed).build().unwrap();
            assert_eq!(pt.spec, built, "{}", pt.key);
            assert_eq!(pt.hash, built.hash());
        }
    }

    #[test]
    fn values_the_run_rejects_name_the_axis() {
        let head = r#"{"schema":"aimsim.sweep/1","base":{"steps":5},"axes":["#;
        for (axis, want) in [
            (
                r#"{"path":"chip.adc.nope","values":[4]}"#,
                "axes[0] (chip.adc.nope)",
            ),
            (
                r#"{"path":"chip.adc.bits","values":["many"]}"#,
                "axes[0] (chip.adc.bits)",
            ),
            (
                r#"{"path":"chip.adc.bits","values":[99]}"#,
                "axes[0] (chip.adc.bits)",
            ),
            (
                r#"{"path":"rule","values":["eapu","nope"]}"#,
                "axes[0] (rule)",
            ),
        ] {
            let e = plan(&format!("{head}{axis}]}}")).unwrap_err();
            assert!(
                e.is_bad_input() && e.to_string().contains(want),
                "{axis}: {e}"
            );
        }
    }
}
