import { accountOfStream, type AccountSummary, type EventData, parsePositionStreamId, parseStreamId, type RecordedEvent, streamCategory } from '@bulwark/contracts';
import {
  accountInitialState,
  type AccountState,
  type D,
  dec,
  netPnlOf,
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
  foldOrder,
  LedgerFold,
  type LedgerSnapshot,
  POSITION_FILL_TYPES,
  REALISING_TYPES,
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

function stopModel(streamId: string, s: StopState, events: readonly RecordedEvent[]): StopModel {
  const trig = [...events].reverse().find((e) => e.type === 'StopTriggered')?.data as EventData<'StopTriggered'> | undefined;
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

const sumOf = (xs: Iterable<D>) => [...xs].reduce((a, b) => a.plus(b), ZERO);

interface Working {
  accountId: string;
  accountEvents: RecordedEvent[];
  positions: Map<string, RecordedEvent[]>;
  orders: Map<string, RecordedEvent[]>;
  stops: Map<string, RecordedEvent[]>;
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
 * Reads the log in batches (`readAllInBatches`), up to its last position when the rebuild starts.
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

  // One pass over the log, in global order. Order streams belong to the account of their OrderInitialized.
  const orderAccounts = new Map<string, string>();
  // Per stream, noted while each event is in cache: whether its revisions run 0, 1, 2… at increasing
  // positions (else the revisions check looks again), and whether a trusted replay takes every event as it is.
  const streams = new Map<string, { accountId: string | null; order: boolean; events: RecordedEvent[]; prevPosition: number; inOrder: boolean; asIs: boolean }>();
  const unreadable: UnreadableEvent[] = [];
  let eventsRead = 0;
  read: for await (const batch of readAllInBatches(store, { onUnreadable: (u) => unreadable.push(u) })) {
    for (const e of batch) {
      if (e.position > lastPosition) break read; // a snapshot: events appended while reading wait for the next replay
      eventsRead++;
      if (e.type === 'OrderInitialized') {
        const acc = (e.data as { accountId?: unknown } | null)?.accountId;
        if (typeof acc === 'string') orderAccounts.set(e.streamId, acc);
      }
      let s = streams.get(e.streamId);
      if (!s) {
        // The account of a stream depends on its id alone, except an order stream's (its OrderInitialized).
        const order = parseStreamId(e.streamId)?.category === 'order';
        s = { accountId: accountOfStream(e.streamId, orderAccounts), order, events: [], prevPosition: 0, inOrder: true, asIs: true };
        streams.set(e.streamId, s);
      }
      const accountId = s.order ? (orderAccounts.get(e.streamId) ?? null) : s.accountId;
      if (only !== null && accountId !== only) continue;
      if (s.events.length === 0) s.accountId = accountId;
      if (e.position <= s.prevPosition || e.revision !== s.events.length) s.inOrder = false;
      s.prevPosition = e.position;
      if (s.asIs && !isTrustedAsIs(e)) s.asIs = false;
      s.events.push(e);
    }
  }
  for (const [id, s] of streams) if (s.events.length === 0) streams.delete(id);

  // Unreadable messages of the snapshot, by stream (with --account, only those whose stream names that account).
  const skipped = new Map<string, Array<UnreadableEvent & { accountId: string | null }>>();
  for (const u of unreadable) {
    if (u.position > lastPosition) continue;
    const accountId = accountOfStream(u.streamId, orderAccounts);
    if (only !== null && accountId !== only) continue;
    checks.count('schema');
    checks.fail('schema', accountId, `${u.streamId}#${u.revision ?? '—'}`, `unreadable: ${u.reason}`, { position: u.position, eventType: u.eventType });
    const list = skipped.get(u.streamId) ?? [];
    list.push({ ...u, accountId });
    skipped.set(u.streamId, list);
  }

  // Revisions: contiguous from 0 (an unreadable message keeps the revision it claims: it is
  // reported by the schema check, not again as a gap), increasing positions, and the
  // stream's tail is what was read.
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
  const ids = [...streams.keys()].filter((id) => counts?.get(id) !== streams.get(id)!.events.length + (skipped.get(id)?.length ?? 0));
  const tails = await mapInFlight(ids, TAIL_QUERIES_IN_FLIGHT, (id) => store.streamRevision(id));
  ids.forEach((streamId, i) => {
    const tail = tails[i];
    const last = lastRead.get(streamId)!;
    if (tail === null || tail < last || (!grown && tail !== last)) {
      checks.fail('revisions', streams.get(streamId)!.accountId, streamId, `the store says the stream ends at revision ${tail === null ? 'none' : tail}, the read ended at ${last}`);
    }
  });

  // Schema: invalid events (unknown type, data failing the schema, too large) are reported and left out; older schema versions are upcast.
  const screen = verify ? screenEvent : trustEvent;
  const valid = (accountId: string | null, events: RecordedEvent[], asIs: boolean): RecordedEvent[] => {
    checks.count('schema', events.length);
    if (!verify && asIs) return events; // the common case: every event taken as it is (noted by the read)
    const out: RecordedEvent[] = [];
    for (const e of events) {
      const p = screen(e);
      if (p.ok) out.push(p.event);
      else checks.fail('schema', accountId, `${e.streamId}#${e.revision}`, p.reason, { position: e.position, eventType: e.type });
    }
    return out;
  };
  /** An event a fold could not use: a schema failure, and it stays out of the models. */
  const unusable = (accountId: string | null, e: RecordedEvent, err: unknown) =>
    checks.fail('schema', accountId, `${e.streamId}#${e.revision}`, `cannot be folded: ${(err as Error).message}`, { position: e.position, eventType: e.type });

  const work = new Map<string, Working>();
  const of = (accountId: string) => {
    let w = work.get(accountId);
    if (!w) work.set(accountId, (w = { accountId, accountEvents: [], positions: new Map(), orders: new Map(), stops: new Map() }));
    return w;
  };
  for (const [streamId, { accountId, events, asIs }] of streams) {
    const good = valid(accountId, events, asIs);
    if (accountId === null) continue;
    const category = streamCategory(streamId);
    if (category === 'account') of(accountId).accountEvents = good;
    else if (category === 'order') of(accountId).orders.set(streamId, good);
    else if (category === 'position') of(accountId).positions.set(streamId, good);
    else if (category === 'stop') of(accountId).stops.set(streamId, good);
  }

  // Fills of every order, by (client order id, trade id), for the trade-id check.
  const fills = new Map<string, { accountId: string; fill: EventData<'OrderFilled'>; quantity: D }>();
  const positionAmounts = new Map<string, Array<{ e: RecordedEvent; a: EventAmounts }>>();
  const accounts: AccountReadModel[] = [];
  for (const w of [...work.values()].sort((a, b) => a.accountId.localeCompare(b.accountId))) {
    // Account events: the policy fold and the ledger's capital; an event either cannot use is left out of both.
    const { state: policyState, kept: accountKept } = foldUsable(w.accountEvents, accountInitialState(), evolvePolicy, (e, err) => unusable(w.accountId, e, err));

    // Orders.
    const orders: OrderModel[] = [];
    const lastFill = new Map<string, { price: string; position: number; tsEvent: number }>(); // venue:symbol -> last fill
    for (const [streamId, streamEvents] of w.orders) {
      const clientOrderId = streamId.slice('order-'.length);
      checks.count('order-transitions');
      checks.count('order-fills');
      const init = streamEvents.find((e) => e.type === 'OrderInitialized')?.data as EventData<'OrderInitialized'> | undefined;
      let ordered: D | null = null;
      try {
        ordered = init ? dec(init.quantity) : null;
      } catch (err) {
        unusable(w.accountId, streamEvents.find((e) => e.type === 'OrderInitialized')!, err);
      }
      // A fill whose quantities are not decimals cannot be folded: left out of the order's fold and checks.
      const fillQty = new Map<RecordedEvent, { quantity: D; filledQuantity: D; leavesQuantity: D }>();
      const events = streamEvents.filter((e) => {
        if (e.type !== 'OrderFilled') return true;
        const f = e.data as EventData<'OrderFilled'>;
        try {
          fillQty.set(e, { quantity: dec(f.quantity), filledQuantity: dec(f.filledQuantity), leavesQuantity: dec(f.leavesQuantity) });
          return true;
        } catch (err) {
          unusable(w.accountId, e, err);
          return false;
        }
      });
      const folded = foldOrder(events);
      for (const p of folded.problems) checks.fail('order-transitions', w.accountId, streamId, p);
      if (events[0]?.type !== 'OrderInitialized') checks.fail('order-transitions', w.accountId, streamId, `the stream starts with ${events[0]?.type ?? 'nothing'}, not OrderInitialized`);
      let cumulative = ZERO;
      let n = 0;
      for (const e of events) {
        const q = fillQty.get(e);
        if (!q) continue;
        const f = e.data as EventData<'OrderFilled'>;
        n++;
        cumulative = cumulative.plus(q.quantity);
        if (!q.filledQuantity.eq(cumulative)) checks.fail('order-fills', w.accountId, streamId, `fill ${f.tradeId} reports ${f.filledQuantity} filled, the fills so far sum to ${str(cumulative)}`);
        if (ordered && !q.leavesQuantity.eq(ordered.minus(q.filledQuantity))) {
          checks.fail('order-fills', w.accountId, streamId, `fill ${f.tradeId} leaves ${f.leavesQuantity}, the order of ${init!.quantity} has ${str(ordered.minus(q.filledQuantity))} left`);
        }
        const k = fillKey(f.clientOrderId, f.tradeId);
        if (fills.has(k)) checks.fail('trade-ids', w.accountId, k, `trade ${f.tradeId} of ${f.clientOrderId} is filled twice`);
        fills.set(k, { accountId: w.accountId, fill: f, quantity: q.quantity });
        const where = `${f.venue}:${f.symbol}`;
        const prev = lastFill.get(where);
        if (!prev || e.position > prev.position) lastFill.set(where, { price: f.price, position: e.position, tsEvent: e.metadata.tsEvent });
      }
      const s = folded.state;
      if (!s.filledQuantity.eq(cumulative)) checks.fail('order-fills', w.accountId, streamId, `the order state holds ${str(s.filledQuantity)} filled, its fills sum to ${str(cumulative)}`);
      if (ordered && cumulative.gt(ordered)) checks.fail('order-fills', w.accountId, streamId, `fills of ${str(cumulative)} exceed the order quantity ${init!.quantity}`);
      if (ordered && s.status === 'FILLED' && !cumulative.eq(ordered)) checks.fail('order-fills', w.accountId, streamId, `FILLED with ${str(cumulative)} of ${init!.quantity}`);
      orders.push({
        clientOrderId, purpose: init?.purpose ?? null, side: init?.side ?? null, quantity: init?.quantity ?? null, status: s.status,
        filledQuantity: str(s.filledQuantity), averageFillPrice: s.averageFillPrice === null ? null : str(s.averageFillPrice), fees: str(s.fees), fills: n,
      });
    }
    orders.sort((a, b) => byNumericId(a.clientOrderId, b.clientOrderId));

    // Positions and the ledger (the accounting service's book(), the same fold as AccountProjection's).
    const book = new LedgerFold();
    for (const { e, a } of accountKept) book.apply(e, a);
    let unrealised = ZERO;
    const positions: PositionModel[] = [];
    const marks: string[] = [];
    for (const [streamId, streamEvents] of w.positions) {
      // Each event's amounts parsed once, for the fold's ledger, the totals check and the trade-id check.
      const { state, kept } = foldUsable<PositionState>(streamEvents, positionInitialState(), evolvePosition, (e, err) => unusable(w.accountId, e, err));
      const events = kept.map((k) => k.e);
      positionAmounts.set(streamId, kept);
      let sumRealised = ZERO, sumFees = ZERO, sumFunding = ZERO;
      let endAt = -1;
      // The recorded totals are checked against sums recomputed here, independently of the fold.
      kept.forEach(({ e, a }, i) => {
        book.apply(e, a);
        if (a.fee) sumFees = sumFees.plus(a.fee);
        if (REALISING_TYPES.has(e.type)) sumRealised = sumRealised.plus(a.realisedPnl!);
        if (a.amount) sumFunding = sumFunding.plus(a.amount);
        if ((e.type === 'PositionClosed' || e.type === 'PositionLiquidated') && endAt < 0) endAt = i;
      });

      if (endAt >= 0) {
        checks.count('position-totals');
        const end = events[endAt];
        const d = end.data as EventData<'PositionLiquidated'>;
        const liq = kept[endAt].a.liquidationFee ?? ZERO;
        const expectNet = netPnlOf({ realisedPnl: sumRealised, fees: sumFees, funding: sumFunding, liquidationFee: liq });
        const cmp: Array<[string, string, D]> = [
          ['totalRealisedPnl', d.totalRealisedPnl, sumRealised],
          ['totalFees', d.totalFees, sumFees],
          ['totalFunding', d.totalFunding, sumFunding],
          ['netPnl', d.netPnl, expectNet],
        ];
        for (const [field, recorded, recomputed] of cmp) {
          if (!decimalOrNull(recorded)?.eq(recomputed)) checks.fail('position-totals', w.accountId, streamId, `${end.type}.${field} = ${recorded}, recomputed from the stream's events: ${str(recomputed)}`);
        }
        if (endAt !== events.length - 1) checks.fail('position-totals', w.accountId, streamId, `${events.length - 1 - endAt} event(s) follow the ${end.type}`);
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
      const ended = endAt >= 0 ? events[endAt].metadata.tsEvent : null;
      positions.push({
        streamId, sequence: state.sequence || (parsePositionStreamId(streamId)?.sequence ?? 0), status: state.status, side: state.side, venue: state.venue, symbol: state.symbol,
        quantity: str(state.quantity), entryPrice: str(state.entryPrice), leverage: state.leverage, realisedPnl: str(state.realisedPnl), fees: str(state.fees),
        funding: str(state.funding), liquidationFee: str(state.liquidationFee), netPnl: str(netPnlOf(state)), markPrice: mark, unrealisedPnl: str(u),
        openedAt: events.find((e) => e.type === 'PositionOpened')?.metadata.tsEvent ?? null, endedAt: ended, tradeIds: state.tradeIds,
      });
    }
    positions.sort((a, b) => a.sequence - b.sequence || a.streamId.localeCompare(b.streamId));
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
    for (const [streamId, events] of w.stops) {
      const { state, kept } = foldUsable(events, stopInitialState(), evolveStop, (e, err) => unusable(w.accountId, e, err));
      stops.push(stopModel(streamId, state, kept.map((k) => k.e)));
    }
    stops.sort((a, b) => byNumericId(a.streamId, b.streamId));
    const byStatus = (xs: Array<{ status: string }>) => xs.reduce<Record<string, number>>((r, x) => ((r[x.status] = (r[x.status] ?? 0) + 1), r), {});
    accounts.push({
      accountId: w.accountId,
      policy: policyModel(policyState, w.accountEvents.length),
      ledger,
      positions,
      orders: { byStatus: byStatus(orders), list: orders },
      stops: { byStatus: byStatus(stops), list: stops },
    });
  }

  // Trade ids: each fill booked once (a flip: closing part in n, the rest opening n + 1), for its whole quantity and fee.
  const booked = new Map<string, Array<{ streamId: string; sequence: number; type: string; quantity: D; fee: D; accountId: string }>>();
  for (const w of work.values()) {
    for (const streamId of w.positions.keys()) {
      for (const { e, a } of positionAmounts.get(streamId)!) {
        if (!POSITION_FILL_TYPES.has(e.type)) continue;
        const d = e.data as { clientOrderId: string; tradeId: string };
        const k = fillKey(d.clientOrderId, d.tradeId);
        const list = booked.get(k) ?? [];
        list.push({ streamId, sequence: parsePositionStreamId(streamId)?.sequence ?? 0, type: e.type, quantity: a.quantity!, fee: a.fee!, accountId: w.accountId });
        booked.set(k, list);
      }
    }
  }
  for (const [k, { accountId, fill, quantity }] of fills) {
    checks.count('trade-ids');
    const list = booked.get(k) ?? [];
    const streamIds = [...new Set(list.map((b) => b.streamId))];
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
      const q = sumOf(list.map((b) => b.quantity));
      const f = sumOf(list.map((b) => b.fee));
      if (!q.eq(quantity)) checks.fail('trade-ids', accountId, k, `position events book ${str(q)} of fill ${fill.tradeId}, the fill is ${fill.quantity}`);
      if (!decimalOrNull(fill.fee)?.eq(f)) checks.fail('trade-ids', accountId, k, `position events book a fee of ${str(f)} for fill ${fill.tradeId}, the fill's fee is ${fill.fee}`);
    }
  }
  for (const [k, list] of booked) {
    if (fills.has(k)) continue;
    checks.count('trade-ids');
    checks.fail('trade-ids', list[0].accountId, k, `${list[0].type} on ${list[0].streamId} books trade ${k} that no OrderFilled reports`);
  }

  const all = checks.list();
  return { lastPosition, eventsRead, accountFilter: only, accounts, checks: all, ok: all.every((c) => c.ok), verified: verify };
}

/**
 * Fold `events` with `evolve`, each event's amounts parsed once ({@link amountsOf}); an event whose
 * amounts or evolve step throw is handed to `onUnusable` and left out (the state stays as before it).
 * @returns the state and the events folded, with their amounts
 */
function foldUsable<S>(
  events: readonly RecordedEvent[],
  init: S,
  evolve: (s: S, e: RecordedEvent) => S,
  onUnusable: (e: RecordedEvent, err: unknown) => void,
): { state: S; kept: Array<{ e: RecordedEvent; a: EventAmounts }> } {
  let state = init;
  const kept: Array<{ e: RecordedEvent; a: EventAmounts }> = [];
  for (const e of events) {
    try {
      const a = amountsOf(e);
      state = evolve(state, e);
      kept.push({ e, a });
    } catch (err) {
      onUnusable(e, err);
    }
  }
  return { state, kept };
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

