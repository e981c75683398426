//! `stochastic-pulse` — coincidences of stochastic pulse trains on rows and
//! columns (Gokmen & Vlasov 2016, as IBM aihwkit's pulsed updater
//! implements it).
//!
//! Row `i` carries a train of BL slots each firing with `p_i = C_x|x_i|`,
//! column `j` one with `q_j = C_δ|δ_j|`; a cell receives one pulse of
//! `±Δg_min` per coincidence, so its pulse count is `n ~ Binomial(BL, p_i
//! q_j)` and `E[n·Δg_min] = BL C_x C_δ |x_i δ_j| Δg_min = |s x_i δ_j|` with
//! `C_x C_δ = |s|/(BL Δg_min)`. Update management sets `C_x =
//! C·sqrt(δ_max/x_max)`, `C_δ = C·sqrt(x_max/δ_max)` so both largest
//! probabilities are equal; BL management shortens BL to `⌈|s| x_max δ_max
//! / Δg_min⌉` so that they stay ≤ 1. Probabilities above 1 are clipped
//! (then the update is biased low, as in the hardware).
//!
//! A rank-P request is P such updates, one pair of train sets per term in
//! `p` order (each with its own BL and probabilities); a cell's signed pulse
//! counts are summed over the terms. Without factors each request is its
//! own rank-one update (`x = ΔG/s`, `δ = 1` with `s = BL·Δg_min`).

use super::mean_step_us;
use crate::{RuleContext, RuleInput, RuleParams, UpdateRule, WriteMode};
use aimsim_core::config::Check;
use aimsim_core::{Result, Rng};
use aimsim_device::DeviceModel;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// `stochastic-pulse` parameters (`chip.rule.stochastic-pulse`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStochasticPulse {
    /// Bit length BL of the pulse trains, 1..=64 (default: 31, aihwkit's `desired_bl`).
    #[serde(default = "d_bl")]
    pub bl: u32,
    /// Balance the row and column probabilities (default: true, aihwkit's
    /// `update_management`).
    #[serde(default = "d_true")]
    pub update_management: bool,
    /// Shorten BL to the pulses the largest update needs (default: true,
    /// aihwkit's `update_bl_management`).
    #[serde(default = "d_true")]
    pub bl_management: bool,
    /// Conductance change of one coincidence Δg_min, µS (default: the
    /// device's mean nominal step).
    #[serde(default)]
    pub dw_min_us: Option<f64>,
}

fn d_bl() -> u32 {
    31
}
fn d_true() -> bool {
    true
}

impl Default for RawStochasticPulse {
    fn default() -> Self {
        RawStochasticPulse {
            bl: d_bl(),
            update_management: true,
            bl_management: true,
            dw_min_us: None,
        }
    }
}

impl RuleParams for RawStochasticPulse {
    const NAME: &'static str = "stochastic-pulse";

    fn check(&self, c: &Check) -> Result<()> {
        c.int_range("bl", self.bl.into(), 1, 64)?;
        if let Some(d) = self.dw_min_us {
            c.positive("dw_min_us", d)?;
        }
        Ok(())
    }

    fn build(&self, _c: &Check, model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
        Ok(Box::new(StochasticPulse {
            bl: self.bl,
            update_management: self.update_management,
            bl_management: self.bl_management,
            dw_min_us: self.dw_min_us.map_or(mean_step_us(model), |d| d as f32),
        }))
    }
}

/// Stochastic pulse-train update (see the module documentation).
#[derive(Clone, Debug)]
pub struct StochasticPulse {
    /// Bit length (≤ 64).
    pub bl: u32,
    /// Balance the row and column probabilities.
    pub update_management: bool,
    /// Shorten BL to what the largest update needs.
    pub bl_management: bool,
    /// Δg_min, µS.
    pub dw_min_us: f32,
}

impl StochasticPulse {
    /// Bit length and the row / column probability scales for one update.
    fn scales(&self, scale_us: f32, x_max: f32, d_max: f32) -> (u32, f32, f32) {
        let a = scale_us.abs() / self.dw_min_us;
        let bl = if self.bl_management {
            ((a * x_max * d_max).ceil() as u32).clamp(1, self.bl)
        } else {
            self.bl
        };
        let c = (a / bl as f32).sqrt();
        if self.update_management {
            let k = (d_max / x_max).sqrt();
            (bl, c * k, c / k)
        } else {
            (bl, c, c)
        }
    }

