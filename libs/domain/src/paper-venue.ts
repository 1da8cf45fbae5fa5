import type { OrderPurpose, OrderSide, OrderType, PositionSide } from '@bulwark/contracts';
import { fundingPayment } from './funding';
import { shortHash } from './ids';
import { initialMargin, liquidationPrice } from './liquidation';
import { crossing } from './market-path';
import { dec, str, ZERO, type D } from './money';
import { normalizeQuantity } from './normalize';
import { err, ok, type Rejection, type Result } from './result';
import type { Rules } from './rules';

/**
 * Binance USDⓈ-M error codes the paper venue answers with (same numbers and messages as
 * the real API, so the execution service maps them the same way for every venue).
 */
export const VenueErrors = {
  MARGIN_INSUFFICIENT: { code: '-2019', message: 'Margin is insufficient.' },
  REDUCE_ONLY_REJECTED: { code: '-2022', message: 'ReduceOnly Order is rejected.' },
  MAX_POSITION_AT_LEVERAGE: { code: '-2027', message: 'Exceeded the maximum allowable position at current leverage.' },
  QTY_TOO_SMALL: { code: '-4003', message: 'Quantity less than or equal to zero.' },
  QTY_TOO_LARGE: { code: '-4005', message: 'Quantity greater than max quantity.' },
  PRECISION: { code: '-1111', message: 'Precision is over the maximum defined for this asset.' },
  LEVERAGE_INVALID: { code: '-4028', message: 'Leverage is not valid' },
  MIN_NOTIONAL: { code: '-4164', message: "Order's notional must be no smaller than the minimum (unless you choose reduce only)." },
  NO_NEED_MARGIN_TYPE: { code: '-4046', message: 'No need to change margin type.' },
  MARGIN_TYPE_WITH_POSITION: { code: '-4048', message: 'Margin type cannot be changed if there exists position.' },
  NO_NEED_POSITION_MODE: { code: '-4059', message: 'No need to change position side.' },
  POSITION_SIDE_MISMATCH: { code: '-4061', message: "Order's position side does not match user's setting." },
  UNKNOWN_ORDER: { code: '-2011', message: 'Unknown order sent.' },
  DUPLICATE_ORDER: { code: '-4015', message: 'Client order id is not valid (duplicate).' },
  UNKNOWN_SYMBOL: { code: '-1121', message: 'Invalid symbol.' },
  UNKNOWN_ACCOUNT: { code: '-2015', message: 'Invalid API-key, IP, or permissions for action.' },
} as const;

export type VenueRejection = Rejection<string>;

function venueErr(e: { code: string; message: string }, detail?: string): Result<never, VenueRejection> {
  return err({ code: e.code, message: detail ? `${e.message} ${detail}` : e.message });
}

/** A position at the venue (isolated margin, one-way mode). */
export interface PaperPosition {
  side: PositionSide;
  quantity: D;
  entryPrice: D;
  /** Isolated wallet balance of the position (its margin), USDT. */
  isolatedMargin: D;
  leverage: number;
}

export interface PaperOrderRequest {
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  quantity: D;
  price: D | null;
  reduceOnly: boolean;
  purpose: OrderPurpose;
  /** For a triggered internal stop: fill at this price on the current step. */
  triggerPrice: D | null;
}

interface RestingOrder extends PaperOrderRequest {
  venueOrderId: string;
  accountId: string;
}

/** A fill produced by the venue (one per order here: the paper venue fills whole orders). */
export interface PaperFill {
  accountId: string;
  clientOrderId: string;
  venueOrderId: string;
  tradeId: string;
  symbol: string;
  side: OrderSide;
  purpose: OrderPurpose;
  quantity: D;
  price: D;
  fee: D;
  liquidity: 'TAKER' | 'MAKER';
  leverage: number;
  /** Realised PnL of the reducing part of the fill, gross of fees. */
  realisedPnl: D;
  /** Liquidation clearance fee (the rest of the isolated margin), liquidation fills only. */
  liquidationFee: D;
  /** The order that the venue created itself (a liquidation); the caller records it. */
  venueGenerated: boolean;
  ts: number;
}

