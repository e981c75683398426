//! A training run: configuration, the training loop, and its outputs.

use crate::chip::Chip;
use crate::engine::Schedule;
use crate::engine::{Engine, TimeMode};
use crate::report::*;
use crate::vcd::VcdProbe;
use crate::Result;
use aimsim_core::config::{self, Check};
use aimsim_core::{stream, CoreError, SimTime};
use aimsim_device::DeviceModel;
use aimsim_energy::{Component, Phase};
use aimsim_workload::{argmax, builtin_workload, softmax_cross_entropy, Workload, WORKLOAD_NAMES};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::io::Write;

/// Training parameters (`train.*` of `--set`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    /// Built-in workload (default: `digits-mlp`).
    #[serde(default = "d_workload")]
    pub workload: String,
    /// Passes over the training set (default: 8).
    #[serde(default = "d_epochs")]
    pub epochs: u32,
    /// Stop after this many steps, if set (default: none: all epochs).
    #[serde(default)]
    pub steps: Option<u64>,
    /// SGD learning rate η (default: 0.02).
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// Initial weights uniform in ±init_scale/sqrt(fan_in) (default: 1).
    #[serde(default = "d_init")]
    pub init_scale: f64,
    /// Rows of `energy.csv` / `lifetime.csv` every this many steps (default: 100).
    #[serde(default = "d_every")]
    pub trace_every: u64,
}

fn d_workload() -> String {
    "digits-mlp".into()
}
fn d_epochs() -> u32 {
    8
}
fn d_lr() -> f64 {
    0.02
}
fn d_init() -> f64 {
    1.0
}
fn d_every() -> u64 {
    100
}

impl Default for RawTrain {
    fn default() -> Self {
        RawTrain {
            workload: d_workload(),
            epochs: d_epochs(),
            steps: None,
            lr: d_lr(),
            init_scale: d_init(),
            trace_every: d_every(),
        }
    }
}

/// Validated training parameters.
#[derive(Clone, Debug)]
pub struct Train {
    /// The raw values.
    pub raw: RawTrain,
}

impl Train {
    /// Builds training parameters from defaults and `train.*` overrides.
    pub fn from_overrides(overrides: &[(String, String)]) -> std::result::Result<Train, CoreError> {
        let file = "--set train";
        let mut tree = serde_json::to_value(RawTrain::default()).expect("serialisable");
        for (p, v) in overrides {
            config::apply_override(&mut tree, p, v)?;
        }
        let raw: RawTrain = config::from_tree(file, tree)?;
        let c = Check::new(file);
        if !WORKLOAD_NAMES.contains(&raw.workload.as_str()) {
            return Err(c.err(
                "workload",
                format!(
                    "unknown workload `{}`; expected one of {}",
                    raw.workload,
                    WORKLOAD_NAMES.join(", ")
                ),
            ));
        }
        c.int_range("epochs", raw.epochs.into(), 1, 1_000_000)?;
        if let Some(s) = raw.steps {
            c.int_range("steps", s, 1, u64::MAX)?;
        }
        c.range("lr", raw.lr, 1e-12, 100.0)?;
        c.range("init_scale", raw.init_scale, 0.0, 100.0)?;
        c.int_range("trace_every", raw.trace_every, 1, u64::MAX)?;
        Ok(Train { raw })
    }
}

/// Waveform options.
#[derive(Clone, Debug, Default)]
pub struct VcdOptions {
    /// First step dumped (inclusive).
    pub from_step: u64,
    /// Last step dumped (exclusive); `None` for all.
    pub to_step: Option<u64>,
    /// Signal selection patterns (empty: all).
    pub select: Vec<String>,
}

/// Everything one run needs.
pub struct RunOptions<'a> {
    /// The chip.
    pub chip: &'a Chip,
    /// The device.
    pub device: &'a DeviceModel,
    /// Training parameters.
    pub train: &'a Train,
    /// Run seed.
    pub seed: u64,
    /// The configuration echoed into the VCD `$comment`.
    pub config_comment: String,
    /// Called after each step with `(step, total_steps)`.
    pub progress: &'a mut dyn FnMut(u64, u64),
}

/// What a run produces.
pub struct RunOutput {
    /// The report (`report.json`).
    pub report: Report,
    /// Rows of `energy.csv`.
    pub energy_rows: Vec<EnergyRow>,
    /// Rows of `lifetime.csv`.
    pub lifetime_rows: Vec<LifetimeRow>,
    /// Events the engine processed during training.
    pub events: u64,
}

