//! The chip's update-forming unit at work on one tile (DESIGN.md §1.7):
//! the tile's requested changes are formed by the unit the chip has
//! (`chip.update_unit`), the rule decides on them (or the sparse sampler
//! draws EaPU's decisions itself), and the work is counted in
//! [`FormCounts`], which [`FormCounts::charges`] prices once per update with
//! the chip's per-operation energies. [`update_stage`] sorts every ledger
//! entry of the update phase into forming, deciding, writing or static
//! energy (the report's `energy_pj.update_split`).
//!
//! Operations charged (all to `digital`; count × energy each):
//!
//! | unit | forming | deciding |
//! |---|---|---|
//! | `digital-mac` | `gradient_mac`: P MACs per weight of a rank-P request (`mac_pj`) | the rule's |
//! | `low-precision` | `lp_line_max` and `lp_encode` per coded value (`add_pj`), `lp_round_bits` (random bits of the stochastic rounding), `lp_code_add` per weight and term (`add_pj · code_bits / 8`), `lp_accumulate` (P − 1 adds per weight) | the rule's, on the coded products |
//! | `sparse-sampler` (EaPU, rank 1) | `sampler_line_max` per column, `sampler_row_test` per row (`add_pj`), `sampler_row_mac` and `sampler_row_log` per sampled row (`mac_pj`, `activation_pj`), `gradient_mac` per weight of a row at or above threshold | `sampler_skip_log`, `sampler_skip_mac` per skip draw, `sampler_compare` per skip draw and candidate, `random_bits` per draw, `threshold_compare` per weight of a dense row |
//! | `off-chip` | `host_mac` (P per weight, `host_mac_pj`), `link_transfer` per byte (`link_pj_per_byte`): P·(rows + cols) values up, one ΔG per weight down | the rule's, on chip |
//!
//! The algorithm's own MACs passed to `ChipSim::update` (bias updates) are
//! charged with `gradient_mac` (forming); a rule's own multiplies
//! (stochastic-pulse's per-line probabilities) as `decision_mac`.

use crate::tile::Tile;
use aimsim_controller::{
    eapu_random_count, log_quantise, sample_eapu_rank1, sample_eapu_rank1_blocked,
    sample_eapu_rank_p, BlockedScratch, DecisionStats, FactorScratch, Pointwise, RankPFactors,
    RankPScratch, RuleContext, RuleInput, SamplerStats, TileBlock, TileFactors, UpdateRequest,
    UpdateRule, WriteMode, WritePlan,
};
use aimsim_energy::{Component, EnergyLedger, Phase};
use aimsim_periphery::{Digital, UpdateUnit, UpdateUnitKind};

/// Where an update-phase energy belongs in `energy_pj.update_split`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateStage {
    /// Forming the requested ΔG (gradient MACs, codes, sampler set-up,
    /// host and link, the algorithm's own update arithmetic and buffers).
    Forming,
    /// Deciding what to write (threshold compares, random draws, pulse
    /// coincidences, accumulators, the sampler's candidate draws).
    Deciding,
    /// Writing the cells (pulses, drivers, verify reads).
    Writing,
    /// Leakage over the update phase's time.
    Static,
}

/// Digital operations that decide (every other digital operation of the
/// update phase forms).
const DECIDING_OPS: [&str; 9] = [
    "threshold_compare",
    "random_bits",
    "coincidence_count",
    "sram_read",
    "sram_write",
    "decision_mac",
    "sampler_skip_log",
    "sampler_skip_mac",
    "sampler_compare",
];

/// The stage of an update-phase ledger entry: `static` is static; cell
/// pulses, drivers and verify reads (`verify_*` DAC, array, sense and ADC
/// operations) write; the digital operations `threshold_compare`,
/// `random_bits`, `coincidence_count`, `sram_read`, `sram_write`,
/// `decision_mac`, `sampler_skip_log`, `sampler_skip_mac` and
/// `sampler_compare` decide; everything else (gradient MACs, codes, sampler set-up, host and link,
/// the algorithm's update arithmetic and factor buffers) forms.
pub fn update_stage(component: Component, operation: &str) -> UpdateStage {
    match component {
        Component::Static => UpdateStage::Static,
        Component::ArrayWrite | Component::Driver => UpdateStage::Writing,
        Component::Digital if DECIDING_OPS.contains(&operation) => UpdateStage::Deciding,
        Component::Digital => UpdateStage::Forming,
        _ if operation.starts_with("verify_") => UpdateStage::Writing,
        _ => UpdateStage::Forming,
    }
}

