import { type AccountConfig, type ClockInterest, type EventData, type MarketTick, type RecordedEvent, event } from '@bulwark/contracts';
import type { LiveVenuePort, VenueAlert } from '@bulwark/venues';
import { EventAppender, EVENT_STORE, Quarantine } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit, Optional } from '@nestjs/common';
import { configureAccount } from './execution/account-setup';
import { ExchangeProtection } from './execution/exchange-protection';
import { loadInstrumentRules } from './execution/instrument-rules';
import { rebuildExecutionState } from './execution/log-rebuild';
import { OrderRouting } from './execution/order-routing';
import { Reconciliation } from './execution/reconciliation';
import { ExecutionState, isDriven, isLive } from './execution/state';
import { ExecutionStreams } from './execution/streams';
import { VenueEventRecorder } from './execution/venue-events';
import { restorePaperVenueFromLog } from './paper-restore';
import type { PipelineService } from './ports';
import { type OpenedVenue, type VenueFactory, EXECUTION_VENUE, venueFromEnv } from './venue-factory';

/**
 * Execution: drives the venue (the paper venue by default; the local Binance-compatible
 * venue, Binance's demo environment or a live account through ccxt when configured, see
 * venue-config.ts) for approved entries and triggered stops, records every order transition
 * on the order's stream, and the venue account settings (funding, one-way mode, isolated
 * margin, leverage), reconciliations and venue alerts on the venue stream.
 *
 * Protection per account (`AccountConfig.protection`): INTERNAL (default) closes at market
 * when the stop-monitor sees a level crossed; EXCHANGE places reduce-only STOP_MARKET /
 * TAKE_PROFIT_MARKET algo orders at the venue when the stop is placed and lets them close the
 * position (the internal close is the fallback when the exchange stop is not accepted);
 * BOTH closes internally first with the exchange stop as the backstop. When a position goes
 * flat, its remaining exchange stops are cancelled.
 *
 * Decisions about order state live in the domain's order decider; matching and margin in the
 * venue; what to do about a reconciliation difference in the domain's `reconcile`.
 *
 * This class coordinates; the jobs are in ./execution/, sharing one `ExecutionState`:
 * - instrument-rules: the rules from files or the ccxt venue, recorded when they changed;
 * - account-setup: the venue account's settings (funding, one-way, isolated, leverage);
 * - order-routing: entries, the closes of triggered stops, operator commands, the kill switch;
 * - exchange-protection: exchange stops placed, resized, cancelled when flat; protection alerts;
 * - venue-events: what the venue reports (fills, expiries), a driven venue's step per tick;
 * - net-positions: the net position per `account|symbol` from the fills;
 * - reconciliation: the log's view against a live venue's, at start-up and periodically;
 * - log-rebuild: the shared state folded from the log at start-up;
 * - streams: appends to the order streams (keeping the open-order view) and the venue streams.
 */
@Injectable()
export class ExecutionService implements OnModuleInit, OnModuleDestroy, PipelineService {
  readonly name = 'execution' as const;
  readonly categories = ['account', 'stop'] as const;
  private readonly log = new Logger('execution');
  readonly quarantine: Quarantine;
  private readonly state = new ExecutionState();
  private readonly streams: ExecutionStreams;
  private readonly routing: OrderRouting;
  private readonly protection: ExchangeProtection;
  private readonly recorder: VenueEventRecorder;
  private readonly reconciliation: Reconciliation;
  /** Serialises what the venue pushes (user-data stream) with everything else this service records. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly appender: EventAppender,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Optional() @Inject(EXECUTION_VENUE) private readonly venueFactory?: VenueFactory,
  ) {
    this.quarantine = new Quarantine(this.name, appender, (m) => this.log.error(m));
    this.streams = new ExecutionStreams(appender, store, this.quarantine, this.state, this.log);
    this.routing = new OrderRouting(this.state, this.streams, store, this.log);
    this.protection = new ExchangeProtection(this.state, this.streams, this.log);
    this.recorder = new VenueEventRecorder(this.state, this.streams, this.protection, this.log);
    this.reconciliation = new Reconciliation(this.state, this.streams, this.routing, this.protection, this.recorder, this.log);
  }

  /** Idle, it still watches each bar's close so its last price (for margin checks of new orders) is current. */
  interest(): ClockInterest {
    const venue = this.state.venue;
    return venue && isDriven(venue) && !venue.isIdle() ? 'STEP' : 'CLOSE';
  }

