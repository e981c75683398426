//! The ADC: column currents to codes (mid-tread quantiser with offset,
//! thermal noise and clipping), its conversion timing and energy.

use crate::round::round;
use aimsim_core::config::Check;
use aimsim_core::{normal, Result, Rng};
use serde::{Deserialize, Serialize};

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
    /// Energy per conversion, pJ; if absent, Walden `walden_fom_fj · 2^bits`
    /// (give exactly one of the two).
    #[serde(default)]
    pub energy_pj: Option<f64>,
    /// Walden figure of merit, fJ per conversion step (exclusive with `energy_pj`).
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
    /// Re-ranging window, in reads: if > 0 (and `calibration_reads` > 0),
    /// after the first calibration each tile's ADCs keep recording the
    /// largest `|I|` of every further window of this many reads per
    /// direction and set `calibration_margin × max |I|` of the window as
    /// the full scale of the next one (a peak detector on the integrator
    /// output and a programmable integration gain, the automatic gain
    /// control of a sensing chain), so the range follows the weights as
    /// they grow or shrink during training. 0 keeps the first calibration
    /// (default: 0).
    #[serde(default)]
    pub recalibrate_every: u64,
    /// No quantisation, clipping or noise (energy and timing still charged) (default: false).
    #[serde(default)]
    pub ideal: bool,
}

fn default_margin() -> f64 {
    1.25
}

/// A validated ADC.
#[derive(Clone, Debug)]
pub struct Adc {
    cfg: RawAdc,
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
        if raw.recalibrate_every > 0 && raw.calibration_reads == 0 {
            return Err(c.err(
                "recalibrate_every",
                "re-ranging needs a first calibration: set calibration_reads > 0",
            ));
        }
        let energy_pj = match (raw.energy_pj, raw.walden_fom_fj) {
            (Some(_), Some(_)) => {
                return Err(c.err("walden_fom_fj", "give energy_pj or walden_fom_fj, not both (to replace one, set the other to null)"));
            }
            (Some(e), None) => c.non_negative("energy_pj", e)?,
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
    ///
    /// On x86-64 the loops are compiled twice, for the baseline target and
    /// with AVX2 (the noiseless loop then converts eight lines per vector
    /// division instead of four), chosen at run time: the same IEEE
    /// operations in the same order, so the same bits on any machine.
    pub fn convert_with_lsb(&self, lsb_ua: f32, currents_ua: &mut [f32], rng: &mut Rng) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { self.convert_with_lsb_avx2(lsb_ua, currents_ua, rng) };
        }
        self.convert_with_lsb_body(lsb_ua, currents_ua, rng);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn convert_with_lsb_avx2(&self, lsb_ua: f32, currents_ua: &mut [f32], rng: &mut Rng) {
        self.convert_with_lsb_body(lsb_ua, currents_ua, rng);
    }

    #[inline(always)]
    fn convert_with_lsb_body(&self, lsb_ua: f32, currents_ua: &mut [f32], rng: &mut Rng) {
        if self.cfg.ideal {
            return;
        }
        let half = (1i64 << (self.cfg.bits - 1)) as f32;
        let noise = self.cfg.noise_lsb as f32;
        let offset = self.cfg.offset_lsb as f32;
        let quantise = |code: f32| round(code).clamp(-half, half - 1.0) * lsb_ua;
        if noise > 0.0 {
            // One `rng.sample::<f32, _>(StandardNormal)` per line in
            // order, inlined (same bits).
            normal::for_each_standard_normal_f32(rng, currents_ua, |i, z| {
                *i = quantise(*i / lsb_ua + offset + noise * z);
            });
        } else {
            // No draws: a loop the compiler vectorises.
            for i in currents_ua.iter_mut() {
                *i = quantise(*i / lsb_ua + offset);
            }
        }
    }
}

/// The configuration, read-only: each accessor returns the [`RawAdc`] field
/// of its name, by value, except where a resolved value already has the
/// name: [`RawAdc::energy_pj`] is [`Adc::configured_energy_pj`] and
/// [`RawAdc::conversion_cycles`] is [`Adc::configured_conversion_cycles`].
impl Adc {
    /// Architecture.
    pub fn kind(&self) -> AdcKind {
        self.cfg.kind
    }

