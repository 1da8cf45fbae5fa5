/**
 * Unit tests of the alerter's parts: the text of each alert type, the webhook signature as a
 * receiver verifies it, the token bucket, and configuration errors.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type EventData, type EventType, parseEvent, type RecordedEvent, Streams } from '@bulwark/contracts';
import { recordedEvent } from '@bulwark/testing';
import { alerterConfigFromEnv, AlerterConfigError } from './config';
import { ALERT_TYPES, formatAlert, isAlertType } from './format';
import { type BucketClock, TokenBucket } from './rate-limit';
import { telegramRateOf } from './telegram';
import { signWebhook, verifyWebhook, WEBHOOK_HEADERS } from './webhook';

/** 2025-11-21 08:00 UTC, the BTCUSDT 1m candle closing at 83924.2 (shared/data, 2025-11-10 → 2025-12-10). */
const T = 1763712000000;
const MARK = '83924.2';

function recorded<T extends EventType>(type: T, data: EventData<T>, streamId: string): RecordedEvent {
  const parsed = parseEvent(type, data);
  if (!parsed.ok) throw new Error(parsed.reason);
  return recordedEvent(type, parsed.event.data as EventData<T>, { streamId, revision: 3, position: 42, eventId: `evt-${type}`, tsEvent: T });
}

const position = 'position-acct-1-binance-usdm-BTCUSDT-2';

