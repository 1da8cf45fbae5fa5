import type { Result } from '@bulwark/domain';

/**
 * Retry budget: at most `maxAttempts` tries in all and at most `maxTotalDelayMs` spent
 * waiting between them. Delays: exponential backoff with full jitter,
 * delay = random() × min(maxDelayMs, baseDelayMs × 2^retry) (AWS Architecture Blog,
 * "Exponential Backoff And Jitter": https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/),
 * never less than what the venue asked for (Retry-After).
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxTotalDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000, maxTotalDelayMs: 15_000 };

/** Full-jitter delay before retry number `retry` (0 = the first retry), ms. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * cap);
}

/** The verdict on a failure: retry or not, and the least wait the venue demands (ms). */
export interface RetryDecision {
  retry: boolean;
  atLeastMs?: number;
}

/**
 * Run `attempt` until it succeeds, a failure is not retryable, or the budget is spent;
 * answers the last result. Only `decide(error).retry` failures are retried.
 */
export async function withRetry<T, E>(
  attempt: (n: number) => Promise<Result<T, E>>,
  decide: (error: E, n: number) => RetryDecision,
  opts: { policy?: RetryPolicy; random?: () => number; sleep: (ms: number) => Promise<void> },
): Promise<Result<T, E>> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  const random = opts.random ?? Math.random;
  let spent = 0;
  for (let n = 0; ; n++) {
    const r = await attempt(n);
    if (r.ok) return r;
    const d = decide(r.error, n);
    if (!d.retry || n + 1 >= policy.maxAttempts) return r;
    const delay = Math.max(backoffDelay(policy, n, random), d.atLeastMs ?? 0);
    if (spent + delay > policy.maxTotalDelayMs) return r;
    spent += delay;
    await opts.sleep(delay);
  }
}
