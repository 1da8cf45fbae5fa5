import type { PathStep } from './market-path';
import { dec, str, ZERO, type D } from './money';
import {
  PaperVenue,
  PaperVenueOptionsError,
  splitOnStep,
  type PaperFill,
  type PaperOrderRequest,
  type PaperStep,
  type PaperVenueEvent,
  type PaperVenueOptions,
} from './paper-venue';
import { barAt, indexOf, RULES, steps } from '../test/real-btcusdt';

// Partial fills of the paper venue (opt-in options): VOLUME_SHARE liquidity and trades split
// N ways, on real Binance USD-M BTCUSDT data (shared/data, see PROVENANCE.md): mainnet filters
// (tick 0.1, step and MARKET step 0.001), VIP 0 fees (taker 0.0005, maker 0.0002) and the 1m
// klines of 2025-11-10:
//   00:00 O 104670.7 H 104670.7 L 104570.6 C 104587.7 V 73.095
//   00:01 O 104587.8 H 104587.8 L 104412   C 104427.3 V 261.514 (falling: s0 ⇒ 104587.8 gap,
//         s1 104587.8 → 104587.8, s2 104587.8 → 104412, s3 104412 → 104427.3)
//   00:02 O 104427.2 H 104427.2 L 104259.6 C 104400.8 V 287.333 (falling: s0 ⇒ 104427.2 gap,
//         s1 104427.2 → 104427.2, s2 104427.2 → 104259.6, s3 104259.6 → 104400.8)
// With share 0.001 an order may take 0.001 × V / 4 per step, down to the 0.001 lot:
//   00:01: 0.001 × 261.514 / 4 = 0.0653785 → 0.065;   00:02: 0.001 × 287.333 / 4 = 0.07183325 → 0.071.

const SYMBOL = 'BTCUSDT';
const ACC = 'acc1';
const BAR_0000 = '2025-11-10T00:00:00Z';
const BAR_0001 = '2025-11-10T00:01:00Z';
const BAR_0002 = '2025-11-10T00:02:00Z';
const TAKER = RULES.takerFeeRate;
const MAKER = RULES.makerFeeRate;

function venue(options: PaperVenueOptions = {}, fund = '10000'): PaperVenue {
  const v = new PaperVenue(new Map([[SYMBOL, RULES]]), options);
  v.fund(ACC, dec(fund));
  expect(v.setOneWayMode(ACC).ok).toBe(true);
  expect(v.setIsolated(ACC, SYMBOL).ok).toBe(true);
  expect(v.setLeverage(ACC, SYMBOL, 20).ok).toBe(true);
  return v;
}
const volumeShare = (share: string): PaperVenueOptions => ({ liquidity: { kind: 'VOLUME_SHARE', share: dec(share) } });

function order(clientOrderId: string, over: Partial<PaperOrderRequest> = {}): PaperOrderRequest {
  return { clientOrderId, symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.05'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null, ...over };
}
const close = (clientOrderId: string, quantity: string) => order(clientOrderId, { side: 'SELL', quantity: dec(quantity), reduceOnly: true, purpose: 'CLOSE' });

function place(v: PaperVenue, o: PaperOrderRequest, tradesPerFill?: number): string {
  const r = v.placeOrder(ACC, o, tradesPerFill === undefined ? {} : { tradesPerFill });
  if (!r.ok) throw new Error(`expected acceptance, got ${r.error.code} ${r.error.message}`);
  return r.value.venueOrderId;
}

/** The real bar's four path steps, each carrying the bar's recorded volume. */
const withVolume = (iso: string): PaperStep[] => steps(iso).map((s: PathStep) => ({ ...s, barVolume: barAt(indexOf(iso)).volume }));
const fills = (events: PaperVenueEvent[]): PaperFill[] => events.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));
const sum = (xs: D[]) => xs.reduce((a, b) => a.plus(b), ZERO);
const row = (f: PaperFill) => [f.clientOrderId, f.tradeId, str(f.quantity), str(f.price), str(f.fee), str(f.realisedPnl), f.cumulativeQuantity && str(f.cumulativeQuantity)];
const status = (v: PaperVenue, clientOrderId: string) => {
  const r = v.order(ACC, { clientOrderId })!;
  return [r.status, str(r.executedQty), str(r.avgPrice)];
};
function position(v: PaperVenue) {
  const p = v.account(ACC)!.positions[0];
  return p ? { side: p.side, quantity: str(p.quantity), entryPrice: str(p.entryPrice), isolatedMargin: str(p.isolatedMargin) } : null;
}
const wallet = (v: PaperVenue) => str(v.account(ACC)!.walletBalance);

