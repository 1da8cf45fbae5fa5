import * as fs from 'node:fs';
import * as path from 'node:path';
import { type EventData, type EventType, parseEvent } from '@bulwark/contracts';
import { fundingPayment } from './funding';
import { dec, str, type D } from './money';
import { PaperVenue, type PaperFill, type PaperStep, type PaperVenueEvent, type PaperVenueSnapshot } from './paper-venue';
import { clockStepOf, restorePaperVenue, type PaperRestoreEvent } from './paper-restore';
import { barAt, BTC, indexOf, RULES, stepsAt } from '../test/real-btcusdt';

// A real day (Binance USDⓈ-M BTCUSDT 1m bars of 2025-11-21, the sell-off to 80,600, and the
// real funding rates of its three settlements; shared/data, see PROVENANCE.md) through the
// paper venue with a scripted mix of orders, recorded as the event log records it (execution's
// order and venue streams, accounting's position and funding events, signals' intents). A second
// venue restored from the log at several points must equal the original and trade on exactly
// like it for the rest of the day.

const SYMBOL = 'BTCUSDT';
const VENUE = 'binance-usdm';
const RULES_MAP = new Map([[SYMBOL, RULES]]);
/** Every fill split into 3 trades (multi-trade fills). */
const OPTIONS = { tradesPerFill: 3 };
const FIRST = indexOf('2025-11-21T00:00:00Z');
const BARS = 1440;
const RUN = 'restore-day';
/** The day's settlements: funding-rates.csv, calc_time rounded down to the hour (its ms of jitter), as market-data reads it. */
const FUNDING = new Map(
  fs
    .readFileSync(path.join(BTC, 'funding-rates.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [t, , rate] = line.split(',');
      const ms = Number(t);
      return [ms - (ms % 3_600_000), str(dec(rate))] as const;
    }),
);

type Step = PaperStep & { pathIndex: number };
const stepOf = (i: number, k: number): Step => ({ ...stepsAt(FIRST + i)[k], barVolume: barAt(FIRST + i).volume });
const fundingOf = (i: number, k: number): { fundingTime: number; rate: string } | null => {
  const t = barAt(FIRST + i).openTime;
  const rate = k === 0 ? FUNDING.get(t) : undefined;
  return rate === undefined ? null : { fundingTime: t, rate };
};
const seqOf = (i: number, k: number) => i * 4 + k;

const TERMINAL = new Set(['FILLED', 'EXPIRED', 'CANCELED', 'REJECTED', 'DENIED']);
interface OrderStreamState {
  init: EventData<'OrderInitialized'> | null;
  status: string;
  tradeIds: Set<string>;
  filled: D;
  venueOrderId: string | null;
}

/**
 * Records what the services record about the venue: execution's order and venue streams
 * (execution.service.ts place / recordVenueEvents), accounting's PositionOpened and
 * FundingApplied (positions open before the settlement and still open after the step's fills,
 * on the quantity after them, as accounting.service.ts books it), signals' IntentEmitted. Every
 * event is validated against its contract schema. Its own state is folded from the events, so a
 * recorder continues a log it did not write.
 */
class Recorder {
  readonly events: PaperRestoreEvent[] = [];
  private readonly orders = new Map<string, OrderStreamState>();
  private readonly positions = new Map<string, { count: number; open: { streamId: string; openedAt: number } | null }>();
  private readonly accounts: string[] = [];

  constructor(readonly venue: PaperVenue, log: readonly PaperRestoreEvent[] = []) {
    for (const e of log) this.fold(e);
    for (const [acc, p] of this.positions) if (p.open && this.venue.account(acc)!.positions.length === 0) p.open = null;
  }

