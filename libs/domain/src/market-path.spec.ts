import * as fs from 'node:fs';
import type { Candle } from '@bulwark/contracts';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { crossing, intraBarPath, PATH_OFFSETS_MS, pathSteps } from './market-path';
import { dec, str } from './money';

// Real Binance USD-M BTCUSDT 1m klines (shared/data, see PROVENANCE.md section 1).
const ROWS = fs.readFileSync(BTCUSDT_FILES.candles1m, 'utf8').trim().split('\n').slice(1);
const INDEX = new Map(ROWS.map((row, i) => [Number(row.slice(0, row.indexOf(','))), i]));

/** The bar opening at `iso` (UTC) and the close of the bar before it (null for the file's first bar). */
function bar(iso: string): { candle: Candle; previousClose: string | null } {
  const i = INDEX.get(Date.parse(iso));
  if (i === undefined) throw new Error(`no bar at ${iso}`);
  const toCandle = (row: string): Candle => {
    const [openTime, open, high, low, close, volume] = row.split(',');
    return { openTime: Number(openTime), interval: '1m', open, high, low, close, volume };
  };
  return { candle: toCandle(ROWS[i]), previousClose: i === 0 ? null : toCandle(ROWS[i - 1]).close };
}

const fmt = (c: ReturnType<typeof crossing>) => (c === null ? null : { price: str(c.price), fraction: str(c.fraction) });

// 2025-11-10 00:00, the file's first bar: O 104670.7 H 104670.7 L 104570.6 C 104587.7 (falling).
const FIRST = bar('2025-11-10T00:00:00Z');
// 2025-11-10 00:04: O 104334.4 H 104354.3 L 104205.9 C 104354.3 (rising), previous close 104334.3.
const RISING = bar('2025-11-10T00:04:00Z');
// 2025-11-24 01:09: the file's largest close-to-open gap, 86752.5 → 86808.8 (+56.3); O 86808.8 H 86815.1 L 86689.1 C 86815.1.
const GAP_UP = bar('2025-11-24T01:09:00Z');
// 2025-12-08 15:09: a down gap 90567.4 → 90557.2 (−10.2); O 90557.2 H 90563.3 L 90367.6 C 90484.2 (falling).
const GAP_DOWN = bar('2025-12-08T15:09:00Z');

describe('intraBarPath', () => {
  it('the real bars are the ones this file is about', () => {
    expect(FIRST.candle).toEqual({ openTime: 1762732800000, interval: '1m', open: '104670.7', high: '104670.7', low: '104570.6', close: '104587.7', volume: '73.095' });
    expect(FIRST.previousClose).toBeNull();
    expect(RISING.candle).toMatchObject({ openTime: 1762733040000, open: '104334.4', high: '104354.3', low: '104205.9', close: '104354.3' });
    expect(RISING.previousClose).toBe('104334.3');
    expect(GAP_UP.previousClose).toBe('86752.5');
    expect(GAP_DOWN.previousClose).toBe('90567.4');
  });

  it('falling bar (close 104587.7 < open 104670.7): open → high → low → close', () => {
    expect(intraBarPath(FIRST.candle)).toEqual(['104670.7', '104670.7', '104570.6', '104587.7']);
  });

  it('rising bar (close 104354.3 > open 104334.4): open → low → high → close', () => {
    expect(intraBarPath(RISING.candle)).toEqual(['104334.4', '104205.9', '104354.3', '104354.3']);
  });

  it('a doji (close = open = 106220.9, 2025-11-10 07:39) takes the rising path: open → low 106220.8 → high 106249.9 → close', () => {
    const { candle } = bar('2025-11-10T07:39:00Z');
    expect(candle).toMatchObject({ open: '106220.9', high: '106249.9', low: '106220.8', close: '106220.9' });
    expect(intraBarPath(candle)).toEqual(['106220.9', '106220.8', '106249.9', '106220.9']);
  });

  it('keeps the price tokens verbatim (the 2025-11-10 00:01 low is written "104412", not "104412.0")', () => {
    const { candle } = bar('2025-11-10T00:01:00Z');
    expect(intraBarPath(candle)).toEqual(['104587.8', '104587.8', '104412', '104427.3']);
  });
});

