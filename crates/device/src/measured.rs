//! Measured conductance files (`aimsim.measured/1`, `docs/measured-format.md`):
//! the raw serde form as a lab writes it, and the validated form in µS and
//! seconds that calibration reads.

use crate::{Polarity, Result};
use aimsim_core::config::{self, Check};
use serde::{Deserialize, Serialize};

/// The schema tag every measured file carries.
pub const MEASURED_SCHEMA: &str = "aimsim.measured/1";

/// A measured file as written on disk.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeasured {
    /// Must be `aimsim.measured/1`.
    pub schema: String,
    /// Free text: device, wafer, die, set-up (default: empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Units of the numbers in the file (default: µS, s, V).
    #[serde(default)]
    pub units: RawUnits,
    /// One entry per measured device (cell).
    pub devices: Vec<RawMeasuredDevice>,
}

/// The units named once in a measured file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnits {
    /// `S`, `mS`, `uS` (or `µS`) or `nS` (default: `uS`).
    #[serde(default = "default_g_unit")]
    pub conductance: String,
    /// `s`, `ms`, `us` (or `µs`) or `ns` (default: `s`).
    #[serde(default = "default_t_unit")]
    pub time: String,
    /// `V` or `mV` (default: `V`).
    #[serde(default = "default_v_unit")]
    pub voltage: String,
    /// `A`, `mA`, `uA` (or `µA`) or `nA` (default: `uA`); applies to the
    /// switching curves' `current`.
    #[serde(default = "default_i_unit", skip_serializing_if = "is_default_i_unit")]
    pub current: String,
}

fn default_i_unit() -> String {
    "uA".into()
}
fn is_default_i_unit(u: &str) -> bool {
    u == "uA"
}

fn default_g_unit() -> String {
    "uS".into()
}
fn default_t_unit() -> String {
    "s".into()
}
fn default_v_unit() -> String {
    "V".into()
}

impl Default for RawUnits {
    fn default() -> Self {
        RawUnits {
            conductance: default_g_unit(),
            time: default_t_unit(),
            voltage: default_v_unit(),
            current: default_i_unit(),
        }
    }
}

/// The measurements of one device.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeasuredDevice {
    /// Name of the device, e.g. its row and column (default: its index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Trains of identical pulses (default: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pulse_trains: Vec<RawTrain>,
    /// Repeated reads of an unchanged state (default: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<RawReads>,
    /// Conductance against time after a write (default: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relaxation: Vec<RawRelaxation>,
    /// Pulses (cycles) this device survived before failing (default: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycles_to_failure: Option<f64>,
    /// Switching-probability curves of a binary (STT-MRAM) junction
    /// (default: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub switching: Vec<RawSwitching>,
}

/// One switching-probability curve of a binary junction: at each point,
/// `trials` pulses of `current` for `width`, each on a junction in the
/// other state, of which `switched` switched (probability vs amplitude at
/// one width, or vs width at one amplitude, or any mix).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSwitching {
    /// Pulse current of each point, current unit.
    pub current: Vec<f64>,
    /// Pulse width of each point, time unit.
    pub width: Vec<f64>,
    /// Pulses applied at each point (≥ 1).
    pub trials: Vec<u64>,
    /// Pulses that switched the junction at each point (≤ trials).
    pub switched: Vec<u64>,
}

/// One validated switching measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwitchingPoint {
    /// Pulse current, µA.
    pub current_ua: f64,
    /// Pulse width, s.
    pub width_s: f64,
    /// Pulses applied.
    pub trials: u64,
    /// Pulses that switched.
    pub switched: u64,
}

/// One pulse train: the conductance before the first pulse, then after each.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    /// `set` or `reset`.
    pub polarity: Polarity,
    /// Pulse amplitude, voltage unit (default: not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplitude: Option<f64>,
    /// Pulse width, time unit (default: not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// Gate voltage, voltage unit (default: not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<f64>,
    /// Conductances; `null` marks a missing measurement.
    pub conductance: Vec<Option<f64>>,
}

/// Repeated reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReads {
    /// Conductances; `null` marks a missing measurement.
    pub conductance: Vec<Option<f64>>,
}

/// One relaxation series: the first point is the written value.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelaxation {
    /// Time since the write, time unit.
    pub time: Vec<f64>,
    /// Conductances; `null` marks a missing measurement.
    pub conductance: Vec<Option<f64>>,
}

