import { D, ZERO, ceilToStep, floorToStep, min, max, str } from './money';
import { err, ok, type Rejection, type Result } from './result';
import { isolatedMarginEquity, validateMarginLevelBars, type IsolatedMarginBalances, type IsolatedMarginEquity, type MarginLevelBars } from './spot-margin';
import type { PaperStep } from './paper-venue';

/*
 * The paper engine of Binance SPOT ISOLATED MARGIN: a spot wallet per account, one isolated
 * margin account per (account, pair), transfers between them, loans with hourly interest,
 * spot orders with Binance's side effects (auto-borrow, auto-repay), the venue's margin call
 * and liquidation. Prices move only through `step` (market time); nothing reads a clock.
 *
 * Sources (Binance):
 * - Margin level and its bars: FAQ "Binance Margin Level and Margin Call" (see spot-margin.ts).
 * - Interest: FAQ "Margin Interest Rate" / "How is interest calculated in Margin Trading":
 *   hourly interest = outstanding principal × daily interest rate ÷ 24, charged once when a
 *   loan is taken and then at every full hour (HH:00 UTC) while principal is outstanding;
 *   each accrual rounded up to 8 decimals.
 *   A repayment pays the interest first, then the principal.
 * - Orders: `POST /sapi/v1/margin/order` (Margin Account New Order (TRADE)):
 *   `sideEffectType` NO_SIDE_EFFECT | MARGIN_BUY (borrow what the order lacks, at placement) |
 *   AUTO_REPAY (repay the loan of the asset the fill brings in) | AUTO_BORROW_REPAY (both).
 *   Spot commission is taken from the asset received (the base on a BUY, the quote on a SELL).
 * - Filters: spot `GET /api/v3/exchangeInfo` PRICE_FILTER, LOT_SIZE, NOTIONAL (-1013 "Filter failure: …").
 * - Error codes and messages: Binance "Error Codes" (spot) — -1013, -2010, -2011, -1121 — and
 *   the SAPI margin codes -3006 (borrow over the maximum), -3015 (repay over the loan),
 *   -3020 (transfer out over the maximum), -3041 (balance not enough), -11001 (no such
 *   isolated account).
 *
 * Units: base amounts in the base asset, quote amounts in the quote asset, prices quote per
 * base, rates as fractions. Amounts of transfers and loans carry at most 8 decimals.
 */

/** What the engine knows of one isolated pair (spot filters, fees, the tier's limits, interest). */
export interface MarginPairRules {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  /** PRICE_FILTER tickSize (quote). */
  tickSize: D;
  /** LOT_SIZE stepSize, minQty, maxQty (base). */
  stepSize: D;
  minQty: D;
  maxQty: D;
  /** NOTIONAL minNotional (quote). */
  minNotional: D;
  /** Spot commission rates (fractions), e.g. 0.001 for VIP 0. */
  makerFeeRate: D;
  takerFeeRate: D;
  /** The venue's bars: `borrow` is the tier's initialRiskRatio, `liquidation` its liquidationRiskRatio. */
  bars: MarginLevelBars;
  /** The tier's most that may be owed in principal per asset (baseAssetMaxBorrowable, quoteAssetMaxBorrowable). */
  maxBorrowable: { base: D; quote: D };
  /** Daily interest rates (fractions per day) of each asset (`isolatedMarginData` dailyInterest). */
  dailyInterestRate: { base: D; quote: D };
  /** Liquidation fee as a fraction of what the liquidation trades (quote value); 0 when not charged. */
  liquidationFeeRate: D;
}

/** Binance's answers the engine gives, as {code, message} with the venue's own code and text. */
export const MarginVenueErrors = {
  UNKNOWN_SYMBOL: { code: '-1121', message: 'Invalid symbol.' },
  NO_ISOLATED_ACCOUNT: { code: '-11001', message: 'Isolated margin account does not exist.' },
  BAD_ASSET: { code: '-3027', message: 'Not a valid margin asset.' },
  BAD_AMOUNT: { code: '-1100', message: 'Illegal characters found in parameter \'amount\'.' },
  BALANCE_NOT_ENOUGH: { code: '-3041', message: 'Balance is not enough' },
  TRANSFER_OUT_OVER_MAX: { code: '-3020', message: 'Transfer out amount exceeds max amount.' },
  BORROW_OVER_MAX: { code: '-3006', message: 'Your borrow amount has exceed maximum borrow amount.' },
  REPAY_OVER_LOAN: { code: '-3015', message: 'Repay amount exceeds borrow amount.' },
  NO_PRICE: { code: '-3044', message: 'System busy.' },
  INSUFFICIENT_BALANCE: { code: '-2010', message: 'Account has insufficient balance for requested action.' },
  DUPLICATE_ORDER: { code: '-2010', message: 'Duplicate order sent.' },
  WOULD_TAKE: { code: '-2010', message: 'Order would immediately match and take.' },
  UNKNOWN_ORDER: { code: '-2011', message: 'Unknown order sent.' },
  LOT_SIZE: { code: '-1013', message: 'Filter failure: LOT_SIZE' },
  PRICE_FILTER: { code: '-1013', message: 'Filter failure: PRICE_FILTER' },
  NOTIONAL: { code: '-1013', message: 'Filter failure: NOTIONAL' },
  MANDATORY_PARAM: { code: '-1102', message: 'Mandatory parameter was not sent, was empty/null, or malformed.' },
} as const;

type ErrorKey = keyof typeof MarginVenueErrors;
const fail = (k: ErrorKey, detail?: string): Result<never, Rejection> =>
  err({ code: MarginVenueErrors[k].code, message: detail ? `${MarginVenueErrors[k].message} (${detail})` : MarginVenueErrors[k].message });

/** Amounts of transfers, loans and interest: Binance's 8 decimals. */
const AMOUNT_DP = 8;

