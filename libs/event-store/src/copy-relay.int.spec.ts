// store copy (in-memory <-> JetStream, JetStream -> JetStream) and the relay into JetStream, on the machine's nats-server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { NewEvent } from '@bulwark/contracts';
import * as path from 'node:path';
import { orderSubmitted, strategyAttached, until } from '@bulwark/testing';
import type { NatsConnection } from 'nats';
import { copyStore, CopyDestinationNotEmptyError } from './copy';
import { InMemoryEventStore } from './in-memory';
import { JetStreamEventStore } from './jetstream';
import { relayCheckpoint, SOURCE_POSITION_HEADER, startRelay } from './relay';
import { verifyChains } from './verify';
import { ChainCheckpointer } from './checkpoint';

// As in jetstream.int.spec.ts: Bulwark's NATS connect lives in @bulwark/messaging (which depends on this project), loaded at run time.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see the comment above: a static import would make the project graph circular
const { connectNats } = require(path.join(__dirname, '..', '..', 'messaging', 'src', 'nats-connect')) as {
  connectNats(o: { user: 'admin'; name?: string; timeoutMs?: number }): Promise<NatsConnection>;
};
let nc: NatsConnection;
const created = new Set<string>();

beforeAll(async () => {
  nc = await connectNats({ user: 'admin', name: 'event-store-copy-test', timeoutMs: 3_000 });
});

afterAll(async () => {
  const jsm = await nc.jetstreamManager();
  for (const name of created) await jsm.streams.delete(name).catch(() => undefined);
  await nc.close();
});

function names(): { stream: string; subjectPrefix: string; create: true } {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  created.add(`T_ES_${tag}`);
  return { stream: `T_ES_${tag}`, subjectPrefix: `tes${tag}`, create: true };
}

const attached = (account: string, n: number): NewEvent => strategyAttached(account, { n, price: '104587.70' }, { eventId: `s-${account}-${n}`, tsEvent: 1_700_000_000_000 + n });
const submitted = (id: string, n: number): NewEvent => orderSubmitted(id, { eventId: `o-${id}-${n}`, tsEvent: n });

/** A small log: two accounts' streams interleaved, a pre-hash stream that was chained later, and checkpoints. */
async function sampleLog(): Promise<InMemoryEventStore> {
  const s = new InMemoryEventStore();
  await s.append('signal-old', [attached('old', 0), attached('old', 1)], 'no_stream', { preserveChain: true }); // written before the chain
  for (let n = 0; n < 12; n++) {
    await s.append(`signal-acct${n % 2}`, [attached(`acct${n % 2}`, n)], 'any');
    if (n % 3 === 0) await s.append('order-bwq-1E', [submitted('bwq-1E', n), submitted('bwq-1E', n + 100)], 'any');
  }
  await s.append('signal-old', [attached('old', 2)], 'any');
  await new ChainCheckpointer(s, { every: 4 }).catchUp();
  return s;
}

describe('store copy', () => {
  it('copies in-memory -> JetStream -> JetStream (another stream) -> in-memory with revisions, metadata and chain heads kept', async () => {
    const src = await sampleLog();
    const a = await JetStreamEventStore.connect(nc, names());
    const b = await JetStreamEventStore.connect(nc, names());
    const back = new InMemoryEventStore();
    const r1 = await copyStore(src, a);
    expect(r1).toMatchObject({ events: await src.lastPosition(), written: await src.lastPosition(), verified: true, mismatches: [] });
    const r2 = await copyStore(a, b);
    expect(r2.verified).toBe(true);
    const r3 = await copyStore(b, back);
    expect(r3.verified).toBe(true);
    // Event for event the same, in the same global order (positions are dense in these three stores).
    const all = async (s: { readAll: InMemoryEventStore['readAll'] }) => {
      const out = [];
      for await (const e of s.readAll()) out.push(e);
      return out;
    };
    expect(JSON.parse(JSON.stringify(await all(back)))).toEqual(JSON.parse(JSON.stringify(await all(src))));
    const v = await verifyChains(b);
    expect(v).toMatchObject({ ok: true, unchained: 2 });
    expect(v.checkpointHeads).toBeGreaterThan(0);
    await Promise.all([a.close(), b.close()]);
  }, 120_000);

  it('refuses a non-empty destination unless resuming, and a resumed copy completes an interrupted one', async () => {
    const src = await sampleLog();
    const dst = await JetStreamEventStore.connect(nc, names());
    // An interrupted copy: only the first 7 events in global order got across.
    const partial = new InMemoryEventStore();
    let k = 0;
    for await (const e of src.readAll()) {
      if (k++ >= 7) break;
      await partial.append(e.streamId, [e], e.revision === 0 ? 'no_stream' : e.revision - 1, { preserveChain: true });
    }
    await copyStore(partial, dst);
    await expect(copyStore(src, dst)).rejects.toBeInstanceOf(CopyDestinationNotEmptyError);
    const r = await copyStore(src, dst, { resume: true });
    expect(r).toMatchObject({ events: await src.lastPosition(), written: (await src.lastPosition()) - 7, verified: true });
    await dst.close();
  }, 120_000);
});

describe('relay into JetStream', () => {
  it('mirrors the source log in order with the store layout, resumes after its checkpoint, and dedupes by event id', async () => {
    const src = await sampleLog();
    const where = names();
    const seen: string[] = [];
    const relay = await startRelay({ source: src, nc, ...where, onRelayed: (e) => seen.push(e.metadata.eventId) });
    expect(relay.from).toBe(1);
    const total = await src.lastPosition();
    await until(`the relay to deliver all ${total} events`, () => seen.length >= total, { detail: () => `relay delivered ${seen.length} of ${total}` });
    await relay.stop();
    expect(await relayCheckpoint(nc, where.stream)).toBe(total);
    // Consumers read the mirror with the JetStream store's own decoder: the same events, chains intact.
    const mirror = await JetStreamEventStore.connect(nc, where);
    expect((await verifyChains(mirror)).heads).toEqual((await verifyChains(src)).heads);
    expect((await mirror.readStream('order-bwq-1E')).map((e) => e.metadata)).toEqual((await src.readStream('order-bwq-1E')).map((e) => e.metadata));

    // Appended while the relay is down: a restarted relay resumes after its checkpoint (nothing twice).
    await src.append('signal-acct0', [attached('acct0', 99)], 'any');
    const again = await startRelay({ source: src, nc, ...where, onRelayed: (e) => seen.push(e.metadata.eventId) });
    expect(again.from).toBe(total + 1);
    await until('the restarted relay to deliver the one new event', () => seen.length >= total + 1, { detail: () => `relay delivered ${seen.length} of ${total + 1}` });
    await again.stop();
    const jsm = await nc.jetstreamManager();
    expect((await jsm.streams.info(where.stream)).state.messages).toBe(total + 1);
    const lastMsg = await jsm.streams.getMessage(where.stream, { seq: total + 1 });
    expect(lastMsg.header.get(SOURCE_POSITION_HEADER)).toBe(String(total + 1));
    expect(lastMsg.header.get('Nats-Msg-Id')).toBe('s-acct0-99');

    // A publish the relay repeats (its ack was lost) is dropped by JetStream's msg-id dedupe.
    const js = nc.jetstream();
    const dup = await js.publish(lastMsg.subject, lastMsg.data, { headers: lastMsg.header, msgID: 's-acct0-99' });
    expect(dup.duplicate).toBe(true);
    expect((await jsm.streams.info(where.stream)).state.messages).toBe(total + 1);
    await mirror.close();
  }, 120_000);
});
