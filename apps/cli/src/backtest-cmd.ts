import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { monthStarts, runSpotMarginBacktest, type SpotMarginBacktestResult } from '@bulwark/application';
import { instrumentFiles, projectRoot, resolveDataDir } from '@bulwark/market-data';
import { SingleBar, Presets } from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Subjects } from '@bulwark/contracts';
import { nestLogsToStderr } from '@bulwark/messaging';
import { backtestHtml, formatBacktest, formatSweep } from './backtest-report';
import {
  BacktestRunError, cellId, cellLabel, gridCells, mergeShards, parseShard, readShardFile, runOnPool, type Shard, shardCells, shardOf, startSweepPool, type SweepCell, type SweepGrid, writeShardFile,
} from './backtest-sweep';
import { runSweepCell, type SweepAnswer, type SweepTask } from './backtest-sweep.worker';
import { defaultSpotMarginCandles, SPOT_MARGIN_DEFAULT_WINDOW } from './demo';
import { formatMarginReport } from './format';
import { checkCandleInput, checkWindow, entryFlags, InputError, oneOf, policyFlags, withEntryOptions, withPolicyOptions } from './input-checks';


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
 * The runs of a futures sweep share `--workers` worker threads (backtest-sweep.worker.ts) and are
 * shown in grid order; `--shard i/n` (or `--shard-count n` in a Kubernetes Indexed Job) runs a
 * part of the grid and `--out` writes it to a file; `bulwark backtest merge <files...>` gives the
 * sweep table of the shard files back (backtest-sweep.ts).
 * @throws BacktestRunError (exit 1) naming the run that failed; SweepShardError (exit 2) from merge
 */
export function registerBacktestCommand(program: Command): void {
  const backtest = withEntryOptions(withPolicyOptions(program.command('backtest')));
  backtest
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
    .addOption(
      new Option('--workers <n>', 'worker threads the runs of a sweep share; 1 runs them one after another in this thread, as does a single run; --market spot-margin always runs in this thread')
        .argParser(intFlag('--workers', 1))
        .default(availableParallelism(), `the cores, os.availableParallelism(): ${availableParallelism()}`),
    )
    .option('--shard <index>/<count>', 'run only the grid positions p with p % count = index (0-based, e.g. 3/8; grid order: candle files, then leverages, then risks); merge the shards with `bulwark backtest merge`', parseShard)
    .option('--shard-count <n>', 'as --shard, with the index from JOB_COMPLETION_INDEX (set in each pod of a Kubernetes Indexed Job)', intFlag('--shard-count', 1))
    .option('--out <file.json>', 'write the results (with the grid, the shard and each run\'s grid position) to this JSON file, for `bulwark backtest merge`')
    .action(async (o, cmd: Command) => {
      if (o.json) nestLogsToStderr(); // stdout carries the JSON answer only
      const leverages: number[] = o.leverage.map(Number);
      if (leverages.some((l) => l > 5) && !o.confirmHighLeverage) {
        cmd.error(`error: leverage above 5x (${leverages.filter((l) => l > 5).join(', ')}) needs --confirm-high-leverage`, { code: 'commander.invalidArgument', exitCode: 2 });
      }
      if (o.market === 'spot-margin') return spotMarginBacktests(o, leverages);
      const entry = entryFlags(o);
      const shard: Shard | null = shardOf(o);
      const files = instrumentFiles(resolveDataDir());
      const candles: string[] = o.candles ?? [files.defaultCandles];
      const funding = o.funding === 'none' ? null : (o.funding ?? files.fundingRates);
      const strategy = Object.fromEntries(
        Object.entries({ channel: o.channel, atrPeriod: o.atrPeriod, atrMultiple: o.atrMultiple, rewardRisk: o.rewardRisk }).filter(([, v]) => v !== undefined),
      );
      const reportDir = o.report ?? path.join(projectRoot(__dirname), 'var', 'reports');
      const grid: SweepGrid = {
        venue: o.venue, candles, funding, capital: o.capital, leverage: leverages, riskPct: o.riskPct, confirmHighLeverage: o.confirmHighLeverage,
        policy: policyFlags(o), strategy, entry, from: o.from ?? null, to: o.to ?? null, resumeMonthly: o.resumeMonthly,
      };
      const cells = shardCells(gridCells(grid), shard);
      const tasks = cells.map((cell) => sweepTask(grid, cell));
      // One report page and block per run, in grid order.
      const show = (cell: SweepCell, { result: r, report }: SweepAnswer) => {
        const html = path.join(reportDir, `${cellId(cell)}.html`);
        writeFileSync(html, backtestHtml(report));
        if (!o.json) {
          console.log(`\n${path.basename(cell.candles)} — ${cell.leverage}x, risk ${cell.riskPct} %`);
          console.log(formatBacktest(r));
          console.log(`  report                      ${html}`);
        }
      };
      checkWindow(o.from ?? null, o.to ?? null);
      const threads = Math.min(o.workers as number, tasks.length);
      // Started first: its threads load the backtest while this one checks the inputs.
      const pool = threads > 1 ? startSweepPool(threads) : null;
      let answers: SweepAnswer[];
      try {
        // Inputs before any run (exit 2 with one line): each file, its rows; gaps are warnings.
        for (const file of candles) {
          const checked = await checkCandleInput({ candles: file, funding, from: o.from ?? null, to: o.to ?? null });
          for (const w of checked.warnings) console.error(w);
        }
        mkdirSync(reportDir, { recursive: true });
        if (!pool) answers = await runInThread(tasks, cells, Boolean(o.json), show);
        else {
          if (!o.json) console.error(`${tasks.length} runs on ${threads} worker threads`);
          let done = 0;
          answers = await runOnPool(pool, tasks, cells, (cell, a) => {
            if (!o.json) console.error(`  ${++done}/${tasks.length} done  ${cellLabel(cell)}  (${(a.result.wallMs / 1000).toFixed(2)} s)`);
          });
          answers.forEach((a, i) => show(cells[i], a));
        }
      } finally {
        await pool?.destroy();
      }
      const results = answers.map((a) => a.result);
      if (o.out) writeShardFile(o.out, grid, shard ?? { index: 0, count: 1 }, cells.map((c, i) => ({ position: c.position, result: results[i] })));
      if (o.json) console.log(JSON.stringify(results, null, 2));
      else if (results.length > 1) {
        console.log('\nSweep');
        console.log(formatSweep(results));
      }
    });

  backtest
    .command('merge')
    .description('Merge the shard files of a sharded sweep (`bulwark backtest --shard <i>/<n> --out <file>`) into the sweep table an unsharded run prints; the files must come from one grid and hold each of its runs exactly once (exit 2 otherwise).')
    .argument('<files...>', 'shard files (JSON)')
    .option('--json', 'print the results as JSON, in grid order')
    .action((files: string[], _o, cmd: Command) => {
      const results = mergeShards(files.map((file) => ({ file, body: readShardFile(file) })));
      // `backtest`'s own --json takes the flag wherever it stands: read both.
      if (cmd.optsWithGlobals().json) console.log(JSON.stringify(results, null, 2));
      else {
        console.log('Sweep');
        console.log(formatSweep(results));
      }
    });
}

