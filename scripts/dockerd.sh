#!/usr/bin/env bash
# Starts and stops a Docker engine by hand, for machines without systemd (CI, this development
# machine): `start` starts dockerd when no engine answers and records that it did; `stop` stops only
# a dockerd this script started; `status` says which. Needs root to start one.
#   bash scripts/dockerd.sh start|stop|status
# dockerd logs to $MLFO_DOCKERD_LOG (default /var/log/mlfo-dockerd.log); its pidfile and this
# script's record live in $MLFO_DOCKERD_DIR (default /run/mlfo-dockerd).
#
# dockerd loads br_netfilter, whose default net.bridge.bridge-nf-call-iptables=1 together with
# dockerd's FORWARD DROP policy silently drops traffic across the Linux bridges of emulated
# topologies. The netns backend sets it to 0 for each run and restores it on stop (so two runs that
# overlap could put 1 back under the other); a dockerd started here sets it to 0 once, right away,
# so the netns runs find it 0 and leave it. Docker's own networks do not need it.
set -euo pipefail

STATE_DIR=${MLFO_DOCKERD_DIR:-/run/mlfo-dockerd}
LOG=${MLFO_DOCKERD_LOG:-/var/log/mlfo-dockerd.log}
PIDFILE=$STATE_DIR/dockerd.pid
RECORD=$STATE_DIR/started-by-mlfo
WAIT_S=${MLFO_DOCKERD_WAIT_S:-60}

answers() { timeout 10 docker info >/dev/null 2>&1; }

# pid of the dockerd this script started, when it still runs
our_pid() {
  [ -f "$RECORD" ] || return 1
  local pid
  pid=$(cat "$RECORD")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] || return 1
  echo "$pid"
}

bridge_nf_off() {
  local f value name
  for f in /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables; do
    [ -e "$f" ] || continue
    value=$(cat "$f")
    [ "$value" = 0 ] && continue
    echo 0 >"$f"
    name=${f#/proc/sys/}
    echo "dockerd: set ${name//\//.}=0 (was $value), so dockerd's FORWARD DROP does not drop bridged topology traffic"
  done
}

start() {
  if answers; then
    if pid=$(our_pid); then echo "dockerd: running (pid $pid, started by this script)"
    else echo "dockerd: a Docker engine already answers; not starting one"; fi
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "dockerd: no Docker engine answers and starting one needs root (sudo bash scripts/dockerd.sh start)" >&2
    return 1
  fi
  if ! command -v dockerd >/dev/null; then
    echo "dockerd: no Docker engine answers and dockerd is not installed (apt-get install docker.io)" >&2
    return 1
  fi
  mkdir -p "$STATE_DIR" "$(dirname "$LOG")"
  if ! pid=$(our_pid); then
    echo "dockerd: starting dockerd (log $LOG)"
    # its own session, so a Ctrl-C of the caller does not reach it; stop ends it
    setsid dockerd --pidfile "$PIDFILE" >>"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$RECORD"
  fi
  local waited=0
  until answers; do
    if ! [ -d "/proc/$pid" ]; then
      rm -f "$RECORD"
      echo "dockerd: dockerd exited during start; see $LOG. Last lines:" >&2
      tail -n 15 "$LOG" >&2 || true
      return 1
    fi
    if [ "$waited" -ge "$WAIT_S" ]; then
      echo "dockerd: dockerd (pid $pid) did not answer within ${WAIT_S} s; see $LOG. Last lines:" >&2
      tail -n 15 "$LOG" >&2 || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "dockerd: running (pid $pid, answered after ${waited} s)"
  bridge_nf_off
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$RECORD"
    echo "dockerd: no dockerd started by this script runs; nothing to stop"
    return 0
  fi
  echo "dockerd: stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  local waited=0
  while [ -d "/proc/$pid" ] && [ "$waited" -lt 30 ]; do
    sleep 1
    waited=$((waited + 1))
  done
  if [ -d "/proc/$pid" ]; then
    echo "dockerd: still running after 30 s; sending SIGKILL" >&2
    kill -KILL "$pid" || true
  fi
  rm -f "$RECORD"
  echo "dockerd: stopped"
}

status() {
  local pid
  if pid=$(our_pid); then echo "dockerd: started by this script (pid $pid); log $LOG"
  elif answers; then echo "dockerd: a Docker engine answers (not started by this script)"
  else echo "dockerd: no Docker engine answers"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: bash scripts/dockerd.sh start|stop|status" >&2
    exit 2
    ;;
esac
