import { comparePlainDecimals, dec } from './money';
import { isConsistentBar, isConsistentPlainBar } from './market-path';

describe('comparePlainDecimals: exact comparison of plain decimal text', () => {
  it('agrees with decimal.js on prices that differ in length, fraction digits and trailing zeros', () => {
    const values = ['0', '0.0', '0.5', '0.50', '0.05', '1', '1.0', '1.5', '9.99', '10', '10.000', '56777', '56777.0', '56777.01', '56777.1', '99999.99', '100000', '100000.1', '104587.7', '104587.70', '104587.71'];
    for (const a of values) for (const b of values) expect([a, b, comparePlainDecimals(a, b)]).toEqual([a, b, dec(a).comparedTo(dec(b))]);
  });

  it('checks a bar on its text as isConsistentBar does on decimals', () => {
    const bars = [
      ['100.5', '101', '100', '100.9'],
      ['100.5', '100.50', '100.5', '100.5'],
      ['100.5', '100.4', '100', '100.1'], // high below the open
      ['100.5', '101', '100.6', '100.9'], // low above the open
      ['100.5', '101', '0', '100.9'], // low not > 0
      ['100.5', '101', '0.0', '100.9'],
    ];
    for (const [o, h, l, c] of bars) expect(isConsistentPlainBar(o, h, l, c)).toBe(isConsistentBar(dec(o), dec(h), dec(l), dec(c)));
    expect(bars.map(([o, h, l, c]) => isConsistentPlainBar(o, h, l, c))).toEqual([true, true, false, false, false, false]);
  });
});
