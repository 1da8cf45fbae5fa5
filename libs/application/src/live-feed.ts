import { type Candle, type ReplayStartRequest, Subjects, type VenueId } from '@bulwark/contracts';
import type { FundingRate } from '@bulwark/market-data';
import { NatsClockPort, ReplayClock, secondsFromEnv } from '@bulwark/messaging';
import type { MarketStreamAlert } from '@bulwark/venues';
import { JSONCodec, type NatsConnection } from 'nats';
import type { LiveCandleJournal } from './candle-journal';
import { LIVE_VENUE_KINDS, publishMarkPrices, type LiveVenueKind, type MarkPriceSourceUpdate } from './mark-price';
import { replayCandles, type FundingSource, type ReplayCounters, type ReplayHooks } from './replay';
import { DOWNSTREAM } from './replay.service';
import { VENUE_KINDS, VenueConfigError, venueOfKind, type VenueKind } from './venue-config';
import { venuesLib } from './venues-lib';

/** One bar interval of the live feed: Binance 1-minute klines. */
export const LIVE_INTERVAL_MS = 60_000;
const EIGHT_HOURS = 8 * 3_600_000;

/** What the live feed replays: the run id carried on every tick, the instrument, an optional window and operator schedule. */
export interface LiveFeedRequest {
  /** [A-Za-z0-9_-]{1,64}; ticks' causation ids are `tick-<runId>-<seq>`. */
  runId: string;
  venue: VenueId;
  symbol: string;
  /** Candles before `from` (ms) only give the previous close (the first bar's gap step); default none. */
  from?: number | null;
  /** The feed ends before the first candle at or after `to` (ms); default never. */
  to?: number | null;
  schedule?: ReplayStartRequest['schedule'];
  /** Candles opening before this time (ms) are back-fill: their ticks carry `backfill: true` (see MarketTick). */
  backfillBefore?: number;
  /**
   * A candle whose replay begins more than this (ms, market time) after its close is back-fill as
   * well: the feed is behind the market, and an entry on that bar would be sized from a price
   * that has passed. Default: no limit.
   */
  maxLagMs?: number;
}

/**
 * The market the live feed reads: closed candles (each once, in order, without gaps) and
 * funding settlements (each once, in order) — e.g. `BinanceMarketStream.candles()` and
 * `.fundings()` of @bulwark/venues, or recorded data in tests.
 */
export interface LiveMarketSource {
  candles: AsyncIterable<Candle>;
  fundings?: AsyncIterable<FundingRate>;
}

export interface LiveFeedHooks extends ReplayHooks {
  /**
   * Serialises feeds sharing one clock (several symbols): each candle's four steps run while
   * holding it. Default: a gate of this feed alone.
   */
  gate?: Gate;
  /**
   * How long (ms) a candle opening at an expected settlement time (on the grid of the
   * settlements seen, 8 h until two were) waits for the funding source to reach it before it is
   * replayed without funding (default 30 000).
   */
  fundingWaitMs?: number;
  log?: (line: string) => void;
  /** The market's clock, epoch ms, for `maxLagMs` (default Date.now: a live venue's market time is the wall clock). */
  now?: () => number;
}

/** A running live feed. */
export interface LiveFeed {
  /** Settles when the feed ends (stopped, `to` reached, the source ended) or fails (a clock error). */
  readonly done: Promise<ReplayCounters>;
  /** Stop after the candle being replayed (if any); resolves with the counters. */
  stop(): Promise<ReplayCounters>;
}

/** A FIFO mutex: one holder at a time, in arrival order. */
export class Gate {
  private tail: Promise<void> = Promise.resolve();

  /** Wait for the gate; answers the function that releases it. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const turn = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return turn;
  }
}

/**
 * Funding settlements as they arrive from an async source, answering `rateAt` for the replay.
 * A candle at an expected settlement time the source has not reached yet waits for it (at
 * most `waitMs`, or until stopped); any other time answers at once.
 */
export class LiveFundingBook implements FundingSource {
  private readonly rates = new Map<number, string>();
  private readonly times: number[] = [];
  private through = Number.NEGATIVE_INFINITY;
  private ended = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly waitMs: number, private readonly stopped: () => boolean, private readonly log: (line: string) => void = () => undefined) {}

