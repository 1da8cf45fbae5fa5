import { randomBytes } from 'node:crypto';
import { type BusConfig, connectNats, createBusStreams, DEFAULT_NATS_URL, dropBusStreams } from '@bulwark/messaging';
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
    natsUrl: process.env.NATS_URL || DEFAULT_NATS_URL,
    esStream: `E2E_${up}_${tag}`,
    esPrefix: `e2e${name}${tag}`,
    dlqStream: `E2E_${up}DLQ_${tag}`,
    dlqPrefix: `e2e${name}dlq${tag}`,
    consumerSuffix: `${name}${tag}`,
  };
}

/**
 * The test harness's connection to an isolated bus: as NATS user `admin` (docs/security.md),
 * with the bus's streams created (the demo's `driver` and the services may not create them).
 * @throws Error naming the server when it cannot connect (run `npm run setup`)
 */
export async function openIsolatedBus(bus: BusConfig, name = 'bulwark-test-harness'): Promise<NatsConnection> {
  const nc = await connectNats({ user: 'admin', servers: bus.natsUrl, name }).catch((e) => {
    throw new Error(`this test needs Bulwark's nats-server with JetStream at ${bus.natsUrl} (npm run setup): ${(e as Error).message}`);
  });
  await createBusStreams(nc, bus);
  return nc;
}

/** Delete the streams of an isolated bus (its log and dead letters); missing streams are fine. */
export async function dropIsolatedBus(nc: NatsConnection, bus: BusConfig): Promise<void> {
  await dropBusStreams(nc, bus);
}
