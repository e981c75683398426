//! `aimsim`: the command line of the simulator (DESIGN.md §3).
//!
//! Exit status: 0 on success, 2 for bad input (a file, field or option that
//! cannot be used, named in the message), 1 for any other failure. Outputs
//! are checked before a run and written only after it succeeds, by
//! `aimsim::fsout` (hidden temporary names, renames, a result set replaced
//! as a set, only regular files replaced), so bad input never leaves a
//! partial file. A closed standard output (`aimsim devices | head -1`)
//! ends the command quietly.

/// `print!` and `println!` that return a closed pipe as an error (the
/// standard ones panic); the caller's `?` ends the command.
macro_rules! print {
    ($($t:tt)*) => { write!(std::io::stdout(), $($t)*)? };
}
macro_rules! println {
    ($($t:tt)*) => { writeln!(std::io::stdout(), $($t)*)? };
}

use aimsim::{AimsimError, Report, RunSpec, Simulation, VcdOptions};
use aimsim_device::{
    builtin_device, builtin_devices, builtin_mram, builtin_mram_devices, synthesize, Polarity,
    SynthOptions,
};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

mod gpus;
mod reproduce;
mod sweep;
mod workloads;

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
    /// List the built-in GPUs of the GPU reference, each figure with its source.
    Gpus,
    /// Model a network's training on a GPU alone (for networks too large for the chip).
    GpuEstimate(gpus::GpuEstimateArgs),
    /// List the built-in workloads with their layers, parameters and MACs per sample.
    Workloads,
    /// Fit a device file to measured conductance data (aimsim.measured/1) and print the fit report.
    Calibrate(CalibrateArgs),
    /// Synthesise measured conductance data (aimsim.measured/1) from a device file.
    Synth(SynthArgs),
    /// Design-space sweeps: run (parallel, resumable, --shard), slurm, merge, report.
    Sweep(sweep::SweepArgs),
    /// Run a paper's claims on aimsim's workloads: `aimsim reproduce eapu [--quick] [--out DIR]`.
    Reproduce(reproduce::ReproduceArgs),
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
    /// Device file (JSON, schema aimsim.device/1 or aimsim.mram/1) or a
    /// built-in device name; an STT-MRAM device gives switching-probability
    /// curves (4 widths × 28 currents, `cycles × 100` pulses per point).
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
    /// Network file (JSON, schema aimsim.network/1) to train instead of a built-in workload.
    #[arg(long, value_name = "FILE")]
    network: Option<String>,
    /// Write scheduler: eapu, bp, stochastic-pulse, mixed-precision, write-verify or ideal
    /// (same as --set chip.rule.name=NAME).
    #[arg(long)]
    rule: Option<String>,
    /// Training algorithm: backprop (default), hge, madem, tiki-taka
    /// (parameters: --set train.hge.*, train.madem.*, train.tiki_taka.*).
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
    /// Write each restored test image of an image workload (denoise, sr2) to DIR as
    /// NAME.input.png, NAME.output.png and NAME.target.png.
    #[arg(long, value_name = "DIR")]
    save_images: Option<PathBuf>,
    /// GPU of the report's `gpu` section: V100, A100, H100 or a GPU file (aimsim.gpu/1).
    #[arg(long, default_value = aimsim::DEFAULT_GPU, value_name = "NAME|FILE")]
    gpu: String,
    /// Threads computing the tiles' reads and EaPU updates (0: one
    /// per CPU; at most 1024). Results are the same bits for any number.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = thread_count)]
    threads: usize,
    /// Also write SVG plots into --out: energy.svg (energy by component and phase),
    /// progress.svg (writes and energy per step), pulses.svg (pulses per cell).
    #[arg(long)]
    plots: bool,
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

/// A `--threads` count: 0 (one per CPU) to [`aimsim::engine::MAX_THREADS`].
fn thread_count(s: &str) -> Result<usize, String> {
    count_up_to(s, 0, aimsim::engine::MAX_THREADS)
}

