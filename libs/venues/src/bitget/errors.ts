import { VenueErrors, type VenueRejection } from '@bulwark/domain';
import { classifyVenueError, type TransportCode, type VenueErrorClass, type VenueErrorReason } from '../binance/errors';

/*
 * Bitget error codes (USDT-M futures, v2 mix API, classic account) mapped onto the SAME
 * vocabulary as the Binance adapter: the reason/retry classification of `../binance/errors`
 * (`VenueErrorReason`, `VenueErrorClass`) and, where one exists, the domain rejection of
 * `VenueErrors` in libs/domain/src/paper-venue.ts (Binance-spelled codes such as '-2019').
 *
 * Sources, cited per code below:
 *   [T] Bitget, Classic futures "REST error code" table,
 *       https://www.bitget.com/legacy-docs/classic/contract/error-code/restapi
 *       (read from a stored verbatim reproduction crawled 2026-09-28);
 *   [W] the WebSocket table of the same docs,
 *       https://www.bitget.com/legacy-docs/classic/contract/error-code/websocket (same reproduction);
 *   [C] ccxt 4.5.84 `bitget` exceptions.exact (node_modules/ccxt/js/src/bitget.js), whose
 *       comments quote messages Bitget actually sent (e.g. 40762 "The order amount exceeds the
 *       balance", 45110 "less than the minimum amount 5 USDT").
 * Bitget answers business failures with HTTP 200 (or 400) and `{"code":"40762","msg":…}`;
 * `code` is a string, "00000" on success. Match on the code, not the message (messages are
 * parameterised and translated).
 */

/** One documented Bitget code: its meaning, where it is documented, and what Bulwark makes of it. */
export interface BitgetErrorEntry {
  code: string;
  /** Bitget's message as documented (placeholders `{0}` kept). */
  meaning: string;
  /**
   * 'T' = Bitget's classic REST error-code table, 'W' = its WebSocket table, 'C' = ccxt's bitget
   * exceptions table, 'T+C' both; 'O' = only observed in public client code that handles Bitget's
   * answer (meaning inferred from its message; verify against Bitget when its table lists it).
   */
  source: 'T' | 'W' | 'C' | 'T+C' | 'O';
  reason: VenueErrorReason;
  retryable: boolean;
  outcomeUnknown: boolean;
  /** The domain rejection it corresponds to (`VenueErrors` key), null when the domain has none. */
  domain: keyof typeof VenueErrors | null;
}

type Row = [code: string, meaning: string, source: BitgetErrorEntry['source'], domain: BitgetErrorEntry['domain']];

const entries: BitgetErrorEntry[] = [];
const put = (reason: VenueErrorReason, retryable: boolean, outcomeUnknown: boolean, rows: Row[]) => {
  for (const [code, meaning, source, domain] of rows) entries.push({ code, meaning, source, reason, retryable, outcomeUnknown, domain });
};

// --- Margin / balance: the order (or leverage change) needs more margin than is free.
put('INSUFFICIENT_MARGIN', false, false, [
  // [T] documents 40762 as "The order size is greater than the max open size"; [C] quotes the live
  // message "The order amount exceeds the balance" — either way: not enough free margin for the size.
  ['40762', 'The order size is greater than the max open size ([C]: "The order amount exceeds the balance")', 'T+C', 'MARGIN_INSUFFICIENT'],
  ['43012', 'Insufficient balance', 'T+C', 'MARGIN_INSUFFICIENT'],
  ['40754', 'balance not enough', 'T', 'MARGIN_INSUFFICIENT'],
  ['45002', 'Insufficient asset', 'T', 'MARGIN_INSUFFICIENT'],
  ['40800', 'Insufficient amount of margin', 'T', 'MARGIN_INSUFFICIENT'],
  ['40712', 'Insufficient margin', 'C', 'MARGIN_INSUFFICIENT'],
  ['40893', 'Unable to update the leverage factor of this position, there is not enough margin!', 'T', 'MARGIN_INSUFFICIENT'],
]);
// Transfers between accounts (not orders): Binance's spot-margin spelling of the same idea.
put('INSUFFICIENT_BALANCE', false, false, [
  ['40798', 'Insufficient contract account balance', 'T', null],
  ['40711', 'Insufficient contract account balance', 'C', null],
]);

