import {
  type ClockInterest,
  type DomainEvent,
  type EventData,
  type MarketTick,
  type RecordedEvent,
  Streams,
  event,
} from '@bulwark/contracts';
import { type OrderCommand, type OrderState, type PaperFill, type Rules, dec, orderDecider, rulesFromContract, str } from '@bulwark/domain';
import { PaperVenueAdapter, type SimulatedVenue } from '@bulwark/venues';
import { instrumentFiles, loadRulesFromFiles, resolveDataDir } from '@bulwark/market-data';
import { AggregateRepository, type Causation, EventAppender, EVENT_STORE, causedBy } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { PipelineService } from './ports';

const VENUE = 'binance-usdm' as const;
const SYMBOLS = ['BTCUSDT'];

/**
 * Execution: drives the paper venue (the default venue) for approved entries and
 * triggered stops, records every order transition on the order's stream, and the venue
 * account settings (funding, one-way mode, isolated margin, leverage) on the venue stream.
 * Decisions about order state live in the domain's order decider; matching and margin in
 * the domain's PaperVenue.
 */
@Injectable()
export class ExecutionService implements OnModuleInit, PipelineService {
  readonly name = 'execution' as const;
  readonly categories = ['account', 'stop'] as const;
  private readonly log = new Logger('execution');
  private readonly orders: AggregateRepository<OrderState>;
  private readonly venueRevision = new Map<string, number>();
  private venue!: SimulatedVenue;
  private readonly rules = new Map<string, Rules>();
  /** The kill switch per account, from risk's TradingStateChanged events. */
  private readonly tradingState = new Map<string, 'ACTIVE' | 'REDUCING' | 'HALTED'>();

