//! A run's plots (DESIGN.md §6; `aimsim run --plots`): SVG documents drawn
//! by [`aimsim_trace::plot`] from the report and the run's trace CSVs.
//!
//! * `energy.svg` — training energy by component and by phase (pJ);
//! * `progress.svg` — per step, between trace rows: pulses per cell and
//!   energy by phase; the test metric at the end is in the title (the
//!   trainer records no metric during training: evaluating mid-run would
//!   read the chip and change the run);
//! * `pulses.svg` — a histogram of the pulses each cell received.
//!
//! The plots are derived from the same bytes as `energy.csv` and
//! `lifetime.csv`, so they show exactly what those files hold.

use crate::report::Report;
use aimsim_trace::plot::{self, Axes, Bars, Panel, Series};
use aimsim_trace::TraceError;
use std::collections::BTreeMap;

/// The plot files of a run with plots, written beside [`crate::OUTPUT_FILES`].
pub const PLOT_FILES: [&str; 3] = ["energy.svg", "progress.svg", "pulses.svg"];

/// Bins of the pulses-per-cell histogram when the counts are too many for
/// one bin each.
const HISTOGRAM_BINS: u32 = 64;

/// A CSV written by [`aimsim_trace::CsvWriter`] as columns of numbers
/// (an empty field is NaN).
fn columns(csv: &[u8]) -> BTreeMap<String, Vec<f64>> {
    let text = String::from_utf8_lossy(csv);
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for line in lines {
        for (c, v) in cols.iter_mut().zip(line.split(',')) {
            c.push(v.parse().unwrap_or(f64::NAN));
        }
    }
    header.into_iter().zip(cols).collect()
}

/// `(step, Δvalue/Δstep)` between consecutive rows (the first row against
/// step 0 and value 0: every CSV column is cumulative from the start).
fn per_step(steps: &[f64], values: &[f64]) -> Vec<(f64, f64)> {
    let (mut s0, mut v0) = (0.0, 0.0);
    let mut out = Vec::with_capacity(steps.len());
    for (&s, &v) in steps.iter().zip(values) {
        if s > s0 {
            out.push((s, (v - v0) / (s - s0)));
        }
        (s0, v0) = (s, v);
    }
    out
}

fn bars_of(map: &BTreeMap<String, f64>, title: &str, name: &str) -> Panel {
    Panel::Bars(
        Bars {
            title: title.into(),
            labels: map.keys().cloned().collect(),
            y_label: "pJ".into(),
            log_y: false,
        },
        vec![Series {
            name: name.into(),
            points: map
                .values()
                .enumerate()
                .map(|(i, &v)| (i as f64, v))
                .collect(),
        }],
    )
}

/// The histogram of `pulses` (per cell): one bin per count up to
/// [`HISTOGRAM_BINS`] counts, else that many equal bins.
fn pulse_histogram(pulses: &[u32]) -> (Vec<f64>, Vec<u64>) {
    let max = pulses.iter().copied().max().unwrap_or(0);
    let width = (max / HISTOGRAM_BINS + 1).max(1);
    let bins = max / width + 1;
    let mut counts = vec![0u64; bins as usize];
    for &p in pulses {
        counts[(p / width) as usize] += 1;
    }
    let edges = (0..=bins).map(|b| f64::from(b * width)).collect();
    (edges, counts)
}

/// The plots of a run: `(file name, SVG)` in [`PLOT_FILES`] order, from its
/// report, the bytes of its `energy.csv` and `lifetime.csv`, its cell count
/// and the pulses of each cell.
pub fn run_plots(
    report: &Report,
    energy_csv: &[u8],
    lifetime_csv: &[u8],
    cells: u64,
    pulses: &[u32],
) -> Result<Vec<(&'static str, String)>, TraceError> {
    let what = format!(
        "{} / {} / {}",
        report.workload.name, report.algorithm, report.rule
    );
    let energy = plot::panels(&[
        bars_of(
            &report.energy_pj.by_component,
            "training energy by component",
            &what,
        ),
        bars_of(
            &report.energy_pj.by_phase,
            "training energy by phase",
            &what,
        ),
    ])?;

    let e = columns(energy_csv);
    let l = columns(lifetime_csv);
    let none = Vec::new();
    let e_steps = e.get("step").unwrap_or(&none);
    let l_steps = l.get("step").unwrap_or(&none);
    let pulses_per_step: Vec<f64> = l
        .get("pulses_mean")
        .unwrap_or(&none)
        .iter()
        .map(|m| m * cells as f64)
        .collect();
    let phase_series: Vec<Series> = report
        .energy_pj
        .by_phase
        .keys()
        .filter_map(|p| {
            e.get(&format!("{p}_pj")).map(|v| Series {
                name: p.clone(),
                points: per_step(e_steps, v),
            })
        })
        .collect();
    let metric = &report.workload.metric;
    let progress = plot::panels(&[
        Panel::Lines(
            Axes {
                title: format!(
                    "pulses per step (test {} {:.4} at the end)",
                    metric.name, metric.value
                ),
                x_label: "training step".into(),
                y_label: "pulses per step".into(),
                log_y: false,
            },
            vec![Series {
                name: what.clone(),
                points: per_step(l_steps, &pulses_per_step),
            }],
        ),
        Panel::Lines(
            Axes {
                title: "energy per step by phase".into(),
                x_label: "training step".into(),
                y_label: "pJ per step".into(),
                log_y: false,
            },
            phase_series,
        ),
    ])?;

    let (edges, counts) = pulse_histogram(pulses);
    let histogram = plot::histogram(
        &Axes {
            title: format!(
                "pulses per cell after {} steps ({what})",
                report.workload.steps
            ),
            x_label: "pulses".into(),
            y_label: "cells".into(),
            log_y: true,
        },
        "cells",
        &edges,
        &counts,
    )?;
    Ok(vec![
        (PLOT_FILES[0], energy),
        (PLOT_FILES[1], progress),
        (PLOT_FILES[2], histogram),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_step_differences_cumulative_columns() {
        let d = per_step(&[10.0, 20.0, 20.0, 40.0], &[100.0, 300.0, 300.0, 300.0]);
        assert_eq!(d, vec![(10.0, 10.0), (20.0, 20.0), (40.0, 0.0)]);
    }

    #[test]
    fn histogram_bins_every_cell_once() {
        let (edges, counts) = pulse_histogram(&[0, 0, 1, 3]);
        assert_eq!(edges, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(counts, vec![2, 1, 0, 1]);
        let many: Vec<u32> = (0..1000).collect();
        let (edges, counts) = pulse_histogram(&many);
        assert_eq!(counts.iter().sum::<u64>(), 1000);
        assert_eq!(edges.len(), counts.len() + 1);
        assert!(counts.len() as u32 <= HISTOGRAM_BINS + 1);
        assert!(*edges.last().unwrap() > 999.0);
    }

    #[test]
    fn csv_columns_parse_numbers_and_empty_fields() {
        let c = columns(b"step,a,b\n1,2.5,\n2,3,4\n");
        assert_eq!(c["step"], vec![1.0, 2.0]);
        assert!(c["b"][0].is_nan() && c["b"][1] == 4.0);
    }
}
