//! The tile read model: one MVM through DAC, array, sense and ADC, with its
//! energy charged to the ledger.
//!
//! Energies (docs/energy-model.md): one DAC conversion per line drive
//! (bit-serial: per set bit); ohmic array energy `Σ V² G t_int`; one
//! integration per output line per read cycle; one ADC conversion per
//! output line. Without a device (`ideal`) the MVM is digital: one MAC per
//! weight.

use crate::chip::Chip;
use crate::tile::{AdcRange, Tile};
use crate::write::Charges;
use aimsim_controller::VerifyRead;
use aimsim_core::{Rng, SimTime};
use aimsim_device::{CellArray, DeviceModel};
use aimsim_energy::{ChargeRun, Component, EnergyLedger, Key, Phase, Slot};
use aimsim_periphery::DacEncoding;

/// What the ledger needs of one tile read once its arithmetic is done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadArith {
    /// Output lines converted.
    pub(crate) lines: usize,
    /// Line drives (DAC conversions); 0 for a digital read.
    pub(crate) drives: u64,
    /// The array's read power, µW (ohmic energy over one integration).
    pub(crate) read_uw: f64,
    /// A digital MVM (no device): one MAC per weight.
    pub(crate) digital: bool,
}

/// The arithmetic of one tile read, inputs in `tile.x`, outputs left in
/// `tile.out` (the tile's [`Tile::read_out`]): forward (inputs on rows) or transposed (inputs on weight
/// columns). Touches only the tile (its cells, streams, ADC calibration
/// and scratch) and `v`, working memory for the line voltages (grown to
/// the inputs, each written before it is read), so tiles compute side by
/// side on any number of threads with the same bits; [`charge`] books the
/// energy afterwards.
pub(crate) fn compute(
    chip: &Chip,
    model: &DeviceModel,
    tile: &mut Tile,
    transposed: bool,
    now: SimTime,
    v: &mut Vec<f32>,
) -> ReadArith {
    tile.out_ahead = None;
    // The clock feeds relaxation: cells drift from their written values
    // by the simulated time since each was written.
    if let Some(c) = tile.cells.as_mut() {
        c.advance_to(model, now.seconds());
        c.prepare_read(model, transposed);
    }
    let (n_in, n_out) = if transposed {
        (tile.cols, tile.rows)
    } else {
        (tile.rows, tile.cols)
    };
    let Some(cells) = tile.cells.as_ref() else {
        // Digital MVM on floating-point weights.
        let out = &mut tile.out[..n_out];
        out.fill(0.0);
        for (r, wrow) in tile.weights.chunks_exact(tile.cols).enumerate() {
            if transposed {
                out[r] = wrow
                    .iter()
                    .zip(&tile.x[..tile.cols])
                    .map(|(w, x)| w * x)
                    .sum()
            } else {
                let xr = tile.x[r];
                out.iter_mut().zip(wrow).for_each(|(o, w)| *o += xr * w);
            }
        }
        return ReadArith {
            lines: n_out,
            drives: 0,
            read_uw: 0.0,
            digital: true,
        };
    };
    let v = crate::tile::prefix(v, n_in);
    chip.dac.convert(&tile.x[..n_in], v);
    let forward = !transposed;
    let out = &mut tile.out[..n_out];
    let power_uw = if forward {
        cells.mvm_forward(model, v, out, &mut tile.rng_read)
    } else {
        cells.mvm_backward(model, v, out, &mut tile.rng_read)
    };
    let (x, rng, range) = (&tile.x[..n_in], &mut tile.rng_read, &mut tile.adc_range);
    let arith = convert(chip, model, cells, rng, range, forward, x, out, power_uw);
    // Binary STT-MRAM: the read current may switch junctions (read
    // disturb, drawn from the read stream after the read's own draws); a
    // no-op for analog cells. Such reads are never computed ahead
    // (`ChipSim::compute_ahead`), so each disturbs at its own event.
    if model.is_binary() {
        if let Some(c) = tile.cells.as_mut() {
            c.read_disturb(model, &mut tile.rng_read);
        }
    }
    arith
}

