import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { type InstrumentRules, Symbol as SymbolId, type VenueId } from '@bulwark/contracts';
import { parseBinanceUsdmRules } from '@bulwark/domain';
import { bitgetUsdtmFiles, BITGET_USDTM_DATA_DIR, loadBitgetUsdtmRulesFromDir } from './bitget-rules-file';
import { instrumentFiles } from './data-dir';
import { venueRulesDir } from './margin-rules-file';
import { loadRulesFromFiles } from './rules-file';

/**
 * Why the recorded data gives no rules for a symbol:
 * - NOT_LISTED: no recorded file names the symbol;
 * - NOT_USDT_PERPETUAL: listed, but not a USDT-margined perpetual (a quarterly, a coin- or USDC-margined contract);
 * - NOT_TRADING: listed, but its recorded status is not TRADING (pending, settling, delivering);
 * - NO_LEVERAGE_BRACKETS: the filters are recorded but no leverage brackets are (they are never made up).
 */
export type InstrumentNotRecordedReason = 'NOT_LISTED' | 'NOT_USDT_PERPETUAL' | 'NOT_TRADING' | 'NO_LEVERAGE_BRACKETS';

/**
 * The recorded data holds no usable rules for `symbol` on `venue`. `files` are the files that
 * were looked for or read (for NO_LEVERAGE_BRACKETS: the bracket files that do not exist).
 */
export class InstrumentNotRecordedError extends Error {
  constructor(
    readonly venue: VenueId,
    readonly symbol: string,
    readonly reason: InstrumentNotRecordedReason,
    readonly files: readonly string[],
    detail: string,
  ) {
    super(`no recorded rules for ${venue} ${symbol} (${reason}): ${detail}`);
    this.name = 'InstrumentNotRecordedError';
  }
}

/** The folder of whole recorded `GET /fapi/v1/exchangeInfo` answers in a data directory. */
export function exchangeInfoDir(dataDir: string): string {
  return path.join(dataDir, 'binance-usdm', 'exchange-info');
}

/**
 * Where the leverage brackets of a Binance USDⓈ-M symbol may be recorded, in the order they
 * are tried: the data directory's symbol folder, then the repository's
 * `data/venues/binance-usdm/<SYMBOL>/` (sources in `data/venues/PROVENANCE.md`).
 */
export function leverageBracketFiles(dataDir: string, symbol: string): string[] {
  return [instrumentFiles(dataDir, 'binance-usdm', symbol).leverageBrackets, path.join(venueRulesDir(), 'binance-usdm', symbol, 'leverage-brackets.json')];
}

type SymbolEntry = Record<string, unknown>;
interface ExchangeInfoFile {
  file: string;
  serverTime: number;
  symbols: ReadonlyMap<string, SymbolEntry>;
}

// Parsed answers by file (keyed with size and mtime, so a rewritten file is read again): a whole
// answer is ~1.7 MB and each symbol first needed would otherwise parse it again.
const parsedFiles = new Map<string, ExchangeInfoFile>();

function readExchangeInfo(file: string): ExchangeInfoFile | null {
  const st = statSync(file);
  const key = `${file}|${st.size}|${st.mtimeMs}`;
  const cached = parsedFiles.get(key);
  if (cached) return cached;
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // not JSON: not an exchangeInfo answer, skipped like any other file
  }
  const list = (body as { symbols?: unknown } | null)?.symbols;
  if (!Array.isArray(list)) return null;
  const symbols = new Map<string, SymbolEntry>();
  for (const s of list) if (s && typeof s === 'object' && typeof (s as SymbolEntry)['symbol'] === 'string') symbols.set((s as SymbolEntry)['symbol'] as string, s as SymbolEntry);
  const serverTime = Number((body as { serverTime?: unknown }).serverTime);
  const parsed = { file, serverTime: Number.isFinite(serverTime) ? serverTime : 0, symbols };
  parsedFiles.set(key, parsed);
  return parsed;
}

/** The recorded exchangeInfo answers of the data directory, newest (`serverTime`) first; [] when there is no such folder. */
function exchangeInfoFiles(dataDir: string): ExchangeInfoFile[] {
  const dir = exchangeInfoDir(dataDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readExchangeInfo(path.join(dir, f)))
    .filter((x): x is ExchangeInfoFile => x !== null)
    .sort((a, b) => b.serverTime - a.serverTime);
}

/**
 * The rules of a Binance USDⓈ-M symbol that has no folder of its own: its entry in the newest
 * recorded exchangeInfo answer that lists it (filters, liquidation fee; VIP 0 fees), and its
 * recorded leverage brackets (see `leverageBracketFiles`).
 * @throws InstrumentNotRecordedError when no answer lists it, it is not a TRADING USDT perpetual there, or no brackets are recorded
 * @throws RulesParseError when the recorded entry or brackets are malformed
 */
