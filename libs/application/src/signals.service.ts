import { type AttachStrategyRequest, type ClockInterest, type EntryType, type EventData, type IntentEmitted, type ManualEntryRequest, type OrderSplit, type MarketTick, type RecordedEvent, Streams, event } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';
import { EVENT_STORE, EventAppender, Quarantine } from '@bulwark/messaging';
import { KLINE_INTERVAL_MS } from '@bulwark/domain';
import { DEFAULT_DONCHIAN_ATR, DonchianAtrStrategy, type DonchianAtrParams } from '@bulwark/strategies';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { CANDLE_HISTORY, type CandleHistory } from './candle-history';
import type { PipelineService } from './ports';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from './rebuild';

/**
 * A request's entry type must be whole: a resting one (LIMIT, POST_ONLY) names its life in
 * bars, the others do not rest and cannot expire.
 * @throws RpcException INVALID_ENTRY_TYPE otherwise
 */
function entryTypeCheck(req: { entryType?: EntryType; expiresAfterBars?: number }): void {
  const type = req.entryType ?? 'MARKET';
  const resting = type === 'LIMIT' || type === 'POST_ONLY';
  if (resting && req.expiresAfterBars === undefined) throw new RpcException({ code: 'INVALID_ENTRY_TYPE', message: `a ${type} entry rests at the venue: give expiresAfterBars (its life in bars)` });
  if (!resting && req.expiresAfterBars !== undefined) throw new RpcException({ code: 'INVALID_ENTRY_TYPE', message: `a ${type} entry does not rest: expiresAfterBars applies to LIMIT and POST_ONLY only` });
}

/**
 * The entry fields of an intent (none for MARKET, so a market intent keeps its earlier shape):
 * the type, and for a resting one its life in bars and the bar length of `interval` (absent
 * when the label is not a kline interval: risk then denies the intent and says why).
 */
function entryFields(
  req: { entryType?: EntryType; expiresAfterBars?: number; split?: OrderSplit },
  interval: string,
  barVolume: string | null,
): Partial<Pick<IntentEmitted, 'entryType' | 'expiresAfterBars' | 'barIntervalMs' | 'split' | 'barVolume'>> {
  const type = req.entryType && req.entryType !== 'MARKET' ? { entryType: req.entryType } : {};
  const expiry = type.entryType && req.expiresAfterBars !== undefined ? { expiresAfterBars: req.expiresAfterBars } : {};
  const split = req.split ? { split: req.split, ...(barVolume === null ? {} : { barVolume }) } : {};
  const barIntervalMs = KLINE_INTERVAL_MS[interval];
  const needsBar = expiry.expiresAfterBars !== undefined || req.split !== undefined;
  return { ...type, ...expiry, ...(needsBar && barIntervalMs !== undefined ? { barIntervalMs } : {}), ...split };
}

interface Attached {
  req: AttachStrategyRequest;
  strategy: DonchianAtrStrategy;
  revision: number;
  /** Market time of the attachment: the strategy has seen every closed candle since. */
  attachedAt: number;
  /** False after a restart until the strategy has seen again the candles it saw before. */
  warm: boolean;
  /** Open time of the newest candle judged and recorded (a step delivered again is judged once). */
  judged: number;
  /** The strategy's answer for the bar being judged, until it is recorded. */
  verdict?: { openTime: number; signal: ReturnType<DonchianAtrStrategy['onCandle']> };
}

/**
 * Runs the attached strategies on closed candles and records their entry intents on the
 * account's signal stream. WHEN to trade is decided here; HOW MUCH is risk's job.
 */
@Injectable()
export class SignalsService implements PipelineService, Rebuildable, OnModuleInit {
  readonly name = 'signals' as const;
  readonly categories = [] as const;
  /** Attached strategies (and where each signal stream is) are folded from the signal streams at start-up. */
  readonly rebuildCategories = ['signal'] as const;
  readonly quarantine: Quarantine;
  private readonly log = new Logger('signals');
  private readonly attached = new Map<string, Attached>();
  /** Revision of each account's signal stream (also without a strategy: manual entries write there too). */
  private readonly signalRevisions = new Map<string, number>();
  /** The last closed candle seen per `venue|symbol`: a manual entry's reference price and market time. */
  private readonly lastClose = new Map<string, { close: string; openTime: number; ts: number; interval: string; volume: string }>();

  constructor(
    readonly appender: EventAppender,
    @Optional() @Inject(EVENT_STORE) private readonly store?: EventStore,
    @Optional() @Inject(CANDLE_HISTORY) private readonly history?: CandleHistory,
  ) {
    this.quarantine = new Quarantine(this.name, appender, (m) => this.log.error(m));
  }

