//! `ChipSim`: the chip as an owned simulation object with hardware
//! primitives on weight matrices.

use crate::budget::WriteBudget;
use crate::chip::Chip;
use crate::forming::{
    charge_sampled, form_and_decide, pointwise_decision, sample_tile, sparse_eapu, Decided,
    FormCounts, FormInput, SparseScratch, SparseWork, UpdateScratch,
};
use crate::probe::Probe;
use crate::queue::{Event, EventKind, EventQueue, TileOp};
use crate::reference::Fsm;
use crate::stats::{Breakdown, TimingStats, WriteStats};
use crate::tile::{PhaseSpan, Placement, Tile};
use crate::{EngineError, Result};
use aimsim_controller::{
    PlannedWrite, RankPFactors, RequestTerms, TileBlock, UpdateRequest, UpdateRule,
};
use aimsim_core::magnitude::max_abs;
use aimsim_core::SimTime;
use aimsim_device::{CellArray, DeviceModel};
use aimsim_energy::{Component, EnergyLedger, Phase};
use std::sync::Arc;

/// How stages are sequenced (`chip.engine.schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Each stage starts when the previous one has finished on every tile;
    /// an update returns when its writes are done.
    Sequential,
    /// An update returns with its writes in flight, so the next reads are
    /// issued while they run; each tile still executes its operations in
    /// program order, so a read waits for its own tile's writes and the
    /// arithmetic is identical to the sequential schedule — only time
    /// differs.
    Pipelined,
}

/// How simulated time advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMode {
    /// Jump from event to event (the engine).
    Event,
    /// Advance one clock cycle at a time, stepping each tile's state
    /// machine: the naive reference the event engine is tested against.
    FixedStep,
}

/// A weight matrix placed on the chip ([`ChipSim::place`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatrixId(usize);

impl MatrixId {
    /// Its index in placement order.
    pub fn index(self) -> usize {
        self.0
    }
}

struct Matrix {
    rows: usize,
    cols: usize,
    tiles: Vec<usize>,
    /// Weight units per stored unit ([`ChipSim::place_scaled`]): the cells
    /// hold `W/gain`, reads are scaled back by `gain`; 1 for
    /// [`ChipSim::place`] and for a rule without a device.
    gain: f32,
}

/// The update asked of one placed matrix: a dense `ΔW` or rank-P factor
/// pairs `(x, δ)` with a scale, in weight units (the chip converts to
/// conductance with its device's `r_wg`).
#[derive(Clone, Copy, Debug)]
pub struct MatrixUpdate<'a> {
    /// The matrix.
    pub matrix: MatrixId,
    /// What to change.
    pub request: UpdateRequest<'a>,
}

/// The most threads [`ChipSim::set_threads`] starts. More than the cores
/// gains nothing (the work is split by tile), and far more than this
/// reaches the process's limits: each thread reserves 8 MiB of stack and
/// a few memory maps, and a thread that cannot set up its stack guard
/// aborts the process instead of returning an error (about 16,000
/// threads on a Linux default of 65,530 maps).
pub const MAX_THREADS: usize = 1024;

/// The chip: tiles (crossbar arrays with their periphery), the on-chip
/// write scheduler (the update rule), the event queue, the chip-wide
/// write-current budget, the controller's phase clock, the energy ledger
/// and an optional probe. It knows nothing of neural networks: a training
/// algorithm places weight matrices and drives the primitives
/// ([`ChipSim::mvm`], [`ChipSim::mvm_transposed`],
/// [`ChipSim::mvm_batch`], [`ChipSim::update`], [`ChipSim::run_until`]).
///
/// Every primitive charges its energy to the ledger under the controller's
/// current phase ([`ChipSim::enter_phase`]); time advances by events (or
/// cycle by cycle in [`TimeMode::FixedStep`]).
pub struct ChipSim {
    chip: Chip,
    model: DeviceModel,
    rule: Box<dyn UpdateRule>,
    seed: u64,
    pub(crate) tiles: Vec<Tile>,
    matrices: Vec<Matrix>,
    queue: EventQueue,
    pub(crate) budget: WriteBudget,
    now: SimTime,
    mode: TimeMode,
    reads_pending: usize,
    writes_pending: usize,
    /// Breakdown of the operation that finished last.
    last_done: Breakdown,
    /// The reads run back to back: (end, tile id, tile index), reused.
    read_ends: Vec<(SimTime, u32, usize)>,
    /// Working memory of [`ChipSim::writes_back_to_back`]: each write
    /// operation's (end, tile id, tile index, cells of its last phase).
    write_ends: Vec<(SimTime, u32, usize, u32)>,
    /// Tests: run every write operation through the event queue.
    #[cfg(test)]
    queued_writes: bool,
    /// Tests: keep waiting dense writes as a list, not by weight.
    #[cfg(test)]
    listed_writes: bool,
    /// Tests: the tiles and weights of a part planned before its writes
    /// run ([`ChipSim::dense_batch`]), in place of the engine's.
    #[cfg(test)]
    batch_override: Option<(usize, usize)>,
    update_issued: SimTime,
    ctrl_phase: Phase,
    ctrl_since: SimTime,
    pub(crate) timing: TimingStats,
    /// Events processed (event mode), counting the ADC batches that end
    /// no read as processed at their read's start (they are not queued).
    events: u64,
    ledger: EnergyLedger,
    writes: WriteStats,
    probe: Option<Box<dyn Probe>>,
    /// Worker threads for the tiles' read arithmetic (`None`: this thread).
    pool: Option<crate::pool::Pool>,
    /// `max|x|` and `1 / max|x|` (0 for a zero vector) of each input
    /// vector of the MVMs being computed ahead.
    scales: Vec<f32>,
    inv_scales: Vec<f32>,
    /// Buffers of `update`, shared by the tiles.
    update_scratch: UpdateScratch,
    /// Each tile's sparse EaPU work when tiles draw in parallel (by
    /// position in the matrix).
    tile_work: Vec<SparseWork>,
    /// One working memory per pool thread for the sampled EaPU work.
    sparse_scratch: Vec<std::sync::Mutex<SparseScratch>>,
    /// Phase buffers of tiles whose dense writes ran as soon as they were
    /// planned (`write_dense_now`), for the next such tiles: about a
    /// batch's worth (`dense_batch`), instead of a full buffer per tile.
    spare_phases: Vec<(Vec<PlannedWrite>, std::collections::VecDeque<PhaseSpan>)>,
    /// Which tiles of the part of a matrix being planned by the sampled
    /// EaPU path start their writes as soon as they are planned.
    start_now: Vec<bool>,
    /// One working memory per pool thread (one without a pool) for the
    /// reads computed ahead.
    ahead_scratch: Vec<std::sync::Mutex<crate::tile::AheadScratch>>,
    /// The factors of a rank-P EaPU request, laid out once per matrix for
    /// its tiles' sampling.
    rank_p: RankPFactors,
    /// The line voltages of a read computed at its event (`read::compute`:
    /// one buffer for all tiles, where each tile kept its own).
    read_v: Vec<f32>,
}

impl ChipSim {
    /// A chip with nothing placed on it, running the chip's own write rule
    /// (`chip.rule`) built for `device`. Random streams derive from `seed`.
    pub fn new(chip: Chip, device: DeviceModel, seed: u64) -> Result<ChipSim> {
        let rule = chip.build_rule(&device)?;
        Ok(ChipSim::with_rule(chip, device, rule, seed))
    }

    /// A chip running `rule` as its write scheduler (a rule defined outside
    /// aimsim, or one built with other parameters).
    pub fn with_rule(
        chip: Chip,
        device: DeviceModel,
        rule: Box<dyn UpdateRule>,
        seed: u64,
    ) -> ChipSim {
        let budget = WriteBudget::new(chip.write_budget_cells);
        ChipSim {
            chip,
            model: device,
            rule,
            seed,
            tiles: Vec::new(),
            matrices: Vec::new(),
            queue: EventQueue::default(),
            budget,
            now: SimTime::ZERO,
            mode: TimeMode::Event,
            reads_pending: 0,
            writes_pending: 0,
            last_done: Breakdown::default(),
            read_ends: Vec::new(),
            write_ends: Vec::new(),
            #[cfg(test)]
            queued_writes: false,
            #[cfg(test)]
            listed_writes: false,
            #[cfg(test)]
            batch_override: None,
            update_issued: SimTime::ZERO,
            ctrl_phase: Phase::FORWARD,
            ctrl_since: SimTime::ZERO,
            timing: TimingStats::default(),
            events: 0,
            ledger: EnergyLedger::new(),
            writes: WriteStats::default(),
            probe: None,
            pool: None,
            scales: Vec::new(),
            inv_scales: Vec::new(),
            update_scratch: UpdateScratch::default(),
            tile_work: Vec::new(),
            sparse_scratch: Vec::new(),
            ahead_scratch: Vec::new(),
            spare_phases: Vec::new(),
            start_now: Vec::new(),
            rank_p: RankPFactors::default(),
            read_v: Vec::new(),
        }
    }

