#!/usr/bin/env bash
# EaPU's training energy against bp under each update-forming unit
# (docs/validation.md, "Update-forming units"). Runs
#   aimsim run -q --workload W --rule R --seed S --set chip.update_unit=U
# for W in digits-mlp digits-cnn, U in the four units, R in eapu bp, and
# prints one TSV line per run (energies in µJ): workload unit rule seed
# accuracy total update forming deciding writing static, then the training
# energy by component; then the table of EaPU/bp ratios (mean over seeds).
# Usage: scripts/update-units.sh [path/to/aimsim] [seeds...]   (default seed 1)
set -euo pipefail
bin=${1:-target/release/aimsim}
shift || true
seeds=${*:-1}
out=$(mktemp -d)
tsv="$out/runs.tsv"
for w in digits-mlp digits-cnn; do
  for u in digital-mac low-precision sparse-sampler off-chip; do
    for rule in eapu bp; do
      for seed in $seeds; do
        "$bin" run -q --workload "$w" --rule "$rule" --seed "$seed" \
          --set chip.update_unit="$u" --out "$out/r"
        python3 - "$out/r/report.json" "$w" "$u" "$rule" "$seed" <<'PY' | tee -a "$tsv"
import json, sys
r = json.load(open(sys.argv[1]))
e = r["energy_pj"]
s = e["update_split"]
uj = lambda v: f"{v * 1e-6:.2f}"
cols = [r["workload"]["metric"]["value"]]
print("\t".join(sys.argv[2:6] + [f"{r['workload']['metric']['value']:.4f}", uj(e["total"]),
      uj(e["by_phase"]["update"]), uj(s["forming"]), uj(s["deciding"]), uj(s["writing"]),
      uj(s["static"])] + [f"{k}={uj(v)}" for k, v in e["by_component"].items()]))
PY
      done
    done
  done
done
python3 - "$tsv" <<'PY'
import sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    runs[(f[0], f[1], f[2])].append([float(x) for x in f[4:11]])
mean = lambda rows: [sum(c) / len(c) for c in zip(*rows)]
print("\n| workload | update unit | EaPU total µJ | bp total µJ | bp / EaPU | EaPU update µJ (forming / deciding / writing / static) | bp update µJ (forming / deciding / writing / static) | accuracy EaPU / bp |")
print("|---|---|---|---|---|---|---|---|")
for (w, u, rule), rows in runs.items():
    if rule != "eapu":
        continue
    e, b = mean(rows), mean(runs[(w, u, "bp")])
    split = lambda m: f"{m[2]:.1f} ({m[3]:.1f} / {m[4]:.1f} / {m[5]:.1f} / {m[6]:.1f})"
    print(f"| {w} | {u} | {e[1]:.1f} | {b[1]:.1f} | {b[1] / e[1]:.2f} | {split(e)} | {split(b)} | {e[0]:.4f} / {b[0]:.4f} |")
PY
rm -rf "$out"
