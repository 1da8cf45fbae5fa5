/**
 * End to end through the local Binance venue: its websocket Mark Price Stream
 * (`btcusdt@markPrice@1s`, one update per path step of real BTCUSDT 1m candles of
 * 2025-11-21, shared/data PROVENANCE.md) → `BinanceMarketStream.markPrices` →
 * `publishMarkPrices` on core NATS (Bulwark's server at NATS_URL as the admin harness, an isolated subject prefix) → the
 * stop-monitor service layer (`startLiveMarkWatch`: NATS subscription, watchdog timer, REST
 * fallback `GET /fapi/v1/premiumIndex` against the same local venue) → `StopMonitorService`
 * (in-memory event store).
 *
 * 1. A LONG MARK_PRICE stop triggers on a streamed mark.
 * 2. The stream stops: MARK_PRICE_STALE is recorded, the marks are polled over REST while the
 *    venue's clock moves, and a second LONG stop triggers on a polled mark.
 * 3. The stream is back: MARK_PRICE_RESUMED is recorded.
 * No assertion depends on timing: every wait is "until it happened" with a generous limit.
 */
import { randomBytes } from 'node:crypto';
import { StopMonitorService, publishMarkPrices } from '@bulwark/application';
import { localVenueInputs, startBinanceLocal, type BinanceLocal } from '@bulwark/binance-local';
import { type Candle, type EventData, type RecordedEvent, Streams, event } from '@bulwark/contracts';
import { clientOrderIdFor, dec, floorToStep, initialMargin, protectionGuards, str, validateAccountConfig } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { connectNats, EventAppender } from '@bulwark/messaging';
import { btcusdtRules, DATA_DIR, realBars, until } from '@bulwark/testing';
import { BinanceMarketStream } from '@bulwark/venues';
import { BinanceMarkPriceRest } from '@bulwark/venues/dist/binance/mark-price-rest';
import { Logger } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { type LiveMarkWatch, NatsMarkPriceSubscriber, startLiveMarkWatch } from './mark-prices';

const VENUE = 'binance-usdm';
const SYMBOL = 'BTCUSDT';
const MIN = 60_000;
const START = Date.parse('2025-11-21T07:30:00Z');
const RULES = btcusdtRules();
const PREFIX = `e2emark${randomBytes(4).toString('hex')}`;

let local: BinanceLocal;
let nc: NatsConnection;
let poller: BinanceMarkPriceRest;
let live: LiveMarkWatch | null = null;
const streams: BinanceMarketStream[] = [];
const bars = new Map<number, Candle>();
const log: string[] = [];

const store = new InMemoryEventStore();
const appender = new EventAppender(store);
const stops = new StopMonitorService(appender, store);

/** The waits' options: a minute each, the last log lines with a timeout. */
const waits = { timeoutMs: 60_000, detail: () => log.slice(-20).join('\n') };

/** Arm the LONG stop of a new position (5x, 0.05 BTC) of `accountId` (a MARK_PRICE account) entered at `entry`. */
async function armLong(accountId: string, n: number, entry: string, stop: string): Promise<string> {
  const cfg = validateAccountConfig({ accountId, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 5, venueBalance: '10000' });
  if (!cfg.ok) throw new Error(cfg.error.message);
  expect(cfg.value.workingType).toBe('MARK_PRICE');
  const c = { tsEvent: START, correlationId: 'e2e', causationId: 'e2e' };
  await appender.append(Streams.account(accountId), [event('AccountOpened', cfg.value)], 'no_stream', c);
  const quantity = dec('0.05');
  const positionStreamId = Streams.position(accountId, VENUE, SYMBOL, n);
  const placed: EventData<'StopPlaced'> = {
    positionStreamId, accountId, venue: VENUE, symbol: SYMBOL, positionSide: 'LONG', quantity: str(quantity), stopPrice: stop, takeProfitPrice: null,
    entryClientOrderId: clientOrderIdFor(accountId, n, 'E'), entryPrice: entry,
    guards: protectionGuards({ side: 'LONG', quantity, entryPrice: dec(entry), walletBalance: initialMargin(quantity.mul(entry), 5), brackets: RULES.brackets }),
  };
  const stopStreamId = Streams.stop(positionStreamId);
  await appender.append(stopStreamId, [event('StopPlaced', placed)], 'no_stream', c);
  return stopStreamId;
}

