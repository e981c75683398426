//! How long a sleeping thread takes to run again once woken, on this
//! machine: the cost that the chip's pool avoids by keeping its threads
//! awake between a step's parallel parts (`crate::pool` in
//! aimsim-engine, docs/performance.md "Threads").
//!
//! A waiter thread parks (a futex wait on Linux); the main thread works
//! alone for a gap (spinning, as a step's serial part does), then notes
//! the time and unparks it; the waiter notes when it runs. The gaps are
//! long enough for the waiter to be asleep, as rayon's idle threads are
//! after a few dozen yields. Prints the median, 90th and 99th percentile
//! and the largest of 2,000 wake-ups per gap.
//!
//! Run: `cargo bench -p aimsim-engine --bench wake`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAKES: usize = 2_000;

fn main() {
    if cfg!(debug_assertions) {
        println!("wake bench: a debug build, not timed");
        return;
    }
    for gap_us in [20u64, 100, 500] {
        let t0 = Instant::now();
        // Nanoseconds since `t0` at the unpark; `u64::MAX` while none waits.
        let sent = Arc::new(AtomicU64::new(u64::MAX));
        let stop = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(WAKES);
                loop {
                    std::thread::park();
                    let now = t0.elapsed().as_nanos() as u64;
                    let s = sent.swap(u64::MAX, Ordering::AcqRel);
                    if s != u64::MAX {
                        lat.push(now.saturating_sub(s));
                    }
                    if stop.load(Ordering::Acquire) {
                        return lat;
                    }
                }
            })
        };
        for i in 0..=WAKES {
            let start = Instant::now();
            while start.elapsed() < Duration::from_micros(gap_us) {
                std::hint::spin_loop();
            }
            // The previous wake-up was taken (a spurious one is skipped).
            while sent.load(Ordering::Acquire) != u64::MAX {
                std::hint::spin_loop();
            }
            if i == WAKES {
                stop.store(true, Ordering::Release);
            }
            sent.store(t0.elapsed().as_nanos() as u64, Ordering::Release);
            waiter.thread().unpark();
        }
        let mut lat = waiter.join().expect("waiter thread");
        lat.sort_unstable();
        let q = |f: f64| lat[((lat.len() - 1) as f64 * f) as usize] as f64 / 1e3;
        println!(
            "wake/gap_{gap_us}us: {} wake-ups, latency median {:.1} µs, p90 {:.1}, p99 {:.1}, max {:.1}",
            lat.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            q(1.0),
        );
    }
}
