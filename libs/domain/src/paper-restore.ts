import type { EventData } from '@bulwark/contracts';
import { dec, str, type D } from './money';
import {
  PaperRestoreError,
  PaperVenue,
  type PaperAlgoType,
  type PaperFill,
  type PaperOrderRequest,
  type PaperVenueEvent,
  type PaperVenueOptions,
} from './paper-venue';
import type { Rules } from './rules';

/** The venue whose recorded facts a paper venue takes back (it simulates Binance USDⓈ-M). */
export const PAPER_RESTORE_VENUE = 'binance-usdm';

/** A stored event as the restore reads it: stream, type, data validated by its schema (parseEvent), and the metadata it needs. */
export interface PaperRestoreEvent {
  streamId: string;
  type: string;
  data: unknown;
  metadata: { tsEvent: number; causationId: string };
}

/** A replay clock step named by the causation id of what it caused: `tick-<runId>-<seq>`. */
export interface ClockStepRef {
  causationId: string;
  runId: string;
  seq: number;
}

/**
 * The clock step a causation id names (`tick-<runId>-<seq>`, as execution and accounting
 * stamp what a step caused), or null for any other causation.
 */
export function clockStepOf(causationId: string): ClockStepRef | null {
  if (!causationId.startsWith('tick-')) return null;
  const rest = causationId.slice('tick-'.length);
  const i = rest.lastIndexOf('-');
  const seq = Number(rest.slice(i + 1));
  if (i <= 0 || !/^\d+$/.test(rest.slice(i + 1)) || !Number.isSafeInteger(seq)) return null;
  return { causationId, runId: rest.slice(0, i), seq };
}

/** An event the restore could not apply: its index in the input and why (the rest is restored). */
export interface PaperRestoreProblem {
  index: number;
  reason: string;
}

/** Run one clock step again in place of its recorded facts (see restorePaperVenue). */
export interface PaperRestoreRerun {
  /** `tick-<runId>-<seq>` of the step. */
  causationId: string;
  /** Run the step on the venue as restored up to it (PaperVenue.step with the step's own funding); returns what it matched. */
  run(venue: PaperVenue): PaperVenueEvent[];
}

export interface PaperRestoreResult {
  venue: PaperVenue;
  problems: PaperRestoreProblem[];
  /** The last clock step whose venue facts (fills, expiries) the log holds, null when none. */
  lastStep: ClockStepRef | null;
  /** Per symbol, the latest funding time settled from the log (FundingApplied). */
  settledFunding: Map<string, number>;
  /** What `rerun.run` returned, when a rerun was asked for. */
  rerun: PaperVenueEvent[] | null;
}

type OrderInit = EventData<'OrderInitialized'>;
type Fill = EventData<'OrderFilled'>;
interface OrderStream {
  init: OrderInit;
  /** regular: MARKET / LIMIT placed by Bulwark; algo: a conditional order (venue id = algo id); generated: an order the venue created (a liquidation). */
  kind: 'regular' | 'algo' | 'generated';
  venueOrderId: string | null;
  /** The venue order id of the MARKET order a triggered algo order created. */
  actual: string | null;
}
interface Settlement {
  symbol: string;
  fundingTime: number;
  rate: D;
  markPrice: D;
  done: boolean;
}

const isConditional = (t: string): t is PaperAlgoType => t === 'STOP_MARKET' || t === 'TAKE_PROFIT_MARKET';
/** Execution records an order the venue created itself (a liquidation) with a source on the venue stream (execution.service recordVenueEvents). */
const isGenerated = (o: OrderInit) => o.sourceStreamId.startsWith('venue-') && /^(liquidation|venue-order)-/.test(o.sourceEventId);

