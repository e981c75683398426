//! Tiki-Taka v1 (Gokmen & Haensch, Front. Neurosci. 14:103, 2020; aihwkit's
//! `TransferCompound`): two arrays per weight matrix on the chip, a fast
//! one `A` and a slow one `C`, with `W = γA + C`.
//!
//! * **Forward / backward** (`forward`, `backward`): each layer reads both
//!   arrays and adds `γ·(A read) + (C read)` digitally (one MAC per output
//!   line); the backward pass reads both transposed.
//! * **Update** (`update`): only `A` learns, `ΔA = −η x ⊗ δ`, through the
//!   chip's write rule (the pulse scheme: `stochastic-pulse` as in the
//!   paper, or any other).
//! * **Transfer** (`transfer`): every `transfer_every` updates, one column
//!   of `A` per layer — the weights of one input line, in aihwkit's
//!   `out × in` orientation a column — is read by a forward read with a
//!   one-hot input on that line, and written into `C` as `ΔC = λ ·
//!   (read column)` (λ = `transfer_lr`) through the same write rule; the
//!   columns are visited cyclically. `A` is not reset (v1). The reads and
//!   writes are ordinary chip operations, so the ledger charges them to
//!   the phase `transfer`.
//!
//! `A` starts at zero, `C` at the initial weights (drawn as
//! [`crate::Backprop`]'s).

use crate::algo_options::RawTikiTaka;
use crate::mlp::{charged_loss, check_layers, initial_weights, single_sample};
use crate::{Batch, Result, TrainingAlgorithm};
use aimsim_controller::UpdateRequest;
use aimsim_energy::Phase;
use aimsim_engine::{ChipSim, MatrixId, MatrixUpdate};
use aimsim_workload::LayerSpec;

/// The A → C transfer.
pub const TRANSFER: Phase = Phase::named("transfer");
const PHASES: [Phase; 4] = [Phase::FORWARD, Phase::BACKWARD, Phase::UPDATE, TRANSFER];

struct Layer {
    spec: LayerSpec,
    fast: MatrixId,
    slow: MatrixId,
    bias: Vec<f32>,
    /// The next column of A to transfer.
    next: usize,
}

/// Tiki-Taka training of a dense network.
pub struct TikiTaka {
    layers: Vec<Layer>,
    lr: f32,
    gamma: f32,
    transfer_every: u64,
    transfer_lr: f32,
    updates: u64,
    acts: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
    scratch: Vec<f32>,
    grad: Vec<f32>,
}

impl TikiTaka {
    /// Places `A` (zeros) and `C` (initial weights) of every layer.
    pub fn new(
        chip: &mut ChipSim,
        layers: &[LayerSpec],
        opts: &RawTikiTaka,
        lr: f32,
        init_scale: f32,
        seed: u64,
    ) -> Result<TikiTaka> {
        check_layers(layers)?;
        let weights = initial_weights(layers, init_scale, seed);
        let placed: Vec<Layer> = layers
            .iter()
            .zip(&weights)
            .map(|(spec, w)| Layer {
                spec: *spec,
                fast: chip.place(spec.inputs, spec.outputs, &vec![0.0; w.len()]),
                slow: chip.place(spec.inputs, spec.outputs, w),
                bias: vec![0.0; spec.outputs],
                next: 0,
            })
            .collect();
        let mut acts = vec![vec![0.0; layers[0].inputs]];
        acts.extend(layers.iter().map(|s| vec![0.0; s.outputs]));
        let widest = layers
            .iter()
            .map(|s| s.inputs.max(s.outputs))
            .max()
            .unwrap_or(0);
        Ok(TikiTaka {
            deltas: layers.iter().map(|s| vec![0.0; s.outputs]).collect(),
            grad: vec![0.0; layers[layers.len() - 1].outputs],
            layers: placed,
            lr,
            gamma: opts.gamma as f32,
            transfer_every: opts.transfer_every,
            transfer_lr: opts.transfer_lr as f32,
            updates: 0,
            acts,
            scratch: vec![0.0; widest],
        })
    }

