//! The dense network every algorithm of this crate trains: layers placed
//! on the chip, biases and activations in the digital periphery, a forward
//! pass that may add a perturbation to each layer's pre-activation, the
//! loss, and a floating-point reference gradient for validation.
//!
//! Initial weights are drawn exactly as [`crate::Backprop`] draws them
//! (uniform in `±init_scale/√fan_in`, layer by layer from the stream
//! `init/weights`), so every algorithm starts from the same network for a
//! given seed.

use crate::{Batch, Result, TrainError};
use aimsim_core::stream;
use aimsim_engine::{ChipSim, MatrixId};
use aimsim_workload::{softmax_cross_entropy, Activation, LayerSpec};

/// One layer: its shape, the matrix holding it and its bias.
pub(crate) struct Layer {
    pub(crate) spec: LayerSpec,
    pub(crate) matrix: MatrixId,
    pub(crate) bias: Vec<f32>,
}

/// Checks that consecutive layers agree in width.
pub(crate) fn check_layers(layers: &[LayerSpec]) -> Result<()> {
    if layers.is_empty() {
        return Err(TrainError::Network(
            "a network needs at least one layer".into(),
        ));
    }
    for (l, w) in layers.windows(2).enumerate() {
        if w[0].outputs != w[1].inputs {
            return Err(TrainError::Network(format!(
                "layer {} has {} outputs but layer {} has {} inputs",
                l,
                w[0].outputs,
                l + 1,
                w[1].inputs
            )));
        }
    }
    Ok(())
}

/// The initial weights of every layer (`inputs × outputs`, row-major),
/// from the stream `init/weights` of `seed`.
pub(crate) fn initial_weights(layers: &[LayerSpec], init_scale: f32, seed: u64) -> Vec<Vec<f32>> {
    let mut init = stream(seed, "init/weights");
    layers
        .iter()
        .map(|spec| {
            let bound = init_scale / (spec.inputs as f32).sqrt();
            (0..spec.inputs * spec.outputs)
                .map(|_| bound * (2.0 * rand::Rng::random::<f32>(&mut init) - 1.0))
                .collect()
        })
        .collect()
}

/// Checks that `batch` is one sample of `dim` inputs whose label is below
/// `classes`; returns the label.
pub(crate) fn single_sample(
    algorithm: &str,
    batch: &Batch<'_>,
    dim: usize,
    classes: usize,
) -> Result<usize> {
    if batch.len() != 1 {
        return Err(TrainError::Network(format!(
            "{algorithm} trains one sample per step; got a batch of {}",
            batch.len()
        )));
    }
    if batch.inputs.len() != dim {
        return Err(TrainError::Network(format!(
            "the network takes {dim} inputs; the sample has {}",
            batch.inputs.len()
        )));
    }
    let Some(&label) = batch.labels.first() else {
        return Err(TrainError::Network(format!(
            "{algorithm} trains classifiers (cross-entropy on labels); this data set has targets, not labels"
        )));
    };
    let label = usize::from(label);
    if label >= classes {
        return Err(TrainError::Network(format!(
            "label {label} is not below the network's {classes} outputs"
        )));
    }
    Ok(label)
}

/// The network's layers on the chip with its activations.
pub(crate) struct Mlp {
    pub(crate) layers: Vec<Layer>,
    /// `acts[l]` is the input of layer `l`; `acts[L]` the network output.
    pub(crate) acts: Vec<Vec<f32>>,
}

impl Mlp {
    /// Each layer's matrix, for `TrainingAlgorithm::layer_matrices`.
    pub(crate) fn layer_matrices(&self) -> Vec<Vec<MatrixId>> {
        self.layers.iter().map(|l| vec![l.matrix]).collect()
    }

    /// Places `layers` with `weights` on `chip`; biases start at 0.
    pub(crate) fn place(chip: &mut ChipSim, layers: &[LayerSpec], weights: &[Vec<f32>]) -> Mlp {
        let placed = layers
            .iter()
            .zip(weights)
            .map(|(spec, w)| Layer {
                spec: *spec,
                matrix: chip.place(spec.inputs, spec.outputs, w),
                bias: vec![0.0; spec.outputs],
            })
            .collect();
        let mut acts = vec![vec![0.0; layers[0].inputs]];
        acts.extend(layers.iter().map(|s| vec![0.0; s.outputs]));
        Mlp {
            layers: placed,
            acts,
        }
    }

