//! Synthetic measured data: what a lab would measure on cells that follow a
//! device file exactly. Calibrating it must give the device file back (the
//! round-trip tests), so it is the calibration's ground truth.
//!
//! Protocol per device (one cell with its own device-to-device draws): start
//! at the cell's `G_min`, then `cycles` × (a SET train of `pulses` pulses, a
//! RESET train of `pulses` pulses), every value read once with read noise;
//! optionally `reads` repeated reads of the final state, relaxation series
//! written at 20 %, 50 % and 80 % of the window (when the device relaxes),
//! and the cell's cycles to failure.

use crate::measured::{
    RawMeasured, RawMeasuredDevice, RawReads, RawRelaxation, RawTrain, RawUnits, MEASURED_SCHEMA,
};
use crate::{CellArray, DeviceModel, Polarity};
use aimsim_core::stream;
use rand::Rng as _;
use rand_distr::StandardNormal;

/// What to synthesise.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthOptions {
    /// Devices (cells) measured (default: 8).
    pub devices: usize,
    /// SET-then-RESET cycles per device (default: 10).
    pub cycles: usize,
    /// Pulses per train (default: enough to cross the window twice at the
    /// mid-window step, at most 2000).
    pub pulses: Option<usize>,
    /// Repeated reads of each device's final state (default: 0).
    pub reads: usize,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            devices: 8,
            cycles: 10,
            pulses: None,
            reads: 0,
            seed: 1,
        }
    }
}

/// Times of the synthetic relaxation series, s.
const RELAX_TIMES_S: [f64; 9] = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];

/// Measured data of `opts.devices` cells of `model` (conductances in µS).
pub fn synthesize(model: &DeviceModel, opts: &SynthOptions) -> RawMeasured {
    let n = opts.devices.max(1);
    let mut rng = stream(opts.seed, "synth/cells");
    let mut cells = CellArray::new(model, 1, n.div_ceil(2), &mut rng);
    let mut rng = stream(opts.seed, "synth/pulses");
    let w = model.g_max_us - model.g_min_us;
    let pulses = opts.pulses.unwrap_or_else(|| {
        let s = model.step_set_us.min(model.step_reset_us);
        ((2.0 * w / s).ceil() as usize).clamp(10, 2000)
    });
    let relaxes = model.relax_rate_per_decade > 0.0 || model.relax_noise_us > 0.0;
    let mut devices = Vec::with_capacity(n);
    for cell in 0..n {
        let (lo, hi) = cells.cell_bounds_us(model, cell);
        if cells.endurance_of(cell) > 0 {
            cells.set_conductance_us(model, cell, lo);
        }
        let mut trains = Vec::with_capacity(2 * opts.cycles);
        for _ in 0..opts.cycles {
            for polarity in [Polarity::Set, Polarity::Reset] {
                let mut g = Vec::with_capacity(pulses + 1);
                g.push(Some(read(&cells, model, cell, &mut rng)));
                for _ in 0..pulses {
                    cells.pulse(model, cell, polarity, 1, &mut rng);
                    g.push(Some(read(&cells, model, cell, &mut rng)));
                }
                trains.push(RawTrain {
                    polarity,
                    amplitude: None,
                    width: None,
                    gate: None,
                    conductance: g,
                });
            }
        }
        let reads = if opts.reads > 0 {
            vec![RawReads {
                conductance: (0..opts.reads)
                    .map(|_| Some(read(&cells, model, cell, &mut rng)))
                    .collect(),
            }]
        } else {
            Vec::new()
        };
        let relaxation = if relaxes {
            [0.2f32, 0.5, 0.8]
                .iter()
                .map(|&x| {
                    let g_w = lo + x * (hi - lo);
                    relaxation_series(model, g_w, &mut rng)
                })
                .collect()
        } else {
            Vec::new()
        };
        let life = cells.endurance_of(cell);
        devices.push(RawMeasuredDevice {
            id: Some(format!("cell{cell}")),
            pulse_trains: trains,
            reads,
            relaxation,
            cycles_to_failure: (life > 0).then_some(f64::from(life)),
            switching: Vec::new(),
        });
    }
    RawMeasured {
        schema: MEASURED_SCHEMA.into(),
        description: format!(
            "synthetic: {n} cells of device `{}`, {} cycles of {pulses}-pulse SET and RESET trains, seed {}",
            model.name, opts.cycles, opts.seed
        ),
        units: RawUnits::default(),
        devices,
    }
}

fn read(cells: &CellArray, model: &DeviceModel, cell: usize, rng: &mut aimsim_core::Rng) -> f64 {
    f64::from(cells.read_cell_us(model, cell, rng))
}

/// One relaxation series from a write of `g_w`: the drift of
/// `relaxed_conductance_us` plus a random walk in log-time of variance
/// `σ_relax²·L` (so successive points of one series are consistent), each
/// point read with read noise.
fn relaxation_series(model: &DeviceModel, g_w: f32, rng: &mut aimsim_core::Rng) -> RawRelaxation {
    let mut walk = 0.0f64;
    let mut l_prev = 0.0f64;
    let mut g = Vec::with_capacity(RELAX_TIMES_S.len());
    for &t in &RELAX_TIMES_S {
        let l = (1.0 + t / model.relax_t0_s).log10();
        let z: f64 = rng.sample(StandardNormal);
        walk += f64::from(model.relax_noise_us) * (l - l_prev).max(0.0).sqrt() * z;
        l_prev = l;
        let mean = crate::relaxed_conductance_us(model, g_w, t, 0.0);
        let zr: f64 = rng.sample(StandardNormal);
        g.push(Some(
            f64::from(mean) + walk + f64::from(model.read_noise_us) * zr,
        ));
    }
    RawRelaxation {
        time: RELAX_TIMES_S.to_vec(),
        conductance: g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_device;

    #[test]
    fn synthesis_is_deterministic() {
        let d = builtin_device("epiram", &[]).unwrap();
        let o = SynthOptions {
            cycles: 2,
            ..Default::default()
        };
        let a = serde_json::to_string(&synthesize(&d, &o)).unwrap();
        let b = serde_json::to_string(&synthesize(&d, &o)).unwrap();
        assert_eq!(a, b);
        let c = serde_json::to_string(&synthesize(&d, &SynthOptions { seed: 2, ..o })).unwrap();
        assert_ne!(a, c);
    }
}
