//! The periphery around a crossbar tile: DACs that turn digital inputs into
//! row voltages, the sense integrators and ADCs that turn column currents
//! into numbers, the pulse drivers that write cells, and the digital logic
//! that computes gradients and update decisions.
//!
//! Each block has a raw configuration (serde, `deny_unknown_fields`, the
//! defaults documented on each field) and a validated form built by
//! `validate`, which names the field of any impossible value. The validated
//! form keeps its configuration private and answers read-only accessors
//! named after the raw fields (`adc.calibration_reads()`), so a block cannot
//! be changed past its validation; the ADC's two exceptions, where the name
//! is taken by a resolved value, are listed on its accessors. Each block
//! knows its own timing in cycles of the chip clock and its energy per
//! operation in pJ; the engine turns these into events and ledger entries.
//!
//! One module per block (sources of the figures in `docs/energy-model.md`):
//! * `dac` — [`Dac`] ([`RawDac`], [`DacEncoding`]): signed input
//!   `x ∈ [−1, 1]` → `V = V_read · q(x)` in V, `q` rounding to
//!   `2^(b−1) − 1` levels per side; amplitude encoding drives that voltage in
//!   one read, bit-serial encoding drives `±V_read` in read `k` when bit `k`
//!   of the code is set (`b − 1` reads, weighted `2^k` by the integrator);
//!   energy per line drive in pJ, settling in cycles;
//! * `adc` — [`Adc`] ([`RawAdc`], [`AdcKind`]): symmetric mid-tread
//!   quantiser over `±I_fs` (µA) with `2^b` codes, `LSB = 2 I_fs / 2^b`,
//!   static offset and thermal noise in LSB, clipping outside; conversion
//!   energy in pJ, explicit or Walden `E = FoM · 2^b`; `b + 1` cycles (SAR)
//!   or 1 (flash) per conversion;
//! * `sense` — [`Sense`] ([`RawSense`]): `E = I_bias · V_dd · t_int` in pJ
//!   per column per read cycle, optional Gaussian noise σ in µA;
//! * `driver` — [`Driver`] ([`RawDriver`]): cell
//!   `E = V² (G_before + G_after)/2 · t_pulse` (NeuroSim's 1T1R formula),
//!   plus `C_line V²` per driven bit line, `C_line V_gate²` for the row's
//!   word line and a fixed overhead per pulse phase, all in pJ; pulse width
//!   in ns, phase setup in cycles;
//! * `digital` — [`Digital`] ([`RawDigital`]): energy per MAC, add, activation,
//!   random bit and SRAM word in pJ; the gradient unit's MACs per cycle;
//! * `update_unit` — [`UpdateUnit`] ([`UpdateUnitKind`], [`RawUpdateUnits`]):
//!   the update-forming unit (`digital-mac`, `low-precision`,
//!   `sparse-sampler`, `off-chip`) and its energies, lanes and link;
//! * `area` — [`tile_area_mm2`]: a tile's silicon area by component.

mod adc;
mod area;
mod dac;
mod digital;
mod driver;
mod round;
mod sense;
mod update_unit;

pub use adc::{Adc, AdcKind, RawAdc};
pub use area::{
    lockin_area_mm2, tile_area_mm2, update_unit_transistors, TileGeometry, CELL_F2, FEATURE_NM,
    FEFET_CELL_F2, MRAM_CELL_F2, TRANSISTOR_F2,
};
pub use dac::{Dac, DacEncoding, RawDac};
pub use digital::{Digital, RawDigital};
pub use driver::{Driver, RawDriver};
pub use sense::{RawSense, Sense};
pub use update_unit::{
    RawLowPrecision, RawOffChip, RawSparseSampler, RawUpdateUnits, UpdateUnit, UpdateUnitKind,
};
