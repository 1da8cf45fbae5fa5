import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The market-data directory the specs read (layout and provenance: `PROVENANCE.md` in it):
 * `BULWARK_DATA_DIR` when set, else `../shared/data` beside the repository, as an absolute
 * path. It is not checked here, so importing this library never fails: a spec that reads a
 * file that is not there fails on that read, naming the file.
 */
export const DATA_DIR: string = path.resolve(process.env['BULWARK_DATA_DIR'] ?? path.resolve(__dirname, '../../../../shared/data'));

/** The recorded Binance USDⓈ-M BTCUSDT perpetual's folder, `<DATA_DIR>/binance-usdm/BTCUSDT`. */
const BTCUSDT_DIR = path.join(DATA_DIR, 'binance-usdm', 'BTCUSDT');
/** Binance spot BTCUSDT's folder, `<DATA_DIR>/binance-spot/BTCUSDT`. */
const SPOT_BTCUSDT_DIR = path.join(DATA_DIR, 'binance-spot', 'BTCUSDT');

/**
 * Absolute paths of the recorded Binance USDⓈ-M BTCUSDT files (`<DATA_DIR>/binance-usdm/BTCUSDT`):
 * - `dir`: the folder itself;
 * - `exchangeInfo`: the mainnet exchange-info symbol entry (filters: tick 0.1, step 0.001, min notional 5 USDT);
 * - `leverageBrackets`: the leverage brackets of 2025-11-20 (bracket 1: 0–300,000 USDT notional, 150x, MMR 0.004);
 * - `leverageBrackets2023`: the leverage brackets of 2023-07-18;
 * - `testnetExchangeInfo`: the whole testnet exchangeInfo of 2025-11-26 (`symbols[]`, BTCUSDT min notional 100 USDT);
 * - `fundingRates`: every funding settlement (`calc_time,funding_interval_hours,last_funding_rate`; rate per interval);
 * - `fundingRateMonthly(month)`: one month of them, `month` as `YYYY-MM`;
 * - `candles1m`: the 1m klines of 2025-11-10 00:00 → 2025-12-10 (UTC; the README's month;
 *   `open_time,open,high,low,close,volume`, open_time in epoch ms, prices in USDT, volume in BTC);
 * - `candles15m`: the gzipped 15m klines of 2022-12-06 → 2025-12-10.
 */
export const BTCUSDT_FILES = {
  dir: BTCUSDT_DIR,
  exchangeInfo: path.join(BTCUSDT_DIR, 'exchange-info.json'),
  leverageBrackets: path.join(BTCUSDT_DIR, 'leverage-brackets.json'),
  leverageBrackets2023: path.join(BTCUSDT_DIR, 'leverage-brackets-2023-07-18.json'),
  testnetExchangeInfo: path.join(DATA_DIR, 'binance-usdm', 'exchange-info', 'exchangeInfo-2025-11-26-testnet.json'),
  fundingRates: path.join(BTCUSDT_DIR, 'funding-rates.csv'),
  fundingRateMonthly: (month: string): string => path.join(BTCUSDT_DIR, 'funding-rate-monthly', `BTCUSDT-fundingRate-${month}.csv`),
  candles1m: path.join(BTCUSDT_DIR, 'klines-1m', 'BTCUSDT-1m-2025-11-10_2025-12-10.csv'),
  candles15m: path.join(BTCUSDT_DIR, 'klines-15m', 'BTCUSDT-15m-2022-12-06_2025-12-10.csv.gz'),
} as const;

/**
 * Absolute paths of the recorded Binance spot BTCUSDT 1m klines (`<DATA_DIR>/binance-spot/BTCUSDT`,
 * same columns as {@link BTCUSDT_FILES}`.candles1m`):
 * - `dir`: the folder itself;
 * - `candles1mApril2021`: 2021-04-20 → 2021-05-20 (the May 2021 crash; it has real gaps, e.g. 2021-04-25 04:01–08:44);
 * - `candles1mAugust2024`: 2024-07-26 → 2024-08-25 (the 2024-08-05 crash).
 */
export const SPOT_BTCUSDT_FILES = {
  dir: SPOT_BTCUSDT_DIR,
  candles1mApril2021: path.join(SPOT_BTCUSDT_DIR, 'klines-1m', 'BTCUSDT-1m-2021-04-20_2021-05-20.csv'),
  candles1mAugust2024: path.join(SPOT_BTCUSDT_DIR, 'klines-1m', 'BTCUSDT-1m-2024-07-26_2024-08-25.csv'),
} as const;

/**
 * A JSON file of the data directory, parsed (no schema check: the caller casts or parses it).
 * @param file a path relative to {@link DATA_DIR} (e.g. `binance-usdm/BTCUSDT/leverage-brackets.json`), or absolute
 * @throws Error when the file is missing or not JSON
 */
export function readDataJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(path.resolve(DATA_DIR, file), 'utf8'));
}