/** What happened at the venue on one step of the price path, in order. */
export type PaperVenueEvent =
  | { kind: 'fill'; fill: PaperFill }
  | { kind: 'rejected'; accountId: string; clientOrderId: string; code: string; message: string; ts: number }
  | { kind: 'funding'; accountId: string; symbol: string; amount: D; rate: D; markPrice: D; ts: number };

interface PaperAccount {
  accountId: string;
  walletBalance: D;
  positionMode: 'ONE_WAY' | null;
  marginMode: Map<string, 'ISOLATED'>;
  leverage: Map<string, number>;
  positions: Map<string, PaperPosition>;
}

export interface PaperAccountView {
  accountId: string;
  walletBalance: D;
  /** walletBalance − isolated margins (what new isolated positions can use). */
  availableBalance: D;
  positions: Array<PaperPosition & { symbol: string; liquidationPrice: D | null }>;
}

/**
 * The paper venue: a deterministic simulation of Binance USDⓈ-M's matching and isolated
 * margin engine, driven by the explicit intra-bar price path.
 *
 * Matching on one step (`from` → `to`): market orders queued before the step fill at its
 * first tradable price (the open on a bar's first step); triggered internal stops fill at
 * their trigger price; an isolated position whose path crosses its liquidation price is
 * liquidated at that price (Binance closes it and the remaining isolated margin goes to the
 * insurance fund as the liquidation clearance fee, so the whole margin is lost); resting
 * limit orders fill at their price (maker). Events are ordered by where on the step they
 * happen; at the same point: queued market orders, then liquidations, then triggered
 * stops, then limits. Funding settles before any fill of the step that carries it.
 *
 * Margin: opening uses initial margin = notional / leverage moved into the position's
 * isolated wallet; the taker fee (rules.takerFeeRate × notional) is taken from the wallet
 * balance; reducing releases margin pro rata and books realised PnL to the wallet; funding
 * changes the wallet and the isolated margin.
 *
 * Not thread-safe and mutable by design: it IS the simulated exchange. No I/O, no clock.
 */
export class PaperVenue {
  private readonly accounts = new Map<string, PaperAccount>();
  private readonly resting: RestingOrder[] = [];
  private readonly clientIds = new Set<string>();
  private readonly lastPrice = new Map<string, D>();
  private orderSeq = 0;
  private tradeSeq = 0;

  constructor(private readonly rules: ReadonlyMap<string, Rules>) {}

  private rulesOf(symbol: string): Rules | undefined {
    return this.rules.get(symbol);
  }

  /** Credit an account's USDT wallet (creates the account). */
  fund(accountId: string, amount: D): void {
    const a = this.accounts.get(accountId);
    if (a) a.walletBalance = a.walletBalance.plus(amount);
    else this.accounts.set(accountId, { accountId, walletBalance: amount, positionMode: null, marginMode: new Map(), leverage: new Map(), positions: new Map() });
  }

  hasAccount(accountId: string): boolean {
    return this.accounts.has(accountId);
  }

  /** True when no account holds a position or a resting order: a price step can change nothing. */
  isIdle(): boolean {
    if (this.resting.length > 0) return false;
    for (const a of this.accounts.values()) if (a.positions.size > 0) return false;
    return true;
  }

  /** `POST /fapi/v1/positionSide/dual` with dualSidePosition=false. */
  setOneWayMode(accountId: string): Result<'CHANGED' | 'UNCHANGED', VenueRejection> {
    const a = this.accounts.get(accountId);
    if (!a) return venueErr(VenueErrors.UNKNOWN_ACCOUNT);
    if (a.positionMode === 'ONE_WAY') return ok('UNCHANGED');
    a.positionMode = 'ONE_WAY';
    return ok('CHANGED');
  }

