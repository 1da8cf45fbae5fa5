import { type EventData, type RecordedEvent, event } from '@bulwark/contracts';
import { ACCOUNT_DEFAULTS, type Rules, clientOrderIdFor, dec, str } from '@bulwark/domain';
import { type Causation, causedBy } from '@bulwark/messaging';
import type { Logger } from '@nestjs/common';
import { killSwitchRefusal } from './order-routing';
import { type ExecutionState, type Protective, hasProtection } from './state';
import type { ExecutionStreams } from './streams';
import { venuesLib } from '../venues-lib';

/**
 * Exchange stops (EXCHANGE / BOTH protection): reduce-only STOP_MARKET / TAKE_PROFIT_MARKET
 * algo orders at the venue, placed with the stop, resized with the position, cancelled when
 * the position is flat; and the operator's alert when a stop cannot close its position.
 */
export class ExchangeProtection {
  /**
   * @param rulesFor a symbol's instrument rules, loaded when first needed (instrument-rules.ts
   *   `ensureInstrumentRules`): the venue reads them when it takes a stop
   */
  constructor(
    private readonly state: ExecutionState,
    private readonly streams: ExecutionStreams,
    private readonly log: Logger,
    private readonly rulesFor: (symbol: string) => Promise<Rules>,
  ) {}