// --- Order size / price limits.
put('MIN_NOTIONAL', false, false, [
  ['45110', 'less than the minimum amount {0} USDT', 'T+C', 'MIN_NOTIONAL'],
  ['43027', 'The minimum order value {0} is not met', 'T', 'MIN_NOTIONAL'],
  ['22034', 'Less than the minimum order amount', 'T', 'MIN_NOTIONAL'],
]);
put('INVALID', false, false, [
  ['45111', 'less than the minimum order quantity', 'T', 'QTY_TOO_SMALL'],
  ['43006', 'The order quantity is less than the minimum transaction quantity', 'T', 'QTY_TOO_SMALL'],
  ['45112', 'more than the maximum order quantity', 'T', 'QTY_TOO_LARGE'],
  ['43007', 'The order quantity is greater than the maximum transaction quantity', 'T', 'QTY_TOO_LARGE'],
  ['45113', 'Maximum order value limit triggered', 'T+C', 'QTY_TOO_LARGE'],
  // [C] quotes "Parameter verification exception size checkBDScale error value=2293.577 checkScale=2".
  ['40808', 'Parameter verification exception {0}', 'T+C', 'PRECISION'],
  // A position TP/SL whose trigger is already reached at the mark: Binance's -2021 (would immediately trigger).
  ['40917', 'Stop price for long positions please < mark price {0}', 'C', 'WOULD_IMMEDIATELY_TRIGGER'],
  ['45122', 'Short position stop loss price please > mark price {0}', 'C', 'WOULD_IMMEDIATELY_TRIGGER'],
  ['45115', 'The price you enter should be a multiple of {0}', 'T', 'PRECISION'],
  ['43028', 'Please enter an integer multiple of {0} for price', 'T', 'PRECISION'],
  ['22038', 'Please enter the quantity as an integral multiple of {0}', 'T', 'PRECISION'],
  // [C] quotes "param price scale error error".
  ['41103', 'param {0} error', 'T+C', 'PRECISION'],
  ['40815', 'The order price is higher than the highest bid price', 'T', null],
  ['40816', 'The order price is lower than the lowest selling price', 'T', null],
  ['22006', 'limit price > risk price', 'T', null],
  ['22007', 'limit price < risk price', 'T', null],
  // Leverage outside the tier's allowed range.
  ['45044', 'Leverage is not within the suitable range after adjustment', 'T', 'LEVERAGE_INVALID'],
  ['45045', 'Exceeds the maximum possible leverage', 'T', 'LEVERAGE_INVALID'],
  ['43050', 'Leverage exceeds the effective range', 'T', 'LEVERAGE_INVALID'],
  // Unknown / removed instrument.
  ['40102', 'Symbol does not exist', 'T', 'UNKNOWN_SYMBOL'],
  ['40822', 'The contract configuration does not exist', 'T', 'UNKNOWN_SYMBOL'],
  ['40309', 'The contract has been removed', 'T+C', 'UNKNOWN_SYMBOL'],
  // Parameters.
  ['40017', 'Parameter verification failed {0}', 'T+C', 'MANDATORY_PARAM'],
  ['40019', 'Parameter {0} cannot be empty', 'T+C', 'MANDATORY_PARAM'],
  ['40020', 'Parameter {0} error', 'T+C', null],
  ['40034', 'Parameter {0} does not exist', 'T', null],
  // Unified-account / classic-account mismatch: the call belongs to the other account mode.
  ['40128', 'The current feature is not supported under Unified Account mode.', 'T', null],
  // The reverse (a unified-account call from a classic account), in Bitget's WebSocket table [W].
  ['25245', 'The account is not the unified account mode', 'W', null],
]);

