//! Write schedulers, write plans and their execution on the cells.
//!
//! A training step asks, per weight matrix, for an update ([`UpdateRequest`]:
//! dense `ΔW`, or rank-P factors `ΔW = s·Σ_p x_p ⊗ δ_p`); each tile of the
//! matrix gets its block as conductance changes `ΔG = ΔW · r_wg` (µS,
//! [`UpdateRequest::requested_us`]) and, for factor requests, its slice of
//! the factors ([`UpdateRequest::tile_factors`]). An [`UpdateRule`] decides
//! what to write ([`UpdateRule::decide`] on a [`RuleInput`]), counting its
//! digital work in a [`RuleContext`] that the engine prices. A
//! [`WritePlan`] routes each decided change to one cell of the differential
//! pair and groups the cells by row and polarity; [`WritePlan::phases`]
//! packs each group into pulse phases of at most the drivers'
//! parallel-write limit. [`execute_phase`] runs one phase on the device
//! array in the rule's [`WriteMode`] — one programming operation
//! ([`apply_write`] → `CellArray::program`), whole fixed pulses
//! (`CellArray::pulse`) or a verify loop ([`verify_writes`]) — and returns
//! its pulses, cycles and energy; the device decides the real ΔG.
//!
//! Rules (DESIGN.md §1.4), one module each, listed in the registry
//! ([`RULES`]) from which `chip.rule` is read ([`RawRule`], [`check_rule`],
//! [`build_rule`]):
//! * `eapu` — error-aware probabilistic update: `|ΔG| ≥ ΔG_th` is written
//!   as asked; otherwise, with probability `p = |ΔG|/ΔG_th`, one step of
//!   `sign(ΔG)·ΔG_th` is written, else nothing. `E[applied] = ΔG`.
//! * `bp` — plain backprop on memristors: every non-zero ΔG is written
//!   (one programming operation, or whole pulses with `round_to_pulses`).
//! * `stochastic-pulse` — coincidences of stochastic pulse trains on rows
//!   and columns (Gokmen & Vlasov 2016, as aihwkit): `n ~ Binomial(BL,
//!   p_x p_δ)` pulses of `±Δg_min`, `E[n Δg_min] = |η x δ r_wg|`; one pair
//!   of trains per factor term.
//! * `mixed-precision` — a digital accumulator χ per weight (Nandakumar et
//!   al. 2020), transferred in whole pulses of ε when `|χ| ≥ ε`.
//! * `write-verify` — program, verify-read, re-program until within a
//!   tolerance or a pulse budget.
//! * `ideal` — digital floating point, no device (the accuracy ceiling).
//!
//! Two update-forming units change what is decided ([`log_quantise`] for
//! `low-precision`, [`sample_eapu_rank1`] for `sparse-sampler`; the units
//! and their costs are `aimsim_periphery::UpdateUnit`).
//!
//! On a binary STT-MRAM device (`DeviceModel::is_binary`) `eapu` and `bp`
//! write junction steps ([`WriteMode::Switch`], [`switching`]): EaPU's
//! sub-step probability is the switching probability of the pulse the
//! driver applies, not a digital random number. The other device rules
//! write analog changes and are refused ([`build_rule`]).
//!
//! A rule defined outside this crate implements [`UpdateRule`] (see its
//! example) and is handed to the engine as a `Box<dyn UpdateRule>`.

mod batched;
mod forming;
mod plan;
mod registry;
mod request;
mod rule;
mod rules;
pub mod switching;
mod write;

pub use batched::{sample_eapu_rank_p, RankPFactors, RankPScratch, RankPStats};
pub use forming::{
    eapu_random_count, log_quantise, sample_eapu_rank1, sample_eapu_rank1_blocked, BlockedScratch,
    BlockedStats, SamplerStats,
};
pub use plan::{
    apply_write, set_write_pulses, verify_writes, write_pulses, PlannedWrite, PulsePhase, RowPlan,
    VerifyOutcome, VerifyRead, WritePlan,
};
pub use registry::{
    build_rule, check_rule, find_rule, RawRule, RuleEntry, RuleParams, RULES, RULE_NAMES,
};
pub use request::{FactorScratch, RequestTerms, TileBlock, UpdateRequest};
pub use rule::{
    DecisionStats, Pointwise, RuleContext, RuleInput, TileFactors, UpdateRule, WriteMode,
};
pub use rules::{
    Bp, Eapu, Ideal, MixedPrecision, RawBp, RawEapu, RawIdeal, RawMixedPrecision,
    RawStochasticPulse, RawWriteVerify, StochasticPulse, WriteVerify,
};
pub use write::{execute_phase, PhaseOutcome, WriteHardware};
