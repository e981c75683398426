//! Reads dumps back with the independent `vcd` crate parser.

use aimsim_trace::{SignalId, TraceError, VcdBuilder};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// A value as read back.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Val {
    Bits(u64),
    /// Bit pattern of an `f64`, so `-0.0` and `0.0` differ.
    Real(u64),
}

/// A variable as read back: dotted path, type, size.
#[derive(Clone, Debug, PartialEq, Eq)]
struct VarInfo {
    path: String,
    real: bool,
    size: u32,
}

/// A dump as read back.
#[derive(Debug)]
struct Dump {
    comments: Vec<String>,
    version: Option<String>,
    timescale: Option<(u32, vcd::TimescaleUnit)>,
    /// Scope paths in header order, each once per `$scope`.
    scopes: Vec<String>,
    /// Variables by identifier code, and in header order.
    vars: BTreeMap<String, VarInfo>,
    order: Vec<String>,
    /// Initial values from `$dumpvars`.
    initial: BTreeMap<String, Val>,
    /// Body changes: (time, code, value).
    changes: Vec<(u64, String, Val)>,
    /// Every timestamp, in file order.
    stamps: Vec<u64>,
}

impl Dump {
    fn code(&self, path: &str) -> &str {
        self.vars
            .iter()
            .find(|(_, v)| v.path == path)
            .unwrap_or_else(|| panic!("{path} not in header"))
            .0
    }
}

fn walk(items: &[vcd::ScopeItem], prefix: &str, d: &mut Dump) {
    for it in items {
        match it {
            vcd::ScopeItem::Scope(s) => {
                assert_eq!(s.scope_type, vcd::ScopeType::Module);
                let path = format!("{prefix}{}", s.identifier);
                d.scopes.push(path.clone());
                walk(&s.items, &format!("{path}."), d);
            }
            vcd::ScopeItem::Var(v) => {
                let real = match v.var_type {
                    vcd::VarType::Real => true,
                    vcd::VarType::Wire => false,
                    t => panic!("unexpected var type {t}"),
                };
                assert!(v.index.is_none());
                let code = v.code.to_string();
                let info = VarInfo {
                    path: format!("{prefix}{}", v.reference),
                    real,
                    size: v.size,
                };
                assert!(d.vars.insert(code.clone(), info).is_none(), "code reused");
                d.order.push(code);
            }
            vcd::ScopeItem::Comment(c) => d.comments.push(c.clone()),
            _ => panic!("unexpected header item {it:?}"),
        }
    }
}

/// Parses a whole dump, checking the invariants every dump must keep:
/// timestamps strictly increase, values fit their variables, vectors have
/// no leading zeros, and the body never repeats a signal's last value.
fn parse(text: &[u8]) -> Dump {
    let mut p = vcd::Parser::new(text);
    let header = p.parse_header().expect("header parses");
    assert!(header.date.is_none(), "no $date: output is deterministic");
    let mut d = Dump {
        comments: Vec::new(),
        version: header.version.clone(),
        timescale: header.timescale,
        scopes: Vec::new(),
        vars: BTreeMap::new(),
        order: Vec::new(),
        initial: BTreeMap::new(),
        changes: Vec::new(),
        stamps: Vec::new(),
    };
    walk(&header.items, "", &mut d);
    let mut t = None;
    let mut in_dumpvars = false;
    let mut current: BTreeMap<String, Val> = BTreeMap::new();
    for cmd in p {
        let (code, val) = match cmd.expect("body parses") {
            vcd::Command::Timestamp(ts) => {
                if let Some(last) = t {
                    assert!(ts > last, "timestamps increase: #{ts} after #{last}");
                }
                t = Some(ts);
                d.stamps.push(ts);
                continue;
            }
            vcd::Command::Begin(vcd::SimulationCommand::Dumpvars) => {
                assert_eq!(t, Some(0), "$dumpvars at #0");
                in_dumpvars = true;
                continue;
            }
            vcd::Command::End(vcd::SimulationCommand::Dumpvars) => {
                in_dumpvars = false;
                continue;
            }
            vcd::Command::ChangeScalar(c, v) => {
                let bit = match v {
                    vcd::Value::V0 => 0,
                    vcd::Value::V1 => 1,
                    v => panic!("unexpected scalar {v}"),
                };
                (c.to_string(), Val::Bits(bit))
            }
            vcd::Command::ChangeVector(c, v) => {
                let bits: Vec<vcd::Value> = v.iter().collect();
                assert!(!bits.is_empty() && bits.len() <= 64);
                assert!(
                    bits.len() == 1 || bits[0] == vcd::Value::V1,
                    "no leading zeros"
                );
                let n = bits.iter().fold(0u64, |n, b| {
                    (n << 1)
                        | match b {
                            vcd::Value::V0 => 0,
                            vcd::Value::V1 => 1,
                            v => panic!("unexpected bit {v}"),
                        }
                });
                (c.to_string(), Val::Bits(n))
            }
            vcd::Command::ChangeReal(c, v) => {
                assert!(v.is_finite());
                (c.to_string(), Val::Real(v.to_bits()))
            }
            c => panic!("unexpected command {c:?}"),
        };
        let var = d.vars.get(&code).expect("change of a declared variable");
        match val {
            Val::Bits(n) => {
                assert!(!var.real && (var.size == 64 || n >> var.size == 0));
                if var.size == 1 {
                    assert!(n <= 1);
                }
            }
            Val::Real(_) => assert!(var.real),
        }
        if in_dumpvars {
            assert!(d.initial.insert(code.clone(), val).is_none());
        } else {
            let time = t.expect("a change after a timestamp");
            assert_ne!(current.get(&code), Some(&val), "redundant change");
            d.changes.push((time, code.clone(), val));
        }
        current.insert(code, val);
    }
    assert!(!in_dumpvars);
    d
}

