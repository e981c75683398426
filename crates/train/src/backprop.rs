//! Backpropagation with SGD on the chip: forward MVMs, transposed MVMs of
//! the error, and one rank-1 update `ΔW = −η x δᵀ` per layer through the
//! chip's write rule. Biases, activations and the loss live in the digital
//! periphery (biases are updated digitally, as in the EaPU paper).

use crate::{Batch, Result, TrainError, TrainingAlgorithm};
use aimsim_controller::UpdateRequest;
use aimsim_core::stream;
use aimsim_energy::Phase;
use aimsim_engine::{ChipSim, MatrixId, MatrixUpdate};
use aimsim_workload::{softmax_cross_entropy, Activation, LayerSpec};

struct Layer {
    spec: LayerSpec,
    matrix: MatrixId,
    bias: Vec<f32>,
}

/// Backprop training of a multi-layer perceptron.
pub struct Backprop {
    layers: Vec<Layer>,
    lr: f32,
    /// `acts[l]` is the input of layer `l`; `acts[L]` the network output.
    acts: Vec<Vec<f32>>,
    /// `deltas[l]`: loss gradient w.r.t. layer `l`'s pre-activation.
    deltas: Vec<Vec<f32>>,
    grad: Vec<f32>,
}

const PHASES: [Phase; 3] = Phase::TRAINING;

impl Backprop {
    /// Places `layers` on `chip` with initial weights uniform in
    /// `±init_scale/√fan_in`, drawn layer by layer from the stream
    /// `init/weights` of `seed`; biases start at 0.
    pub fn new(
        chip: &mut ChipSim,
        layers: &[LayerSpec],
        lr: f32,
        init_scale: f32,
        seed: u64,
    ) -> Result<Backprop> {
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
        let mut init = stream(seed, "init/weights");
        let mut mapped = Vec::new();
        for spec in layers {
            // W stored as inputs × outputs (row = input line, column = output).
            let bound = init_scale / (spec.inputs as f32).sqrt();
            let w: Vec<f32> = (0..spec.inputs * spec.outputs)
                .map(|_| bound * (2.0 * rand::Rng::random::<f32>(&mut init) - 1.0))
                .collect();
            let matrix = chip.place(spec.inputs, spec.outputs, &w);
            mapped.push(Layer {
                spec: *spec,
                matrix,
                bias: vec![0.0; spec.outputs],
            });
        }
        let mut acts = vec![vec![0.0; layers[0].inputs]];
        acts.extend(layers.iter().map(|s| vec![0.0; s.outputs]));
        let deltas = layers.iter().map(|s| vec![0.0; s.outputs]).collect();
        let outputs = layers[layers.len() - 1].outputs;
        Ok(Backprop {
            layers: mapped,
            lr,
            acts,
            deltas,
            grad: vec![0.0; outputs],
        })
    }

    /// Forward pass of one input in the chip's current phase.
    fn forward(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<()> {
        self.acts[0].copy_from_slice(input);
        let act_pj = chip.chip().digital.activation_pj();
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, above) = self.acts.split_at_mut(l + 1);
            let out = &mut above[0];
            out.copy_from_slice(&layer.bias);
            chip.mvm(layer.matrix, &below[l], out)?;
            layer.spec.activation.apply(out);
            chip.charge_digital("activation", out.len() as u64, act_pj);
        }
        Ok(())
    }

    /// Backward pass from `deltas[L−1]` down to the first layer's
    /// pre-activation gradient.
    fn backward(&mut self, chip: &mut ChipSim) -> Result<()> {
        let mac_pj = chip.chip().digital.mac_pj();
        for l in (1..self.layers.len()).rev() {
            let (below, above) = self.deltas.split_at_mut(l);
            let d = &mut below[l - 1];
            d.fill(0.0);
            chip.mvm_transposed(self.layers[l].matrix, &above[0], d)?;
            let act: Activation = self.layers[l - 1].spec.activation;
            act.backprop(&self.acts[l], d);
            chip.charge_digital("activation_derivative", d.len() as u64, mac_pj);
        }
        Ok(())
    }

    /// The SGD update: biases digitally, weights through the chip's rule.
    fn update(&mut self, chip: &mut ChipSim) -> Result<()> {
        let lr = self.lr;
        let mut bias_macs = 0u64;
        for (layer, d) in self.layers.iter_mut().zip(&self.deltas) {
            for (b, &dj) in layer.bias.iter_mut().zip(d) {
                *b -= lr * dj;
            }
            bias_macs += layer.bias.len() as u64;
        }
        let updates: Vec<MatrixUpdate<'_>> = self
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| MatrixUpdate {
                matrix: layer.matrix,
                request: UpdateRequest::Factors {
                    x: &self.acts[l],
                    delta: &self.deltas[l],
                    scale: -lr,
                },
            })
            .collect();
        chip.update(&updates, bias_macs)?;
        Ok(())
    }
}

impl TrainingAlgorithm for Backprop {
    fn name(&self) -> &str {
        "backprop"
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn step(&mut self, chip: &mut ChipSim, batch: Batch<'_>) -> Result<()> {
        if batch.len() != 1 {
            return Err(TrainError::Network(format!(
                "backprop trains one sample per step; got a batch of {}",
                batch.len()
            )));
        }
        let dim = self.acts[0].len();
        if batch.inputs.len() != dim {
            return Err(TrainError::Network(format!(
                "the network takes {dim} inputs; the sample has {}",
                batch.inputs.len()
            )));
        }
        let classes = self.grad.len();
        let label = usize::from(batch.labels[0]);
        if label >= classes {
            return Err(TrainError::Network(format!(
                "label {label} is not below the network's {classes} outputs"
            )));
        }
        chip.enter_phase(Phase::FORWARD)?;
        self.forward(chip, batch.inputs)?;
        let last = self.layers.len() - 1;
        softmax_cross_entropy(&self.acts[last + 1], label, &mut self.grad);
        self.deltas[last].copy_from_slice(&self.grad);
        chip.enter_phase(Phase::BACKWARD)?;
        self.backward(chip)?;
        chip.enter_phase(Phase::UPDATE)?;
        self.update(chip)
    }

    fn infer(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<&[f32]> {
        self.forward(chip, input)?;
        Ok(&self.acts[self.layers.len()])
    }
}