/// A validated pulse train, µS.
#[derive(Clone, Debug, PartialEq)]
pub struct Train {
    /// Direction of the pulses.
    pub polarity: Polarity,
    /// Pulse conditions `(amplitude V, width s, gate V)` where given, for
    /// telling trains of different conditions apart.
    pub conditions: (Option<f64>, Option<f64>, Option<f64>),
    /// Conductances, µS (`None`: missing).
    pub g_us: Vec<Option<f64>>,
}

/// A validated relaxation series.
#[derive(Clone, Debug, PartialEq)]
pub struct Relaxation {
    /// Time since the write, s.
    pub t_s: Vec<f64>,
    /// Conductances, µS (`None`: missing).
    pub g_us: Vec<Option<f64>>,
}

/// The validated measurements of one device.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasuredDevice {
    /// Its name.
    pub id: String,
    /// Its pulse trains.
    pub trains: Vec<Train>,
    /// Its repeated-read series, µS.
    pub reads: Vec<Vec<Option<f64>>>,
    /// Its relaxation series.
    pub relaxation: Vec<Relaxation>,
    /// Cycles it survived.
    pub cycles_to_failure: Option<f64>,
    /// Its switching measurements (binary junctions).
    pub switching: Vec<SwitchingPoint>,
}

/// A validated measured file, all conductances in µS and times in s.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The file's description.
    pub description: String,
    /// Its devices.
    pub devices: Vec<MeasuredDevice>,
}

/// µS per unit of conductance.
fn g_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "S" => 1e6,
        "mS" => 1e3,
        "uS" | "µS" => 1.0,
        "nS" => 1e-3,
        _ => return None,
    })
}

/// Seconds per unit of time.
fn t_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        _ => return None,
    })
}

/// µA per unit of current.
fn i_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "A" => 1e6,
        "mA" => 1e3,
        "uA" | "µA" => 1.0,
        "nA" => 1e-3,
        _ => return None,
    })
}

/// Volts per unit of voltage.
fn v_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "V" => 1.0,
        "mV" => 1e-3,
        _ => return None,
    })
}

impl Measured {
    /// Parses and validates a measured file's JSON text, naming `file` and
    /// the field of anything malformed.
    pub fn from_json(file: &str, text: &str) -> Result<Self> {
        let tree = config::parse_tree(file, text)?;
        let raw: RawMeasured = config::from_tree(file, tree)?;
        Measured::validate(file, raw)
    }

