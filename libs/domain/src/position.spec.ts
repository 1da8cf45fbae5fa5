import type { OrderFilled, OrderPurpose, OrderSide } from '@bulwark/contracts';
import { orderFilled } from '@bulwark/testing';
import { fold } from './decider';
import { dec, str } from './money';
import {
  decideFunding,
  foldFillAcrossLifecycles,
  decidePositionFill,
  positionEvolve,
  positionInitialState,
  positionNotional,
  unrealisedPnl,
  type PositionEvent,
  type PositionState,
} from './position';

/*
 * Worked examples on real Binance USD-M BTCUSDT data (shared/data, see PROVENANCE.md):
 * - fill prices are 1m closes from klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv
 *   (104587.7 = 2025-11-10 00:00, 104400.8 = 00:02, 104802 = 00:10, 106428 = 08:00,
 *   104947.2 = 16:00, 104828.1 = 2025-11-11 08:00);
 * - funding rates from funding-rate-monthly/BTCUSDT-fundingRate-2025-11.csv and the mark
 *   price at the settlement = the open of the 8h mark-price candle starting then
 *   (mark-price-8h/BTCUSDT-markPrice-8h-2025-11-10_2025-12-10.csv);
 * - fees are the 0.05 % taker rate on the fill's notional.
 */

let tradeSeq = 100;
/** A whole-order taker fill of account acc1 (fee 0.05 % of the notional), numbered from 101. */
function fill(side: OrderSide, quantity: string, price: string, over: Partial<OrderFilled> & { purpose?: OrderPurpose } = {}): OrderFilled {
  tradeSeq += 1;
  return orderFilled({ clientOrderId: `bw-acc1-${tradeSeq}`, venueOrderId: `${900000 + tradeSeq}`, tradeId: `${6100000 + tradeSeq}`, side, quantity, price, ...over });
}

/** Apply a fill; fails the test on a rejection. */
function apply(state: PositionState, f: OrderFilled, sequence = 1) {
  const r = decidePositionFill(state, f, { sequence });
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return { state: fold(positionEvolve, state, r.value.events), ...r.value };
}

function applyFunding(state: PositionState, fundingTime: number, rate: string, markPrice: string) {
  const r = decideFunding(state, { fundingTime, rate: dec(rate), markPrice: dec(markPrice) });
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return { state: fold(positionEvolve, state, r.value), events: r.value };
}

const only = (events: PositionEvent[]) => {
  expect(events).toHaveLength(1);
  return events[0];
};

