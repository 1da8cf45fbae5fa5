import * as ccxt from 'ccxt';
import { Candle, PositiveDecimalString } from '@bulwark/contracts';
import { messageOf } from '../binance/errors';
import { localApiUrls } from '../binance/local-urls';
import {
  Channel,
  Serial,
  type BinanceMarketStreamOptions,
  type FundingSettlement,
  type MarkPriceUpdate,
  type MarketStreamAlert,
  type SerialHost,
} from '../binance/market-stream';
import { backoffDelay, type RetryPolicy } from '../binance/retry';

/** The ccxt.pro exchange class the stream drives. */
type Ex = InstanceType<typeof ccxt.pro.bitget>;
type Raw = Record<string, unknown>;

const MINUTE = 60_000;
/** Bitget's product line of USDT-margined perpetuals (the `instType` / `productType`). */
const PRODUCT_TYPE = 'USDT-FUTURES';
const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const n = (v: unknown): number => (v === undefined || v === null || v === '' ? Number.NaN : Number(v));
const RATE = /^-?\d+(\.\d+)?$/;

/**
 * Options of a {@link BitgetMarketStream}: the same fields, defaults and meanings as the Binance
 * stream's (`BinanceMarketStreamOptions`). `mode`: live = ws.bitget.com / api.bitget.com;
 * demo = Bitget demo trading (ccxt `setSandboxMode(true)`: wspap.bitget.com, REST header
 * `paptrading: 1`); local = the local Bitget venue at `restBase` / `wsBase`.
 */
export type BitgetMarketStreamOptions = BinanceMarketStreamOptions;

/** One websocket stream (a channel of one symbol) shared by its subscribers. */
interface Watch {
  /** `kline` = channel candle1m, `markPrice` = channel ticker (which carries the mark). */
  kind: 'kline' | 'markPrice';
  symbol: string;
  listeners: Set<Listener>;
  subscribed: boolean;
  running: boolean;
  failures: number;
}

interface Listener {
  /** A push of the channel: its `data` entries and the message's `ts` (ms). */
  onMessage(data: unknown[], ts: number): void;
  onReconnect(): void;
}

/**
 * Bitget USDT-M public market data over ccxt.pro `bitget` (4.5.84, unmodified): closed 1-minute
 * candles, mark prices and funding settlements, with reconnect and gap back-fill over REST —
 * the same contract as `BinanceMarketStream` (same iterators, shapes, options and alerts), so
 * the live feed and stop-monitor read either. No API keys: public channels and endpoints only.
 *
 * - Decimals are exact: read from the raw websocket messages (ccxt.pro's `handleMessage` is
 *   tapped; its parsed floats are ignored) and from the raw implicit-API REST answers.
 * - Websocket (https://www.bitget.com/api-doc/contract/websocket/public/Tickers-Channel and
 *   .../Candlesticks-Channel), instType USDT-FUTURES: `ticker` through `watchTicker(symbol)`
 *   (entries `{instId, lastPr, markPrice, indexPrice, fundingRate, nextFundingTime, ts, …}`)
 *   and `candle1m` through `watchOHLCV(symbol, '1m')` (rows `[startTime, open, high, low,
 *   close, baseVolume, quoteVolume, usdtVolume]`). Bitget marks no bar as closed: a bar is
 *   closed once a later bar is pushed, or a push's `ts` is at or after its last millisecond.
 * - REST: Get Candlestick Data `GET /api/v2/mix/market/candles` (`publicMixGetV2MixMarketCandles`,
 *   https://www.bitget.com/api-doc/contract/market/Get-Candle-Data), Get Ticker
 *   `GET /api/v2/mix/market/ticker` (https://www.bitget.com/api-doc/contract/market/Get-Ticker),
 *   Get Current Funding Rate `GET /api/v2/mix/market/current-fund-rate`
 *   (https://www.bitget.com/api-doc/contract/market/Get-Current-Funding-Rate), Get Historical
 *   Funding Rates `GET /api/v2/mix/market/history-fund-rate`
 *   (https://www.bitget.com/api-doc/contract/market/Get-History-Funding-Rate).
 * - Closed candles are taken from REST when the websocket shows a bar closed (exact final
 *   values, and gaps back-filled the same way); a just-closed bar REST does not serve yet is
 *   taken from its last websocket row (logged).
 * - Reconnect, alerts and `close()`: as `BinanceMarketStream` (full-jitter backoff, ccxt's own
 *   reconnect backoff off, `onAlert` after `alertAfter` failures in a row, re-sync over REST).
 * - A malformed push (no valid time or price) is dropped and logged, never thrown.
 */
