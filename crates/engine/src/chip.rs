//! Chip files (`aimsim.chip/1`): the raw serde form and the validated chip.

use crate::sim::Schedule;
use aimsim_controller::{build_rule, check_rule, RawRule, UpdateRule};
use aimsim_core::config::{self, Check};
use aimsim_core::{Clock, Result};
use aimsim_device::DeviceModel;
use aimsim_periphery::{
    Adc, Dac, Digital, Driver, RawAdc, RawDac, RawDigital, RawDriver, RawSense, RawUpdateUnits,
    Sense, UpdateUnit, UpdateUnitKind,
};
use serde::{Deserialize, Serialize};

/// The schema tag every chip file carries.
pub const CHIP_SCHEMA: &str = "aimsim.chip/1";

/// The built-in chip files, embedded from `devices/` (name, JSON text).
pub const BUILTIN_CHIPS: &[(&str, &str)] = &[
    (
        "eapu-180nm",
        include_str!("../../../devices/eapu-180nm.chip.json"),
    ),
    (
        "eapu-180nm-lowres",
        include_str!("../../../devices/eapu-180nm-lowres.chip.json"),
    ),
    (
        "fefet-hzo",
        include_str!("../../../devices/fefet-hzo.chip.json"),
    ),
    (
        "stt-mram-pmtj",
        include_str!("../../../devices/stt-mram-pmtj.chip.json"),
    ),
];

/// Crossbar array geometry (`chip.array`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArray {
    /// Cell rows of one tile (weight rows: one per input).
    pub rows: u32,
    /// Cell columns of one tile (two per weight: G⁺ and G⁻).
    pub cols: u32,
}

/// Engine settings of a chip (`chip.engine`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    /// `sequential` or `pipelined` (default: `sequential`).
    #[serde(default = "default_schedule")]
    pub schedule: Schedule,
    /// Chip-wide write-current budget: most cells pulsed at once over all
    /// tiles (default: none, only each driver's `max_parallel`).
    #[serde(default)]
    pub write_budget_cells: Option<u32>,
}

fn default_schedule() -> Schedule {
    Schedule::Sequential
}

impl Default for RawEngine {
    fn default() -> Self {
        RawEngine {
            schedule: default_schedule(),
            write_budget_cells: None,
        }
    }
}

/// A chip file as written on disk. Fields documented in `docs/user-guide.md`
/// and their values' sources in `docs/energy-model.md`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChip {
    /// Must be `aimsim.chip/1`.
    pub schema: String,
    /// Short name (shown in reports).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Name of the built-in device this chip uses unless `--device` is given.
    pub device: String,
    /// Chip clock, Hz.
    pub clock_hz: f64,
    /// Array geometry.
    pub array: RawArray,
    /// Leakage and idle-bias power of the whole chip, mW.
    pub static_power_mw: f64,
    /// Input DACs.
    pub dac: RawDac,
    /// Output ADCs.
    pub adc: RawAdc,
    /// Sense integrators.
    pub sense: RawSense,
    /// Pulse drivers.
    pub driver: RawDriver,
    /// Digital periphery.
    pub digital: RawDigital,
    /// The write scheduler and its parameters (default: `eapu`).
    #[serde(default)]
    pub rule: RawRule,
    /// Scheduling and shared resources (default: sequential, no chip-wide budget).
    #[serde(default)]
    pub engine: RawEngine,
    /// The update-forming unit: `digital-mac`, `low-precision`,
    /// `sparse-sampler` or `off-chip` (default: `digital-mac`; DESIGN.md
    /// §1.7, docs/energy-model.md "Update-forming units").
    #[serde(default)]
    pub update_unit: UpdateUnitKind,
    /// Parameters of the update-forming units (default: each unit's
    /// documented defaults).
    #[serde(default)]
    pub update_units: RawUpdateUnits,
}

/// A validated chip.
#[derive(Clone, Debug)]
pub struct Chip {
    /// Short name.
    pub name: String,
    /// Default device name.
    pub device: String,
    /// The chip clock.
    pub clock: Clock,
    /// Clock frequency, Hz.
    pub clock_hz: f64,
    /// Weight rows per tile.
    pub tile_rows: usize,
    /// Weight columns per tile (cell columns / 2).
    pub tile_cols: usize,
    /// Static power, W.
    pub static_power_w: f64,
    /// DAC.
    pub dac: Dac,
    /// ADC.
    pub adc: Adc,
    /// Sense integrator.
    pub sense: Sense,
    /// Pulse driver.
    pub driver: Driver,
    /// Digital periphery.
    pub digital: Digital,
    /// The rule's raw section (the rule is built per run).
    pub rule: RawRule,
    /// How stages are sequenced.
    pub schedule: Schedule,
    /// Chip-wide write-current budget in cells pulsed at once, if any.
    pub write_budget_cells: Option<u32>,
    /// The update-forming unit.
    pub update_unit: UpdateUnit,
    /// The file the chip came from.
    pub file: String,
}