const triggers = async (stopStreamId: string) =>
  (await store.readStream(stopStreamId)).filter((e) => e.type === 'StopTriggered') as Array<RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>>;
const alerts = async (accountId: string) => (await store.readStream(Streams.monitor(accountId))).map((e) => (e.data as EventData<'VenueAlert'>).kind);

/** A mark-price stream of the local venue, published on the isolated subject. */
async function streamMarks(): Promise<BinanceMarketStream> {
  const ms = new BinanceMarketStream({ mode: 'local', restBase: local.url, wsBase: local.wsUrl, timeoutMs: 5_000, backoff: { baseDelayMs: 50, maxDelayMs: 500 }, log: (l) => log.push(l) });
  streams.push(ms);
  void publishMarkPrices(nc, VENUE, SYMBOL, ms.markPrices(SYMBOL), { subject: `${PREFIX}.md.mark.${VENUE}.${SYMBOL}`, log: (l) => log.push(l) });
  await ms.ready(30_000);
  return ms;
}

beforeAll(async () => {
  Logger.overrideLogger(false);
  const inputs = localVenueInputs(DATA_DIR, SYMBOL);
  for (const c of await realBars({ file: inputs.candlesFile!, from: START - MIN, to: START + 10 * MIN })) bars.set(c.openTime, c);
  local = await startBinanceLocal({ ...inputs, startTime: START, accounts: [] });
  nc = await connectNats({ user: 'admin', name: `stop-monitor-${PREFIX}` });
  poller = new BinanceMarkPriceRest({ mode: 'local', restBase: local.url });
}, 60_000);

afterAll(async () => {
  await live?.stop();
  for (const s of streams) await s.close();
  await poller?.close();
  await nc?.close();
  await local?.close();
}, 60_000);

describe('stop-monitor on mark prices through the local Binance venue and NATS', () => {
  it('triggers on streamed marks, alerts and polls when the stream is silent, records its return', async () => {
    // The venue walks the 07:30 bar: its mark is that bar's close.
    local.clock.advance(4);
    const bar = (hhmm: string) => bars.get(Date.parse(`2025-11-21T${hhmm}:00Z`))!;
    const entry = bar('07:30').close;
    const polled = await poller.fetchMarkPrice(SYMBOL);
    expect(dec(polled.price).eq(entry)).toBe(true);
    expect(polled.ts).toBe(local.clock.now());
    // Stop A between the 07:31 close and the 07:32 low (the 07:31 bar stays above it); stop B between the 07:32 low and the 07:33 low.
    const tick = dec(RULES.tickSize);
    const stopA = str(floorToStep(dec(bar('07:31').close).plus(bar('07:32').low).div(2), tick));
    const stopB = str(floorToStep(dec(bar('07:32').low).plus(bar('07:33').low).div(2), tick));
    expect(dec(bar('07:31').low).gt(stopA)).toBe(true);
    expect(dec(bar('07:33').low).lt(stopB)).toBe(true);
    const a = await armLong('e2e-a', 1, entry, stopA);
    const b = await armLong('e2e-b', 1, entry, stopB);
    await stops.onModuleInit();

    await streamMarks();
    live = startLiveMarkWatch({ nc, stops, poller, staleMs: 1_500, tickMs: 100, subjectPrefix: PREFIX, log: (l) => log.push(l) });
    expect(stops.markPricesEnabled).toBe(true);
    await until('the watch to follow BTCUSDT', async () => live!.watch.status().length === 1, waits);
    await nc.flush();

    // 1. Streamed marks: the 07:31 and 07:32 bars, step by step, until stop A triggers.
    for (let i = 0; i < 8 && (await triggers(a)).length === 0; i++) {
      local.clock.advance(1);
      const ts = local.clock.now();
      // Stop B (armed all along) evaluates every mark: wait for this one.
      await until(`the mark of ${ts} to be evaluated`, async () => (stops.lastMarkEvaluated(b)?.ts ?? 0) >= ts, waits);
    }
    const [ta] = await until('stop A to trigger', async () => ((await triggers(a)).length ? triggers(a) : null), waits);
    expect(ta.data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: stopA, level: stopA, attempt: 1 });
    expect(ta.metadata.causationId).toMatch(/^mark-stream-binance-usdm-BTCUSDT-\d+$/);
    expect(ta.metadata.tsEvent).toBeGreaterThanOrEqual(Date.parse('2025-11-21T07:32:00Z'));
    expect(ta.metadata.tsEvent).toBeLessThan(Date.parse('2025-11-21T07:33:00Z'));
    expect(await triggers(b)).toEqual([]);
    // The 07:32 bar to its end (stop B stays above every price of it).
    while (local.clock.now() < Date.parse('2025-11-21T07:32:45Z')) local.clock.advance(1);

    // 2. The stream goes silent: an alert, then REST polls while the venue walks the 07:33 bar.
    for (const s of streams.splice(0)) await s.close();
    await until('MARK_PRICE_STALE for e2e-b', async () => (await alerts('e2e-b')).includes('MARK_PRICE_STALE'), waits);
    for (let i = 0; i < 4 && (await triggers(b)).length === 0; i++) {
      const polls = live.watch.status()[0].polls;
      local.clock.advance(1);
      // Two more polls: the second started after the step, so it read the new mark.
      await until('two more polls', async () => (await triggers(b)).length > 0 || live!.watch.status()[0].polls >= polls + 2, waits);
    }
    const [tb] = await until('stop B to trigger on a polled mark', async () => ((await triggers(b)).length ? triggers(b) : null), waits);
    expect(tb.data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: stopB, level: stopB, attempt: 1 });
    expect(tb.metadata.causationId).toMatch(/^mark-poll-binance-usdm-BTCUSDT-\d+$/);
    expect(tb.metadata.tsEvent).toBeGreaterThanOrEqual(Date.parse('2025-11-21T07:33:00Z'));
    expect(tb.metadata.tsEvent).toBeLessThan(Date.parse('2025-11-21T07:34:00Z'));

    // 3. The stream is back: the next streamed mark ends the episode.
    await streamMarks();
    local.clock.advance(1);
    await until('MARK_PRICE_RESUMED for e2e-b', async () => (await alerts('e2e-b')).at(-1) === 'MARK_PRICE_RESUMED', waits);
    for (const account of ['e2e-a', 'e2e-b']) {
      const kinds = await alerts(account);
      // Every silence (a busy machine may add one during phase 1) was closed by a resume.
      expect(kinds.length).toBeGreaterThanOrEqual(2);
      expect(kinds.filter((k) => k === 'MARK_PRICE_STALE').length).toBe(kinds.filter((k) => k === 'MARK_PRICE_RESUMED').length);
      expect(kinds.every((k, i) => k === (i % 2 === 0 ? 'MARK_PRICE_STALE' : 'MARK_PRICE_RESUMED'))).toBe(true);
    }
  }, 180_000);
});

