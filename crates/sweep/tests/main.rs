//! Integration tests of aimsim-sweep through its public API: the files of
//! a sweep do not depend on the thread count, on sharding and merging, or
//! on resuming from a journal; merge names a missing or duplicated point.

use aimsim_sweep::{
    merge, run_sweep, write_report, Plan, RunOptions, Shard, SweepError, SweepSpec,
};
use std::path::Path;

/// 6 short points over two axes and two seeds.
const SPEC: &str = r#"{
  "schema": "aimsim.sweep/1",
  "base": { "seed": 3, "steps": 40 },
  "axes": [
    { "path": "chip.adc.bits", "values": [6, 8] },
    { "path": "rule", "values": ["eapu", "bp"] }
  ],
  "seeds": 2,
  "metrics": ["workload.metric.value", "energy_pj.total", "writes.cell_writes"]
}"#;

fn plan() -> Plan {
    Plan::new(SweepSpec::parse("test.json", SPEC).unwrap()).unwrap()
}

fn run(plan: &Plan, dir: &Path, jobs: usize, shard: Shard) {
    let opts = RunOptions {
        out: dir.to_path_buf(),
        jobs,
        shard,
    };
    run_sweep(plan, &opts, &|_| {}).unwrap();
}

/// Compares the result files of two sweep folders, naming the first
/// differing line.
fn assert_same_files(a: &Path, b: &Path) {
    for name in ["results.jsonl", "results.csv", "sweep.json"] {
        let x = std::fs::read_to_string(a.join(name)).unwrap();
        let y = std::fs::read_to_string(b.join(name)).unwrap();
        if let Some((i, (l, r))) = x
            .lines()
            .zip(y.lines())
            .enumerate()
            .find(|(_, (l, r))| l != r)
        {
            panic!("{name} differs at line {}:\n{l}\n{r}", i + 1);
        }
        assert_eq!(x.len(), y.len(), "{name}: lengths differ");
    }
}