  /** Read `source` into the book until it ends (run once, in the background). */
  async pump(source: AsyncIterable<FundingRate>): Promise<void> {
    try {
      for await (const f of source) {
        if (f.fundingTime <= this.through) continue;
        this.rates.set(f.fundingTime, f.rate);
        this.times.push(f.fundingTime);
        this.through = f.fundingTime;
        this.wake();
      }
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  /** Wake every `rateAt` waiting (after a stop). */
  wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The settlement grid: the last interval between two settlements seen, else 8 h from the epoch. */
  private expected(t: number): boolean {
    const n = this.times.length;
    const step = n >= 2 ? this.times[n - 1] - this.times[n - 2] : EIGHT_HOURS;
    const anchor = n >= 1 ? this.times[n - 1] : 0;
    return step > 0 && (((t - anchor) % step) + step) % step === 0;
  }

  async rateAt(t: number): Promise<string | undefined> {
    if (this.rates.has(t)) return this.rates.get(t);
    if (this.through >= t || this.ended || !this.expected(t)) return undefined;
    const deadline = Date.now() + this.waitMs;
    while (this.through < t && !this.ended && !this.stopped()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.log(`live feed: no funding settlement at ${new Date(t).toISOString()} within ${this.waitMs} ms; the candle is replayed without funding`);
        break;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
    return this.rates.get(t);
  }
}

/**
 * Replay a live market through the replay clock, exactly as a recorded one: each closed
 * candle becomes its four path steps (`replayCandles` with a fixed 60 s interval, so no
 * look-ahead: a candle is replayed as soon as it closes), funding rides on the settlement
 * candle's first step. The six services cannot tell a live candle from a replayed one.
 * Runs until `stop()`, `to`, or the candle source ends.
 */
export function runLiveFeed(clock: ReplayClock, req: LiveFeedRequest, stream: LiveMarketSource, hooks: LiveFeedHooks = {}): LiveFeed {
  let stopped = false;
  let stopNow!: () => void;
  const stopSignal = new Promise<void>((r) => (stopNow = r));
  const isStopped = () => stopped || (hooks.stopped?.() ?? false);
  const book = new LiveFundingBook(hooks.fundingWaitMs ?? 30_000, isStopped, hooks.log);
  const fundingIt = stream.fundings?.[Symbol.asyncIterator]();
  if (fundingIt) {
    void book.pump({ [Symbol.asyncIterator]: () => fundingIt }).catch((e) => hooks.log?.(`live feed ${req.runId}: funding source failed: ${(e as Error).message}`));
  }
  const source = gated(untilStopped(stream.candles, stopSignal), hooks.gate ?? new Gate());
  const done = replayCandles(
    clock,
    { runId: req.runId, venue: req.venue, symbol: req.symbol, from: req.from ?? null, to: req.to ?? null, schedule: req.schedule ?? [], source, intervalMs: LIVE_INTERVAL_MS,
      backfill: backfillRule(req, hooks) },
    fundingIt ? book : [],
    { ...hooks, stopped: isStopped },
  ).finally(() => {
    stopped = true;
    stopNow();
    book.wake();
    void fundingIt?.return?.();
  });
  return {
    done,
    stop() {
      stopped = true;
      stopNow();
      book.wake();
      return done;
    },
  };
}

/**
 * Which candles of a live feed are back-fill (see {@link LiveFeedRequest}): those opening before
 * `backfillBefore`, and those whose replay begins more than `maxLagMs` after their close. Falling
 * behind and catching up are logged once each.
 */
function backfillRule(req: LiveFeedRequest, hooks: LiveFeedHooks): (candle: Candle) => boolean {
  const now = hooks.now ?? Date.now;
  let behind = false;
  return (candle) => {
    if (req.backfillBefore !== undefined && candle.openTime < req.backfillBefore) return true;
    if (req.maxLagMs === undefined) return false;
    const lagMs = now() - (candle.openTime + LIVE_INTERVAL_MS);
    const late = lagMs > req.maxLagMs;
    if (late !== behind) {
      behind = late;
      const bar = new Date(candle.openTime).toISOString();
      hooks.log?.(
        late
          ? `live feed ${req.runId}: behind the market: the bar of ${bar} begins its replay ${(lagMs / 1000).toFixed(1)} s after its close (limit ${req.maxLagMs / 1000} s); strategies do not trade until the feed catches up (stops, guards and accounting act on every bar)`
          : `live feed ${req.runId}: caught up: the bar of ${bar} begins its replay ${(lagMs / 1000).toFixed(1)} s after its close; strategies trade again`,
      );
    }
    return late;
  };
}

/** The candles of `source` until `stop` settles: then the iteration ends at once (the source is told to return). */
function untilStopped<T>(source: AsyncIterable<T>, stop: Promise<void>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      let over = false;
      const finish = (): IteratorResult<T> => {
        if (!over) {
          over = true;
          void it.return?.()?.catch(() => undefined);
        }
        return { value: undefined, done: true };
      };
      const stopped = stop.then(finish);
      return {
        next: () => (over ? Promise.resolve(finish()) : Promise.race([it.next(), stopped])),
        return: () => Promise.resolve(finish()),
      };
    },
  };
}

/** The values of `source`, each shown to `f` as it passes. */
function tap<T>(source: AsyncIterable<T>, f: (x: T) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        next: async () => {
          const r = await it.next();
          if (!r.done) f(r.value);
          return r;
        },
        return: async () => (await it.return?.()) ?? { value: undefined, done: true },
      };
    },
  };
}