export type MarginSideEffectType = 'NO_SIDE_EFFECT' | 'MARGIN_BUY' | 'AUTO_REPAY' | 'AUTO_BORROW_REPAY';
export type MarginOrderType = 'MARKET' | 'LIMIT' | 'LIMIT_MAKER';
export type MarginTimeInForce = 'GTC' | 'IOC' | 'FOK';
export type MarginOrderStatus = 'NEW' | 'FILLED' | 'CANCELED' | 'EXPIRED';

/** An order as `POST /sapi/v1/margin/order` takes it (isolated: always `isIsolated=TRUE`). */
export interface MarginOrderRequest {
  accountId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  type: MarginOrderType;
  /** Base quantity; or `quoteOrderQty` for a MARKET order (spent or received in the quote asset). */
  quantity?: D;
  quoteOrderQty?: D;
  /** LIMIT / LIMIT_MAKER price. */
  price?: D;
  /** LIMIT only (default GTC). */
  timeInForce?: MarginTimeInForce;
  sideEffectType?: MarginSideEffectType;
  clientOrderId: string;
}

/** One trade of an order (`GET /sapi/v1/margin/myTrades` row). */
export interface MarginFill {
  tradeId: number;
  orderId: number;
  symbol: string;
  price: D;
  qty: D;
  quoteQty: D;
  commission: D;
  commissionAsset: string;
  isBuyer: boolean;
  isMaker: boolean;
  time: number;
}

/** An order and what happened to it (Binance's order fields). */
export interface MarginOrderRecord {
  accountId: string;
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  type: MarginOrderType;
  timeInForce: MarginTimeInForce | null;
  price: D;
  origQty: D;
  executedQty: D;
  cummulativeQuoteQty: D;
  status: MarginOrderStatus;
  sideEffectType: MarginSideEffectType;
  /** What MARGIN_BUY borrowed at placement (`marginBuyBorrowAmount` / `marginBuyBorrowAsset`). */
  marginBuyBorrowAmount: D;
  marginBuyBorrowAsset: string | null;
  /** LIQUIDATION for the venue's own orders; else ORDER. */
  origin: 'ORDER' | 'LIQUIDATION';
  time: number;
  updateTime: number;
  fills: MarginFill[];
}

/** A loan movement (`GET /sapi/v1/margin/borrow-repay` row). */
export interface MarginLoanRecord {
  tranId: number;
  type: 'BORROW' | 'REPAY';
  accountId: string;
  symbol: string;
  asset: string;
  /** BORROW: principal borrowed; REPAY: total repaid (interest + principal). */
  amount: D;
  interest: D;
  principal: D;
  /** AUTO: taken or repaid by an order's side effect or a liquidation; else MANUAL. */
  source: 'MANUAL' | 'AUTO' | 'LIQUIDATION';
  time: number;
}

/** One hourly accrual (`GET /sapi/v1/margin/interestHistory` row). */
export interface MarginInterestRecord {
  txId: number;
  accountId: string;
  symbol: string;
  asset: string;
  principal: D;
  interest: D;
  /**
   * The DAILY rate the accrual was charged at, as Binance's interestHistory reports it (its
   * documented row: principal 45.3313, interestRate 0.00013233, interest 0.00024995 =
   * principal × rate ÷ 24).
   */
  interestRate: D;
  /** ON_BORROW: charged when the loan was taken; PERIODIC: at a full hour. */
  type: 'ON_BORROW' | 'PERIODIC';
  time: number;
}

/** A transfer between the spot wallet and an isolated account. */
export interface MarginTransferRecord {
  tranId: number;
  accountId: string;
  symbol: string;
  asset: string;
  amount: D;
  direction: 'TO_MARGIN' | 'TO_SPOT';
  time: number;
}

/** What the engine did, in order (for user-data streams and logs). */
export type MarginVenueEvent =
  | { type: 'ORDER'; execution: 'NEW' | 'TRADE' | 'CANCELED' | 'EXPIRED'; order: MarginOrderRecord; fill: MarginFill | null; ts: number }
  | { type: 'TRANSFER'; transfer: MarginTransferRecord; ts: number }
  | { type: 'LOAN'; loan: MarginLoanRecord; ts: number }
  | { type: 'INTEREST'; interest: MarginInterestRecord; ts: number }
  | { type: 'MARGIN_CALL'; accountId: string; symbol: string; marginLevel: D; price: D; ts: number }
  | { type: 'LIQUIDATION'; accountId: string; symbol: string; marginLevel: D; price: D; shortfall: D; ts: number }
  /** Balances of an isolated account changed (Binance `outboundAccountPosition`). */
  | { type: 'BALANCE'; accountId: string; symbol: string; ts: number };

/** Balances of one asset inside an isolated account. */
interface AssetBook {
  free: D;
  locked: D;
  borrowed: D;
  interest: D;
}

interface IsolatedBook {
  accountId: string;
  symbol: string;
  base: AssetBook;
  quote: AssetBook;
  /** Lowest margin-call state seen, so the call is sent once per crossing. */
  inMarginCall: boolean;
}

/** An isolated account as `GET /sapi/v1/margin/isolated/account` shows it, valued at `price`. */
export interface IsolatedMarginAccountView {
  accountId: string;
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  base: Readonly<AssetBook>;
  quote: Readonly<AssetBook>;
  /** The engine's current price (the local venue's index price); null before the first step. */
  price: D | null;
  /** Valuation at `price` (null before the first step). */
  equity: IsolatedMarginEquity | null;
  /** Price at which the level reaches the liquidation bar; null when none. */
  liquidationPrice: D | null;
}

const emptyAsset = (): AssetBook => ({ free: ZERO, locked: ZERO, borrowed: ZERO, interest: ZERO });
const HOUR_MS = 3_600_000;

function checkAmount(amount: D): string | null {
  if (!D.isDecimal(amount) || !amount.isFinite() || !amount.gt(0)) return 'amount must be > 0';
  if (amount.decimalPlaces() > AMOUNT_DP) return `at most ${AMOUNT_DP} decimals`;
  return null;
}

