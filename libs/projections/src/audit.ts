import {
  accountOfStream,
  ClientOrderId,
  type EntryApproved,
  type EventData,
  Identifier,
  type IntentEmitted,
  parseCandleCorrelationId,
  parsePositionStreamId,
  type RecordedEvent,
  type RiskAssessment,
  StreamId,
  Streams,
} from '@bulwark/contracts';
import { dec, netPnlOf, str, ZERO } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { breakerDetail, fillKey, foldOrder, foldPosition, GUARD_EVENT_TYPES, POSITION_FILL_TYPES, utcTime } from './folds';
import { MARGIN_EVENT_TYPES, marginDetail } from './margin';
import { formatSkipped, SkipLog, type SkippedEvent } from './screen';

/*
 * `bulwark audit order <clientOrderId>` and `bulwark audit day <YYYY-MM-DD>`: the causal
 * chain of one order and every decision of one UTC day, read from the event log alone.
 *
 * Reading never changes the log: these functions only call `readStream`, `readAll`,
 * `streamRevision` and `lastPosition`. A broken link in a chain (an approval that is not
 * where the order says, an intent that is missing) is reported in `problems`, never
 * papered over; only an order that does not exist at all is an error
 * ({@link AuditNotFoundError}).
 *
 * A stored message that is not a valid event (unreadable, an unknown type, data failing its
 * schema, larger than the store writes: see screen.ts) is left out of every fold and
 * listed once in `skipped` with its stream, revision, position, type and reason; the audit
 * answers for everything else (exit 0).
 */

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/** The audited thing is not in the log (e.g. no stream `order-<clientOrderId>`). */
export class AuditNotFoundError extends Error {
  /** @param skipped messages of the stream that are not valid events (then the stream exists, but holds nothing to audit) */
  constructor(
    readonly kind: 'order',
    readonly id: string,
    readonly streamId: string,
    readonly skipped: readonly SkippedEvent[] = [],
  ) {
    super(
      skipped.length
        ? `no ${kind} ${id} to audit: stream ${streamId} holds only ${skipped.length} message(s) that are not valid events: ${skipped.map(formatSkipped).join('; ')}`
        : `no ${kind} ${id} in the event log (stream ${streamId} is empty or missing)`,
    );
    this.name = 'AuditNotFoundError';
  }
}

/** An audit input that cannot name anything in the log (a malformed client order id, day or account id). */
export class AuditArgumentError extends Error {
  constructor(
    readonly argument: string,
    readonly value: string,
    expected: string,
  ) {
    super(`${argument} must be ${expected}, got ${JSON.stringify(value)}`);
    this.name = 'AuditArgumentError';
  }
}

// ---------------------------------------------------------------------------------------
// The audited event
// ---------------------------------------------------------------------------------------

/** A stored event as the audit shows it: where it is, when it happened, what caused it. */
export interface AuditedEvent<T = unknown> {
  type: string;
  streamId: string;
  revision: number;
  position: number;
  eventId: string;
  /** Market time (epoch ms) and the same as UTC text. */
  tsEvent: number;
  time: string;
  tsInit: number;
  correlationId: string;
  causationId: string;
  schemaVersion: number;
  data: T;
}

export function audited<T = unknown>(e: RecordedEvent): AuditedEvent<T> {
  return {
    type: e.type,
    streamId: e.streamId,
    revision: e.revision,
    position: e.position,
    eventId: e.metadata.eventId,
    tsEvent: e.metadata.tsEvent,
    time: utcTime(e.metadata.tsEvent),
    tsInit: e.metadata.tsInit,
    correlationId: e.metadata.correlationId,
    causationId: e.metadata.causationId,
    schemaVersion: e.metadata.schemaVersion,
    data: e.data as T,
  };
}

/** `2025-11-20 15:45:59.999` (UTC). */

/** The candle a correlation id names (`candle-<venue>-<symbol>-<openTime>`). */
export interface CandleRef {
  correlationId: string;
  venue: string;
  symbol: string;
  openTime: number;
  openTimeUtc: string;
}

/** Parse `candle-<venue>-<symbol>-<openTime>`; null for any other correlation (a request, a rules load). */
export function candleRef(correlationId: string): CandleRef | null {
  const c = parseCandleCorrelationId(correlationId);
  return c ? { correlationId, venue: c.venue, symbol: c.symbol, openTime: c.openTime, openTimeUtc: utcTime(c.openTime) } : null;
}


async function readAllOf(store: EventStore, skips: SkipLog, categories?: string[]): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of skips.readAll(store, categories ? { categories } : {})) out.push(e);
  return out;
}

