//! The 8×8 handwritten digits, decoded from `data/digits.bin`.
//!
//! Format (little-endian): magic `AIMDIG01`, a `u16` sample count, then per
//! sample one label byte and 40 bytes holding the 64 pixels (values 0..=16)
//! at 5 bits each, packed LSB-first. `data/pack_digits.py` regenerates the
//! file from scikit-learn's `digits.csv.gz`; `data/README.md` gives the
//! source, licence (CC BY 4.0) and attribution.

static DATA: &[u8] = include_bytes!("../data/digits.bin");
const MAGIC: &[u8; 8] = b"AIMDIG01";
const RECORD: usize = 41;

/// Every `DIGITS_TEST_EVERY`-th sample (index `i % 5 == 4`) is in the test set.
pub const DIGITS_TEST_EVERY: usize = 5;

/// The 8×8 handwritten digits (pixel intensities 0..=16).
#[derive(Clone, Debug)]
pub struct Digits {
    /// Images, row-major 8×8.
    pub images: Vec<[u8; 64]>,
    /// Labels 0..=9.
    pub labels: Vec<u8>,
}

impl Digits {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The fixed split, independent of any run seed: sample `i` is a test
    /// sample iff `i % 5 == 4`. Returns (train, test) indices, ascending.
    pub fn split(&self) -> (Vec<usize>, Vec<usize>) {
        (0..self.len()).partition(|i| i % DIGITS_TEST_EVERY != DIGITS_TEST_EVERY - 1)
    }
}

/// Decodes the embedded data set (about 74 KB; takes well under a millisecond).
///
/// # Panics
/// Only if the embedded file is corrupt, i.e. a broken build (tested below).
pub fn load_digits() -> Digits {
    decode(DATA)
}

/// Decodes the `AIMDIG01` format described in the module doc, checking the
/// magic, the length and the value ranges.
fn decode(data: &[u8]) -> Digits {
    assert!(
        data.len() >= 10 && &data[..8] == MAGIC,
        "embedded digits.bin: bad magic"
    );
    let n = usize::from(u16::from_le_bytes([data[8], data[9]]));
    let body = &data[10..];
    assert_eq!(body.len(), n * RECORD, "embedded digits.bin: bad length");
    let mut images = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for rec in body.chunks_exact(RECORD) {
        assert!(rec[0] <= 9, "embedded digits.bin: label out of range");
        labels.push(rec[0]);
        let mut img = [0u8; 64];
        for (i, px) in img.iter_mut().enumerate() {
            let bit = 5 * i;
            let (byte, shift) = (bit / 8, bit % 8);
            let word = u16::from(rec[1 + byte]) | u16::from(*rec.get(2 + byte).unwrap_or(&0)) << 8;
            *px = ((word >> shift) & 0x1f) as u8;
            assert!(*px <= 16, "embedded digits.bin: pixel out of range");
        }
        images.push(img);
    }
    Digits { images, labels }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values computed in Python from scikit-learn 1.9.1's
    /// `digits.csv.gz` (sha256 `09f66e6d…1e23aa22`).
    #[test]
    fn matches_scikit_learn_copy() {
        let d = load_digits();
        assert_eq!(d.len(), 1797);
        assert!(!d.is_empty());
        assert_eq!(d.images.len(), d.labels.len());
        let mut counts = [0usize; 10];
        for &l in &d.labels {
            counts[usize::from(l)] += 1;
        }
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert!(d.images.iter().flatten().all(|&p| p <= 16));
        let sum: u64 = d.images.iter().flatten().map(|&p| u64::from(p)).sum();
        assert_eq!(sum, 561_718);
        // Order-sensitive: sum over samples of index × pixel sum.
        let weighted: u64 = d
            .images
            .iter()
            .enumerate()
            .map(|(i, img)| i as u64 * img.iter().map(|&p| u64::from(p)).sum::<u64>())
            .sum();
        assert_eq!(weighted, 503_342_547);
        assert_eq!(d.labels[0], 0);
        #[rustfmt::skip]
        let first: [u8; 64] = [
            0, 0, 5, 13, 9, 1, 0, 0,
            0, 0, 13, 15, 10, 15, 5, 0,
            0, 3, 15, 2, 0, 11, 8, 0,
            0, 4, 12, 0, 0, 8, 8, 0,
            0, 5, 8, 0, 0, 9, 8, 0,
            0, 4, 11, 0, 1, 12, 7, 0,
            0, 2, 14, 5, 10, 12, 0, 0,
            0, 0, 6, 13, 10, 0, 0, 0,
        ];
        assert_eq!(d.images[0], first);
    }

    #[test]
    fn split_is_fixed_and_disjoint() {
        let d = load_digits();
        let (train, test) = d.split();
        assert_eq!((train.len(), test.len()), (1438, 359));
        assert!(test
            .iter()
            .all(|i| i % DIGITS_TEST_EVERY == DIGITS_TEST_EVERY - 1));
        assert!(train
            .iter()
            .all(|i| i % DIGITS_TEST_EVERY != DIGITS_TEST_EVERY - 1));
        assert!(train.windows(2).all(|w| w[0] < w[1]));
        assert!(test.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..d.len()).collect::<Vec<_>>());
        assert_eq!(d.split(), (train, test));
    }

    #[test]
    #[should_panic(expected = "bad magic")]
    fn corrupt_magic_panics() {
        let mut bad = DATA.to_vec();
        bad[0] ^= 1;
        decode(&bad);
    }

    #[test]
    #[should_panic(expected = "bad length")]
    fn truncated_file_panics() {
        decode(&DATA[..DATA.len() - 1]);
    }

    #[test]
    #[should_panic(expected = "pixel out of range")]
    fn out_of_range_pixel_panics() {
        let mut bad = DATA.to_vec();
        bad[11] = 0x1f; // first pixel of sample 0 := 31
        decode(&bad);
    }
}
