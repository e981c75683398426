//! Homodyne gradient extraction (HGE; Boon et al., Nat. Commun. 2025,
//! "Gradient descent in materia through homodyne gradient extraction"):
//! training without backprop and without transposed reads.
//!
//! **What is perturbed.** Every neuron's pre-activation `z_k`: a tone
//! `a·sin(2π f_k t)` is added to it where the chip's digital periphery
//! accumulates the tiles' partial sums (after the ADCs, before the
//! activation), so the lock-in recovers `δ_k = ∂L/∂z_k` for all neurons of
//! all layers at once — node perturbation in the frequency domain; the
//! weight gradient is then `δ ⊗ x`, formed by the chip's update path like
//! backprop's. Pre-activations rather than the DAC input lines because one
//! tone per neuron (138 for digits-mlp) gives every weight's gradient,
//! where input-line tones give only the input-side factor; and digitally
//! after the ADC rather than as an analog current into the sense path
//! because an 8-bit ADC's LSB (0.24 pre-activation units at full-scale
//! inputs on the default chip) would swallow a small tone.
//!
//! **Timing from the clock.** Loss samples are taken on a grid of sample
//! ticks, `f_s` apart (a whole number of chip cycles); at each tick one
//! forward read of the held input runs with every tone evaluated at the
//! tick's time `t_n` (the numerically controlled oscillators run on the
//! engine clock, continuous across steps); the read, the loss and the
//! lock-in arithmetic must fit in the sample period (else an error naming
//! `train.hge.sample_rate_hz`). A step is one clean forward read, a window
//! of `N` perturbed reads, the demodulation and one update: `N / f_s` of
//! chip time per gradient estimate.
//!
//! **Lock-in.** With `ΔL_n = L_n − L_clean` (the clean read's loss stands
//! in for the window mean: one subtract per sample instead of a second
//! pass), `X_k = (2/N) Σ ΔL_n sin(ω_k t_n)`, `Y_k = (2/N) Σ ΔL_n cos(ω_k
//! t_n)`; `R_k = √(X_k² + Y_k²)`, and `δ_k = ±R_k / a` with the sign from
//! the phase (`+` within ±90° of the reference, as in the paper).
//!
//! **Energy** (digital periphery, `chip.digital`): per sample and tone one
//! NCO phase add, a sine and a cosine look-up (`activation_pj` each), one
//! add to inject the tone, two MACs (X and Y accumulators); per sample one
//! loss (exponential look-ups and adds) and one subtract; per tone at the
//! window's end two MACs (`X²+Y²`), a square root by look-up and a MAC
//! (divide by `a`). The lock-in MACs run on the tile gradient units'
//! pipeline (`macs_per_cycle` per tile); the new silicon is the tone state
//! (each tone's NCO frequency word and phase, and its X / Y accumulators,
//! in SRAM) and one sine table: `area_mm2.by_component.lockin`
//! ([`aimsim_periphery::lockin_area_mm2`]).
//! Phases: `forward` (the clean read), `perturb` (the window), `demodulate`,
//! `update`. A VCD shows the tone on neuron 0 and every loss sample
//! (`algorithm.tone0`, `algorithm.loss`).

use crate::algo_options::RawHge;
use crate::mlp::{charged_loss, check_layers, initial_weights, single_sample, Mlp};
use crate::tones::TonePlan;
use crate::{Batch, Result, TrainError, TrainingAlgorithm};
use aimsim_controller::UpdateRequest;
use aimsim_core::config::Check;
use aimsim_core::SimTime;
use aimsim_energy::Phase;
use aimsim_engine::{ChipSim, MatrixId, MatrixUpdate};
use aimsim_workload::LayerSpec;
use std::f64::consts::PI;

/// The window of perturbed reads.
pub const PERTURB: Phase = Phase::named("perturb");
/// The lock-in's final arithmetic.
pub const DEMODULATE: Phase = Phase::named("demodulate");
const PHASES: [Phase; 4] = [Phase::FORWARD, PERTURB, DEMODULATE, Phase::UPDATE];

