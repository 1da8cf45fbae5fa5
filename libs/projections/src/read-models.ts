import { accountOfStream, type AccountSummary, type EventData, parsePositionStreamId, parseStreamId, type RecordedEvent, streamCategory } from '@bulwark/contracts';
import {
  accountInitialState,
  type AccountState,
  type D,
  dec,
  netPnlOf,
  orderInitialState,
  type OrderState,
  positionInitialState,
  type PositionState,
  stopInitialState,
  type StopState,
  str,
  unrealisedPnl,
  ZERO,
} from '@bulwark/domain';
import { type EventStore, readAllInBatches, type UnreadableEvent } from '@bulwark/event-store';
import {
  amountsOf,
  type EventAmounts,
  evolvePolicy,
  evolvePosition,
  evolveStop,
  fillKey,
  LEDGER_TYPES,
  LedgerFold,
  type LedgerSnapshot,
  POSITION_FILL_TYPES,
  REALISING_TYPES,
  stepOrder,
  utcTime,
} from './folds';
import { isTrustedAsIs, screenEvent, trustEvent } from './screen';

/*
 * The replay's read models (`bulwark replay`): rebuild every read model from the event log alone — account policy
 * state, positions, the ledger, orders and stops — with the deciders' own evolve functions,
 * check the log's self-consistency, and compare with what the accounting service holds.
 * Reading never changes the log (only readAll, streamRevision and lastPosition are called).
 *
 * A stored message that is not a valid event — unreadable (reported by the store's
 * `onUnreadable`), of an unknown type, with data failing its schema, or larger than the store
 * writes — is left out of every model and is one failure of the `schema` check, with its
 * stream, revision, position, type and reason; the models of every account are still built.
 */

// ---------------------------------------------------------------------------------------
// Read models
// ---------------------------------------------------------------------------------------

/** The account policy state (accountEvolve over `account-<id>`), serialisable. */
export interface PolicyModel {
  config: EventData<'AccountOpened'> | null;
  tradingState: string;
  entries: number;
  day: string | null;
  tradesToday: number;
  pnlToday: string;
  pausedForDay: { day: string; reason: string } | null;
  month: string | null;
  monthBase: string | null;
  monthlyPause: { month: string } | null;
  drawdownAlertsThisMonth: string[];
  positionResultsRecorded: number;
  intentsAssessed: number;
  events: number;
}

export interface PositionModel {
  streamId: string;
  sequence: number;
  status: string;
  side: string | null;
  venue: string | null;
  symbol: string | null;
  /** Open quantity (0 once ended) and the volume-weighted entry price. */
  quantity: string;
  entryPrice: string;
  leverage: number;
  realisedPnl: string;
  fees: string;
  funding: string;
  liquidationFee: string;
  netPnl: string;
  /** Open positions only: unrealised PnL at `markPrice` (the account's last fill price on the symbol). */
  markPrice: string | null;
  unrealisedPnl: string;
  openedAt: number | null;
  endedAt: number | null;
  tradeIds: string[];
}

/** The ledger, with the definitions of the accounting service's `book()`, and the open positions' part. All USDT. */
export interface LedgerModel extends LedgerSnapshot {
  /** Open positions at the last known fill price of the account on their symbol (the log holds no marks). */
  unrealisedPnl: string;
  unrealisedBasis: string;
  /** walletBalance + unrealisedPnl. */
  finalEquity: string;
  openPositions: number;
}

export interface OrderModel {
  clientOrderId: string;
  purpose: string | null;
  side: string | null;
  quantity: string | null;
  status: string;
  filledQuantity: string;
  averageFillPrice: string | null;
  fees: string;
  fills: number;
}

export interface StopModel {
  streamId: string;
  status: string;
  positionSide: string | null;
  stopPrice: string | null;
  takeProfitPrice: string | null;
  /** The trigger that closed it (STOP_LOSS, TAKE_PROFIT, MARGIN_RATIO, LIQUIDATION_DISTANCE), if any. */
  triggeredBy: string | null;
  attempts: number;
  warnings: string[];
}

export interface AccountReadModel {
  accountId: string;
  policy: PolicyModel;
  ledger: LedgerModel;
  positions: PositionModel[];
  orders: { byStatus: Record<string, number>; list: OrderModel[] };
  stops: { byStatus: Record<string, number>; list: StopModel[] };
}

export type CheckName = 'schema' | 'revisions' | 'order-transitions' | 'order-fills' | 'position-totals' | 'trade-ids';

export interface CheckFailure {
  accountId: string | null;
  /** The stream (or fill) the failure is about; `<stream>#<revision>` for one message. */
  subject: string;
  detail: string;
  /** Schema failures: the message's global position and the type it claims (null when unreadable without one). */
  position?: number;
  eventType?: string | null;
}

/** One self-consistency rule that must hold in any valid log, and where it does not. */
export interface ConsistencyCheck {
  name: CheckName;
  rule: string;
  /** How many streams / fills / events the rule was checked on. */
  checked: number;
  ok: boolean;
  failures: CheckFailure[];
}

