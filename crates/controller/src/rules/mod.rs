//! The write rules, one module each: its raw parameter section, the
//! validation and device-derived defaults of that section
//! ([`RuleParams`](crate::RuleParams)) and its
//! [`UpdateRule`](crate::UpdateRule) implementation.

mod binary;
mod bp;
mod eapu;
mod ideal;
mod mixed_precision;
mod stochastic_pulse;
mod write_verify;

pub use binary::{BpSwitch, EapuSwitch};
pub use bp::{Bp, RawBp};
pub use eapu::{Eapu, RawEapu};
pub use ideal::{Ideal, RawIdeal};
pub use mixed_precision::{MixedPrecision, RawMixedPrecision};
pub use stochastic_pulse::{RawStochasticPulse, StochasticPulse};
pub use write_verify::{RawWriteVerify, WriteVerify};

use aimsim_device::DeviceModel;

/// The device's mean nominal step, µS: the default pulse quantum of the
/// rules that write whole pulses.
fn mean_step_us(model: &DeviceModel) -> f32 {
    0.5 * (model.step_set_us + model.step_reset_us)
}
