//! 1T1R memristor cell physics, and its calibration from measured data.
//!
//! A weight is a differential pair of cells, `W = (G⁺ − G⁻) / R_wg`
//! (DESIGN.md §1.1; `R_wg` is given here as `r_wg_us`, the conductance of one
//! weight unit, 80 µS on the EaPU reference chip). [`CellArray`] stores the
//! cells of one tile as a structure of arrays: conductance (`f32`, µS) and
//! pulse count (2 B: 16-bit counts with their high halves in blocks
//! allocated past 65,535 pulses), i.e. 6 bytes per cell and a bit for the
//! fabrication faults, 10 for a device that relaxes (its write time; its
//! present conductance is derived from the written one); per-cell
//! device-to-device factors and endurance draws are hashed from the
//! array's seed and the cell index when needed, never stored.
//!
//! Data flow: the controller asks for a conductance change of one cell
//! ([`CellArray::program`], one programming operation with write noise) or
//! for `n` nominal pulses ([`CellArray::pulse`], each with the model's
//! state-dependent mean step and cycle-to-cycle noise); the device decides
//! what really happens within the cell's window and returns the conductance
//! before and after, from which the periphery computes the pulse energy.
//! Reads ([`CellArray::mvm_forward`], [`CellArray::mvm_backward`]) return
//! column (or row) currents with read noise. [`CellArray::relax`] moves a
//! written cell by the time since its write, which the engine's clock gives.
//!
//! Equations (sources and the calibration method in `docs/device-model.md`):
//! * mean step of a pulse: `s(G) = f_i·s_p·shape(x)`, `x = (G − G_min)/W`,
//!   a line in `G` toward the asymptote `a` of the [`PulseModel`]: linear
//!   (`a = ∞`), soft bounds (`a = 1`), NeuroSim's exponential
//!   (`a = 1/(1 − e^{−ν})`);
//! * pulse: `G' = clip(G ± s(G) + N(0, σ_add² + (σ_rel·s)²), G_min,i, G_max,i)`;
//! * programming: `G' = clip(G + ΔG·1[cell alive] + N(0, σ_w²), …)`, one
//!   operation of `n = max(1, ⌈|ΔG| / s(G)⌉)` pulses;
//! * read: `I_j = Σ_i V_i (G⁺_ij − G⁻_ij) + N(0, Σ_i V_i² · 2σ_r²)` — the sum
//!   of independent per-cell Gaussian read noise, drawn once per column;
//! * relaxation: `G(t) = G_w − r(G_w − G_rest)·log10(1 + t/t0) + noise`;
//! * endurance: cycles to failure per cell `N_i = exp(ln N_50 + s·z_i)`; a
//!   cell whose pulse count reaches `N_i` is stuck at its last value;
//!   fabrication stuck-at faults pin a fraction of cells at `G_min` / `G_max`.
//!
//! Measured data ([`Measured`], `aimsim.measured/1`) is fitted by
//! [`calibrate()`]; [`synthesize`] writes measured data from a device, the
//! ground truth of the round-trip tests.

mod array;
mod calibrate;
mod counts;
mod error;
pub mod kernel;
mod measured;
mod mram;
mod mram_fit;
mod params;
mod synth;
pub mod wear;

pub use array::{
    endurance_order_statistic, relaxed_conductance_us, CellArray, CellParams, Polarity,
    ProgramOutcome,
};
pub use calibrate::{calibrate, CalibrateOptions, Calibration, FitGroup, FitReport, FitStatus};
pub use error::{DeviceError, Result};
pub use measured::{
    Measured, MeasuredDevice, RawMeasured, RawMeasuredDevice, RawReads, RawRelaxation,
    RawSwitching, RawTrain, RawUnits, Relaxation, SwitchingPoint, Train, MEASURED_SCHEMA,
};
pub use mram::{
    builtin_mram, builtin_mram_devices, MramCells, MramPulse, RawSttMram, SttMram, BUILTIN_MRAM,
    MRAM_SCHEMA,
};
pub use mram_fit::{calibrate_mram, synthesize_mram, MramCalibration};
pub use params::{
    builtin_device, builtin_devices, nonlinearity_from_asymptote, DeviceModel, FefetSwitching,
    PulseModel, RawDevice, RawFefet, BUILTIN_DEVICES, DEVICE_SCHEMA,
};
pub use synth::{synthesize, SynthOptions};
