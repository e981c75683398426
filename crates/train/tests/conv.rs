//! Convolutions on crossbars, checked against direct formulas on the chip
//! with the `ideal` rule (digital floating point, no device noise), so the
//! chip's MVMs and updates are exact up to f32 rounding (tolerance 1e-4 on
//! values of order 1 summed over at most 36 terms).

use aimsim_controller::UpdateRequest;
use aimsim_core::config::overrides;
use aimsim_device::builtin_device;
use aimsim_energy::Phase;
use aimsim_engine::{Chip, ChipSim, MatrixId, MatrixUpdate};
use aimsim_workload::{ConvGeometry, Shape};
use proptest::prelude::*;

fn ideal_chip() -> ChipSim {
    let chip = Chip::builtin("eapu-180nm", &overrides(&[("rule.name", "ideal")])).unwrap();
    let device = builtin_device("eapu-180nm", &[]).unwrap();
    let mut sim = ChipSim::new(chip, device, 1).unwrap();
    sim.enter_phase(Phase::FORWARD).unwrap();
    sim
}

/// The weights of `m` (`rows × cols`), read back row by row with unit inputs.
fn read_weights(sim: &mut ChipSim, m: MatrixId) -> Vec<f32> {
    let (rows, cols) = sim.matrix_shape(m);
    let mut w = vec![0.0; rows * cols];
    for i in 0..rows {
        let mut e = vec![0.0; rows];
        e[i] = 1.0;
        sim.mvm(m, &e, &mut w[i * cols..(i + 1) * cols]).unwrap();
    }
    w
}

#[derive(Debug, Clone)]
struct Case {
    g: ConvGeometry,
    c_out: usize,
    x: Vec<f32>,
    w: Vec<f32>,
    dy: Vec<f32>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..=3,
        3usize..=7,
        3usize..=7,
        1usize..=3,
        1usize..=2,
        0usize..=1,
        1usize..=4,
    )
        .prop_flat_map(|(c, h, w, k, s, p, c_out)| {
            let g = ConvGeometry {
                input: Shape { c, h, w },
                kernel: k,
                stride: s,
                padding: p,
            };
            let rows = g.rows();
            let pos = g.positions();
            (
                Just(g),
                Just(c_out),
                prop::collection::vec(-1.0f32..1.0, c * h * w),
                prop::collection::vec(-1.0f32..1.0, rows * c_out),
                prop::collection::vec(-1.0f32..1.0, pos * c_out),
            )
        })
        .prop_map(|(g, c_out, x, w, dy)| Case { g, c_out, x, w, dy })
}

/// `x[c, y, x]` with zero padding outside the input.
fn at(s: Shape, x: &[f32], c: usize, y: isize, xx: isize) -> f32 {
    if y < 0 || xx < 0 || y as usize >= s.h || xx as usize >= s.w {
        0.0
    } else {
        x[(c * s.h + y as usize) * s.w + xx as usize]
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Forward: the im2col MVMs on the crossbar equal the direct convolution
    /// `y[co, oy, ox] = Σ_{c,ky,kx} x[c, oy·s + ky − p, ox·s + kx − p] · W[(c·k + ky)·k + kx, co]`.
    #[test]
    fn im2col_mvm_equals_direct_convolution(t in case()) {
        let g = t.g;
        let (oh, ow) = g.out_hw().unwrap();
        let (rows, p, k, s) = (g.rows(), g.positions(), g.kernel, g.input);
        let mut sim = ideal_chip();
        let m = sim.place(rows, t.c_out, &t.w);
        let mut cols = vec![0.0; p * rows];
        g.im2col(&t.x, &mut cols);
        let mut ys = vec![0.0; p * t.c_out];
        sim.mvm_batch(m, &cols, &mut ys).unwrap();
        for co in 0..t.c_out {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut want = 0.0f32;
                    for c in 0..s.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let y = (oy * g.stride + ky) as isize - g.padding as isize;
                                let xx = (ox * g.stride + kx) as isize - g.padding as isize;
                                want += at(s, &t.x, c, y, xx) * t.w[((c * k + ky) * k + kx) * t.c_out + co];
                            }
                        }
                    }
                    let got = ys[(oy * ow + ox) * t.c_out + co];
                    prop_assert!((got - want).abs() < 1e-4, "co {co} ({oy},{ox}): {got} vs {want}");
                }
            }
        }
    }

    /// Backward: one transposed read per position, scattered by col2im,
    /// equals the transposed convolution
    /// `gx[c, y, x] = Σ_{co, oy, ox, ky, kx : oy·s + ky − p = y, ox·s + kx − p = x} dy[co, oy, ox] · W[(c·k + ky)·k + kx, co]`.
    #[test]
    fn transposed_read_equals_transposed_convolution(t in case()) {
        let g = t.g;
        let (oh, ow) = g.out_hw().unwrap();
        let (rows, p, k, s) = (g.rows(), g.positions(), g.kernel, g.input);
        let mut sim = ideal_chip();
        let m = sim.place(rows, t.c_out, &t.w);
        let mut cols = vec![0.0; p * rows];
        for q in 0..p {
            sim.mvm_transposed(m, &t.dy[q * t.c_out..(q + 1) * t.c_out], &mut cols[q * rows..(q + 1) * rows]).unwrap();
        }
        let mut gx = vec![0.0; s.len()];
        g.col2im_add(&cols, &mut gx);
        let mut want = vec![0.0f32; s.len()];
        for co in 0..t.c_out {
            for oy in 0..oh {
                for ox in 0..ow {
                    for c in 0..s.c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let y = (oy * g.stride + ky) as isize - g.padding as isize;
                                let xx = (ox * g.stride + kx) as isize - g.padding as isize;
                                if y >= 0 && xx >= 0 && (y as usize) < s.h && (xx as usize) < s.w {
                                    want[(c * s.h + y as usize) * s.w + xx as usize] +=
                                        t.dy[(oy * ow + ox) * t.c_out + co] * t.w[((c * k + ky) * k + kx) * t.c_out + co];
                                }
                            }
                        }
                    }
                }
            }
        }
        for (i, (a, b)) in gx.iter().zip(&want).enumerate() {
            prop_assert!((a - b).abs() < 1e-4, "input {i}: {a} vs {b}");
        }
    }

    /// Update: one rank-P update with the factor pairs of every position
    /// equals the sum of the per-position outer products `scale · Σ_p x_p δ_pᵀ`.
    #[test]
    fn batched_update_equals_sum_of_outer_products(t in case(), scale in -0.5f32..0.5) {
        let g = t.g;
        let (rows, p) = (g.rows(), g.positions());
        let mut sim = ideal_chip();
        let m = sim.place(rows, t.c_out, &t.w);
        let mut cols = vec![0.0; p * rows];
        g.im2col(&t.x, &mut cols);
        sim.enter_phase(Phase::UPDATE).unwrap();
        sim.update(&[MatrixUpdate { matrix: m, request: UpdateRequest::Factors { x: &cols, delta: &t.dy, scale } }], 0).unwrap();
        sim.finish_pending().unwrap();
        let got = read_weights(&mut sim, m);
        for i in 0..rows {
            for j in 0..t.c_out {
                let sum: f32 = (0..p).map(|q| cols[q * rows + i] * t.dy[q * t.c_out + j]).sum();
                let want = t.w[i * t.c_out + j] + scale * sum;
                let d = got[i * t.c_out + j];
                prop_assert!((d - want).abs() < 1e-4, "W[{i},{j}]: {d} vs {want}");
            }
        }
    }
}