  private fold(e: PaperRestoreEvent): void {
    this.events.push(e);
    if (e.type === 'VenueAccountFunded') this.accounts.push((e.data as EventData<'VenueAccountFunded'>).accountId);
    if (e.type === 'PositionOpened') {
      const d = e.data as EventData<'PositionOpened'>;
      const p = this.positions.get(d.accountId) ?? { count: 0, open: null };
      p.count++;
      p.open = { streamId: e.streamId, openedAt: e.metadata.tsEvent };
      this.positions.set(d.accountId, p);
    }
    if (!e.streamId.startsWith('order-')) return;
    const s = this.orders.get(e.streamId) ?? { init: null, status: 'NONE', tradeIds: new Set<string>(), filled: dec(0), venueOrderId: null };
    this.orders.set(e.streamId, s);
    switch (e.type) {
      case 'OrderInitialized':
        s.init = e.data as EventData<'OrderInitialized'>;
        s.status = 'INITIALIZED';
        break;
      case 'OrderAccepted':
        s.venueOrderId = (e.data as EventData<'OrderAccepted'>).venueOrderId;
        s.status = 'ACCEPTED';
        break;
      case 'OrderFilled': {
        const d = e.data as EventData<'OrderFilled'>;
        s.tradeIds.add(d.tradeId);
        s.filled = s.filled.plus(dec(d.quantity));
        s.status = dec(d.leavesQuantity).isZero() ? 'FILLED' : 'PARTIALLY_FILLED';
        break;
      }
      default:
        s.status = { OrderSubmitted: 'SUBMITTED', OrderRejected: 'REJECTED', OrderExpired: 'EXPIRED', OrderCanceled: 'CANCELED', OrderCancelRequested: 'PENDING_CANCEL' }[e.type] ?? s.status;
    }
  }

  private append<T extends EventType>(streamId: string, type: T, data: EventData<T>, ts: number, causationId: string): void {
    const parsed = parseEvent(type, data);
    if (!parsed.ok) throw new Error(`invalid ${type}: ${parsed.reason}`);
    this.fold({ streamId, type, data: parsed.event.data, metadata: { tsEvent: ts, causationId } });
  }

  /** Fund, one-way mode, isolated margin, leverage (execution's configureAccount). */
  configure(accountId: string, capital: string, leverage: number, ts: number): void {
    const v = this.venue;
    const c = `account-opened-${accountId}`;
    v.fund(accountId, dec(capital));
    expect(v.setOneWayMode(accountId).ok).toBe(true);
    expect(v.setIsolated(accountId, SYMBOL).ok).toBe(true);
    const lev = v.setLeverage(accountId, SYMBOL, leverage);
    if (!lev.ok) throw new Error(lev.error.message);
    const stream = `venue-${accountId}-${VENUE}`;
    this.append(stream, 'VenueAccountFunded', { accountId, asset: 'USDT', amount: capital }, ts, c);
    this.append(stream, 'PositionModeSet', { mode: 'ONE_WAY' }, ts, c);
    this.append(stream, 'MarginModeSet', { symbol: SYMBOL, marginMode: 'ISOLATED' }, ts, c);
    this.append(stream, 'LeverageSet', { symbol: SYMBOL, leverage, maxNotional: str(lev.value.maxNotional) }, ts, c);
  }

  /** Signals' intent on a bar's close (entry price = the close), then execution's entry: leverage, then the MARKET order. */
  entry(accountId: string, i: number, side: 'BUY' | 'SELL', quantity: string, leverage: number): void {
    const close = stepOf(i, 3);
    const tick = `tick-${RUN}-${seqOf(i, 3)}`;
    const intentId = `${accountId}-i${i}`;
    this.append(`signal-${accountId}`, 'IntentEmitted', {
      intentId, accountId, venue: VENUE, symbol: SYMBOL, side, entryPrice: close.to, stopPrice: '0', takeProfitPrice: null, strategy: 'script', reason: 'scripted entry', candleOpenTime: barAt(FIRST + i).openTime,
    }, close.ts, tick);
    const lev = this.venue.setLeverage(accountId, SYMBOL, leverage);
    if (lev.ok) this.append(`venue-${accountId}-${VENUE}`, 'LeverageSet', { symbol: SYMBOL, leverage, maxNotional: str(lev.value.maxNotional) }, close.ts, `entry-${intentId}`);
    this.place(accountId, { clientOrderId: `${accountId}-e${i}`, side, type: 'MARKET', quantity, price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null }, close.ts, `entry-${intentId}`);
  }

