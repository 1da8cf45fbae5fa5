#!/usr/bin/env node
// JetStream read throughput and completeness: events per second of `readAll` (whole log, from
// the middle, one category), `readAllBatches` (whole log; when the store has it) and
// `readStream`, on a log of real-shaped events, with a writer
// appending to other subjects during the reads. Every read is checked to be complete.
// Usage: node bench/readall.bench.js [--events N] [--runs N] [--dist path/to/event-store/dist]
//   (after `npm run setup`; needs Bulwark's NATS with JetStream on NATS_URL or 127.0.0.1:4223, as admin)
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const { connectNats } = require(path.join(__dirname, '..', 'libs', 'messaging', 'dist', 'index.js'));

const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);
const events = Number(arg('--events', 20000));
const runs = Number(arg('--runs', 3));
const dist = path.resolve(arg('--dist', path.join(__dirname, '../libs/event-store/dist')));
const { JetStreamEventStore } = require(path.join(dist, 'index.js'));

const CATEGORIES = ['order', 'position', 'account', 'stop'];
const meta = (i) => ({ eventId: `bench-${i}`, tsEvent: 1_700_000_000_000 + i, tsInit: 1_700_000_000_000 + i, correlationId: `candle-${i}`, causationId: `cause-${i}`, schemaVersion: 1 });
const ev = (i) => ({ type: 'OrderRejected', data: { clientOrderId: `bw${i}`, code: '-2019', message: 'Margin is insufficient.' }, metadata: meta(i) });

async function time(label, expected, fn) {
  const rates = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const n = await fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (n !== expected) throw new Error(`${label}: read ${n} events, expected ${expected} (a short read)`);
    rates.push(n / s);
  }
  rates.sort((a, b) => a - b);
  console.log(`${label}: ${expected} events, median ${Math.round(rates[Math.floor(runs / 2)])} events/s over ${runs} runs (min ${Math.round(rates[0])}, max ${Math.round(rates[runs - 1])})`);
}

(async () => {
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString().slice(0, 10)}; event store ${dist}`);
  const nc = await connectNats({ user: 'admin', name: 'bench-readall' });
  const tag = randomBytes(3).toString('hex');
  const stream = `BENCH_READ_${tag}`;
  const store = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: `benchread${tag}`, create: true });
  let stop = false;
  let writer = Promise.resolve();
  try {
    const t0 = Date.now();
    for (let i = 0; i < events; i += 100) {
      const c = CATEGORIES[(i / 100) % CATEGORIES.length];
      await store.append(`${c}-s${(i / 100) % 10}`, Array.from({ length: Math.min(100, events - i) }, (_, k) => ev(i + k)), 'any');
    }
    console.log(`log: ${events} events written in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    let w = 0;
    writer = (async () => {
      while (!stop) await store.append(`margin-w${w % 3}`, [ev(events + w++)], 'any');
    })();
    const count = async (opts) => {
      let n = 0;
      for await (const e of store.readAll(opts)) if (e.position <= events) n++;
      return n;
    };
    const mid = Math.floor(events / 2);
    await time('readAll from 1', events, () => count({}));
    if (typeof store.readAllBatches === 'function') {
      await time('readAllBatches from 1', events, async () => {
        let n = 0;
        for await (const batch of store.readAllBatches()) for (const e of batch) if (e.position <= events) n++;
        return n;
      });
    }
    await time(`readAll from ${mid + 1}`, events - mid, () => count({ fromPosition: mid + 1 }));
    let orders = 0;
    for (let i = 0; i < events; i += 100) if (CATEGORIES[(i / 100) % CATEGORIES.length] === 'order') orders += Math.min(100, events - i);
    await time("readAll categories ['order']", orders, () => count({ categories: ['order'] }));
    const perStream = (await store.readStream('order-s0')).length;
    await time('readStream order-s0', perStream, async () => (await store.readStream('order-s0')).length);
    console.log(`writer appended ${w} events to other subjects during the reads`);
  } finally {
    stop = true;
    await writer;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.drain();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
