import { accountOfStream, type AccountSummary, type EventData, parsePositionStreamId, type RecordedEvent, streamCategory } from '@bulwark/contracts';
import { type AccountState, type D, dec, netPnlOf, type PositionState, type StopState, str, unrealisedPnl, ZERO } from '@bulwark/domain';
import type { EventStore, UnreadableEvent } from '@bulwark/event-store';
import { fillKey, foldOrder, foldPolicy, foldPosition, foldStop, LedgerFold, type LedgerSnapshot, POSITION_FILL_TYPES, utcTime } from './folds';
import { screenEvent } from './screen';

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
}

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
  constructor() {
    for (const name of Object.keys(CHECK_RULES) as CheckName[]) this.map.set(name, { name, rule: CHECK_RULES[name], checked: 0, ok: true, failures: [] });
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

/**
 * Rebuild the read models from the event log alone and check its self-consistency.
 * @param opts.accountId only this account (its account, order, position and stop streams).
 */
export async function rebuildReadModels(store: EventStore, opts: { accountId?: string } = {}): Promise<ReadModels> {
  const only = opts.accountId ?? null;
  const lastPosition = await store.lastPosition();
  const checks = new Checks();

  // One pass over the log, in global order. Order streams belong to the account of their OrderInitialized.
  const orderAccounts = new Map<string, string>();
  const streams = new Map<string, { accountId: string | null; events: RecordedEvent[] }>();
  const unreadable: UnreadableEvent[] = [];
  let eventsRead = 0;
  for await (const e of store.readAll({ onUnreadable: (u) => unreadable.push(u) })) {
    if (e.position > lastPosition) break; // a snapshot: events appended while reading wait for the next replay
    eventsRead++;
    if (e.type === 'OrderInitialized') {
      const acc = (e.data as { accountId?: unknown } | null)?.accountId;
      if (typeof acc === 'string') orderAccounts.set(e.streamId, acc);
    }
    const accountId = accountOfStream(e.streamId, orderAccounts);
    if (only !== null && accountId !== only) continue;
    const s = streams.get(e.streamId) ?? { accountId, events: [] };
    s.events.push(e);
    streams.set(e.streamId, s);
  }

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
  for (const [streamId, { accountId, events }] of streams) {
    checks.count('revisions');
    let prev = 0;
    events.forEach((e) => {
      if (e.position <= prev) checks.fail('revisions', accountId, streamId, `revision ${e.revision} is at position ${e.position}, not after ${prev}`);
      prev = e.position;
    });
    const held = [
      ...events.map((e) => ({ revision: e.revision, position: e.position })),
      ...(skipped.get(streamId) ?? []).flatMap((u) => (u.revision === null ? [] : [{ revision: u.revision, position: u.position }])),
    ].sort((a, b) => a.position - b.position);
    held.forEach((x, i) => {
      if (x.revision !== i) checks.fail('revisions', accountId, streamId, `event ${i} read has revision ${x.revision} (expected ${i}: a gap or a duplicate)`);
    });
    const tail = await store.streamRevision(streamId);
    const lastRead = Math.max(...held.map((x) => x.revision));
    if (tail === null || tail < lastRead || (!grown && tail !== lastRead)) {
      checks.fail('revisions', accountId, streamId, `the store says the stream ends at revision ${tail === null ? 'none' : tail}, the read ended at ${lastRead}`);
    }
  }

  // Schema: invalid events (unknown type, data failing the schema, too large) are reported and left out; older schema versions are upcast.
  const valid = (accountId: string | null, events: RecordedEvent[]): RecordedEvent[] =>
    events.flatMap((e) => {
      checks.count('schema');
      const p = screenEvent(e);
      if (!p.ok) checks.fail('schema', accountId, `${e.streamId}#${e.revision}`, p.reason, { position: e.position, eventType: e.type });
      return p.ok ? [p.event] : [];
    });

  const work = new Map<string, Working>();
  const of = (accountId: string) => {
    let w = work.get(accountId);
    if (!w) work.set(accountId, (w = { accountId, accountEvents: [], positions: new Map(), orders: new Map(), stops: new Map() }));
    return w;
  };
  for (const [streamId, { accountId, events }] of streams) {
    const good = valid(accountId, events);
    if (accountId === null) continue;
    const category = streamCategory(streamId);
    if (category === 'account') of(accountId).accountEvents = good;
    else if (category === 'order') of(accountId).orders.set(streamId, good);
    else if (category === 'position') of(accountId).positions.set(streamId, good);
    else if (category === 'stop') of(accountId).stops.set(streamId, good);
  }

  // Fills of every order, by (client order id, trade id), for the trade-id check.
  const fills = new Map<string, { accountId: string; fill: EventData<'OrderFilled'> }>();
  const accounts: AccountReadModel[] = [];
  for (const w of [...work.values()].sort((a, b) => a.accountId.localeCompare(b.accountId))) {
    const policyState = foldPolicy(w.accountEvents);

    // Orders.
    const orders: OrderModel[] = [];
    const lastFill = new Map<string, { price: string; position: number; tsEvent: number }>(); // venue:symbol -> last fill
    for (const [streamId, events] of w.orders) {
      const clientOrderId = streamId.slice('order-'.length);
      checks.count('order-transitions');
      checks.count('order-fills');
      const folded = foldOrder(events);
      for (const p of folded.problems) checks.fail('order-transitions', w.accountId, streamId, p);
      if (events[0]?.type !== 'OrderInitialized') checks.fail('order-transitions', w.accountId, streamId, `the stream starts with ${events[0]?.type ?? 'nothing'}, not OrderInitialized`);
      const init = events.find((e) => e.type === 'OrderInitialized')?.data as EventData<'OrderInitialized'> | undefined;
      let cumulative = ZERO;
      let lastReported: D | null = null;
      let n = 0;
      for (const e of events) {
        if (e.type !== 'OrderFilled') continue;
        const f = e.data as EventData<'OrderFilled'>;
        n++;
        cumulative = cumulative.plus(dec(f.quantity));
        lastReported = dec(f.filledQuantity);
        if (!lastReported.eq(cumulative)) checks.fail('order-fills', w.accountId, streamId, `fill ${f.tradeId} reports ${f.filledQuantity} filled, the fills so far sum to ${str(cumulative)}`);
        if (init && !dec(f.leavesQuantity).eq(dec(init.quantity).minus(lastReported))) {
          checks.fail('order-fills', w.accountId, streamId, `fill ${f.tradeId} leaves ${f.leavesQuantity}, the order of ${init.quantity} has ${str(dec(init.quantity).minus(lastReported))} left`);
        }
        const k = fillKey(f.clientOrderId, f.tradeId);
        if (fills.has(k)) checks.fail('trade-ids', w.accountId, k, `trade ${f.tradeId} of ${f.clientOrderId} is filled twice`);
        fills.set(k, { accountId: w.accountId, fill: f });
        const where = `${f.venue}:${f.symbol}`;
        const prev = lastFill.get(where);
        if (!prev || e.position > prev.position) lastFill.set(where, { price: f.price, position: e.position, tsEvent: e.metadata.tsEvent });
      }
      const s = folded.state;
      if (!s.filledQuantity.eq(cumulative)) checks.fail('order-fills', w.accountId, streamId, `the order state holds ${str(s.filledQuantity)} filled, its fills sum to ${str(cumulative)}`);
      if (init && cumulative.gt(dec(init.quantity))) checks.fail('order-fills', w.accountId, streamId, `fills of ${str(cumulative)} exceed the order quantity ${init.quantity}`);
      if (init && s.status === 'FILLED' && !cumulative.eq(dec(init.quantity))) checks.fail('order-fills', w.accountId, streamId, `FILLED with ${str(cumulative)} of ${init.quantity}`);
      orders.push({
        clientOrderId, purpose: init?.purpose ?? null, side: init?.side ?? null, quantity: init?.quantity ?? null, status: s.status,
        filledQuantity: str(s.filledQuantity), averageFillPrice: s.averageFillPrice === null ? null : str(s.averageFillPrice), fees: str(s.fees), fills: n,
      });
    }
    orders.sort((a, b) => a.clientOrderId.localeCompare(b.clientOrderId, 'en', { numeric: true }));

    // Positions and the ledger (the accounting service's book(), the same fold as AccountProjection's).
    const book = new LedgerFold();
    for (const e of w.accountEvents) book.apply(e);
    let unrealised = ZERO;
    const positions: PositionModel[] = [];
    const marks: string[] = [];
    for (const [streamId, events] of w.positions) {
      const state: PositionState = foldPosition(events);
      let sumRealised = ZERO, sumFees = ZERO, sumFunding = ZERO;
      let endAt = -1;
      // The recorded totals are checked against sums recomputed here, independently of the fold.
      events.forEach((e, i) => {
        book.apply(e);
        const d = e.data as Record<string, string>;
        if (POSITION_FILL_TYPES.has(e.type)) sumFees = sumFees.plus(dec(d.fee));
        if (e.type === 'PositionReduced' || e.type === 'PositionClosed' || e.type === 'PositionLiquidated') sumRealised = sumRealised.plus(dec(d.realisedPnl));
        if (e.type === 'FundingApplied') sumFunding = sumFunding.plus(dec(d.amount));
        if ((e.type === 'PositionClosed' || e.type === 'PositionLiquidated') && endAt < 0) endAt = i;
      });

      if (endAt >= 0) {
        checks.count('position-totals');
        const end = events[endAt];
        const d = end.data as EventData<'PositionLiquidated'>;
        const liq = end.type === 'PositionLiquidated' ? dec(d.liquidationFee) : ZERO;
        const expectNet = netPnlOf({ realisedPnl: sumRealised, fees: sumFees, funding: sumFunding, liquidationFee: liq });
        const cmp: Array<[string, string, D]> = [
          ['totalRealisedPnl', d.totalRealisedPnl, sumRealised],
          ['totalFees', d.totalFees, sumFees],
          ['totalFunding', d.totalFunding, sumFunding],
          ['netPnl', d.netPnl, expectNet],
        ];
        for (const [field, recorded, recomputed] of cmp) {
          if (!dec(recorded).eq(recomputed)) checks.fail('position-totals', w.accountId, streamId, `${end.type}.${field} = ${recorded}, recomputed from the stream's events: ${str(recomputed)}`);
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
    for (const [streamId, events] of w.stops) stops.push(stopModel(streamId, foldStop(events), events));
    stops.sort((a, b) => a.streamId.localeCompare(b.streamId, 'en', { numeric: true }));
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
    for (const [streamId, events] of w.positions) {
      for (const e of events) {
        if (!POSITION_FILL_TYPES.has(e.type)) continue;
        const d = e.data as { clientOrderId: string; tradeId: string; quantity: string; fee: string };
        const k = fillKey(d.clientOrderId, d.tradeId);
        const list = booked.get(k) ?? [];
        list.push({ streamId, sequence: parsePositionStreamId(streamId)?.sequence ?? 0, type: e.type, quantity: dec(d.quantity), fee: dec(d.fee), accountId: w.accountId });
        booked.set(k, list);
      }
    }
  }
  for (const [k, { accountId, fill }] of fills) {
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
      if (!q.eq(dec(fill.quantity))) checks.fail('trade-ids', accountId, k, `position events book ${str(q)} of fill ${fill.tradeId}, the fill is ${fill.quantity}`);
      if (!f.eq(dec(fill.fee))) checks.fail('trade-ids', accountId, k, `position events book a fee of ${str(f)} for fill ${fill.tradeId}, the fill's fee is ${fill.fee}`);
    }
  }
  for (const [k, list] of booked) {
    if (fills.has(k)) continue;
    checks.count('trade-ids');
    checks.fail('trade-ids', list[0].accountId, k, `${list[0].type} on ${list[0].streamId} books trade ${k} that no OrderFilled reports`);
  }

  const all = checks.list();
  return { lastPosition, eventsRead, accountFilter: only, accounts, checks: all, ok: all.every((c) => c.ok) };
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

