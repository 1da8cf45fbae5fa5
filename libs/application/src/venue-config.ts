import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Identifier } from '@bulwark/contracts';
import { type PaperVenueOptions, parseLiquidity } from '@bulwark/domain';
import { z } from 'zod';

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

/** One venue account execution trades through ccxt: the Bulwark account and its API key material (never logged, never in events or errors). */
export interface VenueAccountKeys {
  /** The Bulwark account these keys trade. */
  accountId: string;
  apiKey: string;
  apiSecret: string;
  /** Bitget venues: the API key's passphrase; null for Binance. */
  passphrase: string | null;
}

export interface VenueSettings {
  kind: VenueKind;
  /**
   * ccxt venues: the venue accounts this execution trades, in the order given: one from
   * BULWARK_ACCOUNT_ID and the key variables, or every entry of BULWARK_ACCOUNTS_FILE (one
   * execution, many accounts, all on the same venue); empty for the paper venue, which holds
   * every account itself.
   */
  accounts: VenueAccountKeys[];
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

/** The ccxt venue kinds an accounts file may name (the paper venue holds every account itself and needs no keys). */
const CCXT_VENUE_KINDS = ['binance-local', 'binance-demo', 'binance-live', 'bitget-local', 'bitget-demo', 'bitget-live'] as const;

/** One entry of BULWARK_ACCOUNTS_FILE as written: the account, its venue and the files of its key material. */
export const AccountsFileEntry = z
  .object({
    accountId: Identifier,
    venue: z.enum(CCXT_VENUE_KINDS),
    /** Files holding the API key, the secret and (Bitget) the passphrase; relative paths are relative to the accounts file. */
    keyFile: z.string().min(1),
    secretFile: z.string().min(1),
    passphraseFile: z.string().min(1).optional(),
  })
  .strict();
export type AccountsFileEntry = z.infer<typeof AccountsFileEntry>;

/** BULWARK_ACCOUNTS_FILE: a JSON array of at least one entry. */
export const AccountsFile = z.array(AccountsFileEntry).min(1, 'expected at least one account');

/** The single-account key variables (each also as `<NAME>_FILE`). */
const SINGLE_ACCOUNT_KEYS = ['BINANCE_API_KEY', 'BINANCE_API_SECRET', 'BITGET_API_KEY', 'BITGET_API_SECRET', 'BITGET_API_PASSPHRASE'];

/** The single-account variables BULWARK_ACCOUNTS_FILE replaces: BULWARK_ACCOUNT_ID and the key variables (with their `_FILE` forms). */
export const SINGLE_ACCOUNT_ENV: readonly string[] = ['BULWARK_ACCOUNT_ID', ...SINGLE_ACCOUNT_KEYS.flatMap((n) => [n, `${n}_FILE`])];

/**
 * The single-account variables that give something: BULWARK_ACCOUNT_ID when not empty, a key
 * variable when it (or the file its `_FILE` names) holds a key. An empty or missing key file
 * gives nothing: the deploy files always name the key files, empty (compose) or absent
 * (an optional Kubernetes Secret) when the keys come from an accounts file.
 */
function singleAccountGiven(env: NodeJS.ProcessEnv): string[] {
  const given = env.BULWARK_ACCOUNT_ID ? ['BULWARK_ACCOUNT_ID'] : [];
  for (const name of SINGLE_ACCOUNT_KEYS) {
    let key: string | null = null;
    try {
      key = secretFromEnv(env, name);
    } catch {
      // An unreadable key file gives no key.
    }
    if (key) given.push(env[`${name}_FILE`] ? `${name}_FILE` : name);
  }
  return given;
}

/** A file of key material, trimmed; `what` names the entry and field in errors (never the content). */
function keyMaterial(file: string, base: string, what: string): string {
  let v: string;
  try {
    v = readFileSync(path.resolve(base, file), 'utf8').trim();
  } catch (e) {
    throw new VenueConfigError(`${what} names a file that cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}): ${file}`);
  }
  if (!v) throw new VenueConfigError(`${what} names an empty file: ${file}`);
  return v;
}

/**
 * Read BULWARK_ACCOUNTS_FILE: a JSON array of `{ accountId, venue, keyFile, secretFile,
 * passphraseFile? }` (venue one of binance-local | binance-demo | binance-live | bitget-local |
 * bitget-demo | bitget-live; key files relative to the accounts file unless absolute). Every
 * account of one execution trades the same venue kind: one exchange (one venue id: Binance
 * USDⓈ-M or Bitget USDT-M) and one mode (local, demo or live: one market). The key material
 * is read from the files, trimmed; it never appears in an error.
 * @throws VenueConfigError naming the file, the entry (index and account) and the field: an
 *   unreadable or invalid file, a missing or empty key file, a passphrase missing for Bitget
 *   or given for Binance, a duplicate account id or API key, mixed exchanges or modes.
 */
export function accountsFromFile(file: string): { kind: Exclude<VenueKind, 'paper'>; accounts: VenueAccountKeys[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VenueConfigError(`BULWARK_ACCOUNTS_FILE ${file}: ${code ? `cannot be read (${code})` : `is not JSON (${(e as Error).message})`}`);
  }
  const parsed = AccountsFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [index, field] = issue.path;
    const entry = typeof index === 'number' ? `accounts[${index}]${typeof (raw as Array<{ accountId?: unknown }>)[index]?.accountId === 'string' ? ` (${(raw as Array<{ accountId: string }>)[index].accountId})` : ''}` : 'the file';
    throw new VenueConfigError(`BULWARK_ACCOUNTS_FILE ${file}: ${entry}${field !== undefined ? ` ${String(field)}` : ''}: ${issue.message}`);
  }
  const entries = parsed.data;
  const base = path.dirname(path.resolve(file));
  const kind = entries[0].venue;
  const first = venueOfKind(kind)!;
  const seenIds = new Map<string, number>();
  const seenKeys = new Map<string, string>();
  const accounts = entries.map((a, i) => {
    const what = `BULWARK_ACCOUNTS_FILE ${file}: accounts[${i}] (${a.accountId})`;
    const v = venueOfKind(a.venue)!;
    if (v.exchange !== first.exchange) throw new VenueConfigError(`${what} venue: ${a.venue} is another exchange than accounts[0]'s ${kind}; one execution trades one venue (run one execution per venue)`);
    if (v.mode !== first.mode) throw new VenueConfigError(`${what} venue: ${a.venue} mixes ${v.mode} with accounts[0]'s ${first.mode} (${kind}); one execution trades one market`);
    const dup = seenIds.get(a.accountId);
    if (dup !== undefined) throw new VenueConfigError(`${what} accountId: also accounts[${dup}]'s; each account once`);
    seenIds.set(a.accountId, i);
    if (v.exchange === 'bitget' && !a.passphraseFile) throw new VenueConfigError(`${what} passphraseFile: required for a Bitget account`);
    if (v.exchange === 'binance' && a.passphraseFile) throw new VenueConfigError(`${what} passphraseFile: Binance keys have no passphrase; leave it out`);
    const keys: VenueAccountKeys = {
      accountId: a.accountId,
      apiKey: keyMaterial(a.keyFile, base, `${what} keyFile`),
      apiSecret: keyMaterial(a.secretFile, base, `${what} secretFile`),
      passphrase: a.passphraseFile ? keyMaterial(a.passphraseFile, base, `${what} passphraseFile`) : null,
    };
    // Two Bulwark accounts on one venue account would trade each other's positions.
    const sameKey = seenKeys.get(keys.apiKey);
    if (sameKey !== undefined) throw new VenueConfigError(`${what} keyFile: the same API key as account ${sameKey}; each venue account once`);
    seenKeys.set(keys.apiKey, a.accountId);
    return keys;
  });
  return { kind, accounts };
}

