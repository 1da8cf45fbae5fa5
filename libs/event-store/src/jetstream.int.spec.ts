import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from 'nats';
import { describeEventStoreContract } from './contract-suite';
import { decodeStoredEvent, JetStreamEventStore, subjectForStream } from './jetstream';
import { WrongExpectedRevisionError } from './port';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

let nc: NatsConnection;
const created = new Set<string>();

beforeAll(async () => {
  try {
    nc = await connect({ servers: NATS_URL, name: 'event-store-int-test', timeout: 3_000 });
  } catch (e) {
    throw new Error(`NATS is unreachable at ${NATS_URL} (set NATS_URL; the JetStream event-store tests need a running nats-server -js): ${String(e)}`);
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
async function freshStore() {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const stream = `EST_${tag}`;
  created.add(stream);
  const store = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: `est${tag}` });
  return {
    store,
    cleanup: async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream);
      created.delete(stream);
    },
  };
}

describeEventStoreContract('JetStreamEventStore', freshStore);

describe('JetStreamEventStore specifics', () => {
  const meta = (eventId: string) => ({ eventId, tsEvent: 1, tsInit: 2, correlationId: 'c', causationId: 'c', schemaVersion: 1 });

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
      await store.append('order-a1', [{ type: 'T', data: {}, metadata: meta('e1') }], 'no_stream');
      const again = await JetStreamEventStore.connect(nc, { stream: store.stream, subjectPrefix: store.subjectPrefix });
      expect(await again.streamRevision('order-a1')).toBe(0);
      await expect(JetStreamEventStore.connect(nc, { stream: store.stream, subjectPrefix: 'other' })).rejects.toThrow('does not capture');
    } finally {
      await cleanup();
    }
  });

  it('writes one message per event with the documented subject, headers and body, and no consumer stays behind', async () => {
    const { store, cleanup } = await freshStore();
    try {
      await store.append('order-bw1a2b-7E', [{ type: 'OrderSubmitted', data: { qty: '0.01' }, metadata: meta('e1') }], 'no_stream');
      const subject = subjectForStream(store.subjectPrefix, 'order-bw1a2b-7E');
      expect(subject).toBe(`${store.subjectPrefix}.order.bw1a2b-7E`);
      const jsm = await nc.jetstreamManager();
      const m = await jsm.streams.getMessage(store.stream, { last_by_subj: subject });
      expect(m.header.get('Bulwark-Stream-Id')).toBe('order-bw1a2b-7E');
      expect(m.header.get('Bulwark-Revision')).toBe('0');
      expect(m.header.get('Bulwark-Event-Type')).toBe('OrderSubmitted');
      expect(m.header.get('Bulwark-Event-Id')).toBe('e1');
      expect(m.header.get('Nats-Msg-Id')).toBe('order-bw1a2b-7E:0');
      expect(JSON.parse(m.string())).toEqual({ type: 'OrderSubmitted', data: { qty: '0.01' }, metadata: meta('e1') });
      expect(decodeStoredEvent(m.subject, m.seq, m.header, m.data)).toEqual({
        type: 'OrderSubmitted',
        data: { qty: '0.01' },
        metadata: meta('e1'),
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
      const first = await store.append('order-a1', [{ type: 'T', data: {}, metadata: meta('e1') }], 'no_stream');
      // Simulate a stale tail read: the next publish reuses msg id order-a1:0 inside the duplicate window.
      const internals = store as unknown as { tail: (s: string) => Promise<unknown> };
      const realTail = internals.tail.bind(store);
      let stale = 0;
      internals.tail = async (s: string) => (stale-- > 0 ? null : realTail(s));
      stale = 1;
      await expect(store.append('order-a1', [{ type: 'T', data: {}, metadata: meta('other') }], 'no_stream')).rejects.toBeInstanceOf(
        WrongExpectedRevisionError,
      );
      stale = 1;
      expect(await store.append('order-a1', [{ type: 'T', data: {}, metadata: meta('e1') }], 'no_stream')).toEqual(first);
      internals.tail = realTail;
      expect((await store.readStream('order-a1')).map((e) => e.metadata.eventId)).toEqual(['e1']);
      expect(await store.lastPosition()).toBe(1);
    } finally {
      await cleanup();
    }
  });

  it('refuses to delete or purge events', async () => {
    const { store, cleanup } = await freshStore();
    try {
      await store.append('order-a1', [{ type: 'T', data: {}, metadata: meta('e1') }], 'no_stream');
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
      await store.append('order-a1', [{ type: 'T', data: { n: 0 }, metadata: meta('e0') }], 'no_stream');
      const sub = store.subscribeToAll({}, async (e) => {
        got.push((e.data as { n: number }).n);
      });
      const until = async (n: number) => {
        for (let i = 0; i < 400 && got.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      };
      await until(1);
      const jsm = await nc.jetstreamManager();
      for await (const c of jsm.consumers.list(store.stream)) await jsm.consumers.delete(store.stream, c.name);
      await store.append('order-a1', [{ type: 'T', data: { n: 1 }, metadata: meta('e1') }], 0);
      await store.append('order-a1', [{ type: 'T', data: { n: 2 }, metadata: meta('e2') }], 1);
      await until(3);
      await sub.stop();
      expect(got).toEqual([0, 1, 2]);
    } finally {
      await cleanup();
    }
  });
});
