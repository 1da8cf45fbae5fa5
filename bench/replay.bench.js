#!/usr/bin/env node
// Replay throughput: events per second to rebuild every read model (positions, PnL, equity,
// account policy, orders, stops, consistency checks) from the event log, from the in-memory
// store and from JetStream. The log is made by real backtests (the 15m 2022-12..2025-12 file,
// monthly resumes), several accounts in one store.
// Usage: node bench/replay.bench.js [--accounts N]   (after `npm run setup`; needs NATS for JetStream)
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const { connectNats } = require('../libs/messaging/dist/index.js');
const { monthStarts, runBacktest } = require('../libs/application/dist/index.js');
const { InMemoryEventStore, JetStreamEventStore } = require('../libs/event-store/dist/index.js');
const { resolveDataDir, instrumentFiles } = require('../libs/market-data/dist/index.js');
const { Subjects } = require('../libs/contracts/dist/index.js');
const { rebuildReadModels } = require('../apps/cli/dist/replay.js');

const accounts = Number(process.argv[process.argv.indexOf('--accounts') + 1]) || 5;
const files = instrumentFiles(resolveDataDir());
const candles = path.join(files.base, 'klines-15m', 'BTCUSDT-15m-2022-12-06_2025-12-10.csv.gz');


async function time(label, events, fn, runs = 3) {
  const rates = [];
  let models;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    models = await fn();
    rates.push(events / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  rates.sort((a, b) => a - b);
  console.log(`${label}: median ${Math.round(rates[Math.floor(runs / 2)])} events/s over ${runs} runs (min ${Math.round(rates[0])}, max ${Math.round(rates[runs - 1])}); accounts ${models.accounts.length}, checks ${models.checks.every((c) => c.failures.length === 0) ? 'all pass' : 'FAIL'}`);
}

(async () => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  const store = new InMemoryEventStore();
  for (let i = 0; i < accounts; i++) {
    const id = `replay-bench-${i}`;
    const schedule = monthStarts(Date.UTC(2022, 11, 1), Date.UTC(2025, 11, 31)).map((at) => ({ at, subject: Subjects.resumeTrading, payload: { accountId: id, reason: 'bench', by: 'bench' } }));
    await runBacktest({ accountId: id, candles, funding: files.fundingRates, capital: '10000', leverage: 1 + (i % 5), riskPct: '1', confirmHighLeverage: false, schedule, store });
  }
  const events = await store.lastPosition();
  console.log(`log: ${events} events of ${accounts} accounts`);
  await time('replay from the in-memory store', events, () => rebuildReadModels(store));

  const nc = await connectNats({ user: 'admin', name: 'bench-replay' });
  const tag = randomBytes(3).toString('hex');
  const js = await JetStreamEventStore.connect(nc, { stream: `BENCH_${tag}`, subjectPrefix: `bench${tag}`, create: true });
  try {
    const t0 = Date.now();
    for await (const e of store.readAll()) await js.append(e.streamId, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision === 0 ? 'no_stream' : e.revision - 1);
    console.log(`copied to JetStream in ${((Date.now() - t0) / 1000).toFixed(1)} s (${Math.round(events / ((Date.now() - t0) / 1000))} appends/s, one event per append)`);
    await time('replay from JetStream', events, () => rebuildReadModels(js));
  } finally {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`BENCH_${tag}`).catch(() => undefined);
    await js.close();
    await nc.drain();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