    /// Computes the tiles' read arithmetic, and the sampled decisions and
    /// write plans of rank-1 EaPU updates, on `threads` threads (0: one
    /// per CPU; default 1, this thread). Results are the same bits for any
    /// number: each tile draws only from its own random streams, and the
    /// ledger, the event queue and the update's counts stay on the
    /// calling thread in a fixed order (the partial sums of a batch read
    /// ahead add each output's tiles in a fixed order, vectors on the
    /// pool). Run the loop of operations inside
    /// [`ChipSim::thread_pool`] to use N cores with N threads.
    ///
    /// # Errors
    /// [`EngineError::TooManyThreads`] for more than [`MAX_THREADS`]
    /// threads (0 starts one per CPU, at most that many);
    /// [`EngineError::Threads`] if the pool cannot start.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        if threads > MAX_THREADS {
            return Err(EngineError::TooManyThreads {
                threads,
                max: MAX_THREADS,
            });
        }
        let n = if threads == 0 {
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(MAX_THREADS)
        } else {
            threads
        };
        self.pool = if n <= 1 {
            None
        } else {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("aimsim-tile-{i}"))
                // The caller's own work may run on these threads
                // (`ChipSim::thread_pool`): the main thread's stack size.
                .stack_size(8 << 20)
                .build()
                .map_err(|e| EngineError::Threads {
                    threads: n,
                    reason: e.to_string(),
                })?;
            Some(crate::pool::Pool::new(pool))
        };
        Ok(())
    }

    /// Threads computing the tiles' reads and sampled updates (1: the
    /// calling thread).
    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// The chip's thread pool, if it has one (`set_threads` above 1).
    ///
    /// A caller that runs its whole loop of operations inside
    /// `pool.install(..)` makes its own thread one of the pool's: the
    /// chip's dispatches then run in place on that thread, which takes its
    /// share of the tiles, and N threads work on N cores. Called from
    /// outside, each dispatch wakes the pool's N threads while the calling
    /// thread waits: N + 1 threads, whose idle ones spin and yield for the
    /// cores the calling thread's serial work needs. The bits are the same
    /// either way.
    pub fn thread_pool(&self) -> Option<Arc<rayon::ThreadPool>> {
        self.pool.as_ref().map(|p| Arc::clone(p.rayon()))
    }

    /// Runs `f` on `data` split into consecutive chunks, in parallel on
    /// the chip's thread pool when it has one and `data` holds at least
    /// `PAR_MIN` values (else on this thread, in one call): for the
    /// caller's element-wise arithmetic (a layer's activation over a
    /// batch), whose bits do not depend on how it is split. Free of cost
    /// and randomness.
    pub fn par_chunks(&self, data: &mut [f32], f: impl Fn(&mut [f32]) + Sync) {
        /// Below this many values a pool dispatch costs more than it saves.
        const PAR_MIN: usize = 1024;
        match self.pool.as_ref() {
            Some(pool) if data.len() >= PAR_MIN => {
                let n = pool.current_num_threads();
                let chunk = data.len().div_ceil(n);
                pool.install(|| {
                    use rayon::prelude::*;
                    data.par_chunks_mut(chunk).for_each(&f);
                });
            }
            _ => f(data),
        }
    }

    /// Switches to the fixed-step reference (before anything runs).
    pub fn set_time_mode(&mut self, mode: TimeMode) {
        self.mode = mode;
    }

    /// Places a `rows × cols` weight matrix (row-major: row = input line,
    /// column = output) on new tiles of at most the chip's array size, in
    /// row-major tile order, and programs the weights (on the cells, or as
    /// digital weights when the rule uses no device).
    pub fn place(&mut self, rows: usize, cols: usize, weights: &[f32]) -> MatrixId {
        self.place_scaled(rows, cols, weights, 1.0)
    }

    /// [`ChipSim::place`] with a per-matrix weight-to-conductance gain: the
    /// cells hold `W/gain` (so `ΔG = ΔW · r_wg / gain` per weight), the
    /// digital periphery multiplies every read of the matrix by `gain` when
    /// it rescales the ADC codes (no extra operation), and an update's `ΔW`
    /// is divided by `gain` when the gradient unit forms `ΔG`. A gain below
    /// 1 spreads a layer of small weights over more of the conductance
    /// window, so the device's write noise, the write rule's threshold and
    /// the ADC step are smaller in weight units. Without a device (a
    /// digital rule such as `ideal`) there is no conductance to map to and
    /// the gain is ignored (1).
    ///
    /// # Panics
    /// If `gain` is not positive and finite (a caller invariant).
    pub fn place_scaled(
        &mut self,
        rows: usize,
        cols: usize,
        weights: &[f32],
        gain: f32,
    ) -> MatrixId {
        assert_eq!(weights.len(), rows * cols, "weights must be rows × cols");
        assert!(gain > 0.0 && gain.is_finite(), "gain must be positive");
        let m = self.matrices.len();
        let device = self.rule.uses_device().then_some(&self.model);
        let gain = if device.is_some() { gain } else { 1.0 };
        // Exactly as many tiles more (a tile is about 1.5 KB: a doubled
        // capacity would hold up to half of them again, unused).
        let n_tiles = rows.div_ceil(self.chip.tile_rows) * cols.div_ceil(self.chip.tile_cols);
        self.tiles.reserve_exact(n_tiles);
        let mut ids = Vec::with_capacity(n_tiles);
        for row0 in (0..rows).step_by(self.chip.tile_rows) {
            for col0 in (0..cols).step_by(self.chip.tile_cols) {
                let id = self.tiles.len() as u32;
                let tr = self.chip.tile_rows.min(rows - row0);
                let tc = self.chip.tile_cols.min(cols - col0);
                let tw: Vec<f32> = (0..tr)
                    .flat_map(|r| {
                        let base = (row0 + r) * cols + col0;
                        weights[base..base + tc].iter().map(move |&w| w / gain)
                    })
                    .collect();
                let p = Placement {
                    id,
                    matrix: m,
                    row0,
                    col0,
                    rows: tr,
                    cols: tc,
                };
                self.tiles.push(Tile::new(p, tw, device, self.seed));
                ids.push(id as usize);
            }
        }
        tracing::debug!(matrix = m, tiles = ids.len(), "matrix placed");
        self.matrices.push(Matrix {
            rows,
            cols,
            tiles: ids,
            gain,
        });
        MatrixId(m)
    }

    /// The chip.
    pub fn chip(&self) -> &Chip {
        &self.chip
    }

    /// The device model.
    pub fn device(&self) -> &DeviceModel {
        &self.model
    }

    /// The write rule's name.
    pub fn rule_name(&self) -> &str {
        self.rule.name()
    }

    /// Whether weights live on device cells (false for a digital rule).
    pub fn uses_device(&self) -> bool {
        self.rule.uses_device()
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events processed so far. A read's ADC batches before its last one
    /// count as events (at the read's start) though they are not queued:
    /// they change nothing.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The energy ledger.
    pub fn ledger(&self) -> &EnergyLedger {
        &self.ledger
    }

    /// Replaces the ledger with `ledger` and returns the old one: charges
    /// from now on go to the new ledger (e.g. inference after training).
    pub fn swap_ledger(&mut self, ledger: EnergyLedger) -> EnergyLedger {
        std::mem::replace(&mut self.ledger, ledger)
    }

    /// Write counters.
    pub fn writes(&self) -> WriteStats {
        self.writes
    }

    /// Cells of the chip (two per mapped weight), 0 without a device.
    pub fn cells(&self) -> usize {
        self.tiles
            .iter()
            .filter_map(|t| t.cells.as_ref())
            .map(CellArray::cells)
            .sum()
    }

    /// Weights mapped onto tiles.
    pub fn weights(&self) -> usize {
        self.tiles.iter().map(|t| t.rows * t.cols).sum()
    }

    /// Tiles in use.
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// The tiles a placed matrix occupies, in row-major tile order.
    pub fn matrix_tiles(&self, m: MatrixId) -> Vec<u32> {
        self.matrices[m.0].tiles.iter().map(|&t| t as u32).collect()
    }

    /// `(rows, cols)` of a placed matrix.
    pub fn matrix_shape(&self, m: MatrixId) -> (usize, usize) {
        let mx = &self.matrices[m.0];
        (mx.rows, mx.cols)
    }

    /// The weights a placed matrix holds now (`rows × cols`, row-major):
    /// `gain · (G⁺ − G⁻)/r_wg` of its cells (ignoring relaxation since the
    /// last read), or the digital weights without a device. A simulator
    /// inspection for validation (e.g. the exact gradient at the chip's
    /// weights): no energy, no time, no random draw.
    pub fn matrix_weights(&self, m: MatrixId) -> Vec<f32> {
        let mx = &self.matrices[m.0];
        let mut w = vec![0.0; mx.rows * mx.cols];
        let mut block = Vec::new();
        for &ti in &mx.tiles {
            let t = &self.tiles[ti];
            match t.cells.as_ref() {
                Some(c) => {
                    block.resize(t.rows * t.cols, 0.0);
                    c.weights_into(&self.model, &mut block);
                }
                None => block.clone_from(&t.weights),
            }
            for r in 0..t.rows {
                let dst = (t.row0 + r) * mx.cols + t.col0;
                w[dst..dst + t.cols].copy_from_slice(&block[r * t.cols..(r + 1) * t.cols]);
            }
        }
        if mx.gain != 1.0 {
            w.iter_mut().for_each(|v| *v *= mx.gain);
        }
        w
    }

    /// The controller's current phase.
    pub fn phase(&self) -> Phase {
        self.ctrl_phase
    }

    /// Attaches an observer of the chip's signals (VCD, counters).
    pub fn set_probe(&mut self, probe: Option<Box<dyn Probe>>) -> Option<Box<dyn Probe>> {
        std::mem::replace(&mut self.probe, probe)
    }

    /// The attached probe, if any.
    pub fn probe_mut(&mut self) -> Option<&mut (dyn Probe + 'static)> {
        self.probe.as_deref_mut()
    }

    /// Shows `value` on the algorithm's analog signal `index` of the
    /// attached probe, now (no energy, no time: an observation).
    pub fn probe_analog(&mut self, index: usize, value: f64) -> Result<()> {
        if let Some(p) = self.probe.as_mut() {
            p.analog(self.now, index, value)?;
        }
        Ok(())
    }

    /// The controller enters `phase`: the time since the last switch is
    /// attributed to the phase being left, and so is its static energy.
    /// Energies of operations issued from now on are charged to `phase`.
    pub fn enter_phase(&mut self, phase: Phase) -> Result<()> {
        self.sync_time();
        self.ctrl_phase = phase;
        if let Some(p) = self.probe.as_mut() {
            p.phase(self.now, phase)?;
        }
        Ok(())
    }

    /// Charges the static energy and phase time elapsed up to now, so that
    /// the ledger is complete at this instant.
    pub fn sync_time(&mut self) {
        let dt_ps = self.now.ps() - self.ctrl_since.ps();
        let old = self.ctrl_phase;
        *self.timing.phase_ps.entry(old).or_insert(0) += dt_ps;
        if dt_ps > 0 {
            self.ledger.add(
                Component::Static,
                "leakage",
                old,
                None,
                1,
                self.chip.static_power_w * dt_ps as f64,
            );
        }
        self.ctrl_since = self.now;
    }

    /// Charges `count` operations of the digital periphery at `pj_each` to
    /// the current phase (an algorithm's own digital work: activations,
    /// losses, optimiser arithmetic).
    pub fn charge_digital(&mut self, operation: &'static str, count: u64, pj_each: f64) {
        self.ledger.add(
            Component::Digital,
            operation,
            self.ctrl_phase,
            None,
            count,
            count as f64 * pj_each,
        );
    }

    /// Forward MVM: adds `Σ_i x_i W_ij` to `y[j]` (`x`: one value per
    /// matrix row, `y`: one per column), so a caller can start `y` from a
    /// bias. The digital periphery scales `x` into the DAC range by its
    /// largest magnitude and the outputs back, and accumulates the tiles'
    /// partial sums; each tile of the matrix reads concurrently.
    pub fn mvm(&mut self, m: MatrixId, x: &[f32], y: &mut [f32]) -> Result<()> {
        let (rows, cols) = self.matrix_shape(m);
        assert_eq!(x.len(), rows, "MVM input length");
        assert_eq!(y.len(), cols, "MVM output length");
        self.mvm_vectors(m, false, x, y)
    }

    /// Transposed MVM: adds `Σ_j W_ij d_j` to `out[i]` (`d`: one value per
    /// matrix column, `out`: one per row).
    pub fn mvm_transposed(&mut self, m: MatrixId, d: &[f32], out: &mut [f32]) -> Result<()> {
        let (rows, cols) = self.matrix_shape(m);
        assert_eq!(d.len(), cols, "MVM input length");
        assert_eq!(out.len(), rows, "MVM output length");
        self.mvm_vectors(m, true, d, out)
    }

    /// Forward MVMs of `n = xs.len() / rows` input vectors against one
    /// matrix (convolutions, mini-batches), each adding into its slice of
    /// `ys` (`n × cols`). The reads run one vector after another on every
    /// tile of the matrix, events per MVM; their arithmetic is done ahead,
    /// tile by tile (in parallel over tiles, see [`ChipSim::set_threads`]),
    /// as one pass over each tile's cells per block of rows.
    pub fn mvm_batch(&mut self, m: MatrixId, xs: &[f32], ys: &mut [f32]) -> Result<()> {
        let (rows, cols) = self.matrix_shape(m);
        assert_eq!(xs.len() % rows, 0, "inputs must be n × rows");
        assert_eq!(ys.len(), xs.len() / rows * cols, "outputs must be n × cols");
        self.mvm_vectors(m, false, xs, ys)
    }

    /// Transposed MVMs of `n = ds.len() / cols` vectors (a mini-batch's
    /// backward pass), each adding into its slice of `outs` (`n × rows`),
    /// as [`ChipSim::mvm_batch`] does forward.
    pub fn mvm_transposed_batch(
        &mut self,
        m: MatrixId,
        ds: &[f32],
        outs: &mut [f32],
    ) -> Result<()> {
        let (rows, cols) = self.matrix_shape(m);
        assert_eq!(ds.len() % cols, 0, "inputs must be n × cols");
        assert_eq!(
            outs.len(),
            ds.len() / cols * rows,
            "outputs must be n × rows"
        );
        self.mvm_vectors(m, true, ds, outs)
    }

    /// MVMs of every `n_in`-vector of `input` in turn, adding into the
    /// matching `n_out`-slices of `output`.
    fn mvm_vectors(
        &mut self,
        m: MatrixId,
        transposed: bool,
        input: &[f32],
        output: &mut [f32],
    ) -> Result<()> {
        let (rows, cols) = self.matrix_shape(m);
        let (n_in, n_out) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let ahead = self.compute_ahead(m, transposed, input, n_in);
        for (x, y) in input.chunks_exact(n_in).zip(output.chunks_exact_mut(n_out)) {
            if let Err(e) = self.mvm_directed(m, transposed, x, y, ahead) {
                for &ti in &self.matrices[m.0].tiles {
                    self.tiles[ti].drop_ahead();
                }
                return Err(e);
            }
        }
        if ahead {
            self.accumulate_ahead(m, transposed, output);
        }
        Ok(())
    }

    /// The digital partial-sum accumulation of MVMs whose reads were all
    /// computed ahead ([`ChipSim::compute_ahead`]), after their events:
    /// each vector's outputs are the sums over the tiles, in tile order,
    /// of the tile's outputs times the vector's unit, as
    /// [`ChipSim::mvm_directed`] adds them read by read — the same
    /// additions in the same order, so the same bits — with the vectors
    /// on the pool. (Their energy was charged with each read.)
    fn accumulate_ahead(&self, m: MatrixId, transposed: bool, output: &mut [f32]) {
        let mx = &self.matrices[m.0];
        let n_out = if transposed { mx.rows } else { mx.cols };
        let device = self.rule.uses_device();
        let per_unit = self.chip.dac.read_voltage_v() as f32 * self.model.r_wg_us;
        let (tiles, ids, gain, scales) = (&self.tiles, &mx.tiles, mx.gain, &self.scales);
        // Vector `b`'s outputs; its `max|x|` as `compute_ahead` found it.
        let work = |(b, y): (usize, &mut [f32])| {
            let unit = if device {
                scales[b] * gain / per_unit
            } else {
                1.0
            };
            for &ti in ids {
                let tile = &tiles[ti];
                let (dst, lines) = if transposed {
                    (&mut y[tile.row0..tile.row0 + tile.rows], tile.rows)
                } else {
                    (&mut y[tile.col0..tile.col0 + tile.cols], tile.cols)
                };
                for (o, &v) in dst.iter_mut().zip(tile.ahead_output(b, lines)) {
                    *o += v * unit;
                }
            }
        };
        match &self.pool {
            Some(pool) if output.len() > n_out => pool.install(|| {
                use rayon::prelude::*;
                output
                    .par_chunks_exact_mut(n_out)
                    .enumerate()
                    .for_each(work);
            }),
            _ => output.chunks_exact_mut(n_out).enumerate().for_each(work),
        }
    }

    /// Computes the read arithmetic of the MVMs of `input` on every tile of
    /// `m` ahead of their events, tiles in parallel; returns whether it
    /// did. It may only when the results cannot depend on when the reads
    /// run: every tile of `m` idle (no write in flight or queued before
    /// them), cells that do not change when read (binary STT-MRAM
    /// junctions' read disturb), and cells that relax with time only for
    /// one vector, whose read starts on every (idle) tile now — the time
    /// the tile's cells are brought to ahead — where a batch's later reads
    /// start later.
    fn compute_ahead(&mut self, m: MatrixId, transposed: bool, input: &[f32], n_in: usize) -> bool {
        let device = self.rule.uses_device();
        // Binary junctions may be disturbed by each read, changing the
        // next one; relaxing cells depend on the time of each read.
        if device && (self.model.is_binary() || (self.model.relaxes() && input.len() > n_in)) {
            return false;
        }
        let ids = &self.matrices[m.0].tiles;
        let first = ids[0];
        let range = first..first + ids.len();
        debug_assert!(ids.iter().enumerate().all(|(i, &t)| t == first + i));
        if self.tiles[range.clone()]
            .iter()
            .any(|t| t.reserved || !t.ahead.is_empty())
        {
            return false;
        }
        self.inv_scales.clear();
        self.scales.clear();
        for x in input.chunks_exact(n_in) {
            let scale = max_abs(x);
            self.scales.push(scale);
            self.inv_scales
                .push(if scale > 0.0 { 1.0 / scale } else { 0.0 });
        }
        let (chip, model, now, inv) = (&self.chip, &self.model, self.now, &self.inv_scales[..]);
        // With a pool, each tile charges its reads there too (into its
        // `read_log`, against the ledger as it is now), and the runs are
        // applied below, before anything else can charge: a tile's read
        // keys are its own, charged only by these reads, so the tallies
        // are the bits of charging at each read's start. (Should an error
        // stop the reads part way, `mvm_vectors` drops the reads not run,
        // but their energy stays charged: the run ends in that error.)
        let charges = self
            .pool
            .is_some()
            .then_some((&self.ledger, self.ctrl_phase));
        let threads = self.pool.as_ref().map_or(1, |p| p.current_num_threads());
        if self.ahead_scratch.len() < threads {
            self.ahead_scratch.resize_with(threads, Default::default);
        }
        let scratches = &self.ahead_scratch;
        // Each thread's own working memory (index 0 without a pool), taken
        // out while the tile computes and put back after: a relaxing
        // array's pass runs in parallel itself, and while this thread
        // waits there it may take another tile's task, which then finds
        // the place empty and works in new memory (nothing is read before
        // it is written) instead of waiting for a lock this thread holds.
        let work = |t: &mut Tile, thread: usize| {
            let slot = &scratches[thread];
            let mut s = std::mem::take(&mut *slot.lock().expect("never poisoned"));
            t.compute_ahead(
                chip, model, transposed, now, input, n_in, inv, device, charges, &mut s,
            );
            *slot.lock().expect("never poisoned") = s;
        };
        let tiles = &mut self.tiles[range.clone()];
        match &self.pool {
            Some(pool) => pool.for_each(tiles, |t| {
                work(t, rayon::current_thread_index().unwrap_or(0))
            }),
            None => tiles.iter_mut().for_each(|t| work(t, 0)),
        }
        if charges.is_some() {
            for t in &mut self.tiles[range] {
                self.ledger.apply_run(&mut t.read_log.run);
            }
        }
        true
    }

    fn mvm_directed(
        &mut self,
        m: MatrixId,
        transposed: bool,
        input: &[f32],
        output: &mut [f32],
        ahead: bool,
    ) -> Result<()> {
        let n_in = input.len();
        let n_out = output.len();
        let add_pj = self.chip.digital.add_pj();
        // (Reads computed ahead took each vector's `max|x|` there.)
        let scale = if ahead { 0.0 } else { max_abs(input) };
        self.charge_digital("normalise", n_in as u64, add_pj);
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        let device = self.rule.uses_device();
        if !ahead {
            for &ti in &self.matrices[m.0].tiles {
                let tile = &mut self.tiles[ti];
                let src = if transposed {
                    &input[tile.col0..tile.col0 + tile.cols]
                } else {
                    &input[tile.row0..tile.row0 + tile.rows]
                };
                for (d, &s) in tile.x.iter_mut().zip(src) {
                    *d = if device { s * inv } else { s };
                }
            }
        }
        if self.reads_may_run_back_to_back(m) {
            self.reads_back_to_back(m, transposed);
        } else {
            let op = TileOp::Read { transposed };
            for i in 0..self.matrices[m.0].tiles.len() {
                let ti = self.matrices[m.0].tiles[i];
                self.issue_op(ti, op, self.now);
            }
            self.run_while(|e| e.reads_pending > 0)?;
        }
        // Digital partial-sum accumulation (of reads computed ahead: after
        // the last, `accumulate_ahead`).
        let mx = &self.matrices[m.0];
        if !ahead {
            let unit = if device {
                scale * mx.gain / (self.chip.dac.read_voltage_v() as f32 * self.model.r_wg_us)
            } else {
                1.0
            };
            for &ti in &mx.tiles {
                let tile = &self.tiles[ti];
                let dst = if transposed {
                    &mut output[tile.row0..tile.row0 + tile.rows]
                } else {
                    &mut output[tile.col0..tile.col0 + tile.cols]
                };
                for (o, &y) in dst.iter_mut().zip(tile.read_out()) {
                    *o += y * unit;
                }
            }
        }
        let adds = n_out as u64 * mx.tiles.len() as u64;
        self.charge_digital("accumulate", adds, add_pj);
        Ok(())
    }

    /// One update of the chip's weights: for every tile of every listed
    /// matrix the chip's update-forming unit (`chip.update_unit`) forms the
    /// requested `ΔG = ΔW · r_wg / gain` (the digital MAC array: P MACs per weight
    /// of a rank-P request), the write rule decides what to write (or the
    /// sparse sampler draws EaPU's decisions), and the write plan is packed
    /// into pulse phases that the tile's driver executes; the forming unit
    /// and the decisions take their cycles before the tile's writes.
    /// `digital_macs` are multiply-accumulates the algorithm's own digital
    /// update performs in the same phase (e.g. bias updates), charged with
    /// the gradient MACs.
    /// In the sequential schedule the call returns when every write is
    /// done; pipelined, with the writes in flight.
    pub fn update(&mut self, updates: &[MatrixUpdate<'_>], digital_macs: u64) -> Result<()> {
        let phase = self.ctrl_phase;
        let mode = self.rule.write_mode();
        let max_parallel = self.chip.driver.max_parallel() as usize;
        let mut counts = FormCounts::default();
        self.update_issued = self.now;
        // Whether a tile's dense writes may run as soon as they are
        // planned (`write_dense_now`): what lets write operations run
        // ahead of their events (`write_ahead`), in the sequential
        // schedule.
        let write_now =
            self.mode == TimeMode::Event && self.phases_back_to_back() && self.reads_pending == 0;
        // (Tests: every write operation through the event queue.)
        #[cfg(test)]
        let write_now = write_now && !self.queued_writes;
        for u in updates {
            let model = &self.model;
            let mx = &self.matrices[u.matrix.0];
            let (rows, cols) = (mx.rows, mx.cols);
            // Conductance per weight unit of this matrix (`gain` 1: r_wg).
            let r_wg = model.r_wg_us / mx.gain;
            check_request(&u.request, rows, cols);
            let unit = &self.chip.update_unit;
            let sparse = sparse_eapu(self.rule.as_ref(), unit, &u.request);
            // Waiting dense writes may keep the request's terms instead of
            // their changes (`Tile::push_phases_compact`): made for the
            // whole matrix when a tile first needs them, where a whole
            // tile's terms are fewer values than its weights, and shared
            // by all its tiles, the smaller ones at its edges too. (Where
            // no whole tile qualifies, rebuilding each write from P terms
            // would cost more time than its 4 B save: `digits-mlp`'s 64 ×
            // 64 tiles at batch 32.)
            let pointwise = pointwise_decision(self.rule.as_ref(), unit);
            let (tile_rows, tile_cols) =
                (self.chip.tile_rows.min(rows), self.chip.tile_cols.min(cols));
            let terms_fewer =
                u.request.rank(rows) * (tile_rows + tile_cols) < tile_rows * tile_cols;
            let mut terms: Option<Option<Arc<RequestTerms>>> = None;
            let rank_p = match (sparse, u.request) {
                (Some(_), UpdateRequest::Factors { x, delta, scale }) if x.len() > rows => {
                    let scale_us = scale * r_wg;
                    match self.pool.as_ref() {
                        // The rows' and the columns' layouts on two threads.
                        Some(pool) => {
                            self.rank_p
                                .prepare_with(x, delta, rows, cols, scale_us, |a, b| {
                                    pool.install(|| rayon::join(a, b));
                                })
                        }
                        None => self.rank_p.prepare(x, delta, rows, cols, scale_us),
                    }
                    Some(&self.rank_p)
                }
                _ => None,
            };
            if let (true, Some(th)) = (self.pool.is_some(), sparse) {
                // Each tile works from its own streams into its own work, in
                // parallel; the counts and the queued phases follow in tile
                // order, so the bits do not depend on the threads.
                let has_rank_p = rank_p.is_some();
                let (first, n_tiles) = (mx.tiles[0], mx.tiles.len());
                debug_assert!(mx.tiles.iter().enumerate().all(|(i, &t)| t == first + i));
                // Where write operations may run ahead of their events, the
                // matrix is listed once and it is larger than a part (the
                // tiles of [`ChipSim::dense_batch`], 16 times its weights:
                // a sampled plan lists 8 B a write, and EaPU writes a tenth
                // of the weights at most in the runs measured, MADEM's), a
                // part of the tiles at a time is planned and its writes run
                // (`write_dense_now`) before the next part is planned, as
                // the dense rules' are: the lists of writes are held for a
                // part, not for the whole matrix. A matrix of one part
                // (every matrix of the big net, off a relaxing device)
                // writes after the update, in one parallel part with the
                // other matrices' tiles.
                let (tiles_max, weights_max) = self.dense_batch();
                let weights_max = weights_max.saturating_mul(16);
                let write_now = write_now
                    && updates.iter().filter(|v| v.matrix == u.matrix).count() == 1
                    && (n_tiles > tiles_max || rows * cols > weights_max);
                if self.tile_work.len() < n_tiles {
                    self.tile_work.resize_with(n_tiles, SparseWork::default);
                }
                let threads = self.pool.as_ref().map_or(1, |p| p.current_num_threads());
                if self.sparse_scratch.len() < threads {
                    self.sparse_scratch.resize_with(threads, Default::default);
                }
                let mut start = first;
                while start < first + n_tiles {
                    let mut end = first + n_tiles;
                    if write_now {
                        let mut weights = 0;
                        end = start;
                        while end < first + n_tiles
                            && end - start < tiles_max
                            && weights < weights_max
                        {
                            weights += self.tiles[end].rows * self.tiles[end].cols;
                            end += 1;
                        }
                        // Which tiles start their writes now: those idle
                        // before their writes are planned, as in the loop
                        // below; they take spare buffers.
                        self.start_now.clear();
                        for t in &mut self.tiles[start..end] {
                            let now = t.idle_for_writes();
                            if now && t.phase_writes.capacity() == 0 {
                                if let Some((w, p)) = self.spare_phases.pop() {
                                    (t.phase_writes, t.phases) = (w, p);
                                }
                            }
                            self.start_now.push(now);
                        }
                    }
                    let rank_p = has_rank_p.then_some(&self.rank_p);
                    let input =
                        form_input(&self.chip, &u.request, (rows, cols), r_wg, first, rank_p);
                    let model = &self.model;
                    let tiles = &mut self.tiles[start..end];
                    let works = &mut self.tile_work[start - first..end - first];
                    let scratches = &self.sparse_scratch;
                    let pool = self.pool.as_ref().expect("a pool");
                    pool.for_each_pair(tiles, works, |tile, work| {
                        let t = rayon::current_thread_index().unwrap_or(0);
                        let mut s = scratches[t].lock().expect("one user per thread");
                        s.lend(work);
                        sample_tile(&input, th, tile, work, &mut s);
                        if let Some(cells) = tile.cells.as_ref() {
                            work.plan.fill_sparse(cells, model, &work.sampled, mode);
                        }
                        // Only the tile's own weights or phases change.
                        apply_sampled(tile, work, r_wg, phase, max_parallel);
                        // Only the counts stay with the tile.
                        s.lend(work);
                    });
                    for (tile, work) in tiles.iter_mut().zip(works.iter()) {
                        tile.form_cycles = charge_sampled(&input, &mut counts, tile, work);
                    }
                    if write_now {
                        for ti in start..end {
                            if self.start_now[ti - start] && self.tiles[ti].issue_write_op() {
                                // Issued and started now, as the loop after
                                // the update would (the same ready time;
                                // nothing is queued for the tile before it).
                                let ready =
                                    self.now + self.chip.clock.cycles(self.tiles[ti].form_cycles);
                                self.writes_pending += 1;
                                self.tiles[ti].reserved = true;
                                self.start_op(ti, self.now, ready, TileOp::Write);
                            }
                        }
                        self.write_dense_now(start..end);
                    }
                    start = end;
                }
                continue;
            }
            let has_rank_p = rank_p.is_some();
            // A matrix listed twice gets one write operation a tile for
            // both requests: its writes wait for the end.
            let write_now =
                write_now && updates.iter().filter(|v| v.matrix == u.matrix).count() == 1;
            let ids = mx.tiles[0]..mx.tiles[0] + mx.tiles.len();
            debug_assert!(mx.tiles.iter().copied().eq(ids.clone()));
            // Tiles whose dense writes are planned and started, not yet
            // run (`write_dense_now`): from `batch` to the tile in hand.
            let (mut batch, mut batch_weights) = (ids.start, 0);
            let (tiles_max, weights_max) = self.dense_batch();
            for ti in ids.clone() {
                let rank_p = has_rank_p.then_some(&self.rank_p);
                let input = form_input(&self.chip, &u.request, (rows, cols), r_wg, ti, rank_p);
                let (model, scratch) = (&self.model, &mut self.update_scratch);
                let tile = &mut self.tiles[ti];
                let (cycles, decided) =
                    form_and_decide(&input, self.rule.as_mut(), tile, scratch, &mut counts);
                tile.form_cycles = cycles;
                let n = tile.rows * tile.cols;
                match (tile.cells.as_ref(), decided) {
                    (_, Decided::Sparse) => {
                        let work = &mut scratch.sparse;
                        if let Some(cells) = tile.cells.as_ref() {
                            work.plan.fill_sparse(cells, model, &work.sampled, mode);
                        }
                        apply_sampled(tile, work, r_wg, phase, max_parallel);
                    }
                    (None, Decided::Dense) => {
                        let inv = 1.0 / r_wg;
                        tile.weights
                            .iter_mut()
                            .zip(&scratch.dec[..n])
                            .for_each(|(w, &g)| *w += g * inv);
                    }
                    (Some(cells), Decided::Dense) => {
                        let plan = &mut scratch.plan;
                        plan.fill_dense(cells, model, &scratch.dec[..n], mode);
                        tile.write_phase_tag = phase;
                        let now = write_now && tile.idle_for_writes();
                        if now && tile.phase_writes.capacity() == 0 {
                            if let Some((w, p)) = self.spare_phases.pop() {
                                (tile.phase_writes, tile.phases) = (w, p);
                            }
                        }
                        // Writes that wait for their events are kept by
                        // weight (tests: as a list too).
                        let by_weight = !now;
                        #[cfg(test)]
                        let by_weight = by_weight && !self.listed_writes;
                        if by_weight {
                            let terms = terms.get_or_insert_with(|| {
                                let mut t = RequestTerms::default();
                                let whole = TileBlock {
                                    row0: 0,
                                    col0: 0,
                                    rows,
                                    cols,
                                };
                                (pointwise.is_some()
                                    && terms_fewer
                                    && u.request.terms(rows, cols, whole, r_wg, &mut t))
                                .then(|| Arc::new(t))
                            });
                            let redecide = pointwise
                                .zip(terms.as_ref())
                                .map(|(rule, terms)| crate::tile::Redecide { terms, rule });
                            tile.push_phases_compact(plan, max_parallel, redecide);
                        } else {
                            tile.push_phases(plan, max_parallel);
                        }
                        if now && tile.issue_write_op() {
                            // Issued and started now, as the loop below
                            // would (the same ready time; nothing is
                            // queued for the tile before it).
                            let ready = self.now + self.chip.clock.cycles(cycles);
                            self.writes_pending += 1;
                            self.tiles[ti].reserved = true;
                            self.start_op(ti, self.now, ready, TileOp::Write);
                        }
                    }
                }
                batch_weights += self.tiles[ti].rows * self.tiles[ti].cols;
                if ti + 1 == ids.end || ti + 1 - batch >= tiles_max || batch_weights >= weights_max
                {
                    self.write_dense_now(batch..ti + 1);
                    batch = ti + 1;
                    batch_weights = 0;
                }
            }
        }
        let charges = counts.charges(&self.chip.update_unit, &self.chip.digital, digital_macs);
        for (op, n, pj) in charges {
            self.charge_digital(op, n, pj);
        }
        // Each tile's gradient unit runs in parallel before its writes
        // (the tiles written already were issued then).
        for ti in 0..self.tiles.len() {
            let tile = &mut self.tiles[ti];
            if !tile.issue_write_op() {
                continue;
            }
            let ready = self.now + self.chip.clock.cycles(tile.form_cycles);
            self.issue_op(ti, TileOp::Write, ready);
        }
        if self.chip.schedule == Schedule::Sequential {
            self.write_ahead();
            if self.writes_may_run_back_to_back() {
                self.writes_back_to_back();
            } else {
                self.run_while(|e| e.writes_pending > 0)?;
            }
        }
        Ok(())
    }

    /// Whether the write operations just issued may run without their
    /// events queued ([`ChipSim::writes_back_to_back`]): the event engine,
    /// phases that run back to back (`phases_back_to_back`: an unlimited
    /// write budget, no probe, the sequential schedule), no read in
    /// flight, and nothing queued but the operations' `Start` events, one
    /// per writing tile, each tile with cells, no operation behind this
    /// one, and its phases run ahead or still to run.
    fn writes_may_run_back_to_back(&self) -> bool {
        #[cfg(test)]
        if self.queued_writes {
            return false;
        }
        self.mode == TimeMode::Event
            && self.phases_back_to_back()
            && self.reads_pending == 0
            && self.queue.len() == self.writes_pending
            && self.queue.iter().all(|e| match e.kind {
                EventKind::Start {
                    tile,
                    op: TileOp::Write,
                } => {
                    let t = &self.tiles[tile as usize];
                    t.pending.is_empty()
                        && t.cells.is_some()
                        && (t.write_ahead.is_some() || t.write_ops.len() == 1)
                }
                _ => false,
            })
    }

    /// Runs the queued write operations as the event loop would run their
    /// `Start`, `PhaseEnd` and `WriteDone` events (counted, not queued):
    /// each operation starts in the queue's order (its phases run then,
    /// unless they ran ahead, charging the ledger in that order, as the
    /// `Start` events would), then the operations end in the order of
    /// their end events (time, then tile: a tile's `WriteDone` follows
    /// its `PhaseEnd` at the same time and class, before any higher
    /// tile's). A start touches only its tile, the ledger, the write
    /// counters and the budget's count; an end only its tile, the
    /// budget's count (an unlimited budget has no waiters to grant) and
    /// the pending writes: so this is the queue's order of effects
    /// wherever an end would fall between two starts.
    /// (`event_engine_matches_fixed_step_reference` and the engine's
    /// tests compare the two.)
    fn writes_back_to_back(&mut self) {
        let mut ends = std::mem::take(&mut self.write_ends);
        ends.clear();
        let mode = self.rule.write_mode();
        let pulse_cycles = self.chip.pulse_cycles();
        while let Some(ev) = self.queue.pop() {
            let EventKind::Start {
                tile: tid,
                op: TileOp::Write,
            } = ev.kind
            else {
                unreachable!("only write starts were queued");
            };
            let t = ev.time;
            self.now = t;
            self.events += 1;
            let ti = tid as usize;
            self.tiles[ti].op_start = t;
            let a = match self.tiles[ti].write_ahead.take() {
                Some(a) => a,
                None => {
                    // `begin_write_op`, then `try_write_phase`: an
                    // unlimited budget starts the phases now, back to
                    // back (`start_write_phase`).
                    let tile = &mut self.tiles[ti];
                    tile.begin_write_op();
                    debug_assert!(tile.budget_wait_since.is_none());
                    crate::write::run_phases(
                        &self.chip,
                        pulse_cycles,
                        &self.model,
                        mode,
                        tile,
                        t,
                        &mut self.ledger,
                    )
                }
            };
            debug_assert!(!self.tiles[ti].op_has_phases());
            let (end, cells) = self.account_phases_unqueued(ti, a);
            ends.push((end, tid, ti, cells));
        }
        ends.sort_unstable();
        for &(end, _, ti, cells) in &ends {
            // `PhaseEnd` (its release; no waiters), then `WriteDone`.
            self.now = end;
            self.events += 2;
            self.budget.release(cells);
            self.finish_op(ti, end, true);
        }
        self.write_ends = ends;
    }

    /// With a thread pool, runs the pulse phases of the write operations
    /// just issued ahead of their events, tiles in parallel
    /// ([`crate::write::write_ahead`]), when they would run back to back
    /// anyway (`phases_back_to_back`) and nothing else is in flight: each
    /// tile's operation then starts at its `start_at`, and its phases
    /// touch only the tile (its cells and streams) and the tile's rows of
    /// the ledger, recorded and added in order when the start event comes
    /// (`account_phases`). The same bits for any number of threads.
    fn write_ahead(&mut self) {
        if self.pool.is_none()
            || self.mode != TimeMode::Event
            || !self.phases_back_to_back()
            || self.reads_pending > 0
        {
            return;
        }
        self.run_started_writes(0..self.tiles.len());
    }

    /// Runs ahead of its events ([`crate::write::write_ahead`]) the write
    /// operation of every tile of `range` that `start_op` started with its
    /// phases still to run ([`Tile::may_write_ahead`]), tiles in parallel
    /// on the pool if there is one.
    fn run_started_writes(&mut self, range: std::ops::Range<usize>) {
        let (chip, model, mode) = (&self.chip, &self.model, self.rule.write_mode());
        let ledger = &self.ledger;
        let tiles = &mut self.tiles[range];
        if !tiles.iter().any(Tile::may_write_ahead) {
            return;
        }
        let work = |t: &mut Tile| {
            if t.may_write_ahead() {
                crate::write::write_ahead(chip, model, mode, ledger, t);
            }
        };
        match &self.pool {
            Some(pool) if tiles.len() > 1 => pool.for_each(tiles, work),
            _ => tiles.iter_mut().for_each(work),
        }
    }

    /// How many tiles' writes `update` plans before it runs them
    /// (`write_dense_now`: a dense rule's, and EaPU's sampled on a pool),
    /// and how many weights' at most: one tile at a
    /// time on one thread; on a pool, 32 tiles a thread, so that each
    /// parallel part has tiles enough to share out evenly (two a thread
    /// cost the big net's `bp` steps 5 % on 2 threads, eight 2 %), but
    /// no more than 2¹⁹ weights (about 9 MB of planned writes and their
    /// phases), 2¹⁶ on a relaxing device, whose cells take 14 B each.
    fn dense_batch(&self) -> (usize, usize) {
        #[cfg(test)]
        if let Some(b) = self.batch_override {
            return b;
        }
        match &self.pool {
            Some(pool) => {
                let weights = if self.model.relaxes() {
                    1 << 16
                } else {
                    1 << 19
                };
                (32 * pool.current_num_threads(), weights)
            }
            None => (1, usize::MAX),
        }
    }

    /// Runs the write operations just started on the tiles `range` (each
    /// with its writes planned and started by `update`, when write
    /// operations may run ahead of their events: a dense rule's, and
    /// EaPU's sampled writes on a pool) as [`ChipSim::write_ahead`] would
    /// after the update, on the pool if there is one; then each tile's
    /// executed writes and phases go back to `spare_phases`. So the writes
    /// of a rule that writes every weight (`bp`, `write-verify`), or of
    /// a step that samples many writes (MADEM's), are held for a few tiles
    /// at a time ([`ChipSim::dense_batch`]), not for the whole chip; the
    /// same bits.
    fn write_dense_now(&mut self, range: std::ops::Range<usize>) {
        self.run_started_writes(range.clone());
        for t in &mut self.tiles[range] {
            if t.write_ahead.is_some() && t.phases.is_empty() {
                t.phase_writes.clear();
                let spare = (
                    std::mem::take(&mut t.phase_writes),
                    std::mem::take(&mut t.phases),
                );
                self.spare_phases.push(spare);
            }
        }
    }

    /// Accounts a write operation whose phases ran back to back (at its
    /// start event; ahead on the pool or just now): the ledger gets the
    /// tile's logged charges in their order (none when they went to the
    /// ledger directly), the counters their sums, and the last phase's end
    /// is queued as its events would have queued it.
    fn account_phases(&mut self, ti: usize, a: crate::write::WriteAhead) {
        let (end, cells) = self.account_phases_unqueued(ti, a);
        let tile = self.tiles[ti].id;
        self.queue.push(end, EventKind::PhaseEnd { tile, cells });
    }

    /// [`ChipSim::account_phases`] but for queueing the last phase's end:
    /// returns its time and cells.
    fn account_phases_unqueued(
        &mut self,
        ti: usize,
        a: crate::write::WriteAhead,
    ) -> (SimTime, u32) {
        let tile = &mut self.tiles[ti];
        self.ledger.apply_run(&mut tile.write_log);
        self.writes.pulses += a.stats.pulses;
        self.writes.cell_writes += a.stats.cell_writes;
        self.writes.phases += a.stats.phases;
        self.timing.budget_cell_ps += a.cell_ps;
        self.events += a.events;
        self.budget.acquire(a.last_cells);
        (a.end, a.last_cells)
    }

    /// Runs every outstanding operation to completion and charges the time
    /// up to then (call at the end of training).
    pub fn finish_pending(&mut self) -> Result<()> {
        self.run_while(|e| e.reads_pending > 0 || e.writes_pending > 0)?;
        debug_assert!(self.queue.is_empty());
        self.sync_time();
        // Nothing waits now: the buffers of waiting writes go back to the
        // allocator before what comes next (the report, the test
        // inference); a later update makes them again.
        for t in &mut self.tiles {
            t.release_write_buffers();
        }
        self.spare_phases = Vec::new();
        Ok(())
    }

    /// Runs every event up to and including time `t`, then idles until `t`
    /// (idle time is charged to the current phase at the next switch).
    pub fn run_until(&mut self, t: SimTime) -> Result<()> {
        if t < self.now {
            return Ok(());
        }
        match self.mode {
            TimeMode::Event => {
                while self.queue.next_time().is_some_and(|n| n <= t) {
                    self.process_next()?;
                }
                self.now = t;
                Ok(())
            }
            TimeMode::FixedStep => {
                let period = self.chip.clock.period_ps();
                self.step_until(|e| e.now.ps() + period > t.ps())?;
                self.now = t;
                Ok(())
            }
        }
    }

    /// Advances simulated time by `ps` picoseconds ([`ChipSim::run_until`]).
    pub fn advance(&mut self, ps: u64) -> Result<()> {
        self.run_until(self.now + ps)
    }

    /// Processes events in order while `busy` holds.
    fn run_while(&mut self, busy: impl Fn(&Self) -> bool) -> Result<()> {
        if self.mode == TimeMode::FixedStep {
            return self.step_until(|e| !busy(e));
        }
        while busy(self) {
            if self.queue.is_empty() {
                return Err(EngineError::Deadlock {
                    at_ps: self.now.ps(),
                    reads_pending: self.reads_pending,
                    writes_pending: self.writes_pending,
                });
            }
            self.process_next()?;
        }
        Ok(())
    }

    fn process_next(&mut self) -> Result<()> {
        let ev = self.queue.pop().expect("checked non-empty");
        debug_assert!(ev.time >= self.now, "time went backwards");
        self.now = ev.time;
        self.events += 1;
        self.handle(ev)
    }

    /// Issues operation `op` on tile `ti`, ready to start at `ready`. A tile
    /// executes its operations one at a time in issue order.
    fn issue_op(&mut self, ti: usize, op: TileOp, ready: SimTime) {
        if op.is_write() {
            self.writes_pending += 1;
        } else {
            self.reads_pending += 1;
        }
        let now = self.now;
        let tile = &mut self.tiles[ti];
        if tile.reserved {
            tile.pending.push_back((now, ready, op));
        } else {
            tile.reserved = true;
            self.start_op(ti, now, ready, op);
        }
    }

    fn start_op(&mut self, ti: usize, issued: SimTime, ready: SimTime, op: TileOp) {
        let at = ready.max(self.now);
        if self.mode == TimeMode::FixedStep {
            self.tiles[ti].fsm = Fsm::Starting { at, op };
        }
        let tile = &mut self.tiles[ti];
        tile.current = Breakdown {
            gradient: ready.ps().saturating_sub(issued.ps()),
            tile_wait: at.ps() - ready.max(issued).ps(),
            ..Breakdown::default()
        };
        tile.start_at = at;
        let id = tile.id;
        if self.mode == TimeMode::Event {
            self.queue.push(at, EventKind::Start { tile: id, op });
        }
    }

    fn handle(&mut self, ev: Event) -> Result<()> {
        let t = ev.time;
        match ev.kind {
            EventKind::Start { tile, op } => {
                let ti = tile as usize;
                if let Some(p) = self.probe.as_mut() {
                    p.tile_busy(t, tile, true)?;
                }
                match op {
                    TileOp::Read { transposed } => {
                        let (adc, end, batches) = self.begin_read(ti, t, transposed);
                        self.queue.push(adc, EventKind::AdcStart { tile });
                        // Only the read's last ADC batch changes anything
                        // (its tile, the probe, the pending reads), so the
                        // batches before it are counted as events but not
                        // queued: removing them keeps the order of every
                        // other event (times, classes, tiles and insertion
                        // order are unchanged) at a sixteenth of the heap
                        // traffic of a 128-line read on 8 ADCs.
                        if batches > 0 {
                            self.events += batches - 1;
                            self.queue.push(end, EventKind::AdcDone { tile });
                        }
                    }
                    TileOp::Write => {
                        self.tiles[ti].op_start = t;
                        match self.tiles[ti].write_ahead.take() {
                            Some(a) => self.account_phases(ti, a),
                            None => {
                                self.tiles[ti].begin_write_op();
                                self.try_write_phase(ti, t)?
                            }
                        }
                    }
                }
            }
            EventKind::AdcStart { tile } => {
                if let Some(p) = self.probe.as_mut() {
                    p.adc_busy(t, tile, true)?;
                }
            }
            EventKind::AdcDone { tile } => {
                if let Some(p) = self.probe.as_mut() {
                    p.adc_busy(t, tile, false)?;
                    p.tile_busy(t, tile, false)?;
                }
                self.end_read(tile as usize, t);
            }
            EventKind::WritePhase { tile } => self.try_write_phase(tile as usize, t)?,
            EventKind::PhaseEnd { tile, cells } => {
                self.budget.release(cells);
                if self.budget.has_waiters() && !self.budget.grant_scheduled {
                    self.budget.grant_scheduled = true;
                    self.queue.push(t, EventKind::Grant);
                }
                let next = if self.tiles[tile as usize].op_has_phases() {
                    EventKind::WritePhase { tile }
                } else {
                    EventKind::WriteDone { tile }
                };
                self.queue.push(t, next);
            }
            EventKind::Grant => {
                self.budget.grant_scheduled = false;
                self.grant(t)?;
            }
            EventKind::WriteDone { tile } => {
                if let Some(p) = self.probe.as_mut() {
                    p.pulse(t, tile, None, 0)?;
                    p.tile_busy(t, tile, false)?;
                }
                self.finish_op(tile as usize, t, true);
            }
        }
        Ok(())
    }

    /// Starts tile `ti`'s read at `t` (its arithmetic and charges,
    /// [`ChipSim::start_read`]); returns when its ADCs start, when its last
    /// ADC batch ends, and the batches.
    fn begin_read(&mut self, ti: usize, t: SimTime, transposed: bool) -> (SimTime, SimTime, u64) {
        self.tiles[ti].op_start = t;
        let (settle, (batches, per_batch)) = self.start_read(ti, transposed);
        let chip = &self.chip;
        let adc = t + chip.clock.cycles(settle);
        let step = chip.clock.cycles(per_batch);
        let mut end = adc;
        for _ in 0..batches {
            end = end + step;
        }
        (adc, end, batches)
    }

    /// Whether the reads of matrix `m` may run back to back, without their
    /// events queued ([`ChipSim::reads_back_to_back`]): the event engine,
    /// no probe, nothing queued and every tile of `m` idle, so that no
    /// other event can fall between them.
    fn reads_may_run_back_to_back(&self, m: MatrixId) -> bool {
        self.mode == TimeMode::Event
            && self.probe.is_none()
            && self.queue.is_empty()
            && self.matrices[m.0]
                .tiles
                .iter()
                .all(|&ti| !self.tiles[ti].reserved)
    }

    /// Runs a read on every tile of `m`, all issued now, as the event loop
    /// would run their `Start`, `AdcStart` and `AdcDone` events (counted,
    /// not queued): every read starts now, in tile order; then the reads
    /// end in the order of their `AdcDone` events (time, then tile). A
    /// read's start touches only its own tile and the ledger, and its end
    /// only its tile and the pending-read count, so this is the queue's
    /// order of effects (`event_engine_matches_fixed_step_reference`).
    fn reads_back_to_back(&mut self, m: MatrixId, transposed: bool) {
        let t = self.now;
        let mut ends = std::mem::take(&mut self.read_ends);
        ends.clear();
        for i in 0..self.matrices[m.0].tiles.len() {
            let ti = self.matrices[m.0].tiles[i];
            // `issue_op` and `start_op` on an idle tile, ready now.
            self.reads_pending += 1;
            let tile = &mut self.tiles[ti];
            tile.reserved = true;
            tile.current = Breakdown::default();
            tile.start_at = t;
        }
        for i in 0..self.matrices[m.0].tiles.len() {
            let ti = self.matrices[m.0].tiles[i];
            let (_, end, batches) = self.begin_read(ti, t, transposed);
            assert!(batches > 0, "a read converts at least one batch");
            // Start, AdcStart, and the ADC batches (the last one AdcDone).
            self.events += 2 + batches;
            ends.push((end, self.tiles[ti].id, ti));
        }
        ends.sort_unstable();
        for &(end, _, ti) in &ends {
            self.now = end;
            self.end_read(ti, end);
        }
        self.read_ends = ends;
    }

    /// Ends tile `ti`'s read at `t` (its last ADC batch done).
    fn end_read(&mut self, ti: usize, t: SimTime) {
        let tr = &mut self.tiles[ti];
        tr.adc_busy_ps += tr.current.convert;
        self.finish_op(ti, t, false);
    }

    /// Performs a tile read's arithmetic and returns its cycles: settle +
    /// integrate, and (ADC batches, cycles per batch).
    pub(crate) fn start_read(&mut self, ti: usize, transposed: bool) -> (u64, (u64, u64)) {
        let (arith, charged) = match self.tiles[ti].take_ahead() {
            Some(a) => (a, self.tiles[ti].ahead_charged),
            None => (
                crate::read::compute(
                    &self.chip,
                    &self.model,
                    &mut self.tiles[ti],
                    transposed,
                    self.now,
                    &mut self.read_v,
                ),
                false,
            ),
        };
        if !charged {
            crate::read::charge(
                &self.chip,
                &mut self.tiles[ti],
                arith,
                self.ctrl_phase,
                &mut self.ledger,
            );
        }
        let lines = arith.lines;
        let chip = &self.chip;
        let settle = chip.read_cycles();
        let (batches, conv) = if self.tiles[ti].cells.is_some() {
            (chip.adc.batches(lines), chip.adc.conversion_cycles())
        } else {
            // Digital MVM: one input row per cycle.
            (1, self.tiles[ti].rows as u64)
        };
        let tr = &mut self.tiles[ti];
        tr.reads += 1;
        tr.current.settle_integrate = chip.clock.cycles(settle);
        tr.current.convert = chip.clock.cycles(batches * conv);
        (settle, (batches, conv))
    }

    /// Starts the tile's next pulse phase now if the chip-wide write-current
    /// budget allows, else queues it behind earlier waiters (no overtaking).
    pub(crate) fn try_write_phase(&mut self, ti: usize, t: SimTime) -> Result<()> {
        let need = self.tiles[ti].next_phase_cells();
        if self.budget.may_start(need) {
            self.start_write_phase(ti, t)
        } else {
            self.tiles[ti].budget_wait_since = Some(t);
            self.budget.wait(t, ti as u32);
            Ok(())
        }
    }

    /// Grants write current to waiting phases in (arrival, tile) order
    /// while the budget allows.
    pub(crate) fn grant(&mut self, t: SimTime) -> Result<()> {
        while let Some(w) = self.budget.first_waiter() {
            let need = self.tiles[w as usize].next_phase_cells();
            if !self.budget.allows(need) {
                break;
            }
            self.budget.pop_waiter();
            self.start_write_phase(w as usize, t)?;
        }
        Ok(())
    }

    fn start_write_phase(&mut self, ti: usize, t: SimTime) -> Result<()> {
        if let Some(since) = self.tiles[ti].budget_wait_since.take() {
            let w = t.ps() - since.ps();
            self.tiles[ti].current.budget_wait += w;
            self.timing.budget_wait_ps += w;
        }
        let mode = self.rule.write_mode();
        let pulse_cycles = self.chip.pulse_cycles();
        if self.mode == TimeMode::Event && self.phases_back_to_back() {
            // The `PhaseEnd` of each phase but the last, and the
            // `WritePhase` it queues, would only release and re-acquire
            // current nobody waits for and start the next phase when the
            // last ends: the phases run back to back, those events counted
            // but not queued (as a read's intermediate ADC batches are).
            let a = crate::write::run_phases(
                &self.chip,
                pulse_cycles,
                &self.model,
                mode,
                &mut self.tiles[ti],
                t,
                &mut self.ledger,
            );
            self.account_phases(ti, a);
            return Ok(());
        }
        let cells = self.tiles[ti].next_phase_cells();
        self.budget.acquire(cells);
        let (cycles, (polarity, row), n) = crate::write::write_phase(
            &self.chip,
            pulse_cycles,
            &self.model,
            mode,
            &mut self.tiles[ti],
            t,
            &mut self.ledger,
            &mut self.writes,
        );
        let tid = self.tiles[ti].id;
        if let Some(p) = self.probe.as_mut() {
            p.pulse(t, tid, Some((polarity, row)), n)?;
        }
        let end = t + self.chip.clock.cycles(cycles);
        let dur = end.ps() - t.ps();
        let tile = &mut self.tiles[ti];
        tile.current.pulses += dur;
        tile.write_phases += 1;
        self.timing.budget_cell_ps += u128::from(cells) * u128::from(dur);
        match self.mode {
            TimeMode::Event => self
                .queue
                .push(end, EventKind::PhaseEnd { tile: tid, cells }),
            TimeMode::FixedStep => {
                let left = dur / self.chip.clock.period_ps();
                self.tiles[ti].fsm = Fsm::Phase { left, cells };
            }
        }
        Ok(())
    }

    /// Whether a tile's pulse phases may run back to back without their
    /// events: nothing can come between two phases of one tile or observe
    /// the time between them. That holds when no write-current budget can
    /// make a phase wait, no probe records each phase, and the schedule is
    /// sequential (an update's writes all finish before the update
    /// returns, so nothing outside the tile runs while they do). Each
    /// phase still runs at its own start time, from the tile's own
    /// streams, charging the ledger's rows of its tile (per-tile sums, so
    /// the order among tiles does not matter): the same bits.
    fn phases_back_to_back(&self) -> bool {
        self.budget.unlimited()
            && self.probe.is_none()
            && self.chip.schedule == Schedule::Sequential
    }

    pub(crate) fn finish_op(&mut self, ti: usize, t: SimTime, write: bool) {
        let tile = &mut self.tiles[ti];
        tile.busy_ps += t.ps() - tile.op_start.ps();
        self.last_done = tile.current;
        if write {
            self.writes_pending -= 1;
            if self.writes_pending == 0 {
                self.writes.update_cycles += self
                    .chip
                    .clock
                    .cycles_at(SimTime(t.ps() - self.update_issued.ps()));
                if self.chip.schedule == Schedule::Sequential {
                    self.timing.critical.add(&self.last_done);
                }
            }
        } else {
            self.reads_pending -= 1;
            if self.reads_pending == 0 {
                self.timing.critical.add(&self.last_done);
            }
        }
        let tile = &mut self.tiles[ti];
        match tile.pending.pop_front() {
            Some((issued, ready, op)) => self.start_op(ti, issued, ready, op),
            None => tile.reserved = false,
        }
    }

    pub(crate) fn now_mut(&mut self) -> &mut SimTime {
        &mut self.now
    }
}

/// Panics unless `request` fits a `rows × cols` matrix (a caller's bug,
/// like a slice index out of range).
fn check_request(request: &UpdateRequest<'_>, rows: usize, cols: usize) {
    match *request {
        UpdateRequest::Dense { delta_w } => {
            assert_eq!(delta_w.len(), rows * cols, "dense ΔW must be rows × cols")
        }
        UpdateRequest::Factors { x, delta, .. } => {
            let rank = x.len() / rows;
            assert!(
                x.len() == rank * rows && delta.len() == rank * cols && rank > 0,
                "factors must be rank × rows and rank × cols"
            );
        }
    }
}

/// What forming tile `tile_index` of a `rows × cols` matrix needs for
/// `request` on `chip`, besides the tile.
fn form_input<'a, 'r>(
    chip: &'a Chip,
    request: &'a UpdateRequest<'r>,
    (rows, cols): (usize, usize),
    r_wg_us: f32,
    tile_index: usize,
    rank_p: Option<&'a RankPFactors>,
) -> FormInput<'a, 'r> {
    FormInput {
        unit: &chip.update_unit,
        digital: &chip.digital,
        request,
        rows,
        cols,
        r_wg_us,
        tile_index,
        rank_p,
    }
}

/// Applies a tile's sampled decisions `work`: added to its digital
/// weights, or, on cells, its plan (filled from them) queued as pulse
/// phases charged to `phase`.
fn apply_sampled(tile: &mut Tile, work: &SparseWork, r_wg: f32, phase: Phase, max_parallel: usize) {
    if tile.cells.is_none() {
        let inv = 1.0 / r_wg;
        for &(k, g) in &work.sampled {
            tile.weights[k as usize] += g * inv;
        }
        return;
    }
    tile.write_phase_tag = phase;
    tile.push_phases(&work.plan, max_parallel);
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_controller::{TileBlock, WriteMode};
    use aimsim_core::config::overrides as over;
    use aimsim_device::builtin_device;

    fn tiny_chip(chip_over: &[(&str, &str)]) -> (Chip, DeviceModel) {
        let mut o = over(&[("array.rows", "2"), ("array.cols", "4")]);
        o.extend(over(chip_over));
        let chip = Chip::builtin("eapu-180nm", &o).unwrap();
        let model = builtin_device("eapu-180nm", &over(&[("read_noise_us", "0")])).unwrap();
        (chip, model)
    }

    /// A 2 × 2 matrix on one 2 × 4-cell tile of the default chip (with
    /// `chip_over`), a noiseless-read device, and the weights
    /// W = [[0.5, −0.25], [0.25, 0]] (G± = 55 µS ± 40 µS · W).
    fn tiny(chip_over: &[(&str, &str)]) -> (ChipSim, MatrixId) {
        let (chip, model) = tiny_chip(chip_over);
        let mut sim = ChipSim::new(chip, model, 1).unwrap();
        let m = sim.place(2, 2, &[0.5, -0.25, 0.25, 0.0]);
        (sim, m)
    }

    /// One forward MVM of the tiny matrix through the event loop, plus the
    /// two identity activations a layer charges (as the worked example of
    /// docs/energy-model.md counts them); returns the ledger's energy by
    /// component (in [`Component::ALL`] order), the ops counts, the
    /// simulated time in ps and the output.
    fn worked_example(chip_over: &[(&str, &str)]) -> (Vec<f64>, Vec<u64>, u64, Vec<f32>) {
        let (mut sim, m) = tiny(chip_over);
        let mut out = vec![0.0; 2];
        sim.enter_phase(Phase::FORWARD).unwrap();
        sim.mvm(m, &[1.0, -1.0], &mut out).unwrap();
        let act = sim.chip().digital.activation_pj();
        sim.charge_digital("activation", 2, act);
        sim.sync_time();
        let pj = Component::ALL
            .iter()
            .map(|&c| sim.ledger().component_pj(c))
            .collect();
        let n = Component::ALL
            .iter()
            .map(|&c| sim.ledger().component_count(c))
            .collect();
        (pj, n, sim.now().ps(), out)
    }

    /// One forward LSB (3.90625 µA) × 1/(0.2 V · 80 µS) = 0.244140625.
    const ONE_LSB: f32 = 3.906_25 / 16.0;

    fn assert_close(got: &[f64], want: &[f64]) {
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{}: {g} pJ, by hand {w} pJ",
                Component::ALL[k].key()
            );
        }
    }

    /// The worked example of docs/energy-model.md, number for number.
    #[test]
    fn worked_example_matches_the_hand_computation() {
        let (pj, n, t_ps, out) = worked_example(&[]);
        // dac, adc, array_read, array_write, driver, sense, digital, static.
        let want = [1.30, 51.2, 0.176, 0.0, 0.0, 0.72, 5.12, 11.0];
        assert_close(&pj, &want);
        assert!((pj.iter().sum::<f64>() - 69.516).abs() < 1e-5);
        assert_eq!(n, [2, 2, 1, 0, 0, 2, 6, 1]);
        // settle 1 + integrate 1 + ⌈2 / 8⌉ · (8 + 1) = 11 cycles of 10 ns.
        assert_eq!(t_ps, 110_000);
        // Columns carry +4 µA and −4 µA, one LSB (3.90625 µA) each;
        // × 1/(0.2 V · 80 µS) → ±0.244140625 (exact: ±0.25).
        assert_eq!(out, [ONE_LSB, -ONE_LSB]);
    }

    /// The same MVM with bit-serial inputs: codes ±127 drive each row in all
    /// 7 bit cycles.
    #[test]
    fn worked_example_bit_serial() {
        let (pj, n, t_ps, out) = worked_example(&[("dac.encoding", "bit-serial")]);
        let want = [9.1, 51.2, 1.232, 0.0, 0.0, 5.04, 5.12, 23.0];
        assert_close(&pj, &want);
        assert_eq!(n, [14, 2, 1, 0, 0, 14, 6, 1]);
        // 7 · (1 + 1) + 9 = 23 cycles.
        assert_eq!(t_ps, 230_000);
        assert_eq!(out, [ONE_LSB, -ONE_LSB]);
    }

    /// The MVMs add into their output (a caller starts from a bias) and the
    /// transposed read of the tiny matrix gives `W d`.
    #[test]
    fn mvms_add_into_their_output_and_transpose() {
        let (mut sim, m) = tiny(&[]);
        let mut y = vec![10.0, 20.0];
        sim.mvm(m, &[1.0, -1.0], &mut y).unwrap();
        assert_eq!(y, [10.0 + ONE_LSB, 20.0 - ONE_LSB]);
        // W d for d = (1, 0): column 0 of W = (0.5, 0.25); the transposed
        // ADC range resolves it to within a few percent.
        let mut out = vec![0.0; 2];
        sim.mvm_transposed(m, &[1.0, 0.0], &mut out).unwrap();
        assert!(
            (out[0] - 0.5).abs() < 0.05 && (out[1] - 0.25).abs() < 0.05,
            "{out:?}"
        );
        let mut ys = vec![0.0; 4];
        sim.mvm_batch(m, &[1.0, -1.0, 1.0, -1.0], &mut ys).unwrap();
        assert_eq!(ys[..2], ys[2..], "same input, same output (no read noise)");
    }

    /// A matrix placed with gain g holds `W/g` on its cells, reads back as
    /// `W` (matrix_weights and the MVM, the ADC codes scaled by g), and an
    /// update of ΔW asks the rule for `ΔW · r_wg / g`; a digital rule
    /// ignores the gain.
    #[test]
    fn a_placement_gain_stores_w_over_g_and_reads_w() {
        let (chip, model) = tiny_chip(&[("rule.name", "bp")]);
        let w = [0.125f32, -0.0625, 0.0625, 0.0];
        let mut plain = ChipSim::new(chip.clone(), model.clone(), 1).unwrap();
        let mp = plain.place(2, 2, &w);
        let mut scaled = ChipSim::new(chip.clone(), model.clone(), 1).unwrap();
        let ms = scaled.place_scaled(2, 2, &w, 0.25);
        // G± = 55 ± 40·W/g: the scaled pair holds 4× the difference.
        let (gp, gs) = (
            plain.tiles[0]
                .cells
                .as_ref()
                .unwrap()
                .conductances_us(&plain.model)[0],
            scaled.tiles[0]
                .cells
                .as_ref()
                .unwrap()
                .conductances_us(&scaled.model)[0],
        );
        assert!(((gp - 55.0) * 4.0 - (gs - 55.0)).abs() < 1e-4, "{gp} {gs}");
        for (a, b) in scaled.matrix_weights(ms).iter().zip(&w) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // The plain read of ±4 µA·(1/4) rounds to one LSB; the scaled read
        // resolves 4× finer in weight units.
        let (mut yp, mut ys) = (vec![0.0; 2], vec![0.0; 2]);
        plain.mvm(mp, &[1.0, -1.0], &mut yp).unwrap();
        scaled.mvm(ms, &[1.0, -1.0], &mut ys).unwrap();
        let exact = [0.125 - 0.0625, -0.0625];
        assert!(
            (ys[0] - exact[0]).abs() <= ONE_LSB * 0.25
                && (ys[1] - exact[1]).abs() <= ONE_LSB * 0.25,
            "{ys:?}"
        );
        assert!(
            (yp[0] - exact[0]).abs() > ONE_LSB * 0.25 || (yp[1] - exact[1]).abs() > ONE_LSB * 0.25,
            "{yp:?}"
        );
        // bp writes what it is asked: ΔW = 0.01 on weight 0 is ΔG = 0.8 µS
        // plain and 3.2 µS scaled; the weights move by ΔW (± write noise σ_w·g/r_wg).
        let dw = [0.01f32, 0.0, 0.0, 0.0];
        let up = |sim: &mut ChipSim, m| {
            sim.enter_phase(Phase::UPDATE).unwrap();
            sim.update(
                &[MatrixUpdate {
                    matrix: m,
                    request: UpdateRequest::Dense { delta_w: &dw },
                }],
                0,
            )
            .unwrap();
            sim.finish_pending().unwrap();
        };
        let before = scaled.tiles[0]
            .cells
            .as_ref()
            .unwrap()
            .conductances_us(&scaled.model)
            .to_vec();
        up(&mut scaled, ms);
        let after = scaled.tiles[0]
            .cells
            .as_ref()
            .unwrap()
            .conductances_us(&scaled.model)
            .to_vec();
        let moved: f32 = (after[0] - before[0]) - (after[1] - before[1]);
        // 3.2 µS asked, write noise σ_w = 2.4 µS: within 5 σ.
        assert!((moved - 3.2).abs() < 12.0, "{moved}");
        assert_eq!(scaled.writes().cell_writes, 1);
        // A digital rule has no conductance: the gain is 1.
        let (chip_i, model_i) = tiny_chip(&[("rule.name", "ideal")]);
        let mut ideal = ChipSim::new(chip_i, model_i, 1).unwrap();
        let mi = ideal.place_scaled(2, 2, &w, 0.25);
        assert_eq!(ideal.tiles[0].weights, w);
        assert_eq!(ideal.matrix_weights(mi), w);
    }

    /// The update's per-op charges by hand: gradient MACs, EaPU compares
    /// and random bits from their counts; cell pulses from the cells' actual
    /// conductance before and after; drivers from bit lines, word line and
    /// overhead per phase.
    #[test]
    fn update_energy_by_hand() {
        // Equal gate voltages make the driver formula polarity-free.
        let (mut sim, m) = tiny(&[("driver.reset_gate_v", "1.2")]);
        let before = sim.tiles[0]
            .cells
            .as_ref()
            .unwrap()
            .conductances_us(&sim.model)
            .to_vec();
        let pj0 = sim.ledger().clone();
        sim.enter_phase(Phase::UPDATE).unwrap();
        let u = MatrixUpdate {
            matrix: m,
            request: UpdateRequest::Factors {
                x: &[1.0, -1.0],
                delta: &[1.0, 0.25],
                scale: -0.025,
            },
        };
        // Two bias MACs of the algorithm's own.
        sim.update(&[u], 2).unwrap();
        let charged = |c: Component, op: &str| -> (u64, f64) {
            let (mut n, mut e) = (0, 0.0);
            for (k, t) in sim.ledger().entries() {
                if k.component == c && k.operation == op {
                    n += t.count;
                    e += t.pj;
                }
            }
            for (k, t) in pj0.entries() {
                if k.component == c && k.operation == op {
                    n -= t.count;
                    e -= t.pj;
                }
            }
            (n, e)
        };
        // ΔG = −η x δ R_wg = −2 µS · x_r δ_c = [−2, −0.5, 2, 0.5] µS: two at
        // the 2 µS threshold (written as asked, one nominal 2 µS pulse
        // each), two random decisions of 16 bits (one pulse if written).
        let (n, e) = charged(Component::Digital, "gradient_mac");
        assert_eq!(n, 6); // 4 weights + 2 biases
        assert!((e - 6.0 * 3.2).abs() < 1e-9);
        let (n, e) = charged(Component::Digital, "threshold_compare");
        assert_eq!(n, 4);
        assert!((e - 4.0 * 0.48).abs() < 1e-9);
        let (n, e) = charged(Component::Digital, "random_bits");
        assert_eq!(n, 32);
        assert!((e - 32.0 * 0.06).abs() < 1e-9);
        // Every written cell took one pulse: 1.6² V² · (G_b + G_a)/2 · 50 ns
        // = 0.064 pJ/µS · (G_b + G_a).
        let after = sim.tiles[0]
            .cells
            .as_ref()
            .unwrap()
            .conductances_us(&sim.model);
        let written: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        assert!(written.len() >= 2, "{written:?}");
        let cells = sim.writes().cell_writes;
        assert_eq!(cells, written.len() as u64);
        let mut pulses = 0;
        let mut cell_pj = 0.0;
        for op in ["set_pulse", "reset_pulse"] {
            let (n, e) = charged(Component::ArrayWrite, op);
            pulses += n;
            cell_pj += e;
        }
        assert_eq!(pulses, cells);
        let hand: f64 = written
            .iter()
            .map(|&i| 0.064 * f64::from(before[i] + after[i]))
            .sum();
        assert!((cell_pj - hand).abs() < 1e-6, "{cell_pj} vs {hand}");
        // Driver: per phase 200 fF · (n · 1.6² + 1.2²) + 1 pJ, one pulse each:
        // 0.512 pJ per written cell + 1.288 pJ per phase.
        let (mut phases, mut drv_pj) = (0, 0.0);
        for op in ["set_phase", "reset_phase"] {
            let (n, e) = charged(Component::Driver, op);
            phases += n;
            drv_pj += e;
        }
        let hand = 0.512 * cells as f64 + 1.288 * phases as f64;
        assert!((drv_pj - hand).abs() < 1e-9, "{drv_pj} vs {hand}");
        // Everything the update charged went to the update phase.
        assert!(sim.ledger().phase_pj(Phase::UPDATE) > 0.0);
        assert_eq!(sim.ledger().phase_pj(Phase::FORWARD), 0.0);
    }

    #[test]
    fn adc_full_scale_calibrates_from_the_first_reads() {
        // After 1 calibration read whose largest |I| is 4 µA, a margin of 2
        // gives ±8 µA over 256 codes: LSB = 0.0625 µA, so ±4 µA converts
        // exactly (before: one 3.90625 µA LSB).
        let c = [
            ("adc.calibration_reads", "1"),
            ("adc.calibration_margin", "2"),
        ];
        let (mut sim, m) = tiny(&c);
        let mut first = vec![0.0; 2];
        sim.mvm(m, &[1.0, -1.0], &mut first).unwrap();
        assert_eq!(first, [ONE_LSB, -ONE_LSB]);
        let mut second = vec![0.0; 2];
        sim.mvm(m, &[1.0, -1.0], &mut second).unwrap();
        assert!((second[0] - 0.25).abs() < 1e-6 && (second[1] + 0.25).abs() < 1e-6);
    }

    /// Time advances to the asked instant, in both time modes, and the idle
    /// time's static energy is charged to the phase at the next switch.
    #[test]
    fn run_until_idles_to_the_time_and_charges_static_power() {
        for mode in [TimeMode::Event, TimeMode::FixedStep] {
            let (mut sim, _) = tiny(&[]);
            sim.set_time_mode(mode);
            sim.enter_phase(Phase::named("idle")).unwrap();
            sim.run_until(SimTime(1_000_000)).unwrap();
            assert_eq!(sim.now(), SimTime(1_000_000));
            sim.sync_time();
            // 0.1 mW × 1 µs = 100 pJ.
            let e = sim.ledger().phase_pj(Phase::named("idle"));
            assert!((e - 100.0).abs() < 1e-9, "{mode:?}: {e}");
        }
    }

    /// A read while no operation can finish is a deadlock: an error value.
    #[test]
    fn a_deadlock_is_an_error_not_a_panic() {
        let (mut sim, _) = tiny(&[]);
        sim.reads_pending = 1;
        let e = sim.finish_pending().unwrap_err();
        assert!(
            matches!(
                e,
                EngineError::Deadlock {
                    reads_pending: 1,
                    ..
                }
            ),
            "{e}"
        );
    }

    /// A 5×9 matrix on 2×4 tiles (9 tiles, ragged edges) with read noise,
    /// driven step by step with batched forward and transposed MVMs and
    /// updates on `threads` threads; returns each step's outputs, ledger
    /// tallies, time, events and cell writes, as bits.
    #[allow(clippy::type_complexity)]
    type Steps = Vec<(Vec<u32>, Vec<(u64, u64)>, u64, u64, u64, String)>;

    fn threaded_steps(threads: usize, schedule: &str) -> Steps {
        threaded_steps_with(threads, schedule, false)
    }

    /// Six steps of reads and updates on `threads` threads; with
    /// `queued_writes` every write operation runs through the event queue.
    fn threaded_steps_with(threads: usize, schedule: &str, queued_writes: bool) -> Steps {
        let writes = if queued_writes {
            Writes::Queued
        } else {
            Writes::AsPlanned
        };
        threaded_steps_of(threads, schedule, writes, "eapu", Requests::BatchAndOne)
    }

    /// How [`threaded_steps_of`]'s write operations run.
    #[derive(Clone, Copy, PartialEq)]
    enum Writes {
        /// As the engine chooses (ahead of their events where it may).
        AsPlanned,
        /// Every one through the event queue, waiting dense writes kept by
        /// weight.
        Queued,
        /// Through the event queue, waiting writes kept as a list.
        QueuedListed,
        /// As planned, two tiles planned at a time (EaPU's sampled writes
        /// then run as planned on a pool, the matrix's nine tiles being
        /// more than a part).
        AsPlannedByTwo,
    }

    /// What each step of [`threaded_steps_of`] asks the matrix to update.
    #[derive(Clone, Copy)]
    enum Requests {
        /// The batch's rank-3 request, then a rank-1 request: the matrix
        /// listed twice.
        BatchAndOne,
        /// The batch's request alone.
        Batch,
        /// The batch's request listed twice.
        BatchTwice,
        /// The batch's first sample's request (rank 1) alone.
        One,
        /// A rank-6 request alone (the batch's factors twice): more terms
        /// than a whole tile has weights.
        Wide,
    }

    /// [`threaded_steps_with`] under the write rule `rule`, updating
    /// with `requests`.
    fn threaded_steps_of(
        threads: usize,
        schedule: &str,
        writes: Writes,
        rule: &str,
        requests: Requests,
    ) -> Steps {
        let on = Setting {
            array: ("2", "4"),
            rule: &[("rule.name", rule)],
            device: &[],
        };
        threaded_steps_on(threads, schedule, writes, requests, on)
    }

    /// The chip and device of [`threaded_steps_on`]: the array's rows and
    /// cells a row, the rule's settings, the device's.
    #[derive(Clone, Copy)]
    struct Setting<'a> {
        array: (&'a str, &'a str),
        rule: &'a [(&'a str, &'a str)],
        device: &'a [(&'a str, &'a str)],
    }

    /// [`threaded_steps_of`] on the chip and device of `on`.
    fn threaded_steps_on(
        threads: usize,
        schedule: &str,
        writes: Writes,
        requests: Requests,
        on: Setting<'_>,
    ) -> Steps {
        let mut sets = vec![
            ("array.rows", on.array.0),
            ("array.cols", on.array.1),
            ("engine.schedule", schedule),
        ];
        sets.extend_from_slice(on.rule);
        let chip = Chip::builtin("eapu-180nm", &over(&sets)).unwrap();
        let model = builtin_device("eapu-180nm", &over(on.device)).unwrap();
        let mut sim = ChipSim::new(chip, model, 7).unwrap();
        sim.set_threads(threads).unwrap();
        sim.queued_writes = !matches!(writes, Writes::AsPlanned | Writes::AsPlannedByTwo);
        sim.listed_writes = writes == Writes::QueuedListed;
        if writes == Writes::AsPlannedByTwo {
            sim.batch_override = Some((2, usize::MAX));
        }
        assert_eq!(sim.threads(), threads);
        let (rows, cols, batch) = (5, 9, 3);
        let w = test_weights(rows * cols);
        let m = sim.place(rows, cols, &w);
        let mut steps = Vec::new();
        for step in 0..6 {
            let xs: Vec<f32> = (0..batch * rows)
                .map(|i| ((i + step) as f32 * 0.71).cos())
                .collect();
            let ds: Vec<f32> = (0..batch * cols)
                .map(|i| ((i * 3 + step) as f32 * 0.29).sin() * 0.1)
                .collect();
            let mut ys = vec![0.1f32; batch * cols];
            let mut gs = vec![0.0f32; batch * rows];
            sim.enter_phase(Phase::FORWARD).unwrap();
            sim.mvm_batch(m, &xs, &mut ys).unwrap();
            sim.mvm(m, &xs[..rows], &mut ys[..cols]).unwrap();
            sim.enter_phase(Phase::BACKWARD).unwrap();
            sim.mvm_transposed_batch(m, &ds, &mut gs).unwrap();
            sim.enter_phase(Phase::UPDATE).unwrap();
            let u = factors(m, &xs, &ds, -2.0);
            // With it a rank-1 EaPU update of the same matrix: every tile
            // draws its sparse decisions (on the pool when there are
            // threads).
            let r1 = MatrixUpdate {
                matrix: m,
                request: UpdateRequest::Factors {
                    x: &xs[..rows],
                    delta: &ds[..cols],
                    scale: -0.5,
                },
            };
            let one = MatrixUpdate {
                matrix: m,
                request: UpdateRequest::Factors {
                    x: &xs[..rows],
                    delta: &ds[..cols],
                    scale: -2.0,
                },
            };
            let (xs2, ds2) = ([&xs[..], &xs].concat(), [&ds[..], &ds].concat());
            let wide = MatrixUpdate {
                matrix: m,
                request: UpdateRequest::Factors {
                    x: &xs2,
                    delta: &ds2,
                    scale: -1.0,
                },
            };
            let listed = match requests {
                Requests::BatchAndOne => [u, r1],
                Requests::Batch | Requests::BatchTwice => [u, u],
                Requests::One => [one, one],
                Requests::Wide => [wide, wide],
            };
            let n = if matches!(requests, Requests::Batch | Requests::One | Requests::Wide) {
                1
            } else {
                2
            };
            sim.update(&listed[..n], 0).unwrap();
            let out = ys.iter().chain(&gs).map(|v| v.to_bits()).collect();
            // Every tally's count and energy bits, in key order.
            let ledger = sim
                .ledger()
                .entries()
                .map(|(_, t)| (t.count, t.pj.to_bits()))
                .collect();
            steps.push((
                out,
                ledger,
                sim.now().ps(),
                sim.events(),
                sim.writes().cell_writes,
                // The timing breakdown, and each tile's busy time.
                format!(
                    "{:?} {:?}",
                    sim.timing,
                    sim.tiles.iter().map(|t| t.busy_ps).collect::<Vec<_>>()
                ),
            ));
        }
        steps
    }

    /// Two updates issued back to back in the pipelined schedule, with no
    /// read between them, are two write operations of their own: each
    /// executes its update's phases (the first used to run both, and the
    /// second then found none and panicked). Both plans are made before
    /// either executes, as when one `update` call carries both requests,
    /// and the cells end the same as then.
    #[test]
    fn back_to_back_pipelined_updates_each_write_their_own_phases() {
        let (chip, model) = pipelined_on(("2", "4"), &[]);
        let (rows, cols) = (5, 9);
        let w = test_weights(rows * cols);
        let xs: Vec<f32> = (0..rows).map(|i| (i as f32 * 0.71).cos()).collect();
        let ds: Vec<f32> = (0..cols).map(|i| (i as f32 * 0.29).sin() * 0.3).collect();
        let run = |one_call: bool| {
            let mut sim = ChipSim::new(chip.clone(), model.clone(), 7).unwrap();
            let m = sim.place(rows, cols, &w);
            sim.enter_phase(Phase::UPDATE).unwrap();
            let u = MatrixUpdate {
                matrix: m,
                request: UpdateRequest::Factors {
                    x: &xs,
                    delta: &ds,
                    scale: -20.0,
                },
            };
            if one_call {
                sim.update(&[u, u], 0).unwrap();
            } else {
                sim.update(&[u], 0).unwrap();
                sim.update(&[u], 0).unwrap();
            }
            sim.finish_pending().unwrap();
            let mut y = vec![0.0f32; cols];
            sim.enter_phase(Phase::FORWARD).unwrap();
            sim.mvm(m, &xs, &mut y).unwrap();
            let writes = sim.writes().cell_writes;
            (y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), writes)
        };
        let (a, b) = (run(false), run(true));
        assert!(a.1 > 0, "no writes");
        assert_eq!(a, b);
    }

    /// The write operations of an update run back to back
    /// (`writes_back_to_back`) leave everything as their queued events do:
    /// outputs, every tally, the time, the event count, the writes, the
    /// timing breakdown and each tile's busy time, step by step, on 1 and
    /// 2 threads (their phases run at their start events, or ahead on the
    /// pool).
    #[test]
    fn writes_back_to_back_match_their_queued_events() {
        for threads in [1, 2] {
            let fast = threaded_steps_with(threads, "sequential", false);
            let queued = threaded_steps_with(threads, "sequential", true);
            assert!(fast.last().unwrap().4 > 0, "no writes");
            for (step, (a, b)) in fast.iter().zip(&queued).enumerate() {
                assert_eq!(a, b, "{threads} threads, step {step}");
            }
        }
    }

    #[test]
    fn writes_run_as_planned_with_the_bits_of_their_events() {
        // `bp` writes every weight: each tile's writes run as soon as
        // they are planned (`write_dense_now`), a few tiles at a time,
        // instead of after every tile's; EaPU's sampled writes on a pool
        // too, a part of the tiles at a time, where the matrix is larger
        // than a part. On 1, 2 and 3 threads, with
        // the engine's parts and with parts of two tiles (of the nine),
        // these must be the bits of the writes run through the event
        // queue, and a matrix listed twice must still get one write
        // operation a tile.
        for rule in ["bp", "eapu"] {
            for requests in [Requests::Batch, Requests::BatchTwice] {
                let queued = threaded_steps_of(1, "sequential", Writes::Queued, rule, requests);
                assert!(queued.last().unwrap().4 > queued[0].4, "no writes");
                for threads in [1, 2, 3] {
                    for writes in [Writes::AsPlanned, Writes::AsPlannedByTwo] {
                        let now = threaded_steps_of(threads, "sequential", writes, rule, requests);
                        for (step, (a, b)) in now.iter().zip(&queued).enumerate() {
                            assert!(a == b, "{rule}, {threads} threads, step {step}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn waiting_writes_kept_by_weight_have_the_bits_of_a_list() {
        // Dense writes that wait for their events (through the queue, the
        // pipelined schedule) are kept by weight and rebuilt phase by
        // phase: every step must be the one of the writes kept as a list,
        // on 1 and 2 threads, with the matrix listed once and twice (two
        // plans pending on a tile).
        for schedule in ["sequential", "pipelined"] {
            for rule in ["bp", "write-verify"] {
                for requests in [Requests::Batch, Requests::BatchTwice] {
                    let listed =
                        threaded_steps_of(1, schedule, Writes::QueuedListed, rule, requests);
                    assert!(listed.last().unwrap().4 > listed[0].4, "no writes");
                    for threads in [1, 2] {
                        let by_weight =
                            threaded_steps_of(threads, schedule, Writes::Queued, rule, requests);
                        for (step, (a, b)) in by_weight.iter().zip(&listed).enumerate() {
                            assert!(a == b, "{schedule}, {rule}, {threads} threads, step {step}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn waiting_writes_decided_again_have_the_bits_of_a_list() {
        // A 5 × 9 matrix on tiles of 4 × 8, 4 × 1, 1 × 8 and 1 × 1
        // weights, whose dense plans from a rank-1 request keep the
        // request's terms instead of the changes (fewer values than a
        // whole tile's weights), and from a rank-3 or rank-6 request the
        // changes; `bp` with and without whole pulses, `write-verify`, and
        // a device that relaxes (whose routing reads the cells' relaxed
        // values): every step must be the one of the writes kept as a
        // list, on 1 and 2 threads.
        let rules: [&[(&str, &str)]; 3] = [
            &[("rule.name", "bp")],
            &[("rule.name", "bp"), ("rule.bp.round_to_pulses", "true")],
            &[("rule.name", "write-verify")],
        ];
        let devices: [&[(&str, &str)]; 2] = [&[], &[("relax_rate_per_decade", "0.01")]];
        for schedule in ["pipelined", "sequential"] {
            for (r, rule) in rules.into_iter().enumerate() {
                for device in devices {
                    for requests in [Requests::One, Requests::BatchTwice, Requests::Wide] {
                        let on = Setting {
                            array: ("4", "16"),
                            rule,
                            device,
                        };
                        let listed =
                            threaded_steps_on(1, schedule, Writes::QueuedListed, requests, on);
                        assert!(listed.last().unwrap().4 > listed[0].4, "no writes");
                        for threads in [1, 2] {
                            let kept =
                                threaded_steps_on(threads, schedule, Writes::Queued, requests, on);
                            for (step, (a, b)) in kept.iter().zip(&listed).enumerate() {
                                assert!(
                                    a == b,
                                    "{schedule}, rule {r}, {device:?}, {threads} threads, step {step}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn waiting_writes_keep_the_terms_where_fewer_than_the_weights() {
        // `bp`, pipelined, a 5 × 9 matrix on tiles of 4 × 8, 4 × 1, 1 × 8
        // and 1 × 1 weights, its writes waiting: a whole tile's rank-r
        // terms are r · (4 + 8) values against its 32 weights, so every
        // tile's waiting plan keeps the matrix's terms at rank 2 (24), the
        // smaller tiles too, and its routed changes at rank 3 (36).
        let (chip, model) = pipelined_on(("4", "16"), &[("rule.name", "bp")]);
        let (rows, cols) = (5, 9);
        let w = test_weights(rows * cols);
        for (rank, decided) in [(1, true), (2, true), (3, false)] {
            let mut sim = ChipSim::new(chip.clone(), model.clone(), 7).unwrap();
            sim.queued_writes = true;
            let m = sim.place(rows, cols, &w);
            let xs: Vec<f32> = (0..rank * rows).map(|i| (i as f32 * 0.71).cos()).collect();
            let ds: Vec<f32> = (0..rank * cols)
                .map(|i| (i as f32 * 0.29).sin() * 0.1)
                .collect();
            sim.enter_phase(Phase::UPDATE).unwrap();
            sim.update(&[factors(m, &xs, &ds, -2.0)], 0).unwrap();
            let kinds: Vec<_> = sim.tiles.iter().map(|t| t.dense.block_kinds()).collect();
            assert_eq!(kinds.len(), 4);
            let want = if decided { (1, 0) } else { (0, 1) };
            assert!(kinds.iter().all(|&k| k == want), "rank {rank}: {kinds:?}");
        }
    }

    #[test]
    fn thread_counts_past_the_limit_are_refused() {
        let chip = Chip::builtin("eapu-180nm", &over(&[])).unwrap();
        let model = builtin_device("eapu-180nm", &over(&[])).unwrap();
        let mut sim = ChipSim::new(chip, model, 7).unwrap();
        let e = sim.set_threads(MAX_THREADS + 1).unwrap_err();
        assert!(
            matches!(e, EngineError::TooManyThreads { threads, max } if threads == MAX_THREADS + 1 && max == MAX_THREADS),
            "{e}"
        );
        assert!(
            e.to_string().contains("expected 0 (one per CPU) to 1024"),
            "{e}"
        );
        // Refused before anything changed: still this thread alone.
        assert_eq!(sim.threads(), 1);
        // One per CPU stays within the limit.
        sim.set_threads(0).unwrap();
        assert!((1..=MAX_THREADS).contains(&sim.threads()));
    }

    #[test]
    fn same_bits_for_one_and_many_threads() {
        for schedule in ["sequential", "pipelined"] {
            let one = threaded_steps(1, schedule);
            for threads in [2, 3] {
                let many = threaded_steps(threads, schedule);
                for (step, (a, b)) in one.iter().zip(&many).enumerate() {
                    assert_eq!(
                        a, b,
                        "{schedule}: step {step} differs between 1 and {threads} threads"
                    );
                }
            }
            // The steps did something: outputs and energy change, cells
            // are written.
            assert_ne!(one[0].0, one[5].0, "{schedule}: outputs never changed");
            assert!(one[5].1 != one[0].1);
            assert!(one[5].4 > one[0].4, "{schedule}: no writes");
        }
    }

    /// The default chip under the pipelined schedule, with `array` (rows,
    /// cells a row) and the settings `sets`, and the default device.
    fn pipelined_on(array: (&str, &str), sets: &[(&str, &str)]) -> (Chip, DeviceModel) {
        let mut all = vec![
            ("array.rows", array.0),
            ("array.cols", array.1),
            ("engine.schedule", "pipelined"),
        ];
        all.extend_from_slice(sets);
        let chip = Chip::builtin("eapu-180nm", &over(&all)).unwrap();
        (chip, builtin_device("eapu-180nm", &over(&[])).unwrap())
    }

    /// The factor request `scale · x δᵀ` for matrix `m`.
    fn factors<'a>(m: MatrixId, x: &'a [f32], delta: &'a [f32], scale: f32) -> MatrixUpdate<'a> {
        MatrixUpdate {
            matrix: m,
            request: UpdateRequest::Factors { x, delta, scale },
        }
    }

    /// `n` weights for the tests' matrices, in ±0.5.
    fn test_weights(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.37).sin() * 0.5).collect()
    }

    /// The default chip with tiles of 2 × 2 weights (2 rows × 4 cells):
    /// a 5 × 9 matrix spans 15 tiles.
    fn two_by_two_tiles() -> Chip {
        Chip::builtin(
            "eapu-180nm",
            &over(&[("array.rows", "2"), ("array.cols", "4")]),
        )
        .unwrap()
    }

    #[test]
    fn reads_computed_ahead_match_reads_computed_at_their_events() {
        // A batch computed ahead must agree with a one-vector-at-a-time
        // drive of the same MVMs whose reads compute at their events.
        let chip = two_by_two_tiles();
        let model = builtin_device("eapu-180nm", &over(&[])).unwrap();
        let w = test_weights(5 * 9);
        let xs: Vec<f32> = (0..3 * 5).map(|i| (i as f32 * 0.71).cos()).collect();
        let run = |batched: bool| {
            let mut sim = ChipSim::new(chip.clone(), model.clone(), 3).unwrap();
            let m = sim.place(5, 9, &w);
            let mut ys = vec![0.0f32; 3 * 9];
            if batched {
                sim.mvm_batch(m, &xs, &mut ys).unwrap();
            } else {
                // A busy tile (a write queued) stops reads computing ahead.
                for (x, y) in xs.chunks_exact(5).zip(ys.chunks_exact_mut(9)) {
                    sim.tiles[0].reserved = true;
                    let ahead = sim.compute_ahead(m, false, x, 5);
                    sim.tiles[0].reserved = false;
                    assert!(!ahead);
                    sim.mvm_directed(m, false, x, y, false).unwrap();
                }
            }
            (
                ys.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                sim.ledger().total_pj().to_bits(),
            )
        };
        assert_eq!(run(true), run(false));
    }

    #[test]
    fn relaxing_reads_ahead_on_a_pool_nest_and_keep_the_bits() {
        // A relaxing array brings its cells to the read's time in a pass
        // that runs on the pool itself (rows in blocks, one per thread),
        // inside the tiles' parallel reads ahead: a thread waiting in it
        // may take another tile's read. Its working memory must not be
        // one the waiting thread holds (that waited forever), and the
        // bits must be those of one thread. (With the memory held through
        // the tile's read, this test hung in six runs of six. It runs on
        // a thread of its own, so that a hang fails it instead of
        // stopping the tests.)
        // Tiles of 128 × 128 weights (32,768 cells: up to eight blocks of
        // a pass), more of them than threads.
        let chip = Chip::builtin("eapu-180nm", &over(&[])).unwrap();
        let model =
            builtin_device("eapu-180nm", &over(&[("relax_rate_per_decade", "0.05")])).unwrap();
        let (rows, cols) = (4 * chip.tile_rows, 8 * chip.tile_cols);
        let w = test_weights(rows * cols);
        let xs: Vec<f32> = (0..12 * rows).map(|i| (i as f32 * 0.71).cos()).collect();
        let run = move |threads: usize| {
            let mut sim = ChipSim::new(chip.clone(), model.clone(), 3).unwrap();
            sim.set_threads(threads).unwrap();
            let m = sim.place(rows, cols, &w);
            assert_eq!(sim.tiles.len(), 32);
            let mut ys = vec![0.0f32; 12 * cols];
            let pool = sim.thread_pool();
            let mut steps = || {
                for (x, y) in xs.chunks_exact(rows).zip(ys.chunks_exact_mut(cols)) {
                    sim.advance(1_000_000_000).unwrap(); // 1 ms: the cells move
                    sim.mvm(m, x, y).unwrap();
                }
                sim.ledger().total_pj().to_bits()
            };
            let pj = match pool {
                Some(pool) => pool.install(steps),
                None => steps(),
            };
            (ys.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), pj)
        };
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let one = run(1);
            for _ in 0..4 {
                for threads in [3, 8, 16] {
                    done.send((threads, run(threads) == one)).unwrap();
                }
            }
        });
        for _ in 0..12 {
            let (threads, same) = finished
                .recv_timeout(std::time::Duration::from_secs(120))
                .expect("the reads on a pool hung (or failed)");
            assert!(same, "{threads} threads differ from one");
        }
    }

    #[test]
    fn relaxing_reads_of_one_vector_computed_ahead_match_their_events() {
        // Cells that relax: a one-vector MVM on idle tiles is computed
        // ahead (each tile brought to the read's start, now), a batch is
        // not; both must agree with reads computed at their events, with
        // time passing between the reads.
        let chip = two_by_two_tiles();
        let model = builtin_device(
            "eapu-180nm",
            &over(&[("relax_rate_per_decade", "0.05"), ("relax_noise_us", "0.3")]),
        )
        .unwrap();
        let w = test_weights(5 * 9);
        let xs: Vec<f32> = (0..3 * 5).map(|i| (i as f32 * 0.71).cos()).collect();
        let run = |ahead: bool| {
            let mut sim = ChipSim::new(chip.clone(), model.clone(), 3).unwrap();
            let m = sim.place(5, 9, &w);
            assert!(sim.tiles.len() > 1);
            let mut ys = [0.0f32; 3 * 9];
            for (x, y) in xs.chunks_exact(5).zip(ys.chunks_exact_mut(9)) {
                sim.advance(1_000_000_000).unwrap(); // 1 ms: the cells move
                if ahead {
                    sim.mvm(m, x, y).unwrap();
                } else {
                    sim.tiles[0].reserved = true;
                    assert!(!sim.compute_ahead(m, false, x, 5));
                    sim.tiles[0].reserved = false;
                    sim.mvm_directed(m, false, x, y, false).unwrap();
                }
            }
            (
                ys.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                sim.ledger().total_pj().to_bits(),
            )
        };
        assert_eq!(run(true), run(false));
        // A batch (read at each event: its later vectors start later)
        // against one vector at a time.
        let batch = |batched: bool| {
            let mut sim = ChipSim::new(chip.clone(), model.clone(), 3).unwrap();
            let m = sim.place(5, 9, &w);
            sim.advance(1_000_000_000).unwrap();
            let mut ys = [0.0f32; 3 * 9];
            if batched {
                sim.mvm_batch(m, &xs, &mut ys).unwrap();
            } else {
                for (x, y) in xs.chunks_exact(5).zip(ys.chunks_exact_mut(9)) {
                    sim.mvm_directed(m, false, x, y, false).unwrap();
                }
            }
            (
                ys.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                sim.ledger().total_pj().to_bits(),
                sim.now(),
            )
        };
        assert_eq!(batch(true), batch(false));
        // One vector computes ahead; a batch of three does not.
        let mut sim = ChipSim::new(chip.clone(), model.clone(), 3).unwrap();
        let m = sim.place(5, 9, &w);
        assert!(!sim.compute_ahead(m, false, &xs, 5));
        assert!(sim.compute_ahead(m, false, &xs[..5], 5));
    }

    #[test]
    fn chip_sim_is_send() {
        fn send<T: Send>() {}
        send::<ChipSim>();
    }

    /// The engine's EaPU path on the default `digital-mac` unit (sparse
    /// sampling, plan from the sparse list) writes each weight with EaPU's
    /// probability `p = min(1, |ΔG|/ΔG_th)`, each written weight once with
    /// `sign(ΔG)·ΔG_th` (or ΔG at or above the threshold): N = 20 000
    /// updates of a 12 × 16 tile (seed 4) whose requests span p from 0.002
    /// to 1. Each weight's count is binomial(N, p), so `|count − N p| ≤
    /// 5 √(N p (1 − p)) + 1` for all 192 weights with probability > 0.9999
    /// (5σ per weight), and the chi-square of the sub-threshold weights
    /// stays below its 99.99 % quantile (Wilson–Hilferty, z = 3.719).
    #[test]
    fn eapu_writes_each_weight_with_its_probability() {
        let (rows, cols) = (12usize, 16usize);
        let o = over(&[("array.rows", "12"), ("array.cols", "32")]);
        let chip = Chip::builtin("eapu-180nm", &o).unwrap();
        let model = builtin_device("eapu-180nm", &[]).unwrap();
        let mut sim = ChipSim::new(chip, model, 4).unwrap();
        let m = sim.place(rows, cols, &vec![0.0; rows * cols]);
        let x: Vec<f32> = (0..rows)
            .map(|i| match i {
                3 => 0.0,
                7 => 0.8,
                _ => (0.01 + 0.016 * i as f32) * if i % 2 == 0 { 1.0 } else { -1.0 },
            })
            .collect();
        let delta: Vec<f32> = (0..cols)
            .map(|j| match j {
                5 => 0.0,
                _ => (0.02 + 0.06 * j as f32) * if j % 3 == 0 { -1.0 } else { 1.0 },
            })
            .collect();
        let request = UpdateRequest::Factors {
            x: &x,
            delta: &delta,
            scale: -0.05,
        };
        let r_wg = sim.model.r_wg_us;
        let th = sim.rule.eapu_threshold_us().unwrap();
        let mut req = vec![0.0f32; rows * cols];
        let block = TileBlock {
            row0: 0,
            col0: 0,
            rows,
            cols,
        };
        request.requested_us(rows, cols, block, r_wg, &mut req);
        let p: Vec<f64> = req
            .iter()
            .map(|r| (f64::from(r.abs()) / f64::from(th)).min(1.0))
            .collect();
        assert!(p.contains(&1.0) && p.iter().any(|&q| q > 0.0 && q < 0.01));
        let n = 20_000u32;
        let mut writes = vec![0u32; rows * cols];
        let mut counts = FormCounts::default();
        let ti = sim.matrices[m.0].tiles[0];
        for _ in 0..n {
            let input = FormInput {
                unit: &sim.chip.update_unit,
                digital: &sim.chip.digital,
                request: &request,
                rows,
                cols,
                r_wg_us: r_wg,
                tile_index: ti,
                rank_p: None,
            };
            let tile = &mut sim.tiles[ti];
            let scratch = &mut sim.update_scratch;
            let (_, decided) =
                form_and_decide(&input, sim.rule.as_mut(), tile, scratch, &mut counts);
            assert_eq!(decided, Decided::Sparse);
            let cells = tile.cells.as_ref().unwrap();
            scratch.sparse.plan.fill_sparse(
                cells,
                &sim.model,
                &scratch.sparse.sampled,
                WriteMode::Program,
            );
            for w in scratch.sparse.plan.writes() {
                let k = w.cell as usize / 2;
                let r = req[k];
                let want = if r.abs() >= th { r } else { th.copysign(r) };
                // The pair's cell takes ±ΔG by polarity ([`CellArray::route`]).
                assert_eq!(w.dg_us.abs(), want.abs(), "weight {k}");
                writes[k] += 1;
            }
        }
        let nf = f64::from(n);
        let (mut chi2, mut df) = (0.0f64, 0.0f64);
        for (k, &q) in p.iter().enumerate() {
            let c = f64::from(writes[k]);
            let bound = 5.0 * (nf * q * (1.0 - q)).sqrt() + 1.0;
            assert!(
                (c - nf * q).abs() <= bound,
                "weight {k}: {c} writes, expected {:.1} (p = {q})",
                nf * q
            );
            if q > 0.0 && q < 1.0 {
                chi2 += (c - nf * q).powi(2) / (nf * q * (1.0 - q));
                df += 1.0;
            }
        }
        let h = 2.0 / (9.0 * df);
        let quantile = df * (1.0 - h + 3.719 * h.sqrt()).powi(3);
        assert!(
            chi2 < quantile,
            "chi-square {chi2} over {df} weights, bound {quantile}"
        );
        // Charged as the dense rule: a compare per weight per update.
        assert_eq!(
            counts.decision.compares,
            (rows * cols) as u64 * u64::from(n)
        );
    }
}
