import type { VenueId } from '@bulwark/contracts';
import type { PaperVenueEvent, PaperVenueOptions, Rules } from '@bulwark/domain';
import type { VenueAlert, VenuePort } from '@bulwark/venues';
import { venueSettingsFromEnv } from './venue-config';
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
  /** The account a ccxt venue trades (its alerts are recorded on that account's venue stream). */
  accountId?: string;
}

/** Opens the execution service's venue; `onAlert` receives the venue's alerts (bans, a lost user-data stream). */
export type VenueFactory = (rules: ReadonlyMap<string, Rules>, onAlert: (a: VenueAlert) => void) => Promise<OpenedVenue>;

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
 * stream / Bitget's private `orders` channel).
 * @throws VenueConfigError when the settings are incomplete (missing keys, URLs, live opt-in)
 */
export async function venueFromEnv(env: NodeJS.ProcessEnv, rules: ReadonlyMap<string, Rules>, onAlert: (a: VenueAlert) => void): Promise<OpenedVenue> {
  const s = venueSettingsFromEnv(env);
  if (s.kind === 'paper') return paperVenueFactory('binance-usdm', s.paper)(rules, onAlert);
  const { BinanceUsdmVenue, BitgetUsdtmVenue, LocalBinanceVenue, LocalBitgetVenue } = venuesLib();
  const base = { accountId: s.accountId!, apiKey: s.apiKey!, apiSecret: s.apiSecret!, onAlert };
  if (s.kind === 'bitget-local' || s.kind === 'bitget-demo' || s.kind === 'bitget-live') {
    const bitget = { ...base, passphrase: s.passphrase! };
    // Driven by the replay clock like binance-local: reconciled at start-up only.
    if (s.kind === 'bitget-local') return { venue: new LocalBitgetVenue({ ...bitget, restBase: s.restBase!, wsBase: s.wsBase! }), reconcileSeconds: 0, accountId: s.accountId! };
    return pushing(new BitgetUsdtmVenue({ ...bitget, mode: s.kind === 'bitget-demo' ? 'demo' : 'live' }), s.reconcileSeconds, s.accountId!);
  }
  if (s.kind === 'binance-local') {
    // Driven by the replay clock: reconciled at start-up; a timer would break replay determinism.
    return { venue: new LocalBinanceVenue({ ...base, restBase: s.restBase!, wsBase: s.wsBase! }), reconcileSeconds: 0, accountId: s.accountId! };
  }
  return pushing(new BinanceUsdmVenue({ ...base, mode: s.kind === 'binance-demo' ? 'demo' : 'live' }), s.reconcileSeconds, s.accountId!);
}

/** A demo or live venue: reconciled every `reconcileSeconds`; its fills and expiries pushed (Binance's user-data stream, Bitget's private `orders` channel). */
function pushing(
  venue: VenuePort & { onVenueEvents(l: (events: PaperVenueEvent[], ts: number) => void): unknown; startUserData(): Promise<void> },
  reconcileSeconds: number,
  accountId: string,
): OpenedVenue {
  return {
    venue,
    reconcileSeconds,
    accountId,
    subscribe: (listener) => {
      venue.onVenueEvents(listener);
      void venue.startUserData();
    },
  };
}
