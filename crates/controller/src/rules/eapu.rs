//! `eapu` — error-aware probabilistic update (DESIGN.md §1.4): a request
//! `|ΔG| ≥ ΔG_th` is written as asked; below it, one step of
//! `sign(ΔG)·ΔG_th` is written with probability `p = |ΔG|/ΔG_th`, else
//! nothing, so `E[decided] = ΔG`.

use crate::{RuleContext, RuleInput, RuleParams, UpdateRule};
use aimsim_core::config::Check;
use aimsim_core::Result;
use aimsim_device::DeviceModel;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// `eapu` parameters (`chip.rule.eapu`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEapu {
    /// Noise threshold ΔG_th, µS (default: the device's write noise σ_w,
    /// DESIGN.md §1.4 "ΔG_th ≈ σ"; the authors' simulations use 2 µS at
    /// σ = 2 µS and the default chip file sets 2 explicitly).
    #[serde(default)]
    pub threshold_us: Option<f64>,
}

impl RuleParams for RawEapu {
    const NAME: &'static str = "eapu";

    fn check(&self, c: &Check) -> Result<()> {
        if let Some(t) = self.threshold_us {
            c.positive("threshold_us", t)?;
        }
        Ok(())
    }

    fn build(&self, _c: &Check, model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
        Ok(Box::new(Eapu {
            threshold_us: self.threshold_us.map_or(model.write_noise_us, |t| t as f32),
        }))
    }
}

/// Error-aware probabilistic update.
#[derive(Clone, Debug)]
pub struct Eapu {
    /// ΔG_th, µS.
    pub threshold_us: f32,
}

impl UpdateRule for Eapu {
    fn name(&self) -> &str {
        RawEapu::NAME
    }

    fn eapu_threshold_us(&self) -> Option<f32> {
        Some(self.threshold_us)
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], ctx: &mut RuleContext<'_>) {
        let th = self.threshold_us;
        let req = input.requested_us;
        ctx.compares(req.len() as u64);
        let mut random = 0;
        // One borrow for the loop keeps the stream's state in registers.
        let rng = ctx.rng();
        for (o, &r) in out.iter_mut().zip(req) {
            let a = r.abs();
            *o = if a >= th {
                r
            } else if a == 0.0 {
                0.0
            } else {
                random += 1;
                // u ∈ [0, 1): write with probability a/th.
                let u: f32 = rng.random();
                if u * th < a {
                    th.copysign(r)
                } else {
                    0.0
                }
            };
        }
        ctx.random_decisions(random);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use aimsim_core::stream;

    #[test]
    fn eapu_is_unbiased_and_sparse() {
        // 200 000 requests of 0.2 µS against ΔG_th = 2: p = 0.1. The mean
        // applied value has SE = 2·sqrt(p(1−p)/n) = 1.3e-3 µS; allow 5 SE.
        let mut rule = Eapu { threshold_us: 2.0 };
        let n = 200_000;
        let req = vec![0.2f32; n];
        let mut out = vec![0.0; n];
        let s = decide_plain(&mut rule, &req, &mut out, &mut stream(1, "t"));
        let mean = out.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        let frac = out.iter().filter(|&&x| x != 0.0).count() as f64 / n as f64;
        assert!((mean - 0.2).abs() < 0.0067, "mean {mean}");
        assert!((frac - 0.1).abs() < 0.0034, "fraction {frac}");
        assert_eq!(s.random_decisions, n as u64);
        assert_eq!(s.compares, n as u64);
        assert!(out.iter().all(|&x| x == 0.0 || x == 2.0));
    }

    #[test]
    fn eapu_passes_large_and_zero_requests() {
        let mut rule = Eapu { threshold_us: 2.0 };
        let mut out = [9.0; 3];
        let s = decide_plain(&mut rule, &[3.0, -2.5, 0.0], &mut out, &mut stream(1, "t"));
        assert_eq!(out, [3.0, -2.5, 0.0]);
        assert_eq!(s.random_decisions, 0);
    }
}
