import type { D } from './money';

/** What is known of one test: it holds at `holdsUpTo` (so at every x ≤ it), it fails at `failsFrom` (so at every x ≥ it). */
interface Bounds {
  holdsUpTo: D | null;
  failsFrom: D | null;
}

/**
 * Answers of yes/no tests that can only turn from yes to no as `x` grows (non-increasing in x:
 * "the drawdown from the peak reaches the limit" as equity rises), remembered by where they were
 * asked: a test that failed at x' fails at every x ≥ x', one that held at x' holds at every x ≤ x',
 * so the test itself (a division, mostly) runs only for an x outside both bounds. The answers are
 * the test's own, exactly; the memo only saves recomputing them.
 *
 * A test is named by a decimal object (e.g. the peak the drawdown is measured from: decimals are
 * immutable, so the same object is the same value) and the rest of what it depends on, as text
 * (e.g. the limit) or a decimal object; the caller guarantees the monotony for that pair. Entries
 * live as long as the key object does (a WeakMap), at most `perKey` of the rest per object.
 */
export class MonotoneTests {
  private readonly known = new WeakMap<D, Map<string | D, Bounds>>();

  constructor(private readonly perKey = 8) {}

  /**
   * The test's answer at `x`, from the remembered bounds when they settle it, else from `test()`
   * (which is then remembered).
   * @param key the decimal the test is measured from (compared by reference)
   * @param rest everything else the test depends on: text, or a decimal (compared by reference)
   * @param x where it is asked (e.g. the equity, USDT)
   * @param test the test itself at `x`: must be non-increasing in x for this key and text
   */
  holds(key: D, rest: string | D, x: D, test: () => boolean): boolean {
    let byRest = this.known.get(key);
    if (!byRest) this.known.set(key, (byRest = new Map()));
    let b = byRest.get(rest);
    if (!b) {
      if (byRest.size >= this.perKey) byRest.clear();
      byRest.set(rest, (b = { holdsUpTo: null, failsFrom: null }));
    }
    if (b.failsFrom !== null && x.gte(b.failsFrom)) return false;
    if (b.holdsUpTo !== null && x.lte(b.holdsUpTo)) return true;
    const yes = test();
    if (yes) b.holdsUpTo = b.holdsUpTo === null || x.gt(b.holdsUpTo) ? x : b.holdsUpTo;
    else b.failsFrom = b.failsFrom === null || x.lt(b.failsFrom) ? x : b.failsFrom;
    return yes;
  }
}
