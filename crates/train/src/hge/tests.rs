//! Tests of HGE: gradient quality against the exact gradient, timing
//! errors, the validation table (ignored) and XOR.

use super::*;
use crate::reference_gradient;
use aimsim_core::config::overrides as over;
use aimsim_device::builtin_device;
use aimsim_engine::Chip;
use aimsim_workload::builtin_workload;

/// Cosine similarity of HGE's weight gradient to the exact gradient at
/// the chip's weights, for digits-mlp's first training sample on the
/// default chip and device (read noise, 8-bit converters), seed 1.
pub(crate) fn cosine(opts: &RawHge, sample: usize) -> f64 {
    cosine_on(opts, sample, &[], &[]).0
}

pub(crate) fn cosine_on(
    opts: &RawHge,
    sample: usize,
    chip_over: &[(&str, &str)],
    device_over: &[(&str, &str)],
) -> (f64, usize, bool, f64) {
    let w = builtin_workload("digits-mlp", 1).unwrap();
    let chip = Chip::builtin("eapu-180nm", &over(chip_over)).unwrap();
    let device = builtin_device("eapu-180nm", &over(device_over)).unwrap();
    let mut sim = ChipSim::new(chip, device, 1).unwrap();
    let mut hge = Hge::new(&mut sim, &w.dense_layers(), opts, 0.02, 1.0, 1).unwrap();
    let input = w.train.input(sample);
    let label = usize::from(w.train.labels[sample]);
    let got = hge.extract(&mut sim, input, label).unwrap().clone();
    let (ms, bs): (Vec<_>, Vec<_>) = hge.matrices().into_iter().unzip();
    let ws: Vec<Vec<f32>> = ms.iter().map(|&m| sim.matrix_weights(m)).collect();
    let (deltas, xs) = reference_gradient(&w.dense_layers(), &ws, &bs, input, label);
    let (mut dot, mut a2, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    for l in 0..w.dense_layers().len() {
        for (&xa, &xb) in got.inputs[l].iter().zip(&xs[l]) {
            for (&da, &db) in got.deltas[l].iter().zip(&deltas[l]) {
                let (a, b) = (f64::from(xa * da), f64::from(xb * db));
                dot += a * b;
                a2 += a * a;
                b2 += b * b;
            }
        }
    }
    let p = hge.plan();
    (
        dot / (a2.sqrt() * b2.sqrt()),
        p.collisions.len(),
        p.whole_periods,
        p.leakage_max,
    )
}

/// A sample period shorter than a perturbed read (5 MHz: 20 cycles
/// against ~100) stops the first step with an error naming the field;
/// a rate above the clock is rejected when the algorithm is built.
#[test]
fn a_sample_period_shorter_than_the_read_is_an_error() {
    let w = builtin_workload("digits-mlp", 1).unwrap();
    let chip = Chip::builtin("eapu-180nm", &[]).unwrap();
    let device = builtin_device("eapu-180nm", &over(&[])).unwrap();
    let mut sim = ChipSim::new(chip, device, 1).unwrap();
    let fast = RawHge {
        sample_rate_hz: 5e6,
        allow_collisions: true,
        ..RawHge::default()
    };
    let mut hge = Hge::new(&mut sim, &w.dense_layers(), &fast, 0.02, 1.0, 1).unwrap();
    let e = hge
        .extract(&mut sim, w.train.input(0), 0)
        .expect_err("overrun");
    assert!(e.to_string().contains("hge.sample_rate_hz"), "{e}");
    let too_fast = RawHge {
        sample_rate_hz: 1e9,
        ..RawHge::default()
    };
    let e = Hge::new(&mut sim, &w.dense_layers(), &too_fast, 0.02, 1.0, 1)
        .err()
        .expect("above the clock");
    assert!(e.to_string().contains("hge.sample_rate_hz"), "{e}");
}

/// The long-window default plan extracts a gradient within cosine
/// 0.95 of the exact one; shortening the window (tones no longer on
/// whole periods, less averaging of read noise) and shrinking the tone
/// spacing below the lock-in's resolution lower it.
#[test]
fn gradient_matches_backprop_and_degrades_as_documented() {
    let long = cosine(&RawHge::default(), 0);
    assert!(long >= 0.95, "long window: cosine {long}");
    let short = cosine(
        &RawHge {
            window: 250,
            allow_collisions: true,
            ..RawHge::default()
        },
        0,
    );
    let close = cosine(
        &RawHge {
            spacing_hz: 120.0,
            allow_collisions: true,
            ..RawHge::default()
        },
        0,
    );
    eprintln!("cosine: long {long:.4}, short window {short:.4}, spacing 120 Hz {close:.4}");
    assert!(short < long - 0.02, "short {short} vs long {long}");
    assert!(close < long - 0.02, "close {close} vs long {long}");
}

/// The table of docs/validation.md (see `scripts/algorithms-validation.sh`):
/// `cargo test --release -p aimsim-train --lib hge_cosine_table -- --ignored --nocapture`.
mod table {
    use super::cosine_on;
    use crate::RawHge;

    #[test]
    #[ignore]
    fn hge_cosine_table() {
        let d = RawHge::default();
        let noiseless: &[(&str, &str)] = &[("read_noise_us", "0")];
        let ideal_conv: &[(&str, &str)] = &[("adc.ideal", "true"), ("dac.ideal", "true")];
        type Overrides<'a> = &'a [(&'a str, &'a str)];
        let mut rows: Vec<(String, RawHge, Overrides, Overrides)> = Vec::new();
        for w in [2500, 1250, 500, 250, 100] {
            rows.push((
                format!("window {w}"),
                RawHge {
                    window: w,
                    ..d.clone()
                },
                &[],
                &[],
            ));
        }
        for s in [600.0, 400.0, 300.0, 200.0, 120.0, 60.0] {
            rows.push((
                format!("spacing {s} Hz"),
                RawHge {
                    spacing_hz: s,
                    ..d.clone()
                },
                &[],
                &[],
            ));
        }
        for a in [0.02, 0.05, 0.1, 0.2, 0.5] {
            rows.push((
                format!("amplitude {a}"),
                RawHge {
                    amplitude: a,
                    ..d.clone()
                },
                &[],
                &[],
            ));
        }
        for a in [0.02, 0.2] {
            rows.push((
                format!("amplitude {a}, ideal converters, no read noise"),
                RawHge {
                    amplitude: a,
                    ..d.clone()
                },
                ideal_conv,
                noiseless,
            ));
        }
        println!("| setting | collisions | whole periods | leakage max | cosine (mean of samples 0–4) | min | max |");
        println!("|---|---|---|---|---|---|---|");
        for (name, mut o, c, dv) in rows {
            o.allow_collisions = true;
            let r: Vec<(f64, usize, bool, f64)> = (0..5).map(|k| cosine_on(&o, k, c, dv)).collect();
            let cs: Vec<f64> = r.iter().map(|x| x.0).collect();
            let mean = cs.iter().sum::<f64>() / cs.len() as f64;
            let min = cs.iter().copied().fold(1.0, f64::min);
            let max = cs.iter().copied().fold(-1.0, f64::max);
            println!(
                "| {name} | {} | {} | {:.3} | {mean:.4} | {min:.4} | {max:.4} |",
                r[0].1, r[0].2, r[0].3
            );
        }
    }
}

mod xor {
    use super::super::*;
    use aimsim_core::config::overrides as over;
    use aimsim_device::builtin_device;
    use aimsim_engine::Chip;
    use aimsim_workload::{argmax, Activation};

    /// XOR on a 2-8-2 network (tanh hidden layer, softmax output) with EaPU
    /// writes on the default chip and device, inputs ±1: HGE alone (no
    /// backprop, no transposed read) reaches 100 % on the four cases.
    #[test]
    fn hge_learns_xor_with_eapu_writes() {
        let layers = [
            LayerSpec {
                inputs: 2,
                outputs: 8,
                activation: Activation::Tanh,
            },
            LayerSpec {
                inputs: 8,
                outputs: 2,
                activation: Activation::Identity,
            },
        ];
        // 10 tones on bins 1 + 3k of a 250-sample window (2 kHz bins).
        let opts = RawHge {
            window: 250,
            f_min_hz: 2000.0,
            spacing_hz: 6000.0,
            ..RawHge::default()
        };
        let chip = Chip::builtin("eapu-180nm", &[]).unwrap();
        let device = builtin_device("eapu-180nm", &over(&[])).unwrap();
        let mut sim = ChipSim::new(chip, device, 3).unwrap();
        let mut hge = Hge::new(&mut sim, &layers, &opts, 0.1, 1.0, 3).unwrap();
        assert!(hge.plan().collisions.is_empty());
        let cases: [([f32; 2], u8); 4] = [
            ([-1.0, -1.0], 0),
            ([-1.0, 1.0], 1),
            ([1.0, -1.0], 1),
            ([1.0, 1.0], 0),
        ];
        let correct = |hge: &mut Hge, sim: &mut ChipSim| {
            cases
                .iter()
                .filter(|(x, y)| argmax(hge.infer(sim, x).unwrap()) == usize::from(*y))
                .count()
        };
        let mut solved_at = None;
        for step in 0..2000 {
            let (x, y) = &cases[step % 4];
            let labels = [*y];
            hge.step(
                &mut sim,
                Batch {
                    samples: 1,
                    inputs: x,
                    labels: &labels,
                    targets: &[],
                },
            )
            .unwrap();
            if step % 4 == 3 && correct(&mut hge, &mut sim) == 4 {
                solved_at = Some(step + 1);
                break;
            }
        }
        eprintln!("XOR solved after {solved_at:?} steps");
        assert!(solved_at.is_some(), "XOR not learnt in 2000 steps");
        assert!(sim.ledger().phase_pj(PERTURB) > 0.0);
        assert!(sim.ledger().phase_pj(DEMODULATE) > 0.0);
        assert_eq!(
            sim.ledger().phase_pj(Phase::BACKWARD),
            0.0,
            "no backward phase"
        );
    }
}
