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
//! * `bp` — plain backprop on memristors: every non-zero ΔG is written
//!   (one programming operation, or whole pulses with `round_to_pulses`).
//! * `stochastic-pulse` — coincidences of stochastic pulse trains on rows
//!   and columns (Gokmen & Vlasov 2016, as aihwkit): `n ~ Binomial(BL,
//!   p_x p_δ)` pulses of `±Δg_min`, `E[n Δg_min] = |η x δ r_wg|`.
//! * `mixed-precision` — a digital accumulator χ per weight (Nandakumar et
//!   al. 2020), transferred in whole pulses of ε when `|χ| ≥ ε`.
//! * `write-verify` — program, verify-read, re-program until within a
//!   tolerance or a pulse budget.
//! * `ideal` — digital floating point, no device (the accuracy ceiling).
//!
//! How a decided change reaches the device is the rule's [`WriteMode`]:
//! one programming operation ([`apply_write`] → `CellArray::program`),
//! whole fixed pulses (`CellArray::pulse`), or a verify loop
//! ([`verify_writes`]).

mod plan;
mod rules;

pub use plan::{
    apply_write, verify_writes, PlannedWrite, PulsePhase, RowPlan, VerifyOutcome, VerifyRead,
    WritePlan,
};
pub use rules::{
    build_rule, check_rule, Bp, DecisionStats, Eapu, Ideal, MixedPrecision, OuterUpdate, RawBp,
    RawEapu, RawMixedPrecision, RawRule, RawStochasticPulse, RawWriteVerify, StochasticPulse,
    UpdateRule, WriteMode, WriteVerify, RULE_NAMES,
};
