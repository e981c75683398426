//! The built-in image-restoration data: seven public-domain / CC0 grayscale
//! images from scikit-image (`data/images/`, 128×128, see its README), cut
//! into training patches of the network's input size (`camera`, `coffee`,
//! `chelsea`, `brick`, `grass`) and two held-out whole test images
//! (`astronaut`, `rocket`), tiled for inference and put back together for
//! scoring.
//!
//! * `denoise`: input = clean + N(0, σ²), σ = 25/255 (drawn from the run
//!   seed's stream `data/denoise/noise`), target = clean; baseline = the
//!   noisy input.
//! * `sr2`: target = the image; the low-resolution image is its Gaussian
//!   blur (σ = 0.8 pixels, [`SR2_BLUR_SIGMA`]) down-sampled ×2 by bicubic
//!   (the blur-and-bicubic-down-sampling degradation of SRMD, Zhang et
//!   al., CVPR 2018); baseline = the bicubic up-sampling of the
//!   low-resolution image. The network's input is the down-sampled
//!   image when its output tile is twice its input tile (a sub-pixel
//!   network that up-samples itself, ESPCN-style), or the baseline itself
//!   when input and output tiles are the same size (SRCNN / VDSR-style:
//!   the network refines the bicubic up-sampling).
//!
//! Bicubic resampling: Keys' cubic (a = −0.5) at output centres
//! `u = (i + ½)/s − ½`, the kernel widened by `1/s` when down-scaling
//! (anti-aliasing, as MATLAB's `imresize`), edges replicated, weights
//! normalised; separable.

use crate::network::Dataset;
use aimsim_core::stream;
use rand_distr_free::normal;

/// Side of the built-in images.
pub const IMAGE_SIDE: usize = 128;
/// Noise σ of `denoise` (25/255 of the data range).
pub const DENOISE_SIGMA: f32 = 25.0 / 255.0;
/// σ of the Gaussian blur before `sr2`'s ×2 down-sampling, pixels of the
/// high-resolution image: the narrowest of the eight ×2 test kernels
/// ("Gaussian8", widths 0.8–1.6) of Gu et al., "Blind super-resolution
/// with iterative kernel correction", CVPR 2019.
pub const SR2_BLUR_SIGMA: f64 = 0.8;
/// Training images.
const TRAIN: [(&str, &[u8]); 5] = [
    ("camera", include_bytes!("../data/images/camera.pgm")),
    ("coffee", include_bytes!("../data/images/coffee.pgm")),
    ("chelsea", include_bytes!("../data/images/chelsea.pgm")),
    ("brick", include_bytes!("../data/images/brick.pgm")),
    ("grass", include_bytes!("../data/images/grass.pgm")),
];
/// Held-out test images.
const TEST: [(&str, &[u8]); 2] = [
    ("astronaut", include_bytes!("../data/images/astronaut.pgm")),
    ("rocket", include_bytes!("../data/images/rocket.pgm")),
];
/// Stride of the training patches, pixels of the target image.
const PATCH_STRIDE: usize = 8;