  /**
   * EXCHANGE / BOTH protection: place the stop-loss (and take-profit) of a new position as
   * reduce-only conditional orders at the venue. The venue port reads each back after placing
   * (`LiveVenuePort.placeProtectiveOrder`): only an order the venue reports as requested is
   * accepted; a mismatch is a rejection, an order it could not read back an unknown status.
   */
  async placeExchangeStops(e: RecordedEvent<'StopPlaced', EventData<'StopPlaced'>>): Promise<void> {
    const p = e.data;
    const cfg = this.state.accounts.get(p.accountId);
    if (!cfg || cfg.protection === 'INTERNAL') return;
    const c = causedBy(e);
    if (!hasProtection(this.state.venue)) {
      await this.streams.appendVenue(p.accountId, [event('VenueAlert', { kind: 'PROTECTION_FAILED', detail: `venue ${this.state.venueId} takes no exchange stops here: the internal stop protects ${e.streamId}`, until: null })], c);
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
    const venue = this.state.venue;
    if (!hasProtection(venue)) return;
    const seq = e.streamId.slice(e.streamId.lastIndexOf('-') + 1);
    const c = causedBy(e);
    for (const old of [...this.state.protective.values()]) {
      if (old.stopStreamId !== e.streamId || !old.accepted) continue;
      const quantity = dec(e.data.quantity);
      if (old.quantity.eq(quantity)) continue;
      const id = clientOrderIdFor(old.accountId, `p${seq}z${e.revision}`, old.kind === 'STOP_LOSS' ? 'S' : 'T');
      await this.placeProtective({ ...old, clientOrderId: id, quantity, accepted: false }, e.streamId, e.metadata.eventId, c);
      await this.streams.orderCommands(old.clientOrderId, [{ kind: 'RequestCancel', reason: `replaced by ${id} for ${e.data.quantity}` }], c);
      const r = await venue.cancelProtectiveOrder(old.accountId, old.symbol, old.clientOrderId);
      await this.streams.orderCommands(old.clientOrderId, [r.ok ? { kind: 'RecordCanceled' } : { kind: 'RecordCancelRejected', code: r.error.code, message: r.error.message }], c);
    }
  }

  /** The position of `account|symbol` went flat: cancel the exchange stops left for it. */
  async cancelForFlatPosition(accountId: string, symbol: string, c: Causation): Promise<void> {
    const venue = this.state.venue;
    if (!hasProtection(venue)) return;
    for (const p of [...this.state.protective.values()]) {
      if (p.accountId !== accountId || p.symbol !== symbol || !p.accepted) continue;
      await this.streams.orderCommands(p.clientOrderId, [{ kind: 'RequestCancel', reason: 'position closed' }], c);
      const r = await venue.cancelProtectiveOrder(p.accountId, p.symbol, p.clientOrderId);
      await this.streams.orderCommands(p.clientOrderId, [r.ok ? { kind: 'RecordCanceled' } : { kind: 'RecordCancelRejected', code: r.error.code, message: r.error.message }], c);
    }
  }

  /** Record one exchange stop on its order stream, place it at the venue, record the venue's answer. */
  async placeProtective(p: Protective, sourceStreamId: string, sourceEventId: string, c: Causation): Promise<void> {
    const venue = this.state.venue;
    if (!hasProtection(venue)) return;
    const existing = await this.streams.loadOrder(p.clientOrderId);
    if (existing.state.status !== 'NONE') return; // redelivery
    const data: EventData<'OrderInitialized'> = {
      clientOrderId: p.clientOrderId, accountId: p.accountId, venue: this.state.venueId, symbol: p.symbol, side: p.side,
      type: p.kind === 'STOP_LOSS' ? 'STOP_MARKET' : 'TAKE_PROFIT_MARKET', quantity: str(p.quantity), price: null, timeInForce: null,
      reduceOnly: true, purpose: p.kind, leverage: null, sourceStreamId, sourceEventId, triggerPrice: str(p.triggerPrice),
    };
    const refusal = killSwitchRefusal(this.state, data);
    if (refusal) {
      await this.streams.orderCommands(p.clientOrderId, [{ kind: 'InitializeOrder', data }, { kind: 'DenyOrder', code: refusal.code, message: refusal.message }], c);
      return;
    }
    // A stop protects a position: without its symbol's rules it still goes to the venue, which refuses it
    // if it cannot take it (recorded, and alerted below, with the internal stop protecting the position).
    await this.rulesFor(p.symbol).catch((e: Error) => this.log.error(`exchange ${p.kind} ${p.clientOrderId}: ${e.message}`));
    this.state.protective.set(p.clientOrderId, p);
    await this.streams.orderCommands(p.clientOrderId, [{ kind: 'InitializeOrder', data }, { kind: 'SubmitOrder' }], c);
    const workingType = this.state.accounts.get(p.accountId)?.workingType ?? ACCOUNT_DEFAULTS.workingType; // the price the account's stops trigger on
    const r = await venue.placeProtectiveOrder(p.accountId, { clientAlgoId: p.clientOrderId, symbol: p.symbol, side: p.side, kind: p.kind, triggerPrice: p.triggerPrice, quantity: p.quantity, workingType });
    if (!r.ok) {
      // Placed but not readable back: the venue may hold it; reconciliation settles it.
      const unknown = r.error.code === 'PROTECTION_UNVERIFIED' || venuesLib().classifyVenueError(r.error.code).outcomeUnknown;
      await this.streams.orderCommands(p.clientOrderId, [unknown ? { kind: 'RecordStatusUnknown', detail: `${r.error.code} ${r.error.message}` } : { kind: 'RecordRejected', code: r.error.code, message: r.error.message }], c);
      await this.streams.appendVenue(p.accountId, [event('VenueAlert', { kind: 'PROTECTION_FAILED', detail: `exchange ${p.kind} ${p.clientOrderId} refused: ${r.error.code} ${r.error.message}; the internal stop protects the position`, until: null })], c);
      return;
    }
    await this.streams.orderCommands(p.clientOrderId, [{ kind: 'RecordAccepted', venueOrderId: r.value.algoId }], c);
  }

  /** A stop could not close its position after several attempts: the operator must know (retrying goes on). */
  async protectionFailed(e: RecordedEvent<'ProtectionFailed', EventData<'ProtectionFailed'>>): Promise<void> {
    const p = e.data;
    const detail = `${p.attempts} closes of ${p.positionStreamId} failed (last: ${p.lastCode} ${p.lastMessage}); the close is retried until the position is flat`;
    this.log.error(`protection failed: ${detail}`);
    await this.streams.appendVenue(p.accountId, [event('VenueAlert', { kind: 'PROTECTION_FAILED', detail, until: null })], causedBy(e));
  }
}
