/**
 * The local USDⓈ-M venue's own clock (`speed`): market time walks the real BTCUSDT candle file
 * by itself, an unmodified ccxt `binanceusdm` sees it move without any clock call, and close()
 * stops it. Plus the shared ticker (`startOwnClock`) under Jest's fake timers.
 */
import * as ccxt from 'ccxt';
import { intraBarPath } from '@bulwark/domain';
import { readCandles, resolveDataDir } from '@bulwark/market-data';
import { until } from '@bulwark/testing';
import { binanceLocalAdmin } from './admin';
import { ccxtFor } from './ccxt-urls';
import { localVenueInputs } from './data';
import { startOwnClock } from './own-clock';
import { startBinanceLocal, type BinanceLocal, type BinanceLocalOptions } from './server';

const creds = { apiKey: 'clock-key-0123456789', apiSecret: 'clock-secret-abcdefghijklmnop' };
const START = Date.parse('2025-11-21T07:30:00Z'); // 07:30 bar: 85,175.8 / 85,278.2 / 85,147.2 / 85,201.3
const SYMBOL = 'BTC/USDT:USDT';
const SPEED = 600; // ten market minutes a wall second

let inputs: ReturnType<typeof localVenueInputs>;
/** Every price the venue's path can show on START's day: the path points of the recorded bars. */
const pathPrices = new Set<number>();

beforeAll(async () => {
  inputs = localVenueInputs(resolveDataDir());
  for await (const c of readCandles(inputs.candlesFile!)) {
    if (c.openTime >= START && c.openTime < START + 86_400_000) for (const p of intraBarPath(c)) pathPrices.add(Number(p));
  }
});

const start = (over: Partial<BinanceLocalOptions>) => startBinanceLocal({ ...inputs, startTime: START, accounts: [{ accountId: 'acc-clock', ...creds, balance: '1000' }], ...over });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


describe('local USDⓈ-M venue with its own clock (speed)', () => {
  it('walks the candle file by itself: an unmodified ccxt binanceusdm sees the mark price move without any clock call', async () => {
    const local: BinanceLocal = await start({ speed: SPEED });
    try {
      const cfg = ccxtFor(local, creds);
      const ex = new ccxt.binanceusdm(cfg.config);
      ex.urls['api'] = cfg.urlsApi as typeof ex.urls['api'];

      const first = await ex.fetchMarkPrice(SYMBOL);
      expect(first.timestamp).toBeGreaterThanOrEqual(START);
      expect(pathPrices.has(first.markPrice!)).toBe(true);
      // Only reads from here: five market minutes pass (half a wall second at 600x, 20 s allowed).
      let later = first;
      const deadline = Date.now() + 20_000;
      while (later.timestamp! < first.timestamp! + 5 * 60_000 && Date.now() < deadline) {
        await sleep(200);
        later = await ex.fetchMarkPrice(SYMBOL);
      }
      expect(later.timestamp).toBeGreaterThanOrEqual(first.timestamp! + 5 * 60_000);
      expect(pathPrices.has(later.markPrice!)).toBe(true);
      // The bars it walked are the recorded ones.
      const bars = await ex.fetchOHLCV(SYMBOL, '1m', START, 2);
      expect(bars[0]).toEqual([START, 85175.8, 85278.2, 85147.2, 85201.3, 338.887]);

      // The admin advance still answers (it jumps ahead of the own clock).
      const before = local.clock.remaining();
      await expect(binanceLocalAdmin(local.url, creds).advance(4)).resolves.toMatchObject({ orderUpdates: 0 });
      expect(local.clock.remaining()).toBeLessThanOrEqual(before - 4);
    } finally {
      await local.close();
    }
  }, 60_000);

  it('follows its wall clock to the step, lets advance jump ahead, and stops on close', async () => {
    let t = 1_000_000;
    const local = await start({ speed: SPEED, wallClock: () => t });
    const mark = () => local.engine.markPrice('BTCUSDT')?.toString();
    try {
      expect(local.clock.now()).toBe(START); // the first step is walked at start
      expect(mark()).toBe('85175.8');
      t += 50; // 30 market s: the 07:30:20 path point (the bar's low, a rising bar)
      await until('the 07:30:20 path point', () => local.clock.now() === START + 20_000);
      expect(mark()).toBe('85147.2');
      local.clock.advance(4); // 07:30:40, 07:30:59.999, 07:31:00, 07:31:20: ahead of the own clock
      expect(local.clock.now()).toBe(START + 80_000);
      t += 140; // 114 market s: the 07:31:40 point (the 07:31 bar's low, a falling bar)
      await until('the 07:31:40 path point', () => local.clock.now() === START + 100_000);
      expect(mark()).toBe('85076.8');
    } finally {
      await local.close();
    }
    const after = { now: local.clock.now(), remaining: local.clock.remaining() };
    t += 86_400_000; // a market day's target, for a ticker that would still run
    await sleep(500); // ten periods of the ticker
    expect({ now: local.clock.now(), remaining: local.clock.remaining() }).toEqual(after);
  }, 60_000);

  it('moves only on request without speed (or with 0), and refuses a bad speed with a RangeError before opening a port', async () => {
    for (const speed of [undefined, 0]) {
      const local = await start({ speed });
      try {
        expect(local.clock.now()).toBe(0); // nothing walked: an own clock walks its first step at start
        local.clock.advance(1);
        expect(local.clock.now()).toBe(START);
      } finally {
        await local.close();
      }
    }
    for (const speed of [-1, Number.NaN, Number.POSITIVE_INFINITY]) await expect(start({ speed })).rejects.toThrow(RangeError);
  }, 60_000);
});

describe('startOwnClock', () => {
  afterEach(() => jest.useRealTimers());

  it('targets marketStart + elapsed wall × speed, at once and every period, until stopped', () => {
    jest.useFakeTimers({ now: 5_000 });
    const targets: number[] = [];
    const own = startOwnClock({ speed: 10, marketStart: 1_000, advanceTo: (ts) => targets.push(ts), periodMs: 50 });
    expect(targets).toEqual([1_000]);
    jest.advanceTimersByTime(100);
    expect(targets).toEqual([1_000, 1_500, 2_000]);
    expect(jest.getTimerCount()).toBe(1);
    own.stop();
    own.stop(); // idempotent
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1_000);
    expect(targets).toHaveLength(3);
  });

  it('refuses a speed or period it cannot run', () => {
    const advanceTo = () => undefined;
    for (const speed of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => startOwnClock({ speed, marketStart: 0, advanceTo })).toThrow(RangeError);
    expect(() => startOwnClock({ speed: 1, marketStart: 0, advanceTo, periodMs: 0 })).toThrow(RangeError);
  });
});
