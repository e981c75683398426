//! `aimsim reproduce eapu`: the EaPU paper's claims (REFERENCES.md, "The
//! EaPU paper"; DESIGN.md §1.4) run on aimsim's workloads through this
//! facade ([`RunSpec`] → [`Simulation`] → [`Report`]), each claim a row of
//! a table: claim | paper value | aimsim value | workload and chip | the
//! `aimsim run` command that reproduces it | what drives the difference.
//!
//! The experiments are a list of runs ([`Reproduction::runs`]); a run that
//! several claims use runs once (runs are keyed by their spec's hash).
//! Training energy is compared under every update-forming unit of
//! [`UPDATE_UNITS`]: the default unit runs with the chip as it is, any
//! other with the override `chip.update_unit=UNIT`, so a new unit is one
//! more string in that list. Everything in the result is a pure function
//! of the seed and the mode (wall times are printed, not stored).

use crate::report::Report;
use crate::{AimsimError, Result, RunSpec, Simulation};
use aimsim_trace::plot::{self, Axes, Bars, Panel, Series};
use serde::Serialize;
use std::collections::BTreeMap;

/// The update-forming units the energy claims are measured under; the
/// first is the chip's default (no override).
pub const UPDATE_UNITS: &[&str] = &["digital-mac", "low-precision", "sparse-sampler", "off-chip"];

/// The schema tag of `reproduce.json`.
pub const REPRODUCE_SCHEMA: &str = "aimsim.reproduce/1";

/// The claim groups, in table order; each has a plot `GROUP.svg`.
pub const CLAIM_GROUPS: &[&str] = &[
    "accuracy",
    "restoration",
    "update_ratio",
    "training_energy",
    "inference_energy",
    "lifetime",
    "gpu",
];

/// The files `reproduce` writes: `reproduce.json` (the commit marker),
/// `reproduce.md` and one plot per claim group.
pub fn reproduce_files() -> Vec<String> {
    let mut v = vec!["reproduce.json".to_string(), "reproduce.md".to_string()];
    v.extend(CLAIM_GROUPS.iter().map(|g| format!("{g}.svg")));
    v
}

/// Steps of each workload in `--quick` mode (the full mode runs each
/// workload's own epochs: digits 8 epochs = 11 504 steps, denoise and sr2
/// their network files' epochs).
pub const QUICK_STEPS: &[(&str, u64)] = &[
    ("digits-mlp", 1438),
    ("digits-cnn", 720),
    ("denoise", 600),
    ("sr2", 600),
];

/// The digits-cnn rules whose learning curve is plotted (`accuracy.svg`).
const CURVE_RULES: [&str; 3] = ["eapu", "bp", "ideal"];

/// Where the learning curves are sampled, as fractions of the full run: a
/// run stopped after `k` steps trains exactly the first `k` steps of the
/// longer run (same seed, same sample order), so its test accuracy is the
/// longer run's at step `k` — measured without reading the chip mid-run.
const CURVE_FRACTIONS: [(u64, u64); 3] = [(1, 4), (1, 2), (3, 4)];

/// Options of a reproduction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReproduceOptions {
    /// Fewer steps per workload ([`QUICK_STEPS`]).
    pub quick: bool,
    /// The run seed of every experiment.
    pub seed: u64,
}

/// One experiment: a training run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Experiment {
    workload: &'static str,
    algorithm: &'static str,
    rule: &'static str,
    unit: &'static str,
    /// Stop after this many steps (a point of a learning curve).
    stop: Option<u64>,
}

impl Experiment {
    fn new(workload: &'static str, algorithm: &'static str, rule: &'static str) -> Self {
        Experiment {
            workload,
            algorithm,
            rule,
            unit: UPDATE_UNITS[0],
            stop: None,
        }
    }

    fn stopped_at(mut self, steps: u64) -> Self {
        self.stop = Some(steps);
        self
    }

    fn under(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }

    fn steps(&self, opts: &ReproduceOptions) -> Option<u64> {
        if self.stop.is_some() {
            return self.stop;
        }
        opts.quick.then(|| {
            QUICK_STEPS
                .iter()
                .find(|(w, _)| *w == self.workload)
                .map(|(_, s)| *s)
                .expect("every workload has quick steps")
        })
    }

    fn spec(&self, opts: &ReproduceOptions) -> Result<RunSpec> {
        let mut b = RunSpec::builder()
            .workload(self.workload)
            .algorithm(self.algorithm)
            .rule(self.rule)
            .seed(opts.seed);
        if let Some(s) = self.steps(opts) {
            b = b.steps(s);
        }
        if self.unit != UPDATE_UNITS[0] {
            b = b.set("chip.update_unit", self.unit);
        }
        b.build()
    }

