//! The periphery blocks: raw configurations and their validated forms.

use aimsim_core::config::Check;
use aimsim_core::{Result, Rng};
use rand::Rng as _;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

fn default_false() -> bool {
    false
}

/// DAC configuration (`chip.dac`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDac {
    /// Resolution in bits, including sign (1..=16).
    pub bits: u32,
    /// Read voltage at full-scale input, V.
    pub read_voltage_v: f64,
    /// Cycles for the row lines to settle before integration.
    pub settle_cycles: u64,
    /// Energy per conversion (one row driven once), pJ.
    pub energy_pj: f64,
    /// No quantisation (energy and timing still charged) (default: false).
    #[serde(default = "default_false")]
    pub ideal: bool,
}

/// A validated DAC.
#[derive(Clone, Debug)]
pub struct Dac {
    /// The configuration.
    pub cfg: RawDac,
    levels: f32,
}

impl Dac {
    /// Validates `raw`; `c` names the section.
    pub fn validate(c: &Check, raw: RawDac) -> Result<Dac> {
        c.int_range("bits", raw.bits.into(), 1, 16)?;
        c.range("read_voltage_v", raw.read_voltage_v, 1e-3, 5.0)?;
        c.int_range("settle_cycles", raw.settle_cycles, 0, 1_000_000)?;
        c.non_negative("energy_pj", raw.energy_pj)?;
        let levels = if raw.bits == 1 {
            1.0
        } else {
            ((1u32 << (raw.bits - 1)) - 1) as f32
        };
        Ok(Dac { cfg: raw, levels })
    }

    /// Converts normalised inputs `x ∈ [−1, 1]` (clipped) to row voltages.
    pub fn convert(&self, x: &[f32], out_v: &mut [f32]) {
        let v = self.cfg.read_voltage_v as f32;
        for (o, &xi) in out_v.iter_mut().zip(x) {
            let xi = xi.clamp(-1.0, 1.0);
            *o = if self.cfg.ideal {
                v * xi
            } else {
                v * (xi * self.levels).round() / self.levels
            };
        }
    }
}

/// ADC architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdcKind {
    /// Successive approximation: one bit per cycle plus one sample cycle.
    Sar,
    /// Flash: one conversion per cycle.
    Flash,
}

/// ADC configuration (`chip.adc`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdc {
    /// Architecture: `sar` or `flash`.
    pub kind: AdcKind,
    /// Resolution in bits (1..=16).
    pub bits: u32,
    /// Full-scale input current (symmetric, ±) of forward reads, µA.
    pub full_scale_ua: f64,
    /// Full-scale current of transposed (backward) reads, µA; the integrator
    /// gain is programmable because errors are smaller than activations
    /// (default: `full_scale_ua`).
    #[serde(default)]
    pub backward_full_scale_ua: Option<f64>,
    /// ADCs per tile; columns are multiplexed over them.
    pub adcs_per_tile: u32,
    /// Energy per conversion, pJ; if absent, Walden `walden_fom_fj · 2^bits`.
    #[serde(default)]
    pub energy_pj: Option<f64>,
    /// Walden figure of merit, fJ per conversion step (used when `energy_pj` is absent).
    #[serde(default)]
    pub walden_fom_fj: Option<f64>,
    /// Input-referred thermal noise σ, in LSB (default: 0).
    #[serde(default)]
    pub noise_lsb: f64,
    /// No quantisation, clipping or noise (energy and timing still charged) (default: false).
    #[serde(default = "default_false")]
    pub ideal: bool,
}

/// A validated ADC.
#[derive(Clone, Debug)]
pub struct Adc {
    /// The configuration.
    pub cfg: RawAdc,
    lsb_ua: f32,
    backward_lsb_ua: f32,
    energy_pj: f64,
}

