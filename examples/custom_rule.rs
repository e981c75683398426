//! A write rule defined outside aimsim, run through the library facade.
//!
//! `top-k` writes, on every tile, only the `k` requested changes of largest
//! magnitude (as asked, one programming operation each) and drops the rest:
//! a deterministic sparse rule to compare with EaPU's probabilistic one.
//! Run: `cargo run --release -p aimsim --example custom_rule`.

use aimsim::controller::{RuleContext, RuleInput, UpdateRule};
use aimsim::{RunSpec, Simulation};

struct TopK {
    /// Fraction of a tile's weights written per update.
    fraction: f32,
    /// Scratch: |ΔG| of the tile's requests.
    magnitudes: Vec<f32>,
}

impl UpdateRule for TopK {
    fn name(&self) -> &str {
        "top-k"
    }

    fn decide(&mut self, input: &RuleInput<'_>, decided_us: &mut [f32], ctx: &mut RuleContext<'_>) {
        let req = input.requested_us;
        let k = ((req.len() as f32 * self.fraction).ceil() as usize).clamp(1, req.len());
        self.magnitudes.clear();
        self.magnitudes.extend(req.iter().map(|r| r.abs()));
        let (_, kth, _) = self
            .magnitudes
            .select_nth_unstable_by(req.len() - k, f32::total_cmp);
        let cut = (*kth).max(f32::MIN_POSITIVE);
        for (d, &r) in decided_us.iter_mut().zip(req) {
            *d = if r.abs() >= cut { r } else { 0.0 };
        }
        // The digital periphery compares every request with the cut (a
        // selection costs about two compares per element).
        ctx.compares(3 * req.len() as u64);
    }
}

fn main() -> Result<(), aimsim::AimsimError> {
    let spec = RunSpec::builder().build()?; // the default workload and chip
    let rule = TopK {
        fraction: 0.003,
        magnitudes: Vec::new(),
    };
    let mut sim = Simulation::with_rule(&spec, Box::new(rule))?;
    sim.run(&mut |_, _| {})?;
    let r = sim.report()?;
    println!(
        "rule {} on {}: accuracy {:.4} after {} steps",
        r.rule, r.chip, r.workload.metric.value, r.workload.steps
    );
    println!(
        "  update fraction {:.3e}, {} cell writes",
        r.writes.update_fraction, r.writes.cell_writes
    );
    println!(
        "  training energy {:.1} µJ, inference {:.1} nJ per sample",
        r.energy_pj.total * 1e-6,
        r.inference.energy_pj_per_sample * 1e-3
    );
    assert_eq!(r.rule, "top-k");
    Ok(())
}
