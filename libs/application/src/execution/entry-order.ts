import type { EventData, RecordedEvent } from '@bulwark/contracts';

/**
 * The order an approved entry becomes (`OrderInitialized` on `order-<clientOrderId>`): the
 * fields `OrderRouting.submitEntry` records, so an entry execution refuses before routing
 * (its symbol's rules could not be had) is recorded as the same order, then denied.
 * MARKET unless risk approved a limit entry (type LIMIT with its price and time in force);
 * a resting entry carries its `goodTillDate`. A child of a split entry (`child`) is the same order
 * with its own client order id and quantity, naming the parent (`parentClientOrderId`).
 */
export function entryOrderInitialized(
  e: Pick<RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>, 'data' | 'streamId'> & { metadata: { eventId: string } },
  child?: { clientOrderId: string; quantity: string },
): EventData<'OrderInitialized'> {
  const a = e.data;
  return {
    clientOrderId: child?.clientOrderId ?? a.clientOrderId, accountId: a.accountId, venue: a.venue, symbol: a.symbol, side: a.side, type: a.type,
    quantity: child?.quantity ?? a.quantity, price: a.price ?? null, timeInForce: a.timeInForce ?? null, reduceOnly: false, purpose: 'ENTRY', leverage: a.leverage,
    sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, triggerPrice: null,
    ...(a.goodTillDate != null ? { goodTillDate: a.goodTillDate } : {}),
    ...(child ? { parentClientOrderId: a.clientOrderId } : {}),
  };
}
