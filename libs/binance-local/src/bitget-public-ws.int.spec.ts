/**
 * The local Bitget venue's public websocket (`/v2/ws/public`) as unmodified ccxt.pro `bitget`
 * (4.5.84) reads it: the USDT-FUTURES `ticker` channel (markPrice, indexPrice, lastPr,
 * fundingRate, nextFundingTime) and `candle1m`, pushed on every clock step. Prices: the recorded
 * Binance BTCUSDT 1m candles (../shared/data), as the venue walks them.
 */
import * as ccxt from 'ccxt';
import type { Candle } from '@bulwark/contracts';
import { readCandles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { until } from '@bulwark/testing';
import { BITGET_LOCAL_CCXT_OPTIONS, bitgetLocalUrls, useBitgetLocal } from './bitget-ccxt-urls';
import { bitgetLocalInputs, startBitgetLocal, type BitgetLocal } from './bitget-server';

const START = Date.parse('2025-11-21T07:56:00Z');
const SETTLEMENT = Date.parse('2025-11-21T08:00:00Z');
const MIN = 60_000;
const SYMBOL = 'BTC/USDT:USDT';

let local: BitgetLocal;
let file: Candle[];
let rateAt0800: string;

beforeAll(async () => {
  const inputs = bitgetLocalInputs(resolveDataDir());
  local = await startBitgetLocal({ ...inputs, startTime: START, accounts: [] });
  file = [];
  for await (const c of readCandles(inputs.candlesFile!)) if (c.openTime >= START && c.openTime < START + 30 * MIN) file.push(c);
  rateAt0800 = (await readFundingRates(inputs.fundingFile!)).find((f) => f.fundingTime === SETTLEMENT)!.rate;
}, 60_000);
afterAll(async () => {
  await local?.close();
});

/** A public-only ccxt.pro bitget on the local venue (no keys). */
async function pro() {
  const ex = useBitgetLocal(new ccxt.pro.bitget({ enableRateLimit: false }), { urlsApi: bitgetLocalUrls(local.url, local.wsUrl), options: BITGET_LOCAL_CCXT_OPTIONS });
  await ex.loadHttpProxyAgent();
  await ex.loadMarkets();
  return ex;
}

/** Raw public messages (pushes and subscribe answers) as ccxt.pro receives them. */
function tapRaw(ex: InstanceType<typeof ccxt.pro.bitget>): Array<Record<string, unknown>> {
  const seen: Array<Record<string, unknown>> = [];
  const orig = ex.handleMessage.bind(ex);
  ex.handleMessage = (client: Parameters<typeof orig>[0], m: unknown) => {
    if (m && typeof m === 'object') seen.push(m as Record<string, unknown>);
    return orig(client, m);
  };
  return seen;
}


describe('local Bitget venue: public websocket pushes', () => {
  it('watchTicker receives the step prices as Bitget USDT-FUTURES tickers: markPrice, indexPrice, lastPr, fundingRate, nextFundingTime', async () => {
    const ex = await pro();
    const raw = tapRaw(ex);
    try {
      const first = ex.watchTicker(SYMBOL);
      first.catch(() => undefined);
      await until('the subscribe answer', () => raw.some((m) => m['event'] === 'subscribe'));
      local.clock.advance(1); // 07:56 open
      const t = await first;
      const c0756 = file[0];
      expect(t).toMatchObject({ symbol: SYMBOL, last: Number(c0756.open), timestamp: START });
      expect(t.info).toMatchObject({ instId: 'BTCUSDT', lastPr: c0756.open, markPrice: c0756.open, indexPrice: c0756.open, fundingRate: rateAt0800, nextFundingTime: String(SETTLEMENT), ts: String(START) });
      const msg = raw.find((m) => m['data'] && (m['arg'] as Record<string, unknown>)['channel'] === 'ticker')!;
      expect(msg).toMatchObject({ action: 'snapshot', arg: { instType: 'USDT-FUTURES', channel: 'ticker', instId: 'BTCUSDT' }, ts: START });
      // Across the 08:00 settlement the next one is announced.
      local.clock.advance(4 * 4); // 07:56 … 07:59 close, then 08:00 open
      await until('the 08:00 ticker', () => raw.some((m) => m['ts'] === SETTLEMENT));
      const at0800 = raw.filter((m) => m['ts'] === SETTLEMENT && m['data'] && (m['arg'] as Record<string, unknown>)['channel'] === 'ticker')[0]['data'] as Array<Record<string, string>>;
      expect(at0800[0]).toMatchObject({ markPrice: file[4].open, nextFundingTime: String(SETTLEMENT + 8 * 3_600_000) });
    } finally {
      await ex.close();
    }
  }, 60_000);

  it('watchOHLCV receives candle1m rows of the bar being walked; on its close step the recorded candle', async () => {
    while ((local.clock.now() + 1) % MIN !== 0) local.clock.advance(1); // to the end of a bar (08:00:59.999)
    const ex = await pro();
    const raw = tapRaw(ex);
    try {
      const first = ex.watchOHLCV(SYMBOL, '1m');
      first.catch(() => undefined);
      await until('the subscribe answer', () => raw.some((m) => m['event'] === 'subscribe'));
      const from = local.clock.now() + 1; // the next bar (08:01)
      expect(from % MIN).toBe(0);
      local.clock.advance(1);
      const bars = await first;
      const bar = file.find((c) => c.openTime === from)!;
      expect(bars[bars.length - 1]).toEqual([from, Number(bar.open), Number(bar.open), Number(bar.open), Number(bar.open), 0]);
      local.clock.advance(3); // the bar's close step: the recorded candle
      await until('4 candle pushes', () => raw.filter((m) => m['data'] && (m['arg'] as Record<string, unknown>)['channel'] === 'candle1m').length >= 4);
      const rows = raw.filter((m) => m['data'] && (m['arg'] as Record<string, unknown>)['channel'] === 'candle1m');
      expect(rows[3]).toMatchObject({ action: 'update', arg: { instType: 'USDT-FUTURES', channel: 'candle1m', instId: 'BTCUSDT' }, ts: from + MIN - 1 });
      expect(rows[3]['data']).toEqual([[String(from), bar.open, bar.high, bar.low, bar.close, bar.volume, '0', '0']]);
      // ccxt.pro's cache holds the bar as last pushed (watchOHLCV would wait for the next push).
      const cached = ex.ohlcvs[SYMBOL]['1m'] as unknown as number[][];
      expect(cached[cached.length - 1]).toEqual([from, Number(bar.open), Number(bar.high), Number(bar.low), Number(bar.close), Number(bar.volume)]);
    } finally {
      await ex.close();
    }
  }, 60_000);
});
