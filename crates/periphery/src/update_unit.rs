//! Update-forming units (DESIGN.md §1.7): the block that turns a layer's
//! factors `x` (inputs) and `δ` (errors) into the requested conductance
//! changes `ΔG_ij = −η r_wg Σ_p x_pi δ_pj` that a write rule decides on.
//! The chip option `update_unit` picks one:
//!
//! * `digital-mac` — a digital multiplier array forms every `ΔG_ij` at
//!   full precision: `P` MACs per weight for a rank-`P` request, at
//!   `digital.mac_pj` each, `digital.macs_per_cycle` per cycle per tile;
//! * `low-precision` — `|x|` and `|δ|` are coded on a base-2 logarithmic
//!   scale of `code_bits` bits with unbiased stochastic rounding (one code
//!   per line, not per weight); the product of two codes is an add of
//!   exponents (`add_pj · code_bits / 8` per weight and term, a ripple add
//!   scaled from the 8-bit `add_pj`), and the rule decides on those
//!   products (EaPU compares them with its random threshold);
//! * `sparse-sampler` — for EaPU below threshold `p_ij = min(1, a_i b_j)`
//!   factorises, so the written cells are drawn row by row by geometric
//!   skipping with thinning; the work grows with the candidates drawn, not
//!   the cells (`aimsim_controller::sample_eapu_rank1`); rank-P requests
//!   and other rules fall back to the digital MAC array;
//! * `off-chip` — a host forms `ΔG`: the chip sends `x` and `δ` over a link
//!   and receives `ΔG` codes, `host_mac_pj` per MAC and `link_pj_per_byte`
//!   per byte; the chip's rule then decides.
//!
//! Each unit's parameters live in `chip.update_units.<unit>` with documented
//! defaults and sources (docs/energy-model.md, "Update-forming units").

use aimsim_core::config::Check;
use aimsim_core::Result;
use serde::{Deserialize, Serialize};

/// Which update-forming unit the chip has (`chip.update_unit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateUnitKind {
    /// Digital MAC array: P MACs per weight (the default).
    #[default]
    DigitalMac,
    /// Log-domain codes of |x| and |δ|, products by exponent adds.
    LowPrecision,
    /// EaPU's written cells drawn by geometric skipping with thinning.
    SparseSampler,
    /// A host forms ΔG; link traffic both ways.
    OffChip,
}

impl UpdateUnitKind {
    /// Every unit, in documentation order.
    pub const ALL: [UpdateUnitKind; 4] = [
        UpdateUnitKind::DigitalMac,
        UpdateUnitKind::LowPrecision,
        UpdateUnitKind::SparseSampler,
        UpdateUnitKind::OffChip,
    ];

    /// The name in chip files (`"digital-mac"`).
    pub fn name(self) -> &'static str {
        match self {
            UpdateUnitKind::DigitalMac => "digital-mac",
            UpdateUnitKind::LowPrecision => "low-precision",
            UpdateUnitKind::SparseSampler => "sparse-sampler",
            UpdateUnitKind::OffChip => "off-chip",
        }
    }
}

/// `chip.update_units.low_precision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLowPrecision {
    /// Bits of a log-magnitude code (default: 4, i.e. 15 powers of two below
    /// the line maximum and zero: the 4-bit logarithmic unbiased
    /// quantisation of neural gradients of Chmiel et al., "Accurate neural
    /// training with 4-bit matrix multiplications at standard formats",
    /// ICLR 2023; log codes replace multipliers by shifts and adds as in
    /// Miyashita, Lee & Murmann, arXiv:1603.01025, 2016).
    #[serde(default = "default_code_bits")]
    pub code_bits: u32,
    /// Exponent adders per tile, one product per adder per cycle (default:
    /// 128, as many lanes as the default MAC array it stands in for;
    /// assumed).
    #[serde(default = "default_lp_lanes")]
    pub lanes: u32,
}

fn default_code_bits() -> u32 {
    4
}

fn default_lp_lanes() -> u32 {
    128
}

