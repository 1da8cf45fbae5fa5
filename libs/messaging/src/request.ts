import { ErrorReply } from '@bulwark/contracts';
import { injectTraceHeaders } from '@bulwark/telemetry';
import { ErrorCode, JSONCodec, type Msg, type MsgHdrs, type NatsConnection, headers } from 'nats';

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

/** How long to wait before sending again a request nobody received (ms). */
const NO_RESPONDERS_PAUSE_MS = 100;

/**
 * `nc.request`, except that a request nobody received ("no responders": the service is between
 * two instances, e.g. during a takeover, docs/architecture.md "Standby and takeover") is sent
 * again every 100 ms until `timeout` has passed. That is safe, since nobody acted on it. A request
 * that was received but not answered in time is never sent again: its outcome is unknown.
 * @returns the answer
 * @throws the last NatsError: code `503` (NoResponders) when nobody was there until the end, `TIMEOUT` when the receiver did not answer in time
 */
export async function requestDelivered(nc: NatsConnection, subject: string, data: Uint8Array, opts: { timeout: number; headers?: MsgHdrs }): Promise<Msg> {
  const deadline = Date.now() + opts.timeout;
  for (;;) {
    try {
      return await nc.request(subject, data, { ...opts, timeout: Math.max(1, deadline - Date.now()) });
    } catch (e) {
      if ((e as { code?: unknown }).code !== ErrorCode.NoResponders || Date.now() + NO_RESPONDERS_PAUSE_MS >= deadline) throw e;
      await new Promise((r) => setTimeout(r, NO_RESPONDERS_PAUSE_MS));
    }
  }
}

/**
 * A request/reply over core NATS with a JSON payload and a JSON answer, the way every
 * Bulwark request subject answers: a value, or `{error:{code,message}}`. Sent again while
 * nobody receives it, never after it was received ({@link requestDelivered}).
 * @returns the decoded answer (to validate with its schema)
 * @throws NoAnswerError when nobody answers within `timeoutMs`; RefusedError for a typed refusal
 */
export async function requestJson(nc: NatsConnection, subject: string, payload: unknown, timeoutMs: number): Promise<unknown> {
  let raw: unknown;
  try {
    // The active trace (W3C traceparent) goes with the request; the transport continues it.
    const h = headers();
    injectTraceHeaders(h);
    const m = await requestDelivered(nc, subject, json.encode(payload), { timeout: timeoutMs, headers: h });
    raw = json.decode(m.data);
  } catch (e) {
    throw new NoAnswerError(subject, e);
  }
  const bad = ErrorReply.safeParse(raw);
  if (bad.success) throw new RefusedError(subject, bad.data.error.code, bad.data.error.message);
  return raw;
}
