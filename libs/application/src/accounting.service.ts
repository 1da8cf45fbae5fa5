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
import { type D, MonotoneTests, type PositionState, ZERO, dec, decideFunding, decidePositionFill, positionEvolve, positionInitialState, str, unrealisedPnl } from '@bulwark/domain';
import { LedgerFold } from '@bulwark/projections';
import { AggregateRepository, type Causation, EventAppender, EVENT_STORE, Quarantine, causedBy, causedByTick } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { EquitySource, EquityValues, PipelineService } from './ports';
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
  /** The last valuation (see `valuation`), null before the first. */
  valued: Valuation | null;
}

/** A ledger valued at the marks (USDT), with the inputs it was computed from (compared by reference). */
interface Valuation {
  totals: D[];
  marks: D[];
  states: PositionState[];
  wallet: D;
  pnl: D;
  usedMargin: D;
  equity: D;
  count: number;
}

/** Whether the drawdown fraction at an equity is deeper than the deepest so far (see MonotoneTests). */
const DRAWDOWN_TESTS = new MonotoneTests();

/** Same length and the same references, item by item. */
function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
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
      trades: new Set(), valued: null,
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
      const eq = (await this.valuation(l)).equity;
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
      // The fraction only falls as equity rises (peak and deepest fixed): settled by earlier answers mostly. No
      // drawdown (dd ≤ 0): a fraction ≤ 0, never above the deepest (≥ 0).
      const peak = l.peakEquity;
      const deepest = l.maxDrawdownFraction;
      if (dd.gt(0) && peak.gt(0) && DRAWDOWN_TESTS.holds(peak, deepest, eq, () => peak.minus(eq).div(peak).gt(deepest))) {
        l.maxDrawdownFraction = dd.div(peak);
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

  /**
   * The ledger valued at the marks: wallet balance, unrealised PnL and used margin (Σ quantity ×
   * entry ÷ leverage) of the open positions, equity = wallet + unrealised (USDT). Computed again
   * only when a total, an open position's state or its mark changed since the last time (a step
   * asks it up to three times: accounting's mark, risk's observation, the backtest's curve).
   */
  private async valuation(l: Ledger): Promise<Valuation> {
    const states = await this.openStates(l);
    const b = l.book;
    const totals = [b.capital, b.realisedPnl, b.fees, b.funding, b.liquidationFees];
    const marks = states.map(({ key, state }) => this.marks.get(key) ?? state.entryPrice);
    const open = states.map((s) => s.state);
    const v = l.valued;
    // Decimals are immutable and a changed state is a new object: the same references are the same values.
    const sameOpen = v !== null && sameItems(v.states, open);
    if (v && sameOpen && sameItems(v.totals, totals) && sameItems(v.marks, marks)) return v;
    let pnl = ZERO;
    states.forEach(({ state }, i) => (pnl = pnl.plus(unrealisedPnl(state, marks[i]))));
    // The margin depends on the positions alone: the same object while they stay (risk's utilisation test goes by it).
    const usedMargin = sameOpen ? v.usedMargin : open.reduce((m, p) => m.plus(p.quantity.mul(p.entryPrice).div(p.leverage)), ZERO);
    const wallet = v && sameItems(v.totals, totals) ? v.wallet : this.walletBalance(l);
    l.valued = { totals, marks, states: open, wallet, pnl, usedMargin, equity: wallet.plus(pnl), count: states.length };
    return l.valued;
  }

  async equity(accountId: string): Promise<EquitySnapshot> {
    const l = this.ledgers.get(accountId);
    if (!l) {
      return { accountId, known: false, walletBalance: '0', unrealisedPnl: '0', equity: '0', usedMargin: '0', availableMargin: '0', openPositions: 0, asOf: 0 };
    }
    const v = await this.valuation(l);
    return {
      accountId, known: true, walletBalance: str(v.wallet), unrealisedPnl: str(v.pnl), equity: str(v.equity),
      usedMargin: str(v.usedMargin), availableMargin: str(v.wallet.minus(v.usedMargin)), openPositions: v.count, asOf: l.asOf,
    };
  }

  /** {@link equity}'s equity and used margin as decimals (USDT), for risk in the same process (see EquitySource). */
  async equityValues(accountId: string): Promise<EquityValues> {
    const l = this.ledgers.get(accountId);
    if (!l) return { known: false, equity: ZERO, usedMargin: ZERO };
    const v = await this.valuation(l);
    return { known: true, equity: v.equity, usedMargin: v.usedMargin };
  }

  async summary(accountId: string): Promise<AccountSummary> {
    const l = this.ledger(accountId);
    const u = await this.valuation(l);
    const wallet = u.wallet;
    return {
      accountId, capital: str(l.book.capital), realisedPnl: str(l.book.realisedPnl), fees: str(l.book.fees), funding: str(l.book.funding),
      liquidationFees: str(l.book.liquidationFees), unrealisedPnl: str(u.pnl), finalEquity: str(wallet.plus(u.pnl)),
      maxDrawdown: str(l.maxDrawdown), maxDrawdownFraction: str(l.maxDrawdownFraction), peakEquity: str(l.peakEquity),
      positionsOpened: l.book.positionsOpened, positionsClosed: l.book.positionsClosed, liquidations: l.book.liquidations, fills: l.book.fills,
      openPositions: u.count, closesByPurpose: { ...l.book.closesByPurpose },
    };
  }
}
