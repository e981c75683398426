//! Shared foundations of aimsim: unit newtypes, integer simulation time,
//! deterministic seed derivation and configuration plumbing.
//!
//! * Units: [`Siemens`], [`Volts`], [`Amperes`], [`Watts`], [`Seconds`],
//!   [`Joules`] with only the physically meaningful products
//!   (V·S → A, V·A → W, W·s → J). Hot loops work on plain `f32` slices whose
//!   names carry the unit (`g_us`, `width_s`).
//! * Time: [`SimTime`] counts integer picoseconds; each component converts its
//!   own cycles with a [`Clock`].
//! * Randomness: every stream is a `Xoshiro256PlusPlus` seeded from
//!   [`derive_seed`]`(seed, path)`, so the bits depend only on the run seed
//!   and the stream's name, never on thread count or call order elsewhere.
//! * Normal draws: [`normal`] has `rand_distr`'s standard-normal ziggurat,
//!   bit for bit, inlined and in bulk for the hot noise loops.
//! * Activations: [`tanh`] is fdlibm's `tanhf` bit for bit, the same on
//!   every platform and vectorised over a slice.
//! * Configuration: [`config`] parses JSON with field paths in errors and
//!   applies `--set path=value` overrides.

pub mod config;
mod error;
pub mod magnitude;
pub mod normal;
pub mod round;
mod seed;
pub mod tanh;
mod time;
mod units;

pub use error::{CoreError, Result};
pub use seed::{derive_seed, stream, Rng};
pub use time::{Clock, SimTime};
pub use units::{Amperes, Joules, Seconds, Siemens, Volts, Watts};
