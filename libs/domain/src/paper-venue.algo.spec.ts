import type { PathStep } from './market-path';
import { dec, str, type D } from './money';
import { PaperVenue, type PaperAlgoOrderRequest, type PaperFill, type PaperOrderRequest, type PaperVenueEvent } from './paper-venue';
import { BAR_COUNT, indexOf, RULES, steps, stepsAt } from '../test/real-btcusdt';

// Order records, trades and conditional ("algo") orders of the paper venue, on real Binance
// USD-M BTCUSDT data (shared/data, see PROVENANCE.md): mainnet filters (tick 0.1, MARKET step
// 0.001, MARKET max 120), the 2025-11-20 leverage brackets, VIP 0 taker fee 0.0005, and the
// 1m klines of 2025-11-10 … 2025-12-10.

const SYMBOL = 'BTCUSDT';
const ACC = 'acc1';

function venue(opts: { fund?: string; leverage?: number } = {}): PaperVenue {
  const v = new PaperVenue(new Map([[SYMBOL, RULES]]));
  v.fund(ACC, dec(opts.fund ?? '10000'));
  expect(v.setOneWayMode(ACC).ok).toBe(true);
  expect(v.setIsolated(ACC, SYMBOL).ok).toBe(true);
  expect(v.setLeverage(ACC, SYMBOL, opts.leverage ?? 20).ok).toBe(true);
  return v;
}

function order(clientOrderId: string, over: Partial<PaperOrderRequest> = {}): PaperOrderRequest {
  return { clientOrderId, symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.05'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null, ...over };
}

function algo(clientAlgoId: string, over: Partial<PaperAlgoOrderRequest> = {}): PaperAlgoOrderRequest {
  return { clientAlgoId, symbol: SYMBOL, side: 'SELL', type: 'STOP_MARKET', triggerPrice: dec('104500'), quantity: dec('0.05'), closePosition: false, reduceOnly: true, ...over };
}

function place(v: PaperVenue, o: PaperOrderRequest): string {
  const r = v.placeOrder(ACC, o);
  if (!r.ok) throw new Error(`expected acceptance, got ${r.error.code} ${r.error.message}`);
  return r.value.venueOrderId;
}

function placeAlgo(v: PaperVenue, a: PaperAlgoOrderRequest): string {
  const r = v.placeAlgoOrder(ACC, a);
  if (!r.ok) throw new Error(`expected acceptance, got ${r.error.code} ${r.error.message}`);
  return r.value.algoId;
}

function rejectedAlgo(v: PaperVenue, a: PaperAlgoOrderRequest, account = ACC) {
  const r = v.placeAlgoOrder(account, a);
  if (r.ok) throw new Error(`expected a rejection, got algo ${r.value.algoId}`);
  return r.error;
}

const run = (v: PaperVenue, ss: PathStep[]): PaperVenueEvent[] => ss.flatMap((s) => v.step(SYMBOL, s));

/** Any object with its decimals as strings, for exact comparison. */
function plain(x: object): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const src = ('kind' in x && x.kind === 'fill' && 'fill' in x ? { kind: 'fill', ...(x.fill as object) } : x) as Record<string, unknown>;
  for (const [k, val] of Object.entries(src)) o[k] = val !== null && typeof val === 'object' && 'toFixed' in val ? str(val as D) : val;
  return o;
}
const fills = (events: PaperVenueEvent[]): PaperFill[] => events.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));
const kinds = (events: PaperVenueEvent[]) => events.map((e) => (e.kind === 'fill' ? `fill:${e.fill.clientOrderId}` : e.kind === 'rejected' ? `rejected:${e.clientOrderId}` : e.kind));
const wallet = (v: PaperVenue) => str(v.account(ACC)!.walletBalance);
const position = (v: PaperVenue) => {
  const p = v.account(ACC)!.positions[0];
  return p ? { side: p.side, quantity: str(p.quantity), entryPrice: str(p.entryPrice) } : null;
};

// 2025-11-10 00:00: O 104670.7 H 104670.7 L 104570.6 C 104587.7 (falling: O → H → L → C).
// 00:01: O 104587.8 H 104587.8 L 104412 C 104427.3 (falling). Its steps:
//   s0 104587.7 ⇒ 104587.8 (gap, ts …860000), s1 104587.8 → 104587.8 (…880000),
//   s2 104587.8 → 104412 (…900000), s3 104412 → 104427.3 (…919999).
const BAR_0000 = '2025-11-10T00:00:00Z';
const BAR_0001 = '2025-11-10T00:01:00Z';
const T_0000_CLOSE = Date.parse(BAR_0000) + 59_999;
const T_S0 = Date.parse(BAR_0001);
const T_S2 = T_S0 + 40_000;

