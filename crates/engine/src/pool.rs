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
//! awake (spinning, and yielding its core now and then) until the next
//! part starts or [`LINGER`] has passed: the threads are awake when the
//! next part comes, and asleep once the simulation stops calling. (Each
//! job is one small allocation by rayon's `spawn`: a few per step, not per
//! tile.) Only where the threads are no more than the CPUs: more would
//! take turns on the cores with the threads that work.
//!
//! A part over the tiles of a matrix runs on [`Pool::for_each_pair`]: a
//! block of consecutive tiles per thread, and a thread that finishes its
//! block takes the last tiles of the others (one small allocation a part,
//! the blocks).
//!
//! Which thread runs what does not change a bit of any result.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

impl Pool {
    /// Runs `f` on each pair `(a[i], b[i])` on the pool's threads, in one
    /// parallel part ([`Pool::install`]), and returns when every pair is
    /// done. The pairs are cut into one block of consecutive pairs per
    /// thread; each thread takes the pairs of its own block from the
    /// front, then, when its block is done, the last pair of the block
    /// that has the most left, until none is left (a compare-and-swap a
    /// pair).
    ///
    /// Why not rayon's `par_iter().with_max_len(1)`, which splits the
    /// range in halves down to single pairs: its joins, the steals at the
    /// end of a part and the unwinding of the joins after the last pair
    /// took more of a part of a few microseconds a pair (a tile's reads
    /// at batch 1) than this (docs/performance.md, "Threads"). Each
    /// thread still works on consecutive pairs (handing them out one by
    /// one in turn made the tiles' own work slower, by a tenth on 2
    /// threads). Which thread runs which pair does not change a bit of any
    /// result: each pair's work is its own.
    ///
    /// # Panics
    /// If `a` and `b` differ in length or hold 2³² items or more (a
    /// caller's bug), or `f` panics.
    pub(crate) fn for_each_pair<A: Send, B: Send>(
        &self,
        a: &mut [A],
        b: &mut [B],
        f: impl Fn(&mut A, &mut B) + Sync,
    ) {
        assert_eq!(a.len(), b.len(), "one work item per item");
        let n = a.len();
        let k = self.current_num_threads().min(n);
        if k <= 1 {
            a.iter_mut().zip(b.iter_mut()).for_each(|(x, y)| f(x, y));
            return;
        }
        // (A block's ends are 32-bit halves of one word.)
        assert!((n as u64) < 1 << 32, "fewer than 2³² items");
        let blocks: Vec<Block> = (0..k)
            .map(|j| Block::new(j * n / k, (j + 1) * n / k))
            .collect();
        let slot = AtomicUsize::new(0);
        let (pa, pb) = (Items(a.as_mut_ptr()), Items(b.as_mut_ptr()));
        let run = || {
            let own = &blocks[slot.fetch_add(1, Ordering::Relaxed) % k];
            while let Some(i) = own.front().or_else(|| {
                // The block with the most left, from its back.
                let most = blocks.iter().max_by_key(|blk| blk.left())?;
                most.back()
            }) {
                // SAFETY: `i < n` indexes both slices, which stay mutably
                // borrowed until every `run` has returned (the part ends
                // at the joins of `spread`); each index is handed out
                // once (`Block`), so no two references to a pair exist.
                let (x, y) = unsafe { (&mut *pa.at(i), &mut *pb.at(i)) };
                f(x, y);
            }
        };
        self.install(|| spread(k, &run));
    }

    /// [`Pool::for_each_pair`] over one slice.
    pub(crate) fn for_each<A: Send>(&self, a: &mut [A], f: impl Fn(&mut A) + Sync) {
        // (A `Vec` of `()` does not allocate.)
        let mut none = vec![(); a.len()];
        self.for_each_pair(a, &mut none, |x, _| f(x));
    }
}

/// The pairs `front..end` of [`Pool::for_each_pair`] not yet handed out,
/// as `front << 32 | end` in one word, so that a pair taken from the
/// front and one taken from the back are never the same.
struct Block(AtomicU64);

impl Block {
    fn new(front: usize, end: usize) -> Self {
        Block(AtomicU64::new(((front as u64) << 32) | end as u64))
    }

    fn left(&self) -> u64 {
        let v = self.0.load(Ordering::Relaxed);
        (v & 0xffff_ffff).saturating_sub(v >> 32)
    }

