//! Reads dumps back with the independent `vcd` crate parser.

use aimsim_trace::VcdBuilder;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// (time, identifier code, value as text).
type Change = (u64, String, String);

/// Parses a dump: (variable names by code, changes).
fn parse(text: &[u8]) -> (BTreeMap<String, String>, Vec<Change>) {
    let mut p = vcd::Parser::new(text);
    let header = p.parse_header().expect("header parses");
    let mut names = BTreeMap::new();
    fn walk(items: &[vcd::ScopeItem], prefix: &str, names: &mut BTreeMap<String, String>) {
        for it in items {
            match it {
                vcd::ScopeItem::Scope(s) => {
                    walk(&s.items, &format!("{prefix}{}.", s.identifier), names)
                }
                vcd::ScopeItem::Var(v) => {
                    names.insert(v.code.to_string(), format!("{prefix}{}", v.reference));
                }
                _ => {}
            }
        }
    }
    walk(&header.items, "", &mut names);
    let mut t = 0u64;
    let mut changes = Vec::new();
    for cmd in p {
        match cmd.expect("body parses") {
            vcd::Command::Timestamp(ts) => {
                assert!(ts >= t, "timestamps never decrease");
                t = ts;
            }
            vcd::Command::ChangeScalar(c, v) => changes.push((t, c.to_string(), v.to_string())),
            vcd::Command::ChangeVector(c, v) => {
                let s: String = v.iter().map(|b| b.to_string()).collect();
                let n = u64::from_str_radix(&s, 2).unwrap();
                changes.push((t, c.to_string(), n.to_string()))
            }
            vcd::Command::ChangeReal(c, v) => changes.push((t, c.to_string(), v.to_string())),
            _ => {}
        }
    }
    (names, changes)
}

#[test]
fn header_and_selection_round_trip() {
    let mut b = VcdBuilder::new("{\"seed\": 1}");
    b.select(&["controller.*".to_string(), "tile*.busy".to_string()]);
    let phase = b.wire("controller", "phase", 2);
    let busy = b.wire("tile0", "busy", 1);
    let adc = b.wire("tile0", "adc_busy", 1);
    let mut w = b.start(Vec::new()).unwrap();
    w.set_bits(3, phase, 2).unwrap();
    w.set_bits(4, busy, 1).unwrap();
    w.set_bits(4, adc, 1).unwrap();
    assert_eq!(w.changes_written(), 2);
    let out = w.finish(10).unwrap();
    let (names, changes) = parse(&out);
    let vars: Vec<&String> = names.values().collect();
    assert_eq!(vars, ["controller.phase", "tile0.busy"]);
    let code_of = |n: &str| names.iter().find(|(_, v)| *v == n).unwrap().0.clone();
    assert!(changes.contains(&(3, code_of("controller.phase"), "2".into())));
    assert!(changes.contains(&(4, code_of("tile0.busy"), "1".into())));
}

proptest! {
    #[test]
    fn last_values_round_trip(ops in proptest::collection::vec((0u64..5, 0usize..3, 0u64..16, -1e6f64..1e6), 1..100)) {
        let mut b = VcdBuilder::new("prop");
        let ids = [b.wire("a", "w", 1), b.wire("a", "v", 4), b.real("b", "r")];
        let mut w = b.start(Vec::new()).unwrap();
        let mut t = 0;
        let mut model: BTreeMap<usize, String> = BTreeMap::new();
        for (dt, s, bits, real) in ops {
            t += dt;
            match s {
                0 => { w.set_bits(t, ids[0], bits & 1).unwrap(); model.insert(0, (bits & 1).to_string()); }
                1 => { w.set_bits(t, ids[1], bits).unwrap(); model.insert(1, bits.to_string()); }
                _ => { w.set_real(t, ids[2], real).unwrap(); model.insert(2, real.to_string()); }
            }
        }
        let out = w.finish(t + 1).unwrap();
        let (names, changes) = parse(&out);
        let by_name = |n: &str| names.iter().find(|(_, v)| *v == n).unwrap().0.clone();
        for (k, name) in [(0, "a.w"), (1, "a.v"), (2, "b.r")] {
            let code = by_name(name);
            let last = changes.iter().rev().find(|c| c.1 == code).map(|c| c.2.clone());
            let want = model.get(&k).cloned().unwrap_or_else(|| "0".into());
            let got = last.unwrap_or_else(|| "0".into());
            if k == 2 {
                let (g, e): (f64, f64) = (got.parse().unwrap(), want.parse().unwrap());
                prop_assert_eq!(g, e);
            } else {
                prop_assert_eq!(got, want);
            }
        }
    }
}
