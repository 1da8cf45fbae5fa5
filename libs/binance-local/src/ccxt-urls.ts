import type { BinanceLocal } from './server';

/**
 * The `exchange.urls.api` of a ccxt (4.5.x) `binanceusdm` / `ccxt.pro.binanceusdm` instance
 * pointed at a local venue: every REST family ccxt signs or calls (fapi public/private v1–v3,
 * futures data, and the spot/sapi bases loadMarkets may touch) goes to `restBase`, and the
 * futures WebSocket to `${wsBase}/ws` (ccxt.pro's getWsUrl turns that into `/market/ws`,
 * `/public/ws` and `/private/ws?listenKey=`, all served by the local venue).
 *
 * With API keys, ccxt's `loadMarkets` also calls `GET /sapi/v1/capital/config/getall`
 * (fetchCurrencies); the local venue answers it (USDT, BTC). Against a venue without it, set
 * `exchange.options.fetchCurrencies = false`. ccxt.pro refuses plain `ws://` URLs until
 * `await exchange.loadHttpProxyAgent()` has run once (NotSupported otherwise).
 */
export function binanceLocalUrls(restBase: string, wsBase: string): Record<string, unknown> {
  const r = restBase.replace(/\/+$/, '');
  const w = wsBase.replace(/\/+$/, '');
  return {
    fapiPublic: `${r}/fapi/v1`,
    fapiPublicV2: `${r}/fapi/v2`,
    fapiPublicV3: `${r}/fapi/v3`,
    fapiPrivate: `${r}/fapi/v1`,
    fapiPrivateV2: `${r}/fapi/v2`,
    fapiPrivateV3: `${r}/fapi/v3`,
    fapiData: `${r}/futures/data`,
    public: `${r}/api/v3`,
    private: `${r}/api/v3`,
    v1: `${r}/api/v1`,
    sapi: `${r}/sapi/v1`,
    sapiV2: `${r}/sapi/v2`,
    sapiV3: `${r}/sapi/v3`,
    sapiV4: `${r}/sapi/v4`,
    dapiPublic: `${r}/dapi/v1`,
    dapiPrivate: `${r}/dapi/v1`,
    dapiPrivateV2: `${r}/dapi/v2`,
    dapiData: `${r}/futures/data`,
    eapiPublic: `${r}/eapi/v1`,
    eapiPrivate: `${r}/eapi/v1`,
    papi: `${r}/papi/v1`,
    papiV2: `${r}/papi/v2`,
    ws: { future: `${w}/ws`, spot: `${w}/ws`, margin: `${w}/ws`, delivery: `${w}/ws` },
  };
}

/**
 * Constructor config for `new ccxt.binanceusdm(...)` / `new ccxt.pro.binanceusdm(...)` trading
 * a local venue with one account's keys: assign `urls.api` after construction
 * (`exchange.urls['api'] = cfg.urlsApi`), since ccxt deep-merges constructor urls.
 */
export function ccxtFor(local: Pick<BinanceLocal, 'url' | 'wsUrl'>, creds: { apiKey: string; apiSecret: string }) {
  return {
    config: { apiKey: creds.apiKey, secret: creds.apiSecret, enableRateLimit: false },
    urlsApi: binanceLocalUrls(local.url, local.wsUrl),
  };
}
