//! Evaluation: inference on the test set on the trained chip, charged to
//! its own ledger under the phase `inference`, so training's ledger is
//! untouched and inference's energy and time per sample are reported.
//! The chip's clock runs on (relaxation continues during inference).
//!
//! Classification is scored by accuracy. Regression is scored by PSNR (dB)
//! and, where the images are at least 11×11, SSIM: on whole test images
//! put back together from their inferred tiles when the data set has them
//! (image restoration, with the same metrics for the baseline restoration
//! beside them), else per sample and averaged.

use crate::{Result, TrainingAlgorithm};
use aimsim_energy::{Component, EnergyLedger, Phase};
use aimsim_engine::ChipSim;
use aimsim_workload::{argmax, psnr, ssim, ssim_fits, Dataset};
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

/// A test image restored by the network, beside its input and target.
#[derive(Clone, Debug)]
pub struct RestoredImage {
    /// Name (`astronaut`).
    pub name: String,
    /// The network's input image, its height and width.
    pub input: (Vec<f32>, usize, usize),
    /// The network's output, put back together from its tiles.
    pub output: Vec<f32>,
    /// The clean image.
    pub target: Vec<f32>,
    /// Height and width of output and target.
    pub h: usize,
    /// Width.
    pub w: usize,
}

/// What evaluation measured.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Fraction of test samples classified correctly (0 for regression).
    pub accuracy: f64,
    /// Every metric measured: `accuracy`, or `psnr_db` and (images of at
    /// least 11×11) `ssim`.
    pub metrics: BTreeMap<String, f64>,
    /// The same metrics of the baseline restoration (image restoration
    /// only; empty otherwise).
    pub baseline: BTreeMap<String, f64>,
    /// The restored test images (image restoration only).
    pub images: Vec<RestoredImage>,
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
    let mut outputs: Vec<f32> = Vec::with_capacity(test.len() * test.target_dim);
    for i in 0..test.len() {
        let out = algo.infer(chip, test.input(i))?;
        if test.target_dim > 0 {
            outputs.extend_from_slice(out);
        } else if argmax(out) == usize::from(test.labels[i]) {
            correct += 1;
        }
    }
    chip.sync_time();
    let dt = chip.now().ps() - t0.ps();
    let ledger = chip.swap_ledger(training);
    let n = test.len().max(1) as f64;
    let (mut metrics, mut baseline, mut images) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    if test.target_dim == 0 {
        metrics.insert("accuracy".to_string(), correct as f64 / n);
    } else if test.images.is_empty() {
        let t = test.target_dim;
        let p: f64 = (0..test.len())
            .map(|i| psnr(&outputs[i * t..(i + 1) * t], test.target(i)))
            .sum();
        metrics.insert("psnr_db".to_string(), p / n);
    } else {
        let (mut m, mut b) = ([0.0f64; 2], [0.0f64; 2]);
        for img in &test.images {
            let (th, tw) = img.tile;
            let mut canvas = vec![0.0f32; img.h * img.w];
            for &(i, y, x) in &img.tiles {
                let o = &outputs[i * test.target_dim..(i + 1) * test.target_dim];
                for r in 0..th {
                    canvas[(y + r) * img.w + x..][..tw].copy_from_slice(&o[r * tw..(r + 1) * tw]);
                }
            }
            m[0] += psnr(&canvas, &img.target);
            b[0] += psnr(&img.baseline, &img.target);
            if ssim_fits(img.h, img.w) {
                m[1] += ssim(&canvas, &img.target, img.h, img.w);
                b[1] += ssim(&img.baseline, &img.target, img.h, img.w);
            }
            images.push(RestoredImage {
                name: img.name.clone(),
                input: img.input.clone(),
                output: canvas,
                target: img.target.clone(),
                h: img.h,
                w: img.w,
            });
        }
        let k = test.images.len() as f64;
        let fits = test.images.iter().all(|i| ssim_fits(i.h, i.w));
        for (map, v) in [(&mut metrics, m), (&mut baseline, b)] {
            map.insert("psnr_db".to_string(), v[0] / k);
            if fits {
                map.insert("ssim".to_string(), v[1] / k);
            }
        }
    }
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
        accuracy: if test.target_dim == 0 {
            correct as f64 / n
        } else {
            0.0
        },
        metrics,
        baseline,
        images,
        inference,
        ledger,
    })
}
