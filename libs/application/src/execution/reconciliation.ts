import { type AccountConfig, type DomainEvent, Streams, event } from '@bulwark/contracts';
import {
  type D,
  type PaperVenueEvent,
  type ReconDifference,
  type ReconProtective,
  type ReconView,
  type Rules,
  ZERO,
  ceilToStep,
  clientOrderIdFor,
  dec,
  emergencyStopPrice,
  floorToStep,
  liquidationCloseFeeRate,
  reconcile,
  str,
} from '@bulwark/domain';
import type { Causation } from '@bulwark/messaging';
import type { LiveVenuePort } from '@bulwark/venues';
import type { Logger } from '@nestjs/common';
import type { ExchangeProtection } from './exchange-protection';
import type { OrderRouting } from './order-routing';
import { type ExecutionState, isLive } from './state';
import type { ExecutionStreams } from './streams';
import type { VenueEventRecorder } from './venue-events';

type Trigger = 'STARTUP' | 'PERIODIC' | 'RECONNECT';

/** An account (`symbol` null: its wallet could not be read, nothing of it was reconciled) or one of its symbols a pass could not reconcile; `cause` is what threw (a venue read, an append to the log). */
export interface ReconciliationFailure {
  accountId: string;
  symbol: string | null;
  cause: unknown;
}

/** A reconciliation pass that could not reconcile some accounts or symbols (`failures`); everything else was reconciled. */
export class ReconciliationError extends Error {
  constructor(
    readonly trigger: Trigger,
    readonly failures: ReconciliationFailure[],
  ) {
    const what = failures.map((f) => `${f.accountId}${f.symbol ? ` ${f.symbol}` : ''}: ${f.cause instanceof Error ? f.cause.message : String(f.cause)}`);
    super(`${trigger.toLowerCase()} reconciliation incomplete: ${what.join('; ')}`);
    this.name = 'ReconciliationError';
  }
}

/**
 * Live venues: the log's view of each account compared with the venue's, the differences
 * recorded and acted on (the domain's `reconcile` decides what to do), at start-up and then
 * periodically.
 */
