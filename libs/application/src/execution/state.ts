import type { AccountConfig, OrderInitialized, VenueId } from '@bulwark/contracts';
import type { D, PositionState, Rules } from '@bulwark/domain';
import type { DrivenVenue, LiveVenuePort, VenuePort } from '@bulwark/venues';
import type { ExecutionVenue } from '../venue-factory';
import type { ActiveSplit } from './entry-split';

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
  /** A resting entry's expiry, epoch ms (OrderInitialized.goodTillDate); null: none. */
  goodTillDate: number | null;
}

/** The open-order view of a recorded order in `status`. */
export function openOrderOf(o: OrderInitialized, status: string): OpenOrder {
  return { accountId: o.accountId, symbol: o.symbol, status, reduceOnly: o.reduceOnly, goodTillDate: o.goodTillDate ?? null };
}

/** The working state the parts of execution share (one instance per service). */
export class ExecutionState {
  /** Opened in `onModuleInit`. */
  venue!: ExecutionVenue;
  /** The venue this execution trades (Binance USDⓈ-M, Bitget USDT-M): the opened venue's own id, so events, streams and rules name the venue that acted. */
  get venueId(): VenueId {
    return this.venue.venue;
  }
  /** Instrument rules per symbol; the venue holds this map and reads it when it trades. Filled as symbols are first needed (instrument-rules.ts). */
  readonly rules = new Map<string, Rules>();
  /** Rules loads in flight per symbol, shared by concurrent callers (instrument-rules.ts). */
  readonly rulesLoads = new Map<string, Promise<Rules>>();
  /** The kill switch per account, from risk's TradingStateChanged events. */
  readonly tradingState = new Map<string, 'ACTIVE' | 'REDUCING' | 'HALTED'>();
  /** Account configurations (protection mode, risk fractions) from AccountOpened / AccountReconfigured. */
  readonly accounts = new Map<string, AccountConfig>();
  /**
   * The venue accounts this execution trades (OpenedVenue.accountIds: BULWARK_ACCOUNT_ID or the
   * accounts file); null: every account (the paper venue holds whatever the log opens). An account
   * outside it is neither configured nor reconciled here: its venue answers would be another's.
   */
  tradedAccounts: ReadonlySet<string> | null = null;
  /** Whether this execution trades `accountId` at its venue. */
  trades(accountId: string): boolean {
    return this.tradedAccounts === null || this.tradedAccounts.has(accountId);
  }
  /** Accounts whose venue settings (one-way, isolated, leverage) were applied. */
  readonly configured = new Set<string>();
  /** Per account, the symbols its venue stream records isolated margin on (MarginModeSet); an entry on any other symbol sets it first (account-setup.ts `ensureIsolatedMargin`). */
  readonly isolated = new Map<string, Set<string>>();
  /** Net position per `account|symbol` from the recorded fills (the position aggregate's fold, across lifecycles). */
  readonly net = new Map<string, PositionState>();
  /** Open regular orders per client order id (the log's view, for reconciliation and the kill switch). */
  readonly openOrders = new Map<string, OpenOrder>();
  /** Split entries still sending children, per parent client order id (entry-split.ts). */
  readonly splits = new Map<string, ActiveSplit>();
  /** Split entries that ended (EntrySplitEnded): a redelivered approval does not start them again. */
  readonly splitsEnded = new Set<string>();
  /** Exchange stops per client order id. */
  readonly protective = new Map<string, Protective>();
}
