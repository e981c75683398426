//! Device-to-device variation. The step: per device, the least-squares
//! scale `f_d` of the common step curve; `σ²(ln f) = var(ln f_d) −
//! mean(SE_d²)` (≥ 3 working devices). The bounds: the σ of per-device
//! saturation levels less `σ_r²`, the estimation noise of one level (a
//! heuristic, said in the report). Nonlinearity variation is not fitted.

use super::pulses::PulseFit;
use super::report::FitGroup;
use super::stats::{mean, variance};

/// The spreads fitted, and the `device_to_device` group.
#[derive(Clone, Debug)]
pub(super) struct DeviceToDevice {
    /// σ of the log of the per-device step scale.
    pub(super) step_sigma_log: f64,
    /// σ of the per-device `G_min`, µS.
    pub(super) g_min_us: f64,
    /// σ of the per-device `G_max`, µS.
    pub(super) g_max_us: f64,
    pub(super) group: FitGroup,
}

/// Fits the spreads over `n_devices` devices, `n_stuck` of them stuck,
/// from the pulse fit `p` with read noise `sigma_r`.
pub(super) fn fit(n_devices: usize, n_stuck: usize, p: &PulseFit, sigma_r: f64) -> DeviceToDevice {
    let (lo, hi) = (p.bounds.g_min, p.bounds.g_max);
    let sr2 = sigma_r * sigma_r;
    let mut d2d = FitGroup::new("device_to_device");
    let (mut d2d_step, mut d2d_gmin, mut d2d_gmax) = (0.0, 0.0, 0.0);
    let working = n_devices - n_stuck;
    if working < 3 {
        d2d.not_fitted(format!(
            "{working} working device(s): at least 3 are needed to estimate a spread; no variation assumed"
        ));
    } else {
        let mut lnf = Vec::new();
        let mut se2 = Vec::new();
        for dev in 0..n_devices {
            let (mut sdf, mut sff) = (0.0, 0.0);
            for s in p.steps.iter().filter(|s| s.dev == dev) {
                let f = p.mean_step.curve(s.pol).eval(s.pol, s.x, lo, hi);
                sdf += s.d * f;
                sff += f * f;
            }
            if sff > 0.0 {
                let fd = sdf / sff;
                if fd > 0.0 {
                    lnf.push(fd.ln());
                    se2.push(p.residuals.gamma0 / sff / (fd * fd));
                }
            }
        }
        d2d.points = lnf.len();
        if lnf.len() >= 3 {
            let v = variance(&lnf);
            let noise = mean(&se2);
            d2d_step = (v - noise).max(0.0).sqrt();
            d2d.quality("var_ln_step_observed", v);
            d2d.quality("var_ln_step_from_noise", noise);
            if v <= noise {
                d2d.note("the spread of per-device step scales is no larger than their estimation noise: step variation set to 0");
            }
        } else {
            d2d.partial("fewer than 3 devices with a resolved step: step variation not fitted");
        }
        let (mx, mn) = (&p.bounds.dev_gmax, &p.bounds.dev_gmin);
        if mx.len() >= 3 {
            d2d_gmax = (variance(mx) - sr2).max(0.0).sqrt();
        }
        if mn.len() >= 3 {
            d2d_gmin = (variance(mn) - sr2).max(0.0).sqrt();
        }
        d2d.note("bound spreads: σ of per-device saturation levels less σ_r² (the estimation noise of one level), a heuristic");
        d2d.note("nonlinearity variation is not fitted (not identifiable at this precision): 0");
    }
    d2d.value("d2d_step_sigma_log", d2d_step);
    d2d.value("d2d_g_min_us", d2d_gmin);
    d2d.value("d2d_g_max_us", d2d_gmax);
    DeviceToDevice {
        step_sigma_log: d2d_step,
        g_min_us: d2d_gmin,
        g_max_us: d2d_gmax,
        group: d2d,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::drifting_population;

    /// 24 devices: the SE of a sample σ of ln f is 0.3/√48 = 0.043; 3 SE.
    #[test]
    fn step_variation_is_recovered() {
        let (_, f) = drifting_population();
        assert!(
            (f.d2d_step_sigma_log - 0.3).abs() < 0.13,
            "{}",
            f.d2d_step_sigma_log
        );
    }
}
