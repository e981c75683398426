//! The fixed-step reference: a naive simulation that advances one clock
//! cycle at a time and steps each tile's state machine, kept independent of
//! the event queue. The event engine is tested against it (same cycles,
//! energies, writes and timing breakdown, bit for bit).
//!
//! Each cycle settles every state machine in the documented order —
//! completions and releases in tile order, then starts and phase requests
//! in tile order, then write-current grants, repeated until nothing changes
//! — then time advances by exactly one clock period and every running
//! operation counts down by one cycle.

use crate::queue::TileOp;
use crate::sim::ChipSim;
use crate::Result;
use aimsim_core::SimTime;

/// A tile's state in the fixed-step reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fsm {
    Idle,
    /// An operation begins at `at` (the gradient of a write is computed until then).
    Starting {
        at: SimTime,
        op: TileOp,
    },
    /// A read with `left` cycles to go.
    Read {
        left: u64,
    },
    /// A pulse phase of `cells` cells with `left` cycles to go.
    Phase {
        left: u64,
        cells: u32,
    },
    /// A pulse phase waits for write current.
    WaitBudget,
}

impl ChipSim {
    /// Steps cycle by cycle until `done` holds after a cycle has settled.
    pub(crate) fn step_until(&mut self, done: impl Fn(&Self) -> bool) -> Result<()> {
        loop {
            self.settle_cycle()?;
            if done(self) {
                return Ok(());
            }
            let period = self.chip().clock.period_ps();
            *self.now_mut() = self.now() + period;
            for tile in &mut self.tiles {
                match &mut tile.fsm {
                    Fsm::Read { left } | Fsm::Phase { left, .. } => *left -= 1,
                    _ => {}
                }
            }
        }
    }

    fn settle_cycle(&mut self) -> Result<()> {
        let t = self.now();
        loop {
            let mut changed = false;
            let mut released = false;
            let mut wants_phase: Vec<usize> = Vec::new();
            for ti in 0..self.tiles.len() {
                match self.tiles[ti].fsm {
                    Fsm::Read { left: 0 } => {
                        self.tiles[ti].fsm = Fsm::Idle;
                        let tr = &mut self.tiles[ti];
                        tr.adc_busy_ps += tr.current.convert;
                        self.finish_op(ti, t, false);
                        changed = true;
                    }
                    Fsm::Phase { left: 0, cells } => {
                        self.tiles[ti].fsm = Fsm::Idle;
                        self.budget.release(cells);
                        released = true;
                        if self.tiles[ti].op_has_phases() {
                            wants_phase.push(ti);
                        } else {
                            self.finish_op(ti, t, true);
                        }
                        changed = true;
                    }
                    _ => {}
                }
            }
            for ti in 0..self.tiles.len() {
                if wants_phase.contains(&ti) {
                    self.request_phase_stepped(ti, t)?;
                    continue;
                }
                if let Fsm::Starting { at, op } = self.tiles[ti].fsm {
                    if at != t {
                        continue;
                    }
                    self.tiles[ti].op_start = t;
                    self.tiles[ti].fsm = Fsm::Idle;
                    match op {
                        TileOp::Write => {
                            self.tiles[ti].begin_write_op();
                            self.request_phase_stepped(ti, t)?
                        }
                        TileOp::Read { transposed } => {
                            let (settle, (batches, conv)) = self.start_read(ti, transposed);
                            self.tiles[ti].fsm = Fsm::Read {
                                left: settle + batches * conv,
                            };
                        }
                    }
                    changed = true;
                }
            }
            if released && self.budget.has_waiters() {
                let before = self.budget.waiters();
                self.grant(t)?;
                changed |= self.budget.waiters() != before;
            }
            if !changed {
                return Ok(());
            }
        }
    }

    fn request_phase_stepped(&mut self, ti: usize, t: SimTime) -> Result<()> {
        self.try_write_phase(ti, t)?;
        if self.tiles[ti].budget_wait_since.is_some() {
            self.tiles[ti].fsm = Fsm::WaitBudget;
        }
        Ok(())
    }
}
