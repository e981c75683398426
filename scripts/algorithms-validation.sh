#!/usr/bin/env bash
# Regenerates the training tables of docs/validation.md § "Training
# without backprop, and with two arrays": each algorithm on digits-mlp,
# seed 1, default chip and device, with the rule named. HGE runs one epoch
# (about 3 minutes of wall time on the 2-core machine; each step is a
# 2500-sample window of forward reads), the others the default 8 epochs.
# The gradient-quality table comes from
#   cargo test --release -p aimsim-train --lib hge_cosine_table -- --ignored --nocapture
# Usage: scripts/algorithms-validation.sh [path/to/aimsim]
set -euo pipefail
bin=${1:-target/release/aimsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
row() {
  python3 - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
w, e, s = r["writes"], r["energy_pj"], r["workload"]["steps"]
ph = ", ".join(f"{k} {v/1e6:.2f}" for k, v in e["by_phase"].items())
print(f"| {r['algorithm']} | {r['rule']} | {s} | {r['workload']['metric']['value']:.4f} | "
      f"{e['total']/s/1e3:.2f} | {r['time']['seconds']/s*1e6:.1f} | "
      f"{w['update_fraction']:.2e} | {w['cell_writes']} | {e['total']/1e6:.2f} | {ph} | {sys.argv[2]} |")
PY
}
runs=(
  "backprop eapu 1 epoch:--algorithm backprop --rule eapu --epochs 1"
  "backprop eapu:--algorithm backprop --rule eapu"
  "hge eapu 1 epoch:--algorithm hge --rule eapu --epochs 1"
  "madem eapu 1 epoch:--algorithm madem --rule eapu --epochs 1"
  "madem eapu:--algorithm madem --rule eapu"
  "backprop stochastic-pulse:--algorithm backprop --rule stochastic-pulse"
  "tiki-taka stochastic-pulse:--algorithm tiki-taka --rule stochastic-pulse"
  "tiki-taka eapu:--algorithm tiki-taka --rule eapu"
)
echo "| algorithm | rule | steps | test accuracy | energy per step nJ | chip time per step µs | update fraction | cell writes | total energy µJ | energy by phase µJ | wall s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for spec in "${runs[@]}"; do
  read -r -a args <<<"${spec#*:}"
  t0=$(date +%s)
  "$bin" run -q "${args[@]}" --seed 1 --out "$tmp/o"
  row "$tmp/o/report.json" "$(( $(date +%s) - t0 ))"
done
