//! One crossbar tile: its cells (or digital weights), periphery state,
//! random streams, scratch buffers and resource bookkeeping.

use crate::chip::Chip;
use crate::queue::TileOp;
use crate::read::{self, ReadArith};
use crate::reference::Fsm;
use crate::stats::Breakdown;
use aimsim_controller::{
    set_write_pulses, PlannedWrite, Pointwise, RequestTerms, WriteMode, WritePlan,
};
use aimsim_core::{stream, Rng, SimTime};
use aimsim_device::{CellArray, DeviceModel, Polarity};
use aimsim_energy::{EnergyLedger, Phase};
use aimsim_periphery::Adc;
use std::collections::VecDeque;
use std::sync::Arc;

/// One pulse phase of a tile's pending writes: `len` writes of
/// [`Tile::phase_writes`] from `start`; or, if `dense`, the first `len`
/// writes of its polarity stored by weight from weight `start` of
/// [`DenseWrites`] ([`Tile::push_phases_compact`]), followed by `rest`
/// more phases of the same plan, each made from the stored writes when
/// this one is taken ([`take_phase`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PhaseSpan {
    /// The tile row (an array has at most 2¹⁶ rows).
    pub(crate) row: u16,
    pub(crate) polarity: Polarity,
    pub(crate) dense: bool,
    pub(crate) start: u32,
    /// Writes (a phase stays in its row: at most 2¹⁵ weights).
    pub(crate) len: u16,
    pub(crate) rest: u32,
}

// A tile's queue holds one of these for each phase of its listed writes:
// 16 bytes.
const _: () = assert!(std::mem::size_of::<PhaseSpan>() == 16);

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
    /// Normalised inputs and outputs of the current read (the outputs
    /// of a read computed ahead stay in `ahead_out`: see
    /// [`Tile::read_out`]). Its line voltages are working memory of the
    /// simulator's, not the tile's (`read::compute`).
    pub(crate) x: Vec<f32>,
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
/// padded to a multiple of 64 ([`DenseWrites::stride`]), with two bits a
/// weight, whether it has a SET write and whether a RESET write, and each
/// block's changes and cells ([`Changes`]). The writes of the phase being
/// run are rebuilt in `decoded`.
#[derive(Default)]
pub(crate) struct DenseWrites {
    /// Each block's changes, oldest first.
    blocks: VecDeque<Changes>,
    /// Bit sets over the blocks' weights: `writes[0]` SET writes,
    /// `writes[1]` RESET writes.
    writes: [Vec<u64>; 2],
    decoded: Vec<PlannedWrite>,
    /// The buffers of dropped blocks, for the next ones.
    spare: Vec<(Vec<f32>, Vec<u64>)>,
    /// The parallel-write limit the blocks' phases are packed by.
    max_parallel: u32,
}

/// How a block of [`DenseWrites`] keeps its writes' changes, and which
/// cell of each pair they write.
enum Changes {
    /// Each weight's routed change (µS), and a bit a weight for the cell
    /// written (set: `G⁻`): 4 B and a bit a weight.
    Routed { dg: Vec<f32>, minus: Vec<u64> },
    /// The changes decided again from the request ([`Decision`]): nothing
    /// a weight.
    Decided(Decision),
}

/// A block's changes as the request's terms for the whole matrix (shared
/// by its tiles), the tile's place in it, and the rule's decision, a
/// function of each request alone ([`UpdateRule::pointwise`]). A write's
/// cell follows from its change's sign and its polarity
/// ([`writes_minus`]), and its routed change is the change, negated for
/// `G⁻`.
///
/// [`UpdateRule::pointwise`]: aimsim_controller::UpdateRule::pointwise
struct Decision {
    terms: Arc<RequestTerms>,
    row0: usize,
    col0: usize,
    rule: Pointwise,
}

impl Decision {
    /// The decided change of the tile's weight (`i`, `j`), µS.
    #[inline]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.rule.apply(self.terms.at(self.row0 + i, self.col0 + j))
    }
}

/// A waiting plan's request, from which its changes may be decided again
/// when its phases run ([`Tile::push_phases_compact`]): the matrix's
/// request terms and the rule's decision.
#[derive(Clone, Copy)]
pub(crate) struct Redecide<'a> {
    pub(crate) terms: &'a Arc<RequestTerms>,
    pub(crate) rule: Pointwise,
}

