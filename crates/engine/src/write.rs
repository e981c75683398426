//! The tile write model: one pulse phase of a tile's write plan on its
//! cells, executed in the rule's write mode by the controller's
//! [`execute_phase`] (the one place a write mode becomes device operations,
//! cycles and energy), with its energy charged and its duration returned.

use crate::chip::Chip;
use crate::read::charge_verify_reads;
use crate::stats::WriteStats;
use crate::tile::Tile;
use aimsim_controller::{execute_phase, WriteHardware, WriteMode};
use aimsim_core::SimTime;
use aimsim_device::{DeviceModel, Polarity};
use aimsim_energy::{ChargeRun, Component, EnergyLedger, Key, Phase, Slot};

/// Writes of the tile's next phases whose cells are prefetched while a
/// phase runs.
const PREFETCH_WRITES: usize = 8;

/// Executes the next pulse phase of `tile` starting at `t`; returns its
/// cycles and the (polarity, row, cells) it pulsed. `pulse_cycles` is
/// `chip.pulse_cycles()` (computed once by the caller: a division).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_phase(
    chip: &Chip,
    pulse_cycles: u64,
    model: &DeviceModel,
    mode: WriteMode,
    tile: &mut Tile,
    t: SimTime,
    ledger: &mut impl Charges,
    stats: &mut WriteStats,
) -> (u64, (Polarity, u32), u32) {
    let tid = tile.id;
    let phase = tile.write_phase_tag;
    let dims = (tile.rows, tile.cols);
    let (ph, writes) = crate::tile::take_phase(
        &mut tile.phases,
        &mut tile.dense,
        &tile.phase_writes,
        dims,
        model,
        mode,
    );
    tile.op_phases -= 1;
    let cells = tile
        .cells
        .as_mut()
        .expect("write phases only on device tiles");
    let last_phase = tile.op_phases == 0;
    let set = ph.polarity == Polarity::Set;
    let (op_cell, op_drv) = if set {
        ("set_pulse", "set_phase")
    } else {
        ("reset_pulse", "reset_phase")
    };
    let n = u32::from(ph.len);
    let end = ph.start as usize + usize::from(ph.len);
    // The clock feeds relaxation: the cells' values follow it at once,
    // the read caches once at the operation's end (the same bits as all
    // of it at every phase).
    cells.advance_lazily(t.seconds());
    // The tile's next phases write these cells: start their (scattered)
    // loads now so they arrive while this phase and the events between
    // run (a cache hint; no value changes).
    // Each phase adds the writes entering the window of the next
    // `PREFETCH_WRITES` (the first phase of the buffer the whole window).
    // (Writes stored by weight are in cell order: no hint.)
    if !ph.dense {
        let lo = if ph.start == 0 {
            end
        } else {
            (ph.start as usize + PREFETCH_WRITES).max(end)
        };
        let hi = (end + PREFETCH_WRITES).min(tile.phase_writes.len());
        for w in tile.phase_writes.get(lo..hi).unwrap_or_default() {
            cells.prefetch_cell(w.cell as usize);
        }
    }
    let hw = WriteHardware {
        driver: &chip.driver,
        adc: &chip.adc,
        pulse_cycles,
        read_cycles: chip.read_cycles(),
    };
    let o = execute_phase(
        mode,
        cells,
        model,
        set,
        writes,
        &hw,
        &mut tile.rng_write,
        &mut tile.rng_read,
    );
    if last_phase {
        cells.settle(model);
    }
    if ph.dense && ph.rest == 0 {
        // The last phase of a plan kept by weight: its storage goes if no
        // other is pending (the next steps' reads do not hold it).
        tile.release_dense_writes();
    }
    if let Some((read_cycles, reads)) = o.verify {
        charge_verify_reads(chip, tid, phase, read_cycles, reads, ledger);
    }
    let id = Some(tid);
    let key = |component, operation| Key {
        component,
        operation,
        phase,
        tile: id,
    };
    // A phase charges one of four keys per tile and phase tag: their
    // ledger slots are remembered on the tile.
    let slots = tile.write_slots.of(phase);
    let (cell_slot, drv_slot) = slots.split_at_mut(2);
    let i = usize::from(!set);
    ledger.charge_via(
        &mut cell_slot[i],
        || key(Component::ArrayWrite, op_cell),
        o.pulses,
        o.cell_pj,
    );
    ledger.charge_via(
        &mut drv_slot[i],
        || key(Component::Driver, op_drv),
        o.rounds,
        o.driver_pj,
    );
    stats.pulses += o.pulses;
    stats.cell_writes += u64::from(n);
    stats.phases += o.rounds;
    (o.cycles, (ph.polarity, u32::from(ph.row)), n)
}

/// Where a write phase's energy goes: the ledger, or a tile's
/// `ChargeRun` added to the ledger later with the same bits.
pub(crate) trait Charges {
    /// Charges `count` operations totalling `pj` to `key`.
    fn charge(&mut self, key: Key, count: u64, pj: f64);

