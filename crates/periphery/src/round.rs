//! Rounding to the nearest integer, halves away from zero (`f32::round`),
//! in floating-point arithmetic and selects only: `f32::round` is a call
//! into the C library (`roundf`, no x86 instruction rounds halves away from
//! zero), and a round trip through `i32` is scalar code (Rust's saturating
//! conversions), either of which keeps the DAC's and ADC's loops from being
//! vectorised. Same bits for every
//! input, signed zeros, NaN and infinities included (tested against
//! `f32::round` below).

/// `x.round()`.
#[inline(always)]
pub(crate) fn round(x: f32) -> f32 {
    const TWO_23: f32 = 8_388_608.0;
    let a = x.abs();
    // Below 2^23, `a + 2^23` lands where the f32 step is 1: the sum is `a`
    // rounded to the nearest integer, ties to even, and subtracting 2^23
    // again is exact. Rust never reassociates the two operations.
    let n = (a + TWO_23) - TWO_23;
    // `a − n` is exact; it is ½ only on a tie rounded down to even, which
    // rounding away from zero takes up (`n + 1 ≤ 2^23` is exact).
    let n = if a - n == 0.5 { n + 1.0 } else { n };
    // From 2^23 on every f32 is an integer; NaN and ±∞ round to themselves
    // (the comparison is false for NaN). `copysign` gives `−0.3` its `−0`.
    if a < TWO_23 {
        n.copysign(x)
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::round;

    fn same(x: f32) {
        let (got, want) = (round(x), x.round());
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "round({x:e} = {:#x}) = {got:e}, f32::round gives {want:e}",
            x.to_bits()
        );
    }

    #[test]
    fn rounds_as_f32_round_bit_for_bit() {
        let two23 = 8_388_608.0f32;
        let edges = [
            0.0,
            0.5,
            1.5,
            2.5,
            0.499_999_97,
            0.500_000_06,
            1.0,
            32_767.5,
            two23 - 0.5,
            two23,
            two23 + 1.0,
            2_147_483_648.0,
            1e30,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            f32::INFINITY,
            f32::NAN,
        ];
        for x in edges {
            same(x);
            same(-x);
            same(f32::from_bits(x.to_bits().wrapping_sub(1)));
            same(f32::from_bits(x.to_bits() + 1));
        }
        // Every f32 of magnitude up to 2^24 at a stride that visits every
        // exponent and many mantissas, and each one's neighbours.
        let mut b = 0u32;
        while b < 0x4c00_0000 {
            let x = f32::from_bits(b);
            same(x);
            same(-x);
            b += 997;
        }
        // All of [−4, 4] at the resolution of the values near 4.
        for k in -(1 << 22)..=(1 << 22) {
            same(k as f32 / (1 << 20) as f32);
        }
    }
}
