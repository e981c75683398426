//! The pulse-train fit for one assumed read noise: the window, the
//! measured steps, the mean-step model and the residual moments from
//! which write and read noise are separated. [`super::calibrate`] runs it
//! twice, because the bounds need `σ_r` and `σ_r` needs the steps that the
//! bounds select.

use super::bounds::{self, Bounds};
use super::data::Data;
use super::models::{self, MeanStep};
use super::noise::Residuals;
use super::steps::{self, Step};

/// Everything the pulse-train fit produces.
#[derive(Clone, Debug)]
pub(super) struct PulseFit {
    pub(super) bounds: Bounds,
    /// The steps used: away from the bounds, of devices not stuck.
    pub(super) steps: Vec<Step>,
    pub(super) mean_step: MeanStep,
    pub(super) residuals: Residuals,
}

/// Fits the pulse trains of `data` with read noise `sigma_r`.
pub(super) fn fit(data: &Data, sigma_r: f64) -> PulseFit {
    let stuck = &data.stuck.flags;
    let mut bounds = bounds::fit(&data.trains, stuck, sigma_r, &data.all_sorted);
    let (g_min, g_max) = (bounds.g_min, bounds.g_max);
    let mut all = steps::measured(&data.trains, stuck);
    bounds.flag_unsaturated(&data.trains, &all);
    steps::estimate_states(&mut all, g_min, g_max);
    let (steps, margin) = steps::away_from_bounds(&all, g_min, g_max);
    let mean_step = models::fit(&steps, margin, data.n_set, data.n_reset, g_min, g_max);
    let residuals = Residuals::of(&steps, &mean_step, g_min, g_max);
    PulseFit {
        bounds,
        steps,
        mean_step,
        residuals,
    }
}
