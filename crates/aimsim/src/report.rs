//! The run report (`report.json`, schema `aimsim.report/1`, DESIGN.md §3.1):
//! written by [`crate::Simulation::report`], readable back with
//! [`Report::from_json`].

use aimsim_engine::TimingReport;
use aimsim_train::InferenceReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The report schema tag.
pub const REPORT_SCHEMA: &str = "aimsim.report/1";

/// `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Training algorithm.
    pub algorithm: String,
    /// The chip's update-forming unit (`chip.update_unit`); absent from
    /// reports written before it existed (read back as `digital-mac`).
    #[serde(default = "default_update_unit")]
    pub update_unit: String,
    /// Workload and its metric.
    pub workload: WorkloadReport,
    /// Simulated time.
    pub time: TimeReport,
    /// Training energy.
    pub energy_pj: EnergyReport,
    /// Inference on the test set after training (its own ledger).
    pub inference: InferenceReport,
    /// Cell writes.
    pub writes: WritesReport,
    /// Device lifetime.
    pub lifetime: LifetimeReport,
    /// Where the cycles went.
    pub timing: TimingReport,
    /// Figures of the training algorithm's own (`hge`: tone plan, energy
    /// and chip time per gradient estimate; `tiki-taka`: transfers);
    /// absent for `backprop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm_details: Option<serde_json::Value>,
    /// Chip area of the tiles in use, by component (docs/energy-model.md,
    /// "Area").
    pub area_mm2: AreaReport,
    /// The same training on a GPU (docs/gpu-model.md).
    pub gpu: crate::gpu::GpuReport,
}

fn default_update_unit() -> String {
    "digital-mac".into()
}

impl Report {
    /// Reads a report back from `report.json`'s text, naming `file` and the
    /// field of a mismatch.
    pub fn from_json(file: &str, text: &str) -> aimsim_core::Result<Report> {
        let tree = aimsim_core::config::parse_tree(file, text)?;
        aimsim_core::config::from_tree(file, tree)
    }
}

/// `workload` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadReport {
    /// Workload name.
    pub name: String,
    /// Training steps run (updates: one mini-batch each).
    pub steps: u64,
    /// The test metric.
    pub metric: MetricReport,
    /// Every metric measured (`accuracy`; image restoration: `psnr_db`,
    /// `ssim`).
    pub metrics: BTreeMap<String, f64>,
    /// The same metrics of the baseline (the noisy input for `denoise`,
    /// bicubic up-sampling for `sr2`); left out when there is none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub baseline: BTreeMap<String, f64>,
    /// Trainable parameters (weights and biases).
    pub parameters: u64,
    /// Crossbar multiply-accumulates of one forward pass of one sample.
    pub macs_per_sample: u64,
    /// The network's layers, with the tiles each weight layer occupies.
    pub layers: Vec<LayerReport>,
}

/// One layer of the network in `workload.layers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// The layer's kind as in a network file (`dense`, `conv2d`, …).
    pub kind: String,
    /// Output shape: `[features]` or `[channels, height, width]`.
    pub output: Vec<usize>,
    /// The crossbar matrix `[rows, cols]` of a weight layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<[usize; 2]>,
    /// The tiles holding the layer's matrices (all arrays of the layer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiles: Vec<u32>,
}

/// A named metric value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// Metric name (`accuracy`).
    pub name: String,
    /// Its value on the test set.
    pub value: f64,
}

/// `time` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// The update phase's energy split into forming the requested changes,
    /// deciding what to write, writing the cells and static leakage, pJ
    /// (`aimsim_engine::update_stage`); the parts add up to
    /// `by_phase.update`. Absent from reports written before it existed
    /// (read back as zeros).
    #[serde(default)]
    pub update_split: aimsim_engine::UpdateSplit,
}

/// `writes` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifetimeReport {
    /// Median pulses to failure over the cells.
    pub endurance_pulses_median: u32,
    /// Cells failed (worn out or stuck from fabrication).
    pub failed_cells: u64,
    /// Steps until the first cell would wear out at each cell's own write
    /// rate so far (`null` if nothing was written).
    pub projected_steps_to_first_failure: Option<u64>,
}

/// `area_mm2` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AreaReport {
    /// Total, mm² (the sum of `by_component`).
    pub total: f64,
    /// By component (`array`, `dac`, `adc`, `sense`, `driver`, `digital`,
    /// and `update_unit` for a chip whose update-forming unit stands beside
    /// its MAC array), mm².
    pub by_component: BTreeMap<String, f64>,
    /// Tiles counted.
    pub tiles: u64,
}