export interface ReadModels {
  /** The log as read: its last global position and the number of events read. */
  lastPosition: number;
  eventsRead: number;
  accountFilter: string | null;
  accounts: AccountReadModel[];
  checks: ConsistencyCheck[];
  /** Every check holds. */
  ok: boolean;
  /** True when every event was re-checked against its schema (`verify`); false when the log was trusted. */
  verified: boolean;
}

/** The schema check's rule when the log is trusted (no `verify`). */
const TRUSTED_SCHEMA_RULE =
  'every stored message is a readable event of a known type and schema version that the folds can use (others are left out of the folds); schemas and sizes were checked at append, --verify checks them again';

const CHECK_RULES: Record<CheckName, string> = {
  schema: 'every stored message is a readable event of a known type whose data matches its contract schema and whose size the store allows (others are left out of the folds)',
  revisions: "every stream's revisions run 0, 1, 2, … without a gap, global positions increase, and the stream's last revision is the last one read",
  'order-transitions': "every order stream starts with OrderInitialized and follows the order state machine's transition table",
  'order-fills': "each order's filled quantity equals the sum of its fills (cumulative and leaves quantities agree, no overfill, FILLED means fully filled)",
  'position-totals': "each ended position's recorded totals (totalRealisedPnl, totalFees, totalFunding, netPnl) equal the sums recomputed from its events, and nothing follows its end",
  'trade-ids': 'each OrderFilled trade id is in exactly one position stream (two consecutive lifecycles for a one-way flip) with the fill\'s quantity and fee, and every position fill event has its OrderFilled',
};

class Checks {
  private readonly map = new Map<CheckName, ConsistencyCheck>();
  constructor(verify: boolean) {
    for (const name of Object.keys(CHECK_RULES) as CheckName[]) {
      this.map.set(name, { name, rule: name === 'schema' && !verify ? TRUSTED_SCHEMA_RULE : CHECK_RULES[name], checked: 0, ok: true, failures: [] });
    }
  }
  count(name: CheckName, n = 1): void {
    this.map.get(name)!.checked += n;
  }
  fail(name: CheckName, accountId: string | null, subject: string, detail: string, where?: { position: number; eventType: string | null }): void {
    const c = this.map.get(name)!;
    c.ok = false;
    c.failures.push(where ? { accountId, subject, detail, ...where } : { accountId, subject, detail });
  }
  /** A stored event that is not a valid event (`reason`): a `schema` failure about that message; it stays out of the folds. */
  invalid(accountId: string | null, e: RecordedEvent, reason: string): void {
    this.fail('schema', accountId, `${e.streamId}#${e.revision}`, reason, { position: e.position, eventType: e.type });
  }
  /** An event a fold could not use (its amounts or its evolve step threw `err`): a `schema` failure, and it stays out of the models. */
  unusable(accountId: string | null, e: RecordedEvent, err: unknown): void {
    this.invalid(accountId, e, `cannot be folded: ${(err as Error).message}`);
  }
  /** The checks; each one's failures about single messages in log order (by position), the others as found. */
  list(): ConsistencyCheck[] {
    const at = (f: CheckFailure) => f.position ?? Number.MAX_SAFE_INTEGER;
    return [...this.map.values()].map((c) => ({ ...c, failures: [...c.failures].sort((a, b) => at(a) - at(b)) }));
  }
}

function policyModel(s: AccountState, events: number): PolicyModel {
  return {
    config: s.config,
    tradingState: s.tradingState,
    entries: s.entries,
    day: s.day,
    tradesToday: s.tradesToday,
    pnlToday: str(s.pnlToday),
    pausedForDay: s.pausedForDay,
    month: s.month,
    monthBase: s.monthBase === null ? null : str(s.monthBase),
    monthlyPause: s.monthlyPause,
    drawdownAlertsThisMonth: [...s.alertsThisMonth].sort(),
    positionResultsRecorded: s.recordedPositions.size,
    intentsAssessed: s.assessedIntents.size,
    events,
  };
}

function stopModel(streamId: string, s: StopState, trigger: RecordedEvent | null): StopModel {
  const trig = trigger?.data as EventData<'StopTriggered'> | undefined;
  return {
    streamId,
    status: s.status,
    positionSide: s.placed?.positionSide ?? null,
    stopPrice: s.placed?.stopPrice ?? null,
    takeProfitPrice: s.placed?.takeProfitPrice ?? null,
    triggeredBy: trig?.kind ?? null,
    attempts: s.attempts,
    warnings: [...s.warned].sort(),
  };
}

/** The totals an ended position records, checked against sums of its events. */
const TOTALS = ['totalRealisedPnl', 'totalFees', 'totalFunding', 'netPnl'] as const;

/** An event a fold took, with its amounts ({@link amountsOf}, parsed once). */
interface Kept {
  e: RecordedEvent;
  a: EventAmounts;
}

/*
 * The folds of one stream. Each takes the events of its stream that passed the schema check, in
 * stream order; an event whose amounts or evolve step throw is a `schema` failure
 * (`Checks.unusable`) and is left out, the state staying as before it. What needs the whole
 * account (the ledger, the fill checks) is done after, from what each fold kept.
 */

