//! Write schedulers and write plans.
//!
//! A training step asks, per weight, for a conductance change
//! `ΔG = ΔW / R_wg` (µS). An [`UpdateRule`] decides what to write
//! ([`UpdateRule::decide`]); a [`WritePlan`] routes each decided change to
//! one cell of the differential pair and groups the cells by row and
//! polarity; [`WritePlan::phases`] packs each group into pulse phases of at
//! most the drivers' parallel-write limit. The engine executes the phases on
//! the device array, which decides the real ΔG.
//!
//! Rules (DESIGN.md §1.4):
//! * `eapu` — error-aware probabilistic update: `|ΔG| ≥ ΔG_th` is written
//!   as asked; otherwise, with probability `p = |ΔG|/ΔG_th`, one step of
//!   `sign(ΔG)·ΔG_th` is written, else nothing. `E[applied] = ΔG`.
//! * `bp` — plain backprop on memristors: every non-zero ΔG is written.
//! * `ideal` — digital floating point, no device (the accuracy ceiling).

mod plan;
mod rules;

pub use plan::{PlannedWrite, PulsePhase, RowPlan, WritePlan};
pub use rules::{
    build_rule, Bp, DecisionStats, Eapu, Ideal, RawBp, RawEapu, RawRule, UpdateRule, RULE_NAMES,
};
