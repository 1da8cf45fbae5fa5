import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { PositionSide } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules, readDataJson } from '@bulwark/testing';
import { initialMargin, liquidationPrice } from './liquidation';
import { D, dec, str } from './money';
import type { Bracket } from './rules';

// Every bracket of both recorded BTCUSDT bracket snapshots, long and short, checked against an
// independent re-implementation of the Binance FAQ "How to Calculate Liquidation Price of
// USDⓈ-M Contracts" (isolated margin, one-way mode; TMM = UPNL = 0):
//   long  LP = (WB + cum − Q·EP) / (Q·MMR − Q)  = (Q·EP − WB − cum) / (Q·(1 − MMR))
//   short LP = (WB + cum + Q·EP) / (Q·MMR + Q)  = (Q·EP + WB + cum) / (Q·(1 + MMR))
// with MMR and cum ("maintenance amount") those of the bracket that holds the notional at the
// liquidation price (the FAQ's re-check). The re-implementation below does not iterate like
// the code: it computes the price with EVERY bracket's MMR/cum and keeps the one bracket whose
// range holds its own liquidation notional Q·LP (margin balance − maintenance margin is
// monotonic in the price, so exactly one bracket is self-consistent).
// Entry prices are real Binance USDⓈ-M BTCUSDT 1m closes from shared/data.

const BTC = BTCUSDT_FILES.dir;

/** The code's brackets: parsed and checked by the rules parser, as the engine gets them. */
const engineBrackets = (file: string): Bracket[] => btcusdtRules(path.join(BTC, file)).brackets;

/** The test's own reading of the same file: raw JSON tokens to decimals, nothing shared with the parser. */
interface RawBracket {
  bracket: number;
  initialLeverage: number;
  floor: D;
  cap: D;
  mmr: D;
  cum: D;
}
const rawBrackets = (file: string): RawBracket[] => {
  const json = readDataJson(path.join(BTC, file)) as Array<{ brackets: Array<Record<string, number>> }>;
  return json[0]!.brackets.map((b) => ({
    bracket: b['bracket']!,
    initialLeverage: b['initialLeverage']!,
    floor: new D(String(b['notionalFloor'])),
    cap: new D(String(b['notionalCap'])),
    mmr: new D(String(b['maintMarginRatio'])),
    cum: new D(String(b['cum'])),
  }));
};

/** Close prices of a 1m kline file by row (0 = first data row), with the bar's UTC time. */
const closes = (file: string): Array<{ time: string; close: D }> =>
  fs
    .readFileSync(path.join(BTC, 'klines-1m', file), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const c = l.split(',');
      return { time: new Date(Number(c[0])).toISOString().slice(0, 16).replace('T', ' '), close: new D(c[4]!) };
    });

const SNAPSHOTS = [
  { name: '2025-11-20', file: 'leverage-brackets.json', candles: closes('BTCUSDT-1m-2025-11-10_2025-12-10.csv') },
  { name: '2023-07-18', file: 'leverage-brackets-2023-07-18.json', candles: closes('BTCUSDT-1m-2023-07-18_2023-08-17.csv') },
].map((s) => ({ ...s, raw: rawBrackets(s.file), engine: engineBrackets(s.file) }));

const STEP = new D('0.001'); // LOT_SIZE stepSize of BTCUSDT (exchange-info.json)
const sign = (side: PositionSide) => (side === 'LONG' ? 1 : -1);

/** The FAQ formula with one bracket's MMR and cum. */
function lpWith(side: PositionSide, q: D, ep: D, wb: D, b: RawBracket): D {
  return side === 'LONG' ? q.mul(ep).minus(wb).minus(b.cum).div(q.mul(new D(1).minus(b.mmr))) : q.mul(ep).plus(wb).plus(b.cum).div(q.mul(new D(1).plus(b.mmr)));
}

/**
 * Independent liquidation price: the brackets whose own price puts Q·LP in their range. For
 * consistent brackets there is exactly one, or none when every bracket's price is negative
 * (no liquidation notional >= 0 exists): then the price is null, reported with bracket 1.
 */