impl Adc {
    /// Validates `raw`; `c` names the section.
    pub fn validate(c: &Check, raw: RawAdc) -> Result<Adc> {
        c.int_range("bits", raw.bits.into(), 1, 16)?;
        c.positive("full_scale_ua", raw.full_scale_ua)?;
        c.int_range("adcs_per_tile", raw.adcs_per_tile.into(), 1, 65_536)?;
        c.non_negative("noise_lsb", raw.noise_lsb)?;
        let energy_pj = match (raw.energy_pj, raw.walden_fom_fj) {
            (Some(e), _) => c.non_negative("energy_pj", e)?,
            (None, Some(fom)) => {
                c.non_negative("walden_fom_fj", fom)? * 1e-3 * 2f64.powi(raw.bits as i32)
            }
            (None, None) => {
                return Err(c.err("energy_pj", "give energy_pj or walden_fom_fj"));
            }
        };
        let codes = 2f64.powi(raw.bits as i32);
        let lsb_ua = (2.0 * raw.full_scale_ua / codes) as f32;
        let back_fs = match raw.backward_full_scale_ua {
            Some(fs) => c.positive("backward_full_scale_ua", fs)?,
            None => raw.full_scale_ua,
        };
        let backward_lsb_ua = (2.0 * back_fs / codes) as f32;
        Ok(Adc {
            cfg: raw,
            lsb_ua,
            backward_lsb_ua,
            energy_pj,
        })
    }

    /// Energy of one conversion, pJ.
    pub fn energy_pj(&self) -> f64 {
        self.energy_pj
    }

    /// The quantisation step of forward reads, µA.
    pub fn lsb_ua(&self) -> f32 {
        self.lsb_ua
    }

    /// The quantisation step of transposed (backward) reads, µA.
    pub fn backward_lsb_ua(&self) -> f32 {
        self.backward_lsb_ua
    }

    /// Cycles of one conversion.
    pub fn conversion_cycles(&self) -> u64 {
        match self.cfg.kind {
            AdcKind::Sar => u64::from(self.cfg.bits) + 1,
            AdcKind::Flash => 1,
        }
    }

    /// Sequential conversion batches for `lines` output lines.
    pub fn batches(&self, lines: usize) -> u64 {
        (lines as u64).div_ceil(u64::from(self.cfg.adcs_per_tile))
    }

    /// Quantises forward-read currents in place: mid-tread, codes
    /// `−2^(b−1) ..= 2^(b−1)−1`.
    pub fn convert(&self, currents_ua: &mut [f32], rng: &mut Rng) {
        self.quantise(self.lsb_ua, currents_ua, rng);
    }

    /// Quantises transposed-read currents in place (the backward full scale).
    pub fn convert_backward(&self, currents_ua: &mut [f32], rng: &mut Rng) {
        self.quantise(self.backward_lsb_ua, currents_ua, rng);
    }

    fn quantise(&self, lsb_ua: f32, currents_ua: &mut [f32], rng: &mut Rng) {
        if self.cfg.ideal {
            return;
        }
        let half = (1i64 << (self.cfg.bits - 1)) as f32;
        let noise = self.cfg.noise_lsb as f32;
        for i in currents_ua.iter_mut() {
            let mut code = *i / lsb_ua;
            if noise > 0.0 {
                let z: f32 = rng.sample(StandardNormal);
                code += noise * z;
            }
            *i = code.round().clamp(-half, half - 1.0) * lsb_ua;
        }
    }
}

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
}

/// A validated sense integrator.
#[derive(Clone, Debug)]
pub struct Sense {
    /// The configuration.
    pub cfg: RawSense,
}

impl Sense {
    /// Validates `raw`; `c` names the section.
    pub fn validate(c: &Check, raw: RawSense) -> Result<Sense> {
        c.int_range("integrate_cycles", raw.integrate_cycles, 1, 1_000_000)?;
        c.non_negative("bias_ua", raw.bias_ua)?;
        c.range("vdd_v", raw.vdd_v, 0.1, 10.0)?;
        Ok(Sense { cfg: raw })
    }

    /// Energy of one line integrated for `t_s` seconds: `I_bias · V_dd · t`, pJ.
    pub fn energy_pj(&self, t_s: f64) -> f64 {
        self.cfg.bias_ua * 1e-6 * self.cfg.vdd_v * t_s * 1e12
    }
}