    /// Validates a raw measured file: schema, units, matching lengths,
    /// finite values, at least one pulse train.
    pub fn validate(file: &str, raw: RawMeasured) -> Result<Self> {
        let c = Check::new(file);
        if raw.schema != MEASURED_SCHEMA {
            return Err(c
                .err(
                    "schema",
                    format!("expected \"{MEASURED_SCHEMA}\", got \"{}\"", raw.schema),
                )
                .into());
        }
        let gf = g_factor(&raw.units.conductance).ok_or_else(|| {
            c.err(
                "units.conductance",
                format!(
                    "expected S, mS, uS or nS, got \"{}\"",
                    raw.units.conductance
                ),
            )
        })?;
        let tf = t_factor(&raw.units.time).ok_or_else(|| {
            c.err(
                "units.time",
                format!("expected s, ms, us or ns, got \"{}\"", raw.units.time),
            )
        })?;
        let vf = v_factor(&raw.units.voltage).ok_or_else(|| {
            c.err(
                "units.voltage",
                format!("expected V or mV, got \"{}\"", raw.units.voltage),
            )
        })?;
        let i_f = i_factor(&raw.units.current).ok_or_else(|| {
            c.err(
                "units.current",
                format!("expected A, mA, uA or nA, got \"{}\"", raw.units.current),
            )
        })?;
        if raw.devices.is_empty() {
            return Err(c.err("devices", "expected at least one device").into());
        }
        let g_series = |field: String, v: &[Option<f64>]| -> Result<Vec<Option<f64>>> {
            v.iter()
                .enumerate()
                .map(|(i, x)| match x {
                    Some(g) if !g.is_finite() => Err(c
                        .err(&format!("{field}[{i}]"), "not a finite number")
                        .into()),
                    _ => Ok(x.map(|g| g * gf)),
                })
                .collect()
        };
        let mut devices = Vec::with_capacity(raw.devices.len());
        let mut trains_total = 0;
        for (d, rd) in raw.devices.into_iter().enumerate() {
            let at = format!("devices[{d}]");
            let mut trains = Vec::new();
            for (k, t) in rd.pulse_trains.iter().enumerate() {
                let tat = format!("{at}.pulse_trains[{k}]");
                for (name, v) in [
                    ("amplitude", t.amplitude),
                    ("width", t.width),
                    ("gate", t.gate),
                ] {
                    if let Some(x) = v {
                        if !x.is_finite() || (name == "width" && x <= 0.0) {
                            return Err(c
                                .err(
                                    &format!("{tat}.{name}"),
                                    "expected a finite value (> 0 for a width)",
                                )
                                .into());
                        }
                    }
                }
                trains.push(Train {
                    polarity: t.polarity,
                    conditions: (
                        t.amplitude.map(|x| x * vf),
                        t.width.map(|x| x * tf),
                        t.gate.map(|x| x * vf),
                    ),
                    g_us: g_series(format!("{tat}.conductance"), &t.conductance)?,
                });
            }
            trains_total += trains.len();
            let reads = rd
                .reads
                .iter()
                .enumerate()
                .map(|(k, r)| g_series(format!("{at}.reads[{k}].conductance"), &r.conductance))
                .collect::<Result<Vec<_>>>()?;
            let mut relaxation = Vec::new();
            for (k, r) in rd.relaxation.iter().enumerate() {
                let rat = format!("{at}.relaxation[{k}]");
                if r.time.len() != r.conductance.len() {
                    return Err(c
                        .err(
                            &format!("{rat}.conductance"),
                            format!(
                                "has {} values but time has {}",
                                r.conductance.len(),
                                r.time.len()
                            ),
                        )
                        .into());
                }
                for (i, &t) in r.time.iter().enumerate() {
                    if !t.is_finite() || t < 0.0 || (i > 0 && t < r.time[i - 1]) {
                        return Err(c
                            .err(
                                &format!("{rat}.time[{i}]"),
                                "expected finite, non-negative, non-decreasing times",
                            )
                            .into());
                    }
                }
                relaxation.push(Relaxation {
                    t_s: r.time.iter().map(|t| t * tf).collect(),
                    g_us: g_series(format!("{rat}.conductance"), &r.conductance)?,
                });
            }
            if let Some(n) = rd.cycles_to_failure {
                c.positive(&format!("{at}.cycles_to_failure"), n)?;
            }
            let mut switching = Vec::new();
            for (k, sw) in rd.switching.iter().enumerate() {
                let sat = format!("{at}.switching[{k}]");
                let n = sw.current.len();
                for (name, len) in [
                    ("width", sw.width.len()),
                    ("trials", sw.trials.len()),
                    ("switched", sw.switched.len()),
                ] {
                    if len != n {
                        return Err(c
                            .err(
                                &format!("{sat}.{name}"),
                                format!("has {len} values but current has {n}"),
                            )
                            .into());
                    }
                }
                for i in 0..n {
                    let (cur, w) = (sw.current[i], sw.width[i]);
                    let (t, sd) = (sw.trials[i], sw.switched[i]);
                    if !cur.is_finite() || cur < 0.0 {
                        return Err(c
                            .err(
                                &format!("{sat}.current[{i}]"),
                                "expected a finite current ≥ 0",
                            )
                            .into());
                    }
                    if !w.is_finite() || w <= 0.0 {
                        return Err(c
                            .err(&format!("{sat}.width[{i}]"), "expected a finite width > 0")
                            .into());
                    }
                    if t == 0 {
                        return Err(c
                            .err(&format!("{sat}.trials[{i}]"), "expected at least one trial")
                            .into());
                    }
                    if sd > t {
                        return Err(c
                            .err(
                                &format!("{sat}.switched[{i}]"),
                                format!("{sd} switched of {t} trials: expected at most the trials"),
                            )
                            .into());
                    }
                    switching.push(SwitchingPoint {
                        current_ua: cur * i_f,
                        width_s: w * tf,
                        trials: t,
                        switched: sd,
                    });
                }
            }
            trains_total += usize::from(!switching.is_empty());
            devices.push(MeasuredDevice {
                id: rd.id.unwrap_or_else(|| format!("#{d}")),
                trains,
                reads,
                relaxation,
                cycles_to_failure: rd.cycles_to_failure,
                switching,
            });
        }
        if trains_total == 0 {
            return Err(c
                .err(
                    "devices",
                    "expected at least one pulse train (devices[].pulse_trains) or switching curve (devices[].switching)",
                )
                .into());
        }
        Ok(Measured {
            description: raw.description,
            devices,
        })
    }

