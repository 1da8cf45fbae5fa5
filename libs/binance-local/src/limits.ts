import { BinanceErrors } from './errors';

/**
 * Rate limits of the local venue, Binance USDⓈ-M's published defaults
 * (GET /fapi/v1/exchangeInfo `rateLimits`; https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#limits):
 * REQUEST_WEIGHT 2400 per minute per IP, ORDERS 300 per 10 s and 1200 per minute per account.
 */
export interface RateLimitOptions {
  weightPerMinute?: number;
  ordersPer10s?: number;
  ordersPerMinute?: number;
  /** Requests refused with 429 that an IP may send while its Retry-After still runs before it is banned (418). Default 1. */
  ignoredRetryAfterBeforeBan?: number;
  /** First ban length; doubles for each further ban of the same IP, capped at 3 days (as Binance: "from 2 minutes to 3 days"). Default 120 000. */
  banMs?: number;
  /** Clock of the counters (ms); default Date.now. Tests pin it to avoid window boundaries. */
  now?: () => number;
}

export const BINANCE_USDM_LIMITS = { weightPerMinute: 2400, ordersPer10s: 300, ordersPerMinute: 1200 } as const;

interface Window {
  id: number;
  n: number;
}

const bump = (w: Window | undefined, id: number, by: number): Window => (w && w.id === id ? { id, n: w.n + by } : { id, n: by });

/**
 * Fixed-window counters like Binance's: the weight of every request (also refused ones) in the
 * current UTC minute per IP; the orders placed in the current 10 s and minute per account.
 * Over the weight limit → 429 -1003 with Retry-After = seconds to the next minute; an IP that
 * keeps calling while told to wait → 418 -1003 with Retry-After = the ban length.
 */
export class RateLimiter {
  private readonly weight = new Map<string, Window>();
  private readonly orders10s = new Map<string, Window>();
  private readonly orders1m = new Map<string, Window>();
  private readonly backoffUntil = new Map<string, { until: number; ignored: number }>();
  private readonly bans = new Map<string, { until: number; count: number }>();
  readonly limits: Required<Omit<RateLimitOptions, 'now'>>;
  readonly now: () => number;

  constructor(o: RateLimitOptions = {}) {
    this.limits = {
      weightPerMinute: o.weightPerMinute ?? BINANCE_USDM_LIMITS.weightPerMinute,
      ordersPer10s: o.ordersPer10s ?? BINANCE_USDM_LIMITS.ordersPer10s,
      ordersPerMinute: o.ordersPerMinute ?? BINANCE_USDM_LIMITS.ordersPerMinute,
      ignoredRetryAfterBeforeBan: o.ignoredRetryAfterBeforeBan ?? 1,
      banMs: o.banMs ?? 120_000,
    };
    this.now = o.now ?? Date.now;
  }

  /** Weight used by `ip` in the current minute (the X-MBX-USED-WEIGHT-1M header). */
  usedWeight(ip: string): number {
    const w = this.weight.get(ip);
    return w && w.id === Math.floor(this.now() / 60_000) ? w.n : 0;
  }

  /** Orders counted for `account` in the current 10 s and minute (X-MBX-ORDER-COUNT-10S / -1M). */
  orderCounts(account: string): { s10: number; m1: number } {
    const t = this.now();
    const a = this.orders10s.get(account);
    const b = this.orders1m.get(account);
    return { s10: a && a.id === Math.floor(t / 10_000) ? a.n : 0, m1: b && b.id === Math.floor(t / 60_000) ? b.n : 0 };
  }

  /**
   * Count a request of `weight` for `ip`.
   * @throws BinanceApiError 418 while banned or when the IP ignores a 429; 429 over the limit.
   */
  admit(ip: string, weight: number): void {
    const t = this.now();
    const ban = this.bans.get(ip);
    if (ban && ban.until > t) throw BinanceErrors.banned(ip, ban.until, Math.ceil((ban.until - t) / 1000));
    const back = this.backoffUntil.get(ip);
    if (back && back.until > t) {
      back.ignored++;
      if (back.ignored >= this.limits.ignoredRetryAfterBeforeBan) {
        const count = (ban?.count ?? 0) + 1;
        const ms = Math.min(this.limits.banMs * 2 ** (count - 1), 3 * 24 * 3_600_000);
        this.bans.set(ip, { until: t + ms, count });
        this.backoffUntil.delete(ip);
        throw BinanceErrors.banned(ip, t + ms, Math.ceil(ms / 1000));
      }
    }
    const minute = Math.floor(t / 60_000);
    const w = bump(this.weight.get(ip), minute, weight);
    this.weight.set(ip, w);
    if (w.n > this.limits.weightPerMinute) {
      const until = (minute + 1) * 60_000;
      this.backoffUntil.set(ip, { until, ignored: back && back.until > t ? back.ignored : 0 });
      throw BinanceErrors.tooManyRequests(this.limits.weightPerMinute, Math.max(1, Math.ceil((until - t) / 1000)));
    }
  }

  /**
   * Count one new order of `account`.
   * @throws BinanceApiError 429 -1015 over the 10 s or the minute limit.
   */
  admitOrder(account: string): void {
    const t = this.now();
    const s = bump(this.orders10s.get(account), Math.floor(t / 10_000), 1);
    const m = bump(this.orders1m.get(account), Math.floor(t / 60_000), 1);
    this.orders10s.set(account, s);
    this.orders1m.set(account, m);
    if (s.n > this.limits.ordersPer10s) throw BinanceErrors.tooManyOrders(this.limits.ordersPer10s, '10SECOND', Math.max(1, Math.ceil(((s.id + 1) * 10_000 - t) / 1000)));
    if (m.n > this.limits.ordersPerMinute) throw BinanceErrors.tooManyOrders(this.limits.ordersPerMinute, '1MINUTE', Math.max(1, Math.ceil(((m.id + 1) * 60_000 - t) / 1000)));
  }
}
