//! One crossbar tile: its cells (or digital weights), periphery state,
//! random streams, scratch buffers and resource bookkeeping.

use crate::chip::Chip;
use crate::queue::TileOp;
use crate::read::{self, ReadArith};
use crate::reference::Fsm;
use crate::stats::Breakdown;
use aimsim_controller::{set_write_pulses, PlannedWrite, WriteMode, WritePlan};
use aimsim_core::{stream, Rng, SimTime};
use aimsim_device::{CellArray, DeviceModel, Polarity};
use aimsim_energy::{EnergyLedger, Phase};
use aimsim_periphery::Adc;
use std::collections::VecDeque;

/// One pulse phase of a tile's pending writes: `len` writes of
/// [`Tile::phase_writes`] from `start`; or, if `dense`, the first `len`
/// writes of its polarity stored by weight from weight `start` of
/// [`DenseWrites`] ([`Tile::push_phases_compact`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PhaseSpan {
    pub(crate) row: u32,
    pub(crate) polarity: Polarity,
    pub(crate) dense: bool,
    pub(crate) start: u32,
    pub(crate) len: u32,
}

/// One crossbar tile with its periphery state and random streams.
pub(crate) struct Tile {
    pub(crate) id: u32,
    /// The matrix placed on it.
    pub(crate) matrix: usize,
    pub(crate) row0: usize,
    pub(crate) col0: usize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// The device cells; `None` when the rule is digital (`ideal`).
    pub(crate) cells: Option<CellArray>,
    /// Digital weights, used only without a device.
    pub(crate) weights: Vec<f32>,
    pub(crate) rng_read: Rng,
    pub(crate) rng_write: Rng,
    pub(crate) rng_decide: Rng,
    /// Stochastic rounding of the `low-precision` update unit's codes.
    pub(crate) rng_form: Rng,
    /// Normalised inputs, row voltages and outputs of the current read
    /// (the outputs of a read computed ahead stay in `ahead_out`: see
    /// [`Tile::read_out`]).
    pub(crate) x: Vec<f32>,
    pub(crate) v: Vec<f32>,
    pub(crate) out: Vec<f32>,
    /// Where the last read's outputs are in `ahead_out` when it was
    /// computed ahead ([`Tile::take_ahead`]); `None`: in `out`.
    pub(crate) out_ahead: Option<std::ops::Range<usize>>,
    /// Reads computed ahead of their events ([`Tile::compute_ahead`]),
    /// oldest first, and their outputs (`lines` values each) from
    /// `ahead_pos` on.
    pub(crate) ahead: VecDeque<ReadArith>,
    pub(crate) ahead_out: Vec<f32>,
    pub(crate) ahead_pos: usize,
    /// Cycles the update-forming unit and the rule's decisions take before
    /// the tile's writes start.
    pub(crate) form_cycles: u64,
    /// Pending pulse phases, oldest first, over the planned writes of
    /// `phase_writes` (both buffers reused from update to update).
    pub(crate) phases: VecDeque<PhaseSpan>,
    /// Phases pushed since the last write operation was issued.
    pub(crate) unissued_phases: u32,
    /// The phase count of each issued write operation not yet started, in
    /// issue order: an operation executes its own update's phases only.
    pub(crate) write_ops: VecDeque<u32>,
    /// Phases left of the write operation in progress.
    pub(crate) op_phases: u32,
    pub(crate) phase_writes: Vec<PlannedWrite>,
    /// Pending writes of plans that write most weights, stored by weight
    /// ([`Tile::push_phases_compact`]).
    pub(crate) dense: DenseWrites,
    /// The controller phase the pending writes are charged to.
    pub(crate) write_phase_tag: Phase,
    /// ADC full-scale calibration of forward (0) and transposed (1) reads.
    pub(crate) adc_range: [AdcRange; 2],
    /// ps the tile was busy, for utilisation.
    pub(crate) busy_ps: u64,
    /// ps its ADCs were converting.
    pub(crate) adc_busy_ps: u64,
    /// Reads and pulse phases executed.
    pub(crate) reads: u64,
    pub(crate) write_phases: u64,
    pub(crate) op_start: SimTime,
    /// Reserved by an issued operation (running or about to start).
    pub(crate) reserved: bool,
    /// Operations issued while reserved, in program order: (issue time, ready time, op).
    pub(crate) pending: VecDeque<(SimTime, SimTime, TileOp)>,
    /// The running operation's time breakdown.
    pub(crate) current: Breakdown,
    /// Since when a pulse phase has waited for the write budget.
    pub(crate) budget_wait_since: Option<SimTime>,
    /// State in the fixed-step reference.
    pub(crate) fsm: Fsm,
    /// When the operation started by `start_op` begins.
    pub(crate) start_at: SimTime,
    /// The running write operation's phases, executed ahead of their
    /// events on the thread pool (`crate::write::write_ahead`).
    pub(crate) write_ahead: Option<crate::write::WriteAhead>,
    /// The energy those phases charged, in order, for the ledger.
    pub(crate) write_log: aimsim_energy::ChargeRun,
    /// The ledger slots of this tile's read charges, and the charges of
    /// the reads computed ahead, made on the pool thread (`compute_ahead`
    /// with a ledger) for the calling thread to apply.
    pub(crate) read_log: crate::read::ReadLog,
    /// The ledger slots of the write phases' charges (SET cell, RESET
    /// cell, SET driver, RESET driver), by phase tag.
    pub(crate) write_slots: crate::read::LedgerSlots<4>,
    /// Whether the reads in `ahead` were charged already (`read_log`).
    pub(crate) ahead_charged: bool,
}

