#!/usr/bin/env node
// JetStream append throughput, each append checked by optimistic concurrency (expected
// revision) and acknowledged by the server before it counts:
// - sequential: one append at a time, one event each (a single writer, e.g. a decider);
// - concurrent: one event per append, up to N streams in flight at once (many deciders, or a copy);
// - batches: appends of B events to one stream at a time (events/s; the publishes of one append
//   each wait for the previous one's ack, see `publishChain` in libs/event-store/src/jetstream.ts).
// Floors, no store (what the server and client can do on this machine):
// - bare JetStream publish + ack (nats.js `JetStreamClient.publish`), one at a time;
// - the same with N subjects in flight, each subject one publish at a time, with and without
//   the store's guard (`Nats-Expected-Last-Subject-Sequence` = the subject's previous ack);
// - the store's own publisher (libs/event-store/src/jetstream-publisher.ts) alone, guarded, one at
//   a time and N subjects in flight: what the sequential and concurrent appends cannot beat.
// Each line gives the median rate and this process's CPU time per operation (all threads), which
// moves less than the rates with the load of a shared machine. The concurrent case builds and
// reads its source (an in-memory store) before the clock starts: only the copy is timed.
// Usage: node bench/append.bench.js [--events N] [--concurrency N] [--batch B] [--runs N] [--baseline DIR] [--only a,b]
//   `--baseline DIR`: also time another build of the store (DIR/libs/event-store/dist) in the same
//   run, run by run alternately with this one (old first in even runs, new first in odd runs).
//   `--only`: cases to run, of floor-seq, floor-con, floor-pub, sequential, concurrent, batches (default all).
//   (after `npm run setup` and a build; needs Bulwark's NATS with JetStream, as admin)
const os = require('node:os');
const { TextEncoder } = require('node:util');
const { randomBytes } = require('node:crypto');

const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);

/**
 * Copy `events` (recorded events in global order: an array or an async iterable) into `dst`, one event per append with its
 * expected revision (`no_stream` for revision 0), at most `concurrency` appends in flight and
 * one per stream at a time (each stream's appends in revision order).
 * @returns the copy's wall time in seconds
 */