/// Whether the write of a weight's `decided` change (µS) that is a SET
/// (`set`) or a RESET writes the pair's `G⁻` cell, as [`CellArray::route`]
/// routes it: a rise (`decided ≥ 0`) is a SET of `G⁺` or a RESET of `G⁻`,
/// a fall a RESET of `G⁺` or a SET of `G⁻`.
#[inline]
fn writes_minus(decided: f32, set: bool) -> bool {
    (decided >= 0.0) != set
}

/// Fills `out` with the next `out.len()` writes in the bit set `writes`
/// from bit `start`, all in the row whose first weight is bit `row_base`
/// and whose first cell is `row_cell`: visited one by one, not every
/// weight. Each write's cell and change follow from its column `j` by
/// `write(j)` = (whether it writes `G⁻`, its routed change).
#[inline(always)]
fn scan_writes(
    out: &mut [PlannedWrite],
    (writes, start, row_base, row_cell): (&[u64], usize, usize, usize),
    write: impl Fn(usize) -> (bool, f32),
) {
    let mut word = start / 64;
    let mut bits = writes[word] & (!0u64 << (start % 64));
    for w in out.iter_mut() {
        while bits == 0 {
            word += 1;
            bits = writes[word];
        }
        let i = word * 64 + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let j = i - row_base;
        let (minus, dg) = write(j);
        w.cell = (row_cell + 2 * j) as u32 + u32::from(minus);
        w.dg_us = dg;
    }
}

/// `dg` negated (its sign bit flipped) for a write of the pair's `G⁻`
/// cell, as [`CellArray::route`] routes it.
#[inline]
fn routed(dg: f32, minus: bool) -> f32 {
    f32::from_bits(dg.to_bits() ^ u32::from(minus) << 31)
}

/// The first set bit of `bits` in `from..to` and the number set there;
/// `None` if none is.
fn set_bits_in(bits: &[u64], from: usize, to: usize) -> Option<(usize, u32)> {
    if from >= to {
        return None;
    }
    let (w0, w1) = (from / 64, (to - 1) / 64);
    let (mut first, mut count) = (None, 0);
    for (word, &b) in bits.iter().enumerate().take(w1 + 1).skip(w0) {
        let mut w = b;
        if word == w0 {
            w &= !0u64 << (from % 64);
        }
        let hi = to - word * 64;
        if hi < 64 {
            w &= (1u64 << hi) - 1;
        }
        if w != 0 {
            first = first.or(Some(word * 64 + w.trailing_zeros() as usize));
            count += w.count_ones();
        }
    }
    first.map(|f| (f, count))
}

/// The phase after the stored phase `ph` (with `rest > 0`), whose last
/// write is before `from`, in its plan's order ([`WritePlan::phases`]):
/// per row, the SET writes then the RESET writes, in runs of at most
/// `max_parallel`, found in the bit sets `writes` of a tile of `rows ×
/// cols` weights.
fn next_phase(
    writes: &[Vec<u64>; 2],
    max_parallel: u32,
    ph: &PhaseSpan,
    mut from: usize,
    (rows, cols): (usize, usize),
) -> PhaseSpan {
    debug_assert!(ph.dense && ph.rest > 0);
    let start = ph.start as usize;
    let block0 = start - start % DenseWrites::stride(rows, cols);
    let mut row = usize::from(ph.row);
    let mut pol = usize::from(ph.polarity == Polarity::Reset);
    loop {
        debug_assert!(row < rows, "a plan's phases end in its block");
        let end = block0 + (row + 1) * cols;
        if let Some((first, n)) = set_bits_in(&writes[pol], from, end) {
            return PhaseSpan {
                row: row as u16,
                polarity: if pol == 0 {
                    Polarity::Set
                } else {
                    Polarity::Reset
                },
                dense: true,
                start: first as u32,
                len: n.min(max_parallel) as u16,
                rest: ph.rest - 1,
            };
        }
        if pol == 0 {
            pol = 1;
        } else {
            (pol, row) = (0, row + 1);
        }
        from = block0 + row * cols;
    }
}

