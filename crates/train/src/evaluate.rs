//! Evaluation: inference on the test set on the trained chip, charged to
//! its own ledger under the phase `inference`, so training's ledger is
//! untouched and inference's energy and time per sample are reported.
//! The chip's clock runs on (relaxation continues during inference).

use crate::{Result, TrainingAlgorithm};
use aimsim_energy::{Component, EnergyLedger, Phase};
use aimsim_engine::ChipSim;
use aimsim_workload::{argmax, Dataset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `report.json`'s `inference` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InferenceReport {
    /// Test samples inferred.
    pub samples: u64,
    /// Energy per test sample, pJ.
    pub energy_pj_per_sample: f64,
    /// Simulated time per test sample, s.
    pub seconds_per_sample: f64,
    /// Cycles per test sample (mean).
    pub cycles_per_sample: f64,
    /// Energy per test sample by component, pJ.
    pub by_component: BTreeMap<String, f64>,
}

/// What evaluation measured.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Fraction of test samples classified correctly.
    pub accuracy: f64,
    /// Inference cost.
    pub inference: InferenceReport,
    /// The inference ledger.
    pub ledger: EnergyLedger,
}

/// Infers every sample of `test` with `algo` on `chip` and scores it.
pub fn evaluate(
    chip: &mut ChipSim,
    algo: &mut dyn TrainingAlgorithm,
    test: &Dataset,
) -> Result<Evaluation> {
    let training = chip.swap_ledger(EnergyLedger::new());
    chip.enter_phase(Phase::INFERENCE)?;
    let t0 = chip.now();
    let mut correct = 0usize;
    for i in 0..test.len() {
        let out = algo.infer(chip, test.input(i))?;
        if argmax(out) == usize::from(test.labels[i]) {
            correct += 1;
        }
    }
    chip.sync_time();
    let dt = chip.now().ps() - t0.ps();
    let ledger = chip.swap_ledger(training);
    let n = test.len().max(1) as f64;
    let clock = chip.chip().clock;
    let inference = InferenceReport {
        samples: test.len() as u64,
        energy_pj_per_sample: ledger.total_pj() / n,
        seconds_per_sample: dt as f64 * 1e-12 / n,
        cycles_per_sample: clock.cycles_at(aimsim_core::SimTime(dt)) as f64 / n,
        by_component: Component::ALL
            .iter()
            .map(|&c| (c.key().to_string(), ledger.component_pj(c) / n))
            .collect(),
    };
    Ok(Evaluation {
        accuracy: correct as f64 / n,
        inference,
        ledger,
    })
}
