//! 1T1R memristor cell physics.
//!
//! A weight is a differential pair of cells, `W = (G⁺ − G⁻) / R_wg`
//! (DESIGN.md §1.1; `R_wg` is given here as `r_wg_us`, the conductance of one
//! weight unit, 80 µS on the EaPU reference chip). [`CellArray`] stores the
//! cells of one tile as a structure of arrays: conductance (`f32`, µS),
//! pulse count and per-cell endurance (`u32`), i.e. 12 bytes per cell.
//!
//! Data flow: the controller asks for a conductance change of one cell
//! ([`CellArray::program`]); the device decides what really happens — the
//! mean change bounded by `[G_min, G_max]`, plus cycle-to-cycle write noise
//! `N(0, σ_w²)` — and returns the conductance before and after, from which
//! the periphery computes the pulse energy. Reads ([`CellArray::mvm_forward`],
//! [`CellArray::mvm_backward`]) return column (or row) currents with read
//! noise.
//!
//! Equations (sources in `docs/device-model.md`):
//! * programming: `G' = clip(G + ΔG·1[cell alive] + N(0, σ_w²), G_min, G_max)`,
//!   one programming operation of `n = max(1, ⌈|ΔG| / step⌉)` pulses;
//! * read: `I_j = Σ_i V_i (G⁺_ij − G⁻_ij) + N(0, Σ_i V_i² · 2σ_r²)` — the sum
//!   of independent per-cell Gaussian read noise, drawn once per column;
//! * endurance: cycles to failure per cell `N_i = exp(ln N_50 + s·z_i)`; a
//!   cell whose pulse count reaches `N_i` is stuck at its last value;
//!   fabrication stuck-at faults pin a fraction of cells at `G_min` / `G_max`.

mod array;
mod calibrate;
mod error;
mod measured;
mod params;
mod synth;

pub use array::{relaxed_conductance_us, CellArray, CellParams, Polarity, ProgramOutcome};
pub use calibrate::{calibrate, CalibrateOptions, Calibration, FitGroup, FitReport};
pub use error::{DeviceError, Result};
pub use measured::{
    Measured, MeasuredDevice, RawMeasured, RawMeasuredDevice, RawReads, RawRelaxation, RawTrain,
    RawUnits, Relaxation, Train, MEASURED_SCHEMA,
};
pub use params::{
    builtin_device, builtin_devices, nonlinearity_from_asymptote, DeviceModel, PulseModel,
    RawDevice, BUILTIN_DEVICES, DEVICE_SCHEMA,
};
pub use synth::{synthesize, SynthOptions};
