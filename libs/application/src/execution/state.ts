import type { AccountConfig, VenueId } from '@bulwark/contracts';
import type { D, PositionState, Rules } from '@bulwark/domain';
import type { DrivenVenue, LiveVenuePort, VenuePort } from '@bulwark/venues';
import type { ExecutionVenue } from '../venue-factory';

export const SYMBOLS = ['BTCUSDT'];

/** Order statuses in which the venue may still act on an order. */
export const OPEN_STATUSES = new Set(['SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'PENDING_CANCEL', 'UNKNOWN']);

export const isDriven = (v: VenuePort): v is DrivenVenue & VenuePort => typeof (v as DrivenVenue).advance === 'function';
export const hasProtection = (v: VenuePort): v is VenuePort & Pick<LiveVenuePort, 'placeProtectiveOrder' | 'cancelProtectiveOrder'> =>
  typeof (v as LiveVenuePort).placeProtectiveOrder === 'function';
export const isLive = (v: VenuePort): v is LiveVenuePort => hasProtection(v) && typeof (v as LiveVenuePort).positions === 'function';

/** An exchange stop or take-profit Bulwark placed, while it may still act. */
export interface Protective {
  clientOrderId: string;
  accountId: string;
  symbol: string;
  kind: 'STOP_LOSS' | 'TAKE_PROFIT';
  side: 'BUY' | 'SELL';
  triggerPrice: D;
  quantity: D;
  /** The stop stream whose levels it carries. */
  stopStreamId: string;
  accepted: boolean;
}

/** A regular (not conditional) order the log thinks open. */
export interface OpenOrder {
  accountId: string;
  symbol: string;
  status: string;
  reduceOnly: boolean;
}

/** The working state the parts of execution share (one instance per service). */
export class ExecutionState {
  /** Opened in `onModuleInit`. */
  venue!: ExecutionVenue;
  /** The venue this execution trades (Binance USDⓈ-M, Bitget USDT-M): the opened venue's own id, so events, streams and rules name the venue that acted. */
  get venueId(): VenueId {
    return this.venue.venue;
  }
  /** Instrument rules per symbol; the venue holds this map and reads it when it trades. */
  readonly rules = new Map<string, Rules>();
  /** The kill switch per account, from risk's TradingStateChanged events. */
  readonly tradingState = new Map<string, 'ACTIVE' | 'REDUCING' | 'HALTED'>();
  /** Account configurations (protection mode, risk fractions) from AccountOpened / AccountReconfigured. */
  readonly accounts = new Map<string, AccountConfig>();
  /** Accounts whose venue settings (one-way, isolated, leverage) were applied. */
  readonly configured = new Set<string>();
  /** Net position per `account|symbol` from the recorded fills (the position aggregate's fold, across lifecycles). */
  readonly net = new Map<string, PositionState>();
  /** Open regular orders per client order id (the log's view, for reconciliation and the kill switch). */
  readonly openOrders = new Map<string, OpenOrder>();
  /** Exchange stops per client order id. */
  readonly protective = new Map<string, Protective>();
}
