//! The GPU reference on the command line (docs/gpu-model.md): `aimsim
//! gpus` lists the built-in GPU files with each figure's source, `aimsim
//! gpu-estimate` models a network's training on a GPU alone, and `run
//! --gpu` picks the GPU of the report's `gpu` section.

use crate::bad;
use aimsim::workload::{builtin_network, Network};
use aimsim::{estimate_step, Gpu, Report, Sourced, DEFAULT_GPU};
use clap::Parser;
use std::io::Write;
use std::path::Path;

/// `aimsim gpu-estimate`.
#[derive(Parser)]
pub(crate) struct GpuEstimateArgs {
    /// Network file (JSON, schema aimsim.network/1) or a built-in workload name.
    #[arg(long, value_name = "FILE")]
    network: String,
    /// Samples per training step.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// Training steps (the totals are per step × steps).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// A built-in GPU (V100, A100, H100) or a GPU file (JSON, schema aimsim.gpu/1).
    #[arg(long, default_value = DEFAULT_GPU, value_name = "NAME|FILE")]
    gpu: String,
}

/// Loads `--gpu NAME|FILE`; a bad file or name is bad input (exit 2).
pub(crate) fn load_gpu(spec: &str) -> anyhow::Result<Gpu> {
    Gpu::load(spec).map_err(|e| bad(anyhow::anyhow!("--gpu {e}")))
}

/// `aimsim gpus`: every built-in GPU, each figure with its source.
pub(crate) fn cmd_gpus() -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    for g in Gpu::builtins() {
        writeln!(out, "{} ({})", g.name, g.model)?;
        let rows: [(&str, &Sourced); 8] = [
            ("board power W", &g.board_power_w),
            ("idle power W", &g.idle_power_w),
            ("peak FP32 TFLOP/s", &g.peak_fp32_tflops),
            ("peak BF16/FP16 TFLOP/s", &g.peak_tensor_tflops),
            ("memory bandwidth GB/s", &g.memory_bandwidth_gbs),
            ("kernel launch µs", &g.kernel_launch_us),
            ("achievable compute", &g.achievable_compute_fraction),
            ("achievable bandwidth", &g.achievable_bandwidth_fraction),
        ];
        for (label, s) in rows {
            writeln!(out, "  {label:<23} {:>8}  {}", s.value, s.source)?;
        }
    }
    Ok(())
}

/// `aimsim gpu-estimate`: the GPU model for a network too large for the chip.
pub(crate) fn cmd_gpu_estimate(args: GpuEstimateArgs) -> anyhow::Result<()> {
    let gpu = load_gpu(&args.gpu)?;
    let net = match builtin_network(&args.network) {
        Some(n) => n,
        None => Network::from_file(Path::new(&args.network))
            .map_err(|e| bad(anyhow::anyhow!("--network {e}")))?,
    };
    let s = estimate_step(&gpu, &net, args.batch);
    let n = args.steps as f64;
    let per_sample = s.energy_j / args.batch as f64;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "aimsim gpu-estimate: {} (parameters {}, MACs/sample {}) at batch {} on {} ({})",
        net.name,
        net.parameters(),
        net.macs_per_sample(),
        args.batch,
        gpu.name,
        gpu.model
    )?;
    writeln!(
        out,
        "  per step        {} kernels ({} launch-bound), {:.4e} FLOP, {:.4e} B",
        s.kernels, s.launch_bound_kernels, s.flops, s.bytes
    )?;
    writeln!(
        out,
        "  per step        {:.4e} s, {:.4e} J{} (FLOP-only lower bound {:.4e} J)",
        s.time_s,
        s.energy_j,
        if gpu.measured_step_j.is_some() {
            " measured"
        } else {
            ""
        },
        s.energy_j_flop_bound
    )?;
    writeln!(out, "  per sample      {per_sample:.4e} J")?;
    writeln!(
        out,
        "  {} steps        {:.4e} s, {:.4e} J (FLOP-only {:.4e} J)",
        args.steps,
        s.time_s * n,
        s.energy_j * n,
        s.energy_j_flop_bound * n
    )?;
    Ok(())
}

/// The summary's line for the report's `gpu` section.
pub(crate) fn print_gpu_line(r: &Report) -> std::io::Result<()> {
    let g = &r.gpu;
    writeln!(
        std::io::stdout(),
        "  vs GPU          {} at batch {}: {:.4} J in {:.4} s (FLOP-only {:.3e} J); {:.3e}× the chip's training energy",
        g.reference,
        g.batch,
        g.energy_pj * 1e-12,
        g.time_s,
        g.energy_pj_flop_bound * 1e-12,
        g.ratio
    )
}
