//! Loss and metrics.

/// Softmax cross-entropy of `logits` against `label`. Writes the gradient of
/// the loss with respect to the logits (`p − onehot`) into `grad` and
/// returns the loss (nats).
pub fn softmax_cross_entropy(logits: &[f32], label: usize, grad: &mut [f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for (g, &z) in grad.iter_mut().zip(logits) {
        *g = (z - max).exp();
        sum += *g;
    }
    for g in grad.iter_mut() {
        *g /= sum;
    }
    let loss = -(grad[label].max(1e-30)).ln();
    grad[label] -= 1.0;
    loss
}

/// Index of the largest value (the first on ties).
pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xent_gradient_matches_finite_difference() {
        let z = [0.3f32, -1.2, 2.0];
        let mut g = [0.0; 3];
        let l = softmax_cross_entropy(&z, 1, &mut g);
        for i in 0..3 {
            let mut zp = z;
            zp[i] += 1e-3;
            let mut tmp = [0.0; 3];
            let lp = softmax_cross_entropy(&zp, 1, &mut tmp);
            assert!(((lp - l) / 1e-3 - g[i]).abs() < 1e-2, "{i}");
        }
        assert!((g.iter().sum::<f32>()).abs() < 1e-6);
        assert_eq!(argmax(&z), 2);
    }
}
