import { type DomainEvent, type EventData, Identifier, isEventType, parseStreamId, type RecordedEvent, Streams, Symbol as SymbolId } from '@bulwark/contracts';
import { type D, dec, marginPairEvolve, marginPairInitialState, type MarginExitKind, type MarginPairState, type MarginPositionState, str, ZERO } from '@bulwark/domain';
import { MAX_SKIPPED_KEPT } from './account-projection';
import { breakerDetail } from './folds';
import { screenEvent, type SkippedEvent } from './screen';

/*
 * The read model of Binance spot isolated-margin pairs (stream `margin-<accountId>-<symbol>`)
 * and their positions, for the gateway, the CLI and the services alike. The pair's books are
 * the domain's own fold (`marginPairEvolve`), so a view and the decider that wrote the log
 * cannot disagree; this file only keeps what the fold forgets (the rows of the ledger, each
 * closed position, the last margin level) and turns decimals into strings. Pure: no I/O, no clock.
 */

// ---------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------

/** `margin-<accountId>-<symbol>-<sequence>`: one position of one pair. Decimals as strings, times epoch ms (the events' `at`). */
export interface MarginPositionView {
  positionId: string;
  accountId: string;
  symbol: string;
  /** The pair's n-th position, from 1. */
  sequence: number;
  side: 'LONG' | 'SHORT';
  /** Base quantity held (long) or sold short (short), as opened. */
  quantity: string;
  /** Quote per base. */
  entryPrice: string;
  stopPrice: string;
  takeProfitPrice: string | null;
  /** The loss at the stop the sizing allowed, quote. */
  riskAmount: string;
  /** The approved entry request it carried out (MarginEntryApproved.requestId); null for a direct open. */
  requestId: string | null;
  clientOrderId: string;
  /** The asset the position borrows: the quote asset for a LONG, the base asset for a SHORT; null when the symbol's assets are unknown. */
  borrowedAsset: string | null;
  /**
   * Outstanding principal of `borrowedAsset` in the pair: now while open, what it was just after
   * the open once ended. null when `borrowedAsset` is.
   */
  borrowed: string | null;
  /** Interest charged during the position, quote: while open valued at each accrual's price; once ended the close's figure (valued at the exit price). */
  interestQuote: string;
  /** Commission, quote: the entry's valued at the entry price while open; once ended the close's entry + exit figure (valued at the exit price). */
  commissionQuote: string;
  /** The margin level of the last MarginLevelAlert seen while the position was open (kept after it ends); null when none, or when it said nothing is borrowed. */
  marginLevel: string | null;
  /** The stop, take-profit or margin-call reduction that fired and whose close is awaited or done; null when none did. */
  triggered: MarginExitKind | null;
  /** Closes of the position the venue refused (MarginCommandRejected CLOSE) while it was open. */
  closeAttempts: number;
  status: 'OPEN' | 'CLOSED' | 'STOPPED_OUT' | 'LIQUIDATED';
  /** MarginPositionClosed.reason; null while open. */
  closeReason: string | null;
  /** Quote per base; null while open. */
  exitPrice: string | null;
  /** Quote: exit − entry (long) or entry − exit (short); null while open. */
  realisedPnl: string | null;
  /** Quote: realised − commissions − interest − shortfall; null while open. */
  netPnl: string | null;
  /** The pair's equity after the close and its repayments, quote; null while open. */
  equityAfter: string | null;
  openedAt: number;
  closedAt: number | null;
}

/** One interest accrual of a pair (a MarginInterestCharged). `interest` in `asset`, `quoteValue` in quote at `price`; `dailyRate` a fraction per day. */
export interface MarginInterestRow {
  txId: string;
  asset: string;
  principal: string;
  interest: string;
  dailyRate: string;
  type: 'ON_BORROW' | 'PERIODIC';
  price: string;
  quoteValue: string;
  at: number;
}

