import { type ClockInterest, type EventData, type MarketTick, type RecordedEvent, Streams, type WorkingType, parseEvent } from '@bulwark/contracts';
import { ACCOUNT_DEFAULTS, type StopCommand, type StopState, dec, initialMargin, liquidationCloseFeeRate, protectionGuards, stopDecider, str } from '@bulwark/domain';
import { AggregateRepository, type Causation, EventAppender, EVENT_STORE, Quarantine, causedBy, causedByTick } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { KeyedSerial } from './keyed-serial';
import type { MarkPriceMessage } from './mark-price';
import type { PipelineService } from './ports';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from './rebuild';
import { RulesBook } from './rules-book';

/** A stop evaluated on mark prices (live venues, account workingType MARK_PRICE). */
export interface MarkWatchedStop {
  stopStreamId: string;
  accountId: string;
  venue: string;
  symbol: string;
}

/** What one mark price did: stops evaluated on it, and stops that skipped it (not newer than the last mark they evaluated). */
export interface MarkEvaluation {
  evaluated: number;
  skipped: number;
}

/**
 * Keeps the internal stop-loss and take-profit of every open position and, when the mark
 * path crosses one, records `StopTriggered` (execution sends the market reduce-only close).
 * Levels come from the risk approval of the entry; a stop is armed when the position opens.
 *
 * The mark path is the replay clock's candle path, except on the live venues once
 * `enableMarkPrices()` was called (services/stop-monitor does, for BULWARK_VENUE binance-demo /
 * binance-live): then the stops of MARK_PRICE accounts are evaluated on every mark-price
 * update (`onMark`) instead, and only CONTRACT_PRICE accounts on the candle path. Every
 * decision on one stop stream runs one at a time, in arrival order (events, clock steps, marks).
 */
@Injectable()
export class StopMonitorService implements PipelineService, Rebuildable, OnModuleInit {
  readonly name = 'stop-monitor' as const;
  /** Armed and triggered stops are folded from the stop streams at start-up. */
  readonly rebuildCategories = ['stop'] as const;
  readonly quarantine: Quarantine;
  readonly categories = ['account', 'position', 'rules', 'order'] as const;
  private readonly log = new Logger('stop-monitor');
  private readonly stops: AggregateRepository<StopState>;
  /** Protection levels of approved entries, by entry client order id, until the position opens. */
  private readonly pending = new Map<string, { stopPrice: string; takeProfitPrice: string | null }>();
  /** Stop streams that are watched (armed, or triggered and retrying their close), by stop stream id. */
  private readonly armed = new Map<string, { venue: string; symbol: string; accountId: string }>();
  /** One decision at a time per stop stream (`stop-…`) and one mark at a time per symbol (`mark:<venue>:<symbol>`). */
  private readonly lanes = new KeyedSerial();
  /** Mark prices drive MARK_PRICE stops (live venues only; never in replays). */
  private markPrices = false;
  /** The last mark each stop stream evaluated (the next mark's step starts there). */
  private readonly lastMark = new Map<string, MarkPriceMessage>();
  /** Each account's trigger price type, with the global log position of the configuration it came from. */
  private readonly workingTypes = new Map<string, { workingType: WorkingType; position: number }>();