/**
 * The backtest configuration of one run of a grid: its account id, the grid's settings, and with
 * --resume-monthly an operator's resume at each month start of the window.
 */
function sweepTask(grid: SweepGrid, cell: SweepCell): SweepTask {
  const id = cellId(cell);
  const schedule = grid.resumeMonthly
    ? monthStarts(grid.from ?? Date.UTC(2017, 0, 1), grid.to ?? Date.now()).map((at) => ({ at, subject: Subjects.resumeTrading, payload: { accountId: id, reason: 'monthly review (--resume-monthly)', by: 'backtest' } }))
    : [];
  return {
    accountId: id, venue: grid.venue, candles: cell.candles, funding: grid.funding, capital: grid.capital, leverage: cell.leverage, riskPct: cell.riskPct,
    confirmHighLeverage: grid.confirmHighLeverage, policy: grid.policy, strategy: grid.strategy, entry: grid.entry, from: grid.from, to: grid.to, schedule, title: `Bulwark backtest ${id}`,
  };
}

/**
 * The runs one after another in this thread (`--workers 1`, or a single run), each with its
 * progress bar, shown as each finishes.
 * @throws BacktestRunError naming the run that failed
 */
async function runInThread(tasks: readonly SweepTask[], cells: readonly SweepCell[], quiet: boolean, show: (cell: SweepCell, a: SweepAnswer) => void): Promise<SweepAnswer[]> {
  const answers: SweepAnswer[] = [];
  for (const [i, task] of tasks.entries()) {
    const cell = cells[i];
    const bar = quiet ? null : new SingleBar({ format: ` ${cell.leverage}x ${cell.riskPct}% |{bar}| {percentage}% | {value}/{total} candles`, hideCursor: true, noTTYOutput: !process.stdout.isTTY, notTTYSchedule: 5000 }, Presets.shades_classic);
    let started = false;
    const answer = await runSweepCell(task, (c, total) => {
      if (!bar) return;
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      if (c.candles % 500 === 0 || c.candles === total) bar.update(c.candles);
    })
      .catch((e: unknown) => {
        throw new BacktestRunError(cell, e);
      })
      .finally(() => bar?.stop());
    show(cell, answer);
    answers.push(answer);
  }
  return answers;
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
  entryType?: string;
  expiresAfterBars?: number;
  split?: string;
  shard?: Shard;
  shardCount?: number;
  out?: string;
}

/**
 * `bulwark backtest --market spot-margin`: one run per leverage × risk of runSpotMarginBacktest
 * on one spot 1m candle file (default: the demo's, and without --candles and a window the demo's
 * three days 2024-08-04 – 2024-08-07), each printed as the demo prints its spot-margin summary
 * (formatMarginReport), or all as JSON. Spot has no funding and no HTML report here.
 * Its runs stay in this thread, one after another (--workers does not apply).
 * @throws InputError (exit 2) for --funding, --resume-monthly, --report, an --entry-type other than market, --expires-after-bars, --split, --shard, --shard-count, --out or several candle files; the input checks' InputError
 */
async function spotMarginBacktests(o: SpotMarginFlags, leverages: number[]): Promise<void> {
  const refused = [
    ['--funding', o.funding], ['--resume-monthly', o.resumeMonthly || undefined], ['--report', o.report],
    ['--entry-type', o.entryType === 'market' ? undefined : o.entryType], ['--expires-after-bars', o.expiresAfterBars], ['--split', o.split],
    ['--shard', o.shard], ['--shard-count', o.shardCount], ['--out', o.out],
  ].filter(([, v]) => v !== undefined).map(([k]) => k);
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
