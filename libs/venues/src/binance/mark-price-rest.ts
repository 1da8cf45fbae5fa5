/**
 * The mark price of one symbol over REST, for stop-monitor's mark-price watchdog: when the
 * mark-price stream is silent, stops are evaluated on polled marks. Deliberately NOT exported
 * from the package barrel: only stop-monitor imports it, by its deep path
 * (`@bulwark/venues/dist/binance/mark-price-rest`).
 */
import * as ccxt from 'ccxt';
import { PositiveDecimalString } from '@bulwark/contracts';
import { messageOf } from './errors';
import { localApiUrls } from './local-urls';

/** A mark price as the venue stated it. */
export interface PolledMarkPrice {
  /** The venue's time of the mark (premiumIndex `time`), ms since epoch. */
  ts: number;
  /** USDT per unit, the venue's decimal string (e.g. "85175.80000000"). */
  price: string;
}

/**
 * The mark price could not be read: the request failed (`REQUEST_FAILED`: network, HTTP or
 * Binance error; the message says which) or the answer carries no usable mark (`NO_MARK`:
 * malformed, no positive price, or time 0 — a local venue whose clock has not moved).
 */
export class MarkPriceUnavailableError extends Error {
  constructor(readonly code: 'REQUEST_FAILED' | 'NO_MARK', readonly symbol: string, message: string) {
    super(`mark price of ${symbol} unavailable (${code}): ${message}`);
    this.name = 'MarkPriceUnavailableError';
  }
}

export interface BinanceMarkPriceRestOptions {
  /** live = fapi.binance.com; demo = Binance demo trading (ccxt `enableDemoTrading`); local = the local venue at `restBase`. */
  mode: 'live' | 'demo' | 'local';
  /** Required for local: http://127.0.0.1:PORT. */
  restBase?: string;
  /** ccxt request timeout, ms (default 3 000: a poll every second must not pile up). */
  timeoutMs?: number;
}

/**
 * Binance USDⓈ-M "Mark Price" `GET /fapi/v1/premiumIndex?symbol=` (weight 1, public, no key)
 * through ccxt `binanceusdm`'s implicit API (`fapiPublicGetPremiumIndex`), read from the raw
 * answer so the price stays the venue's exact string.
 * Source: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price
 */
export class BinanceMarkPriceRest {
  private readonly exchange: InstanceType<typeof ccxt.binanceusdm>;

  constructor(o: BinanceMarkPriceRestOptions) {
    const ex = new ccxt.binanceusdm({ enableRateLimit: false, timeout: o.timeoutMs ?? 3_000 });
    ex.options['fetchCurrencies'] = false;
    if (o.mode === 'demo') ex.enableDemoTrading(true);
    if (o.mode === 'local') {
      if (!o.restBase) throw new Error('BinanceMarkPriceRest: mode local needs restBase');
      ex.urls['api'] = localApiUrls(ex.urls['api'], o.restBase, o.restBase.replace(/^http/, 'ws')) as typeof ex.urls['api'];
    }
    this.exchange = ex;
  }

  /**
   * The current mark price of `symbol` (Binance id, e.g. "BTCUSDT").
   * @throws MarkPriceUnavailableError (never another error)
   */
  async fetchMarkPrice(symbol: string): Promise<PolledMarkPrice> {
    let raw: unknown;
    try {
      raw = await this.exchange.fapiPublicGetPremiumIndex({ symbol });
    } catch (e) {
      throw new MarkPriceUnavailableError('REQUEST_FAILED', symbol, messageOf(e));
    }
    const p = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
    const ts = Number(p['time']);
    const price = typeof p['markPrice'] === 'string' ? p['markPrice'] : '';
    if (p['symbol'] !== symbol || !Number.isSafeInteger(ts) || ts <= 0 || !PositiveDecimalString.safeParse(price).success) {
      throw new MarkPriceUnavailableError('NO_MARK', symbol, `premiumIndex answered ${JSON.stringify(raw).slice(0, 200)}`);
    }
    return { ts, price };
  }

  /** Release the HTTP client (idempotent). */
  async close(): Promise<void> {
    await this.exchange.close();
  }
}
