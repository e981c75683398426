//! Compact per-cell counters of a [`CellArray`](crate::CellArray): pulse
//! counts and endurances in 2 B per cell each where they used 4.
//!
//! * [`PulseCounts`]: the low 16 bits of every cell's count, and the high
//!   16 bits in blocks of [`HIGH_BLOCK`] cells allocated when a cell of the
//!   block passes 65,535 pulses (a wear study's long runs): 2 B per cell,
//!   4 B in the blocks that need them; every count is exact.
//! * [`Endurances`]: each cell's standard-normal endurance draw `z` as a
//!   16-bit code (steps of 2⁻¹² in `|z| < 8`, code 0 a fabrication fault),
//!   and the model's table from code to cycles to failure,
//!   `N = exp(ln N_50 + s·z_q)` clipped to `[1, 2³² − 1]`. The draws are
//!   those of the placement stream; only their storage is rounded, which
//!   moves a cell's endurance by at most `s·2⁻¹³` relative (6·10⁻⁵ at the
//!   built-in devices' `s = 0.5`).

use std::sync::{Arc, Mutex, Weak};

/// Read access to one value per cell, however it is stored (the wear
/// summary's passes read pulse counts and endurances through it).
pub(crate) trait PerCell {
    /// The value of cell `i`.
    fn at(&self, i: usize) -> u32;
    /// Number of cells.
    fn cells(&self) -> usize;
}

impl PerCell for [u32] {
    #[inline]
    fn at(&self, i: usize) -> u32 {
        self[i]
    }
    fn cells(&self) -> usize {
        self.len()
    }
}

/// Cells per block of high halves of [`PulseCounts`].
pub(crate) const HIGH_BLOCK: usize = 4096;

/// Pulse counts of an array's cells (module doc).
#[derive(Clone, Debug)]
pub(crate) struct PulseCounts {
    low: Vec<u16>,
    high: Vec<Option<Box<[u16]>>>,
}

impl PulseCounts {
    /// `n` cells at 0 pulses.
    pub(crate) fn new(n: usize) -> Self {
        PulseCounts {
            low: vec![0; n],
            high: vec![None; n.div_ceil(HIGH_BLOCK)],
        }
    }

    /// The count of cell `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        let low = u32::from(self.low[i]);
        match &self.high[i / HIGH_BLOCK] {
            None => low,
            Some(b) => low | u32::from(b[i % HIGH_BLOCK]) << 16,
        }
    }

    /// Sets the count of cell `i` to `v`.
    #[inline]
    pub(crate) fn set(&mut self, i: usize, v: u32) {
        self.low[i] = v as u16;
        let high = (v >> 16) as u16;
        let slot = &mut self.high[i / HIGH_BLOCK];
        match slot {
            Some(b) => b[i % HIGH_BLOCK] = high,
            None if high != 0 => {
                let mut b = vec![0u16; HIGH_BLOCK].into_boxed_slice();
                b[i % HIGH_BLOCK] = high;
                *slot = Some(b);
            }
            None => {}
        }
    }

    /// Every cell's count, in cell order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.low.len()).map(|i| self.get(i))
    }

    /// Number of cells.
    pub(crate) fn len(&self) -> usize {
        self.low.len()
    }

    /// The low halves (a prefetch hint's target).
    pub(crate) fn low(&self) -> &[u16] {
        &self.low
    }
}

impl PerCell for PulseCounts {
    #[inline]
    fn at(&self, i: usize) -> u32 {
        self.get(i)
    }
    fn cells(&self) -> usize {
        self.len()
    }
}

/// The code of a fabrication fault (no cycles).
pub(crate) const STUCK: u16 = 0;

/// Codes per unit of `z`.
const CODE_SCALE: f64 = 4096.0;

/// The code of `z = 0`.
const CODE_ZERO: i64 = 32768;

/// Endurances of an array's cells (module doc).
#[derive(Clone, Debug)]
pub(crate) struct Endurances {
    codes: Vec<u16>,
    table: Arc<[u32]>,
}

impl Endurances {
    /// Cells with `codes` under the table of a model of median
    /// `median_pulses` and log-normal spread `sigma_log`.
    pub(crate) fn new(codes: Vec<u16>, median_pulses: f64, sigma_log: f64) -> Self {
        Endurances {
            codes,
            table: table(median_pulses, sigma_log),
        }
    }

    /// The code of a cell whose standard-normal draw is `z` (never
    /// [`STUCK`]; `|z| ≥ 8` takes the last code of its side).
    pub(crate) fn code(z: f64) -> u16 {
        let q = (z * CODE_SCALE)
            .round()
            .clamp(1.0 - CODE_ZERO as f64, (CODE_ZERO - 1) as f64);
        (q as i64 + CODE_ZERO) as u16
    }

