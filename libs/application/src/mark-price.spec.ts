/**
 * Stop-monitor on mark prices (live venues): the mark-driven evaluation of stops and the
 * mark-price watchdog, with a fake publisher (in-memory subscriber), a fake REST poller and an
 * injected clock; the event store is in memory.
 *
 * Prices: Binance USDⓈ-M BTCUSDT (shared/data, PROVENANCE.md). The shared data holds no
 * per-second mark prices (only 8-hour mark-price klines), so the mark sequence is the real
 * 1-minute closes of 2025-11-21 07:20–07:44 UTC (the sell-off: 85,304.7 → 83,224.3 in four
 * minutes), each mark stamped with its bar's close time.
 */
import { type EventData, type MarketTick, type RecordedEvent, Streams, event } from '@bulwark/contracts';
import { clientOrderIdFor, dec, floorToStep, initialMargin, protectionGuards, str, validateAccountConfig } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { EventAppender } from '@bulwark/messaging';
import { btcusdtRules, realBars } from '@bulwark/testing';
import { Logger } from '@nestjs/common';
import { KeyedSerial } from './keyed-serial';
import { type MarkPriceMessage, liveVenueFromEnv, markWatchSettingsFromEnv } from './mark-price';
import { type MarkPricePoller, type MarkPriceSubscriber, MarkPriceWatch } from './mark-watch';
import { StopMonitorService } from './stop-monitor.service';

const VENUE = 'binance-usdm';
const SYMBOL = 'BTCUSDT';
const FROM = Date.parse('2025-11-21T07:20:00Z');
const TO = Date.parse('2025-11-21T07:45:00Z');
const RULES = btcusdtRules();
const TICK = dec(RULES.tickSize);

/** One mark per real bar: its close, at its close time. */
let MARKS: MarkPriceMessage[];
beforeAll(async () => {
  MARKS = (await realBars({ from: FROM, to: TO })).map((c) => ({ ts: c.openTime + 59_999, price: c.close }));
  expect(MARKS).toHaveLength(25);
  Logger.overrideLogger(false);
});
const markAt = (hhmm: string) => MARKS.find((m) => m.ts === Date.parse(`2025-11-21T${hhmm}:59.999Z`))!;
const indexOf = (m: MarkPriceMessage) => MARKS.indexOf(m);

interface Armed {
  stopStreamId: string;
  stopPrice: string;
  entry: MarkPriceMessage;
}

class Harness {
  readonly store = new InMemoryEventStore();
  readonly appender = new EventAppender(this.store, () => 1);
  readonly stops = new StopMonitorService(this.appender, this.store);
  private positions = 0;

  /** Open an account (once) and arm the stop of a position entered at `entry`'s price, `stopFraction` away (adverse), 5x. */
  async arm(accountId: string, workingType: 'MARK_PRICE' | 'CONTRACT_PRICE', side: 'LONG' | 'SHORT', entry: MarkPriceMessage, stopFraction: string): Promise<Armed> {
    if ((await this.store.readStream(Streams.account(accountId))).length === 0) {
      const cfg = validateAccountConfig({ accountId, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 5, venueBalance: '10000', workingType });
      if (!cfg.ok) throw new Error(cfg.error.message);
      await this.appender.append(Streams.account(accountId), [event('AccountOpened', cfg.value)], 'any', { tsEvent: entry.ts, correlationId: 'open', causationId: 'open' });
    }
    const n = ++this.positions;
    const entryPrice = dec(entry.price);
    const away = entryPrice.mul(stopFraction);
    const stop = side === 'LONG' ? floorToStep(entryPrice.minus(away), TICK) : floorToStep(entryPrice.plus(away), TICK);
    const quantity = dec('0.05');
    const positionStreamId = Streams.position(accountId, VENUE, SYMBOL, n);
    const placed: EventData<'StopPlaced'> = {
      positionStreamId, accountId, venue: VENUE, symbol: SYMBOL, positionSide: side, quantity: str(quantity), stopPrice: str(stop), takeProfitPrice: null,
      entryClientOrderId: clientOrderIdFor(accountId, n, 'E'), entryPrice: entry.price,
      guards: protectionGuards({ side, quantity, entryPrice, walletBalance: initialMargin(quantity.mul(entryPrice), 5), brackets: RULES.brackets }),
    };
    const stopStreamId = Streams.stop(positionStreamId);
    await this.appender.append(stopStreamId, [event('StopPlaced', placed)], 'no_stream', { tsEvent: entry.ts, correlationId: 'entry', causationId: 'entry' });
    return { stopStreamId, stopPrice: str(stop), entry };
  }