/**
 * A stream read that treats an invalid stream id (e.g. a corrupt source reference) as a
 * missing stream, and leaves out (reporting them to `skips`) messages that are not valid events.
 */
async function readStreamSafe(store: EventStore, skips: SkipLog, streamId: string): Promise<RecordedEvent[] | null> {
  if (!StreamId.safeParse(streamId).success) return null;
  return skips.readStream(store, streamId);
}

// ---------------------------------------------------------------------------------------
// auditOrder
// ---------------------------------------------------------------------------------------

export interface OrderTransitionRow {
  revision: number;
  position: number;
  type: string;
  /** Order status after this event (the order table of the domain). */
  status: string;
  tsEvent: number;
  time: string;
  eventId: string;
  correlationId: string;
  causationId: string;
  detail: string;
}

export interface FillAudit {
  eventId: string;
  tsEvent: number;
  time: string;
  tradeId: string;
  venueOrderId: string;
  side: string;
  quantity: string;
  price: string;
  quoteQuantity: string;
  fee: string;
  feeAsset: string;
  liquidity: string;
  filledQuantity: string;
  leavesQuantity: string;
  liquidationFee: string;
  /** The bar the fill happened in (from its correlation id). */
  candle: CandleRef | null;
  /** Position streams holding this fill (one; two for a one-way flip). */
  positionStreamIds: string[];
}

export interface PositionAudit {
  streamId: string;
  accountId: string | null;
  venue: string | null;
  symbol: string | null;
  sequence: number;
  status: string;
  side: string | null;
  /** Open quantity (0 once ended), the entry price, the leverage of the opening fill. */
  quantity: string;
  entryPrice: string;
  leverage: number;
  openedBy: { clientOrderId: string; tradeId: string } | null;
  endedBy: { type: string; clientOrderId: string; tradeId: string; purpose: string } | null;
  /** USDT. net = realised − fees + funding − liquidation fee. */
  pnl: { realised: string; fees: string; funding: string; liquidationFee: string; net: string };
  events: AuditedEvent[];
  /** The position's stop stream (stop, target, guards), when there is one. */
  stop: { streamId: string; events: AuditedEvent[] } | null;
}

export type OrderSource =
  | {
      kind: 'ENTRY';
      sourceStreamId: string;
      sourceEventId: string;
      approval: AuditedEvent<EntryApproved> | null;
      /** Every input and intermediate value of the sizing decision. */
      assessment: RiskAssessment | null;
      /** Other events the same assessment appended (MonthOpened, DailyTradeLimitWarning/Reached). */
      decidedWith: AuditedEvent[];
      intent: AuditedEvent<IntentEmitted> | null;
      /** The closed candle the intent was decided on. */
      candle: CandleRef | null;
    }
  | {
      kind: 'PROTECTIVE';
      sourceStreamId: string;
      sourceEventId: string;
      trigger: AuditedEvent<EventData<'StopTriggered'>> | null;
      stopPlaced: AuditedEvent<EventData<'StopPlaced'>> | null;
      /** ProtectionWarning events of the same stop. */
      warnings: AuditedEvent[];
      positionStreamId: string | null;
      /** The chain of the entry order that opened the protected position. */
      entry: OrderAudit | null;
    }
  | { kind: 'LIQUIDATION'; sourceStreamId: string; sourceEventId: string }
  | { kind: 'UNKNOWN'; sourceStreamId: string | null; sourceEventId: string | null };

export interface OrderAudit {
  clientOrderId: string;
  streamId: string;
  accountId: string | null;
  purpose: string | null;
  order: EventData<'OrderInitialized'> | null;
  status: string;
  filledQuantity: string;
  averageFillPrice: string | null;
  fees: string;
  transitions: OrderTransitionRow[];
  source: OrderSource;
  fills: FillAudit[];
  positions: PositionAudit[];
  /** Broken or inconsistent links found while following the chain (empty for a sound log). */
  problems: string[];
  /**
   * Stored messages met while following the chain that are not valid events, left out of
   * it (each once). Filled on the audit asked for; a nested entry audit leaves it empty.
   */
  skipped: SkippedEvent[];
}

interface AuditContext {
  store: EventStore;
  skips: SkipLog;
  /** Position streams per account (one category read per account and audit). */
  positions: Map<string, Map<string, RecordedEvent[]>>;
}

