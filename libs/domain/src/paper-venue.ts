import type { OrderPurpose, OrderSide, OrderType, PositionSide, TimeInForce } from '@bulwark/contracts';
import { fundingPayment } from './funding';
import { shortHash } from './ids';
import { initialMargin, liquidationCloseFeeRate, liquidationPrice } from './liquidation';
import { crossing } from './market-path';
import { dec, floorToStep, PLAIN_DECIMAL, str, ZERO, type D } from './money';
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
  /** A conditional (algo) order whose trigger is already reached at placement (Binance -2021). */
  WOULD_IMMEDIATELY_TRIGGER: { code: '-2021', message: 'Order would immediately trigger.' },
  /** A clientAlgoId used before by this account (Binance "20xxx - Futures/Spot Algo" error codes). */
  DUPLICATE_ALGO: { code: '-20132', message: 'The client algo id is duplicated.' },
  /** A required parameter is missing (e.g. quantity without closePosition). */
  MANDATORY_PARAM: { code: '-1102', message: 'Mandatory parameter was not sent, was empty/null, or malformed.' },
  /** A parameter that must not be sent with the others (reduceOnly with closePosition=true). */
  PARAM_NOT_REQUIRED: { code: '-1106', message: 'Parameter sent when not required.' },
  /** closePosition=true with a quantity. */
  QTY_WITH_CLOSE_POSITION: { code: '-4137', message: 'Quantity must be zero with closePosition equals true.' },
  /** A trigger price <= 0. */
  STOP_PRICE_NOT_POSITIVE: { code: '-4006', message: 'Stop price less than zero.' },
  /** FOK_ORDER_REJECT: a LIMIT FOK order that cannot fill whole at once is rejected, not recorded (see PaperOrderRequest.timeInForce). */
  FOK_REJECTED: { code: '-5021', message: 'Due to the order could not be filled immediately, the FOK order has been rejected. The order would not be recorded in the order history.' },
  /** GTX_ORDER_REJECT: a LIMIT GTX (post-only) order that would take liquidity is rejected, not recorded. */
  GTX_REJECTED: { code: '-5022', message: 'Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history.' },
} as const;

/**
 * Not a Binance error: the unfilled rest of a LIMIT IOC order, canceled by its time in force
 * (Binance reports it as ORDER_TRADE_UPDATE x = EXPIRED, with no error code). The engine carries
 * it on a `rejected` event, which every consumer reads as "the venue ended the order EXPIRED".
 */
export const IOC_EXPIRED = { code: 'IOC_EXPIRED', message: 'The rest of the IOC order that could not fill immediately expired.' } as const;

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
  /**
   * Time in force of a LIMIT order (ignored for MARKET); absent = GTC, the engine's historical
   * behaviour. Binance USDⓈ-M semantics ("New Order (TRADE)", timeInForce; error codes -5021,
   * -5022: https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Order,
   * https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code), where the
   * "book" is the price path and "immediately" is the first step after placement (the same
   * moment a queued MARKET order fills):
   * - GTC: rests until filled or canceled.
   * - IOC: fills at the step's first tradable price when that is at its limit or better (BUY:
   *   price ≤ limit, SELL: ≥), as a taker, at most what the step's liquidity allows; the rest
   *   is canceled at once: EXPIRED (executedQty keeps the fill), a `rejected` event with
   *   IOC_EXPIRED. Nothing reachable → EXPIRED with no fill.
   * - FOK: all or nothing. Not marketable at placement against the last price → -5021 at once
   *   (not recorded, as Binance documents). Accepted, but at the step the price moved away or
   *   the step's liquidity is short of the whole quantity → refused whole: a `rejected` event
   *   -5021 and the record EXPIRED with no fill (the engine had already given it an id).
   * - GTX (post-only): marketable at placement against the last price (BUY limit ≥ last, SELL
   *   limit ≤ last: it would take) → -5022 (not recorded). Otherwise it rests like GTC and
   *   every fill is MAKER at its limit price (a resting order trades at its own price, also
   *   when a gap jumps through it).
   */
  timeInForce?: TimeInForce;
}

/** True when a LIMIT order at `limit` would trade against `price` (BUY: price ≤ limit; SELL: price ≥ limit). */
function marketableAt(side: OrderSide, limit: D, price: D): boolean {
  return side === 'BUY' ? price.lte(limit) : price.gte(limit);
}

interface RestingOrder extends PaperOrderRequest {
  venueOrderId: string;
  accountId: string;
  /** Trades each fill of this order is split into (PaperVenueOptions.tradesPerFill or the order's own). */
  tradesPerFill: number;
  /** A MARKET order that already met the market (partly filled, or nothing fillable on its step): its rest fills at the next steps' first price. */
  working: boolean;
}

/**
 * How much of an order the paper venue fills on one path step.
 * - `WHOLE` (the default): the whole order in one fill, as the venue always did.
 * - `VOLUME_SHARE`: at most `share` × the bar's base volume / 4 per order and step (the bar's
 *   volume spread evenly over its 4 path steps), rounded down to the order's lot step (MARKET
 *   lot step for MARKET orders); the rest stays working and fills on the following steps at
 *   their prices (a MARKET remainder at the step's first price, a LIMIT remainder where the
 *   step reaches its price). A step that carries no bar volume does not limit the fill.
 *   Liquidations are never limited.
 */
export type PaperLiquidityModel = { kind: 'WHOLE' } | { kind: 'VOLUME_SHARE'; share: D };

/**
 * Options of a PaperVenue (constructor). Defaults reproduce the venue's historical behaviour
 * bit for bit: `{ liquidity: { kind: 'WHOLE' }, tradesPerFill: 1 }`.
 */
export interface PaperVenueOptions {
  /** Per-step liquidity of orders (see PaperLiquidityModel); share must be > 0 and <= 1. */
  liquidity?: PaperLiquidityModel;
  /**
   * Split every fill of a regular order into this many trades on the same step at the same
   * price (integer 1..1000, see splitOnStep); liquidations stay one trade. Default 1.
   */
  tradesPerFill?: number;
}

/** Options of one order at placement (the local venue's `splitFill` fault sets them). */
export interface PaperOrderOptions {
  /** Split each fill of this order into this many trades (integer 1..1000); default: the venue's tradesPerFill. */
  tradesPerFill?: number;
}

/** A PaperVenueOptions / PaperOrderOptions value out of range: names the field, the value and the range. */
export class PaperVenueOptionsError extends Error {
  constructor(readonly field: string, readonly value: string, readonly expected: string) {
    super(`paper venue option ${field} = ${value}: expected ${expected}`);
    this.name = 'PaperVenueOptionsError';
  }
}

const MAX_TRADES_PER_FILL = 1000;

function checkTradesPerFill(field: string, n: number | undefined): number {
  if (n === undefined) return 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_TRADES_PER_FILL) throw new PaperVenueOptionsError(field, String(n), `an integer from 1 to ${MAX_TRADES_PER_FILL}`);
  return n;
}

/**
 * Split a fill quantity into at most `n` trade quantities on the lot step: k = min(n, whole
 * lots in `total`) trades, the first k − 1 of floor(lots / k) lots each, the last the
 * remainder (so the parts sum to `total` exactly, none is zero, and each is a multiple of
 * `step` when `total` is). `n` <= 1, or `total` below 2 lots, gives `[total]`.
 * @param total base quantity > 0
 * @param step lot step > 0
 */
export function splitOnStep(total: D, step: D, n: number): D[] {
  if (n <= 1) return [total];
  const lots = total.div(step).floor();
  const k = lots.lt(n) ? lots.toNumber() : n;
  if (k <= 1) return [total];
  const each = lots.div(k).floor().mul(step);
  const out: D[] = [];
  for (let i = 1; i < k; i++) out.push(each);
  out.push(total.minus(each.mul(k - 1)));
  return out;
}

/** One path step as the venue takes it: price `from` → `to` (a jump when `gap`) at market time `ts`, with the bar's base volume when known. */
export interface PaperStep {
  from: string;
  to: string;
  gap: boolean;
  ts: number;
  /** Base-asset volume of the whole bar this step belongs to (the candle's `volume`); VOLUME_SHARE needs it. */
  barVolume?: string | null;
}

/**
 * Order status as Binance reports it (`GET /fapi/v1/order` `status`). PARTIALLY_FILLED: some
 * trades done, the rest still working (VOLUME_SHARE liquidity, or between the trades of a
 * split fill); EXPIRED is a reduce-only order the venue refused when it came to fill (its
 * position was gone; executedQty keeps what filled before), an IOC's unfilled rest or a FOK
 * that could not fill whole (see PaperOrderRequest.timeInForce), REJECTED never happens after
 * acceptance. A canceled PARTIALLY_FILLED order is CANCELED with its executedQty.
 */