/// Trains the workload on the chip; writes the VCD to `vcd` if given.
pub fn run(opts: RunOptions<'_>, vcd: Option<(Box<dyn Write>, &VcdOptions)>) -> Result<RunOutput> {
    run_in_mode(opts, vcd, TimeMode::Event)
}

fn run_in_mode(
    opts: RunOptions<'_>,
    vcd: Option<(Box<dyn Write>, &VcdOptions)>,
    mode: TimeMode,
) -> Result<RunOutput> {
    let RunOptions {
        chip,
        device,
        train,
        seed,
        config_comment,
        progress,
    } = opts;
    let t = &train.raw;
    let wl: Workload = builtin_workload(&t.workload).expect("validated workload name");
    let rule = chip.build_rule(device)?;
    let mut eng = Engine::new(
        chip,
        device,
        rule,
        &wl.layers,
        seed,
        t.lr as f32,
        t.init_scale as f32,
    );
    eng.mode = mode;
    let mut vcd_window = None;
    if let Some((out, o)) = vcd {
        eng.probe = Some(VcdProbe::start(
            out,
            eng.tiles.len(),
            &config_comment,
            &o.select,
        )?);
        vcd_window = Some((o.from_step, o.to_step.unwrap_or(u64::MAX)));
    }
    let n_train = wl.train.len();
    let total = t
        .steps
        .unwrap_or(u64::from(t.epochs) * n_train as u64)
        .min(u64::from(t.epochs) * n_train as u64);
    let mut order: Vec<usize> = (0..n_train).collect();
    let mut shuffle = stream(seed, "train/shuffle");
    let mut grad = vec![0.0f32; wl.classes];
    let mut energy_rows = Vec::new();
    let mut lifetime_rows = Vec::new();
    let mut probe_parked = None;
    let mut step = 0u64;
    'epochs: for _epoch in 0..t.epochs {
        order.shuffle(&mut shuffle);
        for &i in &order {
            if step == total {
                break 'epochs;
            }
            if let Some((from, to)) = vcd_window {
                // Outside the window the probe is parked, so nothing is dumped.
                let inside = (from..to).contains(&step);
                if inside && eng.probe.is_none() {
                    eng.probe = probe_parked.take();
                } else if !inside && eng.probe.is_some() {
                    probe_parked = eng.probe.take();
                }
            }
            if let Some(p) = eng.probe.as_mut() {
                p.step(eng.now, step, Some(Phase::Forward))?;
            }
            let out = eng.forward(wl.train.input(i))?;
            softmax_cross_entropy(out, usize::from(wl.train.labels[i]), &mut grad);
            if let Some(p) = eng.probe.as_mut() {
                p.step(eng.now, step, Some(Phase::Backward))?;
            }
            eng.backward(&grad)?;
            if let Some(p) = eng.probe.as_mut() {
                p.step(eng.now, step, Some(Phase::Update))?;
            }
            eng.update()?;
            eng.sync_time();
            step += 1;
            if let Some(p) = eng.probe.as_mut() {
                p.step_end(eng.now, eng.ledger.total_pj(), eng.writes.cell_writes)?;
            }
            if step.is_multiple_of(t.trace_every) || step == total {
                energy_rows.push(EnergyRow::from_ledger(step, &eng.ledger));
                lifetime_rows.push(lifetime_row(&eng, step));
            }
            progress(step, total);
        }
    }
    eng.drain()?;
    let events = eng.events;
    let end = eng.now;
    if let Some(p) = eng.probe.take().or(probe_parked) {
        p.finish(end)?;
    }
    // Test accuracy: inference on the trained chip. Its energy and time are
    // not part of training and are kept out of the report's ledger.
    let timing = timing_report(&eng, chip, chip.clock.cycles_at(eng.now));
    let train_ledger = eng.ledger.clone();
    let train_now = eng.now;
    let mut correct = 0usize;
    for i in 0..wl.test.len() {
        let out = eng.forward(wl.test.input(i))?;
        if argmax(out) == usize::from(wl.test.labels[i]) {
            correct += 1;
        }
    }
    eng.ledger = train_ledger;
    eng.now = train_now;
    let accuracy = correct as f64 / wl.test.len() as f64;
    let outcome = Outcome {
        steps: step,
        accuracy,
        timing,
    };
    let report = build_report(&eng, chip, device, seed, &wl, outcome);
    Ok(RunOutput {
        report,
        energy_rows,
        lifetime_rows,
        events,
    })
}