export class BitgetMarketStream implements SerialHost {
  /** The ccxt.pro exchange (exposed for tests and diagnostics only). */
  readonly exchange: Ex;
  readonly mode: 'live' | 'demo' | 'local';
  private readonly o: BitgetMarketStreamOptions;
  private readonly backoff: RetryPolicy;
  private readonly alertAfter: number;
  private readonly logLine: (line: string) => void;
  private readonly fundingConfirmMs: number;
  private readonly watches = new Map<string, Watch>();
  private readonly channels = new Set<Channel<unknown>>();
  private readonly timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  private readonly stateWaiters = new Set<() => void>();
  private started: Promise<void> | null = null;
  private closed = false;

  constructor(o: BitgetMarketStreamOptions) {
    this.o = o;
    this.mode = o.mode;
    this.backoff = { maxAttempts: Number.POSITIVE_INFINITY, maxTotalDelayMs: Number.POSITIVE_INFINITY, baseDelayMs: o.backoff?.baseDelayMs ?? 250, maxDelayMs: o.backoff?.maxDelayMs ?? 30_000 };
    this.alertAfter = Math.max(1, o.alertAfter ?? 5);
    this.logLine = o.log ?? (() => undefined);
    this.fundingConfirmMs = o.fundingConfirmMs ?? 120_000;
    const ex = new ccxt.pro.bitget({ enableRateLimit: false, timeout: o.timeoutMs ?? 10_000 });
    // Set one by one: a constructor `options` object would replace ccxt's own (e.g. the ws `timeframes`).
    Object.assign(ex.options, { defaultType: 'swap', defaultSubType: 'linear', fetchMarkets: ex.parseJson('{"types":["swap"]}'), uta: false });
    ex.has['fetchCurrencies'] = false;
    // One reconnect policy (ours), as BinanceMarketStream (objects built by ccxt itself, see there).
    const wsOptions = (ex.options['ws'] ??= ex.parseJson('{}')) as Raw;
    wsOptions['backoff'] = ex.parseJson('{"base":0,"factor":1,"max":0}');
    if (o.mode === 'demo') ex.setSandboxMode(true);
    if (o.mode === 'local') {
      if (!o.restBase || !o.wsBase) throw new Error('BitgetMarketStream: mode local needs restBase and wsBase');
      const api = JSON.parse(JSON.stringify(ex.urls['api']).split('{hostname}').join(String(ex.hostname))) as unknown;
      ex.urls['api'] = localApiUrls(api, o.restBase, o.wsBase) as (typeof ex.urls)['api'];
    }
    const onMessage = ex.handleMessage.bind(ex);
    ex.handleMessage = (client: Parameters<Ex['handleMessage']>[0], message: unknown) => {
      this.tap(message);
      return onMessage(client, message);
    };
    ex.delay = (timeout: number, method: unknown, ...args: unknown[]) => {
      this.timer(timeout, () => {
        if (!this.closed) ex.spawn(method, ...args);
      });
    };
    this.exchange = ex;
  }

  // ---------------------------------------------------------------- public API

