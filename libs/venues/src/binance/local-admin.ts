import { createHmac } from 'node:crypto';
import { VenueCallError } from './requests';
import { messageOf } from './errors';

/** What a local venue's admin endpoint answered. */
export interface AdminAnswer {
  ok: boolean;
  status: number;
  text: string;
  headers: Record<string, string>;
}

/**
 * A signed POST to a local venue's Bulwark-only admin endpoint (`/bulwark/v1/...`: its clock and
 * faucet) with Binance's SIGNED scheme: query + timestamp + recvWindow, HMAC-SHA256 of the query
 * with the secret as `signature`, the key in X-MBX-APIKEY
 * (https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#signed-trade-and-user_data-endpoint-security).
 * @param offsetMs the venue's clock minus ours (ccxt's timeDifference), subtracted from the timestamp
 * @param redact removes secrets from a message
 * @throws VenueCallError NETWORK when the venue cannot be reached (the message redacted)
 */
export async function signedAdminPost(
  restBase: string,
  path: string,
  params: Record<string, string>,
  creds: { apiKey: string; apiSecret: string },
  offsetMs: number,
  redact: (s: string) => string,
): Promise<AdminAnswer> {
  const query = new URLSearchParams({ ...params, timestamp: String(Date.now() - offsetMs), recvWindow: '10000' }).toString();
  const signature = createHmac('sha256', creds.apiSecret).update(query).digest('hex');
  let res: Response;
  try {
    res = await fetch(`${restBase}${path}?${query}&signature=${signature}`, { method: 'POST', headers: { 'X-MBX-APIKEY': creds.apiKey } });
  } catch (e) {
    throw new VenueCallError({ code: 'NETWORK', message: redact(`network error on ${path}: ${messageOf(e)}`) });
  }
  const text = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  return { ok: res.ok, status: res.status, text, headers };
}
