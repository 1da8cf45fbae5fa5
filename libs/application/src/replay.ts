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
 * Replay recorded candles as market time through a replay clock: each candle becomes its
 * four path steps; a funding settlement rides on the step at its time; scheduled operator
 * commands are sent before the first step at or after their time. The same function drives
 * the distributed services (over NATS) and the in-process backtest, so both see the same
 * steps in the same order.
 */
export async function replayCandles(
  clock: ReplayClock,
  req: Pick<ReplayStartRequest, 'runId' | 'venue' | 'symbol' | 'candlesFile' | 'from' | 'to' | 'schedule'>,
  funding: FundingRate[],
  hooks: ReplayHooks = {},
): Promise<ReplayCounters> {
  await clock.prime();
  const fundingAt = new Map(funding.map((f) => [f.fundingTime, f.rate]));
  const schedule = [...req.schedule].sort((a, b) => a.at - b.at);
  const counters: ReplayCounters = { candles: 0, steps: 0, marketTime: 0 };
  let prevClose: string | null = null;
  let pending: Candle | null = null;
  const run = async (candle: Candle, next: Candle | undefined) => {
    const rate = fundingAt.get(candle.openTime);
    for (const step of pathSteps(candle, prevClose, intervalOf(candle, next))) {
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
  // One candle of look-ahead only to learn the interval; nothing of the next bar is revealed.
  for await (const candle of readCandles(req.candlesFile)) {
    if ((req.from !== null && candle.openTime < req.from) || (req.to !== null && candle.openTime >= req.to)) {
      if (pending === null) prevClose = candle.close;
      continue;
    }
    if (hooks.stopped?.()) break;
    if (pending) await run(pending, candle);
    pending = candle;
  }
  if (pending && !hooks.stopped?.()) await run(pending, undefined);
  await clock.quiesce();
  return counters;
}
