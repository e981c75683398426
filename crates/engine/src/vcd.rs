//! The waveform probe: declares the chip's signals and writes their
//! changes to a VCD as events happen.
//!
//! `controller.phase` codes the algorithm's phases 1, 2, … in the order the
//! probe was given them (backprop: forward 1, backward 2, update 3), 0
//! between steps; the codes are listed in the VCD's `$comment`.

use crate::probe::Probe;
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

/// A [`Probe`] writing one run's VCD.
pub struct VcdProbe {
    w: VcdWriter<Box<dyn Write + Send>>,
    phase: SignalId,
    step: SignalId,
    energy: SignalId,
    writes: SignalId,
    tiles: Vec<TileSignals>,
    /// Cells each tile has written in the current step.
    step_writes: Vec<u64>,
    /// The phases coded 1, 2, … on `controller.phase`.
    phases: Vec<Phase>,
    /// A step began and its first phase has not been entered yet.
    step_fresh: bool,
    /// The algorithm's analog signals (scope `algorithm`).
    analog: Vec<SignalId>,
}

impl VcdProbe {
    /// Declares the signals of `tiles` tiles and the controller, with
    /// `phases` coded on `controller.phase`, keeps those matching `select`
    /// (all if empty) and writes the header with `comment`.
    pub fn start(
        out: Box<dyn Write + Send>,
        tiles: usize,
        phases: &[Phase],
        comment: &str,
        select: &[String],
    ) -> Result<VcdProbe> {
        VcdProbe::start_with_analog(out, tiles, phases, comment, select, &[])
    }

    /// [`VcdProbe::start`] with a training algorithm's analog signals
    /// (`real` variables in the scope `algorithm`, e.g. HGE's `tone0` and
    /// `loss`), declared after the chip's so that the chip's signal codes
    /// do not change; [`Probe::analog`] sets them by index.
    pub fn start_with_analog(
        out: Box<dyn Write + Send>,
        tiles: usize,
        phases: &[Phase],
        comment: &str,
        select: &[String],
        analog: &[&str],
    ) -> Result<VcdProbe> {
        let mut b = VcdBuilder::new(comment);
        b.select(select);
        let width = (u64::BITS - (phases.len() as u64).leading_zeros()).max(1);
        let phase = b.wire("controller", "phase", width);
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
        let analog: Vec<SignalId> = analog.iter().map(|n| b.real("algorithm", n)).collect();
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
            phases: phases.to_vec(),
            step_fresh: false,
            analog,
        })
    }
}

impl Probe for VcdProbe {
    fn step_begin(&mut self, t: SimTime, step: u64) -> Result<()> {
        self.w.set_bits(t.ps(), self.step, step)?;
        self.step_fresh = true;
        Ok(())
    }

    /// The per-step write counters restart when the step's first phase
    /// begins.
    fn phase(&mut self, t: SimTime, phase: Phase) -> Result<()> {
        let code = self
            .phases
            .iter()
            .position(|&p| p == phase)
            .map_or(0, |i| i as u64 + 1);
        self.w.set_bits(t.ps(), self.phase, code)?;
        if std::mem::take(&mut self.step_fresh) {
            for (n, s) in self.step_writes.iter_mut().zip(&self.tiles) {
                *n = 0;
                self.w.set_bits(t.ps(), s.step_writes, 0)?;
            }
        }
        Ok(())
    }

    fn step_end(&mut self, t: SimTime, energy_pj: f64, writes: u64) -> Result<()> {
        self.w.set_bits(t.ps(), self.phase, 0)?;
        self.w.set_real(t.ps(), self.energy, energy_pj)?;
        self.w.set_real(t.ps(), self.writes, writes as f64)?;
        Ok(())
    }

    fn tile_busy(&mut self, t: SimTime, tile: u32, on: bool) -> Result<()> {
        let s = &self.tiles[tile as usize];
        Ok(self.w.set_bits(t.ps(), s.busy, u64::from(on))?)
    }

    fn adc_busy(&mut self, t: SimTime, tile: u32, on: bool) -> Result<()> {
        let s = &self.tiles[tile as usize];
        Ok(self.w.set_bits(t.ps(), s.adc_busy, u64::from(on))?)
    }

    fn pulse(
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

    fn analog(&mut self, t: SimTime, index: usize, value: f64) -> Result<()> {
        if let Some(&id) = self.analog.get(index) {
            self.w.set_real(t.ps(), id, value)?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>, end: SimTime) -> Result<()> {
        self.w.finish(end.ps())?;
        Ok(())
    }
}
