import { describe, expect, it } from '@jest/globals';
import { describeEventStoreContract } from './contract-suite';
import { InMemoryEventStore } from './in-memory';

describeEventStoreContract('InMemoryEventStore', async () => ({ store: new InMemoryEventStore(), cleanup: async () => undefined }));

describe('InMemoryEventStore specifics', () => {
  const meta = (eventId: string) => ({ eventId, tsEvent: 1, tsInit: 2, correlationId: 'c', causationId: 'c', schemaVersion: 1 });

  it('stores a JSON copy: later mutation of the appended object does not leak in, read events are frozen', async () => {
    const store = new InMemoryEventStore();
    const data = { qty: '1.5', when: new Date(0), missing: undefined as unknown };
    await store.append('order-x1', [{ type: 'T', data, metadata: meta('e1') }], 'no_stream');
    data.qty = '99';
    const [e] = await store.readStream('order-x1');
    expect(e.data).toEqual({ qty: '1.5', when: '1970-01-01T00:00:00.000Z' });
    expect(() => {
      (e.data as { qty: string }).qty = '2';
    }).toThrow(TypeError);
  });

  it('refuses calls after close', async () => {
    const store = new InMemoryEventStore();
    await store.close();
    await expect(store.append('order-x1', [{ type: 'T', data: {}, metadata: meta('e1') }], 'any')).rejects.toThrow('closed');
  });

  it('appends atomically under interleaved async callers', async () => {
    const store = new InMemoryEventStore();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.append('order-x1', [{ type: 'T', data: { i }, metadata: meta(`e${i}`) }], 'no_stream')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await store.readStream('order-x1')).toHaveLength(1);
  });
});
