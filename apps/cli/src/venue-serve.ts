import * as path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { localVenueInputs, startBinanceLocal, type BinanceLocal } from '@bulwark/binance-local';
import { resolveDataDir } from '@bulwark/market-data';

/** Flags of `bulwark venue serve`. */
export interface VenueServeFlags {
  port: number;
  host: string;
  candles?: string;
  funding?: string;
  symbol: string;
  start?: number;
  apiKey?: string;
  apiSecret?: string;
  account: string;
  balance: string;
  dataDir?: string;
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

function utc(v: string): number {
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`--start must be a UTC date (YYYY-MM-DD or ISO time), got "${v}"`);
  return t;
}

/**
 * Start the local Binance USDⓈ-M venue from CLI flags (keys from the flags or from
 * BINANCE_API_KEY / BINANCE_API_SECRET; rules, exchange info and brackets from the data
 * directory). Prints the URLs and the account, never the secret.
 * @throws Error when no API key/secret is given
 */
export async function serveVenue(flags: VenueServeFlags, env: NodeJS.ProcessEnv = process.env, log: (s: string) => void = console.log): Promise<BinanceLocal> {
  const apiKey = flags.apiKey ?? env['BINANCE_API_KEY'];
  const apiSecret = flags.apiSecret ?? env['BINANCE_API_SECRET'];
  if (!apiKey || !apiSecret) throw new Error('an API key and secret are required: --api-key K --api-secret S, or BINANCE_API_KEY / BINANCE_API_SECRET');
  const dataDir = flags.dataDir ? path.resolve(flags.dataDir) : resolveDataDir(env);
  const inputs = localVenueInputs(dataDir, flags.symbol);
  const local = await startBinanceLocal({
    ...inputs,
    candlesFile: flags.candles ? path.resolve(flags.candles) : inputs.candlesFile,
    fundingFile: flags.funding ? path.resolve(flags.funding) : inputs.fundingFile,
    startTime: flags.start,
    port: flags.port,
    host: flags.host,
    accounts: [{ accountId: flags.account, apiKey, apiSecret, balance: flags.balance }],
  });
  log(`Local Binance USDⓈ-M venue (${flags.symbol}), account ${flags.account} with ${flags.balance} USDT (API key and secret from flags or the environment; never printed)`);
  log(`  REST       ${local.url}/fapi/v1/…  (ccxt urls.api fapiPublic/fapiPrivate = ${local.url}/fapi/v1)`);
  log(`  WebSocket  ${local.wsUrl}/ws  (ccxt.pro urls.api.ws.future; market ${local.wsUrl}/market/ws, user data ${local.wsUrl}/private/ws?listenKey=…)`);
  log(`  clock      POST ${local.url}/bulwark/v1/advance?steps=N or /bulwark/v1/step (signed); ${local.clock.remaining()} path steps of candles`);
  return local;
}

/** Register `bulwark venue serve`: runs until SIGINT/SIGTERM, then closes the server and its sockets. */
export function registerVenueCommands(program: Command): void {
  const venue = program.command('venue').description('A local Binance USDⓈ-M compatible venue for tests and demos.');
  venue
    .command('serve')
    .description('Serve Binance USDⓈ-M REST + WebSocket APIs (the /fapi endpoints ccxt uses) on the paper venue, priced by recorded candles advanced on request.')
    .option('--port <n>', 'port (0 = any free port)', port, 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--candles <file>', '1m candle CSV the clock walks (default: the data directory\'s 2025-11-10..2025-12-10 BTCUSDT file)')
    .option('--funding <file>', 'funding-rate CSV (default: the data directory\'s funding-rates.csv)')
    .option('--symbol <SYMBOL>', 'instrument of the data directory', 'BTCUSDT')
    .option('--start <time>', 'first candle the clock walks (UTC); earlier candles are kline history', utc)
    .option('--api-key <key>', 'API key of the account (default: BINANCE_API_KEY)')
    .option('--api-secret <secret>', 'API secret of the account (default: BINANCE_API_SECRET)')
    .option('--account <id>', 'account id', 'local-1')
    .option('--balance <usdt>', 'initial USDT balance', usdt, '10000')
    .option('--data-dir <dir>', 'market data directory (default: BULWARK_DATA_DIR or ../shared/data)')
    .action(async (flags: VenueServeFlags, cmd: Command) => {
      let local: BinanceLocal;
      try {
        local = await serveVenue(flags);
      } catch (e) {
        if (e instanceof Error && e.message.startsWith('an API key and secret are required')) cmd.error(`error: ${e.message}`, { code: 'commander.invalidArgument', exitCode: 2 });
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
