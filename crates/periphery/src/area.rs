//! Silicon area of a tile at 180 nm, by component (docs/energy-model.md,
//! "Area").
//!
//! Areas are counted in F² (F = the feature size) and converted to mm² at
//! the end. The 1T1R cell is NeuroSim's: 4 F × 12 F = 48 F² (DNN+NeuroSim
//! V2.1 `Param.cpp`, `heightInFeatureSize1T1R = 4`,
//! `widthInFeatureSize1T1R = 12`). Periphery is counted in transistors,
//! each occupying what one transistor of NeuroSim's 6T SRAM cell occupies:
//! 10 F × 28 F / 6 ≈ 46.7 F² (same file, `heightInFeatureSizeSRAM = 10`,
//! `widthInFeatureSizeSRAM = 28`). The transistor counts per block are
//! assumptions of aimsim, stated beside each constant. An update-forming
//! unit other than the digital MAC array (`chip.update_unit`) adds its own
//! transistors as the component `update_unit` ([`update_unit_transistors`]);
//! the MAC array stays, since rank-P requests, other rules and the rest of
//! the digital periphery still use it.

use crate::update_unit::{UpdateUnit, UpdateUnitKind};
use std::collections::BTreeMap;

/// Feature size of the chip, nm.
pub const FEATURE_NM: f64 = 180.0;
/// One 1T1R cell, F² (NeuroSim).
pub const CELL_F2: f64 = 4.0 * 12.0;
/// One FeFET cell of a pseudo-crossbar (the FeFET and its write-access
/// transistor side by side), F²: assumed 2 × 15 F². Dutta et al.,
/// "Monolithic 3D integration of high endurance multi-bit ferroelectric
/// FET for accelerating compute-in-memory", IEDM 2020, give 15 F² for a
/// 1T-1FeFET cell whose minimum-size access transistor lies under a BEOL
/// FeFET; a front-end (Si) FeFET cannot stack on its access transistor,
/// so its cell takes two minimum transistor footprints.
pub const FEFET_CELL_F2: f64 = 2.0 * 15.0;
/// One 1T1MTJ STT-MRAM cell, F²: NVSim's sample STT-RAM cell
/// (`sample_STTRAM.cell`, `CellArea (F^2): 57.5`, a 8.5 F wide access
/// transistor for a 40.8 µA write; Dong et al., IEEE TCAD 31, 994 (2012)).
/// Within the 30–60 F² Dutta et al. (IEDM 2020) give for 1T1R and
/// 1T1MRAM cells; a lower bound here, where bp's writes draw ~2 I_c0.
pub const MRAM_CELL_F2: f64 = 57.5;
/// One transistor with its share of wiring, F² (NeuroSim's 6T SRAM cell / 6).
pub const TRANSISTOR_F2: f64 = 10.0 * 28.0 / 6.0;
/// Transistors of a full adder (mirror adder, 28T).
const FULL_ADDER_T: f64 = 28.0;
/// Transistors of a D flip-flop (transmission-gate master-slave, 24T).
const FLIP_FLOP_T: f64 = 24.0;
/// Transistors per column integrator: a 5T OTA, its feedback capacitor
/// counted as 3 transistor footprints, reset and sample switches (2).
const SENSE_T: f64 = 10.0;
/// Transistors per line driver: a level shifter (6T) and SET/RESET drive
/// and pass transistors (6).
const DRIVER_T: f64 = 12.0;
/// SAR comparator (preamplifier and latch).
const COMPARATOR_T: f64 = 20.0;

/// What the area of one tile depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TileGeometry {
    /// Word lines (rows) of the tile.
    pub rows: usize,
    /// Bit lines (cell columns) of the tile.
    pub cols: usize,
    /// Cells of the tile (two per weight for a differential pair; `2N`
    /// junctions per weight for groups of `N` binary MRAM junctions).
    pub cells: usize,
    /// Area of one cell, F² ([`CELL_F2`], [`FEFET_CELL_F2`],
    /// [`MRAM_CELL_F2`]).
    pub cell_f2: f64,
    /// DAC resolution, bits.
    pub dac_bits: u32,
    /// ADC resolution, bits.
    pub adc_bits: u32,
    /// ADCs of the tile.
    pub adcs: u32,
    /// Digital MAC units of the tile (`digital.macs_per_cycle`).
    pub mac_units: u32,
    /// Random bits per update decision (one LFSR of this length per MAC
    /// unit).
    pub random_bits: u32,
    /// Transistors of the tile's update-forming unit beside the MAC array
    /// ([`update_unit_transistors`]; 0 for `digital-mac`).
    pub update_unit_transistors: f64,
}