/** Each candle is handed on while holding `gate`; the gate is released when the next one is asked for (the candle's steps have run). */
async function* gated<T>(source: AsyncIterable<T>, gate: Gate): AsyncGenerator<T> {
  for await (const c of source) {
    const release = await gate.acquire();
    try {
      yield c;
    } finally {
      release();
    }
  }
}

/** The live feed of the market-data service: which venue streams, which symbols. */
export interface LiveFeedSettings {
  /** binance-demo | binance-live | bitget-demo | bitget-live: which public streams (see {@link liveMarketFor}). */
  venue: LiveVenueKind;
  mode: 'demo' | 'live';
  symbols: string[];
  /** The longest gap a restart back-fills, ms (BULWARK_LIVE_BACKFILL_SECONDS, default 24 h). */
  maxBackfillMs: number;
  /** A bar replayed later than this after its close is not traded, ms (BULWARK_LIVE_MAX_LAG_SECONDS, default 15 s; see {@link LiveFeedRequest}). */
  maxLagMs: number;
}

/**
 * Read the live-feed settings: BULWARK_VENUE binance-demo, binance-live, bitget-demo or
 * bitget-live (the same variable the execution service reads; market data needs no keys) and
 * BULWARK_LIVE_SYMBOLS (comma list of venue ids — Binance and Bitget USDT-M both name BTC as
 * BTCUSDT — default BTCUSDT), BULWARK_LIVE_BACKFILL_SECONDS (the longest gap a restart
 * back-fills, default 86 400), BULWARK_LIVE_MAX_LAG_SECONDS (a bar whose replay begins later
 * than this after its close is not traded, default 15). null for every other venue (paper,
 * binance-local, bitget-local): the service then only replays files.
 * @throws VenueConfigError for an unknown venue, a malformed symbol or a back-fill or lag limit that is not a positive number
 */
export function liveFeedSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LiveFeedSettings | null {
  const kind = (env.BULWARK_VENUE || 'paper') as VenueKind;
  if (!VENUE_KINDS.includes(kind)) throw new VenueConfigError(`BULWARK_VENUE must be one of ${VENUE_KINDS.join(', ')}, got "${env.BULWARK_VENUE}"`);
  if (!(LIVE_VENUE_KINDS as readonly VenueKind[]).includes(kind)) return null;
  const venue = venueOfKind(kind)!;
  const symbols = (env.BULWARK_LIVE_SYMBOLS ?? 'BTCUSDT').split(',').map((x) => x.trim().toUpperCase()).filter(Boolean);
  if (symbols.length === 0) throw new VenueConfigError('BULWARK_LIVE_SYMBOLS names no symbol (e.g. BTCUSDT,ETHUSDT)');
  for (const sym of symbols) if (!/^[A-Z0-9]{2,20}$/.test(sym)) throw new VenueConfigError(`BULWARK_LIVE_SYMBOLS: "${sym}" is not a ${venue.exchange === 'bitget' ? 'Bitget' : 'Binance'} symbol`);
  let maxBackfillMs: number;
  let maxLagMs: number;
  try {
    maxBackfillMs = secondsFromEnv(env, 'BULWARK_LIVE_BACKFILL_SECONDS', DEFAULT_LIVE_BACKFILL_MS);
    maxLagMs = secondsFromEnv(env, 'BULWARK_LIVE_MAX_LAG_SECONDS', DEFAULT_LIVE_MAX_LAG_MS);
  } catch (e) {
    throw new VenueConfigError((e as Error).message);
  }
  return { venue: kind as LiveVenueKind, mode: venue.mode === 'demo' ? 'demo' : 'live', symbols: [...new Set(symbols)], maxBackfillMs, maxLagMs };
}

