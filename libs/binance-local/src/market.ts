import type { Candle } from '@bulwark/contracts';
import { dec, max, min, str } from '@bulwark/domain';
import type { FundingRate } from '@bulwark/market-data';

/** One kline in Binance's units (open time ms, decimal strings). */
export interface Kline {
  t: number;
  o: string;
  h: string;
  l: string;
  c: string;
  v: string;
}

/** Binance kline intervals (GET /fapi/v1/klines `interval`) in ms. */
export const KLINE_INTERVALS: Record<string, number> = {
  '1m': 60_000, '3m': 180_000, '5m': 300_000, '15m': 900_000, '30m': 1_800_000,
  '1h': 3_600_000, '2h': 7_200_000, '4h': 14_400_000, '6h': 21_600_000, '8h': 28_800_000, '12h': 43_200_000, '1d': 86_400_000,
};

/**
 * The klines the venue has "seen" for one symbol: history (recorded candles before the clock's
 * start) plus bars built from the steps it processed. A step advanced from the candle file
 * closes the bar with the recorded candle itself (volume included) on its close step; steps
 * applied explicitly build the bar from their prices (volume 0) and close it on the bar's
 * close-time step (ts ≡ interval − 1) or when a step of a later bar arrives.
 */
export class KlineBook {
  readonly closed: Kline[] = [];
  partial: Kline | null = null;

  constructor(readonly intervalMs = 60_000) {}

  /**
   * Record a step's price. @returns the bar after the step and whether it closed.
   * @param candle the recorded candle when the step comes from the file, with its path index
   */
  onStep(ts: number, price: string, candle: { c: Candle; pathIndex: number } | null): { k: Kline; closed: boolean } {
    const bucket = ts - (ts % this.intervalMs);
    if (this.partial && this.partial.t !== bucket) {
      this.closed.push(this.partial);
      this.partial = null;
    }
    if (!this.partial) this.partial = { t: bucket, o: price, h: price, l: price, c: price, v: '0' };
    else {
      const p = dec(price);
      this.partial = { ...this.partial, h: str(max(dec(this.partial.h), p)), l: str(min(dec(this.partial.l), p)), c: price };
    }
    const closes = candle ? candle.pathIndex === 3 : ts % this.intervalMs === this.intervalMs - 1;
    if (!closes) return { k: this.partial, closed: false };
    const k: Kline = candle ? { t: candle.c.openTime, o: candle.c.open, h: candle.c.high, l: candle.c.low, c: candle.c.close, v: candle.c.volume } : this.partial;
    this.closed.push(k);
    this.partial = null;
    return { k, closed: true };
  }

  /** Every known bar (closed, then the forming one), oldest first. */
  all(): Kline[] {
    return this.partial ? [...this.closed, this.partial] : this.closed;
  }

  /**
   * `GET /fapi/v1/klines` rows (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Kline-Candlestick-Data):
   * `[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote, "0"]`.
   * Bars of a coarser interval are aggregated from the book's bars. Without startTime the
   * latest `limit` bars (up to endTime) are returned, with it the first `limit` from it.
   */
  query(intervalMs: number, startTime: number | null, endTime: number | null, limit: number): unknown[][] {
    let bars = this.all();
    if (intervalMs !== this.intervalMs) {
      const agg: Kline[] = [];
      for (const b of bars) {
        const t = b.t - (b.t % intervalMs);
        const last = agg[agg.length - 1];
        if (last && last.t === t) {
          agg[agg.length - 1] = { t, o: last.o, h: str(max(dec(last.h), dec(b.h))), l: str(min(dec(last.l), dec(b.l))), c: b.c, v: str(dec(last.v).plus(dec(b.v))) };
        } else agg.push({ ...b, t });
      }
      bars = agg;
    }
    let sel = bars.filter((b) => (startTime === null || b.t >= startTime) && (endTime === null || b.t <= endTime));
    sel = startTime === null ? sel.slice(Math.max(0, sel.length - limit)) : sel.slice(0, limit);
    return sel.map((b) => [b.t, b.o, b.h, b.l, b.c, b.v, b.t + intervalMs - 1, '0', 0, '0', '0', '0']);
  }
}

/**
 * Funding settlements of one symbol: the recorded file's plus those applied by explicit steps.
 * `upTo(now)` are the past ones (GET /fapi/v1/fundingRate); `next(ts)` the upcoming settlement
 * the mark-price stream announces (`r`, `T`), or the next 8-hour boundary with the last known
 * rate when the file has none.
 */
export class FundingSchedule {
  private readonly rates: FundingRate[];
  private readonly applied = new Map<number, string>();

  constructor(rates: FundingRate[]) {
    this.rates = [...rates].sort((a, b) => a.fundingTime - b.fundingTime);
  }

  /** The recorded rate settling at exactly `ts`, if any. */
  at(ts: number): string | undefined {
    const i = this.index(ts);
    return i < this.rates.length && this.rates[i].fundingTime === ts ? this.rates[i].rate : undefined;
  }

  /** Record a settlement applied by an explicit step. */
  record(ts: number, rate: string): void {
    this.applied.set(ts, rate);
  }

  private index(ts: number): number {
    let lo = 0;
    let hi = this.rates.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rates[mid].fundingTime < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Settlements at or before `now`, oldest first (file and applied, de-duplicated by time). */
  upTo(now: number): FundingRate[] {
    const m = new Map<number, string>();
    for (const r of this.rates) {
      if (r.fundingTime > now) break;
      m.set(r.fundingTime, r.rate);
    }
    for (const [t, r] of this.applied) if (t <= now) m.set(t, r);
    return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([fundingTime, rate]) => ({ fundingTime, rate }));
  }

  /** The next settlement after `ts`: its time and rate. */
  next(ts: number): { time: number; rate: string } {
    const i = this.index(ts + 1);
    if (i < this.rates.length) return { time: this.rates[i].fundingTime, rate: this.rates[i].rate };
    const past = this.upTo(ts);
    const eight = 8 * 3_600_000;
    return { time: ts - (ts % eight) + eight, rate: past.length ? past[past.length - 1].rate : '0' };
  }
}
