import { JetStreamEventStore } from '@bulwark/event-store';
import type { NatsConnection } from 'nats';
import type { BusConfig } from './config';
import { deadLetterStreamConfig } from './dead-letter';

/** JetStream's "stream name already in use" API error (another process created it first). */
const STREAM_NAME_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;

const apiCode = (e: unknown) => (e as { api_error?: { err_code?: number } }).api_error?.err_code;

/**
 * Create the bus's streams when missing: the event log (`bus.esStream`, subjects
 * `<esPrefix>.>`) and dead letters (`bus.dlqStream`, `<dlqPrefix>.>`). Existing streams are
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
    if (apiCode(e) !== STREAM_NOT_FOUND) throw e;
    await jsm.streams.add(deadLetterStreamConfig(bus.dlqStream, bus.dlqPrefix)).catch((e2: unknown) => {
      if (apiCode(e2) !== STREAM_NAME_IN_USE) throw e2;
    });
  }
}

/** Delete the bus's streams (test harnesses, as `admin`); missing streams are fine. */
export async function dropBusStreams(nc: NatsConnection, bus: Pick<BusConfig, 'esStream' | 'dlqStream'>): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(bus.esStream).catch(() => undefined);
  await jsm.streams.delete(bus.dlqStream).catch(() => undefined);
}
