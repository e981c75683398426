//! Write plans: which cells get which change, grouped into pulse phases,
//! and the device operations that execute one planned write.

use crate::WriteMode;
use aimsim_core::{round, Rng};
use aimsim_device::{CellArray, DeviceModel, Polarity, ProgramOutcome};
use rand_distr::{Distribution, StandardNormal};

/// Sparse decisions ahead of the one being planned whose pair is
/// prefetched.
const PREFETCH_AHEAD: usize = 8;

/// One cell's planned change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedWrite {
    /// Cell index in the tile's array.
    pub cell: u32,
    /// The cell's conductance change to aim at, µS (> 0 for SET, < 0 for RESET).
    pub dg_us: f32,
    /// Nominal pulses: the fixed pulses to apply ([`WriteMode::Pulses`]), or
    /// the pulses the driver shapes for one programming operation,
    /// `max(1, ⌈|ΔG|/step⌉)`.
    pub pulses: u32,
}

/// The writes of one row of cells, by polarity (a view into a
/// [`WritePlan`]).
#[derive(Clone, Copy, Debug)]
pub struct RowPlan<'a> {
    /// Weight row.
    pub row: u32,
    /// SET writes, in cell order.
    pub set_writes: &'a [PlannedWrite],
    /// RESET writes, in cell order.
    pub reset_writes: &'a [PlannedWrite],
}

/// A group of cells of one row pulsed together with one polarity.
#[derive(Clone, Copy, Debug)]
pub struct PulsePhase<'a> {
    /// Weight row.
    pub row: u32,
    /// Polarity of every pulse of the phase.
    pub polarity: Polarity,
    /// The cells written (at most the parallel-write limit).
    pub writes: &'a [PlannedWrite],
}

impl PulsePhase<'_> {
    /// The phase lasts as long as its longest pulse train.
    pub fn max_pulses(&self) -> u32 {
        self.writes.iter().map(|w| w.pulses).max().unwrap_or(0)
    }
}

/// Where one row's writes sit in [`WritePlan`]'s flat list: `set` SET
/// writes from `start`, then `reset` RESET writes.
#[derive(Clone, Copy, Debug)]
struct RowSpan {
    row: u32,
    start: u32,
    set: u32,
    reset: u32,
}

/// The write plan of one tile for one update: every planned write in one
/// flat list, row by row (SET writes then RESET writes, each in cell
/// order), and each written row's span of it. A plan is refilled in place
/// ([`WritePlan::fill_dense`], [`WritePlan::fill_sparse`]), so one plan
/// reused across updates allocates nothing once its buffers have grown.
#[derive(Clone, Debug, Default)]
pub struct WritePlan {
    writes: Vec<PlannedWrite>,
    rows: Vec<RowSpan>,
    /// The current row's RESET writes while its SET writes are listed.
    reset_buf: Vec<PlannedWrite>,
}

impl WritePlan {
    /// The plan of `decided_us` ([`WritePlan::fill_dense`]) in a new plan.
    pub fn build(
        array: &CellArray,
        model: &DeviceModel,
        decided_us: &[f32],
        mode: WriteMode,
    ) -> WritePlan {
        let mut plan = WritePlan::default();
        plan.fill_dense(array, model, decided_us, mode);
        plan
    }

    /// Replaces the plan by that of the decided changes `decided_us` (µS,
    /// one per weight, row-major over `array`'s `rows × cols`): each
    /// non-zero change is routed to a cell of its pair
    /// ([`CellArray::route`]) and the cells are grouped by row and
    /// polarity. With [`WriteMode::Pulses`] each write carries
    /// `round(|ΔG|/step)` fixed pulses (a change that rounds to none is
    /// dropped).
    pub fn fill_dense(
        &mut self,
        array: &CellArray,
        model: &DeviceModel,
        decided_us: &[f32],
        mode: WriteMode,
    ) {
        self.clear();
        let cols = array.cols();
        let mut memo = PulseMemo::default();
        for (r, chunk) in decided_us.chunks_exact(cols).enumerate() {
            let base = r * cols;
            let mut open = false;
            for (c, &d) in chunk.iter().enumerate() {
                if d == 0.0 {
                    continue;
                }
                if !open {
                    self.open_row(r as u32);
                    open = true;
                }
                self.push(array, model, base + c, d, mode, &mut memo);
            }
            if open {
                self.close_row();
            }
        }
    }

