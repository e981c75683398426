//! Compact per-cell counters of a [`CellArray`](crate::CellArray): pulse
//! counts and endurances in 2 B per cell each where they used 4.
//!
//! * [`PulseCounts`]: the low 16 bits of every cell's count, and the high
//!   16 bits in blocks of [`HIGH_BLOCK`] cells allocated when a cell of the
//!   block passes 65,535 pulses (a wear study's long runs): 2 B per cell,
//!   4 B in the blocks that need them; every count is exact.
//! * [`Endurances`]: no bytes per cell for the endurance draws, and one bit
//!   per cell for the fabrication faults. Each working cell's
//!   standard-normal draw `z = Φ⁻¹(u)` is made again when needed from a
//!   uniform `u` hashed from the array's seed and the cell's index (as the
//!   device-to-device factors are), rounded to a 16-bit code (steps of
//!   2⁻¹² in `|z| < 8`), and the model's table takes the code to cycles
//!   to failure, `N = exp(ln N_50 + s·z_q)` clipped to `[1, 2³² − 1]`.
//!   The rounding moves a cell's endurance by at most `s·2⁻¹³` relative
//!   (6·10⁻⁵ at the built-in devices' `s = 0.5`). The least endurance of
//!   the working cells is kept (from the least `u`, one hash a cell at
//!   placement), so that a cell whose pulse count is below it needs no
//!   draw: most writes make none.

use std::sync::{Arc, Mutex, Weak};

/// Read access to one value per cell, however it is stored (the wear
/// summary's passes read pulse counts and endurances through it).
pub(crate) trait PerCell {
    /// The value of cell `i`.
    fn at(&self, i: usize) -> u32;
    /// Number of cells.
    fn cells(&self) -> usize;
    /// A floor of the value of cell `i`, cheaper than [`PerCell::at`]
    /// (the value itself unless a kind of storage knows better).
    #[inline]
    fn floor(&self, i: usize) -> u32 {
        self.at(i)
    }
    /// At most every non-zero value (0: not known).
    fn least(&self) -> u32 {
        0
    }
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
    /// Seed of the cells' hashed draws.
    seed: u64,
    /// Number of cells.
    cells: usize,
    /// Bit `i % 64` of word `i / 64`: cell `i` is stuck from fabrication.
    stuck: Vec<u64>,
    /// At most every working cell's endurance (`u32::MAX` without one).
    least: u32,
    table: Arc<[u32]>,
    /// A cell whose endurance a test sets ([`Endurances::set_exact`]).
    #[cfg(test)]
    exact: Option<(usize, u32)>,
}

/// Tag of the endurance draws in the hash of `(seed, cell)`.
const ENDURANCE_TAG: u64 = 0xe7d0_e7d0_e7d0_e7d0;

