// The EventStore contract: one suite, run against every adapter (docs/architecture.md "Streams and events").
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { event, type NewEvent, type RecordedEvent, streamCategory } from '@bulwark/contracts';
import fc from 'fast-check';
import { ChainVerifier, eventHash, GENESIS_HASH, withoutChain } from './chain';
import {
  type EventStore,
  readAllInBatches,
  type ReadAllBatchesOptions,
  InvalidCategoryError,
  InvalidEventError,
  InvalidStreamIdError,
  MAX_EVENT_BYTES,
  WrongExpectedRevisionError,
} from './port';

let counter = 0;

/** A unique-enough id for test events and streams (the suite must not rely on a fresh store). */
function uid(): string {
  counter += 1;
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}${counter}`;
}

const meta = (n: number, eventId: string) => ({
  eventId,
  tsEvent: 1_700_000_000_000 + n,
  tsInit: 1_700_000_000_500 + n,
  correlationId: `corr-${n}`,
  causationId: `cause-${n}`,
  schemaVersion: 1,
});

/**
 * A valid catalogue event (StrategyAttached, whose params are free-form); `n` ends up in its
 * params so reads can be checked (read it back with {@link num}).
 */
function ev(n: number, eventId = `evt-${uid()}`): NewEvent {
  const { type, data } = event('StrategyAttached', {
    accountId: 'contract-acct',
    venue: 'binance-usdm',
    symbol: 'BTCUSDT',
    strategy: 'donchian-atr',
    params: { n, entryPrice: '104587.7', qty: '0.001', channel: 20 },
  });
  return {
    type,
    data,
    metadata: meta(n, eventId),
  };
}

/** The `n` of an event made by {@link ev}. */
function num(e: RecordedEvent): number {
  return (e.data as { params: { n: number } }).params.n;
}

function evs(count: number, from = 0): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ev(from + i));
}

async function collect(it: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function refused(p: Promise<unknown>): Promise<InvalidEventError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InvalidEventError);
  return e as InvalidEventError;
}

async function conflict(p: Promise<unknown>): Promise<WrongExpectedRevisionError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(WrongExpectedRevisionError);
  return e as WrongExpectedRevisionError;
}

/**
 * Register the EventStore contract tests for one adapter.
 * @param name adapter name shown in the test titles
 * @param factory builds a store over an empty log (called before every test) and its cleanup
 * @param opts.densePositions the store numbers its log 1, 2, 3… (in-memory, JetStream); false for a
 *   store whose positions only increase (KurrentDB: log byte offsets)
 * @param factory's `writeUnreadable`, for a store that can hold messages it cannot read back
 *   (JetStream): writes one such message at `revision` of `streamId` past the store's checks and
 *   returns its position; absent, the cases about unreadable messages are skipped
 */
export function describeEventStoreContract(
  name: string,
  factory: () => Promise<{ store: EventStore; cleanup: () => Promise<void>; writeUnreadable?: (streamId: string, revision: number) => Promise<number> }>,
  opts: { densePositions?: boolean } = {},
): void {
  const dense = opts.densePositions ?? true;
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: (() => Promise<void>) | undefined;
    let writeUnreadable: ((streamId: string, revision: number) => Promise<number>) | undefined;
    const sid = (category = 'order') => `${category}-bw${uid()}-7E`;

    beforeEach(async () => {
      ({ store, cleanup, writeUnreadable } = await factory());
    });
    afterEach(async () => {
      // Skip when the factory failed (e.g. NATS unreachable): its error is the one to see.
      if (!cleanup) return;
      const done = cleanup;
      cleanup = undefined;
      await store.close();
      await done();
    });

    describe('append and readStream', () => {
      it('appends to a new stream with no_stream and reads the events back intact', async () => {
        const id = sid();
        const batch = evs(3);
        const r = await store.append(id, batch, 'no_stream');
        expect(r.nextExpectedRevision).toBe(2);
        const read = await store.readStream(id);
        expect(read.map((e) => e.revision)).toEqual([0, 1, 2]);
        expect(read.map((e) => e.streamId)).toEqual([id, id, id]);
        read.forEach((e, i) => {
          expect(e.type).toBe(batch[i].type);
          expect(e.data).toEqual(batch[i].data);
          expect(withoutChain(e.metadata)).toEqual(batch[i].metadata);
        });
        expect(read[0].position).toBeGreaterThanOrEqual(1);
        expect(read[1].position).toBeGreaterThan(read[0].position);
        expect(read[2].position).toBeGreaterThan(read[1].position);
        expect(r.position).toBe(read[2].position);
      });

      it('continues a stream at the expected revision', async () => {
        const id = sid();
        const r1 = await store.append(id, evs(2), 'no_stream');
        const r2 = await store.append(id, evs(2, 2), r1.nextExpectedRevision);
        expect(r2.nextExpectedRevision).toBe(3);
        expect(r2.position).toBeGreaterThan(r1.position);
        const read = await store.readStream(id);
        expect(read.map((e) => num(e))).toEqual([0, 1, 2, 3]);
        expect(read.map((e) => e.revision)).toEqual([0, 1, 2, 3]);
      });

      it('reads [] for a missing stream', async () => {
        expect(await store.readStream(sid())).toEqual([]);
      });

      it('reads a window with fromRevision and maxCount', async () => {
        const id = sid();
        await store.append(id, evs(5), 'no_stream');
        const rev = async (o: { fromRevision?: number; maxCount?: number }) => (await store.readStream(id, o)).map((e) => e.revision);
        expect(await rev({ fromRevision: 2 })).toEqual([2, 3, 4]);
        expect(await rev({ fromRevision: 4 })).toEqual([4]);
        expect(await rev({ fromRevision: 5 })).toEqual([]);
        expect(await rev({ maxCount: 2 })).toEqual([0, 1]);
        expect(await rev({ fromRevision: 1, maxCount: 3 })).toEqual([1, 2, 3]);
        expect(await rev({ fromRevision: 3, maxCount: 10 })).toEqual([3, 4]);
        expect(await rev({ maxCount: 0 })).toEqual([]);
      });

      it('keeps streams apart', async () => {
        const a = sid();
        const b = sid();
        await store.append(a, evs(2), 'no_stream');
        await store.append(b, evs(1, 10), 'no_stream');
        await store.append(a, evs(1, 2), 1);
        expect((await store.readStream(a)).map((e) => num(e))).toEqual([0, 1, 2]);
        expect((await store.readStream(b)).map((e) => num(e))).toEqual([10]);
      });

      it('reports streamRevision and lastPosition', async () => {
        expect(await store.lastPosition()).toBe(0);
        const id = sid();
        expect(await store.streamRevision(id)).toBeNull();
        await store.append(id, evs(3), 'no_stream');
        expect(await store.streamRevision(id)).toBe(2);
        const r = await store.append(sid('account'), evs(1), 'no_stream');
        expect(await store.lastPosition()).toBe(r.position);
        if (dense) expect(await store.lastPosition()).toBe(4);
      });
    });

    describe('optimistic concurrency', () => {
      it('refuses a stale numeric revision', async () => {
        const id = sid();
        await store.append(id, evs(3), 'no_stream');
        const e = await conflict(store.append(id, evs(1, 3), 1));
        expect(e.streamId).toBe(id);
        expect(e.expected).toBe(1);
        expect(e.actual).toBe(2);
        const e2 = await conflict(store.append(id, evs(1, 3), 7));
        expect(e2.actual).toBe(2);
        expect(await store.streamRevision(id)).toBe(2);
      });

      it('refuses a numeric revision on a missing stream', async () => {
        const id = sid();
        const e = await conflict(store.append(id, evs(1), 0));
        expect(e.actual).toBeNull();
        expect(await store.readStream(id)).toEqual([]);
      });

      it('refuses no_stream on an existing stream', async () => {
        const id = sid();
        await store.append(id, evs(1), 'no_stream');
        const e = await conflict(store.append(id, evs(1, 1), 'no_stream'));
        expect(e.expected).toBe('no_stream');
        expect(e.actual).toBe(0);
      });

      it('refuses stream_exists on a missing stream and accepts it on an existing one', async () => {
        const id = sid();
        const e = await conflict(store.append(id, evs(1), 'stream_exists'));
        expect(e.actual).toBeNull();
        expect(await store.lastPosition()).toBe(0);
        await store.append(id, evs(1), 'no_stream');
        const r = await store.append(id, evs(1, 1), 'stream_exists');
        expect(r.nextExpectedRevision).toBe(1);
      });

      it("'any' appends to a new or an existing stream", async () => {
        const id = sid();
        expect((await store.append(id, evs(2), 'any')).nextExpectedRevision).toBe(1);
        expect((await store.append(id, evs(1, 2), 'any')).nextExpectedRevision).toBe(2);
        expect((await store.readStream(id)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      it('lets all of 10 concurrent read-then-append writers land, without gaps or duplicates', async () => {
        const id = sid('account');
        const writer = async (w: number) => {
          const e = ev(w);
          for (let attempt = 0; attempt < 200; attempt++) {
            const rev = await store.streamRevision(id);
            try {
              return await store.append(id, [e], rev === null ? 'no_stream' : rev);
            } catch (err) {
              if (!(err instanceof WrongExpectedRevisionError)) throw err;
            }
          }
          throw new Error(`writer ${w} never landed`);
        };
        const results = await Promise.all(Array.from({ length: 10 }, (_, w) => writer(w)));
        const read = await store.readStream(id);
        expect(read.map((e) => e.revision)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(new Set(read.map((e) => e.metadata.eventId)).size).toBe(10);
        expect(read.map((e) => num(e)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(results.map((r) => r.nextExpectedRevision).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        if (dense) expect(await store.lastPosition()).toBe(10);
      });
    });

    describe('idempotent re-append by event id', () => {
      it('re-appending the same events with no_stream writes nothing and returns the original result', async () => {
        const id = sid();
        const batch = evs(3);
        const r1 = await store.append(id, batch, 'no_stream');
        const before = await store.lastPosition();
        const r2 = await store.append(id, batch, 'no_stream');
        expect(r2).toEqual(r1);
        expect(await store.lastPosition()).toBe(before);
        expect((await store.readStream(id)).map((e) => e.metadata.eventId)).toEqual(batch.map((e) => e.metadata.eventId));
      });

      it('re-appending with a numeric revision succeeds even after later appends', async () => {
        const id = sid();
        await store.append(id, evs(2), 'no_stream');
        const batch = evs(2, 2);
        const r1 = await store.append(id, batch, 1);
        await store.append(id, evs(1, 4), 3);
        const r2 = await store.append(id, batch, 1);
        expect(r2).toEqual(r1);
        expect((await store.readStream(id)).length).toBe(5);
      });

      it("re-appending the stream's tail with 'any' writes nothing", async () => {
        const id = sid();
        await store.append(id, evs(1), 'no_stream');
        const batch = evs(2, 1);
        const r1 = await store.append(id, batch, 'any');
        const r2 = await store.append(id, batch, 'any');
        expect(r2).toEqual(r1);
        expect((await store.readStream(id)).length).toBe(3);
      });

      it('completes a batch whose prefix is already stored', async () => {
        const id = sid();
        const batch = evs(3);
        await store.append(id, batch.slice(0, 1), 'no_stream');
        const r = await store.append(id, batch, 'no_stream');
        expect(r.nextExpectedRevision).toBe(2);
        expect((await store.readStream(id)).map((e) => e.metadata.eventId)).toEqual(batch.map((e) => e.metadata.eventId));
      });

      it('treats a different event at an already used revision as a conflict', async () => {
        const id = sid();
        const first = evs(2);
        await store.append(id, first, 'no_stream');
        const e = await conflict(store.append(id, [ev(9)], 0));
        expect(e.actual).toBe(1);
        // a batch that matches only partly is a conflict
        await conflict(store.append(id, [first[0], ev(8)], 'no_stream'));
        expect((await store.readStream(id)).map((x) => x.metadata.eventId)).toEqual(first.map((x) => x.metadata.eventId));
      });
    });

    describe('readAll', () => {
      it('reads all streams in global order', async () => {
        const a = sid('order');
        const b = sid('position');
        const c = sid('account');
        await store.append(a, [ev(1)], 'no_stream');
        await store.append(b, [ev(2)], 'no_stream');
        await store.append(a, [ev(3)], 0);
        await store.append(c, [ev(4), ev(5)], 'no_stream');
        await store.append(b, [ev(6)], 0);
        const all = await collect(store.readAll());
        expect(all.map((e) => num(e))).toEqual([1, 2, 3, 4, 5, 6]);
        expect(all.map((e) => e.streamId)).toEqual([a, b, a, c, c, b]);
        if (dense) expect(all.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6]);
        for (let k = 1; k < all.length; k++) expect(all[k].position).toBeGreaterThan(all[k - 1].position);
        expect(all[2].revision).toBe(1);
      });

      it('reads from a checkpoint, with maxCount and with category filters', async () => {
        const o = sid('order');
        const p = sid('position');
        const s = sid('stop');
        const at = [0]; // at[n] = position of ev(n)
        at.push((await store.append(o, [ev(1)], 'no_stream')).position);
        at.push((await store.append(p, [ev(2)], 'no_stream')).position);
        at.push((await store.append(s, [ev(3)], 'no_stream')).position);
        at.push((await store.append(o, [ev(4)], 0)).position);
        at.push((await store.append(p, [ev(5)], 0)).position);
        const ns = async (opts: Parameters<EventStore['readAll']>[0]) => (await collect(store.readAll(opts))).map((e) => num(e));
        expect(await ns({ fromPosition: at[3] })).toEqual([3, 4, 5]);
        expect(await ns({ fromPosition: at[5] })).toEqual([5]);
        expect(await ns({ fromPosition: at[5] + 1 })).toEqual([]);
        expect(await ns({ fromPosition: at[2], maxCount: 2 })).toEqual([2, 3]);
        expect(await ns({ categories: ['order'] })).toEqual([1, 4]);
        expect(await ns({ categories: ['order', 'stop'] })).toEqual([1, 3, 4]);
        expect(await ns({ categories: ['position'], fromPosition: at[3] })).toEqual([5]);
        expect(await ns({ categories: ['order', 'position'], maxCount: 3 })).toEqual([1, 2, 4]);
        expect(await ns({ categories: ['account'] })).toEqual([]);
        expect(await ns({ maxCount: 0 })).toEqual([]);
        expect(await ns({ categories: [] })).toEqual([1, 2, 3, 4, 5]);
      });

      it('reads [] from an empty store', async () => {
        expect(await collect(store.readAll())).toEqual([]);
      });

      it('ends at the end known when the read starts', async () => {
        const id = sid();
        await store.append(id, evs(3), 'no_stream');
        const before = (await store.readStream(id)).map((e) => e.position);
        const seen: number[] = [];
        let rev = 2;
        let last = 0;
        for await (const e of store.readAll()) {
          seen.push(e.position);
          const r = await store.append(id, [ev(100 + seen.length)], rev);
          rev = r.nextExpectedRevision;
          last = r.position;
        }
        expect(seen).toEqual(before);
        expect(await store.lastPosition()).toBe(last);
        if (dense) expect(last).toBe(6);
      });

      (dense ? it : it.skip)(
        'returns every event of a random range that existed when the read started, once and in order, while a writer appends (property)',
        async () => {
          const cats = ['order', 'position', 'account'];
          const streams = cats.flatMap((c) => [sid(c), sid(c), sid(c)]);
          const ref = new Map<number, { streamId: string; eventId: string }>(); // position -> what was appended there
          const put = async (i: number) => {
            const streamId = streams[i % streams.length];
            const e = ev(i);
            const r = await store.append(streamId, [e], 'any');
            ref.set(r.position, { streamId, eventId: e.metadata.eventId });
          };
          for (let i = 0; i < 60; i++) await put(i);
          let stop = false;
          let appended = 0;
          const writer = (async () => {
            for (let i = 1_000; !stop; i++) {
              await put(i);
              appended++;
              await new Promise((r) => setImmediate(r)); // let reads interleave with an adapter that appends synchronously
            }
          })();
          try {
            await fc.assert(
              fc.asyncProperty(
                fc.integer({ min: 0, max: 90 }),
                fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
                fc.subarray(cats),
                async (fromPosition, maxCount, categories) => {
                  const endAtStart = await store.lastPosition();
                  const got = await collect(store.readAll({ fromPosition, maxCount, categories }));
                  const last = Math.max(endAtStart, ...got.map((e) => e.position));
                  await waitFor(() => Array.from({ length: last }, (_, k) => k + 1).every((p) => ref.has(p)), 'the writer to record its appends', 30_000);
                  const inRange = (p: number) => categories.length === 0 || categories.includes(streamCategory(ref.get(p)!.streamId));
                  const want: number[] = [];
                  for (let p = Math.max(1, fromPosition); p <= endAtStart; p++) if (inRange(p)) want.push(p);
                  const limit = maxCount ?? Number.MAX_SAFE_INTEGER;
                  const positions = got.map((e) => e.position);
                  // Everything of the range that existed at the start, in order, then maxCount cuts it.
                  expect(positions.slice(0, Math.min(want.length, limit))).toEqual(want.slice(0, limit));
                  expect(got.length).toBeLessThanOrEqual(limit);
                  // Anything after it was appended during the read: still in order, once, in the filter.
                  for (let k = 1; k < positions.length; k++) expect(positions[k]).toBeGreaterThan(positions[k - 1]);
                  for (const e of got) {
                    expect(e.position).toBeGreaterThanOrEqual(fromPosition);
                    expect(inRange(e.position)).toBe(true);
                    expect({ streamId: e.streamId, eventId: e.metadata.eventId }).toEqual(ref.get(e.position));
                  }
                },
              ),
              { numRuns: 40 },
            );
          } finally {
            stop = true;
            await writer;
          }
          expect(appended).toBeGreaterThan(0);
        },
        180_000,
      );
    });

    describe('readAllBatches', () => {
      const batchesOf = async (opts: ReadAllBatchesOptions = {}): Promise<RecordedEvent[][]> => {
        const out: RecordedEvent[][] = [];
        for await (const b of store.readAllBatches!(opts)) out.push(b);
        return out;
      };
      /** Five streams of three categories, 23 events, some appended in batches. */
      async function fill(): Promise<void> {
        const o = sid('order');
        const p = sid('position');
        const a = sid('account');
        await store.append(o, evs(4, 0), 'no_stream');
        await store.append(p, [ev(4)], 'no_stream');
        await store.append(a, evs(6, 5), 'no_stream');
        await store.append(o, evs(3, 11), 3);
        await store.append(p, evs(5, 14), 0);
        await store.append(sid('stop'), evs(2, 19), 'no_stream');
        await store.append(a, evs(2, 21), 5);
      }

      it('is implemented, and its batches concatenate to exactly what readAll returns, in order, each batch non-empty and at most batchSize', async () => {
        expect(typeof store.readAllBatches).toBe('function');
        await fill();
        const all = await collect(store.readAll());
        expect(all.map(num)).toEqual(Array.from({ length: 23 }, (_, i) => i));
        for (const batchSize of [1, 2, 5, 23, 100, undefined]) {
          const batches = await batchesOf(batchSize === undefined ? {} : { batchSize });
          expect(batches.flat()).toEqual(all);
          for (const b of batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(batchSize ?? Number.MAX_SAFE_INTEGER);
          }
          if (batchSize === 1) expect(batches).toHaveLength(23);
        }
      });

      it('honours fromPosition, maxCount and categories as readAll does', async () => {
        await fill();
        const positions = (await collect(store.readAll())).map((e) => e.position);
        const windows: ReadAllBatchesOptions[] = [
          { fromPosition: positions[7] },
          { fromPosition: positions[22] + 1 },
          { maxCount: 0 },
          { maxCount: 9, batchSize: 4 },
          { fromPosition: positions[3], maxCount: 10, batchSize: 3 },
          { categories: ['position'] },
          { categories: ['order', 'stop'], batchSize: 2 },
          { categories: ['account'], fromPosition: positions[8], maxCount: 4, batchSize: 3 },
          { categories: ['margin'] },
        ];
        for (const w of windows) {
          const { batchSize: _b, ...readOpts } = w;
          expect({ w, got: (await batchesOf(w)).flat().map(num) }).toEqual({ w, got: (await collect(store.readAll(readOpts))).map(num) });
        }
      });

      it('reads no batch from an empty store, and refuses a batchSize that is not an integer >= 1', async () => {
        expect(await batchesOf()).toEqual([]);
        for (const batchSize of [0, -1, 1.5, Number.NaN]) expect(() => store.readAllBatches!({ batchSize })).toThrow(RangeError);
      });

      it('readAllInBatches gives the same batches through a store without readAllBatches (readAll grouped)', async () => {
        await fill();
        const bare = { readAll: (o?: ReadAllBatchesOptions) => store.readAll(o) } as unknown as EventStore; // a wrapper that only reads
        const grouped: RecordedEvent[][] = [];
        for await (const b of readAllInBatches(bare, { batchSize: 4, fromPosition: 2 })) grouped.push(b);
        expect(grouped.map((b) => b.length)).toEqual([4, 4, 4, 4, 4, 2]);
        expect(grouped.flat()).toEqual(await collect(store.readAll({ fromPosition: 2 })));
      });

      it('reports unreadable messages as readAll does, and leaves them out of the batches', async () => {
        if (!writeUnreadable) return; // this store cannot hold a message it cannot read (it checks every append)
        const o = sid('order');
        await store.append(o, evs(2, 0), 'no_stream');
        const bad = await writeUnreadable(o, 2);
        await store.append(sid('position'), evs(3, 2), 'no_stream');
        const fromAll: number[] = [];
        const fromBatches: number[] = [];
        const all = await collect(store.readAll({ onUnreadable: (u) => fromAll.push(u.position) }));
        const batches: RecordedEvent[][] = [];
        for await (const b of store.readAllBatches!({ batchSize: 2, onUnreadable: (u) => fromBatches.push(u.position) })) batches.push(b);
        expect(fromAll).toEqual([bad]);
        expect(fromBatches).toEqual([bad]);
        expect(batches.flat()).toEqual(all);
        expect(all.map(num)).toEqual([0, 1, 2, 3, 4]);
      });
    });

    describe('streamMessageCounts', () => {
      it('counts every stored message of each stream (unreadable ones too, where the store can hold them), when the store has it', async () => {
        if (!store.streamMessageCounts) return; // optional: callers fall back to streamRevision per stream
        expect(await store.streamMessageCounts()).toEqual(new Map());
        const a = sid('order');
        const b = sid('position');
        await store.append(a, evs(3), 'no_stream');
        await store.append(b, [ev(3)], 'no_stream');
        await store.append(a, evs(2, 4), 2);
        const want = new Map([[a, 5], [b, 1]]);
        if (writeUnreadable) {
          await writeUnreadable(b, 1);
          want.set(b, 2);
        }
        expect(await store.streamMessageCounts()).toEqual(want);
      });
    });

    describe('subscribeToAll', () => {
      it('catches up, then delivers live events in order, one at a time, until stopped', async () => {
        const a = sid('order');
        const b = sid('account');
        await store.append(a, evs(2), 'no_stream');
        await store.append(b, evs(1, 2), 'no_stream');
        const got: RecordedEvent[] = [];
        let inFlight = 0;
        let maxInFlight = 0;
        const sub = store.subscribeToAll({}, async (e) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, 1));
          got.push(e);
          inFlight--;
        });
        await waitFor(() => got.length === 3, 'catch-up');
        await store.append(a, evs(2, 3), 1);
        await store.append(b, evs(1, 5), 0);
        await waitFor(() => got.length === 6, 'live events');
        expect(got.map((e) => num(e))).toEqual([0, 1, 2, 3, 4, 5]);
        if (dense) expect(got.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6]);
        for (let k = 1; k < got.length; k++) expect(got[k].position).toBeGreaterThan(got[k - 1].position);
        expect(maxInFlight).toBe(1);
        await sub.stop();
        await expect(sub.done).resolves.toBeUndefined();
        await store.append(a, evs(1, 6), 3);
        await new Promise((r) => setTimeout(r, 50));
        expect(got.length).toBe(6);
      });

      it('starts at a checkpoint and filters by category', async () => {
        const o = sid('order');
        const p = sid('position');
        await store.append(o, [ev(1)], 'no_stream');
        const second = (await store.append(p, [ev(2)], 'no_stream')).position;
        await store.append(o, [ev(3)], 0);
        const got: number[] = [];
        const sub = store.subscribeToAll({ fromPosition: second, categories: ['order'] }, async (e) => {
          got.push(num(e));
        });
        await waitFor(() => got.length === 1, 'catch-up');
        await store.append(p, [ev(4)], 0);
        await store.append(o, [ev(5)], 1);
        await waitFor(() => got.length === 2, 'live event');
        await sub.stop();
        expect(got).toEqual([3, 5]);
      });

      it('never calls the handler inside subscribeToAll or append', async () => {
        const id = sid();
        await store.append(id, evs(1), 'no_stream');
        let calls = 0;
        const sub = store.subscribeToAll({}, async () => {
          calls++;
        });
        expect(calls).toBe(0);
        await waitFor(() => calls === 1, 'catch-up');
        await sub.stop();
      });

      it('ends done with the error when the handler throws', async () => {
        await store.append(sid(), evs(2), 'no_stream');
        let calls = 0;
        const sub = store.subscribeToAll({}, async () => {
          calls++;
          throw new Error('projection broke');
        });
        await expect(sub.done).rejects.toThrow('projection broke');
        expect(calls).toBe(1);
        await sub.stop();
      });

      it('close() stops running subscriptions', async () => {
        const sub = store.subscribeToAll({}, async () => undefined);
        await store.close();
        await expect(sub.done).resolves.toBeUndefined();
      });
    });

    describe('hash chain', () => {
      /** Recompute a stream's chain from its events: genesis, then each hash from its content and the previous hash. */
      const expectChained = (events: RecordedEvent[]) => {
        let prev = GENESIS_HASH;
        for (const e of events) {
          expect(e.metadata.prevHash).toBe(prev);
          expect(e.metadata.hash).toBe(eventHash(prev, e));
          prev = e.metadata.hash as string;
        }
      };

      it('chains every stream from genesis: prevHash = previous hash, hash = SHA-256 of the canonical content', async () => {
        const a = sid();
        const b = sid('account');
        await store.append(a, evs(2), 'no_stream');
        await store.append(b, evs(1, 5), 'no_stream');
        await store.append(a, evs(2, 2), 1);
        const ra = await store.readStream(a);
        expectChained(ra);
        expectChained(await store.readStream(b));
        expect(ra[0].metadata.prevHash).toBe(GENESIS_HASH);
        // The hash covers the stream id and revision too: the same content elsewhere hashes differently.
        expect(eventHash(GENESIS_HASH, { ...ra[0], streamId: b })).not.toBe(ra[0].metadata.hash);
        expect(eventHash(GENESIS_HASH, { ...ra[0], revision: 1 })).not.toBe(ra[0].metadata.hash);
        const v = new ChainVerifier();
        for await (const e of store.readAll()) expect(v.add(e)).toBeNull();
        expect(v.checked).toBe(5);
        expect(v.heads.get(a)).toMatchObject({ revision: 3, hash: ra[3].metadata.hash, chained: 4, unchained: 0 });
      });

      it("chains 'any' and 'stream_exists' appends on the stream's real tail, also with 10 concurrent 'any' writers", async () => {
        const id = sid('account');
        await store.append(id, evs(1), 'any');
        await store.append(id, evs(1, 1), 'stream_exists');
        await Promise.all(Array.from({ length: 10 }, (_, w) => store.append(id, [ev(10 + w)], 'any')));
        const read = await store.readStream(id);
        expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 12 }, (_, i) => i));
        expectChained(read);
      });

      it('ignores chain fields a writer passes (e.g. metadata copied from a read event) and computes its own', async () => {
        const a = sid();
        await store.append(a, evs(1), 'no_stream');
        const [first] = await store.readStream(a);
        const b = sid();
        const copied: NewEvent = { type: first.type, data: first.data, metadata: { ...first.metadata, eventId: `evt-${uid()}` } };
        await store.append(b, [copied], 'no_stream');
        const [stored] = await store.readStream(b);
        expectChained([stored]);
        expect(stored.metadata.hash).not.toBe(first.metadata.hash);
        // A re-append of the same event ids is still recognised (the chain fields are not part of identity).
        expect((await store.append(b, [copied], 'no_stream')).nextExpectedRevision).toBe(0);
      });

      it('with preserveChain stores given chain fields that match, and refuses ones that do not (nothing written)', async () => {
        const id = sid();
        const batch = evs(2);
        // The chain this stream will have, computed independently.
        let prev = GENESIS_HASH;
        const chained = batch.map((e, revision) => {
          const hash = eventHash(prev, { streamId: id, revision, type: e.type, data: JSON.parse(JSON.stringify(e.data)), metadata: e.metadata });
          const out = { ...e, metadata: { ...e.metadata, prevHash: prev, hash } };
          prev = hash;
          return out;
        });
        const forged = { ...chained[1], metadata: { ...chained[1].metadata, hash: 'f'.repeat(64) } };
        const err = await refused(store.append(id, [chained[0], forged], 'no_stream', { preserveChain: true }));
        expect(err.index).toBe(1);
        expect(err.reason).toContain('chain fields do not match revision 1');
        expect(await store.streamRevision(id)).toBeNull();
        await store.append(id, chained, 'no_stream', { preserveChain: true });
        expect((await store.readStream(id)).map((e) => e.metadata.hash)).toEqual(chained.map((e) => e.metadata.hash));
        // An event without chain fields may not follow a chained one.
        const bare = await refused(store.append(id, evs(1, 2), 1, { preserveChain: true }));
        expect(bare.reason).toContain('follows a chained event');
      });

      it('keeps pre-hash events (no chain fields, as written before the chain existed) and chains the next event over them', async () => {
        const id = sid();
        await store.append(id, evs(2), 'no_stream', { preserveChain: true });
        const old = await store.readStream(id);
        expect(old.map((e) => e.metadata.hash)).toEqual([undefined, undefined]);
        await store.append(id, evs(1, 2), 'any');
        const read = await store.readStream(id);
        // The first chained event links to the hash the pre-hash events would have had.
        const implicit = eventHash(eventHash(GENESIS_HASH, read[0]), read[1]);
        expect(read[2].metadata.prevHash).toBe(implicit);
        expect(read[2].metadata.hash).toBe(eventHash(implicit, read[2]));
        const v = new ChainVerifier();
        for (const e of read) expect(v.add(e)).toBeNull();
        expect(v.heads.get(id)).toMatchObject({ revision: 2, chained: 1, unchained: 2 });
      });
    });

    describe('validation', () => {
      it('refuses invalid stream ids', async () => {
        for (const bad of ['', 'order', 'Order-1', 'order-', '-1', 'order-a.b', 'order-a b', 'order-a*', 'order->', '1abc-x']) {
          await expect(store.append(bad, evs(1), 'any')).rejects.toBeInstanceOf(InvalidStreamIdError);
          await expect(store.readStream(bad)).rejects.toBeInstanceOf(InvalidStreamIdError);
          await expect(store.streamRevision(bad)).rejects.toBeInstanceOf(InvalidStreamIdError);
        }
        expect(await store.lastPosition()).toBe(0);
      });

      it('refuses an event type the catalogue does not know, and writes nothing of its batch', async () => {
        const id = sid();
        await store.append(id, evs(2), 'no_stream');
        const unknown: NewEvent = { type: 'TestHappened', data: { n: 1 }, metadata: meta(1, `evt-${uid()}`) };
        const e = await refused(store.append(id, [ev(2), unknown, ev(3)], 1));
        expect([e.streamId, e.eventType, e.index]).toEqual([id, 'TestHappened', 1]);
        expect(e.reason).toContain('unknown event type');
        expect((await store.readStream(id)).map(num)).toEqual([0, 1]);
        if (dense) expect(await store.lastPosition()).toBe(2);
      });

      it('refuses data that fails its schema, and metadata that fails EventMetadata', async () => {
        const id = sid();
        const bad = ev(1);
        const badData = { ...bad, data: { ...(bad.data as object), accountId: 'no spaces allowed' } };
        const e = await refused(store.append(id, [badData], 'no_stream'));
        expect([e.streamId, e.eventType]).toEqual([id, 'StrategyAttached']);
        expect(e.reason).toContain('accountId');
        const m = await refused(store.append(id, [{ ...ev(2), metadata: { ...meta(2, 'evt-m'), correlationId: '' } }], 'no_stream'));
        expect(m.reason).toContain('correlationId');
        const newer = await refused(store.append(id, [{ ...ev(3), metadata: { ...meta(3, 'evt-v'), schemaVersion: 99 } }], 'no_stream'));
        expect(newer.reason).toContain('newer than this code');
        expect(await store.streamRevision(id)).toBeNull();
        expect(await store.lastPosition()).toBe(0);
      });

      it(`refuses an event whose body (type, data, metadata as JSON) is over MAX_EVENT_BYTES (${MAX_EVENT_BYTES}), counted in UTF-8 bytes`, async () => {
        // Pad the event's free-form params until its body is exactly `bytes` long.
        const sized = (bytes: number, char: string): NewEvent => {
          const e = ev(7);
          const body = (pad: string) => JSON.stringify({ type: e.type, data: { ...(e.data as object), params: { ...(e.data as { params: object }).params, pad } }, metadata: e.metadata });
          const base = new TextEncoder().encode(body('')).length;
          const width = new TextEncoder().encode(char).length;
          const pad = char.repeat(Math.floor((bytes - base) / width)) + 'x'.repeat((bytes - base) % width);
          expect(new TextEncoder().encode(body(pad)).length).toBe(bytes);
          return { ...e, data: { ...(e.data as object), params: { ...(e.data as { params: object }).params, pad } } };
        };
        const id = sid();
        const r = await store.append(id, [sized(MAX_EVENT_BYTES, 'x')], 'no_stream');
        expect(r.nextExpectedRevision).toBe(0);
        const e = await refused(store.append(id, [ev(8), sized(MAX_EVENT_BYTES + 1, 'x')], 0));
        expect([e.eventType, e.index]).toEqual(['StrategyAttached', 1]);
        expect(e.reason).toContain(`more than MAX_EVENT_BYTES (${MAX_EVENT_BYTES})`);
        // 'é' is 2 bytes: fewer characters than the limit, more bytes.
        const wide = sized(MAX_EVENT_BYTES + 2, 'é');
        expect(JSON.stringify(wide).length).toBeLessThan(MAX_EVENT_BYTES);
        await refused(store.append(id, [wide], 0));
        expect(await store.streamRevision(id)).toBe(0);
        expect(await store.lastPosition()).toBe(r.position);
      });

      it('refuses data that cannot be serialised', async () => {
        const e = ev(1);
        const cyclic: Record<string, unknown> = { ...(e.data as object) };
        cyclic.self = cyclic;
        const err = await refused(store.append(sid(), [{ ...e, data: cyclic }], 'no_stream'));
        expect(err.reason).toContain('not JSON-serialisable');
        expect(await store.lastPosition()).toBe(0);
      });

      it('refuses invalid categories, empty batches and bad expected revisions', async () => {
        expect(() => store.readAll({ categories: ['Order'] })).toThrow(InvalidCategoryError);
        expect(() => store.subscribeToAll({ categories: ['es.>'] }, async () => undefined)).toThrow(InvalidCategoryError);
        await expect(store.append(sid(), [], 'any')).rejects.toBeInstanceOf(RangeError);
        const e = ev(1);
        await expect(store.append(sid(), [e, e], 'any')).rejects.toBeInstanceOf(RangeError);
        await expect(store.append(sid(), evs(1), -1)).rejects.toBeInstanceOf(RangeError);
        await expect(store.append(sid(), evs(1), 1.5)).rejects.toBeInstanceOf(RangeError);
        expect(await store.lastPosition()).toBe(0);
      });
    });
  });
}
