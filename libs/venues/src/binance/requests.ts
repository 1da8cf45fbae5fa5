import { AsyncLocalStorage } from 'node:async_hooks';
import type { VenueId } from '@bulwark/contracts';
import { err, ok, type Result, type VenueRejection } from '@bulwark/domain';
import { processMetrics, reportVenueWeight } from '@bulwark/telemetry';
import { classifyVenueError, header, toVenueFailure, type ResponseInfo, type VenueErrorClass, type VenueFailure } from './errors';
import { BannedError, type Clock, type RateBudget, type RequestCost } from './rate-budget';
import { withRetry, type RetryPolicy } from './retry';

/** A read that failed after its retry budget: carries the typed, redacted rejection. */
export class VenueCallError extends Error {
  constructor(readonly rejection: VenueRejection) {
    super(`${rejection.code} ${rejection.message}`);
    this.name = 'VenueCallError';
  }
}

/** The path of a request URL without its query (the query holds the signature), e.g. `/fapi/v1/order`. */
export function endpointPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url.split('?')[0];
  }
}

/** The part of a ccxt exchange the request machinery uses. */
interface CcxtRest {
  onRestResponse: (...args: never[]) => unknown;
  loadTimeDifference(): Promise<unknown>;
  options: Record<string, unknown>;
}

type Ctx = ResponseInfo & { endpoint?: string };

/**
 * How one venue's errors read: anything ccxt throws plus the captured response → a typed,
 * redacted failure, and a venue code → its class. The request machinery is the same for every
 * venue; only this differs (Binance: ./errors, Bitget: ../bitget/errors).
 */
export interface VenueErrorDialect {
  toFailure(e: unknown, resp: ResponseInfo, secrets: ReadonlyArray<string | undefined>): VenueFailure;
  /** Classify a code (for the transport codes the machinery makes itself: HTTP_418 while banned). */
  classify(code: string, message?: string): VenueErrorClass;
}

/** Binance's error dialect (USDⓈ-M, spot margin): codes like -2019, JSON `{"code":…,"msg":…}`. */
export const BINANCE_ERRORS: VenueErrorDialect = { toFailure: toVenueFailure, classify: classifyVenueError };

/**
 * How a ccxt adapter sends requests, one implementation for every adapter (Binance USDⓈ-M
 * futures, Binance spot isolated margin, Bitget USDT-M futures); the venue's error dialect is
 * an option (default Binance's):
 * - each request waits for the account's `RateBudget`; its response (status, headers, body)
 *   is captured per async context, so concurrent calls never see each other's answer; the
 *   budget re-bases on the usage headers (`X-SAPI-USED-IP-WEIGHT-1M` for /sapi, else
 *   `X-MBX-USED-WEIGHT-1M`); 429 pauses it, 418 bans it; durations and weight go to metrics;
 * - the retry policy: reads retry every retryable class, writes only what the venue surely did
 *   not execute; -1021 resyncs the clock once (`loadTimeDifference`) and retries;
 * - a write whose outcome is unknown is resolved by querying by client order id first
 *   (`placeResolvingUnknown`); the same client id is re-sent only when the venue says it
 *   does not exist;
 * - every message redacted of the API key and secret.
 */
export class VenueRequests<Ex extends CcxtRest> {
  private readonly als = new AsyncLocalStorage<Ctx>();
  private ex: Ex | null = null;

  constructor(
    private readonly o: {
      venue: VenueId;
      /** Prefix of log lines, e.g. `binanceusdm acc-1`. */
      label: string;
      budget: RateBudget;
      clock: Clock;
      random: () => number;
      retryPolicy: RetryPolicy;
      secrets: ReadonlyArray<string | undefined>;
      log: (line: string) => void;
      /** Cost of the venue's time endpoint (for the -1021 resync). */
      timeCost: RequestCost;
      /** Wait at least the venue's Retry-After before a retry (default false: the policy's backoff only). */
      honourRetryAfter?: boolean;
      /** How the venue's errors read (default BINANCE_ERRORS). */
      errors?: VenueErrorDialect;
    },
  ) {
    this.errors = o.errors ?? BINANCE_ERRORS;
  }

  private readonly errors: VenueErrorDialect;

  /** Use `ex` for requests, capturing each of its REST responses for the request that caused it. */
  attach(ex: Ex): void {
    const onRest = (ex.onRestResponse as (...a: unknown[]) => unknown).bind(ex);
    (ex as { onRestResponse: unknown }).onRestResponse = (status: number, statusText: string, url: string, method: string, headers: Record<string, string>, body: string, reqHeaders: unknown, reqBody: unknown) => {
      const ctx = this.als.getStore();
      if (ctx) Object.assign(ctx, { status, headers, body, endpoint: `${method.toUpperCase()} ${endpointPath(url)}` });
      return onRest(status, statusText, url, method, headers, body, reqHeaders, reqBody);
    };
    this.ex = ex;
  }

  private exchange(): Ex {
    if (!this.ex) throw new Error('VenueRequests: attach(exchange) first');
    return this.ex;
  }

