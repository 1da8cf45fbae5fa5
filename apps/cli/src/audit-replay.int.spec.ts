import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Command, CommanderError } from 'commander';
import { headers, type NatsConnection } from 'nats';
import {
  type AccountSummary,
  type Candle,
  type DomainEvent,
  type EquitySnapshot,
  type EventData,
  event,
  EventCatalogue,
  type InstrumentRules,
  type NewEvent,
  parsePositionStreamId,
  type RecordedEvent,
  Streams,
} from '@bulwark/contracts';
import {
  accountDecider,
  type AccountState,
  crossing,
  type D,
  dec,
  decideFunding,
  decidePositionFill,
  initialMargin,
  type OrderCommand,
  orderDecider,
  type OrderState,
  type PathStep,
  pathSteps,
  positionEvolve,
  type PositionEvent,
  positionInitialState,
  type PositionState,
  protectionGuards,
  roundToTick,
  type Rules,
  stopDecider,
  type StopState,
  str,
  unrealisedPnl,
  ZERO,
} from '@bulwark/domain';
import { EventHeaders, type EventStore, InMemoryEventStore, JetStreamEventStore, subjectForStream } from '@bulwark/event-store';
import { readFundingRates } from '@bulwark/market-data';
import { type Causation, causedBy, connectNats, DEFAULT_NATS_URL, EventAppender } from '@bulwark/messaging';
import { AuditArgumentError, auditDay, AuditNotFoundError, auditOrder, compareWithServices, type ReadModels, rebuildReadModels } from '@bulwark/projections';
import { BTCUSDT_FILES, btcusdtContract, btcusdtRules, eventMetadata, rawEvent, realBars } from '@bulwark/testing';
import { formatDayAudit, formatOrderAudit, registerAuditCommands } from './audit';
import { registerReplayCommand, ReplayMismatchError } from './replay';
import { InputError } from './input-checks';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { exitOf } from './main';

// The event log of these tests is written the way the services write it: the real deciders
// (account policy, order, position, stop) decide, an EventAppender adds the metadata, and
// every event is caused by the event or clock step the service handled (`causedBy`, the
// tick causation `tick-<run>-<seq>` and the candle correlation `candle-<venue>-<symbol>-<openTime>`).
// Prices are real: Binance USDⓈ-M BTCUSDT 1m candles of 2025-11-20/21 walked along their
// intra-bar path (`pathSteps`), the rules parsed from exchange-info.json and
// leverage-brackets.json, the funding rate of the 2025-11-20 16:00 settlement.

const VENUE = 'binance-usdm' as const;
const SYMBOL = 'BTCUSDT';
const RUN = 'audit-spec';
/** The wall clock of the run (tsInit); market time comes from the candles. */
const WALL = Date.parse('2026-01-05T10:00:00Z');
const A = 'audit-alice';
const B = 'audit-bob';
const at = (iso: string) => Date.parse(iso);
const candleId = (openTime: number) => `candle-${VENUE}-${SYMBOL}-${openTime}`;

// ---------------------------------------------------------------------------------------
// A miniature of the distributed system: each phase of a clock step does what its service does.
// ---------------------------------------------------------------------------------------

interface Acc {
  id: string;
  capital: D;
  leverage: number;
  /** Accounting's ledger (book()). */
  realised: D;
  fees: D;
  funding: D;
  positionsOpened: number;
  positionsClosed: number;
  fills: number;
  closesByPurpose: Record<string, number>;
  sequence: number;
  open: { streamId: string; openedAt: number } | null;
  queued: EventData<'OrderInitialized'>[];
  closing: EventData<'OrderInitialized'>[];
  levels: Map<string, { stopPrice: string; takeProfitPrice: string | null }>;
  armedStop: string | null;
}

class World {
  readonly appender: EventAppender;
  readonly accounts = new Map<string, Acc>();
  private tick = 0;
  private tradeSeq = 0;
  private venueOrderSeq = 0;
  mark: D = ZERO;

  constructor(
    readonly store: EventStore,
    readonly rules: Rules,
    readonly contract: InstrumentRules,
    readonly funding: Map<number, string>,
  ) {
    this.appender = new EventAppender(store, () => WALL);
  }

  /** Append decided events with optimistic concurrency; returns them as stored. */
  async append(streamId: string, events: DomainEvent[], c: Causation): Promise<RecordedEvent[]> {
    if (events.length === 0) return [];
    const rev = await this.store.streamRevision(streamId);
    await this.appender.append(streamId, events, rev === null ? 'no_stream' : rev, c);
    return this.store.readStream(streamId, { fromRevision: rev === null ? 0 : rev + 1 });
  }

  async load<S>(streamId: string, initial: S, evolve: (s: S, e: DomainEvent) => S): Promise<S> {
    let s = initial;
    for (const e of await this.store.readStream(streamId)) s = evolve(s, { type: e.type, data: e.data } as DomainEvent);
    return s;
  }

  account = (id: string): Promise<AccountState> => this.load(Streams.account(id), accountDecider.initialState(), accountDecider.evolve);
  order = (cid: string): Promise<OrderState> => this.load(Streams.order(cid), orderDecider.initialState(), (s, e) => orderDecider.evolve(s, e as never));
  position = (id: string): Promise<PositionState> => this.load(id, positionInitialState(), (s, e) => positionEvolve(s, e as PositionEvent));
  stop = (id: string): Promise<StopState> => this.load(id, stopDecider.initialState(), stopDecider.evolve);

  /** risk: open the account; execution: fund the paper venue and set it up; signals: attach the strategy. */
  async openAccount(id: string, ts: number, policy: Partial<{ maxTradesPerDay: number; dailyLossLimitFraction: string }>): Promise<void> {
    const r = accountDecider.decide(
      { kind: 'OpenAccount', config: { accountId: id, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 10, highLeverageConfirmed: true, venueBalance: '10000', ...policy } },
      await this.account(id),
    );
    if (!r.ok) throw new Error(r.error.message);
    const [opened] = await this.append(Streams.account(id), r.value, { tsEvent: ts, correlationId: `open-account-${id}`, causationId: `open-account-${id}` });
    const cfg = opened.data as EventData<'AccountOpened'>;
    const maxNotional = this.contract.brackets.filter((b) => b.initialLeverage >= cfg.leverage).map((b) => dec(b.notionalCap)).reduce((a, b) => (a.gt(b) ? a : b));
    await this.append(
      Streams.venue(id, VENUE),
      [
        event('VenueAccountFunded', { accountId: id, asset: 'USDT', amount: cfg.capital }),
        event('PositionModeSet', { mode: 'ONE_WAY' }),
        event('MarginModeSet', { symbol: SYMBOL, marginMode: 'ISOLATED' }),
        event('LeverageSet', { symbol: SYMBOL, leverage: cfg.leverage, maxNotional: str(maxNotional) }),
      ],
      causedBy(opened),
    );
    await this.append(
      Streams.signal(id),
      [event('StrategyAttached', { accountId: id, venue: VENUE, symbol: SYMBOL, strategy: 'donchian-atr', params: { channel: 120, atrPeriod: 30, atrMultiple: 3, rewardRisk: 2, tickSize: '0.1' } })],
      { tsEvent: ts, correlationId: `attach-${id}`, causationId: `attach-${id}` },
    );
    this.accounts.set(id, {
      id, capital: dec(cfg.capital), leverage: cfg.leverage, realised: ZERO, fees: ZERO, funding: ZERO, positionsOpened: 0, positionsClosed: 0, fills: 0,
      closesByPurpose: {}, sequence: 0, open: null, queued: [], closing: [], levels: new Map(), armedStop: null,
    });
  }

  /** risk: the kill switch. */
  async setTradingState(id: string, state: 'ACTIVE' | 'REDUCING' | 'HALTED', reason: string, ts: number): Promise<void> {
    const r = accountDecider.decide({ kind: 'SetTradingState', state, reason, by: 'audit-spec' }, await this.account(id));
    if (!r.ok) throw new Error(r.error.message);
    await this.append(Streams.account(id), r.value, { tsEvent: ts, correlationId: `trading-state-${id}`, causationId: `trading-state-${id}` });
  }

  /** accounting's EquitySnapshot. */
  async equity(a: Acc, asOf: number): Promise<EquitySnapshot> {
    const wallet = a.capital.plus(a.realised).minus(a.fees).plus(a.funding);
    let u = ZERO;
    let used = ZERO;
    if (a.open) {
      const s = await this.position(a.open.streamId);
      u = unrealisedPnl(s, this.mark);
      used = s.quantity.mul(s.entryPrice).div(s.leverage);
    }
    return {
      accountId: a.id, known: true, walletBalance: str(wallet), unrealisedPnl: str(u), equity: str(wallet.plus(u)), usedMargin: str(used),
      availableMargin: str(wallet.minus(used)), openPositions: a.open ? 1 : 0, asOf,
    };
  }

  private async orderCommands(cid: string, commands: OrderCommand[], c: Causation): Promise<RecordedEvent[]> {
    let s = await this.order(cid);
    const out: DomainEvent[] = [];
    for (const cmd of commands) {
      const r = orderDecider.decide(cmd, s);
      if (!r.ok) throw new Error(`${cid}: ${r.error.code} ${r.error.message}`);
      for (const e of r.value) {
        out.push(e);
        s = orderDecider.evolve(s, e);
      }
    }
    return this.append(Streams.order(cid), out, c);
  }