describe('long lifecycle: open, increase, partial reduce, funding, close (2025-11-10)', () => {
  const open = fill('BUY', '0.010', '104587.7');
  const add = fill('BUY', '0.010', '104400.8');
  const tp = fill('SELL', '0.008', '104802', { purpose: 'TAKE_PROFIT' });
  const close = fill('SELL', '0.012', '106428', { purpose: 'CLOSE' });

  it('opens a LONG from a BUY: entry = fill price, fee 0.5229385', () => {
    const r = apply(positionInitialState(), open, 7);
    expect(only(r.events)).toEqual({
      type: 'PositionOpened',
      data: {
        accountId: 'acc1',
        venue: 'binance-usdm',
        symbol: 'BTCUSDT',
        sequence: 7,
        side: 'LONG',
        quantity: '0.01',
        entryPrice: '104587.7',
        leverage: 10,
        fee: '0.5229385',
        clientOrderId: open.clientOrderId,
        tradeId: open.tradeId,
        purpose: 'ENTRY',
      },
    });
    expect(r.state.status).toBe('OPEN');
    expect(r.state.openingClientOrderId).toBe(open.clientOrderId);
    expect(str(r.state.costBasis)).toBe('1045.877');
    expect(str(positionNotional(r.state, dec('104587.7')))).toBe('1045.877');
  });

  it('walks through the lifecycle with exact totals', () => {
    let s = apply(positionInitialState(), open).state;

    const inc = apply(s, add);
    // (1045.877 + 1044.008) / 0.020
    expect(only(inc.events)).toMatchObject({ type: 'PositionIncreased', data: { quantity: '0.01', price: '104400.8', newQuantity: '0.02', newEntryPrice: '104494.25', fee: '0.522004' } });
    s = inc.state;
    expect(str(s.entryPrice)).toBe('104494.25');

    const red = apply(s, tp);
    // (104802 − 104494.25) × 0.008
    expect(only(red.events)).toMatchObject({ type: 'PositionReduced', data: { quantity: '0.008', price: '104802', newQuantity: '0.012', realisedPnl: '2.462', fee: '0.419208', purpose: 'TAKE_PROFIT' } });
    s = red.state;
    expect(str(s.entryPrice)).toBe('104494.25');
    expect(str(s.realisedPnl)).toBe('2.462');
    expect(str(unrealisedPnl(s, dec('104802')))).toBe('3.693');

    // 2025-11-10 08:00 settlement: rate 0.00007355 > 0, mark 106421.67538406 → the long pays.
    const fund = applyFunding(s, 1762761600000, '0.00007355', '106421.67538406');
    expect(only(fund.events)).toEqual({
      type: 'FundingApplied',
      data: { fundingTime: 1762761600000, rate: '0.00007355', markPrice: '106421.67538406', positionQuantity: '0.012', amount: '-0.093927770693971356' },
    });
    s = fund.state;

    const cl = apply(s, close);
    expect(cl.overflowQuantity.isZero()).toBe(true);
    expect(cl.overflowFill).toBeNull();
    expect(only(cl.events)).toEqual({
      type: 'PositionClosed',
      data: {
        accountId: 'acc1',
        quantity: '0.012',
        price: '106428',
        realisedPnl: '23.205', // (106428 − 104494.25) × 0.012
        fee: '0.638568',
        totalRealisedPnl: '25.667', // = sells 2115.552 − buys 2089.885
        totalFees: '2.1027185',
        totalFunding: '-0.093927770693971356',
        netPnl: '23.470353729306028644',
        clientOrderId: close.clientOrderId,
        tradeId: close.tradeId,
        purpose: 'CLOSE',
      },
    });
    s = cl.state;
    expect(s.status).toBe('CLOSED');
    expect(s.quantity.isZero()).toBe(true);
    expect(s.side).toBe('LONG');
    expect(str(s.fees)).toBe('2.1027185');
    expect(unrealisedPnl(s, dec('106428')).isZero()).toBe(true);
    expect(positionNotional(s, dec('106428')).isZero()).toBe(true);
  });
});

describe('short lifecycle with funding received and paid (2025-11-10 16:00 → 2025-11-11 08:00)', () => {
  it('realised = (entry − exit) × qty; positive rate: short receives, negative rate: short pays', () => {
    const open = fill('SELL', '0.010', '104947.2');
    let s = apply(positionInitialState(), open).state;
    expect(s.side).toBe('SHORT');
    expect(str(unrealisedPnl(s, dec('104828.1')))).toBe('1.191');

    // 2025-11-11 00:00: rate 0.00002818, mark 105966.2 → 0.010 × 105966.2 × 0.00002818 received.
    const f1 = applyFunding(s, 1762819200007, '0.00002818', '105966.2');
    expect(only(f1.events).data).toMatchObject({ positionQuantity: '-0.01', amount: '0.02986127516' });
    s = f1.state;
    // 2025-11-11 08:00: rate −0.00002775, mark 104737 → paid.
    const f2 = applyFunding(s, 1762848000000, '-0.00002775', '104737');
    expect(only(f2.events).data).toMatchObject({ amount: '-0.0290645175' });
    s = f2.state;
    expect(str(s.funding)).toBe('0.00079675766');

    const cl = apply(s, fill('BUY', '0.010', '104828.1', { purpose: 'STOP_LOSS' }));
    expect(only(cl.events)).toMatchObject({
      type: 'PositionClosed',
      data: { realisedPnl: '1.191', fee: '0.5241405', totalFees: '1.0488765', totalFunding: '0.00079675766', netPnl: '0.14292025766' },
    });
  });
});

