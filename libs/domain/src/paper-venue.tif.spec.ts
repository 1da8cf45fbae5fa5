import type { PathStep } from './market-path';
import { dec, str } from './money';
import { IOC_EXPIRED, PaperVenue, VenueErrors, type PaperFill, type PaperOrderRequest, type PaperStep, type PaperVenueEvent, type PaperVenueOptions } from './paper-venue';
import { barAt, indexOf, RULES, steps } from '../test/real-btcusdt';

// Time in force of LIMIT orders (GTC, IOC, FOK, GTX) on real Binance USD-M BTCUSDT data
// (shared/data, see PROVENANCE.md): tick 0.1, step 0.001, VIP 0 fees (taker 0.0005, maker
// 0.0002) and the 1m klines of 2025-11-10 (the numbers paper-venue.partial.spec.ts works from):
//   00:00 … C 104587.7 (the last price once its four steps ran)
//   00:01 O 104587.8 H 104587.8 L 104412 C 104427.3 V 261.514 (falling: s0 ⇒ 104587.8 gap,
//         s1 104587.8 → 104587.8, s2 104587.8 → 104412, s3 104412 → 104427.3)
// VOLUME_SHARE 0.001 lets an order take 0.001 × 261.514 / 4 = 0.0653785 → 0.065 per 00:01 step.
// Semantics: Binance "New Order (TRADE)" timeInForce and error codes -5021 / -5022
// (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Order,
// https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code).

const SYMBOL = 'BTCUSDT';
const ACC = 'acc1';
const BAR_0000 = '2025-11-10T00:00:00Z';
const BAR_0001 = '2025-11-10T00:01:00Z';

/** A venue that has seen bar 00:00 (last price 104,587.7), 10,000 USDT, isolated, 20x. */
function venue(options: PaperVenueOptions = {}): PaperVenue {
  const v = new PaperVenue(new Map([[SYMBOL, RULES]]), options);
  v.fund(ACC, dec('10000'));
  expect(v.setOneWayMode(ACC).ok).toBe(true);
  expect(v.setIsolated(ACC, SYMBOL).ok).toBe(true);
  expect(v.setLeverage(ACC, SYMBOL, 20).ok).toBe(true);
  for (const s of withVolume(BAR_0000)) v.step(SYMBOL, s);
  expect(str(v.markPrice(SYMBOL)!)).toBe('104587.7');
  return v;
}
const volumeShare = (share: string): PaperVenueOptions => ({ liquidity: { kind: 'VOLUME_SHARE', share: dec(share) } });
const withVolume = (iso: string): PaperStep[] => steps(iso).map((s: PathStep) => ({ ...s, barVolume: barAt(indexOf(iso)).volume }));

function limit(clientOrderId: string, price: string, quantity: string, timeInForce?: PaperOrderRequest['timeInForce'], side: 'BUY' | 'SELL' = 'BUY'): PaperOrderRequest {
  const o: PaperOrderRequest = { clientOrderId, symbol: SYMBOL, side, type: 'LIMIT', quantity: dec(quantity), price: dec(price), reduceOnly: false, purpose: 'ENTRY', triggerPrice: null };
  return timeInForce === undefined ? o : { ...o, timeInForce };
}
const run = (v: PaperVenue, ss: PaperStep[]): PaperVenueEvent[] => ss.flatMap((s) => v.step(SYMBOL, s));
const fills = (events: PaperVenueEvent[]): PaperFill[] => events.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));
const row = (f: PaperFill) => [f.clientOrderId, str(f.quantity), str(f.price), str(f.fee), f.liquidity];
const rejections = (events: PaperVenueEvent[]) => events.flatMap((e) => (e.kind === 'rejected' ? [[e.clientOrderId, e.code, e.message]] : []));
const status = (v: PaperVenue, clientOrderId: string) => {
  const r = v.order(ACC, { clientOrderId });
  return r && [r.status, str(r.executedQty), str(r.avgPrice)];
};
const wallet = (v: PaperVenue) => str(v.account(ACC)!.walletBalance);
const position = (v: PaperVenue) => {
  const p = v.account(ACC)!.positions[0];
  return p ? [p.side, str(p.quantity), str(p.entryPrice)] : null;
};

