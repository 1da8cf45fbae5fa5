/** Failed logins allowed per user and address inside the window before 429. */
export const MAX_FAILED_LOGINS = 5;
/** The window failed logins are counted in (15 minutes). */
export const FAILED_LOGIN_WINDOW_MS = 15 * 60_000;
/** Keys remembered at most (oldest dropped first), so a flood of names cannot exhaust memory. */
const MAX_KEYS = 10_000;

/**
 * Counts failed logins per (username, client address). After {@link MAX_FAILED_LOGINS} failures
 * inside {@link FAILED_LOGIN_WINDOW_MS}, further attempts for that pair are refused until the
 * oldest failure leaves the window, whatever the password (so guessing stops, and the refusal
 * says nothing about the password). In memory: one gateway process serves the system.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: () => number = Date.now) {}

  private key(username: string, address: string): string {
    return `${username}\u0000${address}`;
  }

  private recent(key: string): number[] {
    const since = this.clock() - FAILED_LOGIN_WINDOW_MS;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Seconds until the pair may try again; 0 when it may try now. */
  retryAfterSeconds(username: string, address: string): number {
    const list = this.recent(this.key(username, address));
    if (list.length < MAX_FAILED_LOGINS) return 0;
    const freeAt = list[list.length - MAX_FAILED_LOGINS] + FAILED_LOGIN_WINDOW_MS;
    return Math.max(1, Math.ceil((freeAt - this.clock()) / 1000));
  }

  /** Record a failed attempt. */
  fail(username: string, address: string): void {
    const k = this.key(username, address);
    const list = this.recent(k);
    list.push(this.clock());
    this.failures.delete(k); // re-insert: Map order is the eviction order
    this.failures.set(k, list);
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** A successful login clears the pair's failures. */
  succeed(username: string, address: string): void {
    this.failures.delete(this.key(username, address));
  }
}
