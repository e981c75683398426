//! Training samples per second on network files, with full accounting
//! (events, energy ledger, write counters) and EaPU: the default
//! `digits-mlp` and `digits-cnn` at batch 1, and `mlp-256-1024-1024-10` on
//! synthetic data at batch 1 and 32 on 1 and 2 threads. Each iteration
//! trains a fresh simulation (assembly not timed) for a fixed number of
//! steps; the test-set inference of the report is not included.
//!
//! Run: `cargo bench -p aimsim --bench scale`. Figures are recorded in
//! docs/performance.md beside aihwkit's (`scripts/aihwkit_bench.py`).

use aimsim::{RunSpec, Simulation};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

/// (name, network file or built-in workload, batch, steps, threads).
type Case = (&'static str, &'static str, u32, u64, usize);

const BIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../networks/mlp-256-1024-1024-10.network.json"
);

fn spec(workload: &str, batch: u32, steps: u64) -> RunSpec {
    let b = RunSpec::builder()
        .steps(steps)
        .set("train.batch", batch.to_string());
    let b = if workload.ends_with(".json") {
        b.network(workload)
    } else {
        b.workload(workload)
    };
    b.build().expect("valid spec")
}

fn bench(c: &mut Criterion) {
    let cases: [Case; 7] = [
        ("digits-mlp_b1", "digits-mlp", 1, 1000, 1),
        ("digits-cnn_b1", "digits-cnn", 1, 200, 1),
        ("mlp-256-1024-1024-10_b1_t1", BIG, 1, 30, 1),
        ("mlp-256-1024-1024-10_b1_t2", BIG, 1, 30, 2),
        ("mlp-256-1024-1024-10_b32_t1", BIG, 32, 3, 1),
        ("mlp-256-1024-1024-10_b32_t2", BIG, 32, 3, 2),
        ("digits-mlp_b32", "digits-mlp", 32, 60, 1),
    ];
    let mut g = c.benchmark_group("train_samples");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, workload, batch, steps, threads) in cases {
        let spec = spec(workload, batch, steps);
        g.throughput(Throughput::Elements(steps * u64::from(batch)));
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut sim = Simulation::new(&spec).expect("simulation");
                    sim.set_threads(threads).expect("threads");
                    sim
                },
                |mut sim| sim.step(steps).expect("steps"),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
