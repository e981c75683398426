//! `tanh` in single precision, bit for bit fdlibm's `tanhf` (through its
//! `expm1f`), the algorithm glibc's libm uses (`sysdeps/ieee754/flt-32`,
//! Sun Microsystems 1993, "Conversion to float by Ian Lance Taylor").
//!
//! Why not `f32::tanh`: Rust's `tanh` calls the platform's libm, so the
//! bits of every tanh network would depend on the C library it runs on
//! (libms need not agree in the last bit), and a call per
//! element keeps the activation of a layer out of vector registers (it
//! was 12 % of a digits-mlp training step). This is one algorithm on every
//! platform, in a form without branches that the compiler vectorises:
//! each lane computes every case and keeps its own, with the same IEEE
//! operations in the same order as fdlibm's branches, so the same bits.
//! `tanh_scalar` is the literal port, kept as the reference. On glibc
//! 2.36 (x86-64) both equal `f32::tanh` on all 2³² inputs (the ignored
//! test `tanh_equals_libm_on_every_input`; NaNs as NaNs).
//!
//! fdlibm: `tanh(x) = 1 − 2/(expm1(2|x|) + 2)` for `|x| ≥ 1`,
//! `−t/(t + 2)` with `t = expm1(−2|x|)` below, `±1` from `|x| ≥ 22`;
//! `expm1` reduces `x = k ln2 + r` (`ln2` in a high and a low part) and
//! evaluates a rational approximation in `r` (error below 2⁻²⁵).

const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const INVLN2: f32 = f32::from_bits(0x3fb8_aa3b);
const Q1: f32 = f32::from_bits(0xbd08_8889);
const Q2: f32 = f32::from_bits(0x3ad0_0d01);
const Q3: f32 = f32::from_bits(0xb8a6_70cd);
const Q4: f32 = f32::from_bits(0x3686_7e54);
const Q5: f32 = f32::from_bits(0xb457_edbb);
const HUGE: f32 = 1.0e30;
const TINY: f32 = 1.0e-30;

/// fdlibm's `expm1f`, literally (the reference for [`expm1_lanes`]).
fn expm1_scalar(x: f32) -> f32 {
    let mut x = x;
    let hx0 = x.to_bits();
    let negative = hx0 >> 31 != 0;
    let hx = hx0 & 0x7fff_ffff;
    if hx >= 0x4195_b844 {
        if hx >= 0x42b1_7218 {
            if hx > 0x7f80_0000 {
                return x + x;
            }
            if hx == 0x7f80_0000 {
                return if negative { -1.0 } else { x };
            }
            if x > f32::from_bits(0x42b1_7180) {
                return HUGE * HUGE;
            }
        }
        if negative {
            return TINY - 1.0;
        }
    }
    let (k, c);
    if hx > 0x3eb1_7218 {
        let (hi, lo);
        if hx < 0x3f85_1592 {
            if negative {
                (hi, lo, k) = (x + LN2_HI, -LN2_LO, -1);
            } else {
                (hi, lo, k) = (x - LN2_HI, LN2_LO, 1);
            }
        } else {
            k = (INVLN2 * x + if negative { -0.5 } else { 0.5 }) as i32;
            let t = k as f32;
            hi = x - t * LN2_HI;
            lo = t * LN2_LO;
        }
        x = hi - lo;
        c = (hi - x) - lo;
    } else if hx < 0x3300_0000 {
        let t = HUGE + x;
        return x - (t - (HUGE + x));
    } else {
        (k, c) = (0, 0.0);
    }
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
    let t = 3.0 - r1 * hfx;
    let mut e = hxs * ((r1 - t) / (6.0 - x * t));
    if k == 0 {
        return x - (x * e - hxs);
    }
    e = x * (e - c) - c;
    e -= hxs;
    if k == -1 {
        return 0.5 * (x - e) - 0.5;
    }
    if k == 1 {
        return if x < -0.25 {
            -2.0 * (e - (x + 0.5))
        } else {
            1.0 + 2.0 * (x - e)
        };
    }
    if k <= -2 || k > 56 {
        let y = 1.0 - (e - x);
        return f32::from_bits(y.to_bits().wrapping_add((k << 23) as u32)) - 1.0;
    }
    if k < 23 {
        let t = f32::from_bits(0x3f80_0000 - (0x0100_0000 >> k));
        let y = t - (e - x);
        f32::from_bits(y.to_bits().wrapping_add((k << 23) as u32))
    } else {
        let t = f32::from_bits(((0x7f - k) << 23) as u32);
        let y = x - (e + t) + 1.0;
        f32::from_bits(y.to_bits().wrapping_add((k << 23) as u32))
    }
}

