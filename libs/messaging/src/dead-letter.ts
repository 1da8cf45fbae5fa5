import type { DeadLetter } from '@bulwark/contracts';
import { type JetStreamClient, type NatsConnection, RetentionPolicy, StorageType, JSONCodec } from 'nats';

const codec = JSONCodec<DeadLetter>();

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

  /** Create the DLQ stream if it does not exist. */
  async ensureStream(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    try {
      await jsm.streams.info(this.stream);
    } catch {
      try {
        await jsm.streams.add({ name: this.stream, subjects: [`${this.prefix}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits, max_age: 30 * 24 * 3600 * 1e9 });
      } catch (e) {
        // Another service created it first.
        if (!String(e).includes('already')) throw e;
      }
    }
  }

  async send(subject: string, reason: string, payload: Uint8Array | string): Promise<void> {
    this.count++;
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
