import * as ccxt from 'ccxt';
import { Candle } from '@bulwark/contracts';
import { messageOf } from './errors';
import { localApiUrls } from './local-urls';
import type { Clock } from './rate-budget';
import { backoffDelay, type RetryPolicy } from './retry';

/** The ccxt.pro exchange class the stream drives. */
type Ex = InstanceType<typeof ccxt.pro.binanceusdm>;
type Raw = Record<string, unknown>;

const MINUTE = 60_000;
const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const n = (v: unknown): number => Number(s(v));

/**
 * One mark-price update of a symbol (Binance "Mark Price Stream", `<symbol>@markPrice@1s`:
 * https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream),
 * or a `GET /fapi/v1/premiumIndex` snapshot after a reconnect. Decimals are the venue's strings.
 */
export interface MarkPriceUpdate {
  /** Event time (`E`, or premiumIndex `time`), ms since epoch. */
  ts: number;
  /** USDT, e.g. "85175.80". */
  markPrice: string;
  /** USDT. */
  indexPrice: string;
  /** The funding rate announced for the next settlement (`r`), a fraction per interval (0.0001 = 0.01 %). */
  fundingRate: string;
  /** When that settlement happens (`T`), ms since epoch. */
  nextFundingTime: number;
}

/**
 * A funding settlement: at `fundingTime` (ms) positions paid or received `rate` (a fraction of
 * the notional). Structurally the `FundingRate` of @bulwark/market-data (libs/venues does not
 * depend on it).
 */
export interface FundingSettlement {
  fundingTime: number;
  rate: string;
}

/** Raised through `onAlert` when a stream or the REST back-fill keeps failing (never contains credentials: the stream uses none). */
export interface MarketStreamAlert {
  kind: 'MARKET_DATA_STREAM';
  symbol: string;
  /** Which part fails: a websocket stream, or the REST back-fill / confirmation. */
  source: 'kline' | 'markPrice' | 'rest';
  /** Consecutive failures so far. */
  failures: number;
  message: string;
}

export interface BinanceMarketStreamOptions {
  /** live = fstream.binance.com / fapi.binance.com; demo = Binance demo trading (ccxt `enableDemoTrading`); local = the local venue at restBase/wsBase. */
  mode: 'live' | 'demo' | 'local';
  /** Required for local: http://127.0.0.1:PORT. */
  restBase?: string;
  /** Required for local: ws://127.0.0.1:PORT. */
  wsBase?: string;
  /** Waits between retries (default: real timers, all cancelled by close()). `now()` stamps alerts only. */
  clock?: Clock;
  /** Jitter source (default Math.random). */
  random?: () => number;
  /** Reconnect / re-fetch backoff: delay = random × min(maxDelayMs, baseDelayMs × 2^failure) (default 250 ms … 30 s; attempts are unlimited). */
  backoff?: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>;
  /** Consecutive failures of one stream (or of the REST back-fill) before `onAlert` (default 5; again every further `alertAfter`). */
  alertAfter?: number;
  onAlert?: (a: MarketStreamAlert) => void;
  /** How long (ms) a settlement waits for `GET /fapi/v1/fundingRate` to confirm it before the announced rate is taken (default 120 000). */
  fundingConfirmMs?: number;
  /** ccxt request timeout, ms (default 10 000). */
  timeoutMs?: number;
  /** Diagnostic lines. */
  log?: (line: string) => void;
}

/**
 * A push/pull queue behind an AsyncIterable: values pushed before anyone pulls are kept, in
 * order. Shared by the venues' market streams (Binance, Bitget); `onReturn` runs once when the
 * consumer stops or `end()` is called.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(r: IteratorResult<T>) => void> = [];
  private done = false;

  constructor(private readonly onReturn: () => void) {}

  push(v: T): void {
    if (this.done) return;
    const w = this.waiters.shift();
    if (w) w({ value: v, done: false });
    else this.items.push(v);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.items.length = 0;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
    this.onReturn();
  }

  get ended(): boolean {
    return this.done;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((r) => this.waiters.push(r));
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** What a subscriber of one websocket stream is told: a raw message, or that the stream reconnected (messages may have been lost). */
interface StreamListener {
  onMessage(m: Raw): void;
  onReconnect(): void;
}