async function copyIntoJetStream(events, dst, concurrency) {
  const t0 = process.hrtime.bigint();
  const tails = new Map(); // streamId -> its last append
  const waiting = []; // resolvers of the loop, waiting for a free slot
  let inFlight = 0;
  let failure = null;
  for await (const e of events) {
    while (inFlight >= concurrency) await new Promise((resolve) => waiting.push(resolve));
    if (failure) throw failure;
    inFlight++;
    const append = () => dst.append(e.streamId, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision === 0 ? 'no_stream' : e.revision - 1);
    const p = (tails.get(e.streamId) ?? Promise.resolve()).then(append);
    tails.set(e.streamId, p);
    p.catch((err) => (failure ??= err)).finally(() => {
      inFlight--;
      waiting.shift()?.();
    });
  }
  await Promise.all(tails.values());
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
  const only = arg('--only', null)?.split(',');
  const wanted = (c) => !only || only.includes(c);
  const meta = (id, i) => ({ eventId: id, tsEvent: 1_700_000_000_000 + i, tsInit: 1_700_000_000_000 + i, correlationId: `candle-${i}`, causationId: `cause-${i}`, schemaVersion: 1 });
  const ev = (id, i) => ({ type: 'OrderRejected', data: { clientOrderId: `bw${i}`, code: '-2019', message: 'Margin is insufficient.' }, metadata: meta(id, i) });
  const encoder = new TextEncoder();

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  /** Rates (per second) and this process's CPU time per operation (µs, all threads): the CPU figure moves less with the machine's load. */
  const report = (label, unit, runsOut) => {
    const rates = runsOut.map((x) => x.rate).sort((a, b) => a - b);
    const n = rates.length;
    const cpu = median(runsOut.map((x) => x.cpuUs));
    console.log(`${label}: median ${Math.round(rates[Math.floor(n / 2)])} ${unit}/s over ${n} runs (min ${Math.round(rates[0])}, max ${Math.round(rates[n - 1])}); client CPU ${cpu.toFixed(0)} µs per ${unit.replace(/e?s$/, '')}`);
  };
  /** Time `fn(r)` (it returns how many it did). */
  async function timed(fn, r) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const n = await fn(r);
    const c = process.cpuUsage(c0);
    return { rate: n / (Number(process.hrtime.bigint() - t0) / 1e9), cpuUs: (c.user + c.system) / n };
  }
  async function measure(label, unit, fn) {
    const out = [];
    for (let r = 0; r < runs; r++) out.push(await timed(fn, r));
    report(label, unit, out);
  }
  /** Time a case on every store, run by run, alternating which store goes first. */
  async function compare(stores, label, unit, make) {
    const rates = stores.map(() => []);
    for (let r = 0; r < runs; r++) {
      const order = stores.map((_, k) => k);
      if (r % 2) order.reverse();
      for (const k of order) {
        const fn = await make(stores[k], r); // set-up outside the clock
        rates[k].push(await timed(fn, r));
      }
    }
    stores.forEach(([name], k) => report(`${name}${label}`, unit, rates[k]));
  }

  /**
   * `n` publishes over `width` subjects, each subject one publish at a time; `guard` expects the
   * subject's previous sequence. `client` is nats.js's JetStream client, or with `raw` the store's
   * own publisher (libs/event-store/src/jetstream-publisher.ts) without the store around it.
   */
  async function publishWide(client, prefix, n, width, guard, raw = false) {
    let next = 0;
    const worker = async (w) => {
      let prev = 0;
      for (let i; (i = next++) < n; ) {
        const h = natsHeaders();
        h.set('Bulwark-Revision', String(i));
        const body = encoder.encode(JSON.stringify(ev(`${prefix}-${i}`, i)));
        let ack;
        if (raw) {
          h.set('Nats-Msg-Id', `${prefix}-${i}`);
          if (guard) h.set('Nats-Expected-Last-Subject-Sequence', String(prev));
          ack = await client.publish(`${prefix}.w${w}`, body, h);
        } else {
          const opts = { headers: h, msgID: `${prefix}-${i}` };
          if (guard) opts.expect = { lastSubjectSequence: prev };
          ack = await client.publish(`${prefix}.w${w}`, body, opts);
        }
        prev = ack.seq;
      }
    };
    await Promise.all(Array.from({ length: width }, (_, w) => worker(w)));
    return n;
  }

  (async () => {
    console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    const nc = await connectNats({ user: 'admin', name: 'bench-append' });
    const tag = randomBytes(3).toString('hex');
    const stream = `BENCH_APPEND_${tag}`;
    const prefix = `benchappend${tag}`;
    const js = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: prefix, create: true });
    try {
      const client = nc.jetstream();
      if (wanted('floor-seq')) {
        await measure('floor: bare JetStream publish + ack, one at a time', 'publishes', (r) => publishWide(client, `${prefix}.floor.r${r}`, events, 1, false));
      }
      if (wanted('floor-con')) {
        await measure(`floor: bare JetStream publishes + acks, ${concurrency} subjects in flight`, 'publishes', (r) => publishWide(client, `${prefix}.floorc.r${r}`, events, concurrency, false));
        await measure(`floor: the same with the subject-sequence guard`, 'publishes', (r) => publishWide(client, `${prefix}.floorg.r${r}`, events, concurrency, true));
      }
      if (wanted('floor-pub')) {
        const { JetStreamPublisher } = require('../libs/event-store/dist/jetstream-publisher.js');
        const pub = new JetStreamPublisher(nc);
        await measure(`floor: the store's publisher alone (no store), guarded, one at a time`, 'publishes', (r) => publishWide(pub, `${prefix}.floorp1.r${r}`, events, 1, true, true));
        await measure(`floor: the store's publisher alone (no store), guarded, ${concurrency} subjects in flight`, 'publishes', (r) => publishWide(pub, `${prefix}.floorp.r${r}`, events, concurrency, true, true));
        pub.release();
      }
      const stores = [['', js, 'n']];
      if (baselineDir) {
        const { JetStreamEventStore: Old } = require(require('node:path').resolve(baselineDir, 'libs/event-store/dist/index.js'));
        stores.unshift([`baseline (${baselineDir}): `, await Old.connect(nc, { stream, subjectPrefix: prefix }), 'b']);
      }
      if (wanted('sequential')) {
        await compare(stores, 'sequential appends (one event each, expected revision)', 'appends', async ([, store, t], r) => async () => {
          const streamId = `order-seq${t}${r}`;
          for (let i = 0; i < events; i++) await store.append(streamId, [ev(`seq-${t}${r}-${i}`, i)], i === 0 ? 'no_stream' : i - 1);
          return events;
        });
      }
      if (wanted('concurrent')) {
        await compare(stores, `concurrent appends (one event each, expected revision, ${concurrency} streams in flight)`, 'appends', async ([, store, t], r) => {
          // The source is built and read before the clock starts: only the copy is timed.
          const src = new InMemoryEventStore();
          for (let i = 0; i < events; i++) {
            const s = `order-con${t}${r}x${i % concurrency}`;
            const rev = Math.floor(i / concurrency);
            await src.append(s, [ev(`con-${t}${r}-${i}`, i)], rev === 0 ? 'no_stream' : rev - 1);
          }
          const recorded = [];
          for await (const e of src.readAll()) recorded.push(e);
          return async () => {
            await copyIntoJetStream(recorded, store, concurrency);
            return events;
          };
        });
      }
      if (wanted('batches')) {
        await compare(stores, `batched appends (${batch} events each, one stream, expected revision)`, 'events', async ([, store, t], r) => async () => {
          const streamId = `order-batch${t}${r}`;
          for (let i = 0; i < events; i += batch) {
            const n = Math.min(batch, events - i);
            await store.append(streamId, Array.from({ length: n }, (_, k) => ev(`batch-${t}${r}-${i + k}`, i + k)), i === 0 ? 'no_stream' : i - 1);
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
