//! Issue 15: never harm the user's files, never panic, never hang. Each
//! test is built from a reproducer of the issue.

use super::{aimsim, bad_input, tmp};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aimsim"))
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Names in `dir`, sorted, hidden ones included.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn huge_energies_and_conductances_exit_2_not_panic() {
    for field in [
        "chip.digital.mac_pj",
        "chip.digital.add_pj",
        "chip.digital.activation_pj",
        "chip.digital.random_bit_pj",
        "chip.digital.sram_read_pj",
        "chip.digital.sram_write_pj",
        "chip.driver.overhead_pj",
        "chip.dac.energy_pj",
        "chip.adc.walden_fom_fj",
        "chip.static_power_mw",
        "chip.driver.line_capacitance_ff",
    ] {
        bad_input(
            &["--steps", "3", "--set", &format!("{field}=1e308")],
            &[field.trim_start_matches("chip."), "1e308"],
        );
    }
    bad_input(
        &["--steps", "3", "--set", "device.g_max_us=1e300"],
        &["g_max_us", "1e300"],
    );
    // The message prints the number compactly, not as 301 digits.
    let o = aimsim(&["run", "-q", "--set", "device.g_max_us=1e300"]);
    assert!(stderr(&o).len() < 300, "{}", stderr(&o));
}

