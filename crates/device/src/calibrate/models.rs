//! The mean step per polarity against the state before the pulse. Three
//! models, all lines in `G`: constant (linear), `k·(G_max − G)` (soft bounds,
//! mirrored for RESET) and a free line (NeuroSim's exponential model, whose
//! asymptote gives ν). The model with the lowest AIC over both polarities
//! is chosen; a missing polarity mirrors the other, and a step not resolved
//! from zero is written as max(step, 2 SE).

use super::report::{num, FitGroup};
use super::stats::{mean, ols, variance};
use super::steps::Step;
use crate::params::asymptote;
use crate::{nonlinearity_from_asymptote, Polarity, PulseModel};

/// Largest nonlinearity written (ν = 20 is soft bounds to 2·10⁻⁹).
const NU_MAX: f64 = 20.0;

/// The mean-step line of one polarity, `s(G) = s_mid·shape(x)` with the
/// window's normalised asymptote `a` (∞: constant).
#[derive(Clone, Copy, Debug)]
pub(super) struct Curve {
    pub(super) s_mid: f64,
    pub(super) a: f64,
}

impl Curve {
    /// The mean step at `g` in the window `lo..hi`.
    pub(super) fn eval(&self, pol: Polarity, g: f64, lo: f64, hi: f64) -> f64 {
        let x = (g - lo) / (hi - lo);
        if self.a.is_infinite() {
            return self.s_mid;
        }
        let num = match pol {
            Polarity::Set => self.a - x,
            Polarity::Reset => x - 1.0 + self.a,
        };
        self.s_mid * num / (self.a - 0.5)
    }
}

/// The model chosen, its two curves and the `mean_step` group.
#[derive(Clone, Debug)]
pub(super) struct MeanStep {
    pub(super) model: PulseModel,
    pub(super) set: Curve,
    pub(super) reset: Curve,
    pub(super) group: FitGroup,
}

impl MeanStep {
    /// The curve of `pol`.
    pub(super) fn curve(&self, pol: Polarity) -> Curve {
        match pol {
            Polarity::Set => self.set,
            Polarity::Reset => self.reset,
        }
    }

    /// The nonlinearity ν written for `pol` (0 unless exponential).
    pub(super) fn nonlinearity(&self, pol: Polarity) -> f64 {
        if self.model == PulseModel::Exponential {
            nonlinearity_from_asymptote(self.curve(pol).a).min(NU_MAX)
        } else {
            0.0
        }
    }
}