  /** Start as the service does: the watched stops are rebuilt from the log. */
  async start(markPrices: boolean): Promise<this> {
    await this.stops.onModuleInit();
    if (markPrices) this.stops.enableMarkPrices();
    return this;
  }

  async events(streamId: string): Promise<RecordedEvent[]> {
    return this.store.readStream(streamId);
  }

  async triggers(streamId: string): Promise<Array<RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>>> {
    return (await this.events(streamId)).filter((e) => e.type === 'StopTriggered') as Array<RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>>;
  }

  async alerts(accountId: string): Promise<Array<EventData<'VenueAlert'>>> {
    return (await this.events(Streams.monitor(accountId))).map((e) => e.data as EventData<'VenueAlert'>);
  }
}

/** The fake publisher: every subscriber of a symbol gets each published mark, synchronously, in order. */
class FakeMarkBus implements MarkPriceSubscriber {
  readonly subscribers = new Map<string, Set<(m: MarkPriceMessage) => void>>();
  subscribe(venue: string, symbol: string, onMark: (m: MarkPriceMessage) => void) {
    const key = `${venue}:${symbol}`;
    const set = this.subscribers.get(key) ?? new Set();
    set.add(onMark);
    this.subscribers.set(key, set);
    return { unsubscribe: () => set.delete(onMark) };
  }
  publish(m: MarkPriceMessage, symbol = SYMBOL): void {
    for (const f of this.subscribers.get(`${VENUE}:${symbol}`) ?? []) f(m);
  }
  count(symbol = SYMBOL): number {
    return this.subscribers.get(`${VENUE}:${symbol}`)?.size ?? 0;
  }
}

/** The fake REST poller: answers the marks it is given, in order (then the last one again); or fails while `failing`. */
class FakePoller implements MarkPricePoller {
  calls = 0;
  failing = false;
  constructor(private readonly answers: MarkPriceMessage[]) {}
  async fetchMarkPrice(symbol: string): Promise<MarkPriceMessage> {
    this.calls++;
    if (this.failing) throw new Error(`mark price of ${symbol} unavailable (REQUEST_FAILED): ECONNRESET`);
    return this.answers.length > 1 ? this.answers.shift()! : this.answers[0];
  }
}

