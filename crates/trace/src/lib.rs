//! IEEE 1364 value change dump (VCD) writer, readable by GTKWave and Surfer.
//!
//! Time is integer picoseconds (`$timescale 1 ps`). Signals are declared on a
//! [`VcdBuilder`] (digital wires and vectors, and `real` variables, in dotted
//! scopes), then [`VcdBuilder::start`] writes the header and initial values
//! and returns a [`VcdWriter`] that the simulator calls as events happen. A
//! change is written only when a value differs from the last one written,
//! and a `#time` line only when time advances; time going backwards is an
//! error. No wall-clock date is written, so a dump is a pure function of the
//! run.
//!
//! ```
//! use aimsim_trace::VcdBuilder;
//! let mut b = VcdBuilder::new("seed 1");
//! let busy = b.wire("tile0", "busy", 1);
//! let energy = b.real("controller", "energy_pj");
//! let mut w = b.start(Vec::new()).unwrap();
//! w.set_bits(0, busy, 1).unwrap();
//! w.set_bits(10_000, busy, 0).unwrap();
//! w.set_real(10_000, energy, 12.5).unwrap();
//! let text = String::from_utf8(w.finish(20_000).unwrap()).unwrap();
//! assert!(text.contains("#10000\n0!\nr12.5 \"\n"));
//! ```

use std::io::Write;

