import type { VenueId } from '@bulwark/contracts';
import type { D, PaperAccountView, PaperOrderRequest, PaperVenueEvent, Result, VenueRejection } from '@bulwark/domain';

/** An order as sent to a venue (client order id, side, type, quantity, price, reduce-only, purpose). */
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

/** A venue whose market Bulwark drives itself (paper, replay): funded by deposit, advanced by path steps. */
export interface SimulatedVenue extends VenuePort {
  hasAccount(accountId: string): boolean;
  /** True when no account holds a position or a resting order (a price step can change nothing). */
  isIdle(): boolean;
  /** Deposit USDT into an account's futures wallet (creates it). */
  deposit(accountId: string, amount: D): void;
  /** Advance the market of a symbol by one path step; returns what matched, in order. */
  advance(symbol: string, step: { from: string; to: string; gap: boolean; ts: number }, funding: { rate: string } | null): PaperVenueEvent[];
}
