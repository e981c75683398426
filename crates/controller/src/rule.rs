//! The interface of a write rule: what it is given ([`RuleInput`]), what it
//! decides (a change per weight), how the change reaches the device
//! ([`WriteMode`]) and how it reports its digital work ([`RuleContext`]).

use aimsim_core::Rng;

/// Counts of the digital work a decision pass did, for energy accounting.
/// Rules count operations; the engine prices the counts with the chip's
/// per-operation energies.
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

/// How the engine turns one decided change into device operations
/// ([`execute_phase`](crate::execute_phase)).
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
    /// Binary STT-MRAM junctions (each cell a group of them): the decided
    /// ΔG is whole junction steps of `step_us`, written with
    /// deterministic-intent pulses, plus, with `stochastic`, one pulse
    /// whose amplitude switches its junction with the probability the
    /// remainder asks for (without, ΔG is rounded to whole steps); see
    /// [`crate::switching`].
    Switch {
        /// One junction's conductance step `G_P − G_AP`, µS.
        step_us: f32,
        /// Whether the fraction of a step is written as a switching
        /// probability (EaPU) rather than rounded (bp).
        stochastic: bool,
    },
}

/// One tile's update in factor form: `requested_us[i·cols + j] =
/// Σ_p scale_us · x[p·rows + i] · delta[p·cols + j]` (summed in `p` order;
/// see [`UpdateRequest`](crate::UpdateRequest) for the exact arithmetic).
#[derive(Clone, Copy, Debug)]
pub struct TileFactors<'a> {
    /// Row (input) factors, `rank × rows`, row-major.
    pub x: &'a [f32],
    /// Column (error) factors, `rank × cols`, row-major.
    pub delta: &'a [f32],
    /// Number of terms `P` (≥ 1).
    pub rank: usize,
    /// `scale · r_wg`, µS per unit of `x·δ` (`−η · r_wg` for SGD).
    pub scale_us: f32,
}

impl<'a> TileFactors<'a> {
    /// The row and column factors of term `p`.
    pub fn term(&self, p: usize) -> (&'a [f32], &'a [f32]) {
        let rows = self.x.len() / self.rank;
        let cols = self.delta.len() / self.rank;
        (
            &self.x[p * rows..(p + 1) * rows],
            &self.delta[p * cols..(p + 1) * cols],
        )
    }
}

/// What a rule decides on: one tile's requested changes.
#[derive(Clone, Copy, Debug)]
pub struct RuleInput<'a> {
    /// The tile's index, stable over a run (key of per-tile rule state).
    pub tile: usize,
    /// Weight rows of the tile.
    pub rows: usize,
    /// Weight columns of the tile.
    pub cols: usize,
    /// The requested conductance changes, µS, `rows × cols` row-major.
    pub requested_us: &'a [f32],
    /// The request's factors, when it came as factors (rules that drive
    /// rows and columns with pulse trains need them).
    pub factors: Option<TileFactors<'a>>,
}

/// What a rule may use besides its input: the tile's decision random stream,
/// and a tally of the digital operations it performs.
pub struct RuleContext<'a> {
    rng: &'a mut Rng,
    costs: DecisionStats,
}

impl<'a> RuleContext<'a> {
    /// A context drawing from `rng`, with no operations counted.
    pub fn new(rng: &'a mut Rng) -> Self {
        RuleContext {
            rng,
            costs: DecisionStats::default(),
        }
    }

    /// The tile's decision stream (`tile{k}/decide`).
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }

    /// Counts `n` compares (threshold tests, zero tests).
    pub fn compares(&mut self, n: u64) {
        self.costs.compares += n;
    }

    /// Counts `n` stochastic decisions.
    pub fn random_decisions(&mut self, n: u64) {
        self.costs.random_decisions += n;
    }

    /// Counts `n` digital pulse-coincidence counts.
    pub fn coincidence_counts(&mut self, n: u64) {
        self.costs.coincidence_counts += n;
    }

    /// Counts `n` multiplies beyond the per-weight gradient.
    pub fn macs(&mut self, n: u64) {
        self.costs.macs += n;
    }

    /// Counts `n` 32-bit SRAM reads.
    pub fn sram_reads(&mut self, n: u64) {
        self.costs.sram_reads += n;
    }

    /// Counts `n` 32-bit SRAM writes.
    pub fn sram_writes(&mut self, n: u64) {
        self.costs.sram_writes += n;
    }

    /// The operations counted so far.
    pub fn costs(&self) -> DecisionStats {
        self.costs
    }
}