function transitionDetail(e: RecordedEvent): string {
  const d = e.data as Record<string, unknown>;
  switch (e.type) {
    case 'OrderInitialized':
      return `${d.purpose} ${d.side} ${d.type} ${d.quantity} ${d.symbol}${d.reduceOnly ? ' reduce-only' : ''}${d.leverage ? ` ${d.leverage}x` : ''}${d.triggerPrice ? ` trigger ${d.triggerPrice}` : ''}`;
    case 'OrderSubmitted':
      return 'sent to the venue';
    case 'OrderAccepted':
      return `venue order ${d.venueOrderId}`;
    case 'OrderRejected':
    case 'OrderDenied':
    case 'OrderCancelRejected':
      return `${d.code}: ${d.message}`;
    case 'OrderFilled':
      return `${d.quantity} @ ${d.price}, fee ${d.fee} ${d.feeAsset} (trade ${d.tradeId}; ${d.filledQuantity} filled, ${d.leavesQuantity} left)`;
    case 'OrderCancelRequested':
      return String(d.reason);
    case 'OrderStatusUnknown':
      return String(d.detail);
    default:
      return '';
  }
}

async function positionStreamsOf(ctx: AuditContext, accountId: string): Promise<Map<string, RecordedEvent[]>> {
  const hit = ctx.positions.get(accountId);
  if (hit) return hit;
  const streams = new Map<string, RecordedEvent[]>();
  for (const e of await readAllOf(ctx.store, ctx.skips, ['position'])) {
    if (parsePositionStreamId(e.streamId)?.accountId !== accountId) continue;
    const list = streams.get(e.streamId) ?? [];
    list.push(e);
    streams.set(e.streamId, list);
  }
  ctx.positions.set(accountId, streams);
  return streams;
}

/**
 * A position stream as the audit shows it (with its stop stream when there is one).
 * @param events the position stream's valid events
 * @param skips where messages of the stop stream that are not valid events are reported (a fresh log by default)
 */
export async function auditPosition(store: EventStore, streamId: string, events: readonly RecordedEvent[], skips: SkipLog = new SkipLog()): Promise<PositionAudit> {
  const s = foldPosition(events);
  const ids = parsePositionStreamId(streamId);
  const end = [...events].reverse().find((e) => e.type === 'PositionClosed' || e.type === 'PositionLiquidated');
  const endData = end?.data as { clientOrderId: string; tradeId: string; purpose: string } | undefined;
  const opened = events.find((e) => e.type === 'PositionOpened')?.data as { clientOrderId: string; tradeId: string } | undefined;
  const stopId = Streams.stop(streamId);
  const stopEvents = (await readStreamSafe(store, skips, stopId)) ?? [];
  return {
    streamId,
    accountId: s.accountId ?? ids?.accountId ?? null,
    venue: s.venue ?? ids?.venue ?? null,
    symbol: s.symbol ?? ids?.symbol ?? null,
    sequence: s.sequence || (ids?.sequence ?? 0),
    status: s.status,
    side: s.side,
    quantity: str(s.quantity),
    entryPrice: str(s.entryPrice),
    leverage: s.leverage,
    openedBy: opened ? { clientOrderId: opened.clientOrderId, tradeId: opened.tradeId } : null,
    endedBy: end && endData ? { type: end.type, clientOrderId: endData.clientOrderId, tradeId: endData.tradeId, purpose: endData.purpose } : null,
    pnl: { realised: str(s.realisedPnl), fees: str(s.fees), funding: str(s.funding), liquidationFee: str(s.liquidationFee), net: str(netPnlOf(s)) },
    events: events.map((e) => audited(e)),
    stop: stopEvents.length ? { streamId: stopId, events: stopEvents.map((e) => audited(e)) } : null,
  };
}