/** The live market the service reads (BinanceMarketStream / BitgetMarketStream of @bulwark/venues, or a fake in tests). */
export interface LiveMarket {
  candles(symbol: string, opts: { since?: number }): AsyncIterable<Candle>;
  fundings(symbol: string, opts: { since?: number }): AsyncIterable<FundingRate>;
  /** One page of closed candles over REST (warm-ups); absent when the source keeps no history. */
  closedCandles?(symbol: string, from: number, to: number, limit: number): Promise<{ candles: Candle[]; next: number | null }>;
  close(): Promise<void>;
}

export interface LiveMarketDataHooks {
  /** After each live candle's steps (e.g. publish it on md.candle.*). */
  onCandle?(symbol: string, candle: Candle): void;
  /** After each step (e.g. publish the mark on md.mark.*). */
  onStep?: ReplayHooks['onStep'];
  log?: (line: string) => void;
  /** The market's clock, epoch ms (default Date.now: a live venue's market time is the wall clock; a local venue on its own clock differs). */
  now?: () => number;
  /** A bar whose replay begins later than this after its close is not traded, ms (default {@link DEFAULT_LIVE_MAX_LAG_MS}; see {@link LiveFeedRequest}). */
  maxLagMs?: number;
  /** Wait before a failed feed restarts, ms (default 5 000). */
  restartDelayMs?: number;
  /**
   * Where each replayed candle is recorded and where a restart resumes from (the log's
   * `CandleClosed`, {@link LogCandleJournal}); without it every start begins at the current minute.
   */
  journal?: LiveCandleJournal;
  /** The longest gap a restart back-fills, ms (default {@link DEFAULT_LIVE_BACKFILL_MS}); an older last candle starts at the current minute. */
  maxBackfillMs?: number;
}

/** The longest gap a restarted live feed back-fills from the venue by default: 24 hours of 1m candles (two REST pages). */
export const DEFAULT_LIVE_BACKFILL_MS = 24 * 3_600_000;

/**
 * How late after its close a live bar may begin its replay and still be traded, by default:
 * Binance pushes the closed kline within a second or two of the minute and its four steps take
 * milliseconds, so 15 s means the feed is behind (a restart's catch-up, a slow service).
 */
export const DEFAULT_LIVE_MAX_LAG_MS = 15_000;

/** How far a symbol's live feed is behind the market: its venue, symbol, and the seconds from its last replayed bar's close to now. */
export interface LiveFeedLag {
  venue: VenueId;
  symbol: string;
  /** now − close of the last bar whose steps all ran (before the first: the feed's start); 0–60 s while the feed keeps up. */
  seconds: number;
}

/**
 * The market-data service's live mode: one live feed per symbol, all through one replay
 * clock (serialised by a shared gate, so the services see one step at a time). Each candle
 * whose steps all ran is recorded (`journal`). A feed starts after the last recorded candle
 * when that is at most `maxBackfillMs` old: the missed candles are fetched from the venue and
 * replayed first, their ticks marked `backfill` (stops, guards and accounting act on them;
 * strategies learn from them without trading). Otherwise (nothing recorded, or an older gap,
 * logged) it starts with the candle of the current minute, the previous one giving its close.
 * Funding settlements follow from the same point. A feed that fails (e.g. a service did not
 * answer the clock) restarts after `restartDelayMs` with the candle after the last one fully
 * replayed; a candle that failed halfway is not replayed again (logged).
 */
