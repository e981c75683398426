//! `mixed-precision` — a digital accumulator χ per weight (Nandakumar et
//! al. 2020), transferred to the device in whole pulses of ε when `|χ| ≥ ε`.

use super::mean_step_us;
use crate::{RuleContext, RuleInput, RuleParams, UpdateRule, WriteMode};
use aimsim_core::config::Check;
use aimsim_core::Result;
use aimsim_device::DeviceModel;
use serde::{Deserialize, Serialize};

/// `mixed-precision` parameters (`chip.rule.mixed-precision`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMixedPrecision {
    /// Transfer threshold and pulse quantum ε, µS (default: the device's
    /// mean nominal step).
    #[serde(default)]
    pub epsilon_us: Option<f64>,
    /// Fraction bits of the fixed-point accumulator χ (LSB = ε/2^bits, a
    /// 32-bit SRAM word), 0..=24 (default: 16).
    #[serde(default = "d_frac")]
    pub chi_frac_bits: u32,
}

fn d_frac() -> u32 {
    16
}

impl Default for RawMixedPrecision {
    fn default() -> Self {
        RawMixedPrecision {
            epsilon_us: None,
            chi_frac_bits: d_frac(),
        }
    }
}

impl RuleParams for RawMixedPrecision {
    const NAME: &'static str = "mixed-precision";

    fn check(&self, c: &Check) -> Result<()> {
        if let Some(e) = self.epsilon_us {
            c.positive("epsilon_us", e)?;
        }
        c.int_range("chi_frac_bits", self.chi_frac_bits.into(), 0, 24)?;
        Ok(())
    }

    fn build(&self, _c: &Check, model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
        Ok(Box::new(MixedPrecision::new(
            self.epsilon_us.map_or(mean_step_us(model), |e| e as f32),
            self.chi_frac_bits,
        )))
    }
}

/// Mixed-precision update (Nandakumar et al. 2020): a digital accumulator
/// χ per weight collects every request; when `|χ| ≥ ε` the whole pulses
/// `n = trunc(χ/ε)` are transferred to the device and `n·ε` leaves χ. χ is
/// a 32-bit fixed-point word (LSB `ε/2^frac_bits`) in periphery SRAM, so
/// its books balance exactly: `Σ requests (rounded to the LSB) = χ +
/// Σ transferred`. Each non-zero request costs one SRAM read and write.
/// The accumulators are kept per tile ([`RuleInput::tile`]).
#[derive(Clone, Debug)]
pub struct MixedPrecision {
    epsilon_us: f32,
    frac_bits: u32,
    /// χ of every weight of every tile seen so far, in LSBs.
    chi: Vec<Vec<i32>>,
}

impl MixedPrecision {
    /// A rule with transfer quantum `epsilon_us` and `frac_bits` fraction bits.
    pub fn new(epsilon_us: f32, frac_bits: u32) -> Self {
        MixedPrecision {
            epsilon_us,
            frac_bits,
            chi: Vec::new(),
        }
    }

    /// The accumulators of `tile`, in µS (empty before its first update).
    pub fn chi_us(&self, tile: usize) -> Vec<f64> {
        let lsb = self.lsb_us();
        self.chi
            .get(tile)
            .map(|c| c.iter().map(|&q| f64::from(q) * lsb).collect())
            .unwrap_or_default()
    }

    /// One accumulator LSB, µS.
    pub fn lsb_us(&self) -> f64 {
        f64::from(self.epsilon_us) / f64::from(1u32 << self.frac_bits)
    }
}

