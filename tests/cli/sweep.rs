//! End-to-end tests of `aimsim sweep`: SIGKILL and resume, bad specs,
//! merge of incomplete or overlapping shards, and the example specs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn aimsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("aimsim runs")
}

fn ok(args: &[&str]) -> Output {
    let o = aimsim(args);
    assert!(
        o.status.success(),
        "aimsim {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// 8 points of a few hundred steps: long enough to be killed midway.
const SPEC: &str = r#"{
  "schema": "aimsim.sweep/1",
  "base": { "seed": 5, "steps": 400 },
  "axes": [
    { "path": "chip.adc.bits", "values": [5, 6, 7, 8] },
    { "path": "rule", "values": ["eapu", "bp"] }
  ]
}"#;

fn journal_len(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("points"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_sweep_killed_midway_resumes_to_the_same_files() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("spec.json");
    std::fs::write(&spec, SPEC).unwrap();
    let full = d.path().join("full");
    ok(&["sweep", s(&spec), "--out", s(&full), "--jobs", "2", "-q"]);

    let killed = d.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .args(["sweep", s(&spec), "--out", s(&killed), "--jobs", "1", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while journal_len(&killed) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no point finished"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = journal_len(&killed);
    assert!((2..8).contains(&done), "killed after {done} of 8 points");
    // What a kill leaves is a prefix of the final files.
    for f in ["results.jsonl", "results.csv"] {
        let part = read(&killed.join(f));
        assert!(
            read(&full.join(f)).starts_with(&part),
            "{f} is not a prefix"
        );
    }
    let o = ok(&["sweep", s(&spec), "--out", s(&killed), "--jobs", "2"]);
    let msg = String::from_utf8_lossy(&o.stdout);
    assert!(
        msg.contains(&format!("({done} resumed, {} run", 8 - done)),
        "{msg}"
    );
    for f in ["results.jsonl", "results.csv", "sweep.json"] {
        assert!(
            read(&killed.join(f)) == read(&full.join(f)),
            "{f} differs after resume"
        );
    }
}

#[test]
fn a_bad_spec_exits_2_naming_the_axis_before_any_point_runs() {
    let d = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"path": "chip.adc.nope", "values": [4]}"#,
            "axes[0] (chip.adc.nope)",
        ),
        (
            r#"{"path": "warp.speed", "values": [4]}"#,
            "axes[0] (warp.speed)",
        ),
        (
            r#"{"path": "chip.adc.bits", "values": []}"#,
            "axes[0] (chip.adc.bits)",
        ),
        (
            r#"{"path": "chip.adc.bits", "values": ["eight"]}"#,
            "axes[0] (chip.adc.bits)",
        ),
        (r#"{"path": "rule", "values": [1]}"#, "axes[0] (rule)"),
    ];
    for (i, (axis, want)) in cases.iter().enumerate() {
        let spec = d.path().join(format!("bad{i}.json"));
        std::fs::write(
            &spec,
            format!(r#"{{"schema": "aimsim.sweep/1", "base": {{"steps": 5}}, "axes": [{axis}]}}"#),
        )
        .unwrap();
        let out = d.path().join(format!("out{i}"));
        let o = aimsim(&["sweep", s(&spec), "--out", s(&out)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{axis}: {err}");
        assert!(
            err.contains(want) && err.contains(s(&spec)),
            "{axis}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "{axis}: the sweep started");
    }
}

#[test]
fn merge_of_shards_equals_the_run_and_names_a_missing_or_duplicate_point() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("spec.json");
    std::fs::write(
        &spec,
        r#"{"schema": "aimsim.sweep/1", "base": {"steps": 20},
            "axes": [{"path": "rule", "values": ["eapu", "bp", "ideal"]}]}"#,
    )
    .unwrap();
    let full = d.path().join("full");
    ok(&["sweep", s(&spec), "--out", s(&full), "-q"]);
    let shards: Vec<PathBuf> = (1..=3).map(|k| d.path().join(format!("s{k}"))).collect();
    for (k, dir) in shards.iter().enumerate().take(2) {
        let shard = format!("{}/3", k + 1);
        ok(&["sweep", s(&spec), "--out", s(dir), "--shard", &shard, "-q"]);
    }
    // Inside a job array the shard comes from the environment.
    let o = Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .args(["sweep", s(&spec), "--out", s(&shards[2]), "-q"])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(read(&shards[2].join("sweep.json")).contains("\"shard\": \"3/3\""));
    let m = d.path().join("merged");
    ok(&[
        "sweep",
        "merge",
        s(&shards[0]),
        s(&shards[1]),
        s(&shards[2]),
        "--out",
        s(&m),
    ]);
    for f in ["results.jsonl", "results.csv"] {
        assert!(
            read(&m.join(f)) == read(&full.join(f)),
            "{f}: merged differs"
        );
    }
    let o = aimsim(&[
        "sweep",
        "merge",
        s(&shards[0]),
        s(&shards[2]),
        "--out",
        s(&d.path().join("m2")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("point 1 (rule=bp rep=0) is missing"), "{err}");
    let o = aimsim(&[
        "sweep",
        "merge",
        s(&shards[0]),
        s(&shards[1]),
        s(&shards[2]),
        s(&shards[1]),
        "--out",
        s(&d.path().join("m3")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("point 1 (rule=bp rep=0) appears 2 times"),
        "{err}"
    );
}

#[test]
fn slurm_writes_an_array_and_a_dependent_merge() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("cluster");
    let o = ok(&[
        "sweep",
        "slurm",
        "sweeps/adc-rule.sweep.json",
        "--array",
        "4",
        "--out",
        s(&out),
        "--partition",
        "debug",
        "--time",
        "00:05:00",
        "--cpus",
        "2",
    ]);
    let msg = String::from_utf8_lossy(&o.stdout);
    assert!(
        msg.contains("sbatch --parsable") && msg.contains("--dependency=afterok:"),
        "{msg}"
    );
    let script = read(&out.join("sweep.sbatch"));
    for want in [
        "#SBATCH --array=0-3",
        "#SBATCH --partition=debug",
        "#SBATCH --cpus-per-task=2",
        "sweep ",
    ] {
        assert!(script.contains(want), "{want}: {script}");
    }
    assert!(read(&out.join("merge.sbatch")).contains("sweep merge"));
    let o = aimsim(&[
        "sweep",
        "slurm",
        "sweeps/adc-rule.sweep.json",
        "--array",
        "0",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Every example spec in sweeps/ runs, and its report is written.
#[test]
fn example_sweeps_run_and_report() {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root().join("sweeps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    specs.sort();
    assert!(!specs.is_empty());
    for spec in specs {
        let d = tempfile::tempdir().unwrap();
        ok(&["sweep", s(&spec), "--out", s(d.path()), "-q"]);
        let csv = read(&d.path().join("results.csv"));
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(!rows.is_empty(), "{}", spec.display());
        assert!(
            rows.iter().all(|r| r.ends_with(',')),
            "{}: a point failed:\n{csv}",
            spec.display()
        );
        ok(&["sweep", "report", s(d.path())]);
        assert!(read(&d.path().join("report.md")).contains("Pareto front"));
        assert!(read(&d.path().join("pareto-energy.svg")).starts_with("<svg"));
    }
}