/**
 * Price at which an isolated account's margin level equals `bar`, holding balances fixed:
 * level(p) = (qa + ba·p) ÷ (ql + bl·p) with qa/ba the quote/base assets (free + locked) and
 * ql/bl the quote/base liabilities (loan + interest); solving level(p) = bar gives
 * p = (bar·ql − qa) ÷ (ba − bar·bl).
 * @returns the price (quote per base), or null when no positive price reaches the bar (no
 *   debt, or the level does not move toward the bar with the price).
 */
export function isolatedLiquidationPrice(b: IsolatedMarginBalances, bar: D): D | null {
  const qa = b.quoteFree.plus(b.quoteLocked);
  const ba = b.baseFree.plus(b.baseLocked);
  const ql = b.quoteBorrowed.plus(b.quoteInterest);
  const bl = b.baseBorrowed.plus(b.baseInterest);
  if (ql.isZero() && bl.isZero()) return null;
  const den = ba.minus(bar.mul(bl));
  if (den.isZero()) return null;
  const p = bar.mul(ql).minus(qa).div(den);
  return p.gt(0) ? p : null;
}

/**
 * The paper engine of Binance spot isolated margin (see the file comment for sources).
 * Every operation validates first and changes nothing when it rejects; each returns the
 * venue's own code and message. `drain()` hands out what happened since the last call.
 */
export class PaperMarginVenue {
  private readonly spot = new Map<string, Map<string, D>>();
  private readonly books = new Map<string, IsolatedBook>();
  private readonly price = new Map<string, D>();
  private readonly orders: MarginOrderRecord[] = [];
  private readonly ordersById = new Map<number, MarginOrderRecord>();
  private readonly clientIds = new Set<string>();
  private readonly loans: MarginLoanRecord[] = [];
  private readonly interestRows: MarginInterestRecord[] = [];
  private readonly transfers: MarginTransferRecord[] = [];
  private events: MarginVenueEvent[] = [];
  private orderSeq = 0;
  private tradeSeq = 0;
  private tranSeq = 0;
  private now = 0;

  /**
   * @param rules symbol → pair rules.
   * @throws RangeError when a pair's bars fail `validateMarginLevelBars` or its liquidation
   *   bar is not above 1 (a data error).
   */
  constructor(private readonly rules: ReadonlyMap<string, MarginPairRules>) {
    for (const r of rules.values()) {
      const v = validateMarginLevelBars(r.bars);
      if (!v.ok) throw new RangeError(`PaperMarginVenue ${r.symbol}: ${v.error.message}`);
      // Binance's bars are all above 1; at or below 1 `maxBorrowable`'s bound has no meaning.
      if (!r.bars.liquidation.gt(1)) throw new RangeError(`PaperMarginVenue ${r.symbol}: liquidation bar must be > 1, got ${str(r.bars.liquidation)}`);
    }
  }

  /** Market time: the ts of the last step (0 before any). */
  time(): number {
    return this.now;
  }

  /** The pair's current price (null before its first step). */
  priceOf(symbol: string): D | null {
    return this.price.get(symbol) ?? null;
  }

  /** Credit an account's spot wallet (the paper world's deposit). */
  deposit(accountId: string, asset: string, amount: D): void {
    const w = this.wallet(accountId);
    w.set(asset, (w.get(asset) ?? ZERO).plus(amount));
  }

  /** Spot wallet balance of an asset (0 when none). */
  spotBalance(accountId: string, asset: string): D {
    return this.spot.get(accountId)?.get(asset) ?? ZERO;
  }

  /** The events since the last call, oldest first. */
  drain(): MarginVenueEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  // ---- accounts ----

  /** The isolated account of a pair, valued at the current price; null when never opened. */
  account(accountId: string, symbol: string): IsolatedMarginAccountView | null {
    const b = this.books.get(key(accountId, symbol));
    const r = this.rules.get(symbol);
    if (!b || !r) return null;
    const price = this.price.get(symbol) ?? null;
    const bal = balancesOf(b);
    return {
      accountId,
      symbol,
      baseAsset: r.baseAsset,
      quoteAsset: r.quoteAsset,
      base: { ...b.base },
      quote: { ...b.quote },
      price,
      equity: price ? isolatedMarginEquity({ ...bal, price }) : null,
      liquidationPrice: isolatedLiquidationPrice(bal, r.bars.liquidation),
    };
  }

  /** The pairs an account has opened, in opening order. */
  accountsOf(accountId: string): string[] {
    return [...this.books.values()].filter((b) => b.accountId === accountId).map((b) => b.symbol);
  }

  // ---- transfers ----

