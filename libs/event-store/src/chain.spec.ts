import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { NewEvent, RecordedEvent } from '@bulwark/contracts';
import { eventMetadata, orderSubmitted, strategyAttached } from '@bulwark/testing';
import fc from 'fast-check';
import { canonicalJson, eventHash, GENESIS_HASH } from './chain';
import { prepareBatch, sealBatch } from './internal';
import { ChainCheckpointer } from './checkpoint';
import { InMemoryEventStore } from './in-memory';
import type { EventStore, ReadAllOptions } from './port';
import { accountOfStreamId, verifyChains } from './verify';

const meta = (eventId: string) => eventMetadata({ eventId });
const submitted = (clientOrderId: string, eventId: string): NewEvent => orderSubmitted(clientOrderId, { eventId });
const opened = (accountId: string, n: number): NewEvent => strategyAttached(accountId, { n }, { eventId: `s-${accountId}-${n}` });

/** The store's log with `edit` applied to what reads return: a log altered behind the adapter's back. */
function altered(store: EventStore, edit: (e: RecordedEvent) => RecordedEvent): EventStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'readAll') {
        return (opts?: ReadAllOptions) => ({
          async *[Symbol.asyncIterator]() {
            for await (const e of target.readAll(opts)) yield edit(e);
          },
        });
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined members, keeps array order and JSON number/string forms (RFC 8785 for these values)', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'é\n' }], c: undefined }, A: 1.5e-7 })).toBe('{"A":1.5e-7,"a":{"d":[3,{"y":"é\\n","z":null}]},"b":1}');
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ x: 1n })).toThrow(TypeError);
  });

  it('gives a hash independent of key order and sensitive to every field', () => {
    const base = { streamId: 'order-a1', revision: 0, type: 'OrderSubmitted', data: { clientOrderId: 'a1', x: '1.10' }, metadata: meta('e1') };
    const h = eventHash(GENESIS_HASH, base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(eventHash(GENESIS_HASH, { ...base, data: { x: '1.10', clientOrderId: 'a1' } })).toBe(h);
    expect(eventHash(GENESIS_HASH, { ...base, data: { clientOrderId: 'a1', x: '1.1' } })).not.toBe(h);
    expect(eventHash(GENESIS_HASH, { ...base, metadata: { ...meta('e1'), tsInit: 2 } })).not.toBe(h);
    expect(eventHash('1'.repeat(64), base)).not.toBe(h);
    // The chain fields themselves are not hashed.
    expect(eventHash(GENESIS_HASH, { ...base, metadata: { ...meta('e1'), hash: 'f'.repeat(64), prevHash: 'e'.repeat(64) } })).toBe(h);
  });
});

