#!/usr/bin/env bash
# Make sure Bulwark's secured nats-server with JetStream answers at NATS_URL
# (default nats://127.0.0.1:4223; docs/security.md). Idempotent.
#
# - Local URL: create any missing credentials (var/nats/creds/<user>.nk, mode 0600) and render
#   var/nats/nats-server.conf (scripts/nats-auth.js). If our server (var/nats/nats-server.pid)
#   runs and the config changed, reload it. If nothing answers, start nats-server detached:
#   127.0.0.1:<port>, monitoring on 127.0.0.1:8223 (BULWARK_NATS_MONITOR_PORT, 0 = off),
#   JetStream store (named in the config: nats-server 2.9 reloads only a config that names
#   the store it runs with), log and pid file under var/nats.
# - A server answers: it must require authentication, take the admin credentials and have
#   JetStream; anything else is an error (we never touch a server we did not start, such as an
#   anonymous one on 4222).
# - Remote URL: only checked; nothing is started, credentials are yours (NATS_NKEY_SEED_FILE, ...).
#
# Stop the server this script started with:  npm run stop
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

URL="${NATS_URL:-nats://127.0.0.1:4223}"
NATS_DIR="$ROOT/var/nats"
PID_FILE="$NATS_DIR/nats-server.pid"
LOG_FILE="$NATS_DIR/nats-server.log"
STORE_DIR="$NATS_DIR/jetstream"
CONFIG="$NATS_DIR/nats-server.conf"
LOADED="$NATS_DIR/nats-server.conf.loaded" # checksum of the config our server last (re)loaded
MONITOR_PORT="${BULWARK_NATS_MONITOR_PORT:-8223}"

say() { echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

if [[ ! -d node_modules/nats ]]; then
  die "the 'nats' package is missing; run 'npm ci' (or 'bash scripts/setup.sh') first"
fi
[[ "$MONITOR_PORT" =~ ^[0-9]+$ ]] || die "BULWARK_NATS_MONITOR_PORT must be a port number or 0, got $MONITOR_PORT"

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
  127.0.0.1 | localhost) bind=127.0.0.1; local_url=1 ;;
  ::1) bind=::1; local_url=1 ;;
  *) bind=""; local_url=0 ;;
esac

# Runs the check; prints its one line; returns its exit code without tripping set -e.
check() {
  local rc=0
  CHECK_LINE="$(node scripts/nats-check.js "$URL" 2>&1)" || rc=$?
  return "$rc"
}

# Our server: the pid file names a live nats-server process.
our_pid() {
  local p
  p="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && grep -q nats-server "/proc/$p/cmdline" 2>/dev/null; then
    echo "$p"
    return 0
  fi
  return 1
}

