#!/usr/bin/env node
// Replay throughput: events per second to rebuild every read model (positions, PnL, equity,
// account policy, orders, stops, consistency checks) from the event log, from the in-memory
// store and from JetStream, trusting the log (the default) and with `verify` (every event
// re-checked against its schema). The log is made by real backtests (the 15m 2022-12..2025-12
// file, monthly resumes), several accounts in one store. The floor printed first is a bare
// batched read over the same store (`readAllInBatches`: what the rebuild cannot beat).
// Usage: node bench/replay.bench.js [--accounts N] [--runs N] [--log FILE] [--baseline DIR]
//   (after `npm run setup` and a build; needs NATS for JetStream). `--log FILE` keeps the
//   backtests' log as gzipped JSON lines: made and written when FILE is missing, read back
//   otherwise. `--baseline DIR`: also time another build of the rebuild and the JetStream store
//   (DIR/libs/projections/dist, DIR/libs/event-store/dist, e.g. an older commit built there) in
//   the same run, on the same log.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { randomBytes } = require('node:crypto');
const { connectNats } = require('../libs/messaging/dist/index.js');
const { InMemoryEventStore, JetStreamEventStore, readAllInBatches } = require('../libs/event-store/dist/index.js');
const { rebuildReadModels } = require('../libs/projections/dist/index.js');
const { copyIntoJetStream } = require('./append.bench.js');

const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);
const accounts = Number(arg('--accounts', 5));
const runs = Number(arg('--runs', 3));
const logFile = arg('--log', null);
const baselineDir = arg('--baseline', null);
const baseline = baselineDir && {
  rebuildReadModels: require(path.resolve(baselineDir, 'libs/projections/dist/index.js')).rebuildReadModels,
  JetStreamEventStore: require(path.resolve(baselineDir, 'libs/event-store/dist/index.js')).JetStreamEventStore,
};

/** Median (min, max) events/s of `fn` over `runs` runs after one untimed warm-up run; `fn` returns the read models or an event count. */
async function time(label, events, fn) {
  const rates = [];
  let out = await fn(); // warm-up: the JIT compiles the code paths first
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    out = await fn();
    rates.push(events / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  rates.sort((a, b) => a - b);
  const what = typeof out === 'number' ? `${out} events` : `accounts ${out.accounts.length}, checks ${out.checks.every((c) => c.failures.length === 0) ? 'all pass' : 'FAIL'}`;
  console.log(`${label}: median ${Math.round(rates[Math.floor(runs / 2)])} events/s over ${runs} runs (min ${Math.round(rates[0])}, max ${Math.round(rates[runs - 1])}); ${what}`);
}

/** The log of `accounts` backtests (monthly resumes) in a new in-memory store. */
async function backtestLog() {
  const { monthStarts, runBacktest } = require('../libs/application/dist/index.js');
  const { resolveDataDir, instrumentFiles } = require('../libs/market-data/dist/index.js');
  const { Subjects } = require('../libs/contracts/dist/index.js');
  const files = instrumentFiles(resolveDataDir());
  const candles = path.join(files.base, 'klines-15m', 'BTCUSDT-15m-2022-12-06_2025-12-10.csv.gz');
  const store = new InMemoryEventStore();
  for (let i = 0; i < accounts; i++) {
    const id = `replay-bench-${i}`;
    const schedule = monthStarts(Date.UTC(2022, 11, 1), Date.UTC(2025, 11, 31)).map((at) => ({ at, subject: Subjects.resumeTrading, payload: { accountId: id, reason: 'bench', by: 'bench' } }));
    await runBacktest({ accountId: id, candles, funding: files.fundingRates, capital: '10000', leverage: 1 + (i % 5), riskPct: '1', confirmHighLeverage: false, schedule, store });
  }
  return store;
}

/** The log: from `--log FILE` when it exists (gzipped JSON lines of recorded events), else made by backtests (and saved there). */
async function loadLog() {
  if (logFile && fs.existsSync(logFile)) {
    const store = new InMemoryEventStore();
    const lines = zlib.gunzipSync(fs.readFileSync(logFile)).toString('utf8').split('\n').filter(Boolean);
    for (const l of lines) {
      const e = JSON.parse(l);
      await store.append(e.streamId, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision === 0 ? 'no_stream' : e.revision - 1, { preserveChain: true });
    }
    console.log(`log read from ${logFile}`);
    return store;
  }
  const store = await backtestLog();
  if (logFile) {
    const lines = [];
    for await (const e of store.readAll()) lines.push(JSON.stringify(e));
    fs.writeFileSync(logFile, zlib.gzipSync(lines.join('\n')));
    console.log(`log written to ${logFile}`);
  }
  return store;
}

async function countAll(store) {
  let n = 0;
  for await (const batch of readAllInBatches(store)) for (const e of batch) if (e.position > 0) n++; // touch every event once
  return n;
}

(async () => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}`);
  const store = await loadLog();
  const events = await store.lastPosition();
  console.log(`log: ${events} events of ${accounts} accounts`);
  await time('floor: batched read of the in-memory store', events, () => countAll(store));
  if (baseline) await time(`baseline (${baselineDir}): replay from the in-memory store`, events, () => baseline.rebuildReadModels(store));
  await time('replay from the in-memory store (trusting the log)', events, () => rebuildReadModels(store));
  await time('replay from the in-memory store (verify)', events, () => rebuildReadModels(store, { verify: true }));

  const nc = await connectNats({ user: 'admin', name: 'bench-replay' });
  const tag = randomBytes(3).toString('hex');
  const js = await JetStreamEventStore.connect(nc, { stream: `BENCH_${tag}`, subjectPrefix: `bench${tag}`, create: true });
  try {
    const copy = await copyIntoJetStream(store, js, 64);
    console.log(`copied to JetStream in ${copy.seconds.toFixed(1)} s (${Math.round(events / copy.seconds)} appends/s, one event per append, up to 64 streams in flight)`);
    await time('floor: batched read of JetStream', events, () => countAll(js));
    if (baseline) {
      const old = await baseline.JetStreamEventStore.connect(nc, { stream: `BENCH_${tag}`, subjectPrefix: `bench${tag}` });
      await time(`baseline (${baselineDir}): replay from JetStream`, events, () => baseline.rebuildReadModels(old));
      await old.close();
    }
    await time('replay from JetStream (trusting the log)', events, () => rebuildReadModels(js));
    await time('replay from JetStream (verify)', events, () => rebuildReadModels(js, { verify: true }));
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
