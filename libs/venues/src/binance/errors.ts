import type { VenueRejection } from '@bulwark/domain';

/**
 * Domain reasons for Binance USDⓈ-M and spot (isolated) margin errors.
 * Codes: https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code,
 * https://developers.binance.com/docs/binance-spot-api-docs/errors and
 * https://developers.binance.com/docs/margin_trading/error-code
 * HTTP statuses (429, 418, 503): https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#http-return-codes
 */
export type VenueErrorReason =
  | 'INSUFFICIENT_MARGIN'
  | 'INSUFFICIENT_BALANCE'
  | 'BORROW_LIMIT'
  | 'BORROW_UNAVAILABLE'
  | 'REPAY_OVER_LOAN'
  | 'TRANSFER_OUT_LIMIT'
  | 'NO_MARGIN_ACCOUNT'
  | 'MIN_NOTIONAL'
  | 'TIMESTAMP'
  | 'REDUCE_ONLY_REJECTED'
  | 'MAX_POSITION_AT_LEVERAGE'
  | 'POSITION_SIDE'
  | 'RATE_LIMITED'
  | 'IP_BANNED'
  | 'OUTCOME_UNKNOWN'
  | 'UNKNOWN_ORDER'
  | 'DUPLICATE_ORDER'
  | 'INVALID'
  | 'POST_ONLY_REJECTED'
  | 'FOK_REJECTED'
  | 'AUTH'
  | 'OTHER';

/**
 * How to treat an error: `retryable` = the same request may be sent again (after backoff, or
 * after a clock resync for TIMESTAMP); `outcomeUnknown` = the venue may have executed it, so a
 * write must be checked (query by client id) before anything else — never re-sent blindly.
 */
export interface VenueErrorClass {
  reason: VenueErrorReason;
  retryable: boolean;
  outcomeUnknown: boolean;
}

/** Transport codes used where Binance gives no code of its own. */
export type TransportCode = 'HTTP_503' | 'HTTP_429' | 'HTTP_418' | 'TIMEOUT' | 'NETWORK';

const table: Record<string, VenueErrorClass> = {};
const put = (reason: VenueErrorReason, retryable: boolean, outcomeUnknown: boolean, codes: string[]) => {
  for (const c of codes) table[c] = { reason, retryable, outcomeUnknown };
};
put('INSUFFICIENT_MARGIN', false, false, ['-2019', '-2018']);
put('MIN_NOTIONAL', false, false, ['-4164']);
// -1021 "Timestamp for this request is outside of the recvWindow." — resync the clock, retry once.
put('TIMESTAMP', true, false, ['-1021']);
put('REDUCE_ONLY_REJECTED', false, false, ['-2022']);
put('MAX_POSITION_AT_LEVERAGE', false, false, ['-2027', '-2028']);
put('POSITION_SIDE', false, false, ['-4061']);
// -1003 "Too many requests" comes with HTTP 429.
put('RATE_LIMITED', true, false, ['HTTP_429', '-1003']);
put('IP_BANNED', false, false, ['HTTP_418']);
// -1007 "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
put('OUTCOME_UNKNOWN', true, true, ['HTTP_503', 'TIMEOUT', 'NETWORK', '-1007', 'HTTP_502', 'HTTP_504']);
put('UNKNOWN_ORDER', false, false, ['-2011', '-2013']);
// -4015/-4116 duplicate client order id (-4015 is what the paper engine answers), -20132 duplicate client algo id.
put('DUPLICATE_ORDER', false, false, ['-4015', '-4116', '-20132']);
put('INVALID', false, false, [
  '-1100', '-1101', '-1102', '-1103', '-1104', '-1106', '-1111', '-1112', '-1114', '-1115', '-1116', '-1117', '-1121', '-1013',
  '-2021', '-4003', '-4004', '-4005', '-4014', '-4023', '-4028', '-4120', '-4131', '-4400',
]);
put('AUTH', false, false, ['-2014', '-2015', '-1022', '-1002']);
// -5022 GTX_ORDER_REJECT "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will
// not be recorded in the order history.": a post-only (timeInForce GTX) order that would take; nothing happened, a new price may rest.
put('POST_ONLY_REJECTED', false, false, ['-5022']);
// -5021 FOK_ORDER_REJECT "Due to the order could not be filled immediately, the FOK order has been rejected. The order would not be
// recorded in the order history.": a FOK order that could not fill whole at once; nothing filled.
put('FOK_REJECTED', false, false, ['-5021']);
// -1001 "Internal error; unable to process your request. Please try again." / -1008 overloaded: not processed, may be resent.
// -3044 (spot margin) "System busy.": refused before processing, like -1001.
put('OTHER', true, false, ['-1001', '-1008', '-3044']);