  /** Before the first message: the attached strategies, so a restart neither forgets nor re-attaches them. */
  async onModuleInit(): Promise<void> {
    if (!this.store) return;
    const r = await rebuildFromLog(this, this.store, this.quarantine, rebuildStartFromEnv());
    this.log.log(`rebuilt from ${r.events} events in ${r.ms} ms: ${this.attached.size} strategies attached, ${r.quarantined} quarantined`);
  }

  rebuild(e: RecordedEvent): void {
    const accountId = e.streamId.slice('signal-'.length);
    this.signalRevisions.set(accountId, e.revision);
    if (e.type === 'StrategyAttached') {
      const a = e.data as EventData<'StrategyAttached'>;
      const strategy = new DonchianAtrStrategy({ ...DEFAULT_DONCHIAN_ATR, ...(a.params as Partial<DonchianAtrParams>) });
      this.attached.set(accountId, { req: { ...a, params: a.params }, strategy, revision: e.revision, attachedAt: e.metadata.tsEvent, warm: false, judged: -1 });
    } else {
      const a = this.attached.get(accountId);
      if (!a) return;
      a.revision = e.revision;
      if (e.type === 'IntentEmitted') a.judged = Math.max(a.judged, (e.data as EventData<'IntentEmitted'>).candleOpenTime);
    }
  }

  /** Strategies judge closed bars only; the last close is kept for manual entries, also without a strategy. */
  interest(): ClockInterest {
    return 'CLOSE';
  }

  async onEvent(_e: RecordedEvent): Promise<void> {
    // Signals consume market data only.
  }

  async attach(req: AttachStrategyRequest) {
    if (req.strategy !== DonchianAtrStrategy.strategyName) {
      throw new RpcException({ code: 'UNKNOWN_STRATEGY', message: `unknown strategy "${req.strategy}" (known: ${DonchianAtrStrategy.strategyName})` });
    }
    if (this.attached.has(req.accountId)) throw new RpcException({ code: 'ALREADY_ATTACHED', message: `a strategy is already attached to ${req.accountId}` });
    entryTypeCheck(req);
    let strategy: DonchianAtrStrategy;
    try {
      strategy = new DonchianAtrStrategy({ ...DEFAULT_DONCHIAN_ATR, ...(req.params as Partial<DonchianAtrParams>) });
    } catch (e) {
      throw new RpcException({ code: 'INVALID_PARAMS', message: (e as Error).message });
    }
    const streamId = Streams.signal(req.accountId);
    const { at: _at, ...attachment } = req;
    // A manual entry may have opened the signal stream before any strategy was attached.
    const r = await this.appender.append(streamId, [event('StrategyAttached', { ...attachment, params: { ...strategy.params } })], this.signalRevisions.get(req.accountId) ?? 'no_stream', {
      tsEvent: req.at ?? Date.now(),
      correlationId: `attach-${req.accountId}`,
      causationId: `attach-${req.accountId}`,
    });
    this.attached.set(req.accountId, { req, strategy, revision: r!.result.nextExpectedRevision, attachedAt: req.at ?? Date.now(), warm: true, judged: -1 });
    this.signalRevisions.set(req.accountId, r!.result.nextExpectedRevision);
    return { accountId: req.accountId, strategy: req.strategy, params: strategy.params };
  }

  /**
   * A trader's manual entry: an `IntentEmitted` with `strategy: 'manual'` on the account's signal
   * stream, at the last closing price seen for the instrument (its candle's time is the market
   * time), so risk sizes and protects it exactly like a strategy's intent.
   * @returns `{ events: [{ eventId, type, streamId, revision, data }] }`: the recorded intent
   * @throws RpcException NO_MARKET_PRICE when no candle of the instrument has closed since start-up
   */
  async manualEntry(req: ManualEntryRequest) {
    const last = this.lastClose.get(`${req.venue}|${req.symbol}`);
    if (!last) {
      throw new RpcException({ code: 'NO_MARKET_PRICE', message: `no closed ${req.venue} ${req.symbol} candle seen yet: a manual entry needs the last closing price` });
    }
    entryTypeCheck(req);
    const requestId = req.requestId ?? randomBytes(6).toString('hex');
    const intent = event('IntentEmitted', {
      intentId: `m${last.ts}-${requestId}`.slice(0, 64),
      accountId: req.accountId,
      venue: req.venue,
      symbol: req.symbol,
      side: req.side,
      entryPrice: last.close,
      stopPrice: req.stopPrice,
      takeProfitPrice: req.takeProfitPrice ?? null,
      strategy: 'manual',
      reason: `manual entry by ${req.by}`,
      candleOpenTime: last.openTime,
      ...entryFields(req, last.interval, last.volume),
    });
    const streamId = Streams.signal(req.accountId);
    const a = this.attached.get(req.accountId);
    const correlationId = `manual-${requestId}`;
    const r = await this.appender.append(streamId, [intent], a?.revision ?? this.signalRevisions.get(req.accountId) ?? 'no_stream', { tsEvent: last.ts, correlationId, causationId: correlationId });
    const revision = r!.result.nextExpectedRevision;
    if (a) a.revision = revision;
    this.signalRevisions.set(req.accountId, revision);
    return { events: [{ eventId: r!.newEvents[0].metadata.eventId, type: intent.type, streamId, revision, data: intent.data }] };
  }

