#!/usr/bin/env node
// Sweeps on worker threads: the wall time of one `bulwark backtest` sweep (leverage 2,5 × risk
// 0.5,1 = 4 runs on BTCUSDT 1m 2025-05-04..06-24, 73,139 candles each, or a window of it) with
// --workers 1 (the runs one after another in the main thread: the baseline, measured in the same
// bench run) and with --workers = the cores (a piscina pool, apps/cli/src/backtest-sweep.ts), and
// the speed-up. Each measurement is the whole command as a user runs it (start-up, input checks,
// the runs, the HTML reports), the two alternating so that a change of the machine's load hits
// both; medians over --runs. Each also reports its CPU seconds (user + sys of the command, bash's
// `time`): where other work shares the machine the wall times swing with its load, the CPU
// seconds much less; the load averages (os.loadavg) are printed with each run.
// Usage: node bench/sweep.bench.js [--runs N] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--workers N]
//        (after `npm run setup`: it runs the built CLI, apps/cli/bin/bulwark.js)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { resolveDataDir, instrumentFiles } = require('../libs/market-data/dist/index.js');

const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const runs = Number(arg('--runs', 3)) || 3;
const from = arg('--from', null);
const to = arg('--to', null);
const cores = os.availableParallelism();
const workers = Number(arg('--workers', cores)) || cores;
const candles = path.join(instrumentFiles(resolveDataDir()).klines1m, 'BTCUSDT-1m-2025-05-04_2025-06-24.csv');
const cli = path.join(__dirname, '..', 'apps', 'cli', 'bin', 'bulwark.js');
const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-sweep-bench-'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

/** One sweep with `n` workers: wall and CPU seconds (user + sys, bash's `time`) and its results (JSON, grid order). */
function sweep(n) {
  const window = [...(from ? ['--from', from] : []), ...(to ? ['--to', to] : [])];
  const args = [cli, 'backtest', '--candles', candles, ...window, '--leverage', '2,5', '--risk-pct', '0.5,1', '--json', '--report', reports, '--workers', String(n)];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="SWEEP-BENCH-TIME %U %S"; time "$@"', 'bash', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`bulwark backtest --workers ${n} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const [user, sys] = /SWEEP-BENCH-TIME ([\d.]+) ([\d.]+)/.exec(r.stderr).slice(1).map(Number);
  return { s, cpu: user + sys, results: JSON.parse(r.stdout) };
}

/** A result's figures that must not depend on where it ran (not its timings). */
const figures = (results) => JSON.stringify(results.map((r) => [r.config.leverage, r.config.riskPct, r.stats, r.counters]));

(() => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores (availableParallelism ${cores}), node ${process.version}, ${new Date().toISOString()}`);
  console.log(`sweep: ${path.basename(candles)} ${from ?? 'start'}..${to ?? 'end'}, leverage 2,5 × risk 0.5,1 (4 runs); load averages before: ${load()}`);
  const times = { 1: [], [workers]: [] };
  const cpus = { 1: [], [workers]: [] };
  let base;
  for (let i = 0; i < runs; i++) {
    for (const n of [1, workers]) {
      const { s, cpu, results } = sweep(n);
      base ??= figures(results);
      if (figures(results) !== base) throw new Error(`--workers ${n} gave other results than the first sweep`);
      times[n].push(s);
      cpus[n].push(cpu);
      console.log(`  run ${i + 1}: --workers ${n}: ${s.toFixed(1)} s, CPU ${cpu.toFixed(1)} s (${results.reduce((a, r) => a + r.counters.candles, 0)} candles, load ${load()})`);
    }
  }
  const one = median(times[1]);
  const many = median(times[workers]);
  const fmt = (xs) => `median ${median(xs).toFixed(1)} s over ${xs.length} runs (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
  console.log(`--workers 1 [baseline: one run after another in the main thread]: wall ${fmt(times[1])}; CPU ${fmt(cpus[1])}`);
  console.log(`--workers ${workers} [piscina pool]: wall ${fmt(times[workers])}; CPU ${fmt(cpus[workers])}`);
  console.log(`speed-up (median wall): ${(one / many).toFixed(2)} (ideal ${Math.min(workers, 4)}: ${Math.min(workers, 4)} runs at once); best wall ${(Math.min(...times[1]) / Math.min(...times[workers])).toFixed(2)}; CPU of the pool / CPU in one thread ${(median(cpus[workers]) / median(cpus[1])).toFixed(2)}; load averages after: ${load()}`);
  fs.rmSync(reports, { recursive: true, force: true });
})();
