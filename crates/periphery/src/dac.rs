//! The DAC: signed normalised inputs to row voltages, amplitude or
//! bit-serial, with its read-cycle count and line-drive events.

use crate::round::round;
use aimsim_core::config::Check;
use aimsim_core::Result;
use serde::{Deserialize, Serialize};

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
    #[serde(default)]
    pub ideal: bool,
}

/// A validated DAC.
#[derive(Clone, Debug)]
pub struct Dac {
    cfg: RawDac,
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
    ///
    /// On x86-64 the loop is compiled twice, for the baseline target and
    /// with AVX2 (eight `f32` lanes instead of four, and a division per
    /// eight lines), chosen at run time: the same IEEE operations in the
    /// same order, so the same bits on any machine.
    pub fn convert(&self, x: &[f32], out_v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { self.convert_avx2(x, out_v) };
        }
        self.convert_body(x, out_v);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn convert_avx2(&self, x: &[f32], out_v: &mut [f32]) {
        self.convert_body(x, out_v);
    }

    #[inline(always)]
    fn convert_body(&self, x: &[f32], out_v: &mut [f32]) {
        let v = self.cfg.read_voltage_v as f32;
        if self.cfg.ideal {
            for (o, &xi) in out_v.iter_mut().zip(x) {
                *o = v * xi.clamp(-1.0, 1.0);
            }
        } else {
            for (o, &xi) in out_v.iter_mut().zip(x) {
                // `code(xi) as f32`: the code is an integer of at most
                // 2^15 − 1, exact in f32; `+ 0` turns the −0 of a small
                // negative input into the +0 of the integer code 0, and a
                // NaN input has code 0 (Rust's `NaN as i32`).
                let code = round(xi.clamp(-1.0, 1.0) * self.levels) + 0.0;
                let code = if code.is_nan() { 0.0 } else { code };
                *o = v * code / self.levels;
            }
        }
    }

    /// The signed code of `x ∈ [−1, 1]` (clipped): `round(x · (2^(b−1) − 1))`.
    #[inline]
    pub fn code(&self, x: f32) -> i32 {
        round(x.clamp(-1.0, 1.0) * self.levels) as i32
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

    /// `Σ drives(x_i)`: the line drives of an MVM with inputs `x`.
    pub fn total_drives(&self, x: &[f32]) -> u64 {
        match self.cfg.encoding {
            DacEncoding::Amplitude => x.iter().map(|&xi| u64::from(xi != 0.0)).sum(),
            DacEncoding::BitSerial => x.iter().map(|&xi| u64::from(self.drives(xi))).sum(),
        }
    }
}

/// The configuration, read-only: each accessor returns the [`RawDac`] field
/// of its name, by value.
impl Dac {
    /// Resolution in bits, including sign.
    pub fn bits(&self) -> u32 {
        self.cfg.bits
    }

    /// Read voltage at full-scale input, V.
    pub fn read_voltage_v(&self) -> f64 {
        self.cfg.read_voltage_v
    }

    /// Cycles for the row lines to settle before integration (per read cycle).
    pub fn settle_cycles(&self) -> u64 {
        self.cfg.settle_cycles
    }

    /// Energy per conversion (one line drive), pJ.
    pub fn energy_pj(&self) -> f64 {
        self.cfg.energy_pj
    }

    /// Input encoding.
    pub fn encoding(&self) -> DacEncoding {
        self.cfg.encoding
    }

    /// Whether quantisation is off.
    pub fn ideal(&self) -> bool {
        self.cfg.ideal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn convert_and_drives_match_the_plain_formulas_bit_for_bit() {
        // The loops before the vectorisable rounding: `f32::round` per
        // input, `drives` summed one input at a time.
        let xs: Vec<f32> = (-3000..=3000)
            .map(|k| k as f32 / 2500.0)
            .chain([
                0.0,
                -0.0,
                1.0 / 254.0,
                -1.0 / 254.0,
                0.5 / 127.0,
                -0.5 / 127.0,
            ])
            .chain([f32::NAN, f32::INFINITY, -f32::INFINITY, 7.0, -7.0])
            .collect();
        for bits in [1, 2, 5, 8, 12, 16] {
            for enc in [DacEncoding::Amplitude, DacEncoding::BitSerial] {
                let d = dac(bits, enc);
                let mut got = vec![0.0; xs.len()];
                d.convert(&xs, &mut got);
                // The baseline compilation too, where `convert` runs AVX2.
                let mut baseline = vec![0.0; xs.len()];
                d.convert_body(&xs, &mut baseline);
                for ((&x, g), b) in xs.iter().zip(&got).zip(&baseline) {
                    let code = (x.clamp(-1.0, 1.0) * d.levels).round() as i32;
                    let want = 0.2f32 * code as f32 / d.levels;
                    assert_eq!(g.to_bits(), want.to_bits(), "x {x}, {bits} bits");
                    assert_eq!(b.to_bits(), want.to_bits(), "x {x}, {bits} bits, baseline");
                }
                let want: u64 = xs.iter().map(|&x| u64::from(d.drives(x))).sum();
                assert_eq!(d.total_drives(&xs), want);
            }
        }
    }

    #[test]
    fn accessors_return_the_configuration() {
        // Distinct values per field, so a swapped accessor fails.
        let raw = RawDac {
            bits: 6,
            read_voltage_v: 0.3,
            settle_cycles: 4,
            energy_pj: 0.65,
            encoding: DacEncoding::BitSerial,
            ideal: true,
        };
        let d = Dac::validate(&Check::new("t"), raw).unwrap();
        assert_eq!((d.bits(), d.settle_cycles()), (6, 4));
        assert_eq!((d.read_voltage_v(), d.energy_pj()), (0.3, 0.65));
        assert_eq!((d.encoding(), d.ideal()), (DacEncoding::BitSerial, true));
    }

    proptest! {
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
    }
}
