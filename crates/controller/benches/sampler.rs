//! EaPU's decisions on one rank-1 request, drawn by the sparse sampler
//! (`sample_eapu_rank1`), by the blocked sampler the engine uses on the
//! units charged dense work (`sample_eapu_rank1_blocked`) and by the dense rule (`Eapu::decide` on the
//! formed requests), as the tile's columns double at a fixed expected
//! number of writes: 64 rows, 256 … 4096 weight columns, `δ_j = 0.3 ·
//! 256 / cols`, `x_i = 0.5`, `η r_wg = 0.8 µS`, ΔG_th = 2 µS, so every
//! cell's probability halves as the columns double and the expected
//! writes stay 64 · 256 · 0.3 · 0.5 · 0.8 / 2 ≈ 983 per call. The
//! sampler's time should stay flat (it grows with the candidates drawn);
//! the dense rule's grows with the cells. Throughput is in cells of the
//! tile per second. Figures are recorded in `docs/performance.md`.
//!
//! Run: `cargo bench -p aimsim-controller --bench sampler`

use aimsim_controller::{
    sample_eapu_rank1, sample_eapu_rank1_blocked, BlockedScratch, Eapu, RuleContext, RuleInput,
    UpdateRule,
};
use aimsim_core::stream;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

const ROWS: usize = 64;
const SCALE: f32 = -0.01;
const R_WG_US: f32 = 80.0;
const TH_US: f32 = 2.0;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("eapu_decisions_fixed_writes");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let x = vec![0.5f32; ROWS];
    for cols in [256usize, 512, 1024, 2048, 4096] {
        let delta = vec![0.3 * 256.0 / cols as f32; cols];
        g.throughput(Throughput::Elements((ROWS * cols) as u64));
        let mut rng = stream(1, "bench/sampler");
        let mut out = Vec::with_capacity(4096);
        g.bench_with_input(BenchmarkId::new("sparse-sampler", cols), &cols, |b, _| {
            b.iter(|| {
                out.clear();
                sample_eapu_rank1(&x, &delta, SCALE, R_WG_US, TH_US, &mut rng, &mut out)
            })
        });
        let mut scratch = BlockedScratch::default();
        g.bench_with_input(BenchmarkId::new("blocked-sampler", cols), &cols, |b, _| {
            b.iter(|| {
                out.clear();
                sample_eapu_rank1_blocked(
                    &x,
                    &delta,
                    SCALE,
                    R_WG_US,
                    TH_US,
                    &mut rng,
                    &mut scratch,
                    &mut out,
                )
            })
        });
        // The dense path: form every request (the MAC array), then decide.
        let mut rule = Eapu {
            threshold_us: TH_US,
        };
        let mut req = vec![0.0f32; ROWS * cols];
        let mut dec = vec![0.0f32; ROWS * cols];
        let mut rng = stream(1, "bench/dense");
        g.bench_with_input(BenchmarkId::new("dense-rule", cols), &cols, |b, _| {
            b.iter(|| {
                for (row, &xi) in req.chunks_exact_mut(cols).zip(&x) {
                    let k = SCALE * xi * R_WG_US;
                    row.iter_mut().zip(&delta).for_each(|(q, &d)| *q = k * d);
                }
                let input = RuleInput {
                    tile: 0,
                    rows: ROWS,
                    cols,
                    requested_us: &req,
                    factors: None,
                };
                let mut ctx = RuleContext::new(&mut rng);
                rule.decide(&input, &mut dec, &mut ctx);
                ctx.costs()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
