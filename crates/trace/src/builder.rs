//! Declaring signals and writing the header: [`VcdBuilder`] collects
//! scopes, signals and the selection, and [`VcdBuilder::start`] writes the
//! header and initial values and hands over to a [`VcdWriter`].

use crate::scope::{self, Decl};
use crate::select::glob;
use crate::writer::{Slot, VcdWriter};
use crate::Result;
use std::io::Write;

/// A signal declared on a [`VcdBuilder`]; valid only with the
/// [`VcdWriter`] that builder starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalId(pub(crate) usize);

/// Declares scopes and signals before the dump starts.
#[derive(Clone, Debug)]
pub struct VcdBuilder {
    comment: String,
    patterns: Vec<String>,
    decls: Vec<Decl>,
}

impl VcdBuilder {
    /// A builder whose header carries `comment` in a `$comment` section.
    ///
    /// The comment may be anything, e.g. multi-line JSON of the seed and
    /// configuration: every `$end` inside it is written as `$ end`, so it
    /// cannot close the section early.
    pub fn new(comment: &str) -> Self {
        VcdBuilder {
            comment: comment.replace("$end", "$ end"),
            patterns: Vec::new(),
            decls: Vec::new(),
        }
    }

    /// Dumps only signals whose full dotted name (`tile0.busy`,
    /// `chip.tile0.busy`) matches one of `patterns`, where `*` matches any
    /// characters, dots included (`tile*.busy`, `controller.*`).
    ///
    /// Surrounding whitespace of a pattern is ignored. No patterns (the
    /// default) dumps everything. Replaces any earlier selection, and
    /// applies to all signals, declared before or after, when
    /// [`start`](Self::start) is called.
    pub fn select(&mut self, patterns: &[String]) -> &mut Self {
        self.patterns = patterns.iter().map(|p| p.trim().to_string()).collect();
        self
    }