#[test]
fn synth_counts_are_bounded() {
    for flag in ["--devices", "--cycles", "--reads", "--pulses"] {
        let o = aimsim(&["synth", "eapu-180nm", flag, "18446744073709551615"]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(stderr(&o).contains("at most"), "{}", stderr(&o));
    }
    let o = aimsim(&["synth", "eapu-180nm", "--devices", "100000"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A thread count past what the process can start aborted it (a thread
/// that cannot set up its stack guard panics before it runs): `--threads`
/// and `sweep --jobs` are bounded at 1024, refused with status 2 before
/// anything is written.
#[test]
fn thread_counts_are_bounded() {
    let d = tmp();
    let out = d.path().join("out");
    for n in ["1025", "100000", "18446744073709551616", "-1", "two"] {
        let o = aimsim(&[
            "run",
            "-q",
            "--steps",
            "3",
            "--threads",
            n,
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "--threads {n}: {err}");
        // (clap reads `-1` as a flag of its own.)
        let named = err.contains("'--threads <N>': expected a whole number from 0 to 1024");
        assert!(named || (n == "-1" && err.contains("'-1'")), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "--threads {n}: output written");
    }
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sweeps/adc-rule.sweep.json");
    let sweep = d.path().join("sweep");
    for n in ["0", "1025", "100000"] {
        let o = aimsim(&[
            "sweep",
            spec.to_str().unwrap(),
            "-q",
            "--jobs",
            n,
            "--out",
            sweep.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "--jobs {n}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--jobs") && stderr(&o).contains("from 1 to 1024"),
            "{}",
            stderr(&o)
        );
        assert!(!sweep.exists(), "--jobs {n}: sweep folder made");
    }
    // The limit itself runs.
    let o = aimsim(&[
        "run",
        "-q",
        "--steps",
        "2",
        "--threads",
        "1024",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Runs `args` with standard output closed before it writes: it must end
/// quietly (no panic, status 0).
fn closed_stdout(args: &[&str]) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    closed_stdout(&["devices"]);
    closed_stdout(&["synth", "eapu-180nm"]);
    let d = tmp();
    let m = d.path().join("m.json");
    let o = aimsim(&["synth", "eapu-180nm", "-o", m.to_str().unwrap()]);
    assert!(o.status.success());
    closed_stdout(&["calibrate", m.to_str().unwrap()]);
}

#[test]
fn unwritable_outputs_exit_2_before_simulating() {
    let d = tmp();
    let out = d.path().join("out");
    // A run of 10⁹ steps: exit 2 at once proves nothing ran.
    for args in [
        vec!["--out", "/proc/x"],
        vec!["--out", out.to_str().unwrap(), "--vcd", "/proc/x.vcd"],
    ] {
        let mut all = vec!["run", "-q", "--steps", "1000000000"];
        all.extend(args);
        let o = aimsim(&all);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("/proc/x"), "{}", stderr(&o));
    }
    assert!(!out.exists());
}

#[test]
fn links_are_refused_and_devices_written_through() {
    let d = tmp();
    let out = d.path().join("out");
    let target = d.path().join("precious.txt");
    std::fs::write(&target, "keep").unwrap();
    let link = d.path().join("run.vcd");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    bad_input(
        &["--steps", "3", "--vcd", link.to_str().unwrap()],
        &["run.vcd", "symbolic link"],
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    // A link in place of a result file is refused too.
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&target, out.join("report.json")).unwrap();
    let o = aimsim(&["run", "-q", "--steps", "3", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    // A device node is written through and stays a device: /dev/null, and
    // one made in the temp folder where mknod is allowed (root).
    let node = d.path().join("null");
    let made = Command::new("mknod")
        .args([node.to_str().unwrap(), "c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut devices = vec![PathBuf::from("/dev/null")];
    if made {
        devices.push(node);
    }
    for dev in devices {
        let run = d.path().join("devrun");
        let o = aimsim(&[
            "run",
            "-q",
            "--steps",
            "3",
            "--out",
            run.to_str().unwrap(),
            "--vcd",
            dev.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        use std::os::unix::fs::FileTypeExt;
        let t = std::fs::symlink_metadata(&dev).unwrap().file_type();
        assert!(t.is_char_device(), "{} replaced", dev.display());
    }
    // /dev/full is written through and fails naming the VCD, not a temp.
    let out = d.path().join("full");
    let o = aimsim(&[
        "run",
        "-q",
        "--steps",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--vcd",
        "/dev/full",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("/dev/full"), "{}", stderr(&o));
}

#[test]
fn failed_and_refused_runs_leave_no_temp_files() {
    let d = tmp();
    let out = d.path().join("out");
    let vcd = d.path().join("w.vcd");
    let o = aimsim(&[
        "run",
        "-q",
        "--steps",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--vcd",
        vcd.to_str().unwrap(),
        "--vcd-from",
        "5",
        "--vcd-to",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("vcd_to"), "{}", stderr(&o));
    assert_eq!(names(d.path()), Vec::<String>::new());
    // calibrate -o onto a folder: refused, nothing left beside it.
    let m = d.path().join("m.json");
    assert!(aimsim(&["synth", "eapu-180nm", "-o", m.to_str().unwrap()])
        .status
        .success());
    let dir = d.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    let o = aimsim(&[
        "calibrate",
        "-q",
        m.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains(".dir."),
        "names a temp: {}",
        stderr(&o)
    );
    assert_eq!(names(d.path()), ["dir", "m.json"]);
}

#[test]
fn stale_temp_files_are_removed_by_the_next_run() {
    let d = tmp();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // pid 2147483646 is above Linux's pid_max: a process that is gone.
    let stale = out.join(".report.json.2147483646.0.tmp");
    std::fs::write(&stale, "old").unwrap();
    let other = out.join("notes.txt");
    std::fs::write(&other, "mine").unwrap();
    let o = aimsim(&["run", "-q", "--steps", "3", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&out),
        [
            ".aimsim.lock",
            "energy.csv",
            "lifetime.csv",
            "notes.txt",
            "report.json"
        ]
    );
}

#[test]
fn sigterm_and_sigint_remove_temp_files() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let d = tmp();
        let out = d.path().join("out");
        let vcd = d.path().join("w.vcd");
        let mut child = bin()
            .args(["run", "-q", "--steps", "1000000", "--out"])
            .arg(&out)
            .arg("--vcd")
            .arg(&vcd)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while names(d.path()).is_empty() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let during = names(d.path());
        assert!(
            during.len() == 1 && during[0].starts_with(".w.vcd.") && during[0].ends_with(".tmp"),
            "{during:?}"
        );
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{signal}: {status:?}");
        assert_eq!(names(d.path()), Vec::<String>::new(), "SIG{signal}");
    }
}

#[test]
fn builtin_names_win_unless_the_path_is_explicit() {
    let d = tmp();
    // A folder named like the built-in chip in the working directory.
    std::fs::create_dir(d.path().join("eapu-180nm")).unwrap();
    let o = bin()
        .current_dir(d.path())
        .args(["run", "-q", "--steps", "3", "--out", "eapu-180nm"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // `./eapu-180nm` is explicitly the folder: not a chip file.
    let o = bin()
        .current_dir(d.path())
        .args(["run", "-q", "--steps", "3", "--chip", "./eapu-180nm"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("./eapu-180nm"), "{}", stderr(&o));
}

#[test]
fn a_chips_device_path_is_relative_to_the_chip_file() {
    let d = tmp();
    let sub = d.path().join("lab");
    std::fs::create_dir(&sub).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../devices");
    let mut chip: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("eapu-180nm.chip.json")).unwrap())
            .unwrap();
    let mut dev: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("eapu-180nm.device.json")).unwrap(),
    )
    .unwrap();
    dev["name"] = "labdev".into();
    chip["device"] = "labdev.device.json".into();
    std::fs::write(sub.join("labdev.device.json"), dev.to_string()).unwrap();
    std::fs::write(sub.join("lab.chip.json"), chip.to_string()).unwrap();
    let out = d.path().join("out");
    let o = bin()
        .current_dir(d.path())
        .args([
            "run",
            "-q",
            "--steps",
            "3",
            "--chip",
            "lab/lab.chip.json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["device"], "labdev");
}

#[test]
fn duplicate_keys_and_exclusive_fields_exit_2() {
    let d = tmp();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../devices");
    let text = std::fs::read_to_string(root.join("eapu-180nm.chip.json")).unwrap();
    let dup = text.replacen("{", "{\"name\": \"x\",", 1);
    let f = d.path().join("dup.chip.json");
    std::fs::write(&f, dup).unwrap();
    bad_input(
        &["--steps", "3", "--chip", f.to_str().unwrap()],
        &["dup.chip.json", "duplicate key `name`"],
    );
    bad_input(
        &["--steps", "3", "--set", "chip.adc.energy_pj=1"],
        &["adc.walden_fom_fj", "not both"],
    );
}

#[test]
fn huge_and_special_input_files_are_refused_at_once() {
    bad_input(&["--chip", "/dev/zero"], &["/dev/zero", "input limit"]);
    let d = tmp();
    let big = d.path().join("big.chip.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(10 << 30).unwrap(); // a sparse 10 GB file
    bad_input(
        &["--chip", big.to_str().unwrap()],
        &["big.chip.json", "input limit"],
    );
    bad_input(&["--device", "/"], &["directory"]);
}

#[test]
fn os_errors_are_printed_once() {
    let o = aimsim(&["run", "-q", "--chip", "./no-such.chip.json"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.matches("os error").count(), 1, "{e}");
}

/// Every device `calibrate` writes loads in `run`: measurements of every
/// built-in device, several seeds, with repeated reads (the relaxation and
/// read-noise fits whose values sit at validation limits).
#[test]
fn calibrated_devices_always_load() {
    let d = tmp();
    for (i, dev) in ["eapu-180nm", "taox-hfox", "ag-asi", "epiram", "alox-hfo2"]
        .iter()
        .enumerate()
    {
        let m = d.path().join(format!("{dev}.measured.json"));
        let fitted = d.path().join(format!("{dev}.device.json"));
        let seed = (i + 3).to_string();
        let o = aimsim(&[
            "synth",
            dev,
            "--seed",
            &seed,
            "--reads",
            "20",
            "-o",
            m.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = aimsim(&[
            "calibrate",
            "-q",
            m.to_str().unwrap(),
            "-o",
            fitted.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{dev}: {}", stderr(&o));
        let o = aimsim(&[
            "run",
            "-q",
            "--steps",
            "2",
            "--device",
            fitted.to_str().unwrap(),
            "--out",
            d.path().join("o").to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{dev}: {}", stderr(&o));
    }
}

/// Runs killed with SIGKILL at random moments never leave a mixed result
/// set: whenever `report.json` exists, both CSVs are those of its run, and
/// no temporary file is visible as a result (only hidden names, removed by
/// the next run). `AIMSIM_KILL_RUNS` sets the number of kills (default 10;
/// docs/reliability.md records a run of 100).
#[test]
fn killed_runs_never_leave_a_mixed_set() {
    let runs: u64 = std::env::var("AIMSIM_KILL_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let d = tmp();
    let steps = "40";
    let reference = |seed: &str| {
        let dir = d.path().join(format!("ref{seed}"));
        let t = Instant::now();
        let o = aimsim(&[
            "run",
            "-q",
            "--steps",
            steps,
            "--seed",
            seed,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        (dir, t.elapsed())
    };
    let (ref1, _) = reference("1");
    let (ref2, took) = reference("2");
    let read = |p: &Path| std::fs::read(p).unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for f in ["report.json", "energy.csv", "lifetime.csv"] {
        std::fs::copy(ref1.join(f), out.join(f)).unwrap();
    }
    // A fixed LCG picks the moments: uniformly over 1.2 × a run's time.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let span = took.as_micros() as u64 * 12 / 10 + 1;
    let (mut complete, mut without_report) = (0, 0);
    for i in 0..runs {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((x >> 33) % span);
        let seed = if i % 2 == 0 { "2" } else { "1" };
        let mut child = bin()
            .args(["run", "-q", "--steps", steps, "--seed", seed, "--out"])
            .arg(&out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        for n in names(&out) {
            assert!(
                n.starts_with('.')
                    || ["report.json", "energy.csv", "lifetime.csv"].contains(&n.as_str()),
                "kill {i}: visible non-result file {n}"
            );
        }
        let report = out.join("report.json");
        if report.exists() {
            let r: Value = serde_json::from_slice(&read(&report)).unwrap();
            let refdir = if r["seed"] == 1 { &ref1 } else { &ref2 };
            assert_eq!(read(&report), read(&refdir.join("report.json")), "kill {i}");
            for f in ["energy.csv", "lifetime.csv"] {
                assert_eq!(
                    read(&out.join(f)),
                    read(&refdir.join(f)),
                    "kill {i}: {f} mixed"
                );
            }
            complete += 1;
        } else {
            without_report += 1;
        }
    }
    eprintln!("{runs} kills: {complete} complete sets, {without_report} without report.json");
    // The next run removes whatever the killed ones left.
    let o = aimsim(&["run", "-q", "--steps", "3", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&out),
        [".aimsim.lock", "energy.csv", "lifetime.csv", "report.json"]
    );
}

/// Every numeric field of the default chip and device, set to ±1e300:
/// exit 2 (no panic, no run with infinite energy), and a message that
/// prints the number compactly.
#[test]
fn every_numeric_field_refuses_1e300_compactly() {
    fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, v)| leaves(v, &format!("{prefix}.{k}"), out)),
            Value::Number(_) => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../devices");
    let mut fields = Vec::new();
    for (file, prefix) in [
        ("eapu-180nm.chip.json", "chip"),
        ("eapu-180nm.device.json", "device"),
    ] {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(file)).unwrap()).unwrap();
        leaves(&v, prefix, &mut fields);
    }
    fields.extend(["train.lr", "train.init_scale"].map(String::from));
    assert!(fields.len() > 40, "{fields:?}");
    let d = tmp();
    let out = d.path().join("out");
    for field in &fields {
        for v in ["1e300", "-1e300"] {
            let o = aimsim(&[
                "run",
                "-q",
                "--steps",
                "1",
                "--out",
                out.to_str().unwrap(),
                "--set",
                &format!("{field}={v}"),
            ]);
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{field}={v}: {e}");
            assert!(e.len() < 300 && !e.contains("panicked"), "{field}={v}: {e}");
        }
    }
}

/// Runs of different seeds into one `--out` at once: each commits its set
/// under the folder's lock, so the folder ends with one run's three files.
#[test]
fn concurrent_runs_into_one_folder_leave_one_runs_set() {
    let d = tmp();
    let refs: Vec<PathBuf> = ["1", "2"]
        .iter()
        .map(|seed| {
            let dir = d.path().join(format!("ref{seed}"));
            let o = aimsim(&[
                "run",
                "-q",
                "--steps",
                "20",
                "--seed",
                seed,
                "--out",
                dir.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            dir
        })
        .collect();
    let out = d.path().join("out");
    let children: Vec<_> = (0..6)
        .map(|i| {
            bin()
                .args([
                    "run",
                    "-q",
                    "--steps",
                    "20",
                    "--seed",
                    if i % 2 == 0 { "1" } else { "2" },
                    "--out",
                ])
                .arg(&out)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let r = &refs[if report["seed"] == 1 { 0 } else { 1 }];
    for f in ["report.json", "energy.csv", "lifetime.csv"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(r.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        names(&out),
        [".aimsim.lock", "energy.csv", "lifetime.csv", "report.json"]
    );
}

/// Trace rows stay in memory until the run's end: a run whose rows would
/// exceed the bound is refused before it starts.
#[test]
fn trace_rows_are_bounded() {
    bad_input(
        &["--epochs", "1000000", "--trace-every", "1"],
        &["trace_every", "at most"],
    );
}