/// The energy of one phase split by [`UpdateStage`], pJ (the report's
/// `energy_pj.update_split`); the four parts add up to the phase's energy.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UpdateSplit {
    /// Forming the requested changes.
    pub forming: f64,
    /// Deciding what to write.
    pub deciding: f64,
    /// Writing the cells.
    pub writing: f64,
    /// Leakage over the phase.
    #[serde(rename = "static")]
    pub static_pj: f64,
}

impl UpdateSplit {
    /// Sorts every entry of `phase` in `ledger` by [`update_stage`].
    pub fn from_ledger(ledger: &EnergyLedger, phase: Phase) -> UpdateSplit {
        let mut s = UpdateSplit::default();
        for (k, t) in ledger.entries().filter(|(k, _)| k.phase == phase) {
            let slot = match update_stage(k.component, k.operation) {
                UpdateStage::Forming => &mut s.forming,
                UpdateStage::Deciding => &mut s.deciding,
                UpdateStage::Writing => &mut s.writing,
                UpdateStage::Static => &mut s.static_pj,
            };
            *slot += t.pj;
        }
        s
    }

    /// The sum of the four parts, pJ.
    pub fn total(&self) -> f64 {
        self.forming + self.deciding + self.writing + self.static_pj
    }
}

/// The forming and deciding work of one update over all tiles.
#[derive(Clone, Debug, Default)]
pub(crate) struct FormCounts {
    /// Gradient MACs of the digital MAC array (and the algorithm's own).
    pub(crate) grad_macs: u64,
    /// The rule's counted decisions.
    pub(crate) decision: DecisionStats,
    lp_line_max: u64,
    lp_encodes: u64,
    lp_round_draws: u64,
    lp_code_adds: u64,
    lp_accumulate: u64,
    sampler_line_max: u64,
    sampler_row_tests: u64,
    sampler_rows: u64,
    sampler_skip_draws: u64,
    sampler_random: u64,
    sampler_compares: u64,
    host_macs: u64,
    link_bytes: u64,
    /// Link cycles so far this update: the link is shared, tiles queue on it.
    link_cycles: u64,
}

/// What one tile's forming needs besides the tile.
pub(crate) struct FormInput<'a, 'r> {
    pub(crate) unit: &'a UpdateUnit,
    pub(crate) digital: &'a Digital,
    pub(crate) request: &'a UpdateRequest<'r>,
    /// The matrix's shape.
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) r_wg_us: f32,
    /// The tile's index (the rule's key of per-tile state).
    pub(crate) tile_index: usize,
    /// A rank-P request's factors laid out for the sampler (when
    /// [`sparse_eapu`] admits it), prepared once for the matrix.
    pub(crate) rank_p: Option<&'a RankPFactors>,
}

/// Buffers of one update, shared by every tile in turn (a tile's requests
/// and decisions live only while it is formed, decided and planned), so
/// the chip holds one tile's worth of them however many tiles it has.
#[derive(Debug, Default)]
pub(crate) struct UpdateScratch {
    factors: FactorScratch,
    /// Requested and decided ΔG of the dense path (the first
    /// `rows × cols` values).
    req: Vec<f32>,
    pub(crate) dec: Vec<f32>,
    /// Coded factors of the `low-precision` update unit (`P × rows`,
    /// `P × cols`).
    qx: Vec<f32>,
    qd: Vec<f32>,
    /// The sparse path's work and working memory (with one thread).
    pub(crate) sparse: SparseWork,
    sparse_scratch: SparseScratch,
    /// The dense path's write plan.
    pub(crate) plan: WritePlan,
}

/// One tile's sparse EaPU work ([`sample_tile`]): what it draws needs
/// only the tile, so tiles may do it apart (on the chip's thread pool),
/// and [`charge_sampled`] counts it afterwards in tile order.
#[derive(Debug, Default)]
pub(crate) struct SparseWork {
    /// The decisions: (row-major index, ΔG µS), in order.
    pub(crate) sampled: Vec<(u32, f32)>,
    /// The sampler's work (on `sparse-sampler`, where it is charged).
    stats: SamplerStats,
    /// The dense rule's random decisions (on units that are charged them).
    random: u64,
    /// The tile's write plan from `sampled`.
    pub(crate) plan: WritePlan,
}