/** `account-<id>`: the policy fold, and the events the ledger books (see {@link LEDGER_TYPES}). */
class AccountFold {
  readonly kind = 'account';
  state: AccountState = accountInitialState();
  /** Events that passed the schema check (the policy model's `events`). */
  events = 0;
  readonly booked: Kept[] = [];
  constructor(readonly accountId: string) {}
  add(e: RecordedEvent, checks: Checks): void {
    this.events++;
    try {
      const a = amountsOf(e);
      this.state = evolvePolicy(this.state, e);
      if (LEDGER_TYPES.has(e.type)) this.booked.push({ e, a });
    } catch (err) {
      checks.unusable(this.accountId, e, err);
    }
  }
}

/** A fill of an order, its quantities parsed. */
interface OrderFill {
  e: RecordedEvent;
  quantity: D;
  filledQuantity: D;
  leavesQuantity: D;
  /** Its fee, null when not a decimal (the trade-id check reports it). */
  fee: D | null;
}

/** `order-<id>`: the order fold with its transition problems, its first OrderInitialized and its fills (checked after). */
class OrderFold {
  readonly kind = 'order';
  state: OrderState = orderInitialState();
  problems: string[] | null = null;
  /** The type of the first event folded (the stream must start with OrderInitialized). */
  first: string | null = null;
  init: RecordedEvent | null = null;
  /** The order quantity, parsed from the first OrderInitialized (null when absent or not a decimal). */
  ordered: D | null = null;
  readonly fills: OrderFill[] = [];
  constructor(readonly accountId: string) {}
  add(e: RecordedEvent, checks: Checks): void {
    if (this.init === null && e.type === 'OrderInitialized') {
      this.init = e;
      const init = e.data as EventData<'OrderInitialized'> | null;
      try {
        this.ordered = init ? dec(init.quantity) : null;
      } catch (err) {
        checks.unusable(this.accountId, e, err);
      }
    }
    let fill: OrderFill | null = null;
    if (e.type === 'OrderFilled') {
      // A fill whose quantities are not decimals cannot be folded: left out of the order's fold and checks.
      const f = e.data as EventData<'OrderFilled'>;
      try {
        fill = { e, quantity: dec(f.quantity), filledQuantity: dec(f.filledQuantity), leavesQuantity: dec(f.leavesQuantity), fee: decimalOrNull(f.fee) };
      } catch (err) {
        checks.unusable(this.accountId, e, err);
        return;
      }
    }
    this.first ??= e.type;
    const r = stepOrder(this.state, e);
    this.state = r.state;
    if (r.problem) (this.problems ??= []).push(r.problem);
    if (fill) this.fills.push(fill);
  }
}

/** `position-…`: the position fold, and the sums its recorded totals are checked against (recomputed here, independently of the fold). */
class PositionFold {
  readonly kind = 'position';
  state: PositionState = positionInitialState();
  readonly kept: Kept[] = [];
  realised: D = ZERO;
  fees: D = ZERO;
  funding: D = ZERO;
  /** The first PositionOpened kept, and the index in `kept` of the first end (PositionClosed / PositionLiquidated). */
  opened: RecordedEvent | null = null;
  endAt = -1;
  /** The end's recorded totals (null where not a decimal), parsed while the evolve step's parse of them is cached. */
  recorded: Record<(typeof TOTALS)[number], D | null> | null = null;
  constructor(readonly accountId: string) {}
  add(e: RecordedEvent, checks: Checks): void {
    let a: EventAmounts;
    try {
      a = amountsOf(e);
      this.state = evolvePosition(this.state, e);
    } catch (err) {
      checks.unusable(this.accountId, e, err);
      return;
    }
    const type = e.type;
    if (a.fee) this.fees = this.fees.plus(a.fee);
    if (REALISING_TYPES.has(type)) this.realised = this.realised.plus(a.realisedPnl!);
    if (a.amount) this.funding = this.funding.plus(a.amount);
    if (type === 'PositionOpened') this.opened ??= e;
    else if ((type === 'PositionClosed' || type === 'PositionLiquidated') && this.endAt < 0) {
      this.endAt = this.kept.length;
      const d = e.data as Record<string, string>;
      this.recorded = { totalRealisedPnl: decimalOrNull(d.totalRealisedPnl), totalFees: decimalOrNull(d.totalFees), totalFunding: decimalOrNull(d.totalFunding), netPnl: decimalOrNull(d.netPnl) };
    }
    this.kept.push({ e, a });
  }
}

/** `stop-…`: the stop fold and its last StopTriggered. */
class StopFold {
  readonly kind = 'stop';
  state: StopState = stopInitialState();
  trigger: RecordedEvent | null = null;
  constructor(readonly accountId: string) {}
  add(e: RecordedEvent, checks: Checks): void {
    try {
      amountsOf(e);
      this.state = evolveStop(this.state, e);
      if (e.type === 'StopTriggered') this.trigger = e;
    } catch (err) {
      checks.unusable(this.accountId, e, err);
    }
  }
}

type StreamFold = AccountFold | OrderFold | PositionFold | StopFold;

/** The fold of a stream of `category` that belongs to `accountId`; null for a category no read model folds (signal, venue, ledger …). */
function foldOf(category: string, accountId: string): StreamFold | null {
  switch (category) {
    case 'account':
      return new AccountFold(accountId);
    case 'order':
      return new OrderFold(accountId);
    case 'position':
      return new PositionFold(accountId);
    case 'stop':
      return new StopFold(accountId);
    default:
      return null;
  }
}

