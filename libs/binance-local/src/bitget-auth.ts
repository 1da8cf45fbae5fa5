import { createHmac, timingSafeEqual } from 'node:crypto';
import { BitgetErrors } from './bitget-errors';

/** A Bitget API key of the local venue: key, secret and passphrase, and the account it trades. */
export interface BitgetCredential {
  accountId: string;
  apiKey: string;
  apiSecret: string;
  passphrase: string;
}

/** Base64 HMAC-SHA256 of `prehash` with `secret` (Bitget's ACCESS-SIGN and the websocket login `sign`). */
export function bitgetSign(secret: string, prehash: string): string {
  return createHmac('sha256', secret).update(prehash).digest('base64');
}

/** Constant-time comparison of two base64 signatures. */
export function sameSignature(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The query string as ccxt signs it: percent-decoded, order kept (ccxt sends it encoded but signs `rawencode`). */
function decodedQuery(rawQuery: string): string {
  return rawQuery
    .split('&')
    .map((kv) => {
      try {
        return decodeURIComponent(kv.replace(/\+/g, ' '));
      } catch {
        return kv;
      }
    })
    .join('&');
}

/**
 * Check a private request like Bitget
 * (https://www.bitget.com/api-doc/common/signature): headers ACCESS-KEY, ACCESS-SIGN,
 * ACCESS-TIMESTAMP (ms), ACCESS-PASSPHRASE; ACCESS-SIGN = base64(HMAC-SHA256(secret,
 * timestamp + METHOD + requestPath + ('?' + queryString if any) + body)). The query string is
 * accepted as sent or percent-decoded (ccxt signs the decoded form). Checks, in order:
 * key present (40001) and known (40037); sign present (40003); timestamp a ms integer (40005)
 * within `windowMs` of `now` either way (40008); passphrase present (40011) and right (40012);
 * signature (40009, constant-time).
 * @returns the key's credential
 * @throws BitgetApiError
 */
export function authenticateBitget(args: {
  headers: Record<string, string | string[] | undefined>;
  method: string;
  path: string;
  rawQuery: string;
  rawBody: string;
  keys: ReadonlyMap<string, BitgetCredential>;
  now: number;
  windowMs: number;
}): BitgetCredential {
  const h = (name: string) => {
    const v = args.headers[name];
    return (Array.isArray(v) ? v[0] : v)?.trim() ?? '';
  };
  const key = h('access-key');
  if (!key) throw BitgetErrors.keyEmpty();
  const cred = args.keys.get(key);
  if (!cred) throw BitgetErrors.unknownKey();
  const sign = h('access-sign');
  if (!sign) throw BitgetErrors.signEmpty();
  const ts = h('access-timestamp');
  if (!/^\d{10,15}$/.test(ts)) throw BitgetErrors.badTimestamp();
  if (Math.abs(args.now - Number(ts)) > args.windowMs) throw BitgetErrors.timestampExpired();
  const pass = h('access-passphrase');
  if (!pass) throw BitgetErrors.passphraseEmpty();
  if (!sameSignature(pass, cred.passphrase)) throw BitgetErrors.badPassphrase();
  const base = ts + args.method.toUpperCase() + args.path;
  const candidates = args.rawQuery ? [args.rawQuery, decodedQuery(args.rawQuery)] : [''];
  const ok = candidates.some((q) => sameSignature(sign, bitgetSign(cred.apiSecret, base + (q ? `?${q}` : '') + args.rawBody)));
  if (!ok) throw BitgetErrors.badSignature();
  return cred;
}

/**
 * The headers a Bitget client sends with a private request (used by the admin client and tests;
 * never logs the secret). `query` without the leading '?', `body` the exact JSON text sent.
 */
export function bitgetSignedHeaders(creds: { apiKey: string; apiSecret: string; passphrase: string }, method: string, path: string, query = '', body = '', now = Date.now()): Record<string, string> {
  const ts = String(now);
  return {
    'ACCESS-KEY': creds.apiKey,
    'ACCESS-SIGN': bitgetSign(creds.apiSecret, ts + method.toUpperCase() + path + (query ? `?${query}` : '') + body),
    'ACCESS-TIMESTAMP': ts,
    'ACCESS-PASSPHRASE': creds.passphrase,
    'Content-Type': 'application/json',
    locale: 'en-US',
  };
}
