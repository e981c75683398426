//! The value-change writer: `#time` lines and changed values, written
//! straight to any `io::Write` with no allocation per change.

use crate::builder::SignalId;
use crate::code::{id_code, CODE_MAX};
use crate::{Result, TraceError};
use std::io::Write;

/// Reals whose `{}` form is longer than this are written in `{:e}` form
/// (the `vcd` crate, for one, refuses tokens over 32 bytes).
const REAL_MAX_CHARS: usize = 24;

/// A signal's state while dumping.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    code: [u8; CODE_MAX],
    code_len: u8,
    /// Bits; 0 for a `real` variable.
    pub(crate) width: u32,
    pub(crate) selected: bool,
    /// Last value written: the bits, or the `f64`'s bit pattern.
    last: u64,
}

impl Slot {
    /// A signal of `width` bits (0: `real`) at its initial value 0, dumped
    /// with identifier number `code`, or left out when `None`.
    pub(crate) fn new(code: Option<usize>, width: u32) -> Slot {
        let (code, code_len) = code.map_or(([0; CODE_MAX], 0), id_code);
        Slot {
            code,
            code_len,
            width,
            selected: code_len > 0,
            last: 0,
        }
    }

    /// The identifier code (empty if not selected).
    pub(crate) fn code(&self) -> &[u8] {
        &self.code[..usize::from(self.code_len)]
    }
}

/// Writes value changes in time order; made by [`VcdBuilder::start`](crate::VcdBuilder::start).
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
    /// A writer at time 0 over `out`, whose header is already written.
    pub(crate) fn new(out: W, slots: Vec<Slot>, names: Vec<String>) -> Self {
        VcdWriter {
            out,
            slots,
            names,
            time_ps: 0,
            stamped_ps: 0,
            changes: 0,
            buf: Vec::with_capacity(128),
        }
    }

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
    /// Signals left out by [`VcdBuilder::select`](crate::VcdBuilder::select) are ignored (no checks,
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
    use super::REAL_MAX_CHARS;
    use crate::test_support::{body, text};
    use crate::{TraceError, VcdBuilder};

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
    fn decimals() {
        for n in [0u64, 7, 10, 12_345, u64::MAX] {
            let mut buf = b"#".to_vec();
            super::push_decimal(&mut buf, n);
            assert_eq!(buf, format!("#{n}").into_bytes());
        }
    }
}
