//! The chip, and nothing about neural networks: [`ChipSim`] places weight
//! matrices on crossbar tiles and offers hardware primitives — MVMs
//! (inputs on rows, transposed, batched), updates through the on-chip write
//! rule, phase switches and time advance — with cycle-level timing, resource
//! contention and an energy ledger. Training algorithms (crate
//! `aimsim-train`) drive it.
//!
//! Time is integer picoseconds ([`aimsim_core::SimTime`]). Events are per
//! operation, never per cell: a tile's MVM start, its ADCs' start and the
//! end of their last batch (the earlier batches change nothing and are
//! counted, not queued), each pulse phase of a row write. The cell arithmetic inside an event is a
//! vectorised loop over contiguous slices.
//!
//! Modules, one job each:
//! * `sim` — [`ChipSim`]: placement, primitives, event handling, the
//!   controller's phase clock;
//! * `queue` — the event queue and its tie-break: at equal times,
//!   completions and releases, then starts and requests, then write-budget
//!   grants; within a class lower tiles first, then insertion order — so a
//!   run is a pure function of its inputs and seed;
//! * `budget` — the chip-wide write-current budget
//!   (`engine.write_budget_cells`: first come, first served);
//! * `tile`, `read`, `write` — a tile's state, its read model (DAC, array,
//!   sense, ADC with energies) and its write model (pulse phases through
//!   the controller's write modes);
//! * `reference` — the fixed-step reference ([`TimeMode::FixedStep`]),
//!   independent of the event queue, that the engine is tested against;
//! * `probe`, `vcd` — observers ([`Probe`], [`VcdProbe`]);
//! * `stats` — timing report, write counters, wear;
//! * `forming` — the update-forming unit of each tile (`chip.update_unit`):
//!   forms the requested ΔG, has the rule decide (or samples EaPU's
//!   decisions), counts and prices the work; sorts update energy into
//!   forming, deciding, writing and static ([`UpdateSplit`]);
//! * `chip` — chip files (`aimsim.chip/1`).
//!
//! Resources: each tile executes its operations one at a time in issue
//! order; its ADCs convert `adcs_per_tile` lines per batch; each tile's
//! driver pulses at most `max_parallel` cells per phase, and the optional
//! write budget makes pulse phases of different tiles wait for each other.
//! Two schedules ([`Schedule`]): `sequential` (an update returns when its
//! writes are done) and `pipelined` (the next reads overlap the writes).

mod budget;
mod chip;
mod forming;
mod pool;
mod probe;
mod queue;
mod read;
mod reference;
mod sim;
mod stats;
mod tile;
mod vcd;
mod write;

pub use chip::{Chip, RawArray, RawChip, RawEngine, BUILTIN_CHIPS, CHIP_SCHEMA};
pub use forming::{update_stage, UpdateSplit, UpdateStage};
pub use probe::Probe;
pub use sim::{ChipSim, MatrixId, MatrixUpdate, Schedule, TimeMode, MAX_THREADS};
pub use stats::{CriticalPath, LifetimeRow, TileTiming, TimingReport, WriteStats};
pub use vcd::VcdProbe;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] aimsim_core::CoreError),
    /// A VCD signal selection selects nothing (bad input).
    #[error("{0}")]
    VcdSelection(String),
    /// Writing the VCD failed.
    #[error(transparent)]
    Trace(#[from] aimsim_trace::TraceError),
    /// More worker threads asked for than [`MAX_THREADS`].
    #[error("{threads} worker threads asked for: expected 0 (one per CPU) to {max}")]
    TooManyThreads {
        /// Threads asked for.
        threads: usize,
        /// The most allowed ([`MAX_THREADS`]).
        max: usize,
    },
    /// The worker threads could not be started.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        reason: String,
    },
    /// The chip waits for operations that can never finish.
    #[error("deadlock at {at_ps} ps: {reads_pending} reads and {writes_pending} writes pending with no event scheduled")]
    Deadlock {
        /// Simulated time, ps.
        at_ps: u64,
        /// Reads still pending.
        reads_pending: usize,
        /// Writes still pending.
        writes_pending: usize,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, EngineError>;