/// Working memory of [`Tile::compute_ahead`] on cells: the normalised
/// inputs and line voltages of the reads computed ahead, their read
/// powers and `Σ V²`, and the kernel's scratch. Every value is written
/// before it is read, so one of these serves every tile a thread computes
/// (the simulator keeps one per thread, not per tile: at batch 32 these
/// are about 50 KB for a 128 × 128 tile). The buffers grow but do not
/// shrink ([`prefix`]).
#[derive(Default)]
pub(crate) struct AheadScratch {
    x: Vec<f32>,
    v: Vec<f32>,
    power: Vec<f64>,
    sum_v2: Vec<f64>,
    kernel: Vec<f32>,
}

/// A tile's pending writes stored by weight ([`Tile::push_phases_compact`]):
/// one block a plan, of the tile's `rows × cols` weights (row-major) and
/// padded to a multiple of 64 ([`DenseWrites::stride`]), with each
/// weight's routed change (µS) in `dg`, and three bits a weight: whether
/// it has a SET write, a RESET write, and which cell of its pair is
/// written (set: `G⁻`). The writes of the phase being run are rebuilt in
/// `decoded`.
#[derive(Default)]
pub(crate) struct DenseWrites {
    dg: Vec<f32>,
    /// Bit sets over `dg`'s indices: `writes[0]` SET writes, `writes[1]`
    /// RESET writes.
    writes: [Vec<u64>; 2],
    side: Vec<u64>,
    decoded: Vec<PlannedWrite>,
}

impl DenseWrites {
    /// The length of one plan's block for a tile of `rows × cols`
    /// weights: the weights rounded up to whole 64-bit words, so that
    /// blocks are dropped without shifting bits.
    fn stride(rows: usize, cols: usize) -> usize {
        (rows * cols).next_multiple_of(64)
    }

    /// Drops the first `n` weights' entries (whole blocks).
    fn drain(&mut self, n: usize) {
        debug_assert_eq!(n % 64, 0);
        self.dg.drain(..n);
        for bits in self.writes.iter_mut().chain([&mut self.side]) {
            bits.drain(..n / 64);
        }
    }

    /// Appends a block of `stride` weights with no writes; returns where
    /// it starts.
    fn grow(&mut self, stride: usize) -> usize {
        let base = self.dg.len();
        debug_assert!(base + stride <= u32::MAX as usize, "checked by the caller");
        self.dg.reserve_exact(stride);
        self.dg.resize(base + stride, 0.0);
        let words = (base + stride) / 64;
        for bits in self.writes.iter_mut().chain([&mut self.side]) {
            bits.reserve_exact(words - bits.len());
            bits.resize(words, 0);
        }
        base
    }

