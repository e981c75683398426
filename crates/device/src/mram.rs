//! STT-MRAM: binary magnetic tunnel junctions that switch stochastically.
//!
//! A cell is parallel (P, low resistance `R_P`) or antiparallel (AP,
//! `R_AP = R_P (1 + TMR)`). A write pulse of current `I` and width `t`
//! switches it with probability (`i = I/I_c0`, `Δ` the thermal stability,
//! `τ₀` the attempt time, `τ_D` the precession time constant):
//!
//! * thermal activation, `i ≤ 1` (Koch, Katine, Sun, Phys. Rev. Lett. 92,
//!   088302 (2004)): `P_th = 1 − exp(−(t/τ₀) exp(−Δ(1 − i)))`;
//! * precessional, `i > 1` (Sun, Phys. Rev. B 62, 570 (2000); switching
//!   distribution of Butler et al., IEEE Trans. Magn. 48, 4684 (2012),
//!   thermal initial angle `θ₀` with `P(θ₀ > θ) = exp(−Δθ²)`):
//!   `P_pr = exp(−(π²Δ/4) exp(−2(i − 1)t/τ_D))`;
//! * the model: `P(I, t) = max(P_th(min(i, 1), t), P_pr(i, t))`, which is
//!   continuous at `i = 1` to within `P_th(1, t) = 1 − e^{−t/τ₀}`,
//!   non-decreasing in `I` and in `t`.
//!
//! A read at current `I_r` for `t_r` disturbs (switches) a cell with
//! `P_th(I_r/I_c0, t_r)`. A pulse costs `I² R t` in the cell (`R` of the
//! state it starts from). The pulse that realises a wanted probability `p`
//! at the file's width is found by bisection on `I`
//! ([`SttMram::current_for_probability_ua`]): this is how EaPU's
//! probabilistic write is done by the junction itself, with no digital
//! random bits ([`MramCells::eapu_write`]).
//!
//! Weights: a differential pair of groups of `cells_per_weight` binary
//! cells, `W = (n⁺ − n⁻)/cells_per_weight · w_max` with `n±` the P cells of
//! each group (the representation the arrays of this module store; the
//! chip-level engine does not run MRAM tiles yet).

use crate::Result;
use aimsim_core::config::{self, Check};
use aimsim_core::Rng;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The schema tag of an STT-MRAM device file.
pub const MRAM_SCHEMA: &str = "aimsim.mram/1";

/// The built-in STT-MRAM device files, embedded from `devices/`.
pub const BUILTIN_MRAM: &[(&str, &str)] = &[(
    "stt-mram-pmtj",
    include_str!("../../../devices/stt-mram-pmtj.mram.json"),
)];

/// An STT-MRAM device file as written on disk (`aimsim.mram/1`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSttMram {
    /// Must be `aimsim.mram/1`.
    pub schema: String,
    /// Short name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Where each parameter comes from.
    #[serde(default)]
    pub provenance: serde_json::Value,
    /// Thermal stability factor `Δ = E_b/k_BT`.
    pub thermal_stability: f64,
    /// Critical switching current `I_c0`, µA.
    pub critical_current_ua: f64,
    /// Attempt time `τ₀`, s.
    pub attempt_time_s: f64,
    /// Precession time constant `τ_D`, s.
    pub precession_time_s: f64,
    /// Parallel-state resistance, Ω.
    pub r_parallel_ohm: f64,
    /// Tunnel magnetoresistance ratio `(R_AP − R_P)/R_P`.
    pub tmr: f64,
    /// Width of one write pulse, s.
    pub pulse_width_s: f64,
    /// Read current, µA.
    pub read_current_ua: f64,
    /// Read duration, s.
    pub read_time_s: f64,
    /// Binary cells per weight on each side of the differential pair.
    pub cells_per_weight: u32,
    /// Median write pulses to failure (barrier breakdown).
    pub endurance_median_pulses: f64,
    /// Probability that a deterministic-intent write pulse fails to switch
    /// a junction; sets the write current of `bp`-style writes (default
    /// 1e-6).
    #[serde(default = "default_write_error_rate")]
    pub write_error_rate: f64,
}

fn default_write_error_rate() -> f64 {
    1e-6
}

/// A validated STT-MRAM model (equations in the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct SttMram {
    /// Short name.
    pub name: String,
    /// Sources of the parameters.
    pub provenance: serde_json::Value,
    /// `Δ`.
    pub thermal_stability: f64,
    /// `I_c0`, µA.
    pub critical_current_ua: f64,
    /// `τ₀`, s.
    pub attempt_time_s: f64,
    /// `τ_D`, s.
    pub precession_time_s: f64,
    /// `R_P`, Ω.
    pub r_parallel_ohm: f64,
    /// TMR ratio.
    pub tmr: f64,
    /// Write pulse width, s.
    pub pulse_width_s: f64,
    /// Read current, µA.
    pub read_current_ua: f64,
    /// Read duration, s.
    pub read_time_s: f64,
    /// Binary cells per weight per side.
    pub cells_per_weight: u32,
    /// Median pulses to failure.
    pub endurance_median_pulses: f64,
    /// Switching failure probability of a deterministic-intent write pulse.
    pub write_error_rate: f64,
}

