//! `aimsim sweep`: design-space sweeps (DESIGN.md §5) — argument parsing,
//! the progress bar and messages; the work is in `aimsim-sweep`.

use aimsim_sweep::{
    merge, run_sweep, write_report, write_slurm, Plan, Progress, RunOptions, Shard, SlurmOptions,
    SweepError,
};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `aimsim sweep SPEC.json [--out DIR] [--jobs N] [--shard K/N]`, or one of
/// the subcommands.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SweepArgs {
    #[command(subcommand)]
    command: Option<SweepCommand>,
    #[command(flatten)]
    run: SweepRunArgs,
}

#[derive(Args)]
struct SweepRunArgs {
    /// Sweep spec (JSON, schema aimsim.sweep/1).
    #[arg(required = true, value_name = "SPEC.json")]
    spec: Option<PathBuf>,
    /// Sweep folder: results.jsonl, results.csv, the journal points/; rerun to resume.
    #[arg(long, default_value = "aimsim-sweep")]
    out: PathBuf,
    /// Points run at once (default: the number of CPUs; at most 1024).
    #[arg(long, short, value_parser = job_count)]
    jobs: Option<usize>,
    /// Run only slice K of N (default: from SLURM_ARRAY_TASK_ID/COUNT inside a job array, else 1/1).
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// No progress bar or summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand)]
enum SweepCommand {
    /// Write a SLURM job array (OUT/sweep.sbatch) and its merge job (OUT/merge.sbatch); print the sbatch command.
    Slurm(SlurmArgs),
    /// Join sweep folders (shards) into the files of one run, checking every point is there once.
    Merge(MergeArgs),
    /// Write Pareto fronts and one-axis sensitivity plots (SVG) and report.md for a sweep folder.
    Report(ReportArgs),
}

#[derive(Args)]
struct SlurmArgs {
    /// Sweep spec (JSON, schema aimsim.sweep/1).
    #[arg(value_name = "SPEC.json")]
    spec: PathBuf,
    /// Array tasks (shards).
    #[arg(long)]
    array: usize,
    /// Sweep folder of the jobs.
    #[arg(long)]
    out: PathBuf,
    /// SLURM partition.
    #[arg(long)]
    partition: Option<String>,
    /// Time limit of each task (SLURM format, e.g. 01:00:00).
    #[arg(long)]
    time: Option<String>,
    /// CPUs per task (points run at once in each task; at most 1024).
    #[arg(long, default_value_t = 1)]
    cpus: usize,
}

#[derive(Args)]
struct MergeArgs {
    /// Sweep folders to join.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Folder of the merged sweep.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ReportArgs {
    /// A finished sweep folder.
    dir: PathBuf,
}

/// A `--jobs` count: 1 to [`aimsim::engine::MAX_THREADS`].
fn job_count(s: &str) -> Result<usize, String> {
    crate::count_up_to(s, 1, aimsim::engine::MAX_THREADS)
}

/// Bad input of a sweep exits 2; an I/O failure 1.
fn sweep_error(e: SweepError) -> anyhow::Error {
    if e.is_bad_input() {
        crate::bad(e)
    } else {
        e.into()
    }
}

pub(crate) fn cmd_sweep(args: SweepArgs) -> anyhow::Result<()> {
    match args.command {
        Some(SweepCommand::Slurm(a)) => cmd_slurm(a),
        Some(SweepCommand::Merge(a)) => {
            let n = merge(&a.dirs, &a.out).map_err(sweep_error)?;
            println!(
                "aimsim sweep merge: {n} points from {} folders into {}",
                a.dirs.len(),
                a.out.display()
            );
            Ok(())
        }
        Some(SweepCommand::Report(a)) => {
            let files = write_report(&a.dir).map_err(sweep_error)?;
            println!("aimsim sweep report: wrote {}", files.markdown.display());
            for p in files.plots {
                println!("  {}", p.display());
            }
            Ok(())
        }
        None => cmd_run(args.run),
    }
}

fn cmd_run(a: SweepRunArgs) -> anyhow::Result<()> {
    let spec = a.spec.as_deref().expect("clap requires SPEC");
    let shard = match &a.shard {
        Some(s) => Shard::parse(s).map_err(sweep_error)?,
        None => Shard::from_slurm(|k| std::env::var(k).ok())
            .map_err(sweep_error)?
            .unwrap_or(Shard::ALL),
    };
    let jobs = match a.jobs {
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(aimsim::engine::MAX_THREADS),
    };
    // Every point's run spec is resolved here, before any point runs.
    let plan = Plan::read(spec).map_err(sweep_error)?;
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        // Drawn on stderr only when it is a terminal.
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} sweep [{bar:40}] {pos}/{len} points ({msg}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b
    };
    let resumed = std::sync::atomic::AtomicBool::new(false);
    let progress = |p: &Progress| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(format!("{} failed", p.failed));
        // Points found in the journal took no time: the ETA counts from here.
        if !resumed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            bar.reset_eta();
        }
    };
    let opts = RunOptions {
        out: a.out.clone(),
        jobs,
        shard,
    };
    let started = std::time::Instant::now();
    let summary = run_sweep(&plan, &opts, &progress).map_err(sweep_error);
    bar.finish_and_clear();
    let summary = summary?;
    if !a.quiet {
        println!(
            "aimsim sweep: shard {shard} of {}: {} points ({} resumed, {} run on {} thread{} in {:.1} s, {} failed) in {}",
            spec.display(),
            summary.points,
            summary.resumed,
            summary.ran,
            summary.threads,
            if summary.threads == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64(),
            summary.failed,
            a.out.display()
        );
    }
    Ok(())
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
}

fn cmd_slurm(a: SlurmArgs) -> anyhow::Result<()> {
    // The jobs must not fail on a spec that could have been checked here.
    Plan::read(&a.spec).map_err(sweep_error)?;
    let files = write_slurm(&SlurmOptions {
        spec: a.spec.clone(),
        out: absolute(&a.out)?,
        array: a.array,
        partition: a.partition,
        time: a.time,
        cpus: a.cpus,
        exe: std::env::current_exe().context("cannot find the aimsim binary")?,
        workdir: std::env::current_dir().context("cannot read the current folder")?,
    })
    .map_err(sweep_error)?;
    println!(
        "aimsim sweep slurm: wrote {} and {}; submit with:",
        files.sweep.display(),
        files.merge.display()
    );
    println!("{}", files.submit);
    Ok(())
}
