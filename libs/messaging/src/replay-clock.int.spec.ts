/**
 * The replay clock over NATS against a real service transport, on a nats-server of its own
 * (`nats-server -js` on a free port: clock subjects are not isolated by the bus configuration):
 * a step whose answer comes later than the request timeout is sent again, the same runId/seq,
 * and the transport answers the repeat without running the handler again; a service that is
 * not there at all is waited for until it comes; the stall limit ends the wait with a clear error.
 */
import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { freePort } from './free-port';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MarketTick, Subjects } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import { until } from '@bulwark/testing';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, type MicroserviceOptions, Payload } from '@nestjs/microservices';
import type { NatsConnection } from 'nats';
import { EventAppender } from './appender';
import { createBusStreams } from './bus-streams';
import type { BusConfig } from './config';
import { DeadLetters } from './dead-letter';
import { connectNats, privateNatsServerCommand } from './nats-connect';
import { type ClockWait, NatsClockPort, ReplayClock, ReplayStalledError } from './replay-clock';
import { BulwarkTransport, clockAck } from './transport';
import { ZodPipe } from './zod-pipe';

const bus: BusConfig = { natsUrl: '', esStream: 'CLK_ES', esPrefix: 'clkes', dlqStream: 'CLK_DLQ', dlqPrefix: 'clkdlq', consumerSuffix: 'clk' };
/** Steps the handler ran (seq), and how long the next one takes (ms). */
const handled: number[] = [];
let delayMs = 0;
let appender: EventAppender;

@Controller()
class SlowAccountingController {
  @MessagePattern(Subjects.clock('accounting'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    handled.push(tick.seq);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return clockAck('accounting', appender, 'STEP');
  }
}

@Module({ controllers: [SlowAccountingController] })
class SlowModule {}

let natsDir: string;
let natsServer: ChildProcess;
let nc: NatsConnection;
let store: JetStreamEventStore;

async function startService(): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(SlowModule, {
    strategy: new BulwarkTransport({ service: 'accounting', nc, bus, appender, deadLetters: new DeadLetters(nc, 'accounting', bus.dlqStream, bus.dlqPrefix) }),
    logger: false,
  });
  await app.listen();
  return app;
}

const tick = (seq: number): MarketTick => ({
  runId: 'clock-int', venue: 'binance-usdm', symbol: 'BTCUSDT', seq, ts: Date.parse('2025-11-21T00:00:00Z') + seq * 15_000, candleOpenTime: Date.parse('2025-11-21T00:00:00Z'),
  pathIndex: seq % 4, from: '86000.1', to: '86010.5', gap: false, candle: null, funding: null,
});

beforeAll(async () => {
  natsDir = mkdtempSync(path.join(os.tmpdir(), 'bulwark-clock-int-'));
  const port = await freePort();
  bus.natsUrl = `nats://127.0.0.1:${port}`;
  // The deployed authorization (var/nats/nats-server.conf); the harness connects as admin.
  const server = privateNatsServerCommand(port, path.join(natsDir, 'js'));
  natsServer = spawn(server.bin, server.args, { stdio: 'ignore' });
  const end = Date.now() + 15_000;
  for (;;) {
    const c = await connectNats({ user: 'admin', servers: bus.natsUrl, timeoutMs: 1_000, reconnect: 'never' }).catch(() => null);
    if (c) {
      nc = c;
      break;
    }
    if (Date.now() > end) throw new Error(`this test needs nats-server (NATS_SERVER_BIN or on the PATH); none answered on ${bus.natsUrl}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await createBusStreams(nc, bus);
  store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  appender = new EventAppender(store);
}, 30_000);

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await nc?.close();
  if (natsServer.exitCode === null) {
    const gone = new Promise((r) => natsServer.once('exit', r));
    natsServer.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
  rmSync(natsDir, { recursive: true, force: true });
}, 30_000);

describe('the replay clock over NATS', () => {
  it('sends a slow step again after its timeout; the transport runs the handler once and answers the repeats', async () => {
    const app = await startService();
    try {
      handled.length = 0;
      const waits: Array<ClockWait | null> = [];
      const clock = new ReplayClock(new NatsClockPort(nc, 400), ['accounting'], { stall: { stallLimitMs: 20_000, initialBackoffMs: 100, maxBackoffMs: 200 }, onWait: (w) => waits.push(w) });
      await clock.prime();
      delayMs = 1_500; // longer than three request timeouts
      await clock.phase('accounting', tick(41));
      delayMs = 0;
      await clock.phase('accounting', tick(42));
      expect(handled).toEqual([41, 42]);
      expect(clock.retries).toBeGreaterThanOrEqual(2);
      expect(waits[0]).toMatchObject({ service: 'accounting', reason: 'no answer to step 41 within 0.4 s' });
      expect(waits.at(-1)).toBeNull();
      // A step of the run at or before the last one handled is answered as done, never run again.
      const port = new NatsClockPort(nc, 2_000);
      await expect(port.deliver('accounting', tick(40))).resolves.toMatchObject({ service: 'accounting', idle: true });
      await expect(port.deliver('accounting', tick(42))).resolves.toMatchObject({ service: 'accounting' });
      expect(handled).toEqual([41, 42]);
      // Another run's steps are its own.
      await port.deliver('accounting', { ...tick(0), runId: 'clock-int-2' });
      expect(handled).toEqual([41, 42, 0]);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('waits for a service that is not there yet ("nobody listens") and goes on once it is', async () => {
    handled.length = 0;
    const waits: Array<ClockWait | null> = [];
    const clock = new ReplayClock(new NatsClockPort(nc, 1_000), ['accounting'], { stall: { stallLimitMs: 30_000, initialBackoffMs: 100, maxBackoffMs: 500 }, onWait: (w) => waits.push(w) });
    const stepping = clock.phase('accounting', { ...tick(7), runId: 'clock-int-3' });
    await until('the clock to find nobody listening', () => waits.length > 0);
    const app = await startService();
    try {
      await stepping;
      expect(handled).toEqual([7]);
      expect(waits[0]).toMatchObject({ service: 'accounting', reason: `no answer to step 7: nobody listens on ${Subjects.clock('accounting')} (down or restarting)` });
      expect(waits.at(-1)).toBeNull();
    } finally {
      await app.close();
    }
  }, 60_000);

  it('gives up at the stall limit with an error naming the service and the limit', async () => {
    const clock = new ReplayClock(new NatsClockPort(nc, 300), ['risk'], { stall: { stallLimitMs: 1_500, initialBackoffMs: 100, maxBackoffMs: 200 } });
    const err = await clock.phase('risk', tick(3)).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(ReplayStalledError);
    expect(err!.message).toMatch(/^risk: gave up after \d+ s without an answer \(stall limit 2 s: BULWARK_STALL_LIMIT_SECONDS or --stall-limit\); last: no answer to step 3: nobody listens on bulwark\.clock\.risk/);
  }, 30_000);
});