/// A count from `min` to `max`, with a message saying so.
pub(crate) fn count_up_to(s: &str, min: usize, max: usize) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

fn bad(e: impl Into<anyhow::Error>) -> anyhow::Error {
    BadInput(e.into()).into()
}

/// Fixes glibc `malloc`'s mmap threshold at its default, 128 KiB, which
/// turns off its dynamic thresholds (mallopt(3)): otherwise each freed
/// block above the threshold raises it to the block's size (up to 32 MiB)
/// and the trim threshold to twice that, and from then on blocks of that
/// size come from the heap and up to twice that much freed memory stays
/// resident at the top of each thread's arena. A run's steps do not
/// allocate such blocks again and again (counted with strace: no more
/// `mmap`, `munmap` or `brk` calls for 20 steps than for 10), so this costs
/// them no time; it lowered the peak resident memory of a 10⁷-cell chip
/// by 0.05–0.1 B per cell on 2 threads (docs/performance.md, "Memory").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_malloc_thresholds() {
    // SAFETY: sets an allocator parameter, before any other thread runs.
    // (A refusal, 0, leaves glibc's dynamic thresholds: nothing to do.)
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_malloc_thresholds() {}

fn main() -> ExitCode {
    fix_malloc_thresholds();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("AIMSIM_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = aimsim::fsout::remove_temp_files_on_signals() {
        tracing::warn!("no signal handler: {e}");
    }
    let result = match cli.command {
        Command::Run(args) => cmd_run(*args),
        Command::Devices => cmd_devices(),
        Command::Gpus => gpus::cmd_gpus(),
        Command::GpuEstimate(args) => gpus::cmd_gpu_estimate(args),
        Command::Workloads => workloads::cmd_workloads(),
        Command::Calibrate(args) => cmd_calibrate(args),
        Command::Synth(args) => cmd_synth(args),
        Command::Sweep(args) => sweep::cmd_sweep(args),
        Command::Reproduce(args) => reproduce::cmd_reproduce(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            };
            eprintln!("error: {}", message(&e));
            code
        }
    }
}

