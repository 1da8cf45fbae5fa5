import type { BitgetLocal } from './bitget-server';

/**
 * The `exchange.urls.api` of a ccxt (4.5.x) `bitget` / `ccxt.pro.bitget` instance pointed at a
 * local Bitget venue: every REST family ccxt signs or calls (`spot`, `mix`, `margin`, `uta`, …,
 * all `https://api.{hostname}` on Bitget; ccxt appends `/api/v2/...`) goes to `restBase`, and
 * the websocket to `${wsBase}/v2/ws/public|private` (and the unified `v3` ones, which the local
 * venue refuses at the handshake: a classic account).
 */
export function bitgetLocalUrls(restBase: string, wsBase: string): Record<string, unknown> {
  const r = restBase.replace(/\/+$/, '');
  const w = wsBase.replace(/\/+$/, '');
  const families = ['spot', 'mix', 'user', 'p2p', 'broker', 'margin', 'common', 'tax', 'convert', 'copy', 'earn', 'uta'];
  return {
    ...Object.fromEntries(families.map((f) => [f, r])),
    ws: { public: `${w}/v2/ws/public`, private: `${w}/v2/ws/private`, utaPublic: `${w}/v3/ws/public`, utaPrivate: `${w}/v3/ws/private` },
  };
}

/** The ccxt `options` the local Bitget venue needs (see bitgetCcxtFor), merged into an instance's own by `useBitgetLocal`. */
export const BITGET_LOCAL_CCXT_OPTIONS = {
  defaultType: 'swap',
  uta: false,
  fetchMarkets: { types: ['swap'] },
  createOrder: { marginMode: 'isolated' },
  createOrders: { marginMode: 'isolated' },
} as const;

/**
 * What a ccxt (4.5.x) `bitget` / `ccxt.pro.bitget` needs to trade a local Bitget venue with one
 * account's keys: `config` for the constructor (keys; no `options`: a constructor `options`
 * object REPLACES ccxt's own, losing e.g. `timeDifference` so every signed call carries
 * ACCESS-TIMESTAMP "NaN"), the `options` to merge after construction, and `urls.api`
 * (`exchange.urls['api'] = cfg.urlsApi`). `useBitgetLocal(exchange, cfg)` does both.
 *
 * What ccxt needs from its caller (the options):
 * - `defaultType: 'swap'` — fetchBalance then reads the futures account (`/api/v2/mix/account/accounts`);
 * - `uta: false` — skips ccxt's unified-account probe (`GET /api/v3/account/settings`; without
 *   it ccxt probes once, the venue answers 40084 and ccxt concludes a classic account anyway);
 * - `fetchMarkets: { types: ['swap'] }` — no spot symbols / margin currencies calls (the venue
 *   answers them with empty lists when asked);
 * - `createOrder: { marginMode: 'isolated' }` and `createOrders: { marginMode: 'isolated' }` —
 *   ccxt sends marginMode "crossed" by default, which the venue refuses (isolated only);
 *   do NOT set `options.defaultMarginMode` (ccxt.pro's watchOrders would then subscribe to the
 *   spot-margin channel `orders-isolated`);
 * - one-way mode: nothing to set (ccxt's default `hedged: false` sends no tradeSide).
 * ccxt.pro refuses plain `ws://` until `await exchange.loadHttpProxyAgent()` has run once.
 * Stops: `createOrder(symbol, 'market', side, amount, undefined, { stopLossPrice })` places a
 * `pos_loss` TP/SL order (fetchOpenOrders with `{ trigger: true, planType: 'profit_loss' }`);
 * `{ triggerPrice, reduceOnly: true }` places a `normal_plan` (fetchOpenOrders `{ trigger: true }`).
 */
export function bitgetCcxtFor(local: Pick<BitgetLocal, 'url' | 'wsUrl'>, creds: { apiKey: string; apiSecret: string; passphrase: string }) {
  return {
    config: { apiKey: creds.apiKey, secret: creds.apiSecret, password: creds.passphrase, enableRateLimit: false },
    options: BITGET_LOCAL_CCXT_OPTIONS,
    urlsApi: bitgetLocalUrls(local.url, local.wsUrl),
  };
}

/**
 * Point a constructed ccxt `bitget` / `ccxt.pro.bitget` at a local venue: `urls.api` replaced,
 * BITGET_LOCAL_CCXT_OPTIONS merged into its options (per-method option objects merged, so
 * ccxt's own `createOrder` defaults stay).
 * @returns the same exchange
 */
export function useBitgetLocal<E extends { urls: Record<string, unknown>; options: Record<string, unknown> }>(exchange: E, cfg: { urlsApi: Record<string, unknown>; options?: Record<string, unknown> }): E {
  exchange.urls['api'] = cfg.urlsApi;
  for (const [k, v] of Object.entries(cfg.options ?? BITGET_LOCAL_CCXT_OPTIONS)) {
    const cur = exchange.options[k];
    exchange.options[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? { ...(cur as object), ...(v as object) } : v;
  }
  return exchange;
}