export class LiveMarketData {
  private readonly gate = new Gate();
  private readonly feeds = new Map<string, LiveFeed>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Per symbol: the close (ms) of the last bar whose steps all ran, or the feed's start before the first. */
  private readonly closes = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly clock: ReplayClock,
    private readonly venue: VenueId,
    private readonly symbols: readonly string[],
    private readonly market: LiveMarket,
    private readonly hooks: LiveMarketDataHooks = {},
  ) {}

  get running(): boolean {
    return !this.stopped && this.feeds.size > 0;
  }

  /** The market's clock (see {@link LiveMarketDataHooks.now}). */
  private get now(): () => number {
    return this.hooks.now ?? Date.now;
  }

  /**
   * How far each symbol's feed is behind the market now (the `bulwark_live_feed_lag_seconds`
   * gauge): a feed that stalls or falls behind shows it even while no bar arrives.
   */
  lags(): LiveFeedLag[] {
    const now = this.now();
    return [...this.closes].map(([symbol, close]) => ({ venue: this.venue, symbol, seconds: Math.max(0, now - close) / 1000 }));
  }

  /** One page of the venue's closed 1m candles of `symbol` in `[from, to)` (a restarted strategy's warm-up). */
  async history(symbol: string, from: number, to: number, limit: number): Promise<{ candles: Candle[]; next: number | null }> {
    if (!this.market.closedCandles) throw new Error('this market source keeps no candle history');
    return this.market.closedCandles(symbol, from, to, limit);
  }

  /**
   * Start every symbol's feed (resolves once each has its starting point; the feeds run on).
   * @throws whatever the journal throws reading the last recorded candle
   */
  async start(): Promise<void> {
    const now = this.now();
    const minute = now - (now % LIVE_INTERVAL_MS);
    const log = this.hooks.log ?? (() => undefined);
    const maxBackfill = this.hooks.maxBackfillMs ?? DEFAULT_LIVE_BACKFILL_MS;
    for (const symbol of this.symbols) {
      const last = (await this.hooks.journal?.lastOpenTime(this.venue, symbol)) ?? null;
      let from = minute;
      if (last !== null && last + LIVE_INTERVAL_MS < minute) {
        const resume = last + LIVE_INTERVAL_MS;
        if (minute - resume <= maxBackfill) from = resume;
        else log(`live feed ${symbol}: the last recorded candle (${new Date(last).toISOString()}) is older than the back-fill limit (${Math.round(maxBackfill / 60_000)} min): ${new Date(resume).toISOString()} → ${new Date(minute).toISOString()} is not replayed`);
      } else if (last !== null && last >= minute) {
        from = last + LIVE_INTERVAL_MS; // recorded already (a restart within the minute)
      }
      if (from < minute) log(`live feed ${symbol}: resuming after the last recorded candle, back-filling ${(minute - from) / LIVE_INTERVAL_MS} candles from ${new Date(from).toISOString()}`);
      this.startFeed(symbol, from, 0, minute);
    }
  }

  private startFeed(symbol: string, from: number, restarts: number, liveFrom: number): void {
    if (this.stopped) return;
    const log = this.hooks.log ?? (() => undefined);
    const runId = `live-${symbol.toLowerCase()}-${from}${restarts ? `-r${restarts}` : ''}`.slice(0, 64);
    let next = from;
    let begun: number | null = null;
    if (!this.closes.has(symbol)) this.closes.set(symbol, from);
    const candles = tap(this.market.candles(symbol, { since: from - LIVE_INTERVAL_MS }), (c) => {
      if (c.openTime >= from) begun = c.openTime;
    });
    const feed = runLiveFeed(
      this.clock,
      { runId, venue: this.venue, symbol, from, backfillBefore: liveFrom, maxLagMs: this.hooks.maxLagMs ?? DEFAULT_LIVE_MAX_LAG_MS },
      { candles, fundings: this.market.fundings(symbol, { since: from }) },
      {
        gate: this.gate,
        log,
        now: this.now,
        onStep: this.hooks.onStep,
        onCandle: async (c) => {
          next = c.openTime + LIVE_INTERVAL_MS;
          this.closes.set(symbol, next);
          this.hooks.onCandle?.(symbol, c);
          // Not recorded (NATS away): a restart replays it again (signals judge a bar once; stops, marks and funding are idempotent).
          await this.hooks.journal?.record(runId, this.venue, symbol, c).catch((e: Error) => log(`live feed ${runId}: candle ${new Date(c.openTime).toISOString()} not recorded: ${e.message}`));
        },
      },
    );
    this.feeds.set(symbol, feed);
    log(`live feed ${runId}: ${this.venue} ${symbol} from ${new Date(from).toISOString()}`);
    feed.done.then(
      (c) => log(`live feed ${runId}: ended after ${c.candles} candles`),
      (e: Error) => {
        if (this.stopped) return;
        if (begun !== null && begun >= next) {
          log(`live feed ${runId}: the candle of ${new Date(begun).toISOString()} failed halfway and is not replayed again`);
          next = begun + LIVE_INTERVAL_MS;
        }
        log(`live feed ${runId} failed: ${e.message}; restarting from ${new Date(next).toISOString()}`);
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.startFeed(symbol, next, restarts + 1, liveFrom);
        }, this.hooks.restartDelayMs ?? 5_000);
        this.timers.add(t);
      },
    );
  }

  /** Stop every feed (after the candle being replayed) and close the market streams. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.feeds.values()].map((f) => f.stop()));
    this.feeds.clear();
    await this.market.close();
  }
}

/** A live venue's public market: the venue id its ticks, candles and marks carry, and its stream. */
export interface LiveVenueMarket {
  venue: VenueId;
  market: LiveMarket & { markPrices(symbol: string): AsyncIterable<MarkPriceSourceUpdate> };
}

