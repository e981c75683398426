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
                for p in 0..rank {
                    let xs = &x[p * rows + block.row0..p * rows + block.row0 + block.rows];
                    let ds = &delta[p * cols + block.col0..p * cols + block.col0 + block.cols];
                    for (out_row, &xi) in out.chunks_exact_mut(block.cols).zip(xs) {
                        let k = scale * xi * r_wg_us;
                        if p == 0 {
                            out_row.iter_mut().zip(ds).for_each(|(q, &dj)| *q = k * dj);
                        } else {
                            out_row.iter_mut().zip(ds).for_each(|(q, &dj)| *q += k * dj);
                        }
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

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
