//! One crossbar tile: its cells (or digital weights), periphery state,
//! random streams, scratch buffers and resource bookkeeping.

use crate::queue::TileOp;
use crate::reference::Fsm;
use crate::stats::Breakdown;
use aimsim_controller::PlannedWrite;
use aimsim_core::{stream, Rng, SimTime};
use aimsim_device::{CellArray, DeviceModel, Polarity};
use aimsim_energy::Phase;
use aimsim_periphery::Adc;
use std::collections::VecDeque;

/// One pulse phase of a tile's pending write plan.
pub(crate) struct OwnedPhase {
    pub(crate) row: u32,
    pub(crate) polarity: Polarity,
    pub(crate) writes: Vec<PlannedWrite>,
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
    /// Normalised inputs, row voltages and outputs of the current read.
    pub(crate) x: Vec<f32>,
    pub(crate) v: Vec<f32>,
    pub(crate) out: Vec<f32>,
    /// Scratch for requested and decided updates.
    pub(crate) req: Vec<f32>,
    pub(crate) dec: Vec<f32>,
    /// Coded factors of the `low-precision` update unit (`P × rows`,
    /// `P × cols`).
    pub(crate) qx: Vec<f32>,
    pub(crate) qd: Vec<f32>,
    /// Cycles the update-forming unit and the rule's decisions take before
    /// the tile's writes start.
    pub(crate) form_cycles: u64,
    pub(crate) phases: VecDeque<OwnedPhase>,
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
                let mut a = CellArray::new(
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
            req: vec![0.0; rows * cols],
            dec: vec![0.0; rows * cols],
            qx: Vec::new(),
            qd: Vec::new(),
            form_cycles: 0,
            phases: VecDeque::new(),
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
            budget_wait_since: None,
            fsm: Fsm::Idle,
        }
    }

    /// Cells the next pulse phase pulses (0 if none is pending).
    pub(crate) fn next_phase_cells(&self) -> u32 {
        self.phases.front().map_or(0, |p| p.writes.len() as u32)
    }
}

/// The full-scale state of one tile's ADCs for one read direction
/// (`adc.calibration_reads`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AdcRange {
    /// Reads recorded so far.
    reads: u64,
    /// Largest `|I|` seen in them, µA.
    max_ua: f32,
    /// The calibrated step, once `calibration_reads` reads were seen.
    lsb_ua: Option<f32>,
}

impl AdcRange {
    /// The step to convert `currents_ua` with (`configured_ua` until
    /// calibrated); records their largest magnitude while calibrating.
    pub(crate) fn step(&mut self, adc: &Adc, configured_ua: f32, currents_ua: &[f32]) -> f32 {
        let n = adc.calibration_reads();
        if self.reads < n {
            self.max_ua = currents_ua.iter().fold(self.max_ua, |m, i| m.max(i.abs()));
            self.reads += 1;
            if self.reads == n && self.max_ua > 0.0 {
                let fs = self.max_ua * adc.calibration_margin() as f32;
                self.lsb_ua = Some(adc.lsb_for_full_scale(fs));
            }
            return configured_ua;
        }
        self.lsb_ua.unwrap_or(configured_ua)
    }
}
