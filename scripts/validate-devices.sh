#!/usr/bin/env bash
# Device technologies side by side (docs/validation.md, "RRAM, FeFET and
# STT-MRAM"): a workload (default digits-mlp, trained for its default
# epochs) on the chips eapu-180nm (1T1R HfOx RRAM), fefet-hzo (HZO FeFET)
# and stt-mram-pmtj (binary STT-MRAM, groups of 8 junctions), each with the
# rules eapu and bp, seeds 1..3. Prints one TSV line per run (chip, rule,
# seed, accuracy, energy µJ, cell writes, pulses, projected steps to first
# failure, median endurance, array area mm²), then a Markdown table of the
# means over the seeds with [min–max].
# Usage: [JOBS=N] [CHIPS="a b"] [STEPS=N] scripts/validate-devices.sh [path/to/aimsim] [workload]
# STEPS stops each run after N training steps (default: the workload's
# full training).
# JOBS runs that many simulations at once (each is single-threaded and
# seeded, so the results do not depend on it).
set -euo pipefail
bin=$(realpath "${1:-target/release/aimsim}")
workload=${2:-digits-mlp}
chips=${CHIPS:-eapu-180nm fefet-hzo stt-mram-pmtj}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
one() { # index chip rule seed
  local dir="$out/run$1"
  local steps=()
  [ -n "${STEPS:-}" ] && steps=(--steps "$STEPS")
  if "$bin" run -q --chip "$2" --workload "$workload" --rule "$3" --seed "$4" "${steps[@]}" --out "$dir"; then
    python3 - "$dir/report.json" "$2" "$3" "$4" > "$out/row$1" <<'PY'
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
  else
    echo -e "$2\t$3\t$4\tFAILED" > "$out/row$1"
  fi
  rm -rf "$dir"
}
export -f one
export bin workload out STEPS
i=0
for chip in $chips; do
  for rule in eapu bp; do
    for seed in 1 2 3; do
      printf '%03d %s %s %s\n' "$i" "$chip" "$rule" "$seed"
      i=$((i + 1))
    done
  done
done | xargs -P "${JOBS:-1}" -L 1 bash -c 'one "$@"' _
cat "$out"/row* | tee "$out/rows.tsv"
python3 - "$out/rows.tsv" <<'PY'
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
print("| chip | rule | accuracy | energy (µJ) | cell writes | pulses | projected steps to first failure | endurance (median pulses, seed 1) | array area (mm²) |")
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