export type PaperOrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'EXPIRED';

/**
 * Every order the venue accepted, kept after it is done (Binance `GET /fapi/v1/order`,
 * `GET /fapi/v1/allOrders`), including the venue's own liquidation orders (`autoclose-…`,
 * type MARKET, reduce-only, purpose LIQUIDATION) and the MARKET orders triggered algo
 * orders create (clientOrderId = the clientAlgoId, triggerPrice = the algo's trigger price).
 */
export interface PaperOrderRecord extends PaperOrderRequest {
  accountId: string;
  venueOrderId: string;
  status: PaperOrderStatus;
  /** Filled base quantity (the whole quantity once FILLED), ZERO until filled. */
  executedQty: D;
  /** Average fill price (Σ quantity × price of its trades / executedQty, exact), USDT, ZERO until filled. */
  avgPrice: D;
  /** Market time (ms, the ts of the last step the venue saw) when placed. */
  time: number;
  /** Market time (ms) of the last status change (the fill's step ts for a fill). */
  updateTime: number;
}

/**
 * Conditional order types of Binance's algo service (`POST /fapi/v1/algoOrder`,
 * "New Algo Order (TRADE)", algoType CONDITIONAL; since Dec 2025 the only way to place
 * STOP_MARKET / TAKE_PROFIT_MARKET on USDⓈ-M futures).
 */
export type PaperAlgoType = 'STOP_MARKET' | 'TAKE_PROFIT_MARKET';

/** `algoStatus`: NEW (waiting), TRIGGERED (transient), FINISHED (its order was created and filled), CANCELED, EXPIRED (its order was refused at trigger). */
export type PaperAlgoStatus = 'NEW' | 'TRIGGERED' | 'FINISHED' | 'CANCELED' | 'EXPIRED';

/**
 * A conditional order request (`POST /fapi/v1/algoOrder`, algoType CONDITIONAL, workingType
 * CONTRACT_PRICE: the paper venue's mark is the last price).
 *
 * Binance's trigger rules: a STOP_MARKET SELL / TAKE_PROFIT_MARKET BUY triggers when the
 * price falls to `triggerPrice` (so it needs triggerPrice < the current price), a STOP_MARKET
 * BUY / TAKE_PROFIT_MARKET SELL when it rises to it (triggerPrice > the current price);
 * otherwise -2021 "Order would immediately trigger.".
 * Sources: Binance "New Algo Order (TRADE)",
 * https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order
 * (STOP_MARKET / TAKE_PROFIT_MARKET trigger rules, closePosition, clientAlgoId) and the error
 * codes, https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code
 * (-2021, -20132, -4137, -1102, -1106, -4006).
 */
export interface PaperAlgoOrderRequest {
  /** Unique per account, forever (a reused one is -20132). Becomes the clientOrderId of the triggered order. */
  clientAlgoId: string;
  symbol: string;
  side: OrderSide;
  type: PaperAlgoType;
  /** USDT, a multiple of the tick size, > 0. */
  triggerPrice: D;
  /** Base quantity (MARKET lot step); null with closePosition. */
  quantity: D | null;
  /** Close the whole position at trigger time (Binance "Close-All"); no quantity, no reduceOnly. */
  closePosition: boolean;
  reduceOnly: boolean;
  /** Default: STOP_LOSS for STOP_MARKET, TAKE_PROFIT for TAKE_PROFIT_MARKET. */
  purpose?: OrderPurpose;
}

/** An algo order as the venue keeps it (Binance `GET /fapi/v1/algoOrder`, `openAlgoOrders`, `allAlgoOrders`). */
export interface PaperAlgoRecord extends Omit<PaperAlgoOrderRequest, 'purpose'> {
  purpose: OrderPurpose;
  accountId: string;
  /** The venue's id (its own sequence, distinct from venueOrderIds, like Binance's algoId). */
  algoId: string;
  status: PaperAlgoStatus;
  /** venueOrderId of the MARKET order created when triggered (Binance `actualOrderId`), null before. */
  actualOrderId: string | null;
  /** Market time (ms) when placed / last changed. */
  time: number;
  updateTime: number;
}

/** The purpose an algo order gets when its request names none. */
export function defaultAlgoPurpose(type: PaperAlgoType): OrderPurpose {
  return type === 'STOP_MARKET' ? 'STOP_LOSS' : 'TAKE_PROFIT';
}

/** The direction of the price motion that triggers an algo order (see PaperAlgoOrderRequest). */
export function algoTriggerDirection(type: PaperAlgoType, side: OrderSide): 'down' | 'up' {
  return (type === 'STOP_MARKET') === (side === 'SELL') ? 'down' : 'up';
}

/** A fill (one trade) produced by the venue: one per order with the default options, several with VOLUME_SHARE liquidity or tradesPerFill > 1. */
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
  /**
   * The order's cumulative filled base quantity after this trade, as the venue reports it
   * (Binance ORDER_TRADE_UPDATE `z`, ccxt order `filled`). Set by the paper engine on every
   * fill; absent when a venue does not report it.
   */
  cumulativeQuantity?: D;
}

/** What happened at the venue on one step of the price path, in order. */
export type PaperVenueEvent =
  | { kind: 'fill'; fill: PaperFill }
  /**
   * An accepted order the venue ended EXPIRED on this step: refused when it came to fill
   * (-2022 reduce-only, -5021 a FOK that cannot fill whole) or the unfilled rest of an IOC
   * canceled by its time in force (code IOC_EXPIRED); fills it made before stay booked.
   */
  | { kind: 'rejected'; accountId: string; clientOrderId: string; code: string; message: string; ts: number }
  | { kind: 'funding'; accountId: string; symbol: string; amount: D; rate: D; markPrice: D; ts: number }
  /**
   * An algo order triggered: its MARKET order (venueOrderId, clientOrderId = clientAlgoId)
   * was created; the next event for that order is its `fill`, or a `rejected` (-2022) when
   * there was no position left to reduce (the algo is then EXPIRED).
   */
  | { kind: 'algoTriggered'; accountId: string; symbol: string; algoId: string; clientAlgoId: string; venueOrderId: string; ts: number };

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

/** A recorded fact that does not fit the paper venue's state (restorePaperVenue, PaperVenue.restoreHooks). */
export class PaperRestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PaperRestoreError';
  }
}

/** One trade as recorded (OrderFilled): what PaperVenueRestoreHooks.trade books again. */
export interface PaperRecordedTrade {
  tradeId: string;
  /** Base quantity of the trade. */
  quantity: D;
  /** USDT per unit. */
  price: D;
  liquidity: 'TAKER' | 'MAKER';
  /** The leverage in force when it filled. */
  leverage: number;
}

/** See PaperVenue.restoreHooks. Times are market time (epoch ms). */
export interface PaperVenueRestoreHooks {
  /** The market reached a step at `ts` (the venue's `now`), with last price `price` when known (else kept). */
  market(symbol: string, ts: number, price: D | null): void;
  /** placeOrder's acceptance under the recorded venue order id (record NEW at `now`). */
  accept(accountId: string, o: PaperOrderRequest, venueOrderId: string): void;
  /** placeAlgoOrder's acceptance under the recorded algo id. */
  acceptAlgo(accountId: string, req: PaperAlgoOrderRequest, algoId: string): void;
  /** The settlement `step` books first on the step that carries it; returns its funding events. */
  funding(symbol: string, rate: D, markPrice: D, ts: number): PaperVenueEvent[];
  /** One trade of a working order, booked as `step` books it; returns the trade. */
  trade(accountId: string, venueOrderId: string, t: PaperRecordedTrade, ts: number): PaperFill;
  /** A liquidation at the recorded price with the recorded ids (the engine caps at the bankruptcy price the same way); returns the trade. */
  liquidation(accountId: string, symbol: string, price: D, ts: number, venueOrderId: string, tradeId: string): PaperFill;
  /** A waiting algo order triggered: its MARKET order is created and works until its trades or its expiry; returns its venue order id. */
  triggerAlgo(accountId: string, clientAlgoId: string, ts: number): string;
  /** An order refused when it came to fill (-2022 or a triggered algo's refusal): EXPIRED, out of the book (its algo EXPIRED too). */
  expire(accountId: string, venueOrderId: string, ts: number): void;
}