  /** One request through the budget, with this request's response captured. */
  async send<T>(cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<Result<T, VenueFailure>> {
    try {
      await this.o.budget.acquire(cost);
    } catch (e) {
      if (e instanceof BannedError) {
        const rejection = { code: 'HTTP_418', message: e.message };
        return err({ rejection, class: this.errors.classify('HTTP_418'), retryAfterMs: e.until - this.o.clock.now(), status: 418 });
      }
      throw e;
    }
    const ctx: Ctx = {};
    const started = performance.now();
    try {
      const v = await this.als.run(ctx, () => fn(this.exchange()));
      this.observe(ctx, started);
      return ok(v);
    } catch (e) {
      this.observe(ctx, started);
      const f = this.errors.toFailure(e, ctx, this.o.secrets);
      if (f.rejection.code === 'HTTP_429') this.o.budget.pause(f.retryAfterMs);
      if (f.rejection.code === 'HTTP_418') this.o.budget.ban(f.retryAfterMs);
      this.o.log(`${this.o.label}: ${ctx.endpoint ?? 'request'}: ${f.rejection.code} ${f.rejection.message}`);
      return err(f);
    }
  }

  private observe(ctx: Ctx, started: number): void {
    const used = header(ctx.headers, 'x-sapi-used-ip-weight-1m') ?? header(ctx.headers, 'x-mbx-used-weight-1m');
    // The IP weight under the one name the budget reads; the other headers (order counts) as they came.
    const rest = Object.fromEntries(Object.entries(ctx.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'x-mbx-used-weight-1m'));
    this.o.budget.observe({ ...rest, 'x-mbx-used-weight-1m': used });
    processMetrics().venueRequestSeconds.observe({ venue: this.o.venue, endpoint: ctx.endpoint ?? 'NO_RESPONSE' }, (performance.now() - started) / 1000);
    reportVenueWeight(this.o.venue, used);
  }

  /**
   * A request with the retry policy. Reads retry every retryable class; writes only what the
   * venue surely did not execute (429, -1021 after resync, -1001/-1008): an unknown outcome
   * is the caller's to resolve.
   */
  async call<T>(kind: 'read' | 'write', cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<Result<T, VenueFailure>> {
    let timestampFailures = 0;
    return withRetry(
      async () => {
        const r = await this.send(cost, fn);
        if (!r.ok && r.error.class.reason === 'TIMESTAMP' && ++timestampFailures === 1) await this.resyncClock();
        return r;
      },
      (f) => {
        if (f.class.reason === 'TIMESTAMP') return { retry: timestampFailures === 1 };
        if (!f.class.retryable) return { retry: false };
        if (kind === 'write' && f.class.outcomeUnknown) return { retry: false };
        return this.o.honourRetryAfter ? { retry: true, atLeastMs: f.retryAfterMs ?? undefined } : { retry: true };
      },
      { policy: this.o.retryPolicy, random: this.o.random, sleep: (ms) => this.o.clock.sleep(ms) },
    );
  }

  /** A read that must succeed: the value, or a VenueCallError carrying the redacted rejection. */
  async read<T>(cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<T> {
    const r = await this.call('read', cost, fn);
    if (!r.ok) throw new VenueCallError(r.error.rejection);
    return r.value;
  }

  /** A write answered as a Result with the typed, redacted rejection. */
  async write<T>(cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<Result<T, VenueRejection>> {
    const r = await this.call('write', cost, fn);
    return r.ok ? r : err(r.error.rejection);
  }

  /** -1021: measure the offset to the venue's clock; ccxt signs with it from then on. */
  private async resyncClock(): Promise<void> {
    const r = await this.send(this.o.timeCost, (ex) => ex.loadTimeDifference());
    if (r.ok) this.exchange().options['adjustForTimeDifference'] = true;
  }

  /**
   * Place, and when the outcome is unknown: query by client id (with backoff) — found → its
   * answer; the venue says it does not exist → send the same request (same client id) again;
   * cannot tell → the rejection with "outcome unknown" (never a blind second order). A
   * duplicate-id answer to a re-send means the first one landed: query again.
   */
  async placeResolvingUnknown<T>(place: () => Promise<Result<T, VenueFailure>>, query: () => Promise<Result<T | null, VenueFailure>>): Promise<Result<T, VenueRejection>> {
    let r = await place();
    for (let round = 0; round < 3; round++) {
      if (r.ok) return r;
      const resent = round > 0;
      if (!r.error.class.outcomeUnknown && !(resent && r.error.class.reason === 'DUPLICATE_ORDER')) return err(r.error.rejection);
      const q = await withRetry(query, (f) => ({ retry: f.class.retryable }), { policy: this.o.retryPolicy, random: this.o.random, sleep: (ms) => this.o.clock.sleep(ms) });
      if (!q.ok) return err({ code: r.error.rejection.code, message: `${r.error.rejection.message}; outcome unknown and the order could not be queried (${q.error.rejection.code} ${q.error.rejection.message})` });
      if (q.value !== null) return ok(q.value);
      this.o.log(`${this.o.label}: outcome unknown, the venue has no such order; re-sending with the same client id`);
      r = await place();
    }
    return r.ok ? r : err(r.error.rejection);
  }
}

/** The name the Binance adapters know the request machinery by. */
export { VenueRequests as BinanceRequests };
