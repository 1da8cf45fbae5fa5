import { constants as fsConstants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { Candle } from '@bulwark/contracts';
import { dec, isConsistentPlainBar, PLAIN_DECIMAL, str } from '@bulwark/domain';

/** A candle file row that is not a valid candle: the file, line and reason. */
export class CandleFileError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'CandleFileError';
  }
}

/** Normalise a CSV number token to a plain decimal string ("56777.0" stays, "1e-3" is refused). */
function decimalToken(tok: string, file: string, line: number, field: string): string {
  const t = tok.trim();
  if (!PLAIN_DECIMAL.test(t)) throw new CandleFileError(file, line, `${field} "${t}" is not a plain decimal`);
  return t;
}

/**
 * Largest market-data file read (bytes on disk): 2 GiB. A year of Binance 1m klines is
 * about 50 MB, so only something that is not a kline or funding file is larger.
 */
export const MAX_MARKET_DATA_FILE_BYTES = 2 * 1024 ** 3;

/**
 * Longest line read (characters). A kline row with all of Binance's 12 columns is about
 * 110; a longer line means the file is not a CSV of klines or funding rates (a binary,
 * `/dev/zero`), and stopping here bounds the memory a line can take.
 */
export const MAX_LINE_CHARS = 4096;

/** Most bytes decompressed from one `.gz` file (16 GiB): a gzip bomb ends here. */
export const MAX_DECOMPRESSED_BYTES = 16 * 1024 ** 3;

/** What a non-regular file is, for an error message. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return st.isFile() ? 'a regular file' : 'not a regular file';
}

/**
 * Open a file for reading only if it is a regular file of at most MAX_MARKET_DATA_FILE_BYTES.
 * O_NONBLOCK makes opening a FIFO return at once (a blocking open would wait for a writer
 * forever and hold a libuv thread); it changes nothing for regular files.
 * @throws CandleFileError (line 0): missing, unreadable, not a regular file, too large
 */
