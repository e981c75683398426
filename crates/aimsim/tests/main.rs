//! Library tests of the facade: runs built with the builder alone, reports
//! read back, the event engine against the fixed-step reference, stepping.

mod fuzz;

use aimsim::{Report, RunSpec, Simulation};
use aimsim_energy::Phase;

/// A full report, and the energy rows, as text.
fn run_text(spec: &RunSpec, reference: bool) -> String {
    let mut sim = Simulation::new(spec).unwrap();
    if reference {
        sim.use_fixed_step_reference();
    }
    sim.run(&mut |_, _| {}).unwrap();
    let mut s = serde_json::to_string_pretty(sim.report().unwrap()).unwrap();
    for r in sim.energy_rows() {
        s.push_str(&r.fields().join(","));
    }
    s
}

/// The event engine and the naive fixed-step reference agree exactly:
/// cycles, energies (every component and phase), writes, timing breakdown,
/// accuracy and inference, for both schedules, with and without a
/// chip-wide write budget, with every device rule and with `ideal`.
#[test]
fn event_engine_matches_fixed_step_reference() {
    let configs: &[(&[(&str, &str)], &str)] = &[
        (&[], "eapu"),
        (&[("engine.schedule", "\"pipelined\"")], "eapu"),
        (
            &[
                ("engine.write_budget_cells", "40"),
                ("driver.max_parallel", "16"),
            ],
            "bp",
        ),
        (
            &[
                ("engine.schedule", "\"pipelined\""),
                ("engine.write_budget_cells", "24"),
                ("adc.adcs_per_tile", "3"),
            ],
            "bp",
        ),
        (&[("adc.kind", "\"flash\"")], "ideal"),
        (
            &[
                ("dac.encoding", "\"bit-serial\""),
                ("adc.calibration_reads", "4"),
                ("sense.noise_ua", "0.5"),
            ],
            "eapu",
        ),
        (&[("engine.write_budget_cells", "20")], "stochastic-pulse"),
        (&[("engine.schedule", "\"pipelined\"")], "mixed-precision"),
        (
            &[
                ("engine.schedule", "\"pipelined\""),
                ("engine.write_budget_cells", "64"),
            ],
            "write-verify",
        ),
    ];
    for (over, rule) in configs {
        let mut b = RunSpec::builder()
            .rule(*rule)
            .steps(12)
            .trace_every(7)
            .seed(5);
        for (p, v) in *over {
            b = b.set(format!("chip.{p}"), *v);
        }
        let spec = b.build().unwrap();
        let ev = run_text(&spec, false);
        let fs = run_text(&spec, true);
        assert_eq!(ev, fs, "{over:?} {rule}");
    }
}

/// A simulation built with the builder alone (no `--set` strings), run,
/// written, and its report read back from JSON equal to the original.
#[test]
fn builder_run_and_report_read_back() {
    let spec = RunSpec::builder()
        .chip("eapu-180nm-lowres")
        .rule("bp")
        .steps(30)
        .trace_every(10)
        .lr(0.01)
        .seed(4)
        .build()
        .unwrap();
    let mut sim = Simulation::new(&spec).unwrap();
    assert_eq!(sim.total_steps(), 30);
    let dir = tempfile::tempdir().unwrap();
    sim.run(&mut |_, _| {}).unwrap();
    sim.write_outputs(dir.path()).unwrap();
    let report = sim.report().unwrap().clone();
    assert_eq!(report.rule, "bp");
    assert_eq!(report.algorithm, "backprop");
    assert_eq!(report.chip, "eapu-180nm-lowres");
    assert_eq!(report.workload.steps, 30);
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let back = Report::from_json("report.json", &text).unwrap();
    assert_eq!(back, report);
    let energy = std::fs::read_to_string(dir.path().join("energy.csv")).unwrap();
    assert_eq!(energy.lines().count(), 1 + 3, "header + rows at 10, 20, 30");
    assert!(energy.starts_with("step,dac_pj,"));
    // bp writes every cell whose quantised gradient is non-zero (on this
    // 4-bit chip ~7 % of cells per step; EaPU writes well under 1 %).
    assert!(
        report.writes.update_fraction > 0.05,
        "{}",
        report.writes.update_fraction
    );
    let e = Report::from_json("r.json", "{\"schema\": 3}").unwrap_err();
    assert!(
        e.to_string().contains("r.json") && e.to_string().contains("schema"),
        "{e}"
    );
}

/// Inference is charged to its own ledger: the training ledger has no
/// `inference` phase, the report's inference section is the inference
/// ledger per test sample, and training's time excludes it.
#[test]
fn inference_has_its_own_ledger() {
    let spec = RunSpec::builder().steps(20).build().unwrap();
    let mut sim = Simulation::new(&spec).unwrap();
    sim.run(&mut |_, _| {}).unwrap();
    let before = sim.chip().ledger().total_pj();
    let t_train = sim.chip().now();
    let r = sim.report().unwrap().clone();
    assert_eq!(r.energy_pj.total, before, "training's ledger untouched");
    assert!(!r.energy_pj.by_phase.contains_key("inference"));
    assert_eq!(r.time.seconds, t_train.seconds());
    let inf = sim.inference_ledger().unwrap();
    assert_eq!(inf.phases(), [Phase::INFERENCE]);
    let n = r.inference.samples as f64;
    assert_eq!(n, 359.0);
    assert!((r.inference.energy_pj_per_sample * n - inf.total_pj()).abs() < 1e-6 * inf.total_pj());
    let parts: f64 = r.inference.by_component.values().sum();
    assert!((parts - r.inference.energy_pj_per_sample).abs() < 1e-9 * parts);
    assert_eq!(r.inference.by_component["array_write"], 0.0);
    assert!(r.inference.seconds_per_sample > 0.0);
    assert!(
        sim.chip().now() > t_train,
        "the clock ran on through inference"
    );
    assert!(sim.step(1).is_err(), "no steps after the report");
}

