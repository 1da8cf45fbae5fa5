// Chain checkpoints: an account's chain heads recorded in its `chain-<account>` stream (docs/event-store.md "Checkpoints").
import { randomUUID } from 'node:crypto';
import { type ChainHead, type NewEvent, type RecordedEvent, Streams } from '@bulwark/contracts';
import type { EventStore, Subscription } from './port';
import { StreamAccounts } from './verify';

/** Heads per ChainCheckpointRecorded (its schema's maximum; keeps the event far below MAX_EVENT_BYTES). */
const HEADS_PER_EVENT = 300;
/** Default trigger: a checkpoint after this many chained events of one account since its last one. */
export const DEFAULT_CHECKPOINT_EVERY = 500;

interface Pending {
  heads: Map<string, ChainHead>;
  count: number;
  last: RecordedEvent;
}

/**
 * Records ChainCheckpointRecorded for an account every `every` chained events of its streams
 * (and on {@link flush}): the heads that moved since its previous checkpoint, with the global
 * position they were read through. Feed it the log in global order ({@link start} subscribes,
 * {@link catchUp} reads to the end once). Shared streams (rules, replay, candles, quarantine) belong
 * to no account and are not checkpointed; pre-hash events have no hash to record.
 */
export class ChainCheckpointer {
  private readonly pending = new Map<string, Pending>();
  private readonly accounts = new StreamAccounts();
  private readonly every: number;
  /** Checkpoint events written by this instance. */
  written = 0;

  /** @param opts.every checkpoint trigger (events per account, >= 1, default {@link DEFAULT_CHECKPOINT_EVERY}) */
  constructor(
    private readonly store: EventStore,
    opts: { every?: number } = {},
  ) {
    const every = opts.every ?? DEFAULT_CHECKPOINT_EVERY;
    if (!Number.isSafeInteger(every) || every < 1) throw new RangeError(`checkpoint every must be an integer >= 1, got ${String(opts.every)}`);
    this.every = every;
  }

  /**
   * Where a checkpointer should resume: the position after the newest checkpoint's
   * `throughPosition` (1 on a log without checkpoints).
   */
  static async resumePosition(store: EventStore): Promise<number> {
    let through = 0;
    for await (const e of store.readAll({ categories: ['chain'], onUnreadable: () => undefined })) {
      const t = (e.data as { throughPosition?: unknown }).throughPosition;
      if (e.type === 'ChainCheckpointRecorded' && typeof t === 'number') through = Math.max(through, t);
    }
    return through + 1;
  }

  /** Take the next event of the log (global order); writes a checkpoint when its account reaches the trigger. */
  async add(e: RecordedEvent): Promise<void> {
    if (e.streamId.startsWith('chain-')) return;
    const account = this.accounts.of(e);
    if (account === null || !e.metadata.hash) return;
    const p = this.pending.get(account) ?? { heads: new Map<string, ChainHead>(), count: 0, last: e };
    p.heads.set(e.streamId, { streamId: e.streamId, revision: e.revision, hash: e.metadata.hash });
    p.count++;
    p.last = e;
    this.pending.set(account, p);
    if (p.count >= this.every) await this.write(account, p);
  }

  /** Write a checkpoint for every account with heads not yet recorded (e.g. at day close or shutdown). */
  async flush(): Promise<void> {
    for (const [account, p] of [...this.pending]) await this.write(account, p);
  }

  /** Read the log from `fromPosition` (default: {@link resumePosition}) to its end, then flush. */
  async catchUp(fromPosition?: number): Promise<void> {
    const from = fromPosition ?? (await ChainCheckpointer.resumePosition(this.store));
    for await (const e of this.store.readAll({ fromPosition: from, onUnreadable: () => undefined })) await this.add(e);
    await this.flush();
  }

  /** Follow the log live from `fromPosition`; `stop()` the subscription, then {@link flush}. */
  start(fromPosition: number): Subscription {
    return this.store.subscribeToAll({ fromPosition }, (e) => this.add(e));
  }

  private async write(account: string, p: Pending): Promise<void> {
    this.pending.delete(account);
    const heads = [...p.heads.values()];
    const events: NewEvent[] = [];
    for (let i = 0; i < heads.length; i += HEADS_PER_EVENT) {
      events.push({
        type: 'ChainCheckpointRecorded',
        data: { accountId: account, throughPosition: p.last.position, heads: heads.slice(i, i + HEADS_PER_EVENT) },
        metadata: {
          eventId: randomUUID(),
          tsEvent: p.last.metadata.tsEvent,
          tsInit: Date.now(),
          correlationId: p.last.metadata.correlationId,
          causationId: p.last.metadata.eventId,
          schemaVersion: 1,
        },
      });
    }
    await this.store.append(Streams.chain(account), events, 'any');
    this.written += events.length;
  }
}
