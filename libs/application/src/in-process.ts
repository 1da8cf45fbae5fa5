import {
  type ClockAck,
  type MarketTick,
  type ServiceName,
  Subjects,
  streamCategory,
  ErrorReply,
  OpenAccountRequest,
  AttachStrategyRequest,
  ResumeTradingRequest,
  SetTradingStateRequest,
  FlattenRequest,
  ClosePositionRequest,
  CancelOrderRequest,
} from '@bulwark/contracts';
import { type EventStore, InMemoryEventStore, readAllInBatches } from '@bulwark/event-store';
import { EventAppender, type ClockPort, ReplayClock, ReplayClockError } from '@bulwark/messaging';
import { AccountingService } from './accounting.service';
import { ExecutionService } from './execution.service';
import { type ClosableMarginVenue, MarginExecution, type MarginExecutionOptions } from './margin/margin-execution';
import type { MarginRiskSettings } from './margin/margin-desk';
import type { EquitySource, PipelineService } from './ports';
import { RiskService } from './risk.service';
import { SignalsService } from './signals.service';
import { StopMonitorService } from './stop-monitor.service';
import type { VenueFactory } from './venue-factory';
import type { CandleHistory } from './candle-history';

/**
 * Execution's spot-margin side in process (the distributed execution hosts it when
 * BULWARK_MARGIN_VENUE is set): one account's isolated pairs on `venue` (e.g. PaperMarginPort),
 * driven by the replay clock.
 */
export interface InProcessMarginOptions {
  accountId: string;
  /** Isolated pairs, Binance ids (e.g. BTCUSDT). */
  symbols: string[];
  risk: MarginRiskSettings;
  venue: ClosableMarginVenue;
  /** Its log lines (default: none). */
  log?: MarginExecutionOptions['log'];
}

