import { btcusdtRules } from '@bulwark/testing';
import { dec, str } from './money';
import { emergencyStopPrice, reconcile, type ReconProtective, type ReconView } from './reconcile';

const brackets = btcusdtRules().brackets;

const empty = (): ReconView => ({ positions: [], openOrders: [], protectiveOrders: [] });
const long = { symbol: 'BTCUSDT', side: 'LONG' as const, quantity: dec('0.010'), entryPrice: dec('104587.8') };
const sl: ReconProtective = { symbol: 'BTCUSDT', clientOrderId: 'bwabc-1S', side: 'SELL', kind: 'STOP_LOSS', triggerPrice: dec('103500'), quantity: dec('0.010') };
const tp: ReconProtective = { ...sl, clientOrderId: 'bwabc-1T', kind: 'TAKE_PROFIT', triggerPrice: dec('106000') };

describe('reconcile (venue view against the log view)', () => {
  it('a restart with an open position and its resting exchange stops finds nothing to do (no duplicate, no drop)', () => {
    const view: ReconView = { positions: [long], openOrders: [], protectiveOrders: [sl, tp] };
    expect(reconcile(view, { ...view, protectiveOrders: [tp, sl] })).toEqual([]);
  });

  it('an exchange stop that disappeared while the position is open is RESTORED; without a position it is only RECORDED', () => {
    const d = reconcile({ positions: [long], openOrders: [], protectiveOrders: [sl, tp] }, { positions: [long], openOrders: [], protectiveOrders: [tp] });
    expect(d.map((x) => [x.kind, x.clientOrderId, x.action])).toEqual([['MISSING_PROTECTIVE_ORDER', 'bwabc-1S', 'RESTORED']]);
    expect(d[0].protective).toBe(sl);
    const flat = reconcile({ positions: [], openOrders: [], protectiveOrders: [sl] }, empty());
    expect(flat.map((x) => [x.kind, x.action])).toEqual([['MISSING_PROTECTIVE_ORDER', 'RECORDED']]);
  });

  it('an unknown venue position is PROTECTED when nothing rests at the venue, RECORDED when a stop already protects it', () => {
    expect(reconcile(empty(), { positions: [long], openOrders: [], protectiveOrders: [] }).map((x) => [x.kind, x.action, x.observed])).toEqual([
      ['UNKNOWN_POSITION', 'PROTECTED', 'LONG 0.01 @ 104587.8'],
    ]);
    const withStop = reconcile(empty(), { positions: [long], openOrders: [], protectiveOrders: [sl] });
    expect(withStop.map((x) => [x.kind, x.action])).toEqual([
      ['UNKNOWN_POSITION', 'RECORDED'],
      ['UNKNOWN_PROTECTIVE_ORDER', 'ADOPTED'],
    ]);
  });

  it('positions and orders that differ are recorded with what each side says', () => {
    const d = reconcile(
      { positions: [long], openOrders: [{ symbol: 'BTCUSDT', clientOrderId: 'bwabc-2E', status: 'ACCEPTED' }], protectiveOrders: [] },
      { positions: [{ ...long, quantity: dec('0.004') }], openOrders: [{ symbol: 'BTCUSDT', clientOrderId: 'manual-1', status: 'NEW' }], protectiveOrders: [] },
    );
    expect(d.map((x) => [x.kind, x.clientOrderId, x.expected, x.observed])).toEqual([
      ['POSITION_QUANTITY_MISMATCH', null, 'LONG 0.01 @ 104587.8', 'LONG 0.004 @ 104587.8'],
      ['UNKNOWN_ORDER', 'manual-1', null, 'NEW'],
      ['ORDER_NOT_OPEN', 'bwabc-2E', 'ACCEPTED', null],
    ]);
    expect(reconcile({ positions: [long], openOrders: [], protectiveOrders: [] }, empty()).map((x) => x.kind)).toEqual(['MISSING_POSITION']);
  });
});

describe('emergencyStopPrice (protection for a position Bulwark did not open)', () => {
  // Long 0.1 BTC @ 100,000 at 10x: isolated margin 1,000; bracket 1 (MMR 0.004, cum 0):
  // LP = (Q·EP − WB + cum) / (Q·(1 − MMR)) = 9,000 / 0.0996 = 90,361.4457831…
  // buffer guard (0.1 of the distance): LP + 0.1 × (100,000 − LP) = 91,325.3012048…
  const p = { symbol: 'BTCUSDT', side: 'LONG' as const, quantity: dec('0.1'), entryPrice: dec('100000'), isolatedMargin: dec('1000'), brackets };

  it('puts the stop where the position loses risk × equity: 1 % of 10,000 = 100 USDT → 1,000 below the entry', () => {
    expect(str(emergencyStopPrice(p, dec('10000'), dec('0.01'), dec('0.1'), dec('100500'))!)).toBe('99000');
  });

  it('never closer to liquidation than the buffer: 10 % risk would be 90,000, beyond the guard 91,325.30…', () => {
    expect(emergencyStopPrice(p, dec('10000'), dec('0.1'), dec('0.1'), dec('100500'))!.toDecimalPlaces(2).toFixed()).toBe('91325.3');
  });

  it('null (close at market) when the mark is already beyond the stop; mirrored for a short', () => {
    expect(emergencyStopPrice(p, dec('10000'), dec('0.01'), dec('0.1'), dec('98000'))).toBeNull();
    const s = { ...p, side: 'SHORT' as const };
    expect(str(emergencyStopPrice(s, dec('10000'), dec('0.01'), dec('0.1'), dec('99500'))!)).toBe('101000');
    expect(emergencyStopPrice(s, dec('10000'), dec('0.01'), dec('0.1'), dec('101000'))).toBeNull();
  });
});
