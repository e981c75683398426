//! Ways to train a network on an aimsim chip.
//!
//! The chip ([`aimsim_engine::ChipSim`]) offers hardware primitives; a
//! [`TrainingAlgorithm`] turns them into learning: it places the network's
//! weight matrices, and for each batch drives the phases it uses (for
//! [`Backprop`]: forward MVMs, transposed MVMs, one update through the
//! chip's write rule), naming each phase so the ledger charges its energy
//! there. The [`Trainer`] runs the loop — epochs, shuffling, trace rows,
//! the VCD window — and [`evaluate()`] measures the trained network on the
//! test set with its own ledger, so inference is reported beside training
//! rather than rewinding the clock.
//!
//! Data flow of one backprop step on a mini-batch of B samples: inputs →
//! `enter_phase(forward)` → per layer `ChipSim::mvm_batch` (dense: one MVM
//! per sample; conv: one per output position and sample, on im2col
//! patches; + bias, activation, and pooling / residual adds / pixel
//! shuffle, charged digitally) → loss gradient → `enter_phase(backward)` →
//! per layer `ChipSim::mvm_transposed` (+ activation derivative, col2im) →
//! `enter_phase(update)` → bias SGD in the digital periphery and one
//! `ChipSim::update` with the rank-`P·B` `(x, δ)` factors of every weight
//! layer and scale `−η/B`.

mod algo_options;
mod backprop;
mod evaluate;
mod hge;
mod madem;
mod mlp;
mod options;
mod registry;
mod rows;
mod tiki_taka;
mod tones;
mod trainer;

pub use algo_options::{RawHge, RawMadem, RawTikiTaka};
pub use backprop::{layer_gain, Backprop};
pub use evaluate::{evaluate, Evaluation, InferenceReport, RestoredImage};
pub use hge::{Hge, HgeGradient, DEMODULATE, PERTURB};
pub use madem::{Madem, FREE, NUDGED};
pub use mlp::reference_gradient;
pub use options::{RawTrain, Train};
pub use registry::{build_algorithm, AlgorithmBuilder, ALGORITHMS, ALGORITHM_NAMES};
pub use rows::EnergyRow;
pub use tiki_taka::{TikiTaka, TRANSFER};
pub use tones::{Collision, TonePlan};
pub use trainer::{RowSink, Trainer, VcdWindow};

use aimsim_energy::Phase;
use aimsim_engine::{ChipSim, MatrixId};

/// Errors of training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] aimsim_core::CoreError),
    /// The chip failed (a deadlock, a probe's output).
    #[error(transparent)]
    Engine(#[from] aimsim_engine::EngineError),
    /// A network that does not fit the data or the algorithm.
    #[error("{0}")]
    Network(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Samples of one training step (a mini-batch): `inputs` holds `samples`
/// vectors of equal length, one after another; `labels` one class per
/// sample (classification) and `targets` one target vector per sample
/// (regression), the other empty.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// Samples in the batch.
    pub samples: usize,
    /// Input vectors, row-major.
    pub inputs: &'a [f32],
    /// Class labels, one per input (empty for regression).
    pub labels: &'a [u8],
    /// Target vectors, row-major (empty for classification).
    pub targets: &'a [f32],
}

impl Batch<'_> {
    /// Samples in the batch.
    pub fn len(&self) -> usize {
        self.samples
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }
}

/// A way of training a network on a chip.
///
/// An algorithm owns the network's digital state (biases, activations,
/// optimiser state) and the ids of the matrices it placed on the chip; the
/// chip owns the weights. It names the phases it charges energy to
/// ([`TrainingAlgorithm::phases`]): the trace's per-phase columns and the
/// VCD's `controller.phase` codes follow that list.
pub trait TrainingAlgorithm: Send {
    /// The algorithm's name (`"backprop"`).
    fn name(&self) -> &str;

    /// The phases one step enters, in report order.
    fn phases(&self) -> &[Phase];

    /// One training step on `batch`.
    fn step(&mut self, chip: &mut ChipSim, batch: Batch<'_>) -> Result<()>;

    /// The network's output for one input, in the chip's current phase,
    /// without learning (evaluation).
    fn infer(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<&[f32]>;

    /// Names of the analog signals the algorithm shows on the chip's probe
    /// ([`ChipSim::probe_analog`], by index in this list); none by default.
    fn analog_signals(&self) -> &[&'static str] {
        &[]
    }

    /// The chip matrices of each weight layer (dense or conv), in network
    /// order: one per layer, or several where an algorithm keeps more than
    /// one array per weight (Tiki-Taka's fast and slow arrays).
    fn layer_matrices(&self) -> Vec<Vec<MatrixId>>;

    /// Figures of the algorithm's own for `report.json`'s
    /// `algorithm_details` (e.g. HGE's tone plan and the cost of one
    /// gradient estimate), from its state and the chip's training ledger;
    /// `None` (the default) leaves the key out.
    fn details(&self, chip: &ChipSim) -> Option<serde_json::Value> {
        let _ = chip;
        None
    }

    /// Silicon the algorithm adds to the chip beyond the tiles, mm² by
    /// component (HGE's `lockin`); none by default. The report adds it to
    /// `area_mm2`.
    fn extra_area_mm2(&self) -> std::collections::BTreeMap<String, f64> {
        std::collections::BTreeMap::new()
    }
}
