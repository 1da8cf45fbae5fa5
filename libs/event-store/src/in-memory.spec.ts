import { describe, expect, it } from '@jest/globals';
import { eventMetadata, orderSubmitted } from '@bulwark/testing';
import { describeEventStoreContract } from './contract-suite';
import { InMemoryEventStore } from './in-memory';
import { InvalidEventError } from './port';

describeEventStoreContract('InMemoryEventStore', async () => ({ store: new InMemoryEventStore(), cleanup: async () => undefined }));

describe('InMemoryEventStore specifics', () => {
  const meta = (eventId: string) => eventMetadata({ eventId, tsInit: 2 });

  it('stores a JSON copy: later mutation of the appended object does not leak in, read events are frozen', async () => {
    const store = new InMemoryEventStore();
    // Keys the schema does not name pass validation (zod strips them only from what it returns) and are stored as JSON.
    const data = { clientOrderId: 'bw1', when: new Date(0), missing: undefined as unknown };
    await store.append('order-x1', [{ type: 'OrderSubmitted', data, metadata: meta('e1') }], 'no_stream');
    data.clientOrderId = 'bw2';
    const [e] = await store.readStream('order-x1');
    expect(e.data).toEqual({ clientOrderId: 'bw1', when: '1970-01-01T00:00:00.000Z' });
    expect(() => {
      (e.data as { clientOrderId: string }).clientOrderId = 'bw3';
    }).toThrow(TypeError);
  });

  it('refuses calls after close', async () => {
    const store = new InMemoryEventStore();
    await store.close();
    await expect(store.append('order-x1', [orderSubmitted('bw1', { eventId: 'e1', tsInit: 2 })], 'any')).rejects.toThrow('closed');
  });

  it('appends atomically under interleaved async callers', async () => {
    const store = new InMemoryEventStore();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.append('order-x1', [orderSubmitted(`bw${i}`, { eventId: `e${i}`, tsInit: 2 })], 'no_stream')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await store.readStream('order-x1')).toHaveLength(1);
  });

  it('stores poison events only when built with validate: false (for tests of their readers), still checking metadata', async () => {
    const poison = { type: 'StrategyAttached', data: { accountId: 'no spaces allowed' }, metadata: meta('p1') };
    await expect(new InMemoryEventStore().append('signal-x1', [poison], 'no_stream')).rejects.toBeInstanceOf(InvalidEventError);
    const store = new InMemoryEventStore({ validate: false });
    await store.append('signal-x1', [poison, { type: 'NoSuchEvent', data: {}, metadata: meta('p2') }], 'no_stream');
    expect((await store.readStream('signal-x1')).map((e) => e.type)).toEqual(['StrategyAttached', 'NoSuchEvent']);
    await expect(store.append('signal-x1', [{ ...poison, metadata: { ...meta('p3'), schemaVersion: 0 } }], 'any')).rejects.toBeInstanceOf(InvalidEventError);
  });
});
