/**
 * The built risk service process (`services/risk/dist/main.js`, build it first) serves its
 * probes and metrics on a free port (BULWARK_METRICS_PORT=0) from before it connects: on a
 * nats-server of its own (free port, store in a temp dir) that is killed and started again,
 * /healthz stays 200 while /readyz goes 503 naming the `nats` check, and back to 200.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectNats, createBusStreams, freePort, privateNatsServerCommand } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import type { NatsConnection } from 'nats';

const ROOT = path.resolve(__dirname, '../../..');
const bus = { esStream: 'RDYES', esPrefix: 'rdyes', dlqStream: 'RDYDLQ', dlqPrefix: 'rdydlq' };

let tmp: string;
let port: number;
let natsServer: ChildProcess | null = null;
let service: ChildProcess | null = null;
let serviceLog = '';
let base = '';

/** The waits' options: a minute each, the service's log with a timeout. */
const waits = { timeoutMs: 60_000, detail: () => `service log:\n${serviceLog}` };

async function stop(child: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function startNats(): void {
  const server = privateNatsServerCommand(port, path.join(tmp, 'js'));
  natsServer = spawn(server.bin, server.args, { stdio: 'ignore' });
}

const readyz = async () => {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, body: (await r.json()) as { status: string; info: Record<string, { status?: string; role?: string }>; error: Record<string, { reason?: string }> } };
};

beforeAll(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-rdy-')));
  port = await freePort();
  startNats();
  const url = `nats://127.0.0.1:${port}`;
  const nc: NatsConnection = await until('nats-server', () => connectNats({ user: 'admin', servers: url, name: 'readiness-spec', timeoutMs: 1_000, reconnect: 'never' }), waits);
  await createBusStreams(nc, bus);
  await nc.close();
  const main = path.join(ROOT, 'services/risk/dist/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: build the service first (npx tsc -b services/risk/tsconfig.lib.json)`);
  service = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NATS_URL: url, BULWARK_ES_STREAM: bus.esStream, BULWARK_ES_PREFIX: bus.esPrefix, BULWARK_DLQ_STREAM: bus.dlqStream, BULWARK_DLQ_PREFIX: bus.dlqPrefix, BULWARK_METRICS_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.stdout!.on('data', (d) => (serviceLog += String(d)));
  service.stderr!.on('data', (d) => (serviceLog += String(d)));
  const bound = await until('the telemetry address in the log', async () => /risk telemetry on (http:\/\/127\.0\.0\.1:\d+)/.exec(serviceLog)?.[1] ?? null, waits);
  base = bound;
}, 120_000);

afterAll(async () => {
  await stop(service);
  await stop(natsServer);
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('risk service probes and metrics (a real process on its own nats-server)', () => {
  it('logs a free port, is alive, and becomes ready with every check up', async () => {
    expect(base).not.toMatch(/:910\d$/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // Ready as a standby first (it could take over), then as the active instance once rebuilt.
    const ready = await until('/readyz 200 as the active instance', async () => {
      const r = await readyz();
      return r.status === 200 && r.body.info.lease?.role === 'active' ? r.body : null;
    }, waits);
    expect(Object.keys(ready.info).sort()).toEqual(['backlog', 'lease', 'nats', 'rebuilt']);
    expect(ready.info.lease).toMatchObject({ status: 'up', role: 'active' });
  }, 120_000);

  it('serves /metrics with its service label, Node metrics and the consumer backlog gauge', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/process_resident_memory_bytes\{service="risk"\} \d+/);
    expect(text).toMatch(/bulwark_service_role\{role="active",service="risk"\} 1/);
    expect(text).toMatch(/bulwark_service_role\{role="standby",service="risk"\} 0/);
    await until('bulwark_consumer_pending sampled', async () => (/bulwark_consumer_pending\{service="risk"\} 0/.test(await (await fetch(`${base}/metrics`)).text()) ? true : null), waits);
  }, 120_000);

  it('NATS gone: still alive, not ready (the nats check says why); NATS back: ready again', async () => {
    await stop(natsServer, 'SIGKILL');
    const down = await until('/readyz 503', async () => {
      const r = await readyz();
      return r.status === 503 ? r.body : null;
    }, waits);
    expect(Object.keys(down.error)).toEqual(['nats']);
    expect(down.error.nats.reason).toMatch(/^disconnected from /);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    startNats();
    await until('/readyz 200 after reconnect', async () => ((await readyz()).status === 200 ? true : null), waits);
  }, 180_000);
});