describe('pathSteps', () => {
  it('stamps the four points at open + 0 / 20,000 / 40,000 / 59,999 ms (the last is the bar close time)', () => {
    expect([...PATH_OFFSETS_MS]).toEqual([0, 20_000, 40_000, 59_999]);
  });

  it('first bar of a run (no previous close): step 0 is a zero-length gap open → open', () => {
    const t = 1762732800000;
    expect(pathSteps(FIRST.candle, FIRST.previousClose)).toEqual([
      { pathIndex: 0, ts: t, from: '104670.7', to: '104670.7', gap: true },
      { pathIndex: 1, ts: t + 20_000, from: '104670.7', to: '104670.7', gap: false },
      { pathIndex: 2, ts: t + 40_000, from: '104670.7', to: '104570.6', gap: false },
      { pathIndex: 3, ts: t + 59_999, from: '104570.6', to: '104587.7', gap: false },
    ]);
  });

  it('rising bar after a gap (2025-11-24 01:09): step 0 jumps from the previous close 86752.5 to the open 86808.8, then open → low → high → close', () => {
    const t = 1763946540000;
    expect(pathSteps(GAP_UP.candle, GAP_UP.previousClose)).toEqual([
      { pathIndex: 0, ts: t, from: '86752.5', to: '86808.8', gap: true },
      { pathIndex: 1, ts: t + 20_000, from: '86808.8', to: '86689.1', gap: false },
      { pathIndex: 2, ts: t + 40_000, from: '86689.1', to: '86815.1', gap: false },
      { pathIndex: 3, ts: t + 59_999, from: '86815.1', to: '86815.1', gap: false },
    ]);
  });

  it('falling bar after a down gap (2025-12-08 15:09): 90567.4 ⇒ 90557.2, then open → high 90563.3 → low 90367.6 → close 90484.2', () => {
    const t = 1765206540000;
    expect(pathSteps(GAP_DOWN.candle, GAP_DOWN.previousClose)).toEqual([
      { pathIndex: 0, ts: t, from: '90567.4', to: '90557.2', gap: true },
      { pathIndex: 1, ts: t + 20_000, from: '90557.2', to: '90563.3', gap: false },
      { pathIndex: 2, ts: t + 40_000, from: '90563.3', to: '90367.6', gap: false },
      { pathIndex: 3, ts: t + 59_999, from: '90367.6', to: '90484.2', gap: false },
    ]);
  });

  it('consecutive real bars chain: every step starts where the previous one ended, across bar boundaries', () => {
    let prev: string | null = null;
    let last: string | null = null;
    for (const row of ROWS.slice(0, 240)) {
      const { candle } = bar(new Date(Number(row.split(',')[0])).toISOString());
      for (const s of pathSteps(candle, prev)) {
        if (last !== null) expect(s.from).toBe(last);
        last = s.to;
      }
      prev = candle.close;
    }
  });
});