/** One ccxt.pro watch loop (kline_1m or markPrice of one symbol) shared by its subscribers. */
interface Watch {
  kind: 'kline' | 'markPrice';
  symbol: string;
  listeners: Set<StreamListener>;
  /** The SUBSCRIBE of the current connection was acknowledged. */
  subscribed: boolean;
  running: boolean;
  failures: number;
}

/** What a {@link Serial} reports failures to and waits on: a market stream (its alerting and backoff). */
export interface SerialHost {
  /** Record failure number `failures` (in a row) of `source` for `symbol`; alerts after repeated ones. */
  failure(symbol: string, source: MarketStreamAlert['source'], failures: number, message: string): void;
  /** Wait the backoff delay of failure number `retry` (0-based); returns at once when the stream is closed. */
  wait(retry: number): Promise<void>;
}

/**
 * A serial task queue: tasks run one at a time, in order; a failing task is retried (same
 * task, backoff with jitter) until it succeeds or the stream closes, with an alert after
 * repeated failures (reported as source `rest`). Later tasks wait, so nothing is yielded out
 * of order. Shared by the venues' market streams.
 */
export class Serial {
  private readonly tasks: Array<() => Promise<void>> = [];
  private running = false;
  private failures = 0;

  constructor(private readonly stream: SerialHost, private readonly symbol: string, private readonly isDone: () => boolean) {}