/** A transfer, loan or repayment of a pair, amounts in `asset`. A repayment's amount is `principal + interest`. */
export type MarginMovementRow =
  | { type: 'TRANSFER'; asset: string; amount: string; direction: 'TO_MARGIN' | 'TO_SPOT'; tranId: string; by: string; at: number }
  | { type: 'BORROW'; asset: string; amount: string; tranId: string; by: string; at: number }
  | { type: 'REPAY'; asset: string; principal: string; interest: string; tranId: string; by: string; at: number };

/** A refused margin command (MarginCommandRejected): the venue's or Bulwark's code and message. */
export interface MarginRejectionRow {
  command: EventData<'MarginCommandRejected'>['command'];
  /** The entry request refused (OPEN), or null. */
  requestId: string | null;
  /** The position an OPEN or CLOSE was about, or null. */
  sequence: number | null;
  asset: string | null;
  amount: string | null;
  code: string;
  message: string;
  by: string;
  at: number;
}

/** One isolated pair of one account. Per-asset amounts keyed by asset name, decimals as strings. */
export interface MarginPairView {
  accountId: string;
  symbol: string;
  /** The symbol's base and quote assets ({@link MarginProjectionOptions.assetsOf}); null when unknown. */
  baseAsset: string | null;
  quoteAsset: string | null;
  /** Outstanding loan principal per asset. */
  borrowed: Record<string, string>;
  /** Interest charged and not yet repaid, per asset. */
  interestOwed: Record<string, string>;
  /** Transfers in minus transfers out, per asset. */
  netTransferred: Record<string, string>;
  /** Every interest accrual of the pair, valued in quote. */
  interestQuoteTotal: string;
  /** Σ net PnL of the closed positions, quote. */
  netPnlTotal: string;
  closedPositions: number;
  openPositionId: string | null;
  /** The margin level of the pair's last MarginLevelAlert; null when none, or when it said nothing is borrowed. */
  lastMarginLevel: string | null;
  /** Every MarginInterestCharged, in log order. */
  interest: MarginInterestRow[];
  /** Transfers, loans and repayments, in log order. */
  movements: MarginMovementRow[];
  /** Refused commands, in log order. */
  rejections: MarginRejectionRow[];
  /** Market time (metadata.tsEvent) of the last event folded. */
  asOf: number;
}

// ---------------------------------------------------------------------------------------
// Ids and assets
// ---------------------------------------------------------------------------------------

/** Every event type of a margin stream. */
export const MARGIN_EVENT_TYPES: ReadonlySet<string> = new Set([
  'MarginTransferred', 'MarginBorrowed', 'MarginRepaid', 'MarginInterestCharged', 'MarginCommandRejected',
  'MarginPositionOpened', 'MarginStopTriggered', 'MarginPositionClosed', 'MarginLevelAlert', 'MarginCallReductionTriggered',
]);

const SEQUENCE = /^[1-9]\d*$/;

/**
 * The id of a pair's n-th position: `margin-<accountId>-<symbol>-<sequence>` (the pair's
 * stream id and the sequence). Not a stream id: no stream holds one position alone.
 * @throws RangeError when accountId is not an Identifier, symbol not a Symbol, or sequence not a safe integer >= 1
 */
export function marginPositionId(accountId: string, symbol: string, sequence: number): string {
  if (!Identifier.safeParse(accountId).success || !SymbolId.safeParse(symbol).success || !Number.isSafeInteger(sequence) || sequence < 1) {
    throw new RangeError(`not a margin position: account ${JSON.stringify(accountId)}, symbol ${JSON.stringify(symbol)}, sequence ${String(sequence)}`);
  }
  return `${Streams.margin(accountId, symbol)}-${sequence}`;
}

/**
 * The parts of a {@link marginPositionId}. The sequence is the last '-' part and the symbol the
 * one before it (a Symbol holds no '-'), so an account id may hold '-'.
 * @returns the parts, or null for anything marginPositionId does not build. Never throws.
 */