/// The largest write current the pulse search considers, in units of `I_c0`.
const MAX_OVERDRIVE: f64 = 20.0;

impl SttMram {
    /// Parses and validates an MRAM device file, with `(path, value)` overrides.
    pub fn from_json(file: &str, text: &str, overrides: &[(String, String)]) -> Result<Self> {
        let mut tree = config::parse_tree(file, text)?;
        for (path, value) in overrides {
            config::apply_override(&mut tree, path, value)?;
        }
        let raw: RawSttMram = config::from_tree(file, tree)?;
        SttMram::validate(file, raw)
    }

    /// Validates a raw MRAM device, naming the field of any impossible value.
    pub fn validate(file: &str, raw: RawSttMram) -> Result<Self> {
        let c = Check::new(file);
        if raw.schema != MRAM_SCHEMA {
            return Err(c
                .err(
                    "schema",
                    format!("expected \"{MRAM_SCHEMA}\", got \"{}\"", raw.schema),
                )
                .into());
        }
        c.range("thermal_stability", raw.thermal_stability, 1.0, 500.0)?;
        c.range("critical_current_ua", raw.critical_current_ua, 1e-3, 1e5)?;
        c.range("attempt_time_s", raw.attempt_time_s, 1e-15, 1e-3)?;
        c.range("precession_time_s", raw.precession_time_s, 1e-15, 1e-3)?;
        c.range("r_parallel_ohm", raw.r_parallel_ohm, 1.0, 1e9)?;
        c.range("tmr", raw.tmr, 0.0, 100.0)?;
        c.range("pulse_width_s", raw.pulse_width_s, 1e-15, 1.0)?;
        c.range(
            "read_current_ua",
            raw.read_current_ua,
            0.0,
            raw.critical_current_ua,
        )?;
        c.range("read_time_s", raw.read_time_s, 0.0, 1.0)?;
        c.int_range("cells_per_weight", u64::from(raw.cells_per_weight), 1, 1024)?;
        c.range(
            "endurance_median_pulses",
            raw.endurance_median_pulses,
            1.0,
            1e18,
        )?;
        c.range("write_error_rate", raw.write_error_rate, 1e-15, 0.5)?;
        Ok(SttMram {
            name: raw.name,
            provenance: raw.provenance,
            thermal_stability: raw.thermal_stability,
            critical_current_ua: raw.critical_current_ua,
            attempt_time_s: raw.attempt_time_s,
            precession_time_s: raw.precession_time_s,
            r_parallel_ohm: raw.r_parallel_ohm,
            tmr: raw.tmr,
            pulse_width_s: raw.pulse_width_s,
            read_current_ua: raw.read_current_ua,
            read_time_s: raw.read_time_s,
            cells_per_weight: raw.cells_per_weight,
            endurance_median_pulses: raw.endurance_median_pulses,
            write_error_rate: raw.write_error_rate,
        })
    }

    /// Conductance of a parallel junction, `1/R_P`, µS.
    pub fn g_parallel_us(&self) -> f64 {
        1e6 / self.r_parallel_ohm
    }

    /// Conductance of an antiparallel junction, `1/(R_P (1 + TMR))`, µS.
    pub fn g_antiparallel_us(&self) -> f64 {
        1e6 / (self.r_parallel_ohm * (1.0 + self.tmr))
    }

    /// Conductance change of one junction switching, `G_P − G_AP`, µS:
    /// the quantum of a group's conductance.
    pub fn junction_step_us(&self) -> f64 {
        self.g_parallel_us() - self.g_antiparallel_us()
    }

    /// The current of a deterministic-intent write pulse, µA: the pulse that
    /// switches with probability `1 − write_error_rate`.
    pub fn write_current_ua(&self) -> f64 {
        self.current_for_probability_ua(1.0 - self.write_error_rate)
    }

    /// Thermally activated switching probability at `i = I/I_c0 ≤ 1`.
    pub fn thermal_probability(&self, i: f64, width_s: f64) -> f64 {
        let rate = (-self.thermal_stability * (1.0 - i.min(1.0))).exp() / self.attempt_time_s;
        -(-width_s * rate).exp_m1()
    }

    /// Precessional switching probability at `i = I/I_c0 > 1` (0 at `i ≤ 1`).
    pub fn precessional_probability(&self, i: f64, width_s: f64) -> f64 {
        if i <= 1.0 {
            return 0.0;
        }
        let decay = (-2.0 * (i - 1.0) * width_s / self.precession_time_s).exp();
        (-std::f64::consts::PI.powi(2) / 4.0 * self.thermal_stability * decay).exp()
    }

    /// Switching probability of one pulse of `current_ua` for `width_s`.
    pub fn switching_probability(&self, current_ua: f64, width_s: f64) -> f64 {
        let i = current_ua.abs() / self.critical_current_ua;
        self.thermal_probability(i, width_s)
            .max(self.precessional_probability(i, width_s))
    }

    /// `1 − P(I, t)`, computed without cancellation near `P = 1`.
    pub fn non_switching_probability(&self, current_ua: f64, width_s: f64) -> f64 {
        let i = current_ua.abs() / self.critical_current_ua;
        let rate = (-self.thermal_stability * (1.0 - i.min(1.0))).exp() / self.attempt_time_s;
        let q_th = (-width_s * rate).exp();
        let q_pr = if i <= 1.0 {
            1.0
        } else {
            let decay = (-2.0 * (i - 1.0) * width_s / self.precession_time_s).exp();
            -(-std::f64::consts::PI.powi(2) / 4.0 * self.thermal_stability * decay).exp_m1()
        };
        q_th.min(q_pr)
    }

