import {
  type EventData,
  EquitySnapshot,
  ErrorReply,
  type MarketTick,
  type OpenAccountRequest,
  type RecordedEvent,
  type ResumeTradingRequest,
  type SetTradingStateRequest,
  Streams,
  Subjects,
} from '@bulwark/contracts';
import { type AccountCommand, type AccountState, accountDecider, dec, type Rules, rulesFromContract } from '@bulwark/domain';
import { AggregateRepository, type Causation, EVENT_STORE, EventAppender, NATS, causedBy, clockAck, clockInterest } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { JSONCodec, type NatsConnection } from 'nats';

const json = JSONCodec();

/**
 * Thin shell around the account decider: turns requests and events into account commands,
 * gathers their inputs (rules from the rules stream, equity from accounting), appends the
 * decisions. On the replay clock it observes equity for the drawdown breakers while a
 * position is open (and once after it closes).
 */
@Injectable()
export class RiskService {
  private readonly log = new Logger('risk');
  private readonly accounts: AggregateRepository<AccountState>;
  private readonly rules = new Map<string, Rules>();
  /** Open positions per account, and accounts whose equity must be observed on the next step. */
  private readonly open = new Map<string, number>();
  private readonly observeNext = new Set<string>();

  constructor(
    private readonly appender: EventAppender,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {
    this.accounts = new AggregateRepository(appender, { initialState: accountDecider.initialState, evolve: accountDecider.evolve });
    clockInterest.get = () => ([...this.open.values()].some((n) => n > 0) || this.observeNext.size > 0 ? 'STEP' : 'NONE');
  }

  private async decide(accountId: string, command: AccountCommand, causation: Causation) {
    const { result, state } = await this.accounts.handle(Streams.account(accountId), (s) => accountDecider.decide(command, s), causation);
    if (!result.ok) throw new RpcException({ ...result.error });
    return state;
  }

  async configure(req: OpenAccountRequest, mode: 'open' | 'reconfigure') {
    const c: Causation = { tsEvent: Date.now(), correlationId: `${mode}-account-${req.accountId}`, causationId: `${mode}-account-${req.accountId}` };
    const state = await this.decide(req.accountId, { kind: mode === 'open' ? 'OpenAccount' : 'ReconfigureAccount', config: req }, c);
    return { accountId: req.accountId, config: state.config };
  }

  async setTradingState(req: SetTradingStateRequest) {
    const c: Causation = { tsEvent: req.at ?? Date.now(), correlationId: `trading-state-${req.accountId}`, causationId: `trading-state-${req.accountId}` };
    const state = await this.decide(req.accountId, { kind: 'SetTradingState', state: req.state, reason: req.reason, by: req.by }, c);
    return { accountId: req.accountId, tradingState: state.tradingState };
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
    this.rules.set(`${r.venue}:${r.symbol}`, rulesFromContract(r));
  }

  /** The rules in force: from the rules stream (the latest recorded). */
  private async rulesFor(venue: string, symbol: string): Promise<Rules | null> {
    const key = `${venue}:${symbol}`;
    if (!this.rules.has(key)) {
      const events = await this.store.readStream(Streams.rules(venue, symbol));
      const last = events.filter((e) => e.type === 'InstrumentRulesRecorded').pop();
      if (last) this.rulesRecorded(last.data as EventData<'InstrumentRulesRecorded'>);
    }
    return this.rules.get(key) ?? null;
  }

  private async equityOf(accountId: string): Promise<EquitySnapshot> {
    const m = await this.nc.request(Subjects.equity, json.encode({ accountId }), { timeout: 10_000 });
    const raw = json.decode(m.data);
    const e = ErrorReply.safeParse(raw);
    if (e.success) throw new Error(`accounting: ${e.data.error.code} ${e.data.error.message}`);
    return EquitySnapshot.parse(raw);
  }

  async assess(e: RecordedEvent<'IntentEmitted', EventData<'IntentEmitted'>>): Promise<void> {
    const intent = e.data;
    const rules = await this.rulesFor(intent.venue, intent.symbol);
    if (!rules) throw new Error(`no instrument rules recorded for ${intent.venue} ${intent.symbol}`);
    const equity = await this.equityOf(intent.accountId);
    const { result } = await this.accounts.handle(
      Streams.account(intent.accountId),
      (s) => accountDecider.decide({ kind: 'AssessEntry', intent, signalStreamId: e.streamId, equity, rules, ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
    if (!result.ok) this.log.warn(`intent ${intent.intentId} for ${intent.accountId} not assessed: ${result.error.code} ${result.error.message}`);
  }

  positionOpened(p: EventData<'PositionOpened'>): void {
    this.open.set(p.accountId, (this.open.get(p.accountId) ?? 0) + 1);
  }

  async recordResult(e: RecordedEvent<string, EventData<'PositionClosed'>>): Promise<void> {
    const id = e.data.accountId;
    this.open.set(id, Math.max(0, (this.open.get(id) ?? 1) - 1));
    this.observeNext.add(id);
    await this.accounts.handle(
      Streams.account(id),
      (s) => accountDecider.decide({ kind: 'RecordPositionResult', positionStreamId: e.streamId, netPnl: dec(e.data.netPnl), ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
  }

  /** Observe equity (realised + unrealised) for the monthly drawdown breakers. */
  async onTick(tick: MarketTick) {
    const candleId = `candle-${tick.venue}-${tick.symbol}-${tick.candleOpenTime}`;
    const c: Causation = { tsEvent: tick.ts, correlationId: candleId, causationId: `tick-${tick.runId}-${tick.seq}` };
    const accounts = new Set([...[...this.open.entries()].filter(([, n]) => n > 0).map(([id]) => id), ...this.observeNext]);
    this.observeNext.clear();
    for (const accountId of accounts) {
      const eq = await this.equityOf(accountId);
      if (!eq.known) continue;
      await this.accounts.handle(Streams.account(accountId), (s) => accountDecider.decide({ kind: 'ObserveEquity', equity: dec(eq.equity), ts: tick.ts }, s), c);
    }
    return clockAck('risk', this.appender);
  }
}
