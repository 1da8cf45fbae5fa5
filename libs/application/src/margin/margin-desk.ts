import { type DomainEvent, event, parseEvent, Streams } from '@bulwark/contracts';
import {
  type D,
  dec,
  DEFAULT_MARGIN_LEVEL_BARS,
  floorToStep,
  foldMarginPair,
  marginPairEvolve,
  type IsolatedMarginBalances,
  isolatedMarginEquity,
  type IsolatedMarginEquity,
  marginAdoptionStop,
  marginClosePnl,
  type MarginExitKind,
  type MarginLevelBars,
  type MarginPairRules,
  type MarginPairState,
  type MarginPositionState,
  shortCoverQuantity,
  shortHash,
  sizeSpotMarginEntry,
  type SpotMarginSizing,
  str,
  ZERO,
} from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import type { EventAppender } from '@bulwark/messaging';
// Types only: the desk never loads ccxt; whoever builds it passes the adapter.
import type { BinanceMarginVenue, IsolatedMarginAccount, MarginOrderSnapshot } from '@bulwark/venues';

/** What the desk needs of a spot isolated-margin venue (BinanceMarginVenue implements it). */
export type MarginVenuePort = Pick<BinanceMarginVenue, 'transferToMargin' | 'transferToSpot' | 'borrow' | 'repay' | 'isolatedAccount' | 'interestHistory' | 'placeOrder' | 'order'>;

/**
 * A refused margin command: the venue's code (e.g. -3020, -3006, -3015, -2010) or Bulwark's
 * (INVALID_AMOUNT, UNKNOWN_ASSET, BELOW_SAFE_LEVEL, POSITION_OPEN, NO_POSITION, sizing's
 * STOP_ON_WRONG_SIDE, BELOW_MIN_QTY, …). Recorded as MarginCommandRejected; the books are unchanged.
 */
export interface MarginDeskError {
  code: string;
  message: string;
}

/** The risk settings of a spot-margin account (fractions as decimals). */
export interface MarginRiskSettings {
  /** Loss at the stop as a share of the isolated account's equity (default 0.01). */
  riskFraction: D;
  /** Most of the equity one entry may commit as its own margin (default 0.5). */
  maxMarginFraction: D;
  /** Leverage the entry's borrowing may reach, 1..10 (default 3). */
  leverage: number;
}

export const DEFAULT_MARGIN_RISK: Readonly<MarginRiskSettings> = Object.freeze({ riskFraction: dec('0.01'), maxMarginFraction: dec('0.5'), leverage: 3 });

export interface MarginDeskOptions {
  accountId: string;
  rules: MarginPairRules;
  venue: MarginVenuePort;
  store: EventStore;
  appender: EventAppender;
  risk?: MarginRiskSettings;
  /** Bulwark's guard levels; a transfer out is refused at or below `transferOut` (default 2.0) while anything is owed. */
  bars?: MarginLevelBars;
  /** Market time of the events, epoch ms (the venue's clock when it has one). Default Date.now. */
  now?: () => number;
}

export interface OpenMarginPosition {
  side: 'LONG' | 'SHORT';
  stopPrice: D;
  takeProfitPrice?: D | null;
  by: string;
  /** The approved request this carries out: a request already carried out or refused is not opened again (ALREADY_HANDLED). */
  requestId?: string | null;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: MarginDeskError };

const fail = (code: string, message: string): { ok: false; error: MarginDeskError } => ({ ok: false, error: { code, message } });

/**
 * The execution side of one account's spot isolated-margin pair: transfers, loans, entries
 * with their stop, and closes with auto-repay, each answered by the venue and recorded on
 * `margin-<accountId>-<symbol>` (the venue's transaction ids kept). A refusal is recorded as
 * MarginCommandRejected and returned; nothing is retried blindly (the adapter resolves unknown
 * order outcomes by client order id). The stop is internal (spot margin has no reduce-only stop
 * order): the position is recorded with it in the same append as its opening, and
 * `MarginWatch` runs the Iron Exit on it.
 *
 * Commands of one desk are serialised (one at a time) so two closes never race.
 */
export class MarginDesk {
  readonly accountId: string;
  readonly symbol: string;
  readonly streamId: string;
  private readonly risk: MarginRiskSettings;
  private readonly bars: MarginLevelBars;
  private readonly now: () => number;
  private readonly idPrefix: string;
  private queue: Promise<unknown> = Promise.resolve();
  private cache: { events: DomainEvent[]; state: MarginPairState; revision: number | null } | null = null;