  constructor(
    readonly appender: EventAppender,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {
    this.rules = new RulesBook(store);
    this.quarantine = new Quarantine(this.name, appender, (m) => this.log.error(m));
    this.stops = new AggregateRepository(
      appender,
      { initialState: stopDecider.initialState, evolve: stopDecider.evolve },
      (e, reason) => this.quarantine.report(Quarantine.of(e), reason).then(() => undefined),
    );
  }

  /** Before the first message: every stop not cancelled is watched again (a triggered one keeps retrying its close). */
  async onModuleInit(): Promise<void> {
    const r = await rebuildFromLog(this, this.store, this.quarantine, rebuildStartFromEnv());
    this.log.log(`rebuilt from ${r.events} events in ${r.ms} ms: ${this.armed.size} stops watched, ${r.quarantined} quarantined`);
  }

  rebuild(e: RecordedEvent): void {
    if (e.type === 'StopPlaced') {
      const p = e.data as EventData<'StopPlaced'>;
      this.armed.set(e.streamId, { venue: p.venue, symbol: p.symbol, accountId: p.accountId });
    } else if (e.type === 'StopCancelled') {
      this.armed.delete(e.streamId);
      this.lastMark.delete(e.streamId);
    }
  }

  private readonly rules: RulesBook;

  /** Steps are needed only while a stop is armed. */
  interest(): ClockInterest {
    return this.armed.size > 0 ? 'STEP' : 'NONE';
  }

  async onEvent(e: RecordedEvent): Promise<void> {
    switch (e.type) {
      case 'EntryApproved':
        return this.entryApproved(e.data as EventData<'EntryApproved'>);
      case 'PositionOpened':
        return this.positionOpened(e as RecordedEvent<'PositionOpened', EventData<'PositionOpened'>>);
      case 'PositionIncreased':
      case 'PositionReduced':
        return this.positionResized(e as RecordedEvent<'PositionIncreased' | 'PositionReduced', EventData<'PositionIncreased'>>);
      case 'PositionClosed':
      case 'PositionLiquidated':
        return this.positionEnded(e);
      case 'InstrumentRulesRecorded':
        return this.rulesRecorded(e.data as EventData<'InstrumentRulesRecorded'>);
      case 'AccountOpened':
      case 'AccountReconfigured':
        return this.accountConfigured(e);
      case 'OrderRejected':
      case 'OrderDenied':
      case 'OrderExpired':
      case 'OrderCanceled':
        return this.orderEnded(e as RecordedEvent<'OrderRejected', Partial<EventData<'OrderRejected'>>>);
    }
  }

  /**
   * The position grew (a further trade of its entry) or shrank (a partial close): the stop
   * covers the new quantity, with guards recomputed at the new average entry.
   */
  async positionResized(e: RecordedEvent<'PositionIncreased' | 'PositionReduced', EventData<'PositionIncreased'>>): Promise<void> {
    const streamId = Streams.stop(e.streamId);
    const { state } = await this.stops.load(streamId);
    if (!state.placed || state.status === 'CANCELLED') return;
    const p = state.placed;
    const quantity = dec(e.data.newQuantity);
    // A reduction keeps the entry price; an increase moves it to the new volume-weighted average.
    const entryPrice = e.type === 'PositionIncreased' ? dec(e.data.newEntryPrice) : dec(p.entryPrice);
    const opened = (await this.store.readStream(e.streamId, { maxCount: 1 }))[0]?.data as EventData<'PositionOpened'> | undefined;
    if (!opened) throw new Error(`position ${e.streamId} has no PositionOpened`);
    const rules = await this.rules.get(p.venue, p.symbol);
    const guards = protectionGuards({ side: p.positionSide, quantity, entryPrice, walletBalance: initialMargin(quantity.mul(entryPrice), opened.leverage), brackets: rules.brackets, closeFeeRate: liquidationCloseFeeRate(rules) });
    await this.handleStop(
      streamId,
      (s) => stopDecider.decide({ kind: 'ResizeStop', resize: { quantity: str(quantity), entryPrice: str(entryPrice), guards, cause: e.type === 'PositionIncreased' ? 'POSITION_INCREASED' : 'POSITION_REDUCED' } }, s),
      causedBy(e),
    );
  }

  /**
   * An order ended without filling (or filling only in part): when it is the close of a
   * triggered stop, record the failure so the stop sends the close again.
   */
  async orderEnded(e: RecordedEvent<'OrderRejected', Partial<EventData<'OrderRejected'>>>): Promise<void> {
    const clientOrderId = e.data.clientOrderId;
    if (!clientOrderId) return;
    const init = (await this.store.readStream(Streams.order(clientOrderId), { maxCount: 1 }))[0]?.data as EventData<'OrderInitialized'> | undefined;
    if (!init || !init.reduceOnly || !init.sourceStreamId.startsWith('stop-')) return;
    const code = e.data.code ?? e.type.replace(/^Order/, '').toUpperCase();
    const message = e.data.message ?? `the close order ended ${e.type.replace(/^Order/, '').toLowerCase()}`;
    await this.handleStop(
      init.sourceStreamId,
      (s) => stopDecider.decide({ kind: 'RecordCloseFailure', closeClientOrderId: clientOrderId, code, message, ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
  }

  rulesRecorded(r: EventData<'InstrumentRulesRecorded'>): void {
    this.rules.recorded(r);
  }

  entryApproved(a: EventData<'EntryApproved'>): void {
    const levels = { stopPrice: a.stopPrice, takeProfitPrice: a.takeProfitPrice };
    // A split entry's position is opened by one of its children.
    for (const id of [a.clientOrderId, ...(a.split?.children.map((c) => c.clientOrderId) ?? [])]) this.pending.set(id, levels);
  }

  /** Protection levels of an entry: from memory, else from the approving event in the log (after a restart). */
  private async levelsFor(p: EventData<'PositionOpened'>) {
    const hit = this.pending.get(p.clientOrderId);
    if (hit) return hit;
    const order = await this.store.readStream(Streams.order(p.clientOrderId), { maxCount: 1 });
    const init = order[0]?.data as EventData<'OrderInitialized'> | undefined;
    if (!init) return null;
    const src = await this.store.readStream(init.sourceStreamId);
    const approval = src.find((e) => e.metadata.eventId === init.sourceEventId);
    if (!approval || approval.type !== 'EntryApproved') return null;
    const a = approval.data as EventData<'EntryApproved'>;
    return { stopPrice: a.stopPrice, takeProfitPrice: a.takeProfitPrice };
  }

  async positionOpened(e: RecordedEvent<'PositionOpened', EventData<'PositionOpened'>>): Promise<void> {
    const p = e.data;
    const levels = await this.levelsFor(p);
    if (!levels) {
      this.log.warn(`position ${e.streamId} opened by ${p.clientOrderId} has no protection levels`);
      return;
    }
    const streamId = Streams.stop(e.streamId);
    const rules = await this.rules.get(p.venue, p.symbol);
    const quantity = dec(p.quantity);
    const entryPrice = dec(p.entryPrice);
    // The position's isolated margin is its initial margin (notional / leverage) at the fill.
    const guards = protectionGuards({ side: p.side, quantity, entryPrice, walletBalance: initialMargin(quantity.mul(entryPrice), p.leverage), brackets: rules.brackets, closeFeeRate: liquidationCloseFeeRate(rules) });
    const { result } = await this.handleStop(
      streamId,
      (s) =>
        stopDecider.decide(
          {
            kind: 'PlaceStop',
            stop: {
              positionStreamId: e.streamId, accountId: p.accountId, venue: p.venue, symbol: p.symbol, positionSide: p.side,
              quantity: p.quantity, stopPrice: levels.stopPrice, takeProfitPrice: levels.takeProfitPrice, entryClientOrderId: p.clientOrderId,
              entryPrice: p.entryPrice, guards,
            },
          },
          s,
        ),
      causedBy(e),
    );
    if (result.ok || result.error.code === 'STOP_EXISTS') this.armed.set(streamId, { venue: p.venue, symbol: p.symbol, accountId: p.accountId });
    this.pending.delete(p.clientOrderId);
  }

  async positionEnded(e: RecordedEvent): Promise<void> {
    const streamId = Streams.stop(e.streamId);
    this.armed.delete(streamId);
    this.lastMark.delete(streamId);
    if ((await this.stops.load(streamId)).state.status === 'NONE') return;
    await this.handleStop(
      streamId,
      (s) => stopDecider.decide({ kind: 'CancelStop', reason: e.type === 'PositionLiquidated' ? 'POSITION_LIQUIDATED' : 'POSITION_CLOSED' }, s),
      causedBy(e),
    );
  }

  async onTick(tick: MarketTick): Promise<void> {
    const c = causedByTick(tick);
    for (const [streamId, where] of this.armed) {
      if (where.venue !== tick.venue || where.symbol !== tick.symbol) continue;
      // On a live venue the mark prices drive MARK_PRICE stops; the candle path only CONTRACT_PRICE ones.
      if (this.markPrices && (await this.workingTypeOf(where.accountId)) === 'MARK_PRICE') continue;
      await this.handleStop(streamId, (s) => stopDecider.decide({ kind: 'EvaluateStep', step: tick }, s), c);
    }
  }

  /** Decide on one stop stream after every decision queued on it before (events, clock steps and marks never interleave on a stream). */
  private handleStop(streamId: string, decide: (s: StopState) => ReturnType<typeof stopDecider.decide>, c: Causation) {
    return this.lanes.run(streamId, () => this.stops.handle(streamId, decide, c));
  }

  // ------------------------------------------------------------- mark prices (live venues)

  /**
   * Evaluate MARK_PRICE stops on mark prices (`onMark`) instead of the candle path. Only the
   * live venues call this (services/stop-monitor, BULWARK_VENUE binance-demo / binance-live):
   * replays stay on the candle path and deterministic.
   */
  enableMarkPrices(): void {
    this.markPrices = true;
  }

  get markPricesEnabled(): boolean {
    return this.markPrices;
  }

  /** An account's configuration was recorded: remember its trigger price type (the latest configuration in the log wins). */
  accountConfigured(e: RecordedEvent): void {
    const parsed = parseEvent(e.type, e.data, e.metadata.schemaVersion);
    if (!parsed.ok || (parsed.event.type !== 'AccountOpened' && parsed.event.type !== 'AccountReconfigured')) return;
    const cfg = parsed.event.data;
    const known = this.workingTypes.get(cfg.accountId);
    if (!known || known.position <= e.position) this.workingTypes.set(cfg.accountId, { workingType: cfg.workingType, position: e.position });
  }

  /**
   * The trigger price type of an account: from the configuration events seen, else from its
   * account stream (read once, e.g. after a restart); an account with no readable
   * configuration gets the default, MARK_PRICE (logged).
   */
  async workingTypeOf(accountId: string): Promise<WorkingType> {
    const known = this.workingTypes.get(accountId);
    if (known) return known.workingType;
    const configs = (await this.store.readStream(Streams.account(accountId))).filter((e) => e.type === 'AccountOpened' || e.type === 'AccountReconfigured');
    const last = configs[configs.length - 1];
    if (last) this.accountConfigured(last);
    if (!this.workingTypes.has(accountId)) {
      this.log.warn(`account ${accountId} has no readable configuration: its stops trigger on the default ${ACCOUNT_DEFAULTS.workingType}`);
      this.workingTypes.set(accountId, { workingType: ACCOUNT_DEFAULTS.workingType, position: 0 });
    }
    return this.workingTypes.get(accountId)!.workingType;
  }

  /** The last mark a stop stream evaluated (null before its first), for diagnostics and tests. */
  lastMarkEvaluated(stopStreamId: string): MarkPriceMessage | null {
    return this.lastMark.get(stopStreamId) ?? null;
  }

  /** The watched stops that mark prices drive now (none unless `enableMarkPrices()` was called). */
  async markWatched(): Promise<MarkWatchedStop[]> {
    if (!this.markPrices) return [];
    const out: MarkWatchedStop[] = [];
    for (const [stopStreamId, w] of [...this.armed]) {
      if ((await this.workingTypeOf(w.accountId)) === 'MARK_PRICE') out.push({ stopStreamId, ...w });
    }
    return out;
  }

  /**
   * One mark price of `venue` `symbol` (from the stream, or polled while the stream is silent):
   * every watched stop of a MARK_PRICE account on the symbol evaluates the step from the last
   * mark it evaluated to this one (`EvaluateStep` `{ from: previous, to: mark, gap: false, ts }`;
   * the first mark a stop sees is the point step from = to = mark). A triggered stop whose
   * close failed sends it again once `ts` reaches its `retryAt`. Marks of one symbol are handled
   * one at a time in call order; a mark not newer than the last one a stop evaluated is skipped
   * by that stop. Nothing happens unless `enableMarkPrices()` was called.
   * @param mark `{ ts: epoch ms (the venue's time; tsEvent of what it causes), price: USDT decimal string }`
   * @returns how many stops evaluated it and how many skipped it as stale
   */
  onMark(venue: string, symbol: string, mark: MarkPriceMessage, source: 'stream' | 'poll' = 'stream'): Promise<MarkEvaluation> {
    return this.lanes.run(`mark:${venue}:${symbol}`, async () => {
      const r: MarkEvaluation = { evaluated: 0, skipped: 0 };
      if (!this.markPrices) return r;
      const c: Causation = { tsEvent: mark.ts, correlationId: `mark-${venue}-${symbol}-${mark.ts}`, causationId: `mark-${source}-${venue}-${symbol}-${mark.ts}` };
      for (const [streamId, w] of [...this.armed]) {
        if (w.venue !== venue || w.symbol !== symbol) continue;
        if ((await this.workingTypeOf(w.accountId)) !== 'MARK_PRICE') continue;
        if (await this.evaluateMark(streamId, mark, c)) r.evaluated++;
        else r.skipped++;
      }
      return r;
    });
  }

  /** The mark step of one stop stream, on its lane; false when the mark is stale for it or the stop went away meanwhile. */
  private evaluateMark(streamId: string, mark: MarkPriceMessage, c: Causation): Promise<boolean> {
    return this.lanes.run(streamId, async () => {
      if (!this.armed.has(streamId)) return false;
      const last = this.lastMark.get(streamId);
      if (last && mark.ts <= last.ts) return false;
      const command: StopCommand = { kind: 'EvaluateStep', step: { from: last?.price ?? mark.price, to: mark.price, gap: false, ts: mark.ts } };
      await this.stops.handle(streamId, (s) => stopDecider.decide(command, s), c);
      this.lastMark.set(streamId, mark);
      return true;
    });
  }
}

