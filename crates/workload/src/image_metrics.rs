//! Image quality metrics on grayscale images with values in `[0, 1]`
//! (data range 1):
//!
//! * PSNR `= 10·log10(1 / MSE)` dB (scikit-image's
//!   `peak_signal_noise_ratio(…, data_range=1)`).
//! * SSIM (Wang, Bovik, Sheikh, Simoncelli 2004): local means, variances
//!   and covariance under an 11×11 Gaussian window (σ = 1.5, truncated at
//!   3.5σ, normalised), population covariances,
//!   `S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))`,
//!   `C1 = (0.01)²`, `C2 = (0.03)²`, averaged over the positions whose
//!   whole window lies inside the image — scikit-image's
//!   `structural_similarity(…, gaussian_weights=True, sigma=1.5,
//!   use_sample_covariance=False, data_range=1.0)`, whose filtered border of
//!   5 pixels is cropped before the mean, so its border mode never enters.

/// Gaussian σ of the SSIM window.
const SIGMA: f64 = 1.5;
/// Window radius: `⌊3.5·σ + 0.5⌋` (scipy's `truncate = 3.5`).
const RADIUS: usize = 5;

/// PSNR of `x` against the reference `y`, dB; infinite when equal.
pub fn psnr(x: &[f32], y: &[f32]) -> f64 {
    assert_eq!(x.len(), y.len(), "psnr: image sizes");
    let mse = x
        .iter()
        .zip(y)
        .map(|(&a, &b)| {
            let d = f64::from(a) - f64::from(b);
            d * d
        })
        .sum::<f64>()
        / x.len().max(1) as f64;
    10.0 * (1.0 / mse).log10()
}

/// Whether an `h × w` image is large enough for SSIM's 11×11 window.
pub fn ssim_fits(h: usize, w: usize) -> bool {
    h > 2 * RADIUS && w > 2 * RADIUS
}

/// Mean SSIM of the `h × w` images `x` and `y` (row-major).
///
/// # Panics
/// If the sizes disagree or the image is smaller than the window
/// (check [`ssim_fits`] first).
pub fn ssim(x: &[f32], y: &[f32], h: usize, w: usize) -> f64 {
    assert!(x.len() == h * w && y.len() == h * w, "ssim: image sizes");
    assert!(ssim_fits(h, w), "ssim: image smaller than the 11×11 window");
    let g: Vec<f64> = {
        let raw: Vec<f64> = (0..=2 * RADIUS)
            .map(|i| {
                let d = i as f64 - RADIUS as f64;
                (-0.5 * d * d / (SIGMA * SIGMA)).exp()
            })
            .collect();
        let s: f64 = raw.iter().sum();
        raw.into_iter().map(|v| v / s).collect()
    };
    let (c1, c2) = (0.01f64 * 0.01, 0.03f64 * 0.03);
    let px = |i: usize| f64::from(x[i]);
    let py = |i: usize| f64::from(y[i]);
    // Separable filtering: rows first (valid columns only), then columns.
    let wo = w - 2 * RADIUS;
    let mut rows = vec![[0.0f64; 5]; h * wo];
    for r in 0..h {
        for c in 0..wo {
            let mut acc = [0.0f64; 5];
            for (k, &gk) in g.iter().enumerate() {
                let i = r * w + c + k;
                let (a, b) = (px(i), py(i));
                acc[0] += gk * a;
                acc[1] += gk * b;
                acc[2] += gk * a * a;
                acc[3] += gk * b * b;
                acc[4] += gk * a * b;
            }
            rows[r * wo + c] = acc;
        }
    }
    let ho = h - 2 * RADIUS;
    let mut total = 0.0f64;
    for r in 0..ho {
        for c in 0..wo {
            let mut m = [0.0f64; 5];
            for (k, &gk) in g.iter().enumerate() {
                let v = rows[(r + k) * wo + c];
                for (mj, vj) in m.iter_mut().zip(v) {
                    *mj += gk * vj;
                }
            }
            let (ux, uy) = (m[0], m[1]);
            let (vx, vy, vxy) = (m[2] - ux * ux, m[3] - uy * uy, m[4] - ux * uy);
            total += ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        }
    }
    total / (ho * wo) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values from scikit-image 0.26.0 (numpy 2.4.6), made by
    /// `python3 scripts/ssim-fixtures.py`: for each size, the image
    /// `a[i, j] = ((7i + 13j)·31 mod 256)/255` against
    /// `clip(a + n)` and `clip(⌊a/2⌋ + 64 + 3n)` (in 0..255, then /255)
    /// with `n = (17ij mod 41) − 20`; each row is `(h, w, psnr, ssim)`.
    #[rustfmt::skip]
    const GOLDEN: [(usize, usize, f64, f64); 6] = [
        (16, 16, 26.074785043036908, 0.9886065479750936),
        (16, 16, 13.549555891258876, 0.7068249503041164),
        (23, 19, 26.26451110372321, 0.9884258184193404),
        (23, 19, 13.528284581932141, 0.7046901790479456),
        (32, 40, 26.606271802570745, 0.9885835468670914),
        (32, 40, 13.798753819661705, 0.6803577074904044),
    ];

    fn fixture(h: usize, w: usize, strong: bool) -> (Vec<f32>, Vec<f32>) {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in 0..h as i64 {
            for j in 0..w as i64 {
                let av = (i * 7 + j * 13) * 31 % 256;
                let n = i * j * 17 % 41 - 20;
                let bv = if strong { av / 2 + 64 + 3 * n } else { av + n }.clamp(0, 255);
                a.push(av as f32 / 255.0);
                b.push(bv as f32 / 255.0);
            }
        }
        (a, b)
    }

    #[test]
    fn psnr_and_ssim_match_scikit_image() {
        for (k, &(h, w, p, s)) in GOLDEN.iter().enumerate() {
            let (a, b) = fixture(h, w, k % 2 == 1);
            let (gp, gs) = (psnr(&b, &a), ssim(&a, &b, h, w));
            assert!((gp - p).abs() < 1e-4, "{h}×{w} #{k}: psnr {gp} vs {p}");
            assert!((gs - s).abs() < 1e-4, "{h}×{w} #{k}: ssim {gs} vs {s}");
        }
    }

    #[test]
    fn identical_images_are_perfect() {
        let (a, _) = fixture(12, 12, false);
        assert_eq!(ssim(&a, &a, 12, 12), 1.0);
        assert!(psnr(&a, &a).is_infinite());
        assert!(!ssim_fits(10, 30));
    }
}
