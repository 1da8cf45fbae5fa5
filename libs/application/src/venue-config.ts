import { readFileSync } from 'node:fs';
import { type PaperVenueOptions, parseLiquidity } from '@bulwark/domain';

/**
 * Which venue the execution service trades, from the environment:
 * - `paper` (default): the in-process paper venue, driven by the replay clock.
 * - `binance-local`: the local Binance USDⓈ-M compatible venue (`bulwark venue serve`)
 *   through ccxt, driven by the replay clock (its `/bulwark/v1/step` endpoint).
 * - `binance-demo`: Binance's demo-trading environment through ccxt (demo keys).
 * - `binance-live`: a real Binance USDⓈ-M account through ccxt; also needs
 *   `BULWARK_LIVE_TRADING=yes`, so a copied configuration never trades real money by accident.
 * - `bitget-local`, `bitget-demo`, `bitget-live`: the same three for Bitget USDT-M perpetual
 *   futures (productType USDT-FUTURES, a classic account) through ccxt `bitget`: the local
 *   Bitget-compatible venue, Bitget's demo trading (the `paptrading: 1` header) and a real
 *   account (also behind `BULWARK_LIVE_TRADING=yes`). Bitget keys come with a passphrase.
 */
export type VenueKind = 'paper' | 'binance-local' | 'binance-demo' | 'binance-live' | 'bitget-local' | 'bitget-demo' | 'bitget-live';
export const VENUE_KINDS: readonly VenueKind[] = ['paper', 'binance-local', 'binance-demo', 'binance-live', 'bitget-local', 'bitget-demo', 'bitget-live'];

/** The ccxt venue a kind trades on, and how (null for the paper venue). */
export function venueOfKind(kind: VenueKind): { exchange: 'binance' | 'bitget'; mode: 'local' | 'demo' | 'live' } | null {
  if (kind === 'paper') return null;
  const [exchange, mode] = kind.split('-') as ['binance' | 'bitget', 'local' | 'demo' | 'live'];
  return { exchange, mode };
}

export interface VenueSettings {
  kind: VenueKind;
  /** ccxt venues: the Bulwark account these keys trade (BULWARK_ACCOUNT_ID): one venue account per execution process. */
  accountId: string | null;
  /** ccxt venues: the API key and secret (never logged, never in events or errors). */
  apiKey: string | null;
  apiSecret: string | null;
  /** Bitget venues: the API key's passphrase (BITGET_API_PASSPHRASE; never logged, never in events or errors); null for the others. */
  passphrase: string | null;
  /** binance-local / bitget-local: REST base (http://127.0.0.1:PORT) and websocket base (ws://127.0.0.1:PORT). */
  restBase: string | null;
  wsBase: string | null;
  /** Seconds between reconciliations of a live venue (BULWARK_RECONCILE_SECONDS, default 60; 0 = start-up only). */
  reconcileSeconds: number;
  /**
   * paper: how the paper venue fills (BULWARK_PAPER_LIQUIDITY = WHOLE (default) |
   * VOLUME_SHARE:<share of the bar's volume>, BULWARK_PAPER_TRADES_PER_FILL = N trades per fill).
   */
  paper: PaperVenueOptions;
}

/** The venue settings are unusable; the message says which variable to set (never a secret's value). */
export class VenueConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VenueConfigError';
  }
}

