import { isDeepStrictEqual } from 'node:util';
import { AccountConfig, type DomainEvent, type EventData, type RecordedEvent, Streams } from '@bulwark/contracts';
import { type AccountCommand, type AccountState, accountDecider, dec, type Rules, rulesFromContract } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';

/*
 * `replay --rerun`: decide an account's recorded decisions again with today's account decider
 * (risk's rules: sizing, cost guard, breakers, kill switch, operator commands) and report every
 * one that comes out differently — what an auditor asks after a code or rule change.
 *
 * First-order by design: each decision is decided again on the state folded from the
 * *recorded* log before it, with the input it was decided on (the intent and accounting's
 * equity answer recorded with the decision, the closed position's net result, the operator's
 * command as recorded). A changed decision does not change the later ones; what the changed
 * rule would have done to the rest of the run is a backtest's question, not the audit's.
 */

/** A decision as recorded or as decided again: its events' type and data. */
export interface DecisionEvent {
  type: string;
  data: unknown;
}

/** One recorded decision (one append to the account stream) and its re-run. */
export interface RerunDecision {
  /** The account stream and the revision of the decision's first event. */
  streamId: string;
  revision: number;
  /** What the decision was about: the account command it is decided again as. */
  command: AccountCommand['kind'];
  /** The recorded input: `<stream>@<revision> <type>`, or the recorded command's own event. */
  cause: string;
  recorded: DecisionEvent[];
  /** The events decided now, or the decider's refusal. */
  rerun: DecisionEvent[] | { rejected: string; message: string };
  same: boolean;
}

/** A recorded decision that cannot be decided again, and why (an input the log does not hold). */
export interface NotRerun {
  streamId: string;
  revision: number;
  types: string[];
  reason: string;
}

export interface RerunReport {
  accountId: string;
  /** Config fields replaced before deciding again (empty: today's deciders on the recorded configuration). */
  overrides: Partial<AccountConfig>;
  decisions: RerunDecision[];
  differences: RerunDecision[];
  notRerun: NotRerun[];
}

/** The account has no stream, or an override makes its configuration invalid. */
export class RerunInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RerunInputError';
  }
}

const CONFIG_EVENTS = new Set(['AccountOpened', 'AccountReconfigured']);

/** Consecutive events of one append: the same cause and the same record time. */
function batches(events: RecordedEvent[]): RecordedEvent[][] {
  const out: RecordedEvent[][] = [];
  for (const e of events) {
    const last = out[out.length - 1]?.[0];
    if (last && last.metadata.causationId === e.metadata.causationId && last.metadata.tsInit === e.metadata.tsInit) out[out.length - 1].push(e);
    else out.push([e]);
  }
  return out;
}

/** Events in the form decisions are compared in: type and data, as JSON holds them. */
const comparable = (events: readonly DomainEvent[]): DecisionEvent[] => events.map((e) => ({ type: e.type, data: JSON.parse(JSON.stringify(e.data)) as unknown }));

/**
 * Decide an account's recorded decisions again (see the module comment).
 * @param store the event log (read only: readAll)
 * @param accountId the account whose `account-<id>` stream is re-run
 * @param overrides configuration fields to replace in every recorded AccountOpened /
 *   AccountReconfigured before deciding (e.g. `{ maxFeeRiskFraction: '0.2' }`); the result must
 *   pass the AccountConfig schema
 * @returns every decision with its re-run, the ones that differ, and the ones that could not be re-run
 * @throws RerunInputError when the account has no stream or an override is invalid
 */
