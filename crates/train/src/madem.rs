//! MADEM-style activity-difference learning ("memristor activity-difference
//! energy minimisation", Yi et al., Nat. Electron. 6, 45 (2023); the
//! equilibrium-propagation family). The paper's methods are not open; this
//! is our reading, with its assumptions:
//!
//! * **Free phase** (`free`): the feedforward read of every layer gives
//!   `a_{l+1} = f(W_l a_l + b_l)` and the output `y₀`; then the network
//!   relaxes once top-down: each hidden layer `l` (from the top) receives
//!   the activity of the layer above through the same crossbar read in the
//!   reverse direction, `a_l⁰ = f(z_l + κ W_lᵀ a_{l+1}⁰)`, `κ` the
//!   feedback gain (`train.madem.feedback`), with `a_L⁰ = y₀`.
//! * **Nudged phase** (`nudged`): the output is nudged toward the target,
//!   `y_β = y₀ − β (softmax(y₀) − onehot)` (the loss's gradient at the
//!   output, β = `train.madem.beta`), and the hidden layers relax again
//!   from it: `a_lᵝ = f(z_l + κ W_lᵀ a_{l+1}ᵝ)`.
//! * **Update** (`update`): a local rule from the difference of the two
//!   phases' activity products. Every layer's presynaptic activity is the
//!   one its postsynaptic activity was formed from (the feedforward `a_l`,
//!   the same in both phases), so the difference of products is `a_l ⊗
//!   (a_{l+1}ᵝ − a_{l+1}⁰)`, formed by the chip's update path as one
//!   rank-1 request with scale `η / (β κ^(L−1−l))`. For small β this is
//!   `−η a_l ⊗ δ_l`, backprop's step; for finite β and the chip's noisy
//!   reads it is an estimate.
//! * Only activities are ever driven on the arrays — the feedforward inputs
//!   and, in reverse, the upper layer's activities — never an error
//!   vector: no transposed error reads. The nudge `β (p − onehot)` is
//!   formed in the output's digital periphery.
//!
//! Cost per step: `L` forward reads and `2 (L − 1)` reverse activity reads
//! (backprop: `L` and `L − 1`), the nudge (one MAC per output), the
//! activity differences (one add per hidden neuron and phase pair).

use crate::algo_options::RawMadem;
use crate::mlp::{charged_loss, check_layers, initial_weights, single_sample, Mlp};
use crate::{Batch, Result, TrainingAlgorithm};
use aimsim_controller::UpdateRequest;
use aimsim_energy::Phase;
use aimsim_engine::{ChipSim, MatrixId, MatrixUpdate};
use aimsim_workload::LayerSpec;

/// The free phase.
pub const FREE: Phase = Phase::named("free");
/// The nudged phase.
pub const NUDGED: Phase = Phase::named("nudged");
const PHASES: [Phase; 3] = [FREE, NUDGED, Phase::UPDATE];

/// MADEM-style training of a dense network.
pub struct Madem {
    net: Mlp,
    lr: f32,
    beta: f32,
    feedback: f32,
    /// Pre-activations of the feedforward read, per layer.
    z: Vec<Vec<f32>>,
    /// Free and nudged activities of each layer's output (`L` entries).
    free: Vec<Vec<f32>>,
    nudged: Vec<Vec<f32>>,
    /// The activity differences `a_{l+1}ᵝ − a_{l+1}⁰`.
    diff: Vec<Vec<f32>>,
    grad: Vec<f32>,
}

impl Madem {
    /// Places `layers` on `chip` (initial weights as [`crate::Backprop`]'s).
    pub fn new(
        chip: &mut ChipSim,
        layers: &[LayerSpec],
        opts: &RawMadem,
        lr: f32,
        init_scale: f32,
        seed: u64,
    ) -> Result<Madem> {
        check_layers(layers)?;
        let weights = initial_weights(layers, init_scale, seed);
        let net = Mlp::place(chip, layers, &weights);
        let outs: Vec<Vec<f32>> = layers.iter().map(|s| vec![0.0; s.outputs]).collect();
        Ok(Madem {
            grad: vec![0.0; net.outputs()],
            net,
            lr,
            beta: opts.beta as f32,
            feedback: opts.feedback as f32,
            z: outs.clone(),
            free: outs.clone(),
            nudged: outs.clone(),
            diff: outs,
        })
    }