/// fdlibm's `tanhf`, literally: the reference for [`tanh`] and
/// [`tanh_in_place`].
pub fn tanh_scalar(x: f32) -> f32 {
    let jx = x.to_bits();
    let ix = jx & 0x7fff_ffff;
    let z;
    if ix >= 0x7f80_0000 {
        return if jx >> 31 == 0 {
            1.0 / x + 1.0
        } else {
            1.0 / x - 1.0
        };
    }
    if ix < 0x41b0_0000 {
        if ix == 0 {
            return x;
        }
        if ix < 0x2400_0000 {
            return x * (1.0 + x);
        }
        if ix >= 0x3f80_0000 {
            let t = expm1_scalar(2.0 * x.abs());
            z = 1.0 - 2.0 / (t + 2.0);
        } else {
            let t = expm1_scalar(-2.0 * x.abs());
            z = -t / (t + 2.0);
        }
    } else {
        z = 1.0 - TINY;
    }
    if jx >> 31 == 0 {
        z
    } else {
        -z
    }
}

/// `expm1` on the arguments `tanh` gives it, `x ∈ (−2, 0] ∪ [2, ∞]`
/// and NaN, without branches: every case computed and the lane's own
/// kept. Equal to [`expm1_scalar`] on `(−2, 0]` and `[2, 44)` (the lanes
/// `tanh` keeps; `|x| ≥ 27 ln 2` only returns early for negative or huge
/// `x`, and the `k = 1` reduction needs `0.5 ln 2 < x < 1.5 ln 2`, which
/// these arguments never are).
#[inline(always)]
fn expm1_lanes(x0: f32) -> f32 {
    let hx = x0.to_bits() & 0x7fff_ffff;
    let negative = x0 < 0.0;
    // Reduction: k = −1 in (−1.5 ln2, −0.5 ln2), k from the rounded
    // quotient beyond, none within ±0.5 ln2.
    let near = hx < 0x3f85_1592;
    // Truncated as fdlibm's conversion to int; clamped first (NaN to the
    // low end) so that the conversion is one vector instruction, not a
    // saturating one per lane: the lanes that keep k have |k| ≤ 64.
    #[allow(clippy::manual_clamp, reason = "`clamp` would keep a NaN")]
    let kf = (INVLN2 * x0 + if negative { -0.5 } else { 0.5 })
        .max(-256.0)
        .min(256.0);
    // SAFETY: `kf` is finite and within i32 (clamped just above).
    let kq: i32 = unsafe { kf.to_int_unchecked() };
    let k_red = if near { -1 } else { kq };
    let t_red = k_red as f32;
    let (hi, lo) = if near {
        (x0 + LN2_HI, -LN2_LO)
    } else {
        (x0 - t_red * LN2_HI, t_red * LN2_LO)
    };
    let xr = hi - lo;
    let cr = (hi - xr) - lo;
    let reduce = hx > 0x3eb1_7218;
    let x = if reduce { xr } else { x0 };
    let c = if reduce { cr } else { 0.0 };
    let k = if reduce { k_red } else { 0 };
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
    let t = 3.0 - r1 * hfx;
    let e0 = hxs * ((r1 - t) / (6.0 - x * t));
    let k0 = x - (x * e0 - hxs);
    let e = x * (e0 - c) - c - hxs;
    let km1 = 0.5 * (x - e) - 0.5;
    // k ≤ −2 or k > 56: 2ᵏ (1 − (e − x)) − 1; 1 < k < 23: 2ᵏ ((1 − 2⁻ᵏ)
    // − (e − x)); else 2ᵏ ((x − (e + 2⁻ᵏ)) + 1). The shifts are taken in
    // range for every lane (a lane out of a case's range does not keep
    // it).
    let outer = k <= -2 || k > 56;
    let ks = k.clamp(0, 31) as u32;
    let low = f32::from_bits(0x3f80_0000 - (0x0100_0000 >> ks)) - (e - x);
    let high = x - (e + f32::from_bits(((0x7f - k.clamp(0, 0x7f)) << 23) as u32)) + 1.0;
    let m = if outer {
        1.0 - (e - x)
    } else if k < 23 {
        low
    } else {
        high
    };
    let scaled = f32::from_bits(m.to_bits().wrapping_add((k << 23) as u32));
    let y = if k == 0 {
        k0
    } else if k == -1 {
        km1
    } else if outer {
        scaled - 1.0
    } else {
        scaled
    };
    // |x| < 2⁻²⁵: x itself (fdlibm's `x − ((huge + x) − (huge + x))`).
    if hx < 0x3300_0000 {
        x0
    } else {
        y
    }
}

