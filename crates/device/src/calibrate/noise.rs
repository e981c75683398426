//! Write and read noise, separated by the correlation read noise puts
//! between successive steps.
//!
//! With residuals `r_k = d_k − f(y_k)` and `y = G + e` (read noise `e`,
//! σ_r), `f(y_k) = f(G_k) + f'·e_k`, so `r_k = w_k + e_{k+1} − (1 − κ)e_k`
//! with `κ = |f'|` (the relative change of the step per step). Hence
//! `γ₀ = E[r_k²] = σ_w² + 2σ_r²` and, within a train, the lag-1
//! autocovariance `γ₁ = E[r_k r_{k+1}] = −(1 − κ)σ_r²`: read noise makes
//! successive steps negatively correlated. `σ_r² = −γ₁/(1 − κ)`,
//! `σ_w² = γ₀ − 2σ_r²`. Repeated reads, where given, measure `σ_r`
//! directly and take precedence. A step-proportional part is fitted as
//! `E[r²] = σ_add² + 2σ_r² + σ_rel²·f²` where the mean step varies.

use super::models::{parameters, MeanStep};
use super::pulses::PulseFit;
use super::report::{num, FitGroup, FitStatus};
use super::stats::{mean, ols, variance};
use super::steps::Step;
use crate::measured::Measured;
use crate::{Polarity, PulseModel};

/// `σ_r` measured by repeated reads: the pooled within-series σ.
#[derive(Clone, Copy, Debug)]
pub(super) struct RepeatedReads {
    pub(super) sigma_us: f64,
    /// Degrees of freedom pooled.
    dof: usize,
}

impl RepeatedReads {
    /// The repeated reads of `m`, if any series has two values.
    pub(super) fn of(m: &Measured) -> Option<RepeatedReads> {
        let (mut ss, mut dof) = (0.0, 0usize);
        for dev in &m.devices {
            for r in &dev.reads {
                let v: Vec<f64> = r.iter().flatten().copied().collect();
                if v.len() >= 2 {
                    let mu = mean(&v);
                    ss += v.iter().map(|x| (x - mu).powi(2)).sum::<f64>();
                    dof += v.len() - 1;
                }
            }
        }
        (dof > 0).then(|| RepeatedReads {
            sigma_us: (ss / dof as f64).sqrt(),
            dof,
        })
    }
}

/// Moments of the step residuals about the mean-step curve.
#[derive(Clone, Debug)]
pub(super) struct Residuals {
    /// `γ₀ = E[r²]`, µS² (with `n − p` degrees of freedom).
    pub(super) gamma0: f64,
    pub(super) gamma0_se: f64,
    /// `γ₁ = E[r_k r_{k+1}]/(1 − κ)`, µS².
    pub(super) gamma1: f64,
    pub(super) gamma1_se: f64,
    /// Pairs of successive steps of one train.
    pub(super) n_pairs: usize,
    /// `(A, B, SE_B)` of `E[r²] = A + B·f²`, where the mean step varies.
    pub(super) rel_fit: Option<(f64, f64, f64)>,
}

impl Residuals {
    /// The residuals of `steps` against the measured state `y_k` and the
    /// curves of `mean_step` in the window `g_min..g_max`.
    pub(super) fn of(steps: &[Step], mean_step: &MeanStep, g_min: f64, g_max: f64) -> Residuals {
        let w = g_max - g_min;
        let (model, set, reset) = (mean_step.model, mean_step.set, mean_step.reset);
        let resid: Vec<f64> = steps
            .iter()
            .map(|s| {
                let c = if s.pol == Polarity::Set { set } else { reset };
                s.d - c.eval(s.pol, s.y, g_min, g_max)
            })
            .collect();
        let kappa = mean(
            &steps
                .iter()
                .map(|s| {
                    let c = if s.pol == Polarity::Set { set } else { reset };
                    let h = 1e-3 * w;
                    ((c.eval(s.pol, s.y + h, g_min, g_max) - c.eval(s.pol, s.y - h, g_min, g_max))
                        / (2.0 * h))
                        .abs()
                })
                .collect::<Vec<_>>(),
        )
        .clamp(0.0, 0.5);
        let p = parameters(model);
        let n0 = resid.len();
        let sq: Vec<f64> = resid.iter().map(|r| r * r).collect();
        let gamma0 = if n0 > p {
            sq.iter().sum::<f64>() / (n0 - p) as f64
        } else {
            0.0
        };
        let gamma0_se = if n0 > 1 {
            (variance(&sq) / n0 as f64).sqrt()
        } else {
            f64::NAN
        };
        let mut prods = Vec::new();
        for i in 0..steps.len().saturating_sub(1) {
            let (a, b) = (&steps[i], &steps[i + 1]);
            if a.train == b.train && b.k == a.k + 1 {
                prods.push(resid[i] * resid[i + 1]);
            }
        }
        let n_pairs = prods.len();
        let gamma1 = if n_pairs > 0 {
            mean(&prods) / (1.0 - kappa)
        } else {
            0.0
        };
        let gamma1_se = if n_pairs > 1 {
            (variance(&prods) / n_pairs as f64).sqrt() / (1.0 - kappa)
        } else {
            f64::NAN
        };
        // Step-proportional noise: regress r² on f² where f varies enough.
        let f2: Vec<f64> = steps
            .iter()
            .map(|s| {
                let c = if s.pol == Polarity::Set { set } else { reset };
                c.eval(s.pol, s.y, g_min, g_max).powi(2)
            })
            .collect();
        let rel_fit =
            if model != PulseModel::Linear && n0 > 50 && variance(&f2).sqrt() > 0.2 * mean(&f2) {
                ols(&f2, &sq)
            } else {
                None
            };
        Residuals {
            gamma0,
            gamma0_se,
            gamma1,
            gamma1_se,
            n_pairs,
            rel_fit,
        }
    }

