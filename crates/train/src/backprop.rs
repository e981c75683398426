//! Backpropagation with (mini-batch) SGD on the chip over a network's layer
//! graph.
//!
//! * Dense layers: forward MVMs, transposed MVMs of the error, and a
//!   rank-B update `ΔW = −(η/B) Σ_b x_b δ_bᵀ` through the chip's write rule.
//! * Conv layers via im2col: the `(k²·C_in) × C_out` matrix on tiles; the
//!   forward pass is one MVM per output position through
//!   [`ChipSim::mvm_batch`]; the backward pass is one transposed MVM per
//!   position, scattered back by col2im; the update is the rank-`P·B` sum
//!   of `(patch, δ)` factor pairs over positions and samples, one write
//!   plan per update.
//! * Pooling, residual adds, pixel shuffle, the loss, biases and
//!   activations live in the digital periphery and are charged there with
//!   the chip's per-operation energies ([`ChipSim::charge_digital`]).
//!   Factors that must be held beyond the current vector (conv positions,
//!   the samples of a mini-batch) are buffered in SRAM and charged a write
//!   and a read each; bias gradients summed over positions or samples are
//!   charged an add each. (The softmax cross-entropy has never been
//!   charged; the golden digest of the default run fixes that.)
//!
//! The arithmetic and the ledger order of a dense chain with batch 1 are
//! those of the original multi-layer-perceptron trainer, so the default
//! run's golden digest and traces are unchanged.

use crate::{Batch, Result, TrainError, TrainingAlgorithm};
use aimsim_controller::UpdateRequest;
use aimsim_core::stream;
use aimsim_energy::Phase;
use aimsim_engine::{ChipSim, MatrixId, MatrixUpdate};
use aimsim_workload::shape::{chw_to_pc, pc_to_chw, pixel_shuffle, pool_backward, pool_forward};
use aimsim_workload::{
    softmax_cross_entropy, Activation, Layer, LayerKind, LayerSpec, Loss, Network, Shape,
};

/// The crossbar state of a layer with weights.
struct Weights {
    matrix: MatrixId,
    rows: usize,
    cols: usize,
    bias: Vec<f32>,
    /// Factors `x` of a convolution's update, its patches (`B·P ×
    /// rows`); a dense layer's are its input activations ([`factor_x`]).
    xs: Vec<f32>,
    /// Factors `δ` of a convolution's update (`B·P × cols`); a dense
    /// layer's are its output gradients ([`factor_d`]).
    ds: Vec<f32>,
}

/// How the initial weights are drawn and placed: uniform in
/// `±scale/√fan_in`, each layer's gain from `omega` ([`layer_gain`]).
struct Init {
    scale: f32,
    omega: Option<f32>,
}

/// Backprop training of a network described by its layers.
pub struct Backprop {
    layers: Vec<Layer>,
    input: Shape,
    loss: Loss,
    weights: Vec<Option<Weights>>,
    lr: f32,
    /// Samples in the current batch.
    batch: usize,
    /// `acts[l + 1]`: layer `l`'s outputs (`B × len`); `acts[0]` stays
    /// empty: the inputs are the batch's own, read where they are
    /// ([`layer_input`]), not copied.
    acts: Vec<Vec<f32>>,
    /// `grads[l]`: loss gradient w.r.t. layer `l`'s output (`B × len`).
    grads: Vec<Vec<f32>>,
    /// Max-pooling choices per layer (`B × output len`).
    argmax: Vec<Vec<usize>>,
    scratch: Vec<f32>,
    scratch2: Vec<f32>,
    /// A layer's bias gradient in the update (kept: no allocation per step).
    grad_b: Vec<f32>,
}

const PHASES: [Phase; 3] = Phase::TRAINING;

