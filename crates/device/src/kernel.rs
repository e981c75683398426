//! Read kernels over a tile's conductances, cell `2k` = `G⁺` and `2k+1` =
//! `G⁻` of weight `k`, one weight row a contiguous slice of pairs, or over
//! the weights' cached differences `G⁺−G⁻` (`cols` per row).
//!
//! Every kernel keeps the floating-point operation order of the plain
//! loops it replaces (one output's sum in ascending row or column order,
//! `v·(G⁺−G⁻)` as written), so its results are the same
//! bits; it is faster only by doing independent sums side by side (which
//! the compiler vectorises or overlaps) and by not recomputing what it can
//! keep. Rust never contracts `a·b + c` into a fused multiply-add on its
//! own, so the order written is the order executed.
//!
//! On x86-64 each kernel is compiled twice: for the baseline target and
//! with AVX2 (eight `f32` lanes instead of four), chosen at run time by
//! `is_x86_feature_detected!`. Both executions perform the same IEEE
//! operations in the same order, so the bits do not depend on the machine.

/// Asks the CPU to bring the cache line holding `xs[i]` towards the core
/// (a hint: no effect on any value, nothing if `i` is out of range). Used
/// ahead of scattered single-cell accesses (writes), whose cost is
/// otherwise the memory latency, not the arithmetic.
#[inline(always)]
pub fn prefetch<T>(xs: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = xs.get(i) {
        // SAFETY: a prefetch never faults and changes no memory; the
        // address is that of a live element.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (xs, i);
}

/// Rows a forward kernel accumulates per pass over the outputs.
const FWD_ROWS: usize = 4;
/// Rows a transposed kernel sums side by side.
const BWD_ROWS: usize = 8;

/// The pairs of one weight row.
#[inline]
fn pairs(row: &[f32]) -> &[[f32; 2]] {
    row.as_chunks::<2>().0
}

/// Forward accumulation of the driven rows: `out[c] += v_r·(G⁺−G⁻)[r][c]`
/// for every `(r, v_r)` of `driven` in order (`g` holds `2·cols` cells per
/// row, `out` `cols` values). Rows go four at a time through the outputs,
/// each output still summed in the order of `driven`.
pub fn forward_accumulate(g: &[f32], cols: usize, driven: &[(usize, f32)], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { forward_accumulate_avx2(g, cols, driven, out) };
    }
    forward_accumulate_body(g, cols, driven, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_accumulate_avx2(g: &[f32], cols: usize, driven: &[(usize, f32)], out: &mut [f32]) {
    forward_accumulate_body(g, cols, driven, out);
}

#[inline(always)]
fn forward_accumulate_body(g: &[f32], cols: usize, driven: &[(usize, f32)], out: &mut [f32]) {
    let out = &mut out[..cols];
    let row = |r: usize| pairs(&g[2 * r * cols..2 * (r + 1) * cols]);
    let mut groups = driven.chunks_exact(FWD_ROWS);
    for grp in &mut groups {
        let rs = [row(grp[0].0), row(grp[1].0), row(grp[2].0), row(grp[3].0)];
        rows4(rs, [grp[0].1, grp[1].1, grp[2].1, grp[3].1], out);
    }
    for &(r, v) in groups.remainder() {
        row1(row(r), v, out);
    }
}

/// `out[c] += v_i·(G⁺−G⁻)[i][c]` for the four rows in order.
#[inline(always)]
fn rows4(rs: [&[[f32; 2]]; FWD_ROWS], v: [f32; FWD_ROWS], out: &mut [f32]) {
    let [r0, r1, r2, r3] = rs;
    let [v0, v1, v2, v3] = v;
    for ((((o, a), b), c), d) in out.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
        let mut s = *o;
        s += v0 * (a[0] - a[1]);
        s += v1 * (b[0] - b[1]);
        s += v2 * (c[0] - c[1]);
        s += v3 * (d[0] - d[1]);
        *o = s;
    }
}

#[inline(always)]
fn row1(r: &[[f32; 2]], v: f32, out: &mut [f32]) {
    for (o, a) in out.iter_mut().zip(r) {
        *o += v * (a[0] - a[1]);
    }
}

/// [`forward_accumulate`] from the rows' cached differences: `d` holds
/// `G⁺−G⁻` of each weight (`cols` per row, each formed by the same `f32`
/// subtraction the pair kernel does), so the sums have the same bits from
/// half the bytes.
pub fn forward_accumulate_diff(d: &[f32], cols: usize, driven: &[(usize, f32)], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { forward_accumulate_diff_avx2(d, cols, driven, out) };
    }
    forward_accumulate_diff_body(d, cols, driven, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_accumulate_diff_avx2(d: &[f32], cols: usize, driven: &[(usize, f32)], out: &mut [f32]) {
    forward_accumulate_diff_body(d, cols, driven, out);
}

#[inline(always)]
fn forward_accumulate_diff_body(d: &[f32], cols: usize, driven: &[(usize, f32)], out: &mut [f32]) {
    let out = &mut out[..cols];
    let row = |r: usize| &d[r * cols..(r + 1) * cols];
    let mut groups = driven.chunks_exact(FWD_ROWS);
    for grp in &mut groups {
        let [r0, r1, r2, r3] = [row(grp[0].0), row(grp[1].0), row(grp[2].0), row(grp[3].0)];
        let [v0, v1, v2, v3] = [grp[0].1, grp[1].1, grp[2].1, grp[3].1];
        for ((((o, &a), &b), &c), &e) in out.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
            let mut s = *o;
            s += v0 * a;
            s += v1 * b;
            s += v2 * c;
            s += v3 * e;
            *o = s;
        }
    }
    for &(r, v) in groups.remainder() {
        for (o, &a) in out.iter_mut().zip(row(r)) {
            *o += v * a;
        }
    }
}

/// `G⁺−G⁻` of each weight of rows `rows` into `d` (`cols` per row).
pub fn row_differences(g: &[f32], cols: usize, rows: &[usize], d: &mut [f32]) {
    for &r in rows {
        let src = pairs(&g[2 * r * cols..2 * (r + 1) * cols]);
        for (o, p) in d[r * cols..(r + 1) * cols].iter_mut().zip(src) {
            *o = p[0] - p[1];
        }
    }
}

/// Forward accumulation of `n` input vectors at once, a matrix-matrix
/// product: `outs[b][c] += Σ_r vs[b][r]·(G⁺−G⁻)[r][c]` (`vs`: `n × rows`,
/// `outs`: `n × cols`), each output summed in ascending row order as
/// [`forward_accumulate`] sums it. The differences `G⁺−G⁻` of four rows
/// are formed once (in `scratch`, in the L1 cache) for all vectors instead
/// of once per vector. A vector's zero inputs inside a block of four rows
/// add `±0`, which leaves a sum unchanged (a sum that starts at `+0` is
/// never `−0`), so the bits equal those of skipping them; blocks where a
/// vector's four inputs are all zero are skipped.
pub fn forward_accumulate_batch(
    g: &[f32],
    cols: usize,
    vs: &[f32],
    outs: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { forward_accumulate_batch_avx2(g, cols, vs, outs, scratch) };
    }
    forward_accumulate_batch_body(g, cols, vs, outs, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_accumulate_batch_avx2(
    g: &[f32],
    cols: usize,
    vs: &[f32],
    outs: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    forward_accumulate_batch_body(g, cols, vs, outs, scratch);
}

#[inline(always)]
fn forward_accumulate_batch_body(
    g: &[f32],
    cols: usize,
    vs: &[f32],
    outs: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    if cols == 0 {
        return;
    }
    let rows = g.len() / (2 * cols);
    debug_assert_eq!(vs.len() / rows.max(1), outs.len() / cols);
    scratch.clear();
    scratch.resize(FWD_ROWS * cols, 0.0);
    let mut r = 0;
    while r < rows {
        let k = FWD_ROWS.min(rows - r);
        for (i, d) in scratch.chunks_exact_mut(cols).take(k).enumerate() {
            let row = pairs(&g[2 * (r + i) * cols..2 * (r + i + 1) * cols]);
            for (d, a) in d.iter_mut().zip(row) {
                *d = a[0] - a[1];
            }
        }
        let ds = &scratch[..];
        for (v, out) in vs.chunks_exact(rows).zip(outs.chunks_exact_mut(cols)) {
            if k == FWD_ROWS {
                let v = [v[r], v[r + 1], v[r + 2], v[r + 3]];
                if v == [0.0; FWD_ROWS] {
                    continue;
                }
                let (d0, rest) = ds.split_at(cols);
                let (d1, rest) = rest.split_at(cols);
                let (d2, d3) = rest.split_at(cols);
                for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(d0).zip(d1).zip(d2).zip(d3) {
                    let mut s = *o;
                    s += v[0] * a;
                    s += v[1] * b;
                    s += v[2] * c;
                    s += v[3] * d;
                    *o = s;
                }
            } else {
                for (i, d) in ds.chunks_exact(cols).take(k).enumerate() {
                    let vi = v[r + i];
                    if vi != 0.0 {
                        for (o, &di) in out.iter_mut().zip(d) {
                            *o += vi * di;
                        }
                    }
                }
            }
        }
        r += k;
    }
}

/// Transposed read of rows `[0, rows)` from the weights' differences `d`
/// (`G⁺−G⁻`, `cols` per row): `out[r] = Σ_c v_c·d[r][c]`, summed in
/// column order in `f32` — the products and order of the pair loop
/// `acc += v_c·(G⁺−G⁻)`, so the same bits from 4 B per weight instead of
/// 8. The read power is not summed here: it is `Σ_c v_c²·colsum_c`, from
/// the array's exact column sums. Eight rows are summed side by side
/// (independent chains).
pub fn transposed(d: &[f32], cols: usize, v: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { transposed_avx2(d, cols, v, out) };
    }
    transposed_body(d, cols, v, out)
}

/// [`transposed_body`] with AVX2 intrinsics: the same eight rows side by
/// side, the rows in the eight lanes. Each block of 8 rows × 8 columns of
/// differences is loaded row by row and transposed 8 × 8 so that a
/// column's eight rows sit in one register, then added column by column —
/// per row the same products and sums in the same column order as the
/// body, so the same bits (no fused multiply-add: separate `mul` and
/// `add`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn transposed_avx2(d: &[f32], cols: usize, v: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let v = &v[..cols];
    let rows = out.len();
    let blocks = rows / BWD_ROWS * BWD_ROWS;
    let c8 = cols / 8 * 8;
    for r in (0..blocks).step_by(BWD_ROWS) {
        let mut acc = _mm256_setzero_ps();
        for c in (0..c8).step_by(8) {
            let mut m = [_mm256_setzero_ps(); 8];
            for (i, mi) in m.iter_mut().enumerate() {
                let at = (r + i) * cols + c;
                let x: &[f32; 8] = d[at..at + 8].try_into().expect("8 weights");
                // SAFETY: `x` holds 8 f32 (unaligned load).
                *mi = unsafe { _mm256_loadu_ps(x.as_ptr()) };
            }
            // Register k holds column c + k of the eight rows.
            let t = transpose8(m);
            for (k, &vc) in v[c..c + 8].iter().enumerate() {
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(vc), t[k]));
            }
        }
        if c8 < cols {
            // The last `cols − c8` (< 8) columns the same way, each row's
            // loaded with a mask (the lanes past the row read as 0 and are
            // not added): columns in order after the full blocks.
            let rem = cols - c8;
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem as i32), lane);
            let mut m = [_mm256_setzero_ps(); 8];
            for (i, mi) in m.iter_mut().enumerate() {
                let row = &d[(r + i) * cols + c8..(r + i + 1) * cols];
                // SAFETY: the mask enables the first `rem` lanes, the
                // row's `rem` floats; the disabled lanes are not read.
                *mi = unsafe { _mm256_maskload_ps(row.as_ptr(), mask) };
            }
            let t = transpose8(m);
            for (k, &vc) in v[c8..].iter().enumerate() {
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(vc), t[k]));
            }
        }
        // SAFETY: `out[r..r + 8]` holds 8 f32 (unaligned store).
        unsafe { _mm256_storeu_ps(out[r..r + 8].as_mut_ptr(), acc) };
    }
    transposed_rows(d, cols, v, out, blocks)
}