/// One gradient estimate: per layer the input `x_l` of the clean read and
/// the extracted `δ_l = ∂L/∂z_l`.
#[derive(Clone, Debug, Default)]
pub struct HgeGradient {
    /// Layer inputs of the clean forward read.
    pub inputs: Vec<Vec<f32>>,
    /// Extracted pre-activation gradients.
    pub deltas: Vec<Vec<f32>>,
}

/// Homodyne gradient extraction on a dense network.
pub struct Hge {
    net: Mlp,
    lr: f32,
    amplitude: f64,
    plan: TonePlan,
    period_cycles: u64,
    /// First tone of each layer.
    offsets: Vec<usize>,
    sin: Vec<f64>,
    cos: Vec<f64>,
    x_acc: Vec<f64>,
    y_acc: Vec<f64>,
    grad: Vec<f32>,
    last: HgeGradient,
    /// Gradient estimates made and the chip time they took, ps.
    estimates: u64,
    estimate_ps: u64,
}

impl Hge {
    /// Places `layers` on `chip` (initial weights as [`crate::Backprop`]'s)
    /// and plans one tone per neuron from `opts`. A plan whose highest
    /// tone is not below `f_s/2`, a sample period below one clock cycle, or
    /// a plan with collisions (unless `allow_collisions`) is an error
    /// naming the field.
    pub fn new(
        chip: &mut ChipSim,
        layers: &[LayerSpec],
        opts: &RawHge,
        lr: f32,
        init_scale: f32,
        seed: u64,
    ) -> Result<Hge> {
        check_layers(layers)?;
        let c = Check::new("--set train").section("hge");
        let clock_hz = chip.chip().clock_hz;
        let period_cycles = (clock_hz / opts.sample_rate_hz).round();
        if period_cycles < 1.0 {
            return Err(c
                .err(
                    "sample_rate_hz",
                    format!(
                        "{} Hz is above the chip clock ({clock_hz} Hz): a sample needs at least one cycle",
                        opts.sample_rate_hz
                    ),
                )
                .into());
        }
        let fs = clock_hz / period_cycles;
        let n: usize = layers.iter().map(|l| l.outputs).sum();
        let plan = TonePlan::evenly_spaced(
            n,
            opts.f_min_hz,
            opts.spacing_hz,
            fs,
            opts.window,
            opts.harmonic_order,
        );
        if plan.highest_hz() >= fs / 2.0 {
            return Err(c
                .err(
                    "spacing_hz",
                    format!(
                        "the highest of {n} tones, {} Hz, is not below half the sample rate ({} Hz)",
                        plan.highest_hz(),
                        fs / 2.0
                    ),
                )
                .into());
        }
        if !plan.collisions.is_empty() && !opts.allow_collisions {
            return Err(c
                .err(
                    "spacing_hz",
                    format!(
                        "the tone plan has {} collisions: {} (set train.hge.allow_collisions=true to run anyway)",
                        plan.collisions.len(),
                        plan.describe_collisions()
                    ),
                )
                .into());
        }
        tracing::info!(
            tones = n,
            sample_rate_hz = fs,
            window = opts.window,
            collisions = plan.collisions.len(),
            third_order_on_tones = plan.third_order_on_tones,
            leakage_max = plan.leakage_max,
            "hge tone plan"
        );
        let weights = initial_weights(layers, init_scale, seed);
        let net = Mlp::place(chip, layers, &weights);
        let mut offsets = Vec::new();
        let mut k = 0;
        for l in layers {
            offsets.push(k);
            k += l.outputs;
        }
        let outputs = net.outputs();
        Ok(Hge {
            net,
            lr,
            amplitude: opts.amplitude,
            plan,
            period_cycles: period_cycles as u64,
            offsets,
            sin: vec![0.0; n],
            cos: vec![0.0; n],
            x_acc: vec![0.0; n],
            y_acc: vec![0.0; n],
            grad: vec![0.0; outputs],
            last: HgeGradient::default(),
            estimates: 0,
            estimate_ps: 0,
        })
    }

    /// The tone plan.
    pub fn plan(&self) -> &TonePlan {
        &self.plan
    }