    /// The pulse current (µA) at the file's width that switches a cell with
    /// probability `p`, to 1e-9 relative: the smallest current with
    /// `P(I) ≥ p` and at most 1e-9 above it. `p` ≤ 0 gives 0 µA, a `p`
    /// beyond reach the largest current searched, 20 `I_c0`.
    ///
    /// `P = max(P_th, P_pr)` is the larger of two increasing functions, so
    /// that current is the smaller of their inverses, each in closed form
    /// ([`SttMram::closed_form_current`]); the result is `5·10⁻¹⁰` above
    /// it, checked to switch with more than `p` while `5·10⁻¹⁰` below it
    /// does not (two evaluations of `P`). Where the check fails (a `P`
    /// too flat for either side to tell, or extreme parameters), a
    /// bisection on `[0, 20 I_c0]` to 1e-9 relative decides (about 40
    /// evaluations: it was the only method until 2026-11-26, when an
    /// EaPU step on `stt-mram-pmtj` spent 90 % of its time here).
    pub fn current_for_probability_ua(&self, p: f64) -> f64 {
        if p <= 0.0 {
            return 0.0;
        }
        let top = MAX_OVERDRIVE * self.critical_current_ua;
        let w = self.pulse_width_s;
        if let Some(root) = self.closed_form_current(p) {
            let (above, below) = (root * (1.0 + 5e-10), root * (1.0 - 5e-10));
            // `P(above) > p` also says `P(top) > p` (P increases): `top`
            // is not the answer, with no evaluation at `top`.
            if root > 0.0
                && above < top
                && self.switching_probability(above, w) > p
                && self.switching_probability(below, w) < p
            {
                return above;
            }
        }
        if self.switching_probability(top, w) <= p {
            return top;
        }
        self.bisect_current_ua(p)
    }

    /// The current where `P(I) = p` from the inverses of the two
    /// mechanisms (`None` if neither gives a finite one):
    /// thermal, `i = 1 + ln(−ln(1 − p)·τ₀/t)/Δ` for `p` below its plateau
    /// `1 − e^(−t/τ₀)` (`i ≤ 1`); precessional,
    /// `i = 1 − τ_p/(2t)·ln(−4 ln p/(π²Δ))` (`i > 1`); the smaller, times
    /// `I_c0`.
    pub fn closed_form_current(&self, p: f64) -> Option<f64> {
        let (delta, w) = (self.thermal_stability, self.pulse_width_s);
        let x = -(-p).ln_1p(); // −ln(1 − p)
        let i_th = 1.0 + (x * self.attempt_time_s / w).ln() / delta;
        let i_th = (i_th.is_finite() && i_th <= 1.0).then_some(i_th.max(0.0));
        let y = -4.0 * p.ln() / (std::f64::consts::PI.powi(2) * delta);
        let i_pr = 1.0 - self.precession_time_s / (2.0 * w) * y.ln();
        let i_pr = (i_pr.is_finite() && i_pr > 1.0).then_some(i_pr);
        let i = match (i_th, i_pr) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(i * self.critical_current_ua)
    }

    /// [`SttMram::current_for_probability_ua`] by bisection on
    /// `[0, 20 I_c0]` to 1e-9 relative (for `p` within reach).
    fn bisect_current_ua(&self, p: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, MAX_OVERDRIVE * self.critical_current_ua);
        while hi - lo > 1e-9 * hi {
            let mid = 0.5 * (lo + hi);
            if self.switching_probability(mid, self.pulse_width_s) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }

    /// Probability that one read switches a cell.
    pub fn read_disturb_probability(&self) -> f64 {
        self.thermal_probability(
            self.read_current_ua / self.critical_current_ua,
            self.read_time_s,
        )
    }

    /// Cell energy of one pulse of `current_ua` on a cell starting
    /// parallel (`from_parallel`) or antiparallel: `I² R t`, pJ.
    pub fn pulse_energy_pj(&self, current_ua: f64, from_parallel: bool) -> f64 {
        let r = if from_parallel {
            self.r_parallel_ohm
        } else {
            self.r_parallel_ohm * (1.0 + self.tmr)
        };
        let i_a = current_ua * 1e-6;
        i_a * i_a * r * self.pulse_width_s * 1e12
    }
}