    /// Relaxes the hidden layers top-down from the output activity `top`
    /// into `acts` (`acts[L−1] = top`).
    fn relax(&mut self, chip: &mut ChipSim, nudged: bool) -> Result<()> {
        let act_pj = chip.chip().digital.activation_pj();
        let add_pj = chip.chip().digital.add_pj();
        let mac_pj = chip.chip().digital.mac_pj();
        let last = self.net.layers.len() - 1;
        let acts = if nudged {
            &mut self.nudged
        } else {
            &mut self.free
        };
        for l in (0..last).rev() {
            let (below, above) = acts.split_at_mut(l + 1);
            let u = &mut below[l];
            u.fill(0.0);
            chip.mvm_transposed(self.net.layers[l + 1].matrix, &above[0], u)?;
            for (ui, &zi) in u.iter_mut().zip(&self.z[l]) {
                *ui = zi + self.feedback * *ui;
            }
            chip.charge_digital("feedback_mac", u.len() as u64, mac_pj);
            chip.charge_digital("feedback_add", u.len() as u64, add_pj);
            self.net.layers[l].spec.activation.apply(u);
            chip.charge_digital("activation", u.len() as u64, act_pj);
        }
        Ok(())
    }
}

impl TrainingAlgorithm for Madem {
    fn layer_matrices(&self) -> Vec<Vec<MatrixId>> {
        self.net.layer_matrices()
    }

    fn name(&self) -> &str {
        "madem"
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn step(&mut self, chip: &mut ChipSim, batch: Batch<'_>) -> Result<()> {
        let label = single_sample("madem", &batch, self.net.inputs(), self.net.outputs())?;
        let last = self.net.layers.len() - 1;
        chip.enter_phase(FREE)?;
        let z = &mut self.z;
        self.net.forward(chip, batch.inputs, &mut |l, pre| {
            z[l].copy_from_slice(pre);
        })?;
        self.free[last].copy_from_slice(self.net.output());
        self.relax(chip, false)?;

        chip.enter_phase(NUDGED)?;
        charged_loss(chip, self.net.output(), label, &mut self.grad);
        let mac_pj = chip.chip().digital.mac_pj();
        let beta = self.beta;
        for ((n, &y), &g) in self.nudged[last]
            .iter_mut()
            .zip(self.net.output())
            .zip(&self.grad)
        {
            *n = y - beta * g;
        }
        chip.charge_digital("nudge", self.grad.len() as u64, mac_pj);
        self.relax(chip, true)?;

        chip.enter_phase(Phase::UPDATE)?;
        let add_pj = chip.chip().digital.add_pj();
        let mut adds = 0u64;
        for ((d, b), f) in self.diff.iter_mut().zip(&self.nudged).zip(&self.free) {
            for ((di, &bi), &fi) in d.iter_mut().zip(b).zip(f) {
                *di = bi - fi;
            }
            adds += d.len() as u64;
        }
        chip.charge_digital("activity_difference", adds, add_pj);
        // Biases learn from the same differences, digitally.
        let mut bias_macs = 0u64;
        let mut scales = Vec::with_capacity(last + 1);
        for (l, layer) in self.net.layers.iter_mut().enumerate() {
            let scale = self.lr / (beta * self.feedback.powi((last - l) as i32));
            for (b, &d) in layer.bias.iter_mut().zip(&self.diff[l]) {
                *b += scale * d;
            }
            bias_macs += layer.bias.len() as u64;
            scales.push(scale);
        }
        let updates: Vec<MatrixUpdate<'_>> = self
            .net
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| MatrixUpdate {
                matrix: layer.matrix,
                request: UpdateRequest::Factors {
                    x: &self.net.acts[l],
                    delta: &self.diff[l],
                    scale: scales[l],
                },
            })
            .collect();
        chip.update(&updates, bias_macs)?;
        Ok(())
    }

    fn infer(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<&[f32]> {
        self.net.forward(chip, input, &mut |_, _| {})?;
        Ok(self.net.output())
    }
}