// --- Position / reduce-only.
put('MAX_POSITION_AT_LEVERAGE', false, false, [
  ['40763', 'Exceeds position tier limit', 'T', 'MAX_POSITION_AT_LEVERAGE'],
  ['40921', 'The order size cannot exceed the maximum size of the positionLevel', 'T', 'MAX_POSITION_AT_LEVERAGE'],
]);
put('REDUCE_ONLY_REJECTED', false, false, [
  ['40939', 'Reducing positions only will decrease your position. Please cancel or modify the original pending order first before placing a new order', 'T', 'REDUCE_ONLY_REJECTED'],
  ['22002', 'No position to close', 'T', 'REDUCE_ONLY_REJECTED'],
  ['40757', 'Not enough position is available.', 'T', 'REDUCE_ONLY_REJECTED'],
  ['45003', 'Insufficient position', 'T', 'REDUCE_ONLY_REJECTED'],
  ['40804', 'The number of closed positions cannot exceed the number of positions held', 'T', 'REDUCE_ONLY_REJECTED'],
  // A position TP/SL with no position to protect (it can only reduce one); public bot code treats
  // 43023 as "Insufficient position" when the position was already closed.
  ['43023', 'Insufficient position, can not set profit or stop loss', 'O', 'REDUCE_ONLY_REJECTED'],
]);
put('POSITION_SIDE', false, false, [
  ['40774', 'The order type for unilateral position must also be the unilateral position type.', 'C', 'POSITION_SIDE_MISMATCH'],
  ['45021', 'When one-way position is held, the order type must also be one-way position type', 'T', 'POSITION_SIDE_MISMATCH'],
]);

// --- Orders that do not exist / duplicates.
put('UNKNOWN_ORDER', false, false, [
  ['40109', 'The data of the order cannot be found, please confirm the order number', 'T+C', 'UNKNOWN_ORDER'],
  ['43001', 'The order does not exist', 'T+C', 'UNKNOWN_ORDER'],
  ['45057', 'The order does not exist!', 'T', 'UNKNOWN_ORDER'],
  ['40768', 'Order does not exist', 'C', 'UNKNOWN_ORDER'],
  ['22001', 'No order to cancel', 'T', 'UNKNOWN_ORDER'],
  ['43025', 'Plan order does not exist', 'T+C', 'UNKNOWN_ORDER'],
  ['43020', 'Stop profit and stop loss order does not exist', 'T', 'UNKNOWN_ORDER'],
]);
put('DUPLICATE_ORDER', false, false, [
  ['45034', 'clientOid duplicate', 'T', 'DUPLICATE_ORDER'],
  ['43118', 'clientOrderId duplicate', 'T', 'DUPLICATE_ORDER'],
]);