/** A position of 0.05 BTC (long for BUY) filled at the 00:01 open 104,587.8 (s0); returns the venue and the 00:01 steps. */
function positioned(side: 'BUY' | 'SELL' = 'BUY', quantity = '0.05') {
  const v = venue();
  run(v, steps(BAR_0000));
  place(v, order('e1', { side, quantity: dec(quantity) }));
  const ss = steps(BAR_0001);
  expect(ss.map((s) => [s.from, s.to])).toEqual([['104587.7', '104587.8'], ['104587.8', '104587.8'], ['104587.8', '104412'], ['104412', '104427.3']]);
  const [f] = fills(v.step(SYMBOL, ss[0]));
  expect(str(f.price)).toBe('104587.8');
  return { v, ss };
}

describe('PaperVenue: clock and mark', () => {
  it('now() is 0 and markPrice null before any step; then the last step’s ts and `to`', () => {
    const v = venue();
    expect(v.now()).toBe(0);
    expect(v.markPrice(SYMBOL)).toBeNull();
    const ss = steps(BAR_0000);
    v.step(SYMBOL, ss[0]);
    expect([v.now(), str(v.markPrice(SYMBOL)!)]).toEqual([Date.parse(BAR_0000), '104670.7']);
    run(v, ss.slice(1));
    expect([v.now(), str(v.markPrice(SYMBOL)!)]).toEqual([T_0000_CLOSE, '104587.7']);
    expect(v.step('ETHUSDT', { from: '1', to: '2', gap: false, ts: T_0000_CLOSE + 5 })).toEqual([]);
    expect(v.now()).toBe(T_0000_CLOSE); // unknown symbols are not processed
    expect(v.markPrice('ETHUSDT')).toBeNull();
  });
});

