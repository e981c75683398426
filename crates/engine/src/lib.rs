//! The event-driven engine: it wires tiles (crossbar array + periphery), the
//! controller's write scheduler, the energy ledger and the trace sinks, and
//! trains a workload on the chip.
//!
//! Time is integer picoseconds ([`aimsim_core::SimTime`]). Events are per
//! operation, never per cell: a tile's MVM start, each of its ADC batches,
//! each pulse phase of a row write. The cell arithmetic inside an event is a
//! vectorised loop over contiguous slices.
//!
//! One training step (sequential schedule, `docs/ARCHITECTURE.md`):
//! 1. forward, layer by layer: the tiles of a layer run their MVMs
//!    concurrently (DAC settle, integrate, ADC batches over the ADCs each
//!    tile has); partial sums and activations are digital;
//! 2. backward: transposed MVMs from the last layer down to the first hidden
//!    layer;
//! 3. update: each tile computes `ΔG = −η δ ⊗ x / R_wg` digitally, the rule
//!    decides what to write, the write plan is packed into pulse phases
//!    that the tile's driver executes one after another.
//!
//! Events at equal times are ordered by insertion sequence (a FIFO
//! tie-break), so a run is a pure function of its inputs and seed.
//!
//! Resources: each tile executes its operations one at a time in issue
//! order; its ADCs convert `adcs_per_tile` lines per batch; each tile's
//! driver pulses at most `max_parallel` cells per phase, and an optional
//! chip-wide write-current budget (`engine.write_budget_cells`) makes pulse
//! phases of different tiles wait for each other (first come, first served).
//! Two schedules ([`Schedule`]): `sequential` (stage barriers) and
//! `pipelined` (the next sample's reads overlap this sample's writes).

mod chip;
mod engine;
mod report;
mod run;
mod vcd;

pub use chip::{Chip, RawArray, RawChip, RawEngine, BUILTIN_CHIPS, CHIP_SCHEMA};
pub use engine::Schedule;
pub use report::{
    CriticalPath, EnergyReport, EnergyRow, GpuReport, LifetimeReport, LifetimeRow, MetricReport,
    Report, TileTiming, TimeReport, TimingReport, WorkloadReport, WritesReport, REPORT_SCHEMA,
};
pub use run::{run, RawTrain, RunOptions, RunOutput, Train, VcdOptions};

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
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, EngineError>;