    /// Replaces the plan by that of the sparse decided changes `decided`:
    /// (weight index, row-major over `array`'s `rows × cols`; ΔG in µS),
    /// indices strictly increasing, zero changes allowed and skipped. The
    /// plan is the one [`WritePlan::fill_dense`] builds from the dense
    /// array holding these changes, at a cost that grows with the writes,
    /// not the cells.
    ///
    /// # Panics
    /// If the indices are not increasing or leave the array (a broken
    /// caller invariant).
    pub fn fill_sparse(
        &mut self,
        array: &CellArray,
        model: &DeviceModel,
        decided: &[(u32, f32)],
        mode: WriteMode,
    ) {
        self.clear();
        let cols = array.cols();
        let weights = array.rows() * cols;
        let mut row = None;
        let mut last = None;
        let mut memo = PulseMemo::default();
        for (i, &(k, d)) in decided.iter().enumerate() {
            // Routing reads the pair's conductances, scattered over the
            // array: start the loads a few writes ahead (a cache hint).
            if let Some(&(ahead, _)) = decided.get(i + PREFETCH_AHEAD) {
                array.prefetch_weight(ahead as usize);
            }
            assert!(
                last.is_none_or(|l| k > l) && (k as usize) < weights,
                "sparse decisions must be increasing indices below {weights}"
            );
            last = Some(k);
            if d == 0.0 {
                continue;
            }
            let r = k / cols as u32;
            if row != Some(r) {
                if row.is_some() {
                    self.close_row();
                }
                self.open_row(r);
                row = Some(r);
            }
            self.push(array, model, k as usize, d, mode, &mut memo);
        }
        if row.is_some() {
            self.close_row();
        }
    }

    /// Empties the plan, keeping its buffers.
    pub fn clear(&mut self) {
        self.writes.clear();
        self.rows.clear();
        self.reset_buf.clear();
    }

    fn open_row(&mut self, row: u32) {
        self.rows.push(RowSpan {
            row,
            start: self.writes.len() as u32,
            set: 0,
            reset: 0,
        });
    }

    /// Appends the open row's RESET writes after its SET writes; drops
    /// the row if it has none.
    fn close_row(&mut self) {
        let span = self.rows.last_mut().expect("a row is open");
        span.reset = self.reset_buf.len() as u32;
        span.set = self.writes.len() as u32 - span.start;
        if span.set + span.reset == 0 {
            self.rows.pop();
        }
        self.writes.append(&mut self.reset_buf);
    }

    /// Plans the change `d` (µS, non-zero) of weight `k` in the open row.
    fn push(
        &mut self,
        array: &CellArray,
        model: &DeviceModel,
        k: usize,
        d: f32,
        mode: WriteMode,
        memo: &mut PulseMemo,
    ) {
        let (cell, pol, dg) = array.route(model, k, d);
        let pulses = match mode {
            WriteMode::Pulses { .. } | WriteMode::Switch { .. } => write_pulses(model, mode, dg),
            _ => memo.nominal_pulses(model, dg),
        };
        if pulses == 0 {
            return;
        }
        let w = PlannedWrite {
            cell: cell as u32,
            dg_us: dg,
            pulses,
        };
        // Into the SET or the RESET list without a branch (the polarity
        // is not predictable): pushed to both, then dropped from one.
        let set = pol == Polarity::Set;
        self.writes.push(w);
        self.reset_buf.push(w);
        self.writes.truncate(self.writes.len() - usize::from(!set));
        self.reset_buf
            .truncate(self.reset_buf.len() - usize::from(set));
    }

