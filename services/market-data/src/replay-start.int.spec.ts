/**
 * Market-data's `bulwark.market-data.replay.start` against bad file names, through NATS to
 * the built service process (`services/market-data/dist/main.js`, so build it first), on a
 * nats-server of its own (`nats-server -js` on a free port, its store in a temp dir): the
 * request subjects are not isolated by the bus configuration, so a shared server would let
 * these requests reach another run's market-data. Every bad request gets a typed answer and
 * a dead letter; the process stays up and answers the next good request.
 * The good data is real Binance USDⓈ-M BTCUSDT (shared/data, PROVENANCE.md).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DeadLetter, type ReplayProgress, type ReplayStartRequest, Subjects } from '@bulwark/contracts';
import { DOWNSTREAM, prepareReplay } from '@bulwark/application';
import { connectNats, createBusStreams, freePort, privateNatsServerCommand } from '@bulwark/messaging';
import { BTCUSDT_FILES, DATA_DIR, until } from '@bulwark/testing';
import { JSONCodec, type NatsConnection } from 'nats';

const json = JSONCodec();
const ROOT = path.resolve(__dirname, '../../..');
const SHARED = fs.realpathSync(DATA_DIR);
const MONTH_1M = BTCUSDT_FILES.candles1m;
const FUNDING_2025_11 = BTCUSDT_FILES.fundingRateMonthly('2025-11');
/** Header and the first 200 rows of the month file: 2025-11-10 00:00 … 03:19 UTC. */
const SLICE_LINES = fs.readFileSync(MONTH_1M, 'utf8').split('\n').slice(0, 201);
const T0 = Date.parse('2025-11-10T00:00:00Z');

let tmp: string;
let dataDir: string;
let extraDir: string;
let natsServer: ChildProcess | null = null;
let service: ChildProcess | null = null;
let serviceExit: number | null | undefined;
let serviceLog = '';
let nc: NatsConnection;
const DLQ_STREAM = 'MDDLQ';
const DLQ_PREFIX = 'mddlq';
/** Clock steps the stub services received, by service. */
const delivered = new Map<string, number>();