// Spot isolated margin (sapi /margin/*, /asset/transfer), https://developers.binance.com/docs/margin_trading/error-code:
// -3041 "Balance is not enough" (transfer, repay or order beyond the free balance).
put('INSUFFICIENT_BALANCE', false, false, ['-3041']);
// -3006 "Your borrow amount has exceed maximum borrow amount." (GET /sapi/v1/margin/maxBorrowable);
// -11008 "Exceeding the account's maximum borrowable limit." (the account's borrow limit across pairs).
put('BORROW_LIMIT', false, false, ['-3006', '-11008']);
// -3045 "The system doesn't have enough asset now.": Binance's lending pool for the asset is empty;
// a later borrow may succeed, so it is terminal here and the caller decides when to try again.
put('BORROW_UNAVAILABLE', false, false, ['-3045']);
// -3015 "Repay amount exceeds borrow amount." (repay more than borrowed + interest).
put('REPAY_OVER_LOAN', false, false, ['-3015']);
// -3020 "Transfer out amount exceeds max amount." (GET /sapi/v1/margin/maxTransferable: the margin
// level after the transfer would fall below Binance's transfer-out bar).
put('TRANSFER_OUT_LIMIT', false, false, ['-3020']);
// -3003 "Margin account does not exist." (the isolated pair's account was never created / activated).
put('NO_MARGIN_ACCOUNT', false, false, ['-3003']);
// -3027 "Not a valid margin asset." (an asset that is neither the pair's base nor its quote).
put('INVALID', false, false, ['-3027']);
// -2010 NEW_ORDER_REJECTED carries many reasons in its message; see MESSAGE_RULES.
put('INVALID', false, false, ['-2010']);

/**
 * Codes whose message says more than the code (spot -2010 "NEW_ORDER_REJECTED"):
 * https://developers.binance.com/docs/binance-spot-api-docs/errors#messages-for--1010-error_msg_received--2010-new_order_rejected-and--2011-cancel_rejected
 */
const MESSAGE_RULES: Array<{ code: string; msg: RegExp; reason: VenueErrorReason }> = [
  // "Account has insufficient balance for requested action."
  { code: '-2010', msg: /insufficient balance/i, reason: 'INSUFFICIENT_BALANCE' },
  // "Duplicate order sent." (a client order id already in use)
  { code: '-2010', msg: /duplicate order/i, reason: 'DUPLICATE_ORDER' },
];

/**
 * Classify a venue code (Binance's '-2019' or a transport code like 'HTTP_503'); unknown codes are OTHER, terminal.
 * @param message Binance's `msg`, which refines codes like -2010 (insufficient balance, duplicate order)
 */
export function classifyVenueError(code: string, message?: string): VenueErrorClass {
  if (message !== undefined) {
    const rule = MESSAGE_RULES.find((r) => r.code === code && r.msg.test(message));
    if (rule) return { reason: rule.reason, retryable: false, outcomeUnknown: false };
  }
  return table[code] ?? { reason: 'OTHER', retryable: false, outcomeUnknown: false };
}

/** What the adapter knows about one failed HTTP exchange (captured per request, not from shared ccxt state). */
export interface ResponseInfo {
  status?: number;
  body?: string;
  headers?: Record<string, string | undefined>;
}

/** A failed venue call, typed: the rejection (safe to log), its classification and the wait Binance asked for. */
export interface VenueFailure {
  rejection: VenueRejection;
  class: VenueErrorClass;
  /** From the Retry-After header (429/418), ms; null when absent. */
  retryAfterMs: number | null;
  status: number | null;
}

/** Case-insensitive header lookup (ccxt keeps the server's spelling). */
export function header(headers: Record<string, string | undefined> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Retry-After in ms (Binance sends seconds); null when absent or unparsable. */
export function retryAfterMs(headers: Record<string, string | undefined> | undefined): number | null {
  const v = header(headers, 'retry-after');
  if (v === undefined) return null;
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? Math.round(s * 1000) : null;
}

const JSON_ERR = /\{\s*"code"\s*:\s*(-?\d+)\s*,\s*"msg"\s*:\s*"((?:[^"\\]|\\.)*)"/;

/** `{"code":-2019,"msg":"…"}` anywhere in a text. */
export function parseBinanceError(text: string | undefined): { code: string; msg: string } | null {
  if (!text) return null;
  const m = JSON_ERR.exec(text);
  if (!m) return null;
  let msg = m[2];
  try {
    msg = JSON.parse(`"${m[2]}"`) as string;
  } catch {
    /* keep raw */
  }
  return { code: m[1], msg };
}