/// The rows `first..` of a transposed read one at a time (the rows left
/// over by the eight-row blocks): each row's current into `out[r]`.
#[inline(always)]
fn transposed_rows(d: &[f32], cols: usize, v: &[f32], out: &mut [f32], first: usize) {
    for (ri, o) in out.iter_mut().enumerate().skip(first) {
        let mut acc = 0.0f32;
        for (&vc, &di) in v.iter().zip(&d[ri * cols..(ri + 1) * cols]) {
            acc += vc * di;
        }
        *o = acc;
    }
}

/// The 8 × 8 transpose of eight AVX registers: lane `i` of register `k`
/// of the result is lane `k` of register `i` of `m`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn transpose8(m: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    let t0 = _mm256_unpacklo_ps(m[0], m[1]);
    let t1 = _mm256_unpackhi_ps(m[0], m[1]);
    let t2 = _mm256_unpacklo_ps(m[2], m[3]);
    let t3 = _mm256_unpackhi_ps(m[2], m[3]);
    let t4 = _mm256_unpacklo_ps(m[4], m[5]);
    let t5 = _mm256_unpackhi_ps(m[4], m[5]);
    let t6 = _mm256_unpacklo_ps(m[6], m[7]);
    let t7 = _mm256_unpackhi_ps(m[6], m[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

#[inline(always)]
fn transposed_body(d: &[f32], cols: usize, v: &[f32], out: &mut [f32]) {
    let v = &v[..cols];
    let rows = out.len();
    let mut r = 0;
    while r + BWD_ROWS <= rows {
        let rs: [&[f32]; BWD_ROWS] =
            std::array::from_fn(|i| &d[(r + i) * cols..(r + i + 1) * cols]);
        let mut acc = [0.0f32; BWD_ROWS];
        for (c, &vc) in v.iter().enumerate() {
            for i in 0..BWD_ROWS {
                acc[i] += vc * rs[i][c];
            }
        }
        out[r..r + BWD_ROWS].copy_from_slice(&acc);
        r += BWD_ROWS;
    }
    transposed_rows(d, cols, v, out, r)
}

/// Transposed reads of `n = vs.len() / cols` vectors at once (`vs`:
/// `n × cols`, `outs`: `n × rows`) from the weights' differences `d`, each
/// output summed in column order as [`transposed`] sums it for one
/// vector. A row's differences are read once for all vectors, the vectors
/// side by side in the vector lanes (`scratch` holds the inputs
/// transposed, column-major).
pub fn transposed_batch(
    d: &[f32],
    cols: usize,
    vs: &[f32],
    outs: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { transposed_batch_avx2(d, cols, vs, outs, scratch) };
    }
    transposed_batch_body(d, cols, vs, outs, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn transposed_batch_avx2(
    d: &[f32],
    cols: usize,
    vs: &[f32],
    outs: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    transposed_batch_body(d, cols, vs, outs, scratch);
}

#[inline(always)]
fn transposed_batch_body(
    d: &[f32],
    cols: usize,
    vs: &[f32],
    outs: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    if cols == 0 || vs.is_empty() {
        outs.fill(0.0);
        return;
    }
    let n = vs.len() / cols;
    let rows = outs.len() / n;
    // [vT | acc]: the inputs column-major (`cols × n`), then one row's
    // sums per vector. Both are written before they are read, so the
    // buffer is resized, not cleared and zeroed.
    scratch.resize(cols * n + n, 0.0);
    let (vt, acc) = scratch.split_at_mut(cols * n);
    for (b, v) in vs.chunks_exact(cols).enumerate() {
        for (c, &vc) in v.iter().enumerate() {
            vt[c * n + b] = vc;
        }
    }
    for r in 0..rows {
        let row = &d[r * cols..(r + 1) * cols];
        // Blocks of vectors whose sums stay in registers over the row.
        let mut b0 = 0;
        while b0 + 32 <= n {
            transposed_lanes::<32>(row, vt, n, b0, acc);
            b0 += 32;
        }
        while b0 + 8 <= n {
            transposed_lanes::<8>(row, vt, n, b0, acc);
            b0 += 8;
        }
        while b0 < n {
            transposed_lanes::<1>(row, vt, n, b0, acc);
            b0 += 1;
        }
        for (b, &a) in acc.iter().enumerate() {
            outs[b * rows + r] = a;
        }
    }
}

/// One row's transposed sums for the `W` vectors `b0..b0 + W` of
/// [`transposed_batch_body`] (`vt`: inputs column-major with `n` vectors
/// per column) into `acc`: each vector's sum in column order, as there,
/// held in `W` lanes.
#[inline(always)]
fn transposed_lanes<const W: usize>(row: &[f32], vt: &[f32], n: usize, b0: usize, acc: &mut [f32]) {
    let mut a = [0.0f32; W];
    for (&d, v) in row.iter().zip(vt.chunks_exact(n)) {
        let v = v[b0..].first_chunk::<W>().expect("W vectors");
        for k in 0..W {
            a[k] += v[k] * d;
        }
    }
    acc[b0..b0 + W].copy_from_slice(&a);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain loops the kernels replace.
    fn plain_forward(g: &[f32], cols: usize, v: &[f32], out: &mut [f32]) {
        for (r, &vr) in v.iter().enumerate() {
            if vr == 0.0 {
                continue;
            }
            let row = &g[2 * r * cols..2 * (r + 1) * cols];
            for (o, pair) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o += vr * (pair[0] - pair[1]);
            }
        }
    }

    fn plain_transposed(g: &[f32], cols: usize, v: &[f32], out: &mut [f32]) {
        for (r, o) in out.iter_mut().enumerate() {
            let row = &g[2 * r * cols..2 * (r + 1) * cols];
            let mut acc = 0.0f32;
            for (&vc, pair) in v.iter().zip(row.chunks_exact(2)) {
                acc += vc * (pair[0] - pair[1]);
            }
            *o = acc;
        }
    }

    fn data(rows: usize, cols: usize, seed: u32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1 << 24) as f32
        };
        let g: Vec<f32> = (0..2 * rows * cols).map(|_| 1.0 + 99.0 * next()).collect();
        // Some zero inputs, as after ReLU or quantisation.
        let vr: Vec<f32> = (0..rows)
            .map(|i| if i % 5 == 3 { 0.0 } else { next() - 0.5 })
            .collect();
        let vc: Vec<f32> = (0..cols).map(|_| next() - 0.5).collect();
        (g, vr, vc)
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn kernels_give_the_plain_loops_bits() {
        for (rows, cols) in [
            (1, 1),
            (3, 5),
            (8, 8),
            (13, 7),
            (128, 128),
            (37, 130),
            (128, 10),
            (16, 1),
            (24, 15),
            (17, 23),
        ] {
            let (g, vr, vc) = data(rows, cols, (rows * 31 + cols) as u32);
            let mut want = vec![0.25f32; cols];
            plain_forward(&g, cols, &vr, &mut want);
            let driven: Vec<(usize, f32)> = vr
                .iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(r, &v)| (r, v))
                .collect();
            let mut got = vec![0.25f32; cols];
            forward_accumulate(&g, cols, &driven, &mut got);
            let mut generic = vec![0.25f32; cols];
            forward_accumulate_body(&g, cols, &driven, &mut generic);
            assert_eq!(bits(&want), bits(&got));
            assert_eq!(bits(&want), bits(&generic));
            // From the cached differences of every row.
            let all: Vec<usize> = (0..rows).collect();
            let mut d = vec![f32::NAN; rows * cols];
            row_differences(&g, cols, &all, &mut d);
            let mut got = vec![0.25f32; cols];
            forward_accumulate_diff(&d, cols, &driven, &mut got);
            let mut generic = vec![0.25f32; cols];
            forward_accumulate_diff_body(&d, cols, &driven, &mut generic);
            assert_eq!(bits(&want), bits(&got));
            assert_eq!(bits(&want), bits(&generic));
            // Three vectors at once (the second all zero, the third with
            // isolated zeros) against one at a time.
            let vs: Vec<f32> = vr
                .iter()
                .map(|_| 0.0)
                .chain(vr.iter().map(|&v| if v > 0.3 { 0.0 } else { v }))
                .collect();
            let vs: Vec<f32> = vr.iter().copied().chain(vs).collect();
            let mut want = vec![0.25f32; 3 * cols];
            for (v, o) in vs.chunks_exact(rows).zip(want.chunks_exact_mut(cols)) {
                plain_forward(&g, cols, v, o);
            }
            let mut got = vec![0.25f32; 3 * cols];
            forward_accumulate_batch(&g, cols, &vs, &mut got, &mut Vec::new());
            assert_eq!(bits(&want), bits(&got));
            // The transposed reads from the differences, against the pair
            // loop.
            let mut want = vec![0.0f32; rows];
            plain_transposed(&g, cols, &vc, &mut want);
            let mut got = vec![0.0f32; rows];
            transposed(&d, cols, &vc, &mut got);
            let mut generic = vec![0.0f32; rows];
            transposed_body(&d, cols, &vc, &mut generic);
            assert_eq!(bits(&want), bits(&got));
            assert_eq!(bits(&want), bits(&generic));
            // 43 vectors at once (blocks of 32, 8 and 1) against one at a
            // time.
            const NV: usize = 43;
            let vcs: Vec<f32> = (0..NV * cols)
                .map(|i| {
                    if i % 7 == 2 {
                        0.0
                    } else {
                        vc[i % cols] * (1.0 + (i / cols) as f32)
                    }
                })
                .collect();
            let mut want = vec![0.0f32; NV * rows];
            for (v, o) in vcs.chunks_exact(cols).zip(want.chunks_exact_mut(rows)) {
                plain_transposed(&g, cols, v, o);
            }
            let (mut got, mut scratch) = (vec![0.0f32; NV * rows], Vec::new());
            transposed_batch(&d, cols, &vcs, &mut got, &mut scratch);
            assert_eq!(bits(&want), bits(&got));
        }
    }
}