    fn forward(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<()> {
        self.acts[0].copy_from_slice(input);
        let d = &chip.chip().digital;
        let (act_pj, mac_pj) = (d.activation_pj(), d.mac_pj());
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, above) = self.acts.split_at_mut(l + 1);
            let out = &mut above[0];
            out.copy_from_slice(&layer.bias);
            chip.mvm(layer.slow, &below[l], out)?;
            let fast = &mut self.scratch[..out.len()];
            fast.fill(0.0);
            chip.mvm(layer.fast, &below[l], fast)?;
            for (o, &f) in out.iter_mut().zip(fast.iter()) {
                *o += self.gamma * f;
            }
            chip.charge_digital("gamma_mac", out.len() as u64, mac_pj);
            layer.spec.activation.apply(out);
            chip.charge_digital("activation", out.len() as u64, act_pj);
        }
        Ok(())
    }

    fn backward(&mut self, chip: &mut ChipSim) -> Result<()> {
        let mac_pj = chip.chip().digital.mac_pj();
        for l in (1..self.layers.len()).rev() {
            let (below, above) = self.deltas.split_at_mut(l);
            let d = &mut below[l - 1];
            d.fill(0.0);
            chip.mvm_transposed(self.layers[l].slow, &above[0], d)?;
            let fast = &mut self.scratch[..d.len()];
            fast.fill(0.0);
            chip.mvm_transposed(self.layers[l].fast, &above[0], fast)?;
            for (o, &f) in d.iter_mut().zip(fast.iter()) {
                *o += self.gamma * f;
            }
            chip.charge_digital("gamma_mac", d.len() as u64, mac_pj);
            self.layers[l - 1]
                .spec
                .activation
                .backprop(&self.acts[l], d);
            chip.charge_digital("activation_derivative", d.len() as u64, mac_pj);
        }
        Ok(())
    }

    /// Reads the next column of every layer's `A` and writes `λ ×` it
    /// into `C`.
    fn transfer(&mut self, chip: &mut ChipSim) -> Result<()> {
        let mut onehots = Vec::with_capacity(self.layers.len());
        let mut columns = Vec::with_capacity(self.layers.len());
        for layer in &mut self.layers {
            let mut e = vec![0.0; layer.spec.inputs];
            e[layer.next] = 1.0;
            let mut col = vec![0.0; layer.spec.outputs];
            chip.mvm(layer.fast, &e, &mut col)?;
            layer.next = (layer.next + 1) % layer.spec.inputs;
            onehots.push(e);
            columns.push(col);
        }
        let updates: Vec<MatrixUpdate<'_>> = self
            .layers
            .iter()
            .zip(onehots.iter().zip(&columns))
            .map(|(layer, (e, col))| MatrixUpdate {
                matrix: layer.slow,
                request: UpdateRequest::Factors {
                    x: e,
                    delta: col,
                    scale: self.transfer_lr,
                },
            })
            .collect();
        chip.update(&updates, 0)?;
        Ok(())
    }
}

impl TrainingAlgorithm for TikiTaka {
    fn layer_matrices(&self) -> Vec<Vec<MatrixId>> {
        self.layers.iter().map(|l| vec![l.fast, l.slow]).collect()
    }

    fn name(&self) -> &str {
        "tiki-taka"
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn step(&mut self, chip: &mut ChipSim, batch: Batch<'_>) -> Result<()> {
        let label = single_sample("tiki-taka", &batch, self.acts[0].len(), self.grad.len())?;
        chip.enter_phase(Phase::FORWARD)?;
        self.forward(chip, batch.inputs)?;
        let last = self.layers.len() - 1;
        charged_loss(chip, &self.acts[last + 1], label, &mut self.grad);
        self.deltas[last].copy_from_slice(&self.grad);
        chip.enter_phase(Phase::BACKWARD)?;
        self.backward(chip)?;
        chip.enter_phase(Phase::UPDATE)?;
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
                matrix: layer.fast,
                request: UpdateRequest::Factors {
                    x: &self.acts[l],
                    delta: &self.deltas[l],
                    scale: -lr,
                },
            })
            .collect();
        chip.update(&updates, bias_macs)?;
        self.updates += 1;
        if self.updates.is_multiple_of(self.transfer_every) {
            chip.enter_phase(TRANSFER)?;
            self.transfer(chip)?;
        }
        Ok(())
    }

    fn infer(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<&[f32]> {
        self.forward(chip, input)?;
        Ok(&self.acts[self.layers.len()])
    }

    /// γ, the transfers made (one column per layer each) and their energy.
    fn details(&self, chip: &ChipSim) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "gamma": self.gamma,
            "transfers": self.updates / self.transfer_every,
            "transfer_energy_pj": chip.ledger().phase_pj(TRANSFER),
        }))
    }
}