describe('PaperVenue: order records and trades', () => {
  it('an entry goes NEW → FILLED with executedQty, avgPrice and updateTime; lookups by clientOrderId and venueOrderId', () => {
    const v = venue();
    run(v, steps(BAR_0000));
    const id = place(v, order('e1'));
    const fresh = { clientOrderId: 'e1', venueOrderId: id, accountId: ACC, status: 'NEW', executedQty: '0', avgPrice: '0', time: T_0000_CLOSE, updateTime: T_0000_CLOSE, type: 'MARKET', quantity: '0.05' };
    expect(plain(v.order(ACC, { clientOrderId: 'e1' })!)).toMatchObject(fresh);
    v.step(SYMBOL, steps(BAR_0001)[0]);
    const filled = { ...fresh, status: 'FILLED', executedQty: '0.05', avgPrice: '104587.8', updateTime: T_S0 };
    expect(plain(v.order(ACC, { clientOrderId: 'e1' })!)).toMatchObject(filled);
    expect(plain(v.order(ACC, { venueOrderId: id })!)).toMatchObject(filled);
    expect(v.order(ACC, { clientOrderId: 'nope' })).toBeNull();
    expect(v.order('other', { venueOrderId: id })).toBeNull(); // another account's order is not visible
    expect(v.order(ACC, {})).toBeNull();
  });

  it('records are copies: mutating one does not change the venue', () => {
    const { v } = positioned();
    const r = v.order(ACC, { clientOrderId: 'e1' })!;
    r.status = 'CANCELED';
    expect(v.order(ACC, { clientOrderId: 'e1' })!.status).toBe('FILLED');
  });

  it('cancelOrder sets CANCELED; cancelAllOrders cancels every resting order of the symbol and returns their records', () => {
    const { v, ss } = positioned();
    v.step(SYMBOL, ss[1]);
    place(v, order('l1', { type: 'LIMIT', price: dec('104000'), quantity: dec('0.01') }));
    place(v, order('l2', { type: 'LIMIT', side: 'SELL', price: dec('105000'), quantity: dec('0.01'), reduceOnly: true, purpose: 'TAKE_PROFIT' }));
    place(v, order('l3', { type: 'LIMIT', price: dec('103000'), quantity: dec('0.01') }));
    placeAlgo(v, algo('sl1'));
    expect(v.cancelOrder(ACC, 'l2').ok).toBe(true);
    expect(v.order(ACC, { clientOrderId: 'l2' })).toMatchObject({ status: 'CANCELED', updateTime: ss[1].ts });
    expect(v.cancelAllOrders(ACC, 'ETHUSDT')).toEqual([]);
    expect(v.cancelAllOrders('other', SYMBOL)).toEqual([]);
    const canceled = v.cancelAllOrders(ACC, SYMBOL);
    expect(canceled.map((o) => [o.clientOrderId, o.status])).toEqual([['l1', 'CANCELED'], ['l3', 'CANCELED']]);
    expect(v.openOrders(ACC)).toEqual([]);
    expect(v.openAlgoOrders(ACC).map((a) => a.clientAlgoId)).toEqual(['sl1']); // algo orders have their own cancel-all
    expect(v.orders(ACC).map((o) => [o.clientOrderId, o.status])).toEqual([['e1', 'FILLED'], ['l1', 'CANCELED'], ['l2', 'CANCELED'], ['l3', 'CANCELED']]);
    expect(v.orders(ACC, 'ETHUSDT')).toEqual([]);
  });

  // 20x long 0.5 BTC at the 2025-11-11 01:23 open 107,233.4 (after the 01:22 top); LP
  // 102,280.853… is crossed on 2025-11-12 15:52:40 (102,600 → 102,100, fraction 0.638…).
  const ENTRY_BAR = '2025-11-11T01:23:00Z';
  const LIQ_STEP_TS = Date.parse('2025-11-12T15:52:40Z');
  function longAtTheTop(): PaperVenue {
    const v = venue({ leverage: 20 });
    run(v, stepsAt(indexOf(ENTRY_BAR) - 1));
    place(v, order('e1', { quantity: dec('0.5') }));
    expect(fills(v.step(SYMBOL, steps(ENTRY_BAR)[0])).map((f) => str(f.price))).toEqual(['107233.4']);
    return v;
  }
  function runToLiquidationStep(v: PaperVenue, before?: (s: PathStep) => void): PaperVenueEvent[] {
    for (let i = indexOf(ENTRY_BAR) + 1; i < BAR_COUNT; i++) {
      for (const s of stepsAt(i)) {
        before?.(s);
        const events = v.step(SYMBOL, s);
        if (s.ts === LIQ_STEP_TS) return events;
        expect(events).toEqual([]);
      }
    }
    throw new Error('liquidation step not found');
  }

  it('a liquidation gets a FILLED record (MARKET, reduce-only, LIQUIDATION); a reduce-only close refused at fill time becomes EXPIRED; trades lists every fill in order', () => {
    const v = longAtTheTop();
    const events = runToLiquidationStep(v, (s) => {
      if (s.ts === LIQ_STEP_TS) place(v, order('s1', { side: 'SELL', quantity: dec('0.5'), reduceOnly: true, purpose: 'STOP_LOSS', triggerPrice: dec('102200') }));
    });
    expect(kinds(events)).toEqual([`fill:${fills(events)[0].clientOrderId}`, 'rejected:s1']);
    const liq = fills(events)[0];
    expect(liq.purpose).toBe('LIQUIDATION');
    expect(plain(v.order(ACC, { clientOrderId: liq.clientOrderId })!)).toEqual({
      clientOrderId: liq.clientOrderId, symbol: SYMBOL, side: 'SELL', type: 'MARKET', quantity: '0.5', price: null, reduceOnly: true, purpose: 'LIQUIDATION', triggerPrice: null,
      accountId: ACC, venueOrderId: liq.venueOrderId, status: 'FILLED', executedQty: '0.5', avgPrice: '102280.8534136546184738955823293172690763', time: LIQ_STEP_TS, updateTime: LIQ_STEP_TS,
    });
    expect(v.order(ACC, { clientOrderId: 's1' })).toMatchObject({ status: 'EXPIRED', executedQty: dec(0), updateTime: LIQ_STEP_TS });
    expect(v.trades(ACC).map((f) => [f.clientOrderId, f.purpose, str(f.price)])).toEqual([
      ['e1', 'ENTRY', '107233.4'],
      [liq.clientOrderId, 'LIQUIDATION', '102280.8534136546184738955823293172690763'],
    ]);
    expect(v.trades(ACC, 'ETHUSDT')).toEqual([]);
    expect(v.trades('other')).toEqual([]);
    expect(v.orders(ACC).map((o) => o.status)).toEqual(['FILLED', 'EXPIRED', 'FILLED']); // e1, s1, the liquidation (placement order)
  });

  it('an algo stop beyond the liquidation price: the liquidation comes first, then the algo triggers, is refused (-2022) and EXPIRES', () => {
    const v = longAtTheTop();
    const algoId = placeAlgo(v, algo('sl1', { triggerPrice: dec('102200'), quantity: dec('0.5') })); // 102,200 < LP: fraction 0.8 > 0.638
    const events = runToLiquidationStep(v);
    expect(kinds(events)).toEqual([`fill:${fills(events)[0].clientOrderId}`, 'algoTriggered', 'rejected:sl1']);
    expect(fills(events)[0].purpose).toBe('LIQUIDATION');
    const orderId = v.algoOrder(ACC, { algoId })!.actualOrderId!;
    expect(events[1]).toEqual({ kind: 'algoTriggered', accountId: ACC, symbol: SYMBOL, algoId, clientAlgoId: 'sl1', venueOrderId: orderId, ts: LIQ_STEP_TS });
    expect(events[2]).toEqual({ kind: 'rejected', accountId: ACC, clientOrderId: 'sl1', code: '-2022', message: 'ReduceOnly Order is rejected.', ts: LIQ_STEP_TS });
    expect(v.algoOrder(ACC, { clientAlgoId: 'sl1' })).toMatchObject({ status: 'EXPIRED', updateTime: LIQ_STEP_TS });
    expect(v.order(ACC, { venueOrderId: orderId })).toMatchObject({ clientOrderId: 'sl1', status: 'EXPIRED', purpose: 'STOP_LOSS', reduceOnly: true });
    expect(v.openAlgoOrders(ACC)).toEqual([]);
    expect(wallet(v)).toBe('7292.35665'); // 10,000 − fee 26.80835 − the whole margin 2,680.835
  });

  it('an algo stop above the liquidation price on the same step (102,400: fraction 0.4) closes first; no liquidation', () => {
    const v = longAtTheTop();
    // Placed just before that step (mark 102,600): the price was already at 102,400 earlier
    // (2025-11-11 21:38:20) without reaching the LP, so an algo placed at the entry would fire there.
    const events = runToLiquidationStep(v, (s) => {
      if (s.ts === LIQ_STEP_TS) placeAlgo(v, algo('sl1', { triggerPrice: dec('102400'), quantity: dec('0.5') }));
    });
    // PnL = (102,400 − 107,233.4) × 0.5 = −2,416.7; fee = 0.5 × 102,400 × 0.0005 = 25.6
    expect(kinds(events)).toEqual(['algoTriggered', 'fill:sl1']);
    expect(plain(events[1])).toMatchObject({ price: '102400', fee: '25.6', realisedPnl: '-2416.7', purpose: 'STOP_LOSS', liquidity: 'TAKER' });
    expect(position(v)).toBeNull();
    expect(wallet(v)).toBe('7530.89165'); // 10,000 − 26.80835 − 2,416.7 − 25.6
  });
});

