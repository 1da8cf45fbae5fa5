import {
  type AccountConfig,
  type ClockInterest,
  type DomainEvent,
  type EventData,
  type MarketTick,
  type RecordedEvent,
  Streams,
  event,
} from '@bulwark/contracts';
import {
  type D,
  type OrderCommand,
  type OrderState,
  type PaperFill,
  type PaperVenueEvent,
  type PositionState,
  foldFillAcrossLifecycles,
  positionInitialState,
  type ReconDifference,
  type ReconProtective,
  type ReconView,
  type Rules,
  TERMINAL_ORDER_STATUSES,
  ZERO,
  ACCOUNT_DEFAULTS,
  clientOrderIdFor,
  dec,
  emergencyStopPrice,
  orderDecider,
  reconcile,
  parseBinanceUsdmRules,
  rulesFromContract,
  str,
} from '@bulwark/domain';
import { type BinanceUsdmVenue, type DrivenVenue, type LiveVenuePort, type VenueAlert, type VenuePort, classifyVenueError } from '@bulwark/venues';
import { instrumentFiles, loadRulesFromFiles, resolveDataDir } from '@bulwark/market-data';
import { AggregateRepository, type Causation, EventAppender, EVENT_STORE, Quarantine, causedBy } from '@bulwark/messaging';
import type { EventStore } from '@bulwark/event-store';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit, Optional } from '@nestjs/common';
import { restorePaperVenueFromLog } from './paper-restore';
import type { PipelineService } from './ports';
import { type Rebuildable, rebuildFromLog, rebuildStartFromEnv } from './rebuild';
import { type ExecutionVenue, type OpenedVenue, type VenueFactory, EXECUTION_VENUE, venueFromEnv } from './venue-factory';

const VENUE = 'binance-usdm' as const;
const SYMBOLS = ['BTCUSDT'];

