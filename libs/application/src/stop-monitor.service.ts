import { type ClockInterest, type EventData, type MarketTick, type RecordedEvent, Streams } from '@bulwark/contracts';
import { type StopState, dec, initialMargin, protectionGuards, stopDecider, str } from '@bulwark/domain';
import { AggregateRepository, type Causation, EventAppender, EVENT_STORE, Quarantine, causedBy } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { PipelineService } from './ports';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from './rebuild';
import { RulesBook } from './rules-book';

/**
 * Keeps the internal stop-loss and take-profit of every open position and, when the mark
 * path crosses one, records `StopTriggered` (execution sends the market reduce-only close).
 * Levels come from the risk approval of the entry; a stop is armed when the position opens.
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
  /** Stop streams that are armed, by stop stream id. */
  private readonly armed = new Map<string, { venue: string; symbol: string }>();

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
      this.armed.set(e.streamId, { venue: p.venue, symbol: p.symbol });
    } else if (e.type === 'StopCancelled') {
      this.armed.delete(e.streamId);
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
    const guards = protectionGuards({ side: p.positionSide, quantity, entryPrice, walletBalance: initialMargin(quantity.mul(entryPrice), opened.leverage), brackets: rules.brackets });
    await this.stops.handle(
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
    await this.stops.handle(
      init.sourceStreamId,
      (s) => stopDecider.decide({ kind: 'RecordCloseFailure', closeClientOrderId: clientOrderId, code, message, ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
  }

  rulesRecorded(r: EventData<'InstrumentRulesRecorded'>): void {
    this.rules.recorded(r);
  }

  entryApproved(a: EventData<'EntryApproved'>): void {
    this.pending.set(a.clientOrderId, { stopPrice: a.stopPrice, takeProfitPrice: a.takeProfitPrice });
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
    const guards = protectionGuards({ side: p.side, quantity, entryPrice, walletBalance: initialMargin(quantity.mul(entryPrice), p.leverage), brackets: rules.brackets });
    const { result } = await this.stops.handle(
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
    if (result.ok || result.error.code === 'STOP_EXISTS') this.armed.set(streamId, { venue: p.venue, symbol: p.symbol });
    this.pending.delete(p.clientOrderId);
  }

  async positionEnded(e: RecordedEvent): Promise<void> {
    const streamId = Streams.stop(e.streamId);
    this.armed.delete(streamId);
    if ((await this.stops.load(streamId)).state.status === 'NONE') return;
    await this.stops.handle(
      streamId,
      (s) => stopDecider.decide({ kind: 'CancelStop', reason: e.type === 'PositionLiquidated' ? 'POSITION_LIQUIDATED' : 'POSITION_CLOSED' }, s),
      causedBy(e),
    );
  }

  async onTick(tick: MarketTick): Promise<void> {
    const candleId = `candle-${tick.venue}-${tick.symbol}-${tick.candleOpenTime}`;
    const c: Causation = { tsEvent: tick.ts, correlationId: candleId, causationId: `tick-${tick.runId}-${tick.seq}` };
    for (const [streamId, where] of this.armed) {
      if (where.venue !== tick.venue || where.symbol !== tick.symbol) continue;
      await this.stops.handle(streamId, (s) => stopDecider.decide({ kind: 'EvaluateStep', step: tick }, s), c);
    }
  }
}