/// Pulse driver configuration (`chip.driver`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDriver {
    /// SET pulse amplitude, V.
    pub set_voltage_v: f64,
    /// RESET pulse amplitude (magnitude), V.
    pub reset_voltage_v: f64,
    /// Width of one nominal pulse, ns.
    pub pulse_width_ns: f64,
    /// Capacitance of one word/bit line, fF.
    pub line_capacitance_ff: f64,
    /// Fixed energy of one pulse phase (decoders, level shifters), pJ.
    pub overhead_pj: f64,
    /// Cycles to set up a phase (row decode, mask load).
    pub setup_cycles: u64,
    /// Most cells one phase may pulse at once (current limit).
    pub max_parallel: u32,
}

/// A validated pulse driver.
#[derive(Clone, Debug)]
pub struct Driver {
    /// The configuration.
    pub cfg: RawDriver,
}

impl Driver {
    /// Validates `raw`; `c` names the section.
    pub fn validate(c: &Check, raw: RawDriver) -> Result<Driver> {
        c.range("set_voltage_v", raw.set_voltage_v, 0.01, 10.0)?;
        c.range("reset_voltage_v", raw.reset_voltage_v, 0.01, 10.0)?;
        c.range("pulse_width_ns", raw.pulse_width_ns, 1e-3, 1e9)?;
        c.non_negative("line_capacitance_ff", raw.line_capacitance_ff)?;
        c.non_negative("overhead_pj", raw.overhead_pj)?;
        c.int_range("setup_cycles", raw.setup_cycles, 0, 1_000_000)?;
        c.int_range("max_parallel", raw.max_parallel.into(), 1, 1 << 20)?;
        Ok(Driver { cfg: raw })
    }

    /// Pulse amplitude for a polarity (`set = true` for SET), V.
    pub fn voltage_v(&self, set: bool) -> f64 {
        if set {
            self.cfg.set_voltage_v
        } else {
            self.cfg.reset_voltage_v
        }
    }

    /// Cell energy of `pulses` pulses taking a cell from `g_before_us` to
    /// `g_after_us`: `V² (G_b + G_a)/2 · t` per pulse, pJ.
    pub fn cell_energy_pj(&self, set: bool, pulses: u32, g_before_us: f32, g_after_us: f32) -> f64 {
        let v = self.voltage_v(set);
        let g_avg_s = 0.5 * f64::from(g_before_us + g_after_us) * 1e-6;
        v * v * g_avg_s * self.cfg.pulse_width_ns * 1e-9 * f64::from(pulses) * 1e12
    }

    /// Driver energy of one phase pulsing `cells` cells of one row `pulses`
    /// times: each pulse charges the row line and one line per cell,
    /// `C V²` each, plus the phase overhead, pJ.
    pub fn phase_energy_pj(&self, set: bool, cells: u32, pulses: u32) -> f64 {
        let v = self.voltage_v(set);
        let line_pj = self.cfg.line_capacitance_ff * 1e-3 * v * v;
        line_pj * f64::from(cells + 1) * f64::from(pulses) + self.cfg.overhead_pj
    }
}

/// Digital periphery configuration (`chip.digital`): energy per operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigital {
    /// One multiply-accumulate of the gradient / weight arithmetic, pJ.
    pub mac_pj: f64,
    /// One add or compare, pJ.
    pub add_pj: f64,
    /// One activation (and its derivative) by look-up, pJ.
    pub activation_pj: f64,
    /// One random bit (LFSR), pJ.
    pub random_bit_pj: f64,
    /// Random bits one stochastic decision consumes.
    pub random_bits_per_decision: u32,
    /// Multiply-accumulates the digital gradient unit of one tile does per cycle.
    pub macs_per_cycle: u32,
    /// One 32-bit word read from periphery SRAM (e.g. a mixed-precision
    /// accumulator), pJ (default: 160: Horowitz ISSCC 2014, 10 pJ for a
    /// 32-bit read of an 8 KB SRAM at 45 nm / 0.9 V, scaled ×16 by C·V² to
    /// 180 nm / 1.8 V).
    #[serde(default = "default_sram_pj")]
    pub sram_read_pj: f64,
    /// One 32-bit word written to periphery SRAM, pJ (default: 160, taken
    /// equal to a read; Horowitz gives reads only).
    #[serde(default = "default_sram_pj")]
    pub sram_write_pj: f64,
}

