//! The arithmetic of the update-forming units that change what a rule
//! decides on (DESIGN.md §1.7; the units' costs and parameters are in
//! `aimsim_periphery::UpdateUnit`):
//!
//! * [`log_quantise`] — `low-precision`: each value `v` of a line becomes
//!   `sign(v) · m · 2^(−k)` (`m` the line's largest magnitude, `k <
//!   levels`) or 0, rounding `a = |v|/m` between its two neighbouring
//!   levels `lo < a ≤ hi` up with probability `(a − lo)/(hi − lo)` (below
//!   the smallest level `L`: to `L` with probability `a/L`, else 0), so
//!   `E[q] = v` (unbiased stochastic rounding on a log scale, as LUQ);
//! * [`sample_eapu_rank1`] — `sparse-sampler`: EaPU's decisions for a
//!   rank-1 request `ΔG_ij = k_i δ_j` (`k_i = scale · x_i · r_wg`), drawn
//!   row by row. Below threshold EaPU writes `sign(ΔG_ij)·ΔG_th` with
//!   probability `p_ij = |k_i| |δ_j| / ΔG_th = a_i b_j`. For row `i` with
//!   `p̄_i = a_i · max_j b_j < 1` the sampler draws a Bernoulli(`p̄_i`)
//!   process over the columns by geometric skips (`s = ⌊ln U / ln(1 −
//!   p̄_i)⌋` columns skipped, `U` uniform on (0, 1]) and keeps each
//!   candidate `j` with probability `b_j / max b` (thinning), so cell
//!   `(i, j)` is written with probability `p̄_i · b_j / max b = p_ij`,
//!   independently of every other cell: EaPU's dense rule in distribution.
//!   A row with `p̄_i ≥ 1` holds at least one request at or above the
//!   threshold; it is decided densely, exactly as EaPU (a MAC, a compare
//!   and, below threshold, a random decision per weight). The work is one
//!   skip draw per candidate plus one per active row, not one per cell.
//!   The engine draws EaPU's rank-1 decisions on the `digital-mac` and
//!   `off-chip` units with [`sample_eapu_rank1_blocked`], the same
//!   distribution with skips over power-of-two magnitude classes instead
//!   of rows (the simulator's method, not the modelled hardware's: those
//!   units are charged their dense work, and [`eapu_random_count`] gives
//!   the random decisions the dense rule makes without visiting every
//!   cell).

use aimsim_core::magnitude::{magnitude_bits, max_abs};
use aimsim_core::Rng;
use rand::Rng as _;

/// Rounds every value of `v` in place to a signed power-of-two fraction of
/// the largest magnitude of `v` (`levels` powers `2^0 … 2^−(levels−1)`, or
/// 0), unbiased (module doc). Returns the random draws made (one per
/// non-zero value that does not sit exactly on a level).
///
/// # Panics
/// If `levels` is 0 (a broken caller invariant).
pub fn log_quantise(v: &mut [f32], levels: u32, rng: &mut Rng) -> u64 {
    assert!(levels > 0, "at least one level");
    let m = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if m == 0.0 || !m.is_finite() {
        return 0;
    }
    let smallest = 2f32.powi(-(levels as i32 - 1));
    let mut draws = 0;
    for x in v.iter_mut() {
        let a = x.abs() / m;
        if a == 0.0 {
            continue;
        }
        // k with 2^−(k+1) < a ≤ 2^−k.
        let k = (-a.log2()).floor().max(0.0) as i32;
        let hi = 2f32.powi(-k);
        let q = if a == hi && k < levels as i32 {
            hi
        } else if k < levels as i32 - 1 {
            let lo = 0.5 * hi;
            draws += 1;
            let u: f32 = rng.random();
            if u * (hi - lo) < a - lo {
                hi
            } else {
                lo
            }
        } else {
            draws += 1;
            let u: f32 = rng.random();
            if u * smallest < a {
                smallest
            } else {
                0.0
            }
        };
        *x = (q * m).copysign(*x);
    }
    draws
}

/// The work of one [`sample_eapu_rank1`] call, for pricing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SamplerStats {
    /// Rows with a non-zero factor and `p̄ < 1`, sampled by skips (each
    /// one MAC for `p̄_i` and one logarithm for `ln(1 − p̄_i)`).
    pub sampled_rows: u64,
    /// Geometric skip draws (each a uniform, a logarithm, a multiply and
    /// an index add); one per candidate plus the one that ends each row.
    pub skip_draws: u64,
    /// Candidates inside the row (each a uniform and a compare).
    pub candidates: u64,
    /// Rows decided densely because `p̄ ≥ 1`.
    pub dense_rows: u64,
    /// Requests formed by MAC in dense rows (one per weight of the row).
    pub dense_macs: u64,
    /// Random decisions in dense rows (sub-threshold non-zero requests).
    pub dense_random: u64,
    /// Cells written.
    pub writes: u64,
}

/// The largest magnitude (as `magnitude_bits`) of each class `1..CLASSES`
/// over `v` (whole chunks of eight) by the entries' classes `class`
/// (class 0 and zeros, class `CLASSES`, are not taken): each lane keeps
/// every class's running maximum, an entry adding its magnitude to its own
/// class and 0 to the others, where a fold over each bucket is a chain of
/// loads and conditional moves.
#[inline(always)]
fn chunk_maxima(class: &[u8], v: &[f32]) -> [u32; CLASSES] {
    let mut lanes = [[0u32; 8]; CLASSES];
    for (cs, xs) in class.chunks_exact(8).zip(v.chunks_exact(8)) {
        let b: [u32; 8] = std::array::from_fn(|l| magnitude_bits(xs[l]));
        let cs: [u32; 8] = std::array::from_fn(|l| u32::from(cs[l]));
        for (c, lane) in (1u32..).zip(lanes.iter_mut().skip(1)) {
            for l in 0..8 {
                lane[l] = lane[l].max(if cs[l] == c { b[l] } else { 0 });
            }
        }
    }
    lanes.map(|lane| lane.into_iter().fold(0, u32::max))
}

/// [`chunk_maxima`] in AVX2 registers, the same integer maxima: the
/// compiler keeps the portable loop's maxima in memory and turns the
/// choice into masked stores, which the next chunk's loads must wait for;
/// here each class's maxima stay in a register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chunk_maxima_avx2(class: &[u8], v: &[f32]) -> [u32; CLASSES] {
    use std::arch::x86_64::*;
    const _: () = assert!(CLASSES == 8, "one register per class 1..8 below");
    let abs = _mm256_set1_epi32(0x7fff_ffff);
    let inf = _mm256_set1_epi32(0x7f80_0000);
    let mut acc = [_mm256_setzero_si256(); CLASSES];
    for (cs, xs) in class.chunks_exact(8).zip(v.chunks_exact(8)) {
        // SAFETY: `xs` holds 8 f32 (32 bytes) and `cs` 8 bytes, read unaligned.
        let (x, c) = unsafe {
            (
                _mm256_loadu_si256(xs.as_ptr().cast()),
                _mm_loadl_epi64(cs.as_ptr().cast()),
            )
        };
        // `magnitude_bits`: |x| as bits, 0 for NaN (above +∞'s bits).
        let b = _mm256_and_si256(x, abs);
        let b = _mm256_andnot_si256(_mm256_cmpgt_epi32(b, inf), b);
        let c = _mm256_cvtepu8_epi32(c);
        macro_rules! class {
            ($($k:literal)*) => {$(
                let own = _mm256_cmpeq_epi32(c, _mm256_set1_epi32($k));
                acc[$k] = _mm256_max_epu32(acc[$k], _mm256_and_si256(b, own));
            )*};
        }
        class!(1 2 3 4 5 6 7);
    }
    acc.map(|a| {
        let mut l = [0u32; 8];
        // SAFETY: `l` holds 8 u32 (32 bytes), written unaligned.
        unsafe { _mm256_storeu_si256(l.as_mut_ptr().cast(), a) };
        l.into_iter().fold(0, u32::max)
    })
}

/// EaPU's decisions for the rank-1 request `ΔG_ij = (scale · x_i · r_wg_us)
/// · delta_j` of a `x.len() × delta.len()` tile, drawn by the sparse
/// sampler (module doc); each written cell is pushed to `out` as (row-major
/// index, decided ΔG in µS), in row order. Draws only from `rng`.
pub fn sample_eapu_rank1(
    x: &[f32],
    delta: &[f32],
    scale: f32,
    r_wg_us: f32,
    threshold_us: f32,
    rng: &mut Rng,
    out: &mut Vec<(u32, f32)>,
) -> SamplerStats {
    let cols = delta.len();
    let th = threshold_us;
    let mut s = SamplerStats::default();
    let b_max = delta.iter().fold(0.0f32, |m, d| m.max(d.abs()));
    if b_max == 0.0 {
        return s;
    }
    for (i, &xi) in x.iter().enumerate() {
        // The same f32 arithmetic as `UpdateRequest::requested_us`.
        let k = scale * xi * r_wg_us;
        if k == 0.0 {
            continue;
        }
        let base = (i * cols) as u32;
        let p_bar = f64::from(k.abs()) * f64::from(b_max) / f64::from(th);
        if p_bar >= 1.0 {
            s.dense_rows += 1;
            s.dense_macs += cols as u64;
            for (j, &dj) in delta.iter().enumerate() {
                let r = k * dj;
                let a = r.abs();
                let d = if a >= th {
                    r
                } else if a == 0.0 {
                    0.0
                } else {
                    s.dense_random += 1;
                    let u: f32 = rng.random();
                    if u * th < a {
                        th.copysign(r)
                    } else {
                        0.0
                    }
                };
                if d != 0.0 {
                    out.push((base + j as u32, d));
                    s.writes += 1;
                }
            }
            continue;
        }
        s.sampled_rows += 1;
        let ln_q = (-p_bar).ln_1p();
        let mut next = 0.0f64;
        loop {
            s.skip_draws += 1;
            // U on (0, 1]: ln U is finite.
            let u = 1.0 - rng.random::<f64>();
            // ⌊s⌋ of s = ln U / ln(1 − p̄) ≥ 0 by truncation: the same
            // value as `floor` (exact below 2⁵³, already whole above, and
            // past the row's end when saturated at 2⁶⁴), without the libm
            // call the baseline x86-64 target makes for `floor`.
            next += (u.ln() / ln_q) as u64 as f64;
            if next >= cols as f64 {
                break;
            }
            let j = next as usize;
            next += 1.0;
            s.candidates += 1;
            let dj = delta[j];
            let v: f32 = rng.random();
            if v * b_max < dj.abs() {
                let r = k * dj;
                let d = if r.abs() >= th { r } else { th.copysign(r) };
                out.push((base + j as u32, d));
                s.writes += 1;
            }
        }
    }
    s
}