    /// The rows that have writes, in row order.
    pub fn rows(&self) -> impl Iterator<Item = RowPlan<'_>> {
        self.rows.iter().map(|s| {
            let (a, b) = (s.start as usize, (s.start + s.set) as usize);
            RowPlan {
                row: s.row,
                set_writes: &self.writes[a..b],
                reset_writes: &self.writes[b..b + s.reset as usize],
            }
        })
    }

    /// Every planned write, row by row (SET then RESET writes).
    pub fn writes(&self) -> &[PlannedWrite] {
        &self.writes
    }

    /// Cells written by the plan.
    pub fn cell_writes(&self) -> usize {
        self.writes.len()
    }

    /// Nominal pulses of the plan.
    pub fn pulses(&self) -> u64 {
        self.writes.iter().map(|w| u64::from(w.pulses)).sum()
    }

    /// Whether the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Packs the plan into pulse phases: per row, the SET cells then the
    /// RESET cells, each split into chunks of at most `max_parallel` cells.
    pub fn phases(&self, max_parallel: usize) -> impl Iterator<Item = PulsePhase<'_>> {
        assert!(max_parallel > 0, "parallel-write limit must be positive");
        self.rows().flat_map(move |rp| {
            let set = rp.set_writes.chunks(max_parallel).map(move |w| PulsePhase {
                row: rp.row,
                polarity: Polarity::Set,
                writes: w,
            });
            let reset = rp
                .reset_writes
                .chunks(max_parallel)
                .map(move |w| PulsePhase {
                    row: rp.row,
                    polarity: Polarity::Reset,
                    writes: w,
                });
            set.chain(reset)
        })
    }
}

/// The pulses of a planned write of the (routed) change `dg_us` in `mode`,
/// the value [`PlannedWrite::pulses`] holds: `round(|ΔG|/step)` fixed
/// pulses ([`WriteMode::Pulses`]; 0, a change the plan drops), the
/// switching attempts ([`WriteMode::Switch`]), or the pulses of one
/// programming operation. A function of its arguments only, so a write
/// stored without its pulses gets them back exactly.
#[inline]
pub fn write_pulses(model: &DeviceModel, mode: WriteMode, dg_us: f32) -> u32 {
    match mode {
        WriteMode::Pulses { step_us } => (dg_us.abs() / step_us).round() as u32,
        WriteMode::Switch {
            step_us,
            stochastic,
        } => crate::switching::planned_pulses(dg_us, step_us, stochastic),
        _ => nominal_pulses(model, dg_us),
    }
}

/// [`write_pulses`] for every write of `writes`: each one's `pulses` set
/// from its change (the mode matched once, so that the loop over the
/// writes is a plain one).
pub fn set_write_pulses(model: &DeviceModel, mode: WriteMode, writes: &mut [PlannedWrite]) {
    match mode {
        WriteMode::Pulses { .. } | WriteMode::Switch { .. } => {
            for w in writes {
                w.pulses = write_pulses(model, mode, w.dg_us);
            }
        }
        _ => {
            for w in writes {
                w.pulses = nominal_pulses(model, w.dg_us);
            }
        }
    }
}

/// The last change's [`nominal_pulses`] for each sign: most of a plan's
/// changes have one magnitude (EaPU's threshold), so its pulses are
/// looked up (a branch that is nearly always taken) rather than divided
/// for again (a division whose result the plan waits for).
#[derive(Default)]
struct PulseMemo {
    /// For changes with the sign bit `s`: (bits of the change, pulses).
    last: [(u32, u32); 2],
}

impl PulseMemo {
    /// [`nominal_pulses`] of `dg_us`, the same value.
    #[inline]
    fn nominal_pulses(&mut self, model: &DeviceModel, dg_us: f32) -> u32 {
        let bits = dg_us.to_bits();
        let slot = &mut self.last[(bits >> 31) as usize];
        // (Bits 0 of the default never match a change: changes are non-zero.)
        if slot.0 != bits {
            *slot = (bits, nominal_pulses(model, dg_us));
        }
        slot.1
    }
}