/** One stream as the read met it. */
interface StreamRead {
  /** Its account (set at its first event kept; null for a shared stream or an order stream of unknown account). */
  accountId: string | null;
  order: boolean;
  /** The events kept (every event, or those of `--account`), in read order. */
  events: RecordedEvent[];
  prevPosition: number;
  /** Every event a catalogue type at its current schema version: a trusting rebuild takes them as they are (the common case). */
  asIs: boolean;
  /** Revisions 0, 1, 2 … at increasing positions (else the revisions check looks again). */
  inOrder: boolean;
  fold: StreamFold | null;
}

/** The log up to `lastPosition` as {@link readLog} met it. */
interface LogRead {
  /** By stream id, in the order the log first names them. */
  streams: Map<string, StreamRead>;
  /** Order stream id → account, from each order's OrderInitialized. */
  orderAccounts: Map<string, string>;
  unreadable: UnreadableEvent[];
  eventsRead: number;
}

/**
 * One pass over the log, in global order, up to `lastPosition`: each event grouped by stream, with
 * its revision order and whether a trusting rebuild takes it as it is noted while it is at hand.
 * With `only`, the events of other accounts are left out (an order stream belongs to the account
 * of its OrderInitialized).
 */
async function readLog(store: EventStore, lastPosition: number, only: string | null, checks: Checks): Promise<LogRead> {
  const orderAccounts = new Map<string, string>();
  const streams = new Map<string, StreamRead>();
  const unreadable: UnreadableEvent[] = [];
  let eventsRead = 0;
  let eventsKept = 0;
  read: for await (const batch of readAllInBatches(store, { onUnreadable: (u) => unreadable.push(u) })) {
    for (const e of batch) {
      if (e.position > lastPosition) break read; // a snapshot: events appended while reading wait for the next replay
      eventsRead++;
      const streamId = e.streamId;
      if (e.type === 'OrderInitialized') {
        const acc = (e.data as { accountId?: unknown } | null)?.accountId;
        if (typeof acc === 'string') orderAccounts.set(streamId, acc);
      }
      let s = streams.get(streamId);
      if (s === undefined) {
        // The account of a stream depends on its id alone, except an order stream's (its OrderInitialized).
        const order = parseStreamId(streamId)?.category === 'order';
        s = { accountId: accountOfStream(streamId, orderAccounts), order, events: [], prevPosition: 0, asIs: true, inOrder: true, fold: null };
        streams.set(streamId, s);
      }
      const accountId = s.order ? (orderAccounts.get(streamId) ?? null) : s.accountId;
      if (only !== null && accountId !== only) continue;
      const n = s.events.length;
      if (n === 0) {
        s.accountId = accountId;
        s.fold = accountId === null ? null : foldOf(streamCategory(streamId), accountId);
      }
      if (e.position <= s.prevPosition || e.revision !== n) s.inOrder = false;
      s.prevPosition = e.position;
      if (s.asIs && !isTrustedAsIs(e)) s.asIs = false;
      s.events.push(e);
      eventsKept++;
    }
  }
  for (const [id, s] of streams) if (s.events.length === 0) streams.delete(id);
  checks.count('schema', eventsKept);
  return { streams, orderAccounts, unreadable, eventsRead };
}

/**
 * Stream by stream: the schema check of its events (an invalid event is a `schema` failure and left
 * out; older schema versions are upcast), then its fold over the valid ones. Per stream, not in log
 * order: the same types' schemas run together, and each stream's states die young (cheaper for the collector).
 * @param verify screen every event ({@link screenEvent}); else a stream whose events were all taken as they are is not screened
 */
function foldStreams(streams: Map<string, StreamRead>, verify: boolean, checks: Checks): void {
  for (const s of streams.values()) {
    const fold = s.fold;
    if (!verify && s.asIs) {
      if (fold !== null) for (const e of s.events) fold.add(e, checks);
      continue;
    }
    for (const e of s.events) {
      const p = verify ? screenEvent(e) : trustEvent(e);
      if (!p.ok) checks.invalid(s.accountId, e, p.reason);
      else if (fold !== null) fold.add(p.event, checks);
    }
  }
}

type Skipped = Map<string, Array<UnreadableEvent & { accountId: string | null }>>;

/** Unreadable messages of the snapshot as `schema` failures, by stream (with `only`, just those whose stream names that account). */
function unreadableByStream(log: LogRead, lastPosition: number, only: string | null, checks: Checks): Skipped {
  const skipped: Skipped = new Map();
  for (const u of log.unreadable) {
    if (u.position > lastPosition) continue;
    const accountId = accountOfStream(u.streamId, log.orderAccounts);
    if (only !== null && accountId !== only) continue;
    checks.count('schema');
    checks.fail('schema', accountId, `${u.streamId}#${u.revision ?? '—'}`, `unreadable: ${u.reason}`, { position: u.position, eventType: u.eventType });
    const list = skipped.get(u.streamId) ?? [];
    list.push({ ...u, accountId });
    skipped.set(u.streamId, list);
  }
  return skipped;
}

