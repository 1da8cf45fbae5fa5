import { type EventData, type MarketTick, type RecordedEvent, event } from '@bulwark/contracts';
import { clientOrderIdFor, dec, str } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { type Causation, causedBy, causedByTick } from '@bulwark/messaging';
import type { Logger } from '@nestjs/common';
import { type ExecutionState, isLive } from './state';
import type { ExecutionStreams } from './streams';
import { venuesLib } from '../venues-lib';
import { ensureIsolatedMargin } from './account-setup';
import { entryOrderInitialized } from './entry-order';

/**
 * The kill switch: HALTED refuses every order that is not reduce-only, and so does
 * REDUCING; no state ever refuses a reduce-only order (stops, guards, take-profits and
 * operator closes must always be able to close). The difference: HALTED also cancels
 * resting entries (see {@link OrderRouting.tradingStateChanged}).
 */
export function killSwitchRefusal(state: ExecutionState, o: EventData<'OrderInitialized'>): { code: string; message: string } | null {
  const trading = state.tradingState.get(o.accountId) ?? 'ACTIVE';
  if (o.reduceOnly) return null;
  if (trading === 'HALTED') return { code: 'TRADING_HALTED', message: 'trading is halted: only reduce-only orders' };
  if (trading === 'REDUCING') return { code: 'TRADING_REDUCING', message: 'trading is reducing: only reduce-only orders' };
  return null;
}

/**
 * Regular (market and limit) orders to the venue: approved entries, the closes of triggered stops, the
 * operator's commands (flatten, close a position, cancel an order) and the kill switch.
 */
export class OrderRouting {
  constructor(
    private readonly state: ExecutionState,
    private readonly streams: ExecutionStreams,
    private readonly store: EventStore,
    private readonly log: Logger,
  ) {}

  /**
   * An approved entry (or the first child of a split one): the symbol in isolated margin (the
   * first entry on it, {@link ensureIsolatedMargin}), the leverage, then the order. Denied
   * (OrderDenied) on a live venue account whose settings were refused (VENUE_NOT_CONFIGURED),
   * when the venue refuses isolated margin on the symbol (MARGIN_MODE_NOT_ISOLATED) or the
   * leverage (the venue's code). A redelivery of an entry whose order exists sends nothing again.
   * @throws Error for an account a simulated venue does not hold yet (handled again), and from the venue transport or the log
   */
  async submitEntry(e: RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>, child?: { clientOrderId: string; quantity: string }): Promise<void> {
    const a = e.data;
    const c = causedBy(e);
    const order = entryOrderInitialized(e, child);
    const existing = await this.streams.loadOrder(order.clientOrderId);
    if (existing.state.status === 'SUBMITTED') return this.settleSubmitted(existing.state.order!, c);
    if (existing.state.status !== 'NONE') return; // redelivery: the order exists already
    const unconfigured = !this.state.configured.has(a.accountId);
    if (unconfigured && !isLive(this.state.venue)) throw new Error(`venue account ${a.accountId} is not configured`);
    const refused = unconfigured
      ? { code: 'VENUE_NOT_CONFIGURED', message: 'the venue account is not configured (one-way mode / isolated margin refused)' }
      : await this.isolatedMarginRefusal(a.accountId, a.symbol, c);
    const lev = refused ? null : await this.state.venue.setLeverage(a.accountId, a.symbol, a.leverage);
    if (lev?.ok) await this.streams.appendVenue(a.accountId, [event('LeverageSet', { symbol: a.symbol, leverage: a.leverage, maxNotional: str(lev.value.maxNotional) })], c);
    await this.place(order, c, refused ?? (lev && !lev.ok ? lev.error : null));
  }