  constructor(
    readonly appender: EventAppender,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {
    this.orders = new AggregateRepository(appender, {
      initialState: orderDecider.initialState,
      evolve: (s, e) => orderDecider.evolve(s, e as never),
    });
  }

  /** Idle, it still watches each bar's close so its last price (for margin checks of new orders) is current. */
  interest(): ClockInterest {
    return this.venue && !this.venue.isIdle() ? 'STEP' : 'CLOSE';
  }

  async onEvent(e: RecordedEvent): Promise<void> {
    switch (e.type) {
      case 'AccountOpened':
        return this.configureAccount(e as RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>);
      case 'EntryApproved':
        return this.submitEntry(e as RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>);
      case 'TradingStateChanged':
        return this.tradingStateChanged(e.streamId.slice('account-'.length), (e.data as EventData<'TradingStateChanged'>).state);
      case 'StopTriggered':
        return this.submitProtectiveClose(e as RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>);
    }
  }

  /** Load the venue's instrument rules and record them when they differ from the last recorded. */
  async onModuleInit(): Promise<void> {
    const dataDir = resolveDataDir();
    for (const symbol of SYMBOLS) {
      const files = instrumentFiles(dataDir, VENUE, symbol);
      const contract = loadRulesFromFiles({ venue: VENUE, exchangeInfoFile: files.exchangeInfo, leverageBracketsFile: files.leverageBrackets });
      const streamId = Streams.rules(VENUE, symbol);
      const existing = await this.store.readStream(streamId);
      const last = existing[existing.length - 1];
      const recorded = { ...contract, source: `${files.exchangeInfo} + ${files.leverageBrackets}` };
      if (!last || JSON.stringify(last.data) !== JSON.stringify(recorded)) {
        await this.appender.append(streamId, [event('InstrumentRulesRecorded', recorded)], last ? last.revision : 'no_stream', {
          tsEvent: Date.now(),
          correlationId: `rules-${VENUE}-${symbol}`,
          causationId: `rules-${VENUE}-${symbol}`,
        });
      }
      this.rules.set(symbol, rulesFromContract(contract));
    }
    this.venue = new PaperVenueAdapter(VENUE, this.rules);
  }

  private async appendVenue(accountId: string, events: DomainEvent[], c: Causation): Promise<void> {
    const streamId = Streams.venue(accountId, VENUE);
    if (!this.venueRevision.has(streamId)) this.venueRevision.set(streamId, (await this.store.streamRevision(streamId)) ?? -1);
    const rev = this.venueRevision.get(streamId)!;
    const r = await this.appender.append(streamId, events, rev < 0 ? 'no_stream' : rev, c);
    if (r) this.venueRevision.set(streamId, r.result.nextExpectedRevision);
  }

  /** Fund the paper account and set one-way mode, isolated margin and leverage before any order. */
  async configureAccount(e: RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>): Promise<void> {
    const cfg = e.data;
    if (this.venue.hasAccount(cfg.accountId)) return; // redelivery
    const events: DomainEvent[] = [];
    this.venue.deposit(cfg.accountId, dec(cfg.capital));
    events.push(event('VenueAccountFunded', { accountId: cfg.accountId, asset: 'USDT', amount: cfg.capital }));
    const mode = await this.venue.setOneWayMode(cfg.accountId);
    if (mode.ok) events.push(event('PositionModeSet', { mode: 'ONE_WAY' }));
    else throw new Error(`venue refused one-way mode for ${cfg.accountId}: ${mode.error.code} ${mode.error.message}`);
    const margin = await this.venue.setIsolatedMargin(cfg.accountId, cfg.symbol);
    if (margin.ok) events.push(event('MarginModeSet', { symbol: cfg.symbol, marginMode: 'ISOLATED' }));
    else throw new Error(`venue refused isolated margin for ${cfg.accountId}: ${margin.error.code} ${margin.error.message}`);
    const lev = await this.venue.setLeverage(cfg.accountId, cfg.symbol, cfg.leverage);
    if (lev.ok) events.push(event('LeverageSet', { symbol: cfg.symbol, leverage: lev.value.leverage, maxNotional: str(lev.value.maxNotional) }));
    else this.log.warn(`leverage ${cfg.leverage} refused for ${cfg.accountId}: ${lev.error.message}`);
    await this.appendVenue(cfg.accountId, events, causedBy(e));
  }

  /** Run order commands in sequence on one order stream and append what they decide, in one append. */
  private async orderCommands(clientOrderId: string, commands: OrderCommand[], c: Causation): Promise<OrderState> {
    const { state } = await this.orders.handle(
      Streams.order(clientOrderId),
      (s0) => {
        let s = s0;
        const out: DomainEvent[] = [];
        for (const cmd of commands) {
          const r = orderDecider.decide(cmd, s);
          if (!r.ok) return r;
          for (const ev of r.value) {
            out.push(ev);
            s = orderDecider.evolve(s, ev as never);
          }
        }
        return { ok: true as const, value: out };
      },
      c,
    );
    return state;
  }

  async submitEntry(e: RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>): Promise<void> {
    const a = e.data;
    const c = causedBy(e);
    const existing = await this.orders.load(Streams.order(a.clientOrderId));
    if (existing.state.status !== 'NONE') return; // redelivery: the order exists already
    if (!this.venue.hasAccount(a.accountId)) throw new Error(`venue account ${a.accountId} is not configured`);
    const lev = await this.venue.setLeverage(a.accountId, a.symbol, a.leverage);
    if (lev.ok) await this.appendVenue(a.accountId, [event('LeverageSet', { symbol: a.symbol, leverage: a.leverage, maxNotional: str(lev.value.maxNotional) })], c);
    await this.place(
      {
        clientOrderId: a.clientOrderId, accountId: a.accountId, venue: a.venue, symbol: a.symbol, side: a.side, type: 'MARKET',
        quantity: a.quantity, price: null, timeInForce: null, reduceOnly: false, purpose: 'ENTRY', leverage: a.leverage,
        sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: null,
      },
      c,
      lev.ok ? null : lev.error,
    );
  }

  async submitProtectiveClose(e: RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>): Promise<void> {
    const t = e.data;
    const stop = await this.store.readStream(e.streamId, { maxCount: 1 });
    const placed = stop[0]?.data as EventData<'StopPlaced'> | undefined;
    if (!placed) throw new Error(`stop stream ${e.streamId} has no StopPlaced`);
    const existing = await this.orders.load(Streams.order(t.closeClientOrderId));
    if (existing.state.status !== 'NONE') return;
    await this.place(
      {
        clientOrderId: t.closeClientOrderId, accountId: placed.accountId, venue: placed.venue, symbol: placed.symbol, side: t.side, type: 'MARKET',
        quantity: t.quantity, price: null, timeInForce: null, reduceOnly: true,
        purpose: t.kind === 'STOP_LOSS' || t.kind === 'TAKE_PROFIT' ? t.kind : 'CLOSE', leverage: null,
        sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: t.triggerPrice,
      },
      causedBy(e),
      null,
    );
  }

  tradingStateChanged(accountId: string, state: 'ACTIVE' | 'REDUCING' | 'HALTED'): void {
    this.tradingState.set(accountId, state);
  }

  /** The kill switch: HALTED refuses every new order, REDUCING every order that is not reduce-only. */
  private killSwitchRefusal(o: EventData<'OrderInitialized'>): { code: string; message: string } | null {
    const state = this.tradingState.get(o.accountId) ?? 'ACTIVE';
    if (state === 'HALTED') return { code: 'TRADING_HALTED', message: 'trading is halted: no new orders' };
    if (state === 'REDUCING' && !o.reduceOnly) return { code: 'TRADING_REDUCING', message: 'trading is reducing: only reduce-only orders' };
    return null;
  }

  /** Record the order, send it to the venue, record the venue's answer. */
  private async place(o: EventData<'OrderInitialized'>, c: Causation, refused: { code: string; message: string } | null): Promise<void> {
    const refusal = refused ?? this.killSwitchRefusal(o);
    if (refusal) {
      await this.orderCommands(o.clientOrderId, [{ kind: 'InitializeOrder', data: o }, { kind: 'DenyOrder', code: refusal.code, message: refusal.message }], c);
      return;
    }
    await this.orderCommands(o.clientOrderId, [{ kind: 'InitializeOrder', data: o }, { kind: 'SubmitOrder' }], c);
    const r = await this.venue.placeOrder(o.accountId, {
      clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, quantity: dec(o.quantity),
      price: o.price === null ? null : dec(o.price), reduceOnly: o.reduceOnly, purpose: o.purpose,
      triggerPrice: o.triggerPrice === null ? null : dec(o.triggerPrice),
    });
    await this.orderCommands(
      o.clientOrderId,
      [r.ok ? { kind: 'RecordAccepted', venueOrderId: r.value.venueOrderId } : { kind: 'RecordRejected', code: r.error.code, message: r.error.message }],
      c,
    );
  }

  private fillData(f: PaperFill): EventData<'OrderFilled'> {
    return {
      clientOrderId: f.clientOrderId, venueOrderId: f.venueOrderId, tradeId: f.tradeId, accountId: f.accountId, venue: VENUE, symbol: f.symbol,
      side: f.side, purpose: f.purpose, quantity: str(f.quantity), price: str(f.price), quoteQuantity: str(f.quantity.mul(f.price)),
      fee: str(f.fee), feeAsset: 'USDT', liquidity: f.liquidity, filledQuantity: str(f.quantity), leavesQuantity: '0', leverage: f.leverage,
      liquidationFee: str(f.liquidationFee),
    };
  }

  /** One step of the market path: the paper venue matches and the results are recorded. */
  async onTick(tick: MarketTick): Promise<void> {
    const candleId = `candle-${tick.venue}-${tick.symbol}-${tick.candleOpenTime}`;
    const c: Causation = { tsEvent: tick.ts, correlationId: candleId, causationId: `tick-${tick.runId}-${tick.seq}` };
    if (tick.venue === VENUE) {
      const out = this.venue.advance(tick.symbol, tick, tick.funding);
      for (const ev of out) {
        if (ev.kind === 'fill') {
          const f = ev.fill;
          const cmds: OrderCommand[] = [];
          if (f.venueGenerated) {
            cmds.push(
              {
                kind: 'InitializeOrder',
                data: {
                  clientOrderId: f.clientOrderId, accountId: f.accountId, venue: VENUE, symbol: f.symbol, side: f.side, type: 'MARKET',
                  quantity: str(f.quantity), price: null, timeInForce: null, reduceOnly: true, purpose: 'LIQUIDATION', leverage: f.leverage,
                  sourceStreamId: Streams.venue(f.accountId, VENUE), sourceEventId: `liquidation-${f.venueOrderId}`, triggerPrice: str(f.price),
                },
              },
              { kind: 'SubmitOrder' },
              { kind: 'RecordAccepted', venueOrderId: f.venueOrderId },
            );
          }
          cmds.push({ kind: 'RecordFill', fill: this.fillData(f) });
          await this.orderCommands(f.clientOrderId, cmds, c);
        } else if (ev.kind === 'rejected') {
          await this.orderCommands(ev.clientOrderId, [{ kind: 'RecordExpired' }], c);
        }
      }
    }
  }
}
