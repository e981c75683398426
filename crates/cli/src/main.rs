//! `aimsim`: the command line of the simulator (DESIGN.md §3).
//!
//! Exit status: 0 on success, 2 for bad input (a file, field or option that
//! cannot be used, named in the message), 1 for any other failure. Outputs
//! are written only after a run succeeds (each file through a temporary
//! name and a rename), so bad input never leaves a partial file.

use aimsim::{AimsimError, Report, RunSpec, Simulation, VcdOptions};
use aimsim_device::{builtin_device, builtin_devices, synthesize, SynthOptions};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod sweep;

#[derive(Parser)]
#[command(
    name = "aimsim",
    version,
    about = "Cycle-level simulator of a 180 nm analog in-memory training chip"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a workload on a chip and report accuracy, energy, time, writes and lifetime.
    Run(Box<RunArgs>),
    /// List the built-in devices with their key figures.
    Devices,
    /// Fit a device file to measured conductance data (aimsim.measured/1) and print the fit report.
    Calibrate(CalibrateArgs),
    /// Synthesise measured conductance data (aimsim.measured/1) from a device file.
    Synth(SynthArgs),
    /// Design-space sweeps: run (parallel, resumable, --shard), slurm, merge, report.
    Sweep(sweep::SweepArgs),
}

