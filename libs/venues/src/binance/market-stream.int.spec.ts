/**
 * BinanceMarketStream (ccxt.pro binanceusdm, unmodified) against the local Binance-compatible
 * venue: real BTCUSDT 1m candles and funding rates from ../shared/data, the test moving the
 * venue's clock; klines and mark prices over the websocket, back-fill over REST.
 */
import type { Candle } from '@bulwark/contracts';
import { readCandles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { localVenueInputs, startBinanceLocal, type BinanceLocal } from '@bulwark/binance-local';
import { until } from '@bulwark/testing';
import { BinanceMarketStream, type MarketStreamAlert } from './index';

const SYMBOL = 'BTCUSDT';
const MIN = 60_000;
const START = Date.parse('2025-11-21T07:40:00Z');
const SETTLEMENT = Date.parse('2025-11-21T08:00:00Z');

let local: BinanceLocal;
let file: Candle[];
let fundingRate: string;
const logs: string[] = [];
const alerts: MarketStreamAlert[] = [];

beforeAll(async () => {
  const inputs = localVenueInputs(resolveDataDir(), SYMBOL);
  local = await startBinanceLocal({ ...inputs, startTime: START, accounts: [] });
  file = [];
  for await (const c of readCandles(inputs.candlesFile!)) if (c.openTime >= START - 10 * MIN && c.openTime < START + 60 * MIN) file.push(c);
  fundingRate = (await readFundingRates(inputs.fundingFile!)).find((f) => f.fundingTime === SETTLEMENT)!.rate;
});
afterAll(async () => {
  await local?.close();
});

function stream() {
  return new BinanceMarketStream({
    mode: 'local', restBase: local.url, wsBase: local.wsUrl, timeoutMs: 3_000, backoff: { baseDelayMs: 50, maxDelayMs: 500 },
    log: (l) => (logs.push(l), process.env.VENUE_DEBUG && console.log(l)), onAlert: (a) => alerts.push(a),
  });
}

/** Read an iterable in the background into `items`. */
function collect<T>(it: AsyncIterable<T>) {
  const items: T[] = [];
  const done = (async () => {
    for await (const x of it) items.push(x);
  })();
  return { items, done };
}

const rows = (from: number, count: number) => file.filter((c) => c.openTime >= from && c.openTime < from + count * MIN);
/** Walk `candles` whole candles of the file (4 path steps each). */
const advance = (candles: number) => local.clock.advance(4 * candles);
/** Walk the clock (before a stream exists) until the bar opening at `t` is the next one; each test stands alone. */
const walkTo = (t: number) => {
  const done = local.clock.now() === 0 ? START : local.clock.now() + 1;
  if (done < t) advance((t - done) / MIN);
  expect(local.clock.now() === 0 ? START : local.clock.now() + 1).toBe(t);
};

describe('BinanceMarketStream against the local venue', () => {
  it('yields exactly the N closed candles the clock walks, equal to the CSV rows, in order', async () => {
    walkTo(START);
    const ms = stream();
    try {
      const got = collect(ms.candles(SYMBOL, { since: START }));
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      advance(5);
      await until('5 candles', () => got.items.length >= 5);
      await new Promise((r) => setTimeout(r, 50)); // nothing more arrives
      expect(got.items).toEqual(rows(START, 5));
      expect(got.items.every((c) => c.interval === '1m')).toBe(true);
    } finally {
      await ms.close();
    }
    expect(local.wsConnections('market')).toBe(0);
  }, 60_000);

  it('back-fills over REST the k candles missed during a websocket disconnect, in order, no duplicates, then continues live', async () => {
    const from = START + 5 * MIN;
    walkTo(from);
    const ms = stream();
    const klines = jest.spyOn(ms.exchange, 'fapiPublicGetKlines');
    try {
      const got = collect(ms.candles(SYMBOL, { since: from }));
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      advance(1); // live
      await until('the live candle', () => got.items.length >= 1);
      const restCallsBefore = klines.mock.calls.length;

      expect(local.faults.disconnectWs('market')).toBeGreaterThanOrEqual(1);
      advance(4); // pushed while nobody listens: lost on the websocket
      await until('the 4 back-filled candles', () => got.items.length >= 5);
      expect(klines.mock.calls.length).toBeGreaterThan(restCallsBefore); // they came over REST
      expect(klines.mock.calls.slice(restCallsBefore).map((c) => (c[0] as { startTime: number }).startTime)).toContain(from + MIN);

      await ms.ready(45_000); // re-subscribed
      expect(local.wsConnections('market')).toBeGreaterThanOrEqual(1);
      advance(2); // live again
      await until('the 2 live candles after the reconnect', () => got.items.length >= 7);
      await new Promise((r) => setTimeout(r, 50));
      expect(got.items).toEqual(rows(from, 7));
      expect(new Set(got.items.map((c) => c.openTime)).size).toBe(7);
      expect(logs.some((l) => l.includes('kline failed'))).toBe(true);
    } finally {
      await ms.close();
    }
  }, 60_000);

  it('streams mark prices and the announced funding rate; a settlement crossed by the clock is yielded once with the file\'s rate', async () => {
    walkTo(START + 12 * MIN);
    const ms = stream();
    try {
      const marks = collect(ms.markPrices(SYMBOL));
      const fundings = collect(ms.fundings(SYMBOL));
      await ms.ready(45_000); // generous: a busy 2-core machine subscribes slowly
      const at = local.clock.now(); // 07:51:59.999
      expect(at).toBe(START + 12 * MIN - 1);
      advance(11); // 07:52 … 08:02, across the 08:00 settlement
      await until('44 mark prices', () => marks.items.length >= 44);
      // (the local venue answers GET /fapi/v1/fundingRate in ~1.5 s: it scans every recorded settlement since 2020)
      await until('the 08:00 settlement', () => fundings.items.length >= 1);
      advance(2); // later steps do not repeat it
      await until('52 mark prices', () => marks.items.length >= 52);
      await new Promise((r) => setTimeout(r, 100));

      const m = marks.items;
      expect(m.map((x) => x.ts)).toEqual([...m.map((x) => x.ts)].sort((a, b) => a - b));
      const first = m[0];
      const c0752 = rows(START + 12 * MIN, 1)[0];
      expect(first).toEqual({ ts: START + 12 * MIN, markPrice: c0752.open, indexPrice: c0752.open, fundingRate, nextFundingTime: SETTLEMENT });
      const close0759 = m.find((x) => x.ts === SETTLEMENT - 1)!;
      expect(close0759.markPrice).toBe(rows(SETTLEMENT - MIN, 1)[0].close);
      const after = m.find((x) => x.ts === SETTLEMENT)!;
      expect(after.nextFundingTime).toBe(SETTLEMENT + 8 * 3_600_000);

      expect(fundings.items).toEqual([{ fundingTime: SETTLEMENT, rate: fundingRate }]);
    } finally {
      await ms.close();
    }
    expect(alerts).toEqual([]);
  }, 60_000);

  it('closedCandles: a page of the closed candles of a window over REST, equal to the CSV rows; the bar still forming is left out', async () => {
    const from = local.clock.now() === 0 ? START : local.clock.now() + 1;
    walkTo(from);
    advance(3);
    local.clock.advance(1); // the 4th bar has begun: the first 3 are closed, the 4th is forming
    const ms = stream();
    try {
      // The window asks for 6 bars; only the 3 the clock closed are served.
      const page = await ms.closedCandles(SYMBOL, from, from + 6 * MIN, 1000);
      expect(page.candles).toEqual(rows(from, 3));
      expect(page.next).toBeNull();
      // A page limit: 2 of the 3, then the rest from `next`.
      const first = await ms.closedCandles(SYMBOL, from, from + 3 * MIN, 2);
      expect(first.candles).toEqual(rows(from, 2));
      expect(first.next).toBe(from + 2 * MIN);
      expect((await ms.closedCandles(SYMBOL, first.next!, from + 3 * MIN, 2)).candles).toEqual(rows(from + 2 * MIN, 1));
    } finally {
      await ms.close();
    }
  }, 60_000);

  it('alerts after repeated failures and close() ends every iterator', async () => {
    const a: MarketStreamAlert[] = [];
    const ms = new BinanceMarketStream({ mode: 'local', restBase: local.url, wsBase: 'ws://127.0.0.1:1', timeoutMs: 1_000, alertAfter: 3, backoff: { baseDelayMs: 1, maxDelayMs: 5 }, onAlert: (x) => a.push(x) });
    const got = collect(ms.candles(SYMBOL));
    await until('an alert', () => a.length >= 1);
    expect(a[0]).toMatchObject({ kind: 'MARKET_DATA_STREAM', symbol: SYMBOL, source: 'kline', failures: 3 });
    await ms.close();
    await got.done;
    expect(got.items).toEqual([]);
  }, 60_000);
});
