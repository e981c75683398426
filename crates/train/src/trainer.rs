//! The trainer loop: epochs over the training set in a shuffled order
//! (stream `train/shuffle` of the seed), one algorithm step (one update)
//! per mini-batch of `train.batch` consecutive samples of that order (a
//! batch may run across an epoch's end; the order is reshuffled there),
//! trace rows every `trace_every` steps, and the VCD window. The trainer
//! is resumable: [`Trainer::step`] runs `n` more steps.

use crate::rows::EnergyRow;
use crate::{Batch, Result, Train, TrainingAlgorithm};
use aimsim_core::{stream, Rng};
use aimsim_engine::{ChipSim, LifetimeRow, Probe};
use aimsim_workload::Dataset;
use rand::seq::SliceRandom;

/// The steps whose events a probe sees: `from..to` (others are not dumped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcdWindow {
    /// First step observed (inclusive).
    pub from: u64,
    /// Step at which observation stops (exclusive).
    pub to: u64,
}

/// Where trace rows go instead of memory (e.g. files, so a long run's
/// memory stays flat).
pub trait RowSink: Send {
    /// Takes the rows recorded after a step.
    fn rows(&mut self, energy: &EnergyRow, lifetime: &LifetimeRow) -> Result<()>;
}

/// The state of a training run over one data set.
pub struct Trainer {
    order: Vec<usize>,
    shuffle: Rng,
    pos: usize,
    step: u64,
    total: u64,
    trace_every: u64,
    window: Option<VcdWindow>,
    parked: Option<Box<dyn Probe>>,
    energy_rows: Vec<EnergyRow>,
    lifetime_rows: Vec<LifetimeRow>,
    sink: Option<Box<dyn RowSink>>,
    batch: usize,
    inputs: Vec<f32>,
    labels: Vec<u8>,
    targets: Vec<f32>,
}

impl Trainer {
    /// A trainer for `train`'s epochs and steps over `n_train` samples;
    /// shuffles derive from `seed`. With `window`, the chip's probe sees
    /// only those steps.
    pub fn new(train: &Train, n_train: usize, seed: u64, window: Option<VcdWindow>) -> Trainer {
        Trainer {
            order: (0..n_train).collect(),
            shuffle: stream(seed, "train/shuffle"),
            pos: 0,
            step: 0,
            total: train.total_steps(n_train),

            trace_every: train.raw.trace_every,
            window,
            parked: None,
            energy_rows: Vec::new(),
            lifetime_rows: Vec::new(),
            sink: None,
            batch: train.raw.batch as usize,
            inputs: Vec::new(),
            labels: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Observes only the steps of `window` with the chip's probe.
    pub fn set_vcd_window(&mut self, window: VcdWindow) {
        self.window = Some(window);
    }

    /// Sends trace rows to `sink` from now on instead of keeping them
    /// ([`Trainer::energy_rows`] then holds only rows recorded before).
    pub fn set_row_sink(&mut self, sink: Box<dyn RowSink>) {
        self.sink = Some(sink);
    }

    /// Steps done.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Steps the run will take in all.
    pub fn total_steps(&self) -> u64 {
        self.total
    }

    /// Whether every step has run.
    pub fn is_done(&self) -> bool {
        self.step >= self.total
    }

    /// Rows of `energy.csv` so far.
    pub fn energy_rows(&self) -> &[EnergyRow] {
        &self.energy_rows
    }

    /// Rows of `lifetime.csv` so far.
    pub fn lifetime_rows(&self) -> &[LifetimeRow] {
        &self.lifetime_rows
    }

    /// Runs up to `n` more steps of `algo` on `chip` over `data`; calls
    /// `progress(step, total)` after each. Returns the steps run.
    pub fn step(
        &mut self,
        chip: &mut ChipSim,
        algo: &mut dyn TrainingAlgorithm,
        data: &Dataset,
        n: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        let phases = algo.phases().to_vec();
        let mut ran = 0;
        while ran < n && self.step < self.total {
            self.inputs.clear();
            self.labels.clear();
            self.targets.clear();
            for _ in 0..self.batch {
                if self.pos == 0 {
                    self.order.shuffle(&mut self.shuffle);
                }
                let i = self.order[self.pos];
                self.pos = (self.pos + 1) % self.order.len();
                self.inputs.extend_from_slice(data.input(i));
                if !data.labels.is_empty() {
                    self.labels.push(data.labels[i]);
                }
                if data.target_dim > 0 {
                    self.targets.extend_from_slice(data.target(i));
                }
            }
            if let Some(w) = self.window {
                // Outside the window the probe is parked, so nothing is dumped.
                let inside = (w.from..w.to).contains(&self.step);
                let attached = chip.probe_mut().is_some();
                if inside && !attached {
                    chip.set_probe(self.parked.take());
                } else if !inside && attached {
                    self.parked = chip.set_probe(None);
                }
            }
            let now = chip.now();
            if let Some(p) = chip.probe_mut() {
                p.step_begin(now, self.step)?;
            }
            let batch = Batch {
                samples: self.batch,
                inputs: &self.inputs,
                labels: &self.labels,
                targets: &self.targets,
            };
            algo.step(chip, batch)?;
            chip.sync_time();
            self.step += 1;
            ran += 1;
            if chip.probe_mut().is_some() {
                // The total sums the whole ledger: only for a probe.
                let (now, total_pj, writes) = (
                    chip.now(),
                    chip.ledger().total_pj(),
                    chip.writes().cell_writes,
                );
                if let Some(p) = chip.probe_mut() {
                    p.step_end(now, total_pj, writes)?;
                }
            }
            if self.step.is_multiple_of(self.trace_every) || self.step == self.total {
                let energy = EnergyRow::from_ledger(self.step, chip.ledger(), &phases);
                let lifetime = chip.lifetime(self.step);
                match self.sink.as_mut() {
                    Some(s) => s.rows(&energy, &lifetime)?,
                    None => {
                        self.energy_rows.push(energy);
                        self.lifetime_rows.push(lifetime);
                    }
                }
            }
            progress(self.step, self.total);
        }
        Ok(ran)
    }

    /// Ends training: runs the chip's outstanding writes to completion and
    /// closes the probe (attached or parked) at the end time.
    pub fn finish(&mut self, chip: &mut ChipSim) -> Result<()> {
        chip.finish_pending()?;
        let end = chip.now();
        if let Some(p) = chip.set_probe(None).or(self.parked.take()) {
            p.finish(end)?;
        }
        Ok(())
    }
}
