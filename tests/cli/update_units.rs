//! Update-forming units (`chip.update_unit`, DESIGN.md §1.7): each unit
//! runs, names itself in the report and the summary, splits the update
//! energy into parts that add up to the update phase, adds its area as a
//! component that keeps the area total the sum of its parts; bad values
//! exit 2 naming the field.

use super::{aimsim, bad_input, f, run_ok, tmp};

const UNITS: [&str; 4] = ["digital-mac", "low-precision", "sparse-sampler", "off-chip"];

#[test]
fn every_unit_splits_the_update_energy_and_adds_up() {
    let d = tmp();
    let mut update = Vec::new();
    for unit in UNITS {
        let set = format!("chip.update_unit={unit}");
        let r = run_ok(d.path(), &["--steps", "40", "--set", &set]);
        assert_eq!(r["update_unit"], unit);
        let phase = f(&r, "energy_pj.by_phase.update");
        let parts: f64 = ["forming", "deciding", "writing", "static"]
            .iter()
            .map(|k| f(&r, &format!("energy_pj.update_split.{k}")))
            .sum();
        assert!(
            (parts - phase).abs() <= 1e-9 * phase,
            "{unit}: {parts} vs {phase}"
        );
        for k in ["forming", "deciding", "writing", "static"] {
            assert!(
                f(&r, &format!("energy_pj.update_split.{k}")) > 0.0,
                "{unit} {k}"
            );
        }
        let area = &r["area_mm2"]["by_component"];
        let sum: f64 = area
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        let total = f(&r, "area_mm2.total");
        assert!((sum - total).abs() <= 1e-12 * total, "{unit}");
        assert_eq!(
            area.get("update_unit").is_some(),
            matches!(unit, "low-precision" | "sparse-sampler"),
            "{unit}: {area}"
        );
        update.push(f(&r, "energy_pj.update_split.forming"));
    }
    // Forming costs: the host and link cost most, the sampler least.
    let [mac, lp, ss, off] = update[..] else {
        unreachable!()
    };
    assert!(ss < lp && lp < mac && mac < off, "{update:?}");
}

#[test]
fn the_summary_names_the_unit_and_the_split() {
    let d = tmp();
    let o = aimsim(&[
        "run",
        "--steps",
        "5",
        "--set",
        "chip.update_unit=sparse-sampler",
        "--out",
        d.path().to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("unit sparse-sampler: forming"), "{out}");
    assert!(out.contains("update_unit"), "{out}");
}

#[test]
fn bad_update_units_exit_2_naming_the_field() {
    bad_input(
        &["--set", "chip.update_unit=magic"],
        &["<built-in chip eapu-180nm>", "update_unit"],
    );
    bad_input(
        &["--set", "chip.update_units.low_precision.code_bits=9"],
        &["update_units.low_precision.code_bits"],
    );
    bad_input(
        &["--set", "chip.update_units.off_chip.host_mac_pj=-1"],
        &["update_units.off_chip.host_mac_pj"],
    );
}
