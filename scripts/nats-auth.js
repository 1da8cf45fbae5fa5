#!/usr/bin/env node
// Credentials and server configuration of Bulwark's secured NATS (docs/security.md).
//
//   node scripts/nats-auth.js local
//       Create any missing nkey seed under var/nats/creds/<user>.nk (mode 0600; existing seeds
//       are kept), then render var/nats/nats-server.conf from deploy/nats/permissions.js with the
//       seeds' public keys (and var/nats/nats-server.private.conf, the same without a JetStream
//       store, for private servers started with -sd). Prints "config changed" or "config
//       unchanged". BULWARK_NATS_CREDS_DIR moves the creds.
//   node scripts/nats-auth.js rotate <user>
//       Replace one user's seed (the old one is kept as <user>.nk.old until the next rotation)
//       and render the config again; then run scripts/ensure-nats.sh (reloads the server) and
//       restart the processes that connect as <user>.
//   node scripts/nats-auth.js public-keys
//       Print {"<user>": "<public nkey>", ...} of the local seeds (never the seeds).
//   node scripts/nats-auth.js render --public-keys <file.json> [--out <file>]
//       Render the authorization config for another server from public keys only.
//
// Seeds are never printed or logged. Exit code 1 with a message on bad input.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { Buffer } = require('node:buffer');
const { TextEncoder } = require('node:util');

const ROOT = path.resolve(__dirname, '..');
const { USERS } = require(path.join(ROOT, 'deploy/nats/permissions.js'));

/** Where the local seeds live. */
function credsDir(env = process.env) {
  return env.BULWARK_NATS_CREDS_DIR ? path.resolve(env.BULWARK_NATS_CREDS_DIR) : path.join(ROOT, 'var/nats/creds');
}

function nkeys() {
  try {
    return require('nats').nkeys;
  } catch {
    throw new Error("the 'nats' package is not installed; run npm ci in the project root");
  }
}

/** A seed file's seed, checked: one line, an nkey user seed (SU…). */
function readSeed(file) {
  const seed = fs.readFileSync(file, 'utf8').trim();
  if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new Error(`${file} does not hold an nkey user seed (expected one line starting with SU)`);
  return seed;
}

function publicKeyOf(seed) {
  return nkeys().fromSeed(new TextEncoder().encode(seed)).getPublicKey();
}

/** Write a new user seed to `file` (mode 0600), never over an existing file. */
function writeNewSeed(file) {
  const seed = Buffer.from(nkeys().createUser().getSeed()).toString('utf8');
  fs.writeFileSync(file, seed + '\n', { mode: 0o600, flag: 'wx' });
}

/**
 * Create the seeds that are missing (mode 0600, in a 0700 directory) and tighten the mode of
 * existing ones. @returns {Record<string,string>} user → public key
 */
function ensureSeeds(dir = credsDir()) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const keys = {};
  for (const user of Object.keys(USERS)) {
    const file = path.join(dir, `${user}.nk`);
    if (!fs.existsSync(file)) writeNewSeed(file);
    else if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
    keys[user] = publicKeyOf(readSeed(file));
  }
  return keys;
}

/** nats-server's configuration language accepts JSON values. */
const q = (v) => JSON.stringify(v);

function renderPermissions(p, indent) {
  const lines = [];
  for (const dir of ['publish', 'subscribe']) {
    if (!p[dir]) continue;
    const parts = [];
    if (p[dir].allow && p[dir].allow.length) parts.push(`allow: ${q(p[dir].allow)}`);
    if (p[dir].deny && p[dir].deny.length) parts.push(`deny: ${q(p[dir].deny)}`);
    lines.push(`${indent}${dir}: { ${parts.join(', ')} }`);
  }
  if (p.allow_responses) lines.push(`${indent}allow_responses: true`);
  return lines.join('\n');
}

