/**
 * Settings of the gateway's API routes. ApiModule provides the defaults; tests override the
 * provider (a subject prefix so their requests reach only their own responders, short waits).
 */
export interface ApiOptions {
  /** Prepended to every NATS request subject and to `md.mark.>` (default ''). */
  subjectPrefix: string;
  /** How long to wait for a service's answer to a command (ms, default 10 000). */
  requestTimeoutMs: number;
  /** How long a manual entry waits for risk's EntryApproved / EntryDenied (ms, default 5 000). */
  entryDecisionWaitMs: number;
  /** How long an `Idempotency-Key` answer is kept (ms, default 24 h). */
  idempotencyTtlMs: number;
  /** The market-data directory (default: `resolveDataDir()` at first use). */
  dataDir: string | null;
  /** Backtests run at most this many at a time, each in its own worker thread (default 1). */
  backtestThreads: number;
}

export const API_OPTIONS = Symbol('API_OPTIONS');

export const DEFAULT_API_OPTIONS: ApiOptions = {
  subjectPrefix: '',
  requestTimeoutMs: 10_000,
  entryDecisionWaitMs: 5_000,
  idempotencyTtlMs: 24 * 3600_000,
  dataDir: null,
  backtestThreads: 1,
};
