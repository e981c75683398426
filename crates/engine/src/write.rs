//! The tile write model: one pulse phase of a tile's write plan on its
//! cells, with its energy charged and its duration returned.

use crate::chip::Chip;
use crate::read::charge_verify_reads;
use crate::stats::WriteStats;
use crate::tile::Tile;
use aimsim_controller::{apply_write, verify_writes, VerifyRead, WriteMode};
use aimsim_core::SimTime;
use aimsim_device::{DeviceModel, Polarity};
use aimsim_energy::{Component, EnergyLedger};

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
    let mut cell_pj = 0.0;
    let mut drv_pj = 0.0;
    let mut pulses = 0u64;
    let mut rounds = 0u64;
    let mut cycles = 0u64;
    let n = ph.writes.len() as u32;
    match mode {
        WriteMode::Program | WriteMode::Pulses { .. } => {
            let mut max_pulses = 0;
            for w in &ph.writes {
                let o = apply_write(cells, model, mode, w, &mut tile.rng_write);
                max_pulses = max_pulses.max(o.pulses);
                pulses += u64::from(o.pulses);
                cell_pj += chip
                    .driver
                    .cell_energy_pj(set, o.pulses, o.g_before_us, o.g_after_us);
            }
            drv_pj = chip.driver.phase_energy_pj(set, n, max_pulses);
            rounds = 1;
            cycles = chip.driver.setup_cycles() + u64::from(max_pulses) * chip.pulse_cycles();
        }
        WriteMode::Verify {
            tolerance_us,
            guard_us,
            max_pulses,
        } => {
            // Each round: a pulse phase of the pending cells, then a
            // verify read of the row (one DAC drive, one sense + ADC
            // conversion per cell read).
            let mut reads = VerifyRead::default();
            let mut read_cycles = 0u64;
            verify_writes(
                cells,
                model,
                &ph.writes,
                tolerance_us,
                guard_us,
                max_pulses,
                &mut tile.rng_write,
                &mut tile.rng_read,
                &mut |outcomes, vr| {
                    if !outcomes.is_empty() {
                        let mut max_p = 0;
                        for o in outcomes {
                            max_p = max_p.max(o.pulses);
                            pulses += u64::from(o.pulses);
                            cell_pj += chip.driver.cell_energy_pj(
                                set,
                                o.pulses,
                                o.g_before_us,
                                o.g_after_us,
                            );
                        }
                        drv_pj += chip
                            .driver
                            .phase_energy_pj(set, outcomes.len() as u32, max_p);
                        rounds += 1;
                        cycles +=
                            chip.driver.setup_cycles() + u64::from(max_p) * chip.pulse_cycles();
                    }
                    reads.cells += vr.cells;
                    reads.g_sum_us += vr.g_sum_us;
                    read_cycles += 1;
                    cycles += chip.read_cycles()
                        + chip.adc.batches(vr.cells as usize) * chip.adc.conversion_cycles();
                },
            );
            charge_verify_reads(chip, tid, phase, read_cycles, reads, ledger);
        }
    }
    let id = Some(tid);
    ledger.add(Component::ArrayWrite, op_cell, phase, id, pulses, cell_pj);
    ledger.add(Component::Driver, op_drv, phase, id, rounds, drv_pj);
    stats.pulses += pulses;
    stats.cell_writes += u64::from(n);
    stats.phases += rounds;
    (cycles, (ph.polarity, ph.row), n)
}