  /**
   * Move `amount` of the pair's base or quote asset between the spot wallet and the isolated
   * account (`POST /sapi/v1/asset/transfer` type MAIN_ISOLATED_MARGIN / ISOLATED_MARGIN_MAIN).
   * A transfer out is refused (-3020) when it would leave the margin level at or below the
   * transfer-out bar while anything is owed (`maxTransferOut`).
   */
  transfer(t: { accountId: string; symbol: string; asset: string; amount: D; direction: 'TO_MARGIN' | 'TO_SPOT' }): Result<MarginTransferRecord, Rejection> {
    const r = this.rules.get(t.symbol);
    if (!r) return fail('UNKNOWN_SYMBOL', t.symbol);
    const side = assetSide(r, t.asset);
    if (!side) return fail('BAD_ASSET', `${t.asset} is not an asset of ${t.symbol}`);
    const bad = checkAmount(t.amount);
    if (bad) return fail('BAD_AMOUNT', bad);
    if (t.direction === 'TO_MARGIN') {
      if (this.spotBalance(t.accountId, t.asset).lt(t.amount)) return fail('BALANCE_NOT_ENOUGH', `spot ${t.asset} ${str(this.spotBalance(t.accountId, t.asset))} < ${str(t.amount)}`);
      const w = this.wallet(t.accountId);
      w.set(t.asset, w.get(t.asset)!.minus(t.amount));
      const b = this.book(t.accountId, t.symbol);
      b[side].free = b[side].free.plus(t.amount);
    } else {
      const b = this.books.get(key(t.accountId, t.symbol));
      if (!b) return fail('NO_ISOLATED_ACCOUNT', t.symbol);
      const maxOut = this.maxTransferOut(t.accountId, t.symbol, t.asset);
      if (!maxOut.ok) return maxOut;
      if (t.amount.gt(maxOut.value)) {
        return b[side].free.lt(t.amount)
          ? fail('BALANCE_NOT_ENOUGH', `free ${t.asset} ${str(b[side].free)} < ${str(t.amount)}`)
          : fail('TRANSFER_OUT_OVER_MAX', `at most ${str(maxOut.value)} ${t.asset} keeps the margin level above ${str(r.bars.transferOut)}`);
      }
      b[side].free = b[side].free.minus(t.amount);
      this.deposit(t.accountId, t.asset, t.amount);
    }
    const rec: MarginTransferRecord = { tranId: ++this.tranSeq, accountId: t.accountId, symbol: t.symbol, asset: t.asset, amount: t.amount, direction: t.direction, time: this.now };
    this.transfers.push(rec);
    this.events.push({ type: 'TRANSFER', transfer: rec, ts: this.now }, { type: 'BALANCE', accountId: t.accountId, symbol: t.symbol, ts: this.now });
    return ok(rec);
  }

  /**
   * The most of `asset` that may leave the isolated account: all of its free balance when
   * nothing is owed, else the amount x (8 decimals, down) with
   * (assets − x·v) ÷ liabilities >= transferOut bar, v = the asset's value in quote.
   * Error -3044 when the pair has no price yet and something is owed.
   */
  maxTransferOut(accountId: string, symbol: string, asset: string): Result<D, Rejection> {
    const at = this.locate(accountId, symbol, asset);
    if (!at.ok) return at;
    const { r, side, b } = at.value;
    const free = b[side].free;
    if (!owes(b)) return ok(free);
    const price = this.price.get(symbol);
    if (!price) return fail('NO_PRICE', 'no price for the pair yet');
    const e = isolatedMarginEquity({ ...balancesOf(b), price });
    const v = side === 'base' ? price : new D(1);
    const room = e.totalAssetValue.minus(r.bars.transferOut.mul(e.totalLiabilityValue)).div(v);
    return ok(max(ZERO, min(free, room.toDecimalPlaces(AMOUNT_DP, D.ROUND_DOWN))));
  }

  // ---- loans ----

  /**
   * The most of `asset` that may be borrowed now (`GET /sapi/v1/margin/maxBorrowable`): the
   * tier's limit less the principal owed, and Binance's formula (announcement "Binance
   * Isolated Margin Leverage Adjustment", 2023-06-07) with r the borrow bar (the tier's
   * initialRiskRatio), A the total asset value and L the liabilities, both in quote, and v
   * the asset's price in quote: x = (A − r·L) ÷ (r − 1) ÷ v, 8 decimals, down. The interest
   * charged at borrowing then leaves the level just under r, as on the venue.
   */
  maxBorrowable(accountId: string, symbol: string, asset: string): Result<D, Rejection> {
    const at = this.locate(accountId, symbol, asset);
    if (!at.ok) return at;
    const { r, side, b } = at.value;
    const price = this.price.get(symbol);
    if (!price) return fail('NO_PRICE', 'no price for the pair yet');
    const tierRoom = max(ZERO, r.maxBorrowable[side].minus(b[side].borrowed));
    const e = isolatedMarginEquity({ ...balancesOf(b), price });
    const v = side === 'base' ? price : new D(1);
    const bar = r.bars.borrow;
    const levelRoom = e.totalAssetValue.minus(bar.mul(e.totalLiabilityValue)).div(bar.minus(1)).div(v);
    return ok(max(ZERO, min(tierRoom, levelRoom).toDecimalPlaces(AMOUNT_DP, D.ROUND_DOWN)));
  }

  /**
   * Borrow `amount` of the pair's base or quote asset into the isolated account
   * (`POST /sapi/v1/margin/borrow-repay` type BORROW). Charges the first hour's interest at once.
   */
  borrow(t: { accountId: string; symbol: string; asset: string; amount: D }): Result<MarginLoanRecord, Rejection> {
    const bad = checkAmount(t.amount);
    if (bad) return fail('BAD_AMOUNT', bad);
    const room = this.maxBorrowable(t.accountId, t.symbol, t.asset);
    if (!room.ok) return room;
    if (t.amount.gt(room.value)) return fail('BORROW_OVER_MAX', `at most ${str(room.value)} ${t.asset} now`);
    const rec = this.takeLoan(this.books.get(key(t.accountId, t.symbol))!, t.asset, t.amount, 'MANUAL');
    this.events.push({ type: 'BALANCE', accountId: t.accountId, symbol: t.symbol, ts: this.now });
    return ok(rec);
  }

  /**
   * Repay `amount` (or everything owed, 'ALL') of an asset's loan from the isolated account's
   * free balance (`POST /sapi/v1/margin/borrow-repay` type REPAY): the interest first, then
   * the principal. -3015 when more than is owed, -3041 when the free balance is short.
   */
  repay(t: { accountId: string; symbol: string; asset: string; amount: D | 'ALL' }): Result<MarginLoanRecord, Rejection> {
    const at = this.locate(t.accountId, t.symbol, t.asset);
    if (!at.ok) return at;
    const { side, b } = at.value;
    const owed = b[side].borrowed.plus(b[side].interest);
    const amount = t.amount === 'ALL' ? owed : t.amount;
    if (t.amount !== 'ALL') {
      const bad = checkAmount(t.amount);
      if (bad) return fail('BAD_AMOUNT', bad);
    }
    if (amount.isZero() || amount.gt(owed)) return fail('REPAY_OVER_LOAN', `owed ${str(owed)} ${t.asset}`);
    if (b[side].free.lt(amount)) return fail('BALANCE_NOT_ENOUGH', `free ${t.asset} ${str(b[side].free)} < ${str(amount)}`);
    const rec = this.payLoan(b, side, t.asset, amount, 'MANUAL');
    this.events.push({ type: 'BALANCE', accountId: t.accountId, symbol: t.symbol, ts: this.now });
    return ok(rec);
  }

