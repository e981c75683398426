//! Training throughput: events per second of a training run on the default
//! chip, with and without a VCD trace (the cost of tracing), for the
//! sequential and pipelined schedules and for a write-heavy rule. Each
//! iteration assembles the simulation, trains 200 steps and evaluates the
//! 359-sample test set (the report), as `aimsim run --steps 200` does.
//!
//! Run: `cargo bench -p aimsim --bench train`. Figures are recorded in
//! docs/performance.md with the machine.

use aimsim::{RunSpec, Simulation, VcdOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const STEPS: u64 = 200;

/// (name, chip overrides, with a VCD).
type Case = (&'static str, Vec<(&'static str, &'static str)>, bool);

/// Trains once; returns the events of training (inference excluded).
fn train_once(spec: &RunSpec, vcd: bool) -> u64 {
    let mut sim = Simulation::new(spec).unwrap();
    if vcd {
        sim.attach_vcd(Box::new(std::io::sink()), &VcdOptions::default())
            .unwrap();
    }
    sim.run(&mut |_, _| {}).unwrap();
    let events = sim.chip().events();
    sim.report().unwrap();
    events
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_200_steps");
    g.sample_size(10);
    let cases: [Case; 5] = [
        ("eapu_sequential", vec![], false),
        ("eapu_sequential_vcd", vec![], true),
        (
            "eapu_pipelined",
            vec![("chip.engine.schedule", "pipelined")],
            false,
        ),
        ("bp_sequential", vec![("chip.rule.name", "bp")], false),
        ("bp_sequential_vcd", vec![("chip.rule.name", "bp")], true),
    ];
    for (name, over, vcd) in cases {
        let mut b = RunSpec::builder().steps(STEPS);
        for (p, v) in over {
            b = b.set(p, v);
        }
        let spec = b.build().unwrap();
        let events = train_once(&spec, vcd);
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| b.iter(|| train_once(&spec, vcd)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
