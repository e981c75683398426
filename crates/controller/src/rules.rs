//! Update rules: from requested to decided conductance changes.

use aimsim_core::config::Check;
use aimsim_core::{Result, Rng};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The names `--rule` accepts.
pub const RULE_NAMES: &[&str] = &["eapu", "bp", "ideal"];

/// Counts of the digital work a decision pass did, for energy accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionStats {
    /// Requests compared against a threshold or tested for zero.
    pub compares: u64,
    /// Stochastic decisions (each consumes the chip's random bits per decision).
    pub random_decisions: u64,
}

/// A write scheduler.
pub trait UpdateRule: Send {
    /// The rule's name (`"eapu"`).
    fn name(&self) -> &'static str;

    /// Whether the rule writes a device (false for `ideal`).
    fn uses_device(&self) -> bool {
        true
    }

    /// Decides the change to write for each requested change (µS, one per
    /// weight); 0 means no write. `rng` is the tile's decision stream.
    fn decide(
        &mut self,
        requested_us: &[f32],
        decided_us: &mut [f32],
        rng: &mut Rng,
    ) -> DecisionStats;
}

/// `eapu` parameters (`chip.rule.eapu`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEapu {
    /// Noise threshold ΔG_th, µS (default: 2, the authors' simulations).
    #[serde(default = "default_threshold")]
    pub threshold_us: f64,
}

fn default_threshold() -> f64 {
    2.0
}

impl Default for RawEapu {
    fn default() -> Self {
        RawEapu {
            threshold_us: default_threshold(),
        }
    }
}

/// `bp` parameters (`chip.rule.bp`): none yet.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBp {}

/// The rule section of a chip file (`chip.rule`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// The rule to run: one of [`RULE_NAMES`] (default: `eapu`).
    #[serde(default = "default_rule")]
    pub name: String,
    /// Parameters of `eapu`.
    #[serde(default)]
    pub eapu: RawEapu,
    /// Parameters of `bp`.
    #[serde(default)]
    pub bp: RawBp,
}

fn default_rule() -> String {
    "eapu".into()
}

impl Default for RawRule {
    fn default() -> Self {
        RawRule {
            name: default_rule(),
            eapu: RawEapu::default(),
            bp: RawBp::default(),
        }
    }
}

/// Builds the rule named in `raw`, validating its parameters.
pub fn build_rule(c: &Check, raw: &RawRule) -> Result<Box<dyn UpdateRule>> {
    match raw.name.as_str() {
        "eapu" => {
            let th = c
                .section("eapu")
                .positive("threshold_us", raw.eapu.threshold_us)?;
            Ok(Box::new(Eapu {
                threshold_us: th as f32,
            }))
        }
        "bp" => Ok(Box::new(Bp)),
        "ideal" => Ok(Box::new(Ideal)),
        other => Err(c.err(
            "name",
            format!(
                "unknown rule `{other}`; expected one of {}",
                RULE_NAMES.join(", ")
            ),
        )),
    }
}

/// Error-aware probabilistic update.
#[derive(Clone, Debug)]
pub struct Eapu {
    /// ΔG_th, µS.
    pub threshold_us: f32,
}

impl UpdateRule for Eapu {
    fn name(&self) -> &'static str {
        "eapu"
    }

    fn decide(&mut self, req: &[f32], out: &mut [f32], rng: &mut Rng) -> DecisionStats {
        let th = self.threshold_us;
        let mut s = DecisionStats::default();
        for (o, &r) in out.iter_mut().zip(req) {
            s.compares += 1;
            let a = r.abs();
            *o = if a >= th {
                r
            } else if a == 0.0 {
                0.0
            } else {
                s.random_decisions += 1;
                // u ∈ [0, 1): write with probability a/th.
                let u: f32 = rng.random();
                if u * th < a {
                    th.copysign(r)
                } else {
                    0.0
                }
            };
        }
        s
    }
}

/// Plain backprop on memristors: write every non-zero request.
#[derive(Clone, Debug)]
pub struct Bp;

impl UpdateRule for Bp {
    fn name(&self) -> &'static str {
        "bp"
    }

    fn decide(&mut self, req: &[f32], out: &mut [f32], _rng: &mut Rng) -> DecisionStats {
        out.copy_from_slice(req);
        DecisionStats {
            compares: req.len() as u64,
            random_decisions: 0,
        }
    }
}

/// Digital floating point: the request is applied exactly, off-device.
#[derive(Clone, Debug)]
pub struct Ideal;

impl UpdateRule for Ideal {
    fn name(&self) -> &'static str {
        "ideal"
    }

    fn uses_device(&self) -> bool {
        false
    }

    fn decide(&mut self, req: &[f32], out: &mut [f32], _rng: &mut Rng) -> DecisionStats {
        out.copy_from_slice(req);
        DecisionStats::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::stream;

    #[test]
    fn eapu_is_unbiased_and_sparse() {
        // 200 000 requests of 0.2 µS against ΔG_th = 2: p = 0.1. The mean
        // applied value has SE = 2·sqrt(p(1−p)/n) = 1.3e-3 µS; allow 5 SE.
        let mut rule = Eapu { threshold_us: 2.0 };
        let n = 200_000;
        let req = vec![0.2f32; n];
        let mut out = vec![0.0; n];
        let s = rule.decide(&req, &mut out, &mut stream(1, "t"));
        let mean = out.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        let frac = out.iter().filter(|&&x| x != 0.0).count() as f64 / n as f64;
        assert!((mean - 0.2).abs() < 0.0067, "mean {mean}");
        assert!((frac - 0.1).abs() < 0.0034, "fraction {frac}");
        assert_eq!(s.random_decisions, n as u64);
        assert!(out.iter().all(|&x| x == 0.0 || x == 2.0));
    }

    #[test]
    fn eapu_passes_large_and_zero_requests() {
        let mut rule = Eapu { threshold_us: 2.0 };
        let mut out = [9.0; 3];
        rule.decide(&[3.0, -2.5, 0.0], &mut out, &mut stream(1, "t"));
        assert_eq!(out, [3.0, -2.5, 0.0]);
    }

    #[test]
    fn unknown_rule_is_named() {
        let raw = RawRule {
            name: "magic".into(),
            ..RawRule::default()
        };
        let e = build_rule(&Check::new("chip.json").section("rule"), &raw)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("field `rule.name`") && e.contains("magic"),
            "{e}"
        );
    }
}