/**
 * Remove credentials from a text: the literal key and secret, `signature=…` query values and
 * `X-MBX-APIKEY` header values. Every message the adapter returns or logs passes through it.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('<redacted>');
  out = out.replace(/signature=[^&\s"']*/gi, 'signature=<redacted>');
  out = out.replace(/(X-MBX-APIKEY["']?\s*[:=]\s*["']?)[^\s"',}]*/gi, '$1<redacted>');
  return out;
}

const MAX_MESSAGE = 400;

/**
 * Turn anything ccxt throws into a typed failure. The Binance code comes from the JSON body of
 * this request (captured per request) or the JSON embedded in ccxt's message; HTTP 429 / 418 /
 * 503 map to transport codes whatever the body says (503: the execution status is unknown);
 * ccxt's RequestTimeout → TIMEOUT, other NetworkErrors without a status → NETWORK.
 * @param secrets the API key and secret (and anything else never to be shown)
 */
export function toVenueFailure(e: unknown, resp: ResponseInfo, secrets: ReadonlyArray<string | undefined>, codes: VenueCodes = BINANCE_CODES): VenueFailure {
  const name = errorName(e);
  const rawMessage = messageOf(e);
  const status = resp.status !== undefined && resp.status >= 400 ? resp.status : statusFromMessage(rawMessage);
  const parsed = codes.parse(resp.status !== undefined && resp.status >= 400 ? resp.body : undefined) ?? codes.parse(rawMessage);
  let code: string;
  let text: string;
  if (status === 429 || status === 418 || status === 503 || status === 502 || status === 504) {
    code = `HTTP_${status}`;
    text = parsed ? `HTTP ${status}: ${parsed.msg} (${parsed.code})` : `HTTP ${status}: ${stripPrefix(rawMessage)}`;
  } else if (parsed) {
    code = parsed.code;
    text = parsed.msg;
  } else if (name === 'RequestTimeout') {
    code = 'TIMEOUT';
    text = `request timed out: ${stripPrefix(rawMessage)}`;
  } else if (status !== null) {
    code = `HTTP_${status}`;
    text = `HTTP ${status}: ${stripPrefix(rawMessage)}`;
  } else if (isNetworkError(e)) {
    code = 'NETWORK';
    text = `network error: ${stripPrefix(rawMessage)}`;
  } else {
    code = name === 'AuthenticationError' ? '-2015' : 'ERROR';
    text = `${name}: ${stripPrefix(rawMessage)}`;
  }
  const message = redact(text, secrets).slice(0, MAX_MESSAGE);
  const rejection = parsed && code === parsed.code && codes.rejection ? codes.rejection(code, message) : { code, message };
  return { rejection, class: codes.classify(code, parsed?.msg), retryAfterMs: retryAfterMs(resp.headers), status };
}

/**
 * How a venue's own error codes read (the transport handling of `toVenueFailure` is the same
 * for every venue): find `{code, msg}` in a body or ccxt message, classify a code, and
 * optionally turn the venue's code into the domain rejection (Bitget → `VenueErrors` codes).
 */
export interface VenueCodes {
  parse(text: string | undefined): { code: string; msg: string } | null;
  classify(code: string, message?: string): VenueErrorClass;
  /** The rejection for a venue code (default: the code and message as the venue sent them). */
  rejection?(code: string, message: string): VenueRejection;
}

/** Binance's codes: `{"code":-2019,"msg":"…"}`, classified by `classifyVenueError`, passed through as they are. */
export const BINANCE_CODES: VenueCodes = { parse: parseBinanceError, classify: classifyVenueError };

/** The message of anything thrown (duck-typed: errors may come from another realm, e.g. under Jest). */
export function messageOf(e: unknown): string {
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
  return String(e);
}

/** ccxt's class name (its chain: NetworkError ⊃ DDoSProtection ⊃ RateLimitExceeded, RequestTimeout, ExchangeNotAvailable, InvalidNonce). */
function errorName(e: unknown): string {
  if (e && typeof e === 'object') return (e as { constructor?: { name?: string } }).constructor?.name ?? 'Error';
  return 'Error';
}

function isNetworkError(e: unknown): boolean {
  let p: unknown = e && typeof e === 'object' ? Object.getPrototypeOf(e) : null;
  while (p) {
    if ((p as { constructor?: { name?: string } }).constructor?.name === 'NetworkError') return true;
    p = Object.getPrototypeOf(p);
  }
  return false;
}

/** ccxt writes "binanceusdm 418 <reason> <body>" (binance handleErrors) or "binanceusdm GET <url> 503 <reason> <body>" (default handler); `binance` and `bitget` the same. */
function statusFromMessage(m: string): number | null {
  const x = /^\S+ (?:[A-Z]+ \S+ )?([45]\d\d) /.exec(m);
  return x ? Number(x[1]) : null;
}

function stripPrefix(m: string): string {
  return m.replace(/^(?:binance(?:usdm)?|bitget) /, '');
}
