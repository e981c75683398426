//! The largest magnitude of a slice, as the hot loops take it (the read
//! path's input scaling, the samplers' class bounds).

/// The largest `|v_i|` (0 for none), as `fold(0.0, |m, v| m.max(v.abs()))`
/// computes it, NaN ignored: non-negative floats order as their bit
/// patterns, so the largest magnitude is the largest bit pattern of the
/// non-NaN ones, an integer reduction without a dependency through
/// `maxss`. Eight running maxima (the integer maximum is associative and
/// commutative, so the same result), which the compiler keeps in vector
/// lanes; one running maximum compiled to a chain of two dependent
/// conditional moves per entry.
#[inline]
pub fn max_abs(v: &[f32]) -> f32 {
    let mut lanes = [0u32; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = (*m).max(magnitude_bits(x));
        }
    }
    let rest = chunks
        .remainder()
        .iter()
        .fold(0, |m, &x| m.max(magnitude_bits(x)));
    f32::from_bits(lanes.into_iter().fold(rest, u32::max))
}

/// The bit pattern of `|x|`, 0 for NaN: the order of these is the order
/// of `f32::max` on magnitudes, which ignores NaN.
#[inline]
pub fn magnitude_bits(x: f32) -> u32 {
    let b = x.to_bits() & 0x7fff_ffff;
    if b > 0x7f80_0000 {
        0
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn folded(v: &[f32]) -> f32 {
        v.iter().fold(0.0f32, |m, x| m.max(x.abs()))
    }

    #[test]
    fn special_values_as_the_fold() {
        let cases: [&[f32]; 7] = [
            &[],
            &[-0.0],
            &[f32::NAN, -2.0, 1.0],
            &[f32::NEG_INFINITY, 3.0],
            &[1e-45, -1e-40],
            &[f32::NAN; 9],
            &[0.5, -0.75, 0.25, 0.0, -0.0, 0.125, -0.5, 0.7, -0.74, 0.1],
        ];
        for v in cases {
            assert_eq!(max_abs(v).to_bits(), folded(v).to_bits(), "{v:?}");
        }
    }

    proptest! {
        #[test]
        fn equals_the_fold_to_the_bit(bits in proptest::collection::vec(any::<u32>(), 0..40)) {
            let v: Vec<f32> = bits.into_iter().map(f32::from_bits).collect();
            prop_assert_eq!(max_abs(&v).to_bits(), folded(&v).to_bits());
        }
    }
}
