//! Rounding without a library call.
//!
//! Rust's `f32::ceil` is a call into `compiler-builtins` on the baseline
//! x86-64 target (its one-instruction form, `roundss`, needs SSE4.1):
//! every programmed cell takes its pulse count from a ceiling, twice.

/// `x.ceil() as u32` (saturating: 0 for NaN and below 0, `u32::MAX`
/// from `2³²` up) for every `f32`, inlined: the truncation `x as u32`,
/// raised by one where it fell below `x`. (Below `2²⁴` the truncation
/// converts back exactly; from there every float is an integer, which
/// truncates to itself, or saturates to `u32::MAX`, which converts back
/// to `2³²`.)
#[inline]
pub fn ceil_u32(x: f32) -> u32 {
    let t = x as u32;
    t.saturating_add(u32::from((t as f32) < x))
}

#[cfg(test)]
mod tests {
    use super::ceil_u32;
    use proptest::prelude::*;

    fn same(x: f32) {
        assert_eq!(ceil_u32(x), x.ceil() as u32, "ceil({x:e})");
    }

    #[test]
    fn equals_the_library_ceiling_at_the_edges() {
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            1.000_000_1,
            0.999_999_94,
            f32::MIN_POSITIVE,
            1e-45,
            8_388_607.5,
            16_777_216.0,
            16_777_218.0,
            4_294_967_040.0,
            4_294_967_296.0,
            4_294_967_808.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ] {
            same(x);
        }
    }

    #[test]
    fn equals_the_library_ceiling_on_a_sweep_of_bit_patterns() {
        // Every 4099th pattern: all exponents and signs, many mantissas.
        for bits in (0..=u32::MAX).step_by(4099) {
            same(f32::from_bits(bits));
        }
    }

    proptest! {
        #[test]
        fn equals_the_library_ceiling(bits in any::<u32>()) {
            same(f32::from_bits(bits));
        }
    }
}
