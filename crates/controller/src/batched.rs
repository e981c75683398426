//! EaPU's decisions on a rank-P request (a batch, or a convolution's
//! positions), drawn by sampling with a cost that grows with the writes.
//!
//! A tile's request is `ΔG_ij = Σ_p u_pi v_pj` (`u_pi = scale_us · x_pi`,
//! `v_pj = δ_pj`). EaPU's dense rule writes `ΔG_ij` where `|ΔG_ij| ≥
//! ΔG_th` and otherwise `sign(ΔG_ij)·ΔG_th` with probability
//! `|ΔG_ij|/ΔG_th`, every cell independently. By Cauchy–Schwarz
//! `|ΔG_ij| ≤ ‖u_i‖ ‖v_j‖`, a bound of the rank-1 form `k_i · δ_j`, so the
//! blocked sampler of [`crate::sample_eapu_rank1_blocked`] draws
//! candidates from the bound and keeps each with probability
//! `|ΔG_ij| / bound`, computing `ΔG_ij` (P multiply-adds) for the
//! candidates and for the cells of blocks whose bound reaches `ΔG_th`
//! only: the same distribution as the dense rule, at a cost of the
//! candidates, not of the cells. The bound carries a margin `1 + (P +
//! 16)·2⁻²³` for the rounding of the f32 sums and products (a computed
//! sum of P products is within `P·2⁻²⁴ Σ|u v|` of the exact one).
//!
//! The random decisions charged to the units that run the dense rule are
//! counted without visiting every cell: one per sub-threshold request
//! that is not known to be 0 from its factors. Every request at or above
//! the threshold lies in a block decided cell by cell (its bound reaches
//! the threshold), and the requests known to be 0 are those whose row
//! and column have no term `p` non-zero in both (counted from the lines'
//! support masks, grouped by distinct mask). This is the dense rule's
//! count (a draw per request with `0 < |ΔG_ij| < ΔG_th`) except for a
//! request whose non-zero terms cancel to exactly 0: the hardware's zero
//! test here is on the factors, so it draws for it (no decision changes,
//! only the count; the rank-1 count, `eapu_random_count`, tests the
//! product itself).
//!
//! Each `ΔG_ij` is summed in eight interleaved partial sums ([`dot`]), not
//! in `p` order as `UpdateRequest::requested_us` sums it: the requests
//! differ from the dense path's in their last bits.

use crate::forming::{sample_blocked, BlockedStats, Lines, SortScratch};
use crate::TileBlock;
use aimsim_core::Rng;

/// A rank-P request's factors laid out for [`sample_eapu_rank_p`], built
/// once per matrix and update ([`RankPFactors::prepare`]) and shared by
/// its tiles: each line's terms contiguous, its bound factor and its
/// support (no allocation once grown).
#[derive(Clone, Debug, Default)]
pub struct RankPFactors {
    /// Terms per line `P`, and the matrix's rows and columns.
    p: usize,
    rows: usize,
    cols: usize,
    /// Each row's terms `u_i` (`rows × P`) and each column's `v_j` (`cols ×
    /// P`).
    u: Vec<f32>,
    v: Vec<f32>,
    /// Each line's bound factor: its Euclidean norm (the rows' with the
    /// margin).
    k: Vec<f32>,
    b: Vec<f32>,
    /// Each line's support (bit `q mod 64` of word `q / 64` set where its
    /// term `q` is non-zero), `⌈P/64⌉` words per line.
    row_masks: Vec<u64>,
    col_masks: Vec<u64>,
    /// Each row's and each column's sum of squared terms, f64 (working
    /// memory).
    squares: Vec<f64>,
    col_squares: Vec<f64>,
}

impl RankPFactors {
    /// Lays out the request `ΔG_ij = Σ_p (scale_us · x[p·rows + i]) ·
    /// delta[p·cols + j]` of a `rows × cols` matrix (`x`: `P × rows`,
    /// `delta`: `P × cols`, `P ≥ 1`).
    ///
    /// # Panics
    /// If the factors are not `P × rows` and `P × cols` (a broken caller
    /// invariant).
    pub fn prepare(&mut self, x: &[f32], delta: &[f32], rows: usize, cols: usize, scale_us: f32) {
        self.prepare_with(x, delta, rows, cols, scale_us, |rows, cols| {
            rows();
            cols();
        });
    }

