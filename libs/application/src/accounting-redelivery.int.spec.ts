/**
 * A fill delivered again long after it was booked (its ack lost while NATS was away: the server
 * delivers it once more after the ack wait) books nothing: not on its own position, which has
 * closed, nor on a later one. Seen in the chaos test's NATS outage: a take-profit's fill came back
 * after the next position had opened and was refused REDUCE_ONLY_WOULD_INCREASE five times.
 * One real day in process (2025-11-21, shared/data), then accounting rebuilt and the day's first
 * closing fill handed to it again.
 */
import type { EventData, RecordedEvent } from '@bulwark/contracts';
import { InMemoryEventStore } from '@bulwark/event-store';
import { EventAppender } from '@bulwark/messaging';
import { REAL_DAY } from '../test/real-day';
import { AccountingService } from './accounting.service';
import { runBacktest } from './backtest';

it('a closing fill handed to accounting again after the day: nothing booked, no error, the summary unchanged', async () => {
  const store = new InMemoryEventStore();
  const r = await runBacktest({ ...REAL_DAY, accountId: 'redeliver-1', store });
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  const closes = events.filter((e) => e.type === 'OrderFilled' && (e.data as EventData<'OrderFilled'>).purpose !== 'ENTRY');
  expect(closes.length).toBeGreaterThan(1);
  const accounting = new AccountingService(new EventAppender(store), store);
  await accounting.onModuleInit();
  const before = await accounting.summary('redeliver-1');
  expect(before).toEqual(r.summary);
  const appended = (await store.lastPosition());
  for (const e of [closes[0], closes[1], events.find((x) => x.type === 'OrderFilled')!]) await accounting.onEvent(e);
  expect(await accounting.summary('redeliver-1')).toEqual(before);
  expect(await store.lastPosition()).toBe(appended);
}, 120_000);
