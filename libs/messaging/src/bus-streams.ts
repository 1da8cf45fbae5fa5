import { JetStreamEventStore } from '@bulwark/event-store';
import { AckPolicy, DeliverPolicy, nanos, type NatsConnection } from 'nats';
import type { BusConfig } from './config';
import { deadLetterStreamConfig } from './dead-letter';
import { createLeaseBucket } from './lease';
import { jetStreamApiCode } from './nats-connect';

/** JetStream's "stream name already in use" API error (another process created it first). */
const STREAM_NAME_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;


/**
 * Create the bus's streams when missing: the event log (`bus.esStream`, subjects
 * `<esPrefix>.>`), dead letters (`bus.dlqStream`, `<dlqPrefix>.>`) and the services' lease
 * bucket (BULWARK_LEASE_BUCKET, TTL BULWARK_LEASE_TTL_SECONDS; see `createLeaseBucket`). Existing streams are
 * left as they are. Set-up (scripts/nats-streams.js) and test harnesses call it on a connection
 * as NATS user `admin`; services only check that the streams exist.
 * @throws Error when JetStream refuses (e.g. the user may not create streams) or an existing event log does not capture `<esPrefix>.>`
 */
export async function createBusStreams(nc: NatsConnection, bus: Pick<BusConfig, 'esStream' | 'esPrefix' | 'dlqStream' | 'dlqPrefix'>): Promise<void> {
  const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix, create: true });
  await store.close();
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.info(bus.dlqStream);
  } catch (e) {
    if (jetStreamApiCode(e) !== STREAM_NOT_FOUND) throw e;
    await jsm.streams.add(deadLetterStreamConfig(bus.dlqStream, bus.dlqPrefix)).catch((e2: unknown) => {
      if (jetStreamApiCode(e2) !== STREAM_NAME_IN_USE) throw e2;
    });
  }
  await createLeaseBucket(nc);
}

/** Delete the bus's streams (test harnesses, as `admin`); missing streams are fine. */
export async function dropBusStreams(nc: NatsConnection, bus: Pick<BusConfig, 'esStream' | 'dlqStream'>): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(bus.esStream).catch(() => undefined);
  await jsm.streams.delete(bus.dlqStream).catch(() => undefined);
}

/** A durable consumer's name on the event log: `bulwark-<owner>`, suffixed for tests (BULWARK_CONSUMER_SUFFIX). */
export function durableName(owner: string, bus: Pick<BusConfig, 'consumerSuffix'>): string {
  return `bulwark-${owner}${bus.consumerSuffix ? '-' + bus.consumerSuffix : ''}`;
}

/**
 * Create or resume a durable pull consumer over the whole event log, explicit acks, no delivery
 * limit (the server never drops a message unseen), the given ack wait; a durable made earlier
 * with other limits gets these. A NEW durable starts at the end of the log: a first deployment
 * does not re-run history; after that it resumes from its ack floor, so a restart misses nothing.
 * @param onLimitsNotUpdated called when an existing durable's limits could not be changed (it keeps working)
 */
export async function ensureLogDurable(
  nc: NatsConnection,
  bus: Pick<BusConfig, 'esStream' | 'esPrefix'>,
  durable: string,
  ackWaitMs: number,
  onLimitsNotUpdated: (e: unknown) => void = () => undefined,
): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const limits = { ack_wait: nanos(ackWaitMs), max_deliver: -1 };
  const existing = await jsm.consumers.info(bus.esStream, durable).catch(() => null);
  if (!existing) {
    await jsm.consumers.add(bus.esStream, { ...logDurableConfig(bus, durable, ackWaitMs), deliver_policy: DeliverPolicy.New });
  } else if (existing.config.ack_wait !== limits.ack_wait || existing.config.max_deliver !== limits.max_deliver) {
    await jsm.consumers.update(bus.esStream, durable, limits).catch(onLimitsNotUpdated);
  }
}

/**
 * Point an existing durable back at its ack floor before a new holder of the service's lease
 * consumes (docs/architecture.md "Standby and takeover"): the consumer is deleted and made again
 * from the first event after the floor. Events the previous instance had been delivered but not
 * acknowledged (it died, or stopped with a buffer of pulled messages) come again at once and in
 * log order, instead of after the ack wait behind newer ones. Handlers are idempotent, so an
 * event handled whose ack was lost is handled again without a second effect.
 * A missing durable is left for {@link ensureLogDurable} to create.
 * @returns the stream sequence the durable now starts at, or null when there was none
 */
export async function resetLogDurable(nc: NatsConnection, bus: Pick<BusConfig, 'esStream' | 'esPrefix'>, durable: string, ackWaitMs: number): Promise<number | null> {
  const jsm = await nc.jetstreamManager();
  const existing = await jsm.consumers.info(bus.esStream, durable).catch(() => null);
  if (!existing) return null;
  const start = existing.ack_floor.stream_seq + 1;
  await jsm.consumers.delete(bus.esStream, durable);
  await jsm.consumers.add(bus.esStream, { ...logDurableConfig(bus, durable, ackWaitMs), deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
  return start;
}

/** A log durable's settings but where it starts: the whole log filtered, explicit acks, no delivery limit, the given ack wait. */
function logDurableConfig(bus: Pick<BusConfig, 'esPrefix'>, durable: string, ackWaitMs: number) {
  return { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: `${bus.esPrefix}.>`, max_ack_pending: 1000, ack_wait: nanos(ackWaitMs), max_deliver: -1 };
}
