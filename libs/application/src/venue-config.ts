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
 */
export type VenueKind = 'paper' | 'binance-local' | 'binance-demo' | 'binance-live';
export const VENUE_KINDS: readonly VenueKind[] = ['paper', 'binance-local', 'binance-demo', 'binance-live'];

export interface VenueSettings {
  kind: VenueKind;
  /** ccxt venues: the Bulwark account these keys trade (BULWARK_ACCOUNT_ID): one venue account per execution process. */
  accountId: string | null;
  /** ccxt venues: the API key and secret (never logged, never in events or errors). */
  apiKey: string | null;
  apiSecret: string | null;
  /** binance-local: REST base (http://127.0.0.1:PORT) and websocket base (ws://127.0.0.1:PORT). */
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
 * Read BULWARK_VENUE (paper | binance-local | binance-demo | binance-live), BULWARK_ACCOUNT_ID,
 * BINANCE_API_KEY / BINANCE_API_SECRET (or *_FILE), BULWARK_VENUE_REST / BULWARK_VENUE_WS
 * (binance-local), BULWARK_LIVE_TRADING (binance-live) and BULWARK_RECONCILE_SECONDS.
 * @throws VenueConfigError naming what is missing: keys for a ccxt venue, the URLs of the
 *   local venue, the explicit live-trading opt-in.
 */
export function venueSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): VenueSettings {
  const kind = (env.BULWARK_VENUE || 'paper') as VenueKind;
  if (!VENUE_KINDS.includes(kind)) throw new VenueConfigError(`BULWARK_VENUE must be one of ${VENUE_KINDS.join(', ')}, got "${env.BULWARK_VENUE}"`);
  const reconcileSeconds = env.BULWARK_RECONCILE_SECONDS === undefined ? 60 : Number(env.BULWARK_RECONCILE_SECONDS);
  if (!Number.isFinite(reconcileSeconds) || reconcileSeconds < 0) throw new VenueConfigError(`BULWARK_RECONCILE_SECONDS must be a number of seconds >= 0, got "${env.BULWARK_RECONCILE_SECONDS}"`);
  const s: VenueSettings = { kind, accountId: null, apiKey: null, apiSecret: null, restBase: null, wsBase: null, reconcileSeconds, paper: {} };
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
  s.apiKey = secretFromEnv(env, 'BINANCE_API_KEY');
  s.apiSecret = secretFromEnv(env, 'BINANCE_API_SECRET');
  if (!s.apiKey || !s.apiSecret) {
    throw new VenueConfigError(`BULWARK_VENUE=${kind} needs BINANCE_API_KEY and BINANCE_API_SECRET (or BINANCE_API_KEY_FILE and BINANCE_API_SECRET_FILE); without keys Bulwark trades only the paper venue`);
  }
  s.accountId = env.BULWARK_ACCOUNT_ID || null;
  if (!s.accountId) throw new VenueConfigError(`BULWARK_VENUE=${kind} needs BULWARK_ACCOUNT_ID: the Bulwark account these keys trade`);
  if (kind === 'binance-local') {
    s.restBase = env.BULWARK_VENUE_REST || null;
    s.wsBase = env.BULWARK_VENUE_WS || null;
    if (!s.restBase || !s.wsBase) throw new VenueConfigError('BULWARK_VENUE=binance-local needs BULWARK_VENUE_REST and BULWARK_VENUE_WS (printed by `bulwark venue serve`)');
  }
  if (kind === 'binance-live' && env.BULWARK_LIVE_TRADING !== 'yes') {
    throw new VenueConfigError('BULWARK_VENUE=binance-live trades real money: set BULWARK_LIVE_TRADING=yes to confirm (use binance-demo for Binance\'s demo-trading environment)');
  }
  return s;
}