/**
 * The server configuration: JetStream on, one account BULWARK with JetStream, one nkey user per
 * entry of deploy/nats/permissions.js, and no anonymous user (a connection without a valid
 * nkey signature is refused). Listen address, port, monitor port and store directory are
 * command-line flags (scripts/ensure-nats.sh), so tests can start private servers with the
 * same authorization (their `-sd` overrides `storeDir`). nats-server 2.9 cannot reload a
 * configuration whose JetStream store differs from the running one, so the local server's
 * store is written into its config. @param {Record<string,string>} publicKeys user → public nkey
 * @param {{ storeDir?: string }} [opts]
 */
function renderConfig(publicKeys, opts = {}) {
  const missing = Object.keys(USERS).filter((u) => !/^U[A-Z2-7]{55}$/.test(publicKeys[u] || ''));
  if (missing.length) throw new Error(`no valid public nkey (U…) for user(s): ${missing.join(', ')}`);
  const users = Object.entries(USERS).map(([user, perms]) => {
    const body = perms ? `\n        permissions: {\n${renderPermissions(perms, '          ')}\n        }\n      ` : ' ';
    return `      # ${user}\n      { nkey: ${q(publicKeys[user])}${perms ? ',' : ''}${body}}`;
  });
  return [
    '# Generated by scripts/nats-auth.js from deploy/nats/permissions.js: edit those, not this file.',
    '# Listen address, port and monitor port come from the command line.',
    opts.storeDir ? `jetstream: { store_dir: ${q(opts.storeDir)} }` : 'jetstream: enabled',
    'accounts: {',
    '  BULWARK: {',
    '    jetstream: enabled',
    '    users: [',
    users.join('\n'),
    '    ]',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Write `text` to `file` when it differs. @returns whether it changed */
function writeIfChanged(file, text) {
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (old === text) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o600 });
  return true;
}

const LOCAL_CONFIG = path.join(ROOT, 'var/nats/nats-server.conf');
/** The local server's JetStream store. */
const LOCAL_STORE = path.join(ROOT, 'var/nats/jetstream');
/** The same authorization without a store, for private servers started with -sd (tests, fault runs). */
const PRIVATE_CONFIG = path.join(ROOT, 'var/nats/nats-server.private.conf');

/** Render the local server's config and the private servers' one; @returns whether the local one changed */
function writeLocalConfigs(keys) {
  writeIfChanged(PRIVATE_CONFIG, renderConfig(keys));
  return writeIfChanged(LOCAL_CONFIG, renderConfig(keys, { storeDir: LOCAL_STORE }));
}

function main(argv) {
  const [cmd, ...rest] = argv;
  const opt = (name) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  switch (cmd) {
    case 'local': {
      const changed = writeLocalConfigs(ensureSeeds());
      console.log(`nats-auth: credentials in ${path.relative(ROOT, credsDir()) || credsDir()}; config ${changed ? 'changed' : 'unchanged'}`);
      return 0;
    }
    case 'rotate': {
      const user = rest[0];
      if (!user || !(user in USERS)) throw new Error(`rotate needs one of: ${Object.keys(USERS).join(', ')}`);
      const dir = credsDir();
      const file = path.join(dir, `${user}.nk`);
      if (fs.existsSync(file)) fs.renameSync(file, `${file}.old`);
      const changed = writeLocalConfigs(ensureSeeds(dir));
      console.log(`nats-auth: new seed for ${user}; config ${changed ? 'changed' : 'unchanged'}. Run scripts/ensure-nats.sh to reload the server, then restart what connects as ${user}.`);
      return 0;
    }
    case 'public-keys':
      console.log(JSON.stringify(ensureSeeds(), null, 2));
      return 0;
    case 'render': {
      const file = opt('--public-keys');
      if (!file) throw new Error('render needs --public-keys <file.json> ({"risk": "U…", …} for every user)');
      const text = renderConfig(JSON.parse(fs.readFileSync(file, 'utf8')));
      const out = opt('--out');
      if (out) writeIfChanged(path.resolve(out), text);
      else process.stdout.write(text);
      return 0;
    }
    default:
      throw new Error('usage: nats-auth.js local | rotate <user> | public-keys | render --public-keys <file> [--out <file>]');
  }
}

module.exports = { credsDir, ensureSeeds, renderConfig, publicKeyOf, LOCAL_CONFIG, PRIVATE_CONFIG };

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`nats-auth: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