/// Working memory of [`sample_tile`], one per thread (not per tile: the
/// blocked sampler's class buckets are several words per row and column,
/// which per tile would add to the chip's bytes per cell).
#[derive(Debug, Default)]
pub(crate) struct SparseScratch {
    /// `|δ_j|` of the tile's columns, sorted when needed ([`eapu_random_count`]).
    sorted_abs: Vec<f32>,
    /// The blocked sampler's working memory (the units other than
    /// `sparse-sampler`).
    blocked: BlockedScratch,
    /// The rank-P sampler's.
    rank_p: RankPScratch,
    /// The decisions and write plan of the tile the thread works on, lent
    /// to the tile's [`SparseWork`] meanwhile ([`SparseScratch::lend`]):
    /// these grow with a tile's writes, so per tile they would stay as
    /// large as each tile's largest update.
    sampled: Vec<(u32, f32)>,
    plan: WritePlan,
}

impl SparseScratch {
    /// Swaps the thread's decision and plan buffers with `work`'s (call
    /// again to take them back; the work keeps what it had before).
    pub(crate) fn lend(&mut self, work: &mut SparseWork) {
        std::mem::swap(&mut self.sampled, &mut work.sampled);
        std::mem::swap(&mut self.plan, &mut work.plan);
    }
}

/// Whether `unit` codes the requests the rule decides ([`form_and_decide`]
/// on `low-precision`, for a rule that needs the gradient): they are then
/// no longer the request's own values.
fn forms_low_precision(unit: &UpdateUnit, rule: &dyn UpdateRule) -> bool {
    unit.kind() == UpdateUnitKind::LowPrecision && rule.needs_gradient()
}

/// The rule's decision as a function of each request alone
/// ([`UpdateRule::pointwise`]) where [`form_and_decide`] decides a dense
/// request's changes that way: where `unit` passes it the request's own
/// values (not `low-precision`'s codes).
pub(crate) fn pointwise_decision(rule: &dyn UpdateRule, unit: &UpdateUnit) -> Option<Pointwise> {
    rule.pointwise()
        .filter(|_| !forms_low_precision(unit, rule))
}

/// ΔG_th when the tile's decisions of `request` are drawn by sampling
/// ([`form_and_decide`]): a factor request (any rank), EaPU's rule with
/// its analog [`WriteMode::Program`] write, any unit but `low-precision`.
pub(crate) fn sparse_eapu(
    rule: &dyn UpdateRule,
    unit: &UpdateUnit,
    request: &UpdateRequest<'_>,
) -> Option<f32> {
    let th = rule.eapu_threshold_us()?;
    (rule.write_mode() == WriteMode::Program
        && unit.kind() != UpdateUnitKind::LowPrecision
        && matches!(request, UpdateRequest::Factors { .. }))
    .then_some(th)
}

/// Draws the tile's EaPU decisions of a request that [`sparse_eapu`]
/// admits into `work.sampled` (from the tile's `decide` stream only) and
/// records the work [`charge_sampled`] counts.
pub(crate) fn sample_tile(
    input: &FormInput<'_, '_>,
    th: f32,
    tile: &mut Tile,
    work: &mut SparseWork,
    scratch: &mut SparseScratch,
) {
    let UpdateRequest::Factors { x, delta, scale } = *input.request else {
        unreachable!("sparse_eapu admits factor requests only");
    };
    work.sampled.clear();
    if let Some(f) = input.rank_p {
        // Every unit is charged EaPU's dense work on a rank-P request.
        let block = TileBlock {
            row0: tile.row0,
            col0: tile.col0,
            rows: tile.rows,
            cols: tile.cols,
        };
        let st = sample_eapu_rank_p(
            f,
            block,
            th,
            &mut tile.rng_decide,
            &mut scratch.rank_p,
            &mut work.sampled,
        );
        work.stats = SamplerStats::default();
        work.random = st.random_decisions;
        return;
    }
    let xs = &x[tile.row0..tile.row0 + tile.rows];
    let ds = &delta[tile.col0..tile.col0 + tile.cols];
    let r_wg = input.r_wg_us;
    if input.unit.kind() == UpdateUnitKind::SparseSampler {
        // The modelled hardware's algorithm: its work is charged.
        work.stats = sample_eapu_rank1(
            xs,
            ds,
            scale,
            r_wg,
            th,
            &mut tile.rng_decide,
            &mut work.sampled,
        );
        work.random = 0;
    } else {
        // Units charged EaPU's dense work: the same distribution, drawn
        // the simulator's fastest way.
        sample_eapu_rank1_blocked(
            xs,
            ds,
            scale,
            r_wg,
            th,
            &mut tile.rng_decide,
            &mut scratch.blocked,
            &mut work.sampled,
        );
        work.stats = SamplerStats::default();
        // What EaPU's dense `decide` counts: a random decision per
        // sub-threshold non-zero request (and a compare per weight).
        work.random = eapu_random_count(xs, ds, scale, r_wg, th, &mut scratch.sorted_abs);
    }
}