  constructor(private readonly o: MarginDeskOptions) {
    this.accountId = o.accountId;
    this.symbol = o.rules.symbol;
    this.streamId = Streams.margin(o.accountId, o.rules.symbol);
    this.risk = o.risk ?? DEFAULT_MARGIN_RISK;
    this.bars = o.bars ?? DEFAULT_MARGIN_LEVEL_BARS;
    this.now = o.now ?? Date.now;
    // Client order ids follow the position: `bwm<hash of account and pair>-<sequence>E` for its
    // entry, `…X<try>` for its close, so a command repeated after a crash finds its own order.
    this.idPrefix = `bwm${shortHash(`${o.accountId}/${o.rules.symbol}`)}`;
  }

  /**
   * The pair's events that can be read (a poison event is left to the quarantine), and the
   * stream's revision. Execution is the stream's only writer, so the desk reads it once and then
   * keeps it with its own appends; an append that finds the stream moved on (another writer, a
   * takeover) drops the copy and the next call reads the stream again.
   */
  async events(): Promise<{ events: DomainEvent[]; revision: number | null }> {
    if (!this.cache) {
      const recorded = await this.o.store.readStream(this.streamId);
      const events: DomainEvent[] = [];
      for (const r of recorded) {
        const p = parseEvent(r.type, r.data, r.metadata.schemaVersion);
        if (p.ok) events.push(p.event);
      }
      this.cache = { events, state: foldMarginPair(events), revision: recorded.length ? recorded[recorded.length - 1].revision : null };
    }
    return { events: this.cache.events, revision: this.cache.revision };
  }

  /** The pair as the log tells it, and the stream's revision (for the next append). */
  async state(): Promise<{ state: MarginPairState; revision: number | null }> {
    const { revision } = await this.events();
    return { state: this.cache!.state, revision };
  }

  /** Append events decided elsewhere (the guard's crossings) to the pair's stream, in turn with the desk's commands. */
  record(events: DomainEvent[]): Promise<void> {
    return this.serial(() => this.append(events));
  }

  /** The venue's account valued at its index price. @throws VenueCallError when the venue cannot be read. */
  async account(): Promise<{ venue: IsolatedMarginAccount; equity: IsolatedMarginEquity }> {
    const venue = await this.o.venue.isolatedAccount(this.symbol);
    return { venue, equity: valueAccount(venue) };
  }

  /** Spot wallet → the pair's isolated account. */
  transferToMargin(asset: string, amount: D, by: string): Promise<Outcome<{ tranId: string }>> {
    return this.serial(() => this.transfer('TO_MARGIN', asset, amount, by));
  }

  /**
   * The pair's isolated account → spot wallet. Refused by Bulwark (BELOW_SAFE_LEVEL) when, with
   * anything owed, the margin level after the transfer would be at or below the safe level
   * (`bars.transferOut`, 2.0 by default), valued at the venue's index price; the venue refuses
   * above its own bar too (-3020).
   */
  transferToSpot(asset: string, amount: D, by: string): Promise<Outcome<{ tranId: string }>> {
    return this.serial(() => this.transfer('TO_SPOT', asset, amount, by));
  }

  /** Borrow in the pair's isolated account (the venue caps it: -3006 above maxBorrowable). */
  borrow(asset: string, amount: D, by: string): Promise<Outcome<{ tranId: string }>> {
    return this.serial(async () => {
      const bad = this.checkAmount('BORROW', asset, amount);
      if (bad) return this.reject('BORROW', asset, amount, bad, by);
      const r = await this.o.venue.borrow(this.symbol, asset, amount);
      if (!r.ok) return this.reject('BORROW', asset, amount, r.error, by);
      await this.append([event('MarginBorrowed', { accountId: this.accountId, symbol: this.symbol, asset, amount: str(amount), tranId: r.value.tranId, by, at: this.now() })]);
      return { ok: true as const, value: r.value };
    });
  }

  /**
   * Repay `amount` of `asset` (or ALL that is owed, interest included). Binance takes interest
   * first, then principal; the split recorded is the venue's, read from the account before and after.
   */
  repay(asset: string, amount: D | 'ALL', by: string): Promise<Outcome<{ tranId: string; principal: D; interest: D }>> {
    return this.serial(() => this.repayNow(asset, amount, by, null));
  }