/// fdlibm's `tanhf` without branches (see the module): equal to
/// [`tanh_scalar`] on every input.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let jx = x.to_bits();
    let ix = jx & 0x7fff_ffff;
    let a = x.abs();
    let big = ix >= 0x3f80_0000;
    let t = expm1_lanes(if big { 2.0 * a } else { -2.0 * a });
    let d = t + 2.0;
    // One division of the lane's own numerator (the same operation as
    // either branch of fdlibm's, so the same bits).
    let q = (if big { 2.0 } else { -t }) / d;
    let z = if ix >= 0x41b0_0000 {
        1.0 - TINY
    } else if big {
        1.0 - q
    } else {
        q
    };
    let z = if jx >> 31 == 0 { z } else { -z };
    if ix < 0x2400_0000 {
        // ±0 and |x| < 2⁻⁵⁵: x (1 + x), that is x.
        x * (1.0 + x)
    } else if ix >= 0x7f80_0000 {
        // ±1 for ±∞ (fdlibm's `1/x ± 1`: ±0 ± 1); NaN for NaN, the
        // operand's own made quiet as that division and addition make it
        // (`x + x` does the same without a division).
        if ix > 0x7f80_0000 {
            x + x
        } else if jx >> 31 == 0 {
            1.0
        } else {
            -1.0
        }
    } else {
        z
    }
}

/// Applies [`tanh`] to every element, in vector registers where the CPU
/// has AVX2 (the same operations either way, so the same bits).
pub fn tanh_in_place(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F (checked just above).
        return unsafe { tanh_in_place_avx512(xs) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { tanh_in_place_avx2(xs) };
    }
    xs.iter_mut().for_each(|v| *v = tanh(*v));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tanh_in_place_avx2(xs: &mut [f32]) {
    tanh_in_lanes::<8>(xs);
}

/// [`tanh_in_place_avx2`] in the 16 lanes of an AVX-512 register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn tanh_in_place_avx512(xs: &mut [f32]) {
    tanh_in_lanes::<16>(xs);
}

