import { type RecordedEvent, Streams, event } from '@bulwark/contracts';
import type { EventAppender } from './appender';

/** Where a poison event sits in the log. */
export interface PoisonEvent {
  streamId: string;
  /** Null for a stored message that carries no revision. */
  revision: number | null;
  /** Global position (0 when unknown). */
  position: number;
  eventType: string;
  /** Market time of the poison event when it has one (keeps replays deterministic), else the wall clock. */
  tsEvent?: number;
}

/**
 * A service's record of the stored events it could not apply (stream `quarantine-<service>`):
 * each is recorded once as `PoisonEventQuarantined` (stream, revision, position, type, reason),
 * logged as an error (the alert), and skipped; the service goes on. What was recorded before a
 * restart is read back first, so a bad event met at every start-up is still reported once.
 */
export class Quarantine {
  private seen: Set<string> | null = null;
  private revision: number | null = null;
  /** Poison events met by this process (reported now or before). */
  readonly met: PoisonEvent[] = [];

  constructor(
    private readonly service: string,
    private readonly appender: EventAppender,
    private readonly onAlert: (message: string) => void = (m) => console.error(m),
  ) {}

  private get streamId(): string {
    return Streams.quarantine(this.service);
  }

  private async load(): Promise<Set<string>> {
    if (this.seen) return this.seen;
    const seen = new Set<string>();
    const events = await this.appender.store.readStream(this.streamId);
    for (const e of events) {
      const d = e.data as { streamId?: string; revision?: number | null; position?: number };
      if (e.type === 'PoisonEventQuarantined') seen.add(Quarantine.key({ streamId: d.streamId ?? '', revision: d.revision ?? null, position: d.position ?? 0 }));
    }
    this.revision = events.length ? events[events.length - 1].revision : null;
    this.seen = seen;
    return seen;
  }

  /**
   * Record `bad` as quarantined (once per stream and revision).
   * @returns true when it was recorded now, false when it had been recorded before
   */
  async report(bad: PoisonEvent, reason: string): Promise<boolean> {
    const seen = await this.load();
    this.met.push(bad);
    const key = Quarantine.key(bad);
    if (seen.has(key)) return false;
    seen.add(key);
    this.onAlert(`${this.service}: poison event quarantined: ${bad.eventType} at ${key} (position ${bad.position}): ${reason}`);
    const ts = bad.tsEvent ?? Date.now();
    const r = await this.appender.append(
      this.streamId,
      [event('PoisonEventQuarantined', { service: this.service, streamId: bad.streamId, revision: bad.revision, position: bad.position, eventType: bad.eventType, reason: reason.slice(0, 2000) })],
      this.revision === null ? 'no_stream' : this.revision,
      { tsEvent: ts, correlationId: `quarantine-${this.service}`, causationId: Quarantine.key(bad) },
    );
    if (r) this.revision = r.result.nextExpectedRevision;
    return true;
  }

  /** What identifies a poison event: its stream and revision, or its log position when it has no revision. */
  private static key(p: { streamId: string; revision: number | null; position: number }): string {
    return p.revision === null ? `${p.streamId}#${p.position}` : `${p.streamId}@${p.revision}`;
  }

  /** The poison event as {@link report} takes it. */
  static of(e: RecordedEvent): PoisonEvent {
    const ts = e.metadata?.tsEvent;
    return { streamId: e.streamId, revision: e.revision, position: e.position, eventType: e.type, tsEvent: typeof ts === 'number' ? ts : undefined };
  }
}
