import type { PaperVenueEvent, Rules } from '@bulwark/domain';
import { BinanceUsdmVenue, LocalBinanceVenue, PaperVenueAdapter, type VenueAlert, type VenuePort } from '@bulwark/venues';
import { venueSettingsFromEnv } from './venue-config';

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
  /** The account a ccxt venue trades (its alerts are recorded on that account's venue stream). */
  accountId?: string;
}

/** Opens the execution service's venue; `onAlert` receives the venue's alerts (bans, a lost user-data stream). */
export type VenueFactory = (rules: ReadonlyMap<string, Rules>, onAlert: (a: VenueAlert) => void) => Promise<OpenedVenue>;

/**
 * The venue named by the environment (venue-config.ts): the paper venue, or Binance USDⓈ-M
 * through ccxt — the local venue (driven by the replay clock; fills come with each step),
 * Binance's demo-trading environment or a live account (fills pushed by the user-data stream).
 * @throws VenueConfigError when the settings are incomplete (missing keys, URLs, live opt-in)
 */
export async function venueFromEnv(env: NodeJS.ProcessEnv, rules: ReadonlyMap<string, Rules>, onAlert: (a: VenueAlert) => void): Promise<OpenedVenue> {
  const s = venueSettingsFromEnv(env);
  if (s.kind === 'paper') return { venue: new PaperVenueAdapter('binance-usdm', rules, s.paper), reconcileSeconds: 0 };
  const base = { accountId: s.accountId!, apiKey: s.apiKey!, apiSecret: s.apiSecret!, onAlert };
  if (s.kind === 'binance-local') {
    // Driven by the replay clock: reconciled at start-up; a timer would break replay determinism.
    return { venue: new LocalBinanceVenue({ ...base, restBase: s.restBase!, wsBase: s.wsBase! }), reconcileSeconds: 0, accountId: s.accountId! };
  }
  const venue = new BinanceUsdmVenue({ ...base, mode: s.kind === 'binance-demo' ? 'demo' : 'live' });
  return {
    venue,
    reconcileSeconds: s.reconcileSeconds,
    accountId: s.accountId!,
    subscribe: (listener) => {
      venue.onVenueEvents(listener);
      void venue.startUserData();
    },
  };
}