    /// Stores `writes` (a phase's: one polarity, in cell order) for the
    /// tile stored from `base`, each 64-bit word of the bit sets made in a
    /// register and stored once a call.
    fn store(&mut self, base: usize, writes: &[PlannedWrite], pol: Polarity) {
        let bits = &mut self.writes[usize::from(pol == Polarity::Reset)];
        let (mut word, mut acc, mut acc_side) = (usize::MAX, 0u64, 0u64);
        for w in writes {
            let i = base + (w.cell / 2) as usize;
            self.dg[i] = w.dg_us;
            if i / 64 != word {
                if word != usize::MAX {
                    bits[word] |= acc;
                    self.side[word] |= acc_side;
                }
                (word, acc, acc_side) = (i / 64, 0, 0);
            }
            let bit = 1u64 << (i % 64);
            acc |= bit;
            acc_side |= bit * u64::from(w.cell & 1);
        }
        if word != usize::MAX {
            bits[word] |= acc;
            self.side[word] |= acc_side;
        }
    }

    /// The planned writes of the pending phase `ph` of a tile of `rows ×
    /// cols` weights: its run of `list` (the tile's `phase_writes`), or,
    /// for a phase stored by weight, its writes rebuilt (the `len` writes
    /// of its polarity from `start`, cells in order, each change with its
    /// pulses, [`aimsim_controller::write_pulses`]): the list
    /// [`Tile::push_phases`] would hold.
    pub(crate) fn phase<'a>(
        &'a mut self,
        ph: &PhaseSpan,
        (rows, cols): (usize, usize),
        list: &'a [PlannedWrite],
        model: &DeviceModel,
        mode: WriteMode,
    ) -> &'a [PlannedWrite] {
        if !ph.dense {
            return &list[ph.start as usize..(ph.start + ph.len) as usize];
        }
        let start = ph.start as usize;
        let row = ph.row as usize;
        let row_base = start - start % Self::stride(rows, cols) + row * cols;
        let row_cell = 2 * row * cols;
        let writes = &self.writes[usize::from(ph.polarity == Polarity::Reset)][..];
        let (dg, side) = (&self.dg[..], &self.side[..]);
        let blank = PlannedWrite {
            cell: 0,
            dg_us: 0.0,
            pulses: 0,
        };
        let out = &mut self.decoded;
        out.clear();
        out.resize(ph.len as usize, blank);
        // The phase's writes are the next set bits (a phase stays in its
        // row): visited one by one, not every weight.
        let mut word = start / 64;
        let mut bits = writes[word] & (!0u64 << (start % 64));
        for w in out.iter_mut() {
            while bits == 0 {
                word += 1;
                bits = writes[word];
            }
            let i = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let side = (side[word] >> (i % 64)) as usize & 1;
            w.cell = (row_cell + 2 * (i - row_base) + side) as u32;
            w.dg_us = dg[i];
        }
        // The pulses in a pass of their own: its divisions do not wait
        // for one another or for the search above.
        set_write_pulses(model, mode, out);
        out
    }
}

/// Where a tile sits in its matrix.
pub(crate) struct Placement {
    pub(crate) id: u32,
    pub(crate) matrix: usize,
    pub(crate) row0: usize,
    pub(crate) col0: usize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// The first `n` values of `buf`, which grows (with zeros) when shorter
/// but never shrinks: a tile alternates forward and transposed batches of
/// different sizes, and a buffer cut to the smaller size would be zeroed
/// again up to the larger one, though the reads write every value they
/// use.
fn prefix<T: Copy + Default>(buf: &mut Vec<T>, n: usize) -> &mut [T] {
    if buf.len() < n {
        buf.resize(n, T::default());
    }
    &mut buf[..n]
}

impl Tile {
    /// A tile holding the weights `w` (`rows × cols`, row-major): on a cell
    /// array drawn from the stream `tile{id}/cells` when `device` is given,
    /// else as digital weights.
    pub(crate) fn new(p: Placement, w: Vec<f32>, device: Option<&DeviceModel>, seed: u64) -> Tile {
        let Placement {
            id,
            matrix,
            row0,
            col0,
            rows,
            cols,
        } = p;
        let (cells, weights) = match device {
            Some(model) => {
                // The read caches wait for the tile's first read (see
                // `CellArray::new_deferred`: a lower peak while placing).
                let mut a = CellArray::new_deferred(
                    model,
                    rows,
                    cols,
                    &mut stream(seed, &format!("tile{id}/cells")),
                );
                a.set_weights(model, &w);
                (Some(a), Vec::new())
            }
            None => (None, w),
        };
        Tile {
            id,
            matrix,
            row0,
            col0,
            rows,
            cols,
            cells,
            weights,
            rng_read: stream(seed, &format!("tile{id}/read")),
            rng_write: stream(seed, &format!("tile{id}/write")),
            rng_decide: stream(seed, &format!("tile{id}/decide")),
            rng_form: stream(seed, &format!("tile{id}/form")),
            x: vec![0.0; rows.max(cols)],
            v: vec![0.0; rows.max(cols)],
            out: vec![0.0; rows.max(cols)],
            out_ahead: None,
            ahead: VecDeque::new(),
            ahead_out: Vec::new(),
            ahead_pos: 0,
            form_cycles: 0,
            phases: VecDeque::new(),
            unissued_phases: 0,
            write_ops: VecDeque::new(),
            op_phases: 0,
            phase_writes: Vec::new(),
            dense: DenseWrites::default(),
            write_phase_tag: Phase::UPDATE,
            adc_range: [AdcRange::default(); 2],
            busy_ps: 0,
            adc_busy_ps: 0,
            reads: 0,
            write_phases: 0,
            op_start: SimTime::ZERO,
            reserved: false,
            pending: VecDeque::new(),
            current: Breakdown::default(),
            start_at: SimTime::ZERO,
            write_ahead: None,
            write_log: aimsim_energy::ChargeRun::default(),
            read_log: crate::read::ReadLog::default(),
            write_slots: crate::read::LedgerSlots::default(),
            ahead_charged: false,
            budget_wait_since: None,
            fsm: Fsm::Idle,
        }
    }