/**
 * Read BULWARK_VENUE (paper | binance-local | binance-demo | binance-live | bitget-local |
 * bitget-demo | bitget-live), BULWARK_ACCOUNT_ID, BINANCE_API_KEY / BINANCE_API_SECRET or
 * BITGET_API_KEY / BITGET_API_SECRET / BITGET_API_PASSPHRASE (each also as *_FILE) — or,
 * instead of the account and key variables, BULWARK_ACCOUNTS_FILE (many accounts, see
 * {@link accountsFromFile}; BULWARK_VENUE, when set, must name their venue) —
 * BULWARK_VENUE_REST / BULWARK_VENUE_WS (the local venues), BULWARK_LIVE_TRADING (the live
 * venues) and BULWARK_RECONCILE_SECONDS.
 * @throws VenueConfigError naming what is missing: keys for a ccxt venue, the URLs of the
 *   local venue, the explicit live-trading opt-in; or what is wrong with the accounts file,
 *   or that it is set together with the single-account variables.
 */
export function venueSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): VenueSettings {
  const file = env.BULWARK_ACCOUNTS_FILE || null;
  if (file) {
    const both = singleAccountGiven(env);
    if (both.length) throw new VenueConfigError(`BULWARK_ACCOUNTS_FILE replaces ${both.join(', ')}: set one or the other, not both`);
  }
  const fromFile = file ? accountsFromFile(file) : null;
  if (fromFile && env.BULWARK_VENUE && env.BULWARK_VENUE !== fromFile.kind) {
    throw new VenueConfigError(`BULWARK_VENUE=${env.BULWARK_VENUE} but the accounts of BULWARK_ACCOUNTS_FILE trade ${fromFile.kind}: name the same venue (or leave BULWARK_VENUE out for execution)`);
  }
  const kind = (fromFile?.kind ?? (env.BULWARK_VENUE || 'paper')) as VenueKind;
  if (!VENUE_KINDS.includes(kind)) throw new VenueConfigError(`BULWARK_VENUE must be one of ${VENUE_KINDS.join(', ')}, got "${env.BULWARK_VENUE}"`);
  const reconcileSeconds = env.BULWARK_RECONCILE_SECONDS === undefined ? 60 : Number(env.BULWARK_RECONCILE_SECONDS);
  if (!Number.isFinite(reconcileSeconds) || reconcileSeconds < 0) throw new VenueConfigError(`BULWARK_RECONCILE_SECONDS must be a number of seconds >= 0, got "${env.BULWARK_RECONCILE_SECONDS}"`);
  const s: VenueSettings = { kind, accounts: fromFile?.accounts ?? [], restBase: null, wsBase: null, reconcileSeconds, paper: {} };
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
  if (!fromFile) s.accounts = [singleAccountFromEnv(env, kind)];
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

/**
 * The one account of BULWARK_ACCOUNT_ID and the key variables (Binance: BINANCE_API_KEY /
 * BINANCE_API_SECRET; Bitget: BITGET_API_KEY / BITGET_API_SECRET / BITGET_API_PASSPHRASE;
 * each also as *_FILE).
 * @throws VenueConfigError naming the missing variables (never a secret's value)
 */
function singleAccountFromEnv(env: NodeJS.ProcessEnv, kind: VenueKind): VenueAccountKeys {
  let keys: Omit<VenueAccountKeys, 'accountId'>;
  if (venueOfKind(kind)!.exchange === 'bitget') {
    const [apiKey, apiSecret, passphrase] = [secretFromEnv(env, 'BITGET_API_KEY'), secretFromEnv(env, 'BITGET_API_SECRET'), secretFromEnv(env, 'BITGET_API_PASSPHRASE')];
    if (!apiKey || !apiSecret || !passphrase) {
      throw new VenueConfigError(
        `BULWARK_VENUE=${kind} needs BITGET_API_KEY, BITGET_API_SECRET and BITGET_API_PASSPHRASE (or BITGET_API_KEY_FILE, BITGET_API_SECRET_FILE and BITGET_API_PASSPHRASE_FILE, or BULWARK_ACCOUNTS_FILE); without keys Bulwark trades only the paper venue`,
      );
    }
    keys = { apiKey, apiSecret, passphrase };
  } else {
    const [apiKey, apiSecret] = [secretFromEnv(env, 'BINANCE_API_KEY'), secretFromEnv(env, 'BINANCE_API_SECRET')];
    if (!apiKey || !apiSecret) {
      throw new VenueConfigError(`BULWARK_VENUE=${kind} needs BINANCE_API_KEY and BINANCE_API_SECRET (or BINANCE_API_KEY_FILE and BINANCE_API_SECRET_FILE, or BULWARK_ACCOUNTS_FILE); without keys Bulwark trades only the paper venue`);
    }
    keys = { apiKey, apiSecret, passphrase: null };
  }
  const accountId = env.BULWARK_ACCOUNT_ID || null;
  if (!accountId) throw new VenueConfigError(`BULWARK_VENUE=${kind} needs BULWARK_ACCOUNT_ID: the Bulwark account these keys trade`);
  return { accountId, ...keys };
}
