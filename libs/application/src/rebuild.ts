import { type RecordedEvent, parseEvent } from '@bulwark/contracts';
import type { EventStore, UnreadableEvent } from '@bulwark/event-store';
import { Quarantine } from '@bulwark/messaging';

/** A service that can rebuild its working state from the log before it consumes a new message. */
export interface Rebuildable {
  readonly name: string;
  /** The stream categories its working state is folded from. */
  readonly rebuildCategories: readonly string[];
  /**
   * Fold one stored event into the working state, with no side effect (nothing appended, no
   * venue call). Events after the rebuild are handled as usual, and the service's consumer may
   * deliver again some events folded here: handlers are idempotent.
   */
  rebuild(e: RecordedEvent): void | Promise<void>;
}

/** What a rebuild read and skipped. */
export interface RebuildReport {
  service: string;
  events: number;
  quarantined: number;
  ms: number;
}

/**
 * Where the rebuild starts in the global log: `BULWARK_REBUILD_FROM_POSITION` (default 1 = the
 * whole log). A deployment that shares its log with earlier, finished runs (the demo) starts
 * after them, so their leftovers are not revived.
 * @throws Error when the variable is not a positive integer
 */
export function rebuildStartFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BULWARK_REBUILD_FROM_POSITION;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BULWARK_REBUILD_FROM_POSITION must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Rebuild `service`'s working state from the log: every event of its categories from
 * `fromPosition` to the log's end when the read starts, validated (schema, upcast) and folded
 * with `service.rebuild`. An event that is invalid or that `rebuild` throws on is quarantined
 * (recorded once, alerted, skipped); the rebuild goes on, so one bad event never keeps a
 * service from starting.
 */
export async function rebuildFromLog(service: Rebuildable, store: EventStore, quarantine: Quarantine, fromPosition = 1): Promise<RebuildReport> {
  const started = Date.now();
  let events = 0;
  let quarantined = 0;
  // Stored messages the store could not even read (not JSON, no headers) are quarantined too.
  const unreadable: UnreadableEvent[] = [];
  for await (const e of store.readAll({ categories: [...service.rebuildCategories], fromPosition, onUnreadable: (u) => unreadable.push(u) })) {
    events++;
    const parsed = parseEvent(e.type, e.data, e.metadata?.schemaVersion);
    let reason: string | null = parsed.ok ? null : parsed.reason;
    if (parsed.ok) {
      try {
        await service.rebuild({ ...e, data: parsed.event.data });
      } catch (err) {
        reason = (err as Error).message;
      }
    }
    if (reason !== null) {
      quarantined++;
      await quarantine.report(Quarantine.of(e), reason);
    }
  }
  for (const u of unreadable) {
    quarantined++;
    await quarantine.report({ streamId: u.streamId, revision: u.revision, position: u.position, eventType: u.eventType ?? '(unreadable)' }, u.reason);
  }
  return { service: service.name, events, quarantined, ms: Date.now() - started };
}