/// Magnitude classes of [`sample_eapu_rank1_blocked`]: a factor's class
/// is how many powers of two it sits below its line's largest, the last
/// class holding everything smaller.
const CLASSES: usize = 8;

/// The most writes [`sort_by_index`] sorts by rank.
const RANK_SORT_MAX: usize = 48;

/// The most cells per write of a tile whose writes [`sort_by_index`]
/// sorts by bitmap.
const BITMAP_CELLS_PER_WRITE: usize = 256;

/// Reused working memory of [`sort_by_index`].
#[derive(Clone, Debug, Default)]
pub(crate) struct SortScratch {
    /// The writes' indices, and the writes placed by rank.
    keys: Vec<u32>,
    sorted: Vec<(u32, f32)>,
    /// A bitmap of the tile's cells (clear between calls) and the count
    /// of bits set before each of its words: 1.5 bits per cell of the
    /// largest tile, once per scratch (the simulator keeps one scratch per
    /// thread, not per tile).
    bits: Vec<u64>,
    before: Vec<u32>,
    /// The writes as `index << 32 | value bits`.
    packed: Vec<u64>,
    /// The blocked sampler's candidates of one class sum: (position,
    /// keep draw).
    cand: Vec<(u64, f32)>,
}

/// Reused working memory of [`sample_eapu_rank1_blocked`] (no allocation
/// once grown).
#[derive(Clone, Debug, Default)]
pub struct BlockedScratch {
    /// `k_i = scale · x_i · r_wg` of each row.
    k: Vec<f32>,
    /// The class of each entry of the line being classified (zeros in
    /// the extra class `CLASSES`).
    class: Vec<u8>,
    /// Rows by class, a bucket per class ([`classify`]).
    rows: Vec<u32>,
    /// Columns by class.
    cols: Vec<u32>,
    /// For sorting the writes.
    sort: SortScratch,
    /// The row factors `k` last classified, as the bits of `x` then of
    /// `scale` and `r_wg` (the tiles of a layer's row band share them).
    row_key: Vec<u32>,
    /// Their largest magnitude and classes (`rows` holds the buckets),
    /// `None` until a call classifies rows.
    row_classes: Option<(f32, Classes)>,
}

/// The work of one [`sample_eapu_rank1_blocked`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockedStats {
    /// Geometric skip draws (one per candidate plus one per sampled class
    /// sum).
    pub skip_draws: u64,
    /// Candidates (each a uniform and a compare).
    pub candidates: u64,
    /// Cells decided one by one in blocks whose bound reaches 1.
    pub dense_cells: u64,
    /// Of those, the cells whose request reached `ΔG_th` (written as
    /// requested, no random decision).
    pub at_or_above: u64,
    /// Cells written.
    pub writes: u64,
}

/// `e` with `2^e ≤ |v| < 2^(e+1)` for a normal `v`; −127 for subnormals
/// (`|v| < 2^−126`).
#[inline]
fn exponent(v: f32) -> i32 {
    ((v.to_bits() >> 23) & 0xff) as i32 - 127
}

/// One line's factors sorted into magnitude classes by [`classify`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Classes {
    /// `idx[start[c]..start[c] + count[c]]` holds class `c`'s entries in
    /// index order.
    start: [usize; CLASSES],
    count: [usize; CLASSES],
    /// The largest magnitude of each class (0 when empty).
    max: [f32; CLASSES],
}

/// Sorts the non-zero entries of `v` into `idx` by magnitude class (the
/// exponent `e_max` of the largest magnitude `top` minus the entry's,
/// capped at the last class), each class in index order in its own bucket of
/// `v.len()` places (`idx` grows to `(CLASSES + 1) · v.len()`, never
/// shrinks, and is not cleared: only the places written are read), with
/// each class's largest magnitude. One vectorised pass finds every
/// entry's class (kept in `class`), a second places the entries (and
/// counts them) without branching on the data (the tiles' factors are
/// often zero, and not in any order), a third takes the maxima over the
/// buckets.
fn classify(v: &[f32], top: f32, class: &mut Vec<u8>, idx: &mut Vec<u32>) -> Classes {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { classify_avx2(v, top, class, idx) };
    }
    classify_body(v, top, class, idx, chunk_maxima)
}

/// [`classify`] compiled for AVX2 (its passes in wider vectors; the same
/// integer and IEEE operations, so the same result).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn classify_avx2(v: &[f32], top: f32, class: &mut Vec<u8>, idx: &mut Vec<u32>) -> Classes {
    classify_body(v, top, class, idx, |c, x| chunk_maxima_avx2(c, x))
}

#[inline(always)]
fn classify_body(
    v: &[f32],
    top: f32,
    class: &mut Vec<u8>,
    idx: &mut Vec<u32>,
    maxima: impl Fn(&[u8], &[f32]) -> [u32; CLASSES],
) -> Classes {
    let n = v.len();
    let e_max = exponent(top);
    class.clear();
    class.extend(v.iter().map(|&x| {
        let c = ((e_max - exponent(x)) as usize).min(CLASSES - 1);
        (if x == 0.0 { CLASSES } else { c }) as u8
    }));
    if idx.len() < (CLASSES + 1) * n {
        idx.resize((CLASSES + 1) * n, 0);
    }
    let start: [usize; CLASSES] = std::array::from_fn(|c| c * n);
    let mut count = [0usize; CLASSES];
    if n < 256 {
        // The counts packed in bytes of one register: the chain from
        // entry to entry is an add, not a load and store of a count.
        // Zeros go to a bucket after the others, at class 0's count
        // (below `n`), and are not counted. Each class's
        // bucket, byte and increment come from tables (a choice between
        // the two kinds of entry compiles to a branch, mispredicted on
        // the zeros).
        let mut base = [CLASSES * n; CLASSES + 1];
        let mut shift = [0u32; CLASSES + 1];
        let mut one = [0u64; CLASSES + 1];
        for c in 0..CLASSES {
            (base[c], shift[c], one[c]) = (c * n, 8 * c as u32, 1 << (8 * c));
        }
        let mut placed = 0u64;
        for (i, &c) in class.iter().enumerate() {
            let c = usize::from(c).min(CLASSES);
            idx[base[c] + ((placed >> shift[c]) & 0xff) as usize] = i as u32;
            placed += one[c];
        }
        for (c, k) in count.iter_mut().enumerate() {
            *k = ((placed >> (8 * c)) & 0xff) as usize;
        }
    } else {
        for (i, &c) in class.iter().enumerate() {
            let c = usize::from(c);
            if c < CLASSES {
                idx[c * n + count[c]] = i as u32;
                count[c] += 1;
            }
        }
    }
    // As bit patterns (`magnitude_bits`): the same as the fold of
    // `f32::max` over each class's magnitudes. Class 0 holds the line's
    // largest magnitude `top` (its exponent is `e_max`; NaN, ignored by
    // `max`, joins class 0 only beside an infinite `top`).
    // Over the entries in whole chunks of eight ([`chunk_maxima`]), then
    // the rest one at a time. The integer maximum does not depend on the
    // order, so each class's maximum is that of its bucket.
    let whole = n - n % 8;
    let mut bits = maxima(&class[..whole], &v[..whole]);
    for (&c, &x) in class[whole..].iter().zip(&v[whole..]) {
        let c = usize::from(c).min(CLASSES - 1);
        // (Zeros, class `CLASSES`, add 0 to the last class: no change.)
        bits[c] = bits[c].max(magnitude_bits(x));
    }
    let mut max = [top; CLASSES];
    for c in 1..CLASSES {
        max[c] = f32::from_bits(bits[c]);
    }
    Classes { start, count, max }
}

