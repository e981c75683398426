//! [`RunSpec`]: what one run simulates, its builder, its canonical JSON
//! form and hash, and its resolution into a validated chip, device and
//! training options.

use crate::Result;
use aimsim_core::config::{self, Check};
use aimsim_core::CoreError;
use aimsim_device::{builtin_device, DeviceModel};
use aimsim_engine::Chip;
use aimsim_train::{RawTrain, Train};
use aimsim_workload::{builtin_network, Network, Workload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The training algorithms a spec may name (the registry of
/// `aimsim_train`).
pub const ALGORITHM_NAMES: &[&str] = aimsim_train::ALGORITHM_NAMES;

/// What one run simulates. Named options win over `overrides` of the same
/// field (as `--steps` wins over `--set train.steps=…`).
///
/// Build one with [`RunSpec::builder`]; [`RunSpecBuilder::build`] validates
/// it (every file and field resolved), so a built spec runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// A built-in chip name or a chip file path (default: `eapu-180nm`).
    pub chip: String,
    /// A built-in device name or a device file path (default: the chip's).
    pub device: Option<String>,
    /// Built-in workload (default: `train.workload`, itself `digits-mlp`).
    pub workload: Option<String>,
    /// A network file (`aimsim.network/1`) to train instead of a built-in
    /// workload. Left out of the canonical form when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Write rule (default: the chip file's `rule.name`).
    pub rule: Option<String>,
    /// Training algorithm (default: `backprop`).
    pub algorithm: String,
    /// Passes over the training set (default: `train.epochs`).
    pub epochs: Option<u32>,
    /// Stop after this many steps (default: `train.steps`).
    pub steps: Option<u64>,
    /// Trace rows every this many steps (default: `train.trace_every`).
    pub trace_every: Option<u64>,
    /// Run seed: every random stream derives from it.
    pub seed: u64,
    /// `(path, value)` overrides of any configuration field, applied in
    /// order: `chip.PATH`, `device.PATH` or `train.PATH`; values are JSON
    /// (a bare word is a string).
    pub overrides: Vec<(String, String)>,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            chip: "eapu-180nm".into(),
            device: None,
            workload: None,
            network: None,
            rule: None,
            algorithm: "backprop".into(),
            epochs: None,
            steps: None,
            trace_every: None,
            seed: 1,
            overrides: Vec::new(),
        }
    }
}

/// A spec resolved into validated parts.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The chip (with `chip.*` overrides and the rule applied).
    pub chip: Chip,
    /// The device spec used (the chip's default if none was named).
    pub device_spec: String,
    /// The device (with `device.*` overrides).
    pub device: DeviceModel,
    /// Training options (with `train.*` overrides and named options).
    pub train: Train,
    /// The workload: the network file's, or the built-in `train.workload`.
    pub workload: Workload,
}

/// Builds a [`RunSpec`] without strings of `--set` pairs.
#[derive(Clone, Debug, Default)]
pub struct RunSpecBuilder {
    spec: RunSpec,
}

impl RunSpecBuilder {
    /// The chip: a built-in name or a chip file path.
    pub fn chip(mut self, chip: impl Into<String>) -> Self {
        self.spec.chip = chip.into();
        self
    }

    /// The device: a built-in name or a device file path.
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.spec.device = Some(device.into());
        self
    }

    /// The built-in workload.
    pub fn workload(mut self, workload: impl Into<String>) -> Self {
        self.spec.workload = Some(workload.into());
        self
    }

    /// A network file to train (`aimsim.network/1`).
    pub fn network(mut self, path: impl Into<String>) -> Self {
        self.spec.network = Some(path.into());
        self
    }

    /// The write rule (`eapu`, `bp`, …).
    pub fn rule(mut self, rule: impl Into<String>) -> Self {
        self.spec.rule = Some(rule.into());
        self
    }

    /// The training algorithm.
    pub fn algorithm(mut self, algorithm: impl Into<String>) -> Self {
        self.spec.algorithm = algorithm.into();
        self
    }

    /// Passes over the training set.
    pub fn epochs(mut self, epochs: u32) -> Self {
        self.spec.epochs = Some(epochs);
        self
    }

    /// Stop after `steps` training steps.
    pub fn steps(mut self, steps: u64) -> Self {
        self.spec.steps = Some(steps);
        self
    }

    /// Trace rows every `n` steps.
    pub fn trace_every(mut self, n: u64) -> Self {
        self.spec.trace_every = Some(n);
        self
    }

    /// SGD learning rate (`train.lr`).
    pub fn lr(self, lr: f64) -> Self {
        self.set("train.lr", lr.to_string())
    }

    /// The run seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.seed = seed;
        self
    }

    /// Overrides one configuration field (`chip.adc.bits`, `device.write_noise_us`, `train.lr`).
    pub fn set(mut self, path: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.overrides.push((path.into(), value.into()));
        self
    }

    /// Validates the spec: every file, field and value resolved.
    pub fn build(self) -> Result<RunSpec> {
        self.spec.check()?;
        Ok(self.spec)
    }
}

