//! `ChipSim::update` of one rank-1 EaPU request (the default chip, its
//! `digital-mac` unit and sequential schedule: forming, decisions, plan and
//! the writes through the event loop) as the matrix's columns double at a
//! fixed expected number of writes: 64 rows, 256 … 2048 weight columns on
//! one tile (`array` sized to the matrix), `x_i = 0.5`, `|δ_j| = 0.3 · 256
//! / cols · u_j` with `u_j` spread over [0.5, 1.5) (mean 1, so the sort
//! of `|δ|` is real work), `η r_wg = 0.8 µS`, ΔG_th = 2 µS: every cell's
//! probability halves as the columns double and the expected writes stay
//! 64 · 256 · 0.3 · 0.5 · 0.8 / 2 ≈ 983 per update. The sign of η
//! alternates so the weights stay inside the window. The time should grow
//! with the writes, not the cells. Throughput is in cells (weights) of the
//! matrix per second; figures are recorded in `docs/performance.md`.
//!
//! A second group, `update_rank32_eapu_fixed_writes`, does the same for a
//! rank-32 request (a mini-batch of 32: `x_pi = ±0.5`, `δ_pj = ±0.3 · 256
//! / cols · u_j / (8√32)`, the signs from a fixed hash), drawn
//! by the rank-P sampler: again the columns double at a fixed expected
//! number of writes; the layout of the factors (`32 · (rows + cols)`
//! values) is the part that grows with the columns.
//!
//! Run: `cargo bench -p aimsim-engine --bench update`

use aimsim_controller::UpdateRequest;
use aimsim_core::config::overrides;
use aimsim_device::builtin_device;
use aimsim_energy::Phase;
use aimsim_engine::{Chip, ChipSim, MatrixUpdate};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

const ROWS: usize = 64;
const LR: f32 = 0.01;

/// A value in [0, 1) from a fixed hash of `k` (SplitMix64's finaliser;
/// bench inputs only).
fn unit(k: usize) -> f32 {
    let mut z = (k as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 40) as f32 / 16_777_216.0
}

fn bench(c: &mut Criterion) {
    for rank in [1usize, 32] {
        group(c, rank);
    }
}

/// One group: the update of a rank-`rank` request as the columns double.
fn group(c: &mut Criterion, rank: usize) {
    let mut g = c.benchmark_group(format!("update_rank{rank}_eapu_fixed_writes"));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let x: Vec<f32> = (0..rank * ROWS)
        .map(|k| {
            if rank == 1 || unit(k + 11) < 0.5 {
                0.5
            } else {
                -0.5
            }
        })
        .collect();
    for cols in [256usize, 512, 1024, 2048] {
        // Rank 1: the same δ as before this group had a rank-32 sibling.
        // Rank 32: the sum of 32 terms of random signs is ~√32 times one
        // term; the terms are scaled down by 8√32, for about 1/8 of the
        // rank-1 group's writes (a mini-batch's sparser update).
        let shrink = if rank == 1 {
            1.0
        } else {
            8.0 * (rank as f32).sqrt()
        };
        let delta: Vec<f32> = (0..rank * cols)
            .map(|k| {
                let j = k % cols;
                let u = 0.5 + (j as f32 * 0.618_034).fract();
                let sign = if rank == 1 {
                    if j % 2 == 0 {
                        1.0
                    } else {
                        -1.0
                    }
                } else if unit(k) < 0.5 {
                    1.0
                } else {
                    -1.0
                };
                sign * 0.3 * 256.0 / cols as f32 * u / shrink
            })
            .collect();
        let o = overrides(&[
            ("array.rows", &ROWS.to_string()),
            ("array.cols", &(2 * cols).to_string()),
        ]);
        let chip = Chip::builtin("eapu-180nm", &o).unwrap();
        let model = builtin_device("eapu-180nm", &[]).unwrap();
        let mut sim = ChipSim::new(chip, model, 1).unwrap();
        let m = sim.place(ROWS, cols, &vec![0.0; ROWS * cols]);
        sim.enter_phase(Phase::UPDATE).unwrap();
        g.throughput(Throughput::Elements((ROWS * cols) as u64));
        let mut sign = 1.0f32;
        let mut updates = 0u64;
        g.bench_with_input(BenchmarkId::new("digital-mac", cols), &cols, |b, _| {
            b.iter(|| {
                sign = -sign;
                updates += 1;
                let request = UpdateRequest::Factors {
                    x: &x,
                    delta: &delta,
                    scale: sign * LR,
                };
                sim.update(&[MatrixUpdate { matrix: m, request }], 0)
                    .unwrap();
            })
        });
        eprintln!(
            "rank {rank}, {cols} columns: {:.0} cells written per update",
            sim.writes().cell_writes as f64 / updates.max(1) as f64
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
