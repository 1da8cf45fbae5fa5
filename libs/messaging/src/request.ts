import { ErrorReply } from '@bulwark/contracts';
import { injectTraceHeaders } from '@bulwark/telemetry';
import { JSONCodec, type NatsConnection, headers } from 'nats';

const json = JSONCodec();

/** Nobody answered a request in time (or NATS failed): the outcome is unknown. */
export class NoAnswerError extends Error {
  constructor(readonly subject: string, cause: unknown) {
    super(`no answer on ${subject}: ${String(cause)}`);
    this.name = 'NoAnswerError';
  }
}

/** The service answered with a typed refusal (`{error:{code,message}}`). */
export class RefusedError extends Error {
  constructor(readonly subject: string, readonly code: string, readonly reason: string) {
    super(`${code}: ${reason}`);
    this.name = 'RefusedError';
  }
}

/**
 * A request/reply over core NATS with a JSON payload and a JSON answer, the way every
 * Bulwark request subject answers: a value, or `{error:{code,message}}`.
 * @returns the decoded answer (to validate with its schema)
 * @throws NoAnswerError when nobody answers within `timeoutMs`; RefusedError for a typed refusal
 */
export async function requestJson(nc: NatsConnection, subject: string, payload: unknown, timeoutMs: number): Promise<unknown> {
  let raw: unknown;
  try {
    // The active trace (W3C traceparent) goes with the request; the transport continues it.
    const h = headers();
    injectTraceHeaders(h);
    const m = await nc.request(subject, json.encode(payload), { timeout: timeoutMs, headers: h });
    raw = json.decode(m.data);
  } catch (e) {
    throw new NoAnswerError(subject, e);
  }
  const bad = ErrorReply.safeParse(raw);
  if (bad.success) throw new RefusedError(subject, bad.data.error.code, bad.data.error.message);
  return raw;
}