/// The rest of a device read once the array's currents (with read noise)
/// are in `out`: sense noise, the ADC (calibrating its range), and the
/// figures the ledger needs. `x` are the normalised inputs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn convert(
    chip: &Chip,
    model: &DeviceModel,
    cells: &CellArray,
    rng: &mut Rng,
    adc_range: &mut [AdcRange; 2],
    forward: bool,
    x: &[f32],
    out: &mut [f32],
    power_uw: f64,
) -> ReadArith {
    chip.sense.add_noise(out, rng);
    let configured = if forward {
        chip.adc.lsb_ua()
    } else {
        chip.adc.backward_lsb_ua()
    };
    let lsb = adc_range[usize::from(!forward)].step(&chip.adc, configured, out);
    chip.adc.convert_with_lsb(lsb, out, rng);
    // Each line drive: one DAC conversion (differential transposed drive
    // counts as one conversion per weight column); bit-serial encoding
    // drives a line once per set bit of its code.
    let drives = chip.dac.total_drives(x);
    // Ohmic read energy `Σ V² G t_int`: of the amplitudes the MVM drove,
    // or, bit-serial, of `V_read` on each line in each cycle it is driven.
    let read_uw = match chip.dac.encoding() {
        DacEncoding::Amplitude => power_uw,
        DacEncoding::BitSerial => {
            let v = chip.dac.read_voltage_v();
            let g_us = driven_conductance_us(cells, model, forward, |k| chip.dac.drives(x[k]));
            v * v * g_us
        }
    };
    ReadArith {
        lines: out.len(),
        drives,
        read_uw,
        digital: false,
    }
}

/// The ledger slots of a tile's `N` charges of one kind (a read's, a
/// write phase's), by phase: the operation charges the same few keys
/// every time (see [`aimsim_energy::Slot`]).
#[derive(Debug)]
pub(crate) struct LedgerSlots<const N: usize>(Vec<(Phase, [Option<Slot>; N])>);

impl<const N: usize> Default for LedgerSlots<N> {
    fn default() -> Self {
        LedgerSlots(Vec::new())
    }
}

/// A tile's read slots.
pub(crate) type ReadSlots = LedgerSlots<READ_CHARGES>;

/// Keys [`charge`] charges (one slot each, whatever the read).
const READ_CHARGES: usize = 6;