impl crate::DeviceModel {
    /// The model the chip engine runs an STT-MRAM device with: each cell of
    /// a [`CellArray`](crate::CellArray) is a group of `N =
    /// cells_per_weight` binary junctions read in parallel, so a weight is
    /// a differential pair of groups, `W = (G⁺ − G⁻)/R_wg` with
    /// `G = n_P·G_P + (N − n_P)·G_AP`. The window is `[N·G_AP, N·G_P]`,
    /// one step is one junction switching (`G_P − G_AP`), and `r_wg =
    /// N·(G_P − G_AP)` so a weight spans `[−1, 1]` in steps of `1/N`.
    /// The analog noise terms are zero (a junction is either state: its
    /// randomness is whether it switches); endurance and read disturb are
    /// the junctions' (`mram`), not the per-cell endurance of analog
    /// devices, which is left unbounded.
    pub fn from_mram(m: SttMram) -> crate::DeviceModel {
        let n = f64::from(m.cells_per_weight);
        let (g_ap, step) = (m.g_antiparallel_us(), m.junction_step_us());
        let g_min = (n * g_ap) as f32;
        let g_max = (n * m.g_parallel_us()) as f32;
        crate::DeviceModel {
            name: m.name.clone(),
            provenance: m.provenance.clone(),
            g_min_us: g_min,
            g_max_us: g_max,
            r_wg_us: (n * step) as f32,
            pulse_model: crate::PulseModel::Linear,
            fefet: None,
            step_set_us: step as f32,
            step_reset_us: step as f32,
            nonlinearity_set: 0.0,
            nonlinearity_reset: 0.0,
            write_noise_us: 0.0,
            c2c_noise_us: 0.0,
            c2c_noise_rel: 0.0,
            d2d_step_sigma_log: 0.0,
            d2d_g_min_us: 0.0,
            d2d_g_max_us: 0.0,
            d2d_nonlinearity_rel: 0.0,
            read_noise_us: 0.0,
            relax_rate_per_decade: 0.0,
            relax_rest_us: 0.5 * (g_min + g_max),
            relax_t0_s: crate::params::RELAX_T0_DEFAULT_S,
            relax_noise_us: 0.0,
            endurance_median_pulses: f64::from(u32::MAX),
            endurance_sigma_log: 0.0,
            stuck_at_min_fraction: 0.0,
            stuck_at_max_fraction: 0.0,
            mram: Some(m),
        }
    }

    /// Whether the cells are groups of binary STT-MRAM junctions.
    pub fn is_binary(&self) -> bool {
        self.mram.is_some()
    }
}

/// The names of the built-in MRAM devices.
pub fn builtin_mram_devices() -> impl Iterator<Item = &'static str> {
    BUILTIN_MRAM.iter().map(|(n, _)| *n)
}

/// A built-in MRAM device by name, with overrides applied.
pub fn builtin_mram(name: &str, overrides: &[(String, String)]) -> Result<SttMram> {
    let (n, text) = BUILTIN_MRAM
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| crate::DeviceError::UnknownDevice {
            name: name.to_string(),
            known: builtin_mram_devices().collect::<Vec<_>>().join(", "),
        })?;
    SttMram::from_json(&format!("<built-in device {n}>"), text, overrides)
}

/// What one write pulse did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MramPulse {
    /// Pulse current, µA (0: no pulse was needed).
    pub current_ua: f64,
    /// Cell energy, pJ.
    pub energy_pj: f64,
    /// Whether the cell switched.
    pub switched: bool,
}

/// Binary STT-MRAM cells: `true` is parallel (low resistance).
#[derive(Clone, Debug)]
pub struct MramCells {
    parallel: Vec<bool>,
    pulses: Vec<u64>,
}

impl MramCells {
    /// `n` cells, all antiparallel.
    pub fn new(n: usize) -> Self {
        MramCells {
            parallel: vec![false; n],
            pulses: vec![0; n],
        }
    }

    /// Cell states (`true`: parallel).
    pub fn states(&self) -> &[bool] {
        &self.parallel
    }

    /// Write pulses applied to each cell.
    pub fn pulses(&self) -> &[u64] {
        &self.pulses
    }

    /// Applies one pulse of `current_ua` driving `cell` toward `to_parallel`;
    /// a cell already there does not move (no pulse is applied, none charged).
    pub fn pulse(
        &mut self,
        model: &SttMram,
        cell: usize,
        to_parallel: bool,
        current_ua: f64,
        rng: &mut Rng,
    ) -> MramPulse {
        if self.parallel[cell] == to_parallel || current_ua <= 0.0 {
            return MramPulse {
                current_ua: 0.0,
                energy_pj: 0.0,
                switched: false,
            };
        }
        let p = model.switching_probability(current_ua, model.pulse_width_s);
        let u: f64 = rng.random();
        // A junction that has taken its endurance in pulses (barrier
        // breakdown) takes the pulse but no longer switches.
        let worn = self.pulses[cell] as f64 >= model.endurance_median_pulses;
        let switched = u < p && !worn;
        let energy_pj = model.pulse_energy_pj(current_ua, self.parallel[cell]);
        self.pulses[cell] += 1;
        if switched {
            self.parallel[cell] = to_parallel;
        }
        MramPulse {
            current_ua,
            energy_pj,
            switched,
        }
    }

    /// EaPU's probabilistic write realised by the junction: the rule asks
    /// that `cell` move toward `to_parallel` with probability `p`; the
    /// driver applies the pulse whose switching probability is `p`
    /// ([`SttMram::current_for_probability_ua`]). The only randomness is
    /// the junction's thermal switching (drawn from `rng`, the array's
    /// write stream); no digital random bits are used.
    pub fn eapu_write(
        &mut self,
        model: &SttMram,
        cell: usize,
        to_parallel: bool,
        p: f64,
        rng: &mut Rng,
    ) -> MramPulse {
        let i = model.current_for_probability_ua(p.clamp(0.0, 1.0));
        self.pulse(model, cell, to_parallel, i, rng)
    }