/// EaPU's decisions for the rank-1 request `ΔG_ij = k_i δ_j` (`k_i =
/// scale · x_i · r_wg_us`, the f32 arithmetic of
/// `UpdateRequest::requested_us`), the same distribution as
/// [`sample_eapu_rank1`] and EaPU's dense rule (each cell written
/// independently: `ΔG_ij` itself at or above `ΔG_th`, else
/// `sign(ΔG_ij)·ΔG_th` with probability `|ΔG_ij|/ΔG_th`), drawn with
/// fewer random numbers and logarithms. Rows and columns are sorted into
/// power-of-two magnitude classes below their largest factor (`a`, `b`);
/// every cell of the block `(a, b)` has `|ΔG_ij| ≤ fl(max_a|k| ·
/// max_b|δ|)` (rounding is monotone), and `B_s` is the largest of these
/// over the blocks of `s = a + b` (all within a factor 4 of `2^(e_k + e_δ
/// + 2 − s)`). The blocks of one `s` are one sequence sampled by
/// geometric skips at `p = B_s/ΔG_th` with each candidate kept with
/// probability `|ΔG_ij|/B_s` (at least 1/16 outside the last class, and
/// 1 where the factors are equal), so the skips end once per class sum,
/// not once per row; blocks with `B_s ≥ ΔG_th` are decided cell by cell. The written cells are
/// appended to `out` as (row-major index, ΔG µS) in index order. Draws
/// only from `rng`. The simulator's method for the units charged EaPU's
/// dense work (`digital-mac`, `off-chip`); the `sparse-sampler` unit's
/// row-by-row algorithm, whose work is charged, is [`sample_eapu_rank1`].
#[allow(clippy::too_many_arguments)]
pub fn sample_eapu_rank1_blocked(
    x: &[f32],
    delta: &[f32],
    scale: f32,
    r_wg_us: f32,
    threshold_us: f32,
    rng: &mut Rng,
    scratch: &mut BlockedScratch,
    out: &mut Vec<(u32, f32)>,
) -> BlockedStats {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe {
            sample_eapu_rank1_blocked_avx2(
                x,
                delta,
                scale,
                r_wg_us,
                threshold_us,
                rng,
                scratch,
                out,
            )
        };
    }
    sample_eapu_rank1_blocked_body(x, delta, scale, r_wg_us, threshold_us, rng, scratch, out)
}

/// [`sample_eapu_rank1_blocked`] compiled for AVX2: its passes over the
/// lines (the largest magnitudes, the comparison with the previous
/// call's rows, the row factors) in wider vectors. Integer operations and
/// separate IEEE multiplies, as the body's, so the same result; the
/// logarithms are the same library calls.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn sample_eapu_rank1_blocked_avx2(
    x: &[f32],
    delta: &[f32],
    scale: f32,
    r_wg_us: f32,
    threshold_us: f32,
    rng: &mut Rng,
    scratch: &mut BlockedScratch,
    out: &mut Vec<(u32, f32)>,
) -> BlockedStats {
    sample_eapu_rank1_blocked_body(x, delta, scale, r_wg_us, threshold_us, rng, scratch, out)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sample_eapu_rank1_blocked_body(
    x: &[f32],
    delta: &[f32],
    scale: f32,
    r_wg_us: f32,
    threshold_us: f32,
    rng: &mut Rng,
    scratch: &mut BlockedScratch,
    out: &mut Vec<(u32, f32)>,
) -> BlockedStats {
    let BlockedScratch {
        k,
        class,
        rows,
        cols,
        sort,
        row_key,
        row_classes,
    } = scratch;
    // The tiles of one row band see the same x, scale and r_wg: their k,
    // largest |k| and row classes are the previous call's (compared by
    // value, so the same bits as computing them again).
    let n = x.len();
    let tail = [scale.to_bits(), r_wg_us.to_bits()];
    // (A difference folded over every entry, without an early exit: one
    // vector loop.)
    let same_rows = row_key.len() == n + 2
        && row_key[n..] == tail
        && row_key[..n]
            .iter()
            .zip(x)
            .fold(0, |d, (a, b)| d | (a ^ b.to_bits()))
            == 0;
    if !same_rows {
        row_key.clear();
        row_key.extend(x.iter().map(|v| v.to_bits()).chain(tail));
        *row_classes = None;
        k.clear();
        k.extend(x.iter().map(|&xi| scale * xi * r_wg_us));
    }
    let lines = Lines {
        class,
        rows,
        cols,
        sort,
        row_classes: Some(row_classes),
    };
    sample_blocked(
        k,
        delta,
        |i, j| k[i] * delta[j],
        threshold_us,
        rng,
        lines,
        out,
    )
}

/// The working memory [`sample_blocked`] borrows from its caller's scratch.
pub(crate) struct Lines<'a> {
    pub(crate) class: &'a mut Vec<u8>,
    pub(crate) rows: &'a mut Vec<u32>,
    pub(crate) cols: &'a mut Vec<u32>,
    pub(crate) sort: &'a mut SortScratch,
    /// Where the rows' largest magnitude and classes are kept between
    /// calls on the same `k` (its `rows` buckets kept with them), if the
    /// caller keeps them: used when set, else computed and set.
    pub(crate) row_classes: Option<&'a mut Option<(f32, Classes)>>,
}

/// The blocked sampler of [`sample_eapu_rank1_blocked`] for any request
/// `ΔG_ij = request(i, j)` bounded by a product of line factors,
/// `|ΔG_ij| ≤ fl(|k_i| · |δ_j|)` for every cell (exactly so for the rank-1
/// request, `request(i, j) = k_i · δ_j`; with a margin for the rank-P one
/// of [`crate::batched`]). The classes and their bounds come from `k` and
/// `delta`; every cell decided (one by one in a block whose bound reaches
/// `ΔG_th`, or as a candidate) is decided on `request(i, j)`. Counts in
/// [`BlockedStats::at_or_above`] the cells decided one by one whose
/// request reached `ΔG_th`. (Inlined into its callers, so that it takes
/// their AVX2 compilation where they have one.)
#[inline(always)]
pub(crate) fn sample_blocked(
    k: &[f32],
    delta: &[f32],
    request: impl Fn(usize, usize) -> f32,
    threshold_us: f32,
    rng: &mut Rng,
    lines: Lines<'_>,
    out: &mut Vec<(u32, f32)>,
) -> BlockedStats {
    let th = threshold_us;
    let cols = delta.len();
    let mut st = BlockedStats::default();
    let Lines {
        class,
        rows,
        cols: cls,
        sort,
        row_classes,
    } = lines;
    let kept = row_classes.as_deref().copied().flatten();
    let k_max = kept.map_or_else(|| max_abs(k), |(m, _)| m);
    let d_max = max_abs(delta);
    if k_max == 0.0 || d_max == 0.0 {
        return st;
    }
    let rc = match kept {
        Some((_, c)) => c,
        None => {
            let c = classify(k, k_max, class, rows);
            if let Some(keep) = row_classes {
                *keep = Some((k_max, c));
            }
            c
        }
    };
    let cc = classify(delta, d_max, class, cls);
    let first = out.len();
    let th64 = f64::from(th);
    // The non-empty classes as bits; `col_rev` has bit `2 (CLASSES − 1)
    // − b` for a non-empty column class `b`, so that `col_rev >> (2
    // (CLASSES − 1) − s)` has bit `a` where class `s − a` is non-empty.
    let occupied = |c: &Classes| (0..CLASSES).fold(0u32, |m, a| m | u32::from(c.count[a] > 0) << a);
    let row_bits = occupied(&rc);
    let col_rev = occupied(&cc).reverse_bits() >> (32 - (2 * CLASSES - 1));
    let mut blocks = [Block::default(); CLASSES];
    for s in 0..=2 * (CLASSES - 1) {
        let mut pairs = row_bits & (col_rev >> (2 * (CLASSES - 1) - s));
        if pairs == 0 {
            continue;
        }
        // The non-empty blocks (a, s − a) of this class sum in the order
        // of `a` (empty ones hold no cell and no position), their cells,
        // and B_s: the largest f32 product of a class's largest factors
        // over them. Every request of the blocks is at most B_s (rounding
        // is monotone: |k δ| ≤ max|k| · max|δ| exactly, so the rounded
        // products keep the order).
        let mut n = 0;
        let mut total = 0u64;
        let mut b_s = 0.0f32;
        while pairs != 0 {
            let a = pairs.trailing_zeros() as usize;
            pairs &= pairs - 1;
            let b = s - a;
            let (na, nb) = (rc.count[a], cc.count[b]);
            blocks[n] = Block {
                row0: rc.start[a],
                rows: na,
                col0: cc.start[b],
                cols: nb,
                size: (na * nb) as u64,
            };
            n += 1;
            total += (na * nb) as u64;
            b_s = b_s.max(rc.max[a] * cc.max[b]);
        }
        if total == 0 || b_s == 0.0 {
            // No cell, or every product rounds to 0: nothing is written.
            continue;
        }
        let blocks = &blocks[..n];
        // Exact in f64 (cell counts stay far below 2⁵³).
        let total_f = total as f64;
        let bound = f64::from(b_s);
        let p = bound / th64;
        if p >= 1.0 {
            for bl in blocks {
                for &i in &rows[bl.row0..bl.row0 + bl.rows] {
                    let base = i as usize * cols;
                    for &j in &cls[bl.col0..bl.col0 + bl.cols] {
                        st.dense_cells += 1;
                        let r = request(i as usize, j as usize);
                        let m = r.abs();
                        let d = if m >= th {
                            st.at_or_above += 1;
                            r
                        } else if m == 0.0 {
                            0.0
                        } else {
                            let u: f32 = rng.random();
                            if u * th < m {
                                th.copysign(r)
                            } else {
                                0.0
                            }
                        };
                        if d != 0.0 {
                            out.push(((base + j as usize) as u32, d));
                        }
                    }
                }
            }
            continue;
        }
        // U on (0, 1]: ln U is finite. The skip ⌊ln U / ln(1 − p)⌋ (≥ 0)
        // by truncation, as in `sample_eapu_rank1`, which adds it to a
        // whole f64 and ends at `total`; here in integers, clamped to
        // `total` first: the same position below `total` (exact there),
        // and the end wherever the f64 sum reached it, without the
        // conversions through u64 of the f64 version. Each skip's U is
        // drawn after the previous candidate's keep draw (as the loop's
        // last step), the order of the draws of one skip at a time.
        st.skip_draws += 1;
        let r = rng.random::<f64>();
        // Most class sums hold no candidate: their first skip reaches
        // `total`, which `skip_surely_reaches` sees without the
        // logarithms most of the time. The draw is the same either way:
        // the same bits.
        if skip_surely_reaches(r, p, total_f) {
            continue;
        }
        let mut u = 1.0 - r;
        let ln_q = (-p).ln_1p();
        // First the candidates' positions and keep draws, the draws in
        // their order (a skip's U, then the candidate's keep draw V, then
        // the next skip's U): a loop whose only branch on the data is its
        // end, so that the next logarithm starts before the last one is
        // done. Then each candidate is found in its block and kept or not.
        let cand = &mut sort.cand;
        cand.clear();
        let mut next = 0u64;
        loop {
            let t = u.ln() / ln_q;
            next += if t < total_f { t as i64 as u64 } else { total };
            if next >= total {
                break;
            }
            let v: f32 = rng.random();
            cand.push((next, v));
            next += 1;
            u = 1.0 - rng.random::<f64>();
        }
        st.candidates += cand.len() as u64;
        st.skip_draws += cand.len() as u64;
        let mut at = 0;
        let mut block_start = 0u64;
        let mut block_end = blocks[0].size;
        for &(pos, v) in cand.iter() {
            while pos >= block_end {
                at += 1;
                block_start = block_end;
                block_end += blocks[at].size;
            }
            let bl = &blocks[at];
            let q = (pos - block_start) as usize;
            let i = rows[bl.row0 + q / bl.cols] as usize;
            let j = cls[bl.col0 + q % bl.cols] as usize;
            let r = request(i, j);
            // (A NaN request, from NaN factors, is never kept.)
            debug_assert!(
                r.is_nan() || r.abs() <= b_s,
                "request {r} above its bound {b_s}"
            );
            // Kept or not without a branch (about half are kept): pushed,
            // then dropped again when not kept.
            let keep = f64::from(v) * bound < f64::from(r.abs());
            let len = out.len();
            out.push(((i * cols + j) as u32, th.copysign(r)));
            out.truncate(len + usize::from(keep));
        }
    }
    sort_by_index(&mut out[first..], k.len() * cols, sort);
    st.writes = (out.len() - first) as u64;
    st
}

