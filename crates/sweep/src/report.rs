//! `aimsim sweep report DIR`: the Pareto fronts of a finished sweep
//! (training energy against the test metric; simulated time and, where a
//! report has one, area against the metric), one-axis sensitivity plots,
//! and a markdown table of the fronts.
//!
//! A point is on the front if no other point has lower or equal cost and a
//! higher or equal metric with one of them strictly better. Failed points
//! are listed, not plotted.

use crate::plan::{display, Plan};
use crate::rows::{lookup, read_rows, write_durable, Manifest, Row, RESULTS_JSONL};
use crate::svg::{num, Plot, XAxis};
use crate::Result;
use serde_json::Value;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The files `write_report` wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    /// `report.md`.
    pub markdown: PathBuf,
    /// The SVG plots.
    pub plots: Vec<PathBuf>,
}

/// One successful point.
struct Pt<'a> {
    row: &'a Row,
    metric: f64,
    energy: f64,
    time: f64,
    area: Option<f64>,
}

/// Indices of `pts` on the front of (cost ↓, metric ↑), by rising cost.
fn front(pts: &[Pt], cost: impl Fn(&Pt) -> Option<f64>) -> Vec<usize> {
    let mut idx: Vec<(usize, f64)> = pts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| cost(p).filter(|c| c.is_finite()).map(|c| (i, c)))
        .collect();
    idx.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then(pts[b.0].metric.total_cmp(&pts[a.0].metric))
            .then(a.0.cmp(&b.0))
    });
    let mut best = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for (i, _) in idx {
        if pts[i].metric > best {
            best = pts[i].metric;
            out.push(i);
        }
    }
    out
}

