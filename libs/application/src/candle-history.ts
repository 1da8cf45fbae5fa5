import { type Candle, CandlesPage, type CandlesRequest, type ReplayStartRequest, Subjects, parseEvent } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';
import { readCandles } from '@bulwark/market-data';
import { requestJson } from '@bulwark/messaging';
import type { NatsConnection } from 'nats';

/** Injection token of the candle history signals warms its strategies up from. */
export const CANDLE_HISTORY = Symbol('CANDLE_HISTORY');

/**
 * The closed candles a market-data source has served: what a restarted strategy needs to see
 * again before it judges the next bar (its indicators carry the whole history: ATR smoothing
 * never forgets).
 */
export interface CandleHistory {
  /**
   * Closed candles of `venue`/`symbol` with `from <= openTime < to` (epoch ms), in time order.
   * @throws Error when the source cannot answer (NoAnswerError / RefusedError over NATS)
   */
  candles(venue: string, symbol: string, from: number, to: number): Promise<Candle[]>;
}

/** A candle history read from one candle file (a replay's or a backtest's). */
export class FileCandleHistory implements CandleHistory {
  constructor(private readonly file: string) {}

  async candles(_venue: string, _symbol: string, from: number, to: number): Promise<Candle[]> {
    const out: Candle[] = [];
    for await (const c of readCandles(this.file)) {
      if (c.openTime >= to) break;
      if (c.openTime >= from) out.push(c);
    }
    return out;
  }
}

/** The market-data source has no candles for the request (no replay of that instrument, no live history). */
export class NoCandleHistoryError extends Error {
  readonly code = 'NO_HISTORY';
  constructor(message: string) {
    super(message);
    this.name = 'NoCandleHistoryError';
  }
}

/**
 * Market-data's side of `bulwark.market-data.candles`: a page of the candles it serves.
 * - While the live feed runs: the venue's closed 1m candles over REST (`live`).
 * - Otherwise: the candle file of the newest replay run of that venue and symbol recorded in
 *   the log (`ReplayStarted`), cached in memory (one file), so the pages of one warm-up read
 *   the file once.
 * @throws NoCandleHistoryError when neither is there
 */
export class CandleHistoryServer {
  private cached: { file: string; candles: Candle[] } | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly live: () => { history(symbol: string, from: number, to: number, limit: number): Promise<{ candles: Candle[]; next: number | null }> } | null = () => null,
  ) {}

  async page(req: CandlesRequest): Promise<CandlesPage> {
    const live = this.live();
    if (live) return live.history(req.symbol, req.from, req.to, req.limit);
    const file = await this.replayFile(req.venue, req.symbol);
    if (!file) throw new NoCandleHistoryError(`no replay of ${req.venue} ${req.symbol} in the log and no live feed: no candles to serve`);
    if (this.cached?.file !== file) {
      const candles: Candle[] = [];
      for await (const c of readCandles(file)) candles.push(c);
      this.cached = { file, candles };
    }
    const all = this.cached.candles;
    // First candle at or after `from` (binary search: the file is in time order).
    let lo = 0;
    for (let hi = all.length; lo < hi; ) {
      const mid = (lo + hi) >>> 1;
      if (all[mid].openTime < req.from) lo = mid + 1;
      else hi = mid;
    }
    const candles: Candle[] = [];
    for (let i = lo; i < all.length && all[i].openTime < req.to && candles.length < req.limit; i++) candles.push(all[i]);
    const after = all[lo + candles.length];
    return { candles, next: candles.length === req.limit && after && after.openTime < req.to ? after.openTime : null };
  }

  /** The candle file of the newest replay run of `venue`/`symbol` recorded in the log. */
  private async replayFile(venue: string, symbol: string): Promise<string | null> {
    let file: string | null = null;
    for await (const e of this.store.readAll({ categories: ['replay'] })) {
      if (e.type !== 'ReplayStarted') continue;
      const parsed = parseEvent(e.type, e.data, e.metadata.schemaVersion);
      if (!parsed.ok) continue;
      const r = (parsed.event.data as { request: ReplayStartRequest }).request;
      if (r.venue === venue && r.symbol === symbol) file = r.candlesFile;
    }
    return file;
  }
}

/** The candle history of the running market-data service, over NATS, page by page. */
export class NatsCandleHistory implements CandleHistory {
  constructor(private readonly nc: NatsConnection, private readonly pageSize = 1000) {}

  async candles(venue: string, symbol: string, from: number, to: number): Promise<Candle[]> {
    const out: Candle[] = [];
    for (let cursor: number | null = from; cursor !== null && cursor < to; ) {
      // NO_HISTORY comes back as a RefusedError with that code (the caller starts cold on it).
      // A page per request: a month of 1m candles is far above NATS's 1 MiB message limit.
      const page = CandlesPage.parse(await requestJson(this.nc, Subjects.candles, { venue, symbol, from: cursor, to, limit: this.pageSize }, 30_000));
      out.push(...page.candles);
      cursor = page.next;
    }
    return out;
  }
}
