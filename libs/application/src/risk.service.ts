import {
  type ClockInterest,
  type EventData,
  type MarketTick,
  type OpenAccountRequest,
  type RecordedEvent,
  type ResumeTradingRequest,
  type CancelOrderRequest,
  type ClosePositionRequest,
  type FlattenRequest,
  type MarginEntryRequest,
  type SetTradingStateRequest,
  Streams,
} from '@bulwark/contracts';
import { type AccountCommand, type AccountState, accountDecider, dec } from '@bulwark/domain';
import { AggregateRepository, type Causation, EVENT_STORE, EventAppender, Quarantine, causedBy, causedByTick } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { randomUUID } from 'node:crypto';
import { marginPositionId } from '@bulwark/projections';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { liveVenueFromEnv } from './mark-price';
import { EQUITY_SOURCE, type EquitySource, type EquityValues, type PipelineService } from './ports';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from './rebuild';
import { RulesBook } from './rules-book';

/**
 * Thin shell around the account decider: turns requests and events into account commands,
 * gathers their inputs (rules from the rules stream, equity from accounting), appends the
 * decisions. On the replay clock it observes equity for the drawdown breakers while a
 * position is open (and once after it closes).
 */
@Injectable()
export class RiskService implements PipelineService, Rebuildable, OnModuleInit {
  readonly name = 'risk' as const;
  readonly categories = ['signal', 'position', 'rules', 'margin'] as const;
  /**
   * Open positions are folded from the position streams at start-up; the account state (daily
   * counters, drawdown base, pauses, kill switch) is the account stream's, loaded on use.
   */
  readonly rebuildCategories = ['position', 'margin', 'account'] as const;
  readonly quarantine: Quarantine;
  private readonly log = new Logger('risk');
  private readonly accounts: AggregateRepository<AccountState>;
  private readonly rules: RulesBook;
  /** Open position streams per account, and accounts whose equity must be observed on the next step. */
  private readonly open = new Map<string, Set<string>>();
  private readonly observeNext = new Set<string>();
  /**
   * Spot-margin pairs (`<accountId>/<symbol>`) with a position open or an approved entry not yet
   * opened or refused, folded from the margin streams and risk's own approvals: one position per
   * isolated pair, and no approval (nor a trade counted) while one is under way.
   */
  private readonly marginBusy = new Map<string, string>();
  /** Position streams that ended: a PositionOpened delivered again after its close does not reopen the watch. */
  private readonly ended = new Set<string>();

  constructor(
    readonly appender: EventAppender,
    @Inject(EQUITY_SOURCE) private readonly equitySource: EquitySource,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {
    this.quarantine = new Quarantine(this.name, appender, (m) => this.log.error(m));
    this.accounts = new AggregateRepository(
      appender,
      { initialState: accountDecider.initialState, evolve: accountDecider.evolve },
      (e, reason) => this.quarantine.report(Quarantine.of(e), reason).then(() => undefined),
    );
    this.rules = new RulesBook(store);
  }

  /** Before the first message: which positions are open (the drawdown watch needs them). */
  async onModuleInit(): Promise<void> {
    const r = await rebuildFromLog(this, this.store, this.quarantine, rebuildStartFromEnv());
    const n = [...this.open.values()].reduce((a, s) => a + s.size, 0);
    this.log.log(`rebuilt from ${r.events} events in ${r.ms} ms: ${n} open positions, ${r.quarantined} quarantined`);
  }

  /** Follow a margin pair's busy state (see `marginBusy`). */
  private trackMargin(e: RecordedEvent): void {
    const d = e.data as { accountId?: string; symbol?: string; requestId?: string | null; command?: string };
    const key = `${d.accountId}/${d.symbol}`;
    if (e.type === 'MarginEntryApproved') this.marginBusy.set(key, `request ${d.requestId}`);
    else if (e.type === 'MarginPositionOpened') this.marginBusy.set(key, 'open');
    else if (e.type === 'MarginPositionClosed') this.marginBusy.delete(key);
    else if (e.type === 'MarginCommandRejected' && d.command === 'OPEN' && this.marginBusy.get(key) === `request ${d.requestId}`) this.marginBusy.delete(key);
  }

  rebuild(e: RecordedEvent): void {
    this.trackMargin(e);
    if (e.type === 'PositionOpened') this.positionOpened(e.streamId, e.data as EventData<'PositionOpened'>);
    else if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
      this.ended.add(e.streamId);
      this.open.get((e.data as EventData<'PositionClosed'>).accountId)?.delete(e.streamId);
    }
  }

