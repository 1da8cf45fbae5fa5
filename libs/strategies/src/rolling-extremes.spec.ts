import { Period } from 'trading-signals';
import { RollingExtremes } from './rolling-extremes';

describe('RollingExtremes: the highest and lowest of the last N values', () => {
  it('answers what trading-signals Period answers, value for value (ties, runs up and down, windows 1..130)', () => {
    // A deterministic walk on a 0.1 tick with repeated values and long runs (no Math.random: reproducible).
    let x = 1_000_000;
    let p = 104_587.7;
    const series: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
      const move = (x % 7) - 3 + (i % 500 < 250 ? 1 : -1);
      p = Math.round((p + move * 0.1) * 10) / 10;
      series.push(p);
    }
    for (const n of [1, 2, 3, 20, 120, 130]) {
      const mine = new RollingExtremes(n);
      const theirs = new Period(n);
      for (const v of series) {
        const a = mine.update(v);
        const b = theirs.update(v, false);
        expect(a).toEqual(b ? { highest: b.highest, lowest: b.lowest } : null);
      }
    }
  });

  it('refuses a period that is not a positive integer', () => {
    expect(() => new RollingExtremes(0)).toThrow(RangeError);
    expect(() => new RollingExtremes(2.5)).toThrow(RangeError);
  });
});
