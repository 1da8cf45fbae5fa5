// The credentials bucket on a private nats-server with the authorization deploy/nats/permissions.js
// renders today (scripts/nats-auth.js render, from the local seeds' public keys): the gateway
// reads and writes it; no other user but admin can read it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { projectRoot } from '@bulwark/market-data';
import { connectNats, CREDENTIALS_BUCKET, createCredentialsBucket, CredentialsStore, freePort, type NatsUser } from '@bulwark/messaging';

jest.setTimeout(120_000);

const ROOT = projectRoot(__dirname);
let server: ChildProcess;
let url: string;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'bulwark-creds-perm-'));
  const script = path.join(ROOT, 'scripts', 'nats-auth.js');
  const keys = execFileSync(process.execPath, [script, 'public-keys'], { encoding: 'utf8' });
  writeFileSync(path.join(tmp, 'keys.json'), keys);
  execFileSync(process.execPath, [script, 'render', '--public-keys', path.join(tmp, 'keys.json'), '--out', path.join(tmp, 'nats.conf')]);
  const port = await freePort();
  url = `nats://127.0.0.1:${port}`;
  server = spawn(process.env.NATS_SERVER_BIN || 'nats-server', ['-c', path.join(tmp, 'nats.conf'), '-js', '-sd', path.join(tmp, 'js'), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const end = Date.now() + 20_000;
  for (;;) {
    const nc = await connectNats({ user: 'admin', servers: url, reconnect: 'never', timeoutMs: 1_000 }).catch(() => null);
    if (nc) {
      await createCredentialsBucket(nc, CREDENTIALS_BUCKET);
      await nc.close();
      break;
    }
    if (Date.now() > end) throw new Error('the private nats-server did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
});

afterAll(async () => {
  server?.kill();
  rmSync(tmp, { recursive: true, force: true });
});

it('lets the gateway keep password hashes, API keys and refresh tokens in the bucket', async () => {
  const nc = await connectNats({ user: 'gateway', servers: url, reconnect: 'never' });
  try {
    const c = await CredentialsStore.open(nc, CREDENTIALS_BUCKET);
    await c.setPasswordHash('ada', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA');
    expect(await c.passwordHash('ada')).toMatch(/^\$argon2id\$/);
    await c.putApiKey({ id: '0123456789abcdef', username: 'ada', role: 'admin', label: 'ci', hash: 'ab'.repeat(32), createdAt: 1, createdBy: 'ada' });
    expect((await c.listApiKeys()).map((k) => k.id)).toEqual(['0123456789abcdef']);
    await c.putRefreshToken('cd'.repeat(32), { username: 'ada', expiresAt: Date.now() + 60_000 });
    expect(await c.takeRefreshToken('cd'.repeat(32))).toMatchObject({ username: 'ada' });
    expect(await c.takeRefreshToken('cd'.repeat(32))).toBeNull();
  } finally {
    await nc.close();
  }
});

it.each<NatsUser>(['risk', 'execution', 'accounting', 'operator', 'driver'])('refuses %s any read of the bucket', async (user) => {
  const nc = await connectNats({ user, servers: url, reconnect: 'never' });
  try {
    const read = CredentialsStore.open(nc, CREDENTIALS_BUCKET).then((c) => c.passwordHash('ada'));
    await expect(read).rejects.toThrow(/Permissions Violation/i);
  } finally {
    await nc.close().catch(() => undefined);
  }
});
