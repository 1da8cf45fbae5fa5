// `store copy`: one log into another store, revisions, metadata and chain kept (docs/event-store.md "Store copy").
import type { NewEvent, RecordedEvent } from '@bulwark/contracts';
import type { EventStore } from './port';
import { verifyChains } from './verify';

/** The destination already holds events and `resume` was not asked for. */
export class CopyDestinationNotEmptyError extends Error {
  constructor(readonly lastPosition: number) {
    super(`the destination store is not empty (last position ${lastPosition}): copy refuses to mix logs; pass --resume to continue an interrupted copy into it`);
    this.name = 'CopyDestinationNotEmptyError';
  }
}

/** The source cannot be copied as it is: an unreadable message or a revision gap (a copy must keep revisions). */
export class CopySourceError extends Error {
  constructor(
    readonly streamId: string,
    readonly revision: number | null,
    readonly position: number,
    reason: string,
  ) {
    super(`cannot copy ${streamId} revision ${revision ?? '?'} (position ${position}): ${reason}`);
    this.name = 'CopySourceError';
  }
}

/** A head that differs between source and destination after the copy. */
export interface HeadMismatch {
  streamId: string;
  source: { revision: number; hash: string } | null;
  destination: { revision: number; hash: string } | null;
}

/** What {@link copyStore} did and found. */
export interface CopyReport {
  /** Events read from the source; `written` of them were new in the destination (the rest were there: `--resume`). */
  events: number;
  written: number;
  streams: number;
  /** Source and destination have the same streams with the same chain heads (revision and hash). */
  verified: boolean;
  mismatches: HeadMismatch[];
}

/** Events per append: consecutive events of one stream in the source's global order. */
const MAX_BATCH = 100;

/**
 * Copy every stream of `from` into `to`, in `from`'s global order (so the destination's global order
 * is the same), each event at its revision with its metadata and chain fields as stored
 * (`preserveChain`: the destination checks every hash as it writes), then compare the chain heads
 * of both logs (`verifyChains` on each).
 * With `resume`, events already in the destination at their revision (same event id) are passed
 * over: an interrupted copy continues.
 * @throws CopyDestinationNotEmptyError when `to` holds events and `resume` is not set
 * @throws CopySourceError for an unreadable source message or a revision gap
 * @throws WrongExpectedRevisionError when the destination holds other events at a revision (resume into a different log)
 * @throws InvalidEventError when a source event's chain fields do not match its place (a broken source chain)
 */
export async function copyStore(from: EventStore, to: EventStore, opts: { resume?: boolean; onProgress?: (events: number) => void } = {}): Promise<CopyReport> {
  const last = await to.lastPosition();
  if (last > 0 && !opts.resume) throw new CopyDestinationNotEmptyError(last);
  const next = new Map<string, number>(); // stream -> the revision its next event must have
  let batch: RecordedEvent[] = [];
  let events = 0;
  let written = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const first = batch[0];
    const there = opts.resume ? ((await to.streamRevision(first.streamId)) ?? -1) : -1;
    const copies: NewEvent[] = batch.map((e) => ({ type: e.type, data: e.data, metadata: e.metadata }));
    // The concrete revision: a resumed copy finds its own events there (idempotent), anything else is a conflict.
    await to.append(first.streamId, copies, first.revision === 0 ? 'no_stream' : first.revision - 1, { preserveChain: true });
    written += batch.filter((e) => e.revision > there).length;
    batch = [];
  };
  for await (const e of from.readAll({
    onUnreadable: (u) => {
      throw new CopySourceError(u.streamId, u.revision, u.position, `unreadable message: ${u.reason}`);
    },
  })) {
    const want = next.get(e.streamId) ?? 0;
    if (e.revision !== want) throw new CopySourceError(e.streamId, e.revision, e.position, `expected revision ${want} (a gap in the source stream)`);
    next.set(e.streamId, want + 1);
    if (batch.length > 0 && (batch[0].streamId !== e.streamId || batch.length >= MAX_BATCH)) await flush();
    batch.push(e);
    events++;
    if (events % 1000 === 0) opts.onProgress?.(events);
  }
  await flush();
  const [a, b] = await Promise.all([verifyChains(from), verifyChains(to)]);
  const mismatches: HeadMismatch[] = [];
  for (const id of new Set([...a.heads.keys(), ...b.heads.keys()])) {
    const s = a.heads.get(id) ?? null;
    const d = b.heads.get(id) ?? null;
    if (!s || !d || s.revision !== d.revision || s.hash !== d.hash) mismatches.push({ streamId: id, source: s, destination: d });
  }
  return { events, written, streams: next.size, verified: mismatches.length === 0, mismatches };
}