  /** Loan movements of an account (all pairs, or one), oldest first. */
  loanHistory(accountId: string, symbol?: string): MarginLoanRecord[] {
    return this.loans.filter((l) => l.accountId === accountId && (!symbol || l.symbol === symbol));
  }

  /** Interest accruals of an account, oldest first. */
  interestHistory(accountId: string, symbol?: string): MarginInterestRecord[] {
    return this.interestRows.filter((l) => l.accountId === accountId && (!symbol || l.symbol === symbol));
  }

  /** Transfers of an account, oldest first. */
  transferHistory(accountId: string, symbol?: string): MarginTransferRecord[] {
    return this.transfers.filter((l) => l.accountId === accountId && (!symbol || l.symbol === symbol));
  }

  // ---- orders ----

  /**
   * Place an order (`POST /sapi/v1/margin/order`, isIsolated=TRUE). A MARKET order, and a LIMIT
   * order that can trade at the current price, fills at once at the current price (taker); a
   * LIMIT GTC order rests (its funds locked) and fills at its price when the path reaches it
   * (maker); an IOC or FOK limit that cannot trade at once EXPIRES; a LIMIT_MAKER that would
   * trade at once is rejected. MARGIN_BUY / AUTO_BORROW_REPAY borrow what the order lacks at
   * placement, within `maxBorrowable`; AUTO_REPAY / AUTO_BORROW_REPAY repay the loan of the
   * received asset with what a fill brings in.
   * @returns the order as it stands after placement (FILLED, NEW or EXPIRED), or the venue's error.
   */
  placeOrder(q: MarginOrderRequest): Result<MarginOrderRecord, Rejection> {
    const r = this.rules.get(q.symbol);
    if (!r) return fail('UNKNOWN_SYMBOL', q.symbol);
    if (!q.clientOrderId) return fail('MANDATORY_PARAM', 'newClientOrderId');
    if (this.clientIds.has(key(q.accountId, q.clientOrderId))) return fail('DUPLICATE_ORDER', q.clientOrderId);
    const b = this.books.get(key(q.accountId, q.symbol));
    if (!b) return fail('NO_ISOLATED_ACCOUNT', q.symbol);
    const current = this.price.get(q.symbol);
    if (!current) return fail('NO_PRICE', 'no price for the pair yet');
    const sideEffect = q.sideEffectType ?? 'NO_SIDE_EFFECT';

    // Quantity and price against the spot filters.
    let quantity: D;
    if (q.type === 'MARKET' && q.quoteOrderQty && !q.quantity) {
      if (!q.quoteOrderQty.isFinite() || !q.quoteOrderQty.gt(0)) return fail('MANDATORY_PARAM', 'quoteOrderQty');
      quantity = floorToStep(q.quoteOrderQty.div(current), r.stepSize);
    } else if (q.quantity) {
      quantity = q.quantity;
    } else return fail('MANDATORY_PARAM', 'quantity');
    if (!quantity.isFinite() || !quantity.gt(0) || !quantity.mod(r.stepSize).isZero() || quantity.lt(r.minQty) || quantity.gt(r.maxQty)) {
      return fail('LOT_SIZE', `quantity ${str(quantity)}: step ${str(r.stepSize)}, min ${str(r.minQty)}, max ${str(r.maxQty)}`);
    }
    let limit: D | null = null;
    if (q.type !== 'MARKET') {
      if (!q.price || !q.price.isFinite() || !q.price.gt(0)) return fail('MANDATORY_PARAM', 'price');
      if (!q.price.mod(r.tickSize).isZero()) return fail('PRICE_FILTER', `price ${str(q.price)}: tick ${str(r.tickSize)}`);
      limit = q.price;
    }
    const refPrice = limit ?? current;
    if (quantity.mul(refPrice).lt(r.minNotional)) return fail('NOTIONAL', `notional ${str(quantity.mul(refPrice))} < ${str(r.minNotional)}`);

    const marketable = limit === null || (q.side === 'BUY' ? limit.gte(current) : limit.lte(current));
    const tif: MarginTimeInForce | null = q.type === 'LIMIT' ? q.timeInForce ?? 'GTC' : null;
    if (q.type === 'LIMIT_MAKER' && marketable) return fail('WOULD_TAKE');

    // What the order needs: a BUY pays quote (at the fill price: the current one if it trades now), a SELL delivers base.
    const fillsNow = marketable;
    const rests = !fillsNow && tif === 'GTC' || (!fillsNow && q.type === 'LIMIT_MAKER');
    const needSide: 'base' | 'quote' = q.side === 'BUY' ? 'quote' : 'base';
    const need = q.side === 'BUY' ? quantity.mul(fillsNow ? current : limit!) : quantity;
    let borrowAmount = ZERO;
    if (fillsNow || rests) {
      const shortfall = need.minus(b[needSide].free);
      if (shortfall.gt(0)) {
        if (sideEffect !== 'MARGIN_BUY' && sideEffect !== 'AUTO_BORROW_REPAY') return fail('INSUFFICIENT_BALANCE', `free ${needSide === 'base' ? r.baseAsset : r.quoteAsset} ${str(b[needSide].free)} < ${str(need)}`);
        borrowAmount = shortfall.toDecimalPlaces(AMOUNT_DP, D.ROUND_UP);
        const room = this.maxBorrowable(q.accountId, q.symbol, needSide === 'base' ? r.baseAsset : r.quoteAsset);
        if (!room.ok) return room;
        if (borrowAmount.gt(room.value)) return fail('BORROW_OVER_MAX', `the order needs ${str(borrowAmount)} borrowed, at most ${str(room.value)} now`);
      }
    }

    // Accepted: from here nothing is refused.
    const rec: MarginOrderRecord = {
      accountId: q.accountId,
      symbol: q.symbol,
      orderId: ++this.orderSeq,
      clientOrderId: q.clientOrderId,
      side: q.side,
      type: q.type,
      timeInForce: tif,
      price: limit ?? ZERO,
      origQty: quantity,
      executedQty: ZERO,
      cummulativeQuoteQty: ZERO,
      status: 'NEW',
      sideEffectType: sideEffect,
      marginBuyBorrowAmount: borrowAmount,
      marginBuyBorrowAsset: borrowAmount.gt(0) ? (needSide === 'base' ? r.baseAsset : r.quoteAsset) : null,
      origin: 'ORDER',
      time: this.now,
      updateTime: this.now,
      fills: [],
    };
    this.clientIds.add(key(q.accountId, q.clientOrderId));
    this.orders.push(rec);
    this.ordersById.set(rec.orderId, rec);
    if (borrowAmount.gt(0)) this.takeLoan(b, rec.marginBuyBorrowAsset!, borrowAmount, 'AUTO');
    if (fillsNow) {
      this.fill(b, r, rec, current, false);
    } else if (rests) {
      b[needSide].free = b[needSide].free.minus(need);
      b[needSide].locked = b[needSide].locked.plus(need);
      this.events.push({ type: 'ORDER', execution: 'NEW', order: snapshot(rec), fill: null, ts: this.now });
    } else {
      rec.status = 'EXPIRED';
      this.events.push({ type: 'ORDER', execution: 'EXPIRED', order: snapshot(rec), fill: null, ts: this.now });
    }
    this.events.push({ type: 'BALANCE', accountId: q.accountId, symbol: q.symbol, ts: this.now });
    return ok(snapshot(rec));
  }

