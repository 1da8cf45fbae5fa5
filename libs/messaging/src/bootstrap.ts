import 'reflect-metadata';
import { type DomainEvent, type EventData, type ServiceName, Streams, event } from '@bulwark/contracts';
import { type EventStore, openEventStore } from '@bulwark/event-store';
import { type DynamicModule, Global, type INestMicroservice, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from 'nats';
import { Logger, LoggerModule } from 'nestjs-pino';
import { EventAppender } from './appender';
import { type BusConfig, busConfigFromEnv } from './config';
import { DeadLetters } from './dead-letter';
import { connectNats } from './nats-connect';
import { HandlerErrorFilter } from './handler-retry';
import { BulwarkTransport } from './transport';
import { ServiceLease } from './lease';
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
 *
 * Any number of instances of a service may run; the one holding the service's lease acts
 * (docs/architecture.md "Standby and takeover"). The others wait as standbys: code loaded,
 * connected, the service's providers made, and ready to take over (readiness up with role
 * standby). The instance that takes the lease rebuilds its working state from the log (the
 * services' init hooks, as a restarted process does), points the durable consumer back at its
 * ack floor, serves its request subjects, records `ServiceActivated` and logs
 * `bulwark-lease: active at <epoch ms>`. On SIGTERM the active instance stops acting, records
 * `ServiceLeaseReleased` and hands the lease over at once; an instance that finds its lease
 * held by another stops acting at once and exits (code {@link LEASE_LOST_EXIT_CODE}) to come
 * back as a standby.
 */
export async function bootstrapService(service: ServiceName, appModule: Type<unknown>): Promise<void> {
  // Before Nest and NATS: spans, metrics and the probes (alive at once, ready when every check is up).
  const stopTracing = await startTracing(service);
  const metrics = initProcessMetrics(service);
  const readiness = new Readiness();
  const setNats = readiness.flag('nats', 'not connected to NATS yet');
  // Down until the lease bucket is bound; then the `lease` check below (role, holder) replaces it.
  readiness.flag('lease', 'the lease bucket is not bound yet');
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
  let app: INestMicroservice | null = null;
  let leaving = false;
  const lease = await new ServiceLease({
    nc: rt.nc,
    service,
    bus: rt.bus,
    onLost: (detail) => {
      // Another instance acts now: stop at once (no ack, no answer leaves: `valid()` is false) and come back as a standby.
      if (leaving) return;
      leaving = true;
      process.stderr.write(`${JSON.stringify({ level: 50, time: Date.now(), service, msg: `${service} lost its lease (${detail}): stopping to come back as a standby` })}\n`);
      const exit = () => process.exit(LEASE_LOST_EXIT_CODE);
      setTimeout(exit, 5_000).unref();
      void Promise.resolve(app?.close()).catch(() => undefined).finally(exit);
    },
    onWarning: (detail) => process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), service, msg: detail })}\n`),
  }).open();
  const role = (r: 'active' | 'standby') => {
    metrics.serviceRole.set({ role: 'active' }, r === 'active' ? 1 : 0);
    metrics.serviceRole.set({ role: 'standby' }, r === 'standby' ? 1 : 0);
  };
  role('standby');
  readiness.define('lease', () => ({ up: true, detail: { role: lease.role, instance: lease.instance, holder: lease.role === 'active' ? lease.instance : lease.currentHolder?.instance ?? 'nobody' } }));
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

  // Defined at takeover: a standby is ready without them (it could take over).
  let setBacklog: ((up: boolean, detail?: Record<string, number | string>) => void) | null = null;
  // The providers are made now (a standby is warm); their init hooks — the rebuild from the log — run at takeover.
  const instance = await NestFactory.createMicroservice(ServiceModule, {
    strategy: new BulwarkTransport({ service, nc: rt.nc, bus: rt.bus, appender: rt.appender, deadLetters: rt.deadLetters, lease, onBacklog: (up, d) => setBacklog?.(up, d) }),
    bufferLogs: true,
  });
  app = instance;
  instance.useLogger(instance.get(Logger));
  // Failures reach the transport typed, so it can wait out a dependency that did not answer.
  instance.useGlobalFilters(new HandlerErrorFilter());
  const logger = instance.get(Logger);
  logger.log(`${service} telemetry on http://${telemetry.host}:${telemetry.port} (/metrics /healthz /readyz)`);
  let activeSince = 0;
  stopOnSignals(service, logger, [
    async () => {
      leaving = true;
      lease.abandon();
    },
    () => instance.close(),
    async () => {
      if (lease.role !== 'active') return;
      // Recorded before the hand-over: the next holder's ServiceActivated comes after it in the log.
      await recordLease(rt, event('ServiceLeaseReleased', { service, instance: lease.instance, reason: 'SIGTERM' }), lease.instance).catch(() => undefined);
      await lease.release();
      leaseLine(service, `bulwark-lease: released at ${Date.now()} (${service} ${lease.instance}, active for ${Date.now() - activeSince} ms)`);
    },
    () => rt.nc.drain(),
    () => telemetry.close(),
    () => stopTracing?.(),
  ]);
  leaseLine(service, `bulwark-lease: standby (${service} ${lease.instance}; lease ${lease.key}, TTL ${lease.ttl} ms)`);
  const takeover = await lease.acquire();
  if (!takeover) return; // stopped while waiting
  const setRebuilt = readiness.flag('rebuilt', 'the working state is being rebuilt from the log');
  setBacklog = readiness.flag('backlog', 'the start-up backlog is not consumed yet');
  logger.log(`${service} took the lease (${takeover.reason}${takeover.previous ? ` from ${takeover.previous}` : ''}) after ${takeover.waitedMs} ms as a standby: rebuilding`);
  // listen() runs the init hooks (the services rebuild their working state from the log in
  // onModuleInit) before the transport consumes. Not app.init() first: a microservice then runs
  // the hooks twice (Nest 11 registerModules calls them again), and a restarted market-data
  // resumed its replay twice.
  await instance.listen();
  setRebuilt(true);
  activeSince = Date.now();
  role('active');
  await lease.markActive();
  const activated = event('ServiceActivated', { service, instance: lease.instance, reason: takeover.reason, previousInstance: takeover.previous, freedAt: takeover.freedAt, acquiredAt: takeover.acquiredAt, activeAt: activeSince });
  await recordLease(rt, activated, lease.instance).catch((e: unknown) => logger.warn(`ServiceActivated not recorded: ${String(e)}`));
  leaseLine(service, `bulwark-lease: active at ${activeSince} (${service} ${lease.instance}, ${takeover.reason}, ${activeSince - takeover.acquiredAt} ms from lease to acting)`);
  logger.log(`${service} ready (NATS ${rt.bus.natsUrl}, event log ${rt.bus.esStream})`);
}

/**
 * Record a lease event in `lease-<service>`, straight to the store: it is not a reaction to the
 * market, so it must not count in the appender's tally the replay clock reads for quiet.
 */
async function recordLease(rt: ServiceRuntime, e: DomainEvent<'ServiceActivated' | 'ServiceLeaseReleased'>, instance: string): Promise<void> {
  const now = Date.now();
  await rt.store.append(Streams.lease(rt.service), rt.appender.toNewEvents([e], { tsEvent: now, correlationId: `lease-${rt.service}`, causationId: `lease-${instance}` }), 'any');
}

/**
 * A lease line (standby, active, released) on stdout in the logs' JSON shape, whatever LOG_LEVEL
 * says: who acts is what an operator (and the demo's supervisor) must always be able to see.
 */
function leaseLine(service: string, msg: string): void {
  process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), service, msg })}\n`);
}

/** The exit code of an instance that found its lease held by another: it stopped acting and restarts as a standby. */
export const LEASE_LOST_EXIT_CODE = 75;

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