  /** `POST /fapi/v1/marginType` ISOLATED. */
  setIsolated(accountId: string, symbol: string): Result<'CHANGED' | 'UNCHANGED', VenueRejection> {
    const a = this.accounts.get(accountId);
    if (!a) return venueErr(VenueErrors.UNKNOWN_ACCOUNT);
    if (!this.rulesOf(symbol)) return venueErr(VenueErrors.UNKNOWN_SYMBOL, symbol);
    if (a.marginMode.get(symbol) === 'ISOLATED') return ok('UNCHANGED');
    if (a.positions.has(symbol)) return venueErr(VenueErrors.MARGIN_TYPE_WITH_POSITION);
    a.marginMode.set(symbol, 'ISOLATED');
    return ok('CHANGED');
  }

  /**
   * `POST /fapi/v1/leverage`. Refused when above the first bracket's max or when the open
   * position's notional is beyond what the bracket allows at that leverage.
   * @returns the leverage and the max notional allowed at it (the cap of the highest bracket whose max leverage ≥ it).
   */
  setLeverage(accountId: string, symbol: string, leverage: number): Result<{ leverage: number; maxNotional: D }, VenueRejection> {
    const a = this.accounts.get(accountId);
    const r = this.rulesOf(symbol);
    if (!a) return venueErr(VenueErrors.UNKNOWN_ACCOUNT);
    if (!r) return venueErr(VenueErrors.UNKNOWN_SYMBOL, symbol);
    if (!Number.isInteger(leverage) || leverage < 1 || leverage > r.brackets[0].initialLeverage) return venueErr(VenueErrors.LEVERAGE_INVALID, `(${leverage})`);
    const maxNotional = maxNotionalAt(r, leverage);
    const p = a.positions.get(symbol);
    if (p && p.quantity.mul(p.entryPrice).gt(maxNotional)) return venueErr(VenueErrors.MAX_POSITION_AT_LEVERAGE);
    a.leverage.set(symbol, leverage);
    return ok({ leverage, maxNotional });
  }

  /**
   * `POST /fapi/v1/order`: validate and accept an order; it fills on a following step.
   * Checks Binance's filters, reduce-only, one-way mode and isolated margin (initial
   * margin + taker fee must fit the available balance at the last price).
   */
  placeOrder(accountId: string, o: PaperOrderRequest): Result<{ venueOrderId: string }, VenueRejection> {
    const a = this.accounts.get(accountId);
    const r = this.rulesOf(o.symbol);
    if (!a) return venueErr(VenueErrors.UNKNOWN_ACCOUNT);
    if (!r) return venueErr(VenueErrors.UNKNOWN_SYMBOL, o.symbol);
    if (this.clientIds.has(`${accountId}:${o.clientOrderId}`)) return venueErr(VenueErrors.DUPLICATE_ORDER, o.clientOrderId);
    if (a.positionMode !== 'ONE_WAY') return venueErr(VenueErrors.POSITION_SIDE_MISMATCH, '(set one-way mode first)');
    if (o.quantity.lte(0)) return venueErr(VenueErrors.QTY_TOO_SMALL);
    const step = o.type === 'MARKET' ? r.marketStepSize : r.stepSize;
    if (!o.quantity.mod(step).isZero()) return venueErr(VenueErrors.PRECISION, `(quantity ${str(o.quantity)}, step ${str(step)})`);
    if (o.type === 'LIMIT' && (!o.price || !o.price.mod(r.tickSize).isZero())) return venueErr(VenueErrors.PRECISION, '(price)');
    const ref = o.price ?? o.triggerPrice ?? this.lastPrice.get(o.symbol);
    if (!ref) return venueErr(VenueErrors.UNKNOWN_SYMBOL, '(no market price yet)');
    const pos = a.positions.get(o.symbol);
    const reduces = pos !== undefined && (pos.side === 'LONG') !== (o.side === 'BUY');
    if (o.reduceOnly) {
      if (!reduces || !pos || o.quantity.gt(pos.quantity)) return venueErr(VenueErrors.REDUCE_ONLY_REJECTED);
    } else {
      const q = normalizeQuantity(r, o.quantity, ref, o.type);
      if (!q.ok) {
        const e = q.error.code === 'BELOW_MIN_NOTIONAL' ? VenueErrors.MIN_NOTIONAL : q.error.code === 'ABOVE_MAX_QTY' ? VenueErrors.QTY_TOO_LARGE : VenueErrors.QTY_TOO_SMALL;
        return venueErr(e, q.error.message);
      }
      if (!reduces) {
        const lev = a.leverage.get(o.symbol) ?? 20;
        const newNotional = o.quantity.plus(pos?.quantity ?? ZERO).mul(ref);
        if (newNotional.gt(maxNotionalAt(r, lev))) return venueErr(VenueErrors.MAX_POSITION_AT_LEVERAGE);
        const need = initialMargin(o.quantity.mul(ref), lev).plus(o.quantity.mul(ref).mul(r.takerFeeRate));
        if (need.gt(this.available(a))) return venueErr(VenueErrors.MARGIN_INSUFFICIENT, `(needs ${str(need.toDecimalPlaces(8))}, available ${str(this.available(a).toDecimalPlaces(8))})`);
      }
    }
    this.clientIds.add(`${accountId}:${o.clientOrderId}`);
    const venueOrderId = String(++this.orderSeq);
    this.resting.push({ ...o, venueOrderId, accountId });
    return ok({ venueOrderId });
  }