/// Counts the unit's work for the tile's sampled decisions `work` in
/// `counts`; returns the cycles before the tile's writes. The
/// `sparse-sampler` unit is charged the sampler's work; `digital-mac` and
/// `off-chip` their dense work.
pub(crate) fn charge_sampled(
    input: &FormInput<'_, '_>,
    counts: &mut FormCounts,
    tile: &Tile,
    work: &SparseWork,
) -> u64 {
    let unit = input.unit;
    let weights = (tile.rows * tile.cols) as u64;
    let lines = (tile.rows + tile.cols) as u64;
    let per_cycle = u64::from(input.digital.macs_per_cycle());
    let s = &work.stats;
    let rank = input.request.rank(input.rows) as u64;
    if unit.kind() == UpdateUnitKind::SparseSampler && rank == 1 {
        counts.sampler_line_max += tile.cols as u64;
        counts.sampler_row_tests += tile.rows as u64;
        counts.sampler_rows += s.sampled_rows;
        counts.sampler_skip_draws += s.skip_draws;
        counts.sampler_compares += s.skip_draws + s.candidates;
        counts.sampler_random += s.skip_draws + s.candidates + s.dense_random;
        counts.grad_macs += s.dense_macs;
        counts.decision.compares += s.dense_macs;
        let lanes = u64::from(unit.sampler_lanes());
        return (lines + s.skip_draws).div_ceil(lanes) + s.dense_macs.div_ceil(per_cycle);
    }
    let dense = DecisionStats {
        compares: weights,
        random_decisions: work.random,
        ..DecisionStats::default()
    };
    charge_unit(input, counts, &dense, rank, weights, lines, true, false)
}

/// Where [`form_and_decide`] left a tile's decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decided {
    /// One per weight in `scratch.dec[..rows × cols]`.
    Dense,
    /// The written weights only, in `scratch.sparse.sampled`.
    Sparse,
}

/// Forms the tile's requested changes with the chip's unit, has them
/// decided (into `scratch`, as [`Decided`] says), counts the work in
/// `counts`, and returns the cycles before the tile's writes may start.
///
/// A rank-1 factor request under EaPU's rule (`eapu_threshold_us`, the
/// analog [`WriteMode::Program`] write) is drawn by sampling on every unit
/// but `low-precision` (whose coded requests are no longer rank 1): on
/// `sparse-sampler` by the modelled hardware's [`sample_eapu_rank1`]; on
/// `digital-mac` and `off-chip` by [`sample_eapu_rank1_blocked`], only the
/// simulator's method — the same distribution of decisions at a cost that
/// grows with the writes — and those units are charged exactly their dense work (a
/// MAC and a compare per weight, the dense rule's random decisions
/// counted by [`eapu_random_count`]).
pub(crate) fn form_and_decide(
    input: &FormInput<'_, '_>,
    rule: &mut dyn UpdateRule,
    tile: &mut Tile,
    scratch: &mut UpdateScratch,
    counts: &mut FormCounts,
) -> (u64, Decided) {
    let (rows, cols, r_wg) = (input.rows, input.cols, input.r_wg_us);
    let unit = input.unit;
    let block = TileBlock {
        row0: tile.row0,
        col0: tile.col0,
        rows: tile.rows,
        cols: tile.cols,
    };
    let weights = (tile.rows * tile.cols) as u64;
    let lines = (tile.rows + tile.cols) as u64;
    let rank = input.request.rank(rows).max(1) as u64;
    if let Some(th) = sparse_eapu(rule, unit, input.request) {
        sample_tile(
            input,
            th,
            tile,
            &mut scratch.sparse,
            &mut scratch.sparse_scratch,
        );
        let cycles = charge_sampled(input, counts, tile, &scratch.sparse);
        return (cycles, Decided::Sparse);
    }
    let n = tile.rows * tile.cols;
    for buf in [&mut scratch.req, &mut scratch.dec] {
        if buf.len() < n {
            buf.resize(n, 0.0);
        }
    }
    let req = &mut scratch.req[..n];
    input.request.requested_us(rows, cols, block, r_wg, req);
    let gradient = rule.needs_gradient();
    let low_precision = forms_low_precision(unit, rule);
    let mut factors = input
        .request
        .tile_factors(rows, cols, block, r_wg, &mut scratch.factors);
    if low_precision {
        let levels = unit.code_levels();
        let rng = &mut tile.rng_form;
        match factors {
            Some(f) => {
                scratch.qx.clear();
                scratch.qx.extend_from_slice(f.x);
                scratch.qd.clear();
                scratch.qd.extend_from_slice(f.delta);
                for p in 0..f.rank {
                    let xr = &mut scratch.qx[p * tile.rows..(p + 1) * tile.rows];
                    counts.lp_round_draws += log_quantise(xr, levels, rng);
                    let dr = &mut scratch.qd[p * tile.cols..(p + 1) * tile.cols];
                    counts.lp_round_draws += log_quantise(dr, levels, rng);
                }
                let q = TileFactors {
                    x: &scratch.qx,
                    delta: &scratch.qd,
                    rank: f.rank,
                    scale_us: f.scale_us,
                };
                for (p, (xp, dp)) in (0..q.rank).map(|p| (p, q.term(p))) {
                    for (out_row, &xi) in req.chunks_exact_mut(tile.cols).zip(xp) {
                        let k = q.scale_us * xi;
                        if p == 0 {
                            out_row.iter_mut().zip(dp).for_each(|(o, &d)| *o = k * d);
                        } else {
                            out_row.iter_mut().zip(dp).for_each(|(o, &d)| *o += k * d);
                        }
                    }
                }
                counts.lp_line_max += rank * lines;
                counts.lp_encodes += rank * lines;
                factors = Some(q);
            }
            None => {
                counts.lp_round_draws += log_quantise(req, levels, rng);
                counts.lp_line_max += weights;
                counts.lp_encodes += weights;
            }
        }
    }
    let rule_input = RuleInput {
        tile: input.tile_index,
        rows: tile.rows,
        cols: tile.cols,
        requested_us: req,
        factors,
    };
    let mut ctx = RuleContext::new(&mut tile.rng_decide);
    rule.decide(&rule_input, &mut scratch.dec[..n], &mut ctx);
    let s = ctx.costs();
    let cycles = charge_unit(
        input,
        counts,
        &s,
        rank,
        weights,
        lines,
        gradient,
        low_precision,
    );
    (cycles, Decided::Dense)
}