impl Default for RawLowPrecision {
    fn default() -> Self {
        RawLowPrecision {
            code_bits: default_code_bits(),
            lanes: default_lp_lanes(),
        }
    }
}

/// `chip.update_units.sparse_sampler`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSparseSampler {
    /// Sampling lanes per tile, each drawing one candidate (a geometric
    /// skip and a thinning test) per cycle, rows dealt round-robin
    /// (default: 8; assumed, one per ADC of the default tile).
    #[serde(default = "default_sampler_lanes")]
    pub lanes: u32,
}

fn default_sampler_lanes() -> u32 {
    8
}

impl Default for RawSparseSampler {
    fn default() -> Self {
        RawSparseSampler {
            lanes: default_sampler_lanes(),
        }
    }
}

/// `chip.update_units.off_chip`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOffChip {
    /// One multiply-accumulate on the host, pJ (default: 41.0 =
    /// 2 × board power / peak FP32 rate of the A100 in `gpus/a100.gpu.json`,
    /// 2 × 400 W / 19.5 TFLOP/s: the host at its peak rate).
    #[serde(default = "default_host_mac_pj")]
    pub host_mac_pj: f64,
    /// One byte over the chip–host link, pJ (default: 109 = 8 bits ×
    /// `C·V²/4` with C = 5 pF of pad, package and board trace and
    /// V = 3.3 V, the 180 nm I/O supply; a random bit stream charges the
    /// line on a quarter of its bits; C assumed).
    #[serde(default = "default_link_pj")]
    pub link_pj_per_byte: f64,
    /// Bytes of one value of `x`, `δ` or `ΔG` on the link (default: 1, the
    /// 8-bit resolution of the chip's converters).
    #[serde(default = "default_bytes_per_value")]
    pub bytes_per_value: u32,
    /// Link bytes per chip clock cycle (default: 1, an 8-bit parallel bus
    /// at the chip clock; assumed).
    #[serde(default = "default_link_bytes_per_cycle")]
    pub link_bytes_per_cycle: u32,
}

fn default_host_mac_pj() -> f64 {
    2.0 * 400.0 / 19.5
}

fn default_link_pj() -> f64 {
    8.0 * 5e-12 * 3.3 * 3.3 / 4.0 * 1e12
}

fn default_bytes_per_value() -> u32 {
    1
}

fn default_link_bytes_per_cycle() -> u32 {
    1
}

impl Default for RawOffChip {
    fn default() -> Self {
        RawOffChip {
            host_mac_pj: default_host_mac_pj(),
            link_pj_per_byte: default_link_pj(),
            bytes_per_value: default_bytes_per_value(),
            link_bytes_per_cycle: default_link_bytes_per_cycle(),
        }
    }
}

/// `chip.update_units`: the parameters of every unit (only the chosen
/// unit's are used).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpdateUnits {
    /// `low-precision` parameters.
    #[serde(default)]
    pub low_precision: RawLowPrecision,
    /// `sparse-sampler` parameters.
    #[serde(default)]
    pub sparse_sampler: RawSparseSampler,
    /// `off-chip` parameters.
    #[serde(default)]
    pub off_chip: RawOffChip,
}

/// A validated update-forming unit: its kind and parameters.
#[derive(Clone, Debug)]
pub struct UpdateUnit {
    kind: UpdateUnitKind,
    cfg: RawUpdateUnits,
}

impl UpdateUnit {
    /// Validates the parameters of every unit; `c` names the section
    /// (`update_units`).
    pub fn validate(c: &Check, kind: UpdateUnitKind, raw: RawUpdateUnits) -> Result<UpdateUnit> {
        let lp = c.section("low_precision");
        lp.int_range("code_bits", raw.low_precision.code_bits.into(), 1, 5)?;
        lp.int_range("lanes", raw.low_precision.lanes.into(), 1, 1 << 20)?;
        c.section("sparse_sampler").int_range(
            "lanes",
            raw.sparse_sampler.lanes.into(),
            1,
            1 << 20,
        )?;
        let oc = c.section("off_chip");
        oc.non_negative("host_mac_pj", raw.off_chip.host_mac_pj)?;
        oc.non_negative("link_pj_per_byte", raw.off_chip.link_pj_per_byte)?;
        oc.int_range("bytes_per_value", raw.off_chip.bytes_per_value.into(), 1, 8)?;
        oc.int_range(
            "link_bytes_per_cycle",
            raw.off_chip.link_bytes_per_cycle.into(),
            1,
            1 << 20,
        )?;
        Ok(UpdateUnit { kind, cfg: raw })
    }