/**
 * The public market streams of a live venue kind — the one place the live feed picks a venue:
 * binance-demo / binance-live → `BinanceMarketStream` (venue `binance-usdm`), bitget-demo /
 * bitget-live → `BitgetMarketStream` (venue `bitget-usdtm`), in the kind's mode (demo or live).
 * No keys: public streams only.
 */
export function liveMarketFor(venue: LiveVenueKind, opts: { log?: (line: string) => void; onAlert?: (a: MarketStreamAlert) => void } = {}): LiveVenueMarket {
  const v = venueOfKind(venue)!;
  const mode = v.mode === 'demo' ? 'demo' : 'live';
  const { BinanceMarketStream, BitgetMarketStream } = venuesLib();
  if (v.exchange === 'bitget') return { venue: 'bitget-usdtm', market: new BitgetMarketStream({ mode, log: opts.log, onAlert: opts.onAlert }) };
  return { venue: 'binance-usdm', market: new BinanceMarketStream({ mode, log: opts.log, onAlert: opts.onAlert }) };
}

/**
 * The market-data service's live mode over NATS: the venue's public streams
 * (`liveMarketFor`: Binance or Bitget, demo or live) drive the five services through the NATS replay clock;
 * each candle is published on `md.candle.<venue>.<symbol>`, and the venue's mark price (Binance
 * Mark Price Stream every second, Bitget ticker pushes; as they arrive) on `md.mark.<venue>.<symbol>` — stop-monitor
 * evaluates mark-price stops on it. Call `start()`, and `stop()` on shutdown.
 */
export function liveMarketDataOverNats(
  nc: NatsConnection,
  settings: LiveFeedSettings,
  opts: { log?: (line: string) => void; onAlert?: (a: MarketStreamAlert) => void; journal?: LiveCandleJournal } = {},
): LiveMarketData {
  const json = JSONCodec();
  const { venue, market } = liveMarketFor(settings.venue, { log: opts.log, onAlert: opts.onAlert });
  // Until market.close() (LiveMarketData.stop()) ends the mark iterators.
  for (const symbol of settings.symbols) {
    void publishMarkPrices(nc, venue, symbol, market.markPrices(symbol), { log: opts.log }).catch((e) => opts.log?.(`mark prices of ${symbol} stopped: ${(e as Error).message}`));
  }
  return new LiveMarketData(new ReplayClock(new NatsClockPort(nc), DOWNSTREAM), venue, settings.symbols, market, {
    log: opts.log,
    onCandle: (symbol, candle) => nc.publish(Subjects.candle(venue, symbol), json.encode(candle)),
    journal: opts.journal,
    maxBackfillMs: settings.maxBackfillMs,
    maxLagMs: settings.maxLagMs,
  });
}
