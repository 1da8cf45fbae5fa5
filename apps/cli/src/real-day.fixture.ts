import { defaultDemoFiles, type DemoOptions } from './demo';

/*
 * The run the distributed end-to-end specs share: one real Binance USDⓈ-M BTCUSDT day,
 * 2025-11-21 (the sell-off's low, 1,440 1m candles, with funding), 10,000 USDT at 10x with
 * 1 % risk (the confirmation above 5x given), on the demo's default files.
 */

/** 2025-11-21 00:00 UTC, the first candle. */
export const REAL_DAY_FROM = Date.parse('2025-11-21T00:00:00Z');
/** 2025-11-22 00:00 UTC, the end (exclusive). */
export const REAL_DAY_TO = Date.parse('2025-11-22T00:00:00Z');

/** The account and data of the shared day; a spec adds its bus, account id, log directory, speed and hooks. */
export function realDayAt10x(): Pick<DemoOptions, 'candles' | 'funding' | 'capital' | 'leverage' | 'riskPct' | 'confirmHighLeverage' | 'from' | 'to'> {
  const files = defaultDemoFiles();
  return { candles: files.candles, funding: files.funding, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: REAL_DAY_FROM, to: REAL_DAY_TO };
}
