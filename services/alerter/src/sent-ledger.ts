import { createHash } from 'node:crypto';
import { type KV, type NatsConnection, StorageType } from 'nats';
import type { ChannelName } from './channel';

/** JetStream's "stream not found" API error. */
const STREAM_NOT_FOUND = 10059;
const apiCode = (e: unknown) => (e as { api_error?: { err_code?: number } }).api_error?.err_code;

/**
 * How long a sent alert is remembered (ms): far longer than any redelivery can come (an
 * unacknowledged message comes back within the consumer's ack wait, or when the alerter
 * restarts), and it bounds the bucket.
 */
export const ALERTS_SENT_TTL_MS = 90 * 24 * 3600 * 1000;

/** The alerts-sent bucket does not exist: set-up creates it as NATS user admin. */
export class AlertsBucketMissingError extends Error {
  constructor(readonly bucket: string) {
    super(`JetStream key-value bucket ${bucket} (alerts sent) does not exist. Set-up creates it as NATS user admin: run \`npm run setup\` (or \`node scripts/nats-streams.js\`).`);
    this.name = 'AlertsBucketMissingError';
  }
}

/**
 * Create the alerts-sent bucket when missing (set-up and test harnesses, as NATS user admin;
 * user `alerter` may only read and write it): file storage, one value per key, entries kept
 * {@link ALERTS_SENT_TTL_MS}. An existing bucket is left as it is.
 */
export async function createAlertsSentBucket(nc: NatsConnection, bucket: string): Promise<void> {
  await nc.jetstream().views.kv(bucket, { history: 1, storage: StorageType.File, ttl: ALERTS_SENT_TTL_MS });
}

/** The ledger key of (channel, event id): `<channel>.<event id>`; an id outside the key alphabet is hashed (SHA-256 hex). */
export function sentKey(channel: ChannelName, eventId: string): string {
  return /^[-\w]{1,128}$/.test(eventId) ? `${channel}.${eventId}` : `${channel}.sha256-${createHash('sha256').update(eventId).digest('hex')}`;
}

/** What is recorded for an alert sent. */
export interface SentRecord {
  eventId: string;
  type: string;
  /** Wall clock of the successful send (epoch ms). */
  sentAt: number;
}

/**
 * Which alerts were sent, per channel, in a JetStream key-value bucket (`bulwark-alerts-sent`),
 * so a redelivery after a crash or a restart sends nothing twice: one key per (channel, event
 * id), written right after the channel accepted the alert. A bucket, not a stream of its own:
 * the question is "was this one sent?", a direct get by key, and the bucket's TTL bounds it.
 */
export class SentLedger {
  private constructor(private readonly kv: KV) {}

  /**
   * Bind to the bucket (never creates it: user `alerter` may not).
   * @throws AlertsBucketMissingError when set-up has not created it
   */
  static async open(nc: NatsConnection, bucket: string): Promise<SentLedger> {
    const jsm = await nc.jetstreamManager();
    let direct: boolean;
    try {
      direct = (await jsm.streams.info(`KV_${bucket}`)).config.allow_direct ?? false;
    } catch (e) {
      if (apiCode(e) === STREAM_NOT_FOUND) throw new AlertsBucketMissingError(bucket);
      throw e;
    }
    return new SentLedger(await nc.jetstream().views.kv(bucket, { bindOnly: true, allow_direct: direct }));
  }

  /** Whether `channel` already sent the alert of `eventId`. */
  async wasSent(channel: ChannelName, eventId: string): Promise<boolean> {
    const entry = await this.kv.get(sentKey(channel, eventId));
    return entry !== null && entry.operation === 'PUT';
  }

  /** Record that `channel` sent the alert of `eventId`. */
  async recordSent(channel: ChannelName, record: SentRecord): Promise<void> {
    await this.kv.put(sentKey(channel, record.eventId), JSON.stringify(record));
  }
}