/**
 * Rebuild a paper venue (the simulated exchange) from the facts the event log holds about it,
 * so that a restarted execution service trades on with the same accounts, wallets, positions,
 * isolated margins, working orders, ids, order records and trade history.
 *
 * Facts read (in log order; `events` = the log's `venue`, `order`, `position` and `signal`
 * events of the venue's window, validated):
 * - `venue-<account>-binance-usdm`: VenueAccountFunded → fund; PositionModeSet, MarginModeSet,
 *   LeverageSet → the same setting calls (refusals are problems);
 * - `order-<clientOrderId>`: OrderInitialized (the request), OrderAccepted (the venue order id
 *   or algo id: the order is accepted again, without the checks it passed), OrderFilled (one
 *   trade, booked by the engine's own trade booking; a LIQUIDATION of a venue-generated order
 *   by the engine's own liquidation at the recorded price and ids; the first trade of an algo
 *   order first creates its MARKET order, as a trigger does), OrderExpired (refused at fill),
 *   OrderCanceled (cancelOrder / cancelAlgoOrder). Every booked trade is checked against the
 *   record (trade id, quantity, price, fee, liquidity, leverage, liquidation fee);
 * - `position-…`: PositionOpened (which symbol the stream is), FundingApplied (the settlement's
 *   rate and mark price; the engine's own settlement pays every position it holds at that
 *   instant, as `step` does, whatever quantity accounting funded);
 * - `signal-…`: IntentEmitted (the bar's close at its step: the venue's last price).
 *
 * Order: the facts one clock step caused (order-stream events whose causation is
 * `tick-<runId>-<seq>`) are applied together where the first of them is, after that step's
 * funding settlement (accounting records it later in the log, the venue settled it first) —
 * as `step` did them; everything else in log order.
 *
 * `opts.rerun`: instead of the facts of that step, run the step itself on the venue restored up
 * to it, then apply the facts recorded after it. A step repeated after a restart (the clock's
 * retry of the step in flight) thus produces what the original produced, including trades the
 * crash kept from being recorded; the trades the log has must be among them (else a problem).
 *
 * What the log does not carry (the venue's `now` between steps and its last price at a step
 * without an intent, record times of orders placed between steps, a MARKET order that met a
 * step under VOLUME_SHARE liquidity without filling, an order's own tradesPerFill) is restored
 * as: `now` = the market time of the latest fact, the last price = the latest intent's price or
 * funding mark (else the latest fill price), tradesPerFill = the venue's. None of these changes
 * what the next step decides (`step` uses neither `now` nor the last price); before the next
 * step the last price only prices the margin check of a new opening order, and execution places
 * those (entries) right after the close their intent names, which is restored exactly.
 *
 * @param rules symbol → instrument rules (the venue's)
 * @param options the venue's liquidity and trade split (as the original was opened)
 * @returns the venue, the problems met, the last step with facts and the funding settled
 */