    /// [`Charges::charge`] through the key's remembered ledger `slot`
    /// where the charges go to the ledger itself (the same bits: the same
    /// tally, the same additions), remembering it the first time (or when
    /// the ledger is another); the key is made only when needed.
    #[inline]
    fn charge_via(
        &mut self,
        slot: &mut Option<Slot>,
        key: impl FnOnce() -> Key,
        count: u64,
        pj: f64,
    ) {
        let _ = slot;
        self.charge(key(), count, pj);
    }

    /// [`Charges::charge`] by the key's parts (as [`EnergyLedger::add`]).
    #[inline]
    fn add(
        &mut self,
        component: Component,
        operation: &'static str,
        phase: Phase,
        tile: Option<u32>,
        count: u64,
        pj: f64,
    ) {
        let key = Key {
            component,
            operation,
            phase,
            tile,
        };
        self.charge(key, count, pj);
    }
}

impl Charges for EnergyLedger {
    #[inline]
    fn charge(&mut self, key: Key, count: u64, pj: f64) {
        EnergyLedger::charge(self, key, count, pj);
    }

    #[inline]
    fn charge_via(
        &mut self,
        slot: &mut Option<Slot>,
        key: impl FnOnce() -> Key,
        count: u64,
        pj: f64,
    ) {
        if let Some(s) = *slot {
            if self.charge_slot(s, count, pj) {
                return;
            }
        }
        *slot = Some(self.charge_for_slot(key(), count, pj));
    }
}

/// A write operation's charges made on a pool thread into the tile's
/// [`ChargeRun`] against the ledger (read only), added to the ledger on
/// the calling thread at the operation's start event
/// ([`EnergyLedger::apply_run`]: the tile's few continued tallies, not
/// every charge again).
pub(crate) struct Logging<'a> {
    run: &'a mut ChargeRun,
    ledger: &'a EnergyLedger,
}

impl Charges for Logging<'_> {
    #[inline]
    fn charge(&mut self, key: Key, count: u64, pj: f64) {
        self.run.charge(self.ledger, key, count, pj);
    }

    #[inline]
    fn charge_via(
        &mut self,
        slot: &mut Option<Slot>,
        key: impl FnOnce() -> Key,
        count: u64,
        pj: f64,
    ) {
        self.run.charge_via(self.ledger, slot, key, count, pj);
    }
}

/// What a write operation's phases, run back to back, leave for its
/// events to account for.
#[derive(Default)]
pub(crate) struct WriteAhead {
    /// When the last phase ends (its `PhaseEnd` is queued for then).
    pub(crate) end: SimTime,
    /// Cells of the last phase (the current it holds until `end`).
    pub(crate) last_cells: u32,
    /// The `PhaseEnd` and `WritePhase` events of the phases before the
    /// last, counted but never queued.
    pub(crate) events: u64,
    /// The phases' write counters.
    pub(crate) stats: WriteStats,
    /// `Σ cells × duration` of the phases, ps.
    pub(crate) cell_ps: u128,
}

/// Runs the remaining pulse phases of the tile's write operation back to
/// back from `t`, each at its own start time, charging `charges`. The same
/// arithmetic, streams and times as the phases run one event at a time
/// where nothing can come between them (`ChipSim`'s
/// `phases_back_to_back`), so the same bits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_phases(
    chip: &Chip,
    pulse_cycles: u64,
    model: &DeviceModel,
    mode: WriteMode,
    tile: &mut Tile,
    mut t: SimTime,
    charges: &mut impl Charges,
) -> WriteAhead {
    let mut a = WriteAhead::default();
    loop {
        let cells = tile.next_phase_cells();
        let (cycles, _, _) = write_phase(
            chip,
            pulse_cycles,
            model,
            mode,
            tile,
            t,
            charges,
            &mut a.stats,
        );
        let end = t + chip.clock.cycles(cycles);
        let dur = end.ps() - t.ps();
        tile.current.pulses += dur;
        tile.write_phases += 1;
        a.cell_ps += u128::from(cells) * u128::from(dur);
        if !tile.op_has_phases() {
            a.end = end;
            a.last_cells = cells;
            return a;
        }
        a.events += 2;
        t = end;
    }
}

/// Runs every pulse phase of the tile's next write operation from its
/// start (`tile.start_at`) on a pool thread ([`run_phases`]), charging
/// `tile.write_log` instead of the ledger; the outcome is left in
/// `tile.write_ahead` for the operation's start event.
pub(crate) fn write_ahead(
    chip: &Chip,
    model: &DeviceModel,
    mode: WriteMode,
    ledger: &EnergyLedger,
    tile: &mut Tile,
) {
    tile.begin_write_op();
    let mut run = std::mem::take(&mut tile.write_log);
    let at = tile.start_at;
    let mut logging = Logging {
        run: &mut run,
        ledger,
    };
    let a = run_phases(
        chip,
        chip.pulse_cycles(),
        model,
        mode,
        tile,
        at,
        &mut logging,
    );
    tile.write_log = run;
    tile.write_ahead = Some(a);
}