    /// Computes the tile's part of `n` reads ahead of their events: input
    /// vector `b` is `input[b·n_in..]`, scaled by `inv_scale[b]` on a
    /// device. The tile's random streams are drawn in the order the reads
    /// will run, so the results are the bits the events would compute;
    /// [`crate::ChipSim`] calls this only while nothing else can change the
    /// tile before those reads (idle, a device that does not relax).
    /// With `charges` (the ledger, read only, and the phase), each read's
    /// energy is charged into `read_log` too, in read order, and the reads
    /// are marked charged (`ahead_charged`). `scratch` is working memory
    /// (any thread's).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn compute_ahead(
        &mut self,
        chip: &Chip,
        model: &DeviceModel,
        transposed: bool,
        now: SimTime,
        input: &[f32],
        n_in: usize,
        inv_scale: &[f32],
        device: bool,
        charges: Option<(&EnergyLedger, Phase)>,
        scratch: &mut AheadScratch,
    ) {
        self.ahead_charged = charges.is_some();
        let (off, len, lines) = if transposed {
            (self.col0, self.cols, self.rows)
        } else {
            (self.row0, self.rows, self.cols)
        };
        self.ahead_pos = 0;
        if self.cells.is_some() {
            self.device_ahead(
                chip, model, transposed, now, input, n_in, inv_scale, charges, scratch,
            );
            return;
        }
        self.ahead_out.clear();
        let shape = (self.id, self.rows, self.cols);
        for (x, &inv) in input.chunks_exact(n_in).zip(inv_scale) {
            for (d, &s) in self.x.iter_mut().zip(&x[off..off + len]) {
                *d = if device { s * inv } else { s };
            }
            let a = read::compute(chip, model, self, transposed, now);
            self.read_log.charge_ahead(chip, shape, a, charges);
            self.ahead.push_back(a);
            self.ahead_out.extend_from_slice(&self.out[..lines]);
        }
    }