/**
 * The revisions check: contiguous from 0 (an unreadable message keeps the revision it claims: it
 * is reported by the schema check, not again as a gap), increasing positions, and the stream's
 * tail is what was read.
 */
async function checkRevisions(store: EventStore, streams: Map<string, StreamRead>, skipped: Skipped, lastPosition: number, checks: Checks): Promise<void> {
  const grown = (await store.lastPosition()) !== lastPosition;
  const lastRead = new Map<string, number>();
  for (const [streamId, { accountId, events, inOrder }] of streams) {
    checks.count('revisions');
    const lost = skipped.get(streamId);
    if (inOrder && !lost) {
      lastRead.set(streamId, events.length - 1); // revisions 0 … n-1 at increasing positions, as the read noted
      continue;
    }
    let prev = 0;
    for (const e of events) {
      if (e.position <= prev) checks.fail('revisions', accountId, streamId, `revision ${e.revision} is at position ${e.position}, not after ${prev}`);
      prev = e.position;
    }
    const held = lost
      ? [...events.map((e) => ({ revision: e.revision, position: e.position })), ...lost.flatMap((u) => (u.revision === null ? [] : [{ revision: u.revision, position: u.position }]))].sort(
          (a, b) => a.position - b.position,
        )
      : events;
    let last = -1;
    for (let i = 0; i < held.length; i++) {
      const r = held[i].revision;
      if (r !== i) checks.fail('revisions', accountId, streamId, `event ${i} read has revision ${r} (expected ${i}: a gap or a duplicate)`);
      if (r > last) last = r;
    }
    lastRead.set(streamId, last);
  }
  // A stream whose stored message count is what the read met (events and skipped messages) ends
  // where the read ended: one snapshot of the counts instead of a tail query per stream; the
  // others (grown since, or a store without counts) are asked for their tail.
  const counts = typeof store.streamMessageCounts === 'function' ? await store.streamMessageCounts() : null;
  const ids: string[] = [];
  for (const [id, s] of streams) if (counts?.get(id) !== s.events.length + (skipped.get(id)?.length ?? 0)) ids.push(id);
  const tails = await mapInFlight(ids, TAIL_QUERIES_IN_FLIGHT, (id) => store.streamRevision(id));
  ids.forEach((streamId, i) => {
    const tail = tails[i];
    const last = lastRead.get(streamId)!;
    if (tail === null || tail < last || (!grown && tail !== last)) {
      checks.fail('revisions', streams.get(streamId)!.accountId, streamId, `the store says the stream ends at revision ${tail === null ? 'none' : tail}, the read ended at ${last}`);
    }
  });
}

/** One account's folds, its streams in the order the log first named them. */
interface Working {
  accountId: string;
  policy: AccountFold | null;
  positions: Map<string, PositionFold>;
  orders: Map<string, OrderFold>;
  stops: Map<string, StopFold>;
}

/** The folds of each account (in the order the log first names them). */
function workOf(streams: Map<string, StreamRead>): Map<string, Working> {
  const work = new Map<string, Working>();
  for (const [streamId, { fold }] of streams) {
    if (fold === null) continue;
    let w = work.get(fold.accountId);
    if (!w) work.set(fold.accountId, (w = { accountId: fold.accountId, policy: null, positions: new Map(), orders: new Map(), stops: new Map() }));
    if (fold.kind === 'account') w.policy = fold;
    else if (fold.kind === 'order') w.orders.set(streamId, fold);
    else if (fold.kind === 'position') w.positions.set(streamId, fold);
    else w.stops.set(streamId, fold);
  }
  return work;
}

/** Fills of every order, by (client order id, trade id), for the trade-id check. */
type Fills = Map<string, { accountId: string; fill: EventData<'OrderFilled'>; quantity: D; fee: D | null }>;
/** The last fill of an account by `venue:symbol` (the mark of its open positions). */
type LastFills = Map<string, { price: string; position: number; tsEvent: number }>;