fn default_sram_pj() -> f64 {
    160.0
}

/// Validated digital periphery costs.
#[derive(Clone, Debug)]
pub struct Digital {
    /// The configuration.
    pub cfg: RawDigital,
}

impl Digital {
    /// Validates `raw`; `c` names the section.
    pub fn validate(c: &Check, raw: RawDigital) -> Result<Digital> {
        c.non_negative("mac_pj", raw.mac_pj)?;
        c.non_negative("add_pj", raw.add_pj)?;
        c.non_negative("activation_pj", raw.activation_pj)?;
        c.non_negative("random_bit_pj", raw.random_bit_pj)?;
        c.int_range(
            "random_bits_per_decision",
            raw.random_bits_per_decision.into(),
            1,
            64,
        )?;
        c.int_range("macs_per_cycle", raw.macs_per_cycle.into(), 1, 1 << 20)?;
        c.non_negative("sram_read_pj", raw.sram_read_pj)?;
        c.non_negative("sram_write_pj", raw.sram_write_pj)?;
        Ok(Digital { cfg: raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::stream;
    use proptest::prelude::*;

    fn adc(bits: u32) -> Adc {
        Adc::validate(
            &Check::new("t"),
            RawAdc {
                kind: AdcKind::Sar,
                bits,
                full_scale_ua: 100.0,
                backward_full_scale_ua: None,
                adcs_per_tile: 8,
                energy_pj: None,
                walden_fom_fj: Some(100.0),
                noise_lsb: 0.0,
                ideal: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn walden_energy_and_sar_timing() {
        let a = adc(8);
        assert!((a.energy_pj() - 25.6).abs() < 1e-12);
        assert_eq!(a.conversion_cycles(), 9);
        assert_eq!(a.batches(128), 16);
        assert_eq!(a.batches(129), 17);
    }

    #[test]
    fn adc_clips_outside_range() {
        let a = adc(8);
        let mut x = [1e4, -1e4];
        a.convert(&mut x, &mut stream(1, "t"));
        assert_eq!(x[0], 127.0 * a.lsb_ua());
        assert_eq!(x[1], -128.0 * a.lsb_ua());
    }

    #[test]
    fn pulse_energy_by_hand() {
        let d = Driver {
            cfg: RawDriver {
                set_voltage_v: 1.6,
                reset_voltage_v: 1.6,
                pulse_width_ns: 50.0,
                line_capacitance_ff: 200.0,
                overhead_pj: 1.0,
                setup_cycles: 1,
                max_parallel: 32,
            },
        };
        // 1.6² V² · 50 µS · 50 ns = 6.4 pJ.
        assert!((d.cell_energy_pj(true, 1, 40.0, 60.0) - 6.4).abs() < 1e-9);
        // 200 fF · 1.6² = 0.512 pJ per line; 3 cells + row = 4 lines; + 1 pJ.
        assert!((d.phase_energy_pj(true, 3, 1) - (4.0 * 0.512 + 1.0)).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn adc_error_within_half_lsb(u in 0.0f32..1.0, bits in 2u32..14) {
            // The codes span [−fs, fs − LSB]; inside that range the error is ≤ LSB/2.
            let a = adc(bits);
            let x = -100.0 + u * (200.0 - a.lsb_ua());
            let mut y = [x];
            a.convert(&mut y, &mut stream(1, "t"));
            prop_assert!((y[0] - x).abs() <= 0.5 * a.lsb_ua() * 1.0001);
        }

        #[test]
        fn dac_error_within_half_step(x in -1.0f32..1.0, bits in 2u32..14) {
            let raw = RawDac { bits, read_voltage_v: 0.2, settle_cycles: 1, energy_pj: 0.5, ideal: false };
            let d = Dac::validate(&Check::new("t"), raw).unwrap();
            let mut v = [0.0];
            d.convert(&[x], &mut v);
            let step = 0.2 / ((1u32 << (bits - 1)) - 1) as f32;
            prop_assert!((v[0] - 0.2 * x).abs() <= 0.5 * step * 1.0001);
        }
    }
}