/// Fits the three models to `steps` (away from the bounds by `margin`) in
/// the window `g_min..g_max` and chooses one; `n_set` and `n_reset` count
/// the trains of each polarity in the data, to say why one has no steps.
pub(super) fn fit(
    steps: &[Step],
    margin: f64,
    n_set: usize,
    n_reset: usize,
    g_min: f64,
    g_max: f64,
) -> MeanStep {
    let w = g_max - g_min;
    let mut sg = FitGroup::new("mean_step");
    sg.points = steps.len();
    sg.quality("clip_margin_us", margin);
    let by_pol = |pol: Polarity| -> (Vec<f64>, Vec<f64>) {
        steps
            .iter()
            .filter(|s| s.pol == pol)
            .map(|s| (s.x, s.d))
            .unzip()
    };
    let (xs, ds) = by_pol(Polarity::Set);
    let (xr, dr) = by_pol(Polarity::Reset);
    let mut fits: Vec<(PulseModel, Curve, Curve, f64, usize)> = Vec::new();
    for model in [
        PulseModel::Linear,
        PulseModel::SoftBounds,
        PulseModel::Exponential,
    ] {
        let cs = fit_curve(model, Polarity::Set, &xs, &ds, g_min, g_max);
        let cr = fit_curve(model, Polarity::Reset, &xr, &dr, g_min, g_max);
        let rss = rss(&cs, Polarity::Set, &xs, &ds, g_min, g_max)
            + rss(&cr, Polarity::Reset, &xr, &dr, g_min, g_max);
        fits.push((model, cs, cr, rss, parameters(model)));
    }
    let n = steps.len().max(1) as f64;
    let mut best = 0;
    let mut best_aic = f64::INFINITY;
    for (i, (model, _, _, rss, k)) in fits.iter().enumerate() {
        let aic = n * (rss / n).max(1e-300).ln() + 2.0 * *k as f64;
        sg.quality(&format!("aic_{}", model.name()), aic);
        sg.quality(&format!("rmse_{}_us", model.name()), (rss / n).sqrt());
        if aic < best_aic - 1e-9 {
            best_aic = aic;
            best = i;
        }
    }
    let (mut model, mut set, mut reset, best_rss, _) = fits[best];
    let tss: f64 = [(&ds, mean(&ds)), (&dr, mean(&dr))]
        .iter()
        .map(|(v, m)| v.iter().map(|x| (x - m).powi(2)).sum::<f64>())
        .sum();
    sg.quality("r2", if tss > 0.0 { 1.0 - best_rss / tss } else { 0.0 });
    sg.note(format!(
        "model chosen by AIC over both polarities: {} (linear and soft-bounds have 1 parameter per polarity, exponential 2; AIC because the aim is the most accurate step curve, and the exponential model nests the other two)",
        model.name()
    ));
    for (pol, name, v, c) in [
        (Polarity::Set, "SET", &ds, &mut set),
        (Polarity::Reset, "RESET", &dr, &mut reset),
    ] {
        let present = if pol == Polarity::Set { n_set } else { n_reset };
        if v.len() < 3 {
            if present == 0 {
                sg.partial(format!("no {name} trains in the data"));
            } else {
                sg.partial(format!("fewer than 3 usable {name} steps"));
            }
            c.s_mid = f64::NAN;
            continue;
        }
        let se = (variance(v) / v.len() as f64).sqrt();
        sg.quality(&format!("{}_step_se_us", name.to_lowercase()), se);
        if c.s_mid.is_nan() || c.s_mid <= 2.0 * se {
            sg.partial(format!(
                "{name} mean step {} µS is not resolved from zero (SE {} µS, {} steps): written as max(step, 2 SE)",
                num(c.s_mid),
                num(se),
                v.len()
            ));
            c.s_mid = c.s_mid.max(2.0 * se);
            c.a = f64::INFINITY;
        }
    }
    // A missing polarity mirrors the other one.
    match (set.s_mid.is_nan(), reset.s_mid.is_nan()) {
        (true, false) => {
            set = reset;
            sg.note("SET step taken equal to the RESET step (symmetric assumption)");
        }
        (false, true) => {
            reset = set;
            sg.note("RESET step taken equal to the SET step (symmetric assumption)");
        }
        (true, true) => {
            let s = 0.01 * w;
            set = Curve {
                s_mid: s,
                a: f64::INFINITY,
            };
            reset = set;
            model = PulseModel::Linear;
            sg.not_fitted("no usable steps: linear model, step set to 1 % of the window (assumed)");
        }
        _ => {}
    }
    sg.value("step_set_us", set.s_mid);
    sg.value("step_reset_us", reset.s_mid);
    let mut fitted = MeanStep {
        model,
        set,
        reset,
        group: sg,
    };
    if model == PulseModel::Exponential {
        let (nu_set, nu_reset) = (
            fitted.nonlinearity(Polarity::Set),
            fitted.nonlinearity(Polarity::Reset),
        );
        fitted.group.value("nonlinearity_set", nu_set);
        fitted.group.value("nonlinearity_reset", nu_reset);
    }
    fitted
}

/// Free parameters of `model` over both polarities, for the AIC.
pub(super) fn parameters(model: PulseModel) -> usize {
    match model {
        PulseModel::Exponential => 4,
        _ => 2,
    }
}

