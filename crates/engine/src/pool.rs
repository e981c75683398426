//! The chip's thread pool, whose threads stay awake for a while after
//! each parallel part of the work instead of going to sleep at once.
//!
//! Why: a step of a large network is a dozen parallel parts (the tiles'
//! reads of each matrix, the sampled updates, the writes) with a few to
//! tens of microseconds of serial work between them (the event loop, the
//! partial sums, the training arithmetic). Rayon's idle threads yield a
//! few dozen times, then sleep (about four times a step of
//! `mlp-256-1024-1024-10` at batch 1 on 2 threads); waking a sleeping
//! thread took 21–44 µs (median; `cargo bench -p aimsim-engine --bench
//! wake`) on the 2-CPU virtual machine of `docs/performance.md`, time in
//! which only the calling thread works on the next part. After each
//! part, [`Pool::install`] leaves each other thread a job that waits
//! awake (spinning briefly, then yielding the core) until the next part
//! starts or [`LINGER`] has passed: the threads are awake when the next
//! part comes, and asleep once the simulation stops calling. (Each job is
//! one small allocation by rayon's `spawn`: a few per step, not per
//! tile.) Only where the threads are no more than the CPUs: more would
//! take turns on the cores with the threads that work.
//!
//! Which thread runs what does not change a bit of any result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a thread stays awake after a parallel part, waiting for the
/// next: longer than the serial gaps of a step (≤ 50 µs for
/// `mlp-256-1024-1024-10` at batch 1), short beside a pause of the
/// caller's.
pub(crate) const LINGER: Duration = Duration::from_micros(200);

/// A rayon pool and the count of parallel parts started on it.
#[derive(Debug)]
pub(crate) struct Pool {
    threads: Arc<rayon::ThreadPool>,
    /// Parallel parts started: a lingering thread stops at a change.
    parts: Arc<AtomicU64>,
    /// Whether threads linger: not when they outnumber the CPUs, where
    /// the waiting threads would take turns on the cores with the ones
    /// that work (on 2 CPUs, runs of 1 to 20 steps of the default
    /// workload on 1,024 threads took 4.2–7.7 s lingering, 0.6–1.0 s
    /// without).
    linger: bool,
}

impl Pool {
    pub(crate) fn new(threads: rayon::ThreadPool) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Pool {
            linger: threads.current_num_threads() <= cpus,
            threads: Arc::new(threads),
            parts: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The rayon pool (for a caller that runs its loop inside it).
    pub(crate) fn rayon(&self) -> &Arc<rayon::ThreadPool> {
        &self.threads
    }

    pub(crate) fn current_num_threads(&self) -> usize {
        self.threads.current_num_threads()
    }

    /// Runs `f` on the pool (`rayon::ThreadPool::install`), then leaves
    /// each other thread a job that keeps it awake until the next part
    /// starts or [`LINGER`] passes (where the threads are no more than
    /// the CPUs).
    pub(crate) fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        // A lingering thread sees the change and returns to the pool,
        // where this part's work waits for it.
        let part = self.parts.fetch_add(1, Ordering::AcqRel) + 1;
        let r = self.threads.install(f);
        if !self.linger {
            return r;
        }
        for _ in 1..self.threads.current_num_threads() {
            let parts = Arc::clone(&self.parts);
            self.threads.spawn(move || linger(&parts, part));
        }
        r
    }
}

/// Waits awake until `parts` moves past `part` or [`LINGER`] has passed.
fn linger(parts: &AtomicU64, part: u64) {
    let start = Instant::now();
    while parts.load(Ordering::Acquire) == part && start.elapsed() < LINGER {
        for _ in 0..32 {
            std::hint::spin_loop();
        }
        // (Where threads outnumber the cores, the waiting one gives way
        // to those with work.)
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_returns_the_work_done_on_every_thread_and_lingering_ends() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap(),
            );
            for round in 0..50u64 {
                let sum = pool.install(|| {
                    use rayon::prelude::*;
                    (0..10_000u64)
                        .into_par_iter()
                        .map(|i| i * round)
                        .sum::<u64>()
                });
                assert_eq!(sum, round * 10_000 * 9_999 / 2);
            }
            // Every lingering job returns by itself: the pool then runs
            // a job on each thread (a broadcast waits for all of them).
            let ran = pool
                .rayon()
                .broadcast(|_| 1usize)
                .into_iter()
                .sum::<usize>();
            assert_eq!(ran, threads);
        }
    }
}