  /** Cancel a resting order by orderId or clientOrderId (`DELETE /sapi/v1/margin/order`); its locked funds return to free. */
  cancelOrder(accountId: string, symbol: string, ref: { orderId?: number; clientOrderId?: string }): Result<MarginOrderRecord, Rejection> {
    const rec = this.findOrder(accountId, symbol, ref);
    if (!rec || rec.status !== 'NEW') return fail('UNKNOWN_ORDER');
    this.unlock(rec);
    rec.status = 'CANCELED';
    rec.updateTime = this.now;
    this.events.push({ type: 'ORDER', execution: 'CANCELED', order: snapshot(rec), fill: null, ts: this.now });
    this.events.push({ type: 'BALANCE', accountId, symbol, ts: this.now });
    return ok(snapshot(rec));
  }

  /** One order of an account by orderId or clientOrderId (`GET /sapi/v1/margin/order`). */
  order(accountId: string, symbol: string, ref: { orderId?: number; clientOrderId?: string }): MarginOrderRecord | null {
    const rec = this.findOrder(accountId, symbol, ref);
    return rec ? snapshot(rec) : null;
  }

  /** Orders of an account on a pair (all, or only the open ones), oldest first. */
  ordersOf(accountId: string, symbol: string | null, openOnly = false): MarginOrderRecord[] {
    return this.orders.filter((o) => o.accountId === accountId && (!symbol || o.symbol === symbol) && (!openOnly || o.status === 'NEW')).map(snapshot);
  }

  /** Trades of an account on a pair, oldest first. */
  tradesOf(accountId: string, symbol: string): MarginFill[] {
    return this.orders.filter((o) => o.accountId === accountId && o.symbol === symbol).flatMap((o) => o.fills).sort((a, b) => a.tradeId - b.tradeId);
  }

  // ---- the clock ----

  /**
   * Move the pair's price along one path step at market time `step.ts`: first the interest
   * of every full hour in (last time, step.ts], then the resting orders the step reaches
   * (at their limit price, maker), then the venue's margin call and liquidation at the
   * step's end price (a step is a straight segment, so its end is its extreme).
   */
  step(symbol: string, step: PaperStep): void {
    const r = this.rules.get(symbol);
    if (!r) throw new RangeError(`PaperMarginVenue.step: unknown symbol ${symbol}`);
    if (step.ts < this.now) throw new RangeError(`PaperMarginVenue.step: time went back (${step.ts} < ${this.now})`);
    for (let h = Math.floor(this.now / HOUR_MS) * HOUR_MS + HOUR_MS; h <= step.ts && this.now > 0; h += HOUR_MS) this.chargeHour(h);
    this.now = step.ts;
    const from = new D(step.from);
    const to = new D(step.to);
    this.price.set(symbol, to);
    const lo = min(from, to);
    const hi = max(from, to);
    for (const rec of this.orders.filter((o) => o.symbol === symbol && o.status === 'NEW')) {
      // A resting BUY trades once the path comes down to its price, a SELL once it comes up to it.
      const reached = rec.side === 'BUY' ? lo.lte(rec.price) : hi.gte(rec.price);
      if (!reached) continue;
      const b = this.books.get(key(rec.accountId, symbol))!;
      this.unlock(rec);
      this.fill(b, r, rec, rec.price, true);
      this.events.push({ type: 'BALANCE', accountId: rec.accountId, symbol, ts: this.now });
    }
    for (const b of this.books.values()) if (b.symbol === symbol && owes(b)) this.watchLevel(b, r, to);
  }

  // ---- internals ----

  /** The pair's rules, the asset's side and the account's isolated book, or the venue's refusal (-1121, -3027, -11001). */
  private locate(accountId: string, symbol: string, asset: string): Result<{ r: MarginPairRules; side: 'base' | 'quote'; b: IsolatedBook }, Rejection> {
    const r = this.rules.get(symbol);
    if (!r) return fail('UNKNOWN_SYMBOL', symbol);
    const side = assetSide(r, asset);
    if (!side) return fail('BAD_ASSET', `${asset} is not an asset of ${symbol}`);
    const b = this.books.get(key(accountId, symbol));
    if (!b) return fail('NO_ISOLATED_ACCOUNT', symbol);
    return ok({ r, side, b });
  }