const file = (dir: string, name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

let runSeq = 0;
function request(candlesFile: string, extra: Partial<ReplayStartRequest> = {}): ReplayStartRequest {
  return { runId: `md-spec-${++runSeq}`, venue: 'binance-usdm', symbol: 'BTCUSDT', candlesFile, fundingFile: null, speed: 0, from: null, to: null, schedule: [], ...extra };
}

async function ask(req: unknown): Promise<unknown> {
  const m = await nc.request(Subjects.replayStart, json.encode(req), { timeout: 20_000 });
  return json.decode(m.data);
}

beforeAll(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-md-')));
  dataDir = path.join(tmp, 'data');
  extraDir = path.join(tmp, 'extra');
  fs.mkdirSync(dataDir);
  fs.mkdirSync(extraDir);
  const port = await freePort();
  // The deployed authorization: market-data connects as itself, the harness (and the stubs) as admin.
  const server = privateNatsServerCommand(port, path.join(tmp, 'js'));
  natsServer = spawn(server.bin, server.args, { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${port}`;
  nc = await until('nats-server', () => connectNats({ user: 'admin', servers: url, name: 'md-replay-start-spec', timeoutMs: 1_000, reconnect: 'never' }));
  await createBusStreams(nc, { esStream: 'MDES', esPrefix: 'mdes', dlqStream: DLQ_STREAM, dlqPrefix: DLQ_PREFIX });
  const main = path.join(ROOT, 'services/market-data/dist/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: build the service first (npx nx run market-data-service:build)`);
  service = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NATS_URL: url,
      BULWARK_ES_STREAM: 'MDES',
      BULWARK_ES_PREFIX: 'mdes',
      BULWARK_DLQ_STREAM: DLQ_STREAM,
      BULWARK_DLQ_PREFIX: DLQ_PREFIX,
      BULWARK_DATA_DIR: dataDir,
      BULWARK_ALLOWED_DATA_DIRS: extraDir,
      LOG_LEVEL: 'warn',
      BULWARK_METRICS_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.stdout!.on('data', (d) => (serviceLog += String(d)));
  service.stderr!.on('data', (d) => (serviceLog += String(d)));
  service.once('exit', (code) => (serviceExit = code));
  // The five downstream services as stubs: each answers the clock and sync with an idle ack
  // that asks for bar closes, so a good replay runs to its end.
  for (const svc of DOWNSTREAM) {
    for (const subject of [Subjects.clock(svc), Subjects.sync(svc)]) {
      const sub = nc.subscribe(subject);
      void (async () => {
        for await (const m of sub) {
          if (subject === Subjects.clock(svc)) delivered.set(svc, (delivered.get(svc) ?? 0) + 1);
          m.respond(json.encode({ service: svc, appended: 0, idle: true, interest: 'CLOSE' }));
        }
      })();
    }
  }
  await until('market-data health', async () => {
    if (serviceExit !== undefined) throw new Error(`market-data exited with ${serviceExit}: ${serviceLog}`);
    const m = await nc.request(Subjects.health('market-data'), json.encode({}), { timeout: 1_000 });
    return (json.decode(m.data) as { ready?: boolean }).ready ? true : null;
  }, { detail: () => `market-data log:\n${serviceLog.slice(-3000)}` });
}, 60_000);

/** Stop a child this spec started: SIGTERM, SIGKILL after 5 s. */
async function stop(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

afterAll(async () => {
  await stop(service);
  await nc?.close();
  await stop(natsServer);
  fs.rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('prepareReplay (the check behind the request)', () => {
  it('counts the window of a good file and reads the funding; refuses an inverted window and an empty one', async () => {
    const candles = file(extraDir, 'slice-fn.csv', SLICE_LINES.join('\n') + '\n');
    const dirs = [dataDir, extraDir];
    const p = await prepareReplay({ candlesFile: candles, fundingFile: FUNDING_2025_11, from: T0 + 60_000 * 10, to: T0 + 60_000 * 70 }, [...dirs, SHARED]);
    expect(p.total).toBe(60);
    expect(p.funding).toHaveLength(90);
    const inverted = prepareReplay({ candlesFile: candles, fundingFile: null, from: T0, to: T0 }, dirs);
    await expect(inverted).rejects.toMatchObject({ error: { code: 'INVALID_WINDOW' } });
    const empty = prepareReplay({ candlesFile: candles, fundingFile: null, from: Date.parse('2026-01-01T00:00:00Z'), to: null }, dirs);
    await expect(empty).rejects.toMatchObject({ error: { code: 'NO_CANDLES', message: `no candle in ${candles} in the window [2026-01-01T00:00:00.000Z, …)` } });
  });
});

describe('bulwark.market-data.replay.start on the running service', () => {
  it('answers every bad file with a typed error, dead-letters it, stays up, and accepts the next good request', async () => {
    const good = file(extraDir, 'BTCUSDT-1m-slice.csv', SLICE_LINES.join('\n') + '\n');
    const funding = file(dataDir, 'funding-2025-11.csv', fs.readFileSync(FUNDING_2025_11));
    const link = path.join(dataDir, 'passwd-link.csv');
    fs.symlinkSync('/etc/passwd', link);
    const dir = path.join(dataDir, 'dir.csv');
    fs.mkdirSync(dir);
    const fifo = path.join(dataDir, 'fifo.csv');
    execFileSync('mkfifo', [fifo]);
    const whole = gzipSync(Buffer.from(SLICE_LINES.join('\n') + '\n'));
    const cases: Array<{ name: string; req: ReplayStartRequest; code: string; message: RegExp }> = [
      { name: '/dev/zero', req: request('/dev/zero'), code: 'FILE_NOT_ALLOWED', message: /^candle file \/dev\/zero is outside the directories market data may be read from/ },
      { name: '/etc/passwd', req: request('/etc/passwd'), code: 'FILE_NOT_ALLOWED', message: /^candle file \/etc\/passwd is outside/ },
      { name: 'a directory', req: request(dir), code: 'INVALID_CANDLE_FILE', message: /: not a regular file \(a directory\)$/ },
      { name: 'a symlink to /etc/passwd in the data dir', req: request(link), code: 'FILE_NOT_ALLOWED', message: /\(really \/etc\/passwd\) is outside/ },
      { name: 'a FIFO', req: request(fifo), code: 'INVALID_CANDLE_FILE', message: /: not a regular file \(a FIFO\)$/ },
      { name: 'a missing file', req: request(path.join(dataDir, 'missing.csv')), code: 'FILE_NOT_FOUND', message: /^candle file not found: / },
      { name: 'an empty file', req: request(file(dataDir, 'empty.csv', '')), code: 'INVALID_CANDLE_FILE', message: /: the file is empty$/ },
      { name: 'a header only', req: request(file(dataDir, 'header-only.csv', `${SLICE_LINES[0]}\n`)), code: 'NO_CANDLES', message: /^no candle in / },
      {
        name: 'a truncated gzip',
        req: request(file(dataDir, 'truncated.csv.gz', whole.subarray(0, Math.floor(whole.length / 2)))),
        code: 'INVALID_CANDLE_FILE',
        message: /the gzip data is corrupt or truncated \(unexpected end of file\)$/,
      },
      {
        name: 'a corrupt gzip',
        req: request(file(dataDir, 'corrupt.csv.gz', Buffer.concat([whole.subarray(0, 10), Buffer.from('garbage, not deflate')]))),
        code: 'INVALID_CANDLE_FILE',
        message: /the gzip data is corrupt or truncated/,
      },
      { name: 'a funding file that is /etc/passwd', req: request(good, { fundingFile: '/etc/passwd' }), code: 'FILE_NOT_ALLOWED', message: /^funding-rate file \/etc\/passwd is outside/ },
      { name: 'the candles as funding', req: request(good, { fundingFile: good }), code: 'INVALID_FUNDING_FILE', message: /neither the calc_time,… header/ },
      { name: 'from after to', req: request(good, { from: T0 + 60_000, to: T0 }), code: 'INVALID_WINDOW', message: /is not before to/ },
    ];
    for (const c of cases) {
      const answer = (await ask(c.req)) as { error?: { code: string; message: string } };
      expect({ case: c.name, code: answer.error?.code }).toEqual({ case: c.name, code: c.code });
      expect(answer.error!.message).toMatch(c.message);
    }
    expect(serviceExit).toBeUndefined();

    // Each refusal is kept in the dead-letter stream with its reason and the request.
    const jsm = await nc.jetstreamManager();
    const letters: DeadLetter[] = [];
    const last = (await jsm.streams.info(DLQ_STREAM)).state.last_seq;
    for (let seq = 1; seq <= last; seq++) letters.push(json.decode((await jsm.streams.getMessage(DLQ_STREAM, { seq })).data) as DeadLetter);
    expect(letters.map((l) => [l.service, l.subject, l.reason.split(':')[0]])).toEqual(cases.map((c) => ['market-data', Subjects.replayStart, c.code]));
    expect(JSON.parse(letters[0].payload)).toMatchObject({ candlesFile: '/dev/zero' });

    // The next good request (candles from BULWARK_ALLOWED_DATA_DIRS, funding from the data dir) is accepted.
    const ok = request(good, { fundingFile: funding, from: T0, to: T0 + 60_000 * 100 });
    const done = new Promise<ReplayProgress>((resolve) => {
      const sub = nc.subscribe(Subjects.replayProgress(ok.runId));
      void (async () => {
        for await (const m of sub) {
          const p = json.decode(m.data) as ReplayProgress;
          if (p.done) {
            sub.unsubscribe();
            resolve(p);
          }
        }
      })();
    });
    await nc.flush();
    expect(await ask(ok)).toEqual({ runId: ok.runId, accepted: true, total: 100 });
    // The run goes to its end: 100 candles, each bar close delivered to the (stub) strategy service.
    const end = await done;
    expect([end.candles, end.total, end.error]).toEqual([100, 100, null]);
    expect(delivered.get('signals')).toBe(100);
    // Still up: another good request is answered once the first run is over.
    const again = request(good);
    expect(await until('the run to end', async () => {
      const a = (await ask(again)) as { accepted?: boolean; error?: { code: string } };
      return a.error?.code === 'REPLAY_RUNNING' ? null : a;
    }, { intervalMs: 100 })).toEqual({ runId: again.runId, accepted: true, total: 200 });
    expect(serviceExit).toBeUndefined();
  }, 180_000);
});
