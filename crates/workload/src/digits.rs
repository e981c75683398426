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

/// Decodes the embedded data set.
///
/// # Panics
/// Only if the embedded file is corrupt, a broken build (tested below).
pub fn load_digits() -> Digits {
    assert_eq!(&DATA[..8], MAGIC, "embedded digits.bin: bad magic");
    let n = usize::from(u16::from_le_bytes([DATA[8], DATA[9]]));
    let body = &DATA[10..];
    assert_eq!(body.len(), n * RECORD, "embedded digits.bin: bad length");
    let mut images = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for rec in body.chunks_exact(RECORD) {
        labels.push(rec[0]);
        let mut img = [0u8; 64];
        for (i, px) in img.iter_mut().enumerate() {
            let bit = 5 * i;
            let (byte, shift) = (bit / 8, bit % 8);
            let word = u16::from(rec[1 + byte]) | u16::from(*rec.get(2 + byte).unwrap_or(&0)) << 8;
            *px = ((word >> shift) & 0x1f) as u8;
        }
        images.push(img);
    }
    Digits { images, labels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scikit_learn_copy() {
        let d = load_digits();
        assert_eq!(d.len(), 1797);
        let mut counts = [0usize; 10];
        for &l in &d.labels {
            counts[usize::from(l)] += 1;
        }
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        let sum: u64 = d.images.iter().flatten().map(|&p| u64::from(p)).sum();
        assert_eq!(sum, 561_718);
        assert!(d.images.iter().flatten().all(|&p| p <= 16));
        assert_eq!(d.labels[0], 0);
        assert_eq!(
            d.images[0][..16],
            [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]
        );
    }

    #[test]
    fn split_is_fixed_and_disjoint() {
        let d = load_digits();
        let (train, test) = d.split();
        assert_eq!((train.len(), test.len()), (1438, 359));
        assert!(test.iter().all(|i| i % 5 == 4));
        assert!(train.iter().all(|i| i % 5 != 4));
    }
}
