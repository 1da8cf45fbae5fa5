import { type ReplayCancelRequest, type ReplayPaceRequest, type ReplayProgress, type ReplayStartRequest, type ServiceName, Subjects } from '@bulwark/contracts';
import {
  allowedDataDirs,
  CandleFileError,
  checkMarketDataFile,
  type FundingRate,
  invalidCode,
  MarketDataFileError,
  type MarketDataFileKind,
  readCandles,
  readFundingRates,
} from '@bulwark/market-data';
import { clockSettingsFromEnv, EventAppender, NATS, NatsClockPort, ReplayCancelledError, ReplayClock } from '@bulwark/messaging';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { JSONCodec, type NatsConnection } from 'nats';
import { journalSettingsFromEnv, ReplayJournal, ReplayRunExistsError, replayCandles, type UnfinishedReplay, unfinishedReplays } from './replay';

const json = JSONCodec();
export const DOWNSTREAM: ServiceName[] = ['signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

/**
 * Codes of a refused `ReplayStartRequest` (answered as `{error:{code,message}}`):
 * the file codes of {@link MarketDataFileError} (FILE_NOT_FOUND, FILE_NOT_ALLOWED,
 * INVALID_CANDLE_FILE, INVALID_FUNDING_FILE), INVALID_WINDOW (`from` not before `to`),
 * NO_CANDLES (no candle in the file, or in the window), REPLAY_RUNNING, RUN_EXISTS (the run id has a
 * journal in the log already).
 */
export type ReplayRefusalCode = MarketDataFileError['code'] | 'INVALID_WINDOW' | 'NO_CANDLES' | 'REPLAY_RUNNING' | 'RUN_EXISTS';

/** The refusal codes that are about the request's files or window (market-data dead-letters those requests with the reason). */
export const REPLAY_INPUT_REFUSALS: ReadonlySet<string> = new Set<ReplayRefusalCode>(['FILE_NOT_FOUND', 'FILE_NOT_ALLOWED', 'INVALID_CANDLE_FILE', 'INVALID_FUNDING_FILE', 'INVALID_WINDOW', 'NO_CANDLES']);

/**
 * Candles of a file inside a window [from, to) (epoch ms, null = open). Every row is read
 * and checked (readCandles), so a file that counts is a file that replays.
 * @throws CandleFileError at the first bad row
 */
export async function countInWindow(file: string, from: number | null, to: number | null): Promise<number> {
  let n = 0;
  for await (const c of readCandles(file)) if ((from === null || c.openTime >= from) && (to === null || c.openTime < to)) n++;
  return n;
}

/** A file error as the typed refusal of a request. */
function refusal(e: unknown, kind: MarketDataFileKind): never {
  if (e instanceof MarketDataFileError) throw new RpcException({ code: e.code, message: e.message });
  if (e instanceof CandleFileError) throw new RpcException({ code: invalidCode(kind), message: e.message });
  throw e;
}

/**
 * Check a replay request's files and window and read what the run needs: the candle count of
 * the window and the funding settlements. Files must be inside `allowedDirs` (the data
 * directory and BULWARK_ALLOWED_DATA_DIRS by default), regular, at most 2 GiB, and look like
 * Binance CSVs; every candle row is checked.
 * @returns the real path of the candle file (what the run reads), the count and the funding
 * @throws RpcException with a {@link ReplayRefusalCode} other than REPLAY_RUNNING
 */
export async function prepareReplay(
  req: Pick<ReplayStartRequest, 'candlesFile' | 'fundingFile' | 'from' | 'to'>,
  allowedDirs: readonly string[] = allowedDataDirs(),
): Promise<{ candlesFile: string; total: number; funding: FundingRate[] }> {
  if (req.from !== null && req.to !== null && req.from >= req.to) {
    throw new RpcException({ code: 'INVALID_WINDOW', message: `from ${new Date(req.from).toISOString()} is not before to ${new Date(req.to).toISOString()}: the window holds no candle` });
  }
  const candles = await checkMarketDataFile(req.candlesFile, 'candles', { allowedDirs }).catch((e) => refusal(e, 'candles'));
  const fundingFile = req.fundingFile ? await checkMarketDataFile(req.fundingFile, 'funding', { allowedDirs }).catch((e) => refusal(e, 'funding')) : null;
  const total = await countInWindow(candles.realPath, req.from, req.to).catch((e) => refusal(e, 'candles'));
  if (total === 0) {
    const window = req.from !== null || req.to !== null ? ` in the window [${req.from === null ? '…' : new Date(req.from).toISOString()}, ${req.to === null ? '…' : new Date(req.to).toISOString()})` : '';
    throw new RpcException({ code: 'NO_CANDLES', message: `no candle in ${req.candlesFile}${window}` });
  }
  const funding = fundingFile ? await readFundingRates(fundingFile.realPath).catch((e) => refusal(e, 'funding')) : [];
  return { candlesFile: candles.realPath, total, funding };
}

/**
 * Market-data's replay: a recorded candle file driven as market time through the six
 * services over NATS (`replayCandles` with the NATS clock), with progress published on
 * `bulwark.market-data.replay.progress.<runId>` and candles and marks on `md.*` for any
 * observer. One replay at a time. A request naming a file that is not an allowed,
 * well-formed candle or funding CSV is refused with a typed code ({@link prepareReplay}),
 * never read blindly.
 * A run is journaled in the log (`replay-<runId>`, {@link ReplayJournal}); at start-up an
 * unfinished run is resumed from its last checkpoint, so a run survives a market-data restart.
 * The clock waits out silent services up to the stall limit (BULWARK_STALL_LIMIT_SECONDS);
 * progress is published at least every second while a run lasts, with what it waits for.
 */
@Injectable()
export class ReplayService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('market-data');
  private running: string | null = null;
  private abort: AbortController | null = null;
  /** Changes the running run's pace (set while a run is running). */
  private setPace: ((speed: number) => void) | null = null;
  /** The start-up look for unfinished runs; a cancel waits for it (else it could resume a run just cancelled). */
  private resumeScan: Promise<void> = Promise.resolve();

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly appender: EventAppender,
  ) {}

  /**
   * Check the request and start the run in the background.
   * @returns `{ runId, accepted: true, total }` (candles of the window)
   * @throws RpcException REPLAY_RUNNING, or a refusal of {@link prepareReplay}
   */
  async start(req: ReplayStartRequest) {
    if (this.running) throw new RpcException({ code: 'REPLAY_RUNNING', message: `replay ${this.running} is still running` });
    // Held while the files are checked too, so a second request cannot start alongside.
    this.running = req.runId;
    let prepared: Awaited<ReturnType<typeof prepareReplay>>;
    try {
      prepared = await prepareReplay(req);
    } catch (e) {
      this.running = null;
      throw e;
    }
    const { total, funding } = prepared;
    let journal: ReplayJournal;
    try {
      journal = await ReplayJournal.open(this.appender, req, total, this.journalOptions());
    } catch (e) {
      this.running = null;
      if (e instanceof ReplayRunExistsError) throw new RpcException({ code: 'RUN_EXISTS', message: e.message });
      throw e;
    }
    this.launch({ ...req, candlesFile: prepared.candlesFile }, total, funding, journal, null);
    return { runId: req.runId, accepted: true, total };
  }

  private journalOptions() {
    return { checkpointMs: journalSettingsFromEnv().checkpointMs, onError: (e: Error) => this.log.warn(`replay journal: ${e.message}`) };
  }

  /** Run in the background; `running` is held until the run is over. */
  private launch(req: ReplayStartRequest, total: number, funding: FundingRate[], journal: ReplayJournal, resume: UnfinishedReplay | null): void {
    this.running = req.runId;
    const abort = new AbortController();
    this.abort = abort;
    void this.run(req, total, funding, journal, resume, abort.signal)
      .catch((e) => {
        this.log.error(`replay ${req.runId} failed: ${String(e)}`);
        this.progress({ runId: req.runId, candles: 0, total, ticks: 0, marketTime: 0, done: true, error: String(e) });
      })
      .finally(() => {
        this.running = null;
        this.abort = null;
      });
  }

  /** At start-up: resume the most recent unfinished run, record older ones (nobody waits for them) as ABANDONED. */
  onApplicationBootstrap(): void {
    this.resumeScan = this.resumeUnfinished().catch((e) => this.log.error(`resuming unfinished replays failed: ${String(e)}`));
  }

  onModuleDestroy(): void {
    // A shutdown (SIGTERM) is not a cancellation: the run stays unfinished and the next start resumes it.
    this.abort?.abort('market-data is shutting down');
  }

  private async resumeUnfinished(): Promise<void> {
    const { resumeWithinMs } = journalSettingsFromEnv();
    const runs = await unfinishedReplays(this.appender.store);
    const fresh = runs.filter((r) => Date.now() - r.lastWrite <= resumeWithinMs);
    const resume = fresh.at(-1) ?? null;
    for (const r of runs) {
      if (r === resume) continue;
      const detail = fresh.includes(r) ? 'a later unfinished run was resumed instead' : `unfinished, journal last written ${new Date(r.lastWrite).toISOString()}, longer ago than BULWARK_REPLAY_RESUME_SECONDS`;
      await ReplayJournal.reopen(this.appender, r, this.journalOptions()).finished('ABANDONED', { candles: r.acknowledged?.candles ?? 0, steps: r.acknowledged?.nextSeq ?? 0 }, detail);
      this.log.warn(`replay ${r.request.runId} abandoned: ${detail}`);
    }
    if (!resume || this.running) return;
    const req = resume.request;
    const journal = ReplayJournal.reopen(this.appender, resume, this.journalOptions());
    let prepared: Awaited<ReturnType<typeof prepareReplay>>;
    try {
      prepared = await prepareReplay(req);
    } catch (e) {
      const err = e instanceof RpcException ? (e.getError() as { message?: string }).message : String(e);
      await journal.finished('FAILED', { candles: 0, steps: 0 }, `cannot resume: ${err}`);
      this.progress({ runId: req.runId, candles: 0, total: resume.total, ticks: 0, marketTime: 0, done: true, error: `cannot resume: ${err}` });
      return;
    }
    const nextSeq = resume.acknowledged?.nextSeq ?? 0;
    this.log.log(`replay ${req.runId}: resuming at step ${nextSeq} (resume ${resume.resumes + 1})`);
    await journal.resumed(nextSeq, resume.resumes + 1);
    this.launch({ ...req, candlesFile: prepared.candlesFile }, prepared.total, prepared.funding, journal, resume);
  }

  /**
   * Stop a run for good: the running one at its next request or wait, or an unfinished one in
   * the log; recorded as ReplayFinished CANCELLED, so it is never resumed.
   * @returns `{ runId, cancelled }`: false when no such run is running or unfinished
   */
  async cancel(req: ReplayCancelRequest): Promise<{ runId: string; cancelled: boolean }> {
    await this.resumeScan;
    if (this.running === req.runId && this.abort) {
      this.abort.abort(req.reason);
      return { runId: req.runId, cancelled: true };
    }
    const run = (await unfinishedReplays(this.appender.store)).find((r) => r.request.runId === req.runId);
    if (!run) return { runId: req.runId, cancelled: false };
    await ReplayJournal.reopen(this.appender, run, this.journalOptions()).finished('CANCELLED', { candles: run.acknowledged?.candles ?? 0, steps: run.acknowledged?.nextSeq ?? 0 }, req.reason);
    return { runId: req.runId, cancelled: true };
  }

  /**
   * Change the running run's pace from its next candle on (wall time only: the log does not
   * depend on it; not journaled, so a resumed run goes on at its start request's speed).
   * @returns `{ runId, paced }`: false when that run is not the one running
   */
  pace(req: ReplayPaceRequest): { runId: string; paced: boolean } {
    if (this.running !== req.runId || !this.setPace) return { runId: req.runId, paced: false };
    this.setPace(req.speed);
    this.log.log(`replay ${req.runId}: pace ${req.speed === 0 ? 'as fast as the pipeline takes it' : `${req.speed}x market time`}`);
    return { runId: req.runId, paced: true };
  }

  private progress(p: ReplayProgress): void {
    this.nc.publish(Subjects.replayProgress(p.runId), json.encode(p));
  }

  private async run(req: ReplayStartRequest, total: number, funding: FundingRate[], journal: ReplayJournal, resume: UnfinishedReplay | null, signal: AbortSignal): Promise<void> {
    const settings = clockSettingsFromEnv();
    let at: ReplayProgress = { runId: req.runId, candles: resume?.acknowledged?.candles ?? 0, total, ticks: resume?.acknowledged?.nextSeq ?? 0, marketTime: resume?.acknowledged?.marketTime ?? 0, done: false, error: null, waitingFor: null };
    const report = (p: Partial<ReplayProgress>) => this.progress((at = { ...at, ...p }));
    const clock = new ReplayClock(new NatsClockPort(this.nc, settings.requestTimeoutMs), DOWNSTREAM, {
      stall: settings.stall,
      signal,
      onWait: (w) => {
        if (w) this.log.warn(`replay ${req.runId}: waiting for ${w.service} since ${new Date(w.since).toISOString()}: ${w.reason}`);
        report({ waitingFor: w });
      },
    });
    // A heartbeat, so a watcher can tell a long wait (or a long step) from a dead market-data.
    const heartbeat = setInterval(() => report({}), 1_000);
    const runStart = Date.now();
    let wallStart = runStart;
    let marketStart: number | null = null;
    let speed = req.speed;
    // A new pace counts from the next candle: wall and market time are anchored again there.
    this.setPace = (s) => {
      speed = s;
      wallStart = Date.now();
      marketStart = null;
    };
    let lastReport = 0;
    let counters = { candles: at.candles, steps: at.ticks };
    try {
      const end = await replayCandles(clock, { ...req, ...(resume ? { resume: { nextSeq: resume.acknowledged?.nextSeq ?? 0, commandsSent: resume.acknowledged?.commandsSent ?? 0 } } : {}) }, funding, {
        onStep: (tick) => {
          this.nc.publish(Subjects.mark(req.venue, req.symbol), json.encode({ ts: tick.ts, price: tick.to }));
        },
        onCandle: async (candle, c) => {
          this.nc.publish(Subjects.candle(req.venue, req.symbol), json.encode(candle));
          if (speed > 0) {
            marketStart ??= candle.openTime;
            const wait = wallStart + (candle.openTime - marketStart) / speed - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          counters = { candles: c.candles, steps: c.steps };
          if (Date.now() - lastReport > 200) {
            lastReport = Date.now();
            report({ candles: c.candles, ticks: c.steps, marketTime: candle.openTime });
          } else at = { ...at, candles: c.candles, ticks: c.steps, marketTime: candle.openTime };
        },
        onAcknowledged: (a) => journal.acknowledged(a),
        onCommand: (subject, when, e) =>
          e ? this.log.warn(`replay ${req.runId}: ${subject} at ${new Date(when).toISOString()} refused: ${e.message}`) : this.log.log(`replay ${req.runId}: ${subject} at ${new Date(when).toISOString()} accepted`),
      });
      counters = { candles: end.candles, steps: end.steps };
      this.log.log(`replay ${req.runId}: ${end.candles} candles, ${end.steps} steps, ${clock.phasesDelivered} phases delivered, ${clock.phasesSkipped} skipped, ${clock.quiesceRounds} quiesce rounds, ${clock.retries} requests sent again in ${Date.now() - runStart} ms`);
      clearInterval(heartbeat);
      // Published before the end is recorded: a crash in between resumes the run, which ends again at once.
      report({ candles: end.candles, ticks: end.steps, marketTime: end.marketTime, done: true, error: null, waitingFor: null });
      await journal.finished('COMPLETED', end, null);
    } catch (e) {
      clearInterval(heartbeat);
      if (e instanceof ReplayCancelledError && signal.reason === 'market-data is shutting down') return; // resumed after the restart
      const cancelled = e instanceof ReplayCancelledError;
      this.log.error(`replay ${req.runId} ${cancelled ? 'cancelled' : 'failed'}: ${(e as Error).message}`);
      report({ done: true, error: (e as Error).message, waitingFor: null });
      await journal.finished(cancelled ? 'CANCELLED' : 'FAILED', counters, (e as Error).message);
    } finally {
      clearInterval(heartbeat);
      this.setPace = null;
    }
  }
}
