// Test fixture (not part of the library): real Binance USD-M BTCUSDT data from shared/data
// (see PROVENANCE.md) — mainnet filters, the 2025-11-20 leverage brackets, and the 1m klines
// of 2025-11-10 … 2025-12-10 with their intra-bar path steps.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Candle } from '@bulwark/contracts';
import { pathSteps, type PathStep } from '../src/market-path';
import { parseBinanceUsdmRules, rulesFromContract, type Rules } from '../src/rules';

export const DATA_DIR = process.env['BULWARK_DATA_DIR'] ?? path.resolve(__dirname, '../../../../shared/data');
export const BTC = path.join(DATA_DIR, 'binance-usdm/BTCUSDT');
/** A JSON file below the data directory. */
export const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(DATA_DIR, file), 'utf8'));
/** BTCUSDT rules from the recorded exchange info and leverage brackets. */
export const RULES: Rules = rulesFromContract(
  parseBinanceUsdmRules({ venue: 'binance-usdm', exchangeInfoSymbol: readJson('binance-usdm/BTCUSDT/exchange-info.json'), leverageBrackets: readJson('binance-usdm/BTCUSDT/leverage-brackets.json') }),
);

const ROWS = fs.readFileSync(path.join(BTC, 'klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv'), 'utf8').trim().split('\n').slice(1);
const INDEX = new Map(ROWS.map((row, i) => [Number(row.slice(0, row.indexOf(','))), i]));
export const toCandle = (row: string): Candle => {
  const [openTime, open, high, low, close, volume] = row.split(',');
  return { openTime: Number(openTime), interval: '1m', open, high, low, close, volume };
};
/** Index of the real bar opening at `iso` (UTC). @throws when the file has no such bar */
export const indexOf = (iso: string): number => {
  const i = INDEX.get(Date.parse(iso));
  if (i === undefined) throw new Error(`no bar at ${iso}`);
  return i;
};
/** The real bar at index i. */
export const barAt = (i: number): Candle => toCandle(ROWS[i]);
/** The four path steps of the real bar at index i (step 0 jumps from the previous close). */
export const stepsAt = (i: number): PathStep[] => pathSteps(toCandle(ROWS[i]), i === 0 ? null : toCandle(ROWS[i - 1]).close);
/** The four path steps of the real bar opening at `iso`. */
export const steps = (iso: string): PathStep[] => stepsAt(indexOf(iso));
export const BAR_COUNT = ROWS.length;