  /** Execution's place: initialise, submit, send, record the answer. */
  place(
    accountId: string,
    o: Pick<EventData<'OrderInitialized'>, 'clientOrderId' | 'side' | 'type' | 'quantity' | 'price' | 'reduceOnly' | 'purpose' | 'triggerPrice'>,
    ts: number,
    causationId: string,
  ): boolean {
    const stream = `order-${o.clientOrderId}`;
    this.append(stream, 'OrderInitialized', { ...o, accountId, venue: VENUE, symbol: SYMBOL, timeInForce: o.type === 'LIMIT' ? 'GTC' : null, leverage: null, sourceStreamId: 'script', sourceEventId: causationId }, ts, causationId);
    this.append(stream, 'OrderSubmitted', { clientOrderId: o.clientOrderId }, ts, causationId);
    const isAlgo = o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET';
    const r = isAlgo
      ? this.venue.placeAlgoOrder(accountId, { clientAlgoId: o.clientOrderId, symbol: SYMBOL, side: o.side, type: o.type as 'STOP_MARKET', triggerPrice: dec(o.triggerPrice!), quantity: dec(o.quantity), closePosition: false, reduceOnly: true, purpose: o.purpose })
      : this.venue.placeOrder(accountId, {
          clientOrderId: o.clientOrderId, symbol: SYMBOL, side: o.side, type: o.type as 'MARKET', quantity: dec(o.quantity), price: o.price === null ? null : dec(o.price),
          reduceOnly: o.reduceOnly, purpose: o.purpose, triggerPrice: o.triggerPrice === null ? null : dec(o.triggerPrice),
        });
    if (r.ok) this.append(stream, 'OrderAccepted', { clientOrderId: o.clientOrderId, venueOrderId: 'algoId' in r.value ? r.value.algoId : r.value.venueOrderId }, ts, causationId);
    else this.append(stream, 'OrderRejected', { clientOrderId: o.clientOrderId, code: r.error.code, message: r.error.message }, ts, causationId);
    return r.ok;
  }

  /** Execution's cancel: request, send, record the answer. */
  cancel(accountId: string, clientOrderId: string, ts: number, causationId: string): void {
    const stream = `order-${clientOrderId}`;
    const s = this.orders.get(stream);
    if (!s || TERMINAL.has(s.status)) return;
    this.append(stream, 'OrderCancelRequested', { clientOrderId, reason: 'scripted' }, ts, causationId);
    const algo = s.init!.type === 'STOP_MARKET' || s.init!.type === 'TAKE_PROFIT_MARKET';
    const r = algo ? this.venue.cancelAlgoOrder(accountId, { clientAlgoId: clientOrderId }) : this.venue.cancelOrder(accountId, clientOrderId);
    if (r.ok) this.append(stream, 'OrderCanceled', { clientOrderId }, ts, causationId);
    else this.append(stream, 'OrderCancelRejected', { clientOrderId, code: r.error.code, message: r.error.message }, ts, causationId);
  }

  /** One clock step: the venue matches, execution records what it reports, accounting books positions and funding. */
  step(i: number, k: number): PaperVenueEvent[] {
    const step = stepOf(i, k);
    const funding = fundingOf(i, k);
    const before = new Map(this.accounts.map((a) => [a, this.positions.get(a)?.open ?? null]));
    const out = this.venue.step(SYMBOL, step, funding);
    const tick = `tick-${RUN}-${seqOf(i, k)}`;
    this.record(out, step.ts, tick);
    this.account(out, step, funding, before, tick);
    return out;
  }