fn lifetime_row(eng: &Engine<'_>, step: u64) -> LifetimeRow {
    let mut pulses: Vec<u32> = Vec::with_capacity(eng.cells());
    let mut failed = 0u64;
    let mut steps_left = f64::INFINITY;
    for c in eng.tiles.iter().filter_map(|t| t.cells.as_ref()) {
        pulses.extend_from_slice(c.pulses());
        failed += c.failed_cells() as u64;
        for (&p, &e) in c.pulses().iter().zip(c.endurance()) {
            if p > 0 && p < e {
                let rate = f64::from(p) / step as f64;
                steps_left = steps_left.min(f64::from(e - p) / rate);
            }
        }
    }
    let (mean, p99, max) = if pulses.is_empty() {
        (0.0, 0, 0)
    } else {
        let mean = pulses.iter().map(|&p| f64::from(p)).sum::<f64>() / pulses.len() as f64;
        let n = pulses.len();
        let k = (((n as f64) * 0.99).ceil() as usize).clamp(1, n) - 1;
        let (_, p99, _) = pulses.select_nth_unstable(k);
        let p99 = *p99;
        (mean, p99, pulses.iter().copied().max().unwrap_or(0))
    };
    LifetimeRow {
        step,
        pulses_mean: mean,
        pulses_p99: p99,
        pulses_max: max,
        failed_cells: failed,
        projected_steps_to_first_failure: steps_left.is_finite().then(|| steps_left.floor() as u64),
    }
}

/// What training measured, for the report.
struct Outcome {
    steps: u64,
    accuracy: f64,
    timing: TimingReport,
}

fn build_report(
    eng: &Engine<'_>,
    chip: &Chip,
    device: &DeviceModel,
    seed: u64,
    wl: &Workload,
    outcome: Outcome,
) -> Report {
    let Outcome {
        steps,
        accuracy,
        timing,
    } = outcome;
    let cells = eng.cells() as u64;
    let life = lifetime_row(eng, steps.max(1));
    let mut endurance: Vec<u32> = eng
        .tiles
        .iter()
        .filter_map(|t| t.cells.as_ref())
        .flat_map(|c| c.endurance().iter().copied())
        .collect();
    let median = if endurance.is_empty() {
        0
    } else {
        let k = endurance.len() / 2;
        *endurance.select_nth_unstable(k).1
    };
    let by_component = Component::ALL
        .iter()
        .map(|&c| (c.key().to_string(), eng.ledger.component_pj(c)))
        .collect();
    let ops_by_component = Component::ALL
        .iter()
        .map(|&c| (c.key().to_string(), eng.ledger.component_count(c)))
        .collect();
    let by_phase = Phase::ALL
        .iter()
        .map(|&p| (p.key().to_string(), eng.ledger.phase_pj(p)))
        .collect();
    let by_tile = eng
        .ledger
        .by_tile()
        .into_iter()
        .map(|(t, e)| (t.map_or("chip".to_string(), |t| format!("tile{t}")), e))
        .collect();
    let cycles = chip.clock.cycles_at(eng.now);
    let weights = eng.weights() as u64;
    Report {
        schema: REPORT_SCHEMA.into(),
        seed,
        chip: chip.name.clone(),
        device: device.name.clone(),
        rule: eng.rule_name().into(),
        workload: WorkloadReport {
            name: wl.name.into(),
            steps,
            metric: MetricReport {
                name: "accuracy".into(),
                value: accuracy,
            },
        },
        time: TimeReport {
            cycles,
            clock_hz: chip.clock_hz,
            seconds: eng.now.seconds(),
            update_cycles: eng.writes.update_cycles,
        },
        energy_pj: EnergyReport {
            total: eng.ledger.total_pj(),
            by_component,
            by_phase,
            by_tile,
            ops_by_component,
        },
        writes: WritesReport {
            pulses: eng.writes.pulses,
            cell_writes: eng.writes.cell_writes,
            update_fraction: if cells == 0 {
                0.0
            } else {
                eng.writes.cell_writes as f64 / (cells as f64 * steps.max(1) as f64)
            },
            parameter_update_fraction: if cells == 0 {
                0.0
            } else {
                eng.writes.cell_writes as f64 / (weights as f64 * steps.max(1) as f64)
            },
            max_per_cell: life.pulses_max,
            pulse_phases: eng.writes.phases,
        },
        lifetime: LifetimeReport {
            endurance_pulses_median: median,
            failed_cells: life.failed_cells,
            projected_steps_to_first_failure: life.projected_steps_to_first_failure,
        },
        timing,
        gpu: None,
    }
}

