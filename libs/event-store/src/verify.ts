// `audit verify`: recompute every chain of the log and check the checkpoints (docs/event-store.md "Verify").
import { accountOfStream, type ChainHead as CheckpointHead, type RecordedEvent, Streams } from '@bulwark/contracts';
import { type ChainBreak, ChainVerifier } from './chain';
import type { EventStore } from './port';

const CHAIN_CATEGORY = 'chain';

/**
 * The account a stream belongs to (the stream ids of `Streams` in @bulwark/contracts), or null for
 * shared streams (rules, replay, candles, quarantine). Order streams name only a hash of the
 * account: `orderAccounts` (order stream id → account, from its OrderInitialized) answers for them.
 */
export function accountOfStreamId(streamId: string, orderAccounts?: ReadonlyMap<string, string>): string | null {
  return accountOfStream(streamId, orderAccounts);
}

/**
 * Learns order streams' accounts from their first event (OrderInitialized names the account), so
 * a global-order read can tell every event's account.
 */
export class StreamAccounts {
  readonly orders = new Map<string, string>();

  /** The account of `e`'s stream (null: shared stream, or an order stream whose OrderInitialized was not seen). */
  of(e: RecordedEvent): string | null {
    if (e.type === 'OrderInitialized' && e.streamId.startsWith('order-')) {
      const a = (e.data as { accountId?: unknown } | null)?.accountId;
      if (typeof a === 'string') this.orders.set(e.streamId, a);
    }
    return accountOfStreamId(e.streamId, this.orders);
  }
}

/** What `verifyChains` found. */
export interface VerifyReport {
  ok: boolean;
  /** Events (and unreadable messages) checked, across the streams verified. */
  eventsChecked: number;
  chained: number;
  /** Events without chain fields written before the chain existed: "unchained (pre-hash)", not a break. */
  unchained: number;
  streams: number;
  /** Checkpoint heads compared with the log. */
  checkpointHeads: number;
  /** The first break in log order (null when ok); `breaks` holds the first break of every broken stream, and checkpoint mismatches. */
  firstBreak: ChainBreak | null;
  breaks: ChainBreak[];
  /** Stream → its head as verified (for `store copy` to compare two logs). */
  heads: Map<string, { revision: number; hash: string }>;
}

/** A checkpoint's claim that a stream's event at `revision` has `hash`. */
interface Claim extends CheckpointHead {
  checkpoint: string;
  seen: boolean;
}

/**
 * Recompute the chain of every stream (or of one account's streams) in one global-order read,
 * and compare every ChainCheckpointRecorded head with the event it names.
 * @param opts.accountId only this account's streams (see {@link accountOfStreamId}), its checkpoints included
 * @throws what the store's reads throw (connection errors); unreadable messages are breaks, not errors
 */
export async function verifyChains(store: EventStore, opts: { accountId?: string } = {}): Promise<VerifyReport> {
  const v = new ChainVerifier();
  const accounts = new StreamAccounts();
  const include = (e: RecordedEvent) => opts.accountId === undefined || accounts.of(e) === opts.accountId;
  // Pass 1: the checkpoints' claims (they come after the events they name, so read them first).
  const claims = new Map<string, Claim>();
  for await (const e of store.readAll({ categories: [CHAIN_CATEGORY], onUnreadable: () => undefined })) {
    if (e.type !== 'ChainCheckpointRecorded' || (opts.accountId !== undefined && e.streamId !== Streams.chain(opts.accountId))) continue;
    for (const h of (e.data as { heads?: CheckpointHead[] }).heads ?? []) {
      claims.set(`${h.streamId}:${h.revision}`, { ...h, checkpoint: `${e.streamId}@${e.revision}`, seen: false });
    }
  }
  const checkpointBreaks: ChainBreak[] = [];
  const ordered: ChainBreak[] = [];
  // Pass 2: every chain, in global order.
  for await (const e of store.readAll({
    onUnreadable: (u) => {
      // An unreadable order message cannot be placed by account when its OrderInitialized is unreadable: it counts for every account.
      const owner = accountOfStreamId(u.streamId, accounts.orders);
      if (opts.accountId !== undefined && owner !== opts.accountId && !(owner === null && u.streamId.startsWith('order-'))) return;
      const b = v.addUnreadable(u);
      if (b) ordered.push(b);
    },
  })) {
    if (!include(e)) continue;
    const b = v.add(e);
    if (b) {
      ordered.push(b);
      continue;
    }
    const claim = claims.get(`${e.streamId}:${e.revision}`);
    if (claim) {
      claim.seen = true;
      const stored = e.metadata.hash ?? null;
      if (stored !== claim.hash) {
        const cb: ChainBreak = { streamId: e.streamId, revision: e.revision, position: e.position, kind: 'checkpoint-mismatch', expected: `hash ${claim.hash} (checkpoint ${claim.checkpoint})`, found: `hash ${stored ?? 'none'}` };
        checkpointBreaks.push(cb);
        ordered.push(cb);
      }
    }
  }
  for (const c of claims.values()) {
    if (c.seen) continue;
    const head = v.heads.get(c.streamId);
    if (head?.broken) continue; // already reported at its first break
    const cb: ChainBreak = { streamId: c.streamId, revision: c.revision, position: null, kind: 'checkpoint-missing', expected: `revision ${c.revision} with hash ${c.hash} (checkpoint ${c.checkpoint})`, found: head ? `stream ends at revision ${head.revision}` : 'no such stream' };
    checkpointBreaks.push(cb);
    ordered.push(cb);
  }
  let chained = 0;
  let unchained = 0;
  const heads = new Map<string, { revision: number; hash: string }>();
  for (const [id, h] of v.heads) {
    chained += h.chained;
    unchained += h.unchained;
    heads.set(id, { revision: h.revision, hash: h.hash });
  }
  return {
    ok: ordered.length === 0,
    eventsChecked: v.checked,
    chained,
    unchained,
    streams: v.heads.size,
    checkpointHeads: claims.size,
    firstBreak: ordered[0] ?? null,
    breaks: ordered,
    heads,
  };
}