    /// `σ_r²` from the successive steps: `−γ₁`, or 0 with fewer than 10
    /// pairs.
    pub(super) fn sigma_r2(&self) -> f64 {
        if self.n_pairs >= 10 {
            -self.gamma1
        } else {
            0.0
        }
    }
}

/// The write noise fitted, and its group.
#[derive(Clone, Debug)]
pub(super) struct WriteNoise {
    /// Additive cycle-to-cycle σ, µS.
    pub(super) c2c_add_us: f64,
    /// Step-proportional cycle-to-cycle σ, relative to the step.
    pub(super) c2c_rel: f64,
    /// Total σ of one mid-window pulse, µS.
    pub(super) total_us: f64,
    pub(super) group: FitGroup,
}

/// The `write_noise` group from the pulse fit `p` with read noise `sigma_r`.
pub(super) fn write_noise(p: &PulseFit, sigma_r: f64) -> WriteNoise {
    let r = &p.residuals;
    let n_steps = p.steps.len();
    let w = p.bounds.g_max - p.bounds.g_min;
    let mut write_group = FitGroup::new("write_noise");
    write_group.points = n_steps;
    write_group.quality("gamma0_us2", r.gamma0);
    write_group.quality("gamma1_us2", r.gamma1);
    write_group.quality("gamma1_se_us2", r.gamma1_se);
    write_group.quality("lag1_pairs", r.n_pairs as f64);
    let sr2 = sigma_r * sigma_r;
    let mut c2c_rel = 0.0f64;
    let c2c_add;
    if n_steps < 10 {
        write_group.not_fitted(format!(
            "only {n_steps} usable steps: write noise set to 10 % of the window (assumed)"
        ));
        c2c_add = 0.1 * w;
    } else {
        let sw2 = r.gamma0 - 2.0 * sr2;
        if let Some((a, b, b_se)) = r.rel_fit.filter(|(_, b, se)| *b > 3.0 * se && *b > 0.0) {
            c2c_rel = b.sqrt();
            c2c_add = (a - 2.0 * sr2).max(0.0).sqrt();
            write_group.quality("c2c_rel_var_se", b_se);
            write_group.note("step-proportional noise resolved: E[r²] grows with the mean step²");
        } else {
            c2c_add = sw2.max(0.0).sqrt();
            if sw2 <= 0.0 {
                write_group
                    .partial("γ₀ − 2σ_r² ≤ 0: no write noise beyond read noise resolved; set to 0");
            }
        }
        let se = ((r.gamma0_se).powi(2) + (2.0 * r.gamma1_se).powi(2)).sqrt();
        write_group.quality("sigma_w2_se_us2", se);
    }
    let s_mid_avg = 0.5 * (p.mean_step.set.s_mid + p.mean_step.reset.s_mid);
    let write_noise = (c2c_add * c2c_add + (c2c_rel * s_mid_avg).powi(2)).sqrt();
    write_group.value("c2c_noise_us", c2c_add);
    write_group.value("c2c_noise_rel", c2c_rel);
    write_group.value("write_noise_us", write_noise);
    if write_group.status != FitStatus::NotFitted
        && write_noise > 10.0 * s_mid_avg.abs().max(f64::MIN_POSITIVE)
    {
        write_group.note(format!(
            "write noise is {:.0}× the mean step: single pulses are noise-dominated",
            write_noise / s_mid_avg.abs().max(f64::MIN_POSITIVE)
        ));
    }
    WriteNoise {
        c2c_add_us: c2c_add,
        c2c_rel,
        total_us: write_noise,
        group: write_group,
    }
}

