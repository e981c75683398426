//! Parameters of the algorithms other than backprop: `train.hge.*`,
//! `train.madem.*`, `train.tiki_taka.*` of `--set`. Each section is left
//! out of the serialised training options while it holds its defaults, so
//! the configuration recorded by a backprop run (the VCD's `$comment`) is
//! unchanged by their existence.

use aimsim_core::config::Check;
use aimsim_core::CoreError;
use serde::{Deserialize, Serialize};

type CResult<T> = std::result::Result<T, CoreError>;

/// Homodyne gradient extraction (`train.hge.*`). Tone `k` (one per
/// neuron, layer by layer) has frequency `f_min_hz + k · spacing_hz`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHge {
    /// Tone amplitude added to each pre-activation, in pre-activation
    /// units (default: 0.2: on the default chip the 8-bit converters
    /// quantise the response to smaller tones; docs/validation.md has the
    /// gradient's cosine similarity against the amplitude).
    #[serde(default = "d_amplitude")]
    pub amplitude: f64,
    /// Loss samples per second: one forward read per sample period, the
    /// period a whole number of chip clock cycles (default: 500 000 Hz,
    /// 200 cycles of the 100 MHz default chip).
    #[serde(default = "d_sample_rate")]
    pub sample_rate_hz: f64,
    /// Samples per gradient estimate (the lock-in's integration window)
    /// (default: 2500: 5 ms at 500 kHz, a lock-in resolution of 200 Hz).
    #[serde(default = "d_window")]
    pub window: u64,
    /// Lowest tone, Hz (default: 200, one resolution bin).
    #[serde(default = "d_f_min")]
    pub f_min_hz: f64,
    /// Tone spacing, Hz (default: 600, three bins: with tones on bins
    /// 1 + 3k, no sum, difference, second or third harmonic lands on a
    /// tone, and for the 138 neurons of digits-mlp the highest third
    /// harmonic stays below half the sample rate).
    #[serde(default = "d_spacing")]
    pub spacing_hz: f64,
    /// Highest harmonic checked for collisions (default: 3).
    #[serde(default = "d_order")]
    pub harmonic_order: u32,
    /// Run even if the tone plan has collisions (default: false: a
    /// colliding plan is an error naming the products).
    #[serde(default)]
    pub allow_collisions: bool,
}

fn d_amplitude() -> f64 {
    0.2
}
fn d_sample_rate() -> f64 {
    500e3
}
fn d_window() -> u64 {
    2500
}
fn d_f_min() -> f64 {
    200.0
}
fn d_spacing() -> f64 {
    600.0
}
fn d_order() -> u32 {
    3
}

impl Default for RawHge {
    fn default() -> Self {
        RawHge {
            amplitude: d_amplitude(),
            sample_rate_hz: d_sample_rate(),
            window: d_window(),
            f_min_hz: d_f_min(),
            spacing_hz: d_spacing(),
            harmonic_order: d_order(),
            allow_collisions: false,
        }
    }
}

impl RawHge {
    /// Whether every field holds its default.
    pub fn is_default(&self) -> bool {
        *self == RawHge::default()
    }

    /// Checks what can be checked without the network (the number of
    /// tones); `c` names the section.
    pub fn validate(&self, c: &Check) -> CResult<()> {
        c.range("amplitude", self.amplitude, 1e-9, 100.0)?;
        c.positive("sample_rate_hz", self.sample_rate_hz)?;
        c.int_range("window", self.window, 2, 100_000_000)?;
        c.positive("f_min_hz", self.f_min_hz)?;
        if self.f_min_hz >= self.sample_rate_hz / 2.0 {
            return Err(c.err(
                "f_min_hz",
                format!(
                    "the lowest tone, {} Hz, must be below half the sample rate ({} Hz)",
                    self.f_min_hz,
                    self.sample_rate_hz / 2.0
                ),
            ));
        }
        c.positive("spacing_hz", self.spacing_hz)?;
        c.int_range("harmonic_order", self.harmonic_order.into(), 1, 16)?;
        Ok(())
    }
}

/// MADEM-style activity-difference learning (`train.madem.*`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMadem {
    /// Nudging strength β of the second phase (default: 0.5).
    #[serde(default = "d_beta")]
    pub beta: f64,
    /// Gain of the output-to-hidden feedback read (default: 1).
    #[serde(default = "d_feedback")]
    pub feedback: f64,
}

fn d_beta() -> f64 {
    0.5
}
fn d_feedback() -> f64 {
    1.0
}

impl Default for RawMadem {
    fn default() -> Self {
        RawMadem {
            beta: d_beta(),
            feedback: d_feedback(),
        }
    }
}

impl RawMadem {
    /// Whether every field holds its default.
    pub fn is_default(&self) -> bool {
        *self == RawMadem::default()
    }

    /// Checks the section; `c` names it.
    pub fn validate(&self, c: &Check) -> CResult<()> {
        c.range("beta", self.beta, 1e-6, 100.0)?;
        c.range("feedback", self.feedback, 1e-6, 100.0)?;
        Ok(())
    }
}

/// Tiki-Taka v1 (`train.tiki_taka.*`): `W = γA + C`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTikiTaka {
    /// γ, the weight of the fast array A in `W = γA + C` (default: 1).
    #[serde(default = "d_gamma")]
    pub gamma: f64,
    /// Updates between two column transfers A → C (default: 1: one
    /// column of A is read and moved into C after every update).
    #[serde(default = "d_transfer_every")]
    pub transfer_every: u64,
    /// Transfer learning rate: the fraction of the read column of A
    /// written into C (default: 0.1).
    #[serde(default = "d_transfer_lr")]
    pub transfer_lr: f64,
}

fn d_gamma() -> f64 {
    1.0
}
fn d_transfer_every() -> u64 {
    1
}
fn d_transfer_lr() -> f64 {
    0.1
}

impl Default for RawTikiTaka {
    fn default() -> Self {
        RawTikiTaka {
            gamma: d_gamma(),
            transfer_every: d_transfer_every(),
            transfer_lr: d_transfer_lr(),
        }
    }
}

impl RawTikiTaka {
    /// Whether every field holds its default.
    pub fn is_default(&self) -> bool {
        *self == RawTikiTaka::default()
    }

    /// Checks the section; `c` names it.
    pub fn validate(&self, c: &Check) -> CResult<()> {
        c.positive("gamma", self.gamma)?;
        c.int_range("transfer_every", self.transfer_every, 1, u64::MAX)?;
        c.range("transfer_lr", self.transfer_lr, 1e-12, 100.0)?;
        Ok(())
    }
}
