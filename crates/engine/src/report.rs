//! The run report (`report.json`, schema `aimsim.report/1`, DESIGN.md §3.1)
//! and the rows of the energy and lifetime traces.

use aimsim_energy::{Component, EnergyLedger, Phase};
use serde::Serialize;
use std::collections::BTreeMap;

/// The report schema tag.
pub const REPORT_SCHEMA: &str = "aimsim.report/1";

/// `report.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `aimsim.report/1`.
    pub schema: String,
    /// Run seed.
    pub seed: u64,
    /// Chip name.
    pub chip: String,
    /// Device name.
    pub device: String,
    /// Rule name.
    pub rule: String,
    /// Workload and its metric.
    pub workload: WorkloadReport,
    /// Simulated time.
    pub time: TimeReport,
    /// Training energy.
    pub energy_pj: EnergyReport,
    /// Cell writes.
    pub writes: WritesReport,
    /// Device lifetime.
    pub lifetime: LifetimeReport,
    /// Where the cycles went.
    pub timing: TimingReport,
    /// GPU reference (not yet modelled: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuReport>,
}

/// `workload` section.
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadReport {
    /// Workload name.
    pub name: String,
    /// Training steps run (one sample each).
    pub steps: u64,
    /// The test metric.
    pub metric: MetricReport,
}

/// A named metric value.
#[derive(Clone, Debug, Serialize)]
pub struct MetricReport {
    /// Metric name (`accuracy`).
    pub name: String,
    /// Its value on the test set.
    pub value: f64,
}

/// `time` section.
#[derive(Clone, Debug, Serialize)]
pub struct TimeReport {
    /// Chip clock cycles of training.
    pub cycles: u64,
    /// Clock frequency, Hz.
    pub clock_hz: f64,
    /// Simulated seconds of training.
    pub seconds: f64,
    /// Cycles spent in update phases.
    pub update_cycles: u64,
}

/// `energy_pj` section.
#[derive(Clone, Debug, Serialize)]
pub struct EnergyReport {
    /// Total, pJ (the sum of `by_component`).
    pub total: f64,
    /// By component, pJ.
    pub by_component: BTreeMap<String, f64>,
    /// By phase, pJ.
    pub by_phase: BTreeMap<String, f64>,
    /// By tile (`chip` for chip-wide entries), pJ.
    pub by_tile: BTreeMap<String, f64>,
    /// Operation counts by component.
    pub ops_by_component: BTreeMap<String, u64>,
}

/// `writes` section.
#[derive(Clone, Debug, Serialize)]
pub struct WritesReport {
    /// Nominal write pulses applied.
    pub pulses: u64,
    /// Cell programming operations.
    pub cell_writes: u64,
    /// `cell_writes / (cells × steps)`.
    pub update_fraction: f64,
    /// `cell_writes / (weights × steps)`: the paper's "update ratio".
    pub parameter_update_fraction: f64,
    /// Most pulses any one cell received.
    pub max_per_cell: u32,
    /// Pulse phases executed.
    pub pulse_phases: u64,
}

/// `lifetime` section.
#[derive(Clone, Debug, Serialize)]
pub struct LifetimeReport {
    /// Median pulses to failure over the cells.
    pub endurance_pulses_median: u32,
    /// Cells failed (worn out or stuck from fabrication).
    pub failed_cells: u64,
    /// Steps until the first cell would wear out at each cell's own write
    /// rate so far (`null` if nothing was written).
    pub projected_steps_to_first_failure: Option<u64>,
}

/// `timing` section: cycles per controller phase, the critical path,
/// utilisation per tile and per shared resource.
#[derive(Clone, Debug, Serialize)]
pub struct TimingReport {
    /// `sequential` or `pipelined`.
    pub schedule: String,
    /// Cycles the controller spent in each phase (they add up to `time.cycles`).
    pub cycles_by_phase: BTreeMap<String, u64>,
    /// Cycles of the critical path by cause.
    pub critical_path: CriticalPath,
    /// Per tile.
    pub tiles: Vec<TileTiming>,
    /// Mean ADC utilisation over tiles: converting cycles / total cycles.
    pub adc_utilisation: f64,
    /// Chip-wide write budget utilisation: cell·cycles pulsed / (budget × cycles); absent without a budget.
    pub write_budget_utilisation: Option<f64>,
    /// Cycles pulse phases waited for the write budget (summed over phases).
    pub write_budget_wait_cycles: u64,
}