  /** `DELETE /fapi/v1/order` by client order id. */
  cancelOrder(accountId: string, clientOrderId: string): Result<{ venueOrderId: string }, VenueRejection> {
    const i = this.resting.findIndex((o) => o.accountId === accountId && o.clientOrderId === clientOrderId);
    if (i < 0) return venueErr(VenueErrors.UNKNOWN_ORDER);
    const [o] = this.resting.splice(i, 1);
    return ok({ venueOrderId: o.venueOrderId });
  }

  openOrders(accountId: string): ReadonlyArray<Readonly<PaperOrderRequest & { venueOrderId: string }>> {
    return this.resting.filter((o) => o.accountId === accountId);
  }

  private available(a: PaperAccount): D {
    let used = ZERO;
    for (const p of a.positions.values()) used = used.plus(p.isolatedMargin);
    return a.walletBalance.minus(used);
  }

  account(accountId: string): PaperAccountView | null {
    const a = this.accounts.get(accountId);
    if (!a) return null;
    return {
      accountId,
      walletBalance: a.walletBalance,
      availableBalance: this.available(a),
      positions: [...a.positions.entries()].map(([symbol, p]) => ({ ...p, symbol, liquidationPrice: this.liquidationPriceOf(symbol, p) })),
    };
  }

  private liquidationPriceOf(symbol: string, p: PaperPosition): D | null {
    return liquidationPrice({ side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, walletBalance: p.isolatedMargin, brackets: this.rulesOf(symbol)!.brackets }).price;
  }