impl RunSpec {
    /// A builder starting from the defaults (the default run).
    pub fn builder() -> RunSpecBuilder {
        RunSpecBuilder::default()
    }

    /// Reads a spec from JSON (its canonical form, or any with the same
    /// keys; missing keys are an error), naming `file` and the field.
    pub fn from_json(file: &str, text: &str) -> Result<RunSpec> {
        let tree = config::parse_tree(file, text)?;
        let spec: RunSpec = config::from_tree(file, tree)?;
        spec.check()?;
        Ok(spec)
    }

    /// The canonical JSON form: fields in a fixed order, overrides in the
    /// order given, no whitespace. Equal specs have equal forms.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a spec serialises")
    }

    /// A stable hash of the spec: the SHA-256 of its canonical JSON, in
    /// hex. Files named by path are hashed by name, not content.
    pub fn hash(&self) -> String {
        Sha256::digest(self.canonical_json().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The overrides as `path=value` strings, as given on the command line.
    pub fn override_strings(&self) -> Vec<String> {
        self.overrides
            .iter()
            .map(|(p, v)| format!("{p}={v}"))
            .collect()
    }

    /// Resolves the spec into a validated chip, device and training options.
    pub fn resolve(&self) -> Result<Resolved> {
        let (chip, device_spec, device, train, network) = self.resolve_config()?;
        let workload = Workload::from_network(network, self.seed)?;
        Ok(Resolved {
            chip,
            device_spec,
            device,
            train,
            workload,
        })
    }

    /// Everything [`RunSpec::resolve`] checks, without materialising the
    /// workload's data (a sweep plan checks every point this way: loading
    /// the digits for each of 10⁶ points was most of its time).
    pub fn check(&self) -> Result<()> {
        let (.., network) = self.resolve_config()?;
        Workload::check(&network)?;
        Ok(())
    }

    /// The chip, device spec, device, training options and network.
    fn resolve_config(&self) -> Result<(Chip, String, DeviceModel, Train, Network)> {
        let mut chip_over = Vec::new();
        let mut device_over = Vec::new();
        let mut train_over = Vec::new();
        for (path, value) in &self.overrides {
            let (head, rest) = path.split_once('.').unwrap_or((path, ""));
            let list = match head {
                "chip" => &mut chip_over,
                "device" => &mut device_over,
                "train" => &mut train_over,
                _ => {
                    return Err(CoreError::Override {
                        spec: format!("{path}={value}"),
                        message: "the path must start with chip., device. or train.".into(),
                    }
                    .into())
                }
            };
            list.push((rest.to_string(), value.clone()));
        }
        if let Some(r) = &self.rule {
            chip_over.push(("rule.name".into(), json_string(r)));
        }
        if let Some(w) = &self.workload {
            train_over.push(("workload".into(), json_string(w)));
        }
        if let Some(e) = self.epochs {
            train_over.push(("epochs".into(), e.to_string()));
        }
        if let Some(s) = self.steps {
            train_over.push(("steps".into(), s.to_string()));
        }
        if let Some(n) = self.trace_every {
            train_over.push(("trace_every".into(), n.to_string()));
        }
        if !ALGORITHM_NAMES.contains(&self.algorithm.as_str()) {
            return Err(Check::new("run spec")
                .err(
                    "algorithm",
                    format!(
                        "unknown algorithm `{}`; expected one of {}",
                        self.algorithm,
                        ALGORITHM_NAMES.join(", ")
                    ),
                )
                .into());
        }
        let chip = load_chip(&self.chip, &chip_over)?;
        let device_spec = self
            .device
            .clone()
            .unwrap_or_else(|| chip_device_spec(&self.chip, &chip));
        let device = load_device(&device_spec, &device_over)?;
        let train = Train::from_raw_with(RawTrain::default(), &train_over)?;
        // Rule parameters whose defaults come from the device are checked
        // against it here, before anything runs.
        chip.build_rule(&device)?;
        let network = match &self.network {
            Some(path) => {
                if self.workload.is_some() {
                    return Err(Check::new("run spec")
                        .err(
                            "network",
                            "given with a workload; expected one or the other",
                        )
                        .into());
                }
                Network::from_file(Path::new(path))?
            }
            None => builtin_network(&train.raw.workload).expect("validated workload name"),
        };
        // The network file's `train` defaults, then the run's overrides.
        let train = if network.train_defaults.is_empty() {
            train
        } else {
            let mut over = network.train_defaults.clone();
            over.extend(train_over.iter().cloned());
            Train::from_raw_with(RawTrain::default(), &over)?
        };
        // Before any data is made: a network too large to simulate never
        // allocates its cells or its (possibly ImageNet-sized) samples.
        check_fits_the_simulator(&network)?;
        Ok((chip, device_spec, device, train, network))
    }
}

/// The most weights a run places on the chip: 2²⁶ (6.7·10⁷ weights,
/// 1.3·10⁸ cells). Each weight is a pair of cells of 6 B each (10 B on a
/// device that relaxes) and its 4 B read cache, so the limit bounds the
/// cell state at 1.0–1.5 GiB,
/// inside this project's 24 GiB machines with room for the data, and
/// admits the 10⁸-cell chips of a scaling study (docs/performance.md).
/// A larger network is a case for `aimsim gpu-estimate`.
pub const MAX_SIMULATED_WEIGHTS: u64 = 1 << 26;

/// Refuses a network with more weights than [`MAX_SIMULATED_WEIGHTS`],
/// naming the file and pointing to `aimsim gpu-estimate`.
fn check_fits_the_simulator(network: &Network) -> Result<()> {
    let weights: u64 = network
        .layers
        .iter()
        .filter_map(|l| l.matrix())
        .map(|(r, c)| (r * c) as u64)
        .sum();
    if weights > MAX_SIMULATED_WEIGHTS {
        return Err(Check::new(&network.file)
            .err(
                "layers",
                format!(
                    "{weights} weights are too large for the chip simulation; expected at most {MAX_SIMULATED_WEIGHTS} (use `aimsim gpu-estimate --network {} --batch N` for the GPU reference of a network this size)",
                    network.file
                ),
            )
            .into());
    }
    Ok(())
}

/// `s` as a JSON string value.
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Whether `spec` names a file explicitly: an absolute path, or one with a
/// folder in it (`./name`, `dir/name`). Such a spec is always a file; any
/// other spec is a built-in name if there is a built-in of that name, and
/// a file otherwise, so a file or folder in the working directory named
/// like a built-in never shadows it.
pub(crate) fn is_explicit_path(spec: &str) -> bool {
    let p = Path::new(spec);
    p.is_absolute() || p.components().count() > 1 || spec.contains(std::path::MAIN_SEPARATOR)
}

/// Loads a chip from a built-in name or a file path, with `(path, value)`
/// overrides. A built-in name wins over a file or folder of that name in
/// the working directory; `./name`, a path with a folder or an absolute
/// path always names a file.
pub fn load_chip(spec: &str, over: &[(String, String)]) -> aimsim_core::Result<Chip> {
    let builtin = aimsim_engine::BUILTIN_CHIPS.iter().any(|(n, _)| *n == spec);
    if !builtin && (is_explicit_path(spec) || Path::new(spec).exists()) {
        let text = config::read_text(Path::new(spec))?;
        Chip::from_json(spec, &text, over)
    } else {
        Chip::builtin(spec, over)
    }
}

/// Loads a device from a built-in name or a file path, with `(path, value)`
/// overrides, chosen as [`load_chip`] chooses.
///
/// An STT-MRAM device (a built-in MRAM name, or a file whose `schema` is
/// `aimsim.mram/1`) becomes the engine's binary model
/// ([`DeviceModel::from_mram`]); the overrides then name its file's fields.
pub fn load_device(spec: &str, over: &[(String, String)]) -> Result<DeviceModel> {
    let builtin = is_builtin_device(spec);
    if !builtin && (is_explicit_path(spec) || Path::new(spec).exists()) {
        let text = config::read_text(Path::new(spec))?;
        if is_mram_file(&text) {
            let m = aimsim_device::SttMram::from_json(spec, &text, over)?;
            return Ok(DeviceModel::from_mram(m));
        }
        Ok(DeviceModel::from_json(spec, &text, over)?)
    } else if aimsim_device::builtin_mram_devices().any(|n| n == spec) {
        Ok(DeviceModel::from_mram(aimsim_device::builtin_mram(
            spec, over,
        )?))
    } else {
        Ok(builtin_device(spec, over)?)
    }
}

/// Whether `name` is a built-in device (analog or STT-MRAM).
fn is_builtin_device(name: &str) -> bool {
    aimsim_device::BUILTIN_DEVICES
        .iter()
        .chain(aimsim_device::BUILTIN_MRAM)
        .any(|(n, _)| *n == name)
}

/// Whether a device file's text declares the STT-MRAM schema (a file that
/// does not parse is left to the analog parser, which names the error).
fn is_mram_file(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(str::to_owned))
        .is_some_and(|s| s == aimsim_device::MRAM_SCHEMA)
}