describe('splitOnStep', () => {
  const q = (x: string, n: number) => splitOnStep(dec(x), dec('0.001'), n).map(str);
  it('splits on the lot step, the last part takes the remainder, never a zero part', () => {
    expect(q('0.012', 3)).toEqual(['0.004', '0.004', '0.004']);
    expect(q('0.010', 3)).toEqual(['0.003', '0.003', '0.004']);
    expect(q('0.005', 2)).toEqual(['0.002', '0.003']);
    expect(q('0.002', 5)).toEqual(['0.001', '0.001']); // 2 lots: 2 trades
    expect(q('0.001', 3)).toEqual(['0.001']);
    expect(q('0.05', 1)).toEqual(['0.05']);
    expect(q('0.0025', 2)).toEqual(['0.001', '0.0015']); // off-grid total (a closePosition of an odd size): still exact
  });
  it('the parts always sum to the total, on the grid, none zero (every total of 1..300 lots, 1..7 ways)', () => {
    for (let lots = 1; lots <= 300; lots++) {
      const total = dec(lots).mul('0.001');
      for (let n = 1; n <= 7; n++) {
        const parts = splitOnStep(total, dec('0.001'), n);
        expect(parts).toHaveLength(Math.min(n, lots));
        expect(sum(parts).eq(total)).toBe(true);
        for (const p of parts) expect(p.gt(0) && p.mod('0.001').isZero()).toBe(true);
      }
    }
  });
});

describe('PaperVenue options', () => {
  it('refuses out-of-range options with a typed error naming the field', () => {
    const make = (o: PaperVenueOptions) => () => new PaperVenue(new Map([[SYMBOL, RULES]]), o);
    expect(make(volumeShare('0'))).toThrow(PaperVenueOptionsError);
    expect(make(volumeShare('1.5'))).toThrow('paper venue option liquidity.share = 1.5: expected a decimal > 0 and <= 1');
    expect(make({ tradesPerFill: 0 })).toThrow('paper venue option tradesPerFill = 0: expected an integer from 1 to 1000');
    expect(make({ tradesPerFill: 2.5 })).toThrow(PaperVenueOptionsError);
    expect(make({ liquidity: { kind: 'NOPE' } as unknown as PaperVenueOptions['liquidity'] })).toThrow("paper venue option liquidity.kind = NOPE: expected 'WHOLE' or 'VOLUME_SHARE'");
    const v = venue();
    for (const s of steps(BAR_0000)) v.step(SYMBOL, s);
    expect(() => v.placeOrder(ACC, order('e1'), { tradesPerFill: -1 })).toThrow(PaperVenueOptionsError);
    expect(v.orders(ACC)).toEqual([]);
    expect(() => v.step(SYMBOL, { ...steps(BAR_0001)[0], barVolume: '-1' })).toThrow('barVolume must be >= 0, got -1');
  });
});

