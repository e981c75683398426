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
use aimsim_energy::{Component, EnergyLedger};

/// Writes of the tile's next phases whose cells are prefetched while a
/// phase runs.
const PREFETCH_WRITES: usize = 8;

/// Executes the next pulse phase of `tile` starting at `t`; returns its
/// cycles and the (polarity, row, cells) it pulsed.
pub(crate) fn write_phase(
    chip: &Chip,
    model: &DeviceModel,
    mode: WriteMode,
    tile: &mut Tile,
    t: SimTime,
    ledger: &mut EnergyLedger,
    stats: &mut WriteStats,
) -> (u64, (Polarity, u32), u32) {
    let tid = tile.id;
    let phase = tile.write_phase_tag;
    let ph = tile.phases.pop_front().expect("a scheduled phase exists");
    tile.op_phases -= 1;
    let cells = tile
        .cells
        .as_mut()
        .expect("write phases only on device tiles");
    cells.advance_to(model, t.seconds());
    let set = ph.polarity == Polarity::Set;
    let (op_cell, op_drv) = if set {
        ("set_pulse", "set_phase")
    } else {
        ("reset_pulse", "reset_phase")
    };
    let n = ph.len;
    let end = (ph.start + ph.len) as usize;
    let writes = &tile.phase_writes[ph.start as usize..end];
    // The tile's next phases write these cells: start their (scattered)
    // loads now so they arrive while this phase and the events between
    // run (a cache hint; no value changes).
    // Each phase adds the writes entering the window of the next
    // `PREFETCH_WRITES` (the first phase of the buffer the whole window).
    let lo = if ph.start == 0 {
        end
    } else {
        (ph.start as usize + PREFETCH_WRITES).max(end)
    };
    let hi = (end + PREFETCH_WRITES).min(tile.phase_writes.len());
    for w in tile.phase_writes.get(lo..hi).unwrap_or_default() {
        cells.prefetch_cell(w.cell as usize);
    }
    let hw = WriteHardware {
        driver: &chip.driver,
        adc: &chip.adc,
        pulse_cycles: chip.pulse_cycles(),
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
    if let Some((read_cycles, reads)) = o.verify {
        charge_verify_reads(chip, tid, phase, read_cycles, reads, ledger);
    }
    let id = Some(tid);
    ledger.add(
        Component::ArrayWrite,
        op_cell,
        phase,
        id,
        o.pulses,
        o.cell_pj,
    );
    ledger.add(Component::Driver, op_drv, phase, id, o.rounds, o.driver_pj);
    stats.pulses += o.pulses;
    stats.cell_writes += u64::from(n);
    stats.phases += o.rounds;
    (o.cycles, (ph.polarity, ph.row), n)
}
