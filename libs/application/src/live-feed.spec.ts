import type { Candle, EventData, MarketTick } from '@bulwark/contracts';
import { Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { instrumentFiles, readCandles, readFundingRates, resolveDataDir, type FundingRate } from '@bulwark/market-data';
import { DEFAULT_DONCHIAN_ATR } from '@bulwark/strategies';
import { InProcessSystem } from './in-process';
import { EventAppender } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import { LogCandleJournal } from './candle-journal';
import { BinanceMarketStream, BitgetMarketStream } from '@bulwark/venues';
import { DEFAULT_LIVE_BACKFILL_MS, DEFAULT_LIVE_MAX_LAG_MS, LIVE_INTERVAL_MS, LiveMarketData, liveFeedSettingsFromEnv, liveMarketFor, runLiveFeed, type LiveMarket } from './live-feed';
import { comparableLog } from './log-compare';
import { replayCandles } from './replay';
import { VenueConfigError } from './venue-config';

const files = instrumentFiles(resolveDataDir());
const VENUE = 'binance-usdm' as const;
const SYMBOL = 'BTCUSDT';
const FROM = Date.parse('2025-11-20T06:00:00Z'); // 200 candles: 06:00 → 09:19, a long opened at 07:57 pays the 08:00 settlement
const TO = FROM + 200 * LIVE_INTERVAL_MS;
const ACC = 'live-feed-spec';

let candles: Candle[];
let funding: FundingRate[];

beforeAll(async () => {
  candles = [];
  for await (const c of readCandles(files.defaultCandles)) if (c.openTime >= FROM - LIVE_INTERVAL_MS && c.openTime < TO) candles.push(c);
  funding = await readFundingRates(files.fundingRates);
});

/** An async source that hands the values over one at a time, as a live stream would. */
async function* live<T>(values: T[]): AsyncGenerator<T> {
  for (const v of values) {
    await new Promise((r) => setImmediate(r));
    yield v;
  }
}

async function system(): Promise<InProcessSystem> {
  const sys = await InProcessSystem.create();
  await sys.command(Subjects.openAccount, {
    accountId: ACC, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 10, riskFraction: dec('1').div(100).toFixed(), highLeverageConfirmed: true, venueBalance: '10000', at: FROM,
  });
  await sys.command(Subjects.attachStrategy, { accountId: ACC, venue: VENUE, symbol: SYMBOL, strategy: 'donchian-atr', params: { ...DEFAULT_DONCHIAN_ATR, channel: 10 }, at: FROM });
  return sys;
}


describe('runLiveFeed', () => {
  it('drives the services with live candles exactly as replayCandles does from the file (same events, stream by stream)', async () => {
    const fromFile = await system();
    const a = await replayCandles(fromFile.clock(), { runId: 'run-1', venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: FROM, to: TO, schedule: [] }, funding);

    const fromLive = await system();
    const seen: Candle[] = [];
    const feed = runLiveFeed(
      fromLive.clock(),
      { runId: 'run-1', venue: VENUE, symbol: SYMBOL, from: FROM },
      { candles: live(candles), fundings: live(funding.filter((f) => f.fundingTime >= FROM && f.fundingTime < TO)) },
      { onCandle: (c) => void seen.push(c) },
    );
    const b = await feed.done; // the source ends after the last candle

    expect(b).toEqual(a);
    expect(a).toMatchObject({ candles: 200, steps: 800 });
    expect(seen).toEqual(candles.slice(1));
    const [ea, eb] = [await comparableLog(fromFile.store), await comparableLog(fromLive.store)];
    expect(eb).toEqual(ea);
    const types = new Set(ea.map((e) => e[2]));
    // The window exercises the pipeline: intents, orders, positions, and funding from the live funding source at 08:00.
    expect([...types]).toEqual(expect.arrayContaining(['IntentEmitted', 'OrderFilled', 'PositionOpened', 'PositionClosed', 'FundingApplied']));
    expect(ea.filter((e) => e[2] === 'FundingApplied').map((e) => e[4])).toEqual([Date.parse('2025-11-20T08:00:00Z')]);
  }, 60_000);

  it('stops at once while waiting for the next candle', async () => {
    const sys = await system();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncGenerator<Candle> {
      yield candles[0];
      yield candles[1];
      await gate; // the next minute never comes
    }
    const feed = runLiveFeed(sys.clock(), { runId: 'run-stop', venue: VENUE, symbol: SYMBOL }, { candles: slow() });
    await new Promise((r) => setTimeout(r, 50));
    const c = await feed.stop();
    expect(c.candles).toBe(2);
    release();
  }, 20_000);
});

describe('LiveMarketData', () => {
  it('replays each symbol from the current minute, previous close included, and stops cleanly', async () => {
    const sys = await system();
    const now = FROM + 30_000; // mid-minute: the 06:00 candle is the first replayed
    let closed = false;
    const asked: Array<[string, number | undefined]> = [];
    const market: LiveMarket = {
      candles: (symbol, o) => (asked.push([symbol, o.since]), live(candles.filter((c) => c.openTime >= (o.since ?? 0)).slice(0, 6))),
      fundings: () => live([]),
      close: async () => void (closed = true),
    };
    const got: Candle[] = [];
    const md = new LiveMarketData(sys.clock(), VENUE, [SYMBOL], market, { now: () => now, onCandle: (_s, c) => void got.push(c) });
    await md.start();
    for (let i = 0; i < 200 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    await md.stop();
    expect(asked).toEqual([[SYMBOL, FROM - LIVE_INTERVAL_MS]]);
    expect(got.map((c) => c.openTime)).toEqual([0, 1, 2, 3, 4].map((i) => FROM + i * LIVE_INTERVAL_MS));
    expect(closed).toBe(true);
    expect(md.running).toBe(false);
  }, 20_000);
});

describe('live feed restarts', () => {
  /** A fake venue: the recorded candles from `since` on, at most `n` of them, as a live stream hands them over. */
  const marketOf = (n: number, asked: number[]): LiveMarket => ({
    candles: (_symbol, o) => (asked.push(o.since ?? -1), live(candles.filter((c) => c.openTime >= (o.since ?? 0)).slice(0, n))),
    fundings: () => live([]),
    close: async () => undefined,
  });
  const closesOf = (ticks: MarketTick[]) => ticks.filter((t) => t.candle).length;

  it('a restart resumes after the last recorded candle: the gap is back-filled from the venue (ticks marked backfill), nothing is replayed twice', async () => {
    const sys = await system();
    const journal = new LogCandleJournal(new EventAppender(sys.store));
    const asked: number[] = [];
    const ticks: MarketTick[] = [];
    // First run: 06:00:30, the current minute's candle and four more, then market-data dies.
    const first = new LiveMarketData(sys.clock(), VENUE, [SYMBOL], marketOf(6, asked), { now: () => FROM + 30_000, journal, onStep: (t) => void ticks.push(t) });
    await first.start();
    await until('5 bar closes', () => closesOf(ticks) >= 5);
    await first.stop();
    expect(await journal.lastOpenTime(VENUE, SYMBOL)).toBe(FROM + 4 * LIVE_INTERVAL_MS);
    // Back at 06:20:30: 06:05 → 06:19 are back-filled, then 06:20 and 06:21 are live.
    const again = new LiveMarketData(sys.clock(), VENUE, [SYMBOL], marketOf(18, asked), { now: () => FROM + 20 * LIVE_INTERVAL_MS + 30_000, journal: new LogCandleJournal(new EventAppender(sys.store)), onStep: (t) => void ticks.push(t) });
    await again.start();
    await until('22 bar closes', () => closesOf(ticks) >= 22);
    await again.stop();
    expect(asked).toEqual([FROM - LIVE_INTERVAL_MS, FROM + 4 * LIVE_INTERVAL_MS]);
    const recorded = (await sys.store.readStream(`candles-${VENUE}-${SYMBOL}`)).map((e) => (e.data as EventData<'CandleClosed'>).candle.openTime);
    expect(recorded).toEqual(Array.from({ length: 22 }, (_, i) => FROM + i * LIVE_INTERVAL_MS));
    const closes = ticks.filter((t) => t.candle);
    expect(closes.map((t) => t.candleOpenTime)).toEqual(recorded);
    expect(closes.map((t) => t.backfill ?? false)).toEqual(recorded.map((t) => t >= FROM + 5 * LIVE_INTERVAL_MS && t < FROM + 20 * LIVE_INTERVAL_MS));
    // The gap's first bar opens at the last recorded close: the replay is seamless.
    const gapOpen = ticks.find((t) => t.candleOpenTime === FROM + 5 * LIVE_INTERVAL_MS && t.pathIndex === 0)!;
    expect(gapOpen.from).toBe(candles.find((c) => c.openTime === FROM + 4 * LIVE_INTERVAL_MS)!.close);
  }, 60_000);

  it('a gap longer than the back-fill limit is not replayed: the feed starts at the current minute', async () => {
    const sys = await system();
    const journal = new LogCandleJournal(new EventAppender(sys.store));
    await journal.record('earlier', VENUE, SYMBOL, candles[1]);
    const asked: number[] = [];
    const lines: string[] = [];
    const now = candles[1].openTime + DEFAULT_LIVE_BACKFILL_MS + 5 * LIVE_INTERVAL_MS;
    const md = new LiveMarketData(sys.clock(), VENUE, [SYMBOL], { ...marketOf(0, asked) }, { now: () => now, journal, log: (l) => void lines.push(l) });
    await md.start();
    await md.stop();
    expect(asked).toEqual([now - LIVE_INTERVAL_MS]);
    expect(lines.some((l) => l.includes('older than the back-fill limit'))).toBe(true);
  }, 20_000);

  it('strategies learn from back-filled bars but do not trade on them: after the back-fill, the same intents as a feed that was never down', async () => {
    const half = FROM + 100 * LIVE_INTERVAL_MS;
    const intents = async (backfillBefore?: number) => {
      const sys = await system();
      await runLiveFeed(sys.clock(), { runId: 'run-bf', venue: VENUE, symbol: SYMBOL, from: FROM, ...(backfillBefore ? { backfillBefore } : {}) }, { candles: live(candles) }).done;
      return (await sys.store.readStream(`signal-${ACC}`)).filter((e) => e.type === 'IntentEmitted').map((e) => e.data as EventData<'IntentEmitted'>);
    };
    const always = await intents();
    const caughtUp = await intents(half);
    expect(always.some((i) => i.candleOpenTime < half)).toBe(true);
    expect(always.some((i) => i.candleOpenTime >= half)).toBe(true);
    expect(caughtUp).toEqual(always.filter((i) => i.candleOpenTime >= half));
  }, 60_000);

  it('a bar whose replay begins more than maxLagMs after its close is not traded (ticks marked backfill); falling behind and catching up are logged once each', async () => {
    const ENTRY = (i: EventData<'IntentEmitted'>) => i.candleOpenTime;
    const run = async (late: (openTime: number) => boolean, maxLagMs?: number) => {
      const sys = await system();
      const lines: string[] = [];
      const ticks: MarketTick[] = [];
      let now = 0;
      // The market's clock when each bar begins its replay: 1 s after its close, or 20 s for a late one.
      async function* clocked(): AsyncGenerator<Candle> {
        for await (const c of live(candles)) {
          now = c.openTime + LIVE_INTERVAL_MS + (late(c.openTime) ? 20_000 : 1_000);
          yield c;
        }
      }
      await runLiveFeed(sys.clock(), { runId: 'run-lag', venue: VENUE, symbol: SYMBOL, from: FROM, ...(maxLagMs !== undefined ? { maxLagMs } : {}) }, { candles: clocked() }, {
        now: () => now, log: (l) => void lines.push(l), onStep: (t) => void ticks.push(t),
      }).done;
      const intents = (await sys.store.readStream(`signal-${ACC}`)).filter((e) => e.type === 'IntentEmitted').map((e) => e.data as EventData<'IntentEmitted'>);
      return { intents, lines, ticks };
    };
    const always = await run(() => false, 15_000);
    // A window holding intents of the feed that keeps up: behind there, caught up after it.
    const first = ENTRY(always.intents[0]);
    const [a, b] = [first - 2 * LIVE_INTERVAL_MS, first + 30 * LIVE_INTERVAL_MS];
    const inWindow = (t: number) => t >= a && t < b;
    expect(always.intents.some((i) => !inWindow(ENTRY(i)) && ENTRY(i) >= b)).toBe(true);
    const behind = await run(inWindow, 15_000);
    expect(behind.intents.some((i) => inWindow(ENTRY(i)))).toBe(false);
    expect(behind.intents.length).toBeGreaterThan(0);
    expect(behind.ticks.length).toBe(800);
    for (const t of behind.ticks) expect(t.backfill ?? false).toBe(inWindow(t.candleOpenTime));
    expect(behind.lines.filter((l) => l.includes('behind the market'))).toEqual([
      `live feed run-lag: behind the market: the bar of ${new Date(a).toISOString()} begins its replay 20.0 s after its close (limit 15 s); strategies do not trade until the feed catches up (stops, guards and accounting act on every bar)`,
    ]);
    expect(behind.lines.filter((l) => l.includes('caught up'))).toEqual([
      `live feed run-lag: caught up: the bar of ${new Date(b).toISOString()} begins its replay 1.0 s after its close; strategies trade again`,
    ]);
    // Without a limit the same lateness is traded as before.
    expect((await run(inWindow)).intents).toEqual(always.intents);
  }, 120_000);

  it('lags(): seconds from the close of the last bar replayed (the feed\'s start before the first) to the market\'s clock, per symbol', async () => {
    const sys = await system();
    let now = FROM + 30_000;
    const got: Candle[] = [];
    const market: LiveMarket = {
      candles: (_s, o) => live(candles.filter((c) => c.openTime >= (o.since ?? 0)).slice(0, 3)), // the 05:59 close, then 06:00 and 06:01
      fundings: () => live([]),
      close: async () => undefined,
    };
    const md = new LiveMarketData(sys.clock(), VENUE, [SYMBOL], market, { now: () => now, onCandle: (_s, c) => void got.push(c) });
    expect(md.lags()).toEqual([]);
    await md.start();
    expect(md.lags()).toEqual([{ venue: VENUE, symbol: SYMBOL, seconds: expect.any(Number) }]);
    await until('the 06:00 and 06:01 bars', () => got.length >= 2);
    now = FROM + 2 * LIVE_INTERVAL_MS + 45_000; // 06:02:45: the 06:01 bar closed at 06:02:00
    expect(md.lags()).toEqual([{ venue: VENUE, symbol: SYMBOL, seconds: 45 }]);
    now = FROM + 10 * LIVE_INTERVAL_MS; // no bar since: a stalled feed's lag grows
    expect(md.lags()[0].seconds).toBe(480);
    await md.stop();
  }, 20_000);
});

describe('liveFeedSettingsFromEnv', () => {
  it('is off for paper and binance-local; demo and live stream BULWARK_LIVE_SYMBOLS (default BTCUSDT), no keys needed', () => {
    expect(liveFeedSettingsFromEnv({})).toBeNull();
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-local' })).toBeNull();
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo' })).toEqual({ venue: 'binance-demo', mode: 'demo', symbols: ['BTCUSDT'], maxBackfillMs: DEFAULT_LIVE_BACKFILL_MS, maxLagMs: DEFAULT_LIVE_MAX_LAG_MS });
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-live', BULWARK_LIVE_SYMBOLS: 'btcusdt, ETHUSDT,BTCUSDT' })).toEqual({ venue: 'binance-live', mode: 'live', symbols: ['BTCUSDT', 'ETHUSDT'], maxBackfillMs: DEFAULT_LIVE_BACKFILL_MS, maxLagMs: DEFAULT_LIVE_MAX_LAG_MS });
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_LIVE_BACKFILL_SECONDS: '3600' })?.maxBackfillMs).toBe(3_600_000);
    expect(() => liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_LIVE_BACKFILL_SECONDS: '-1' })).toThrow(VenueConfigError);
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_LIVE_MAX_LAG_SECONDS: '5' })?.maxLagMs).toBe(5_000);
    expect(() => liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_LIVE_MAX_LAG_SECONDS: 'soon' })).toThrow(VenueConfigError);
    expect(() => liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_LIVE_SYMBOLS: 'BTC/USDT' })).toThrow(VenueConfigError);
    expect(() => liveFeedSettingsFromEnv({ BULWARK_VENUE: 'kraken' })).toThrow(VenueConfigError);
  });

  it('bitget-demo / bitget-live stream the same settings; bitget-local stays off', () => {
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'bitget-local' })).toBeNull();
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'bitget-demo' })).toEqual({ venue: 'bitget-demo', mode: 'demo', symbols: ['BTCUSDT'], maxBackfillMs: DEFAULT_LIVE_BACKFILL_MS, maxLagMs: DEFAULT_LIVE_MAX_LAG_MS });
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'bitget-live', BULWARK_LIVE_SYMBOLS: 'btcusdt,ETHUSDT', BULWARK_LIVE_BACKFILL_SECONDS: '3600' })).toEqual({ venue: 'bitget-live', mode: 'live', symbols: ['BTCUSDT', 'ETHUSDT'], maxBackfillMs: 3_600_000, maxLagMs: DEFAULT_LIVE_MAX_LAG_MS });
    expect(() => liveFeedSettingsFromEnv({ BULWARK_VENUE: 'bitget-demo', BULWARK_LIVE_SYMBOLS: 'BTC/USDT' })).toThrow(/not a Bitget symbol/);
  });

  it('liveMarketFor picks the venue\'s stream and the venue id its ticks and marks carry (no connection is made)', async () => {
    const bitget = liveMarketFor('bitget-demo');
    const binance = liveMarketFor('binance-live');
    try {
      expect(bitget.venue).toBe('bitget-usdtm');
      expect(bitget.market).toBeInstanceOf(BitgetMarketStream);
      expect((bitget.market as BitgetMarketStream).mode).toBe('demo');
      expect(binance.venue).toBe('binance-usdm');
      expect(binance.market).toBeInstanceOf(BinanceMarketStream);
      expect((binance.market as BinanceMarketStream).mode).toBe('live');
    } finally {
      await bitget.market.close();
      await binance.market.close();
    }
  });
});