async function entrySource(ctx: AuditContext, clientOrderId: string, init: EventData<'OrderInitialized'>, problems: string[]): Promise<OrderSource> {
  const base = { kind: 'ENTRY' as const, sourceStreamId: init.sourceStreamId, sourceEventId: init.sourceEventId };
  const account = await readStreamSafe(ctx.store, ctx.skips, init.sourceStreamId);
  const approvalEvent = account?.find((e) => e.metadata.eventId === init.sourceEventId);
  if (!approvalEvent || approvalEvent.type !== 'EntryApproved') {
    problems.push(`the approval ${init.sourceEventId} is not an EntryApproved on ${init.sourceStreamId}${approvalEvent ? ` (it is ${approvalEvent.type})` : ''}`);
    return { ...base, approval: null, assessment: null, decidedWith: [], intent: null, candle: null };
  }
  const approval = audited<EntryApproved>(approvalEvent);
  const a = approval.data;
  // A child of a split entry is one of the approval's children, with its quantity.
  const child = init.parentClientOrderId !== undefined ? a.split?.children.find((c) => c.clientOrderId === clientOrderId) : undefined;
  if (init.parentClientOrderId !== undefined && init.parentClientOrderId !== a.clientOrderId) problems.push(`the order's parent ${init.parentClientOrderId} is not the approval's order ${a.clientOrderId}`);
  else if (init.parentClientOrderId !== undefined && !child) problems.push(`the approval of ${a.clientOrderId} lists no child ${clientOrderId}`);
  else if (init.parentClientOrderId === undefined && a.clientOrderId !== clientOrderId) problems.push(`the approval names order ${a.clientOrderId}, not ${clientOrderId}`);
  const approved = child?.quantity ?? a.quantity;
  if (!dec(approved).eq(dec(init.quantity)) || a.side !== init.side) problems.push(`the order (${init.side} ${init.quantity}) differs from the approval (${a.side} ${approved})`);
  const decidedWith = (account ?? [])
    .filter((e) => e.metadata.causationId === approval.causationId && e.metadata.eventId !== approval.eventId)
    .map((e) => audited(e));
  const signal = (await readStreamSafe(ctx.store, ctx.skips, a.signalStreamId)) ?? [];
  const intents = signal.filter((e) => e.type === 'IntentEmitted' && (e.data as IntentEmitted).intentId === a.intentId);
  const intentEvent = intents.find((e) => e.metadata.eventId === approval.causationId) ?? intents[0];
  if (!intentEvent) {
    problems.push(`intent ${a.intentId} is not on ${a.signalStreamId}`);
    return { ...base, approval, assessment: a.assessment, decidedWith, intent: null, candle: candleRef(approval.correlationId) };
  }
  const intent = audited<IntentEmitted>(intentEvent);
  if (approval.causationId !== intent.eventId) problems.push(`the approval's causation ${approval.causationId} is not the intent event ${intent.eventId}`);
  const candle = candleRef(intent.correlationId);
  if (!candle) problems.push(`the intent's correlation ${intent.correlationId} names no candle`);
  else if (candle.openTime !== intent.data.candleOpenTime) problems.push(`the intent's candle ${candle.openTime} differs from its candleOpenTime ${intent.data.candleOpenTime}`);
  return { ...base, approval, assessment: a.assessment, decidedWith, intent, candle };
}

async function protectiveSource(ctx: AuditContext, clientOrderId: string, init: EventData<'OrderInitialized'>, depth: number, problems: string[]): Promise<OrderSource> {
  const stop = (await readStreamSafe(ctx.store, ctx.skips, init.sourceStreamId)) ?? [];
  const triggerEvent = stop.find((e) => e.metadata.eventId === init.sourceEventId);
  const placedEvent = stop.find((e) => e.type === 'StopPlaced');
  const trigger = triggerEvent?.type === 'StopTriggered' ? audited<EventData<'StopTriggered'>>(triggerEvent) : null;
  const stopPlaced = placedEvent ? audited<EventData<'StopPlaced'>>(placedEvent) : null;
  if (!trigger) problems.push(`the trigger ${init.sourceEventId} is not a StopTriggered on ${init.sourceStreamId}`);
  else if (trigger.data.closeClientOrderId !== clientOrderId) problems.push(`the trigger names close order ${trigger.data.closeClientOrderId}, not ${clientOrderId}`);
  if (!stopPlaced) problems.push(`no StopPlaced on ${init.sourceStreamId}`);
  let entry: OrderAudit | null = null;
  if (stopPlaced && depth === 0) {
    try {
      entry = await auditOrderIn(ctx, stopPlaced.data.entryClientOrderId, depth + 1);
    } catch (e) {
      if (!(e instanceof AuditNotFoundError)) throw e;
      problems.push(`the entry order ${stopPlaced.data.entryClientOrderId} of the stop is not in the log`);
    }
  }
  return {
    kind: 'PROTECTIVE',
    sourceStreamId: init.sourceStreamId,
    sourceEventId: init.sourceEventId,
    trigger,
    stopPlaced,
    warnings: stop.filter((e) => e.type === 'ProtectionWarning').map((e) => audited(e)),
    positionStreamId: stopPlaced?.data.positionStreamId ?? null,
    entry,
  };
}

