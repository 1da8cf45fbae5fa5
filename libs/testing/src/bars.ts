import type { Candle } from '@bulwark/contracts';
import { readCandles } from '@bulwark/market-data';
import { BTCUSDT_FILES } from './data';

/** Which recorded bars {@link realBars} returns. Times are epoch ms or ISO-8601 strings (e.g. `2025-11-21T00:00:00Z`). */
export interface BarWindow {
  /** First open time included. Default: the file's first bar. */
  from?: number | string;
  /** Open time where the window ends (excluded). Default: the file's end. */
  to?: number | string;
  /** A kline CSV (`.csv` or `.csv.gz`). Default: {@link BTCUSDT_FILES}`.candles1m` (BTCUSDT 1m, 2025-11-10 → 2025-12-10). */
  file?: string;
  /** The interval label each candle carries. Default: `1m`. */
  interval?: string;
}

const ms = (t: number | string): number => (typeof t === 'number' ? t : Date.parse(t));

/**
 * The recorded bars whose open time is in [from, to), in file order, read with
 * `@bulwark/market-data`'s `readCandles` (every row checked; the file is read up to `to` only).
 * Each is a `Candle`: `{ openTime (epoch ms), interval, open, high, low, close (USDT, decimal
 * strings as in the file), volume (base asset) }`.
 * @throws CandleFileError when the file is missing or a row is malformed
 */
export async function realBars(window: BarWindow = {}): Promise<Candle[]> {
  const from = window.from === undefined ? -Infinity : ms(window.from);
  const to = window.to === undefined ? Infinity : ms(window.to);
  const out: Candle[] = [];
  for await (const c of readCandles(window.file ?? BTCUSDT_FILES.candles1m, window.interval ?? '1m')) {
    if (c.openTime >= to) break;
    if (c.openTime >= from) out.push(c);
  }
  return out;
}
