#!/usr/bin/env bash
# Device technologies side by side (docs/validation.md, "RRAM, FeFET and
# STT-MRAM"): digits-mlp trained to completion (the workload's default
# epochs) on the chips eapu-180nm (1T1R HfOx RRAM), fefet-hzo (HZO FeFET)
# and stt-mram-pmtj (binary STT-MRAM, groups of 8 junctions), each with the
# rules eapu and bp, seeds 1..3. Prints one TSV line per run, then a
# Markdown table of the means over the seeds (min–max in brackets).
# Usage: scripts/validate-devices.sh [path/to/aimsim] [workload]
set -euo pipefail
bin=${1:-target/release/aimsim}
workload=${2:-digits-mlp}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rows="$out/rows.tsv"
for chip in eapu-180nm fefet-hzo stt-mram-pmtj; do
  for rule in eapu bp; do
    for seed in 1 2 3; do
      if ! "$bin" run -q --chip "$chip" --workload "$workload" --rule "$rule" --seed "$seed" --out "$out/r"; then
        echo -e "$chip\t$rule\t$seed\tFAILED" | tee -a "$rows"
        continue
      fi
      python3 - "$out/r/report.json" "$chip" "$rule" "$seed" <<'PY' | tee -a "$rows"
import json, sys
r = json.load(open(sys.argv[1]))
w, life = r["workload"], r["lifetime"]
life_steps = life["projected_steps_to_first_failure"]
print("\t".join(sys.argv[2:5] + [
    f"{w['metric']['value']:.4f}",
    f"{r['energy_pj']['total'] * 1e-6:.2f}",
    str(r["writes"]["cell_writes"]),
    str(r["writes"]["pulses"]),
    "" if life_steps is None else str(life_steps),
    str(life["endurance_pulses_median"]),
    f"{r['area_mm2']['by_component']['array']:.4f}",
]))
PY
    done
  done
done
python3 - "$rows" <<'PY'
import sys
from collections import OrderedDict
runs = OrderedDict()
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if len(f) < 5:
        continue
    runs.setdefault((f[0], f[1]), []).append(f[3:])
def span(xs, fmt):
    m = sum(xs) / len(xs)
    return f"{fmt(m)} [{fmt(min(xs))}–{fmt(max(xs))}]"
print()
print("| chip | rule | accuracy | energy (µJ) | cell writes | pulses | projected steps to first failure | endurance (median pulses) | array area (mm²) |")
print("|---|---|---|---|---|---|---|---|---|")
for (chip, rule), rs in runs.items():
    acc = [float(r[0]) for r in rs]
    en = [float(r[1]) for r in rs]
    cw = [float(r[2]) for r in rs]
    pu = [float(r[3]) for r in rs]
    life = [float(r[4]) for r in rs if r[4]]
    lt = span(life, lambda x: f"{x:.3g}") if life else "no writes"
    print(f"| {chip} | {rule} | {span(acc, lambda x: f'{x:.4f}')} | {span(en, lambda x: f'{x:.1f}')} "
          f"| {span(cw, lambda x: f'{x:.3g}')} | {span(pu, lambda x: f'{x:.3g}')} | {lt} | {rs[0][5]} | {rs[0][6]} |")
PY