/// The pulses one programming operation of `dg_us` takes
/// (as [`CellArray::program`] shapes them).
#[inline]
fn nominal_pulses(model: &DeviceModel, dg_us: f32) -> u32 {
    let step = if dg_us >= 0.0 {
        model.step_set_us
    } else {
        model.step_reset_us
    };
    round::ceil_u32(dg_us.abs() / step).max(1)
}

/// Executes one planned write of a [`WriteMode::Program`] or
/// [`WriteMode::Pulses`] plan on the device (write-verify plans go through
/// [`verify_writes`]).
pub fn apply_write(
    cells: &mut CellArray,
    model: &DeviceModel,
    mode: WriteMode,
    w: &PlannedWrite,
    rng: &mut Rng,
) -> ProgramOutcome {
    match mode {
        WriteMode::Pulses { .. } => {
            let pol = if w.dg_us > 0.0 {
                Polarity::Set
            } else {
                Polarity::Reset
            };
            cells.pulse(model, w.cell as usize, pol, w.pulses, rng)
        }
        _ => cells.program(model, w.cell as usize, w.dg_us, rng),
    }
}

/// What one verify read of a phase's pending cells saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VerifyRead {
    /// Cells read.
    pub cells: u32,
    /// Sum of their true conductances, µS (for read energy).
    pub g_sum_us: f64,
}

/// The result of one cell's write-verify.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerifyOutcome {
    /// Cell index.
    pub cell: u32,
    /// The conductance aimed at: first read plus the planned change, µS.
    pub target_us: f32,
    /// Pulses spent.
    pub pulses: u32,
    /// Whether a verify read accepted it (false: the budget ran out).
    pub accepted: bool,
}

