//! The tone plan of homodyne gradient extraction: one sinusoid per
//! perturbed parameter, `f_k = f_min + k·Δf`, sampled at `f_s` over a
//! window of `N` samples, and the collisions that would let one tone's
//! response leak into another's lock-in estimate.
//!
//! The lock-in resolves frequencies to `f_s / N` (its bin width): two
//! frequencies closer than that are not separated. With the loss expanded
//! about the unperturbed point, `L = L₀ + Σ g_k a_k s_k + ½ Σ H_kl a_k a_l
//! s_k s_l + O(a³)`, the second-order terms put power at `2f_k` and
//! `f_k ± f_l`, the third-order ones at `3f_k`, `2f_k ± f_l` and
//! `f_k ± f_l ± f_m`. A product that lands (after aliasing about `f_s/2`)
//! within one bin of a tone adds to that tone's gradient estimate. The
//! plan is checked for:
//!
//! * order 1: two tones within one bin of each other;
//! * harmonics `n·f_k` for `2 ≤ n ≤ harmonic_order`;
//! * second-order intermodulation `f_k + f_l`, `|f_k − f_l|`;
//!
//! each a [`Collision`]. Third-order two-tone products `2f_k ± f_l` land on
//! a tone for every evenly spaced plan (`2f_k − f_l = f_{2k−l}`); they are
//! counted, not rejected (their leakage scales as `a³`). The remaining
//! linear leakage of a finite window is the lock-in's cross-talk: the
//! in-phase response of tone `j`'s demodulator to a unit tone `i`,
//! `|D_N(ω_i − ω_j)| + |D_N(ω_i + ω_j)|` with the Dirichlet kernel
//! `D_N(ω) = sin(Nω/2) / (N sin(ω/2))` — zero when every tone completes a
//! whole number of periods in the window.

use std::f64::consts::PI;

/// A product of the tones that lands on a tone.
#[derive(Clone, Debug, PartialEq)]
pub struct Collision {
    /// The product, e.g. `3·f2`, `f1+f4`, `f3≈f4`.
    pub product: String,
    /// The product's frequency after aliasing, Hz.
    pub at_hz: f64,
    /// The tone it lands on.
    pub tone: usize,
}

/// A tone plan and its collision analysis.
#[derive(Clone, Debug)]
pub struct TonePlan {
    /// Tone frequencies, Hz.
    pub freqs_hz: Vec<f64>,
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Samples per window.
    pub window: u64,
    /// Products that land within one bin of a tone (see the module doc).
    pub collisions: Vec<Collision>,
    /// Third-order two-tone products `2f_k ± f_l` on a tone (not rejected).
    pub third_order_on_tones: u64,
    /// Largest lock-in cross-talk between two tones (0 for whole periods).
    pub leakage_max: f64,
    /// Root-mean-square cross-talk over all ordered pairs of tones.
    pub leakage_rms: f64,
    /// Whether every tone completes a whole number of periods in the window.
    pub whole_periods: bool,
}

impl TonePlan {
    /// `n` tones `f_min + k·spacing` at `sample_rate_hz` over `window`
    /// samples, with harmonics checked up to `harmonic_order`.
    pub fn evenly_spaced(
        n: usize,
        f_min_hz: f64,
        spacing_hz: f64,
        sample_rate_hz: f64,
        window: u64,
        harmonic_order: u32,
    ) -> TonePlan {
        let freqs: Vec<f64> = (0..n).map(|k| f_min_hz + k as f64 * spacing_hz).collect();
        TonePlan::new(freqs, sample_rate_hz, window, harmonic_order)
    }

