//! The wear of an array's cells, kept up to date at every change of a
//! pulse count, so that a lifetime row (`ChipSim::lifetime`: the mean,
//! 99th percentile and largest pulse count, the failed cells and the
//! projected steps to the first failure) costs the array's wear, not a
//! pass over its cells.
//!
//! The projection is `min_c (e_c − p_c) / (p_c / s)` over the live written
//! cells (`0 < p < e`, `s` steps so far), in f64 as the pass over the
//! cells computed it. Each cell's `ρ = (e − p)/p` only falls as it is
//! written, so the smallest `ρ` follows the writes exactly (compared as
//! integers, `E₁P₂ < E₂P₁`), except when the cells holding it fail (then
//! one pass over the cells finds it again). The f64 formula rounds twice,
//! within `2⁻⁵¹` of `ρ·s`, so a cell whose `ρ` exceeds the smallest by
//! more than a factor `1 + 2⁻⁴⁰` cannot hold the f64 minimum: the window
//! of `(e − p, p)` pairs within that factor (with their cell counts) is
//! kept, and the query evaluates the formula on those pairs only — the
//! same bits as the pass.

use crate::counts::PerCell;

/// Bins of the pulse-count histogram (counts `0 … HIST_CAP − 1`); an
/// array with a count beyond it has no histogram, and its percentile is
/// found by a pass over the cells.
pub const HIST_CAP: usize = 4096;

/// A cell's `(e − p, p)`, live and written (`0 < p < e`).
type Pair = (u32, u32);

/// `ρ(a) < ρ(b)`, exactly.
fn below(a: Pair, b: Pair) -> bool {
    u64::from(a.0) * u64::from(b.1) < u64::from(b.0) * u64::from(a.1)
}

/// The pair of smaller `ρ` (the first of equals).
fn smaller(a: Pair, b: Pair) -> Pair {
    if below(b, a) {
        b
    } else {
        a
    }
}

/// `ρ(a) ≤ ρ(best) · (1 + 2⁻⁴⁰)`, exactly.
fn within(a: Pair, best: Pair) -> bool {
    (u128::from(a.0) * u128::from(best.1)) << 40
        <= u128::from(best.0) * u128::from(a.1) * ((1u128 << 40) + 1)
}

/// The live written pair of a cell with `p` pulses and endurance `e`.
fn live(p: u32, e: u32) -> Option<Pair> {
    (p > 0 && p < e).then(|| (e - p, p))
}

/// Each written cell's `(pulses, endurance)`, in cell order (a cell of no
/// pulses is not live, and its endurance is not needed).
fn written_pairs<'a, P, E>(pulses: &'a P, endurance: &'a E) -> impl Iterator<Item = (u32, u32)> + 'a
where
    P: PerCell + ?Sized,
    E: PerCell + ?Sized,
{
    (0..pulses.cells()).filter_map(|i| {
        let p = pulses.at(i);
        (p > 0).then(|| (p, endurance.at(i)))
    })
}

/// The wear summary of one array (module doc).
#[derive(Clone, Debug, Default)]
pub(crate) struct Wear {
    sum: u64,
    max: u32,
    failed: u64,
    /// `hist[p]`: cells with `p < HIST_CAP` pulses (`max + 1` bins while
    /// `max < HIST_CAP`); `over`: cells with more.
    hist: Vec<u32>,
    over: u64,
    /// The smallest `ρ` of the live written cells, and the pairs within
    /// `1 + 2⁻⁴⁰` of it with their cell counts.
    best: Option<Pair>,
    window: Vec<(Pair, u32)>,
    /// At most every working cell's endurance ([`Wear::set_floor`]; 0
    /// unknown), and the largest count at which [`Wear::far`] holds for
    /// it (0 for none), kept as `best` changes.
    floor: u32,
    far_below: u32,
    /// The smallest `ρ` times `1 + 2⁻³⁰` in `f64` (∞ without one), for
    /// [`Wear::surely_far`].
    rho_limit: f64,
}