  /**
   * Advance the market of `symbol` by one path step and match everything it reaches.
   * @param step price moves `from` → `to` (a jump when `gap`), at market time `ts`
   * @param funding a funding settlement at this step (rate per interval), settled first
   */
  step(symbol: string, step: { from: string; to: string; gap: boolean; ts: number }, funding: { rate: string } | null = null): PaperVenueEvent[] {
    const r = this.rulesOf(symbol);
    if (!r) return [];
    const out: PaperVenueEvent[] = [];
    const from = dec(step.from);
    const start = step.gap ? dec(step.to) : from;

    if (funding) {
      const rate = dec(funding.rate);
      for (const a of this.accounts.values()) {
        const p = a.positions.get(symbol);
        if (!p) continue;
        // Funding settles at the mark price of the settlement instant: the step's start.
        const amount = fundingPayment(p.side, p.quantity, start, rate);
        a.walletBalance = a.walletBalance.plus(amount);
        p.isolatedMargin = p.isolatedMargin.plus(amount);
        out.push({ kind: 'funding', accountId: a.accountId, symbol, amount, rate, markPrice: start, ts: step.ts });
      }
    }

    type Pending = { rank: number; fraction: D; seq: number; run: () => void };
    const pending: Pending[] = [];
    let seq = 0;
    for (const o of this.resting.filter((x) => x.symbol === symbol)) {
      if (o.type === 'MARKET' && o.triggerPrice === null) {
        pending.push({ rank: 0, fraction: ZERO, seq: seq++, run: () => this.fillResting(o, start, 'TAKER', step.ts, out) });
      } else if (o.type === 'MARKET' && o.triggerPrice !== null) {
        // A triggered internal stop, target or forced close: the stop-monitor saw the path
        // cross at triggerPrice on this step; it fills where the step's own motion reaches it.
        const dir = dec(step.to).lt(dec(step.from)) ? 'down' : 'up';
        const c = crossing(step, o.triggerPrice, dir);
        const fraction = c ? c.fraction : ZERO;
        const price = c ? c.price : start;
        pending.push({ rank: 2, fraction, seq: seq++, run: () => this.fillResting(o, price, 'TAKER', step.ts, out) });
      } else if (o.type === 'LIMIT' && o.price) {
        const c = crossing(step, o.price, o.side === 'BUY' ? 'down' : 'up');
        if (c) pending.push({ rank: 3, fraction: c.fraction, seq: seq++, run: () => this.fillResting(o, c.price, step.gap ? 'TAKER' : 'MAKER', step.ts, out) });
      }
    }
    for (const a of this.accounts.values()) {
      const p = a.positions.get(symbol);
      if (!p) continue;
      const lp = this.liquidationPriceOf(symbol, p);
      if (!lp) continue;
      const c = crossing(step, lp, p.side === 'LONG' ? 'down' : 'up');
      if (c) pending.push({ rank: 1, fraction: c.fraction, seq: seq++, run: () => this.liquidate(a, symbol, c.price, step.ts, out) });
    }
    pending.sort((x, y) => x.fraction.comparedTo(y.fraction) || x.rank - y.rank || x.seq - y.seq);
    for (const p of pending) p.run();
    this.lastPrice.set(symbol, dec(step.to));
    return out;
  }

  private fillResting(o: RestingOrder, price: D, liquidity: 'TAKER' | 'MAKER', ts: number, out: PaperVenueEvent[]): void {
    const i = this.resting.indexOf(o);
    if (i < 0) return;
    this.resting.splice(i, 1);
    const a = this.accounts.get(o.accountId)!;
    const r = this.rulesOf(o.symbol)!;
    const pos = a.positions.get(o.symbol);
    const reduces = pos !== undefined && (pos.side === 'LONG') !== (o.side === 'BUY');
    if (o.reduceOnly && (!reduces || !pos || o.quantity.gt(pos.quantity))) {
      // The position went away (e.g. liquidated earlier on this step): Binance rejects it.
      out.push({ kind: 'rejected', accountId: a.accountId, clientOrderId: o.clientOrderId, ...VenueErrors.REDUCE_ONLY_REJECTED, ts });
      return;
    }
    const feeRate = liquidity === 'TAKER' ? r.takerFeeRate : r.makerFeeRate;
    const fee = o.quantity.mul(price).mul(feeRate);
    const lev = a.leverage.get(o.symbol) ?? 20;
    const realised = this.applyFill(a, o.symbol, o.side, o.quantity, price, lev);
    a.walletBalance = a.walletBalance.minus(fee);
    out.push({
      kind: 'fill',
      fill: {
        accountId: a.accountId, clientOrderId: o.clientOrderId, venueOrderId: o.venueOrderId, tradeId: String(++this.tradeSeq),
        symbol: o.symbol, side: o.side, purpose: o.purpose, quantity: o.quantity, price, fee, liquidity, leverage: lev,
        realisedPnl: realised, liquidationFee: ZERO, venueGenerated: false, ts,
      },
    });
  }