  /**
   * Every CLOSED 1-minute candle of `symbol` (Bitget id, e.g. "BTCUSDT"), exactly once, strictly
   * in open-time order, prices and volume (base coin) as the venue's decimal strings — the
   * contract of `BinanceMarketStream.candles`:
   * - with `since` (ms, floored to the minute) from the candle opening then (back-filled over
   *   REST), else from the bar forming when the stream first shows one;
   * - a bar is closed once a later bar is pushed or a push's `ts` reaches its last ms; closed
   *   bars are read from `GET /api/v2/mix/market/candles` (1,000 a page), which also fills gaps
   *   (missed pushes, reconnects); a bar the venue does not have is logged and skipped.
   * Ends when the consumer stops or `close()` is called; failing REST calls are retried with
   * backoff (alert after repeated failures) and nothing newer is yielded meanwhile.
   */
  candles(symbol: string, opts: { since?: number } = {}): AsyncIterable<Candle> {
    const key = `kline:${symbol}`;
    let next: number | null = opts.since === undefined ? null : opts.since - (opts.since % MINUTE);
    /** The newest bar the websocket showed, as last pushed. */
    let forming: { t: number; row: unknown[] } | null = null;
    /** Closed bars up to this open time have been asked for. */
    let asked = Number.NEGATIVE_INFINITY;
    const done = () => this.closed || out.ended;
    const serial = new Serial(this, symbol, done);
    const emit = (c: Candle) => {
      if (next !== null && c.openTime < next) return;
      if (next !== null && c.openTime > next) this.logLine(`bitget ${symbol}: the venue has no 1m candles ${iso(next)} → ${iso(c.openTime - MINUTE)}; skipped`);
      next = c.openTime + MINUTE;
      out.push(c);
    };
    /** Yield the closed bars from `next` through open time `through`, from REST (the last one from its websocket row if REST lacks it). */
    const backfill = async (through: number, lastRow: { t: number; row: unknown[] } | null) => {
      while (next !== null && next <= through && !done()) {
        const from = next;
        const end = Math.min(through, from + 999 * MINUTE);
        const rows = await this.candleRows(symbol, from, end, 1000);
        for (const r of rows) {
          const c = candleOf(r);
          if (c) emit(c);
          else this.logLine(`bitget ${symbol}: invalid candle ${JSON.stringify(r)} skipped`);
        }
        if (next !== null && next <= end) {
          if (lastRow && lastRow.t === end && next <= end) {
            const c = candleOf(lastRow.row);
            if (c) {
              this.logLine(`bitget ${symbol}: REST has no 1m candle ${iso(end)} yet; taking its last websocket row`);
              emit(c);
            }
          }
          if (next !== null && next <= end) next = end + MINUTE; // the venue has none of them: skipped (logged by the next emit)
        }
      }
    };
    const onPush = (data: unknown[], ts: number) => {
      const rows = data.filter((r): r is unknown[] => Array.isArray(r) && Number.isSafeInteger(n(r[0])));
      if (rows.length !== data.length) this.logLine(`bitget ${symbol}: malformed candle1m entries dropped: ${JSON.stringify(data).slice(0, 200)}`);
      if (rows.length === 0) return;
      rows.sort((a, b) => n(a[0]) - n(b[0]));
      const newest = rows[rows.length - 1];
      const t = n(newest[0]);
      if (forming && t < forming.t) return; // an old bar
      const prev = forming;
      forming = { t, row: newest };
      if (next === null) next = t; // without `since`: from the bar forming now (a snapshot's older rows are history)
      const closedThrough = Number.isSafeInteger(ts) && ts >= t + MINUTE - 1 ? t : t - MINUTE;
      if (closedThrough > asked && next !== null && closedThrough >= next) {
        asked = closedThrough;
        const last = closedThrough === t ? forming : prev && prev.t === closedThrough ? prev : null;
        serial.push(() => backfill(closedThrough, last));
      }
    };
    const resync = async () => {
      if (next === null) return;
      const now = (await this.snapshot(symbol)).ts;
      const through = now - ((now + 1) % MINUTE) - MINUTE + 1; // the last bar whose last ms has passed
      if (through > asked) asked = through;
      await backfill(through, null);
    };
    const listener: Listener = { onMessage: onPush, onReconnect: () => serial.push(() => resync()) };
    const out = new Channel<Candle>(() => this.unlisten(key, listener));
    this.channels.add(out as Channel<unknown>);
    void this.start()
      .then(() => {
        if (done()) return;
        this.listen('kline', symbol, listener);
        if (next !== null) serial.push(() => resync());
      })
      .catch((e) => this.logLine(`bitget ${symbol}: candles could not start: ${messageOf(e)}`));
    return out;
  }