  private wallet(accountId: string): Map<string, D> {
    let w = this.spot.get(accountId);
    if (!w) this.spot.set(accountId, (w = new Map()));
    return w;
  }

  private book(accountId: string, symbol: string): IsolatedBook {
    const k = key(accountId, symbol);
    let b = this.books.get(k);
    if (!b) this.books.set(k, (b = { accountId, symbol, base: emptyAsset(), quote: emptyAsset(), inMarginCall: false }));
    return b;
  }

  private findOrder(accountId: string, symbol: string, ref: { orderId?: number; clientOrderId?: string }): MarginOrderRecord | undefined {
    if (ref.orderId !== undefined) {
      const o = this.ordersById.get(ref.orderId);
      return o && o.accountId === accountId && o.symbol === symbol ? o : undefined;
    }
    if (ref.clientOrderId) return this.orders.find((o) => o.accountId === accountId && o.symbol === symbol && o.clientOrderId === ref.clientOrderId);
    return undefined;
  }

  private unlock(rec: MarginOrderRecord): void {
    const b = this.books.get(key(rec.accountId, rec.symbol))!;
    const side: 'base' | 'quote' = rec.side === 'BUY' ? 'quote' : 'base';
    const amt = rec.side === 'BUY' ? rec.origQty.mul(rec.price) : rec.origQty;
    b[side].locked = b[side].locked.minus(amt);
    b[side].free = b[side].free.plus(amt);
  }

  /** Trade the whole order at `price`; commission from the received asset; then the auto-repay. */
  private fill(b: IsolatedBook, r: MarginPairRules, rec: MarginOrderRecord, price: D, maker: boolean): void {
    const qty = rec.origQty;
    const quoteQty = qty.mul(price);
    const rate = maker ? r.makerFeeRate : r.takerFeeRate;
    const buy = rec.side === 'BUY';
    // Balances carry 8 decimals: the commission is rounded up to them, like an interest accrual.
    const commission = (buy ? qty.mul(rate) : quoteQty.mul(rate)).toDecimalPlaces(AMOUNT_DP, D.ROUND_UP);
    if (buy) {
      b.quote.free = b.quote.free.minus(quoteQty);
      b.base.free = b.base.free.plus(qty.minus(commission));
    } else {
      b.base.free = b.base.free.minus(qty);
      b.quote.free = b.quote.free.plus(quoteQty.minus(commission));
    }
    const f: MarginFill = {
      tradeId: ++this.tradeSeq,
      orderId: rec.orderId,
      symbol: rec.symbol,
      price,
      qty,
      quoteQty,
      commission,
      commissionAsset: buy ? r.baseAsset : r.quoteAsset,
      isBuyer: buy,
      isMaker: maker,
      time: this.now,
    };
    rec.fills.push(f);
    rec.executedQty = qty;
    rec.cummulativeQuoteQty = quoteQty;
    rec.status = 'FILLED';
    rec.updateTime = this.now;
    this.events.push({ type: 'ORDER', execution: 'TRADE', order: snapshot(rec), fill: { ...f }, ts: this.now });
    if (rec.sideEffectType === 'AUTO_REPAY' || rec.sideEffectType === 'AUTO_BORROW_REPAY') {
      const side: 'base' | 'quote' = buy ? 'base' : 'quote';
      const received = buy ? qty.minus(commission) : quoteQty.minus(commission);
      const owed = b[side].borrowed.plus(b[side].interest);
      const pay = min(min(received, owed), b[side].free);
      if (pay.gt(0)) this.payLoan(b, side, buy ? r.baseAsset : r.quoteAsset, pay, rec.origin === 'LIQUIDATION' ? 'LIQUIDATION' : 'AUTO');
    }
  }

  private takeLoan(b: IsolatedBook, asset: string, amount: D, source: MarginLoanRecord['source']): MarginLoanRecord {
    const r = this.rules.get(b.symbol)!;
    const side = assetSide(r, asset)!;
    b[side].borrowed = b[side].borrowed.plus(amount);
    b[side].free = b[side].free.plus(amount);
    const rec: MarginLoanRecord = { tranId: ++this.tranSeq, type: 'BORROW', accountId: b.accountId, symbol: b.symbol, asset, amount, interest: ZERO, principal: amount, source, time: this.now };
    this.loans.push(rec);
    this.events.push({ type: 'LOAN', loan: rec, ts: this.now });
    this.accrue(b, side, amount, 'ON_BORROW', this.now);
    return rec;
  }

  /** Pay `amount` (<= owed, <= free) of a loan: interest first, then principal. */
  private payLoan(b: IsolatedBook, side: 'base' | 'quote', asset: string, amount: D, source: MarginLoanRecord['source']): MarginLoanRecord {
    const interest = min(amount, b[side].interest);
    const principal = amount.minus(interest);
    b[side].interest = b[side].interest.minus(interest);
    b[side].borrowed = b[side].borrowed.minus(principal);
    b[side].free = b[side].free.minus(amount);
    const rec: MarginLoanRecord = { tranId: ++this.tranSeq, type: 'REPAY', accountId: b.accountId, symbol: b.symbol, asset, amount, interest, principal, source, time: this.now };
    this.loans.push(rec);
    this.events.push({ type: 'LOAN', loan: rec, ts: this.now });
    if (!owes(b)) b.inMarginCall = false;
    return rec;
  }

