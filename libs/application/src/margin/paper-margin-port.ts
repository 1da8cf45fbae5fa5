import { randomBytes } from 'node:crypto';
import type { MarketTick } from '@bulwark/contracts';
import {
  type D,
  dec,
  err,
  type MarginOrderRecord,
  type MarginPairRules,
  MarginVenueErrors,
  ok,
  PaperMarginVenue,
  type Rejection,
  type Result,
  str,
  type VenueRejection,
} from '@bulwark/domain';
import type { IsolatedMarginAccount, MarginInterestRow, MarginOrderPlacement, MarginOrderSnapshot } from '@bulwark/venues';
import { venuesLib } from '../venues-lib';
import type { ClosableMarginVenue } from './margin-execution';

/*
 * Why a port and not the local venue in process: a backtest drives thousands of steps, and the
 * local venue answers each read over HTTP through ccxt. The port calls the same paper engine
 * directly and gives exactly what BinanceMarginVenue gives against the local venue
 * (libs/binance-local/src/margin-server.ts) for the same engine state: the same JSON, built here
 * with the venue's 8-decimal strings, read back by the adapter's own parsers
 * (isolatedAccountOf, marginOrderSnapshot), and the same refusals ({code, message} as the
 * adapter's toVenueFailure reads Binance's `{"code","msg"}` body).
 */

type Raw = Record<string, unknown>;

/** Binance's decimal strings: 8 decimals, half-even (the engine's rounding), as margin-server's `f8`. */
const f8 = (d: D): string => d.toFixed(8);

/** The adapter's `read` throws the rejection; its `write` returns it. */
const rejection = (code: number, message: string): VenueRejection => ({ code: String(code), message: message.slice(0, 400) });

/** The local venue's request-level refusals (libs/binance-local/src/errors.ts BinanceErrors), as the adapter reads them. */
const Refusals = {
  mandatory: (param: string) => rejection(-1102, `Mandatory parameter '${param}' was not sent, was empty/null, or malformed.`),
  invalidParam: (param: string) => rejection(-1130, `Data sent for parameter '${param}' is not valid.`),
  invalidOrderType: () => rejection(-1116, 'Invalid orderType.'),
  invalidSide: () => rejection(-1117, 'Invalid side.'),
};

/**
 * An engine refusal as the adapter returns it: the local venue answers Binance's code and the
 * canonical text of MarginVenueErrors without the engine's detail (margin-server's `unwrap`);
 * a code that is not a number is sent as -1000.
 */
function fromEngine(r: Rejection): VenueRejection {
  const n = Number(r.code);
  const canonical = Object.values(MarginVenueErrors).find((e) => e.code === r.code && r.message.startsWith(e.message));
  return rejection(Number.isFinite(n) ? n : -1000, canonical?.message ?? r.message);
}

/** The local venue's `amountParam`: a plain non-negative decimal string, else -1102 (empty) or -1130. */
function amountParam(name: string, raw: string): Result<D, VenueRejection> {
  if (raw === '') return err(Refusals.mandatory(name));
  if (!/^\d+(\.\d+)?$/.test(raw)) return err(Refusals.invalidParam(name));
  return ok(dec(raw));
}

/** Options of {@link PaperMarginPort}. */
export interface PaperMarginPortOptions {
  /** The Bulwark account this port trades (the engine's account id). */
  accountId: string;
  /** The isolated pairs served (loadMarginPair(...).rules); any other symbol is refused as the adapter refuses an unconfigured pair. */
  rules: MarginPairRules[];
  /** The engine (default: a new one over `rules`). */
  engine?: PaperMarginVenue;
}

/**
 * Spot isolated margin for one account on an in-process `PaperMarginVenue`, answering as
 * `BinanceMarginVenue` answers against the local venue (`bulwark venue serve --venue
 * binance-margin`) for the same engine state: amounts and prices as exact decimals rounded to
 * Binance's 8 decimals, orders with their fills and commission, what a MARGIN_BUY borrowed,
 * interest rows with the DAILY rate, Binance's error codes as `VenueRejection {code, message}`
 * (writes) or `VenueCallError` (reads). Market time moves only through `applyStep`.
 *
 * Units: base amounts in the base asset, quote amounts in the quote asset, prices quote per base,
 * times epoch ms.
 */
export class PaperMarginPort implements ClosableMarginVenue {
  readonly accountId: string;
  readonly engine: PaperMarginVenue;
  private readonly rules: ReadonlyMap<string, MarginPairRules>;