  /**
   * A later child of a split entry (the leverage was set for the first): recorded and sent at the
   * market step `c`; denied MARGIN_MODE_NOT_ISOLATED as the first child would be when its symbol
   * is still not isolated (the first child's refusal does not end the split).
   */
  async placeEntry(e: Pick<RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>, 'data' | 'streamId'> & { metadata: { eventId: string } }, child: { clientOrderId: string; quantity: string }, c: Causation): Promise<void> {
    const order = entryOrderInitialized(e, child);
    const existing = await this.streams.loadOrder(order.clientOrderId);
    if (existing.state.status === 'SUBMITTED') return this.settleSubmitted(existing.state.order!, c);
    if (existing.state.status !== 'NONE') return;
    await this.place(order, c, await this.isolatedMarginRefusal(order.accountId, order.symbol, c));
  }

  /** {@link ensureIsolatedMargin}, its refusal logged. */
  private async isolatedMarginRefusal(accountId: string, symbol: string, c: Causation): Promise<{ code: string; message: string } | null> {
    const refused = await ensureIsolatedMargin(this.state, this.streams, accountId, symbol, c);
    if (refused) this.log.warn(`entry of ${accountId} on ${symbol} denied: ${refused.message}`);
    return refused;
  }

  async submitProtectiveClose(e: RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>): Promise<void> {
    const t = e.data;
    const placed = await this.closeTarget(e);
    // The rest of a partly filled limit entry would open the position again behind its stop.
    await this.cancelRestingEntries(placed.accountId, placed.symbol, `${t.kind.toLowerCase().replace(/_/g, ' ')} triggered: the rest of the entry is cancelled`, causedBy(e));
    const existing = await this.streams.loadOrder(t.closeClientOrderId);
    if (existing.state.status === 'SUBMITTED') return this.settleSubmitted(existing.state.order!, causedBy(e));
    if (existing.state.status !== 'NONE') return;
    // A retried close (attempt > 1) always goes out: the exchange stop did not close the position either.
    if (t.attempt === 1 && (t.kind === 'STOP_LOSS' || t.kind === 'TAKE_PROFIT') && this.state.accounts.get(placed.accountId)?.protection === 'EXCHANGE') {
      const atVenue = [...this.state.protective.values()].some((p) => p.stopStreamId === e.streamId && p.kind === t.kind && p.accepted);
      if (atVenue) return; // the exchange's own stop closes it; the internal close is only the fallback
    }
    await this.place(
      {
        clientOrderId: t.closeClientOrderId, accountId: placed.accountId, venue: placed.venue, symbol: placed.symbol, side: t.side, type: 'MARKET',
        quantity: t.quantity, price: null, timeInForce: null, reduceOnly: true,
        purpose: t.kind === 'STOP_LOSS' || t.kind === 'TAKE_PROFIT' ? t.kind : 'CLOSE', leverage: null,
        sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: t.triggerPrice,
      },
      causedBy(e),
      null,
    );
  }

  /** Account, venue and symbol of a triggered stop: on the event since v2, else from the stop's StopPlaced. */
  private async closeTarget(e: RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>): Promise<{ accountId: string; venue: EventData<'StopPlaced'>['venue']; symbol: string }> {
    const t = e.data;
    if (t.accountId && t.venue && t.symbol) return { accountId: t.accountId, venue: t.venue, symbol: t.symbol };
    const placed = (await this.store.readStream(e.streamId, { maxCount: 1 }))[0]?.data as EventData<'StopPlaced'> | undefined;
    if (!placed) throw new Error(`stop stream ${e.streamId} has no StopPlaced`);
    return placed;
  }

  /**
   * The kill switch changed. HALTED also cancels the account's resting orders that could open
   * or grow a position; its protective orders (exchange stops, reduce-only closes) stay.
   */
  async tradingStateChanged(e: RecordedEvent<'TradingStateChanged', EventData<'TradingStateChanged'>>): Promise<void> {
    const accountId = e.streamId.slice('account-'.length);
    this.state.tradingState.set(accountId, e.data.state);
    if (e.data.state !== 'HALTED') return;
    for (const [id, o] of [...this.state.openOrders]) {
      if (o.accountId === accountId && !o.reduceOnly) await this.cancel(id, `trading halted: ${e.data.reason}`, causedBy(e));
    }
  }