function expectedLiquidation(side: PositionSide, q: D, ep: D, wb: D, brackets: RawBracket[]): { price: D | null; bracket: number; consistent: number; allNegative: boolean } {
  const last = brackets[brackets.length - 1]!;
  const consistent = brackets.filter((b) => {
    const n = q.mul(lpWith(side, q, ep, wb, b));
    return n.gte(b.floor) && (b === last || n.lt(b.cap));
  });
  const allNegative = brackets.every((b) => lpWith(side, q, ep, wb, b).lt(0));
  const b = consistent[0];
  if (!b) return { price: null, bracket: 1, consistent: 0, allNegative };
  const price = lpWith(side, q, ep, wb, b);
  return { price: price.gt(0) ? price : null, bracket: b.bracket, consistent: consistent.length, allNegative };
}

const cents = (x: D | null) => (x === null ? null : str(x.toDecimalPlaces(2)));
/** Decimal text for test titles: up to 2 decimals, thousands grouped (no JS number involved). */
const fmt = (x: D) => {
  const [i, f] = x.toDecimalPlaces(2).toFixed().split('.');
  return `${i!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${f ? `.${f}` : ''}`;
};

/** Run the code and compare it with the independent price; check the code's bracket holds Q·LP. */
function checkPosition(side: PositionSide, q: D, ep: D, wb: D, snapshot: (typeof SNAPSHOTS)[number]) {
  const expected = expectedLiquidation(side, q, ep, wb, snapshot.raw);
  if (expected.consistent === 0) expect(expected.allNegative).toBe(true);
  else expect(expected.consistent).toBe(1);
  const r = liquidationPrice({ side, quantity: q, entryPrice: ep, walletBalance: wb, brackets: snapshot.engine });
  expect(cents(r.price)).toBe(cents(expected.price));
  if (r.price !== null && expected.price !== null) expect(r.price.minus(expected.price).abs().lt('1e-20')).toBe(true);
  expect(r.bracket.bracket).toBe(expected.bracket);
  if (r.price !== null) {
    const n = q.mul(r.price);
    expect(n.gte(r.bracket.notionalFloor)).toBe(true);
    if (r.bracket !== snapshot.engine[snapshot.engine.length - 1]) expect(n.lt(r.bracket.notionalCap)).toBe(true);
  }
  return { r, expected };
}

describe('the test data', () => {
  it('reads the same brackets as the parser, 12 (2025-11-20) and 10 (2023-07-18)', () => {
    for (const s of SNAPSHOTS) {
      expect(s.raw.map((b) => [b.bracket, b.initialLeverage, str(b.floor), str(b.cap), str(b.mmr), str(b.cum)])).toEqual(
        s.engine.map((b) => [b.bracket, b.initialLeverage, str(b.notionalFloor), str(b.notionalCap), str(b.maintMarginRatio), str(b.cum)]),
      );
    }
    expect(SNAPSHOTS.map((s) => s.raw.length)).toEqual([12, 10]);
    expect(str(SNAPSHOTS[1]!.raw[8]!.cum)).toBe('26421300'); // "cum": 2.64213E7 in the file
  });
});

describe('hand-worked, 2025-11-20 bracket 1 (0–300,000, 150x, MMR 0.004, cum 0), close 104,587.7 (2025-11-10 00:00)', () => {
  // Mid-bracket notional 150,000: Q = 150,000 ÷ 104,587.7 = 1.43420… → 1.434 BTC (step 0.001);
  // N = 1.434 × 104,587.7 = 149,978.7618; WB at 150x = 149,978.7618 ÷ 150 = 999.858412.
  const q = dec('1.434');
  const ep = dec('104587.7');
  const wb = dec('999.858412');
  const s = SNAPSHOTS[0]!;

  it('long: (149,978.7618 − 999.858412 − 0) ÷ (1.434 × 0.996) = 148,978.903388 ÷ 1.428264 = 104,307.68', () => {
    expect(s.candles[0]!.close.eq(ep)).toBe(true);
    expect(str(initialMargin(q.mul(ep), 150))).toBe('999.858412');
    const { r } = checkPosition('LONG', q, ep, wb, s);
    expect(cents(r.price)).toBe('104307.68');
    expect(r.bracket.bracket).toBe(1);
  });

  it('short: (149,978.7618 + 999.858412 + 0) ÷ (1.434 × 1.004) = 150,978.620212 ÷ 1.439736 = 104,865.49', () => {
    const { r } = checkPosition('SHORT', q, ep, wb, s);
    expect(cents(r.price)).toBe('104865.49');
    expect(r.bracket.bracket).toBe(1);
  });
});

