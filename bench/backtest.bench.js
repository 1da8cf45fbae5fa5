#!/usr/bin/env node
// Backtest throughput: candles per second through the in-process pipeline (the services'
// own deciders, the paper venue, the replay clock), strategy running, one core.
// Each case also measures the floor in the same run: the project's CSV reader and a 20-bar
// Donchian + 14-bar ATR (trading-signals), no pipeline. Every figure shows its ratio to it.
// Rates are given in wall time and in CPU time of this process (steadier on a shared machine).
// `--baseline <checkout>` runs another built checkout's runBacktest too, interleaved run by run
// with this one's (same load for both), and prints its figures beside.
// Usage: node bench/backtest.bench.js [--runs N] [--baseline DIR]   (after `npm run setup`)
const path = require('node:path');
const os = require('node:os');
const { ATR, Period } = require('trading-signals');
const { monthStarts, runBacktest } = require('../libs/application/dist/index.js');
const { resolveDataDir, instrumentFiles, readCandles } = require('../libs/market-data/dist/index.js');
const { Subjects } = require('../libs/contracts/dist/index.js');

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(arg('--runs')) || 3;
const baselineDir = arg('--baseline');
const pipelines = [{ label: 'this checkout', runBacktest }];
if (baselineDir) pipelines.push({ label: `baseline ${baselineDir}`, runBacktest: require(path.resolve(baselineDir, 'libs/application/dist/index.js')).runBacktest });
const files = instrumentFiles(resolveDataDir());
const cases = [
  { name: '1m 2025-05-04..06-24 (73,139 candles)', candles: path.join(files.klines1m, 'BTCUSDT-1m-2025-05-04_2025-06-24.csv') },
  { name: '15m 2022-12-06..2025-12-10 (105,669 candles)', candles: path.join(files.base, 'klines-15m', 'BTCUSDT-15m-2022-12-06_2025-12-10.csv.gz') },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => `${Math.round(median(xs))} (min ${Math.round(Math.min(...xs))}, max ${Math.round(Math.max(...xs))})`;

/** Run `work` (which returns a count) and give its rate per wall second and per CPU second of this process. */
async function timed(work) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const n = await work();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { n, wall: n / wall, cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

/** The floor: read the file with the project's reader, update a 20-bar channel and a 14-bar ATR per candle. */
async function floor(file) {
  const highs = new Period(20);
  const lows = new Period(20);
  const atr = new ATR(14);
  let n = 0;
  let breakouts = 0;
  let upper = null;
  for await (const c of readCandles(file)) {
    const high = Number(c.high);
    const low = Number(c.low);
    const close = Number(c.close);
    atr.update({ high, low, close }, false);
    if (upper !== null && close > upper) breakouts++;
    const h = highs.update(high, false);
    lows.update(low, false);
    upper = h ? h.highest : null;
    n++;
  }
  if (breakouts < 0) throw new Error('unreachable'); // keeps the loop's work observable
  return n;
}

(async () => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const c of cases) {
    const floors = [];
    for (let i = 0; i < runs; i++) floors.push(await timed(() => floor(c.candles)));
    const f = { wall: median(floors.map((x) => x.wall)), cpu: median(floors.map((x) => x.cpu)) };
    console.log(`${c.name} [floor: reader + Donchian(20) + ATR(14)]: median ${fmt(floors.map((x) => x.wall))} candles/s wall, ${fmt(floors.map((x) => x.cpu))} candles/CPU-s over ${runs} runs`);
    for (const mode of ['paused-after-breaker', 'resumed-monthly']) {
      const results = pipelines.map(() => []);
      let last;
      for (let i = 0; i < runs; i++) {
        for (const [k, p] of pipelines.entries()) {
          const id = `bench-${k}-${i}`;
          const schedule = mode === 'resumed-monthly' ? monthStarts(Date.UTC(2022, 11, 1), Date.UTC(2026, 0, 1)).map((at) => ({ at, subject: Subjects.resumeTrading, payload: { accountId: id, reason: 'bench', by: 'bench' } })) : [];
          results[k].push(await timed(async () => {
            last = await p.runBacktest({ accountId: id, candles: c.candles, funding: files.fundingRates, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, schedule });
            return last.counters.candles;
          }));
        }
      }
      for (const [k, p] of pipelines.entries()) {
        const r = results[k];
        const wall = median(r.map((x) => x.wall));
        const cpu = median(r.map((x) => x.cpu));
        console.log(`${c.name} [${mode}]${baselineDir ? ` ${p.label}` : ''}: median ${fmt(r.map((x) => x.wall))} candles/s wall = ${(wall / f.wall).toFixed(3)} of the floor; ${fmt(r.map((x) => x.cpu))} candles/CPU-s = ${(cpu / f.cpu).toFixed(3)} of the floor; over ${runs} runs`);
      }
      console.log(`  trades ${last.stats.trades}, exposure ${(Number(last.stats.exposure) * 100).toFixed(2)} %, events ${last.eventsAppended}`);
    }
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