describe('funding', () => {
  it('a long receives when the rate is negative', () => {
    const s = apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state;
    expect(only(applyFunding(s, 1762848000000, '-0.00002775', '104737').events).data).toMatchObject({ amount: '0.0290645175' });
  });

  it('the same settlement twice is applied once', () => {
    let s = apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state;
    s = applyFunding(s, 1762761600000, '0.00007355', '106421.67538406').state;
    expect(decideFunding(s, { fundingTime: 1762761600000, rate: dec('0.00007355'), markPrice: dec('106421.67538406') })).toEqual({ ok: true, value: [] });
  });

  it('no open position: NO_OPEN_POSITION', () => {
    const r = decideFunding(positionInitialState(), { fundingTime: 1762761600000, rate: dec('0.0001'), markPrice: dec('104587.7') });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('NO_OPEN_POSITION');
    const closed = apply(apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state, fill('SELL', '0.010', '104587.7', { purpose: 'CLOSE' })).state;
    expect(decideFunding(closed, { fundingTime: 1762761600000, rate: dec('0.0001'), markPrice: dec('104587.7') }).ok).toBe(false);
  });
});

describe('liquidation', () => {
  /*
   * Long 0.010 @ 104587.7 at 20x: isolated margin WB = 1045.877 / 20 = 52.29385. Bracket 1
   * (leverage-brackets.json: MMR 0.004, cum 0): LP = (Q·EP − WB − cum) / (Q·(1 − MMR))
   * = 993.58315 / 0.00996 = 99757.344… → the liquidation fills at 99757.3. The clearance
   * fee is the rest of the isolated margin: 52.29385 − 48.304 = 3.98985.
   */
  const open = () => apply(positionInitialState(), fill('BUY', '0.010', '104587.7', { leverage: 20 })).state;

  it('ends the position with PositionLiquidated; netPnl includes the clearance fee', () => {
    const liq = fill('SELL', '0.010', '99757.3', { purpose: 'LIQUIDATION', fee: '0', liquidationFee: '3.98985', leverage: 20 });
    const r = apply(open(), liq);
    expect(only(r.events)).toEqual({
      type: 'PositionLiquidated',
      data: {
        accountId: 'acc1',
        quantity: '0.01',
        price: '99757.3',
        realisedPnl: '-48.304',
        fee: '0',
        totalRealisedPnl: '-48.304',
        totalFees: '0.5229385',
        totalFunding: '0',
        netPnl: '-52.8167885', // −48.304 − 0.5229385 + 0 − 3.98985: the whole margin and the entry fee
        liquidationFee: '3.98985',
        clientOrderId: liq.clientOrderId,
        tradeId: liq.tradeId,
        purpose: 'LIQUIDATION',
      },
    });
    expect(r.state.status).toBe('LIQUIDATED');
    expect(str(r.state.liquidationFee)).toBe('3.98985');
  });

  it('a liquidation order filled in two trades: reduce, then liquidate', () => {
    let s = open();
    const first = apply(s, fill('SELL', '0.004', '99757.3', { purpose: 'LIQUIDATION', fee: '0' }));
    expect(only(first.events).type).toBe('PositionReduced');
    s = first.state;
    const last = apply(s, fill('SELL', '0.006', '99757.2', { purpose: 'LIQUIDATION', fee: '0', liquidationFee: '3.98985' }));
    expect(only(last.events)).toMatchObject({ type: 'PositionLiquidated', data: { totalRealisedPnl: '-48.3046', netPnl: '-52.8173885' } });
  });

  it('a clearance fee on a partial liquidation fill is refused (it would be lost)', () => {
    const r = decidePositionFill(open(), fill('SELL', '0.004', '99757.3', { purpose: 'LIQUIDATION', fee: '0', liquidationFee: '1' }), { sequence: 1 });
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ code: 'FILL_MISMATCH' }) });
  });
});

