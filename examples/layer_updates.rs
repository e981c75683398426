//! Per weight layer, as training proceeds: how many weights each update
//! writes, how large the changes are against the device's write noise and
//! the EaPU threshold, and how large the layer's weights are. The
//! diagnostic behind docs/validation.md § "Why EaPU fell behind on the
//! network-file workloads".
//!
//! Run: `cargo run --release -p aimsim --example layer_updates -- WORKLOAD
//! RULE SEED [PATH=VALUE ...]` (the `--set` overrides of `aimsim run`).
//! With `ideal` the weight changes are exactly the requested ΔW, so the
//! "≥ ΔG_th" column is the fraction of requests EaPU would write as asked.

use aimsim::{RunSpec, Simulation};

fn main() -> Result<(), aimsim::AimsimError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = args.first().map_or("digits-cnn", String::as_str);
    let rule = args.get(1).map_or("eapu", String::as_str);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut b = RunSpec::builder().workload(workload).rule(rule).seed(seed);
    for kv in args.iter().skip(3) {
        let (k, v) = kv.split_once('=').expect("PATH=VALUE");
        b = b.set(k, v);
    }
    let spec = b.build()?;
    let mut sim = Simulation::new(&spec)?;
    let layers = sim.layer_matrices();
    let dev = sim.chip().device().clone();
    let (r_wg, sigma) = (dev.r_wg_us, dev.write_noise_us);
    let th_us = 2.0f32; // the default chip's ΔG_th
    let total = sim.total_steps();
    let chunk = (total / 8).max(1);
    let mut prev: Vec<Vec<f32>> = layers
        .iter()
        .map(|m| sim.chip().matrix_weights(m[0]))
        .collect();
    // Per layer: steps × weights written, Σ ΔG², requests ≥ ΔG_th, weights.
    let n = layers.len();
    let (mut written, mut dg2, mut above, mut count) =
        (vec![0u64; n], vec![0f64; n], vec![0u64; n], vec![0u64; n]);
    println!("workload {workload}, rule {rule}, seed {seed}: r_wg {r_wg} µS, σ_w {sigma} µS, ΔG_th {th_us} µS");
    println!(
        "{:>6} {:>5} {:>9} {:>12} {:>10} {:>10} {:>12}",
        "step", "layer", "weights", "written/step", "rms ΔG µS", "≥ ΔG_th", "rms W (µS)"
    );
    while sim.steps_done() < total {
        if sim.step(1)? == 0 {
            break;
        }
        for (l, m) in layers.iter().enumerate() {
            let w = sim.chip().matrix_weights(m[0]);
            for (a, b) in w.iter().zip(&prev[l]) {
                let d = (a - b) * r_wg;
                count[l] += 1;
                if d != 0.0 {
                    written[l] += 1;
                    dg2[l] += f64::from(d * d);
                    if d.abs() >= th_us {
                        above[l] += 1;
                    }
                }
            }
            prev[l] = w;
        }
        if sim.steps_done() % chunk == 0 || sim.steps_done() == total {
            for l in 0..n {
                let rms_w = (prev[l].iter().map(|&x| f64::from(x * x)).sum::<f64>()
                    / prev[l].len() as f64)
                    .sqrt()
                    * f64::from(r_wg);
                let wr = written[l].max(1) as f64;
                println!(
                    "{:>6} {:>5} {:>9} {:>12.4} {:>10.3} {:>10.4} {:>12.2}",
                    sim.steps_done(),
                    l,
                    prev[l].len(),
                    written[l] as f64 / count[l].max(1) as f64,
                    (dg2[l] / wr).sqrt(),
                    above[l] as f64 / count[l].max(1) as f64,
                    rms_w
                );
            }
            written.fill(0);
            dg2.fill(0.0);
            above.fill(0);
            count.fill(0);
        }
    }
    let r = sim.report()?;
    println!("{} {:.4}", r.workload.metric.name, r.workload.metric.value);
    Ok(())
}
