// Which store a process opens: BULWARK_EVENT_STORE (docs/event-store.md "Choosing the store").
import type { NatsConnection } from 'nats';
import { JetStreamEventStore, type JetStreamEventStoreOptions } from './jetstream';
import type { KurrentDBEventStore, KurrentDBEventStoreOptions } from './kurrentdb';
import type { EventStore } from './port';

/** The stores `BULWARK_EVENT_STORE` can name. */
export const EVENT_STORE_KINDS = ['jetstream', 'kurrentdb'] as const;
export type EventStoreKind = (typeof EVENT_STORE_KINDS)[number];

/** An unusable store setting (unknown kind, kurrentdb without KURRENTDB_URL). */
export class EventStoreConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStoreConfigError';
  }
}

/**
 * `BULWARK_EVENT_STORE` (`jetstream`, the default, or `kurrentdb`).
 * @throws EventStoreConfigError for another value
 */
export function eventStoreKind(env: NodeJS.ProcessEnv): EventStoreKind {
  const v = (env.BULWARK_EVENT_STORE ?? '').trim() || 'jetstream';
  if (!(EVENT_STORE_KINDS as readonly string[]).includes(v)) throw new EventStoreConfigError(`BULWARK_EVENT_STORE must be one of ${EVENT_STORE_KINDS.join(', ')}, got ${JSON.stringify(v)}`);
  return v as EventStoreKind;
}

/**
 * Open the event store the environment names:
 * - `jetstream`: {@link JetStreamEventStore} on `nc` (stream and prefix from `jetstream`);
 * - `kurrentdb`: {@link KurrentDBEventStore} on `KURRENTDB_URL` (its own client, closed with the
 *   store). The services still consume NATS: `bulwark store relay` mirrors KurrentDB into the
 *   JetStream stream they read.
 * @throws EventStoreConfigError for a bad BULWARK_EVENT_STORE or a missing KURRENTDB_URL
 */
export async function openEventStore(env: NodeJS.ProcessEnv, nc: NatsConnection, jetstream: JetStreamEventStoreOptions = {}): Promise<EventStore> {
  const kind = eventStoreKind(env);
  if (kind === 'jetstream') return JetStreamEventStore.connect(nc, jetstream);
  return openKurrentDB(kurrentDbUrl(env));
}

/**
 * `KURRENTDB_URL`, which `BULWARK_EVENT_STORE=kurrentdb` needs.
 * @throws EventStoreConfigError when it is unset or blank
 */
export function kurrentDbUrl(env: NodeJS.ProcessEnv): string {
  const url = env.KURRENTDB_URL?.trim();
  if (!url) throw new EventStoreConfigError('BULWARK_EVENT_STORE=kurrentdb needs KURRENTDB_URL (e.g. kurrentdb://127.0.0.1:2113?tls=false)');
  return url;
}

/**
 * A {@link KurrentDBEventStore} on `url`, its client loaded on first use: a process that only
 * ever opens JetStream never loads the gRPC client (about 0.3 s and its memory at start-up).
 */
export function openKurrentDB(url: string, opts: KurrentDBEventStoreOptions = {}): KurrentDBEventStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { KurrentDBEventStore: Store } = require('./kurrentdb') as typeof import('./kurrentdb');
  return Store.connect(url, opts);
}
