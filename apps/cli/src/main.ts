import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { busConfigFromEnv } from '@bulwark/messaging';
import { ALLOWED_DATA_DIRS_ENV, CandleFileError, DataDirNotFoundError, MarketDataFileError, projectRoot } from '@bulwark/market-data';
import { Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { accountSet } from '@bulwark/application';
import { type DemoGateway, DemoError, type DemoReport, defaultDemoFiles, defaultSpotMarginCandles, describeWait, SPOT_MARGIN_DEFAULT_WINDOW, newAccountId, runDemo } from './demo';
import { formatMarginReport, formatReport } from './format';
import { registerAccountCommands } from './account-commands';
import { registerCalcCommands } from './calc';
import { registerBacktestCommand } from './backtest-cmd';
import { DataDownloadError, registerDataCommands } from './data-download';
import { AuditArgumentError, AuditNotFoundError, registerAuditCommands } from './audit';
import { ChainBrokenError, registerAuditVerifyCommand, verifyStoreOpener } from './audit-verify';
import { CopyVerificationError, registerStoreCommands } from './store-copy';
import { CopyDestinationNotEmptyError, CopySourceError, EventStoreConfigError, InvalidEventError, WrongExpectedRevisionError } from '@bulwark/event-store';
import { RerunDifferencesError } from './rerun-cmd';
import { BacktestRunError } from './backtest-sweep';
import { EventStoreUnavailableError, registerReplayCommand, ReplayMismatchError, storeOpenerFromBus, summaryQueryFromBus } from './replay';
import { registerVenueCommands } from './venue-serve';
import { registerStrategyCommands } from './strategy-commands';
import { checkCandleInput, entryFlags, InputError, integerIn, oneOf, policyFlags, withEntryOptions, withPolicyOptions } from './input-checks';
import { registerUserCommands } from './user-cmd';
import { registerMarginCommands } from './margin-commands';
import { UserStoreError } from '@bulwark/messaging';

function positiveNumber(name: string) {
  return (v: string) => {
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < 0) throw new InvalidArgumentError(`${name} must be a non-negative number, got "${v}"`);
    return v;
  };
}

function utcDate(name: string) {
  return (v: string) => {
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(t)) throw new InvalidArgumentError(`${name} must be a UTC date (YYYY-MM-DD or ISO time), got "${v}"`);
    return t;
  };
}

/** Wait `ms` (null: for ever) or until SIGINT/SIGTERM, whichever comes first. */
function lingerUntil(ms: number | null): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      if (timer) clearTimeout(timer);
      process.removeListener('SIGINT', done);
      process.removeListener('SIGTERM', done);
      resolve();
    };
    const timer = ms === null ? null : setTimeout(done, ms);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

