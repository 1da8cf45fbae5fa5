import 'reflect-metadata';
import type { ServiceName } from '@bulwark/contracts';
import { type EventStore, JetStreamEventStore } from '@bulwark/event-store';
import { type DynamicModule, Global, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connect, type NatsConnection } from 'nats';
import { Logger, LoggerModule } from 'nestjs-pino';
import { EventAppender } from './appender';
import { type BusConfig, busConfigFromEnv } from './config';
import { DeadLetters } from './dead-letter';
import { HandlerErrorFilter } from './handler-retry';
import { BulwarkTransport } from './transport';

/** Injection tokens of the shared runtime. */
export const NATS = Symbol('NATS');
export const EVENT_STORE = Symbol('EVENT_STORE');
export const BUS_CONFIG = Symbol('BUS_CONFIG');
export const SERVICE_NAME = Symbol('SERVICE_NAME');

/** The process-wide runtime of one service: NATS, the event store, the appender. */
export interface ServiceRuntime {
  service: ServiceName;
  bus: BusConfig;
  nc: NatsConnection;
  store: EventStore;
  appender: EventAppender;
  deadLetters: DeadLetters;
}

@Global()
@Module({})
class RuntimeModule {
  static forRuntime(rt: ServiceRuntime): DynamicModule {
    const providers = [
      { provide: NATS, useValue: rt.nc },
      { provide: EVENT_STORE, useValue: rt.store },
      { provide: BUS_CONFIG, useValue: rt.bus },
      { provide: SERVICE_NAME, useValue: rt.service },
      { provide: EventAppender, useValue: rt.appender },
      { provide: DeadLetters, useValue: rt.deadLetters },
    ];
    return { module: RuntimeModule, providers, exports: providers.map((p) => p.provide) };
  }
}

/** Connect to NATS and open the JetStream event store. */
export async function openRuntime(service: ServiceName, bus: BusConfig = busConfigFromEnv()): Promise<ServiceRuntime> {
  const nc = await connect({ servers: bus.natsUrl, name: `bulwark-${service}`, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  return { service, bus, nc, store, appender: new EventAppender(store), deadLetters: new DeadLetters(nc, service, bus.dlqStream, bus.dlqPrefix) };
}

/**
 * Start a service as its own process: NATS + JetStream store, the Nest module of the
 * service (controllers and providers), pino logs, the Bulwark transport, and a clean
 * shutdown on SIGINT/SIGTERM.
 */
export async function bootstrapService(service: ServiceName, appModule: Type<unknown>): Promise<void> {
  const rt = await openRuntime(service);
  @Module({
    imports: [
      RuntimeModule.forRuntime(rt),
      LoggerModule.forRoot({
        pinoHttp: { level: process.env.LOG_LEVEL || 'info', base: { service }, transport: undefined },
      }),
      appModule,
    ],
  })
  class ServiceModule {}

  const app = await NestFactory.createMicroservice(ServiceModule, {
    strategy: new BulwarkTransport({ service, nc: rt.nc, bus: rt.bus, appender: rt.appender, deadLetters: rt.deadLetters }),
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  // Failures reach the transport typed, so it can wait out a dependency that did not answer.
  app.useGlobalFilters(new HandlerErrorFilter());
  await app.listen();
  const logger = app.get(Logger);
  logger.log(`${service} ready (NATS ${rt.bus.natsUrl}, event log ${rt.bus.esStream})`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${service} stopping on ${signal}`);
    await app.close();
    await rt.nc.drain().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