    /// Whether the file holds switching curves of binary junctions (it is
    /// then calibrated to an STT-MRAM model, [`crate::calibrate_mram`]).
    pub fn has_switching(&self) -> bool {
        self.devices.iter().any(|d| !d.switching.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
      "schema": "aimsim.measured/1",
      "description": "HfOx 1T1R, 180 nm, wafer 3 die 12",
      "units": { "conductance": "mS", "time": "ms", "voltage": "V" },
      "devices": [
        {
          "id": "r12c7",
          "pulse_trains": [
            { "polarity": "set", "amplitude": 1.6, "width": 5e-5, "gate": 1.2,
              "conductance": [0.0101, 0.0119, null, 0.0148] },
            { "polarity": "reset", "conductance": [0.0148, 0.0130, 0.0117, 0.0109] }
          ],
          "reads": [ { "conductance": [0.01201, 0.01197, 0.01205] } ],
          "relaxation": [ { "time": [0.0, 1.0, 1000.0], "conductance": [0.0120, 0.0118, 0.0116] } ],
          "cycles_to_failure": 1.2e6
        }
      ]
    }"#;

    #[test]
    fn example_converts_units() {
        let m = Measured::from_json("m.json", EXAMPLE).unwrap();
        let d = &m.devices[0];
        assert_eq!(d.id, "r12c7");
        assert!((d.trains[0].g_us[0].unwrap() - 10.1).abs() < 1e-9);
        assert_eq!(d.trains[0].g_us[2], None);
        assert!((d.trains[0].conditions.1.unwrap() - 5e-8).abs() < 1e-20);
        assert_eq!(d.trains[1].polarity, Polarity::Reset);
        assert!((d.relaxation[0].t_s[2] - 1.0).abs() < 1e-12);
        assert!((d.reads[0][1].unwrap() - 11.97).abs() < 1e-9);
    }

    #[test]
    fn malformed_files_name_the_field() {
        let cases = [
            (EXAMPLE.replace("\"mS\"", "\"kS\""), "units.conductance"),
            (
                EXAMPLE.replace("\"set\"", "\"up\""),
                "devices[0].pulse_trains[0].polarity",
            ),
            (
                EXAMPLE.replace("[0.0, 1.0, 1000.0]", "[0.0, 1.0]"),
                "devices[0].relaxation[0].conductance",
            ),
            (
                EXAMPLE.replace("[0.0, 1.0, 1000.0]", "[0.0, -1.0, 1000.0]"),
                "devices[0].relaxation[0].time[1]",
            ),
            (
                EXAMPLE.replace("1.2e6", "-3"),
                "devices[0].cycles_to_failure",
            ),
            (
                EXAMPLE.replace("0.0130", "\"x\""),
                "devices[0].pulse_trains[1].conductance[1]",
            ),
            (EXAMPLE.replace("\"gate\"", "\"gait\""), "gait"),
            (EXAMPLE.replace("aimsim.measured/1", "v2"), "schema"),
        ];
        for (text, field) in cases {
            let e = Measured::from_json("m.json", &text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("m.json") && e.contains(field), "{field}: {e}");
        }
        let none =
            r#"{"schema":"aimsim.measured/1","devices":[{"reads":[{"conductance":[1,2]}]}]}"#;
        let e = Measured::from_json("m.json", none).unwrap_err().to_string();
        assert!(e.contains("pulse train"), "{e}");
    }

    /// The example in `docs/measured-format.md` parses, and calibrating it
    /// (six points) gives a device and a report, not an error.
    #[test]
    fn documented_example_parses_and_calibrates() {
        let doc = include_str!("../../../docs/measured-format.md");
        let start = doc.find("```json").expect("a json block") + "```json".len();
        let end = start + doc[start..].find("```").expect("closed block");
        let m = Measured::from_json("measured-format.md", &doc[start..end]).unwrap();
        assert_eq!(m.devices[0].trains[0].g_us[3], None);
        let c = crate::calibrate(&m, &Default::default()).unwrap();
        assert!(c.report.render().contains("not fitted"));
    }
}
