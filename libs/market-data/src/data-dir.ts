import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** Thrown when the market-data directory cannot be found; the message says where to put data. */
export class DataDirNotFoundError extends Error {
  constructor(readonly tried: string[]) {
    super(
      `Bulwark's market data directory was not found (tried: ${tried.join(', ')}). ` +
        `Set BULWARK_DATA_DIR to a folder laid out like shared/data ` +
        `(binance-usdm/BTCUSDT/klines-1m/*.csv, funding-rates.csv, exchange-info.json, leverage-brackets.json), ` +
        `or put that folder at ../shared/data beside the project.`,
    );
    this.name = 'DataDirNotFoundError';
  }
}

/** The project root: the nearest ancestor of `from` holding nx.json. */
export function projectRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'nx.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(from);
    dir = up;
  }
}

/**
 * The market-data directory: `BULWARK_DATA_DIR` when set, else `../shared/data` beside the
 * project root. Throws DataDirNotFoundError when neither exists.
 */
export function resolveDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const tried: string[] = [];
  if (env.BULWARK_DATA_DIR) {
    const p = path.resolve(env.BULWARK_DATA_DIR);
    if (existsSync(p)) return p;
    tried.push(p);
  } else {
    const p = path.resolve(projectRoot(), '..', 'shared', 'data');
    if (existsSync(p)) return p;
    tried.push(p);
  }
  throw new DataDirNotFoundError(tried);
}

/** Well-known files of one instrument inside the data directory. */
export function instrumentFiles(dataDir: string, venue = 'binance-usdm', symbol = 'BTCUSDT') {
  const base = path.join(dataDir, venue, symbol);
  return {
    base,
    exchangeInfo: path.join(base, 'exchange-info.json'),
    leverageBrackets: path.join(base, 'leverage-brackets.json'),
    fundingRates: path.join(base, 'funding-rates.csv'),
    klines1m: path.join(base, 'klines-1m'),
    defaultCandles: path.join(base, 'klines-1m', `${symbol}-1m-2025-11-10_2025-12-10.csv`),
  };
}
