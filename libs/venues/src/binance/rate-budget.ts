import { header } from './errors';

/**
 * Binance USDⓈ-M published limits (exchangeInfo `rateLimits`: REQUEST_WEIGHT 2400 / 1 MINUTE,
 * ORDERS 1200 / 1 MINUTE, ORDERS 300 / 10 SECOND).
 * Sources: https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#limits
 * and https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information
 */
export const BINANCE_USDM_LIMITS = {
  weightPer1m: 2400,
  ordersPer10s: 300,
  ordersPer1m: 1200,
  source: 'https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#limits',
} as const;

/** A venue's published limits as the budget counts them: request weight a minute, orders per 10 s and per minute. */
export interface VenueLimits {
  weightPer1m: number;
  ordersPer10s: number;
  ordersPer1m: number;
  /** The venue's name in alerts (default Binance). */
  venue?: string;
}

/** Bulwark never uses more than this share of any published limit. */
export const BUDGET_CEILING = 0.8;

/** Time, injectable so tests are instant and deterministic. */
export interface Clock {
  /** ms since epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
};

/** The cost of one request: IP weight and whether it counts as an order (order-count limits). */
export interface RequestCost {
  weight: number;
  orders: number;
}

export interface BudgetAlert {
  kind: 'IP_BANNED';
  /** ms since epoch when the ban ends. */
  until: number;
  message: string;
}

interface Entry {
  ts: number;
  weight: number;
  orders: number;
}

const TEN_S = 10_000;
const ONE_M = 60_000;

/**
 * A shared request budget for one account (and its IP): sliding windows of 10 s and 1 min over
 * the requests this process sent, capped at `ceiling` × Binance's limits. `acquire` waits
 * (FIFO, through the injected clock) until the request fits, then reserves it; `observe`
 * re-bases on the venue's X-MBX-USED-WEIGHT-1M / X-MBX-ORDER-COUNT-10S / -1M headers (usage by
 * other clients of the same account or IP counts too); `pause` honours a 429's Retry-After;
 * `ban` stops every call until a 418 ban ends and raises the alert.
 *
 * Sliding windows count at least what Binance's fixed windows count, so staying under the
 * ceiling here keeps every Binance window under it.
 */
export class RateBudget {
  private entries: Entry[] = [];
  private pausedUntil = 0;
  private bannedUntilMs = 0;
  private tail: Promise<void> = Promise.resolve();
  readonly caps: { weight1m: number; orders10s: number; orders1m: number };
  private readonly venueName: string;

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly onAlert: (a: BudgetAlert) => void = () => undefined,
    limits: VenueLimits = BINANCE_USDM_LIMITS,
    ceiling: number = BUDGET_CEILING,
  ) {
    this.venueName = limits.venue ?? 'Binance';
    this.caps = {
      weight1m: Math.floor(limits.weightPer1m * ceiling),
      orders10s: Math.floor(limits.ordersPer10s * ceiling),
      orders1m: Math.floor(limits.ordersPer1m * ceiling),
    };
  }

  /** ms since epoch until which every call is refused (418), 0 when not banned. */
  bannedUntil(): number {
    return this.bannedUntilMs > this.clock.now() ? this.bannedUntilMs : 0;
  }

