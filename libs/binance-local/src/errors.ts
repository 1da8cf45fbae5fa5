import { VenueErrors, type VenueRejection } from '@bulwark/domain';

/**
 * A Binance error answer: HTTP status plus the JSON body `{"code": <negative int>, "msg": "..."}`.
 * Codes and messages are Binance's own (USDⓈ-M error code list:
 * https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code).
 * `headers` carries extra response headers (Retry-After on 429/418).
 */
export class BinanceApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly msg: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${code} ${msg}`);
    this.name = 'BinanceApiError';
  }

  body(): { code: number; msg: string } {
    return { code: this.code, msg: this.msg };
  }
}

/** Binance's generic and request-level errors (10xx, 11xx, 2014/2015) with their exact messages. */
export const BinanceErrors = {
  /** -1003 TOO_MANY_REQUESTS (HTTP 429): request weight over the per-minute limit. */
  tooManyRequests: (limit: number, retryAfterSec: number) =>
    new BinanceApiError(429, -1003, `Too many requests; current limit is ${limit} requests per minute. Please use the websocket for live updates to avoid polling the API.`, { 'Retry-After': String(retryAfterSec) }),
  /** -1003 (HTTP 418): the IP is banned after ignoring 429s. */
  banned: (ip: string, untilMs: number, retryAfterSec: number) =>
    new BinanceApiError(418, -1003, `Way too many requests; IP(${ip}) banned until ${untilMs}. Please use the websocket for live updates to avoid bans.`, { 'Retry-After': String(retryAfterSec) }),
  /** -1015 TOO_MANY_ORDERS (HTTP 429). */
  tooManyOrders: (limit: number, interval: string, retryAfterSec: number) =>
    new BinanceApiError(429, -1015, `Too many new orders; current limit is ${limit} orders per ${interval}.`, { 'Retry-After': String(retryAfterSec) }),
  /** -1007 TIMEOUT (HTTP 503): the outcome of the request is unknown. */
  timeout: () => new BinanceApiError(503, -1007, 'Timeout waiting for response from backend server. Send status unknown; execution status unknown.'),
  /** -1021 INVALID_TIMESTAMP: outside recvWindow. */
  timestampOutside: () => new BinanceApiError(400, -1021, 'Timestamp for this request is outside of the recvWindow.'),
  /** -1021 INVALID_TIMESTAMP: more than 1 s ahead of the server. */
  timestampAhead: () => new BinanceApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."),
  /** -1022 INVALID_SIGNATURE. */
  badSignature: () => new BinanceApiError(400, -1022, 'Signature for this request is not valid.'),
  /** -1102 MANDATORY_PARAM_EMPTY_OR_MALFORMED. */
  mandatory: (param: string) => new BinanceApiError(400, -1102, `Mandatory parameter '${param}' was not sent, was empty/null, or malformed.`),
  /** -1104 NOT_ALL_PARAMETERS_READ / unknown parameter. */
  unreadParams: (n: number) => new BinanceApiError(400, -1104, `Not all sent parameters were read; read ${n} parameter(s) but was sent more.`),
  /** -1116 INVALID_ORDER_TYPE. */
  invalidOrderType: () => new BinanceApiError(400, -1116, 'Invalid orderType.'),
  /** -1117 INVALID_SIDE. */
  invalidSide: () => new BinanceApiError(400, -1117, 'Invalid side.'),
  /** -1121 BAD_SYMBOL. */
  badSymbol: () => new BinanceApiError(400, -1121, 'Invalid symbol.'),
  /** -1130 INVALID_PARAMETER. */
  invalidParam: (param: string) => new BinanceApiError(400, -1130, `Data sent for parameter '${param}' is not valid.`),
  /** -1131 BAD_RECV_WINDOW. */
  badRecvWindow: (max: number) => new BinanceApiError(400, -1131, `recvWindow must be less than ${max}`),
  /** -2013 NO_SUCH_ORDER (query). */
  noSuchOrder: () => new BinanceApiError(400, -2013, 'Order does not exist.'),
  /** -2014 BAD_API_KEY_FMT (HTTP 401). */
  badApiKeyFormat: () => new BinanceApiError(401, -2014, 'API-key format invalid.'),
  /** -2015 REJECTED_MBX_KEY (HTTP 401). */
  rejectedKey: () => new BinanceApiError(401, -2015, 'Invalid API-key, IP, or permissions for action.'),
  /** -4120 STOP_ORDER_SWITCH_ALGO: conditional types must use the algo-order API (since 2025-12). */
  useAlgoApi: () => new BinanceApiError(400, -4120, 'Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.'),
  /** -4059 NO_NEED_TO_CHANGE_POSITION_SIDE. */
  noNeedPositionSide: () => new BinanceApiError(400, -4059, 'No need to change position side.'),
  /** -4067 POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS. */
  positionSideOpenOrders: () => new BinanceApiError(400, -4067, 'Position side cannot be changed if there exists open orders.'),
  /** -4068 POSITION_SIDE_CHANGE_EXISTS_QUANTITY. */
  positionSideWithPosition: () => new BinanceApiError(400, -4068, 'Position side cannot be changed if there exists position.'),
  /** -1125 INVALID_LISTEN_KEY. */
  invalidListenKey: () => new BinanceApiError(400, -1125, 'This listenKey does not exist.'),
  /** Unknown path (Binance answers 404). */
  notFound: (method: string, path: string) => new BinanceApiError(404, -5000, `Path ${path}, Method ${method} is invalid`),
} as const;

const canonical = new Map<string, string>(Object.values(VenueErrors).map((e) => [e.code, e.message]));

/**
 * A paper-engine rejection as Binance's HTTP 400 answer. The engine appends details to
 * some messages ("Margin is insufficient. (needs …)"); Binance sends the bare message, so
 * the canonical text of the code is used when the code is one of `VenueErrors`.
 */
export function fromRejection(r: VenueRejection): BinanceApiError {
  const code = Number(r.code);
  return new BinanceApiError(400, Number.isFinite(code) ? code : -1000, canonical.get(r.code) ?? r.message);
}
