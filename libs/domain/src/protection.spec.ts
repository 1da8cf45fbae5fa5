import fc from 'fast-check';
import type { PositionSide, ProtectionGuards } from '@bulwark/contracts';
import { btcusdtRules } from '@bulwark/testing';
import { liquidationPrice } from './liquidation';
import { D, dec, str } from './money';
import { GUARD_DEFAULTS, marginRatioPrice, protectionGuards } from './protection';
import type { Bracket } from './rules';

// Margin ratio (Binance USDⓈ-M) = maintenance margin ÷ margin balance, with
//   MM = Q·P·MMR − cum and margin balance = WB + uPnL (isolated: WB = the position's margin).
// Solving MM = r·(WB + uPnL) for the mark price P:
//   long  (uPnL = (P − EP)·Q): P = (r·(Q·EP − WB) − cum) / (Q·(r − MMR))
//   short (uPnL = (EP − P)·Q): P = (r·(Q·EP + WB) + cum) / (Q·(r + MMR))
// At r = 1 these are the liquidation-price formulas.

/** The real 2025-11-20 snapshot: 1: 0–300k 150x MMR 0.004 cum 0; 2: 300k–800k 100x 0.005 cum 300; 3: 800k–3M 75x 0.0065 cum 1,500; … */
const B2025: Bracket[] = btcusdtRules().brackets;

const mrp = (side: PositionSide, q: string, ep: string, wb: string, r: string) => {
  const p = marginRatioPrice(side, dec(q), dec(ep), dec(wb), B2025, dec(r));
  return p === null ? null : str(p);
};

// ---------------------------------------------------------------------------------------
// An independent check, written without protection.ts or liquidation.ts: its own bracket
// lookup and the margin ratio computed at 120 significant digits.
// ---------------------------------------------------------------------------------------
const H = D.clone({ precision: 120 });
/** The bracket whose [floor, cap) holds the notional (the last one above every cap). */
const bracketOf = (notional: D): Bracket => B2025.find((b) => notional.gte(b.notionalFloor) && notional.lt(b.notionalCap)) ?? B2025[B2025.length - 1];

/** MM ÷ (WB + uPnL) at the price `p`, with the bracket `b`, at 120 digits. */
function ratioAt(side: PositionSide, q: D, ep: D, wb: D, b: Bracket, p: D): D {
  const [Q, P, EP, WB] = [new H(q.toString()), new H(p.toString()), new H(ep.toString()), new H(wb.toString())];
  const mm = Q.mul(P).mul(b.maintMarginRatio.toString()).minus(b.cum.toString());
  const upnl = side === 'LONG' ? P.minus(EP).mul(Q) : EP.minus(P).mul(Q);
  return mm.div(WB.plus(upnl));
}

/**
 * The returned price is the exact root rounded to 40 significant digits, so the exact root
 * lies within half a unit of the 40th digit: the margin ratio at P − ½ulp and at P + ½ulp
 * lies on either side of r (or equals it). Checked exactly (at 120 digits), with the
 * bracket of the notional Q·P.
 */
function ratioIsExactlyRAt(side: PositionSide, q: D, ep: D, wb: D, r: D, p: D): boolean {
  const b = bracketOf(q.mul(p));
  const halfUlp = new H(10).pow(p.e - 39).div(2); // p.e = exponent of p's first digit; 40 digits
  const P = new H(p.toString());
  const below = ratioAt(side, q, ep, wb, b, P.minus(halfUlp)).minus(r.toString());
  const above = ratioAt(side, q, ep, wb, b, P.plus(halfUlp)).minus(r.toString());
  return below.mul(above).lte(0);
}

/** The margin ratio at P itself, rounded to 30 significant digits (P carries 40). */
const ratio30 = (side: PositionSide, q: string, ep: string, wb: string, p: string) =>
  str(ratioAt(side, dec(q), dec(ep), dec(wb), bracketOf(dec(q).mul(p)), dec(p)).toSignificantDigits(30));