#[test]
fn threads_shards_and_resume_give_the_same_files() {
    let plan = plan();
    assert_eq!(plan.points.len(), 8);
    let d = tempfile::tempdir().unwrap();
    let one = d.path().join("one");
    run(&plan, &one, 1, Shard::ALL);
    let csv = std::fs::read_to_string(one.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9, "{csv}");
    assert!(!csv.contains("error:"), "{csv}");

    let three = d.path().join("three");
    run(&plan, &three, 3, Shard::ALL);
    assert_same_files(&one, &three);

    let shards: Vec<_> = (1..=3).map(|k| d.path().join(format!("s{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        run(
            &plan,
            dir,
            2,
            Shard {
                index: k + 1,
                count: 3,
            },
        );
    }
    let merged = d.path().join("merged");
    assert_eq!(merge(&shards, &merged).unwrap(), 8);
    assert_same_files(&one, &merged);

    // Resume from a journal with points missing and result files cut short
    // (what a kill leaves): the same files again, only the missing points run.
    let res = d.path().join("resume");
    run(&plan, &res, 2, Shard::ALL);
    let mut journal: Vec<_> = std::fs::read_dir(res.join("points"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    journal.sort();
    for p in &journal[..3] {
        std::fs::remove_file(p).unwrap();
    }
    std::fs::write(res.join("results.jsonl"), "").unwrap();
    std::fs::write(res.join("points/half-written.json.partial"), "{").unwrap();
    // (More jobs than points left: one worker per point.)
    let resume = |jobs| {
        let opts = RunOptions {
            out: res.clone(),
            jobs,
            shard: Shard::ALL,
        };
        run_sweep(&plan, &opts, &|_| {}).unwrap()
    };
    let summary = resume(8);
    assert_eq!((summary.resumed, summary.ran, summary.threads), (5, 3, 3));
    assert!(!res.join("points/half-written.json.partial").exists());
    assert_same_files(&one, &res);
    // Nothing left to run: one worker, which finds nothing.
    let summary = resume(4);
    assert_eq!((summary.resumed, summary.ran, summary.threads), (8, 0, 1));
    assert_same_files(&one, &res);

    let files = write_report(&one).unwrap();
    assert!(files.plots.iter().any(|p| p.ends_with("pareto-energy.svg")));
    let md = std::fs::read_to_string(files.markdown).unwrap();
    assert!(
        md.contains("Pareto front: energy vs accuracy") && md.contains("`rule`"),
        "{md}"
    );
}

#[test]
fn merge_names_a_missing_or_duplicated_point_and_a_folder_of_another_sweep() {
    let plan = plan();
    let d = tempfile::tempdir().unwrap();
    let s: Vec<_> = (1..=2).map(|k| d.path().join(format!("s{k}"))).collect();
    for (k, dir) in s.iter().enumerate() {
        run(
            &plan,
            dir,
            1,
            Shard {
                index: k + 1,
                count: 2,
            },
        );
    }
    let e = merge(&s[..1], &d.path().join("m1")).unwrap_err();
    assert!(matches!(e, SweepError::Merge(_)) && e.is_bad_input(), "{e}");
    assert!(
        e.to_string()
            .contains("point 1 (chip.adc.bits=6 rule=eapu rep=1) is missing"),
        "{e}"
    );
    assert!(
        !d.path().join("m1").exists(),
        "nothing written on a failed merge"
    );
    let e = merge(
        &[s[0].clone(), s[1].clone(), s[1].clone()],
        &d.path().join("m2"),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("point 1 (chip.adc.bits=6 rule=eapu rep=1) appears 2 times"),
        "{e}"
    );
    // Too many jobs are refused before the folder is touched.
    let fresh = d.path().join("too-many-jobs");
    let e = run_sweep(
        &plan,
        &RunOptions {
            out: fresh.clone(),
            jobs: aimsim::engine::MAX_THREADS + 1,
            shard: Shard::ALL,
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(
        e.is_bad_input() && e.to_string().contains("--jobs 1025: expected 1 to 1024"),
        "{e}"
    );
    assert!(!fresh.exists());
    // A folder must not be reused for another sweep or shard.
    let e = run_sweep(
        &plan,
        &RunOptions {
            out: s[0].clone(),
            jobs: 1,
            shard: Shard::ALL,
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("another sweep") || e.to_string().contains("holds shard"),
        "{e}"
    );
}

#[test]
fn random_and_latin_hypercube_plans_are_reproducible() {
    for kind in ["random", "latin-hypercube"] {
        let spec = format!(
            r#"{{"schema":"aimsim.sweep/1","base":{{"steps":10}},
                "axes":[{{"path":"train.lr","range":{{"from":0.001,"to":0.1,"log":true}}}},
                        {{"path":"chip.adc.bits","range":{{"from":4,"to":8,"integer":true}}}}],
                "sample":{{"kind":"{kind}","points":7}}}}"#
        );
        let a = Plan::new(SweepSpec::parse("t.json", &spec).unwrap()).unwrap();
        let b = Plan::new(SweepSpec::parse("t.json", &spec).unwrap()).unwrap();
        assert_eq!(a.points.len(), 7);
        for (p, q) in a.points.iter().zip(&b.points) {
            assert_eq!((&p.key, &p.hash), (&q.key, &q.hash));
            let lr = p.axes[0].1.as_f64().unwrap();
            assert!((0.001..=0.1).contains(&lr), "{kind}: {}", p.key);
            assert!(p.axes[1].1.is_i64(), "{kind}: {}", p.key);
        }
        assert!(
            a.points[0].key.starts_with("sample=0 "),
            "{}",
            a.points[0].key
        );
    }
}

#[test]
fn a_failed_point_is_an_error_row_and_the_sweep_goes_on() {
    let mut plan = plan();
    // A run spec that resolution would have refused: the point fails when it runs.
    plan.points[1].spec.rule = Some("no-such-rule".into());
    let d = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: d.path().to_path_buf(),
        jobs: 2,
        shard: Shard::ALL,
    };
    let summary = run_sweep(&plan, &opts, &|_| {}).unwrap();
    assert_eq!((summary.points, summary.failed), (8, 1));
    let jsonl = std::fs::read_to_string(d.path().join("results.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 8);
    assert!(
        rows[1]["error"].as_str().unwrap().contains("no-such-rule"),
        "{}",
        rows[1]
    );
    assert!(rows[1].get("report").is_none());
    assert!(rows
        .iter()
        .enumerate()
        .all(|(i, r)| i == 1 || r["report"]["schema"] == "aimsim.report/1"));
    let csv = std::fs::read_to_string(d.path().join("results.csv")).unwrap();
    let line = csv.lines().nth(2).unwrap();
    assert!(
        line.starts_with("1,") && line.contains("no-such-rule"),
        "{line}"
    );
    // Resuming keeps the error row as a finished point.
    let again = run_sweep(&plan, &opts, &|_| {}).unwrap();
    assert_eq!((again.resumed, again.ran, again.failed), (8, 0, 1));
    assert_eq!(
        std::fs::read_to_string(d.path().join("results.jsonl")).unwrap(),
        jsonl
    );
}
