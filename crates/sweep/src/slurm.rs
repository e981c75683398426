//! SLURM job-array scripts for a sweep: `sweep.sbatch` (one array task per
//! shard, `--shard` from `SLURM_ARRAY_TASK_ID`) and `merge.sbatch` (joins
//! the shards once every task succeeded, submitted with
//! `--dependency=afterok`).
//!
//! The script passes the shard explicitly rather than leaving it to
//! [`crate::Shard::from_slurm`]: a task resubmitted alone
//! (`sbatch --array=2`) sees `SLURM_ARRAY_TASK_COUNT=1` and would otherwise
//! take itself for the whole sweep.

use crate::rows::write_durable;
use crate::{Result, SweepError};
use std::path::{Path, PathBuf};

/// What `aimsim sweep slurm` writes.
#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// The sweep spec (copied to `OUT/spec.json`, which the jobs read).
    pub spec: PathBuf,
    /// The sweep folder (absolute): shards go to `OUT/shards/task-I`, logs
    /// to `OUT/logs`, the merged files to `OUT`.
    pub out: PathBuf,
    /// Array tasks (shards).
    pub array: usize,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` limit of each task.
    pub time: Option<String>,
    /// CPUs per task (each task runs that many points at once).
    pub cpus: usize,
    /// The `aimsim` binary the jobs run (absolute).
    pub exe: PathBuf,
    /// The folder the jobs run in (relative paths in the spec resolve here).
    pub workdir: PathBuf,
}

/// The files written and the command that submits them.
#[derive(Clone, Debug)]
pub struct SlurmFiles {
    /// The job-array script.
    pub sweep: PathBuf,
    /// The merge job's script.
    pub merge: PathBuf,
    /// The shell command that submits the array, then the merge job
    /// depending on it.
    pub submit: String,
}

/// `s` single-quoted for a POSIX shell.
fn quote(s: &Path) -> String {
    format!("'{}'", s.display().to_string().replace('\'', r"'\''"))
}

fn directives(o: &SlurmOptions, name: &str, log: &str) -> String {
    let mut s = format!(
        "#SBATCH --job-name={name}\n#SBATCH --output={}/logs/{log}\n#SBATCH --chdir={}\n",
        o.out.display(),
        o.workdir.display()
    );
    if let Some(p) = &o.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &o.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    s
}

/// Writes `OUT/spec.json`, `OUT/sweep.sbatch` and `OUT/merge.sbatch`, and
/// creates `OUT/logs`.
pub fn write_slurm(o: &SlurmOptions) -> Result<SlurmFiles> {
    if o.array == 0 || o.cpus == 0 {
        return Err(SweepError::Usage(
            "--array and --cpus must be at least 1".into(),
        ));
    }
    // Each task runs `sweep --jobs CPUS`, which takes at most this many.
    let max = aimsim::engine::MAX_THREADS;
    if o.cpus > max {
        return Err(SweepError::Usage(format!(
            "--cpus {}: expected 1 to {max} (each task runs its points on that many threads)",
            o.cpus
        )));
    }
    for (flag, v) in [("--partition", &o.partition), ("--time", &o.time)] {
        if let Some(v) = v
            .as_deref()
            .filter(|v| v.is_empty() || v.contains(char::is_whitespace))
        {
            return Err(SweepError::Usage(format!(
                "{flag} `{v}`: expected one word"
            )));
        }
    }
    let logs = o.out.join("logs");
    std::fs::create_dir_all(&logs).map_err(SweepError::io(&logs))?;
    let spec_text = std::fs::read(&o.spec).map_err(SweepError::io(&o.spec))?;
    let spec = o.out.join("spec.json");
    write_durable(&spec, &spec_text)?;
    let exe = quote(&o.exe);
    let out = quote(&o.out);
    let sweep_text = format!(
        "#!/bin/bash\n\
         # aimsim sweep as a SLURM job array, written by `aimsim sweep slurm`.\n\
         # Task I runs shard I+1 of {n} into OUT/shards/task-I. The shard is given\n\
         # explicitly, so a task resubmitted alone (sbatch --array=I) runs the same\n\
         # shard, and resumes it.\n\
         {dirs}#SBATCH --array=0-{last}\n#SBATCH --cpus-per-task={cpus}\n\
         set -euo pipefail\n\
         exec {exe} sweep {spec} --out {out}/shards/task-\"$SLURM_ARRAY_TASK_ID\" --shard \"$((SLURM_ARRAY_TASK_ID + 1))/{n}\" --jobs \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\"\n",
        n = o.array,
        dirs = directives(o, "aimsim-sweep", "task-%a.out"),
        last = o.array - 1,
        cpus = o.cpus,
        spec = quote(&spec),
    );
    let merge_text = format!(
        "#!/bin/bash\n\
         # Joins the shards of the job array in sweep.sbatch into OUT (results.jsonl,\n\
         # results.csv: the same bytes as one local run); written by `aimsim sweep slurm`.\n\
         {dirs}\
         set -euo pipefail\n\
         exec {exe} sweep merge {out}/shards/task-* --out {out}\n",
        dirs = directives(o, "aimsim-sweep-merge", "merge.out"),
    );
    let sweep = o.out.join("sweep.sbatch");
    let merge = o.out.join("merge.sbatch");
    write_durable(&sweep, sweep_text.as_bytes())?;
    write_durable(&merge, merge_text.as_bytes())?;
    let submit = format!(
        "jid=$(sbatch --parsable {}) && sbatch --dependency=afterok:\"${{jid%%;*}}\" {}",
        quote(&sweep),
        quote(&merge)
    );
    Ok(SlurmFiles {
        sweep,
        merge,
        submit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_the_array_and_the_dependency() {
        let d = tempfile::tempdir().unwrap();
        let spec = d.path().join("s.json");
        std::fs::write(&spec, "{}").unwrap();
        let o = SlurmOptions {
            spec,
            out: d.path().join("out"),
            array: 3,
            partition: Some("short".into()),
            time: Some("00:10:00".into()),
            cpus: 2,
            exe: "/opt/aimsim".into(),
            workdir: d.path().into(),
        };
        let f = write_slurm(&o).unwrap();
        let s = std::fs::read_to_string(&f.sweep).unwrap();
        for want in [
            "#SBATCH --array=0-2",
            "--cpus-per-task=2",
            "--partition=short",
            "--time=00:10:00",
            "'/opt/aimsim' sweep",
        ] {
            assert!(s.contains(want), "{want} in {s}");
        }
        let m = std::fs::read_to_string(&f.merge).unwrap();
        assert!(
            m.contains("sweep merge") && m.contains("/shards/task-*"),
            "{m}"
        );
        assert!(f.submit.contains("--dependency=afterok:"), "{}", f.submit);
        assert!(write_slurm(&SlurmOptions {
            array: 0,
            ..o.clone()
        })
        .is_err());
        let e = write_slurm(&SlurmOptions { cpus: 1025, ..o }).unwrap_err();
        assert!(
            e.to_string().contains("--cpus 1025: expected 1 to 1024"),
            "{e}"
        );
    }
}