for (const s of SNAPSHOTS) {
  describe(`every bracket of the ${s.name} snapshot (${s.file})`, () => {
    const last = s.raw[s.raw.length - 1]!;
    const range = (b: RawBracket) => `bracket ${b.bracket} (${fmt(b.floor)}–${fmt(b.cap)}, ${b.initialLeverage}x, MMR ${str(b.mmr)}, cum ${fmt(b.cum)})`;
    const lpText = (x: D | null) => (x === null ? 'none (<= 0)' : fmt(x));

    // Scenario 1: the entry notional in the middle of the bracket, at the bracket's max
    // leverage (WB = N ÷ max leverage), entry at a different real close per bracket.
    const atMaxLeverage = s.raw.flatMap((b, k) => {
      const bar = s.candles[k * 3001]!;
      const q = b.floor.plus(b.cap).div(2).div(bar.close).div(STEP).floor().mul(STEP);
      const n = q.mul(bar.close);
      const wb = n.div(b.initialLeverage);
      return (['LONG', 'SHORT'] as const).map((side) => {
        const e = expectedLiquidation(side, q, bar.close, wb, s.raw);
        const label = `${range(b)} ${side}: ${str(q)} BTC at ${fmt(bar.close)} (close ${bar.time}), N ${fmt(n)}, WB N ÷ ${b.initialLeverage} = ${fmt(wb)} → LP ${lpText(e.price)} in bracket ${e.bracket}`;
        return { label, b, side, q, ep: bar.close, n, wb };
      });
    });

    it.each(atMaxLeverage)('$label', ({ b, side, q, ep, n, wb }) => {
      expect(n.gte(b.floor) && n.lt(b.cap)).toBe(true); // the position sits in this bracket
      const { r, expected } = checkPosition(side, q, ep, wb, s);
      // Within the bracket's max leverage a long liquidates below entry (or never), a short above.
      if (side === 'LONG') expect(r.price === null || r.price.lt(ep)).toBe(true);
      else expect(r.price!.gt(ep)).toBe(true);
      // A 1x long (the top bracket) can never be liquidated: (N − N − cum) ÷ … <= 0.
      if (side === 'LONG' && b.initialLeverage === 1) expect(expected.price).toBeNull();
      else expect(expected.price).not.toBeNull();
    });

    // Scenario 2: the liquidation notional itself inside the bracket, so the price is computed
    // with this bracket's MMR and cum. Long: entry at mid + width/8, liquidation at
    // mid − width/8; short the other way round; WB (to the cent) solves the FAQ equation:
    //   long  WB = N − cum − (1 − MMR)·N_LP,   short WB = (1 + MMR)·N_LP − N − cum.
    const liquidatedInside = s.raw.flatMap((b, k) => {
      const bar = s.candles[k * 3001 + 1500]!;
      const mid = b.floor.plus(b.cap).div(2);
      const eighth = b.cap.minus(b.floor).div(8);
      return (['LONG', 'SHORT'] as const).map((side) => {
        const targetLiq = mid.minus(eighth.mul(sign(side)));
        const q = mid.plus(eighth.mul(sign(side))).div(bar.close).div(STEP).floor().mul(STEP);
        const n = q.mul(bar.close);
        const wb = (side === 'LONG' ? n.minus(b.cum).minus(new D(1).minus(b.mmr).mul(targetLiq)) : new D(1).plus(b.mmr).mul(targetLiq).minus(n).minus(b.cum)).toDecimalPlaces(2);
        const hand = lpWith(side, q, bar.close, wb, b);
        const label =
          `${range(b)} ${side}: ${str(q)} BTC at ${fmt(bar.close)} (close ${bar.time}), WB ${fmt(wb)}: ` +
          (side === 'LONG' ? `(${fmt(n)} − ${fmt(wb)} − ${fmt(b.cum)}) ÷ (${str(q)} × ${str(new D(1).minus(b.mmr))})` : `(${fmt(n)} + ${fmt(wb)} + ${fmt(b.cum)}) ÷ (${str(q)} × ${str(new D(1).plus(b.mmr))})`) +
          ` = ${fmt(hand)}, liquidation notional ${fmt(q.mul(hand))}`;
        return { label, b, side, q, ep: bar.close, wb, hand, targetLiq };
      });
    });

    it.each(liquidatedInside)('$label', ({ b, side, q, ep, wb, hand, targetLiq }) => {
      expect(wb.gt(0)).toBe(true);
      expect(q.mul(hand).minus(targetLiq).abs().lte(dec('0.01'))).toBe(true); // lands on the target notional
      const { r } = checkPosition(side, q, ep, wb, s);
      expect(r.bracket.bracket).toBe(b.bracket);
      expect(cents(r.price)).toBe(cents(hand));
      expect(str(r.maintMarginRatio)).toBe(str(b.mmr));
      expect(str(r.maintAmount)).toBe(str(b.cum));
      if (b === last) expect(q.mul(r.price!).gte(b.floor)).toBe(true);
    });
  });
}