describe('NatsMarkPriceSubscriber', () => {
  it('hands on valid marks in arrival order and refuses the rest with a reason (not counted as marks)', async () => {
    const refused: string[] = [];
    const got: Array<{ ts: number; price: string }> = [];
    const sub = new NatsMarkPriceSubscriber(nc, { subjectPrefix: `${PREFIX}x`, refuse: (subject, reason) => refused.push(`${subject}: ${reason}`) });
    const subject = sub.subject(VENUE, SYMBOL);
    expect(subject).toBe(`${PREFIX}x.md.mark.binance-usdm.BTCUSDT`);
    const s = sub.subscribe(VENUE, SYMBOL, (m) => got.push(m));
    await nc.flush();
    const closes = [...bars.values()].slice(0, 3).map((c, i) => ({ ts: c.openTime + 59_999, price: c.close, i }));
    nc.publish(subject, JSON.stringify({ ts: closes[0].ts, price: closes[0].price }));
    nc.publish(subject, 'not json');
    nc.publish(subject, JSON.stringify({ ts: closes[1].ts, price: 85201.3 }));
    nc.publish(subject, JSON.stringify({ ts: closes[1].ts, price: '-1' }));
    nc.publish(subject, JSON.stringify({ ts: closes[2].ts, price: closes[2].price }));
    await nc.flush();
    await until('5 messages', async () => got.length + refused.length >= 5, waits);
    s.unsubscribe();
    expect(got).toEqual([{ ts: closes[0].ts, price: closes[0].price }, { ts: closes[2].ts, price: closes[2].price }]);
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatch(/: not JSON: /);
    expect(refused[1]).toMatch(/not a mark price: price Expected string, received number/);
    expect(refused[2]).toMatch(/not a mark price: price expected a decimal string > 0/);
  }, 60_000);
});
