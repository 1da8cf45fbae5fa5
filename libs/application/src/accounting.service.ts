import {
  type AccountSummary,
  type ClockInterest,
  type EquitySnapshot,
  type EventData,
  type MarketTick,
  type RecordedEvent,
  Streams,
  event,
  parsePositionStreamId,
  parseStreamId,
} from '@bulwark/contracts';
import { type D, type PositionState, ZERO, dec, decideFunding, decidePositionFill, positionEvolve, positionInitialState, str, unrealisedPnl } from '@bulwark/domain';
import { LedgerFold } from '@bulwark/projections';
import { AggregateRepository, type Causation, EventAppender, EVENT_STORE, Quarantine, causedBy, causedByTick } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { EquitySource, PipelineService } from './ports';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from './rebuild';

/** The lifecycle number of a position stream this service built (`Streams.position`). */
function positionSequence(streamId: string): number {
  const p = parsePositionStreamId(streamId);
  if (!p) throw new Error(`not a position stream id: ${streamId}`);
  return p.sequence;
}

interface OpenPosition {
  streamId: string;
  openedAt: number;
}

/** The ledger read model of one account (all USDT). */
interface Ledger {
  accountId: string;
  /** Capital, realised PnL, fees, funding, liquidation fees and the counts: the projection library's fold, the one `bulwark replay` and the gateway use. */
  book: LedgerFold;
  open: Map<string, OpenPosition>;
  sequence: Map<string, number>;
  peakEquity: D;
  maxDrawdown: D;
  maxDrawdownFraction: D;
  /** Revision of the account's `ledger-` stream (EquityMarked), -1 before its first event. */
  ledgerRevision: number;
  lastEquity: D;
  asOf: number;
  /**
   * `<venue>:<symbol>:<tradeId>` of every trade booked, whatever its lifecycle: a fill delivered
   * again after its position closed and the next one opened is not a fill of the next one.
   */
  trades: Set<string>;
}

/**
 * Accounting: owns the position streams (one per position lifecycle) and the ledger read
 * model — realised and unrealised PnL, fees, funding at each settlement, equity and
 * drawdown. Position decisions are the domain's position aggregate.
 */
@Injectable()
export class AccountingService implements PipelineService, EquitySource, Rebuildable, OnModuleInit {
  readonly name = 'accounting' as const;
  readonly categories = ['account', 'order'] as const;
  /** Ledgers and position sequence numbers are folded from the account and position streams at start-up. */
  readonly rebuildCategories = ['account', 'position', 'ledger'] as const;
  readonly quarantine: Quarantine;
  private readonly log = new Logger('accounting');
  private readonly ledgers = new Map<string, Ledger>();
  private readonly positions: AggregateRepository<PositionState>;
  private readonly marks = new Map<string, D>();
  /** Account and `venue:symbol` of each position stream met by the rebuild. */
  private readonly positionOwner = new Map<string, { accountId: string; key: string }>();

  constructor(
    readonly appender: EventAppender,
    @Optional() @Inject(EVENT_STORE) private readonly store?: EventStore,
  ) {
    this.quarantine = new Quarantine(this.name, appender, (m) => this.log.error(m));
    this.positions = new AggregateRepository(
      appender,
      { initialState: positionInitialState, evolve: (s, e) => positionEvolve(s, e as never) },
      (e, reason) => this.quarantine.report(Quarantine.of(e), reason).then(() => undefined),
    );
  }

  /**
   * Before the first message: the ledgers (capital, realised PnL, fees, funding, liquidation
   * fees, open positions, sequence numbers) from the log, with the equity peak and deepest
   * drawdown from the last `EquityMarked`.
   */
  async onModuleInit(): Promise<void> {
    if (!this.store) return;
    const r = await rebuildFromLog(this, this.store, this.quarantine, rebuildStartFromEnv());
    this.log.log(`rebuilt ${this.ledgers.size} ledgers from ${r.events} events in ${r.ms} ms, ${r.quarantined} quarantined`);
  }

