import { type Candle, CandlesPage, Subjects } from '@bulwark/contracts';
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

/** The candle history of the running market-data service, over NATS, page by page. */
export class NatsCandleHistory implements CandleHistory {
  constructor(private readonly nc: NatsConnection, private readonly pageSize = 1000) {}

  async candles(venue: string, symbol: string, from: number, to: number): Promise<Candle[]> {
    const out: Candle[] = [];
    for (let cursor: number | null = from; cursor !== null && cursor < to; ) {
      // A page per request: a month of 1m candles is far above NATS's 1 MiB message limit.
      const page = CandlesPage.parse(await requestJson(this.nc, Subjects.candles, { venue, symbol, from: cursor, to, limit: this.pageSize }, 30_000));
      out.push(...page.candles);
      cursor = page.next;
    }
    return out;
  }
}