describe('PaperVenue: placeAlgoOrder validations (mark 104,587.7, the 00:00 close)', () => {
  const ready = () => {
    const v = venue();
    run(v, steps(BAR_0000));
    return v;
  };

  it.each([
    // [type, side, trigger]: at or beyond the mark in the trigger direction → -2021
    ['STOP_MARKET', 'SELL', '104587.7'], // a sell stop needs trigger < mark
    ['STOP_MARKET', 'SELL', '104600'],
    ['TAKE_PROFIT_MARKET', 'BUY', '104587.7'],
    ['TAKE_PROFIT_MARKET', 'BUY', '104600'],
    ['STOP_MARKET', 'BUY', '104587.7'], // a buy stop needs trigger > mark
    ['STOP_MARKET', 'BUY', '104500'],
    ['TAKE_PROFIT_MARKET', 'SELL', '104587.7'],
    ['TAKE_PROFIT_MARKET', 'SELL', '104500'],
  ] as const)('%s %s at %s would immediately trigger → -2021', (type, side, trigger) => {
    expect(rejectedAlgo(ready(), algo('a1', { type, side, triggerPrice: dec(trigger) }))).toEqual({
      code: '-2021',
      message: `Order would immediately trigger. (triggerPrice ${trigger}, mark 104587.7)`,
    });
  });

  it.each([
    ['STOP_MARKET', 'SELL', '104587.6'],
    ['TAKE_PROFIT_MARKET', 'BUY', '104587.6'],
    ['STOP_MARKET', 'BUY', '104587.8'],
    ['TAKE_PROFIT_MARKET', 'SELL', '104587.8'],
  ] as const)('%s %s at %s (one tick on the right side) is accepted, NEW, with the default purpose', (type, side, trigger) => {
    const v = ready();
    const algoId = placeAlgo(v, algo('a1', { type, side, triggerPrice: dec(trigger) }));
    expect(plain(v.algoOrder(ACC, { algoId })!)).toEqual({
      clientAlgoId: 'a1', symbol: SYMBOL, side, type, triggerPrice: trigger, quantity: '0.05', closePosition: false, reduceOnly: true,
      purpose: type === 'STOP_MARKET' ? 'STOP_LOSS' : 'TAKE_PROFIT', accountId: ACC, algoId: '1', status: 'NEW', actualOrderId: null, time: T_0000_CLOSE, updateTime: T_0000_CLOSE,
    });
  });

  it('the other refusals, in their codes and messages', () => {
    const v = ready();
    expect(rejectedAlgo(v, algo('a1'), 'nobody')).toEqual({ code: '-2015', message: 'Invalid API-key, IP, or permissions for action.' });
    expect(rejectedAlgo(v, algo('a1', { symbol: 'ETHUSDT' }))).toEqual({ code: '-1121', message: 'Invalid symbol. ETHUSDT' });
    expect(rejectedAlgo(v, algo('a1', { triggerPrice: dec('0') }))).toEqual({ code: '-4006', message: 'Stop price less than zero.' });
    expect(rejectedAlgo(v, algo('a1', { triggerPrice: dec('104500.05') }))).toEqual({ code: '-1111', message: 'Precision is over the maximum defined for this asset. (triggerPrice 104500.05, tick 0.1)' });
    expect(rejectedAlgo(v, algo('a1', { closePosition: true, reduceOnly: false }))).toEqual({ code: '-4137', message: 'Quantity must be zero with closePosition equals true.' });
    expect(rejectedAlgo(v, algo('a1', { closePosition: true, quantity: null }))).toEqual({ code: '-1106', message: "Parameter sent when not required. ('reduceOnly' with closePosition)" });
    expect(rejectedAlgo(v, algo('a1', { quantity: null }))).toEqual({ code: '-1102', message: "Mandatory parameter was not sent, was empty/null, or malformed. ('quantity')" });
    expect(rejectedAlgo(v, algo('a1', { quantity: dec('0') }))).toEqual({ code: '-4003', message: 'Quantity less than or equal to zero.' });
    expect(rejectedAlgo(v, algo('a1', { quantity: dec('0.0005') }))).toEqual({ code: '-1111', message: 'Precision is over the maximum defined for this asset. (quantity 0.0005, step 0.001)' });
    expect(rejectedAlgo(v, algo('a1', { quantity: dec('120.001') }))).toEqual({ code: '-4005', message: 'Quantity greater than max quantity. quantity 120.001 is above the MARKET maximum 120' });
    expect(v.algoOrders(ACC)).toEqual([]); // a refused clientAlgoId is not burnt
    expect(placeAlgo(v, algo('a1'))).toBe('1');
  });

  it('-4061 before one-way mode; -1121 before the symbol has a price', () => {
    const v = new PaperVenue(new Map([[SYMBOL, RULES]]));
    v.fund(ACC, dec('1000'));
    expect(rejectedAlgo(v, algo('a1'))).toEqual({ code: '-4061', message: "Order's position side does not match user's setting. (set one-way mode first)" });
    v.setOneWayMode(ACC);
    expect(rejectedAlgo(v, algo('a1'))).toEqual({ code: '-1121', message: 'Invalid symbol. (no market price yet)' });
  });

  it('-20132 a clientAlgoId used before by the account, even once canceled; another account may use it', () => {
    const v = ready();
    placeAlgo(v, algo('a1'));
    expect(rejectedAlgo(v, algo('a1'))).toEqual({ code: '-20132', message: 'The client algo id is duplicated. a1' });
    expect(v.cancelAlgoOrder(ACC, { clientAlgoId: 'a1' }).ok).toBe(true);
    expect(rejectedAlgo(v, algo('a1'))).toMatchObject({ code: '-20132' });
    v.fund('acc2', dec('1000'));
    v.setOneWayMode('acc2');
    expect(v.placeAlgoOrder('acc2', algo('a1'))).toEqual({ ok: true, value: { algoId: '2' } });
    expect(v.algoOrder(ACC, { algoId: '2' })).toBeNull(); // not this account's
  });
});