describe('alert texts', () => {
  const cases: [EventType, RecordedEvent, string][] = [
    [
      'TradingPaused',
      recorded('TradingPaused', { reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-21', month: '2025-11', loss: '312.5', limit: '300' }, Streams.account('acct-1')),
      'acct-1 TradingPaused: DAILY_LOSS_LIMIT — loss 312.50 USDT ≥ limit 300.00 USDT (2025-11-21); new entries are paused',
    ],
    [
      'DrawdownAlert',
      recorded('DrawdownAlert', { month: '2025-11', threshold: '0.5', equity: '9790', monthStartEquity: '10000', drawdown: '210', drawdownFraction: '0.021', limitFraction: '0.04' }, Streams.account('acct-1')),
      'acct-1 DrawdownAlert: monthly drawdown 210.00 USDT (2.1 % of 10000.00 USDT) crossed 50 % of the 4 % limit; equity 9790.00 USDT (2025-11)',
    ],
    [
      'LifetimeDrawdownBreached',
      recorded('LifetimeDrawdownBreached', { peakEquity: '10400', equity: '9360', drawdown: '1040', drawdownFraction: '0.1', limitFraction: '0.1' }, Streams.account('acct-1')),
      'acct-1 LifetimeDrawdownBreached: equity 9360.00 USDT is 10 % below the peak 10400.00 USDT (limit 10 %): trading HALTED and the account flattened; only a resume with a reason restarts it',
    ],
    [
      'DailyTradeLimitReached',
      recorded('DailyTradeLimitReached', { tradingDay: '2025-11-21', count: 50, limit: 50 }, Streams.account('acct-1')),
      'acct-1 DailyTradeLimitReached: 50 of 50 entries used on 2025-11-21; new entries are denied until 00:00 UTC',
    ],
    [
      'ProtectionWarning',
      recorded('ProtectionWarning', { kind: 'LIQUIDATION_DISTANCE', level: '83950', observedPrice: MARK, threshold: '0.1' }, Streams.stop(position)),
      `acct-1 ProtectionWarning: LIQUIDATION_DISTANCE on BTCUSDT position #2 — 10 % of the entry-to-liquidation distance left: mark price ${MARK} crossed the warning level 83950`,
    ],
    [
      'MarginUtilisationChanged',
      recorded('MarginUtilisationChanged', { level: 'HIGH', usedMargin: '905.5', equity: '1000', utilisation: '0.9055', threshold: '0.9' }, Streams.account('acct-1')),
      'acct-1 MarginUtilisationChanged: margin utilisation 90.55 % ≥ 90 % (used margin 905.50 USDT of equity 1000.00 USDT)',
    ],
    [
      'MarginLevelAlert',
      recorded('MarginLevelAlert', { accountId: 'acct-1', symbol: 'BTCUSDT', bar: 'marginCall', threshold: '1.3', direction: 'DOWN', marginLevel: '1.29876', price: MARK }, Streams.margin('acct-1', 'BTCUSDT')),
      `acct-1 MarginLevelAlert: BTCUSDT margin level 1.2988 crossed the marginCall bar 1.3 going DOWN at price ${MARK}`,
    ],
    [
      'ProtectionFailed',
      recorded('ProtectionFailed', { positionStreamId: position, accountId: 'acct-1', venue: 'binance-usdm', symbol: 'BTCUSDT', attempts: 5, lastCode: '-2022', lastMessage: 'ReduceOnly Order is rejected.' }, Streams.stop(position)),
      'acct-1 ProtectionFailed: a triggered stop could not close BTCUSDT (binance-usdm, BTCUSDT position #2) after 5 attempts; last -2022: ReduceOnly Order is rejected.. Retrying goes on: an operator must look',
    ],
    [
      'VenueAlert',
      recorded('VenueAlert', { kind: 'IP_BANNED', detail: 'HTTP 418 from /fapi/v1/order', until: T + 120_000 }, Streams.venue('acct-1', 'binance-usdm')),
      'acct-1 VenueAlert: IP_BANNED — HTTP 418 from /fapi/v1/order (until 2025-11-21 08:02 UTC)',
    ],
    [
      'OrderStatusUnknown',
      recorded('OrderStatusUnknown', { clientOrderId: 'bw1a2b3c-7E', detail: 'request timed out after 10 s' }, Streams.order('bw1a2b3c-7E')),
      'acct-9 OrderStatusUnknown: order bw1a2b3c-7E: outcome unknown until the venue answers for it — request timed out after 10 s',
    ],
  ];

  it('covers every alert type', () => {
    expect(cases.map((c) => c[0]).sort()).toEqual([...ALERT_TYPES].sort());
  });

  it.each(cases)('%s', (type, e, summary) => {
    // The order stream names no account: the caller resolves it (here acct-9), the others parse the stream id.
    const accountId = type === 'OrderStatusUnknown' ? 'acct-9' : 'acct-1';
    const a = formatAlert(e, accountId);
    expect(a.payload).toEqual({ eventId: `evt-${type}`, type, accountId, ts: T, summary, data: e.data });
    expect(a.text).toMatch(/^(⚠️|🛑|🚨|❓|✅) /);
    expect(a.text.endsWith(`${summary} · 2025-11-21 08:00 UTC`)).toBe(true);
  });

  it('refuses an event that is no alert, and tells alert types apart', () => {
    const e = recorded('MonthOpened', { month: '2025-11', equity: '10000' }, Streams.account('acct-1'));
    expect(() => formatAlert(e, 'acct-1')).toThrow('MonthOpened is not an alert type');
    expect(isAlertType('TradingPaused')).toBe(true);
    expect(isAlertType('OrderFilled')).toBe(false);
  });

  it('says so when the account is unknown', () => {
    const e = recorded('VenueAlert', { kind: 'CLOCK_SKEW', detail: 'local clock 1.2 s ahead', until: null }, Streams.venue('acct-1', 'binance-usdm'));
    expect(formatAlert(e, null).payload.summary).toBe('account ? VenueAlert: CLOCK_SKEW — local clock 1.2 s ahead');
  });
});

describe('webhook signature', () => {
  const secret = 'k'.repeat(40);
  const body = JSON.stringify({ eventId: 'e1', type: 'TradingPaused', accountId: 'acct-1', ts: T, summary: 's', data: {} });
  const now = 1_765_000_000_000;
  const ts = Math.floor(now / 1000);
  const headers = (sig: string, t = String(ts)) => ({ [WEBHOOK_HEADERS.timestamp]: t, [WEBHOOK_HEADERS.signature]: sig });

  it('is HMAC-SHA256 over "<timestamp>.<body>", and a receiver with the secret verifies it', () => {
    const sig = signWebhook(secret, ts, body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    // Independently computed, as a receiver in any language would.
    const expected = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
    expect(sig).toBe(`sha256=${expected}`);
    expect(verifyWebhook(secret, headers(sig), body, now)).toEqual({ ok: true });
  });

  it('refuses a changed body, another secret, a missing header, a replayed (old) or future timestamp', () => {
    const sig = signWebhook(secret, ts, body);
    expect(verifyWebhook(secret, headers(sig), body.replace('acct-1', 'acct-2'), now)).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyWebhook('x'.repeat(40), headers(sig), body, now)).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyWebhook(secret, { [WEBHOOK_HEADERS.timestamp]: String(ts) }, body, now)).toEqual({ ok: false, reason: 'MISSING_HEADER' });
    expect(verifyWebhook(secret, headers(sig, 'yesterday'), body, now)).toEqual({ ok: false, reason: 'BAD_TIMESTAMP' });
    expect(verifyWebhook(secret, headers(sig), body, now + 301_000)).toEqual({ ok: false, reason: 'STALE_TIMESTAMP' });
    expect(verifyWebhook(secret, headers(sig), body, now - 301_000)).toEqual({ ok: false, reason: 'STALE_TIMESTAMP' });
    // The timestamp is signed: moving it forward breaks the signature.
    expect(verifyWebhook(secret, headers(sig, String(ts + 10)), body, now)).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
  });
});

describe('TokenBucket', () => {
  function fakeClock(): BucketClock & { t: number; sleeps: number[] } {
    const c = {
      t: 0,
      sleeps: [] as number[],
      now: () => c.t,
      sleep: async (ms: number) => {
        c.sleeps.push(ms);
        c.t += ms;
      },
    };
    return c;
  }

  it('lets a burst of `capacity` through, then one per interval, in the order asked', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(2, 1000, clock);
    const times: [number, number][] = [];
    await Promise.all([0, 1, 2, 3, 4].map((i) => bucket.take().then(() => times.push([i, clock.t]))));
    expect(times).toEqual([
      [0, 0],
      [1, 0],
      [2, 1000],
      [3, 2000],
      [4, 3000],
    ]);
  });

  it('refills while idle, never above capacity', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(3, 500, clock);
    for (let i = 0; i < 3; i++) await bucket.take();
    clock.t += 10_000; // idle long enough for 20 tokens: only 3 are kept
    const start = clock.t;
    for (let i = 0; i < 4; i++) await bucket.take();
    expect(clock.t - start).toBe(500);
  });

  it('refuses a bad capacity or interval', () => {
    expect(() => new TokenBucket(0, 1000)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0)).toThrow(RangeError);
  });

  it('paces Telegram at one a second in a chat and 20 a minute in a group', () => {
    expect(telegramRateOf('123456789')).toEqual({ capacity: 1, intervalMs: 1000 });
    expect(telegramRateOf('-1001234567890')).toEqual({ capacity: 1, intervalMs: 3000 });
    expect(telegramRateOf('@bulwark_alerts')).toEqual({ capacity: 1, intervalMs: 3000 });
  });
});

