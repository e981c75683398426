//! Output files that never harm the user's files.
//!
//! Rules (DESIGN.md §3), each tested:
//! * Only a regular file (or nothing) is ever replaced. A symlink, folder,
//!   socket or anything else at an output path is refused before anything
//!   runs; a character device or FIFO (`/dev/null`, `/dev/full`, a pipe) is
//!   written through, never replaced.
//! * A file is written under a unique hidden name in its target's folder,
//!   `.NAME.PID.N.tmp` (so concurrent runs never share one and a listing
//!   never shows one as a result), then renamed into place.
//! * Temporary files are removed on error, on drop, and — once the binary
//!   calls [`remove_temp_files_on_signals`] — on SIGINT and SIGTERM; those of
//!   a killed process (SIGKILL leaves them) are removed by the next write
//!   into that folder ([`remove_stale_temp_files`]).
//! * Every output path is checked before a simulation starts
//!   ([`check_output_file`], [`check_output_dir`]).
//!
//! A run's result set (`report.json`, `energy.csv`, `lifetime.csv`) is
//! replaced as a set with `report.json` as the commit marker: all three are
//! written to temporary names first; then the old `report.json` is removed,
//! the two CSVs are renamed into place, and the new `report.json` is renamed
//! last. So whenever `report.json` exists, the CSVs beside it belong to the
//! same run; a run killed between the renames leaves no `report.json` (no
//! result) rather than a mixed set. Readers take a folder without
//! `report.json` as holding no result. Commits into one folder hold an
//! exclusive lock on its hidden `.aimsim.lock`, so concurrent runs into the
//! same folder replace the set one after the other, never interleaved.

use crate::{AimsimError, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Temporary files of this process that are not yet renamed into place.
/// Held while renaming, so a signal handler that takes it sees either the
/// temporary name or the final one, never a rename half done.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

fn io_err(path: &Path, source: std::io::Error) -> AimsimError {
    AimsimError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn refuse(path: &Path, what: &str) -> AimsimError {
    AimsimError::BadOutput(format!("{}: {what}", path.display()))
}

/// A unique hidden temporary path for `target` in its folder.
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{name}.{}.{n}.tmp", std::process::id());
    target.with_file_name(tmp)
}

/// The folder a file path lives in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// What an output path holds now.
enum Existing {
    Nothing,
    Regular,
    WriteThrough,
}

fn existing(path: &Path) -> Result<Existing> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Existing::Nothing),
        Err(e) => Err(io_err(path, e)),
        Ok(m) => {
            let t = m.file_type();
            if t.is_file() {
                Ok(Existing::Regular)
            } else if t.is_symlink() {
                Err(refuse(
                    path,
                    "is a symbolic link; aimsim does not replace links (give the link's target)",
                ))
            } else if t.is_dir() {
                Err(refuse(path, "is a directory"))
            } else if is_char_device_or_fifo(&t) {
                Ok(Existing::WriteThrough)
            } else {
                Err(refuse(path, "is not a regular file"))
            }
        }
    }
}

#[cfg(unix)]
fn is_char_device_or_fifo(t: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_char_device() || t.is_fifo()
}

#[cfg(not(unix))]
fn is_char_device_or_fifo(_: &std::fs::FileType) -> bool {
    false
}

/// Creates and removes a temporary file in `dir`: whether a run could
/// write there at all.
fn probe_folder(dir: &Path, shown: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(refuse(
            shown,
            &format!("the folder {} does not exist", dir.display()),
        ));
    }
    let probe = temp_path(&dir.join("probe"));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(refuse(
            shown,
            &format!("cannot write in {}: {e}", dir.display()),
        )),
    }
}

/// Checks, before anything runs, that `path` can be written as one output
/// file: nothing or a regular file there (replaced), or a character device
/// or FIFO (written through), in a folder that exists and is writable.
pub fn check_output_file(path: &Path) -> Result<()> {
    match existing(path)? {
        Existing::WriteThrough => OpenOptions::new()
            .write(true)
            .open(path)
            .map(drop)
            .map_err(|e| refuse(path, &format!("cannot open for writing: {e}"))),
        Existing::Nothing | Existing::Regular => probe_folder(folder_of(path), path),
    }
}