export function parseMarginPositionId(id: string): { accountId: string; symbol: string; sequence: number } | null {
  if (typeof id !== 'string' || !id.startsWith('margin-')) return null;
  const parts = id.slice('margin-'.length).split('-');
  if (parts.length < 3) return null;
  const seq = parts[parts.length - 1];
  const symbol = parts[parts.length - 2];
  const accountId = parts.slice(0, -2).join('-');
  const sequence = Number(seq);
  if (!SEQUENCE.test(seq) || !Number.isSafeInteger(sequence)) return null;
  if (!Identifier.safeParse(accountId).success || !SymbolId.safeParse(symbol).success) return null;
  return { accountId, symbol, sequence };
}

/** A pair's two assets. */
export interface MarginAssets {
  base: string;
  quote: string;
}

/**
 * Quote assets of Binance spot isolated-margin pairs, for splitting a symbol without instrument
 * data (the margin events name the pair, not its assets). Longest first, so that the longest
 * matching suffix wins (BTCFDUSD → BTC/FDUSD, not a USD-something).
 */
export const MARGIN_QUOTE_ASSETS: readonly string[] = ['FDUSD', 'USDT', 'USDC', 'BTC', 'ETH', 'BNB', 'TRY', 'EUR'];

/**
 * A symbol's base and quote by the quote-suffix rule: the symbol ends with one of
 * {@link MARGIN_QUOTE_ASSETS} and the base is what comes before it (ETHBTC → ETH/BTC). The
 * rule is chosen over learning the assets from MarginTransferred/MarginBorrowed because a pair's
 * first events need not name both assets (a long may borrow only the quote), and a view must
 * not change its mind later.
 * @returns null when no listed quote asset ends the symbol, or nothing is left for the base
 */
export function marginAssets(symbol: string): MarginAssets | null {
  const quote = MARGIN_QUOTE_ASSETS.find((q) => symbol.length > q.length && symbol.endsWith(q));
  return quote ? { base: symbol.slice(0, -quote.length), quote } : null;
}

// ---------------------------------------------------------------------------------------
// One line for a person
// ---------------------------------------------------------------------------------------

/** A quote amount for display: 2 decimals from 1 up, 2 significant digits below (0.01699498 → 0.017), '−' for minus. The exact value stays in the event. */
function approx(v: unknown): string {
  const x = dec(String(v));
  const r = x.abs().gte(1) ? x.toFixed(2) : x.toSignificantDigits(2).toFixed();
  return r.replace(/^-/, '−');
}

/** A daily rate fraction as a percentage, exact ("0.000475" → "0.0475"). */
const percent = (v: unknown) => dec(String(v)).mul(100).toFixed();

/**
 * One line for a person about an event of a margin stream, e.g. `TO_MARGIN 1000 USDT (tran 12)
 * by alice`, `interest 0.00849749 USDT on 429.346511 at 0.0475 %/day (ON_BORROW)`,
 * `#1 STOPPED_OUT at 58080.62: net −13.56 USDT (realised −10.71, commission 2.84, interest 0.017)`.
 * Ledger amounts are exact; a close's PnL figures are rounded for reading ({@link approx}).
 * MarginLevelAlert reads as `breakerDetail` has it (the alerter's text too).
 * @param type the event type; '' is returned for a type that is not a margin event
 * @param d the event's data as recorded (passed its schema)
 * @param assets the pair's assets (default: {@link marginAssets} of `d.symbol`), for naming the quote
 */
