//! Backprop over a layer graph computes the loss gradient: one SGD step on
//! the chip with the `ideal` rule (exact digital weights) moves every
//! weight by `−η ∂L/∂W`, compared with central finite differences of a
//! reference forward pass written here from the layer definitions.
//! Tolerance: |g_chip − g_fd| ≤ 2e-3 + 3e-2·|g_fd| (f32 arithmetic, ε = 1e-2
//! on smooth activations: the truncation error of the central difference is
//! O(ε²) ≈ 1e-4 times the third derivative).

use aimsim_core::config::overrides;
use aimsim_device::builtin_device;
use aimsim_engine::{Chip, ChipSim};
use aimsim_train::{Backprop, Batch, TrainingAlgorithm};
use aimsim_workload::shape::{pixel_shuffle, pool_forward};
use aimsim_workload::{softmax_cross_entropy, LayerKind, Loss, Network};
use std::path::Path;

fn ideal_chip() -> ChipSim {
    let chip = Chip::builtin("eapu-180nm", &overrides(&[("rule.name", "ideal")])).unwrap();
    ChipSim::new(chip, builtin_device("eapu-180nm", &[]).unwrap(), 1).unwrap()
}

/// The reference forward pass with weights `ws` (one `rows × cols` matrix
/// per weight layer) and zero biases.
fn forward(net: &Network, ws: &[Vec<f32>], x: &[f32]) -> Vec<f32> {
    let mut acts = vec![x.to_vec()];
    let mut wi = 0;
    for l in &net.layers {
        let a = acts.last().unwrap();
        let mut y = vec![0.0f32; l.output.len()];
        match l.kind {
            LayerKind::Dense {
                outputs,
                activation,
            } => {
                let w = &ws[wi];
                wi += 1;
                for (i, &xi) in a.iter().enumerate() {
                    for j in 0..outputs {
                        y[j] += xi * w[i * outputs + j];
                    }
                }
                activation.apply(&mut y);
            }
            LayerKind::Conv2d {
                geometry,
                out_channels,
                activation,
            } => {
                let w = &ws[wi];
                wi += 1;
                let (p, r) = (geometry.positions(), geometry.rows());
                let mut cols = vec![0.0; p * r];
                geometry.im2col(a, &mut cols);
                for q in 0..p {
                    for co in 0..out_channels {
                        y[co * p + q] = (0..r)
                            .map(|i| cols[q * r + i] * w[i * out_channels + co])
                            .sum();
                    }
                }
                activation.apply(&mut y);
            }
            LayerKind::Pool { kind, size } => {
                let mut am = vec![0; y.len()];
                pool_forward(kind, l.input, size, a, &mut y, &mut am);
            }
            LayerKind::Flatten => y.copy_from_slice(a),
            LayerKind::Add { from } => {
                let other = match from {
                    None => &acts[0],
                    Some(f) => &acts[f + 1],
                };
                for ((o, &u), &v) in y.iter_mut().zip(a).zip(other) {
                    *o = u + v;
                }
            }
            LayerKind::PixelShuffle { factor } => pixel_shuffle(l.input, factor, a, &mut y, false),
        }
        acts.push(y);
    }
    acts.pop().unwrap()
}

fn loss(net: &Network, out: &[f32], label: u8, target: &[f32]) -> f32 {
    match net.loss {
        Loss::CrossEntropy => {
            let mut g = vec![0.0; out.len()];
            softmax_cross_entropy(out, usize::from(label), &mut g)
        }
        _ => out
            .iter()
            .zip(target)
            .map(|(&y, &t)| 0.5 * (y - t) * (y - t))
            .sum(),
    }
}

