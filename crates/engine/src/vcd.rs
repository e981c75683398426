//! The engine's waveform probe: declares the chip's signals and writes
//! their changes to a VCD as events happen.

use crate::{EngineError, Result};
use aimsim_core::SimTime;
use aimsim_device::Polarity;
use aimsim_energy::Phase;
use aimsim_trace::{SignalId, VcdBuilder, VcdWriter};
use std::io::Write;

struct TileSignals {
    busy: SignalId,
    adc_busy: SignalId,
    set: SignalId,
    reset: SignalId,
    row: SignalId,
    cells: SignalId,
    step_writes: SignalId,
}

/// Signals of one run's VCD.
pub(crate) struct VcdProbe {
    w: VcdWriter<Box<dyn Write>>,
    phase: SignalId,
    step: SignalId,
    energy: SignalId,
    writes: SignalId,
    tiles: Vec<TileSignals>,
    /// Cells each tile has written in the current step.
    step_writes: Vec<u64>,
}

/// Phase codes of `controller.phase`.
fn phase_code(p: Option<Phase>) -> u64 {
    match p {
        None => 0,
        Some(Phase::Forward) => 1,
        Some(Phase::Backward) => 2,
        Some(Phase::Update) => 3,
    }
}

impl VcdProbe {
    /// Declares the signals and writes the header.
    pub(crate) fn start(
        out: Box<dyn Write>,
        tiles: usize,
        comment: &str,
        select: &[String],
    ) -> Result<VcdProbe> {
        let mut b = VcdBuilder::new(comment);
        b.select(select);
        let phase = b.wire("controller", "phase", 2);
        let step = b.wire("controller", "step", 32);
        let energy = b.real("controller", "energy_pj");
        let writes = b.real("controller", "cell_writes");
        let tiles: Vec<TileSignals> = (0..tiles)
            .map(|t| {
                let s = format!("tile{t}");
                TileSignals {
                    busy: b.wire(&s, "busy", 1),
                    adc_busy: b.wire(&s, "adc_busy", 1),
                    set: b.wire(&s, "set_pulse", 1),
                    reset: b.wire(&s, "reset_pulse", 1),
                    row: b.wire(&s, "row", 16),
                    cells: b.wire(&s, "cells_written", 16),
                    step_writes: b.wire(&s, "step_cells_written", 32),
                }
            })
            .collect();
        let unmatched = b.unmatched_patterns();
        if !unmatched.is_empty() {
            return Err(EngineError::VcdSelection(format!(
                "--vcd-signals: {} matches no signal; signals are controller.{{phase,step,energy_pj,cell_writes}} and tileK.{{busy,adc_busy,set_pulse,reset_pulse,row,cells_written,step_cells_written}} for K in 0..{}",
                unmatched.join(", "),
                tiles.len()
            )));
        }
        Ok(VcdProbe {
            step_writes: vec![0; tiles.len()],
            w: b.start(out)?,
            phase,
            step,
            energy,
            writes,
            tiles,
        })
    }

    /// The controller enters `phase` of `step`.
    pub(crate) fn step(&mut self, t: SimTime, step: u64, phase: Option<Phase>) -> Result<()> {
        self.w.set_bits(t.ps(), self.step, step)?;
        self.w.set_bits(t.ps(), self.phase, phase_code(phase))?;
        if phase == Some(Phase::Forward) {
            for (n, s) in self.step_writes.iter_mut().zip(&self.tiles) {
                *n = 0;
                self.w.set_bits(t.ps(), s.step_writes, 0)?;
            }
        }
        Ok(())
    }

    /// A step ended: cumulative energy and writes.
    pub(crate) fn step_end(&mut self, t: SimTime, energy_pj: f64, writes: u64) -> Result<()> {
        self.w.set_bits(t.ps(), self.phase, 0)?;
        self.w.set_real(t.ps(), self.energy, energy_pj)?;
        self.w.set_real(t.ps(), self.writes, writes as f64)?;
        Ok(())
    }

    pub(crate) fn tile_busy(&mut self, t: SimTime, tile: u32, on: bool) -> Result<()> {
        let s = &self.tiles[tile as usize];
        Ok(self.w.set_bits(t.ps(), s.busy, u64::from(on))?)
    }

    pub(crate) fn adc_busy(&mut self, t: SimTime, tile: u32, on: bool) -> Result<()> {
        let s = &self.tiles[tile as usize];
        Ok(self.w.set_bits(t.ps(), s.adc_busy, u64::from(on))?)
    }

    /// A pulse phase starts (`Some((polarity, row))` with `cells` cells) or
    /// the tile's writes end (`None`).
    pub(crate) fn pulse(
        &mut self,
        t: SimTime,
        tile: u32,
        phase: Option<(Polarity, u32)>,
        cells: u32,
    ) -> Result<()> {
        let s = &self.tiles[tile as usize];
        let (set, reset, row) = match phase {
            Some((Polarity::Set, r)) => (1, 0, r),
            Some((Polarity::Reset, r)) => (0, 1, r),
            None => (0, 0, 0),
        };
        let ps = t.ps();
        self.w.set_bits(ps, s.set, set)?;
        self.w.set_bits(ps, s.reset, reset)?;
        self.w.set_bits(ps, s.row, u64::from(row))?;
        self.w.set_bits(ps, s.cells, u64::from(cells))?;
        self.step_writes[tile as usize] += u64::from(cells);
        self.w
            .set_bits(ps, s.step_writes, self.step_writes[tile as usize])?;
        Ok(())
    }

    /// Ends the dump at `end`.
    pub(crate) fn finish(self, end: SimTime) -> Result<()> {
        self.w.finish(end.ps())?;
        Ok(())
    }
}