  /**
   * Size and open a position at market with MARGIN_BUY (the shortfall is borrowed at
   * placement): 1 % of the isolated equity at risk to the stop including the taker fee of the
   * entry and of the exit, the entry's own margin capped at `maxMarginFraction` of the equity
   * (sizeSpotMarginEntry). Refused while a position is open (POSITION_OPEN), and when sizing
   * refuses. The stop is checked against the venue's index price: a stop on the wrong side of it
   * is refused before anything is sent.
   */
  open(c: OpenMarginPosition): Promise<Outcome<{ sequence: number; sizing: SpotMarginSizing; order: MarginOrderSnapshot }>> {
    return this.serial(async () => {
      const { state, revision } = await this.state();
      const requestId = c.requestId ?? null;
      if (requestId && state.handledRequests.has(requestId)) return fail('ALREADY_HANDLED', `entry request ${requestId} was carried out or refused before`);
      const reject = (e: MarginDeskError, quantity: D | null = null) => this.reject<never>('OPEN', null, quantity, e, c.by, { requestId, sequence: state.lastSequence + 1 });
      if (state.open) return reject({ code: 'POSITION_OPEN', message: `position #${state.open.sequence} of ${this.symbol} is open; close it first` });
      const { venue, equity } = await this.account();
      const side = c.side === 'LONG' ? 'BUY' : 'SELL';
      const sized = sizeSpotMarginEntry({
        side, entryPrice: venue.indexPrice, stopPrice: c.stopPrice, equity: equity.equity, availableMargin: equity.equity.mul(this.risk.maxMarginFraction),
        riskFraction: this.risk.riskFraction, leverage: this.risk.leverage, takerFeeRate: this.o.rules.takerFeeRate, stepSize: this.o.rules.stepSize,
        minQty: this.o.rules.minQty, minNotional: this.o.rules.minNotional,
      });
      if (!sized.ok) return reject({ code: sized.error.code, message: sized.error.message });
      const tp = c.takeProfitPrice ?? null;
      if (tp && (c.side === 'LONG' ? !tp.gt(venue.indexPrice) : !tp.lt(venue.indexPrice))) {
        return reject({ code: 'TAKE_PROFIT_ON_WRONG_SIDE', message: `a ${c.side} take-profit must be ${c.side === 'LONG' ? 'above' : 'below'} the price ${str(venue.indexPrice)}, got ${str(tp)}` });
      }
      const sequence = state.lastSequence + 1;
      const clientOrderId = `${this.idPrefix}-${sequence}E`;
      const qty = dec(sized.value.quantity);
      const placed = await this.placeOnce({ symbol: this.symbol, side, type: 'MARKET', quantity: qty, sideEffectType: 'MARGIN_BUY', clientOrderId });
      if (!placed.ok) return reject(placed.error, qty);
      const order = placed.value;
      if (!order.executedQty.gt(0)) return reject({ code: order.status, message: `the entry ${clientOrderId} did not fill (${order.status})` }, qty);
      const fill = fillTotals(order, this.o.rules);
      const at = order.updateTime || this.now();
      const events: DomainEvent[] = [];
      if (order.marginBuyBorrowAmount && order.marginBuyBorrowAmount.gt(0) && order.marginBuyBorrowAsset) {
        events.push(event('MarginBorrowed', { accountId: this.accountId, symbol: this.symbol, asset: order.marginBuyBorrowAsset, amount: str(order.marginBuyBorrowAmount), tranId: clientOrderId, by: c.by, at }));
      }
      events.push(event('MarginPositionOpened', {
        accountId: this.accountId, symbol: this.symbol, sequence, side: c.side,
        // A long holds what it bought less the base commission; a short owes what it sold.
        quantity: str(c.side === 'LONG' ? fill.baseQty.minus(fill.baseCommission) : fill.baseQty),
        entryQuantity: str(fill.baseQty), entryPrice: str(fill.avgPrice), entryQuote: str(fill.quoteQty),
        baseCommission: str(fill.baseCommission), quoteCommission: str(fill.quoteCommission), commissionQuote: str(fill.commissionQuote),
        stopPrice: str(c.stopPrice), takeProfitPrice: tp ? str(tp) : null, riskAmount: sized.value.riskAmount,
        requestId, clientOrderId, orderId: order.orderId, by: c.by, at,
      }));
      await this.append(events, revision);
      // The loan's first hour of interest (charged at borrowing) belongs to this position.
      await this.syncInterestNow();
      return { ok: true as const, value: { sequence, sizing: sized.value, order } };
    });
  }

