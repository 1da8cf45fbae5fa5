/**
 * scripts/ensure-nats.sh (the NATS step of `npm run setup`, `npm test` and `npm run demo`) when
 * its port is held by a nats-server that refuses this checkout's credentials: the error names
 * that process, and says so when the checkout it belongs to is gone (a server left running after
 * its folder was deleted without `npm run stop`, which made a fresh clone's `npm test` fail in
 * under a minute). The script never stops a server it did not start, so it only explains.
 *
 * The script runs from a copy of the project's set-up files in a temporary root (its var/nats is
 * that root's, never this checkout's), against a nats-server of the test's own on a free port
 * that requires a password this checkout does not have. Needs nats-server on the PATH
 * (NATS_SERVER_BIN) and npm ci (the nats package).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import { stopChild } from './processes';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bulwark-ensure-nats-'));
/** A copy of what ensure-nats.sh uses, as a checkout of its own. */
const copy = path.join(tmp, 'checkout');
/** The other "checkout" whose server holds the port. */
const other = path.join(tmp, 'other');
const otherConfig = path.join(other, 'var', 'nats', 'nats-server.conf');

let server: ChildProcess | null = null;
let port = 0;

/** Run the copied script against the foreign server; resolves with its exit code and stderr. */
function ensureNats(): Promise<{ code: number; stderr: string }> {
  // This checkout's own credentials only (none given in the environment).
  const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: `nats://127.0.0.1:${port}`, BULWARK_NATS_MONITOR_PORT: '0' };
  for (const k of ['BULWARK_NATS_CREDS_DIR', 'NATS_NKEY_SEED_FILE', 'NATS_USER', 'NATS_PASSWORD_FILE']) delete env[k];
  return new Promise((resolve) => {
    execFile('bash', [path.join(copy, 'scripts', 'ensure-nats.sh')], { cwd: copy, timeout: 60_000, env }, (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }));
  });
}

const accepts = (p: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(p, '127.0.0.1', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

beforeAll(async () => {
  for (const f of ['scripts/ensure-nats.sh', 'scripts/nats-auth.js', 'scripts/nats-check.js', 'deploy/nats/permissions.js']) {
    mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
    cpSync(path.join(ROOT, f), path.join(copy, f));
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  mkdirSync(path.dirname(otherConfig), { recursive: true });
  writeFileSync(otherConfig, 'authorization { user: "someone-else", password: "not-ours" }\njetstream { store_dir: "' + path.join(other, 'js') + '" }\n');
  port = await freePort();
  server = spawn(process.env.NATS_SERVER_BIN || 'nats-server', ['-c', otherConfig, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await until('the other checkout’s nats-server to accept connections', () => accepts(port), { timeoutMs: 30_000, intervalMs: 100 });
}, 60_000);

afterAll(async () => {
  if (server) await stopChild(server);
  rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('ensure-nats.sh when its port is held by a server that refuses our credentials', () => {
  it('fails and names the process: another checkout’s server, stopped with npm run stop there', async () => {
    const { code, stderr } = await ensureNats();
    expect(code).toBe(1);
    expect(stderr).toContain(`nats-server pid ${server!.pid}, started with ${otherConfig}: another checkout's server`);
    expect(stderr).not.toContain('no longer exists');
  }, 90_000);

  it('says when that server’s checkout was removed without npm run stop, and how to stop it', async () => {
    rmSync(path.join(other, 'var'), { recursive: true, force: true });
    const { code, stderr } = await ensureNats();
    expect(code).toBe(1);
    expect(stderr).toContain(`started with ${otherConfig}, which no longer exists`);
    expect(stderr).toContain(`kill ${server!.pid}`);
    // It only explains: the server it did not start is still running.
    expect(server!.exitCode).toBeNull();
    await expect(accepts(port)).resolves.toBe(true);
  }, 90_000);
});
