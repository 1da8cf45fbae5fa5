import * as path from 'node:path';

// Real Binance USDⓈ-M BTCUSDT 1m bars (with their volumes) and funding (shared/data, see PROVENANCE.md).
const DATA = process.env.BULWARK_DATA_DIR ?? path.resolve(__dirname, '../../../../shared/data');
const FUT = path.join(DATA, 'binance-usdm/BTCUSDT');

/** One real day (2025-11-21) for an in-process backtest at 5x, 1 % risk: spread into `runBacktest`'s config. */
export const REAL_DAY = {
  candles: path.join(FUT, 'klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv'),
  funding: path.join(FUT, 'funding-rates.csv'),
  capital: '10000',
  leverage: 5,
  riskPct: '1',
  confirmHighLeverage: false,
  from: Date.parse('2025-11-21T00:00:00Z'),
  to: Date.parse('2025-11-22T00:00:00Z'),
};