  rebuild(e: RecordedEvent): void {
    if (e.type === 'AccountOpened') return this.accountOpened(e.data as EventData<'AccountOpened'>);
    if (e.type === 'EquityMarked') {
      const parsed = parseStreamId(e.streamId);
      const l = parsed?.category === 'ledger' ? this.ledgers.get(parsed.accountId) : undefined;
      if (!l) throw new Error(`EquityMarked of ${e.streamId}: no AccountOpened before it`);
      const d = e.data as EventData<'EquityMarked'>;
      Object.assign(l, { peakEquity: dec(d.peakEquity), maxDrawdown: dec(d.maxDrawdown), maxDrawdownFraction: dec(d.maxDrawdownFraction), ledgerRevision: e.revision });
      return;
    }
    if (!e.streamId.startsWith('position-')) return;
    if (e.type === 'PositionOpened') {
      const p = e.data as EventData<'PositionOpened'>;
      this.positionOwner.set(e.streamId, { accountId: p.accountId, key: `${p.venue}:${p.symbol}` });
    }
    const owner = this.positionOwner.get(e.streamId);
    const l = owner && this.ledgers.get(owner.accountId);
    if (!owner || !l) throw new Error(`${e.type} of ${e.streamId}: no PositionOpened of a known account before it`);
    if (e.type === 'FundingApplied') {
      l.book.apply(e);
      return;
    }
    this.book(l, owner.key, l.open.get(owner.key) ?? { streamId: e.streamId, openedAt: e.metadata.tsEvent }, [e]);
  }

  /** Marks and funding only move equity while a position is open. */
  interest(): ClockInterest {
    return [...this.ledgers.values()].some((l) => l.open.size > 0) ? 'STEP' : 'NONE';
  }

  async onEvent(e: RecordedEvent): Promise<void> {
    if (e.type === 'AccountOpened') this.accountOpened(e.data as EventData<'AccountOpened'>);
    else if (e.type === 'OrderFilled') await this.applyFill(e as RecordedEvent<'OrderFilled', EventData<'OrderFilled'>>);
  }

  accountOpened(cfg: EventData<'AccountOpened'>): void {
    if (this.ledgers.has(cfg.accountId)) return;
    const book = new LedgerFold();
    book.apply({ type: 'AccountOpened', data: cfg });
    this.ledgers.set(cfg.accountId, {
      accountId: cfg.accountId, book,
      open: new Map(), sequence: new Map(), peakEquity: book.capital, maxDrawdown: ZERO, maxDrawdownFraction: ZERO, ledgerRevision: -1, lastEquity: book.capital, asOf: 0,
      trades: new Set(),
    });
  }

  private ledger(accountId: string): Ledger {
    const l = this.ledgers.get(accountId);
    if (!l) throw new RpcException({ code: 'UNKNOWN_ACCOUNT', message: `accounting has no account ${accountId}` });
    return l;
  }

  private walletBalance(l: Ledger): D {
    return l.book.walletBalance();
  }

  /** Book a fill on the account's position (opening the next lifecycle when needed). */
  async applyFill(e: RecordedEvent<'OrderFilled', EventData<'OrderFilled'>>): Promise<void> {
    const f = e.data;
    const l = this.ledger(f.accountId);
    const key = `${f.venue}:${f.symbol}`;
    // Delivered again (an ack lost while NATS was away): booked already, maybe in an earlier lifecycle.
    if (l.trades.has(`${key}:${f.tradeId}`)) return;
    let fill: EventData<'OrderFilled'> | null = f;
    while (fill) {
      const current: EventData<'OrderFilled'> = fill;
      let open = l.open.get(key);
      if (!open) {
        const n = (l.sequence.get(key) ?? 0) + 1;
        open = { streamId: Streams.position(f.accountId, f.venue, f.symbol, n), openedAt: e.metadata.tsEvent };
      }
      const sequence = positionSequence(open.streamId);
      let overflowFill: EventData<'OrderFilled'> | null = null;
      const { result } = await this.positions.handle(
        open.streamId,
        (s) => {
          const r = decidePositionFill(s, current, { sequence });
          if (!r.ok) return r;
          overflowFill = r.value.overflowFill;
          return { ok: true as const, value: r.value.events };
        },
        causedBy(e),
      );
      if (!result.ok) throw new Error(`position ${open.streamId}: ${result.error.code} ${result.error.message}`);
      this.book(l, key, open, result.value);
      fill = overflowFill;
    }
  }

  /** Book a fill's position events on the ledger (the rebuild books the stored ones the same way). */
  private book(l: Ledger, key: string, open: OpenPosition, events: { type: string; data: unknown }[]): void {
    for (const ev of events) {
      const d = ev.data as Record<string, string>;
      if (typeof d.tradeId === 'string') l.trades.add(`${key}:${d.tradeId}`);
      l.book.apply(ev);
      if (ev.type === 'PositionOpened') {
        l.open.set(key, open);
        l.sequence.set(key, positionSequence(open.streamId));
      } else if (ev.type === 'PositionClosed' || ev.type === 'PositionLiquidated') {
        l.open.delete(key);
      }
    }
  }

