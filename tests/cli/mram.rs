//! The STT-MRAM chip end to end: it trains, its cell area is its own, and
//! impossible MRAM parameters or rules a binary device cannot run exit 2
//! naming the field.

use super::{exits_2, f, run_ok, tmp};
use serde_json::Value;

#[test]
fn mram_chip_trains_digits_mlp() {
    let d = tmp();
    // 300 EaPU steps reach 0.77 at seed 1 (0.10 is chance); bp rounds
    // every request of a first training phase below half a junction step
    // and writes nothing.
    let r = run_ok(d.path(), &["--chip", "stt-mram-pmtj", "--steps", "300"]);
    assert_eq!(r["chip"], "stt-mram-pmtj");
    assert_eq!(r["device"], "stt-mram-pmtj");
    assert!(f(&r, "workload.metric.value") >= 0.5, "{}", r["workload"]);
    assert!(f(&r, "writes.pulses") > 0.0);
    assert!(f(&r, "energy_pj.by_component.array_write") > 0.0);
    assert_eq!(f(&r, "lifetime.endurance_pulses_median"), 1e12);
    assert!(f(&r, "lifetime.projected_steps_to_first_failure") > 1e9);
    let b = tmp();
    let r = run_ok(
        b.path(),
        &["--chip", "stt-mram-pmtj", "--rule", "bp", "--steps", "50"],
    );
    assert_eq!(r["rule"], "bp");
    // The same run is reproduced bit for bit.
    let c = tmp();
    let again = run_ok(
        c.path(),
        &["--chip", "stt-mram-pmtj", "--rule", "bp", "--steps", "50"],
    );
    assert_eq!(r, again);
}

#[test]
fn cell_area_follows_the_technology() {
    let mut arrays = Vec::new();
    for chip in ["eapu-180nm", "fefet-hzo", "stt-mram-pmtj"] {
        let d = tmp();
        let r = run_ok(d.path(), &["--chip", chip, "--steps", "1"]);
        let parts: f64 = r["area_mm2"]["by_component"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        let total = f(&r, "area_mm2.total");
        assert!((parts - total).abs() <= 1e-12 * total, "{chip}");
        arrays.push(f(&r, "area_mm2.by_component.array"));
    }
    // 3 tiles of 128 × 128 cells at (180 nm)²: 48 F² (1T1R), 30 F² (FeFET);
    // MRAM: 8 junctions of 57.5 F² per cell position.
    let cells = 3.0 * 128.0 * 128.0 * 0.0324e-6;
    for (got, f2) in arrays.iter().zip([48.0, 30.0, 8.0 * 57.5]) {
        assert!((got - cells * f2).abs() < 1e-9 * got, "{got} vs {f2} F²");
    }
}

#[test]
fn impossible_mram_parameters_exit_2_naming_the_field() {
    // Probabilities outside [0, 1], negative switching times, non-finite
    // values, through --set on the built-in device and through a file.
    for (field, value) in [
        ("write_error_rate", "1.5"),
        ("write_error_rate", "-0.1"),
        ("attempt_time_s", "-1e-9"),
        ("precession_time_s", "-1e-9"),
        ("pulse_width_s", "-1e-8"),
        ("read_time_s", "-1e-8"),
        ("critical_current_ua", "NaN"),
        ("thermal_stability", "inf"),
    ] {
        let set = format!("device.{field}={value}");
        exits_2(
            &[
                "run",
                "-q",
                "--chip",
                "stt-mram-pmtj",
                "--steps",
                "1",
                "--set",
                &set,
            ],
            &[&format!("field `{field}`")],
        );
    }
    let d = tmp();
    let text = include_str!("../../devices/stt-mram-pmtj.mram.json");
    let mut dev: Value = serde_json::from_str(text).unwrap();
    dev["attempt_time_s"] = Value::from(-1e-9);
    let p = d.path().join("bad.mram.json");
    std::fs::write(&p, dev.to_string()).unwrap();
    let out = d.path().join("out");
    exits_2(
        &[
            "run",
            "-q",
            "--chip",
            "stt-mram-pmtj",
            "--device",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &["bad.mram.json", "attempt_time_s"],
    );
    assert!(!out.exists());
}

#[test]
fn rules_a_binary_device_cannot_run_exit_2() {
    for rule in ["write-verify", "stochastic-pulse", "mixed-precision"] {
        exits_2(
            &[
                "run",
                "-q",
                "--chip",
                "stt-mram-pmtj",
                "--rule",
                rule,
                "--steps",
                "1",
            ],
            &["rule.name", rule, "binary", "eapu, bp, ideal"],
        );
    }
    exits_2(
        &[
            "run",
            "-q",
            "--chip",
            "stt-mram-pmtj",
            "--set",
            "chip.rule.eapu.threshold_us=2",
            "--steps",
            "1",
        ],
        &["rule.eapu.threshold_us", "junction"],
    );
    exits_2(
        &[
            "run",
            "-q",
            "--chip",
            "stt-mram-pmtj",
            "--set",
            "chip.driver.pulse_width_ns=50",
            "--steps",
            "1",
        ],
        &["driver.pulse_width_ns", "10 ns"],
    );
}
