#!/usr/bin/env bash
# Regenerates the example and golden traces in traces/ (compared exactly by
# the test `golden_traces_are_reproduced` in tests/cli). Run after any change
# that is meant to change simulation results, and commit the result.
# Usage: scripts/make-traces.sh [path/to/aimsim]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/aimsim}
"$bin" run -q --steps 3 --seed 1 --trace-every 1 --out traces --vcd traces/example.vcd
echo "wrote traces/example.vcd, traces/report.json, traces/energy.csv, traces/lifetime.csv"
