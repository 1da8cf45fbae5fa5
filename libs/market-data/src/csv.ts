import { createReadStream, existsSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { Candle } from '@bulwark/contracts';
import { dec, isConsistentBar, str } from '@bulwark/domain';

/** A candle file row that is not a valid candle: the file, line and reason. */
export class CandleFileError extends Error {
  constructor(readonly file: string, readonly line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'CandleFileError';
  }
}

const DECIMAL = /^(0|[1-9]\d*)(\.\d+)?$/;

/** Normalise a CSV number token to a plain decimal string ("56777.0" stays, "1e-3" is refused). */
function decimalToken(tok: string, file: string, line: number, field: string): string {
  const t = tok.trim();
  if (!DECIMAL.test(t)) throw new CandleFileError(file, line, `${field} "${t}" is not a plain decimal`);
  return t;
}

function lines(file: string): AsyncIterable<string> {
  if (!existsSync(file)) throw new CandleFileError(file, 0, 'file not found');
  const raw = createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  return createInterface({ input, crlfDelay: Infinity });
}

/**
 * Stream the candles of a kline CSV (`open_time,open,high,low,close,volume[,...]`, the
 * layout of shared/data and data.binance.vision; `.csv.gz` too), in file order.
 * Checks each row (OHLC consistency, increasing open times) and throws CandleFileError
 * with the line number on the first bad one.
 * @param interval label carried on each candle, e.g. "1m".
 */
export async function* readCandles(file: string, interval = '1m'): AsyncGenerator<Candle> {
  let n = 0;
  let prev = -1;
  for await (const line of lines(file)) {
    n++;
    if (!line.trim()) continue;
    if (n === 1 && /open_time|open/i.test(line) && !/^\d/.test(line)) continue;
    const cols = line.split(',');
    if (cols.length < 6) throw new CandleFileError(file, n, `expected at least 6 columns, got ${cols.length}`);
    const openTime = /^\d{1,15}$/.test(cols[0].trim()) ? Number(cols[0]) : NaN;
    if (!Number.isSafeInteger(openTime)) throw new CandleFileError(file, n, `open_time "${cols[0]}" is not an integer`);
    if (openTime <= prev) throw new CandleFileError(file, n, `open_time ${openTime} is not after the previous ${prev}`);
    prev = openTime;
    const [open, high, low, close, volume] = ['open', 'high', 'low', 'close', 'volume'].map((f, i) =>
      decimalToken(cols[i + 1], file, n, f),
    );
    const [o, h, l, c] = [open, high, low, close].map(dec);
    if (!isConsistentBar(o, h, l, c)) throw new CandleFileError(file, n, 'OHLC values are inconsistent');
    yield { openTime, interval, open, high, low, close, volume };
  }
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