export class Reconciliation {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly state: ExecutionState,
    private readonly streams: ExecutionStreams,
    private readonly routing: OrderRouting,
    private readonly protection: ExchangeProtection,
    private readonly recorder: VenueEventRecorder,
    private readonly log: Logger,
    /** A symbol's instrument rules, loaded when first needed (instrument-rules.ts `ensureInstrumentRules`). */
    private readonly rulesFor: (symbol: string) => Promise<Rules>,
  ) {}

  /** Reconcile every `seconds` through `serial` (after everything queued before it); errors are logged. */
  startTimer(seconds: number, serial: (fn: () => Promise<void>) => Promise<void>): void {
    this.timer = setInterval(() => void serial(() => this.reconcileAll('PERIODIC')).catch((e) => this.log.error(`reconciliation failed: ${String(e)}`)), seconds * 1000);
    this.timer.unref();
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Compare every known account's open orders, exchange stops and positions at the venue with
   * the log, symbol by symbol ({@link symbolsOf}: the configured symbol and every symbol the log
   * holds a position, open order or exchange stop on, each once per pass), and record the
   * differences and what was done (`ReconciliationDifference`, one `ReconciliationCompleted` per
   * symbol, on the venue stream). Orders the log thinks open are first settled from the venue by
   * client order id (fills recovered from the venue's trades), so nothing depends on a window of
   * history.
   * @throws ReconciliationError when some accounts or symbols could not be reconciled (a venue
   *   read or an append threw), after every other one was
   */
  async reconcileAll(trigger: Trigger): Promise<void> {
    const venue = this.state.venue;
    if (!isLive(venue)) return;
    const failures: ReconciliationFailure[] = [];
    for (const [accountId, cfg] of this.state.accounts) {
      // Another execution's account: this venue connection would answer empty and make false differences.
      if (cfg.venue !== this.state.venueId || !this.state.trades(accountId)) continue;
      failures.push(...(await this.reconcileAccount(venue, accountId, cfg, trigger)));
    }
    if (failures.length > 0) throw new ReconciliationError(trigger, failures);
  }

  /**
   * The symbols one pass reconciles for an account: its configured symbol first, then, sorted,
   * every other symbol the log's view (ExecutionState) holds an open position (`net`), an open
   * order or an exchange stop of it on.
   */
  symbolsOf(accountId: string, cfg: Pick<AccountConfig, 'symbol'>): string[] {
    const others = new Set<string>();
    for (const [k, n] of this.state.net) if (k.startsWith(`${accountId}|`) && n.status === 'OPEN') others.add(k.slice(accountId.length + 1));
    for (const o of this.state.openOrders.values()) if (o.accountId === accountId) others.add(o.symbol);
    for (const p of this.state.protective.values()) if (p.accountId === accountId) others.add(p.symbol);
    others.delete(cfg.symbol);
    return [cfg.symbol, ...[...others].sort()];
  }

  /** The log's view of one account's `symbol` (from the shared state, itself folded from the log). */
  private logView(accountId: string, symbol: string): ReconView {
    const positions = [...this.state.net.entries()]
      .filter(([k, n]) => k === `${accountId}|${symbol}` && n.status === 'OPEN')
      .map(([, n]) => ({ symbol, side: n.side!, quantity: n.quantity, entryPrice: n.entryPrice }));
    const openOrders = [...this.state.openOrders.entries()].filter(([, o]) => o.accountId === accountId && o.symbol === symbol).map(([id, o]) => ({ symbol: o.symbol, clientOrderId: id, status: o.status }));
    const protectiveOrders = [...this.state.protective.values()]
      .filter((p) => p.accountId === accountId && p.symbol === symbol && p.accepted)
      .map((p) => ({ symbol: p.symbol, clientOrderId: p.clientOrderId, side: p.side, kind: p.kind, triggerPrice: p.triggerPrice, quantity: p.quantity }));
    return { positions, openOrders, protectiveOrders };
  }

  /**
   * One account's pass: its wallet once, then each of its symbols. A symbol whose reconciliation
   * threw (a venue read, an append) is logged and skipped; the others are still reconciled.
   * @returns the symbols that failed
   */
  private async reconcileAccount(venue: LiveVenuePort, accountId: string, cfg: AccountConfig, trigger: Trigger): Promise<ReconciliationFailure[]> {
    const now = Date.now();
    const c: Causation = { tsEvent: now, correlationId: `reconcile-${accountId}-${now}`, causationId: `reconcile-${trigger.toLowerCase()}-${now}` };
    let account: Awaited<ReturnType<LiveVenuePort['account']>>;
    try {
      account = await venue.account(accountId);
    } catch (e) {
      this.log.error(`reconciliation of ${accountId}: the venue account could not be read: ${(e as Error).message}`);
      return [{ accountId, symbol: null, cause: e }];
    }
    const failures: ReconciliationFailure[] = [];
    // A pass's emergency orders are named after its time (ms, base 36), and past the first symbol after the symbol's place, so no two symbols share a client order id.
    const stamp = now.toString(36);
    for (const [i, symbol] of this.symbolsOf(accountId, cfg).entries()) {
      try {
        await this.reconcileSymbol(venue, accountId, cfg, symbol, account, trigger, i === 0 ? stamp : `${stamp}s${i}`, c);
      } catch (e) {
        this.log.error(`reconciliation of ${accountId} on ${symbol} failed: ${(e as Error).message}`);
        failures.push({ accountId, symbol, cause: e });
      }
    }
    return failures;
  }

  /** Reconcile one symbol of the account; `tag` names the orders it places (`r<tag>…`, unique in the pass). */
  private async reconcileSymbol(venue: LiveVenuePort, accountId: string, cfg: AccountConfig, symbol: string, account: Awaited<ReturnType<LiveVenuePort['account']>>, trigger: Trigger, tag: string, c: Causation): Promise<void> {
    const [positions, open, algos] = await Promise.all([venue.positions(accountId, symbol), venue.openOrders(accountId, symbol), venue.openProtectiveOrders(accountId, symbol)]);
    const lost = await this.settleFromVenue(venue, accountId, symbol, new Set(open.map((o) => o.clientOrderId)), new Set(algos.map((a) => a.clientAlgoId)), c);
    const venueView: ReconView = {
      positions: positions.map((p) => ({ symbol: p.symbol, side: p.side, quantity: p.quantity, entryPrice: p.entryPrice })),
      openOrders: open.map((o) => ({ symbol: o.symbol, clientOrderId: o.clientOrderId, status: o.status })),
      protectiveOrders: algos.map((a) => ({
        symbol: a.symbol, clientOrderId: a.clientAlgoId, side: a.side, kind: a.type === 'STOP_MARKET' ? ('STOP_LOSS' as const) : ('TAKE_PROFIT' as const),
        triggerPrice: a.triggerPrice, quantity: a.quantity,
      })),
    };
    const diffs = reconcile(this.logView(accountId, symbol), venueView);
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
    await this.streams.appendVenue(accountId, events, c);
    for (const d of diffs) await this.act(accountId, cfg, d, positions, account?.walletBalance ?? ZERO, tag, c);
  }

  /**
   * Orders the log thinks open but the venue no longer lists (`open`, `algos`: the client ids
   * the venue lists): record their final state (fills from the venue's trades).
   * @returns the exchange stops that ended without a fill (cancelled or expired at the venue)
   */
  private async settleFromVenue(venue: LiveVenuePort, accountId: string, symbol: string, open: ReadonlySet<string>, algos: ReadonlySet<string>, c: Causation): Promise<Array<ReconProtective & { status: string }>> {
    const settle: Array<{ id: string; venueOrderId: string | null; status: string }> = [];
    const lost: Array<ReconProtective & { status: string }> = [];
    for (const [id, o] of this.state.openOrders) {
      if (o.accountId !== accountId || o.symbol !== symbol || open.has(id)) continue;
      const snap = await venue.order(accountId, symbol, id);
      if (snap) settle.push({ id, venueOrderId: snap.venueOrderId, status: snap.status });
    }
    for (const [id, p] of this.state.protective) {
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
        const lev = this.state.accounts.get(accountId)?.leverage ?? 1;
        const fills: PaperVenueEvent[] = trades
          .filter((t) => t.venueOrderId === s.venueOrderId)
          .map((t) => ({
            kind: 'fill',
            fill: {
              accountId, clientOrderId: s.id, venueOrderId: t.venueOrderId, tradeId: t.tradeId, symbol, side: t.side, purpose: 'CLOSE', quantity: t.quantity, price: t.price,
              fee: t.fee, liquidity: t.maker ? 'MAKER' : 'TAKER', leverage: lev, realisedPnl: t.realisedPnl, liquidationFee: ZERO, venueGenerated: false, ts: t.ts,
            },
          }));
        await this.recorder.record(fills, c);
      } else if (s.status === 'CANCELED') {
        await this.streams.orderCommands(s.id, [{ kind: 'RecordCanceled' }], c).catch(() => undefined);
      } else if (s.status === 'EXPIRED' || s.status === 'REJECTED') {
        await this.streams.orderCommands(s.id, [{ kind: 'RecordExpired' }], c).catch(() => undefined);
      }
    }
    return lost;
  }

  /** Carry out a reconciliation decision: protect an unknown position, restore a missing exchange stop (client order ids `r<tag>` + role). */
  private async act(accountId: string, cfg: AccountConfig, d: ReconDifference, positions: Awaited<ReturnType<LiveVenuePort['positions']>>, walletBalance: D, tag: string, c: Causation): Promise<void> {
    if (d.action === 'RESTORED' && d.protective) {
      const p = d.protective;
      const old = this.state.protective.get(p.clientOrderId);
      const id = clientOrderIdFor(accountId, `r${tag}`, p.kind === 'STOP_LOSS' ? 'S' : 'T');
      await this.protection.placeProtective({ clientOrderId: id, accountId, symbol: p.symbol, kind: p.kind, side: p.side, triggerPrice: p.triggerPrice, quantity: p.quantity ?? ZERO, stopStreamId: old?.stopStreamId ?? Streams.venue(accountId, this.state.venueId), accepted: false }, Streams.venue(accountId, this.state.venueId), `reconcile-${tag}`, c);
    } else if (d.action === 'PROTECTED' && d.position) {
      const vp = positions.find((x) => x.symbol === d.symbol);
      if (!vp) return;
      let rules: Rules;
      try {
        rules = await this.rulesFor(d.symbol);
      } catch (e) {
        // The emergency stop needs the symbol's brackets and tick size. The difference is recorded, and
        // stays until acted on: the next reconciliation tries again.
        this.log.error(`reconciliation of ${accountId}: ${d.kind} on ${d.symbol} not protected: ${(e as Error).message}`);
        return;
      }
      const mark = vp.markPrice ?? vp.entryPrice;
      const stop = emergencyStopPrice({ ...d.position, isolatedMargin: vp.isolatedMargin, brackets: rules.brackets, closeFeeRate: liquidationCloseFeeRate(rules) }, walletBalance, dec(cfg.riskFraction), dec(cfg.liquidationBufferFraction), mark);
      const side = vp.side === 'LONG' ? 'SELL' : 'BUY';
      if (stop === null) {
        await this.routing.place(
          {
            clientOrderId: clientOrderIdFor(accountId, `r${tag}`, 'C'), accountId, venue: this.state.venueId, symbol: d.symbol, side, type: 'MARKET', quantity: str(vp.quantity), price: null,
            timeInForce: null, reduceOnly: true, purpose: 'CLOSE', leverage: null, sourceStreamId: Streams.venue(accountId, this.state.venueId), sourceEventId: `reconcile-${tag}`, triggerPrice: null,
          },
          c,
          null,
        );
        return;
      }
      // Round to the tick away from liquidation (toward the entry).
      const rounded = vp.side === 'LONG' ? ceilToStep(stop, rules.tickSize) : floorToStep(stop, rules.tickSize);
      await this.protection.placeProtective({ clientOrderId: clientOrderIdFor(accountId, `r${tag}`, 'S'), accountId, symbol: d.symbol, kind: 'STOP_LOSS', side, triggerPrice: rounded, quantity: vp.quantity, stopStreamId: Streams.venue(accountId, this.state.venueId), accepted: false }, Streams.venue(accountId, this.state.venueId), `reconcile-${tag}`, c);
    }
  }
}
