import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { InstrumentRules } from '@bulwark/contracts';
import { parseBitgetUsdtmRules, RulesParseError } from '@bulwark/domain';
import { venueRulesDir } from './margin-rules-file';

/**
 * The folder of the recorded Bitget USDT-M perpetual rules, `data/venues/bitget-usdtm` in the
 * repository (found like the Binance margin files: the project root is the nearest ancestor
 * holding nx.json). One sub-folder per symbol; each file's source and date are in
 * `data/venues/PROVENANCE.md`.
 */
export const BITGET_USDTM_DATA_DIR: string = path.join(venueRulesDir(), 'bitget-usdtm');

/**
 * A recorded Bitget file that is missing, not JSON, or not the answer it should be (e.g. a
 * path that is not a `GET /api/v2/mix/market/contracts` answer). A `RulesParseError`, so
 * callers that already catch that keep working; `file` is the offending path.
 */
export class BitgetRulesFileError extends RulesParseError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'BitgetRulesFileError';
  }
}

/** The three recorded files of one symbol, in `dir` itself or in `dir/<symbol>/`. */
export function bitgetUsdtmFiles(dir: string = BITGET_USDTM_DATA_DIR, symbol = 'BTCUSDT') {
  const base = existsSync(path.join(dir, 'contracts.json')) ? dir : path.join(dir, symbol);
  return {
    base,
    contracts: path.join(base, 'contracts.json'),
    positionTiers: path.join(base, 'position-tier.json'),
    fees: path.join(base, 'fees.json'),
  };
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BitgetRulesFileError(file, `cannot be read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BitgetRulesFileError(file, `is not JSON (${(e as Error).message})`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when `v` looks like a Bitget contract entry, `data` array or `{code, data}` answer. */
function looksLikeBitgetContracts(v: unknown): boolean {
  const entry = (x: unknown) => isObj(x) && 'symbol' in x && ('pricePlace' in x || 'sizeMultiplier' in x || 'minTradeNum' in x);
  if (Array.isArray(v)) return v.some(entry);
  if (isObj(v) && Array.isArray(v['data'])) return (v['data'] as unknown[]).some(entry) || (v['code'] !== undefined && v['code'] !== '00000');
  return entry(v);
}

/**
 * Load the recorded Bitget files of `symbol` and the rules they give, plus the raw JSON (what a
 * local Bitget venue serves as the endpoints' answers).
 *
 * - `contracts.json`: `GET /api/v2/mix/market/contracts?productType=USDT-FUTURES`, a bare entry,
 *   the `data` array or the full `{code, data:[…]}` answer (the entry of `symbol` is used);
 * - `position-tier.json`: `GET /api/v2/mix/market/query-position-lever` `data` array or answer;
 * - `fees.json`: our record `{makerFeeRate, takerFeeRate, source, date}` (fractions).
 * `dir` may be the symbol folder itself or the venue folder holding `<symbol>/`.
 *
 * @throws BitgetRulesFileError (a RulesParseError) naming the file when one is missing, not JSON,
 *   or not a Bitget answer, or when the domain parser refuses it (its message is kept).
 */
export function loadBitgetUsdtmFiles(
  dir: string = BITGET_USDTM_DATA_DIR,
  symbol = 'BTCUSDT',
): { rules: InstrumentRules; contract: unknown; positionTiers: unknown; fees: { makerFeeRate: string; takerFeeRate: string } } {
  const f = bitgetUsdtmFiles(dir, symbol);
  const contract = readJson(f.contracts);
  if (!looksLikeBitgetContracts(contract)) {
    throw new BitgetRulesFileError(f.contracts, 'is not a Bitget GET /api/v2/mix/market/contracts entry or answer (no symbol with pricePlace/sizeMultiplier/minTradeNum)');
  }
  const positionTiers = readJson(f.positionTiers);
  const feesRaw = readJson(f.fees);
  if (!isObj(feesRaw) || typeof feesRaw['makerFeeRate'] !== 'string' || typeof feesRaw['takerFeeRate'] !== 'string') {
    throw new BitgetRulesFileError(f.fees, 'expected {makerFeeRate, takerFeeRate} as decimal strings');
  }
  const fees = { makerFeeRate: feesRaw['makerFeeRate'], takerFeeRate: feesRaw['takerFeeRate'] };
  try {
    const rules = parseBitgetUsdtmRules({ contract, positionTiers, symbol, ...fees });
    return { rules, contract, positionTiers, fees };
  } catch (e) {
    if (e instanceof RulesParseError) throw new BitgetRulesFileError(f.base, e.message);
    throw e;
  }
}

/**
 * The `InstrumentRules` (venue `bitget-usdtm`) of `symbol` from the recorded files in `dir`
 * (the symbol folder, or the venue folder holding `<symbol>/`); see `loadBitgetUsdtmFiles`.
 * @throws BitgetRulesFileError (a RulesParseError) naming the file or field at fault.
 */
export function loadBitgetUsdtmRulesFromDir(dir: string = BITGET_USDTM_DATA_DIR, symbol = 'BTCUSDT'): InstrumentRules {
  return loadBitgetUsdtmFiles(dir, symbol).rules;
}
