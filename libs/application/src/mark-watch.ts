import { type EventData, Streams, event } from '@bulwark/contracts';
import type { Causation, EventAppender } from '@bulwark/messaging';
import type { MarkPriceMessage } from './mark-price';
import type { MarkEvaluation, MarkWatchedStop } from './stop-monitor.service';

/** What the watch needs of stop-monitor (StopMonitorService, with `enableMarkPrices()` called). */
export interface MarkDrivenStops {
  readonly appender: EventAppender;
  markWatched(): Promise<MarkWatchedStop[]>;
  onMark(venue: string, symbol: string, mark: MarkPriceMessage, source: 'stream' | 'poll'): Promise<MarkEvaluation>;
}

/** A live subscription to one symbol's mark prices. */
export interface MarkPriceSubscription {
  unsubscribe(): void;
}

/**
 * Where mark prices come from (services/stop-monitor: core NATS `md.mark.<venue>.<symbol>`;
 * a fake publisher in tests). `onMark` gets every valid mark of the symbol, in arrival order,
 * synchronously as it arrives; invalid messages are the subscriber's to refuse.
 */
export interface MarkPriceSubscriber {
  subscribe(venue: string, symbol: string, onMark: (mark: MarkPriceMessage) => void): MarkPriceSubscription;
}

/** The REST fallback: the venue's current mark price of a symbol (e.g. Binance `GET /fapi/v1/premiumIndex`). Throws when unavailable. */
export interface MarkPricePoller {
  fetchMarkPrice(symbol: string): Promise<MarkPriceMessage>;
}

export interface MarkPriceWatchOptions {
  /** No mark from the stream for this long (ms) while a mark-price stop is armed → stale (default 5 000). */
  staleMs?: number;
  /** Wall clock, epoch ms (default Date.now; tests inject one). */
  now?: () => number;
  log?: (line: string) => void;
}

/** One symbol the watch follows. */
interface SymbolWatch {
  venue: string;
  symbol: string;
  subscription: MarkPriceSubscription;
  /** Wall time of the last mark from the stream (or when the watch began). */
  lastStreamAt: number;
  /** The current stale episode, null while the stream delivers. */
  stale: StaleEpisode | null;
  /** A poll in flight (at most one per symbol). */
  polling: boolean;
}

interface StaleEpisode {
  /** Wall time the stream went silent (its last mark, or the watch's start). */
  since: number;
  detectedAt: number;
  /** Accounts to alert (those with a mark-price stop on the symbol during the episode), and those alerted so far. */
  accounts: Set<string>;
  alerted: Set<string>;
  /** The alerts being recorded (a resume waits for them, so every stale record gets its resume). */
  alerting: Promise<void>;
  polls: number;
  pollFailures: number;
  correlationId: string;
}

/**
 * Stop-monitor's mark-price watchdog (live venues). `tick()` is called every second by its
 * carrier (a timer in services/stop-monitor; a test calls it with an injected clock):
 * - it subscribes to the mark prices of every symbol with a mark-price stop armed (MARK_PRICE
 *   accounts) and drops symbols that have none any more; every mark from the stream goes to
 *   `stops.onMark` in arrival order;
 * - a symbol whose stream delivered nothing for `staleMs` becomes stale: one
 *   `VenueAlert MARK_PRICE_STALE` per affected account on its `monitor-<accountId>` stream,
 *   and from then on each tick polls the mark over REST (`poller`, one request in flight per
 *   symbol) and evaluates the stops on it;
 * - the next mark from the stream ends the episode: one `VenueAlert MARK_PRICE_RESUMED` per
 *   alerted account (how long, how many polls), and polling stops.
 * An alert that could not be appended is tried again on the next tick; a failing poll is
 * logged and tried again on the next tick.
 */
export class MarkPriceWatch {
  private readonly symbols = new Map<string, SymbolWatch>();
  /** Stream marks not evaluated yet. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly staleMs: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private stopped = false;

  constructor(
    private readonly stops: MarkDrivenStops,
    private readonly subscriber: MarkPriceSubscriber,
    private readonly poller: MarkPricePoller,
    opts: MarkPriceWatchOptions = {},
  ) {
    this.staleMs = opts.staleMs ?? 5_000;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => undefined);
  }

  /** The symbols followed now: whether each is stale, and how many marks were polled in its current silence. */
  status(): Array<{ venue: string; symbol: string; stale: boolean; polls: number }> {
    return [...this.symbols.values()].map((w) => ({ venue: w.venue, symbol: w.symbol, stale: w.stale !== null, polls: w.stale?.polls ?? 0 }));
  }

  /**
   * A mark from the stream (the subscriber calls this synchronously, in arrival order): the
   * symbol is alive again; the mark is evaluated (queued behind the marks before it).
   * @returns when the mark has been evaluated (and a resume recorded, if it ended an episode)
   */
  onStreamMark(venue: string, symbol: string, mark: MarkPriceMessage): Promise<void> {
    const evaluated = this.stops.onMark(venue, symbol, mark, 'stream');
    const w = this.symbols.get(`${venue}:${symbol}`);
    let resumed: Promise<void> = Promise.resolve();
    if (w) {
      const now = this.now();
      w.lastStreamAt = now;
      if (w.stale) {
        const ep = w.stale;
        w.stale = null;
        resumed = this.recordResumed(w, ep, mark, now);
      }
    }
    return Promise.all([evaluated, resumed]).then(() => undefined);
  }