    /// Input width.
    pub(crate) fn inputs(&self) -> usize {
        self.acts[0].len()
    }

    /// Output width.
    pub(crate) fn outputs(&self) -> usize {
        self.acts[self.layers.len()].len()
    }

    /// The network output of the last forward pass.
    pub(crate) fn output(&self) -> &[f32] {
        &self.acts[self.layers.len()]
    }

    /// Forward pass of `input` in the chip's current phase. Before each
    /// layer's activation, `perturb(l, z)` may change the pre-activation
    /// `z` of layer `l` (its digital cost is the caller's to charge).
    pub(crate) fn forward(
        &mut self,
        chip: &mut ChipSim,
        input: &[f32],
        perturb: &mut dyn FnMut(usize, &mut [f32]),
    ) -> Result<()> {
        self.acts[0].copy_from_slice(input);
        let act_pj = chip.chip().digital.activation_pj();
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, above) = self.acts.split_at_mut(l + 1);
            let out = &mut above[0];
            out.copy_from_slice(&layer.bias);
            chip.mvm(layer.matrix, &below[l], out)?;
            perturb(l, out);
            layer.spec.activation.apply(out);
            chip.charge_digital("activation", out.len() as u64, act_pj);
        }
        Ok(())
    }
}

/// Softmax cross-entropy of `logits` against `label` in the digital
/// periphery: one exponential and one add per output by look-up, one
/// logarithm; writes `p − onehot` into `grad` and returns the loss.
pub(crate) fn charged_loss(
    chip: &mut ChipSim,
    logits: &[f32],
    label: usize,
    grad: &mut [f32],
) -> f32 {
    let d = &chip.chip().digital;
    let (act_pj, add_pj) = (d.activation_pj(), d.add_pj());
    let n = logits.len() as u64;
    chip.charge_digital("loss_exp", n + 1, act_pj);
    chip.charge_digital("loss_add", n, add_pj);
    softmax_cross_entropy(logits, label, grad)
}

/// The exact loss gradient of a dense network in floating point, for
/// validation: given each layer's weights (`inputs × outputs`, row-major,
/// e.g. from [`ChipSim::matrix_weights`]) and biases, returns each layer's
/// `δ_l = ∂L/∂z_l` (pre-activation gradient) and input `x_l`; the weight
/// gradient of layer `l` is `x_l ⊗ δ_l`.
pub fn reference_gradient(
    layers: &[LayerSpec],
    weights: &[Vec<f32>],
    biases: &[Vec<f32>],
    input: &[f32],
    label: usize,
) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut xs = vec![input.to_vec()];
    for ((spec, w), b) in layers.iter().zip(weights).zip(biases) {
        let x = xs.last().expect("input");
        let mut z = b.clone();
        for (i, &xi) in x.iter().enumerate() {
            for (zj, &wij) in z
                .iter_mut()
                .zip(&w[i * spec.outputs..(i + 1) * spec.outputs])
            {
                *zj += xi * wij;
            }
        }
        spec.activation.apply(&mut z);
        xs.push(z);
    }
    let last = layers.len();
    let mut delta = vec![0.0; layers[last - 1].outputs];
    softmax_cross_entropy(&xs[last], label, &mut delta);
    let mut deltas = vec![Vec::new(); last];
    deltas[last - 1] = delta;
    for l in (1..last).rev() {
        let spec = &layers[l];
        let w = &weights[l];
        let mut d: Vec<f32> = (0..spec.inputs)
            .map(|i| {
                w[i * spec.outputs..(i + 1) * spec.outputs]
                    .iter()
                    .zip(&deltas[l])
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect();
        let act: Activation = layers[l - 1].activation;
        act.backprop(&xs[l], &mut d);
        deltas[l - 1] = d;
    }
    xs.pop();
    (deltas, xs)
}
