//! Update rules: from requested to decided conductance changes.
//!
//! A rule sees either the per-weight requests `ΔG_ij = s·x_i·δ_j` (µS,
//! [`UpdateRule::decide`]) or, where the scheme needs the factors (the
//! row/column pulse trains of `stochastic-pulse`), the outer-product form
//! ([`UpdateRule::decide_outer`], whose default forwards to `decide`). Its
//! [`WriteMode`] tells the engine how a decided change reaches the device.

use aimsim_core::config::Check;
use aimsim_core::{Result, Rng};
use aimsim_device::DeviceModel;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The names `--rule` accepts.
pub const RULE_NAMES: &[&str] = &[
    "eapu",
    "bp",
    "stochastic-pulse",
    "mixed-precision",
    "write-verify",
    "ideal",
];

/// Counts of the digital work a decision pass did, for energy accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionStats {
    /// Requests compared against a threshold or tested for zero.
    pub compares: u64,
    /// Pulse-train coincidences counted digitally (an AND and a popcount of
    /// two BL-bit words, one add-class operation each).
    pub coincidence_counts: u64,
    /// Stochastic decisions (each consumes the chip's random bits per decision).
    pub random_decisions: u64,
    /// Multiplies beyond the per-weight gradient (per-line probabilities).
    pub macs: u64,
    /// 32-bit words read from the periphery SRAM (accumulators).
    pub sram_reads: u64,
    /// 32-bit words written to the periphery SRAM.
    pub sram_writes: u64,
}

/// How the engine turns one decided change into device operations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WriteMode {
    /// One programming operation aimed at the decided ΔG
    /// (`CellArray::program`: the driver shapes the pulses, one write-noise draw).
    Program,
    /// Whole nominal pulses: the decided ΔG is a signed multiple of
    /// `step_us`; the cell gets `round(|ΔG|/step_us)` fixed pulses of its
    /// polarity (`CellArray::pulse`, write noise on every pulse).
    Pulses {
        /// The rule's pulse quantum, µS.
        step_us: f32,
    },
    /// Program, then verify-read and re-program toward the target until the
    /// read is within `tolerance_us − guard_us` of it or the cell has taken
    /// `max_pulses` pulses.
    Verify {
        /// Accepted |G − target|, µS.
        tolerance_us: f32,
        /// Margin against read noise: a read must be within
        /// `tolerance_us − guard_us` to be accepted, µS.
        guard_us: f32,
        /// Pulse budget of one cell's write.
        max_pulses: u32,
    },
}

/// One tile's update in outer-product form: `requested_us[i·cols + j] =
/// scale_us · x[i] · delta[j]`.
#[derive(Clone, Copy, Debug)]
pub struct OuterUpdate<'a> {
    /// The tile (index of per-tile rule state).
    pub tile: usize,
    /// Row (input) activations, one per weight row.
    pub x: &'a [f32],
    /// Column errors, one per weight column.
    pub delta: &'a [f32],
    /// `−η · r_wg`, µS per unit of `x·δ`.
    pub scale_us: f32,
    /// The per-weight requests, µS (row-major, `x.len() × delta.len()`).
    pub requested_us: &'a [f32],
}

/// A write scheduler.
pub trait UpdateRule: Send {
    /// The rule's name (`"eapu"`).
    fn name(&self) -> &'static str;

    /// Whether the rule writes a device (false for `ideal`).
    fn uses_device(&self) -> bool {
        true
    }

    /// How decided changes are written (default: one programming operation).
    fn write_mode(&self) -> WriteMode {
        WriteMode::Program
    }

    /// Whether the digital gradient unit forms every `ΔG_ij` (one MAC per
    /// weight); false where the array forms the product itself.
    fn needs_gradient(&self) -> bool {
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

    /// Decides a tile's update given its outer-product factors. The default
    /// decides on `u.requested_us` alone.
    fn decide_outer(
        &mut self,
        u: &OuterUpdate<'_>,
        decided_us: &mut [f32],
        rng: &mut Rng,
    ) -> DecisionStats {
        self.decide(u.requested_us, decided_us, rng)
    }
}

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
    /// Parameters of `stochastic-pulse`.
    #[serde(default, rename = "stochastic-pulse")]
    pub stochastic_pulse: RawStochasticPulse,
    /// Parameters of `mixed-precision`.
    #[serde(default, rename = "mixed-precision")]
    pub mixed_precision: RawMixedPrecision,
    /// Parameters of `write-verify`.
    #[serde(default, rename = "write-verify")]
    pub write_verify: RawWriteVerify,
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
            stochastic_pulse: RawStochasticPulse::default(),
            mixed_precision: RawMixedPrecision::default(),
            write_verify: RawWriteVerify::default(),
        }
    }
}