#[test]
fn header_matches_the_declarations() {
    let mut b = VcdBuilder::new("{\n  \"seed\": 1,\n  \"tiles\": 2\n}");
    let decls: Vec<(&str, &str, u32)> = vec![
        ("controller", "phase", 2),
        ("controller", "energy_pj", 0),
        ("chip.tile0", "busy", 1),
        ("chip.tile0", "row", 16),
        ("chip.tile1", "busy", 1),
        ("chip.tile1", "word", 64),
        ("chip", "clock", 1),
    ];
    for (s, n, w) in &decls {
        if *w == 0 {
            b.real(s, n);
        } else {
            b.wire(s, n, *w);
        }
    }
    let out = b.start(Vec::new()).unwrap().finish(0).unwrap();
    let d = parse(&out);
    assert_eq!(
        d.version.as_deref(),
        Some(concat!("aimsim ", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(d.timescale, Some((1, vcd::TimescaleUnit::PS)));
    assert_eq!(d.comments, ["{\n  \"seed\": 1,\n  \"tiles\": 2\n}"]);
    assert_eq!(
        d.scopes,
        ["controller", "chip", "chip.tile0", "chip.tile1"],
        "each scope once, nested"
    );
    let mut got: Vec<VarInfo> = d.vars.values().cloned().collect();
    let mut want: Vec<VarInfo> = decls
        .iter()
        .map(|(s, n, w)| VarInfo {
            path: format!("{s}.{n}"),
            real: *w == 0,
            size: if *w == 0 { 64 } else { *w },
        })
        .collect();
    got.sort_by(|a, b| a.path.cmp(&b.path));
    want.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(got, want);
    // Codes are the standard sequence in declaration order; all start at 0.
    for (n, (s, name, w)) in decls.iter().enumerate() {
        let code = vcd::IdCode::from(n as u64).to_string();
        assert_eq!(d.vars[&code].path, format!("{s}.{name}"));
        let zero = if *w == 0 {
            Val::Real(0f64.to_bits())
        } else {
            Val::Bits(0)
        };
        assert_eq!(d.initial[&code], zero);
    }
    assert_eq!(d.initial.len(), decls.len());
    assert!(d.changes.is_empty());
    assert_eq!(d.stamps, [0]);
}

#[test]
fn every_change_round_trips() {
    let mut b = VcdBuilder::new("round trip");
    let w1 = b.wire("a", "w", 1);
    let v5 = b.wire("a", "v", 5);
    let v64 = b.wire("a.b", "v64", 64);
    let r = b.real("a.b", "r");
    let mut w = b.start(Vec::new()).unwrap();
    let script: Vec<(u64, SignalId, Val)> = vec![
        (0, w1, Val::Bits(1)),
        (0, v5, Val::Bits(31)),
        (3, v64, Val::Bits(u64::MAX)),
        (3, r, Val::Real((-2.5f64).to_bits())),
        (3, w1, Val::Bits(0)),
        (1_000_000_000_000, v5, Val::Bits(0)),
        (1_000_000_000_000, r, Val::Real(1e300f64.to_bits())),
        (u64::MAX - 1, v64, Val::Bits(0x8000_0000_0000_0001)),
        (u64::MAX - 1, r, Val::Real(5e-324f64.to_bits())),
    ];
    for &(t, id, v) in &script {
        match v {
            Val::Bits(n) => w.set_bits(t, id, n).unwrap(),
            Val::Real(x) => w.set_real(t, id, f64::from_bits(x)).unwrap(),
        }
    }
    assert_eq!(w.changes_written(), script.len() as u64);
    let out = w.finish(u64::MAX).unwrap();
    let d = parse(&out);
    let codes = [
        (w1, d.code("a.w")),
        (v5, d.code("a.v")),
        (v64, d.code("a.b.v64")),
        (r, d.code("a.b.r")),
    ];
    let code_of = |id: SignalId| codes.iter().find(|c| c.0 == id).unwrap().1.to_string();
    let want: Vec<(u64, String, Val)> = script
        .iter()
        .map(|&(t, id, v)| (t, code_of(id), v))
        .collect();
    assert_eq!(d.changes, want);
    assert_eq!(d.stamps, [0, 3, 1_000_000_000_000, u64::MAX - 1, u64::MAX]);
}

#[test]
fn selection_drops_unselected_signals_from_header_and_body() {
    let mut b = VcdBuilder::new("{\"seed\": 1}");
    b.select(&["controller.*".to_string(), "tile*.busy".to_string()]);
    let phase = b.wire("controller", "phase", 2);
    let energy = b.real("controller", "energy_pj");
    let busy0 = b.wire("tile0", "busy", 1);
    let adc0 = b.wire("tile0", "adc_busy", 1);
    let busy1 = b.wire("tile1", "busy", 1);
    let row1 = b.wire("tile1", "row", 8);
    let other = b.wire("periphery", "busy", 1);
    let mut w = b.start(Vec::new()).unwrap();
    w.set_bits(3, phase, 2).unwrap();
    w.set_real(3, energy, 1.25).unwrap();
    w.set_bits(4, busy0, 1).unwrap();
    w.set_bits(4, adc0, 1).unwrap();
    w.set_bits(5, row1, 7).unwrap();
    w.set_bits(6, other, 1).unwrap();
    w.set_bits(7, busy1, 1).unwrap();
    assert_eq!(w.changes_written(), 4);
    let d = parse(&w.finish(10).unwrap());
    let mut names: Vec<&str> = d.vars.values().map(|v| v.path.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "controller.energy_pj",
            "controller.phase",
            "tile0.busy",
            "tile1.busy"
        ]
    );
    assert_eq!(d.scopes, ["controller", "tile0", "tile1"]);
    assert_eq!(
        d.changes,
        [
            (3, d.code("controller.phase").into(), Val::Bits(2)),
            (
                3,
                d.code("controller.energy_pj").into(),
                Val::Real(1.25f64.to_bits())
            ),
            (4, d.code("tile0.busy").into(), Val::Bits(1)),
            (7, d.code("tile1.busy").into(), Val::Bits(1)),
        ]
    );
    assert_eq!(d.stamps, [0, 3, 4, 7, 10]);
}

#[test]
fn same_value_twice_and_time_going_back() {
    let mut b = VcdBuilder::new("");
    let x = b.wire("top", "x", 1);
    let mut w = b.start(Vec::new()).unwrap();
    w.set_bits(5, x, 1).unwrap();
    w.set_bits(5, x, 1).unwrap();
    w.set_bits(6, x, 1).unwrap();
    assert_eq!(w.changes_written(), 1);
    let err = w.set_bits(4, x, 0).unwrap_err();
    assert!(
        matches!(&err, TraceError::TimeWentBack { signal, at_ps: 4, last_ps: 6 } if signal == "top.x"),
        "{err:?}"
    );
    assert!(err.to_string().contains("top.x"));
    let d = parse(&w.finish(6).unwrap());
    assert_eq!(d.changes, [(5, d.code("top.x").into(), Val::Bits(1))]);
    assert_eq!(d.stamps, [0, 5, 6]);
}

#[test]
fn comment_with_end_markers_cannot_break_the_file() {
    for comment in [
        "$end",
        "$end $enddefinitions $end #5 1!",
        "{\"a\": \"$end\",\n \"b\": \"x$endy\", \"c\": \"$$end$end\"}",
        "trailing $",
        "",
    ] {
        let mut b = VcdBuilder::new(comment);
        let x = b.wire("s", "x", 1);
        let mut w = b.start(Vec::new()).unwrap();
        w.set_bits(1, x, 1).unwrap();
        let d = parse(&w.finish(2).unwrap());
        assert_eq!(d.comments, [comment.replace("$end", "$ end").trim()]);
        assert_eq!(d.vars.len(), 1);
        assert_eq!(d.changes, [(1, "!".to_string(), Val::Bits(1))]);
    }
}

#[test]
fn writes_through_a_buffered_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.vcd");
    let mut b = VcdBuilder::new("file");
    let ids: Vec<SignalId> = (0..200)
        .map(|i| b.wire("many", &format!("s{i}"), 8))
        .collect();
    let file = std::fs::File::create(&path).unwrap();
    let mut w = b.start(std::io::BufWriter::new(file)).unwrap();
    for t in 1..=50u64 {
        for (i, id) in ids.iter().enumerate() {
            w.set_bits(t * 1000, *id, t * i as u64).unwrap();
        }
    }
    let changes = w.changes_written();
    drop(w.finish(60_000).unwrap());
    let d = parse(&std::fs::read(&path).unwrap());
    assert_eq!(d.vars.len(), 200);
    assert_eq!(d.changes.len() as u64, changes);
    // Codes past the first 94 are two characters long.
    assert!(d.vars.keys().any(|c| c.len() == 2));
    let last = d.code("many.s199");
    let v = d.changes.iter().rev().find(|c| c.1 == last).unwrap();
    assert_eq!(v.2, Val::Bits((50 * 199) & 0xFF));
}

/// A signal of the property test: width 0 means `real`.
fn signals() -> impl Strategy<Value = Vec<(u32, bool)>> {
    proptest::collection::vec(
        (prop_oneof![Just(0u32), Just(1), 1u32..=64], any::<bool>()),
        1..8,
    )
}

/// A finite `f64`, often a repeated one.
fn real() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(1.5),
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn parsed_values_match_a_simple_model(
        sigs in signals(),
        select_some in any::<bool>(),
        ops in proptest::collection::vec(
            (prop_oneof![Just(0u64), 1u64..3, 1u64..1_000_000], any::<usize>(),
             prop_oneof![0u64..4, any::<u64>()], real()),
            0..200),
        tail in 0u64..3,
    ) {
        let mut b = VcdBuilder::new("prop");
        let mut patterns = Vec::new();
        let mut ids = Vec::new();
        for (i, &(width, keep)) in sigs.iter().enumerate() {
            let (scope, name) = (format!("g{}.h{}", i % 2, i % 3), format!("s{i}"));
            if keep {
                patterns.push(format!("{scope}.{name}"));
            }
            ids.push(if width == 0 { b.real(&scope, &name) } else { b.wire(&scope, &name, width) });
        }
        // No patterns at all means everything is dumped.
        let select_some = select_some && !patterns.is_empty();
        let selected: Vec<bool> = sigs.iter().map(|s| !select_some || s.1).collect();
        if select_some {
            b.select(&patterns);
        }
        let mut w = b.start(Vec::new()).unwrap();

        // The model: each signal's value, snapshotted after each time.
        let mut state: Vec<Val> = sigs
            .iter()
            .map(|s| if s.0 == 0 { Val::Real(0f64.to_bits()) } else { Val::Bits(0) })
            .collect();
        let mut snapshots: Vec<(u64, Vec<Val>)> = Vec::new();
        let mut t = 0u64;
        for &(dt, s, bits, x) in &ops {
            if dt > 0 {
                snapshots.push((t, state.clone()));
            }
            t += dt;
            let i = s % sigs.len();
            let width = sigs[i].0;
            if width == 0 {
                w.set_real(t, ids[i], x).unwrap();
                state[i] = Val::Real(x.to_bits());
            } else {
                w.set_bits(t, ids[i], bits).unwrap();
                let mask = if width == 64 { u64::MAX } else { (1 << width) - 1 };
                state[i] = Val::Bits(bits & mask);
            }
        }
        snapshots.push((t, state.clone()));
        let changes = w.changes_written();
        let d = parse(&w.finish(t + tail).unwrap());

        prop_assert_eq!(d.changes.len() as u64, changes);
        prop_assert_eq!(d.vars.len(), selected.iter().filter(|s| **s).count());
        let codes: Vec<Option<String>> = (0..sigs.len())
            .map(|i| {
                let path = format!("g{}.h{}.s{i}", i % 2, i % 3);
                d.vars.iter().find(|(_, v)| v.path == path).map(|(c, v)| {
                    let size = if sigs[i].0 == 0 { 64 } else { sigs[i].0 };
                    assert_eq!((v.real, v.size), (sigs[i].0 == 0, size));
                    c.clone()
                })
            })
            .collect();
        for (i, c) in codes.iter().enumerate() {
            prop_assert_eq!(c.is_some(), selected[i]);
        }
        // Replay the file and compare with the model at every time.
        let mut replay = d.initial.clone();
        let mut k = 0;
        for (time, want) in &snapshots {
            while k < d.changes.len() && d.changes[k].0 <= *time {
                replay.insert(d.changes[k].1.clone(), d.changes[k].2);
                k += 1;
            }
            for (i, c) in codes.iter().enumerate() {
                if let Some(c) = c {
                    prop_assert_eq!(replay[c], want[i], "signal {} at {}", i, time);
                }
            }
        }
        prop_assert_eq!(k, d.changes.len());
        // The dump ends at the end asked for.
        prop_assert_eq!(*d.stamps.last().unwrap(), t + tail);
    }
}
