//! `aimsim reproduce eapu`: runs the EaPU paper's claims through the
//! facade ([`aimsim::reproduce_eapu`]), prints the claim table and writes
//! `reproduce.json`, `reproduce.md` and one SVG plot per claim group into
//! `--out` as one result set.

use crate::{bad, run_error};
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// What to reproduce.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Paper {
    /// The EaPU paper (Nat. Commun. 2025): accuracy under write noise, update ratio,
    /// training and inference energy, lifetime, energy against a GPU.
    Eapu,
}

/// `aimsim reproduce`.
#[derive(Parser)]
pub(crate) struct ReproduceArgs {
    /// The paper whose claims are run.
    paper: Paper,
    /// Fewer steps per workload (digits-mlp 1438, digits-cnn 720, denoise 600, sr2 600).
    #[arg(long)]
    quick: bool,
    /// Output directory for reproduce.json, reproduce.md and the plots.
    #[arg(long, default_value = "aimsim-reproduce")]
    out: PathBuf,
    /// Run seed of every experiment.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No progress lines and no table.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn cmd_reproduce(args: ReproduceArgs) -> anyhow::Result<()> {
    let Paper::Eapu = args.paper;
    let files = aimsim::reproduce_files();
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    aimsim::fsout::check_output_dir(&args.out, &names)
        .map_err(|e| bad(anyhow::anyhow!("--out {e}")))?;
    let opts = aimsim::ReproduceOptions {
        quick: args.quick,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let quiet = args.quiet;
    let mut progress = |i: usize, n: usize, command: &str| {
        if !quiet {
            let _ = writeln!(
                std::io::stderr(),
                "[{}/{n}] {command}  ({:.1} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    };
    let rep = aimsim::reproduce_eapu(&opts, &mut progress).map_err(run_error)?;
    let wall = started.elapsed().as_secs_f64();
    rep.write(&args.out).map_err(run_error)?;
    if !quiet {
        let mut out = std::io::stdout();
        writeln!(
            out,
            "aimsim reproduce eapu ({} mode, seed {}): {} runs, {} claims in {wall:.1} s wall",
            rep.mode,
            rep.seed,
            rep.runs.len(),
            rep.claims.len()
        )?;
        let w = rep
            .claims
            .iter()
            .map(|c| c.claim.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        for c in &rep.claims {
            writeln!(out, "  {:<w$}  paper {}", c.claim, c.paper)?;
            writeln!(out, "  {:<w$}  aimsim {}  [{}]", "", c.aimsim, c.id)?;
        }
        writeln!(
            out,
            "wrote {}/reproduce.json, reproduce.md and {} plots",
            args.out.display(),
            aimsim::CLAIM_GROUPS.len()
        )?;
    }
    Ok(())
}
