//! Writes on binary STT-MRAM junctions ([`WriteMode::Switch`]): how a
//! decided change becomes junction pulses, and the execution of one phase
//! of them. Kept apart from the analog write paths, which it does not touch.
//!
//! A cell of the array is a group of `N` binary junctions
//! (`DeviceModel::from_mram`), one junction switching moves it by one step
//! `ΔG₁ = G_P − G_AP`. A decided change `|ΔG| = (k + r)·ΔG₁`, `k` whole
//! and `0 ≤ r < 1`, is written as:
//!
//! * `k` deterministic-intent pulses at the write current `I_w`
//!   (`SttMram::write_current_ua`: the pulse that switches with probability
//!   `1 − WER`), one on each of `k` junctions not yet in the target state;
//! * with `stochastic` (EaPU), one more pulse whose amplitude `I(r)`
//!   switches its junction with probability exactly `r`
//!   (`SttMram::current_for_probability_ua`, bisection at the file's pulse
//!   width), so `E[written] = ΔG` and the coin is the junction's thermal
//!   switching, drawn from the tile's write stream — no digital random
//!   bits; without (`bp`), `ΔG` is rounded to whole steps instead
//!   (`round(|ΔG|/ΔG₁)` deterministic-intent pulses: a change below half a
//!   step is lost, as bp's `round_to_pulses` does on analog cells).
//!
//! A phase's pulses on one group follow each other (a group's junctions
//! share a bit line), the groups of a phase are pulsed in parallel: it
//! lasts `setup + max_pulses · pulse_cycles`. Cell energy is `I² R t_p`
//! per pulse (`R` of the state the junction leaves), driver energy the
//! driver's line charging and overhead as for analog cells.

use crate::{PhaseOutcome, PlannedWrite, WriteHardware};
use aimsim_core::Rng;
use aimsim_device::{CellArray, DeviceModel, Polarity};

/// A remainder this close to 0 or 1 (relative to a step) is taken as a
/// whole step count: the f32 arithmetic of `ΔG/ΔG₁` is no finer.
const WHOLE_EPS: f64 = 1e-5;

/// Splits `|dg_us|` into whole steps `k` and the remainder `r ∈ [0, 1)`
/// realised by a probabilistic pulse (`stochastic`), or rounds it to whole
/// steps (`r = 0`).
pub fn split_steps(dg_us: f32, step_us: f32, stochastic: bool) -> (u32, f64) {
    let q = f64::from(dg_us.abs()) / f64::from(step_us);
    if !stochastic {
        return (q.round() as u32, 0.0);
    }
    let k = q.floor();
    let r = q - k;
    if r < WHOLE_EPS {
        (k as u32, 0.0)
    } else if r > 1.0 - WHOLE_EPS {
        (k as u32 + 1, 0.0)
    } else {
        (k as u32, r)
    }
}

/// The most pulses a planned write of `dg_us` applies (0: nothing to write).
pub fn planned_pulses(dg_us: f32, step_us: f32, stochastic: bool) -> u32 {
    let (k, r) = split_steps(dg_us, step_us, stochastic);
    k + u32::from(r > 0.0)
}

/// Executes one phase of `writes` (one row, SET = toward parallel if `set`)
/// on a binary STT-MRAM array; switching draws from `rng_write`.
pub(crate) fn execute_switch_phase(
    cells: &mut CellArray,
    model: &DeviceModel,
    set: bool,
    writes: &[PlannedWrite],
    step_us: f32,
    stochastic: bool,
    hw: &WriteHardware<'_>,
    rng_write: &mut Rng,
) -> PhaseOutcome {
    let m = model
        .mram
        .as_ref()
        .expect("switch writes run only on binary STT-MRAM devices");
    let polarity = if set { Polarity::Set } else { Polarity::Reset };
    let i_write = m.write_current_ua();
    let mut out = PhaseOutcome::default();
    let mut max_pulses = 0u32;
    for w in writes {
        let (k, r) = split_steps(w.dg_us, step_us, stochastic);
        let cell = w.cell as usize;
        let mut n = 0;
        if k > 0 {
            let (o, e) = cells.switch_junctions(model, cell, polarity, k, i_write, rng_write);
            n += o.pulses;
            out.cell_pj += e;
        }
        if r > 0.0 {
            let i = m.current_for_probability_ua(r);
            let (o, e) = cells.switch_junctions(model, cell, polarity, 1, i, rng_write);
            n += o.pulses;
            out.cell_pj += e;
        }
        max_pulses = max_pulses.max(n);
        out.pulses += u64::from(n);
    }
    out.driver_pj = hw
        .driver
        .phase_energy_pj(set, writes.len() as u32, max_pulses);
    out.rounds = 1;
    out.cycles = hw.driver.setup_cycles() + u64::from(max_pulses) * hw.pulse_cycles;
    out
}
