//! `aimsim workloads`: the built-in workloads, each with its layers (shape
//! after each, crossbar matrix and tiles it needs on the default chip's
//! arrays), parameters and MACs per sample; and `run --save-images`.

use aimsim::workload::{builtin_network, Network, WORKLOAD_NAMES};
use aimsim::Simulation;
use std::io::Write;
use std::path::Path;

/// Prints every built-in workload.
pub(crate) fn cmd_workloads() -> anyhow::Result<()> {
    let chip = aimsim::load_chip("eapu-180nm", &[])?;
    let (rows, cols) = (chip.tile_rows, chip.tile_cols);
    for name in WORKLOAD_NAMES {
        let net = builtin_network(name).expect("listed built-in");
        print_network(&net, rows, cols)?;
    }
    Ok(())
}

fn print_network(net: &Network, rows: usize, cols: usize) -> std::io::Result<()> {
    writeln!(
        std::io::stdout(),
        "{}  input {}  loss {}  metric {}  parameters {}  MACs/sample {}",
        net.name,
        net.input,
        net.loss.name(),
        net.metric.name(),
        net.parameters(),
        net.macs_per_sample()
    )?;
    for (i, l) in net.layers.iter().enumerate() {
        let matrix = match l.matrix() {
            Some((r, c)) => format!(
                "  matrix {r}×{c} on {} tile(s) of {rows}×{cols} weights",
                r.div_ceil(rows) * c.div_ceil(cols)
            ),
            None => String::new(),
        };
        writeln!(
            std::io::stdout(),
            "  {i:>2} {:<13} → {}{matrix}",
            l.kind_name(),
            l.output
        )?;
    }
    Ok(())
}

/// `--save-images` needs a workload with test images (checked before the
/// run, so bad input writes nothing).
pub(crate) fn check_save_images(sim: &Simulation, dir: Option<&Path>) -> anyhow::Result<()> {
    if dir.is_some() && !sim.has_test_images() {
        anyhow::bail!(
            "--save-images: workload `{}` has no test images; expected denoise, sr2 or a network with builtin image data",
            sim.workload_name()
        );
    }
    Ok(())
}

/// Writes the restored test images of a finished run into `dir`.
pub(crate) fn save_images(sim: &Simulation, dir: &Path) -> anyhow::Result<()> {
    aimsim::write_images(dir, sim.restored_images())?;
    Ok(())
}
