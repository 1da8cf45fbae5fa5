import type { InstrumentRules, OrderSide, VenueId } from '@bulwark/contracts';
import type { D, PaperAccountView, PaperOrderRequest, PaperStep, PaperVenueEvent, Result, VenueRejection } from '@bulwark/domain';

/**
 * An order as sent to a venue (client order id, side, type, quantity, price, reduce-only,
 * purpose, and for LIMIT an optional timeInForce GTC | IOC | FOK | GTX, absent = GTC; see
 * PaperOrderRequest.timeInForce for the semantics).
 */
export type VenueOrderRequest = PaperOrderRequest;
export type { VenueRejection };

/**
 * What Bulwark needs from a futures venue (Binance USDⓈ-M semantics: isolated margin,
 * one-way mode). Every call answers a value or a typed venue rejection carrying the venue's
 * error code; transport failures throw. The paper venue implements it now; the ccxt
 * adapter (binanceusdm, bitget) implements it for live trading.
 */
export interface VenuePort {
  readonly venue: VenueId;
  /** `POST /fapi/v1/positionSide/dual` (false). */
  setOneWayMode(accountId: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>>;
  /** `POST /fapi/v1/marginType` ISOLATED. */
  setIsolatedMargin(accountId: string, symbol: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>>;
  /** `POST /fapi/v1/leverage`: the leverage and the max notional allowed at it (USDT). */
  setLeverage(accountId: string, symbol: string, leverage: number): Promise<Result<{ leverage: number; maxNotional: D }, VenueRejection>>;
  /** `POST /fapi/v1/order` with a client order id. */
  placeOrder(accountId: string, order: VenueOrderRequest): Promise<Result<{ venueOrderId: string }, VenueRejection>>;
  /** `DELETE /fapi/v1/order` by client order id. */
  cancelOrder(accountId: string, clientOrderId: string): Promise<Result<{ venueOrderId: string }, VenueRejection>>;
  /** Balances and positions (`GET /fapi/v2/account` + `positionRisk`); null for an unknown account. */
  account(accountId: string): Promise<PaperAccountView | null>;
}

/**
 * A venue whose market Bulwark drives itself, possibly over I/O: the local Binance-compatible
 * venue answers deposit and advance asynchronously (HTTP + the user-data websocket).
 * `SimulatedVenue` (in-process, synchronous) is the special case; callers that `await` the
 * results of `deposit` and `advance` work with both.
 */
export interface DrivenVenue extends VenuePort {
  hasAccount(accountId: string): boolean;
  /** True when no account holds a position or a resting order (a price step can change nothing). */
  isIdle(): boolean;
  /** Deposit USDT into an account's futures wallet (creates it). */
  deposit(accountId: string, amount: D): void | Promise<void>;
  /**
   * Advance the market of a symbol by one path step; resolves to what matched, in order (one
   * `fill` per trade: an order may fill in several). `step.barVolume` (the bar's base volume)
   * feeds the VOLUME_SHARE liquidity model where the venue uses it.
   */
  advance(symbol: string, step: PaperStep, funding: { rate: string } | null): PaperVenueEvent[] | Promise<PaperVenueEvent[]>;
}

/** One account's part of a local venue's market step: the order updates its user-data stream carries for the step, and the step's events of that account (the engine's JSON). */
export interface AccountStepReport {
  orderUpdates: number;
  events: unknown[];
}

/**
 * A driven venue account on a market several accounts share (the local Binance and Bitget
 * venues): one of them steps the market once for all (`stepAll`), then each reads its own
 * part (`stepEvents`) from its own stream. `advance` is the two for this account alone.
 */
export interface SharedMarketVenue extends DrivenVenue {
  /** The Bulwark account this adapter trades. */
  readonly accountId: string;
  /**
   * Step the market of a symbol by one path step for every account of the venue.
   * @returns each account's part of the step, by account id
   */
  stepAll(symbol: string, step: PaperStep, funding: { rate: string } | null): Promise<Record<string, AccountStepReport>>;
  /**
   * This account's events of a step taken by `stepAll` (of this adapter or another adapter of
   * the same venue), in the engine's order.
   * @throws when its stream does not deliver the announced order updates in time
   */
  stepEvents(symbol: string, ts: number, report: AccountStepReport | undefined): Promise<PaperVenueEvent[]>;
}

/** Is this a driven venue account on a shared market (see {@link SharedMarketVenue})? */
export const isSharedMarketVenue = (v: unknown): v is SharedMarketVenue =>
  typeof (v as Partial<SharedMarketVenue> | null)?.stepAll === 'function' && typeof (v as Partial<SharedMarketVenue>).stepEvents === 'function';

/** A venue whose market Bulwark drives itself (paper, replay): funded by deposit, advanced by path steps. */
export interface SimulatedVenue extends DrivenVenue {
  hasAccount(accountId: string): boolean;
  /** True when no account holds a position or a resting order (a price step can change nothing). */
  isIdle(): boolean;
  /** Deposit USDT into an account's futures wallet (creates it). */
  deposit(accountId: string, amount: D): void;
  /** Advance the market of a symbol by one path step; returns what matched, in order. */
  advance(symbol: string, step: PaperStep, funding: { rate: string } | null): PaperVenueEvent[];
}

/**
 * A reduce-only protective order at the venue: Binance's conditional algo order
 * (`POST /fapi/v1/algoOrder`, algoType CONDITIONAL, type STOP_MARKET for STOP_LOSS and
 * TAKE_PROFIT_MARKET for TAKE_PROFIT; since Dec 2025 `POST /fapi/v1/order` answers -4120 to
 * those types). Source: https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order
 */
export interface ProtectiveOrderRequest {
  clientAlgoId: string;
  symbol: string;
  /** The closing side (SELL protects a long). */
  side: OrderSide;
  kind: 'STOP_LOSS' | 'TAKE_PROFIT';
  /** USDT per unit, on the symbol's tick. */
  triggerPrice: D;
  /** Base units, on the symbol's market step. */
  quantity: D;
  /** The price that triggers it (Binance `workingType`): the account's trigger price type; default MARK_PRICE (Binance's own default would be CONTRACT_PRICE). */
  workingType?: 'MARK_PRICE' | 'CONTRACT_PRICE';
}

/** An order as the venue reports it (`GET /fapi/v1/order`, `openOrders`); decimals exact from the venue's strings. */
export interface VenueOrderSnapshot {
  clientOrderId: string;
  venueOrderId: string;
  symbol: string;
  side: OrderSide;
  /** Binance order type (MARKET, LIMIT, …). */
  type: string;
  status: 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'EXPIRED' | 'REJECTED';
  quantity: D;
  executedQty: D;
  /** ZERO until filled. */
  avgPrice: D;
  reduceOnly: boolean;
  /** ms since epoch. */
  updateTime: number;
}

/** A conditional (algo) order as the venue reports it (`GET /fapi/v1/algoOrder`, `openAlgoOrders`). */
export interface VenueAlgoSnapshot {
  clientAlgoId: string;
  algoId: string;
  symbol: string;
  side: OrderSide;
  type: 'STOP_MARKET' | 'TAKE_PROFIT_MARKET';
  triggerPrice: D;
  /** null for closePosition orders. */
  quantity: D | null;
  closePosition: boolean;
  reduceOnly: boolean;
  /** Binance algoStatus: NEW, CANCELED, TRIGGERING, TRIGGERED, FINISHED, REJECTED, EXPIRED. */
  status: string;
  /** The venue order id of the market order created when it triggered. */
  actualOrderId: string | null;
  /** The price that triggers it (Binance `workingType`), when the venue says. */
  workingType?: string;
}

/** One of the account's trades (`GET /fapi/v1/userTrades`). */
export interface VenueTrade {
  tradeId: string;
  venueOrderId: string;
  clientOrderId: string | null;
  symbol: string;
  side: OrderSide;
  price: D;
  quantity: D;
  /** Commission, in feeAsset. */
  fee: D;
  feeAsset: string;
  /** Realised PnL of the trade, gross of fees, USDT. */
  realisedPnl: D;
  maker: boolean;
  /** ms since epoch. */
  ts: number;
}

/** An open position (`GET /fapi/v3/positionRisk`), one-way mode: side from the sign of positionAmt. */
export interface VenuePositionSnapshot {
  symbol: string;
  side: 'LONG' | 'SHORT';
  /** Absolute base quantity. */
  quantity: D;
  entryPrice: D;
  /** The position's isolated wallet (USDT). */
  isolatedMargin: D;
  leverage: number;
  marginType: 'isolated' | 'cross';
  liquidationPrice: D | null;
  markPrice: D | null;
}

/**
 * What live trading needs beyond `VenuePort` (Binance USDⓈ-M through ccxt): protective algo
 * orders, queries for reconciliation and outcome-unknown recovery, cancel-all and funding.
 * Reads throw on transport failure after the retry budget is spent (the caller decides);
 * writes answer typed rejections.
 */
export interface LiveVenuePort extends VenuePort {
  placeProtectiveOrder(accountId: string, o: ProtectiveOrderRequest): Promise<Result<{ algoId: string }, VenueRejection>>;
  cancelProtectiveOrder(accountId: string, symbol: string, clientAlgoId: string): Promise<Result<{ algoId: string }, VenueRejection>>;
  order(accountId: string, symbol: string, clientOrderId: string): Promise<VenueOrderSnapshot | null>;
  openOrders(accountId: string, symbol: string): Promise<VenueOrderSnapshot[]>;
  openProtectiveOrders(accountId: string, symbol: string): Promise<VenueAlgoSnapshot[]>;
  protectiveOrder(accountId: string, symbol: string, clientAlgoId: string): Promise<VenueAlgoSnapshot | null>;
  trades(accountId: string, symbol: string, sinceMs?: number): Promise<VenueTrade[]>;
  positions(accountId: string, symbol?: string): Promise<VenuePositionSnapshot[]>;
  cancelAll(accountId: string, symbol: string): Promise<{ orders: number; algoOrders: number }>;
  fundingHistory(accountId: string, symbol: string, sinceMs?: number): Promise<Array<{ symbol: string; amount: D; ts: number }>>;
  positionMode(accountId: string): Promise<'ONE_WAY' | 'HEDGE'>;
  close(): Promise<void>;
}

/**
 * A venue that reports its own instrument rules (filters, leverage brackets or position tiers,
 * fees) for a symbol, parsed into the venue-neutral contract; `source` names the calls that
 * answered (recorded with the rules).
 */
export interface InstrumentRulesSource {
  instrumentRules(symbol: string): Promise<{ contract: InstrumentRules; source: string }>;
}

/** Does this venue report its own instrument rules? */
export const isInstrumentRulesSource = (v: unknown): v is InstrumentRulesSource =>
  typeof (v as Partial<InstrumentRulesSource> | null)?.instrumentRules === 'function';