/**
 * A secret from `NAME` or from the file named by `NAME_FILE` (Kubernetes secrets mounted as files); trimmed.
 * @throws `configError` (default VenueConfigError) naming `NAME_FILE` when that file cannot be read (never a secret's value)
 */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string, configError: new (message: string) => Error = VenueConfigError): string | null {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      const v = readFileSync(file, 'utf8').trim();
      return v.length > 0 ? v : null;
    } catch (e) {
      throw new configError(`${name}_FILE names a file that cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const v = env[name]?.trim();
  return v ? v : null;
}

/**
 * Read BULWARK_VENUE (paper | binance-local | binance-demo | binance-live | bitget-local |
 * bitget-demo | bitget-live), BULWARK_ACCOUNT_ID, BINANCE_API_KEY / BINANCE_API_SECRET or
 * BITGET_API_KEY / BITGET_API_SECRET / BITGET_API_PASSPHRASE (each also as *_FILE),
 * BULWARK_VENUE_REST / BULWARK_VENUE_WS (the local venues), BULWARK_LIVE_TRADING (the live
 * venues) and BULWARK_RECONCILE_SECONDS.
 * @throws VenueConfigError naming what is missing: keys for a ccxt venue, the URLs of the
 *   local venue, the explicit live-trading opt-in.
 */
export function venueSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): VenueSettings {
  const kind = (env.BULWARK_VENUE || 'paper') as VenueKind;
  if (!VENUE_KINDS.includes(kind)) throw new VenueConfigError(`BULWARK_VENUE must be one of ${VENUE_KINDS.join(', ')}, got "${env.BULWARK_VENUE}"`);
  const reconcileSeconds = env.BULWARK_RECONCILE_SECONDS === undefined ? 60 : Number(env.BULWARK_RECONCILE_SECONDS);
  if (!Number.isFinite(reconcileSeconds) || reconcileSeconds < 0) throw new VenueConfigError(`BULWARK_RECONCILE_SECONDS must be a number of seconds >= 0, got "${env.BULWARK_RECONCILE_SECONDS}"`);
  const s: VenueSettings = { kind, accountId: null, apiKey: null, apiSecret: null, passphrase: null, restBase: null, wsBase: null, reconcileSeconds, paper: {} };
  if (kind === 'paper') {
    try {
      if (env.BULWARK_PAPER_LIQUIDITY) s.paper.liquidity = parseLiquidity(env.BULWARK_PAPER_LIQUIDITY);
    } catch (e) {
      throw new VenueConfigError(`BULWARK_PAPER_LIQUIDITY: ${(e as Error).message}`);
    }
    if (env.BULWARK_PAPER_TRADES_PER_FILL) {
      const n = Number(env.BULWARK_PAPER_TRADES_PER_FILL);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new VenueConfigError(`BULWARK_PAPER_TRADES_PER_FILL must be an integer from 1 to 1000, got "${env.BULWARK_PAPER_TRADES_PER_FILL}"`);
      s.paper.tradesPerFill = n;
    }
    return s;
  }
  const venue = venueOfKind(kind)!;
  if (venue.exchange === 'bitget') {
    s.apiKey = secretFromEnv(env, 'BITGET_API_KEY');
    s.apiSecret = secretFromEnv(env, 'BITGET_API_SECRET');
    s.passphrase = secretFromEnv(env, 'BITGET_API_PASSPHRASE');
    if (!s.apiKey || !s.apiSecret || !s.passphrase) {
      throw new VenueConfigError(
        `BULWARK_VENUE=${kind} needs BITGET_API_KEY, BITGET_API_SECRET and BITGET_API_PASSPHRASE (or BITGET_API_KEY_FILE, BITGET_API_SECRET_FILE and BITGET_API_PASSPHRASE_FILE); without keys Bulwark trades only the paper venue`,
      );
    }
  } else {
    s.apiKey = secretFromEnv(env, 'BINANCE_API_KEY');
    s.apiSecret = secretFromEnv(env, 'BINANCE_API_SECRET');
    if (!s.apiKey || !s.apiSecret) {
      throw new VenueConfigError(`BULWARK_VENUE=${kind} needs BINANCE_API_KEY and BINANCE_API_SECRET (or BINANCE_API_KEY_FILE and BINANCE_API_SECRET_FILE); without keys Bulwark trades only the paper venue`);
    }
  }
  s.accountId = env.BULWARK_ACCOUNT_ID || null;
  if (!s.accountId) throw new VenueConfigError(`BULWARK_VENUE=${kind} needs BULWARK_ACCOUNT_ID: the Bulwark account these keys trade`);
  if (venue.mode === 'local') {
    s.restBase = env.BULWARK_VENUE_REST || null;
    s.wsBase = env.BULWARK_VENUE_WS || null;
    if (!s.restBase || !s.wsBase) throw new VenueConfigError(`BULWARK_VENUE=${kind} needs BULWARK_VENUE_REST and BULWARK_VENUE_WS (printed by \`bulwark venue serve\`)`);
  }
  if (venue.mode === 'live' && env.BULWARK_LIVE_TRADING !== 'yes') {
    throw new VenueConfigError(`BULWARK_VENUE=${kind} trades real money: set BULWARK_LIVE_TRADING=yes to confirm (use ${venue.exchange}-demo for ${venue.exchange === 'bitget' ? 'Bitget' : 'Binance'}'s demo-trading environment)`);
  }
  return s;
}