describe('PaperVenue: a fill split into N trades (same step, same price)', () => {
  /** A market BUY 0.012 queued after 00:00 and filled at the 00:01 open 104,587.8, then a reduce-only SELL 0.012 at the 00:02 open 104,427.2. */
  function roundTrip(v: PaperVenue, tradesPerFill?: number) {
    for (const s of steps(BAR_0000)) v.step(SYMBOL, s);
    place(v, order('e1', { quantity: dec('0.012') }), tradesPerFill);
    const entry = fills(steps(BAR_0001).flatMap((s) => v.step(SYMBOL, s)));
    place(v, close('c1', '0.012'), tradesPerFill);
    const exit = fills(v.step(SYMBOL, steps(BAR_0002)[0]));
    return { entry, exit };
  }

  it('3 trades of 0.004 with their own trade ids, cumulative 0.004 / 0.008 / 0.012, fees and PnL exact, the same account as one whole fill', () => {
    const split = venue({ tradesPerFill: 3 });
    const whole = venue();
    const s = roundTrip(split);
    const w = roundTrip(whole);
    // Entry fee per trade: 0.004 × 104,587.8 × 0.0005 = 0.2091756; exit PnL per trade (104,427.2 − 104,587.8) × 0.004 = −0.6424, fee 0.004 × 104,427.2 × 0.0005 = 0.2088544.
    expect(s.entry.map(row)).toEqual([
      ['e1', '1', '0.004', '104587.8', '0.2091756', '0', '0.004'],
      ['e1', '2', '0.004', '104587.8', '0.2091756', '0', '0.008'],
      ['e1', '3', '0.004', '104587.8', '0.2091756', '0', '0.012'],
    ]);
    expect(s.exit.map(row)).toEqual([
      ['c1', '4', '0.004', '104427.2', '0.2088544', '-0.6424', '0.004'],
      ['c1', '5', '0.004', '104427.2', '0.2088544', '-0.6424', '0.008'],
      ['c1', '6', '0.004', '104427.2', '0.2088544', '-0.6424', '0.012'],
    ]);
    for (const f of [...s.entry, ...s.exit]) expect(f.fee.eq(f.quantity.mul(f.price).mul(TAKER))).toBe(true);
    // The same money as the whole fills of a default venue: fees, PnL, wallet.
    expect(w.entry.map(row)).toEqual([['e1', '1', '0.012', '104587.8', '0.6275268', '0', '0.012']]);
    expect(str(sum(s.entry.map((f) => f.fee)))).toBe(str(w.entry[0].fee));
    expect(str(sum(s.exit.map((f) => f.fee)))).toBe(str(w.exit[0].fee));
    expect(str(sum(s.exit.map((f) => f.realisedPnl)))).toBe(str(w.exit[0].realisedPnl));
    expect(wallet(split)).toBe(wallet(whole));
    expect(wallet(split)).toBe('9996.81871'); // 10,000 − 0.6275268 − 0.6265632 − 1.9272
    expect(status(split, 'e1')).toEqual(['FILLED', '0.012', '104587.8']);
    expect(split.trades(ACC).map((t) => t.tradeId)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(split.orderTrades(ACC, split.order(ACC, { clientOrderId: 'c1' })!.venueOrderId).map((t) => str(t.cumulativeQuantity!))).toEqual(['0.004', '0.008', '0.012']);
    expect(split.orderTrades('other', '1')).toEqual([]);
  });

  it('per order (the local venue\'s splitFill fault): only that order is split; the position and isolated margin after each trade are those of one whole fill', () => {
    const v = venue();
    for (const s of steps(BAR_0000)) v.step(SYMBOL, s);
    place(v, order('e1', { quantity: dec('0.012') }), 3);
    place(v, order('e2', { quantity: dec('0.002') }), 5); // 2 lots: only 2 trades
    place(v, order('e3', { quantity: dec('0.01') }));
    const f = fills(v.step(SYMBOL, steps(BAR_0001)[0]));
    expect(f.map((x) => [x.clientOrderId, str(x.quantity), str(x.cumulativeQuantity!)])).toEqual([
      ['e1', '0.004', '0.004'], ['e1', '0.004', '0.008'], ['e1', '0.004', '0.012'],
      ['e2', '0.001', '0.001'], ['e2', '0.001', '0.002'],
      ['e3', '0.01', '0.01'],
    ]);
    // 0.024 at 104,587.8: margin 0.024 × 104,587.8 / 20 = 125.50536
    expect(position(v)).toEqual({ side: 'LONG', quantity: '0.024', entryPrice: '104587.8', isolatedMargin: '125.50536' });
  });
});

describe('PaperVenue: VOLUME_SHARE liquidity on real bar volumes', () => {
  /** share 0.001: a market BUY 0.2 queued after 00:00 fills over the four steps of 00:01. */
  function entry() {
    const v = venue(volumeShare('0.001'));
    for (const s of withVolume(BAR_0000)) v.step(SYMBOL, s);
    place(v, order('e1', { quantity: dec('0.2') }));
    const perStep = withVolume(BAR_0001).map((s) => {
      const f = fills(v.step(SYMBOL, s));
      return { fills: f, status: status(v, 'e1'), position: position(v), idle: v.isIdle(), open: v.openOrders(ACC).length };
    });
    return { v, perStep };
  }

  it('a market entry of 0.2 fills 0.065 a step at each step\'s first price (3 × 104,587.8, then 0.005 at 104,412): fees, entry price and isolated margin exact', () => {
    const { v, perStep } = entry();
    expect(perStep.map((p) => p.fills.map(row))).toEqual([
      [['e1', '1', '0.065', '104587.8', '3.3991035', '0', '0.065']], // fee 0.065 × 104,587.8 × 0.0005
      [['e1', '2', '0.065', '104587.8', '3.3991035', '0', '0.13']],
      [['e1', '3', '0.065', '104587.8', '3.3991035', '0', '0.195']],
      [['e1', '4', '0.005', '104412', '0.26103', '0', '0.2']], // the rest: 0.005 × 104,412 × 0.0005
    ]);
    expect(perStep.map((p) => p.status)).toEqual([
      ['PARTIALLY_FILLED', '0.065', '104587.8'],
      ['PARTIALLY_FILLED', '0.13', '104587.8'],
      ['PARTIALLY_FILLED', '0.195', '104587.8'],
      ['FILLED', '0.2', '104583.405'], // (0.195 × 104,587.8 + 0.005 × 104,412) / 0.2
    ]);
    expect(perStep.map((p) => [p.open, p.idle])).toEqual([[1, false], [1, false], [1, false], [0, false]]);
    // Isolated margin = Σ notional / 20 = (20,394.621 + 522.06) / 20 = 1,045.83405; same entry price as the order's average.
    expect(perStep.map((p) => p.position)).toEqual([
      { side: 'LONG', quantity: '0.065', entryPrice: '104587.8', isolatedMargin: '339.91035' },
      { side: 'LONG', quantity: '0.13', entryPrice: '104587.8', isolatedMargin: '679.8207' },
      { side: 'LONG', quantity: '0.195', entryPrice: '104587.8', isolatedMargin: '1019.73105' },
      { side: 'LONG', quantity: '0.2', entryPrice: '104583.405', isolatedMargin: '1045.83405' },
    ]);
    const f = perStep.flatMap((p) => p.fills);
    expect(str(sum(f.map((x) => x.quantity)))).toBe('0.2');
    expect(str(sum(f.map((x) => x.fee)))).toBe('10.4583405');
    expect(wallet(v)).toBe('9989.5416595'); // 10,000 − 10.4583405
  });

  it('two reduce-only closes of 0.12 on that 0.2 long: both partly filled on 00:02 s0, then the second one\'s rest (0.049 > the 0.009 left) is refused and the position never flips', () => {
    const { v } = entry();
    place(v, close('c1', '0.12'));
    place(v, close('c2', '0.12'));
    const [s0, s1, s2] = withVolume(BAR_0002);
    const e0 = v.step(SYMBOL, s0);
    // Each takes 0.071 at the 00:02 open 104,427.2: PnL (104,427.2 − 104,583.405) × 0.071 = −11.090555, fee 0.071 × 104,427.2 × 0.0005 = 3.7071656.
    expect(fills(e0).map(row)).toEqual([
      ['c1', '5', '0.071', '104427.2', '3.7071656', '-11.090555', '0.071'],
      ['c2', '6', '0.071', '104427.2', '3.7071656', '-11.090555', '0.071'],
    ]);
    expect([status(v, 'c1')[0], status(v, 'c2')[0]]).toEqual(['PARTIALLY_FILLED', 'PARTIALLY_FILLED']);
    // Margin released pro rata: 1,045.83405 / 0.2 = 5,229.17025 per BTC, × 0.058 = 303.2918745.
    expect(position(v)).toEqual({ side: 'LONG', quantity: '0.058', entryPrice: '104583.405', isolatedMargin: '303.2918745' });
    const e1 = v.step(SYMBOL, s1);
    expect(e1.map((e) => (e.kind === 'fill' ? row(e.fill) : [e.kind, e.kind === 'rejected' ? e.code : '']))).toEqual([
      ['c1', '7', '0.049', '104427.2', '2.5584664', '-7.654045', '0.12'], // c1's rest
      ['rejected', '-2022'], // c2: 0.049 left, only 0.009 to reduce
    ]);
    expect(status(v, 'c1')).toEqual(['FILLED', '0.12', '104427.2']);
    expect(status(v, 'c2')).toEqual(['EXPIRED', '0.071', '104427.2']); // keeps what it filled
    expect(position(v)).toEqual({ side: 'LONG', quantity: '0.009', entryPrice: '104583.405', isolatedMargin: '47.06253225' }); // 0.009 × 5,229.17025
    expect(v.openOrders(ACC)).toEqual([]);
    expect(fills(v.step(SYMBOL, s2))).toEqual([]);
    // Wallet: 10,000 − 10.4583405 (entry fees) − 9.9727976 (close fees) − 29.835155 (−156.205 × 0.191).
    const closes = v.trades(ACC).filter((t) => t.side === 'SELL');
    expect([str(sum(closes.map((t) => t.fee))), str(sum(closes.map((t) => t.realisedPnl)))]).toEqual(['9.9727976', '-29.835155']);
    expect(wallet(v)).toBe('9949.7337069');
  });

  it('a triggered algo stop fills its step\'s share at the trigger and the rest at the following steps\' first prices; the algo is FINISHED at trigger', () => {
    const v = venue(volumeShare('0.001'));
    for (const s of withVolume(BAR_0000)) v.step(SYMBOL, s);
    place(v, order('e1', { quantity: dec('0.2') }));
    const [s0, s1, s2, s3] = withVolume(BAR_0001);
    // A step without a bar volume does not limit the fill: the whole 0.2 at the 00:01 open.
    expect(fills(v.step(SYMBOL, { ...s0, barVolume: null })).map(row)).toEqual([['e1', '1', '0.2', '104587.8', '10.45878', '0', '0.2']]);
    const a = v.placeAlgoOrder(ACC, { clientAlgoId: 'sl1', symbol: SYMBOL, side: 'SELL', type: 'STOP_MARKET', triggerPrice: dec('104500'), quantity: dec('0.2'), closePosition: false, reduceOnly: true });
    expect(a.ok).toBe(true);
    expect(v.step(SYMBOL, s1)).toEqual([]);
    const e2 = v.step(SYMBOL, s2); // 104,587.8 → 104,412 crosses 104,500
    expect(e2.map((e) => e.kind)).toEqual(['algoTriggered', 'fill']);
    // PnL (104,500 − 104,587.8) × 0.065 = −5.707; fee 0.065 × 104,500 × 0.0005 = 3.39625.
    expect(fills(e2).map(row)).toEqual([['sl1', '2', '0.065', '104500', '3.39625', '-5.707', '0.065']]);
    expect(v.algoOrder(ACC, { clientAlgoId: 'sl1' })?.status).toBe('FINISHED');
    expect(status(v, 'sl1')[0]).toBe('PARTIALLY_FILLED');
    // s3 starts at 104,412: another 0.065 (PnL −175.8 × 0.065); then 00:02 s0 (cap 0.071) the last 0.07 at 104,427.2 (PnL −160.6 × 0.07).
    expect(fills(v.step(SYMBOL, s3)).map(row)).toEqual([['sl1', '3', '0.065', '104412', '3.39339', '-11.427', '0.13']]);
    expect(fills(v.step(SYMBOL, withVolume(BAR_0002)[0])).map(row)).toEqual([['sl1', '4', '0.07', '104427.2', '3.654952', '-11.242', '0.2']]);
    expect(status(v, 'sl1')).toEqual(['FILLED', '0.2', '104445.92']); // (0.065 × 104,500 + 0.065 × 104,412 + 0.07 × 104,427.2) / 0.2
    expect(position(v)).toBeNull();
    expect(v.isIdle()).toBe(true);
  });

  it('a LIMIT BUY partly filled (its step\'s share, maker) then canceled: CANCELED with executedQty = the filled part, a position of exactly that size', () => {
    const v = venue(volumeShare('0.001'));
    for (const s of withVolume(BAR_0000)) v.step(SYMBOL, s);
    place(v, order('l1', { type: 'LIMIT', price: dec('104500'), quantity: dec('0.2') }));
    const [s0, s1, s2] = withVolume(BAR_0001);
    expect([...v.step(SYMBOL, s0), ...v.step(SYMBOL, s1)]).toEqual([]);
    const f = fills(v.step(SYMBOL, s2)); // 104,587.8 → 104,412 reaches 104,500
    // Maker fee 0.065 × 104,500 × 0.0002 = 1.3585.
    expect(f.map((x) => [...row(x), x.liquidity])).toEqual([['l1', '1', '0.065', '104500', '1.3585', '0', '0.065', 'MAKER']]);
    expect(f[0].fee.eq(f[0].quantity.mul(f[0].price).mul(MAKER))).toBe(true);
    expect(v.openOrders(ACC).map((o) => o.clientOrderId)).toEqual(['l1']);
    expect(v.cancelOrder(ACC, 'l1')).toEqual({ ok: true, value: { venueOrderId: '1' } });
    expect(status(v, 'l1')).toEqual(['CANCELED', '0.065', '104500']);
    expect(position(v)).toEqual({ side: 'LONG', quantity: '0.065', entryPrice: '104500', isolatedMargin: '339.625' }); // 0.065 × 104,500 / 20
    expect(v.openOrders(ACC)).toEqual([]);
  });

  it('VOLUME_SHARE with 2 trades per fill: each step\'s share is itself split in two', () => {
    const v = venue({ ...volumeShare('0.001'), tradesPerFill: 2 });
    for (const s of withVolume(BAR_0000)) v.step(SYMBOL, s);
    place(v, order('e1', { quantity: dec('0.1') }));
    const [s0, s1] = withVolume(BAR_0001);
    expect(fills([...v.step(SYMBOL, s0), ...v.step(SYMBOL, s1)]).map((f) => [str(f.quantity), str(f.cumulativeQuantity!)])).toEqual([
      ['0.032', '0.032'], ['0.033', '0.065'], // 0.065 = 65 lots: 32 + 33
      ['0.017', '0.082'], ['0.018', '0.1'], // the last 0.035: 17 + 18
    ]);
  });
});