/// Counts the unit's forming work and the rule's decisions `s` of one
/// tile (`weights`, `lines` rows + columns, a rank-`rank` request; the
/// gradient formed when `gradient`, its factors coded when
/// `low_precision`); returns the cycles before the tile's writes.
#[allow(clippy::too_many_arguments)]
fn charge_unit(
    input: &FormInput<'_, '_>,
    counts: &mut FormCounts,
    s: &DecisionStats,
    rank: u64,
    weights: u64,
    lines: u64,
    gradient: bool,
    low_precision: bool,
) -> u64 {
    let unit = input.unit;
    let per_cycle = u64::from(input.digital.macs_per_cycle());
    add_decisions(&mut counts.decision, s);
    let grad = if gradient { rank * weights } else { 0 };
    let decide_ops = s.compares + s.coincidence_counts;
    match unit.kind() {
        UpdateUnitKind::DigitalMac | UpdateUnitKind::SparseSampler => {
            counts.grad_macs += grad;
            // Compares and counts run in the same pipeline as the MACs.
            (grad.max(decide_ops) + s.macs).div_ceil(per_cycle)
        }
        UpdateUnitKind::LowPrecision => {
            counts.lp_code_adds += grad;
            if gradient {
                counts.lp_accumulate += (rank - 1) * weights;
            }
            let lanes = u64::from(unit.low_precision_lanes());
            // One encoding cycle per term (line encoders work in parallel).
            let encode = if low_precision { rank } else { 0 };
            encode + grad.max(decide_ops).div_ceil(lanes) + s.macs.div_ceil(per_cycle)
        }
        UpdateUnitKind::OffChip => {
            if gradient {
                counts.host_macs += grad;
                let bytes = (rank * lines + weights) * u64::from(unit.bytes_per_value());
                counts.link_bytes += bytes;
                counts.link_cycles += bytes.div_ceil(u64::from(unit.link_bytes_per_cycle()));
            }
            counts.link_cycles + (decide_ops + s.macs).div_ceil(per_cycle)
        }
    }
}

fn add_decisions(sum: &mut DecisionStats, s: &DecisionStats) {
    sum.compares += s.compares;
    sum.coincidence_counts += s.coincidence_counts;
    sum.random_decisions += s.random_decisions;
    sum.macs += s.macs;
    sum.sram_reads += s.sram_reads;
    sum.sram_writes += s.sram_writes;
}

