//! What the chip measured about itself: time breakdowns, write counters,
//! the timing report and device wear.

use crate::sim::ChipSim;
use aimsim_core::SimTime;
use aimsim_device::{endurance_order_statistic, CellArray};
use aimsim_energy::Phase;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the time of one tile operation went, in ps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Breakdown {
    /// Waiting for the tile to finish earlier operations.
    pub(crate) tile_wait: u64,
    /// DAC settling and integration.
    pub(crate) settle_integrate: u64,
    /// ADC conversion batches (or the digital MVM without a device).
    pub(crate) convert: u64,
    /// Digital gradient computation before a write.
    pub(crate) gradient: u64,
    /// Pulse phases.
    pub(crate) pulses: u64,
    /// Waiting for the chip-wide write-current budget.
    pub(crate) budget_wait: u64,
}

impl Breakdown {
    pub(crate) fn add(&mut self, o: &Breakdown) {
        self.tile_wait += o.tile_wait;
        self.settle_integrate += o.settle_integrate;
        self.convert += o.convert;
        self.gradient += o.gradient;
        self.pulses += o.pulses;
        self.budget_wait += o.budget_wait;
    }
}

/// Timing statistics of a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimingStats {
    /// ps the controller spent in each phase.
    pub(crate) phase_ps: BTreeMap<Phase, u64>,
    /// The critical path's breakdown.
    pub(crate) critical: Breakdown,
    /// Σ cells × duration of pulse phases (cell·ps), for budget utilisation.
    pub(crate) budget_cell_ps: u128,
    /// ps phases waited for the write-current budget.
    pub(crate) budget_wait_ps: u64,
}

/// Counters of cell writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteStats {
    /// Write pulses applied.
    pub pulses: u64,
    /// Cell write operations (a cell written in one update counts once).
    pub cell_writes: u64,
    /// Pulse phases executed (verify rounds count separately).
    pub phases: u64,
    /// Cycles from issuing an update until its last write finished, summed.
    pub update_cycles: u64,
}

/// `report.json`'s `timing` section: how simulated time was spent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingReport {
    /// `sequential` or `pipelined`.
    pub schedule: String,
    /// Controller cycles in each phase (they add up to the run's cycles).
    pub cycles_by_phase: BTreeMap<String, u64>,
    /// The critical path's cycles by cause.
    pub critical_path: CriticalPath,
    /// Per-tile utilisation.
    pub tiles: Vec<TileTiming>,
    /// Mean ADC utilisation over tiles.
    pub adc_utilisation: f64,
    /// Σ cells × pulse time / (budget × run time), with a budget.
    pub write_budget_utilisation: Option<f64>,
    /// Cycles pulse phases waited for write current.
    pub write_budget_wait_cycles: u64,
}

/// The critical path's cycles by cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriticalPath {
    /// Waiting for the tile's earlier operations.
    pub tile_wait: u64,
    /// DAC settle and integration.
    pub settle_integrate: u64,
    /// ADC conversions (or digital MVMs).
    pub convert: u64,
    /// Digital gradient before writes.
    pub gradient: u64,
    /// Pulse phases.
    pub pulses: u64,
    /// Waiting for the write-current budget.
    pub budget_wait: u64,
}

/// One tile's utilisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TileTiming {
    /// Tile id.
    pub tile: u32,
    /// The matrix (network layer) placed on the tile.
    pub layer: usize,
    /// Fraction of the run the tile was busy.
    pub utilisation: f64,
    /// Fraction of the run its ADCs converted.
    pub adc_utilisation: f64,
    /// Reads executed.
    pub reads: u64,
    /// Pulse phases executed.
    pub write_phases: u64,
}

/// One row of `lifetime.csv`: wear of the cells after `step` steps.
#[derive(Clone, Debug, PartialEq)]
pub struct LifetimeRow {
    /// Training steps so far.
    pub step: u64,
    /// Mean pulses per cell.
    pub pulses_mean: f64,
    /// 99th percentile of pulses per cell.
    pub pulses_p99: u32,
    /// Most pulses on one cell.
    pub pulses_max: u32,
    /// Cells past their endurance.
    pub failed_cells: u64,
    /// Steps until the first cell wears out at the rate so far, if any wears.
    pub projected_steps_to_first_failure: Option<u64>,
}

impl LifetimeRow {
    /// The CSV header of `lifetime.csv`.
    pub const HEADER: [&'static str; 6] = [
        "step",
        "pulses_mean",
        "pulses_p99",
        "pulses_max",
        "failed_cells",
        "projected_steps_to_first_failure",
    ];

    /// The CSV fields of this row.
    pub fn fields(&self) -> Vec<String> {
        vec![
            self.step.to_string(),
            format!("{:.6}", self.pulses_mean),
            self.pulses_p99.to_string(),
            self.pulses_max.to_string(),
            self.failed_cells.to_string(),
            self.projected_steps_to_first_failure
                .map_or(String::new(), |s| s.to_string()),
        ]
    }
}

