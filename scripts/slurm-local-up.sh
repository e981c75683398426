#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine (munged, slurmctld,
# slurmd), for running aimsim's sweep job arrays locally — in CI, or on a
# workstation to try `aimsim sweep slurm` before the real cluster.
#
#   sudo scripts/slurm-local-up.sh          # start (idempotent)
#   sbatch ... / squeue / sinfo             # use it
#   sudo scripts/slurm-local-down.sh        # stop
#
# Needs root and Debian/Ubuntu's slurm-wlm and munge packages
# (`apt-get install slurm-wlm munge`; the script installs them if missing
# and apt-get is there). It writes /etc/slurm/slurm.conf (refusing to
# replace one it did not write) for a cluster `aimsim-local` with one node —
# this host, its CPUs and memory as `slurmd -C` reports them — and one
# partition `debug`. Process tracking is proctrack/linuxproc and task/none,
# so no cgroups are needed (containers work). Daemons run as root; state
# and logs go to $AIMSIM_SLURM_STATE (default /var/lib/aimsim-slurm).
set -euo pipefail

state=${AIMSIM_SLURM_STATE:-/var/lib/aimsim-slurm}
conf=/etc/slurm/slurm.conf
marker="# Written by aimsim scripts/slurm-local-up.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-local-up: run as root (the daemons need it)" >&2
  exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  # Package lists fetched earlier (CI's gtkwave step) are used if they work.
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }
fi

# munge: a key shared by every daemon and client (one host: any key).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

# slurm.conf for this host.
node=$(slurmd -C | head -n 1)            # NodeName=HOST CPUs=… RealMemory=…
host=$(echo "$node" | sed -E 's/^NodeName=([^ ]+).*/\1/')
if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
  echo "slurm-local-up: $conf exists and was not written by this script; not replacing it" >&2
  exit 2
fi
mkdir -p /etc/slurm "$state/ctld" "$state/d"
cat > "$conf.new" <<CONF
$marker
ClusterName=aimsim-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
mv "$conf.new" "$conf"

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
running "$state/slurmctld.pid" || slurmctld
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
running "$state/slurmd.pid" || slurmd
for _ in $(seq 300); do
  st=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  case "$st" in
    idle|mix|alloc) echo "slurm-local-up: node $host is $st (partition debug)"; exit 0 ;;
    down*|drain*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
  esac
  sleep 0.1
done
echo "slurm-local-up: node $host did not come up; see $state/slurmctld.log and $state/slurmd.log" >&2
exit 1
