//! Small sample statistics shared by the fits: order statistics, moments
//! and ordinary least squares.

/// `v` sorted ascending (total order: NaN last).
pub(crate) fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Linear-interpolated quantile of sorted data (NaN if empty).
pub(crate) fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < v.len() {
        v[i] * (1.0 - f) + v[i + 1] * f
    } else {
        v[i]
    }
}

/// Arithmetic mean (NaN if empty).
pub(crate) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample variance (n − 1; 0 for fewer than 2 values).
pub(crate) fn variance(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// Ordinary least squares `y = a + b·x`: `(a, b, SE of b)`.
pub(crate) fn ols(x: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    let n = x.len();
    if n < 3 {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let rss: f64 = x.iter().zip(y).map(|(u, v)| (v - a - b * u).powi(2)).sum();
    let se = (rss / (n - 2) as f64 / sxx).sqrt();
    Some((a, b, se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_and_clamp() {
        let v = sorted(vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!(v, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 2.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn moments_of_small_samples() {
        assert!(mean(&[]).is_nan());
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
        assert_eq!(variance(&[5.0]), 0.0);
        assert_eq!(variance(&[1.0, 2.0, 6.0]), 7.0);
    }

    #[test]
    fn ols_recovers_a_line_and_refuses_degenerate_data() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y: Vec<f64> = x.iter().map(|x| 1.5 - 2.0 * x).collect();
        let (a, b, se) = ols(&x, &y).unwrap();
        assert!((a - 1.5).abs() < 1e-12 && (b + 2.0).abs() < 1e-12 && se < 1e-12);
        assert!(ols(&x[..2], &y[..2]).is_none());
        assert!(ols(&[1.0; 4], &y).is_none());
    }
}
