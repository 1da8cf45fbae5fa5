import fc from 'fast-check';
import type { PositionSide } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules } from '@bulwark/testing';
import { initialMargin, liquidationPrice, maintenanceMargin, marginRatio } from './liquidation';
import { D, dec, ONE, str } from './money';
import type { Bracket } from './rules';

// Formula source: Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Contracts"
// (isolated margin, one-way mode): long LP = (Q·EP − WB − cum) / (Q·(1 − MMR)),
// short LP = (Q·EP + WB + cum) / (Q·(1 + MMR)).

const bracketsOf = (file: string): Bracket[] => btcusdtRules(file).brackets;

/** 2025-11-20: 1: 0–300k 150x MMR 0.4 % cum 0; 2: 300k–800k 100x 0.5 % cum 300; 3: 800k–3M 75x 0.65 % cum 1,500; … */
const B2025 = bracketsOf(BTCUSDT_FILES.leverageBrackets);
/** 2023-07-18: 1: 0–50k 125x MMR 0.4 % cum 0; 2: 50k–250k 100x 0.5 % cum 50; 3: 250k–3M 50x 1 % cum 1,300; … */
const B2023 = bracketsOf(BTCUSDT_FILES.leverageBrackets2023);

const lp = (side: PositionSide, q: string, ep: string, wb: string, brackets = B2025) =>
  liquidationPrice({ side, quantity: dec(q), entryPrice: dec(ep), walletBalance: dec(wb), brackets });
const dp2 = (x: D | null) => (x === null ? null : str(x.toDecimalPlaces(2)));

