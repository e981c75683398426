//! IEEE 1364 value change dump (VCD) writer, readable by GTKWave and Surfer.
//!
//! The simulator declares its signals on a [`VcdBuilder`] — digital wires
//! (width 1), vectors (width 2..=64) and `real` variables, each in a dotted
//! scope such as `chip.tile0` that becomes nested `$scope module` sections —
//! then [`VcdBuilder::start`] writes the header and the initial values and
//! returns a [`VcdWriter`] that the event engine calls as values change.
//!
//! - **Units**: time is integer picoseconds everywhere in the API and in
//!   the file (`$timescale 1 ps $end`); `#10000` is 10 ns.
//! - **Changes only**: a value is written only when it differs from the
//!   last one written for that signal, and a `#time` line only when time
//!   advances. Time must never go backwards ([`TraceError::TimeWentBack`]).
//! - **Deterministic**: no `$date` is written; the file is a pure function
//!   of the declarations and the calls, so dumps can be compared byte for
//!   byte. The `$version` is `aimsim <crate version>`; the caller's comment
//!   (seed, configuration, possibly multi-line JSON) goes into `$comment`.
//! - **Selection**: [`VcdBuilder::select`] keeps only signals whose dotted
//!   name matches a `*` glob; calls on the others are cheap no-ops.
//! - **Encoding**: identifier codes are the standard printable base-94
//!   codes (`!`, `"`, … `~`, `!!`, …); wires are written `1!` / `0!`,
//!   vectors `b1010 "` without leading zeros, reals `r12.5 #`.
//!
//! ```
//! use aimsim_trace::VcdBuilder;
//!
//! let mut b = VcdBuilder::new("seed 1");
//! let busy = b.wire("tile0", "busy", 1);
//! let energy = b.real("controller", "energy_pj");
//! let mut w = b.start(Vec::new())?; // usually a BufWriter<File>
//! w.set_bits(0, busy, 1)?;
//! w.set_bits(10_000, busy, 0)?; // at 10 ns
//! w.set_real(10_000, energy, 12.5)?;
//! w.set_real(10_000, energy, 12.5)?; // unchanged: nothing written
//! assert_eq!(w.changes_written(), 3);
//! let text = String::from_utf8(w.finish(20_000)?).unwrap();
//! assert!(text.contains("#10000\n0!\nr12.5 \"\n#20000\n"));
//! # Ok::<(), aimsim_trace::TraceError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io::Write;

