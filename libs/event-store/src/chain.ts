// The tamper-evident hash chain of every stream (docs/event-store.md "Hash chain").
import { hash } from 'node:crypto';
import type { EventMetadata, RecordedEvent } from '@bulwark/contracts';

/** `prevHash` of a stream's first event: 64 zeros (no event hashes to it by accident: SHA-256 preimage). */
export const GENESIS_HASH = '0'.repeat(64);

/** Bytes the two chain fields add to a stored body: `,"hash":"<64>","prevHash":"<64>"`. */
export const CHAIN_FIELDS_BYTES = `,"hash":"${GENESIS_HASH}","prevHash":"${GENESIS_HASH}"`.length;

/**
 * Canonical JSON of a JSON value: object keys sorted by UTF-16 code units, no whitespace,
 * strings and numbers as `JSON.stringify` writes them. For the JSON values events hold this is
 * RFC 8785 (JCS) output, so any language can recompute a hash.
 * @throws TypeError for a value JSON cannot hold (undefined, a function, a bigint, a non-finite number)
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`canonical JSON cannot hold the number ${v}`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) {
    // Plain loops, no intermediate arrays: every append hashes its events.
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(v[i]);
    return `${out}]`;
  }
  if (typeof v === 'object') return canonicalObject(v as Record<string, unknown>, false);
  throw new TypeError(`canonical JSON cannot hold a ${typeof v}`);
}

/** {@link canonicalJson} of an object; `noChain` leaves out the chain fields `hash` and `prevHash`. */
function canonicalObject(o: Record<string, unknown>, noChain: boolean): string {
  const keys = sortedInPlace(Object.keys(o));
  let out = '{';
  for (const k of keys) {
    const x = o[k];
    if (x === undefined || (noChain && (k === 'hash' || k === 'prevHash'))) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(x)}`;
  }
  return `${out}}`;
}

/**
 * `keys` sorted in place by UTF-16 code units, as `Array.prototype.sort()` sorts strings: an
 * insertion sort for the few keys of an event's objects (no temporary storage), else `sort()`.
 */
function sortedInPlace(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i];
    let j = i - 1;
    for (; j >= 0 && keys[j] > k; j--) keys[j + 1] = keys[j];
    keys[j + 1] = k;
  }
  return keys;
}

/** Metadata without the chain fields (what the hash covers). */
export function withoutChain(metadata: EventMetadata): EventMetadata {
  const { hash: _h, prevHash: _p, ...rest } = metadata;
  return rest;
}

/** What one event's hash covers. `data` and `metadata` as stored (JSON values). */
export interface ChainContent {
  streamId: string;
  revision: number;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

/**
 * The chain hash of an event: lower-case hex SHA-256 of the UTF-8 canonical JSON of
 * `{ data, metadata (without hash, prevHash), prevHash, revision, streamId, type }`.
 * The stream id and revision are covered so an event cannot be moved to another stream or place
 * without breaking its link.
 */
export function eventHash(prevHash: string, e: ChainContent): string {
  // canonicalJson of that object, written out: its keys are already in canonical order.
  const metadata = e.metadata !== null && typeof e.metadata === 'object' && !Array.isArray(e.metadata) ? canonicalObject(e.metadata as Record<string, unknown>, true) : canonicalJson(e.metadata);
  const content = `{"data":${canonicalJson(e.data ?? null)},"metadata":${metadata},"prevHash":${canonicalJson(prevHash)},"revision":${canonicalJson(e.revision)},"streamId":${canonicalJson(e.streamId)},"type":${canonicalJson(e.type)}}`;
  return hash('sha256', content, 'hex');
}

/**
 * The hash a stream's next event chains to, given the stream's events in revision order (all
 * of them: revisions 0..n-1). The stored `hash` of the last event when it has one; for a stream
 * that ends in pre-hash events, the hash they would have had (computed along the stream from the
 * last stored hash, else from genesis), so the first chained event also covers what came before it.
 */
export function headHashOf(events: readonly Pick<RecordedEvent, 'streamId' | 'revision' | 'type' | 'data' | 'metadata'>[]): string {
  let start = events.length;
  while (start > 0 && !events[start - 1].metadata.hash) start--;
  let head = start > 0 ? (events[start - 1].metadata.hash as string) : GENESIS_HASH;
  for (let i = start; i < events.length; i++) head = eventHash(head, events[i]);
  return head;
}

/** Where and how a chain is broken. */
export interface ChainBreak {
  streamId: string;
  revision: number | null;
  position: number | null;
  /**
   * - `hash-mismatch`: the stored hash is not the hash of the event's content (content altered);
   * - `prev-mismatch`: `prevHash` is not the previous event's hash (an event removed, inserted or altered before);
   * - `missing-hash`: an event without chain fields after a chained one, or with only one of them;
   * - `revision-gap`: revisions do not follow 0, 1, 2… (an event missing or unreadable);
   * - `unreadable`: a stored message the store could not read;
   * - `checkpoint-mismatch`: the event's hash is not the one a ChainCheckpointRecorded recorded for it
   *   (the stream was rewritten after the checkpoint, hashes recomputed);
   * - `checkpoint-missing`: a checkpoint names a revision the stream no longer has (truncated).
   */
  kind: 'hash-mismatch' | 'prev-mismatch' | 'missing-hash' | 'revision-gap' | 'unreadable' | 'checkpoint-mismatch' | 'checkpoint-missing';
  expected: string;
  found: string;
}

/** A stream's chain head as verified. `hash` is the stored (or, for a pre-hash tail, computed) hash of its last event. */
export interface ChainHead {
  revision: number;
  hash: string;
  chained: number;
  unchained: number;
}

/**
 * Checks chains one event at a time, streams interleaved in any order as long as each stream's
 * events come in revision order (a global-order read does). Remembers the first break per stream
 * and keeps going on the others.
 */
export class ChainVerifier {
  readonly heads = new Map<string, ChainHead & { broken: boolean }>();
  readonly breaks: ChainBreak[] = [];
  checked = 0;

  /** Check the next event of its stream; returns the break it reveals, if any. */
  add(e: RecordedEvent): ChainBreak | null {
    const head = this.heads.get(e.streamId);
    if (head?.broken) return null; // the first break of a stream is the one to report
    this.checked++;
    const expectedRevision = head ? head.revision + 1 : 0;
    const prev = head?.hash ?? GENESIS_HASH;
    const fail = (kind: ChainBreak['kind'], expected: string, found: string) => this.fail({ streamId: e.streamId, revision: e.revision, position: e.position, kind, expected, found });
    if (e.revision !== expectedRevision) return fail('revision-gap', `revision ${expectedRevision}`, `revision ${e.revision}`);
    const { hash, prevHash } = e.metadata;
    // A pre-hash event's hash is the one it would have had, so the first chained event can link to it.
    const computed = eventHash(prev, e);
    const next = { revision: e.revision, hash: computed, chained: head?.chained ?? 0, unchained: head?.unchained ?? 0, broken: false };
    if (hash === undefined && prevHash === undefined) {
      if (head && head.chained > 0) return fail('missing-hash', 'hash and prevHash (the stream is chained before this event)', 'no chain fields');
      next.unchained++;
    } else {
      if (hash === undefined || prevHash === undefined) return fail('missing-hash', 'hash and prevHash', hash === undefined ? 'prevHash only' : 'hash only');
      if (prevHash !== prev) return fail('prev-mismatch', `prevHash ${prev}`, `prevHash ${prevHash}`);
      if (hash !== computed) return fail('hash-mismatch', `hash ${computed} (of the content as stored)`, `hash ${hash} (recorded at append)`);
      next.chained++;
    }
    this.heads.set(e.streamId, next);
    return null;
  }

  /** A stored message the read skipped: its stream's chain is broken there. */
  addUnreadable(u: { streamId: string; revision: number | null; position: number; reason: string }): ChainBreak | null {
    const head = this.heads.get(u.streamId);
    if (head?.broken) return null;
    this.checked++;
    return this.fail({ streamId: u.streamId, revision: u.revision, position: u.position, kind: 'unreadable', expected: 'a readable event', found: u.reason });
  }

  private fail(b: ChainBreak): ChainBreak {
    const head = this.heads.get(b.streamId);
    this.heads.set(b.streamId, { revision: b.revision ?? head?.revision ?? -1, hash: head?.hash ?? GENESIS_HASH, chained: head?.chained ?? 0, unchained: head?.unchained ?? 0, broken: true });
    this.breaks.push(b);
    return b;
  }
}