    /// [`Tile::compute_ahead`] of reads on cells: the array's currents for
    /// all vectors as one matrix-matrix product, then each read's noise,
    /// ADC and figures in vector order (the order of the tile's random
    /// draws when the reads run one by one).
    #[allow(clippy::too_many_arguments)]
    fn device_ahead(
        &mut self,
        chip: &Chip,
        model: &DeviceModel,
        transposed: bool,
        now: SimTime,
        input: &[f32],
        n_in: usize,
        inv_scale: &[f32],
        charges: Option<(&EnergyLedger, Phase)>,
        scratch: &mut AheadScratch,
    ) {
        let (off, len, lines) = if transposed {
            (self.col0, self.cols, self.rows)
        } else {
            (self.row0, self.rows, self.cols)
        };
        let n = inv_scale.len();
        let shape = (self.id, self.rows, self.cols);
        let cells = self.cells.as_mut().expect("device_ahead needs cells");
        cells.advance_to(model, now.seconds());
        cells.prepare_read(model, transposed);
        let AheadScratch {
            x: ahead_x,
            v: ahead_v,
            power: ahead_power,
            sum_v2: ahead_sum_v2,
            kernel,
        } = scratch;
        let xs = prefix(ahead_x, n * len);
        let vs = prefix(ahead_v, n * len);
        for ((x, &inv), (xn, v)) in input
            .chunks_exact(n_in)
            .zip(inv_scale)
            .zip(xs.chunks_exact_mut(len).zip(vs.chunks_exact_mut(len)))
        {
            for (d, &s) in xn.iter_mut().zip(&x[off..off + len]) {
                *d = s * inv;
            }
            chip.dac.convert(xn, v);
        }
        // Every output is written below (the forward product zeroes its
        // outputs first).
        let outs = prefix(&mut self.ahead_out, n * lines);
        let powers = prefix(ahead_power, n);
        let sums_v2 = prefix(ahead_sum_v2, n);
        let cells = self.cells.as_ref().expect("checked above");
        if transposed {
            cells.mvm_backward_batch_noiseless(vs, outs, powers, sums_v2, kernel);
        } else {
            cells.mvm_forward_batch_noiseless(vs, outs, kernel);
            cells.forward_powers(vs, powers, sums_v2);
        }
        for (b, (xn, out)) in xs
            .chunks_exact(len)
            .zip(outs.chunks_exact_mut(lines))
            .enumerate()
        {
            let (power_uw, sum_v2) = (powers[b], sums_v2[b]);
            cells.add_read_noise(model, sum_v2, out, &mut self.rng_read);
            let a = read::convert(
                chip,
                model,
                cells,
                &mut self.rng_read,
                &mut self.adc_range,
                !transposed,
                xn,
                out,
                power_uw,
            );
            self.read_log.charge_ahead(chip, shape, a, charges);
            self.ahead.push_back(a);
        }
    }

    /// The next read computed ahead; its outputs become the last read's
    /// ([`Tile::read_out`]) where they are, not copied.
    pub(crate) fn take_ahead(&mut self) -> Option<ReadArith> {
        let a = self.ahead.pop_front()?;
        let p = self.ahead_pos;
        self.out_ahead = Some(p..p + a.lines);
        self.ahead_pos += a.lines;
        Some(a)
    }

    /// The outputs of the tile's last read: in `ahead_out` for a read
    /// computed ahead, else in `out` (as many as the tile has lines; the
    /// read's own count is its [`ReadArith::lines`]).
    pub(crate) fn read_out(&self) -> &[f32] {
        match &self.out_ahead {
            Some(r) => &self.ahead_out[r.clone()],
            None => &self.out,
        }
    }

    /// The outputs of vector `b` of the reads computed ahead, `lines`
    /// each ([`Tile::compute_ahead`]; valid until the next).
    pub(crate) fn ahead_output(&self, b: usize, lines: usize) -> &[f32] {
        &self.ahead_out[b * lines..(b + 1) * lines]
    }

    /// Forgets reads computed ahead (after an error stopped them).
    pub(crate) fn drop_ahead(&mut self) {
        self.ahead_charged = false;
        self.ahead.clear();
        self.ahead_out.clear();
        self.ahead_pos = 0;
        self.out_ahead = None;
    }

    /// Cells the next pulse phase pulses (0 if none is pending).
    pub(crate) fn next_phase_cells(&self) -> u32 {
        self.phases.front().map_or(0, |p| p.len)
    }

    /// Appends `plan`'s pulse phases (at most `max_parallel` cells each)
    /// to the pending ones. The writes of phases already executed are
    /// dropped first, so `phase_writes` holds only pending writes and,
    /// once grown, allocates nothing.
    pub(crate) fn push_phases(&mut self, plan: &WritePlan, max_parallel: usize) {
        let done = self
            .phases
            .iter()
            .find(|p| !p.dense)
            .map_or(self.phase_writes.len(), |p| p.start as usize);
        if done > 0 {
            self.phase_writes.drain(..done);
            for p in self.phases.iter_mut().filter(|p| !p.dense) {
                p.start -= done as u32;
            }
        }
        // The phases are consecutive runs of the plan's flat list of
        // writes, in its order: the list is copied once (not a phase at a
        // time, a library call for a write or two each), and each phase
        // spans its run of the copy.
        let mut at = self.phase_writes.len();
        self.phase_writes.extend_from_slice(plan.writes());
        for ph in plan.phases(max_parallel) {
            debug_assert!(self.phase_writes[at..].starts_with(ph.writes));
            self.phases.push_back(PhaseSpan {
                row: ph.row,
                polarity: ph.polarity,
                dense: false,
                start: at as u32,
                len: ph.writes.len() as u32,
            });
            at += ph.writes.len();
            self.unissued_phases += 1;
        }
        debug_assert_eq!(at, self.phase_writes.len(), "phases cover the plan");
    }

