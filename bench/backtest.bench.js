#!/usr/bin/env node
// Backtest throughput: candles per second through the in-process pipeline (the services'
// own deciders, the paper venue, the replay clock), strategy running, one core.
// Usage: node bench/backtest.bench.js [--runs N]   (after `npm run setup`)
const path = require('node:path');
const os = require('node:os');
const { monthStarts, runBacktest } = require('../libs/application/dist/index.js');
const { resolveDataDir, instrumentFiles } = require('../libs/market-data/dist/index.js');
const { Subjects } = require('../libs/contracts/dist/index.js');

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const files = instrumentFiles(resolveDataDir());
const cases = [
  { name: '1m 2025-05-04..06-24 (73,139 candles)', candles: path.join(files.klines1m, 'BTCUSDT-1m-2025-05-04_2025-06-24.csv') },
  { name: '15m 2022-12-06..2025-12-10 (105,669 candles)', candles: path.join(files.base, 'klines-15m', 'BTCUSDT-15m-2022-12-06_2025-12-10.csv.gz') },
];


(async () => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  for (const c of cases) {
    for (const mode of ['paused-after-breaker', 'resumed-monthly']) {
      const rates = [];
      let last;
      for (let i = 0; i < runs; i++) {
        const id = `bench-${i}`;
        const schedule = mode === 'resumed-monthly' ? monthStarts(Date.UTC(2022, 11, 1), Date.UTC(2026, 0, 1)).map((at) => ({ at, subject: Subjects.resumeTrading, payload: { accountId: id, reason: 'bench', by: 'bench' } })) : [];
        const t0 = process.hrtime.bigint();
        last = await runBacktest({ accountId: id, candles: c.candles, funding: files.fundingRates, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, schedule });
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        rates.push(last.counters.candles / s);
      }
      rates.sort((a, b) => a - b);
      const median = rates[Math.floor(rates.length / 2)];
      console.log(`${c.name} [${mode}]: median ${Math.round(median)} candles/s over ${runs} runs (min ${Math.round(rates[0])}, max ${Math.round(rates[rates.length - 1])}); trades ${last.stats.trades}, exposure ${(Number(last.stats.exposure) * 100).toFixed(2)} %, events ${last.eventsAppended}`);
    }
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
