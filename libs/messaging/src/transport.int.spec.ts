/**
 * The Bulwark transport against the real nats-server: a service that is down misses nothing
 * (its durable consumer resumes where it stopped), events reach it in the log's order, and a
 * malformed request or stored event is dead-lettered with its reason while the service keeps
 * running. Needs Bulwark's nats-server (npm run setup; NATS_URL, default 127.0.0.1:4223); the harness connects as admin.
 */
import 'reflect-metadata';
import { AccountQuery, event, type RecordedEvent, Streams } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import { dropIsolatedBus, isolatedBus, openIsolatedBus, rawEvent, until } from '@bulwark/testing';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload, type MicroserviceOptions } from '@nestjs/microservices';
import { JSONCodec, type NatsConnection } from 'nats';
import { EventAppender } from './appender';
import { DeadLetters } from './dead-letter';
import { HandlerErrorFilter } from './handler-retry';
import { NoAnswerError } from './request';
import { BulwarkTransport, eventPattern } from './transport';
import { ZodPipe } from './zod-pipe';

const json = JSONCodec();
const bus = isolatedBus('transport');
const { tag } = bus;
const seen: string[] = [];
const accountSeen: string[] = [];
let unavailableFor = 8;


/** The `params.channel` of a probe event. */
const channelOf = (e: RecordedEvent) => (e.data as { params: { channel: number } }).params.channel;

@Controller()
class ProbeController {
  @EventPattern(eventPattern('signal'))
  onSignal(@Payload() e: RecordedEvent) {
    seen.push(`${e.streamId}@${e.revision}:${e.type}`);
  }

  /** channel 101: its dependency does not answer 8 times; 102: fails every time; others: handled. */
  @EventPattern(eventPattern('account'))
  onAccount(@Payload() e: RecordedEvent) {
    const ch = channelOf(e);
    if (ch === 101 && unavailableFor-- > 0) throw new NoAnswerError('bulwark.accounting.equity', new Error('503'));
    if (ch === 102) throw new Error('boom');

    accountSeen.push(String(ch));
  }

  @MessagePattern(`probe${tag}.echo`)
  echo(@Payload(new ZodPipe(AccountQuery)) q: AccountQuery) {
    return { echoed: q.accountId };
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

let nc: NatsConnection;
let store: JetStreamEventStore;

async function startService() {
  const deadLetters = new DeadLetters(nc, 'accounting', bus.dlqStream, bus.dlqPrefix);
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ProbeModule, {
    strategy: new BulwarkTransport({ service: 'accounting', nc, bus, appender: new EventAppender(store), deadLetters, retry: { maxFailures: 5, initialBackoffMs: 10, maxBackoffMs: 40 } }),
    logger: false,
  });
  app.useGlobalFilters(new HandlerErrorFilter());
  await app.listen();
  return app;
}

const intent = (n: number) =>
  event('StrategyAttached', { accountId: `acct${n}`, venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: { channel: n } });

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  // validate: false lets the test store the schema-breaking event the transport must dead-letter.
  store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix, validate: false });
});

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await nc.drain();
});

describe('BulwarkTransport over JetStream', () => {
  it('delivers stored events in order, misses none while the service is down, and dead-letters bad messages', async () => {
    const appender = new EventAppender(store);
    const c = { tsEvent: 1, correlationId: 'test', causationId: 'test' };
    let app = await startService();
    await appender.append(Streams.signal('a1'), [intent(1), intent(2)], 'no_stream', c);
    await until('the first two events handled', () => seen.length === 2);

    // Down: two more events are appended, and one that breaks its schema.
    await app.close();
    await appender.append(Streams.signal('a1'), [intent(3)], 1, c);
    await appender.append(Streams.signal('a2'), [intent(4)], 'no_stream', c);
    await store.append('signal-bad', [rawEvent('StrategyAttached', { accountId: 'no spaces allowed' }, { eventId: `bad-${tag}`, correlationId: 't' })], 'no_stream');

    // Back up: it resumes where it stopped, in the log's order.
    app = await startService();
    await until('the four events handled after the restart', () => seen.length === 4);
    expect(seen).toEqual([
      `signal-a1@0:StrategyAttached`,
      `signal-a1@1:StrategyAttached`,
      `signal-a1@2:StrategyAttached`,
      `signal-a2@0:StrategyAttached`,
    ]);

    // A malformed request is answered with a typed error and dead-lettered; the service still answers.
    const bad = json.decode((await nc.request(`probe${tag}.echo`, json.encode({ accountId: 'has space' }), { timeout: 5000 })).data);
    expect(bad).toMatchObject({ error: { code: 'INVALID_MESSAGE' } });
    const good = json.decode((await nc.request(`probe${tag}.echo`, json.encode({ accountId: 'ok-1' }), { timeout: 5000 })).data);
    expect(good).toEqual({ echoed: 'ok-1' });

    const jsm = await nc.jetstreamManager();
    // The schema-breaking event is the log's last: its dead letter may be written after the fourth event is seen.
    const info = await until('both dead letters stored', async () => {
      const i = await jsm.streams.info(bus.dlqStream);
      return i.state.messages >= 2 ? i : null;
    });
    expect(info.state.messages).toBe(2);
    const reasons = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) reasons.push(json.decode((await jsm.streams.getMessage(bus.dlqStream, { seq })).data) as { reason: string; subject: string });
    expect(reasons.map((r) => r.subject).sort()).toEqual([`probe${tag}.echo`, `${bus.esPrefix}.signal.bad`].sort());
    for (const r of reasons) expect(r.reason.length).toBeGreaterThan(5);
    await app.close();
  }, 60_000);

  it('waits out a dependency that does not answer, in place and in order; dead-letters a handler that keeps failing after 5 tries', async () => {
    const appender = new EventAppender(store);
    const c = { tsEvent: 1, correlationId: 'test', causationId: 'test' };
    const app = await startService();
    await appender.append(Streams.account('r1'), [intent(101), intent(102), intent(103)], 'no_stream', c);
    await until('two account events handled', () => accountSeen.length === 2);
    // 101 waited out 8 unanswered tries (more than the 5 a failure gets), then 103: the log's order.
    expect(accountSeen).toEqual(['101', '103']);
    expect(unavailableFor).toBe(-1);
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(bus.dlqStream);
    const letters = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) letters.push(json.decode((await jsm.streams.getMessage(bus.dlqStream, { seq })).data) as { reason: string; subject: string });
    const ours = letters.filter((l) => l.subject === `${bus.esPrefix}.account.r1`);
    expect(ours.map((l) => l.reason)).toEqual(['handler failed 5 times: boom']);
    await app.close();
  }, 60_000);
});