  /** execution: record, submit, and the venue's acknowledgement. */
  private async place(init: EventData<'OrderInitialized'>, c: Causation): Promise<void> {
    await this.orderCommands(init.clientOrderId, [{ kind: 'InitializeOrder', data: init }, { kind: 'SubmitOrder' }], c);
    await this.orderCommands(init.clientOrderId, [{ kind: 'RecordAccepted', venueOrderId: String(++this.venueOrderSeq) }], c);
  }

  /** signals at a bar's close, then risk's assessment, then execution's entry order. */
  async intent(a: Acc, candle: Candle, side: 'BUY' | 'SELL', ts: number): Promise<void> {
    const entry = dec(candle.close);
    const distance = roundToTick(entry.mul('0.004'), this.rules.tickSize);
    const stop = side === 'BUY' ? entry.minus(distance) : entry.plus(distance);
    const target = side === 'BUY' ? entry.plus(distance.mul(2)) : entry.minus(distance.mul(2));
    const data: EventData<'IntentEmitted'> = {
      intentId: `i${candle.openTime}`, accountId: a.id, venue: VENUE, symbol: SYMBOL, side, entryPrice: candle.close, stopPrice: str(stop),
      takeProfitPrice: str(target), strategy: 'donchian-atr', reason: `test schedule: ${side} at the close ${candle.close}, stop 0.4 %, target 2R`, candleOpenTime: candle.openTime,
    };
    const [intent] = await this.append(Streams.signal(a.id), [event('IntentEmitted', data)], { tsEvent: ts, correlationId: candleId(candle.openTime), causationId: candleId(candle.openTime) });
    const r = accountDecider.decide(
      { kind: 'AssessEntry', intent: data, signalStreamId: intent.streamId, equity: await this.equity(a, ts), rules: this.rules, ts: intent.metadata.tsEvent },
      await this.account(a.id),
    );
    if (!r.ok) throw new Error(r.error.message);
    const decided = await this.append(Streams.account(a.id), r.value, causedBy(intent));
    const approval = decided.find((e) => e.type === 'EntryApproved');
    if (!approval) return;
    const ap = approval.data as EventData<'EntryApproved'>;
    const c = causedBy(approval);
    a.levels.set(ap.clientOrderId, { stopPrice: ap.stopPrice, takeProfitPrice: ap.takeProfitPrice });
    await this.append(Streams.venue(a.id, VENUE), [event('LeverageSet', { symbol: SYMBOL, leverage: ap.leverage, maxNotional: '230000000' })], c);
    const init: EventData<'OrderInitialized'> = {
      clientOrderId: ap.clientOrderId, accountId: a.id, venue: VENUE, symbol: SYMBOL, side: ap.side, type: 'MARKET', quantity: ap.quantity, price: null,
      timeInForce: null, reduceOnly: false, purpose: 'ENTRY', leverage: ap.leverage, sourceStreamId: approval.streamId, sourceEventId: approval.metadata.eventId, triggerPrice: null,
    };
    await this.place(init, c);
    a.queued.push(init);
  }

  /** execution: a venue fill recorded on the order stream, then accounting books it. */
  private async fill(a: Acc, init: EventData<'OrderInitialized'>, price: D, c: Causation): Promise<void> {
    const qty = dec(init.quantity);
    const order = await this.order(init.clientOrderId);
    const fill: EventData<'OrderFilled'> = {
      clientOrderId: init.clientOrderId, venueOrderId: order.venueOrderId!, tradeId: String(++this.tradeSeq), accountId: a.id, venue: VENUE, symbol: SYMBOL,
      side: init.side, purpose: init.purpose, quantity: init.quantity, price: str(price), quoteQuantity: str(qty.mul(price)),
      fee: str(qty.mul(price).mul(this.rules.takerFeeRate)), feeAsset: 'USDT', liquidity: 'TAKER', filledQuantity: init.quantity, leavesQuantity: '0',
      leverage: a.leverage, liquidationFee: '0',
    };
    const [filled] = await this.orderCommands(init.clientOrderId, [{ kind: 'RecordFill', fill }], c);
    await this.applyFill(a, filled);
  }

  /** accounting: the position decision, the ledger, then stop-monitor and risk react to the position event. */
  private async applyFill(a: Acc, filled: RecordedEvent): Promise<void> {
    const f = filled.data as EventData<'OrderFilled'>;
    const streamId = a.open?.streamId ?? Streams.position(a.id, VENUE, SYMBOL, a.sequence + 1);
    const sequence = parsePositionStreamId(streamId)!.sequence;
    const r = decidePositionFill(await this.position(streamId), f, { sequence });
    if (!r.ok) throw new Error(r.error.message);
    const [pe] = await this.append(streamId, r.value.events, causedBy(filled));
    const d = pe.data as Record<string, string>;
    a.fills++;
    a.fees = a.fees.plus(d.fee);
    if (pe.type === 'PositionOpened') {
      a.open = { streamId, openedAt: filled.metadata.tsEvent };
      a.sequence = sequence;
      a.positionsOpened++;
      await this.placeStop(a, pe);
    } else if (pe.type === 'PositionClosed') {
      a.realised = a.realised.plus(d.realisedPnl);
      a.positionsClosed++;
      a.closesByPurpose[f.purpose] = (a.closesByPurpose[f.purpose] ?? 0) + 1;
      a.open = null;
      // stop-monitor cancels the stop; risk records the result (daily loss limit).
      const stopId = Streams.stop(pe.streamId);
      const cancel = stopDecider.decide({ kind: 'CancelStop', reason: 'POSITION_CLOSED' }, await this.stop(stopId));
      if (cancel.ok) await this.append(stopId, cancel.value, causedBy(pe));
      a.armedStop = null;
      const res = accountDecider.decide({ kind: 'RecordPositionResult', positionStreamId: pe.streamId, netPnl: dec(d.netPnl), ts: pe.metadata.tsEvent }, await this.account(a.id));
      if (!res.ok) throw new Error(res.error.message);
      await this.append(Streams.account(a.id), res.value, causedBy(pe));
    }
  }

  /** stop-monitor: arm the stop with the approval's levels and the position's guards. */
  private async placeStop(a: Acc, pe: RecordedEvent): Promise<void> {
    const p = pe.data as EventData<'PositionOpened'>;
    const levels = a.levels.get(p.clientOrderId)!;
    const quantity = dec(p.quantity);
    const entryPrice = dec(p.entryPrice);
    const guards = protectionGuards({ side: p.side, quantity, entryPrice, walletBalance: initialMargin(quantity.mul(entryPrice), p.leverage), brackets: this.rules.brackets });
    const stopId = Streams.stop(pe.streamId);
    const r = stopDecider.decide(
      {
        kind: 'PlaceStop',
        stop: {
          positionStreamId: pe.streamId, accountId: a.id, venue: VENUE, symbol: SYMBOL, positionSide: p.side, quantity: p.quantity, stopPrice: levels.stopPrice,
          takeProfitPrice: levels.takeProfitPrice, entryClientOrderId: p.clientOrderId, entryPrice: p.entryPrice, guards,
        },
      },
      await this.stop(stopId),
    );
    if (!r.ok) throw new Error(r.error.message);
    await this.append(stopId, r.value, causedBy(pe));
    a.armedStop = stopId;
  }

  /** One clock step: stop-monitor, execution, accounting, risk, signals — the replay clock's order. */
  async step(candle: Candle, step: PathStep, schedule: Map<string, Map<number, 'BUY' | 'SELL'>>): Promise<void> {
    const c: Causation = { tsEvent: step.ts, correlationId: candleId(candle.openTime), causationId: `tick-${RUN}-${++this.tick}` };
    const start = dec(step.gap ? step.to : step.from);
    for (const a of this.accounts.values()) {
      if (!a.armedStop) continue;
      const r = stopDecider.decide({ kind: 'EvaluateStep', step }, await this.stop(a.armedStop));
      if (!r.ok) throw new Error(r.error.message);
      for (const e of await this.append(a.armedStop, r.value, c)) {
        if (e.type !== 'StopTriggered') continue;
        const t = e.data as EventData<'StopTriggered'>;
        const init: EventData<'OrderInitialized'> = {
          clientOrderId: t.closeClientOrderId, accountId: a.id, venue: VENUE, symbol: SYMBOL, side: t.side, type: 'MARKET', quantity: t.quantity, price: null,
          timeInForce: null, reduceOnly: true, purpose: t.kind === 'STOP_LOSS' || t.kind === 'TAKE_PROFIT' ? t.kind : 'CLOSE', leverage: null,
          sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: t.triggerPrice,
        };
        await this.place(init, causedBy(e));
        a.closing.push(init);
      }
    }
    for (const a of this.accounts.values()) {
      // As the paper venue (libs/domain/src/paper-venue.ts step()): queued market orders fill at the
      // step's first price (the next bar's open), triggered closes where the step's own motion
      // reaches their trigger price (a take-profit at its target, a stop at its level).
      for (const init of a.queued.splice(0)) await this.fill(a, init, start, c);
      for (const init of a.closing.splice(0)) {
        const x = crossing(step, dec(init.triggerPrice!), dec(step.to).lt(dec(step.from)) ? 'down' : 'up');
        await this.fill(a, init, x ? x.price : start, c);
      }
    }
    const rate = step.pathIndex === 0 ? this.funding.get(candle.openTime) : undefined;
    if (rate !== undefined) {
      for (const a of this.accounts.values()) {
        if (!a.open || a.open.openedAt >= candle.openTime) continue;
        const r = decideFunding(await this.position(a.open.streamId), { fundingTime: candle.openTime, rate: dec(rate), markPrice: start });
        if (!r.ok) throw new Error(r.error.message);
        for (const e of await this.append(a.open.streamId, r.value, c)) a.funding = a.funding.plus((e.data as EventData<'FundingApplied'>).amount);
      }
    }
    this.mark = dec(step.to);
    for (const a of this.accounts.values()) {
      if (!a.open) continue;
      const eq = await this.equity(a, step.ts);
      const r = accountDecider.decide({ kind: 'ObserveEquity', equity: dec(eq.equity), ts: step.ts }, await this.account(a.id));
      if (r.ok) await this.append(Streams.account(a.id), r.value, c);
    }
    if (step.pathIndex === 3) {
      for (const [id, plan] of schedule) {
        const side = plan.get(candle.openTime);
        if (side) await this.intent(this.accounts.get(id)!, candle, side, step.ts);
      }
    }
  }

