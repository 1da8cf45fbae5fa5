import { type EventData, type RecordedEvent, Streams } from '@bulwark/contracts';
import type { EventStore, Subscription as StoreSubscription } from '@bulwark/event-store';
import { AccountProjection, MarginProjection, marginPositionId, type MarkPriceView } from '@bulwark/projections';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { JSONCodec, type NatsConnection, type Subscription } from 'nats';
import { z } from 'zod';
import { GATEWAY_NATS, GATEWAY_STORE } from '../tokens';
import { API_OPTIONS, type ApiOptions } from './api-options';


/** A spot-margin order the log records as filled: the entry (MarginPositionOpened) or the close (MarginPositionClosed) of a position. */
export interface MarginOrderRef {
  clientOrderId: string;
  /** `margin-<accountId>-<symbol>-<sequence>` (marginPositionId). */
  positionId: string;
  role: 'ENTRY' | 'CLOSE';
}

const MarkMessage = z.object({ ts: z.number().int().nonnegative(), price: z.string().regex(/^\d+(\.\d+)?$/) });
const json = JSONCodec();

/**
 * The gateway's read models, from @bulwark/projections: an `AccountProjection` and a
 * `MarginProjection` (spot isolated-margin pairs and positions), both fed by the whole event log
 * from position 1 (`store.subscribeToAll`), the account one also by live mark prices from core
 * NATS `md.mark.<venue>.<symbol>`. Reads answer from memory; listeners (the Server-Sent Events
 * stream) hear each event and mark after it is folded in.
 */
@Injectable()
export class ReadModelService implements OnModuleInit, OnModuleDestroy {
  readonly projection = new AccountProjection();
  readonly margin = new MarginProjection();
  /** Filled spot-margin orders by client order id (the margin views keep only the entry's). */
  private readonly marginOrders = new Map<string, MarginOrderRef>();
  private readonly log = new Logger('ReadModel');
  private readonly eventListeners = new Set<(e: RecordedEvent) => void>();
  private readonly markListeners = new Set<(m: MarkPriceView) => void>();
  /** The newest mark price per `venue:symbol` (market time decides: a replay's marks are not wall time). */
  private readonly lastMarks = new Map<string, MarkPriceView>();
  private sub: StoreSubscription | null = null;
  private markSub: Subscription | null = null;
  /** The log's last position when the gateway started: caught up once it is applied. */
  private startPosition = 0;
  private caughtUp = false;
  private stopping = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    @Inject(GATEWAY_STORE) private readonly store: EventStore,
    @Inject(GATEWAY_NATS) private readonly nc: NatsConnection,
    @Inject(API_OPTIONS) private readonly opts: ApiOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.follow();
    const subject = `${this.opts.subjectPrefix}md.mark.>`;
    const depth = subject.split('.').length - 1; // tokens before venue and symbol
    this.markSub = this.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) return;
        const tokens = m.subject.split('.');
        if (tokens.length !== depth + 2) return;
        let parsed: z.SafeParseReturnType<unknown, { ts: number; price: string }>;
        try {
          parsed = MarkMessage.safeParse(json.decode(m.data));
        } catch {
          return; // not JSON: not a mark price from market-data
        }
        if (!parsed.success) return;
        const tick: MarkPriceView = { venue: tokens[depth], symbol: tokens[depth + 1], price: parsed.data.price, ts: parsed.data.ts };
        this.projection.applyMark(tick.venue, tick.symbol, tick.price, tick.ts);
        const k = `${tick.venue}:${tick.symbol}`;
        if ((this.lastMarks.get(k)?.ts ?? -1) <= tick.ts) this.lastMarks.set(k, tick);
        for (const l of this.markListeners) this.safely(() => l(tick));
      },
    });
  }

  /**
   * Follow the log from the event after the last one applied. A subscription that ends with an
   * error (the store away) makes the gateway not ready and is taken up again after a second, from
   * where it stopped: the read models never miss an event and never apply one twice.
   */
  private async follow(): Promise<void> {
    this.startPosition = await this.store.lastPosition();
    this.caughtUp = this.projection.lastPosition() >= this.startPosition;
    const sub = this.store.subscribeToAll({ fromPosition: this.projection.lastPosition() + 1 }, async (e) => {
      this.projection.apply(e);
      // A margin view that cannot take an event must not stop the log's subscription.
      this.safely(() => this.applyMargin(e));
      if (!this.caughtUp && e.position >= this.startPosition) {
        this.caughtUp = true;
        this.log.log(`caught up with the event log at position ${e.position}`);
      }
      for (const l of this.eventListeners) this.safely(() => l(e));
    });
    this.sub = sub;
    sub.done.catch((err: unknown) => {
      if (this.stopping) return;
      this.caughtUp = false;
      this.log.error(`event log subscription ended: ${(err as Error).message}; following again from position ${this.projection.lastPosition() + 1} in 1 s`);
      this.followLater();
    });
  }

  /** Take up the log again in a second; again a second later while the store does not answer. */
  private followLater(): void {
    if (this.stopping) return;
    this.retry = setTimeout(() => {
      this.follow().catch((e: unknown) => {
        this.log.error(`following the event log again failed: ${(e as Error).message}`);
        this.followLater();
      });
    }, 1_000);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.retry) clearTimeout(this.retry);
    this.markSub?.unsubscribe();
    await this.sub?.stop();
  }

  /** Fold an event into the margin read model and note the order of an entry or close it took. */
  private applyMargin(e: RecordedEvent): void {
    if (this.margin.apply(e) !== null) return; // left out as invalid: no order of the books
    if (e.type !== 'MarginPositionOpened' && e.type !== 'MarginPositionClosed') return;
    const d = e.data as EventData<'MarginPositionOpened'> | EventData<'MarginPositionClosed'>;
    // The projection took it only from the stream of the pair its data names: the ids are valid.
    if (!d.clientOrderId || e.streamId !== Streams.margin(d.accountId, d.symbol)) return;
    this.marginOrders.set(d.clientOrderId, { clientOrderId: d.clientOrderId, positionId: marginPositionId(d.accountId, d.symbol, d.sequence), role: e.type === 'MarginPositionOpened' ? 'ENTRY' : 'CLOSE' });
  }

  /** The filled spot-margin order (an entry's or a close's) with this client order id, or null. */
  marginOrder(clientOrderId: string): MarginOrderRef | null {
    return this.marginOrders.get(clientOrderId) ?? null;
  }

  /** Whether the projection has applied every event the log held when the gateway started. */
  ready(): boolean {
    return this.caughtUp;
  }

  /** Hear every event after it is applied; returns the unsubscribe function. */
  onEvent(listener: (e: RecordedEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Hear every live mark price after it is applied; returns the unsubscribe function. */
  onMark(listener: (m: MarkPriceView) => void): () => void {
    this.markListeners.add(listener);
    return () => this.markListeners.delete(listener);
  }

  /** The newest mark price of an instrument heard since the gateway started (market time), or null. */
  lastMark(venue: string, symbol: string): MarkPriceView | null {
    return this.lastMarks.get(`${venue}:${symbol}`) ?? null;
  }

  /**
   * Wait until the projection has applied the event at `position` (a command's own events), at most `timeoutMs`.
   * @returns whether it got there in time
   */
  async waitFor(position: number, timeoutMs = 5_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.projection.lastPosition() < position) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  private safely(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.log.warn(`a read-model listener failed: ${(e as Error).message}`);
    }
  }
}
