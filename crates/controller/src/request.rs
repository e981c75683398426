//! The update asked of one weight matrix, and its restriction to one tile.
//!
//! A matrix of `rows × cols` weights (rows = inputs, cols = outputs) is
//! split into tiles of at most the array's size; a tile covers a
//! [`TileBlock`] of it. The engine asks the request for each tile's
//! conductance changes `ΔG = ΔW · r_wg` (µS) and, for factor requests, the
//! tile's slice of the factors that rules such as `stochastic-pulse` drive
//! onto rows and columns.

use crate::TileFactors;

/// An update asked of one weight matrix (rows = inputs, cols = outputs,
/// row-major), in weight units.
///
/// ```
/// use aimsim_controller::{FactorScratch, TileBlock, UpdateRequest};
///
/// // SGD on a 3 × 2 matrix: ΔW = −η x ⊗ δ.
/// let (x, delta, lr, r_wg_us) = ([1.0f32, 0.5, -2.0], [0.1f32, -0.2], 0.01f32, 80.0f32);
/// let request = UpdateRequest::Factors { x: &x, delta: &delta, scale: -lr };
/// // The tile holding rows 1..3 and column 1.
/// let block = TileBlock { row0: 1, col0: 1, rows: 2, cols: 1 };
/// let mut requested_us = [0.0f32; 2];
/// request.requested_us(3, 2, block, r_wg_us, &mut requested_us);
/// assert_eq!(requested_us, [-lr * 0.5 * r_wg_us * -0.2, -lr * -2.0 * r_wg_us * -0.2]);
/// let mut scratch = FactorScratch::default();
/// let f = request.tile_factors(3, 2, block, r_wg_us, &mut scratch).unwrap();
/// assert_eq!((f.x, f.delta, f.rank), (&x[1..3], &delta[1..2], 1));
/// ```
#[derive(Clone, Copy, Debug)]
pub enum UpdateRequest<'a> {
    /// ΔW per weight, row-major rows×cols.
    Dense {
        /// ΔW, `rows × cols`.
        delta_w: &'a [f32],
    },
    /// Rank-P factor form: ΔW_ij = scale · Σ_p x[p·rows + i] · delta[p·cols + j]
    /// (P = x.len()/rows = delta.len()/cols).
    Factors {
        /// Row factors, `P × rows`.
        x: &'a [f32],
        /// Column factors, `P × cols`.
        delta: &'a [f32],
        /// Common factor (`−η` for SGD).
        scale: f32,
    },
}

/// The part of a matrix one tile holds: weight rows `row0..row0 + rows`
/// and columns `col0..col0 + cols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileBlock {
    /// First matrix row of the tile.
    pub row0: usize,
    /// First matrix column of the tile.
    pub col0: usize,
    /// Rows of the tile.
    pub rows: usize,
    /// Columns of the tile.
    pub cols: usize,
}

/// Reusable storage for a tile's gathered factors
/// ([`UpdateRequest::tile_factors`]).
#[derive(Clone, Debug, Default)]
pub struct FactorScratch {
    x: Vec<f32>,
    delta: Vec<f32>,
}

impl<'a> UpdateRequest<'a> {
    /// The number of factor terms P; 0 for a dense request (it has no factors).
    ///
    /// # Panics
    /// If the factors' lengths are not whole multiples of `rows` and of the
    /// same P (a broken caller invariant).
    pub fn rank(&self, rows: usize) -> usize {
        match *self {
            UpdateRequest::Dense { .. } => 0,
            UpdateRequest::Factors { x, delta, .. } => {
                assert!(
                    rows > 0 && x.len().is_multiple_of(rows),
                    "x of {} values is not P × {rows}",
                    x.len()
                );
                let p = x.len() / rows;
                assert!(
                    p > 0 && delta.len().is_multiple_of(p),
                    "delta of {} values is not {p} × cols",
                    delta.len()
                );
                p
            }
        }
    }

