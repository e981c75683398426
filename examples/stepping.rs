//! Stepping a simulation from library code and reading its ledger between
//! steps: where the energy of EaPU training goes as training proceeds.
//! Run: `cargo run --release -p aimsim --example stepping`.

use aimsim::energy::{Component, Phase};
use aimsim::{RunSpec, Simulation};

fn main() -> Result<(), aimsim::AimsimError> {
    let spec = RunSpec::builder().steps(3000).seed(2).build()?;
    let mut sim = Simulation::new(&spec)?;
    println!(
        "{:>6} {:>12} {:>12} {:>12} {:>10}",
        "step", "forward µJ", "backward µJ", "update µJ", "writes"
    );
    while sim.steps_done() < sim.total_steps() {
        sim.step(500)?;
        let chip = sim.chip();
        let l = chip.ledger();
        let uj = |p| l.phase_pj(p) * 1e-6;
        println!(
            "{:>6} {:>12.3} {:>12.3} {:>12.3} {:>10}",
            sim.steps_done(),
            uj(Phase::FORWARD),
            uj(Phase::BACKWARD),
            uj(Phase::UPDATE),
            chip.writes().cell_writes
        );
    }
    // The biggest ledger entries of the update phase.
    let mut update: Vec<_> = sim
        .chip()
        .ledger()
        .entries()
        .filter(|(k, _)| k.phase == Phase::UPDATE)
        .collect();
    update.sort_by(|a, b| b.1.pj.total_cmp(&a.1.pj));
    for (k, t) in update.iter().take(4) {
        println!(
            "  {:?} {} (tile {:?}): {} ops, {:.3} µJ",
            k.component,
            k.operation,
            k.tile,
            t.count,
            t.pj * 1e-6
        );
    }
    let total = sim.chip().ledger().total_pj();
    let digital = sim.chip().ledger().component_pj(Component::Digital);
    let r = sim.report()?;
    println!(
        "accuracy {:.4}; digital periphery {:.1} % of {:.1} µJ",
        r.workload.metric.value,
        100.0 * digital / total,
        total * 1e-6
    );
    Ok(())
}
