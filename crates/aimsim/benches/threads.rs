//! 2 threads against 1 on `mlp-256-1024-1024-10` (synthetic data),
//! measured in pairs: each round trains a fresh simulation on 1 thread
//! and one on 2 (which goes first alternates), each for the same timed
//! steps after `WARMUP` untimed ones, as the `scale` bench's
//! `mlp-256-1024-1024-10_*_t1` / `_t2` cases time them, and takes the
//! ratio of the pair. The median of the rounds' ratios is the figure.
//!
//! Why pairs: the `scale` bench measures a case for about ten seconds,
//! then the next; on a shared virtual machine whose speed drifts by 10–25 %
//! over tens of seconds (docs/performance.md), the ratio of two such
//! windows carries the drift. The two runs of a pair are a second or less
//! apart. What a round times is the same work as the `scale` cases'
//! (assembly, the warm-up, the report's inference and the drop are not
//! timed), and CPU time (user + system, all threads, from `getrusage`) is
//! printed beside the wall time: the part of a 2-thread run spent by the
//! pool itself (wake-ups, spinning, joins) shows there.
//!
//! Each round also runs two 1-thread simulations at once, on two threads
//! of this process, their timed steps started together (a barrier after
//! the warm-up): two runs that share nothing but the machine. Twice the
//! 1-thread run's time over the slower of the two is what this machine
//! gives two independent copies of the work, the most that 2 threads could
//! give (the cores' shared caches, memory and the host's other guests
//! slow both). The bench prints its median and the 2-thread ratio's share
//! of it: the part of a missed 1.7× that is the machine's, and the part
//! that is the pool's (serial work, waits, uneven parts).
//!
//! Run: `cargo bench -p aimsim --bench threads` (about a minute on a
//! 2-core machine); `-- --rounds N` for more rounds (default 8), `-- b32`
//! for the cases whose name holds `b32` (as criterion's filters).
//! `scripts/speed-vs-aihwkit.py` prints its medians beside criterion's.

use aimsim::{RunSpec, Simulation};
use std::sync::Barrier;
use std::time::Instant;

/// Untimed steps before the timed ones (as the `scale` bench).
const WARMUP: u64 = 3;

const BIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../networks/mlp-256-1024-1024-10.network.json"
);

/// (name, batch, timed steps): the `scale` bench's threaded cases.
const CASES: [(&str, u32, u64); 3] = [
    ("mlp-256-1024-1024-10_b1", 1, 30),
    ("mlp-256-1024-1024-10_b32", 32, 3),
    ("mlp-256-1024-1024-10_b32_30", 32, 30),
];

/// User + system CPU seconds of this process so far (every thread).
fn cpu_seconds() -> f64 {
    // SAFETY: an all-zero `rusage` is a valid value for `getrusage` to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a pointer to a `rusage` we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    s(ru.ru_utime) + s(ru.ru_stime)
}

/// One timed run: (wall seconds, CPU seconds) of `steps` steps of a fresh
/// simulation on `threads` threads after the warm-up.
fn timed(spec: &RunSpec, threads: usize, steps: u64) -> (f64, f64) {
    let mut sim = Simulation::new(spec).expect("simulation");
    sim.set_threads(threads).expect("threads");
    sim.step(WARMUP).expect("warm-up steps");
    let (c0, t0) = (cpu_seconds(), Instant::now());
    sim.step(steps).expect("steps");
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    drop(sim);
    (wall, cpu)
}

/// Two 1-thread simulations of `spec` at once, each on its own thread of
/// this process, their `steps` timed steps started together after the
/// warm-up: the wall seconds of each.
fn together(spec: &RunSpec, steps: u64) -> [f64; 2] {
    let start = Barrier::new(2);
    // Neither drops its simulation until both have stopped their clocks.
    let stop = Barrier::new(2);
    std::thread::scope(|s| {
        let run = || {
            let mut sim = Simulation::new(spec).expect("simulation");
            sim.set_threads(1).expect("threads");
            sim.step(WARMUP).expect("warm-up steps");
            start.wait();
            let t0 = Instant::now();
            sim.step(steps).expect("steps");
            let wall = t0.elapsed().as_secs_f64();
            stop.wait();
            drop(sim);
            wall
        };
        let a = s.spawn(run);
        let b = s.spawn(run);
        [a, b].map(|h| h.join().expect("a run of the pair"))
    })
}

/// The ratios `v` in their order, two decimals each.
fn listed(v: &[f64]) -> String {
    v.iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    // `cargo bench` passes `--bench`, other flags and any filter: the
    // filter (as criterion's, a part of the name `threads/<case>`) picks
    // the cases, `--rounds N` the rounds; other flags are ignored.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 8;
    let mut filter = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--rounds" {
            rounds = match args.get(i + 1).and_then(|v| v.parse::<usize>().ok()) {
                Some(n) if n > 0 => n,
                _ => {
                    eprintln!("threads bench: --rounds: expected a positive count of rounds");
                    std::process::exit(2);
                }
            };
            i += 1;
        } else if !args[i].starts_with('-') {
            filter = Some(args[i].clone());
        }
        i += 1;
    }
    if cfg!(debug_assertions) {
        // (`cargo test --benches` builds this unoptimised: nothing to time.)
        println!("threads bench: a debug build, not timed");
        return;
    }
    for (name, batch, steps) in CASES {
        if filter
            .as_deref()
            .is_some_and(|f| !format!("threads/{name}").contains(f))
        {
            continue;
        }
        let spec = RunSpec::builder()
            .network(BIG)
            .steps(WARMUP + steps)
            .set("train.batch", batch.to_string())
            .build()
            .expect("valid spec");
        let samples = (steps * u64::from(batch)) as f64;
        let (mut r1, mut r2, mut ratios, mut cpu1, mut cpu2) =
            (vec![], vec![], vec![], vec![], vec![]);
        let (mut ceilings, mut shares) = (vec![], vec![]);
        for round in 0..rounds {
            let order = if round % 2 == 0 { [1, 2] } else { [2, 1] };
            let mut got = [(0.0, 0.0); 3];
            for t in order {
                got[t] = timed(&spec, t, steps);
            }
            let ((w1, c1), (w2, c2)) = (got[1], got[2]);
            r1.push(samples / w1);
            r2.push(samples / w2);
            ratios.push(w1 / w2);
            cpu1.push(c1 / w1);
            cpu2.push(c2 / w2);
            let [a, b] = together(&spec, steps);
            let ceiling = 2.0 * w1 / a.max(b);
            ceilings.push(ceiling);
            shares.push(w1 / w2 / ceiling);
        }
        println!(
            "threads/{name}: 1 thread {:.1} /s, 2 threads {:.1} /s (medians); \
             CPUs busy {:.2} and {:.2}; ratio of each pair: {}; \
             median ratio {:.2}",
            median(&mut r1),
            median(&mut r2),
            median(&mut cpu1),
            median(&mut cpu2),
            listed(&ratios),
            median(&mut ratios),
        );
        println!(
            "ceiling/{name}: two 1-thread runs at once, twice one's time over the slower's: \
             {}; median {:.2}; 2 threads' ratio / the round's ceiling: median {:.2}",
            listed(&ceilings),
            median(&mut ceilings),
            median(&mut shares),
        );
    }
}
