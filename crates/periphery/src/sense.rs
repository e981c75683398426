//! The sense integrator: per-read Gaussian noise on the column currents and
//! the bias energy of integrating them.

use aimsim_core::config::Check;
use aimsim_core::{normal, Result, Rng};
use serde::{Deserialize, Serialize};

/// Sense amplifier / integrator configuration (`chip.sense`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSense {
    /// Integration cycles of one read.
    pub integrate_cycles: u64,
    /// Bias current of one integrator, µA.
    pub bias_ua: f64,
    /// Supply voltage of the analog blocks, V.
    pub vdd_v: f64,
    /// Input-referred integrator noise σ per read, µA, added to each line
    /// before its ADC conversion (default: 0).
    #[serde(default)]
    pub noise_ua: f64,
}

/// A validated sense integrator.
#[derive(Clone, Debug)]
pub struct Sense {
    cfg: RawSense,
}

impl Sense {
    /// Validates `raw`; `c` names the section.
    pub fn validate(c: &Check, raw: RawSense) -> Result<Sense> {
        c.int_range("integrate_cycles", raw.integrate_cycles, 1, 1_000_000)?;
        c.non_negative("bias_ua", raw.bias_ua)?;
        c.range("vdd_v", raw.vdd_v, 0.1, 10.0)?;
        c.non_negative("noise_ua", raw.noise_ua)?;
        Ok(Sense { cfg: raw })
    }

    /// Adds the integrator's Gaussian noise (σ = `noise_ua`) to each line;
    /// draws nothing when the noise is 0, so noiseless runs keep their streams.
    pub fn add_noise(&self, currents_ua: &mut [f32], rng: &mut Rng) {
        if self.cfg.noise_ua == 0.0 {
            return;
        }
        let sigma = self.cfg.noise_ua as f32;
        // As `*i += sigma * rng.sample::<f32, _>(StandardNormal)` per line,
        // inlined (same bits).
        normal::add_scaled_standard_normal_f32(rng, sigma, currents_ua);
    }

    /// Energy of one line integrated for `t_s` seconds: `I_bias · V_dd · t`, pJ.
    pub fn energy_pj(&self, t_s: f64) -> f64 {
        self.cfg.bias_ua * 1e-6 * self.cfg.vdd_v * t_s * 1e12
    }
}

/// The configuration, read-only: each accessor returns the [`RawSense`] field
/// of its name, by value.
impl Sense {
    /// Integration cycles of one read.
    pub fn integrate_cycles(&self) -> u64 {
        self.cfg.integrate_cycles
    }

    /// Bias current of one integrator, µA.
    pub fn bias_ua(&self) -> f64 {
        self.cfg.bias_ua
    }

    /// Supply voltage of the analog blocks, V.
    pub fn vdd_v(&self) -> f64 {
        self.cfg.vdd_v
    }

    /// Input-referred integrator noise σ per read, µA.
    pub fn noise_ua(&self) -> f64 {
        self.cfg.noise_ua
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::stream;

    #[test]
    fn sense_energy_by_hand() {
        let s = Sense::validate(
            &Check::new("t"),
            RawSense {
                integrate_cycles: 1,
                bias_ua: 20.0,
                vdd_v: 1.8,
                noise_ua: 0.0,
            },
        )
        .unwrap();
        // 20 µA · 1.8 V · 10 ns = 0.36 pJ.
        assert!((s.energy_pj(10e-9) - 0.36).abs() < 1e-12);
        // Noiseless sense leaves the currents and the stream untouched.
        let mut x = [1.5f32, -2.0];
        s.add_noise(&mut x, &mut stream(1, "t"));
        assert_eq!(x, [1.5, -2.0]);
    }

    #[test]
    fn sense_noise_has_its_sigma() {
        // 20 000 draws: the sample σ is within 3 % of 2 µA (its standard
        // error is σ/sqrt(2n) = 0.5 %; 3 % is 6 standard errors).
        let raw = RawSense {
            integrate_cycles: 1,
            bias_ua: 20.0,
            vdd_v: 1.8,
            noise_ua: 2.0,
        };
        let s = Sense::validate(&Check::new("t"), raw).unwrap();
        let mut x = vec![0.0f32; 20_000];
        s.add_noise(&mut x, &mut stream(2, "t"));
        let var = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
        assert!((var.sqrt() - 2.0).abs() < 0.06, "σ = {}", var.sqrt());
    }

    #[test]
    fn accessors_return_the_configuration() {
        let raw = RawSense {
            integrate_cycles: 3,
            bias_ua: 20.0,
            vdd_v: 1.8,
            noise_ua: 0.3,
        };
        let s = Sense::validate(&Check::new("t"), raw).unwrap();
        assert_eq!(s.integrate_cycles(), 3);
        assert_eq!((s.bias_ua(), s.vdd_v(), s.noise_ua()), (20.0, 1.8, 0.3));
    }
}
