import type { VenueRejection } from '@bulwark/domain';

/**
 * A Bitget error answer: HTTP status plus Bitget's envelope with `data: null`,
 * `{"code": "<string code>", "msg": "...", "requestTime": <ms>, "data": null}`.
 * Codes are Bitget's own: the REST error code list
 * (https://www.bitget.com/api-doc/contract/error-code/restapi) and the codes ccxt's `bitget`
 * maps in its `exceptions.exact` table (node_modules/ccxt/js/src/bitget.js), which decides the
 * exception a ccxt caller sees. `headers` carries extra response headers.
 */
export class BitgetApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly msg: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${code} ${msg}`);
    this.name = 'BitgetApiError';
  }

  body(requestTime: number): { code: string; msg: string; requestTime: number; data: null } {
    return { code: this.code, msg: this.msg, requestTime, data: null };
  }
}

const e400 = (code: string, msg: string) => new BitgetApiError(400, code, msg);

/**
 * Bitget's request-level and trading errors (message texts as Bitget/ccxt quote them). The
 * ccxt exception each one becomes is noted: ccxt matches the message exactly first, then the
 * code, so messages never equal another table key.
 */
export const BitgetErrors = {
  /** 40001 "ACCESS_KEY cannot be empty" (ccxt AuthenticationError). */
  keyEmpty: () => new BitgetApiError(400, '40001', 'ACCESS_KEY cannot be empty'),
  /** 40003 "Signature cannot be empty": no ACCESS-SIGN header (ccxt AuthenticationError). */
  signEmpty: () => new BitgetApiError(400, '40003', 'Signature cannot be empty'),
  /** 40005 "Invalid ACCESS_TIMESTAMP" (ccxt InvalidNonce). */
  badTimestamp: () => new BitgetApiError(400, '40005', 'Invalid ACCESS_TIMESTAMP'),
  /** 40008 "Request timestamp expired": ACCESS-TIMESTAMP outside the server's window (ccxt InvalidNonce). */
  timestampExpired: () => new BitgetApiError(400, '40008', 'Request timestamp expired'),
  /** 40009 "sign signature error" (ccxt AuthenticationError). */
  badSignature: () => new BitgetApiError(400, '40009', 'sign signature error'),
  /** 40011 "ACCESS_PASSPHRASE cannot be empty" (ccxt AuthenticationError). */
  passphraseEmpty: () => new BitgetApiError(400, '40011', 'ACCESS_PASSPHRASE cannot be empty'),
  /** 40012 "apikey/password is incorrect": a wrong passphrase (ccxt AuthenticationError). */
  badPassphrase: () => new BitgetApiError(400, '40012', 'apikey/password is incorrect'),
  /** 40037 "Apikey does not exist" (ccxt AuthenticationError). */
  unknownKey: () => new BitgetApiError(400, '40037', 'Apikey does not exist'),
  /** 40017 "Parameter verification failed" with the parameter named (ccxt BadRequest). */
  invalidParam: (name: string, why = '') => e400('40017', `Parameter verification failed ${name}${why ? `: ${why}` : ''}`),
  /** 40019 "Parameter {0} cannot be empty" (ccxt BadRequest). */
  mandatory: (name: string) => e400('40019', `Parameter ${name} cannot be empty`),
  /** 40034 "Parameter {0} does not exist": an unknown symbol (ccxt ExchangeError). */
  badSymbol: (symbol: string) => e400('40034', `Parameter ${symbol} does not exist`),
  /** 40404 "Request URL NOT FOUND" (HTTP 404). */
  notFound: () => new BitgetApiError(404, '40404', 'Request URL NOT FOUND'),
  /** 429 "Too Many Requests" (HTTP 429; ccxt DDoSProtection). */
  tooManyRequests: (retryAfterSec = 1) => new BitgetApiError(429, '429', 'Too Many Requests', { 'Retry-After': String(retryAfterSec) }),
  /** 40015 "System is abnormal, please try again later" (the fault injector's 503; ccxt ExchangeError). */
  systemError: (status = 503) => new BitgetApiError(status, '40015', 'System is abnormal, please try again later'),
  /**
   * 40084-style refusal of the unified-account (v3) API for a classic account: Bitget answers
   * "You are in Classic Account mode, and cannot use Unified Account API" (code 40084). ccxt's
   * `handleUTAAndParams` probes `GET /api/v3/account/settings` and concludes uta=false on any error.
   */
  classicAccount: () => e400('40084', 'You are in Classic Account mode, and cannot use Unified Account API'),
  /** 40768 "Order does not exist" (ccxt OrderNotFound). */
  orderNotFound: () => e400('40768', 'Order does not exist'),
  /** 22001 "No order to cancel": the order is unknown or no longer open (Bitget error code list). */
  noOrderToCancel: () => e400('22001', 'No order to cancel'),
  /** 22002 "No position to close" (Bitget error code list). */
  noPositionToClose: () => e400('22002', 'No position to close'),
  /** 43025 "Plan order does not exist" (ccxt InvalidOrder). */
  planNotFound: () => e400('43025', 'Plan order does not exist'),
  /** 40774: an order with tradeSide in one-way mode (ccxt InvalidOrder). */
  unilateral: () => e400('40774', 'The order type for unilateral position must also be the unilateral position type.'),
  /** 45117: margin mode change with a position or open orders. */
  marginModeLocked: () => e400('45117', 'Currently holding positions or orders, the margin mode cannot be adjusted'),
  /** 40917: a long position's stop at or above the mark (ccxt InvalidOrder). */
  longStopAboveMark: (mark: string) => e400('40917', `Stop price for long positions please < mark price ${mark}`),
  /** 45122: a short position's stop at or below the mark (ccxt InvalidOrder). */
  shortStopBelowMark: (mark: string) => e400('45122', `Short position stop loss price please > mark price ${mark}`),
  /** 43023: a position TP/SL without a position to protect. */
  noPositionForTpsl: () => e400('43023', 'Insufficient position, can not set profit or stop loss'),
  /** 40306 "Batch processing orders can only process up to 20" (ccxt ExchangeError). */
  batchTooLarge: () => e400('40306', 'Batch processing orders can only process up to 20'),
} as const;

/**
 * Bitget's answer to each paper-engine rejection (`VenueErrors`, Binance-numbered, in
 * libs/domain/src/paper-venue.ts), with the ccxt exception it becomes:
 * - -2019 margin → 40762 "The order amount exceeds the balance" (InsufficientFunds)
 * - -2022 reduce-only with nothing to reduce → 22002 "No position to close"
 * - -2027 above the tier's max position at the leverage → 40763 "Exceeds position tier limit" (Bitget's classic error table)
 * - -4003 quantity ≤ 0 / below the minimum → 45111 "less than the minimum order quantity"
 * - -4005 above the max quantity → 45113 (InvalidOrder)
 * - -1111 off the size / price grid → 40808 "Parameter verification exception size checkBDScale error" (InvalidOrder)
 *   / 41103 "param price scale error error" (InvalidOrder)
 * - -4028 leverage out of range → 40797 "Exceeded the maximum settable leverage"
 * - -4164 below min notional → 45110 "less than the minimum amount 5 USDT" (InvalidOrder)
 * - -2011 unknown order → 40768 "Order does not exist" (OrderNotFound)
 * - -4015 duplicate client id → 45034 "clientOid duplicate" (Bitget's classic error table)
 * - -1121 unknown symbol / no price yet → 40034
 * - -4061 position mode → 40774 (InvalidOrder)
 * Anything else → 40017 with the engine's message.
 */
export function fromBitgetRejection(r: VenueRejection, ctx: { minNotional?: string } = {}): BitgetApiError {
  switch (r.code) {
    case '-2019':
      return e400('40762', 'The order amount exceeds the balance');
    case '-2022':
      return BitgetErrors.noPositionToClose();
    case '-2027':
      return e400('40763', 'Exceeds position tier limit');
    case '-4005':
      return e400('45113', 'Maximum order value limit triggered');
    case '-4003':
      return e400('45111', 'less than the minimum order quantity');
    case '-1111':
      return r.message.includes('price') ? e400('41103', 'param price scale error error') : e400('40808', 'Parameter verification exception size checkBDScale error');
    case '-4028':
      return e400('40797', 'Exceeded the maximum settable leverage');
    case '-4164':
      return e400('45110', `less than the minimum amount ${ctx.minNotional ?? '5'} USDT`);
    case '-2011':
      return BitgetErrors.orderNotFound();
    case '-4015':
    case '-20132':
      return e400('45034', 'clientOid duplicate');
    case '-1121':
      return e400('40034', `Parameter symbol does not exist ${r.message}`.trim());
    case '-4061':
      return BitgetErrors.unilateral();
    default:
      return e400('40017', `Parameter verification failed ${r.message}`);
  }
}
