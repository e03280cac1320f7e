#!/usr/bin/env bash
# Start a private single-node SLURM (munge + slurmctld + slurmd) under DIR: the node is this machine as
# `slurmd -C` reports it (its real CPUs, ~95% of its memory) plus EXPO_SLURM_GPUS fake GPUs (default 2).
#   tests/cluster/slurm_up.sh DIR      (as root; installs Debian's munge/slurm packages if missing)
# Afterwards: export PATH="DIR/bin:$PATH" (wrappers that set SLURM_CONF for every SLURM client, also
# inside jobs, where the SLURM executor's jobstep unsets SLURM_CONF before calling srun).
# Stop with tests/cluster/slurm_down.sh DIR (kills exactly the daemons started here, by PID file).
# Environment: EXPO_SLURM_PORT (slurmctld port, default 6817; slurmd uses the next one), EXPO_SLURM_GPUS,
# EXPO_SLURM_MAXTIME (partition time limit in minutes, default 600).
set -euo pipefail

DIR=${1:?usage: slurm_up.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PORT=${EXPO_SLURM_PORT:-6817}
NGPUS=${EXPO_SLURM_GPUS:-2}
MAXTIME=${EXPO_SLURM_MAXTIME:-600}
t0=$EPOCHREALTIME
say() { awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$*" 'BEGIN { printf "[slurm_up %6.1fs] %s\n", b - a, m }'; }

[ "$(id -u)" = 0 ] || { echo "slurm_up.sh: error: must run as root (starts slurmd/slurmctld)" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
   || ! command -v sbatch >/dev/null; then
    command -v apt-get >/dev/null || { echo "slurm_up.sh: error: SLURM is not installed and apt-get is missing" >&2; exit 2; }
    say "installing munge slurm-client slurmctld slurmd"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends munge slurm-client slurmctld slurmd >"$DIR/apt.log" 2>&1; then
        apt-get update -q >>"$DIR/apt.log" 2>&1
        apt-get install -y -q --no-install-recommends munge slurm-client slurmctld slurmd >>"$DIR/apt.log" 2>&1 \
            || { echo "slurm_up.sh: error: apt-get install failed, see $DIR/apt.log" >&2; exit 2; }
    fi
    say "installed"
fi

HOST=$(hostname -s)
mkdir -p "$DIR"/{etc,state,spool,log,run,gpu,bin}
# munge refuses group/world-writable parents of its files: keep its folder private.
install -d -m 0700 -o munge -g munge "$DIR/munge"
chmod 0755 "$DIR"
SOCK="$DIR/munge/munge.socket"

# -- munge: private instance with its own key and socket --------------------------------------------------
if [ ! -f "$DIR/munge/munge.key" ]; then
    mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null 2>&1 \
        || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$DIR/munge/munge.key"
    chmod 0400 "$DIR/munge/munge.key"
fi
runuser -u munge -- munged --force --socket="$SOCK" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
for _ in $(seq 50); do munge -S "$SOCK" -n 2>/dev/null | unmunge -S "$SOCK" >/dev/null 2>&1 && break; sleep 0.1; done
munge -S "$SOCK" -n | unmunge -S "$SOCK" >/dev/null || { echo "slurm_up.sh: error: munged did not start ($DIR/munge/munged.log)" >&2; exit 1; }
say "munged up"

# -- fake GPUs: character devices cloned from /dev/null -----------------------------------------------------
for i in $(seq 0 $((NGPUS - 1))); do
    [ -e "$DIR/gpu/nvidia$i" ] || mknod "$DIR/gpu/nvidia$i" c 1 3
done

cat >"$DIR/etc/gres.conf" <<CONF
AutoDetect=off
NodeName=$HOST Name=gpu File=$DIR/gpu/nvidia[0-$((NGPUS - 1))]
CONF

# The node is this machine (slurmd -C): a job asking for more than it has is never schedulable.
read -r CPUS SOCKETS CORES THREADS MEM < <(slurmd -C | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"], v["RealMemory"] }')
MEM=$((MEM * 95 / 100))
cat >"$DIR/etc/slurm.conf" <<CONF
ClusterName=expotest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MailProg=/bin/true
MinJobAge=300
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS Sockets=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM Gres=gpu:$NGPUS State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=$MAXTIME State=UP
CONF

# -- client wrappers: every SLURM command (also inside jobs) finds this config ----------------------------
for tool in sbatch srun squeue scancel sinfo sacct scontrol sacctmgr sshare salloc sstat; do
    real=$(command -v "$tool" || true)
    [ -n "$real" ] || continue
    case "$real" in "$DIR"/bin/*) continue ;; esac
    printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$DIR/etc/slurm.conf" "$real" >"$DIR/bin/$tool"
    chmod 0755 "$DIR/bin/$tool"
done
export SLURM_CONF="$DIR/etc/slurm.conf"

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
say "daemons started"

for _ in $(seq 300); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -n1 || true)
    [ "$state" = idle ] && break
    sleep 0.2
done
if [ "$state" != idle ]; then
    echo "slurm_up.sh: error: node not idle after 60 s (state '${state:-none}'); logs in $DIR/log" >&2
    exit 1
fi
say "node $HOST idle: $(sinfo -h -N -o '%c CPUs, %m MB, %G')"
echo "export PATH=\"$DIR/bin:\$PATH\""