  /**
   * Wait until a request of this cost fits every window (and any 429 pause is over), then
   * reserve it. Requests are served in call order.
   * @throws BannedError while a 418 ban lasts (no request may be sent; nothing waits for days)
   */
  acquire(cost: RequestCost): Promise<void> {
    const run = this.tail.then(() => this.acquireNow(cost));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async acquireNow(cost: RequestCost): Promise<void> {
    if (cost.weight > this.caps.weight1m || cost.orders > this.caps.orders10s) throw new Error(`request cost ${JSON.stringify(cost)} exceeds the budget's capacity`);
    for (;;) {
      const now = this.clock.now();
      if (this.bannedUntilMs > now) throw new BannedError(this.bannedUntilMs);
      if (this.pausedUntil > now) {
        await this.clock.sleep(this.pausedUntil - now);
        continue;
      }
      const wait = this.waitFor(cost, now);
      if (wait <= 0) {
        this.entries.push({ ts: now, weight: cost.weight, orders: cost.orders });
        return;
      }
      await this.clock.sleep(wait);
    }
  }

  /** ms until `cost` fits every window at `now` (0 = fits now). */
  private waitFor(cost: RequestCost, now: number): number {
    this.entries = this.entries.filter((e) => e.ts > now - ONE_M);
    let wait = 0;
    wait = Math.max(wait, this.waitWindow(now, ONE_M, cost.weight, this.caps.weight1m, (e) => e.weight));
    if (cost.orders > 0) {
      wait = Math.max(wait, this.waitWindow(now, TEN_S, cost.orders, this.caps.orders10s, (e) => e.orders));
      wait = Math.max(wait, this.waitWindow(now, ONE_M, cost.orders, this.caps.orders1m, (e) => e.orders));
    }
    return wait;
  }

  /** Entries at ts count in the window while now < ts + window; wait until enough have left. */
  private waitWindow(now: number, window: number, add: number, cap: number, of: (e: Entry) => number): number {
    if (add <= 0) return 0;
    const inWindow = this.entries.filter((e) => e.ts > now - window);
    let used = inWindow.reduce((s, e) => s + of(e), 0);
    if (used + add <= cap) return 0;
    for (const e of inWindow) {
      used -= of(e);
      if (used + add <= cap) return e.ts + window - now;
    }
    return window;
  }

  /** Current usage of each window as this budget sees it. */
  usage(): { weight1m: number; orders10s: number; orders1m: number } {
    const now = this.clock.now();
    const sum = (w: number, of: (e: Entry) => number) => this.entries.filter((e) => e.ts > now - w).reduce((s, e) => s + of(e), 0);
    return { weight1m: sum(ONE_M, (e) => e.weight), orders10s: sum(TEN_S, (e) => e.orders), orders1m: sum(ONE_M, (e) => e.orders) };
  }

  /**
   * Re-base on the venue's usage headers after a response: when the venue counts more than
   * this budget does (other clients), the difference is booked now. Never lowers the count.
   */
  observe(headers: Record<string, string | undefined> | undefined): void {
    if (!headers) return;
    const u = this.usage();
    const num = (n: string) => {
      const v = header(headers, n);
      const x = v === undefined ? NaN : Number(v);
      return Number.isFinite(x) ? x : null;
    };
    const w = num('x-mbx-used-weight-1m');
    const o10 = num('x-mbx-order-count-10s');
    const o1 = num('x-mbx-order-count-1m');
    const extraW = w !== null ? Math.max(0, w - u.weight1m) : 0;
    const extraO = Math.max(o10 !== null ? o10 - u.orders10s : 0, o1 !== null ? o1 - u.orders1m : 0, 0);
    if (extraW > 0 || extraO > 0) this.entries.push({ ts: this.clock.now(), weight: extraW, orders: extraO });
  }

  /** HTTP 429: send nothing before Retry-After has passed (at least 1 s when absent). */
  pause(retryAfterMs: number | null): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + (retryAfterMs ?? 1000));
  }

  /** HTTP 418: the IP is banned; refuse every call until the ban ends (2 min when no Retry-After) and alert. */
  ban(retryAfterMs: number | null): void {
    const until = this.clock.now() + (retryAfterMs ?? 120_000);
    if (until <= this.bannedUntilMs) return;
    this.bannedUntilMs = until;
    this.onAlert({ kind: 'IP_BANNED', until, message: `${this.venueName} banned this IP (HTTP 418) until ${new Date(until).toISOString()}; all calls stopped until then` });
  }
}

/** Thrown by `acquire` while a 418 ban lasts. */
export class BannedError extends Error {
  constructor(readonly until: number) {
    super(`IP banned by the venue until ${new Date(until).toISOString()} (HTTP 418); no request sent`);
    this.name = 'BannedError';
  }
}
