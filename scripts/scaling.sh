#!/usr/bin/env bash
# Memory and time against chip size: trains N-N-10 dense networks on
# synthetic data (2·(N² + 10N) cells on 128×128 tiles) for a few steps and
# prints cells, peak resident memory (GNU time's "Maximum resident set
# size") and bytes per cell, for docs/performance.md.
#
# Usage: scripts/scaling.sh [BINARY] [N...]
#   default BINARY: target/release/aimsim; default N: 707 2236 7071
#   (≈ 10^6, 10^7, 10^8 cells). Steps: AIMSIM_SCALING_STEPS (default 2);
#   threads: AIMSIM_SCALING_THREADS (default 1).
set -euo pipefail
bin=${1:-target/release/aimsim}
shift || true
sizes=${*:-707 2236 7071}
steps=${AIMSIM_SCALING_STEPS:-2}
threads=${AIMSIM_SCALING_THREADS:-1}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '%-6s %12s %10s %8s %8s %8s\n' N cells peak_MiB B/cell wall_s user_s
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
    --threads "$threads" --out "$dir/out$n" 2> "$dir/time$n" > /dev/null
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time$n")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time$n")
  user=$(awk -F': ' '/User time/ {print $2}' "$dir/time$n")
  cells=$(( 2 * (n * n + n * 10) ))
  awk -v n="$n" -v c="$cells" -v kb="$kb" -v w="$wall" -v u="$user" \
    'BEGIN { printf "%-6d %12d %10.1f %8.2f %8s %8s\n", n, c, kb / 1024, kb * 1024 / c, w, u }'
done
