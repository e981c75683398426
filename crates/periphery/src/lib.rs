//! The periphery around a crossbar tile: DACs that turn digital inputs into
//! row voltages, the sense integrators and ADCs that turn column currents
//! into numbers, the pulse drivers that write cells, and the digital logic
//! that computes gradients and update decisions.
//!
//! Each block has a raw configuration (serde, `deny_unknown_fields`, the
//! defaults documented on each field) and a validated form built by
//! `validate`, which names the field of any impossible value. Each block
//! knows its own timing in cycles of the chip clock and its energy per
//! operation in pJ; the engine turns these into events and ledger entries.
//!
//! Equations (sources in `docs/energy-model.md`):
//! * DAC: signed input `x ∈ [−1, 1]` → `V = V_read · q(x)`, `q` rounding to
//!   `2^(b−1) − 1` levels per side; amplitude encoding drives that voltage in
//!   one read, bit-serial encoding drives `±V_read` in read `k` when bit `k`
//!   of the code is set (`b − 1` reads, weighted `2^k` by the integrator);
//! * ADC: symmetric mid-tread quantiser over `±I_fs` with `2^b` codes,
//!   `LSB = 2 I_fs / 2^b`, clipping outside; conversion energy explicit or
//!   Walden `E = FoM · 2^b`;
//! * sense: `E = I_bias · V_dd · t_int` per column per read cycle, optional
//!   Gaussian noise in µA;
//! * pulse: cell `E = V² (G_before + G_after)/2 · t_pulse` (NeuroSim's 1T1R
//!   formula), plus `C_line V²` per driven bit line, `C_line V_gate²` for the
//!   row's word line and a fixed driver overhead per pulse phase.

mod blocks;

pub use blocks::{
    Adc, AdcKind, Dac, DacEncoding, Digital, Driver, RawAdc, RawDac, RawDigital, RawDriver,
    RawSense, Sense,
};