describe('PaperVenue: GTX (post-only)', () => {
  it('a BUY GTX at 104,600 ≥ the last price 104,587.7 would take: -5022 with Binance\'s text, no order, no balance change, the client id still free', () => {
    const v = venue();
    const r = v.placeOrder(ACC, limit('g1', '104600', '0.05', 'GTX'));
    expect(r).toEqual({ ok: false, error: { code: '-5022', message: `${VenueErrors.GTX_REJECTED.message} (price 104600, last 104587.7)` } });
    expect(VenueErrors.GTX_REJECTED.message).toBe('Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history.');
    expect(v.order(ACC, { clientOrderId: 'g1' })).toBeNull();
    expect(v.orders(ACC)).toEqual([]);
    expect(v.openOrders(ACC)).toEqual([]);
    expect(wallet(v)).toBe('10000');
    expect(v.isIdle()).toBe(true);
    // "not recorded": the id can be used again.
    expect(v.placeOrder(ACC, limit('g1', '104500', '0.05', 'GTX')).ok).toBe(true);
  });

  it('a BUY GTX at the last price itself (104,587.7) would take too; a SELL GTX at 104,587.6 (≤ last) as well', () => {
    const v = venue();
    expect(v.placeOrder(ACC, limit('g1', '104587.7', '0.05', 'GTX'))).toMatchObject({ ok: false, error: { code: '-5022' } });
    expect(v.placeOrder(ACC, limit('g2', '104587.6', '0.05', 'GTX', 'SELL'))).toMatchObject({ ok: false, error: { code: '-5022' } });
  });

  it('a BUY GTX at 104,500 rests, then fills on 00:01 s2 (104,587.8 → 104,412) as maker at 104,500: fee 0.05 × 104,500 × 0.0002 = 1.045', () => {
    const v = venue();
    expect(v.placeOrder(ACC, limit('g1', '104500', '0.05', 'GTX')).ok).toBe(true);
    expect(status(v, 'g1')).toEqual(['NEW', '0', '0']);
    expect(v.order(ACC, { clientOrderId: 'g1' })!.timeInForce).toBe('GTX');
    const [s0, s1, s2, s3] = withVolume(BAR_0001);
    expect(fills(run(v, [s0, s1]))).toEqual([]);
    expect(fills(v.step(SYMBOL, s2)).map(row)).toEqual([['g1', '0.05', '104500', '1.045', 'MAKER']]);
    expect(fills(v.step(SYMBOL, s3))).toEqual([]);
    expect(status(v, 'g1')).toEqual(['FILLED', '0.05', '104500']);
    expect(position(v)).toEqual(['LONG', '0.05', '104500']);
    expect(wallet(v)).toBe('9998.955'); // 10,000 − 1.045
  });

  it('a resting SELL GTX that a gap jumps through still trades at its own price as maker (a GTC would take at the gap\'s price)', () => {
    // 00:01 s0 jumps from the 00:00 close 104,587.7 to the open 104,587.8.
    const gtx = venue();
    const gtc = venue();
    expect(gtx.placeOrder(ACC, limit('s1', '104587.8', '0.05', 'GTX', 'SELL')).ok).toBe(true);
    expect(gtc.placeOrder(ACC, limit('s1', '104587.8', '0.05', undefined, 'SELL')).ok).toBe(true);
    const [s0] = withVolume(BAR_0001);
    expect(s0.gap).toBe(true);
    // 0.05 × 104,587.8 = 5,229.39: maker fee × 0.0002 = 1.045878, taker × 0.0005 = 2.614695.
    expect(fills(gtx.step(SYMBOL, s0)).map(row)).toEqual([['s1', '0.05', '104587.8', '1.045878', 'MAKER']]);
    expect(fills(gtc.step(SYMBOL, s0)).map(row)).toEqual([['s1', '0.05', '104587.8', '2.614695', 'TAKER']]);
  });
});

describe('PaperVenue: IOC', () => {
  it('VOLUME_SHARE 0.001: an IOC BUY 0.2 at 104,600 fills the step\'s 0.065 at 104,587.8 (taker) and the rest expires at once, keeping its fill', () => {
    const v = venue(volumeShare('0.001'));
    expect(v.placeOrder(ACC, limit('i1', '104600', '0.2', 'IOC')).ok).toBe(true);
    const [s0, ...rest] = withVolume(BAR_0001);
    const e0 = v.step(SYMBOL, s0);
    // fee 0.065 × 104,587.8 × 0.0005 = 3.3991035
    expect(fills(e0).map(row)).toEqual([['i1', '0.065', '104587.8', '3.3991035', 'TAKER']]);
    expect(rejections(e0)).toEqual([['i1', IOC_EXPIRED.code, IOC_EXPIRED.message]]);
    expect(e0.map((e) => e.kind)).toEqual(['fill', 'rejected']);
    expect(status(v, 'i1')).toEqual(['EXPIRED', '0.065', '104587.8']);
    expect(v.openOrders(ACC)).toEqual([]);
    expect(position(v)).toEqual(['LONG', '0.065', '104587.8']);
    expect(wallet(v)).toBe('9996.6008965'); // 10,000 − 3.3991035
    // Gone from the book: the rest of the bar fills nothing more.
    expect(run(v, rest)).toEqual([]);
    expect(status(v, 'i1')).toEqual(['EXPIRED', '0.065', '104587.8']);
  });

  it('an IOC BUY at 104,500 below the step\'s first price 104,587.8 is accepted, then expires with no fill and no position, though s2 later trades through 104,500', () => {
    const v = venue();
    expect(v.placeOrder(ACC, limit('i1', '104500', '0.05', 'IOC')).ok).toBe(true);
    expect(status(v, 'i1')).toEqual(['NEW', '0', '0']);
    const events = run(v, withVolume(BAR_0001));
    expect(fills(events)).toEqual([]);
    expect(rejections(events)).toEqual([['i1', IOC_EXPIRED.code, IOC_EXPIRED.message]]);
    expect(status(v, 'i1')).toEqual(['EXPIRED', '0', '0']);
    expect(position(v)).toBeNull();
    expect(wallet(v)).toBe('10000');
    expect(v.isIdle()).toBe(true);
  });

  it('an IOC that can fill whole under WHOLE liquidity fills at the step\'s first price (a better price than its limit), FILLED, no expiry', () => {
    const v = venue();
    expect(v.placeOrder(ACC, limit('i1', '104600', '0.05', 'IOC')).ok).toBe(true);
    const [s0] = withVolume(BAR_0001);
    const e0 = v.step(SYMBOL, s0);
    // fee 0.05 × 104,587.8 × 0.0005 = 2.614695
    expect(e0.map((e) => e.kind)).toEqual(['fill']);
    expect(fills(e0).map(row)).toEqual([['i1', '0.05', '104587.8', '2.614695', 'TAKER']]);
    expect(status(v, 'i1')).toEqual(['FILLED', '0.05', '104587.8']);
  });
});

