/**
 * The mark price of one Bitget USDT-M symbol over REST, for stop-monitor's mark-price watchdog
 * (the Bitget counterpart of `BinanceMarkPriceRest`, same shape and errors). Like that one NOT
 * exported from the package barrel: stop-monitor imports it by its deep path
 * (`@bulwark/venues/dist/bitget/mark-price-rest`).
 */
import * as ccxt from 'ccxt';
import { PositiveDecimalString } from '@bulwark/contracts';
import { messageOf } from '../binance/errors';
import { localApiUrls } from '../binance/local-urls';
import { MarkPriceUnavailableError, type BinanceMarkPriceRestOptions, type PolledMarkPrice } from '../binance/mark-price-rest';

/** live = api.bitget.com; demo = Bitget demo trading (ccxt `setSandboxMode(true)`, header `paptrading: 1`); local = the local venue at `restBase`. */
export type BitgetMarkPriceRestOptions = BinanceMarkPriceRestOptions;

/**
 * Bitget "Get Symbol Price" `GET /api/v2/mix/market/symbol-price?symbol=&productType=USDT-FUTURES`
 * (public, 20 req/s per IP) through ccxt `bitget`'s implicit API
 * (`publicMixGetV2MixMarketSymbolPrice`), read from the raw answer so the price stays the
 * venue's exact string: `data[0] = {symbol, price, indexPrice, markPrice, ts}`.
 * Source: https://www.bitget.com/api-doc/contract/market/Get-Symbol-Price
 */
export class BitgetMarkPriceRest {
  private readonly exchange: InstanceType<typeof ccxt.bitget>;

  constructor(o: BitgetMarkPriceRestOptions) {
    const ex = new ccxt.bitget({ enableRateLimit: false, timeout: o.timeoutMs ?? 3_000 });
    // Set one by one: a constructor `options` object would replace ccxt's own.
    Object.assign(ex.options, { defaultType: 'swap', uta: false });
    if (o.mode === 'demo') ex.setSandboxMode(true);
    if (o.mode === 'local') {
      if (!o.restBase) throw new Error('BitgetMarkPriceRest: mode local needs restBase');
      const api = JSON.parse(JSON.stringify(ex.urls['api']).split('{hostname}').join(String(ex.hostname))) as unknown;
      ex.urls['api'] = localApiUrls(api, o.restBase, o.restBase.replace(/^http/, 'ws')) as (typeof ex.urls)['api'];
    }
    this.exchange = ex;
  }

  /**
   * The current mark price of `symbol` (Bitget id, e.g. "BTCUSDT"): `{ts: the venue's ts (ms), price: markPrice}`.
   * @throws MarkPriceUnavailableError (never another error): REQUEST_FAILED or NO_MARK (malformed, no positive mark, ts 0)
   */
  async fetchMarkPrice(symbol: string): Promise<PolledMarkPrice> {
    let raw: unknown;
    try {
      raw = await this.exchange.publicMixGetV2MixMarketSymbolPrice({ symbol, productType: 'USDT-FUTURES' });
    } catch (e) {
      throw new MarkPriceUnavailableError('REQUEST_FAILED', symbol, messageOf(e));
    }
    const data = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>)['data'] : undefined;
    const first = Array.isArray(data) ? data[0] : data;
    const p = (first && typeof first === 'object' && !Array.isArray(first) ? first : {}) as Record<string, unknown>;
    const ts = Number(p['ts']);
    const price = typeof p['markPrice'] === 'string' ? p['markPrice'] : '';
    if (p['symbol'] !== symbol || !Number.isSafeInteger(ts) || ts <= 0 || !PositiveDecimalString.safeParse(price).success) {
      throw new MarkPriceUnavailableError('NO_MARK', symbol, `symbol-price answered ${JSON.stringify(raw).slice(0, 200)}`);
    }
    return { ts, price };
  }

  /** Release the HTTP client (idempotent). */
  async close(): Promise<void> {
    await this.exchange.close();
  }
}