/// Takes the tile's next pending phase from `phases` and its planned
/// writes: its run of `list` (the tile's `phase_writes`), or, stored by
/// weight, its writes rebuilt ([`DenseWrites::phase`]), when a stored
/// plan's next phase, if it has one, takes its place
/// ([`PhaseSpan::rest`]). The tile's fields are passed one by one so that
/// the writes borrow only theirs.
#[inline(always)]
pub(crate) fn take_phase<'a>(
    phases: &mut VecDeque<PhaseSpan>,
    dense: &'a mut DenseWrites,
    list: &'a [PlannedWrite],
    dims: (usize, usize),
    model: &DeviceModel,
    mode: WriteMode,
) -> (PhaseSpan, &'a [PlannedWrite]) {
    let ph = phases.pop_front().expect("a scheduled phase exists");
    if !ph.dense {
        return (ph, listed(&ph, list));
    }
    (ph, take_stored(phases, dense, &ph, dims, model, mode))
}

/// [`take_phase`]'s stored phase `ph`, just taken: its writes rebuilt,
/// and its plan's next phase, if any, put first in `phases`.
#[inline(never)]
fn take_stored<'a>(
    phases: &mut VecDeque<PhaseSpan>,
    dense: &'a mut DenseWrites,
    ph: &PhaseSpan,
    dims: (usize, usize),
    model: &DeviceModel,
    mode: WriteMode,
) -> &'a [PlannedWrite] {
    let (writes, next) = dense.phase(ph, dims, model, mode);
    if let Some(next) = next {
        phases.push_front(next);
    }
    writes
}

/// The run of `list` (a tile's `phase_writes`) that the listed phase `ph`
/// writes.
#[inline]
fn listed<'a>(ph: &PhaseSpan, list: &'a [PlannedWrite]) -> &'a [PlannedWrite] {
    let start = ph.start as usize;
    &list[start..start + usize::from(ph.len)]
}

impl DenseWrites {
    /// The length of one plan's block for a tile of `rows × cols`
    /// weights: the weights rounded up to whole 64-bit words, so that
    /// blocks are dropped without shifting bits.
    fn stride(rows: usize, cols: usize) -> usize {
        (rows * cols).next_multiple_of(64)
    }

    /// Drops the first `n` blocks of `stride` weights.
    fn drain(&mut self, n: usize, stride: usize) {
        debug_assert_eq!(stride % 64, 0);
        for b in self.blocks.drain(..n) {
            if let Changes::Routed { dg, minus } = b {
                self.spare.push((dg, minus));
            }
        }
        for bits in &mut self.writes {
            bits.drain(..n * stride / 64);
        }
    }

    /// Appends a block of `stride` weights with no writes, its changes
    /// kept as `changes`; returns where it starts.
    fn grow(&mut self, stride: usize, changes: Changes) -> usize {
        let base = self.blocks.len() * stride;
        debug_assert!(base + stride <= u32::MAX as usize, "checked by the caller");
        self.blocks.push_back(changes);
        let words = (base + stride) / 64;
        for bits in &mut self.writes {
            bits.reserve_exact(words - bits.len());
            bits.resize(words, 0);
        }
        base
    }

    /// Frees every block and its buffers (none of their phases pending).
    fn release(&mut self) {
        self.blocks = VecDeque::new();
        self.writes = Default::default();
        self.spare = Vec::new();
    }

    /// Buffers for a block of `weights` routed changes (`stride` padded),
    /// zeroed.
    fn routed_block(&mut self, weights: usize, stride: usize) -> Changes {
        let (mut dg, mut minus) = self.spare.pop().unwrap_or_default();
        dg.clear();
        dg.resize(weights, 0.0);
        minus.clear();
        minus.resize(stride / 64, 0);
        Changes::Routed { dg, minus }
    }

    /// The blocks kept: (changes decided again, routed changes).
    #[cfg(test)]
    pub(crate) fn block_kinds(&self) -> (usize, usize) {
        let decided = (self.blocks.iter())
            .filter(|b| matches!(b, Changes::Decided(_)))
            .count();
        (decided, self.blocks.len() - decided)
    }

    /// Weights stored (whole blocks).
    fn weights(&self, stride: usize) -> usize {
        self.blocks.len() * stride
    }

