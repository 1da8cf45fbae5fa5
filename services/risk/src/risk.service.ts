import {
  type EventData,
  EquitySnapshot,
  ErrorReply,
  type OpenAccountRequest,
  type RecordedEvent,
  Streams,
  Subjects,
} from '@bulwark/contracts';
import { ACCOUNT_DEFAULTS, type AccountState, accountDecider, dec, type Rules, rulesFromContract } from '@bulwark/domain';
import { AggregateRepository, EVENT_STORE, EventAppender, NATS, causedBy } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { JSONCodec, type NatsConnection } from 'nats';

const json = JSONCodec();

/** Thin shell around the account decider: loads state, gathers inputs, appends decisions. */
@Injectable()
export class RiskService {
  private readonly accounts: AggregateRepository<AccountState>;
  private readonly rules = new Map<string, Rules>();

  constructor(
    appender: EventAppender,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {
    this.accounts = new AggregateRepository(appender, {
      initialState: accountDecider.initialState,
      evolve: accountDecider.evolve,
    });
  }

  async openAccount(req: OpenAccountRequest) {
    const config = {
      ...req,
      leverageCap: ACCOUNT_DEFAULTS.leverageCap,
      maxMarginFraction: ACCOUNT_DEFAULTS.maxMarginFraction,
      liquidationBufferFraction: ACCOUNT_DEFAULTS.liquidationBufferFraction,
      maxTradesPerDay: ACCOUNT_DEFAULTS.maxTradesPerDay,
      dailyLossLimitFraction: ACCOUNT_DEFAULTS.dailyLossLimitFraction,
      maxMonthlyDrawdownFraction: ACCOUNT_DEFAULTS.maxMonthlyDrawdownFraction,
      marginMode: 'ISOLATED' as const,
      protection: 'INTERNAL' as const,
    };
    const { result, state } = await this.accounts.handle(
      Streams.account(req.accountId),
      (s) => accountDecider.decide({ kind: 'OpenAccount', config }, s),
      { tsEvent: Date.now(), correlationId: `open-account-${req.accountId}`, causationId: `open-account-${req.accountId}` },
    );
    if (!result.ok) throw new RpcException(result.error);
    return { accountId: req.accountId, config: state.config };
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
    await this.accounts.handle(
      Streams.account(intent.accountId),
      (s) => accountDecider.decide({ kind: 'AssessEntry', intent, signalStreamId: e.streamId, equity, rules, ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
  }

  async recordResult(e: RecordedEvent<string, EventData<'PositionClosed'>>): Promise<void> {
    await this.accounts.handle(
      Streams.account(e.data.accountId),
      (s) => accountDecider.decide({ kind: 'RecordPositionResult', positionStreamId: e.streamId, netPnl: dec(e.data.netPnl), ts: e.metadata.tsEvent }, s),
      causedBy(e),
    );
  }
}