async function auditOrderIn(ctx: AuditContext, clientOrderId: string, depth: number): Promise<OrderAudit> {
  const streamId = Streams.order(clientOrderId);
  const events = await ctx.skips.readStream(ctx.store, streamId);
  if (events.length === 0) throw new AuditNotFoundError('order', clientOrderId, streamId, ctx.skips.ofStream(streamId));
  const problems: string[] = [];
  const folded = foldOrder(events);
  problems.push(...folded.problems);
  const transitions: OrderTransitionRow[] = events.map((e, i) => ({
    revision: e.revision,
    position: e.position,
    type: e.type,
    status: folded.after[i],
    tsEvent: e.metadata.tsEvent,
    time: utcTime(e.metadata.tsEvent),
    eventId: e.metadata.eventId,
    correlationId: e.metadata.correlationId,
    causationId: e.metadata.causationId,
    detail: transitionDetail(e),
  }));
  const initEvent = events.find((e) => e.type === 'OrderInitialized');
  const init = (initEvent?.data as EventData<'OrderInitialized'> | undefined) ?? null;
  if (!init) problems.push(`${streamId} has no OrderInitialized`);
  else if (events[0].type !== 'OrderInitialized') problems.push(`${streamId} does not start with OrderInitialized`);
  const fillEvents = events.filter((e) => e.type === 'OrderFilled');
  const accountId = init?.accountId ?? (fillEvents[0]?.data as EventData<'OrderFilled'> | undefined)?.accountId ?? null;

  let source: OrderSource;
  if (!init) source = { kind: 'UNKNOWN', sourceStreamId: null, sourceEventId: null };
  else if (init.purpose === 'ENTRY') source = await entrySource(ctx, clientOrderId, init, problems);
  else if (init.purpose === 'LIQUIDATION') source = { kind: 'LIQUIDATION', sourceStreamId: init.sourceStreamId, sourceEventId: init.sourceEventId };
  else if (init.sourceStreamId.startsWith('stop-')) source = await protectiveSource(ctx, clientOrderId, init, depth, problems);
  else {
    problems.push(`a ${init.purpose} order whose source ${init.sourceStreamId} is not a stop stream`);
    source = { kind: 'UNKNOWN', sourceStreamId: init.sourceStreamId, sourceEventId: init.sourceEventId };
  }

  // The position streams holding this order's fills.
  const positionStreams = accountId !== null && fillEvents.length ? await positionStreamsOf(ctx, accountId) : new Map<string, RecordedEvent[]>();
  const holders = new Map<string, string[]>(); // fill key -> position stream ids
  for (const [id, list] of positionStreams) {
    for (const e of list) {
      if (!POSITION_FILL_TYPES.has(e.type)) continue;
      const d = e.data as { clientOrderId: string; tradeId: string };
      if (d.clientOrderId !== clientOrderId) continue;
      const k = fillKey(d.clientOrderId, d.tradeId);
      const h = holders.get(k) ?? [];
      if (!h.includes(id)) h.push(id);
      holders.set(k, h);
    }
  }
  const fills: FillAudit[] = fillEvents.map((e) => {
    const f = e.data as EventData<'OrderFilled'>;
    const ids = holders.get(fillKey(f.clientOrderId, f.tradeId)) ?? [];
    if (ids.length === 0) problems.push(`fill ${f.tradeId} is in no position stream of ${accountId}`);
    return {
      eventId: e.metadata.eventId, tsEvent: e.metadata.tsEvent, time: utcTime(e.metadata.tsEvent), tradeId: f.tradeId, venueOrderId: f.venueOrderId,
      side: f.side, quantity: f.quantity, price: f.price, quoteQuantity: f.quoteQuantity, fee: f.fee, feeAsset: f.feeAsset, liquidity: f.liquidity,
      filledQuantity: f.filledQuantity, leavesQuantity: f.leavesQuantity, liquidationFee: f.liquidationFee, candle: candleRef(e.metadata.correlationId),
      positionStreamIds: ids,
    };
  });
  const holderIds = [...new Set(fills.flatMap((f) => f.positionStreamIds))].sort((a, b) => (parsePositionStreamId(a)?.sequence ?? 0) - (parsePositionStreamId(b)?.sequence ?? 0));
  const positions: PositionAudit[] = [];
  for (const id of holderIds) positions.push(await auditPosition(ctx.store, id, positionStreams.get(id) ?? [], ctx.skips));

  const s = folded.state;
  return {
    clientOrderId,
    streamId,
    accountId,
    purpose: init?.purpose ?? null,
    order: init,
    status: s.status,
    filledQuantity: str(s.filledQuantity),
    averageFillPrice: s.averageFillPrice === null ? null : str(s.averageFillPrice),
    fees: str(s.fees),
    transitions,
    source,
    fills,
    positions,
    problems,
    skipped: [],
  };
}