    /// [`Tile::push_phases`], but a plan that writes at least a third of
    /// the tile's weights is stored by weight ([`DenseWrites`]): 4 B a
    /// weight and 3 bits, not 12 B a write. A rule that writes every
    /// weight (`bp`, `write-verify`) then holds about 2.2 B a cell for
    /// each tile whose writes wait for their events (the pipelined
    /// schedule, a write budget), not 6. Each phase's writes are rebuilt
    /// when it runs ([`DenseWrites::phase`]), the same writes in the same
    /// order.
    pub(crate) fn push_phases_compact(&mut self, plan: &WritePlan, max_parallel: usize) {
        let weights = self.rows * self.cols;
        if plan.cell_writes() * 3 < weights {
            self.push_phases(plan, max_parallel);
            return;
        }
        // The blocks of plans whose phases have all run are dropped.
        let stride = DenseWrites::stride(self.rows, self.cols);
        let done = self
            .phases
            .iter()
            .find(|p| p.dense)
            .map_or(self.dense.dg.len(), |p| {
                p.start as usize - p.start as usize % stride
            });
        if done > 0 {
            self.dense.drain(done);
            for p in self.phases.iter_mut().filter(|p| p.dense) {
                p.start -= done as u32;
            }
        }
        // (Phases index the blocks with `u32`: past that, a list.)
        if self.dense.dg.len() + stride > u32::MAX as usize {
            self.push_phases(plan, max_parallel);
            return;
        }
        let base = self.dense.grow(stride);
        for ph in plan.phases(max_parallel) {
            self.dense.store(base, ph.writes, ph.polarity);
            self.phases.push_back(PhaseSpan {
                row: ph.row,
                polarity: ph.polarity,
                dense: true,
                start: (base + (ph.writes[0].cell / 2) as usize) as u32,
                len: ph.writes.len() as u32,
            });
            self.unissued_phases += 1;
        }
    }

    /// Whether nothing of the tile's is in flight, queued or pending:
    /// a write operation issued now starts at once, its phases the ones
    /// pushed next.
    pub(crate) fn idle_for_writes(&self) -> bool {
        !self.reserved
            && self.pending.is_empty()
            && self.write_ops.is_empty()
            && self.phases.is_empty()
            && self.unissued_phases == 0
            && self.write_ahead.is_none()
            && self.cells.is_some()
    }

    /// Whether the tile's write operation was started (by `start_op`, not
    /// queued behind another operation) with pulse phases on cells still to
    /// run: what [`crate::write::write_ahead`] may run ahead of its events.
    pub(crate) fn may_write_ahead(&self) -> bool {
        self.reserved
            && self.pending.is_empty()
            && self.write_ops.len() == 1
            && self.cells.is_some()
            && self.write_ahead.is_none()
    }

    /// Takes the phases pushed since the last write operation as one new
    /// operation's; returns whether there were any.
    pub(crate) fn issue_write_op(&mut self) -> bool {
        if self.unissued_phases == 0 {
            return false;
        }
        self.write_ops.push_back(self.unissued_phases);
        self.unissued_phases = 0;
        true
    }

    /// Starts the oldest issued write operation: its phases are the next
    /// ones to execute.
    pub(crate) fn begin_write_op(&mut self) {
        self.op_phases = self
            .write_ops
            .pop_front()
            .expect("a write operation was issued");
    }

    /// Whether the write operation in progress has phases left.
    pub(crate) fn op_has_phases(&self) -> bool {
        self.op_phases > 0
    }
}

/// The full-scale state of one tile's ADCs for one read direction
/// (`adc.calibration_reads`, `adc.recalibrate_every`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AdcRange {
    /// Reads recorded in the current window.
    reads: u64,
    /// Largest `|I|` seen in them, µA.
    max_ua: f32,
    /// The calibrated step, once the first `calibration_reads` reads were seen.
    lsb_ua: Option<f32>,
}

