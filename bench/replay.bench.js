#!/usr/bin/env node
// Replay throughput: events per second to rebuild every read model (positions, PnL, equity,
// account policy, orders, stops, consistency checks) from the event log, from the in-memory
// store and from JetStream, trusting the log (the default) and with `verify` (every event
// re-checked against its schema), each row's runs interleaved with the others' (a shared machine's
// load falls on all alike) and given as wall-time and CPU-time rates. The log is made by real backtests (the 15m 2022-12..2025-12
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

/**
 * Time `rows` ({ label, fn }: `fn` returns the read models or an event count) over `runs` rounds
 * after one untimed warm-up run each, the rows interleaved (round r starts at row r mod n) so that
 * a shared machine's changing load falls on all of them alike. Prints per row the median (min, max)
 * events/s of wall time and the median events/s of this process's CPU time (user + system: what
 * the other jobs on the machine take does not count, the JetStream server's work does not either);
 * for a row with `vs` (the label of another row, e.g. the baseline's of the same mode), its median
 * ratio to that row over the rounds (same round, same load).
 */
async function timeRows(events, rows) {
  const outs = [];
  for (const r of rows) outs.push(await r.fn()); // warm-up: the JIT compiles the code paths first
  const wall = rows.map(() => []);
  const cpu = rows.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < rows.length; k++) {
      const i = (round + k) % rows.length;
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      outs[i] = await rows[i].fn();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const c = process.cpuUsage(c0);
      wall[i].push(events / seconds);
      cpu[i].push(events / ((c.user + c.system) / 1e6));
    }
  }
  rows.forEach((r, i) => {
    const out = outs[i];
    const what = typeof out === 'number' ? `${out} events` : `accounts ${out.accounts.length}, checks ${out.checks.every((c) => c.failures.length === 0) ? 'all pass' : 'FAIL'}`;
    const base = rows.findIndex((x) => x.label === r.vs);
    const ratio = base >= 0 ? `; ${median(wall[i].map((w, k) => w / wall[base][k])).toFixed(2)}× the ${rows[base].label} (median of same-round ratios)` : '';
    console.log(
      `${r.label}: median ${Math.round(median(wall[i]))} events/s over ${runs} runs (min ${Math.round(Math.min(...wall[i]))}, max ${Math.round(Math.max(...wall[i]))}); CPU time ${Math.round(median(cpu[i]))} events/s${ratio}; ${what}; load ${load()}`,
    );
  });
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

/** The rebuild's rows over `store` (trusting the log, and verify), each with the baseline's rebuild over `oldStore` (its own store adapter) when given. */
function replayRows(source, store, oldStore) {
  const rows = [];
  for (const [mode, opts] of [['trusting the log', {}], ['verify', { verify: true }]]) {
    const vs = `baseline (${baselineDir}): replay from ${source} (${mode})`;
    if (oldStore) rows.push({ label: vs, fn: () => baseline.rebuildReadModels(oldStore, opts) });
    rows.push({ label: `replay from ${source} (${mode})`, fn: () => rebuildReadModels(store, opts), vs: oldStore ? vs : undefined });
  }
  return rows;
}

async function countAll(store) {
  let n = 0;
  for await (const batch of readAllInBatches(store)) for (const e of batch) if (e.position > 0) n++; // touch every event once
  return n;
}

(async () => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}, load ${load()}`);
  const store = await loadLog();
  const events = await store.lastPosition();
  console.log(`log: ${events} events of ${accounts} accounts`);
  await timeRows(events, [{ label: 'floor: batched read of the in-memory store', fn: () => countAll(store) }]);
  await timeRows(events, replayRows('the in-memory store', store, baseline && store));

  const nc = await connectNats({ user: 'admin', name: 'bench-replay' });
  const tag = randomBytes(3).toString('hex');
  const js = await JetStreamEventStore.connect(nc, { stream: `BENCH_${tag}`, subjectPrefix: `bench${tag}`, create: true });
  try {
    const copy = await copyIntoJetStream(store.readAll(), js, 64);
    console.log(`copied to JetStream in ${copy.seconds.toFixed(1)} s (${Math.round(events / copy.seconds)} appends/s, one event per append, up to 64 streams in flight)`);
    await timeRows(events, [{ label: 'floor: batched read of JetStream', fn: () => countAll(js) }]);
    const old = baseline && (await baseline.JetStreamEventStore.connect(nc, { stream: `BENCH_${tag}`, subjectPrefix: `bench${tag}` }));
    await timeRows(events, replayRows('JetStream', js, old));
    if (old) await old.close();
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
