//! Running one shard of a sweep on a thread pool, with a journal that
//! makes it resumable.
//!
//! Each worker of a `rayon` pool takes the next point in point order, runs
//! it (a seeded, single-threaded simulation), and writes its row to the
//! journal (`points/HASH.json`, fsynced and renamed into place). The row
//! then waits until every earlier point of the shard has its row, and the
//! rows that are now contiguous are appended to `results.jsonl` and
//! `results.csv`, each flushed and fsynced. So at any moment — SIGKILL
//! included — the two result files are a prefix of their final bytes, and
//! the journal holds every finished point.
//!
//! Resume: a rerun reads the journal, skips the points found there (by
//! their run-spec hash), rewrites the result files from the journal in
//! point order and runs the rest. The final files do not depend on the
//! thread count, on the order points finished, or on how often the sweep
//! was interrupted.

use crate::plan::{Plan, Point};
use crate::rows::{row_line, write_durable, Manifest, ResultFiles, Row, MANIFEST_FILE, POINTS_DIR};
use crate::{Result, Shard, SweepError};
use aimsim::Simulation;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The sweep folder.
    pub out: PathBuf,
    /// Worker threads (1 to [`aimsim::engine::MAX_THREADS`]; 0 runs one;
    /// no more start than points are left to run: [`Summary::threads`]).
    pub jobs: usize,
    /// The slice to run.
    pub shard: Shard,
}

/// Where a sweep stands, after each finished point.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Points of the shard finished (resumed ones included).
    pub done: usize,
    /// Points in the shard.
    pub total: usize,
    /// Points found finished in the journal.
    pub resumed: usize,
    /// Points that ended in an error row.
    pub failed: usize,
}

/// What a sweep did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Points in the shard.
    pub points: usize,
    /// Points found finished in the journal.
    pub resumed: usize,
    /// Points run now.
    pub ran: usize,
    /// Points that ended in an error row (resumed ones included).
    pub failed: usize,
    /// Worker threads started: `--jobs`, or fewer where fewer points
    /// were left to run (at least 1).
    pub threads: usize,
}

struct Ordered {
    files: ResultFiles,
    slots: Vec<Option<(String, Value)>>,
    next: usize,
    progress: Progress,
}

impl Ordered {
    /// Records the row of shard position `pos` and appends every row that
    /// is now contiguous.
    fn put(&mut self, plan: &Plan, pos: usize, line: String) -> Result<()> {
        let value: Value = serde_json::from_str(&line).expect("rows are JSON");
        if value.get("error").is_some() {
            self.progress.failed += 1;
        }
        self.slots[pos] = Some((line, value));
        self.progress.done += 1;
        while let Some(Some((line, value))) = self.slots.get(self.next) {
            self.files.push(plan, line, value)?;
            self.slots[self.next] = None;
            self.next += 1;
        }
        Ok(())
    }
}

/// Runs `point`: its row, with the report or the error.
fn run_point(point: &Point) -> String {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> aimsim::Result<aimsim::Report> {
            let mut sim = Simulation::new(&point.spec)?;
            sim.run(&mut |_, _| {})?;
            Ok(sim.report()?.clone())
        },
    ));
    match outcome {
        Ok(Ok(report)) => row_line(point, Ok(&report)),
        Ok(Err(e)) => row_line(point, Err(&e.to_string())),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            row_line(point, Err(&format!("the simulation panicked: {msg}")))
        }
    }
}

/// The journal file of `point` in `dir`.
fn journal(dir: &Path, point: &Point) -> PathBuf {
    dir.join(POINTS_DIR).join(format!("{}.json", point.hash))
}

/// A point's row from the journal, if it finished.
fn journaled(dir: &Path, point: &Point) -> Option<String> {
    let path = journal(dir, point);
    let line = std::fs::read_to_string(&path).ok()?;
    let row = Row::parse(&path.display().to_string(), 1, &line).ok()?;
    (row.hash == point.hash && row.index == point.index && line.ends_with('\n')).then_some(line)
}