impl Backprop {
    /// A dense chain (`layers`, trained with softmax cross-entropy) placed
    /// on `chip` as [`Backprop::for_network`] would.
    pub fn new(
        chip: &mut ChipSim,
        layers: &[LayerSpec],
        lr: f32,
        init_scale: f32,
        seed: u64,
    ) -> Result<Backprop> {
        let first = layers
            .first()
            .ok_or_else(|| TrainError::Network("a network needs at least one layer".into()))?;
        let mut chain = Vec::with_capacity(layers.len());
        let mut inputs = first.inputs;
        for (l, s) in layers.iter().enumerate() {
            if s.inputs != inputs {
                return Err(TrainError::Network(format!(
                    "layer {} has {} outputs but layer {} has {} inputs",
                    l - 1,
                    inputs,
                    l,
                    s.inputs
                )));
            }
            chain.push(Layer {
                kind: LayerKind::Dense {
                    outputs: s.outputs,
                    activation: s.activation,
                },
                input: Shape::flat(s.inputs),
                output: Shape::flat(s.outputs),
            });
            inputs = s.outputs;
        }
        Backprop::place(
            chip,
            chain,
            Shape::flat(first.inputs),
            Loss::CrossEntropy,
            lr,
            Init {
                scale: init_scale,
                omega: None,
            },
            seed,
        )
    }

    /// Places `net`'s weight layers on `chip` with initial weights uniform
    /// in `±init_scale/√fan_in`, drawn layer by layer from the stream
    /// `init/weights` of `seed`; biases start at 0.
    pub fn for_network(
        chip: &mut ChipSim,
        net: &Network,
        lr: f32,
        init_scale: f32,
        seed: u64,
    ) -> Result<Backprop> {
        Backprop::for_network_scaled(chip, net, lr, init_scale, None, seed)
    }

    /// [`Backprop::for_network`] with per-layer weight scaling
    /// (`train.weight_scaling_omega`): with `Some(ω)`, each weight layer is
    /// placed with the gain ([`ChipSim::place_scaled`]) that maps its
    /// initial bound `init_scale/√fan_in` to `ω` times the device's largest
    /// weight `(G_max − G_min)/r_wg` ([`layer_gain`]); `None` places every
    /// layer at the device's `r_wg` (gain 1).
    pub fn for_network_scaled(
        chip: &mut ChipSim,
        net: &Network,
        lr: f32,
        init_scale: f32,
        omega: Option<f32>,
        seed: u64,
    ) -> Result<Backprop> {
        Backprop::place(
            chip,
            net.layers.clone(),
            net.input,
            net.loss,
            lr,
            Init {
                scale: init_scale,
                omega,
            },
            seed,
        )
    }

    fn place(
        chip: &mut ChipSim,
        layers: Vec<Layer>,
        input: Shape,
        loss: Loss,
        lr: f32,
        Init {
            scale: init_scale,
            omega,
        }: Init,
        seed: u64,
    ) -> Result<Backprop> {
        let mut init = stream(seed, "init/weights");
        let max_weight = chip.device().max_weight();
        let mut weights = Vec::with_capacity(layers.len());
        for layer in &layers {
            weights.push(layer.matrix().map(|(rows, cols)| {
                // W stored as inputs × outputs (row = input line, column = output).
                let bound = init_scale / (rows as f32).sqrt();
                let w: Vec<f32> = (0..rows * cols)
                    .map(|_| bound * (2.0 * rand::Rng::random::<f32>(&mut init) - 1.0))
                    .collect();
                let gain = omega.map_or(1.0, |o| layer_gain(bound, o, max_weight));
                Weights {
                    matrix: chip.place_scaled(rows, cols, &w, gain),
                    rows,
                    cols,
                    bias: vec![0.0; cols],
                    xs: Vec::new(),
                    ds: Vec::new(),
                }
            }));
        }
        let n = layers.len();
        let mut bp = Backprop {
            layers,
            input,
            loss,
            weights,
            lr,
            batch: 0,
            acts: vec![Vec::new(); n + 1],
            grads: vec![Vec::new(); n],
            argmax: vec![Vec::new(); n],
            scratch: Vec::new(),
            scratch2: Vec::new(),
            grad_b: Vec::new(),
        };
        bp.resize(1);
        Ok(bp)
    }

    /// Sizes the buffers for `b` samples.
    fn resize(&mut self, b: usize) {
        if self.batch == b {
            return;
        }
        self.batch = b;
        for (l, layer) in self.layers.iter().enumerate() {
            self.acts[l + 1].resize(b * layer.output.len(), 0.0);
            self.grads[l].resize(b * layer.output.len(), 0.0);
            if matches!(layer.kind, LayerKind::Pool { .. }) {
                self.argmax[l].resize(b * layer.output.len(), 0);
            }
        }
    }