  /** execution.service.ts recordVenueEvents. */
  record(out: readonly PaperVenueEvent[], ts: number, causationId: string): void {
    for (const ev of out) {
      if (ev.kind === 'fill') {
        const f = ev.fill;
        const stream = `order-${f.clientOrderId}`;
        let s = this.orders.get(stream);
        if (!s || s.status === 'NONE') {
          this.append(stream, 'OrderInitialized', {
            clientOrderId: f.clientOrderId, accountId: f.accountId, venue: VENUE, symbol: f.symbol, side: f.side, type: 'MARKET', quantity: str(f.quantity), price: null, timeInForce: null,
            reduceOnly: true, purpose: f.venueGenerated ? 'LIQUIDATION' : f.purpose, leverage: f.leverage, sourceStreamId: `venue-${f.accountId}-${VENUE}`,
            sourceEventId: `${f.venueGenerated ? 'liquidation' : 'venue-order'}-${f.venueOrderId}`, triggerPrice: str(f.price),
          }, ts, causationId);
          this.append(stream, 'OrderSubmitted', { clientOrderId: f.clientOrderId }, ts, causationId);
          this.append(stream, 'OrderAccepted', { clientOrderId: f.clientOrderId, venueOrderId: f.venueOrderId }, ts, causationId);
          s = this.orders.get(stream)!;
        } else if (s.tradeIds.has(f.tradeId)) continue;
        const init = s.init!;
        const conditional = init.type === 'STOP_MARKET' || init.type === 'TAKE_PROFIT_MARKET';
        const filled = s.filled.plus(f.quantity);
        this.append(stream, 'OrderFilled', {
          clientOrderId: f.clientOrderId, venueOrderId: conditional ? s.venueOrderId! : f.venueOrderId, tradeId: f.tradeId, accountId: f.accountId, venue: VENUE, symbol: f.symbol,
          side: f.side, purpose: init.purpose, quantity: str(f.quantity), price: str(f.price), quoteQuantity: str(f.quantity.mul(f.price)), fee: str(f.fee), feeAsset: 'USDT',
          liquidity: f.liquidity, filledQuantity: str(filled), leavesQuantity: str(dec(init.quantity).minus(filled)), leverage: f.leverage, liquidationFee: str(f.liquidationFee),
        }, ts, causationId);
      } else if (ev.kind === 'rejected') {
        const s = this.orders.get(`order-${ev.clientOrderId}`);
        if (s && s.status !== 'NONE' && !TERMINAL.has(s.status)) this.append(`order-${ev.clientOrderId}`, 'OrderExpired', { clientOrderId: ev.clientOrderId }, ts, causationId);
      }
    }
  }

  /** accounting.service.ts: a new position opens a stream; funding for positions open before the settlement that are still open. */
  private account(out: readonly PaperVenueEvent[], step: Step, funding: { fundingTime: number; rate: string } | null, before: Map<string, { streamId: string; openedAt: number } | null>, tick: string): void {
    const fills = out.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));
    for (const acc of this.accounts) {
      const pos = this.venue.account(acc)!.positions[0];
      const p = this.positions.get(acc) ?? { count: 0, open: null };
      this.positions.set(acc, p);
      if (!pos) {
        p.open = null;
        continue;
      }
      if (!p.open) {
        const first = fills.find((f) => f.accountId === acc) as PaperFill;
        const streamId = `position-${acc}-${VENUE}-${SYMBOL}-${p.count + 1}`;
        this.append(streamId, 'PositionOpened', {
          accountId: acc, venue: VENUE, symbol: SYMBOL, sequence: p.count + 1, side: pos.side, quantity: str(pos.quantity), entryPrice: str(pos.entryPrice), leverage: pos.leverage,
          fee: str(first.fee), clientOrderId: first.clientOrderId, tradeId: first.tradeId, purpose: first.purpose,
        }, step.ts, `fill-${first.tradeId}`);
      }
      const was = before.get(acc);
      if (funding && was && was.openedAt < funding.fundingTime && p.open?.streamId === was.streamId) {
        const mark = dec(step.gap ? step.to : step.from);
        const signed = pos.side === 'SHORT' ? pos.quantity.neg() : pos.quantity;
        this.append(was.streamId, 'FundingApplied', {
          fundingTime: funding.fundingTime, rate: funding.rate, markPrice: str(mark), positionQuantity: str(signed), amount: str(fundingPayment(pos.side, pos.quantity, mark, dec(funding.rate))),
        }, step.ts, tick);
      }
    }
  }
}

