//! Endurance: log-normal maximum likelihood on `cycles_to_failure`, with
//! the Kolmogorov–Smirnov distance of the fit.

use super::report::FitGroup;
use super::stats::{mean, sorted, variance};
use crate::measured::Measured;

/// The endurance fitted (as written to the device file), and its group.
#[derive(Clone, Debug)]
pub(super) struct Endurance {
    /// Median pulses to failure, within 1 … 4·10⁹.
    pub(super) median_pulses: f64,
    /// σ of the log of the pulses to failure, at most 5.
    pub(super) sigma_log: f64,
    pub(super) group: FitGroup,
}

/// Fits the endurance to the devices' `cycles_to_failure`.
pub(super) fn fit(m: &Measured) -> Endurance {
    let mut en = FitGroup::new("endurance");
    let lives: Vec<f64> = m
        .devices
        .iter()
        .filter_map(|d| d.cycles_to_failure)
        .collect();
    en.points = lives.len();
    let (median, sigma_log) = match lives.len() {
        0 => {
            en.not_fitted(
                "no cycles_to_failure in the data: median 1e6, σ 0.5 assumed (typical HfOx order)",
            );
            (1e6, 0.5)
        }
        1 => {
            en.partial("one cycles_to_failure: the median is that value; no spread can be fitted, σ 0 written");
            (lives[0], 0.0)
        }
        _ => {
            let ln: Vec<f64> = lives.iter().map(|x| x.ln()).collect();
            let mu = mean(&ln);
            let sd = variance(&ln).sqrt();
            en.quality("ks_distance", ks_lognormal(&ln, mu, sd));
            en.note("log-normal, maximum likelihood on ln(cycles)");
            (mu.exp(), sd)
        }
    };
    let (median, sigma_log) = (median.clamp(1.0, 4e9), sigma_log.min(5.0));
    en.value("endurance_median_pulses", median);
    en.value("endurance_sigma_log", sigma_log);
    Endurance {
        median_pulses: median,
        sigma_log,
        group: en,
    }
}

/// Kolmogorov–Smirnov distance between the sample `ln` and `N(mu, sd²)`.
fn ks_lognormal(ln: &[f64], mu: f64, sd: f64) -> f64 {
    if sd <= 0.0 {
        return f64::NAN;
    }
    let v = sorted(ln.to_vec());
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, x)| {
            let f = 0.5 * (1.0 + erf((x - mu) / (sd * std::f64::consts::SQRT_2)));
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

/// Error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    y.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::drifting_population;
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // erf(0.5), erf(1), erf(2) to 10 digits; the approximation is 1.5e-7.
        for (x, e) in [
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265_0),
        ] {
            assert!((erf(x) - e).abs() < 1.5e-7, "erf({x})");
            assert!((erf(-x) + e).abs() < 1.5e-7, "erf(-{x})");
        }
        assert!(erf(0.0).abs() < 1.5e-7);
    }

    #[test]
    fn ks_distance_of_a_symmetric_sample_and_of_one_value() {
        // Two points at ±σ: F = 0.1587 and 0.8413; the largest gap is
        // 0.5 − 0.1587 = 0.3413 (between the steps at 0, ½ and 1).
        let d = ks_lognormal(&[-1.0, 1.0], 0.0, 1.0);
        assert!((d - 0.341_344_7).abs() < 1e-6, "{d}");
        assert!(ks_lognormal(&[3.0], 3.0, 0.0).is_nan());
    }

    /// 24 log-normal draws, σ 0.5: SE of ln median 0.1, 4 SE.
    #[test]
    fn log_normal_endurance_is_recovered() {
        let (c, f) = drifting_population();
        assert!((f.endurance_median_pulses.ln() - 1e6f64.ln()).abs() < 0.4);
        assert!((f.endurance_sigma_log - 0.5).abs() < 0.3);
        assert!(c.report.group("endurance").unwrap().quality["ks_distance"] < 0.3);
    }
}
