/**
 * The alerter against Bulwark's nats-server (npm run setup; NATS_URL, default 127.0.0.1:4223),
 * connected as NATS user `alerter` (its permissions: read the log, its durable, its bucket),
 * on an isolated event log, with grammy pointed at a local stand-in for the Telegram Bot API
 * and a local webhook receiver that verifies every signature:
 * - alert events appended to the log → exactly one Telegram message and one signed POST each,
 *   nothing for other events;
 * - a receiver failing twice then succeeding → delivered once;
 * - an alerter stopped while a channel failed (its event unacknowledged), and a new instance on
 *   the same durable and bucket → the channel that had sent sends nothing twice, the other once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type DomainEvent, event, type RecordedEvent, Streams } from '@bulwark/contracts';
import { accountOfStreamId, JetStreamEventStore } from '@bulwark/event-store';
import { connectNats, EventAppender } from '@bulwark/messaging';
import { dropIsolatedBus, isolatedBus, openIsolatedBus, until } from '@bulwark/testing';
import type { NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { BotApiStandIn, countBy, WebhookReceiver } from './alert-test-kit';
import { Alerter, type AlerterLogger, AlerterMetrics } from './alerter';
import { ALERTS_SENT_BUCKET, alerterConfigFromEnv } from './config';
import { createAlertsSentBucket, SentLedger } from './sent-ledger';
import { TelegramChannel } from './telegram';
import { WebhookChannel } from './webhook';

jest.setTimeout(120_000);

const bus = isolatedBus('alerts');
const { tag } = bus;
const TOKEN = `424242:${randomBytes(24).toString('base64url')}`;
const CHAT = '987654321';
const SECRET = randomBytes(32).toString('hex');
/** 2025-11-21 08:00 UTC (shared/data BTCUSDT 1m: close 83924.2). */
const T = 1763712000000;
const ACCT = `alrt-${tag}`;

