//! `aimsim.network/1` network files: the raw serde form
//! (`deny_unknown_fields`) and the validated [`Network`] whose layer shapes
//! chain from the input to the output. Every error names the file, the
//! field path (`layers[2].out_channels`) and what was expected.

use crate::network::{Activation, LayerSpec};
use crate::shape::{ConvGeometry, PoolKind, Shape};
use aimsim_core::config::{self, Check};
use aimsim_core::CoreError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The schema tag of a network file.
pub const NETWORK_SCHEMA: &str = "aimsim.network/1";

/// Largest tensor a layer may produce (values per sample); keeps a typo
/// such as `"outputs": 1e9` from exhausting memory before it is reported.
const MAX_TENSOR: usize = 1 << 24;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    schema: String,
    name: String,
    input: Vec<u64>,
    data: RawData,
    layers: Vec<RawLayer>,
    loss: String,
    metric: String,
    /// Defaults of `train.*` for this network (`lr`, `epochs`, `batch`,
    /// `weight_scaling_omega`); `--set train.…` still wins.
    #[serde(default)]
    train: Option<RawNetTrain>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetTrain {
    #[serde(default)]
    lr: Option<f64>,
    #[serde(default)]
    epochs: Option<u32>,
    #[serde(default)]
    batch: Option<u32>,
    #[serde(default)]
    weight_scaling_omega: Option<f64>,
}

/// Where the data comes from: exactly one of the three keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    #[serde(default)]
    builtin: Option<String>,
    #[serde(default)]
    npz: Option<String>,
    #[serde(default)]
    synthetic: Option<RawSynthetic>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct RawSynthetic {
    train: u64,
    test: u64,
    /// Classes of a classification network (default: the output width).
    #[serde(default)]
    classes: Option<u64>,
    /// Seed of the data's own random stream (default: 1).
    #[serde(default = "one")]
    seed: u64,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    kind: String,
    #[serde(default)]
    outputs: Option<u64>,
    #[serde(default)]
    out_channels: Option<u64>,
    #[serde(default)]
    kernel: Option<u64>,
    #[serde(default)]
    stride: Option<u64>,
    #[serde(default)]
    padding: Option<u64>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    factor: Option<u64>,
    #[serde(default)]
    activation: Option<String>,
}

/// What a layer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `y = f(W x + b)`, `W` of `inputs × outputs` on the crossbar.
    Dense {
        /// Output width.
        outputs: usize,
        /// Activation.
        activation: Activation,
    },
    /// A convolution on the crossbar via im2col: `(k²·C_in) × C_out`.
    Conv2d {
        /// Geometry (input shape, kernel, stride, padding).
        geometry: ConvGeometry,
        /// Output channels.
        out_channels: usize,
        /// Activation.
        activation: Activation,
    },
    /// Non-overlapping pooling (digital periphery).
    Pool {
        /// Max or average.
        kind: PoolKind,
        /// Window side.
        size: usize,
    },
    /// Reshape to a flat vector (no data movement).
    Flatten,
    /// Adds the output of an earlier layer (`None`: the network input).
    Add {
        /// Index of the earlier layer.
        from: Option<usize>,
    },
    /// Pixel shuffle by `factor` (digital periphery).
    PixelShuffle {
        /// Up-scaling factor r.
        factor: usize,
    },
}

/// One validated layer with its input and output shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    /// What the layer computes.
    pub kind: LayerKind,
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
}

