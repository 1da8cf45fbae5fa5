import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type BacktestResult, backtestReportData, monthStarts, runBacktest, runSpotMarginBacktest, type SpotMarginBacktestResult } from '@bulwark/application';
import { instrumentFiles, projectRoot, resolveDataDir } from '@bulwark/market-data';
import { SingleBar, Presets } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { Subjects } from '@bulwark/contracts';
import { nestLogsToStderr } from '@bulwark/messaging';
import { backtestHtml, formatBacktest, formatSweep } from './backtest-report';
import { defaultSpotMarginCandles, SPOT_MARGIN_DEFAULT_WINDOW } from './demo';
import { formatMarginReport } from './format';
import { checkCandleInput, checkWindow, InputError, oneOf, policyFlags, withPolicyOptions } from './input-checks';


function list(name: string, integer: boolean) {
  return (v: string) => {
    const items = v.split(',').map((s) => s.trim());
    for (const s of items) {
      if (!/^\d+(\.\d+)?$/.test(s) || Number(s) <= 0 || (integer && !Number.isInteger(Number(s)))) {
        throw new InvalidArgumentError(`${name} must be a comma-separated list of ${integer ? 'positive integers' : 'positive numbers'}, got "${v}"`);
      }
    }
    return items;
  };
}

function intFlag(name: string, lo: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo) throw new InvalidArgumentError(`${name} must be an integer >= ${lo}, got "${v}"`);
    return n;
  };
}

function numFlag(name: string) {
  return (v: string) => {
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return Number(v);
  };
}

function marketFlag(v: string): 'futures' | 'spot-margin' {
  if (v !== 'futures' && v !== 'spot-margin') throw new InvalidArgumentError(`--market must be futures or spot-margin, got "${v}"`);
  return v;
}

function dateFlag(name: string) {
  return (v: string) => {
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(t)) throw new InvalidArgumentError(`${name} must be a UTC date, got "${v}"`);
    return t;
  };
}

/**
 * `bulwark backtest`: the same deciders as the services, in one process, over candle files;
 * one report per run, a comparison table for a sweep (`--leverage 2,5,10,20`, `--risk-pct 0.5,1`),
 * and a one-file HTML report page (the dashboard's report: candles with the trades' levels,
 * equity and drawdown, breakers, statistics, trades). Inputs are checked first
 * (`checkCandleInput`): an empty or malformed file, an empty window (`--from` not before
 * `--to`) exit 2 with one line; each gap of missing bars is a warning on stderr.
 * `--market spot-margin` backtests Binance spot isolated margin instead (runSpotMarginBacktest:
 * the demo's `--market spot-margin` in one process), see {@link spotMarginBacktests}.
 */