  push(task: () => Promise<void>): void {
    this.tasks.push(task);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.tasks.length && !this.isDone()) {
        try {
          await this.tasks[0]();
          this.tasks.shift();
          this.failures = 0;
        } catch (e) {
          if (this.isDone()) break;
          this.failures++;
          this.stream.failure(this.symbol, 'rest', this.failures, messageOf(e));
          await this.stream.wait(this.failures - 1);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * Binance USDⓈ-M public market data over ccxt.pro `binanceusdm` (4.5.84, unmodified): closed
 * 1-minute candles, mark prices and funding settlements, with reconnect and gap back-fill
 * over REST. No API keys: only public streams and endpoints are used.
 *
 * - Decimals are exact: candles, mark prices and rates are read from the raw websocket
 *   messages (ccxt.pro's `handleMessage` is tapped; ccxt's own parsed floats are ignored) and
 *   from the raw implicit-API REST answers (`fapiPublicGetKlines`, `fapiPublicGetPremiumIndex`,
 *   `fapiPublicGetFundingRate`).
 * - Streams: Kline/Candlestick `<symbol>@kline_1m`
 *   (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Kline-Candlestick-Streams)
 *   through `watchOHLCV(symbol, '1m')`, and Mark Price `<symbol>@markPrice@1s`
 *   (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream)
 *   through `watchMarkPrice(symbol)`. One watch loop per stream and symbol, shared by every iterator.
 * - REST: Kline/Candlestick Data `GET /fapi/v1/klines`
 *   (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Kline-Candlestick-Data),
 *   Mark Price `GET /fapi/v1/premiumIndex`
 *   (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price),
 *   Get Funding Rate History `GET /fapi/v1/fundingRate`
 *   (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Get-Funding-Rate-History).
 * - Reconnect: a failed or closed websocket is re-subscribed after a full-jitter exponential
 *   backoff (`backoffDelay`; ccxt's own reconnect backoff is switched off so there is one
 *   policy and no timer outlives `close()`); after `alertAfter` consecutive failures `onAlert`
 *   is called. After every reconnect the candle and funding iterators re-sync over REST.
 * - `close()` ends every iterator, cancels every timer and closes every socket.
 */
export class BinanceMarketStream {
  /** The ccxt.pro exchange (exposed for tests and diagnostics only). */
  readonly exchange: Ex;
  readonly mode: 'live' | 'demo' | 'local';
  private readonly clock: Clock | null;
  private readonly random: () => number;
  private readonly backoff: RetryPolicy;
  private readonly alertAfter: number;
  private readonly onAlert: (a: MarketStreamAlert) => void;
  private readonly logLine: (line: string) => void;
  private readonly fundingConfirmMs: number;
  private readonly watches = new Map<string, Watch>();
  /** SUBSCRIBE request id → raw stream names, until acknowledged. */
  private readonly pendingAcks = new Map<string, string[]>();
  private readonly channels = new Set<Channel<unknown>>();
  private readonly timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  private readonly stateWaiters = new Set<() => void>();
  private started: Promise<void> | null = null;
  private closed = false;

  constructor(o: BinanceMarketStreamOptions) {
    this.mode = o.mode;
    this.clock = o.clock ?? null;
    this.random = o.random ?? Math.random;
    this.backoff = { maxAttempts: Number.POSITIVE_INFINITY, maxTotalDelayMs: Number.POSITIVE_INFINITY, baseDelayMs: o.backoff?.baseDelayMs ?? 250, maxDelayMs: o.backoff?.maxDelayMs ?? 30_000 };
    this.alertAfter = Math.max(1, o.alertAfter ?? 5);
    this.onAlert = o.onAlert ?? (() => undefined);
    this.logLine = o.log ?? (() => undefined);
    this.fundingConfirmMs = o.fundingConfirmMs ?? 120_000;
    const ex = new ccxt.pro.binanceusdm({ enableRateLimit: false, timeout: o.timeoutMs ?? 10_000 });
    ex.options['fetchCurrencies'] = false;
    // One reconnect policy (ours): ccxt's dial backoff sleeps on a timer close() cannot cancel.
    // (Objects built by ccxt itself: under Jest a plain object of the test's realm is not a
    // dict to ccxt's deepExtend, which would then drop the client's defaults.)
    const wsOptions = (ex.options['ws'] ??= ex.parseJson('{}')) as Raw;
    wsOptions['backoff'] = ex.parseJson('{"base":0,"factor":1,"max":0}');
    if (o.mode === 'demo') ex.enableDemoTrading(true);
    if (o.mode === 'local') {
      if (!o.restBase || !o.wsBase) throw new Error('BinanceMarketStream: mode local needs restBase and wsBase');
      ex.urls['api'] = localApiUrls(ex.urls['api'], o.restBase, o.wsBase) as typeof ex.urls['api'];
    }
    // Tap the raw market messages (exact strings); ccxt.pro keeps handling them.
    const onMessage = ex.handleMessage.bind(ex);
    ex.handleMessage = (client: Parameters<Ex['handleMessage']>[0], message: unknown) => {
      this.tap(message);
      return onMessage(client, message);
    };
    // Learn which SUBSCRIBE request carries which streams, to know when a subscription is live.
    const watchMultiple = ex.watchMultiple.bind(ex);
    ex.watchMultiple = (url: string, hashes: string[], message?: unknown, subscribeHashes?: string[], subscription?: unknown) => {
      const m = message as Raw | undefined;
      if (m && m['method'] === 'SUBSCRIBE' && Array.isArray(m['params']) && m['id'] !== undefined) {
        const names = (m['params'] as unknown[]).map(s);
        if (names.some((x) => this.watchOfStream(x) && !this.watchOfStream(x)!.subscribed)) this.pendingAcks.set(s(m['id']), names);
      }
      return watchMultiple(url, hashes, message, subscribeHashes, subscription);
    };
    // ccxt.pro schedules some work with bare timers (e.g. listen-key keep-alive): track them.
    ex.delay = (timeout: number, method: unknown, ...args: unknown[]) => {
      this.timer(timeout, () => {
        if (!this.closed) ex.spawn(method, ...args);
      });
    };
    this.exchange = ex;
  }

  // ---------------------------------------------------------------- public API

  /**
   * Every CLOSED 1-minute candle of `symbol` (Binance id, e.g. "BTCUSDT"), exactly once,
   * strictly in open-time order and without gaps the venue can fill: `interval` "1m", prices
   * and volume as the venue's decimal strings.
   * - With `since` (ms, floored to the minute): starts with the candle opening at `since`,
   *   back-filled over REST, then continues live. Without: starts with the first bar the
   *   stream shows (the one forming when it subscribes).
   * - A kline message whose bar opens more than 60 s after the last yielded one (missed
   *   messages), and every reconnect, back-fill the missing closed candles with
   *   `GET /fapi/v1/klines?startTime=` (1,000 a page) before anything newer is yielded;
   *   duplicates are dropped. A bar the venue itself does not have is logged and skipped.
   * - After a reconnect, a REST bar counts as closed when a later bar exists or its close
   *   time is at or before the venue's time (`GET /fapi/v1/premiumIndex` `time`).
   * Ends when the consumer stops iterating or `close()` is called. Failing REST calls are
   * retried with backoff (alert after repeated failures); nothing newer is yielded meanwhile.
   */
  candles(symbol: string, opts: { since?: number } = {}): AsyncIterable<Candle> {
    const key = `kline:${symbol}`;
    let next: number | null = opts.since === undefined ? null : opts.since - (opts.since % MINUTE);
    const done = () => this.closed || out.ended;
    const serial = new Serial(this, symbol, done);
    const listener: StreamListener = {
      onMessage: (m) => {
        const k = (m['k'] ?? {}) as Raw;
        if (s(k['i']) !== '1m') return;
        serial.push(() => onKline(k));
      },
      onReconnect: () => serial.push(() => resync()),
    };
    const out = new Channel<Candle>(() => this.unlisten(key, listener));
    this.channels.add(out as Channel<unknown>);
    const emit = (c: Candle) => {
      if (next !== null && c.openTime < next) return; // duplicate
      if (next !== null && c.openTime > next) this.logLine(`binanceusdm ${symbol}: the venue has no 1m klines ${iso(next)} → ${iso(c.openTime - MINUTE)}; skipped`);
      next = c.openTime + MINUTE;
      out.push(c);
    };
    /** REST back-fill from `next`: rows up to `endTime` (inclusive open time) that are closed. */
    const backfill = async (endTime: number, closedAt: number | null) => {
      for (;;) {
        if (next === null || next > endTime || done()) return;
        const from = next;
        const rows = (await this.exchange.fapiPublicGetKlines({ symbol, interval: '1m', startTime: from, endTime, limit: 1000 })) as unknown[][];
        const valid = rows.filter((r) => Array.isArray(r) && n(r[0]) >= from && n(r[0]) <= endTime).sort((a, b) => n(a[0]) - n(b[0]));
        for (let i = 0; i < valid.length; i++) {
          const r = valid[i];
          const isClosed = closedAt === null || i < valid.length - 1 || n(r[6]) <= closedAt;
          if (!isClosed) return;
          const c = candleOf(n(r[0]), r[1], r[2], r[3], r[4], r[5]);
          if (c) emit(c);
          else this.logLine(`binanceusdm ${symbol}: invalid kline ${JSON.stringify(r)} skipped`);
        }
        if (rows.length < 1000 || next === from) return;
      }
    };
    const onKline = async (k: Raw) => {
      const t = n(k['t']);
      if (!Number.isSafeInteger(t)) return;
      if (next === null) next = t;
      if (t < next) return; // an old bar: duplicate
      if (t > next) {
        // Missed messages: every bar before this one is closed at the venue.
        await backfill(t - 1, null);
        if (next !== null && next < t) {
          this.logLine(`binanceusdm ${symbol}: the venue has no 1m klines ${iso(next)} → ${iso(t - MINUTE)}; skipped`);
          next = t;
        }
      }
      if (k['x'] !== true && k['x'] !== 'true') return;
      const c = candleOf(t, k['o'], k['h'], k['l'], k['c'], k['v']);
      if (c) emit(c);
      else this.logLine(`binanceusdm ${symbol}: invalid kline message ${JSON.stringify(k)} skipped`);
    };
    const resync = async () => {
      if (next === null) return;
      const now = await this.venueTime(symbol);
      await backfill(now, now);
    };
    void this.start()
      .then(() => {
        if (done()) return;
        this.listen('kline', symbol, listener);
        if (next !== null) serial.push(() => resync());
      })
      .catch((e) => this.logLine(`binanceusdm ${symbol}: candles could not start: ${messageOf(e)}`));
    return out;
  }

  /**
   * Mark prices of `symbol` as the Mark Price Stream pushes them (every second), strictly
   * increasing in `ts`; after a reconnect, first a `GET /fapi/v1/premiumIndex` snapshot.
   * Ends when the consumer stops or `close()` is called.
   */
  markPrices(symbol: string): AsyncIterable<MarkPriceUpdate> {
    const key = `markPrice:${symbol}`;
    let last = -1;
    const done = () => this.closed || out.ended;
    const serial = new Serial(this, symbol, done);
    const push = (u: MarkPriceUpdate | null) => {
      if (!u || u.ts <= last) return;
      last = u.ts;
      out.push(u);
    };
    const listener: StreamListener = {
      onMessage: (m) => push(markOf(m)),
      onReconnect: () => serial.push(async () => push(premiumOf(await this.premiumIndex(symbol)))),
    };
    const out = new Channel<MarkPriceUpdate>(() => this.unlisten(key, listener));
    this.channels.add(out as Channel<unknown>);
    void this.start()
      .then(() => !done() && this.listen('markPrice', symbol, listener))
      .catch((e) => this.logLine(`binanceusdm ${symbol}: mark prices could not start: ${messageOf(e)}`));
    return out;
  }

  /**
   * Funding settlements of `symbol`, each once, in time order: when the venue's time (mark
   * stream `E`, or premiumIndex `time` after a reconnect) passes the announced settlement time
   * `T`, the settlement is read from `GET /fapi/v1/fundingRate?startTime=` (the venue's
   * rate, exact string); settlements missed while disconnected are back-filled the same way.
   * If the venue has not published a due settlement after `fundingConfirmMs`, the rate the
   * mark stream announced (`r`) is taken (logged).
   * - With `since` (ms): settlements at or after it, back-filled first. Without: those after
   *   the venue's time at start.
   */
  fundings(symbol: string, opts: { since?: number } = {}): AsyncIterable<FundingSettlement> {
    const key = `markPrice:${symbol}`;
    let settled: number | null = null; // fundingTime of the last settlement yielded (or the start)
    const announced = new Map<number, { rate: string; dueSince: number }>();
    let retryArmed = false;
    const done = () => this.closed || out.ended;
    const serial = new Serial(this, symbol, done);
    const announce = (time: number, rate: string) => {
      if (settled !== null && time <= settled) return;
      const a = announced.get(time);
      if (!a || a.rate !== rate) announced.set(time, { rate, dueSince: a?.dueSince ?? 0 });
    };
    /** REST settlements after `settled` up to `upTo`, oldest first (paged, 1,000 a page). */
    const published = async (upTo: number): Promise<FundingSettlement[]> => {
      const out: FundingSettlement[] = [];
      let from = settled! + 1;
      for (;;) {
        const rows = (await this.exchange.fapiPublicGetFundingRate({ symbol, startTime: from, endTime: upTo, limit: 1000 })) as Raw[];
        const page = rows
          .map((r) => ({ fundingTime: n(r['fundingTime']), rate: s(r['fundingRate']) }))
          .filter((r) => Number.isSafeInteger(r.fundingTime) && r.fundingTime >= from && r.fundingTime <= upTo && /^-?\d+(\.\d+)?$/.test(r.rate))
          .sort((a, b) => a.fundingTime - b.fundingTime);
        out.push(...page);
        if (rows.length < 1000 || page.length === 0) return out;
        from = page[page.length - 1].fundingTime + 1;
      }
    };
    /**
     * Yield the settlements after `settled` up to `upTo`: the venue's published ones; an
     * announced one not published yet holds back itself and everything after it (retried
     * shortly) until `fundingConfirmMs` has passed, then its announced rate is taken.
     */
    const confirm = async (upTo: number) => {
      if (settled === null || upTo <= settled) return;
      const list = await published(upTo);
      const wall = this.now();
      let holdFrom = Number.POSITIVE_INFINITY;
      for (const [t, a] of [...announced.entries()].sort((x, y) => x[0] - y[0])) {
        if (t <= settled || t > upTo || list.some((r) => r.fundingTime === t)) continue;
        if (a.dueSince === 0) a.dueSince = wall;
        if (wall - a.dueSince >= this.fundingConfirmMs) {
          this.logLine(`binanceusdm ${symbol}: funding ${iso(t)} not published by the venue after ${this.fundingConfirmMs} ms; taking the announced rate ${a.rate}`);
          list.push({ fundingTime: t, rate: a.rate });
        } else holdFrom = Math.min(holdFrom, t);
      }
      list.sort((a, b) => a.fundingTime - b.fundingTime);
      for (const r of list) {
        if (r.fundingTime >= holdFrom) break;
        if (r.fundingTime <= settled) continue;
        settled = r.fundingTime;
        out.push({ fundingTime: r.fundingTime, rate: r.rate });
      }
      for (const t of [...announced.keys()]) if (t <= settled) announced.delete(t);
      if (holdFrom !== Number.POSITIVE_INFINITY && !retryArmed) {
        retryArmed = true;
        this.timer(Math.min(5_000, this.fundingConfirmMs), () => {
          retryArmed = false;
          if (!done()) serial.push(() => confirm(upTo));
        });
      }
    };
    const onMark = (m: Raw) => {
      const u = markOf(m);
      if (!u) return;
      if (settled === null) {
        // The venue's time was unknown at start (a local venue whose clock has not moved).
        settled = opts.since === undefined ? u.ts : opts.since - 1;
        if (opts.since !== undefined) serial.push(() => confirm(u.ts));
      } else if ([...announced.keys()].some((t) => t <= u.ts && t > settled!)) {
        serial.push(() => confirm(u.ts));
      }
      announce(u.nextFundingTime, u.fundingRate);
    };
    const resync = async () => {
      const p = premiumOf(await this.premiumIndex(symbol));
      if (!p) return;
      if (settled === null) settled = opts.since === undefined ? p.ts : opts.since - 1;
      await confirm(p.ts);
      announce(p.nextFundingTime, p.fundingRate);
    };
    const listener: StreamListener = { onMessage: (m) => (settled === null ? serial.push(async () => onMark(m)) : onMark(m)), onReconnect: () => serial.push(() => resync()) };
    const out = new Channel<FundingSettlement>(() => this.unlisten(key, listener));
    this.channels.add(out as Channel<unknown>);
    void this.start()
      .then(() => {
        if (done()) return;
        serial.push(() => resync());
        this.listen('markPrice', symbol, listener);
      })
      .catch((e) => this.logLine(`binanceusdm ${symbol}: fundings could not start: ${messageOf(e)}`));
    return out;
  }

  /**
   * Resolve once every stream some iterator listens to is connected and its SUBSCRIBE was
   * acknowledged (messages pushed from now on arrive). Useful before a test moves the local
   * venue's clock.
   * @throws Error after `timeoutMs` (default 10 000) or when the stream is closed
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw new Error('BinanceMarketStream is closed');
      const ws = [...this.watches.values()].filter((w) => w.listeners.size > 0);
      if (ws.length > 0 && ws.every((w) => w.subscribed)) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`market streams not subscribed within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.stateWaiters.delete(wake);
          resolve();
        };
        this.stateWaiters.add(wake);
        this.timer(Math.min(left, 50), wake);
      });
    }
  }

  /** Stop everything: iterators end, timers are cancelled, sockets close. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.channels]) c.end();
    this.channels.clear();
    for (const [t, wake] of this.timers) {
      clearTimeout(t);
      wake();
    }
    this.timers.clear();
    for (const w of [...this.stateWaiters]) w();
    await this.exchange.close();
  }

  // ---------------------------------------------------------------- internals (also used by Serial)

  /** Record a failure; alert after `alertAfter` in a row (and every `alertAfter` more). */
  failure(symbol: string, source: MarketStreamAlert['source'], failures: number, message: string): void {
    this.logLine(`binanceusdm ${symbol}: ${source} failed (${failures} in a row): ${message}`);
    if (failures % this.alertAfter === 0) {
      this.onAlert({ kind: 'MARKET_DATA_STREAM', symbol, source, failures, message: `${source} of ${symbol} failing ${failures} times in a row: ${message}` });
    }
  }

  /** Wait the backoff delay of failure number `retry` (0-based); returns at once when closed. */
  async wait(retry: number): Promise<void> {
    const ms = backoffDelay(this.backoff, retry, this.random);
    if (this.closed) return;
    if (this.clock) {
      await Promise.race([this.clock.sleep(ms), new Promise<void>((r) => this.timer(ms + 1, r))]);
      return;
    }
    await new Promise<void>((r) => this.timer(ms, r));
  }

  private now(): number {
    return this.clock ? this.clock.now() : Date.now();
  }

  /** A timer close() cancels (its callback then runs at once, so nobody waits forever). */
  private timer(ms: number, f: () => void): void {
    if (this.closed) {
      f();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, Math.max(0, ms));
    this.timers.set(t, f);
  }

  /** Load the markets (symbol mapping) and, for ws://, ccxt's HTTP agent. Retried with backoff until it works or the stream closes. */
  private start(): Promise<void> {
    this.started ??= (async () => {
      for (let failures = 0; !this.closed; ) {
        try {
          await this.exchange.loadMarkets();
          if (String(this.exchange.urls['api']['ws']['future']).startsWith('ws://')) await this.exchange.loadHttpProxyAgent();
          return;
        } catch (e) {
          if (this.closed) break;
          this.failure('*', 'rest', ++failures, messageOf(e));
          await this.wait(failures - 1);
        }
      }
      throw new Error('BinanceMarketStream is closed');
    })();
    return this.started;
  }

  /** Binance id → ccxt's unified symbol (BTCUSDT → BTC/USDT:USDT). */
  private unified(symbol: string): string {
    const m = this.exchange.markets_by_id?.[symbol];
    const first = Array.isArray(m) ? m[0] : m;
    if (!first) throw new Error(`unknown symbol ${symbol}`);
    return first.symbol as string;
  }

  /**
   * One page of CLOSED 1-minute candles of `symbol` with `from <= openTime < to` (epoch ms), in
   * time order, over REST (`GET /fapi/v1/klines`, at most `limit` ≤ 1,000 rows, weight 5): a
   * bar counts as closed when a later bar exists or its close time has passed on the venue's
   * clock (`premiumIndex` time). For warm-ups after a
   * restart; the live feed itself uses {@link candles}.
   * @returns the candles and the open time to ask from next (null when the window is done)
   * @throws the venue's error (ccxt) when a call fails
   */
  async closedCandles(symbol: string, from: number, to: number, limit = 1000): Promise<{ candles: Candle[]; next: number | null }> {
    const now = await this.venueTime(symbol);
    const end = Math.min(to - 1, now);
    if (end < from) return { candles: [], next: null };
    const rows = (await this.exchange.fapiPublicGetKlines({ symbol, interval: '1m', startTime: from, endTime: end, limit: Math.min(1000, limit) })) as unknown[][];
    const candles: Candle[] = [];
    const sorted = rows.filter((x) => Array.isArray(x)).sort((a, b) => n(a[0]) - n(b[0]));
    for (const [i, r] of sorted.entries()) {
      // Closed: a later bar exists, or its close time has passed on the venue's clock (as the back-fill judges).
      const closed = i < sorted.length - 1 || n(r[6]) <= now;
      if (n(r[0]) < from || n(r[0]) >= to || !closed) continue;
      const c = candleOf(n(r[0]), r[1], r[2], r[3], r[4], r[5]);
      if (c) candles.push(c);
    }
    const last = candles[candles.length - 1];
    const next = rows.length >= Math.min(1000, limit) && last ? last.openTime + MINUTE : null;
    return { candles, next: next !== null && next < to ? next : null };
  }

  private async premiumIndex(symbol: string): Promise<Raw> {
    return (await this.exchange.fapiPublicGetPremiumIndex({ symbol })) as unknown as Raw;
  }

  /** The venue's time (premiumIndex `time`, ms): on the local venue, its market clock. */
  private async venueTime(symbol: string): Promise<number> {
    const t = n((await this.premiumIndex(symbol))['time']);
    if (!Number.isSafeInteger(t)) throw new Error('premiumIndex answered without a time');
    return t;
  }

  private watchOfStream(name: string): Watch | undefined {
    const [sym, ch] = name.split('@');
    const kind = ch === 'kline_1m' ? 'kline' : ch === 'markPrice' ? 'markPrice' : null;
    if (!kind || !sym) return undefined;
    return this.watches.get(`${kind}:${sym.toUpperCase()}`);
  }

  private listen(kind: Watch['kind'], symbol: string, l: StreamListener): void {
    const key = `${kind}:${symbol}`;
    let w = this.watches.get(key);
    if (!w) {
      w = { kind, symbol, listeners: new Set(), subscribed: false, running: false, failures: 0 };
      this.watches.set(key, w);
    }
    w.listeners.add(l);
    if (!w.running) void this.watchLoop(w);
  }

  /** Drop a listener; a stream nobody listens to stops its watch loop (the subscription stays until close()). */
  private unlisten(key: string, l: StreamListener): void {
    this.channels.forEach((c) => c.ended && this.channels.delete(c));
    this.watches.get(key)?.listeners.delete(l);
  }

  /** Keep one stream subscribed while it has listeners: re-subscribe after failures, with backoff. */
  private async watchLoop(w: Watch): Promise<void> {
    w.running = true;
    let reconnecting = false;
    try {
      while (!this.closed && w.listeners.size > 0) {
        try {
          const unified = this.unified(w.symbol);
          if (reconnecting) {
            reconnecting = false;
            for (const l of w.listeners) l.onReconnect();
          }
          if (w.kind === 'kline') await this.exchange.watchOHLCV(unified, '1m');
          else await this.exchange.watchMarkPrice(unified);
          w.failures = 0;
        } catch (e) {
          if (this.closed) break;
          w.subscribed = false;
          if (w.listeners.size === 0) break;
          w.failures++;
          this.failure(w.symbol, w.kind, w.failures, messageOf(e));
          await this.wait(w.failures - 1);
          reconnecting = true;
        }
      }
    } finally {
      w.running = false;
    }
  }

  /** Every raw websocket message passes here first. */
  private tap(message: unknown): void {
    if (this.closed || !message || typeof message !== 'object' || Array.isArray(message)) return;
    let m = message as Raw;
    if ('result' in m && m['id'] !== undefined) {
      const names = this.pendingAcks.get(s(m['id']));
      if (names) {
        this.pendingAcks.delete(s(m['id']));
        if (m['result'] === null) for (const x of names) {
          const w = this.watchOfStream(x);
          if (w) w.subscribed = true;
        }
        for (const wake of [...this.stateWaiters]) wake();
      }
      return;
    }
    if (m['data'] && typeof m['data'] === 'object' && !Array.isArray(m['data'])) m = m['data'] as Raw; // combined stream
    const e = s(m['e']);
    const kind = e === 'kline' ? 'kline' : e === 'markPriceUpdate' ? 'markPrice' : null;
    if (!kind) return;
    const w = this.watches.get(`${kind}:${s(m['s'])}`);
    if (!w) return;
    if (!w.subscribed) {
      w.subscribed = true; // data flows: the subscription is live
      for (const wake of [...this.stateWaiters]) wake();
    }
    for (const l of w.listeners) l.onMessage(m);
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

/** A Candle from a kline's raw fields (exact strings), or null when they are not a valid bar. */
function candleOf(openTime: number, o: unknown, h: unknown, l: unknown, c: unknown, v: unknown): Candle | null {
  const r = Candle.safeParse({ openTime, interval: '1m', open: s(o), high: s(h), low: s(l), close: s(c), volume: s(v) });
  return r.success ? r.data : null;
}

/** A mark-price stream message (`markPriceUpdate`) → update, or null when malformed. */
function markOf(m: Raw): MarkPriceUpdate | null {
  const ts = n(m['E']);
  const next = n(m['T']);
  if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(next) || !s(m['p'])) return null;
  return { ts, markPrice: s(m['p']), indexPrice: s(m['i']), fundingRate: s(m['r']), nextFundingTime: next };
}

/** A `GET /fapi/v1/premiumIndex?symbol=` answer → update, or null when malformed. */
function premiumOf(p: Raw): MarkPriceUpdate | null {
  const ts = n(p['time']);
  const next = n(p['nextFundingTime']);
  // time 0: a local venue whose clock has not moved yet (no market time, no mark price).
  if (!Number.isSafeInteger(ts) || ts <= 0 || !Number.isSafeInteger(next) || !s(p['markPrice'])) return null;
  return { ts, markPrice: s(p['markPrice']), indexPrice: s(p['indexPrice']), fundingRate: s(p['lastFundingRate']), nextFundingTime: next };
}