/** The order models of an account (sorted by client order id) after the order-transitions and order-fills checks; its fills go into `fills`. */
function orderModels(w: Working, checks: Checks, fills: Fills, lastFill: LastFills): OrderModel[] {
  const orders: OrderModel[] = [];
  for (const [streamId, o] of w.orders) {
    const clientOrderId = streamId.slice('order-'.length);
    checks.count('order-transitions');
    checks.count('order-fills');
    const init = o.init?.data as EventData<'OrderInitialized'> | undefined;
    const ordered = o.ordered;
    for (const p of o.problems ?? []) checks.fail('order-transitions', w.accountId, streamId, p);
    if (o.first !== 'OrderInitialized') checks.fail('order-transitions', w.accountId, streamId, `the stream starts with ${o.first ?? 'nothing'}, not OrderInitialized`);
    let cumulative = ZERO;
    for (const q of o.fills) {
      const e = q.e;
      const f = e.data as EventData<'OrderFilled'>;
      cumulative = cumulative.plus(q.quantity);
      if (!q.filledQuantity.eq(cumulative)) checks.fail('order-fills', w.accountId, streamId, `fill ${f.tradeId} reports ${f.filledQuantity} filled, the fills so far sum to ${str(cumulative)}`);
      if (ordered && !q.leavesQuantity.eq(ordered.minus(q.filledQuantity))) {
        checks.fail('order-fills', w.accountId, streamId, `fill ${f.tradeId} leaves ${f.leavesQuantity}, the order of ${init!.quantity} has ${str(ordered.minus(q.filledQuantity))} left`);
      }
      const k = fillKey(f.clientOrderId, f.tradeId);
      if (fills.has(k)) checks.fail('trade-ids', w.accountId, k, `trade ${f.tradeId} of ${f.clientOrderId} is filled twice`);
      fills.set(k, { accountId: w.accountId, fill: f, quantity: q.quantity, fee: q.fee });
      const where = `${f.venue}:${f.symbol}`;
      const prev = lastFill.get(where);
      if (!prev || e.position > prev.position) lastFill.set(where, { price: f.price, position: e.position, tsEvent: e.metadata.tsEvent });
    }
    const s = o.state;
    if (!s.filledQuantity.eq(cumulative)) checks.fail('order-fills', w.accountId, streamId, `the order state holds ${str(s.filledQuantity)} filled, its fills sum to ${str(cumulative)}`);
    if (ordered && cumulative.gt(ordered)) checks.fail('order-fills', w.accountId, streamId, `fills of ${str(cumulative)} exceed the order quantity ${init!.quantity}`);
    if (ordered && s.status === 'FILLED' && !cumulative.eq(ordered)) checks.fail('order-fills', w.accountId, streamId, `FILLED with ${str(cumulative)} of ${init!.quantity}`);
    orders.push({
      clientOrderId, purpose: init?.purpose ?? null, side: init?.side ?? null, quantity: init?.quantity ?? null, status: s.status,
      filledQuantity: str(s.filledQuantity), averageFillPrice: s.averageFillPrice === null ? null : str(s.averageFillPrice), fees: str(s.fees), fills: o.fills.length,
    });
  }
  return orders.sort((a, b) => byNumericId(a.clientOrderId, b.clientOrderId));
}

/**
 * The position models of an account (sorted by lifecycle number) after the position-totals check;
 * each kept event booked into `book`, open positions valued at the account's last fill price.
 * @returns the models, their unrealised PnL and how each open one was marked
 */
function positionModels(w: Working, checks: Checks, book: LedgerFold, lastFill: LastFills): { positions: PositionModel[]; unrealised: D; marks: string[] } {
  let unrealised = ZERO;
  const positions: PositionModel[] = [];
  const marks: string[] = [];
  for (const [streamId, p] of w.positions) {
    const { state, kept, endAt } = p;
    for (const { e, a } of kept) book.apply(e, a);
    if (endAt >= 0) {
      checks.count('position-totals');
      const end = kept[endAt].e;
      const d = end.data as EventData<'PositionLiquidated'>;
      const liq = kept[endAt].a.liquidationFee ?? ZERO;
      const expectNet = netPnlOf({ realisedPnl: p.realised, fees: p.fees, funding: p.funding, liquidationFee: liq });
      const recomputed: Record<(typeof TOTALS)[number], D> = { totalRealisedPnl: p.realised, totalFees: p.fees, totalFunding: p.funding, netPnl: expectNet };
      for (const field of TOTALS) {
        if (!p.recorded![field]?.eq(recomputed[field])) checks.fail('position-totals', w.accountId, streamId, `${end.type}.${field} = ${d[field]}, recomputed from the stream's events: ${str(recomputed[field])}`);
      }
      if (endAt !== kept.length - 1) checks.fail('position-totals', w.accountId, streamId, `${kept.length - 1 - endAt} event(s) follow the ${end.type}`);
    }
    let mark: string | null = null;
    let u = ZERO;
    if (state.status === 'OPEN') {
      const lf = lastFill.get(`${state.venue}:${state.symbol}`);
      mark = lf?.price ?? str(state.entryPrice);
      u = unrealisedPnl(state, dec(mark));
      unrealised = unrealised.plus(u);
      marks.push(`${state.symbol} ${mark}${lf ? ` (last fill, ${utcTime(lf.tsEvent)})` : ' (entry price: no fill known)'}`);
    }
    positions.push({
      streamId, sequence: state.sequence || (parsePositionStreamId(streamId)?.sequence ?? 0), status: state.status, side: state.side, venue: state.venue, symbol: state.symbol,
      quantity: str(state.quantity), entryPrice: str(state.entryPrice), leverage: state.leverage, realisedPnl: str(state.realisedPnl), fees: str(state.fees),
      funding: str(state.funding), liquidationFee: str(state.liquidationFee), netPnl: str(netPnlOf(state)), markPrice: mark, unrealisedPnl: str(u),
      openedAt: p.opened?.metadata.tsEvent ?? null, endedAt: endAt >= 0 ? kept[endAt].e.metadata.tsEvent : null, tradeIds: state.tradeIds,
    });
  }
  positions.sort((a, b) => a.sequence - b.sequence || a.streamId.localeCompare(b.streamId));
  return { positions, unrealised, marks };
}