export function registerBacktestCommand(program: Command): void {
  withPolicyOptions(program.command('backtest'))
    .description('Backtest in one process with the services\' own deciders and the paper venue; sweeps run as a grid.')
    .option('--market <market>', 'futures (Binance USDⓈ-M, the paper venue) or spot-margin (Binance spot isolated margin on the paper margin engine; default candles: the 2024-08-05 crash month, 2024-08-04..07)', marketFlag, 'futures')
    .option('--venue <venue>', "futures: whose rules, tiers, fees and liquidation formula the paper venue trades with — binance-usdm (the data directory's) or bitget-usdtm (Bitget USDT-M's recorded files); the prices are the candles'", oneOf('--venue', ['binance-usdm', 'bitget-usdtm']), 'binance-usdm')
    .option('--candles <files...>', 'candle CSV file(s) (1m or 15m, .csv or .csv.gz; default: the 2025-11 BTCUSDT 1m file)')
    .option('--funding <file>', 'funding-rate CSV (default: the data directory\'s; "none" to skip)')
    .option('--capital <usdt>', 'trading capital, USDT', '10000')
    .option('--leverage <list>', 'leverage, or a list for a sweep (e.g. 2,5,10,20)', list('--leverage', true), ['5'])
    .option('--risk-pct <list>', 'risk per trade in %, or a list', list('--risk-pct', false), ['1'])
    .option('--confirm-high-leverage', 'confirm leverage above 5x', false)
    .option('--channel <n>', 'Donchian channel, bars', intFlag('--channel', 2))
    .option('--atr-period <n>', 'ATR period, bars', intFlag('--atr-period', 2))
    .option('--atr-multiple <x>', 'stop distance in ATRs', numFlag('--atr-multiple'))
    .option('--reward-risk <x>', 'take-profit in R', numFlag('--reward-risk'))
    .option('--from <date>', 'first candle (UTC)', dateFlag('--from'))
    .option('--to <date>', 'stop before this time (UTC)', dateFlag('--to'))
    .option('--resume-monthly', 'an operator resumes trading at the start of each UTC month (after a drawdown pause)', false)
    .option('--report <dir>', 'write the HTML report(s) here (default var/reports)')
    .option('--json', 'print the results as JSON')
    .action(async (o, cmd: Command) => {
      if (o.json) nestLogsToStderr(); // stdout carries the JSON answer only
      const leverages: number[] = o.leverage.map(Number);
      if (leverages.some((l) => l > 5) && !o.confirmHighLeverage) {
        cmd.error(`error: leverage above 5x (${leverages.filter((l) => l > 5).join(', ')}) needs --confirm-high-leverage`, { code: 'commander.invalidArgument', exitCode: 2 });
      }
      if (o.market === 'spot-margin') return spotMarginBacktests(o, leverages);
      const files = instrumentFiles(resolveDataDir());
      const candles: string[] = o.candles ?? [files.defaultCandles];
      const funding = o.funding === 'none' ? null : (o.funding ?? files.fundingRates);
      const strategy = Object.fromEntries(
        Object.entries({ channel: o.channel, atrPeriod: o.atrPeriod, atrMultiple: o.atrMultiple, rewardRisk: o.rewardRisk }).filter(([, v]) => v !== undefined),
      );
      // Inputs first (exit 2 with one line, before any run): the window, each file, its rows; gaps are warnings.
      checkWindow(o.from ?? null, o.to ?? null);
      for (const file of candles) {
        const checked = await checkCandleInput({ candles: file, funding, from: o.from ?? null, to: o.to ?? null });
        for (const w of checked.warnings) console.error(w);
      }
      const reportDir = o.report ?? path.join(projectRoot(__dirname), 'var', 'reports');
      mkdirSync(reportDir, { recursive: true });
      const results: BacktestResult[] = [];
      for (const file of candles) {
        for (const lev of leverages) {
          for (const risk of o.riskPct as string[]) {
            const id = `bt-${path.basename(file).replace(/[^A-Za-z0-9]+/g, '-').slice(0, 30)}-${lev}x-${risk.replace('.', '_')}`;
            const bar = o.json ? null : new SingleBar({ format: ` ${lev}x ${risk}% |{bar}| {percentage}% | {value}/{total} candles`, hideCursor: true, noTTYOutput: !process.stdout.isTTY, notTTYSchedule: 5000 }, Presets.shades_classic);
            let started = false;
            const schedule = o.resumeMonthly ? monthStarts(o.from ?? Date.UTC(2017, 0, 1), o.to ?? Date.now()).map((at) => ({ at, subject: Subjects.resumeTrading, payload: { accountId: id, reason: 'monthly review (--resume-monthly)', by: 'backtest' } })) : [];
            const r = await runBacktest(
              { accountId: id, venue: o.venue, candles: file, funding, capital: o.capital, leverage: lev, riskPct: risk, confirmHighLeverage: o.confirmHighLeverage, policy: policyFlags(o), strategy, from: o.from ?? null, to: o.to ?? null, schedule },
              (c, total) => {
                if (!bar) return;
                if (!started) {
                  bar.start(total, 0);
                  started = true;
                }
                if (c.candles % 500 === 0 || c.candles === total) bar.update(c.candles);
              },
            ).finally(() => bar?.stop());
            const html = path.join(reportDir, `${id}.html`);
            writeFileSync(html, backtestHtml(await backtestReportData(r, `Bulwark backtest ${id}`)));
            results.push(r);
            if (!o.json) {
              console.log(`\n${path.basename(file)} — ${lev}x, risk ${risk} %`);
              console.log(formatBacktest(r));
              console.log(`  report                      ${html}`);
            }
          }
        }
      }
      if (o.json) console.log(JSON.stringify(results.map(({ store: _s, ...r }) => r), null, 2));
      else if (results.length > 1) {
        console.log('\nSweep');
        console.log(formatSweep(results));
      }
    });
}

