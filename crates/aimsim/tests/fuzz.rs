//! Structure-aware mutation fuzzing of every input loader and of `--set`
//! (issue 15). No coverage-guided fuzzer runs on the stable toolchain here
//! (cargo-fuzz and AFL++'s Rust integration need nightly sanitizer
//! flags), so this mutates valid files: byte flips, insertions, deletions
//! and truncation; values replaced by extreme numbers, wrong types and
//! deep nesting; keys duplicated, deleted and invented. Each execution
//! runs under `catch_unwind` and a time limit; an input that is accepted
//! is also run for a step (chip, device, `--set`) so that values which
//! validate but break the arithmetic (the ledger's 1e308 panics) are found.
//!
//! * `fuzz_loaders_briefly` — every target, a few thousand executions, in
//!   `cargo test`.
//! * `fuzz_loaders_long` (ignored) — `AIMSIM_FUZZ_EXECS` executions per
//!   target (default 10⁶): `AIMSIM_FUZZ_EXECS=1000000 cargo test --release
//!   -p aimsim --test aimsim fuzz_loaders_long -- --ignored --nocapture`;
//!   `AIMSIM_FUZZ_TARGETS=chip,set` picks targets, `AIMSIM_FUZZ_SEED` the
//!   stream. docs/reliability.md records the counts.
//! * `corpus_never_panics` — every file under `tests/corpus/<target>/`
//!   (inputs that panicked, hung or misbehaved before; keep every new
//!   finding there) goes through its target.
//!
//! Adding a loader (network files, sweep specs, …) is one line in
//! [`targets`]: a name, its seed inputs and the function that loads one.

use aimsim::{RunSpec, Simulation};
use rand::{Rng as _, RngCore};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a loader did with one input.
enum Outcome {
    /// Refused with an error (the expected fate of most mutants).
    Refused,
    /// Accepted (and, where the target runs, ran a step).
    Accepted,
}

type Load = fn(&Ctx, &str) -> Outcome;

/// A fuzz target: its name (the corpus folder), seed inputs, loader.
struct Target {
    name: &'static str,
    seeds: Vec<String>,
    load: Load,
}

/// A scratch folder, in memory where the system has one.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

/// Scratch shared by the loaders: a folder for files a spec names, and
/// whether accepted inputs are run.
struct Ctx {
    dir: tempfile::TempDir,
    run_accepted: bool,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(repo().join(p)).unwrap()
}

/// Every loader the tree has. Add one line per new loader.
fn targets() -> Vec<Target> {
    let devices = [
        "eapu-180nm",
        "taox-hfox",
        "ag-asi",
        "epiram",
        "alox-hfo2",
        "fefet-hzo",
    ]
    .map(|d| read(format!("devices/{d}.device.json")))
    .to_vec();
    let chips = vec![
        read("devices/eapu-180nm.chip.json"),
        read("devices/eapu-180nm-lowres.chip.json"),
        read("devices/fefet-hzo.chip.json"),
        read("devices/stt-mram-pmtj.chip.json"),
    ];
    vec![
        Target {
            name: "chip",
            seeds: chips,
            load: load_chip,
        },
        Target {
            name: "device",
            seeds: devices,
            load: load_device,
        },
        Target {
            name: "mram",
            seeds: vec![read("devices/stt-mram-pmtj.mram.json")],
            load: load_mram,
        },
        Target {
            name: "measured",
            seeds: measured_seeds(),
            load: load_measured,
        },
        Target {
            name: "spec",
            seeds: spec_seeds(),
            load: load_spec,
        },
        Target {
            name: "network",
            seeds: ["digits-mlp", "digits-cnn", "denoise", "sr2"]
                .map(|n| read(format!("networks/{n}.network.json")))
                .to_vec(),
            load: load_network,
        },
        Target {
            name: "npz",
            seeds: ["tiny", "xor"]
                .map(|n| {
                    let p = repo().join(format!("crates/workload/tests/data/{n}.npz"));
                    bytes_as_text(&std::fs::read(p).unwrap())
                })
                .to_vec(),
            load: load_npz,
        },
        Target {
            name: "sweep",
            seeds: ["adc-rule", "ci-slurm"]
                .map(|n| read(format!("sweeps/{n}.sweep.json")))
                .to_vec(),
            load: load_sweep,
        },
        Target {
            name: "gpu",
            seeds: ["v100", "a100", "h100"]
                .map(|n| read(format!("gpus/{n}.gpu.json")))
                .to_vec(),
            load: load_gpu,
        },
        Target {
            name: "report",
            seeds: vec![read("traces/report.json")],
            load: load_report,
        },
        Target {
            name: "set",
            seeds: set_seeds(),
            load: load_set,
        },
    ]
}