describe('mark-driven stop evaluation (stop-monitor on a live venue)', () => {
  it('a LONG MARK_PRICE stop triggers on the first mark at or below it, at the stop level (continuous step from the previous mark)', async () => {
    const h = new Harness();
    // Entry at the 07:29 close (85,175.9); stop 1 % below, on the tick.
    const a = await h.arm('acc-mark', 'MARK_PRICE', 'LONG', markAt('07:29'), '0.01');
    await h.start(true);
    const after = MARKS.slice(indexOf(a.entry) + 1);
    const crossing = after.findIndex((m) => dec(m.price).lte(a.stopPrice));
    expect(crossing).toBeGreaterThan(0); // the data: the marks before it stay above the stop
    const results = [];
    for (const m of after) results.push(await h.stops.onMark(VENUE, SYMBOL, m));
    expect(results.every((r) => r.evaluated === 1 && r.skipped === 0)).toBe(true);
    const t = await h.triggers(a.stopStreamId);
    expect(t).toHaveLength(1);
    expect(t[0].data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: a.stopPrice, level: a.stopPrice, side: 'SELL', quantity: '0.05', attempt: 1 });
    expect(t[0].metadata.tsEvent).toBe(after[crossing].ts);
    expect(t[0].metadata.causationId).toBe(`mark-stream-${VENUE}-${SYMBOL}-${after[crossing].ts}`);
  });

  it('the first mark after start is a point step: a stop already crossed triggers at that mark, not at its level', async () => {
    const h = new Harness();
    // A SHORT entered at the 07:33 close with its stop 0.1 % above: the next mark (07:34, 83,342.7) is already beyond it.
    const a = await h.arm('acc-gap', 'MARK_PRICE', 'SHORT', markAt('07:33'), '0.001');
    await h.start(true);
    const first = markAt('07:34');
    expect(dec(first.price).gt(a.stopPrice)).toBe(true);
    await h.stops.onMark(VENUE, SYMBOL, first);
    const t = await h.triggers(a.stopStreamId);
    expect(t.map((e) => e.data.triggerPrice)).toEqual([first.price]);
    expect(t[0].data.side).toBe('BUY');
  });

  it('a stale update (older than the last mark evaluated) and a duplicate are skipped: an old mark beyond the stop does not trigger it', async () => {
    const h = new Harness();
    // SHORT at the 07:34 close (83,342.7) after the fall; stop 1 % above. The marks before the entry were above the stop.
    const a = await h.arm('acc-stale', 'MARK_PRICE', 'SHORT', markAt('07:34'), '0.01');
    await h.start(true);
    const older = MARKS.slice(0, indexOf(a.entry)).filter((m) => dec(m.price).gt(a.stopPrice));
    expect(older.length).toBeGreaterThan(0);
    const after = MARKS.slice(indexOf(a.entry) + 1);
    const crossing = after.findIndex((m) => dec(m.price).gte(a.stopPrice));
    expect(crossing).toBeGreaterThan(1);
    const r = [];
    r.push(await h.stops.onMark(VENUE, SYMBOL, after[0]));
    r.push(await h.stops.onMark(VENUE, SYMBOL, older[0])); // a late, old message
    r.push(await h.stops.onMark(VENUE, SYMBOL, after[0])); // the same mark again
    expect(r.map((x) => [x.evaluated, x.skipped])).toEqual([[1, 0], [0, 1], [0, 1]]);
    expect(await h.triggers(a.stopStreamId)).toEqual([]);
    for (const m of after.slice(1)) await h.stops.onMark(VENUE, SYMBOL, m);
    const t = await h.triggers(a.stopStreamId);
    expect(t.map((e) => [e.data.triggerPrice, e.metadata.tsEvent])).toEqual([[a.stopPrice, after[crossing].ts]]);
  });

  it('marks handed over all at once are evaluated one at a time, in order: the same events as one by one', async () => {
    const run = async (together: boolean) => {
      const h = new Harness();
      const long = await h.arm('acc-order', 'MARK_PRICE', 'LONG', markAt('07:29'), '0.01');
      const short = await h.arm('acc-order', 'MARK_PRICE', 'SHORT', markAt('07:34'), '0.005');
      await h.start(true);
      const marks = MARKS.slice(indexOf(long.entry) + 1);
      if (together) await Promise.all(marks.map((m) => h.stops.onMark(VENUE, SYMBOL, m)));
      else for (const m of marks) await h.stops.onMark(VENUE, SYMBOL, m);
      const view = async (s: string) => (await h.events(s)).map((e) => [e.type, e.data, e.metadata.tsEvent]);
      return [await view(long.stopStreamId), await view(short.stopStreamId)];
    };
    const [seq, together] = [await run(false), await run(true)];
    expect(seq[0].some(([type]) => type === 'StopTriggered')).toBe(true);
    expect(seq[1].some(([type]) => type === 'StopTriggered')).toBe(true);
    expect(together).toEqual(seq);
  });

  it('CONTRACT_PRICE accounts stay on the candle path; MARK_PRICE ones leave it only on a live venue', async () => {
    const h = new Harness();
    const markStop = await h.arm('acc-m', 'MARK_PRICE', 'LONG', markAt('07:29'), '0.01');
    const contractStop = await h.arm('acc-c', 'CONTRACT_PRICE', 'LONG', markAt('07:29'), '0.01');
    await h.start(true);
    expect((await h.stops.markWatched()).map((s) => s.stopStreamId)).toEqual([markStop.stopStreamId]);
    // Marks: only the MARK_PRICE stop evaluates them.
    for (const m of MARKS.slice(indexOf(markStop.entry) + 1)) expect(await h.stops.onMark(VENUE, SYMBOL, m)).toEqual({ evaluated: 1, skipped: 0 });
    expect(await h.triggers(markStop.stopStreamId)).toHaveLength(1);
    expect(await h.triggers(contractStop.stopStreamId)).toEqual([]);
    // The candle path step from the 07:31 close to the 07:32 low: only the CONTRACT_PRICE stop evaluates it.
    const tick: MarketTick = {
      runId: 'live-btcusdt', venue: VENUE, symbol: SYMBOL, seq: 1, ts: Date.parse('2025-11-21T07:32:30Z'), candleOpenTime: Date.parse('2025-11-21T07:32:00Z'),
      pathIndex: 1, from: '85130', to: '84287.6', gap: false, candle: null, funding: null,
    };
    await h.stops.onTick(tick);
    const c = await h.triggers(contractStop.stopStreamId);
    expect(c.map((e) => [e.data.triggerPrice, e.metadata.tsEvent])).toEqual([[contractStop.stopPrice, tick.ts]]);
    expect(await h.triggers(markStop.stopStreamId)).toHaveLength(1);
  });

  it('in a replay (mark prices not enabled) every account stays on the candle path and marks do nothing', async () => {
    const h = new Harness();
    const a = await h.arm('acc-replay', 'MARK_PRICE', 'LONG', markAt('07:29'), '0.01');
    await h.start(false);
    expect(await h.stops.markWatched()).toEqual([]);
    for (const m of MARKS) expect(await h.stops.onMark(VENUE, SYMBOL, m)).toEqual({ evaluated: 0, skipped: 0 });
    expect(await h.triggers(a.stopStreamId)).toEqual([]);
    await h.stops.onTick({ runId: 'r', venue: VENUE, symbol: SYMBOL, seq: 0, ts: Date.parse('2025-11-21T07:32:30Z'), candleOpenTime: Date.parse('2025-11-21T07:32:00Z'), pathIndex: 1, from: '85130', to: '84287.6', gap: false, candle: null, funding: null });
    expect(await h.triggers(a.stopStreamId)).toHaveLength(1);
  });

  it('a triggered stop whose close failed sends it again on the first mark at or after its retry time', async () => {
    const h = new Harness();
    const a = await h.arm('acc-retry', 'MARK_PRICE', 'LONG', markAt('07:29'), '0.01');
    await h.start(true);
    const after = MARKS.slice(indexOf(a.entry) + 1);
    const crossing = after.findIndex((m) => dec(m.price).lte(a.stopPrice));
    for (const m of after.slice(0, crossing + 1)) await h.stops.onMark(VENUE, SYMBOL, m);
    const [first] = await h.triggers(a.stopStreamId);
    // Execution's close is rejected (the order stream as execution writes it).
    const close = first.data.closeClientOrderId;
    const rejectedAt = after[crossing].ts + 100;
    const orderStream = Streams.order(close);
    const initialized = event('OrderInitialized', {
      clientOrderId: close, accountId: 'acc-retry', venue: VENUE, symbol: SYMBOL, side: 'SELL', type: 'MARKET', quantity: first.data.quantity, price: null, timeInForce: null,
      reduceOnly: true, purpose: 'STOP_LOSS', leverage: null, sourceStreamId: a.stopStreamId, sourceEventId: first.metadata.eventId, triggerPrice: first.data.triggerPrice,
    });
    const rejection = event('OrderRejected', { clientOrderId: close, code: '-2022', message: 'ReduceOnly Order is rejected.' });
    await h.appender.append(orderStream, [initialized, rejection], 'no_stream', { tsEvent: rejectedAt, correlationId: 'c', causationId: 'c' });
    const [, rejected] = await h.events(orderStream);
    await h.stops.onEvent(rejected);
    const closeRejected = (await h.events(a.stopStreamId)).find((e) => e.type === 'CloseRejected')!.data as EventData<'CloseRejected'>;
    expect(closeRejected.retryAt).toBe(rejectedAt + 1000);
    // A mark before the retry time does nothing; the next one at or after it sends attempt 2 at its step's start.
    await h.stops.onMark(VENUE, SYMBOL, { ts: closeRejected.retryAt - 1, price: after[crossing].price });
    expect(await h.triggers(a.stopStreamId)).toHaveLength(1);
    const next = after[crossing + 1];
    await h.stops.onMark(VENUE, SYMBOL, next);
    const t = await h.triggers(a.stopStreamId);
    expect(t.map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(t[1].data.triggerPrice).toBe(after[crossing].price);
    expect(t[1].metadata.tsEvent).toBe(next.ts);
  });
});