    /// [`RankPFactors::prepare`], laying out the rows' and the columns'
    /// factors by `join`, which must call both closures once, in either
    /// order or at once (on two threads: they share no memory). The same
    /// layout either way.
    ///
    /// # Panics
    /// As [`RankPFactors::prepare`]; and if `join` did not call both.
    pub fn prepare_with(
        &mut self,
        x: &[f32],
        delta: &[f32],
        rows: usize,
        cols: usize,
        scale_us: f32,
        join: impl FnOnce(&mut (dyn FnMut() + Send), &mut (dyn FnMut() + Send)),
    ) {
        let p = x.len() / rows.max(1);
        assert!(
            p > 0 && x.len() == p * rows && delta.len() == p * cols,
            "factors are not P × {rows} and P × {cols}"
        );
        (self.p, self.rows, self.cols) = (p, rows, cols);
        let margin = 1.0 + (p as f64 + 16.0) * f64::from(f32::EPSILON);
        let (mut rows_done, mut cols_done) = (false, false);
        let (u, k, row_masks, sq) = (
            &mut self.u,
            &mut self.k,
            &mut self.row_masks,
            &mut self.squares,
        );
        let (v, b, col_masks, col_sq) = (
            &mut self.v,
            &mut self.b,
            &mut self.col_masks,
            &mut self.col_squares,
        );
        join(
            &mut || {
                lay_out(x, p, scale_us, margin, u, k, row_masks, sq);
                rows_done = true;
            },
            &mut || {
                lay_out(delta, p, 1.0, 1.0, v, b, col_masks, col_sq);
                cols_done = true;
            },
        );
        assert!(rows_done && cols_done, "join called both layouts");
    }
}

/// Reused working memory of [`sample_eapu_rank_p`] (no allocation once
/// grown).
#[derive(Clone, Debug, Default)]
pub struct RankPScratch {
    /// The tile's distinct row and column masks with their line counts.
    order: Vec<u32>,
    row_groups: Vec<(u32, u64)>,
    col_groups: Vec<(u32, u64)>,
    /// The blocked sampler's working memory.
    class: Vec<u8>,
    rows: Vec<u32>,
    cols: Vec<u32>,
    sort: SortScratch,
}

/// The work of one [`sample_eapu_rank_p`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RankPStats {
    /// The blocked sampler's draws.
    pub blocked: BlockedStats,
    /// The random decisions EaPU's dense rule makes on the tile (module
    /// doc).
    pub random_decisions: u64,
}

/// EaPU's decisions for `block` of the rank-P request laid out in `f`, in
/// the distribution of EaPU's dense rule (module doc); each written cell
/// of the block is appended to `out` as (row-major index within the
/// block, ΔG µS), in index order. Draws only from `rng`.
///
/// # Panics
/// If the block leaves the matrix (a broken caller invariant).
pub fn sample_eapu_rank_p(
    f: &RankPFactors,
    block: TileBlock,
    threshold_us: f32,
    rng: &mut Rng,
    scratch: &mut RankPScratch,
    out: &mut Vec<(u32, f32)>,
) -> RankPStats {
    assert!(block.row0 + block.rows <= f.rows && block.col0 + block.cols <= f.cols);
    let p = f.p;
    let words = p.div_ceil(64);
    let rs = block.row0..block.row0 + block.rows;
    let cs = block.col0..block.col0 + block.cols;
    let u = &f.u[rs.start * p..rs.end * p];
    let v = &f.v[cs.start * p..cs.end * p];
    let s = scratch;
    let zeros = disjoint_pairs(
        &f.row_masks[rs.start * words..rs.end * words],
        &f.col_masks[cs.start * words..cs.end * words],
        words,
        s,
    );
    let lines = Lines {
        class: &mut s.class,
        rows: &mut s.rows,
        cols: &mut s.cols,
        sort: &mut s.sort,
        row_classes: None,
    };
    let request = |i: usize, j: usize| dot(&u[i * p..(i + 1) * p], &v[j * p..(j + 1) * p]);
    let blocked = sample_blocked(&f.k[rs], &f.b[cs], request, threshold_us, rng, lines, out);
    RankPStats {
        blocked,
        random_decisions: (block.rows * block.cols) as u64 - blocked.at_or_above - zeros,
    }
}