impl Chip {
    /// Parses and validates a chip file's text with `(path, value)` overrides.
    pub fn from_json(file: &str, text: &str, overrides: &[(String, String)]) -> Result<Chip> {
        let mut tree = config::parse_tree(file, text)?;
        for (p, v) in overrides {
            config::apply_override(&mut tree, p, v)?;
        }
        let raw: RawChip = config::from_tree(file, tree)?;
        Chip::validate(file, raw)
    }

    /// A built-in chip by name.
    pub fn builtin(name: &str, overrides: &[(String, String)]) -> Result<Chip> {
        let (n, text) = BUILTIN_CHIPS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| aimsim_core::CoreError::Invalid {
                file: "--chip".into(),
                field: "name".into(),
                message: format!(
                    "unknown built-in chip `{name}`; built-in chips: {}",
                    BUILTIN_CHIPS
                        .iter()
                        .map(|c| c.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        Chip::from_json(&format!("<built-in chip {n}>"), text, overrides)
    }

    /// Validates a raw chip, naming `file` and the field of an impossible value.
    pub fn validate(file: &str, raw: RawChip) -> Result<Chip> {
        let c = Check::new(file);
        if raw.schema != CHIP_SCHEMA {
            return Err(c.err(
                "schema",
                format!("expected \"{CHIP_SCHEMA}\", got \"{}\"", raw.schema),
            ));
        }
        let clock = Clock::from_hz(raw.clock_hz).ok_or_else(|| {
            c.err(
                "clock_hz",
                format!("expected 1 Hz ..= 1 THz, got {}", config::num(raw.clock_hz)),
            )
        })?;
        let a = c.section("array");
        a.int_range("rows", raw.array.rows.into(), 1, 1 << 16)?;
        a.int_range("cols", raw.array.cols.into(), 2, 1 << 16)?;
        if !raw.array.cols.is_multiple_of(2) {
            return Err(a.err("cols", "must be even: each weight is a pair of cells"));
        }
        c.non_negative("static_power_mw", raw.static_power_mw)?;
        if let Some(b) = raw.engine.write_budget_cells {
            c.section("engine")
                .int_range("write_budget_cells", b.into(), 1, 1 << 30)?;
        }
        let chip = Chip {
            name: raw.name,
            device: raw.device,
            clock,
            clock_hz: raw.clock_hz,
            tile_rows: raw.array.rows as usize,
            tile_cols: raw.array.cols as usize / 2,
            static_power_w: raw.static_power_mw * 1e-3,
            dac: Dac::validate(&c.section("dac"), raw.dac)?,
            adc: Adc::validate(&c.section("adc"), raw.adc)?,
            sense: Sense::validate(&c.section("sense"), raw.sense)?,
            driver: Driver::validate(&c.section("driver"), raw.driver)?,
            digital: Digital::validate(&c.section("digital"), raw.digital)?,
            rule: raw.rule,
            schedule: raw.engine.schedule,
            write_budget_cells: raw.engine.write_budget_cells,
            update_unit: UpdateUnit::validate(
                &c.section("update_units"),
                raw.update_unit,
                raw.update_units,
            )?,
            file: file.to_string(),
        };
        check_rule(&c.section("rule"), &chip.rule)?;
        Ok(chip)
    }

    /// Builds the chip's update rule for `device` (device-derived defaults
    /// such as EaPU's ΔG_th = σ_w fill parameters the chip file leaves out).
    pub fn build_rule(&self, device: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
        if let Some(m) = &device.mram {
            // The junction's switching probability is computed at the
            // device file's pulse width: the driver must pulse that long.
            let want_ns = m.pulse_width_s * 1e9;
            let got = self.driver.pulse_width_ns();
            if (got - want_ns).abs() > 1e-6 * want_ns {
                return Err(Check::new(&self.file).section("driver").err(
                    "pulse_width_ns",
                    format!(
                        "the STT-MRAM device `{}` switches with probabilities computed at its \
                         pulse_width_s = {:e} s: expected {want_ns} ns, got {got}",
                        device.name, m.pulse_width_s
                    ),
                ));
            }
        }
        build_rule(&Check::new(&self.file).section("rule"), &self.rule, device)
    }

    /// Cycles from a tile read's start until its ADCs may convert: the DAC's
    /// read cycles (1, or `bits − 1` bit-serial) × (settle + integrate).
    pub fn read_cycles(&self) -> u64 {
        self.dac.read_cycles() * (self.dac.settle_cycles() + self.sense.integrate_cycles())
    }

    /// Cycles of one nominal write pulse.
    pub fn pulse_cycles(&self) -> u64 {
        self.clock.cycles_for(self.driver.pulse_width_ns() * 1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn over(p: &str, v: &str) -> Vec<(String, String)> {
        vec![(p.to_string(), v.to_string())]
    }

    #[test]
    fn default_chip_validates() {
        let c = Chip::builtin("eapu-180nm", &[]).unwrap();
        assert_eq!(c.tile_cols, 64);
        assert_eq!(c.pulse_cycles(), 5);
        assert_eq!(c.read_cycles(), 2);
        assert_eq!(c.update_unit.kind(), UpdateUnitKind::DigitalMac);
    }

    #[test]
    fn every_builtin_chip_validates_under_its_own_name() {
        for (name, _) in BUILTIN_CHIPS {
            let c = Chip::builtin(name, &[]).unwrap();
            assert_eq!(&c.name, name);
        }
        // 4-bit bit-serial DAC: 3 read cycles of settle 1 + integrate 1.
        let low = Chip::builtin("eapu-180nm-lowres", &[]).unwrap();
        assert_eq!(low.read_cycles(), 6);
        assert!((low.adc.energy_pj() - 1.6).abs() < 1e-12);
        assert_eq!(low.adc.batches(64), 32);
    }

    /// `--set` reaches every field: each leaf of each built-in chip file,
    /// set to its own value, and each optional field left out of the files,
    /// set to a valid value, parses and validates.
    #[test]
    fn set_reaches_every_field() {
        fn leaves(v: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        leaves(x, p, out);
                    }
                }
                _ => out.push((path, v.to_string())),
            }
        }
        for (name, text) in BUILTIN_CHIPS {
            let mut all = Vec::new();
            leaves(
                &serde_json::from_str(text).unwrap(),
                String::new(),
                &mut all,
            );
            assert!(all.len() > 35, "{name}: {} leaves", all.len());
            for (p, v) in all {
                Chip::builtin(name, &over(&p, &v)).unwrap_or_else(|e| panic!("{p}={v}: {e}"));
            }
        }
        for (p, v) in [
            ("dac.encoding", "\"bit-serial\""),
            ("dac.ideal", "true"),
            ("adc.energy_pj", "3.5"),
            ("adc.noise_lsb", "0.5"),
            ("adc.offset_lsb", "-1.5"),
            ("adc.conversion_cycles", "4"),
            ("adc.calibration_reads", "16"),
            ("adc.calibration_margin", "2"),
            ("adc.ideal", "true"),
            ("sense.noise_ua", "0.3"),
            ("digital.sram_read_pj", "10"),
            ("digital.sram_write_pj", "12"),
            ("update_unit", "\"sparse-sampler\""),
            ("update_unit", "off-chip"),
            ("update_units.low_precision.code_bits", "3"),
            ("update_units.low_precision.lanes", "64"),
            ("update_units.sparse_sampler.lanes", "4"),
            ("update_units.off_chip.host_mac_pj", "20"),
            ("update_units.off_chip.link_pj_per_byte", "50"),
            ("update_units.off_chip.bytes_per_value", "2"),
            ("update_units.off_chip.link_bytes_per_cycle", "4"),
        ] {
            let mut o = over(p, v);
            if p == "adc.energy_pj" {
                // The two ADC energies are exclusive: replacing one clears the other.
                o.push(("adc.walden_fom_fj".into(), "null".into()));
            }
            let c = Chip::builtin("eapu-180nm", &o).unwrap_or_else(|e| panic!("{p}: {e}"));
            let got = match p {
                "adc.energy_pj" => c.adc.energy_pj(),
                "adc.conversion_cycles" => c.adc.conversion_cycles() as f64,
                "digital.sram_read_pj" => c.digital.sram_read_pj(),
                _ => continue,
            };
            assert_eq!(got, v.parse::<f64>().unwrap(), "{p}");
        }
    }

    #[test]
    fn impossible_chips_name_the_field() {
        for (p, v, field) in [
            ("clock_hz", "0", "clock_hz"),
            ("adc.bits", "0", "adc.bits"),
            ("driver.pulse_width_ns", "-5", "driver.pulse_width_ns"),
            ("dac.energy_pj", "-1", "dac.energy_pj"),
            ("array.cols", "7", "array.cols"),
            ("rule.name", "\"magic\"", "rule.name"),
            ("adc.colour", "1", "adc"),
            ("dac.bits", "17", "dac.bits"),
            ("dac.encoding", "\"thermometer\"", "dac.encoding"),
            ("adc.offset_lsb", "1e9", "adc.offset_lsb"),
            ("adc.calibration_margin", "0.9", "adc.calibration_margin"),
            ("adc.recalibrate_every", "8", "adc.recalibrate_every"),
            ("adc.conversion_cycles", "0", "adc.conversion_cycles"),
            ("sense.noise_ua", "-0.1", "sense.noise_ua"),
            ("driver.set_gate_v", "0", "driver.set_gate_v"),
            ("digital.sram_write_pj", "-1", "digital.sram_write_pj"),
            ("static_power_mw", "-1", "static_power_mw"),
            ("update_unit", "magic", "update_unit"),
            (
                "update_units.sparse_sampler.lanes",
                "0",
                "update_units.sparse_sampler.lanes",
            ),
            ("update_units.off_chip.colour", "1", "update_units.off_chip"),
        ] {
            let e = Chip::builtin("eapu-180nm", &over(p, v))
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains(&format!("field `{field}")), "{p}: {e}");
        }
    }
}
