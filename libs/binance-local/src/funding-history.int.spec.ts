/**
 * GET /fapi/v1/fundingRate of the local Binance venue over the recorded files: the rows Binance
 * answers (window, limit, the file's rate, the mark as the settlement bar's open, '' before the
 * candle file), and fast: with the recorded settlements since 2020 every call used to look up a
 * bar for each of them (~0.4–1.5 s a call), which at `--speed` 6000 took 70 % of the venue's CPU
 * (a live market stream asks at every settlement it sees pass) and slowed its other answers.
 */
import type { Candle } from '@bulwark/contracts';
import { type FundingRate, readCandles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { localVenueInputs } from './data';
import { startBinanceLocal, type BinanceLocal } from './server';

const START = Date.parse('2025-11-21T08:00:00Z');
const H8 = 8 * 3_600_000;
// Reads the month's 1m candle file and starts a venue: sized for a busy 2-core machine, not Jest's 5 s.
jest.setTimeout(120_000);

let local: BinanceLocal;
let rates: FundingRate[];
const opens = new Map<number, string>();

beforeAll(async () => {
  const inputs = localVenueInputs(resolveDataDir());
  local = await startBinanceLocal({ ...inputs, startTime: START, accounts: [] });
  local.clock.advance(4); // the 08:00 bar: its settlement is in the past now
  rates = await readFundingRates(inputs.fundingFile!);
  for await (const c of readCandles(inputs.candlesFile!) as AsyncIterable<Candle>) opens.set(c.openTime, c.open);
});
afterAll(async () => {
  await local?.close();
});

async function fundingRate(q: string): Promise<Array<{ symbol: string; fundingTime: number; fundingRate: string; markPrice: string }>> {
  const res = await fetch(`${local.url}/fapi/v1/fundingRate?${q}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Array<{ symbol: string; fundingTime: number; fundingRate: string; markPrice: string }>;
}

const expected = (times: number[]) => times.map((t) => ({ symbol: 'BTCUSDT', fundingTime: t, fundingRate: rates.find((r) => r.fundingTime === t)!.rate, markPrice: opens.get(t) ?? '' }));

describe('GET /fapi/v1/fundingRate on the recorded files', () => {
  it('answers the window from startTime, oldest first: the file\'s rates, each mark the open of its settlement bar', async () => {
    const from = START - 3 * H8;
    const rows = await fundingRate(`symbol=BTCUSDT&startTime=${from}`);
    expect(rows).toEqual(expected([from, from + H8, from + 2 * H8, START]));
    expect(rows.every((r) => r.markPrice !== '')).toBe(true);
  });

  it('answers the latest `limit` settlements without startTime, and those before the candle file without a mark', async () => {
    const rows = await fundingRate('symbol=BTCUSDT&endTime=' + START + '&limit=1000');
    expect(rows).toHaveLength(1000);
    expect(rows.map((r) => r.fundingTime)).toEqual(rates.filter((r) => r.fundingTime <= START).slice(-1000).map((r) => r.fundingTime));
    expect(rows).toEqual(expected(rows.map((r) => r.fundingTime)));
    const firstBar = Math.min(...opens.keys());
    expect(rows.filter((r) => r.fundingTime < firstBar).every((r) => r.markPrice === '')).toBe(true);
    expect(rows.filter((r) => r.fundingTime >= firstBar).every((r) => r.markPrice !== '')).toBe(true);
  });

  it('answers 20 calls over years of recorded settlements (how fast: bench/local-venue.bench.js, docs/benchmarks.md)', async () => {
    expect(rates.filter((r) => r.fundingTime <= START).length).toBeGreaterThan(5_000);
    for (let i = 0; i < 20; i++) expect(await fundingRate('symbol=BTCUSDT&limit=1000')).toHaveLength(1000);
  });
});
