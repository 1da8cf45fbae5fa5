import { randomUUID } from 'node:crypto';
import { event, type EventData, type EventMetadata, type EventType, type NewEvent, type OrderFilled, type OrderInitialized, type RecordedEvent } from '@bulwark/contracts';
import { dec, str } from '@bulwark/domain';

/**
 * What a spec may set of an event's metadata; every field has a default (see {@link eventMetadata}).
 * Times are epoch ms.
 */
export interface MetadataOptions {
  /** Default: a random UUID. */
  eventId?: string;
  /** The market time the event is about, epoch ms. Default: 1. */
  tsEvent?: number;
  /** When the writer made it, epoch ms. Default: `tsEvent`. */
  tsInit?: number;
  /** Default: `'c'`. */
  correlationId?: string;
  /** Default: `correlationId`. */
  causationId?: string;
  /** Default: 1. */
  schemaVersion?: number;
}

/**
 * Event metadata for a spec: `{ eventId, tsEvent, tsInit, correlationId, causationId, schemaVersion }`
 * with the defaults of {@link MetadataOptions} (random eventId, tsEvent 1, tsInit = tsEvent,
 * correlation and causation `'c'`, schema version 1). No hash chain: the store sets it.
 */
export function eventMetadata(o: MetadataOptions = {}): EventMetadata {
  const tsEvent = o.tsEvent ?? 1;
  const correlationId = o.correlationId ?? 'c';
  return {
    eventId: o.eventId ?? randomUUID(),
    tsEvent,
    tsInit: o.tsInit ?? tsEvent,
    correlationId,
    causationId: o.causationId ?? correlationId,
    schemaVersion: o.schemaVersion ?? 1,
  };
}

/**
 * A catalogue event as handed to `EventStore.append`: `{ type, data, metadata }`, the data
 * checked by the compiler against the type's schema, the metadata from {@link eventMetadata}.
 */
export function newEvent<T extends EventType>(type: T, data: EventData<T>, metadata: MetadataOptions = {}): NewEvent<T, EventData<T>> {
  return { ...(event(type, data) as { type: T; data: EventData<T> }), metadata: eventMetadata(metadata) };
}

/**
 * An event of any type with any data, unchecked by the compiler: an unknown type or data that
 * breaks its schema (for a store built with `validate: false`, or to see a refusal), or data
 * built at run time. Same shape and metadata defaults as {@link newEvent}.
 */
export function rawEvent(type: string, data: unknown, metadata: MetadataOptions = {}): NewEvent {
  return { type, data, metadata: eventMetadata(metadata) };
}

/** Where a {@link recordedEvent} was read from, and its metadata. */
export interface RecordedOptions extends MetadataOptions {
  /** `<category>-<id>`, e.g. `order-bw1a2b3c-7E`. */
  streamId: string;
  /** 0-based position inside its stream. Default: 0. */
  revision?: number;
  /** Position in the store's global log, 1-based. Default: 1. */
  position?: number;
}

/**
 * An event as a store returns it (`RecordedEvent`: `{ type, data, metadata, streamId, revision, position }`),
 * for a handler or projection fed without a store. The data is taken as given (parse it first
 * where the code under test sees parsed data).
 */
export function recordedEvent<T extends EventType>(type: T, data: EventData<T>, o: RecordedOptions): RecordedEvent<T, EventData<T>> {
  const { streamId, revision = 0, position = 1, ...metadata } = o;
  return { type, data, streamId, revision, position, metadata: eventMetadata(metadata) };
}

/**
 * A spec's own log, without a store: each call gives the next {@link recordedEvent}, numbered
 * 1, 2, … (its revision, its position and its eventId `ev-<n>`), with the metadata `o` sets.
 */
export function recordedLog(o: MetadataOptions = {}): <T extends EventType>(type: T, streamId: string, data: EventData<T>) => RecordedEvent<T, EventData<T>> {
  let n = 0;
  return (type, streamId, data) => {
    n++;
    return recordedEvent(type, data, { ...o, streamId, revision: n, position: n, eventId: `ev-${n}` });
  };
}

/** `OrderSubmitted` of `clientOrderId`, with metadata from {@link eventMetadata}. */
export function orderSubmitted(clientOrderId: string, metadata: MetadataOptions = {}): NewEvent<'OrderSubmitted', EventData<'OrderSubmitted'>> {
  return newEvent('OrderSubmitted', { clientOrderId }, metadata);
}

/**
 * `StrategyAttached` of `accountId` to `donchian-atr` on Binance USDⓈ-M BTCUSDT with free-form
 * `params` (numbers or strings): a valid catalogue event whose params can carry a spec's marks.
 */
export function strategyAttached(accountId: string, params: Record<string, number | string>, metadata: MetadataOptions = {}): NewEvent<'StrategyAttached', EventData<'StrategyAttached'>> {
  return newEvent('StrategyAttached', { accountId, venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params }, metadata);
}

/**
 * `OrderInitialized` data: by default a MARKET BUY entry of 0.010 BTC on Binance USDⓈ-M BTCUSDT
 * at 10x by account `acc1` (client order id `bw-acc1-0001`, approved by event `e1` of
 * `account-<accountId>`), no price, time in force or trigger; `over` replaces any field.
 */
export function orderInitialized(over: Partial<OrderInitialized> = {}): OrderInitialized {
  const accountId = over.accountId ?? 'acc1';
  return {
    clientOrderId: 'bw-acc1-0001',
    accountId,
    venue: 'binance-usdm',
    symbol: 'BTCUSDT',
    side: 'BUY',
    type: 'MARKET',
    quantity: '0.010',
    price: null,
    timeInForce: null,
    reduceOnly: false,
    purpose: 'ENTRY',
    leverage: 10,
    sourceStreamId: `account-${accountId}`,
    sourceEventId: 'e1',
    triggerPrice: null,
    ...over,
  };
}

/** What an {@link orderFilled} needs: the fill's quantity (BTC) and price (USDT per BTC), and what else differs from the defaults. */
export interface FillOptions extends Partial<OrderFilled> {
  quantity: string;
  price: string;
  /** Commission rate on the notional: `fee` = quantity × price × feeRate (USDT). Default: 0.0005 (Binance VIP 0 taker). */
  feeRate?: string;
}

/**
 * `OrderFilled` data: a TAKER fill of `quantity` at `price` on Binance USDⓈ-M BTCUSDT for account
 * `acc1`, an ENTRY BUY at 10x that fills the whole order (`filledQuantity` = quantity,
 * `leavesQuantity` 0), `quoteQuantity` = quantity × price and `fee` = quoteQuantity × feeRate
 * (USDT), no liquidation fee; ids `bw-acc1-0001` / `1` / `t1` unless given. Any field of the
 * event can be given; `quoteQuantity` and `fee` are computed only when not.
 */
export function orderFilled(o: FillOptions): OrderFilled {
  const { feeRate = '0.0005', quantity, price, ...over } = o;
  const notional = dec(quantity).mul(dec(price));
  return {
    clientOrderId: 'bw-acc1-0001',
    venueOrderId: '1',
    tradeId: 't1',
    accountId: 'acc1',
    venue: 'binance-usdm',
    symbol: 'BTCUSDT',
    side: 'BUY',
    purpose: 'ENTRY',
    quantity,
    price,
    quoteQuantity: str(notional),
    fee: str(notional.mul(dec(feeRate))),
    feeAsset: 'USDT',
    liquidity: 'TAKER',
    filledQuantity: quantity,
    leavesQuantity: '0',
    leverage: 10,
    liquidationFee: '0',
    ...over,
  };
}
