import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type NewEvent, type RecordedEvent, streamCategory } from '@bulwark/contracts';
import { eventMetadata, orderSubmitted, until } from '@bulwark/testing';
import fc from 'fast-check';
import { headers as natsHeaders, type JsMsg, type NatsConnection } from 'nats';
import { eventHash, GENESIS_HASH } from './chain';
import { describeEventStoreContract } from './contract-suite';
import { decodeStoredEvent, EventHeaders, EventLogMissingError, JetStreamEventStore, type JetStreamEventStoreOptions, subjectForStream, UndecodableEventError } from './jetstream';
import { type UnreadableEvent, WrongExpectedRevisionError } from './port';

// Bulwark's one NATS connect function lives in @bulwark/messaging, which depends on this
// project: a static import would make the project graph circular, so the spec loads its source
// at run time (the path is computed, so Nx does not read it as a dependency).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the run-time load described above
const { connectNats } = require(path.join(__dirname, '..', '..', 'messaging', 'src', 'nats-connect')) as {
  connectNats(o: { user: 'admin'; name?: string; timeoutMs?: number }): Promise<NatsConnection>;
};
/** The harness connects as `admin` (docs/security.md): it creates and deletes the test streams. */
const connectAdmin = (name: string) => connectNats({ user: 'admin', name, timeoutMs: 3_000 });

let nc: NatsConnection;
const created = new Set<string>();

beforeAll(async () => {
  try {
    nc = await connectAdmin('event-store-int-test');
  } catch (e) {
    throw new Error(`the JetStream event-store tests need Bulwark's nats-server (npm run setup, or NATS_URL and credentials): ${String(e)}`);
  }
});

afterAll(async () => {
  if (!nc) return;
  // Belt and braces: remove any stream a failed test left behind.
  const jsm = await nc.jetstreamManager();
  for (const name of created) await jsm.streams.delete(name).catch(() => undefined);
  await nc.close();
});

/** A store on its own uniquely named stream and subject prefix, deleted in cleanup. */
async function freshStore(opts: Omit<JetStreamEventStoreOptions, 'stream' | 'subjectPrefix'> = {}) {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const stream = `EST_${tag}`;
  created.add(stream);
  const store = await JetStreamEventStore.connect(nc, { ...opts, stream, subjectPrefix: `est${tag}`, create: true });
  return {
    store,
    cleanup: async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream);
      created.delete(stream);
    },
    /** A message that is not JSON, with valid headers claiming `revision` of `streamId`, published past the store. */
    writeUnreadable: async (streamId: string, revision: number) => {
      const h = natsHeaders();
      h.set(EventHeaders.streamId, streamId);
      h.set(EventHeaders.revision, String(revision));
      h.set(EventHeaders.eventType, 'OrderSubmitted');
      const ack = await nc.jetstream().publish(subjectForStream(store.subjectPrefix, streamId), new TextEncoder().encode('{"type": "OrderSub'), { headers: h });
      return ack.seq;
    },
  };
}

describeEventStoreContract('JetStreamEventStore', () => freshStore());

const meta = (eventId: string) => eventMetadata({ eventId, tsInit: 2 });
/** A catalogue event (OrderSubmitted) numbered by its client order id `bw<n>`. */
const submitted = (n: number, eventId = `e${n}`): NewEvent => orderSubmitted(`bw${n}`, { eventId, tsInit: 2 });
const numOf = (e: RecordedEvent) => Number((e.data as { clientOrderId: string }).clientOrderId.slice(2));