    /// One rank-one term: adds each cell's signed coincidence count to
    /// `counts` (`x.len() × delta.len()`, whole numbers held in f32).
    fn term(
        &self,
        x: &[f32],
        delta: &[f32],
        scale_us: f32,
        counts: &mut [f32],
        ctx: &mut RuleContext<'_>,
    ) {
        let x_max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d_max = delta.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        ctx.compares((x.len() + delta.len()) as u64);
        if x_max == 0.0 || d_max == 0.0 || scale_us == 0.0 {
            return;
        }
        let (bl, cx, cd) = self.scales(scale_us, x_max, d_max);
        // One train per driven line; a line with zero input stays silent.
        let draw = |v: f32, c: f32, ctx: &mut RuleContext<'_>| {
            if v == 0.0 {
                return 0;
            }
            ctx.macs(1);
            ctx.random_decisions(u64::from(bl));
            pulse_train((c * v.abs()).min(1.0), bl, ctx.rng())
        };
        let rows: Vec<u64> = x.iter().map(|&v| draw(v, cx, ctx)).collect();
        let cols: Vec<u64> = delta.iter().map(|&v| draw(v, cd, ctx)).collect();
        // This chip's drivers pulse a row's cells by mask and count (at most
        // `max_parallel` at once), not all lines at once, so the controller
        // counts each live (row, column) pair's coincidences digitally: an
        // AND and a popcount of two BL-bit words, one add-class operation.
        let live_cols = cols.iter().filter(|&&m| m != 0).count() as u64;
        for ((row_counts, &mr), &xi) in counts.chunks_exact_mut(delta.len()).zip(&rows).zip(x) {
            if mr == 0 {
                continue;
            }
            ctx.coincidence_counts(live_cols);
            let sx = scale_us * xi;
            for ((k, &mc), &dj) in row_counts.iter_mut().zip(&cols).zip(delta) {
                let n = (mr & mc).count_ones();
                if n > 0 {
                    *k += (n as f32).copysign(sx * dj);
                }
            }
        }
    }
}

/// A train of `bl` slots each set with probability `p` (one random decision each).
fn pulse_train(p: f32, bl: u32, rng: &mut Rng) -> u64 {
    let mut m = 0u64;
    for b in 0..bl {
        let u: f32 = rng.random();
        if u < p {
            m |= 1 << b;
        }
    }
    m
}

impl UpdateRule for StochasticPulse {
    fn name(&self) -> &str {
        RawStochasticPulse::NAME
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Pulses {
            step_us: self.dw_min_us,
        }
    }