/// Whether the geometric skip `t = ln U / ln(1 − p)` of the blocked
/// sampler, `U = 1 − r` (`r` a uniform draw, a multiple of 2⁻⁵³, so `U`
/// is exact), as computed there (glibc's `ln` and `ln_1p`, each within an
/// ulp, and an f64 quotient), surely reaches `left` cells, decided without
/// the logarithms: `−ln U ≥ r` and `|ln(1 − p)| ≤ p / (1 − p)`, so `t ≥
/// r (1 − p) / p`; the rounding of the logarithms and the quotient keeps
/// the computed `t` within a relative 2⁻⁴⁹ of the exact one, far inside
/// the 10⁻¹² margins. `false` decides nothing (the caller computes `t`).
/// For `0 < p < 1`.
#[inline(always)]
fn skip_surely_reaches(r: f64, p: f64, left: f64) -> bool {
    r * (1.0 - 1e-12) >= left * (p / (1.0 - p)) * (1.0 + 1e-12)
}

/// A non-empty block of one class sum in [`sample_eapu_rank1_blocked`]:
/// its rows `rows[row0..row0 + rows]` and columns of the class lists, and
/// its cells.
#[derive(Clone, Copy, Default)]
struct Block {
    row0: usize,
    rows: usize,
    col0: usize,
    cols: usize,
    size: u64,
}

/// Sorts sampled writes by index (all distinct; `cells` the tile's):
/// up to `RANK_SORT_MAX` writes each placed at its rank, the count of
/// smaller indices (`n²` compares in vector lanes and no branch on the
/// data, where a comparison sort mispredicts about once per write); more
/// on a tile of at most `BITMAP_CELLS_PER_WRITE` cells per write marked
/// in a bitmap of the cells, each then placed at its rank, the bits set
/// before it (a count per word, and the word's lower bits): O(n +
/// cells/64), in 1.5 bits of scratch per cell; else by a sort of `(index,
/// value bits)` packed in `u64` keys.
fn sort_by_index(w: &mut [(u32, f32)], cells: usize, scratch: &mut SortScratch) {
    let n = w.len();
    if n < 2 {
        return;
    }
    if n <= RANK_SORT_MAX {
        let SortScratch { keys, sorted, .. } = scratch;
        keys.clear();
        keys.extend(w.iter().map(|e| e.0));
        sorted.clear();
        sorted.resize(n, (0, 0.0));
        for &e in w.iter() {
            let rank: u32 = keys.iter().map(|&k| u32::from(k < e.0)).sum();
            sorted[rank as usize] = e;
        }
        w.copy_from_slice(sorted);
    } else if cells <= BITMAP_CELLS_PER_WRITE * n {
        let SortScratch {
            bits,
            before,
            sorted,
            ..
        } = scratch;
        let words = cells.div_ceil(64);
        if bits.len() < words {
            bits.resize(words, 0);
        }
        before.clear();
        for &(i, _) in w.iter() {
            bits[i as usize / 64] |= 1 << (i % 64);
        }
        let mut set = 0u32;
        before.extend(bits[..words].iter().map(|&b| {
            let at = set;
            set += b.count_ones();
            at
        }));
        sorted.clear();
        sorted.resize(n, (0, 0.0));
        for &e in w.iter() {
            let (k, b) = (e.0 as usize / 64, e.0 % 64);
            let lower = bits[k] & ((1u64 << b) - 1);
            sorted[(before[k] + lower.count_ones()) as usize] = e;
        }
        w.copy_from_slice(sorted);
        // The bitmap is left clear for the next call.
        for &(i, _) in w.iter() {
            bits[i as usize / 64] = 0;
        }
    } else {
        let keys = &mut scratch.packed;
        keys.clear();
        keys.extend(
            w.iter()
                .map(|e| u64::from(e.0) << 32 | u64::from(e.1.to_bits())),
        );
        keys.sort_unstable();
        for (e, &k) in w.iter_mut().zip(keys.iter()) {
            *e = ((k >> 32) as u32, f32::from_bits(k as u32));
        }
    }
}

/// The random decisions EaPU's dense rule makes on the rank-1 request
/// `ΔG_ij = k_i δ_j` (`k_i = scale · x_i · r_wg_us`, f32 as
/// `UpdateRequest::requested_us`): the requests with `0 < |ΔG_ij| < ΔG_th`,
/// counted without visiting every cell. `|k · d|` in f32 is
/// non-decreasing in `d ≥ 0` (rounding is monotone), so a row whose
/// largest product `|k · max|δ||` is below the threshold and whose
/// smallest non-zero one `|k · min_{δ≠0}|δ||` does not underflow counts
/// every non-zero `δ_j`; any other row (a request at or above the
/// threshold, or a product that underflows to 0) is counted by binary
/// search over `|δ|` sorted into `sorted_abs` (a scratch, sorted once per
/// call and only when such a row occurs): its zero products form a prefix
/// and its products at or above the threshold a suffix. The work is one
/// pass over `delta` plus `rows` (a second pass over the rows only where
/// such a row occurs), or `rows · log cols` and a sort, not `rows ·
/// cols`.
pub fn eapu_random_count(
    x: &[f32],
    delta: &[f32],
    scale: f32,
    r_wg_us: f32,
    threshold_us: f32,
    sorted_abs: &mut Vec<f32>,
) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe {
            eapu_random_count_avx2(x, delta, scale, r_wg_us, threshold_us, sorted_abs)
        };
    }
    eapu_random_count_body(x, delta, scale, r_wg_us, threshold_us, sorted_abs)
}

/// [`eapu_random_count`] compiled for AVX2 (its passes over the lines in
/// wider vectors; the same operations, so the same count).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn eapu_random_count_avx2(
    x: &[f32],
    delta: &[f32],
    scale: f32,
    r_wg_us: f32,
    threshold_us: f32,
    sorted_abs: &mut Vec<f32>,
) -> u64 {
    eapu_random_count_body(x, delta, scale, r_wg_us, threshold_us, sorted_abs)
}

