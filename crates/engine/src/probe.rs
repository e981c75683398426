//! Observers of the chip: a [`Probe`] sees the chip's signals as events
//! happen (tile busy, ADC busy, pulse phases) and the controller's phase
//! and step markers. The VCD writer is one ([`VcdProbe`](crate::VcdProbe));
//! counters or language bindings plug in the same way.

use crate::Result;
use aimsim_core::SimTime;
use aimsim_device::Polarity;
use aimsim_energy::Phase;

/// An observer of the chip's signals. Every method has a no-op default.
pub trait Probe: Send {
    /// A tile starts (`true`) or ends (`false`) an operation.
    fn tile_busy(&mut self, _t: SimTime, _tile: u32, _busy: bool) -> Result<()> {
        Ok(())
    }

    /// A tile's ADCs start or stop converting.
    fn adc_busy(&mut self, _t: SimTime, _tile: u32, _busy: bool) -> Result<()> {
        Ok(())
    }

    /// A pulse phase starts (`Some((polarity, row))` with `cells` cells) or
    /// the tile's writes end (`None`).
    fn pulse(
        &mut self,
        _t: SimTime,
        _tile: u32,
        _phase: Option<(Polarity, u32)>,
        _cells: u32,
    ) -> Result<()> {
        Ok(())
    }

    /// Training step `step` begins (the trainer's marker).
    fn step_begin(&mut self, _t: SimTime, _step: u64) -> Result<()> {
        Ok(())
    }

    /// The controller enters `phase`.
    fn phase(&mut self, _t: SimTime, _phase: Phase) -> Result<()> {
        Ok(())
    }

    /// A step ended: cumulative energy (pJ) and cell writes.
    fn step_end(&mut self, _t: SimTime, _energy_pj: f64, _cell_writes: u64) -> Result<()> {
        Ok(())
    }

    /// A training algorithm's analog signal `index` (in the order the
    /// algorithm lists them, e.g. HGE's tone and loss samples) takes
    /// `value`.
    fn analog(&mut self, _t: SimTime, _index: usize, _value: f64) -> Result<()> {
        Ok(())
    }

    /// Ends the observation at `end` (flushes files).
    fn finish(self: Box<Self>, _end: SimTime) -> Result<()> {
        Ok(())
    }
}