/// The device a chip names, as a spec to load: a relative file path in a
/// chip file is relative to the chip file's folder, not the working
/// directory.
fn chip_device_spec(chip_spec: &str, chip: &Chip) -> String {
    let dev = &chip.device;
    let from_file = !aimsim_engine::BUILTIN_CHIPS
        .iter()
        .any(|(n, _)| *n == chip_spec);
    match Path::new(chip_spec).parent() {
        Some(dir) if from_file && !is_builtin_device(dev) && Path::new(dev).is_relative() => {
            dir.join(dev).display().to_string()
        }
        _ => dev.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_validates_and_names_the_field() {
        let spec = RunSpec::builder()
            .rule("bp")
            .steps(10)
            .set("chip.adc.bits", "6")
            .build()
            .unwrap();
        let r = spec.resolve().unwrap();
        assert_eq!(r.chip.rule.name, "bp");
        assert_eq!(r.train.raw.steps, Some(10));
        let e = RunSpec::builder().rule("nope").build().unwrap_err();
        assert!(e.is_bad_input() && e.to_string().contains("nope"), "{e}");
        let e = RunSpec::builder()
            .set("chip.adc.bits", "99")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("adc.bits"), "{e}");
        let e = RunSpec::builder().set("gpu.x", "1").build().unwrap_err();
        assert!(e.to_string().contains("chip., device. or train."), "{e}");
        let e = RunSpec::builder().algorithm("nope").build().unwrap_err();
        assert!(e.to_string().contains("algorithm"), "{e}");
    }

    #[test]
    fn named_options_win_over_overrides() {
        let spec = RunSpec::builder()
            .set("train.steps", "5")
            .steps(7)
            .build()
            .unwrap();
        assert_eq!(spec.resolve().unwrap().train.raw.steps, Some(7));
    }

    #[test]
    fn canonical_json_round_trips_and_the_hash_is_stable() {
        let spec = RunSpec::builder()
            .chip("eapu-180nm-lowres")
            .seed(3)
            .lr(0.01)
            .build()
            .unwrap();
        let json = spec.canonical_json();
        let back = RunSpec::from_json("spec.json", &json).unwrap();
        assert_eq!(back, spec);
        assert_eq!(back.hash(), spec.hash());
        // The hash of the default spec is pinned: a change means every
        // sweep's keys change, so it must be deliberate.
        assert_eq!(
            RunSpec::default().canonical_json(),
            r#"{"chip":"eapu-180nm","device":null,"workload":null,"rule":null,"algorithm":"backprop","epochs":null,"steps":null,"trace_every":null,"seed":1,"overrides":[]}"#
        );
        assert_ne!(
            RunSpec::builder().seed(2).build().unwrap().hash(),
            RunSpec::default().hash()
        );
        let e = RunSpec::from_json("spec.json", r#"{"chip": 1}"#).unwrap_err();
        assert!(
            e.to_string().contains("spec.json") && e.to_string().contains("chip"),
            "{e}"
        );
    }
}
