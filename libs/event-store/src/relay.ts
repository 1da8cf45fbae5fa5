// The relay: a store's global log (KurrentDB's $all) mirrored into the JetStream log the services consume
// (docs/event-store.md "Relay").
import type { RecordedEvent } from '@bulwark/contracts';
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { EventHeaders, eventLogStreamConfig, subjectForStream } from './jetstream';
import type { EventStore, Subscription } from './port';

/** Header of a relayed message: the event's global position in the source store (the relay's durable checkpoint). */
export const SOURCE_POSITION_HEADER = 'Bulwark-Source-Position';

/** Options of {@link startRelay}. */
export interface RelayOptions {
  /** The store written to (KurrentDB in production). */
  source: EventStore;
  nc: NatsConnection;
  /** JetStream stream and subject prefix of the mirror: the services' `BULWARK_ES_STREAM` / prefix (default `ES`, `es`). */
  stream?: string;
  subjectPrefix?: string;
  /** Called after each relayed event (tests, metrics). */
  onRelayed?: (e: RecordedEvent, duplicate: boolean) => void;
}

/** A running relay: stop it, watch `done` (rejects when publishing or the source fails). */
export interface Relay {
  /** Source position the relay started from (the checkpoint + 1). */
  readonly from: number;
  readonly subscription: Subscription;
  stop(): Promise<void>;
}

/**
 * The relay's durable checkpoint: the source position carried by the mirror's last message
 * (0 when the mirror is empty). It is written with the message itself, so it can never run ahead
 * of, or lag behind, what the mirror holds.
 */
export async function relayCheckpoint(nc: NatsConnection, stream = 'ES'): Promise<number> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  if (info.state.last_seq === 0) return 0;
  const m = await jsm.streams.getMessage(stream, { seq: info.state.last_seq });
  const p = Number(m.header?.get(SOURCE_POSITION_HEADER) ?? '');
  if (!Number.isSafeInteger(p) || p < 1) throw new Error(`JetStream stream ${stream}'s last message (#${m.seq}) has no ${SOURCE_POSITION_HEADER} header: it is not a relay mirror`);
  return p;
}

/**
 * Mirror `source`'s log into a JetStream stream, in the source's global order, one message per
 * event exactly as the JetStream store writes it (subject `<prefix>.<category>.<id>`, the
 * Bulwark-* headers, body `{ type, data, metadata }` with the chain fields), plus
 * {@link SOURCE_POSITION_HEADER}. Consumers (the services' durable consumers) read it unchanged.
 *
 * Delivery: at-least-once publishing, deduplicated by JetStream: `Nats-Msg-Id` = the event id, in
 * a 2-minute duplicate window; the relay resumes after {@link relayCheckpoint}, so even after a
 * crash it publishes again at most the one event whose acknowledgement it did not see (inside the
 * window). The mirror's sequences are its own positions, not the source's: the source position is
 * in the header.
 * @throws Error when the stream exists and is not a relay mirror
 */
export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const stream = opts.stream ?? 'ES';
  const prefix = opts.subjectPrefix ?? 'es';
  const jsm = await opts.nc.jetstreamManager();
  // The mirror is the event log the services read: the same stream configuration (a 2-minute duplicate window).
  await jsm.streams.info(stream).catch(async () => jsm.streams.add(eventLogStreamConfig(stream, prefix)));
  const from = (await relayCheckpoint(opts.nc, stream)) + 1;
  const js = opts.nc.jetstream();
  const encoder = new TextEncoder();
  const subscription = opts.source.subscribeToAll({ fromPosition: from }, async (e) => {
    const h = natsHeaders();
    h.set(EventHeaders.streamId, e.streamId);
    h.set(EventHeaders.revision, String(e.revision));
    h.set(EventHeaders.eventType, e.type);
    h.set(EventHeaders.eventId, e.metadata.eventId);
    h.set(SOURCE_POSITION_HEADER, String(e.position));
    const ack = await js.publish(subjectForStream(prefix, e.streamId), encoder.encode(JSON.stringify({ type: e.type, data: e.data, metadata: e.metadata })), {
      headers: h,
      msgID: e.metadata.eventId,
    });
    opts.onRelayed?.(e, ack.duplicate);
  });
  return { from, subscription, stop: () => subscription.stop() };
}