    /// The weight of pair `k`: `(n⁺ − n⁻)/cells_per_weight · w_max` with
    /// cells `[2kN, 2kN+N)` the positive group and the next `N` the negative.
    pub fn weight(&self, model: &SttMram, k: usize, w_max: f32) -> f32 {
        let n = model.cells_per_weight as usize;
        let count = |s: &[bool]| s.iter().filter(|&&b| b).count() as f32;
        let plus = count(&self.parallel[2 * k * n..(2 * k + 1) * n]);
        let minus = count(&self.parallel[(2 * k + 1) * n..(2 * k + 2) * n]);
        (plus - minus) / n as f32 * w_max
    }
}

/// The junctions of an array whose cells are groups of `N` binary MTJs
/// (`N = cells_per_weight`), group `g` being junctions `[gN, gN + N)`:
/// its conductance is `n_P·G_P + (N − n_P)·G_AP` (`n_P` parallel
/// junctions), so a group is a cell with `N + 1` levels a step of
/// `G_P − G_AP` apart. Kept by [`CellArray`](crate::CellArray) beside its
/// per-group conductances, which it keeps equal to this sum.
#[derive(Clone, Debug)]
pub(crate) struct MramGroups {
    n: usize,
    /// Pulses to failure of a junction.
    endurance: f64,
    junctions: MramCells,
    /// Junction reads left until the next read disturb (geometric).
    disturb_in: f64,
}

impl MramGroups {
    /// `groups` groups placed at the levels nearest `g_us` (which is
    /// rounded to them); the first read disturb is drawn from `rng`.
    pub(crate) fn new(m: &SttMram, g_us: &mut [f32], rng: &mut Rng) -> Self {
        let n = m.cells_per_weight as usize;
        let mut a = MramGroups {
            n,
            endurance: m.endurance_median_pulses,
            junctions: MramCells::new(n * g_us.len()),
            disturb_in: 0.0,
        };
        for (group, g) in g_us.iter_mut().enumerate() {
            let level = a.level_of(m, *g);
            *g = a.place(m, group, level);
        }
        a.disturb_in = next_disturb(m.read_disturb_probability(), rng);
        a
    }

    /// The level (parallel junctions) nearest the conductance `g_us`.
    pub(crate) fn level_of(&self, m: &SttMram, g_us: f32) -> usize {
        let x = (f64::from(g_us) - self.n as f64 * m.g_antiparallel_us()) / m.junction_step_us();
        x.round().clamp(0.0, self.n as f64) as usize
    }

    /// Junctions per group.
    pub(crate) fn per_group(&self) -> usize {
        self.n
    }

    /// The conductance of `group`, µS.
    pub(crate) fn g_us(&self, m: &SttMram, group: usize) -> f32 {
        let s = &self.junctions.parallel[group * self.n..(group + 1) * self.n];
        let p = s.iter().filter(|&&b| b).count() as f64;
        (p * m.g_parallel_us() + (self.n as f64 - p) * m.g_antiparallel_us()) as f32
    }

    /// Places `group` at `level` parallel junctions (the first `level`),
    /// with no pulse (initial programming); returns its conductance.
    pub(crate) fn place(&mut self, m: &SttMram, group: usize, level: usize) -> f32 {
        let s = &mut self.junctions.parallel[group * self.n..(group + 1) * self.n];
        for (k, b) in s.iter_mut().enumerate() {
            *b = k < level;
        }
        self.g_us(m, group)
    }

    /// Pulses up to `count` junctions of `group` that are not in the target
    /// state, once each, at `current_ua`, visiting the group's junctions
    /// round-robin from `start` (the driver rotates through a group so
    /// that its junctions wear evenly). Returns the pulses applied and
    /// their cell energy, pJ.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn switch(
        &mut self,
        m: &SttMram,
        group: usize,
        to_parallel: bool,
        count: u32,
        current_ua: f64,
        start: usize,
        rng: &mut Rng,
    ) -> (u32, f64) {
        let (mut pulses, mut energy) = (0u32, 0.0f64);
        for k in 0..self.n {
            if pulses == count {
                break;
            }
            let j = group * self.n + (start + k) % self.n;
            let o = self.junctions.pulse(m, j, to_parallel, current_ua, rng);
            if o.current_ua > 0.0 {
                pulses += 1;
                energy += o.energy_pj;
            }
        }
        (pulses, energy)
    }

    /// One read of every junction: each read of a junction switches it
    /// toward parallel with the read-disturb probability `p_rd`
    /// ([`SttMram::read_disturb_probability`]; assumed: the read current
    /// flows in the AP→P write direction, so parallel junctions are not
    /// disturbed). The reads between disturbs are geometric with mean
    /// `1/p_rd`, so a read costs O(1) draws whatever the array size.
    /// Hands each disturbed group's new conductance to `set(group, g_us)`
    /// (which keeps the array's read caches exact); returns the junctions
    /// switched.
    pub(crate) fn read_all(
        &mut self,
        m: &SttMram,
        rng: &mut Rng,
        mut set: impl FnMut(usize, f32),
    ) -> u64 {
        let total = self.junctions.parallel.len() as f64;
        let mut switched = 0;
        while self.disturb_in <= total {
            let j = (self.disturb_in as usize).saturating_sub(1);
            if !self.junctions.parallel[j]
                && (self.junctions.pulses[j] as f64) < m.endurance_median_pulses
            {
                self.junctions.parallel[j] = true;
                set(j / self.n, self.g_us(m, j / self.n));
                switched += 1;
            }
            self.disturb_in += next_disturb(m.read_disturb_probability(), rng);
        }
        self.disturb_in -= total;
        switched
    }

    /// Junctions that have reached their endurance.
    pub(crate) fn failed(&self) -> usize {
        self.junctions
            .pulses
            .iter()
            .filter(|&&p| p as f64 >= self.endurance)
            .count()
    }

    /// Steps until the first junction reaches its endurance at its rate
    /// over the `steps` so far (∞ if none was pulsed).
    pub(crate) fn steps_to_first_failure(&self, m: &SttMram, steps: u64) -> f64 {
        let mut left = f64::INFINITY;
        for &p in &self.junctions.pulses {
            let p = p as f64;
            if p > 0.0 && p < m.endurance_median_pulses {
                left = left.min((m.endurance_median_pulses - p) / (p / steps as f64));
            }
        }
        left
    }

    /// The junctions' states and pulse counts.
    pub(crate) fn junctions(&self) -> &MramCells {
        &self.junctions
    }
}

