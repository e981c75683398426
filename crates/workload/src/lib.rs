//! Workloads: dense networks mapped onto tiles by the engine, the data sets
//! they learn from, and their metrics.
//!
//! * [`digits`](load_digits): the 8×8 handwritten digits (UCI optical
//!   digits, CC BY 4.0), shipped in `data/` in a 5-bit packed form, with a
//!   fixed train/test split.
//! * [`builtin_workload`]: `digits-mlp`, a 64-128-10 MLP with a tanh
//!   hidden layer, trained with softmax cross-entropy, scored by accuracy.

mod digits;
mod metrics;
mod network;

pub use digits::{load_digits, Digits, DIGITS_TEST_EVERY};
pub use metrics::{argmax, softmax_cross_entropy};
pub use network::{builtin_workload, Activation, Dataset, LayerSpec, Workload, WORKLOAD_NAMES};