/// Transistors of one tile's update-forming unit, beside the digital MAC
/// array that the `digital` component counts (0 for `digital-mac`, whose
/// unit *is* that array, and for `off-chip`, whose unit is the host). For
/// a tile of `weight_rows × weight_cols` weights:
///
/// * `low-precision`, `b = code_bits`: per lane a b-bit exponent adder
///   (b full adders), a 12T sign XOR and a (b+1)-bit code register; per
///   line (rows and weight columns) an 8-bit leading-one detector (48 T),
///   an 8-bit comparator for the stochastic rounding (8 full adders) and a
///   (b+1)-bit code register;
/// * `sparse-sampler`: per lane a 256 × 8-bit logarithm ROM (one
///   transistor per bit), an 8×8 array multiplier (64 full adders), an
///   8-bit index adder and an 8-bit comparator (8 full adders each), two
///   16-bit LFSRs (for the skip and the thinning draws) and 16 flip-flops
///   of row state; per weight column an 8-bit register of `|δ_j|/max|δ|`.
///
/// The counts are aimsim's assumptions, priced with the same transistor
/// footprint as the rest of the periphery.
pub fn update_unit_transistors(unit: &UpdateUnit, weight_rows: usize, weight_cols: usize) -> f64 {
    let lfsr16 = 16.0 * FLIP_FLOP_T + 3.0 * 12.0;
    match unit.kind() {
        UpdateUnitKind::DigitalMac | UpdateUnitKind::OffChip => 0.0,
        UpdateUnitKind::LowPrecision => {
            let b = f64::from(unit.code_bits());
            let code_reg = (b + 1.0) * FLIP_FLOP_T;
            let lane = b * FULL_ADDER_T + 12.0 + code_reg;
            let line = 48.0 + 8.0 * FULL_ADDER_T + code_reg;
            f64::from(unit.low_precision_lanes()) * lane + (weight_rows + weight_cols) as f64 * line
        }
        UpdateUnitKind::SparseSampler => {
            let lane = 256.0 * 8.0
                + 64.0 * FULL_ADDER_T
                + 2.0 * 8.0 * FULL_ADDER_T
                + 2.0 * lfsr16
                + 16.0 * FLIP_FLOP_T;
            f64::from(unit.sampler_lanes()) * lane + weight_cols as f64 * 8.0 * FLIP_FLOP_T
        }
    }
}

