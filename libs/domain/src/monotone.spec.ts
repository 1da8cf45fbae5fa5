import { D, dec } from './money';
import { MonotoneTests } from './monotone';

describe('MonotoneTests: remembered answers of tests that only turn from yes to no as x grows', () => {
  // The lifetime switch's test: (peak − equity) ÷ peak ≥ limit, rounded as decimal.js rounds it.
  const peak = dec('10000');
  const limit = dec('0.3');
  const breached = (equity: D) => !peak.minus(equity).div(peak).lt(limit);

  it('gives the test’s own answer at every point, in any order, and runs it only outside the bounds', () => {
    const tests = new MonotoneTests();
    const xs = ['9000', '7000.01', '7000', '6999.99', '12000', '6000', '7000', '8500', '7000.000000001', '6999.9999999999'].map(dec);
    let ran = 0;
    for (const x of xs) {
      const answer = tests.holds(peak, 'lifetime 0.3', x, () => (ran++, breached(x)));
      expect([x.toFixed(), answer]).toEqual([x.toFixed(), breached(x)]);
    }
    expect(ran).toBeLessThan(xs.length);
  });

  it('keeps tests apart by key object and by the rest', () => {
    const tests = new MonotoneTests();
    expect(tests.holds(peak, 'a', dec('5'), () => true)).toBe(true);
    // Another rest, another key: nothing known yet, so the test runs.
    expect(tests.holds(peak, 'b', dec('4'), () => false)).toBe(false);
    expect(tests.holds(dec('10000.5'), 'a', dec('4'), () => false)).toBe(false);
    // Known: held at 5 (so at 4), failed at 4 for 'b' (so at 6).
    expect(tests.holds(peak, 'a', dec('4'), () => { throw new Error('not asked'); })).toBe(true);
    expect(tests.holds(peak, 'b', dec('6'), () => { throw new Error('not asked'); })).toBe(false);
  });

  it('agrees with a utilisation test across random equities (threshold 0.9, equity ≤ 0 counts as 1)', () => {
    const tests = new MonotoneTests();
    const used = dec('2000.5');
    const reaches = (equity: D) => (equity.gt(0) ? used.div(equity) : dec(1)).gte('0.9');
    let seed = 7;
    for (let i = 0; i < 500; i++) {
      seed = (seed * 48271) % 2147483647;
      const x = dec(seed % 500_000).div(100).minus(500); // −500 .. 4,500
      expect(tests.holds(used, 'utilisation 0.9', x, () => reaches(x))).toBe(reaches(x));
    }
  });
});