/// [`tanh`] over `xs` in chunks of `W` lanes (a vector register of `f32`
/// in the copy that inlines it), the tail as one more chunk padded with
/// zeros.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tanh_in_lanes<const W: usize>(xs: &mut [f32]) {
    let mut chunks = xs.chunks_exact_mut(W);
    for c in &mut chunks {
        c.iter_mut().for_each(|v| *v = tanh(*v));
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut pad = [0.0f32; W];
        pad[..tail.len()].copy_from_slice(tail);
        pad.iter_mut().for_each(|v| *v = tanh(*v));
        tail.copy_from_slice(&pad[..tail.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit patterns spread over every exponent and sign: every `step`-th
    /// pattern plus the boundaries of fdlibm's cases and their neighbours.
    fn patterns(step: u32) -> impl Iterator<Item = u32> {
        let edges = [
            0u32,
            1,
            0x0080_0000,
            0x2400_0000,
            0x3300_0000,
            0x3eb1_7218,
            0x3f00_0000,
            0x3f80_0000,
            0x3f85_1592,
            0x4195_b844,
            0x41b0_0000,
            0x42b1_7218,
            0x7f7f_ffff,
            0x7f80_0000,
            0x7f80_0001,
            0x7fc0_0000,
        ];
        let around = edges
            .into_iter()
            .flat_map(|e| (0..64u32).map(move |d| e.wrapping_add(d).wrapping_sub(32)));
        let spread = (0..=u32::MAX / step).map(move |i| i * step);
        around
            .chain(spread)
            .flat_map(|b| [b & 0x7fff_ffff, b | 0x8000_0000])
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn branch_free_tanh_equals_the_literal_port() {
        for b in patterns(997) {
            let x = f32::from_bits(b);
            let (r, s) = (tanh(x), tanh_scalar(x));
            assert!(same(r, s), "tanh({x:e}) [{b:#x}]: {r:e} vs fdlibm {s:e}");
        }
    }

    #[test]
    fn slices_equal_one_at_a_time() {
        let xs: Vec<f32> = patterns(65_537).map(f32::from_bits).collect();
        // Every copy this CPU can run (the dispatch takes the widest),
        // on lengths with and without a tail.
        type Copy = (&'static str, fn(&mut [f32]));
        let mut copies: Vec<Copy> = vec![("dispatched", tanh_in_place)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                copies.push(("avx2", |v| unsafe { tanh_in_place_avx2(v) }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F (checked just above).
                copies.push(("avx512", |v| unsafe { tanh_in_place_avx512(v) }));
            }
        }
        for (name, f) in copies {
            for len in [xs.len(), xs.len() - 5, 13, 3] {
                let mut v = xs[..len].to_vec();
                f(&mut v);
                for (x, y) in xs.iter().zip(&v) {
                    assert!(same(*y, tanh_scalar(*x)), "{name}: {x:e}");
                }
            }
        }
    }

    #[test]
    fn tanh_is_within_one_ulp_of_the_platform_and_odd() {
        // Any libm's tanhf is faithful: at most one unit in the last place
        // apart from this one.
        for b in patterns(4099) {
            let x = f32::from_bits(b);
            let (r, s) = (tanh(x), x.tanh());
            if s.is_nan() {
                assert!(r.is_nan());
                continue;
            }
            assert_eq!(tanh(-x).to_bits(), (-r).to_bits(), "odd at {x:e}");
            let ulps = (r.to_bits() as i64 - s.to_bits() as i64).abs();
            assert!(ulps <= 1, "tanh({x:e}) = {r:e}, libm {s:e}");
        }
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    /// Every input, against the platform's libm (glibc's is fdlibm's):
    /// `cargo test --release -p aimsim-core -- --ignored tanh_equals`.
    #[test]
    #[ignore = "2³² inputs: about a minute in release"]
    fn tanh_equals_libm_on_every_input() {
        let mut differ = 0u64;
        let mut buf = vec![0.0f32; 1 << 16];
        for hi in 0..=u16::MAX as u32 {
            for (i, v) in buf.iter_mut().enumerate() {
                *v = f32::from_bits(hi << 16 | i as u32);
            }
            tanh_in_place(&mut buf);
            for (i, &y) in buf.iter().enumerate() {
                let x = f32::from_bits(hi << 16 | i as u32);
                if !same(y, x.tanh()) {
                    differ += 1;
                    if differ < 10 {
                        eprintln!("{x:e}: {y:e} vs {:e}", x.tanh());
                    }
                }
            }
        }
        assert_eq!(differ, 0);
    }
}