  /** Follow the symbols that need marks, detect silence, poll stale symbols (see the class). */
  async tick(): Promise<void> {
    if (this.stopped) return;
    const now = this.now();
    const wanted = new Map<string, { venue: string; symbol: string; accounts: Set<string> }>();
    for (const s of await this.stops.markWatched()) {
      const key = `${s.venue}:${s.symbol}`;
      const g = wanted.get(key) ?? { venue: s.venue, symbol: s.symbol, accounts: new Set<string>() };
      g.accounts.add(s.accountId);
      wanted.set(key, g);
    }
    if (this.stopped) return;
    for (const [key, w] of this.symbols) {
      if (wanted.has(key)) continue;
      w.subscription.unsubscribe();
      this.symbols.delete(key);
      this.log(`mark prices of ${w.symbol}: no mark-price stop armed any more${w.stale ? `; polling ends after ${w.stale.polls} polls` : ''}`);
    }
    for (const [key, g] of wanted) {
      if (this.symbols.has(key)) continue;
      const w: SymbolWatch = { venue: g.venue, symbol: g.symbol, lastStreamAt: now, stale: null, polling: false, subscription: { unsubscribe: () => undefined } };
      this.symbols.set(key, w);
      w.subscription = this.subscriber.subscribe(g.venue, g.symbol, (m) => {
        const done = this.onStreamMark(g.venue, g.symbol, m).catch((e) => this.log(`mark price of ${g.symbol} at ${m.ts} not evaluated: ${(e as Error).message}`));
        this.inFlight.add(done);
        void done.finally(() => this.inFlight.delete(done));
      });
      this.log(`mark prices of ${g.symbol} (${g.venue}): following, for the stops of ${[...g.accounts].join(', ')}`);
    }
    const work: Promise<void>[] = [];
    for (const [key, w] of this.symbols) {
      if (!w.stale && now - w.lastStreamAt >= this.staleMs) {
        w.stale = {
          since: w.lastStreamAt, detectedAt: now, accounts: new Set(), alerted: new Set(), alerting: Promise.resolve(), polls: 0, pollFailures: 0,
          correlationId: `mark-stale-${w.venue}-${w.symbol}-${now}`,
        };
        this.log(`mark prices of ${w.symbol}: none for ${now - w.lastStreamAt} ms; polling the venue every tick`);
      }
      const ep = w.stale;
      if (ep) {
        for (const a of wanted.get(key)!.accounts) ep.accounts.add(a);
        ep.alerting = ep.alerting.then(() => this.recordStale(w, ep, now));
        work.push(ep.alerting, this.poll(w, ep));
      }
    }
    await Promise.all(work);
  }

  /** Resolves when every mark received from the stream so far has been evaluated (and its resume record written). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Stop following (unsubscribe everything); later ticks do nothing. */
  stop(): void {
    this.stopped = true;
    for (const w of this.symbols.values()) w.subscription.unsubscribe();
    this.symbols.clear();
  }

  private async poll(w: SymbolWatch, ep: StaleEpisode): Promise<void> {
    if (w.polling) return;
    w.polling = true;
    try {
      const mark = await this.poller.fetchMarkPrice(w.symbol);
      if (w.stale !== ep) return; // the stream came back meanwhile: its marks rule
      ep.polls++;
      await this.stops.onMark(w.venue, w.symbol, mark, 'poll');
    } catch (e) {
      ep.pollFailures++;
      if (ep.pollFailures === 1 || ep.pollFailures % 10 === 0) this.log(`mark price of ${w.symbol} could not be polled (${ep.pollFailures} failures): ${(e as Error).message}`);
    } finally {
      w.polling = false;
    }
  }

  /** The stale alert of each affected account not yet alerted in this episode. */
  private async recordStale(w: SymbolWatch, ep: StaleEpisode, now: number): Promise<void> {
    const silent = ((ep.detectedAt - ep.since) / 1000).toFixed(1);
    const detail = `no mark price of ${w.symbol} (${w.venue}) for ${silent} s (limit ${this.staleMs / 1000} s) while mark-price stops are armed; polling GET /fapi/v1/premiumIndex every second until the stream is back`;
    const c: Causation = { tsEvent: now, correlationId: ep.correlationId, causationId: ep.correlationId };
    for (const accountId of [...ep.accounts].sort()) {
      if (ep.alerted.has(accountId)) continue;
      if (await this.alert(accountId, { kind: 'MARK_PRICE_STALE', detail, until: null }, c)) ep.alerted.add(accountId);
    }
  }

  /** The resume record of each account alerted in the episode (a failed append is logged, not retried: the stream is back). */
  private async recordResumed(w: SymbolWatch, ep: StaleEpisode, mark: MarkPriceMessage, now: number): Promise<void> {
    await ep.alerting;
    const detail = `mark price stream of ${w.symbol} (${w.venue}) back after ${((now - ep.since) / 1000).toFixed(1)} s without it; ${ep.polls} marks polled over REST meanwhile (${ep.pollFailures} polls failed)`;
    this.log(detail);
    const c: Causation = { tsEvent: now, correlationId: ep.correlationId, causationId: `mark-stream-${w.venue}-${w.symbol}-${mark.ts}` };
    for (const accountId of [...ep.alerted].sort()) await this.alert(accountId, { kind: 'MARK_PRICE_RESUMED', detail, until: null }, c);
  }

  private async alert(accountId: string, data: EventData<'VenueAlert'>, c: Causation): Promise<boolean> {
    try {
      await this.stops.appender.append(Streams.monitor(accountId), [event('VenueAlert', data)], 'any', c);
      this.log(`${data.kind} recorded for ${accountId}: ${data.detail}`);
      return true;
    } catch (e) {
      this.log(`${data.kind} for ${accountId} could not be recorded: ${(e as Error).message}`);
      return false;
    }
  }
}
