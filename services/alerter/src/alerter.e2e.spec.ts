/**
 * End-to-end proof of the alerts (issue 12, "Proof"): a one-day run with a breaker gives
 * exactly one message per alerting event at a local stand-in for the Telegram Bot API (grammy
 * pointed at it by BULWARK_TELEGRAM_API_ROOT) and at a webhook receiver that verifies every
 * signature.
 *
 * The alerter runs as its own process (services/alerter/dist/main.js, NATS user `alerter`),
 * started BEFORE the run: its new durable starts at the end of the log. Then `bulwark demo`
 * (the CLI as a process, apps/cli/bin/bulwark.js, with its six services) replays one real day
 * (2025-11-21, Binance USDⓈ-M BTCUSDT 1m, paper venue) at 10x with a losing-streak pause of 2:
 * the 9th and 10th trades of that day are stopped out one after the other and risk records
 * TradingPaused (LOSING_STREAK). Every alerting event of the run's log (isAlertType) must
 * reach each channel exactly once, with the text and payload formatAlert makes of it.
 *
 * On a nats-server of its own (free port, store in a temp dir): core subjects (clock steps,
 * requests) are not isolated by the bus configuration. Needs everything built and the
 * nats-server's private config (`npm run setup`; `npm test` runs it first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEvent, type RecordedEvent } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import { type BusConfig, connectNats, createBusStreams, dropBusStreams, freePort, privateNatsServerCommand } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import type { NatsConnection } from 'nats';
import { BotApiStandIn, countBy, WebhookReceiver } from './alert-test-kit';
import { ALERTS_SENT_BUCKET } from './config';
import { formatAlert, isAlertType } from './format';
import { createAlertsSentBucket } from './sent-ledger';

const ROOT = path.resolve(__dirname, '../../..');
const ALERTER_MAIN = path.join(ROOT, 'services/alerter/dist/main.js');
const CLI = path.join(ROOT, 'apps/cli/bin/bulwark.js');
const CLI_MAIN = path.join(ROOT, 'apps/cli/dist/main.js');

const tag = randomBytes(4).toString('hex');
const accountId = `alrte2e-${tag}`;
const tmp = mkdtempSync(path.join(os.tmpdir(), `bulwark-alerter-e2e-${tag}-`));
const bus: BusConfig = {
  natsUrl: '', // the private server's, once it runs
  esStream: `E2E_ALERTS_${tag}`,
  esPrefix: `e2ealerts${tag}`,
  dlqStream: `E2E_ALERTSDLQ_${tag}`,
  dlqPrefix: `e2ealertsdlq${tag}`,
  consumerSuffix: `alerts${tag}`,
};
const TOKEN = `424242:${randomBytes(24).toString('base64url')}`;
const CHAT = '987654321';
const SECRET = randomBytes(32).toString('hex');

let natsServer: ChildProcess | null = null;
let alerter: ChildProcess | null = null;
let alerterLog = '';
let alerterMetricsUrl = '';
let admin: NatsConnection | null = null;
const bot = new BotApiStandIn();
const hook = new WebhookReceiver(SECRET);
/** The run's alerting events, in log order, with their data as the alerter sees it (parsed, upcast). */
const alerts: RecordedEvent[] = [];
let demoOutput = '';

/** The environment every Bulwark process of this run gets: its bus. */
const busEnv = (): Record<string, string> => ({
  NATS_URL: bus.natsUrl,
  BULWARK_ES_STREAM: bus.esStream,
  BULWARK_ES_PREFIX: bus.esPrefix,
  BULWARK_DLQ_STREAM: bus.dlqStream,
  BULWARK_DLQ_PREFIX: bus.dlqPrefix,
  BULWARK_CONSUMER_SUFFIX: bus.consumerSuffix,
});