describe('PaperVenue: FOK', () => {
  it('a FOK BUY at 104,500 below the last price 104,587.7 cannot fill at once: -5021 with Binance\'s text, not recorded', () => {
    const v = venue();
    const r = v.placeOrder(ACC, limit('f1', '104500', '0.05', 'FOK'));
    expect(r).toEqual({ ok: false, error: { code: '-5021', message: `${VenueErrors.FOK_REJECTED.message} (price 104500, last 104587.7)` } });
    expect(VenueErrors.FOK_REJECTED.message).toBe('Due to the order could not be filled immediately, the FOK order has been rejected. The order would not be recorded in the order history.');
    expect(v.orders(ACC)).toEqual([]);
    expect(wallet(v)).toBe('10000');
  });

  it('VOLUME_SHARE 0.001: a FOK BUY 0.2 at 104,600 is accepted but the step allows 0.065: refused whole (-5021), EXPIRED with no fill, no position', () => {
    const v = venue(volumeShare('0.001'));
    expect(v.placeOrder(ACC, limit('f1', '104600', '0.2', 'FOK')).ok).toBe(true);
    const events = run(v, withVolume(BAR_0001));
    expect(fills(events)).toEqual([]);
    expect(rejections(events)).toEqual([['f1', '-5021', VenueErrors.FOK_REJECTED.message]]);
    expect(status(v, 'f1')).toEqual(['EXPIRED', '0', '0']);
    expect(position(v)).toBeNull();
    expect(wallet(v)).toBe('10000');
    expect(v.openOrders(ACC)).toEqual([]);
  });

  it('VOLUME_SHARE 0.001: a FOK BUY 0.06 (≤ the step\'s 0.065) fills whole at 104,587.8 as taker', () => {
    const v = venue(volumeShare('0.001'));
    expect(v.placeOrder(ACC, limit('f1', '104600', '0.06', 'FOK')).ok).toBe(true);
    const [s0] = withVolume(BAR_0001);
    const e0 = v.step(SYMBOL, s0);
    // fee 0.06 × 104,587.8 × 0.0005 = 3.137634
    expect(e0.map((e) => e.kind)).toEqual(['fill']);
    expect(fills(e0).map(row)).toEqual([['f1', '0.06', '104587.8', '3.137634', 'TAKER']]);
    expect(status(v, 'f1')).toEqual(['FILLED', '0.06', '104587.8']);
  });
});

describe('PaperVenue: no time in force is GTC, unchanged', () => {
  it('absent and explicit GTC give the same events; the record and snapshot of an absent one carry no timeInForce', () => {
    const absent = venue();
    const gtc = venue();
    expect(absent.placeOrder(ACC, limit('l1', '104600', '0.05')).ok).toBe(true);
    expect(gtc.placeOrder(ACC, limit('l1', '104600', '0.05', 'GTC')).ok).toBe(true);
    expect('timeInForce' in absent.order(ACC, { clientOrderId: 'l1' })!).toBe(false);
    expect(absent.snapshot().resting[0]).not.toHaveProperty('timeInForce');
    expect(gtc.snapshot().resting[0]).toMatchObject({ timeInForce: 'GTC' });
    const a = run(absent, withVolume(BAR_0001));
    const g = run(gtc, withVolume(BAR_0001));
    expect(g).toEqual(a);
    // A marketable GTC keeps its historical fill: the gap step's price as taker.
    expect(fills(a).map(row)).toEqual([['l1', '0.05', '104587.8', '2.614695', 'TAKER']]);
  });

  it('a MARKET order ignores a timeInForce (Binance: LIMIT only): not kept, fills as before', () => {
    const v = venue();
    const o: PaperOrderRequest = { clientOrderId: 'm1', symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.05'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null, timeInForce: 'GTX' };
    expect(v.placeOrder(ACC, o).ok).toBe(true);
    expect('timeInForce' in v.order(ACC, { clientOrderId: 'm1' })!).toBe(false);
    expect(fills(run(v, withVolume(BAR_0001))).map(row)).toEqual([['m1', '0.05', '104587.8', '2.614695', 'TAKER']]);
  });
});