/// Stepping in pieces gives the same bits as one run, and the ledger can be
/// read between steps.
#[test]
fn stepping_in_pieces_equals_one_run() {
    let spec = RunSpec::builder().steps(50).seed(2).build().unwrap();
    let whole = run_text(&spec, false);
    let mut sim = Simulation::new(&spec).unwrap();
    let mut last = 0.0;
    let mut done = 0;
    while done < 50 {
        done += sim.step(7).unwrap();
        let e = sim.chip().ledger().total_pj();
        assert!(e > last, "energy grows every step");
        last = e;
    }
    assert_eq!(sim.step(7).unwrap(), 0, "no steps past the end");
    let mut s = serde_json::to_string_pretty(sim.report().unwrap()).unwrap();
    for r in sim.energy_rows() {
        s.push_str(&r.fields().join(","));
    }
    assert_eq!(s, whole);
}

/// Trace rows spilled to temporary files during the run give the same
/// files as rows kept in memory.
#[test]
fn spilled_trace_rows_write_the_same_files() {
    let spec = RunSpec::builder()
        .steps(45)
        .trace_every(4)
        .seed(6)
        .build()
        .unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut kept = Simulation::new(&spec).unwrap();
    kept.run(&mut |_, _| {}).unwrap();
    kept.write_outputs(a.path()).unwrap();
    let mut spilled = Simulation::new(&spec).unwrap();
    spilled.spill_trace_rows().unwrap();
    spilled.run(&mut |_, _| {}).unwrap();
    assert!(spilled.energy_rows().is_empty(), "rows went to files");
    spilled.write_outputs(b.path()).unwrap();
    for f in aimsim::OUTPUT_FILES {
        let x = std::fs::read(a.path().join(f)).unwrap();
        let y = std::fs::read(b.path().join(f)).unwrap();
        assert!(x == y, "{f} differs");
    }
    let energy = std::fs::read_to_string(b.path().join("energy.csv")).unwrap();
    assert_eq!(
        energy.lines().count(),
        1 + 12,
        "header + rows at 4, 8, …, 44, 45"
    );
}

/// With threads, the training steps run on one of the chip's pool threads
/// (the caller's serial work then shares the pool's cores instead of
/// waiting beside them: docs/performance.md, "Threads"); without, on the
/// caller's own thread.
#[test]
fn steps_run_on_the_chip_pool_with_threads() {
    let spec = RunSpec::builder().steps(2).seed(3).build().unwrap();
    for threads in [1, 2] {
        let mut sim = Simulation::new(&spec).unwrap();
        sim.set_threads(threads).unwrap();
        let mut names = Vec::new();
        let mut progress = |_, _| names.push(std::thread::current().name().map(String::from));
        sim.step_with_progress(2, &mut progress).unwrap();
        assert_eq!(names.len(), 2);
        let on_pool = names
            .iter()
            .all(|n| n.as_deref().is_some_and(|n| n.starts_with("aimsim-tile-")));
        assert_eq!(
            on_pool,
            threads > 1,
            "{threads} threads: steps ran on {names:?}"
        );
    }
}

/// Runs on 1 and 2 threads give the same bits step by step (ledger total,
/// time, events and write counts after every step) and the same report, for a
/// dense network at batch 4, a convolutional one, and runs whose write
/// phases the pool runs ahead of their events (EaPU, write-verify, and `bp`
/// on relaxing cells).
#[test]
fn same_bits_for_one_and_two_threads() {
    let specs = [
        RunSpec::builder()
            .steps(6)
            .seed(3)
            .set("train.batch", "4")
            .build()
            .unwrap(),
        RunSpec::builder()
            .workload("digits-cnn")
            .steps(4)
            .seed(3)
            .set("train.batch", "2")
            .build()
            .unwrap(),
        // Write phases run ahead on the pool (batch 1, sequential, no
        // budget): with verify reads charged from the pool, with cells
        // that relax between phases, and with every cell written.
        RunSpec::builder().steps(6).seed(3).build().unwrap(),
        RunSpec::builder()
            .rule("write-verify")
            .steps(4)
            .seed(3)
            .build()
            .unwrap(),
        RunSpec::builder()
            .rule("bp")
            .steps(4)
            .seed(3)
            .set("device.relax_rate_per_decade", "0.01")
            .build()
            .unwrap(),
    ];
    for spec in &specs {
        let mut sims: Vec<Simulation> = [1, 2]
            .into_iter()
            .map(|t| {
                let mut sim = Simulation::new(spec).unwrap();
                sim.set_threads(t).unwrap();
                sim
            })
            .collect();
        for step in 0..spec.steps.unwrap() {
            let state: Vec<_> = sims
                .iter_mut()
                .map(|sim| {
                    sim.step(1).unwrap();
                    let c = sim.chip();
                    (
                        c.ledger().total_pj().to_bits(),
                        c.now().ps(),
                        c.events(),
                        format!("{:?}", c.writes()),
                    )
                })
                .collect();
            assert!(
                state[0] == state[1],
                "{:?}: step {step} differs between 1 and 2 threads",
                spec.workload
            );
        }
        let reports: Vec<String> = sims
            .iter_mut()
            .map(|s| serde_json::to_string(s.report().unwrap()).unwrap())
            .collect();
        assert_eq!(reports[0], reports[1]);
    }
}
