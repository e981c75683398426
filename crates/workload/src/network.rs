//! Dense networks and the built-in workloads.

use crate::digits::load_digits;

/// Activation function of a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `tanh(x)`.
    Tanh,
    /// `max(0, x)`.
    Relu,
    /// No activation (the output layer, before softmax).
    Identity,
}

impl Activation {
    /// Applies the activation in place.
    pub fn apply(self, x: &mut [f32]) {
        match self {
            Activation::Tanh => x.iter_mut().for_each(|v| *v = v.tanh()),
            Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
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

/// A labelled data set, inputs stored row-major (`len × dim`).
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Input width.
    pub dim: usize,
    /// Inputs, normalised to `[0, 1]`.
    pub x: Vec<f32>,
    /// Class labels.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Input of sample `i`.
    pub fn input(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
}

/// A classification workload: a network and its train / test data.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name (`digits-mlp`).
    pub name: &'static str,
    /// Layers, input first.
    pub layers: Vec<LayerSpec>,
    /// Number of classes.
    pub classes: usize,
    /// Training set.
    pub train: Dataset,
    /// Test set.
    pub test: Dataset,
}

/// The names of the built-in workloads.
pub const WORKLOAD_NAMES: &[&str] = &["digits-mlp"];

/// A built-in workload by name, or `None`.
pub fn builtin_workload(name: &str) -> Option<Workload> {
    match name {
        "digits-mlp" => Some(digits_mlp()),
        _ => None,
    }
}

/// 64-128-10 MLP (tanh hidden layer) on the 8×8 digits, pixels / 16.
fn digits_mlp() -> Workload {
    let d = load_digits();
    let (train, test) = d.split();
    let pick = |idx: &[usize]| Dataset {
        dim: 64,
        x: idx
            .iter()
            .flat_map(|&i| d.images[i].iter().map(|&p| f32::from(p) / 16.0))
            .collect(),
        labels: idx.iter().map(|&i| d.labels[i]).collect(),
    };
    Workload {
        name: "digits-mlp",
        layers: vec![
            LayerSpec {
                inputs: 64,
                outputs: 128,
                activation: Activation::Tanh,
            },
            LayerSpec {
                inputs: 128,
                outputs: 10,
                activation: Activation::Identity,
            },
        ],
        classes: 10,
        train: pick(&train),
        test: pick(&test),
    }
}