/// Transistors of each periphery block of one tile.
fn transistors(g: &TileGeometry) -> [(&'static str, f64); 5] {
    // R-2R DAC per row: b switch pairs and 2b resistors, each one footprint.
    let dac = g.rows as f64 * 4.0 * f64::from(g.dac_bits);
    // SAR ADC: 2^b unit capacitors of the binary-weighted DAC (one footprint
    // each), per bit a flip-flop and a 6T switch driver, a comparator.
    let adc_one =
        2f64.powi(g.adc_bits as i32) + f64::from(g.adc_bits) * (FLIP_FLOP_T + 6.0) + COMPARATOR_T;
    let adc = f64::from(g.adcs) * adc_one;
    let sense = g.cols as f64 * SENSE_T;
    let driver = (g.rows + g.cols) as f64 * DRIVER_T;
    // An 8-bit MAC (mac_pj is an 8-bit multiply, docs/energy-model.md): an
    // 8×8 array multiplier of 64 full adders and a 24-bit accumulator
    // (adder and register); one LFSR of `random_bits` flip-flops and three
    // 12T XORs per unit.
    let mac = 64.0 * FULL_ADDER_T + 24.0 * (FULL_ADDER_T + FLIP_FLOP_T);
    let lfsr = f64::from(g.random_bits) * FLIP_FLOP_T + 3.0 * 12.0;
    let digital = f64::from(g.mac_units) * (mac + lfsr);
    [
        ("dac", dac),
        ("adc", adc),
        ("sense", sense),
        ("driver", driver),
        ("digital", digital),
    ]
}

/// Area of `tiles` tiles of geometry `g` by component (`array`, `dac`,
/// `adc`, `sense`, `driver`, `digital`, and `update_unit` when the tile has
/// one beside its MAC array), mm².
pub fn tile_area_mm2(g: &TileGeometry, tiles: usize) -> BTreeMap<String, f64> {
    let f2_mm2 = (FEATURE_NM * 1e-6).powi(2);
    let n = tiles as f64;
    let mut out = BTreeMap::new();
    out.insert("array".to_string(), n * g.cells as f64 * g.cell_f2 * f2_mm2);
    for (name, t) in transistors(g) {
        out.insert(name.to_string(), n * t * TRANSISTOR_F2 * f2_mm2);
    }
    if g.update_unit_transistors > 0.0 {
        out.insert(
            "update_unit".to_string(),
            n * g.update_unit_transistors * TRANSISTOR_F2 * f2_mm2,
        );
    }
    out
}

/// Bits of one HGE tone's numerically controlled oscillator: its frequency
/// word and its phase accumulator, 16 bits each (a 16-bit phase resolves
/// 2π/65,536, far below the 8-bit sine table's step).
const NCO_BITS_PER_TONE: f64 = 2.0 * 16.0;
/// Bits of one tone's two lock-in accumulators (X and Y), 24 bits each, the
/// width of the MAC units' accumulators (`transistors` above).
const LOCKIN_ACC_BITS_PER_TONE: f64 = 2.0 * 24.0;
/// Transistors per stored bit of tone state: a 6T SRAM cell (the state is
/// read and written once per sample, one tone after another, by the MAC
/// pipeline that does the mixing, so no per-tone adder is needed).
const SRAM_BIT_T: f64 = 6.0;
/// The shared quarter-wave sine table: 256 entries of 8 bits in a ROM of
/// one transistor per bit, plus its 8-to-256 decoder (≈ 2 transistors per
/// word line).
const SINE_ROM_T: f64 = 256.0 * 8.0 + 256.0 * 2.0;

/// Area of homodyne gradient extraction's lock-in for `tones` tones, mm²:
/// per tone the NCO's frequency word and phase accumulator and the X / Y
/// accumulators held in SRAM, plus one shared sine table. The mixing,
/// magnitude and square-root arithmetic runs on the tiles' MAC units
/// (already counted as `digital`), so only the tone state is new silicon.
/// Assumptions of aimsim, as for the blocks above (docs/energy-model.md,
/// "Area").
pub fn lockin_area_mm2(tones: usize) -> f64 {
    let f2_mm2 = (FEATURE_NM * 1e-6).powi(2);
    let per_tone = (NCO_BITS_PER_TONE + LOCKIN_ACC_BITS_PER_TONE) * SRAM_BIT_T;
    let t = tones as f64 * per_tone + if tones > 0 { SINE_ROM_T } else { 0.0 };
    t * TRANSISTOR_F2 * f2_mm2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default tile (128 × 128 cells: 128 × 64 weights as differential
    /// pairs; 8-bit DAC and ADC, 8 ADCs, 128 MAC units, 16 random bits), by
    /// hand with F² = 0.0324 µm² and T = 280/6 F²:
    /// - array: 16,384 × 48 × 0.0324 µm² = 0.025480 mm²;
    /// - dac: 128 × 32 T = 4,096 T → 4,096 × 46.667 × 0.0324 µm² = 0.0061932 mm²;
    /// - adc: 8 × (256 + 240 + 20) = 4,128 T → 0.0062416 mm²;
    /// - digital: 128 × (1,792 + 1,248 + 420) = 442,880 T → 0.66963 mm².
    #[test]
    fn default_tile_by_hand() {
        let g = TileGeometry {
            rows: 128,
            cols: 128,
            cells: 16_384,
            cell_f2: CELL_F2,
            dac_bits: 8,
            adc_bits: 8,
            adcs: 8,
            mac_units: 128,
            random_bits: 16,
            update_unit_transistors: 0.0,
        };
        let a = tile_area_mm2(&g, 1);
        assert!(!a.contains_key("update_unit"));
        let close = |k: &str, want: f64| {
            assert!((a[k] - want).abs() < 1e-6 * want, "{k}: {} vs {want}", a[k]);
        };
        close("array", 16_384.0 * 48.0 * 0.0324e-6);
        close("dac", 4096.0 * 280.0 / 6.0 * 0.0324e-6);
        close("adc", 4128.0 * 280.0 / 6.0 * 0.0324e-6);
        close("sense", 1280.0 * 280.0 / 6.0 * 0.0324e-6);
        close("driver", 3072.0 * 280.0 / 6.0 * 0.0324e-6);
        close("digital", 442_880.0 * 280.0 / 6.0 * 0.0324e-6);
        let two = tile_area_mm2(&g, 2);
        assert!((two["digital"] - 2.0 * a["digital"]).abs() < 1e-12);
        // Only the array depends on the cell technology.
        let mram = tile_area_mm2(
            &TileGeometry {
                cells: 16 * 8192,
                cell_f2: MRAM_CELL_F2,
                ..g
            },
            1,
        );
        close_to(mram["array"], 131_072.0 * 57.5 * 0.0324e-6);
        assert_eq!(mram["digital"], a["digital"]);
    }

    fn close_to(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-6 * want, "{got} vs {want}");
    }

    /// The units' transistor counts by hand for the default tile (128 × 64
    /// weights): low-precision (4-bit codes, 128 lanes): lane 4·28 + 12 +
    /// 5·24 = 244, line 48 + 224 + 120 = 392 → 128·244 + 192·392 = 106,496;
    /// sparse-sampler (8 lanes): lane 2,048 + 1,792 + 448 + 2·420 + 384 =
    /// 5,512, column 192 → 8·5,512 + 64·192 = 56,384; none for the others.
    /// The component joins the map and the parts still add up.
    #[test]
    fn update_units_by_hand() {
        let mut raw = crate::RawUpdateUnits::default();
        let c = aimsim_core::config::Check::new("t");
        let unit =
            |k, raw: &crate::RawUpdateUnits| UpdateUnit::validate(&c, k, raw.clone()).unwrap();
        let lp = unit(UpdateUnitKind::LowPrecision, &raw);
        assert_eq!(update_unit_transistors(&lp, 128, 64), 106_496.0);
        let ss = unit(UpdateUnitKind::SparseSampler, &raw);
        assert_eq!(update_unit_transistors(&ss, 128, 64), 56_384.0);
        for k in [UpdateUnitKind::DigitalMac, UpdateUnitKind::OffChip] {
            assert_eq!(update_unit_transistors(&unit(k, &raw), 128, 64), 0.0);
        }
        raw.sparse_sampler.lanes = 16;
        let ss16 = unit(UpdateUnitKind::SparseSampler, &raw);
        assert_eq!(
            update_unit_transistors(&ss16, 128, 64),
            56_384.0 + 8.0 * 5_512.0
        );
        let g = TileGeometry {
            rows: 128,
            cols: 128,
            cells: 16_384,
            dac_bits: 8,
            adc_bits: 8,
            adcs: 8,
            mac_units: 128,
            random_bits: 16,
            cell_f2: CELL_F2,
            update_unit_transistors: 56_384.0,
        };
        let a = tile_area_mm2(&g, 3);
        let want = 3.0 * 56_384.0 * 280.0 / 6.0 * 0.0324e-6;
        assert!((a["update_unit"] - want).abs() < 1e-9 * want);
        assert_eq!(a.len(), 7);
    }

    /// 138 tones (digits-mlp's neurons): 138 × 80 bits × 6 T + 2,560 T =
    /// 68,800 T → 68,800 × 46.667 × 0.0324 µm² = 0.10403 mm²; none, none.
    #[test]
    fn lockin_by_hand() {
        let want = 68_800.0 * 280.0 / 6.0 * 0.0324e-6;
        assert!((lockin_area_mm2(138) - want).abs() < 1e-9 * want);
        assert_eq!(lockin_area_mm2(0), 0.0);
    }
}