/// Checks the parts of `raw` that do not depend on the device: the rule's
/// name and every parameter given explicitly (chip-file validation).
pub fn check_rule(c: &Check, raw: &RawRule) -> Result<()> {
    if !RULE_NAMES.contains(&raw.name.as_str()) {
        return Err(c.err(
            "name",
            format!(
                "unknown rule `{}`; expected one of {}",
                raw.name,
                RULE_NAMES.join(", ")
            ),
        ));
    }
    if let Some(t) = raw.eapu.threshold_us {
        c.section("eapu").positive("threshold_us", t)?;
    }
    let sp = c.section("stochastic-pulse");
    sp.int_range("bl", raw.stochastic_pulse.bl.into(), 1, 64)?;
    if let Some(d) = raw.stochastic_pulse.dw_min_us {
        sp.positive("dw_min_us", d)?;
    }
    let mp = c.section("mixed-precision");
    if let Some(e) = raw.mixed_precision.epsilon_us {
        mp.positive("epsilon_us", e)?;
    }
    mp.int_range(
        "chi_frac_bits",
        raw.mixed_precision.chi_frac_bits.into(),
        0,
        24,
    )?;
    let wv = c.section("write-verify");
    let w = &raw.write_verify;
    if let Some(t) = w.tolerance_us {
        wv.positive("tolerance_us", t)?;
    }
    if let Some(g) = w.guard_us {
        wv.non_negative("guard_us", g)?;
    }
    if let (Some(t), Some(g)) = (w.tolerance_us, w.guard_us) {
        if g >= t {
            return Err(wv.err("guard_us", format!("must be below tolerance_us ({t})")));
        }
    }
    wv.int_range("max_pulses", w.max_pulses.into(), 1, 1 << 20)?;
    Ok(())
}

/// Builds the rule named in `raw` for `model`, validating its parameters;
/// parameters left out take their device-derived defaults.
pub fn build_rule(c: &Check, raw: &RawRule, model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
    check_rule(c, raw)?;
    let step_us = 0.5 * (model.step_set_us + model.step_reset_us);
    Ok(match raw.name.as_str() {
        "eapu" => Box::new(Eapu {
            threshold_us: raw
                .eapu
                .threshold_us
                .map_or(model.write_noise_us, |t| t as f32),
        }),
        "bp" => Box::new(Bp {
            round_to_step_us: raw.bp.round_to_pulses.then_some(step_us),
        }),
        "stochastic-pulse" => {
            let r = &raw.stochastic_pulse;
            Box::new(StochasticPulse {
                bl: r.bl,
                update_management: r.update_management,
                bl_management: r.bl_management,
                dw_min_us: r.dw_min_us.map_or(step_us, |d| d as f32),
            })
        }
        "mixed-precision" => {
            let r = &raw.mixed_precision;
            Box::new(MixedPrecision::new(
                r.epsilon_us.map_or(step_us, |e| e as f32),
                r.chi_frac_bits,
            ))
        }
        "write-verify" => {
            let w = &raw.write_verify;
            let tol = w.tolerance_us.map_or(
                if model.write_noise_us > 0.0 {
                    model.write_noise_us
                } else {
                    step_us
                },
                |t| t as f32,
            );
            let guard = w
                .guard_us
                .map_or((2.0 * model.read_noise_us).min(0.5 * tol), |g| g as f32);
            if guard >= tol {
                return Err(c.section("write-verify").err(
                    "guard_us",
                    format!("must be below the tolerance ({tol} µS)"),
                ));
            }
            Box::new(WriteVerify {
                tolerance_us: tol,
                guard_us: guard,
                max_pulses: w.max_pulses,
            })
        }
        _ => Box::new(Ideal),
    })
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

/// Plain backprop on memristors: write every non-zero request, either as
/// one programming operation aimed at ΔG or, with `round_to_step_us`, as
/// `round(ΔG/step)` whole pulses (changes below half a step are lost).
#[derive(Clone, Debug)]
pub struct Bp {
    /// The pulse step ΔG is rounded to, µS; `None` programs ΔG as asked.
    pub round_to_step_us: Option<f32>,
}

impl UpdateRule for Bp {
    fn name(&self) -> &'static str {
        "bp"
    }

    fn write_mode(&self) -> WriteMode {
        match self.round_to_step_us {
            Some(step_us) => WriteMode::Pulses { step_us },
            None => WriteMode::Program,
        }
    }

    fn decide(&mut self, req: &[f32], out: &mut [f32], _rng: &mut Rng) -> DecisionStats {
        match self.round_to_step_us {
            None => out.copy_from_slice(req),
            Some(step) => {
                for (o, &r) in out.iter_mut().zip(req) {
                    *o = (r / step).round() * step;
                }
            }
        }
        DecisionStats {
            compares: req.len() as u64,
            ..DecisionStats::default()
        }
    }
}

