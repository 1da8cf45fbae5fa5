import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type BacktestResult, backtestReportData, monthStarts, runBacktest } from '@bulwark/application';
import { instrumentFiles, projectRoot, resolveDataDir } from '@bulwark/market-data';
import { SingleBar, Presets } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { Subjects } from '@bulwark/contracts';
import { nestLogsToStderr } from '@bulwark/messaging';
import { backtestHtml, formatBacktest, formatSweep } from './backtest-report';
import { checkCandleInput, checkWindow, policyFlags, withPolicyOptions } from './input-checks';


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
 */
export function registerBacktestCommand(program: Command): void {
  withPolicyOptions(program.command('backtest'))
    .description('Backtest in one process with the services\' own deciders and the paper venue; sweeps run as a grid.')
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
              { accountId: id, candles: file, funding, capital: o.capital, leverage: lev, riskPct: risk, confirmHighLeverage: o.confirmHighLeverage, policy: policyFlags(o), strategy, from: o.from ?? null, to: o.to ?? null, schedule },
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
