import * as path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadMarginPair, resolveDataDir } from '@bulwark/market-data';
import { accountsFromFile, VenueConfigError } from '@bulwark/application';

/** The local venues `bulwark venue serve` runs. */
export const LOCAL_VENUES = ['binance-usdm', 'binance-margin', 'bitget-local'] as const;
export type LocalVenueKind = (typeof LOCAL_VENUES)[number];

/** The spot 1m file of the 2024-08-05 crash: the default of the spot-margin venue. */
export const DEFAULT_MARGIN_CANDLES = 'BTCUSDT-1m-2024-07-26_2024-08-25.csv';

/** Flags of `bulwark venue serve`. */
export interface VenueServeFlags {
  venue: LocalVenueKind;
  /** Market time runs by itself at this multiple of wall time (either venue); unset = only on request. */
  speed?: number;
  port: number;
  host: string;
  candles?: string;
  funding?: string;
  symbol: string;
  start?: number;
  apiKey?: string;
  apiSecret?: string;
  /** Bitget API passphrase (bitget-local only; default BITGET_API_PASSPHRASE). */
  passphrase?: string;
  account: string;
  balance: string;
  dataDir?: string;
  /**
   * Serve every account of this file instead of `--account` and the key flags: the format of
   * execution's BULWARK_ACCOUNTS_FILE (accounts of venue binance-local, or bitget-local for
   * `--venue bitget-local`), each credited with `balance`.
   */
  accountsFile?: string;
}

/** An account the local venue serves, with its API key material. */
interface ServedAccount {
  accountId: string;
  apiKey: string;
  apiSecret: string;
  passphrase: string | null;
}

/**
 * The accounts to serve: every account of `--accounts-file`, else the one of `--account` with
 * the keys of the flags or the environment (`null` when a key is missing).
 * @throws VenueConfigError for an unusable accounts file or one naming another venue
 */
function servedAccounts(flags: VenueServeFlags, exchange: 'binance' | 'bitget', env: NodeJS.ProcessEnv): ServedAccount[] | null {
  if (flags.accountsFile) {
    const { kind, accounts } = accountsFromFile(flags.accountsFile);
    const want = exchange === 'bitget' ? 'bitget-local' : 'binance-local';
    if (kind !== want) throw new VenueConfigError(`--accounts-file ${flags.accountsFile}: its accounts trade ${kind}; this venue serves ${want} accounts`);
    return accounts;
  }
  const [apiKey, apiSecret] = exchange === 'bitget' ? [flags.apiKey ?? env['BITGET_API_KEY'], flags.apiSecret ?? env['BITGET_API_SECRET']] : [flags.apiKey ?? env['BINANCE_API_KEY'], flags.apiSecret ?? env['BINANCE_API_SECRET']];
  const passphrase = exchange === 'bitget' ? (flags.passphrase ?? env['BITGET_API_PASSPHRASE'] ?? null) : null;
  if (!apiKey || !apiSecret || (exchange === 'bitget' && !passphrase)) return null;
  return [{ accountId: flags.account, apiKey, apiSecret, passphrase }];
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError(`--port must be an integer in 0..65535, got "${v}"`);
  return n;
}

function usdt(v: string): string {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError(`--balance must be a non-negative decimal, got "${v}"`);
  return v;
}

function speed(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1_000_000) throw new InvalidArgumentError(`--speed must be a number in (0, 1000000], got "${v}"`);
  return n;
}

function venueKind(v: string): LocalVenueKind {
  if (!(LOCAL_VENUES as readonly string[]).includes(v)) throw new InvalidArgumentError(`--venue must be one of ${LOCAL_VENUES.join(', ')}, got "${v}"`);
  return v as LocalVenueKind;
}

function utc(v: string): number {
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`--start must be a UTC date (YYYY-MM-DD or ISO time), got "${v}"`);
  return t;
}

