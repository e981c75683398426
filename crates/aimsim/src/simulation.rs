//! [`Simulation`]: a run assembled from a [`RunSpec`], then stepped.

use crate::gpu::{Gpu, GpuReport, DEFAULT_GPU};
use crate::report::*;
use crate::spec::{Resolved, RunSpec};
use crate::{AimsimError, Result};
use aimsim_controller::UpdateRule;
use aimsim_energy::{Component, EnergyLedger, Phase};
use aimsim_engine::{ChipSim, LifetimeRow, TimeMode, VcdProbe};
use aimsim_train::{build_algorithm, evaluate, EnergyRow, Trainer, TrainingAlgorithm, VcdWindow};
use std::io::Write;

/// The most trace rows (energy.csv and lifetime.csv) a run keeps: in memory
/// until the run's end (≈ 220 B each, so 2·10⁶ rows is ≈ 440 MB), or, with
/// [`Simulation::spill_trace_rows`] (the command line), in temporary files
/// of ≈ 150 B a row (docs/reliability.md).
pub const MAX_TRACE_ROWS: u64 = 2_000_000;

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

/// One run: a chip, a training algorithm with its network placed on the
/// chip, the workload's data and the trainer's progress.
///
/// Assembly is apart from execution: [`Simulation::new`] builds everything
/// (and [`Simulation::attach_vcd`] adds a waveform probe) before the first
/// [`Simulation::step`]. [`Simulation::report`] ends training — it runs
/// outstanding writes to completion and evaluates the test set on its own
/// ledger — and returns the report; the simulation cannot be stepped after.
pub struct Simulation {
    spec: RunSpec,
    resolved: Resolved,
    chip: ChipSim,
    algo: Box<dyn TrainingAlgorithm>,
    trainer: Trainer,
    vcd: Option<VcdOptions>,
    report: Option<Report>,
    /// Trace rows in temporary files ([`Simulation::spill_trace_rows`]).
    spilled: Option<crate::output::SpillFiles>,
    inference_ledger: Option<EnergyLedger>,
    restored: Option<Vec<aimsim_train::RestoredImage>>,
    gpu: Gpu,
}

impl Simulation {
    /// Assembles the run `spec` describes, with the chip's own write rule.
    pub fn new(spec: &RunSpec) -> Result<Simulation> {
        let resolved = spec.resolve()?;
        let rule = resolved.chip.build_rule(&resolved.device)?;
        Simulation::assemble(spec, resolved, rule)
    }

    /// Assembles the run with `rule` as the chip's write scheduler instead
    /// of the chip's own (a rule defined outside aimsim). The report names
    /// the rule by [`UpdateRule::name`].
    pub fn with_rule(spec: &RunSpec, rule: Box<dyn UpdateRule>) -> Result<Simulation> {
        let resolved = spec.resolve()?;
        Simulation::assemble(spec, resolved, rule)
    }

    fn assemble(
        spec: &RunSpec,
        resolved: Resolved,
        rule: Box<dyn UpdateRule>,
    ) -> Result<Simulation> {
        // The workload (with its data sets) stays in `resolved`, once.
        let workload = &resolved.workload;
        let mut chip = ChipSim::with_rule(
            resolved.chip.clone(),
            resolved.device.clone(),
            rule,
            spec.seed,
        );
        let algo: Box<dyn TrainingAlgorithm> = build_algorithm(
            &spec.algorithm,
            &mut chip,
            &workload.network,
            &resolved.train,
            spec.seed,
        )
        .expect("validated algorithm name")?;
        let trainer = Trainer::new(&resolved.train, workload.train.len(), spec.seed, None);
        let t = &resolved.train.raw;
        let rows = trainer.total_steps() / t.trace_every.max(1);
        if rows > MAX_TRACE_ROWS {
            return Err(aimsim_core::CoreError::Invalid {
                file: "run spec".into(),
                field: "train.trace_every".into(),
                message: format!(
                    "{} steps with a trace row every {} steps keep {rows:e} rows in memory; expected at most {MAX_TRACE_ROWS:e}: raise trace_every",
                    trainer.total_steps(),
                    t.trace_every
                ),
            }
            .into());
        }
        Ok(Simulation {
            spec: spec.clone(),
            resolved,
            chip,
            algo,
            trainer,
            vcd: None,
            report: None,
            spilled: None,
            inference_ledger: None,
            restored: None,
            gpu: Gpu::builtin(DEFAULT_GPU).expect("the default GPU is built in"),
        })
    }