    /// Fills `out` (`block.rows × block.cols`, row-major) with the requested
    /// conductance changes of `block` of the `rows × cols` matrix, µS:
    ///
    /// * dense: `q = delta_w[i·cols + j] · r_wg`;
    /// * factors: `q = Σ_p ((scale · x_pi) · r_wg) · delta_pj`, in f32, the
    ///   terms summed in `p` order starting from the `p = 0` term (so rank 1
    ///   is exactly `((scale · x_i) · r_wg) · delta_j`).
    ///
    /// # Panics
    /// If `out`'s length is not `block.rows × block.cols`, the block leaves
    /// the matrix, or the request does not have the matrix's shape.
    pub fn requested_us(
        &self,
        rows: usize,
        cols: usize,
        block: TileBlock,
        r_wg_us: f32,
        out: &mut [f32],
    ) {
        assert_eq!(out.len(), block.rows * block.cols, "out is not the block");
        assert!(
            block.row0 + block.rows <= rows && block.col0 + block.cols <= cols,
            "{block:?} leaves the {rows} × {cols} matrix"
        );
        match *self {
            UpdateRequest::Dense { delta_w } => {
                assert_eq!(delta_w.len(), rows * cols, "delta_w is not rows × cols");
                for (i, out_row) in out.chunks_exact_mut(block.cols).enumerate() {
                    let start = (block.row0 + i) * cols + block.col0;
                    let src = &delta_w[start..start + block.cols];
                    for (q, &dw) in out_row.iter_mut().zip(src) {
                        *q = dw * r_wg_us;
                    }
                }
            }
            UpdateRequest::Factors { x, delta, scale } => {
                let rank = self.rank(rows);
                assert_eq!(delta.len(), rank * cols, "delta is not P × cols");
                let f = Factors {
                    x,
                    delta,
                    rank,
                    rows,
                    cols,
                    scale,
                    r_wg_us,
                };
                factor_sums(&f, block, out);
            }
        }
    }

    /// The factors of `block` of the `rows × cols` matrix (`None` for a
    /// dense request), with `scale_us = scale · r_wg_us`. For rank 1 the
    /// slices borrow the request; for rank > 1 each term's slice is gathered
    /// into `scratch`.
    pub fn tile_factors<'s>(
        &'s self,
        rows: usize,
        cols: usize,
        block: TileBlock,
        r_wg_us: f32,
        scratch: &'s mut FactorScratch,
    ) -> Option<TileFactors<'s>> {
        let UpdateRequest::Factors { x, delta, scale } = *self else {
            return None;
        };
        let rank = self.rank(rows);
        assert_eq!(delta.len(), rank * cols, "delta is not P × cols");
        let rs = block.row0..block.row0 + block.rows;
        let cs = block.col0..block.col0 + block.cols;
        let (x, delta) = if rank == 1 {
            (&x[rs], &delta[cs])
        } else {
            scratch.x.clear();
            scratch.delta.clear();
            for p in 0..rank {
                scratch
                    .x
                    .extend_from_slice(&x[p * rows + rs.start..p * rows + rs.end]);
                scratch
                    .delta
                    .extend_from_slice(&delta[p * cols + cs.start..p * cols + cs.end]);
            }
            (&scratch.x[..], &scratch.delta[..])
        };
        Some(TileFactors {
            x,
            delta,
            rank,
            scale_us: scale * r_wg_us,
        })
    }
}

/// One tile's terms of a factor request, from which each weight's
/// requested change is computed again, alone and with the bits of
/// [`UpdateRequest::requested_us`] ([`RequestTerms::at`]): a tile's
/// `P·(rows + cols)` values in place of its `rows·cols` changes.
#[derive(Clone, Debug, Default)]
pub struct RequestTerms {
    rank: usize,
    /// `(scale · x_pi) · r_wg`, row by row: `k[i·P + p]` (`rows × P`).
    k: Vec<f32>,
    /// `delta_pj`, column by column: `d[j·P + p]` (`cols × P`).
    d: Vec<f32>,
}

