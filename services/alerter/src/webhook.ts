import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookConfig } from './config';
import type { AlertChannel, ChannelSendError } from './channel';
import { channelError } from './channel';
import type { FormattedAlert } from './format';
import { type BucketClock, systemClock, TokenBucket } from './rate-limit';

/** Headers of a signed webhook (lower-case, as Node's http module gives them to a receiver). */
export const WEBHOOK_HEADERS = {
  /** Unix time in seconds when the request was signed (wall clock). */
  timestamp: 'x-bulwark-timestamp',
  /** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the shared secret>`. */
  signature: 'x-bulwark-signature',
  /** The event id: a receiver deduplicates on it (at least once: a crash between send and record can repeat one). */
  eventId: 'x-bulwark-event-id',
} as const;

/** How far a receiver should accept a signed timestamp from its own clock (s): older or newer is a replay or a skew. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * The signature of a webhook body: `sha256=` + hex HMAC-SHA256, keyed with `secret`, over
 * `"<timestamp>.<body>"` (the timestamp as sent in X-Bulwark-Timestamp, the body byte for byte).
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Why a receiver refused a webhook ({@link verifyWebhook}). */
export type WebhookRejection = 'MISSING_HEADER' | 'BAD_TIMESTAMP' | 'STALE_TIMESTAMP' | 'BAD_SIGNATURE';

/**
 * What a receiver does with a request (docs/observability.md "Alerts"): take the raw body as
 * received, check the timestamp is within `toleranceSeconds` of its clock (replay protection:
 * a captured request cannot be sent again later), recompute the HMAC over
 * `"<timestamp>.<raw body>"` and compare in constant time.
 * @param headers the request's headers (lower-case names)
 * @param nowMs the receiver's clock (epoch ms)
 * @returns `{ ok: true }` or the reason it is refused
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
  nowMs = Date.now(),
  toleranceSeconds = WEBHOOK_TOLERANCE_SECONDS,
): { ok: true } | { ok: false; reason: WebhookRejection } {
  const ts = headers[WEBHOOK_HEADERS.timestamp];
  const sig = headers[WEBHOOK_HEADERS.signature];
  if (typeof ts !== 'string' || typeof sig !== 'string') return { ok: false, reason: 'MISSING_HEADER' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'BAD_TIMESTAMP' };
  if (Math.abs(nowMs / 1000 - Number(ts)) > toleranceSeconds) return { ok: false, reason: 'STALE_TIMESTAMP' };
  const expected = Buffer.from(signWebhook(secret, Number(ts), rawBody));
  const given = Buffer.from(sig);
  return expected.length === given.length && timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'BAD_SIGNATURE' };
}

/** Webhook pace: a burst of 5, then one every 200 ms (5/s): a receiver is not flooded by a burst of alerts. */
export const WEBHOOK_RATE = { capacity: 5, intervalMs: 200 };
/** A receiver that does not answer within this is a failed send (retried). */
const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * The generic webhook: POST the alert's JSON payload (`{eventId, type, accountId, ts, summary,
 * data}`) signed with HMAC-SHA256. A 2xx answer is delivered; anything else (status, network
 * error, timeout) is a failed send the alerter retries; a 429's Retry-After is honoured.
 */
export class WebhookChannel implements AlertChannel {
  readonly name = 'webhook' as const;
  private readonly bucket: TokenBucket;

  constructor(private readonly config: WebhookConfig, clock: BucketClock = systemClock, private readonly fetchFn: typeof fetch = fetch) {
    this.bucket = new TokenBucket(WEBHOOK_RATE.capacity, WEBHOOK_RATE.intervalMs, clock);
  }

  /** Where alerts go (the URL is configuration, not a secret). */
  describe(): string {
    return `webhook ${this.config.url}`;
  }

  /** @throws ChannelSendError on anything but a 2xx answer */
  async send(alert: FormattedAlert): Promise<void> {
    await this.bucket.take();
    const body = JSON.stringify(alert.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    let res: Response;
    try {
      res = await this.fetchFn(this.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'bulwark-alerter',
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(this.config.secret, timestamp, body),
          [WEBHOOK_HEADERS.eventId]: alert.payload.eventId,
        },
        body,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
    } catch (e) {
      throw channelError('webhook', `no answer from ${this.config.url}: ${(e as Error).message}`);
    }
    // The body is not needed; reading it frees the connection.
    await res.text().catch(() => '');
    if (res.ok) return;
    const retryAfter = Number(res.headers.get('retry-after'));
    const err: ChannelSendError = channelError('webhook', `${this.config.url} answered HTTP ${res.status}`);
    if (res.status === 429 && Number.isFinite(retryAfter) && retryAfter > 0) err.retryAfterMs = retryAfter * 1000;
    throw err;
  }
}