export function buildProgram(): Command {
  const program = new Command('bulwark')
    .description('Bulwark: the trader decides WHEN, Bulwark decides HOW MUCH and protects the capital.')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) });

  withEntryOptions(withPolicyOptions(program.command('demo')))
    .description('Replay real Binance USDⓈ-M candles through the six services on the paper venue and print a summary.')
    .option('--candles <file>', 'candle CSV (default: the 2025-11-10..2025-12-10 BTCUSDT 1m file of the data directory)')
    .option('--funding <file>', 'funding-rate CSV (default: the data directory\'s funding-rates.csv)')
    .option('--speed <n>', '0 = as fast as the pipeline takes it; N = N× market time', positiveNumber('--speed'), '0')
    .option('--capital <usdt>', 'trading capital in USDT', positiveNumber('--capital'), '10000')
    .option('--leverage <n>', 'leverage (1..125; the policy caps it at 20; above 5 needs --confirm-high-leverage)', integerIn('--leverage', 1, 125), 5)
    .option('--confirm-high-leverage', 'confirm leverage above 5x (recorded in the account)', false)
    .option('--daily-loss-limit-pct <n>', 'daily loss limit, % of capital (optional)', positiveNumber('--daily-loss-limit-pct'))
    .option('--resume-at <time>', 'send a "resume trading" command at this market time (UTC) if paused', utcDate('--resume-at'))
    .option('--risk-pct <n>', 'risk per trade, % of equity (0.5..10)', positiveNumber('--risk-pct'), '1')
    .option('--from <date>', 'first candle to replay (UTC)', utcDate('--from'))
    .option('--to <date>', 'replay candles before this time (UTC)', utcDate('--to'))
    .option('--account <id>', 'account id (default: a new demo-<time>-<hex>); with --accounts, the prefix of the set\'s ids')
    .option('--accounts <n>', 'trade N accounts (1..10) at once on the same candles in one execution, ids <account>-1..N, each with its own risk settings: account i risks 0.5 + 0.5·i % per trade (1, 1.5, 2, … %) at leverage 3x, 5x, 2x, 4x, 1x, repeating (instead of --risk-pct and --leverage); prints one summary per account and their total', integerIn('--accounts', 1, 10))
    .option('--venue <venue>', 'paper (in-process paper venue), binance-local (`bulwark venue serve` through ccxt binanceusdm) or bitget-local (`bulwark venue serve --venue bitget-local` through ccxt bitget: Bitget USDT-M rules, tiers and fees)', oneOf('--venue', ['paper', 'binance-local', 'bitget-local']), 'paper')
    .option('--market <market>', 'futures (Binance USDⓈ-M) or spot-margin (Binance spot isolated margin on the local spot-margin venue through ccxt; default candles: the 2024-08-05 crash month)', oneOf('--market', ['futures', 'spot-margin']), 'futures')
    .option('--protection <mode>', 'where stops live: INTERNAL (stop-monitor), EXCHANGE (algo orders at the venue) or BOTH', oneOf('--protection', ['INTERNAL', 'EXCHANGE', 'BOTH']), 'INTERNAL')
    .option('--stall-limit <seconds>', 'give up when a service stays silent this long (default BULWARK_STALL_LIMIT_SECONDS, else 600)', integerIn('--stall-limit', 1, 86_400))
    .option('--standby', 'run two instances of each service: one active, one standby that takes over when it dies or stops', false)
    .option('--no-gateway', 'do not start the gateway (dashboard and REST API)')
    .option('--gateway-port <port>', 'the dashboard\'s port on 127.0.0.1 (default BULWARK_GATEWAY_PORT, else 8080; 0 = a free port)', integerIn('--gateway-port', 0, 65_535))
    .option('--gateway-linger <seconds>', 'keep the gateway up this long after the summary (default: until Ctrl-C in a terminal, 0 otherwise)', integerIn('--gateway-linger', 0, 86_400))
    .action(async (opts, cmd: Command) => {
      if (opts.accounts !== undefined) {
        const given = (['riskPct', 'leverage'] as const).filter((k) => cmd.getOptionValueSource(k) === 'cli');
        if (given.length) cmd.error(`error: --accounts gives each account its own ${given.map((k) => (k === 'riskPct' ? '--risk-pct' : '--leverage')).join(' and ')} (account i: 0.5 + 0.5·i %, leverage 3, 5, 2, 4, 1, …): leave ${given.length > 1 ? 'them' : 'it'} out`, { code: 'commander.invalidArgument', exitCode: 2 });
        if (opts.market === 'spot-margin') cmd.error('error: --market spot-margin trades one account: leave --accounts out', { code: 'commander.invalidArgument', exitCode: 2 });
      }
      if (opts.leverage > 5 && !opts.confirmHighLeverage) {
        cmd.error(`error: --leverage ${opts.leverage} is above 5x: add --confirm-high-leverage to confirm it (the confirmation is recorded)`, { code: 'commander.invalidArgument', exitCode: 2 });
      }
      const defaults = defaultDemoFiles();
      // The inputs before any process starts: an unusable file or window exits 2; gaps are warnings.
      const spotMargin = opts.market === 'spot-margin';
      if (spotMargin && opts.venue !== 'paper') cmd.error('error: --market spot-margin trades the local spot-margin venue; leave --venue out', { code: 'commander.invalidArgument', exitCode: 2 });
      if (spotMargin && opts.funding) cmd.error('error: spot margin has no funding: leave --funding out', { code: 'commander.invalidArgument', exitCode: 2 });
      if (spotMargin && (opts.entryType !== 'market' || opts.expiresAfterBars !== undefined || opts.split !== undefined)) cmd.error('error: --market spot-margin enters at market in one order: leave --entry-type, --expires-after-bars and --split out', { code: 'commander.invalidArgument', exitCode: 2 });
      const entry = entryFlags(opts);
      const candles: string = opts.candles ?? (spotMargin ? defaultSpotMarginCandles() : defaults.candles);
      const funding: string | null = spotMargin ? null : (opts.funding ?? defaults.funding);
      if (spotMargin && !opts.candles && opts.from === undefined && opts.to === undefined) ({ from: opts.from, to: opts.to } = SPOT_MARGIN_DEFAULT_WINDOW);
      const checked = await checkCandleInput({ candles, funding, from: opts.from ?? null, to: opts.to ?? null });
      for (const w of checked.warnings) console.error(w);
      // market-data reads only files under the data directory and BULWARK_ALLOWED_DATA_DIRS:
      // allow the directories of the files given here (the services inherit this environment).
      process.env[ALLOWED_DATA_DIRS_ENV] = [process.env[ALLOWED_DATA_DIRS_ENV], path.dirname(path.resolve(candles)), funding ? path.dirname(path.resolve(funding)) : null].filter(Boolean).join(':');
      const accountId = opts.account ?? newAccountId();
      const logDir = path.join(projectRoot(__dirname), 'var', 'log', accountId);
      const bar = new SingleBar(
        { format: ' replay |{bar}| {percentage}% | {value}/{total} candles | {market} | {eta_formatted} left{wait}', hideCursor: true, noTTYOutput: !process.stdout.isTTY, notTTYSchedule: 10_000 },
        Presets.shades_classic,
      );
      const set = opts.accounts === undefined ? null : accountSet(accountId, opts.accounts);
      if (set) console.log(`Bulwark demo: ${set.length} accounts in one execution, capital ${opts.capital} USDT each: ${set.map((m) => `${m.accountId} (risk ${m.riskPct} %, ${m.leverage}x)`).join(', ')}`);
      else console.log(`Bulwark demo: account ${accountId}, capital ${opts.capital} USDT, leverage ${opts.leverage}x, risk ${opts.riskPct} %`);
      console.log(`  candles ${candles}`);
      if (opts.venue !== 'paper') console.log(`  venue ${opts.venue} through ccxt (${opts.venue === 'bitget-local' ? 'bitget' : 'binanceusdm'}), protection ${opts.protection}`);
      if (spotMargin) console.log('  market spot isolated margin BTCUSDT on the local spot-margin venue through ccxt (binance), its clock driven by the replay');
      console.log(`  starting NATS consumers and six services${opts.gateway ? ' and the gateway' : ''} (logs in ${logDir})`);
      const printSummary = (report: DemoReport) => {
        console.log('\nSummary');
        console.log(report.margin ? formatMarginReport(report) : formatReport(report));
        const restarts = Object.entries(report.restarts);
        if (restarts.length) console.log(`  service restarts         ${restarts.map(([s, n]) => `${s} ${n}`).join(', ')}`);
        console.log(`\nThe event log stays in JetStream stream ${busConfigFromEnv().esStream}; this run's streams carry ${set ? `accounts ${set.map((m) => m.accountId).join(', ')}` : `account ${accountId}`}.`);
      };
      let dashboard: DemoGateway | null = null;
      const gatewayPort: number = opts.gatewayPort ?? (process.env.BULWARK_GATEWAY_PORT ? Number(process.env.BULWARK_GATEWAY_PORT) : 8080);
      const report = await runDemo({
        candles,
        funding,
        speed: Number(opts.speed),
        capital: opts.capital,
        leverage: opts.leverage,
        riskPct: opts.riskPct,
        confirmHighLeverage: opts.confirmHighLeverage,
        policy: {
          ...(opts.dailyLossLimitPct ? { dailyLossLimitFraction: dec(opts.dailyLossLimitPct).div(100).toFixed() } : {}),
          ...policyFlags(opts),
        },
        schedule: opts.resumeAt ? [{ at: opts.resumeAt, subject: Subjects.resumeTrading, payload: { accountId, reason: 'scheduled resume (--resume-at)', by: 'cli' } }] : [],
        entry,
        from: opts.from ?? null,
        to: opts.to ?? null,
        accountId,
        ...(opts.accounts !== undefined ? { accounts: opts.accounts } : {}),
        venue: opts.venue,
        market: opts.market,
        protection: opts.protection,
        bus: busConfigFromEnv(),
        logDir,
        standby: opts.standby,
        ...(opts.stallLimit !== undefined ? { stallLimitSeconds: opts.stallLimit } : {}),
        onServiceEvent: (e) => {
          // Pids, so an operator can kill one (kill -9 <pid>) and watch it come back (or, with --standby, watch the standby take over).
          if (e.kind === 'started' && !opts.standby) console.log(`  ${e.service} pid ${e.pid}${e.restarts ? ` (restart ${e.restarts})` : ''}`);
          else if (e.kind === 'role' && opts.standby && e.role !== 'released') console.log(`  ${e.service} pid ${e.pid} ${e.role}`);
          else if (e.kind === 'restarting') console.log(`\n  ${e.service} exited; restart ${e.restarts} in ${(e.delayMs / 1000).toFixed(1)} s`);
        },
        ...(opts.gateway
          ? {
              gateway: {
                port: gatewayPort,
                anyPortIfTaken: opts.gatewayPort === undefined && !process.env.BULWARK_GATEWAY_PORT,
                onReady: (g: DemoGateway) => {
                  dashboard = g;
                  console.log(`  dashboard ${g.url}  (log in as ${g.username}, password ${g.password}; made for this run)`);
                },
                afterRun: async (report: DemoReport) => {
                  bar.stop();
                  printSummary(report);
                  const seconds: number | null = opts.gatewayLinger ?? (process.stdin.isTTY && process.stdout.isTTY ? null : 0);
                  if (seconds === 0 || !dashboard) return;
                  console.log(`\nThe dashboard stays up at ${dashboard.url} (user ${dashboard.username}) ${seconds === null ? 'until Ctrl-C' : `for ${seconds} s (Ctrl-C ends it sooner)`}.`);
                  await lingerUntil(seconds === null ? null : seconds * 1000);
                },
              },
            }
          : {}),
        onStart: (total) => bar.start(total, 0, { market: '', wait: '' }),
        onProgress: (p) => bar.update(p.candles, { market: p.marketTime ? new Date(p.marketTime).toISOString().slice(0, 16).replace('T', ' ') : '' }),
        onWait: (w) => bar.update({ wait: w ? ` | ${describeWait(w)}` : '' }),
      }).finally(() => bar.stop());
      if (!opts.gateway) printSummary(report);
    });
  registerAccountCommands(program);
  registerStrategyCommands(program);
  registerCalcCommands(program);
  registerBacktestCommand(program);
  registerDataCommands(program);
  registerVenueCommands(program);
  const bus = busConfigFromEnv();
  const openStore = storeOpenerFromBus(bus);
  registerAuditCommands(program, openStore);
  registerMarginCommands(program, openStore);
  const audit = program.commands.find((c) => c.name() === 'audit');
  if (audit) registerAuditVerifyCommand(audit, verifyStoreOpener(openStore));
  registerStoreCommands(program, bus);
  registerReplayCommand(program, openStore, summaryQueryFromBus(bus));
  registerUserCommands(program);
  return program;
}