  constructor(o: PaperMarginPortOptions) {
    this.accountId = o.accountId;
    this.rules = new Map(o.rules.map((r) => [r.symbol, r]));
    this.engine = o.engine ?? new PaperMarginVenue(this.rules);
  }

  /** Credit the account's spot wallet (`POST /bulwark/v1/deposit`, or the local venue's starting `spot`). `amount` in `asset`. */
  deposit(asset: string, amount: D): void {
    this.engine.deposit(this.accountId, asset, amount);
  }

  /**
   * Walk the engine along the tick's path step, as the local venue's clock does for
   * `POST /bulwark/v1/advance?to=` (the step `{from, to, gap, ts, barVolume}` of the same candle
   * path, see startBinanceMarginLocal): interest of each full hour passed, resting orders the
   * step reaches, the venue's margin call and liquidation. A step at or before the engine's time
   * is not walked again (the local venue's `advanceTo` walks nothing then).
   * @returns the engine's market time afterwards, epoch ms
   * @throws RangeError when the tick's symbol is not a pair of this port
   */
  applyStep(tick: Pick<MarketTick, 'symbol' | 'ts' | 'from' | 'to' | 'gap' | 'barVolume'>): number {
    if (!this.rules.has(tick.symbol)) throw new RangeError(`PaperMarginPort: ${tick.symbol} is not a pair of this port (${[...this.rules.keys()].join(', ')})`);
    if (tick.ts > this.engine.time()) this.engine.step(tick.symbol, { from: tick.from, to: tick.to, gap: tick.gap, ts: tick.ts, barVolume: tick.barVolume ?? null });
    // Events of the engine reach nobody here (the local venue streams them to WebSocket users).
    this.engine.drain();
    return this.engine.time();
  }

  async close(): Promise<void> {
    // Nothing to release: no connection, no timer.
  }

  // ---------------------------------------------------------------- transfers, borrow, repay

  /** Spot wallet → the pair's isolated account (`MAIN_ISOLATED_MARGIN`). -3041 when the spot balance is short. */
  async transferToMargin(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    return this.transfer(symbol, asset, amount, 'TO_MARGIN');
  }

  /** The pair's isolated account → spot wallet (`ISOLATED_MARGIN_MAIN`). -3020 over the transfer-out bar, -3041 over the free balance. */
  async transferToSpot(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    return this.transfer(symbol, asset, amount, 'TO_SPOT');
  }

  /** Borrow in the pair's isolated account (-3006 above maxBorrowable; -3044 before the pair's first price). */
  async borrow(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    return this.loan(symbol, asset, amount, 'BORROW');
  }

  /** Repay interest first, then principal (-3015 over what is owed, -3041 over the free balance). */
  async repay(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    return this.loan(symbol, asset, amount, 'REPAY');
  }

  // ---------------------------------------------------------------- reads

  /**
   * The pair's isolated account (`GET /sapi/v1/margin/isolated/account`): balances, margin level
   * (999 when nothing is owed), its status against the venue's bars, liquidation and index price
   * (0 before the first step).
   * @throws VenueCallError PAIR_NOT_CONFIGURED for a pair this port does not serve; -3003 when the
   *   account has no isolated account for the pair yet (nothing transferred in)
   */
  async isolatedAccount(symbol: string): Promise<IsolatedMarginAccount> {
    const r = this.pairOrThrow(symbol);
    const a = this.engine.account(this.accountId, symbol);
    if (!a) throw new (venuesLib().VenueCallError)({ code: '-3003', message: `Margin account does not exist. (no isolated account for ${symbol})` });
    const level = a.equity?.marginLevel ?? null;
    const asset = (name: string, x: { free: D; locked: D; borrowed: D; interest: D }) => ({
      asset: name, free: f8(x.free), locked: f8(x.locked), borrowed: f8(x.borrowed), interest: f8(x.interest),
      netAsset: f8(x.free.plus(x.locked).minus(x.borrowed).minus(x.interest)), totalAsset: f8(x.free.plus(x.locked)),
    });
    const status = level === null || level.gte(r.bars.transferOut) ? 'EXCESSIVE' : level.gt(r.bars.marginCall) ? 'NORMAL' : level.gt(r.bars.liquidation) ? 'MARGIN_CALL' : 'FORCE_LIQUIDATION';
    return venuesLib().isolatedAccountOf({
      symbol, baseAsset: asset(r.baseAsset, a.base), quoteAsset: asset(r.quoteAsset, a.quote),
      // Binance answers 999 for an account that owes nothing.
      marginLevel: level ? f8(level) : '999.00000000', marginLevelStatus: status,
      indexPrice: a.price ? f8(a.price) : '0.00000000', liquidatePrice: a.liquidationPrice ? f8(a.liquidationPrice) : '0.00000000',
      tradeEnabled: true, enabled: true,
    });
  }

