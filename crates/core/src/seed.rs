//! Deterministic seed derivation: one run seed, many named streams.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The random generator every aimsim component uses.
pub type Rng = Xoshiro256PlusPlus;

/// SplitMix64 finaliser: a bijective mix with full avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Derives the seed of the stream named `path` (e.g. `"device/d2d/tile3"`)
/// from the run seed. The result depends only on `(seed, path)`: FNV-1a over
/// the path bytes, combined with the seed, then mixed with SplitMix64.
pub fn derive_seed(seed: u64, path: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(mix(seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_add(h))
}

/// A generator for the stream named `path` of run `seed`.
pub fn stream(seed: u64, path: &str) -> Rng {
    Rng::seed_from_u64(derive_seed(seed, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_inputs_same_stream() {
        let mut a = stream(7, "device/c2c");
        let mut b = stream(7, "device/c2c");
        for _ in 0..16 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn paths_and_seeds_separate_streams() {
        let base = derive_seed(1, "a");
        assert_ne!(base, derive_seed(2, "a"));
        assert_ne!(base, derive_seed(1, "b"));
        assert_ne!(derive_seed(1, "ab"), derive_seed(1, "ba"));
    }

    #[test]
    fn derived_seed_is_pinned() {
        // A change here changes every run's bits: it must be deliberate.
        assert_eq!(derive_seed(1, "device"), 17_059_001_918_796_686_107_u64);
    }
}