describe('flip with overflow (one-way mode)', () => {
  it('a SELL ENTRY of 0.015 against a 0.010 long closes it and hands 0.005 to the next lifecycle, the fee split pro rata', () => {
    const s = apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state;
    const flip = fill('SELL', '0.015', '104802'); // fee 0.786015
    const r = apply(s, flip);
    expect(only(r.events)).toMatchObject({
      type: 'PositionClosed',
      data: { quantity: '0.01', realisedPnl: '2.143', fee: '0.52401', totalFees: '1.0469485', netPnl: '1.0960515' },
    });
    expect(str(r.overflowQuantity)).toBe('0.005');
    expect(r.overflowFill).toMatchObject({ tradeId: flip.tradeId, side: 'SELL', quantity: '0.005', quoteQuantity: '524.01', fee: '0.262005' });
    expect(dec(r.overflowFill!.fee).plus('0.52401').eq(flip.fee)).toBe(true);

    const next = apply(positionInitialState(), r.overflowFill!, 2);
    expect(only(next.events)).toMatchObject({ type: 'PositionOpened', data: { sequence: 2, side: 'SHORT', quantity: '0.005', entryPrice: '104802', fee: '0.262005' } });
  });

  it('a reduce-only fill never flips: REDUCE_ONLY_WOULD_INCREASE', () => {
    const s = apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state;
    const r = decidePositionFill(s, fill('SELL', '0.015', '104802', { purpose: 'STOP_LOSS' }), { sequence: 1 });
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ code: 'REDUCE_ONLY_WOULD_INCREASE' }) });
  });
});

describe('idempotency and rejections', () => {
  it('a trade id already applied yields no events (also after the close)', () => {
    const open = fill('BUY', '0.010', '104587.7');
    const s = apply(positionInitialState(), open).state;
    expect(decidePositionFill(s, open, { sequence: 1 })).toEqual({ ok: true, value: { events: [], overflowQuantity: dec(0), overflowFill: null } });
    const close = fill('SELL', '0.010', '104802', { purpose: 'CLOSE' });
    const closed = apply(s, close).state;
    const again = decidePositionFill(closed, close, { sequence: 1 });
    expect(again.ok && again.value.events).toEqual([]);
  });

  it('a new fill on a CLOSED or LIQUIDATED position: POSITION_CLOSED', () => {
    const s = apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state;
    const closed = apply(s, fill('SELL', '0.010', '104802', { purpose: 'CLOSE' })).state;
    expect(decidePositionFill(closed, fill('BUY', '0.010', '104802'), { sequence: 1 })).toEqual({ ok: false, error: expect.objectContaining({ code: 'POSITION_CLOSED' }) });
    const liquidated = apply(s, fill('SELL', '0.010', '99757.3', { purpose: 'LIQUIDATION', fee: '0', liquidationFee: '3.98985' })).state;
    expect(decidePositionFill(liquidated, fill('BUY', '0.010', '104802'), { sequence: 1 })).toEqual({ ok: false, error: expect.objectContaining({ code: 'POSITION_CLOSED' }) });
  });

  it('protective fills cannot open or increase: REDUCE_ONLY_WOULD_INCREASE', () => {
    const none = decidePositionFill(positionInitialState(), fill('SELL', '0.010', '104587.7', { purpose: 'STOP_LOSS' }), { sequence: 1 });
    expect(none).toEqual({ ok: false, error: expect.objectContaining({ code: 'REDUCE_ONLY_WOULD_INCREASE' }) });
    const s = apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state;
    const inc = decidePositionFill(s, fill('BUY', '0.010', '104802', { purpose: 'TAKE_PROFIT' }), { sequence: 1 });
    expect(inc).toEqual({ ok: false, error: expect.objectContaining({ code: 'REDUCE_ONLY_WOULD_INCREASE' }) });
  });

  it('a fill of another symbol, account or venue: FILL_MISMATCH', () => {
    const s = apply(positionInitialState(), fill('BUY', '0.010', '104587.7')).state;
    expect(decidePositionFill(s, fill('SELL', '0.010', '104587.7', { symbol: 'ETHUSDT' }), { sequence: 1 }).ok).toBe(false);
    expect(decidePositionFill(s, fill('SELL', '0.010', '104587.7', { accountId: 'acc2' }), { sequence: 1 }).ok).toBe(false);
    expect(decidePositionFill(s, fill('SELL', '0.010', '104587.7', { liquidationFee: '1' }), { sequence: 1 }).ok).toBe(false);
  });
});

