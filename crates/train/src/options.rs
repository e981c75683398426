//! Training options (`train.*` of `--set`): the raw serde form with its
//! documented defaults, and the validated form.

use crate::algo_options::{RawHge, RawMadem, RawTikiTaka};
use aimsim_core::config::{self, Check};
use aimsim_core::CoreError;
use aimsim_workload::WORKLOAD_NAMES;
use serde::{Deserialize, Serialize};

/// Training parameters (`train.*` of `--set`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    /// Built-in workload (default: `digits-mlp`).
    #[serde(default = "d_workload")]
    pub workload: String,
    /// Passes over the training set (default: 8).
    #[serde(default = "d_epochs")]
    pub epochs: u32,
    /// Stop after this many steps, if set (default: none: all epochs).
    #[serde(default)]
    pub steps: Option<u64>,
    /// SGD learning rate η (default: 0.02).
    #[serde(default = "d_lr")]
    pub lr: f64,
    /// Initial weights uniform in ±init_scale/sqrt(fan_in) (default: 1).
    #[serde(default = "d_init")]
    pub init_scale: f64,
    /// Rows of `energy.csv` / `lifetime.csv` every this many steps (default: 100).
    #[serde(default = "d_every")]
    pub trace_every: u64,
    /// Samples per mini-batch: one update per batch, gradients accumulated
    /// digitally (default: 1). Left out of the serialised form when 1, so
    /// the configuration a batch-1 run records (the VCD's `$comment`) is
    /// what it was before mini-batches existed.
    #[serde(default = "d_batch", skip_serializing_if = "is_one")]
    pub batch: u32,
    /// Per-layer weight scaling for `backprop` on a device (default: none:
    /// every layer at the device's `r_wg`): each weight layer's initial
    /// bound `init_scale/√fan_in` is stored as this fraction of the
    /// device's largest weight `(G_max − G_min)/r_wg`, and the layer's
    /// reads are scaled back digitally (`ChipSim::place_scaled`). Left out
    /// of the serialised form when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_scaling_omega: Option<f64>,
    /// Homodyne gradient extraction (`hge`); left out of the serialised
    /// form while at its defaults.
    #[serde(default, skip_serializing_if = "RawHge::is_default")]
    pub hge: RawHge,
    /// MADEM-style activity-difference learning (`madem`); likewise.
    #[serde(default, skip_serializing_if = "RawMadem::is_default")]
    pub madem: RawMadem,
    /// Tiki-Taka (`tiki-taka`); likewise.
    #[serde(default, skip_serializing_if = "RawTikiTaka::is_default")]
    pub tiki_taka: RawTikiTaka,
}

fn d_workload() -> String {
    "digits-mlp".into()
}
fn d_epochs() -> u32 {
    8
}
fn d_lr() -> f64 {
    0.02
}
fn d_init() -> f64 {
    1.0
}
fn d_every() -> u64 {
    100
}
fn d_batch() -> u32 {
    1
}
fn is_one(v: &u32) -> bool {
    *v == 1
}

impl Default for RawTrain {
    fn default() -> Self {
        RawTrain {
            workload: d_workload(),
            epochs: d_epochs(),
            steps: None,
            lr: d_lr(),
            init_scale: d_init(),
            trace_every: d_every(),
            batch: d_batch(),
            weight_scaling_omega: None,
            hge: RawHge::default(),
            madem: RawMadem::default(),
            tiki_taka: RawTikiTaka::default(),
        }
    }
}

/// Validated training parameters.
#[derive(Clone, Debug)]
pub struct Train {
    /// The raw values.
    pub raw: RawTrain,
}

impl Train {
    /// Builds training parameters from defaults and `train.*` overrides.
    pub fn from_overrides(overrides: &[(String, String)]) -> std::result::Result<Train, CoreError> {
        Train::from_raw_with(RawTrain::default(), overrides)
    }

    /// Validates `raw` after applying `train.*` overrides to it.
    pub fn from_raw_with(
        raw: RawTrain,
        overrides: &[(String, String)],
    ) -> std::result::Result<Train, CoreError> {
        let file = "--set train";
        let mut tree = serde_json::to_value(raw).expect("serialisable");
        for (p, v) in overrides {
            config::apply_override(&mut tree, p, v)?;
        }
        let raw: RawTrain = config::from_tree(file, tree)?;
        let c = Check::new(file);
        if !WORKLOAD_NAMES.contains(&raw.workload.as_str()) {
            return Err(c.err(
                "workload",
                format!(
                    "unknown workload `{}`; expected one of {}",
                    raw.workload,
                    WORKLOAD_NAMES.join(", ")
                ),
            ));
        }
        c.int_range("epochs", raw.epochs.into(), 1, 1_000_000)?;
        if let Some(s) = raw.steps {
            c.int_range("steps", s, 1, u64::MAX)?;
        }
        c.range("lr", raw.lr, 1e-12, 100.0)?;
        c.range("init_scale", raw.init_scale, 0.0, 100.0)?;
        c.int_range("trace_every", raw.trace_every, 1, u64::MAX)?;
        c.int_range("batch", raw.batch.into(), 1, 65_536)?;
        if let Some(o) = raw.weight_scaling_omega {
            c.range("weight_scaling_omega", o, 1e-3, 1.0)?;
        }
        raw.hge.validate(&c.section("hge"))?;
        raw.madem.validate(&c.section("madem"))?;
        raw.tiki_taka.validate(&c.section("tiki_taka"))?;
        Ok(Train { raw })
    }

    /// Training steps (updates) the options ask for on a training set of
    /// `n` samples: `epochs × ⌈n / batch⌉`, or `steps` if fewer.
    pub fn total_steps(&self, n: usize) -> u64 {
        let all = u64::from(self.raw.epochs) * (n as u64).div_ceil(u64::from(self.raw.batch));
        self.raw.steps.unwrap_or(all).min(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_validated_naming_the_field() {
        let t = Train::from_overrides(&[("steps".into(), "50".into())]).unwrap();
        assert_eq!(t.total_steps(1000), 50);
        assert_eq!(t.total_steps(3), 24, "8 epochs of 3 samples");
        let e = Train::from_overrides(&[("lr".into(), "-1".into())]).unwrap_err();
        assert!(e.to_string().contains("lr"), "{e}");
        let e = Train::from_overrides(&[("workload".into(), "\"nope\"".into())]).unwrap_err();
        assert!(e.to_string().contains("digits-mlp"), "{e}");
        let e = Train::from_overrides(&[("bogus".into(), "1".into())]).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let t = Train::from_overrides(&[("weight_scaling_omega".into(), "0.25".into())]).unwrap();
        assert_eq!(t.raw.weight_scaling_omega, Some(0.25));
        let e = Train::from_overrides(&[("weight_scaling_omega".into(), "2".into())]).unwrap_err();
        assert!(e.to_string().contains("weight_scaling_omega"), "{e}");
        // Unset, it is left out of the serialised form (the default run's
        // recorded configuration is unchanged).
        let raw = serde_json::to_string(&RawTrain::default()).unwrap();
        assert!(!raw.contains("weight_scaling_omega"), "{raw}");
    }
}