#[derive(Parser)]
struct CalibrateArgs {
    /// Measured data (JSON, schema aimsim.measured/1).
    measured: PathBuf,
    /// Write the fitted device file here (default: print it after the report).
    #[arg(short, long, value_name = "DEVICE.json")]
    out: Option<PathBuf>,
    /// Name of the fitted device (default: the measured file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Conductance of one weight unit, µS (default: 0.8 × the fitted window).
    #[arg(long)]
    r_wg_us: Option<f64>,
    /// Print only the device file, no report.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Parser)]
struct SynthArgs {
    /// Device file (JSON, schema aimsim.device/1) or a built-in device name.
    device: String,
    /// Write the measured data here (default: standard output).
    #[arg(short, long, value_name = "MEASURED.json")]
    out: Option<PathBuf>,
    /// Devices (cells) measured.
    #[arg(long, default_value_t = 8)]
    devices: usize,
    /// SET-then-RESET cycles per device.
    #[arg(long, default_value_t = 10)]
    cycles: usize,
    /// Pulses per train (default: twice the window over the mid-window step, at most 2000).
    #[arg(long)]
    pulses: Option<usize>,
    /// Repeated reads of each device's final state.
    #[arg(long, default_value_t = 0)]
    reads: usize,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Override a device field: device.PATH=VALUE (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
}

#[derive(Parser)]
struct RunArgs {
    /// Chip file (JSON, schema aimsim.chip/1) or a built-in chip name.
    #[arg(long, default_value = "eapu-180nm")]
    chip: String,
    /// Device file (JSON, schema aimsim.device/1) or a built-in device name (default: the chip's).
    #[arg(long)]
    device: Option<String>,
    /// Workload (same as --set train.workload=NAME).
    #[arg(long)]
    workload: Option<String>,
    /// Write scheduler: eapu, bp, stochastic-pulse, mixed-precision, write-verify or ideal
    /// (same as --set chip.rule.name=NAME).
    #[arg(long)]
    rule: Option<String>,
    /// Training algorithm: backprop.
    #[arg(long)]
    algorithm: Option<String>,
    /// Passes over the training set (same as --set train.epochs=N).
    #[arg(long)]
    epochs: Option<u32>,
    /// Stop after N training steps (same as --set train.steps=N).
    #[arg(long)]
    steps: Option<u64>,
    /// Rows of energy.csv and lifetime.csv every N steps (same as --set train.trace_every=N).
    #[arg(long, value_name = "N")]
    trace_every: Option<u64>,
    /// Run seed: every random stream derives from it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory for report.json, energy.csv and lifetime.csv.
    #[arg(long, default_value = "aimsim-out")]
    out: PathBuf,
    /// Write a VCD waveform of the run to FILE.
    #[arg(long, value_name = "FILE")]
    vcd: Option<PathBuf>,
    /// First training step written to the VCD.
    #[arg(long, default_value_t = 0)]
    vcd_from: u64,
    /// Training step at which the VCD stops (exclusive).
    #[arg(long)]
    vcd_to: Option<u64>,
    /// Only these VCD signals (comma-separated globs over dotted names, e.g. "controller.*,tile0.busy").
    #[arg(long, value_delimiter = ',')]
    vcd_signals: Vec<String>,
    /// Override a configuration field: chip.PATH, device.PATH or train.PATH (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// No progress bar or summary.
    #[arg(long, short)]
    quiet: bool,
}

/// An error from bad input (exit status 2) rather than a failure of the run.
#[derive(Debug)]
struct BadInput(anyhow::Error);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}
impl std::error::Error for BadInput {}

fn bad(e: impl Into<anyhow::Error>) -> anyhow::Error {
    BadInput(e.into()).into()
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("AIMSIM_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cmd_run(*args),
        Command::Devices => cmd_devices(),
        Command::Calibrate(args) => cmd_calibrate(args),
        Command::Synth(args) => cmd_synth(args),
        Command::Sweep(args) => sweep::cmd_sweep(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(b) = e.downcast_ref::<BadInput>() {
                eprintln!("error: {b}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
}

/// The run's spec from the command line: `--set` pairs in order, the
/// named options on top.
fn run_spec(args: &RunArgs) -> anyhow::Result<RunSpec> {
    let mut b = RunSpec::builder().chip(&args.chip).seed(args.seed);
    for spec in &args.set {
        let (path, value) = spec
            .split_once('=')
            .ok_or_else(|| bad(anyhow::anyhow!("--set {spec}: expected PATH=VALUE")))?;
        b = b.set(path, value);
    }
    if let Some(d) = &args.device {
        b = b.device(d);
    }
    if let Some(r) = &args.rule {
        b = b.rule(r);
    }
    if let Some(a) = &args.algorithm {
        b = b.algorithm(a);
    }
    if let Some(w) = &args.workload {
        b = b.workload(w);
    }
    if let Some(e) = args.epochs {
        b = b.epochs(e);
    }
    if let Some(s) = args.steps {
        b = b.steps(s);
    }
    if let Some(n) = args.trace_every {
        b = b.trace_every(n);
    }
    b.build().map_err(run_error)
}

/// Bad input of a run exits 2; anything else 1.
fn run_error(e: AimsimError) -> anyhow::Error {
    if e.is_bad_input() {
        bad(e)
    } else {
        e.into()
    }
}

fn cmd_run(args: RunArgs) -> anyhow::Result<()> {
    let spec = run_spec(&args)?;
    check_output_paths(&args)?;
    let mut sim = Simulation::new(&spec).map_err(run_error)?;
    let vcd_tmp = args.vcd.as_ref().map(|p| tmp_name(p));
    if let Some(p) = &vcd_tmp {
        let f = std::fs::File::create(p)
            .with_context(|| format!("cannot create VCD file {}", p.display()))?;
        let opts = VcdOptions {
            from_step: args.vcd_from,
            to_step: args.vcd_to,
            select: args.vcd_signals.clone(),
        };
        if let Err(e) = sim.attach_vcd(Box::new(std::io::BufWriter::new(f)), &opts) {
            let _ = std::fs::remove_file(p);
            return Err(run_error(e));
        }
    }
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(sim.total_steps());
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} training [{bar:40}] {pos}/{len} steps ({per_sec}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b
    };
    let mut progress = |step: u64, total: u64| {
        if step.is_multiple_of(64) || step == total {
            bar.set_position(step);
        }
    };
    let started = std::time::Instant::now();
    let result = sim
        .run(&mut progress)
        .and_then(|()| sim.report().map(|_| ()));
    bar.finish_and_clear();
    if let Err(e) = result {
        if let Some(p) = &vcd_tmp {
            let _ = std::fs::remove_file(p);
        }
        return Err(run_error(e));
    }
    let wall = started.elapsed().as_secs_f64();
    sim.write_outputs(&args.out)?;
    if let (Some(tmp), Some(dst)) = (&vcd_tmp, &args.vcd) {
        std::fs::rename(tmp, dst).with_context(|| format!("cannot write {}", dst.display()))?;
    }
    if !args.quiet {
        print_summary(sim.report()?, &args, wall);
    }
    Ok(())
}

fn tmp_name(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Writes a file through a temporary name and a rename.
fn write_atomic(path: &Path, content: &str) -> anyhow::Result<()> {
    let tmp = tmp_name(path);
    std::fs::write(&tmp, content).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Output paths a run cannot use are bad input, found before anything runs
/// or is written: `--out` must be a directory or not exist yet, and the
/// folder of `--vcd` must exist.
fn check_output_paths(args: &RunArgs) -> anyhow::Result<()> {
    if args.out.exists() && !args.out.is_dir() {
        return Err(bad(anyhow::anyhow!(
            "--out {}: exists and is not a directory",
            args.out.display()
        )));
    }
    if let Some(v) = &args.vcd {
        let parent = v.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = parent.filter(|p| !p.is_dir()) {
            return Err(bad(anyhow::anyhow!(
                "--vcd {}: the folder {} does not exist",
                v.display(),
                p.display()
            )));
        }
        if v.is_dir() {
            return Err(bad(anyhow::anyhow!(
                "--vcd {}: is a directory",
                v.display()
            )));
        }
    }
    Ok(())
}

fn print_summary(r: &Report, args: &RunArgs, wall_s: f64) {
    let e = &r.energy_pj;
    println!(
        "aimsim run: {} on chip {} (device {}), rule {}, seed {}",
        r.workload.name, r.chip, r.device, r.rule, r.seed
    );
    println!(
        "  test {}         {:.4} after {} steps",
        r.workload.metric.name, r.workload.metric.value, r.workload.steps
    );
    println!(
        "  simulated time  {} cycles = {:.3} ms at {:.0} MHz ({} update cycles)",
        r.time.cycles,
        r.time.seconds * 1e3,
        r.time.clock_hz / 1e6,
        r.time.update_cycles
    );
    let mut parts: Vec<(&String, &f64)> = e.by_component.iter().collect();
    parts.sort_by(|a, b| b.1.total_cmp(a.1));
    let share = parts
        .iter()
        .map(|(k, v)| format!("{k} {:.1}%", 100.0 * **v / e.total.max(f64::MIN_POSITIVE)))
        .collect::<Vec<_>>()
        .join(", ");
    println!("  energy          {:.4} µJ ({share})", e.total * 1e-6);
    println!(
        "  update energy   {:.4} µJ",
        e.by_phase.get("update").copied().unwrap_or(0.0) * 1e-6
    );
    println!(
        "  inference       {:.3} nJ and {:.3} µs per test sample ({} samples, own ledger)",
        r.inference.energy_pj_per_sample * 1e-3,
        r.inference.seconds_per_sample * 1e6,
        r.inference.samples
    );
    println!(
        "  writes          {} cells, {} pulses; update fraction {:.3e} of cells per step, max {} pulses on one cell",
        r.writes.cell_writes, r.writes.pulses, r.writes.update_fraction, r.writes.max_per_cell
    );
    println!(
        "  lifetime        median endurance {} pulses, {} failed cells, first wear-out projected after {} steps",
        r.lifetime.endurance_pulses_median,
        r.lifetime.failed_cells,
        r.lifetime
            .projected_steps_to_first_failure
            .map_or("(no writes)".to_string(), |s| s.to_string())
    );
    println!(
        "  wrote           {}/report.json, energy.csv, lifetime.csv{} ({wall_s:.1} s wall)",
        args.out.display(),
        args.vcd
            .as_ref()
            .map_or(String::new(), |v| format!(", {}", v.display()))
    );
}

fn cmd_calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    let file = args.measured.display().to_string();
    let fit = aimsim::calibrate_file(&args.measured, args.name.clone(), args.r_wg_us)
        .map_err(run_error)?;
    let (cal, sha) = (fit.calibration, fit.sha256);
    let mut json = serde_json::to_string_pretty(&cal.device)?;
    json.push('\n');
    if !args.quiet {
        println!("aimsim calibrate: {file} (sha256 {sha})");
        print!("{}", cal.report.render());
    }
    match &args.out {
        Some(p) => {
            write_atomic(p, &json)?;
            if !args.quiet {
                println!("\nwrote device file {}", p.display());
            }
        }
        None => {
            if !args.quiet {
                println!("\ndevice file:");
            }
            print!("{json}");
        }
    }
    Ok(())
}

fn cmd_synth(args: SynthArgs) -> anyhow::Result<()> {
    let mut over = Vec::new();
    for spec in &args.set {
        let (path, value) = spec
            .split_once('=')
            .ok_or_else(|| bad(anyhow::anyhow!("--set {spec}: expected PATH=VALUE")))?;
        let rest = path.strip_prefix("device.").ok_or_else(|| {
            bad(anyhow::anyhow!(
                "--set {spec}: synth only takes device. overrides"
            ))
        })?;
        over.push((rest.to_string(), value.to_string()));
    }
    let device = aimsim::load_device(&args.device, &over).map_err(run_error)?;
    if args.devices == 0 || args.cycles == 0 || args.pulses == Some(0) {
        return Err(bad(anyhow::anyhow!(
            "--devices, --cycles and --pulses must be at least 1"
        )));
    }
    let raw = synthesize(
        &device,
        &SynthOptions {
            devices: args.devices,
            cycles: args.cycles,
            pulses: args.pulses,
            reads: args.reads,
            seed: args.seed,
        },
    );
    let mut json = serde_json::to_string(&raw)?;
    json.push('\n');
    match &args.out {
        Some(p) => write_atomic(p, &json)?,
        None => print!("{json}"),
    }
    Ok(())
}

fn cmd_devices() -> anyhow::Result<()> {
    println!(
        "{:<11} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "device",
        "model",
        "G_min µS",
        "G_max µS",
        "R_wg µS",
        "SET µS",
        "RESET µS",
        "ν S/R",
        "σ_w µS",
        "σ_r µS",
        "endurance"
    );
    for name in builtin_devices() {
        let d = builtin_device(name, &[])?;
        println!(
            "{:<11} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10.2e}",
            d.name,
            d.pulse_model.name(),
            sig4(d.g_min_us),
            sig4(d.g_max_us),
            sig4(d.r_wg_us),
            sig4(d.step_set_us),
            sig4(d.step_reset_us),
            format!("{}/{}", d.nonlinearity_set, d.nonlinearity_reset),
            sig4(d.write_noise_us),
            sig4(d.read_noise_us),
            d.endurance_median_pulses
        );
    }
    Ok(())
}

/// Four significant digits in at most 9 characters.
fn sig4(x: f32) -> String {
    if x == 0.0 || (0.1..1e5).contains(&x.abs()) {
        format!("{:.4}", x).chars().take(7).collect::<String>()
    } else {
        format!("{x:.3e}")
    }
}