/// Write-verify of one phase's cells (one row, one polarity): a first read
/// sets each target `G_read + ΔG`; then, in rounds, every pending cell gets
/// one programming operation toward `target − last read`, and a verify read
/// (read noise `σ_r`) accepts the cells within `tolerance − guard` of their
/// target; a cell whose next operation would exceed `max_pulses` stops. The
/// rounds run in lock-step over the phase's cells, as the row drivers do.
/// `round` is called with each round's program outcomes (empty for the first
/// read) and its verify read, so the caller charges energy and cycles.
#[allow(clippy::too_many_arguments)]
pub fn verify_writes(
    cells: &mut CellArray,
    model: &DeviceModel,
    writes: &[PlannedWrite],
    tolerance_us: f32,
    guard_us: f32,
    max_pulses: u32,
    rng_write: &mut Rng,
    rng_read: &mut Rng,
    round: &mut dyn FnMut(&[ProgramOutcome], VerifyRead),
) -> Vec<VerifyOutcome> {
    let accept = tolerance_us - guard_us;
    let read = |cells: &CellArray, cell: u32, rng: &mut Rng| -> f32 {
        let z: f32 = StandardNormal.sample(rng);
        cells.conductance_us(model, cell as usize) + model.read_noise_us * z
    };
    let mut done = Vec::with_capacity(writes.len());
    // (outcome, last read)
    let mut pending: Vec<(VerifyOutcome, f32)> = Vec::with_capacity(writes.len());
    let mut first = VerifyRead::default();
    for w in writes {
        let g = read(cells, w.cell, rng_read);
        first.cells += 1;
        first.g_sum_us += f64::from(cells.conductance_us(model, w.cell as usize));
        pending.push((
            VerifyOutcome {
                cell: w.cell,
                target_us: g + w.dg_us,
                pulses: 0,
                accepted: false,
            },
            g,
        ));
    }
    round(&[], first);
    let mut outcomes = Vec::with_capacity(writes.len());
    while !pending.is_empty() {
        outcomes.clear();
        let mut kept = Vec::with_capacity(pending.len());
        for (mut v, last) in pending.drain(..) {
            let err = v.target_us - last;
            let n = nominal_pulses(model, err);
            if v.pulses + n > max_pulses {
                done.push(v);
                continue;
            }
            let o = cells.program(model, v.cell as usize, err, rng_write);
            v.pulses += o.pulses;
            outcomes.push(o);
            kept.push((v, last));
        }
        if kept.is_empty() {
            break;
        }
        let mut vr = VerifyRead::default();
        for (mut v, _) in kept {
            let g = read(cells, v.cell, rng_read);
            vr.cells += 1;
            vr.g_sum_us += f64::from(cells.conductance_us(model, v.cell as usize));
            if (g - v.target_us).abs() <= accept {
                v.accepted = true;
                done.push(v);
            } else {
                pending.push((v, g));
            }
        }
        round(&outcomes, vr);
    }
    done.sort_by_key(|v| v.cell);
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Eapu, RuleContext, RuleInput, UpdateRule};
    use aimsim_core::stream;
    use aimsim_device::builtin_device;
    use proptest::prelude::*;
    use rand::Rng as _;
    use std::collections::{BTreeMap, BTreeSet};

    fn model(over: &[(&str, &str)]) -> DeviceModel {
        builtin_device("eapu-180nm", &aimsim_core::config::overrides(over)).unwrap()
    }

    proptest! {
        #[test]
        fn pulse_memo_gives_the_computed_pulses(
            picks in proptest::collection::vec((0usize..6, any::<bool>()), 1..60),
        ) {
            // Repeated magnitudes of both signs, as a plan sees them, and
            // values whose pulses differ.
            let m = model(&[]);
            let mags = [m.step_set_us * 3.5, m.step_reset_us * 0.2, 1e-30, 40.0, f32::NAN, f32::INFINITY];
            let mut memo = PulseMemo::default();
            for (i, neg) in picks {
                let dg = if neg { -mags[i] } else { mags[i] };
                prop_assert_eq!(memo.nominal_pulses(&m, dg), nominal_pulses(&m, dg), "{}", dg);
            }
        }

        #[test]
        fn packing_respects_limit_and_keeps_every_pulse(
            decided in proptest::collection::vec(prop_oneof![Just(0.0f32), -9.0f32..9.0], 48),
            max_parallel in 1usize..10,
            pulsed in any::<bool>(),
        ) {
            let m = model(&[]);
            let a = CellArray::new(&m, 6, 8, &mut stream(1, "p"));
            let mode = if pulsed { WriteMode::Pulses { step_us: 2.0 } } else { WriteMode::Program };
            let plan = WritePlan::build(&a, &m, &decided, mode);
            let mut seen = BTreeMap::new();
            let mut phase_pulses = 0u64;
            for ph in plan.phases(max_parallel) {
                prop_assert!(!ph.writes.is_empty() && ph.writes.len() <= max_parallel);
                for w in ph.writes {
                    // A cell belongs to the phase's row and sign matches polarity.
                    prop_assert_eq!(w.cell as usize / 16, ph.row as usize);
                    prop_assert_eq!(w.dg_us > 0.0, ph.polarity == Polarity::Set);
                    prop_assert!(w.pulses >= 1 && w.pulses <= ph.max_pulses());
                    prop_assert!(seen.insert(w.cell / 2, w.pulses).is_none(), "weight written twice");
                    phase_pulses += u64::from(w.pulses);
                }
            }
            // Every weight's pulses arrive exactly once: the count the mode asks for.
            let want: BTreeMap<u32, u32> = decided.iter().enumerate()
                .filter_map(|(k, &d)| {
                    let n = if pulsed {
                        (d.abs() / 2.0).round() as u32
                    } else if d != 0.0 {
                        ((d.abs() / 2.0).ceil() as u32).max(1)
                    } else {
                        0
                    };
                    (n > 0).then_some((k as u32, n))
                })
                .collect();
            prop_assert_eq!(&seen, &want);
            prop_assert_eq!(phase_pulses, plan.pulses());
            let keys: BTreeSet<u32> = seen.keys().copied().collect();
            prop_assert_eq!(keys.len(), plan.cell_writes());
            // The sparse list of the same changes gives the same plan.
            let sparse: Vec<(u32, f32)> = decided.iter().enumerate()
                .filter(|(_, &d)| d != 0.0)
                .map(|(k, &d)| (k as u32, d))
                .collect();
            let mut again = WritePlan::build(&a, &m, &[0.0; 48], mode);
            again.fill_sparse(&a, &m, &sparse, mode);
            prop_assert_eq!(again.writes(), plan.writes());
            let spans = |p: &WritePlan| p.rows()
                .map(|r| (r.row, r.set_writes.len(), r.reset_writes.len()))
                .collect::<Vec<_>>();
            prop_assert_eq!(spans(&again), spans(&plan));
            for rp in plan.rows() {
                prop_assert!(rp.set_writes.iter().all(|w| w.dg_us > 0.0));
                prop_assert!(rp.reset_writes.iter().all(|w| w.dg_us < 0.0));
            }
        }
    }

    /// Random signed requests, |ΔG| uniform in [0, 4) µS (half of them
    /// below ΔG_th = 2), and the EaPU plan executed on the device.
    struct EapuTrial {
        requested: Vec<f32>,
        applied: Vec<f32>,
        written: Vec<bool>,
        before: Vec<f32>,
        after: Vec<f32>,
    }

    fn eapu_trial(m: &DeviceModel, seed: u64) -> EapuTrial {
        let (rows, cols) = (100, 100);
        let mut rng = stream(seed, "trial");
        let mut a = CellArray::new(m, rows, cols, &mut rng);
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| 0.4 * (2.0 * rng.random::<f32>() - 1.0))
            .collect();
        a.set_weights(m, &w);
        let requested: Vec<f32> = (0..rows * cols)
            .map(|_| {
                let r = 4.0 * rng.random::<f32>();
                if rng.random::<bool>() {
                    r
                } else {
                    -r
                }
            })
            .collect();
        let mut dec = vec![0.0; requested.len()];
        let input = RuleInput {
            tile: 0,
            rows,
            cols,
            requested_us: &requested,
            factors: None,
        };
        Eapu { threshold_us: 2.0 }.decide(&input, &mut dec, &mut RuleContext::new(&mut rng));
        let plan = WritePlan::build(&a, m, &dec, WriteMode::Program);
        let before = a.conductances_us(m).to_vec();
        let mut rng_w = stream(seed, "write");
        for ph in plan.phases(32) {
            for wr in ph.writes {
                apply_write(&mut a, m, WriteMode::Program, wr, &mut rng_w);
            }
        }
        let after = a.conductances_us(m).to_vec();
        let pair = |g: &[f32], k: usize| g[2 * k] - g[2 * k + 1];
        let applied = (0..requested.len())
            .map(|k| pair(&after, k) - pair(&before, k))
            .collect();
        let mut written = vec![false; before.len()];
        for rp in plan.rows() {
            for wr in rp.set_writes.iter().chain(rp.reset_writes) {
                written[wr.cell as usize] = true;
            }
        }
        EapuTrial {
            requested,
            applied,
            written,
            before,
            after,
        }
    }

    #[test]
    fn eapu_applied_update_is_unbiased_through_the_device() {
        // 20 trials × 10 000 requests. Per request, the applied change's
        // variance is at most ΔG_th²/4 (the decision) + σ_w² = 1 + 5.76, so
        // the mean error over N = 200 000 has SE ≤ sqrt(6.76/N) = 0.0058 µS;
        // allow 0.03 µS (5 SE). A rule that wrote ΔG_th for every
        // sub-threshold request would be off by ~0.5 µS.
        let m = model(&[]);
        let (mut err, mut n) = (0.0f64, 0usize);
        for seed in 0..20 {
            let t = eapu_trial(&m, seed);
            for (r, a) in t.requested.iter().zip(&t.applied) {
                err += f64::from(a - r);
                n += 1;
            }
        }
        let bias = err / n as f64;
        eprintln!("EaPU through the device: mean applied − requested = {bias:.5} µS over {n}");
        assert!(bias.abs() < 0.03, "mean applied − requested = {bias} µS");
    }

    #[test]
    fn eapu_write_fraction_is_mean_of_min_1_dg_over_th() {
        // The written fraction of N = 200 000 weights against E = mean of
        // min(1, |ΔG|/ΔG_th); its SE is sqrt(Σ p(1−p))/N ≤ 0.5/sqrt(N) =
        // 0.0011; allow 0.0056 (5 SE).
        let m = model(&[]);
        let (mut written, mut expected, mut n) = (0usize, 0.0f64, 0usize);
        for seed in 0..20 {
            let t = eapu_trial(&m, seed);
            written += t.written.iter().filter(|&&w| w).count();
            expected += t
                .requested
                .iter()
                .map(|r| f64::from((r.abs() / 2.0).min(1.0)))
                .sum::<f64>();
            n += t.requested.len();
        }
        let (frac, want) = (written as f64 / n as f64, expected / n as f64);
        eprintln!("EaPU write fraction {frac:.5}, mean min(1, |ΔG|/ΔG_th) {want:.5}");
        assert!((frac - want).abs() < 0.0056, "written {frac} vs {want}");
    }

    #[test]
    fn write_noise_lands_only_on_written_cells() {
        // Unwritten cells keep their exact conductance; written cells move by
        // the decided change plus noise of σ_w = 2.4 µS: over ~5 000 written
        // cells σ̂ is within 5 % (SE of σ̂ = σ/sqrt(2n) = 1 %).
        let m = model(&[]);
        let t = eapu_trial(&m, 99);
        let mut dev = Vec::new();
        for c in 0..t.before.len() {
            if t.written[c] {
                dev.push(t.after[c] - t.before[c]);
            } else {
                assert_eq!(t.after[c].to_bits(), t.before[c].to_bits(), "cell {c}");
            }
        }
        assert!(dev.len() > 4000, "{} written", dev.len());
        // Remove the intended change: every EaPU write is ±2 µS or |ΔG| ≥ 2,
        // so compare per-weight applied − decided via the pair.
        let m2 = model(&[("write_noise_us", "0")]);
        let quiet = eapu_trial(&m2, 99);
        let mut s2 = 0.0f64;
        let mut n = 0;
        for k in 0..t.applied.len() {
            let e = f64::from(t.applied[k] - quiet.applied[k]);
            if t.written[2 * k] || t.written[2 * k + 1] {
                s2 += e * e;
                n += 1;
            } else {
                assert_eq!(t.applied[k], 0.0);
            }
        }
        let sigma = (s2 / n as f64).sqrt();
        eprintln!("σ of written cells' error {sigma:.4} µS over {n} writes");
        assert!((sigma - 2.4).abs() < 0.05 * 2.4, "σ = {sigma} over {n}");
    }

    #[test]
    fn write_verify_leaves_99_percent_within_tolerance() {
        // Default device (σ_w = 2.4 µS, σ_r = 0.5 µS), tolerance σ_w, guard
        // 2σ_r, budget 64 pulses: 10 000 writes of |ΔG| < 5 µS. Required:
        // ≥ 99 % of cells truly within tolerance of their target.
        let m = model(&[]);
        let (rows, cols) = (100, 100);
        let mut rng = stream(5, "wv");
        let mut a = CellArray::new(&m, rows, cols, &mut rng);
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| 0.4 * (2.0 * rng.random::<f32>() - 1.0))
            .collect();
        a.set_weights(&m, &w);
        let dec: Vec<f32> = (0..rows * cols)
            .map(|_| 10.0 * rng.random::<f32>() - 5.0)
            .collect();
        let plan = WritePlan::build(&a, &m, &dec, WriteMode::Program);
        let (mut rw, mut rr) = (stream(5, "w"), stream(5, "r"));
        let (tol, guard) = (m.write_noise_us, 2.0 * m.read_noise_us);
        let mut rounds = 0;
        let mut reads = 0u32;
        let mut outcomes = Vec::new();
        for ph in plan.phases(32) {
            outcomes.extend(verify_writes(
                &mut a,
                &m,
                ph.writes,
                tol,
                guard,
                64,
                &mut rw,
                &mut rr,
                &mut |_, vr| {
                    rounds += 1;
                    reads += vr.cells;
                },
            ));
        }
        assert_eq!(outcomes.len(), rows * cols);
        let g = a.conductances_us(&m);
        let within = outcomes
            .iter()
            .filter(|v| (g[v.cell as usize] - v.target_us).abs() <= tol)
            .count();
        let frac = within as f64 / outcomes.len() as f64;
        let pulses: u32 = outcomes.iter().map(|v| v.pulses).sum();
        eprintln!(
            "write-verify: {frac:.4} within tolerance, {:.2} pulses and {:.2} reads per cell",
            f64::from(pulses) / outcomes.len() as f64,
            f64::from(reads) / outcomes.len() as f64
        );
        assert!(frac >= 0.99, "{frac} within tolerance");
        assert!(outcomes.iter().all(|v| v.pulses <= 64));
        assert!(reads as usize > outcomes.len() && rounds > plan.phases(32).count());
    }

    #[test]
    fn stochastic_pulse_expected_update_through_the_device() {
        // x ⊗ δ on a 3 × 4 tile, N = 40 000 updates each executed as fixed
        // pulses with write noise (σ_w = 2.4 µS per pulse) from the same
        // start. Per weight Var ≤ (Δg_min² + σ_w²)·E[n] ≤ 9.8·1 µS², so the
        // mean's SE ≤ 0.016 µS; allow 0.1 µS (6 SE).
        use crate::{StochasticPulse, TileFactors};
        let m = model(&[
            ("endurance_median_pulses", "4e9"),
            ("endurance_sigma_log", "0"),
        ]);
        let x = [0.2f32, -0.7, 1.0];
        let d = [0.5f32, -1.0, 0.1, 0.0];
        let s_us = -0.02 * 80.0 * 1.5;
        let req: Vec<f32> = x
            .iter()
            .flat_map(|&xi| d.iter().map(move |&dj| s_us * xi * dj))
            .collect();
        let mut rule = StochasticPulse {
            bl: 31,
            update_management: true,
            bl_management: true,
            dw_min_us: 2.0,
        };
        let mode = rule.write_mode();
        let mut rng = stream(11, "sp-dev");
        let mut a = CellArray::new(&m, 3, 4, &mut rng);
        let mut dec = vec![0.0; req.len()];
        let mut sum = vec![0.0f64; req.len()];
        let n = 40_000;
        for _ in 0..n {
            a.set_weights(&m, &[0.0; 12]);
            let input = RuleInput {
                tile: 0,
                rows: 3,
                cols: 4,
                requested_us: &req,
                factors: Some(TileFactors {
                    x: &x,
                    delta: &d,
                    rank: 1,
                    scale_us: s_us,
                }),
            };
            rule.decide(&input, &mut dec, &mut RuleContext::new(&mut rng));
            let plan = WritePlan::build(&a, &m, &dec, mode);
            for ph in plan.phases(32) {
                for w in ph.writes {
                    apply_write(&mut a, &m, mode, w, &mut rng);
                }
            }
            let g = a.conductances_us(&m);
            for (k, acc) in sum.iter_mut().enumerate() {
                *acc += f64::from(g[2 * k] - g[2 * k + 1]);
            }
        }
        for (k, &r) in req.iter().enumerate() {
            let mean = sum[k] / n as f64;
            assert!(
                (mean - f64::from(r)).abs() < 0.1,
                "weight {k}: {mean} vs {r}"
            );
        }
    }
}