export function marginDetail(type: string, d: Record<string, unknown>, assets: MarginAssets | null = marginAssets(String(d.symbol))): string {
  const quote = assets ? ` ${assets.quote}` : '';
  switch (type) {
    case 'MarginTransferred':
      return `${d.direction} ${d.amount} ${d.asset} (tran ${d.tranId}) by ${d.by}`;
    case 'MarginBorrowed':
      return `borrowed ${d.amount} ${d.asset} (tran ${d.tranId}) by ${d.by}`;
    case 'MarginRepaid':
      return `repaid ${d.interest} interest + ${d.principal} principal ${d.asset} (tran ${d.tranId}) by ${d.by}`;
    case 'MarginInterestCharged': {
      const inQuote = d.asset === assets?.quote ? '' : `, ${d.quoteValue}${quote || ' in quote'} at ${d.price}`;
      return `interest ${d.interest} ${d.asset} on ${d.principal} at ${percent(d.dailyRate)} %/day (${d.type})${inQuote}`;
    }
    case 'MarginCommandRejected': {
      const what = d.amount !== null && d.amount !== undefined ? `${d.amount}${d.asset ? ` ${d.asset}` : ''}, ` : '';
      const which = typeof d.sequence === 'number' ? ` #${d.sequence}` : '';
      return `${d.command}${which} refused ${d.code}: ${d.message} (${what}by ${d.by})`;
    }
    case 'MarginPositionOpened':
      return `${d.side} #${d.sequence} ${d.quantity} ${d.symbol} at ${d.entryPrice}, stop ${d.stopPrice}${d.takeProfitPrice ? `, target ${d.takeProfitPrice}` : ''}, risk ${d.riskAmount} (${d.clientOrderId} by ${d.by})`;
    case 'MarginStopTriggered':
      return `#${d.sequence} ${d.kind} at ${d.price} (trigger ${d.triggerPrice})`;
    case 'MarginPositionClosed': {
      const why = d.status === 'STOPPED_OUT' ? '' : ` (${d.reason})`;
      const shortfall = dec(String(d.shortfall)).isZero() ? '' : `, shortfall ${approx(d.shortfall)}`;
      return `#${d.sequence} ${d.status}${why} at ${d.exitPrice}: net ${approx(d.netPnl)}${quote} (realised ${approx(d.realisedPnl)}, commission ${approx(d.commissionQuote)}, interest ${approx(d.interestQuote)}${shortfall})`;
    }
    case 'MarginLevelAlert':
      return breakerDetail(type, d);
    case 'MarginCallReductionTriggered':
      return `${d.symbol} margin level ${dec(String(d.marginLevel)).toDecimalPlaces(4).toFixed()} reached the margin-call bar: ${d.orderSide} ${d.quantity} at price ${d.price} toward the borrow bar`;
    default:
      return '';
  }
}

// ---------------------------------------------------------------------------------------
// The projection
// ---------------------------------------------------------------------------------------

export interface MarginProjectionOptions {
  /** A symbol's base and quote assets (e.g. from instrument rules); default {@link marginAssets}, the quote-suffix rule. */
  assetsOf?: (symbol: string) => MarginAssets | null;
}

interface PairSlot {
  accountId: string;
  symbol: string;
  assets: MarginAssets | null;
  state: MarginPairState;
  lastMarginLevel: string | null;
  interest: MarginInterestRow[];
  movements: MarginMovementRow[];
  rejections: MarginRejectionRow[];
  asOf: number;
}

interface PositionSlot {
  pair: PairSlot;
  positionId: string;
  /** The position as the pair fold held it last (frozen once it left the fold). */
  last: MarginPositionState;
  requestId: string | null;
  borrowedAsset: string | null;
  borrowedAtOpen: D | null;
  marginLevel: string | null;
  close: EventData<'MarginPositionClosed'> | null;
}

const pairKey = (accountId: string, symbol: string) => `${accountId}\u0000${symbol}`;

const strings = (m: Readonly<Record<string, D>>): Record<string, string> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, str(v)]));

/**
 * Every margin pair and position of the log, kept current one event at a time.
 *
 * - `apply(e)`: any event of the log, in global order. Events of other streams, and event
 *   types that are not margin events, are ignored. A margin stream's message that is not a
 *   valid event (`screenEvent`), whose stream id is not `margin-<accountId>-<symbol>`, or whose
 *   data names another pair than its stream changes nothing: it is returned and kept in
 *   `skipped()`. An event at or before `lastPosition()` was applied already and is ignored
 *   (a catch-up read and a subscription may overlap). Never throws.
 * - A valid event the pair's books cannot place (an open while another position is open, a
 *   trigger or close of a position that is not open) is folded as the domain folds it and
 *   reported in `problems()`.
 *
 * Views are JSON-ready: decimals as strings, times in epoch ms.
 */