    /// Stores `writes` (a phase's: one polarity, in cell order, of a tile
    /// with `cols` columns) in the newest block, stored from `base`, each
    /// 64-bit word of the bit sets made in a register and stored once a
    /// call.
    fn store(&mut self, base: usize, cols: usize, writes: &[PlannedWrite], pol: Polarity) {
        let set = pol == Polarity::Set;
        let bits = &mut self.writes[usize::from(!set)];
        let block = self.blocks.back_mut().expect("a block to store in");
        #[cfg(not(debug_assertions))]
        let _ = cols;
        let (mut word, mut acc) = (usize::MAX, 0u64);
        for w in writes {
            let k = (w.cell / 2) as usize;
            let minus = w.cell & 1 == 1;
            match block {
                Changes::Routed { dg, minus: m } => {
                    dg[k] = w.dg_us;
                    m[k / 64] |= u64::from(minus) << (k % 64);
                }
                // The change is decided again from the request when the
                // write runs: checked here in a debug build.
                #[cfg(debug_assertions)]
                Changes::Decided(decision) => {
                    let d = decision.at(k / cols, k % cols);
                    debug_assert_eq!(
                        (writes_minus(d, set), routed(d, minus).to_bits()),
                        (minus, w.dg_us.to_bits()),
                        "weight {k}: its cell and change decided again"
                    );
                }
                #[cfg(not(debug_assertions))]
                Changes::Decided(_) => {}
            }
            let i = base + k;
            if i / 64 != word {
                if word != usize::MAX {
                    bits[word] |= acc;
                }
                (word, acc) = (i / 64, 0);
            }
            acc |= 1u64 << (i % 64);
        }
        if word != usize::MAX {
            bits[word] |= acc;
        }
    }

