#!/usr/bin/env node
// JetStream append throughput, each append checked by optimistic concurrency (expected
// revision) and acknowledged by the server before it counts:
// - sequential: one append at a time, one event each (a single writer, e.g. a decider);
// - concurrent: one event per append, up to N streams in flight at once (many deciders, or a copy);
// - batches: appends of B events to one stream at a time (events/s; the publishes of one append
//   each wait for the previous one's ack, see `publishChain` in libs/event-store/src/jetstream.ts).
// The floor printed first is a bare JetStream publish with an ack, one at a time, no store
// (what one sequential append cannot beat: it also direct-gets the stream's tail).
// Usage: node bench/append.bench.js [--events N] [--concurrency N] [--batch B] [--runs N] [--baseline DIR]
//   `--baseline DIR`: also time another build of the store (DIR/libs/event-store/dist) in the same run.
//   (after `npm run setup` and a build; needs Bulwark's NATS with JetStream, as admin)
const os = require('node:os');
const { TextEncoder } = require('node:util');
const { randomBytes } = require('node:crypto');

const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);

/**
 * Copy every event of `src` into `dst` in global order, one event per append with its
 * expected revision (`no_stream` for revision 0), at most `concurrency` appends in flight and
 * one per stream at a time (each stream's appends in revision order).
 * @returns the copy's wall time in seconds
 */
async function copyIntoJetStream(src, dst, concurrency) {
  const t0 = process.hrtime.bigint();
  const tails = new Map(); // streamId -> its last append
  const inFlight = new Set();
  for await (const e of src.readAll()) {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const append = () => dst.append(e.streamId, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision === 0 ? 'no_stream' : e.revision - 1);
    const p = (tails.get(e.streamId) ?? Promise.resolve()).then(append);
    tails.set(e.streamId, p);
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

module.exports = { copyIntoJetStream };

if (require.main === module) {
  const { connectNats } = require('../libs/messaging/dist/index.js');
  const { InMemoryEventStore, JetStreamEventStore } = require('../libs/event-store/dist/index.js');
  const { headers: natsHeaders } = require('nats');
  const events = Number(arg('--events', 5000));
  const concurrency = Number(arg('--concurrency', 64));
  const batch = Number(arg('--batch', 10));
  const runs = Number(arg('--runs', 3));
  const baselineDir = arg('--baseline', null);
  const meta = (id, i) => ({ eventId: id, tsEvent: 1_700_000_000_000 + i, tsInit: 1_700_000_000_000 + i, correlationId: `candle-${i}`, causationId: `cause-${i}`, schemaVersion: 1 });
  const ev = (id, i) => ({ type: 'OrderRejected', data: { clientOrderId: `bw${i}`, code: '-2019', message: 'Margin is insufficient.' }, metadata: meta(id, i) });

  async function measure(label, unit, fn) {
    const rates = [];
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      const n = await fn(r);
      rates.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    rates.sort((a, b) => a - b);
    console.log(`${label}: median ${Math.round(rates[Math.floor(runs / 2)])} ${unit}/s over ${runs} runs (min ${Math.round(rates[0])}, max ${Math.round(rates[runs - 1])})`);
  }

  (async () => {
    console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}`);
    const nc = await connectNats({ user: 'admin', name: 'bench-append' });
    const tag = randomBytes(3).toString('hex');
    const stream = `BENCH_APPEND_${tag}`;
    const prefix = `benchappend${tag}`;
    const js = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: prefix, create: true });
    try {
      const client = nc.jetstream();
      await measure('floor: bare JetStream publish + ack, one at a time', 'publishes', async (r) => {
        for (let i = 0; i < events; i++) {
          const h = natsHeaders();
          h.set('Bulwark-Revision', String(i));
          await client.publish(`${prefix}.floor.r${r}`, new TextEncoder().encode(JSON.stringify(ev(`floor-${r}-${i}`, i))), { headers: h, msgID: `floor-${r}-${i}` });
        }
        return events;
      });
      const stores = [['', js]];
      if (baselineDir) {
        const { JetStreamEventStore: Old } = require(require('node:path').resolve(baselineDir, 'libs/event-store/dist/index.js'));
        stores.unshift([`baseline (${baselineDir}): `, await Old.connect(nc, { stream, subjectPrefix: prefix })]);
      }
      for (const [label, store] of stores) {
        const tag = label ? 'b' : 'n';
        await measure(`${label}sequential appends (one event each, expected revision)`, 'appends', async (r) => {
          const streamId = `order-seq${tag}${r}`;
          for (let i = 0; i < events; i++) await store.append(streamId, [ev(`seq-${tag}${r}-${i}`, i)], i === 0 ? 'no_stream' : i - 1);
          return events;
        });
        await measure(`${label}concurrent appends (one event each, expected revision, ${concurrency} streams in flight)`, 'appends', async (r) => {
          const src = new InMemoryEventStore();
          for (let i = 0; i < events; i++) {
            const s = `order-con${tag}${r}x${i % concurrency}`;
            const rev = Math.floor(i / concurrency);
            await src.append(s, [ev(`con-${tag}${r}-${i}`, i)], rev === 0 ? 'no_stream' : rev - 1);
          }
          await copyIntoJetStream(src, store, concurrency);
          return events;
        });
        await measure(`${label}batched appends (${batch} events each, one stream, expected revision)`, 'events', async (r) => {
          const streamId = `order-batch${tag}${r}`;
          for (let i = 0; i < events; i += batch) {
            const n = Math.min(batch, events - i);
            await store.append(streamId, Array.from({ length: n }, (_, k) => ev(`batch-${tag}${r}-${i + k}`, i + k)), i === 0 ? 'no_stream' : i - 1);
          }
          return events;
        });
      }
    } finally {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream).catch(() => undefined);
      await js.close();
      await nc.drain();
    }
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
