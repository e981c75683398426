//! Tiki-Taka v1 (Gokmen & Haensch, Front. Neurosci. 14:103, 2020; aihwkit's
//! `TransferCompound`): two arrays per weight matrix on the chip, a fast
//! one `A` and a slow one `C`, with `W = γA + C`.
//!
//! * **Multi-array tiles**: a layer's `A` and `C` are one chip matrix of
//!   `2·outputs` columns, laid out so that every tile holds the `A` and the
//!   `C` columns of the same outputs side by side (half a tile each): the
//!   two arrays share the tile's word lines, DACs and drivers, and one read
//!   of the tile converts both (`Bands`).
//! * **Forward / backward** (`forward`, `backward`): one forward read per
//!   layer gives both arrays' outputs, and `γ·(A read) + (C read)` is added
//!   digitally (one MAC per output line); the backward pass is one
//!   transposed read with `γ·δ` on `A`'s columns and `δ` on `C`'s, so the
//!   array sums `(γA + C)ᵀ δ` (one MAC per output line scales δ).
//! * **Update** (`update`): only `A` learns, `ΔA = −η x ⊗ δ` (the request
//!   is zero on `C`'s columns), through the chip's write rule (the pulse scheme: `stochastic-pulse` as in the
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

/// Where a layer's `A` and `C` columns sit in its one chip matrix: outputs
/// in blocks of `half` (half a tile's weight columns), each block's `A`
/// columns followed by its `C` columns, so every tile holds both arrays of
/// the same outputs (when a tile's weight columns are even in number; with
/// an odd number some pairs straddle two tiles, which reads the same).
#[derive(Clone, Debug, PartialEq)]
struct Bands {
    /// Combined column of output `j`'s `A` weight.
    a: Vec<usize>,
    /// Combined column of output `j`'s `C` weight.
    c: Vec<usize>,
}

impl Bands {
    /// The bands of `outputs` outputs on tiles `tile_cols` weights wide.
    fn new(outputs: usize, tile_cols: usize) -> Bands {
        let half = (tile_cols / 2).max(1);
        let (mut a, mut c) = (Vec::with_capacity(outputs), Vec::with_capacity(outputs));
        for j in 0..outputs {
            let block = j / half;
            let width = half.min(outputs - block * half);
            let base = 2 * half * block + (j - block * half);
            a.push(base);
            c.push(base + width);
        }
        Bands { a, c }
    }
}

struct Layer {
    spec: LayerSpec,
    /// `A` and `C` side by side (`Bands`): `inputs × 2·outputs`.
    matrix: MatrixId,
    bands: Bands,
    bias: Vec<f32>,
    /// The next column of A to transfer.
    next: usize,
    /// The update request's δ over the combined columns (zero on `C`).
    wide_delta: Vec<f32>,
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
    /// Combined-column read buffer (`2·outputs` of the widest layer).
    wide: Vec<f32>,
    grad: Vec<f32>,
}

