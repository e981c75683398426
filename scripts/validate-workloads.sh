#!/usr/bin/env bash
# Validation of the network-file workloads (docs/validation.md): each
# workload's default run under the rules eapu, ideal and bp, seeds 1..3.
# Prints one TSV line per run: workload rule seed metric... baseline...
# Usage: scripts/validate-workloads.sh [path/to/aimsim]
set -euo pipefail
bin=${1:-target/release/aimsim}
out=$(mktemp -d)
for w in digits-cnn denoise sr2; do
  for rule in eapu ideal bp; do
    for seed in 1 2 3; do
      "$bin" run -q --workload "$w" --rule "$rule" --seed "$seed" --out "$out/r" || { echo -e "$w\t$rule\t$seed\tFAILED"; continue; }
      python3 - "$out/r/report.json" "$w" "$rule" "$seed" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
w = r["workload"]
m = w.get("metrics") or {w["metric"]["name"]: w["metric"]["value"]}
b = w.get("baseline", {})
print("\t".join(sys.argv[2:5] + [f"{k}={v:.4f}" for k, v in m.items()] + [f"baseline_{k}={v:.4f}" for k, v in b.items()]
      + [f"update_fraction={r['writes']['update_fraction']:.3e}", f"energy_pj={r['energy_pj']['total']:.4e}"]))
PY
    done
  done
done
rm -rf "$out"
