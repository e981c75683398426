//! The measured steps: `d_k = ±(y_{k+1} − y_k)` between two measured values
//! of a train, in the polarity's direction, with the state before the pulse
//! estimated from the value before it, and the margin from the bounds
//! within which clipping biases a step.

use super::stats::{mean, quantile, sorted};
use crate::measured::Train;
use crate::Polarity;

/// One measured step.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    pub(super) dev: usize,
    pub(super) train: usize,
    pub(super) k: usize,
    pub(super) pol: Polarity,
    /// State before the pulse, estimated from the value before it:
    /// `y_{k−1} ± mean step`, µS. Unlike `y_k` it shares no read noise with
    /// the step, so neither selecting nor regressing on it biases the step.
    pub(super) x: f64,
    /// The measured value before the pulse, `y_k`, µS.
    pub(super) y: f64,
    /// Step in the polarity's direction, µS.
    pub(super) d: f64,
}

/// Every step between two measured values of the trains of devices not
/// `stuck`, with `x` the value before the step's first value (NaN at a
/// train's start) until [`estimate_states`] shifts it.
pub(super) fn measured(trains: &[(usize, Train)], stuck: &[bool]) -> Vec<Step> {
    let mut all = Vec::new();
    for (ti, (dev, t)) in trains.iter().enumerate() {
        if stuck[*dev] {
            continue;
        }
        let sign = if t.polarity == Polarity::Set {
            1.0
        } else {
            -1.0
        };
        for k in 0..t.g_us.len().saturating_sub(1) {
            if let (Some(a), Some(b)) = (t.g_us[k], t.g_us[k + 1]) {
                let prev = if k > 0 { t.g_us[k - 1] } else { None };
                all.push(Step {
                    dev: *dev,
                    train: ti,
                    k,
                    pol: t.polarity,
                    x: prev.unwrap_or(f64::NAN),
                    y: a,
                    d: sign * (b - a),
                });
            }
        }
    }
    all
}

/// Whether `g` lies more than the fraction `f` of the window inside both
/// bounds.
fn inner(g: f64, f: f64, g_min: f64, g_max: f64) -> bool {
    let w = g_max - g_min;
    (g - g_min) > f * w && (g_max - g) > f * w
}

/// The state before each pulse from the value before it, shifted by the
/// polarity's mean step in the middle of the window.
pub(super) fn estimate_states(all: &mut [Step], g_min: f64, g_max: f64) {
    for pol in [Polarity::Set, Polarity::Reset] {
        let sign = if pol == Polarity::Set { 1.0 } else { -1.0 };
        let mid: Vec<f64> = all
            .iter()
            .filter(|s| s.pol == pol && inner(s.x, 0.3, g_min, g_max))
            .map(|s| s.d)
            .collect();
        let shift = if mid.is_empty() {
            0.0
        } else {
            sign * mean(&mid)
        };
        for s in all.iter_mut().filter(|s| s.pol == pol) {
            s.x += shift;
        }
    }
}

/// The margin from the bounds where clipping biases steps (median step +
/// 2.5 robust σ of the mid-window steps, at most a quarter of the window),
/// and the steps whose state lies further inside than that.
pub(super) fn away_from_bounds(all: &[Step], g_min: f64, g_max: f64) -> (Vec<Step>, f64) {
    let w = g_max - g_min;
    let mid: Vec<f64> = all
        .iter()
        .filter(|s| inner(s.x, 0.3, g_min, g_max))
        .map(|s| s.d)
        .collect();
    let margin = if mid.len() >= 5 {
        let v = sorted(mid.clone());
        let med = quantile(&v, 0.5);
        let mad = sorted(v.iter().map(|x| (x - med).abs()).collect());
        (med.max(0.0) + 2.5 * 1.4826 * quantile(&mad, 0.5)).min(0.25 * w)
    } else {
        0.1 * w
    };
    let steps: Vec<Step> = all
        .iter()
        .copied()
        .filter(|s| s.x > g_min + margin && s.x < g_max - margin)
        .collect();
    (steps, margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train(polarity: Polarity, g: &[Option<f64>]) -> Train {
        Train {
            polarity,
            conditions: Default::default(),
            g_us: g.to_vec(),
        }
    }

    #[test]
    fn steps_need_two_measured_values_and_point_the_polarity_way() {
        let trains = vec![
            (
                0,
                train(
                    Polarity::Set,
                    &[Some(10.0), Some(12.0), None, Some(15.0), Some(16.0)],
                ),
            ),
            (
                1,
                train(Polarity::Reset, &[Some(50.0), Some(47.0), Some(45.0)]),
            ),
            (2, train(Polarity::Set, &[Some(1.0), Some(9.0)])),
        ];
        let all = measured(&trains, &[false, false, true]);
        let got: Vec<(usize, usize, f64, f64)> =
            all.iter().map(|s| (s.train, s.k, s.y, s.d)).collect();
        assert_eq!(
            got,
            [
                (0, 0, 10.0, 2.0),
                (0, 3, 15.0, 1.0),
                (1, 0, 50.0, 3.0),
                (1, 1, 47.0, 2.0)
            ]
        );
        assert!(all[0].x.is_nan() && all[1].x.is_nan() && all[2].x.is_nan());
        assert_eq!(all[3].x, 50.0);
    }

    #[test]
    fn states_move_by_the_mid_window_step_and_the_margin_drops_the_edges() {
        let mut all: Vec<Step> = (0..20)
            .map(|k| Step {
                dev: 0,
                train: 0,
                k,
                pol: Polarity::Set,
                x: 5.0 * k as f64,
                y: 5.0 * k as f64 + 2.0,
                d: 2.0,
            })
            .collect();
        estimate_states(&mut all, 0.0, 100.0);
        assert_eq!(all[3].x, 17.0);
        // All mid-window steps equal: the margin is the step itself.
        let (kept, margin) = away_from_bounds(&all, 0.0, 100.0);
        assert_eq!(margin, 2.0);
        assert_eq!(kept.first().unwrap().k, 1);
        assert_eq!(kept.last().unwrap().k, 19);
        assert_eq!(kept.len(), 19);
    }
}