  /**
   * Close the open position at market with AUTO_REPAY (a long sells what it holds; a short buys
   * back what it owes plus the commission, rounded up to the step), then repay what the fill
   * did not, and record the loans repaid and the position's result. `status` STOPPED_OUT when the
   * Iron Exit closes, CLOSED otherwise.
   */
  close(reason: string, by: string, status: 'CLOSED' | 'STOPPED_OUT' = 'CLOSED', sequence?: number): Promise<Outcome<{ sequence: number; netPnl: D }>> {
    return this.serial(async () => {
      const open = (await this.state()).state.open;
      if (sequence !== undefined && open?.sequence !== sequence) {
        return this.reject('CLOSE', null, null, { code: 'POSITION_NOT_OPEN', message: `position #${sequence} of ${this.symbol} is not open${open ? ` (#${open.sequence} is)` : ''}` }, by, { requestId: null, sequence });
      }
      return this.closeNow(reason, by, status);
    });
  }

  /**
   * Record why the position must close, then close it, in one serial step: the Iron Exit's
   * path, the guard's and the kill switch's. Once recorded, the trigger stays until the close
   * fills: MarginWatch retries a refused close on every look. status STOPPED_OUT for the stop,
   * CLOSED otherwise.
   */
  triggerAndClose(
    kind: MarginExitKind,
    price: D,
    at: number,
    operator?: { reason: string; by: string },
  ): Promise<Outcome<{ sequence: number; netPnl: D }>> {
    return this.serial(async () => {
      const { state, revision } = await this.state();
      const p = state.open;
      if (!p) return fail('NO_POSITION', `no open position on ${this.symbol}`);
      // A retry closes for the recorded trigger and its reason.
      const exit = p.triggered ?? kind;
      const reason = p.triggered ? (p.triggerReason ?? exit) : (operator?.reason ?? exit);
      const by = exit === 'STOP_LOSS' ? 'stop-monitor' : exit === 'TAKE_PROFIT' ? 'take-profit' : exit === 'MARGIN_CALL_REDUCTION' ? 'guard' : operator?.by ?? 'operator';
      if (!p.triggered) {
        const triggerPrice = kind === 'TAKE_PROFIT' && p.takeProfitPrice ? p.takeProfitPrice : kind === 'STOP_LOSS' ? p.stopPrice : price;
        await this.append([event('MarginStopTriggered', {
          accountId: this.accountId, symbol: this.symbol, sequence: p.sequence, kind, triggerPrice: str(triggerPrice), price: str(price), ...(operator ? { reason: operator.reason, by: operator.by } : {}), at,
        })], revision);
      }
      return this.closeNow(reason, by, exit === 'STOP_LOSS' ? 'STOPPED_OUT' : 'CLOSED');
    });
  }

  /**
   * Record the venue's interest accruals not yet in the log (each an event, valued in quote at
   * the index price when read). @returns how many were recorded.
   */
  syncInterest(): Promise<number> {
    return this.serial(() => this.syncInterestNow());
  }

  /** syncInterest inside a serial step: also right after an entry borrows and before a close, so a position's result holds every accrual of its loan. */
  private async syncInterestNow(): Promise<number> {
    const { events } = await this.events();
    let since: number | undefined;
    const known = new Set<string>();
    for (const e of events) {
      if (e.type !== 'MarginInterestCharged') continue;
      known.add(e.data.txId);
      since = since === undefined ? e.data.at : Math.max(since, e.data.at);
    }
    const price = (await this.o.venue.isolatedAccount(this.symbol)).indexPrice;
    const rows = [
      ...(await this.o.venue.interestHistory(this.symbol, this.o.rules.quoteAsset, since)),
      ...(await this.o.venue.interestHistory(this.symbol, this.o.rules.baseAsset, since)),
    ].filter((r) => !known.has(r.txId) && r.principal.gt(0)).sort((a, b) => a.ts - b.ts || a.txId.localeCompare(b.txId));
    if (rows.length === 0) return 0;
    await this.append(rows.map((r) => event('MarginInterestCharged', {
      accountId: this.accountId, symbol: this.symbol, asset: r.asset, principal: str(r.principal), interest: str(r.interest), dailyRate: str(r.interestRate),
      type: r.type.startsWith('ON_BORROW') ? 'ON_BORROW' : 'PERIODIC', txId: r.txId, price: str(price),
      quoteValue: str(r.asset === this.o.rules.baseAsset ? r.interest.mul(price) : r.interest), at: r.ts,
    })));
    return rows.length;
  }

  /**
   * Compare the pair at the venue with the log. Exposure the log does not know (base bought or
   * sold on the isolated account outside Bulwark: |base net asset| ≥ the minimum quantity) is
   * adopted as a position at the index price with a stop (`marginAdoptionStop`: where the
   * margin level reaches the guard's margin-call level), so it is protected from that moment;
   * already past it, it is closed at once. An open position the venue no longer holds (closed
   * outside Bulwark, or liquidated) is recorded as ended.
   * @returns what was done: ADOPTED (with the sequence), ENDED, or NONE.
   * @throws VenueCallError when the venue cannot be read
   */
  reconcile(): Promise<{ action: 'ADOPTED' | 'ENDED' | 'NONE'; sequence: number | null }> {
    return this.serial(async () => {
      const { state, revision } = await this.state();
      const { venue: a, equity } = await this.account();
      const rules = this.o.rules;
      const net = equity.baseNetAsset;
      const exposed = net.abs().gte(rules.minQty) && net.abs().mul(a.indexPrice).gte(rules.minNotional);
      const at = this.now();
      if (!state.open && exposed) {
        const side = net.gt(0) ? 'LONG' : 'SHORT';
        const quantity = floorToStep(net.abs(), rules.stepSize);
        const stop = marginAdoptionStop({ side, quantity, price: a.indexPrice, equity: equity.equity, riskFraction: this.risk.riskFraction, balances: balancesOf(a), bar: this.bars.marginCall, tickSize: rules.tickSize });
        const sequence = state.lastSequence + 1;
        const entryQuote = quantity.mul(a.indexPrice);
        const events: DomainEvent[] = [event('MarginPositionOpened', {
          accountId: this.accountId, symbol: this.symbol, sequence, side, quantity: str(quantity), entryQuantity: str(quantity), entryPrice: str(a.indexPrice), entryQuote: str(entryQuote),
          baseCommission: '0', quoteCommission: '0', commissionQuote: '0',
          // Already past its stop: adopted with the stop at the price now, and closed on the spot below.
          stopPrice: str(stop ?? a.indexPrice), takeProfitPrice: null, riskAmount: str(equity.equity.gt(0) ? equity.equity.mul(this.risk.riskFraction).toDecimalPlaces(QUOTE_DP) : dec('0.00000001')),
          requestId: null, clientOrderId: `${this.idPrefix}-${sequence}A`, orderId: 'adopted', by: 'reconciliation', at,
        })];
        await this.append(events, revision);
        if (stop === null) {
          await this.append([event('MarginStopTriggered', { accountId: this.accountId, symbol: this.symbol, sequence, kind: 'STOP_LOSS', triggerPrice: str(a.indexPrice), price: str(a.indexPrice), reason: 'adopted past its stop', by: 'reconciliation', at })]);
          await this.closeNow('adopted past its stop', 'reconciliation', 'STOPPED_OUT');
        }
        return { action: 'ADOPTED' as const, sequence };
      }
      if (state.open && !exposed) {
        const p = state.open;
        const px = a.indexPrice;
        const pnl = this.resultOf(p, px, ZERO, ZERO);
        const money = (x: D) => str(x.toDecimalPlaces(QUOTE_DP));
        await this.append([event('MarginPositionClosed', {
          accountId: this.accountId, symbol: this.symbol, sequence: p.sequence, status: 'CLOSED', reason: 'not held at the venue: closed outside Bulwark or liquidated (valued at the index price when found)',
          quantity: str(p.entryQuantity), exitPrice: str(px), exitQuote: str(p.entryQuantity.mul(px)), realisedPnl: money(pnl.realisedPnl), commissionQuote: money(pnl.commissionQuote),
          interestQuote: money(pnl.interestQuote), shortfall: '0', netPnl: money(pnl.netPnl), equityAfter: money(equity.equity), clientOrderId: null, by: 'reconciliation', at,
        })], revision);
        return { action: 'ENDED' as const, sequence: p.sequence };
      }
      return { action: 'NONE' as const, sequence: null };
    });
  }

  // ------------------------------------------------------------------ internals

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Append at the revision the desk last saw (`expected` when a decision was taken on an earlier
   * read: the same check). A stream that moved on throws WrongExpectedRevisionError and the copy
   * is dropped: the next command decides on a fresh read.
   */
  private async append(events: DomainEvent[], expected?: number | null): Promise<void> {
    const at = this.now();
    const seen = (await this.events()).revision;
    const at0 = expected === undefined ? seen : expected;
    try {
      const r = await this.o.appender.append(this.streamId, events, at0 === null ? 'no_stream' : at0, {
        tsEvent: at, correlationId: `margin-${this.accountId}-${this.symbol}`, causationId: `margin-${this.accountId}-${this.symbol}`,
      });
      const c = this.cache!;
      this.cache = { events: [...c.events, ...events], state: events.reduce(marginPairEvolve, c.state), revision: r ? r.result.nextExpectedRevision : c.revision };
    } catch (e) {
      this.cache = null;
      throw e;
    }
  }

  /** The open position's result at `exitPrice` with the exit's commissions (none when it ended outside Bulwark): marginClosePnl on its entry, commissions and interest. */
  private resultOf(p: MarginPositionState, exitPrice: D, exitBaseCommission: D, exitQuoteCommission: D) {
    const { baseAsset, quoteAsset } = this.o.rules;
    return marginClosePnl({
      side: p.side, entryQuantity: p.entryQuantity, entryQuote: p.entryQuote, exitPrice,
      baseCommission: p.baseCommission.plus(exitBaseCommission), quoteCommission: p.quoteCommission.plus(exitQuoteCommission),
      baseInterest: p.interest[baseAsset] ?? ZERO, quoteInterest: p.interest[quoteAsset] ?? ZERO, shortfall: ZERO,
    });
  }

  private checkAmount(command: string, asset: string, amount: D): MarginDeskError | null {
    if (asset !== this.o.rules.baseAsset && asset !== this.o.rules.quoteAsset) return { code: 'UNKNOWN_ASSET', message: `${this.symbol} holds ${this.o.rules.baseAsset} and ${this.o.rules.quoteAsset}, not ${asset}` };
    if (!amount.isFinite() || !amount.gt(0)) return { code: 'INVALID_AMOUNT', message: `${command.toLowerCase()} amount must be > 0, got ${amount.toString()}` };
    return null;
  }

  private async reject<T>(
    command: 'TRANSFER_TO_MARGIN' | 'TRANSFER_TO_SPOT' | 'BORROW' | 'REPAY' | 'OPEN' | 'CLOSE' | 'CANCEL', asset: string | null, amount: D | null, e: MarginDeskError, by: string,
    ref: { requestId: string | null; sequence: number | null } = { requestId: null, sequence: null },
  ): Promise<Outcome<T>> {
    const safeAmount = amount && amount.isFinite() ? str(amount) : null;
    await this.append([event('MarginCommandRejected', { accountId: this.accountId, symbol: this.symbol, command, ...ref, asset, amount: safeAmount, code: e.code, message: e.message, by, at: this.now() })]);
    return { ok: false, error: e };
  }

  /**
   * Place an order unless the venue already has one with this client order id (a command
   * repeated after a crash between the venue's answer and the append): that order is adopted.
   */
  private async placeOnce(o: Parameters<MarginVenuePort['placeOrder']>[0]): ReturnType<MarginVenuePort['placeOrder']> {
    const known = await this.o.venue.order(this.symbol, { clientOrderId: o.clientOrderId }).catch(() => null);
    if (known && known.executedQty.gt(0)) return { ok: true, value: known };
    return this.o.venue.placeOrder(o);
  }

  private async transfer(direction: 'TO_MARGIN' | 'TO_SPOT', asset: string, amount: D, by: string): Promise<Outcome<{ tranId: string }>> {
    const command = direction === 'TO_MARGIN' ? 'TRANSFER_TO_MARGIN' : 'TRANSFER_TO_SPOT';
    const bad = this.checkAmount(command, asset, amount);
    if (bad) return this.reject(command, asset, amount, bad, by);
    if (direction === 'TO_SPOT') {
      const { venue, equity } = await this.account();
      if (equity.totalLiabilityValue.gt(0)) {
        const out = asset === this.o.rules.baseAsset ? amount.mul(venue.indexPrice) : amount;
        const after = equity.totalAssetValue.minus(out).div(equity.totalLiabilityValue);
        if (after.lte(this.bars.transferOut)) {
          return this.reject(command, asset, amount, {
            code: 'BELOW_SAFE_LEVEL',
            message: `moving ${str(amount)} ${asset} out would leave the margin level at ${after.toDecimalPlaces(4).toFixed()} ≤ the safe level ${str(this.bars.transferOut)} while ${equity.totalLiabilityValue.toDecimalPlaces(8).toFixed()} ${this.o.rules.quoteAsset} is owed`,
          }, by);
        }
      }
    }
    const r = direction === 'TO_MARGIN' ? await this.o.venue.transferToMargin(this.symbol, asset, amount) : await this.o.venue.transferToSpot(this.symbol, asset, amount);
    if (!r.ok) return this.reject(command, asset, amount, r.error, by);
    await this.append([event('MarginTransferred', { accountId: this.accountId, symbol: this.symbol, asset, amount: str(amount), direction, tranId: r.value.tranId, by, at: this.now() })]);
    return { ok: true, value: r.value };
  }

  private async repayNow(asset: string, amount: D | 'ALL', by: string, tranIdOverride: string | null): Promise<Outcome<{ tranId: string; principal: D; interest: D }>> {
    const before = await this.o.venue.isolatedAccount(this.symbol);
    const b = asset === this.o.rules.baseAsset ? before.base : asset === this.o.rules.quoteAsset ? before.quote : null;
    const owed = b ? b.borrowed.plus(b.interest) : ZERO;
    const want = amount === 'ALL' ? owed : amount;
    const bad = this.checkAmount('REPAY', asset, want);
    if (bad) return this.reject('REPAY', asset, amount === 'ALL' ? null : amount, amount === 'ALL' && owed.isZero() ? { code: 'NOTHING_OWED', message: `nothing of ${asset} is owed on ${this.symbol}` } : bad, by);
    const r = await this.o.venue.repay(this.symbol, asset, want);
    if (!r.ok) return this.reject('REPAY', asset, want, r.error, by);
    const after = await this.o.venue.isolatedAccount(this.symbol);
    const a = asset === this.o.rules.baseAsset ? after.base : after.quote;
    const interest = b!.interest.minus(a.interest);
    const principal = b!.borrowed.minus(a.borrowed);
    const tranId = tranIdOverride ?? r.value.tranId;
    await this.append([event('MarginRepaid', { accountId: this.accountId, symbol: this.symbol, asset, principal: str(principal), interest: str(interest), tranId, by, at: this.now() })]);
    return { ok: true, value: { tranId, principal, interest } };
  }

  private async closeNow(reason: string, by: string, status: 'CLOSED' | 'STOPPED_OUT'): Promise<Outcome<{ sequence: number; netPnl: D }>> {
    // Every accrual so far is the position's (its result counts it); the close repays it.
    await this.syncInterestNow();
    const { state } = await this.state();
    const p = state.open;
    if (!p) return this.reject('CLOSE', null, null, { code: 'NO_POSITION', message: `no open position on ${this.symbol}` }, by);
    const ref = { requestId: null, sequence: p.sequence };
    const rules = this.o.rules;
    const before = await this.o.venue.isolatedAccount(this.symbol);
    let side: 'BUY' | 'SELL';
    let quantity: D;
    if (p.side === 'LONG') {
      side = 'SELL';
      // Everything of the base the account holds free, to the step (dust below a step stays).
      quantity = floorToStep(before.base.free, rules.stepSize);
    } else {
      side = 'BUY';
      const owedBase = before.base.borrowed.plus(before.base.interest).minus(before.base.free);
      const q = owedBase.gt(0) ? shortCoverQuantity(owedBase, rules.takerFeeRate, rules.stepSize) : { ok: true as const, value: ZERO };
      if (!q.ok) return this.reject('CLOSE', rules.baseAsset, owedBase, q.error, by, ref);
      quantity = q.value;
    }
    if (!quantity.gt(0)) return this.reject('CLOSE', rules.baseAsset, null, { code: 'NOTHING_TO_CLOSE', message: `the venue holds no ${rules.baseAsset} to close position #${p.sequence} (a liquidation?)` }, by, ref);
    const clientOrderId = `${this.idPrefix}-${p.sequence}X${p.closeAttempts + 1}`;
    const placed = await this.placeOnce({ symbol: this.symbol, side, type: 'MARKET', quantity, sideEffectType: 'AUTO_REPAY', clientOrderId });
    if (!placed.ok) return this.reject('CLOSE', rules.baseAsset, quantity, placed.error, by, ref);
    const order = placed.value;
    if (!order.executedQty.gt(0)) return this.reject('CLOSE', rules.baseAsset, quantity, { code: order.status, message: `the close ${clientOrderId} did not fill (${order.status})` }, by, ref);
    const mid = await this.o.venue.isolatedAccount(this.symbol);
    const events: DomainEvent[] = [];
    const at = order.updateTime || this.now();
    for (const [x, y, asset] of [[before.quote, mid.quote, rules.quoteAsset], [before.base, mid.base, rules.baseAsset]] as const) {
      const principal = x.borrowed.minus(y.borrowed);
      const interest = x.interest.minus(y.interest);
      if (principal.gt(0) || interest.gt(0)) events.push(event('MarginRepaid', { accountId: this.accountId, symbol: this.symbol, asset, principal: str(principal), interest: str(interest), tranId: clientOrderId, by, at }));
    }
    const fill = fillTotals(order, rules);
    const pnl = this.resultOf(p, fill.avgPrice, fill.baseCommission, fill.quoteCommission);
    if (events.length) await this.append(events);
    // What the fill did not repay (a long whose proceeds fell short is repaid from the free quote).
    for (const [bal, asset] of [[mid.quote, rules.quoteAsset], [mid.base, rules.baseAsset]] as const) {
      if (bal.borrowed.plus(bal.interest).gt(0) && bal.free.gt(0)) await this.repayNow(asset, bal.free.lt(bal.borrowed.plus(bal.interest)) ? bal.free : 'ALL', by, null);
    }
    const equityAfter = valueAccount(await this.o.venue.isolatedAccount(this.symbol)).equity;
    const money = (x: D) => str(x.toDecimalPlaces(QUOTE_DP));
    await this.append([event('MarginPositionClosed', {
      accountId: this.accountId, symbol: this.symbol, sequence: p.sequence, status, reason,
      quantity: str(fill.baseQty), exitPrice: str(fill.avgPrice.toDecimalPlaces(QUOTE_DP)), exitQuote: str(fill.quoteQty), realisedPnl: money(pnl.realisedPnl),
      commissionQuote: money(pnl.commissionQuote), interestQuote: money(pnl.interestQuote), shortfall: '0', netPnl: money(pnl.netPnl),
      equityAfter: money(equityAfter), clientOrderId, by, at,
    })]);
    return { ok: true, value: { sequence: p.sequence, netPnl: pnl.netPnl } };
  }
}

/** A venue account's balances in the domain's shape (the inputs of the margin level, the guard and the adoption stop). */
export function balancesOf(a: IsolatedMarginAccount): IsolatedMarginBalances {
  return {
    baseFree: a.base.free, baseLocked: a.base.locked, baseBorrowed: a.base.borrowed, baseInterest: a.base.interest,
    quoteFree: a.quote.free, quoteLocked: a.quote.locked, quoteBorrowed: a.quote.borrowed, quoteInterest: a.quote.interest,
  };
}

/** Value a venue account at its index price (margin level, equity) with the domain's formula. */
export function valueAccount(a: IsolatedMarginAccount): IsolatedMarginEquity {
  return isolatedMarginEquity({ ...balancesOf(a), price: a.indexPrice });
}

/** Quote amounts in events are kept to 8 decimals, Binance's asset precision; the rounding is half-even. */
const QUOTE_DP = 8;

/**
 * An order's fills summed: base and quote traded, average price, commission per asset and
 * valued in quote (a base commission at its fill's price).
 */
function fillTotals(o: MarginOrderSnapshot, rules: MarginPairRules): { baseQty: D; quoteQty: D; avgPrice: D; baseCommission: D; quoteCommission: D; commissionQuote: D } {
  let baseQty = ZERO;
  let quoteQty = ZERO;
  let baseCommission = ZERO;
  let quoteCommission = ZERO;
  let commissionQuote = ZERO;
  if (o.fills.length > 0) {
    for (const f of o.fills) {
      baseQty = baseQty.plus(f.qty);
      quoteQty = quoteQty.plus(f.qty.mul(f.price));
      if (f.commissionAsset === rules.baseAsset) {
        baseCommission = baseCommission.plus(f.commission);
        commissionQuote = commissionQuote.plus(f.commission.mul(f.price));
      } else if (f.commissionAsset === rules.quoteAsset) {
        quoteCommission = quoteCommission.plus(f.commission);
        commissionQuote = commissionQuote.plus(f.commission);
      }
    }
  } else {
    // No fills listed (an answer resolved without trades): the order's totals, commission at the taker rate from the asset received.
    baseQty = o.executedQty;
    quoteQty = o.cummulativeQuoteQty;
    if (o.side === 'BUY') baseCommission = baseQty.mul(rules.takerFeeRate);
    else quoteCommission = quoteQty.mul(rules.takerFeeRate);
    commissionQuote = quoteQty.mul(rules.takerFeeRate);
  }
  return { baseQty, quoteQty, avgPrice: quoteQty.div(baseQty), baseCommission, quoteCommission, commissionQuote };
}