  /** Cancel these orders where they are still open (a split's children when it ends). */
  async cancelOrders(clientOrderIds: string[], reason: string, c: Causation): Promise<void> {
    for (const id of clientOrderIds) {
      const o = this.state.openOrders.get(id);
      if (o && o.status !== 'PENDING_CANCEL') await this.cancel(id, reason, c);
    }
  }

  /** Cancel the account's resting entries (open orders that are not reduce-only) on `symbol`. */
  private async cancelRestingEntries(accountId: string, symbol: string, reason: string, c: Causation): Promise<void> {
    for (const [id, o] of [...this.state.openOrders]) {
      if (o.accountId === accountId && o.symbol === symbol && !o.reduceOnly && o.status !== 'PENDING_CANCEL') await this.cancel(id, reason, c);
    }
  }

  /**
   * A market step at `tick.ts`: resting entries whose goodTillDate has come are cancelled
   * before the step is matched (they rest through every step before it); what they filled stays
   * and is protected like any position.
   */
  async expireEntries(tick: MarketTick): Promise<void> {
    for (const [id, o] of [...this.state.openOrders]) {
      if (o.goodTillDate === null || o.goodTillDate > tick.ts || o.symbol !== tick.symbol || o.status === 'PENDING_CANCEL') continue;
      await this.cancel(id, `expired: good till ${new Date(o.goodTillDate).toISOString()}`, causedByTick(tick));
    }
  }

  /** Cancel one open regular order at the venue and record the request and the answer. */
  private async cancel(clientOrderId: string, reason: string, c: Causation): Promise<void> {
    const o = this.state.openOrders.get(clientOrderId);
    if (!o) return;
    const s = await this.streams.orderCommands(clientOrderId, [{ kind: 'RequestCancel', reason }], c);
    if (s.status !== 'PENDING_CANCEL') return;
    const r = await this.state.venue.cancelOrder(o.accountId, clientOrderId);
    await this.streams.orderCommands(clientOrderId, [r.ok ? { kind: 'RecordCanceled' } : { kind: 'RecordCancelRejected', code: r.error.code, message: r.error.message }], c);
  }

  /** Close the net position of `account|symbol` reduce-only at market (an operator command). */
  private async closeNet(accountId: string, symbol: string, tag: string, e: RecordedEvent): Promise<void> {
    const n = this.state.net.get(`${accountId}|${symbol}`);
    if (!n || n.status !== 'OPEN') return;
    await this.place(
      {
        clientOrderId: clientOrderIdFor(accountId, tag, 'C'), accountId, venue: this.state.venueId, symbol, side: n.side === 'SHORT' ? 'BUY' : 'SELL', type: 'MARKET',
        quantity: str(n.quantity), price: null, timeInForce: null, reduceOnly: true, purpose: 'CLOSE', leverage: null,
        sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: null,
      },
      causedBy(e),
      null,
    );
  }

  /**
   * `bulwark account flatten`: risk has set the account HALTED (so nothing re-enters); cancel
   * every resting regular order, then close every position reduce-only at market. The exchange
   * stops stay until their position is flat (then they are cancelled like any other).
   */
  async flatten(e: RecordedEvent<'FlattenRequested', EventData<'FlattenRequested'>>): Promise<void> {
    const accountId = e.streamId.slice('account-'.length);
    const why = `flatten by ${e.data.by}: ${e.data.reason}`;
    for (const [id, o] of [...this.state.openOrders]) if (o.accountId === accountId) await this.cancel(id, why, causedBy(e));
    const symbols = [...this.state.net.keys()].filter((k) => k.startsWith(`${accountId}|`)).map((k) => k.slice(accountId.length + 1)).sort();
    for (const [i, symbol] of symbols.entries()) await this.closeNet(accountId, symbol, `o${e.revision}s${i}`, e);
  }

