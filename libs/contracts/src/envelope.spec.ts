/** Stream ids: every id `Streams` builds parses back into its parts; ids it cannot build are refused. */
import fc from 'fast-check';
import { accountOfStream, candleCorrelationId, parseCandleCorrelationId, parsePositionStreamId, parseStopStreamId, parseStreamId, Streams } from './envelope';
import { VenueId } from './primitives';

const idChar = fc.constantFrom(...'abcXYZ019_-'.split(''));
const accountId = fc.array(idChar, { minLength: 1, maxLength: 64 }).map((a) => a.join(''));
const venue = fc.constantFrom(...VenueId.options);
const symbol = fc.array(fc.constantFrom(...'ABCUSDT019'.split('')), { minLength: 2, maxLength: 20 }).map((a) => a.join(''));
const sequence = fc.integer({ min: 1, max: 999_999_999 });

describe('stream ids: Streams builds, parseStreamId reads back', () => {
  it('position and stop ids round-trip, whatever dashes the account id holds', () => {
    fc.assert(
      fc.property(accountId, venue, symbol, sequence, (a, v, s, n) => {
        const id = Streams.position(a, v, s, n);
        expect(parsePositionStreamId(id)).toEqual({ accountId: a, venue: v, symbol: s, sequence: n });
        expect(parseStopStreamId(Streams.stop(id))).toEqual({ positionStreamId: id, accountId: a, venue: v, symbol: s, sequence: n });
        expect(accountOfStream(id)).toBe(a);
        expect(accountOfStream(Streams.stop(id))).toBe(a);
      }),
      { numRuns: 500 },
    );
  });

  it('account-scoped, instrument and named ids round-trip', () => {
    fc.assert(
      fc.property(accountId, venue, symbol, (a, v, s) => {
        for (const c of ['account', 'signal', 'ledger', 'monitor', 'chain'] as const) {
          expect(parseStreamId(Streams[c](a))).toEqual({ category: c, accountId: a });
          expect(accountOfStream(Streams[c](a))).toBe(a);
        }
        expect(parseStreamId(Streams.venue(a, v))).toEqual({ category: 'venue', accountId: a, venue: v });
        expect(parseStreamId(Streams.margin(a, s))).toEqual({ category: 'margin', accountId: a, symbol: s });
        expect(parseStreamId(Streams.rules(v, s))).toEqual({ category: 'rules', venue: v, symbol: s });
        expect(parseStreamId(Streams.candles(v, s))).toEqual({ category: 'candles', venue: v, symbol: s });
        expect(parseStreamId(Streams.quarantine(a))).toEqual({ category: 'quarantine', service: a });
        expect(parseStreamId(Streams.lease(a))).toEqual({ category: 'lease', service: a });
        expect(parseStreamId(Streams.replay(a))).toEqual({ category: 'replay', runId: a });
        expect(parseStreamId(Streams.user(a))).toEqual({ category: 'user', username: a });
        expect(accountOfStream(Streams.user(a))).toBeNull();
        expect(accountOfStream(Streams.rules(v, s))).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('order ids round-trip; an order stream names its account only through OrderInitialized', () => {
    fc.assert(
      fc.property(fc.array(idChar, { minLength: 1, maxLength: 36 }).map((a) => a.join('')), accountId, (cid, a) => {
        expect(parseStreamId(Streams.order(cid))).toEqual({ category: 'order', clientOrderId: cid });
        expect(accountOfStream(Streams.order(cid))).toBeNull();
        expect(accountOfStream(Streams.order(cid), new Map([[Streams.order(cid), a]]))).toBe(a);
      }),
    );
  });

  it('candle correlation ids round-trip', () => {
    fc.assert(
      fc.property(venue, symbol, fc.integer({ min: 0, max: 999_999_999_999_999 }), (v, s, t) => {
        expect(parseCandleCorrelationId(candleCorrelationId(v, s, t))).toEqual({ venue: v, symbol: s, openTime: t });
      }),
    );
  });

  it.each([
    ['position-acct-binance-usdm-BTCUSDT-0', 'position number 0'],
    ['position-acct-binance-usdm-BTCUSDT-x', 'position number not a number'],
    ['position-acct-kraken-BTCUSDT-1', 'unknown venue'],
    ['position-acct-binance-usdm-btcusdt-1', 'lower-case symbol'],
    ['position-binance-usdm-BTCUSDT-1', 'no account'],
    [`position-${'a'.repeat(65)}-binance-usdm-BTCUSDT-1`, 'account id longer than 64'],
    ['position-a.b-binance-usdm-BTCUSDT-1', 'a dot in the account id'],
    ['stop-acct-binance-usdm-BTCUSDT-1', 'a stop that names no position stream'],
    ['order-', 'empty client order id'],
    [`order-${'a'.repeat(37)}`, 'client order id longer than 36'],
    ['venue-acct-nowhere', 'unknown venue'],
    ['rules-binance-usdm-B', 'one-character symbol'],
    ['widget-acct', 'unknown category'],
    ['account-', 'empty account id'],
    ['', 'empty'],
  ])('refuses %s (%s)', (id) => {
    expect(parseStreamId(id)).toBeNull();
    expect(parsePositionStreamId(id)).toBeNull();
    expect(parseStopStreamId(id)).toBeNull();
    expect(accountOfStream(id)).toBeNull();
  });

  it('refuses correlation ids that are not candles', () => {
    for (const c of ['candle-binance-usdm-BTCUSDT-', 'candle-kraken-BTCUSDT-1', 'req-123', 'candle-binance-usdm-BTCUSDT-1.5']) expect(parseCandleCorrelationId(c)).toBeNull();
  });
});
