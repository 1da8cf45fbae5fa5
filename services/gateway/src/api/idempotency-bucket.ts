import type { NatsConnection } from 'nats';

/*
 * The gateway's key-value bucket of Idempotency-Key answers (IdempotencyService). No Nest here:
 * set-up (scripts/nats-streams.js, as NATS user admin) creates the bucket through this file.
 */

/** The bucket's default name (BULWARK_IDEMPOTENCY_BUCKET overrides; set-up creates it as NATS user admin). */
export const IDEMPOTENCY_BUCKET = 'bulwark-idempotency';

/** The bucket's name from the environment. */
export function idempotencyBucketFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.BULWARK_IDEMPOTENCY_BUCKET || IDEMPOTENCY_BUCKET;
}

/**
 * Create the bucket when missing (set-up and test harnesses, as NATS user `admin`): one value per
 * key, each kept `ttlMs` (24 h by default, the time a client may repeat a command).
 */
export async function createIdempotencyBucket(nc: NatsConnection, bucket = idempotencyBucketFromEnv(), ttlMs = 24 * 3600_000): Promise<void> {
  await nc.jetstream().views.kv(bucket, { history: 1, ttl: ttlMs });
}
