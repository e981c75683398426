//! Engine throughput: events per second of a training run on the default
//! chip, with and without a VCD trace (the cost of tracing), for the
//! sequential and pipelined schedules and for a write-heavy rule.
//!
//! Run: `cargo bench -p aimsim-engine --bench engine`. Figures are recorded
//! in docs/performance.md with the machine.

use aimsim_device::builtin_device;
use aimsim_engine::{run, Chip, RunOptions, Train, VcdOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write;

const STEPS: u64 = 200;

/// (name, chip overrides, with a VCD).
type Case = (&'static str, Vec<(String, String)>, bool);

fn train_once(chip: &Chip, vcd: bool) -> u64 {
    let device = builtin_device("eapu-180nm", &[]).unwrap();
    let train = Train::from_overrides(&[("steps".into(), STEPS.to_string())]).unwrap();
    let opts = VcdOptions::default();
    let sink: Option<(Box<dyn Write>, &VcdOptions)> =
        vcd.then(|| (Box::new(std::io::sink()) as Box<dyn Write>, &opts));
    run(
        RunOptions {
            chip,
            device: &device,
            train: &train,
            seed: 1,
            config_comment: String::new(),
            progress: &mut |_, _| {},
        },
        sink,
    )
    .unwrap()
    .events
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_200_steps");
    g.sample_size(10);
    let cases: [Case; 5] = [
        ("eapu_sequential", vec![], false),
        ("eapu_sequential_vcd", vec![], true),
        (
            "eapu_pipelined",
            vec![("engine.schedule".into(), "\"pipelined\"".into())],
            false,
        ),
        (
            "bp_sequential",
            vec![("rule.name".into(), "\"bp\"".into())],
            false,
        ),
        (
            "bp_sequential_vcd",
            vec![("rule.name".into(), "\"bp\"".into())],
            true,
        ),
    ];
    for (name, over, vcd) in cases {
        let chip = Chip::builtin("eapu-180nm", &over).unwrap();
        let events = train_once(&chip, vcd);
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| b.iter(|| train_once(&chip, vcd)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