describe('liquidationPrice: worked examples', () => {
  it('long 0.01 BTC at 60,000, 10x (WB 60), MMR 0.004, cum 0: (600 − 60 − 0) / (0.01 × 0.996) = 540 / 0.00996 = 54,216.87', () => {
    const r = lp('LONG', '0.01', '60000', '60');
    expect(dp2(r.price)).toBe('54216.87');
    expect(str(r.price!)).toBe('54216.86746987951807228915662650602409639'); // unrounded, 40 significant digits
    expect(r.bracket.bracket).toBe(1);
    expect(str(r.maintMarginRatio)).toBe('0.004');
    expect(str(r.maintAmount)).toBe('0');
  });

  it('short 0.01 BTC at 60,000, 10x (WB 60): (600 + 60 + 0) / (0.01 × 1.004) = 660 / 0.01004 = 65,737.05', () => {
    const r = lp('SHORT', '0.01', '60000', '60');
    expect(dp2(r.price)).toBe('65737.05');
    expect(r.bracket.bracket).toBe(1);
  });

  // Bracket 2 (2025): 300,000 <= N < 800,000, MMR 0.005, cum 300.
  it('long 5 BTC at 100,000 (N 500,000, bracket 2), 20x (WB 25,000): (500,000 − 25,000 − 300) / (5 × 0.995) = 474,700 / 4.975 = 95,417.09; Q·LP = 477,085 stays in bracket 2', () => {
    const r = lp('LONG', '5', '100000', '25000');
    expect(dp2(r.price)).toBe('95417.09');
    expect(r.bracket.bracket).toBe(2);
    expect(str(r.maintAmount)).toBe('300');
  });

  it('short 5 BTC at 100,000, 20x (WB 25,000): (500,000 + 25,000 + 300) / (5 × 1.005) = 525,300 / 5.025 = 104,537.31; Q·LP = 522,687 in bracket 2', () => {
    const r = lp('SHORT', '5', '100000', '25000');
    expect(dp2(r.price)).toBe('104537.31');
    expect(r.bracket.bracket).toBe(2);
  });

  // Bracket 3 (2025): 800,000 <= N < 3,000,000, MMR 0.0065, cum 1,500.
  it('long 20 BTC at 100,000 (N 2,000,000, bracket 3), 10x (WB 200,000): (2,000,000 − 200,000 − 1,500) / (20 × 0.9935) = 1,798,500 / 19.87 = 90,513.34; Q·LP = 1,810,267 in bracket 3', () => {
    const r = lp('LONG', '20', '100000', '200000');
    expect(dp2(r.price)).toBe('90513.34');
    expect(r.bracket.bracket).toBe(3);
    expect(str(r.maintMarginRatio)).toBe('0.0065');
  });

  it('short 20 BTC at 100,000, 10x (WB 200,000): (2,000,000 + 200,000 + 1,500) / (20 × 1.0065) = 2,201,500 / 20.13 = 109,364.13; Q·LP = 2,187,283 in bracket 3', () => {
    const r = lp('SHORT', '20', '100000', '200000');
    expect(dp2(r.price)).toBe('109364.13');
    expect(r.bracket.bracket).toBe(3);
  });

  it('long whose liquidation notional falls a bracket lower: 3.2 BTC at 100,000 (N 320,000, bracket 2), 10x (WB 32,000)', () => {
    // Bracket 2: (320,000 − 32,000 − 300) / (3.2 × 0.995) = 287,700 / 3.184 = 90,358.04 → Q·LP = 289,146 < 300,000: bracket 1.
    // Bracket 1: (320,000 − 32,000 − 0) / (3.2 × 0.996) = 288,000 / 3.1872 = 90,361.45 → Q·LP = 289,157: bracket 1, stable.
    const r = lp('LONG', '3.2', '100000', '32000');
    expect(dp2(r.price)).toBe('90361.45');
    expect(r.bracket.bracket).toBe(1);
    expect(str(r.maintAmount)).toBe('0');
  });

  it('short whose liquidation notional falls a bracket higher: 7.8 BTC at 100,000 (N 780,000, bracket 2), 10x (WB 78,000)', () => {
    // Bracket 2: (780,000 + 78,000 + 300) / (7.8 × 1.005) = 858,300 / 7.839 = 109,491.01 → Q·LP = 854,030 >= 800,000: bracket 3.
    // Bracket 3: (780,000 + 78,000 + 1,500) / (7.8 × 1.0065) = 859,500 / 7.8507 = 109,480.68 → Q·LP = 853,949: bracket 3, stable.
    const r = lp('SHORT', '7.8', '100000', '78000');
    expect(dp2(r.price)).toBe('109480.68');
    expect(r.bracket.bracket).toBe(3);
    expect(str(r.maintMarginRatio)).toBe('0.0065');
  });

  it('uses the rules of the day: 2 BTC long at 30,000, 20x (WB 3,000) is bracket 2 in 2023 but bracket 1 in 2025', () => {
    // 2023 bracket 2 (50k–250k, MMR 0.005, cum 50): (60,000 − 3,000 − 50) / (2 × 0.995) = 56,950 / 1.99 = 28,618.09
    const r2023 = lp('LONG', '2', '30000', '3000', B2023);
    expect(dp2(r2023.price)).toBe('28618.09');
    expect(r2023.bracket.bracket).toBe(2);
    // 2025 bracket 1 (0–300k, MMR 0.004, cum 0): (60,000 − 3,000) / (2 × 0.996) = 57,000 / 1.992 = 28,614.46
    expect(dp2(lp('LONG', '2', '30000', '3000').price)).toBe('28614.46');
    // 2023 short: (60,000 + 3,000 + 50) / (2 × 1.005) = 63,050 / 2.01 = 31,368.16
    expect(dp2(lp('SHORT', '2', '30000', '3000', B2023).price)).toBe('31368.16');
  });

  it('2023 bracket 3 long: 10 BTC at 30,000 (N 300,000), 10x (WB 30,000): (300,000 − 30,000 − 1,300) / (10 × 0.99) = 268,700 / 9.9 = 27,141.41; Q·LP = 271,414 in bracket 3', () => {
    const r = lp('LONG', '10', '30000', '30000', B2023);
    expect(dp2(r.price)).toBe('27141.41');
    expect(r.bracket.bracket).toBe(3);
  });

  it('a 1x long cannot be liquidated: (60,000 − 60,000 − 0) / (1 × 0.996) = 0 → null', () => {
    const r = lp('LONG', '1', '60000', '60000');
    expect(r.price).toBeNull();
    expect(r.bracket.bracket).toBe(1);
  });

  it('a 1x short can: (60,000 + 60,000) / 1.004 = 119,521.91', () => {
    expect(dp2(lp('SHORT', '1', '60000', '60000').price)).toBe('119521.91');
  });

  it('throws on a non-positive quantity or entry price (programming errors)', () => {
    expect(() => lp('LONG', '0', '60000', '60')).toThrow(RangeError);
    expect(() => lp('LONG', '1', '-1', '60')).toThrow(RangeError);
  });

  it('picks the price closer to entry if inconsistent brackets make the bracket oscillate', () => {
    // cum 30 breaks continuity (consistent: 1,000 × (0.02 − 0.01) = 10); the parser refuses
    // such brackets, this exercises the defensive path. Long 1 at 1,100, WB 100:
    // bracket 2: (1,100 − 100 − 30) / 0.98 = 989.80 → N < 1,000: bracket 1;
    // bracket 1: (1,100 − 100) / 0.99 = 1,010.10 → N >= 1,000: bracket 2; … a cycle.
    const bad: Bracket[] = [
      { bracket: 1, initialLeverage: 20, notionalFloor: dec(0), notionalCap: dec(1000), maintMarginRatio: dec('0.01'), cum: dec(0) },
      { bracket: 2, initialLeverage: 10, notionalFloor: dec(1000), notionalCap: dec(5000), maintMarginRatio: dec('0.02'), cum: dec(30) },
    ];
    const r = lp('LONG', '1', '1100', '100', bad);
    expect(dp2(r.price)).toBe('1010.1'); // 1,010.10
    expect(r.bracket.bracket).toBe(1);
  });
});