/// Junction reads until the next disturb: geometric on {1, 2, …} with
/// success probability `p` (∞ for `p = 0`).
fn next_disturb(p: f64, rng: &mut Rng) -> f64 {
    if p <= 0.0 {
        return f64::INFINITY;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    (u.ln() / (-p).ln_1p()).floor() + 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::stream;

    fn model() -> SttMram {
        builtin_mram("stt-mram-pmtj", &[]).unwrap()
    }

    /// The closed-form current agrees with the bisection to its 1e-9,
    /// switches with at least `p`, and is within 1e-9 of the smallest
    /// current that does, over probabilities from 1e-12 to 1 − 1e-9 and
    /// devices from thermal-dominated to precession-dominated.
    #[test]
    fn closed_form_current_matches_the_bisection() {
        let mut ps: Vec<f64> = (0..12).map(|k| 10f64.powi(-12 + k)).collect();
        ps.extend((1..100).map(|k| f64::from(k) / 100.0));
        ps.extend((3..10).map(|k| 1.0 - 10f64.powi(-k)));
        let mut fast = 0;
        for (delta, tau0, taup, width) in [
            (60.0, 1e-9, 1e-9, 1e-8),
            (40.0, 1e-9, 1e-9, 1e-8),
            (80.0, 1e-10, 2e-9, 1e-9),
            (30.0, 1e-8, 1e-10, 1e-7),
            (60.0, 1e-9, 1e-9, 1e-6),
        ] {
            let mut m = model();
            (m.thermal_stability, m.attempt_time_s) = (delta, tau0);
            (m.precession_time_s, m.pulse_width_s) = (taup, width);
            for &p in &ps {
                let i = m.current_for_probability_ua(p);
                let b = m.bisect_current_ua(p);
                let top = MAX_OVERDRIVE * m.critical_current_ua;
                if m.switching_probability(top, width) <= p {
                    assert_eq!(i, top);
                    continue;
                }
                assert!(
                    (i - b).abs() <= 1.5e-9 * b,
                    "Δ={delta} p={p}: {i} vs bisection {b}"
                );
                assert!(m.switching_probability(i, width) >= p, "Δ={delta} p={p}");
                assert!(
                    m.switching_probability(i * (1.0 - 1.5e-9), width) < p,
                    "Δ={delta} p={p}"
                );
                fast += usize::from(
                    m.closed_form_current(p)
                        .is_some_and(|r| (i / r - 1.0 - 5e-10).abs() < 1e-15),
                );
            }
        }
        // The closed form decides nearly everywhere (the bisection is the
        // fallback, not the rule).
        assert!(
            fast >= 5 * ps.len() * 9 / 10,
            "closed form used {fast} times"
        );
    }

    /// Monte Carlo switching fraction of `n` fresh cells pulsed once.
    fn measured_fraction(m: &SttMram, current_ua: f64, n: usize, seed: u64) -> f64 {
        let mut cells = MramCells::new(n);
        let mut rng = stream(seed, "mram");
        (0..n)
            .filter(|&c| cells.pulse(m, c, true, current_ua, &mut rng).switched)
            .count() as f64
            / n as f64
    }

    #[test]
    fn switching_matches_the_analytic_curve() {
        // 20 000 cells per point: the binomial σ of the fraction is at most
        // sqrt(0.25/20000) = 0.0035; the tolerance 5σ (two-sided, ~6e-7
        // false-failure chance per point, 12 points) is 0.018 at p = ½
        // and shrinks with p(1 − p).
        let m = model();
        let n = 20_000;
        for (k, i) in [0.6, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.4, 1.6, 2.0, 3.0]
            .into_iter()
            .enumerate()
        {
            let current = i * m.critical_current_ua;
            let p = m.switching_probability(current, m.pulse_width_s);
            let f = measured_fraction(&m, current, n, 100 + k as u64);
            let sigma = (p * (1.0 - p) / n as f64).sqrt().max(1.0 / n as f64);
            assert!(
                (f - p).abs() <= 5.0 * sigma,
                "I = {i} I_c0: measured {f}, analytic {p} (5σ = {})",
                5.0 * sigma
            );
        }
    }

    #[test]
    fn analytic_curve_has_both_regimes() {
        let m = model();
        let t = m.pulse_width_s;
        // Deep in the thermal regime the rate is Arrhenius: halving the
        // barrier term multiplies the (small) probability by exp(ΔΔ).
        let p1 = m.thermal_probability(0.5, t);
        let p2 = m.thermal_probability(0.6, t);
        let want = (0.1 * m.thermal_stability).exp();
        assert!((p2 / p1 / want - 1.0).abs() < 1e-3, "{p1} {p2}");
        // Precessional: P = exp(−π²Δ/4 · e^{−2(i−1)t/τ_D}).
        let i = 2.0;
        let want = (-std::f64::consts::PI.powi(2) / 4.0
            * m.thermal_stability
            * (-2.0 * (i - 1.0) * t / m.precession_time_s).exp())
        .exp();
        let got = m.switching_probability(i * m.critical_current_ua, t);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // Monotone in current and in width.
        let mut last = 0.0;
        for k in 0..400 {
            let p = m.switching_probability(k as f64 * 0.01 * m.critical_current_ua, t);
            assert!(p >= last, "not monotone at {k}");
            last = p;
        }
        assert!(
            m.switching_probability(m.critical_current_ua * 1.5, 2.0 * t)
                >= m.switching_probability(m.critical_current_ua * 1.5, t)
        );
    }

    #[test]
    fn eapu_on_mram_writes_with_the_asked_probability() {
        // 20 000 cells per asked p; tolerance 5 binomial σ (see above).
        let m = model();
        let n = 20_000;
        for (k, p) in [0.01, 0.05, 0.2, 0.5, 0.8, 0.99].into_iter().enumerate() {
            let i = m.current_for_probability_ua(p);
            assert!(
                (m.switching_probability(i, m.pulse_width_s) - p).abs() < 1e-6,
                "inversion at p = {p}"
            );
            let mut cells = MramCells::new(n);
            let mut rng = stream(7 + k as u64, "eapu-mram");
            let mut energy = 0.0;
            let mut switched = 0;
            for c in 0..n {
                let o = cells.eapu_write(&m, c, true, p, &mut rng);
                energy += o.energy_pj;
                switched += usize::from(o.switched);
            }
            let f = switched as f64 / n as f64;
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            assert!((f - p).abs() <= 5.0 * sigma, "asked {p}, wrote {f}");
            // Every cell took exactly one pulse, charged I²R_AP·t.
            let e1 = m.pulse_energy_pj(i, false);
            assert!((energy - n as f64 * e1).abs() < 1e-6 * energy);
            assert!(cells.pulses().iter().all(|&c| c == 1));
        }
        // A cell already in the target state takes no pulse.
        let mut cells = MramCells::new(1);
        let mut rng = stream(1, "x");
        cells.eapu_write(&m, 0, true, 1.0, &mut rng);
        assert!(cells.states()[0]);
        let o = cells.eapu_write(&m, 0, true, 0.5, &mut rng);
        assert_eq!(o.energy_pj, 0.0);
        assert_eq!(cells.pulses()[0], 1);
    }

    #[test]
    fn weights_are_differential_groups() {
        let m = builtin_mram(
            "stt-mram-pmtj",
            &config::overrides(&[("cells_per_weight", "4")]),
        )
        .unwrap();
        let mut cells = MramCells::new(8);
        let mut rng = stream(3, "w");
        for c in [0, 1, 2, 4] {
            cells.eapu_write(&m, c, true, 1.0, &mut rng);
        }
        assert_eq!(cells.weight(&m, 0, 1.0), 0.5);
    }

    #[test]
    fn read_disturb_is_small_but_positive() {
        let m = model();
        let p = m.read_disturb_probability();
        assert!(p > 0.0 && p < 1e-6, "{p}");
    }

    fn group_model(over: &[(&str, &str)]) -> crate::DeviceModel {
        crate::DeviceModel::from_mram(
            builtin_mram("stt-mram-pmtj", &config::overrides(over)).unwrap(),
        )
    }

    #[test]
    fn groups_hold_quantised_differential_weights() {
        let m = group_model(&[]);
        let s = m.mram.as_ref().unwrap();
        // 8 junctions per group: G ∈ {8 G_AP + k (G_P − G_AP)}, r_wg = 8 ΔG₁.
        assert!((m.g_min_us as f64 - 8.0 * s.g_antiparallel_us()).abs() < 1e-3);
        assert!((m.g_max_us as f64 - 8.0 * s.g_parallel_us()).abs() < 1e-3);
        assert!((m.r_wg_us as f64 - 8.0 * s.junction_step_us()).abs() < 1e-3);
        let mut a = crate::CellArray::new(&m, 1, 4, &mut stream(1, "c"));
        a.set_weights(&m, &[0.3, -0.5, 1.7, 0.0]);
        let mut w = [0.0; 4];
        a.weights_into(&m, &mut w);
        // Rounded to eighths and clipped to ±1.
        for (got, want) in w.iter().zip([0.25, -0.5, 1.0, 0.0]) {
            assert!((got - want).abs() < 1e-5, "{w:?}");
        }
        let j = a.mram_junctions().unwrap();
        assert_eq!(j.states().len(), 4 * 2 * 8);
        // Weight 0: n⁺ = ⌈(8 + 2)/2⌉ = 5, n⁻ = 3.
        assert_eq!(j.states()[..8].iter().filter(|&&b| b).count(), 5);
        assert_eq!(j.states()[8..16].iter().filter(|&&b| b).count(), 3);
        assert_eq!(a.bytes_per_cell(), 6 + 9 * 8);
    }

    #[test]
    fn read_disturb_matches_its_probability() {
        // A read current of 0.7 I_c0 for 10 ns: p_rd = 1 − exp(−10 e^{−18})
        // ≈ 1.5e-7. 2000 reads of 64 × 64 weights × 16 junctions (half AP)
        // are 6.6e7 AP junction reads: E[switched] ≈ 10; the count is
        // Poisson, tolerance 5 sqrt(E) + 1.
        let m = group_model(&[("read_current_ua", "35")]);
        let s = m.mram.as_ref().unwrap();
        let p = s.read_disturb_probability();
        let mut a = crate::CellArray::new(&m, 64, 64, &mut stream(2, "c"));
        a.set_weights(&m, &vec![0.0; 64 * 64]);
        let mut rng = stream(2, "read");
        let reads = 2000;
        let switched: u64 = (0..reads).map(|_| a.read_disturb(&m, &mut rng)).sum();
        // Only AP junctions can be disturbed; their number falls as they
        // switch, negligibly here.
        let want = p * reads as f64 * (64.0 * 64.0 * 8.0);
        assert!(
            (switched as f64 - want).abs() <= 5.0 * want.sqrt() + 1.0,
            "{switched} vs {want}"
        );
        let p_count = a
            .mram_junctions()
            .unwrap()
            .states()
            .iter()
            .filter(|&&b| b)
            .count();
        assert_eq!(p_count as u64, 64 * 64 * 8 + switched);
        a.assert_caches_exact(&m);
        // The conductances follow the junctions.
        let g: f64 = a.conductances_us(&m).iter().map(|&g| f64::from(g)).sum();
        let want_g = p_count as f64 * s.g_parallel_us()
            + (64.0 * 64.0 * 16.0 - p_count as f64) * s.g_antiparallel_us();
        assert!((g - want_g).abs() < 1e-4 * want_g);
        // The built-in read (0.2 I_c0) disturbs ~nothing.
        let m = group_model(&[]);
        let mut a = crate::CellArray::new(&m, 64, 64, &mut stream(2, "c"));
        assert_eq!(a.read_disturb(&m, &mut rng), 0);
    }

    #[test]
    fn junctions_wear_out_and_the_projection_sees_it() {
        let m = group_model(&[("endurance_median_pulses", "3")]);
        let s = m.mram.as_ref().unwrap().clone();
        let mut a = crate::CellArray::new(&m, 1, 1, &mut stream(3, "c"));
        a.set_weights(&m, &[0.0]);
        let mut rng = stream(3, "w");
        let i = s.write_current_ua();
        // One pulse on one junction after one step: (3 − 1)/1 steps left.
        let (o, e) = a.switch_junctions(&m, 0, crate::Polarity::Set, 1, i, &mut rng);
        assert_eq!(o.pulses, 1);
        assert!((e - s.pulse_energy_pj(i, false)).abs() < 1e-12);
        assert_eq!(a.steps_to_first_failure(&m, 1), 2.0);
        assert_eq!(a.failed_cells(), 0);
        // Round-robin: the next pulses go to other AP junctions of the group.
        let g0 = a.conductances_us(&m)[0];
        a.switch_junctions(&m, 0, crate::Polarity::Set, 3, i, &mut rng);
        assert!(a.conductances_us(&m)[0] > g0);
        let j = a.mram_junctions().unwrap();
        assert!(j.pulses()[..8].iter().all(|&p| p <= 1), "{:?}", j.pulses());
        // Drive one junction past its endurance: it no longer switches.
        let mut cells = MramCells::new(1);
        for _ in 0..3 {
            cells.pulse(&s, 0, true, i, &mut rng);
            cells.pulse(&s, 0, false, i, &mut rng);
        }
        let before = cells.states()[0];
        let o = cells.pulse(&s, 0, !before, i, &mut rng);
        assert!(!o.switched && o.energy_pj > 0.0);
    }

    #[test]
    fn impossible_parameters_name_the_field() {
        for (k, v) in [
            ("thermal_stability", "-5"),
            ("attempt_time_s", "-1e-9"),
            ("precession_time_s", "0"),
            ("pulse_width_s", "-1e-9"),
            ("critical_current_ua", "NaN"),
            ("read_current_ua", "1e9"),
            ("tmr", "-0.5"),
            ("write_error_rate", "1.5"),
            ("write_error_rate", "-0.1"),
            ("endurance_median_pulses", "inf"),
        ] {
            let e = builtin_mram("stt-mram-pmtj", &config::overrides(&[(k, v)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("field `{k}`")), "{k}={v}: {e}");
        }
    }
}
