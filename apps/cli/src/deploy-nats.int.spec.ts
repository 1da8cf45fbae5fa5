// The NATS configuration of the deployment files, run for real with this machine's nats-server
// (no Docker, no cluster): compose's command line with the authorization scripts/nats-auth.js
// renders, the set-up job (scripts/nats-streams.js as admin), and the 3-node JetStream cluster of
// k8s/base/nats.yaml with its routes pointed at local ports. Each server is private (free
// ports, a temporary store) and is killed after.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import { connect, nkeys, nkeyAuthenticator } from 'nats';
import * as YAML from 'yaml';

const ROOT = path.resolve(__dirname, '../../..');
const USERS = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting', 'gateway', 'alerter', 'operator', 'driver', 'admin'];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const natsServer = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => fs.existsSync(p));

let tmp: string;
const servers: ChildProcess[] = [];

beforeAll(() => {
  if (!natsServer) throw new Error('nats-server is not installed: run `bash scripts/setup.sh`');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-deploy-nats-'));
  // One nkey per user, as `node scripts/nats-auth.js local` makes them, and the server's
  // authorization rendered from their public keys only.
  fs.mkdirSync(path.join(tmp, 'creds'), { mode: 0o700 });
  const pub: Record<string, string> = {};
  for (const u of USERS) {
    const kp = nkeys.createUser();
    fs.writeFileSync(path.join(tmp, 'creds', `${u}.nk`), `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
    pub[u] = kp.getPublicKey();
  }
  fs.writeFileSync(path.join(tmp, 'public-keys.json'), JSON.stringify(pub));
  execFileSync('node', [path.join(ROOT, 'scripts/nats-auth.js'), 'render', '--public-keys', path.join(tmp, 'public-keys.json'), '--out', path.join(tmp, 'nats-server.conf')], { stdio: 'pipe' });
});

afterAll(async () => {
  for (const s of servers) if (s.exitCode === null) s.kill('SIGTERM');
  // Their stores are in tmp: remove it once every server has exited.
  await until('the nats-servers to exit', () => servers.every((s) => s.exitCode !== null || s.signalCode !== null));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Start nats-server with `args` in `cwd`; resolves once /healthz?js-enabled-only=true answers 200 on `monitor`. */
async function startServer(args: string[], monitor: number, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const log: string[] = [];
  const p = spawn(natsServer!, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(p);
  p.stdout!.on('data', (d) => log.push(String(d)));
  p.stderr!.on('data', (d) => log.push(String(d)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (p.exitCode !== null) throw new Error(`nats-server exited ${p.exitCode}: ${log.join('').slice(-2000)}`);
    const ok = await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`).then((r) => r.ok, () => false);
    if (ok) return p;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`nats-server not healthy within 60 s: ${log.join('').slice(-2000)}`);
}

/** Run scripts/nats-streams.js as the set-up job does (admin seed from NATS_NKEY_SEED_FILE). */
function runSetup(natsUrl: string, tag: string, seed = 'admin'): { status: number; output: string } {
  try {
    const output = execFileSync('node', [path.join(ROOT, 'scripts/nats-streams.js')], {
      encoding: 'utf8',
      stdio: 'pipe',
      timeout: 60_000,
      env: { ...process.env, NATS_URL: natsUrl, NATS_NKEY_SEED_FILE: path.join(tmp, 'creds', `${seed}.nk`), BULWARK_ES_STREAM: `ES_${tag}`, BULWARK_DLQ_STREAM: `DLQ_${tag}` },
    });
    return { status: 0, output };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { status: err.status, output: `${err.stdout}${err.stderr}` };
  }
}

const seedOf = (u: string) => new TextEncoder().encode(fs.readFileSync(path.join(tmp, 'creds', `${u}.nk`), 'utf8').trim());

describe('NATS as docker-compose.yml runs it', () => {
  it('starts with compose command line and the rendered auth config; the set-up job creates the streams as admin only', async () => {
    const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
    const [client, monitor] = [await freePort(), await freePort()];
    const dir = fs.mkdtempSync(path.join(tmp, 'compose-'));
    // compose: ["-c", "/etc/nats/nats-server.conf", "-js", "-sd", "/data", "-m", "8222"], with this machine's paths and ports.
    const args = (compose.services.nats.command as string[]).map((a) =>
      a === '/etc/nats/nats-server.conf' ? path.join(tmp, 'nats-server.conf') : a === '/data' ? path.join(dir, 'data') : a === '8222' ? String(monitor) : a,
    );
    await startServer([...args, '-a', '127.0.0.1', '-p', String(client)], monitor, dir);
    const url = `nats://127.0.0.1:${client}`;

    // Anonymous connections and the services' users may not create streams …
    await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/Authorization/i);
    const denied = runSetup(url, 'svc', 'risk');
    expect(denied.status).not.toBe(0);
    expect(denied.output).toMatch(/Permissions Violation for Publish to "\$JS\.API\.STREAM\.CREATE\.ES_svc"/);
    // … the admin (the set-up job) may, and a second run keeps them.
    for (let i = 0; i < 2; i++) {
      const r = runSetup(url, 'compose');
      expect(r).toEqual({ status: 0, output: expect.stringContaining('ES_compose') });
    }
    const nc = await connect({ servers: url, authenticator: nkeyAuthenticator(seedOf('admin')) });
    try {
      const jsm = await nc.jetstreamManager();
      expect((await jsm.streams.info('ES_compose')).config).toMatchObject({ subjects: ['es.>'], deny_delete: true, deny_purge: true, allow_direct: true });
      expect((await jsm.streams.info('DLQ_compose')).config.subjects).toEqual(['dlq.>']);
      // … and the alerter's alerts-sent bucket (user alerter may use it, not create it).
      expect((await jsm.streams.info('KV_bulwark-alerts-sent')).config.subjects).toEqual(['$KV.bulwark-alerts-sent.>']);
    } finally {
      await nc.close();
    }
  }, 120_000);
});