  /** Steps are needed while a position is open (drawdown moves), and once after it closes. */
  interest(): ClockInterest {
    return [...this.open.values()].some((s) => s.size > 0) || this.observeNext.size > 0 ? 'STEP' : 'NONE';
  }

  async onEvent(e: RecordedEvent): Promise<void> {
    switch (e.type) {
      case 'IntentEmitted':
        return this.assess(e as RecordedEvent<'IntentEmitted', EventData<'IntentEmitted'>>);
      case 'PositionOpened':
        return this.positionOpened(e.streamId, e.data as EventData<'PositionOpened'>);
      case 'PositionClosed':
      case 'PositionLiquidated':
        return this.recordResult(e as RecordedEvent<string, EventData<'PositionClosed'>>);
      case 'InstrumentRulesRecorded':
        return this.rulesRecorded(e.data as EventData<'InstrumentRulesRecorded'>);
      case 'MarginPositionOpened':
      case 'MarginCommandRejected':
        return this.trackMargin(e);
      case 'MarginPositionClosed':
        this.trackMargin(e);
        return this.recordMarginResult(e as RecordedEvent<'MarginPositionClosed', EventData<'MarginPositionClosed'>>);
    }
  }

  /**
   * A spot-margin entry request through the account's gate (kill switch, pauses, the shared
   * daily trade count): MarginEntryApproved (execution opens it) or MarginEntryDenied, both on
   * the account stream. A request id seen before decides nothing again.
   * @returns the decision as recorded; `decision` ALREADY_DECIDED for a repeated request id.
   * @throws RpcException UNKNOWN_ACCOUNT when the account is not open.
   */
  async marginEntry(req: MarginEntryRequest) {
    const requestId = req.requestId ?? `me-${randomUUID()}`;
    const ts = Date.now();
    const c: Causation = { tsEvent: ts, correlationId: `margin-entry-${requestId}`, causationId: `margin-entry-${requestId}` };
    const { result } = await this.accounts.handle(
      Streams.account(req.accountId),
      (s) => accountDecider.decide({ kind: 'AssessMarginEntry', request: { ...req, requestId }, ts, busy: this.marginBusy.has(`${req.accountId}/${req.symbol}`) }, s),
      c,
    );
    if (!result.ok) throw new RpcException({ ...result.error });
    const decided = result.value.find((e) => e.type === 'MarginEntryApproved' || e.type === 'MarginEntryDenied');
    if (decided?.type === 'MarginEntryApproved') this.marginBusy.set(`${req.accountId}/${req.symbol}`, `request ${requestId}`);
    if (!decided) return { requestId, decision: 'ALREADY_DECIDED' as const };
    return decided.type === 'MarginEntryApproved'
      ? { requestId, decision: 'APPROVED' as const, approved: decided.data }
      : { requestId, decision: 'DENIED' as const, denied: decided.data };
  }

  /**
   * A strategy's intent on a spot-margin pair: through the account gate like a request (its
   * intent id is the request id, so a redelivered intent decides nothing again); execution
   * sizes it from the venue's equity when it opens it.
   */
  private async assessMarginIntent(e: RecordedEvent<'IntentEmitted', EventData<'IntentEmitted'>>): Promise<void> {
    const i = e.data;
    const request = { requestId: i.intentId, accountId: i.accountId, symbol: i.symbol, side: i.side === 'BUY' ? ('LONG' as const) : ('SHORT' as const), stopPrice: i.stopPrice, takeProfitPrice: i.takeProfitPrice, by: `strategy:${i.strategy}` };
    const key = `${i.accountId}/${i.symbol}`;
    const { result } = await this.accounts.handle(Streams.account(i.accountId), (s) => accountDecider.decide({ kind: 'AssessMarginEntry', request, ts: e.metadata.tsEvent, busy: this.marginBusy.has(key) }, s), causedBy(e));
    if (result.ok && result.value.some((x) => x.type === 'MarginEntryApproved')) this.marginBusy.set(key, `request ${i.intentId}`);
    if (!result.ok) this.log.warn(`margin intent ${i.intentId} for ${i.accountId} not assessed: ${result.error.code} ${result.error.message}`);
  }