/**
 * The day's orders: entries on closes (with their intents), an operator's partial close, a
 * resting LIMIT that fills (maker) and one that is cancelled, a reduce-only close that fills on
 * the 08:00 funding step, two internal-stop closes on one step (the second expires, -2022), an
 * entry with exchange stop-loss / take-profit algo orders (the stop triggers in the sell-off,
 * the take-profit is cancelled), a short held over the 16:00 settlement and closed by a
 * reduce-only LIMIT, and account B at 100x liquidated in the sell-off. Decisions read only the
 * venue, so a restored venue runs the same script.
 */
const script = {
  beforeStep(r: Recorder, i: number, k: number): void {
    const s = stepOf(i, k);
    const posA = r.venue.account('A')!.positions[0];
    if (i === 540 && k === 1 && posA) {
      // The stop-monitor saw the stop crossed on this step: execution sends the close (twice here: a retried trigger).
      for (const n of [1, 2]) r.place('A', { clientOrderId: `A-s540x${n}S`, side: 'SELL', type: 'MARKET', quantity: str(posA.quantity), price: null, reduceOnly: true, purpose: 'STOP_LOSS', triggerPrice: s.from }, s.ts, `stop-A-540`);
    }
  },
  afterClose(r: Recorder, i: number): void {
    const close = stepOf(i, 3);
    const posA = r.venue.account('A')!.positions[0];
    const c = `cmd-${i}`;
    if (i === 5) r.entry('A', i, 'BUY', '0.05', 5);
    if (i === 30 && posA) r.place('A', { clientOrderId: 'A-c30', side: 'SELL', type: 'MARKET', quantity: '0.02', price: null, reduceOnly: true, purpose: 'CLOSE', triggerPrice: null }, close.ts, c);
    if (i === 31) {
      r.place('A', { clientOrderId: 'A-l31a', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: str(dec(close.to).minus(200)), reduceOnly: false, purpose: 'ENTRY', triggerPrice: null }, close.ts, c);
      r.place('A', { clientOrderId: 'A-l31b', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: '70000', reduceOnly: false, purpose: 'ENTRY', triggerPrice: null }, close.ts, c);
    }
    if (i === 479 && posA) r.place('A', { clientOrderId: 'A-c479', side: 'SELL', type: 'MARKET', quantity: '0.01', price: null, reduceOnly: true, purpose: 'CLOSE', triggerPrice: null }, close.ts, c);
    if (i === 550) r.cancel('A', 'A-l31b', close.ts, c);
    if (i === 600) {
      r.entry('A', i, 'BUY', '0.05', 5);
      r.place('A', { clientOrderId: 'A-p600S', side: 'SELL', type: 'STOP_MARKET', quantity: '0.05', price: null, reduceOnly: true, purpose: 'STOP_LOSS', triggerPrice: '81500' }, close.ts, c);
      r.place('A', { clientOrderId: 'A-p600T', side: 'SELL', type: 'TAKE_PROFIT_MARKET', quantity: '0.05', price: null, reduceOnly: true, purpose: 'TAKE_PROFIT', triggerPrice: '84000' }, close.ts, c);
    }
    if (i === 660) r.entry('B', i, 'BUY', '0.2', 100);
    if (i === 750) r.cancel('A', 'A-p600T', close.ts, c);
    if (i === 780) r.entry('A', i, 'SELL', '0.04', 5);
    if (i === 990 && posA) r.place('A', { clientOrderId: 'A-c990', side: 'BUY', type: 'LIMIT', quantity: str(posA.quantity), price: str(dec(close.to).minus(100)), reduceOnly: true, purpose: 'CLOSE', triggerPrice: null }, close.ts, c);
  },
};

/** Where a run stands: after step k of bar i (and, after a close, after the commands that follow it). */
type At = { i: number; k: number };
const key = (a: At) => `${a.i}:${a.k}`;

/** Run the script from the step after `from` (null = the start of the day) to the end, calling `at` after every step. */
function drive(r: Recorder, from: At | null, at: (p: At, out: PaperVenueEvent[]) => void = () => undefined): void {
  for (let n = from ? seqOf(from.i, from.k) + 1 : 0; n < BARS * 4; n++) {
    const i = Math.floor(n / 4);
    const k = n % 4;
    script.beforeStep(r, i, k);
    const out = r.step(i, k);
    if (k === 3) script.afterClose(r, i);
    at({ i, k }, out);
  }
}

