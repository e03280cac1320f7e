#!/usr/bin/env bash
# Stop the SLURM started by slurm_up.sh DIR: cancel its jobs, then kill exactly its daemons (PID files).
set -uo pipefail
DIR=${1:?usage: slurm_down.sh DIR}
DIR=$(cd "$DIR" 2>/dev/null && pwd) || exit 0
[ -x "$DIR/bin/scancel" ] && timeout 10 "$DIR/bin/scancel" --full --quiet --user "$(id -un)" 2>/dev/null
stop() {  # stop PIDFILE: TERM, wait up to 10 s, then KILL
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
}
stop "$DIR/run/slurmd.pid"
stop "$DIR/run/slurmctld.pid"
stop "$DIR/munge/munged.pid"