/// Checks, before anything runs, that `dir` can take a run's result set:
/// a folder (or a path whose nearest existing ancestor is a writable
/// folder), whose result files, where present, are regular files.
pub fn check_output_dir(dir: &Path, files: &[&str]) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(refuse(dir, "exists and is not a directory"));
        }
        for f in files {
            let p = dir.join(f);
            if let Existing::WriteThrough = existing(&p)? {
                return Err(refuse(
                    &p,
                    "is not a regular file (a result set is replaced only over regular files)",
                ));
            }
        }
        return probe_folder(dir, dir);
    }
    let mut anc = dir;
    while let Some(p) = anc.parent() {
        anc = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        if anc.exists() {
            if !anc.is_dir() {
                return Err(refuse(
                    dir,
                    &format!("{} is not a directory", anc.display()),
                ));
            }
            return probe_folder(anc, dir);
        }
    }
    Ok(())
}

/// One output file being written: under a hidden temporary name (renamed
/// into place by [`OutputFile::commit`], removed if dropped uncommitted),
/// or straight into a device or FIFO.
pub struct OutputFile {
    target: PathBuf,
    tmp: Option<PathBuf>,
    file: Option<File>,
}

impl OutputFile {
    /// Opens `target` for writing (see the module rules).
    pub fn create(target: &Path) -> Result<OutputFile> {
        match existing(target)? {
            Existing::WriteThrough => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(target)
                    .map_err(|e| io_err(target, e))?;
                Ok(OutputFile {
                    target: target.to_path_buf(),
                    tmp: None,
                    file: Some(file),
                })
            }
            Existing::Nothing | Existing::Regular => {
                let folder = folder_of(target);
                remove_stale_temp_files(folder);
                let tmp = temp_path(target);
                let mut l = live();
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .map_err(|e| io_err(target, e))?;
                l.push(tmp.clone());
                Ok(OutputFile {
                    target: target.to_path_buf(),
                    tmp: Some(tmp),
                    file: Some(file),
                })
            }
        }
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes and renames the file into place (or, for a device, only
    /// flushes).
    pub fn commit(mut self) -> Result<()> {
        let mut file = self.file.take().expect("open until committed");
        file.flush().map_err(|e| io_err(&self.target, e))?;
        drop(file);
        if let Some(tmp) = self.tmp.take() {
            let mut l = live();
            let r = rename_over_regular(&tmp, &self.target);
            let _ = std::fs::remove_file(&tmp);
            l.retain(|p| p != &tmp);
            r?;
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("open until committed").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("open until committed").flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let mut l = live();
            let _ = std::fs::remove_file(&tmp);
            l.retain(|p| p != &tmp);
        }
    }
}

/// Renames `tmp` over `target` if `target` is a regular file or nothing
/// (checked again just before, so a link made meanwhile is not replaced).
fn rename_over_regular(tmp: &Path, target: &Path) -> Result<()> {
    match existing(target)? {
        Existing::WriteThrough => Err(refuse(target, "is not a regular file")),
        _ => std::fs::rename(tmp, target).map_err(|e| io_err(target, e)),
    }
}

/// Writes `bytes` to `target` as one output file (see the module rules).
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OutputFile::create(target)?;
    f.write_all(bytes).map_err(|e| io_err(target, e))?;
    f.commit()
}

/// Writes a result set of `(name, bytes)` into `dir` (created if needed)
/// and replaces it as a set, the first file being the commit marker (see
/// the module doc).
pub fn write_set(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    remove_stale_temp_files(dir);
    let mut temps = Vec::new();
    for (name, bytes) in files {
        let target = dir.join(name);
        if let Existing::WriteThrough = existing(&target)? {
            return Err(refuse(&target, "is not a regular file"));
        }
        let mut f = OutputFile::create(&target)?;
        f.write_all(bytes).map_err(|e| io_err(&target, e))?;
        f.flush().map_err(|e| io_err(&target, e))?;
        temps.push(f);
    }
    // Concurrent runs into one folder commit one at a time (an exclusive
    // lock on a hidden, empty, persistent lock file; the kernel releases it
    // if the holder dies), so two commits never interleave their renames.
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| io_err(&lock_path, e))?;
    lock.lock().map_err(|e| io_err(&lock_path, e))?;
    // From here to the end, a signal waits: the set moves in one piece as
    // far as this process is concerned (SIGKILL is covered by the marker).
    let mut l = live();
    let marker = dir.join(files[0].0);
    match std::fs::remove_file(&marker) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&marker, e)),
        _ => {}
    }
    temps.rotate_left(1);
    for f in &mut temps {
        let tmp = f.tmp.take().expect("a set's files are regular");
        drop(f.file.take());
        rename_over_regular(&tmp, &f.target)?;
        l.retain(|p| p != &tmp);
    }
    Ok(())
}