impl<const N: usize> LedgerSlots<N> {
    /// The slots of `phase`'s charges (made empty the first time; one
    /// entry more each time, where a doubled capacity held 4 of 1 or 2
    /// phases: 0.45 MB on 648 tiles).
    #[inline]
    pub(crate) fn of(&mut self, phase: Phase) -> &mut [Option<Slot>; N] {
        let i = match self.0.iter().position(|(p, _)| *p == phase) {
            Some(i) => i,
            None => {
                self.0.reserve_exact(1);
                self.0.push((phase, [None; N]));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }
}

/// The charges of one read of tile `id` (`rows × cols` weights), in
/// order, to `f(slot index, key, count, pJ)` (docs/energy-model.md).
#[allow(clippy::too_many_arguments)]
fn read_charges(
    chip: &Chip,
    id: u32,
    rows: usize,
    cols: usize,
    a: ReadArith,
    phase: Phase,
    mut f: impl FnMut(usize, Key, u64, f64),
) {
    let key = |component, operation| Key {
        component,
        operation,
        phase,
        tile: Some(id),
    };
    if a.digital {
        let macs = (rows * cols) as u64;
        f(
            5,
            key(Component::Digital, "mac"),
            macs,
            macs as f64 * chip.digital.mac_pj(),
        );
        return;
    }
    let t_read_s = chip.clock.cycles(chip.sense.integrate_cycles()) as f64 * 1e-12;
    f(
        0,
        key(Component::Dac, "conversion"),
        a.drives,
        a.drives as f64 * chip.dac.energy_pj(),
    );
    f(
        1,
        key(Component::ArrayRead, "ohmic"),
        1,
        a.read_uw * 1e-6 * t_read_s * 1e12,
    );
    // Every output line integrates in every read cycle.
    let integrations = a.lines as u64 * chip.dac.read_cycles();
    f(
        2,
        key(Component::Sense, "integrate"),
        integrations,
        integrations as f64 * chip.sense.energy_pj(t_read_s),
    );
    let lines = a.lines as u64;
    f(
        3,
        key(Component::Adc, "conversion"),
        lines,
        lines as f64 * chip.adc.energy_pj(),
    );
    // Re-ranging (`adc.recalibrate_every`) compares every conversion with
    // the window's peak: one digital compare, charged as an add.
    if chip.adc.recalibrate_every() > 0 {
        f(
            4,
            key(Component::Adc, "range_peak"),
            lines,
            lines as f64 * chip.digital.add_pj(),
        );
    }
}

/// Charges one tile read's energy to the ledger (docs/energy-model.md).
pub(crate) fn charge(
    chip: &Chip,
    tile: &mut Tile,
    a: ReadArith,
    phase: Phase,
    ledger: &mut EnergyLedger,
) {
    let (id, rows, cols) = (tile.id, tile.rows, tile.cols);
    let slots = tile.read_log.slots.of(phase);
    read_charges(chip, id, rows, cols, a, phase, |i, key, count, pj| {
        ledger.charge_via(&mut slots[i], || key, count, pj);
    });
}

/// A tile's ledger slots for its read charges, and the charges of its
/// reads computed ahead on a pool thread ([`Tile::compute_ahead`]), which
/// the calling thread applies ([`EnergyLedger::apply_run`]) before
/// anything else charges the tile's read keys.
#[derive(Debug, Default)]
pub(crate) struct ReadLog {
    pub(crate) slots: ReadSlots,
    pub(crate) run: ChargeRun,
}

impl ReadLog {
    /// [`charge`] into the run against the ledger of `charges` (read
    /// only; nothing when `charges` is `None`) for the read `a` of tile
    /// `id` (`rows × cols`). By the remembered ledger slots, as
    /// [`charge`]: the run finds each entry by an integer compare, and
    /// the ledger is searched for a key only the first time (the same
    /// tallies as charging by key).
    pub(crate) fn charge_ahead(
        &mut self,
        chip: &Chip,
        (id, rows, cols): (u32, usize, usize),
        a: ReadArith,
        charges: Option<(&EnergyLedger, Phase)>,
    ) {
        let Some((ledger, phase)) = charges else {
            return;
        };
        let (slots, run) = (self.slots.of(phase), &mut self.run);
        read_charges(chip, id, rows, cols, a, phase, |i, key, count, pj| {
            run.charge_via(ledger, &mut slots[i], || key, count, pj);
        });
    }
}

/// Charges the verify reads of a write-verify phase: `reads` row drives
/// (one DAC conversion each) and `r.cells` cell reads at the read voltage
/// for one integration (array, sense and ADC energy).
pub(crate) fn charge_verify_reads(
    chip: &Chip,
    tile: u32,
    phase: Phase,
    reads: u64,
    r: VerifyRead,
    ledger: &mut impl crate::write::Charges,
) {
    let id = Some(tile);
    let t_read_s = chip.clock.cycles(chip.sense.integrate_cycles()) as f64 * 1e-12;
    let v = chip.dac.read_voltage_v();
    let cells = u64::from(r.cells);
    ledger.add(
        Component::Dac,
        "verify_drive",
        phase,
        id,
        reads,
        reads as f64 * chip.dac.energy_pj(),
    );
    ledger.add(
        Component::ArrayRead,
        "verify_read",
        phase,
        id,
        cells,
        v * v * r.g_sum_us * 1e-6 * t_read_s * 1e12,
    );
    ledger.add(
        Component::Sense,
        "verify_integrate",
        phase,
        id,
        cells,
        cells as f64 * chip.sense.energy_pj(t_read_s),
    );
    ledger.add(
        Component::Adc,
        "verify_conversion",
        phase,
        id,
        cells,
        cells as f64 * chip.adc.energy_pj(),
    );
}

/// `Σ_lines drives(line) · G_line` in µS, `G_line` the total conductance of
/// the cells an input line drives: a row's cells for forward reads, a weight
/// column's `G⁺` and `G⁻` cells for transposed reads.
fn driven_conductance_us(
    cells: &CellArray,
    model: &DeviceModel,
    forward: bool,
    drives: impl Fn(usize) -> u32,
) -> f64 {
    let cols = cells.cols();
    let mut sum = 0.0f64;
    // Cell by cell (a relaxing device's present values are computed, not
    // stored: no copy of the array), only those of driven lines.
    for r in 0..cells.rows() {
        for c in 0..cols {
            let d = drives(if forward { r } else { c });
            if d > 0 {
                let k = r * cols + c;
                let pair =
                    cells.conductance_us(model, 2 * k) + cells.conductance_us(model, 2 * k + 1);
                sum += f64::from(d) * f64::from(pair);
            }
        }
    }
    sum
}