/// Critical-path cycles by cause: for each stage the operation that finished
/// last, and what its time was spent on.
#[derive(Clone, Debug, Serialize)]
pub struct CriticalPath {
    /// Waiting for the tile's earlier operations (pipelined schedule).
    pub tile_wait: u64,
    /// DAC settling and integration.
    pub settle_integrate: u64,
    /// ADC conversions (digital MVM for `ideal`).
    pub convert: u64,
    /// Digital gradient computation before writes.
    pub gradient: u64,
    /// Pulse phases.
    pub pulses: u64,
    /// Waiting for the write-current budget.
    pub budget_wait: u64,
}

/// Timing of one tile.
#[derive(Clone, Debug, Serialize)]
pub struct TileTiming {
    /// Tile index.
    pub tile: u32,
    /// Layer the tile belongs to.
    pub layer: usize,
    /// Busy cycles / total cycles.
    pub utilisation: f64,
    /// ADC converting cycles / total cycles.
    pub adc_utilisation: f64,
    /// Reads (forward and transposed).
    pub reads: u64,
    /// Pulse phases.
    pub write_phases: u64,
}

/// `gpu` section (filled by the GPU reference model of a later issue).
#[derive(Clone, Debug, Serialize)]
pub struct GpuReport {
    /// GPU name.
    pub reference: String,
    /// Energy of the same training on the GPU, pJ.
    pub energy_pj: f64,
    /// GPU energy / chip energy.
    pub ratio: f64,
}

/// One row of `energy.csv`: cumulative pJ by component and phase.
#[derive(Clone, Debug)]
pub struct EnergyRow {
    /// Steps completed.
    pub step: u64,
    /// Cumulative pJ, in [`Component::ALL`] order.
    pub by_component: Vec<f64>,
    /// Cumulative pJ, in [`Phase::ALL`] order.
    pub by_phase: Vec<f64>,
    /// Cumulative total, pJ.
    pub total: f64,
}

impl EnergyRow {
    /// A row from the ledger's state after `step` steps.
    pub fn from_ledger(step: u64, l: &EnergyLedger) -> EnergyRow {
        EnergyRow {
            step,
            by_component: Component::ALL.iter().map(|&c| l.component_pj(c)).collect(),
            by_phase: Phase::ALL.iter().map(|&p| l.phase_pj(p)).collect(),
            total: l.total_pj(),
        }
    }

    /// The CSV header.
    pub fn header() -> String {
        let mut h = vec!["step".to_string()];
        h.extend(Component::ALL.iter().map(|c| format!("{}_pj", c.key())));
        h.extend(Phase::ALL.iter().map(|p| format!("{}_pj", p.key())));
        h.push("total_pj".into());
        h.join(",")
    }

    /// The CSV line.
    pub fn line(&self) -> String {
        let mut v = vec![self.step.to_string()];
        v.extend(self.by_component.iter().map(|e| format!("{e:.6e}")));
        v.extend(self.by_phase.iter().map(|e| format!("{e:.6e}")));
        v.push(format!("{:.6e}", self.total));
        v.join(",")
    }
}

/// One row of `lifetime.csv`.
#[derive(Clone, Debug)]
pub struct LifetimeRow {
    /// Steps completed.
    pub step: u64,
    /// Mean pulses per cell.
    pub pulses_mean: f64,
    /// 99th percentile of pulses per cell.
    pub pulses_p99: u32,
    /// Most pulses on one cell.
    pub pulses_max: u32,
    /// Failed cells.
    pub failed_cells: u64,
    /// Projected steps to the first wear-out failure.
    pub projected_steps_to_first_failure: Option<u64>,
}

impl LifetimeRow {
    /// The CSV header.
    pub fn header() -> &'static str {
        "step,pulses_mean,pulses_p99,pulses_max,failed_cells,projected_steps_to_first_failure"
    }

    /// The CSV line (an empty last field when nothing was written).
    pub fn line(&self) -> String {
        format!(
            "{},{:.6},{},{},{},{}",
            self.step,
            self.pulses_mean,
            self.pulses_p99,
            self.pulses_max,
            self.failed_cells,
            self.projected_steps_to_first_failure
                .map_or(String::new(), |s| s.to_string())
        )
    }
}
