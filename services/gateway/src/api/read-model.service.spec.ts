import { event, type RecordedEvent, Streams } from '@bulwark/contracts';
import { type EventStore, InMemoryEventStore, type SubscribeOptions, type Subscription } from '@bulwark/event-store';
import { EventAppender } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import type { NatsConnection } from 'nats';
import { DEFAULT_API_OPTIONS } from './api-options';
import { ReadModelService } from './read-model.service';

/** A store whose first subscription breaks after `breakAfter` events, as a JetStream subscription does when the server goes away. */
function flakyStore(inner: InMemoryEventStore, breakAfter: number): EventStore & { subscriptions: number[] } {
  const subscriptions: number[] = [];
  return Object.assign(Object.create(inner) as EventStore, {
    subscriptions,
    subscribeToAll(opts: SubscribeOptions, handler: (e: RecordedEvent) => Promise<void>): Subscription {
      subscriptions.push(opts.fromPosition ?? 1);
      if (subscriptions.length > 1) return inner.subscribeToAll(opts, handler);
      let seen = 0;
      let fail!: (e: Error) => void;
      const done = new Promise<void>((_, reject) => (fail = reject));
      const sub = inner.subscribeToAll(opts, async (e) => {
        if (seen++ >= breakAfter) return;
        await handler(e);
        if (seen === breakAfter) setTimeout(() => void sub.stop().then(() => fail(new Error('connection lost'))), 0);
      });
      return { stop: () => sub.stop(), done };
    },
  });
}

const fakeNats = { subscribe: () => ({ unsubscribe: () => undefined }) } as unknown as NatsConnection;

describe('the gateway read model follows the log through a broken subscription', () => {
  it('is not ready while the subscription is down, takes it up again after the last event applied, and misses or repeats nothing', async () => {
    const inner = new InMemoryEventStore();
    const appender = new EventAppender(inner);
    const c = { tsEvent: Date.parse('2025-11-21T00:00:00Z'), correlationId: 'spec', causationId: 'spec' };
    const state = (n: number) => event('TradingStateChanged', { state: n % 2 ? 'HALTED' : 'ACTIVE', previous: n % 2 ? 'ACTIVE' : 'HALTED', reason: `change ${n}`, by: 'spec' });
    for (let n = 0; n < 5; n++) await appender.append(Streams.account('acct-1'), [state(n)], n === 0 ? 'no_stream' : n - 1, c);
    const store = flakyStore(inner, 3);
    const rm = new ReadModelService(store, fakeNats, { ...DEFAULT_API_OPTIONS });
    const heard: number[] = [];
    rm.onEvent((e) => heard.push(e.position));
    await rm.onModuleInit();
    await until('the first 3 events heard', () => heard.length === 3);
    expect(rm.ready()).toBe(false); // 3 of the 5 events the log held: not ready (the probe says so) until it has them all
    await until('the second subscription and the read model ready', () => store.subscriptions.length === 2 && rm.ready());
    expect(store.subscriptions).toEqual([1, 4]);
    await appender.append(Streams.account('acct-1'), [state(5)], 4, c);
    await until('the 6th event heard', () => heard.length === 6);
    expect(heard).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rm.projection.lastPosition()).toBe(6);
    await rm.onModuleDestroy();
  }, 30_000);
});