    fn needs_gradient(&self) -> bool {
        false
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], ctx: &mut RuleContext<'_>) {
        let Some(f) = input.factors else {
            // Each request its own rank-one update: n ~ Binomial(BL,
            // |ΔG|/(BL Δg_min)), probabilities clipped to 1.
            let full = self.bl as f32 * self.dw_min_us;
            for (o, &r) in out.iter_mut().zip(input.requested_us) {
                *o = 0.0;
                if r == 0.0 {
                    continue;
                }
                ctx.macs(1);
                ctx.random_decisions(u64::from(self.bl));
                let n = pulse_train((r.abs() / full).min(1.0), self.bl, ctx.rng()).count_ones();
                *o = (n as f32 * self.dw_min_us).copysign(r);
            }
            return;
        };
        // Signed coincidence counts first (exact in f32: |count| ≤ 64·P),
        // then one multiply by Δg_min, so rank 1 gives `(n·Δg_min)·sign`.
        out.fill(0.0);
        for p in 0..f.rank {
            let (x, delta) = f.term(p);
            self.term(x, delta, f.scale_us, out, ctx);
        }
        for o in out.iter_mut() {
            *o = (o.abs() * self.dw_min_us).copysign(*o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use crate::{DecisionStats, TileFactors};
    use aimsim_core::stream;

    fn decide_factors(
        rule: &mut StochasticPulse,
        x: &[f32],
        d: &[f32],
        rank: usize,
        s_us: f32,
        out: &mut [f32],
        rng: &mut Rng,
    ) -> DecisionStats {
        let input = RuleInput {
            tile: 0,
            rows: x.len() / rank,
            cols: d.len() / rank,
            requested_us: &[],
            factors: Some(TileFactors {
                x,
                delta: d,
                rank,
                scale_us: s_us,
            }),
        };
        let mut ctx = RuleContext::new(rng);
        rule.decide(&input, out, &mut ctx);
        ctx.costs()
    }

    /// Mean decided update per weight over `n` repetitions of one
    /// rank-`rank` update (`x`: rank × rows, `d`: rank × cols).
    fn mean_stochastic(
        rule: &mut StochasticPulse,
        x: &[f32],
        d: &[f32],
        rank: usize,
        s_us: f32,
        n: usize,
    ) -> Vec<f64> {
        let cells = (x.len() / rank) * (d.len() / rank);
        let mut out = vec![0.0; cells];
        let mut sum = vec![0.0f64; cells];
        let mut rng = stream(7, "sp");
        for _ in 0..n {
            decide_factors(rule, x, d, rank, s_us, &mut out, &mut rng);
            for (a, &o) in sum.iter_mut().zip(&out) {
                *a += f64::from(o);
            }
        }
        sum.iter().map(|a| a / n as f64).collect()
    }

    #[test]
    fn stochastic_pulse_expected_update_is_lr_x_delta() {
        // s = −η·r_wg = −0.02·80 µS. Each cell's decided change is
        // Δg_min·n with n ~ Binomial(BL, p_i q_j), so its mean over N = 40 000
        // repetitions has SE = Δg_min·sqrt(BL·pq(1−pq)/N) ≤ 2·sqrt(31/4/N) =
        // 0.028 µS in the worst case (BL = 31, pq = 1/2); the tolerance is
        // 0.1 µS (3.6 worst-case SE; the actual SE is smaller for most cells).
        let x = [0.1f32, 0.5, 1.0, -0.3, 0.0];
        let d = [0.2f32, -1.0, 0.05];
        let s_us = -0.02 * 80.0;
        for (bl, um, blm, scale) in [
            (31, true, true, 1.0f32),
            (31, true, false, 1.0),
            (31, false, false, 1.0),
            (31, true, true, 20.0),
            (8, true, true, 4.0),
        ] {
            let mut rule = StochasticPulse {
                bl,
                update_management: um,
                bl_management: blm,
                dw_min_us: 2.0,
            };
            let mean = mean_stochastic(&mut rule, &x, &d, 1, s_us * scale, 40_000);
            for (i, &xi) in x.iter().enumerate() {
                for (j, &dj) in d.iter().enumerate() {
                    let want = f64::from(s_us * scale * xi * dj);
                    let got = mean[i * d.len() + j];
                    assert!(
                        (got - want).abs() < 0.1,
                        "BL {bl} um {um} blm {blm} ×{scale}: ({i},{j}) {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn rank_p_expected_update_is_the_sum_of_its_terms() {
        // Three terms on a 3 × 2 tile; each term's count is an independent
        // binomial, so the SE of a cell's mean over N = 40 000 is at most
        // sqrt(3)·0.028 = 0.048 µS (the worst case of the rank-1 test per
        // term); allow 0.15 µS (3 SE). Opposite-sign terms must cancel.
        let x = [0.5f32, -1.0, 0.2, 1.0, 0.3, 0.0, -0.4, 0.9, 0.6];
        let d = [0.4f32, -0.8, 1.0, 0.1, 0.5, 0.5];
        let s_us = -1.6;
        let mut rule = StochasticPulse {
            bl: 31,
            update_management: true,
            bl_management: true,
            dw_min_us: 2.0,
        };
        let mean = mean_stochastic(&mut rule, &x, &d, 3, s_us, 40_000);
        for i in 0..3 {
            for j in 0..2 {
                let want: f32 = (0..3).map(|p| s_us * x[p * 3 + i] * d[p * 2 + j]).sum();
                let got = mean[i * 2 + j];
                assert!(
                    (got - f64::from(want)).abs() < 0.15,
                    "({i},{j}) {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn rank_p_costs_are_the_sum_of_its_terms() {
        let mut rule = StochasticPulse {
            bl: 31,
            update_management: true,
            bl_management: false,
            dw_min_us: 2.0,
        };
        let x = [0.5f32, 0.0, 1.0, 0.0, 0.0, 0.3];
        let d = [0.2f32, -1.0, 0.0, 0.7];
        let mut out = [0.0; 6];
        let s = decide_factors(&mut rule, &x, &d, 2, -1.6, &mut out, &mut stream(1, "t"));
        // Term 0: rows 2 live, columns 2 live; term 1: 1 row, 1 column.
        assert_eq!(s.random_decisions, (4 + 2) * 31);
        assert_eq!(s.macs, 6);
        assert_eq!(s.compares, 2 * (3 + 2));
        assert!(s.coincidence_counts <= 2 * 2 + 1);
    }

    #[test]
    fn stochastic_pulse_charges_its_random_bits() {
        let mut rule = StochasticPulse {
            bl: 31,
            update_management: true,
            bl_management: false,
            dw_min_us: 2.0,
        };
        let x = [0.5f32, 0.0, 1.0];
        let d = [0.2f32, -1.0];
        let mut out = [0.0; 6];
        let s = decide_factors(&mut rule, &x, &d, 1, -1.6, &mut out, &mut stream(1, "t"));
        // Two live rows and two columns, 31 slots each.
        assert_eq!(s.random_decisions, 4 * 31);
        assert!(out[2..4].iter().all(|&o| o == 0.0), "silent row pulsed");
        assert!(!rule.needs_gradient());
    }

    #[test]
    fn without_factors_each_request_is_its_own_update() {
        // N = 40 000 decisions of 1 µS with BL·Δg_min = 62: E = 1 µS, SE =
        // 2·sqrt(31·p(1−p)/N) ≈ 0.0013 µS with p = 1/62; allow 0.01.
        let mut rule = StochasticPulse {
            bl: 31,
            update_management: true,
            bl_management: true,
            dw_min_us: 2.0,
        };
        let n = 40_000;
        let req = vec![-1.0f32; n];
        let mut out = vec![0.0; n];
        let s = decide_plain(&mut rule, &req, &mut out, &mut stream(2, "t"));
        let mean = out.iter().map(|&o| f64::from(o)).sum::<f64>() / n as f64;
        assert!((mean + 1.0).abs() < 0.01, "mean {mean}");
        assert!(out.iter().all(|&o| o <= 0.0 && o % 2.0 == 0.0));
        assert_eq!(s.random_decisions, 31 * n as u64);
    }
}
