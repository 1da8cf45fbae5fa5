import { type ArgumentsHost, Catch, type RpcExceptionFilter } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';
import { NoAnswerError } from './request';

/** The code of a handler failure caused by a dependency that did not answer (see {@link isUnavailable}). */
export const UNAVAILABLE = 'UNAVAILABLE';

/** nats.js error codes that mean "NATS or the service asked is not there right now" (ErrorCode in nats.js). */
const UNAVAILABLE_NATS_CODES = new Set(['TIMEOUT', '503', 'DISCONNECT', 'CONNECTION_CLOSED', 'CONNECTION_DRAINING', 'CONNECTION_REFUSED', 'CONNECTION_TIMEOUT']);

/**
 * Whether an error says a dependency did not answer (a service down or restarting, NATS
 * disconnected or restarting, a request timed out), as opposed to a failure the same input
 * meets again. Looks through `cause` chains and typed `{code}` refusals.
 * - NoAnswerError (a request nobody answered), or a nats.js error with a code of
 *   {@link UNAVAILABLE_NATS_CODES};
 * - anything carrying `code: 'UNAVAILABLE'` (what {@link HandlerErrorFilter} hands the transport).
 */
export function isUnavailable(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x && typeof x === 'object' && depth < 5; depth++) {
    if (x instanceof NoAnswerError) return true;
    const code = (x as { code?: unknown }).code;
    if (code === UNAVAILABLE) return true;
    if (typeof code === 'string' && (x as { name?: unknown }).name === 'NatsError' && UNAVAILABLE_NATS_CODES.has(code)) return true;
    x = (x as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The exception filter of every Bulwark service (set by `bootstrapService`): hands a handler's
 * failure to the transport as `{code, message}` instead of Nest's bare "Internal server error",
 * so the transport can tell a dependency that did not answer (`UNAVAILABLE`: retried until it
 * answers) from a failure (retried a few times, then dead-lettered). A typed refusal
 * (RpcException with `{code, message}`) passes as it is.
 */
@Catch()
export class HandlerErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    if (exception instanceof RpcException) {
      const inner = exception.getError();
      if (inner && typeof inner === 'object' && typeof (inner as { code?: unknown }).code === 'string') return throwError(() => inner);
    }
    const message = exception instanceof Error ? exception.message : String(exception);
    return throwError(() => ({ code: isUnavailable(exception) ? UNAVAILABLE : 'HANDLER_ERROR', message }));
  }
}

/**
 * How the transport retries a stored event's handler, in place (the consumer does not move on,
 * so the service keeps seeing the log in its order):
 * - a dependency that did not answer ({@link isUnavailable}) is waited out for as long as it
 *   takes (an intent must not be lost because accounting was restarting);
 * - any other failure is tried `maxFailures` times in all, then dead-lettered.
 * The pause starts at `initialBackoffMs` and doubles up to `maxBackoffMs`.
 */
export interface HandlerRetryPolicy {
  maxFailures: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_HANDLER_RETRY: HandlerRetryPolicy = { maxFailures: 5, initialBackoffMs: 200, maxBackoffMs: 5_000 };
