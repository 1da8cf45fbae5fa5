import { accountOfStream, type EventData, isEventType, parsePositionStreamId, parseStopStreamId, PositiveDecimalString, type RecordedEvent } from '@bulwark/contracts';
import {
  type AccountState,
  accountInitialState,
  type Bracket,
  bracketsFromContract,
  type D,
  dec,
  liquidationCloseFeeRate,
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
import { BREAKER_EVENT_TYPES, breakerDetail, breakerReason, evolvePolicy, evolvePosition, evolveStop, LedgerFold, type LedgerSnapshot, ORDER_TYPES, POSITION_TYPES, stepOrder } from './folds';
import { GUARD_THRESHOLDS, positionRisk } from './position-risk';
import { screenEvent, type SkippedEvent } from './screen';
import type { AccountListItem, AccountView, BreakerView, EquityPoint, FillView, OrderView, PositionView } from './views';

/*
 * The gateway's read model, folded event by event in global log order (a catch-up read, then
 * the live subscription), plus live mark prices. It steps the same folds as `rebuildReadModels`
 * (folds.ts), so a projection of a log and a replay of it agree on the ledger, the positions
 * and the orders. Pure: no I/O, no clock (times are the events' market times and the marks').
 */

/** A mark price handed to {@link AccountProjection.applyMark} that cannot be used. */
export class MarkPriceError extends Error {
  constructor(
    readonly field: 'venue' | 'symbol' | 'price' | 'ts',
    readonly reason: string,
  ) {
    super(`mark price: ${field} ${reason}`);
    this.name = 'MarkPriceError';
  }
}

/** Live marks closer together than this replace the last curve point instead of adding one (bounded memory). */
export const MARK_POINT_INTERVAL_MS = 60_000;
/** The skipped events kept (the most recent ones); the count goes on. */
export const MAX_SKIPPED_KEPT = 1_000;

interface PositionSlot {
  state: PositionState;
  openedAt: number | null;
}

interface OrderSlot {
  state: OrderState;
  createdAt: number | null;
  updatedAt: number | null;
}

interface AccountSlot {
  accountId: string;
  policy: AccountState;
  ledger: LedgerFold;
  positions: Map<string, PositionSlot>;
  /** Position stream ids now open. */
  open: Set<string>;
  /** Stop state by the protected position's stream id. */
  stops: Map<string, StopState>;
  orders: Map<string, OrderSlot>;
  fills: FillView[];
  /** `venue:symbol` → the account's last fill there (the mark when no live mark is known). */
  lastFill: Map<string, { price: D; ts: number }>;
  breakers: BreakerView[];
  curve: EquityPoint[];
  /** The curve's last point came from a live mark (the next mark within the interval replaces it). */
  lastPointIsMark: boolean;
  peakEquity: D;
  maxDrawdown: D;
  maxDrawdownFraction: D;
  lastEquity: D | null;
  asOf: number;
}

/** Event types the projection folds; other known types are ignored without screening. */
const FOLDED_TYPES: ReadonlySet<string> = new Set([
  ...POSITION_TYPES, ...ORDER_TYPES, ...BREAKER_EVENT_TYPES,
  'AccountOpened', 'AccountReconfigured', 'EntryApproved', 'EntryDenied', 'PositionResultRecorded', 'MonthOpened', 'EquityPeakRaised',
  'MarginUtilisationChanged', 'EquityMarked', 'InstrumentRulesRecorded',
  'StopPlaced', 'StopTriggered', 'StopCancelled', 'StopResized', 'CloseRejected',
]);

const key = (venue: string, symbol: string) => `${venue}:${symbol}`;
const utcDay = (ts: number) => new Date(ts).toISOString().slice(0, 10);

/**
 * Every account's read model, kept current one event at a time.
 *
 * - `apply(e)`: any event of the log, in global order. Types it does not fold are ignored; an
 *   event of an unknown type, with data failing its schema, too large, or one its aggregate
 *   cannot fold is recorded in `skipped()` and changes nothing. An event at or before
 *   `lastPosition()` was applied already and is ignored (a catch-up read and a subscription
 *   may overlap). Never throws.
 * - `applyMark(venue, symbol, price, ts)`: a live mark price; open positions on the instrument
 *   are valued at it (else at the account's last fill price there), equity and drawdown move.
 *
 * Views are JSON-ready (views.ts): decimals as strings, times in epoch ms.
 */
export class AccountProjection {
  private readonly slots = new Map<string, AccountSlot>();
  /** Order stream id → account (from OrderInitialized). */
  private readonly orderAccounts = new Map<string, string>();
  /** `venue:symbol` → leverage brackets and the liquidation closing-fee rate from the last InstrumentRulesRecorded. */
  private readonly brackets = new Map<string, { brackets: Bracket[]; closeFeeRate: D }>();
  private readonly marks = new Map<string, { price: D; ts: number }>();
  private readonly skippedEvents: SkippedEvent[] = [];
  private skippedCount = 0;
  private last = 0;

  /** Fold one event (see the class comment). Never throws. */
  apply(e: RecordedEvent): void {
    if (typeof e?.position === 'number' && e.position <= this.last) return;
    if (typeof e?.position === 'number') this.last = e.position;
    try {
      if (isEventType(e.type) && !FOLDED_TYPES.has(e.type)) return;
      const screened = screenEvent(e);
      if (!screened.ok) return this.skip(e, 'INVALID', screened.reason);
      this.fold(screened.event);
    } catch (err) {
      this.skip(e, 'INVALID', `cannot be folded: ${(err as Error).message}`);
    }
  }

  /**
   * A live mark price (`md.mark`). Open positions on `venue`/`symbol` are valued at it from now on.
   * @param price decimal string > 0 (quote asset); ts epoch ms
   * @throws MarkPriceError naming the field, for an empty venue or symbol, a price that is not a positive decimal string, or a bad ts
   */
  applyMark(venue: string, symbol: string, price: string, ts: number): void {
    if (typeof venue !== 'string' || venue.length === 0) throw new MarkPriceError('venue', 'must be a venue id');
    if (typeof symbol !== 'string' || symbol.length === 0) throw new MarkPriceError('symbol', 'must be a symbol');
    if (!PositiveDecimalString.safeParse(price).success) throw new MarkPriceError('price', `must be a decimal string > 0, got ${JSON.stringify(price)}`);
    if (!Number.isSafeInteger(ts) || ts < 0) throw new MarkPriceError('ts', `must be epoch milliseconds, got ${String(ts)}`);
    const k = key(venue, symbol);
    const prev = this.marks.get(k);
    if (prev && prev.ts > ts) return; // an older mark arriving late
    this.marks.set(k, { price: dec(price), ts });
    for (const slot of this.slots.values()) {
      const holds = [...slot.open].some((id) => {
        const s = slot.positions.get(id)?.state;
        return s !== undefined && s.venue === venue && s.symbol === symbol;
      });
      if (!holds) continue;
      slot.asOf = Math.max(slot.asOf, ts);
      this.markEquity(slot, ts, true);
    }
  }

  /** Every account, sorted by id. */
  accounts(): AccountListItem[] {
    return [...this.slots.values()].sort((a, b) => a.accountId.localeCompare(b.accountId)).map((s) => this.listItem(s));
  }

  /** One account's view, or null when the log holds nothing of it. */
  account(accountId: string): AccountView | null {
    const s = this.slots.get(accountId);
    if (!s) return null;
    const { wallet, unrealised, equity } = this.valuation(s);
    const drawdown = D_MAX(s.peakEquity.minus(equity), ZERO);
    const p = s.policy;
    const today = s.asOf > 0 ? utcDay(s.asOf) : null;
    const sameDay = p.day !== null && p.day === today;
    return {
      ...this.listItem(s),
      config: p.config ? { ...p.config } : null,
      capital: str(s.ledger.capital),
      walletBalance: str(wallet),
      unrealisedPnl: str(unrealised),
      realisedPnl: str(s.ledger.realisedPnl),
      fees: str(s.ledger.fees),
      funding: str(s.ledger.funding),
      liquidationFees: str(s.ledger.liquidationFees),
      peakEquity: str(s.peakEquity),
      drawdown: str(drawdown),
      drawdownFraction: str(s.peakEquity.gt(0) ? drawdown.div(s.peakEquity) : ZERO),
      maxDrawdown: str(s.maxDrawdown),
      maxDrawdownFraction: str(s.maxDrawdownFraction),
      tradesToday: sameDay ? p.tradesToday : 0,
      pnlToday: str(sameDay ? p.pnlToday : ZERO),
      paused: pauseOf(p, today),
      breakers: [...s.breakers],
      asOf: s.asOf,
    };
  }

  /** Open positions of an account (by lifecycle); null for an unknown account. */
  positions(accountId: string): PositionView[] | null {
    const s = this.slots.get(accountId);
    if (!s) return null;
    return [...s.open]
      .map((id) => ({ id, slot: s.positions.get(id)! }))
      .sort((a, b) => a.slot.state.sequence - b.slot.state.sequence || a.id.localeCompare(b.id))
      .map(({ id, slot }) => this.positionView(s, id, slot));
  }

  /** Orders of an account, oldest first; null for an unknown account. */
  orders(accountId: string): OrderView[] | null {
    const s = this.slots.get(accountId);
    if (!s) return null;
    return [...s.orders.entries()]
      .map(([clientOrderId, o]) => orderView(clientOrderId, o))
      .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || a.clientOrderId.localeCompare(b.clientOrderId, 'en', { numeric: true }));
  }

  /** Fills of an account in log order; null for an unknown account. */
  fills(accountId: string): FillView[] | null {
    const s = this.slots.get(accountId);
    return s ? [...s.fills] : null;
  }

  /** The equity curve of an account; null for an unknown account. */
  equityCurve(accountId: string): EquityPoint[] | null {
    const s = this.slots.get(accountId);
    return s ? [...s.curve] : null;
  }

  /** Breakers, guards and venue alerts of an account in log order; null for an unknown account. */
  breakers(accountId: string): BreakerView[] | null {
    const s = this.slots.get(accountId);
    return s ? [...s.breakers] : null;
  }

  /** The ledger of an account as accounting books it (capital, realised PnL, fees, funding, counts); null for an unknown account. */
  ledger(accountId: string): LedgerSnapshot | null {
    return this.slots.get(accountId)?.ledger.snapshot() ?? null;
  }

  /** Global position of the last event applied (0 before the first). */
  lastPosition(): number {
    return this.last;
  }

  /** Events left out (the last {@link MAX_SKIPPED_KEPT}), with where they are and why; `count` counts them all. */
  skipped(): { count: number; events: SkippedEvent[] } {
    return { count: this.skippedCount, events: [...this.skippedEvents] };
  }

  // ------------------------------------------------------------------------------ folding

  private skip(e: RecordedEvent, kind: SkippedEvent['kind'], reason: string): void {
    this.skippedCount++;
    this.skippedEvents.push({
      kind, streamId: String(e?.streamId), revision: typeof e?.revision === 'number' ? e.revision : null, position: typeof e?.position === 'number' ? e.position : 0,
      type: typeof e?.type === 'string' ? e.type : null, tsEvent: typeof e?.metadata?.tsEvent === 'number' ? e.metadata.tsEvent : null, reason,
    });
    if (this.skippedEvents.length > MAX_SKIPPED_KEPT) this.skippedEvents.shift();
  }

  private slot(accountId: string): AccountSlot {
    let s = this.slots.get(accountId);
    if (!s) {
      s = {
        accountId, policy: accountInitialState(), ledger: new LedgerFold(), positions: new Map(), open: new Set(), stops: new Map(), orders: new Map(),
        fills: [], lastFill: new Map(), breakers: [], curve: [], lastPointIsMark: false, peakEquity: ZERO, maxDrawdown: ZERO, maxDrawdownFraction: ZERO,
        lastEquity: null, asOf: 0,
      };
      this.slots.set(accountId, s);
    }
    return s;
  }

  private fold(e: RecordedEvent): void {
    const ts = e.metadata.tsEvent;
    if (e.type === 'InstrumentRulesRecorded') {
      const r = e.data as EventData<'InstrumentRulesRecorded'>;
      this.brackets.set(key(r.venue, r.symbol), { brackets: bracketsFromContract(r.brackets), closeFeeRate: liquidationCloseFeeRate({ venue: r.venue, takerFeeRate: dec(r.takerFeeRate) }) });
      return;
    }
    if (e.type === 'OrderInitialized' && e.streamId.startsWith('order-')) this.orderAccounts.set(e.streamId, (e.data as EventData<'OrderInitialized'>).accountId);
    const accountId = accountOfStream(e.streamId, this.orderAccounts) ?? accountFromData(e);
    if (accountId === null) return;
    const category = e.streamId.slice(0, e.streamId.indexOf('-'));
    // A breaker of another category (venue, monitor, margin) needs no account model of its own.
    if (!this.slots.has(accountId) && !['account', 'order', 'position', 'stop', 'ledger'].includes(category) && !BREAKER_EVENT_TYPES.has(e.type)) return;
    const s = this.slot(accountId);

    if (category === 'account') {
      const policy = evolvePolicy(s.policy, e);
      s.policy = policy;
      if (e.type === 'AccountOpened' && !s.ledger.capitalKnown) {
        s.ledger.apply(e);
        if (s.curve.length === 0) s.peakEquity = s.ledger.capital;
        this.markEquity(s, ts, false);
      }
    } else if (category === 'position' && POSITION_TYPES.has(e.type)) {
      const p = s.positions.get(e.streamId) ?? { state: positionInitialState(), openedAt: null };
      const state = evolvePosition(p.state, e);
      s.positions.set(e.streamId, { state, openedAt: p.openedAt ?? (e.type === 'PositionOpened' ? ts : null) });
      if (state.status === 'OPEN') s.open.add(e.streamId);
      else s.open.delete(e.streamId);
      s.ledger.apply(e);
      this.markEquity(s, ts, false);
    } else if (category === 'order' && ORDER_TYPES.has(e.type)) {
      const clientOrderId = e.streamId.slice('order-'.length);
      const o = s.orders.get(clientOrderId) ?? { state: orderInitialState(), createdAt: null, updatedAt: null };
      const r = stepOrder(o.state, e);
      if (r.problem) throw new Error(r.problem);
      const filled = r.state.fills > o.state.fills;
      s.orders.set(clientOrderId, { state: r.state, createdAt: o.createdAt ?? (e.type === 'OrderInitialized' ? ts : null), updatedAt: ts });
      if (e.type === 'OrderFilled' && filled) {
        const f = e.data as EventData<'OrderFilled'>;
        s.fills.push({ clientOrderId: f.clientOrderId, tradeId: f.tradeId, symbol: f.symbol, side: f.side, price: f.price, quantity: f.quantity, fee: f.fee, feeAsset: f.feeAsset, liquidity: f.liquidity, ts });
        s.lastFill.set(key(f.venue, f.symbol), { price: dec(f.price), ts });
        this.markEquity(s, ts, false);
      }
    } else if (category === 'stop') {
      const ref = parseStopStreamId(e.streamId);
      if (ref) s.stops.set(ref.positionStreamId, evolveStop(s.stops.get(ref.positionStreamId) ?? stopInitialState(), e));
    } else if (e.type === 'EquityMarked') {
      // Accounting marks every clock step; what it recorded of the peak and the deepest drawdown holds here too.
      const m = e.data as EventData<'EquityMarked'>;
      s.peakEquity = D_MAX(s.peakEquity, dec(m.peakEquity));
      s.maxDrawdown = D_MAX(s.maxDrawdown, dec(m.maxDrawdown));
      s.maxDrawdownFraction = D_MAX(s.maxDrawdownFraction, dec(m.maxDrawdownFraction));
    }
    if (BREAKER_EVENT_TYPES.has(e.type)) {
      const d = e.data as Record<string, unknown>;
      s.breakers.push({ type: e.type, ts, reason: breakerReason(e.type, d), detail: breakerDetail(e.type, d, e.streamId), eventId: e.metadata.eventId });
    }
    s.asOf = Math.max(s.asOf, ts);
  }

  // ------------------------------------------------------------------------------ valuation

  /** The mark of an open position: the live mark, else the account's last fill there, else the entry price. */
  private markOf(s: AccountSlot, state: PositionState): { price: D; source: 'mark' | 'fill'; ts: number | null } {
    const k = key(state.venue ?? '', state.symbol ?? '');
    const live = this.marks.get(k);
    if (live) return { price: live.price, source: 'mark', ts: live.ts };
    const fill = s.lastFill.get(k);
    return fill ? { price: fill.price, source: 'fill', ts: fill.ts } : { price: state.entryPrice, source: 'fill', ts: null };
  }

  private valuation(s: AccountSlot): { wallet: D; unrealised: D; equity: D } {
    const wallet = s.ledger.walletBalance();
    let unrealised = ZERO;
    for (const id of s.open) {
      const state = s.positions.get(id)!.state;
      unrealised = unrealised.plus(unrealisedPnl(state, this.markOf(s, state).price));
    }
    return { wallet, unrealised, equity: wallet.plus(unrealised) };
  }

  /** Equity after a change: peak, drawdown and a curve point when it moved. */
  private markEquity(s: AccountSlot, ts: number, fromMark: boolean): void {
    if (!s.ledger.capitalKnown) return;
    const { equity } = this.valuation(s);
    if (equity.gt(s.peakEquity)) s.peakEquity = equity;
    const dd = D_MAX(s.peakEquity.minus(equity), ZERO);
    if (dd.gt(s.maxDrawdown)) s.maxDrawdown = dd;
    const ddf = s.peakEquity.gt(0) ? dd.div(s.peakEquity) : ZERO;
    if (ddf.gt(s.maxDrawdownFraction)) s.maxDrawdownFraction = ddf;
    if (s.lastEquity !== null && s.lastEquity.eq(equity)) return;
    s.lastEquity = equity;
    const point: EquityPoint = { ts, equity: str(equity), drawdown: str(dd) };
    const last = s.curve[s.curve.length - 1];
    if (fromMark && s.lastPointIsMark && last && ts - last.ts < MARK_POINT_INTERVAL_MS) s.curve[s.curve.length - 1] = { ...point, ts: last.ts };
    else s.curve.push(point);
    s.lastPointIsMark = fromMark;
  }

  private listItem(s: AccountSlot): AccountListItem {
    const c = s.policy.config;
    return {
      accountId: s.accountId,
      venue: c?.venue ?? null,
      symbol: c?.symbol ?? null,
      leverage: c?.leverage ?? null,
      tradingState: s.policy.tradingState,
      equity: str(this.valuation(s).equity),
      openPositions: s.open.size,
    };
  }

  private positionView(s: AccountSlot, positionStreamId: string, p: PositionSlot): PositionView {
    const st = p.state;
    const ids = parsePositionStreamId(positionStreamId);
    const venue = st.venue ?? ids?.venue ?? '';
    const symbol = st.symbol ?? ids?.symbol ?? '';
    const mark = this.markOf(s, st);
    const liq = this.brackets.get(key(venue, symbol));
    const risk = positionRisk(st, mark.price, liq?.brackets ?? null, liq?.closeFeeRate);
    const stop = s.stops.get(positionStreamId);
    const placed = stop && stop.status !== 'CANCELLED' ? stop.placed : null;
    return {
      positionStreamId, venue, symbol, side: st.side!, quantity: str(st.quantity), entryPrice: str(st.entryPrice), leverage: st.leverage,
      markPrice: str(mark.price), markSource: mark.source, markTs: mark.ts, ...risk,
      stopPrice: placed?.stopPrice ?? null, takeProfitPrice: placed?.takeProfitPrice ?? null,
      guards: { ...GUARD_THRESHOLDS },
      openedAt: p.openedAt ?? 0,
    };
  }
}