/** The definitions as first written (sort, filter, map, join; a hash object): the faster code must agree with them. */
function referenceCanonical(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'number') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(referenceCanonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonical(o[k])}`).join(',')}}`;
}
function referenceHash(prevHash: string, e: { streamId: string; revision: number; type: string; data: unknown; metadata: Record<string, unknown> }): string {
  const { hash: _h, prevHash: _p, ...metadata } = e.metadata;
  const content = referenceCanonical({ data: e.data ?? null, metadata, prevHash, revision: e.revision, streamId: e.streamId, type: e.type });
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

describe('canonical JSON and the hash agree with their reference definitions', () => {
  // JSON values as events hold them (parsed JSON: no undefined, no -0, finite numbers), keys of any kind.
  const json = fc.jsonValue({ maxDepth: 4, noUnicodeString: false }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  const key = fc.oneof(fc.string(), fc.constantFrom('hash', 'prevHash', '__proto__', '10', '2', 'a', 'B', 'é', '\u{1F600}', ''));

  it('canonicalJson, for any JSON value (many keys, integer-like and non-ASCII keys too)', () => {
    fc.assert(
      fc.property(json, fc.dictionary(key, json, { maxKeys: 30 }), (v, wide) => {
        expect(canonicalJson(v)).toBe(referenceCanonical(v));
        const parsedWide = JSON.parse(JSON.stringify(wide)) as unknown;
        expect(canonicalJson(parsedWide)).toBe(referenceCanonical(parsedWide));
      }),
      { numRuns: 300 },
    );
  });

  it('eventHash, chain fields in metadata or not', () => {
    fc.assert(
      fc.property(json, fc.dictionary(key, json, { maxKeys: 10 }), fc.nat(), fc.boolean(), (data, extra, revision, withChain) => {
        const metadata = JSON.parse(JSON.stringify({ ...extra, ...meta('e1'), ...(withChain ? { hash: 'f'.repeat(64), prevHash: 'e'.repeat(64) } : {}) })) as Record<string, unknown>;
        const e = { streamId: 'order-a1', revision, type: 'OrderSubmitted', data, metadata };
        expect(eventHash(GENESIS_HASH, e as Parameters<typeof eventHash>[1])).toBe(referenceHash(GENESIS_HASH, e));
      }),
      { numRuns: 300 },
    );
  });

  it('sealBatch stores exactly JSON.stringify of the event with its chain fields (appended to the prepared text)', () => {
    fc.assert(
      fc.property(json, fc.dictionary(key, json, { maxKeys: 5 }), (data, extra) => {
        const metadata = { ...extra, ...meta('e1'), hash: 'a'.repeat(64) };
        const [p] = prepareBatch('order-a1', [{ type: 'Anything', data, metadata } as NewEvent], false);
        const { bodies, events, head } = sealBatch('order-a1', [p], 0, 3, GENESIS_HASH, false);
        const hash = referenceHash(GENESIS_HASH, { streamId: 'order-a1', revision: 3, type: 'Anything', data: p.data, metadata: p.metadata as Record<string, unknown> });
        const stored = { type: 'Anything', data: p.data, metadata: { ...p.metadata, prevHash: GENESIS_HASH, hash } };
        expect(head).toBe(hash);
        expect(bodies).toEqual([JSON.stringify(stored)]);
        expect(events).toEqual([stored]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('verifyChains', () => {
  async function log(): Promise<InMemoryEventStore> {
    const store = new InMemoryEventStore();
    await store.append('order-bwx-1E', [submitted('bwx-1E', 'o1'), submitted('bwx-1E', 'o2')], 'no_stream');
    await store.append('signal-acct1', [opened('acct1', 1)], 'no_stream');
    await store.append('order-bwx-1E', [submitted('bwx-1E', 'o3')], 'any');
    await store.append('signal-acct2', [opened('acct2', 1), opened('acct2', 2)], 'no_stream');
    return store;
  }

  it('is ok on an untouched log and counts every event', async () => {
    const r = await verifyChains(await log());
    expect(r).toMatchObject({ ok: true, eventsChecked: 6, chained: 6, unchained: 0, streams: 3, firstBreak: null });
    expect(r.heads.get('order-bwx-1E')?.revision).toBe(2);
  });

  it('names the one altered event: its stream, revision, expected and found hash', async () => {
    const store = await log();
    const bad = altered(store, (e) => (e.streamId === 'order-bwx-1E' && e.revision === 1 ? { ...e, data: { clientOrderId: 'bwx-2E' } } : e));
    const r = await verifyChains(bad);
    expect(r.ok).toBe(false);
    expect(r.breaks).toHaveLength(1);
    const [good] = await store.readStream('order-bwx-1E', { fromRevision: 1, maxCount: 1 });
    expect(r.firstBreak).toMatchObject({ streamId: 'order-bwx-1E', revision: 1, kind: 'hash-mismatch', found: `hash ${good.metadata.hash} (recorded at append)` });
    expect(r.firstBreak?.expected).not.toBe(r.firstBreak?.found);
  });

  it('finds a removed event (revision gap), a stripped hash and a re-linked event', async () => {
    const store = await log();
    const gap = await verifyChains(altered(store, (e) => (e.streamId === 'signal-acct2' && e.revision === 0 ? { ...e, streamId: 'signal-elsewhere' } : e)));
    expect(gap.breaks.find((b) => b.streamId === 'signal-acct2')).toMatchObject({ revision: 1, kind: 'revision-gap' });
    const stripped = await verifyChains(altered(store, (e) => (e.revision === 2 ? { ...e, metadata: { ...e.metadata, hash: undefined, prevHash: undefined } } : e)));
    expect(stripped.firstBreak).toMatchObject({ streamId: 'order-bwx-1E', revision: 2, kind: 'missing-hash' });
    const relinked = await verifyChains(altered(store, (e) => (e.revision === 1 && e.streamId === 'order-bwx-1E' ? { ...e, metadata: { ...e.metadata, prevHash: '1'.repeat(64) } } : e)));
    expect(relinked.firstBreak).toMatchObject({ revision: 1, kind: 'prev-mismatch' });
  });

  it('reports pre-hash events as unchained, not broken', async () => {
    const store = new InMemoryEventStore();
    await store.append('signal-acct1', [opened('acct1', 1), opened('acct1', 2)], 'no_stream', { preserveChain: true });
    await store.append('signal-acct1', [opened('acct1', 3)], 'any');
    expect(await verifyChains(store)).toMatchObject({ ok: true, eventsChecked: 3, chained: 1, unchained: 2 });
    // Altering a pre-hash event is still found: the first chained event links to the hash it had.
    const r = await verifyChains(altered(store, (e) => (e.revision === 0 ? { ...e, metadata: { ...e.metadata, tsInit: 99 } } : e)));
    expect(r.firstBreak).toMatchObject({ streamId: 'signal-acct1', revision: 2, kind: 'prev-mismatch' });
  });

  it('verifies one account: its streams (order streams by their OrderInitialized) and nothing else', async () => {
    const store = await log();
    const a1 = await verifyChains(store, { accountId: 'acct1' });
    expect(a1).toMatchObject({ ok: true, eventsChecked: 1, streams: 1 });
    expect(accountOfStreamId('position-acct-1-binance-usdm-BTCUSDT-3')).toBe('acct-1');
    expect(accountOfStreamId('stop-position-acct-1-binance-usdm-BTCUSDT-3')).toBe('acct-1');
    expect(accountOfStreamId('venue-acct-1-binance-usdm')).toBe('acct-1');
    expect(accountOfStreamId('rules-binance-usdm-BTCUSDT')).toBeNull();
    expect(accountOfStreamId('order-bwx-1E', new Map([['order-bwx-1E', 'acct9']]))).toBe('acct9');
  });
});

describe('ChainCheckpointer', () => {
  it('records the moved heads of each account every N events, and verify catches a rewrite that recomputed every hash', async () => {
    const store = new InMemoryEventStore();
    for (let n = 0; n < 5; n++) await store.append('signal-acct1', [opened('acct1', n)], 'any');
    await store.append('signal-acct2', [opened('acct2', 0)], 'any');
    const cp = new ChainCheckpointer(store, { every: 2 });
    await cp.catchUp();
    const cps = await store.readStream('chain-acct1');
    // 5 events, every 2: after revisions 1 and 3, then the flush at the end (revision 4).
    expect(cps.map((e) => (e.data as { heads: { revision: number }[] }).heads.map((h) => h.revision))).toEqual([[1], [3], [4]]);
    expect((await store.readStream('chain-acct2')).length).toBe(1);
    expect(await ChainCheckpointer.resumePosition(store)).toBe(7);
    expect(await verifyChains(store)).toMatchObject({ ok: true, checkpointHeads: 4 });

    // A consistent rewrite of signal-acct1 from revision 2 on: every hash recomputed, so the chain itself holds.
    const original = await store.readStream('signal-acct1');
    const rewritten = new Map<number, RecordedEvent>();
    let prev = original[1].metadata.hash as string;
    for (const e of original.slice(2)) {
      const changed = { ...e, metadata: { ...e.metadata, tsInit: 12345 } };
      const hash = eventHash(prev, changed);
      rewritten.set(e.revision, { ...changed, metadata: { ...changed.metadata, prevHash: prev, hash } });
      prev = hash;
    }
    const r = await verifyChains(altered(store, (e) => (e.streamId === 'signal-acct1' ? (rewritten.get(e.revision) ?? e) : e)));
    expect(r.ok).toBe(false);
    expect(r.breaks.every((b) => b.kind === 'checkpoint-mismatch')).toBe(true);
    expect(r.firstBreak).toMatchObject({ streamId: 'signal-acct1', revision: 3, kind: 'checkpoint-mismatch' });
  });
});
