import { randomBytes } from 'node:crypto';
import type { BusConfig } from '@bulwark/messaging';
import type { NatsConnection } from 'nats';

/**
 * `@bulwark/messaging`, loaded on first use: it brings NestJS and the NATS client (about half a
 * second per spec file), which a spec that never touches the bus should not pay for.
 */
function messaging(): typeof import('@bulwark/messaging') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  return require('@bulwark/messaging') as typeof import('@bulwark/messaging');
}

/** A {@link isolatedBus} configuration and the random tag that makes its names unique. */
export type IsolatedBus = BusConfig & { tag: string };

/**
 * A bus configuration of its own for one spec file against Bulwark's nats-server (`NATS_URL`,
 * default `nats://127.0.0.1:4223`): event log stream `T_<NAME>_<tag>` with subject prefix
 * `t<name><tag>`, dead letters `T_<NAME>DLQ_<tag>` / `t<name>dlq<tag>`, durable consumer suffix
 * `<name><tag>`, so runs never mix with each other or with the demo's log. Opens nothing.
 * @param name lower-case letters and digits, naming the spec (e.g. `transport`)
 * @param tag default: 8 random hex digits
 */
export function isolatedBus(name: string, tag: string = randomBytes(4).toString('hex')): IsolatedBus {
  const up = name.toUpperCase();
  return {
    tag,
    natsUrl: process.env.NATS_URL || messaging().DEFAULT_NATS_URL,
    esStream: `T_${up}_${tag}`,
    esPrefix: `t${name}${tag}`,
    dlqStream: `T_${up}DLQ_${tag}`,
    dlqPrefix: `t${name}dlq${tag}`,
    consumerSuffix: `${name}${tag}`,
  };
}

/**
 * The spec's connection to its isolated bus: as NATS user `admin` (docs/security.md), with the
 * bus's streams (event log, dead letters) and the lease bucket created unless `streams: false`.
 * Close it with {@link dropIsolatedBus} then `nc.drain()`.
 * @param o.name the connection's name as the server lists it. Default: `bulwark-test-harness`.
 * @throws Error saying the spec needs Bulwark's nats-server (`npm run setup`) when it cannot connect
 */
export async function openIsolatedBus(bus: BusConfig, o: { name?: string; streams?: boolean } = {}): Promise<NatsConnection> {
  const m = messaging();
  const nc = await m.connectNats({ user: 'admin', servers: bus.natsUrl, name: o.name ?? 'bulwark-test-harness' }).catch((e) => {
    throw new Error(`this test needs Bulwark's nats-server with JetStream at ${bus.natsUrl} (npm run setup): ${String(e)}`);
  });
  if (o.streams !== false) await m.createBusStreams(nc, bus);
  return nc;
}

/** Delete the streams of an isolated bus (its event log and dead letters); missing streams are fine. */
export async function dropIsolatedBus(nc: NatsConnection, bus: BusConfig): Promise<void> {
  await messaging().dropBusStreams(nc, bus);
}