impl Wear {
    /// The summary of cells with pulse counts `pulses` and endurances
    /// `endurance`, by one pass.
    pub(crate) fn new<P, E>(pulses: &P, endurance: &E) -> Wear
    where
        P: PerCell + ?Sized,
        E: PerCell + ?Sized,
    {
        let mut w = Wear::default();
        for i in 0..pulses.cells() {
            let p = pulses.at(i);
            w.sum += u64::from(p);
            w.max = w.max.max(p);
            // Below its floor a cell is working, whatever its endurance.
            w.failed += u64::from(p >= endurance.floor(i) && p >= endurance.at(i));
        }
        if (w.max as usize) < HIST_CAP {
            w.hist = vec![0; w.max as usize + 1];
        }
        for i in 0..pulses.cells() {
            w.count(pulses.at(i), 1);
        }
        w.floor = endurance.least();
        w.find_best(pulses, endurance);
        w
    }

    /// Adds `n` (±1) to the histogram's count of `p`.
    fn count(&mut self, p: u32, n: i32) {
        match self.hist.get_mut(p as usize) {
            Some(c) => *c = c.wrapping_add_signed(n),
            None => self.over = self.over.wrapping_add_signed(i64::from(n)),
        }
    }

    /// The smallest `ρ` and its window, by a pass over the cells.
    fn find_best<P, E>(&mut self, pulses: &P, endurance: &E)
    where
        P: PerCell + ?Sized,
        E: PerCell + ?Sized,
    {
        self.window.clear();
        let best = written_pairs(pulses, endurance)
            .filter_map(|(p, e)| live(p, e))
            .reduce(smaller);
        self.set_best(best);
        if let Some(best) = self.best {
            for (p, e) in written_pairs(pulses, endurance) {
                if let Some(q) = live(p, e).filter(|&q| within(q, best)) {
                    self.enter(q);
                }
            }
        }
    }

    /// Counts one more cell at `q` in the window.
    fn enter(&mut self, q: Pair) {
        match self.window.iter_mut().find(|(r, _)| *r == q) {
            Some((_, n)) => *n += 1,
            None => self.window.push((q, 1)),
        }
    }

    /// A cell of endurance `e` went from `old` to `new` pulses; `pulses`
    /// and `endurance` are the array's counts after the change (for the
    /// pass when the cells holding the smallest `ρ` fail).
    #[inline]
    pub(crate) fn change<P, E>(&mut self, old: u32, new: u32, e: u32, pulses: &P, endurance: &E)
    where
        P: PerCell + ?Sized,
        E: PerCell + ?Sized,
    {
        if new == old {
            return;
        }
        self.count_change(old, new);
        self.failed += u64::from(old < e && new >= e);
        // The new pair first: a cell that stays live only lowers its ρ, so
        // the window never empties while it is in it; and a new pair
        // outside the window leaves the old one (a larger ρ) outside too.
        let mut old_may_be_in = true;
        if let Some(q) = live(new, e) {
            if self.best.is_none_or(|b| below(q, b)) {
                self.set_best(Some(q));
                self.window.retain(|&(r, _)| within(r, q));
            }
            if within(q, self.best.expect("set above")) {
                self.enter(q);
            } else {
                old_may_be_in = false;
            }
        }
        if let Some(q) = live(old, e).filter(|_| old_may_be_in) {
            let best = self.best.expect("a live cell was counted");
            if within(q, best) {
                let at = self
                    .window
                    .iter()
                    .position(|(r, _)| *r == q)
                    .expect("a pair within the window is in it");
                self.window[at].1 -= 1;
                if self.window[at].1 == 0 {
                    self.window.swap_remove(at);
                    if q == best {
                        match self.window.iter().map(|&(r, _)| r).reduce(smaller) {
                            // Every other pair stays within the window of
                            // a larger smallest ρ.
                            Some(b) => self.set_best(Some(b)),
                            None => self.find_best(pulses, endurance),
                        }
                    }
                }
            }
        }
    }

    /// Sets the smallest `ρ`, and the counts of [`Wear::far_below`].
    fn set_best(&mut self, best: Option<Pair>) {
        self.best = best;
        self.rho_limit = best.map_or(f64::INFINITY, |(left, p)| {
            f64::from(left) / f64::from(p) * (1.0 + 2f64.powi(-30))
        });
        // `far(n, F)` for 0 < n < F is `(F − n)·A > n·B` with `A = p·2⁴⁰`,
        // `B = left·(2⁴⁰ + 1)` (`within`'s terms), i.e. `n·(A + B) < F·A`:
        // the largest such n is `⌈F·A/(A + B)⌉ − 1` (exact in u128).
        self.far_below = best.map_or(0, |(left, p)| {
            let a = u128::from(p) << 40;
            let b = u128::from(left) * ((1u128 << 40) + 1);
            let fa = u128::from(self.floor) * a;
            (fa.div_ceil(a + b).saturating_sub(1)) as u32
        });
    }

