//! Workloads: networks read from `aimsim.network/1` files, the data sets
//! they learn from, the tensor operations of their digital periphery, and
//! their losses and metrics.
//!
//! * [`Network`]: a validated network file — layers `dense`, `conv2d`
//!   (im2col on the crossbar), `maxpool` / `avgpool`, `flatten`, residual
//!   `add`, `pixel_shuffle`; the loss and the metric; the data source.
//! * [`Workload`]: a network with its train / test [`Dataset`]s, from a
//!   built-in name ([`builtin_workload`], the embedded files of the
//!   repository's `networks/`) or a file ([`Workload::from_file`]).
//! * Data: the 8×8 digits ([`load_digits`], UCI optical digits, CC BY 4.0),
//!   NumPy `.npz` files ([`read_npz`]), or synthetic random data.
//! * [`shape`]: im2col / col2im, pooling and pixel shuffle on one sample
//!   stored channel-major (`C × H × W`).

mod data;
mod digits;
mod image_metrics;
mod images;
mod metrics;
mod netfile;
mod network;
mod npz;
pub mod shape;

pub use digits::{load_digits, Digits, DIGITS_TEST_EVERY};
pub use image_metrics::{psnr, ssim, ssim_fits};
pub use images::{bicubic, TestImage, DENOISE_SIGMA};
pub use metrics::{argmax, softmax_cross_entropy};
pub use netfile::{DataSource, Layer, LayerKind, Loss, Metric, Network, NETWORK_SCHEMA};
pub use network::{
    builtin_network, builtin_workload, Activation, Dataset, LayerSpec, Workload, WORKLOAD_NAMES,
};
pub use npz::{read_npy, read_npz, NpyArray};
pub use shape::{ConvGeometry, PoolKind, Shape};