/** Order statuses in which the venue may still act on an order. */
const OPEN_STATUSES = new Set(['SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'PENDING_CANCEL', 'UNKNOWN']);

const isDriven = (v: VenuePort): v is DrivenVenue & VenuePort => typeof (v as DrivenVenue).advance === 'function';
const hasProtection = (v: VenuePort): v is VenuePort & Pick<LiveVenuePort, 'placeProtectiveOrder' | 'cancelProtectiveOrder'> =>
  typeof (v as LiveVenuePort).placeProtectiveOrder === 'function';
const isLive = (v: VenuePort): v is LiveVenuePort => hasProtection(v) && typeof (v as LiveVenuePort).positions === 'function';

/** An exchange stop or take-profit Bulwark placed, while it may still act. */
interface Protective {
  clientOrderId: string;
  accountId: string;
  symbol: string;
  kind: 'STOP_LOSS' | 'TAKE_PROFIT';
  side: 'BUY' | 'SELL';
  triggerPrice: D;
  quantity: D;
  /** The stop stream whose levels it carries. */
  stopStreamId: string;
  accepted: boolean;
}

/**
 * Execution: drives the venue (the paper venue by default; the local Binance-compatible
 * venue, Binance's demo environment or a live account through ccxt when configured, see
 * venue-config.ts) for approved entries and triggered stops, records every order transition
 * on the order's stream, and the venue account settings (funding, one-way mode, isolated
 * margin, leverage), reconciliations and venue alerts on the venue stream.
 *
 * Protection per account (`AccountConfig.protection`): INTERNAL (default) closes at market
 * when the stop-monitor sees a level crossed; EXCHANGE places reduce-only STOP_MARKET /
 * TAKE_PROFIT_MARKET algo orders at the venue when the stop is placed and lets them close the
 * position (the internal close is the fallback when the exchange stop is not accepted);
 * BOTH closes internally first with the exchange stop as the backstop. When a position goes
 * flat, its remaining exchange stops are cancelled.
 *
 * Decisions about order state live in the domain's order decider; matching and margin in the
 * venue; what to do about a reconciliation difference in the domain's `reconcile`.
 */
@Injectable()
export class ExecutionService implements OnModuleInit, OnModuleDestroy, PipelineService {
  readonly name = 'execution' as const;
  readonly categories = ['account', 'stop'] as const;
  private readonly log = new Logger('execution');
  private readonly orders: AggregateRepository<OrderState>;
  readonly quarantine: Quarantine;
  private readonly venueRevision = new Map<string, number>();
  private venue!: ExecutionVenue;
  private readonly rules = new Map<string, Rules>();
  /** The kill switch per account, from risk's TradingStateChanged events. */
  private readonly tradingState = new Map<string, 'ACTIVE' | 'REDUCING' | 'HALTED'>();
  /** Account configurations (protection mode, risk fractions) from AccountOpened / AccountReconfigured. */
  private readonly accounts = new Map<string, AccountConfig>();
  /** Accounts whose venue settings (one-way, isolated, leverage) were applied. */
  private readonly configured = new Set<string>();
  /** Net position per `account|symbol` from the recorded fills (the position aggregate's fold, across lifecycles). */
  private readonly net = new Map<string, PositionState>();
  /** Open regular orders per client order id (the log's view, for reconciliation and the kill switch). */
  private readonly openOrders = new Map<string, { accountId: string; symbol: string; status: string; reduceOnly: boolean }>();
  /** Exchange stops per client order id. */
  private readonly protective = new Map<string, Protective>();
  private reconcileTimer: NodeJS.Timeout | null = null;
  /** Serialises what the venue pushes (user-data stream) with everything else this service records. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly appender: EventAppender,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Optional() @Inject(EXECUTION_VENUE) private readonly venueFactory?: VenueFactory,
  ) {
    this.quarantine = new Quarantine(this.name, appender, (m) => this.log.error(m));
    this.orders = new AggregateRepository(
      appender,
      { initialState: orderDecider.initialState, evolve: (s, e) => orderDecider.evolve(s, e as never) },
      (e, reason) => this.quarantine.report(Quarantine.of(e), reason).then(() => undefined),
    );
  }

  /** Idle, it still watches each bar's close so its last price (for margin checks of new orders) is current. */
  interest(): ClockInterest {
    return this.venue && isDriven(this.venue) && !this.venue.isIdle() ? 'STEP' : 'CLOSE';
  }

  async onEvent(e: RecordedEvent): Promise<void> {
    switch (e.type) {
      case 'AccountOpened':
        this.accounts.set((e.data as AccountConfig).accountId, e.data as AccountConfig);
        return this.configureAccount(e as RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>);
      case 'AccountReconfigured':
        this.accounts.set((e.data as AccountConfig).accountId, e.data as AccountConfig);
        return;
      case 'EntryApproved':
        return this.submitEntry(e as RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>);
      case 'TradingStateChanged':
        return this.tradingStateChanged(e as RecordedEvent<'TradingStateChanged', EventData<'TradingStateChanged'>>);
      case 'FlattenRequested':
        return this.flatten(e as RecordedEvent<'FlattenRequested', EventData<'FlattenRequested'>>);
      case 'PositionCloseRequested':
        return this.closePositionCommanded(e as RecordedEvent<'PositionCloseRequested', EventData<'PositionCloseRequested'>>);
      case 'OrderCancelCommanded':
        return this.cancelOrderCommanded(e as RecordedEvent<'OrderCancelCommanded', EventData<'OrderCancelCommanded'>>);
      case 'StopPlaced':
        return this.placeExchangeStops(e as RecordedEvent<'StopPlaced', EventData<'StopPlaced'>>);
      case 'StopResized':
        return this.resizeExchangeStops(e as RecordedEvent<'StopResized', EventData<'StopResized'>>);
      case 'StopTriggered':
        return this.submitProtectiveClose(e as RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>);
      case 'ProtectionFailed':
        return this.protectionFailed(e as RecordedEvent<'ProtectionFailed', EventData<'ProtectionFailed'>>);
    }
  }

  /**
   * Load the instrument rules and record them when they differ from the last recorded; open
   * the venue; for a live venue rebuild this service's view from the log and reconcile it
   * with the venue (then every `reconcileSeconds`).
   */
  async onModuleInit(): Promise<void> {
    const alert = (accountId: string | undefined) => (a: VenueAlert) => {
      const data = a.kind === 'IP_BANNED' ? { kind: 'IP_BANNED' as const, detail: a.message, until: a.until } : { kind: 'USER_STREAM_DOWN' as const, detail: a.message, until: null };
      this.log.error(`venue alert ${data.kind}: ${data.detail}`);
      if (accountId) void this.serial(() => this.appendVenue(accountId, [event('VenueAlert', data)], { tsEvent: Date.now(), correlationId: `venue-alert-${accountId}`, causationId: `venue-alert-${Date.now()}` }));
    };
    let opened: OpenedVenue | null = null;
    const onAlert = (a: VenueAlert) => alert(opened?.accountId)(a);
    // The venue gets the rules map now and reads it when it trades; it is filled below.
    opened = this.venueFactory ? await this.venueFactory(this.rules, onAlert) : await venueFromEnv(process.env, this.rules, onAlert);
    this.venue = opened.venue;
    const fromVenue = (this.venue as Partial<BinanceUsdmVenue>).loadRules?.bind(this.venue);
    const dataDir = fromVenue ? null : resolveDataDir();
    for (const symbol of SYMBOLS) {
      let contract: ReturnType<typeof parseBinanceUsdmRules>;
      let source: string;
      if (fromVenue) {
        // A ccxt venue: the exchange's own filters and the account's leverage brackets.
        const raw = await fromVenue(symbol);
        contract = parseBinanceUsdmRules({ venue: VENUE, exchangeInfoSymbol: raw.exchangeInfoSymbol, leverageBrackets: raw.leverageBrackets });
        source = `${VENUE} GET /fapi/v1/exchangeInfo + GET /fapi/v1/leverageBracket (ccxt)`;
      } else {
        const files = instrumentFiles(dataDir!, VENUE, symbol);
        contract = loadRulesFromFiles({ venue: VENUE, exchangeInfoFile: files.exchangeInfo, leverageBracketsFile: files.leverageBrackets });
        source = `${files.exchangeInfo} + ${files.leverageBrackets}`;
      }
      const streamId = Streams.rules(VENUE, symbol);
      const existing = await this.store.readStream(streamId);
      const last = existing[existing.length - 1];
      const recorded = { ...contract, source };
      if (!last || JSON.stringify(last.data) !== JSON.stringify(recorded)) {
        await this.appender.append(streamId, [event('InstrumentRulesRecorded', recorded)], last ? last.revision : 'no_stream', {
          tsEvent: Date.now(),
          correlationId: `rules-${VENUE}-${symbol}`,
          causationId: `rules-${VENUE}-${symbol}`,
        });
      }
      this.rules.set(symbol, rulesFromContract(contract));
    }
    // The paper exchange lives in this process: put back what the log says it held (before the
    // rebuild marks configured the accounts the driven venue holds).
    const paper = await restorePaperVenueFromLog(this.store, this.venue, this.quarantine);
    if (paper) this.log.log(`paper venue restored from ${paper.events} events in ${paper.ms} ms: ${paper.accounts} accounts, ${paper.quarantined} quarantined, last step ${paper.lastStep ?? 'none'}`);
    await this.rebuildFromLog();
    if (isLive(this.venue)) {
      await this.reconcileAll('STARTUP');
      if (opened.reconcileSeconds > 0) {
        this.reconcileTimer = setInterval(() => void this.serial(() => this.reconcileAll('PERIODIC')).catch((e) => this.log.error(`reconciliation failed: ${String(e)}`)), opened.reconcileSeconds * 1000);
        this.reconcileTimer.unref();
      }
    }
    if (opened.subscribe) opened.subscribe((events, ts) => void this.serial(() => this.recordVenueEvents(events, { tsEvent: ts, correlationId: `venue-${VENUE}`, causationId: `user-data-${ts}` })));
  }

  async onModuleDestroy(): Promise<void> {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    await this.chain.catch(() => undefined);
    await (this.venue as Partial<LiveVenuePort> | undefined)?.close?.();
  }

  /** Run `fn` after everything queued before it (venue pushes and timers share the order streams). */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async appendVenue(accountId: string, events: DomainEvent[], c: Causation): Promise<void> {
    const streamId = Streams.venue(accountId, VENUE);
    if (!this.venueRevision.has(streamId)) this.venueRevision.set(streamId, (await this.store.streamRevision(streamId)) ?? -1);
    const rev = this.venueRevision.get(streamId)!;
    const r = await this.appender.append(streamId, events, rev < 0 ? 'no_stream' : rev, c);
    if (r) this.venueRevision.set(streamId, r.result.nextExpectedRevision);
  }

  /**
   * Fund the account (simulated venues), then set one-way mode, isolated margin and leverage
   * before any order. A venue that refuses one-way mode (hedge mode with open positions) or
   * isolated margin leaves the account unconfigured: its entries are denied (VENUE_NOT_CONFIGURED).
   */
  async configureAccount(e: RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>): Promise<void> {
    const cfg = e.data;
    if (this.configured.has(cfg.accountId)) return; // redelivery
    if (isDriven(this.venue) && this.venue.hasAccount(cfg.accountId)) return; // redelivery
    const events: DomainEvent[] = [];
    if (isDriven(this.venue)) {
      await this.venue.deposit(cfg.accountId, dec(cfg.capital));
      events.push(event('VenueAccountFunded', { accountId: cfg.accountId, asset: 'USDT', amount: cfg.capital }));
    }
    const refused = async (what: string, error: { code: string; message: string }) => {
      await this.appendVenue(cfg.accountId, [...events, event('VenueAlert', { kind: 'PROTECTION_FAILED', detail: `venue refused ${what}: ${error.code} ${error.message}; no orders for this account`, until: null })], causedBy(e));
      if (!isLive(this.venue)) throw new Error(`venue refused ${what} for ${cfg.accountId}: ${error.code} ${error.message}`);
    };
    const mode = await this.venue.setOneWayMode(cfg.accountId);
    if (mode.ok) events.push(event('PositionModeSet', { mode: 'ONE_WAY' }));
    else return refused('one-way mode', mode.error);
    const margin = await this.venue.setIsolatedMargin(cfg.accountId, cfg.symbol);
    if (margin.ok) events.push(event('MarginModeSet', { symbol: cfg.symbol, marginMode: 'ISOLATED' }));
    else return refused('isolated margin', margin.error);
    const lev = await this.venue.setLeverage(cfg.accountId, cfg.symbol, cfg.leverage);
    if (lev.ok) events.push(event('LeverageSet', { symbol: cfg.symbol, leverage: lev.value.leverage, maxNotional: str(lev.value.maxNotional) }));
    else this.log.warn(`leverage ${cfg.leverage} refused for ${cfg.accountId}: ${lev.error.message}`);
    await this.appendVenue(cfg.accountId, events, causedBy(e));
    this.configured.add(cfg.accountId);
  }

  /** Run order commands in sequence on one order stream and append what they decide, in one append. */
  private async orderCommands(clientOrderId: string, commands: OrderCommand[], c: Causation): Promise<OrderState> {
    const { result, state } = await this.orders.handle(
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
    // A refused transition is not an error of the caller (e.g. a fill reported twice), but it is worth seeing.
    if (!result.ok) this.log.warn(`order ${clientOrderId}: ${commands.map((x) => x.kind).join(', ')} refused in ${state.status}: ${JSON.stringify((result as { error?: unknown }).error)}`);
    this.track(clientOrderId, state);
    return state;
  }

  /** Keep the log's view of open orders and exchange stops current. */
  private track(clientOrderId: string, s: OrderState): void {
    const o = s.order;
    if (!o) return;
    const open = OPEN_STATUSES.has(s.status);
    if (o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') {
      const p = this.protective.get(clientOrderId);
      if (!open) this.protective.delete(clientOrderId);
      else if (p) p.accepted = s.status === 'ACCEPTED';
      return;
    }
    if (open) this.openOrders.set(clientOrderId, { accountId: o.accountId, symbol: o.symbol, status: s.status, reduceOnly: o.reduceOnly });
    else this.openOrders.delete(clientOrderId);
  }

  async submitEntry(e: RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>): Promise<void> {
    const a = e.data;
    const c = causedBy(e);
    const existing = await this.orders.load(Streams.order(a.clientOrderId));
    if (existing.state.status !== 'NONE') return; // redelivery: the order exists already
    const unconfigured = !this.configured.has(a.accountId);
    if (unconfigured && !isLive(this.venue)) throw new Error(`venue account ${a.accountId} is not configured`);
    const lev = unconfigured ? null : await this.venue.setLeverage(a.accountId, a.symbol, a.leverage);
    if (lev?.ok) await this.appendVenue(a.accountId, [event('LeverageSet', { symbol: a.symbol, leverage: a.leverage, maxNotional: str(lev.value.maxNotional) })], c);
    await this.place(
      {
        clientOrderId: a.clientOrderId, accountId: a.accountId, venue: a.venue, symbol: a.symbol, side: a.side, type: 'MARKET',
        quantity: a.quantity, price: null, timeInForce: null, reduceOnly: false, purpose: 'ENTRY', leverage: a.leverage,
        sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: null,
      },
      c,
      lev === null ? { code: 'VENUE_NOT_CONFIGURED', message: 'the venue account is not configured (one-way mode / isolated margin refused)' } : lev.ok ? null : lev.error,
    );
  }

  async submitProtectiveClose(e: RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>): Promise<void> {
    const t = e.data;
    const placed = await this.closeTarget(e);
    const existing = await this.orders.load(Streams.order(t.closeClientOrderId));
    if (existing.state.status !== 'NONE') return;
    // A retried close (attempt > 1) always goes out: the exchange stop did not close the position either.
    if (t.attempt === 1 && (t.kind === 'STOP_LOSS' || t.kind === 'TAKE_PROFIT') && this.accounts.get(placed.accountId)?.protection === 'EXCHANGE') {
      const atVenue = [...this.protective.values()].some((p) => p.stopStreamId === e.streamId && p.kind === t.kind && p.accepted);
      if (atVenue) return; // the exchange's own stop closes it; the internal close is only the fallback
    }
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

  /** Account, venue and symbol of a triggered stop: on the event since v2, else from the stop's StopPlaced. */
  private async closeTarget(e: RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>): Promise<{ accountId: string; venue: EventData<'StopPlaced'>['venue']; symbol: string }> {
    const t = e.data;
    if (t.accountId && t.venue && t.symbol) return { accountId: t.accountId, venue: t.venue, symbol: t.symbol };
    const placed = (await this.store.readStream(e.streamId, { maxCount: 1 }))[0]?.data as EventData<'StopPlaced'> | undefined;
    if (!placed) throw new Error(`stop stream ${e.streamId} has no StopPlaced`);
    return placed;
  }

  /** A stop could not close its position after several attempts: the operator must know (retrying goes on). */
  async protectionFailed(e: RecordedEvent<'ProtectionFailed', EventData<'ProtectionFailed'>>): Promise<void> {
    const p = e.data;
    const detail = `${p.attempts} closes of ${p.positionStreamId} failed (last: ${p.lastCode} ${p.lastMessage}); the close is retried until the position is flat`;
    this.log.error(`protection failed: ${detail}`);
    await this.appendVenue(p.accountId, [event('VenueAlert', { kind: 'PROTECTION_FAILED', detail, until: null })], causedBy(e));
  }

  /**
   * EXCHANGE / BOTH protection: place the stop-loss (and take-profit) of a new position as
   * reduce-only conditional orders at the venue. The venue port reads each back after placing
   * (`LiveVenuePort.placeProtectiveOrder`): only an order the venue reports as requested is
   * accepted; a mismatch is a rejection, an order it could not read back an unknown status.
   */
  async placeExchangeStops(e: RecordedEvent<'StopPlaced', EventData<'StopPlaced'>>): Promise<void> {
    const p = e.data;
    const cfg = this.accounts.get(p.accountId);
    if (!cfg || cfg.protection === 'INTERNAL') return;
    const c = causedBy(e);
    if (!hasProtection(this.venue)) {
      await this.appendVenue(p.accountId, [event('VenueAlert', { kind: 'PROTECTION_FAILED', detail: `venue ${VENUE} takes no exchange stops here: the internal stop protects ${e.streamId}`, until: null })], c);
      return;
    }
    const seq = e.streamId.slice(e.streamId.lastIndexOf('-') + 1);
    const side = p.positionSide === 'LONG' ? 'SELL' : 'BUY';
    const levels: Array<['STOP_LOSS' | 'TAKE_PROFIT', string]> = [['STOP_LOSS', p.stopPrice]];
    if (p.takeProfitPrice) levels.push(['TAKE_PROFIT', p.takeProfitPrice]);
    for (const [kind, price] of levels) {
      const id = clientOrderIdFor(p.accountId, `p${seq}`, kind === 'STOP_LOSS' ? 'S' : 'T');
      await this.placeProtective({ clientOrderId: id, accountId: p.accountId, symbol: p.symbol, kind, side, triggerPrice: dec(price), quantity: dec(p.quantity), stopStreamId: e.streamId, accepted: false }, e.streamId, e.metadata.eventId, c);
    }
  }

  /**
   * The position grew or shrank: replace its exchange stops with ones for the new quantity.
   * The new order is placed before the old one is cancelled, so the position is never without
   * an exchange stop (both are reduce-only: should both trigger, the second finds nothing to reduce).
   */
  async resizeExchangeStops(e: RecordedEvent<'StopResized', EventData<'StopResized'>>): Promise<void> {
    if (!hasProtection(this.venue)) return;
    const seq = e.streamId.slice(e.streamId.lastIndexOf('-') + 1);
    const c = causedBy(e);
    for (const old of [...this.protective.values()]) {
      if (old.stopStreamId !== e.streamId || !old.accepted) continue;
      const quantity = dec(e.data.quantity);
      if (old.quantity.eq(quantity)) continue;
      const id = clientOrderIdFor(old.accountId, `p${seq}z${e.revision}`, old.kind === 'STOP_LOSS' ? 'S' : 'T');
      await this.placeProtective({ ...old, clientOrderId: id, quantity, accepted: false }, e.streamId, e.metadata.eventId, c);
      await this.orderCommands(old.clientOrderId, [{ kind: 'RequestCancel', reason: `replaced by ${id} for ${e.data.quantity}` }], c);
      const r = await this.venue.cancelProtectiveOrder(old.accountId, old.symbol, old.clientOrderId);
      await this.orderCommands(old.clientOrderId, [r.ok ? { kind: 'RecordCanceled' } : { kind: 'RecordCancelRejected', code: r.error.code, message: r.error.message }], c);
    }
  }

  private async placeProtective(p: Protective, sourceStreamId: string, sourceEventId: string, c: Causation): Promise<void> {
    if (!hasProtection(this.venue)) return;
    const existing = await this.orders.load(Streams.order(p.clientOrderId));
    if (existing.state.status !== 'NONE') return; // redelivery
    const data: EventData<'OrderInitialized'> = {
      clientOrderId: p.clientOrderId, accountId: p.accountId, venue: VENUE, symbol: p.symbol, side: p.side,
      type: p.kind === 'STOP_LOSS' ? 'STOP_MARKET' : 'TAKE_PROFIT_MARKET', quantity: str(p.quantity), price: null, timeInForce: null,
      reduceOnly: true, purpose: p.kind, leverage: null, sourceStreamId, sourceEventId, triggerPrice: str(p.triggerPrice),
    };
    const refusal = this.killSwitchRefusal(data);
    if (refusal) {
      await this.orderCommands(p.clientOrderId, [{ kind: 'InitializeOrder', data }, { kind: 'DenyOrder', code: refusal.code, message: refusal.message }], c);
      return;
    }
    this.protective.set(p.clientOrderId, p);
    await this.orderCommands(p.clientOrderId, [{ kind: 'InitializeOrder', data }, { kind: 'SubmitOrder' }], c);
    const workingType = this.accounts.get(p.accountId)?.workingType ?? ACCOUNT_DEFAULTS.workingType; // the price the account's stops trigger on
    const r = await this.venue.placeProtectiveOrder(p.accountId, { clientAlgoId: p.clientOrderId, symbol: p.symbol, side: p.side, kind: p.kind, triggerPrice: p.triggerPrice, quantity: p.quantity, workingType });
    if (!r.ok) {
      // Placed but not readable back: the venue may hold it; reconciliation settles it.
      const unknown = r.error.code === 'PROTECTION_UNVERIFIED' || classifyVenueError(r.error.code).outcomeUnknown;
      await this.orderCommands(p.clientOrderId, [unknown ? { kind: 'RecordStatusUnknown', detail: `${r.error.code} ${r.error.message}` } : { kind: 'RecordRejected', code: r.error.code, message: r.error.message }], c);
      await this.appendVenue(p.accountId, [event('VenueAlert', { kind: 'PROTECTION_FAILED', detail: `exchange ${p.kind} ${p.clientOrderId} refused: ${r.error.code} ${r.error.message}; the internal stop protects the position`, until: null })], c);
      return;
    }
    await this.orderCommands(p.clientOrderId, [{ kind: 'RecordAccepted', venueOrderId: r.value.algoId }], c);
  }

  /**
   * The kill switch changed. HALTED also cancels the account's resting orders that could open
   * or grow a position; its protective orders (exchange stops, reduce-only closes) stay.
   */
  async tradingStateChanged(e: RecordedEvent<'TradingStateChanged', EventData<'TradingStateChanged'>>): Promise<void> {
    const accountId = e.streamId.slice('account-'.length);
    this.tradingState.set(accountId, e.data.state);
    if (e.data.state !== 'HALTED') return;
    for (const [id, o] of [...this.openOrders]) {
      if (o.accountId === accountId && !o.reduceOnly) await this.cancel(id, `trading halted: ${e.data.reason}`, causedBy(e));
    }
  }

  /**
   * The kill switch: HALTED refuses every order that is not reduce-only, and so does
   * REDUCING; no state ever refuses a reduce-only order (stops, guards, take-profits and
   * operator closes must always be able to close). The difference: HALTED also cancels
   * resting entries (see {@link tradingStateChanged}).
   */
  private killSwitchRefusal(o: EventData<'OrderInitialized'>): { code: string; message: string } | null {
    const state = this.tradingState.get(o.accountId) ?? 'ACTIVE';
    if (o.reduceOnly) return null;
    if (state === 'HALTED') return { code: 'TRADING_HALTED', message: 'trading is halted: only reduce-only orders' };
    if (state === 'REDUCING') return { code: 'TRADING_REDUCING', message: 'trading is reducing: only reduce-only orders' };
    return null;
  }

  /** Cancel one open regular order at the venue and record the request and the answer. */
  private async cancel(clientOrderId: string, reason: string, c: Causation): Promise<void> {
    const o = this.openOrders.get(clientOrderId);
    if (!o) return;
    const s = await this.orderCommands(clientOrderId, [{ kind: 'RequestCancel', reason }], c);
    if (s.status !== 'PENDING_CANCEL') return;
    const r = await this.venue.cancelOrder(o.accountId, clientOrderId);
    await this.orderCommands(clientOrderId, [r.ok ? { kind: 'RecordCanceled' } : { kind: 'RecordCancelRejected', code: r.error.code, message: r.error.message }], c);
  }

  /** Close the net position of `account|symbol` reduce-only at market (an operator command). */
  private async closeNet(accountId: string, symbol: string, tag: string, e: RecordedEvent): Promise<void> {
    const n = this.net.get(`${accountId}|${symbol}`);
    if (!n || n.status !== 'OPEN') return;
    await this.place(
      {
        clientOrderId: clientOrderIdFor(accountId, tag, 'C'), accountId, venue: VENUE, symbol, side: n.side === 'SHORT' ? 'BUY' : 'SELL', type: 'MARKET',
        quantity: str(n.quantity), price: null, timeInForce: null, reduceOnly: true, purpose: 'CLOSE', leverage: null,
        sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: null,
      },
      causedBy(e),
      null,
    );
  }

  /**
   * `bulwark account flatten`: risk has set the account HALTED (so nothing re-enters); cancel
   * every resting regular order, then close every position reduce-only at market. The exchange
   * stops stay until their position is flat (then they are cancelled like any other).
   */
  async flatten(e: RecordedEvent<'FlattenRequested', EventData<'FlattenRequested'>>): Promise<void> {
    const accountId = e.streamId.slice('account-'.length);
    const why = `flatten by ${e.data.by}: ${e.data.reason}`;
    for (const [id, o] of [...this.openOrders]) if (o.accountId === accountId) await this.cancel(id, why, causedBy(e));
    const symbols = [...this.net.keys()].filter((k) => k.startsWith(`${accountId}|`)).map((k) => k.slice(accountId.length + 1)).sort();
    for (const [i, symbol] of symbols.entries()) await this.closeNet(accountId, symbol, `o${e.revision}s${i}`, e);
  }

  /** `bulwark position close`: close one position reduce-only at market. */
  async closePositionCommanded(e: RecordedEvent<'PositionCloseRequested', EventData<'PositionCloseRequested'>>): Promise<void> {
    await this.closeNet(e.streamId.slice('account-'.length), e.data.symbol, `o${e.revision}`, e);
  }

  /** `bulwark order cancel`: cancel one resting order of the account. */
  async cancelOrderCommanded(e: RecordedEvent<'OrderCancelCommanded', EventData<'OrderCancelCommanded'>>): Promise<void> {
    const accountId = e.streamId.slice('account-'.length);
    const o = this.openOrders.get(e.data.clientOrderId);
    if (!o || o.accountId !== accountId) {
      this.log.warn(`cancel of ${e.data.clientOrderId} by ${e.data.by}: no open order of ${accountId} with that id`);
      return;
    }
    await this.cancel(e.data.clientOrderId, `cancel by ${e.data.by}: ${e.data.reason}`, causedBy(e));
  }

  /** Record the order, send it to the venue, record the venue's answer. */
  private async place(o: EventData<'OrderInitialized'>, c: Causation, refused: { code: string; message: string } | null): Promise<void> {
    const refusal = refused ?? this.killSwitchRefusal(o);
    if (refusal) {
      await this.orderCommands(o.clientOrderId, [{ kind: 'InitializeOrder', data: o }, { kind: 'DenyOrder', code: refusal.code, message: refusal.message }], c);
      return;
    }
    if (o.type !== 'MARKET' && o.type !== 'LIMIT') throw new Error(`place: ${o.type} orders go through placeProtective`);
    await this.orderCommands(o.clientOrderId, [{ kind: 'InitializeOrder', data: o }, { kind: 'SubmitOrder' }], c);
    const r = await this.venue.placeOrder(o.accountId, {
      clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, type: o.type, quantity: dec(o.quantity),
      price: o.price === null ? null : dec(o.price), reduceOnly: o.reduceOnly, purpose: o.purpose,
      triggerPrice: o.triggerPrice === null ? null : dec(o.triggerPrice),
    });
    await this.orderCommands(
      o.clientOrderId,
      [
        r.ok
          ? { kind: 'RecordAccepted', venueOrderId: r.value.venueOrderId }
          : classifyVenueError(r.error.code).outcomeUnknown
            ? { kind: 'RecordStatusUnknown', detail: `${r.error.code} ${r.error.message}` }
            : { kind: 'RecordRejected', code: r.error.code, message: r.error.message },
      ],
      c,
    );
  }

  /**
   * One trade of an order as its `OrderFilled`: the cumulative filled and leaves quantities
   * are the order's after this trade (the order stream applies each trade id once, so the sum
   * is exact whichever way the trades arrive: websocket, REST, or both).
   * @param filledBefore the order's filled quantity before this trade (base asset)
   * @param orderQuantity the order's quantity (base asset)
   */
  private fillData(f: PaperFill, purpose: EventData<'OrderFilled'>['purpose'], filledBefore: D, orderQuantity: D): EventData<'OrderFilled'> {
    const filled = filledBefore.plus(f.quantity);
    return {
      clientOrderId: f.clientOrderId, venueOrderId: f.venueOrderId, tradeId: f.tradeId, accountId: f.accountId, venue: VENUE, symbol: f.symbol,
      side: f.side, purpose, quantity: str(f.quantity), price: str(f.price), quoteQuantity: str(f.quantity.mul(f.price)),
      fee: str(f.fee), feeAsset: 'USDT', liquidity: f.liquidity, filledQuantity: str(filled), leavesQuantity: str(orderQuantity.minus(filled)), leverage: f.leverage,
      liquidationFee: str(f.liquidationFee),
    };
  }

  /** One step of the market path: a driven venue matches and the results are recorded. */
  async onTick(tick: MarketTick): Promise<void> {
    const candleId = `candle-${tick.venue}-${tick.symbol}-${tick.candleOpenTime}`;
    const c: Causation = { tsEvent: tick.ts, correlationId: candleId, causationId: `tick-${tick.runId}-${tick.seq}` };
    if (tick.venue === VENUE && isDriven(this.venue)) {
      const out = await this.venue.advance(tick.symbol, tick, tick.funding);
      if (out.length > 0) await this.recordVenueEvents(out, c);
    }
  }

  /**
   * Record what the venue reports: fills on their order streams (a venue-generated order —
   * a liquidation, or an order no stream knows — is initialised first), expiries; funding is
   * accounting's. When a fill leaves a position flat, its remaining exchange stops are cancelled.
   */
  async recordVenueEvents(events: readonly PaperVenueEvent[], c: Causation): Promise<void> {
    for (const ev of events) {
      if (ev.kind === 'fill') {
        const f = ev.fill;
        const stream = Streams.order(f.clientOrderId);
        const known = await this.orders.load(stream);
        const cmds: OrderCommand[] = [];
        if (known.state.status === 'NONE') {
          cmds.push(
            {
              kind: 'InitializeOrder',
              data: {
                clientOrderId: f.clientOrderId, accountId: f.accountId, venue: VENUE, symbol: f.symbol, side: f.side, type: 'MARKET',
                quantity: str(f.quantity), price: null, timeInForce: null, reduceOnly: true, purpose: f.venueGenerated ? 'LIQUIDATION' : f.purpose, leverage: f.leverage,
                sourceStreamId: Streams.venue(f.accountId, VENUE), sourceEventId: `${f.venueGenerated ? 'liquidation' : 'venue-order'}-${f.venueOrderId}`, triggerPrice: str(f.price),
              },
            },
            { kind: 'SubmitOrder' },
            { kind: 'RecordAccepted', venueOrderId: f.venueOrderId },
          );
        } else if (known.state.tradeIds.includes(f.tradeId)) {
          continue; // reported twice (user-data stream and a reconciliation query)
        }
        const purpose = known.state.order?.purpose ?? (f.venueGenerated ? 'LIQUIDATION' : f.purpose);
        // A venue-generated order (a liquidation) is initialised with its first trade's quantity; later trades of it grow it.
        const orderQuantity = known.state.order ? dec(known.state.order.quantity) : f.quantity;
        const fill = this.fillData(f, purpose, known.state.filledQuantity, orderQuantity);
        // A conditional order's stream tracks its algo id; the fill is of the market order it became.
        const conditional = known.state.order?.type === 'STOP_MARKET' || known.state.order?.type === 'TAKE_PROFIT_MARKET';
        if (conditional && known.state.venueOrderId) fill.venueOrderId = known.state.venueOrderId;
        cmds.push({ kind: 'RecordFill', fill });
        const after = await this.orderCommands(f.clientOrderId, cmds, c);
        // Only a trade the order took counts in the net position: a refused one is not a fact of the log.
        if (after.tradeIds.includes(f.tradeId)) await this.applyToNet(fill, c);
      } else if (ev.kind === 'rejected') {
        const known = await this.orders.load(Streams.order(ev.clientOrderId));
        if (known.state.status !== 'NONE' && !TERMINAL_ORDER_STATUSES.has(known.state.status as never)) await this.orderCommands(ev.clientOrderId, [{ kind: 'RecordExpired' }], c);
      }
    }
  }

  /**
   * One fill into the net position of `account|symbol`, with the position aggregate's own fold
   * (the same as accounting's).
   * @returns the position after the fill
   */
  private foldNet(f: EventData<'OrderFilled'>): PositionState {
    const key = `${f.accountId}|${f.symbol}`;
    const before = this.net.get(key) ?? positionInitialState();
    const r = foldFillAcrossLifecycles(before, f);
    if (!r.ok) {
      this.log.warn(`net position ${key}: fill ${f.tradeId} refused: ${r.error.code} ${r.error.message}`);
      return before;
    }
    this.net.set(key, r.value.state);
    return r.value.state;
  }

  /** Track the net position from fills; when it goes flat, cancel the exchange stops left for it. */
  private async applyToNet(f: EventData<'OrderFilled'>, c: Causation): Promise<void> {
    const p = this.foldNet(f);
    if (p.status === 'OPEN' || !hasProtection(this.venue)) return;
    for (const p of [...this.protective.values()]) {
      if (p.accountId !== f.accountId || p.symbol !== f.symbol || !p.accepted) continue;
      await this.orderCommands(p.clientOrderId, [{ kind: 'RequestCancel', reason: 'position closed' }], c);
      const r = await this.venue.cancelProtectiveOrder(p.accountId, p.symbol, p.clientOrderId);
      await this.orderCommands(p.clientOrderId, [r.ok ? { kind: 'RecordCanceled' } : { kind: 'RecordCancelRejected', code: r.error.code, message: r.error.message }], c);
    }
  }

  // -------------------------------------------------------------------------------------
  // Live venues: the log's view at start-up, and reconciliation.
  // -------------------------------------------------------------------------------------

  /**
   * Rebuild accounts, kill-switch states, open orders, exchange stops and net positions from
   * the log. An event that cannot be applied (unknown type, invalid data, a transition the
   * order state machine refuses) is quarantined and skipped: one bad event never keeps
   * execution from starting.
   */
  private async rebuildFromLog(): Promise<void> {
    const states = new Map<string, OrderState>();
    const fold: Rebuildable = {
      name: this.name,
      rebuildCategories: ['account', 'order'],
      rebuild: (e) => {
        if (e.type === 'AccountOpened' || e.type === 'AccountReconfigured') {
          const cfg = e.data as AccountConfig;
          if (cfg.venue === VENUE) this.accounts.set(cfg.accountId, cfg);
        } else if (e.type === 'TradingStateChanged') {
          this.tradingState.set(e.streamId.slice('account-'.length), (e.data as EventData<'TradingStateChanged'>).state);
        } else if (e.streamId.startsWith('order-')) {
          const s = orderDecider.evolve(states.get(e.streamId) ?? orderDecider.initialState(), e as never);
          states.set(e.streamId, s);
          if (e.type === 'OrderFilled') this.foldNet(e.data as EventData<'OrderFilled'>);
        }
      },
    };
    const r = await rebuildFromLog(fold, this.store, this.quarantine, rebuildStartFromEnv());
    this.log.log(`rebuilt from ${r.events} events in ${r.ms} ms, ${r.quarantined} quarantined`);
    for (const [streamId, s] of states) {
      const o = s.order;
      if (!o || !OPEN_STATUSES.has(s.status)) continue;
      const clientOrderId = streamId.slice('order-'.length);
      if (o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') {
        this.protective.set(clientOrderId, {
          clientOrderId, accountId: o.accountId, symbol: o.symbol, kind: o.type === 'STOP_MARKET' ? 'STOP_LOSS' : 'TAKE_PROFIT', side: o.side,
          triggerPrice: dec(o.triggerPrice ?? '0'), quantity: dec(o.quantity), stopStreamId: o.sourceStreamId, accepted: s.status === 'ACCEPTED',
        });
      } else {
        this.openOrders.set(clientOrderId, { accountId: o.accountId, symbol: o.symbol, status: s.status, reduceOnly: o.reduceOnly });
      }
    }
    // A simulated venue holds only the accounts restored into it.
    for (const id of this.accounts.keys()) if (!isDriven(this.venue) || this.venue.hasAccount(id)) this.configured.add(id);
  }

  /** The log's view of one account (from this service's state, itself folded from the log). */
  private logView(accountId: string): ReconView {
    const positions = [...this.net.entries()]
      .filter(([k, n]) => k.startsWith(`${accountId}|`) && n.status === 'OPEN')
      .map(([k, n]) => ({ symbol: k.slice(accountId.length + 1), side: n.side!, quantity: n.quantity, entryPrice: n.entryPrice }));
    const openOrders = [...this.openOrders.entries()].filter(([, o]) => o.accountId === accountId).map(([id, o]) => ({ symbol: o.symbol, clientOrderId: id, status: o.status }));
    const protectiveOrders = [...this.protective.values()]
      .filter((p) => p.accountId === accountId && p.accepted)
      .map((p) => ({ symbol: p.symbol, clientOrderId: p.clientOrderId, side: p.side, kind: p.kind, triggerPrice: p.triggerPrice, quantity: p.quantity }));
    return { positions, openOrders, protectiveOrders };
  }

  /**
   * Compare every known account's open orders, exchange stops and positions at the venue with
   * the log and record the differences and what was done (`ReconciliationDifference`,
   * `ReconciliationCompleted` on the venue stream). Orders the log thinks open are first
   * settled from the venue by client order id (fills recovered from the venue's trades), so
   * nothing depends on a window of history.
   */
  async reconcileAll(trigger: 'STARTUP' | 'PERIODIC' | 'RECONNECT'): Promise<void> {
    if (!isLive(this.venue)) return;
    for (const [accountId, cfg] of this.accounts) {
      if (cfg.venue !== VENUE) continue;
      await this.reconcileAccount(this.venue, accountId, cfg, trigger);
    }
  }

  private async reconcileAccount(venue: LiveVenuePort, accountId: string, cfg: AccountConfig, trigger: 'STARTUP' | 'PERIODIC' | 'RECONNECT'): Promise<void> {
    const symbol = cfg.symbol;
    const now = Date.now();
    const c: Causation = { tsEvent: now, correlationId: `reconcile-${accountId}-${now}`, causationId: `reconcile-${trigger.toLowerCase()}-${now}` };
    const [positions, open, algos, account] = await Promise.all([
      venue.positions(accountId, symbol),
      venue.openOrders(accountId, symbol),
      venue.openProtectiveOrders(accountId, symbol),
      venue.account(accountId),
    ]);
    const lost = await this.settleFromVenue(venue, accountId, symbol, new Set(open.map((o) => o.clientOrderId)), new Set(algos.map((a) => a.clientAlgoId)), c);
    const venueView: ReconView = {
      positions: positions.map((p) => ({ symbol: p.symbol, side: p.side, quantity: p.quantity, entryPrice: p.entryPrice })),
      openOrders: open.map((o) => ({ symbol: o.symbol, clientOrderId: o.clientOrderId, status: o.status })),
      protectiveOrders: algos.map((a) => ({
        symbol: a.symbol, clientOrderId: a.clientAlgoId, side: a.side, kind: a.type === 'STOP_MARKET' ? ('STOP_LOSS' as const) : ('TAKE_PROFIT' as const),
        triggerPrice: a.triggerPrice, quantity: a.quantity,
      })),
    };
    const diffs = reconcile(this.logView(accountId), venueView);
    // Exchange stops cancelled or expired at the venue by someone else: settled above, but the position still needs them.
    for (const p of lost) {
      if (!positions.some((x) => x.symbol === p.symbol)) continue;
      diffs.push({
        symbol: p.symbol, kind: 'MISSING_PROTECTIVE_ORDER', clientOrderId: p.clientOrderId, expected: `${p.kind} ${p.triggerPrice.toFixed()}`, observed: p.status,
        action: 'RESTORED', protective: p, detail: `the exchange stop was ${p.status.toLowerCase()} at the venue while the position is open: placed again`,
      });
    }
    const events: DomainEvent[] = [];
    for (const d of diffs) {
      events.push(event('ReconciliationDifference', { symbol: d.symbol, kind: d.kind, clientOrderId: d.clientOrderId, expected: d.expected, observed: d.observed, action: d.action, detail: d.detail }));
    }
    events.push(event('ReconciliationCompleted', {
      symbol, trigger, openOrders: open.length, protectiveOrders: algos.length, positions: positions.length, differences: diffs.length,
      walletBalance: account ? str(account.walletBalance) : '0',
    }));
    await this.appendVenue(accountId, events, c);
    for (const d of diffs) await this.act(accountId, cfg, d, positions, account?.walletBalance ?? ZERO, c);
  }

  /**
   * Orders the log thinks open but the venue no longer lists (`open`, `algos`: the client ids
   * the venue lists): record their final state (fills from the venue's trades).
   * @returns the exchange stops that ended without a fill (cancelled or expired at the venue)
   */
  private async settleFromVenue(venue: LiveVenuePort, accountId: string, symbol: string, open: ReadonlySet<string>, algos: ReadonlySet<string>, c: Causation): Promise<Array<ReconProtective & { status: string }>> {
    const settle: Array<{ id: string; venueOrderId: string | null; status: string }> = [];
    const lost: Array<ReconProtective & { status: string }> = [];
    for (const [id, o] of this.openOrders) {
      if (o.accountId !== accountId || o.symbol !== symbol || open.has(id)) continue;
      const snap = await venue.order(accountId, symbol, id);
      if (snap) settle.push({ id, venueOrderId: snap.venueOrderId, status: snap.status });
    }
    for (const [id, p] of this.protective) {
      if (p.accountId !== accountId || p.symbol !== symbol || !p.accepted || algos.has(id)) continue;
      const snap = await venue.protectiveOrder(accountId, symbol, id);
      if (!snap) continue;
      const filled = snap.status === 'FINISHED' || snap.status === 'TRIGGERED';
      settle.push({ id, venueOrderId: snap.actualOrderId, status: filled ? 'FILLED' : snap.status });
      if (!filled) lost.push({ symbol, clientOrderId: id, side: p.side, kind: p.kind, triggerPrice: p.triggerPrice, quantity: p.quantity, status: snap.status });
    }
    if (settle.length === 0) return lost;
    const trades = await venue.trades(accountId, symbol);
    for (const s of settle) {
      if (s.status === 'FILLED' && s.venueOrderId) {
        const lev = this.accounts.get(accountId)?.leverage ?? 1;
        const fills: PaperVenueEvent[] = trades
          .filter((t) => t.venueOrderId === s.venueOrderId)
          .map((t) => ({
            kind: 'fill',
            fill: {
              accountId, clientOrderId: s.id, venueOrderId: t.venueOrderId, tradeId: t.tradeId, symbol, side: t.side, purpose: 'CLOSE', quantity: t.quantity, price: t.price,
              fee: t.fee, liquidity: t.maker ? 'MAKER' : 'TAKER', leverage: lev, realisedPnl: t.realisedPnl, liquidationFee: ZERO, venueGenerated: false, ts: t.ts,
            },
          }));
        await this.recordVenueEvents(fills, c);
      } else if (s.status === 'CANCELED') {
        await this.orderCommands(s.id, [{ kind: 'RecordCanceled' }], c).catch(() => undefined);
      } else if (s.status === 'EXPIRED' || s.status === 'REJECTED') {
        await this.orderCommands(s.id, [{ kind: 'RecordExpired' }], c).catch(() => undefined);
      }
    }
    return lost;
  }

  /** Carry out a reconciliation decision: protect an unknown position, restore a missing exchange stop. */
  private async act(accountId: string, cfg: AccountConfig, d: ReconDifference, positions: Awaited<ReturnType<LiveVenuePort['positions']>>, walletBalance: D, c: Causation): Promise<void> {
    const rules = this.rules.get(d.symbol);
    if (!rules) return;
    const stamp = c.tsEvent.toString(36);
    if (d.action === 'RESTORED' && d.protective) {
      const p = d.protective;
      const old = this.protective.get(p.clientOrderId);
      const id = clientOrderIdFor(accountId, `r${stamp}`, p.kind === 'STOP_LOSS' ? 'S' : 'T');
      await this.placeProtective({ clientOrderId: id, accountId, symbol: p.symbol, kind: p.kind, side: p.side, triggerPrice: p.triggerPrice, quantity: p.quantity ?? ZERO, stopStreamId: old?.stopStreamId ?? Streams.venue(accountId, VENUE), accepted: false }, Streams.venue(accountId, VENUE), `reconcile-${stamp}`, c);
    } else if (d.action === 'PROTECTED' && d.position) {
      const vp = positions.find((x) => x.symbol === d.symbol);
      if (!vp) return;
      const mark = vp.markPrice ?? vp.entryPrice;
      const stop = emergencyStopPrice({ ...d.position, isolatedMargin: vp.isolatedMargin, brackets: rules.brackets }, walletBalance, dec(cfg.riskFraction), dec(cfg.liquidationBufferFraction), mark);
      const side = vp.side === 'LONG' ? 'SELL' : 'BUY';
      if (stop === null) {
        await this.place(
          {
            clientOrderId: clientOrderIdFor(accountId, `r${stamp}`, 'C'), accountId, venue: VENUE, symbol: d.symbol, side, type: 'MARKET', quantity: str(vp.quantity), price: null,
            timeInForce: null, reduceOnly: true, purpose: 'CLOSE', leverage: null, sourceStreamId: Streams.venue(accountId, VENUE), sourceEventId: `reconcile-${stamp}`, triggerPrice: null,
          },
          c,
          null,
        );
        return;
      }
      // Round to the tick away from liquidation (toward the entry).
      const tick = rules.tickSize;
      const q = stop.div(tick);
      const rounded = (vp.side === 'LONG' ? q.ceil() : q.floor()).mul(tick);
      await this.placeProtective({ clientOrderId: clientOrderIdFor(accountId, `r${stamp}`, 'S'), accountId, symbol: d.symbol, kind: 'STOP_LOSS', side, triggerPrice: rounded, quantity: vp.quantity, stopStreamId: Streams.venue(accountId, VENUE), accepted: false }, Streams.venue(accountId, VENUE), `reconcile-${stamp}`, c);
    }
  }
}
