import { type AccountConfig, type ClockInterest, type EventData, type MarketTick, type RecordedEvent, event } from '@bulwark/contracts';
import type { LiveVenuePort, VenueAlert } from '@bulwark/venues';
import { EventAppender, EVENT_STORE, Quarantine, causedBy } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit, Optional } from '@nestjs/common';
import { configureAccount } from './execution/account-setup';
import { ExchangeProtection } from './execution/exchange-protection';
import { entryOrderInitialized } from './execution/entry-order';
import { EntrySplits } from './execution/entry-split';
import { type InstrumentRulesDeps, InstrumentRulesError, ensureInstrumentRules, ensureInstrumentRulesOf, executionSymbolsFromEnv } from './execution/instrument-rules';
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
 * No symbol is fixed: a symbol's instrument rules are loaded the first time execution needs
 * them (an entry, a close, an exchange stop, a reconciliation, a market step of a driven
 * venue) and recorded; at start-up those of BULWARK_SYMBOLS (default BTCUSDT) and of every
 * symbol the log holds positions, orders or stops on. An entry whose symbol's rules cannot be
 * had is recorded and denied (OrderDenied UNKNOWN_SYMBOL, or RULES_UNAVAILABLE when asking
 * failed); closes and stops still go to the venue, which decides.
 *
 * This class coordinates; the jobs are in ./execution/, sharing one `ExecutionState`:
 * - instrument-rules: a symbol's rules from the ccxt venue or the recorded files, loaded when first needed, recorded when they changed;
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
  private readonly splits: EntrySplits;
  /** Serialises what the venue pushes (user-data stream) with everything else this service records. */
  private chain: Promise<void> = Promise.resolve();
  private readonly rulesDeps: InstrumentRulesDeps;
  /** Symbols whose rules a market step could not load: not tried again on every step (an entry still tries). */
  private readonly stepRulesRefused = new Set<string>();

  constructor(
    readonly appender: EventAppender,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Optional() @Inject(EXECUTION_VENUE) private readonly venueFactory?: VenueFactory,
  ) {
    this.quarantine = new Quarantine(this.name, appender, (m) => this.log.error(m));
    this.streams = new ExecutionStreams(appender, store, this.quarantine, this.state, this.log);
    this.rulesDeps = { state: this.state, store, appender };
    const rulesFor = (symbol: string) => ensureInstrumentRules(this.rulesDeps, symbol);
    this.routing = new OrderRouting(this.state, this.streams, store, this.log);
    this.splits = new EntrySplits(this.state, this.streams, this.routing, this.log);
    this.protection = new ExchangeProtection(this.state, this.streams, this.log, rulesFor);
    this.recorder = new VenueEventRecorder(this.state, this.streams, this.protection, this.log);
    this.reconciliation = new Reconciliation(this.state, this.streams, this.routing, this.protection, this.recorder, this.log, rulesFor);
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
        return this.entryApproved(e as RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>);
      case 'TradingStateChanged': {
        const t = e as RecordedEvent<'TradingStateChanged', EventData<'TradingStateChanged'>>;
        const accountId = e.streamId.slice('account-'.length);
        if (t.data.state === 'HALTED') await this.splits.endWhere((s) => s.approval.accountId === accountId, 'HALTED', `trading halted: ${t.data.reason}`, e);
        return this.routing.tradingStateChanged(t);
      }
      case 'FlattenRequested': {
        const prefix = `${e.streamId.slice('account-'.length)}|`;
        await this.rulesForCloses([...this.state.net.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)), e);
        return this.routing.flatten(e as RecordedEvent<'FlattenRequested', EventData<'FlattenRequested'>>);
      }
      case 'PositionCloseRequested':
        await this.rulesForCloses([(e.data as EventData<'PositionCloseRequested'>).symbol], e);
        return this.routing.closePositionCommanded(e as RecordedEvent<'PositionCloseRequested', EventData<'PositionCloseRequested'>>);
      case 'OrderCancelCommanded': {
        const o = e as RecordedEvent<'OrderCancelCommanded', EventData<'OrderCancelCommanded'>>;
        const accountId = e.streamId.slice('account-'.length);
        // The parent of a split: no more children, and those resting are cancelled.
        if (this.splits.isActiveParent(o.data.clientOrderId)) {
          return this.splits.endWhere((s, parent) => parent === o.data.clientOrderId && s.approval.accountId === accountId, 'CANCELLED', `cancel by ${o.data.by}: ${o.data.reason}`, e);
        }
        return this.routing.cancelOrderCommanded(o);
      }
      case 'StopPlaced':
        return this.protection.placeExchangeStops(e as RecordedEvent<'StopPlaced', EventData<'StopPlaced'>>);
      case 'StopResized':
        return this.protection.resizeExchangeStops(e as RecordedEvent<'StopResized', EventData<'StopResized'>>);
      case 'StopTriggered': {
        const t = e as RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>;
        const symbol = await this.stopSymbol(t);
        if (symbol) await this.rulesForCloses([symbol], e);
        // No more children into a position whose stop or target fired.
        if (symbol) await this.splits.endWhere((s) => s.approval.symbol === symbol && (!t.data.accountId || s.approval.accountId === t.data.accountId), 'STOP_TRIGGERED', `${t.data.kind.toLowerCase().replace(/_/g, ' ')} triggered`, e);
        return this.routing.submitProtectiveClose(t);
      }
      case 'ProtectionFailed':
        return this.protection.protectionFailed(e as RecordedEvent<'ProtectionFailed', EventData<'ProtectionFailed'>>);
    }
  }

  /** One step of the market path: resting entries past their expiry are cancelled, then a driven venue matches and the results are recorded. */
  async onTick(tick: MarketTick): Promise<void> {
    // Most steps have no open order, their rules and no split: those parts are not even awaited.
    if (this.state.openOrders.size > 0) await this.routing.expireEntries(tick);
    if (!this.state.rules.has(tick.symbol)) await this.rulesForStep(tick);
    if (this.state.splits.size > 0) await this.splits.onTick(tick);
    return this.recorder.onTick(tick);
  }

  /**
   * A driven venue gets a market step's symbol's rules before the step: it keeps a symbol's last
   * price (what a market order is checked at) only for a symbol it has rules for.
   */
  private async rulesForStep(tick: MarketTick): Promise<void> {
    const venue = this.state.venue;
    if (!venue || !isDriven(venue) || tick.venue !== this.state.venueId || this.state.rules.has(tick.symbol) || this.stepRulesRefused.has(tick.symbol)) return;
    try {
      await ensureInstrumentRules(this.rulesDeps, tick.symbol);
    } catch (e) {
      if (!(e instanceof InstrumentRulesError)) throw e;
      this.stepRulesRefused.add(tick.symbol);
      this.log.warn(`market steps of ${tick.symbol} pass the venue by: ${e.message}`);
    }
  }

  /**
   * An approved entry: its symbol's rules first (the venue checks the order against them), then
   * routing. When they cannot be had the order is recorded and denied with the reason
   * (OrderDenied UNKNOWN_SYMBOL or RULES_UNAVAILABLE), unless it exists already (a redelivery:
   * routing settles it as any other).
   * @throws Error from the log (an append that failed: the event is handled again)
   */
  private async entryApproved(e: RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>): Promise<void> {
    try {
      await ensureInstrumentRules(this.rulesDeps, e.data.symbol);
    } catch (err) {
      if (!(err instanceof InstrumentRulesError)) throw err;
      const existing = await this.streams.loadOrder(e.data.split?.children[0].clientOrderId ?? e.data.clientOrderId);
      if (existing.state.status !== 'NONE') return e.data.split ? this.splits.start(e) : this.routing.submitEntry(e);
      this.log.warn(`entry ${e.data.clientOrderId} of ${e.data.accountId} denied: ${err.message}`);
      return this.routing.place(entryOrderInitialized(e), causedBy(e), { code: err.code, message: err.message });
    }
    return e.data.split ? this.splits.start(e) : this.routing.submitEntry(e);
  }

  /**
   * The rules of the symbols a close is about to trade. A close must always be able to go: when
   * they cannot be had it goes anyway and the venue decides (a live venue knows its symbols; the
   * paper venue refuses, recorded as the order's rejection).
   * @throws Error from the log (an append that failed: the event is handled again)
   */
  private async rulesForCloses(symbols: string[], e: RecordedEvent): Promise<void> {
    for (const [symbol, err] of await ensureInstrumentRulesOf(this.rulesDeps, symbols)) {
      if (!(err instanceof InstrumentRulesError)) throw err;
      this.log.error(`${e.type} ${e.metadata.eventId} (${e.streamId}): closes on ${symbol} go without its rules: ${err.message}`);
    }
  }

  /** The symbol of a triggered stop: on the event since v2, else on its stream's StopPlaced; null when neither says. */
  private async stopSymbol(e: RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>): Promise<string | null> {
    if (e.data.symbol) return e.data.symbol;
    const placed = (await this.store.readStream(e.streamId, { maxCount: 1 }))[0]?.data as EventData<'StopPlaced'> | undefined;
    return placed?.symbol ?? null;
  }

  /**
   * Start-up: the rules of symbols the log holds facts about. One that cannot be had is logged
   * (execution starts: the other symbols' positions need it) and tried again when next needed.
   * @throws Error from the log (rules had but not recorded)
   */
  private async rulesForLog(symbols: Iterable<string>, what: string): Promise<void> {
    for (const [symbol, err] of await ensureInstrumentRulesOf(this.rulesDeps, symbols)) {
      if (!(err instanceof InstrumentRulesError)) throw err;
      this.log.error(`${what} names ${symbol}, whose rules cannot be had: ${err.message}`);
    }
  }

  /**
   * Open the venue; load the instrument rules of BULWARK_SYMBOLS and record them when they
   * differ from the last recorded; put a paper venue back from the log (with the rules of every
   * symbol the log names); rebuild this service's view from the log and load the rules of the
   * symbols it holds positions, orders or stops on, before any market step; for a live venue
   * reconcile it with the venue (then every `reconcileSeconds`).
   * @throws VenueConfigError for a malformed BULWARK_SYMBOLS; InstrumentRulesError when a symbol it names has no rules (a configuration the venue cannot trade)
   */
  async onModuleInit(): Promise<void> {
    let opened: OpenedVenue | null = null;
    // Each alert on the venue stream of the account whose adapter raised it (a single-account venue names none: its one account).
    const onAlert = (a: VenueAlert, raisedBy?: string) => {
      const accountId = raisedBy ?? (opened?.accountIds?.length === 1 ? opened.accountIds[0] : undefined);
      const data = a.kind === 'IP_BANNED' ? { kind: 'IP_BANNED' as const, detail: a.message, until: a.until } : { kind: 'USER_STREAM_DOWN' as const, detail: a.message, until: null };
      this.log.error(`venue alert ${data.kind}${accountId ? ` (${accountId})` : ''}: ${data.detail}`);
      if (accountId) void this.serial(() => this.streams.appendVenue(accountId, [event('VenueAlert', data)], { tsEvent: Date.now(), correlationId: `venue-alert-${accountId}`, causationId: `venue-alert-${Date.now()}` }));
    };
    // The venue gets the rules map now and reads it when it trades; it is filled below, then as symbols are first needed.
    opened = this.venueFactory ? await this.venueFactory(this.state.rules, onAlert) : await venueFromEnv(process.env, this.state.rules, onAlert);
    this.state.venue = opened.venue;
    this.state.tradedAccounts = opened.accountIds ? new Set(opened.accountIds) : null;
    for (const symbol of executionSymbolsFromEnv(process.env)) await ensureInstrumentRules(this.rulesDeps, symbol);
    // The paper exchange lives in this process: put back what the log says it held (before the
    // rebuild marks configured the accounts the driven venue holds).
    const paper = await restorePaperVenueFromLog(this.store, this.state.venue, this.quarantine, undefined, (symbols) => this.rulesForLog(symbols, "the paper venue's log"));
    if (paper) this.log.log(`paper venue restored from ${paper.events} events in ${paper.ms} ms: ${paper.accounts} accounts, ${paper.quarantined} quarantined, last step ${paper.lastStep ?? 'none'}`);
    await rebuildExecutionState(this.name, this.state, this.store, this.quarantine, this.log, (e) => this.splits.rebuild(e));
    const held = [...this.state.net].filter(([, n]) => n.status === 'OPEN').map(([k]) => k.slice(k.indexOf('|') + 1));
    await this.rulesForLog([...held, ...[...this.state.openOrders.values()].map((o) => o.symbol), ...[...this.state.protective.values()].map((p) => p.symbol)], 'the log');
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