describe('alerterConfigFromEnv', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'alerter-config-'));
  const token = path.join(dir, 'token');
  const secret = path.join(dir, 'secret');
  const shortSecret = path.join(dir, 'short');
  const empty = path.join(dir, 'empty');
  writeFileSync(token, '123456789:AAE-test_token_for_the_unit_spec_0123\n');
  writeFileSync(secret, 'f'.repeat(64));
  writeFileSync(shortSecret, 'short');
  writeFileSync(empty, '\n');

  const fails = (env: NodeJS.ProcessEnv, field: string, reason: RegExp) => {
    let err: unknown;
    try {
      alerterConfigFromEnv(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AlerterConfigError);
    expect((err as AlerterConfigError).field).toBe(field);
    expect((err as AlerterConfigError).reason).toMatch(reason);
    // Never the secret's content.
    expect((err as Error).message).not.toContain('AAE-test_token');
    expect((err as Error).message).not.toContain('ffff');
  };

  it('runs with no channel configured (alerts are only logged)', () => {
    expect(alerterConfigFromEnv({})).toEqual({ telegram: null, webhook: null, bucket: 'bulwark-alerts-sent' });
    expect(alerterConfigFromEnv({ BULWARK_WEBHOOK_URL: '  ', BULWARK_TELEGRAM_CHAT_ID: '' })).toEqual({ telegram: null, webhook: null, bucket: 'bulwark-alerts-sent' });
  });

  it('reads both channels', () => {
    const c = alerterConfigFromEnv({
      BULWARK_TELEGRAM_TOKEN_FILE: token,
      BULWARK_TELEGRAM_CHAT_ID: '-1001234567890',
      BULWARK_TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/',
      BULWARK_WEBHOOK_URL: 'https://hooks.example.org/bulwark',
      BULWARK_WEBHOOK_SECRET_FILE: secret,
    });
    expect(c.telegram).toEqual({ token: '123456789:AAE-test_token_for_the_unit_spec_0123', chatId: '-1001234567890', apiRoot: 'http://127.0.0.1:8081' });
    expect(c.webhook).toEqual({ url: 'https://hooks.example.org/bulwark', secret: 'f'.repeat(64) });
  });

  it('names the variable and the reason of a bad configuration', () => {
    fails({ BULWARK_TELEGRAM_CHAT_ID: '42' }, 'BULWARK_TELEGRAM_TOKEN_FILE', /required with BULWARK_TELEGRAM_CHAT_ID/);
    fails({ BULWARK_TELEGRAM_TOKEN_FILE: token }, 'BULWARK_TELEGRAM_CHAT_ID', /required/);
    fails({ BULWARK_TELEGRAM_TOKEN_FILE: token, BULWARK_TELEGRAM_CHAT_ID: 'my chat' }, 'BULWARK_TELEGRAM_CHAT_ID', /numeric chat id/);
    fails({ BULWARK_TELEGRAM_TOKEN_FILE: path.join(dir, 'missing'), BULWARK_TELEGRAM_CHAT_ID: '42' }, 'BULWARK_TELEGRAM_TOKEN_FILE', /cannot read .*ENOENT/);
    fails({ BULWARK_TELEGRAM_TOKEN_FILE: empty, BULWARK_TELEGRAM_CHAT_ID: '42' }, 'BULWARK_TELEGRAM_TOKEN_FILE', /is empty/);
    fails({ BULWARK_TELEGRAM_TOKEN_FILE: secret, BULWARK_TELEGRAM_CHAT_ID: '42' }, 'BULWARK_TELEGRAM_TOKEN_FILE', /does not hold a bot token/);
    fails({ BULWARK_TELEGRAM_API_ROOT: 'http://127.0.0.1:8081' }, 'BULWARK_TELEGRAM_API_ROOT', /without BULWARK_TELEGRAM_TOKEN_FILE/);
    fails({ BULWARK_TELEGRAM_TOKEN_FILE: token, BULWARK_TELEGRAM_CHAT_ID: '42', BULWARK_TELEGRAM_API_ROOT: 'ftp://x' }, 'BULWARK_TELEGRAM_API_ROOT', /https/);
    fails({ BULWARK_WEBHOOK_URL: 'https://hooks.example.org/x' }, 'BULWARK_WEBHOOK_SECRET_FILE', /every webhook is signed/);
    fails({ BULWARK_WEBHOOK_SECRET_FILE: secret }, 'BULWARK_WEBHOOK_URL', /required/);
    fails({ BULWARK_WEBHOOK_URL: 'http://hooks.example.org/x', BULWARK_WEBHOOK_SECRET_FILE: secret }, 'BULWARK_WEBHOOK_URL', /plain http only to 127\.0\.0\.1/);
    fails({ BULWARK_WEBHOOK_URL: 'not a url', BULWARK_WEBHOOK_SECRET_FILE: secret }, 'BULWARK_WEBHOOK_URL', /absolute URL/);
    fails({ BULWARK_WEBHOOK_URL: 'http://127.0.0.1:9/x', BULWARK_WEBHOOK_SECRET_FILE: shortSecret }, 'BULWARK_WEBHOOK_SECRET_FILE', /at least 32 characters/);
    fails({ BULWARK_ALERTS_BUCKET: 'a.b' }, 'BULWARK_ALERTS_BUCKET', /bucket name/);
  });
});