fn file_name(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `report.md`, `pareto-energy.svg`, `pareto-time.svg` (and
/// `pareto-area.svg` where reports have an area) and one
/// `sensitivity-I-PATH.svg` per axis with more than one value into `dir`.
pub fn write_report(dir: &Path) -> Result<ReportFiles> {
    let manifest = Manifest::read(dir)?;
    let plan: Plan = manifest.plan(dir)?;
    let rows = read_rows(&dir.join(RESULTS_JSONL))?;
    let f = |r: &Row, p: &str| {
        r.value
            .get("report")
            .and_then(|v| lookup(v, p))
            .and_then(Value::as_f64)
    };
    let pts: Vec<Pt> = rows
        .iter()
        .filter_map(|row| {
            Some(Pt {
                row,
                metric: f(row, "workload.metric.value")?,
                energy: f(row, "energy_pj.total")?,
                time: f(row, "time.seconds")?,
                area: f(row, "area_mm2.total"),
            })
        })
        .collect();
    let metric_name = rows
        .iter()
        .find_map(|r| {
            r.value
                .get("report")
                .and_then(|v| lookup(v, "workload.metric.name"))
        })
        .map(display)
        .unwrap_or_else(|| "metric".into());
    let failed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.value.get("error").is_some())
        .collect();
    let mut md = String::new();
    let _ = writeln!(md, "# Sweep report\n");
    let _ = writeln!(
        md,
        "{} of {} points in `{}` ({} failed); spec sha256 `{}`; metric: test {metric_name}.\n",
        rows.len(),
        plan.points.len(),
        dir.display(),
        failed.len(),
        manifest.spec_sha256
    );
    let mut plots = Vec::new();
    let axis_paths: Vec<&str> = plan.spec.axes.iter().map(|a| a.path.as_str()).collect();
    type Cost<'c> = (&'c str, &'c str, &'c str, Box<dyn Fn(&Pt) -> Option<f64>>);
    let costs: Vec<Cost> = vec![
        (
            "energy",
            "training energy (pJ)",
            "pareto-energy.svg",
            Box::new(|p: &Pt| Some(p.energy)),
        ),
        (
            "time",
            "simulated training time (s)",
            "pareto-time.svg",
            Box::new(|p: &Pt| Some(p.time)),
        ),
        (
            "area",
            "area (mm²)",
            "pareto-area.svg",
            Box::new(|p: &Pt| p.area),
        ),
    ];
    for (name, label, file, cost) in &costs {
        if !pts.iter().any(|p| cost(p).is_some()) {
            let _ = writeln!(md, "No point reports its {name}; no {name} front.\n");
            continue;
        }
        let fr = front(&pts, cost);
        let values: Vec<f64> = pts.iter().filter_map(cost).collect();
        let spread = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            / values
                .iter()
                .cloned()
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
        let plot = Plot {
            title: format!("Pareto front: {name} vs test {metric_name}"),
            x_label: label.to_string(),
            y_label: format!("test {metric_name}"),
            x: XAxis::Numeric {
                log: spread > 100.0,
            },
            y_log: false,
            points: pts
                .iter()
                .filter_map(|p| cost(p).map(|c| (c, p.metric, p.row.key().to_string())))
                .collect(),
            line: fr
                .iter()
                .map(|&i| (cost(&pts[i]).expect("on the front"), pts[i].metric))
                .collect(),
            line_label: format!("front ({} of {} points)", fr.len(), values.len()),
        };
        let path = dir.join(file);
        write_durable(&path, plot.render().as_bytes())?;
        plots.push(path);
        let _ = writeln!(
            md,
            "## Pareto front: {name} vs {metric_name}\n\n![]({file})\n"
        );
        let mut head = vec!["index".to_string(), "key".into()];
        head.extend(axis_paths.iter().map(|s| s.to_string()));
        head.extend([metric_name.clone(), "energy (pJ)".into(), "time (s)".into()]);
        if *name == "area" {
            head.push("area (mm²)".into());
        }
        let _ = writeln!(md, "| {} |", head.join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(head.len()));
        for &i in &fr {
            let p = &pts[i];
            let mut cells = vec![p.row.index.to_string(), format!("`{}`", p.row.key())];
            cells.extend(
                axis_paths
                    .iter()
                    .map(|a| p.row.value["axes"].get(*a).map(display).unwrap_or_default()),
            );
            cells.extend([num(p.metric), num(p.energy), num(p.time)]);
            if *name == "area" {
                cells.push(p.area.map(num).unwrap_or_default());
            }
            let _ = writeln!(md, "| {} |", cells.join(" | ").replace('\n', " "));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Sensitivity, one axis at a time\n");
    let _ = writeln!(
        md,
        "Mean over the points with each value (all other axes and seeds pooled).\n"
    );
    let _ = writeln!(
        md,
        "| axis | value | points | mean {metric_name} | mean energy (pJ) |\n|---|---|---|---|---|"
    );
    for (i, path) in axis_paths.iter().enumerate() {
        let vals: Vec<Option<&Value>> =
            pts.iter().map(|p| p.row.value["axes"].get(*path)).collect();
        let mut levels: Vec<&Value> = Vec::new();
        for v in vals.iter().flatten() {
            if !levels.contains(v) {
                levels.push(v);
            }
        }
        if levels.len() < 2 {
            continue;
        }
        let numeric = levels.iter().all(|v| v.is_number());
        if numeric {
            levels.sort_by(|a, b| {
                a.as_f64()
                    .unwrap_or(0.0)
                    .total_cmp(&b.as_f64().unwrap_or(0.0))
            });
        }
        let x_of = |v: &Value| {
            if numeric {
                v.as_f64().unwrap_or(0.0)
            } else {
                levels.iter().position(|l| *l == v).unwrap_or(0) as f64
            }
        };
        let mut means = Vec::new();
        for l in &levels {
            let sel: Vec<&Pt> = pts
                .iter()
                .zip(&vals)
                .filter(|(_, v)| **v == Some(*l))
                .map(|(p, _)| p)
                .collect();
            let n = sel.len() as f64;
            let m = sel.iter().map(|p| p.metric).sum::<f64>() / n;
            let e = sel.iter().map(|p| p.energy).sum::<f64>() / n;
            means.push((x_of(l), m));
            let _ = writeln!(
                md,
                "| `{path}` | {} | {} | {} | {} |",
                display(l),
                sel.len(),
                num(m),
                num(e)
            );
        }
        let plot = Plot {
            title: format!("Sensitivity of test {metric_name} to {path}"),
            x_label: path.to_string(),
            y_label: format!("test {metric_name}"),
            x: if numeric {
                XAxis::Numeric { log: false }
            } else {
                XAxis::Categories(levels.iter().map(|v| display(v)).collect())
            },
            y_log: false,
            points: pts
                .iter()
                .zip(&vals)
                .filter_map(|(p, v)| v.map(|v| (x_of(v), p.metric, p.row.key().to_string())))
                .collect(),
            line: means,
            line_label: "mean per value".into(),
        };
        let file = dir.join(format!("sensitivity-{i}-{}.svg", file_name(path)));
        write_durable(&file, plot.render().as_bytes())?;
        plots.push(file);
    }
    if !failed.is_empty() {
        let _ = writeln!(
            md,
            "\n## Failed points\n\n| index | key | error |\n|---|---|---|"
        );
        for r in failed {
            let e = r.value["error"]
                .as_str()
                .unwrap_or("")
                .replace(['\n', '|'], " ");
            let _ = writeln!(md, "| {} | `{}` | {e} |", r.index, r.key());
        }
    }
    let markdown = dir.join("report.md");
    write_durable(&markdown, md.as_bytes())?;
    Ok(ReportFiles { markdown, plots })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_only_undominated_points() {
        let row = Row::parse("r", 1, r#"{"index":0,"hash":"h"}"#).unwrap();
        let pt = |energy, metric| Pt {
            row: &row,
            metric,
            energy,
            time: 0.0,
            area: None,
        };
        let pts = vec![
            pt(3.0, 0.9),
            pt(1.0, 0.5),
            pt(2.0, 0.4),
            pt(2.0, 0.8),
            pt(4.0, 0.9),
        ];
        assert_eq!(front(&pts, |p| Some(p.energy)), vec![1, 3, 0]);
    }
}