impl TikiTaka {
    /// Places every layer's `A` (zeros) and `C` (initial weights) as one
    /// matrix of two arrays per tile (`Bands`).
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
        let tile_cols = chip.chip().tile_cols;
        let placed: Vec<Layer> = layers
            .iter()
            .zip(&weights)
            .map(|(spec, w)| {
                let (n, wide) = (spec.outputs, 2 * spec.outputs);
                let bands = Bands::new(n, tile_cols);
                let mut combined = vec![0.0; spec.inputs * wide];
                for i in 0..spec.inputs {
                    for (j, &cj) in bands.c.iter().enumerate() {
                        combined[i * wide + cj] = w[i * n + j];
                    }
                }
                Layer {
                    spec: *spec,
                    matrix: chip.place(spec.inputs, wide, &combined),
                    bands,
                    bias: vec![0.0; n],
                    next: 0,
                    wide_delta: vec![0.0; wide],
                }
            })
            .collect();
        let mut acts = vec![vec![0.0; layers[0].inputs]];
        acts.extend(layers.iter().map(|s| vec![0.0; s.outputs]));
        let widest = layers.iter().map(|s| 2 * s.outputs).max().unwrap_or(0);
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
            wide: vec![0.0; widest],
        })
    }

    /// One read of each tile gives both arrays' outputs (they share the
    /// word lines and DACs); `γ·A + C` is added digitally.
    fn forward(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<()> {
        self.acts[0].copy_from_slice(input);
        let d = &chip.chip().digital;
        let (act_pj, mac_pj) = (d.activation_pj(), d.mac_pj());
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, above) = self.acts.split_at_mut(l + 1);
            let out = &mut above[0];
            let wide = &mut self.wide[..2 * out.len()];
            wide.fill(0.0);
            chip.mvm(layer.matrix, &below[l], wide)?;
            for (j, o) in out.iter_mut().enumerate() {
                *o = layer.bias[j] + self.gamma * wide[layer.bands.a[j]] + wide[layer.bands.c[j]];
            }
            chip.charge_digital("gamma_mac", out.len() as u64, mac_pj);
            layer.spec.activation.apply(out);
            chip.charge_digital("activation", out.len() as u64, act_pj);
        }
        Ok(())
    }

    /// One transposed read per layer: the error drives `C`'s columns and
    /// `γ ×` the error `A`'s, so the row currents sum to `(γA + C)ᵀ δ` in
    /// the array.
    fn backward(&mut self, chip: &mut ChipSim) -> Result<()> {
        let mac_pj = chip.chip().digital.mac_pj();
        for l in (1..self.layers.len()).rev() {
            let (below, above) = self.deltas.split_at_mut(l);
            let d = &mut below[l - 1];
            let layer = &self.layers[l];
            let wide = &mut self.wide[..2 * above[0].len()];
            for (j, &dj) in above[0].iter().enumerate() {
                wide[layer.bands.a[j]] = self.gamma * dj;
                wide[layer.bands.c[j]] = dj;
            }
            chip.charge_digital("gamma_mac", above[0].len() as u64, mac_pj);
            d.fill(0.0);
            chip.mvm_transposed(layer.matrix, wide, d)?;
            self.layers[l - 1]
                .spec
                .activation
                .backprop(&self.acts[l], d);
            chip.charge_digital("activation_derivative", d.len() as u64, mac_pj);
        }
        Ok(())
    }

    /// Reads the next column of every layer's `A` (a forward read with a
    /// one-hot input, which reads the tile's `C` cells too) and writes `λ ×`
    /// it into `C`.
    fn transfer(&mut self, chip: &mut ChipSim) -> Result<()> {
        let mut onehots = Vec::with_capacity(self.layers.len());
        for layer in &mut self.layers {
            let mut e = vec![0.0; layer.spec.inputs];
            e[layer.next] = 1.0;
            let mut read = vec![0.0; 2 * layer.spec.outputs];
            chip.mvm(layer.matrix, &e, &mut read)?;
            layer.next = (layer.next + 1) % layer.spec.inputs;
            layer.wide_delta.fill(0.0);
            for (&a, &c) in layer.bands.a.iter().zip(&layer.bands.c) {
                layer.wide_delta[c] = read[a];
            }
            onehots.push(e);
        }
        let updates: Vec<MatrixUpdate<'_>> = self
            .layers
            .iter()
            .zip(&onehots)
            .map(|(layer, e)| MatrixUpdate {
                matrix: layer.matrix,
                request: UpdateRequest::Factors {
                    x: e,
                    delta: &layer.wide_delta,
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
        self.layers.iter().map(|l| vec![l.matrix]).collect()
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
        for (layer, d) in self.layers.iter_mut().zip(&self.deltas) {
            layer.wide_delta.fill(0.0);
            for (&a, &dj) in layer.bands.a.iter().zip(d) {
                layer.wide_delta[a] = dj;
            }
        }
        let updates: Vec<MatrixUpdate<'_>> = self
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| MatrixUpdate {
                matrix: layer.matrix,
                request: UpdateRequest::Factors {
                    x: &self.acts[l],
                    delta: &layer.wide_delta,
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

#[cfg(test)]
mod tests {
    use super::Bands;

    /// Every output's `A` and `C` columns are in the same tile (for an
    /// even number of weight columns per tile; with an odd one some pairs
    /// straddle two tiles), and the combined columns are each used once.
    #[test]
    fn bands_put_both_arrays_of_an_output_in_one_tile() {
        for (outputs, tile_cols) in [(128, 64), (10, 64), (7, 4), (5, 3), (9, 1), (1, 2)] {
            let b = Bands::new(outputs, tile_cols);
            let mut seen = vec![false; 2 * outputs];
            for j in 0..outputs {
                let (a, c) = (b.a[j], b.c[j]);
                if tile_cols % 2 == 0 {
                    assert_eq!(
                        a / tile_cols,
                        c / tile_cols,
                        "{outputs}/{tile_cols}: output {j}"
                    );
                }
                for k in [a, c] {
                    assert!(
                        k < 2 * outputs && !seen[k],
                        "{outputs}/{tile_cols}: column {k}"
                    );
                    seen[k] = true;
                }
            }
        }
        let b = Bands::new(3, 4);
        assert_eq!((b.a, b.c), (vec![0, 1, 4], vec![2, 3, 5]));
    }
}