describe('marginRatioPrice: worked examples (0.01 BTC at 60,000, 10x, WB = 600 / 10 = 60, bracket 1: MMR 0.004, cum 0)', () => {
  it('long, r = 1: (1 × (600 − 60) − 0) / (0.01 × (1 − 0.004)) = 540 / 0.00996 = 54,216.87… — exactly the liquidation price', () => {
    const p = mrp('LONG', '0.01', '60000', '60', '1');
    expect(p).toBe('54216.86746987951807228915662650602409639');
    const lp = liquidationPrice({ side: 'LONG', quantity: dec('0.01'), entryPrice: dec('60000'), walletBalance: dec('60'), brackets: B2025 }).price;
    expect(str(lp!)).toBe(p);
  });

  it('long, r = 0.95: 0.95 × 540 / (0.01 × 0.946) = 513 / 0.00946 = 54,228.33…', () => {
    expect(mrp('LONG', '0.01', '60000', '60', '0.95')).toBe('54228.32980972515856236786469344608879493');
  });

  it('long, r = 0.9: 0.9 × 540 / (0.01 × 0.896) = 486 / 0.00896 = 54,241.0714285714… (486 / 0.00896 = 48,600,000 / 896)', () => {
    expect(mrp('LONG', '0.01', '60000', '60', '0.9')).toBe('54241.07142857142857142857142857142857143');
  });

  it('short, r = 1: (1 × (600 + 60) + 0) / (0.01 × (1 + 0.004)) = 660 / 0.01004 = 65,737.05… — the short liquidation price', () => {
    const p = mrp('SHORT', '0.01', '60000', '60', '1');
    expect(p).toBe('65737.05179282868525896414342629482071713');
    const lp = liquidationPrice({ side: 'SHORT', quantity: dec('0.01'), entryPrice: dec('60000'), walletBalance: dec('60'), brackets: B2025 }).price;
    expect(str(lp!)).toBe(p);
  });

  it('short, r = 0.95: 0.95 × 660 / (0.01 × 0.954) = 627 / 0.00954 = 65,723.27…', () => {
    expect(mrp('SHORT', '0.01', '60000', '60', '0.95')).toBe('65723.27044025157232704402515723270440252');
  });

  it('short, r = 0.9: 0.9 × 660 / (0.01 × 0.904) = 594 / 0.00904 = 65,707.96…', () => {
    expect(mrp('SHORT', '0.01', '60000', '60', '0.9')).toBe('65707.96460176991150442477876106194690265');
  });

  it.each([
    ['LONG', '1', '54216.86746987951807228915662650602409639'],
    ['LONG', '0.95', '54228.32980972515856236786469344608879493'],
    ['LONG', '0.9', '54241.07142857142857142857142857142857143'],
    ['SHORT', '1', '65737.05179282868525896414342629482071713'],
    ['SHORT', '0.95', '65723.27044025157232704402515723270440252'],
    ['SHORT', '0.9', '65707.96460176991150442477876106194690265'],
  ] as const)('independent check, %s r = %s: at P = %s, MM = 0.01 × P × 0.004 and margin balance = 60 ± (P − 60,000) × 0.01 give MM ÷ balance = r', (side, r, p) => {
    // e.g. long r = 0.9: MM = 0.01 × 54,241.0714… × 0.004 = 2.16964…; balance = 60 − 57.589… = 2.41071…; 2.16964 / 2.41071 = 0.9
    expect(ratio30(side, '0.01', '60000', '60', p)).toBe(r);
    expect(ratioIsExactlyRAt(side, dec('0.01'), dec('60000'), dec('60'), dec(r), dec(p))).toBe(true);
    // The check discriminates: one unit of the 40th digit (1e-35 here) away, the ratio is no longer r.
    expect(ratioIsExactlyRAt(side, dec('0.01'), dec('60000'), dec('60'), dec(r), dec(p).plus('1e-35'))).toBe(false);
    expect(ratioIsExactlyRAt(side, dec('0.01'), dec('60000'), dec('60'), dec(r), dec(p).minus('1e-35'))).toBe(false);
  });

  it('the margin ratio is reached before liquidation: long 54,241.07 (90 %) > 54,228.33 (95 %) > 54,216.87 (100 %); short 65,707.96 < 65,723.27 < 65,737.05', () => {
    const long = ['0.9', '0.95', '1'].map((r) => dec(mrp('LONG', '0.01', '60000', '60', r)!));
    const short = ['0.9', '0.95', '1'].map((r) => dec(mrp('SHORT', '0.01', '60000', '60', r)!));
    expect(long[0].gt(long[1]) && long[1].gt(long[2])).toBe(true);
    expect(short[0].lt(short[1]) && short[1].lt(short[2])).toBe(true);
  });
});