  /** Charge one hour of interest on `principal` of one asset. */
  private accrue(b: IsolatedBook, side: 'base' | 'quote', principal: D, type: MarginInterestRecord['type'], at: number): void {
    const r = this.rules.get(b.symbol)!;
    const hourly = r.dailyInterestRate[side].div(24);
    // Balances carry 8 decimals; an hour's interest is rounded up to them (the venue never
    // charges less than the rate; Binance does not document the rounding of an accrual).
    const interest = principal.mul(hourly).toDecimalPlaces(AMOUNT_DP, D.ROUND_UP);
    if (interest.isZero()) return;
    b[side].interest = b[side].interest.plus(interest);
    const rec: MarginInterestRecord = { txId: ++this.tranSeq, accountId: b.accountId, symbol: b.symbol, asset: side === 'base' ? r.baseAsset : r.quoteAsset, principal, interest, interestRate: r.dailyInterestRate[side], type, time: at };
    this.interestRows.push(rec);
    this.events.push({ type: 'INTEREST', interest: rec, ts: at });
  }

  private chargeHour(at: number): void {
    for (const b of this.books.values()) {
      let charged = false;
      for (const side of ['base', 'quote'] as const) {
        if (b[side].borrowed.gt(0)) {
          this.accrue(b, side, b[side].borrowed, 'PERIODIC', at);
          charged = true;
        }
      }
      if (charged) this.events.push({ type: 'BALANCE', accountId: b.accountId, symbol: b.symbol, ts: at });
    }
  }

  /** The venue's margin call (once per crossing of its bar) and liquidation at `price`. */
  private watchLevel(b: IsolatedBook, r: MarginPairRules, price: D): void {
    const level = isolatedMarginEquity({ ...balancesOf(b), price }).marginLevel;
    if (level === null) return;
    if (level.lte(r.bars.liquidation)) {
      this.liquidate(b, r, price, level);
      return;
    }
    const call = level.lte(r.bars.marginCall);
    if (call && !b.inMarginCall) this.events.push({ type: 'MARGIN_CALL', accountId: b.accountId, symbol: b.symbol, marginLevel: level, price, ts: this.now });
    b.inMarginCall = call;
  }

  /**
   * Liquidation: cancel the pair's open orders, sell the base held (a long) or buy back the
   * base owed (a short) at `price`, repay with the proceeds, charge the liquidation fee; a
   * loan the assets cannot cover is written off (the venue's insurance fund) and reported
   * as `shortfall` (quote).
   */
  private liquidate(b: IsolatedBook, r: MarginPairRules, price: D, level: D): void {
    for (const o of this.orders) if (o.accountId === b.accountId && o.symbol === b.symbol && o.status === 'NEW') this.cancelOrder(o.accountId, o.symbol, { orderId: o.orderId });
    const sell = b.base.free.gt(b.base.borrowed.plus(b.base.interest));
    let qty: D;
    if (sell) qty = floorToStep(b.base.free, r.stepSize);
    else {
      const owed = b.base.borrowed.plus(b.base.interest).minus(b.base.free);
      const affordable = floorToStep(b.quote.free.div(price), r.stepSize);
      qty = min(ceilToStep(owed.div(new D(1).minus(r.takerFeeRate)), r.stepSize), affordable);
    }
    if (qty.gt(0)) {
      const rec: MarginOrderRecord = {
        accountId: b.accountId,
        symbol: b.symbol,
        orderId: ++this.orderSeq,
        clientOrderId: `liquidation-${this.orderSeq}`,
        side: sell ? 'SELL' : 'BUY',
        type: 'MARKET',
        timeInForce: null,
        price: ZERO,
        origQty: qty,
        executedQty: ZERO,
        cummulativeQuoteQty: ZERO,
        status: 'NEW',
        sideEffectType: 'AUTO_REPAY',
        marginBuyBorrowAmount: ZERO,
        marginBuyBorrowAsset: null,
        origin: 'LIQUIDATION',
        time: this.now,
        updateTime: this.now,
        fills: [],
      };
      this.orders.push(rec);
      this.ordersById.set(rec.orderId, rec);
      this.fill(b, r, rec, price, false);
    }
    // The liquidation fee, then whatever remains owed is paid from the other asset or written off.
    const fee = qty.mul(price).mul(r.liquidationFeeRate);
    b.quote.free = max(ZERO, b.quote.free.minus(fee));
    let shortfall = ZERO;
    for (const side of ['quote', 'base'] as const) {
      const owed = b[side].borrowed.plus(b[side].interest);
      if (owed.isZero()) continue;
      const pay = min(owed, b[side].free);
      if (pay.gt(0)) this.payLoan(b, side, side === 'base' ? r.baseAsset : r.quoteAsset, pay, 'LIQUIDATION');
      const left = b[side].borrowed.plus(b[side].interest);
      if (left.gt(0)) {
        shortfall = shortfall.plus(side === 'base' ? left.mul(price) : left);
        b[side].borrowed = ZERO;
        b[side].interest = ZERO;
      }
    }
    b.inMarginCall = false;
    this.events.push({ type: 'LIQUIDATION', accountId: b.accountId, symbol: b.symbol, marginLevel: level, price, shortfall, ts: this.now });
    this.events.push({ type: 'BALANCE', accountId: b.accountId, symbol: b.symbol, ts: this.now });
  }
}

function key(a: string, b: string): string {
  return `${a}\u0000${b}`;
}

function assetSide(r: MarginPairRules, asset: string): 'base' | 'quote' | null {
  return asset === r.baseAsset ? 'base' : asset === r.quoteAsset ? 'quote' : null;
}

function owes(b: IsolatedBook): boolean {
  return b.base.borrowed.gt(0) || b.base.interest.gt(0) || b.quote.borrowed.gt(0) || b.quote.interest.gt(0);
}

function balancesOf(b: IsolatedBook): IsolatedMarginBalances {
  return {
    baseFree: b.base.free,
    baseLocked: b.base.locked,
    baseBorrowed: b.base.borrowed,
    baseInterest: b.base.interest,
    quoteFree: b.quote.free,
    quoteLocked: b.quote.locked,
    quoteBorrowed: b.quote.borrowed,
    quoteInterest: b.quote.interest,
  };
}

function snapshot(o: MarginOrderRecord): MarginOrderRecord {
  return { ...o, fills: o.fills.map((f) => ({ ...f })) };
}
