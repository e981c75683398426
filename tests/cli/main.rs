//! End-to-end tests of the `aimsim` binary, run the way a user runs it.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aimsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .args(args)
        .output()
        .expect("aimsim runs")
}

fn run_ok(out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["run", "-q", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = aimsim(&args);
    assert!(
        o.status.success(),
        "aimsim {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn f(v: &Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number"))
}

#[test]
fn default_run_meets_the_skeleton_targets() {
    let d = tmp();
    let r = run_ok(d.path(), &[]);
    assert_eq!(r["schema"], "aimsim.report/1");
    assert_eq!(r["chip"], "eapu-180nm");
    assert_eq!(r["rule"], "eapu");
    assert_eq!(r["workload"]["name"], "digits-mlp");
    assert_eq!(r["workload"]["metric"]["name"], "accuracy");
    assert!(f(&r, "workload.metric.value") >= 0.90, "{}", r["workload"]);
    assert!(f(&r, "writes.update_fraction") < 0.05);
    for k in ["cycles", "clock_hz", "seconds"] {
        assert!(f(&r, &format!("time.{k}")) > 0.0, "time.{k}");
    }
    for k in ["pulses", "cell_writes", "max_per_cell"] {
        assert!(f(&r, &format!("writes.{k}")) > 0.0, "writes.{k}");
    }
    assert!(f(&r, "lifetime.endurance_pulses_median") > 0.0);
    assert!(r["lifetime"]["failed_cells"].is_u64());
    // Every component is charged and the parts add up to the total.
    let total = f(&r, "energy_pj.total");
    let comps = r["energy_pj"]["by_component"].as_object().unwrap();
    let keys: Vec<&str> = comps.keys().map(String::as_str).collect();
    for k in [
        "dac",
        "adc",
        "array_read",
        "array_write",
        "driver",
        "sense",
        "digital",
        "static",
    ] {
        assert!(keys.contains(&k), "missing {k}");
        assert!(comps[k].as_f64().unwrap() > 0.0, "{k} is zero");
        assert!(
            f(&r, &format!("energy_pj.ops_by_component.{k}")) > 0.0,
            "no {k} operations counted"
        );
    }
    let sum: f64 = comps.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - total).abs() <= 1e-9 * total, "{sum} vs {total}");
    let phases: f64 = r["energy_pj"]["by_phase"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((phases - total).abs() <= 1e-9 * total);
    // The traces have a header and rows whose last total matches the report.
    let energy = std::fs::read_to_string(d.path().join("energy.csv")).unwrap();
    let last = energy.lines().last().unwrap();
    let last_total: f64 = last.rsplit(',').next().unwrap().parse().unwrap();
    assert!((last_total - total).abs() <= 1e-5 * total);
    let life = std::fs::read_to_string(d.path().join("lifetime.csv")).unwrap();
    assert!(life.starts_with("step,pulses_mean,pulses_p99,pulses_max"));
    assert!(life.lines().count() > 10);
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (tmp(), tmp(), tmp());
    let steps = ["--steps", "600"];
    run_ok(a.path(), &steps);
    run_ok(b.path(), &steps);
    run_ok(c.path(), &[&steps[..], &["--seed", "2"]].concat());
    for file in ["report.json", "energy.csv", "lifetime.csv"] {
        let x = std::fs::read(a.path().join(file)).unwrap();
        let y = std::fs::read(b.path().join(file)).unwrap();
        assert_eq!(x, y, "{file} differs between identical runs");
    }
    let x = std::fs::read(a.path().join("report.json")).unwrap();
    let z = std::fs::read(c.path().join("report.json")).unwrap();
    assert_ne!(x, z, "another seed gave the same report");
}

#[test]
fn bp_writes_far_more_than_eapu_and_ideal_is_accurate() {
    let (e, b, i) = (tmp(), tmp(), tmp());
    let re = run_ok(e.path(), &["--steps", "2000"]);
    let rb = run_ok(b.path(), &["--steps", "2000", "--rule", "bp"]);
    assert!(f(&rb, "writes.cell_writes") >= 10.0 * f(&re, "writes.cell_writes"));
    assert!(f(&rb, "energy_pj.by_phase.update") > f(&re, "energy_pj.by_phase.update"));
    let ri = run_ok(i.path(), &["--rule", "ideal"]);
    assert!(
        f(&ri, "workload.metric.value") >= 0.95,
        "{}",
        ri["workload"]
    );
    assert_eq!(f(&ri, "writes.cell_writes"), 0.0);
}