  /**
   * After a restart: show the strategy again every closed candle since it was attached and
   * before `before` (its indicators depend on the whole history), discarding what it says
   * about them, so it judges the next bar as if it had never stopped.
   * @returns false when the history cannot be had now: this bar is skipped (not fed either) and
   *   the next bar tries again with a window that includes it
   */
  private async warmUp(a: Attached, before: number): Promise<boolean> {
    if (!this.history) {
      this.log.warn(`${a.req.accountId}: no candle history to warm the strategy up from; it starts cold`);
      a.warm = true;
      return true;
    }
    try {
      const candles = await this.history.candles(a.req.venue, a.req.symbol, a.attachedAt, before);
      for (const c of candles) a.strategy.onCandle(c);
      a.warm = true;
      this.log.log(`${a.req.accountId}: strategy warmed up on ${candles.length} candles`);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'NO_HISTORY') {
        // Nobody has these candles (nothing replayed them, no live history): starting cold is all there is.
        this.log.warn(`${a.req.accountId}: no candle history (${(e as Error).message}); the strategy starts cold`);
        a.warm = true;
        return true;
      }
      this.log.error(`${a.req.accountId}: warm-up failed (${(e as Error).message}); the strategy waits for the next bar`);
      return false;
    }
  }

  async onTick(tick: MarketTick): Promise<void> {
    if (tick.candle) this.lastClose.set(`${tick.venue}|${tick.symbol}`, { close: tick.candle.close, openTime: tick.candle.openTime, ts: tick.ts, interval: tick.candle.interval, volume: tick.candle.volume });
    if (tick.candle) {
      for (const a of this.attached.values()) {
        if (a.req.venue !== tick.venue || a.req.symbol !== tick.symbol) continue;
        // A bar already judged (its step delivered again after a restart) is neither fed nor judged twice.
        if (tick.candle.openTime <= a.judged) continue;
        if (!a.warm && !(await this.warmUp(a, tick.candle.openTime))) continue;
        // The bar's verdict is kept until it is recorded: when the append fails (NATS down) the
        // clock sends the step again, and the strategy must not see the bar a second time.
        if (a.verdict?.openTime !== tick.candle.openTime) a.verdict = { openTime: tick.candle.openTime, signal: a.strategy.onCandle(tick.candle) };
        const s = a.verdict.signal;
        if (s && tick.backfill) this.log.log(`${a.req.accountId}: ${s.side} signal on the back-filled bar of ${new Date(tick.candle.openTime).toISOString()} not traded (its moment has passed)`);
        if (!s || tick.backfill) {
          a.judged = tick.candle.openTime;
          continue;
        }
        const intent = event('IntentEmitted', {
          intentId: `i${tick.candle.openTime}`,
          accountId: a.req.accountId,
          venue: tick.venue,
          symbol: tick.symbol,
          side: s.side,
          entryPrice: s.entryPrice,
          stopPrice: s.stopPrice,
          takeProfitPrice: s.takeProfitPrice,
          strategy: DonchianAtrStrategy.strategyName,
          reason: s.reason,
          candleOpenTime: tick.candle.openTime,
          ...entryFields(a.req, tick.candle.interval, tick.candle.volume),
        });
        const candleId = `candle-${tick.venue}-${tick.symbol}-${tick.candle.openTime}`;
        const r = await this.appender.append(Streams.signal(a.req.accountId), [intent], a.revision, {
          tsEvent: tick.ts,
          correlationId: candleId,
          causationId: candleId,
        });
        a.revision = r!.result.nextExpectedRevision;
        this.signalRevisions.set(a.req.accountId, a.revision);
        a.judged = tick.candle.openTime;
      }
    }
  }
}