  /**
   * Interest accruals of one asset of the pair (`GET /sapi/v1/margin/interestHistory`), oldest
   * first, from `sinceMs` (epoch ms) when given; `interestRate` is the DAILY rate. At most 100 rows:
   * the local venue answers the first page whatever page is asked, so the adapter's walk ends there.
   * @throws VenueCallError PAIR_NOT_CONFIGURED
   */
  async interestHistory(symbol: string, asset: string, sinceMs?: number): Promise<MarginInterestRow[]> {
    this.pairOrThrow(symbol);
    return this.engine
      .interestHistory(this.accountId, symbol)
      .filter((r) => (!asset || r.asset === asset) && (sinceMs === undefined || r.time >= sinceMs))
      .slice(0, 100)
      .map((r) => ({
        txId: String(r.txId), asset: r.asset, isolatedSymbol: r.symbol, principal: dec(f8(r.principal)), interest: dec(f8(r.interest)),
        interestRate: dec(f8(r.interestRate)), type: r.type, ts: r.time,
      }));
  }

  // ---------------------------------------------------------------- orders

  /**
   * Place an isolated-margin order (`POST /sapi/v1/margin/order`, FULL answer): a MARKET order
   * fills at the pair's current price at once (taker), with its fill and commission; MARGIN_BUY
   * borrows what it lacks. Refusals: -1013 (LOT_SIZE, PRICE_FILTER, NOTIONAL), -2010 (insufficient
   * balance, duplicate client id, would take), -3006, -3044, -1102/-1116/-1117/-1130 for malformed
   * fields, PAIR_NOT_CONFIGURED.
   */
  async placeOrder(o: MarginOrderPlacement): Promise<Result<MarginOrderSnapshot, VenueRejection>> {
    const r = this.pair(o.symbol);
    if (!r.ok) return r;
    if (o.side !== 'BUY' && o.side !== 'SELL') return err(Refusals.invalidSide());
    if (o.type !== 'MARKET' && o.type !== 'LIMIT' && o.type !== 'LIMIT_MAKER') return err(Refusals.invalidOrderType());
    if (!['NO_SIDE_EFFECT', 'MARGIN_BUY', 'AUTO_REPAY', 'AUTO_BORROW_REPAY'].includes(o.sideEffectType)) return err(Refusals.invalidParam('sideEffectType'));
    // The adapter sends timeInForce for LIMIT only (GTC unless given).
    const tif = o.type === 'LIMIT' ? o.timeInForce ?? 'GTC' : undefined;
    if (tif !== undefined && tif !== 'GTC' && tif !== 'IOC' && tif !== 'FOK') return err(Refusals.invalidParam('timeInForce'));
    const quantity = amountParam('quantity', str(o.quantity));
    if (!quantity.ok) return quantity;
    let price: D | undefined;
    if (o.type !== 'MARKET' && o.price) {
      const p = amountParam('price', str(o.price));
      if (!p.ok) return p;
      price = p.value;
    }
    const placed = this.engine.placeOrder({
      accountId: this.accountId, symbol: o.symbol, side: o.side, type: o.type, sideEffectType: o.sideEffectType,
      clientOrderId: o.clientOrderId || `x-${randomBytes(11).toString('hex')}`, quantity: quantity.value, price, timeInForce: tif,
    });
    this.engine.drain();
    if (!placed.ok) return err(fromEngine(placed.error));
    return ok(venuesLib().marginOrderSnapshot(fullOrderJson(placed.value)));
  }