/**
 * The exit code of an error a command threw, and the line to print for it (null: print the
 * error as is). 0 for help/version; 2 for unusable input: commander's argument errors (it
 * printed them), InputError, MarketDataFileError, CandleFileError (a file or a window that
 * cannot be used, an account that does not exist); 1 for the known failures of a command
 * (a refusal, an unknown order, a replay mismatch, NATS or the event store unreachable) and
 * for anything unexpected.
 */
export function exitOf(e: unknown): { code: number; line: string | null } {
  const err = e as { code?: string; exitCode?: number; message?: string };
  if (typeof err?.code === 'string' && err.code.startsWith('commander.')) return { code: err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2, line: '' };
  if (e instanceof InputError || e instanceof MarketDataFileError || e instanceof CandleFileError || e instanceof EventStoreConfigError) return { code: 2, line: `bulwark: ${err.message}` };
  if (
    e instanceof DemoError ||
    e instanceof DataDirNotFoundError ||
    e instanceof DataDownloadError ||
    e instanceof AuditNotFoundError ||
    e instanceof AuditArgumentError ||
    e instanceof ReplayMismatchError ||
    e instanceof RerunDifferencesError ||
    e instanceof BacktestRunError ||
    e instanceof EventStoreUnavailableError ||
    e instanceof ChainBrokenError ||
    e instanceof CopyVerificationError ||
    e instanceof CopyDestinationNotEmptyError ||
    e instanceof CopySourceError ||
    e instanceof InvalidEventError ||
    e instanceof WrongExpectedRevisionError ||
    e instanceof UserStoreError
  ) {
    return { code: 1, line: `bulwark: ${err.message}` };
  }
  return { code: 1, line: null };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const { code, line } = exitOf(e);
    if (line === null) console.error(e);
    else if (line) console.error(line);
    return code;
  }
}

/**
 * Exit with `code` once stdout and stderr have been written out: on a pipe Node writes them
 * asynchronously, and an immediate `process.exit` cut `backtest --json` output at 64 KiB.
 */
export function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

if (require.main === module) {
  void main(process.argv.slice(2)).then(exitWhenFlushed);
}
