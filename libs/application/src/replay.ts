import { type Candle, type DomainEvent, type EventData, event, type MarketTick, parseEvent, type ReplayStartRequest, Streams } from '@bulwark/contracts';
import { pathSteps } from '@bulwark/domain';
import { type EventStore, WrongExpectedRevisionError } from '@bulwark/event-store';
import { type FundingRate, readCandleBatches } from '@bulwark/market-data';
import { type Causation, clockSettingsFromEnv, secondsFromEnv, type EventAppender, type ReplayClock } from '@bulwark/messaging';

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
  /**
   * After every step that every service acknowledged, and after every operator command sent:
   * the point a run would resume from (market-data checkpoints it, see ReplayJournal).
   */
  onAcknowledged?(a: ReplayAcknowledged): void | Promise<void>;
}

/**
 * How far a run got: every step before `nextSeq` was acknowledged by every service, after
 * `candles` whole candles (the last one opened at `marketTime`, epoch ms; 0 before the first)
 * and the first `commandsSent` commands of the schedule in time order.
 */
export interface ReplayAcknowledged {
  nextSeq: number;
  candles: number;
  marketTime: number;
  commandsSent: number;
}

/** Where a resumed run takes up again (from its last checkpoint). */
export type ReplayResumePoint = Pick<ReplayAcknowledged, 'nextSeq' | 'commandsSent'>;

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
  /**
   * Take an interrupted run up again: steps before `nextSeq` are computed but not sent (and
   * their candles not reported), the first `commandsSent` scheduled commands are not sent again.
   * The services' last handled steps (ReplayClock.takeOver) move the start further on to where
   * the interrupted clock really was: a step below it reached every service that wanted it, and a
   * service that skipped it (nothing to watch then) must not see it later. A step sent again all
   * the same (a service restarted too) is answered by the transport without running it twice.
   */
  resume?: ReplayResumePoint;
  /**
   * A live feed's back-fill: asked once per candle as its replay begins; a candle whose moment
   * has passed (it closed before the feed started, or the feed is behind the market) gives ticks
   * that carry `backfill: true`. Default: none.
   */
  backfill?: (candle: Candle) => boolean;
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
  // A resumed run may have stopped in the middle of a cascade: let it run out first.
  if (req.resume) await clock.quiesce();
  // The journal's checkpoint trails the clock that died; the services know how far it got.
  const took = req.resume ? clock.takeOver(req.runId) : null;
  const resumeAt = Math.max(req.resume?.nextSeq ?? 0, took?.seq ?? 0);
  const fundingAt = Array.isArray(funding) ? new Map(funding.map((f) => [f.fundingTime, f.rate])) : null;
  const fundingSource = Array.isArray(funding) ? null : (funding as FundingSource);
  // The commands already sent before an interruption are the first ones in time order.
  const schedule = [...req.schedule].sort((a, b) => a.at - b.at).slice(req.resume?.commandsSent ?? 0);
  let commandsSent = req.resume?.commandsSent ?? 0;
  const counters: ReplayCounters = { candles: 0, steps: 0, marketTime: 0 };
  let prevClose: string | null = null;
  let pending: Candle | null = null;
  const run = async (candle: Candle, intervalMs: number) => {
    const rate = fundingAt ? fundingAt.get(candle.openTime) : await fundingSource!.rateAt(candle.openTime);
    const backfill = req.backfill?.(candle) === true; // one answer for the candle's four steps
    let sent = false;
    for (const step of pathSteps(candle, prevClose, intervalMs)) {
      if (counters.steps < resumeAt) {
        counters.steps++; // acknowledged before the interruption
        continue;
      }
      sent = true;
      while (schedule.length && schedule[0].at <= step.ts) {
        const cmd = schedule.shift()!;
        // Operator commands run in market time: they carry the step's time unless they say otherwise.
        const payload = cmd.payload && typeof cmd.payload === 'object' && !('at' in cmd.payload) ? { ...cmd.payload, at: step.ts } : cmd.payload;
        // A refused command (e.g. resume when nothing is paused) is the operator's answer, not a replay failure.
        await clock.command(cmd.subject, payload).then(
          () => hooks.onCommand?.(cmd.subject, step.ts, null),
          (e: Error) => hooks.onCommand?.(cmd.subject, step.ts, e),
        );
        const ack = hooks.onAcknowledged?.({ nextSeq: counters.steps, candles: counters.candles, marketTime: counters.marketTime, commandsSent: ++commandsSent });
        if (ack) await ack;
      }
      const tick: MarketTick = {
        runId: req.runId, venue: req.venue, symbol: req.symbol, seq: counters.steps++, ts: step.ts, candleOpenTime: candle.openTime,
        pathIndex: step.pathIndex, from: step.from, to: step.to, gap: step.gap,
        candle: step.pathIndex === 3 ? candle : null,
        funding: step.pathIndex === 0 && rate !== undefined ? { fundingTime: candle.openTime, rate } : null,
        barVolume: candle.volume,
        ...(backfill ? { backfill: true } : {}),
      };
      // At the step the old clock was in, the phases it already ran are not run again.
      // A step that sent nothing (every phase skipped) and hooks that return nothing are not
      // awaited: on a quiet step the promise would be most of the cost.
      const stepped = clock.stepUnlessSkipped(tick, took && tick.seq === took.seq ? took.donePhases : []);
      if (stepped) await stepped;
      hooks.onStep?.(tick);
      if (hooks.onAcknowledged) {
        const whole = step.pathIndex === 3;
        const ack = hooks.onAcknowledged({ nextSeq: counters.steps, candles: counters.candles + (whole ? 1 : 0), marketTime: whole ? candle.openTime : counters.marketTime, commandsSent });
        if (ack) await ack;
      }
    }
    prevClose = candle.close;
    counters.candles++;
    counters.marketTime = candle.openTime;
    if (sent) {
      const done = hooks.onCandle?.(candle, counters);
      if (done) await done;
    }
  };
  // A file is read in batches (one promise per read chunk, not per candle); a live source one by one.
  const batches = req.source ? oneByOne(req.source) : readCandleBatches(req.candlesFile!);
  const outside = (c: Candle) => (req.from !== null && c.openTime < req.from) || (req.to !== null && c.openTime >= req.to);
  if (req.intervalMs !== undefined) {
    // A fixed interval: every candle is replayed as soon as it arrives (a live source).
    feed: for await (const batch of batches) {
      for (const candle of batch) {
        if (req.to !== null && candle.openTime >= req.to) break feed; // a live source does not end by itself
        if (outside(candle)) {
          if (counters.candles === 0) prevClose = candle.close;
          continue;
        }
        if (hooks.stopped?.()) break feed;
        await run(candle, req.intervalMs);
      }
    }
  } else {
    // One candle of look-ahead only to learn the interval; nothing of the next bar is revealed.
    feed: for await (const batch of batches) {
      for (const candle of batch) {
        if (outside(candle)) {
          if (pending === null) prevClose = candle.close;
          continue;
        }
        if (hooks.stopped?.()) break feed;
        if (pending) await run(pending, intervalOf(pending, candle));
        pending = candle;
      }
    }
    if (pending && !hooks.stopped?.()) await run(pending, intervalOf(pending, undefined));
  }
  await clock.quiesce();
  return counters;
}