/// A write scheduler: decides, per tile and update, the conductance change
/// to write to each weight.
///
/// A rule defined outside this crate is a type implementing this trait; the
/// engine takes any `Box<dyn UpdateRule>`.
///
/// ```
/// use aimsim_controller::{RuleContext, RuleInput, UpdateRule, WriteMode};
/// use rand::Rng as _;
///
/// /// Writes each request with probability ½, doubled (unbiased).
/// struct Coin;
///
/// impl UpdateRule for Coin {
///     fn name(&self) -> &str {
///         "coin"
///     }
///
///     fn decide(&mut self, input: &RuleInput<'_>, decided_us: &mut [f32], ctx: &mut RuleContext<'_>) {
///         for (d, &r) in decided_us.iter_mut().zip(input.requested_us) {
///             let heads: bool = ctx.rng().random();
///             *d = if heads { 2.0 * r } else { 0.0 };
///         }
///         ctx.random_decisions(input.requested_us.len() as u64);
///     }
/// }
///
/// let mut rule: Box<dyn UpdateRule> = Box::new(Coin);
/// let mut rng = aimsim_core::stream(1, "tile0/decide");
/// let mut ctx = RuleContext::new(&mut rng);
/// let requested = [0.5f32, -1.0, 0.0, 2.0];
/// let input = RuleInput { tile: 0, rows: 2, cols: 2, requested_us: &requested, factors: None };
/// let mut decided = [0.0f32; 4];
/// rule.decide(&input, &mut decided, &mut ctx);
/// assert_eq!(ctx.costs().random_decisions, 4);
/// assert_eq!(rule.write_mode(), WriteMode::Program);
/// assert!(decided.iter().zip(&requested).all(|(&d, &r)| d == 0.0 || d == 2.0 * r));
/// ```
pub trait UpdateRule: Send {
    /// The rule's name (`"eapu"`).
    fn name(&self) -> &str;

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

    /// `Some(ΔG_th)` when the rule decides exactly as EaPU: a request with
    /// `|ΔG| ≥ ΔG_th` is written as asked, one below it is written as
    /// `sign(ΔG)·ΔG_th` with probability `|ΔG|/ΔG_th`, independently per
    /// cell, with no state kept. A sparse sampler may then draw the
    /// decisions itself ([`sample_eapu_rank1`](crate::sample_eapu_rank1))
    /// instead of calling [`UpdateRule::decide`]. Default: `None`.
    fn eapu_threshold_us(&self) -> Option<f32> {
        None
    }

    /// `Some` when each decided change is [`Pointwise::apply`] of its own
    /// request, with no draws and no state: the engine may then keep a
    /// waiting write's request (its factors) instead of its decided change
    /// and decide it again when the write runs, the same bits. Default:
    /// `None`.
    fn pointwise(&self) -> Option<Pointwise> {
        None
    }

    /// Decides the change to write for each requested change (µS, one per
    /// weight, `input.rows × input.cols` row-major, all of `decided_us`
    /// written); 0 means no write. Draws only from `ctx.rng()` and counts
    /// its digital operations in `ctx`.
    fn decide(&mut self, input: &RuleInput<'_>, decided_us: &mut [f32], ctx: &mut RuleContext<'_>);
}

/// A decision that is a function of each weight's request alone
/// ([`UpdateRule::pointwise`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pointwise {
    /// The change as requested (`bp`, `write-verify`).
    AsRequested,
    /// Rounded to whole steps of `step_us`: `round(ΔG/step)·step`
    /// (`bp` with `round_to_pulses`).
    RoundTo {
        /// The step, µS.
        step_us: f32,
    },
}

impl Pointwise {
    /// The decided change of a requested change `requested_us` (µS).
    #[inline]
    pub fn apply(self, requested_us: f32) -> f32 {
        match self {
            Pointwise::AsRequested => requested_us,
            Pointwise::RoundTo { step_us } => (requested_us / step_us).round() * step_us,
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Runs `rule` on `requested` (a `1 × n` tile 0 without factors) with a
    /// fresh context on `rng`; returns the costs.
    pub(crate) fn decide_plain(
        rule: &mut dyn UpdateRule,
        requested: &[f32],
        out: &mut [f32],
        rng: &mut Rng,
    ) -> DecisionStats {
        let input = RuleInput {
            tile: 0,
            rows: 1,
            cols: requested.len(),
            requested_us: requested,
            factors: None,
        };
        let mut ctx = RuleContext::new(rng);
        rule.decide(&input, out, &mut ctx);
        ctx.costs()
    }
}
