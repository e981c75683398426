#!/usr/bin/env bash
# Soak: one long run with its resident memory sampled (issue 15).
# Usage: scripts/soak.sh [STEPS] [TRACE_EVERY]   (defaults 1000000, 1000)
# Samples every 0.2 s; prints every fifth sample ("seconds  step_estimate
# rss_kib") and the RSS range from step ~10^4 to the end (max/min). The step of each sample is
# estimated from elapsed time at the run's mean rate (the CLI prints no
# progress without a terminal); a default-chip run steps at a steady rate.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-1000000}
every=${2:-1000}
cargo build -q --release -p aimsim-cli
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s%N)
target/release/aimsim run -q --steps "$steps" --epochs 1000000 --trace-every "$every" \
  --out "$out/run" &
pid=$!
samples="$out/samples"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$rss" ] && echo "$(( ($(date +%s%N) - start) / 1000000 )) $rss" >> "$samples"
  sleep 0.2
done
wait "$pid"
total=$(( ($(date +%s%N) - start) / 1000000 ))
awk -v total="$total" -v steps="$steps" '
  { t=$1/1000; s=int($1/total*steps); n++;
    if (n % 5 == 1) printf "%8.1f s  step ~%8d  rss %7d KiB\n", t, s, $2;
    if (s >= 10000) { if (first == 0) { first=$2; fs=s; min=$2 }
                      last=$2; ls=s; if ($2>max) max=$2; if ($2<min) min=$2 } }
  END { printf "run: %d steps in %.1f s\n", steps, total/1000;
        printf "from step ~%d to ~%d: first %d KiB, last %d KiB, min %d KiB, max %d KiB; max/min = %.4f\n",
               fs, ls, first, last, min, max, max/min }' "$samples"