describe('liquidationPrice: properties over the real brackets', () => {
  // Quantities 0.001..200 BTC, prices 1,000.0..150,000.0, leverage 1..125 (WB = notional / leverage).
  const arb = fc.record({
    side: fc.constantFrom<PositionSide>('LONG', 'SHORT'),
    q: fc.integer({ min: 1, max: 200_000 }).map((n) => new D(n).div(1000)),
    ep: fc.integer({ min: 10_000, max: 1_500_000 }).map((n) => new D(n).div(10)),
    lev: fc.integer({ min: 1, max: 125 }),
    brackets: fc.constantFrom(B2025, B2023),
  });

  it('margin balance equals maintenance margin at the liquidation price, in the bracket of the liquidation notional', () => {
    fc.assert(
      fc.property(arb, ({ side, q, ep, lev, brackets }) => {
        const wb = initialMargin(q.mul(ep), lev);
        const r = liquidationPrice({ side, quantity: q, entryPrice: ep, walletBalance: wb, brackets });
        if (r.price === null) return;
        const n = q.mul(r.price);
        expect(n.gte(r.bracket.notionalFloor)).toBe(true);
        if (r.bracket !== brackets[brackets.length - 1]) expect(n.lt(r.bracket.notionalCap)).toBe(true);
        const pnl = side === 'LONG' ? r.price.minus(ep).mul(q) : ep.minus(r.price).mul(q);
        const mm = maintenanceMargin(n, brackets).maintenanceMargin;
        expect(wb.plus(pnl).minus(mm).abs().lt('1e-25')).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('equals the most conservative single-bracket price (maintenance margin is the max of the bracket lines)', () => {
    fc.assert(
      fc.property(arb, ({ side, q, ep, lev, brackets }) => {
        const wb = initialMargin(q.mul(ep), lev);
        const r = liquidationPrice({ side, quantity: q, entryPrice: ep, walletBalance: wb, brackets });
        const candidates = brackets.map((b) =>
          side === 'LONG'
            ? q.mul(ep).minus(wb).minus(b.cum).div(q.mul(ONE.minus(b.maintMarginRatio)))
            : q.mul(ep).plus(wb).plus(b.cum).div(q.mul(ONE.plus(b.maintMarginRatio))),
        );
        const best = candidates.reduce((a, b) => (side === 'LONG' ? (b.gt(a) ? b : a) : b.lt(a) ? b : a));
        expect(r.price === null ? null : str(r.price)).toBe(best.gt(0) ? str(best) : null);
      }),
      { numRuns: 1000 },
    );
  });

  it('within the bracket max leverage, a long liquidates below entry and a short above', () => {
    fc.assert(
      fc.property(arb, ({ side, q, ep, lev, brackets }) => {
        const n = q.mul(ep);
        const allowed = Math.min(lev, maintenanceMargin(n, brackets).bracket.initialLeverage);
        const r = liquidationPrice({ side, quantity: q, entryPrice: ep, walletBalance: initialMargin(n, allowed), brackets });
        if (side === 'LONG') expect(r.price === null || r.price.lt(ep)).toBe(true);
        else expect(r.price !== null && r.price.gt(ep)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('maintenanceMargin', () => {
  it('MM = notional × MMR − cum: 500,000 × 0.005 − 300 = 2,200 (bracket 2)', () => {
    const m = maintenanceMargin(dec(500000), B2025);
    expect(m.bracket.bracket).toBe(2);
    expect(str(m.maintMarginRatio)).toBe('0.005');
    expect(str(m.maintAmount)).toBe('300');
    expect(str(m.maintenanceMargin)).toBe('2200');
  });

  it('is continuous at bracket floors: 300,000 × 0.004 = 1,200 = 300,000 × 0.005 − 300; 800,000 × 0.005 − 300 = 3,700 = 800,000 × 0.0065 − 1,500', () => {
    expect(str(maintenanceMargin(dec('299999.9'), B2025).maintenanceMargin)).toBe('1199.9996');
    expect(str(maintenanceMargin(dec(300000), B2025).maintenanceMargin)).toBe('1200');
    expect(str(maintenanceMargin(dec(800000), B2025).maintenanceMargin)).toBe('3700');
    for (const brackets of [B2025, B2023]) {
      for (let i = 1; i < brackets.length; i++) {
        const prev = brackets[i - 1]!;
        const b = brackets[i]!;
        expect(str(b.notionalFloor.mul(prev.maintMarginRatio).minus(prev.cum))).toBe(str(maintenanceMargin(b.notionalFloor, brackets).maintenanceMargin));
      }
    }
  });
});

describe('initialMargin', () => {
  it('= notional / leverage: 600 / 10 = 60; 1,000 / 3 at 40 significant digits', () => {
    expect(str(initialMargin(dec(600), 10))).toBe('60');
    expect(str(initialMargin(dec(1000), 3))).toBe('333.3333333333333333333333333333333333333');
  });

  it('throws on a leverage that is not an integer >= 1', () => {
    expect(() => initialMargin(dec(600), 0)).toThrow(RangeError);
    expect(() => initialMargin(dec(600), 2.5)).toThrow(RangeError);
  });
});

describe('marginRatio', () => {
  it('= maintenance margin / margin balance: 2,200 / 25,000 = 0.088', () => {
    expect(str(marginRatio(dec(2200), dec(25000))!)).toBe('0.088');
  });

  it('is 1 at the liquidation price: long 0.01 at 60,000, WB 60, at LP 54,216.87…', () => {
    const r = lp('LONG', '0.01', '60000', '60');
    const q = dec('0.01');
    const mm = maintenanceMargin(q.mul(r.price!), B2025).maintenanceMargin;
    const balance = dec(60).plus(r.price!.minus(60000).mul(q));
    expect(marginRatio(mm, balance)!.minus(1).abs().lt('1e-30')).toBe(true);
  });

  it('is null when the margin balance is <= 0', () => {
    expect(marginRatio(dec(10), dec(0))).toBeNull();
    expect(marginRatio(dec(10), dec(-5))).toBeNull();
  });
});
