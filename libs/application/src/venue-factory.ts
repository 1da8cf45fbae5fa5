import type { VenueId } from '@bulwark/contracts';
import type { PaperVenueEvent, PaperVenueOptions, Rules } from '@bulwark/domain';
import type { VenueAlert, VenuePort } from '@bulwark/venues';
import { venueOfKind, venueSettingsFromEnv } from './venue-config';
import { venuesLib } from './venues-lib';

/** Injection token of the execution service's venue factory (tests and the in-process system pass their own). */
export const EXECUTION_VENUE = Symbol('EXECUTION_VENUE');

export type ExecutionVenue = VenuePort;

/** An opened venue, how often to reconcile it, and, for venues that push (a user-data stream), how to listen. */
export interface OpenedVenue {
  venue: VenuePort;
  /** Seconds between reconciliations of a live venue; 0 = at start-up only. */
  reconcileSeconds: number;
  /** Fills and expiries as the venue pushes them (not for venues driven by the replay clock). */
  subscribe?: (listener: (events: PaperVenueEvent[], ts: number) => void) => void;
  /**
   * The accounts a ccxt venue trades (BULWARK_ACCOUNT_ID, or every account of
   * BULWARK_ACCOUNTS_FILE); absent for the paper venue, which holds every account itself. An
   * alert without an account is recorded on the only one's venue stream.
   */
  accountIds?: readonly string[];
}

/**
 * Opens the execution service's venue; `onAlert` receives the venue's alerts (bans, a lost
 * user-data stream) with the account whose adapter raised them (omitted by a single-account
 * venue: its one account).
 */
export type VenueFactory = (rules: ReadonlyMap<string, Rules>, onAlert: (a: VenueAlert, accountId?: string) => void) => Promise<OpenedVenue>;

/**
 * The paper venue under a venue's id: it trades with that venue's recorded rules (Binance
 * USDⓈ-M's brackets, Bitget USDT-M's tiers and fees; loaded by execution for that id) and its
 * liquidation formula, driven by the replay clock.
 */
export function paperVenueFactory(venue: VenueId, options: PaperVenueOptions = {}): VenueFactory {
  return async (rules) => ({ venue: new (venuesLib().PaperVenueAdapter)(venue, rules, options), reconcileSeconds: 0 });
}

/**
 * The venue named by the environment (venue-config.ts): the paper venue, or Binance USDⓈ-M /
 * Bitget USDT-M through ccxt — the local venue (driven by the replay clock; fills come with
 * each step), the exchange's demo-trading environment (Binance `enableDemoTrading`, Bitget
 * `setSandboxMode`: the `paptrading` header) or a live account (fills pushed by the user-data
 * stream / Bitget's private `orders` channel). One ccxt adapter per account; with
 * BULWARK_ACCOUNTS_FILE's many accounts, their adapters behind one multi-account venue
 * (@bulwark/venues `multiAccountVenue`: each account's calls on its own adapter, its own rate
 * budget and connections), each adapter's alerts carrying its account.
 * @throws VenueConfigError when the settings are incomplete (missing keys, URLs, live opt-in, an unusable accounts file)
 */
export async function venueFromEnv(env: NodeJS.ProcessEnv, rules: ReadonlyMap<string, Rules>, onAlert: (a: VenueAlert, accountId?: string) => void): Promise<OpenedVenue> {
  const s = venueSettingsFromEnv(env);
  if (s.kind === 'paper') return paperVenueFactory('binance-usdm', s.paper)(rules, onAlert);
  const { BinanceUsdmVenue, BitgetUsdtmVenue, LocalBinanceVenue, LocalBitgetVenue, multiAccountVenue } = venuesLib();
  const mode = venueOfKind(s.kind)!.mode;
  const adapters = s.accounts.map((k) => {
    const base = { accountId: k.accountId, apiKey: k.apiKey, apiSecret: k.apiSecret, onAlert: (a: VenueAlert) => onAlert(a, k.accountId) };
    if (s.kind === 'bitget-local' || s.kind === 'bitget-demo' || s.kind === 'bitget-live') {
      const bitget = { ...base, passphrase: k.passphrase! };
      return s.kind === 'bitget-local' ? new LocalBitgetVenue({ ...bitget, restBase: s.restBase!, wsBase: s.wsBase! }) : new BitgetUsdtmVenue({ ...bitget, mode: s.kind === 'bitget-demo' ? 'demo' : 'live' });
    }
    return s.kind === 'binance-local' ? new LocalBinanceVenue({ ...base, restBase: s.restBase!, wsBase: s.wsBase! }) : new BinanceUsdmVenue({ ...base, mode: s.kind === 'binance-demo' ? 'demo' : 'live' });
  });
  const accountIds = s.accounts.map((k) => k.accountId);
  // A user-data stream that does not start, or a step one account's stream could not read: that account's alert.
  const onAccountFailure = (accountId: string, message: string) => onAlert({ kind: 'USER_DATA_STREAM', message }, accountId);
  const venue = adapters.length === 1 ? adapters[0] : multiAccountVenue(adapters, { onAccountFailure });
  // Driven by the replay clock (local venues): reconciled at start-up only; a timer would break replay determinism.
  if (mode === 'local') return { venue, reconcileSeconds: 0, accountIds };
  return pushing(venue, s.reconcileSeconds, accountIds);
}

/** A demo or live venue: reconciled every `reconcileSeconds`; its fills and expiries pushed (Binance's user-data stream, Bitget's private `orders` channel). */
function pushing(
  venue: VenuePort & { onVenueEvents(l: (events: PaperVenueEvent[], ts: number) => void): unknown; startUserData(): Promise<void> },
  reconcileSeconds: number,
  accountIds: readonly string[],
): OpenedVenue {
  return {
    venue,
    reconcileSeconds,
    accountIds,
    subscribe: (listener) => {
      venue.onVenueEvents(listener);
      void venue.startUserData();
    },
  };
}