    /// Forward pass of the `self.batch` inputs `input` (`B × len`), layer
    /// by layer, in the chip's current phase.
    fn forward(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<()> {
        let d = &chip.chip().digital;
        let (act_pj, add_pj, sram_w_pj) = (d.activation_pj(), d.add_pj(), d.sram_write_pj());
        let b = self.batch;
        for l in 0..self.layers.len() {
            let layer = self.layers[l];
            let (below, above) = self.acts.split_at_mut(l + 1);
            let (x, out) = (layer_input(below, input, l), &mut above[0]);
            let (n_in, n_out) = (layer.input.len(), layer.output.len());
            match layer.kind {
                LayerKind::Dense { activation, .. } => {
                    diverged(x)?;
                    let w = self.weights[l].as_ref().expect("dense has weights");
                    for o in out.chunks_exact_mut(n_out) {
                        o.copy_from_slice(&w.bias);
                    }
                    chip.mvm_batch(w.matrix, x, out)?;
                    chip.par_chunks(out, |c| activation.apply(c));
                    chip.charge_digital("activation", out.len() as u64, act_pj);
                }
                LayerKind::Conv2d {
                    geometry,
                    activation,
                    ..
                } => {
                    diverged(x)?;
                    let w = self.weights[l].as_mut().expect("conv has weights");
                    let p = geometry.positions();
                    w.xs.resize(b * p * w.rows, 0.0);
                    for (xb, cb) in x.chunks_exact(n_in).zip(w.xs.chunks_exact_mut(p * w.rows)) {
                        geometry.im2col(xb, cb);
                    }
                    chip.charge_digital("im2col", w.xs.len() as u64, sram_w_pj);
                    let ys = &mut self.scratch;
                    ys.resize(b * p * w.cols, 0.0);
                    for y in ys.chunks_exact_mut(w.cols) {
                        y.copy_from_slice(&w.bias);
                    }
                    chip.mvm_batch(w.matrix, &w.xs, ys)?;
                    for (yb, ob) in ys.chunks_exact(p * w.cols).zip(out.chunks_exact_mut(n_out)) {
                        pc_to_chw(yb, w.cols, p, ob);
                    }
                    chip.par_chunks(out, |c| activation.apply(c));
                    chip.charge_digital("activation", out.len() as u64, act_pj);
                }
                LayerKind::Pool { kind, size } => {
                    let am = &mut self.argmax[l];
                    for ((xb, ob), ab) in x
                        .chunks_exact(n_in)
                        .zip(out.chunks_exact_mut(n_out))
                        .zip(am.chunks_exact_mut(n_out))
                    {
                        pool_forward(kind, layer.input, size, xb, ob, ab);
                    }
                    chip.charge_digital("pool", (b * n_in) as u64, add_pj);
                }
                LayerKind::Flatten => out.copy_from_slice(x),
                LayerKind::Add { from } => {
                    let other = match from {
                        None => input,
                        Some(f) => &below[f + 1][..],
                    };
                    for ((o, &a), &c) in out.iter_mut().zip(x.iter()).zip(other.iter()) {
                        *o = a + c;
                    }
                    chip.charge_digital("residual_add", out.len() as u64, add_pj);
                }
                LayerKind::PixelShuffle { factor } => {
                    for (xb, ob) in x.chunks_exact(n_in).zip(out.chunks_exact_mut(n_out)) {
                        pixel_shuffle(layer.input, factor, xb, ob, false);
                    }
                    chip.charge_digital("pixel_shuffle", out.len() as u64, sram_w_pj);
                }
            }
        }
        Ok(())
    }

    /// Loss gradient w.r.t. the network output for every sample of `batch`;
    /// returns the summed loss.
    fn loss_gradient(&mut self, chip: &mut ChipSim, batch: &Batch<'_>) -> Result<f32> {
        let last = self.layers.len() - 1;
        let n_out = self.layers[last].output.len();
        let (out, grad) = (&self.acts[last + 1], &mut self.grads[last]);
        let mut total = 0.0;
        match self.loss {
            Loss::CrossEntropy => {
                for ((o, g), &label) in out
                    .chunks_exact(n_out)
                    .zip(grad.chunks_exact_mut(n_out))
                    .zip(batch.labels)
                {
                    let label = usize::from(label);
                    if label >= n_out {
                        return Err(TrainError::Network(format!(
                            "label {label} is not below the network's {n_out} outputs"
                        )));
                    }
                    total += softmax_cross_entropy(o, label, g);
                }
            }
            Loss::Mse | Loss::L1 => {
                if batch.targets.len() != out.len() {
                    return Err(TrainError::Network(format!(
                        "the network has {n_out} outputs per sample; the batch has {} target values for {} samples",
                        batch.targets.len(),
                        self.batch
                    )));
                }
                for ((g, &y), &t) in grad.iter_mut().zip(out.iter()).zip(batch.targets) {
                    let e = y - t;
                    if self.loss == Loss::Mse {
                        *g = e;
                        total += 0.5 * e * e;
                    } else {
                        *g = e.signum() * f32::from(e != 0.0);
                        total += e.abs();
                    }
                }
                let mac_pj = chip.chip().digital.mac_pj();
                chip.charge_digital("loss", out.len() as u64, mac_pj);
            }
        }
        Ok(total)
    }

    /// Backward pass from the loss gradient `grads[L−1]` down to the first
    /// layer, leaving each weight layer's update factors in place.
    fn backward(&mut self, chip: &mut ChipSim) -> Result<()> {
        let d = &chip.chip().digital;
        let (mac_pj, add_pj) = (d.mac_pj(), d.add_pj());
        let b = self.batch;
        let last = self.layers.len() - 1;
        for g in &mut self.grads[..last] {
            g.fill(0.0);
        }
        for l in (0..self.layers.len()).rev() {
            let layer = self.layers[l];
            let (n_in, n_out) = (layer.input.len(), layer.output.len());
            let (below, above) = self.grads.split_at_mut(l);
            let g = &mut above[0];
            // The output layer's identity needs no derivative (the MLP
            // trainer never charged one); every other weight layer's does.
            let activation = layer.activation();
            let derivative = l != last || activation != Activation::Identity;
            if layer.matrix().is_some() && derivative {
                activation.backprop(&self.acts[l + 1], g);
                chip.charge_digital("activation_derivative", g.len() as u64, mac_pj);
            }
            match layer.kind {
                LayerKind::Dense { .. } => {
                    // `g` stays as the update's factors (`factor_d`).
                    let w = self.weights[l].as_ref().expect("dense has weights");
                    if l > 0 {
                        chip.mvm_transposed_batch(w.matrix, g, &mut below[l - 1])?;
                    }
                }
                LayerKind::Conv2d { geometry, .. } => {
                    let w = self.weights[l].as_mut().expect("conv has weights");
                    let p = geometry.positions();
                    w.ds.resize(b * p * w.cols, 0.0);
                    for (gb, db) in g.chunks_exact(n_out).zip(w.ds.chunks_exact_mut(p * w.cols)) {
                        chw_to_pc(gb, w.cols, p, db);
                    }
                    if l > 0 {
                        let gin = &mut below[l - 1];
                        let cols = &mut self.scratch;
                        cols.clear();
                        cols.resize(b * p * w.rows, 0.0);
                        chip.mvm_transposed_batch(w.matrix, &w.ds, cols)?;
                        for (cb, ib) in cols
                            .chunks_exact(p * w.rows)
                            .zip(gin.chunks_exact_mut(n_in))
                        {
                            geometry.col2im_add(cb, ib);
                        }
                        chip.charge_digital("col2im", (b * p * w.rows) as u64, add_pj);
                    }
                }
                LayerKind::Pool { kind, size } => {
                    if l > 0 {
                        let gin = &mut below[l - 1];
                        for ((gb, ab), ib) in g
                            .chunks_exact(n_out)
                            .zip(self.argmax[l].chunks_exact(n_out))
                            .zip(gin.chunks_exact_mut(n_in))
                        {
                            pool_backward(kind, layer.input, size, gb, ab, ib);
                        }
                        chip.charge_digital("pool_backward", (b * n_in) as u64, add_pj);
                    }
                }
                LayerKind::Flatten => {
                    if l > 0 {
                        add_into(&mut below[l - 1], g);
                    }
                }
                LayerKind::Add { from } => {
                    let mut adds = 0;
                    if l > 0 {
                        add_into(&mut below[l - 1], g);
                        adds += g.len();
                    }
                    if let Some(f) = from {
                        add_into(&mut below[f], g);
                        adds += g.len();
                    }
                    chip.charge_digital("residual_add_backward", adds as u64, add_pj);
                }
                LayerKind::PixelShuffle { factor } => {
                    if l > 0 {
                        let gin = &mut below[l - 1];
                        let s = &mut self.scratch2;
                        s.resize(n_in, 0.0);
                        for (gb, ib) in g.chunks_exact(n_out).zip(gin.chunks_exact_mut(n_in)) {
                            pixel_shuffle(layer.input, factor, gb, s, true);
                            add_into(ib, s);
                        }
                        let sram_w_pj = chip.chip().digital.sram_write_pj();
                        chip.charge_digital("pixel_shuffle", g.len() as u64, sram_w_pj);
                    }
                }
            }
        }
        Ok(())
    }

    /// The SGD update of the batch `input`: biases digitally, weights
    /// through the chip's rule with the factors of every weight layer and
    /// scale `−η/B`.
    fn update(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<()> {
        let b = self.batch;
        let lr = self.lr / b as f32;
        let d = &chip.chip().digital;
        let (add_pj, sram_r_pj, sram_w_pj) = (d.add_pj(), d.sram_read_pj(), d.sram_write_pj());
        let mut bias_macs = 0u64;
        let (mut buffered, mut bias_adds) = (0u64, 0u64);
        for (l, w) in self.weights.iter_mut().enumerate() {
            let Some(w) = w else { continue };
            let kind = &self.layers[l].kind;
            let xs = factor_x(kind, layer_input(&self.acts, input, l), &w.xs);
            let ds = factor_d(kind, &self.grads[l], &w.ds);
            let rank = ds.len() / w.cols;
            if rank > 1 {
                buffered += (xs.len() + ds.len()) as u64;
                bias_adds += ((rank - 1) * w.cols) as u64;
            }
            let mut ds = ds.chunks_exact(w.cols);
            let first = ds.next().expect("at least one factor");
            let grad_b = &mut self.grad_b;
            grad_b.clear();
            grad_b.extend_from_slice(first);
            for dq in ds {
                add_into(grad_b, dq);
            }
            for (bias, &dj) in w.bias.iter_mut().zip(grad_b.iter()) {
                *bias -= lr * dj;
            }
            bias_macs += w.bias.len() as u64;
        }
        if buffered > 0 {
            chip.charge_digital("factor_buffer_write", buffered, sram_w_pj);
            chip.charge_digital("factor_buffer_read", buffered, sram_r_pj);
            chip.charge_digital("bias_gradient", bias_adds, add_pj);
        }
        let updates: Vec<MatrixUpdate<'_>> = self
            .weights
            .iter()
            .enumerate()
            .filter_map(|(l, w)| w.as_ref().map(|w| (l, w)))
            .map(|(l, w)| MatrixUpdate {
                matrix: w.matrix,
                request: UpdateRequest::Factors {
                    x: factor_x(
                        &self.layers[l].kind,
                        layer_input(&self.acts, input, l),
                        &w.xs,
                    ),
                    delta: factor_d(&self.layers[l].kind, &self.grads[l], &w.ds),
                    scale: -lr,
                },
            })
            .collect();
        chip.update(&updates, bias_macs)?;
        Ok(())
    }

    /// The crossbar matrices of the network's weight layers, in layer order.
    pub fn matrices(&self) -> Vec<MatrixId> {
        self.weights.iter().flatten().map(|w| w.matrix).collect()
    }

    /// The network's output for the current batch (`B × outputs`).
    fn output(&self) -> &[f32] {
        &self.acts[self.layers.len()]
    }
}

/// The input of layer `l`: the batch's `input` for the first, else the
/// outputs of layer `l − 1` in `acts`.
fn layer_input<'a>(acts: &'a [Vec<f32>], input: &'a [f32], l: usize) -> &'a [f32] {
    if l == 0 {
        input
    } else {
        &acts[l]
    }
}

/// The factors `x` of a layer's update: a dense layer's input activations
/// `acts` themselves (not a copy), a convolution's patches `xs`.
fn factor_x<'a>(kind: &LayerKind, acts: &'a [f32], xs: &'a [f32]) -> &'a [f32] {
    if matches!(kind, LayerKind::Dense { .. }) {
        acts
    } else {
        xs
    }
}

/// The factors `δ` of a layer's update: a dense layer's output gradients
/// `grads` themselves (final once the backward pass has passed the layer;
/// not a copy), a convolution's, in patch order, `ds`.
fn factor_d<'a>(kind: &LayerKind, grads: &'a [f32], ds: &'a [f32]) -> &'a [f32] {
    factor_x(kind, grads, ds)
}

/// The weight-to-conductance gain of a layer whose initial weights are
/// bounded by `bound`: the gain that stores `bound` as `omega · max_weight`
/// (`max_weight` = `(G_max − G_min)/r_wg`), so `ΔG = ΔW · r_wg / gain`;
/// 1 when `bound` is 0 (nothing to scale).
pub fn layer_gain(bound: f32, omega: f32, max_weight: f32) -> f32 {
    let g = bound / (omega * max_weight);
    if g > 0.0 && g.is_finite() {
        g
    } else {
        1.0
    }
}

/// An error if a layer's input holds a non-finite value (training has
/// diverged; the chip's energy model needs finite inputs).
fn diverged(x: &[f32]) -> Result<()> {
    // (The largest magnitude's bits, in vector lanes without a branch per
    // value: `all(is_finite)` stops at the first non-finite value, a
    // branch per value on a layer's input of every step.)
    let largest = x.iter().fold(0u32, |m, v| m.max(v.to_bits() & 0x7fff_ffff));
    if largest < f32::INFINITY.to_bits() {
        Ok(())
    } else {
        Err(TrainError::Network(
            "training diverged (non-finite activations); expected finite values: try a smaller train.lr".into(),
        ))
    }
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

impl TrainingAlgorithm for Backprop {
    fn layer_matrices(&self) -> Vec<Vec<MatrixId>> {
        self.matrices().into_iter().map(|m| vec![m]).collect()
    }

    fn name(&self) -> &str {
        "backprop"
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn step(&mut self, chip: &mut ChipSim, batch: Batch<'_>) -> Result<()> {
        let n = batch.len();
        let dim = self.input.len();
        if n == 0 || batch.inputs.len() != n * dim {
            return Err(TrainError::Network(format!(
                "the network takes {dim} inputs per sample; the batch has {} values for {n} samples",
                batch.inputs.len()
            )));
        }
        if self.loss == Loss::CrossEntropy && batch.labels.len() != n {
            return Err(TrainError::Network(format!(
                "cross_entropy needs one label per sample; the batch has {} for {n} samples",
                batch.labels.len()
            )));
        }
        self.resize(n);
        chip.enter_phase(Phase::FORWARD)?;
        self.forward(chip, batch.inputs)?;
        let loss = self.loss_gradient(chip, &batch)?;
        if !loss.is_finite() {
            return Err(TrainError::Network(format!(
                "training diverged (loss {loss}); expected a finite loss: try a smaller train.lr"
            )));
        }
        chip.enter_phase(Phase::BACKWARD)?;
        self.backward(chip)?;
        chip.enter_phase(Phase::UPDATE)?;
        self.update(chip, batch.inputs)
    }

    fn infer(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<&[f32]> {
        self.resize(1);
        if input.len() != self.input.len() {
            return Err(TrainError::Network(format!(
                "the network takes {} inputs; got {}",
                self.input.len(),
                input.len()
            )));
        }
        self.forward(chip, input)?;
        Ok(self.output())
    }
}

#[cfg(test)]
mod tests {
    use super::{diverged, layer_gain};

    #[test]
    fn diverged_finds_any_non_finite_value() {
        let finite = [
            0.0,
            -0.0,
            1.0,
            -2.5,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
        ];
        assert!(diverged(&finite).is_ok());
        assert!(diverged(&[]).is_ok());
        for bad in [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffff_ffff),
        ] {
            for at in [0, 3, 7] {
                let mut x = finite;
                x[at] = bad;
                assert!(diverged(&x).is_err(), "{bad} at {at}");
            }
        }
    }

    #[test]
    fn layer_gain_maps_the_initial_bound_to_omega_of_the_window() {
        // digits-cnn's second conv: fan-in 72, bound 1/√72; the default
        // device's largest weight 100/80 = 1.25; ω = 0.25.
        let bound = 1.0 / 72f32.sqrt();
        let g = layer_gain(bound, 0.25, 1.25);
        assert!((bound / g - 0.3125).abs() < 1e-6, "{g}");
        assert_eq!(layer_gain(0.0, 0.25, 1.25), 1.0);
    }
}