/// Stochastic pulse-train update (Gokmen & Vlasov 2016, as IBM aihwkit's
/// pulsed updater implements it). Row `i` carries a train of BL slots each
/// firing with `p_i = C_x|x_i|`, column `j` one with `q_j = C_δ|δ_j|`; a
/// cell receives one pulse of `±Δg_min` per coincidence, so its pulse count
/// is `n ~ Binomial(BL, p_i q_j)` and `E[n·Δg_min] = BL C_x C_δ |x_i δ_j|
/// Δg_min = |s x_i δ_j|` with `C_x C_δ = |s|/(BL Δg_min)`. Update
/// management sets `C_x = C·sqrt(δ_max/x_max)`, `C_δ = C·sqrt(x_max/δ_max)`
/// so both largest probabilities are equal; BL management shortens BL to
/// `⌈|s| x_max δ_max / Δg_min⌉` so that they stay ≤ 1. Probabilities above
/// 1 are clipped (then the update is biased low, as in the hardware).
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
    fn name(&self) -> &'static str {
        "stochastic-pulse"
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Pulses {
            step_us: self.dw_min_us,
        }
    }

    fn needs_gradient(&self) -> bool {
        false
    }

    /// Without the factors, each request is its own rank-one update
    /// (`x = ΔG/s`, `δ = 1` with `s = BL·Δg_min`): `n ~ Binomial(BL,
    /// |ΔG|/(BL Δg_min))`, probabilities clipped to 1.
    fn decide(&mut self, req: &[f32], out: &mut [f32], rng: &mut Rng) -> DecisionStats {
        let mut s = DecisionStats::default();
        let full = self.bl as f32 * self.dw_min_us;
        for (o, &r) in out.iter_mut().zip(req) {
            *o = 0.0;
            if r == 0.0 {
                continue;
            }
            s.macs += 1;
            s.random_decisions += u64::from(self.bl);
            let n = pulse_train((r.abs() / full).min(1.0), self.bl, rng).count_ones();
            *o = (n as f32 * self.dw_min_us).copysign(r);
        }
        s
    }

    fn decide_outer(
        &mut self,
        u: &OuterUpdate<'_>,
        out: &mut [f32],
        rng: &mut Rng,
    ) -> DecisionStats {
        let mut s = DecisionStats::default();
        out.fill(0.0);
        let x_max = u.x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d_max = u.delta.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        s.compares = (u.x.len() + u.delta.len()) as u64;
        if x_max == 0.0 || d_max == 0.0 || u.scale_us == 0.0 {
            return s;
        }
        let (bl, cx, cd) = self.scales(u.scale_us, x_max, d_max);
        // One train per driven line; a line with zero input stays silent.
        let mut draw = |v: f32, c: f32, s: &mut DecisionStats| {
            if v == 0.0 {
                return 0;
            }
            s.macs += 1;
            s.random_decisions += u64::from(bl);
            pulse_train((c * v.abs()).min(1.0), bl, rng)
        };
        let rows: Vec<u64> = u.x.iter().map(|&v| draw(v, cx, &mut s)).collect();
        let cols: Vec<u64> = u.delta.iter().map(|&v| draw(v, cd, &mut s)).collect();
        // This chip's drivers pulse a row's cells by mask and count (at most
        // `max_parallel` at once), not all lines at once, so the controller
        // counts each live (row, column) pair's coincidences digitally: an
        // AND and a popcount of two BL-bit words, one add-class operation.
        let live_cols = cols.iter().filter(|&&m| m != 0).count() as u64;
        let cols_n = u.delta.len();
        for ((row_out, &mr), &xi) in out.chunks_exact_mut(cols_n).zip(&rows).zip(u.x) {
            if mr == 0 {
                continue;
            }
            s.coincidence_counts += live_cols;
            let sx = u.scale_us * xi;
            for ((o, &mc), &dj) in row_out.iter_mut().zip(&cols).zip(u.delta) {
                let n = (mr & mc).count_ones();
                if n > 0 {
                    *o = (n as f32 * self.dw_min_us).copysign(sx * dj);
                }
            }
        }
        s
    }
}

