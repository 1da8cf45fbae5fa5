import type { Candle } from '@bulwark/contracts';
import { pathSteps, type PaperStep, type PathStep } from '@bulwark/domain';
import { readCandles } from '@bulwark/market-data';
import { startOwnClock, type OwnClock } from './own-clock';

/** What one clock step (or walk) did: the order updates pushed per account and the engine's events as JSON. */
export interface StepReport {
  orderUpdates: Record<string, number>;
  events: unknown[];
}

/** The clock of a local futures venue: prices move only when told, or by themselves with the `speed` option. */
export interface LocalVenueClock {
  /** Apply one explicit path step of `symbol` (and a funding settlement at it); `step.barVolume` feeds VOLUME_SHARE liquidity. */
  step(symbol: string, step: PaperStep, funding: { rate: string } | null): StepReport;
  /** Walk `n` path steps of the candle file (4 per candle), with the file's funding settlements. */
  advance(n: number): StepReport;
  /** Walk every path step of the candle file whose ts (ms) is <= `ts`, as `advance` does. */
  advanceTo(ts: number): StepReport;
  /** Market time: the ts of the last step (0 before any). */
  now(): number;
  /** Path steps of the candle file not walked yet. */
  remaining(): number;
}

/**
 * The candle file a local futures venue's clock walks: the bars before `startTime` are kline
 * history, the rest is the path, 4 steps a bar (`pathSteps`: open, the nearer extreme, the
 * other extreme, close), each bar as long as the gap to the next bar's open.
 */
export class CandlePath {
  /** The bars' interval (ms): the first two bars' distance, 1 minute for a file of one bar or none. */
  readonly intervalMs: number;
  private ci: number;
  private pi = 0;

  private constructor(
    private readonly candles: Candle[],
    startTime: number | undefined,
  ) {
    const start = startTime ?? candles[0]?.openTime ?? 0;
    const i = candles.findIndex((c) => c.openTime >= start);
    this.ci = i < 0 ? candles.length : i;
    this.intervalMs = candles.length > 1 ? candles[1].openTime - candles[0].openTime : 60_000;
  }

  /** Read the candle file (none: an empty path, the clock moves only by explicit steps). @throws what readCandles throws for a file that is not a candle file */
  static async load(candlesFile: string | undefined, startTime?: number): Promise<CandlePath> {
    const candles: Candle[] = [];
    if (candlesFile) for await (const c of readCandles(candlesFile)) candles.push(c);
    return new CandlePath(candles, startTime);
  }

  /** The bars before the path's first step (kline history for the venue's book). */
  history(): Candle[] {
    return this.candles.slice(0, this.ci);
  }

  /** The next path step, its bar and its index in the bar (0..3), or null at the end. */
  peek(): { step: PathStep; candle: Candle; pathIndex: number } | null {
    if (this.ci >= this.candles.length) return null;
    const c = this.candles[this.ci];
    const next = this.candles[this.ci + 1];
    const step = pathSteps(c, this.ci > 0 ? this.candles[this.ci - 1].close : null, next ? next.openTime - c.openTime : this.intervalMs)[this.pi];
    return { step, candle: c, pathIndex: this.pi };
  }

  /** Move past the step `peek` gave. */
  consume(): void {
    if (++this.pi === 4) {
      this.pi = 0;
      this.ci++;
    }
  }

  /** Path steps not walked yet. */
  remaining(): number {
    return Math.max(0, (this.candles.length - this.ci) * 4 - this.pi);
  }
}

/** What the venue gives its clock: how it applies a step, who has accounts, the funding schedule, its market time. */
export interface CandleClockHost {
  /** The symbol the candle file prices. */
  symbol: string;
  /** The accounts whose order updates a walk counts (each starts at 0). */
  accountIds(): Iterable<string>;
  /** The funding rate settling at a bar's open, if any. */
  fundingAt(openTime: number): string | null;
  /** Apply one path step (the venue's matching, pushes and market data). */
  processStep(symbol: string, step: PaperStep, fundingRate: string | null, candle: { c: Candle; pathIndex: number } | null, market: boolean): StepReport;
  /** Market time (ms). */
  now(): number;
}

/**
 * The clock of a local futures venue over its candle path: explicit steps, and walks of the
 * path with the file's funding at each bar's first step.
 */
export function candleClock(path: CandlePath, h: CandleClockHost): LocalVenueClock {
  const merge = (into: StepReport, r: StepReport) => {
    for (const [k, v] of Object.entries(r.orderUpdates)) into.orderUpdates[k] = (into.orderUpdates[k] ?? 0) + v;
    into.events.push(...r.events);
  };
  /** Walk the path's steps while `more(step, walked)`. */
  const walk = (more: (s: PathStep, walked: number) => boolean): StepReport => {
    const out: StepReport = { orderUpdates: {}, events: [] };
    for (const id of h.accountIds()) out.orderUpdates[id] = 0;
    for (let k = 0, p = path.peek(); p && more(p.step, k); k++, p = path.peek()) {
      const rate = p.pathIndex === 0 ? h.fundingAt(p.candle.openTime) : null;
      merge(out, h.processStep(h.symbol, { ...p.step, barVolume: p.candle.volume }, rate, { c: p.candle, pathIndex: p.pathIndex }, true));
      path.consume();
    }
    return out;
  };
  return {
    step: (symbol, step, f) => h.processStep(symbol, step, f ? f.rate : null, null, true),
    advance: (n) => walk((_, walked) => walked < n),
    advanceTo: (ts) => walk((s) => s.ts <= ts),
    now: () => h.now(),
    remaining: () => path.remaining(),
  };
}

/**
 * With a speed (`ownClockSpeed`, validated before the port opens), market time runs at
 * `speed` × wall time from the path's next step; null without a speed or an empty path.
 */
export function startPathOwnClock(path: CandlePath, clock: LocalVenueClock, speed: number | null, wall: () => number): OwnClock | null {
  const first = path.peek();
  return speed !== null && first ? startOwnClock({ speed, marketStart: first.step.ts, advanceTo: (ts) => clock.advanceTo(ts), wall }) : null;
}