// --- Credentials, signature, timestamp, permissions.
put('AUTH', false, false, [
  ['40001', 'ACCESS_KEY cannot be empty', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40002', 'ACCESS_SIGN cannot be empty', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40003', 'Signature cannot be empty', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40006', 'Invalid ACCESS_KEY', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40009', 'sign signature error', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40011', 'ACCESS_PASSPHRASE cannot be empty', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40012', 'apikey/password is incorrect', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40036', 'passphrase is error', 'T', 'UNKNOWN_ACCOUNT'],
  ['40037', 'Apikey does not exist', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40038', 'The current ip is not in the apikey ip whitelist', 'T', 'UNKNOWN_ACCOUNT'],
  ['40018', 'Invalid IP', 'T+C', 'UNKNOWN_ACCOUNT'],
  ['40014', 'Incorrect permissions, need {0} permissions', 'T+C', 'UNKNOWN_ACCOUNT'],
]);
// Clock: resync, then the same request may be sent once more (as Binance -1021).
put('TIMESTAMP', true, false, [
  ['40004', 'Request timestamp expired', 'C', null],
  ['40005', 'Invalid ACCESS_TIMESTAMP', 'T+C', null],
  ['40008', 'Request timestamp expired', 'T+C', null],
]);

// --- Rate limit and venue trouble.
put('RATE_LIMITED', true, false, [['429', 'Too many requests', 'T+C', null]]);
// Bitget does not say whether a write that failed this way was executed: check by clientOid first.
put('OUTCOME_UNKNOWN', true, true, [
  // [C] maps 40010 to AuthenticationError ("sign signature error"); [T] documents "Request timed out".
  ['40010', 'Request timed out', 'T', null],
  ['40015', 'System is abnormal, please try again later', 'T+C', null],
  ['40725', 'service return an error', 'T', null],
  ['45001', 'Unknown error', 'T', null],
]);
// Refused before any processing: may be sent again later.
put('OTHER', true, false, [['40200', 'Server upgrade, please try again later', 'T+C', null]]);
// Terminal, no domain equivalent or a state the caller must resolve first.
put('OTHER', false, false, [
  ['45117', 'Currently holding positions or orders, the margin mode cannot be adjusted', 'T', 'MARGIN_TYPE_WITH_POSITION'],
  ['40730', 'There is currently a commission or a planned commission, and the leverage cannot be adjusted', 'T', null],
  ['45097', 'There is currently an order or a limit order, and the leverage cannot be adjusted', 'T', null],
  // No-op leverage change: the caller may treat it as UNCHANGED.
  ['40814', 'No change in leverage', 'T', null],
  ['45054', 'No change in leverage', 'T', null],
  ['40920', 'Position or order exists, the position mode cannot be switched', 'T', null],
  ['43024', 'Take profit/stop loss in an existing order, please change it after canceling all', 'T', null],
  ['40844', 'This contract is under temporary maintenance', 'T', null],
  ['45043', 'Due to settlement or maintenance reasons, the trade is suspended', 'T', null],
  ['41114', 'The current trading pair is under maintenance, please refer to the official announcement for the opening time', 'C', null],
  ['40760', 'Account abnormal status', 'T', null],
  // 60001–60006: cited by seed 002 as "mix v1" codes. Bitget's classic REST table lists them as P2P
  // codes (below, verbatim); no documented futures/mix meaning was found in any source.
  ['60001', 'StartTime not empty (P2P)', 'T', null],
  ['60002', 'MerchantId not empty (P2P)', 'T', null],
  ['60003', 'Not found the p2p order (P2P)', 'T', null],
  ['60004', 'Not found the p2p advertisement (P2P)', 'T', null],
  ['60005', 'Not found the p2p merchant (P2P)', 'T', null],
  ['60006', 'Parameter error (P2P)', 'T', null],
]);

/** Every mapped Bitget code, in the order above (one row per code). */
export const BITGET_ERROR_TABLE: readonly BitgetErrorEntry[] = entries;

const byCode = new Map(entries.map((e) => [e.code, e]));

/** The table row of a Bitget code, or undefined when Bulwark does not map it. */
export function bitgetErrorEntry(code: string): BitgetErrorEntry | undefined {
  return byCode.get(code);
}

const TRANSPORT = new Set<string>(['HTTP_503', 'HTTP_502', 'HTTP_504', 'HTTP_429', 'HTTP_418', 'TIMEOUT', 'NETWORK']);

/**
 * Classify a Bitget code ("40762", "429") or a transport code shared with the Binance adapter
 * (`HTTP_503`, `TIMEOUT`, `NETWORK`, …, classified exactly as there); the Bitget counterpart of
 * `classifyVenueError`. Unknown codes are OTHER, terminal.
 * @param message Bitget's `msg`; accepted for symmetry, not used (Bitget's messages are
 *   parameterised and translated, the code is authoritative).
 */
export function classifyBitgetError(code: string, message?: string): VenueErrorClass {
  void message;
  if (TRANSPORT.has(code)) return classifyVenueError(code as TransportCode);
  const e = byCode.get(code);
  return e ? { reason: e.reason, retryable: e.retryable, outcomeUnknown: e.outcomeUnknown } : { reason: 'OTHER', retryable: false, outcomeUnknown: false };
}

/**
 * The domain rejection for a Bitget error: the `VenueErrors` code (Binance spelling, e.g.
 * '-2019') when the idea exists in the domain, so callers see one code per idea whichever venue
 * answered; otherwise `BITGET_<code>`. The message keeps Bitget's own code and text.
 */
export function bitgetRejection(code: string, msg: string): VenueRejection {
  const e = byCode.get(code);
  const domain = e?.domain ? VenueErrors[e.domain] : undefined;
  const text = `Bitget ${code}: ${msg}`;
  return domain ? { code: domain.code, message: `${domain.message} (${text})` } : { code: `BITGET_${code}`, message: text };
}

const JSON_ERR = /\{[^{}]*?"code"\s*:\s*"?(\d+)"?\s*,\s*"msg"\s*:\s*"((?:[^"\\]|\\.)*)"/;

/** `{"code":"40762","msg":"…"}` anywhere in a text (a body or ccxt's message); "00000" is success, not an error. */
export function parseBitgetError(text: string | undefined): { code: string; msg: string } | null {
  if (!text) return null;
  const m = JSON_ERR.exec(text);
  if (!m || m[1] === '00000') return null;
  let msg = m[2];
  try {
    msg = JSON.parse(`"${m[2]}"`) as string;
  } catch {
    /* keep raw */
  }
  return { code: m[1], msg };
}