export async function rerunAccount(store: EventStore, accountId: string, overrides: Partial<AccountConfig> = {}): Promise<RerunReport> {
  const accountStream = Streams.account(accountId);
  const byId = new Map<string, RecordedEvent>();
  const rulesAt: RecordedEvent[] = [];
  const account: RecordedEvent[] = [];
  for await (const e of store.readAll()) {
    byId.set(e.metadata.eventId, e);
    if (e.type === 'InstrumentRulesRecorded') rulesAt.push(e);
    if (e.streamId === accountStream) account.push(e);
  }
  if (account.length === 0) throw new RerunInputError(`no account ${accountId} in the log (stream ${accountStream} is empty)`);

  const withOverrides = (e: RecordedEvent): DomainEvent => {
    if (!CONFIG_EVENTS.has(e.type) || Object.keys(overrides).length === 0) return e as unknown as DomainEvent;
    const parsed = AccountConfig.safeParse({ ...(e.data as AccountConfig), ...overrides });
    if (!parsed.success) throw new RerunInputError(`override makes the configuration invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return { type: e.type, data: parsed.data } as DomainEvent;
  };
  /** The rules of venue/symbol recorded before global position `before`. */
  const rulesBefore = (venue: string, symbol: string, before: number): Rules | null => {
    const r = rulesAt.filter((e) => e.position < before && (e.data as EventData<'InstrumentRulesRecorded'>).venue === venue && (e.data as EventData<'InstrumentRulesRecorded'>).symbol === symbol).pop();
    return r ? rulesFromContract(r.data as EventData<'InstrumentRulesRecorded'>) : null;
  };

  const report: RerunReport = { accountId, overrides, decisions: [], differences: [], notRerun: [] };
  let state: AccountState = accountDecider.initialState();
  for (const batch of batches(account)) {
    const first = batch[0];
    const types = batch.map((e) => e.type);
    const command = commandOf(batch, byId, rulesBefore);
    if (typeof command === 'string') {
      if (!CONFIG_EVENTS.has(first.type)) report.notRerun.push({ streamId: first.streamId, revision: first.revision, types, reason: command });
    } else {
      const decided = accountDecider.decide(command.command, state);
      const recorded = comparable(batch as unknown as DomainEvent[]);
      const rerun = decided.ok ? comparable(decided.value) : { rejected: decided.error.code, message: decided.error.message };
      const d: RerunDecision = { streamId: first.streamId, revision: first.revision, command: command.command.kind, cause: command.cause, recorded, rerun, same: isDeepStrictEqual(recorded, rerun) };
      report.decisions.push(d);
      if (!d.same) report.differences.push(d);
    }
    for (const e of batch) state = accountDecider.evolve(state, withOverrides(e));
  }
  return report;
}

type Found = { command: AccountCommand; cause: string } | string;

/** The account command a recorded decision answered, rebuilt from the log, or why it cannot be. */
function commandOf(batch: RecordedEvent[], byId: Map<string, RecordedEvent>, rulesBefore: (venue: string, symbol: string, before: number) => Rules | null): Found {
  const first = batch[0];
  const cause = byId.get(first.metadata.causationId);
  const ref = (e: RecordedEvent) => `${e.streamId}@${e.revision} ${e.type}`;
  const find = (type: string) => batch.find((e) => e.type === type);
  if (CONFIG_EVENTS.has(first.type)) return 'configuration: an input, taken as recorded (with the overrides)';

  const decision = find('EntryApproved') ?? find('EntryDenied');
  if (decision) {
    if (!cause || cause.type !== 'IntentEmitted') return `entry decision whose intent (${first.metadata.causationId}) is not in the log`;
    const recorded = (decision.data as EventData<'EntryApproved'> | EventData<'EntryDenied'>).equitySnapshot;
    if (!recorded) return "entry decision recorded without accounting's equity answer (written before decisions recorded it)";
    const intent = cause.data as EventData<'IntentEmitted'>;
    // The decision never reads asOf (not recorded): the intent's time stands in for it.
    const equity = { ...recorded, accountId: intent.accountId, asOf: cause.metadata.tsEvent };
    const rules = rulesBefore(intent.venue, intent.symbol, first.position);
    if (!rules) return `no instrument rules for ${intent.venue} ${intent.symbol} recorded before the decision`;
    return { command: { kind: 'AssessEntry', intent, signalStreamId: cause.streamId, equity, rules, ts: cause.metadata.tsEvent }, cause: ref(cause) };
  }
  if (find('PositionResultRecorded')) {
    if (!cause || cause.type !== 'PositionClosed') return `position result whose close (${first.metadata.causationId}) is not in the log`;
    return { command: { kind: 'RecordPositionResult', positionStreamId: cause.streamId, netPnl: dec((cause.data as EventData<'PositionClosed'>).netPnl), ts: cause.metadata.tsEvent }, cause: ref(cause) };
  }
  // Operator commands: the command is recorded in its own outcome (who, why, what).
  const resumed = find('TradingResumed');
  if (resumed) {
    const r = resumed.data as EventData<'TradingResumed'>;
    return { command: { kind: 'ResumeTrading', reason: r.reason, by: r.by, equity: dec(r.equity), ts: resumed.metadata.tsEvent }, cause: ref(resumed) };
  }
  const flatten = find('FlattenRequested');
  if (flatten && (flatten.data as EventData<'FlattenRequested'>).by !== 'risk') {
    const f = flatten.data as EventData<'FlattenRequested'>;
    return { command: { kind: 'Flatten', reason: f.reason, by: f.by }, cause: ref(flatten) };
  }
  const close = find('PositionCloseRequested');
  if (close) {
    const c = close.data as EventData<'PositionCloseRequested'>;
    return { command: { kind: 'ClosePosition', symbol: c.symbol, reason: c.reason, by: c.by }, cause: ref(close) };
  }
  const cancel = find('OrderCancelCommanded');
  if (cancel) {
    const c = cancel.data as EventData<'OrderCancelCommanded'>;
    return { command: { kind: 'CancelOrder', clientOrderId: c.clientOrderId, reason: c.reason, by: c.by }, cause: ref(cancel) };
  }
  if (batch.length === 1 && first.type === 'TradingStateChanged' && (first.data as EventData<'TradingStateChanged'>).by !== 'risk') {
    const t = first.data as EventData<'TradingStateChanged'>;
    return { command: { kind: 'SetTradingState', state: t.state, reason: t.reason, by: t.by }, cause: ref(first) };
  }
  return "equity observation: the equity and used margin of that moment are accounting's answers, not recorded per tick";
}