/** Start the alerter process and wait until its durable consumer runs (/readyz 200). */
async function startAlerter(): Promise<void> {
  writeFileSync(path.join(tmp, 'telegram-token'), TOKEN, { mode: 0o600 });
  writeFileSync(path.join(tmp, 'webhook-secret'), SECRET, { mode: 0o600 });
  const log = createWriteStream(path.join(tmp, 'alerter.log'));
  const child = spawn(process.execPath, [ALERTER_MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...busEnv(),
      BULWARK_METRICS_PORT: '0',
      BULWARK_TELEGRAM_TOKEN_FILE: path.join(tmp, 'telegram-token'),
      BULWARK_TELEGRAM_CHAT_ID: CHAT,
      BULWARK_TELEGRAM_API_ROOT: await bot.start(),
      BULWARK_WEBHOOK_URL: await hook.start(),
      BULWARK_WEBHOOK_SECRET_FILE: path.join(tmp, 'webhook-secret'),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  alerter = child;
  for (const s of [child.stdout!, child.stderr!]) {
    s.on('data', (d: Buffer) => {
      alerterLog += d.toString('utf8');
      log.write(d);
    });
  }
  const alerterOutput = () => `alerter output: ${alerterLog.slice(-2000)}`;
  const address = await until(
    'the alerter to log its telemetry address',
    () => {
      if (child.exitCode !== null) throw new Error(`the alerter exited (${child.exitCode})`);
      const m = /alerter telemetry on (http:\/\/[^\s:/]+:\d+)/.exec(alerterLog);
      return m ? m[1] : null;
    },
    { timeoutMs: 60_000, detail: alerterOutput },
  );
  alerterMetricsUrl = `${address}/metrics`;
  await until('the alerter /readyz 200', async () => (await fetch(`${address}/readyz`)).status === 200, { timeoutMs: 60_000, detail: alerterOutput });
}

/** Run `bulwark demo` over 2025-11-21 on this run's bus; resolves with its exit code. */
function runDemoCli(): Promise<number | null> {
  const args = [
    CLI, 'demo',
    '--from', '2025-11-21', '--to', '2025-11-22',
    '--capital', '10000', '--leverage', '10', '--confirm-high-leverage', '--risk-pct', '1',
    '--losing-streak-pause', '2',
    '--account', accountId,
    // The alerts need no dashboard.
    '--no-gateway',
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...busEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (demoOutput += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (demoOutput += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

async function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

beforeAll(async () => {
  for (const f of [ALERTER_MAIN, CLI_MAIN]) if (!existsSync(f)) throw new Error(`${path.relative(ROOT, f)} is not built: run npm run setup`);
  const port = await freePort();
  const server = privateNatsServerCommand(port, path.join(tmp, 'js'));
  natsServer = spawn(server.bin, server.args, { stdio: 'ignore' });
  bus.natsUrl = `nats://127.0.0.1:${port}`;
  admin = await until('the private nats-server', () => connectNats({ user: 'admin', servers: bus.natsUrl, name: 'alerter-e2e', timeoutMs: 1_000, reconnect: 'never' }));
  await createBusStreams(admin, bus);
  // Set-up creates the alerter's bucket as admin (user `alerter` may only use it).
  await createAlertsSentBucket(admin, ALERTS_SENT_BUCKET);
  await startAlerter();

  const code = await runDemoCli();
  if (code !== 0) throw new Error(`bulwark demo exited ${code}:\n${demoOutput.slice(-4000)}`);

  const store = await JetStreamEventStore.connect(admin, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  // The log is this run's alone: every alerting event in it is one the alerter must send.
  for await (const e of store.readAll({ fromPosition: 1 })) {
    if (!isAlertType(e.type)) continue;
    const parsed = parseEvent(e.type, e.data, e.metadata.schemaVersion);
    if (!parsed.ok) throw new Error(`${e.type} ${e.metadata.eventId} breaks its schema: ${parsed.reason}`);
    alerts.push({ ...e, data: parsed.event.data });
  }
  await store.close?.().catch(() => undefined);
  // Telegram's pace is a message a second per chat: allow for it on a busy machine.
  await until(
    `one Telegram message and one webhook per alert (${alerts.length})`,
    () => bot.messages.length >= alerts.length && hook.delivered.length >= alerts.length,
    { timeoutMs: 120_000 + alerts.length * 2_000, detail: () => `so far ${bot.messages.length} Telegram messages and ${hook.delivered.length} webhooks` },
  );
  // Nothing more comes (a duplicate would arrive within a few seconds of the last message).
  await new Promise((r) => setTimeout(r, 3_000));
}, 900_000);

afterAll(async () => {
  await stopChild(alerter);
  await bot.close();
  await hook.close();
  if (admin) {
    await dropBusStreams(admin, bus).catch(() => undefined);
    await admin.drain().catch(() => undefined);
  }
  await stopChild(natsServer);
  rmSync(tmp, { recursive: true, force: true });
  // `bulwark demo` keeps its services' logs in var/log/<account>: this run's only.
  rmSync(path.join(ROOT, 'var', 'log', accountId), { recursive: true, force: true });
}, 60_000);

describe('alerts over one real day with a breaker (2025-11-21, 10x, losing-streak pause after 2 losses)', () => {
  it('the run recorded alerting events, among them a breaker (TradingPaused LOSING_STREAK)', () => {
    expect(alerts.length).toBeGreaterThan(0);
    const paused = alerts.filter((e) => e.type === 'TradingPaused');
    expect(paused.map((e) => (e.data as { reason: string }).reason)).toContain('LOSING_STREAK');
  });

  it('exactly one signed webhook POST per alerting event, in log order, with its payload', () => {
    expect(hook.rejected).toEqual([]);
    expect(Object.values(countBy(hook.delivered.map((p) => p.eventId)))).toEqual(alerts.map(() => 1));
    expect(hook.delivered.map((p) => p.eventId)).toEqual(alerts.map((e) => e.metadata.eventId));
    expect(hook.delivered).toEqual(alerts.map((e) => formatAlert(e, accountId).payload));
  });

  it('exactly one Telegram message per alerting event, in log order, to the configured chat through the Bot API root', () => {
    expect(bot.messages.map((m) => m.text)).toEqual(alerts.map((e) => formatAlert(e, accountId).text));
    expect(bot.messages.every((m) => m.chat_id === CHAT)).toBe(true);
    expect(bot.paths.every((p) => p === `/bot${TOKEN}/sendMessage`)).toBe(true);
    const pause = bot.messages.find((m) => m.text.includes(' TradingPaused: LOSING_STREAK'));
    expect(pause?.text).toMatch(new RegExp(`^⚠️ ${accountId} TradingPaused: LOSING_STREAK — 2 losing trades in a row \\(loss \\d+\\.\\d{2} USDT\\) \\(2025-11\\); new entries are paused · 2025-11-21 \\d{2}:\\d{2} UTC$`));
  });

  it("the alerter's metrics count each alert sent once per channel, and no secret is in its log", async () => {
    const text = await (await fetch(alerterMetricsUrl)).text();
    const sent = (channel: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('bulwark_alerts_total{') && l.includes(`channel="${channel}"`) && l.includes('outcome="sent"'))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    expect({ telegram: sent('telegram'), webhook: sent('webhook') }).toEqual({ telegram: alerts.length, webhook: alerts.length });
    expect(alerterLog).not.toContain(TOKEN.split(':')[1]);
    expect(alerterLog).not.toContain(SECRET);
    expect(readFileSync(path.join(tmp, 'alerter.log'), 'utf8')).toContain(`bulwark-alerter-${bus.consumerSuffix}`);
  });
});