  /**
   * One order by orderId or client order id (`GET /sapi/v1/margin/order`): no fills listed, no
   * marginBuyBorrowAmount (the query's answer has neither); null when the venue does not know it.
   * @throws VenueCallError PAIR_NOT_CONFIGURED; -1130 for an orderId that is not an integer; -1102 with neither id
   */
  async order(symbol: string, ref: { orderId?: string; clientOrderId?: string }): Promise<MarginOrderSnapshot | null> {
    this.pairOrThrow(symbol);
    let found: MarginOrderRecord | null;
    if (ref.orderId) {
      if (!/^\d+$/.test(ref.orderId)) throw new (venuesLib().VenueCallError)(Refusals.invalidParam('orderId'));
      found = this.engine.order(this.accountId, symbol, { orderId: Number(ref.orderId) });
    } else if (ref.clientOrderId) {
      found = this.engine.order(this.accountId, symbol, { clientOrderId: ref.clientOrderId });
    } else throw new (venuesLib().VenueCallError)(Refusals.mandatory('orderId'));
    return found ? venuesLib().marginOrderSnapshot(orderRowJson(found)) : null;
  }

  // ---------------------------------------------------------------- internals

  /** The adapter's own refusal of a pair it was not configured for (nothing is sent). */
  private pair(symbol: string): Result<MarginPairRules, VenueRejection> {
    const r = this.rules.get(symbol);
    if (!r) return err({ code: 'PAIR_NOT_CONFIGURED', message: `this adapter trades the isolated pairs ${[...this.rules.keys()].join(', ')} only (asked for ${symbol})` });
    return ok(r);
  }

  private pairOrThrow(symbol: string): MarginPairRules {
    const p = this.pair(symbol);
    if (!p.ok) throw new (venuesLib().VenueCallError)(p.error);
    return p.value;
  }

  private transfer(symbol: string, asset: string, amount: D, direction: 'TO_MARGIN' | 'TO_SPOT'): Result<{ tranId: string }, VenueRejection> {
    const p = this.pair(symbol);
    if (!p.ok) return p;
    if (asset === '') return err(Refusals.mandatory('asset'));
    const a = amountParam('amount', str(amount));
    if (!a.ok) return a;
    const r = this.engine.transfer({ accountId: this.accountId, symbol, asset, amount: a.value, direction });
    this.engine.drain();
    return r.ok ? ok({ tranId: String(r.value.tranId) }) : err(fromEngine(r.error));
  }

  private loan(symbol: string, asset: string, amount: D, type: 'BORROW' | 'REPAY'): Result<{ tranId: string }, VenueRejection> {
    const p = this.pair(symbol);
    if (!p.ok) return p;
    if (asset === '') return err(Refusals.mandatory('asset'));
    const a = amountParam('amount', str(amount));
    if (!a.ok) return a;
    const q = { accountId: this.accountId, symbol, asset, amount: a.value };
    const r = type === 'BORROW' ? this.engine.borrow(q) : this.engine.repay(q);
    this.engine.drain();
    return r.ok ? ok({ tranId: String(r.value.tranId) }) : err(fromEngine(r.error));
  }
}

/** margin-server's FULL answer of `POST /sapi/v1/margin/order` (the fields the adapter reads). */
function fullOrderJson(r: MarginOrderRecord): Raw {
  return {
    symbol: r.symbol, orderId: r.orderId, clientOrderId: r.clientOrderId, transactTime: r.time, price: f8(r.price), origQty: f8(r.origQty),
    executedQty: f8(r.executedQty), cummulativeQuoteQty: f8(r.cummulativeQuoteQty), status: r.status, timeInForce: r.timeInForce ?? 'GTC',
    type: r.type, side: r.side,
    ...(r.marginBuyBorrowAsset ? { marginBuyBorrowAmount: f8(r.marginBuyBorrowAmount), marginBuyBorrowAsset: r.marginBuyBorrowAsset } : {}),
    fills: r.fills.map((x) => ({ price: f8(x.price), qty: f8(x.qty), commission: f8(x.commission), commissionAsset: x.commissionAsset, tradeId: x.tradeId })),
  };
}

/** margin-server's answer of `GET /sapi/v1/margin/order` (no fills, no borrow; its time is updateTime). */
function orderRowJson(r: MarginOrderRecord): Raw {
  return {
    symbol: r.symbol, orderId: r.orderId, clientOrderId: r.clientOrderId, price: f8(r.price), origQty: f8(r.origQty), executedQty: f8(r.executedQty),
    cummulativeQuoteQty: f8(r.cummulativeQuoteQty), status: r.status, timeInForce: r.timeInForce ?? 'GTC', type: r.type, side: r.side,
    time: r.time, updateTime: r.updateTime,
  };
}