    /// The GPU the report's `gpu` section compares against (default:
    /// [`DEFAULT_GPU`]); before [`Simulation::report`].
    pub fn set_gpu(&mut self, gpu: Gpu) {
        self.gpu = gpu;
    }

    /// Computes the chip's tile reads on `threads` threads (0: one per
    /// CPU; default 1). Not part of the run's spec: the results are the
    /// same bits for any number ([`ChipSim::set_threads`]).
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        Ok(self.chip.set_threads(threads)?)
    }

    /// Switches the chip to the naive fixed-step reference (for testing the
    /// event engine; before the first step).
    pub fn use_fixed_step_reference(&mut self) {
        self.chip.set_time_mode(TimeMode::FixedStep);
    }

    /// Writes a VCD of the chip's signals to `out` (before the first step).
    /// Its `$comment` holds the run's configuration.
    pub fn attach_vcd(&mut self, out: Box<dyn Write + Send>, opts: &VcdOptions) -> Result<()> {
        if let Some(to) = opts.to_step.filter(|&to| to <= opts.from_step) {
            return Err(aimsim_core::CoreError::Invalid {
                file: "--vcd-to".into(),
                field: "vcd_to".into(),
                message: format!(
                    "the VCD window ends at step {to}, not after its start {}; expected vcd_to > vcd_from",
                    opts.from_step
                ),
            }
            .into());
        }
        let probe = VcdProbe::start_with_analog(
            out,
            self.chip.tile_count(),
            self.algo.phases(),
            &self.config_comment(),
            &opts.select,
            self.algo.analog_signals(),
        )?;
        self.chip.set_probe(Some(Box::new(probe)));
        self.trainer.set_vcd_window(VcdWindow {
            from: opts.from_step,
            to: opts.to_step.unwrap_or(u64::MAX),
        });
        self.vcd = Some(opts.clone());
        Ok(())
    }

    /// The configuration as one JSON line (the VCD's `$comment`).
    /// Other algorithms than backprop add `algorithm` and the phase codes
    /// of `controller.phase` (`phases`: code 1 first); a backprop run's
    /// comment keeps its original keys (the golden traces pin it).
    fn config_comment(&self) -> String {
        let mut c = serde_json::json!({
            "aimsim": env!("CARGO_PKG_VERSION"),
            "seed": self.spec.seed,
            "chip": self.spec.chip,
            "device": self.resolved.device_spec,
            "set": self.spec.override_strings(),
            "rule": self.chip.rule_name(),
            "train": self.resolved.train.raw,
        });
        if self.spec.algorithm != "backprop" {
            c["algorithm"] = self.algo.name().into();
            c["phases"] = self.algo.phases().iter().map(|p| p.key()).collect();
        }
        c.to_string()
    }

    /// Runs up to `n` more training steps; returns the steps run (fewer at
    /// the end of training).
    pub fn step(&mut self, n: u64) -> Result<u64> {
        self.step_with_progress(n, &mut |_, _| {})
    }

    /// [`Simulation::step`], calling `progress(step, total)` after each step.
    pub fn step_with_progress(
        &mut self,
        n: u64,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64> {
        if self.report.is_some() {
            return Err(AimsimError::Usage(
                "the simulation has finished (its report was taken); build a new one".into(),
            ));
        }
        self.on_threads(|s| {
            Ok(s.trainer.step(
                &mut s.chip,
                s.algo.as_mut(),
                &s.resolved.workload.train,
                n,
                progress,
            )?)
        })
    }

    /// Runs `f` with this thread's share of the work done on one of the
    /// chip's pool threads, when it has a pool ([`ChipSim::thread_pool`]):
    /// N threads on N cores rather than N pool threads beside a waiting
    /// caller. The same bits either way.
    fn on_threads<R: Send>(&mut self, f: impl FnOnce(&mut Self) -> R + Send) -> R {
        match self.chip.thread_pool() {
            Some(pool) => pool.install(|| f(self)),
            None => f(self),
        }
    }

    /// Runs every remaining training step.
    pub fn run(&mut self, progress: &mut (dyn FnMut(u64, u64) + Send)) -> Result<()> {
        self.step_with_progress(u64::MAX, progress).map(|_| ())
    }

    /// The chip: its ledger, counters, clock and timing so far.
    pub fn chip(&self) -> &ChipSim {
        &self.chip
    }

    /// Each weight layer's crossbar matrices, in layer order (one per
    /// layer for backprop; more for algorithms that keep several arrays):
    /// with [`ChipSim::matrix_weights`], what a diagnostic reads between
    /// steps.
    pub fn layer_matrices(&self) -> Vec<Vec<aimsim_engine::MatrixId>> {
        self.algo.layer_matrices()
    }

    /// The spec this simulation runs.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// Steps run so far.
    pub fn steps_done(&self) -> u64 {
        self.trainer.steps_done()
    }

    /// Steps the run takes in all.
    pub fn total_steps(&self) -> u64 {
        self.trainer.total_steps()
    }

    /// The phases the algorithm charges energy to, in report order.
    pub fn phases(&self) -> Vec<aimsim_energy::Phase> {
        self.algo.phases().to_vec()
    }

    /// Rows of `energy.csv` so far.
    pub fn energy_rows(&self) -> &[EnergyRow] {
        self.trainer.energy_rows()
    }

    /// Rows of `lifetime.csv` so far.
    pub fn lifetime_rows(&self) -> &[LifetimeRow] {
        self.trainer.lifetime_rows()
    }

    /// The inference ledger, once the report was taken.
    pub fn inference_ledger(&self) -> Option<&EnergyLedger> {
        self.inference_ledger.as_ref()
    }

    /// Ends training (outstanding writes run to completion, the VCD is
    /// closed), evaluates the test set on the chip with its own ledger, and
    /// returns the report. Later calls return the same report.
    pub fn report(&mut self) -> Result<&Report> {
        if self.report.is_none() {
            self.trainer.finish(&mut self.chip)?;
            // Training's time and timing are taken before inference runs.
            let timing = self.chip.timing_report();
            let train_end = self.chip.now();
            let eval = self.on_threads(|s| {
                evaluate(&mut s.chip, s.algo.as_mut(), &s.resolved.workload.test)
            })?;
            let report = self.build_report(timing, train_end, &eval);
            // Bounded inputs keep every energy finite; this is the last
            // guard that a non-finite total never reaches a file.
            let totals = [
                report.energy_pj.total,
                report.inference.energy_pj_per_sample,
            ];
            if totals.iter().any(|t| !t.is_finite()) {
                return Err(aimsim_core::CoreError::Invalid {
                    file: "run".into(),
                    field: "energy_pj.total".into(),
                    message:
                        "the energy total is not finite; the configured energies are too large"
                            .into(),
                }
                .into());
            }
            self.inference_ledger = Some(eval.ledger);
            self.restored = Some(eval.images);
            self.report = Some(report);
        }
        Ok(self.report.as_ref().expect("just built"))
    }

    fn build_report(
        &self,
        timing: aimsim_engine::TimingReport,
        train_end: aimsim_core::SimTime,
        eval: &aimsim_train::Evaluation,
    ) -> Report {
        let chip = &self.chip;
        let cfg = chip.chip();
        let ledger = chip.ledger();
        let steps = self.trainer.steps_done();
        let cells = chip.cells() as u64;
        let weights = chip.weights() as u64;
        let writes = chip.writes();
        let life = chip.lifetime(steps.max(1));
        let mut phases = self.algo.phases().to_vec();
        phases.extend(ledger.phases());
        phases.sort();
        phases.dedup();
        let per_update = |n: u64| {
            if cells == 0 {
                0.0
            } else {
                writes.cell_writes as f64 / (n as f64 * steps.max(1) as f64)
            }
        };
        Report {
            schema: REPORT_SCHEMA.into(),
            seed: self.spec.seed,
            chip: cfg.name.clone(),
            device: chip.device().name.clone(),
            rule: chip.rule_name().into(),
            algorithm: self.algo.name().into(),
            update_unit: cfg.update_unit.kind().name().into(),
            workload: WorkloadReport {
                name: self.resolved.workload.name.clone(),
                steps,
                metric: headline_metric(self.resolved.workload.network.metric, eval),
                metrics: eval.metrics.clone(),
                baseline: eval.baseline.clone(),
                parameters: self.resolved.workload.network.parameters(),
                macs_per_sample: self.resolved.workload.network.macs_per_sample(),
                layers: self.layer_reports(),
            },
            time: TimeReport {
                cycles: cfg.clock.cycles_at(train_end),
                clock_hz: cfg.clock_hz,
                seconds: train_end.seconds(),
                update_cycles: writes.update_cycles,
            },
            energy_pj: EnergyReport {
                total: ledger.total_pj(),
                by_component: Component::ALL
                    .iter()
                    .map(|&c| (c.key().to_string(), ledger.component_pj(c)))
                    .collect(),
                by_phase: phases
                    .iter()
                    .map(|&p| (p.key().to_string(), ledger.phase_pj(p)))
                    .collect(),
                by_tile: ledger
                    .by_tile()
                    .into_iter()
                    .map(|(t, e)| (t.map_or("chip".to_string(), |t| format!("tile{t}")), e))
                    .collect(),
                ops_by_component: Component::ALL
                    .iter()
                    .map(|&c| (c.key().to_string(), ledger.component_count(c)))
                    .collect(),
                update_split: aimsim_engine::UpdateSplit::from_ledger(ledger, Phase::UPDATE),
            },
            inference: eval.inference.clone(),
            writes: WritesReport {
                pulses: writes.pulses,
                cell_writes: writes.cell_writes,
                update_fraction: per_update(cells),
                parameter_update_fraction: per_update(weights),
                max_per_cell: life.pulses_max,
                pulse_phases: writes.phases,
            },
            lifetime: LifetimeReport {
                endurance_pulses_median: chip.endurance_median(),
                failed_cells: life.failed_cells,
                projected_steps_to_first_failure: life.projected_steps_to_first_failure,
            },
            timing,
            algorithm_details: self.algo.details(chip),
            area_mm2: self.area_report(),
            gpu: GpuReport::new(
                &self.gpu,
                &self.resolved.workload.network,
                u64::from(self.resolved.train.raw.batch),
                steps,
                ledger.total_pj(),
            ),
        }
    }

    /// The area of the tiles in use: each a whole tile of the chip's
    /// geometry (cells of every weight position, the periphery it is built
    /// with), whether or not the network fills it.
    fn area_report(&self) -> AreaReport {
        let chip = &self.chip;
        let cfg = chip.chip();
        // Cell columns: two per weight column (G⁺, G⁻) on a differential
        // chip.
        let cells_per_weight = match chip.weights() {
            0 => 2,
            w => (chip.cells() / w).max(1),
        };
        let cols = cfg.tile_cols * cells_per_weight;
        // The cell of the device's technology; a binary MRAM "cell" of the
        // engine is a group of `N` junctions, each a 1T1MTJ cell.
        let device = chip.device();
        let (cell_f2, junctions) = match (&device.mram, &device.fefet) {
            (Some(m), _) => (aimsim_periphery::MRAM_CELL_F2, m.cells_per_weight as usize),
            (None, Some(_)) => (aimsim_periphery::FEFET_CELL_F2, 1),
            (None, None) => (aimsim_periphery::CELL_F2, 1),
        };
        let g = aimsim_periphery::TileGeometry {
            rows: cfg.tile_rows,
            cols,
            cells: cfg.tile_rows * cols * junctions,
            cell_f2,
            dac_bits: cfg.dac.bits(),
            adc_bits: cfg.adc.bits(),
            adcs: cfg.adc.adcs_per_tile(),
            mac_units: cfg.digital.macs_per_cycle(),
            random_bits: cfg.digital.random_bits_per_decision(),
            update_unit_transistors: aimsim_periphery::update_unit_transistors(
                &cfg.update_unit,
                cfg.tile_rows,
                cfg.tile_cols,
            ),
        };
        let mut by_component = aimsim_periphery::tile_area_mm2(&g, chip.tile_count());
        by_component.extend(self.algo.extra_area_mm2());
        AreaReport {
            total: by_component.values().sum(),
            by_component,
            tiles: chip.tile_count() as u64,
        }
    }

    /// The workload's name.
    pub fn workload_name(&self) -> &str {
        &self.resolved.workload.name
    }

    /// Whether the workload's test set is made of whole images that the
    /// report restores ([`Simulation::restored_images`]).
    pub fn has_test_images(&self) -> bool {
        !self.resolved.workload.test.images.is_empty()
    }

    /// The restored test images of an image-restoration workload (after
    /// [`Simulation::report`]; empty otherwise).
    pub fn restored_images(&self) -> &[aimsim_train::RestoredImage] {
        self.restored.as_deref().unwrap_or(&[])
    }

    /// Finishes the run if needed and writes `report.json`, `energy.csv`
    /// and `lifetime.csv` into `dir` ([`crate::write_outputs`]).
    pub fn write_outputs(&mut self, dir: &std::path::Path) -> Result<()> {
        self.write_outputs_inner(dir, false)
    }

    /// [`Simulation::write_outputs`] and the plots ([`crate::PLOT_FILES`]:
    /// energy by component and phase, writes and energy per step, pulses
    /// per cell) in the same result set.
    pub fn write_outputs_with_plots(&mut self, dir: &std::path::Path) -> Result<()> {
        self.write_outputs_inner(dir, true)
    }

    fn write_outputs_inner(&mut self, dir: &std::path::Path, plots: bool) -> Result<()> {
        self.report()?;
        let (energy, life) = match self.spilled.as_mut() {
            Some(files) => files.read().map_err(|source| AimsimError::Io {
                path: "trace rows (temporary files)".into(),
                source,
            })?,
            None => crate::output::trace_csvs(
                self.algo.phases(),
                self.trainer.energy_rows(),
                self.trainer.lifetime_rows(),
            ),
        };
        if !plots {
            return crate::output::write_outputs(
                dir,
                self.report.as_ref().expect("built"),
                &energy,
                &life,
            );
        }
        let report = self.report.as_ref().expect("built");
        let svgs = crate::plots::run_plots(
            report,
            &energy,
            &life,
            self.chip.cells() as u64,
            &self.chip.pulses_per_cell(),
        )
        .map_err(|e| AimsimError::Io {
            path: dir.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        let extra: Vec<(&str, &[u8])> = svgs.iter().map(|(n, s)| (*n, s.as_bytes())).collect();
        crate::output::write_outputs_with(dir, report, &energy, &life, &extra)
    }

    /// Writes trace rows to temporary files as they are recorded instead of
    /// keeping them in memory (before the first step), so a long run's
    /// memory stays flat; [`Simulation::write_outputs`] reads them back.
    /// [`Simulation::energy_rows`] and [`Simulation::lifetime_rows`] are
    /// then empty.
    pub fn spill_trace_rows(&mut self) -> Result<()> {
        let (rows, files) =
            crate::output::SpilledRows::create(self.algo.phases()).map_err(|source| {
                AimsimError::Io {
                    path: "trace rows (temporary files)".into(),
                    source,
                }
            })?;
        self.trainer.set_row_sink(Box::new(rows));
        self.spilled = Some(files);
        Ok(())
    }
}

/// `workload.metric`: the network file's metric (`accuracy`, or PSNR in dB
/// named `psnr_db`, or `ssim`).
impl Simulation {
    /// The network's layers with the tiles of each weight layer's matrices.
    fn layer_reports(&self) -> Vec<LayerReport> {
        let mut matrices = self.algo.layer_matrices().into_iter();
        self.resolved
            .workload
            .network
            .layers
            .iter()
            .map(|l| {
                let matrix = l.matrix();
                let tiles = match matrix {
                    Some(_) => matrices
                        .next()
                        .unwrap_or_default()
                        .into_iter()
                        .flat_map(|m| self.chip.matrix_tiles(m))
                        .collect(),
                    None => Vec::new(),
                };
                let o = l.output;
                LayerReport {
                    kind: l.kind_name().into(),
                    output: if o.is_flat() {
                        vec![o.len()]
                    } else {
                        vec![o.c, o.h, o.w]
                    },
                    matrix: matrix.map(|(r, c)| [r, c]),
                    tiles,
                }
            })
            .collect()
    }
}

fn headline_metric(
    metric: aimsim_workload::Metric,
    eval: &aimsim_train::Evaluation,
) -> MetricReport {
    let key = match metric {
        aimsim_workload::Metric::Accuracy => "accuracy",
        aimsim_workload::Metric::Psnr => "psnr_db",
        aimsim_workload::Metric::Ssim => "ssim",
    };
    MetricReport {
        name: key.into(),
        value: eval.metrics.get(key).copied().unwrap_or(f64::NAN),
    }
}