/** A candle source as batches of one (the shape {@link readCandleBatches} gives a file). */
async function* oneByOne(source: AsyncIterable<Candle>): AsyncGenerator<Candle[]> {
  for await (const c of source) yield [c];
}

/** A replay run whose journal is already in the log (run ids are never reused). */
export class ReplayRunExistsError extends Error {
  constructor(readonly runId: string) {
    super(`replay run ${runId} already exists in the event log (stream ${Streams.replay(runId)}); start a run with a new id`);
    this.name = 'ReplayRunExistsError';
  }
}

/**
 * Settings of the replay journal, from the environment:
 * - BULWARK_REPLAY_CHECKPOINT_SECONDS (default 5): at most one checkpoint per this much wall time
 *   (plus one right after each operator command), so a month's run writes tens of events, not
 *   one per step; a restart repeats at most this much work;
 * - BULWARK_REPLAY_RESUME_SECONDS (default: the stall limit, 600): an unfinished run whose journal
 *   was last written longer ago than this is not resumed at start-up but recorded ABANDONED
 *   (nobody waits for it any more: the demo gives up after the stall limit).
 * @throws RangeError naming the variable when a value is not a positive number
 */
export function journalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): { checkpointMs: number; resumeWithinMs: number } {
  const seconds = (name: string, fallbackMs: number) => secondsFromEnv(env, name, fallbackMs);
  return { checkpointMs: seconds('BULWARK_REPLAY_CHECKPOINT_SECONDS', 5_000), resumeWithinMs: seconds('BULWARK_REPLAY_RESUME_SECONDS', clockSettingsFromEnv(env).stall.stallLimitMs) };
}

/**
 * A replay run's journal in the event log, stream `replay-<runId>` (market-data is its only
 * writer): `ReplayStarted` (the request), `ReplayStepsAcknowledged` checkpoints, `ReplayResumed`,
 * `ReplayFinished`. A checkpoint that cannot be written (NATS down) is reported to `onError`
 * and the run goes on: a lost checkpoint only means more steps sent again after a restart.
 */
export class ReplayJournal {
  private lastAt: number;
  private last: ReplayAcknowledged | null;

