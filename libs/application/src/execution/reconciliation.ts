import { type AccountConfig, type DomainEvent, Streams, event } from '@bulwark/contracts';
import {
  type D,
  type PaperVenueEvent,
  type ReconDifference,
  type ReconProtective,
  type ReconView,
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
   * the log and record the differences and what was done (`ReconciliationDifference`,
   * `ReconciliationCompleted` on the venue stream). Orders the log thinks open are first
   * settled from the venue by client order id (fills recovered from the venue's trades), so
   * nothing depends on a window of history.
   */
  async reconcileAll(trigger: Trigger): Promise<void> {
    const venue = this.state.venue;
    if (!isLive(venue)) return;
    for (const [accountId, cfg] of this.state.accounts) {
      if (cfg.venue !== this.state.venueId) continue;
      await this.reconcileAccount(venue, accountId, cfg, trigger);
    }
  }

  /** The log's view of one account (from the shared state, itself folded from the log). */
  private logView(accountId: string): ReconView {
    const positions = [...this.state.net.entries()]
      .filter(([k, n]) => k.startsWith(`${accountId}|`) && n.status === 'OPEN')
      .map(([k, n]) => ({ symbol: k.slice(accountId.length + 1), side: n.side!, quantity: n.quantity, entryPrice: n.entryPrice }));
    const openOrders = [...this.state.openOrders.entries()].filter(([, o]) => o.accountId === accountId).map(([id, o]) => ({ symbol: o.symbol, clientOrderId: id, status: o.status }));
    const protectiveOrders = [...this.state.protective.values()]
      .filter((p) => p.accountId === accountId && p.accepted)
      .map((p) => ({ symbol: p.symbol, clientOrderId: p.clientOrderId, side: p.side, kind: p.kind, triggerPrice: p.triggerPrice, quantity: p.quantity }));
    return { positions, openOrders, protectiveOrders };
  }

  private async reconcileAccount(venue: LiveVenuePort, accountId: string, cfg: AccountConfig, trigger: Trigger): Promise<void> {
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
    await this.streams.appendVenue(accountId, events, c);
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

  /** Carry out a reconciliation decision: protect an unknown position, restore a missing exchange stop. */
  private async act(accountId: string, cfg: AccountConfig, d: ReconDifference, positions: Awaited<ReturnType<LiveVenuePort['positions']>>, walletBalance: D, c: Causation): Promise<void> {
    const rules = this.state.rules.get(d.symbol);
    if (!rules) return;
    const stamp = c.tsEvent.toString(36);
    if (d.action === 'RESTORED' && d.protective) {
      const p = d.protective;
      const old = this.state.protective.get(p.clientOrderId);
      const id = clientOrderIdFor(accountId, `r${stamp}`, p.kind === 'STOP_LOSS' ? 'S' : 'T');
      await this.protection.placeProtective({ clientOrderId: id, accountId, symbol: p.symbol, kind: p.kind, side: p.side, triggerPrice: p.triggerPrice, quantity: p.quantity ?? ZERO, stopStreamId: old?.stopStreamId ?? Streams.venue(accountId, this.state.venueId), accepted: false }, Streams.venue(accountId, this.state.venueId), `reconcile-${stamp}`, c);
    } else if (d.action === 'PROTECTED' && d.position) {
      const vp = positions.find((x) => x.symbol === d.symbol);
      if (!vp) return;
      const mark = vp.markPrice ?? vp.entryPrice;
      const stop = emergencyStopPrice({ ...d.position, isolatedMargin: vp.isolatedMargin, brackets: rules.brackets, closeFeeRate: liquidationCloseFeeRate(rules) }, walletBalance, dec(cfg.riskFraction), dec(cfg.liquidationBufferFraction), mark);
      const side = vp.side === 'LONG' ? 'SELL' : 'BUY';
      if (stop === null) {
        await this.routing.place(
          {
            clientOrderId: clientOrderIdFor(accountId, `r${stamp}`, 'C'), accountId, venue: this.state.venueId, symbol: d.symbol, side, type: 'MARKET', quantity: str(vp.quantity), price: null,
            timeInForce: null, reduceOnly: true, purpose: 'CLOSE', leverage: null, sourceStreamId: Streams.venue(accountId, this.state.venueId), sourceEventId: `reconcile-${stamp}`, triggerPrice: null,
          },
          c,
          null,
        );
        return;
      }
      // Round to the tick away from liquidation (toward the entry).
      const rounded = vp.side === 'LONG' ? ceilToStep(stop, rules.tickSize) : floorToStep(stop, rules.tickSize);
      await this.protection.placeProtective({ clientOrderId: clientOrderIdFor(accountId, `r${stamp}`, 'S'), accountId, symbol: d.symbol, kind: 'STOP_LOSS', side, triggerPrice: rounded, quantity: vp.quantity, stopStreamId: Streams.venue(accountId, this.state.venueId), accepted: false }, Streams.venue(accountId, this.state.venueId), `reconcile-${stamp}`, c);
    }
  }
}