    /// The selection patterns that match none of the signals declared so
    /// far (to tell a user that a pattern selects nothing).
    pub fn unmatched_patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .filter(|p| !self.decls.iter().any(|d| glob(p, &d.full_name())))
            .cloned()
            .collect()
    }

    fn declare(&mut self, scope: &str, name: &str, width: u32) -> SignalId {
        self.decls.push(Decl::new(scope, name, width));
        SignalId(self.decls.len() - 1)
    }

    /// A digital wire (`width` 1) or vector (`width` 2..=64) named `name`
    /// in the dotted `scope` (`"chip.tile0"` becomes two nested
    /// `$scope module` sections; `""` declares it at the top level).
    /// Its initial value is 0.
    ///
    /// Whitespace, control characters and `$` in names are written as `_`.
    ///
    /// # Panics
    /// If `width` is 0 or above 64 (a programming error in the caller).
    pub fn wire(&mut self, scope: &str, name: &str, width: u32) -> SignalId {
        assert!(
            (1..=64).contains(&width),
            "VCD wire {scope}.{name}: width {width} is not in 1..=64"
        );
        self.declare(scope, name, width)
    }

    /// A `real` variable (written `r<value> <id>`) named `name` in the
    /// dotted `scope`, as for [`wire`](Self::wire). Its initial value is 0.
    pub fn real(&mut self, scope: &str, name: &str) -> SignalId {
        self.declare(scope, name, 0)
    }

    /// Writes the header — `$version aimsim <crate version>`, the
    /// `$comment`, `$timescale 1 ps`, the selected signals in their scopes
    /// (first-declaration order) and `$enddefinitions` — then `#0` and a
    /// `$dumpvars` section giving every selected signal its initial value 0.
    /// No `$date` is written, so the output is deterministic.
    pub fn start<W: Write>(self, mut out: W) -> Result<VcdWriter<W>> {
        let selected: Vec<bool> = self
            .decls
            .iter()
            .map(|d| {
                self.patterns.is_empty() || {
                    let full = d.full_name();
                    self.patterns.iter().any(|p| glob(p, &full))
                }
            })
            .collect();
        // Codes are numbered over the selected signals only, so a selection
        // gives the short codes to the signals it keeps.
        let mut next_code = 0;
        let slots: Vec<Slot> = self
            .decls
            .iter()
            .zip(&selected)
            .map(|(d, &sel)| {
                let code = sel.then(|| {
                    next_code += 1;
                    next_code - 1
                });
                Slot::new(code, d.width)
            })
            .collect();
        let nodes = scope::tree(&self.decls, &selected);

        writeln!(out, "$version aimsim {} $end", env!("CARGO_PKG_VERSION"))?;
        writeln!(out, "$comment\n{}\n$end", self.comment)?;
        writeln!(out, "$timescale 1 ps $end")?;
        scope::write_scope(&mut out, &nodes, 0, &self.decls, &slots)?;
        writeln!(out, "$enddefinitions $end")?;
        writeln!(out, "#0")?;
        writeln!(out, "$dumpvars")?;
        for s in slots.iter().filter(|s| s.selected) {
            let code = s.code();
            match s.width {
                0 => out.write_all(b"r0 ")?,
                1 => out.write_all(b"0")?,
                _ => out.write_all(b"b0 ")?,
            }
            out.write_all(code)?;
            out.write_all(b"\n")?;
        }
        writeln!(out, "$end")?;
        let names = self.decls.iter().map(Decl::full_name).collect();
        Ok(VcdWriter::new(out, slots, names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{body, text};

    #[test]
    fn unmatched_patterns_are_reported() {
        let mut b = VcdBuilder::new("");
        b.wire("tile0", "busy", 1);
        b.real("controller", "energy_pj");
        b.select(&["tile*.busy".into(), "controller.*".into(), "adc*".into()]);
        assert_eq!(b.unmatched_patterns(), vec!["adc*".to_string()]);
        b.select(&[]);
        assert!(b.unmatched_patterns().is_empty());
    }

    #[test]
    fn exact_golden_dump() {
        let mut b = VcdBuilder::new("golden");
        let p = b.wire("controller", "phase", 2);
        let busy = b.wire("chip.tile0", "busy", 1);
        let e = b.real("controller", "energy_pj");
        let mut w = b.start(Vec::new()).unwrap();
        w.set_bits(0, p, 1).unwrap();
        w.set_bits(5, busy, 1).unwrap();
        w.set_bits(5, busy, 1).unwrap();
        w.set_real(7, e, 0.25).unwrap();
        w.set_bits(9, p, 6).unwrap();
        w.set_bits(9, busy, 0).unwrap();
        let expected = format!(
            "$version aimsim {} $end\n\
$comment\ngolden\n$end\n\
$timescale 1 ps $end\n\
$scope module controller $end\n\
$var wire 2 ! phase $end\n\
$var real 64 # energy_pj $end\n\
$upscope $end\n\
$scope module chip $end\n\
$scope module tile0 $end\n\
$var wire 1 \" busy $end\n\
$upscope $end\n\
$upscope $end\n\
$enddefinitions $end\n\
#0\n\
$dumpvars\nb0 !\n0\"\nr0 #\n$end\n\
b1 !\n\
#5\n1\"\n\
#7\nr0.25 #\n\
#9\nb10 !\n0\"\n\
#12\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(text(w, 12), expected);
    }

    #[test]
    fn selection_drops_signals_from_header_and_body() {
        let mut b = VcdBuilder::new("");
        let busy = b.wire("tile0", "busy", 1);
        let adc = b.wire("tile0", "adc_busy", 1);
        let phase = b.wire("controller", "phase", 2);
        // Selection given after the declarations still applies to them.
        b.select(&[" tile*.busy ".to_string()]);
        let mut w = b.start(Vec::new()).unwrap();
        w.set_bits(1, phase, 3).unwrap();
        w.set_bits(2, adc, 1).unwrap();
        w.set_bits(3, busy, 1).unwrap();
        // Unselected signals are not checked either.
        w.set_bits(0, phase, 1).unwrap();
        w.set_real(0, adc, f64::NAN).unwrap();
        assert_eq!(w.changes_written(), 1);
        let out = text(w, 3);
        assert!(!out.contains("adc_busy") && !out.contains("phase"));
        assert!(!out.contains("controller"));
        assert!(out.contains("$var wire 1 ! busy $end"));
        assert_eq!(body(&out), "#3\n1!\n");
    }

    #[test]
    fn scopes_are_written_once_even_when_declared_apart() {
        let mut b = VcdBuilder::new("");
        b.wire("chip.tile0", "busy", 1);
        b.wire("controller", "phase", 2);
        b.wire("chip.tile1", "busy", 1);
        b.wire("chip", "clock", 1);
        b.wire("", "top", 1);
        b.real("..odd scope.", "a b");
        let out = text(b.start(Vec::new()).unwrap(), 0);
        assert_eq!(out.matches("$scope module chip $end").count(), 1);
        let header: String = out
            .lines()
            .filter(|l| l.starts_with("$scope") || l.starts_with("$var") || l.starts_with("$up"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            header,
            "$scope module chip $end\n\
$scope module tile0 $end\n$var wire 1 ! busy $end\n$upscope $end\n\
$scope module tile1 $end\n$var wire 1 # busy $end\n$upscope $end\n\
$var wire 1 $ clock $end\n\
$upscope $end\n\
$scope module controller $end\n$var wire 2 \" phase $end\n$upscope $end\n\
$var wire 1 % top $end\n\
$scope module odd_scope $end\n$var real 64 & a_b $end\n$upscope $end"
        );
    }

    #[test]
    fn comment_cannot_end_early() {
        let nasty = "{\n  \"note\": \"evil $end $var wire 1 ! x $end\",\n  \"k\": \"$$end\", \"j\": \"a$endb\"\n}";
        let mut b = VcdBuilder::new(nasty);
        let r = b.real("s", "r");
        let mut w = b.start(Vec::new()).unwrap();
        w.set_real(1, r, 2.0).unwrap();
        let out = text(w, 1);
        let comment = &out[out.find("$comment\n").unwrap() + 9..];
        let comment = &comment[..comment.find("\n$end\n").unwrap()];
        assert!(!comment.contains("$end"));
        assert_eq!(comment, nasty.replace("$end", "$ end"));
        // The independent parser sees the whole comment and one variable.
        let mut p = vcd::Parser::new(out.as_bytes());
        let h = p.parse_header().unwrap();
        let comments: Vec<&String> = h
            .items
            .iter()
            .filter_map(|i| match i {
                vcd::ScopeItem::Comment(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(comments, [&nasty.replace("$end", "$ end")]);
        assert_eq!(h.items.len(), 2);
        assert!(h.find_var(&["s", "r"]).is_some());
    }
}