export class MarginProjection {
  private readonly pairSlots = new Map<string, PairSlot>();
  private readonly positionSlots = new Map<string, PositionSlot>();
  private readonly assetsOf: (symbol: string) => MarginAssets | null;
  private readonly skippedEvents: SkippedEvent[] = [];
  private skippedCount = 0;
  private readonly problemList: string[] = [];
  private last = 0;

  constructor(opts: MarginProjectionOptions = {}) {
    this.assetsOf = opts.assetsOf ?? marginAssets;
  }

  /**
   * Fold one event (see the class comment).
   * @returns the event as skipped (also kept in `skipped()`) when it was left out as invalid; null otherwise
   */
  apply(e: RecordedEvent): SkippedEvent | null {
    if (typeof e?.position === 'number') {
      if (e.position <= this.last) return null;
      this.last = e.position;
    }
    if (typeof e?.streamId !== 'string' || !e.streamId.startsWith('margin-')) return null;
    try {
      const ids = parseStreamId(e.streamId);
      if (ids?.category !== 'margin') return this.skip(e, `${e.streamId} is not a margin stream id (margin-<accountId>-<symbol>)`);
      if (isEventType(e.type) && !MARGIN_EVENT_TYPES.has(e.type)) return null;
      const screened = screenEvent(e);
      if (!screened.ok) return this.skip(e, screened.reason);
      const d = screened.event.data as { accountId: string; symbol: string };
      if (d.accountId !== ids.accountId || d.symbol !== ids.symbol) return this.skip(e, `its data names the pair ${d.accountId}/${d.symbol}, not its stream's`);
      this.fold(this.pairSlot(ids.accountId, ids.symbol), { type: e.type, data: screened.event.data } as DomainEvent, e);
      return null;
    } catch (err) {
      return this.skip(e, `cannot be folded: ${(err as Error).message}`);
    }
  }

  /** Every pair seen, by account id then symbol. */
  pairs(): MarginPairView[] {
    return [...this.pairSlots.values()].sort((a, b) => cmp(a.accountId, b.accountId) || cmp(a.symbol, b.symbol)).map((p) => this.pairView(p));
  }

  /** One pair, or null when the log holds nothing of it. */
  pair(accountId: string, symbol: string): MarginPairView | null {
    const p = this.pairSlots.get(pairKey(accountId, symbol));
    return p ? this.pairView(p) : null;
  }

  /** The positions, in the order they were opened, optionally of one account, pair or status. */
  positions(filter: { accountId?: string; symbol?: string; status?: MarginPositionView['status'] } = {}): MarginPositionView[] {
    return [...this.positionSlots.values()]
      .filter((s) => (filter.accountId === undefined || s.pair.accountId === filter.accountId) && (filter.symbol === undefined || s.pair.symbol === filter.symbol))
      .map((s) => this.positionView(s))
      .filter((v) => filter.status === undefined || v.status === filter.status);
  }

  /** One position by its {@link marginPositionId}, or null. */
  position(positionId: string): MarginPositionView | null {
    const s = this.positionSlots.get(positionId);
    return s ? this.positionView(s) : null;
  }

  /** The global position of the last event handed to `apply`. */
  lastPosition(): number {
    return this.last;
  }

  /** Events left out (the last {@link MAX_SKIPPED_KEPT}), with where they are and why; `count` counts them all. */
  skipped(): { count: number; events: SkippedEvent[] } {
    return { count: this.skippedCount, events: [...this.skippedEvents] };
  }

  /** Valid events the pair's books could not place, `<stream>#<revision>: <why>` (the last {@link MAX_SKIPPED_KEPT}). */
  problems(): string[] {
    return [...this.problemList];
  }

  // ------------------------------------------------------------------------------ folding

  private skip(e: RecordedEvent, reason: string): SkippedEvent {
    const s: SkippedEvent = {
      kind: 'INVALID', streamId: String(e?.streamId), revision: typeof e?.revision === 'number' ? e.revision : null, position: typeof e?.position === 'number' ? e.position : 0,
      type: typeof e?.type === 'string' ? e.type : null, tsEvent: typeof e?.metadata?.tsEvent === 'number' ? e.metadata.tsEvent : null, reason,
    };
    this.skippedCount++;
    this.skippedEvents.push(s);
    if (this.skippedEvents.length > MAX_SKIPPED_KEPT) this.skippedEvents.shift();
    return s;
  }