const logs: string[] = [];
const logger: AlerterLogger = { log: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`), error: (m) => logs.push(`error ${m}`) };

let admin: NatsConnection;
let alerterNc: NatsConnection;
let store: JetStreamEventStore;
let appender: EventAppender;
const bot = new BotApiStandIn();
const hook = new WebhookReceiver(SECRET);
let config: ReturnType<typeof alerterConfigFromEnv>;
const running: Alerter[] = [];
/** Every alert event appended, in order. */
const alertEvents: RecordedEvent[] = [];

async function startAlerter(): Promise<{ alerter: Alerter; metrics: AlerterMetrics }> {
  const metrics = new AlerterMetrics(new Registry());
  const readAccount = await JetStreamEventStore.connect(alerterNc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  const alerter = new Alerter({
    nc: alerterNc,
    bus,
    channels: [new TelegramChannel(config.telegram!), new WebhookChannel(config.webhook!)],
    unconfigured: [],
    ledger: await SentLedger.open(alerterNc, config.bucket),
    accountOf: async (e) => (e.streamId.startsWith('order-') ? ((await readAccount.readStream(e.streamId))[0]?.data as { accountId: string }).accountId : accountOfStreamId(e.streamId)),
    logger,
    metrics,
    retry: { initialBackoffMs: 50, maxBackoffMs: 400 },
  });
  await alerter.start();
  running.push(alerter);
  return { alerter, metrics };
}

async function append(streamId: string, events: DomainEvent[], expected: number | 'no_stream' | 'any' = 'any'): Promise<RecordedEvent[]> {
  await appender.append(streamId, events, expected, { tsEvent: T, correlationId: `alerter-int-${tag}`, causationId: `alerter-int-${tag}` });
  const all = await store.readStream(streamId);
  const added = all.slice(all.length - events.length);
  for (const e of added) if (['TradingPaused', 'ProtectionWarning', 'OrderStatusUnknown', 'DrawdownAlert', 'VenueAlert'].includes(e.type)) alertEvents.push(e);
  return added;
}

beforeAll(async () => {
  admin = await openIsolatedBus(bus, { name: 'alerter-int-harness' });
  await createAlertsSentBucket(admin, ALERTS_SENT_BUCKET);
  store = await JetStreamEventStore.connect(admin, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  appender = new EventAppender(store);
  alerterNc = await connectNats({ user: 'alerter', servers: bus.natsUrl, name: 'alerter-int' });
  const dir = mkdtempSync(path.join(tmpdir(), 'alerter-int-'));
  writeFileSync(path.join(dir, 'token'), TOKEN, { mode: 0o600 });
  writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
  config = alerterConfigFromEnv({
    BULWARK_TELEGRAM_TOKEN_FILE: path.join(dir, 'token'),
    BULWARK_TELEGRAM_CHAT_ID: CHAT,
    BULWARK_TELEGRAM_API_ROOT: await bot.start(),
    BULWARK_WEBHOOK_URL: await hook.start(),
    BULWARK_WEBHOOK_SECRET_FILE: path.join(dir, 'secret'),
  });
});

afterAll(async () => {
  for (const a of running) await a.close();
  await alerterNc?.drain().catch(() => undefined);
  if (admin) {
    await dropIsolatedBus(admin, bus);
    await admin.drain();
  }
  await bot.close();
  await hook.close();
});

/** The event each Telegram message is about: every alert type occurs once in this test, and the text names it. */
const telegramIds = () => bot.messages.map((m) => alertEvents.find((e) => m.text.includes(` ${e.type}: `))?.metadata.eventId ?? `unknown: ${m.text}`);

describe('alerter', () => {
  it('sends exactly one Telegram message and one signed webhook per alert event, and none for other events', async () => {
    await startAlerter();
    const coid = `bw${tag}1A`;
    await append(Streams.account(ACCT), [
      event('MonthOpened', { month: '2025-11', equity: '10000' }),
      event('TradingPaused', { reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-21', month: '2025-11', loss: '312.5', limit: '300' }),
    ], 'no_stream');
    await append(Streams.order(coid), [
      event('OrderInitialized', { clientOrderId: coid, accountId: ACCT, venue: 'binance-usdm', symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '0.012', price: null, timeInForce: null, reduceOnly: false, purpose: 'ENTRY', leverage: 5, sourceStreamId: Streams.account(ACCT), sourceEventId: 'e', triggerPrice: null }),
      event('OrderStatusUnknown', { clientOrderId: coid, detail: `request timed out ${tag}` }),
    ], 'no_stream');
    await append(Streams.stop(`position-${ACCT}-binance-usdm-BTCUSDT-1`), [
      event('ProtectionWarning', { kind: 'LIQUIDATION_DISTANCE', level: '83950', observedPrice: '83924.2', threshold: '0.1' }),
    ], 'any');
    await until('3 Telegram messages and 3 webhooks', () => bot.messages.length >= 3 && hook.delivered.length >= 3);
    await new Promise((r) => setTimeout(r, 2_000)); // nothing more comes
    expect(bot.messages).toHaveLength(3);
    expect(hook.delivered).toHaveLength(3);
    expect(hook.rejected).toEqual([]);
    expect(hook.delivered.map((p) => p.eventId)).toEqual(alertEvents.map((e) => e.metadata.eventId));
    expect(hook.delivered.map((p) => [p.type, p.accountId])).toEqual([
      ['TradingPaused', ACCT],
      ['OrderStatusUnknown', ACCT],
      ['ProtectionWarning', ACCT],
    ]);
    expect(bot.messages.every((m) => m.chat_id === CHAT)).toBe(true);
    expect(bot.messages[0].text).toBe(`⚠️ ${ACCT} TradingPaused: DAILY_LOSS_LIMIT — loss 312.50 USDT ≥ limit 300.00 USDT (2025-11-21); new entries are paused · 2025-11-21 08:00 UTC`);
    // grammy called the stand-in's sendMessage; the token is in the path only, never in a message or a log.
    expect(bot.paths.every((p) => p === `/bot${TOKEN}/sendMessage`)).toBe(true);
    for (const text of [...bot.messages.map((m) => m.text), ...hook.delivered.map((p) => JSON.stringify(p)), ...logs]) {
      expect(text).not.toContain(TOKEN.split(':')[1]);
      expect(text).not.toContain(SECRET);
    }
  });

  it('retries a receiver that fails twice, and delivers once', async () => {
    hook.failures = 2;
    const before = { telegram: bot.messages.length, delivered: hook.delivered.length };
    const [e] = await append(Streams.account(ACCT), [
      event('DrawdownAlert', { month: '2025-11', threshold: '0.5', equity: '9790', monthStartEquity: '10000', drawdown: '210', drawdownFraction: '0.021', limitFraction: '0.04' }),
    ]);
    await until('the webhook delivery', () => hook.delivered.length > before.delivered);
    // The channels send in parallel: the Telegram message is not ordered with the webhook's delivery.
    await until('the Telegram message', () => bot.messages.length > before.telegram);
    await new Promise((r) => setTimeout(r, 2_000)); // nothing more comes
    expect(countBy(hook.attempts)[e.metadata.eventId]).toBe(3);
    expect(hook.delivered.filter((p) => p.eventId === e.metadata.eventId)).toHaveLength(1);
    expect(bot.messages.length - before.telegram).toBe(1);
    expect(logs.filter((l) => l.startsWith('error ALERT NOT DELIVERED YET') && l.includes(e.metadata.eventId))).toHaveLength(2);
  });

  it('after a restart on the same durable and bucket, a redelivered alert is not sent twice on the channel that had sent it', async () => {
    const [first] = running;
    hook.down = true;
    const before = { telegram: bot.messages.length, delivered: hook.delivered.length };
    const [e] = await append(Streams.venue(ACCT, 'binance-usdm'), [event('VenueAlert', { kind: 'RATE_LIMITED', detail: `HTTP 429 ${tag}`, until: null })]);
    // Telegram sent it; the webhook keeps failing, so the event stays unacknowledged.
    await until('the Telegram message and failing webhook tries', () => bot.messages.length > before.telegram && countBy(hook.attempts)[e.metadata.eventId] >= 2);
    await first.close(); // the event is handed back (nak)
    running.shift();
    hook.down = false;
    const { metrics } = await startAlerter();
    await until('the webhook delivery by the new instance', () => hook.delivered.length > before.delivered);
    // Its Telegram channel, in parallel with the webhook's, finds the alert in the ledger.
    const alreadySent = async () => (await metrics.alerts.get()).values.find((v) => v.labels.channel === 'telegram' && v.labels.outcome === 'already_sent');
    await until('the new instance to find the Telegram message already sent', alreadySent);
    await new Promise((r) => setTimeout(r, 2_000)); // nothing more comes
    expect(bot.messages.length - before.telegram).toBe(1);
    expect(hook.delivered.filter((p) => p.eventId === e.metadata.eventId)).toHaveLength(1);
    // The new instance got the event again and the ledger answered for Telegram.
    expect((await alreadySent())?.value).toBe(1);
    // Over the whole run: one message and one delivery per alert event, nothing else.
    expect(Object.values(countBy(telegramIds()))).toEqual(alertEvents.map(() => 1));
    expect(Object.keys(countBy(telegramIds())).sort()).toEqual(alertEvents.map((e2) => e2.metadata.eventId).sort());
    expect(hook.delivered.map((p) => p.eventId)).toEqual(alertEvents.map((e2) => e2.metadata.eventId));
  });
});