impl ChipSim {
    /// The timing report of everything simulated so far.
    pub fn timing_report(&self) -> TimingReport {
        let chip = self.chip();
        let cycles = chip.clock.cycles_at(self.now());
        let c = |ps: u64| chip.clock.cycles_at(SimTime(ps));
        let total_ps = self.now().ps().max(1) as f64;
        let t = &self.timing;
        let tiles: Vec<TileTiming> = self
            .tiles
            .iter()
            .map(|tile| TileTiming {
                tile: tile.id,
                layer: tile.matrix,
                utilisation: tile.busy_ps as f64 / total_ps,
                adc_utilisation: tile.adc_busy_ps as f64 / total_ps,
                reads: tile.reads,
                write_phases: tile.write_phases,
            })
            .collect();
        let adc = tiles.iter().map(|t| t.adc_utilisation).sum::<f64>() / tiles.len().max(1) as f64;
        let mut cycles_by_phase: BTreeMap<String, u64> = Phase::TRAINING
            .iter()
            .map(|p| (p.key().to_string(), 0))
            .collect();
        for (p, ps) in &t.phase_ps {
            cycles_by_phase.insert(p.key().to_string(), c(*ps));
        }
        // Rounding leftovers of the per-phase counts go to `update`, so the
        // phases add up to the run's cycles exactly.
        let sum: u64 = cycles_by_phase.values().sum();
        if let Some(u) = cycles_by_phase.get_mut("update") {
            *u += cycles.saturating_sub(sum);
        }
        TimingReport {
            schedule: match chip.schedule {
                crate::Schedule::Sequential => "sequential".into(),
                crate::Schedule::Pipelined => "pipelined".into(),
            },
            cycles_by_phase,
            critical_path: CriticalPath {
                tile_wait: c(t.critical.tile_wait),
                settle_integrate: c(t.critical.settle_integrate),
                convert: c(t.critical.convert),
                gradient: c(t.critical.gradient),
                pulses: c(t.critical.pulses),
                budget_wait: c(t.critical.budget_wait),
            },
            tiles,
            adc_utilisation: adc,
            write_budget_utilisation: chip
                .write_budget_cells
                .map(|b| t.budget_cell_ps as f64 / (f64::from(b) * total_ps)),
            write_budget_wait_cycles: c(t.budget_wait_ps),
        }
    }

    /// Wear of the cells after `step` updates: pulses per cell, failed
    /// cells, and the steps left until the first cell reaches its endurance
    /// at each cell's rate so far.
    pub fn lifetime(&self, step: u64) -> LifetimeRow {
        let arrays = || self.tiles.iter().filter_map(|t| t.cells.as_ref());
        let mut n = 0usize;
        // Pulse counts summed as integers: exact, and vectorised (below
        // 2^53 every partial sum is exact in f64 too, so this is the same
        // value as summing in f64).
        let mut sum = 0u64;
        let mut max = 0u32;
        let mut failed = 0u64;
        let mut steps_left = f64::INFINITY;
        // From each array's wear summary (kept at every write): no pass over
        // the cells, except for the percentile when a count is past the
        // summary's histogram.
        let mut hist: Option<Vec<u64>> = Some(Vec::new());
        for c in arrays() {
            n += c.cells();
            failed += c.failed_cells() as u64;
            sum += c.pulse_sum();
            max = max.max(c.pulse_max());
            steps_left = steps_left.min(c.steps_to_first_failure(self.device(), step));
            match (hist.as_mut(), c.pulse_histogram()) {
                (Some(h), Some(ch)) => {
                    if h.len() < ch.len() {
                        h.resize(ch.len(), 0);
                    }
                    h.iter_mut().zip(ch).for_each(|(a, &b)| *a += u64::from(b));
                }
                _ => hist = None,
            }
        }
        let (mean, p99, max) = if n == 0 {
            (0.0, 0, 0)
        } else {
            let k = (((n as f64) * 0.99).ceil() as usize).clamp(1, n) - 1;
            let p99 = match hist {
                Some(h) => kth_in_histogram(&h, k as u64).0,
                None => kth_smallest(|| arrays().flat_map(|c| c.pulses()), k, max),
            };
            (sum as f64 / n as f64, p99, max)
        };
        LifetimeRow {
            step,
            pulses_mean: mean,
            pulses_p99: p99,
            pulses_max: max,
            failed_cells: failed,
            projected_steps_to_first_failure: steps_left
                .is_finite()
                .then(|| steps_left.floor() as u64),
        }
    }

    /// Pulses each cell has received, tile by tile in placement order (an
    /// inspection: no energy, no time). Empty without a device.
    pub fn pulses_per_cell(&self) -> Vec<u32> {
        self.tiles
            .iter()
            .filter_map(|t| t.cells.as_ref())
            .flat_map(|c| c.pulses())
            .collect()
    }

    /// The median endurance of the chip's cells, in pulses (0 without
    /// cells; a junction's for binary STT-MRAM).
    pub fn endurance_median(&self) -> u64 {
        if let (Some(m), true) = (&self.device().mram, self.cells() > 0) {
            return m.endurance_median_pulses as u64;
        }
        let arrays: Vec<&CellArray> = self.tiles.iter().filter_map(|t| t.cells.as_ref()).collect();
        let n: usize = arrays.iter().map(|c| c.cells()).sum();
        if n == 0 {
            return 0;
        }
        u64::from(endurance_order_statistic(&arrays, (n / 2) as u64))
    }
}