  private problem(e: RecordedEvent, why: string): void {
    this.problemList.push(`${e.streamId}#${e.revision}: ${why}`);
    if (this.problemList.length > MAX_SKIPPED_KEPT) this.problemList.shift();
  }

  private pairSlot(accountId: string, symbol: string): PairSlot {
    const k = pairKey(accountId, symbol);
    let p = this.pairSlots.get(k);
    if (!p) {
      p = { accountId, symbol, assets: this.assetsOf(symbol), state: marginPairInitialState(), lastMarginLevel: null, interest: [], movements: [], rejections: [], asOf: 0 };
      this.pairSlots.set(k, p);
    }
    return p;
  }

  private fold(p: PairSlot, ev: DomainEvent, e: RecordedEvent): void {
    const before = p.state.open;
    if (ev.type === 'MarginPositionOpened') {
      const n = ev.data.sequence;
      if (before) this.problem(e, `position #${n} opened while #${before.sequence} is open: the pair's books drop #${before.sequence}`);
      else if (n !== p.state.lastSequence + 1) this.problem(e, `position #${n} opened after #${p.state.lastSequence}`);
    }
    if ((ev.type === 'MarginStopTriggered' || ev.type === 'MarginPositionClosed') && before?.sequence !== ev.data.sequence) {
      this.problem(e, `${ev.type} of position #${ev.data.sequence}, but ${before ? `#${before.sequence}` : 'none'} is open: ignored`);
    }
    p.state = marginPairEvolve(p.state, ev);
    p.asOf = e.metadata.tsEvent;
    const open = p.state.open;
    switch (ev.type) {
      case 'MarginTransferred': {
        const d = ev.data;
        p.movements.push({ type: 'TRANSFER', asset: d.asset, amount: d.amount, direction: d.direction, tranId: d.tranId, by: d.by, at: d.at });
        break;
      }
      case 'MarginBorrowed': {
        const d = ev.data;
        p.movements.push({ type: 'BORROW', asset: d.asset, amount: d.amount, tranId: d.tranId, by: d.by, at: d.at });
        break;
      }
      case 'MarginRepaid': {
        const d = ev.data;
        p.movements.push({ type: 'REPAY', asset: d.asset, principal: d.principal, interest: d.interest, tranId: d.tranId, by: d.by, at: d.at });
        break;
      }
      case 'MarginInterestCharged': {
        const d = ev.data;
        p.interest.push({ txId: d.txId, asset: d.asset, principal: d.principal, interest: d.interest, dailyRate: d.dailyRate, type: d.type, price: d.price, quoteValue: d.quoteValue, at: d.at });
        break;
      }
      case 'MarginCommandRejected': {
        const d = ev.data;
        p.rejections.push({ command: d.command, requestId: d.requestId, sequence: d.sequence, asset: d.asset, amount: d.amount, code: d.code, message: d.message, by: d.by, at: d.at });
        break;
      }
      case 'MarginPositionOpened': {
        if (!open) break; // marginPairEvolve always opens it
        const positionId = marginPositionId(p.accountId, p.symbol, open.sequence);
        if (this.positionSlots.has(positionId)) this.problem(e, `position #${open.sequence} opened again: the later open replaces it`);
        const borrowedAsset = p.assets ? (open.side === 'LONG' ? p.assets.quote : p.assets.base) : null;
        const borrowedAtOpen = borrowedAsset === null ? null : (p.state.borrowed[borrowedAsset] ?? ZERO);
        this.positionSlots.delete(positionId); // a replaced open goes to the end, where it happened
        this.positionSlots.set(positionId, { pair: p, positionId, last: open, requestId: ev.data.requestId, borrowedAsset, borrowedAtOpen, marginLevel: null, close: null });
        break;
      }
      case 'MarginPositionClosed': {
        const slot = before?.sequence === ev.data.sequence ? this.openSlot(p, before) : undefined;
        if (slot) slot.close = ev.data;
        break;
      }
      case 'MarginLevelAlert': {
        p.lastMarginLevel = ev.data.marginLevel;
        const slot = open ? this.openSlot(p, open) : undefined;
        if (slot) slot.marginLevel = ev.data.marginLevel;
        break;
      }
      default:
        break;
    }
    const slot = open ? this.openSlot(p, open) : undefined;
    if (slot && open) slot.last = open;
  }

  /** The slot of the pair's open position, while it has not closed. */
  private openSlot(p: PairSlot, open: MarginPositionState): PositionSlot | undefined {
    const s = this.positionSlots.get(marginPositionId(p.accountId, p.symbol, open.sequence));
    return s && s.close === null ? s : undefined;
  }

  private pairView(p: PairSlot): MarginPairView {
    const s = p.state;
    return {
      accountId: p.accountId, symbol: p.symbol, baseAsset: p.assets?.base ?? null, quoteAsset: p.assets?.quote ?? null,
      borrowed: strings(s.borrowed), interestOwed: strings(s.interestOwed), netTransferred: strings(s.netTransferred),
      interestQuoteTotal: str(s.interestQuoteTotal), netPnlTotal: str(s.netPnlTotal), closedPositions: s.closedPositions,
      openPositionId: s.open ? marginPositionId(p.accountId, p.symbol, s.open.sequence) : null, lastMarginLevel: p.lastMarginLevel,
      interest: p.interest.map((r) => ({ ...r })), movements: p.movements.map((r) => ({ ...r })), rejections: p.rejections.map((r) => ({ ...r })), asOf: p.asOf,
    };
  }

  private positionView(s: PositionSlot): MarginPositionView {
    const o = s.last;
    const c = s.close;
    const live = c === null && s.pair.state.open?.sequence === o.sequence;
    let borrowed: string | null = null;
    if (s.borrowedAsset !== null) borrowed = str(live ? (s.pair.state.borrowed[s.borrowedAsset] ?? ZERO) : (s.borrowedAtOpen ?? ZERO));
    return {
      positionId: s.positionId, accountId: s.pair.accountId, symbol: s.pair.symbol, sequence: o.sequence, side: o.side, quantity: str(o.quantity),
      entryPrice: str(o.entryPrice), stopPrice: str(o.stopPrice), takeProfitPrice: o.takeProfitPrice === null ? null : str(o.takeProfitPrice),
      riskAmount: str(o.riskAmount), requestId: s.requestId, clientOrderId: o.clientOrderId, borrowedAsset: s.borrowedAsset, borrowed,
      interestQuote: c ? c.interestQuote : str(o.interestQuote), commissionQuote: c ? c.commissionQuote : str(o.commissionQuote),
      marginLevel: s.marginLevel, triggered: o.triggered, closeAttempts: o.closeAttempts, status: c ? c.status : 'OPEN', closeReason: c?.reason ?? null,
      exitPrice: c?.exitPrice ?? null, realisedPnl: c?.realisedPnl ?? null, netPnl: c?.netPnl ?? null, equityAfter: c?.equityAfter ?? null, openedAt: o.openedAt, closedAt: c?.at ?? null,
    };
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The margin read models of a whole log, and what was left out of them. */
export interface MarginReadModels {
  pairs: MarginPairView[];
  positions: MarginPositionView[];
  skipped: { count: number; events: SkippedEvent[] };
  problems: string[];
}

/**
 * Fold a full log (any streams, in global order; e.g. the events of a `readAll`, or only its
 * `margin` category) into the margin read models. Never throws for a bad event (see {@link MarginProjection.apply}).
 */
export function rebuildMarginReadModels(events: Iterable<RecordedEvent>, opts: MarginProjectionOptions = {}): MarginReadModels {
  const p = new MarginProjection(opts);
  for (const e of events) p.apply(e);
  return { pairs: p.pairs(), positions: p.positions(), skipped: p.skipped(), problems: p.problems() };
}