    /// Resolution in bits.
    pub fn bits(&self) -> u32 {
        self.cfg.bits
    }

    /// Configured full-scale current of forward reads (±), µA.
    pub fn full_scale_ua(&self) -> f64 {
        self.cfg.full_scale_ua
    }

    /// Configured full-scale current of transposed reads, µA
    /// (`None`: `full_scale_ua`; the resolved step is [`Adc::backward_lsb_ua`]).
    pub fn backward_full_scale_ua(&self) -> Option<f64> {
        self.cfg.backward_full_scale_ua
    }

    /// ADCs per tile.
    pub fn adcs_per_tile(&self) -> u32 {
        self.cfg.adcs_per_tile
    }

    /// The configured energy per conversion, pJ (`None`: Walden from
    /// `walden_fom_fj`). Named apart from the raw field `energy_pj` because
    /// [`Adc::energy_pj`] is the resolved per-conversion energy.
    pub fn configured_energy_pj(&self) -> Option<f64> {
        self.cfg.energy_pj
    }

    /// Walden figure of merit, fJ per conversion step, if configured.
    pub fn walden_fom_fj(&self) -> Option<f64> {
        self.cfg.walden_fom_fj
    }

    /// Input-referred thermal noise σ, LSB.
    pub fn noise_lsb(&self) -> f64 {
        self.cfg.noise_lsb
    }

    /// Static input-referred offset, LSB.
    pub fn offset_lsb(&self) -> f64 {
        self.cfg.offset_lsb
    }

    /// The configured cycles of one conversion (`None`: the architecture
    /// default). Named apart from the raw field `conversion_cycles` because
    /// [`Adc::conversion_cycles`] is the resolved count.
    pub fn configured_conversion_cycles(&self) -> Option<u64> {
        self.cfg.conversion_cycles
    }

    /// Reads converted at the configured full scale before calibration (0: none).
    pub fn calibration_reads(&self) -> u64 {
        self.cfg.calibration_reads
    }

    /// Head-room factor on the calibrated full scale.
    pub fn calibration_margin(&self) -> f64 {
        self.cfg.calibration_margin
    }

    /// Reads per re-ranging window after the first calibration (0: never).
    pub fn recalibrate_every(&self) -> u64 {
        self.cfg.recalibrate_every
    }

