import { BitgetErrors } from './bitget-errors';

/**
 * Bitget's per-endpoint rate limits: N requests per second per UID (private endpoints) or per
 * IP (public ones). The numbers are Bitget's documented limits as ccxt encodes them
 * (`bitget.js` api costs at `rateLimit` 50 ms: cost c ⇒ 20 / c requests per second), e.g.
 * place-order / cancel-order / detail 10/s, batch-place-order / close-positions /
 * cancel-all-orders 1/s, set-leverage / set-margin-mode / set-position-mode / all-position 5/s,
 * public market data 20/s
 * (https://www.bitget.com/api-doc/contract/trade/Place-Order "Frequency limit: 10 times/1s (UID)").
 * `scale` multiplies every limit (tests and demos may relax or tighten them; default 1).
 */
export interface BitgetRateLimitOptions {
  scale?: number;
  /** Clock of the counters (ms); default Date.now. */
  now?: () => number;
}

/** Fixed one-second windows per (caller, endpoint); over the limit → 429 "Too Many Requests". */
export class BitgetRateLimiter {
  private readonly windows = new Map<string, { second: number; n: number }>();
  private readonly scale: number;
  private readonly now: () => number;

  constructor(o: BitgetRateLimitOptions = {}) {
    this.scale = o.scale ?? 1;
    if (!(this.scale > 0) || !Number.isFinite(this.scale)) throw new RangeError(`rate limit scale must be a finite number > 0, got ${o.scale}`);
    this.now = o.now ?? Date.now;
  }

  /**
   * Count one request of `caller` (UID or IP) on `endpoint`, allowed `perSecond` a second (0 = unlimited).
   * @throws BitgetApiError 429 over the limit (Retry-After 1)
   */
  admit(caller: string, endpoint: string, perSecond: number): void {
    if (perSecond <= 0) return;
    const second = Math.floor(this.now() / 1000);
    const key = `${caller} ${endpoint}`;
    const w = this.windows.get(key);
    const n = w && w.second === second ? w.n + 1 : 1;
    this.windows.set(key, { second, n });
    if (n > Math.max(1, Math.floor(perSecond * this.scale))) throw BitgetErrors.tooManyRequests(1);
  }
}