/// SplitMix64 finaliser.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 53 uniform bits of cell `cell`'s endurance draw: `u = (b + ½)/2⁵³`
/// in `(0, 1)`. The draw is output `cell` of SplitMix64 from the state
/// `seed ⊕ tag` (one multiply-xorshift finaliser per cell).
#[inline]
fn uniform_bits(seed: u64, cell: usize) -> u64 {
    let state = (seed ^ ENDURANCE_TAG).wrapping_add(
        (cell as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    mix64(state) >> 11
}

/// The code of the draw `Φ⁻¹(u)` of uniform bits `b`.
#[inline]
fn code_of_bits(b: u64) -> u16 {
    let u = (b as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0);
    Endurances::code(aimsim_core::normal::inverse_standard_normal_cdf(u))
}

impl Endurances {
    /// `cells` cells of which those in `stuck` (sorted or not) are
    /// fabrication faults, the others drawn from `seed`, under the table
    /// of a model of median `median_pulses` and log-normal spread
    /// `sigma_log`.
    pub(crate) fn new(
        cells: usize,
        stuck: &[usize],
        seed: u64,
        median_pulses: f64,
        sigma_log: f64,
    ) -> Self {
        let mut bits = vec![0u64; cells.div_ceil(64)];
        for &c in stuck {
            bits[c / 64] |= 1 << (c % 64);
        }
        let table = table(median_pulses, sigma_log);
        // The least `u` of the working cells has the least code; one code
        // below it, the floor also holds if Φ⁻¹'s rounding were not
        // monotone to the last bit.
        let least_bits = (0..cells)
            .filter(|&c| bits[c / 64] >> (c % 64) & 1 == 0)
            .map(|c| uniform_bits(seed, c))
            .min();
        let least = least_bits.map_or(u32::MAX, |b| {
            table[usize::from(code_of_bits(b).saturating_sub(1).max(1))]
        });
        Endurances {
            seed,
            cells,
            stuck: bits,
            least,
            table,
            #[cfg(test)]
            exact: None,
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

    /// Whether cell `i` is stuck from fabrication.
    #[inline]
    pub(crate) fn is_stuck(&self, i: usize) -> bool {
        self.stuck[i / 64] >> (i % 64) & 1 == 1
    }

    /// Cell `i`'s code ([`STUCK`] for a fabrication fault).
    #[inline]
    pub(crate) fn code_of(&self, i: usize) -> u16 {
        if self.is_stuck(i) {
            STUCK
        } else {
            code_of_bits(uniform_bits(self.seed, i))
        }
    }

    /// The cycles to failure of code `code`.
    #[inline]
    pub(crate) fn of_code(&self, code: u16) -> u32 {
        self.table[usize::from(code)]
    }

    /// Cycles to failure of cell `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        #[cfg(test)]
        if let Some((c, e)) = self.exact {
            if c == i {
                return e;
            }
        }
        self.of_code(self.code_of(i))
    }

    /// A floor of cell `i`'s cycles to failure, without its draw: 0 for a
    /// fabrication fault, else the least of the working cells'.
    #[inline]
    pub(crate) fn floor(&self, i: usize) -> u32 {
        if self.is_stuck(i) {
            0
        } else {
            self.least
        }
    }

    /// A floor of cell `i`'s cycles to failure within its draw's bucket
    /// (a hash and a lookup, no Φ⁻¹): within about 0.1 % of them for most
    /// cells, at least [`Endurances::floor`].
    #[inline]
    pub(crate) fn close_floor(&self, i: usize) -> u32 {
        if self.is_stuck(i) {
            return 0;
        }
        #[cfg(test)]
        if self.exact.is_some_and(|(c, _)| c == i) {
            return self.least;
        }
        let k = (uniform_bits(self.seed, i) >> (53 - BUCKET_BITS)) as usize;
        self.table[FLOORS_AT + k].max(self.least)
    }

    /// Every cell's cycles to failure, in cell order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.cells).map(|i| self.get(i))
    }

    /// The fault bits (a prefetch hint's target: cell `i`'s is word
    /// `i / 64`).
    pub(crate) fn stuck_words(&self) -> &[u64] {
        &self.stuck
    }

    /// Sets cell `i`'s endurance to exactly `cycles` (tests).
    #[cfg(test)]
    pub(crate) fn set_exact(&mut self, i: usize, cycles: u32) {
        self.stuck[i / 64] &= !(1 << (i % 64));
        self.exact = Some((i, cycles));
        self.least = self.least.min(cycles);
    }
}

impl PerCell for Endurances {
    #[inline]
    fn at(&self, i: usize) -> u32 {
        self.get(i)
    }
    fn cells(&self) -> usize {
        self.cells
    }
    #[inline]
    fn floor(&self, i: usize) -> u32 {
        Endurances::floor(self, i)
    }
    fn least(&self) -> u32 {
        self.least
    }
}

/// The `k`-th smallest (from 0) endurance code of the cells of `parts`
/// (fabrication faults [`STUCK`], below every other code), exactly as
/// sorting the codes would give it, with Φ⁻¹ for a few of the cells
/// only.
///
/// A first pass counts the working cells by the top 16 bits of their
/// uniforms. The codes of a bucket lie between the codes of Φ⁻¹ at its
/// edges moved out by 10⁻⁹ (Φ⁻¹'s error is ~10⁻¹⁶ relative, and
/// `|z| < 9`), which brackets the answer between two codes, often one
/// code: then that is the answer. Otherwise a second pass computes the
/// codes of the cells in the buckets that straddle the bracket, and
/// counts them.
///
/// # Panics
/// If `k` is not below the number of cells, or there are 2³² cells or
/// more.
pub(crate) fn kth_code(parts: &[&Endurances], k: u64) -> u16 {
    const BITS: u32 = 16;
    const N: usize = 1 << BITS;
    let shift = 53 - BITS;
    let cells: usize = parts.iter().map(|e| e.cells).sum();
    assert!(u32::try_from(cells).is_ok(), "2³² cells or more");
    let mut count = vec![0u32; N];
    let mut stuck = 0u64;
    for e in parts {
        for i in 0..e.cells {
            if e.is_stuck(i) {
                stuck += 1;
            } else {
                count[(uniform_bits(e.seed, i) >> shift) as usize] += 1;
            }
        }
    }
    if k < stuck {
        return STUCK;
    }
    let k = k - stuck;
    assert!(k < cells as u64 - stuck, "rank beyond the cells");
    // The bucket of the k-th working cell in the order of the uniforms.
    let (mut before, mut j) = (0u64, 0usize);
    while before + u64::from(count[j]) <= k {
        before += u64::from(count[j]);
        j += 1;
    }
    // Each bucket's codes lie in [lo(j), hi(j)], both non-decreasing in
    // j. At most `before` ≤ k cells (buckets below j) have a code below
    // lo(j), and more than k (buckets up to j) have one up to hi(j): the
    // answer is in [lo(j), hi(j)].
    let edge = |j: usize, out: f64| {
        if j == 0 {
            1
        } else if j == N {
            u16::MAX
        } else {
            let u = j as f64 / N as f64;
            Endurances::code(aimsim_core::normal::inverse_standard_normal_cdf(u) + out)
        }
    };
    let lo = |j: usize| edge(j, -1e-9);
    let hi = |j: usize| edge(j + 1, 1e-9);
    let (c_lo, c_hi) = (lo(j), hi(j));
    if c_lo == c_hi {
        return c_lo;
    }
    // Exact codes of the cells of the buckets whose range meets
    // [c_lo, c_hi]: a run of buckets around j; those before it lie
    // wholly below c_lo, those after it above c_hi.
    let mut first = j;
    while first > 0 && hi(first - 1) >= c_lo {
        first -= 1;
    }
    let mut last = j;
    while last + 1 < N && lo(last + 1) <= c_hi {
        last += 1;
    }
    let mut under: u64 = count[..first].iter().map(|&n| u64::from(n)).sum();
    let mut exact = vec![0u64; usize::from(c_hi - c_lo) + 1];
    for e in parts {
        for i in 0..e.cells {
            let b = uniform_bits(e.seed, i);
            let bucket = (b >> shift) as usize;
            if bucket < first || bucket > last || e.is_stuck(i) {
                continue;
            }
            let c = code_of_bits(b);
            if c < c_lo {
                under += 1;
            } else if c <= c_hi {
                exact[usize::from(c - c_lo)] += 1;
            }
        }
    }
    let mut left = k.checked_sub(under).expect("the bracket's lower code");
    for (d, &n) in exact.iter().enumerate() {
        if left < n {
            return c_lo + d as u16;
        }
        left -= n;
    }
    unreachable!("the bracket holds the answer")
}

/// Bits of a draw's uniform that pick its floor bucket (1,024 buckets).
const BUCKET_BITS: u32 = 10;

/// Where the bucket floors start in a model's table.
const FLOORS_AT: usize = 1 << 16;

/// The table of a model (shared by the arrays of a model: 260 KB, built
/// once per model while any array holds it): from code to cycles to
/// failure at `[0, 2¹⁶)`, then for each bucket `k` of the uniform's top
/// [`BUCKET_BITS`] bits (`u ≥ k/1024`) a floor of its cells' cycles, the
/// code of `Φ⁻¹(k/1024)` less one (bucket 0: the least code).
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
    let mut t: Vec<u32> = (0..=u16::MAX)
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
    let floors: Vec<u32> = (0..1u32 << BUCKET_BITS)
        .map(|k| {
            let code = if k == 0 {
                1
            } else {
                let u = f64::from(k) / f64::from(1u32 << BUCKET_BITS);
                let z = aimsim_core::normal::inverse_standard_normal_cdf(u);
                Endurances::code(z).saturating_sub(1).max(1)
            };
            t[usize::from(code)]
        })
        .collect();
    t.extend(floors);
    let t: Arc<[u32]> = t.into();
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
            let e = Endurances::new(0, &[], 0, median, s);
            let exact = (median.ln() + s * z).exp().clamp(1.0, u32::MAX as f64);
            let got = f64::from(e.of_code(Endurances::code(z)));
            let tol = exact * ((s / 8192.0).exp() - 1.0) + 1.0;
            prop_assert!((got - exact).abs() <= tol, "{} vs {}", got, exact);
        }

        /// The floor is at most every working cell's endurance and 0 for
        /// a fault, and a cell's endurance is its code's.
        #[test]
        fn the_floor_holds_for_every_cell(seed in any::<u64>(), n in 1usize..3000, faults in proptest::collection::vec(any::<usize>(), 0..20), s in 0.0f64..3.0) {
            let stuck: Vec<usize> = faults.iter().map(|f| f % n).collect();
            let e = Endurances::new(n, &stuck, seed, 1e6, s);
            let mut least = u32::MAX;
            for i in 0..n {
                prop_assert!(e.floor(i) <= e.close_floor(i) && e.close_floor(i) <= e.get(i));
                prop_assert_eq!(e.get(i), e.of_code(e.code_of(i)));
                if stuck.contains(&i) {
                    prop_assert_eq!((e.get(i), e.floor(i), e.code_of(i)), (0, 0, STUCK));
                } else {
                    prop_assert!(e.code_of(i) != STUCK);
                    least = least.min(e.get(i));
                }
            }
            // One code below the least draw: within s·2⁻¹² of it.
            if least < u32::MAX {
                prop_assert!(f64::from(e.least) >= f64::from(least) * (-s / 2048.0).exp() - 1.0);
            }
        }
    }

    proptest! {
        /// Every order statistic of the codes is the sorted codes', over
        /// arrays of any size with and without faults, and at the ranks
        /// of the tails.
        #[test]
        fn kth_code_is_the_sorted_codes(sizes in proptest::collection::vec(0usize..5000, 1..4), seed in any::<u64>(), faults in 0usize..30, ranks in proptest::collection::vec(any::<u64>(), 1..12)) {
            let parts: Vec<Endurances> = sizes
                .iter()
                .enumerate()
                .map(|(a, &n)| {
                    let stuck: Vec<usize> = (0..faults.min(n)).map(|f| (f * 7919) % n).collect();
                    Endurances::new(n, &stuck, seed ^ a as u64, 1e6, 0.5)
                })
                .collect();
            let mut codes: Vec<u16> = parts.iter().flat_map(|e| (0..e.cells).map(|i| e.code_of(i))).collect();
            codes.sort_unstable();
            prop_assume!(!codes.is_empty());
            let refs: Vec<&Endurances> = parts.iter().collect();
            let n = codes.len() as u64;
            for k in ranks.iter().map(|r| r % n).chain([0, n - 1, n / 2]) {
                prop_assert_eq!(kth_code(&refs, k), codes[k as usize], "k = {}", k);
            }
        }
    }

    /// The hashed draws are standard normal: over 10⁶ cells of one seed,
    /// the fractions below −3, −2, −1, 0, 1, 2, 3 are Φ's within 4.5
    /// binomial standard errors each (a fixed seed; a failure by chance
    /// has probability under 10⁻⁴), and mean and variance within 0.005.
    #[test]
    fn hashed_draws_are_standard_normal() {
        let n = 1_000_000;
        let e = Endurances::new(n, &[], 0x5eed, 1e6, 1.0);
        let z: Vec<f64> = (0..n)
            .map(|i| (f64::from(e.code_of(i)) - CODE_ZERO as f64) / CODE_SCALE)
            .collect();
        let cdf = [
            (-3.0, 0.001_349_898),
            (-2.0, 0.022_750_132),
            (-1.0, 0.158_655_254),
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (2.0, 0.977_249_868),
            (3.0, 0.998_650_102),
        ];
        for (x, p) in cdf {
            let f = z.iter().filter(|&&v| v < x).count() as f64 / n as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!((f - p).abs() <= 4.5 * se, "P(z < {x}) = {f}, Φ = {p}");
        }
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.005 && (var - 1.0).abs() < 0.005,
            "{mean} {var}"
        );
        // Another seed, other draws.
        let f = Endurances::new(n, &[], 0x5eee, 1e6, 1.0);
        let same = (0..1000).filter(|&i| e.code_of(i) == f.code_of(i)).count();
        assert!(same < 10, "{same}");
    }

    #[test]
    fn codes_cover_the_draws_and_the_fault() {
        assert_eq!(Endurances::code(0.0), 32768);
        assert_eq!(Endurances::code(-100.0), 1);
        assert_eq!(Endurances::code(100.0), u16::MAX);
        let e = Endurances::new(2, &[0], 7, 1e6, 0.5);
        assert_eq!(e.get(0), 0);
        assert_eq!(e.of_code(Endurances::code(0.0)), (1e6f64.ln()).exp() as u32);
        // Without spread every cell has the median's cycles, as the
        // unrounded formula gives them.
        let e = Endurances::new(3, &[], 7, 40.0, 0.0);
        assert!((0..3).all(|i| e.get(i) == (40f64.ln()).exp() as u32));
        assert_eq!(e.floor(1), e.get(1));
        // Without working cells the floor is the largest count.
        let e = Endurances::new(2, &[0, 1], 7, 40.0, 0.5);
        assert_eq!(e.least, u32::MAX);
        // Arrays of one model share one table.
        let (a, b) = (table(1e6, 0.5), table(1e6, 0.5));
        assert!(Arc::ptr_eq(&a, &b));
    }
}
