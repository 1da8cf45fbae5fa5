import * as fs from 'node:fs';
import { parseEvent, type DomainEvent } from '@bulwark/contracts';
import { SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { fold } from './decider';
import { dec, floorToStep, str, type D } from './money';
import { decideMarginCallReduction, type IsolatedMarginBalances } from './spot-margin';
import { spotMarginGuardDecider as guard, spotMarginGuardEvolve, spotMarginGuardInitialState, type SpotMarginGuardState } from './spot-margin-guard';

// Real Binance spot BTCUSDT 1m closes around the 2024-08-05 crash, sampled hourly.
const HOURLY = fs
  .readFileSync(SPOT_BTCUSDT_FILES.candles1mAugust2024, 'utf8')
  .split('\n')
  .slice(1)
  .map((l) => l.split(','))
  .filter((c) => c.length >= 5 && Number(c[0]) % 3_600_000 === 0 && Number(c[0]) >= Date.parse('2024-08-04T00:00:00Z') && Number(c[0]) < Date.parse('2024-08-07T00:00:00Z'))
  .map((c) => ({ t: Number(c[0]), close: dec(c[4]) }));

// A long bought at the 2024-08-04 00:00 close (60,663.57) with 1,050 USDT of equity and 1,950 USDT
// borrowed: base = 3,000 / entry; margin level = base × P / 1,950 ≈ 1.538 at entry, 1.3 (margin
// call) at P ≈ 0.845 × entry; the lowest hourly close, 49,650 on 08-05 13:00, is 0.818 × entry.
const ENTRY = HOURLY[0].close;
const BASE = floorToStep(dec(3000).div(ENTRY), dec('0.00001'));
const balances = (): IsolatedMarginBalances => ({
  baseFree: BASE, baseLocked: dec(0), baseBorrowed: dec(0), baseInterest: dec(0),
  quoteFree: dec(0), quoteLocked: dec(0), quoteBorrowed: dec(1950), quoteInterest: dec(0),
});
const observe = (s: SpotMarginGuardState, price: D, autoReduce = true) =>
  guard.decide({ kind: 'ObserveMarginLevel', accountId: 'spot1', symbol: 'BTCUSDT', side: 'LONG', balances: balances(), price, takerFeeRate: dec('0.001'), stepSize: dec('0.00001'), autoReduce }, s);

function walk(autoReduce: boolean): DomainEvent[] {
  let s = spotMarginGuardInitialState();
  const all: DomainEvent[] = [];
  for (const h of HOURLY) {
    const r = observe(s, h.close, autoReduce);
    if (!r.ok) throw new Error(r.error.message);
    for (const e of r.value) expect(parseEvent(e.type, e.data).ok).toBe(true);
    all.push(...r.value);
    s = fold(spotMarginGuardEvolve, s, r.value);
  }
  return all;
}

describe('spot isolated-margin guard over the real 2024-08-05 crash (hourly closes)', () => {
  it('uses 72 real hourly closes and the crash takes the level below the margin-call bar', () => {
    expect(HOURLY).toHaveLength(72);
    const low = HOURLY.reduce((m, h) => (h.close.lt(m) ? h.close : m), HOURLY[0].close);
    expect(str(ENTRY)).toBe('60663.57');
    expect(str(low)).toBe('49650');
    expect(BASE.mul(low).div(1950).lt('1.3')).toBe(true); // below the margin-call bar
  });

  it('alerts at each bar crossed, both ways: transfer-out (2.0) at the first look, the borrow bar (1.5) before the margin call (1.3), each bar alternating DOWN / UP', () => {
    const alerts = walk(false).filter((e) => e.type === 'MarginLevelAlert').map((e) => e.data as { bar: string; direction: string });
    expect(alerts[0]).toMatchObject({ bar: 'transferOut', direction: 'DOWN' });
    const firstBorrow = alerts.findIndex((a) => a.bar === 'borrow');
    const firstCall = alerts.findIndex((a) => a.bar === 'marginCall');
    expect(alerts[firstBorrow]).toMatchObject({ direction: 'DOWN' });
    expect(alerts[firstCall]).toMatchObject({ direction: 'DOWN' });
    expect(firstBorrow).toBeLessThan(firstCall);
    // Per bar the directions alternate: a crossing is reported once until the level crosses back.
    for (const bar of ['transferOut', 'borrow', 'marginCall']) {
      const dirs = alerts.filter((a) => a.bar === bar).map((a) => a.direction);
      dirs.forEach((d, i) => expect(d).toBe(i % 2 === 0 ? 'DOWN' : 'UP'));
    }
  });

  it('each alert carries the level that crossed: DOWN at or below the bar, UP above it', () => {
    for (const e of walk(false)) {
      if (e.type !== 'MarginLevelAlert') continue;
      const lvl = dec(e.data.marginLevel!);
      expect(e.data.direction === 'DOWN' ? lvl.lte(e.data.threshold) : lvl.gt(e.data.threshold)).toBe(true);
      // margin level = base × price ÷ 1,950 borrowed
      expect(str(lvl)).toBe(str(BASE.mul(e.data.price).div(1950)));
    }
  });

  it('with automatic reduction, the margin-call crossing is followed by the reduction that restores the borrow bar', () => {
    const events = walk(true);
    const i = events.findIndex((e) => e.type === 'MarginLevelAlert' && e.data.bar === 'marginCall' && e.data.direction === 'DOWN');
    expect(events[i + 1]?.type).toBe('MarginCallReductionTriggered');
    const red = events[i + 1].data as { orderSide: string; quantity: string; price: string };
    const expected = decideMarginCallReduction({ side: 'LONG', balances: balances(), price: dec(red.price), takerFeeRate: dec('0.001'), stepSize: dec('0.00001') });
    expect(expected.ok && expected.value.action === 'REDUCE' ? [expected.value.orderSide, expected.value.quantity] : null).toEqual([red.orderSide, red.quantity]);
    expect(walk(false).some((e) => e.type === 'MarginCallReductionTriggered')).toBe(false);
  });

  it('nothing borrowed is above every bar; an invalid price is a typed rejection, not an exception', () => {
    const s: SpotMarginGuardState = spotMarginGuardInitialState();
    const none = guard.decide({ kind: 'ObserveMarginLevel', accountId: 'spot1', symbol: 'BTCUSDT', side: 'LONG', balances: { ...balances(), quoteBorrowed: dec(0) }, price: ENTRY, takerFeeRate: dec('0.001'), stepSize: dec('0.00001'), autoReduce: true }, s);
    expect(none).toEqual({ ok: true, value: [] });
    const bad = observe(s, dec(0));
    expect(bad.ok ? null : bad.error.code).toBe('INVALID_INPUT');
  });
});
