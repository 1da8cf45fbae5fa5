import { createHmac, timingSafeEqual } from 'node:crypto';
import { BinanceErrors } from './errors';

/** An API key of the local venue and the account it trades. The secret never leaves this module's checks. */
export interface ApiCredential {
  accountId: string;
  apiKey: string;
  apiSecret: string;
}

/**
 * Binance's endpoint security types
 * (https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#endpoint-security-type):
 * NONE (public), USER_STREAM / MARKET_DATA (API key only), TRADE / USER_DATA (key + HMAC signature + timestamp).
 */
export type SecurityType = 'NONE' | 'USER_STREAM' | 'SIGNED';

/** HMAC-SHA256 hex signature of `payload` with `secret` (Binance "SIGNED" endpoints). */
export function hmacSha256Hex(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Remove the `signature=` parameter from a raw urlencoded string, keeping the rest byte for byte. */
function withoutSignature(raw: string): { rest: string; signature: string | null } {
  if (!raw) return { rest: raw, signature: null };
  let signature: string | null = null;
  const kept: string[] = [];
  for (const part of raw.split('&')) {
    if (part.startsWith('signature=')) signature = decodeURIComponent(part.slice('signature='.length));
    else kept.push(part);
  }
  return { rest: kept.join('&'), signature };
}

/**
 * Check a request like Binance does:
 * - `X-MBX-APIKEY` header present (-2014 "API-key format invalid.") and known (-2015);
 * - SIGNED: `signature` (query or body) = HMAC-SHA256(secret, totalParams) where totalParams is
 *   the query string concatenated with the request body, without the signature itself
 *   (https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#signed-trade-and-user_data-endpoint-security),
 *   compared in constant time (-1022); `timestamp` mandatory (-1102); `recvWindow` ≤ max (-1131);
 *   serverTime − recvWindow ≤ timestamp ≤ serverTime + 1000 (-1021).
 * @returns the credential of the key
 * @throws BinanceApiError
 */
export function authenticate(args: {
  security: Exclude<SecurityType, 'NONE'>;
  apiKeyHeader: string | undefined;
  rawQuery: string;
  rawBody: string;
  params: Record<string, string>;
  keys: ReadonlyMap<string, ApiCredential>;
  now: number;
  recvWindowMaxMs: number;
}): ApiCredential {
  const key = args.apiKeyHeader?.trim();
  if (!key) throw BinanceErrors.badApiKeyFormat();
  const cred = args.keys.get(key);
  if (!cred) throw BinanceErrors.rejectedKey();
  if (args.security === 'USER_STREAM') return cred;

  const q = withoutSignature(args.rawQuery);
  // A JSON body (Bulwark admin endpoints) is signed as it is; a urlencoded body may carry the signature.
  const b = args.rawBody.trimStart().startsWith('{') ? { rest: args.rawBody, signature: null } : withoutSignature(args.rawBody);
  const signature = q.signature ?? b.signature;
  if (!signature) throw BinanceErrors.mandatory('signature');
  const ts = args.params['timestamp'];
  if (!ts || !/^\d{1,15}$/.test(ts)) throw BinanceErrors.mandatory('timestamp');
  const rw = args.params['recvWindow'];
  let recvWindow = 5000;
  if (rw !== undefined) {
    if (!/^\d{1,9}$/.test(rw)) throw BinanceErrors.invalidParam('recvWindow');
    recvWindow = Number(rw);
    if (recvWindow > args.recvWindowMaxMs) throw BinanceErrors.badRecvWindow(args.recvWindowMaxMs);
  }
  const expected = Buffer.from(hmacSha256Hex(cred.apiSecret, q.rest + b.rest), 'utf8');
  const given = Buffer.from(signature.toLowerCase(), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw BinanceErrors.badSignature();
  const t = Number(ts);
  if (t > args.now + 1000) throw BinanceErrors.timestampAhead();
  if (args.now - t > recvWindow) throw BinanceErrors.timestampOutside();
  return cred;
}

/**
 * Sign a parameter set as a Binance client does: `k=v&…&timestamp=…&signature=<hex>`.
 * Used by the admin client and tests (never logs the secret).
 */
export function signQuery(params: Record<string, string | number | boolean>, secret: string, now = Date.now(), bodyForSignature = ''): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) q.append(k, String(v));
  if (!('timestamp' in params)) q.append('timestamp', String(now));
  const qs = q.toString();
  return `${qs}&signature=${hmacSha256Hex(secret, qs + bodyForSignature)}`;
}

