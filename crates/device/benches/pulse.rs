//! Pulse updates per second on a 1024 × 1024-cell array (1024 rows × 512
//! differential weight columns), one pulse per cell per iteration, for each
//! pulse-response model. Figures are recorded in `docs/performance.md`.
//!
//! Run: `cargo bench -p aimsim-device --bench pulse`

use aimsim_core::stream;
use aimsim_device::{builtin_device, CellArray, Polarity};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

const ROWS: usize = 1024;
const WEIGHT_COLS: usize = 512;

/// (label, built-in device, overrides).
type Scenario = (&'static str, &'static str, Vec<(String, String)>);

fn scenarios() -> Vec<Scenario> {
    let o = aimsim_core::config::overrides;
    vec![
        ("linear", "eapu-180nm", o(&[])),
        (
            "soft-bounds",
            "eapu-180nm",
            o(&[("pulse_model", "soft-bounds")]),
        ),
        ("exponential", "taox-hfox", o(&[])),
        (
            "exponential+c2c_rel+d2d",
            "taox-hfox",
            o(&[
                ("c2c_noise_rel", "0.2"),
                ("d2d_step_sigma_log", "0.2"),
                ("d2d_g_min_us", "0.1"),
                ("d2d_g_max_us", "0.1"),
                ("d2d_nonlinearity_rel", "0.1"),
            ]),
        ),
    ]
}

fn pulse(c: &mut Criterion) {
    let mut g = c.benchmark_group("pulse_1024x1024");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for (label, device, over) in scenarios() {
        let model = builtin_device(device, &over).expect("valid device");
        let mut cells = CellArray::new(&model, ROWS, WEIGHT_COLS, &mut stream(1, "bench/cells"));
        let mut rng = stream(1, "bench/pulse");
        g.throughput(Throughput::Elements(cells.cells() as u64));
        let mut set = true;
        g.bench_function(BenchmarkId::new("one_pulse_per_cell", label), |b| {
            b.iter(|| {
                let pol = if set { Polarity::Set } else { Polarity::Reset };
                set = !set;
                for cell in 0..cells.cells() {
                    cells.pulse(&model, cell, pol, 1, &mut rng);
                }
            })
        });
    }
    let model = builtin_device("eapu-180nm", &[]).expect("valid device");
    let mut cells = CellArray::new(&model, ROWS, WEIGHT_COLS, &mut stream(1, "bench/cells"));
    let mut rng = stream(1, "bench/program");
    g.throughput(Throughput::Elements(cells.cells() as u64));
    let mut sign = 1.0f32;
    g.bench_function(BenchmarkId::new("program_2us", "linear"), |b| {
        b.iter(|| {
            sign = -sign;
            for cell in 0..cells.cells() {
                cells.program(&model, cell, 2.0 * sign, &mut rng);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, pulse);
criterion_main!(benches);