/// Errors of the VCD writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The output could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A value was set at a time before one already given to the writer.
    #[error("VCD signal {signal}: time {at_ps} ps is before {last_ps} ps already reached")]
    TimeWentBack {
        /// The signal's dotted name.
        signal: String,
        /// The time asked for, in picoseconds.
        at_ps: u64,
        /// The latest time already given, in picoseconds.
        last_ps: u64,
    },
    /// A real value was NaN or infinite, which VCD readers cannot represent.
    #[error("VCD signal {signal}: value {value} is not finite")]
    NotFinite {
        /// The signal's dotted name.
        signal: String,
        /// The value.
        value: f64,
    },
    /// [`VcdWriter::set_bits`] was called on a `real` variable, or
    /// [`VcdWriter::set_real`] on a wire or vector.
    #[error("VCD signal {signal} is not a {expected}")]
    WrongKind {
        /// The signal's dotted name.
        signal: String,
        /// What the call needed: `"wire or vector"` or `"real"`.
        expected: &'static str,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TraceError>;

/// A signal declared on a [`VcdBuilder`]; valid only with the
/// [`VcdWriter`] that builder starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalId(usize);

/// Longest identifier code: base-94 codes of a `usize` need at most 10 chars.
const CODE_MAX: usize = 10;

/// Reals whose `{}` form is longer than this are written in `{:e}` form
/// (the `vcd` crate, for one, refuses tokens over 32 bytes).
const REAL_MAX_CHARS: usize = 24;

/// A signal as declared.
#[derive(Clone, Debug)]
pub(crate) struct Decl {
    /// Scope path, already split and sanitised (empty: top level).
    scope: Vec<String>,
    /// Sanitised variable name.
    name: String,
    /// Bits; 0 for a `real` variable.
    width: u32,
}

impl Decl {
    /// The dotted full name, e.g. `chip.tile0.busy`.
    fn full_name(&self) -> String {
        let mut s = String::new();
        for p in &self.scope {
            s.push_str(p);
            s.push('.');
        }
        s.push_str(&self.name);
        s
    }
}

/// Declares scopes and signals before the dump starts.
#[derive(Clone, Debug)]
pub struct VcdBuilder {
    comment: String,
    patterns: Vec<String>,
    decls: Vec<Decl>,
}

/// The standard printable identifier code of signal number `n`: bijective
/// base 94 over `!`..=`~`, least significant digit first (`!`, `"`, …, `~`,
/// `!!`, `"!`, …), as GTKWave and the `vcd` crate number them.
pub(crate) fn id_code(mut n: usize) -> ([u8; CODE_MAX], u8) {
    let mut code = [0u8; CODE_MAX];
    let mut len = 0;
    loop {
        code[len] = b'!' + (n % 94) as u8;
        len += 1;
        n /= 94;
        if n == 0 {
            return (code, len as u8);
        }
        n -= 1;
    }
}

/// Glob match of `text` against `pattern`, where `*` matches any run of
/// characters (dots included) and every other character matches itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A scope or variable name safe in a VCD header: whitespace, control
/// characters and `$` become `_`; an empty name becomes `_`.
pub(crate) fn sanitise(name: &str) -> String {
    if name.is_empty() {
        return "_".to_string();
    }
    name.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '$' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// One node of the scope tree written in the header.
#[derive(Default)]
pub(crate) struct ScopeNode {
    name: String,
    /// Variables (by declaration index) and sub-scopes (by node index), in
    /// first-declaration order.
    items: Vec<ScopeItem>,
}

/// An entry of a [`ScopeNode`].
pub(crate) enum ScopeItem {
    Var(usize),
    Scope(usize),
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
            .filter(|p| {
                !self.decls.iter().any(|d| {
                    let mut full = d.scope.join(".");
                    if !full.is_empty() {
                        full.push('.');
                    }
                    full.push_str(&d.name);
                    glob(p, &full)
                })
            })
            .cloned()
            .collect()
    }

    fn declare(&mut self, scope: &str, name: &str, width: u32) -> SignalId {
        self.decls.push(Decl {
            scope: scope
                .split('.')
                .filter(|p| !p.is_empty())
                .map(sanitise)
                .collect(),
            name: sanitise(name),
            width,
        });
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
        let mut slots = Vec::with_capacity(self.decls.len());
        let mut next_code = 0;
        for (d, &sel) in self.decls.iter().zip(&selected) {
            let (code, code_len) = if sel {
                next_code += 1;
                id_code(next_code - 1)
            } else {
                ([0; CODE_MAX], 0)
            };
            slots.push(Slot {
                code,
                code_len,
                width: d.width,
                selected: sel,
                last: 0,
            });
        }

        // The scope tree of the selected signals, in first-declaration order.
        let mut nodes = vec![ScopeNode::default()];
        for (i, d) in self.decls.iter().enumerate().filter(|(i, _)| selected[*i]) {
            let mut at = 0;
            for part in &d.scope {
                let found = nodes[at].items.iter().find_map(|it| match it {
                    ScopeItem::Scope(c) if nodes[*c].name == *part => Some(*c),
                    _ => None,
                });
                at = match found {
                    Some(c) => c,
                    None => {
                        nodes.push(ScopeNode {
                            name: part.clone(),
                            items: Vec::new(),
                        });
                        let c = nodes.len() - 1;
                        nodes[at].items.push(ScopeItem::Scope(c));
                        c
                    }
                };
            }
            nodes[at].items.push(ScopeItem::Var(i));
        }

        writeln!(out, "$version aimsim {} $end", env!("CARGO_PKG_VERSION"))?;
        writeln!(out, "$comment\n{}\n$end", self.comment)?;
        writeln!(out, "$timescale 1 ps $end")?;
        write_scope(&mut out, &nodes, 0, &self.decls, &slots)?;
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
        Ok(VcdWriter {
            out,
            slots,
            names: self.decls.iter().map(Decl::full_name).collect(),
            time_ps: 0,
            stamped_ps: 0,
            changes: 0,
            buf: Vec::with_capacity(128),
        })
    }
}

/// Writes the items of scope `node` (node 0 is the top level, itself not
/// written as a scope).
fn write_scope<W: Write>(
    out: &mut W,
    nodes: &[ScopeNode],
    node: usize,
    decls: &[Decl],
    slots: &[Slot],
) -> std::io::Result<()> {
    for item in &nodes[node].items {
        match *item {
            ScopeItem::Var(i) => {
                let (d, code) = (&decls[i], slots[i].code());
                let code = std::str::from_utf8(code).expect("ASCII code");
                if d.width == 0 {
                    writeln!(out, "$var real 64 {code} {} $end", d.name)?;
                } else {
                    writeln!(out, "$var wire {} {code} {} $end", d.width, d.name)?;
                }
            }
            ScopeItem::Scope(c) => {
                writeln!(out, "$scope module {} $end", nodes[c].name)?;
                write_scope(out, nodes, c, decls, slots)?;
                writeln!(out, "$upscope $end")?;
            }
        }
    }
    Ok(())
}

/// A signal's state while dumping.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    code: [u8; CODE_MAX],
    code_len: u8,
    /// Bits; 0 for a `real` variable.
    width: u32,
    selected: bool,
    /// Last value written: the bits, or the `f64`'s bit pattern.
    last: u64,
}

