import type { Candle } from '@bulwark/contracts';
import { Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { instrumentFiles, readCandles, readFundingRates, resolveDataDir, type FundingRate } from '@bulwark/market-data';
import { DEFAULT_DONCHIAN_ATR } from '@bulwark/strategies';
import { InProcessSystem } from './in-process';
import { LIVE_INTERVAL_MS, LiveMarketData, liveFeedSettingsFromEnv, runLiveFeed, type LiveMarket } from './live-feed';
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
    md.start();
    for (let i = 0; i < 200 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    await md.stop();
    expect(asked).toEqual([[SYMBOL, FROM - LIVE_INTERVAL_MS]]);
    expect(got.map((c) => c.openTime)).toEqual([0, 1, 2, 3, 4].map((i) => FROM + i * LIVE_INTERVAL_MS));
    expect(closed).toBe(true);
    expect(md.running).toBe(false);
  }, 20_000);
});

describe('liveFeedSettingsFromEnv', () => {
  it('is off for paper and binance-local; demo and live stream BULWARK_LIVE_SYMBOLS (default BTCUSDT), no keys needed', () => {
    expect(liveFeedSettingsFromEnv({})).toBeNull();
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-local' })).toBeNull();
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo' })).toEqual({ venue: 'binance-demo', mode: 'demo', symbols: ['BTCUSDT'] });
    expect(liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-live', BULWARK_LIVE_SYMBOLS: 'btcusdt, ETHUSDT,BTCUSDT' })).toEqual({ venue: 'binance-live', mode: 'live', symbols: ['BTCUSDT', 'ETHUSDT'] });
    expect(() => liveFeedSettingsFromEnv({ BULWARK_VENUE: 'binance-demo', BULWARK_LIVE_SYMBOLS: 'BTC/USDT' })).toThrow(VenueConfigError);
    expect(() => liveFeedSettingsFromEnv({ BULWARK_VENUE: 'kraken' })).toThrow(VenueConfigError);
  });
});