  /** Apply a fill to the position; returns the realised PnL (gross) of the reducing part. */
  private applyFill(a: PaperAccount, symbol: string, side: OrderSide, qty: D, price: D, leverage: number): D {
    const pos = a.positions.get(symbol);
    const sideOf: PositionSide = side === 'BUY' ? 'LONG' : 'SHORT';
    if (!pos) {
      a.positions.set(symbol, { side: sideOf, quantity: qty, entryPrice: price, isolatedMargin: initialMargin(qty.mul(price), leverage), leverage });
      return ZERO;
    }
    if (pos.side === sideOf) {
      const newQty = pos.quantity.plus(qty);
      pos.entryPrice = pos.quantity.mul(pos.entryPrice).plus(qty.mul(price)).div(newQty);
      pos.quantity = newQty;
      pos.isolatedMargin = pos.isolatedMargin.plus(initialMargin(qty.mul(price), leverage));
      return ZERO;
    }
    const closed = qty.lte(pos.quantity) ? qty : pos.quantity;
    const pnl = (pos.side === 'LONG' ? price.minus(pos.entryPrice) : pos.entryPrice.minus(price)).mul(closed);
    a.walletBalance = a.walletBalance.plus(pnl);
    const released = pos.isolatedMargin.mul(closed).div(pos.quantity);
    pos.isolatedMargin = pos.isolatedMargin.minus(released);
    pos.quantity = pos.quantity.minus(closed);
    if (pos.quantity.isZero()) a.positions.delete(symbol);
    const rest = qty.minus(closed);
    if (rest.gt(0)) a.positions.set(symbol, { side: sideOf, quantity: rest, entryPrice: price, isolatedMargin: initialMargin(rest.mul(price), leverage), leverage });
    return pnl;
  }

  private liquidate(a: PaperAccount, symbol: string, price: D, ts: number, out: PaperVenueEvent[]): void {
    const p = a.positions.get(symbol);
    if (!p) return;
    const margin = p.isolatedMargin;
    const side: OrderSide = p.side === 'LONG' ? 'SELL' : 'BUY';
    const qty = p.quantity;
    // Isolated margin caps the loss: past the bankruptcy price (where the loss equals the
    // margin) the insurance fund takes the rest, so the close is booked at the bankruptcy price.
    const bankruptcy = p.side === 'LONG' ? p.entryPrice.minus(margin.div(qty)) : p.entryPrice.plus(margin.div(qty));
    const beyond = p.side === 'LONG' ? price.lt(bankruptcy) : price.gt(bankruptcy);
    if (beyond) price = bankruptcy;
    const pnl = this.applyFill(a, symbol, side, qty, price, p.leverage);
    // The whole isolated margin is lost: what the loss did not take is the clearance fee.
    const clearance = margin.plus(pnl).gt(0) ? margin.plus(pnl) : ZERO;
    a.walletBalance = a.walletBalance.minus(clearance);
    const n = ++this.orderSeq;
    out.push({
      kind: 'fill',
      fill: {
        accountId: a.accountId, clientOrderId: `autoclose-${shortHash(a.accountId)}-${n}`, venueOrderId: String(n), tradeId: String(++this.tradeSeq),
        symbol, side, purpose: 'LIQUIDATION', quantity: qty, price, fee: ZERO, liquidity: 'TAKER', leverage: p.leverage,
        realisedPnl: pnl, liquidationFee: clearance, venueGenerated: true, ts,
      },
    });
  }
}

/** The largest notional a position may have at `leverage`: the cap of the last bracket whose max leverage allows it. */
export function maxNotionalAt(r: Rules, leverage: number): D {
  let cap = ZERO;
  for (const b of r.brackets) if (b.initialLeverage >= leverage) cap = b.notionalCap;
  return cap;
}