  /**
   * Mark prices of `symbol` as the `ticker` channel pushes them (`markPrice`, `indexPrice`,
   * `fundingRate`, `nextFundingTime`, `ts`), strictly increasing in `ts`; after a reconnect,
   * first a REST snapshot (ticker + current funding rate). A ticker without a positive decimal
   * mark or a valid time is dropped (logged). Ends when the consumer stops or on `close()`.
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
    const listener: Listener = {
      onMessage: (data, ts) => {
        for (const e of data) push(this.markOf(symbol, e, ts));
      },
      onReconnect: () => serial.push(async () => push(await this.snapshot(symbol))),
    };
    const out = new Channel<MarkPriceUpdate>(() => this.unlisten(key, listener));
    this.channels.add(out as Channel<unknown>);
    void this.start()
      .then(() => !done() && this.listen('markPrice', symbol, listener))
      .catch((e) => this.logLine(`bitget ${symbol}: mark prices could not start: ${messageOf(e)}`));
    return out;
  }

  /**
   * Funding settlements of `symbol`, each once, in time order — the contract of
   * `BinanceMarketStream.fundings`: when the venue's time (ticker `ts`) passes the announced
   * `nextFundingTime`, the settlement is read from `GET /api/v2/mix/market/history-fund-rate`
   * (newest first, 100 a page; the venue's exact rate); settlements missed while disconnected
   * are back-filled the same way. A due settlement the venue has not published after
   * `fundingConfirmMs` is taken at the announced `fundingRate` (logged); until then it and
   * everything after it wait (asked again every 5 s, or `fundingConfirmMs` if shorter).
   * - With `since` (ms): settlements at or after it. Without: those after the venue's time at start.
   */
  fundings(symbol: string, opts: { since?: number } = {}): AsyncIterable<FundingSettlement> {
    const key = `markPrice:${symbol}`;
    let settled: number | null = null;
    const announced = new Map<number, { rate: string; dueSince: number }>();
    let pending = false;
    let retryArmed = false;
    let latest = 0;
    const done = () => this.closed || out.ended;
    const serial = new Serial(this, symbol, done);
    const announce = (time: number, rate: string) => {
      if (!Number.isSafeInteger(time) || !RATE.test(rate) || (settled !== null && time <= settled)) return;
      const a = announced.get(time);
      if (!a || a.rate !== rate) announced.set(time, { rate, dueSince: a?.dueSince ?? 0 });
    };
    const confirm = async (upTo: number) => {
      pending = false;
      if (settled === null || upTo <= settled) return;
      const list = await this.settlements(symbol, settled, upTo);
      const wall = Date.now();
      let holdFrom = Number.POSITIVE_INFINITY;
      for (const [t, a] of [...announced.entries()].sort((x, y) => x[0] - y[0])) {
        if (t <= settled || t > upTo || list.some((r) => r.fundingTime === t)) continue;
        if (a.dueSince === 0) a.dueSince = wall;
        if (wall - a.dueSince >= this.fundingConfirmMs) {
          this.logLine(`bitget ${symbol}: funding ${iso(t)} not published by the venue after ${this.fundingConfirmMs} ms; taking the announced rate ${a.rate}`);
          list.push({ fundingTime: t, rate: a.rate });
        } else holdFrom = Math.min(holdFrom, t);
      }
      list.sort((a, b) => a.fundingTime - b.fundingTime);
      for (const r of list) {
        if (r.fundingTime >= holdFrom) break;
        if (r.fundingTime <= settled) continue;
        settled = r.fundingTime;
        out.push(r);
      }
      for (const t of [...announced.keys()]) if (t <= settled) announced.delete(t);
      if (holdFrom !== Number.POSITIVE_INFINITY && !retryArmed) {
        retryArmed = true;
        this.timer(Math.min(5_000, this.fundingConfirmMs), () => {
          retryArmed = false;
          if (done()) return;
          pending = true;
          serial.push(() => confirm(latest));
        });
      }
    };
    const due = (ts: number) => [...announced.keys()].some((t) => t <= ts && (settled === null || t > settled));
    const onTicker = (data: unknown[], ts: number) => {
      for (const e of data) {
        const u = this.markOf(symbol, e, ts, true);
        if (!u) continue;
        latest = Math.max(latest, u.ts);
        if (settled === null) {
          settled = opts.since === undefined ? u.ts : opts.since - 1;
          if (opts.since !== undefined) serial.push(() => confirm(u.ts));
        } else if (due(u.ts) && !pending && !retryArmed) {
          pending = true;
          serial.push(() => confirm(u.ts));
        }
        announce(u.nextFundingTime, u.fundingRate);
      }
    };
    const resync = async () => {
      const p = await this.snapshot(symbol);
      if (settled === null) settled = opts.since === undefined ? p.ts : opts.since - 1;
      await confirm(p.ts);
      announce(p.nextFundingTime, p.fundingRate);
    };
    const listener: Listener = { onMessage: onTicker, onReconnect: () => serial.push(() => resync()) };
    const out = new Channel<FundingSettlement>(() => this.unlisten(key, listener));
    this.channels.add(out as Channel<unknown>);
    void this.start()
      .then(() => {
        if (done()) return;
        serial.push(() => resync());
        this.listen('markPrice', symbol, listener);
      })
      .catch((e) => this.logLine(`bitget ${symbol}: fundings could not start: ${messageOf(e)}`));
    return out;
  }