/// Lays out the `n` lines of `f` (`p × n`, term-major) in one pass over
/// it: `terms[l·p + q] = scale · f[q·n + l]` (each line's terms
/// contiguous); `masks` the lines' supports (bit `q mod 64` of word `q /
/// 64` set where term `q` is non-zero; NaN counts as non-zero, as the
/// dense rule draws for it); `bound[l]` the line's Euclidean norm (summed
/// in f64 in `q` order, in `squares`) times `margin`, rounded up to f32,
/// infinite where it is not finite (so its cells are decided one by one,
/// as the dense rule decides them).
#[allow(clippy::too_many_arguments)]
fn lay_out(
    f: &[f32],
    p: usize,
    scale: f32,
    margin: f64,
    terms: &mut Vec<f32>,
    bound: &mut Vec<f32>,
    masks: &mut Vec<u64>,
    squares: &mut Vec<f64>,
) {
    let n = f.len() / p;
    let words = p.div_ceil(64);
    terms.clear();
    terms.resize(n * p, 0.0);
    masks.clear();
    masks.resize(n * words, 0);
    squares.clear();
    squares.resize(n, 0.0);
    // Norms and supports: a pass over each term's `n` values, contiguous
    // and independent across the lines (vectorised).
    for (q, src) in f.chunks_exact(n).enumerate() {
        let (w, bit) = (q / 64, q % 64);
        if words == 1 {
            for ((sq, m), &x) in squares.iter_mut().zip(masks.iter_mut()).zip(src) {
                let t = scale * x;
                *sq += f64::from(t) * f64::from(t);
                *m |= u64::from(t != 0.0) << bit;
            }
        } else {
            for (l, (sq, &x)) in squares.iter_mut().zip(src).enumerate() {
                let t = scale * x;
                *sq += f64::from(t) * f64::from(t);
                masks[l * words + w] |= u64::from(t != 0.0) << bit;
            }
        }
    }
    transpose(f, n, p, scale, terms);
    bound.clear();
    bound.extend(squares.iter().map(|&sq| {
        let n = sq.sqrt() * margin;
        // Rounded up, so the margin is not lost to the conversion.
        let f = n as f32;
        if !n.is_finite() {
            f32::INFINITY
        } else if f64::from(f) < n {
            f.next_up()
        } else {
            f
        }
    }));
}

/// `terms[l·p + q] = scale · f[q·n + l]` for the `n` lines of `f` (`p × n`):
/// in blocks of 8 lines × 8 terms (eight runs of eight values read, eight
/// written), the lines and terms past the last whole eight one by one.
fn transpose(f: &[f32], n: usize, p: usize, scale: f32, terms: &mut [f32]) {
    const B: usize = 8;
    let (nb, pb) = (n / B * B, p / B * B);
    for l0 in (0..nb).step_by(B) {
        for q0 in (0..pb).step_by(B) {
            let mut block = [[0.0f32; B]; B];
            for (dq, src) in f[q0 * n..].chunks_exact(n).take(B).enumerate() {
                let src: &[f32; B] = src[l0..l0 + B].try_into().expect("eight values");
                for (dl, &x) in src.iter().enumerate() {
                    block[dl][dq] = scale * x;
                }
            }
            for (dl, row) in block.iter().enumerate() {
                let at = (l0 + dl) * p + q0;
                terms[at..at + B].copy_from_slice(row);
            }
        }
        for q in pb..p {
            for l in l0..l0 + B {
                terms[l * p + q] = scale * f[q * n + l];
            }
        }
    }
    for l in nb..n {
        for q in 0..p {
            terms[l * p + q] = scale * f[q * n + l];
        }
    }
}

/// The cells whose row and column supports share no term (their requests
/// are exactly 0): the rows and the columns grouped by distinct mask, and
/// the disjoint pairs of groups counted.
fn disjoint_pairs(rows: &[u64], cols: &[u64], words: usize, s: &mut RankPScratch) -> u64 {
    group(rows, words, &mut s.order, &mut s.row_groups);
    group(cols, words, &mut s.order, &mut s.col_groups);
    let mut zeros = 0;
    for &(r, nr) in &s.row_groups {
        let mr = &rows[r as usize * words..][..words];
        for &(c, nc) in &s.col_groups {
            let mc = &cols[c as usize * words..][..words];
            if mr.iter().zip(mc).all(|(a, b)| a & b == 0) {
                zeros += nr * nc;
            }
        }
    }
    zeros
}

