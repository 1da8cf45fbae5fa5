#!/usr/bin/env bash
# Idempotent set-up behind `npm run demo` and `npm test`:
#   1. Node >= 20.19
#   2. dependencies with `npm ci` (when node_modules is missing or older than package-lock.json)
#   3. a nats-server with JetStream at NATS_URL (scripts/ensure-nats.sh)
#   4. build every project (skipped with BULWARK_SKIP_BUILD=1; Nx caches, so a re-run is quick)
# Works from any directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# 1. Node.js version (package.json "engines": ">=20.19").
REQUIRED_MAJOR=20
REQUIRED_MINOR=19
if ! command -v node >/dev/null 2>&1; then
  die "Node.js is not installed. Bulwark needs Node.js >= ${REQUIRED_MAJOR}.${REQUIRED_MINOR} (https://nodejs.org, or nvm install 22)."
fi
node_version="$(node -p 'process.versions.node')"
IFS=. read -r major minor _ <<<"$node_version"
if ((major < REQUIRED_MAJOR || (major == REQUIRED_MAJOR && minor < REQUIRED_MINOR))); then
  die "Node.js $node_version is too old; Bulwark needs Node.js >= ${REQUIRED_MAJOR}.${REQUIRED_MINOR} (https://nodejs.org, or nvm install 22)."
fi
say "node $node_version"

# 2. Dependencies. npm writes node_modules/.package-lock.json on every install, so a lock
#    file newer than it means the installed tree is stale.
if [[ -f package-lock.json ]]; then
  if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    # `npm ci` installs exactly what the lock file records and never rewrites it, so a fresh
    # clone stays clean. The lock lists every platform's optional binaries (swc, nx, ...).
    say "installing dependencies from package-lock.json (npm ci)"
    npm ci --no-audit --no-fund
  else
    say "dependencies up to date"
  fi
elif [[ ! -d node_modules ]]; then
  say "no package-lock.json; installing dependencies (npm install)"
  npm install --no-audit --no-fund
else
  say "dependencies present (no package-lock.json to compare with)"
fi

# 3. NATS with JetStream.
bash scripts/ensure-nats.sh

# 4. Build (tsc -b per project, in dependency order). Quiet unless it fails.
if [[ "${BULWARK_SKIP_BUILD:-}" == 1 ]]; then
  say "build skipped (BULWARK_SKIP_BUILD=1)"
else
  say "building (nx run-many -t build)"
  build_log="$(mktemp "${TMPDIR:-/tmp}/bulwark-build.XXXXXX")"
  trap 'rm -f "$build_log"' EXIT
  if ! npx nx run-many -t build --outputStyle=static >"$build_log" 2>&1; then
    cat "$build_log" >&2
    die "build failed (output above)"
  fi
  say "build ok"
fi