/** A running local venue, whichever it is. */
export interface ServedVenue {
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Start a local venue from CLI flags. `binance-usdm` / `binance-margin`: keys from the flags or
 * from BINANCE_API_KEY / BINANCE_API_SECRET. `binance-usdm`: rules, exchange info and brackets
 * from the data directory. `binance-margin`: the pair's recorded spot filters, tier and rates
 * from the project's data/venues, priced by a spot 1m file (default: the 2024-08 crash month),
 * the account's spot wallet credited with `--balance` USDT. `bitget-local`: a Bitget USDT-M
 * futures venue (classic account, one-way, isolated) with Bitget's recorded rules, tiers and
 * fees (data/venues/bitget-usdtm) priced by the recorded Binance BTCUSDT 1m futures candles and
 * funding rates of the data directory (there are no Bitget candles); keys from the flags or
 * BITGET_API_KEY / BITGET_API_SECRET / BITGET_API_PASSPHRASE. With `--speed N` any venue's
 * market time walks its candle file by itself at N × wall time (the admin advance still jumps
 * ahead); without it, only on request. Prints the URLs, never the secret or passphrase.
 * @throws Error when no API key/secret (or, for bitget-local, passphrase) is given
 */
export async function serveVenue(flags: VenueServeFlags, env: NodeJS.ProcessEnv = process.env, log: (s: string) => void = console.log): Promise<ServedVenue> {
  if (flags.venue === 'bitget-local') return serveBitget(flags, env, log);
  if (flags.accountsFile && flags.venue === 'binance-margin') throw new VenueConfigError('--accounts-file serves futures accounts (binance-usdm, bitget-local); the spot-margin venue serves one --account');
  const accounts = servedAccounts(flags, 'binance', env);
  if (!accounts) throw new Error('an API key and secret are required: --api-key K --api-secret S, or BINANCE_API_KEY / BINANCE_API_SECRET');
  const [{ apiKey, apiSecret }] = accounts;
  const dataDir = flags.dataDir ? path.resolve(flags.dataDir) : resolveDataDir(env);
  // Loaded here, not with the CLI: only this command and the demo's local venues serve one.
  const { localVenueInputs, startBinanceLocal, startBinanceMarginLocal } = await import('@bulwark/binance-local');
  if ((flags.venue ?? 'binance-usdm') === 'binance-margin') {
    const candlesFile = flags.candles ? path.resolve(flags.candles) : path.join(dataDir, 'binance-spot', flags.symbol, 'klines-1m', DEFAULT_MARGIN_CANDLES);
    const local = await startBinanceMarginLocal({
      pair: loadMarginPair(flags.symbol),
      candlesFile,
      startTime: flags.start,
      speed: flags.speed,
      port: flags.port,
      host: flags.host,
      accounts: [{ accountId: flags.account, apiKey, apiSecret, spot: { USDT: flags.balance } }],
    });
    log(`Local Binance spot isolated-margin venue (${flags.symbol}), account ${flags.account} with ${flags.balance} USDT in its spot wallet (API key and secret from flags or the environment; never printed)`);
    log(`  REST       ${local.url}/api/v3/… and /sapi/v1/…  (ccxt binance urls.api public/private = ${local.url}/api/v3, sapi = ${local.url}/sapi/v1)`);
    log(`  WebSocket  ${local.wsUrl}/ws-api/v3  (ccxt.pro urls.api.ws['ws-api'].spot; user data by POST /sapi/v1/userListenToken)`);
    log(flags.speed ? `  clock      runs at ${flags.speed}x market time over ${local.clock.remaining()} path steps of ${path.basename(candlesFile)}` : `  clock      POST ${local.url}/bulwark/v1/advance?steps=N (signed); ${local.clock.remaining()} path steps of ${path.basename(candlesFile)}`);
    return local;
  }
  const inputs = localVenueInputs(dataDir, flags.symbol);
  const candlesFile = flags.candles ? path.resolve(flags.candles) : inputs.candlesFile;
  const local = await startBinanceLocal({
    ...inputs,
    candlesFile,
    fundingFile: flags.funding ? path.resolve(flags.funding) : inputs.fundingFile,
    startTime: flags.start,
    speed: flags.speed,
    port: flags.port,
    host: flags.host,
    accounts: accounts.map(({ accountId, apiKey, apiSecret }) => ({ accountId, apiKey, apiSecret, balance: flags.balance })),
  });
  log(`Local Binance USDⓈ-M venue (${flags.symbol}), ${servedLine(flags, accounts)}`);
  log(`  REST       ${local.url}/fapi/v1/…  (ccxt urls.api fapiPublic/fapiPrivate = ${local.url}/fapi/v1)`);
  log(`  WebSocket  ${local.wsUrl}/ws  (ccxt.pro urls.api.ws.future; market ${local.wsUrl}/market/ws, user data ${local.wsUrl}/private/ws?listenKey=…)`);
  const file = candlesFile ? path.basename(candlesFile) : 'candles';
  log(flags.speed
    ? `  clock      runs at ${flags.speed}x market time over ${local.clock.remaining()} path steps of ${file} (POST ${local.url}/bulwark/v1/advance?steps=N still jumps ahead)`
    : `  clock      POST ${local.url}/bulwark/v1/advance?steps=N or /bulwark/v1/step (signed); ${local.clock.remaining()} path steps of ${file}`);
  return local;
}

/** Which accounts a venue serves, for its start-up line (never key material). */
function servedLine(flags: VenueServeFlags, accounts: readonly ServedAccount[]): string {
  const which = accounts.length === 1 ? `account ${accounts[0].accountId}` : `${accounts.length} accounts (${accounts.map((a) => a.accountId).join(', ')})`;
  return `${which} with ${flags.balance} USDT ${accounts.length === 1 ? '' : 'each '}(API keys from ${flags.accountsFile ? 'the accounts file' : 'flags or the environment'}; never printed)`;
}

/** `--venue bitget-local`: see serveVenue. */
async function serveBitget(flags: VenueServeFlags, env: NodeJS.ProcessEnv, log: (s: string) => void): Promise<ServedVenue> {
  const accounts = servedAccounts(flags, 'bitget', env);
  if (!accounts) {
    throw new Error('an API key and secret are required, and a passphrase: --api-key K --api-secret S --passphrase P, or BITGET_API_KEY / BITGET_API_SECRET / BITGET_API_PASSPHRASE');
  }
  const dataDir = flags.dataDir ? path.resolve(flags.dataDir) : resolveDataDir(env);
  const { bitgetLocalInputs, startBitgetLocal } = await import('@bulwark/binance-local');
  const inputs = bitgetLocalInputs(dataDir, flags.symbol);
  const candlesFile = flags.candles ? path.resolve(flags.candles) : inputs.candlesFile;
  const local = await startBitgetLocal({
    ...inputs,
    candlesFile,
    fundingFile: flags.funding ? path.resolve(flags.funding) : inputs.fundingFile,
    startTime: flags.start,
    speed: flags.speed,
    port: flags.port,
    host: flags.host,
    accounts: accounts.map(({ accountId, apiKey, apiSecret, passphrase }) => ({ accountId, apiKey, apiSecret, passphrase: passphrase!, balance: flags.balance })),
  });
  const file = candlesFile ? path.basename(candlesFile) : 'candles';
  log(`Local Bitget USDT-M futures venue (${flags.symbol}; Bitget's recorded rules, tiers and fees; prices: the recorded Binance ${file}), ${servedLine(flags, accounts)} (classic accounts, one-way, isolated)`);
  log(`  REST       ${local.url}/api/v2/…  (ccxt bitget urls.api.* = ${local.url}; see bitgetCcxtFor for the options ccxt needs)`);
  log(`  WebSocket  ${local.wsUrl}/v2/ws/private and /v2/ws/public  (ccxt.pro bitget urls.api.ws.private / public)`);
  log(flags.speed
    ? `  clock      runs at ${flags.speed}x market time over ${local.clock.remaining()} path steps of ${file} (POST ${local.url}/bulwark/v1/advance {"steps":N} still jumps ahead)`
    : `  clock      POST ${local.url}/bulwark/v1/advance {"steps":N} or /bulwark/v1/step (Bitget-signed); ${local.clock.remaining()} path steps of ${file}`);
  return local;
}

/** Register `bulwark venue serve`: runs until SIGINT/SIGTERM, then closes the server and its sockets. */
export function registerVenueCommands(program: Command): void {
  const venue = program.command('venue').description('Local exchange-compatible venues (Binance USDⓈ-M futures, Binance spot isolated margin, Bitget USDT-M futures) for tests and demos.');
  venue
    .command('serve')
    .description('Serve exchange REST + WebSocket APIs on the paper engines, priced by recorded candles (binance-usdm: the /fapi endpoints ccxt uses; binance-margin: /api/v3 and /sapi/v1 isolated margin; bitget-local: Bitget\'s /api/v2/mix endpoints and private websocket).')
    .option('--venue <venue>', `which venue: ${LOCAL_VENUES.join(' or ')}`, venueKind, 'binance-usdm')
    .option('--speed <n>', 'market time runs by itself at N x wall time (either venue); without it the clock moves only on request', speed)
    .option('--port <n>', 'port (0 = any free port)', port, 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--candles <file>', '1m candle CSV the clock walks (default: the data directory\'s 2025-11-10..2025-12-10 BTCUSDT futures file; binance-margin: the 2024-07-26..2024-08-25 spot file)')
    .option('--funding <file>', 'funding-rate CSV (default: the data directory\'s funding-rates.csv)')
    .option('--symbol <SYMBOL>', 'instrument of the data directory', 'BTCUSDT')
    .option('--start <time>', 'first candle the clock walks (UTC); earlier candles are kline history', utc)
    .option('--api-key <key>', 'API key of the account (default: BINANCE_API_KEY; bitget-local: BITGET_API_KEY)')
    .option('--api-secret <secret>', 'API secret of the account (default: BINANCE_API_SECRET; bitget-local: BITGET_API_SECRET)')
    .option('--passphrase <passphrase>', 'API passphrase of the account, bitget-local only (default: BITGET_API_PASSPHRASE)')
    .option('--account <id>', 'account id', 'local-1')
    .option('--balance <usdt>', 'initial USDT balance', usdt, '10000')
    .option('--data-dir <dir>', 'market data directory (default: BULWARK_DATA_DIR or ../shared/data)')
    .option('--accounts-file <file>', 'serve every account of this JSON file (the format of execution\'s BULWARK_ACCOUNTS_FILE: accountId, venue binance-local or bitget-local, keyFile, secretFile, passphraseFile) instead of --account and the keys; each gets --balance')
    .action(async (flags: VenueServeFlags, cmd: Command) => {
      let local: ServedVenue;
      try {
        local = await serveVenue(flags);
      } catch (e) {
        if (e instanceof VenueConfigError || (e instanceof Error && e.message.startsWith('an API key and secret are required'))) cmd.error(`error: ${e.message}`, { code: 'commander.invalidArgument', exitCode: 2 });
        throw e;
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await local.close();
      console.log('venue closed');
    });
}