/** The flags of `bulwark backtest` a spot-margin run reads (commander's parsed values). */
interface SpotMarginFlags {
  candles?: string[];
  funding?: string;
  capital: string;
  riskPct: string[];
  confirmHighLeverage: boolean;
  channel?: number;
  atrPeriod?: number;
  atrMultiple?: number;
  rewardRisk?: number;
  from?: number;
  to?: number;
  resumeMonthly: boolean;
  report?: string;
  json?: boolean;
  maxFeeRiskPct?: string;
  maxLifetimeDrawdownPct?: string;
  losingStreakPause?: string;
}

/**
 * `bulwark backtest --market spot-margin`: one run per leverage × risk of runSpotMarginBacktest
 * on one spot 1m candle file (default: the demo's, and without --candles and a window the demo's
 * three days 2024-08-04 – 2024-08-07), each printed as the demo prints its spot-margin summary
 * (formatMarginReport), or all as JSON. Spot has no funding and no HTML report here.
 * @throws InputError (exit 2) for --funding, --resume-monthly, --report or several candle files; the input checks' InputError
 */
async function spotMarginBacktests(o: SpotMarginFlags, leverages: number[]): Promise<void> {
  const refused = [['--funding', o.funding], ['--resume-monthly', o.resumeMonthly || undefined], ['--report', o.report]].filter(([, v]) => v !== undefined).map(([k]) => k);
  if (refused.length) throw new InputError(`--market spot-margin: ${refused.join(', ')} ${refused.length > 1 ? 'apply' : 'applies'} to futures backtests only`);
  if (o.candles && o.candles.length > 1) throw new InputError('--market spot-margin backtests one candle file at a time');
  const candles: string = o.candles?.[0] ?? defaultSpotMarginCandles();
  let from: number | null = o.from ?? null;
  let to: number | null = o.to ?? null;
  // The demo's default window.
  if (!o.candles && from === null && to === null) ({ from, to } = SPOT_MARGIN_DEFAULT_WINDOW);
  const checked = await checkCandleInput({ candles, funding: null, from, to });
  for (const w of checked.warnings) console.error(w);
  const strategy = Object.fromEntries(Object.entries({ channel: o.channel, atrPeriod: o.atrPeriod, atrMultiple: o.atrMultiple, rewardRisk: o.rewardRisk }).filter(([, v]) => v !== undefined));
  const results: Array<Omit<SpotMarginBacktestResult, 'store'>> = [];
  for (const lev of leverages) {
    for (const risk of o.riskPct) {
      const id = `bt-margin-${path.basename(candles).replace(/[^A-Za-z0-9]+/g, '-').slice(0, 30)}-${lev}x-${risk.replace('.', '_')}`;
      const bar = o.json ? null : new SingleBar({ format: ` ${lev}x ${risk}% |{bar}| {percentage}% | {value}/{total} candles`, hideCursor: true, noTTYOutput: !process.stdout.isTTY, notTTYSchedule: 5000 }, Presets.shades_classic);
      bar?.start(checked.candles, 0);
      const { store: _s, ...r } = await runSpotMarginBacktest(
        { accountId: id, candles, capital: o.capital, leverage: lev, riskPct: risk, confirmHighLeverage: o.confirmHighLeverage, policy: policyFlags(o), strategy, from, to },
        (c) => {
          if (c.candles % 100 === 0 || c.candles === checked.candles) bar?.update(c.candles);
        },
      ).finally(() => bar?.stop());
      results.push(r);
      if (!o.json) {
        console.log(`
${path.basename(candles)} — spot isolated margin ${r.margin.symbol}, ${lev}x, risk ${risk} %`);
        console.log(formatMarginReport(r));
      }
    }
  }
  if (o.json) console.log(JSON.stringify(results, null, 2));
}
