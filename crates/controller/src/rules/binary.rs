//! `eapu` and `bp` on binary STT-MRAM junctions ([`WriteMode::Switch`]):
//! the rules pass the requests through and the write path turns them into
//! junction pulses (`crate::switching`). Built by `eapu` and `bp` when the
//! device is binary.

use crate::{RuleContext, RuleInput, UpdateRule, WriteMode};
use aimsim_core::config::Check;
use aimsim_core::Result;
use aimsim_device::DeviceModel;

/// One junction's step `G_P − G_AP` of a binary device, µS.
pub(super) fn junction_step_us(model: &DeviceModel) -> f32 {
    model.step_set_us
}

/// EaPU on binary STT-MRAM: ΔG_th is one junction step ΔG₁. A request is
/// written as its whole steps plus one pulse that switches with the
/// probability `p = (|ΔG| mod ΔG₁)/ΔG₁` — for a sub-threshold request
/// `p = |ΔG|/ΔG_th`, EaPU's probability — realised by the pulse amplitude,
/// so `E[written] = ΔG` with no digital random bits. Digital work: one
/// compare per request (zero test); no multiply beyond the gradient's: the
/// gradient unit's fixed-point output in units of `ΔG₁` (its scale
/// constant `r_wg/ΔG₁ = N` folded in) has the whole steps `k` in its
/// integer bits and `p` in its fraction bits, which index the driver's
/// amplitude table directly.
#[derive(Clone, Debug)]
pub struct EapuSwitch {
    /// ΔG_th = ΔG₁, µS.
    pub step_us: f32,
}

impl EapuSwitch {
    /// The rule for `model`; an explicit `threshold_us` must be the
    /// junction step (`c` names `rule.eapu`).
    pub(super) fn build(
        c: &Check,
        threshold_us: Option<f64>,
        model: &DeviceModel,
    ) -> Result<Box<dyn UpdateRule>> {
        let step = junction_step_us(model);
        if let Some(t) = threshold_us {
            if (t - f64::from(step)).abs() > 1e-3 * f64::from(step) {
                return Err(c.err(
                    "threshold_us",
                    format!(
                        "on the binary STT-MRAM device `{}` EaPU's step is one junction switching, \
                         ΔG_th = G_P − G_AP = {step} µS; got {t} (leave threshold_us out)",
                        model.name
                    ),
                ));
            }
        }
        Ok(Box::new(EapuSwitch { step_us: step }))
    }
}

impl UpdateRule for EapuSwitch {
    fn name(&self) -> &str {
        "eapu"
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Switch {
            step_us: self.step_us,
            stochastic: true,
        }
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], ctx: &mut RuleContext<'_>) {
        let req = input.requested_us;
        out.copy_from_slice(req);
        ctx.compares(req.len() as u64);
    }
}

/// bp on binary STT-MRAM: every request is rounded to whole junction steps
/// written with deterministic-intent pulses (which still fail to switch
/// with the write error rate); a change below half a step is lost.
#[derive(Clone, Debug)]
pub struct BpSwitch {
    /// ΔG₁, µS.
    pub step_us: f32,
}

impl UpdateRule for BpSwitch {
    fn name(&self) -> &str {
        "bp"
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Switch {
            step_us: self.step_us,
            stochastic: false,
        }
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], ctx: &mut RuleContext<'_>) {
        let req = input.requested_us;
        out.copy_from_slice(req);
        ctx.compares(req.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use aimsim_core::stream;
    use aimsim_device::{builtin_mram, DeviceModel};

    fn mram() -> DeviceModel {
        DeviceModel::from_mram(builtin_mram("stt-mram-pmtj", &[]).unwrap())
    }

    #[test]
    fn binary_rules_draw_no_random_bits() {
        let m = mram();
        let c = Check::new("chip").section("rule.eapu");
        let mut eapu = EapuSwitch::build(&c, None, &m).unwrap();
        let req = [0.3 * m.step_set_us, 0.0, -2.5 * m.step_set_us];
        let mut out = [9.0; 3];
        let s = decide_plain(eapu.as_mut(), &req, &mut out, &mut stream(1, "t"));
        assert_eq!(out, req);
        assert_eq!(s.random_decisions, 0);
        assert_eq!((s.compares, s.macs), (3, 0));
        assert!(matches!(
            eapu.write_mode(),
            WriteMode::Switch {
                stochastic: true,
                ..
            }
        ));
        let e = EapuSwitch::build(&c, Some(2.0), &m)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("rule.eapu.threshold_us"), "{e}");
        assert!(EapuSwitch::build(&c, Some(f64::from(m.step_set_us)), &m).is_ok());
    }
}