describe('NATS as k8s/base/nats.yaml runs it', () => {
  it('three servers with the ConfigMap config form one JetStream cluster, and the set-up job creates the streams on it', async () => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'k8s/base/nats.yaml'), 'utf8')).map((d) => d.toJSON());
    const conf: string = docs.find((d: Obj) => d?.kind === 'ConfigMap' && d.metadata.name === 'nats-config').data['nats.conf'];
    const sts = docs.find((d: Obj) => d?.kind === 'StatefulSet');
    const nodes = await Promise.all(
      Array.from({ length: sts.spec.replicas as number }, async (_, i) => ({ name: `nats-${i}`, client: await freePort(), cluster: await freePort(), monitor: await freePort() })),
    );
    // The pods' view, translated to this machine: ports, the route host names, and the mounts
    // (/data, /var/run/nats, /etc/nats/auth -> folders of each node).
    const procs: Promise<ChildProcess>[] = [];
    for (const n of nodes) {
      const dir = fs.mkdtempSync(path.join(tmp, `${n.name}-`));
      fs.mkdirSync(path.join(dir, 'auth'));
      fs.copyFileSync(path.join(tmp, 'nats-server.conf'), path.join(dir, 'auth', 'nats-server.conf'));
      let text = conf
        .replace(/^port: 4222$/m, `port: ${n.client}\nhost: 127.0.0.1`)
        .replace(/^http_port: 8222$/m, `http_port: ${n.monitor}`)
        .replace(/^(\s+)port: 6222$/m, `$1port: ${n.cluster}`)
        .replace(/store_dir: \/data\/jetstream/, `store_dir: ${path.join(dir, 'jetstream')}`)
        .replace(/\/var\/run\/nats\/nats\.pid/, path.join(dir, 'nats.pid'));
      for (const m of nodes) text = text.replace(`nats://${m.name}.nats-headless:6222`, `nats://127.0.0.1:${m.cluster}`);
      // Whole numbers: a free port such as 42227 holds the digits 4222 (CI failed on that once).
      expect(text).not.toMatch(/nats-headless|\b(4222|6222|8222)\b|\/data\//); // everything was translated
      fs.writeFileSync(path.join(dir, 'nats.conf'), text);
      // The container's args: ["-c", "/etc/nats/nats.conf"]; POD_NAME from the downward API.
      const args = (sts.spec.template.spec.containers[0].args as string[]).map((a) => (a === '/etc/nats/nats.conf' ? path.join(dir, 'nats.conf') : a));
      procs.push(startServer(args, n.monitor, dir, { POD_NAME: n.name }));
    }
    await Promise.all(procs);

    const url = nodes.map((n) => `nats://127.0.0.1:${n.client}`).join(',');
    const r = runSetup(url, 'k8s');
    expect(r).toEqual({ status: 0, output: expect.stringContaining('ES_k8s') });
    const jsz = (await (await fetch(`http://127.0.0.1:${nodes[0].monitor}/jsz`)).json()) as { meta_cluster: { cluster_size: number; name: string } };
    expect(jsz.meta_cluster.cluster_size).toBe(3);
    expect(jsz.meta_cluster.name).toBe('bulwark');
    const nc = await connect({ servers: url.split(','), authenticator: nkeyAuthenticator(seedOf('admin')) });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info('ES_k8s');
      expect(info.cluster?.name).toBe('bulwark');
      expect(nodes.map((n) => n.name)).toContain(info.cluster?.leader);
      expect(info.config.num_replicas).toBe(1); // as set-up creates it (libs/event-store)
      // k8s/README.md "NATS cluster": raising the stream to 3 replicas, as the admin.
      await jsm.streams.update('ES_k8s', { ...info.config, num_replicas: 3 });
      const deadline = Date.now() + 30_000;
      const hosts = async () => {
        const i = await jsm.streams.info('ES_k8s');
        return { replicas: i.config.num_replicas, on: [...new Set([i.cluster?.leader, ...(i.cluster?.replicas ?? []).filter((p) => p.current).map((p) => p.name)])].sort() };
      };
      let r3 = await hosts();
      while (r3.on.length < 3 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 250));
        r3 = await hosts();
      }
      expect(r3).toEqual({ replicas: 3, on: nodes.map((n) => n.name) }); // a copy on every node
    } finally {
      await nc.close();
    }
  }, 180_000);
});