    /// Sets a floor of every working cell's endurance (a fabrication
    /// fault's is 0 and not bound by it), for [`Wear::far_below`]
    /// ([`Wear::new`] takes the endurances' [`PerCell::least`]).
    #[cfg(test)]
    pub(crate) fn set_floor(&mut self, floor: u32) {
        self.floor = floor;
        self.set_best(self.best);
    }

    /// The largest count `n` at which a working cell is far
    /// ([`Wear::far`] at `n` with the floor of [`Wear::set_floor`]): a
    /// working cell that reaches at most `n` pulses takes
    /// [`Wear::change_far`] (0: none does).
    #[inline]
    pub(crate) fn far_below(&self) -> u32 {
        self.far_below
    }

    /// The sum, largest count and histogram after a cell went from `old`
    /// to `new` pulses.
    #[inline(always)]
    fn count_change(&mut self, old: u32, new: u32) {
        self.sum += u64::from(new - old);
        if new > self.max {
            self.max = new;
            if (new as usize) < HIST_CAP {
                self.hist.resize(new as usize + 1, 0);
            } else if !self.hist.is_empty() {
                // Past the histogram: the percentile takes a pass.
                self.over = self.hist.iter().map(|&c| u64::from(c)).sum();
                self.hist = Vec::new();
            }
        }
        self.count(old, -1);
        self.count(new, 1);
    }

    /// Whether a cell at `new` pulses, whose endurance is at least
    /// `floor`, is certainly live and outside the window: its `ρ` is at
    /// least `(floor − new)/new`, more than the smallest's `1 + 2⁻⁴⁰`
    /// times. Then neither its new pair nor its old one (a larger `ρ`)
    /// can be in the window, and [`Wear::change_far`] has the effect of
    /// [`Wear::change`] without the cell's endurance.
    #[inline]
    pub(crate) fn far(&self, new: u32, floor: u32) -> bool {
        new > 0 && new < floor && self.best.is_some_and(|b| !within((floor - new, new), b))
    }

    /// [`Wear::far`] by one `f64` comparison, where it is sure: `true`
    /// only where [`Wear::far`] holds (the margin of `2⁻³⁰` over the
    /// window's `2⁻⁴⁰` is far beyond the rounding of three `f64`
    /// operations); `false` says nothing.
    #[inline]
    pub(crate) fn surely_far(&self, new: u32, floor: u32) -> bool {
        self.best.is_some()
            && new > 0
            && new < floor
            && f64::from(floor - new) > f64::from(new) * self.rho_limit
    }

    /// [`Wear::change`] of a cell for which [`Wear::far`] holds at `new`.
    #[inline]
    pub(crate) fn change_far(&mut self, old: u32, new: u32) {
        if new != old {
            self.count_change(old, new);
        }
    }

    /// Σ pulses.
    pub(crate) fn sum(&self) -> u64 {
        self.sum
    }

    /// The largest pulse count.
    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    /// Cells with `p ≥ e` (worn out, or stuck from fabrication).
    pub(crate) fn failed(&self) -> u64 {
        self.failed
    }

    /// The histogram of pulse counts (`max + 1` bins), or `None` when a
    /// count reaches [`HIST_CAP`].
    pub(crate) fn histogram(&self) -> Option<&[u32]> {
        (self.over == 0).then_some(&self.hist[..])
    }

