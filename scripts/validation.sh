#!/usr/bin/env bash
# Regenerates the tables of docs/validation.md: each rule on the default
# workload, three seeds, (a) on the default chip and (b) with ideal DAC/ADC
# and write noise σ = 2 µS (the EaPU paper's setting).
# Usage: scripts/validation.sh [path/to/aimsim]
set -euo pipefail
bin=${1:-target/release/aimsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
row() {
  python3 - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
w, e = r["writes"], r["energy_pj"]
print(f"| {sys.argv[2]} | {r['rule']} | {r['seed']} | {r['workload']['metric']['value']:.4f} | "
      f"{w['update_fraction']:.3e} | {w['cell_writes']} | {w['pulses']} | "
      f"{e['by_phase']['update']/1e6:.2f} | {r['time']['update_cycles']} | {e['total']/1e6:.2f} |")
PY
}
echo "| setting | rule | seed | test accuracy | update fraction | cell writes | pulses | update energy µJ | update cycles | total energy µJ |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for setting in default paper; do
  for rule in eapu bp ideal; do
    for seed in 1 2 3; do
      extra=()
      if [ "$setting" = paper ]; then
        extra=(--set chip.adc.ideal=true --set chip.dac.ideal=true --set device.write_noise_us=2)
      fi
      "$bin" run -q --rule "$rule" --seed "$seed" --out "$tmp/o" "${extra[@]}"
      row "$tmp/o/report.json" "$setting"
    done
  done
done
