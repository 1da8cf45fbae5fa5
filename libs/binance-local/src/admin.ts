import { signQuery } from './auth';
import type { FaultRule } from './faults';

/** A Binance error answer seen by the admin client. */
export class BinanceLocalHttpError extends Error {
  constructor(readonly status: number, readonly code: number | null, msg: string) {
    super(`HTTP ${status}${code === null ? '' : ` ${code}`}: ${msg}`);
    this.name = 'BinanceLocalHttpError';
  }
}

/** The JSON of `POST /bulwark/v1/step` and `/advance` for the signing account. */
export interface AccountStepReport {
  orderUpdates: number;
  events: unknown[];
  /** With `scope=all` (step only): every account's part of the step, by account id. */
  accounts?: Record<string, { orderUpdates: number; events: unknown[] }>;
}

/**
 * A small client of the local venue's Bulwark admin endpoints (signed with the account's
 * key like any private Binance call; the signature covers query + body).
 */
export function binanceLocalAdmin(baseUrl: string, creds: { apiKey: string; apiSecret: string }) {
  const call = async (method: string, path: string, params: Record<string, string | number | boolean> = {}, json?: unknown): Promise<unknown> => {
    const body = json === undefined ? '' : JSON.stringify(json);
    const qs = signQuery(params, creds.apiSecret, Date.now(), body);
    const res = await fetch(`${baseUrl}${path}?${qs}`, {
      method,
      headers: { 'X-MBX-APIKEY': creds.apiKey, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body || undefined,
    });
    const data = (await res.json()) as { code?: number; msg?: string };
    if (!res.ok) throw new BinanceLocalHttpError(res.status, typeof data.code === 'number' ? data.code : null, data.msg ?? res.statusText);
    return data;
  };
  return {
    call,
    deposit: (amount: string) => call('POST', '/bulwark/v1/deposit', { asset: 'USDT', amount }),
    /** One path step; `barVolume` (the bar's base volume) feeds VOLUME_SHARE liquidity. */
    step: (symbol: string, s: { from: string; to: string; gap: boolean; ts: number; barVolume?: string | null }, fundingRate?: string) => {
      const { barVolume, ...rest } = s;
      return call('POST', '/bulwark/v1/step', { symbol, ...rest, ...(barVolume == null ? {} : { barVolume }), ...(fundingRate === undefined ? {} : { fundingRate }) }) as Promise<AccountStepReport>;
    },
    advance: (steps: number) => call('POST', '/bulwark/v1/advance', { steps }) as Promise<AccountStepReport>,
    addFault: (rule: FaultRule) => call('POST', '/bulwark/v1/faults', {}, rule),
    clearFaults: () => call('DELETE', '/bulwark/v1/faults'),
    disconnectWs: (kind: 'market' | 'user' | 'all' = 'all') => call('POST', '/bulwark/v1/ws/disconnect', { kind }) as Promise<{ closed: number }>,
  };
}
