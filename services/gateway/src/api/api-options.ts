import { idempotencyBucketFromEnv } from './idempotency-bucket';
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
  /** The JetStream key-value bucket of `Idempotency-Key` answers (default BULWARK_IDEMPOTENCY_BUCKET, else bulwark-idempotency; set-up creates it with a 24 h TTL). */
  idempotencyBucket: string;
  /** How long a repeated command waits for the first one's answer while that one runs (ms, default 15 000). */
  pendingWaitMs: number;
  /** The market-data directory (default: `resolveDataDir()` at first use). */
  dataDir: string | null;
  /** Backtests run at most this many at a time, each in its own worker thread (default 1). */
  backtestThreads: number;
}

export const API_OPTIONS = Symbol('API_OPTIONS');
/**
 * Settings over the defaults, provided globally by the app module (`createGatewayApp({ api })`):
 * every importer of ApiModule (the app, the stream module) shares one ApiModule, so a test's
 * subject prefix reaches all of it; `ApiModule.withOptions` would build a second one.
 */
export const API_OPTIONS_OVERRIDES = Symbol('API_OPTIONS_OVERRIDES');

export const DEFAULT_API_OPTIONS: ApiOptions = {
  subjectPrefix: '',
  requestTimeoutMs: 10_000,
  entryDecisionWaitMs: 5_000,
  idempotencyBucket: idempotencyBucketFromEnv(),
  pendingWaitMs: 15_000,
  dataDir: null,
  backtestThreads: 1,
};