    /// The planned writes of the pending phase `ph`, stored by weight, of
    /// a tile of `rows × cols` weights, rebuilt (the `len` writes of its
    /// polarity from `start`, cells in order, each change with its pulses,
    /// [`aimsim_controller::write_pulses`]): the list [`Tile::push_phases`]
    /// would hold; and if `rest > 0`, the phase after it ([`next_phase`]).
    fn phase(
        &mut self,
        ph: &PhaseSpan,
        (rows, cols): (usize, usize),
        model: &DeviceModel,
        mode: WriteMode,
    ) -> (&[PlannedWrite], Option<PhaseSpan>) {
        debug_assert!(ph.dense);
        let start = ph.start as usize;
        let row = usize::from(ph.row);
        let stride = Self::stride(rows, cols);
        let block0 = start - start % stride;
        let row_base = block0 + row * cols;
        let row_cell = 2 * row * cols;
        let set = ph.polarity == Polarity::Set;
        let writes = &self.writes[usize::from(!set)][..];
        let blank = PlannedWrite {
            cell: 0,
            dg_us: 0.0,
            pulses: 0,
        };
        let out = &mut self.decoded;
        out.clear();
        out.resize(usize::from(ph.len), blank);
        // The phase's writes are the next set bits (a phase stays in its
        // row), each write's cell and change from its column.
        let at = (writes, start, row_base, row_cell);
        match &self.blocks[start / stride] {
            Changes::Routed { dg, minus } => {
                let k0 = row * cols;
                scan_writes(out, at, |j| {
                    let k = k0 + j;
                    ((minus[k / 64] >> (k % 64)) & 1 == 1, dg[k])
                });
            }
            Changes::Decided(decision) => {
                let decided = |d: f32| {
                    let minus = writes_minus(d, set);
                    (minus, routed(d, minus))
                };
                // Rank 1 as one multiplication a write, `Decision::at`'s
                // arithmetic with the row's term taken once.
                let (i, c0) = (decision.row0 + row, decision.col0);
                match (decision.terms.rank1_row(i), decision.rule) {
                    (Some((k, d)), Pointwise::AsRequested) => {
                        let d = &d[c0..c0 + cols];
                        scan_writes(out, at, |j| decided(k * d[j]));
                    }
                    (Some((k, d)), r) => {
                        let d = &d[c0..c0 + cols];
                        scan_writes(out, at, |j| decided(r.apply(k * d[j])));
                    }
                    (None, _) => scan_writes(out, at, |j| decided(decision.at(row, j))),
                }
            }
        }
        let from = row_base
            + out
                .last()
                .map_or(0, |w| (w.cell as usize - row_cell) / 2 + 1);
        let next = (ph.rest > 0)
            .then(|| next_phase(&self.writes, self.max_parallel, ph, from, (rows, cols)));
        // The pulses in a pass of their own: its divisions do not wait
        // for one another or for the search above.
        set_write_pulses(model, mode, out);
        (out, next)
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
pub(crate) fn prefix<T: Copy + Default>(buf: &mut Vec<T>, n: usize) -> &mut [T] {
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
            let a = read::compute(chip, model, self, transposed, now, &mut scratch.v);
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
        self.phases.front().map_or(0, |p| u32::from(p.len))
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
        // The phases of `WritePlan::phases`, in its order (each row's SET
        // writes, then its RESET writes, in chunks of `max_parallel`),
        // by plain loops: its chained iterators cost the default run
        // about 2 % in their `next`.
        assert!(max_parallel > 0, "parallel-write limit must be positive");
        let mut at = self.phase_writes.len();
        self.phase_writes.extend_from_slice(plan.writes());
        for rp in plan.rows() {
            for (polarity, writes) in [
                (Polarity::Set, rp.set_writes),
                (Polarity::Reset, rp.reset_writes),
            ] {
                for w in writes.chunks(max_parallel) {
                    debug_assert!(self.phase_writes[at..].starts_with(w));
                    self.phases.push_back(PhaseSpan {
                        row: rp.row as u16,
                        polarity,
                        dense: false,
                        start: at as u32,
                        len: w.len() as u16,
                        rest: 0,
                    });
                    at += w.len();
                    self.unissued_phases += 1;
                }
            }
        }
        debug_assert_eq!(at, self.phase_writes.len(), "phases cover the plan");
        #[cfg(debug_assertions)]
        {
            let n = plan.phases(max_parallel).count();
            let pushed = self.phases.iter().skip(self.phases.len() - n);
            for (p, ph) in pushed.zip(plan.phases(max_parallel)) {
                let want = (ph.row as u16, ph.polarity, ph.writes.len() as u16);
                assert_eq!((p.row, p.polarity, p.len), want, "the plan's phases");
            }
        }
    }

    /// [`Tile::push_phases`], but a plan that writes at least a third of
    /// the tile's weights is stored by weight ([`DenseWrites`]): 2 bits a
    /// weight, and its changes either as the 4-byte routed change of each
    /// weight and a bit for its cell or, where `redecide` gives the rule's
    /// decision as a function of each request alone and the matrix's
    /// request terms (made where a whole tile's are fewer values than its
    /// weights, and shared by the matrix's tiles), as those terms
    /// ([`Changes`]). Its phases are one entry of the queue, each made from
    /// the stored bits when the one before is taken ([`take_phase`]). A
    /// rule that writes every weight (`bp`, `write-verify`) then holds
    /// about 0.25 B a weight for each tile whose writes wait for their
    /// events (the pipelined schedule, a write budget), not 12 B. Each phase's writes are rebuilt when it runs
    /// ([`DenseWrites::phase`]): the same writes in the same order.
    pub(crate) fn push_phases_compact(
        &mut self,
        plan: &WritePlan,
        max_parallel: usize,
        redecide: Option<Redecide<'_>>,
    ) {
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
            .map_or(self.dense.weights(stride), |p| {
                p.start as usize - p.start as usize % stride
            });
        if done > 0 {
            self.dense.drain(done / stride, stride);
            for p in self.phases.iter_mut().filter(|p| p.dense) {
                p.start -= done as u32;
            }
        }
        // (Phases index the blocks with `u32`: past that, a list.)
        if self.dense.weights(stride) + stride > u32::MAX as usize {
            self.push_phases(plan, max_parallel);
            return;
        }
        let changes = match redecide {
            Some(r) => Changes::Decided(Decision {
                terms: Arc::clone(r.terms),
                row0: self.row0,
                col0: self.col0,
                rule: r.rule,
            }),
            None => self.dense.routed_block(weights, stride),
        };
        let base = self.dense.grow(stride, changes);
        self.dense.max_parallel = max_parallel as u32;
        let mut first = None;
        let mut phases = 0;
        for ph in plan.phases(max_parallel) {
            self.dense.store(base, self.cols, ph.writes, ph.polarity);
            first = first.or(Some(PhaseSpan {
                row: ph.row as u16,
                polarity: ph.polarity,
                dense: true,
                start: (base + (ph.writes[0].cell / 2) as usize) as u32,
                len: ph.writes.len() as u16,
                rest: 0,
            }));
            phases += 1;
        }
        let first = first.expect("a plan of writes has phases");
        self.phases.push_back(PhaseSpan {
            rest: phases - 1,
            ..first
        });
        self.unissued_phases += phases;
    }

    /// Frees the writes kept by weight if no phase of theirs is pending.
    pub(crate) fn release_dense_writes(&mut self) {
        if !self.phases.iter().any(|p| p.dense) {
            self.dense.release();
        }
    }

    /// Frees the buffers of the pending writes, none pending.
    pub(crate) fn release_write_buffers(&mut self) {
        debug_assert!(self.phases.is_empty() && self.unissued_phases == 0);
        self.dense = DenseWrites::default();
        self.phase_writes = Vec::new();
        self.phases = VecDeque::new();
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
    use aimsim_controller::{TileBlock, UpdateRequest};
    use aimsim_core::config::Check;
    use aimsim_periphery::{AdcKind, RawAdc};
    use rand::Rng as _;

    /// A tile of 5 × 70 weights (a row crosses a 64-bit word of the bit
    /// sets) on the default device, its weights spread over the
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
    ) -> Vec<(u16, Polarity, Vec<PlannedWrite>)> {
        let dims = (tile.rows, tile.cols);
        let mut out = Vec::new();
        for first in tile.phases.iter().copied().collect::<Vec<_>>() {
            let mut ph = Some(first);
            while let Some(p) = ph {
                if !p.dense {
                    out.push((p.row, p.polarity, listed(&p, &tile.phase_writes).to_vec()));
                    break;
                }
                let (w, next) = tile.dense.phase(&p, dims, model, mode);
                out.push((p.row, p.polarity, w.to_vec()));
                ph = next;
            }
        }
        out
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

    /// A rank-`rank` factor request for a tile's `rows × cols` matrix
    /// (every factor non-zero) and its requested changes (µS).
    fn factor_request(tile: &Tile, seed: u64, rank: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut rng = stream(seed, "factors");
        let mut draw = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let m: f32 = rng.random_range(0.05..1.0);
                    if rng.random_bool(0.5) {
                        m
                    } else {
                        -m
                    }
                })
                .collect()
        };
        let (x, delta) = (draw(rank * tile.rows), draw(rank * tile.cols));
        let request = UpdateRequest::Factors {
            x: &x,
            delta: &delta,
            scale: SCALE,
        };
        let block = TileBlock {
            row0: 0,
            col0: 0,
            rows: tile.rows,
            cols: tile.cols,
        };
        let mut req = vec![0.0; tile.rows * tile.cols];
        request.requested_us(tile.rows, tile.cols, block, R_WG_US, &mut req);
        (x, delta, req)
    }

    const SCALE: f32 = -0.37;
    const R_WG_US: f32 = 2.9;

    #[test]
    fn writes_stored_by_weight_are_rebuilt_as_listed() {
        let modes = [
            (WriteMode::Program, Pointwise::AsRequested),
            // Fixed pulses drop the changes under half a step (the
            // changes from a request are decided in whole steps).
            (
                WriteMode::Pulses { step_us: 0.4 },
                Pointwise::RoundTo { step_us: 0.4 },
            ),
        ];
        for (m, (mode, rule)) in modes.into_iter().enumerate() {
            let (mut listed, model) = written_tile(11);
            let (mut stored, _) = written_tile(11);
            let cells = listed.cells.take().unwrap();
            let mut plan = WritePlan::default();
            // Dense plans, a sparse one (kept as a list), dense again,
            // with phases run between: the pending phases must hold the
            // same writes either way, in the same order. The dense plans
            // from a factor request (rank 1 to 3) keep the request's terms
            // instead of the changes.
            let plans = [
                (0.0, 0),
                (0.3, 2),
                (0.95, 0),
                (0.1, 0),
                (0.0, 1),
                (0.0, 3),
                (0.2, 0),
            ];
            for (k, (zeros, rank)) in plans.into_iter().enumerate() {
                let seed = 100 * m as u64 + k as u64;
                let factors = (rank > 0).then(|| factor_request(&listed, seed, rank));
                let d = match &factors {
                    Some((_, _, req)) => req.iter().map(|&q| rule.apply(q)).collect(),
                    None => changes(&listed, seed, zeros),
                };
                plan.fill_dense(&cells, &model, &d, mode);
                assert!(!plan.is_empty());
                listed.push_phases(&plan, 4);
                let terms = factors.as_ref().map(|(x, delta, _)| {
                    let request = UpdateRequest::Factors {
                        x,
                        delta,
                        scale: SCALE,
                    };
                    let mut t = RequestTerms::default();
                    let (rows, cols) = (listed.rows, listed.cols);
                    let whole = TileBlock {
                        row0: 0,
                        col0: 0,
                        rows,
                        cols,
                    };
                    assert!(request.terms(rows, cols, whole, R_WG_US, &mut t));
                    Arc::new(t)
                });
                let redecide = terms.as_ref().map(|terms| Redecide { terms, rule });
                stored.push_phases_compact(&plan, 4, redecide);
                let by_weight = stored.phases.back().unwrap().dense;
                assert_eq!(by_weight, zeros < 0.5, "plan {k}: stored by weight?");
                if by_weight {
                    let decided = matches!(stored.dense.blocks.back(), Some(Changes::Decided(_)));
                    assert_eq!(decided, rank > 0, "plan {k}: kept as the request's terms?");
                }
                assert_eq!(listed.unissued_phases, stored.unissued_phases, "plan {k}");
                // Only the blocks of plans with phases pending are kept,
                // the oldest first; each such plan is one entry of the
                // queue.
                let stride = DenseWrites::stride(stored.rows, stored.cols);
                let blocks: Vec<usize> = stored
                    .phases
                    .iter()
                    .filter(|p| p.dense)
                    .map(|p| p.start as usize / stride)
                    .collect();
                if let (Some(&first), Some(&last)) = (blocks.first(), blocks.last()) {
                    assert_eq!(first, 0, "plan {k}");
                    assert_eq!(stored.dense.blocks.len(), last + 1, "plan {k}");
                    assert!(blocks.windows(2).all(|w| w[1] == w[0] + 1), "plan {k}");
                }
                let at = format!("mode {m}, plan {k}");
                same_pending(&mut listed, &mut stored, &model, mode, &at);
                // Run (drop) some of the oldest phases (60–90 a dense
                // plan here): the first plan's have all run when the
                // fourth is pushed, which drops its block.
                for _ in 0..50 * k {
                    if listed.phases.is_empty() {
                        break;
                    }
                    let take = |t: &mut Tile| {
                        let dims = (t.rows, t.cols);
                        let (ph, w) = take_phase(
                            &mut t.phases,
                            &mut t.dense,
                            &t.phase_writes,
                            dims,
                            &model,
                            mode,
                        );
                        (ph.row, ph.polarity, w.to_vec())
                    };
                    assert_eq!(take(&mut listed), take(&mut stored), "plan {k}");
                }
                assert_eq!(listed.phases.is_empty(), stored.phases.is_empty());
                same_pending(&mut listed, &mut stored, &model, mode, &at);
            }
            // A new plan once every phase has run starts the storage over.
            listed.phases.clear();
            stored.phases.clear();
            let d = changes(&listed, 7, 0.0);
            plan.fill_dense(&cells, &model, &d, mode);
            listed.push_phases(&plan, 32);
            stored.push_phases_compact(&plan, 32, None);
            let stride = DenseWrites::stride(stored.rows, stored.cols);
            assert_eq!(
                (stored.dense.blocks.len(), stride),
                (1, 384),
                "350 weights, padded"
            );
            let at = format!("mode {m}, last plan");
            same_pending(&mut listed, &mut stored, &model, mode, &at);
            assert_eq!(listed.unissued_phases, stored.unissued_phases);
        }
    }

    #[test]
    fn bit_searches_find_the_set_bits() {
        let bits = [0b1011_0000u64, 0, 1 << 63, 0b101];
        assert_eq!(set_bits_in(&bits, 0, 256), Some((4, 6)));
        assert_eq!(set_bits_in(&bits, 6, 191), Some((7, 1)));
        assert_eq!(set_bits_in(&bits, 8, 191), None);
        assert_eq!(set_bits_in(&bits, 8, 192), Some((191, 1)));
        assert_eq!(set_bits_in(&bits, 192, 195), Some((192, 2)));
        assert_eq!(set_bits_in(&bits, 5, 5), None);
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