describe('marginRatioPrice: bracket re-selection and unreachable ratios', () => {
  it('long 3.2 BTC at 100,000 (N 320,000, bracket 2), 10x (WB 32,000), r = 0.9: falls back to bracket 1', () => {
    // Bracket 2: (0.9 × (320,000 − 32,000) − 300) / (3.2 × (0.9 − 0.005)) = 258,900 / 2.864 = 90,398.04 → N = 289,273.7 < 300,000: bracket 1.
    // Bracket 1: (0.9 × 288,000 − 0) / (3.2 × 0.896) = 259,200 / 2.8672 = 90,401.785714… → N = 289,285.7: bracket 1, stable.
    const p = mrp('LONG', '3.2', '100000', '32000', '0.9');
    expect(p).toBe('90401.78571428571428571428571428571428571');
    expect(ratioIsExactlyRAt('LONG', dec('3.2'), dec('100000'), dec('32000'), dec('0.9'), dec(p!))).toBe(true);
  });

  it('short 2.9 BTC at 100,000 (N 290,000, bracket 1), 10x (WB 29,000), r = 0.9: moves up to bracket 2', () => {
    // Bracket 1: 0.9 × (290,000 + 29,000) / (2.9 × 0.904) = 287,100 / 2.6216 = 109,513.27 → N = 317,588.5 >= 300,000: bracket 2.
    // Bracket 2: (287,100 + 300) / (2.9 × (0.9 + 0.005)) = 287,400 / 2.6245 = 109,506.5726… → N = 317,569.1: bracket 2, stable.
    const p = mrp('SHORT', '2.9', '100000', '29000', '0.9');
    expect(p).toBe('109506.5726805105734425604877119451324062');
    expect(ratioIsExactlyRAt('SHORT', dec('2.9'), dec('100000'), dec('29000'), dec('0.9'), dec(p!))).toBe(true);
  });

  it('a long cannot reach a ratio at or below its MMR: r = 0.004 (denominator 0.01 × 0) and r = 0.003 (negative) → null', () => {
    expect(mrp('LONG', '0.01', '60000', '60', '0.004')).toBeNull();
    expect(mrp('LONG', '0.01', '60000', '60', '0.003')).toBeNull();
  });

  it('a 1x long (WB 600 = notional) never reaches 90 %: (0.9 × (600 − 600) − 0) / … = 0 → null', () => {
    expect(mrp('LONG', '0.01', '60000', '600', '0.9')).toBeNull();
  });

  it('a 1x short does: 0.9 × (600 + 600) / (0.01 × 0.904) = 1,080 / 0.00904 = 119,469.03…', () => {
    expect(mrp('SHORT', '0.01', '60000', '600', '0.9')).toBe('119469.026548672566371681415929203539823'); // 40 digits: …398230, the trailing 0 dropped
  });
});

describe('protectionGuards: worked examples', () => {
  const guards = (side: PositionSide, wb: string, thresholds?: Parameters<typeof protectionGuards>[0]['thresholds']) =>
    protectionGuards({ side, quantity: dec('0.01'), entryPrice: dec('60000'), walletBalance: dec(wb), brackets: B2025, thresholds });

  it('the default thresholds: margin ratio 90 % warns and 95 % closes; 10 % of the distance to liquidation left warns, 5 % closes', () => {
    expect(GUARD_DEFAULTS).toEqual({ marginRatioWarn: '0.9', marginRatioClose: '0.95', liquidationDistanceWarn: '0.1', liquidationDistanceClose: '0.05' });
  });

  it('long 0.01 BTC at 60,000, 10x (WB 60)', () => {
    // LP = 54,216.8674…; EP − LP = 5,783.1325…
    // distance warn  = LP + 0.1 × 5,783.1325… = 54,216.8674… + 578.3132… = 54,795.1807…
    // distance close = LP + 0.05 × 5,783.1325… = 54,216.8674… + 289.1566… = 54,506.0240…
    expect(guards('LONG', '60')).toEqual<ProtectionGuards>({
      liquidationPrice: '54216.86746987951807228915662650602409639',
      marginRatioWarnPrice: '54241.07142857142857142857142857142857143',
      marginRatioClosePrice: '54228.32980972515856236786469344608879493',
      liquidationDistanceWarnPrice: '54795.18072289156626506024096385542168675',
      liquidationDistanceClosePrice: '54506.02409638554216867469879518072289157',
    });
  });

  it('short 0.01 BTC at 60,000, 10x (WB 60): the mirror, above the entry', () => {
    // LP = 65,737.0517…; EP − LP = −5,737.0517…
    // distance warn  = LP − 0.1 × 5,737.0517… = 65,737.0517… − 573.7051… = 65,163.3466…
    // distance close = LP − 0.05 × 5,737.0517… = 65,737.0517… − 286.8525… = 65,450.1992…
    expect(guards('SHORT', '60')).toEqual<ProtectionGuards>({
      liquidationPrice: '65737.05179282868525896414342629482071713',
      marginRatioWarnPrice: '65707.96460176991150442477876106194690265',
      marginRatioClosePrice: '65723.27044025157232704402515723270440252',
      liquidationDistanceWarnPrice: '65163.34661354581673306772908366533864542',
      liquidationDistanceClosePrice: '65450.19920318725099601593625498007968127',
    });
  });

  it('a 1x long (WB 600) cannot be liquidated: every guard is null', () => {
    expect(guards('LONG', '600')).toEqual<ProtectionGuards>({
      liquidationPrice: null,
      marginRatioWarnPrice: null,
      marginRatioClosePrice: null,
      liquidationDistanceWarnPrice: null,
      liquidationDistanceClosePrice: null,
    });
  });

  it('thresholds can be overridden: a margin-ratio warning at 100 % is the liquidation price; a distance share of 0 is LP, of 1 is the entry', () => {
    const g = guards('LONG', '60', { marginRatioWarn: '1', liquidationDistanceWarn: '1', liquidationDistanceClose: '0' });
    expect(g.marginRatioWarnPrice).toBe('54216.86746987951807228915662650602409639');
    expect(g.marginRatioClosePrice).toBe('54228.32980972515856236786469344608879493'); // default 0.95 kept
    expect(g.liquidationDistanceWarnPrice).toBe('60000');
    expect(g.liquidationDistanceClosePrice).toBe('54216.86746987951807228915662650602409639');
  });
});

