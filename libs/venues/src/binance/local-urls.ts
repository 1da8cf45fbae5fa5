/**
 * ccxt `binanceusdm` URL map pointed at a local Binance-compatible venue: every entry of
 * ccxt's `urls.api` keeps its path and gets the local origin (https → `restBase`, wss →
 * `wsBase`), so nothing can reach a real Binance host by accident. The one place the adapter
 * derives local URLs (libs/venues may not import @bulwark/binance-local).
 *
 * @param api ccxt's default `exchange.urls.api` (nested strings)
 * @param restBase e.g. http://127.0.0.1:PORT (no trailing slash)
 * @param wsBase e.g. ws://127.0.0.1:PORT
 * @returns the same tree with local URLs, e.g. fapiPrivate → `${restBase}/fapi/v1`,
 *   ws.future → `${wsBase}/ws` (ccxt.pro derives `/market/ws` and `/private/ws?listenKey=` from it)
 */
export function localApiUrls(api: unknown, restBase: string, wsBase: string): unknown {
  const rest = restBase.replace(/\/+$/, '');
  const ws = wsBase.replace(/\/+$/, '');
  const map = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const u = new URL(v);
      const path = u.pathname === '/' ? '' : u.pathname;
      return (u.protocol.startsWith('ws') ? ws : rest) + path;
    }
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, map(x)]));
    return v;
  };
  return map(api);
}