fn check(json: &str) {
    let net = Network::from_json("gradient-test", json, Path::new(".")).unwrap();
    let mut chip = ideal_chip();
    let lr = 1e-3f32;
    let mut bp = Backprop::for_network(&mut chip, &net, lr, 1.0, 7).unwrap();
    let n_in = net.input.len();
    let x: Vec<f32> = (0..n_in)
        .map(|i| ((i * 37 % 23) as f32 / 23.0) - 0.4)
        .collect();
    let target: Vec<f32> = (0..net.output().len())
        .map(|i| ((i * 11 % 7) as f32 / 7.0) - 0.5)
        .collect();
    let label = 1u8;
    let read = |chip: &mut ChipSim, bp: &Backprop| -> Vec<Vec<f32>> {
        bp.matrices()
            .into_iter()
            .map(|m| {
                let (rows, cols) = chip.matrix_shape(m);
                let mut w = vec![0.0; rows * cols];
                for i in 0..rows {
                    let mut e = vec![0.0; rows];
                    e[i] = 1.0;
                    chip.mvm(m, &e, &mut w[i * cols..(i + 1) * cols]).unwrap();
                }
                w
            })
            .collect()
    };
    let w0 = read(&mut chip, &bp);
    let classify = net.loss == Loss::CrossEntropy;
    let batch = Batch {
        samples: 1,
        inputs: &x,
        labels: if classify {
            std::slice::from_ref(&label)
        } else {
            &[]
        },
        targets: if classify { &[] } else { &target },
    };
    bp.step(&mut chip, batch).unwrap();
    chip.finish_pending().unwrap();
    let w1 = read(&mut chip, &bp);
    let eps = 1e-2f32;
    let mut checked = 0;
    for (k, (a, b)) in w0.iter().zip(&w1).enumerate() {
        for i in 0..a.len() {
            let g_chip = (a[i] - b[i]) / lr;
            let mut wp = w0.clone();
            wp[k][i] += eps;
            let lp = loss(&net, &forward(&net, &wp, &x), label, &target);
            wp[k][i] -= 2.0 * eps;
            let lm = loss(&net, &forward(&net, &wp, &x), label, &target);
            let g_fd = (lp - lm) / (2.0 * eps);
            assert!(
                (g_chip - g_fd).abs() <= 2e-3 + 3e-2 * g_fd.abs(),
                "matrix {k} weight {i}: chip {g_chip} vs finite difference {g_fd}"
            );
            checked += usize::from(g_fd.abs() > 1e-3);
        }
    }
    assert!(
        checked > 10,
        "only {checked} weights with a visible gradient"
    );
}

#[test]
fn conv_avgpool_shuffle_residual_gradients_match_finite_differences() {
    check(
        r#"{"schema": "aimsim.network/1", "name": "g1", "input": [1, 4, 4],
        "data": {"synthetic": {"train": 1, "test": 1}},
        "layers": [
          {"kind": "conv2d", "out_channels": 4, "kernel": 3, "padding": 1, "activation": "tanh"},
          {"kind": "pixel_shuffle", "factor": 2},
          {"kind": "avgpool", "size": 2},
          {"kind": "add", "from": -1},
          {"kind": "conv2d", "out_channels": 2, "kernel": 2, "stride": 2, "activation": "sigmoid"},
          {"kind": "conv2d", "out_channels": 1, "kernel": 1}
        ],
        "loss": "mse", "metric": "psnr"}"#,
    );
}

#[test]
fn conv_maxpool_dense_cross_entropy_gradients_match_finite_differences() {
    check(
        r#"{"schema": "aimsim.network/1", "name": "g2", "input": [2, 4, 4],
        "data": {"synthetic": {"train": 1, "test": 1}},
        "layers": [
          {"kind": "conv2d", "out_channels": 3, "kernel": 3, "padding": 1, "activation": "tanh"},
          {"kind": "maxpool", "size": 2},
          {"kind": "flatten"},
          {"kind": "dense", "outputs": 5, "activation": "tanh"},
          {"kind": "add", "from": 3},
          {"kind": "dense", "outputs": 3}
        ],
        "loss": "cross_entropy", "metric": "accuracy"}"#,
    );
}