const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The services of the trading pipeline the replay clock drives (market-data is the clock). */
export const PIPELINE: readonly ServiceName[] = ['signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

/**
 * The whole pipeline in one process: the same service classes (and so the same deciders)
 * as the distributed system, on one event store, with an in-process bus that plays the
 * durable consumers' part — every service reads the log from its own cursor, in global
 * order, handling the categories it consumes — and a clock port that calls the services
 * directly. `sync` drains every service's cursor to the end of the log, so the replay
 * clock's quiesce loop works unchanged.
 */
export class InProcessSystem implements ClockPort {
  risk: RiskService;
  signals: SignalsService;
  execution: ExecutionService;
  stopMonitor: StopMonitorService;
  accounting: AccountingService;
  /** Execution's spot-margin side, when `create` was given one. */
  margin: MarginExecution | null = null;
  private marginAppender: EventAppender | null = null;
  private readonly byName: Map<ServiceName, PipelineService & { onTick(t: MarketTick): Promise<void> }>;
  /** Delivery order when draining: fills reach accounting before anyone asks it for equity. */
  private readonly order: PipelineService[];
  private readonly cursor = new Map<PipelineService, number>();
  eventsDelivered = 0;

  private constructor(readonly store: EventStore, venue?: VenueFactory, private readonly history?: CandleHistory) {
    const appender = () => new EventAppender(store);
    this.accounting = new AccountingService(appender(), store);
    this.execution = new ExecutionService(appender(), store, venue);
    this.stopMonitor = new StopMonitorService(appender(), store);
    this.risk = new RiskService(appender(), this.equitySource(), store);
    this.signals = new SignalsService(appender(), store, history);
    this.byName = new Map<ServiceName, PipelineService & { onTick(t: MarketTick): Promise<void> }>([
      ['signals', this.signals],
      ['risk', this.risk],
      ['execution', this.execution],
      ['stop-monitor', this.stopMonitor],
      ['accounting', this.accounting],
    ]);
    this.order = [this.execution, this.accounting, this.stopMonitor, this.risk, this.signals];
  }

  /** Risk asks whichever accounting instance runs now (a restart replaces it), for decimals too. */
  private equitySource(): EquitySource {
    return { equity: (id) => this.accounting.equity(id), equityValues: (id) => this.accounting.equityValues(id) };
  }

  /**
   * Build the pipeline on a store (a fresh in-memory one by default) and load the venue's
   * rules; `venue` opens execution's venue (default: from the environment, the paper venue);
   * `history` is where a restarted signals service warms its strategies up; `margin` adds
   * execution's spot-margin side (MarginExecution, driven by the clock's steps).
   */
  static async create(store: EventStore = new InMemoryEventStore(), venue?: VenueFactory, history?: CandleHistory, margin?: InProcessMarginOptions): Promise<InProcessSystem> {
    const sys = new InProcessSystem(store, venue, history);
    if (margin) await sys.hostMargin(margin);
    const start = (await store.lastPosition()) + 1;
    for (const s of sys.order) sys.cursor.set(s, start);
    await sys.execution.onModuleInit();
    await sys.drain();
    return sys;
  }

  /**
   * As the distributed execution hosts it: account events reach it right after execution, the
   * clock's steps after execution's own, and what it appends counts in execution's answer to the
   * clock (one appender there), so the clock waits for the cascade it starts.
   */
  private async hostMargin(m: InProcessMarginOptions): Promise<void> {
    const appender = new EventAppender(this.store);
    const settings = { kind: 'binance-margin-local' as const, accountId: m.accountId, symbols: m.symbols, apiKey: '', apiSecret: '', restBase: null, wsBase: null, watchMs: 1000, risk: m.risk, driven: true };
    const margin = new MarginExecution({ settings, store: this.store, appender, log: m.log ?? SILENT, venue: async () => m.venue });
    await margin.start();
    const consumer: PipelineService = { name: 'execution', appender, categories: ['account'], onEvent: (e) => margin.onEvent(e), interest: () => 'STEP' };
    this.order.splice(this.order.indexOf(this.execution) + 1, 0, consumer);
    this.margin = margin;
    this.marginAppender = appender;
  }

  private draining: Promise<void> = Promise.resolve();
  /** The drain queued behind the running one and not started yet: later callers share it. */
  private queued: Promise<void> | null = null;

  /**
   * Deliver every stored event to every service that consumes its category, until nothing
   * new arrives. Drains run one at a time (a service handles one event at a time, as with
   * its durable consumer), so concurrent syncs wait for the running drain and then drain again;
   * syncs that come while a drain is queued share it (it starts after each of them asked).
   */
  drain(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.draining.then(() => {
      this.queued = null;
      return this.drainOnce();
    });
    this.queued = next;
    this.draining = next.catch(() => undefined);
    return next;
  }

  private async drainOnce(): Promise<void> {
    for (let progressed = true; progressed; ) {
      progressed = false;
      // The log's end, read again after anything ran (a handler appends): a service whose cursor
      // is past it has nothing to read, and is not given an empty read of the store.
      let last = await this.store.lastPosition();
      for (const svc of this.order) {
        const from = this.cursor.get(svc)!;
        if (progressed) last = await this.store.lastPosition();
        if (from > last) continue;
        // In batches: one await per batch, not per event (most events concern few services).
        for await (const batch of readAllInBatches(this.store, { fromPosition: from })) {
          for (const e of batch) {
            this.cursor.set(svc, e.position + 1);
            if ((svc.categories as readonly string[]).includes(streamCategory(e.streamId))) {
              await svc.onEvent(e);
              this.eventsDelivered++;
            }
            progressed = true;
          }
        }
      }
    }
  }

  private ack(name: ServiceName): ClockAck {
    const s = this.byName.get(name)!;
    // Execution's answer covers its spot-margin side (steps always wanted while it is driven).
    const m = name === 'execution' && this.margin ? this.margin : null;
    const appended = s.appender.appended + (m ? this.marginAppender!.appended : 0);
    return { service: name, appended, idle: true, interest: m?.wantsSteps ? 'STEP' : s.interest(), instance: s.appender.instance };
  }

  async deliver(service: ServiceName, tick: MarketTick): Promise<ClockAck> {
    await this.byName.get(service)!.onTick(tick);
    if (service === 'execution' && this.margin) await this.margin.onTick(tick);
    return this.ack(service);
  }

  async sync(service: ServiceName): Promise<ClockAck> {
    await this.drain();
    return this.ack(service);
  }

  /** The operator and set-up commands the distributed system takes over NATS, by direct call. */
  async command(subject: string, payload: unknown): Promise<unknown> {
    try {
      switch (subject) {
        case Subjects.openAccount:
          return await this.risk.configure(OpenAccountRequest.parse(payload), 'open');
        case Subjects.reconfigureAccount:
          return await this.risk.configure(OpenAccountRequest.parse(payload), 'reconfigure');
        case Subjects.setTradingState:
          return await this.risk.setTradingState(SetTradingStateRequest.parse(payload));
        case Subjects.resumeTrading:
          return await this.risk.resume(ResumeTradingRequest.parse(payload));
        case Subjects.attachStrategy:
          return await this.signals.attach(AttachStrategyRequest.parse(payload));
        case Subjects.flatten:
          return await this.risk.operatorCommand(FlattenRequest.parse(payload), 'flatten');
        case Subjects.closePosition:
          return await this.risk.operatorCommand(ClosePositionRequest.parse(payload), 'close-position');
        case Subjects.cancelOrder:
          return await this.risk.operatorCommand(CancelOrderRequest.parse(payload), 'cancel-order');
        default:
          throw new ReplayClockError(subject, 'no such command in process');
      }
    } catch (e) {
      const rpc = (e as { getError?: () => unknown }).getError?.();
      const parsed = ErrorReply.shape.error.safeParse(rpc);
      if (parsed.success) throw new ReplayClockError(subject, `${parsed.data.code}: ${parsed.data.message}`);
      throw e;
    } finally {
      await this.drain();
    }
  }

  /**
   * Restart the execution service alone, as a crashed or redeployed process would: a new
   * instance (empty memory, a new venue connection from `venue`) that rebuilds its view from
   * the log and reconciles with the venue at start, then resumes where the durable consumer
   * left off (the next unread event), like the distributed system. `whileDown` runs between
   * the stop and the start (what happens at the venue while nobody is looking).
   */
  async restartExecution(venue?: VenueFactory, whileDown?: () => Promise<void>): Promise<ExecutionService> {
    await this.drain();
    const old = this.execution;
    await old.onModuleDestroy();
    await whileDown?.();
    const next = new ExecutionService(new EventAppender(this.store), this.store, venue);
    this.cursor.set(next, this.cursor.get(old)!);
    this.cursor.delete(old);
    this.order.splice(this.order.indexOf(old), 1, next);
    this.byName.set('execution', next);
    this.execution = next;
    await next.onModuleInit();
    // What it appended at start-up (reconciliation) is read by the others, not by itself again.
    const end = (await this.store.lastPosition()) + 1;
    for (const svc of this.order) if (svc === next) this.cursor.set(svc, Math.max(this.cursor.get(svc)!, end));
    await this.drain();
    return next;
  }

  /**
   * Restart one service as a crashed process would come back: a new instance with empty
   * memory that rebuilds its working state from the log (`onModuleInit`), then resumes from
   * where its consumer left off. Execution keeps its venue (`restartExecution` opens a new one).
   */
  async restart(name: Exclude<ServiceName, 'market-data' | 'execution'>): Promise<void> {
    await this.drain();
    const old = this.byName.get(name)!;
    const appender = new EventAppender(this.store);
    let next: PipelineService & { onTick(t: MarketTick): Promise<void>; onModuleInit(): Promise<void> };
    if (name === 'accounting') next = this.accounting = new AccountingService(appender, this.store);
    else if (name === 'stop-monitor') next = this.stopMonitor = new StopMonitorService(appender, this.store);
    else if (name === 'risk') next = this.risk = new RiskService(appender, this.equitySource(), this.store);
    else next = this.signals = new SignalsService(appender, this.store, this.history);
    this.cursor.set(next, this.cursor.get(old)!);
    this.cursor.delete(old);
    this.order.splice(this.order.indexOf(old), 1, next);
    this.byName.set(name, next);
    await next.onModuleInit();
    await this.drain();
  }

  /** A replay clock over this process. */
  clock(): ReplayClock {
    return new ReplayClock(this, PIPELINE);
  }
}