/// Whether the command stopped because its reader closed standard output.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, each said once: a cause whose text the
/// message already contains (an OS error an error type prints itself) is
/// not repeated.
fn message(e: &anyhow::Error) -> String {
    let e = e.downcast_ref::<BadInput>().map_or(e, |b| &b.0);
    let mut out = String::new();
    for c in e.chain() {
        let text = c.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
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
    if let Some(n) = &args.network {
        b = b.network(n);
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
    let gpu = gpus::load_gpu(&args.gpu)?;
    let mut sim = Simulation::new(&spec).map_err(run_error)?;
    // Trace rows go to temporary files as they are made: memory stays flat
    // however long the run.
    sim.spill_trace_rows().map_err(run_error)?;
    sim.set_gpu(gpu);
    sim.set_threads(args.threads).map_err(run_error)?;
    workloads::check_save_images(&sim, args.save_images.as_deref()).map_err(bad)?;
    // The VCD streams into a hidden temporary file (or straight into a
    // device), renamed into place after the run; the shared handle lets the
    // probe write it and this function commit it.
    let vcd = match &args.vcd {
        Some(p) => {
            let f = aimsim::fsout::OutputFile::create(p).map_err(run_error)?;
            let shared = SharedFile(
                std::sync::Arc::new(std::sync::Mutex::new(Some(f))),
                p.display().to_string(),
            );
            let opts = VcdOptions {
                from_step: args.vcd_from,
                to_step: args.vcd_to,
                select: args.vcd_signals.clone(),
            };
            sim.attach_vcd(Box::new(std::io::BufWriter::new(shared.clone())), &opts)
                .map_err(run_error)?;
            Some(shared)
        }
        None => None,
    };
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
    // Dropping the simulation drops the probe's handle; on error the
    // temporary VCD goes with the last handle.
    result.map_err(run_error)?;
    let wall = started.elapsed().as_secs_f64();
    if args.plots {
        sim.write_outputs_with_plots(&args.out)
    } else {
        sim.write_outputs(&args.out)
    }
    .map_err(run_error)?;
    if let Some(dir) = &args.save_images {
        workloads::save_images(&sim, dir)?;
    }
    if let Some(shared) = vcd {
        let f = shared.0.lock().expect("not poisoned").take();
        f.expect("committed once").commit().map_err(run_error)?;
    }
    if !args.quiet {
        print_summary(sim.report()?, &args, wall)?;
    }
    Ok(())
}

/// A file shared by the VCD probe (which writes it) and `cmd_run` (which
/// commits it when the run is done).
#[derive(Clone)]
struct SharedFile(
    std::sync::Arc<std::sync::Mutex<Option<aimsim::fsout::OutputFile>>>,
    String,
);

impl SharedFile {
    /// `e` naming the VCD file (the final path, never the temporary one).
    fn named(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", self.1))
    }
}

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock().expect("not poisoned").as_mut() {
            Some(f) => f.write(buf).map_err(|e| self.named(e)),
            None => Err(std::io::Error::other("the VCD is already committed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock().expect("not poisoned").as_mut() {
            Some(f) => f.flush().map_err(|e| self.named(e)),
            None => Ok(()),
        }
    }
}

/// Output paths a run cannot use are bad input, found before anything runs
/// or is written (`aimsim::fsout`'s checks: `--out` a writable folder or
/// creatable in one, its result files regular if present; `--vcd` nothing,
/// a regular file or a device, in a writable folder).
fn check_output_paths(args: &RunArgs) -> anyhow::Result<()> {
    let mut files = aimsim::OUTPUT_FILES.to_vec();
    if args.plots {
        files.extend(aimsim::PLOT_FILES);
    }
    aimsim::fsout::check_output_dir(&args.out, &files)
        .map_err(|e| bad(anyhow::anyhow!("--out {e}")))?;
    if let Some(v) = &args.vcd {
        aimsim::fsout::check_output_file(v).map_err(|e| bad(anyhow::anyhow!("--vcd {e}")))?;
    }
    Ok(())
}

fn print_summary(r: &Report, args: &RunArgs, wall_s: f64) -> anyhow::Result<()> {
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
    let update = e.by_phase.get("update").copied().unwrap_or(0.0);
    let u = &e.update_split;
    let pct = |v: f64| 100.0 * v / update.max(f64::MIN_POSITIVE);
    println!(
        "  update energy   {:.4} µJ (unit {}: forming {:.1}%, deciding {:.1}%, writing {:.1}%, static {:.1}%)",
        update * 1e-6,
        r.update_unit,
        pct(u.forming),
        pct(u.deciding),
        pct(u.writing),
        pct(u.static_pj)
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
    let a = &r.area_mm2;
    println!(
        "  area            {:.3} mm² over {} tiles ({})",
        a.total,
        a.tiles,
        a.by_component
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    gpus::print_gpu_line(r)?;
    println!(
        "  wrote           {}/report.json, energy.csv, lifetime.csv{}{} ({wall_s:.1} s wall)",
        args.out.display(),
        if args.plots {
            format!(", {}", aimsim::PLOT_FILES.join(", "))
        } else {
            String::new()
        },
        args.vcd
            .as_ref()
            .map_or(String::new(), |v| format!(", {}", v.display()))
    );
    Ok(())
}

fn cmd_calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    let file = args.measured.display().to_string();
    if let Some(p) = &args.out {
        aimsim::fsout::check_output_file(p).map_err(|e| bad(anyhow::anyhow!("--out {e}")))?;
    }
    let fit = aimsim::calibrate_file(&args.measured, args.name.clone(), args.r_wg_us)
        .map_err(run_error)?;
    let (cal, sha) = (fit.calibration, fit.sha256);
    let json = cal.device_json()?;
    if !args.quiet {
        println!("aimsim calibrate: {file} (sha256 {sha})");
        print!("{}", cal.report());
    }
    match &args.out {
        Some(p) => {
            aimsim::fsout::write_file(p, json.as_bytes()).map_err(run_error)?;
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
    check_synth_counts(&args)?;
    if let Some(p) = &args.out {
        aimsim::fsout::check_output_file(p).map_err(|e| bad(anyhow::anyhow!("--out {e}")))?;
    }
    let raw = match &device.mram {
        // Binary junctions: switching-probability curves, `cycles × 100`
        // pulses per point, and reads of both states.
        Some(m) => aimsim_device::synthesize_mram(
            m,
            args.devices,
            args.cycles as u64 * 100,
            args.reads.max(1),
            args.seed,
        ),
        None => synthesize(
            &device,
            &SynthOptions {
                devices: args.devices,
                cycles: args.cycles,
                pulses: args.pulses,
                reads: args.reads,
                seed: args.seed,
            },
        ),
    };
    let mut json = serde_json::to_string(&raw)?;
    json.push('\n');
    match &args.out {
        Some(p) => aimsim::fsout::write_file(p, json.as_bytes()).map_err(run_error)?,
        None => print!("{json}"),
    }
    Ok(())
}

/// The most values `synth` writes (devices × cycles × 2 trains × pulses +
/// devices × reads): 10⁷ numbers, ~200 MB of JSON.
const SYNTH_MAX_VALUES: u128 = 10_000_000;

/// `synth`'s counts must be at least 1 and their product bounded, so
/// memory and time are bounded before anything is allocated.
fn check_synth_counts(args: &SynthArgs) -> anyhow::Result<()> {
    if args.devices == 0 || args.cycles == 0 || args.pulses == Some(0) {
        return Err(bad(anyhow::anyhow!(
            "--devices, --cycles and --pulses must be at least 1"
        )));
    }
    let pulses = args.pulses.unwrap_or(2000) as u128;
    let (d, c, r) = (
        args.devices as u128,
        args.cycles as u128,
        args.reads as u128,
    );
    let values = d * c * 2 * pulses + d * r;
    if values > SYNTH_MAX_VALUES {
        let values = values as f64;
        return Err(bad(anyhow::anyhow!(
            "--devices {} --cycles {} --pulses {} --reads {}: {values:e} values, expected at most {SYNTH_MAX_VALUES:e} (devices × cycles × 2 × pulses + devices × reads; --pulses counts as 2000 when not given)",
            args.devices,
            args.cycles,
            pulses,
            args.reads
        )));
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
    for name in builtin_devices() {
        let d = builtin_device(name, &[])?;
        if let Some(f) = d.fefet {
            println!(
                "{name}: ferroelectric FET, each pulse switches q = {:.4} (SET, {} V) / {:.4} (RESET, {} V) of the unswitched domains, {:e} s pulses",
                f.fraction(Polarity::Set),
                f.set_voltage_v,
                f.fraction(Polarity::Reset),
                f.reset_voltage_v,
                f.pulse_width_s
            );
        }
    }
    println!();
    println!(
        "{:<14} {:>6} {:>9} {:>8} {:>7} {:>9} {:>11} {:>11} {:>10}",
        "binary device",
        "Δ",
        "I_c0 µA",
        "R_P Ω",
        "TMR",
        "t_p s",
        "I(p=½) µA",
        "E(p=½) pJ",
        "endurance"
    );
    for name in builtin_mram_devices() {
        let m = builtin_mram(name, &[])?;
        let i_half = m.current_for_probability_ua(0.5);
        println!(
            "{:<14} {:>6} {:>9} {:>8} {:>7} {:>9.2e} {:>11.4} {:>11.4} {:>10.2e}",
            m.name,
            m.thermal_stability,
            m.critical_current_ua,
            m.r_parallel_ohm,
            m.tmr,
            m.pulse_width_s,
            i_half,
            m.pulse_energy_pj(i_half, false),
            m.endurance_median_pulses
        );
    }
    println!("sources: the `provenance` of each file in devices/ (docs/device-model.md)");
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