    /// `min (e − p) / (p / steps)` over the live written cells, ∞ for none
    /// (module doc: the bits of the pass over every cell).
    pub(crate) fn steps_to_first_failure(&self, steps: u64) -> f64 {
        let steps = steps as f64;
        self.window
            .iter()
            .map(|&((left, p), _)| f64::from(left) / (f64::from(p) / steps))
            .fold(f64::INFINITY, f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::stream;
    use rand::Rng as _;

    /// The pass over every cell the summary stands for.
    fn pass(pulses: &[u32], endurance: &[u32], steps: u64) -> (u64, u32, u64, f64) {
        let s = steps as f64;
        let left = pulses
            .iter()
            .zip(endurance)
            .map(|(&p, &e)| {
                let rate = f64::from(p) / s;
                let left = f64::from(e.wrapping_sub(p)) / rate;
                if p > 0 && p < e {
                    left
                } else {
                    f64::INFINITY
                }
            })
            .fold(f64::INFINITY, f64::min);
        (
            pulses.iter().map(|&p| u64::from(p)).sum(),
            pulses.iter().copied().max().unwrap_or(0),
            pulses.iter().zip(endurance).filter(|(p, e)| p >= e).count() as u64,
            left,
        )
    }

    /// Random writes over arrays with stuck cells, ties (one endurance
    /// for many cells), failures and counts past the histogram: after
    /// every write the summary equals the pass, bit for bit.
    #[test]
    fn wear_follows_every_write_as_the_pass_would() {
        let mut gen = stream(3, "wear");
        let mut far = 0;
        for trial in 0..60 {
            let n = gen.random_range(1..40);
            let tied = trial % 3 == 0;
            let endurance: Vec<u32> = (0..n)
                .map(|_| match gen.random_range(0..10) {
                    0 => 0,
                    _ if tied => 60,
                    _ => gen.random_range(1..200),
                })
                .collect();
            let least = endurance
                .iter()
                .copied()
                .filter(|&e| e > 0)
                .min()
                .unwrap_or(u32::MAX);
            let mut pulses = vec![0u32; n];
            let mut w = Wear::new(&pulses[..], &endurance[..]);
            w.set_floor(least);
            for step in 1..300u64 {
                let cell = gen.random_range(0..n);
                let add = if gen.random_bool(0.01) {
                    gen.random_range(1..6000)
                } else {
                    gen.random_range(1..4)
                };
                let old = pulses[cell];
                pulses[cell] = old.saturating_add(add);
                // Half the trials take the shortcut wherever the working
                // cells' least endurance allows it, as an array does.
                let floor = if endurance[cell] == 0 { 0 } else { least };
                let below = pulses[cell] <= w.far_below() && endurance[cell] != 0;
                if trial % 2 == 1 && (below || w.far(pulses[cell], floor)) {
                    far += 1;
                    w.change_far(old, pulses[cell]);
                } else {
                    w.change(
                        old,
                        pulses[cell],
                        endurance[cell],
                        &pulses[..],
                        &endurance[..],
                    );
                }
                // Surely far is far.
                for f in [least, endurance[cell], endurance[cell].saturating_add(7)] {
                    for n in [
                        1,
                        pulses[cell],
                        pulses[cell].saturating_add(1),
                        f / 2,
                        f.saturating_sub(1),
                    ] {
                        assert!(!w.surely_far(n, f) || w.far(n, f), "{n} {f}");
                    }
                }
                // The largest count that is far, exactly.
                let fb = w.far_below();
                assert!(fb == 0 || w.far(fb, least));
                assert!(!w.far(fb + 1, least));
                let (sum, max, failed, left) = pass(&pulses, &endurance, step);
                assert_eq!((w.sum(), w.max(), w.failed()), (sum, max, failed));
                assert_eq!(w.steps_to_first_failure(step).to_bits(), left.to_bits());
                if let Some(h) = w.histogram() {
                    for (p, &c) in h.iter().enumerate() {
                        let want = pulses.iter().filter(|&&q| q as usize == p).count();
                        assert_eq!(c as usize, want, "bin {p}");
                    }
                    assert!(pulses.iter().all(|&p| (p as usize) < h.len()));
                } else {
                    assert!(pulses.iter().any(|&p| p as usize >= HIST_CAP));
                }
            }
            let fresh = Wear::new(&pulses[..], &endurance[..]);
            assert_eq!(fresh.best, w.best);
        }
        // The shortcut was taken (2,445 times with this seed).
        assert!(far > 1000, "{far}");
    }

    #[test]
    fn pairs_compare_exactly() {
        assert!(below((1, 3), (1, 2)));
        assert!(!below((2, 4), (1, 2)));
        assert!(within((2, 4), (1, 2)));
        // Relative differences of 2^-30 and 2^-52: outside and inside.
        assert!(!within(((1 << 30) + 1, 1 << 10), (1 << 30, 1 << 10)));
        let b = (1 << 31, (1 << 31) - 1);
        let a = ((1 << 31) - 1, (1 << 31) - 2);
        assert!(below(b, a) && within(a, b) && !within(b, (1, 1)));
    }
}