    /// The placed matrices, layer by layer, and their biases.
    pub fn matrices(&self) -> Vec<(aimsim_engine::MatrixId, Vec<f32>)> {
        self.net
            .layers
            .iter()
            .map(|l| (l.matrix, l.bias.clone()))
            .collect()
    }

    /// Extracts the gradient of the loss of `input` (class `label`) at the
    /// chip's current weights: the clean read (phase `forward`), the window
    /// (phase `perturb`) and the demodulation (phase `demodulate`).
    pub fn extract(
        &mut self,
        chip: &mut ChipSim,
        input: &[f32],
        label: usize,
    ) -> Result<&HgeGradient> {
        let dig = chip.chip().digital.clone();
        let (add_pj, mac_pj, lut_pj) = (dig.add_pj(), dig.mac_pj(), dig.activation_pj());
        let n_tones = self.sin.len() as u64;
        let t0 = chip.now();
        chip.enter_phase(Phase::FORWARD)?;
        self.net.forward(chip, input, &mut |_, _| {})?;
        let l_clean = f64::from(charged_loss(chip, self.net.output(), label, &mut self.grad));
        self.last.inputs = self.net.acts[..self.net.layers.len()].to_vec();

        chip.enter_phase(PERTURB)?;
        self.x_acc.fill(0.0);
        self.y_acc.fill(0.0);
        let period_ps = chip.chip().clock.cycles(self.period_cycles);
        // The lock-in's per-sample MACs on the tiles' gradient units.
        let lockin_cycles = (2 * n_tones)
            .div_ceil(u64::from(dig.macs_per_cycle()) * chip.tile_count().max(1) as u64);
        let mut tick = SimTime(chip.now().ps().div_ceil(period_ps) * period_ps);
        let a = self.amplitude;
        for _ in 0..self.plan.window {
            chip.run_until(tick)?;
            let t_s = tick.seconds();
            for ((s, c), &f) in self
                .sin
                .iter_mut()
                .zip(self.cos.iter_mut())
                .zip(&self.plan.freqs_hz)
            {
                (*s, *c) = (2.0 * PI * f * t_s).sin_cos();
            }
            chip.probe_analog(0, a * self.sin[0])?;
            let (sin, offsets) = (&self.sin, &self.offsets);
            self.net.forward(chip, input, &mut |l, z| {
                let o = offsets[l];
                let n = z.len();
                for (zk, s) in z.iter_mut().zip(&sin[o..o + n]) {
                    *zk += (a * s) as f32;
                }
            })?;
            let loss = f64::from(charged_loss(chip, self.net.output(), label, &mut self.grad));
            chip.probe_analog(1, loss)?;
            let dl = loss - l_clean;
            for ((x, y), (&s, &c)) in self
                .x_acc
                .iter_mut()
                .zip(self.y_acc.iter_mut())
                .zip(self.sin.iter().zip(&self.cos))
            {
                *x += dl * s;
                *y += dl * c;
            }
            chip.charge_digital("nco_phase", n_tones, add_pj);
            chip.charge_digital("nco_lookup", 2 * n_tones, lut_pj);
            chip.charge_digital("tone_inject", n_tones, add_pj);
            chip.charge_digital("loss_offset", 1, add_pj);
            chip.charge_digital("lockin_mix", 2 * n_tones, mac_pj);
            chip.advance(chip.chip().clock.cycles(lockin_cycles))?;
            let next = tick + period_ps;
            if chip.now() > next {
                return Err(TrainError::Config(
                    Check::new("--set train").section("hge").err(
                        "sample_rate_hz",
                        format!(
                            "a perturbed forward read, its loss and the lock-in take {} cycles, more than the sample period of {} cycles",
                            chip.chip().clock.cycles_at(SimTime(chip.now().ps() - tick.ps())),
                            self.period_cycles
                        ),
                    ),
                ));
            }
            tick = next;
        }
        chip.run_until(tick)?;

        chip.enter_phase(DEMODULATE)?;
        let scale = 2.0 / self.plan.window as f64;
        self.last.deltas = self
            .net
            .layers
            .iter()
            .zip(&self.offsets)
            .map(|(layer, &o)| {
                (o..o + layer.spec.outputs)
                    .map(|k| {
                        let (x, y) = (self.x_acc[k] * scale, self.y_acc[k] * scale);
                        let r = x.hypot(y);
                        (r.copysign(x) / a) as f32
                    })
                    .collect()
            })
            .collect();
        chip.charge_digital("lockin_magnitude", 3 * n_tones, mac_pj);
        chip.charge_digital("lockin_sqrt", n_tones, lut_pj);
        let cycles = (3 * n_tones).div_ceil(u64::from(dig.macs_per_cycle()));
        chip.advance(chip.chip().clock.cycles(cycles))?;
        self.estimates += 1;
        self.estimate_ps += chip.now().ps() - t0.ps();
        Ok(&self.last)
    }

