#!/usr/bin/env bash
# A one-machine Slurm cluster for the Slurm executor's tests (and for trying it by hand):
# munged, slurmctld and slurmd from Debian's packages (munge slurmctld slurmd slurm-client), run
# as root, on ports of their own, with every file under one folder.
#
#   scripts/slurm-dev.sh start    configures (first time) and starts what is not running
#   scripts/slurm-dev.sh stop     cancels its jobs and stops the daemons
#   scripts/slurm-dev.sh status   says what runs
#   scripts/slurm-dev.sh env      prints the export line for sbatch/squeue by hand
#
# The node claims 16 CPUs, 16 GB and one GPU (a stand-in device file: nothing here has an NVIDIA
# card) whatever the machine has (SlurmdParameters=config_overrides), so the tests can queue real
# jobs behind one another. AGENTMGR_SLURM_DIR moves the folder (default /tmp/agentmgr-slurm).
set -euo pipefail
D="${AGENTMGR_SLURM_DIR:-/tmp/agentmgr-slurm}"
CONF="$D/slurm.conf"
# The node is this machine, reached on loopback whatever its name resolves to.
HOST="$(hostname -s 2>/dev/null || uname -n | cut -d. -f1)"
export SLURM_CONF="$CONF"

configure() {
  mkdir -p "$D/state" "$D/spool" "$D/log" "$D/munge"
  : > "$D/fake-gpu0"
  cat > "$CONF" <<EOF
ClusterName=agentmgrdev
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,kill_invalid_depend,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
KillWait=5
DefMemPerCPU=100
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=16 RealMemory=16000 Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=small Nodes=ALL MaxTime=60 State=UP
EOF
  echo "NodeName=$HOST Name=gpu File=$D/fake-gpu0" > "$D/gres.conf"
}

# Alive and not a zombie (a killed daemon whose parent does not reap it still answers kill -0).
running() {
  [ -f "$1" ] || return 1
  local st
  st="$(ps -o stat= -p "$(cat "$1")" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

start() {
  for b in munged slurmctld slurmd sbatch; do
    command -v "$b" >/dev/null || { echo "slurm-dev: $b is not installed (apt-get install munge slurmctld slurmd slurm-client)" >&2; exit 2; }
  done
  [ -f "$CONF" ] || configure
  if ! running "$D/munge/munged.pid"; then
    [ -f "$D/munge/munge.key" ] || dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
    chmod 700 "$D/munge"
    chmod 400 "$D/munge/munge.key"
    munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" \
      --pid-file="$D/munge/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed"
  fi
  running "$D/slurmctld.pid" || slurmctld -f "$CONF"
  running "$D/slurmd.pid" || slurmd -f "$CONF"
  # Ready when the node takes jobs.
  local end=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$end" ]; do
    st="$(timeout 10 sinfo -h -N -o '%T' 2>/dev/null || true)"
    if echo "$st" | grep -Eq '^(idle|mixed|allocated)$'; then echo "slurm-dev: up ($CONF)"; return 0; fi
    # A node drained by an earlier run's crash (a duplicate job id after slurmctld was killed) is put back.
    if echo "$st" | grep -Eq 'drain'; then timeout 10 scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true; fi
    sleep 0.3
  done
  echo "slurm-dev: the node did not come up; see $D/log" >&2
  exit 1
}

stop() {
  if [ -f "$CONF" ] && running "$D/slurmctld.pid"; then scancel --full --quiet --user=root 2>/dev/null || true; fi
  for p in slurmd slurmctld munge/munged; do
    if running "$D/$p.pid"; then
      pid="$(cat "$D/$p.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # Job steps of this cluster's jobs that outlived their slurmd.
  pkill -f "slurmstepd: \[" 2>/dev/null || true
  echo "slurm-dev: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    for p in munge/munged slurmctld slurmd; do running "$D/$p.pid" && echo "$p: running" || echo "$p: stopped"; done ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