  /** A spot-margin position's result counts in the daily and monthly limits like a futures position's; the pair's equity after it is an observation for the drawdown breakers. */
  private async recordMarginResult(e: RecordedEvent<'MarginPositionClosed', EventData<'MarginPositionClosed'>>): Promise<void> {
    const d = e.data;
    const positionId = marginPositionId(d.accountId, d.symbol, d.sequence);
    const c = causedBy(e);
    const { state } = await this.accounts.handle(
      Streams.account(d.accountId),
      (s) => (s.config ? accountDecider.decide({ kind: 'RecordPositionResult', positionStreamId: positionId, netPnl: dec(d.netPnl), ts: e.metadata.tsEvent }, s) : { ok: true as const, value: [] }),
      c,
    );
    if (!state.config) return this.log.warn(`margin result of ${positionId}: account ${d.accountId} is not open in risk; not counted`);
    await this.accounts.handle(Streams.account(d.accountId), (s) => accountDecider.decide({ kind: 'ObserveEquity', equity: dec(d.equityAfter), ts: e.metadata.tsEvent }, s), c);
  }

  private async decide(accountId: string, command: AccountCommand, causation: Causation) {
    const { result, state } = await this.accounts.handle(Streams.account(accountId), (s) => accountDecider.decide(command, s), causation);
    if (!result.ok) throw new RpcException({ ...result.error });
    return state;
  }

  async configure(req: OpenAccountRequest, mode: 'open' | 'reconfigure') {
    const c: Causation = { tsEvent: req.at ?? Date.now(), correlationId: `${mode}-account-${req.accountId}`, causationId: `${mode}-account-${req.accountId}` };
    const { at: _at, by, ...config } = req;
    // The protection default depends on the venue execution trades (BULWARK_VENUE; docs/risk.md).
    const context = { liveVenue: liveVenueFromEnv() };
    const state = await this.decide(req.accountId, { kind: mode === 'open' ? 'OpenAccount' : 'ReconfigureAccount', config, context, ...(by ? { by } : {}) }, c);
    return { accountId: req.accountId, config: state.config };
  }

  async setTradingState(req: SetTradingStateRequest) {
    const c: Causation = { tsEvent: req.at ?? Date.now(), correlationId: `trading-state-${req.accountId}`, causationId: `trading-state-${req.accountId}` };
    const state = await this.decide(req.accountId, { kind: 'SetTradingState', state: req.state, reason: req.reason, by: req.by }, c);
    return { accountId: req.accountId, tradingState: state.tradingState };
  }

  /** Operator commands on orders and positions: recorded on the account stream with who and why; execution carries them out. */
  async operatorCommand(req: FlattenRequest | ClosePositionRequest | CancelOrderRequest, kind: 'flatten' | 'close-position' | 'cancel-order') {
    const c: Causation = { tsEvent: req.at ?? Date.now(), correlationId: `${kind}-${req.accountId}`, causationId: `${kind}-${req.accountId}-${req.at ?? Date.now()}` };
    const command: AccountCommand =
      kind === 'flatten'
        ? { kind: 'Flatten', reason: req.reason, by: req.by }
        : kind === 'close-position'
          ? { kind: 'ClosePosition', symbol: (req as ClosePositionRequest).symbol, reason: req.reason, by: req.by }
          : { kind: 'CancelOrder', clientOrderId: (req as CancelOrderRequest).clientOrderId, reason: req.reason, by: req.by };
    const state = await this.decide(req.accountId, command, c);
    return { accountId: req.accountId, accepted: true, tradingState: state.tradingState };
  }