#[inline(always)]
fn eapu_random_count_body(
    x: &[f32],
    delta: &[f32],
    scale: f32,
    r_wg_us: f32,
    threshold_us: f32,
    sorted_abs: &mut Vec<f32>,
) -> u64 {
    let th = threshold_us;
    // The largest and smallest non-zero |δ| (NaN ignored, as `f32::max`
    // and `min` do; `magnitude_bits`) and the non-zero count (NaN
    // included), in integers and without a branch on the data: eight
    // running values of each (in vector lanes, as `max_abs`), combined
    // at the end (integer maxima, minima and sums in any order).
    const INF: u32 = 0x7f80_0000;
    let lane = |(max, min_nz, nnz): (u32, u32, u32), d: f32| {
        let b = d.to_bits() & 0x7fff_ffff;
        (
            max.max(magnitude_bits(d)),
            min_nz.min(if b == 0 || b > INF { INF } else { b }),
            nnz + u32::from(b != 0),
        )
    };
    let (mut maxes, mut mins, mut counts) = ([0u32; 8], [INF; 8], [0u32; 8]);
    let mut chunks = delta.chunks_exact(8);
    for c in &mut chunks {
        for (l, &d) in c.iter().enumerate() {
            (maxes[l], mins[l], counts[l]) = lane((maxes[l], mins[l], counts[l]), d);
        }
    }
    let (mut max, mut min_nz, rest) = chunks
        .remainder()
        .iter()
        .fold((0, INF, 0), |a, &d| lane(a, d));
    let mut nnz = u64::from(rest);
    for l in 0..8 {
        max = max.max(maxes[l]);
        min_nz = min_nz.min(mins[l]);
        nnz += u64::from(counts[l]);
    }
    if nnz == 0 {
        return 0;
    }
    let (max, min_nz) = (f32::from_bits(max), f32::from_bits(min_nz));
    // The rows that count every non-zero δ_j, counted without a branch
    // (zero rows are frequent and not predictable); the others, if any,
    // in a second pass.
    let mut easy = 0u64;
    let mut hard = false;
    for &xi in x {
        let k = scale * xi * r_wg_us;
        let zero = k == 0.0;
        let all = ((k * max).abs() < th) & (k * min_nz != 0.0);
        easy += u64::from(!zero & all);
        hard |= !zero & !all;
    }
    let mut n = easy * nnz;
    if hard {
        sorted_abs.clear();
        sorted_abs.extend(delta.iter().map(|d| d.abs()));
        sorted_abs.sort_unstable_by(f32::total_cmp);
        for &xi in x {
            let k = scale * xi * r_wg_us;
            if k == 0.0 || ((k * max).abs() < th && k * min_nz != 0.0) {
                continue;
            }
            let zero = sorted_abs.partition_point(|&d| k * d == 0.0);
            let below = sorted_abs.partition_point(|&d| (k * d).abs() < th);
            n += (below - zero) as u64;
        }
    }
    n
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use crate::Eapu;
    use aimsim_core::stream;

    proptest::proptest! {
        /// Where `skip_surely_reaches` says so, the skip the sampler
        /// computes reaches the cells left; and it says so for most
        /// draws where the expected count `left · p` is small.
        #[test]
        fn a_skip_surely_reaching_the_end_does(
            k in 0u64..(1 << 53),
            log_p in -30.0f64..-0.01,
            left in 1u64..(1 << 40),
        ) {
            let r = k as f64 * (1.0 / (1u64 << 53) as f64);
            let p = 10f64.powf(log_p).min(0.999);
            let left = left as f64;
            let t = (1.0 - r).ln() / (-p).ln_1p();
            if skip_surely_reaches(r, p, left) {
                proptest::prop_assert!(t >= left, "r {r} p {p} left {left}: t {t}");
            }
            if left * p < 1e-3 && r > 2e-3 {
                proptest::prop_assert!(skip_surely_reaches(r, p, left));
            }
        }
    }

    proptest::proptest! {
        /// Each of `sort_by_index`'s three ways (by rank, through the
        /// bitmap, by packed keys) sorts distinct indices with their
        /// values, and leaves the scratch ready for the next call (the
        /// bitmap clear: a second sort with the same scratch is right too).
        #[test]
        fn sort_by_index_sorts_every_way(
            cells in 1usize..20_000,
            picks in proptest::collection::vec((0u32..u32::MAX, -4.0f32..4.0), 0..400),
            again in proptest::collection::vec(0u32..u32::MAX, 0..200),
        ) {
            let mut scratch = SortScratch::default();
            let mut check = |draws: &[(u32, f32)]| -> Result<(), proptest::test_runner::TestCaseError> {
                let mut seen = std::collections::HashSet::new();
                let mut w: Vec<(u32, f32)> = draws
                    .iter()
                    .map(|&(i, d)| (i % cells as u32, d))
                    .filter(|&(i, _)| seen.insert(i))
                    .collect();
                let mut want = w.clone();
                want.sort_unstable_by_key(|e| e.0);
                sort_by_index(&mut w, cells, &mut scratch);
                proptest::prop_assert_eq!(w, want);
                Ok(())
            };
            check(&picks)?;
            let second: Vec<(u32, f32)> = again.iter().map(|&i| (i, i as f32)).collect();
            check(&second)?;
        }
    }

    #[test]
    fn a_skip_just_past_the_bound_is_decided_by_the_logarithms() {
        // At the bound itself the exact skip is r (1 − p) / p · (−ln U / r)
        // ≥ left: the check stays on the safe side of the rounding.
        for p in [1e-15, 1e-14, 1e-9, 1e-4, 0.01, 0.3, 0.9] {
            for left in [1.0, 7.0, 1e3, 1e6] {
                let r_min = left * (p / (1.0 - p));
                if r_min >= 1.0 {
                    continue;
                }
                let k = (r_min * (1u64 << 53) as f64).ceil();
                for dk in 0..64 {
                    let r = (k + dk as f64) / (1u64 << 53) as f64;
                    if skip_surely_reaches(r, p, left) {
                        let t = (1.0 - r).ln() / (-p).ln_1p();
                        assert!(t >= left, "r {r} p {p} left {left}: t {t}");
                    }
                }
            }
        }
    }

    /// The blocked sampler and the random count exactly as they were
    /// before their bookkeeping was fused (commit 10451bb), kept as the
    /// reference the current ones must equal bit for bit: the same
    /// writes in the same order, the same stats, the same random numbers
    /// drawn.
    #[allow(clippy::all)]
    mod reference {
        use super::super::BlockedStats;
        use aimsim_core::Rng;
        use rand::Rng as _;

        const REF_CLASSES: usize = 8;

        #[derive(Clone, Debug, Default)]
        pub struct ReferenceScratch {
            k: Vec<f32>,
            rows: Vec<u32>,
            row_start: [usize; REF_CLASSES + 1],
            cols: Vec<u32>,
            col_start: [usize; REF_CLASSES + 1],
            row_count: Vec<usize>,
            sorted: Vec<(u32, f32)>,
        }

        #[inline]
        pub fn reference_exponent(v: f32) -> i32 {
            ((v.to_bits() >> 23) & 0xff) as i32 - 127
        }

        pub fn reference_classify(
            v: &[f32],
            e_max: i32,
            out: &mut Vec<u32>,
            start: &mut [usize; REF_CLASSES + 1],
        ) {
            let class = |x: f32| ((e_max - reference_exponent(x)) as usize).min(REF_CLASSES - 1);
            let mut count = [0usize; REF_CLASSES];
            for &x in v {
                if x != 0.0 {
                    count[class(x)] += 1;
                }
            }
            start[0] = 0;
            for c in 0..REF_CLASSES {
                start[c + 1] = start[c] + count[c];
            }
            out.clear();
            out.resize(start[REF_CLASSES], 0);
            let mut at = *start;
            for (i, &x) in v.iter().enumerate() {
                if x != 0.0 {
                    let c = class(x);
                    out[at[c]] = i as u32;
                    at[c] += 1;
                }
            }
        }

        #[allow(clippy::too_many_arguments)]
        pub fn reference_sample_eapu_rank1_blocked(
            x: &[f32],
            delta: &[f32],
            scale: f32,
            r_wg_us: f32,
            threshold_us: f32,
            rng: &mut Rng,
            scratch: &mut ReferenceScratch,
            out: &mut Vec<(u32, f32)>,
        ) -> BlockedStats {
            let th = threshold_us;
            let cols = delta.len();
            let mut st = BlockedStats::default();
            let ReferenceScratch {
                k,
                rows,
                row_start,
                cols: cls,
                col_start,
                row_count,
                sorted,
            } = scratch;
            k.clear();
            k.extend(x.iter().map(|&xi| scale * xi * r_wg_us));
            let k_max = k.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let d_max = delta.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if k_max == 0.0 || d_max == 0.0 {
                return st;
            }
            let (ek, ed) = (reference_exponent(k_max), reference_exponent(d_max));
            reference_classify(k, ek, rows, row_start);
            reference_classify(delta, ed, cls, col_start);
            let class_max = |v: &[f32], idx: &[u32], start: &[usize; REF_CLASSES + 1]| {
                std::array::from_fn::<f32, REF_CLASSES, _>(|c| {
                    idx[start[c]..start[c + 1]]
                        .iter()
                        .fold(0.0f32, |m, &i| m.max(v[i as usize].abs()))
                })
            };
            let k_class_max = class_max(k, rows, row_start);
            let d_class_max = class_max(delta, cls, col_start);
            let first = out.len();
            let th64 = f64::from(th);
            for s in 0..=2 * (REF_CLASSES - 1) {
                let a_lo = s.saturating_sub(REF_CLASSES - 1);
                let a_hi = s.min(REF_CLASSES - 1);
                // The blocks (a, s − a) of this class sum, and their cells.
                let blocks = (a_lo..=a_hi).map(|a| (a, s - a));
                let total: u64 = blocks
                    .clone()
                    .map(|(a, b)| {
                        ((row_start[a + 1] - row_start[a]) * (col_start[b + 1] - col_start[b]))
                            as u64
                    })
                    .sum();
                if total == 0 {
                    continue;
                }
                // B_s: the largest f32 product of a class's largest factors over
                // the blocks of this sum. Every request of the blocks is at most
                // B_s (rounding is monotone: |k δ| ≤ max|k| · max|δ| exactly, so
                // the rounded products keep the order).
                let b_s = blocks
                    .clone()
                    .filter(|&(a, b)| {
                        row_start[a + 1] > row_start[a] && col_start[b + 1] > col_start[b]
                    })
                    .map(|(a, b)| k_class_max[a] * d_class_max[b])
                    .fold(0.0f32, f32::max);
                if b_s == 0.0 {
                    // Every product rounds to 0: nothing is written.
                    continue;
                }
                let bound = f64::from(b_s);
                let p = bound / th64;
                if p >= 1.0 {
                    for (a, b) in blocks {
                        for &i in &rows[row_start[a]..row_start[a + 1]] {
                            let ki = k[i as usize];
                            let base = i as usize * cols;
                            for &j in &cls[col_start[b]..col_start[b + 1]] {
                                st.dense_cells += 1;
                                let r = ki * delta[j as usize];
                                let m = r.abs();
                                let d = if m >= th {
                                    r
                                } else if m == 0.0 {
                                    0.0
                                } else {
                                    let u: f32 = rng.random();
                                    if u * th < m {
                                        th.copysign(r)
                                    } else {
                                        0.0
                                    }
                                };
                                if d != 0.0 {
                                    out.push(((base + j as usize) as u32, d));
                                }
                            }
                        }
                    }
                    continue;
                }
                let ln_q = (-p).ln_1p();
                let mut blocks = blocks.peekable();
                let (mut a, mut b) = *blocks.peek().expect("a block");
                let mut block_start = 0u64;
                let size = |a: usize, b: usize| {
                    ((row_start[a + 1] - row_start[a]) * (col_start[b + 1] - col_start[b])) as u64
                };
                let mut block_end = size(a, b);
                let mut next = 0.0f64;
                loop {
                    st.skip_draws += 1;
                    // U on (0, 1]: ln U is finite; ⌊ln U / ln(1 − p)⌋ by
                    // truncation, as in `sample_eapu_rank1`.
                    let u = 1.0 - rng.random::<f64>();
                    next += (u.ln() / ln_q) as u64 as f64;
                    if next >= total as f64 {
                        break;
                    }
                    let pos = next as u64;
                    next += 1.0;
                    while pos >= block_end {
                        blocks.next();
                        (a, b) = *blocks.peek().expect("position inside the class sum");
                        block_start = block_end;
                        block_end += size(a, b);
                    }
                    let q = (pos - block_start) as usize;
                    let nb = col_start[b + 1] - col_start[b];
                    let i = rows[row_start[a] + q / nb] as usize;
                    let j = cls[col_start[b] + q % nb] as usize;
                    st.candidates += 1;
                    let r = k[i] * delta[j];
                    let v: f32 = rng.random();
                    if f64::from(v) * bound < f64::from(r.abs()) {
                        out.push(((i * cols + j) as u32, th.copysign(r)));
                    }
                }
            }
            reference_sort_by_index(&mut out[first..], x.len(), cols, row_count, sorted);
            st.writes = (out.len() - first) as u64;
            st
        }

        fn reference_sort_by_index(
            w: &mut [(u32, f32)],
            rows: usize,
            cols: usize,
            count: &mut Vec<usize>,
            tmp: &mut Vec<(u32, f32)>,
        ) {
            if w.len() < 2 || cols == 0 {
                return;
            }
            if w.len() <= rows {
                // Fewer writes than rows: a comparison sort is cheaper.
                w.sort_unstable_by_key(|&(idx, _)| idx);
                return;
            }
            count.clear();
            count.resize(rows + 1, 0);
            for &(idx, _) in w.iter() {
                count[idx as usize / cols + 1] += 1;
            }
            for r in 0..rows {
                count[r + 1] += count[r];
            }
            tmp.clear();
            tmp.resize(w.len(), (0, 0.0));
            for &e in w.iter() {
                let r = e.0 as usize / cols;
                tmp[count[r]] = e;
                count[r] += 1;
            }
            // count[r] is now the end of row r.
            let mut start = 0;
            for &end in &count[..rows] {
                let row = &mut tmp[start..end];
                for i in 1..row.len() {
                    let mut j = i;
                    while j > 0 && row[j - 1].0 > row[j].0 {
                        row.swap(j - 1, j);
                        j -= 1;
                    }
                }
                start = end;
            }
            w.copy_from_slice(tmp);
        }

        pub fn reference_eapu_random_count(
            x: &[f32],
            delta: &[f32],
            scale: f32,
            r_wg_us: f32,
            threshold_us: f32,
            sorted_abs: &mut Vec<f32>,
        ) -> u64 {
            let th = threshold_us;
            let (mut max, mut min_nz, mut nnz) = (0.0f32, f32::INFINITY, 0u64);
            for d in delta {
                let a = d.abs();
                if a != 0.0 {
                    max = max.max(a);
                    min_nz = min_nz.min(a);
                    nnz += 1;
                }
            }
            if nnz == 0 {
                return 0;
            }
            let mut sorted = false;
            x.iter()
                .map(|&xi| {
                    let k = scale * xi * r_wg_us;
                    if k == 0.0 {
                        return 0;
                    }
                    if (k * max).abs() < th && k * min_nz != 0.0 {
                        return nnz;
                    }
                    if !sorted {
                        sorted_abs.clear();
                        sorted_abs.extend(delta.iter().map(|d| d.abs()));
                        sorted_abs.sort_unstable_by(f32::total_cmp);
                        sorted = true;
                    }
                    let zero = sorted_abs.partition_point(|&d| k * d == 0.0);
                    let below = sorted_abs.partition_point(|&d| (k * d).abs() < th);
                    (below - zero) as u64
                })
                .sum()
        }
    }

    #[test]
    fn log_quantise_is_unbiased_and_on_levels() {
        // 4 levels: 1, 1/2, 1/4, 1/8 of the maximum 2.0. Each value's mean
        // over N = 100 000 draws is within 5 SE (SE ≤ m·2^−k/2/√N).
        let levels = 4;
        let base = [2.0f32, -1.3, 0.7, 0.2, -0.05, 0.0, 0.25];
        let n = 100_000;
        let mut sum = [0.0f64; 7];
        let mut rng = stream(7, "lq");
        let allowed = [0.0f32, 0.25, 0.5, 1.0, 2.0];
        for _ in 0..n {
            let mut v = base;
            log_quantise(&mut v, levels, &mut rng);
            for (k, (&q, &b)) in v.iter().zip(&base).enumerate() {
                assert!(allowed.contains(&q.abs()), "{q}");
                assert!(q == 0.0 || q.signum() == b.signum());
                sum[k] += f64::from(q);
            }
        }
        for (k, &b) in base.iter().enumerate() {
            let mean = sum[k] / f64::from(n);
            let se = 2.0 / (f64::from(n)).sqrt();
            assert!((mean - f64::from(b)).abs() < 5.0 * se, "{b}: {mean}");
        }
        // Values on a level are exact and draw nothing.
        let mut v = [4.0f32, -1.0, 0.5];
        assert_eq!(log_quantise(&mut v, 4, &mut rng), 0);
        assert_eq!(v, [4.0, -1.0, 0.5]);
    }

    /// The sparse sampler writes each cell with EaPU's probability:
    /// 40 000 trials of a 12 × 16 tile whose requests span p from 0.002
    /// to 0.9 (and rows above threshold); each cell's write count is
    /// binomial(N, p_ij), so `|count − N p| ≤ 5 √(N p (1 − p)) + 1` holds
    /// for all 192 cells with probability > 0.9999 (a 5σ bound per cell,
    /// 192 cells). The same bound holds for the dense rule on the same
    /// requests, and the chi-square of the sub-threshold cells' counts
    /// against N·p_ij (one degree of freedom per cell) stays below its
    /// 99.99 % quantile (Wilson–Hilferty, z = 3.719).
    /// The rank-1 requests `scale · x_i · r_wg · δ_j` (row-major) and
    /// EaPU's write probability of each, `min(1, |ΔG|/ΔG_th)`.
    fn rank1_requests(
        x: &[f32],
        delta: &[f32],
        scale: f32,
        r_wg: f32,
        th: f32,
    ) -> (Vec<f32>, Vec<f64>) {
        let req: Vec<f32> = x
            .iter()
            .flat_map(|&xi| delta.iter().map(move |&d| scale * xi * r_wg * d))
            .collect();
        let p = req
            .iter()
            .map(|r| (f64::from(r.abs()) / f64::from(th)).min(1.0))
            .collect();
        (req, p)
    }

    /// Asserts that each cell's write count over `n` trials is within
    /// `5 √(N p (1 − p)) + 1` of `N p`; returns the chi-square of the
    /// cells with `0 < p < 1` (one degree of freedom each), their number
    /// and the chi-square's 99.99 % quantile (Wilson–Hilferty, z = 3.719).
    pub(crate) fn binomial_check(name: &str, p: &[f64], counts: &[u32], n: u32) -> (f64, f64, f64) {
        let nf = f64::from(n);
        let (mut chi2, mut df) = (0.0f64, 0.0f64);
        for (k, (&q, &c)) in p.iter().zip(counts).enumerate() {
            let c = f64::from(c);
            let bound = 5.0 * (nf * q * (1.0 - q)).sqrt() + 1.0;
            assert!(
                (c - nf * q).abs() <= bound,
                "{name} cell {k}: {c} writes, expected {:.2} (p = {q})",
                nf * q
            );
            if q > 0.0 && q < 1.0 {
                let e = nf * q;
                chi2 += (c - e).powi(2) / (e * (1.0 - q));
                df += 1.0;
            }
        }
        let h = 2.0 / (9.0 * df);
        (chi2, df, df * (1.0 - h + 3.719 * h.sqrt()).powi(3))
    }

    #[test]
    fn sparse_sampler_matches_the_dense_rule_in_distribution() {
        let (rows, cols) = (12usize, 16usize);
        let x: Vec<f32> = (0..rows)
            .map(|i| match i {
                3 => 0.0,
                7 => 4.0,
                _ => (0.05 + 0.08 * i as f32) * if i % 2 == 0 { 1.0 } else { -1.0 },
            })
            .collect();
        let delta: Vec<f32> = (0..cols)
            .map(|j| match j {
                5 => 0.0,
                _ => (0.02 + 0.06 * j as f32) * if j % 3 == 0 { -1.0 } else { 1.0 },
            })
            .collect();
        let (scale, r_wg, th) = (-0.01f32, 80.0f32, 2.0f32);
        let (req, p) = rank1_requests(&x, &delta, scale, r_wg, th);
        assert!(p.contains(&1.0), "some rows above threshold");
        assert!(p.iter().any(|&q| q > 0.0 && q < 0.01));
        let n = 40_000u32;
        let mut sampled = vec![0u32; rows * cols];
        let mut dense = vec![0u32; rows * cols];
        let mut rng = stream(11, "sampler");
        let mut out = Vec::new();
        let mut rule = Eapu { threshold_us: th };
        let mut dec = vec![0.0f32; rows * cols];
        let mut rng_dense = stream(11, "dense");
        let mut stats = SamplerStats::default();
        for _ in 0..n {
            out.clear();
            let s = sample_eapu_rank1(&x, &delta, scale, r_wg, th, &mut rng, &mut out);
            stats.candidates += s.candidates;
            stats.writes += s.writes;
            for &(idx, d) in &out {
                let r = req[idx as usize];
                assert!(d == r || d == th.copysign(r), "{d} for {r}");
                sampled[idx as usize] += 1;
            }
            decide_plain(&mut rule, &req, &mut dec, &mut rng_dense);
            for (c, &d) in dense.iter_mut().zip(&dec) {
                *c += u32::from(d != 0.0);
            }
        }
        binomial_check("dense", &p, &dense, n);
        let (chi2, df, quantile) = binomial_check("sampler", &p, &sampled, n);
        println!("sparse sampler: chi-square {chi2:.1} over {df} cells (bound {quantile:.1}); candidates {} for {} writes", stats.candidates, stats.writes);
        assert!(
            chi2 < quantile,
            "chi-square {chi2} over {df} cells, bound {quantile}"
        );
        // Fewer candidates than cells: the work follows the writes.
        assert!(stats.candidates < (rows * cols) as u64 * u64::from(n) / 2);
        assert!(stats.candidates >= stats.writes / 2);
    }

    /// The blocked sampler writes each cell with EaPU's probability, on
    /// requests spread over more magnitude classes than it has (x from
    /// 1e-4 to 4, δ from 1e-3 to 0.9, zeros and a subnormal): 40 000
    /// trials of a 14 × 18 tile, each cell's count within
    /// `5 √(N p (1 − p)) + 1` of `N p` and the chi-square of the
    /// sub-threshold cells below its 99.99 % quantile (as the test
    /// above); written values are `ΔG` at or above the threshold, else
    /// `±ΔG_th`, in index order.
    #[test]
    fn blocked_sampler_matches_the_dense_rule_in_distribution() {
        let (rows, cols) = (14usize, 18usize);
        let x: Vec<f32> = (0..rows)
            .map(|i| match i {
                2 => 0.0,
                5 => 4.0,
                9 => 1e-40,
                _ => 1e-4 * 2.2f32.powi(i as i32) * if i % 2 == 0 { 1.0 } else { -1.0 },
            })
            .collect();
        let delta: Vec<f32> = (0..cols)
            .map(|j| match j {
                4 => 0.0,
                _ => 1e-3 * 1.5f32.powi(j as i32) * if j % 3 == 0 { -1.0 } else { 1.0 },
            })
            .collect();
        let (scale, r_wg, th) = (-0.5f32, 80.0f32, 2.0f32);
        let (req, p) = rank1_requests(&x, &delta, scale, r_wg, th);
        assert!(p.contains(&1.0), "some requests above threshold");
        assert!(p.iter().any(|&q| q > 0.0 && q < 1e-4));
        let n = 40_000u32;
        let mut counts = vec![0u32; rows * cols];
        let mut rng = stream(12, "blocked");
        let mut scratch = BlockedScratch::default();
        let mut out = Vec::new();
        let mut candidates = 0u64;
        for _ in 0..n {
            out.clear();
            let st = sample_eapu_rank1_blocked(
                &x,
                &delta,
                scale,
                r_wg,
                th,
                &mut rng,
                &mut scratch,
                &mut out,
            );
            assert_eq!(st.writes, out.len() as u64);
            candidates += st.candidates;
            assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "index order");
            for &(idx, d) in &out {
                let r = req[idx as usize];
                assert!(
                    if r.abs() >= th {
                        d == r
                    } else {
                        d == th.copysign(r)
                    },
                    "{d} for {r}"
                );
                counts[idx as usize] += 1;
            }
        }
        let (chi2, df, quantile) = binomial_check("blocked", &p, &counts, n);
        println!("blocked sampler: chi-square {chi2:.1} over {df} cells (bound {quantile:.1}); {candidates} candidates");
        assert!(
            chi2 < quantile,
            "chi-square {chi2} over {df} cells, bound {quantile}"
        );
        // Nothing to write: no draws.
        out.clear();
        let st = sample_eapu_rank1_blocked(
            &x,
            &[0.0; 3],
            scale,
            r_wg,
            th,
            &mut rng,
            &mut scratch,
            &mut out,
        );
        assert_eq!((st, out.len()), (BlockedStats::default(), 0));
    }

    /// The count by binary search equals the dense rule's random decisions
    /// on random rank-1 requests with zeros, values exactly at the
    /// threshold, products that underflow to zero and rows above it.
    #[test]
    fn eapu_random_count_matches_the_dense_rule() {
        let mut rng = stream(21, "count");
        let th = 2.0f32;
        let mut exact = 0;
        let mut scratch = Vec::new();
        for trial in 0..300 {
            let (rows, cols) = (1 + trial % 9, 1 + (trial * 7) % 23);
            let r_wg = 80.0f32;
            let scale = -0.01 * (1.0 + rng.random::<f32>());
            let pick = |rng: &mut Rng, v: f32| match rng.random_range(0..6) {
                0 => 0.0,
                1 => -v,
                2 => 1e-40,
                _ => v * rng.random::<f32>() * if rng.random() { 1.0 } else { -1.0 },
            };
            let x: Vec<f32> = (0..rows).map(|_| pick(&mut rng, 3.0)).collect();
            let mut delta: Vec<f32> = (0..cols).map(|_| pick(&mut rng, 4.0)).collect();
            // Some δ_j with |k_0 δ_j| exactly ΔG_th (when k_0 divides it
            // exactly in f32), and its neighbours either side.
            let k0 = scale * x[0] * r_wg;
            if k0 != 0.0 && cols > 3 {
                let d = th / k0;
                if (k0 * d).abs() == th {
                    exact += 1;
                    delta[0] = d;
                    delta[1] = f32::from_bits(d.to_bits() - 1);
                    delta[2] = -f32::from_bits(d.to_bits() + 1);
                }
            }
            let mut req = vec![0.0f32; rows * cols];
            crate::UpdateRequest::Factors {
                x: &x,
                delta: &delta,
                scale,
            }
            .requested_us(
                rows,
                cols,
                crate::TileBlock {
                    row0: 0,
                    col0: 0,
                    rows,
                    cols,
                },
                r_wg,
                &mut req,
            );
            let mut dec = vec![0.0f32; rows * cols];
            let mut rule = Eapu { threshold_us: th };
            let dense = decide_plain(&mut rule, &req, &mut dec, &mut stream(1, "d"));
            let n = eapu_random_count(&x, &delta, scale, r_wg, th, &mut scratch);
            assert_eq!(
                n, dense.random_decisions,
                "trial {trial}: x {x:?} δ {delta:?}"
            );
        }
        assert!(exact > 30, "{exact} trials with a request exactly at ΔG_th");
        // By hand, k = 0.5: 1e-45 · 0.5 underflows to 0; 0.5 and 1.5 are
        // random; 2 (exactly ΔG_th) and 2.5 are not.
        let d = [5.0, 1e-45, 0.0, 3.0, 4.0, 1.0];
        assert_eq!(
            eapu_random_count(&[1.0], &d, 0.5, 1.0, 2.0, &mut scratch),
            2
        );
        // Every row below the threshold with no underflow: the non-zero
        // count per row, 0 for a zero row, whatever the order of δ.
        let d = [0.5, 0.0, -1.0, 0.25];
        assert_eq!(
            eapu_random_count(&[1.0, 0.0, -1.5], &d, 1.0, 1.0, 2.0, &mut scratch),
            6
        );
    }

    #[test]
    fn sampler_cost_follows_writes_not_cells() {
        // The same expected writes per row on 64 and 4096 columns: δ on
        // the wide tile is 64× smaller per column, so p̄·cols is equal.
        let mut rng = stream(3, "c");
        let mut out = Vec::new();
        let x = vec![0.5f32; 16];
        let narrow = vec![0.3f32; 64];
        let wide = vec![0.3f32 / 64.0; 4096];
        let mut c = [0u64; 2];
        for _ in 0..200 {
            for (slot, d) in [(0, &narrow), (1, &wide)] {
                out.clear();
                let s = sample_eapu_rank1(&x, d, -0.01, 80.0, 2.0, &mut rng, &mut out);
                c[slot] += s.skip_draws;
            }
        }
        let ratio = c[1] as f64 / c[0] as f64;
        assert!((0.9..1.1).contains(&ratio), "skip draws {c:?}");
    }

    /// `classify` gives each class the entries, their order and the
    /// largest magnitude of the reference's counting sort and class
    /// maxima, bit for bit, on the factors of the test above (and lines
    /// past 255 entries): a class maximum an ulp off changes the
    /// sampler's decisions too rarely for that test to see.
    #[test]
    fn classify_equals_its_reference() {
        let mut gen = stream(32, "classify");
        let (mut class, mut idx, mut ref_idx) = (Vec::new(), Vec::new(), Vec::new());
        let mut ref_start = [0usize; CLASSES + 1];
        for _ in 0..3000 {
            let n = match gen.random_range(0..10) {
                0..3 => gen.random_range(1..9),
                3 => gen.random_range(250..301),
                _ => gen.random_range(1..201),
            };
            let v = random_factors(&mut gen, n);
            let top = max_abs(&v);
            let ref_top = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert_eq!(top.to_bits(), ref_top.to_bits(), "{v:?}");
            if top == 0.0 {
                continue;
            }
            let c = classify(&v, top, &mut class, &mut idx);
            // The baseline body gives what the dispatched copy gave.
            let mut idx_body = Vec::new();
            let cb = classify_body(&v, top, &mut Vec::new(), &mut idx_body, chunk_maxima);
            for k in 0..CLASSES {
                let (a, b) = (c.start[k], cb.start[k]);
                assert_eq!(
                    (&idx[a..a + c.count[k]], c.max[k].to_bits()),
                    (&idx_body[b..b + cb.count[k]], cb.max[k].to_bits())
                );
            }
            let e_max = reference::reference_exponent(ref_top);
            reference::reference_classify(&v, e_max, &mut ref_idx, &mut ref_start);
            for k in 0..CLASSES {
                let r = &ref_idx[ref_start[k]..ref_start[k + 1]];
                assert_eq!(&idx[c.start[k]..c.start[k] + c.count[k]], r, "{v:?}");
                let m = r.iter().fold(0.0f32, |m, &i| m.max(v[i as usize].abs()));
                assert_eq!(c.max[k].to_bits(), m.to_bits(), "class {k} of {v:?}");
            }
        }
    }

    /// A random factor vector of `n` values in one of several styles: a
    /// typical spread, a huge dynamic range (every magnitude class used),
    /// all equal, mostly zero, all zero, or a mixture of zeros,
    /// subnormals, negatives, large values and rarely NaN or infinity.
    fn random_factors(rng: &mut Rng, n: usize) -> Vec<f32> {
        let sign = |rng: &mut Rng| if rng.random() { 1.0f32 } else { -1.0 };
        let top = 2f32.powi(rng.random_range(-12..6));
        match rng.random_range(0..8) {
            0 | 1 => (0..n)
                .map(|_| top * rng.random::<f32>() * sign(rng))
                .collect(),
            2 => (0..n)
                .map(|_| top * 2f32.powf(-40.0 * rng.random::<f32>()) * sign(rng))
                .collect(),
            3 => {
                let v = top * rng.random::<f32>();
                (0..n)
                    .map(|_| v * if rng.random_bool(0.2) { -1.0 } else { 1.0 })
                    .collect()
            }
            4 => (0..n)
                .map(|_| {
                    if rng.random_bool(0.9) {
                        0.0
                    } else {
                        top * rng.random::<f32>() * sign(rng)
                    }
                })
                .collect(),
            5 if rng.random_bool(0.3) => vec![0.0; n],
            _ => (0..n)
                .map(|_| match rng.random_range(0..200) {
                    0..25 => 0.0,
                    25..50 => 1e-40 * sign(rng),
                    50..75 => f32::from_bits(rng.random_range(1..0x0080_0000)) * sign(rng),
                    75..100 => 64.0 * rng.random::<f32>() * sign(rng),
                    100..125 => top,
                    // Not from a training run, but the same bits all the same.
                    125 => f32::NAN,
                    126 => f32::INFINITY * sign(rng),
                    _ => top * rng.random::<f32>() * sign(rng),
                })
                .collect(),
        }
    }

    /// The blocked sampler and the random count equal their reference
    /// copies (module `reference`) bit for bit on random inputs: shapes
    /// from 1 × 1 to 300 × 300, zeros, negatives, subnormals, requests
    /// exactly at the threshold, all-equal factors, dynamic ranges wider
    /// than the classes, bounds at or above the threshold (dense blocks),
    /// a reused scratch and a non-empty `out`. Equal: the written cells
    /// (index and bits of ΔG, in order), the stats, the count and the
    /// random stream after the call.
    #[test]
    fn blocked_sampler_and_count_equal_their_reference() {
        let mut gen = stream(31, "bit-identity");
        let mut scratch = BlockedScratch::default();
        let mut ref_scratch = reference::ReferenceScratch::default();
        let (mut sorted_abs, mut ref_sorted_abs) = (Vec::new(), Vec::new());
        let (mut out, mut ref_out) = (Vec::new(), Vec::new());
        let (mut writes, mut dense, mut exact, mut reused) = (0u64, 0u64, 0u64, 0u64);
        let mut prev: Option<(Vec<f32>, f32, f32)> = None;
        for trial in 0..4000u64 {
            let dim = |gen: &mut Rng| match gen.random_range(0..10) {
                0..3 => gen.random_range(1..9),
                3 => gen.random_range(250..301),
                _ => gen.random_range(1..201),
            };
            let (rows, cols) = (dim(&mut gen), dim(&mut gen));
            let mut x = random_factors(&mut gen, rows);
            let mut delta = random_factors(&mut gen, cols);
            let mut scale =
                2f32.powf(gen.random_range(-12.0..2.0)) * if gen.random() { 1.0 } else { -1.0 };
            let mut r_wg = [80.0f32, 1.0, 37.5][gen.random_range(0..3)];
            // Often the rows of the previous call (another tile of the
            // same row band: the scratch keeps their classes), sometimes
            // with one factor changed in its last bit.
            if let Some((px, ps, pr)) = prev.take().filter(|_| gen.random_bool(0.4)) {
                (x, scale, r_wg) = (px, ps, pr);
                reused += 1;
                if gen.random_bool(0.2) {
                    let i = gen.random_range(0..x.len());
                    x[i] = f32::from_bits(x[i].to_bits() ^ 1);
                }
            }
            let rows = x.len();
            prev = Some((x.clone(), scale, r_wg));
            let th = [2.0f32, 0.5, 1e-3, 1e-6][gen.random_range(0..4)];
            // Some δ_j with |k_i δ_j| exactly ΔG_th, and its neighbours.
            let i = gen.random_range(0..rows);
            let ki = scale * x[i] * r_wg;
            if ki != 0.0 && cols > 3 && gen.random_bool(0.3) {
                let d = th / ki;
                if d.is_finite() && d != 0.0 && (ki * d).abs() == th {
                    exact += 1;
                    let j = gen.random_range(0..cols - 2);
                    delta[j] = d;
                    delta[j + 1] = f32::from_bits(d.to_bits() - 1);
                    delta[j + 2] = -f32::from_bits(d.to_bits() + 1);
                }
            }
            // Sometimes writes of an earlier tile are already there.
            out.clear();
            if gen.random_bool(0.2) {
                out.extend([(7u32, 1.0f32), (3, -2.0)]);
            }
            ref_out.clone_from(&out);
            let mut rng = stream(trial, "draws");
            let mut ref_rng = rng.clone();
            let st = sample_eapu_rank1_blocked(
                &x,
                &delta,
                scale,
                r_wg,
                th,
                &mut rng,
                &mut scratch,
                &mut out,
            );
            let ref_st = reference::reference_sample_eapu_rank1_blocked(
                &x,
                &delta,
                scale,
                r_wg,
                th,
                &mut ref_rng,
                &mut ref_scratch,
                &mut ref_out,
            );
            let ctx =
                || format!("trial {trial}: {rows} × {cols}, scale {scale}, r_wg {r_wg}, th {th}");
            // (The reference predates the count of requests at or above
            // the threshold.)
            let st = BlockedStats {
                at_or_above: 0,
                ..st
            };
            assert_eq!(st, ref_st, "{}", ctx());
            assert_eq!(out.len(), ref_out.len(), "{}", ctx());
            for (w, r) in out.iter().zip(&ref_out) {
                assert_eq!((w.0, w.1.to_bits()), (r.0, r.1.to_bits()), "{}", ctx());
            }
            assert_eq!(rng.random::<u64>(), ref_rng.random::<u64>(), "{}", ctx());
            assert_eq!(
                eapu_random_count(&x, &delta, scale, r_wg, th, &mut sorted_abs),
                eapu_random_count_body(&x, &delta, scale, r_wg, th, &mut Vec::new()),
                "{}",
                ctx()
            );
            assert_eq!(
                eapu_random_count(&x, &delta, scale, r_wg, th, &mut sorted_abs),
                reference::reference_eapu_random_count(
                    &x,
                    &delta,
                    scale,
                    r_wg,
                    th,
                    &mut ref_sorted_abs
                ),
                "{}",
                ctx()
            );
            writes += st.writes;
            dense += u64::from(st.dense_cells > 0);
        }
        // The inputs reach every path.
        assert!(writes > 10_000, "{writes} writes");
        assert!(dense > 300, "{dense} trials with dense blocks");
        assert!(
            exact > 100,
            "{exact} trials with a request exactly at ΔG_th"
        );
        assert!(reused > 1000, "{reused} trials on the previous rows");
    }
}
