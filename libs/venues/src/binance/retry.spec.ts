import { err, ok, type Result } from '@bulwark/domain';
import { backoffDelay, withRetry, type RetryPolicy } from './retry';

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000, maxTotalDelayMs: 10_000 };

function script(results: Array<Result<string, { retry: boolean; atLeastMs?: number }>>) {
  let i = 0;
  return async () => results[Math.min(i++, results.length - 1)];
}

describe('withRetry (full-jitter exponential backoff with a budget)', () => {
  it('full jitter: random × min(cap, base × 2^n)', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
    expect(backoffDelay(policy, 2, () => 0.5)).toBe(200);
  });

  it('retries retryable failures, waiting the jittered delays, until success', async () => {
    const sleeps: number[] = [];
    const r = await withRetry(script([err({ retry: true }), err({ retry: true }), ok('done')]), (e) => e, { policy, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
    expect(r).toEqual({ ok: true, value: 'done' });
    expect(sleeps).toEqual([50, 100]);
  });

  it('never retries a terminal failure', async () => {
    const sleeps: number[] = [];
    const r = await withRetry(script([err({ retry: false }), ok('x')]), (e) => e, { policy, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
    expect(r.ok).toBe(false);
    expect(sleeps).toEqual([]);
  });

  it('stops at maxAttempts', async () => {
    let calls = 0;
    const r = await withRetry(async () => (calls++, err({ retry: true })), (e) => e, { policy, random: () => 0.1, sleep: async () => undefined });
    expect(r.ok).toBe(false);
    expect(calls).toBe(5);
  });

  it('honours the least wait the venue demands (Retry-After) and stops when the delay budget would be exceeded', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const r = await withRetry(async () => (calls++, err({ retry: true, atLeastMs: 4_000 })), (e) => e, { policy, random: () => 0, sleep: async (ms) => void sleeps.push(ms) });
    expect(r.ok).toBe(false);
    expect(sleeps).toEqual([4_000, 4_000]); // a third 4 s wait would pass the 10 s budget
    expect(calls).toBe(3);
  });
});