/** The read models of one account: policy, orders, positions, the ledger (the accounting service's book()) and stops. */
function accountModel(w: Working, checks: Checks, fills: Fills): AccountReadModel {
  const lastFill: LastFills = new Map();
  const orders = orderModels(w, checks, fills, lastFill);
  const book = new LedgerFold();
  for (const { e, a } of w.policy?.booked ?? []) book.apply(e, a);
  const { positions, unrealised, marks } = positionModels(w, checks, book, lastFill);
  const openCount = positions.filter((p) => p.status === 'OPEN').length;
  const totals = book.snapshot();
  const ledger: LedgerModel = {
    capital: totals.capital, capitalKnown: totals.capitalKnown, realisedPnl: totals.realisedPnl, fees: totals.fees, funding: totals.funding,
    liquidationFees: totals.liquidationFees, walletBalance: totals.walletBalance, unrealisedPnl: str(unrealised),
    unrealisedBasis: openCount ? `open positions at the account's last fill price (the log holds no marks): ${marks.join(', ')}` : 'no open position',
    finalEquity: str(book.walletBalance().plus(unrealised)), positionsOpened: totals.positionsOpened, positionsClosed: totals.positionsClosed,
    liquidations: totals.liquidations, fills: totals.fills, openPositions: openCount, closesByPurpose: totals.closesByPurpose,
  };
  const stops: StopModel[] = [];
  for (const [streamId, s] of w.stops) stops.push(stopModel(streamId, s.state, s.trigger));
  stops.sort((a, b) => byNumericId(a.streamId, b.streamId));
  const byStatus = (xs: Array<{ status: string }>) => xs.reduce<Record<string, number>>((r, x) => ((r[x.status] = (r[x.status] ?? 0) + 1), r), {});
  return {
    accountId: w.accountId,
    policy: policyModel(w.policy?.state ?? accountInitialState(), w.policy?.events ?? 0),
    ledger,
    positions,
    orders: { byStatus: byStatus(orders), list: orders },
    stops: { byStatus: byStatus(stops), list: stops },
  };
}

/** Trade ids: each fill booked once (a flip: closing part in n, the rest opening n + 1), for its whole quantity and fee; every position fill has its OrderFilled. */
function checkTradeIds(work: Map<string, Working>, fills: Fills, checks: Checks): void {
  const booked = new Map<string, Array<{ streamId: string; sequence: number; type: string; quantity: D; fee: D; accountId: string }>>();
  for (const w of work.values()) {
    for (const [streamId, p] of w.positions) {
      const sequence = parsePositionStreamId(streamId)?.sequence ?? 0;
      for (const { e, a } of p.kept) {
        if (!POSITION_FILL_TYPES.has(e.type)) continue;
        const d = e.data as { clientOrderId: string; tradeId: string };
        const k = fillKey(d.clientOrderId, d.tradeId);
        const b = { streamId, sequence, type: e.type, quantity: a.quantity!, fee: a.fee!, accountId: w.accountId };
        const list = booked.get(k);
        if (list) list.push(b);
        else booked.set(k, [b]);
      }
    }
  }
  for (const [k, { accountId, fill, quantity, fee }] of fills) {
    checks.count('trade-ids');
    const list = booked.get(k) ?? [];
    const streamIds = list.length === 1 ? [list[0].streamId] : [...new Set(list.map((b) => b.streamId))];
    const flip =
      streamIds.length === 2 &&
      list.length === 2 &&
      (list[0].type === 'PositionClosed' || list[0].type === 'PositionLiquidated') &&
      list[1].type === 'PositionOpened' &&
      list[1].sequence === list[0].sequence + 1;
    if (streamIds.length === 0) checks.fail('trade-ids', accountId, k, `fill ${fill.tradeId} of ${fill.clientOrderId} (${fill.quantity} @ ${fill.price}) is in no position stream`);
    else if (streamIds.length > 1 && !flip) checks.fail('trade-ids', accountId, k, `fill ${fill.tradeId} of ${fill.clientOrderId} is in ${streamIds.length} position streams: ${streamIds.join(', ')}`);
    else if (list.length > 1 && !flip) checks.fail('trade-ids', accountId, k, `fill ${fill.tradeId} of ${fill.clientOrderId} is booked ${list.length} times in ${streamIds[0]}`);
    if (list.length) {
      let q = ZERO;
      let f = ZERO;
      for (const b of list) {
        q = q.plus(b.quantity);
        f = f.plus(b.fee);
      }
      if (!q.eq(quantity)) checks.fail('trade-ids', accountId, k, `position events book ${str(q)} of fill ${fill.tradeId}, the fill is ${fill.quantity}`);
      if (!fee?.eq(f)) checks.fail('trade-ids', accountId, k, `position events book a fee of ${str(f)} for fill ${fill.tradeId}, the fill's fee is ${fill.fee}`);
    }
  }
  for (const [k, list] of booked) {
    if (fills.has(k)) continue;
    checks.count('trade-ids');
    checks.fail('trade-ids', list[0].accountId, k, `${list[0].type} on ${list[0].streamId} books trade ${k} that no OrderFilled reports`);
  }
}

/** Options of {@link rebuildReadModels}. */
export interface RebuildOptions {
  /** Only this account (its account, order, position and stop streams). */
  accountId?: string;
  /**
   * Re-check every event against its contract schema and the store's size limit (`screenEvent`):
   * for audits and `bulwark replay --verify`, which exist to find bad logs. Without it the log
   * is trusted (`trustEvent`: the store validated each event at append), and only events of an
   * unknown type or schema version, or that a fold cannot use, fail the `schema` check.
   */
  verify?: boolean;
}

