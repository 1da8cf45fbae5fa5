import { requestDelivered } from '@bulwark/messaging';
import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, JSONCodec, type NatsConnection, type NatsError } from 'nats';
import type { ZodType, ZodTypeDef } from 'zod';
import { GATEWAY_NATS } from '../tokens';
import { HttpRefusal, statusForCode } from '../security/http-errors';
import { API_OPTIONS, type ApiOptions } from './api-options';

const json = JSONCodec();

/**
 * Requests from the gateway to the services over core NATS (as NATS user `gateway`). A service's
 * typed refusal `{error:{code,message,field?}}` becomes an `HttpRefusal` with the domain's code
 * (4xx by `statusForCode`); no answer becomes 503 (nobody serves the subject) or 504 (timeout).
 */
@Injectable()
export class BusService {
  constructor(
    @Inject(GATEWAY_NATS) readonly nc: NatsConnection,
    @Inject(API_OPTIONS) private readonly opts: ApiOptions,
  ) {}

  /** The subject with the configured prefix (tests' isolation). */
  subject(s: string): string {
    return `${this.opts.subjectPrefix}${s}`;
  }

  /**
   * Send `payload` to `subject` and return the service's JSON answer.
   * @param service the service that answers, named in the refusal when none does
   * @throws HttpRefusal: the service's refusal; 503 SERVICE_UNAVAILABLE; 504 TIMEOUT (the outcome is unknown)
   */
  async request(subject: string, payload: unknown, service: string, timeoutMs = this.opts.requestTimeoutMs): Promise<unknown> {
    const full = this.subject(subject);
    let raw: unknown;
    try {
      // Sent again while nobody receives it (a takeover between two instances), never after it was received.
      const m = await requestDelivered(this.nc, full, json.encode(payload), { timeout: timeoutMs });
      raw = json.decode(m.data);
    } catch (e) {
      const code = (e as NatsError).code;
      if (code === ErrorCode.NoResponders) throw new HttpRefusal(503, 'SERVICE_UNAVAILABLE', `the ${service} service is not running (nobody answers ${subject})`);
      if (code === ErrorCode.Timeout) throw new HttpRefusal(504, 'TIMEOUT', `no answer from the ${service} service within ${timeoutMs / 1000} s; the outcome is unknown (a repeat with the same Idempotency-Key is safe)`);
      if (code === ErrorCode.PermissionsViolation) throw new HttpRefusal(502, 'INTERNAL', `the gateway may not send ${subject} (NATS permissions)`);
      throw new HttpRefusal(502, 'INTERNAL', `the ${service} service answered something that is not JSON`);
    }
    const err = (raw as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
    if (err && typeof err === 'object' && typeof err.code === 'string') {
      const message = typeof err.message === 'string' ? err.message : err.code;
      // Services name the field in the message ("<field> = <value> is refused: …") when they do not set it.
      const field = typeof err.field === 'string' ? err.field : /^(\w+) = .* is refused/.exec(message)?.[1];
      throw new HttpRefusal(statusForCode(err.code), err.code, message, field);
    }
    return raw;
  }

  /**
   * `request`, with the answer checked against its contract: an answer outside it is the
   * service's fault, not the caller's (never a 400).
   * @param what names the answer in the refusal, e.g. "candles"
   * @throws HttpRefusal as `request` does; 502 BAD_ANSWER when the answer does not match `schema`
   */
  async requestChecked<T>(subject: string, payload: unknown, service: string, schema: ZodType<T, ZodTypeDef, unknown>, what: string, timeoutMs = this.opts.requestTimeoutMs): Promise<T> {
    const parsed = schema.safeParse(await this.request(subject, payload, service, timeoutMs));
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new HttpRefusal(502, 'BAD_ANSWER', `${service}'s answer (${what}) does not match its schema: ${issue ? `${issue.path.join('.') || 'answer'}: ${issue.message}` : 'invalid'}`);
  }
}
