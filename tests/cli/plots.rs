//! `aimsim run --plots`: the SVG plots are well-formed XML holding the
//! expected series, committed with the run's result set; without the flag
//! no plot is written.

use super::{run_ok, tmp};
use std::path::Path;

/// The trimmed texts of an SVG file and the number of elements named
/// `tag`; panics if the file is not well-formed XML with an `svg` root.
fn svg(path: &Path, tag: &str) -> (Vec<String>, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect();
    let n = doc.descendants().filter(|n| n.has_tag_name(tag)).count();
    (texts, n)
}

fn has(texts: &[String], want: &str, file: &str) {
    assert!(
        texts.iter().any(|t| t == want),
        "{file}: `{want}` not in {texts:?}"
    );
}

#[test]
fn plots_are_svg_with_the_expected_series() {
    let d = tmp();
    let r = run_ok(
        d.path(),
        &["--steps", "60", "--trace-every", "10", "--plots"],
    );
    let series = "digits-mlp / backprop / eapu";

    let (texts, rects) = svg(&d.path().join("energy.svg"), "rect");
    let components = r["energy_pj"]["by_component"].as_object().unwrap();
    for c in components.keys() {
        has(&texts, c, "energy.svg");
    }
    for p in ["forward", "backward", "update"] {
        has(&texts, p, "energy.svg");
    }
    has(&texts, series, "energy.svg");
    // A bar for each component and phase with energy.
    let bars = components
        .values()
        .filter(|v| v.as_f64().unwrap() > 0.0)
        .count()
        + 3;
    assert!(rects >= bars, "energy.svg: {rects} rects, {bars} bars");

    let (texts, lines) = svg(&d.path().join("progress.svg"), "polyline");
    for name in [series, "forward", "backward", "update", "training step"] {
        has(&texts, name, "progress.svg");
    }
    // The pulses series and one line per phase.
    assert!(lines >= 4, "progress.svg: {lines} polylines");

    let (texts, rects) = svg(&d.path().join("pulses.svg"), "rect");
    has(&texts, "cells", "pulses.svg");
    has(&texts, "pulses", "pulses.svg");
    assert!(rects >= 2, "pulses.svg: {rects} rects");

    // Without --plots, no plot is written.
    let e = tmp();
    run_ok(e.path(), &["--steps", "5"]);
    for f in aimsim::PLOT_FILES {
        assert!(!e.path().join(f).exists(), "{f} written without --plots");
    }
}

/// `aimsim reproduce` checks its output folder before running anything:
/// a file where the folder should be is bad input (exit 2), nothing run.
#[test]
fn reproduce_refuses_a_bad_out_before_running() {
    let d = tmp();
    let file = d.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = super::aimsim(&[
        "reproduce",
        "eapu",
        "--quick",
        "--out",
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--out") && err.contains("file"), "{err}");
    assert!(!err.contains("[1/"), "a run started: {err}");
    let o = super::aimsim(&["reproduce", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}