/// The bin holding the `k`-th smallest value (from 0) of a histogram, and
/// `k`'s rank within the bin.
///
/// # Panics
/// If the histogram counts `k` values or fewer (a broken caller invariant).
fn kth_in_histogram<T: Copy + Into<u64>>(hist: &[T], mut k: u64) -> (u32, u64) {
    for (b, &n) in hist.iter().enumerate() {
        let n: u64 = n.into();
        if k < n {
            return (b as u32, k);
        }
        k -= n;
    }
    panic!("rank beyond the values counted");
}

/// The `k`-th smallest (from 0) of the values `values()` yields (each
/// call the same values), all at most `max`, without copying them (memory stays independent of
/// the cell count): values below 2^16 are counted in one histogram of
/// `max + 1` bins; otherwise a histogram of the high 16 bits finds the
/// value's bucket, a second one of the low 16 bits within that bucket the
/// value itself. Pulse counts are mostly small, so one pass over the
/// cells and a few bins is the usual cost.
fn kth_smallest<I: Iterator<Item = u32>>(values: impl Fn() -> I, k: usize, max: u32) -> u32 {
    if max < 1 << 16 {
        let mut hist = vec![0u64; max as usize + 1];
        for v in values() {
            hist[v as usize] += 1;
        }
        return kth_in_histogram(&hist, k as u64).0;
    }
    let mut hist = vec![0u64; (max >> 16) as usize + 1];
    for v in values() {
        hist[(v >> 16) as usize] += 1;
    }
    let (high, k) = kth_in_histogram(&hist, k as u64);
    let in_bin = hist[high as usize];
    drop(hist);
    // The low halves of the values in that bin, one histogram alive at a
    // time: in 32-bit counts where they hold the bin's count (half the
    // memory of a report's largest temporary).
    let low = if u32::try_from(in_bin).is_ok() {
        kth_low::<u32>(values(), high, k)
    } else {
        kth_low::<u64>(values(), high, k)
    };
    (high << 16) | low
}

/// The low half of the `k`-th smallest (from 0) of `values` whose high
/// half is `high`, by a histogram of `T` counts (which must hold their
/// count).
fn kth_low<T>(values: impl Iterator<Item = u32>, high: u32, k: u64) -> u32
where
    T: Copy + Default + From<u8> + Into<u64> + std::ops::AddAssign,
{
    let mut hist = vec![T::default(); 1 << 16];
    for v in values {
        if v >> 16 == high {
            hist[(v & 0xffff) as usize] += T::from(1);
        }
    }
    kth_in_histogram(&hist, k).0
}

#[cfg(test)]
mod tests {
    use super::{kth_low, kth_smallest};

    /// The 64-bit counts (for a bucket of more than 2³² values) find the
    /// same value as the 32-bit ones.
    #[test]
    fn kth_low_counts_alike_in_either_width() {
        let values: Vec<u32> = (0..5000u32)
            .map(|i| 0x0003_0000 | (i.wrapping_mul(2_654_435_761) >> 16))
            .chain([0x0004_0001, 7])
            .collect();
        let mut inside: Vec<u32> = values.iter().copied().filter(|v| v >> 16 == 3).collect();
        inside.sort_unstable();
        for k in [0u64, 1, 2499, 4999] {
            let a = kth_low::<u32>(values.iter().copied(), 3, k);
            let b = kth_low::<u64>(values.iter().copied(), 3, k);
            assert_eq!(
                (a, b),
                (inside[k as usize] & 0xffff, inside[k as usize] & 0xffff)
            );
        }
    }

    #[test]
    fn kth_smallest_equals_sorting() {
        let mut s = 0x9e37_79b9u32;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        // Values spread over all 32 bits, clustered in one bucket, and
        // repeated, split over uneven slices.
        let parts: Vec<Vec<u32>> = vec![
            (0..1000).map(|_| next()).collect(),
            (0..300).map(|_| 0x0005_0000 | (next() & 0xff)).collect(),
            vec![7; 50],
            Vec::new(),
            vec![u32::MAX, 0],
        ];
        let mut all: Vec<u32> = parts.concat();
        all.sort_unstable();
        for k in [0, 1, 49, 500, 676, 1000, all.len() - 1] {
            assert_eq!(
                kth_smallest(|| parts.iter().flatten().copied(), k, u32::MAX),
                all[k],
                "k = {k}"
            );
        }
        // Small values: the one-histogram path.
        let small: Vec<Vec<u32>> = vec![
            (0..900).map(|_| next() % 300).collect(),
            vec![0; 40],
            vec![299, 65535],
        ];
        let mut all: Vec<u32> = small.concat();
        all.sort_unstable();
        for k in [0, 39, 40, 500, all.len() - 2, all.len() - 1] {
            assert_eq!(
                kth_smallest(|| small.iter().flatten().copied(), k, 65535),
                all[k],
                "k = {k}"
            );
        }
    }
}