    /// The `aimsim run` command line of this experiment.
    fn command(&self, opts: &ReproduceOptions) -> String {
        let mut c = format!("aimsim run --workload {}", self.workload);
        if self.algorithm != "backprop" {
            c += &format!(" --algorithm {}", self.algorithm);
        }
        c += &format!(" --rule {}", self.rule);
        if let Some(s) = self.steps(opts) {
            c += &format!(" --steps {s}");
        }
        c += &format!(" --seed {}", opts.seed);
        if self.unit != UPDATE_UNITS[0] {
            c += &format!(" --set chip.update_unit={}", self.unit);
        }
        c
    }

    fn label(&self) -> String {
        let who = if self.algorithm == "backprop" {
            self.rule.to_string()
        } else {
            format!("{}+{}", self.algorithm, self.rule)
        };
        let at = self.stop.map_or(String::new(), |s| format!(" @{s}"));
        format!("{} {who} [{}]{at}", self.workload, self.unit)
    }
}

/// One run's figures as `reproduce.json` keeps them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRecord {
    /// `workload rule [unit]`.
    pub label: String,
    /// The command that reproduces it.
    pub command: String,
    /// The spec's hash ([`RunSpec::hash`]).
    pub spec_hash: String,
    /// Chip and device.
    pub chip: String,
    /// Device name.
    pub device: String,
    /// Training steps run.
    pub steps: u64,
    /// Test metrics (accuracy; PSNR and SSIM).
    pub metrics: BTreeMap<String, f64>,
    /// The baseline's metrics (noisy input, bicubic), if any.
    pub baseline: BTreeMap<String, f64>,
    /// Training energy, pJ.
    pub energy_pj: f64,
    /// Training energy by component, pJ.
    pub energy_pj_by_component: BTreeMap<String, f64>,
    /// Training energy by phase, pJ.
    pub energy_pj_by_phase: BTreeMap<String, f64>,
    /// Inference energy per test sample, pJ.
    pub inference_pj_per_sample: f64,
    /// Inference energy per test sample by component, pJ.
    pub inference_pj_by_component: BTreeMap<String, f64>,
    /// Cell writes / (weights × steps).
    pub parameter_update_fraction: f64,
    /// Cell writes.
    pub cell_writes: u64,
    /// Steps to the first cell's wear-out at the rates so far.
    pub projected_steps_to_first_failure: Option<u64>,
    /// The GPU reference's name.
    pub gpu: String,
    /// GPU energy of the same training, pJ.
    pub gpu_energy_pj: f64,
    /// Its FLOP-only lower bound, pJ.
    pub gpu_energy_pj_flop_bound: f64,
}

impl RunRecord {
    fn new(e: &Experiment, opts: &ReproduceOptions, spec: &RunSpec, r: &Report) -> RunRecord {
        RunRecord {
            label: e.label(),
            command: e.command(opts),
            spec_hash: spec.hash(),
            chip: r.chip.clone(),
            device: r.device.clone(),
            steps: r.workload.steps,
            metrics: r.workload.metrics.clone(),
            baseline: r.workload.baseline.clone(),
            energy_pj: r.energy_pj.total,
            energy_pj_by_component: r.energy_pj.by_component.clone(),
            energy_pj_by_phase: r.energy_pj.by_phase.clone(),
            inference_pj_per_sample: r.inference.energy_pj_per_sample,
            inference_pj_by_component: r.inference.by_component.clone(),
            parameter_update_fraction: r.writes.parameter_update_fraction,
            cell_writes: r.writes.cell_writes,
            projected_steps_to_first_failure: r.lifetime.projected_steps_to_first_failure,
            gpu: r.gpu.reference.clone(),
            gpu_energy_pj: r.gpu.energy_pj,
            gpu_energy_pj_flop_bound: r.gpu.energy_pj_flop_bound,
        }
    }

    fn metric(&self, key: &str) -> f64 {
        self.metrics.get(key).copied().unwrap_or(f64::NAN)
    }