function binanceUsdmFromExchangeInfo(dataDir: string, symbol: string): { contract: InstrumentRules; source: string } {
  const files = exchangeInfoFiles(dataDir);
  const found = files.find((f) => f.symbols.has(symbol));
  if (!found) {
    const looked = files.length > 0 ? files.map((f) => f.file) : [exchangeInfoDir(dataDir)];
    throw new InstrumentNotRecordedError('binance-usdm', symbol, 'NOT_LISTED', looked, `not listed in ${looked.join(', ')}`);
  }
  const entry = found.symbols.get(symbol)!;
  const where = `${found.file} lists it as`;
  if (entry['contractType'] !== 'PERPETUAL' || entry['quoteAsset'] !== 'USDT' || entry['marginAsset'] !== 'USDT') {
    const what = `contractType ${String(entry['contractType'])}, quoteAsset ${String(entry['quoteAsset'])}, marginAsset ${String(entry['marginAsset'])}`;
    throw new InstrumentNotRecordedError('binance-usdm', symbol, 'NOT_USDT_PERPETUAL', [found.file], `${where} ${what}, not a USDT-margined perpetual`);
  }
  if (entry['status'] !== 'TRADING') throw new InstrumentNotRecordedError('binance-usdm', symbol, 'NOT_TRADING', [found.file], `${where} status ${String(entry['status'])}`);
  const candidates = leverageBracketFiles(dataDir, symbol);
  const brackets = candidates.find((f) => existsSync(f));
  if (!brackets) {
    throw new InstrumentNotRecordedError('binance-usdm', symbol, 'NO_LEVERAGE_BRACKETS', candidates, `filters in ${found.file}, but no leverage brackets recorded (missing: ${candidates.join(', ')})`);
  }
  const contract = parseBinanceUsdmRules({ venue: 'binance-usdm', exchangeInfoSymbol: entry, leverageBrackets: JSON.parse(readFileSync(brackets, 'utf8')) });
  return { contract, source: `${found.file}#${symbol} + ${brackets}` };
}

/**
 * The recorded rules of a perpetual (filters, brackets or tiers, fees) for a venue Bulwark
 * paper-trades without asking the venue, and `source`, the files they came from (recorded
 * with the rules, compared on restart).
 *
 * - Binance USDⓈ-M: a symbol with its own folder in the data directory
 *   (`<dataDir>/binance-usdm/<SYMBOL>/exchange-info.json` + `leverage-brackets.json`, BTCUSDT)
 *   is read from there (source `<exchange-info.json> + <leverage-brackets.json>`); any other
 *   from the newest whole exchangeInfo answer in `<dataDir>/binance-usdm/exchange-info/`
 *   that lists it as a TRADING USDT perpetual, with the brackets of `leverageBracketFiles`
 *   (source `<answer file>#<SYMBOL> + <bracket file>`).
 * - Bitget USDT-M: the repository's `data/venues/bitget-usdtm/<SYMBOL>/` (contract, position
 *   tiers, fees).
 *
 * @param dataDir the market-data directory (`resolveDataDir()`)
 * @param symbol the venue's symbol id, e.g. `ETHUSDT`
 * @throws InstrumentNotRecordedError when the recorded data does not give the symbol's rules (with the reason and the files)
 * @throws RulesParseError (or BitgetRulesFileError) on a malformed file; Error when a file of a symbol folder is missing, or for a venue with no recorded futures rules
 */
export function recordedInstrumentRules(dataDir: string, venue: VenueId, symbol: string): { contract: InstrumentRules; source: string } {
  // A symbol names a folder below: only a venue symbol id (never a path) gets that far.
  if (!SymbolId.safeParse(symbol).success) throw new InstrumentNotRecordedError(venue, symbol, 'NOT_LISTED', [], `${JSON.stringify(symbol)} is not a symbol id such as BTCUSDT`);
  if (venue === 'bitget-usdtm') {
    const f = bitgetUsdtmFiles(BITGET_USDTM_DATA_DIR, symbol);
    if (!existsSync(f.contracts)) throw new InstrumentNotRecordedError(venue, symbol, 'NOT_LISTED', [f.contracts], `${f.contracts} does not exist`);
    return { contract: loadBitgetUsdtmRulesFromDir(BITGET_USDTM_DATA_DIR, symbol), source: `${f.contracts} + ${f.positionTiers} + ${f.fees}` };
  }
  if (venue !== 'binance-usdm') throw new Error(`no recorded perpetual-futures rules for venue ${venue}`);
  const files = instrumentFiles(dataDir, venue, symbol);
  if (!existsSync(files.exchangeInfo)) return binanceUsdmFromExchangeInfo(dataDir, symbol);
  return {
    contract: loadRulesFromFiles({ venue, exchangeInfoFile: files.exchangeInfo, leverageBracketsFile: files.leverageBrackets }),
    source: `${files.exchangeInfo} + ${files.leverageBrackets}`,
  };
}