impl UpdateRule for MixedPrecision {
    fn name(&self) -> &str {
        RawMixedPrecision::NAME
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Pulses {
            step_us: self.epsilon_us,
        }
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], ctx: &mut RuleContext<'_>) {
        let (tile, req) = (input.tile, input.requested_us);
        if self.chi.len() <= tile {
            self.chi.resize(tile + 1, Vec::new());
        }
        let lsb = self.lsb_us();
        let one = 1i64 << self.frac_bits;
        let chi = &mut self.chi[tile];
        chi.resize(req.len(), 0);
        let mut live = 0;
        for ((o, c), &r) in out.iter_mut().zip(chi.iter_mut()).zip(req) {
            *o = 0.0;
            if r == 0.0 {
                continue;
            }
            live += 1;
            let q = (f64::from(r) / lsb).round() as i64;
            let acc = (i64::from(*c) + q).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
            // Truncation toward zero: |χ| < ε stays in the accumulator.
            let n = acc / one;
            *c = (acc - n * one) as i32;
            if n != 0 {
                *o = n as f32 * self.epsilon_us;
            }
        }
        ctx.sram_reads(live);
        ctx.sram_writes(live);
        ctx.compares(live);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use aimsim_core::stream;
    use rand::Rng as _;

    #[test]
    fn mixed_precision_books_balance_exactly() {
        // χ + transferred = Σ requests rounded to the accumulator LSB, in
        // integer LSBs (exact), and the rounding error is ≤ LSB/2 per request.
        let mut rule = MixedPrecision::new(2.0, 16);
        let lsb = rule.lsb_us();
        let one = 1i64 << 16;
        let mut rng = stream(3, "mp");
        let n = 300;
        let mut req = vec![0.0f32; n];
        let mut out = vec![0.0f32; n];
        let mut requested_lsb = vec![0i64; n];
        let mut requested_us = vec![0.0f64; n];
        let mut transferred_lsb = vec![0i64; n];
        for step in 0..2000 {
            for r in req.iter_mut() {
                let u: f32 = rng.random();
                let z: f32 = rng.random();
                *r = if u < 0.1 {
                    0.0
                } else {
                    (z - 0.45) * (1 + step % 7) as f32
                };
            }
            let s = decide_plain(&mut rule, &req, &mut out, &mut rng);
            assert_eq!(
                s.sram_reads,
                req.iter().filter(|&&r| r != 0.0).count() as u64
            );
            for k in 0..n {
                requested_lsb[k] += (f64::from(req[k]) / lsb).round() as i64;
                requested_us[k] += f64::from(req[k]);
                let pulses = out[k] / 2.0;
                assert_eq!(pulses, pulses.round(), "whole pulses only");
                transferred_lsb[k] += pulses as i64 * one;
            }
        }
        let chi = &rule.chi[0];
        let chi_us = rule.chi_us(0);
        for k in 0..n {
            assert_eq!(i64::from(chi[k]) + transferred_lsb[k], requested_lsb[k]);
            assert!(i64::from(chi[k]).abs() < one, "|χ| < ε after transfer");
            let books = chi_us[k] + transferred_lsb[k] as f64 * lsb;
            assert!((books - requested_us[k]).abs() <= 2000.0 * lsb, "{k}");
        }
    }

    #[test]
    fn accumulators_are_kept_per_tile() {
        // 0.75 ε asked twice of tile 3 transfers one pulse; asked once of
        // tile 3 and once of tile 1, nothing.
        let mut rule = MixedPrecision::new(2.0, 16);
        let mut rng = stream(1, "t");
        let mut out = [0.0f32];
        let mut decide = |rule: &mut MixedPrecision, tile: usize, out: &mut [f32]| {
            let input = RuleInput {
                tile,
                rows: 1,
                cols: 1,
                requested_us: &[1.5],
                factors: None,
            };
            rule.decide(&input, out, &mut RuleContext::new(&mut rng));
        };
        decide(&mut rule, 3, &mut out);
        assert_eq!(out, [0.0]);
        decide(&mut rule, 1, &mut out);
        assert_eq!(out, [0.0]);
        decide(&mut rule, 3, &mut out);
        assert_eq!(out, [2.0]);
        assert!((rule.chi_us(3)[0] - 1.0).abs() < 1e-9);
        assert!((rule.chi_us(1)[0] - 1.5).abs() < 1e-9);
        assert!(rule.chi_us(0).is_empty());
    }
}