describe('crossing', () => {
  describe('continuous step', () => {
    // 2025-11-10 00:00 step 2: 104670.7 → 104570.6 (down 100.1).
    const down = pathSteps(FIRST.candle, null)[2];
    // 2025-11-10 00:04 step 2: 104205.9 → 104354.3 (up 148.4).
    const up = pathSteps(RISING.candle, RISING.previousClose)[2];

    it('down through 104600 on 104670.7 → 104570.6: at the level, fraction (104670.7 − 104600) / (104670.7 − 104570.6) = 70.7 / 100.1 = 707/1001', () => {
      expect(down).toMatchObject({ from: '104670.7', to: '104570.6', gap: false });
      expect(fmt(crossing(down, dec('104600'), 'down'))).toEqual({ price: '104600', fraction: '0.7062937062937062937062937062937062937063' });
    });

    it('up through 104300 on 104205.9 → 104354.3: at the level, fraction (104300 − 104205.9) / (104354.3 − 104205.9) = 94.1 / 148.4 = 941/1484', () => {
      expect(up).toMatchObject({ from: '104205.9', to: '104354.3', gap: false });
      expect(fmt(crossing(up, dec('104300'), 'up'))).toEqual({ price: '104300', fraction: '0.6340970350404312668463611859838274932615' });
    });

    it('a level equal to the step end is reached at fraction 1 (down to 104570.6; up to 104354.3)', () => {
      expect(fmt(crossing(down, dec('104570.6'), 'down'))).toEqual({ price: '104570.6', fraction: '1' });
      expect(fmt(crossing(up, dec('104354.3'), 'up'))).toEqual({ price: '104354.3', fraction: '1' });
    });

    it('already at or beyond the level at the start: triggers at the start price, fraction 0', () => {
      // down: 104670.7 <= 104700 already; at the level exactly: 104670.7 <= 104670.7.
      expect(fmt(crossing(down, dec('104700'), 'down'))).toEqual({ price: '104670.7', fraction: '0' });
      expect(fmt(crossing(down, dec('104670.7'), 'down'))).toEqual({ price: '104670.7', fraction: '0' });
      // up: 104205.9 >= 104200 already.
      expect(fmt(crossing(up, dec('104200'), 'up'))).toEqual({ price: '104205.9', fraction: '0' });
    });

    it('not reached: down to 104570.6 never meets 104500; up to 104354.3 never meets 104400', () => {
      expect(crossing(down, dec('104500'), 'down')).toBeNull();
      expect(crossing(up, dec('104400'), 'up')).toBeNull();
    });

    it('the wrong direction is not a crossing: a falling step never reaches a level above it going up, and vice versa', () => {
      expect(crossing(down, dec('104680'), 'up')).toBeNull(); // 104670.7 → 104570.6 stays below 104680
      expect(crossing(up, dec('104200'), 'down')).toBeNull(); // 104205.9 → 104354.3 stays above 104200
    });

    it('a flat step (from = to) either starts beyond the level or never reaches it; no division by zero', () => {
      const flat = pathSteps(FIRST.candle, null)[1]; // 104670.7 → 104670.7
      expect(fmt(crossing(flat, dec('104670.7'), 'down'))).toEqual({ price: '104670.7', fraction: '0' });
      expect(crossing(flat, dec('104600'), 'down')).toBeNull();
    });
  });

  describe('gap step (jump from the previous close to the open)', () => {
    // 86752.5 ⇒ 86808.8 (up 56.3) and 90567.4 ⇒ 90557.2 (down 10.2).
    const gapUp = pathSteps(GAP_UP.candle, GAP_UP.previousClose)[0];
    const gapDown = pathSteps(GAP_DOWN.candle, GAP_DOWN.previousClose)[0];

    it('up through 86780: fills at the post-gap price 86808.8 (not at the level), fraction 0 — nothing traded in between', () => {
      expect(fmt(crossing(gapUp, dec('86780'), 'up'))).toEqual({ price: '86808.8', fraction: '0' });
    });

    it('down through 90560: fills at the post-gap price 90557.2, fraction 0', () => {
      expect(fmt(crossing(gapDown, dec('90560'), 'down'))).toEqual({ price: '90557.2', fraction: '0' });
    });

    it('a gap landing exactly on the level triggers there (86808.8 up; 90557.2 down)', () => {
      expect(fmt(crossing(gapUp, dec('86808.8'), 'up'))).toEqual({ price: '86808.8', fraction: '0' });
      expect(fmt(crossing(gapDown, dec('90557.2'), 'down'))).toEqual({ price: '90557.2', fraction: '0' });
    });

    it('not reached: the gap up stops at 86808.8 < 86810; the gap down stops at 90557.2 > 90550', () => {
      expect(crossing(gapUp, dec('86810'), 'up')).toBeNull();
      expect(crossing(gapDown, dec('90550'), 'down')).toBeNull();
    });

    it('only the post-gap price counts: a level the previous close was already beyond (86760 down; 90560 up) does not fire on the gap', () => {
      // The previous close is the end of the bar before; a level beyond it fired on that bar's last step.
      expect(crossing(gapUp, dec('86760'), 'down')).toBeNull(); // 86752.5 <= 86760, but 86808.8 > 86760
      expect(crossing(gapDown, dec('90560'), 'up')).toBeNull(); // 90567.4 >= 90560, but 90557.2 < 90560
    });
  });
});