describe('PaperVenue: algo orders triggering on real steps', () => {
  it('a STOP_MARKET SELL 0.05 at 104,500 on a long from 104,587.8 triggers on s2 (104,587.8 → 104,412) and fills there as a taker', () => {
    const { v, ss } = positioned();
    const algoId = placeAlgo(v, algo('sl1'));
    expect(v.step(SYMBOL, ss[1])).toEqual([]); // flat at 104,587.8: not reached
    const events = v.step(SYMBOL, ss[2]);
    // fee = 0.05 × 104,500 × 0.0005 = 2.6125; PnL = (104,500 − 104,587.8) × 0.05 = −4.39
    expect(events.map(plain)).toEqual([
      { kind: 'algoTriggered', accountId: ACC, symbol: SYMBOL, algoId, clientAlgoId: 'sl1', venueOrderId: '2', ts: T_S2 },
      {
        kind: 'fill', accountId: ACC, clientOrderId: 'sl1', venueOrderId: '2', tradeId: '2', symbol: SYMBOL, side: 'SELL', purpose: 'STOP_LOSS',
        quantity: '0.05', price: '104500', fee: '2.6125', liquidity: 'TAKER', leverage: 20, realisedPnl: '-4.39', liquidationFee: '0', venueGenerated: false, ts: T_S2, cumulativeQuantity: '0.05',
      },
    ]);
    expect(position(v)).toBeNull();
    expect(wallet(v)).toBe('9990.382805'); // 10,000 − 2.614695 (entry fee) − 2.6125 − 4.39
    expect(v.algoOrder(ACC, { algoId })).toMatchObject({ status: 'FINISHED', actualOrderId: '2', updateTime: T_S2 });
    expect(plain(v.order(ACC, { clientOrderId: 'sl1' })!)).toMatchObject({
      venueOrderId: '2', type: 'MARKET', side: 'SELL', reduceOnly: true, purpose: 'STOP_LOSS', triggerPrice: '104500', status: 'FILLED', executedQty: '0.05', avgPrice: '104500', time: T_S2, updateTime: T_S2,
    });
    expect(v.openAlgoOrders(ACC)).toEqual([]);
    expect(v.trades(ACC).map((f) => f.clientOrderId)).toEqual(['e1', 'sl1']);
    expect(v.isIdle()).toBe(true);
    expect(v.placeOrder(ACC, order('sl1'))).toMatchObject({ ok: false, error: { code: '-4015' } }); // the order's client id is taken
  });

  it('a TAKE_PROFIT_MARKET BUY 0.05 at 104,450 on a short from 104,587.8 triggers on the same fall: PnL (104,587.8 − 104,450) × 0.05 = 6.89', () => {
    const { v, ss } = positioned('SELL');
    placeAlgo(v, algo('tp1', { type: 'TAKE_PROFIT_MARKET', side: 'BUY', triggerPrice: dec('104450') }));
    expect(run(v, ss.slice(1, 2))).toEqual([]);
    const events = v.step(SYMBOL, ss[2]);
    // fee = 0.05 × 104,450 × 0.0005 = 2.61125
    expect(kinds(events)).toEqual(['algoTriggered', 'fill:tp1']);
    expect(plain(events[1])).toMatchObject({ side: 'BUY', purpose: 'TAKE_PROFIT', price: '104450', fee: '2.61125', realisedPnl: '6.89', liquidity: 'TAKER' });
    expect(wallet(v)).toBe('10001.664055'); // 10,000 − 2.614695 − 2.61125 + 6.89
  });

  it('a STOP_MARKET BUY on a short triggers going up: placed at 104,420 after s2 (mark 104,412), filled on s3 (104,412 → 104,427.3) at 104,420', () => {
    const { v, ss } = positioned('SELL');
    run(v, ss.slice(1, 3));
    expect(str(v.markPrice(SYMBOL)!)).toBe('104412');
    expect(rejectedAlgo(v, algo('x', { side: 'BUY', triggerPrice: dec('104400') })).code).toBe('-2021');
    placeAlgo(v, algo('sl1', { side: 'BUY', triggerPrice: dec('104420') }));
    const events = v.step(SYMBOL, ss[3]);
    // PnL = (104,587.8 − 104,420) × 0.05 = 8.39; fee = 0.05 × 104,420 × 0.0005 = 2.6105
    expect(plain(fills(events)[0])).toMatchObject({ side: 'BUY', price: '104420', fee: '2.6105', realisedPnl: '8.39' });
    expect(wallet(v)).toBe('10003.164805'); // 10,000 − 2.614695 − 2.6105 + 8.39
  });

  it('a TAKE_PROFIT_MARKET SELL on a long triggers going up (s3), not on the fall before it', () => {
    const { v, ss } = positioned();
    run(v, ss.slice(1, 3));
    placeAlgo(v, algo('tp1', { type: 'TAKE_PROFIT_MARKET', triggerPrice: dec('104420') }));
    const events = v.step(SYMBOL, ss[3]);
    // PnL = (104,420 − 104,587.8) × 0.05 = −8.39 (a "take profit" below the entry is still a take-profit order)
    expect(plain(fills(events)[0])).toMatchObject({ side: 'SELL', purpose: 'TAKE_PROFIT', price: '104420', realisedPnl: '-8.39' });
  });

  it('a gap through the trigger fills at the price after the gap: 2025-11-14 04:35 opens at 97,646.9 after the 97,615 close; a BUY stop at 97,630 fills at 97,646.9', () => {
    // 04:34: O 98162.6 H 98269.1 L 97615 C 97615. A short 0.05 queued after 04:33 fills at the 04:34 open 98,162.6.
    const v = venue();
    const i = indexOf('2025-11-14T04:34:00Z');
    run(v, stepsAt(i - 1));
    place(v, order('e1', { side: 'SELL' }));
    expect(fills(run(v, stepsAt(i))).map((f) => str(f.price))).toEqual(['98162.6']);
    expect(str(v.markPrice(SYMBOL)!)).toBe('97615');
    placeAlgo(v, algo('sl1', { side: 'BUY', triggerPrice: dec('97630') }));
    const [s0] = stepsAt(i + 1);
    expect(s0).toMatchObject({ from: '97615', to: '97646.9', gap: true });
    const events = v.step(SYMBOL, s0);
    // PnL = (98,162.6 − 97,646.9) × 0.05 = 25.785; fee = 0.05 × 97,646.9 × 0.0005 = 2.4411725
    expect(fills(events).map((f) => [f.clientOrderId, str(f.price), str(f.realisedPnl), str(f.fee)])).toEqual([['sl1', '97646.9', '25.785', '2.4411725']]);
  });

  it('closePosition closes the whole position at trigger time: 0.05 + 0.03 bought after the algo was placed → SELL 0.08 at 104,500', () => {
    const { v, ss } = positioned();
    placeAlgo(v, algo('cp1', { closePosition: true, quantity: null, reduceOnly: false }));
    place(v, order('e2', { quantity: dec('0.03') }));
    expect(fills(v.step(SYMBOL, ss[1])).map((f) => f.clientOrderId)).toEqual(['e2']); // at 104,587.8
    const events = v.step(SYMBOL, ss[2]);
    // PnL = (104,500 − 104,587.8) × 0.08 = −7.024; fee = 0.08 × 104,500 × 0.0005 = 4.18
    expect(plain(fills(events)[0])).toMatchObject({ clientOrderId: 'cp1', quantity: '0.08', price: '104500', fee: '4.18', realisedPnl: '-7.024' });
    expect(position(v)).toBeNull();
    expect(v.order(ACC, { clientOrderId: 'cp1' })).toMatchObject({ reduceOnly: true, quantity: dec('0.08') });
    expect(v.algoOrder(ACC, { clientAlgoId: 'cp1' })).toMatchObject({ status: 'FINISHED', quantity: null, closePosition: true });
  });

  it('the position closed by another order before the trigger: the algo triggers, its order is rejected (-2022) and the algo EXPIRES', () => {
    const { v, ss } = positioned();
    placeAlgo(v, algo('sl1'));
    place(v, order('c1', { side: 'SELL', reduceOnly: true, purpose: 'CLOSE' }));
    expect(kinds(v.step(SYMBOL, ss[1]))).toEqual(['fill:c1']);
    const events = v.step(SYMBOL, ss[2]);
    expect(kinds(events)).toEqual(['algoTriggered', 'rejected:sl1']);
    expect(events[1]).toEqual({ kind: 'rejected', accountId: ACC, clientOrderId: 'sl1', code: '-2022', message: 'ReduceOnly Order is rejected.', ts: T_S2 });
    expect(v.algoOrder(ACC, { clientAlgoId: 'sl1' })).toMatchObject({ status: 'EXPIRED', actualOrderId: '3' });
    expect(v.order(ACC, { clientOrderId: 'sl1' })).toMatchObject({ status: 'EXPIRED', venueOrderId: '3' });
    expect(v.trades(ACC).map((f) => f.clientOrderId)).toEqual(['e1', 'c1']);
  });

  it('closePosition with no position at trigger time: quantity 0, rejected (-2022), EXPIRED', () => {
    const { v, ss } = positioned();
    placeAlgo(v, algo('cp1', { closePosition: true, quantity: null, reduceOnly: false }));
    place(v, order('c1', { side: 'SELL', reduceOnly: true, purpose: 'CLOSE' }));
    v.step(SYMBOL, ss[1]);
    expect(kinds(v.step(SYMBOL, ss[2]))).toEqual(['algoTriggered', 'rejected:cp1']);
    expect(v.order(ACC, { clientOrderId: 'cp1' })).toMatchObject({ status: 'EXPIRED', quantity: dec(0) });
    expect(v.algoOrder(ACC, { clientAlgoId: 'cp1' })!.status).toBe('EXPIRED');
  });

  it('a non-reduce-only STOP_MARKET BUY opens a position when the price rises to it (a breakout entry)', () => {
    const { v, ss } = positioned('BUY', '0.01');
    run(v, ss.slice(1, 3)); // mark 104,412
    placeAlgo(v, algo('bo1', { side: 'BUY', triggerPrice: dec('104420'), quantity: dec('0.02'), reduceOnly: false, purpose: 'ENTRY' }));
    const events = v.step(SYMBOL, ss[3]);
    expect(plain(fills(events)[0])).toMatchObject({ clientOrderId: 'bo1', side: 'BUY', purpose: 'ENTRY', quantity: '0.02', price: '104420', fee: '1.0442' }); // 0.02 × 104,420 × 0.0005
    // (0.01 × 104,587.8 + 0.02 × 104,420) / 0.03 = (1,045.878 + 2,088.4) / 0.03 = 104,475.9333…
    expect(position(v)).toMatchObject({ side: 'LONG', quantity: '0.03' });
    expect(str(dec(position(v)!.entryPrice).toDecimalPlaces(4))).toBe('104475.9333');
  });

  it('a non-reduce-only algo whose margin is gone at trigger time is refused with -2019 and EXPIRES', () => {
    const v = venue({ fund: '100' });
    const ss = steps(BAR_0000);
    run(v, ss);
    placeAlgo(v, algo('bo1', { side: 'BUY', triggerPrice: dec('104587.8'), quantity: dec('0.1'), reduceOnly: false, purpose: 'ENTRY' }));
    const events = v.step(SYMBOL, steps(BAR_0001)[0]); // gap to 104,587.8 reaches it
    // needs 10,458.78 / 20 + 0.0005 × 10,458.78 = 522.939 + 5.22939 = 528.16839 > 100
    expect(events.map(plain)).toEqual([
      expect.objectContaining({ kind: 'algoTriggered', clientAlgoId: 'bo1' }),
      { kind: 'rejected', accountId: ACC, clientOrderId: 'bo1', code: '-2019', message: 'Margin is insufficient. (needs 528.16839, available 100)', ts: T_S0 },
    ]);
    expect(v.algoOrder(ACC, { clientAlgoId: 'bo1' })!.status).toBe('EXPIRED');
    expect(position(v)).toBeNull();
  });

  it('an algo SL and an internal triggered stop at the same point: the internal stop fills first, then the algo, whatever the placement order', () => {
    const { v, ss } = positioned('BUY', '0.1');
    v.step(SYMBOL, ss[1]);
    placeAlgo(v, algo('algo-sl', { quantity: dec('0.05') }));
    place(v, order('int-sl', { side: 'SELL', quantity: dec('0.05'), reduceOnly: true, purpose: 'STOP_LOSS', triggerPrice: dec('104500') }));
    const events = v.step(SYMBOL, ss[2]);
    expect(kinds(events)).toEqual(['fill:int-sl', 'algoTriggered', 'fill:algo-sl']);
    expect(fills(events).map((f) => [f.clientOrderId, f.venueOrderId, f.tradeId, str(f.price), str(f.realisedPnl)])).toEqual([
      ['int-sl', '2', '2', '104500', '-4.39'],
      ['algo-sl', '3', '3', '104500', '-4.39'],
    ]);
    expect(position(v)).toBeNull();
  });

  it('an earlier trigger wins over rank: an algo at 104,550 (fraction 0.21) fills before an internal stop at 104,500 (fraction 0.5)', () => {
    const { v, ss } = positioned('BUY', '0.1');
    v.step(SYMBOL, ss[1]);
    place(v, order('int-sl', { side: 'SELL', quantity: dec('0.05'), reduceOnly: true, purpose: 'STOP_LOSS', triggerPrice: dec('104500') }));
    placeAlgo(v, algo('algo-sl', { triggerPrice: dec('104550') }));
    expect(fills(v.step(SYMBOL, ss[2])).map((f) => [f.clientOrderId, str(f.price)])).toEqual([
      ['algo-sl', '104550'],
      ['int-sl', '104500'],
    ]);
  });

  it('cancelAlgoOrder by clientAlgoId or algoId: CANCELED, never triggers; a second cancel → -2011', () => {
    const { v, ss } = positioned();
    const a1 = placeAlgo(v, algo('sl1'));
    const a2 = placeAlgo(v, algo('sl2', { triggerPrice: dec('104450') }));
    expect(v.isIdle()).toBe(false);
    expect(v.cancelAlgoOrder(ACC, { clientAlgoId: 'sl1' })).toEqual({ ok: true, value: { algoId: a1 } });
    expect(v.cancelAlgoOrder(ACC, { algoId: a2 })).toEqual({ ok: true, value: { algoId: a2 } });
    expect(v.cancelAlgoOrder(ACC, { algoId: a2 })).toEqual({ ok: false, error: { code: '-2011', message: 'Unknown order sent.' } });
    expect(v.cancelAlgoOrder(ACC, { clientAlgoId: 'nope' })).toMatchObject({ ok: false, error: { code: '-2011' } });
    expect(v.cancelAlgoOrder('other', { algoId: a1 })).toMatchObject({ ok: false, error: { code: '-2011' } });
    expect(v.algoOrder(ACC, { algoId: a1 })).toMatchObject({ status: 'CANCELED', updateTime: T_S0 });
    expect(run(v, ss.slice(1))).toEqual([]);
    expect(position(v)).toMatchObject({ quantity: '0.05' });
  });

  it('cancelAllAlgoOrders cancels the account’s open algo orders of the symbol and returns them; finished ones stay as they were', () => {
    const { v, ss } = positioned();
    placeAlgo(v, algo('sl1'));
    placeAlgo(v, algo('tp1', { type: 'TAKE_PROFIT_MARKET', triggerPrice: dec('105000') }));
    placeAlgo(v, algo('sl2', { triggerPrice: dec('104000') }));
    v.step(SYMBOL, ss[1]);
    v.step(SYMBOL, ss[2]); // sl1 triggers and closes the position
    expect(v.openAlgoOrders(ACC).map((a) => a.clientAlgoId)).toEqual(['tp1', 'sl2']);
    expect(v.openAlgoOrders(ACC, 'ETHUSDT')).toEqual([]);
    expect(v.cancelAllAlgoOrders(ACC, 'ETHUSDT')).toEqual([]);
    expect(v.cancelAllAlgoOrders(ACC, SYMBOL).map((a) => [a.clientAlgoId, a.status])).toEqual([['tp1', 'CANCELED'], ['sl2', 'CANCELED']]);
    expect(v.openAlgoOrders(ACC)).toEqual([]);
    expect(v.algoOrders(ACC).map((a) => [a.clientAlgoId, a.status])).toEqual([['sl1', 'FINISHED'], ['tp1', 'CANCELED'], ['sl2', 'CANCELED']]);
    expect(v.isIdle()).toBe(true);
  });

  it('a clientAlgoId equal to an earlier clientOrderId: the triggered order still uses it; `order` by that id answers the newest', () => {
    const { v, ss } = positioned();
    placeAlgo(v, algo('e1')); // 'e1' is the entry's clientOrderId
    v.step(SYMBOL, ss[1]);
    expect(fills(v.step(SYMBOL, ss[2])).map((f) => [f.clientOrderId, f.venueOrderId])).toEqual([['e1', '2']]);
    expect(v.order(ACC, { clientOrderId: 'e1' })).toMatchObject({ venueOrderId: '2', side: 'SELL' });
    expect(v.order(ACC, { venueOrderId: '1' })).toMatchObject({ clientOrderId: 'e1', side: 'BUY', status: 'FILLED' });
  });
});