    /// Whether quantisation, clipping and noise are off.
    pub fn ideal(&self) -> bool {
        self.cfg.ideal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::stream;
    use proptest::prelude::*;
    use rand::Rng as _;
    use rand_distr::StandardNormal;

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
                recalibrate_every: 0,
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
    fn conversion_matches_the_plain_loop_bit_for_bit() {
        // The loop before the vectorisable rounding, `f32::round` per line.
        let plain = |a: &Adc, lsb: f32, xs: &mut [f32], rng: &mut aimsim_core::Rng| {
            let half = (1i64 << (a.bits() - 1)) as f32;
            for i in xs.iter_mut() {
                let mut code = *i / lsb + a.offset_lsb() as f32;
                if a.noise_lsb() > 0.0 {
                    let z: f32 = rng.sample(StandardNormal);
                    code += a.noise_lsb() as f32 * z;
                }
                *i = code.round().clamp(-half, half - 1.0) * lsb;
            }
        };
        let xs: Vec<f32> = (-4000..=4000)
            .map(|k| k as f32 * 0.0371)
            .chain([0.0, -0.0, 0.5, -0.5, 1e9, -1e9, f32::INFINITY])
            .collect();
        for (noise, offset) in [(0.0, 0.0), (0.0, 0.5), (0.7, 0.0), (0.3, -0.25)] {
            let mut a = adc(8);
            a.cfg.noise_lsb = noise;
            a.cfg.offset_lsb = offset;
            let (mut got, mut want) = (xs.clone(), xs.clone());
            a.convert_with_lsb(0.37, &mut got, &mut stream(1, "t"));
            plain(&a, 0.37, &mut want, &mut stream(1, "t"));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "noise {noise}, offset {offset}");
            // The baseline compilation too, where the call above runs AVX2.
            let mut baseline = xs.clone();
            a.convert_with_lsb_body(0.37, &mut baseline, &mut stream(1, "t"));
            assert_eq!(
                bits(&baseline),
                bits(&want),
                "noise {noise}, offset {offset}, baseline"
            );
        }
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
    fn flash_and_explicit_energy_and_cycles() {
        let raw = RawAdc {
            kind: AdcKind::Flash,
            bits: 4,
            full_scale_ua: 100.0,
            backward_full_scale_ua: None,
            adcs_per_tile: 8,
            energy_pj: Some(2.5),
            walden_fom_fj: None,
            noise_lsb: 0.0,
            offset_lsb: 0.0,
            conversion_cycles: None,
            calibration_reads: 0,
            calibration_margin: 1.25,
            recalibrate_every: 0,
            ideal: false,
        };
        let both = RawAdc {
            walden_fom_fj: Some(100.0),
            ..raw.clone()
        };
        let e = Adc::validate(&Check::new("t"), both)
            .unwrap_err()
            .to_string();
        assert!(e.contains("walden_fom_fj") && e.contains("not both"), "{e}");
        let a = Adc::validate(&Check::new("t"), raw.clone()).unwrap();
        // Explicit energy; flash converts in one cycle.
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
    }

    #[test]
    fn accessors_return_the_configuration() {
        // Distinct values per field, so a swapped accessor fails.
        let raw = RawAdc {
            kind: AdcKind::Flash,
            bits: 6,
            full_scale_ua: 80.0,
            backward_full_scale_ua: Some(20.0),
            adcs_per_tile: 4,
            energy_pj: Some(2.5),
            walden_fom_fj: None,
            noise_lsb: 0.25,
            offset_lsb: -0.5,
            conversion_cycles: Some(3),
            calibration_reads: 16,
            calibration_margin: 2.0,
            recalibrate_every: 64,
            ideal: true,
        };
        let a = Adc::validate(&Check::new("t"), raw).unwrap();
        assert_eq!(
            (a.kind(), a.bits(), a.adcs_per_tile()),
            (AdcKind::Flash, 6, 4)
        );
        assert_eq!(
            (a.full_scale_ua(), a.backward_full_scale_ua()),
            (80.0, Some(20.0))
        );
        assert_eq!(
            (a.configured_energy_pj(), a.walden_fom_fj()),
            (Some(2.5), None)
        );
        assert_eq!((a.noise_lsb(), a.offset_lsb()), (0.25, -0.5));
        assert_eq!(a.configured_conversion_cycles(), Some(3));
        assert_eq!(
            (
                a.calibration_reads(),
                a.calibration_margin(),
                a.recalibrate_every()
            ),
            (16, 2.0, 64)
        );
        assert!(a.ideal());
    }

    #[test]
    fn configured_and_resolved_values_differ_when_defaulted() {
        // The two renamed accessors give the raw `None`; the methods that
        // own the field names give the resolved values (Walden 25.6 pJ,
        // SAR 8 + 1 cycles).
        let a = adc(8);
        assert_eq!(
            (a.configured_energy_pj(), a.configured_conversion_cycles()),
            (None, None)
        );
        assert!((a.energy_pj() - 25.6).abs() < 1e-12);
        assert_eq!(a.conversion_cycles(), 9);
        assert_eq!(a.backward_full_scale_ua(), None);
        assert_eq!(a.backward_lsb_ua(), a.lsb_ua());
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
        fn adc_clips_outside_range_any_bits(u in 1.0f32..100.0, bits in 1u32..14) {
            let a = adc(bits);
            let half = (1i64 << (bits - 1)) as f32;
            let mut y = [100.0 * u + a.lsb_ua(), -100.0 * u - a.lsb_ua()];
            a.convert(&mut y, &mut stream(1, "t"));
            prop_assert_eq!(y, [(half - 1.0) * a.lsb_ua(), -half * a.lsb_ua()]);
        }
    }
}
