/**
 * BitgetMarketStream (ccxt.pro bitget, unmodified) against the local Bitget venue: the recorded
 * Binance BTCUSDT 1m candles and funding rates (../shared/data) as the venue's prices, the test
 * moving the venue's clock; ticker and candle1m over the public websocket, closed candles,
 * back-fill and settlements over REST. Also the REST mark-price poller.
 */
import type { Candle } from '@bulwark/contracts';
import { readCandles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { bitgetLocalInputs, startBitgetLocal, type BitgetLocal } from '@bulwark/binance-local';
import { until } from '@bulwark/testing';
import { BitgetMarkPriceRest } from './mark-price-rest';
import type { MarketStreamAlert } from '../index';
import { BitgetMarketStream } from './index';

const SYMBOL = 'BTCUSDT';
const MIN = 60_000;
const START = Date.parse('2025-11-21T07:40:00Z');
const SETTLEMENT = Date.parse('2025-11-21T08:00:00Z');

let local: BitgetLocal;
let file: Candle[];
let fundingRate: string;
const logs: string[] = [];
const alerts: MarketStreamAlert[] = [];

beforeAll(async () => {
  const inputs = bitgetLocalInputs(resolveDataDir(), SYMBOL);
  // Bitget's per-IP limits (contracts: 20 requests a second) are tested elsewhere; here a dozen streams
  // load the markets (6 product types each) within a second, which the real limits would refuse.
  local = await startBitgetLocal({ ...inputs, startTime: START, accounts: [], limits: { scale: 100 } });
  file = [];
  for await (const c of readCandles(inputs.candlesFile!)) if (c.openTime >= START - 10 * MIN && c.openTime < START + 60 * MIN) file.push(c);
  fundingRate = (await readFundingRates(inputs.fundingFile!)).find((f) => f.fundingTime === SETTLEMENT)!.rate;
}, 60_000);
afterAll(async () => {
  await local?.close();
});

function stream() {
  return new BitgetMarketStream({
    mode: 'local', restBase: local.url, wsBase: local.wsUrl, timeoutMs: 3_000, backoff: { baseDelayMs: 50, maxDelayMs: 500 },
    log: (l) => (logs.push(l), process.env.VENUE_DEBUG && console.log(l)), onAlert: (a) => alerts.push(a),
  });
}

function collect<T>(it: AsyncIterable<T>) {
  const items: T[] = [];
  const done = (async () => {
    for await (const x of it) items.push(x);
  })();
  return { items, done };
}

const rows = (from: number, count: number) => file.filter((c) => c.openTime >= from && c.openTime < from + count * MIN);
const advance = (candles: number) => local.clock.advance(4 * candles);
/** The next bar the clock walks. */
const nextBar = () => (local.clock.now() === 0 ? START : local.clock.now() + 1);

describe('BitgetMarketStream against the local Bitget venue', () => {
  it('yields exactly the N closed candles the clock walks, equal to the CSV rows, in order; mark prices with the announced funding', async () => {
    advance(1); // the venue has a market time (07:40 walked)
    const from = nextBar();
    expect(from).toBe(START + MIN);
    const ms = stream();
    try {
      const got = collect(ms.candles(SYMBOL, { since: from }));
      const marks = collect(ms.markPrices(SYMBOL));
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      advance(5);
      await until('5 candles and 20 marks', () => got.items.length >= 5 && marks.items.length >= 20);
      await new Promise((r) => setTimeout(r, 100)); // nothing more arrives
      expect(got.items).toEqual(rows(from, 5));
      const m = marks.items;
      expect(m).toHaveLength(20);
      expect(m.map((x) => x.ts)).toEqual([...m.map((x) => x.ts)].sort((a, b) => a - b));
      const first = rows(from, 1)[0];
      expect(m[0]).toEqual({ ts: from, markPrice: first.open, indexPrice: first.open, fundingRate, nextFundingTime: SETTLEMENT });
      expect(m[3]).toMatchObject({ ts: from + MIN - 1, markPrice: first.close });
    } finally {
      await ms.close();
    }
    expect(local.wsConnections('public')).toBe(0);
    expect(alerts).toEqual([]);
  }, 60_000);

  it('back-fills over REST the candles missed during a websocket disconnect, in order, no duplicates, then continues live', async () => {
    const from = nextBar();
    const ms = stream();
    try {
      const got = collect(ms.candles(SYMBOL, { since: from }));
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      advance(1);
      await until('the live candle', () => got.items.length >= 1);
      expect(local.faults.disconnectWs('market')).toBeGreaterThanOrEqual(1);
      advance(3); // pushed while nobody listens
      await until('the 3 back-filled candles', () => got.items.length >= 4);
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      advance(2);
      await until('the 2 live candles after the reconnect', () => got.items.length >= 6);
      await new Promise((r) => setTimeout(r, 100));
      expect(got.items).toEqual(rows(from, 6));
      expect(logs.some((l) => l.includes('kline failed'))).toBe(true);
    } finally {
      await ms.close();
    }
  }, 60_000);

  it('a settlement crossed by the clock is yielded once with the venue\'s rate', async () => {
    const ms = stream();
    try {
      const fundings = collect(ms.fundings(SYMBOL));
      const marks = collect(ms.markPrices(SYMBOL));
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      expect(nextBar()).toBeLessThan(SETTLEMENT);
      advance((SETTLEMENT - nextBar()) / MIN + 2); // across 08:00
      await until('the 08:00 settlement', () => fundings.items.length >= 1);
      advance(1);
      await until('later marks', () => marks.items.some((x) => x.ts >= SETTLEMENT + 2 * MIN));
      await new Promise((r) => setTimeout(r, 100));
      expect(fundings.items).toEqual([{ fundingTime: SETTLEMENT, rate: fundingRate }]);
      expect(marks.items.find((x) => x.ts === SETTLEMENT)!.nextFundingTime).toBe(SETTLEMENT + 8 * 3_600_000);
    } finally {
      await ms.close();
    }
  }, 60_000);

  it('closedCandles: a page of the closed candles of a window over REST; the bar still forming is left out', async () => {
    const from = nextBar();
    advance(3);
    local.clock.advance(1); // the 4th bar has begun
    const ms = stream();
    try {
      const page = await ms.closedCandles(SYMBOL, from, from + 6 * MIN, 1000);
      expect(page.candles).toEqual(rows(from, 3));
      expect(page.next).toBeNull();
      const first = await ms.closedCandles(SYMBOL, from, from + 3 * MIN, 2);
      expect(first.candles).toEqual(rows(from, 2));
      expect(first.next).toBe(from + 2 * MIN);
    } finally {
      await ms.close();
    }
  }, 60_000);

  it('BitgetMarkPriceRest polls the mark (exact string); a venue that is unreachable is REQUEST_FAILED', async () => {
    const rest = new BitgetMarkPriceRest({ mode: 'local', restBase: local.url });
    try {
      const p = await rest.fetchMarkPrice(SYMBOL);
      expect(p.ts).toBe(local.clock.now());
      expect(p.price).toBe(String(local.engine.markPrice(SYMBOL)));
      await expect(rest.fetchMarkPrice('ETHUSDT')).rejects.toMatchObject({ name: 'MarkPriceUnavailableError' });
    } finally {
      await rest.close();
    }
    const down = new BitgetMarkPriceRest({ mode: 'local', restBase: 'http://127.0.0.1:1', timeoutMs: 500 });
    await expect(down.fetchMarkPrice(SYMBOL)).rejects.toMatchObject({ code: 'REQUEST_FAILED' });
    await down.close();
  }, 60_000);

  it('a malformed push is dropped with a logged reason; alerts after repeated failures and close() ends every iterator', async () => {
    const ms = stream();
    try {
      const marks = collect(ms.markPrices(SYMBOL));
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      const tap = (ms as unknown as { tap(m: unknown): void }).tap.bind(ms);
      tap({ action: 'snapshot', arg: { instType: 'USDT-FUTURES', channel: 'ticker', instId: SYMBOL }, data: [{ instId: SYMBOL, markPrice: 'abc', ts: 'x' }], ts: 1 });
      tap({ action: 'snapshot', arg: { instType: 'USDT-FUTURES', channel: 'ticker', instId: SYMBOL }, data: 'nope', ts: 1 });
      expect(marks.items).toEqual([]);
      expect(logs.some((l) => l.includes('ticker without a usable mark price dropped'))).toBe(true);
      expect(logs.some((l) => l.includes('ticker message without data dropped'))).toBe(true);
    } finally {
      await ms.close();
    }
    const a: MarketStreamAlert[] = [];
    const bad = new BitgetMarketStream({ mode: 'local', restBase: local.url, wsBase: 'ws://127.0.0.1:1', timeoutMs: 1_000, alertAfter: 3, backoff: { baseDelayMs: 1, maxDelayMs: 5 }, onAlert: (x) => a.push(x) });
    const got = collect(bad.candles(SYMBOL));
    try {
      await until('an alert', () => a.length >= 1);
      expect(a[0]).toMatchObject({ kind: 'MARKET_DATA_STREAM', symbol: SYMBOL, source: 'kline', failures: 3 });
    } finally {
      await bad.close(); // else its reconnect loop keeps Jest alive after a failure
    }
    await got.done;
    expect(got.items).toEqual([]);
  }, 60_000);
});