  private constructor(
    private readonly appender: EventAppender,
    readonly runId: string,
    private readonly opts: { checkpointMs: number; now?: () => number; onError?: (e: Error) => void },
    from: ReplayAcknowledged | null,
  ) {
    this.last = from;
    this.lastAt = this.now();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private causation(tsEvent: number): Causation {
    const id = Streams.replay(this.runId);
    return { tsEvent, correlationId: id, causationId: id };
  }

  /**
   * Record a new run.
   * @throws ReplayRunExistsError when the run id has a journal already; the store's error when the log cannot be written
   */
  static async open(
    appender: EventAppender,
    req: ReplayStartRequest,
    total: number,
    opts: { checkpointMs: number; now?: () => number; onError?: (e: Error) => void },
  ): Promise<ReplayJournal> {
    const j = new ReplayJournal(appender, req.runId, opts, null);
    try {
      await appender.append(Streams.replay(req.runId), [event('ReplayStarted', { request: req, total })], 'no_stream', j.causation(req.from ?? 0));
    } catch (e) {
      if (e instanceof WrongExpectedRevisionError) throw new ReplayRunExistsError(req.runId);
      throw e;
    }
    return j;
  }

  /** The journal of an unfinished run found at start-up, continued from its last checkpoint. */
  static reopen(appender: EventAppender, run: UnfinishedReplay, opts: { checkpointMs: number; now?: () => number; onError?: (e: Error) => void }): ReplayJournal {
    return new ReplayJournal(appender, run.request.runId, opts, run.acknowledged);
  }

  private async write(e: DomainEvent, tsEvent: number): Promise<boolean> {
    try {
      await this.appender.append(Streams.replay(this.runId), [e], 'any', this.causation(tsEvent));
      return true;
    } catch (err) {
      this.opts.onError?.(err as Error);
      return false;
    }
  }

  /** A checkpoint when `checkpointMs` passed since the last one, or when a command was sent since. */
  async acknowledged(a: ReplayAcknowledged): Promise<void> {
    const commandSent = a.commandsSent !== (this.last?.commandsSent ?? 0);
    if (!commandSent && this.now() - this.lastAt < this.opts.checkpointMs) return;
    if (await this.write(event('ReplayStepsAcknowledged', a), a.marketTime)) {
      this.last = a;
      this.lastAt = this.now();
    }
  }

  async resumed(nextSeq: number, resumes: number): Promise<void> {
    await this.write(event('ReplayResumed', { nextSeq, resumes }), this.last?.marketTime ?? 0);
  }

  /** Record how the run ended (tried a few times: an unrecorded end means the run is resumed once more after a restart). */
  async finished(outcome: EventData<'ReplayFinished'>['outcome'], counters: { candles: number; steps: number }, detail: string | null): Promise<boolean> {
    const e = event('ReplayFinished', { outcome, candles: counters.candles, steps: counters.steps, detail: detail === null ? null : detail.slice(0, 2000) });
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await this.write(e, this.last?.marketTime ?? 0)) return true;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
    return false;
  }
}

/** A run found in the log without its ReplayFinished: its request, its last checkpoint and when its journal was last written. */
export interface UnfinishedReplay {
  request: ReplayStartRequest;
  total: number;
  /** The last checkpoint, null when the run stopped before its first. */
  acknowledged: ReplayAcknowledged | null;
  /** How often it was resumed already. */
  resumes: number;
  /** Wall time of the journal's last event (tsInit, epoch ms). */
  lastWrite: number;
}

/**
 * The replay runs of the log that have no ReplayFinished, oldest first (reads only the
 * `replay` category). A journal event that does not parse is skipped.
 */
export async function unfinishedReplays(store: EventStore): Promise<UnfinishedReplay[]> {
  const runs = new Map<string, UnfinishedReplay & { finished: boolean }>();
  for await (const e of store.readAll({ categories: ['replay'] })) {
    const parsed = parseEvent(e.type, e.data, e.metadata.schemaVersion);
    if (!parsed.ok) continue;
    const ev = parsed.event;
    const run = runs.get(e.streamId);
    if (ev.type === 'ReplayStarted') {
      runs.set(e.streamId, { request: ev.data.request, total: ev.data.total, acknowledged: null, resumes: 0, lastWrite: e.metadata.tsInit, finished: false });
      continue;
    }
    if (!run) continue;
    run.lastWrite = e.metadata.tsInit;
    if (ev.type === 'ReplayStepsAcknowledged') run.acknowledged = ev.data;
    else if (ev.type === 'ReplayResumed') run.resumes = ev.data.resumes;
    else if (ev.type === 'ReplayFinished') run.finished = true;
  }
  return [...runs.values()].filter((r) => !r.finished).map(({ finished: _f, ...r }) => r);
}