  async run(candles: Candle[], previousClose: string, schedule: Map<string, Map<number, 'BUY' | 'SELL'>>): Promise<void> {
    let prev = previousClose;
    for (const candle of candles) {
      for (const s of pathSteps(candle, prev)) await this.step(candle, s, schedule);
      prev = candle.close;
    }
  }

  /** What the accounting service holds for an account (its summary answer). */
  summary(id: string): AccountSummary {
    const a = this.accounts.get(id)!;
    const wallet = a.capital.plus(a.realised).minus(a.fees).plus(a.funding);
    return {
      accountId: id, capital: str(a.capital), realisedPnl: str(a.realised), fees: str(a.fees), funding: str(a.funding), liquidationFees: '0', unrealisedPnl: '0',
      finalEquity: str(wallet), maxDrawdown: '123.45', maxDrawdownFraction: '0.0123', peakEquity: '10100', positionsOpened: a.positionsOpened,
      positionsClosed: a.positionsClosed, liquidations: 0, fills: a.fills, openPositions: a.open ? 1 : 0, closesByPurpose: { ...a.closesByPurpose },
    };
  }
}

// ---------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------

const DAY1 = { from: at('2025-11-20T15:40:00Z'), to: at('2025-11-20T16:10:00Z') };
const DAY2 = { from: at('2025-11-21T07:35:00Z'), to: at('2025-11-21T08:00:00Z') };

interface Scenario {
  store: InMemoryEventStore;
  world: World;
  candles: Map<number, Candle>;
  fundingRate: string;
}

async function loadCandles(): Promise<Map<number, Candle>> {
  const out = new Map<number, Candle>();
  for (const c of await realBars({ from: DAY1.from - 60_000, to: DAY2.to + 1 })) {
    if ((c.openTime >= DAY1.from - 60_000 && c.openTime <= DAY1.to) || (c.openTime >= DAY2.from - 60_000 && c.openTime <= DAY2.to)) out.set(c.openTime, c);
  }
  return out;
}

function windowOf(candles: Map<number, Candle>, w: { from: number; to: number }): { list: Candle[]; previousClose: string } {
  const list: Candle[] = [];
  for (let t = w.from; t <= w.to; t += 60_000) list.push(candles.get(t)!);
  if (list.some((c) => c === undefined)) throw new Error('candle file lacks a minute of the window');
  return { list, previousClose: candles.get(w.from - 60_000)!.close };
}

async function buildScenario(): Promise<Scenario> {
  const contract = btcusdtContract();
  const rules = btcusdtRules();
  const rates = await readFundingRates(BTCUSDT_FILES.fundingRates);
  const funding = new Map(rates.map((r) => [r.fundingTime, r.rate]));
  const candles = await loadCandles();
  const store = new InMemoryEventStore();
  const world = new World(store, rules, contract, funding);
  // execution records the rules it loaded (rules-<venue>-<symbol>).
  await world.append(Streams.rules(VENUE, SYMBOL), [event('InstrumentRulesRecorded', { ...contract, source: `${BTCUSDT_FILES.exchangeInfo} + ${BTCUSDT_FILES.leverageBrackets}` })], {
    tsEvent: at('2025-11-20T15:00:00Z'), correlationId: `rules-${VENUE}-${SYMBOL}`, causationId: `rules-${VENUE}-${SYMBOL}`,
  });
  await world.openAccount(A, at('2025-11-20T15:30:00Z'), { maxTradesPerDay: 1, dailyLossLimitFraction: '0.005' });
  await world.openAccount(B, at('2025-11-20T15:31:00Z'), {});
  await world.setTradingState(B, 'HALTED', 'audit spec: kill switch', at('2025-11-20T15:32:00Z'));
  const day1 = windowOf(candles, DAY1);
  await world.run(day1.list, day1.previousClose, new Map([
    [A, new Map<number, 'BUY' | 'SELL'>([[at('2025-11-20T15:45:00Z'), 'SELL'], [at('2025-11-20T15:50:00Z'), 'BUY']])],
    [B, new Map<number, 'BUY' | 'SELL'>([[at('2025-11-20T15:45:00Z'), 'BUY']])],
  ]));
  const day2 = windowOf(candles, DAY2);
  await world.run(day2.list, day2.previousClose, new Map([[A, new Map<number, 'BUY' | 'SELL'>([[at('2025-11-21T07:40:00Z'), 'BUY'], [at('2025-11-21T07:50:00Z'), 'SELL']])]]));
  return { store, world, candles, fundingRate: funding.get(at('2025-11-20T16:00:00Z'))! };
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

async function allEvents(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
}

/** The store's last position, every stream's revision, and the whole log's content. */
async function snapshot(store: EventStore) {
  const events = await allEvents(store);
  const revisions: Record<string, number | null> = {};
  for (const id of new Set(events.map((e) => e.streamId))) revisions[id] = await store.streamRevision(id);
  return { lastPosition: await store.lastPosition(), revisions, content: JSON.stringify(events) };
}

/** Copy a log into another store, in global order, optionally rewriting events. */
async function copyLog(from: EventStore, to: EventStore, rewrite: (e: RecordedEvent) => NewEvent = (e) => e): Promise<void> {
  for (const e of await allEvents(from)) {
    const n = rewrite(e);
    await to.append(e.streamId, [{ type: n.type, data: n.data, metadata: n.metadata }], e.revision === 0 ? 'no_stream' : e.revision - 1);
  }
}

/** A store whose reads leave out some events (a lossy read: a revision gap). */
function hidingStore(inner: EventStore, hide: (e: RecordedEvent) => boolean): EventStore {
  return {
    append: (s, e, x) => inner.append(s, e, x),
    readStream: async (s, o) => (await inner.readStream(s, o)).filter((e) => !hide(e)),
    streamRevision: (s) => inner.streamRevision(s),
    readAll: (o) => ({
      async *[Symbol.asyncIterator]() {
        for await (const e of inner.readAll(o)) if (!hide(e)) yield e;
      },
    }),
    subscribeToAll: (o, h) => inner.subscribeToAll(o, h),
    lastPosition: () => inner.lastPosition(),
    close: () => inner.close(),
  };
}

const failed = (m: ReadModels) => m.checks.filter((c) => !c.ok).map((c) => c.name).sort();
const check = (m: ReadModels, name: string) => m.checks.find((c) => c.name === name)!;

/** main()'s exit code for an error a command threw. */
const exitCodeOf = (e: unknown): number => exitOf(e).code;

async function bulwark(store: EventStore, args: string[], querySummary?: (id: string) => Promise<AccountSummary | null>) {
  let out = '';
  let err = '';
  const opened: string[] = [];
  const program = new Command('bulwark')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s), outputError: (s, write) => write(s) });
  const open = async (kind?: string) => {
    opened.push(kind ?? 'default');
    return { store, close: async () => undefined };
  };
  registerAuditCommands(program, open);
  registerReplayCommand(program, open, querySummary);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err, error: null as unknown, opened };
  } catch (e) {
    return { code: exitCodeOf(e), out, err, error: e, opened };
  }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

let S: Scenario;
let before: Awaited<ReturnType<typeof snapshot>>;
/** The orders of the scenario, found from the log's own approvals and triggers. */
let ids: { entry1: string; close1: string; entry2: string; close2: string; position1: string; position2: string };

beforeAll(async () => {
  S = await buildScenario();
  before = await snapshot(S.store);
  const events = await allEvents(S.store);
  const approvals = events.filter((e) => e.type === 'EntryApproved').map((e) => e.data as EventData<'EntryApproved'>);
  const triggers = events.filter((e) => e.type === 'StopTriggered').map((e) => e.data as EventData<'StopTriggered'>);
  expect(approvals.map((a) => a.accountId)).toEqual([A, A]);
  expect(triggers.map((t) => t.kind)).toEqual(['TAKE_PROFIT', 'STOP_LOSS']);
  ids = {
    entry1: approvals[0].clientOrderId, close1: triggers[0].closeClientOrderId, entry2: approvals[1].clientOrderId, close2: triggers[1].closeClientOrderId,
    position1: Streams.position(A, VENUE, SYMBOL, 1), position2: Streams.position(A, VENUE, SYMBOL, 2),
  };
}, 60_000);

