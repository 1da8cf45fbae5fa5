import { type EventData, type MarketTick, Streams, type VenueId } from '@bulwark/contracts';
import { type D, type OrderCommand, type PaperFill, type PaperVenueEvent, TERMINAL_ORDER_STATUSES, dec, str } from '@bulwark/domain';
import { type Causation, causedByTick } from '@bulwark/messaging';
import type { Logger } from '@nestjs/common';
import type { ExchangeProtection } from './exchange-protection';
import { foldNet } from './net-positions';
import { type ExecutionState, hasProtection, isDriven } from './state';
import type { ExecutionStreams } from './streams';

/**
 * One trade of an order as its `OrderFilled`: the cumulative filled and leaves quantities
 * are the order's after this trade (the order stream applies each trade id once, so the sum
 * is exact whichever way the trades arrive: websocket, REST, or both).
 * @param filledBefore the order's filled quantity before this trade (base asset)
 * @param orderQuantity the order's quantity (base asset)
 */
function fillData(venue: VenueId, f: PaperFill, purpose: EventData<'OrderFilled'>['purpose'], filledBefore: D, orderQuantity: D): EventData<'OrderFilled'> {
  const filled = filledBefore.plus(f.quantity);
  return {
    clientOrderId: f.clientOrderId, venueOrderId: f.venueOrderId, tradeId: f.tradeId, accountId: f.accountId, venue, symbol: f.symbol,
    side: f.side, purpose, quantity: str(f.quantity), price: str(f.price), quoteQuantity: str(f.quantity.mul(f.price)),
    fee: str(f.fee), feeAsset: 'USDT', liquidity: f.liquidity, filledQuantity: str(filled), leavesQuantity: str(orderQuantity.minus(filled)), leverage: f.leverage,
    liquidationFee: str(f.liquidationFee),
  };
}

/** What the venue reports (a driven venue's matching at each tick, a live venue's pushes and queries), on the order streams. */
export class VenueEventRecorder {
  constructor(
    private readonly state: ExecutionState,
    private readonly streams: ExecutionStreams,
    private readonly protection: ExchangeProtection,
    private readonly log: Logger,
  ) {}

  /** One step of the market path: a driven venue matches and the results are recorded. */
  async onTick(tick: MarketTick): Promise<void> {
    const venue = this.state.venue;
    if (tick.venue === this.state.venueId && isDriven(venue)) {
      const out = await venue.advance(tick.symbol, tick, tick.funding);
      if (out.length > 0) await this.record(out, causedByTick(tick));
    }
  }

  /**
   * Record what the venue reports: fills on their order streams (a venue-generated order —
   * a liquidation, or an order no stream knows — is initialised first), expiries; funding is
   * accounting's. When a fill leaves a position flat, its remaining exchange stops are cancelled.
   */
  async record(events: readonly PaperVenueEvent[], c: Causation): Promise<void> {
    for (const ev of events) {
      if (ev.kind === 'fill') {
        const f = ev.fill;
        const known = await this.streams.loadOrder(f.clientOrderId);
        const cmds: OrderCommand[] = [];
        if (known.state.status === 'NONE') {
          cmds.push(
            {
              kind: 'InitializeOrder',
              data: {
                clientOrderId: f.clientOrderId, accountId: f.accountId, venue: this.state.venueId, symbol: f.symbol, side: f.side, type: 'MARKET',
                quantity: str(f.quantity), price: null, timeInForce: null, reduceOnly: true, purpose: f.venueGenerated ? 'LIQUIDATION' : f.purpose, leverage: f.leverage,
                sourceStreamId: Streams.venue(f.accountId, this.state.venueId), sourceEventId: `${f.venueGenerated ? 'liquidation' : 'venue-order'}-${f.venueOrderId}`, triggerPrice: str(f.price),
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
        const fill = fillData(this.state.venueId, f, purpose, known.state.filledQuantity, orderQuantity);
        // A conditional order's stream tracks its algo id; the fill is of the market order it became.
        const conditional = known.state.order?.type === 'STOP_MARKET' || known.state.order?.type === 'TAKE_PROFIT_MARKET';
        if (conditional && known.state.venueOrderId) fill.venueOrderId = known.state.venueOrderId;
        cmds.push({ kind: 'RecordFill', fill });
        const after = await this.streams.orderCommands(f.clientOrderId, cmds, c);
        // Only a trade the order took counts in the net position: a refused one is not a fact of the log.
        if (after.tradeIds.includes(f.tradeId)) await this.applyToNet(fill, c);
      } else if (ev.kind === 'rejected') {
        const known = await this.streams.loadOrder(ev.clientOrderId);
        if (known.state.status !== 'NONE' && !TERMINAL_ORDER_STATUSES.has(known.state.status as never)) await this.streams.orderCommands(ev.clientOrderId, [{ kind: 'RecordExpired' }], c);
      }
    }
  }

  /** Track the net position from fills; when it goes flat, cancel the exchange stops left for it. */
  private async applyToNet(f: EventData<'OrderFilled'>, c: Causation): Promise<void> {
    const p = foldNet(this.state.net, f, this.log);
    if (p.status === 'OPEN' || !hasProtection(this.state.venue)) return;
    await this.protection.cancelForFlatPosition(f.accountId, f.symbol, c);
  }
}
