/**
 * ccxt `binance` (and ccxt.pro `binance`) URL map pointed at a local Binance-compatible SPOT
 * ISOLATED MARGIN venue. Replaces the whole `urls.api` dict, so nothing can reach a real
 * Binance host by accident: a call needing any other key (fapi*, dapi*, eapi*, papi*) fails in
 * ccxt with NotSupported instead — which is why the adapter loads spot markets only
 * (`options.fetchMarkets.types = ['spot']`).
 *
 * ccxt 4.5.84 uses `public` (GET /api/v3/exchangeInfo), `sapi` (every /sapi/v1 call) and, for
 * the user-data stream, `ws['ws-api'].spot` (/ws-api/v3); `ws.spot` / `ws.margin` only serve
 * public streams (ccxt 4.5.84 binance.js `sign()`: `urls.api[api] + '/' + path`).
 *
 * @param restBase e.g. http://127.0.0.1:PORT (a trailing slash is dropped)
 * @param wsBase e.g. ws://127.0.0.1:PORT
 */
export function binanceMarginLocalUrls(restBase: string, wsBase: string) {
  const rest = restBase.replace(/\/+$/, '');
  const ws = wsBase.replace(/\/+$/, '');
  return {
    public: `${rest}/api/v3`,
    private: `${rest}/api/v3`,
    v1: `${rest}/api/v1`,
    sapi: `${rest}/sapi/v1`,
    sapiV2: `${rest}/sapi/v2`,
    sapiV3: `${rest}/sapi/v3`,
    sapiV4: `${rest}/sapi/v4`,
    ws: { spot: `${ws}/ws`, margin: `${ws}/ws`, 'ws-api': { spot: `${ws}/ws-api/v3` } },
  };
}
