//! `write-verify` — every non-zero request is programmed, then verify-read
//! and re-programmed toward its target until within a tolerance or a pulse
//! budget ([`WriteMode::Verify`], executed by
//! [`verify_writes`](crate::verify_writes)).

use super::mean_step_us;
use crate::{Pointwise, RuleContext, RuleInput, RuleParams, UpdateRule, WriteMode};
use aimsim_core::config::Check;
use aimsim_core::Result;
use aimsim_device::DeviceModel;
use serde::{Deserialize, Serialize};

/// `write-verify` parameters (`chip.rule.write-verify`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWriteVerify {
    /// Accepted |G − target|, µS (default: the device's write noise σ_w,
    /// or its mean step if σ_w = 0).
    #[serde(default)]
    pub tolerance_us: Option<f64>,
    /// Read-noise margin: a verify read must be within tolerance − guard,
    /// µS (default: 2 × the device's read noise, at most tolerance/2).
    #[serde(default)]
    pub guard_us: Option<f64>,
    /// Pulse budget of one cell's write (default: 64).
    #[serde(default = "d_budget")]
    pub max_pulses: u32,
}

fn d_budget() -> u32 {
    64
}

impl Default for RawWriteVerify {
    fn default() -> Self {
        RawWriteVerify {
            tolerance_us: None,
            guard_us: None,
            max_pulses: d_budget(),
        }
    }
}

impl RuleParams for RawWriteVerify {
    const NAME: &'static str = "write-verify";

    fn check(&self, c: &Check) -> Result<()> {
        if let Some(t) = self.tolerance_us {
            c.positive("tolerance_us", t)?;
        }
        if let Some(g) = self.guard_us {
            c.non_negative("guard_us", g)?;
        }
        if let (Some(t), Some(g)) = (self.tolerance_us, self.guard_us) {
            if g >= t {
                return Err(c.err("guard_us", format!("must be below tolerance_us ({t})")));
            }
        }
        c.int_range("max_pulses", self.max_pulses.into(), 1, 1 << 20)?;
        Ok(())
    }

    fn build(&self, c: &Check, model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
        let tol = self.tolerance_us.map_or(
            if model.write_noise_us > 0.0 {
                model.write_noise_us
            } else {
                mean_step_us(model)
            },
            |t| t as f32,
        );
        let guard = self
            .guard_us
            .map_or((2.0 * model.read_noise_us).min(0.5 * tol), |g| g as f32);
        if guard >= tol {
            return Err(c.err(
                "guard_us",
                format!("must be below the tolerance ({tol} µS)"),
            ));
        }
        Ok(Box::new(WriteVerify {
            tolerance_us: tol,
            guard_us: guard,
            max_pulses: self.max_pulses,
        }))
    }
}

/// Write-verify: every non-zero request is programmed, then verify-read and
/// re-programmed toward its target until within tolerance or the budget.
#[derive(Clone, Debug)]
pub struct WriteVerify {
    /// Accepted |G − target|, µS.
    pub tolerance_us: f32,
    /// Read-noise margin, µS.
    pub guard_us: f32,
    /// Pulse budget per cell write.
    pub max_pulses: u32,
}

impl UpdateRule for WriteVerify {
    fn name(&self) -> &str {
        RawWriteVerify::NAME
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Verify {
            tolerance_us: self.tolerance_us,
            guard_us: self.guard_us,
            max_pulses: self.max_pulses,
        }
    }

    fn pointwise(&self) -> Option<Pointwise> {
        Some(Pointwise::AsRequested)
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], ctx: &mut RuleContext<'_>) {
        out.copy_from_slice(input.requested_us);
        ctx.compares(input.requested_us.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::config::overrides;
    use aimsim_device::builtin_device;

    #[test]
    fn guard_must_stay_below_the_tolerance() {
        let c = Check::new("chip.json")
            .section("rule")
            .section("write-verify");
        let both = RawWriteVerify {
            tolerance_us: Some(0.5),
            guard_us: Some(0.5),
            ..RawWriteVerify::default()
        };
        let e = both.check(&c).unwrap_err().to_string();
        assert!(e.contains("field `rule.write-verify.guard_us`"), "{e}");
        // A guard given alone is checked against the device's tolerance.
        let m = builtin_device("eapu-180nm", &overrides(&[])).unwrap();
        let guard = RawWriteVerify {
            guard_us: Some(5.0),
            ..RawWriteVerify::default()
        };
        guard.check(&c).unwrap();
        let e = guard.build(&c, &m).err().unwrap().to_string();
        assert!(e.contains("guard_us") && e.contains("tolerance"), "{e}");
    }
}
