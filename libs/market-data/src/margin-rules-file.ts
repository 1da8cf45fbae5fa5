import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseBinanceMarginPairRules, type MarginPairRules } from '@bulwark/domain';
import { projectRoot } from './data-dir';

/**
 * The folder of venue rules recorded by the project (`data/venues/` in the repository, each
 * file's source and date in its PROVENANCE.md): spot filters, isolated-margin tiers, interest
 * rates and fees, which `../shared/data` does not hold.
 */
export function venueRulesDir(): string {
  return path.join(projectRoot(), 'data', 'venues');
}

/** The recorded files of one Binance spot isolated-margin pair. */
export function marginPairFiles(symbol = 'BTCUSDT', dir = venueRulesDir()) {
  const base = path.join(dir, 'binance-margin', symbol);
  return {
    base,
    exchangeInfo: path.join(base, 'exchange-info.json'),
    tiers: path.join(base, 'isolated-margin-tier.json'),
    marginData: path.join(base, 'isolated-margin-data.json'),
    fees: path.join(base, 'fees.json'),
  };
}

/**
 * Load a spot isolated-margin pair's rules (tier 1 unless `tier` says otherwise) from the
 * recorded files, and the raw JSON the local venue serves as the endpoints' answers.
 * @throws RulesParseError (from the domain) on malformed files; Error when a file is missing.
 */
export function loadMarginPair(symbol = 'BTCUSDT', opts: { dir?: string; tier?: number } = {}): {
  rules: MarginPairRules;
  exchangeInfoSymbol: unknown;
  tiers: unknown;
  marginData: unknown;
} {
  const f = marginPairFiles(symbol, opts.dir);
  const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as unknown;
  const exchangeInfoSymbol = read(f.exchangeInfo);
  const tiers = read(f.tiers);
  const marginData = read(f.marginData);
  return { rules: parseBinanceMarginPairRules({ exchangeInfoSymbol, tiers, marginData, fees: read(f.fees), tier: opts.tier }), exchangeInfoSymbol, tiers, marginData };
}
