//! Network files (`aimsim.network/1`): every file in `networks/` loads and
//! trains a few steps; bad files exit 2 naming the file, the layer index
//! and the field, and write nothing; `aimsim workloads` lists the built-ins.

use super::{aimsim, bad_input, f, run_ok, tmp};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn networks_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../networks")
}

/// Every `*.network.json` of `networks/`, sorted.
fn network_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(networks_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".network.json"))
        .collect();
    v.sort();
    v
}

/// Network files too large for a cycle-level run (more weights than
/// `aimsim::MAX_SIMULATED_WEIGHTS`): shipped for `aimsim gpu-estimate`.
const GPU_ONLY: &[&str] = &["resnet50.network.json"];

#[test]
fn every_network_file_loads_and_trains() {
    let files = network_files();
    assert!(files.len() >= 2, "{files:?}");
    for p in files {
        let net: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let name = p.file_name().unwrap().to_str().unwrap();
        if GPU_ONLY.contains(&name) {
            // The run is refused before any data is made, naming the file
            // and the way out; the GPU reference takes the file.
            bad_input(
                &["--network", p.to_str().unwrap()],
                &[
                    p.to_str().unwrap(),
                    "too large for the chip",
                    "gpu-estimate",
                ],
            );
            let o = aimsim(&[
                "gpu-estimate",
                "--network",
                p.to_str().unwrap(),
                "--batch",
                "256",
                "--gpu",
                "H100",
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let s = String::from_utf8_lossy(&o.stdout);
            assert!(s.contains("per sample") && s.contains("H100"), "{s}");
            continue;
        }
        let d = tmp();
        let r = run_ok(
            d.path(),
            &[
                "--network",
                p.to_str().unwrap(),
                "--steps",
                "4",
                "--seed",
                "2",
            ],
        );
        assert_eq!(r["workload"]["name"], net["name"], "{}", p.display());
        assert_eq!(r["workload"]["steps"], 4, "{}", p.display());
        assert!(
            f(&r, "workload.metric.value").is_finite(),
            "{}",
            p.display()
        );
        assert!(f(&r, "energy_pj.by_phase.update") > 0.0, "{}", p.display());
    }
}

#[test]
fn the_digits_mlp_file_is_the_default_run() {
    let (a, b) = (tmp(), tmp());
    run_ok(a.path(), &["--steps", "30"]);
    let file = networks_dir().join("digits-mlp.network.json");
    run_ok(
        b.path(),
        &["--steps", "30", "--network", file.to_str().unwrap()],
    );
    for f in ["report.json", "energy.csv", "lifetime.csv"] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn workloads_lists_the_builtins() {
    let o = aimsim(&["workloads"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for name in ["digits-mlp", "digits-cnn"] {
        assert!(s.contains(name), "{name} not in: {s}");
    }
    assert!(s.contains("parameters 9610"), "{s}");
    assert!(s.contains("conv2d"), "{s}");
}

/// Writes `net` (the digits-cnn file with `edit` applied) into `dir`.
fn edited(dir: &Path, edit: impl FnOnce(&mut Value)) -> String {
    let mut net: Value = serde_json::from_str(
        &std::fs::read_to_string(networks_dir().join("digits-cnn.network.json")).unwrap(),
    )
    .unwrap();
    edit(&mut net);
    let p = dir.join("bad.network.json");
    std::fs::write(&p, net.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_network_files_exit_2_naming_file_layer_and_field() {
    let d = tmp();
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str, &str); 7] = [
        // Shapes that do not chain: a dense layer on an image.
        (
            |n| {
                n["layers"].as_array_mut().unwrap().remove(4);
            },
            "layers[4].kind",
            "flatten",
        ),
        (
            |n| n["layers"][1]["kind"] = "maxpoool".into(),
            "layers[1].kind",
            "unknown layer kind",
        ),
        (
            |n| n["layers"][2]["out_channels"] = 0.into(),
            "layers[2].out_channels",
            "positive",
        ),
        (
            |n| n["data"] = serde_json::json!({"npz": "missing.npz"}),
            "data.npz",
            "missing.npz",
        ),
        (
            |n| n["layers"][0]["kernel"] = 11.into(),
            "layers[0].kernel",
            "does not fit",
        ),
        (
            |n| n["layers"][1]["bogus"] = 1.into(),
            "bogus",
            "unknown field",
        ),
        (
            |n| n["layers"][1]["outputs"] = 3.into(),
            "layers[1].outputs",
            "not a field",
        ),
    ];
    for (edit, field, what) in cases {
        let p = edited(d.path(), edit);
        bad_input(&["--network", &p], &[&p, field, what]);
    }
}

#[test]
fn save_images_writes_pngs_of_the_restored_test_image() {
    let d = tmp();
    let img = d.path().join("img");
    let r = run_ok(
        d.path(),
        &[
            "--workload",
            "sr2",
            "--steps",
            "20",
            "--save-images",
            img.to_str().unwrap(),
        ],
    );
    assert!(f(&r, "workload.baseline.psnr_db") > 10.0);
    assert!(f(&r, "workload.metrics.ssim").is_finite());
    for (kind, side) in [("input", 32u32), ("output", 64), ("target", 64)] {
        let png = std::fs::read(img.join(format!("gravel.{kind}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{kind}");
        assert_eq!(png[16..20], side.to_be_bytes(), "{kind} width");
    }
    // A workload without images is bad input, and nothing is written.
    bad_input(
        &[
            "--steps",
            "2",
            "--save-images",
            img.join("x").to_str().unwrap(),
        ],
        &["--save-images", "digits-mlp"],
    );
}

#[test]
fn mini_batches_count_updates_and_charge_accumulation() {
    let (a, b) = (tmp(), tmp());
    let one = run_ok(a.path(), &["--epochs", "1"]);
    let r = run_ok(b.path(), &["--epochs", "1", "--set", "train.batch=8"]);
    // One update per batch: ⌈1438 / 8⌉ in one epoch.
    assert_eq!(one["workload"]["steps"], 1438);
    assert_eq!(r["workload"]["steps"], 180);
    assert!(f(&r, "workload.metric.value") > 0.5, "{}", r["workload"]);
    // The same samples go forward (1440 vs 1438)…
    let fwd = f(&r, "energy_pj.by_phase.forward") / f(&one, "energy_pj.by_phase.forward");
    assert!((fwd - 1440.0 / 1438.0).abs() < 0.01, "forward ratio {fwd}");
    // …but a batch holds its factors in SRAM (written and read once each),
    // which batch 1 never does, so the update phase costs more.
    let upd = f(&r, "energy_pj.by_phase.update") / f(&one, "energy_pj.by_phase.update");
    assert!(upd > 1.5, "update ratio {upd}");
}
