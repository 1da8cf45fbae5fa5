import type { Candle, MarketTick, ReplayStartRequest } from '@bulwark/contracts';
import { pathSteps } from '@bulwark/domain';
import { type FundingRate, readCandles } from '@bulwark/market-data';
import type { ReplayClock } from '@bulwark/messaging';

/** Progress of a replay, reported as it runs. */
export interface ReplayCounters {
  candles: number;
  steps: number;
  marketTime: number;
}

export interface ReplayHooks {
  /** After each candle's four steps. */
  onCandle?(candle: Candle, counters: ReplayCounters): void | Promise<void>;
  /** After each step (e.g. publishing the mark price for observers). */
  onStep?(tick: MarketTick): void;
  /** An operator command's outcome. */
  onCommand?(subject: string, at: number, error: Error | null): void;
  /** True to stop early (e.g. Ctrl-C). */
  stopped?(): boolean;
}

/** The interval of a candle series in ms, from its first two bars (60,000 for 1m). */
export function intervalOf(a: Candle, b: Candle | undefined): number {
  return b ? b.openTime - a.openTime : 60_000;
}

/**
 * Where a replay learns the funding settlements: the rate settling at a candle's open time,
 * or undefined when none settles then. A live feed answers from the venue's funding stream
 * (and may wait for it); a file replay uses the recorded list.
 */
export interface FundingSource {
  rateAt(fundingTime: number): string | undefined | Promise<string | undefined>;
}

/**
 * What to replay: the run, the instrument, the window [from, to) and the operator schedule;
 * the candles come from `source` when given (a live feed), else from `candlesFile`.
 * `intervalMs` fixes the bar interval (60,000 for 1m): each candle is then replayed as soon as
 * it arrives, with no look-ahead (what a live source needs). Without it the interval is
 * learnt from the next candle of the series (one candle of look-ahead, as for files).
 */
export type ReplayRequest = Pick<ReplayStartRequest, 'runId' | 'venue' | 'symbol' | 'from' | 'to' | 'schedule'> & {
  candlesFile?: string;
  source?: AsyncIterable<Candle>;
  intervalMs?: number;
};

/**
 * Replay candles as market time through a replay clock: each candle becomes its
 * four path steps; a funding settlement rides on the step at its time; scheduled operator
 * commands are sent before the first step at or after their time. The same function drives
 * the distributed services (over NATS), the in-process backtest and the live feed, so all see
 * the same steps in the same order.
 * @param funding the recorded settlements (a file replay), or a `FundingSource` (asked once per candle)
 * @throws Error when neither `source` nor `candlesFile` is given; whatever the clock throws
 */
export async function replayCandles(
  clock: ReplayClock,
  req: ReplayRequest,
  funding: FundingRate[] | FundingSource,
  hooks: ReplayHooks = {},
): Promise<ReplayCounters> {
  if (!req.source && !req.candlesFile) throw new Error('replayCandles: a candle source or a candle file is needed');
  await clock.prime();
  const fundingAt = Array.isArray(funding) ? new Map(funding.map((f) => [f.fundingTime, f.rate])) : null;
  const fundingSource = Array.isArray(funding) ? null : (funding as FundingSource);
  const schedule = [...req.schedule].sort((a, b) => a.at - b.at);
  const counters: ReplayCounters = { candles: 0, steps: 0, marketTime: 0 };
  let prevClose: string | null = null;
  let pending: Candle | null = null;
  const run = async (candle: Candle, intervalMs: number) => {
    const rate = fundingAt ? fundingAt.get(candle.openTime) : await fundingSource!.rateAt(candle.openTime);
    for (const step of pathSteps(candle, prevClose, intervalMs)) {
      while (schedule.length && schedule[0].at <= step.ts) {
        const cmd = schedule.shift()!;
        // Operator commands run in market time: they carry the step's time unless they say otherwise.
        const payload = cmd.payload && typeof cmd.payload === 'object' && !('at' in cmd.payload) ? { ...cmd.payload, at: step.ts } : cmd.payload;
        // A refused command (e.g. resume when nothing is paused) is the operator's answer, not a replay failure.
        await clock.command(cmd.subject, payload).then(
          () => hooks.onCommand?.(cmd.subject, step.ts, null),
          (e: Error) => hooks.onCommand?.(cmd.subject, step.ts, e),
        );
      }
      const tick: MarketTick = {
        runId: req.runId, venue: req.venue, symbol: req.symbol, seq: counters.steps++, ts: step.ts, candleOpenTime: candle.openTime,
        pathIndex: step.pathIndex, from: step.from, to: step.to, gap: step.gap,
        candle: step.pathIndex === 3 ? candle : null,
        funding: step.pathIndex === 0 && rate !== undefined ? { fundingTime: candle.openTime, rate } : null,
      };
      await clock.step(tick);
      hooks.onStep?.(tick);
    }
    prevClose = candle.close;
    counters.candles++;
    counters.marketTime = candle.openTime;
    await hooks.onCandle?.(candle, counters);
  };
  const candles = req.source ?? readCandles(req.candlesFile!);
  const outside = (c: Candle) => (req.from !== null && c.openTime < req.from) || (req.to !== null && c.openTime >= req.to);
  if (req.intervalMs !== undefined) {
    // A fixed interval: every candle is replayed as soon as it arrives (a live source).
    for await (const candle of candles) {
      if (req.to !== null && candle.openTime >= req.to) break; // a live source does not end by itself
      if (outside(candle)) {
        if (counters.candles === 0) prevClose = candle.close;
        continue;
      }
      if (hooks.stopped?.()) break;
      await run(candle, req.intervalMs);
    }
  } else {
    // One candle of look-ahead only to learn the interval; nothing of the next bar is revealed.
    for await (const candle of candles) {
      if (outside(candle)) {
        if (pending === null) prevClose = candle.close;
        continue;
      }
      if (hooks.stopped?.()) break;
      if (pending) await run(pending, intervalOf(pending, candle));
      pending = candle;
    }
    if (pending && !hooks.stopped?.()) await run(pending, intervalOf(pending, undefined));
  }
  await clock.quiesce();
  return counters;
}