describe('the scenario log (built by the real deciders over real candles)', () => {
  it('holds both trades, the denials, the funding and the breakers, with service-style causation', async () => {
    const events = await allEvents(S.store);
    const types = (t: string) => events.filter((e) => e.type === t);
    expect(types('EntryDenied').map((e) => (e.data as EventData<'EntryDenied'>).reason)).toEqual(['TRADING_HALTED', 'DAILY_TRADE_LIMIT', 'DAILY_LOSS_LIMIT']);
    expect(types('TradingPaused').map((e) => (e.data as EventData<'TradingPaused'>).reason)).toEqual(['DAILY_LOSS_LIMIT']);
    expect(types('FundingApplied')).toHaveLength(1);
    expect(types('DailyTradeLimitReached')).toHaveLength(2);
    // The entry fill is caused by a clock step of the next bar and correlated to it.
    const fill = (await S.store.readStream(Streams.order(ids.entry1))).find((e) => e.type === 'OrderFilled')!;
    expect(fill.metadata.causationId).toMatch(new RegExp(`^tick-${RUN}-\\d+$`));
    expect(fill.metadata.correlationId).toBe(candleId(at('2025-11-20T15:46:00Z')));
    // The position event is caused by the fill.
    const opened = (await S.store.readStream(ids.position1))[0];
    expect(opened.metadata.causationId).toBe(fill.metadata.eventId);
  });
});