    fn share(&self, component: &str) -> f64 {
        self.energy_pj_by_component
            .get(component)
            .copied()
            .unwrap_or(0.0)
            / self.energy_pj.max(f64::MIN_POSITIVE)
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Claim {
    /// Stable id (`accuracy.digits-cnn.eapu`).
    pub id: String,
    /// Its group ([`CLAIM_GROUPS`]).
    pub group: String,
    /// What is claimed.
    pub claim: String,
    /// The paper's value, with its setting.
    pub paper: String,
    /// Where the paper value comes from.
    pub paper_source: String,
    /// aimsim's value (NaN where it does not exist, e.g. no wear).
    pub value: f64,
    /// aimsim's value as text, with its unit.
    pub aimsim: String,
    /// Workload, chip, device and mode.
    pub workload: String,
    /// The `aimsim run` commands that reproduce the row.
    pub commands: Vec<String>,
    /// What drives the difference from the paper.
    pub drives: String,
}

/// The result of `aimsim reproduce eapu`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reproduction {
    /// [`REPRODUCE_SCHEMA`].
    pub schema: String,
    /// `quick` or `full`.
    pub mode: String,
    /// The run seed.
    pub seed: u64,
    /// Steps per workload in this mode (`null`: the workload's epochs).
    pub steps: BTreeMap<String, Option<u64>>,
    /// The update-forming units compared.
    pub update_units: Vec<String>,
    /// Every run, in the order run.
    pub runs: Vec<RunRecord>,
    /// The table.
    pub claims: Vec<Claim>,
}

const EAPU_PAPER: &str = "EaPU paper (Nat. Commun. 2025, doi:10.1038/s41467-025-66240-7)";

/// Runs every experiment and builds the table; `progress(done, total,
/// label)` is called before each run.
pub fn reproduce_eapu(
    opts: &ReproduceOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<Reproduction> {
    let mut plan: Vec<Experiment> = Vec::new();
    let mut add = |e: Experiment| {
        if !plan.contains(&e) {
            plan.push(e);
        }
    };
    for w in ["digits-cnn", "denoise", "sr2"] {
        for rule in ["eapu", "bp", "ideal"] {
            add(Experiment::new(w, "backprop", rule));
        }
    }
    for &u in UPDATE_UNITS {
        add(Experiment::new("digits-mlp", "backprop", "eapu").under(u));
        add(Experiment::new("digits-mlp", "backprop", "bp").under(u));
        add(Experiment::new("digits-mlp", "madem", "bp").under(u));
        add(Experiment::new("digits-cnn", "backprop", "eapu").under(u));
        add(Experiment::new("digits-cnn", "backprop", "bp").under(u));
    }
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut done: BTreeMap<String, usize> = BTreeMap::new();
    // The learning curves' points (runs stopped at 1/4, 1/2 and 3/4 of
    // the digits-cnn runs' steps) are known once the first run is planned;
    // their count is fixed, so the progress total is.
    let total = plan.len() + CURVE_FRACTIONS.len() * CURVE_RULES.len();
    let mut run = |e: &Experiment, runs: &mut Vec<RunRecord>| -> Result<()> {
        progress(runs.len(), total, &e.command(opts));
        let spec = e.spec(opts)?;
        let mut sim = Simulation::new(&spec)?;
        sim.run(&mut |_, _| {})?;
        let report = sim.report()?.clone();
        done.insert(e.label(), runs.len());
        runs.push(RunRecord::new(e, opts, &spec, &report));
        Ok(())
    };
    for e in &plan {
        run(e, &mut runs)?;
    }
    let full = runs
        .iter()
        .find(|r| r.label == Experiment::new("digits-cnn", "backprop", "eapu").label())
        .map_or(0, |r| r.steps);
    for rule in CURVE_RULES {
        for (num, den) in CURVE_FRACTIONS {
            let e = Experiment::new("digits-cnn", "backprop", rule).stopped_at(full * num / den);
            run(&e, &mut runs)?;
        }
    }
    let get = |e: &Experiment| -> &RunRecord { &runs[done[&e.label()]] };
    let mut claims = Vec::new();
    accuracy_claims(opts, &get, &mut claims);
    restoration_claims(opts, &get, &mut claims);
    update_ratio_claims(opts, &get, &mut claims);
    energy_claims(opts, &get, &mut claims);
    lifetime_and_gpu_claims(opts, &get, &mut claims);
    Ok(Reproduction {
        schema: REPRODUCE_SCHEMA.into(),
        mode: if opts.quick { "quick" } else { "full" }.into(),
        seed: opts.seed,
        steps: QUICK_STEPS
            .iter()
            .map(|(w, s)| (w.to_string(), opts.quick.then_some(*s)))
            .collect(),
        update_units: UPDATE_UNITS.iter().map(|u| u.to_string()).collect(),
        runs,
        claims,
    })
}

fn mode_note(opts: &ReproduceOptions, r: &RunRecord) -> String {
    format!(
        "{} steps{}, seed {}",
        r.steps,
        if opts.quick { " (--quick)" } else { "" },
        opts.seed
    )
}

fn setting(e: &Experiment, r: &RunRecord, opts: &ReproduceOptions) -> String {
    format!(
        "{} on {} (device {}), update unit {}; {}",
        e.workload,
        r.chip,
        r.device,
        e.unit,
        mode_note(opts, r)
    )
}

type Get<'a> = dyn Fn(&Experiment) -> &'a RunRecord + 'a;

fn accuracy_claims(opts: &ReproduceOptions, get: &Get<'_>, out: &mut Vec<Claim>) {
    let paper = [
        ("eapu", "EaPU", "89.71 %"),
        ("bp", "noisy BP", "17.55 %"),
        ("ideal", "ideal (digital)", "92.54 %"),
    ];
    let ideal = get(&Experiment::new("digits-cnn", "backprop", "ideal")).metric("accuracy");
    for (rule, who, value) in paper {
        let e = Experiment::new("digits-cnn", "backprop", rule);
        let r = get(&e);
        let acc = r.metric("accuracy");
        out.push(Claim {
            id: format!("accuracy.digits-cnn.{rule}"),
            group: "accuracy".into(),
            claim: format!("test accuracy of {who} training under write noise"),
            paper: format!("{value} (ResNet-34 / CIFAR-10, σ = 2 µS)"),
            paper_source: "authors' published results (REFERENCES.md, EaPU paper table)".into(),
            value: acc,
            aimsim: format!("{:.2} %", 100.0 * acc),
            workload: setting(&e, r, opts),
            commands: vec![r.command.clone()],
            drives: match rule {
                "eapu" => format!(
                    "a 10-class 8×8 digits CNN, not ResNet-34 on CIFAR-10; write noise σ = 2.4 µS on every written cell, read noise and 8-bit converters on every read; {:.2} points below ideal (paper: 2.83)",
                    100.0 * (ideal - acc)
                ),
                "bp" => format!(
                    "noisy bp writes every non-zero update and pays σ_w on each: {:.2} points below ideal (paper: 74.99); task, network and data differ, and aimsim's conductance window bounds the weights where the authors' simulation does not (REFERENCES.md)",
                    100.0 * (ideal - acc)
                ),
                _ => "digital floating-point weights (no device): the accuracy ceiling of this network and data".into(),
            },
        });
    }
}

fn restoration_claims(opts: &ReproduceOptions, get: &Get<'_>, out: &mut Vec<Claim>) {
    for (w, paper_ssim, task) in [
        ("denoise", "0.896", "image denoising"),
        ("sr2", "0.933", "super-resolution ×2"),
    ] {
        for rule in ["eapu", "bp", "ideal"] {
            let e = Experiment::new(w, "backprop", rule);
            let r = get(&e);
            let (psnr, ssim) = (r.metric("psnr_db"), r.metric("ssim"));
            let base = match (r.baseline.get("psnr_db"), r.baseline.get("ssim")) {
                (Some(p), Some(s)) => format!(
                    "; baseline ({}) {p:.2} dB / {s:.4}",
                    if w == "sr2" { "bicubic" } else { "noisy input" }
                ),
                _ => String::new(),
            };
            out.push(Claim {
                id: format!("restoration.{w}.{rule}"),
                group: "restoration".into(),
                claim: format!("{task}: test PSNR / SSIM with {rule} writes"),
                paper: if rule == "eapu" {
                    format!("SSIM {paper_ssim} (hardware task, data set and σ not given)")
                } else {
                    "not reported".into()
                },
                paper_source: "press reports of the EaPU paper (REFERENCES.md)".into(),
                value: ssim,
                aimsim: format!("{psnr:.2} dB / SSIM {ssim:.4}{base}"),
                workload: setting(&e, r, opts),
                commands: vec![r.command.clone()],
                drives: "aimsim's built-in 128×128 held-out test images (astronaut, rocket) and small CNN, trained from scratch on the chip; the paper's data set, noise level, network and colour channel are not public, so the SSIM is not comparable beyond its order (REFERENCES.md: report PSNR and SSIM with the baseline beside them)".into(),
            });
        }
    }
}

fn update_ratio_claims(opts: &ReproduceOptions, get: &Get<'_>, out: &mut Vec<Claim>) {
    for w in ["digits-cnn", "digits-mlp"] {
        let e = Experiment::new(w, "backprop", "eapu");
        let r = get(&e);
        let bp = get(&Experiment::new(w, "backprop", "bp"));
        let f = r.parameter_update_fraction;
        out.push(Claim {
            id: format!("update_ratio.{w}.eapu"),
            group: "update_ratio".into(),
            claim: "parameters written per step (cell writes / (weights × steps))".into(),
            paper: "< 1.4 ‰ (ResNet-152 / CIFAR-100); 0.86 ‰ quoted in press".into(),
            paper_source: format!("{EAPU_PAPER}, Fig. 5d; press"),
            value: f,
            aimsim: format!(
                "{:.3} ‰ (bp: {:.1} ‰)",
                1e3 * f,
                1e3 * bp.parameter_update_fraction
            ),
            workload: setting(&e, r, opts),
            commands: vec![r.command.clone(), bp.command.clone()],
            drives: "the fraction is the mean of min(1, |ΔG|/ΔG_th) over the weights: it follows the learning rate × |x|·|δ| against ΔG_th = 2 µS, so it depends on the network, the batch (1 here, 128 in the authors' runs) and the learning rate; a shorter run (--quick) stops earlier in training, where the errors δ are larger".into(),
        });
    }
}

/// A component's share of a run's inference energy per sample.
fn inf_share(r: &RunRecord, component: &str) -> f64 {
    r.inference_pj_by_component
        .get(component)
        .copied()
        .unwrap_or(0.0)
        / r.inference_pj_per_sample.max(f64::MIN_POSITIVE)
}

fn energy_claims(opts: &ReproduceOptions, get: &Get<'_>, out: &mut Vec<Claim>) {
    for &u in UPDATE_UNITS {
        let eapu_e = Experiment::new("digits-mlp", "backprop", "eapu").under(u);
        let bp_e = Experiment::new("digits-mlp", "backprop", "bp").under(u);
        let madem_e = Experiment::new("digits-mlp", "madem", "bp").under(u);
        let (eapu, bp, madem) = (get(&eapu_e), get(&bp_e), get(&madem_e));
        let breakdown = |r: &RunRecord| {
            format!(
                "digital {:.0} %, writes (array_write + driver) {:.0} %, reads (dac + array_read + sense + adc) {:.0} %",
                100.0 * r.share("digital"),
                100.0 * (r.share("array_write") + r.share("driver")),
                100.0 * (r.share("dac") + r.share("array_read") + r.share("sense") + r.share("adc"))
            )
        };
        let drives = format!(
            "update unit {u}: EaPU: {}; bp: {}. The paper's 50× needs writes to dominate; where the unit forming the update costs a MAC per weight per step, it dominates every scheme alike (DESIGN.md §1.7)",
            breakdown(eapu),
            breakdown(bp)
        );
        for (vs, other, paper) in [
            ("bp", bp, "50.54× (BP-based memristor training)"),
            ("madem", madem, "13.23× (MADEM)"),
        ] {
            let ratio = other.energy_pj / eapu.energy_pj;
            out.push(Claim {
                id: format!("training_energy.digits-mlp.vs_{vs}.{u}"),
                group: "training_energy".into(),
                claim: format!("training energy of {vs} / EaPU"),
                paper: paper.to_string(),
                paper_source: format!("{EAPU_PAPER}, abstract"),
                value: ratio,
                aimsim: format!(
                    "{ratio:.2}× ({:.1} µJ / {:.1} µJ)",
                    other.energy_pj * 1e-6,
                    eapu.energy_pj * 1e-6
                ),
                workload: setting(&eapu_e, eapu, opts),
                commands: vec![eapu.command.clone(), other.command.clone()],
                drives: if vs == "madem" {
                    format!(
                        "MADEM here is `--algorithm madem --rule bp` (activity differences, updates written as computed; the paper's MADEM figures are not open); update unit {u}: EaPU: {}; madem: {}",
                        breakdown(eapu),
                        breakdown(madem)
                    )
                } else {
                    drives.clone()
                },
            });
        }
        let (ce, cb) = (
            Experiment::new("digits-cnn", "backprop", "eapu").under(u),
            Experiment::new("digits-cnn", "backprop", "bp").under(u),
        );
        let (cnn_eapu, cnn_bp) = (get(&ce), get(&cb));
        let ratio = cnn_bp.energy_pj / cnn_eapu.energy_pj;
        out.push(Claim {
            id: format!("training_energy.digits-cnn.vs_bp.{u}"),
            group: "training_energy".into(),
            claim: "training energy of bp / EaPU".into(),
            paper: "50.54× (BP-based memristor training)".into(),
            paper_source: format!("{EAPU_PAPER}, abstract"),
            value: ratio,
            aimsim: format!(
                "{ratio:.2}× ({:.1} µJ / {:.1} µJ)",
                cnn_bp.energy_pj * 1e-6,
                cnn_eapu.energy_pj * 1e-6
            ),
            workload: setting(&ce, cnn_eapu, opts),
            commands: vec![cnn_eapu.command.clone(), cnn_bp.command.clone()],
            drives: format!(
                "update unit {u}: EaPU: {}; bp: {}",
                breakdown(cnn_eapu),
                breakdown(cnn_bp)
            ),
        });
        for (vs, other, paper) in [("bp", bp, "35.51×"), ("madem", madem, "11.26×")] {
            let ratio = other.inference_pj_per_sample / eapu.inference_pj_per_sample;
            out.push(Claim {
                id: format!("inference_energy.digits-mlp.vs_{vs}.{u}"),
                group: "inference_energy".into(),
                claim: format!("inference energy per sample after training, {vs} / EaPU"),
                paper: paper.to_string(),
                paper_source: format!("{EAPU_PAPER}, abstract"),
                value: ratio,
                aimsim: format!(
                    "{ratio:.3}× ({:.3} nJ / {:.3} nJ)",
                    other.inference_pj_per_sample * 1e-3,
                    eapu.inference_pj_per_sample * 1e-3
                ),
                workload: setting(&eapu_e, eapu, opts),
                commands: vec![eapu.command.clone(), other.command.clone()],
                drives: format!(
                    "inference has no writes: only the array read energy V²·G·t depends on the trained conductances, and it is {:.1} % of EaPU's inference energy per sample here (ADC {:.0} %, digital {:.0} %); the paper's 35× implies read energy that depends on the training scheme (REFERENCES.md)",
                    100.0 * inf_share(eapu, "array_read"),
                    100.0 * inf_share(eapu, "adc"),
                    100.0 * inf_share(eapu, "digital")
                ),
            });
        }
    }
}

fn lifetime_and_gpu_claims(opts: &ReproduceOptions, get: &Get<'_>, out: &mut Vec<Claim>) {
    let e = Experiment::new("digits-mlp", "backprop", "eapu");
    let (eapu, bp) = (
        get(&e),
        get(&Experiment::new("digits-mlp", "backprop", "bp")),
    );
    let steps = |r: &RunRecord| r.projected_steps_to_first_failure.map(|s| s as f64);
    let ratio = match (steps(eapu), steps(bp)) {
        (Some(a), Some(b)) if b > 0.0 => a / b,
        _ => f64::NAN,
    };
    let show = |r: &RunRecord| {
        r.projected_steps_to_first_failure
            .map_or("no wear".to_string(), |s| format!("{s:.3e}", s = s as f64))
    };
    out.push(Claim {
        id: "lifetime.digits-mlp.vs_bp".into(),
        group: "lifetime".into(),
        claim: "steps to the first cell's wear-out, EaPU / bp".into(),
        paper: "~1000× longer device lifetime".into(),
        paper_source: "press reports of the EaPU paper (REFERENCES.md: the reciprocal of a < 1 ‰ update ratio)".into(),
        value: ratio,
        aimsim: format!("{ratio:.1}× ({} / {} steps)", show(eapu), show(bp)),
        workload: setting(&e, eapu, opts),
        commands: vec![eapu.command.clone(), bp.command.clone()],
        drives: format!(
            "the paper's ~1000× is the reciprocal of a < 1 ‰ update ratio; EaPU writes {:.2} ‰ of parameters per step here against bp's {:.0} ‰ (a {:.0}× ratio of means), and the first wear-out follows the cell with the highest write rate against its own endurance (endurance varies per cell), not the mean",
            1e3 * eapu.parameter_update_fraction,
            1e3 * bp.parameter_update_fraction,
            bp.parameter_update_fraction / eapu.parameter_update_fraction.max(f64::MIN_POSITIVE)
        ),
    });
    let ratio = eapu.gpu_energy_pj / eapu.energy_pj;
    let bound = eapu.gpu_energy_pj_flop_bound / eapu.energy_pj;
    out.push(Claim {
        id: "gpu.digits-mlp.eapu".into(),
        group: "gpu".into(),
        claim: "training energy on a GPU / on the chip with EaPU".into(),
        paper: "\"nearly six orders of magnitude\" (~10⁶×)".into(),
        paper_source: format!("{EAPU_PAPER}, abstract"),
        value: ratio,
        aimsim: format!(
            "{ratio:.3e}× against {} (FLOP-only bound {bound:.3e}×)",
            eapu.gpu
        ),
        workload: setting(&e, eapu, opts),
        commands: vec![eapu.command.clone()],
        drives: "a batch-1 step of a small network on a GPU is launch-bound: each kernel takes the 5 µs launch time at near-idle power (docs/gpu-model.md); the ratio counts the chip's whole training energy including its digital gradient unit; the paper's GPU method is not public".into(),
    });
}

impl Reproduction {
    /// `reproduce.json`.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("serialises");
        s.push('\n');
        s
    }

    /// `reproduce.md`: the table and the runs.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut m = format!(
            "# aimsim reproduce eapu ({} mode, seed {})\n\nUpdate units: {}. Every command below reproduces its row's runs.\n\n",
            self.mode,
            self.seed,
            self.update_units.join(", ")
        );
        m += "| claim | paper value | aimsim value | workload and chip | command | what drives the difference |\n";
        m += "|---|---|---|---|---|---|\n";
        for c in &self.claims {
            m += &format!(
                "| {} | {} ({}) | {} | {} | {} | {} |\n",
                esc(&c.claim),
                esc(&c.paper),
                esc(&c.paper_source),
                esc(&c.aimsim),
                esc(&c.workload),
                c.commands
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join("<br>"),
                esc(&c.drives)
            );
        }
        m += "\n## Runs\n\n| run | steps | metrics | training energy µJ | inference nJ/sample | update ratio ‰ | first wear-out (steps) |\n|---|---|---|---|---|---|---|\n";
        for r in &self.runs {
            m += &format!(
                "| {} | {} | {} | {:.2} | {:.3} | {:.3} | {} |\n",
                r.label,
                r.steps,
                r.metrics
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                r.energy_pj * 1e-6,
                r.inference_pj_per_sample * 1e-3,
                1e3 * r.parameter_update_fraction,
                r.projected_steps_to_first_failure
                    .map_or("no wear".into(), |s| s.to_string())
            );
        }
        m += "\nPlots: ";
        m += &CLAIM_GROUPS
            .iter()
            .map(|g| format!("[{g}]({g}.svg)"))
            .collect::<Vec<_>>()
            .join(", ");
        m += ".\n";
        m
    }

    fn run(&self, label: &str) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.label == label)
    }

    /// One SVG per claim group: `(GROUP.svg, document)`.
    pub fn plots(&self) -> std::result::Result<Vec<(String, String)>, aimsim_trace::TraceError> {
        let unit0 = UPDATE_UNITS[0];
        let label = |w: &str, who: &str, u: &str| format!("{w} {who} [{u}]");
        let value = |w: &str, who: &str, u: &str, f: &dyn Fn(&RunRecord) -> f64| {
            self.run(&label(w, who, u)).map_or(f64::NAN, f)
        };
        let rules = ["eapu", "bp", "ideal"];
        let mut out = Vec::new();
        let series = |name: &str, vals: Vec<f64>| Series {
            name: name.into(),
            points: vals
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v))
                .collect(),
        };
        let bars = |title: &str, labels: &[&str], y: &str, log_y: bool| Bars {
            title: title.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            y_label: y.into(),
            log_y,
        };
        // accuracy: the final values, and the learning curves (runs stopped
        // at fractions of the full run, and the full run)
        let curves: Vec<Series> = CURVE_RULES
            .iter()
            .map(|rule| {
                let prefix = label("digits-cnn", rule, unit0);
                let mut points: Vec<(f64, f64)> = self
                    .runs
                    .iter()
                    .filter(|r| r.label == prefix || r.label.starts_with(&format!("{prefix} @")))
                    .map(|r| (r.steps as f64, r.metric("accuracy")))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series {
                    name: rule.to_string(),
                    points,
                }
            })
            .collect();
        out.push((
            "accuracy.svg".to_string(),
            plot::panels(&[
                Panel::Bars(
                    bars("digits-cnn test accuracy", &rules, "accuracy", false),
                    vec![series(
                        "digits-cnn",
                        rules
                            .iter()
                            .map(|r| value("digits-cnn", r, unit0, &|x| x.metric("accuracy")))
                            .collect(),
                    )],
                ),
                Panel::Lines(
                    Axes {
                        title: "test accuracy after k steps".into(),
                        x_label: "training step k".into(),
                        y_label: "accuracy".into(),
                        log_y: false,
                    },
                    curves,
                ),
            ])?,
        ));
        // restoration: PSNR and SSIM panels, a series per workload
        let mut psnr = Vec::new();
        let mut ssim = Vec::new();
        for w in ["denoise", "sr2"] {
            psnr.push(series(
                w,
                rules
                    .iter()
                    .map(|r| value(w, r, unit0, &|x| x.metric("psnr_db")))
                    .collect(),
            ));
            ssim.push(series(
                w,
                rules
                    .iter()
                    .map(|r| value(w, r, unit0, &|x| x.metric("ssim")))
                    .collect(),
            ));
        }
        out.push((
            "restoration.svg".to_string(),
            plot::panels(&[
                Panel::Bars(bars("image restoration: PSNR", &rules, "dB", false), psnr),
                Panel::Bars(bars("image restoration: SSIM", &rules, "SSIM", false), ssim),
            ])?,
        ));
        // update ratio
        let ur: Vec<Series> = ["digits-cnn", "digits-mlp"]
            .iter()
            .map(|w| {
                series(
                    w,
                    ["eapu", "bp"]
                        .iter()
                        .map(|r| value(w, r, unit0, &|x| 1e3 * x.parameter_update_fraction))
                        .collect(),
                )
            })
            .collect();
        out.push((
            "update_ratio.svg".to_string(),
            plot::bar_chart(
                &bars(
                    "parameters written per step",
                    &["eapu", "bp"],
                    "‰ per step",
                    true,
                ),
                &ur,
            )?,
        ));
        // training energy per unit, and its breakdown under the first unit
        let who = ["eapu", "bp", "madem+bp"];
        let te: Vec<Series> = who
            .iter()
            .map(|r| {
                series(
                    r,
                    UPDATE_UNITS
                        .iter()
                        .map(|u| value("digits-mlp", r, u, &|x| x.energy_pj * 1e-6))
                        .collect(),
                )
            })
            .collect();
        let components: Vec<String> = self
            .run(&label("digits-mlp", "eapu", unit0))
            .map(|r| r.energy_pj_by_component.keys().cloned().collect())
            .unwrap_or_default();
        let comp_refs: Vec<&str> = components.iter().map(String::as_str).collect();
        let tb: Vec<Series> = who
            .iter()
            .map(|r| {
                series(
                    r,
                    components
                        .iter()
                        .map(|c| {
                            value("digits-mlp", r, unit0, &|x| {
                                x.energy_pj_by_component.get(c).copied().unwrap_or(0.0) * 1e-6
                            })
                        })
                        .collect(),
                )
            })
            .collect();
        out.push((
            "training_energy.svg".to_string(),
            plot::panels(&[
                Panel::Bars(
                    bars(
                        "digits-mlp training energy by update unit",
                        UPDATE_UNITS,
                        "µJ",
                        true,
                    ),
                    te,
                ),
                Panel::Bars(
                    bars(&format!("by component [{unit0}]"), &comp_refs, "µJ", false),
                    tb,
                ),
            ])?,
        ));
        // inference energy
        let ie: Vec<Series> = who
            .iter()
            .map(|r| {
                series(
                    r,
                    UPDATE_UNITS
                        .iter()
                        .map(|u| value("digits-mlp", r, u, &|x| x.inference_pj_per_sample * 1e-3))
                        .collect(),
                )
            })
            .collect();
        out.push((
            "inference_energy.svg".to_string(),
            plot::bar_chart(
                &bars(
                    "digits-mlp inference energy per test sample",
                    UPDATE_UNITS,
                    "nJ",
                    false,
                ),
                &ie,
            )?,
        ));
        // lifetime
        out.push((
            "lifetime.svg".to_string(),
            plot::bar_chart(
                &bars(
                    "digits-mlp: steps to the first wear-out",
                    &["eapu", "bp"],
                    "steps",
                    true,
                ),
                &[series(
                    "projected",
                    ["eapu", "bp"]
                        .iter()
                        .map(|r| {
                            value("digits-mlp", r, unit0, &|x| {
                                x.projected_steps_to_first_failure
                                    .map_or(f64::NAN, |s| s as f64)
                            })
                        })
                        .collect(),
                )],
            )?,
        ));
        // GPU
        let eapu = self.run(&label("digits-mlp", "eapu", unit0));
        let gpu_name = eapu.map_or("GPU".to_string(), |r| r.gpu.clone());
        out.push((
            "gpu.svg".to_string(),
            plot::bar_chart(
                &bars(
                    "digits-mlp training energy: chip (EaPU) against GPU",
                    &["chip", &gpu_name, "GPU FLOP bound"],
                    "µJ",
                    true,
                ),
                &[series(
                    "training",
                    vec![
                        eapu.map_or(f64::NAN, |r| r.energy_pj * 1e-6),
                        eapu.map_or(f64::NAN, |r| r.gpu_energy_pj * 1e-6),
                        eapu.map_or(f64::NAN, |r| r.gpu_energy_pj_flop_bound * 1e-6),
                    ],
                )],
            )?,
        ));
        Ok(out)
    }

    /// Writes `reproduce.json`, `reproduce.md` and the plots into `dir` as
    /// one result set (`reproduce.json` the commit marker; [`crate::fsout`]).
    pub fn write(&self, dir: &std::path::Path) -> Result<()> {
        let json = self.to_json();
        let md = self.to_markdown();
        let plots = self.plots().map_err(|e| AimsimError::Io {
            path: dir.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        let mut files: Vec<(&str, &[u8])> = vec![
            ("reproduce.json", json.as_bytes()),
            ("reproduce.md", md.as_bytes()),
        ];
        files.extend(plots.iter().map(|(n, s)| (n.as_str(), s.as_bytes())));
        crate::fsout::write_set(dir, &files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_every_option_the_spec_uses() {
        let quick = ReproduceOptions {
            quick: true,
            seed: 3,
        };
        let e = Experiment::new("digits-mlp", "madem", "bp");
        assert_eq!(
            e.command(&quick),
            "aimsim run --workload digits-mlp --algorithm madem --rule bp --steps 1438 --seed 3"
        );
        let full = ReproduceOptions {
            quick: false,
            seed: 1,
        };
        let e = Experiment::new("sr2", "backprop", "eapu").under("low-precision");
        assert_eq!(
            e.command(&full),
            "aimsim run --workload sr2 --rule eapu --seed 1 --set chip.update_unit=low-precision"
        );
        // The default unit adds no override: its spec is the plain run's.
        let s = Experiment::new("digits-mlp", "backprop", "eapu")
            .spec(&quick)
            .unwrap();
        assert!(s.overrides.is_empty());
        assert_eq!(s.steps, Some(1438));
    }

    #[test]
    fn every_workload_has_quick_steps_and_every_group_a_plot() {
        for w in ["digits-mlp", "digits-cnn", "denoise", "sr2"] {
            assert!(QUICK_STEPS.iter().any(|(q, _)| *q == w), "{w}");
        }
        let files = reproduce_files();
        assert_eq!(files[0], "reproduce.json");
        assert_eq!(files.len(), 2 + CLAIM_GROUPS.len());
    }
}