  /** Resume after a pause (in replay the command carries its market time `at`). */
  async resume(req: ResumeTradingRequest) {
    const equity = await this.equityOf(req.accountId);
    const ts = req.at ?? Date.now();
    const c: Causation = { tsEvent: ts, correlationId: `resume-${req.accountId}`, causationId: `resume-${req.accountId}` };
    await this.decide(req.accountId, { kind: 'ResumeTrading', reason: req.reason, by: req.by, equity: dec(equity.equity), ts }, c);
    return { accountId: req.accountId, resumed: true, equity: equity.equity };
  }

  rulesRecorded(r: EventData<'InstrumentRulesRecorded'>): void {
    this.rules.recorded(r);
  }

  private equityOf(accountId: string) {
    return this.equitySource.equity(accountId);
  }

  /** Equity and used margin as decimals: from the source when it has them (in process), else parsed from its snapshot. */
  private async equityValuesOf(accountId: string): Promise<EquityValues> {
    if (this.equitySource.equityValues) return this.equitySource.equityValues(accountId);
    const eq = await this.equityOf(accountId);
    return { known: eq.known, equity: dec(eq.equity), usedMargin: dec(eq.usedMargin) };
  }

  /**
   * A strategy's futures intent, decided by the account decider with the instrument rules
   * recorded for its venue and symbol and accounting's equity: EntryApproved or EntryDenied on
   * the account stream (no rules recorded: EntryDenied UNKNOWN_SYMBOL). A redelivered intent
   * decides nothing again.
   * @throws Error when the rules stream or accounting cannot be read, or the append fails (a
   *   transient failure: the intent is handled again)
   */
  async assess(e: RecordedEvent<'IntentEmitted', EventData<'IntentEmitted'>>): Promise<void> {
    const intent = e.data;
    if (intent.venue === 'binance-margin') return this.assessMarginIntent(e);
    // null when none are recorded (the decider denies it); a failed read throws and is retried.
    const rules = await this.rules.find(intent.venue, intent.symbol);
    const equity = await this.equityOf(intent.accountId);
    const { result } = await this.accounts.handle(
      Streams.account(intent.accountId),
      (s) => accountDecider.decide({ kind: 'AssessEntry', intent, signalStreamId: e.streamId, equity, rules, ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
    if (!result.ok) this.log.warn(`intent ${intent.intentId} for ${intent.accountId} not assessed: ${result.error.code} ${result.error.message}`);
  }

  positionOpened(positionStreamId: string, p: EventData<'PositionOpened'>): void {
    if (this.ended.has(positionStreamId)) return;
    const set = this.open.get(p.accountId) ?? new Set<string>();
    set.add(positionStreamId);
    this.open.set(p.accountId, set);
  }

  async recordResult(e: RecordedEvent<string, EventData<'PositionClosed'>>): Promise<void> {
    const id = e.data.accountId;
    this.ended.add(e.streamId);
    this.open.get(id)?.delete(e.streamId);
    this.observeNext.add(id);
    await this.accounts.handle(
      Streams.account(id),
      (s) => accountDecider.decide({ kind: 'RecordPositionResult', positionStreamId: e.streamId, netPnl: dec(e.data.netPnl), ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
  }

  /** Observe equity (realised + unrealised) and used margin for the drawdown breakers, the lifetime switch and the margin-utilisation alert. */
  async onTick(tick: MarketTick): Promise<void> {
    const c = causedByTick(tick);
    const accounts = new Set([...[...this.open.entries()].filter(([, s]) => s.size > 0).map(([id]) => id), ...this.observeNext]);
    this.observeNext.clear();
    for (const accountId of accounts) {
      const eq = await this.equityValuesOf(accountId);
      if (!eq.known) continue;
      await this.accounts.handle(Streams.account(accountId), (s) => accountDecider.decide({ kind: 'ObserveEquity', equity: eq.equity, ts: tick.ts, usedMargin: eq.usedMargin }, s), c);
    }
  }
}
