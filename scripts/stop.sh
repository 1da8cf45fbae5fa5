#!/usr/bin/env bash
# `npm run stop`: stop the nats-server scripts/ensure-nats.sh started (var/nats/nats-server.pid).
# Only that process: a nats-server we did not start (e.g. the machine's on 4222) is never touched.
# SIGTERM, then SIGKILL after 10 s. Idempotent: nothing running is fine. Its store stays.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PID_FILE="$ROOT/var/nats/nats-server.pid"

say() { echo "[stop] $*"; }

p="$(cat "$PID_FILE" 2>/dev/null || true)"
if ! [[ "$p" =~ ^[0-9]+$ ]] || ! kill -0 "$p" 2>/dev/null; then
  rm -f "$PID_FILE"
  say "no nats-server of ours is running"
  exit 0
fi
# The pid must still be our nats-server (pids are reused): its command line names our config.
if ! tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "nats-server.*$ROOT/var/nats/nats-server.conf"; then
  rm -f "$PID_FILE"
  say "pid $p is not the nats-server started from $ROOT/var/nats; left alone"
  exit 0
fi
kill -TERM "$p"
for _ in $(seq 1 40); do
  kill -0 "$p" 2>/dev/null || { rm -f "$PID_FILE"; say "nats-server (pid $p) stopped"; exit 0; }
  sleep 0.25
done
kill -KILL "$p" 2>/dev/null || true
rm -f "$PID_FILE"
say "nats-server (pid $p) did not stop within 10 s: killed"
