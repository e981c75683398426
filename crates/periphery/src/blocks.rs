//! The periphery blocks: raw configurations and their validated forms.

use aimsim_core::config::Check;
use aimsim_core::{Result, Rng};
use rand::Rng as _;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

fn default_false() -> bool {
    false
}

/// How a DAC encodes an input value on a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DacEncoding {
    /// One read: the line is driven at `V_read · q(x)` (a multi-level DAC).
    #[default]
    Amplitude,
    /// `bits − 1` reads (one for bits = 1): in read `k` the line is driven at
    /// `±V_read` if bit `k` of `|code|` is set, else left at 0 V; the
    /// integrator weights read `k` by `2^k` (binary-weighted charge sharing),
    /// so one ADC conversion per line gives the same value as amplitude
    /// encoding, at `bits − 1` times the read time.
    BitSerial,
}

/// DAC configuration (`chip.dac`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDac {
    /// Resolution in bits, including sign (1..=16).
    pub bits: u32,
    /// Read voltage at full-scale input, V: inputs span `±read_voltage_v`.
    pub read_voltage_v: f64,
    /// Cycles for the row lines to settle before integration (per read cycle).
    pub settle_cycles: u64,
    /// Energy per conversion, pJ: one line driven once (amplitude) or one
    /// line driven in one bit cycle (bit-serial).
    pub energy_pj: f64,
    /// Input encoding, `amplitude` or `bit-serial` (default: `amplitude`).
    #[serde(default)]
    pub encoding: DacEncoding,
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

    /// Converts normalised inputs `x ∈ [−1, 1]` (clipped) to row voltages:
    /// the amplitude a line is driven at, or for bit-serial encoding the
    /// amplitude the binary-weighted bit reads add up to.
    pub fn convert(&self, x: &[f32], out_v: &mut [f32]) {
        let v = self.cfg.read_voltage_v as f32;
        for (o, &xi) in out_v.iter_mut().zip(x) {
            let xi = xi.clamp(-1.0, 1.0);
            *o = if self.cfg.ideal {
                v * xi
            } else {
                v * self.code(xi) as f32 / self.levels
            };
        }
    }

    /// The signed code of `x ∈ [−1, 1]` (clipped): `round(x · (2^(b−1) − 1))`.
    pub fn code(&self, x: f32) -> i32 {
        (x.clamp(-1.0, 1.0) * self.levels).round() as i32
    }

    /// Read cycles of one MVM: 1 for amplitude encoding, `max(bits − 1, 1)`
    /// for bit-serial.
    pub fn read_cycles(&self) -> u64 {
        match self.cfg.encoding {
            DacEncoding::Amplitude => 1,
            DacEncoding::BitSerial => u64::from(self.cfg.bits.saturating_sub(1).max(1)),
        }
    }

    /// Line-drive events of one input `x` over an MVM, each costing
    /// `energy_pj` and one `V_read² G t_int` of array read energy: 1 if
    /// `x ≠ 0` (amplitude), the set bits of `|code(x)|` (bit-serial).
    pub fn drives(&self, x: f32) -> u32 {
        match self.cfg.encoding {
            DacEncoding::Amplitude => u32::from(x != 0.0),
            DacEncoding::BitSerial => self.code(x).unsigned_abs().count_ones(),
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
    /// Static input-referred offset, in LSB, added before rounding (default: 0).
    #[serde(default)]
    pub offset_lsb: f64,
    /// Cycles of one conversion (default: `bits + 1` for SAR — one sample
    /// cycle and one per bit — and 1 for flash).
    #[serde(default)]
    pub conversion_cycles: Option<u64>,
    /// Full scale set from calibration statistics: if > 0, each tile's ADCs
    /// convert its first `calibration_reads` forward (and, separately,
    /// backward) reads with the configured full scale while recording the
    /// largest `|I|` seen, then use `calibration_margin × max |I|` as full
    /// scale from then on. Deterministic: it depends only on the reads'
    /// values. 0 keeps the configured full scale (default: 0).
    #[serde(default)]
    pub calibration_reads: u64,
    /// Head-room factor on the calibrated full scale, 1..=16 (default: 1.25).
    #[serde(default = "default_margin")]
    pub calibration_margin: f64,
    /// No quantisation, clipping or noise (energy and timing still charged) (default: false).
    #[serde(default = "default_false")]
    pub ideal: bool,
}

fn default_margin() -> f64 {
    1.25
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
        let codes = 2f64.powi(raw.bits as i32);
        c.range("offset_lsb", raw.offset_lsb, -codes, codes)?;
        if let Some(n) = raw.conversion_cycles {
            c.int_range("conversion_cycles", n, 1, 1_000_000)?;
        }
        c.range("calibration_margin", raw.calibration_margin, 1.0, 16.0)?;
        let energy_pj = match (raw.energy_pj, raw.walden_fom_fj) {
            (Some(e), _) => c.non_negative("energy_pj", e)?,
            (None, Some(fom)) => {
                c.non_negative("walden_fom_fj", fom)? * 1e-3 * 2f64.powi(raw.bits as i32)
            }
            (None, None) => {
                return Err(c.err("energy_pj", "give energy_pj or walden_fom_fj"));
            }
        };
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

    /// The quantisation step for a full scale of `±full_scale_ua`, µA.
    pub fn lsb_for_full_scale(&self, full_scale_ua: f32) -> f32 {
        2.0 * full_scale_ua / 2f32.powi(self.cfg.bits as i32)
    }

    /// Cycles of one conversion.
    pub fn conversion_cycles(&self) -> u64 {
        self.cfg.conversion_cycles.unwrap_or(match self.cfg.kind {
            AdcKind::Sar => u64::from(self.cfg.bits) + 1,
            AdcKind::Flash => 1,
        })
    }

    /// Sequential conversion batches for `lines` output lines.
    pub fn batches(&self, lines: usize) -> u64 {
        (lines as u64).div_ceil(u64::from(self.cfg.adcs_per_tile))
    }

    /// Quantises forward-read currents in place: mid-tread, codes
    /// `−2^(b−1) ..= 2^(b−1)−1`.
    pub fn convert(&self, currents_ua: &mut [f32], rng: &mut Rng) {
        self.convert_with_lsb(self.lsb_ua, currents_ua, rng);
    }

    /// Quantises transposed-read currents in place (the backward full scale).
    pub fn convert_backward(&self, currents_ua: &mut [f32], rng: &mut Rng) {
        self.convert_with_lsb(self.backward_lsb_ua, currents_ua, rng);
    }

    /// Quantises currents in place with step `lsb_ua` (a calibrated full
    /// scale): offset and thermal noise in LSB, rounding, clipping.
    pub fn convert_with_lsb(&self, lsb_ua: f32, currents_ua: &mut [f32], rng: &mut Rng) {
        if self.cfg.ideal {
            return;
        }
        let half = (1i64 << (self.cfg.bits - 1)) as f32;
        let noise = self.cfg.noise_lsb as f32;
        let offset = self.cfg.offset_lsb as f32;
        for i in currents_ua.iter_mut() {
            let mut code = *i / lsb_ua + offset;
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
    /// Input-referred integrator noise σ per read, µA, added to each line
    /// before its ADC conversion (default: 0).
    #[serde(default)]
    pub noise_ua: f64,
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
        for i in currents_ua.iter_mut() {
            let z: f32 = rng.sample(StandardNormal);
            *i += sigma * z;
        }
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
    /// Gate (word-line) voltage of the access transistor during a SET
    /// pulse, V; it sets the compliance current (default: `set_voltage_v`).
    #[serde(default)]
    pub set_gate_v: Option<f64>,
    /// Gate voltage during a RESET pulse, V (default: `reset_voltage_v`).
    #[serde(default)]
    pub reset_gate_v: Option<f64>,
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
        if let Some(v) = raw.set_gate_v {
            c.range("set_gate_v", v, 0.01, 10.0)?;
        }
        if let Some(v) = raw.reset_gate_v {
            c.range("reset_gate_v", v, 0.01, 10.0)?;
        }
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

    /// Gate (word-line) voltage for a polarity, V.
    pub fn gate_v(&self, set: bool) -> f64 {
        if set {
            self.cfg.set_gate_v.unwrap_or(self.cfg.set_voltage_v)
        } else {
            self.cfg.reset_gate_v.unwrap_or(self.cfg.reset_voltage_v)
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
    /// times: each pulse charges one bit line per cell to the pulse
    /// amplitude and the row's word line to the gate voltage, `C V²` each,
    /// plus the phase overhead, pJ:
    /// `C (cells · V² + V_gate²) · pulses + overhead`.
    pub fn phase_energy_pj(&self, set: bool, cells: u32, pulses: u32) -> f64 {
        let v = self.voltage_v(set);
        let vg = self.gate_v(set);
        let c_pf = self.cfg.line_capacitance_ff * 1e-3;
        c_pf * (f64::from(cells) * v * v + vg * vg) * f64::from(pulses) + self.cfg.overhead_pj
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
                offset_lsb: 0.0,
                conversion_cycles: None,
                calibration_reads: 0,
                calibration_margin: 1.25,
                ideal: false,
            },
        )
        .unwrap()
    }

    fn dac(bits: u32, encoding: DacEncoding) -> Dac {
        let raw = RawDac {
            bits,
            read_voltage_v: 0.2,
            settle_cycles: 1,
            energy_pj: 0.65,
            encoding,
            ideal: false,
        };
        Dac::validate(&Check::new("t"), raw).unwrap()
    }

    fn driver(gates: Option<(f64, f64)>) -> Driver {
        Driver {
            cfg: RawDriver {
                set_voltage_v: 1.6,
                reset_voltage_v: 1.6,
                set_gate_v: gates.map(|g| g.0),
                reset_gate_v: gates.map(|g| g.1),
                pulse_width_ns: 50.0,
                line_capacitance_ff: 200.0,
                overhead_pj: 1.0,
                setup_cycles: 1,
                max_parallel: 32,
            },
        }
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
        let d = driver(None);
        // 1.6² V² · 50 µS · 50 ns = 6.4 pJ.
        assert!((d.cell_energy_pj(true, 1, 40.0, 60.0) - 6.4).abs() < 1e-9);
        // 200 fF · 1.6² = 0.512 pJ per line; 3 bit lines + the word line at
        // the (default) gate voltage 1.6 V = 4 lines; + 1 pJ.
        assert!((d.phase_energy_pj(true, 3, 1) - (4.0 * 0.512 + 1.0)).abs() < 1e-9);
        // Gate voltages 1.2 V (SET) and 2.0 V (RESET), 2 pulses:
        // SET   200 fF · (3 · 1.6² + 1.2²) · 2 + 1 = 0.2 · 9.12 · 2 + 1 = 4.648 pJ;
        // RESET 200 fF · (3 · 1.6² + 2.0²) · 2 + 1 = 0.2 · 11.68 · 2 + 1 = 5.672 pJ.
        let g = driver(Some((1.2, 2.0)));
        assert!((g.phase_energy_pj(true, 3, 2) - 4.648).abs() < 1e-9);
        assert!((g.phase_energy_pj(false, 3, 2) - 5.672).abs() < 1e-9);
    }

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
    fn flash_and_explicit_energy_and_cycles() {
        let raw = RawAdc {
            kind: AdcKind::Flash,
            bits: 4,
            full_scale_ua: 100.0,
            backward_full_scale_ua: None,
            adcs_per_tile: 8,
            energy_pj: Some(2.5),
            walden_fom_fj: Some(100.0),
            noise_lsb: 0.0,
            offset_lsb: 0.0,
            conversion_cycles: None,
            calibration_reads: 0,
            calibration_margin: 1.25,
            ideal: false,
        };
        let a = Adc::validate(&Check::new("t"), raw.clone()).unwrap();
        // Explicit energy wins over Walden; flash converts in one cycle.
        assert_eq!(a.energy_pj(), 2.5);
        assert_eq!(a.conversion_cycles(), 1);
        let b = Adc::validate(
            &Check::new("t"),
            RawAdc {
                conversion_cycles: Some(3),
                ..raw
            },
        )
        .unwrap();
        assert_eq!(b.conversion_cycles(), 3);
        // Walden at 4 bits: 100 fJ · 16 = 1.6 pJ.
        assert!((adc(4).energy_pj() - 1.6).abs() < 1e-12);
    }

    #[test]
    fn adc_offset_shifts_codes() {
        let mut raw = adc(8).cfg;
        raw.offset_lsb = 2.0;
        let a = Adc::validate(&Check::new("t"), raw).unwrap();
        let mut x = [0.0f32, 10.0 * a.lsb_ua()];
        a.convert(&mut x, &mut stream(1, "t"));
        assert_eq!(x, [2.0 * a.lsb_ua(), 12.0 * a.lsb_ua()]);
        // A calibrated full scale of 50 µA halves the LSB of ±100 µA.
        assert!((a.lsb_for_full_scale(50.0) - 0.5 * a.lsb_ua()).abs() < 1e-6);
    }

    #[test]
    fn impossible_values_name_the_field() {
        let c = Check::new("f.json").section("adc");
        let mut raw = adc(8).cfg;
        raw.calibration_margin = 0.5;
        let e = Adc::validate(&c, raw).unwrap_err().to_string();
        assert!(e.contains("adc.calibration_margin"), "{e}");
        let mut raw = adc(8).cfg;
        raw.conversion_cycles = Some(0);
        let e = Adc::validate(&c, raw).unwrap_err().to_string();
        assert!(e.contains("adc.conversion_cycles"), "{e}");
        let mut raw = adc(8).cfg;
        raw.offset_lsb = f64::NAN;
        let e = Adc::validate(&c, raw).unwrap_err().to_string();
        assert!(e.contains("adc.offset_lsb"), "{e}");
        let mut raw = driver(None).cfg;
        raw.reset_gate_v = Some(-1.0);
        let e = Driver::validate(&Check::new("f.json").section("driver"), raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("driver.reset_gate_v"), "{e}");
    }

    #[test]
    fn bit_serial_cycles_and_drives() {
        let a = dac(8, DacEncoding::Amplitude);
        let b = dac(8, DacEncoding::BitSerial);
        assert_eq!((a.read_cycles(), b.read_cycles()), (1, 7));
        assert_eq!(dac(1, DacEncoding::BitSerial).read_cycles(), 1);
        // x = 0.5 → code round(63.5) = 64 = 0b1000000: one bit cycle driven;
        // x = −1 → 127 = 0b1111111: seven. Amplitude drives once either way.
        assert_eq!((b.drives(0.5), b.drives(-1.0), b.drives(0.0)), (1, 7, 0));
        assert_eq!((a.drives(0.5), a.drives(-1.0), a.drives(0.0)), (1, 1, 0));
    }

    proptest! {
        #[test]
        fn adc_error_within_half_lsb(u in 0.0f32..1.0, bits in 2u32..14) {
            // The codes span [−fs, fs − LSB]; inside that range the error is ≤ LSB/2.
            let a = adc(bits);
            let x = -100.0 + u * (200.0 - a.lsb_ua());
            let mut y = [x];
            a.convert(&mut y, &mut stream(1, "t"));
            // Half an LSB, plus f32 rounding of values up to 100 µA (ulp 7.6e-6).
            prop_assert!((y[0] - x).abs() <= 0.5 * a.lsb_ua() + 3e-5);
        }

        #[test]
        fn dac_error_within_half_step(x in -1.0f32..1.0, bits in 2u32..14, serial in any::<bool>()) {
            // Both encodings realise the same quantised value: within half a
            // step inside the range.
            let enc = if serial { DacEncoding::BitSerial } else { DacEncoding::Amplitude };
            let d = dac(bits, enc);
            let mut v = [0.0];
            d.convert(&[x], &mut v);
            let step = 0.2 / ((1u32 << (bits - 1)) - 1) as f32;
            // Half a step, plus f32 rounding of values up to 0.2 V (ulp 1.5e-8):
            // an input on a rounding midpoint sits exactly half a step away.
            prop_assert!((v[0] - 0.2 * x).abs() <= 0.5 * step + 1e-7);
        }

        #[test]
        fn dac_clips_outside_range(x in 1.0f32..100.0, bits in 1u32..14, serial in any::<bool>()) {
            let enc = if serial { DacEncoding::BitSerial } else { DacEncoding::Amplitude };
            let d = dac(bits, enc);
            let mut v = [0.0, 0.0];
            d.convert(&[x, -x], &mut v);
            prop_assert!((v[0] - 0.2).abs() < 1e-6 && (v[1] + 0.2).abs() < 1e-6, "{v:?}");
        }

        #[test]
        fn bit_serial_sum_of_bit_reads_equals_amplitude(x in -1.0f32..1.0, bits in 2u32..14) {
            // Σ_k 2^k · bit_k(|code|) · V_read / levels, signed, is what the
            // binary-weighted integrator adds up; it must equal `convert`.
            let d = dac(bits, DacEncoding::BitSerial);
            let code = d.code(x);
            let levels = ((1u32 << (bits - 1)) - 1) as f32;
            let mag: u32 = (0..d.read_cycles() as u32)
                .map(|k| ((code.unsigned_abs() >> k) & 1) << k)
                .sum();
            let mut v = [0.0];
            d.convert(&[x], &mut v);
            prop_assert_eq!(code.signum() as f32 * 0.2 * mag as f32 / levels, v[0]);
        }

        #[test]
        fn adc_clips_outside_range_any_bits(u in 1.0f32..100.0, bits in 1u32..14) {
            let a = adc(bits);
            let half = (1i64 << (bits - 1)) as f32;
            let mut y = [100.0 * u + a.lsb_ua(), -100.0 * u - a.lsb_ua()];
            a.convert(&mut y, &mut stream(1, "t"));
            prop_assert_eq!(y, [(half - 1.0) * a.lsb_ua(), -half * a.lsb_ua()]);
        }
    }
}