  /**
   * One page of CLOSED 1-minute candles of `symbol` with `from <= openTime < to` (epoch ms), in
   * time order, over REST (`GET /api/v2/mix/market/candles`, at most `limit` ≤ 1,000): a bar
   * counts as closed when its last millisecond is at or before the venue's time (ticker `ts`).
   * @returns the candles and the open time to ask from next (null when the window is done)
   * @throws the venue's error (ccxt) when a call fails
   */
  async closedCandles(symbol: string, from: number, to: number, limit = 1000): Promise<{ candles: Candle[]; next: number | null }> {
    await this.start();
    const now = (await this.snapshot(symbol)).ts;
    const lim = Math.max(1, Math.min(1000, limit));
    const end = Math.min(to - 1, now - MINUTE + 1, from + (lim - 1) * MINUTE);
    if (end < from) return { candles: [], next: null };
    const candles: Candle[] = [];
    for (const r of await this.candleRows(symbol, from, end, lim)) {
      const c = candleOf(r);
      if (c && c.openTime + MINUTE - 1 <= now && c.openTime < to) candles.push(c);
    }
    const windowEnd = end + MINUTE;
    return { candles, next: windowEnd < to && windowEnd + MINUTE - 1 <= now ? windowEnd : null };
  }

  /**
   * Resolve once every stream some iterator listens to is subscribed (Bitget answered
   * `{"event":"subscribe"}`, or data flows).
   * @throws Error after `timeoutMs` (default 10 000) or when the stream is closed
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw new Error('BitgetMarketStream is closed');
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

  // ---------------------------------------------------------------- SerialHost

  failure(symbol: string, source: MarketStreamAlert['source'], failures: number, message: string): void {
    this.logLine(`bitget ${symbol}: ${source} failed (${failures} in a row): ${message}`);
    if (failures % this.alertAfter === 0) {
      this.o.onAlert?.({ kind: 'MARKET_DATA_STREAM', symbol, source, failures, message: `${source} of ${symbol} failing ${failures} times in a row: ${message}` });
    }
  }

  async wait(retry: number): Promise<void> {
    const ms = backoffDelay(this.backoff, retry, this.o.random ?? Math.random);
    if (this.closed) return;
    if (this.o.clock) {
      await Promise.race([this.o.clock.sleep(ms), new Promise<void>((r) => this.timer(ms + 1, r))]);
      return;
    }
    await new Promise<void>((r) => this.timer(ms, r));
  }

  // ---------------------------------------------------------------- internals

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

  /** Load the markets and, for ws://, ccxt's HTTP agent; retried with backoff until it works or the stream closes. */
  private start(): Promise<void> {
    this.started ??= (async () => {
      for (let failures = 0; !this.closed; ) {
        try {
          await this.exchange.loadMarkets();
          if (String(this.exchange.urls['api']['ws']['public']).startsWith('ws://')) await this.exchange.loadHttpProxyAgent();
          return;
        } catch (e) {
          if (this.closed) break;
          this.failure('*', 'rest', ++failures, messageOf(e));
          await this.wait(failures - 1);
        }
      }
      throw new Error('BitgetMarketStream is closed');
    })();
    return this.started;
  }