impl AdcRange {
    /// The step to convert `currents_ua` with (`configured_ua` until
    /// calibrated); records their largest magnitude while calibrating, and
    /// sets the step of the next window at the end of each window (the
    /// first of `calibration_reads` reads, then, if re-ranging, every
    /// `recalibrate_every` reads).
    pub(crate) fn step(&mut self, adc: &Adc, configured_ua: f32, currents_ua: &[f32]) -> f32 {
        let step = self.lsb_ua.unwrap_or(configured_ua);
        let window = if self.lsb_ua.is_none() {
            adc.calibration_reads()
        } else {
            adc.recalibrate_every()
        };
        if self.reads < window {
            self.max_ua = currents_ua.iter().fold(self.max_ua, |m, i| m.max(i.abs()));
            self.reads += 1;
            if self.reads == window {
                // A window of zero currents keeps the step it had.
                if self.max_ua > 0.0 {
                    let fs = self.max_ua * adc.calibration_margin() as f32;
                    self.lsb_ua = Some(adc.lsb_for_full_scale(fs));
                }
                if self.lsb_ua.is_some() && adc.recalibrate_every() > 0 {
                    self.reads = 0;
                    self.max_ua = 0.0;
                }
            }
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::config::Check;
    use aimsim_periphery::{AdcKind, RawAdc};
    use rand::Rng as _;

    /// A tile of 5 × 70 weights (a row of cells crosses a 64-bit word of
    /// the side bits) on the default device, its weights spread over the
    /// window so that both cells of a pair get changes.
    fn written_tile(seed: u64) -> (Tile, DeviceModel) {
        let model = aimsim_device::builtin_device("eapu-180nm", &[]).unwrap();
        let (rows, cols) = (5, 70);
        let mut rng = stream(seed, "weights");
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| rng.random_range(-0.9..0.9))
            .collect();
        let p = Placement {
            id: 3,
            matrix: 0,
            row0: 0,
            col0: 0,
            rows,
            cols,
        };
        (Tile::new(p, w, Some(&model), seed), model)
    }

    /// Changes for every weight of `tile` (µS): a fraction `zeros` none,
    /// the rest of either sign, from 0.01 to 3 steps.
    fn changes(tile: &Tile, seed: u64, zeros: f64) -> Vec<f32> {
        let mut rng = stream(seed, "changes");
        (0..tile.rows * tile.cols)
            .map(|_| {
                if rng.random_bool(zeros) {
                    0.0
                } else {
                    let m: f32 = rng.random_range(0.01..3.0);
                    if rng.random_bool(0.5) {
                        m
                    } else {
                        -m
                    }
                }
            })
            .collect()
    }

    /// Every pending phase's writes, as a write phase would take them.
    fn pending(
        tile: &mut Tile,
        model: &DeviceModel,
        mode: WriteMode,
    ) -> Vec<(u32, Polarity, Vec<PlannedWrite>)> {
        let phases: Vec<PhaseSpan> = tile.phases.iter().copied().collect();
        phases
            .iter()
            .map(|ph| {
                let w =
                    tile.dense
                        .phase(ph, (tile.rows, tile.cols), &tile.phase_writes, model, mode);
                (ph.row, ph.polarity, w.to_vec())
            })
            .collect()
    }

    /// Asserts that two tiles' pending phases hold the same writes,
    /// naming the first phase that differs.
    fn same_pending(a: &mut Tile, b: &mut Tile, model: &DeviceModel, mode: WriteMode, at: &str) {
        let (pa, pb) = (pending(a, model, mode), pending(b, model, mode));
        assert_eq!(pa.len(), pb.len(), "{at}: pending phases");
        for (k, (x, y)) in pa.iter().zip(&pb).enumerate() {
            assert_eq!(x, y, "{at}: phase {k} of {}", pa.len());
        }
    }

    #[test]
    fn writes_stored_by_weight_are_rebuilt_as_listed() {
        let modes = [
            WriteMode::Program,
            // Fixed pulses drop the changes under half a step.
            WriteMode::Pulses { step_us: 0.4 },
        ];
        for (m, mode) in modes.into_iter().enumerate() {
            let (mut listed, model) = written_tile(11);
            let (mut stored, _) = written_tile(11);
            let cells = listed.cells.take().unwrap();
            let mut plan = WritePlan::default();
            // Dense plans, a sparse one (kept as a list), dense again,
            // with phases run between: the pending phases must hold the
            // same writes either way, in the same order.
            for (k, zeros) in [0.0, 0.3, 0.95, 0.1, 0.0].into_iter().enumerate() {
                let d = changes(&listed, 100 * m as u64 + k as u64, zeros);
                plan.fill_dense(&cells, &model, &d, mode);
                assert!(!plan.is_empty());
                listed.push_phases(&plan, 4);
                stored.push_phases_compact(&plan, 4);
                let by_weight = stored.phases.back().unwrap().dense;
                assert_eq!(by_weight, zeros < 0.5, "plan {k}: stored by weight?");
                // Only the blocks of plans with phases pending are kept,
                // the oldest first.
                let stride = DenseWrites::stride(stored.rows, stored.cols);
                let blocks: Vec<usize> = stored
                    .phases
                    .iter()
                    .filter(|p| p.dense)
                    .map(|p| p.start as usize / stride)
                    .collect();
                if let (Some(&first), Some(&last)) = (blocks.first(), blocks.last()) {
                    assert_eq!(first, 0, "plan {k}");
                    assert_eq!(stored.dense.dg.len(), (last + 1) * stride, "plan {k}");
                }
                let at = format!("mode {m}, plan {k}");
                same_pending(&mut listed, &mut stored, &model, mode, &at);
                // Run (drop) some of the oldest phases (60–90 a dense
                // plan here): the first plan's have all run when the
                // fourth is pushed, which drops its block.
                for _ in 0..50 * k {
                    listed.phases.pop_front();
                    stored.phases.pop_front();
                }
                same_pending(&mut listed, &mut stored, &model, mode, &at);
            }
            // A new plan once every phase has run starts the storage over.
            listed.phases.clear();
            stored.phases.clear();
            let d = changes(&listed, 7, 0.0);
            plan.fill_dense(&cells, &model, &d, mode);
            listed.push_phases(&plan, 32);
            stored.push_phases_compact(&plan, 32);
            assert_eq!(stored.dense.dg.len(), 384, "350 weights, padded");
            let at = format!("mode {m}, last plan");
            same_pending(&mut listed, &mut stored, &model, mode, &at);
            assert_eq!(listed.unissued_phases, stored.unissued_phases);
        }
    }

    fn adc(recalibrate_every: u64) -> Adc {
        let raw = RawAdc {
            kind: AdcKind::Sar,
            bits: 8,
            full_scale_ua: 500.0,
            backward_full_scale_ua: None,
            adcs_per_tile: 8,
            energy_pj: None,
            walden_fom_fj: Some(100.0),
            noise_lsb: 0.0,
            offset_lsb: 0.0,
            conversion_cycles: None,
            calibration_reads: 2,
            calibration_margin: 2.0,
            recalibrate_every,
            ideal: false,
        };
        Adc::validate(&Check::new("adc"), raw).unwrap()
    }

    #[test]
    fn adc_range_calibrates_once_or_follows_each_window() {
        let configured = 1000.0 / 256.0;
        // Once: two reads at the configured step, then 2 × their peak for good.
        let a = adc(0);
        let mut r = AdcRange::default();
        assert_eq!(r.step(&a, configured, &[3.0, -4.0]), configured);
        assert_eq!(r.step(&a, configured, &[1.0]), configured);
        for _ in 0..5 {
            assert_eq!(r.step(&a, configured, &[40.0]), a.lsb_for_full_scale(8.0));
        }
        // Re-ranging every 3 reads: each window's peak sets the next step,
        // up when the currents grow and down when they shrink.
        let a = adc(3);
        let mut r = AdcRange::default();
        r.step(&a, configured, &[3.0, -4.0]);
        r.step(&a, configured, &[1.0]);
        for _ in 0..3 {
            assert_eq!(r.step(&a, configured, &[-10.0]), a.lsb_for_full_scale(8.0));
        }
        for _ in 0..3 {
            assert_eq!(r.step(&a, configured, &[1.0]), a.lsb_for_full_scale(20.0));
        }
        assert_eq!(r.step(&a, configured, &[0.0]), a.lsb_for_full_scale(2.0));
    }
}