describe('a liquidation price <= 0 is reported as null', () => {
  const s = SNAPSHOTS[0]!;
  const ep = s.candles[0]!.close; // 104,587.7
  const q = dec('0.01'); // N = 1,045.877

  it('1x long: (1,045.877 − 1,045.877 − 0) ÷ (0.01 × 0.996) = 0 → null', () => {
    const { r } = checkPosition('LONG', q, ep, q.mul(ep), s);
    expect(r.price).toBeNull();
    expect(r.bracket.bracket).toBe(1);
  });

  it('over-collateralised long, WB 1,500: (1,045.877 − 1,500) ÷ 0.00996 = −45,594.68 → null', () => {
    const { r } = checkPosition('LONG', q, ep, dec(1500), s);
    expect(r.price).toBeNull();
    expect(str(q.mul(ep).minus(1500).div(dec('0.00996')).toDecimalPlaces(2))).toBe('-45594.68');
  });

  it('a 1x short still has one: (1,045.877 + 1,045.877) ÷ (0.01 × 1.004) = 208,342.03', () => {
    const { r } = checkPosition('SHORT', q, ep, q.mul(ep), s);
    expect(cents(r.price)).toBe('208342.03');
  });
});

describe('property: a long liquidates below entry, a short above (real closes, both snapshots)', () => {
  const all = SNAPSHOTS.flatMap((s) => s.candles.map((c) => ({ s, close: c.close })));
  const position = fc.record({
    at: fc.integer({ min: 0, max: all.length - 1 }),
    snapshot: fc.integer({ min: 0, max: SNAPSHOTS.length - 1 }),
    // 0.001 BTC × mantissa × 10^k: 0.001 .. 99,990 BTC (past the last bracket cap at ~120,000 USDT/BTC).
    q: fc.tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 0, max: 4 })).map(([m, k]) => new D(m).mul(new D(10).pow(k)).mul(STEP)),
    lev: fc.integer({ min: 1, max: 150 }),
  });

  it('LP(long) < entry < LP(short) within the bracket max leverage (WB = initial margin)', () => {
    fc.assert(
      fc.property(position, ({ at, snapshot, q, lev }) => {
        const s = SNAPSHOTS[snapshot]!;
        const ep = all[at]!.close;
        const n = q.mul(ep);
        const entryBracket = s.raw.find((b) => n.gte(b.floor) && n.lt(b.cap)) ?? s.raw[s.raw.length - 1]!;
        const wb = initialMargin(n, Math.min(lev, entryBracket.initialLeverage));
        const long = checkPosition('LONG', q, ep, wb, s).r.price;
        const short = checkPosition('SHORT', q, ep, wb, s).r.price;
        expect(long === null || long.lt(ep)).toBe(true);
        expect(short !== null && short.gt(ep)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