    /// A plan of the given tones.
    pub fn new(
        freqs_hz: Vec<f64>,
        sample_rate_hz: f64,
        window: u64,
        harmonic_order: u32,
    ) -> TonePlan {
        let fs = sample_rate_hz;
        let bin = fs / window as f64;
        let mut sorted: Vec<(f64, usize)> = freqs_hz.iter().copied().zip(0..).collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Tones within half a bin of a product frequency (after aliasing).
        let near = |f: f64, skip: &[usize]| -> Vec<usize> {
            let f = fold(f, fs);
            let lo = sorted.partition_point(|t| t.0 <= f - bin * 0.5);
            sorted[lo..]
                .iter()
                .take_while(|t| t.0 < f + bin * 0.5)
                .map(|t| t.1)
                .filter(|k| !skip.contains(k))
                .collect()
        };
        let mut collisions = Vec::new();
        let n = freqs_hz.len();
        for i in 0..n {
            for j in i + 1..n {
                if (freqs_hz[i] - freqs_hz[j]).abs() < bin {
                    collisions.push(Collision {
                        product: format!("f{i}≈f{j}"),
                        at_hz: freqs_hz[j],
                        tone: j,
                    });
                }
            }
        }
        for (i, &fi) in freqs_hz.iter().enumerate() {
            for h in 2..=harmonic_order {
                let p = f64::from(h) * fi;
                for tone in near(p, &[]) {
                    collisions.push(Collision {
                        product: format!("{h}·f{i}"),
                        at_hz: fold(p, fs),
                        tone,
                    });
                }
            }
        }
        let mut third = 0u64;
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let (fi, fj) = (freqs_hz[i], freqs_hz[j]);
                if i < j {
                    for (p, name) in [(fi + fj, "+"), ((fi - fj).abs(), "−")] {
                        for tone in near(p, &[i, j]) {
                            collisions.push(Collision {
                                product: format!("f{i}{name}f{j}"),
                                at_hz: fold(p, fs),
                                tone,
                            });
                        }
                    }
                }
                for p in [2.0 * fi + fj, (2.0 * fi - fj).abs()] {
                    third += near(p, &[j]).len() as u64;
                }
            }
        }
        let omega = |f: f64| 2.0 * PI * f / fs;
        let (mut max, mut sq, mut pairs) = (0.0f64, 0.0f64, 0u64);
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let (wi, wj) = (omega(freqs_hz[i]), omega(freqs_hz[j]));
                let x = dirichlet(wi - wj, window).abs() + dirichlet(wi + wj, window).abs();
                max = max.max(x);
                sq += x * x;
                pairs += 1;
            }
        }
        let whole_periods = freqs_hz.iter().all(|&f| {
            let periods = f * window as f64 / fs;
            (periods - periods.round()).abs() < 1e-9 * periods.max(1.0)
        });
        TonePlan {
            freqs_hz,
            sample_rate_hz,
            window,
            collisions,
            third_order_on_tones: third,
            leakage_max: max,
            leakage_rms: if pairs > 0 {
                (sq / pairs as f64).sqrt()
            } else {
                0.0
            },
            whole_periods,
        }
    }

    /// The highest tone, Hz.
    pub fn highest_hz(&self) -> f64 {
        self.freqs_hz.iter().copied().fold(0.0, f64::max)
    }

    /// A one-line description of the first few collisions.
    pub fn describe_collisions(&self) -> String {
        let mut s: Vec<String> = self
            .collisions
            .iter()
            .take(5)
            .map(|c| format!("{} at {:.1} Hz lands on f{}", c.product, c.at_hz, c.tone))
            .collect();
        if self.collisions.len() > 5 {
            s.push(format!("and {} more", self.collisions.len() - 5));
        }
        s.join("; ")
    }
}

/// `f` aliased into `[0, f_s/2]`.
fn fold(f: f64, fs: f64) -> f64 {
    let r = f.rem_euclid(fs);
    if r > fs / 2.0 {
        fs - r
    } else {
        r
    }
}

/// `|Σ_{n<N} e^{iωn}| / N` with its sign: `sin(Nω/2) / (N sin(ω/2))`.
fn dirichlet(w: f64, n: u64) -> f64 {
    let half = w / 2.0;
    let s = half.sin();
    if s.abs() < 1e-12 {
        1.0
    } else {
        (n as f64 * half).sin() / (n as f64 * s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default plan of digits-mlp (138 tones on bins 1 + 3k of a
    /// 2500-sample window at 500 kHz) is free of checked collisions, has
    /// whole periods and no linear cross-talk.
    #[test]
    fn default_plan_is_clean() {
        let p = TonePlan::evenly_spaced(138, 200.0, 600.0, 500e3, 2500, 3);
        assert!(p.collisions.is_empty(), "{}", p.describe_collisions());
        assert!(p.whole_periods);
        assert!(p.leakage_max < 1e-9, "{}", p.leakage_max);
        assert!(p.third_order_on_tones > 0, "2f_k − f_l lands on f_(2k−l)");
        assert!(3.0 * p.highest_hz() < 250e3);
    }

    /// A tone that is the third harmonic of another, and one that is the
    /// sum of two others, are detected and named.
    #[test]
    fn colliding_plans_are_detected() {
        let p = TonePlan::new(vec![1000.0, 3000.0, 7000.0], 100e3, 1000, 3);
        assert!(
            p.collisions
                .iter()
                .any(|c| c.product == "3·f0" && c.tone == 1),
            "{:?}",
            p.collisions
        );
        let p = TonePlan::new(vec![2000.0, 3000.0, 5000.0], 100e3, 1000, 3);
        assert!(
            p.collisions
                .iter()
                .any(|c| c.product == "f0+f1" && c.tone == 2),
            "{:?}",
            p.collisions
        );
        // Aliasing: 3 · 30 kHz = 90 kHz folds to 10 kHz at 100 kHz.
        let p = TonePlan::new(vec![10e3, 30e3], 100e3, 1000, 3);
        assert!(p
            .collisions
            .iter()
            .any(|c| c.product == "3·f1" && c.tone == 0));
        // Tones closer than the lock-in's bin (100 Hz) collide.
        let p = TonePlan::new(vec![1000.0, 1050.0], 100e3, 1000, 1);
        assert_eq!(p.collisions.len(), 1);
        // Off-bin tones leak linearly; whole-period tones do not.
        let p = TonePlan::new(vec![1000.0, 1300.0], 100e3, 1000, 1);
        assert!(p.whole_periods && p.leakage_max < 1e-9);
        let p = TonePlan::new(vec![1030.0, 1270.0], 100e3, 1000, 1);
        assert!(
            !p.whole_periods && p.leakage_max > 0.01,
            "{}",
            p.leakage_max
        );
    }
}