/// Errors of the VCD writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The output could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A change was dated before the last one written.
    #[error("VCD signal {signal}: time {at_ps} ps is before {last_ps} ps already written")]
    TimeWentBack {
        /// The signal's dotted name.
        signal: String,
        /// The time asked for.
        at_ps: u64,
        /// The last time written.
        last_ps: u64,
    },
    /// A real value was NaN or infinite (VCD readers cannot represent it).
    #[error("VCD signal {signal}: value {value} is not finite")]
    NotFinite {
        /// The signal's dotted name.
        signal: String,
        /// The value.
        value: f64,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TraceError>;

/// A declared signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalId(usize);

#[derive(Clone, Debug)]
struct Signal {
    scope: String,
    name: String,
    /// 0 for a real variable.
    width: u32,
    code: String,
    selected: bool,
}

/// Declares scopes and signals before the dump starts.
#[derive(Clone, Debug)]
pub struct VcdBuilder {
    comment: String,
    patterns: Vec<String>,
    signals: Vec<Signal>,
}

/// The standard printable identifier code of signal number `n` (base 94 over `!`..`~`).
fn id_code(mut n: usize) -> String {
    let mut s = String::new();
    loop {
        s.push((b'!' + (n % 94) as u8) as char);
        n /= 94;
        if n == 0 {
            return s;
        }
        n -= 1;
    }
}

/// Glob match with `*` wildcards.
fn glob(pattern: &str, text: &str) -> bool {
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

impl VcdBuilder {
    /// A builder whose header carries `comment` in a `$comment` section
    /// (any `$end` inside is defused so the comment cannot end early).
    pub fn new(comment: &str) -> Self {
        VcdBuilder {
            comment: comment.replace("$end", "$ end"),
            patterns: Vec::new(),
            signals: Vec::new(),
        }
    }

    /// Dumps only signals whose dotted name (`tile0.busy`) matches one of
    /// `patterns` (`*` globs); no patterns (the default) dumps everything.
    pub fn select(&mut self, patterns: &[String]) -> &mut Self {
        self.patterns = patterns.to_vec();
        self
    }

    fn declare(&mut self, scope: &str, name: &str, width: u32) -> SignalId {
        let full = format!("{scope}.{name}");
        let selected = self.patterns.is_empty() || self.patterns.iter().any(|p| glob(p, &full));
        self.signals.push(Signal {
            scope: scope.to_string(),
            name: name.to_string(),
            width,
            code: String::new(),
            selected,
        });
        SignalId(self.signals.len() - 1)
    }

    /// A wire (`width` 1) or vector (`width` 2..=64) in the dotted `scope`.
    ///
    /// # Panics
    /// If `width` is 0 or above 64 (a programming error in the caller).
    pub fn wire(&mut self, scope: &str, name: &str, width: u32) -> SignalId {
        assert!((1..=64).contains(&width), "VCD wire width {width}");
        self.declare(scope, name, width)
    }

    /// A `real` variable in the dotted `scope`.
    pub fn real(&mut self, scope: &str, name: &str) -> SignalId {
        self.declare(scope, name, 0)
    }

    /// Writes the header and the initial values (0) at time 0.
    pub fn start<W: Write>(mut self, mut out: W) -> Result<VcdWriter<W>> {
        for (n, s) in self.signals.iter_mut().filter(|s| s.selected).enumerate() {
            s.code = id_code(n);
        }
        writeln!(out, "$version aimsim {} $end", env!("CARGO_PKG_VERSION"))?;
        writeln!(out, "$comment\n{}\n$end", self.comment)?;
        writeln!(out, "$timescale 1 ps $end")?;
        // Scopes in first-declaration order, nested by their dotted parts.
        let mut order: Vec<&str> = Vec::new();
        for s in self.signals.iter().filter(|s| s.selected) {
            if !order.contains(&s.scope.as_str()) {
                order.push(&s.scope);
            }
        }
        let mut open: Vec<&str> = Vec::new();
        for scope in &order {
            let parts: Vec<&str> = scope.split('.').collect();
            let common = open.iter().zip(&parts).take_while(|(a, b)| a == b).count();
            for _ in common..open.len() {
                writeln!(out, "$upscope $end")?;
            }
            open.truncate(common);
            for p in &parts[common..] {
                writeln!(out, "$scope module {p} $end")?;
                open.push(p);
            }
            for s in self
                .signals
                .iter()
                .filter(|s| s.selected && s.scope == *scope)
            {
                if s.width == 0 {
                    writeln!(out, "$var real 64 {} {} $end", s.code, s.name)?;
                } else {
                    writeln!(out, "$var wire {} {} {} $end", s.width, s.code, s.name)?;
                }
            }
        }
        for _ in 0..open.len() {
            writeln!(out, "$upscope $end")?;
        }
        writeln!(out, "$enddefinitions $end")?;
        writeln!(out, "#0")?;
        writeln!(out, "$dumpvars")?;
        for s in self.signals.iter().filter(|s| s.selected) {
            if s.width == 0 {
                writeln!(out, "r0 {}", s.code)?;
            } else if s.width == 1 {
                writeln!(out, "0{}", s.code)?;
            } else {
                writeln!(out, "b0 {}", s.code)?;
            }
        }
        writeln!(out, "$end")?;
        let n = self.signals.len();
        Ok(VcdWriter {
            out,
            signals: self.signals,
            last: vec![0; n],
            time_ps: 0,
            changes: 0,
            line: String::with_capacity(80),
        })
    }
}

/// Writes value changes in time order.
pub struct VcdWriter<W: Write> {
    out: W,
    signals: Vec<Signal>,
    /// Last value written: bits, or an `f64`'s bit pattern.
    last: Vec<u64>,
    time_ps: u64,
    changes: u64,
    line: String,
}

impl<W: Write> VcdWriter<W> {
    fn advance(&mut self, id: SignalId, time_ps: u64) -> Result<()> {
        if time_ps < self.time_ps {
            let s = &self.signals[id.0];
            return Err(TraceError::TimeWentBack {
                signal: format!("{}.{}", s.scope, s.name),
                at_ps: time_ps,
                last_ps: self.time_ps,
            });
        }
        if time_ps > self.time_ps {
            self.time_ps = time_ps;
            writeln!(self.out, "#{time_ps}")?;
        }
        Ok(())
    }

    /// Sets a wire or vector at `time_ps` (values wider than the signal are
    /// masked). Unselected signals and unchanged values write nothing.
    pub fn set_bits(&mut self, time_ps: u64, id: SignalId, value: u64) -> Result<()> {
        let s = &self.signals[id.0];
        if !s.selected {
            return Ok(());
        }
        let value = if s.width >= 64 {
            value
        } else {
            value & ((1u64 << s.width) - 1)
        };
        if self.last[id.0] == value {
            return Ok(());
        }
        self.advance(id, time_ps)?;
        self.last[id.0] = value;
        self.changes += 1;
        let s = &self.signals[id.0];
        self.line.clear();
        if s.width == 1 {
            self.line.push(if value == 1 { '1' } else { '0' });
            self.line.push_str(&s.code);
        } else {
            use std::fmt::Write as _;
            let _ = write!(self.line, "b{value:b} {}", s.code);
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        Ok(())
    }

    /// Sets a `real` variable at `time_ps`. NaN and infinities are an error.
    pub fn set_real(&mut self, time_ps: u64, id: SignalId, value: f64) -> Result<()> {
        let s = &self.signals[id.0];
        if !s.selected {
            return Ok(());
        }
        if !value.is_finite() {
            return Err(TraceError::NotFinite {
                signal: format!("{}.{}", s.scope, s.name),
                value,
            });
        }
        if self.last[id.0] == value.to_bits() {
            return Ok(());
        }
        self.advance(id, time_ps)?;
        self.last[id.0] = value.to_bits();
        self.changes += 1;
        self.line.clear();
        use std::fmt::Write as _;
        let _ = writeln!(self.line, "r{value} {}", self.signals[id.0].code);
        self.out.write_all(self.line.as_bytes())?;
        Ok(())
    }

    /// Writes the final timestamp (if later than the last) and flushes.
    pub fn finish(mut self, end_ps: u64) -> Result<W> {
        if end_ps > self.time_ps {
            writeln!(self.out, "#{end_ps}")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Value changes written so far (excluding the initial `$dumpvars`).
    pub fn changes_written(&self) -> u64 {
        self.changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_codes_are_unique_and_printable() {
        let codes: Vec<String> = (0..20_000).map(id_code).collect();
        let set: std::collections::BTreeSet<&String> = codes.iter().collect();
        assert_eq!(set.len(), codes.len());
        assert!(codes
            .iter()
            .all(|c| c.bytes().all(|b| (b'!'..=b'~').contains(&b))));
        assert_eq!(id_code(0), "!");
        assert_eq!(id_code(94), "!!");
    }

    #[test]
    fn globs() {
        assert!(glob("tile*.busy", "tile12.busy"));
        assert!(glob("controller.*", "controller.phase"));
        assert!(!glob("tile*.busy", "tile1.adc_busy"));
        assert!(glob("*", "x"));
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
        let text = String::from_utf8(w.finish(12).unwrap()).unwrap();
        let expected = "$version aimsim 0.1.0 $end\n$comment\ngolden\n$end\n$timescale 1 ps $end\n\
$scope module controller $end\n$var wire 2 ! phase $end\n$var real 64 # energy_pj $end\n$upscope $end\n\
$scope module chip $end\n$scope module tile0 $end\n$var wire 1 \" busy $end\n$upscope $end\n$upscope $end\n\
$enddefinitions $end\n#0\n$dumpvars\nb0 !\n0\"\nr0 #\n$end\nb1 !\n#5\n1\"\n#7\nr0.25 #\n#9\nb10 !\n#12\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn time_going_back_is_named() {
        let mut b = VcdBuilder::new("");
        let x = b.wire("s", "x", 1);
        let mut w = b.start(Vec::new()).unwrap();
        w.set_bits(10, x, 1).unwrap();
        let e = w.set_bits(5, x, 0).unwrap_err().to_string();
        assert!(e.contains("s.x") && e.contains("5 ps"), "{e}");
    }

    #[test]
    fn comment_cannot_end_early_and_nan_is_refused() {
        let mut b = VcdBuilder::new("evil $end $var");
        let r = b.real("s", "r");
        let mut w = b.start(Vec::new()).unwrap();
        assert!(w.set_real(1, r, f64::NAN).is_err());
        let text = String::from_utf8(w.finish(1).unwrap()).unwrap();
        assert!(text.contains("evil $ end $var"));
        // The independent parser sees exactly the one declared variable.
        let mut p = vcd::Parser::new(text.as_bytes());
        let h = p.parse_header().unwrap();
        let vars = h
            .items
            .iter()
            .filter_map(|i| match i {
                vcd::ScopeItem::Scope(s) => Some(s.items.len()),
                _ => None,
            })
            .sum::<usize>();
        assert_eq!(vars, 1);
    }
}