async function openRegularFile(file: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new CandleFileError(file, 0, 'file not found');
    if (code === 'EISDIR') throw new CandleFileError(file, 0, 'not a regular file (a directory)');
    throw new CandleFileError(file, 0, `cannot open the file (${code ?? (e as Error).message})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new CandleFileError(file, 0, `not a regular file (${fileKind(st)})`);
    if (st.size > MAX_MARKET_DATA_FILE_BYTES) throw new CandleFileError(file, 0, `the file is ${st.size} bytes, above the limit of ${MAX_MARKET_DATA_FILE_BYTES} (2 GiB)`);
    return fh;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/**
 * The lines of a text file (`.gz` decompressed), without their `\n` / `\r\n` ends, as
 * readline gives them (a last line without an end is yielded too), in batches: the lines each
 * read chunk completes, with the number of the batch's first line (1-based). Bounded: a line
 * longer than MAX_LINE_CHARS, more than MAX_DECOMPRESSED_BYTES, a corrupt or truncated gzip, a
 * read error each throw CandleFileError naming the line where it happened, after the lines
 * before it were yielded. Batches spare the readers one promise per line.
 */
async function* lineBatches(file: string): AsyncGenerator<{ first: number; lines: string[] }> {
  const fh = await openRegularFile(file);
  const raw = fh.createReadStream({ autoClose: false, highWaterMark: 64 * 1024 });
  const gz = file.endsWith('.gz') ? createGunzip() : null;
  if (gz) {
    raw.on('error', (e) => gz.destroy(e));
    raw.pipe(gz);
  }
  const input: AsyncIterable<Buffer> = gz ?? raw;
  const decoder = new StringDecoder('utf8');
  const tooLong = (n: number) => new CandleFileError(file, n, `the line is longer than ${MAX_LINE_CHARS} characters: not a CSV of klines or funding rates`);
  let n = 0;
  let pending = '';
  let bytes = 0;
  try {
    try {
      for await (const chunk of input) {
        bytes += chunk.length;
        if (bytes > MAX_DECOMPRESSED_BYTES) throw new CandleFileError(file, n + 1, `more than ${MAX_DECOMPRESSED_BYTES} bytes of data: not a kline or funding file`);
        pending += decoder.write(chunk);
        const batch = { first: n + 1, lines: [] as string[] };
        let start = 0;
        for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n', start)) {
          n++;
          if (i - start > MAX_LINE_CHARS + 1) {
            if (batch.lines.length) yield batch;
            throw tooLong(n);
          }
          const line = pending.slice(start, i);
          start = i + 1;
          batch.lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
        }
        pending = pending.slice(start);
        if (batch.lines.length) yield batch;
        if (pending.length > MAX_LINE_CHARS + 1) throw tooLong(n + 1);
      }
    } catch (e) {
      if (e instanceof CandleFileError) throw e;
      const reason = (e as Error).message;
      throw new CandleFileError(file, n + 1, gz ? `the gzip data is corrupt or truncated (${reason})` : `read failed (${reason})`);
    }
    pending += decoder.end();
    if (pending.length > MAX_LINE_CHARS + 1) throw tooLong(n + 1);
    if (pending) yield { first: n + 1, lines: [pending.endsWith('\r') ? pending.slice(0, -1) : pending] };
  } finally {
    gz?.destroy();
    raw.destroy();
    await fh.close().catch(() => undefined);
  }
}

/** The lines of a text file one by one ({@link lineBatches}: same ends, bounds and errors). */
async function* lines(file: string): AsyncGenerator<string> {
  for await (const b of lineBatches(file)) yield* b.lines;
}

/**
 * The first line of a candle or funding file that is not blank (trimmed), or null when it
 * has none; reads no further than that line.
 * @throws CandleFileError as the readers do (missing, not a regular file, too large, a line
 *   too long, corrupt gzip)
 */
export async function firstLine(file: string): Promise<string | null> {
  for await (const line of lines(file)) if (line.trim()) return line.trim();
  return null;
}

/**
 * The candles of a kline CSV (`open_time,open,high,low,close,volume[,...]`, the layout of
 * shared/data and data.binance.vision; `.csv.gz` too), in file order, in batches (the rows of
 * one read chunk: readers that go through a whole file spare one promise per candle).
 * Checks each row (plain decimals, OHLC consistency compared exactly on the decimal text,
 * increasing open times) and throws CandleFileError with the line number on the first bad
 * one, after yielding the candles before it.
 * @param interval label carried on each candle, e.g. "1m".
 */
export async function* readCandleBatches(file: string, interval = '1m'): AsyncGenerator<Candle[]> {
  let prev = -1;
  for await (const batch of lineBatches(file)) {
    const out: Candle[] = [];
    let n = batch.first - 1;
    try {
      for (const line of batch.lines) {
        n++;
        if (!line.trim()) continue;
        if (n === 1 && /open_time|open/i.test(line) && !/^\d/.test(line)) continue;
        const cols = line.split(',');
        if (cols.length < 6) throw new CandleFileError(file, n, `expected at least 6 columns, got ${cols.length}`);
        const openTime = /^\d{1,15}$/.test(cols[0].trim()) ? Number(cols[0]) : NaN;
        if (!Number.isSafeInteger(openTime)) throw new CandleFileError(file, n, `open_time "${cols[0]}" is not an integer`);
        if (openTime <= prev) throw new CandleFileError(file, n, `open_time ${openTime} is not after the previous ${prev}`);
        prev = openTime;
        const open = decimalToken(cols[1], file, n, 'open');
        const high = decimalToken(cols[2], file, n, 'high');
        const low = decimalToken(cols[3], file, n, 'low');
        const close = decimalToken(cols[4], file, n, 'close');
        const volume = decimalToken(cols[5], file, n, 'volume');
        if (!isConsistentPlainBar(open, high, low, close)) throw new CandleFileError(file, n, 'OHLC values are inconsistent');
        out.push({ openTime, interval, open, high, low, close, volume });
      }
    } catch (e) {
      if (out.length) yield out;
      throw e;
    }
    if (out.length) yield out;
  }
}

/**
 * Stream the candles of a kline CSV one by one, in file order: {@link readCandleBatches}
 * (same layout, checks and errors).
 * @param interval label carried on each candle, e.g. "1m".
 */
export async function* readCandles(file: string, interval = '1m'): AsyncGenerator<Candle> {
  for await (const batch of readCandleBatches(file, interval)) yield* batch;
}

/** Count the data rows of a candle file (for progress bars). */
export async function countCandles(file: string): Promise<number> {
  let n = 0;
  let first = true;
  for await (const line of lines(file)) {
    if (first) {
      first = false;
      if (!/^\d/.test(line)) continue;
    }
    if (line.trim()) n++;
  }
  return n;
}

/** One funding settlement: `rate` is the fraction per interval (0.0001 = 0.01 %). */
export interface FundingRate {
  fundingTime: number;
  rate: string;
}

/**
 * Read a Binance funding-rate CSV (`calc_time,funding_interval_hours,last_funding_rate`).
 * `calc_time` may carry a few ms of jitter; the settlement time is rounded down to the
 * hour. Returns settlements sorted by time.
 */
export async function readFundingRates(file: string): Promise<FundingRate[]> {
  const out: FundingRate[] = [];
  let n = 0;
  for await (const line of lines(file)) {
    n++;
    if (!line.trim() || (n === 1 && !/^\d/.test(line))) continue;
    const [calc, , rateTok] = line.split(',');
    const t = /^\d{1,15}$/.test((calc ?? '').trim()) ? Number(calc) : NaN;
    if (!Number.isSafeInteger(t)) throw new CandleFileError(file, n, `calc_time "${calc}" is not an integer`);
    const tok = rateTok?.trim() ?? '';
    // Binance's files write small rates in exponent form ("8.4E-7"); events carry plain decimals.
    if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(tok)) throw new CandleFileError(file, n, `rate "${tok}" is not a number`);
    out.push({ fundingTime: t - (t % 3_600_000), rate: str(dec(tok)) });
  }
  return out.sort((a, b) => a.fundingTime - b.fundingTime);
}
