import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ZodError } from 'zod';
import { ZodError as ZodErrorV4 } from 'zod/v4';

/**
 * The body of every refused request: `{ error: { code, message, field?, reason? } }`.
 * `code` is machine-readable (e.g. `INVALID_INPUT`, `UNKNOWN_ACCOUNT`), `message` is for people,
 * `field` names the offending input (dotted path) and `reason` says what is wrong with it.
 */
export interface RefusalBody {
  error: { code: string; message: string; field?: string; reason?: string };
}

/**
 * A typed refusal: throw it from a controller or service to answer with `status` and a
 * `RefusalBody`. The global `HttpErrorFilter` turns it into the HTTP answer.
 *
 * @param status HTTP status (4xx for refusals; 502/503/504 when a service behind the gateway fails)
 * @param code machine-readable code
 * @param message a sentence for people (never a secret, token or stack)
 * @param field the offending input field, when there is one
 * @param reason what is wrong with that field
 */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly reason?: string,
    /** Extra response headers, e.g. `Retry-After` for 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpRefusal';
  }

  /** The JSON body of this refusal. */
  body(): RefusalBody {
    const error: RefusalBody['error'] = { code: this.code, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    if (this.reason !== undefined) error.reason = this.reason;
    return { error };
  }

  /**
   * A refusal from a domain `Rejection` (`{code, message, field?}`, e.g. an `AccountRejection`)
   * or a service's reply `{ error: { code, message } }`. The status comes from `statusForCode`
   * unless given.
   */
  static from(rejection: { code: string; message: string; field?: string }, status?: number): HttpRefusal {
    return new HttpRefusal(status ?? statusForCode(rejection.code), rejection.code, rejection.message, rejection.field);
  }
}

/**
 * The HTTP status for a refusal code from the domain or a service reply:
 * unknown things → 404, duplicates → 409, malformed messages → 400, a service's internal
 * failure → 502, a timeout → 504, any other business refusal (including a missing
 * confirmation) → 422: the request was well-formed but refused.
 */
export function statusForCode(code: string): number {
  if (code.startsWith('UNKNOWN_') || code.endsWith('_NOT_FOUND') || code === 'NOT_FOUND') return 404;
  if (code.endsWith('_EXISTS') || code === 'DUPLICATE' || code === 'CONFLICT') return 409;
  if (code === 'INVALID_MESSAGE' || code === 'INVALID_INPUT') return 400;
  if (code === 'INTERNAL') return 502;
  if (code === 'TIMEOUT') return 504;
  return 422;
}

/** A `ZodError` (zod 3 or zod/v4) as a 400 refusal naming the first offending field (`wholeValueField` when the whole value is wrong: a path parameter) and the reason. */
export function refusalFromZod(e: ZodError | ZodErrorV4, wholeValueField?: string): HttpRefusal {
  const issue = e.issues[0] as { path: PropertyKey[]; message: string; code?: string; keys?: string[] } | undefined;
  // A field the schema does not know (a strict object) is named itself: its issue's path is the object's.
  const path = issue?.code === 'unrecognized_keys' && issue.keys?.length ? [...issue.path, issue.keys[0]] : (issue?.path ?? []);
  const field = path.length > 0 ? path.map(String).join('.') : wholeValueField;
  const reason = issue?.message ?? 'invalid input';
  return new HttpRefusal(400, 'INVALID_INPUT', field ? `${field}: ${reason}` : reason, field, reason);
}

/** Nest's and Fastify's own HTTP errors (404 route, 413 body too large, bad JSON…) as a code. */
function codeForStatus(status: number): string {
  switch (status) {
    case 400: return 'INVALID_INPUT';
    case 401: return 'UNAUTHENTICATED';
    case 403: return 'FORBIDDEN';
    case 404: return 'NOT_FOUND';
    case 405: return 'METHOD_NOT_ALLOWED';
    case 413: return 'PAYLOAD_TOO_LARGE';
    case 415: return 'UNSUPPORTED_MEDIA_TYPE';
    case 429: return 'TOO_MANY_REQUESTS';
    default: return status >= 500 ? 'INTERNAL' : 'REFUSED';
  }
}

/**
 * Maps any thrown value to an HTTP answer (the one place errors become responses):
 * - `HttpRefusal` → its status, headers and body;
 * - `ZodError` (zod 3 or zod/v4) → 400 naming the field and the reason;
 * - Nest `HttpException` and Fastify errors carrying a 4xx `statusCode` (bad JSON, body too large)
 *   → that status with a `RefusalBody`;
 * - anything else → 500 `{error:{code:'INTERNAL', message:'internal error'}}`; the error's class,
 *   message and stack are logged (never the request, its headers or body, which may hold secrets).
 */
export function toRefusal(e: unknown, log?: Logger): HttpRefusal {
  if (e instanceof HttpRefusal) return e;
  if (e instanceof ZodError || e instanceof ZodErrorV4) return refusalFromZod(e);
  if (e instanceof HttpException) {
    const status = e.getStatus();
    const r = e.getResponse();
    const message = typeof r === 'string' ? r : typeof (r as { message?: unknown }).message === 'string' ? (r as { message: string }).message : e.message;
    if (status >= 500) log?.error(`${e.name}: ${e.message}`, e.stack);
    return new HttpRefusal(status, codeForStatus(status), status >= 500 ? 'internal error' : message);
  }
  const statusCode = (e as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const message = e instanceof Error ? e.message : 'refused';
    return new HttpRefusal(statusCode, codeForStatus(statusCode), message);
  }
  if (e instanceof Error) log?.error(`${e.name}: ${e.message}`, e.stack);
  else log?.error(`non-Error thrown: ${typeof e}`);
  return new HttpRefusal(500, 'INTERNAL', 'internal error');
}

interface ReplyLike {
  status(code: number): ReplyLike;
  header(name: string, value: string): ReplyLike;
  send(body: unknown): unknown;
  sent?: boolean;
}

/** The gateway's global exception filter (registered by `createGatewayApp`); see `toRefusal`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('HttpErrors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<ReplyLike>();
    const refusal = toRefusal(exception, this.log);
    if (reply.sent) return; // e.g. a Server-Sent Events stream already answered
    reply.status(refusal.status);
    for (const [k, v] of Object.entries(refusal.headers)) reply.header(k, v);
    reply.header('content-type', 'application/json; charset=utf-8');
    reply.send(refusal.body());
  }
}