    /// Takes the first pair left.
    fn front(&self) -> Option<usize> {
        self.take(|front, end| ((front + 1) << 32 | end, front))
    }

    /// Takes the last pair left.
    fn back(&self) -> Option<usize> {
        self.take(|front, end| (front << 32 | (end - 1), end - 1))
    }

    /// Takes a pair: `next(front, end)` is the new word and the pair
    /// taken, for `front < end`.
    fn take(&self, next: impl Fn(u64, u64) -> (u64, u64)) -> Option<usize> {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let (front, end) = (cur >> 32, cur & 0xffff_ffff);
            if front >= end {
                return None;
            }
            let (new, taken) = next(front, end);
            // (Relaxed: the pairs themselves are handed over by the part's
            // joins, not by this word.)
            match self
                .0
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(taken as usize),
                Err(now) => cur = now,
            }
        }
    }
}

/// A slice's items as a pointer that [`Pool::for_each_pair`]'s threads
/// share; each item is reached by one thread only.
struct Items<T>(*mut T);

impl<T> Items<T> {
    /// The `i`-th item (a method, so that closures capture the whole
    /// `Items`, which is `Sync`, not its raw pointer).
    fn at(&self, i: usize) -> *mut T {
        // SAFETY: callers pass `i` below the slice's length.
        unsafe { self.0.add(i) }
    }
}

// SAFETY: `Items` hands each item to one thread at a time (by
// `for_each_pair`'s blocks), as a `&mut [T]` would, which is `Send` and
// `Sync` where `T: Send`.
unsafe impl<T: Send> Sync for Items<T> {}
unsafe impl<T: Send> Send for Items<T> {}

/// Runs `run` `k` times on the pool's threads (the calling one among
/// them): joins, each side taken by whichever thread is free.
fn spread(k: usize, run: &(impl Fn() + Sync)) {
    if k <= 1 {
        run();
    } else {
        rayon::join(|| spread(k / 2, run), || spread(k - k / 2, run));
    }
}

/// Waits awake until `parts` moves past `part` or [`LINGER`] has passed,
/// checking `parts` at every spin (a pause instruction, tens of
/// nanoseconds) instead of after 32 spins and a `sched_yield`: on the
/// 2-CPU virtual machine of docs/performance.md the waiting thread's
/// first tile of a 128-tile part then started 1.8–5.7 µs after the part
/// began (means of seven runs), against 5.8–6.9 µs (two runs) before; the
/// rest is rayon's hand-over of the part. The clock is read every 256
/// spins; every 1,024 the thread yields its core, in case another process
/// needs it.
fn linger(parts: &AtomicU64, part: u64) {
    let start = Instant::now();
    let mut spins = 0u32;
    while parts.load(Ordering::Acquire) == part {
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(256) {
            if start.elapsed() >= LINGER {
                break;
            }
            if spins.is_multiple_of(1024) {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> Pool {
        Pool::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn for_each_pair_visits_every_pair_once() {
        for threads in [1, 2, 3, 5] {
            let pool = pool(threads);
            for n in [0usize, 1, 2, 3, 7, 100, 1000] {
                let mut a: Vec<u64> = (0..n as u64).collect();
                let mut b = vec![0u32; n];
                // Uneven work, so that blocks run out at different times
                // and pairs are taken from the backs of others.
                pool.for_each_pair(&mut a, &mut b, |x, y| {
                    let spin = (*x % 7) * 200;
                    let mut acc = *x;
                    for i in 0..spin {
                        acc = std::hint::black_box(acc.wrapping_mul(31).wrapping_add(i));
                    }
                    std::hint::black_box(acc);
                    *x = *x * 3 + 1;
                    *y += 1;
                });
                assert!(
                    b.iter().all(|&c| c == 1),
                    "{threads} threads, {n} pairs: {b:?}"
                );
                assert!(a.iter().enumerate().all(|(i, &x)| x == i as u64 * 3 + 1));
            }
        }
    }

    #[test]
    fn for_each_nests() {
        // A pair's work may itself run a part on the pool (a relaxing
        // array's pass does): no thread waits for another forever.
        let pool = pool(2);
        let mut outer = vec![vec![0u32; 64]; 9];
        pool.for_each(&mut outer, |inner| {
            pool.for_each(inner, |v| *v += 1);
        });
        assert!(outer.iter().flatten().all(|&v| v == 1));
    }

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