impl Slot {
    fn code(&self) -> &[u8] {
        &self.code[..usize::from(self.code_len)]
    }
}

/// Writes value changes in time order; made by [`VcdBuilder::start`].
///
/// Writes go straight to the inner writer, one `write_all` per change, so
/// pass a buffered writer (e.g. `BufWriter<File>`) for speed. Nothing is
/// allocated per change.
pub struct VcdWriter<W: Write> {
    out: W,
    slots: Vec<Slot>,
    /// Dotted names, for error messages.
    names: Vec<String>,
    /// Latest time given for a selected signal.
    time_ps: u64,
    /// Time of the last `#` line written.
    stamped_ps: u64,
    changes: u64,
    /// Reused line buffer.
    buf: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for VcdWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VcdWriter")
            .field("signals", &self.slots.len())
            .field("time_ps", &self.time_ps)
            .field("changes", &self.changes)
            .finish_non_exhaustive()
    }
}

/// Appends the decimal digits of `n`.
fn push_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

impl<W: Write> VcdWriter<W> {
    /// Refuses `time_ps` if it is before the latest time given, else makes
    /// it the latest.
    fn check_time(&mut self, id: SignalId, time_ps: u64) -> Result<()> {
        if time_ps < self.time_ps {
            return Err(TraceError::TimeWentBack {
                signal: self.names[id.0].clone(),
                at_ps: time_ps,
                last_ps: self.time_ps,
            });
        }
        self.time_ps = time_ps;
        Ok(())
    }

    /// Clears the line buffer and adds a `#time` line if needed.
    fn begin_change(&mut self) {
        self.buf.clear();
        if self.time_ps > self.stamped_ps {
            self.stamped_ps = self.time_ps;
            self.buf.push(b'#');
            push_decimal(&mut self.buf, self.time_ps);
            self.buf.push(b'\n');
        }
        self.changes += 1;
    }