/// The lock file a result set's commit holds (hidden, empty, left in place:
/// removing it would let two runs lock different files).
pub const LOCK_FILE: &str = ".aimsim.lock";

/// Whether `name` is one of aimsim's temporary names (`.NAME.PID.N.tmp`),
/// and the process id that made it.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let n = parts.next()?;
    let pid = parts.next()?;
    let stem = parts.next()?;
    if stem.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this id may still be running. Without `/proc`
/// every process is assumed alive, so only Linux cleans up others' files.
fn may_be_alive(pid: u32) -> bool {
    pid == std::process::id()
        || !Path::new("/proc/self").exists()
        || Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes temporary files in `dir` left by aimsim processes that no
/// longer run (a run killed with SIGKILL). Files of live processes,
/// including concurrent runs into the same folder, are left alone.
pub fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        if is_file && !may_be_alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Removes every temporary file this process has open (for a signal
/// handler or an abort path). Holds the registry afterwards only for the
/// duration of the call.
pub fn remove_temp_files() {
    let mut l = live();
    for p in l.drain(..) {
        let _ = std::fs::remove_file(p);
    }
}

/// Installs handlers so that SIGINT and SIGTERM remove this process's
/// temporary files and exit with status 128 + the signal (130, 143).
/// Called once by the binary; library users decide for themselves.
#[cfg(unix)]
pub fn remove_temp_files_on_signals() -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| io_err(Path::new("signal handler"), e))?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            // Taking the registry waits for a rename in progress; the
            // process exits while holding it, so no rename starts after.
            let mut l = live();
            for p in l.drain(..) {
                let _ = std::fs::remove_file(p);
            }
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

/// Installs nothing where signals are not Unix's.
#[cfg(not(unix))]
pub fn remove_temp_files_on_signals() -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_hidden_unique_and_recognised() {
        let a = temp_path(Path::new("d/report.json"));
        let b = temp_path(Path::new("d/report.json"));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(".report.json.") && name.ends_with(".tmp"));
        assert_eq!(temp_owner(name), Some(std::process::id()));
        assert_eq!(temp_owner(".x.tmp"), None);
        assert_eq!(temp_owner("report.json"), None);
        assert_eq!(temp_owner(".a.b.12.x.tmp"), None);
    }

    #[test]
    fn stale_files_of_dead_processes_go_and_live_ones_stay() {
        let d = tempfile::tempdir().unwrap();
        // pid 2^31 - 2 is above Linux's pid_max: never a live process.
        let stale = d.path().join(".report.json.2147483646.0.tmp");
        let mine = temp_path(&d.path().join("energy.csv"));
        let other = d.path().join("notes.2147483646.0.tmp");
        for p in [&stale, &mine, &other] {
            std::fs::write(p, "x").unwrap();
        }
        remove_stale_temp_files(d.path());
        assert!(!stale.exists() || !Path::new("/proc/self").exists());
        assert!(mine.exists() && other.exists());
    }

    #[test]
    fn a_set_replaces_regular_files_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        write_set(d.path(), &[("r.json", b"1"), ("a.csv", b"1")]).unwrap();
        write_set(d.path(), &[("r.json", b"2"), ("a.csv", b"2")]).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [LOCK_FILE, "a.csv", "r.json"]);
        assert_eq!(std::fs::read(d.path().join("a.csv")).unwrap(), b"2");
        assert!(live().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn links_are_refused_and_devices_written_through() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("t.txt");
        std::fs::write(&target, "keep").unwrap();
        let link = d.path().join("l.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write_file(&link, b"x").unwrap_err();
        assert!(
            e.is_bad_input() && e.to_string().contains("symbolic link"),
            "{e}"
        );
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        write_file(Path::new("/dev/null"), b"x").unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        check_output_file(Path::new("/dev/null")).unwrap();
        let e = check_output_file(Path::new("/proc/x.vcd")).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
        let e = check_output_dir(Path::new("/proc/x"), &["r"]).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
        let e = check_output_dir(&d.path().join("t.txt/sub"), &["r"]).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
        let e = write_set(d.path(), &[("l.txt", b"x")]).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
}