describe('protectionGuards: properties over the real 2025-11-20 brackets', () => {
  // Quantity 0.001..1,000 BTC (step 0.001), entry 1,000.0..200,000.0 (tick 0.1), so the
  // notional reaches bracket 7 (100M–230M); leverage 1..the bracket's max at the entry
  // notional; WB = notional / leverage rounded down to 8 decimals (USDT), so every input is exact.
  const position = fc
    .record({
      side: fc.constantFrom<PositionSide>('LONG', 'SHORT'),
      q: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 1_000_000 })).map((n) => new D(n).div(1000)),
      ep: fc.integer({ min: 10_000, max: 2_000_000 }).map((n) => new D(n).div(10)),
    })
    .chain(({ side, q, ep }) =>
      fc.integer({ min: 1, max: bracketOf(q.mul(ep)).initialLeverage }).map((leverage) => ({
        side,
        q,
        ep,
        leverage,
        wb: q.mul(ep).div(leverage).toDecimalPlaces(8, D.ROUND_DOWN),
      })),
    );

  it('long: liquidationPrice < distance close < distance warn < entry and liquidationPrice < ratio close < ratio warn < entry; short mirrored; all null only for a 1x long', () => {
    fc.assert(
      fc.property(position, ({ side, q, ep, leverage, wb }) => {
        const g = protectionGuards({ side, quantity: q, entryPrice: ep, walletBalance: wb, brackets: B2025 });
        if (g.liquidationPrice === null) {
          expect(side === 'LONG' && leverage === 1).toBe(true);
          expect(Object.values(g).every((v) => v === null)).toBe(true);
          return;
        }
        expect(side === 'LONG' && leverage === 1).toBe(false);
        const [lp, ldc, ldw, mrc, mrw] = [g.liquidationPrice, g.liquidationDistanceClosePrice, g.liquidationDistanceWarnPrice, g.marginRatioClosePrice, g.marginRatioWarnPrice].map((v) => {
          expect(v).not.toBeNull();
          return dec(v!);
        });
        // Ascending for a long, descending for a short: each level is met before the next one on the way to liquidation.
        const inOrder = (xs: D[]) => xs.every((x, i) => i === 0 || (side === 'LONG' ? xs[i - 1].lt(x) : xs[i - 1].gt(x)));
        expect(inOrder([lp, ldc, ldw, ep])).toBe(true);
        expect(inOrder([lp, mrc, mrw, ep])).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('independent check: the margin ratio at the warn and close prices is exactly 0.9 and 0.95, and at r = 1 the price is the liquidation price', () => {
    fc.assert(
      fc.property(position, ({ side, q, ep, wb }) => {
        const lp = liquidationPrice({ side, quantity: q, entryPrice: ep, walletBalance: wb, brackets: B2025 }).price;
        const at1 = marginRatioPrice(side, q, ep, wb, B2025, dec(1));
        expect(at1 === null ? null : str(at1)).toBe(lp === null ? null : str(lp));
        for (const r of ['0.9', '0.95', '1']) {
          const p = marginRatioPrice(side, q, ep, wb, B2025, dec(r));
          if (p === null) {
            expect(lp).toBeNull();
            continue;
          }
          expect(ratioIsExactlyRAt(side, q, ep, wb, dec(r), p)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