/// Removes journal files a kill left half-written (`*.partial`): their
/// points did not finish and run again.
fn remove_partials(points: &Path) -> Result<()> {
    for entry in std::fs::read_dir(points).map_err(SweepError::io(points))? {
        let path = entry.map_err(SweepError::io(points))?.path();
        if path.extension().is_some_and(|e| e == "partial") {
            std::fs::remove_file(&path).map_err(SweepError::io(&path))?;
        }
    }
    Ok(())
}

/// Creates `dir` as the folder of `plan`'s shard `shard`, or checks that it
/// already is.
pub(crate) fn prepare_dir(dir: &Path, plan: &Plan, shard: Shard) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(SweepError::Usage(format!(
            "--out {}: exists and is not a directory",
            dir.display()
        )));
    }
    let points = dir.join(POINTS_DIR);
    std::fs::create_dir_all(&points).map_err(SweepError::io(&points))?;
    let want = Manifest::new(plan, shard);
    if dir.join(MANIFEST_FILE).exists() {
        let have = Manifest::read(dir)?;
        if have.spec_sha256 != want.spec_sha256 || have.shard != want.shard {
            return Err(SweepError::Usage(format!(
                "--out {}: holds shard {} of another sweep (spec sha256 {}); this is shard {} of \
                 spec sha256 {}; choose another folder",
                dir.display(),
                have.shard,
                have.spec_sha256,
                want.shard,
                want.spec_sha256
            )));
        }
    } else {
        write_durable(&dir.join(MANIFEST_FILE), &want.to_bytes())?;
    }
    Ok(())
}

/// Runs (or resumes) shard `opts.shard` of `plan` into `opts.out`, calling
/// `progress` after each finished point.
pub fn run_sweep(
    plan: &Plan,
    opts: &RunOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Summary> {
    let max = aimsim::engine::MAX_THREADS;
    if opts.jobs > max {
        return Err(SweepError::Usage(format!(
            "--jobs {}: expected 1 to {max}",
            opts.jobs
        )));
    }
    let dir = &opts.out;
    prepare_dir(dir, plan, opts.shard)?;
    let mine: Vec<&Point> = plan
        .points
        .iter()
        .filter(|p| opts.shard.contains(p.index))
        .collect();
    let mut state = Ordered {
        files: ResultFiles::create(dir, plan)?,
        slots: vec![None; mine.len()],
        next: 0,
        progress: Progress {
            total: mine.len(),
            ..Progress::default()
        },
    };
    remove_partials(&dir.join(POINTS_DIR))?;
    let mut todo = Vec::new();
    for (pos, p) in mine.iter().enumerate() {
        match journaled(dir, p) {
            Some(line) => {
                state.progress.resumed += 1;
                state.put(plan, pos, line)?;
            }
            None => todo.push(pos),
        }
    }
    progress(&state.progress);
    let state = Mutex::new(state);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<SweepError>> = Mutex::new(None);
    // No more workers than points to run: each takes one at a time.
    let jobs = opts.jobs.clamp(1, todo.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("sweep-{i}"))
        .build()
        .map_err(|e| SweepError::Usage(format!("cannot start {jobs} worker threads: {e}")))?;
    let work = || loop {
        let t = next.fetch_add(1, Ordering::SeqCst);
        if t >= todo.len() || stop.load(Ordering::SeqCst) {
            break;
        }
        let pos = todo[t];
        let point = mine[pos];
        let line = run_point(point);
        let result = write_durable(&journal(dir, point), line.as_bytes()).and_then(|()| {
            let mut s = state.lock().expect("no worker panics holding the lock");
            s.put(plan, pos, line)?;
            progress(&s.progress);
            Ok(())
        });
        if let Err(e) = result {
            stop.store(true, Ordering::SeqCst);
            failure.lock().expect("lock").get_or_insert(e);
            break;
        }
    };
    pool.scope(|s| {
        for _ in 0..jobs {
            s.spawn(|_| work());
        }
    });
    if let Some(e) = failure.into_inner().expect("lock") {
        return Err(e);
    }
    let state = state.into_inner().expect("lock");
    Ok(Summary {
        points: mine.len(),
        resumed: state.progress.resumed,
        ran: todo.len(),
        failed: state.progress.failed,
        threads: jobs,
    })
}
