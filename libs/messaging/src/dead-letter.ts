import type { DeadLetter } from '@bulwark/contracts';
import { processMetrics } from '@bulwark/telemetry';
import { jetStreamApiCode } from './nats-connect';
import { type JetStreamClient, type NatsConnection, nanos, RetentionPolicy, StorageType, type StreamConfig, JSONCodec } from 'nats';

const codec = JSONCodec<DeadLetter>();

/** JetStream's "stream not found" API error. */
const STREAM_NOT_FOUND = 10059;

/** The dead-letter stream's configuration: file storage, 30 days. */
export function deadLetterStreamConfig(stream: string, prefix: string): Partial<StreamConfig> & { name: string } {
  return { name: stream, subjects: [`${prefix}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits, max_age: nanos(30 * 24 * 3600 * 1000) };
}

/** The dead-letter stream does not exist (set-up creates it). */
export class DeadLetterStreamMissingError extends Error {
  constructor(readonly stream: string, readonly prefix: string) {
    super(
      `JetStream stream ${stream} (dead letters, subjects ${prefix}.>) does not exist. Set-up creates it as NATS user admin: ` +
        `run \`npm run setup\` (or \`node scripts/nats-streams.js\`) with the same BULWARK_DLQ_STREAM and BULWARK_DLQ_PREFIX.`,
    );
    this.name = 'DeadLetterStreamMissingError';
  }
}

/**
 * Keeps messages a service could not accept, with the reason, in the JetStream stream
 * `DLQ` (subjects `<prefix>.<service>`, prefix `dlq`), so nothing is lost and the service
 * keeps running.
 */
export class DeadLetters {
  private js: JetStreamClient;
  private count = 0;
  constructor(
    private readonly nc: NatsConnection,
    readonly service: string,
    private readonly stream = 'DLQ',
    private readonly prefix = 'dlq',
  ) {
    this.js = nc.jetstream();
  }

  get deadLettered(): number {
    return this.count;
  }

  /**
   * Check that the DLQ stream exists. Set-up creates it (as NATS user `admin`, see
   * {@link createBusStreams}); a service may not create streams.
   * @throws DeadLetterStreamMissingError when it does not exist
   */
  async checkStream(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    try {
      await jsm.streams.info(this.stream);
    } catch (e) {
      if (jetStreamApiCode(e) === STREAM_NOT_FOUND) throw new DeadLetterStreamMissingError(this.stream, this.prefix);
      throw e;
    }
  }

  /**
   * Keep a refused message with its reason.
   * @param code the reason's code for `bulwark_dead_letters_total{service,reason}` (few values:
   *   not_json, invalid_message, invalid_event, undecodable, handler_failed; default refused)
   */
  async send(subject: string, reason: string, payload: Uint8Array | string, code = 'refused'): Promise<void> {
    this.count++;
    processMetrics().deadLetters.inc({ service: this.service, reason: code });
    const letter: DeadLetter = {
      service: this.service,
      subject,
      reason,
      payload: typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'),
      receivedAt: Date.now(),
    };
    await this.js.publish(`${this.prefix}.${this.service}`, codec.encode(letter));
  }
}