export function restorePaperVenue(
  rules: ReadonlyMap<string, Rules>,
  options: PaperVenueOptions,
  events: readonly PaperRestoreEvent[],
  opts: { rerun?: PaperRestoreRerun } = {},
): PaperRestoreResult {
  const venue = new PaperVenue(rules, options);
  const hooks = venue.restoreHooks();
  const problems: PaperRestoreProblem[] = [];
  const orders = new Map<string, OrderStream>();
  const positionSymbol = new Map<string, string>();
  const settlements = new Map<string, Settlement>();
  const groups = new Map<string, number[]>();
  const settledFunding = new Map<string, number>();
  const trades = new Set<string>();
  const lastFill = new Map<string, D>();
  const rerunId = opts.rerun?.causationId ?? null;
  let rerun: PaperVenueEvent[] | null = null;

  // Pass 1: which facts each clock step caused, and the funding settlements.
  const settlementKey = (e: PaperRestoreEvent, symbol: string, fundingTime: number) => (clockStepOf(e.metadata.causationId) ? e.metadata.causationId : `${symbol}@${fundingTime}`);
  events.forEach((e, i) => {
    if (e.type === 'PositionOpened') {
      const d = e.data as EventData<'PositionOpened'>;
      if (d.venue === PAPER_RESTORE_VENUE) positionSymbol.set(e.streamId, d.symbol);
    } else if (e.type === 'FundingApplied') {
      const symbol = positionSymbol.get(e.streamId);
      if (!symbol) return;
      const d = e.data as EventData<'FundingApplied'>;
      const key = settlementKey(e, symbol, d.fundingTime);
      const s = settlements.get(key);
      if (!s) settlements.set(key, { symbol, fundingTime: d.fundingTime, rate: dec(d.rate), markPrice: dec(d.markPrice), done: false });
      else if (!s.rate.eq(dec(d.rate)) || !s.markPrice.eq(dec(d.markPrice))) problems.push({ index: i, reason: `funding ${symbol} at ${d.fundingTime}: rate ${d.rate} / mark ${d.markPrice} differ from ${str(s.rate)} / ${str(s.markPrice)} recorded for another position` });
    } else if (e.streamId.startsWith('order-') && clockStepOf(e.metadata.causationId)) {
      const g = groups.get(e.metadata.causationId);
      if (g) g.push(i);
      else groups.set(e.metadata.causationId, [i]);
    }
  });

  const settle = (key: string) => {
    const s = settlements.get(key);
    if (!s || s.done) return;
    s.done = true;
    if (key === rerunId) return; // the step run again settles it itself
    // A funding step's start (the mark) is its gap's end: the venue's last price after it.
    hooks.market(s.symbol, s.fundingTime, s.markPrice);
    hooks.funding(s.symbol, s.rate, s.markPrice, s.fundingTime);
    settledFunding.set(s.symbol, Math.max(settledFunding.get(s.symbol) ?? -Infinity, s.fundingTime));
  };

  const checkTrade = (fill: PaperFill, d: Fill, clientOrderId: string) => {
    const diffs: string[] = [];
    const same = (name: string, x: string, y: string) => {
      if (x !== y) diffs.push(`${name} ${x} (venue) vs ${y} (log)`);
    };
    same('clientOrderId', fill.clientOrderId, clientOrderId);
    same('tradeId', fill.tradeId, d.tradeId);
    same('quantity', str(fill.quantity), str(dec(d.quantity)));
    same('price', str(fill.price), str(dec(d.price)));
    same('fee', str(fill.fee), str(dec(d.fee)));
    same('liquidity', fill.liquidity, d.liquidity);
    same('leverage', String(fill.leverage), String(d.leverage));
    same('liquidationFee', str(fill.liquidationFee), str(dec(d.liquidationFee)));
    if (diffs.length) throw new PaperRestoreError(`trade ${d.tradeId} of ${clientOrderId} booked differently: ${diffs.join(', ')}`);
  };

  const request = (o: OrderInit): PaperOrderRequest => {
    if (o.type !== 'MARKET' && o.type !== 'LIMIT') throw new PaperRestoreError(`order ${o.clientOrderId}: type ${o.type} is not a regular order`);
    return {
      clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, quantity: dec(o.quantity), price: o.price === null ? null : dec(o.price),
      reduceOnly: o.reduceOnly, purpose: o.purpose, triggerPrice: o.triggerPrice === null ? null : dec(o.triggerPrice),
    };
  };

  const applyOrderEvent = (e: PaperRestoreEvent) => {
    const ts = e.metadata.tsEvent;
    if (e.type === 'OrderInitialized') {
      const d = e.data as OrderInit;
      if (d.venue !== PAPER_RESTORE_VENUE) return;
      orders.set(e.streamId, { init: d, kind: isConditional(d.type) ? 'algo' : isGenerated(d) ? 'generated' : 'regular', venueOrderId: null, actual: null });
      return;
    }
    const st = orders.get(e.streamId);
    if (!st) {
      // An order of another venue, or initialised before the log window: nothing of it is at this venue.
      if (e.type === 'OrderAccepted' || e.type === 'OrderFilled') throw new PaperRestoreError(`${e.type} on ${e.streamId} without its OrderInitialized`);
      return;
    }
    const o = st.init;
    const accountId = o.accountId;
    switch (e.type) {
      case 'OrderAccepted': {
        const id = (e.data as EventData<'OrderAccepted'>).venueOrderId;
        st.venueOrderId = id;
        if (st.kind === 'regular') hooks.accept(accountId, request(o), id);
        else if (st.kind === 'algo') {
          hooks.acceptAlgo(
            accountId,
            { clientAlgoId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type as PaperAlgoType, triggerPrice: dec(o.triggerPrice ?? '0'), quantity: dec(o.quantity), closePosition: false, reduceOnly: o.reduceOnly, purpose: o.purpose },
            id,
          );
        }
        return;
      }
      case 'OrderFilled': {
        const d = e.data as Fill;
        if (trades.has(d.tradeId)) return; // the order stream keeps each trade once; so does the venue
        const t = { tradeId: d.tradeId, quantity: dec(d.quantity), price: dec(d.price), liquidity: d.liquidity, leverage: d.leverage };
        let fill: PaperFill;
        if (st.kind === 'generated') {
          if (d.purpose !== 'LIQUIDATION') throw new PaperRestoreError(`${e.streamId}: the paper venue creates no order but liquidations (purpose ${d.purpose})`);
          fill = hooks.liquidation(accountId, d.symbol, t.price, ts, d.venueOrderId, d.tradeId);
        } else if (st.kind === 'algo') {
          st.actual ??= hooks.triggerAlgo(accountId, o.clientOrderId, ts);
          fill = hooks.trade(accountId, st.actual, t, ts);
        } else {
          if (st.venueOrderId !== d.venueOrderId) throw new PaperRestoreError(`trade ${d.tradeId} names venue order ${d.venueOrderId}, the order was accepted as ${st.venueOrderId}`);
          fill = hooks.trade(accountId, d.venueOrderId, t, ts);
        }
        trades.add(d.tradeId);
        lastFill.set(d.symbol, t.price);
        checkTrade(fill, d, o.clientOrderId);
        return;
      }
      case 'OrderExpired': {
        if (st.kind === 'algo') {
          // Refused at its trigger (nothing left to reduce, or the opening checks).
          st.actual ??= hooks.triggerAlgo(accountId, o.clientOrderId, ts);
          hooks.expire(accountId, st.actual, ts);
        } else if (st.venueOrderId !== null) hooks.expire(accountId, st.venueOrderId, ts);
        return;
      }
      case 'OrderCanceled': {
        const r = st.kind === 'algo' ? venue.cancelAlgoOrder(accountId, { clientAlgoId: o.clientOrderId }) : venue.cancelOrder(accountId, o.clientOrderId);
        if (!r.ok) throw new PaperRestoreError(`cancel of ${o.clientOrderId} refused by the restored venue: ${r.error.code} ${r.error.message}`);
        return;
      }
    }
  };

  const applyVenueEvent = (e: PaperRestoreEvent) => {
    const suffix = `-${PAPER_RESTORE_VENUE}`;
    if (!e.streamId.endsWith(suffix)) return;
    const accountId = e.streamId.slice('venue-'.length, -suffix.length);
    const refused = (what: string, r: { ok: boolean; error?: { code: string; message: string } }) => {
      if (!r.ok) throw new PaperRestoreError(`${what} of ${accountId} refused by the restored venue: ${r.error!.code} ${r.error!.message}`);
    };
    switch (e.type) {
      case 'VenueAccountFunded': {
        const d = e.data as EventData<'VenueAccountFunded'>;
        if (d.asset !== 'USDT') throw new PaperRestoreError(`the paper venue keeps USDT only, funded ${d.asset}`);
        venue.fund(d.accountId, dec(d.amount));
        return;
      }
      case 'PositionModeSet':
        return refused('one-way mode', venue.setOneWayMode(accountId));
      case 'MarginModeSet':
        return refused('isolated margin', venue.setIsolated(accountId, (e.data as EventData<'MarginModeSet'>).symbol));
      case 'LeverageSet': {
        const d = e.data as EventData<'LeverageSet'>;
        return refused(`leverage ${d.leverage}`, venue.setLeverage(accountId, d.symbol, d.leverage));
      }
    }
  };

  const attempt = (index: number, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof PaperRestoreError) && !(err instanceof RangeError)) throw err;
      problems.push({ index, reason: err.message });
    }
  };

  // Pass 2: fold.
  const done = new Uint8Array(events.length);
  let lastStep: ClockStepRef | null = null;
  let lastStepIndex = -1;
  for (let i = 0; i < events.length; i++) {
    if (done[i]) continue;
    const e = events[i];
    const step = e.streamId.startsWith('order-') ? clockStepOf(e.metadata.causationId) : null;
    if (step) {
      const group = groups.get(step.causationId)!;
      for (const j of group) done[j] = 1;
      if (group[group.length - 1] > lastStepIndex) {
        lastStepIndex = group[group.length - 1];
        lastStep = step;
      }
      if (step.causationId === rerunId) {
        rerun = opts.rerun!.run(venue);
        attempt(i, () => checkRerun(events, group, rerun!));
        continue;
      }
      attempt(i, () => {
        settle(step.causationId);
        hooks.market(symbolOf(events, group, orders), e.metadata.tsEvent, null);
      });
      for (const j of group) attempt(j, () => applyOrderEvent(events[j]));
      continue;
    }
    attempt(i, () => {
      if (e.type === 'FundingApplied') {
        const symbol = positionSymbol.get(e.streamId);
        if (symbol) settle(settlementKey(e, symbol, (e.data as EventData<'FundingApplied'>).fundingTime));
      } else if (e.type === 'IntentEmitted') {
        const d = e.data as EventData<'IntentEmitted'>;
        // The close the decision was made on: the `to` of the step the venue saw last.
        if (d.venue === PAPER_RESTORE_VENUE && rules.has(d.symbol)) hooks.market(d.symbol, e.metadata.tsEvent, dec(d.entryPrice));
      } else if (e.streamId.startsWith('venue-')) applyVenueEvent(e);
      else if (e.streamId.startsWith('order-')) applyOrderEvent(e);
    });
  }
  if (opts.rerun && rerun === null) rerun = opts.rerun.run(venue);
  // A venue that filled orders has seen the market: without a recorded step price, the latest fill's.
  for (const [symbol, price] of lastFill) if (venue.markPrice(symbol) === null) hooks.market(symbol, venue.now(), price);
  return { venue, problems, lastStep, settledFunding, rerun };
}

