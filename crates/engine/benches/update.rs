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

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("update_rank1_eapu_fixed_writes");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let x = vec![0.5f32; ROWS];
    for cols in [256usize, 512, 1024, 2048] {
        let delta: Vec<f32> = (0..cols)
            .map(|j| {
                let u = 0.5 + (j as f32 * 0.618_034).fract();
                let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
                sign * 0.3 * 256.0 / cols as f32 * u
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
            "{cols} columns: {:.0} cells written per update",
            sim.writes().cell_writes as f64 / updates.max(1) as f64
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