mod rand_distr_free {
    use rand::Rng;
    /// A standard normal draw (Box–Muller, one value per pair of uniforms).
    pub fn normal(rng: &mut impl Rng) -> f32 {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

/// A whole test image: the network sees it as tiles; evaluation puts the
/// outputs back together and scores the whole image.
#[derive(Clone, Debug, PartialEq)]
pub struct TestImage {
    /// Name (`astronaut`).
    pub name: String,
    /// Height and width of the target (and output) image.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// The clean image, values in `[0, 1]`.
    pub target: Vec<f32>,
    /// The baseline restoration (noisy input, bicubic up-sampling).
    pub baseline: Vec<f32>,
    /// The network's input image and its height and width.
    pub input: (Vec<f32>, usize, usize),
    /// Per tile: test-sample index and the tile's top-left corner in the
    /// target image.
    pub tiles: Vec<(usize, usize, usize)>,
    /// Height and width of an output tile.
    pub tile: (usize, usize),
}

/// Decodes an 8-bit binary PGM (`P5`) to values in `[0, 1]`.
fn decode_pgm(b: &[u8]) -> (Vec<f32>, usize, usize) {
    let text = String::from_utf8_lossy(&b[..13]);
    let mut it = text.split_ascii_whitespace();
    assert_eq!(it.next(), Some("P5"), "embedded PGM magic");
    let w: usize = it.next().and_then(|v| v.parse().ok()).expect("PGM width");
    let h: usize = it.next().and_then(|v| v.parse().ok()).expect("PGM height");
    let px = &b[b.len() - w * h..];
    (px.iter().map(|&p| f32::from(p) / 255.0).collect(), h, w)
}

fn cubic(x: f64) -> f64 {
    let (a, x) = (-0.5, x.abs());
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Resamples `n` values to `m` (one axis) with the bicubic kernel.
fn resize_axis(n: usize, m: usize) -> Vec<Vec<(usize, f64)>> {
    let s = m as f64 / n as f64;
    let k = if s < 1.0 { s } else { 1.0 };
    let half = 2.0 / k;
    (0..m)
        .map(|i| {
            let u = (i as f64 + 0.5) / s - 0.5;
            let lo = (u - half).floor() as i64;
            let hi = (u + half).ceil() as i64;
            let mut w: Vec<(usize, f64)> = (lo..=hi)
                .map(|j| {
                    (
                        j.clamp(0, n as i64 - 1) as usize,
                        k * cubic(k * (u - j as f64)),
                    )
                })
                .filter(|&(_, v)| v != 0.0)
                .collect();
            let sum: f64 = w.iter().map(|&(_, v)| v).sum();
            w.iter_mut().for_each(|(_, v)| *v /= sum);
            w
        })
        .collect()
}

/// Bicubic resize of an `h × w` image to `ho × wo`.
pub fn bicubic(x: &[f32], h: usize, w: usize, ho: usize, wo: usize) -> Vec<f32> {
    let (ry, rx) = (resize_axis(h, ho), resize_axis(w, wo));
    let mut tmp = vec![0.0f64; h * wo];
    for r in 0..h {
        for (c, ws) in rx.iter().enumerate() {
            tmp[r * wo + c] = ws.iter().map(|&(j, v)| v * f64::from(x[r * w + j])).sum();
        }
    }
    let mut out = vec![0.0f32; ho * wo];
    for (r, ws) in ry.iter().enumerate() {
        for c in 0..wo {
            out[r * wo + c] = ws.iter().map(|&(j, v)| v * tmp[j * wo + c]).sum::<f64>() as f32;
        }
    }
    out
}

/// Separable Gaussian blur of an `h × w` image (σ pixels, weights
/// normalised over the radius ⌈3σ⌉, edges replicated).
pub fn gaussian_blur(x: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as i64;
    let k: Vec<f64> = (-r..=r)
        .map(|d| (-0.5 * (d as f64 / sigma).powi(2)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    let k: Vec<f64> = k.iter().map(|v| v / s).collect();
    let at = |i: i64, n: usize| i.clamp(0, n as i64 - 1) as usize;
    let mut tmp = vec![0.0f64; h * w];
    for row in 0..h {
        for c in 0..w {
            tmp[row * w + c] = (-r..=r)
                .map(|d| k[(d + r) as usize] * f64::from(x[row * w + at(c as i64 + d, w)]))
                .sum();
        }
    }
    let mut out = vec![0.0f32; h * w];
    for row in 0..h {
        for c in 0..w {
            out[row * w + c] = (-r..=r)
                .map(|d| k[(d + r) as usize] * tmp[at(row as i64 + d, h) * w + c])
                .sum::<f64>() as f32;
        }
    }
    out
}

/// Copies the `th × tw` window at `(y, x)` of an image of width `w`.
fn crop(img: &[f32], w: usize, y: usize, x: usize, th: usize, tw: usize, out: &mut Vec<f32>) {
    for r in 0..th {
        out.extend_from_slice(&img[(y + r) * w + x..(y + r) * w + x + tw]);
    }
}

/// The kind of restoration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restoration {
    /// Additive Gaussian noise removal.
    Denoise,
    /// ×2 super-resolution from the down-sampled image.
    Sr2,
    /// ×2 super-resolution from the bicubic up-sampling of the
    /// down-sampled image (input and output tiles of the same size).
    Sr2Upsampled,
}

/// Builds `(train, test)` for input tiles of `th × tw` (the target tiles
/// are `scale` times larger, `scale` = 2 for `sr2`).
pub(crate) fn restoration_data(
    kind: Restoration,
    th: usize,
    tw: usize,
    seed: u64,
) -> (Dataset, Dataset) {
    let scale = if kind == Restoration::Sr2 { 2 } else { 1 };
    // Gaussian blur and ×2 bicubic down-sampling, and its bicubic
    // up-sampling (the SR baseline).
    let down_up = |clean: &[f32], h: usize, w: usize| {
        let blurred = gaussian_blur(clean, h, w, SR2_BLUR_SIGMA);
        let down = bicubic(&blurred, h, w, h / 2, w / 2);
        let up = bicubic(&down, h / 2, w / 2, h, w);
        (down, up)
    };
    let (oh, ow) = (th * scale, tw * scale);
    let mut noise = stream(seed, "data/denoise/noise");
    // The network input image of a clean image.
    let mut degrade = |clean: &[f32], h: usize, w: usize| -> (Vec<f32>, usize, usize) {
        match kind {
            Restoration::Denoise => (
                clean
                    .iter()
                    .map(|&v| v + DENOISE_SIGMA * normal(&mut noise))
                    .collect(),
                h,
                w,
            ),
            Restoration::Sr2 => (down_up(clean, h, w).0, h / 2, w / 2),
            Restoration::Sr2Upsampled => (down_up(clean, h, w).1, h, w),
        }
    };
    let mut train = Dataset {
        dim: th * tw,
        target_dim: oh * ow,
        ..Dataset::default()
    };
    for (_, bytes) in TRAIN {
        let (clean, h, w) = decode_pgm(bytes);
        let (inp, _, iw) = degrade(&clean, h, w);
        for y in (0..=h - oh).step_by(PATCH_STRIDE) {
            for x in (0..=w - ow).step_by(PATCH_STRIDE) {
                if y % scale != 0 || x % scale != 0 {
                    continue;
                }
                crop(&inp, iw, y / scale, x / scale, th, tw, &mut train.x);
                crop(&clean, w, y, x, oh, ow, &mut train.targets);
            }
        }
    }
    let mut test = Dataset {
        dim: th * tw,
        target_dim: oh * ow,
        ..Dataset::default()
    };
    for (name, bytes) in TEST {
        let (clean, h, w) = decode_pgm(bytes);
        let (inp, ih, iw) = degrade(&clean, h, w);
        let baseline = match kind {
            Restoration::Denoise | Restoration::Sr2Upsampled => inp.clone(),
            Restoration::Sr2 => bicubic(&inp, ih, iw, h, w),
        };
        let mut tiles = Vec::new();
        for y in (0..=h - oh).step_by(oh) {
            for x in (0..=w - ow).step_by(ow) {
                tiles.push((test.len(), y, x));
                crop(&inp, iw, y / scale, x / scale, th, tw, &mut test.x);
                crop(&clean, w, y, x, oh, ow, &mut test.targets);
            }
        }
        test.images.push(TestImage {
            name: name.into(),
            h,
            w,
            target: clean,
            baseline,
            input: (inp, ih, iw),
            tiles,
            tile: (oh, ow),
        });
    }
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_decode_to_their_recorded_sums() {
        // Pixel sums printed by make_images.py.
        for ((_, b), sum) in TRAIN.iter().chain(&TEST).zip([
            2_114_560u64,
            1_509_410,
            1_830_812,
            1_826_006,
            1_936_992,
            1_846_417,
            1_122_514,
        ]) {
            let (px, h, w) = decode_pgm(b);
            assert_eq!((h, w), (IMAGE_SIDE, IMAGE_SIDE));
            let s: f64 = px.iter().map(|&v| f64::from(v) * 255.0).sum();
            assert_eq!(s.round() as u64, sum);
        }
    }

    #[test]
    fn bicubic_keeps_constants_and_interpolates_between_samples() {
        let c = vec![0.25f32; 16];
        assert!(bicubic(&c, 4, 4, 8, 8)
            .iter()
            .all(|&v| (v - 0.25).abs() < 1e-6));
        assert!(bicubic(&c, 4, 4, 2, 2)
            .iter()
            .all(|&v| (v - 0.25).abs() < 1e-6));
        // A linear ramp stays linear inside (Keys' cubic reproduces it).
        let ramp: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let up = bicubic(&ramp, 1, 8, 1, 16);
        assert!((up[7] - 3.25).abs() < 1e-5, "{up:?}");
    }

    #[test]
    fn gaussian_blur_keeps_constants_and_the_mean() {
        let c = vec![0.25f32; 64];
        assert!(gaussian_blur(&c, 8, 8, SR2_BLUR_SIGMA)
            .iter()
            .all(|&v| (v - 0.25).abs() < 1e-6));
        // An impulse far from the edges keeps its sum and spreads
        // symmetrically.
        let mut x = vec![0.0f32; 15 * 15];
        x[7 * 15 + 7] = 1.0;
        let b = gaussian_blur(&x, 15, 15, SR2_BLUR_SIGMA);
        assert!((b.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(b[7 * 15 + 6], b[7 * 15 + 8]);
        assert_eq!(b[6 * 15 + 7], b[7 * 15 + 6]);
        assert!(b[7 * 15 + 7] > b[7 * 15 + 6]);
    }

    #[test]
    fn tiles_cover_the_test_image() {
        for kind in [
            Restoration::Denoise,
            Restoration::Sr2,
            Restoration::Sr2Upsampled,
        ] {
            let (train, test) = restoration_data(kind, 8, 8, 1);
            let s = if kind == Restoration::Sr2 { 2 } else { 1 };
            let per_image = (IMAGE_SIDE / (8 * s)).pow(2);
            assert_eq!(test.images.len(), TEST.len());
            for img in &test.images {
                assert_eq!(img.tiles.len(), per_image);
            }
            assert_eq!(test.len(), per_image * TEST.len());
            assert!(train.len() > 100);
            assert_eq!(train.targets.len(), train.len() * 64 * s * s);
        }
    }
}