type SnapshotOrder = {
  clientOrderId: string; symbol: string; side: OrderSide; type: OrderType; quantity: string; price: string | null; reduceOnly: boolean; purpose: OrderPurpose; triggerPrice: string | null;
  /** Only when the order carries one (LIMIT with a time in force). */
  timeInForce?: TimeInForce;
};

/** PaperVenue.snapshot(): the engine's state as plain data, decimals as exact strings (money.str). */
export interface PaperVenueSnapshot {
  accounts: Array<{
    accountId: string;
    walletBalance: string;
    positionMode: 'ONE_WAY' | null;
    marginMode: Array<[string, 'ISOLATED']>;
    leverage: Array<[string, number]>;
    positions: Array<{ symbol: string; side: PositionSide; quantity: string; entryPrice: string; isolatedMargin: string; leverage: number }>;
  }>;
  resting: Array<SnapshotOrder & { venueOrderId: string; accountId: string; tradesPerFill: number; working: boolean }>;
  clientIds: string[];
  lastPrice: Array<[string, string]>;
  orderSeq: number;
  tradeSeq: number;
  algoSeq: number;
  lastTs: number;
  records: Array<{ accountId: string; orders: Array<SnapshotOrder & { accountId: string; venueOrderId: string; status: PaperOrderStatus; executedQty: string; avgPrice: string; time: number; updateTime: number }> }>;
  trades: Array<{ accountId: string; trades: Array<Omit<PaperFill, 'quantity' | 'price' | 'fee' | 'realisedPnl' | 'liquidationFee' | 'cumulativeQuantity'> & { quantity: string; price: string; fee: string; realisedPnl: string; liquidationFee: string; cumulativeQuantity: string | undefined }> }>;
  algos: Array<{ accountId: string; algos: Array<Omit<PaperAlgoRecord, 'triggerPrice' | 'quantity'> & { triggerPrice: string; quantity: string | null }> }>;
  /** algoIds of the waiting algo orders, in placement order. */
  openAlgos: string[];
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
 * Conditional (algo) orders (`placeAlgoOrder`) wait at the venue; when a step's motion
 * reaches their trigger they create a MARKET order (clientOrderId = clientAlgoId) that fills
 * as a taker at the crossing price, ranked like the triggered internal stops (rank 2); at
 * the same point, internal stops (in placement order) fill before algo orders (in placement
 * order).
 *
 * Every accepted order is kept as a PaperOrderRecord and every fill in a per-account trade
 * list (lookups by clientOrderId / venueOrderId are O(1)). `now()` is the ts of the last step.
 *
 * Partial fills (opt-in, PaperVenueOptions): with VOLUME_SHARE liquidity an order fills at
 * most its step's share of the bar volume and the rest keeps working on the following steps;
 * with tradesPerFill = N (or an order's own tradesPerFill) each fill is N trades at the same
 * price. Every trade is its own PaperFill (own trade id, fee = its quantity × price × fee
 * rate, position and isolated margin updated per trade as for a whole fill) carrying the
 * order's cumulative filled quantity; the record is PARTIALLY_FILLED until the last one. A
 * reduce-only remainder larger than the position left is refused (-2022, EXPIRED), so a
 * reduce-only order never flips the position.
 *
 * Not thread-safe and mutable by design: it IS the simulated exchange. No I/O, no clock.
 */
export class PaperVenue {
  private readonly accounts = new Map<string, PaperAccount>();
  private readonly resting: RestingOrder[] = [];
  private readonly clientIds = new Set<string>();
  /** Each symbol's last price: the step's text until something asks for it ({@link lastPriceOf}), then the decimal. */
  private readonly lastPrice = new Map<string, D | string>();

  private lastPriceOf(symbol: string): D | undefined {
    const p = this.lastPrice.get(symbol);
    if (typeof p !== 'string') return p;
    const d = dec(p);
    this.lastPrice.set(symbol, d);
    return d;
  }
  private orderSeq = 0;
  private tradeSeq = 0;
  private algoSeq = 0;
  private lastTs = 0;
  /** venueOrderId → record (venueOrderIds are unique across accounts). */
  private readonly recordsByVenueId = new Map<string, PaperOrderRecord>();
  /** `${accountId}:${clientOrderId}` → the newest record with that id. */
  private readonly recordsByClientId = new Map<string, PaperOrderRecord>();
  /** accountId → its records in placement order. */
  private readonly recordsOf = new Map<string, PaperOrderRecord[]>();
  /** accountId → its fills in order. */
  private readonly tradesOf = new Map<string, PaperFill[]>();
  /** venueOrderId → its fills in order. */
  private readonly tradesByOrder = new Map<string, PaperFill[]>();
  private readonly algosById = new Map<string, PaperAlgoRecord>();
  /** `${accountId}:${clientAlgoId}` → record. */
  private readonly algosByClientId = new Map<string, PaperAlgoRecord>();
  private readonly algosOf = new Map<string, PaperAlgoRecord[]>();
  /** Algo orders with status NEW, in placement order (the only ones `step` scans). */
  private readonly openAlgos: PaperAlgoRecord[] = [];

  private readonly liquidity: PaperLiquidityModel;
  private readonly tradesPerFill: number;

  /**
   * @param rules symbol → instrument rules (filters, brackets, fees)
   * @param options liquidity model and trade split (defaults: WHOLE, 1 trade per fill)
   * @throws PaperVenueOptionsError when an option is out of range (share not in (0, 1], tradesPerFill not an integer 1..1000)
   */
  constructor(private readonly rules: ReadonlyMap<string, Rules>, options: PaperVenueOptions = {}) {
    const liq = options.liquidity ?? { kind: 'WHOLE' };
    if (liq.kind === 'VOLUME_SHARE' && !(liq.share.gt(0) && liq.share.lte(1))) throw new PaperVenueOptionsError('liquidity.share', str(liq.share), 'a decimal > 0 and <= 1');
    if (liq.kind !== 'WHOLE' && liq.kind !== 'VOLUME_SHARE') throw new PaperVenueOptionsError('liquidity.kind', String((liq as { kind: unknown }).kind), "'WHOLE' or 'VOLUME_SHARE'");
    this.liquidity = liq;
    this.tradesPerFill = checkTradesPerFill('tradesPerFill', options.tradesPerFill);
  }

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
    if (this.resting.length > 0 || this.openAlgos.length > 0) return false;
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

  /** Market time (ms): the ts of the last step of a known symbol the venue processed; 0 before any. */
  now(): number {
    return this.lastTs;
  }

  /** The last price of `symbol` (the `to` of its last step; mark = last on the paper venue), null before any step. */
  markPrice(symbol: string): D | null {
    return this.lastPriceOf(symbol) ?? null;
  }

  /**
   * `POST /fapi/v1/order`: validate and accept an order; it fills on a following step.
   * Checks Binance's filters, reduce-only, one-way mode and isolated margin (initial
   * margin + taker fee must fit the available balance at the last price).
   * The accepted order gets a PaperOrderRecord (status NEW).
   * @param opts this order's own trade split (overrides the venue's tradesPerFill)
   * @throws PaperVenueOptionsError when opts.tradesPerFill is not an integer 1..1000
   */
  placeOrder(accountId: string, o: PaperOrderRequest, opts: PaperOrderOptions = {}): Result<{ venueOrderId: string }, VenueRejection> {
    const tradesPerFill = opts.tradesPerFill === undefined ? this.tradesPerFill : checkTradesPerFill('tradesPerFill', opts.tradesPerFill);
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
    const ref = o.price ?? o.triggerPrice ?? this.lastPriceOf(o.symbol);
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
        const e = this.openingCheck(a, r, o, ref);
        if (e) return e;
      }
    }
    // Time in force (LIMIT only): the matching engine's verdict comes after every other check.
    const { timeInForce, ...req } = o;
    const tif = o.type === 'LIMIT' ? timeInForce : undefined;
    if (tif === 'GTX' || tif === 'FOK') {
      const last = this.lastPriceOf(o.symbol);
      const marketable = last !== undefined && marketableAt(o.side, o.price!, last);
      if (tif === 'GTX' && marketable) return venueErr(VenueErrors.GTX_REJECTED, `(price ${str(o.price!)}, last ${str(last!)})`);
      if (tif === 'FOK' && !marketable) return venueErr(VenueErrors.FOK_REJECTED, last ? `(price ${str(o.price!)}, last ${str(last)})` : '(no market price yet)');
    }
    const accepted: PaperOrderRequest = tif === undefined ? req : { ...req, timeInForce: tif };
    this.clientIds.add(`${accountId}:${o.clientOrderId}`);
    const venueOrderId = String(++this.orderSeq);
    this.resting.push({ ...accepted, venueOrderId, accountId, tradesPerFill, working: false });
    this.record({ ...accepted, accountId, venueOrderId, status: 'NEW', executedQty: ZERO, avgPrice: ZERO, time: this.lastTs, updateTime: this.lastTs });
    return ok({ venueOrderId });
  }