  /** Bitget id → ccxt's unified symbol (BTCUSDT → BTC/USDT:USDT). */
  private unified(symbol: string): string {
    const m = this.exchange.markets_by_id?.[symbol];
    const first = (Array.isArray(m) ? m : m ? [m] : []).find((x) => x.swap);
    if (!first) throw new Error(`unknown symbol ${symbol}`);
    return first.symbol as string;
  }

  /** `GET /api/v2/mix/market/candles` rows with `from <= startTime <= to`, oldest first. */
  private async candleRows(symbol: string, from: number, to: number, limit: number): Promise<unknown[][]> {
    const raw = await this.exchange.publicMixGetV2MixMarketCandles({ symbol, productType: PRODUCT_TYPE, granularity: '1m', startTime: from, endTime: to, limit });
    const rows = dataOf(raw);
    if (!Array.isArray(rows)) throw new Error(`candles answered ${JSON.stringify(raw).slice(0, 200)}`);
    return (rows as unknown[]).filter((r): r is unknown[] => Array.isArray(r) && n(r[0]) >= from && n(r[0]) <= to).sort((a, b) => n(a[0]) - n(b[0]));
  }

  /**
   * The venue's mark and funding now: `GET /api/v2/mix/market/ticker` (markPrice, indexPrice,
   * fundingRate, ts) and `GET /api/v2/mix/market/current-fund-rate` (nextUpdate).
   * @throws Error when the answer carries no usable mark (e.g. a local venue whose clock has not moved), or the venue's error
   */
  private async snapshot(symbol: string): Promise<MarkPriceUpdate> {
    const q = { symbol, productType: PRODUCT_TYPE };
    const [tk, fr] = await Promise.all([this.exchange.publicMixGetV2MixMarketTicker(q), this.exchange.publicMixGetV2MixMarketCurrentFundRate(q)]);
    const t = firstOf(dataOf(tk));
    const f = firstOf(dataOf(fr));
    const u = this.markOf(symbol, { ...t, nextFundingTime: f['nextUpdate'] ?? t['nextFundingTime'] }, Number.NaN);
    if (!u) throw new Error(`ticker of ${symbol} carries no mark price: ${JSON.stringify(tk).slice(0, 200)}`);
    return u;
  }

  /** Every settlement after `after` up to `upTo` (history-fund-rate pages, newest first), oldest first. */
  private async settlements(symbol: string, after: number, upTo: number): Promise<FundingSettlement[]> {
    const found: FundingSettlement[] = [];
    for (let page = 1; page <= 50; page++) {
      const raw = await this.exchange.publicMixGetV2MixMarketHistoryFundRate({ symbol, productType: PRODUCT_TYPE, pageSize: 100, pageNo: page });
      const rows = dataOf(raw);
      if (!Array.isArray(rows) || rows.length === 0) break;
      let older = false;
      for (const r of rows as Raw[]) {
        const t = n(r['fundingTime']);
        const rate = s(r['fundingRate']);
        if (!Number.isSafeInteger(t) || !RATE.test(rate)) continue;
        if (t <= after) older = true;
        else if (t <= upTo) found.push({ fundingTime: t, rate });
      }
      if (older || rows.length < 100) break;
    }
    return found.sort((a, b) => a.fundingTime - b.fundingTime);
  }