fn timing_report(eng: &Engine<'_>, chip: &Chip, cycles: u64) -> TimingReport {
    let c = |ps: u64| chip.clock.cycles_at(SimTime(ps));
    let total_ps = eng.now.ps().max(1) as f64;
    let t = &eng.timing;
    let tiles: Vec<TileTiming> = eng
        .tiles
        .iter()
        .map(|tile| TileTiming {
            tile: tile.id,
            layer: tile.layer,
            utilisation: tile.busy_ps as f64 / total_ps,
            adc_utilisation: tile.adc_busy_ps as f64 / total_ps,
            reads: tile.reads,
            write_phases: tile.write_phases,
        })
        .collect();
    let adc = tiles.iter().map(|t| t.adc_utilisation).sum::<f64>() / tiles.len().max(1) as f64;
    TimingReport {
        schedule: match chip.schedule {
            Schedule::Sequential => "sequential".into(),
            Schedule::Pipelined => "pipelined".into(),
        },
        cycles_by_phase: Phase::ALL
            .iter()
            .map(|&p| (p.key().to_string(), c(t.phase_ps[p as usize])))
            .collect(),
        critical_path: CriticalPath {
            tile_wait: c(t.critical.tile_wait),
            settle_integrate: c(t.critical.settle_integrate),
            convert: c(t.critical.convert),
            gradient: c(t.critical.gradient),
            pulses: c(t.critical.pulses),
            budget_wait: c(t.critical.budget_wait),
        },
        tiles,
        adc_utilisation: adc,
        write_budget_utilisation: chip
            .write_budget_cells
            .map(|b| t.budget_cell_ps as f64 / (f64::from(b) * total_ps)),
        write_budget_wait_cycles: c(t.budget_wait_ps),
    }
    .with_total(cycles)
}

impl TimingReport {
    /// Puts rounding leftovers of the per-phase cycle counts into `update`,
    /// so the phases add up to the run's cycles exactly.
    fn with_total(mut self, cycles: u64) -> Self {
        let sum: u64 = self.cycles_by_phase.values().sum();
        if let Some(u) = self.cycles_by_phase.get_mut("update") {
            *u += cycles.saturating_sub(sum);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_device::builtin_device;

    fn report(chip_over: &[(&str, &str)], rule: &str, steps: u64, mode: TimeMode) -> String {
        let mut over = aimsim_core::config::overrides(chip_over);
        over.push(("rule.name".into(), format!("\"{rule}\"")));
        let chip = Chip::builtin("eapu-180nm", &over).unwrap();
        let device = builtin_device("eapu-180nm", &[]).unwrap();
        let train = Train::from_overrides(&[
            ("steps".into(), steps.to_string()),
            ("trace_every".into(), "7".into()),
        ])
        .unwrap();
        let out = run_in_mode(
            RunOptions {
                chip: &chip,
                device: &device,
                train: &train,
                seed: 5,
                config_comment: String::new(),
                progress: &mut |_, _| {},
            },
            None,
            mode,
        )
        .unwrap();
        let mut s = serde_json::to_string_pretty(&out.report).unwrap();
        for r in &out.energy_rows {
            s.push_str(&r.line());
        }
        s
    }

    /// The event engine and the naive fixed-step reference agree exactly:
    /// cycles, energies (every component and phase), writes, timing
    /// breakdown and accuracy, for both schedules, with and without a
    /// chip-wide write budget, with a device rule and with `ideal`.
    #[test]
    fn event_engine_matches_fixed_step_reference() {
        let configs: &[(&[(&str, &str)], &str)] = &[
            (&[], "eapu"),
            (&[("engine.schedule", "\"pipelined\"")], "eapu"),
            (
                &[
                    ("engine.write_budget_cells", "40"),
                    ("driver.max_parallel", "16"),
                ],
                "bp",
            ),
            (
                &[
                    ("engine.schedule", "\"pipelined\""),
                    ("engine.write_budget_cells", "24"),
                    ("adc.adcs_per_tile", "3"),
                ],
                "bp",
            ),
            (&[("adc.kind", "\"flash\"")], "ideal"),
            (
                &[
                    ("dac.encoding", "\"bit-serial\""),
                    ("adc.calibration_reads", "4"),
                    ("sense.noise_ua", "0.5"),
                ],
                "eapu",
            ),
            (&[("engine.write_budget_cells", "20")], "stochastic-pulse"),
            (&[("engine.schedule", "\"pipelined\"")], "mixed-precision"),
            (
                &[
                    ("engine.schedule", "\"pipelined\""),
                    ("engine.write_budget_cells", "64"),
                ],
                "write-verify",
            ),
        ];
        for (over, rule) in configs {
            let ev = report(over, rule, 12, TimeMode::Event);
            let fs = report(over, rule, 12, TimeMode::FixedStep);
            assert_eq!(ev, fs, "{over:?} {rule}");
        }
    }
}
