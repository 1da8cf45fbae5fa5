#!/usr/bin/env node
// Does Bulwark's secured nats-server with JetStream answer at a URL, and take our admin
// credentials? Used by scripts/ensure-nats.sh.
//
//   node scripts/nats-check.js [url]      (url defaults to $NATS_URL, then nats://127.0.0.1:4223)
//
// Credentials, in the order of libs/messaging/src/nats-connect.ts (this script runs before the
// build, so it cannot use that module): NATS_NKEY_SEED_FILE; NATS_USER with NATS_PASSWORD_FILE;
// else the admin seed of local set-up, <BULWARK_NATS_CREDS_DIR or var/nats/creds>/admin.nk.
//
// Prints one line (never a secret) and exits with:
//   0  a server answers, requires authentication, takes our credentials, and JetStream is enabled
//   2  no server answers (refused, unreachable, timed out, not NATS)
//   3  a server answers but JetStream is disabled or its API does not reply
//   4  the `nats` package is not installed (run npm ci first)
//   5  a server answers but refuses our credentials (authorization violation)
//   6  a server answers without requiring authentication: not Bulwark's secured server
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { TextEncoder } = require('node:util');
const { setTimeout, clearTimeout } = require('node:timers');

const url = process.argv[2] || process.env.NATS_URL || 'nats://127.0.0.1:4223';
const TIMEOUT_MS = 2000;

let nats;
try {
  nats = require('nats');
} catch {
  console.log(`nats-check: the 'nats' package is not installed; run npm ci in the project root`);
  process.exit(4);
}

/** The authenticator and a description of where it came from (a file name, never its content). */
function credentials(env = process.env) {
  const read = (f) => fs.readFileSync(f, 'utf8').trim();
  if (env.NATS_NKEY_SEED_FILE) {
    return { authenticator: nats.nkeyAuthenticator(new TextEncoder().encode(read(env.NATS_NKEY_SEED_FILE))), source: env.NATS_NKEY_SEED_FILE };
  }
  if (env.NATS_USER && env.NATS_PASSWORD_FILE) {
    return { authenticator: nats.usernamePasswordAuthenticator(env.NATS_USER, read(env.NATS_PASSWORD_FILE)), source: `user ${env.NATS_USER}` };
  }
  const dir = env.BULWARK_NATS_CREDS_DIR ? path.resolve(env.BULWARK_NATS_CREDS_DIR) : path.join(__dirname, '..', 'var', 'nats', 'creds');
  const file = path.join(dir, 'admin.nk');
  if (fs.existsSync(file)) return { authenticator: nats.nkeyAuthenticator(new TextEncoder().encode(read(file))), source: file };
  return { authenticator: undefined, source: 'none' };
}

/** Settle with `promise`, or fail naming `what` after `ms`; bounds calls that could hang. */
function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  const { authenticator, source } = credentials();
  let nc;
  try {
    nc = await nats.connect({
      servers,
      timeout: TIMEOUT_MS,
      reconnect: false,
      maxReconnectAttempts: 0,
      name: 'bulwark-nats-check',
      ...(authenticator ? { authenticator } : {}),
    });
  } catch (err) {
    if (err.code === 'AUTHORIZATION_VIOLATION') {
      console.log(`nats-check: the NATS server at ${url} refuses our credentials (${source})`);
      return 5;
    }
    console.log(`nats-check: no NATS server at ${url} (${err.code || err.message})`);
    return 2;
  }
  try {
    if (!nc.info?.auth_required) {
      console.log(`nats-check: the NATS server at ${url} accepts anyone (no authentication): not Bulwark's secured server`);
      return 6;
    }
    // jetstreamManager() already probes the JetStream API; getAccountInfo() reads the limits.
    const jsm = await within(TIMEOUT_MS, nc.jetstreamManager({ timeout: TIMEOUT_MS }), 'JetStream API');
    const info = await within(TIMEOUT_MS, jsm.getAccountInfo(), 'JetStream account info');
    console.log(
      `nats-check: JetStream ok at ${url} (server ${nc.info?.version ?? '?'}, authenticated, ` +
        `${info.streams} stream(s), ${info.consumers} consumer(s))`,
    );
    return 0;
  } catch (err) {
    console.log(
      `nats-check: NATS server ${nc.info?.version ?? ''} answers at ${url} but JetStream is not available ` +
        `(${err.code || err.message}); start nats-server with -js`,
    );
    return 3;
  } finally {
    await nc.close().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.log(`nats-check: unexpected error: ${err && err.message ? err.message : err}`);
    process.exit(2);
  },
);