impl RequestTerms {
    /// The requested change of the tile's weight (`i`, `j`), µS: the
    /// terms summed in `p` order from the `p = 0` term, as
    /// [`UpdateRequest::requested_us`] sums them (a weight's terms side by
    /// side in memory).
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        let p = self.rank;
        let (k, d) = (&self.k[i * p..(i + 1) * p], &self.d[j * p..(j + 1) * p]);
        let mut q = k[0] * d[0];
        for (&kp, &dp) in k.iter().zip(d).skip(1) {
            q += kp * dp;
        }
        q
    }

    /// For a rank-1 request, row `i`'s term `k_i` and the columns' `d`:
    /// `at(i, j)` is `k_i · d[j]`, as one multiplication.
    #[inline]
    pub fn rank1_row(&self, i: usize) -> Option<(f32, &[f32])> {
        (self.rank == 1).then(|| (self.k[i], &self.d[..]))
    }

    /// The number of terms P.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The values held (`P·(rows + cols)`).
    pub fn len(&self) -> usize {
        self.k.len() + self.d.len()
    }

    /// Whether no terms are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl UpdateRequest<'_> {
    /// Fills `terms` with `block`'s terms of this factor request of a
    /// `rows × cols` matrix; returns false (and leaves `terms`) for a
    /// dense request.
    ///
    /// # Panics
    /// As [`UpdateRequest::requested_us`].
    pub fn terms(
        &self,
        rows: usize,
        cols: usize,
        block: TileBlock,
        r_wg_us: f32,
        terms: &mut RequestTerms,
    ) -> bool {
        let UpdateRequest::Factors { x, delta, scale } = *self else {
            return false;
        };
        let rank = self.rank(rows);
        assert_eq!(delta.len(), rank * cols, "delta is not P × cols");
        assert!(
            block.row0 + block.rows <= rows && block.col0 + block.cols <= cols,
            "{block:?} leaves the {rows} × {cols} matrix"
        );
        terms.rank = rank;
        terms.k.clear();
        terms.d.clear();
        terms.k.reserve_exact(rank * block.rows);
        terms.d.reserve_exact(rank * block.cols);
        for i in block.row0..block.row0 + block.rows {
            // As `factor_sums`' `k`: (scale · x) · r_wg.
            terms
                .k
                .extend((0..rank).map(|p| scale * x[p * rows + i] * r_wg_us));
        }
        for j in block.col0..block.col0 + block.cols {
            terms.d.extend((0..rank).map(|p| delta[p * cols + j]));
        }
        true
    }
}

/// A rank-P factor request and its conductance unit, for [`factor_sums`].
struct Factors<'a> {
    x: &'a [f32],
    delta: &'a [f32],
    rank: usize,
    rows: usize,
    cols: usize,
    scale: f32,
    r_wg_us: f32,
}

/// Columns a factor sum keeps in registers: eight vectors of eight lanes
/// with AVX2, eight of four on the baseline target (SSE2), enough
/// independent sums to cover the latency of an addition.
const CHUNK_AVX2: usize = 64;
const CHUNK_BASE: usize = 32;