/// Mixed-precision update (Nandakumar et al. 2020): a digital accumulator
/// χ per weight collects every request; when `|χ| ≥ ε` the whole pulses
/// `n = trunc(χ/ε)` are transferred to the device and `n·ε` leaves χ. χ is
/// a 32-bit fixed-point word (LSB `ε/2^frac_bits`) in periphery SRAM, so
/// its books balance exactly: `Σ requests (rounded to the LSB) = χ +
/// Σ transferred`. Each non-zero request costs one SRAM read and write.
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

    fn accumulate(&mut self, tile: usize, req: &[f32], out: &mut [f32]) -> DecisionStats {
        if self.chi.len() <= tile {
            self.chi.resize(tile + 1, Vec::new());
        }
        let lsb = self.lsb_us();
        let one = 1i64 << self.frac_bits;
        let chi = &mut self.chi[tile];
        chi.resize(req.len(), 0);
        let mut s = DecisionStats::default();
        for ((o, c), &r) in out.iter_mut().zip(chi.iter_mut()).zip(req) {
            *o = 0.0;
            if r == 0.0 {
                continue;
            }
            s.sram_reads += 1;
            s.sram_writes += 1;
            s.compares += 1;
            let q = (f64::from(r) / lsb).round() as i64;
            let acc = (i64::from(*c) + q).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
            // Truncation toward zero: |χ| < ε stays in the accumulator.
            let n = acc / one;
            *c = (acc - n * one) as i32;
            if n != 0 {
                *o = n as f32 * self.epsilon_us;
            }
        }
        s
    }
}

