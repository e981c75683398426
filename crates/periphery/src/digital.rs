//! The digital periphery: energy per operation and gradient-unit
//! throughput.

use aimsim_core::config::Check;
use aimsim_core::Result;
use serde::{Deserialize, Serialize};

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
    cfg: RawDigital,
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

/// The configuration, read-only: each accessor returns the [`RawDigital`] field
/// of its name, by value.
impl Digital {
    /// One multiply-accumulate, pJ.
    pub fn mac_pj(&self) -> f64 {
        self.cfg.mac_pj
    }

    /// One add or compare, pJ.
    pub fn add_pj(&self) -> f64 {
        self.cfg.add_pj
    }

    /// One activation (and its derivative) by look-up, pJ.
    pub fn activation_pj(&self) -> f64 {
        self.cfg.activation_pj
    }

    /// One random bit, pJ.
    pub fn random_bit_pj(&self) -> f64 {
        self.cfg.random_bit_pj
    }

    /// Random bits one stochastic decision consumes.
    pub fn random_bits_per_decision(&self) -> u32 {
        self.cfg.random_bits_per_decision
    }

    /// Multiply-accumulates the gradient unit of one tile does per cycle.
    pub fn macs_per_cycle(&self) -> u32 {
        self.cfg.macs_per_cycle
    }

    /// One 32-bit word read from periphery SRAM, pJ.
    pub fn sram_read_pj(&self) -> f64 {
        self.cfg.sram_read_pj
    }

    /// One 32-bit word written to periphery SRAM, pJ.
    pub fn sram_write_pj(&self) -> f64 {
        self.cfg.sram_write_pj
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::config::{from_tree, parse_tree};
    use proptest::prelude::*;

    fn raw() -> RawDigital {
        RawDigital {
            mac_pj: 3.2,
            add_pj: 0.48,
            activation_pj: 1.6,
            random_bit_pj: 0.06,
            random_bits_per_decision: 16,
            macs_per_cycle: 128,
            sram_read_pj: 10.0,
            sram_write_pj: 12.0,
        }
    }

    #[test]
    fn accessors_return_the_configuration() {
        let d = Digital::validate(&Check::new("t"), raw()).unwrap();
        assert_eq!((d.mac_pj(), d.add_pj()), (3.2, 0.48));
        assert_eq!((d.activation_pj(), d.random_bit_pj()), (1.6, 0.06));
        assert_eq!(
            (d.random_bits_per_decision(), d.macs_per_cycle()),
            (16, 128)
        );
        assert_eq!((d.sram_read_pj(), d.sram_write_pj()), (10.0, 12.0));
    }

    #[test]
    fn sram_energies_default_to_160_pj() {
        let text = r#"{"mac_pj": 3.2, "add_pj": 0.48, "activation_pj": 1.6,
            "random_bit_pj": 0.06, "random_bits_per_decision": 16, "macs_per_cycle": 128}"#;
        let raw: RawDigital = from_tree("t", parse_tree("t", text).unwrap()).unwrap();
        let d = Digital::validate(&Check::new("t"), raw).unwrap();
        assert_eq!((d.sram_read_pj(), d.sram_write_pj()), (160.0, 160.0));
    }

    #[test]
    fn impossible_values_name_the_field() {
        let c = Check::new("f.json").section("digital");
        for (field, bad) in [
            (
                "digital.random_bits_per_decision",
                RawDigital {
                    random_bits_per_decision: 0,
                    ..raw()
                },
            ),
            (
                "digital.random_bits_per_decision",
                RawDigital {
                    random_bits_per_decision: 65,
                    ..raw()
                },
            ),
            (
                "digital.macs_per_cycle",
                RawDigital {
                    macs_per_cycle: 0,
                    ..raw()
                },
            ),
        ] {
            let e = Digital::validate(&c, bad).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    proptest! {
        #[test]
        fn negative_energies_are_rejected_by_name(which in 0usize..6, e in -1e6f64..-1e-9) {
            let mut r = raw();
            let (field, slot) = match which {
                0 => ("mac_pj", &mut r.mac_pj),
                1 => ("add_pj", &mut r.add_pj),
                2 => ("activation_pj", &mut r.activation_pj),
                3 => ("random_bit_pj", &mut r.random_bit_pj),
                4 => ("sram_read_pj", &mut r.sram_read_pj),
                _ => ("sram_write_pj", &mut r.sram_write_pj),
            };
            *slot = e;
            let err = Digital::validate(&Check::new("f.json").section("digital"), r)
                .unwrap_err()
                .to_string();
            prop_assert!(err.contains(&format!("digital.{field}")), "{err}");
        }
    }
}