fn measured_seeds() -> Vec<String> {
    let d = aimsim_device::builtin_device("eapu-180nm", &[]).unwrap();
    let m = aimsim_device::synthesize(
        &d,
        &aimsim_device::SynthOptions {
            devices: 2,
            cycles: 2,
            pulses: Some(12),
            reads: 3,
            seed: 1,
        },
    );
    let mut pretty = serde_json::to_value(&m).unwrap();
    // A second seed with the optional sections absent.
    let small = serde_json::to_string_pretty(&pretty).unwrap();
    if let Value::Object(o) = &mut pretty {
        o.remove("description");
    }
    // STT-MRAM switching curves (a measured-data kind of their own): two
    // junctions, 8 pulses per point, 3 reads of each state.
    let mram = aimsim_device::builtin_mram("stt-mram-pmtj", &[]).unwrap();
    let curves = aimsim_device::synthesize_mram(&mram, 2, 8, 3, 1);
    vec![
        serde_json::to_string(&m).unwrap(),
        small,
        pretty.to_string(),
        serde_json::to_string_pretty(&curves).unwrap(),
    ]
}

fn spec_seeds() -> Vec<String> {
    vec![
        RunSpec::default().canonical_json(),
        RunSpec::builder()
            .rule("bp")
            .steps(3)
            .set("chip.adc.bits", "6")
            .build()
            .unwrap()
            .canonical_json(),
    ]
}