  /** `bulwark position close`: close one position reduce-only at market. */
  async closePositionCommanded(e: RecordedEvent<'PositionCloseRequested', EventData<'PositionCloseRequested'>>): Promise<void> {
    await this.closeNet(e.streamId.slice('account-'.length), e.data.symbol, `o${e.revision}`, e);
  }

  /** `bulwark order cancel`: cancel one resting order of the account. */
  async cancelOrderCommanded(e: RecordedEvent<'OrderCancelCommanded', EventData<'OrderCancelCommanded'>>): Promise<void> {
    const accountId = e.streamId.slice('account-'.length);
    const o = this.state.openOrders.get(e.data.clientOrderId);
    if (!o || o.accountId !== accountId) {
      this.log.warn(`cancel of ${e.data.clientOrderId} by ${e.data.by}: no open order of ${accountId} with that id`);
      return;
    }
    await this.cancel(e.data.clientOrderId, `cancel by ${e.data.by}: ${e.data.reason}`, causedBy(e));
  }

  /** Record the order, send it to the venue, record the venue's answer. */
  async place(o: EventData<'OrderInitialized'>, c: Causation, refused: { code: string; message: string } | null): Promise<void> {
    const refusal = refused ?? killSwitchRefusal(this.state, o);
    if (refusal) {
      await this.streams.orderCommands(o.clientOrderId, [{ kind: 'InitializeOrder', data: o }, { kind: 'DenyOrder', code: refusal.code, message: refusal.message }], c);
      return;
    }
    if (o.type !== 'MARKET' && o.type !== 'LIMIT') throw new Error(`place: ${o.type} orders go through placeProtective`);
    await this.streams.orderCommands(o.clientOrderId, [{ kind: 'InitializeOrder', data: o }, { kind: 'SubmitOrder' }], c);
    await this.send(o, c);
  }

  /**
   * An order recorded as submitted whose venue answer was never recorded (the append failed
   * while NATS was away, or the process died in between) and is handled again: ask the venue
   * whether it has the order; record it accepted if so, else send it now. Never a second order.
   */
  private async settleSubmitted(o: EventData<'OrderInitialized'>, c: Causation): Promise<void> {
    const venue = this.state.venue as Partial<{ order(accountId: string, symbol: string, clientOrderId: string): Promise<{ venueOrderId: string } | null> }>;
    if (typeof venue.order !== 'function') {
      this.log.warn(`order ${o.clientOrderId} was submitted but its answer is not recorded, and this venue cannot be asked: reconciliation settles it`);
      return;
    }
    const found = await venue.order(o.accountId, o.symbol, o.clientOrderId);
    if (found) await this.streams.orderCommands(o.clientOrderId, [{ kind: 'RecordAccepted', venueOrderId: found.venueOrderId }], c);
    else await this.send(o, c);
  }

  /** Send a recorded order to the venue and record its answer. */
  private async send(o: EventData<'OrderInitialized'>, c: Causation): Promise<void> {
    if (o.type !== 'MARKET' && o.type !== 'LIMIT') throw new Error(`send: ${o.type} orders go through placeProtective`);
    const r = await this.state.venue.placeOrder(o.accountId, {
      clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, quantity: dec(o.quantity),
      price: o.price === null ? null : dec(o.price), reduceOnly: o.reduceOnly, purpose: o.purpose,
      triggerPrice: o.triggerPrice === null ? null : dec(o.triggerPrice),
      ...(o.type === 'LIMIT' && o.timeInForce !== null ? { timeInForce: o.timeInForce } : {}),
    });
    await this.streams.orderCommands(
      o.clientOrderId,
      [
        r.ok
          ? { kind: 'RecordAccepted', venueOrderId: r.value.venueOrderId }
          : venuesLib().classifyVenueError(r.error.code).outcomeUnknown
            ? { kind: 'RecordStatusUnknown', detail: `${r.error.code} ${r.error.message}` }
            : { kind: 'RecordRejected', code: r.error.code, message: r.error.message },
      ],
      c,
    );
  }
}