const D_MAX = (a: D, b: D): D => (a.gt(b) ? a : b);

/** Breakers on streams that name no account (none today) may still carry one in their data. */
function accountFromData(e: RecordedEvent): string | null {
  const a = (e.data as { accountId?: unknown } | null)?.accountId;
  return BREAKER_EVENT_TYPES.has(e.type) && typeof a === 'string' ? a : null;
}

/** Why entries are paused now, or null: the monthly, lifetime and losing-streak pauses hold until resumed, the daily ones for their day. */
function pauseOf(p: AccountState, today: string | null): AccountView['paused'] {
  if (p.lifetimeBreach) return { reason: 'LIFETIME_DRAWDOWN_LIMIT', day: null, month: null };
  if (p.monthlyPause) return { reason: 'MONTHLY_DRAWDOWN_LIMIT', day: null, month: p.monthlyPause.month };
  if (p.streakPause) return { reason: 'LOSING_STREAK', day: null, month: null };
  if (p.pausedForDay && p.pausedForDay.day === today) return { reason: p.pausedForDay.reason, day: p.pausedForDay.day, month: null };
  return null;
}

/** An order's view from its folded state. */
export function orderView(clientOrderId: string, o: { state: OrderState; createdAt: number | null; updatedAt: number | null }): OrderView {
  const s = o.state;
  const init = s.order;
  return {
    clientOrderId, purpose: init?.purpose ?? null, symbol: init?.symbol ?? null, side: init?.side ?? null, type: init?.type ?? null, quantity: init?.quantity ?? null,
    status: s.status, filledQuantity: str(s.filledQuantity), averageFillPrice: s.averageFillPrice === null ? null : str(s.averageFillPrice), fees: str(s.fees),
    createdAt: o.createdAt, updatedAt: o.updatedAt,
  };
}
