import { realpathSync, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { CandleFileError, fileKind, firstLine, MAX_MARKET_DATA_FILE_BYTES } from './csv';
import { DataDirNotFoundError, resolveDataDir } from './data-dir';

/** The environment variable naming more directories a request may read market data from (colon-separated). */
export const ALLOWED_DATA_DIRS_ENV = 'BULWARK_ALLOWED_DATA_DIRS';

/** What a market-data file is for: klines (`open_time,open,high,low,close,volume…`) or funding rates (`calc_time,funding_interval_hours,last_funding_rate`). */
export type MarketDataFileKind = 'candles' | 'funding';

/**
 * Why a market-data file was refused:
 * - `FILE_NOT_FOUND`: nothing at that path (or a dangling symlink);
 * - `FILE_NOT_ALLOWED`: its real path (symlinks resolved) is outside the data directory and
 *   the directories of BULWARK_ALLOWED_DATA_DIRS;
 * - `INVALID_CANDLE_FILE` / `INVALID_FUNDING_FILE`: not a regular file (directory, device,
 *   FIFO, socket), larger than MAX_MARKET_DATA_FILE_BYTES, empty, not named `.csv` / `.csv.gz`,
 *   a first line that is neither the header nor a data row, a line too long, a corrupt gzip,
 *   a bad row.
 */
export type MarketDataFileErrorCode = 'FILE_NOT_FOUND' | 'FILE_NOT_ALLOWED' | 'INVALID_CANDLE_FILE' | 'INVALID_FUNDING_FILE';

/** A market-data file that cannot be used, with a typed code (the answer of a refused request) and the file. */
export class MarketDataFileError extends Error {
  constructor(
    readonly code: MarketDataFileErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'MarketDataFileError';
  }
}

/** A file that passed {@link checkMarketDataFile}. */
export interface CheckedMarketDataFile {
  /** The path as given, resolved to absolute. */
  file: string;
  /** The path with every symlink resolved (what is read). */
  realPath: string;
  /** Size on disk. */
  bytes: number;
  gzip: boolean;
  /** The first line is the CSV header (else it is a data row). */
  header: boolean;
}

/** The code for a file of this kind that is not what it should be. */
export function invalidCode(kind: MarketDataFileKind): 'INVALID_CANDLE_FILE' | 'INVALID_FUNDING_FILE' {
  return kind === 'candles' ? 'INVALID_CANDLE_FILE' : 'INVALID_FUNDING_FILE';
}

const LABEL: Record<MarketDataFileKind, string> = { candles: 'candle file', funding: 'funding-rate file' };

/**
 * The directories a request (e.g. market-data's `ReplayStartRequest.candlesFile`) may name
 * files in: the data directory (`resolveDataDir`: BULWARK_DATA_DIR or ../shared/data) and each
 * entry of BULWARK_ALLOWED_DATA_DIRS (colon-separated; relative entries resolve against the
 * working directory), as real paths. Directories that do not exist are left out; a missing
 * data directory is not an error here (the list is then the allowed directories alone).
 */
export function allowedDataDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  try {
    dirs.push(resolveDataDir(env));
  } catch (e) {
    if (!(e instanceof DataDirNotFoundError)) throw e;
  }
  for (const d of (env[ALLOWED_DATA_DIRS_ENV] ?? '').split(':')) if (d.trim()) dirs.push(path.resolve(d.trim()));
  const out: string[] = [];
  for (const d of dirs) {
    let real: string;
    try {
      real = realpathSync(d);
    } catch {
      continue;
    }
    if (!out.includes(real)) out.push(real);
  }
  return out;
}

/** `child` is `dir` itself or below it (both real, absolute paths). */
function isInside(child: string, dir: string): boolean {
  const rel = path.relative(dir, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

const HEADER_FIRST: Record<MarketDataFileKind, string> = { candles: 'open_time', funding: 'calc_time' };
const MIN_COLUMNS: Record<MarketDataFileKind, number> = { candles: 6, funding: 3 };

/**
 * Check a kline or funding-rate file before reading it: that it exists; when `allowedDirs`
 * is given, that its real path (symlinks resolved with realpath) is inside one of them; that
 * it is a regular file of 1 byte .. MAX_MARKET_DATA_FILE_BYTES named `*.csv` or `*.csv.gz`;
 * and that its first non-blank line is the Binance header (`open_time,…` for klines,
 * `calc_time,…` for funding) or a data row (an integer first field, at least 6 columns for
 * klines, 3 for funding). Reads at most that first line (MAX_LINE_CHARS), so it never
 * hangs on a device, a FIFO or a huge line. The rows themselves are checked by the readers.
 * @param allowedDirs real paths of the directories the file must be in (see
 *   {@link allowedDataDirs}); absent = anywhere (the operator's own CLI).
 * @throws MarketDataFileError with FILE_NOT_FOUND, FILE_NOT_ALLOWED or INVALID_CANDLE_FILE / INVALID_FUNDING_FILE
 */
export async function checkMarketDataFile(file: string, kind: MarketDataFileKind, opts: { allowedDirs?: readonly string[] } = {}): Promise<CheckedMarketDataFile> {
  const label = LABEL[kind];
  const bad = (reason: string) => new MarketDataFileError(invalidCode(kind), file, `${label} ${file}: ${reason}`);
  const abs = path.resolve(file);
  let real: string;
  try {
    real = await realpath(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new MarketDataFileError('FILE_NOT_FOUND', file, `${label} not found: ${file}`);
    throw bad(`cannot resolve the path (${code ?? (e as Error).message})`);
  }
  if (opts.allowedDirs && !opts.allowedDirs.some((d) => isInside(real, d))) {
    throw new MarketDataFileError(
      'FILE_NOT_ALLOWED',
      file,
      `${label} ${file}${real !== abs ? ` (really ${real})` : ''} is outside the directories market data may be read from: ${opts.allowedDirs.join(', ') || 'none'} (the data directory BULWARK_DATA_DIR and ${ALLOWED_DATA_DIRS_ENV})`,
    );
  }
  let st: Stats;
  try {
    st = await stat(real);
  } catch (e) {
    throw bad(`cannot read its status (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw bad(`not a regular file (${fileKind(st)})`);
  if (st.size === 0) throw bad('the file is empty');
  if (st.size > MAX_MARKET_DATA_FILE_BYTES) throw bad(`the file is ${st.size} bytes, above the limit of ${MAX_MARKET_DATA_FILE_BYTES} (2 GiB)`);
  const name = path.basename(real);
  const gzip = name.endsWith('.csv.gz');
  if (!gzip && !name.endsWith('.csv')) throw bad(`the name ${name} does not end in .csv or .csv.gz`);
  let first: string | null;
  try {
    first = await firstLine(real);
  } catch (e) {
    if (e instanceof CandleFileError) throw bad(e.line > 0 ? `line ${e.line}: ${e.reason}` : e.reason);
    throw e;
  }
  if (first === null) throw bad('the file holds no line');
  const cols = first.split(',').map((c) => c.trim());
  const header = cols[0].toLowerCase() === HEADER_FIRST[kind];
  if (!header && !/^\d{1,15}$/.test(cols[0])) {
    throw bad(`the first line is neither the ${HEADER_FIRST[kind]},… header nor a row starting with an integer time: ${JSON.stringify(first.slice(0, 80))}`);
  }
  if (cols.length < MIN_COLUMNS[kind]) throw bad(`the first line has ${cols.length} column(s), a ${label} has at least ${MIN_COLUMNS[kind]}: ${JSON.stringify(first.slice(0, 80))}`);
  return { file: abs, realPath: real, bytes: st.size, gzip, header };
}