    /// Sets wire or vector `id` to `value` at `time_ps` picoseconds.
    ///
    /// Bits above the signal's width are masked off. A change is written
    /// only if the masked value differs from the last one written, and a
    /// `#time` line only if time advanced. `time_ps` must not be before a
    /// time already given for any selected signal
    /// ([`TraceError::TimeWentBack`], checked even when the value is
    /// unchanged); calling this on a `real` is [`TraceError::WrongKind`].
    /// Signals left out by [`VcdBuilder::select`] are ignored (no checks,
    /// nothing written).
    ///
    /// # Panics
    /// If `id` was not declared on the builder that made this writer.
    pub fn set_bits(&mut self, time_ps: u64, id: SignalId, value: u64) -> Result<()> {
        let s = &self.slots[id.0];
        if !s.selected {
            return Ok(());
        }
        if s.width == 0 {
            return Err(TraceError::WrongKind {
                signal: self.names[id.0].clone(),
                expected: "wire or vector",
            });
        }
        let value = if s.width >= 64 {
            value
        } else {
            value & ((1u64 << s.width) - 1)
        };
        self.check_time(id, time_ps)?;
        if self.slots[id.0].last == value {
            return Ok(());
        }
        self.begin_change();
        let s = &mut self.slots[id.0];
        s.last = value;
        if s.width == 1 {
            self.buf.push(b'0' + value as u8);
        } else {
            self.buf.push(b'b');
            let top = 64 - value.leading_zeros().min(63);
            for bit in (0..top).rev() {
                self.buf.push(b'0' + ((value >> bit) & 1) as u8);
            }
            self.buf.push(b' ');
        }
        self.buf.extend_from_slice(s.code());
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    /// Sets `real` variable `id` to `value` at `time_ps` picoseconds.
    ///
    /// A change is written only if the value's bit pattern differs from the
    /// last one written (so `-0.0` after `0.0` is a change). The value is
    /// written with Rust's shortest round-trip `{}` form (`r12.5 #`), or the
    /// `{:e}` form (`r1e300 #`) when `{}` would be longer than 24
    /// characters, as readers limit token lengths. NaN and infinities are
    /// refused with [`TraceError::NotFinite`] and nothing is written. Times,
    /// wrong kinds and unselected signals as for
    /// [`set_bits`](Self::set_bits).
    ///
    /// # Panics
    /// If `id` was not declared on the builder that made this writer.
    pub fn set_real(&mut self, time_ps: u64, id: SignalId, value: f64) -> Result<()> {
        let s = &self.slots[id.0];
        if !s.selected {
            return Ok(());
        }
        if s.width != 0 {
            return Err(TraceError::WrongKind {
                signal: self.names[id.0].clone(),
                expected: "real",
            });
        }
        if !value.is_finite() {
            return Err(TraceError::NotFinite {
                signal: self.names[id.0].clone(),
                value,
            });
        }
        self.check_time(id, time_ps)?;
        if self.slots[id.0].last == value.to_bits() {
            return Ok(());
        }
        self.begin_change();
        let s = &mut self.slots[id.0];
        s.last = value.to_bits();
        self.buf.push(b'r');
        let start = self.buf.len();
        write!(self.buf, "{value}")?;
        if self.buf.len() - start > REAL_MAX_CHARS {
            self.buf.truncate(start);
            write!(self.buf, "{value:e}")?;
        }
        self.buf.push(b' ');
        self.buf.extend_from_slice(s.code());
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    /// Ends the dump: writes `#end_ps` if it is later than the last time
    /// line written (so viewers show the run's full length; an earlier
    /// `end_ps` adds nothing), flushes, and returns the inner writer.
    pub fn finish(mut self, end_ps: u64) -> Result<W> {
        if end_ps > self.stamped_ps {
            self.buf.clear();
            self.buf.push(b'#');
            push_decimal(&mut self.buf, end_ps);
            self.buf.push(b'\n');
            self.out.write_all(&self.buf)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Number of value changes written so far, not counting the initial
    /// values of `$dumpvars`.
    pub fn changes_written(&self) -> u64 {
        self.changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn code(n: usize) -> String {
        let (c, len) = id_code(n);
        String::from_utf8(c[..usize::from(len)].to_vec()).unwrap()
    }

    fn text(w: VcdWriter<Vec<u8>>, end: u64) -> String {
        String::from_utf8(w.finish(end).unwrap()).unwrap()
    }

    /// The body: everything after `$dumpvars ... $end`.
    fn body(t: &str) -> &str {
        let i = t.find("$dumpvars").unwrap();
        let j = t[i..].find("$end\n").unwrap();
        &t[i + j + 5..]
    }

    #[test]
    fn id_codes_are_unique_printable_and_standard() {
        let codes: Vec<String> = (0..20_000).map(code).collect();
        let set: std::collections::BTreeSet<&String> = codes.iter().collect();
        assert_eq!(set.len(), codes.len());
        assert!(codes
            .iter()
            .all(|c| c.bytes().all(|b| (b'!'..=b'~').contains(&b))));
        assert_eq!(code(0), "!");
        assert_eq!(code(93), "~");
        assert_eq!(code(94), "!!");
        assert_eq!(code(95), "\"!");
        for n in [0usize, 1, 93, 94, 95, 8_835, 8_836, 1_000_000] {
            assert_eq!(code(n), vcd::IdCode::from(n as u64).to_string());
        }
        assert!(code(usize::MAX).len() <= CODE_MAX);
    }

    #[test]
    fn globs() {
        assert!(glob("tile*.busy", "tile12.busy"));
        assert!(glob("controller.*", "controller.phase"));
        assert!(!glob("controller.*", "controllerx.phase"));
        assert!(!glob("tile*.busy", "tile1.adc_busy"));
        assert!(glob("*busy", "tile1.adc_busy"));
        assert!(glob("*", "x"));
        assert!(glob("a*b*c", "a.x.b.y.c"));
        assert!(!glob("a*b*c", "a.x.b.y.d"));
        assert!(glob("exact.name", "exact.name"));
        assert!(!glob("exact.name", "exact.names"));
        assert!(!glob("", "x"));
    }

    #[test]
    fn sanitised_names() {
        assert_eq!(sanitise("a b\tc$end"), "a_b_c_end");
        assert_eq!(sanitise(""), "_");
        assert_eq!(sanitise("row[3:0]"), "row[3:0]");
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
    fn same_value_twice_is_one_change() {
        let mut b = VcdBuilder::new("");
        let x = b.wire("s", "x", 1);
        let v = b.wire("s", "v", 8);
        let r = b.real("s", "r");
        let mut w = b.start(Vec::new()).unwrap();
        for t in [1, 1, 2, 3] {
            w.set_bits(t, x, 1).unwrap();
            w.set_bits(t, v, 0xAB).unwrap();
            w.set_real(t, r, 1.5).unwrap();
        }
        // Setting the initial value writes nothing either.
        let mut b = VcdBuilder::new("");
        let y = b.wire("s", "y", 1);
        let mut w0 = b.start(Vec::new()).unwrap();
        w0.set_bits(4, y, 0).unwrap();
        assert_eq!(w0.changes_written(), 0);
        assert_eq!(body(&text(w0, 0)), "");

        assert_eq!(w.changes_written(), 3);
        assert_eq!(body(&text(w, 3)), "#1\n1!\nb10101011 \"\nr1.5 #\n#3\n");
    }

    #[test]
    fn values_are_masked_to_the_width() {
        let mut b = VcdBuilder::new("");
        let x = b.wire("s", "x", 1);
        let v = b.wire("s", "v", 4);
        let q = b.wire("s", "q", 64);
        let mut w = b.start(Vec::new()).unwrap();
        w.set_bits(1, x, 2).unwrap(); // masks to 0: no change
        w.set_bits(1, v, 0x1F).unwrap();
        w.set_bits(2, v, 0x10).unwrap(); // masks to 0
        w.set_bits(3, q, u64::MAX).unwrap();
        w.set_bits(4, q, 1 << 63).unwrap();
        let expected = format!(
            "#1\nb1111 \"\n#2\nb0 \"\n#3\nb{} #\n#4\nb1{} #\n",
            "1".repeat(64),
            "0".repeat(63)
        );
        assert_eq!(body(&text(w, 0)), expected);
    }

    #[test]
    fn time_going_back_is_an_error_naming_the_signal() {
        let mut b = VcdBuilder::new("");
        let x = b.wire("chip.s", "x", 1);
        let r = b.real("chip.s", "r");
        let mut w = b.start(Vec::new()).unwrap();
        w.set_bits(10, x, 1).unwrap();
        match w.set_bits(5, x, 0).unwrap_err() {
            TraceError::TimeWentBack {
                signal,
                at_ps,
                last_ps,
            } => assert_eq!((signal.as_str(), at_ps, last_ps), ("chip.s.x", 5, 10)),
            e => panic!("{e}"),
        }
        // Also when the value would not change, and for reals.
        assert!(matches!(
            w.set_bits(9, x, 1),
            Err(TraceError::TimeWentBack { .. })
        ));
        let e = w.set_real(3, r, 2.0).unwrap_err().to_string();
        assert!(e.contains("chip.s.r") && e.contains("3 ps"), "{e}");
        // Unchanged values still advance the writer's time.
        w.set_bits(20, x, 1).unwrap();
        assert!(w.set_bits(15, x, 0).is_err());
        // The writer stays usable and nothing bad was written.
        w.set_bits(20, x, 0).unwrap();
        assert_eq!(body(&text(w, 20)), "#10\n1!\n#20\n0!\n");
    }

    #[test]
    fn wrong_kinds_and_non_finite_reals_are_refused() {
        let mut b = VcdBuilder::new("");
        let x = b.wire("s", "x", 3);
        let r = b.real("s", "r");
        let mut w = b.start(Vec::new()).unwrap();
        assert!(matches!(
            w.set_bits(1, r, 1),
            Err(TraceError::WrongKind {
                expected: "wire or vector",
                ..
            })
        ));
        assert!(matches!(
            w.set_real(1, x, 1.0),
            Err(TraceError::WrongKind {
                expected: "real",
                ..
            })
        ));
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = w.set_real(2, r, v).unwrap_err();
            assert!(matches!(e, TraceError::NotFinite { .. }), "{e}");
            assert!(e.to_string().contains("s.r"));
        }
        assert_eq!(w.changes_written(), 0);
        assert_eq!(body(&text(w, 0)), "");
    }

    #[test]
    fn reals_are_short_and_round_trip() {
        let mut b = VcdBuilder::new("");
        let r = b.real("s", "r");
        let mut w = b.start(Vec::new()).unwrap();
        let values = [
            12.5,
            -0.0,
            1e300,
            -1.7976931348623157e308,
            5e-324,
            1e-7,
            123456.789,
            0.1 + 0.2,
        ];
        for (t, v) in values.iter().enumerate() {
            w.set_real(t as u64 + 1, r, *v).unwrap();
        }
        let out = text(w, 0);
        let got: Vec<f64> = body(&out)
            .lines()
            .filter_map(|l| l.strip_prefix('r'))
            .map(|l| {
                let tok = l.strip_suffix(" !").unwrap();
                assert!(tok.len() <= REAL_MAX_CHARS, "{tok}");
                tok.parse().unwrap()
            })
            .collect();
        assert_eq!(got.len(), values.len());
        for (g, v) in got.iter().zip(values) {
            assert_eq!(g.to_bits(), v.to_bits());
        }
        assert!(out.contains("\nr12.5 !\n") && out.contains("\nr1e300 !\n"));
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