  /** Bracket cap and isolated margin checks of an order that opens or increases a position, at price `ref`. */
  private openingCheck(a: PaperAccount, r: Rules, o: PaperOrderRequest, ref: D): Result<never, VenueRejection> | null {
    const pos = a.positions.get(o.symbol);
    const lev = a.leverage.get(o.symbol) ?? 20;
    const newNotional = o.quantity.plus(pos?.quantity ?? ZERO).mul(ref);
    if (newNotional.gt(maxNotionalAt(r, lev))) return venueErr(VenueErrors.MAX_POSITION_AT_LEVERAGE);
    const need = initialMargin(o.quantity.mul(ref), lev).plus(o.quantity.mul(ref).mul(r.takerFeeRate));
    if (need.gt(this.available(a))) return venueErr(VenueErrors.MARGIN_INSUFFICIENT, `(needs ${str(need.toDecimalPlaces(8))}, available ${str(this.available(a).toDecimalPlaces(8))})`);
    return null;
  }

  private record(rec: PaperOrderRecord): void {
    this.recordsByVenueId.set(rec.venueOrderId, rec);
    this.recordsByClientId.set(`${rec.accountId}:${rec.clientOrderId}`, rec);
    const list = this.recordsOf.get(rec.accountId);
    if (list) list.push(rec);
    else this.recordsOf.set(rec.accountId, [rec]);
  }

  private setStatus(venueOrderId: string, status: PaperOrderStatus, ts: number, fill?: { executedQty: D; cumQuote: D }): void {
    const rec = this.recordsByVenueId.get(venueOrderId);
    if (!rec) return;
    rec.status = status;
    rec.updateTime = ts;
    if (fill) {
      rec.executedQty = fill.executedQty;
      rec.avgPrice = fill.cumQuote.div(fill.executedQty);
    }
  }

  /** Σ quantity × price of an order's trades so far, USDT (Binance `cumQuote`); ZERO before any. */
  cumQuote(venueOrderId: string): D {
    let q = ZERO;
    for (const t of this.tradesByOrder.get(venueOrderId) ?? []) q = q.plus(t.quantity.mul(t.price));
    return q;
  }

  private pushTrade(f: PaperFill): void {
    const list = this.tradesOf.get(f.accountId);
    if (list) list.push(f);
    else this.tradesOf.set(f.accountId, [f]);
    const byOrder = this.tradesByOrder.get(f.venueOrderId);
    if (byOrder) byOrder.push(f);
    else this.tradesByOrder.set(f.venueOrderId, [f]);
  }

  /** `DELETE /fapi/v1/order` by client order id. The record becomes CANCELED. */
  cancelOrder(accountId: string, clientOrderId: string): Result<{ venueOrderId: string }, VenueRejection> {
    const i = this.resting.findIndex((o) => o.accountId === accountId && o.clientOrderId === clientOrderId);
    if (i < 0) return venueErr(VenueErrors.UNKNOWN_ORDER);
    const [o] = this.resting.splice(i, 1);
    this.setStatus(o.venueOrderId, 'CANCELED', this.lastTs);
    return ok({ venueOrderId: o.venueOrderId });
  }

  /**
   * `DELETE /fapi/v1/allOpenOrders`: cancel every resting order of the account on `symbol`
   * (not its algo orders: see cancelAllAlgoOrders).
   * @returns the canceled orders' records (status CANCELED), in placement order; [] for an unknown account.
   */
  cancelAllOrders(accountId: string, symbol: string): PaperOrderRecord[] {
    const out: PaperOrderRecord[] = [];
    for (let i = 0; i < this.resting.length; ) {
      const o = this.resting[i];
      if (o.accountId !== accountId || o.symbol !== symbol) {
        i++;
        continue;
      }
      this.resting.splice(i, 1);
      this.setStatus(o.venueOrderId, 'CANCELED', this.lastTs);
      const rec = this.recordsByVenueId.get(o.venueOrderId);
      if (rec) out.push({ ...rec });
    }
    return out;
  }

  /**
   * `GET /fapi/v1/order`: one order of the account by client order id or venue order id
   * (venueOrderId wins when both are given). A clientOrderId used twice (only possible for
   * the order a triggered algo creates, see placeAlgoOrder) answers the newest order.
   * @returns a copy of the record, or null when the account has no such order.
   */
  order(accountId: string, ref: { clientOrderId?: string; venueOrderId?: string }): PaperOrderRecord | null {
    const rec = ref.venueOrderId !== undefined ? this.recordsByVenueId.get(ref.venueOrderId) : ref.clientOrderId !== undefined ? this.recordsByClientId.get(`${accountId}:${ref.clientOrderId}`) : undefined;
    return rec && rec.accountId === accountId ? { ...rec } : null;
  }

  /** `GET /fapi/v1/allOrders`: every order of the account (all statuses), in placement order, optionally of one symbol (copies). */
  orders(accountId: string, symbol?: string): PaperOrderRecord[] {
    const list = this.recordsOf.get(accountId) ?? [];
    return list.filter((o) => symbol === undefined || o.symbol === symbol).map((o) => ({ ...o }));
  }

  /** `GET /fapi/v1/userTrades`: every fill of the account in order (liquidation fills included), optionally of one symbol. */
  trades(accountId: string, symbol?: string): PaperFill[] {
    const list = this.tradesOf.get(accountId) ?? [];
    return list.filter((f) => symbol === undefined || f.symbol === symbol);
  }

  /** `GET /fapi/v1/userTrades?orderId=`: the fills of one order of the account, in order ([] for an unknown order or another account's). */
  orderTrades(accountId: string, venueOrderId: string): PaperFill[] {
    const list = this.tradesByOrder.get(venueOrderId) ?? [];
    return list.length > 0 && list[0].accountId === accountId ? [...list] : [];
  }

  /**
   * `POST /fapi/v1/algoOrder` ("New Algo Order (TRADE)", algoType CONDITIONAL): accept a
   * STOP_MARKET / TAKE_PROFIT_MARKET that waits at the venue until the price reaches its
   * trigger (see PaperAlgoOrderRequest for the direction), checked in this order:
   * -2015 unknown account, -1121 unknown symbol, -20132 clientAlgoId already used by the
   * account (any status), -4061 one-way mode not set, -4006 trigger <= 0, -1111 trigger off
   * the tick, -4137 closePosition with a quantity, -1106 closePosition with reduceOnly,
   * -1102 no quantity without closePosition, -4003 quantity <= 0, -1111 quantity off the
   * MARKET lot step, -4005 above the MARKET max quantity, -1121 no market price yet,
   * -2021 the trigger is already reached at the current price (the mark = last step's `to`).
   * Margin is not reserved: it is checked when the order triggers.
   *
   * The clientAlgoId is not checked against clientOrderIds: if it was already used by a
   * regular order, the triggered order still takes it as its clientOrderId (and `order` by
   * that clientOrderId then answers the newest one).
   */
  placeAlgoOrder(accountId: string, req: PaperAlgoOrderRequest): Result<{ algoId: string }, VenueRejection> {
    const a = this.accounts.get(accountId);
    const r = this.rulesOf(req.symbol);
    if (!a) return venueErr(VenueErrors.UNKNOWN_ACCOUNT);
    if (!r) return venueErr(VenueErrors.UNKNOWN_SYMBOL, req.symbol);
    if (this.algosByClientId.has(`${accountId}:${req.clientAlgoId}`)) return venueErr(VenueErrors.DUPLICATE_ALGO, req.clientAlgoId);
    if (a.positionMode !== 'ONE_WAY') return venueErr(VenueErrors.POSITION_SIDE_MISMATCH, '(set one-way mode first)');
    if (req.triggerPrice.lte(0)) return venueErr(VenueErrors.STOP_PRICE_NOT_POSITIVE);
    if (!req.triggerPrice.mod(r.tickSize).isZero()) return venueErr(VenueErrors.PRECISION, `(triggerPrice ${str(req.triggerPrice)}, tick ${str(r.tickSize)})`);
    if (req.closePosition) {
      if (req.quantity !== null) return venueErr(VenueErrors.QTY_WITH_CLOSE_POSITION);
      if (req.reduceOnly) return venueErr(VenueErrors.PARAM_NOT_REQUIRED, "('reduceOnly' with closePosition)");
    } else {
      if (req.quantity === null) return venueErr(VenueErrors.MANDATORY_PARAM, "('quantity')");
      if (req.quantity.lte(0)) return venueErr(VenueErrors.QTY_TOO_SMALL);
      if (!req.quantity.mod(r.marketStepSize).isZero()) return venueErr(VenueErrors.PRECISION, `(quantity ${str(req.quantity)}, step ${str(r.marketStepSize)})`);
      if (req.quantity.gt(r.marketMaxQty)) return venueErr(VenueErrors.QTY_TOO_LARGE, `quantity ${str(req.quantity)} is above the MARKET maximum ${str(r.marketMaxQty)}`);
    }
    const mark = this.lastPriceOf(req.symbol);
    if (!mark) return venueErr(VenueErrors.UNKNOWN_SYMBOL, '(no market price yet)');
    const reached = algoTriggerDirection(req.type, req.side) === 'down' ? req.triggerPrice.gte(mark) : req.triggerPrice.lte(mark);
    if (reached) return venueErr(VenueErrors.WOULD_IMMEDIATELY_TRIGGER, `(triggerPrice ${str(req.triggerPrice)}, mark ${str(mark)})`);
    const algoId = String(++this.algoSeq);
    const rec: PaperAlgoRecord = {
      clientAlgoId: req.clientAlgoId, symbol: req.symbol, side: req.side, type: req.type, triggerPrice: req.triggerPrice, quantity: req.quantity,
      closePosition: req.closePosition, reduceOnly: req.reduceOnly, purpose: req.purpose ?? defaultAlgoPurpose(req.type),
      accountId, algoId, status: 'NEW', actualOrderId: null, time: this.lastTs, updateTime: this.lastTs,
    };
    this.algosById.set(algoId, rec);
    this.algosByClientId.set(`${accountId}:${req.clientAlgoId}`, rec);
    const list = this.algosOf.get(accountId);
    if (list) list.push(rec);
    else this.algosOf.set(accountId, [rec]);
    this.openAlgos.push(rec);
    return ok({ algoId });
  }