function newRecorder(): Recorder {
  const r = new Recorder(new PaperVenue(RULES_MAP, OPTIONS));
  const t = barAt(FIRST).openTime;
  r.configure('A', '10000', 5, t);
  r.configure('B', '1000', 100, t);
  return r;
}

/**
 * The snapshot without what the log cannot carry for the orders restored from it: the venue
 * stamps an order placed (or cancelled) between steps with its last step's time, the log holds
 * the command's time (exact for entries, placed right after the close their intent names). And,
 * at a restore point, the venue's own `now` and last price when no fact names the last step.
 */
function comparable(s: PaperVenueSnapshot, restored: { orderSeq: number; algoSeq: number }, market: boolean) {
  const old = (id: string, upTo: number) => Number(id) <= upTo;
  return {
    ...s,
    lastTs: market ? s.lastTs : null,
    lastPrice: market ? s.lastPrice : null,
    records: s.records.map((a) => ({
      ...a,
      orders: a.orders.map((o) => ({
        ...o,
        time: old(o.venueOrderId, restored.orderSeq) && !(o.purpose === 'ENTRY' && o.type === 'MARKET') ? null : o.time,
        updateTime: old(o.venueOrderId, restored.orderSeq) && (o.status === 'NEW' || o.status === 'CANCELED') ? null : o.updateTime,
      })),
    })),
    algos: s.algos.map((a) => ({
      ...a,
      algos: a.algos.map((x) => ({ ...x, time: old(x.algoId, restored.algoSeq) ? null : x.time, updateTime: old(x.algoId, restored.algoSeq) && (x.status === 'NEW' || x.status === 'CANCELED') ? null : x.updateTime })),
    })),
  };
}

/** Restore points: after an entry (its intent names the last price), with orders resting, around the 08:00 settlement, mid-bar, with algo orders, with B's position before its liquidation, after it. */
const POINTS: At[] = [
  { i: 5, k: 3 }, { i: 30, k: 3 }, { i: 31, k: 3 }, { i: 479, k: 3 }, { i: 480, k: 0 }, { i: 540, k: 1 }, { i: 600, k: 3 }, { i: 700, k: 2 }, { i: 745, k: 1 },
  { i: 780, k: 3 }, { i: 960, k: 0 }, { i: 1000, k: 2 },
];