describe('mark-price watchdog (injected clock)', () => {
  const T0 = Date.parse('2025-11-21T07:30:00Z');

  async function setup(poller: FakePoller) {
    const h = new Harness();
    const a = await h.arm('acc-watch', 'MARK_PRICE', 'LONG', markAt('07:29'), '0.01');
    await h.start(true);
    const bus = new FakeMarkBus();
    let now = T0;
    const log: string[] = [];
    const watch = new MarkPriceWatch(h.stops, bus, poller, { staleMs: 5_000, now: () => now, log: (l) => log.push(l) });
    return { h, a, bus, watch, log, at: (t: number) => (now = t) };
  }

  it('5 s without a mark → one MARK_PRICE_STALE alert, a poll every tick (stops evaluated on the polled marks) until the stream is back, then one MARK_PRICE_RESUMED', async () => {
    const after = MARKS.slice(indexOf(markAt('07:29')) + 1);
    // The REST answers: the marks of 07:31 onwards (07:33's close crosses the stop).
    const poller = new FakePoller(after.slice(1));
    const { h, a, bus, watch, at } = await setup(poller);
    await watch.tick();
    expect(bus.count()).toBe(1);
    at(T0 + 1_000);
    bus.publish(after[0]);
    await watch.settled();
    // 4.999 s of silence: nothing yet.
    at(T0 + 1_000 + 4_999);
    await watch.tick();
    expect(await h.alerts('acc-watch')).toEqual([]);
    expect(poller.calls).toBe(0);
    // 5 s: stale.
    at(T0 + 6_000);
    await watch.tick();
    const stale = await h.alerts('acc-watch');
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ kind: 'MARK_PRICE_STALE', until: null });
    expect(stale[0].detail).toContain('no mark price of BTCUSDT (binance-usdm) for 5.0 s');
    expect(poller.calls).toBe(1);
    // Polls go on every tick, still one alert; the polled 07:33 close triggers the stop.
    for (let i = 1; i <= 3; i++) {
      at(T0 + 6_000 + i * 1_000);
      await watch.tick();
    }
    expect(poller.calls).toBe(4);
    expect(await h.alerts('acc-watch')).toHaveLength(1);
    const t = await h.triggers(a.stopStreamId);
    expect(t).toHaveLength(1);
    expect(t[0].metadata.causationId).toBe(`mark-poll-${VENUE}-${SYMBOL}-${t[0].metadata.tsEvent}`);
    expect(t[0].data.triggerPrice).toBe(a.stopPrice);
    expect(watch.status()).toEqual([{ venue: VENUE, symbol: SYMBOL, stale: true, polls: 4 }]);
    // The stream is back: one resume record; polling stops.
    at(T0 + 10_500);
    bus.publish(after[4]);
    await watch.settled();
    for (let i = 1; i <= 3; i++) {
      at(T0 + 10_500 + i * 1_000);
      await watch.tick();
    }
    expect(poller.calls).toBe(4);
    const all = await h.alerts('acc-watch');
    expect(all.map((x) => x.kind)).toEqual(['MARK_PRICE_STALE', 'MARK_PRICE_RESUMED']);
    expect(all[1].detail).toBe('mark price stream of BTCUSDT (binance-usdm) back after 9.5 s without it; 4 marks polled over REST meanwhile (0 polls failed)');
    // Both records share the episode's correlation id, on the account's monitor stream.
    const meta = (await h.events(Streams.monitor('acc-watch'))).map((e) => e.metadata.correlationId);
    expect(new Set(meta).size).toBe(1);
  });

  it('a new silence after a resume is a new episode (a second alert); a poll that fails is logged and tried again on the next tick', async () => {
    const poller = new FakePoller([markAt('07:30')]);
    const { h, bus, watch, log, at } = await setup(poller);
    await watch.tick();
    at(T0 + 5_000);
    poller.failing = true;
    await watch.tick();
    await watch.tick();
    expect(poller.calls).toBe(2);
    expect(log.some((l) => l.includes('could not be polled (1 failures)'))).toBe(true);
    bus.publish(markAt('07:30'));
    await watch.settled();
    at(T0 + 10_000);
    await watch.tick();
    expect((await h.alerts('acc-watch')).map((x) => x.kind)).toEqual(['MARK_PRICE_STALE', 'MARK_PRICE_RESUMED', 'MARK_PRICE_STALE']);
    expect((await h.alerts('acc-watch'))[1].detail).toContain('0 marks polled over REST meanwhile (2 polls failed)');
  });

  it('no mark-price stop armed (or only CONTRACT_PRICE ones): no subscription, no alert, no poll', async () => {
    const h = new Harness();
    await h.arm('acc-contract', 'CONTRACT_PRICE', 'LONG', markAt('07:29'), '0.01');
    await h.start(true);
    const bus = new FakeMarkBus();
    const poller = new FakePoller([markAt('07:30')]);
    let now = T0;
    const watch = new MarkPriceWatch(h.stops, bus, poller, { staleMs: 5_000, now: () => now });
    for (let i = 0; i < 20; i++) {
      now = T0 + i * 1_000;
      await watch.tick();
    }
    expect(bus.count()).toBe(0);
    expect(poller.calls).toBe(0);
    expect(await h.alerts('acc-contract')).toEqual([]);
  });

  it('a stop that goes away ends the following of its symbol (unsubscribed, polling stops)', async () => {
    const poller = new FakePoller([markAt('07:30')]);
    const { h, a, bus, watch, at } = await setup(poller);
    await watch.tick();
    at(T0 + 5_000);
    await watch.tick();
    expect(poller.calls).toBe(1);
    // The position closes: stop-monitor cancels the stop.
    const positionStreamId = a.stopStreamId.slice('stop-'.length);
    // Closed at the 07:30 close by hand (VIP 0 taker fee 0.05 %).
    const exit = dec(markAt('07:30').price);
    const pnl = exit.minus(a.entry.price).mul('0.05');
    const fee = exit.mul('0.05').mul('0.0005');
    const closed = event('PositionClosed', {
      accountId: 'acc-watch', quantity: '0.05', price: str(exit), realisedPnl: str(pnl), fee: str(fee), totalRealisedPnl: str(pnl), totalFees: str(fee), totalFunding: '0',
      netPnl: str(pnl.minus(fee)), clientOrderId: clientOrderIdFor('acc-watch', '1x1', 'C'), tradeId: '1', purpose: 'CLOSE',
    });
    await h.appender.append(positionStreamId, [closed], 'any', { tsEvent: T0 + 5_500, correlationId: 'c', causationId: 'c' });
    await h.stops.onEvent((await h.events(positionStreamId))[0]);
    at(T0 + 6_000);
    await watch.tick();
    expect(bus.count()).toBe(0);
    expect(watch.status()).toEqual([]);
    expect(poller.calls).toBe(1);
  });
});

