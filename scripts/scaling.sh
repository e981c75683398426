#!/usr/bin/env bash
# Memory and time against chip size: trains N-N-10 dense networks on
# synthetic data (2·(N² + 10N) cells on 128×128 tiles) for a few steps and
# prints cells, peak resident memory (GNU time's "Maximum resident set
# size") and bytes per cell, for docs/performance.md.
#
# Usage: scripts/scaling.sh [BINARY] [N...]
#   default BINARY: target/release/aimsim; default N: 707 2236 7071
#   (≈ 10^6, 10^7, 10^8 cells). Steps: AIMSIM_SCALING_STEPS (default 2);
#   threads: AIMSIM_SCALING_THREADS (default 1); configuration overrides:
#   AIMSIM_SCALING_SET, space-separated PATH=VALUE items, each passed as
#   --set (e.g. AIMSIM_SCALING_SET=device.relax_rate_per_decade=0.01 for a
#   relaxing device).
#   AIMSIM_SCALING_AIHWKIT=/path/to/python (with aihwkit 1.1.0 and torch
#   2.10.0): the same networks through scripts/aihwkit_bench.py as well
#   (ConstantStep, one thread, the same steps), its peak memory less the
#   interpreter's own (the peak of the same script on mlp-8-8-10), per
#   weight beside aimsim's; build_s is the time to build the model, steps_s
#   the steps'.
set -euo pipefail
bin=${1:-target/release/aimsim}
shift || true
sizes=${*:-707 2236 7071}
steps=${AIMSIM_SCALING_STEPS:-2}
threads=${AIMSIM_SCALING_THREADS:-1}
set_args=()
for kv in ${AIMSIM_SCALING_SET:-}; do
  set_args+=(--set "$kv")
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '%-8s %-6s %12s %10s %8s %9s %8s %8s\n' tool N cells peak_MiB B/cell B/weight wall_s user_s
for n in $sizes; do
  cat > "$dir/n$n.network.json" <<JSON
{
  "schema": "aimsim.network/1",
  "name": "mlp-$n-$n-10",
  "input": [$n],
  "data": { "synthetic": { "train": 64, "test": 8, "classes": 10, "seed": 1 } },
  "layers": [
    { "kind": "dense", "outputs": $n, "activation": "tanh" },
    { "kind": "dense", "outputs": 10 }
  ],
  "loss": "cross_entropy",
  "metric": "accuracy"
}
JSON
  /usr/bin/time -v "$bin" run -q --network "$dir/n$n.network.json" --steps "$steps" \
    --threads "$threads" ${set_args[@]+"${set_args[@]}"} --out "$dir/out$n" 2> "$dir/time$n" > /dev/null
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time$n")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time$n")
  user=$(awk -F': ' '/User time/ {print $2}' "$dir/time$n")
  cells=$(( 2 * (n * n + n * 10) ))
  awk -v n="$n" -v c="$cells" -v kb="$kb" -v w="$wall" -v u="$user" \
    'BEGIN { printf "%-8s %-6d %12d %10.1f %8.2f %9.2f %8s %8s\n", "aimsim", n, c, kb / 1024, kb * 1024 / c, kb * 2048 / c, w, u }'
done
py=${AIMSIM_SCALING_AIHWKIT:-}
if [ -n "$py" ]; then
  here=$(cd "$(dirname "$0")" && pwd)
  peak() { # network: prints the run's peak KB; its JSON line goes to $dir/aout
    /usr/bin/time -v "$py" "$here/aihwkit_bench.py" --network "$1" --steps "$steps" --warmup 0 \
      2> "$dir/atime" > "$dir/aout"
    awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/atime"
  }
  base=$(peak mlp-8-8-10)
  printf '\naihwkit: peak memory above the interpreter with aihwkit and torch loaded (%s MiB, mlp-8-8-10)\n' \
    "$(awk -v kb="$base" 'BEGIN { printf "%.1f", kb / 1024 }')"
  printf '%-8s %-6s %12s %10s %9s %8s %8s\n' tool N weights above_MiB B/weight build_s steps_s
  for n in $sizes; do
    kb=$(peak "mlp-$n-$n-10")
    weights=$(( n * n + n * 10 ))
    read -r build secs < <(python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(j["build_seconds"], j["seconds"])' "$dir/aout")
    awk -v n="$n" -v w="$weights" -v kb="$kb" -v b="$base" -v bs="$build" -v ss="$secs" \
      'BEGIN { printf "%-8s %-6d %12d %10.1f %9.2f %8.2f %8.2f\n", "aihwkit", n, w, (kb - b) / 1024, (kb - b) * 1024 / w, bs, ss }'
  done
fi