/**
 * The whole causal chain of one order, from the event log alone:
 * - its order stream, every transition with its market time and the status it led to;
 * - its source: for an entry, the `EntryApproved` on the account stream
 *   (`OrderInitialized.sourceStreamId/sourceEventId`) with the full risk assessment, the
 *   `IntentEmitted` it assessed (on `EntryApproved.signalStreamId`, by intent id) and the
 *   candle of the intent's correlation id; for a protective close, the `StopTriggered`, its
 *   `StopPlaced` and, through the position, the entry order's chain;
 * - its fills, and the position stream(s) holding their trade ids (a category read of the
 *   account's `position` streams) with the position's events and PnL.
 * Stored messages that are not valid events are left out and listed in `skipped`.
 * @throws AuditArgumentError for a malformed client order id; AuditNotFoundError when the
 *   order is not in the log (or its stream holds no valid event: the error lists what it holds).
 */
export async function auditOrder(store: EventStore, clientOrderId: string): Promise<OrderAudit> {
  if (!ClientOrderId.safeParse(clientOrderId).success) throw new AuditArgumentError('clientOrderId', clientOrderId, 'a client order id ([A-Za-z0-9_-], 1..36 characters)');
  const ctx: AuditContext = { store, skips: new SkipLog(), positions: new Map() };
  const audit = await auditOrderIn(ctx, clientOrderId, 0);
  return { ...audit, skipped: ctx.skips.list() };
}

// ---------------------------------------------------------------------------------------
// auditDay
// ---------------------------------------------------------------------------------------

export interface DayItem {
  tsEvent: number;
  time: string;
  accountId: string | null;
  type: string;
  streamId: string;
  position: number;
  eventId: string;
  detail: string;
}

export interface ApprovalItem extends DayItem {
  intentId: string;
  clientOrderId: string;
  side: string;
  quantity: string;
  notional: string;
  leverage: number;
  entryPrice: string;
  stopPrice: string;
  takeProfitPrice: string | null;
  equity: string;
  riskAmount: string;
  lossAtStop: string;
  initialMargin: string;
  liquidationPrice: string | null;
}

export interface DenialItem extends DayItem {
  intentId: string;
  reason: string;
  /** The size computed before the denial, where sizing got that far. */
  quantity: string | null;
  riskAmount: string | null;
}

export interface OrderItem extends DayItem {
  clientOrderId: string;
  purpose: string | null;
  side: string | null;
  quantity: string | null;
}

export interface FillItem extends OrderItem {
  tradeId: string;
  price: string;
  fee: string;
}

export interface PositionItem extends DayItem {
  side: string | null;
  quantity: string;
  price: string;
  /** Closed / liquidated positions: lifetime totals and net PnL (USDT). */
  totalRealisedPnl: string | null;
  totalFees: string | null;
  totalFunding: string | null;
  liquidationFee: string | null;
  netPnl: string | null;
  purpose: string | null;
}

export interface DayAudit {
  day: string;
  /** [from, to) in epoch ms, UTC. */
  from: number;
  to: number;
  accountId: string | null;
  /** Every decision of the day in market-time order. */
  timeline: DayItem[];
  approvals: ApprovalItem[];
  denials: DenialItem[];
  /** Breakers and guards: DailyTradeLimitWarning/Reached, MonthOpened, DrawdownAlert, TradingPaused/Resumed, TradingStateChanged, ProtectionWarning, StopTriggered. */
  guards: DayItem[];
  orders: { submitted: OrderItem[]; rejected: OrderItem[]; filled: FillItem[] };
  positions: { opened: PositionItem[]; closed: PositionItem[] };
  /**
   * Spot isolated-margin events of the day (streams `margin-<accountId>-<symbol>`): transfers,
   * loans, repayments, interest, positions opened, stops triggered, positions closed, refused
   * commands and the margin-level guard's alerts, in global log order, each with `marginDetail`'s line.
   */
  margin: DayItem[];
  counts: {
    /** Every event of the day (of the account), by type. */
    byType: Record<string, number>;
    denialsByReason: Record<string, number>;
    pausesByReason: Record<string, number>;
    triggersByKind: Record<string, number>;
    ordersRejectedByCode: Record<string, number>;
    closesByPurpose: Record<string, number>;
  };
  totals: { events: number; closedNetPnl: string; closedRealisedPnl: string; closedFees: string; closedFunding: string };
  /**
   * Stored messages that are not valid events, left out: the invalid ones of the day (and
   * account), and every unreadable one (it carries no market time) unless its stream names
   * another account.
   */
  skipped: SkippedEvent[];
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** [start, end) of a UTC day given as YYYY-MM-DD, or null when it is not a calendar date. */
export function utcDayRange(day: string): { from: number; to: number } | null {
  if (!DAY.test(day)) return null;
  const from = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(from) || new Date(from).toISOString().slice(0, 10) !== day) return null;
  return { from, to: from + 86_400_000 };
}