impl Layer {
    /// The layer's kind as written in a network file.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            LayerKind::Dense { .. } => "dense",
            LayerKind::Conv2d { .. } => "conv2d",
            LayerKind::Pool {
                kind: PoolKind::Max,
                ..
            } => "maxpool",
            LayerKind::Pool {
                kind: PoolKind::Avg,
                ..
            } => "avgpool",
            LayerKind::Flatten => "flatten",
            LayerKind::Add { .. } => "add",
            LayerKind::PixelShuffle { .. } => "pixel_shuffle",
        }
    }

    /// The crossbar matrix `(rows, cols)` of a dense or conv layer.
    pub fn matrix(&self) -> Option<(usize, usize)> {
        match self.kind {
            LayerKind::Dense { outputs, .. } => Some((self.input.len(), outputs)),
            LayerKind::Conv2d {
                geometry,
                out_channels,
                ..
            } => Some((geometry.rows(), out_channels)),
            _ => None,
        }
    }

    /// Trainable parameters: weights and biases.
    pub fn parameters(&self) -> u64 {
        self.matrix().map_or(0, |(r, c)| (r * c + c) as u64)
    }

    /// Multiply-accumulates of one forward pass on the crossbar.
    pub fn macs(&self) -> u64 {
        match self.kind {
            LayerKind::Dense { outputs, .. } => (self.input.len() * outputs) as u64,
            LayerKind::Conv2d {
                geometry,
                out_channels,
                ..
            } => (geometry.positions() * geometry.rows() * out_channels) as u64,
            _ => 0,
        }
    }

    /// The activation of a dense or conv layer.
    pub fn activation(&self) -> Activation {
        match self.kind {
            LayerKind::Dense { activation, .. } | LayerKind::Conv2d { activation, .. } => {
                activation
            }
            _ => Activation::Identity,
        }
    }
}

/// The training loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy against a class label.
    CrossEntropy,
    /// `½ Σ (y − t)²` per sample (gradient `y − t`).
    Mse,
    /// `Σ |y − t|` per sample (gradient `sign(y − t)`).
    L1,
}

impl Loss {
    /// The name in a network file.
    pub fn name(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "cross_entropy",
            Loss::Mse => "mse",
            Loss::L1 => "l1",
        }
    }
}

/// The test metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Fraction classified correctly.
    Accuracy,
    /// Peak signal-to-noise ratio, dB (data range 1).
    Psnr,
    /// Structural similarity (Wang et al. 2004).
    Ssim,
}

impl Metric {
    /// The name in a network file.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Psnr => "psnr",
            Metric::Ssim => "ssim",
        }
    }
}

/// Where a network's data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// A built-in set by name (`digits`; `denoise` and `sr2`, image
    /// restoration on the built-in images).
    Builtin(String),
    /// A NumPy `.npz` file (`x_train`, `y_train`, `x_test`, `y_test`).
    Npz(PathBuf),
    /// Random data of the input shape.
    Synthetic {
        /// Training samples.
        train: usize,
        /// Test samples.
        test: usize,
        /// Classes (classification) — labels are uniform in `0..classes`.
        classes: usize,
        /// Seed of the data's random stream.
        seed: u64,
    },
}

/// A validated network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// The file it came from (or `<builtin NAME>`), for messages.
    pub file: String,
    /// Name.
    pub name: String,
    /// Input shape.
    pub input: Shape,
    /// Layers, input first, shapes chained.
    pub layers: Vec<Layer>,
    /// Training loss.
    pub loss: Loss,
    /// Test metric.
    pub metric: Metric,
    /// The data.
    pub data: DataSource,
    /// The file's `train` defaults as `(field, JSON value)` pairs, applied
    /// before the run's own `train.*` overrides.
    pub train_defaults: Vec<(String, String)>,
}

/// The built-in data set names.
pub const BUILTIN_DATA: &[&str] = &["digits", "denoise", "sr2"];