describe('auditOrder', () => {
  it('follows an entry order to its approval, the assessment, the intent and the candle, the fill and the position with its PnL', async () => {
    const a = await auditOrder(S.store, ids.entry1);
    const signalBar = S.candles.get(at('2025-11-20T15:45:00Z'))!;
    const fillBar = S.candles.get(at('2025-11-20T15:46:00Z'))!;
    expect(a.accountId).toBe(A);
    expect(a.purpose).toBe('ENTRY');
    expect(a.status).toBe('FILLED');
    expect(a.problems).toEqual([]);
    expect(a.transitions.map((t) => [t.type, t.status])).toEqual([
      ['OrderInitialized', 'INITIALIZED'], ['OrderSubmitted', 'SUBMITTED'], ['OrderAccepted', 'ACCEPTED'], ['OrderFilled', 'FILLED'],
    ]);
    expect(a.transitions.map((t) => t.tsEvent)).toEqual([signalBar.openTime + 59_999, signalBar.openTime + 59_999, signalBar.openTime + 59_999, fillBar.openTime]);

    if (a.source.kind !== 'ENTRY') throw new Error(`expected an ENTRY source, got ${a.source.kind}`);
    const s = a.source;
    const accountStream = await S.store.readStream(Streams.account(A));
    const approvalEvent = accountStream.find((e) => e.type === 'EntryApproved')!;
    expect(s.approval?.eventId).toBe(approvalEvent.metadata.eventId);
    expect(s.sourceEventId).toBe(approvalEvent.metadata.eventId);
    // Every input of the sizing, as risk recorded it: 1 % of 10,000 USDT at a 0.4 % stop.
    const x = s.assessment!;
    const entry = dec(signalBar.close);
    const distance = roundToTick(entry.mul('0.004'), dec('0.1'));
    expect(x.equity).toBe('10000');
    expect(x.availableMargin).toBe('10000');
    expect(x.riskAmount).toBe('100');
    expect(dec(x.stopDistance).eq(distance)).toBe(true);
    expect(dec(x.feePerUnit).eq(entry.plus(distance).mul('0.0005').plus(entry.mul('0.0005')))).toBe(true);
    expect(dec(x.rawQuantity).eq(dec(100).div(dec(x.lossPerUnit)))).toBe(true);
    expect(x.quantity).toBe(a.order!.quantity);
    expect(dec(x.quantity).lte(dec(x.rawQuantity))).toBe(true);
    expect(x.leverage).toBe(10);
    expect(x.bracket).toBe(1);
    expect(dec(x.initialMargin).eq(dec(x.notional).div(10))).toBe(true);
    expect(x.liquidationPrice).not.toBeNull();
    expect(x.requiredBuffer).not.toBeNull();
    expect(s.decidedWith.map((e) => e.type)).toEqual(['MonthOpened', 'DailyTradeLimitReached']);
    expect(s.intent?.data.intentId).toBe(`i${signalBar.openTime}`);
    expect(s.intent?.streamId).toBe(Streams.signal(A));
    expect(s.approval?.causationId).toBe(s.intent?.eventId);
    expect(s.candle).toEqual({ correlationId: candleId(signalBar.openTime), venue: VENUE, symbol: SYMBOL, openTime: signalBar.openTime, openTimeUtc: '2025-11-20 15:45:00.000' });

    // The fill at the next real bar's open, and the position holding its trade id.
    expect(a.fills).toHaveLength(1);
    expect(a.fills[0].price).toBe(fillBar.open);
    expect(a.fills[0].candle?.openTime).toBe(fillBar.openTime);
    expect(a.fills[0].positionStreamIds).toEqual([ids.position1]);
    expect(a.positions.map((p) => p.streamId)).toEqual([ids.position1]);
    const p = a.positions[0];
    expect(p.status).toBe('CLOSED');
    expect(p.side).toBe('SHORT');
    expect(p.endedBy).toEqual({ type: 'PositionClosed', clientOrderId: ids.close1, tradeId: expect.any(String), purpose: 'TAKE_PROFIT' });
    expect(p.events.map((e) => e.type)).toEqual(['PositionOpened', 'FundingApplied', 'PositionClosed']);
    expect(p.stop?.events.map((e) => e.type)).toEqual(['StopPlaced', 'StopTriggered', 'StopCancelled']);
    // PnL recomputed by hand from the two fills and the 16:00 settlement (a short receives a positive rate).
    const close = await auditOrder(S.store, ids.close1);
    const qty = dec(x.quantity);
    const entryFill = dec(a.fills[0].price);
    const exitFill = dec(close.fills[0].price);
    const realised = entryFill.minus(exitFill).mul(qty);
    const fees = qty.mul(entryFill).mul('0.0005').plus(qty.mul(exitFill).mul('0.0005'));
    const funding = qty.mul(dec(S.candles.get(at('2025-11-20T16:00:00Z'))!.open)).mul(dec(S.fundingRate));
    expect(dec(p.pnl.realised).eq(realised)).toBe(true);
    expect(dec(p.pnl.fees).eq(fees)).toBe(true);
    expect(dec(p.pnl.funding).eq(funding)).toBe(true);
    expect(dec(p.pnl.net).eq(realised.minus(fees).plus(funding))).toBe(true);
    expect(realised.gt(0)).toBe(true); // the target was hit
  });

  it('follows a take-profit close to its trigger, the stop and, through the position, the entry chain', async () => {
    const a = await auditOrder(S.store, ids.close1);
    expect(a.purpose).toBe('TAKE_PROFIT');
    expect(a.order?.reduceOnly).toBe(true);
    expect(a.problems).toEqual([]);
    if (a.source.kind !== 'PROTECTIVE') throw new Error(`expected a PROTECTIVE source, got ${a.source.kind}`);
    const s = a.source;
    expect(s.trigger?.data.kind).toBe('TAKE_PROFIT');
    expect(s.trigger?.data.closeClientOrderId).toBe(ids.close1);
    expect(s.trigger?.streamId).toBe(Streams.stop(ids.position1));
    expect(s.stopPlaced?.data.entryClientOrderId).toBe(ids.entry1);
    expect(s.positionStreamId).toBe(ids.position1);
    expect(s.entry?.clientOrderId).toBe(ids.entry1);
    expect(s.entry?.source.kind).toBe('ENTRY');
    // The trigger and the close fill happen on the same clock step; the order is caused by the trigger.
    expect(a.transitions[0].causationId).toBe(s.trigger?.eventId);
    expect(a.fills[0].tsEvent).toBe(s.trigger?.tsEvent);
    expect(a.fills[0].positionStreamIds).toEqual([ids.position1]);
    expect(a.positions[0].endedBy?.clientOrderId).toBe(ids.close1);
  });

  it('a stop-loss close fills at the stop level the path crossed, and its loss is the position net', async () => {
    const a = await auditOrder(S.store, ids.close2);
    if (a.source.kind !== 'PROTECTIVE') throw new Error('expected a PROTECTIVE source');
    expect(a.source.trigger?.data.kind).toBe('STOP_LOSS');
    expect(a.fills[0].price).toBe(a.source.stopPlaced?.data.stopPrice);
    expect(a.positions[0].streamId).toBe(ids.position2);
    expect(dec(a.positions[0].pnl.net).lt(-50)).toBe(true); // beyond the 0.5 % daily loss limit of 10,000
    // The entry of the second trade: its own intent (of four on the signal stream) and candle.
    const entry = a.source.entry!;
    if (entry.source.kind !== 'ENTRY') throw new Error('expected an ENTRY source');
    expect(entry.clientOrderId).toBe(ids.entry2);
    expect(entry.source.intent?.data.intentId).toBe(`i${at('2025-11-21T07:40:00Z')}`);
    expect(entry.source.candle?.openTime).toBe(at('2025-11-21T07:40:00Z'));
    // Sized on the equity after the first trade: 10,000 + its net PnL.
    const firstNet = (await auditOrder(S.store, ids.entry1)).positions[0].pnl.net;
    expect(dec(entry.source.assessment!.equity).eq(dec(10000).plus(dec(firstNet)))).toBe(true);
    expect(entry.problems).toEqual([]);
  });

  it('reports an unknown order with AuditNotFoundError and a malformed id with AuditArgumentError', async () => {
    await expect(auditOrder(S.store, 'bwnope-1E')).rejects.toThrow(AuditNotFoundError);
    await expect(auditOrder(S.store, 'bwnope-1E')).rejects.toThrow('no order bwnope-1E in the event log (stream order-bwnope-1E is empty or missing)');
    await expect(auditOrder(S.store, 'not an id!')).rejects.toThrow(AuditArgumentError);
  });

  it('reports a broken chain instead of hiding it (approval missing from the account stream)', async () => {
    const copy = new InMemoryEventStore();
    const original = (await S.store.readStream(Streams.order(ids.entry1)))[0].data as EventData<'OrderInitialized'>;
    await copyLog(S.store, copy, (e) =>
      e.type === 'OrderInitialized' && e.streamId === Streams.order(ids.entry1) ? { ...e, data: { ...(e.data as object), sourceEventId: 'no-such-event' } } : e,
    );
    const a = await auditOrder(copy, ids.entry1);
    expect(original.sourceEventId).not.toBe('no-such-event');
    expect(a.problems).toEqual([`the approval no-such-event is not an EntryApproved on ${Streams.account(A)}`]);
    expect(a.source.kind === 'ENTRY' && a.source.approval).toBeNull();
  });

  it('formats the chain for people', async () => {
    const text = formatOrderAudit(await auditOrder(S.store, ids.close1));
    expect(text).toContain(`Order ${ids.close1}  TAKE_PROFIT BUY MARKET`);
    expect(text).toMatch(/trigger +StopTriggered TAKE_PROFIT on stop-position-audit-alice-binance-usdm-BTCUSDT-1#1/);
    expect(text).toContain(`Entry order of the position`);
    expect(text).toContain('Risk assessment (why this size)');
    expect(text).toMatch(/risk amount +100/);
    expect(text).toContain('Problems: none');
  });
});

describe('auditDay', () => {
  it('lists every decision of 2025-11-20 for one account: approval with its size, denial with its reason, guards, orders, positions with PnL', async () => {
    const d = await auditDay(S.store, '2025-11-20', { accountId: A });
    expect(d.approvals.map((x) => [x.clientOrderId, x.side, x.riskAmount])).toEqual([[ids.entry1, 'SELL', '100']]);
    expect(dec(d.approvals[0].notional).eq(dec(d.approvals[0].quantity).mul(dec(d.approvals[0].entryPrice)))).toBe(true);
    expect(d.denials.map((x) => x.reason)).toEqual(['DAILY_TRADE_LIMIT']);
    expect(d.counts.denialsByReason).toEqual({ DAILY_TRADE_LIMIT: 1 });
    expect(d.guards.map((g) => g.type)).toEqual(['MonthOpened', 'DailyTradeLimitReached', 'StopTriggered']);
    expect(d.counts.triggersByKind).toEqual({ TAKE_PROFIT: 1 });
    expect(d.orders.submitted.map((o) => [o.clientOrderId, o.purpose])).toEqual([[ids.entry1, 'ENTRY'], [ids.close1, 'TAKE_PROFIT']]);
    expect(d.orders.filled).toHaveLength(2);
    expect(d.orders.rejected).toEqual([]);
    expect(d.positions.opened.map((p) => p.streamId)).toEqual([ids.position1]);
    expect(d.positions.closed.map((p) => [p.streamId, p.side, p.purpose])).toEqual([[ids.position1, 'SHORT', 'TAKE_PROFIT']]);
    const entry = await auditOrder(S.store, ids.entry1);
    expect(d.totals.closedNetPnl).toBe(entry.positions[0].pnl.net);
    expect(d.timeline.every((x, i) => i === 0 || d.timeline[i - 1].tsEvent <= x.tsEvent)).toBe(true);
    expect(d.timeline.every((x) => x.accountId === A)).toBe(true);
    // Counts by type cover every event of the day, not only the decisions.
    expect(d.counts.byType.OrderAccepted).toBe(2);
    expect(d.counts.byType.AccountOpened).toBe(1);
    expect(d.totals.events).toBe(Object.values(d.counts.byType).reduce((s, n) => s + n, 0));
  });

  it('without an account, the day includes every account (the kill switch of the second one)', async () => {
    const d = await auditDay(S.store, '2025-11-20');
    expect(d.denials.map((x) => [x.accountId, x.reason])).toEqual([[B, 'TRADING_HALTED'], [A, 'DAILY_TRADE_LIMIT']]);
    expect(d.guards.filter((g) => g.type === 'TradingStateChanged').map((g) => [g.accountId, g.detail])).toEqual([[B, 'ACTIVE → HALTED by audit-spec: audit spec: kill switch']]);
    expect(d.counts.byType.AccountOpened).toBe(2);
    expect(d.counts.byType.InstrumentRulesRecorded).toBe(1);
  });

  it('2025-11-21: the stop-loss, the daily loss limit pause and the denial it causes', async () => {
    const d = await auditDay(S.store, '2025-11-21', { accountId: A });
    expect(d.approvals.map((x) => x.clientOrderId)).toEqual([ids.entry2]);
    expect(d.counts.triggersByKind).toEqual({ STOP_LOSS: 1 });
    expect(d.counts.pausesByReason).toEqual({ DAILY_LOSS_LIMIT: 1 });
    expect(d.denials.map((x) => x.reason)).toEqual(['DAILY_LOSS_LIMIT']);
    const pause = d.guards.find((g) => g.type === 'TradingPaused')!;
    const denial = d.denials[0];
    expect(pause.tsEvent).toBeLessThan(denial.tsEvent);
    expect(d.positions.closed.map((p) => p.purpose)).toEqual(['STOP_LOSS']);
    expect(dec(d.totals.closedNetPnl).lt(0)).toBe(true);
  });

  it('a quiet day is empty; a bad date or account id is an AuditArgumentError', async () => {
    const d = await auditDay(S.store, '2025-11-22');
    expect(d.totals.events).toBe(0);
    expect(d.timeline).toEqual([]);
    await expect(auditDay(S.store, '2025-02-30')).rejects.toThrow(AuditArgumentError);
    await expect(auditDay(S.store, '20251120')).rejects.toThrow('day must be a UTC calendar date YYYY-MM-DD, got "20251120"');
    await expect(auditDay(S.store, '2025-11-20', { accountId: 'a b' })).rejects.toThrow(AuditArgumentError);
  });

  it('formats the day for people', async () => {
    const text = formatDayAudit(await auditDay(S.store, '2025-11-21', { accountId: A }));
    expect(text).toContain(`Audit of 2025-11-21 (UTC, market time) — account ${A}`);
    expect(text).toMatch(/denials +1 \(DAILY_LOSS_LIMIT 1\)/);
    expect(text).toContain('Approvals (sizes)');
    expect(text).toMatch(/TradingPaused +DAILY_LOSS_LIMIT — loss \d+\.\d{2} USDT ≥ limit \d+\.\d{2} USDT \(2025-11-21\); new entries are paused/);
  });
});

describe('rebuildReadModels', () => {
  it('rebuilds policy, positions, ledger, orders and stops from the log alone, and every check holds', async () => {
    const m = await rebuildReadModels(S.store);
    expect(failed(m)).toEqual([]);
    expect(m.ok).toBe(true);
    expect(m.lastPosition).toBe(before.lastPosition);
    expect(m.eventsRead).toBe(before.lastPosition);
    expect(m.accounts.map((a) => a.accountId)).toEqual([A, B]);
    for (const c of m.checks) expect(c.checked).toBeGreaterThan(0);

    const a = m.accounts[0];
    expect(a.policy.config?.capital).toBe('10000');
    expect(a.policy.tradingState).toBe('ACTIVE');
    expect(a.policy.entries).toBe(2);
    expect(a.policy.pausedForDay).toEqual({ day: '2025-11-21', reason: 'DAILY_LOSS_LIMIT' });
    expect(a.policy.month).toBe('2025-11');
    expect(a.policy.monthBase).toBe('10000');
    expect(a.policy.intentsAssessed).toBe(4);
    expect(a.policy.positionResultsRecorded).toBe(2);
    expect(m.accounts[1].policy.tradingState).toBe('HALTED');

    expect(a.positions.map((p) => [p.streamId, p.status, p.side])).toEqual([[ids.position1, 'CLOSED', 'SHORT'], [ids.position2, 'CLOSED', 'LONG']]);
    expect(a.orders.byStatus).toEqual({ FILLED: 4 });
    expect(a.orders.list.map((o) => o.clientOrderId).sort()).toEqual([ids.entry1, ids.close1, ids.entry2, ids.close2].sort());
    expect(a.stops.byStatus).toEqual({ CANCELLED: 2 });
    expect(a.stops.list.map((s) => s.triggeredBy)).toEqual(['TAKE_PROFIT', 'STOP_LOSS']);

    // The ledger against the positions, summed by hand.
    const net = a.positions.reduce((s, p) => s.plus(dec(p.netPnl)), ZERO);
    const l = a.ledger;
    expect(dec(l.finalEquity).eq(dec(10000).plus(net))).toBe(true);
    expect(dec(l.finalEquity).eq(dec(l.capital).plus(dec(l.realisedPnl)).minus(dec(l.fees)).plus(dec(l.funding)).minus(dec(l.liquidationFees)).plus(dec(l.unrealisedPnl)))).toBe(true);
    expect(dec(l.funding).gt(0)).toBe(true);
    expect([l.positionsOpened, l.positionsClosed, l.liquidations, l.fills, l.openPositions]).toEqual([2, 2, 0, 4, 0]);
    expect(l.closesByPurpose).toEqual({ TAKE_PROFIT: 1, STOP_LOSS: 1 });
    expect(l.unrealisedBasis).toBe('no open position');
    expect(l.capitalKnown).toBe(true);
  });

  it('with --account, rebuilds only that account', async () => {
    const m = await rebuildReadModels(S.store, { accountId: B });
    expect(m.accounts.map((a) => a.accountId)).toEqual([B]);
    expect(m.accounts[0].positions).toEqual([]);
    expect(m.ok).toBe(true);
  });

  it('values an open position at the last fill price and says so', async () => {
    // The log cut right after the second entry filled: position 2 is open.
    const copy = new InMemoryEventStore();
    const cut = (await allEvents(S.store)).find((e) => e.streamId === ids.position2)!.position;
    for (const e of (await allEvents(S.store)).filter((x) => x.position <= cut)) {
      await copy.append(e.streamId, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision === 0 ? 'no_stream' : e.revision - 1);
    }
    const m = await rebuildReadModels(copy, { accountId: A });
    const l = m.accounts[0].ledger;
    expect(l.openPositions).toBe(1);
    expect(l.unrealisedBasis).toMatch(/^open positions at the account's last fill price \(the log holds no marks\): BTCUSDT \d+(\.\d+)? \(last fill, 2025-11-21 07:41:00.000\)$/);
    expect(m.accounts[0].positions[1].markPrice).toBe(m.accounts[0].positions[1].entryPrice);
    expect(m.ok).toBe(true);
  });
});

describe('consistency checks on a tampered log', () => {
  it('a faithful copy passes (the control)', async () => {
    const copy = new InMemoryEventStore();
    await copyLog(S.store, copy);
    expect(failed(await rebuildReadModels(copy))).toEqual([]);
  });

  it('an extra fill appended to a filled order fails the order and trade-id checks', async () => {
    const copy = new InMemoryEventStore();
    await copyLog(S.store, copy);
    const stream = await copy.readStream(Streams.order(ids.entry1));
    const fill = stream.find((e) => e.type === 'OrderFilled')!;
    await copy.append(Streams.order(ids.entry1), [{ type: 'OrderFilled', data: { ...(fill.data as object), tradeId: '999' }, metadata: { ...fill.metadata, eventId: 'tampered-fill' } }], stream.length - 1);
    const m = await rebuildReadModels(copy);
    expect(failed(m)).toEqual(['order-fills', 'order-transitions', 'trade-ids']);
    expect(check(m, 'order-transitions').failures[0].detail).toContain('OrderFilled:full is not allowed in status FILLED');
    expect(check(m, 'order-fills').failures.map((f) => f.detail)).toContain(`fills of ${str(dec((fill.data as EventData<'OrderFilled'>).quantity).mul(2))} exceed the order quantity ${(fill.data as EventData<'OrderFilled'>).quantity}`);
    expect(check(m, 'trade-ids').failures).toEqual([{ accountId: A, subject: `${ids.entry1}/999`, detail: expect.stringContaining('is in no position stream') }]);
  });

  it('a PositionClosed with a wrong total fails the position-totals check', async () => {
    const copy = new InMemoryEventStore();
    await copyLog(S.store, copy, (e) =>
      e.type === 'PositionClosed' && e.streamId === ids.position1 ? { ...e, data: { ...(e.data as object), totalFees: str(dec((e.data as EventData<'PositionClosed'>).totalFees).plus('0.01')) } } : e,
    );
    const m = await rebuildReadModels(copy);
    expect(failed(m)).toEqual(['position-totals']);
    expect(check(m, 'position-totals').failures).toEqual([{ accountId: A, subject: ids.position1, detail: expect.stringMatching(/^PositionClosed\.totalFees = [\d.]+, recomputed from the stream's events: [\d.]+$/) }]);
  });

  it('a position event booking a trade no order filled fails the trade-id check', async () => {
    const copy = new InMemoryEventStore();
    await copyLog(S.store, copy, (e) => (e.type === 'PositionOpened' && e.streamId === ids.position2 ? { ...e, data: { ...(e.data as object), tradeId: 'ghost' } } : e));
    const m = await rebuildReadModels(copy);
    expect(failed(m)).toEqual(['trade-ids']);
    expect(check(m, 'trade-ids').failures.map((f) => f.detail)).toEqual([
      expect.stringContaining('is in no position stream'),
      expect.stringContaining('books trade') ,
    ]);
  });

  it('a read with a missing event (revision gap) fails the revisions check', async () => {
    const lossy = hidingStore(S.store, (e) => e.streamId === Streams.order(ids.entry1) && e.type === 'OrderAccepted');
    const m = await rebuildReadModels(lossy);
    expect(failed(m)).toEqual(['revisions']);
    expect(check(m, 'revisions').failures[0]).toEqual({ accountId: A, subject: Streams.order(ids.entry1), detail: 'event 2 read has revision 3 (expected 2: a gap or a duplicate)' });
  });

  it('an event that breaks its schema fails the schema check and stays out of the folds', async () => {
    const copy = new InMemoryEventStore({ validate: false }); // the tampered event breaks its schema
    await copyLog(S.store, copy);
    const rev = (await copy.streamRevision(Streams.account(A)))!;
    await copy.append(Streams.account(A), [rawEvent('DrawdownAlert', { month: '2025-11' }, { eventId: 'bad-alert', correlationId: 'x' })], rev);
    // Stored past the append checks (validate: false): only a verifying replay re-checks the schema.
    const m = await rebuildReadModels(copy, { verify: true });
    expect(m.verified).toBe(true);
    expect(failed(m)).toEqual(['schema']);
    expect(m.accounts[0].policy.drawdownAlertsThisMonth).toEqual([]);
  });

  it('an AccountOpened of an older shape claiming the current schema version is reported, and the capital is said to be unknown', async () => {
    const copy = new InMemoryEventStore({ validate: false }); // the tampered event breaks its schema
    await copyLog(S.store, copy, (e) => {
      if (e.type !== 'AccountOpened' || e.streamId !== Streams.account(B)) return e;
      const { venueBalance: _v, highLeverageConfirmed: _h, ...older } = e.data as EventData<'AccountOpened'>;
      return { ...e, data: older };
    });
    const m = await rebuildReadModels(copy, { verify: true });
    expect(failed(m)).toEqual(['schema']);
    const opened = (await copy.readStream(Streams.account(B)))[0];
    expect(check(m, 'schema').failures).toEqual([
      { accountId: B, subject: `${Streams.account(B)}#0`, detail: `AccountOpened v${EventCatalogue.AccountOpened.version}: highLeverageConfirmed Required; venueBalance Required`, position: opened.position, eventType: 'AccountOpened' },
    ]);
    const b = m.accounts.find((a) => a.accountId === B)!;
    expect(b.policy.config).toBeNull();
    expect([b.ledger.capital, b.ledger.capitalKnown]).toEqual(['0', false]);
  });
});

describe('compareWithServices', () => {
  it('matches the accounting summary of the same run; the drawdown fields are not compared', async () => {
    const m = await rebuildReadModels(S.store);
    expect(compareWithServices(m, [S.world.summary(A), S.world.summary(B)])).toEqual([]);
  });

  it('lists each difference with the rebuilt and the held value', async () => {
    const m = await rebuildReadModels(S.store);
    const held = S.world.summary(A);
    const rebuiltFees = m.accounts[0].ledger.fees;
    const diffs = compareWithServices(m, [
      { ...held, fees: str(dec(held.fees).plus('0.5')), fills: held.fills + 1, closesByPurpose: { TAKE_PROFIT: 1 } },
      { ...held, accountId: 'audit-carol' },
    ]);
    expect(diffs).toEqual([
      { accountId: A, field: 'fees', rebuilt: rebuiltFees, held: str(dec(held.fees).plus('0.5')) },
      { accountId: A, field: 'fills', rebuilt: '4', held: '5' },
      { accountId: A, field: 'closesByPurpose.STOP_LOSS', rebuilt: '1', held: '0' },
      { accountId: 'audit-carol', field: 'account', rebuilt: 'absent from the log', held: 'present' },
    ]);
    // Flat on both sides: the equity is compared too.
    expect(compareWithServices(m, [{ ...held, finalEquity: '10000' }])).toEqual([{ accountId: A, field: 'finalEquity', rebuilt: m.accounts[0].ledger.finalEquity, held: '10000' }]);
  });
});

describe('the commands', () => {
  it('audit order prints the chain; --json gives the same audit as the function', async () => {
    const text = await bulwark(S.store, ['audit', 'order', ids.entry1]);
    expect(text.code).toBe(0);
    expect(text.out).toContain(`Order ${ids.entry1}  ENTRY SELL MARKET`);
    const json = await bulwark(S.store, ['audit', 'order', ids.entry1, '--json']);
    expect(JSON.parse(json.out)).toEqual(JSON.parse(JSON.stringify(await auditOrder(S.store, ids.entry1))));
  });

  it('audit order of an unknown order fails with AuditNotFoundError (exit 1); a malformed id is exit 2', async () => {
    const r = await bulwark(S.store, ['audit', 'order', 'bwnope-9E']);
    expect(r.error).toBeInstanceOf(AuditNotFoundError);
    expect(r.code).toBe(1);
    const bad = await bulwark(S.store, ['audit', 'order', 'bw/../x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('clientOrderId must be a client order id');
  });

  it('audit day names a bad date (InvalidArgumentError, exit 2) and filters by --account', async () => {
    const bad = await bulwark(S.store, ['audit', 'day', '2025-13-01']);
    expect(bad.code).toBe(2);
    expect(bad.error).toBeInstanceOf(CommanderError);
    expect((bad.error as CommanderError).code).toBe('commander.invalidArgument');
    expect(bad.err).toContain('day must be a UTC calendar date YYYY-MM-DD, got "2025-13-01"');
    const r = await bulwark(S.store, ['audit', 'day', '2025-11-20', '--account', B, '--json']);
    const d = JSON.parse(r.out) as { denials: Array<{ reason: string }>; accountId: string };
    expect(d.accountId).toBe(B);
    expect(d.denials.map((x) => x.reason)).toEqual(['TRADING_HALTED']);
  });

  it('replay prints the models and the checks, and matches the services (exit 0)', async () => {
    const r = await bulwark(S.store, ['replay', '--account', A, '--store', 'memory'], async (id) => S.world.summary(id));
    expect(r.code).toBe(0);
    expect(r.opened).toEqual(['memory']);
    expect(r.out).toContain(`Account ${A}`);
    expect(r.out).toMatch(/✓ +position-totals/);
    expect(r.out).toContain(`${A}: ✓ matches`);
  });

  it('replay exits 1 when the services hold something else, and says what', async () => {
    const r = await bulwark(S.store, ['replay', '--account', A], async (id) => ({ ...S.world.summary(id), realisedPnl: '1' }));
    expect(r.code).toBe(1);
    expect(r.error).toBeInstanceOf(ReplayMismatchError);
    expect(r.opened).toEqual(['jetstream']);
    expect(r.out).toMatch(new RegExp(`${A}: ✗ realisedPnl rebuilt -?[\\d.]+, held 1`));
  });

  it('replay exits 1 on a failed check; JSON carries the checks; a service that does not answer is not compared', async () => {
    const lossy = hidingStore(S.store, (e) => e.streamId === ids.position1 && e.type === 'FundingApplied');
    const r = await bulwark(lossy, ['replay', '--json'], async () => null);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out) as ReadModels & { services: Array<{ answered: boolean }> };
    expect(out.checks.filter((c) => !c.ok).map((c) => c.name).sort()).toEqual(['position-totals', 'revisions']);
    expect(out.services.map((s) => s.answered)).toEqual([false, false]);
    const bad = await bulwark(S.store, ['replay', '--store', 'postgres']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--store must be jetstream or memory, got "postgres"');
  });
});

describe('reading never changes the log', () => {
  it('after every audit, replay and command above, the last position, every stream revision and the content are unchanged', async () => {
    await auditOrder(S.store, ids.close2);
    await auditDay(S.store, '2025-11-21');
    await rebuildReadModels(S.store);
    const after = await snapshot(S.store);
    expect(after.lastPosition).toBe(before.lastPosition);
    expect(after.revisions).toEqual(before.revisions);
    expect(after.content).toBe(before.content);
    expect(Object.keys(after.revisions).length).toBeGreaterThan(10);
  });
});

// ---------------------------------------------------------------------------------------
// The same against JetStream (a temporary stream, deleted afterwards).
// ---------------------------------------------------------------------------------------

describe('against JetStream (needs a running nats-server -js)', () => {
  const NATS_URL = process.env.NATS_URL ?? DEFAULT_NATS_URL;
  let nc: NatsConnection;
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const streamName = `AUDIT_${tag}`;

  beforeAll(async () => {
    try {
      nc = await connectNats({ user: 'admin', servers: NATS_URL, name: 'audit-replay-spec', timeoutMs: 2_000 });
    } catch (e) {
      throw new Error(`NATS is unreachable at ${NATS_URL}: this test needs Bulwark's nats-server with JetStream (npm run setup, or set NATS_URL and credentials): ${String(e)}`);
    }
  });

  afterAll(async () => {
    if (!nc) return;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(streamName).catch(() => undefined);
    await nc.close();
  });

  it('audits and replays the same log written through JetStreamEventStore, with the same answers, and changes nothing', async () => {
    if (!nc) throw new Error(`NATS is unreachable at ${NATS_URL}`);
    const js = await JetStreamEventStore.connect(nc, { stream: streamName, subjectPrefix: `audit${tag}`, create: true });
    try {
      await copyLog(S.store, js);
      const start = await snapshot(js);
      expect(start.lastPosition).toBe(before.lastPosition);
      expect(start.revisions).toEqual(before.revisions);

      const entry = await auditOrder(js, ids.entry1);
      expect(entry).toEqual(await auditOrder(S.store, ids.entry1));
      expect(entry.problems).toEqual([]);
      const close = await auditOrder(js, ids.close2);
      expect(close).toEqual(await auditOrder(S.store, ids.close2));
      const models = await rebuildReadModels(js);
      expect(models).toEqual(await rebuildReadModels(S.store));
      expect(models.ok).toBe(true);
      expect(await auditDay(js, '2025-11-20')).toEqual(await auditDay(S.store, '2025-11-20'));
      await expect(auditOrder(js, 'bwnope-1E')).rejects.toThrow(AuditNotFoundError);

      const end = await snapshot(js);
      expect(end).toEqual(start);
    } finally {
      await js.close();
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(streamName);
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------
// Bad messages in the log: reported once, left out, and everything else still answered.
// ---------------------------------------------------------------------------------------

describe('bad messages in the log (an isolated JetStream bus; the bad ones published with the nats client)', () => {
  const bus = isolatedBus('badlog');
  let nc: NatsConnection;
  let js: JetStreamEventStore;
  const meta = (eventId: string, tsEvent: number) => eventMetadata({ eventId, tsEvent, tsInit: WALL, correlationId: 'bad-log-spec' });
  const subject = (streamId: string) => subjectForStream(bus.esPrefix, streamId);
  /** Publish straight into the log's JetStream stream, past the store's checks; returns the position. */
  async function publish(streamId: string, body: string, revision: number | null, type: string | null): Promise<number> {
    const h = headers();
    if (revision !== null) {
      h.set(EventHeaders.streamId, streamId);
      h.set(EventHeaders.revision, String(revision));
      if (type) h.set(EventHeaders.eventType, type);
    }
    const ack = await nc.jetstream().publish(subject(streamId), new TextEncoder().encode(body), revision === null ? undefined : { headers: h });
    return ack.seq;
  }
  const nextRevision = async (streamId: string) => ((await js.streamRevision(streamId)) ?? -1) + 1;
  /** What was published, by case. */
  const bad: Record<'notJson' | 'unknownType' | 'badData' | 'huge' | 'junkOnly', { streamId: string; position: number; revision: number | null }> = {} as never;
  let clean: { models: ReadModels; entry1: Awaited<ReturnType<typeof auditOrder>>; close1: Awaited<ReturnType<typeof auditOrder>>; day: Awaited<ReturnType<typeof auditDay>>; dayA: Awaited<ReturnType<typeof auditDay>> };

  beforeAll(async () => {
    nc = await openIsolatedBus(bus, 'audit-bad-log-spec');
    js = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    await copyLog(S.store, js);
    clean = {
      models: await rebuildReadModels(js),
      entry1: await auditOrder(js, ids.entry1),
      close1: await auditOrder(js, ids.close1),
      day: await auditDay(js, '2025-11-20'),
      dayA: await auditDay(js, '2025-11-20', { accountId: A }),
    };
    // 1. Not JSON, no headers, on the entry order's subject (es.order.<id>): unreadable, no revision.
    const entry = Streams.order(ids.entry1);
    bad.notJson = { streamId: entry, revision: null, position: await publish(entry, '{"type": "OrderFilled", "data": {', null, null) };
    // 2. An event type the catalogue does not know, with valid headers, on the close order's stream.
    const close = Streams.order(ids.close1);
    const r2 = await nextRevision(close);
    bad.unknownType = {
      streamId: close, revision: r2,
      position: await publish(close, JSON.stringify({ type: 'OrderTeleported', data: { clientOrderId: ids.close1 }, metadata: meta('bad-unknown', at('2025-11-20T16:10:00Z')) }), r2, 'OrderTeleported'),
    };
    // 3. A known type whose data fails its schema, on the second account's stream.
    const accountB = Streams.account(B);
    const r3 = await nextRevision(accountB);
    bad.badData = {
      streamId: accountB, revision: r3,
      position: await publish(accountB, JSON.stringify({ type: 'TradingPaused', data: { accountId: B, reason: 42 }, metadata: meta('bad-data', at('2025-11-20T17:00:00Z')) }), r3, 'TradingPaused'),
    };
    // 4. A 1 MiB event (less 1 KiB for the headers: nats-server's max_payload is 1 MiB) on the first position stream, market time the next day.
    const r4 = await nextRevision(ids.position1);
    const body = JSON.stringify({ type: 'FundingApplied', data: { accountId: A, padding: '' }, metadata: meta('bad-huge', at('2025-11-21T00:00:00Z')) });
    const huge = body.replace('"padding":""', `"padding":"${'x'.repeat(1024 * 1024 - 1024 - body.length)}"`);
    expect(Buffer.byteLength(huge)).toBe(1024 * 1024 - 1024);
    bad.huge = { streamId: ids.position1, revision: r4, position: await publish(ids.position1, huge, r4, 'FundingApplied') };
    // 5. An order stream holding nothing but an unreadable message.
    bad.junkOnly = { streamId: Streams.order('bwjunk-1E'), revision: 0, position: await publish(Streams.order('bwjunk-1E'), 'not json at all', 0, 'OrderInitialized') };
  }, 120_000);

  afterAll(async () => {
    if (!nc) return;
    await js?.close();
    await dropIsolatedBus(nc, bus);
    await nc.close();
  }, 30_000);

  it('replay --verify: each bad message is one schema failure (stream, revision, position, type, reason); every account is rebuilt as before', async () => {
    // Published past the store's checks: only a verifying replay sees the schema and size of each.
    const m = await rebuildReadModels(js, { verify: true });
    expect(failed(m)).toEqual(['schema']);
    expect(check(m, 'schema').failures).toEqual([
      { accountId: A, subject: `${bad.notJson.streamId}#—`, position: bad.notJson.position, eventType: null, detail: expect.stringMatching(/^unreadable: no headers$/) },
      { accountId: A, subject: `${bad.unknownType.streamId}#${bad.unknownType.revision}`, position: bad.unknownType.position, eventType: 'OrderTeleported', detail: 'unknown event type "OrderTeleported"' },
      { accountId: B, subject: `${bad.badData.streamId}#${bad.badData.revision}`, position: bad.badData.position, eventType: 'TradingPaused', detail: expect.stringMatching(/^TradingPaused v1: .*reason/) },
      { accountId: A, subject: `${bad.huge.streamId}#${bad.huge.revision}`, position: bad.huge.position, eventType: 'FundingApplied', detail: expect.stringMatching(/^the event is 10\d{5} bytes, more than the 65536 the store writes \(MAX_EVENT_BYTES\)$/) },
      { accountId: null, subject: `${bad.junkOnly.streamId}#0`, position: bad.junkOnly.position, eventType: 'OrderInitialized', detail: expect.stringMatching(/^unreadable: body is not JSON/) },
    ].sort((a, b) => a.position - b.position));
    expect(m.accounts).toEqual(clean.models.accounts);
    // With --account, the other account's bad message and the unattributable one are not its business.
    const onlyB = await rebuildReadModels(js, { accountId: B, verify: true });
    expect(check(onlyB, 'schema').failures.map((f) => f.position)).toEqual([bad.badData.position]);
  }, 60_000);

  it('replay trusting the log: unreadable messages, unknown types and events a fold cannot use are still reported, never skipped in silence', async () => {
    const m = await rebuildReadModels(js);
    expect(m.verified).toBe(false);
    expect(failed(m)).toEqual(['schema']);
    // The huge FundingApplied has no amount: the fold cannot use it. The TradingPaused whose reason
    // is a number is of a known type and version: trusted (--verify finds it, see above).
    expect(check(m, 'schema').failures.map((f) => [f.position, f.eventType, f.detail])).toEqual(
      [
        [bad.notJson.position, null, 'unreadable: no headers'],
        [bad.unknownType.position, 'OrderTeleported', 'unknown event type "OrderTeleported"'],
        [bad.huge.position, 'FundingApplied', expect.stringMatching(/^cannot be folded: /)],
        [bad.junkOnly.position, 'OrderInitialized', expect.stringMatching(/^unreadable: body is not JSON/)],
      ].sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    expect(m.accounts.find((a) => a.accountId === A)).toEqual(clean.models.accounts.find((a) => a.accountId === A));
  }, 60_000);

  it('audit order: the bad messages met on the chain are listed once under skipped; the rest of the chain is as before', async () => {
    const entry = await auditOrder(js, ids.entry1);
    // Its own stream's unreadable message, and the 1 MiB one of the position its fill opened.
    expect(entry.skipped).toEqual([
      { kind: 'UNREADABLE', streamId: bad.notJson.streamId, revision: null, position: bad.notJson.position, type: null, tsEvent: null, reason: 'no headers' },
      { kind: 'INVALID', streamId: ids.position1, revision: bad.huge.revision, position: bad.huge.position, type: 'FundingApplied', tsEvent: at('2025-11-21T00:00:00Z'), reason: 'the event is 1047552 bytes, more than the 65536 the store writes (MAX_EVENT_BYTES)' },
    ]);
    expect({ ...entry, skipped: [] }).toEqual(clean.entry1);
    // The take-profit close reads its own stream, the entry's and the position's: three bad messages, each once.
    const close = await auditOrder(js, ids.close1);
    expect(close.skipped.map((x) => [x.kind, x.position, x.type])).toEqual([
      ['UNREADABLE', bad.notJson.position, null],
      ['INVALID', bad.unknownType.position, 'OrderTeleported'],
      ['INVALID', bad.huge.position, 'FundingApplied'],
    ]);
    expect({ ...close, skipped: [] }).toEqual(clean.close1);
    expect(close.problems).toEqual([]);
    const text = formatOrderAudit(close);
    expect(text.match(/^ {2}! /gm)).toHaveLength(3);
    expect(text).toContain(`  ! ${bad.unknownType.streamId}#${bad.unknownType.revision} (position ${bad.unknownType.position}, OrderTeleported): invalid: unknown event type "OrderTeleported"`);
    // An order whose stream holds no valid event cannot be audited: not found, naming what is there.
    await expect(auditOrder(js, 'bwjunk-1E')).rejects.toThrow(/^no order bwjunk-1E to audit: stream order-bwjunk-1E holds only 1 message\(s\) that are not valid events: order-bwjunk-1E#0 \(position \d+, OrderInitialized\): unreadable: body is not JSON/);
  }, 60_000);

  it('audit day: the bad messages of the day (and every unreadable one) are listed; the day is as before', async () => {
    const day = await auditDay(js, '2025-11-20');
    expect(day.skipped.map((x) => x.position)).toEqual([bad.notJson.position, bad.unknownType.position, bad.badData.position, bad.junkOnly.position]);
    expect({ ...day, skipped: [] }).toEqual(clean.day);
    const dayA = await auditDay(js, '2025-11-20', { accountId: A });
    expect(dayA.skipped.map((x) => x.position)).toEqual([bad.notJson.position, bad.unknownType.position, bad.junkOnly.position]);
    expect({ ...dayA, skipped: [] }).toEqual(clean.dayA);
    const next = await auditDay(js, '2025-11-21', { accountId: A });
    expect(next.skipped.map((x) => x.position)).toEqual([bad.notJson.position, bad.huge.position, bad.junkOnly.position]);
  }, 60_000);

  it('the commands: audit exits 0 and reports each bad message once; replay reports them, prints every account and exits 1 (a failed check)', async () => {
    const order = await bulwark(js, ['audit', 'order', ids.close1]);
    expect(order.code).toBe(0);
    expect(order.out).toContain('Skipped: 3 stored message(s) that are not valid events, left out of the audit');
    expect(order.out.split(`(position ${bad.huge.position}, FundingApplied)`)).toHaveLength(2);
    const day = await bulwark(js, ['audit', 'day', '2025-11-20', '--json']);
    expect(day.code).toBe(0);
    expect((JSON.parse(day.out) as { skipped: unknown[] }).skipped).toHaveLength(4);
    const junk = await bulwark(js, ['audit', 'order', 'bwjunk-1E']);
    expect([junk.code, junk.error]).toEqual([1, expect.any(AuditNotFoundError)]);

    const replay = await bulwark(js, ['replay', '--verify'], async () => null);
    expect(replay.code).toBe(1);
    expect(replay.error).toBeInstanceOf(ReplayMismatchError);
    expect((replay.error as ReplayMismatchError).failedChecks).toEqual(['schema']);
    expect(replay.out).toContain(`Account ${A}`);
    expect(replay.out).toContain(`Account ${B}`);
    const lines = replay.out.split('\n').filter((l) => l.startsWith('  ✗ schema '));
    expect(lines).toHaveLength(5);
    expect(lines).toContain(`  ✗ schema ${bad.notJson.streamId}#— (position ${bad.notJson.position}, type unknown): unreadable: no headers`);
    expect(replay.out).toContain('  mode: verify (every event re-checked');
    // The same messages reported once each, not again as revision gaps.
    expect(replay.out).toMatch(/✓ +revisions/);
  }, 60_000);

  it('an account that is not in the log: replay --account and audit day --account exit 2 with one line', async () => {
    const r = await bulwark(js, ['replay', '--account', 'nobody']);
    expect(r.code).toBe(2);
    expect(r.error).toBeInstanceOf(InputError);
    expect((r.error as Error).message).toBe('account nobody is not in the event log (no stream account-nobody): check the id (bulwark replay lists the accounts)');
    const d = await bulwark(js, ['audit', 'day', '2025-11-20', '--account', 'nobody']);
    expect([d.code, (d.error as Error).message]).toEqual([2, (r.error as Error).message]);
    expect(exitOf(r.error)).toEqual({ code: 2, line: `bulwark: ${(r.error as Error).message}` });
  }, 60_000);
});
