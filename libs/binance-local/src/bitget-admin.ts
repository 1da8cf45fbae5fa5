import { bitgetSignedHeaders } from './bitget-auth';
import type { FaultRule } from './faults';

/** A Bitget error answer seen by the admin client. */
export class BitgetLocalHttpError extends Error {
  constructor(readonly status: number, readonly code: string | null, msg: string) {
    super(`HTTP ${status}${code === null ? '' : ` ${code}`}: ${msg}`);
    this.name = 'BitgetLocalHttpError';
  }
}

/** The `data` of `POST /bulwark/v1/step` and `/advance` for the signing account. */
export interface BitgetAccountStepReport {
  orderUpdates: number;
  events: unknown[];
  /** With `scope=all` (step only): every account's part of the step, by account id. */
  accounts?: Record<string, { orderUpdates: number; events: unknown[] }>;
}

/**
 * A small client of the local Bitget venue's Bulwark admin endpoints, signed like any private
 * Bitget call (ACCESS-KEY / ACCESS-SIGN / ACCESS-TIMESTAMP / ACCESS-PASSPHRASE; JSON body).
 * @returns the answer's `data`; throws BitgetLocalHttpError on an error answer
 */
export function bitgetLocalAdmin(baseUrl: string, creds: { apiKey: string; apiSecret: string; passphrase: string }) {
  const call = async (method: string, path: string, json?: unknown): Promise<unknown> => {
    const body = json === undefined ? '' : JSON.stringify(json);
    const res = await fetch(`${baseUrl}${path}`, { method, headers: bitgetSignedHeaders(creds, method, path, '', body), body: body || undefined });
    const data = (await res.json()) as { code?: string; msg?: string; data?: unknown };
    if (!res.ok || data.code !== '00000') throw new BitgetLocalHttpError(res.status, typeof data.code === 'string' ? data.code : null, data.msg ?? res.statusText);
    return data.data;
  };
  return {
    call,
    deposit: (amount: string) => call('POST', '/bulwark/v1/deposit', { coin: 'USDT', amount }),
    /** One path step; `barVolume` (the bar's base volume) feeds VOLUME_SHARE liquidity. */
    step: (symbol: string, s: { from: string; to: string; gap: boolean; ts: number; barVolume?: string | null }, fundingRate?: string) => {
      const { barVolume, ...rest } = s;
      return call('POST', '/bulwark/v1/step', { symbol, ...rest, ...(barVolume == null ? {} : { barVolume }), ...(fundingRate === undefined ? {} : { fundingRate }) }) as Promise<BitgetAccountStepReport>;
    },
    advance: (steps: number) => call('POST', '/bulwark/v1/advance', { steps }) as Promise<BitgetAccountStepReport>,
    addFault: (rule: FaultRule) => call('POST', '/bulwark/v1/faults', rule),
    clearFaults: () => call('DELETE', '/bulwark/v1/faults'),
    disconnectWs: (kind: 'public' | 'private' | 'all' = 'all') => call('POST', '/bulwark/v1/ws/disconnect', { kind }) as Promise<{ closed: number }>,
  };
}