/// Least-squares fit of one polarity's mean-step line for `model`.
fn fit_curve(model: PulseModel, pol: Polarity, x: &[f64], d: &[f64], lo: f64, hi: f64) -> Curve {
    let w = hi - lo;
    if x.is_empty() {
        return Curve {
            s_mid: f64::NAN,
            a: asymptote(model, 0.0) as f64,
        };
    }
    match model {
        PulseModel::Linear => Curve {
            s_mid: mean(d),
            a: f64::INFINITY,
        },
        PulseModel::SoftBounds | PulseModel::FefetNls => {
            let u: Vec<f64> = x
                .iter()
                .map(|&g| if pol == Polarity::Set { hi - g } else { g - lo })
                .collect();
            let suu: f64 = u.iter().map(|u| u * u).sum();
            let k = if suu > 0.0 {
                u.iter().zip(d).map(|(u, d)| u * d).sum::<f64>() / suu
            } else {
                0.0
            };
            Curve {
                s_mid: k * 0.5 * w,
                a: 1.0,
            }
        }
        PulseModel::Exponential => {
            let mid = 0.5 * (lo + hi);
            let xc: Vec<f64> = x.iter().map(|g| g - mid).collect();
            match ols(&xc, d) {
                Some((c0, c1, _)) if c1 != 0.0 => {
                    // Normalised asymptote of the line c0 + c1·(G − mid).
                    let a = match pol {
                        Polarity::Set => 0.5 - c0 / (c1 * w),
                        Polarity::Reset => 0.5 + c0 / (c1 * w),
                    };
                    if a.is_nan() || a <= 0.5 || c0 <= 0.0 {
                        // The step grows toward the bound: not saturating.
                        Curve {
                            s_mid: mean(d),
                            a: f64::INFINITY,
                        }
                    } else if a < 1.0 {
                        // Asymptote inside the window: clamp at the bound.
                        Curve {
                            s_mid: fit_curve(PulseModel::SoftBounds, pol, x, d, lo, hi).s_mid,
                            a: 1.0 + 1e-8,
                        }
                    } else {
                        Curve { s_mid: c0, a }
                    }
                }
                _ => Curve {
                    s_mid: mean(d),
                    a: f64::INFINITY,
                },
            }
        }
    }
}

/// Residual sum of squares of `d` about curve `c` (0 for an unfitted curve).
fn rss(c: &Curve, pol: Polarity, x: &[f64], d: &[f64], lo: f64, hi: f64) -> f64 {
    if c.s_mid.is_nan() {
        return 0.0;
    }
    x.iter()
        .zip(d)
        .map(|(&g, &d)| (d - c.eval(pol, g, lo, hi)).powi(2))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::super::report::FitStatus;
    use super::super::test_support::{eapu_raw, fit, model_of};
    use super::*;

    /// Exact steps of a curve at states spread over the window.
    fn exact(c: Curve, pol: Polarity) -> (Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = (1..20).map(|k| 5.0 * f64::from(k)).collect();
        let d = x.iter().map(|&g| c.eval(pol, g, 0.0, 100.0)).collect();
        (x, d)
    }

    #[test]
    fn each_model_recovers_its_own_curve() {
        for (model, c) in [
            (
                PulseModel::Linear,
                Curve {
                    s_mid: 2.0,
                    a: f64::INFINITY,
                },
            ),
            (PulseModel::SoftBounds, Curve { s_mid: 2.0, a: 1.0 }),
            (PulseModel::Exponential, Curve { s_mid: 2.0, a: 1.5 }),
        ] {
            for pol in [Polarity::Set, Polarity::Reset] {
                let (x, d) = exact(c, pol);
                let f = fit_curve(model, pol, &x, &d, 0.0, 100.0);
                assert!((f.s_mid - 2.0).abs() < 1e-9, "{model:?} {pol:?}: {f:?}");
                assert!(
                    f.a == c.a || (f.a - c.a).abs() < 1e-9,
                    "{model:?} {pol:?}: {f:?}"
                );
                assert!(rss(&f, pol, &x, &d, 0.0, 100.0) < 1e-18);
            }
        }
    }

    #[test]
    fn a_step_that_grows_toward_the_bound_is_not_saturating() {
        let x = [20.0, 40.0, 60.0, 80.0];
        let d = [1.0, 2.0, 3.0, 4.0];
        let f = fit_curve(PulseModel::Exponential, Polarity::Set, &x, &d, 0.0, 100.0);
        assert_eq!((f.s_mid, f.a), (2.5, f64::INFINITY));
    }

    #[test]
    fn one_polarity_one_device_is_fitted_and_said() {
        let mut raw = eapu_raw(6);
        raw.devices.truncate(1);
        raw.devices[0]
            .pulse_trains
            .retain(|t| t.polarity == Polarity::Set);
        let c = fit(raw);
        let f = model_of(&c);
        assert!((f.step_set_us - 2.0).abs() < 0.5, "{}", f.step_set_us);
        assert_eq!(f.step_reset_us, f.step_set_us);
        let step = c.report.group("mean_step").unwrap();
        assert_eq!(step.status, FitStatus::Partial);
        assert!(
            step.notes.iter().any(|n| n.contains("no RESET trains")),
            "{:?}",
            step.notes
        );
        let d2d = c.report.group("device_to_device").unwrap();
        assert_eq!(d2d.status, FitStatus::NotFitted);
        assert_eq!(c.report.group("bounds").unwrap().status, FitStatus::Partial);
        assert!(c.report.render().contains("not fitted"));
    }
}
