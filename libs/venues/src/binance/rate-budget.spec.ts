import fc from 'fast-check';
import { BINANCE_USDM_LIMITS, BannedError, RateBudget, type BudgetAlert, type Clock } from './rate-budget';

/** A manual clock: sleep advances time instantly and records the waits. */
function fakeClock(start = 1_700_000_000_000): Clock & { t: number; sleeps: number[] } {
  const c = {
    t: start,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += Math.max(0, ms);
    },
  };
  return c;
}

describe('RateBudget', () => {
  it('caps at 80 % of the published limits', () => {
    const b = new RateBudget(fakeClock());
    expect(b.caps).toEqual({ weight1m: 1920, orders10s: 240, orders1m: 960 });
    expect(BINANCE_USDM_LIMITS).toMatchObject({ weightPer1m: 2400, ordersPer10s: 300, ordersPer1m: 1200 });
  });

  it('waits for the 10-second order window to slide before the 241st order', async () => {
    const clock = fakeClock();
    const b = new RateBudget(clock);
    for (let i = 0; i < 240; i++) await b.acquire({ weight: 0, orders: 1 });
    expect(clock.sleeps).toEqual([]);
    await b.acquire({ weight: 0, orders: 1 });
    expect(clock.sleeps).toEqual([10_000]);
    expect(b.usage().orders10s).toBe(1);
  });

  it('re-bases on the venue headers (usage by other clients counts)', async () => {
    const clock = fakeClock();
    const b = new RateBudget(clock);
    await b.acquire({ weight: 5, orders: 0 });
    b.observe({ 'X-MBX-USED-WEIGHT-1M': '1900', 'X-MBX-ORDER-COUNT-10S': '3', 'X-MBX-ORDER-COUNT-1M': '3' });
    expect(b.usage()).toEqual({ weight1m: 1900, orders10s: 3, orders1m: 3 });
    await b.acquire({ weight: 20, orders: 0 }); // 1920 fits exactly
    expect(clock.sleeps).toEqual([]);
    await b.acquire({ weight: 1, orders: 0 });
    expect(clock.sleeps).toEqual([60_000]);
    b.observe({ 'x-mbx-used-weight-1m': '0' }); // never lowers
    expect(b.usage().weight1m).toBe(1);
  });

  it('a 429 pauses every call for Retry-After', async () => {
    const clock = fakeClock();
    const b = new RateBudget(clock);
    b.pause(3_000);
    await b.acquire({ weight: 1, orders: 0 });
    expect(clock.sleeps).toEqual([3_000]);
  });

  it('a 418 refuses every call until the ban ends and raises one alert', async () => {
    const clock = fakeClock();
    const alerts: BudgetAlert[] = [];
    const b = new RateBudget(clock, (a) => alerts.push(a));
    b.ban(120_000);
    await expect(b.acquire({ weight: 1, orders: 0 })).rejects.toBeInstanceOf(BannedError);
    await expect(b.acquire({ weight: 1, orders: 1 })).rejects.toBeInstanceOf(BannedError);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'IP_BANNED', until: clock.t + 120_000 });
    clock.t += 120_000;
    await expect(b.acquire({ weight: 1, orders: 0 })).resolves.toBeUndefined();
  });

  it('property: no sliding window ever holds more than 80 % of a limit', async () => {
    const op = fc.record({ gapMs: fc.integer({ min: 0, max: 3_000 }), weight: fc.integer({ min: 0, max: 60 }), orders: fc.integer({ min: 0, max: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 500 }), async (ops) => {
        const clock = fakeClock();
        const b = new RateBudget(clock);
        const sent: Array<{ ts: number; weight: number; orders: number }> = [];
        for (const o of ops) {
          clock.t += o.gapMs;
          await b.acquire({ weight: o.weight, orders: o.orders });
          sent.push({ ts: clock.t, weight: o.weight, orders: o.orders });
        }
        // A sliding sum peaks at a send instant: check the windows ending at each one.
        for (const end of sent) {
          const sum = (w: number, of: (x: (typeof sent)[number]) => number) => sent.filter((x) => x.ts > end.ts - w && x.ts <= end.ts).reduce((a, x) => a + of(x), 0);
          expect(sum(60_000, (x) => x.weight)).toBeLessThanOrEqual(1920);
          expect(sum(10_000, (x) => x.orders)).toBeLessThanOrEqual(240);
          expect(sum(60_000, (x) => x.orders)).toBeLessThanOrEqual(960);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('property: with venue-reported usage, a request is only sent when the whole window (ours + reported) fits', async () => {
    const op = fc.record({ gapMs: fc.integer({ min: 0, max: 5_000 }), weight: fc.integer({ min: 1, max: 80 }), reported: fc.option(fc.integer({ min: 0, max: 2_400 }), { freq: 5 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 200 }), async (ops) => {
        const clock = fakeClock();
        const b = new RateBudget(clock);
        for (const o of ops) {
          clock.t += o.gapMs;
          await b.acquire({ weight: o.weight, orders: 0 });
          expect(b.usage().weight1m).toBeLessThanOrEqual(1920);
          if (o.reported !== null) b.observe({ 'x-mbx-used-weight-1m': String(o.reported) });
        }
      }),
      { numRuns: 200 },
    );
  });
});