/// `out[i][j] = Σ_p ((scale · x_pi) · r_wg) · delta_pj` over `block`, each
/// sum in `p` order from the `p = 0` term. A row's columns go in chunks
/// with the `p` loop inside, so each output is written once and
/// the chunk's sums stay in vector registers (`P` passes over the whole
/// block, reading and writing it each time, were 5.8 % of a batch-32 run).
/// Every output still sees the same operations in the same order.
fn factor_sums(f: &Factors<'_>, block: TileBlock, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { factor_sums_avx2(f, block, out) };
    }
    factor_sums_body::<CHUNK_BASE>(f, block, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn factor_sums_avx2(f: &Factors<'_>, block: TileBlock, out: &mut [f32]) {
    factor_sums_body::<CHUNK_AVX2>(f, block, out);
}

#[inline(always)]
fn factor_sums_body<const CHUNK: usize>(f: &Factors<'_>, block: TileBlock, out: &mut [f32]) {
    if block.cols == 0 {
        return;
    }
    for (i, out_row) in out.chunks_exact_mut(block.cols).enumerate() {
        let r = block.row0 + i;
        let k = |p: usize| f.scale * f.x[p * f.rows + r] * f.r_wg_us;
        let d = |p: usize, c0: usize, n: usize| {
            let s = p * f.cols + block.col0 + c0;
            &f.delta[s..s + n]
        };
        let mut chunks = out_row.chunks_exact_mut(CHUNK);
        let mut c0 = 0;
        for o in &mut chunks {
            let o: &mut [f32; CHUNK] = o.try_into().expect("a whole chunk");
            let k0 = k(0);
            let mut acc = [0.0f32; CHUNK];
            for (a, &dj) in acc.iter_mut().zip(d(0, c0, CHUNK)) {
                *a = k0 * dj;
            }
            for p in 1..f.rank {
                let kp = k(p);
                for (a, &dj) in acc.iter_mut().zip(d(p, c0, CHUNK)) {
                    *a += kp * dj;
                }
            }
            *o = acc;
            c0 += CHUNK;
        }
        let rest = chunks.into_remainder();
        let n = rest.len();
        if n > 0 {
            let k0 = k(0);
            for (a, &dj) in rest.iter_mut().zip(d(0, c0, n)) {
                *a = k0 * dj;
            }
            for p in 1..f.rank {
                let kp = k(p);
                for (a, &dj) in rest.iter_mut().zip(d(p, c0, n)) {
                    *a += kp * dj;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The factor loop before [`factor_sums`]: one pass over the block per
    /// term.
    fn plain_factor_sums(f: &Factors<'_>, block: TileBlock, out: &mut [f32]) {
        for p in 0..f.rank {
            let xs = &f.x[p * f.rows + block.row0..][..block.rows];
            let ds = &f.delta[p * f.cols + block.col0..][..block.cols];
            for (out_row, &xi) in out.chunks_exact_mut(block.cols).zip(xs) {
                let k = f.scale * xi * f.r_wg_us;
                if p == 0 {
                    out_row.iter_mut().zip(ds).for_each(|(q, &dj)| *q = k * dj);
                } else {
                    out_row.iter_mut().zip(ds).for_each(|(q, &dj)| *q += k * dj);
                }
            }
        }
    }

    #[test]
    fn factor_sums_give_the_plain_loops_bits() {
        // Shapes around the chunk width, ranks 1 to 33, zeros of both signs
        // among the factors (a `p = 0` term of −0 must stay −0).
        for (rows, cols, rank, block) in [
            (5, 7, 1, (1, 3, 3, 4)),
            (9, 70, 3, (2, 1, 6, 67)),
            (40, 130, 32, (0, 0, 40, 130)),
            (33, 100, 33, (8, 36, 20, 64)),
            (4, 31, 2, (0, 0, 4, 31)),
            (3, 32, 5, (1, 0, 2, 32)),
        ] {
            let x: Vec<f32> = (0..rank * rows)
                .map(|k| {
                    if k % 7 == 3 {
                        -0.0
                    } else {
                        (k as f32 * 0.37).sin()
                    }
                })
                .collect();
            let delta: Vec<f32> = (0..rank * cols)
                .map(|k| {
                    if k % 11 == 5 {
                        0.0
                    } else {
                        (k as f32 * 0.71).cos() * 1e-3
                    }
                })
                .collect();
            let f = Factors {
                x: &x,
                delta: &delta,
                rank,
                rows,
                cols,
                scale: -0.013,
                r_wg_us: 83.7,
            };
            let (row0, col0, br, bc) = block;
            let block = TileBlock {
                row0,
                col0,
                rows: br,
                cols: bc,
            };
            let mut got = vec![f32::NAN; br * bc];
            let mut want = vec![f32::NAN; br * bc];
            factor_sums(&f, block, &mut got);
            plain_factor_sums(&f, block, &mut want);
            let bits = |v: &[f32]| v.iter().map(|q| q.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got),
                bits(&want),
                "{rows} × {cols}, rank {rank}, {block:?}"
            );
            factor_sums_body::<CHUNK_BASE>(&f, block, &mut got);
            assert_eq!(bits(&got), bits(&want), "baseline chunks, rank {rank}");
            factor_sums_body::<CHUNK_AVX2>(&f, block, &mut got);
            assert_eq!(bits(&got), bits(&want), "AVX2 chunks, rank {rank}");
            // Each weight's change computed again from the tile's terms.
            let request = UpdateRequest::Factors {
                x: &x,
                delta: &delta,
                scale: f.scale,
            };
            let mut terms = RequestTerms::default();
            assert!(request.terms(rows, cols, block, f.r_wg_us, &mut terms));
            assert_eq!(terms.len(), rank * (br + bc));
            let again: Vec<f32> = (0..br * bc).map(|w| terms.at(w / bc, w % bc)).collect();
            assert_eq!(bits(&again), bits(&want), "terms, rank {rank}");
            if let Some((k, d)) = terms.rank1_row(1) {
                let row: Vec<f32> = d.iter().map(|&dj| k * dj).collect();
                assert_eq!(bits(&row), bits(&want[bc..2 * bc]), "rank 1's row");
            }
        }
    }

    #[test]
    fn rank_one_block_matches_the_engine_formula_bit_for_bit() {
        let (rows, cols) = (5, 7);
        let x: Vec<f32> = (0..rows).map(|i| 0.37 * i as f32 - 0.9).collect();
        let d: Vec<f32> = (0..cols).map(|j| 0.011 * j as f32 - 0.023).collect();
        let (lr, r_wg) = (0.013f32, 83.7f32);
        let req = UpdateRequest::Factors {
            x: &x,
            delta: &d,
            scale: -lr,
        };
        assert_eq!(req.rank(rows), 1);
        let block = TileBlock {
            row0: 1,
            col0: 3,
            rows: 3,
            cols: 4,
        };
        let mut out = vec![0.0; 12];
        req.requested_us(rows, cols, block, r_wg, &mut out);
        for i in 0..3 {
            let k = -lr * x[1 + i] * r_wg;
            for j in 0..4 {
                assert_eq!(out[i * 4 + j].to_bits(), (k * d[3 + j]).to_bits());
            }
        }
        let mut scratch = FactorScratch::default();
        let f = req
            .tile_factors(rows, cols, block, r_wg, &mut scratch)
            .unwrap();
        assert_eq!(f.x, &x[1..4]);
        assert_eq!(f.delta, &d[3..7]);
        assert_eq!(f.scale_us.to_bits(), (-lr * r_wg).to_bits());
    }

    #[test]
    fn rank_p_sums_terms_in_order_and_gathers_tile_factors() {
        let (rows, cols, p) = (4, 3, 3);
        let x: Vec<f32> = (0..p * rows).map(|k| (k as f32).sin()).collect();
        let d: Vec<f32> = (0..p * cols).map(|k| (k as f32 * 0.7).cos()).collect();
        let req = UpdateRequest::Factors {
            x: &x,
            delta: &d,
            scale: -0.1,
        };
        assert_eq!(req.rank(rows), p);
        let block = TileBlock {
            row0: 2,
            col0: 1,
            rows: 2,
            cols: 2,
        };
        let mut out = vec![0.0; 4];
        req.requested_us(rows, cols, block, 80.0, &mut out);
        let mut scratch = FactorScratch::default();
        let f = req
            .tile_factors(rows, cols, block, 80.0, &mut scratch)
            .unwrap();
        assert_eq!(f.rank, p);
        for i in 0..2 {
            for j in 0..2 {
                let mut want = -0.1 * x[2 + i] * 80.0 * d[1 + j];
                for t in 1..p {
                    want += -0.1 * x[t * rows + 2 + i] * 80.0 * d[t * cols + 1 + j];
                }
                assert_eq!(out[i * 2 + j].to_bits(), want.to_bits());
                // The gathered factors reproduce the block.
                let mut from_f = 0.0;
                for t in 0..p {
                    let (xt, dt) = f.term(t);
                    from_f += xt[i] * dt[j];
                }
                assert!((from_f * f.scale_us - out[i * 2 + j]).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn dense_block_is_delta_w_times_r_wg() {
        let w: Vec<f32> = (0..12).map(|k| k as f32 * 0.01).collect();
        let req = UpdateRequest::Dense { delta_w: &w };
        assert_eq!(req.rank(3), 0);
        let block = TileBlock {
            row0: 1,
            col0: 2,
            rows: 2,
            cols: 2,
        };
        let mut out = vec![0.0; 4];
        req.requested_us(3, 4, block, 50.0, &mut out);
        assert_eq!(out, [w[6] * 50.0, w[7] * 50.0, w[10] * 50.0, w[11] * 50.0]);
        let mut scratch = FactorScratch::default();
        assert!(req.tile_factors(3, 4, block, 50.0, &mut scratch).is_none());
    }
}