    /// The SGD update from the last gradient estimate: biases digitally,
    /// weights through the chip's rule as rank-1 factors `(x_l, δ_l)`.
    fn update(&mut self, chip: &mut ChipSim) -> Result<()> {
        let lr = self.lr;
        let mut bias_macs = 0u64;
        for (layer, d) in self.net.layers.iter_mut().zip(&self.last.deltas) {
            for (b, &dj) in layer.bias.iter_mut().zip(d) {
                *b -= lr * dj;
            }
            bias_macs += layer.bias.len() as u64;
        }
        let updates: Vec<MatrixUpdate<'_>> = self
            .net
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| MatrixUpdate {
                matrix: layer.matrix,
                request: UpdateRequest::Factors {
                    x: &self.last.inputs[l],
                    delta: &self.last.deltas[l],
                    scale: -lr,
                },
            })
            .collect();
        chip.update(&updates, bias_macs)?;
        Ok(())
    }
}

impl TrainingAlgorithm for Hge {
    fn layer_matrices(&self) -> Vec<Vec<MatrixId>> {
        self.net.layer_matrices()
    }

    fn name(&self) -> &str {
        "hge"
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn step(&mut self, chip: &mut ChipSim, batch: Batch<'_>) -> Result<()> {
        let label = single_sample("hge", &batch, self.net.inputs(), self.net.outputs())?;
        self.extract(chip, batch.inputs, label)?;
        chip.enter_phase(Phase::UPDATE)?;
        self.update(chip)
    }

    fn infer(&mut self, chip: &mut ChipSim, input: &[f32]) -> Result<&[f32]> {
        self.net.forward(chip, input, &mut |_, _| {})?;
        Ok(self.net.output())
    }

    /// The perturbation of neuron 0 (`a·sin(2πf₀t)`, at each sample tick)
    /// and each loss sample.
    fn analog_signals(&self) -> &[&'static str] {
        &["tone0", "loss"]
    }

    /// The tone plan and, per gradient estimate (the clean read, the
    /// window and the demodulation; not the update), the energy of those
    /// phases and the chip time.
    fn extra_area_mm2(&self) -> std::collections::BTreeMap<String, f64> {
        let mut m = std::collections::BTreeMap::new();
        m.insert(
            "lockin".to_string(),
            aimsim_periphery::lockin_area_mm2(self.sin.len()),
        );
        m
    }

    fn details(&self, chip: &ChipSim) -> Option<serde_json::Value> {
        let l = chip.ledger();
        let n = self.estimates.max(1) as f64;
        let pj = l.phase_pj(Phase::FORWARD) + l.phase_pj(PERTURB) + l.phase_pj(DEMODULATE);
        let p = &self.plan;
        Some(serde_json::json!({
            "tones": p.freqs_hz.len(),
            "sample_rate_hz": p.sample_rate_hz,
            "window": p.window,
            "f_min_hz": p.freqs_hz.first(),
            "f_max_hz": p.highest_hz(),
            "amplitude": self.amplitude,
            "collisions": p.collisions.len(),
            "third_order_on_tones": p.third_order_on_tones,
            "leakage_max": p.leakage_max,
            "leakage_rms": p.leakage_rms,
            "whole_periods": p.whole_periods,
            "gradient_estimates": self.estimates,
            "energy_pj_per_estimate": pj / n,
            "seconds_per_estimate": self.estimate_ps as f64 * 1e-12 / n,
        }))
    }
}

#[cfg(test)]
mod tests;