  /** A ticker entry → mark update (`ts` from the entry, else the message), or null when malformed (logged unless `quiet`). */
  private markOf(symbol: string, e: unknown, msgTs: number, quiet = false): MarkPriceUpdate | null {
    const x = (e && typeof e === 'object' && !Array.isArray(e) ? e : {}) as Raw;
    const ts = Number.isSafeInteger(n(x['ts'])) ? n(x['ts']) : msgTs;
    const markPrice = s(x['markPrice']);
    const next = n(x['nextFundingTime']);
    if (!Number.isSafeInteger(ts) || ts <= 0 || !PositiveDecimalString.safeParse(markPrice).success) {
      if (!quiet) this.logLine(`bitget ${symbol}: ticker without a usable mark price dropped: ${JSON.stringify(e).slice(0, 200)}`);
      return null;
    }
    return { ts, markPrice, indexPrice: s(x['indexPrice']), fundingRate: s(x['fundingRate']), nextFundingTime: Number.isSafeInteger(next) ? next : 0 };
  }

  private listen(kind: Watch['kind'], symbol: string, l: Listener): void {
    const key = `${kind}:${symbol}`;
    let w = this.watches.get(key);
    if (!w) {
      w = { kind, symbol, listeners: new Set(), subscribed: false, running: false, failures: 0 };
      this.watches.set(key, w);
    }
    w.listeners.add(l);
    if (!w.running) void this.watchLoop(w);
  }

  private unlisten(key: string, l: Listener): void {
    this.channels.forEach((c) => c.ended && this.channels.delete(c));
    this.watches.get(key)?.listeners.delete(l);
  }

  /** Keep one channel subscribed while it has listeners: re-subscribe after failures, with backoff. */
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
          else await this.exchange.watchTicker(unified);
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

  private wake(): void {
    for (const f of [...this.stateWaiters]) f();
  }

  /** Every raw websocket message passes here first: subscribe answers and USDT-FUTURES ticker / candle1m pushes. */
  private tap(message: unknown): void {
    if (this.closed || !message || typeof message !== 'object' || Array.isArray(message)) return;
    const m = message as Raw;
    const arg = (m['arg'] && typeof m['arg'] === 'object' ? m['arg'] : {}) as Raw;
    if (s(arg['instType']).toUpperCase() !== PRODUCT_TYPE) return;
    const ch = s(arg['channel']);
    const kind = ch === 'candle1m' ? 'kline' : ch === 'ticker' ? 'markPrice' : null;
    const w = kind ? this.watches.get(`${kind}:${s(arg['instId'])}`) : undefined;
    if (!w) return;
    if (m['event'] === 'subscribe' || Array.isArray(m['data'])) {
      if (!w.subscribed) {
        w.subscribed = true;
        this.wake();
      }
    }
    if (m['event'] !== undefined) return;
    if (!Array.isArray(m['data'])) {
      this.logLine(`bitget ${w.symbol}: ${ch} message without data dropped: ${JSON.stringify(m).slice(0, 200)}`);
      return;
    }
    const ts = n(m['ts']);
    for (const l of w.listeners) {
      try {
        l.onMessage(m['data'] as unknown[], ts);
      } catch (e) {
        this.logLine(`bitget ${w.symbol}: ${ch} message dropped: ${messageOf(e)}`);
      }
    }
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

/** Bitget's envelope `{code, msg, requestTime, data}` → data (ccxt's implicit API answers the whole body). */
function dataOf(raw: unknown): unknown {
  return raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Raw)['data'] : undefined;
}

function firstOf(x: unknown): Raw {
  const e = Array.isArray(x) ? x[0] : x;
  return (e && typeof e === 'object' && !Array.isArray(e) ? e : {}) as Raw;
}

/** A Bitget candle row `[startTime, open, high, low, close, baseVolume, …]` (strings) → Candle, or null when not a valid bar. */
function candleOf(r: unknown[]): Candle | null {
  const t = n(r[0]);
  if (!Number.isSafeInteger(t)) return null;
  const c = Candle.safeParse({ openTime: t, interval: '1m', open: s(r[1]), high: s(r[2]), low: s(r[3]), close: s(r[4]), volume: s(r[5]) });
  return c.success ? c.data : null;
}
