/** Time source of a {@link TokenBucket} (tests pass a fake one). */
export interface BucketClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: BucketClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/**
 * A token bucket: at most `capacity` sends at once, then one every `intervalMs`. `take()`
 * resolves when the caller may send; callers are served in the order they asked (FIFO), so a
 * burst of alerts goes out in log order at the channel's pace.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private tail: Promise<void> = Promise.resolve();

  /**
   * @param capacity burst size (≥ 1)
   * @param intervalMs ms to earn one token back (> 0)
   * @throws RangeError on a capacity below 1 or a non-positive interval
   */
  constructor(readonly capacity: number, readonly intervalMs: number, private readonly clock: BucketClock = systemClock) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer ≥ 1, got ${capacity}`);
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
    this.tokens = capacity;
    this.last = clock.now();
  }

  /** Wait for a token and take it. */
  take(): Promise<void> {
    const turn = this.tail.then(() => this.takeNow());
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async takeNow(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) / this.intervalMs);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil((1 - this.tokens) * this.intervalMs));
    }
  }
}