/** `localeCompare(b, 'en', { numeric: true })` with one collator (that call builds a collator each time: slow on thousands of orders). */
const byNumericId = new Intl.Collator('en', { numeric: true }).compare;

/** Streams whose `streamRevision` the revisions check asks for at once (a round trip each on JetStream). */
const TAIL_QUERIES_IN_FLIGHT = 64;

/**
 * Rebuild the read models from the event log alone and check its self-consistency.
 * Reads the log once, in batches (`readAllInBatches`), up to its last position when the rebuild
 * starts, grouping by stream and noting revisions and trust while each event is at hand; then
 * screens and folds stream by stream, and runs the checks that need a whole account or the whole log.
 * A stored message that cannot be read, is not a valid event (see {@link RebuildOptions.verify}),
 * or that a fold cannot use (e.g. a missing amount) is one failure of the `schema` check and is
 * left out of every fold; never skipped in silence.
 * @returns the models of every account (sorted by id) and the six checks; `verified` says which mode ran
 */
export async function rebuildReadModels(store: EventStore, opts: RebuildOptions = {}): Promise<ReadModels> {
  const only = opts.accountId ?? null;
  const verify = opts.verify ?? false;
  const lastPosition = await store.lastPosition();
  const checks = new Checks(verify);
  const log = await readLog(store, lastPosition, only, checks);
  foldStreams(log.streams, verify, checks);
  const skipped = unreadableByStream(log, lastPosition, only, checks);
  await checkRevisions(store, log.streams, skipped, lastPosition, checks);
  const work = workOf(log.streams);
  const fills: Fills = new Map();
  const accounts = [...work.values()].sort((a, b) => a.accountId.localeCompare(b.accountId)).map((w) => accountModel(w, checks, fills));
  checkTradeIds(work, fills, checks);
  const all = checks.list();
  return { lastPosition, eventsRead: log.eventsRead, accountFilter: only, accounts, checks: all, ok: all.every((c) => c.ok), verified: verify };
}

/** `s` as a decimal, null when it is not one (a recorded value in a log that was not validated). */
function decimalOrNull(s: string): D | null {
  try {
    return dec(s);
  } catch {
    return null;
  }
}

/**
 * `fn` over `items` with at most `limit` calls pending at once; results in the order of `items`.
 * @throws the first error a call rejects with (calls already started still run to their end)
 */
async function mapInFlight<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------
// Comparison with the services
// ---------------------------------------------------------------------------------------

export interface SummaryDifference {
  accountId: string;
  field: string;
  rebuilt: string;
  held: string;
}

/** Summary fields that the log determines, compared as decimals or integers. */
export const COMPARED_DECIMALS = ['capital', 'realisedPnl', 'fees', 'funding', 'liquidationFees'] as const;
export const COMPARED_COUNTS = ['positionsOpened', 'positionsClosed', 'liquidations', 'fills', 'openPositions'] as const;
/**
 * Not compared: `maxDrawdown`, `maxDrawdownFraction`, `peakEquity` (they need the mark at
 * every step, which the log does not hold); `unrealisedPnl` and `finalEquity` only when
 * neither side has an open position (the service marks at the last path step, the rebuild
 * at the last fill).
 */
export const NOT_COMPARED = ['maxDrawdown', 'maxDrawdownFraction', 'peakEquity'] as const;

/**
 * Differences between the rebuilt read models and what the accounting service holds
 * (`bulwark.accounting.summary` answers). An account the service answers for and the log
 * does not know is a difference of field `account`.
 */
export function compareWithServices(models: ReadModels, summaries: AccountSummary[]): SummaryDifference[] {
  const out: SummaryDifference[] = [];
  for (const held of summaries) {
    const m = models.accounts.find((a) => a.accountId === held.accountId);
    if (!m) {
      out.push({ accountId: held.accountId, field: 'account', rebuilt: 'absent from the log', held: 'present' });
      continue;
    }
    const l = m.ledger;
    for (const f of COMPARED_DECIMALS) if (!dec(l[f]).eq(dec(held[f]))) out.push({ accountId: held.accountId, field: f, rebuilt: l[f], held: held[f] });
    for (const f of COMPARED_COUNTS) if (l[f] !== held[f]) out.push({ accountId: held.accountId, field: f, rebuilt: String(l[f]), held: String(held[f]) });
    for (const k of [...new Set([...Object.keys(l.closesByPurpose), ...Object.keys(held.closesByPurpose)])].sort()) {
      const r = l.closesByPurpose[k] ?? 0;
      const h = held.closesByPurpose[k] ?? 0;
      if (r !== h) out.push({ accountId: held.accountId, field: `closesByPurpose.${k}`, rebuilt: String(r), held: String(h) });
    }
    if (l.openPositions === 0 && held.openPositions === 0) {
      for (const f of ['unrealisedPnl', 'finalEquity'] as const) if (!dec(l[f]).eq(dec(held[f]))) out.push({ accountId: held.accountId, field: f, rebuilt: l[f], held: held[f] });
    }
  }
  return out;
}

