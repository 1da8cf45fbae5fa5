#!/usr/bin/env bash
# Idempotent set-up behind `npm run demo` and `npm test`:
#   1. Node >= 20.19
#   2. dependencies with `npm ci` (when node_modules is missing or older than package-lock.json)
#   3. Bulwark's secured nats-server with JetStream at NATS_URL, default 127.0.0.1:4223, with
#      local credentials in var/nats/creds (scripts/ensure-nats.sh; stop it with npm run stop)
#   4. build every project (skipped with BULWARK_SKIP_BUILD=1; Nx caches, so a re-run is quick)
#   5. the event log and dead-letter streams, created as NATS user admin (scripts/nats-streams.js),
#      and the gateway's JWT signing key in var/gateway/jwt-secret
#   6. promtool and kubectl for the deployment checks (apps/cli/src/deploy-*.spec.ts), and
#      Chromium for the dashboard's browser tests, from Debian's packages prometheus,
#      kubernetes-client and chromium when missing
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

# 3. NATS with JetStream, secured.
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

# 5. The bus's streams (services may only check them). Needs libs/messaging built.
if [[ -f libs/messaging/dist/index.js ]]; then
  node scripts/nats-streams.js | sed 's/^nats-streams: /[setup] /'
else
  say "libs/messaging is not built: the event log streams are created at the next npm run setup"
fi

# 5b. The gateway's JWT signing key (BULWARK_JWT_SECRET_FILE defaults to it), made once, owner-only.
if [[ ! -s var/gateway/jwt-secret ]]; then
  mkdir -p var/gateway && chmod 700 var/gateway
  (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(48).toString("base64"))' >var/gateway/jwt-secret)
  say "gateway signing key created in var/gateway/jwt-secret"
fi

# 6. promtool (checks deploy/prometheus) and kubectl (renders k8s/ with kustomize), installed
#    only when missing and only where apt-get can run as root; the specs name this script otherwise.
missing_pkgs=()
command -v promtool >/dev/null 2>&1 || missing_pkgs+=(prometheus)
command -v kubectl >/dev/null 2>&1 || missing_pkgs+=(kubernetes-client)
# The browser tests drive Debian's Chromium with playwright-core (no browser download).
[[ -x /usr/bin/chromium ]] || missing_pkgs+=(chromium)
if ((${#missing_pkgs[@]} > 0)); then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages ${missing_pkgs[*]} for the deployment checks and browser tests"
    # --no-install-recommends: promtool only, not the node exporter and web assets prometheus recommends.
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null ||
      say "apt-get could not install ${missing_pkgs[*]}; the deployment specs need promtool and kubectl on PATH, the browser tests /usr/bin/chromium"
  else
    say "${missing_pkgs[*]} missing (Debian: sudo apt-get install ${missing_pkgs[*]}); the deployment specs and browser tests need them"
  fi
fi
# The overlays use kustomize components and `patches:`, which need the kustomize of kubectl >= 1.24
# (Debian bookworm's kubernetes-client is 1.20, kustomize v2): say so rather than fail later.
if command -v kubectl >/dev/null 2>&1; then
  kustomize_version="$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')"
  if [[ -z "$kustomize_version" || "$kustomize_version" -lt 4 ]]; then
    say "kubectl's kustomize is older than v4: k8s/ does not render with it; install kubectl >= 1.24 (https://kubernetes.io/docs/tasks/tools/)"
  else
    say "promtool $(command -v promtool >/dev/null 2>&1 && echo present || echo MISSING), kubectl with kustomize v$kustomize_version"
  fi
fi