/// The EaPU paper's claim on our small network: with ideal converters and
/// write noise σ = 2 µS, EaPU stays within 2 points of the digital ideal and
/// plain noisy BP falls behind (docs/validation.md has the 3-seed table).
#[test]
fn eapu_matches_ideal_where_noisy_bp_fails() {
    let ideal_io = [
        "--set",
        "chip.adc.ideal=true",
        "--set",
        "chip.dac.ideal=true",
        "--set",
        "device.write_noise_us=2",
    ];
    let acc = |rule: &str| {
        let d = tmp();
        let r = run_ok(d.path(), &[&ideal_io[..], &["--rule", rule]].concat());
        f(&r, "workload.metric.value")
    };
    let (ideal, eapu, bp) = (acc("ideal"), acc("eapu"), acc("bp"));
    assert!(eapu >= ideal - 0.02, "eapu {eapu} vs ideal {ideal}");
    assert!(bp < eapu - 0.05, "bp {bp} vs eapu {eapu}");
}

#[test]
fn vcd_reads_back_with_an_independent_parser() {
    let d = tmp();
    let vcd_path = d.path().join("run.vcd");
    run_ok(
        &d.path().join("out"),
        &["--steps", "20", "--vcd", vcd_path.to_str().unwrap()],
    );
    let text = std::fs::read(&vcd_path).unwrap();
    let mut p = vcd::Parser::new(&text[..]);
    let header = p.parse_header().unwrap();
    let mut names = Vec::new();
    fn walk(items: &[vcd::ScopeItem], prefix: &str, names: &mut Vec<String>) {
        for it in items {
            match it {
                vcd::ScopeItem::Scope(s) => {
                    walk(&s.items, &format!("{prefix}{}.", s.identifier), names)
                }
                vcd::ScopeItem::Var(v) => names.push(format!("{prefix}{}", v.reference)),
                _ => {}
            }
        }
    }
    walk(&header.items, "", &mut names);
    for want in [
        "controller.phase",
        "controller.energy_pj",
        "tile0.busy",
        "tile0.set_pulse",
        "tile0.reset_pulse",
        "tile2.adc_busy",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    let (mut last, mut stamps, mut changes) = (0u64, 0, 0);
    for cmd in p {
        match cmd.unwrap() {
            vcd::Command::Timestamp(t) => {
                assert!(t >= last, "timestamp {t} after {last}");
                last = t;
                stamps += 1;
            }
            vcd::Command::ChangeScalar(..)
            | vcd::Command::ChangeVector(..)
            | vcd::Command::ChangeReal(..) => changes += 1,
            _ => {}
        }
    }
    assert!(
        stamps > 100 && changes > 100,
        "{stamps} stamps, {changes} changes"
    );
}

fn bad_input(args: &[&str], file_and_field: &[&str]) {
    let d = tmp();
    let out = d.path().join("out");
    let mut all = vec!["run", "-q", "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = aimsim(&all);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for s in file_and_field {
        assert!(err.contains(s), "{args:?}: `{s}` not in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "output written for bad input");
}

fn default_chip() -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../devices/eapu-180nm.chip.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn bad_chip_and_device_files_exit_2_naming_file_and_field() {
    let d = tmp();
    let write = |name: &str, text: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let malformed = write("malformed.json", "{ \"schema\": ");
    bad_input(
        &["--chip", &malformed],
        &["malformed.json", "malformed JSON"],
    );

    let mut chip = default_chip();
    chip["adc"]["colour"] = Value::from(3);
    let unknown = write("unknown.json", &chip.to_string());
    bad_input(&["--chip", &unknown], &["unknown.json", "adc", "colour"]);

    let mut chip = default_chip();
    chip["driver"]["pulse_width_ns"] = Value::from(-50.0);
    let neg = write("negative.json", &chip.to_string());
    bad_input(
        &["--chip", &neg],
        &["negative.json", "driver.pulse_width_ns"],
    );

    let dev_text = include_str!("../../devices/eapu-180nm.device.json");
    let mut dev: Value = serde_json::from_str(dev_text).unwrap();
    dev["write_noise_us"] = Value::from(-1.0);
    let bad_dev = write("dev.json", &dev.to_string());
    bad_input(&["--device", &bad_dev], &["dev.json", "write_noise_us"]);
    let bad_dev = write("dev2.json", "[1, 2");
    bad_input(&["--device", &bad_dev], &["dev2.json"]);
}

/// `--set` of the ADC's resolution and sharing moves energy and cycles the
/// way the energy model says (docs/energy-model.md): fewer bits cost less
/// per conversion (Walden `FoM · 2^bits`) and convert in fewer SAR cycles;
/// fewer ADCs per tile convert more batches one after another, so reads take
/// longer and static energy grows while the conversion energy stays.
#[test]
fn adc_bits_and_sharing_move_energy_and_cycles() {
    let (a, b, c) = (tmp(), tmp(), tmp());
    let steps = ["--steps", "40"];
    let base = run_ok(a.path(), &steps);
    let low = run_ok(
        b.path(),
        &[&steps[..], &["--set", "chip.adc.bits=6"]].concat(),
    );
    let shared = run_ok(
        c.path(),
        &[&steps[..], &["--set", "chip.adc.adcs_per_tile=2"]].concat(),
    );
    let adc = |r: &Value| f(r, "energy_pj.by_component.adc");
    let cycles = |r: &Value| f(r, "time.cycles");
    // 8 → 6 bits: a quarter of the energy per conversion, same conversions.
    assert!((adc(&low) - adc(&base) / 4.0).abs() <= 1e-9 * adc(&base));
    assert!(f(&low, "energy_pj.total") < f(&base, "energy_pj.total"));
    assert!(cycles(&low) < cycles(&base));
    // 8 → 2 ADCs per tile: the same conversions, 4× the batches.
    assert_eq!(adc(&shared), adc(&base));
    assert!(cycles(&shared) > cycles(&base));
    assert!(
        f(&shared, "energy_pj.by_component.static") > f(&base, "energy_pj.by_component.static")
    );
    assert!(f(&shared, "energy_pj.total") > f(&base, "energy_pj.total"));
}

/// The contrasting built-in chip runs by name and spends its energy
/// differently: 4-bit ADCs make the ADC share small, bit-serial inputs make
/// the DAC and sense shares larger, and reads take longer.
#[test]
fn lowres_chip_has_a_different_breakdown() {
    let (a, b) = (tmp(), tmp());
    let steps = ["--steps", "40"];
    let base = run_ok(a.path(), &steps);
    let low = run_ok(
        b.path(),
        &[&steps[..], &["--chip", "eapu-180nm-lowres"]].concat(),
    );
    assert_eq!(low["chip"], "eapu-180nm-lowres");
    let share =
        |r: &Value, k: &str| f(r, &format!("energy_pj.by_component.{k}")) / f(r, "energy_pj.total");
    assert!(share(&low, "adc") < share(&base, "adc") / 4.0);
    assert!(share(&low, "dac") > share(&base, "dac"));
    assert!(share(&low, "sense") > 2.0 * share(&base, "sense"));
    assert!(f(&low, "time.cycles") > f(&base, "time.cycles"));
    // Operation counts follow: bit-serial drives lines once per set bit.
    let ops = |r: &Value, k: &str| f(r, &format!("energy_pj.ops_by_component.{k}"));
    assert_eq!(ops(&low, "adc"), ops(&base, "adc"));
    assert!(ops(&low, "sense") == 3.0 * ops(&base, "sense"));
}

#[test]
fn impossible_chip_values_exit_2_naming_the_field() {
    for (set, field) in [
        ("chip.dac.bits=17", "dac.bits"),
        ("chip.adc.bits=0", "adc.bits"),
        ("chip.adc.bits=40", "adc.bits"),
        ("chip.clock_hz=0", "clock_hz"),
        ("chip.dac.energy_pj=-0.5", "dac.energy_pj"),
        ("chip.driver.overhead_pj=-1", "driver.overhead_pj"),
        ("chip.digital.sram_read_pj=-1", "digital.sram_read_pj"),
        ("chip.dac.energy_pj=NaN", "dac.energy_pj"),
        ("chip.adc.walden_fom_fj=-100", "adc.walden_fom_fj"),
        ("chip.adc.calibration_margin=0.5", "adc.calibration_margin"),
        ("chip.adc.conversion_cycles=0", "adc.conversion_cycles"),
        ("chip.adc.adcs_per_tile=0", "adc.adcs_per_tile"),
        ("chip.driver.set_gate_v=20", "driver.set_gate_v"),
        ("chip.sense.noise_ua=-1", "sense.noise_ua"),
        ("chip.sense.gain=2", "sense"),
        ("chip.dac.encoding=thermometer", "dac.encoding"),
    ] {
        bad_input(&["--set", set], &["<built-in chip eapu-180nm>", field]);
    }
    bad_input(
        &["--chip", "eapu-180nm-lowres", "--set", "chip.adc.bits=17"],
        &["eapu-180nm-lowres", "adc.bits"],
    );
}

#[test]
fn bad_options_exit_2() {
    bad_input(&["--set", "chip.adc.bits=0"], &["adc.bits"]);
    bad_input(&["--set", "nowhere.x=1"], &["nowhere.x"]);
    bad_input(&["--set", "train.lr=-1"], &["lr"]);
    bad_input(&["--rule", "magic"], &["rule.name", "magic"]);
    bad_input(&["--chip", "no-such-chip"], &["no-such-chip"]);
    bad_input(&["--set", "device.g_max_us=\"high\""], &["g_max_us"]);
}

#[test]
fn devices_lists_the_builtin_device() {
    let o = aimsim(&["devices"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("eapu-180nm") && s.contains("2.400"), "{s}");
}