  private algoRef(accountId: string, ref: { algoId?: string; clientAlgoId?: string }): PaperAlgoRecord | null {
    const rec = ref.algoId !== undefined ? this.algosById.get(ref.algoId) : ref.clientAlgoId !== undefined ? this.algosByClientId.get(`${accountId}:${ref.clientAlgoId}`) : undefined;
    return rec && rec.accountId === accountId ? rec : null;
  }

  private closeAlgo(rec: PaperAlgoRecord, status: PaperAlgoStatus, ts: number): void {
    rec.status = status;
    rec.updateTime = ts;
    const i = this.openAlgos.indexOf(rec);
    if (i >= 0) this.openAlgos.splice(i, 1);
  }

  /**
   * `DELETE /fapi/v1/algoOrder` by algoId or clientAlgoId (algoId wins when both are given).
   * @returns the algoId; -2011 when the account has no such algo order or it is no longer NEW.
   */
  cancelAlgoOrder(accountId: string, ref: { algoId?: string; clientAlgoId?: string }): Result<{ algoId: string }, VenueRejection> {
    const rec = this.algoRef(accountId, ref);
    if (!rec || rec.status !== 'NEW') return venueErr(VenueErrors.UNKNOWN_ORDER);
    this.closeAlgo(rec, 'CANCELED', this.lastTs);
    return ok({ algoId: rec.algoId });
  }

  /** `GET /fapi/v1/algoOrder`: a copy of the algo order (any status), or null. */
  algoOrder(accountId: string, ref: { algoId?: string; clientAlgoId?: string }): PaperAlgoRecord | null {
    const rec = this.algoRef(accountId, ref);
    return rec ? { ...rec } : null;
  }

  /** `GET /fapi/v1/openAlgoOrders`: the account's algo orders still NEW, in placement order (copies). */
  openAlgoOrders(accountId: string, symbol?: string): PaperAlgoRecord[] {
    return this.openAlgos.filter((x) => x.accountId === accountId && (symbol === undefined || x.symbol === symbol)).map((x) => ({ ...x }));
  }

  /** `GET /fapi/v1/allAlgoOrders`: every algo order of the account (all statuses), in placement order (copies). */
  algoOrders(accountId: string, symbol?: string): PaperAlgoRecord[] {
    return (this.algosOf.get(accountId) ?? []).filter((x) => symbol === undefined || x.symbol === symbol).map((x) => ({ ...x }));
  }