/// The `read_noise` group: `sigma_r` as used, from `reads` where given,
/// else from the successive steps of the pulse fit `p`.
pub(super) fn read_noise(p: &PulseFit, sigma_r: f64, reads: Option<RepeatedReads>) -> FitGroup {
    let r = &p.residuals;
    let mut read_group = FitGroup::new("read_noise");
    read_group.points = match reads {
        Some(reads) => reads.dof,
        None => r.n_pairs,
    };
    read_group.value("read_noise_us", sigma_r);
    let cov_sr = (-r.gamma1).max(0.0).sqrt();
    read_group.quality("from_successive_steps_us", cov_sr);
    read_group.quality("gamma1_se_us2", r.gamma1_se);
    if let Some(reads) = reads {
        read_group.quality("from_repeated_reads_us", reads.sigma_us);
        read_group.note("from repeated reads (pooled within-series σ); the successive-step estimate is shown as a cross-check");
    } else if r.n_pairs < 10 {
        read_group.not_fitted(
            "fewer than 10 pairs of successive steps and no repeated reads: read noise set to 0",
        );
    } else if r.gamma1 >= 0.0 {
        read_group.partial(format!(
            "successive steps are not negatively correlated (γ₁ = {}): no read noise resolved, set to 0; a mean-step model that misses structure also correlates steps positively",
            num(r.gamma1)
        ));
    } else {
        read_group.note("from the negative lag-1 autocovariance of successive steps, σ_r² = −γ₁");
        if -r.gamma1 < 2.0 * r.gamma1_se {
            read_group.partial("γ₁ is within 2 SE of 0: read noise poorly resolved");
        }
    }
    read_group
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fit, model_of};
    use crate::{builtin_device, synthesize, SynthOptions};

    #[test]
    fn reads_measure_read_noise_directly_and_agree() {
        let d = builtin_device("alox-hfo2", &[]).unwrap();
        let c = fit(synthesize(
            &d,
            &SynthOptions {
                reads: 200,
                cycles: 40,
                ..Default::default()
            },
        ));
        let g = c.report.group("read_noise").unwrap();
        // 8 × 199 degrees of freedom: SE of σ̂_r is σ_r/√(2·1592) = 1.8 %; 4 SE.
        let r = g.quality["from_repeated_reads_us"];
        assert!((r - 0.5917).abs() < 0.07 * 0.5917, "{r}");
        assert_eq!(c.device.read_noise_us, r);
        assert_eq!(g.points, 8 * 199);
        let cov = g.quality["from_successive_steps_us"].powi(2);
        assert!(
            (cov - r * r).abs() < 4.0 * g.quality["gamma1_se_us2"],
            "{cov} vs {}",
            r * r
        );
    }

    #[test]
    fn write_noise_fifty_times_the_step_gives_an_honest_model() {
        let o = aimsim_core::config::overrides(&[
            ("step_set_us", "0.05"),
            ("step_reset_us", "0.05"),
            ("write_noise_us", "2.5"),
        ]);
        let d = builtin_device("eapu-180nm", &o).unwrap();
        for seed in 1..=3 {
            let c = fit(synthesize(
                &d,
                &SynthOptions {
                    seed,
                    cycles: 2,
                    ..Default::default()
                },
            ));
            let f = model_of(&c);
            // The noise is what the data resolve best: within 10 %.
            assert!((f.c2c_noise_us - 2.5).abs() < 0.25, "{}", f.c2c_noise_us);
            let w = c.report.group("write_noise").unwrap();
            assert!(
                w.notes.iter().any(|n| n.contains("× the mean step")),
                "{:?}",
                w.notes
            );
            let s = c.report.group("mean_step").unwrap();
            // Either the step is resolved (then within 3 SE) or the report says it is not.
            let se = s.quality["set_step_se_us"];
            let resolved = !s
                .notes
                .iter()
                .any(|n| n.contains("SET mean step") && n.contains("not resolved"));
            if resolved {
                assert!(
                    (f64::from(f.step_set_us) - 0.05).abs() < 4.0 * se + 0.01,
                    "{} ± {se}",
                    f.step_set_us
                );
            }
        }
    }
}