/** The symbol of a step's facts (its first OrderFilled or OrderInitialized, else the known order's). */
function symbolOf(events: readonly PaperRestoreEvent[], group: number[], orders: ReadonlyMap<string, OrderStream>): string {
  for (const j of group) {
    const d = events[j].data as { symbol?: string };
    if (typeof d.symbol === 'string') return d.symbol;
    const known = orders.get(events[j].streamId);
    if (known) return known.init.symbol;
  }
  throw new PaperRestoreError(`no symbol in the facts of ${events[group[0]].metadata.causationId}`);
}

/** Every trade the log recorded for a step run again must be one the run produced, the same. */
function checkRerun(events: readonly PaperRestoreEvent[], group: number[], out: readonly PaperVenueEvent[]): void {
  const produced = new Map<string, PaperFill>();
  for (const ev of out) if (ev.kind === 'fill') produced.set(ev.fill.tradeId, ev.fill);
  for (const j of group) {
    if (events[j].type !== 'OrderFilled') continue;
    const d = events[j].data as Fill;
    const f = produced.get(d.tradeId);
    if (!f || f.clientOrderId !== d.clientOrderId || !f.quantity.eq(dec(d.quantity)) || !f.price.eq(dec(d.price)) || !f.fee.eq(dec(d.fee))) {
      throw new PaperRestoreError(
        `step ${events[j].metadata.causationId} run again does not produce the recorded trade ${d.tradeId} (${d.clientOrderId} ${d.quantity} @ ${d.price}, fee ${d.fee})` +
          (f ? `: it produced ${f.clientOrderId} ${str(f.quantity)} @ ${str(f.price)}, fee ${str(f.fee)}` : ''),
      );
    }
  }
}
