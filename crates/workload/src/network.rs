//! Activations, data sets and workloads; the built-in workloads are the
//! network files of the repository's `networks/` folder, embedded.

use crate::data::{check_data, load_data};
use crate::images::TestImage;
use crate::netfile::Network;
use aimsim_core::CoreError;
use std::path::Path;

/// Activation function of a dense or conv layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `tanh(x)`.
    Tanh,
    /// `max(0, x)`.
    Relu,
    /// `1 / (1 + e^−x)`.
    Sigmoid,
    /// No activation (the output layer, before softmax).
    Identity,
}

impl Activation {
    /// Applies the activation in place.
    pub fn apply(self, x: &mut [f32]) {
        match self {
            Activation::Tanh => aimsim_core::tanh::tanh_in_place(x),
            Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Sigmoid => x.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
            Activation::Identity => {}
        }
    }

    /// Multiplies `delta` by the derivative, given the activation's output `y`.
    pub fn backprop(self, y: &[f32], delta: &mut [f32]) {
        match self {
            Activation::Tanh => delta
                .iter_mut()
                .zip(y)
                .for_each(|(d, &y)| *d *= 1.0 - y * y),
            Activation::Relu => delta
                .iter_mut()
                .zip(y)
                .for_each(|(d, &y)| *d *= if y > 0.0 { 1.0 } else { 0.0 }),
            Activation::Sigmoid => delta
                .iter_mut()
                .zip(y)
                .for_each(|(d, &y)| *d *= y * (1.0 - y)),
            Activation::Identity => {}
        }
    }
}

/// One dense layer: `y = f(W x + b)` with `W` of `outputs × inputs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Activation.
    pub activation: Activation,
}

/// A data set, inputs stored row-major (`len × dim`), with class labels
/// (classification) or target vectors (regression: `len × target_dim`).
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Input width.
    pub dim: usize,
    /// Inputs.
    pub x: Vec<f32>,
    /// Class labels (empty for regression).
    pub labels: Vec<u8>,
    /// Target width (0 for classification).
    pub target_dim: usize,
    /// Targets, row-major (empty for classification).
    pub targets: Vec<f32>,
    /// Whole images the samples are tiles of (image-restoration test sets).
    pub images: Vec<TestImage>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input of sample `i`.
    pub fn input(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// Target of sample `i` (regression; empty for classification).
    pub fn target(&self, i: usize) -> &[f32] {
        &self.targets[i * self.target_dim..(i + 1) * self.target_dim]
    }
}

/// A workload: a validated network and its train / test data.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name (`digits-mlp`).
    pub name: String,
    /// The network.
    pub network: Network,
    /// Number of classes (0 for regression).
    pub classes: usize,
    /// Training set.
    pub train: Dataset,
    /// Test set.
    pub test: Dataset,
}

impl Workload {
    /// The network as a chain of dense layers.
    ///
    /// # Panics
    /// If the network has other layers (for tests and callers that built
    /// an MLP themselves; use [`Network::dense_chain`] otherwise).
    pub fn dense_layers(&self) -> Vec<LayerSpec> {
        self.network
            .dense_chain()
            .expect("a network of dense layers")
    }

    /// Loads the data of `network` (random data such as noise drawn from
    /// the streams of run `seed`).
    pub fn from_network(network: Network, seed: u64) -> Result<Workload, CoreError> {
        let (train, test) = load_data(&network, seed)?;
        let classes = if train.labels.is_empty() {
            0
        } else {
            network.output().len()
        };
        Ok(Workload {
            name: network.name.clone(),
            network,
            classes,
            train,
            test,
        })
    }

    /// Checks everything [`Workload::from_network`] checks without
    /// materialising built-in or synthetic data (validation of run specs
    /// and sweep plans; a user's `.npz` file is read).
    pub fn check(network: &Network) -> Result<(), CoreError> {
        check_data(network)
    }

    /// Reads a network file and loads its data.
    pub fn from_file(path: &Path, seed: u64) -> Result<Workload, CoreError> {
        Workload::from_network(Network::from_file(path)?, seed)
    }
}

/// The built-in workloads: name and network file text (`networks/`).
const BUILTINS: &[(&str, &str)] = &[
    (
        "digits-mlp",
        include_str!("../../../networks/digits-mlp.network.json"),
    ),
    (
        "digits-cnn",
        include_str!("../../../networks/digits-cnn.network.json"),
    ),
    (
        "denoise",
        include_str!("../../../networks/denoise.network.json"),
    ),
    ("sr2", include_str!("../../../networks/sr2.network.json")),
];

/// The names of the built-in workloads.
pub const WORKLOAD_NAMES: &[&str] = &["digits-mlp", "digits-cnn", "denoise", "sr2"];

/// A built-in network by name, or `None`.
pub fn builtin_network(name: &str) -> Option<Network> {
    let (_, text) = BUILTINS.iter().find(|(n, _)| *n == name)?;
    let file = format!("<builtin network {name}>");
    Some(
        Network::from_json(&file, text, Path::new("."))
            .expect("built-in network files are valid (tested)"),
    )
}

/// A built-in workload by name, or `None`, with the data of run `seed`.
pub fn builtin_workload(name: &str, seed: u64) -> Option<Workload> {
    let net = builtin_network(name)?;
    Some(Workload::from_network(net, seed).expect("built-in data loads (tested)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_under_its_name() {
        assert_eq!(WORKLOAD_NAMES.len(), BUILTINS.len());
        for (&n, (m, _)) in WORKLOAD_NAMES.iter().zip(BUILTINS) {
            assert_eq!(n, *m);
            let w = builtin_workload(n, 1).unwrap();
            assert_eq!(w.name, n);
            assert!(!w.train.is_empty() && !w.test.is_empty());
        }
        assert!(builtin_workload("nope", 1).is_none());
    }

    #[test]
    fn digits_mlp_is_the_64_128_10_tanh_mlp() {
        let w = builtin_workload("digits-mlp", 1).unwrap();
        let chain = w.network.dense_chain().unwrap();
        assert_eq!(
            chain,
            [
                LayerSpec {
                    inputs: 64,
                    outputs: 128,
                    activation: Activation::Tanh
                },
                LayerSpec {
                    inputs: 128,
                    outputs: 10,
                    activation: Activation::Identity
                },
            ]
        );
        assert_eq!((w.train.len(), w.test.len(), w.classes), (1438, 359, 10));
        assert_eq!(w.network.parameters(), 64 * 128 + 128 + 128 * 10 + 10);
        assert_eq!(w.train.input(0)[3], 13.0 / 16.0);
    }
}
