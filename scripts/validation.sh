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
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['seed']} | {r['workload']['metric']['value']:.4f} | "
      f"{w['update_fraction']:.3e} | {w['cell_writes']} | {w['pulses']} | "
      f"{e['by_phase']['update']/1e6:.2f} | {r['time']['update_cycles']} | {e['total']/1e6:.2f} |")
PY
}
# label:arguments (the label names the rule and any rule option).
rules=(
  "eapu:--rule eapu"
  "bp:--rule bp"
  "bp round_to_pulses:--rule bp --set chip.rule.bp.round_to_pulses=true"
  "stochastic-pulse:--rule stochastic-pulse"
  "mixed-precision:--rule mixed-precision"
  "write-verify:--rule write-verify"
  "ideal:--rule ideal"
)
echo "| setting | rule | seed | test accuracy | update fraction | cell writes | pulses | update energy µJ | update cycles | total energy µJ |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for setting in default paper; do
  for spec in "${rules[@]}"; do
    label=${spec%%:*}
    read -r -a args <<<"${spec#*:}"
    for seed in 1 2 3; do
      extra=()
      if [ "$setting" = paper ]; then
        extra=(--set chip.adc.ideal=true --set chip.dac.ideal=true --set device.write_noise_us=2)
      fi
      "$bin" run -q "${args[@]}" --seed "$seed" --out "$tmp/o" "${extra[@]}"
      row "$tmp/o/report.json" "$setting" "$label"
    done
  done
done
