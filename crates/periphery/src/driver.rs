//! The pulse driver: SET/RESET amplitudes and gate voltages, pulse timing,
//! and the energy of the cells and lines it charges.

use aimsim_core::config::Check;
use aimsim_core::Result;
use serde::{Deserialize, Serialize};

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
    cfg: RawDriver,
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

/// The configuration, read-only: each accessor returns the [`RawDriver`] field
/// of its name, by value.
impl Driver {
    /// SET pulse amplitude, V.
    pub fn set_voltage_v(&self) -> f64 {
        self.cfg.set_voltage_v
    }

    /// RESET pulse amplitude (magnitude), V.
    pub fn reset_voltage_v(&self) -> f64 {
        self.cfg.reset_voltage_v
    }

    /// Configured gate voltage of a SET pulse, V (`None`: `set_voltage_v`;
    /// the resolved value is [`Driver::gate_v`]).
    pub fn set_gate_v(&self) -> Option<f64> {
        self.cfg.set_gate_v
    }

    /// Configured gate voltage of a RESET pulse, V (`None`: `reset_voltage_v`).
    pub fn reset_gate_v(&self) -> Option<f64> {
        self.cfg.reset_gate_v
    }

    /// Width of one nominal pulse, ns.
    pub fn pulse_width_ns(&self) -> f64 {
        self.cfg.pulse_width_ns
    }

    /// Capacitance of one word/bit line, fF.
    pub fn line_capacitance_ff(&self) -> f64 {
        self.cfg.line_capacitance_ff
    }

    /// Fixed energy of one pulse phase, pJ.
    pub fn overhead_pj(&self) -> f64 {
        self.cfg.overhead_pj
    }

    /// Cycles to set up a phase.
    pub fn setup_cycles(&self) -> u64 {
        self.cfg.setup_cycles
    }

    /// Most cells one phase may pulse at once.
    pub fn max_parallel(&self) -> u32 {
        self.cfg.max_parallel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn impossible_values_name_the_field() {
        let mut raw = driver(None).cfg;
        raw.reset_gate_v = Some(-1.0);
        let e = Driver::validate(&Check::new("f.json").section("driver"), raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("driver.reset_gate_v"), "{e}");
    }

    #[test]
    fn accessors_return_the_configuration() {
        // Distinct values per field, so a swapped accessor fails.
        let raw = RawDriver {
            set_voltage_v: 1.6,
            reset_voltage_v: 1.4,
            set_gate_v: Some(1.2),
            reset_gate_v: None,
            pulse_width_ns: 50.0,
            line_capacitance_ff: 200.0,
            overhead_pj: 1.5,
            setup_cycles: 2,
            max_parallel: 32,
        };
        let d = Driver::validate(&Check::new("t"), raw).unwrap();
        assert_eq!((d.set_voltage_v(), d.reset_voltage_v()), (1.6, 1.4));
        assert_eq!((d.set_gate_v(), d.reset_gate_v()), (Some(1.2), None));
        // The raw `None` resolves to the pulse amplitude in `gate_v`.
        assert_eq!((d.gate_v(true), d.gate_v(false)), (1.2, 1.4));
        assert_eq!((d.pulse_width_ns(), d.line_capacitance_ff()), (50.0, 200.0));
        assert_eq!(d.overhead_pj(), 1.5);
        assert_eq!((d.setup_cycles(), d.max_parallel()), (2, 32));
    }
}
