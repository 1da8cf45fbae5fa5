#!/usr/bin/env node
// Does a nats-server with JetStream answer at a URL? Used by scripts/ensure-nats.sh.
//
//   node scripts/nats-check.js [url]      (url defaults to $NATS_URL, then nats://127.0.0.1:4222)
//
// Prints one line and exits with:
//   0  a server answers and JetStream is enabled for this account
//   2  no server answers (refused, unreachable, timed out, not NATS)
//   3  a server answers but JetStream is disabled or its API does not reply
//   4  the `nats` package is not installed (run npm ci first)
'use strict';

const { setTimeout, clearTimeout } = require('node:timers');

const url = process.argv[2] || process.env.NATS_URL || 'nats://127.0.0.1:4222';
const TIMEOUT_MS = 2000;

let nats;
try {
  nats = require('nats');
} catch {
  console.log(`nats-check: the 'nats' package is not installed; run npm ci in the project root`);
  process.exit(4);
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
  let nc;
  try {
    nc = await nats.connect({
      servers,
      timeout: TIMEOUT_MS,
      reconnect: false,
      maxReconnectAttempts: 0,
      name: 'bulwark-nats-check',
    });
  } catch (err) {
    console.log(`nats-check: no NATS server at ${url} (${err.code || err.message})`);
    return 2;
  }
  try {
    // jetstreamManager() already probes the JetStream API; getAccountInfo() reads the limits.
    const jsm = await within(TIMEOUT_MS, nc.jetstreamManager({ timeout: TIMEOUT_MS }), 'JetStream API');
    const info = await within(TIMEOUT_MS, jsm.getAccountInfo(), 'JetStream account info');
    console.log(
      `nats-check: JetStream ok at ${url} (server ${nc.info?.version ?? '?'}, ` +
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
    console.log(`nats-check: unexpected error: ${err && err.stack ? err.stack : err}`);
    process.exit(2);
  },
);