/// The distinct masks of `masks` (`words` per line) as (a line holding
/// it, how many lines do).
fn group(masks: &[u64], words: usize, order: &mut Vec<u32>, out: &mut Vec<(u32, u64)>) {
    let n = masks.len() / words;
    let mask = |l: u32| &masks[l as usize * words..(l as usize + 1) * words];
    order.clear();
    order.extend(0..n as u32);
    order.sort_unstable_by(|&a, &b| mask(a).cmp(mask(b)));
    out.clear();
    for &l in order.iter() {
        match out.last_mut() {
            Some((first, count)) if mask(*first) == mask(l) => *count += 1,
            _ => out.push((l, 1)),
        }
    }
}

/// `Σ_q u_q v_q` in f32 as eight interleaved partial sums (lane `q mod 8`,
/// each in `q` order), added pairwise, then the terms past the last whole
/// eight in order: a fixed order, so the same bits on every machine.
#[inline]
pub(crate) fn dot(u: &[f32], v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (uc, vc) = (u.chunks_exact(8), v.chunks_exact(8));
    let (ur, vr) = (uc.remainder(), vc.remainder());
    for (a, b) in uc.zip(vc) {
        for l in 0..8 {
            acc[l] += a[l] * b[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (&a, &b) in ur.iter().zip(vr) {
        s += a * b;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forming::tests::binomial_check;
    use aimsim_core::stream;
    use rand::Rng as _;

    /// The dense requests of a block, summed as [`dot`] sums them.
    fn requests(x: &[f32], delta: &[f32], p: usize, scale: f32) -> Vec<f32> {
        let (rows, cols) = (x.len() / p, delta.len() / p);
        let mut r = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            let u: Vec<f32> = (0..p).map(|q| scale * x[q * rows + i]).collect();
            for j in 0..cols {
                let v: Vec<f32> = (0..p).map(|q| delta[q * cols + j]).collect();
                r.push(dot(&u, &v));
            }
        }
        r
    }

    fn whole(rows: usize, cols: usize) -> TileBlock {
        TileBlock {
            row0: 0,
            col0: 0,
            rows,
            cols,
        }
    }

    #[test]
    fn dot_sums_in_its_fixed_order() {
        let u: Vec<f32> = (0..19).map(|q| 1.0 + q as f32 * 0.37).collect();
        let v: Vec<f32> = (0..19).map(|q| (q as f32 * 0.71).sin()).collect();
        let mut acc = [0.0f32; 8];
        for q in 0..16 {
            acc[q % 8] += u[q] * v[q];
        }
        let mut want =
            ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
        for q in 16..19 {
            want += u[q] * v[q];
        }
        assert_eq!(dot(&u, &v).to_bits(), want.to_bits());
        assert_eq!(
            dot(&u[..3], &v[..3]),
            (u[0] * v[0] + u[1] * v[1]) + u[2] * v[2]
        );
    }

    /// Every cell is written with the dense rule's probability, at or
    /// above threshold with its own request: a chi-square test over the
    /// cells (40 000 draws; the bound is the 99.9 % quantile, fixed seed).
    #[test]
    fn rank_p_sampler_has_the_dense_rules_distribution() {
        let (rows, cols, p) = (9, 11, 5);
        let mut gen = stream(5, "factors");
        let x: Vec<f32> = (0..p * rows)
            .map(|k| {
                if k % 7 == 3 {
                    0.0
                } else {
                    gen.random_range(-1.0f32..1.0)
                }
            })
            .collect();
        let mut delta: Vec<f32> = (0..p * cols)
            .map(|k| {
                if k % 5 == 1 {
                    0.0
                } else {
                    gen.random_range(-0.02f32..0.02)
                }
            })
            .collect();
        // One large error: requests at and above threshold.
        delta[3] = 0.9;
        let (scale, th) = (-2.0f32, 1.0f32);
        let req = requests(&x, &delta, p, scale);
        let prob: Vec<f64> = req
            .iter()
            .map(|r| (f64::from(r.abs()) / f64::from(th)).min(1.0))
            .collect();
        assert!(prob.contains(&1.0), "some requests above threshold");
        assert!(prob.iter().any(|&q| q > 0.0 && q < 0.01));
        let n = 40_000u32;
        let mut counts = vec![0u32; rows * cols];
        let mut rng = stream(12, "rank p");
        let mut scratch = RankPScratch::default();
        let mut out = Vec::new();
        for _ in 0..n {
            out.clear();
            let mut f = RankPFactors::default();
            f.prepare(&x, &delta, rows, cols, scale);
            let st =
                sample_eapu_rank_p(&f, whole(rows, cols), th, &mut rng, &mut scratch, &mut out);
            assert_eq!(st.blocked.writes, out.len() as u64);
            assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "index order");
            for &(idx, d) in &out {
                let r = req[idx as usize];
                let want = if r.abs() >= th { r } else { th.copysign(r) };
                assert_eq!(d, want, "{d} for {r}");
                counts[idx as usize] += 1;
            }
        }
        let (chi2, df, quantile) = binomial_check("rank p", &prob, &counts, n);
        assert!(
            chi2 < quantile,
            "chi-square {chi2} over {df} cells, bound {quantile}"
        );
    }

    /// A convolution-like request (P = 576 terms, ReLU-sparse inputs,
    /// errors of both signs, a 32 × 48 tile): the mean number of writes
    /// over 2,000 draws is the dense rule's expectation `Σ min(1,
    /// |ΔG|/ΔG_th)` within 4 standard errors (fixed seeds).
    #[test]
    fn rank_p_sampler_writes_the_expected_number_on_a_wide_request() {
        let (rows, cols, p) = (32, 48, 576);
        let mut gen = stream(21, "conv");
        let x: Vec<f32> = (0..p * rows)
            .map(|_| gen.random_range(-1.0f32..1.0).max(0.0))
            .collect();
        let delta: Vec<f32> = (0..p * cols)
            .map(|_| {
                if gen.random_bool(0.5) {
                    0.0
                } else {
                    gen.random_range(-1e-3f32..1e-3)
                }
            })
            .collect();
        let (scale, th) = (-0.5f32, 2e-2f32);
        let req = requests(&x, &delta, p, scale);
        let prob: Vec<f64> = req
            .iter()
            .map(|r| (f64::from(r.abs()) / f64::from(th)).min(1.0))
            .collect();
        let mean: f64 = prob.iter().sum();
        let var: f64 = prob.iter().map(|q| q * (1.0 - q)).sum();
        assert!(mean > 20.0 && mean < 0.5 * (rows * cols) as f64, "{mean}");
        let mut f = RankPFactors::default();
        f.prepare(&x, &delta, rows, cols, scale);
        let (mut scratch, mut out) = (RankPScratch::default(), Vec::new());
        let mut rng = stream(22, "draws");
        let n = 2_000;
        let mut total = 0u64;
        for _ in 0..n {
            out.clear();
            sample_eapu_rank_p(&f, whole(rows, cols), th, &mut rng, &mut scratch, &mut out);
            total += out.len() as u64;
        }
        let got = total as f64 / f64::from(n);
        let se = (var / f64::from(n)).sqrt();
        assert!(
            (got - mean).abs() < 4.0 * se,
            "mean writes {got}, expected {mean} ± {se}"
        );
    }

    /// The random count equals the dense rule's, counted cell by cell, over
    /// random shapes, supports (zero rows, columns and terms) and scales;
    /// and a block of a larger matrix decides on its own requests.
    #[test]
    fn rank_p_random_count_is_the_dense_rules() {
        let mut gen = stream(9, "shapes");
        let mut scratch = RankPScratch::default();
        let mut out = Vec::new();
        for trial in 0..300 {
            let rows = gen.random_range(1..12);
            let cols = gen.random_range(1..12);
            let p = [1, 2, 3, 8, 17, 64, 65, 130][trial % 8];
            let zero = gen.random_range(0.0f64..0.9);
            let mut f = |n: usize, s: f32| -> Vec<f32> {
                (0..n)
                    .map(|_| {
                        if gen.random_bool(zero) {
                            0.0
                        } else {
                            gen.random_range(-s..s)
                        }
                    })
                    .collect()
            };
            let x = f(p * rows, 1.0);
            let delta = f(p * cols, 0.05);
            let th = gen.random_range(0.01f32..0.5);
            let scale = -1.0;
            let req = requests(&x, &delta, p, scale);
            let terms = |k: usize| {
                let (i, j) = (k / cols, k % cols);
                (0..p).any(|q| x[q * rows + i] != 0.0 && delta[q * cols + j] != 0.0)
            };
            let want = (0..rows * cols)
                .filter(|&k| req[k].abs() < th && terms(k))
                .count() as u64;
            out.clear();
            let mut rng = stream(trial as u64, "draws");
            let mut f = RankPFactors::default();
            f.prepare(&x, &delta, rows, cols, scale);
            let st =
                sample_eapu_rank_p(&f, whole(rows, cols), th, &mut rng, &mut scratch, &mut out);
            assert_eq!(
                st.random_decisions, want,
                "trial {trial}: {rows} × {cols}, P {p}"
            );
            for &(idx, d) in &out {
                let r = req[idx as usize];
                assert!(r != 0.0 && (d == r || d == th.copysign(r)), "{d} for {r}");
            }
        }
        // A block: rows 1..3, column 2 of a 4 × 3 matrix, P = 2.
        let x = [1.0f32, 2.0, 3.0, 4.0, 0.5, 0.5, 0.5, 0.5];
        let delta = [0.0f32, 0.0, 1.0, 0.0, 0.0, -3.0];
        let block = TileBlock {
            row0: 1,
            col0: 2,
            rows: 2,
            cols: 1,
        };
        out.clear();
        let mut f = RankPFactors::default();
        f.prepare(&x, &delta, 4, 3, 1.0);
        let st = sample_eapu_rank_p(&f, block, 0.1, &mut stream(1, "t"), &mut scratch, &mut out);
        // Requests 2·1 + 0.5·(−3) = 0.5 and 3·1 + 0.5·(−3) = 1.5, both
        // above ΔG_th: written as requested.
        assert_eq!(out, [(0, 0.5), (1, 1.5)]);
        assert_eq!(st.random_decisions, 0);
        // Terms that cancel: 1·1 + 1·(−1) = 0 is never written, but drawn
        // for (its factors share a non-zero term); 1·0 + 0·5 = 0 is not.
        let mut f = RankPFactors::default();
        f.prepare(&[1.0, 1.0, 1.0, 0.0], &[1.0, 0.0, -1.0, 5.0], 2, 2, 1.0);
        out.clear();
        let st = sample_eapu_rank_p(
            &f,
            whole(2, 2),
            10.0,
            &mut stream(2, "t"),
            &mut scratch,
            &mut out,
        );
        // Requests: (0,0) 0, (0,1) 5, (1,0) 1, (1,1) 0 (disjoint terms).
        assert!(out.iter().all(|&(k, _)| k == 1 || k == 2));
        assert_eq!(st.random_decisions, 3);
    }

    #[test]
    fn the_layouts_may_run_in_either_order_or_at_once() {
        let (rows, cols, p) = (37, 23, 5);
        let mut rng = stream(9, "t");
        let mut draw = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|k| {
                    if k % 7 == 0 {
                        0.0
                    } else {
                        rng.random::<f32>() - 0.5
                    }
                })
                .collect()
        };
        let (x, delta) = (draw(p * rows), draw(p * cols));
        let mut one = RankPFactors::default();
        one.prepare(&x, &delta, rows, cols, 0.7);
        let mut reversed = RankPFactors::default();
        reversed.prepare_with(&x, &delta, rows, cols, 0.7, |a, b| {
            b();
            a();
        });
        let mut threads = RankPFactors::default();
        threads.prepare_with(&x, &delta, rows, cols, 0.7, |a, b| {
            std::thread::scope(|s| {
                s.spawn(a);
                b();
            });
        });
        let show = |f: &RankPFactors| format!("{f:?}");
        assert_eq!(show(&one), show(&reversed));
        assert_eq!(show(&one), show(&threads));
        let half = std::panic::catch_unwind(|| {
            RankPFactors::default().prepare_with(&x, &delta, rows, cols, 0.7, |a, _| a());
        });
        assert!(half.is_err(), "a join that skips a layout is caught");
    }
}