/// One priced charge: (operation, count, pJ each).
pub(crate) type Charge = (&'static str, u64, f64);

impl FormCounts {
    /// The digital charges of the update, in ledger order (an iterator:
    /// nothing is allocated per update), with
    /// `algorithm_macs` (the caller's own MACs) added to the gradient MACs.
    /// The first five entries are those of the digital MAC array with any
    /// rule (zero counts of the optional ones left out), so a
    /// `digital-mac` run's ledger is unchanged by the other units' code.
    pub(crate) fn charges(
        &self,
        unit: &UpdateUnit,
        dig: &Digital,
        algorithm_macs: u64,
    ) -> impl Iterator<Item = Charge> {
        let d = &self.decision;
        let bits = u64::from(dig.random_bits_per_decision());
        let (mac, add, lut, bit) = (
            dig.mac_pj(),
            dig.add_pj(),
            dig.activation_pj(),
            dig.random_bit_pj(),
        );
        let dense: [Charge; 3] = [
            ("gradient_mac", algorithm_macs + self.grad_macs, mac),
            ("threshold_compare", d.compares, add),
            (
                "random_bits",
                (d.random_decisions + self.sampler_random) * bits,
                bit,
            ),
        ];
        let optional: [Charge; 17] = [
            ("coincidence_count", d.coincidence_counts, add),
            ("sram_read", d.sram_reads, dig.sram_read_pj()),
            ("sram_write", d.sram_writes, dig.sram_write_pj()),
            ("decision_mac", d.macs, mac),
            ("lp_line_max", self.lp_line_max, add),
            ("lp_encode", self.lp_encodes, add),
            ("lp_round_bits", self.lp_round_draws * bits, bit),
            ("lp_code_add", self.lp_code_adds, unit.code_add_pj(add)),
            ("lp_accumulate", self.lp_accumulate, add),
            ("sampler_line_max", self.sampler_line_max, add),
            ("sampler_row_test", self.sampler_row_tests, add),
            ("sampler_row_mac", self.sampler_rows, mac),
            ("sampler_row_log", self.sampler_rows, lut),
            ("sampler_skip_log", self.sampler_skip_draws, lut),
            ("sampler_skip_mac", self.sampler_skip_draws, mac),
            ("sampler_compare", self.sampler_compares, add),
            ("host_mac", self.host_macs, unit.host_mac_pj()),
        ];
        let link: Charge = ("link_transfer", self.link_bytes, unit.link_pj_per_byte());
        dense
            .into_iter()
            .chain(optional.into_iter().chain([link]).filter(|x| x.1 > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Chip, ChipSim, MatrixUpdate};
    use aimsim_core::config::overrides as over;
    use aimsim_device::builtin_device;

    /// A 4 × 6 matrix on one 4 × 12-cell tile of the default chip with
    /// `chip_over`; one update of `request` with 3 algorithm MACs in the
    /// update phase; returns the chip and the digital charges by operation.
    fn one_update(
        chip_over: &[(&str, &str)],
        rule: &str,
        request: UpdateRequest<'_>,
    ) -> (ChipSim, Vec<(&'static str, u64, f64)>) {
        let mut o = over(&[("array.rows", "4"), ("array.cols", "12")]);
        o.push(("rule.name".into(), format!("\"{rule}\"")));
        o.extend(over(chip_over));
        let chip = Chip::builtin("eapu-180nm", &o).unwrap();
        let model = builtin_device("eapu-180nm", &[]).unwrap();
        let mut sim = ChipSim::new(chip, model, 5).unwrap();
        let m = sim.place(4, 6, &[0.1; 24]);
        sim.enter_phase(Phase::UPDATE).unwrap();
        sim.update(&[MatrixUpdate { matrix: m, request }], 3)
            .unwrap();
        sim.enter_phase(Phase::FORWARD).unwrap();
        let ops = sim
            .ledger()
            .entries()
            .filter(|(k, _)| k.component == Component::Digital)
            .map(|(k, t)| (k.operation, t.count, t.pj))
            .collect();
        (sim, ops)
    }

    fn count(ops: &[(&'static str, u64, f64)], op: &str) -> u64 {
        ops.iter().filter(|o| o.0 == op).map(|o| o.1).sum()
    }

    const X: [f32; 8] = [1.0, -0.5, 0.25, 0.0, 0.5, 0.5, -1.0, 0.125];
    const D: [f32; 12] = [
        0.5, -0.25, 1.0, 0.0, 0.75, -0.5, 0.25, 0.5, -1.0, 0.125, 0.0, 0.5,
    ];

    /// Each unit's forming work by hand on a rank-2 request of a 4 × 6
    /// tile (24 weights, 10 lines per term), and the split adding up to
    /// the update phase's energy.
    #[test]
    fn each_unit_counts_its_forming_work_and_the_split_adds_up() {
        let rank2 = UpdateRequest::Factors {
            x: &X,
            delta: &D,
            scale: -0.02,
        };
        // digital-mac: P = 2 MACs per weight (the rank-P fix) + 3 own.
        let (sim, ops) = one_update(&[], "eapu", rank2);
        assert_eq!(count(&ops, "gradient_mac"), 2 * 24 + 3);
        assert_eq!(count(&ops, "threshold_compare"), 24);
        let split = UpdateSplit::from_ledger(sim.ledger(), Phase::UPDATE);
        let mac = sim.chip().digital.mac_pj();
        assert!((split.forming - 51.0 * mac).abs() < 1e-9, "{split:?}");
        // low-precision: codes per line and term, a code add per weight
        // and term, one accumulate per weight, 3 own MACs.
        let (sim, ops) = one_update(&[("update_unit", "low-precision")], "eapu", rank2);
        assert_eq!(count(&ops, "gradient_mac"), 3);
        assert_eq!(count(&ops, "lp_code_add"), 48);
        assert_eq!(count(&ops, "lp_accumulate"), 24);
        assert_eq!(count(&ops, "lp_encode"), 20);
        let add = sim.chip().digital.add_pj();
        let code_add: f64 = ops
            .iter()
            .filter(|o| o.0 == "lp_code_add")
            .map(|o| o.2)
            .sum();
        assert!((code_add - 48.0 * add * 4.0 / 8.0).abs() < 1e-9);
        // off-chip: host MACs, link bytes up (2 × 10 values) and down (24).
        let (sim, ops) = one_update(&[("update_unit", "off-chip")], "eapu", rank2);
        assert_eq!(count(&ops, "host_mac"), 48);
        assert_eq!(count(&ops, "link_transfer"), 20 + 24);
        assert_eq!(count(&ops, "gradient_mac"), 3);
        let _ = sim;
        // sparse-sampler on a rank-2 request falls back to the MAC array.
        let (_, ops) = one_update(&[("update_unit", "sparse-sampler")], "eapu", rank2);
        assert_eq!(count(&ops, "gradient_mac"), 2 * 24 + 3);
        assert_eq!(count(&ops, "sampler_skip_log"), 0);
        // Every unit and rule: the four parts add up to the update phase.
        for unit in ["digital-mac", "low-precision", "sparse-sampler", "off-chip"] {
            for rule in [
                "eapu",
                "bp",
                "stochastic-pulse",
                "mixed-precision",
                "write-verify",
            ] {
                for req in [
                    rank2,
                    UpdateRequest::Factors {
                        x: &X[..4],
                        delta: &D[..6],
                        scale: -0.5,
                    },
                ] {
                    let (sim, _) = one_update(&[("update_unit", unit)], rule, req);
                    let split = UpdateSplit::from_ledger(sim.ledger(), Phase::UPDATE);
                    let phase = sim.ledger().phase_pj(Phase::UPDATE);
                    assert!(
                        (split.total() - phase).abs() <= 1e-9 * phase,
                        "{unit} {rule}: {split:?} vs {phase}"
                    );
                    assert!(
                        split.forming > 0.0 && split.static_pj > 0.0,
                        "{unit} {rule}"
                    );
                    if sim.writes().cell_writes > 0 {
                        assert!(split.writing > 0.0, "{unit} {rule}");
                    }
                }
            }
        }
    }

    /// The sparse sampler on a rank-1 EaPU request: per-line set-up and
    /// per-draw work, no per-weight MAC or compare for rows below the
    /// threshold; a row at or above it is decided densely.
    #[test]
    fn sparse_sampler_charges_lines_and_draws() {
        let small = UpdateRequest::Factors {
            x: &X[..4],
            delta: &D[..6],
            scale: -0.005,
        };
        let (_, ops) = one_update(&[("update_unit", "sparse-sampler")], "eapu", small);
        // |k_i| · max|δ| = 0.005 · 80 µS · |x_i| · 1 < 2 µS: no dense row.
        assert_eq!(count(&ops, "gradient_mac"), 3);
        assert_eq!(count(&ops, "threshold_compare"), 0);
        assert_eq!(count(&ops, "sampler_line_max"), 6);
        assert_eq!(count(&ops, "sampler_row_test"), 4);
        // Rows with x ≠ 0: three sampled rows, each ended by one skip draw.
        assert_eq!(count(&ops, "sampler_row_mac"), 3);
        let draws = count(&ops, "sampler_skip_mac");
        assert!(draws >= 3, "{draws}");
        let big = UpdateRequest::Factors {
            x: &X[..4],
            delta: &D[..6],
            scale: -0.5,
        };
        // Row 0: |k| = 40 µS ≥ 2 µS: dense (6 MACs, 6 compares).
        let (_, ops) = one_update(&[("update_unit", "sparse-sampler")], "eapu", big);
        assert!(count(&ops, "gradient_mac") >= 3 + 6);
        assert_eq!(
            count(&ops, "gradient_mac") - 3,
            count(&ops, "threshold_compare")
        );
        // Another rule uses the MAC array.
        let (_, ops) = one_update(&[("update_unit", "sparse-sampler")], "bp", small);
        assert_eq!(count(&ops, "gradient_mac"), 24 + 3);
    }

    /// A rank-1 EaPU request on `digital-mac` and `off-chip` is drawn by
    /// the sparse sampler, but the units are charged their dense work: a
    /// MAC (or host MAC) and a compare per weight, and the random bits of
    /// every request with `0 < |ΔG| < ΔG_th`, counted here cell by cell.
    #[test]
    fn sampled_eapu_is_charged_the_units_dense_work() {
        for (rank, scale) in [1, 2].into_iter().flat_map(|r| {
            [-0.005f32, -0.05, -0.5, 0.0]
                .into_iter()
                .map(move |s| (r, s))
        }) {
            let req = UpdateRequest::Factors {
                x: &X[..4 * rank],
                delta: &D[..6 * rank],
                scale,
            };
            let mut want = vec![0.0f32; 24];
            let block = TileBlock {
                row0: 0,
                col0: 0,
                rows: 4,
                cols: 6,
            };
            req.requested_us(4, 6, block, 80.0, &mut want);
            // A random decision per sub-threshold request, but for those
            // known to be 0 from their factors (no term non-zero in both;
            // at rank 2 the request (0, 1) cancels to 0 and still counts).
            let terms = |k: usize| {
                let (i, j) = (k / 6, k % 6);
                (0..rank).any(|p| X[p * 4 + i] != 0.0 && D[p * 6 + j] != 0.0)
            };
            let random = (0..24)
                .filter(|&k| want[k].abs() < 2.0 && terms(k) && scale != 0.0)
                .count() as u64;
            assert_eq!(
                random == 0,
                scale == 0.0 || (scale == -0.5 && rank == 1),
                "{scale}: {random}"
            );
            if rank == 2 {
                assert_eq!(want[1], 0.0, "a request that cancels");
            }
            let macs = 24 * rank as u64;
            let (sim, ops) = one_update(&[], "eapu", req);
            assert_eq!(count(&ops, "gradient_mac"), macs + 3, "scale {scale}");
            assert_eq!(count(&ops, "threshold_compare"), 24);
            let bits = u64::from(sim.chip().digital.random_bits_per_decision());
            assert_eq!(count(&ops, "random_bits"), random * bits, "scale {scale}");
            let (_, ops) = one_update(&[("update_unit", "off-chip")], "eapu", req);
            assert_eq!(count(&ops, "host_mac"), macs);
            assert_eq!(count(&ops, "threshold_compare"), 24);
            assert_eq!(count(&ops, "random_bits"), random * bits);
            if rank > 1 {
                // The sampler unit does not apply: its MAC array's dense work.
                let (_, ops) = one_update(&[("update_unit", "sparse-sampler")], "eapu", req);
                assert_eq!(count(&ops, "gradient_mac"), macs + 3);
                assert_eq!(count(&ops, "threshold_compare"), 24);
                assert_eq!(count(&ops, "random_bits"), random * bits);
                assert_eq!(count(&ops, "sampler_skip_log"), 0);
            }
        }
    }

    #[test]
    fn stages_sort_the_ledger_operations() {
        use Component as C;
        use UpdateStage as S;
        for (c, op, want) in [
            (C::Digital, "gradient_mac", S::Forming),
            (C::Digital, "bias_gradient", S::Forming),
            (C::Digital, "host_mac", S::Forming),
            (C::Digital, "link_transfer", S::Forming),
            (C::Digital, "threshold_compare", S::Deciding),
            (C::Digital, "random_bits", S::Deciding),
            (C::Digital, "sampler_skip_log", S::Deciding),
            (C::ArrayWrite, "set_pulse", S::Writing),
            (C::Driver, "reset_phase", S::Writing),
            (C::Adc, "verify_conversion", S::Writing),
            (C::Dac, "verify_drive", S::Writing),
            (C::Adc, "conversion", S::Forming),
            (C::Static, "leakage", S::Static),
        ] {
            assert_eq!(update_stage(c, op), want, "{c:?} {op}");
        }
    }
}