describe('settings and helpers', () => {
  it('mark-price mode only on binance-demo / binance-live; BULWARK_MARK_STALE_SECONDS checked', () => {
    expect(markWatchSettingsFromEnv({})).toBeNull();
    expect(markWatchSettingsFromEnv({ BULWARK_VENUE: 'paper' })).toBeNull();
    expect(markWatchSettingsFromEnv({ BULWARK_VENUE: 'binance-local' })).toBeNull();
    expect(markWatchSettingsFromEnv({ BULWARK_VENUE: 'binance-demo' })).toEqual({ venue: 'binance-demo', mode: 'demo', staleMs: 5_000 });
    expect(markWatchSettingsFromEnv({ BULWARK_VENUE: 'binance-live', BULWARK_MARK_STALE_SECONDS: '2.5' })).toEqual({ venue: 'binance-live', mode: 'live', staleMs: 2_500 });
    for (const bad of ['0', '-1', 'five', '3601']) expect(() => markWatchSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_MARK_STALE_SECONDS: bad })).toThrow(/BULWARK_MARK_STALE_SECONDS/);
    expect(() => markWatchSettingsFromEnv({ BULWARK_VENUE: 'binance' })).toThrow(/BULWARK_VENUE must be one of/);
    expect([liveVenueFromEnv({}), liveVenueFromEnv({ BULWARK_VENUE: 'binance-local' }), liveVenueFromEnv({ BULWARK_VENUE: 'binance-demo' })]).toEqual([false, false, true]);
  });

  it('bitget-demo / bitget-live select the mark-price mode with the same stale limit; bitget-local stays on the candle path', () => {
    expect(markWatchSettingsFromEnv({ BULWARK_VENUE: 'bitget-local' })).toBeNull();
    expect(markWatchSettingsFromEnv({ BULWARK_VENUE: 'bitget-demo' })).toEqual({ venue: 'bitget-demo', mode: 'demo', staleMs: 5_000 });
    expect(markWatchSettingsFromEnv({ BULWARK_VENUE: 'bitget-live', BULWARK_MARK_STALE_SECONDS: '2.5' })).toEqual({ venue: 'bitget-live', mode: 'live', staleMs: 2_500 });
    expect(() => markWatchSettingsFromEnv({ BULWARK_VENUE: 'bitget-demo', BULWARK_MARK_STALE_SECONDS: '0' })).toThrow(/BULWARK_MARK_STALE_SECONDS/);
    expect([liveVenueFromEnv({ BULWARK_VENUE: 'bitget-local' }), liveVenueFromEnv({ BULWARK_VENUE: 'bitget-demo' }), liveVenueFromEnv({ BULWARK_VENUE: 'bitget-live' })]).toEqual([false, true, true]);
  });

  it('KeyedSerial runs one key in call order and other keys alongside; a failure fails only its task', async () => {
    const q = new KeyedSerial();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = q.run('a', async () => {
      await gate;
      order.push('a1');
    });
    const a2 = q.run('a', async () => {
      order.push('a2');
      throw new Error('a2 fails');
    });
    const a3 = q.run('a', async () => order.push('a3'));
    const b1 = q.run('b', async () => order.push('b1'));
    await b1;
    expect(order).toEqual(['b1']);
    release();
    await a1;
    await expect(a2).rejects.toThrow('a2 fails');
    await a3;
    expect(order).toEqual(['b1', 'a1', 'a2', 'a3']);
    await Promise.resolve();
    expect(q.busy).toBe(0);
  });
});