# Who holds our port: a local nats-server started with `-p <port>` (another checkout's, say). Prints
# a sentence for an error message, or nothing when no such process is found.
port_holder() {
  local d pid args i conf p
  for d in /proc/[0-9]*; do
    [[ "$(cat "$d/comm" 2>/dev/null)" == nats-server ]] || continue
    pid="${d#/proc/}"
    mapfile -d '' args <"$d/cmdline" 2>/dev/null || continue
    conf=""; p=4222
    for ((i = 0; i < ${#args[@]}; i++)); do
      case "${args[$i]}" in
        -c | --config) conf="${args[$((i + 1))]:-}" ;;
        -p | --port) p="${args[$((i + 1))]:-}" ;;
      esac
    done
    [[ "$p" == "$port" ]] || continue
    if [[ "$conf" == "$CONFIG" ]]; then
      echo "It is this checkout's own nats-server (pid $pid)."
    elif [[ -n "$conf" && ! -e "$conf" ]]; then
      echo "It is nats-server pid $pid, started with $conf, which no longer exists: the checkout it belongs to was removed without 'npm run stop'. Nothing of it is left to keep: stop it with 'kill $pid', then run this again."
    else
      echo "It is nats-server pid $pid, started with ${conf:-no config file}: another checkout's server (stop it with 'npm run stop' there) or one that is not Bulwark's."
    fi
    return 0
  done
}

mkdir -p "$NATS_DIR"
# Several `npm test`/`npm run setup` at once: one at a time here.
exec 9>"$NATS_DIR/.ensure.lock"
flock 9

# The config differs from what our running server loaded (new credentials, a rotation, new
# permissions): it needs a reload.
config_changed=0
config_sum=""
if [[ "$local_url" == 1 ]]; then
  auth_line="$(node scripts/nats-auth.js local)" || die "could not prepare NATS credentials (output above)"
  say "${auth_line#nats-auth: }"
  config_sum="$(sha256sum "$CONFIG" | cut -d' ' -f1)"
  [[ "$config_sum" != "$(cat "$LOADED" 2>/dev/null || true)" ]] && config_changed=1
fi

# Reload our server's configuration (SIGHUP) and remember which one it runs.
reload() {
  say "the NATS authorization changed: reloading nats-server (pid $1)"
  kill -HUP "$1"
  echo "$config_sum" >"$LOADED"
  sleep 0.5
}

rc=0
check || rc=$?
case "$rc" in
  0)
    if [[ "$config_changed" == 1 ]] && p="$(our_pid)"; then
      reload "$p"
      rc=0
      check || rc=$?
      [[ "$rc" == 0 ]] || die "after the reload: ${CHECK_LINE#nats-check: }"
    fi
    say "${CHECK_LINE#nats-check: }"
    exit 0
    ;;
  3) die "${CHECK_LINE#nats-check: }, or point NATS_URL at one that has it" ;;
  5)
    if [[ "$config_changed" == 1 ]] && p="$(our_pid)"; then
      reload "$p"
      rc=0
      check || rc=$?
      [[ "$rc" == 0 ]] && { say "${CHECK_LINE#nats-check: }"; exit 0; }
    fi
    holder=""
    [[ "$local_url" == 1 ]] && holder="$(port_holder)"
    die "${CHECK_LINE#nats-check: }.${holder:+ $holder} If it is not Bulwark's server, set NATS_URL to Bulwark's (default nats://127.0.0.1:4223) or give its credentials (docs/security.md)."
    ;;
  6) die "${CHECK_LINE#nats-check: }. Bulwark needs its secured server: unset NATS_URL for the local one (127.0.0.1:4223), or point it at a secured server." ;;
  2) ;; # nothing answers: maybe start one below
  *) die "nats check failed: $CHECK_LINE" ;;
esac

if [[ "$local_url" != 1 ]]; then
  die "no NATS server answers at $URL. It is not a local address, so nothing was started: start that server (docs/security.md, deploy/nats/README.md) or set NATS_URL to a reachable one."
fi

# Find nats-server; install it from Debian's packages when we can.
find_nats() {
  local c
  for c in "${NATS_SERVER_BIN:-}" "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/bin/nats-server; do
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
                    (put nats-server on PATH, or set NATS_SERVER_BIN)"
fi

mkdir -p "$STORE_DIR"

# A server we started earlier may still be coming up: wait for it rather than start a twin.
existing=""
if p="$(our_pid)"; then
  existing="$p"
  say "nats-server (pid $p) from var/nats is running but not answering yet; waiting for it"
else
  rm -f "$PID_FILE"
fi

if [[ -z "$existing" ]]; then
  monitor=()
  [[ "$MONITOR_PORT" != 0 ]] && monitor=(-m "$MONITOR_PORT")
  say "no NATS server at $URL; starting $NATS_BIN on $bind:$port (secured, JetStream in var/nats${monitor[*]:+, monitoring on $bind:$MONITOR_PORT})"
  # setsid + nohup: the server outlives this script, npm and the terminal. Early errors
  # (a bad flag, a port in use) go to stderr before -l takes effect, so they join the log.
  # The monitoring endpoint listens on the -a address (loopback).
  setsid nohup "$NATS_BIN" -c "$CONFIG" -a "$bind" -p "$port" "${monitor[@]}" -l "$LOG_FILE" -P "$PID_FILE" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  started=$!
  echo "$config_sum" >"$LOADED"
else
  started="$existing"
fi

# Alive = the process we spawned, or the one named by the pid file (setsid may fork).
alive() {
  kill -0 "$started" 2>/dev/null && return 0
  our_pid >/dev/null
}

# Up to 10 s for JetStream to answer; stop early if the server exits (bad flag, port in use).
deadline=$((SECONDS + 10))
CHECK_LINE=""
while ((SECONDS < deadline)); do
  rc=0
  check || rc=$?
  if [[ "$rc" == 0 ]]; then
    pid="$(cat "$PID_FILE" 2>/dev/null || echo "$started")"
    say "nats-server (pid $pid) answers at $URL with JetStream; stop it with: npm run stop"
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