describe('exactness with a non-terminating entry price', () => {
  it('partial reduces release the cost basis pro rata; the close takes the rest, so Σ realised = Σ sells − Σ buys', () => {
    let s = apply(positionInitialState(), fill('BUY', '0.001', '104587.7')).state;
    const inc = apply(s, fill('BUY', '0.002', '104587.8'));
    expect(only(inc.events).data).toMatchObject({ newEntryPrice: '104587.7666666666666666666666666666666667' });
    s = inc.state;
    const red = apply(s, fill('SELL', '0.001', '104600', { purpose: 'CLOSE' }));
    // 104.6 − 313.7633 × 0.001 / 0.003 (rounded to 20 decimals)
    expect(only(red.events).data).toMatchObject({ realisedPnl: '0.01223333333333333333' });
    s = red.state;
    const cl = apply(s, fill('SELL', '0.002', '104656.5', { purpose: 'CLOSE' }));
    // sells 104.6 + 209.313 − buys 313.7633
    expect(only(cl.events).data).toMatchObject({ realisedPnl: '0.13746666666666666667', totalRealisedPnl: '0.1497' });
  });

  it('short unrealised PnL and notional at the mark', () => {
    const s = apply(positionInitialState(), fill('SELL', '0.010', '104947.2')).state;
    expect(str(unrealisedPnl(s, dec('105966.2')))).toBe('-10.19');
    expect(str(positionNotional(s, dec('105966.2')))).toBe('1059.662');
    expect(unrealisedPnl(positionInitialState(), dec('105966.2')).isZero()).toBe(true);
  });
});

describe('foldFillAcrossLifecycles: one fold for the net position (execution) and the position streams (accounting)', () => {
  const step = (s: PositionState, f: OrderFilled) => {
    const r = foldFillAcrossLifecycles(s, f);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    return r.value;
  };

  it('one entry filled in three trades opens, then grows the position; the volume-weighted entry is exact', () => {
    let s = positionInitialState();
    const types: string[] = [];
    for (const [q, p] of [['0.030', '104587.7'], ['0.030', '104400.8'], ['0.023', '104802']] as const) {
      const r = step(s, fill('BUY', q, p));
      types.push(...r.events.map((e) => e.type));
      s = r.state;
    }
    expect(types).toEqual(['PositionOpened', 'PositionIncreased', 'PositionIncreased']);
    expect(s).toMatchObject({ status: 'OPEN', side: 'LONG', sequence: 1 });
    expect(str(s.quantity)).toBe('0.083');
    // (0.03 × 104587.7 + 0.03 × 104400.8 + 0.023 × 104802) / 0.083
    expect(s.entryPrice.toFixed()).toBe(dec('0.03').mul('104587.7').plus(dec('0.03').mul('104400.8')).plus(dec('0.023').mul('104802')).div('0.083').toFixed());
  });

  it('an entry beyond the open quantity flips: the lifecycle closes and n + 1 opens with the rest at the fill price', () => {
    const long = step(positionInitialState(), fill('BUY', '0.083', '104587.7')).state;
    const r = step(long, fill('SELL', '0.100', '104802'));
    expect(r.events.map((e) => e.type)).toEqual(['PositionClosed', 'PositionOpened']);
    expect(r.state).toMatchObject({ status: 'OPEN', side: 'SHORT', sequence: 2 });
    expect(str(r.state.quantity)).toBe('0.017');
    expect(str(r.state.entryPrice)).toBe('104802');
  });

  it('after a close the next entry opens lifecycle n + 1; the closing trade seen again changes nothing', () => {
    const long = step(positionInitialState(), fill('BUY', '0.083', '104587.7')).state;
    const closing = fill('SELL', '0.083', '104400.8', { purpose: 'STOP_LOSS' });
    const closed = step(long, closing).state;
    expect(closed.status).toBe('CLOSED');
    expect(step(closed, closing)).toEqual({ state: closed, events: [] });
    const next = step(closed, fill('SELL', '0.05', '104947.2'));
    expect(next.state).toMatchObject({ status: 'OPEN', side: 'SHORT', sequence: 2 });
  });

  it('a reduce-only fill that would open a position is refused (REDUCE_ONLY_WOULD_INCREASE): a second close never flips', () => {
    const long = step(positionInitialState(), fill('BUY', '0.083', '104587.7')).state;
    const closed = step(long, fill('SELL', '0.083', '104400.8', { purpose: 'STOP_LOSS' })).state;
    const r = foldFillAcrossLifecycles(closed, fill('SELL', '0.083', '104400.8', { purpose: 'STOP_LOSS' }));
    expect(r).toMatchObject({ ok: false, error: { code: 'REDUCE_ONLY_WOULD_INCREASE' } });
  });
});