  /** `DELETE /fapi/v1/algoOpenOrders`: cancel the account's NEW algo orders on `symbol`; returns them (status CANCELED). */
  cancelAllAlgoOrders(accountId: string, symbol: string): PaperAlgoRecord[] {
    const hit = this.openAlgos.filter((x) => x.accountId === accountId && x.symbol === symbol);
    for (const rec of hit) this.closeAlgo(rec, 'CANCELED', this.lastTs);
    return hit.map((x) => ({ ...x }));
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

  /**
   * A position's liquidation price, computed again only when what it depends on changed: its
   * side, quantity, entry price, isolated margin or the symbol's rules. Decimals are immutable
   * and every change assigns a new one, so the same instances mean the same values.
   */
  private liquidationPriceOf(symbol: string, p: PaperPosition): D | null {
    const rules = this.rulesOf(symbol)!;
    const c = this.liquidationCache.get(p);
    if (c && c.side === p.side && c.quantity === p.quantity && c.entryPrice === p.entryPrice && c.margin === p.isolatedMargin && c.rules === rules) return c.price;
    const price = liquidationPrice({ side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, walletBalance: p.isolatedMargin, brackets: rules.brackets, closeFeeRate: liquidationCloseFeeRate(rules) }).price;
    this.liquidationCache.set(p, { side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, margin: p.isolatedMargin, rules, price });
    return price;
  }

  /** Each open position's last liquidation price and the inputs it was computed from ({@link liquidationPriceOf}). */
  private readonly liquidationCache = new WeakMap<PaperPosition, { side: PositionSide; quantity: D; entryPrice: D; margin: D; rules: Rules; price: D | null }>();

  /**
   * Advance the market of `symbol` by one path step and match everything it reaches.
   * @param step price moves `from` → `to` (a jump when `gap`), at market time `ts`; `barVolume`
   *   (the bar's base volume) limits the fills under VOLUME_SHARE liquidity
   * @param funding a funding settlement at this step (rate per interval), settled first
   * @throws RangeError when barVolume is not a decimal >= 0
   */
  step(symbol: string, step: PaperStep, funding: { rate: string } | null = null): PaperVenueEvent[] {
    const r = this.rulesOf(symbol);
    if (!r) return [];
    // A plain non-negative decimal (a candle's volume) is parsed only when a fill is capped by it.
    const raw = step.barVolume;
    const plain = typeof raw === 'string' && PLAIN_DECIMAL.test(raw);
    let volume: D | null | undefined = raw === undefined || raw === null ? null : plain ? undefined : dec(raw);
    if (volume && volume.lt(0)) throw new RangeError(`barVolume must be >= 0, got ${step.barVolume}`);
    const barVolume = (): D | null => (volume === undefined ? (volume = dec(raw as string)) : volume);
    this.lastTs = step.ts;
    const out: PaperVenueEvent[] = [];
    // Prices in plain notation (candle text) are parsed when something trades or settles at them;
    // anything else is parsed now, so a malformed price fails this step, not a later order.
    for (const p of [step.from, step.to]) if (!PLAIN_DECIMAL.test(p)) dec(p);
    // The step's first tradable price, parsed when something trades or settles at it.
    let startPrice: D | undefined;
    const start = (): D => (startPrice ??= dec(step.gap ? step.to : step.from));
    const cap = (o: PaperOrderRequest) => this.stepCap(r, o, barVolume);

    // Funding settles at the mark price of the settlement instant: the step's start.
    if (funding) this.settleFunding(symbol, dec(funding.rate), start(), step.ts, out);

    type Pending = { rank: number; fraction: D; seq: number; run: () => void };
    const pending: Pending[] = [];
    let seq = 0;
    for (const o of this.resting.filter((x) => x.symbol === symbol)) {
      if (o.type === 'MARKET' && (o.triggerPrice === null || o.working)) {
        pending.push({ rank: 0, fraction: ZERO, seq: seq++, run: () => this.fillResting(o, start(), 'TAKER', step.ts, out, cap(o)) });
      } else if (o.type === 'MARKET' && o.triggerPrice !== null) {
        // A triggered internal stop, target or forced close: the stop-monitor saw the path
        // cross at triggerPrice on this step; it fills where the step's own motion reaches it.
        const dir = dec(step.to).lt(dec(step.from)) ? 'down' : 'up';
        const c = crossing(step, o.triggerPrice, dir);
        const fraction = c ? c.fraction : ZERO;
        const price = c ? c.price : start();
        pending.push({ rank: 2, fraction, seq: seq++, run: () => this.fillResting(o, price, 'TAKER', step.ts, out, cap(o)) });
      } else if (o.type === 'LIMIT' && o.price && (o.timeInForce === 'IOC' || o.timeInForce === 'FOK')) {
        // Immediate: it meets the market where a queued MARKET order does, the step's first tradable price.
        pending.push({ rank: 0, fraction: ZERO, seq: seq++, run: () => this.fillImmediate(o, start(), step.ts, out, cap(o)) });
      } else if (o.type === 'LIMIT' && o.price) {
        const c = crossing(step, o.price, o.side === 'BUY' ? 'down' : 'up');
        // A post-only order only ever makes: it trades at its own price as maker.
        const gtx = o.timeInForce === 'GTX';
        const price = gtx ? o.price : c?.price;
        if (c && price) pending.push({ rank: 3, fraction: c.fraction, seq: seq++, run: () => this.fillResting(o, price, step.gap && !gtx ? 'TAKER' : 'MAKER', step.ts, out, cap(o)) });
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
    // Algo orders come last in `seq`: at the same point they follow the internal stops (same rank).
    for (const al of this.openAlgos) {
      if (al.symbol !== symbol) continue;
      const c = crossing(step, al.triggerPrice, algoTriggerDirection(al.type, al.side));
      if (c) pending.push({ rank: 2, fraction: c.fraction, seq: seq++, run: () => this.triggerAlgo(al, c.price, step.ts, out, cap) });
    }
    pending.sort((x, y) => x.fraction.comparedTo(y.fraction) || x.rank - y.rank || x.seq - y.seq);
    for (const p of pending) p.run();
    this.lastPrice.set(symbol, step.to); // parsed when asked for (lastPriceOf)
    return out;
  }

  /**
   * A funding settlement on `symbol` at market time `ts`: every account's position receives
   * fundingPayment(side, quantity, markPrice, rate) (negative = pays), booked to the wallet and
   * to the position's isolated margin. `step` runs it first on the step that carries it.
   */
  private settleFunding(symbol: string, rate: D, markPrice: D, ts: number, out: PaperVenueEvent[]): void {
    for (const a of this.accounts.values()) {
      const p = a.positions.get(symbol);
      if (!p) continue;
      const amount = fundingPayment(p.side, p.quantity, markPrice, rate);
      a.walletBalance = a.walletBalance.plus(amount);
      p.isolatedMargin = p.isolatedMargin.plus(amount);
      out.push({ kind: 'funding', accountId: a.accountId, symbol, amount, rate, markPrice, ts });
    }
  }

  /** The most an order may fill on this step (null = no limit): share × barVolume / 4, down to the order's lot step. */
  private stepCap(r: Rules, o: PaperOrderRequest, barVolume: () => D | null): D | null {
    if (this.liquidity.kind === 'WHOLE') return null;
    const volume = barVolume();
    if (volume === null) return null;
    return floorToStep(this.liquidity.share.mul(volume).div(4), o.type === 'MARKET' ? r.marketStepSize : r.stepSize);
  }

  /**
   * A triggered algo order: create its MARKET order (clientOrderId = clientAlgoId, reduce-only
   * unless the algo is neither reduceOnly nor closePosition; quantity = the algo's or, for
   * closePosition, the whole position now) and fill it as a taker at `price`. A reduce-only
   * order with nothing to reduce is rejected (-2022) and the algo EXPIRED; a non-reduce-only
   * one is checked like placeOrder (filters, bracket cap, margin) and EXPIRED on failure.
   * What the step's liquidity (`cap`) leaves unfilled keeps working as a MARKET order.
   */
  private triggerAlgo(al: PaperAlgoRecord, price: D, ts: number, out: PaperVenueEvent[], cap: (o: PaperOrderRequest) => D | null): void {
    if (al.status !== 'NEW') return;
    const a = this.accounts.get(al.accountId)!;
    const r = this.rulesOf(al.symbol)!;
    const { o, reduces } = this.openAlgoOrder(al, ts);
    const { venueOrderId, quantity, reduceOnly } = o;
    out.push({ kind: 'algoTriggered', accountId: al.accountId, symbol: al.symbol, algoId: al.algoId, clientAlgoId: al.clientAlgoId, venueOrderId, ts });
    if (!reduceOnly && !reduces) {
      const q = normalizeQuantity(r, quantity, price, 'MARKET');
      const e = !q.ok
        ? venueErr(q.error.code === 'BELOW_MIN_NOTIONAL' ? VenueErrors.MIN_NOTIONAL : q.error.code === 'ABOVE_MAX_QTY' ? VenueErrors.QTY_TOO_LARGE : VenueErrors.QTY_TOO_SMALL, q.error.message)
        : this.openingCheck(a, r, o, price);
      if (e && !e.ok) {
        out.push({ kind: 'rejected', accountId: a.accountId, clientOrderId: o.clientOrderId, code: e.error.code, message: e.error.message, ts });
        this.setStatus(venueOrderId, 'EXPIRED', ts);
        al.status = 'EXPIRED';
        return;
      }
    }
    const done = this.execute(o, price, 'TAKER', ts, out, cap(o));
    al.status = done === 'REJECTED' ? 'EXPIRED' : 'FINISHED';
    if (done === 'WORKING') {
      o.working = true;
      this.resting.push(o);
    }
  }

  /**
   * The first half of a trigger: create the algo order's MARKET order (clientOrderId =
   * clientAlgoId, reduce-only unless the algo is neither reduceOnly nor closePosition; quantity
   * = the algo's or, for closePosition, the whole position now), record it NEW and mark the
   * algo TRIGGERED with its actualOrderId.
   * @returns the order and whether it reduces the position the account holds now
   */
  private openAlgoOrder(al: PaperAlgoRecord, ts: number): { o: RestingOrder; reduces: boolean } {
    const a = this.accounts.get(al.accountId)!;
    const pos = a.positions.get(al.symbol);
    const reduces = pos !== undefined && (pos.side === 'LONG') !== (al.side === 'BUY');
    const quantity = al.closePosition ? (pos && reduces ? pos.quantity : ZERO) : al.quantity!;
    const reduceOnly = al.reduceOnly || al.closePosition;
    const venueOrderId = String(++this.orderSeq);
    const o: RestingOrder = {
      clientOrderId: al.clientAlgoId, symbol: al.symbol, side: al.side, type: 'MARKET', quantity, price: null, reduceOnly, purpose: al.purpose,
      triggerPrice: al.triggerPrice, venueOrderId, accountId: al.accountId, tradesPerFill: this.tradesPerFill, working: false,
    };
    this.clientIds.add(`${al.accountId}:${al.clientAlgoId}`);
    const { tradesPerFill: _t, working: _w, ...req } = o;
    this.record({ ...req, status: 'NEW', executedQty: ZERO, avgPrice: ZERO, time: ts, updateTime: ts });
    this.closeAlgo(al, 'TRIGGERED', ts);
    al.actualOrderId = venueOrderId;
    return { o, reduces };
  }

  /** Match a resting order at `price`; it leaves the book once filled or refused. */
  private fillResting(o: RestingOrder, price: D, liquidity: 'TAKER' | 'MAKER', ts: number, out: PaperVenueEvent[], cap: D | null): void {
    if (this.resting.indexOf(o) < 0) return;
    const done = this.execute(o, price, liquidity, ts, out, cap);
    if (done !== 'WORKING') this.resting.splice(this.resting.indexOf(o), 1);
    else if (o.type === 'MARKET') o.working = true;
  }

  /**
   * An IOC / FOK LIMIT order meets the market at `price` (the step's first tradable price) and
   * leaves the book whatever happens (see PaperOrderRequest.timeInForce): filled (as a taker,
   * at most `cap`) when `price` is at its limit or better; an IOC's unfilled rest EXPIRED
   * (IOC_EXPIRED); a FOK that cannot fill whole refused whole (-5021, EXPIRED, no fill).
   */
  private fillImmediate(o: RestingOrder, price: D, ts: number, out: PaperVenueEvent[], cap: D | null): void {
    const i = this.resting.indexOf(o);
    if (i < 0) return;
    this.resting.splice(i, 1);
    const rec = this.recordsByVenueId.get(o.venueOrderId)!;
    const remaining = o.quantity.minus(rec.executedQty);
    const reachable = marketableAt(o.side, o.price!, price);
    if (o.timeInForce === 'FOK' && (!reachable || (cap !== null && cap.lt(remaining)))) {
      out.push({ kind: 'rejected', accountId: o.accountId, clientOrderId: o.clientOrderId, ...VenueErrors.FOK_REJECTED, ts });
      this.setStatus(o.venueOrderId, 'EXPIRED', ts);
      return;
    }
    const done = reachable ? this.execute(o, price, 'TAKER', ts, out, cap) : 'WORKING';
    if (done !== 'WORKING') return;
    out.push({ kind: 'rejected', accountId: o.accountId, clientOrderId: o.clientOrderId, ...IOC_EXPIRED, ts });
    this.setStatus(o.venueOrderId, 'EXPIRED', ts);
  }

  /**
   * Fill what is left of an accepted order at `price`, at most `cap` (null = all of it), in
   * `o.tradesPerFill` trades (splitOnStep on the order's lot step), or reject a reduce-only
   * order whose remainder is more than the position left (-2022, EXPIRED).
   * @returns FILLED (nothing left), WORKING (a remainder keeps working), REJECTED
   */
  private execute(o: RestingOrder, price: D, liquidity: 'TAKER' | 'MAKER', ts: number, out: PaperVenueEvent[], cap: D | null): 'FILLED' | 'WORKING' | 'REJECTED' {
    const a = this.accounts.get(o.accountId)!;
    const r = this.rulesOf(o.symbol)!;
    const rec = this.recordsByVenueId.get(o.venueOrderId)!;
    const remaining = o.quantity.minus(rec.executedQty);
    const pos = a.positions.get(o.symbol);
    const reduces = pos !== undefined && (pos.side === 'LONG') !== (o.side === 'BUY');
    if (o.reduceOnly && (!reduces || !pos || remaining.gt(pos.quantity))) {
      // The position went away or shrank (e.g. liquidated earlier on this step): Binance
      // rejects it; refusing the whole remainder is what keeps a reduce-only order from flipping.
      out.push({ kind: 'rejected', accountId: a.accountId, clientOrderId: o.clientOrderId, ...VenueErrors.REDUCE_ONLY_REJECTED, ts });
      this.setStatus(o.venueOrderId, 'EXPIRED', ts);
      return 'REJECTED';
    }
    const qty = cap !== null && cap.lt(remaining) ? cap : remaining;
    if (qty.lte(0)) return 'WORKING';
    const lev = this.leverageOf(a, o.symbol);
    for (const part of splitOnStep(qty, o.type === 'MARKET' ? r.marketStepSize : r.stepSize, o.tradesPerFill)) {
      out.push({ kind: 'fill', fill: this.bookTrade(a, r, o, rec, part, price, liquidity, lev, ts, String(++this.tradeSeq)) });
    }
    return rec.executedQty.eq(o.quantity) ? 'FILLED' : 'WORKING';
  }

  /** The leverage in force for `symbol` (Binance's default 20 until one is set). */
  private leverageOf(a: PaperAccount, symbol: string): number {
    return a.leverage.get(symbol) ?? 20;
  }

  /**
   * Book one trade of an accepted order: fee = quantity × price × the liquidity's fee rate
   * (rules.takerFeeRate / makerFeeRate) off the wallet, the position and isolated margin
   * moved by applyFill, the trade kept, the record's executedQty / avgPrice / status updated.
   * @returns the trade (cumulativeQuantity = the order's filled quantity after it)
   */
  private bookTrade(a: PaperAccount, r: Rules, o: RestingOrder, rec: PaperOrderRecord, part: D, price: D, liquidity: 'TAKER' | 'MAKER', lev: number, ts: number, tradeId: string): PaperFill {
    const fee = part.mul(price).mul(liquidity === 'TAKER' ? r.takerFeeRate : r.makerFeeRate);
    const realised = this.applyFill(a, o.symbol, o.side, part, price, lev);
    a.walletBalance = a.walletBalance.minus(fee);
    const executedQty = rec.executedQty.plus(part);
    const fill: PaperFill = {
      accountId: a.accountId, clientOrderId: o.clientOrderId, venueOrderId: o.venueOrderId, tradeId,
      symbol: o.symbol, side: o.side, purpose: o.purpose, quantity: part, price, fee, liquidity, leverage: lev,
      realisedPnl: realised, liquidationFee: ZERO, venueGenerated: false, ts, cumulativeQuantity: executedQty,
    };
    this.pushTrade(fill);
    this.setStatus(o.venueOrderId, executedQty.eq(o.quantity) ? 'FILLED' : 'PARTIALLY_FILLED', ts, { executedQty, cumQuote: this.cumQuote(o.venueOrderId) });
    return fill;
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

  /**
   * Liquidate the isolated position of `symbol` at `price` (capped at the bankruptcy price).
   * @param ids the venue order id and trade id to use (a restore puts back the recorded ones); default: the next of each sequence
   */
  private liquidate(a: PaperAccount, symbol: string, price: D, ts: number, out: PaperVenueEvent[], ids?: { venueOrderId: number; tradeId: number }): void {
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
    const n = ids ? ids.venueOrderId : ++this.orderSeq;
    const tradeId = ids ? ids.tradeId : ++this.tradeSeq;
    if (ids) {
      this.orderSeq = Math.max(this.orderSeq, n);
      this.tradeSeq = Math.max(this.tradeSeq, tradeId);
    }
    const fill: PaperFill = {
      accountId: a.accountId, clientOrderId: `autoclose-${shortHash(a.accountId)}-${n}`, venueOrderId: String(n), tradeId: String(tradeId),
      symbol, side, purpose: 'LIQUIDATION', quantity: qty, price, fee: ZERO, liquidity: 'TAKER', leverage: p.leverage,
      realisedPnl: pnl, liquidationFee: clearance, venueGenerated: true, ts, cumulativeQuantity: qty,
    };
    out.push({ kind: 'fill', fill });
    this.record({
      clientOrderId: fill.clientOrderId, symbol, side, type: 'MARKET', quantity: qty, price: null, reduceOnly: true, purpose: 'LIQUIDATION', triggerPrice: null,
      accountId: a.accountId, venueOrderId: fill.venueOrderId, status: 'FILLED', executedQty: qty, avgPrice: price, time: ts, updateTime: ts,
    });
    this.pushTrade(fill);
  }

  /**
   * The engine's whole state as plain data (decimals as their exact strings), in the engine's
   * own orders (accounts and positions as created, resting and algo orders in placement order,
   * records and trades in time order): what a restored venue must equal, field by field.
   */
  snapshot(): PaperVenueSnapshot {
    const order = (o: PaperOrderRequest) => ({
      clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, quantity: str(o.quantity), price: o.price && str(o.price),
      reduceOnly: o.reduceOnly, purpose: o.purpose, triggerPrice: o.triggerPrice && str(o.triggerPrice),
      ...(o.timeInForce === undefined ? {} : { timeInForce: o.timeInForce }),
    });
    const trade = (f: PaperFill) => ({
      ...f, quantity: str(f.quantity), price: str(f.price), fee: str(f.fee), realisedPnl: str(f.realisedPnl), liquidationFee: str(f.liquidationFee),
      cumulativeQuantity: f.cumulativeQuantity && str(f.cumulativeQuantity),
    });
    const byKey = <T>(m: Map<string, T>) => [...m.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return {
      accounts: [...this.accounts.values()].map((a) => ({
        accountId: a.accountId, walletBalance: str(a.walletBalance), positionMode: a.positionMode, marginMode: byKey(a.marginMode), leverage: byKey(a.leverage),
        positions: [...a.positions.entries()].map(([symbol, p]) => ({ symbol, side: p.side, quantity: str(p.quantity), entryPrice: str(p.entryPrice), isolatedMargin: str(p.isolatedMargin), leverage: p.leverage })),
      })),
      resting: this.resting.map((o) => ({ ...order(o), venueOrderId: o.venueOrderId, accountId: o.accountId, tradesPerFill: o.tradesPerFill, working: o.working })),
      clientIds: [...this.clientIds].sort(),
      lastPrice: byKey(this.lastPrice).map(([symbol, price]) => [symbol, str(typeof price === 'string' ? dec(price) : price)] as [string, string]),
      orderSeq: this.orderSeq,
      tradeSeq: this.tradeSeq,
      algoSeq: this.algoSeq,
      lastTs: this.lastTs,
      records: byKey(this.recordsOf).map(([accountId, list]) => ({
        accountId,
        orders: list.map((r) => ({ ...order(r), accountId: r.accountId, venueOrderId: r.venueOrderId, status: r.status, executedQty: str(r.executedQty), avgPrice: str(r.avgPrice), time: r.time, updateTime: r.updateTime })),
      })),
      trades: byKey(this.tradesOf).map(([accountId, list]) => ({ accountId, trades: list.map(trade) })),
      algos: byKey(this.algosOf).map(([accountId, list]) => ({
        accountId,
        algos: list.map((x) => ({ ...x, triggerPrice: str(x.triggerPrice), quantity: x.quantity && str(x.quantity) })),
      })),
      openAlgos: this.openAlgos.map((x) => x.algoId),
    };
  }

  /**
   * Operations that put a recorded fact back into this venue (for `restorePaperVenue`,
   * paper-restore.ts, only). Each runs the code the engine runs when the fact happens (the
   * same booking of a trade, a liquidation, a funding settlement), without the checks of a new
   * request: the fact passed them when it happened. Ids (venue order ids, trade ids, algo ids)
   * are the recorded ones; the sequences continue after the highest.
   * @throws PaperRestoreError from an operation whose fact does not fit the venue's state
   */
  restoreHooks(): PaperVenueRestoreHooks {
    const account = (accountId: string): PaperAccount => {
      const a = this.accounts.get(accountId);
      if (!a) throw new PaperRestoreError(`account ${accountId} is not at the venue`);
      return a;
    };
    const rules = (symbol: string): Rules => {
      const r = this.rulesOf(symbol);
      if (!r) throw new PaperRestoreError(`no rules for ${symbol}`);
      return r;
    };
    const seq = (id: string, what: string): number => {
      const n = Number(id);
      if (!/^[1-9]\d{0,15}$/.test(id) || !Number.isSafeInteger(n)) throw new PaperRestoreError(`${what} ${id} is not one this venue gives (a positive integer)`);
      return n;
    };
    const restingOf = (accountId: string, venueOrderId: string): RestingOrder => {
      const o = this.resting.find((x) => x.venueOrderId === venueOrderId && x.accountId === accountId);
      if (!o) throw new PaperRestoreError(`order ${venueOrderId} of ${accountId} is not working at the venue`);
      return o;
    };
    return {
      market: (symbol, ts, price) => {
        rules(symbol);
        this.lastTs = ts;
        if (price) this.lastPrice.set(symbol, price);
      },
      accept: (accountId, o, venueOrderId) => {
        account(accountId);
        rules(o.symbol);
        const n = seq(venueOrderId, 'venue order id');
        if (this.recordsByVenueId.has(venueOrderId)) throw new PaperRestoreError(`venue order id ${venueOrderId} is taken`);
        this.orderSeq = Math.max(this.orderSeq, n);
        this.clientIds.add(`${accountId}:${o.clientOrderId}`);
        const req: PaperOrderRequest = {
          clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, quantity: o.quantity, price: o.price, reduceOnly: o.reduceOnly, purpose: o.purpose, triggerPrice: o.triggerPrice,
          ...(o.type === 'LIMIT' && o.timeInForce !== undefined ? { timeInForce: o.timeInForce } : {}),
        };
        this.resting.push({ ...req, venueOrderId, accountId, tradesPerFill: this.tradesPerFill, working: false });
        this.record({ ...req, accountId, venueOrderId, status: 'NEW', executedQty: ZERO, avgPrice: ZERO, time: this.lastTs, updateTime: this.lastTs });
      },
      acceptAlgo: (accountId, req, algoId) => {
        account(accountId);
        rules(req.symbol);
        const n = seq(algoId, 'algo id');
        if (this.algosById.has(algoId)) throw new PaperRestoreError(`algo id ${algoId} is taken`);
        this.algoSeq = Math.max(this.algoSeq, n);
        const rec: PaperAlgoRecord = {
          clientAlgoId: req.clientAlgoId, symbol: req.symbol, side: req.side, type: req.type, triggerPrice: req.triggerPrice, quantity: req.quantity,
          closePosition: req.closePosition, reduceOnly: req.reduceOnly, purpose: req.purpose ?? defaultAlgoPurpose(req.type),
          accountId, algoId, status: 'NEW', actualOrderId: null, time: this.lastTs, updateTime: this.lastTs,
        };
        this.algosById.set(algoId, rec);
        this.algosByClientId.set(`${accountId}:${req.clientAlgoId}`, rec);
        const list = this.algosOf.get(accountId);
        if (list) list.push(rec);
        else this.algosOf.set(accountId, [rec]);
        this.openAlgos.push(rec);
      },
      funding: (symbol, rate, markPrice, ts) => {
        rules(symbol);
        const out: PaperVenueEvent[] = [];
        this.settleFunding(symbol, rate, markPrice, ts, out);
        return out;
      },
      trade: (accountId, venueOrderId, t, ts) => {
        const a = account(accountId);
        const o = restingOf(accountId, venueOrderId);
        const r = rules(o.symbol);
        const rec = this.recordsByVenueId.get(venueOrderId)!;
        if (t.quantity.lte(0) || t.quantity.gt(o.quantity.minus(rec.executedQty))) throw new PaperRestoreError(`trade ${t.tradeId} of ${str(t.quantity)} does not fit order ${venueOrderId} (${str(rec.executedQty)} of ${str(o.quantity)} filled)`);
        const lev = this.leverageOf(a, o.symbol);
        if (lev !== t.leverage) throw new PaperRestoreError(`trade ${t.tradeId} was at leverage ${t.leverage}, the venue has ${lev} for ${o.symbol}`);
        this.tradeSeq = Math.max(this.tradeSeq, seq(t.tradeId, 'trade id'));
        const fill = this.bookTrade(a, r, o, rec, t.quantity, t.price, t.liquidity, lev, ts, t.tradeId);
        if (rec.executedQty.eq(o.quantity)) this.resting.splice(this.resting.indexOf(o), 1);
        else if (o.type === 'MARKET') o.working = true;
        return fill;
      },
      liquidation: (accountId, symbol, price, ts, venueOrderId, tradeId) => {
        const a = account(accountId);
        if (!a.positions.has(symbol)) throw new PaperRestoreError(`no ${symbol} position of ${accountId} to liquidate`);
        const out: PaperVenueEvent[] = [];
        this.liquidate(a, symbol, price, ts, out, { venueOrderId: seq(venueOrderId, 'venue order id'), tradeId: seq(tradeId, 'trade id') });
        return (out[0] as Extract<PaperVenueEvent, { kind: 'fill' }>).fill;
      },
      triggerAlgo: (accountId, clientAlgoId, ts) => {
        const al = this.algosByClientId.get(`${accountId}:${clientAlgoId}`);
        if (!al || al.status !== 'NEW') throw new PaperRestoreError(`no waiting algo order ${clientAlgoId} of ${accountId}`);
        const { o } = this.openAlgoOrder(al, ts);
        // What triggerAlgo leaves: FINISHED (EXPIRED when refused, see expire), its order working until its trades are booked.
        al.status = 'FINISHED';
        o.working = true;
        this.resting.push(o);
        return o.venueOrderId;
      },
      expire: (accountId, venueOrderId, ts) => {
        const rec = this.recordsByVenueId.get(venueOrderId);
        if (!rec || rec.accountId !== accountId) throw new PaperRestoreError(`order ${venueOrderId} of ${accountId} is not at the venue`);
        const i = this.resting.findIndex((x) => x.venueOrderId === venueOrderId);
        if (i >= 0) this.resting.splice(i, 1);
        this.setStatus(venueOrderId, 'EXPIRED', ts);
        const al = (this.algosOf.get(accountId) ?? []).find((x) => x.actualOrderId === venueOrderId);
        if (al) al.status = 'EXPIRED';
      },
    };
  }
}

/** The largest notional a position may have at `leverage`: the cap of the last bracket whose max leverage allows it. */
export function maxNotionalAt(r: Rules, leverage: number): D {
  let cap = ZERO;
  for (const b of r.brackets) if (b.initialLeverage >= leverage) cap = b.notionalCap;
  return cap;
}