  /** Mark to market at the step's price; settle funding for positions open before the settlement. */
  async onTick(tick: MarketTick): Promise<void> {
    const key = `${tick.venue}:${tick.symbol}`;
    const c = causedByTick(tick);
    if (tick.funding) {
      const { fundingTime, rate } = tick.funding;
      // Funding is charged at the settlement instant, at the mark price of that instant.
      const mark = dec(tick.gap ? tick.to : tick.from);
      for (const l of this.ledgers.values()) {
        const open = l.open.get(key);
        if (!open || open.openedAt >= fundingTime) continue;
        const { result } = await this.positions.handle(open.streamId, (s) => decideFunding(s, { fundingTime, rate: dec(rate), markPrice: mark }), c);
        if (result.ok) for (const ev of result.value) l.book.apply(ev);
      }
    }
    this.marks.set(key, dec(tick.to));
    for (const l of this.ledgers.values()) {
      const eq = await this.equityValue(l);
      l.lastEquity = eq;
      l.asOf = tick.ts;
      let moved = false;
      if (eq.gt(l.peakEquity)) {
        l.peakEquity = eq;
        moved = true;
      }
      const dd = l.peakEquity.minus(eq);
      if (dd.gt(l.maxDrawdown)) {
        l.maxDrawdown = dd;
        moved = true;
      }
      const ddf = l.peakEquity.gt(0) ? dd.div(l.peakEquity) : ZERO;
      if (ddf.gt(l.maxDrawdownFraction)) {
        l.maxDrawdownFraction = ddf;
        moved = true;
      }
      // Marks are in no other event: record what they moved, so a restart keeps the peak and the drawdown.
      if (moved) await this.recordMarks(l, c);
    }
  }

  private async recordMarks(l: Ledger, c: Causation): Promise<void> {
    const e = event('EquityMarked', { peakEquity: str(l.peakEquity), maxDrawdown: str(l.maxDrawdown), maxDrawdownFraction: str(l.maxDrawdownFraction) });
    const r = await this.appender.append(Streams.ledger(l.accountId), [e], l.ledgerRevision < 0 ? 'no_stream' : l.ledgerRevision, c);
    if (r) l.ledgerRevision = r.result.nextExpectedRevision;
  }

  private async openStates(l: Ledger): Promise<Array<{ key: string; state: PositionState }>> {
    const out: Array<{ key: string; state: PositionState }> = [];
    for (const [key, open] of l.open) out.push({ key, state: (await this.positions.load(open.streamId)).state });
    return out;
  }

  private async unrealised(l: Ledger): Promise<{ pnl: D; usedMargin: D; count: number }> {
    let pnl = ZERO;
    let usedMargin = ZERO;
    const states = await this.openStates(l);
    for (const { key, state } of states) {
      const mark = this.marks.get(key) ?? state.entryPrice;
      pnl = pnl.plus(unrealisedPnl(state, mark));
      usedMargin = usedMargin.plus(state.quantity.mul(state.entryPrice).div(state.leverage));
    }
    return { pnl, usedMargin, count: states.length };
  }

  private async equityValue(l: Ledger): Promise<D> {
    return this.walletBalance(l).plus((await this.unrealised(l)).pnl);
  }

  async equity(accountId: string): Promise<EquitySnapshot> {
    const l = this.ledgers.get(accountId);
    if (!l) {
      return { accountId, known: false, walletBalance: '0', unrealisedPnl: '0', equity: '0', usedMargin: '0', availableMargin: '0', openPositions: 0, asOf: 0 };
    }
    const wallet = this.walletBalance(l);
    const u = await this.unrealised(l);
    return {
      accountId, known: true, walletBalance: str(wallet), unrealisedPnl: str(u.pnl), equity: str(wallet.plus(u.pnl)),
      usedMargin: str(u.usedMargin), availableMargin: str(wallet.minus(u.usedMargin)), openPositions: u.count, asOf: l.asOf,
    };
  }

  async summary(accountId: string): Promise<AccountSummary> {
    const l = this.ledger(accountId);
    const wallet = this.walletBalance(l);
    const u = await this.unrealised(l);
    return {
      accountId, capital: str(l.book.capital), realisedPnl: str(l.book.realisedPnl), fees: str(l.book.fees), funding: str(l.book.funding),
      liquidationFees: str(l.book.liquidationFees), unrealisedPnl: str(u.pnl), finalEquity: str(wallet.plus(u.pnl)),
      maxDrawdown: str(l.maxDrawdown), maxDrawdownFraction: str(l.maxDrawdownFraction), peakEquity: str(l.peakEquity),
      positionsOpened: l.book.positionsOpened, positionsClosed: l.book.positionsClosed, liquidations: l.book.liquidations, fills: l.book.fills,
      openPositions: u.count, closesByPurpose: { ...l.book.closesByPurpose },
    };
  }
}