impl Network {
    /// Reads and validates a network file; an `npz` path is relative to it.
    pub fn from_file(path: &Path) -> Result<Network, CoreError> {
        let text = config::read_text(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Network::from_json(&path.display().to_string(), &text, dir)
    }

    /// Parses and validates network JSON named `file`; relative data paths
    /// resolve against `dir`.
    pub fn from_json(file: &str, text: &str, dir: &Path) -> Result<Network, CoreError> {
        let tree = config::parse_tree(file, text)?;
        let raw: RawNetwork = config::from_tree(file, tree)?;
        validate(file, raw, dir)
    }

    /// The output shape.
    pub fn output(&self) -> Shape {
        self.layers.last().map_or(self.input, |l| l.output)
    }

    /// Trainable parameters.
    pub fn parameters(&self) -> u64 {
        self.layers.iter().map(Layer::parameters).sum()
    }

    /// Crossbar MACs of one forward pass.
    pub fn macs_per_sample(&self) -> u64 {
        self.layers.iter().map(Layer::macs).sum()
    }

    /// The layers as a chain of dense layers, if that is all the network is.
    pub fn dense_chain(&self) -> Option<Vec<LayerSpec>> {
        self.layers
            .iter()
            .map(|l| match l.kind {
                LayerKind::Dense {
                    outputs,
                    activation,
                } => Some(LayerSpec {
                    inputs: l.input.len(),
                    outputs,
                    activation,
                }),
                _ => None,
            })
            .collect()
    }
}

fn shape_of(c: &Check, dims: &[u64]) -> Result<Shape, CoreError> {
    let d: Vec<usize> = dims.iter().map(|&v| v as usize).collect();
    let s = match d[..] {
        [n] => Shape::flat(n),
        [c, h, w] => Shape { c, h, w },
        _ => {
            return Err(c.err(
                "input",
                format!(
                    "{} dimensions; expected [features] or [channels, height, width]",
                    d.len()
                ),
            ))
        }
    };
    if s.is_empty() || s.len() > MAX_TENSOR {
        return Err(c.err(
            "input",
            format!("shape {s}; expected every dimension ≥ 1 and at most {MAX_TENSOR} values"),
        ));
    }
    Ok(s)
}

fn activation(c: &Check, field: &str, name: Option<&str>) -> Result<Activation, CoreError> {
    Ok(match name.unwrap_or("identity") {
        "identity" => Activation::Identity,
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        other => {
            return Err(c.err(
                field,
                format!("unknown activation `{other}`; expected relu, tanh, sigmoid or identity"),
            ))
        }
    })
}

fn validate(file: &str, raw: RawNetwork, dir: &Path) -> Result<Network, CoreError> {
    let c = Check::new(file);
    if raw.schema != NETWORK_SCHEMA {
        return Err(c.err(
            "schema",
            format!("`{}`; expected `{NETWORK_SCHEMA}`", raw.schema),
        ));
    }
    if raw.name.trim().is_empty() {
        return Err(c.err("name", "empty; expected a name"));
    }
    let input = shape_of(&c, &raw.input)?;
    if raw.layers.is_empty() {
        return Err(c.err("layers", "empty; expected at least one layer"));
    }
    let mut layers: Vec<Layer> = Vec::with_capacity(raw.layers.len());
    let mut shape = input;
    for (i, rl) in raw.layers.iter().enumerate() {
        let layer = validate_layer(&c, i, rl, shape, input, &layers)?;
        shape = layer.output;
        layers.push(layer);
    }
    if !layers.iter().any(|l| l.matrix().is_some()) {
        return Err(c.err(
            "layers",
            "no dense or conv2d layer; expected at least one layer with weights",
        ));
    }
    let loss = match raw.loss.as_str() {
        "cross_entropy" => Loss::CrossEntropy,
        "mse" => Loss::Mse,
        "l1" => Loss::L1,
        other => {
            return Err(c.err(
                "loss",
                format!("unknown loss `{other}`; expected cross_entropy, mse or l1"),
            ))
        }
    };
    let metric = match raw.metric.as_str() {
        "accuracy" => Metric::Accuracy,
        "psnr" => Metric::Psnr,
        "ssim" => Metric::Ssim,
        other => {
            return Err(c.err(
                "metric",
                format!("unknown metric `{other}`; expected accuracy, psnr or ssim"),
            ))
        }
    };
    let out = shape;
    if loss == Loss::CrossEntropy && !out.is_flat() {
        return Err(c.err(
            "loss",
            format!("cross_entropy needs a flat output (one value per class); the network ends with {out}"),
        ));
    }
    if (metric == Metric::Accuracy) != (loss == Loss::CrossEntropy) {
        return Err(c.err(
            "metric",
            format!(
                "`{}` with loss `{}`; expected accuracy with cross_entropy, psnr or ssim with mse or l1",
                metric.name(),
                loss.name()
            ),
        ));
    }
    let data = validate_data(&c, raw.data, dir, out.len())?;
    let mut train_defaults = Vec::new();
    if let Some(t) = raw.train {
        if let Some(v) = t.lr {
            train_defaults.push(("lr".to_string(), v.to_string()));
        }
        if let Some(v) = t.epochs {
            train_defaults.push(("epochs".to_string(), v.to_string()));
        }
        if let Some(v) = t.batch {
            train_defaults.push(("batch".to_string(), v.to_string()));
        }
        if let Some(v) = t.weight_scaling_omega {
            train_defaults.push(("weight_scaling_omega".to_string(), v.to_string()));
        }
    }
    Ok(Network {
        train_defaults,
        file: file.to_string(),
        name: raw.name,
        input,
        layers,
        loss,
        metric,
        data,
    })
}

fn validate_data(
    c: &Check,
    raw: RawData,
    dir: &Path,
    outputs: usize,
) -> Result<DataSource, CoreError> {
    let given = [
        raw.builtin.is_some(),
        raw.npz.is_some(),
        raw.synthetic.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() != 1 {
        return Err(c.err(
            "data",
            "expected exactly one of `builtin`, `npz` or `synthetic`",
        ));
    }
    let c = c.section("data");
    if let Some(b) = raw.builtin {
        if !BUILTIN_DATA.contains(&b.as_str()) {
            return Err(c.err(
                "builtin",
                format!(
                    "unknown data set `{b}`; expected one of {}",
                    BUILTIN_DATA.join(", ")
                ),
            ));
        }
        return Ok(DataSource::Builtin(b));
    }
    if let Some(p) = raw.npz {
        let path = dir.join(&p);
        if !path.is_file() {
            return Err(c.err(
                "npz",
                format!("`{}` does not exist or is not a file; expected a NumPy .npz file (relative to the network file)", path.display()),
            ));
        }
        return Ok(DataSource::Npz(path));
    }
    let s = raw.synthetic.expect("one key given");
    let c = c.section("synthetic");
    c.int_range("train", s.train, 1, 1 << 20)?;
    c.int_range("test", s.test, 1, 1 << 20)?;
    let classes = s.classes.unwrap_or(outputs as u64);
    c.int_range("classes", classes, 1, outputs as u64)?;
    Ok(DataSource::Synthetic {
        train: s.train as usize,
        test: s.test as usize,
        classes: classes as usize,
        seed: s.seed,
    })
}

/// The fields each kind accepts (beyond `kind`).
fn allowed(kind: &str) -> &'static [&'static str] {
    match kind {
        "dense" => &["outputs", "activation"],
        "conv2d" => &["out_channels", "kernel", "stride", "padding", "activation"],
        "maxpool" | "avgpool" => &["size"],
        "add" => &["from"],
        "pixel_shuffle" => &["factor"],
        _ => &[],
    }
}

fn validate_layer(
    c: &Check,
    i: usize,
    rl: &RawLayer,
    shape: Shape,
    input: Shape,
    earlier: &[Layer],
) -> Result<Layer, CoreError> {
    let c = c.section(&format!("layers[{i}]"));
    const KINDS: &str = "dense, conv2d, maxpool, avgpool, flatten, add or pixel_shuffle";
    if ![
        "dense",
        "conv2d",
        "maxpool",
        "avgpool",
        "flatten",
        "add",
        "pixel_shuffle",
    ]
    .contains(&rl.kind.as_str())
    {
        return Err(c.err(
            "kind",
            format!("unknown layer kind `{}`; expected {KINDS}", rl.kind),
        ));
    }
    let present = [
        ("outputs", rl.outputs.is_some()),
        ("out_channels", rl.out_channels.is_some()),
        ("kernel", rl.kernel.is_some()),
        ("stride", rl.stride.is_some()),
        ("padding", rl.padding.is_some()),
        ("size", rl.size.is_some()),
        ("from", rl.from.is_some()),
        ("factor", rl.factor.is_some()),
        ("activation", rl.activation.is_some()),
    ];
    let ok = allowed(&rl.kind);
    if let Some((f, _)) = present.iter().find(|(f, p)| *p && !ok.contains(f)) {
        return Err(c.err(
            f,
            format!(
                "not a field of a `{}` layer; expected {}",
                rl.kind,
                if ok.is_empty() {
                    "no fields but `kind`".to_string()
                } else {
                    ok.join(", ")
                }
            ),
        ));
    }
    let need = |field: &str, v: Option<u64>| -> Result<usize, CoreError> {
        let v = v.ok_or_else(|| c.err(field, "missing; expected a positive integer"))?;
        if v == 0 {
            return Err(c.err(field, "0; expected a positive integer"));
        }
        if v > MAX_TENSOR as u64 {
            return Err(c.err(
                field,
                format!("{v}; expected a positive integer of at most {MAX_TENSOR}"),
            ));
        }
        Ok(v as usize)
    };
    let act = || activation(&c, "activation", rl.activation.as_deref());
    let (kind, output) = match rl.kind.as_str() {
        "dense" => {
            if !shape.is_flat() {
                return Err(c.err(
                    "kind",
                    format!("dense takes a flat input but gets {shape}; expected a `flatten` layer before it"),
                ));
            }
            let outputs = need("outputs", rl.outputs)?;
            (
                LayerKind::Dense {
                    outputs,
                    activation: act()?,
                },
                Shape::flat(outputs),
            )
        }
        "conv2d" => {
            let out_channels = need("out_channels", rl.out_channels)?;
            let kernel = need("kernel", rl.kernel)?;
            let stride = match rl.stride {
                None => 1,
                Some(_) => need("stride", rl.stride)?,
            };
            let padding = rl.padding.unwrap_or(0);
            // Bounded so that the padded size cannot overflow.
            c.int_range("padding", padding, 0, 1 << 16)?;
            let padding = padding as usize;
            if shape.is_flat() && shape.c > 1 && kernel > 1 {
                return Err(c.err(
                    "kernel",
                    format!("conv2d over a flat input {shape}; expected an input [channels, height, width]"),
                ));
            }
            let geometry = ConvGeometry {
                input: shape,
                kernel,
                stride,
                padding,
            };
            let (oh, ow) = geometry.out_hw().ok_or_else(|| {
                c.err(
                    "kernel",
                    format!(
                        "{kernel} (padding {padding}) does not fit the input {shape}; expected at most height/width + 2·padding"
                    ),
                )
            })?;
            (
                LayerKind::Conv2d {
                    geometry,
                    out_channels,
                    activation: act()?,
                },
                Shape {
                    c: out_channels,
                    h: oh,
                    w: ow,
                },
            )
        }
        "maxpool" | "avgpool" => {
            let size = need("size", rl.size)?;
            if shape.h < size || shape.w < size {
                return Err(c.err(
                    "size",
                    format!("{size} is larger than the input {shape}; expected at most its height and width"),
                ));
            }
            let kind = if rl.kind == "maxpool" {
                PoolKind::Max
            } else {
                PoolKind::Avg
            };
            (
                LayerKind::Pool { kind, size },
                Shape {
                    c: shape.c,
                    h: shape.h / size,
                    w: shape.w / size,
                },
            )
        }
        "flatten" => (LayerKind::Flatten, Shape::flat(shape.len())),
        "add" => {
            let f = rl.from.ok_or_else(|| {
                c.err(
                    "from",
                    "missing; expected the index of an earlier layer (−1: the network input)",
                )
            })?;
            let (from, other) = match f {
                -1 => (None, input),
                f if f >= 0 && (f as usize) < i => (Some(f as usize), earlier[f as usize].output),
                f => {
                    return Err(c.err(
                        "from",
                        format!("{f}; expected the index of an earlier layer (0..{i}) or −1 for the network input"),
                    ))
                }
            };
            if other != shape {
                return Err(c.err(
                    "from",
                    format!("adds an output of shape {other} to one of shape {shape}; expected equal shapes"),
                ));
            }
            (LayerKind::Add { from }, shape)
        }
        _ => {
            let factor = need("factor", rl.factor)?;
            let rr = factor * factor;
            if shape.is_flat() || !shape.c.is_multiple_of(rr) {
                return Err(c.err(
                    "factor",
                    format!("{factor} needs an input [C·{rr}, H, W]; got {shape}"),
                ));
            }
            (
                LayerKind::PixelShuffle { factor },
                Shape {
                    c: shape.c / rr,
                    h: shape.h * factor,
                    w: shape.w * factor,
                },
            )
        }
    };
    if output.is_empty() || output.len() > MAX_TENSOR {
        return Err(c.err(
            "kind",
            format!("output {output}; expected between 1 and {MAX_TENSOR} values"),
        ));
    }
    Ok(Layer {
        kind,
        input: shape,
        output,
    })
}
