//! The data of a network: the built-in digits, a user's `.npz` file, or
//! synthetic random data of the input shape.

use crate::digits::load_digits;
use crate::images::{restoration_data, Restoration, IMAGE_SIDE};
use crate::netfile::{DataSource, Loss, Network};
use crate::network::Dataset;
use crate::npz::{read_npz, NpyArray};
use aimsim_core::{stream, CoreError};
use rand::Rng;

/// Loads `(train, test)` for `net`; errors name the network file and the
/// `data` field.
pub(crate) fn load_data(net: &Network, run_seed: u64) -> Result<(Dataset, Dataset), CoreError> {
    data(net, run_seed, true).map(|d| d.expect("loaded"))
}

/// Checks that `net`'s data fits it without materialising built-in or
/// synthetic data (a user's `.npz` file is read: reading it is the check);
/// the errors [`load_data`] would give.
pub(crate) fn check_data(net: &Network) -> Result<(), CoreError> {
    data(net, 0, false).map(|_| ())
}

/// [`load_data`] when `load`, else [`check_data`] (`None`).
fn data(net: &Network, run_seed: u64, load: bool) -> Result<Option<(Dataset, Dataset)>, CoreError> {
    let dim = net.input.len();
    let classify = net.loss == Loss::CrossEntropy;
    let outputs = net.output().len();
    let err = |field: &str, message: String| CoreError::Invalid {
        file: net.file.clone(),
        field: field.to_string(),
        message,
    };
    match &net.data {
        DataSource::Builtin(name) => match name.as_str() {
            "digits" => {
                if dim != 64 || !classify || outputs != 10 {
                    return Err(err(
                        "data.builtin",
                        format!("`digits` has 64 inputs and 10 classes; the network has input {} and output {}", net.input, net.output()),
                    ));
                }
                if !load {
                    return Ok(None);
                }
                let d = load_digits();
                let (train, test) = d.split();
                let pick = |idx: &[usize]| Dataset {
                    dim: 64,
                    x: idx
                        .iter()
                        .flat_map(|&i| d.images[i].iter().map(|&p| f32::from(p) / 16.0))
                        .collect(),
                    labels: idx.iter().map(|&i| d.labels[i]).collect(),
                    ..Dataset::default()
                };
                Ok(Some((pick(&train), pick(&test))))
            }
            "denoise" | "sr2" => {
                let (i, o) = (net.input, net.output());
                // sr2: a network whose output tile is its input tile sees
                // the bicubic up-sampling (SRCNN / VDSR); otherwise the
                // down-sampled image, up-sampled ×2 by the network.
                let kind = match name.as_str() {
                    "sr2" if o.h == i.h && o.w == i.w => Restoration::Sr2Upsampled,
                    "sr2" => Restoration::Sr2,
                    _ => Restoration::Denoise,
                };
                let s = if kind == Restoration::Sr2 { 2 } else { 1 };
                let fits = i.c == 1
                    && o.c == 1
                    && o.h == i.h * s
                    && o.w == i.w * s
                    && IMAGE_SIDE.is_multiple_of(o.h)
                    && IMAGE_SIDE.is_multiple_of(o.w);
                if !fits || classify {
                    return Err(err(
                        "data.builtin",
                        format!(
                            "`{name}` maps a [1, h, w] tile to a [1, {s}h, {s}w] tile{} ({s}h and {s}w dividing {IMAGE_SIDE}) with loss mse or l1; the network maps {i} to {o} with loss {}",
                            if name == "sr2" { " (or, for the bicubic up-sampled input, to a [1, h, w] tile)" } else { "" },
                            net.loss.name()
                        ),
                    ));
                }
                Ok(load.then(|| restoration_data(kind, i.h, i.w, run_seed)))
            }
            other => Err(err("data.builtin", format!("unknown data set `{other}`"))),
        },
        DataSource::Synthetic {
            train,
            test,
            classes,
            seed,
        } => {
            let mut rng = stream(*seed, "data/synthetic");
            let mut make = |n: usize| {
                let x = (0..n * dim).map(|_| rng.random::<f32>()).collect();
                if classify {
                    Dataset {
                        dim,
                        x,
                        labels: (0..n)
                            .map(|_| rng.random_range(0..*classes) as u8)
                            .collect(),
                        ..Dataset::default()
                    }
                } else {
                    Dataset {
                        dim,
                        x,
                        target_dim: outputs,
                        targets: (0..n * outputs).map(|_| rng.random::<f32>()).collect(),
                        ..Dataset::default()
                    }
                }
            };
            if classify && *classes > 256 {
                return Err(err(
                    "data.synthetic.classes",
                    format!("{classes}; expected at most 256"),
                ));
            }
            if !load {
                return Ok(None);
            }
            let tr = make(*train);
            let te = make(*test);
            Ok(Some((tr, te)))
        }
        DataSource::Npz(path) => {
            let file = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|source| CoreError::Read {
                file: path.clone(),
                source,
            })?;
            let arrays = read_npz(&bytes).map_err(|m| CoreError::Invalid {
                file: file.clone(),
                field: ".".into(),
                message: m,
            })?;
            let get = |key: &str| -> Result<&NpyArray, CoreError> {
                arrays.get(key).ok_or_else(|| CoreError::Invalid {
                    file: file.clone(),
                    field: key.into(),
                    message: format!(
                        "missing; expected arrays x_train, y_train, x_test, y_test (found: {})",
                        arrays.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                })
            };
            let part = |xk: &str, yk: &str| -> Result<Dataset, CoreError> {
                let (x, y) = (get(xk)?, get(yk)?);
                let bad = |k: &str, m: String| CoreError::Invalid {
                    file: file.clone(),
                    field: k.into(),
                    message: m,
                };
                let n = *x.shape.first().unwrap_or(&0);
                if n == 0 || x.data.len() != n * dim {
                    return Err(bad(
                        xk,
                        format!("shape {:?}; expected [samples, …] with {} values per sample (input {})", x.shape, dim, net.input),
                    ));
                }
                if y.shape.first() != Some(&n) {
                    return Err(bad(
                        yk,
                        format!("shape {:?}; expected {n} samples as in {xk}", y.shape),
                    ));
                }
                if classify {
                    if y.data.len() != n || !y.integer {
                        return Err(bad(
                            yk,
                            format!("shape {:?}; expected {n} integer class labels", y.shape),
                        ));
                    }
                    let labels = y
                        .data
                        .iter()
                        .map(|&v| {
                            if v >= 0.0 && (v as usize) < outputs && v < 256.0 {
                                Ok(v as u8)
                            } else {
                                Err(bad(
                                    yk,
                                    format!("label {v}; expected 0..{}", outputs.min(256)),
                                ))
                            }
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(Dataset {
                        dim,
                        x: x.data.clone(),
                        labels,
                        ..Dataset::default()
                    })
                } else {
                    if y.data.len() != n * outputs {
                        return Err(bad(yk, format!("shape {:?}; expected [samples, …] with {outputs} values per sample (output {})", y.shape, net.output())));
                    }
                    Ok(Dataset {
                        dim,
                        x: x.data.clone(),
                        target_dim: outputs,
                        targets: y.data.clone(),
                        ..Dataset::default()
                    })
                }
            };
            Ok(Some((
                part("x_train", "y_train")?,
                part("x_test", "y_test")?,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{DataSource, Network, Workload};
    use std::path::Path;

    /// `tests/data/xor.npz`, written by
    /// `python3 -c "import numpy as np; x=np.array([[0,0],[0,1],[1,0],[1,1]]*4,dtype=np.float32); y=np.array([0,1,1,0]*4,dtype=np.int64); np.savez('xor.npz', x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])"`.
    #[test]
    fn npz_data_loads_relative_to_the_network_file() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let net = Network::from_file(&dir.join("xor.network.json")).unwrap();
        assert!(matches!(net.data, DataSource::Npz(_)));
        let w = Workload::from_network(net, 1).unwrap();
        assert_eq!((w.train.len(), w.test.len(), w.classes), (16, 4, 2));
        assert_eq!(w.train.input(3), [1.0, 1.0]);
        assert_eq!(w.train.labels[..4], [0, 1, 1, 0]);
    }

    #[test]
    fn npz_arrays_that_do_not_fit_are_named() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let text = std::fs::read_to_string(dir.join("xor.network.json"))
            .unwrap()
            .replace("\"input\": [2]", "\"input\": [3]");
        let net = Network::from_json("xor3.network.json", &text, &dir).unwrap();
        let e = Workload::from_network(net, 1).unwrap_err().to_string();
        assert!(
            e.contains("x_train") && e.contains("3 values per sample"),
            "{e}"
        );
    }

    #[test]
    fn synthetic_data_follows_its_own_seed() {
        let text = r#"{"schema": "aimsim.network/1", "name": "s", "input": [4],
            "data": {"synthetic": {"train": 10, "test": 3, "classes": 3, "seed": 5}},
            "layers": [{"kind": "dense", "outputs": 3}], "loss": "cross_entropy", "metric": "accuracy"}"#;
        let net = Network::from_json("s", text, Path::new(".")).unwrap();
        let a = Workload::from_network(net.clone(), 1).unwrap();
        let b = Workload::from_network(net, 2).unwrap();
        assert_eq!(a.train.x, b.train.x, "the file's seed, not the run's");
        assert_eq!((a.train.len(), a.test.len()), (10, 3));
        assert!(a.train.labels.iter().all(|&l| l < 3));
    }
}
