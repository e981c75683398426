//! `bp` — plain backprop on memristors: every non-zero request is written,
//! as one programming operation aimed at ΔG or, with `round_to_pulses`, as
//! `round(ΔG/step)` whole pulses (changes below half a step are lost, as
//! NeuroSim does).

use super::mean_step_us;
use crate::{Pointwise, RuleContext, RuleInput, RuleParams, UpdateRule, WriteMode};
use aimsim_core::config::Check;
use aimsim_core::Result;
use aimsim_device::DeviceModel;
use serde::{Deserialize, Serialize};

/// `bp` parameters (`chip.rule.bp`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBp {
    /// Round each ΔG to whole nominal pulse steps and write them as fixed
    /// pulses, so changes below half a step are lost, as NeuroSim does
    /// (default: false: one programming operation aimed at ΔG).
    #[serde(default)]
    pub round_to_pulses: bool,
}

impl RuleParams for RawBp {
    const NAME: &'static str = "bp";

    fn build(&self, _c: &Check, model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
        if model.is_binary() {
            return Ok(Box::new(super::BpSwitch {
                step_us: super::binary::junction_step_us(model),
            }));
        }
        Ok(Box::new(Bp {
            round_to_step_us: self.round_to_pulses.then_some(mean_step_us(model)),
        }))
    }
}

/// Plain backprop on memristors: write every non-zero request, either as
/// one programming operation aimed at ΔG or, with `round_to_step_us`, as
/// `round(ΔG/step)` whole pulses (changes below half a step are lost).
#[derive(Clone, Debug)]
pub struct Bp {
    /// The pulse step ΔG is rounded to, µS; `None` programs ΔG as asked.
    pub round_to_step_us: Option<f32>,
}

impl UpdateRule for Bp {
    fn name(&self) -> &str {
        RawBp::NAME
    }

    fn write_mode(&self) -> WriteMode {
        match self.round_to_step_us {
            Some(step_us) => WriteMode::Pulses { step_us },
            None => WriteMode::Program,
        }
    }

    fn pointwise(&self) -> Option<Pointwise> {
        Some(match self.round_to_step_us {
            Some(step_us) => Pointwise::RoundTo { step_us },
            None => Pointwise::AsRequested,
        })
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], ctx: &mut RuleContext<'_>) {
        let req = input.requested_us;
        match self.round_to_step_us {
            None => out.copy_from_slice(req),
            Some(step_us) => {
                let rule = Pointwise::RoundTo { step_us };
                for (o, &r) in out.iter_mut().zip(req) {
                    *o = rule.apply(r);
                }
            }
        }
        ctx.compares(req.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use aimsim_core::stream;

    #[test]
    fn rounded_bp_loses_sub_half_step_updates() {
        let mut rule = Bp {
            round_to_step_us: Some(2.0),
        };
        let mut out = [9.0; 5];
        let s = decide_plain(
            &mut rule,
            &[0.9, -0.99, 1.1, -3.2, 5.0],
            &mut out,
            &mut stream(1, "t"),
        );
        assert_eq!(out, [0.0, 0.0, 2.0, -4.0, 6.0]);
        // What it declares to the engine decides the same.
        let p = rule.pointwise().unwrap();
        let again: Vec<f32> = [0.9, -0.99, 1.1, -3.2, 5.0].map(|r| p.apply(r)).to_vec();
        assert_eq!(again, out);
        assert_eq!(s.compares, 5);
        assert_eq!(rule.write_mode(), WriteMode::Pulses { step_us: 2.0 });
    }
}
