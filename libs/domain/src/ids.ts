/**
 * Deterministic identifiers. The same inputs give the same id in every run and in replay,
 * so a retried command can never create a second order.
 */

/** A 53-bit string hash (cyrb53, public domain), rendered in base 36. Not cryptographic. */
export function shortHash(input: string, seed = 0): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < input.length; i++) {
    const ch = input.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36).padStart(11, '0');
}

/** What an order is for, as one letter in its client order id. */
export type OrderRoleLetter = 'E' | 'S' | 'T' | 'C' | 'L';

/**
 * Client order id: `bw<hash of account, 11>-<n><role>`, e.g. `bw0k3j5x8q2p1-42E`.
 * Fits Binance's 36-character limit and NATS subject tokens.
 * @param n a per-account sequence (entries) or per-position sequence (protective orders)
 */
export function clientOrderIdFor(accountId: string, n: number | string, role: OrderRoleLetter): string {
  return `bw${shortHash(accountId)}-${n}${role}`;
}

/** The last day {@link tradingDayOf} formatted: [start, start + 1 day) → label (the deciders ask for the same day at every step). */
let lastDay = { start: 0, label: '1970-01-01' };

/** UTC trading day (YYYY-MM-DD) of an epoch-ms timestamp. */
export function tradingDayOf(ts: number): string {
  if (ts >= lastDay.start && ts < lastDay.start + 86_400_000) return lastDay.label;
  const label = new Date(ts).toISOString().slice(0, 10);
  lastDay = { start: ts - (((ts % 86_400_000) + 86_400_000) % 86_400_000), label };
  return label;
}

/** UTC month (YYYY-MM) of an epoch-ms timestamp. */
export function monthOf(ts: number): string {
  return new Date(ts).toISOString().slice(0, 7);
}