describe('a paper venue restored from the log (real 2025-11-21 BTCUSDT day, multi-trade fills)', () => {
  const main = newRecorder();
  const marks = new Map<string, { length: number; snapshot: PaperVenueSnapshot; out: PaperVenueEvent[] }>();
  const all = new Map<number, PaperVenueEvent[]>();
  beforeAll(() => {
    drive(main, null, (p, out) => {
      all.set(seqOf(p.i, p.k), out);
      marks.set(key(p), { length: main.events.length, snapshot: main.venue.snapshot(), out });
    });
  }, 120_000);

  it('the day meets every kind of fact: split fills, a maker fill, an expiry, a cancel, funding with a fill on its step, an algo trigger, a liquidation', () => {
    const types = (t: string) => main.events.filter((e) => e.type === t);
    const fills = types('OrderFilled').map((e) => e.data as EventData<'OrderFilled'>);
    expect(new Set(fills.filter((f) => f.purpose === 'ENTRY').map((f) => f.clientOrderId)).size).toBeGreaterThanOrEqual(4);
    expect(fills.filter((f) => f.clientOrderId === 'A-e5')).toHaveLength(3);
    expect(fills.some((f) => f.liquidity === 'MAKER')).toBe(true);
    expect(fills.filter((f) => f.purpose === 'LIQUIDATION' && dec(f.liquidationFee).gte(0))).toHaveLength(1);
    expect(fills.filter((f) => f.clientOrderId === 'A-p600S').length).toBeGreaterThan(0);
    expect(types('OrderExpired').map((e) => (e.data as { clientOrderId: string }).clientOrderId)).toEqual(['A-s540x2S']);
    expect(types('OrderCanceled').map((e) => (e.data as { clientOrderId: string }).clientOrderId)).toEqual(['A-l31b', 'A-p600T']);
    // 00:00 finds no position; A's long pays at 08:00, A's short at 16:00.
    expect([...new Set(types('FundingApplied').map((e) => (e.data as EventData<'FundingApplied'>).fundingTime))]).toEqual([stepOf(480, 0).ts, stepOf(960, 0).ts]);
    // The 08:00 settlement and A-c479's fill share a step: funding is settled on the position before the fill.
    const t480 = `tick-${RUN}-${seqOf(480, 0)}`;
    expect(main.events.filter((e) => e.metadata.causationId === t480).map((e) => e.type)).toEqual(['OrderFilled', 'OrderFilled', 'OrderFilled', 'FundingApplied']);
    expect(all.get(seqOf(480, 0))!.map((e) => e.kind)).toEqual(['funding', 'fill', 'fill', 'fill']);
  });

  it.each(POINTS.map((p) => [key(p), p] as const))('restored after %s: the same state, and the same events for the rest of the day', (_name, point) => {
    const mark = marks.get(key(point))!;
    const log = main.events.slice(0, mark.length);
    const r = restorePaperVenue(RULES_MAP, OPTIONS, log);
    expect(r.problems).toEqual([]);
    const restored = { orderSeq: mark.snapshot.orderSeq, algoSeq: mark.snapshot.algoSeq };
    // The venue's last price and time are facts of the log after a close with an intent (the
    // price an entry placed next is checked at) and after a funding step (the settlement's mark).
    const exactMarket =
      (point.k === 3 && log.some((e) => e.type === 'IntentEmitted' && e.metadata.tsEvent === stepOf(point.i, 3).ts)) ||
      (point.k === 0 && log.some((e) => e.type === 'FundingApplied' && (e.data as EventData<'FundingApplied'>).fundingTime === stepOf(point.i, 0).ts));
    expect(comparable(r.venue.snapshot(), restored, exactMarket)).toEqual(comparable(mark.snapshot, restored, exactMarket));
    // Entries' record times are exact (placed right after the close their intent names).
    const entries = (s: PaperVenueSnapshot) => s.records.flatMap((a) => a.orders.filter((o) => o.purpose === 'ENTRY' && o.type === 'MARKET').map((o) => [o.clientOrderId, o.time]));
    expect(entries(r.venue.snapshot())).toEqual(entries(mark.snapshot));

    const copy = new Recorder(r.venue, log);
    const outs: PaperVenueEvent[][] = [];
    drive(copy, point, (_p, out) => outs.push(out));
    const expected: PaperVenueEvent[][] = [];
    for (let n = seqOf(point.i, point.k) + 1; n < BARS * 4; n++) expected.push(all.get(n)!);
    expect(outs).toEqual(expected);
    expect(copy.events.slice(mark.length)).toEqual(main.events.slice(mark.length));
    expect(comparable(copy.venue.snapshot(), restored, true)).toEqual(comparable(main.venue.snapshot(), restored, true));
  }, 60_000);

  describe('a step delivered again after a restart (the clock retries the step in flight)', () => {
    /** The steps with trades: the funding step with a split close, the stop closes with an expiry, the algo trigger, the liquidation. */
    const stepsWithTrades = () => {
      const seqs = [...all.entries()].filter(([, out]) => out.some((e) => e.kind === 'fill' && (e.fill.purpose === 'LIQUIDATION' || e.fill.clientOrderId === 'A-p600S'))).map(([n]) => n);
      return [seqOf(480, 0), seqOf(540, 1), ...seqs.slice(0, 2)];
    };

    it.each([
      ['no fact of it recorded', 0],
      ['only its first trade recorded', 1],
      ['all its facts recorded (the answer was lost)', Infinity],
    ])('%s: running it again on the restored venue gives what the original gave, and its state after', (_name, kept) => {
      for (const n of stepsWithTrades()) {
        const i = Math.floor(n / 4);
        const k = n % 4;
        const tick = `tick-${RUN}-${n}`;
        const before = marks.get(key(k === 0 ? { i: i - 1, k: 3 } : { i, k: k - 1 }))!;
        const after = marks.get(key({ i, k }))!;
        // The log up to the step's first fact (commands sent before the step included), then
        // `kept` of the facts execution recorded for it (a crash cut the rest; accounting has not run it).
        const first = main.events.findIndex((e, j) => j >= before.length && e.metadata.causationId === tick);
        const own = main.events.slice(first, after.length).filter((e) => e.metadata.causationId === tick && e.streamId.startsWith('order-'));
        const log = [...main.events.slice(0, first), ...own.slice(0, kept)];
        const r = restorePaperVenue(RULES_MAP, OPTIONS, log, { rerun: { causationId: tick, run: (v) => v.step(SYMBOL, stepOf(i, k), fundingOf(i, k)) } });
        expect(r.problems).toEqual([]);
        expect(r.rerun).toEqual(after.out);
        if (kept > 0) expect(r.lastStep).toEqual(clockStepOf(tick));
        const upTo = restorePaperVenue(RULES_MAP, OPTIONS, main.events.slice(0, first)).venue.snapshot();
        const restored = { orderSeq: upTo.orderSeq, algoSeq: upTo.algoSeq };
        expect(comparable(r.venue.snapshot(), restored, true)).toEqual(comparable(after.snapshot, restored, true));
      }
    });

    it('a recorded trade the step does not produce again is reported, not swallowed', () => {
      const n = seqOf(480, 0);
      const before = marks.get(key({ i: 479, k: 3 }))!;
      const after = marks.get(key({ i: 480, k: 0 }))!;
      const tick = `tick-${RUN}-${n}`;
      const own = main.events.slice(before.length, after.length).filter((e) => e.metadata.causationId === tick && e.type === 'OrderFilled');
      const forged = { ...own[0], data: { ...(own[0].data as EventData<'OrderFilled'>), price: '1' } };
      const r = restorePaperVenue(RULES_MAP, OPTIONS, [...main.events.slice(0, before.length), forged], { rerun: { causationId: tick, run: (v) => v.step(SYMBOL, stepOf(480, 0), fundingOf(480, 0)) } });
      expect(r.problems).toEqual([{ index: before.length, reason: expect.stringContaining(`does not produce the recorded trade ${(own[0].data as EventData<'OrderFilled'>).tradeId}`) }]);
    });
  });

  it('facts that do not fit are reported with their index, and the rest is restored', () => {
    const mark = marks.get(key({ i: 600, k: 3 }))!;
    const log = main.events.slice(0, mark.length);
    const fill = log.findIndex((e) => e.type === 'OrderFilled');
    const bad = [...log];
    bad[fill] = { ...log[fill], data: { ...(log[fill].data as EventData<'OrderFilled'>), fee: '999' } };
    const orphan: PaperRestoreEvent = { streamId: 'order-nobody', type: 'OrderAccepted', data: { clientOrderId: 'nobody', venueOrderId: '77' }, metadata: { tsEvent: 0, causationId: 'x' } };
    const r = restorePaperVenue(RULES_MAP, OPTIONS, [...bad, orphan]);
    expect(r.problems).toEqual([
      { index: fill, reason: expect.stringContaining('fee') },
      { index: bad.length, reason: 'OrderAccepted on order-nobody without its OrderInitialized' },
    ]);
    // The trade itself was booked by the venue's own rule (its fee from the rules), so the state is the original's.
    const restored = { orderSeq: mark.snapshot.orderSeq, algoSeq: mark.snapshot.algoSeq };
    expect(comparable(r.venue.snapshot(), restored, true)).toEqual(comparable(mark.snapshot, restored, true));
  });

  it('reads the clock step of a causation id', () => {
    expect(clockStepOf('tick-run-a-12')).toEqual({ causationId: 'tick-run-a-12', runId: 'run-a', seq: 12 });
    expect(clockStepOf('tick-12')).toBeNull();
    expect(clockStepOf('tick-run-x1')).toBeNull();
    expect(clockStepOf('evt-1')).toBeNull();
  });
});
