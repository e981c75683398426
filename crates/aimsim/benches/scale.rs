//! Training samples per second on network files, with full accounting
//! (events, energy ledger, write counters) and EaPU: the default
//! `digits-mlp` (its first 1,000 steps and its whole default epoch, and
//! at batch 32), `digits-cnn` at batch 1 and 32 (its network file's
//! batch), and `mlp-256-1024-1024-10` on synthetic
//! data at batch 1 and 32 (over 3 and over 30 steps) on 1 and 2
//! threads. Each iteration trains a fresh simulation for a fixed
//! number of steps after `WARMUP` untimed ones, as
//! `scripts/aihwkit_bench.py` times aihwkit (assembly, the warm-up —
//! the tiles' read caches are built at their first read — the test-set
//! inference of the report and dropping the simulation are not timed:
//! criterion drops what a timed routine returns after its clock stops).
//!
//! A second group, `place_and_step`, is the 10⁶ → 10⁸-cell scaling
//! series (placing a chip and 2 training steps; the 10⁸ point with
//! `AIMSIM_BENCH_1E8=1`); a third, `chip_samples`, `digits-mlp` on the
//! built-in relaxing (`fefet-hzo`) and binary STT-MRAM chips.
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

/// Untimed steps before the timed ones (`scripts/aihwkit_bench.py`'s
/// default `--warmup`).
const WARMUP: u64 = 3;

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
    let cases: [Case; 11] = [
        ("digits-mlp_b1", "digits-mlp", 1, 1000, 1),
        // The whole default run (one epoch, 11,504 steps with the warm-up):
        // late steps write less than the first thousand.
        ("digits-mlp_b1_epoch", "digits-mlp", 1, 11_501, 1),
        ("digits-cnn_b1", "digits-cnn", 1, 200, 1),
        ("digits-cnn_b32", "digits-cnn", 32, 60, 1),
        ("mlp-256-1024-1024-10_b1_t1", BIG, 1, 30, 1),
        ("mlp-256-1024-1024-10_b1_t2", BIG, 1, 30, 2),
        ("mlp-256-1024-1024-10_b32_t1", BIG, 32, 3, 1),
        ("mlp-256-1024-1024-10_b32_t2", BIG, 32, 3, 2),
        // Thirty steps: a longer window, less of it spent in an
        // iteration's first steps, where 2 threads lose more.
        ("mlp-256-1024-1024-10_b32_30_t1", BIG, 32, 30, 1),
        ("mlp-256-1024-1024-10_b32_30_t2", BIG, 32, 30, 2),
        ("digits-mlp_b32", "digits-mlp", 32, 60, 1),
    ];
    let mut g = c.benchmark_group("train_samples");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, workload, batch, steps, threads) in cases {
        let spec = spec(workload, batch, WARMUP + steps);
        g.throughput(Throughput::Elements(steps * u64::from(batch)));
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut sim = Simulation::new(&spec).expect("simulation");
                    sim.set_threads(threads).expect("threads");
                    sim.step(WARMUP).expect("warm-up steps");
                    sim
                },
                |mut sim| {
                    sim.step(steps).expect("steps");
                    sim
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// The 10⁶ → 10⁸-cell scaling series of `scripts/scaling.sh` as a bench:
/// N-N-10 dense networks on synthetic data (`2·(N² + 10N)` cells), each
/// iteration placing the chip (`Simulation::new`) and training 2 steps.
/// The 10⁸-cell point (N = 7071, ≈ 1.5 GiB, seconds per iteration) runs
/// only with `AIMSIM_BENCH_1E8=1`; peak memory is measured by the script.
fn scaling(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut sizes = vec![707usize, 2236];
    if std::env::var_os("AIMSIM_BENCH_1E8").is_some() {
        sizes.push(7071);
    }
    let mut g = c.benchmark_group("place_and_step");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for n in sizes {
        let file = dir.path().join(format!("n{n}.network.json"));
        let net = format!(
            r#"{{"schema": "aimsim.network/1", "name": "mlp-{n}-{n}-10", "input": [{n}],
  "data": {{"synthetic": {{"train": 64, "test": 8, "classes": 10, "seed": 1}}}},
  "layers": [{{"kind": "dense", "outputs": {n}, "activation": "tanh"}}, {{"kind": "dense", "outputs": 10}}],
  "loss": "cross_entropy", "metric": "accuracy"}}"#
        );
        std::fs::write(&file, net).expect("network file");
        let spec = RunSpec::builder()
            .steps(2)
            .network(file.to_str().expect("utf-8 path"))
            .build()
            .expect("valid spec");
        let cells = 2 * (n * n + 10 * n) as u64;
        g.throughput(Throughput::Elements(cells));
        g.bench_function(format!("cells_{cells}"), |b| {
            b.iter(|| {
                let mut sim = Simulation::new(&spec).expect("simulation");
                sim.step(2).expect("steps")
            })
        });
    }
    g.finish();
}

/// `digits-mlp` at batch 1 on the built-in chips whose devices cost more
/// per step than the default's: `fefet-hzo` (cells that relax, so every
/// read moves the whole array with the clock) and `stt-mram-pmtj` (binary
/// junctions, each EaPU write a pulse whose current is solved for its
/// switching probability). Each iteration trains a fresh simulation, as
/// `train_samples` does.
fn chips(c: &mut Criterion) {
    let mut g = c.benchmark_group("chip_samples");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, chip, steps) in [
        ("digits-mlp_fefet-hzo", "fefet-hzo", 300u64),
        ("digits-mlp_stt-mram-pmtj", "stt-mram-pmtj", 300),
    ] {
        let spec = RunSpec::builder()
            .steps(WARMUP + steps)
            .chip(chip)
            .workload("digits-mlp")
            .build()
            .expect("valid spec");
        g.throughput(Throughput::Elements(steps));
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut sim = Simulation::new(&spec).expect("simulation");
                    sim.step(WARMUP).expect("warm-up steps");
                    sim
                },
                |mut sim| {
                    sim.step(steps).expect("steps");
                    sim
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench, scaling, chips);
criterion_main!(benches);