function bump(r: Record<string, number>, k: string): void {
  r[k] = (r[k] ?? 0) + 1;
}

/**
 * Every decision of one UTC day (by `metadata.tsEvent`, market time): approvals and denials
 * with their reasons and sizes, breaker and guard events, orders submitted / rejected /
 * filled, positions opened and closed with their PnL, spot-margin events, and counts by type and reason.
 * @param opts.accountId only this account's streams (order streams by their OrderInitialized).
 * Stored messages that are not valid events are left out and listed in `skipped`.
 * @throws AuditArgumentError when `day` is not a YYYY-MM-DD calendar date or the account id is malformed.
 */
export async function auditDay(store: EventStore, day: string, opts: { accountId?: string } = {}): Promise<DayAudit> {
  const range = utcDayRange(day);
  if (!range) throw new AuditArgumentError('day', day, 'a UTC calendar date YYYY-MM-DD');
  const only = opts.accountId ?? null;
  if (only !== null && !Identifier.safeParse(only).success) throw new AuditArgumentError('accountId', only, 'an account id ([A-Za-z0-9_-], 1..64 characters)');
  const orderAccounts = new Map<string, string>();
  const orderInits = new Map<string, EventData<'OrderInitialized'>>();
  const out: DayAudit = {
    day, from: range.from, to: range.to, accountId: only, timeline: [], approvals: [], denials: [], guards: [],
    orders: { submitted: [], rejected: [], filled: [] }, positions: { opened: [], closed: [] }, margin: [],
    counts: { byType: {}, denialsByReason: {}, pausesByReason: {}, triggersByKind: {}, ordersRejectedByCode: {}, closesByPurpose: {} },
    totals: { events: 0, closedNetPnl: '0', closedRealisedPnl: '0', closedFees: '0', closedFunding: '0' },
    skipped: [],
  };
  const skips = new SkipLog();
  let net = ZERO, realised = ZERO, fees = ZERO, funding = ZERO;
  const positionSide = new Map<string, string>();
  for await (const e of skips.readAll(store)) {
    if (e.type === 'OrderInitialized') {
      const init = e.data as EventData<'OrderInitialized'>;
      orderAccounts.set(e.streamId, init.accountId);
      orderInits.set(e.streamId, init);
    }
    if (e.type === 'PositionOpened') positionSide.set(e.streamId, (e.data as EventData<'PositionOpened'>).side);
    const ts = e.metadata.tsEvent;
    if (ts < range.from || ts >= range.to) continue;
    const accountId = accountOfStream(e.streamId, orderAccounts);
    if (only !== null && accountId !== only) continue;
    out.totals.events++;
    bump(out.counts.byType, e.type);
    const d = e.data as Record<string, unknown>;
    const base: DayItem = { tsEvent: ts, time: utcTime(ts), accountId, type: e.type, streamId: e.streamId, position: e.position, eventId: e.metadata.eventId, detail: '' };
    const init = orderInits.get(e.streamId);
    const orderItem = (detail: string): OrderItem => ({
      ...base, detail, clientOrderId: String(d.clientOrderId ?? e.streamId.slice('order-'.length)),
      purpose: init?.purpose ?? null, side: init?.side ?? null, quantity: init?.quantity ?? null,
    });
    let item: DayItem | null = null;
    if (e.type === 'EntryApproved') {
      const a = d as unknown as EntryApproved;
      const x = a.assessment;
      const ap: ApprovalItem = {
        ...base, detail: `${a.side} ${a.quantity} ${a.symbol} at ~${x.entryPrice} ${a.leverage}x, risk ${x.riskAmount} (loss at stop ${x.lossAtStop}), stop ${a.stopPrice}${a.takeProfitPrice ? `, target ${a.takeProfitPrice}` : ''} → ${a.clientOrderId}`,
        intentId: a.intentId, clientOrderId: a.clientOrderId, side: a.side, quantity: a.quantity, notional: x.notional, leverage: a.leverage, entryPrice: x.entryPrice,
        stopPrice: a.stopPrice, takeProfitPrice: a.takeProfitPrice, equity: x.equity, riskAmount: x.riskAmount, lossAtStop: x.lossAtStop, initialMargin: x.initialMargin,
        liquidationPrice: x.liquidationPrice,
      };
      out.approvals.push(ap);
      item = ap;
    } else if (e.type === 'EntryDenied') {
      const x = d as unknown as EventData<'EntryDenied'>;
      const dn: DenialItem = {
        ...base, detail: `${x.reason}: ${x.detail}`, intentId: x.intentId, reason: x.reason,
        quantity: x.assessment?.quantity ?? null, riskAmount: x.assessment?.riskAmount ?? null,
      };
      out.denials.push(dn);
      bump(out.counts.denialsByReason, x.reason);
      item = dn;
    } else if (GUARD_EVENT_TYPES.has(e.type)) {
      item = { ...base, detail: breakerDetail(e.type, d, e.streamId) };
      out.guards.push(item);
      if (e.type === 'TradingPaused') bump(out.counts.pausesByReason, String(d.reason));
      if (e.type === 'StopTriggered') bump(out.counts.triggersByKind, String(d.kind));
    } else if (e.type === 'OrderSubmitted') {
      item = orderItem(init ? `${init.purpose} ${init.side} ${init.type} ${init.quantity} ${init.symbol}` : 'sent to the venue');
      out.orders.submitted.push(item as OrderItem);
    } else if (e.type === 'OrderRejected' || e.type === 'OrderDenied' || e.type === 'OrderExpired') {
      const code = e.type === 'OrderExpired' ? 'EXPIRED' : String(d.code);
      item = orderItem(e.type === 'OrderExpired' ? 'expired at the venue' : `${d.code}: ${d.message}`);
      out.orders.rejected.push(item as OrderItem);
      bump(out.counts.ordersRejectedByCode, code);
    } else if (e.type === 'OrderFilled') {
      const f = d as unknown as EventData<'OrderFilled'>;
      const fi: FillItem = { ...orderItem(`${f.purpose} ${f.side} ${f.quantity} @ ${f.price}, fee ${f.fee} (trade ${f.tradeId})`), tradeId: f.tradeId, price: f.price, fee: f.fee };
      out.orders.filled.push(fi);
      item = fi;
    } else if (e.type === 'PositionOpened') {
      const p = d as unknown as EventData<'PositionOpened'>;
      const pi: PositionItem = {
        ...base, detail: `${p.side} ${p.quantity} @ ${p.entryPrice} ${p.leverage}x by ${p.clientOrderId}`, side: p.side, quantity: p.quantity, price: p.entryPrice,
        totalRealisedPnl: null, totalFees: null, totalFunding: null, liquidationFee: null, netPnl: null, purpose: p.purpose,
      };
      out.positions.opened.push(pi);
      item = pi;
    } else if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
      const p = d as unknown as EventData<'PositionLiquidated'>;
      const liq = e.type === 'PositionLiquidated' ? p.liquidationFee : null;
      const pi: PositionItem = {
        ...base,
        detail: `${p.quantity} @ ${p.price} by ${p.clientOrderId} (${p.purpose}): realised ${p.totalRealisedPnl}, fees ${p.totalFees}, funding ${p.totalFunding}${liq ? `, liquidation fee ${liq}` : ''}, net ${p.netPnl}`,
        side: positionSide.get(e.streamId) ?? null, quantity: p.quantity, price: p.price, totalRealisedPnl: p.totalRealisedPnl, totalFees: p.totalFees,
        totalFunding: p.totalFunding, liquidationFee: liq, netPnl: p.netPnl, purpose: p.purpose,
      };
      out.positions.closed.push(pi);
      bump(out.counts.closesByPurpose, p.purpose);
      net = net.plus(dec(p.netPnl));
      realised = realised.plus(dec(p.totalRealisedPnl));
      fees = fees.plus(dec(p.totalFees));
      funding = funding.plus(dec(p.totalFunding));
      item = pi;
    } else if (MARGIN_EVENT_TYPES.has(e.type)) {
      item = { ...base, detail: marginDetail(e.type, d) };
      out.margin.push(item);
    }
    if (item) out.timeline.push(item);
  }
  // `margin` stays in the read's (global) order; the other lists go by market time.
  const order = (a: DayItem, b: DayItem) => a.tsEvent - b.tsEvent || a.position - b.position;
  for (const list of [out.timeline, out.approvals, out.denials, out.guards, out.orders.submitted, out.orders.rejected, out.orders.filled, out.positions.opened, out.positions.closed]) {
    (list as DayItem[]).sort(order);
  }
  out.totals = { events: out.totals.events, closedNetPnl: str(net), closedRealisedPnl: str(realised), closedFees: str(fees), closedFunding: str(funding) };
  out.skipped = skips.list().filter((x) => {
    const accountId = accountOfStream(x.streamId, orderAccounts);
    if (only !== null && accountId !== null && accountId !== only) return false;
    return x.tsEvent === null || (x.tsEvent >= range.from && x.tsEvent < range.to);
  });
  return out;
}

