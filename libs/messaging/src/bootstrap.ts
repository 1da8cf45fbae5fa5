import 'reflect-metadata';
import { type EventData, type ServiceName, Streams } from '@bulwark/contracts';
import { type EventStore, openEventStore } from '@bulwark/event-store';
import { type DynamicModule, Global, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from 'nats';
import { Logger, LoggerModule } from 'nestjs-pino';
import { EventAppender } from './appender';
import { type BusConfig, busConfigFromEnv } from './config';
import { DeadLetters } from './dead-letter';
import { connectNats } from './nats-connect';
import { HandlerErrorFilter } from './handler-retry';
import { BulwarkTransport } from './transport';
import { Readiness, initProcessMetrics, logContextFields, setProjectionResolvers, startTelemetryServer, startTracing, telemetryAddressFromEnv } from '@bulwark/telemetry';

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

/**
 * Connect to NATS as the service's own user (docs/security.md; reconnects for ever) and open
 * the event store BULWARK_EVENT_STORE names: JetStream (default; set-up created the stream,
 * EventLogMissingError otherwise) or KurrentDB on KURRENTDB_URL (EventStoreConfigError without it).
 */
export async function openRuntime(service: ServiceName, bus: BusConfig = busConfigFromEnv()): Promise<ServiceRuntime> {
  const nc = await connectNats({ user: service, servers: bus.natsUrl, name: `bulwark-${service}` });
  // BULWARK_EVENT_STORE: jetstream (default) or kurrentdb (appends and reads there; the services
  // still consume NATS, which `bulwark store relay` fills from KurrentDB: docs/event-store.md).
  const store = await openEventStore(process.env, nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  return { service, bus, nc, store, appender: new EventAppender(store), deadLetters: new DeadLetters(nc, service, bus.dlqStream, bus.dlqPrefix) };
}

/** Keep the `nats` readiness check current: down while the connection is lost, up again on reconnect. */
export function watchNats(nc: NatsConnection, set: (up: boolean, detail?: Record<string, string>) => void): void {
  set(!nc.isClosed(), { server: nc.getServer() });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') set(false, { reason: `disconnected from ${String(s.data)}` });
      else if (s.type === 'reconnect') set(true, { server: String(s.data) });
    }
  })();
  void nc.closed().then(() => set(false, { reason: 'connection closed' }));
}

/**
 * Start a service as its own process: the trace SDK, the process's metrics and probes server
 * (docs/observability.md), NATS + JetStream store, the Nest module of the service
 * (controllers and providers), pino logs carrying trace and correlation ids, the Bulwark
 * transport, and a clean shutdown on SIGINT/SIGTERM.
 */
export async function bootstrapService(service: ServiceName, appModule: Type<unknown>): Promise<void> {
  // Before Nest and NATS: spans, metrics and the probes (alive at once, ready when every check is up).
  const stopTracing = await startTracing(service);
  const metrics = initProcessMetrics(service);
  const readiness = new Readiness();
  const setNats = readiness.flag('nats', 'not connected to NATS yet');
  const setRebuilt = readiness.flag('rebuilt', 'the working state is being rebuilt from the log');
  const setBacklog = readiness.flag('backlog', 'the start-up backlog is not consumed yet');
  const telemetry = await startTelemetryServer({ registry: metrics.registry, readiness, address: telemetryAddressFromEnv(service) });
  const rt = await openRuntime(service);
  watchNats(rt.nc, setNats);
  // What the metrics projection did not see happen is in the log: a restarted execution meets
  // order streams it did not initialise (their first event names venue and symbol); rules
  // recorded before this service's consumer existed are the rules stream's last event.
  setProjectionResolvers({
    orderOf: async (streamId) => {
      const first = (await rt.store.readStream(streamId))[0];
      const d = first?.type === 'OrderInitialized' ? (first.data as { venue: string; symbol: string }) : null;
      return d ? { venue: d.venue, symbol: d.symbol } : null;
    },
    rulesOf: async (venue, symbol) => {
      const events = await rt.store.readStream(Streams.rules(venue, symbol));
      const last = events[events.length - 1];
      return last?.type === 'InstrumentRulesRecorded' ? (last.data as EventData<'InstrumentRulesRecorded'>) : null;
    },
  });
  @Module({
    imports: [
      RuntimeModule.forRuntime(rt),
      LoggerModule.forRoot({
        pinoHttp: { level: process.env.LOG_LEVEL || 'info', base: { service }, transport: undefined, mixin: logContextFields },
      }),
      appModule,
    ],
  })
  class ServiceModule {}

  const app = await NestFactory.createMicroservice(ServiceModule, {
    strategy: new BulwarkTransport({ service, nc: rt.nc, bus: rt.bus, appender: rt.appender, deadLetters: rt.deadLetters, onBacklog: setBacklog }),
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  // Failures reach the transport typed, so it can wait out a dependency that did not answer.
  app.useGlobalFilters(new HandlerErrorFilter());
  const logger = app.get(Logger);
  logger.log(`${service} telemetry on http://${telemetry.host}:${telemetry.port} (/metrics /healthz /readyz)`);
  // listen() runs the init hooks (the services rebuild their working state from the log in
  // onModuleInit) before the transport consumes. Not app.init() first: a microservice then runs
  // the hooks twice (Nest 11 registerModules calls them again), and a restarted market-data
  // resumed its replay twice.
  await app.listen();
  setRebuilt(true);
  logger.log(`${service} ready (NATS ${rt.bus.natsUrl}, event log ${rt.bus.esStream})`);
  stopOnSignals(service, logger, [() => app.close(), () => rt.nc.drain(), () => telemetry.close(), () => stopTracing?.()]);
}

/**
 * A clean stop on SIGINT/SIGTERM (once, whichever comes first): run `steps` in order — the app
 * first, so it stops taking work, then its connections — then exit 0. A step that fails is
 * skipped: the process is leaving either way.
 */
export function stopOnSignals(name: string, logger: { log(message: string): void }, steps: Array<() => Promise<unknown> | undefined>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${name} stopping on ${signal}`);
    for (const step of steps) await Promise.resolve().then(step).catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
