//! aimsim as a library: the entry point for library users, sweeps and
//! bindings.
//!
//! * [`RunSpec`] — what to simulate: chip, device, workload, write rule,
//!   training algorithm and options, seed and `--set`-style overrides. Built
//!   with [`RunSpec::builder`] (validated on `build`), it has a canonical
//!   JSON form ([`RunSpec::canonical_json`]) and a stable hash
//!   ([`RunSpec::hash`]).
//! * [`Simulation`] — an owned run: assembled from a spec, stepped
//!   ([`Simulation::step`]), observed ([`Simulation::chip`] gives the chip,
//!   its ledger and counters), and finished into a [`Report`]
//!   ([`Simulation::report`]) with inference measured on its own ledger.
//! * Calibration — [`calibrate_file`] fits a device to a measured-data file
//!   and records its provenance.
//! * Outputs — [`Simulation::write_outputs`] writes `report.json`,
//!   `energy.csv` and `lifetime.csv` as a set; [`Report::from_json`] reads a
//!   report back; [`Simulation::write_outputs_with_plots`] adds the SVG
//!   plots ([`PLOT_FILES`]) to the set. [`fsout`] holds the rules every output follows (only
//!   regular files replaced, hidden temporaries, cleanup on signals).
//!
//! * Reproduction — [`reproduce_eapu`] runs the EaPU paper's claims on
//!   aimsim's workloads and builds the claim table ([`Reproduction`]:
//!   `reproduce.json`, `reproduce.md`, one plot per claim group).
//!
//! ```no_run
//! use aimsim::{RunSpec, Simulation};
//! let spec = RunSpec::builder().rule("bp").steps(200).seed(7).set("chip.adc.bits", "6").build()?;
//! let mut sim = Simulation::new(&spec)?;
//! sim.step(100)?;
//! println!("{} pJ after 100 steps", sim.chip().ledger().total_pj());
//! let report = sim.report()?;
//! println!("accuracy {}", report.workload.metric.value);
//! # Ok::<(), aimsim::AimsimError>(())
//! ```

mod calibrate;
pub mod fsout;
mod gpu;
mod images;
mod output;
mod plots;
mod report;
mod reproduce;
mod simulation;
mod spec;

pub use calibrate::{calibrate_file, FileCalibration, Fitted};
pub use gpu::{estimate_step, Gpu, GpuReport, GpuStep, Sourced, DEFAULT_GPU, GPU_SCHEMA};
pub use images::{encode_png, write_images};
pub use output::{write_outputs, write_outputs_with, OUTPUT_FILES};
pub use plots::{run_plots, PLOT_FILES};
pub use report::{
    AreaReport, EnergyReport, LayerReport, LifetimeReport, MetricReport, Report, TimeReport,
    WorkloadReport, WritesReport, REPORT_SCHEMA,
};
pub use reproduce::{
    reproduce_eapu, reproduce_files, Claim, ReproduceOptions, Reproduction, RunRecord,
    CLAIM_GROUPS, QUICK_STEPS, REPRODUCE_SCHEMA, UPDATE_UNITS,
};
pub use simulation::{Simulation, VcdOptions};
pub use spec::{
    load_chip, load_device, Resolved, RunSpec, RunSpecBuilder, ALGORITHM_NAMES,
    MAX_SIMULATED_WEIGHTS,
};

pub use aimsim_controller as controller;
pub use aimsim_energy as energy;
pub use aimsim_engine as engine;
pub use aimsim_train as train;
pub use aimsim_workload as workload;

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AimsimError {
    /// Bad input: a file, field or value that cannot be used (exit status 2).
    #[error(transparent)]
    Config(#[from] aimsim_core::CoreError),
    /// A device that cannot be used (exit status 2).
    #[error(transparent)]
    Device(#[from] aimsim_device::DeviceError),
    /// The chip failed.
    #[error(transparent)]
    Engine(#[from] aimsim_engine::EngineError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] aimsim_train::TrainError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An output path that cannot be used: a link, a folder, a folder
    /// that does not exist or cannot be written (exit status 2).
    #[error("cannot write {0}")]
    BadOutput(String),
    /// A simulation was used out of order (e.g. stepped after its report).
    #[error("{0}")]
    Usage(String),
}

impl AimsimError {
    /// Whether the error is the user's input (exit status 2) rather than a
    /// failure of the run.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AimsimError::Config(_) | AimsimError::Device(_) | AimsimError::BadOutput(_) => true,
            AimsimError::Engine(e) => matches!(
                e,
                aimsim_engine::EngineError::Config(_)
                    | aimsim_engine::EngineError::VcdSelection(_)
                    | aimsim_engine::EngineError::TooManyThreads { .. }
            ),
            AimsimError::Train(e) => matches!(
                e,
                aimsim_train::TrainError::Config(_) | aimsim_train::TrainError::Network(_)
            ),
            _ => false,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, AimsimError>;