async function collect(it: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('JetStreamEventStore specifics', () => {
  it('creates the stream with the event-store configuration and leaves an existing one alone', async () => {
    const { store, cleanup } = await freshStore();
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(store.stream);
      expect(info.config.subjects).toEqual([`${store.subjectPrefix}.>`]);
      expect(info.config.storage).toBe('file');
      expect(info.config.allow_direct).toBe(true);
      expect(info.config.deny_delete).toBe(true);
      expect(info.config.deny_purge).toBe(true);
      expect(info.config.duplicate_window).toBe(120_000_000_000);
      await store.append('order-a1', [submitted(1, 'e1')], 'no_stream');
      const again = await JetStreamEventStore.connect(nc, { stream: store.stream, subjectPrefix: store.subjectPrefix });
      expect(await again.streamRevision('order-a1')).toBe(0);
      await expect(JetStreamEventStore.connect(nc, { stream: store.stream, subjectPrefix: 'other' })).rejects.toThrow('does not capture');
    } finally {
      await cleanup();
    }
  });

  it('without `create` a missing stream is an EventLogMissingError naming the stream and set-up, and nothing is created', async () => {
    const stream = `EST_MISSING_${Date.now().toString(36)}`;
    const err = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: 'estmissing' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventLogMissingError);
    expect(String(err)).toContain(`JetStream stream ${stream} (the event log, subjects estmissing.>) does not exist`);
    expect(String(err)).toContain('npm run setup');
    const jsm = await nc.jetstreamManager();
    await expect(jsm.streams.info(stream)).rejects.toThrow('stream not found');
  }, 60_000);

  it('writes one message per event with the documented subject, headers and body, and no consumer stays behind', async () => {
    const { store, cleanup } = await freshStore();
    try {
      await store.append('order-bw1a2b-7E', [{ type: 'OrderSubmitted', data: { clientOrderId: 'bw1a2b-7E' }, metadata: meta('e1') }], 'no_stream');
      const subject = subjectForStream(store.subjectPrefix, 'order-bw1a2b-7E');
      expect(subject).toBe(`${store.subjectPrefix}.order.bw1a2b-7E`);
      const jsm = await nc.jetstreamManager();
      const m = await jsm.streams.getMessage(store.stream, { last_by_subj: subject });
      expect(m.header.get('Bulwark-Stream-Id')).toBe('order-bw1a2b-7E');
      expect(m.header.get('Bulwark-Revision')).toBe('0');
      expect(m.header.get('Bulwark-Event-Type')).toBe('OrderSubmitted');
      expect(m.header.get('Bulwark-Event-Id')).toBe('e1');
      expect(m.header.get('Nats-Msg-Id')).toBe('order-bw1a2b-7E:0');
      // The body carries the chain fields the store computed (docs/event-store.md).
      const chained = { ...meta('e1'), prevHash: GENESIS_HASH, hash: eventHash(GENESIS_HASH, { streamId: 'order-bw1a2b-7E', revision: 0, type: 'OrderSubmitted', data: { clientOrderId: 'bw1a2b-7E' }, metadata: meta('e1') }) };
      expect(JSON.parse(m.string())).toEqual({ type: 'OrderSubmitted', data: { clientOrderId: 'bw1a2b-7E' }, metadata: chained });
      expect(decodeStoredEvent(m.subject, m.seq, m.header, m.data)).toEqual({
        type: 'OrderSubmitted',
        data: { clientOrderId: 'bw1a2b-7E' },
        metadata: chained,
        streamId: 'order-bw1a2b-7E',
        revision: 0,
        position: 1,
      });
      await store.readStream('order-bw1a2b-7E');
      for await (const _ of store.readAll()) void _;
      const sub = store.subscribeToAll({}, async () => undefined);
      await sub.stop();
      const consumers = [];
      for await (const c of jsm.consumers.list(store.stream)) consumers.push(c.name);
      expect(consumers).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('tells a msg-id dedupe hit on another writer\'s event (a conflict) from a retry of its own (a success)', async () => {
    const { store, cleanup } = await freshStore();
    try {
      const first = await store.append('order-a1', [submitted(1, 'e1')], 'no_stream');
      // Simulate a stale tail read: the next publish reuses msg id order-a1:0 inside the duplicate window.
      const internals = store as unknown as { tail: (s: string) => Promise<unknown> };
      const realTail = internals.tail.bind(store);
      let stale = 0;
      internals.tail = async (s: string) => (stale-- > 0 ? null : realTail(s));
      stale = 1;
      await expect(store.append('order-a1', [submitted(2, 'other')], 'no_stream')).rejects.toBeInstanceOf(
        WrongExpectedRevisionError,
      );
      stale = 1;
      expect(await store.append('order-a1', [submitted(1, 'e1')], 'no_stream')).toEqual(first);
      internals.tail = realTail;
      expect((await store.readStream('order-a1')).map((e) => e.metadata.eventId)).toEqual(['e1']);
      expect(await store.lastPosition()).toBe(1);
    } finally {
      await cleanup();
    }
  });

  it('publishes a no_stream append without reading the tail first; the guard still refuses an existing stream, and a retry from another store is recognised', async () => {
    const { store, cleanup } = await freshStore();
    try {
      const first = await store.append('order-n1', [submitted(1, 'n1'), submitted(2, 'n2')], 'no_stream');
      // A second store on the same log remembers no tail: each first plan assumes an empty stream.
      const other = await JetStreamEventStore.connect(nc, { stream: store.stream, subjectPrefix: store.subjectPrefix });
      const internals = other as unknown as { tail: (s: string) => Promise<unknown> };
      const realTail = internals.tail.bind(other);
      let tailReads = 0;
      internals.tail = async (s: string) => (tailReads++, realTail(s));
      await other.append('order-n2', [submitted(3, 'n3')], 'no_stream');
      expect(tailReads).toBe(0);
      expect(await other.append('order-n1', [submitted(1, 'n1'), submitted(2, 'n2')], 'no_stream')).toEqual(first);
      await expect(other.append('order-n1', [submitted(4, 'n4')], 'no_stream')).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      expect((await store.readStream('order-n1')).map((e) => e.metadata.eventId)).toEqual(['n1', 'n2']);
      expect(await store.lastPosition()).toBe(3);
      await other.close();
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('refuses to delete or purge events', async () => {
    const { store, cleanup } = await freshStore();
    try {
      await store.append('order-a1', [submitted(1, 'e1')], 'no_stream');
      const jsm = await nc.jetstreamManager();
      await expect(jsm.streams.deleteMessage(store.stream, 1)).rejects.toThrow();
      await expect(jsm.streams.purge(store.stream)).rejects.toThrow();
      expect(await store.lastPosition()).toBe(1);
    } finally {
      await cleanup();
    }
  });

  it('ends a subscription with an error when its stream disappears', async () => {
    const { store, cleanup } = await freshStore();
    const sub = store.subscribeToAll({}, async () => undefined);
    await new Promise((r) => setTimeout(r, 50));
    await cleanup();
    await expect(sub.done).rejects.toThrow('not found');
  }, 15_000);

  it('resumes a subscription whose consumer was deleted, without gaps or repeats', async () => {
    const { store, cleanup } = await freshStore();
    try {
      const got: number[] = [];
      await store.append('order-a1', [submitted(0)], 'no_stream');
      const sub = store.subscribeToAll({}, async (e) => {
        got.push(numOf(e));
      });
      await until('the first event', () => got.length >= 1);
      const jsm = await nc.jetstreamManager();
      for await (const c of jsm.consumers.list(store.stream)) await jsm.consumers.delete(store.stream, c.name);
      await store.append('order-a1', [submitted(1)], 0);
      await store.append('order-a1', [submitted(2)], 1);
      await until('3 events after the consumers were deleted', () => got.length >= 3);
      await sub.stop();
      expect(got).toEqual([0, 1, 2]);
    } finally {
      await cleanup();
    }
  });
});

/** A child process that keeps one core busy for `ms` (a busy machine for the reads under test). */
function cpuBurner(ms: number) {
  const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`], { stdio: 'ignore' });
  return { stop: () => child.kill() };
}

/** Replace the read consumers of `store` by `wrap(consumer)` (fault injection into the reads). */
function wrapReadConsumers(store: JetStreamEventStore, wrap: (c: FeedConsumer) => FeedConsumer): void {
  const internals = store as unknown as { orderedConsumer: (f: string | string[], seq: number) => Promise<FeedConsumer> };
  const real = internals.orderedConsumer.bind(store);
  internals.orderedConsumer = async (f, seq) => wrap(await real(f, seq));
}

/** The part of a nats.js consumer the reads use: `consume` with a callback (reads) or iterated (subscriptions). */
interface FeedConsumer {
  consume(opts: { callback?: (m: JsMsg) => void }): Promise<AsyncIterable<JsMsg> & { close(): Promise<void | Error>; closed(): Promise<void | Error> }>;
  info(cached?: boolean): Promise<{ num_pending: number }>;
  delete(): Promise<boolean>;
}

/**
 * A consumer whose feed passes each message through `map`: `undefined` ends the feed there,
 * 'stall' drops it and every later one without ending the feed.
 */
function mapFeed(c: FeedConsumer, map: (m: JsMsg, i: number) => JsMsg | undefined | 'stall', info?: (real: { num_pending: number }) => { num_pending: number }): FeedConsumer {
  return {
    delete: () => c.delete(),
    info: async (cached) => (info ? info(await c.info(cached)) : c.info(cached)),
    consume: async (opts) => {
      let i = 0;
      let state: 'open' | 'ended' | 'stalled' = 'open';
      let end!: () => void;
      const ended = new Promise<void>((resolve) => (end = resolve));
      const step = (m: JsMsg): JsMsg | null => {
        if (state !== 'open') return null;
        const out = map(m, i++);
        if (out === 'stall') state = 'stalled';
        else if (!out) {
          state = 'ended';
          end();
        }
        return typeof out === 'object' ? out : null;
      };
      const user = opts.callback;
      const msgs = await c.consume(
        user
          ? {
              ...opts,
              callback: (m) => {
                const out = step(m);
                if (out) user(out);
              },
            }
          : opts,
      );
      return {
        close: () => msgs.close(),
        closed: () => Promise.race([msgs.closed(), ended]),
        async *[Symbol.asyncIterator]() {
          for await (const m of msgs) {
            const out = step(m);
            if (state === 'ended') return;
            if (state === 'stalled') await new Promise(() => undefined);
            if (out) yield out;
          }
        },
      };
    },
  };
}

/** A consumer whose feed delivers `after` messages and then stays silent without ending. */
function stallFeed(c: FeedConsumer, after: number): FeedConsumer {
  return mapFeed(c, (m, i) => (i < after ? m : 'stall'));
}

/** `m` with the server's pending count lowered by `by` (nats-server 2.9 can under-count it). */
function underCounted(m: JsMsg, by: number): JsMsg {
  return new Proxy(m, {
    get(t, k) {
      if (k === 'info') return { ...t.info, pending: Math.max(0, t.info.pending - by) };
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

describe('JetStreamEventStore reads are never short', () => {
  /** 325 events over 9 streams of 3 categories, one append each. */
  async function log325(store: JetStreamEventStore): Promise<void> {
    const cats = ['order', 'position', 'account'];
    for (let i = 0; i < 325; i++) await store.append(`${cats[i % 3]}-s${i % 9}`, [submitted(i, `seed-${i}`)], 'any');
  }

  it(
    'reads from position 123 of 325 are complete while other connections append and the machine is busy (the reported short read)',
    async () => {
      const { store, cleanup } = await freshStore();
      const writerNc = await connectAdmin('event-store-int-writer');
      const burners = [cpuBurner(120_000), cpuBurner(120_000)];
      let stop = false;
      try {
        await log325(store);
        const writerStore = await JetStreamEventStore.connect(writerNc, { stream: store.stream, subjectPrefix: store.subjectPrefix });
        let w = 0;
        // Four writers on their own connection, appending to other subjects throughout.
        const writers = Promise.all(
          Array.from({ length: 4 }, async (_, k) => {
            while (!stop) {
              const n = w++;
              await writerStore.append(`stop-w${k}x${n % 5}`, [submitted(n, `w-${n}`)], 'any');
            }
          }),
        );
        let short = 0;
        let reads = 0;
        for (let round = 0; round < 8; round++) {
          await Promise.all(
            Array.from({ length: 8 }, async (_, r) => {
              const from = r % 2 === 0 ? 123 : 2 + Math.floor(Math.random() * 300);
              const endAtStart = await store.lastPosition();
              const got = (await collect(store.readAll({ fromPosition: from }))).map((e) => e.position);
              reads++;
              const complete = got.length >= endAtStart - from + 1 && got.every((p, i) => p === from + i);
              if (!complete) short++;
            }),
          );
        }
        stop = true;
        await writers;
        expect(w).toBeGreaterThan(0);
        expect({ short, reads }).toEqual({ short: 0, reads: 64 });
      } finally {
        stop = true;
        for (const b of burners) b.stop();
        await writerNc.close();
        await cleanup();
      }
    },
    180_000,
  );

  it('a read is complete when the server under-counts pending by 1 to 9 (the reported 316-324 of 325): it never ends on pending counts', async () => {
    const { store, cleanup } = await freshStore();
    try {
      await log325(store);
      const got = { all: [] as number[], order: [] as number[], stream: [] as number[] };
      let by = 0;
      wrapReadConsumers(store, (c) => mapFeed(c, (m) => underCounted(m, by)));
      for (by = 1; by <= 9; by++) {
        const all = await collect(store.readAll({ fromPosition: 123 }));
        const order = await collect(store.readAll({ fromPosition: 5, categories: ['order'] }));
        const stream = await store.readStream('account-s2');
        expect(all.map((e) => e.position)).toEqual(Array.from({ length: all.length }, (_, i) => 123 + i));
        expect(order.every((e) => streamCategory(e.streamId) === 'order')).toBe(true);
        expect(stream.map((e) => e.revision)).toEqual(Array.from({ length: stream.length }, (_, i) => i));
        got.all.push(all.length);
        got.order.push(order.length);
        got.stream.push(stream.length);
      }
      // 203 events from 123; 107 order events from 5 (positions 7, 10, .., 325); 36 events in account-s2.
      expect(got).toEqual({ all: Array(9).fill(203), order: Array(9).fill(107), stream: Array(9).fill(36) });
    } finally {
      await cleanup();
    }
  }, 60_000);

  it("a read is complete when the consumer's own num_pending says 0", async () => {
    const { store, cleanup } = await freshStore();
    try {
      await log325(store);
      wrapReadConsumers(store, (c) => mapFeed(c, (m) => m, () => ({ num_pending: 0 })));
      expect((await collect(store.readAll({ fromPosition: 123 }))).map((e) => e.position)).toEqual(Array.from({ length: 203 }, (_, i) => 123 + i));
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('a read whose consumer feed ends early resumes after the last message it saw, without gaps or repeats', async () => {
    const { store, cleanup } = await freshStore();
    try {
      await log325(store);
      let consumers = 0;
      // Every feed ends after 50 messages: the read must go on from the next sequence on a new consumer.
      wrapReadConsumers(store, (c) => {
        consumers++;
        return mapFeed(c, (m, i) => (i < 50 ? m : undefined));
      });
      expect((await collect(store.readAll({ fromPosition: 123 }))).map((e) => e.position)).toEqual(Array.from({ length: 203 }, (_, i) => 123 + i));
      expect(consumers).toBe(5);
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('a read whose feed stalls while messages are still due opens a new consumer and is complete', async () => {
    const { store, cleanup } = await freshStore();
    try {
      await log325(store);
      let consumers = 0;
      // The first consumer's feed goes silent after 20 messages, without ending.
      wrapReadConsumers(store, (c) => (++consumers === 1 ? stallFeed(c, 20) : c));
      expect((await collect(store.readAll({ fromPosition: 123 }))).map((e) => e.position)).toEqual(Array.from({ length: 203 }, (_, i) => 123 + i));
      expect(consumers).toBe(2);
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('a read whose last message vanished after the read started ends with what exists (no hang)', async () => {
    // A stream that allows deletes (the store leaves an existing stream's configuration alone).
    const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const stream = `EST_${tag}`;
    created.add(stream);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`est${tag}.>`], allow_direct: true });
    try {
      const store = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: `est${tag}` });
      for (let i = 0; i < 10; i++) await store.append(`order-v${i % 2}`, [submitted(i)], 'any');
      const internals = store as unknown as { lastMatching: (subjects: string[]) => Promise<number> };
      const real = internals.lastMatching.bind(store);
      internals.lastMatching = async (subjects) => {
        const end = await real(subjects);
        await jsm.streams.deleteMessage(stream, end);
        return end;
      };
      expect((await collect(store.readAll({ fromPosition: 3 }))).map((e) => e.position)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await jsm.streams.delete(stream).catch(() => undefined);
      created.delete(stream);
    }
  }, 60_000);

  it('a read whose server-side consumer is deleted mid-read (an ordered-consumer reset) is complete', async () => {
    const { store, cleanup } = await freshStore();
    const jsm = await nc.jetstreamManager();
    try {
      await log325(store);
      const got: number[] = [];
      for await (const e of store.readAll({ fromPosition: 2, onUnreadable: () => undefined })) {
        got.push(e.position);
        if (got.length === 3 || got.length === 150) for await (const c of jsm.consumers.list(store.stream)) await jsm.consumers.delete(store.stream, c.name).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1));
      }
      expect(got).toEqual(Array.from({ length: 324 }, (_, i) => 2 + i));
    } finally {
      await cleanup();
    }
  }, 120_000);

  it(
    'readAll under concurrent appends on another connection and a busy machine returns every event of a random range that existed at its start, once, in order (property)',
    async () => {
      const { store, cleanup } = await freshStore();
      const writerNc = await connectAdmin('event-store-int-prop-writer');
      const burner = cpuBurner(170_000);
      const cats = ['order', 'position', 'account', 'stop'];
      const ref = new Map<number, { streamId: string; eventId: string }>();
      let stop = false;
      try {
        const writerStore = await JetStreamEventStore.connect(writerNc, { stream: store.stream, subjectPrefix: store.subjectPrefix });
        const put = async (s: JetStreamEventStore, n: number) => {
          const streamId = `${cats[n % cats.length]}-p${n % 7}`;
          const e = submitted(n, `p-${n}`);
          const r = await s.append(streamId, [e], 'any');
          ref.set(r.position, { streamId, eventId: e.metadata.eventId });
        };
        for (let n = 0; n < 325; n++) await put(store, n);
        let next = 325;
        const writers = Promise.all(
          [0, 1].map(async () => {
            while (!stop) await put(writerStore, next++);
          }),
        );
        try {
          await fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 0, max: 400 }),
              fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
              fc.subarray(cats),
              fc.integer({ min: 1, max: 4 }),
              async (fromPosition, maxCount, categories, parallel) => {
                const inRange = (p: number) => categories.length === 0 || categories.includes(streamCategory(ref.get(p)!.streamId));
                // `parallel` identical reads at once: more consumers on the server, more load.
                const reads = await Promise.all(
                  Array.from({ length: parallel }, async () => {
                    const endAtStart = await store.lastPosition();
                    return { endAtStart, got: await collect(store.readAll({ fromPosition, maxCount, categories })) };
                  }),
                );
                for (const { endAtStart, got } of reads) {
                  const last = Math.max(endAtStart, ...got.map((e) => e.position));
                  for (let t = 0; t < 3_000 && !Array.from({ length: last }, (_, k) => k + 1).every((p) => ref.has(p)); t++) await new Promise((r) => setTimeout(r, 10));
                  const want: number[] = [];
                  for (let p = Math.max(1, fromPosition); p <= endAtStart; p++) if (inRange(p)) want.push(p);
                  const limit = maxCount ?? Number.MAX_SAFE_INTEGER;
                  const positions = got.map((e) => e.position);
                  expect(positions.slice(0, Math.min(want.length, limit))).toEqual(want.slice(0, limit));
                  expect(got.length).toBeLessThanOrEqual(limit);
                  for (let k = 1; k < positions.length; k++) expect(positions[k]).toBeGreaterThan(positions[k - 1]);
                  for (const e of got) {
                    expect(inRange(e.position)).toBe(true);
                    expect({ streamId: e.streamId, eventId: e.metadata.eventId }).toEqual(ref.get(e.position));
                  }
                }
              },
            ),
            { numRuns: 30 },
          );
        } finally {
          stop = true;
          await writers;
        }
        expect(next).toBeGreaterThan(325);
      } finally {
        stop = true;
        burner.stop();
        await writerNc.close();
        await cleanup();
      }
    },
    180_000,
  );
});

describe('JetStreamEventStore unreadable stored messages', () => {
  /** Publish raw bytes onto a store's subject, as a foreign or broken writer would. */
  async function publishRaw(store: JetStreamEventStore, streamId: string, body: string, hdrs: Record<string, string> | null): Promise<number> {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(hdrs ?? {})) h.set(k, v);
    const ack = await nc.jetstream().publish(subjectForStream(store.subjectPrefix, streamId), new TextEncoder().encode(body), hdrs ? { headers: h } : {});
    return ack.seq;
  }
  const goodHeaders = (streamId: string, revision: number, type: string, eventId: string) => ({
    [EventHeaders.streamId]: streamId,
    [EventHeaders.revision]: String(revision),
    [EventHeaders.eventType]: type,
    [EventHeaders.eventId]: eventId,
  });

  it(
    'skips a non-JSON message and one with broken headers in readAll, readStream and subscribeToAll, reporting each once per read; the rest is complete',
    async () => {
      const warnings: string[] = [];
      const { store, cleanup } = await freshStore({ warn: (m) => warnings.push(m) });
      try {
        await store.append('order-a1', [submitted(0), submitted(1)], 'no_stream');
        const notJson = await publishRaw(store, 'order-a1', '{"type": "OrderSubmitted", "da', goodHeaders('order-a1', 2, 'OrderSubmitted', 'raw-1'));
        await store.append('position-b1', [submitted(2)], 'no_stream');
        const noHeaders = await publishRaw(store, 'order-a1', JSON.stringify({ ...submitted(3, 'raw-2') }), null);
        const badRevision = await publishRaw(store, 'position-b1', JSON.stringify(submitted(4, 'raw-3')), { ...goodHeaders('position-b1', 1, 'OrderSubmitted', 'raw-3'), [EventHeaders.revision]: 'one' });
        // An unknown type with valid JSON and metadata is an event: returned, for consumers to quarantine.
        const unknownType = await publishRaw(store, 'position-b1', JSON.stringify({ type: 'FromTheFuture', data: { x: 1 }, metadata: meta('raw-4') }), goodHeaders('position-b1', 1, 'FromTheFuture', 'raw-4'));
        // Order: 1,2 order-a1 ok; 3 not JSON; 4 position-b1 ok; 5 no headers; 6 bad revision; 7 unknown type (readable).
        expect([notJson, noHeaders, badRevision, unknownType]).toEqual([3, 5, 6, 7]);
        await store.append('order-a1', [submitted(5)], 'any');

        const seen: UnreadableEvent[] = [];
        const all = await collect(store.readAll({ onUnreadable: (u) => seen.push(u) }));
        expect(all.map((e) => e.position)).toEqual([1, 2, 4, 7, 8]);
        expect(all.map((e) => e.type)).toEqual(['OrderSubmitted', 'OrderSubmitted', 'OrderSubmitted', 'FromTheFuture', 'OrderSubmitted']);
        expect(seen).toEqual([
          { streamId: 'order-a1', revision: 2, position: 3, eventType: 'OrderSubmitted', reason: expect.stringContaining('body is not JSON') },
          { streamId: 'order-a1', revision: null, position: 5, eventType: null, reason: 'no headers' },
          { streamId: 'position-b1', revision: null, position: 6, eventType: 'OrderSubmitted', reason: expect.stringContaining('no valid Bulwark-Revision header') },
        ]);

        // A window and a category filter report only what they cover.
        const windowed: number[] = [];
        expect((await collect(store.readAll({ fromPosition: 4, categories: ['position'], onUnreadable: (u) => windowed.push(u.position) }))).map((e) => e.position)).toEqual([4, 7]);
        expect(windowed).toEqual([6]);

        const inStream: number[] = [];
        expect((await store.readStream('order-a1', { onUnreadable: (u) => inStream.push(u.position) })).map((e) => [e.revision, numOf(e)])).toEqual([
          [0, 0],
          [1, 1],
          [3, 5],
        ]);
        expect(inStream).toEqual([3, 5]);

        const delivered: number[] = [];
        const reported: number[] = [];
        const sub = store.subscribeToAll({ onUnreadable: (u) => reported.push(u.position) }, async (e) => {
          delivered.push(e.position);
        });
        for (let t = 0; t < 1_000 && delivered.length < 5; t++) await new Promise((r) => setTimeout(r, 10));
        await sub.stop();
        expect(delivered).toEqual([1, 2, 4, 7, 8]);
        expect(reported).toEqual([3, 5, 6]);

        // Without a callback: one warning per bad message for this store, however often it is read.
        expect(warnings).toEqual([]);
        await collect(store.readAll());
        await collect(store.readAll());
        await store.readStream('order-a1');
        expect(warnings.length).toBe(3);
        expect(warnings[0]).toContain('position 3 (stream order-a1, revision 2, type OrderSubmitted): body is not JSON');

        // The durable consumers' decoder still refuses them (the transport dead-letters what reads skip).
        const jsm = await nc.jetstreamManager();
        const m = await jsm.streams.getMessage(store.stream, { seq: notJson });
        expect(() => decodeStoredEvent(m.subject, m.seq, m.header, m.data)).toThrow(UndecodableEventError);
      } finally {
        await cleanup();
      }
    },
    60_000,
  );

  it('numbers revisions as stored: a skipped message with a revision keeps it and OCC counts it; one without is ignored by reads and appends', async () => {
    const { store, cleanup } = await freshStore({ warn: () => undefined });
    try {
      await store.append('order-a1', [submitted(0)], 'no_stream');
      // Revision 1 is taken by a message whose body is broken.
      await publishRaw(store, 'order-a1', 'garbage', goodHeaders('order-a1', 1, 'OrderSubmitted', 'raw-1'));
      expect(await store.streamRevision('order-a1')).toBe(1);
      expect((await store.readStream('order-a1')).map((e) => e.revision)).toEqual([0]);
      expect(await store.readStream('order-a1', { fromRevision: 1 })).toEqual([]);
      await expect(store.append('order-a1', [submitted(1)], 0)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      const r = await store.append('order-a1', [submitted(2)], 1);
      expect(r.nextExpectedRevision).toBe(2);
      // A foreign message without headers at the tail holds no revision: the stream stays at 2 and appendable.
      await publishRaw(store, 'order-a1', JSON.stringify(submitted(9, 'raw-2')), null);
      expect(await store.streamRevision('order-a1')).toBe(2);
      const r2 = await store.append('order-a1', [submitted(3)], 2);
      expect(r2.nextExpectedRevision).toBe(3);
      // A retry of that append is still recognised.
      expect(await store.append('order-a1', [submitted(3)], 2)).toEqual(r2);
      expect((await store.readStream('order-a1')).map((e) => [e.revision, numOf(e)])).toEqual([
        [0, 0],
        [2, 2],
        [3, 3],
      ]);
      // A subject holding only a foreign message is no event stream yet: no_stream appends at revision 0.
      await publishRaw(store, 'stop-z1', 'garbage', null);
      expect(await store.streamRevision('stop-z1')).toBeNull();
      expect(await store.readStream('stop-z1')).toEqual([]);
      expect((await store.append('stop-z1', [submitted(4)], 'no_stream')).nextExpectedRevision).toBe(0);
      expect((await store.readStream('stop-z1')).map((e) => e.revision)).toEqual([0]);
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('refuses invalid events unless built with validate: false, which still checks metadata and size', async () => {
    const { store, cleanup } = await freshStore({ validate: false });
    try {
      const poison = { type: 'StrategyAttached', data: { accountId: 'no spaces allowed' }, metadata: meta('p1') };
      await store.append('signal-x1', [poison], 'no_stream');
      expect((await store.readStream('signal-x1')).map((e) => e.data)).toEqual([{ accountId: 'no spaces allowed' }]);
      await expect(store.append('signal-x1', [{ ...poison, metadata: { ...meta('p2'), tsEvent: -1 } }], 'any')).rejects.toThrow('metadata');
      const strict = await JetStreamEventStore.connect(nc, { stream: store.stream, subjectPrefix: store.subjectPrefix });
      await expect(strict.append('signal-x1', [{ ...poison, metadata: meta('p3') }], 'any')).rejects.toThrow('accountId');
    } finally {
      await cleanup();
    }
  }, 60_000);
});