/// `--set` cases, one `path=value` per line: every numeric field of the
/// default chip and device (their paths found from the files), and train
/// options.
fn set_seeds() -> Vec<String> {
    fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    leaves(v, &format!("{prefix}.{k}"), out);
                }
            }
            Value::Number(n) => out.push(format!("{prefix}={n}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let chip: Value = serde_json::from_str(&read("devices/eapu-180nm.chip.json")).unwrap();
    leaves(&chip, "chip", &mut out);
    let dev: Value = serde_json::from_str(&read("devices/eapu-180nm.device.json")).unwrap();
    leaves(&dev, "device", &mut out);
    out.extend(["train.lr=0.05", "train.steps=3", "train.trace_every=1"].map(String::from));
    out
}

/// Runs an accepted spec for one step: energies stay finite.
fn run_one_step(ctx: &Ctx, spec: &RunSpec) {
    if !ctx.run_accepted {
        return;
    }
    let spec = RunSpec {
        steps: Some(1),
        ..spec.clone()
    };
    let Ok(mut sim) = Simulation::new(&spec) else {
        return;
    };
    if sim.step(1).is_ok() {
        let t = sim.chip().ledger().total_pj();
        assert!(t.is_finite() && t >= 0.0, "energy total {t}");
    }
}

fn write_input(ctx: &Ctx, name: &str, text: &str) -> String {
    let p = ctx.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

// The loaders parse in memory first (what `load_chip` does after reading
// the file) and write the file only for inputs that parse: a file write
// costs milliseconds here, the parse microseconds.
fn load_chip(ctx: &Ctx, text: &str) -> Outcome {
    if aimsim::engine::Chip::from_json("f.chip.json", text, &[]).is_err() {
        return Outcome::Refused;
    }
    let file = write_input(ctx, "f.chip.json", text);
    match RunSpec::builder().chip(&file).build() {
        Ok(spec) => {
            run_one_step(ctx, &spec);
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused,
    }
}

fn load_device(ctx: &Ctx, text: &str) -> Outcome {
    if aimsim_device::DeviceModel::from_json("f.device.json", text, &[]).is_err() {
        return Outcome::Refused;
    }
    let file = write_input(ctx, "f.device.json", text);
    match RunSpec::builder().device(&file).build() {
        Ok(spec) => {
            run_one_step(ctx, &spec);
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused,
    }
}

/// An accepted MRAM file must give finite probabilities in [0, 1] and a
/// finite, non-negative pulse for them.
fn load_mram(_ctx: &Ctx, text: &str) -> Outcome {
    let Ok(m) = aimsim_device::SttMram::from_json("f.mram.json", text, &[]) else {
        return Outcome::Refused;
    };
    for p in [0.0, 0.01, 0.5, 0.99, 1.0] {
        let i = m.current_for_probability_ua(p);
        assert!(i.is_finite() && i >= 0.0, "current {i} for p = {p}");
        let q = m.switching_probability(i, m.pulse_width_s);
        assert!((0.0..=1.0).contains(&q), "probability {q}");
        assert!(m.pulse_energy_pj(i, false) >= 0.0);
    }
    let r = m.read_disturb_probability();
    assert!((0.0..=1.0).contains(&r), "read disturb {r}");
    Outcome::Accepted
}

fn load_measured(ctx: &Ctx, text: &str) -> Outcome {
    match aimsim_device::Measured::from_json("m.json", text) {
        Ok(m) => {
            if ctx.run_accepted {
                // What calibrate writes must load (issue 15).
                if m.devices.iter().any(|d| !d.switching.is_empty()) {
                    // Switching curves calibrate to an MRAM file that loads.
                    if let Ok(c) = aimsim_device::calibrate_mram(&m, &Default::default()) {
                        let json = serde_json::to_string_pretty(&c.device).unwrap();
                        aimsim_device::SttMram::from_json("fit", &json, &[])
                            .expect("a calibrated MRAM device loads");
                    }
                } else if let Ok(c) = aimsim_device::calibrate(&m, &Default::default()) {
                    let json = serde_json::to_string_pretty(&c.device).unwrap();
                    aimsim_device::DeviceModel::from_json("fit", &json, &[])
                        .expect("a calibrated device loads");
                }
            }
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused,
    }
}

fn load_spec(ctx: &Ctx, text: &str) -> Outcome {
    match RunSpec::from_json("spec.json", text) {
        Ok(spec) => {
            if spec.steps.is_some_and(|s| s <= 5) {
                run_one_step(ctx, &spec);
            }
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused,
    }
}

/// Networks bigger than this (crossbar MACs per sample) are accepted
/// without running a step: a step's time grows with the network (a valid
/// 65536-channel conv takes seconds), which is work, not a hang.
const FUZZ_STEP_MACS: u64 = 2_000_000;

fn load_network(ctx: &Ctx, text: &str) -> Outcome {
    let dir = ctx.dir.path();
    let Ok(net) = aimsim::workload::Network::from_json("n.network.json", text, dir) else {
        return Outcome::Refused;
    };
    let file = write_input(ctx, "n.network.json", text);
    match RunSpec::builder().network(&file).build() {
        Ok(spec) => {
            if net.macs_per_sample() <= FUZZ_STEP_MACS {
                run_one_step(ctx, &spec);
            }
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused,
    }
}

/// Binary inputs ride the text mutator one byte per char (U+0000–U+00FF);
/// any mutated text maps back to bytes by each char's low byte.
fn bytes_as_text(b: &[u8]) -> String {
    b.iter().map(|&x| char::from(x)).collect()
}

fn load_npz(_: &Ctx, text: &str) -> Outcome {
    let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    match aimsim::workload::read_npz(&bytes) {
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Refused,
    }
}

/// A sweep spec is parsed and planned (every point's run spec checked); no
/// point runs. Planning is linear in the runs (≈ 50 µs each, so a
/// 10⁶-run plan — the most a spec may ask for — takes about a minute:
/// work, not a hang), so an accepted spec of more than [`PLAN_AT_MOST`]
/// runs is counted as accepted without being planned, as a network too
/// large is not stepped.
fn load_sweep(_: &Ctx, text: &str) -> Outcome {
    let spec = match aimsim_sweep::SweepSpec::parse("s.sweep.json", text) {
        Ok(s) => s,
        Err(_) => return Outcome::Refused,
    };
    if spec.runs() > PLAN_AT_MOST {
        return Outcome::Accepted;
    }
    match aimsim_sweep::Plan::new(spec) {
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Refused,
    }
}

/// A GPU file (`aimsim.gpu/1`) is loaded; an accepted one estimates a
/// digits-cnn training step at batch 32, whose time and energies must be
/// finite and non-negative.
fn load_gpu(_: &Ctx, text: &str) -> Outcome {
    let Ok(gpu) = aimsim::Gpu::from_json("g.gpu.json", text) else {
        return Outcome::Refused;
    };
    let net = aimsim_workload::builtin_network("digits-cnn").unwrap();
    let s = aimsim::estimate_step(&gpu, &net, 32);
    for (what, v) in [
        ("time_s", s.time_s),
        ("energy_j", s.energy_j),
        ("energy_j_flop_bound", s.energy_j_flop_bound),
    ] {
        assert!(v.is_finite() && v >= 0.0, "{what} = {v}");
    }
    Outcome::Accepted
}

/// The most runs a fuzzed sweep spec is planned with.
const PLAN_AT_MOST: u64 = 10_000;

fn load_report(_: &Ctx, text: &str) -> Outcome {
    match aimsim::Report::from_json("report.json", text) {
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Refused,
    }
}

fn load_set(ctx: &Ctx, text: &str) -> Outcome {
    let mut b = RunSpec::builder();
    for line in text.lines() {
        let Some((p, v)) = line.split_once('=') else {
            return Outcome::Refused;
        };
        b = b.set(p, v);
    }
    match b.build() {
        Ok(spec) => {
            run_one_step(ctx, &spec);
            Outcome::Accepted
        }
        Err(_) => Outcome::Refused,
    }
}

/// Numbers at the edges: zero and signs, f64's limits, integers past u64,
/// values just above and below the documented bound.
const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "0.5",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "5e-324",
    "1e-300",
    "1e300",
    "1e999",
    "-1e999",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "4294967296",
    "65536",
    "1e12",
    "1.0000001e12",
    "1e6",
    "1e7",
    "2147483648",
    "1e15",
    "123456789012345678901234567890",
];

fn extreme(rng: &mut aimsim_core::Rng) -> &'static str {
    EXTREMES[rng.random_range(0..EXTREMES.len())]
}

/// A random other JSON value: extreme numbers, wrong types, deep nesting.
fn wild_value(rng: &mut aimsim_core::Rng) -> String {
    match rng.random_range(0..8) {
        0..=3 => extreme(rng).to_string(),
        4 => ["null", "true", "\"\"", "\"x\"", "[]", "{}"][rng.random_range(0..6)].into(),
        5 => format!("[{}]", extreme(rng)),
        6 => {
            let n = rng.random_range(1..200);
            format!("{}1{}", "[".repeat(n), "]".repeat(n))
        }
        _ => format!("\"{}\"", "é\\u0000".repeat(rng.random_range(1..5))),
    }
}

/// A byte range `[start, end)` of the text.
type Span = (usize, usize);

/// The byte spans of every scalar value and every key in `text` (found by
/// a scan that tracks strings), for structural mutations in place.
fn spans(text: &str) -> (Vec<Span>, Vec<Span>) {
    let b = text.as_bytes();
    let (mut values, mut keys) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(b.len());
                let mut j = end;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && b[j] == b':' {
                    keys.push((start, end));
                } else {
                    values.push((start, end));
                }
                i = end;
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                let start = i;
                while i < b.len() && !b",]} \n\r\t".contains(&b[i]) {
                    i += 1;
                }
                values.push((start, i));
            }
            _ => i += 1,
        }
    }
    (values, keys)
}

/// One mutant of `seed`.
fn mutate(seed: &str, rng: &mut aimsim_core::Rng) -> String {
    let mut s = seed.to_string();
    for _ in 0..rng.random_range(1..4) {
        s = mutate_once(&s, rng);
    }
    s
}

fn mutate_once(s: &str, rng: &mut aimsim_core::Rng) -> String {
    let (values, keys) = spans(s);
    let splice = |s: &str, (a, b): (usize, usize), with: &str| {
        let mut t = String::with_capacity(s.len() + with.len());
        t.push_str(&s[..a]);
        t.push_str(with);
        t.push_str(&s[b..]);
        t
    };
    match rng.random_range(0..12) {
        // Structural: a value replaced (the most productive mutation).
        0..=4 if !values.is_empty() => {
            let v = values[rng.random_range(0..values.len())];
            splice(s, v, &wild_value(rng))
        }
        // A key duplicated with another value, right after its object opens.
        5 if !keys.is_empty() => {
            let (a, b) = keys[rng.random_range(0..keys.len())];
            let key = &s[a..b];
            splice(s, (b, b), &format!(": {}, {key}", wild_value(rng)))
        }
        // A key renamed (unknown field) or emptied.
        6 if !keys.is_empty() => {
            let k = keys[rng.random_range(0..keys.len())];
            splice(
                s,
                k,
                ["\"zzz\"", "\"\"", "\"name\""][rng.random_range(0..3)],
            )
        }
        // Truncation.
        7 if !s.is_empty() => {
            let mut n = rng.random_range(0..s.len());
            while !s.is_char_boundary(n) {
                n -= 1;
            }
            s[..n].to_string()
        }
        // Byte-level: flips, insertions, deletions (made valid UTF-8 by
        // lossy conversion, as a text loader would see them).
        _ => {
            let mut b = s.as_bytes().to_vec();
            for _ in 0..rng.random_range(1..8) {
                if b.is_empty() {
                    b.push(b'{');
                }
                let i = rng.random_range(0..b.len());
                match rng.random_range(0..3) {
                    0 => b[i] ^= 1 << rng.random_range(0..8),
                    1 => b.insert(i, b"{}[]\":,0-e.9\\"[rng.random_range(0..13)]),
                    _ => {
                        b.remove(i);
                    }
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        }
    }
}

/// `--set` mutants: a line's value replaced by an extreme or wild value,
/// or its path bent.
fn mutate_set(seed: &[String], rng: &mut aimsim_core::Rng) -> String {
    let line = &seed[rng.random_range(0..seed.len())];
    let (path, value) = line.split_once('=').unwrap();
    match rng.random_range(0..6) {
        0..=3 => format!("{path}={}", wild_value(rng)),
        4 => format!("{path}.x={value}"),
        _ => mutate_once(line, rng),
    }
}

/// Counts of one target's campaign.
#[derive(Debug, Default)]
struct Counts {
    execs: u64,
    accepted: u64,
    panics: Vec<String>,
    slowest: Duration,
}

/// Runs `execs` mutants of `t`'s seeds (and the seeds themselves);
/// inputs that panic or take longer than `limit` are returned.
fn campaign(t: &Target, execs: u64, seed: u64, run_every: u64, limit: Duration) -> Counts {
    let mut rng = aimsim_core::stream(seed, &format!("fuzz/{}", t.name));
    let mut c = Counts::default();
    let dir = scratch();
    let mut ctx = Ctx {
        dir,
        run_accepted: false,
    };
    for i in 0..execs {
        let input = if (i as usize) < t.seeds.len() {
            t.seeds[i as usize].clone()
        } else if t.name == "set" {
            mutate_set(&t.seeds, &mut rng)
        } else {
            let s = &t.seeds[rng.random_range(0..t.seeds.len())];
            mutate(s, &mut rng)
        };
        ctx.run_accepted = run_every > 0 && rng.next_u64().is_multiple_of(run_every);
        let start = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (t.load)(&ctx, &input)));
        let took = start.elapsed();
        c.execs += 1;
        c.slowest = c.slowest.max(took);
        match r {
            Ok(Outcome::Accepted) => c.accepted += 1,
            Ok(Outcome::Refused) => {}
            Err(_) => c.panics.push(input.clone()),
        }
        if took > limit {
            c.panics.push(format!("(took {took:?}) {input}"));
        }
    }
    c
}

fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// A failing input is written where it can be added to the corpus.
fn save_findings(name: &str, c: &Counts) {
    for (i, p) in c.panics.iter().enumerate().take(20) {
        let f = std::env::temp_dir().join(format!("aimsim-fuzz-{name}-{i}.json"));
        let _ = std::fs::write(&f, p);
        eprintln!("{name}: finding written to {}", f.display());
    }
}

#[test]
fn fuzz_loaders_briefly() {
    for t in targets() {
        // ~2,000 mutants per target, every 8th accepted one run a step.
        let c = campaign(&t, 2_000, 1, 8, Duration::from_secs(10));
        save_findings(t.name, &c);
        assert!(
            c.panics.is_empty(),
            "{}: {} findings, first: {}",
            t.name,
            c.panics.len(),
            c.panics[0]
        );
        assert!(
            c.accepted > 0,
            "{}: no mutant accepted: the mutator is too rough",
            t.name
        );
        assert!(c.accepted < c.execs, "{}: every mutant accepted", t.name);
    }
}

#[test]
#[ignore = "long: ≥ 10⁶ executions per target (docs/reliability.md)"]
fn fuzz_loaders_long() {
    quiet_panics();
    let env = |k: &str| std::env::var(k).ok();
    let execs = env("AIMSIM_FUZZ_EXECS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seed = env("AIMSIM_FUZZ_SEED")
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let run_every = env("AIMSIM_FUZZ_RUN_EVERY")
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let pick = env("AIMSIM_FUZZ_TARGETS");
    let mut failed = false;
    for t in targets() {
        if pick
            .as_ref()
            .is_some_and(|p| !p.split(',').any(|n| n == t.name))
        {
            continue;
        }
        let start = Instant::now();
        let c = campaign(&t, execs, seed, run_every, Duration::from_secs(10));
        save_findings(t.name, &c);
        eprintln!(
            "fuzz {}: {} execs, {} accepted, {} panics/hangs, slowest {:?}, {:.0} s",
            t.name,
            c.execs,
            c.accepted,
            c.panics.len(),
            c.slowest,
            start.elapsed().as_secs_f64()
        );
        failed |= !c.panics.is_empty();
    }
    let _ = std::panic::take_hook();
    assert!(!failed, "findings written to the temp folder");
}

/// Every input that once broke a loader (tests/corpus/<target>/) is
/// refused or accepted cleanly now, and accepted ones run a step.
#[test]
fn corpus_never_panics() {
    let corpus = repo().join("tests/corpus");
    let mut seen = 0;
    for t in targets() {
        let dir = corpus.join(t.name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let ctx = Ctx {
            dir: scratch(),
            run_accepted: true,
        };
        for e in entries {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (t.load)(&ctx, &text)));
            assert!(r.is_ok(), "{} panics", p.display());
            seen += 1;
        }
    }
    assert!(seen >= 10, "corpus has {seen} inputs");
}
