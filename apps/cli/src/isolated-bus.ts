import { randomBytes } from 'node:crypto';
import type { BusConfig } from '@bulwark/messaging';
import type { NatsConnection } from 'nats';

/**
 * A bus configuration of its own for one run against the local nats-server: a unique event
 * log stream and prefix, dead-letter stream and prefix, and consumer names, so test runs
 * never mix with each other or with the demo's log. The caller deletes the streams after.
 */
export function isolatedBus(name: string, tag = randomBytes(4).toString('hex')): BusConfig & { tag: string } {
  const up = name.toUpperCase();
  return {
    tag,
    natsUrl: process.env.NATS_URL || 'nats://127.0.0.1:4222',
    esStream: `E2E_${up}_${tag}`,
    esPrefix: `e2e${name}${tag}`,
    dlqStream: `E2E_${up}DLQ_${tag}`,
    dlqPrefix: `e2e${name}dlq${tag}`,
    consumerSuffix: `${name}${tag}`,
  };
}

/** Delete the streams of an isolated bus (its log and dead letters); missing streams are fine. */
export async function dropIsolatedBus(nc: NatsConnection, bus: BusConfig): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(bus.esStream).catch(() => undefined);
  await jsm.streams.delete(bus.dlqStream).catch(() => undefined);
}
