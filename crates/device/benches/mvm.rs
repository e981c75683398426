//! Read-kernel speed against the machine's plain single-core `f32`
//! matrix-vector rate.
//!
//! `plain_matvec` is the reference rate: `y += x_r · W[r, :]` over a dense
//! row-major `f32` matrix, the loop a programmer writes, compiled for the
//! baseline target (`baseline`) and with AVX2 (`avx2`, the widest vector
//! unit every x86-64 machine of the project has); its rate is
//! `2 · rows · cols` flops per iteration. `mvm_forward` and
//! `mvm_transposed` are the cell array's reads of the same number of
//! weights (two cells each, read noise on), as a tile performs them;
//! `mvm_forward_batch32_noiseless` the matrix-matrix product of 32 vectors
//! (throughput in weights × vectors per second).
//! Throughput is in weights (multiply-adds) per second.
//!
//! Run: `cargo bench -p aimsim-device --bench mvm`. Figures are recorded in
//! `docs/performance.md`.

use aimsim_core::stream;
use aimsim_device::{builtin_device, CellArray};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// (rows, weight columns): one tile of the default chip, and a large
/// matrix that does not fit the caches.
const SHAPES: [(usize, usize); 2] = [(128, 128), (1024, 1024)];
/// Vectors of the batched read.
const BATCH: usize = 32;

#[inline(always)]
fn matvec_body(w: &[f32], cols: usize, x: &[f32], y: &mut [f32]) {
    y.fill(0.0);
    for (row, &xr) in w.chunks_exact(cols).zip(x) {
        for (o, &wv) in y.iter_mut().zip(row) {
            *o += xr * wv;
        }
    }
}

fn matvec_baseline(w: &[f32], cols: usize, x: &[f32], y: &mut [f32]) {
    matvec_body(w, cols, x, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn matvec_avx2(w: &[f32], cols: usize, x: &[f32], y: &mut [f32]) {
    matvec_body(w, cols, x, y);
}

fn mvm(c: &mut Criterion) {
    let model = builtin_device("eapu-180nm", &[]).expect("built-in device");
    let mut g = c.benchmark_group("mvm");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for (rows, cols) in SHAPES {
        let shape = format!("{rows}x{cols}");
        g.throughput(Throughput::Elements((rows * cols) as u64));
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
            .collect();
        let x: Vec<f32> = (0..rows).map(|i| (i % 17) as f32 * 0.01 + 0.05).collect();
        let mut y = vec![0.0f32; cols];
        g.bench_function(BenchmarkId::new("plain_matvec_baseline", &shape), |b| {
            b.iter(|| matvec_baseline(black_box(&w), cols, black_box(&x), &mut y))
        });
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            g.bench_function(BenchmarkId::new("plain_matvec_avx2", &shape), |b| {
                // SAFETY: AVX2 is present (checked above).
                b.iter(|| unsafe { matvec_avx2(black_box(&w), cols, black_box(&x), &mut y) })
            });
        }
        let mut cells = CellArray::new(&model, rows, cols, &mut stream(1, "bench/cells"));
        cells.set_weights(&model, &w);
        let mut rng = stream(1, "bench/read");
        let v: Vec<f32> = x.iter().map(|xi| 0.2 * xi).collect();
        g.bench_function(BenchmarkId::new("mvm_forward", &shape), |b| {
            b.iter(|| cells.mvm_forward(&model, black_box(&v), &mut y, &mut rng))
        });
        // 32 vectors at once (a mini-batch), noiseless part: weights × vectors per second.
        let vs: Vec<f32> = (0..BATCH).flat_map(|_| v.iter().copied()).collect();
        let mut ys = vec![0.0f32; BATCH * cols];
        let mut scratch = Vec::new();
        g.throughput(Throughput::Elements((rows * cols * BATCH) as u64));
        g.bench_function(
            BenchmarkId::new("mvm_forward_batch32_noiseless", &shape),
            |b| b.iter(|| cells.mvm_forward_batch_noiseless(black_box(&vs), &mut ys, &mut scratch)),
        );
        g.throughput(Throughput::Elements((rows * cols) as u64));
        let vc: Vec<f32> = (0..cols).map(|i| (i % 13) as f32 * 0.01 - 0.06).collect();
        let mut yr = vec![0.0f32; rows];
        g.bench_function(BenchmarkId::new("mvm_transposed", &shape), |b| {
            b.iter(|| cells.mvm_backward(&model, black_box(&vc), &mut yr, &mut rng))
        });
    }
    g.finish();
}

criterion_group!(benches, mvm);
criterion_main!(benches);
