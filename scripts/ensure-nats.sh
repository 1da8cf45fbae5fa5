#!/usr/bin/env bash
# Make sure a nats-server with JetStream answers at NATS_URL (default nats://127.0.0.1:4222).
#
# - Something already answers with JetStream: say so and stop.
# - A server answers without JetStream: error (we never touch a server we did not start).
# - Nothing answers on a local URL: start nats-server detached, with its JetStream store,
#   log and pid file under <project>/var/nats, and wait up to 10 s for JetStream.
# - Nothing answers on a remote URL: error; we never start anything for a remote URL.
#
# Stop a server this script started with:  kill "$(cat var/nats/nats-server.pid)"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

URL="${NATS_URL:-nats://127.0.0.1:4222}"
NATS_DIR="$ROOT/var/nats"
PID_FILE="$NATS_DIR/nats-server.pid"
LOG_FILE="$NATS_DIR/nats-server.log"
STORE_DIR="$NATS_DIR/jetstream"

say() { echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

if [[ ! -d node_modules/nats ]]; then
  die "the 'nats' package is missing; run 'npm ci' (or 'bash scripts/setup.sh') first"
fi

# Runs the check; prints its one line; returns its exit code without tripping set -e.
check() {
  local rc=0
  CHECK_LINE="$(node scripts/nats-check.js "$URL" 2>&1)" || rc=$?
  return "$rc"
}

rc=0
check || rc=$?
case "$rc" in
  0) say "${CHECK_LINE#nats-check: }"; exit 0 ;;
  3) die "${CHECK_LINE#nats-check: }, or point NATS_URL at one that has it" ;;
  2) ;; # nothing answers: maybe start one below
  *) die "nats check failed: $CHECK_LINE" ;;
esac

# Only the first URL of a comma-separated list decides where we may start a server.
first="${URL%%,*}"
hostport="${first#*://}"          # drop the scheme
hostport="${hostport##*@}"        # drop user:pass@ or token@
hostport="${hostport%%/*}"        # drop any path
if [[ "$hostport" == \[*\]* ]]; then # [ipv6]:port
  host="${hostport%%]*}"; host="${host#[}"
  rest="${hostport#*]}"; port="${rest#:}"
elif [[ "$hostport" == *:* ]]; then
  host="${hostport%:*}"; port="${hostport##*:}"
else
  host="$hostport"; port=""
fi
port="${port:-4222}"
[[ "$port" =~ ^[0-9]+$ ]] || die "cannot read a port from NATS_URL=$URL"

case "$host" in
  127.0.0.1 | localhost) bind=127.0.0.1 ;;
  ::1) bind=::1 ;;
  *) die "no NATS server answers at $URL. It is not a local address, so nothing was started: start that server (with JetStream, -js) or set NATS_URL to a reachable one." ;;
esac

# Find nats-server; install it from Debian's packages when we can.
find_nats() {
  local c
  for c in "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/bin/nats-server; do
    if [[ -n "$c" && -x "$c" ]]; then echo "$c"; return 0; fi
  done
  return 1
}

NATS_BIN="$(find_nats || true)"
if [[ -z "$NATS_BIN" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  say "nats-server not found; installing Debian's nats-server package"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null; then
    NATS_BIN="$(find_nats || true)"
  else
    say "apt-get could not install nats-server"
  fi
fi
if [[ -z "$NATS_BIN" ]]; then
  die "no NATS server answers at $URL and nats-server is not installed.
  Install it, then run this again:
    Debian/Ubuntu:  sudo apt-get install nats-server
    anywhere else:  a release binary from https://github.com/nats-io/nats-server/releases
                    (put nats-server on PATH)
  Or run one yourself with JetStream:  nats-server -js -p $port"
fi

mkdir -p "$STORE_DIR"

# A server we started earlier may still be coming up: wait for it rather than start a twin.
existing=""
if [[ -f "$PID_FILE" ]]; then
  p="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && grep -q nats-server "/proc/$p/cmdline" 2>/dev/null; then
    existing="$p"
    say "nats-server (pid $p) from var/nats is running but not answering yet; waiting for it"
  else
    rm -f "$PID_FILE"
  fi
fi

if [[ -z "$existing" ]]; then
  say "no NATS server at $URL; starting $NATS_BIN on $bind:$port with JetStream in var/nats"
  # setsid + nohup: the server outlives this script, npm and the terminal. Early errors
  # (a bad flag, a port in use) go to stderr before -l takes effect, so they join the log.
  setsid nohup "$NATS_BIN" -a "$bind" -p "$port" -js -sd "$STORE_DIR" -l "$LOG_FILE" -P "$PID_FILE" \
    </dev/null >>"$LOG_FILE" 2>&1 &
  started=$!
else
  started="$existing"
fi

# Alive = the process we spawned, or the one named by the pid file (setsid may fork).
alive() {
  kill -0 "$started" 2>/dev/null && return 0
  local p
  p="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null
}

# Up to 10 s for JetStream to answer; stop early if the server exits (bad flag, port in use).
deadline=$((SECONDS + 10))
CHECK_LINE=""
while ((SECONDS < deadline)); do
  rc=0
  check || rc=$?
  if [[ "$rc" == 0 ]]; then
    pid="$(cat "$PID_FILE" 2>/dev/null || echo "$started")"
    say "nats-server (pid $pid) answers at $URL with JetStream; stop it with: kill \$(cat var/nats/nats-server.pid)"
    exit 0
  fi
  sleep 0.5
  alive || break
done

if alive; then why="no JetStream answer within 10 s"; else why="nats-server exited"; fi
echo "[setup] ERROR: $why at $URL (last check: ${CHECK_LINE#nats-check: })." >&2
echo "[setup] Last lines of $LOG_FILE:" >&2
tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
exit 1
