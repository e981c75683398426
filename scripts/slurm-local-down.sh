#!/usr/bin/env bash
# Stops the one-node cluster of scripts/slurm-local-up.sh (slurmd,
# slurmctld, munged). Its state folder and slurm.conf stay for the next start.
set -euo pipefail
state=${AIMSIM_SLURM_STATE:-/var/lib/aimsim-slurm}
stop() {
  if [ -s "$1" ]; then
    local pid
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  fi
}
stop "$state/slurmd.pid"
stop "$state/slurmctld.pid"
stop /run/munge/munged.pid
