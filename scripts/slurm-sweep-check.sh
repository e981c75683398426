#!/usr/bin/env bash
# Runs a sweep as a SLURM job array on the one-node cluster of
# scripts/slurm-local-up.sh — `aimsim sweep slurm` writes the array and the
# dependent merge job, `sbatch` submits them — and checks that the merged
# results.jsonl and results.csv equal a local run's byte for byte.
#
#   sudo scripts/slurm-sweep-check.sh [SPEC.json] [TASKS]
#
# Defaults: sweeps/ci-slurm.sweep.json, 3 array tasks. Uses
# target/release/aimsim (built if missing; AIMSIM=PATH to use another).
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-sweeps/ci-slurm.sweep.json}
tasks=${2:-3}
aimsim=${AIMSIM:-target/release/aimsim}
[ -x "$aimsim" ] || cargo build -q --release -p aimsim-cli
aimsim=$(realpath "$aimsim")

scripts/slurm-local-up.sh
work=$(mktemp -d /tmp/aimsim-slurm-check.XXXXXX)
jid= merge_id=
# On any exit: no job of this check outlives it, then the cluster stops.
trap 'scancel $jid $merge_id 2>/dev/null || true; scripts/slurm-local-down.sh; rm -rf "$work"' EXIT

"$aimsim" sweep "$spec" --out "$work/local" --jobs 2 -q
"$aimsim" sweep slurm "$spec" --array "$tasks" --out "$work/cluster" --time 00:10:00 >"$work/submit.txt"
cat "$work/submit.txt"
submit=$(tail -n 1 "$work/submit.txt")
# The printed command submits the array (its id in $jid), then the merge
# job, for which sbatch prints "Submitted batch job N".
eval "$submit" >"$work/submitted.txt"
merge_id=$(awk '/Submitted batch job/ {print $4}' "$work/submitted.txt")
echo "array job $jid, merge job $merge_id"
for _ in $(seq 480); do          # at most 2 minutes
  [ -z "$(squeue -h -j "$jid,$merge_id" 2>/dev/null)" ] && break
  sleep 0.25
done
state=$(scontrol show job "$merge_id" | sed -nE 's/.*JobState=([A-Z_]+).*/\1/p')
if [ "$state" != COMPLETED ]; then
  echo "merge job $merge_id: $state" >&2
  tail -n +1 "$work"/cluster/logs/* >&2 || true
  exit 1
fi
shards=$(ls -d "$work"/cluster/shards/task-* | wc -l)
echo "job array: $shards shards merged"
for f in results.jsonl results.csv; do
  cmp "$work/local/$f" "$work/cluster/$f"
done
echo "SLURM job array of $(($(wc -l <"$work/local/results.jsonl"))) points: merged files equal the local run's"