impl UpdateRule for MixedPrecision {
    fn name(&self) -> &'static str {
        "mixed-precision"
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Pulses {
            step_us: self.epsilon_us,
        }
    }

    fn decide(&mut self, req: &[f32], out: &mut [f32], _rng: &mut Rng) -> DecisionStats {
        self.accumulate(0, req, out)
    }

    fn decide_outer(
        &mut self,
        u: &OuterUpdate<'_>,
        out: &mut [f32],
        _rng: &mut Rng,
    ) -> DecisionStats {
        self.accumulate(u.tile, u.requested_us, out)
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
    fn name(&self) -> &'static str {
        "write-verify"
    }

    fn write_mode(&self) -> WriteMode {
        WriteMode::Verify {
            tolerance_us: self.tolerance_us,
            guard_us: self.guard_us,
            max_pulses: self.max_pulses,
        }
    }

    fn decide(&mut self, req: &[f32], out: &mut [f32], _rng: &mut Rng) -> DecisionStats {
        out.copy_from_slice(req);
        DecisionStats {
            compares: req.len() as u64,
            ..DecisionStats::default()
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
    use aimsim_device::builtin_device;

    fn model(over: &[(&str, &str)]) -> DeviceModel {
        builtin_device("eapu-180nm", &aimsim_core::config::overrides(over)).unwrap()
    }

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
        let e = check_rule(&Check::new("chip.json").section("rule"), &raw)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("field `rule.name`") && e.contains("magic"),
            "{e}"
        );
    }

    #[test]
    fn defaults_come_from_the_device() {
        let m = model(&[("step_set_us", "1.5"), ("step_reset_us", "2.5")]);
        let c = Check::new("chip.json").section("rule");
        let mut raw = RawRule::default();
        assert_eq!(build_rule(&c, &raw, &m).unwrap().name(), "eapu");
        // ΔG_th = σ_w = 2.4 unless given: a 2.2 µS request is sub-threshold.
        let mut out = [0.0];
        let mut rng = stream(1, "t");
        build_rule(&c, &raw, &m)
            .unwrap()
            .decide(&[2.2], &mut out, &mut rng);
        assert!(out[0] == 0.0 || out[0] == 2.4, "{}", out[0]);
        raw.eapu.threshold_us = Some(2.0);
        build_rule(&c, &raw, &m)
            .unwrap()
            .decide(&[2.2], &mut out, &mut rng);
        assert_eq!(out[0], 2.2);
        for name in RULE_NAMES {
            raw.name = name.to_string();
            let r = build_rule(&c, &raw, &m).unwrap();
            assert_eq!(r.name(), *name);
            let want = match *name {
                "stochastic-pulse" | "mixed-precision" => WriteMode::Pulses { step_us: 2.0 },
                "write-verify" => WriteMode::Verify {
                    tolerance_us: 2.4,
                    guard_us: 1.0,
                    max_pulses: 64,
                },
                _ => WriteMode::Program,
            };
            assert_eq!(r.write_mode(), want, "{name}");
        }
        raw.name = "write-verify".into();
        raw.write_verify.tolerance_us = Some(0.5);
        raw.write_verify.guard_us = Some(0.5);
        let e = build_rule(&c, &raw, &m).err().unwrap().to_string();
        assert!(e.contains("rule.write-verify.guard_us"), "{e}");
        raw.write_verify.guard_us = None;
        raw.stochastic_pulse.bl = 65;
        let e = build_rule(&c, &raw, &m).err().unwrap().to_string();
        assert!(e.contains("rule.stochastic-pulse.bl"), "{e}");
    }

    #[test]
    fn rounded_bp_loses_sub_half_step_updates() {
        let mut rule = Bp {
            round_to_step_us: Some(2.0),
        };
        let mut out = [9.0; 5];
        rule.decide(&[0.9, -0.99, 1.1, -3.2, 5.0], &mut out, &mut stream(1, "t"));
        assert_eq!(out, [0.0, 0.0, 2.0, -4.0, 6.0]);
        assert_eq!(rule.write_mode(), WriteMode::Pulses { step_us: 2.0 });
    }

    /// Mean decided update per weight over `n` repetitions of one outer product.
    fn mean_stochastic(
        rule: &mut StochasticPulse,
        x: &[f32],
        d: &[f32],
        s_us: f32,
        n: usize,
    ) -> Vec<f64> {
        let req: Vec<f32> = x
            .iter()
            .flat_map(|&xi| d.iter().map(move |&dj| s_us * xi * dj))
            .collect();
        let mut out = vec![0.0; req.len()];
        let mut sum = vec![0.0f64; req.len()];
        let mut rng = stream(7, "sp");
        for _ in 0..n {
            let u = OuterUpdate {
                tile: 0,
                x,
                delta: d,
                scale_us: s_us,
                requested_us: &req,
            };
            rule.decide_outer(&u, &mut out, &mut rng);
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
            let mean = mean_stochastic(&mut rule, &x, &d, s_us * scale, 40_000);
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
    fn stochastic_pulse_charges_its_random_bits() {
        let mut rule = StochasticPulse {
            bl: 31,
            update_management: true,
            bl_management: false,
            dw_min_us: 2.0,
        };
        let x = [0.5f32, 0.0, 1.0];
        let d = [0.2f32, -1.0];
        let req = [0.0f32; 6];
        let u = OuterUpdate {
            tile: 0,
            x: &x,
            delta: &d,
            scale_us: -1.6,
            requested_us: &req,
        };
        let mut out = [0.0; 6];
        let s = rule.decide_outer(&u, &mut out, &mut stream(1, "t"));
        // Two live rows and two columns, 31 slots each.
        assert_eq!(s.random_decisions, 4 * 31);
        assert!(out[2..4].iter().all(|&o| o == 0.0), "silent row pulsed");
        assert!(!rule.needs_gradient());
    }

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
            let s = rule.decide(&req, &mut out, &mut rng);
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
}