    /// The default unit (`digital-mac`) with default parameters.
    pub fn digital_mac() -> UpdateUnit {
        UpdateUnit {
            kind: UpdateUnitKind::DigitalMac,
            cfg: RawUpdateUnits::default(),
        }
    }

    /// Which unit.
    pub fn kind(&self) -> UpdateUnitKind {
        self.kind
    }

    /// Bits of a low-precision log code.
    pub fn code_bits(&self) -> u32 {
        self.cfg.low_precision.code_bits
    }

    /// Non-zero magnitude levels of a low-precision code: `2^bits − 1`
    /// powers of two (the last code is zero).
    pub fn code_levels(&self) -> u32 {
        (1u32 << self.code_bits()) - 1
    }

    /// Exponent adders of the low-precision unit per tile.
    pub fn low_precision_lanes(&self) -> u32 {
        self.cfg.low_precision.lanes
    }

    /// One exponent add of two low-precision codes, pJ: a ripple adder's
    /// energy scales with its width, so `add_pj` (an 8-bit add) ×
    /// `code_bits / 8`.
    pub fn code_add_pj(&self, add_pj: f64) -> f64 {
        add_pj * f64::from(self.code_bits()) / 8.0
    }

    /// Sampling lanes of the sparse sampler per tile.
    pub fn sampler_lanes(&self) -> u32 {
        self.cfg.sparse_sampler.lanes
    }

    /// One host MAC, pJ.
    pub fn host_mac_pj(&self) -> f64 {
        self.cfg.off_chip.host_mac_pj
    }

    /// One link byte, pJ.
    pub fn link_pj_per_byte(&self) -> f64 {
        self.cfg.off_chip.link_pj_per_byte
    }

    /// Bytes per value on the link.
    pub fn bytes_per_value(&self) -> u32 {
        self.cfg.off_chip.bytes_per_value
    }

    /// Link bytes per cycle.
    pub fn link_bytes_per_cycle(&self) -> u32 {
        self.cfg.off_chip.link_bytes_per_cycle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::config::{from_tree, parse_tree};

    #[test]
    fn defaults_follow_their_documented_formulas() {
        let u = UpdateUnit::digital_mac();
        assert_eq!(u.kind(), UpdateUnitKind::DigitalMac);
        assert_eq!((u.code_bits(), u.code_levels()), (4, 15));
        // 2 × 400 W / 19.5e12 FLOP/s = 41.03 pJ per MAC.
        assert!((u.host_mac_pj() - 41.0256).abs() < 1e-3);
        // 8 × 5 pF × 3.3² V² / 4 = 108.9 pJ per byte.
        assert!((u.link_pj_per_byte() - 108.9).abs() < 1e-9);
        assert!((u.code_add_pj(0.48) - 0.24).abs() < 1e-12);
    }

    #[test]
    fn kinds_parse_by_name_and_bad_values_name_the_field() {
        for k in UpdateUnitKind::ALL {
            let v: UpdateUnitKind =
                from_tree("t", parse_tree("t", &format!("\"{}\"", k.name())).unwrap()).unwrap();
            assert_eq!(v, k);
        }
        let c = Check::new("f.json").section("update_units");
        let mut raw = RawUpdateUnits::default();
        raw.low_precision.code_bits = 0;
        let e = UpdateUnit::validate(&c, UpdateUnitKind::LowPrecision, raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("update_units.low_precision.code_bits"), "{e}");
        let mut raw = RawUpdateUnits::default();
        raw.off_chip.link_pj_per_byte = -1.0;
        let e = UpdateUnit::validate(&c, UpdateUnitKind::OffChip, raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("update_units.off_chip.link_pj_per_byte"), "{e}");
    }
}