  async onEvent(e: RecordedEvent): Promise<void> {
    switch (e.type) {
      case 'AccountOpened':
        this.state.accounts.set((e.data as AccountConfig).accountId, e.data as AccountConfig);
        return configureAccount(this.state, this.streams, this.log, e as RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>);
      case 'AccountReconfigured':
        this.state.accounts.set((e.data as AccountConfig).accountId, e.data as AccountConfig);
        return;
      case 'EntryApproved':
        return this.routing.submitEntry(e as RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>);
      case 'TradingStateChanged':
        return this.routing.tradingStateChanged(e as RecordedEvent<'TradingStateChanged', EventData<'TradingStateChanged'>>);
      case 'FlattenRequested':
        return this.routing.flatten(e as RecordedEvent<'FlattenRequested', EventData<'FlattenRequested'>>);
      case 'PositionCloseRequested':
        return this.routing.closePositionCommanded(e as RecordedEvent<'PositionCloseRequested', EventData<'PositionCloseRequested'>>);
      case 'OrderCancelCommanded':
        return this.routing.cancelOrderCommanded(e as RecordedEvent<'OrderCancelCommanded', EventData<'OrderCancelCommanded'>>);
      case 'StopPlaced':
        return this.protection.placeExchangeStops(e as RecordedEvent<'StopPlaced', EventData<'StopPlaced'>>);
      case 'StopResized':
        return this.protection.resizeExchangeStops(e as RecordedEvent<'StopResized', EventData<'StopResized'>>);
      case 'StopTriggered':
        return this.routing.submitProtectiveClose(e as RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>);
      case 'ProtectionFailed':
        return this.protection.protectionFailed(e as RecordedEvent<'ProtectionFailed', EventData<'ProtectionFailed'>>);
    }
  }

  /** One step of the market path: a driven venue matches and the results are recorded. */
  onTick(tick: MarketTick): Promise<void> {
    return this.recorder.onTick(tick);
  }

  /**
   * Load the instrument rules and record them when they differ from the last recorded; open
   * the venue; for a live venue rebuild this service's view from the log and reconcile it
   * with the venue (then every `reconcileSeconds`).
   */
  async onModuleInit(): Promise<void> {
    const alert = (accountId: string | undefined) => (a: VenueAlert) => {
      const data = a.kind === 'IP_BANNED' ? { kind: 'IP_BANNED' as const, detail: a.message, until: a.until } : { kind: 'USER_STREAM_DOWN' as const, detail: a.message, until: null };
      this.log.error(`venue alert ${data.kind}: ${data.detail}`);
      if (accountId) void this.serial(() => this.streams.appendVenue(accountId, [event('VenueAlert', data)], { tsEvent: Date.now(), correlationId: `venue-alert-${accountId}`, causationId: `venue-alert-${Date.now()}` }));
    };
    let opened: OpenedVenue | null = null;
    const onAlert = (a: VenueAlert) => alert(opened?.accountId)(a);
    // The venue gets the rules map now and reads it when it trades; it is filled below.
    opened = this.venueFactory ? await this.venueFactory(this.state.rules, onAlert) : await venueFromEnv(process.env, this.state.rules, onAlert);
    this.state.venue = opened.venue;
    await loadInstrumentRules(this.state.venue, this.state.rules, this.store, this.appender);
    // The paper exchange lives in this process: put back what the log says it held (before the
    // rebuild marks configured the accounts the driven venue holds).
    const paper = await restorePaperVenueFromLog(this.store, this.state.venue, this.quarantine);
    if (paper) this.log.log(`paper venue restored from ${paper.events} events in ${paper.ms} ms: ${paper.accounts} accounts, ${paper.quarantined} quarantined, last step ${paper.lastStep ?? 'none'}`);
    await rebuildExecutionState(this.name, this.state, this.store, this.quarantine, this.log);
    if (isLive(this.state.venue)) {
      await this.reconcileAll('STARTUP');
      if (opened.reconcileSeconds > 0) this.reconciliation.startTimer(opened.reconcileSeconds, (fn) => this.serial(fn));
    }
    if (opened.subscribe) opened.subscribe((events, ts) => void this.serial(() => this.recorder.record(events, { tsEvent: ts, correlationId: `venue-${this.state.venueId}`, causationId: `user-data-${ts}` })));
  }

  async onModuleDestroy(): Promise<void> {
    this.reconciliation.stopTimer();
    await this.chain.catch(() => undefined);
    await (this.state.venue as Partial<LiveVenuePort> | undefined)?.close?.();
  }

  /** See {@link Reconciliation.reconcileAll} (a live venue only; any other: nothing). */
  reconcileAll(trigger: 'STARTUP' | 'PERIODIC' | 'RECONNECT'): Promise<void> {
    return this.reconciliation.reconcileAll(trigger);
  }

  /** Run `fn` after everything queued before it (venue pushes and timers share the order streams). */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