    /// Cycles to failure of cell `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        self.table[usize::from(self.codes[i])]
    }

    /// Every cell's cycles to failure, in cell order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.codes.iter().map(|&c| self.table[usize::from(c)])
    }

    /// The codes (a prefetch hint's target).
    pub(crate) fn codes(&self) -> &[u16] {
        &self.codes
    }

    /// Sets cell `i`'s endurance to exactly `cycles` (tests): a table of
    /// this array's own, in which code 1 (`z ≈ −8`, drawn with probability
    /// 10⁻¹⁵) means `cycles`.
    #[cfg(test)]
    pub(crate) fn set_exact(&mut self, i: usize, cycles: u32) {
        let mut t = self.table.to_vec();
        t[1] = cycles;
        self.table = t.into();
        self.codes[i] = 1;
    }
}

impl PerCell for Endurances {
    #[inline]
    fn at(&self, i: usize) -> u32 {
        self.get(i)
    }
    fn cells(&self) -> usize {
        self.codes.len()
    }
}

/// The table from code to cycles to failure of a model (shared by the
/// arrays of a model: 256 KB, built once per model while any array holds
/// it).
fn table(median_pulses: f64, sigma_log: f64) -> Arc<[u32]> {
    type Tables = Vec<((u64, u64), Weak<[u32]>)>;
    static TABLES: Mutex<Tables> = Mutex::new(Vec::new());
    let key = (median_pulses.to_bits(), sigma_log.to_bits());
    let mut tables = TABLES.lock().unwrap_or_else(|e| e.into_inner());
    tables.retain(|(_, t)| t.strong_count() > 0);
    if let Some(t) = tables
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, t)| t.upgrade())
    {
        return t;
    }
    let ln_median = median_pulses.ln();
    let t: Arc<[u32]> = (0..=u16::MAX)
        .map(|code| {
            if code == STUCK {
                0
            } else {
                let z = (i64::from(code) - CODE_ZERO) as f64 / CODE_SCALE;
                (ln_median + sigma_log * z)
                    .exp()
                    .clamp(1.0, u32::MAX as f64) as u32
            }
        })
        .collect();
    tables.push((key, Arc::downgrade(&t)));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every count round-trips, and the high halves are allocated
        /// only for the blocks that pass 65,535.
        #[test]
        fn pulse_counts_are_exact(sets in proptest::collection::vec((0usize..20_000, any::<u32>()), 1..200)) {
            let mut c = PulseCounts::new(20_000);
            let mut plain = vec![0u32; 20_000];
            for (i, v) in sets {
                let v = if i % 3 == 0 { v % 70_000 } else { v };
                c.set(i, v);
                plain[i] = v;
            }
            for (i, &v) in plain.iter().enumerate() {
                prop_assert_eq!(c.get(i), v);
            }
            prop_assert!(c.iter().eq(plain.iter().copied()));
            for (b, h) in c.high.iter().enumerate() {
                let need = plain[b * HIGH_BLOCK..((b + 1) * HIGH_BLOCK).min(plain.len())]
                    .iter()
                    .any(|&v| v > 0xffff);
                if need {
                    prop_assert!(h.is_some());
                }
            }
        }

        /// A code's endurance is the exact formula's at the draw within
        /// `s·2⁻¹³` relative (and ±1 for the integer part).
        #[test]
        fn endurance_codes_round_the_draw_only(z in -7.99f64..7.99, median in 1.0f64..4e9, s in 0.0f64..5.0) {
            let e = Endurances::new(vec![Endurances::code(z)], median, s);
            let exact = (median.ln() + s * z).exp().clamp(1.0, u32::MAX as f64);
            let got = f64::from(e.get(0));
            let tol = exact * ((s / 8192.0).exp() - 1.0) + 1.0;
            prop_assert!((got - exact).abs() <= tol, "{} vs {}", got, exact);
        }
    }

    #[test]
    fn codes_cover_the_draws_and_the_fault() {
        assert_eq!(Endurances::code(0.0), 32768);
        assert_eq!(Endurances::code(-100.0), 1);
        assert_eq!(Endurances::code(100.0), u16::MAX);
        let e = Endurances::new(vec![STUCK, Endurances::code(0.0)], 1e6, 0.5);
        assert_eq!(e.get(0), 0);
        assert_eq!(e.get(1), (1e6f64.ln()).exp() as u32);
        // Without spread every cell has the median's cycles, as the
        // unrounded formula gives them.
        let e = Endurances::new(vec![Endurances::code(1.3)], 40.0, 0.0);
        assert_eq!(e.get(0), (40f64.ln()).exp() as u32);
        // Arrays of one model share one table.
        let (a, b) = (table(1e6, 0.5), table(1e6, 0.5));
        assert!(Arc::ptr_eq(&a, &b));
    }
}
