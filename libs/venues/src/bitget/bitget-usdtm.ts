import * as ccxt from 'ccxt';
import type { InstrumentRules, OrderPurpose, OrderSide, VenueId } from '@bulwark/contracts';
import { dec, err, ok, parseBitgetUsdtmRules, str, ZERO, type D, type PaperAccountView, type PaperFill, type PaperVenueEvent, type Result, type VenueRejection } from '@bulwark/domain';
import type {
  LiveVenuePort,
  ProtectiveOrderRequest,
  VenueAlgoSnapshot,
  VenueOrderRequest,
  VenueOrderSnapshot,
  VenuePositionSnapshot,
  VenueTrade,
} from '../port';
import { messageOf, redact, toVenueFailure, type VenueCodes, type VenueFailure } from '../binance/errors';
import { localApiUrls } from '../binance/local-urls';
import { RateBudget, systemClock, type BudgetAlert, type Clock, type RequestCost } from '../binance/rate-budget';
import { DEFAULT_RETRY, type RetryPolicy } from '../binance/retry';
import { VenueCallError, VenueRequests, type VenueErrorDialect } from '../binance/requests';
import { bitgetRejection, classifyBitgetError, parseBitgetError } from './errors';

/** The ccxt.pro exchange class the adapter drives (REST + the private websocket). */
type Ex = InstanceType<typeof ccxt.pro.bitget>;
type Raw = Record<string, unknown>;

/**
 * Bitget's error dialect for the shared request machinery: `{"code":"40762","msg":…}` found in
 * the body or ccxt's message, classified by the Bitget table (./errors `classifyBitgetError`),
 * answered as the domain rejection (`bitgetRejection`: '-2019' for 40762, … — the Bitget code
 * kept in the message; `BITGET_<code>` where the domain has no such idea). Transport failures
 * (HTTP 429/5xx, timeouts) keep the shared transport codes (HTTP_503, TIMEOUT, …).
 */
export const BITGET_CODES: VenueCodes = { parse: parseBitgetError, classify: classifyBitgetError, rejection: bitgetRejection };
export const BITGET_ERRORS: VenueErrorDialect = { toFailure: (e, resp, secrets) => toVenueFailure(e, resp, secrets, BITGET_CODES), classify: classifyBitgetError };

/** Bitget's product type and margin coin for USDT-margined perpetual futures. */
export const BITGET_PRODUCT_TYPE = 'USDT-FUTURES';
export const BITGET_MARGIN_COIN = 'USDT';

/**
 * Bitget's request limits as the shared `RateBudget` counts them. Bitget limits each endpoint
 * per second and UID (Place Order 10/s, Batch Order 5/s, Cancel Order 10/s, most queries
 * 10–20/s; https://www.bitget.com/api-doc/contract/trade/Place-Order, …/Batch-Order) and every
 * IP to 6 000 requests a minute (https://www.bitget.com/api-doc/common/intro). Counted here:
 * weight 1 a request against the IP minute, orders 10/s as 100 per 10 s and 600 a minute.
 * The 10-s window lets a burst above 10/s through; Bitget then answers 429, which pauses the
 * budget (Retry-After) like Binance's.
 */
export const BITGET_USDTM_LIMITS = {
  weightPer1m: 6000,
  ordersPer10s: 100,
  ordersPer1m: 600,
  venue: 'Bitget',
  source: 'https://www.bitget.com/api-doc/common/intro',
} as const;

/** Request costs of the endpoints the adapter calls (one request each; orders count on the order windows). */
export const BITGET_ENDPOINT_COST = {
  markets: { weight: 6, orders: 0 },
  read: { weight: 1, orders: 0 },
  setting: { weight: 1, orders: 0 },
  order: { weight: 1, orders: 1 },
  cancel: { weight: 1, orders: 0 },
  time: { weight: 1, orders: 0 },
} as const satisfies Record<string, RequestCost>;

/**
 * Time in force of a Bitget limit order (`force`): GTC, post-only (PO or the port's Binance
 * spelling GTX = `post_only`), IOC, FOK.
 */
export type BitgetTimeInForce = 'GTC' | 'PO' | 'GTX' | 'IOC' | 'FOK';

/** An order for Bitget: the port's order, whose limit time in force may also say PO (default GTC). */
export type BitgetOrderRequest = Omit<VenueOrderRequest, 'timeInForce'> & { timeInForce?: BitgetTimeInForce };

/** Alerts the adapter raises (never containing credentials). */
export type BitgetVenueAlert = BudgetAlert | { kind: 'USER_DATA_STREAM'; message: string };

export interface BitgetUsdtmVenueOptions {
  /** The Bulwark account these keys trade; calls for any other account are refused. */
  accountId: string;
  apiKey: string;
  apiSecret: string;
  /** The API key's passphrase (Bitget's ACCESS-PASSPHRASE; ccxt `password`). */
  passphrase: string;
  /** live = api.bitget.com; demo = Bitget demo trading (ccxt `setSandboxMode(true)`: header `paptrading: 1`, ws wspap.bitget.com); local = the local venue. */
  mode: 'live' | 'demo' | 'local';
  /** Required for local: http://127.0.0.1:PORT. */
  restBase?: string;
  /** Required for local: ws://127.0.0.1:PORT. */
  wsBase?: string;
  clock?: Clock;
  random?: () => number;
  onAlert?: (a: BitgetVenueAlert) => void;
  /** Highest leverage this adapter will ever set (default 20). */
  leverageCap?: number;
  /** A budget shared with other adapters of the same account/IP (default: a new one on BITGET_USDTM_LIMITS). */
  budget?: RateBudget;
  retry?: RetryPolicy;
  /** ccxt request timeout, ms (default 10 000). */
  timeoutMs?: number;
  /** The symbol whose account settings answer `positionMode` (Bitget reports posMode per account and symbol; default BTCUSDT). */
  probeSymbol?: string;
  /** Diagnostic lines, already redacted. */
  log?: (line: string) => void;
}

const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const dOr = (v: unknown, fallback: D = ZERO): D => (v === undefined || v === null || v === '' ? fallback : dec(String(v)));
const dOrNull = (v: unknown): D | null => (v === undefined || v === null || v === '' || dec(String(v)).isZero() ? null : dec(String(v)));
const upperSide = (v: unknown): OrderSide => (s(v).toLowerCase() === 'sell' ? 'SELL' : 'BUY');
const list = (data: unknown, ...keys: string[]): Raw[] => {
  if (Array.isArray(data)) return data as Raw[];
  if (data && typeof data === 'object') for (const k of keys) if (Array.isArray((data as Raw)[k])) return (data as Raw)[k] as Raw[];
  return [];
};
const dataOf = (response: unknown): unknown => (response && typeof response === 'object' ? (response as Raw)['data'] : undefined);

/** Bulwark symbol (Binance-style, `BTCUSDT`) → ccxt's unified Bitget USDT-M perpetual (`BTC/USDT:USDT`). */
export function bitgetUnifiedSymbol(symbol: string): string {
  const m = /^([A-Z0-9]+?)USDT$/.exec(symbol);
  if (!m) throw new VenueCallError(bitgetRejection('40102', `Symbol does not exist: ${symbol} is not a USDT-M perpetual`));
  return `${m[1]}/USDT:USDT`;
}

/** ccxt's unified symbol (`BTC/USDT:USDT`) → Bulwark's (`BTCUSDT`, Bitget's own id for the v2 mix API). */
export function bulwarkSymbol(unified: string): string {
  const m = /^([A-Z0-9]+)\/USDT:USDT$/.exec(unified);
  if (!m) throw new Error(`not a USDT-M perpetual: ${unified}`);
  return `${m[1]}USDT`;
}

/**
 * Bitget order state → the port's status. Sources: Get Order Detail `state` and Get Pending
 * Orders `status` (https://www.bitget.com/api-doc/contract/trade/Get-Order-Details): live (new,
 * resting), partially_filled, filled, canceled. An IOC or FOK order that ends canceled ended by
 * its time in force, as Binance reports EXPIRED; never NEW. A post-only order Bitget refuses
 * because it would take is canceled at once with no fill: EXPIRED too (Binance GTX).
 */
export function bitgetOrderStatus(state: string, force: string, filled: D, cancelReason = ''): VenueOrderSnapshot['status'] {
  const st = state.toLowerCase();
  const f = force.toLowerCase();
  if (st === 'live' || st === 'new' || st === 'init' || st === 'not_trigger') return 'NEW';
  if (st === 'partially_filled' || st === 'partial-fill') return 'PARTIALLY_FILLED';
  if (st === 'filled' || st === 'full-fill') return 'FILLED';
  if (st === 'canceled' || st === 'cancelled') {
    if (f === 'ioc' || f === 'fok') return 'EXPIRED';
    if (f === 'post_only' && filled.isZero() && /post.?only|maker|would.*(take|match)/i.test(cancelReason)) return 'EXPIRED';
    return 'CANCELED';
  }
  if (st === 'expired') return 'EXPIRED';
  return 'REJECTED';
}

/**
 * Bitget plan (TP/SL) order state → Binance's algoStatus vocabulary (VenueAlgoSnapshot.status).
 * Sources: Get Pending Trigger Orders / Get History Trigger Orders `planStatus`
 * (https://www.bitget.com/api-doc/contract/plan/get-orders-plan-pending,
 * https://www.bitget.com/api-doc/contract/plan/orders-plan-history): live / not_trigger → NEW,
 * triggered / executing → TRIGGERED, executed → FINISHED, fail_trigger / fail_execute →
 * REJECTED, cancelled → CANCELED.
 */
export function bitgetPlanStatus(planStatus: string): string {
  switch (planStatus.toLowerCase()) {
    case 'live':
    case 'not_trigger':
      return 'NEW';
    case 'triggered':
    case 'executing':
      return 'TRIGGERED';
    case 'executed':
      return 'FINISHED';
    case 'fail_trigger':
    case 'fail_execute':
      return 'REJECTED';
    case 'cancelled':
    case 'canceled':
      return 'CANCELED';
    default:
      return planStatus.toUpperCase();
  }
}

const TERMINAL_ALGO = new Set(['CANCELED', 'FINISHED', 'REJECTED', 'EXPIRED', 'TRIGGERED']);

/**
 * A raw Bitget order (Get Order Detail `data`, or an entry of orders-pending / orders-history
 * `entrustedList`) → snapshot; decimals from Bitget's strings: `size` (base), `baseVolume`
 * (filled base), `priceAvg`, `reduceOnly` YES/NO, `cTime`/`uTime` (ms).
 * https://www.bitget.com/api-doc/contract/trade/Get-Order-Details
 */
export function bitgetOrderSnapshot(o: Raw): VenueOrderSnapshot {
  const executed = dOr(o['baseVolume']);
  return {
    clientOrderId: s(o['clientOid']),
    venueOrderId: s(o['orderId']),
    symbol: s(o['symbol']).toUpperCase(),
    side: upperSide(o['side']),
    type: s(o['orderType']).toUpperCase(),
    status: bitgetOrderStatus(s(o['state'] ?? o['status']), s(o['force']), executed, s(o['cancelReason'])),
    quantity: dOr(o['size']),
    executedQty: executed,
    avgPrice: dOr(o['priceAvg']),
    reduceOnly: s(o['reduceOnly']).toUpperCase() === 'YES' || o['reduceOnly'] === true,
    updateTime: Number(o['uTime'] ?? o['cTime'] ?? 0),
  };
}

/**
 * A raw Bitget plan order (an `entrustedList` entry of orders-plan-pending / orders-plan-history,
 * planType profit_loss) → snapshot. pos_loss / loss_plan → STOP_MARKET, pos_profit /
 * profit_plan → TAKE_PROFIT_MARKET; `triggerType` mark_price → MARK_PRICE, fill_price →
 * CONTRACT_PRICE. A position TP/SL (pos_*) closes the whole position: closePosition true, its
 * quantity the size Bitget reports (null when it reports none). TP/SL orders only ever reduce.
 * The closing side: Bitget reports `side` as the closing side; where it reports the position's
 * side instead (`posSide`/`holdSide` long|buy with side buy), the opposite is taken.
 */
export function bitgetPlanSnapshot(a: Raw): VenueAlgoSnapshot {
  const planType = s(a['planType']);
  const position = planType === 'pos_loss' || planType === 'pos_profit';
  const size = dOrNull(a['size']);
  const trigger = s(a['triggerType']).toLowerCase();
  const actual = s(a['executeOrderId'] ?? a['orderIdOfExecute']);
  return {
    clientAlgoId: s(a['clientOid']),
    algoId: s(a['orderId']),
    symbol: s(a['symbol']).toUpperCase(),
    side: planSide(a),
    type: planType.includes('loss') ? 'STOP_MARKET' : 'TAKE_PROFIT_MARKET',
    triggerPrice: dOr(a['triggerPrice']),
    quantity: size,
    closePosition: position,
    reduceOnly: true,
    status: bitgetPlanStatus(s(a['planStatus'] ?? a['status'])),
    actualOrderId: actual === '' ? null : actual,
    ...(trigger ? { workingType: trigger === 'mark_price' ? 'MARK_PRICE' : 'CONTRACT_PRICE' } : {}),
  };
}

function planSide(a: Raw): OrderSide {
  const side = s(a['side']).toLowerCase();
  const hold = s(a['holdSide'] ?? a['posSide']).toLowerCase();
  // One-way TP/SL: holdSide names the position (buy = long); the order closes it.
  if (hold === 'buy' || hold === 'long') return 'SELL';
  if (hold === 'sell' || hold === 'short') return 'BUY';
  return side === 'sell' ? 'SELL' : 'BUY';
}

/**
 * A raw Bitget fill (Get Order Fill Details `fillList` entry,
 * https://www.bitget.com/api-doc/contract/trade/Get-Order-Fills) → trade. `feeDetail[].totalFee`
 * is negative for a fee paid; the trade's fee is the commission (positive when paid), as Binance's.
 * `profit` is the realised PnL gross of fees; `tradeScope` maker|taker.
 */
export function bitgetTrade(t: Raw, clientOrderId: string | null): VenueTrade {
  const details = Array.isArray(t['feeDetail']) ? (t['feeDetail'] as Raw[]) : [];
  const fee = details.reduce((a, f) => a.plus(dOr(f['totalFee'])), ZERO).neg();
  return {
    tradeId: s(t['tradeId']),
    venueOrderId: s(t['orderId']),
    clientOrderId,
    symbol: s(t['symbol']).toUpperCase(),
    side: upperSide(t['side']),
    price: dOr(t['price']),
    quantity: dOr(t['baseVolume']),
    fee: fee.isZero() ? ZERO : fee,
    feeAsset: s(details[0]?.['feeCoin']) || BITGET_MARGIN_COIN,
    realisedPnl: dOr(t['profit']),
    maker: s(t['tradeScope']).toLowerCase() === 'maker',
    ts: Number(t['cTime'] ?? 0),
  };
}

/**
 * `LiveVenuePort` on Bitget USDT-M perpetual futures (productType USDT-FUTURES, margin coin
 * USDT, a classic account — ccxt option `uta: false`) through ccxt 4.5.84 `bitget` (REST, v2
 * mix API) and ccxt.pro (the private websocket). One instance trades one account.
 *
 * - Symbols are Bulwark's (Binance-style `BTCUSDT`, which is also Bitget's v2 symbol id);
 *   ccxt is called with `BTC/USDT:USDT`.
 * - Decimals are exact: every number is read from Bitget's raw strings (the implicit-API
 *   answers or ccxt's `info`), never from ccxt's float fields; quantities and prices are
 *   sent from the domain's strings.
 * - Every request goes through the account's `RateBudget` and the retry policy
 *   (`VenueRequests`, shared with the Binance adapters), with Bitget's error dialect
 *   (./errors): 40008 "Request timestamp expired" → clock resync and one retry; 429 → wait.
 * - Writes whose outcome is unknown (timeout, 5xx) are resolved by querying by client order
 *   id (`clientOid`) first; the same clientOid is re-sent only when Bitget says the order
 *   does not exist. Never a blind second order.
 * - Messages never contain the API key, the secret, the passphrase or a signature.
 */
export class BitgetUsdtmVenue implements LiveVenuePort {
  readonly venue: VenueId = 'bitget-usdtm';
  readonly accountId: string;
  /** The ccxt.pro exchange (exposed for tests and diagnostics only). */
  readonly exchange: Ex;
  readonly budget: RateBudget;
  protected readonly mode: 'live' | 'demo' | 'local';
  protected readonly clock: Clock;
  protected readonly leverageCap: number;
  private readonly secrets: string[];
  private readonly onAlert: (a: BitgetVenueAlert) => void;
  protected readonly logLine: (line: string) => void;
  private readonly requests: VenueRequests<Ex>;
  private readonly probeSymbol: string;
  private marketsLoaded = false;
  private knownMode: 'ONE_WAY' | 'HEDGE' | null = null;
  /** symbol → leverage this adapter set. */
  protected readonly leverageBySymbol = new Map<string, number>();
  /** clientOrderId → what Bulwark placed (purpose, symbol). */
  protected readonly placed = new Map<string, { symbol: string; purpose: OrderPurpose }>();
  /** venueOrderId → clientOrderId (fills carry only the order id). */
  protected readonly clientIdOf = new Map<string, string>();
  /** Open orders and plan orders by client id, and signed position quantities, as far as this adapter has seen. */
  protected readonly openOrderIds = new Set<string>();
  protected readonly openAlgoIds = new Set<string>();
  protected readonly positionQty = new Map<string, D>();
  private readonly listeners = new Set<(m: Raw) => void>();
  private userStream: Promise<void> | null = null;
  protected closed = false;

  constructor(o: BitgetUsdtmVenueOptions) {
    this.accountId = o.accountId;
    this.mode = o.mode;
    this.clock = o.clock ?? systemClock;
    this.leverageCap = o.leverageCap ?? 20;
    this.probeSymbol = o.probeSymbol ?? 'BTCUSDT';
    this.secrets = [o.apiKey, o.apiSecret, o.passphrase];
    Object.defineProperty(this, 'secrets', { enumerable: false });
    this.onAlert = (a) => (o.onAlert ?? (() => undefined))({ ...a, message: redact(a.message, this.secrets) });
    this.logLine = (line) => o.log?.(redact(line, this.secrets));
    this.budget = o.budget ?? new RateBudget(this.clock, (a) => this.onAlert(a), BITGET_USDTM_LIMITS);
    const ex = new ccxt.pro.bitget({
      apiKey: o.apiKey,
      secret: o.apiSecret,
      password: o.passphrase,
      enableRateLimit: false,
      timeout: o.timeoutMs ?? 10_000,
    });
    // Set after construction, key by key: an `options` object given to the constructor can replace
    // ccxt's bitget defaults instead of merging into them (e.g. under Jest, whose objects come from
    // another realm), losing `timeDifference` so every signed call would carry ACCESS-TIMESTAMP NaN.
    Object.assign(ex.options, { defaultType: 'swap', defaultSubType: 'linear', fetchMarkets: { types: ['swap'] }, uta: false });
    // Spot coin lists (GET /api/v2/spot/public/coins): not needed for USDT-M futures, absent on the local venue.
    ex.has['fetchCurrencies'] = false;
    if (o.mode === 'demo') ex.setSandboxMode(true);
    if (o.mode === 'local') {
      if (!o.restBase || !o.wsBase) throw new Error('BitgetUsdtmVenue: mode local needs restBase and wsBase');
      // ccxt's hosts are templates (https://api.{hostname}); resolve them, then point every one at the local venue.
      const api = JSON.parse(JSON.stringify(ex.urls['api']).split('{hostname}').join(String(ex.hostname))) as unknown;
      ex.urls['api'] = localApiUrls(api, o.restBase, o.wsBase) as (typeof ex.urls)['api'];
    }
    this.requests = new VenueRequests<Ex>({
      venue: this.venue,
      label: `bitget ${this.accountId}`,
      budget: this.budget,
      clock: this.clock,
      random: o.random ?? Math.random,
      retryPolicy: o.retry ?? DEFAULT_RETRY,
      secrets: this.secrets,
      log: this.logLine,
      timeCost: BITGET_ENDPOINT_COST.time,
      honourRetryAfter: true,
      errors: BITGET_ERRORS,
    });
    this.requests.attach(ex);
    // Tap the raw private-channel messages (orders, fill, orders-algo); ccxt.pro keeps handling them.
    const onMessage = ex.handleMessage.bind(ex);
    ex.handleMessage = (client: Parameters<Ex['handleMessage']>[0], message: unknown) => {
      if (message && typeof message === 'object' && !Array.isArray(message) && (message as Raw)['arg'] && Array.isArray((message as Raw)['data'])) this.onPrivateMessage(message as Raw);
      return onMessage(client, message);
    };
    this.exchange = ex;
  }

  // ---------------------------------------------------------------- request machinery

  protected call<T>(kind: 'read' | 'write', cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<Result<T, VenueFailure>> {
    return this.requests.call(kind, cost, fn);
  }

  protected read<T>(cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<T> {
    return this.requests.read(cost, fn);
  }

  /** Bitget's USDT-M contracts (GET /api/v2/mix/market/contracts for each product type ccxt loads; only swap markets). */
  protected async ensureMarkets(): Promise<void> {
    if (this.marketsLoaded) return;
    await this.read(BITGET_ENDPOINT_COST.markets, (ex) => ex.loadMarkets());
    this.marketsLoaded = true;
  }

  /** ccxt's symbol for a Bulwark symbol, checked against the loaded markets (40034 when Bitget lists no such contract). */
  protected unified(symbol: string): string {
    const u = bitgetUnifiedSymbol(symbol);
    if (this.marketsLoaded && !this.exchange.markets?.[u]) throw new VenueCallError(bitgetRejection('40102', `Symbol does not exist: ${symbol}`));
    return u;
  }

  /** The v2 mix request fields every account endpoint takes. */
  protected mix(symbol?: string): Raw {
    return { ...(symbol ? { symbol } : {}), productType: BITGET_PRODUCT_TYPE, marginCoin: BITGET_MARGIN_COIN };
  }

  protected mine(accountId: string): Result<true, VenueRejection> {
    return accountId === this.accountId ? ok(true) : err(bitgetRejection('40037', `this adapter trades account ${this.accountId} only (asked for ${accountId})`));
  }

  private async guard<T>(fn: () => Promise<Result<T, VenueRejection>>): Promise<Result<T, VenueRejection>> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof VenueCallError) return err(e.rejection);
      throw e;
    }
  }

  // ---------------------------------------------------------------- market and account setup

  /**
   * The account's settings for a symbol: `GET /api/v2/mix/account/account` (ccxt implicit
   * `privateMixGetV2MixAccountAccount`): marginMode isolated|crossed, posMode
   * one_way_mode|hedge_mode, isolatedLongLever / isolatedShortLever / crossedMarginLeverage.
   * https://www.bitget.com/api-doc/contract/account/Get-Single-Account
   */
  async accountSettings(symbol: string): Promise<{ marginMode: 'isolated' | 'cross'; posMode: 'ONE_WAY' | 'HEDGE'; isolatedLongLeverage: number; isolatedShortLeverage: number; crossLeverage: number }> {
    await this.ensureMarkets();
    const raw = dataOf(await this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixAccountAccount(this.mix(symbol)))) as Raw;
    return {
      marginMode: s(raw?.['marginMode']) === 'crossed' ? 'cross' : 'isolated',
      posMode: s(raw?.['posMode']) === 'hedge_mode' ? 'HEDGE' : 'ONE_WAY',
      isolatedLongLeverage: Number(s(raw?.['isolatedLongLever']) || '0'),
      isolatedShortLeverage: Number(s(raw?.['isolatedShortLever']) || '0'),
      crossLeverage: Number(s(raw?.['crossedMarginLeverage']) || '0'),
    };
  }

  /**
   * One-way mode: ccxt `setPositionMode(false)` → `POST /api/v2/mix/account/set-position-mode`
   * posMode one_way_mode (https://www.bitget.com/api-doc/contract/account/Change-Hold-Mode).
   * Read first: already one-way = UNCHANGED (Bitget answers success either way).
   */
  async setOneWayMode(accountId: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    return this.guard(async () => {
      if ((await this.positionMode(accountId)) === 'ONE_WAY') return ok('UNCHANGED');
      const r = await this.call('write', BITGET_ENDPOINT_COST.setting, (ex) => ex.setPositionMode(false, undefined, { productType: BITGET_PRODUCT_TYPE }));
      if (!r.ok) return err(r.error.rejection);
      this.knownMode = 'ONE_WAY';
      return ok('CHANGED');
    });
  }

  /**
   * Isolated margin: ccxt `setMarginMode('isolated', sym)` → `POST /api/v2/mix/account/set-margin-mode`
   * (https://www.bitget.com/api-doc/contract/account/Change-Margin-Mode); UNCHANGED when the
   * account settings already say isolated. 45117 with a position or open orders.
   */
  async setIsolatedMargin(accountId: string, symbol: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    return this.guard(async () => {
      if ((await this.accountSettings(symbol)).marginMode === 'isolated') return ok('UNCHANGED');
      const sym = this.unified(symbol);
      const r = await this.call('write', BITGET_ENDPOINT_COST.setting, (ex) => ex.setMarginMode('isolated', sym));
      return r.ok ? ok('CHANGED') : err(r.error.rejection);
    });
  }

  /**
   * ccxt `setLeverage(leverage, sym)` → `POST /api/v2/mix/account/set-leverage` (one-way
   * isolated: no holdSide; https://www.bitget.com/api-doc/contract/account/Change-Leverage),
   * then read back (`accountSettings`: isolatedLongLever and isolatedShortLever must both say
   * it, else LEVERAGE_MISMATCH). maxNotional: the highest `endUnit` (USDT notional) among the
   * position tiers allowing this leverage (`GET /api/v2/mix/market/query-position-lever`,
   * ccxt `publicMixGetV2MixMarketQueryPositionLever`,
   * https://www.bitget.com/api-doc/contract/position/Get-Query-Position-Lever). The adapter's
   * cap is enforced before any call (LEVERAGE_CAP).
   */
  async setLeverage(accountId: string, symbol: string, leverage: number): Promise<Result<{ leverage: number; maxNotional: D }, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    if (!Number.isInteger(leverage) || leverage < 1 || leverage > this.leverageCap) {
      return err({ code: 'LEVERAGE_CAP', message: `leverage ${leverage} refused: this adapter's cap is ${this.leverageCap}` });
    }
    return this.guard(async () => {
      await this.ensureMarkets();
      const sym = this.unified(symbol);
      const r = await this.call('write', BITGET_ENDPOINT_COST.setting, (ex) => ex.setLeverage(leverage, sym));
      if (!r.ok) return err(r.error.rejection);
      const back = await this.accountSettings(symbol);
      if (back.isolatedLongLeverage !== leverage || back.isolatedShortLeverage !== leverage) {
        return err({ code: 'LEVERAGE_MISMATCH', message: `leverage ${leverage} set but read back as long ${back.isolatedLongLeverage} / short ${back.isolatedShortLeverage}` });
      }
      this.leverageBySymbol.set(symbol, leverage);
      return ok({ leverage, maxNotional: await this.maxNotional(symbol, leverage) });
    });
  }

  /**
   * The symbol's rules from the venue: its contract entry (`GET /api/v2/mix/market/contracts`,
   * as ccxt loaded the markets; fees from it) and its position tiers
   * (`GET /api/v2/mix/market/query-position-lever`), parsed by `parseBitgetUsdtmRules`.
   * @throws RulesParseError on an answer that is not rules
   */
  async instrumentRules(symbol: string): Promise<{ contract: InstrumentRules; source: string }> {
    await this.ensureMarkets();
    const info = (this.exchange.markets?.[this.unified(symbol)] as { info: unknown } | undefined)?.info;
    const tiers = await this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.publicMixGetV2MixMarketQueryPositionLever({ symbol, productType: BITGET_PRODUCT_TYPE }));
    const contract = parseBitgetUsdtmRules({ contract: info, positionTiers: tiers, symbol });
    return { contract, source: `${this.venue} GET /api/v2/mix/market/contracts + GET /api/v2/mix/market/query-position-lever (ccxt)` };
  }

  /** The largest notional (USDT) Bitget's position tiers allow at this leverage; ZERO when no tier does. */
  async maxNotional(symbol: string, leverage: number): Promise<D> {
    const raw = await this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.publicMixGetV2MixMarketQueryPositionLever({ symbol, productType: BITGET_PRODUCT_TYPE }));
    let max = ZERO;
    for (const t of list(dataOf(raw))) if (Number(s(t['leverage'])) >= leverage && dOr(t['endUnit']).gt(max)) max = dOr(t['endUnit']);
    return max;
  }

  /** posMode of the account settings (`accountSettings` of the probe symbol). */
  async positionMode(accountId: string): Promise<'ONE_WAY' | 'HEDGE'> {
    if (!this.mine(accountId).ok) throw new VenueCallError(bitgetRejection('40037', `unknown account ${accountId}`));
    this.knownMode = (await this.accountSettings(this.probeSymbol)).posMode;
    return this.knownMode;
  }

  /** Before an order: markets loaded, and the account known to be in one-way mode (else 40774, nothing sent). */
  protected async readyToTrade(accountId: string): Promise<Result<void, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    return this.guard(async () => {
      await this.ensureMarkets();
      const mode = this.knownMode ?? (await this.positionMode(accountId));
      if (mode === 'HEDGE') return err(bitgetRejection('40774', 'refused: the account is in hedge mode; Bulwark trades in one-way mode only'));
      return ok(undefined);
    });
  }

  // ---------------------------------------------------------------- orders

  /** ccxt createOrder params for one Bulwark order (isolated, one-way, clientOid, reduce-only, time in force). */
  private orderParams(o: BitgetOrderRequest): Raw {
    const params: Raw = { clientOid: o.clientOrderId, marginMode: 'isolated', oneWayMode: true };
    if (o.reduceOnly) params['reduceOnly'] = true;
    if (o.type === 'LIMIT') {
      const tif = o.timeInForce ?? 'GTC';
      if (tif === 'PO' || tif === 'GTX') params['postOnly'] = true;
      else params['timeInForce'] = tif;
    }
    if (this.mode === 'local' && o.type === 'MARKET' && o.triggerPrice) params['bulwarkTriggerPrice'] = str(o.triggerPrice);
    return params;
  }

  /**
   * ccxt createOrder → `POST /api/v2/mix/order/place-order`
   * (https://www.bitget.com/api-doc/contract/trade/Place-Order): marginMode isolated, size and
   * price from the domain's strings, `clientOid` = the client order id, reduceOnly YES, `force`
   * GTC | post_only | IOC | FOK for a limit order (`timeInForce`, default GTC). Refused with 40774
   * in hedge mode. Local mode only: a MARKET order with a triggerPrice carries
   * `bulwarkTriggerPrice`. Outcome unknown → query by clientOid first (see class doc).
   */
  async placeOrder(accountId: string, o: BitgetOrderRequest): Promise<Result<{ venueOrderId: string }, VenueRejection>> {
    const ready = await this.readyToTrade(accountId);
    if (!ready.ok) return ready;
    let sym: string;
    try {
      sym = this.unified(o.symbol);
    } catch (e) {
      if (e instanceof VenueCallError) return err(e.rejection);
      throw e;
    }
    const params = this.orderParams(o);
    this.placed.set(o.clientOrderId, { symbol: o.symbol, purpose: o.purpose });
    const place = async (): Promise<Result<{ venueOrderId: string }, VenueFailure>> => {
      const r = await this.call('write', BITGET_ENDPOINT_COST.order, (ex) =>
        ex.createOrder(sym, o.type === 'LIMIT' ? 'limit' : 'market', o.side === 'BUY' ? 'buy' : 'sell', Number(str(o.quantity)), o.price ? Number(str(o.price)) : undefined, params),
      );
      if (!r.ok) return r;
      const info = (r.value.info ?? {}) as Raw;
      return ok({ venueOrderId: s(info['orderId'] ?? r.value.id) });
    };
    const query = async (): Promise<Result<{ venueOrderId: string } | null, VenueFailure>> => {
      const q = await this.queryOrder(o.symbol, o.clientOrderId);
      return q.ok ? ok(q.value ? { venueOrderId: q.value.venueOrderId } : null) : q;
    };
    const r = await this.requests.placeResolvingUnknown(place, query);
    if (r.ok) {
      this.openOrderIds.add(o.clientOrderId);
      this.clientIdOf.set(r.value.venueOrderId, o.clientOrderId);
    }
    return r;
  }

  /**
   * Several orders of one symbol in one request: `POST /api/v2/mix/order/batch-place-order`
   * (ccxt implicit `privateMixPostV2MixOrderBatchPlaceOrder`, each entry built by ccxt's
   * createOrderRequest as createOrders does; Bitget refuses more than 20 a batch with 40306;
   * 5 requests/s; https://www.bitget.com/api-doc/contract/trade/Batch-Order). Answers one result per order,
   * in the order given: Bitget's successList / failureList matched by clientOid (a failure
   * carries Bitget's errorCode and errorMsg). A batch whose request fails answers that
   * rejection for every order.
   */
  async batchPlaceOrders(accountId: string, orders: BitgetOrderRequest[]): Promise<Array<Result<{ venueOrderId: string }, VenueRejection>>> {
    if (orders.length === 0) return [];
    const ready = await this.readyToTrade(accountId);
    if (!ready.ok) return orders.map(() => ready);
    const symbols = new Set(orders.map((o) => o.symbol));
    if (symbols.size !== 1) return orders.map(() => err(bitgetRejection('40017', 'Parameter verification failed symbol: a batch holds orders of one symbol')));
    const sym = this.unified(orders[0].symbol);
    for (const o of orders) this.placed.set(o.clientOrderId, { symbol: o.symbol, purpose: o.purpose });
    const cost = { weight: 1, orders: orders.length };
    // ccxt's createOrders builds each entry with createOrderRequest and sends batch-place-order,
    // but its parsed answer drops the failureList entries: the same request, sent through the
    // implicit endpoint, so every order's outcome (Bitget's errorCode) is read from the raw answer.
    const r = await this.call('write', cost, (ex) => {
      const orderList = orders.map((o) =>
        ex.createOrderRequest(sym, o.type === 'LIMIT' ? 'limit' : 'market', o.side === 'BUY' ? 'buy' : 'sell', Number(str(o.quantity)), o.price ? Number(str(o.price)) : undefined, this.orderParams(o)),
      );
      return ex.privateMixPostV2MixOrderBatchPlaceOrder({ symbol: orders[0].symbol, productType: BITGET_PRODUCT_TYPE, marginCoin: BITGET_MARGIN_COIN, marginMode: 'isolated', orderList });
    });
    if (!r.ok) return orders.map(() => err(r.error.rejection));
    const d = dataOf(r.value) as Raw | undefined;
    const byClient = new Map<string, Raw>();
    for (const x of [...list(d, 'successList'), ...list(d, 'failureList')]) byClient.set(s(x['clientOid']), x);
    return orders.map((o) => {
      const info = byClient.get(o.clientOrderId);
      if (!info) return err({ code: 'OUTCOME_UNKNOWN', message: `batch answer does not list ${o.clientOrderId}; query it by client order id` });
      if (info['errorCode'] !== undefined && info['errorCode'] !== null && s(info['errorCode']) !== '' && s(info['errorCode']) !== '00000') {
        return err(bitgetRejection(s(info['errorCode']), this.redact(s(info['errorMsg']))));
      }
      this.openOrderIds.add(o.clientOrderId);
      this.clientIdOf.set(s(info['orderId']), o.clientOrderId);
      return ok({ venueOrderId: s(info['orderId']) });
    });
  }

  /** `GET /api/v2/mix/order/detail` by clientOid (ccxt `privateMixGetV2MixOrderDetail`); Bitget's "order does not exist" → null. */
  protected async queryOrder(symbol: string, clientOrderId: string): Promise<Result<VenueOrderSnapshot | null, VenueFailure>> {
    const r = await this.call('read', BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixOrderDetail({ symbol, productType: BITGET_PRODUCT_TYPE, clientOid: clientOrderId }));
    if (r.ok) {
      const d = dataOf(r.value);
      const o = Array.isArray(d) ? (d[0] as Raw | undefined) : (d as Raw | undefined);
      return ok(o && s(o['orderId']) ? bitgetOrderSnapshot(o) : null);
    }
    if (r.error.class.reason === 'UNKNOWN_ORDER') return ok(null);
    return r;
  }

  /** The symbol an order was placed with, else found among the open orders. */
  private async symbolOf(clientOrderId: string): Promise<string | null> {
    const known = this.placed.get(clientOrderId)?.symbol;
    if (known) return known;
    const raw = await this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixOrderOrdersPending({ productType: BITGET_PRODUCT_TYPE }));
    const o = list(dataOf(raw), 'entrustedList').find((x) => s(x['clientOid']) === clientOrderId);
    return o ? s(o['symbol']).toUpperCase() : null;
  }

  /**
   * ccxt cancelOrder with `clientOid` → `POST /api/v2/mix/order/cancel-order`
   * (https://www.bitget.com/api-doc/contract/trade/Cancel-Order). Unknown outcome or "no order
   * to cancel" → the order is queried: CANCELED or EXPIRED counts as done.
   */
  async cancelOrder(accountId: string, clientOrderId: string): Promise<Result<{ venueOrderId: string }, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    return this.guard(async () => {
      await this.ensureMarkets();
      const symbol = await this.symbolOf(clientOrderId);
      if (!symbol) return err(bitgetRejection('40768', 'Order does not exist'));
      const sym = this.unified(symbol);
      const r = await this.call('write', BITGET_ENDPOINT_COST.cancel, (ex) => ex.cancelOrder('', sym, { clientOid: clientOrderId }));
      if (r.ok) {
        this.openOrderIds.delete(clientOrderId);
        const info = (r.value.info ?? {}) as Raw;
        return ok({ venueOrderId: s(info['orderId'] ?? r.value.id) });
      }
      if (r.error.class.outcomeUnknown || r.error.class.reason === 'UNKNOWN_ORDER') {
        const q = await this.queryOrder(symbol, clientOrderId);
        if (q.ok && q.value && (q.value.status === 'CANCELED' || q.value.status === 'EXPIRED')) {
          this.openOrderIds.delete(clientOrderId);
          return ok({ venueOrderId: q.value.venueOrderId });
        }
      }
      return err(r.error.rejection);
    });
  }

  /**
   * Cancel several orders of a symbol by client order id in one request:
   * `POST /api/v2/mix/order/batch-cancel-orders` with orderIdList [{clientOid}] (ccxt implicit
   * `privateMixPostV2MixOrderBatchCancelOrders`: ccxt's cancelOrders sends order ids only;
   * https://www.bitget.com/api-doc/contract/trade/Batch-Cancel-Orders). One result per client id.
   */
  async batchCancelOrders(accountId: string, symbol: string, clientOrderIds: string[]): Promise<Array<Result<{ venueOrderId: string }, VenueRejection>>> {
    if (clientOrderIds.length === 0) return [];
    const m = this.mine(accountId);
    if (!m.ok) return clientOrderIds.map(() => m);
    const r = await this.call('write', BITGET_ENDPOINT_COST.cancel, (ex) =>
      ex.privateMixPostV2MixOrderBatchCancelOrders({ ...this.mix(symbol), orderIdList: clientOrderIds.map((c) => ({ clientOid: c })) }),
    );
    if (!r.ok) return clientOrderIds.map(() => err(r.error.rejection));
    const d = dataOf(r.value) as Raw | undefined;
    const done = new Map(list(d, 'successList').map((x) => [s(x['clientOid']), x] as const));
    const failed = new Map(list(d, 'failureList').map((x) => [s(x['clientOid']), x] as const));
    return clientOrderIds.map((c) => {
      const okEntry = done.get(c);
      if (okEntry) {
        this.openOrderIds.delete(c);
        return ok({ venueOrderId: s(okEntry['orderId']) });
      }
      const f = failed.get(c);
      return err(f ? bitgetRejection(s(f['errorCode']) || '22001', this.redact(s(f['errorMsg']))) : bitgetRejection('22001', 'No order to cancel'));
    });
  }

  /** The order with this client order id (`GET /api/v2/mix/order/detail`); null when Bitget does not know it. */
  async order(accountId: string, symbol: string, clientOrderId: string): Promise<VenueOrderSnapshot | null> {
    if (!this.mine(accountId).ok) return null;
    await this.ensureMarkets();
    const r = await this.queryOrder(symbol, clientOrderId);
    if (!r.ok) throw new VenueCallError(r.error.rejection);
    return r.value;
  }

  /** `GET /api/v2/mix/order/orders-pending?symbol=` (https://www.bitget.com/api-doc/contract/trade/Get-Orders-Pending). */
  async openOrders(accountId: string, symbol: string): Promise<VenueOrderSnapshot[]> {
    if (!this.mine(accountId).ok) return [];
    const raw = await this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixOrderOrdersPending({ symbol, productType: BITGET_PRODUCT_TYPE }));
    return list(dataOf(raw), 'entrustedList').map(bitgetOrderSnapshot);
  }

  /**
   * Finished orders (filled, canceled, expired) since `sinceMs`, oldest first:
   * `GET /api/v2/mix/order/orders-history` paged by idLessThan = endId (100 a page, Bitget
   * answers newest first; https://www.bitget.com/api-doc/contract/trade/Get-Orders-History).
   */
  async orderHistory(accountId: string, symbol: string, sinceMs?: number): Promise<VenueOrderSnapshot[]> {
    if (!this.mine(accountId).ok) return [];
    const rows = await this.paged((q) => this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixOrderOrdersHistory(q)), { symbol, productType: BITGET_PRODUCT_TYPE }, 'entrustedList', sinceMs);
    return rows.map(bitgetOrderSnapshot).sort((a, b) => a.updateTime - b.updateTime);
  }

  /** Pages of a Bitget history endpoint (idLessThan = the previous page's endId) until a short page. */
  private async paged(get: (q: Raw) => Promise<unknown>, base: Raw, key: string, sinceMs?: number): Promise<Raw[]> {
    const out: Raw[] = [];
    let idLessThan: string | undefined;
    for (let page = 0; page < 100; page++) {
      const q: Raw = { ...base, limit: 100 };
      if (sinceMs !== undefined) q['startTime'] = sinceMs;
      if (idLessThan) q['idLessThan'] = idLessThan;
      const d = dataOf(await get(q)) as Raw | undefined;
      const rows = list(d, key);
      out.push(...rows);
      const end = s(d?.['endId']);
      if (rows.length < 100 || !end || end === idLessThan) break;
      idLessThan = end;
    }
    return out;
  }

  // ---------------------------------------------------------------- protective (TP/SL) orders

  /**
   * A reduce-only exchange stop (STOP_LOSS) or take-profit as a Bitget position TP/SL order.
   *
   * Choice: ccxt createOrder(sym, 'market', closingSide, qty, undefined, { stopLossPrice |
   * takeProfitPrice, triggerType, clientOid }). For a swap market ccxt 4.5.84 sends those to
   * `POST /api/v2/mix/order/place-tpsl-order` (bitget.js createOrder: isStopLossOrTakeProfitTrigger
   * → privateMixPostV2MixOrderPlaceTpslOrder; createOrderRequest) with planType `pos_loss` /
   * `pos_profit`, holdSide = the position's side in one-way mode (`buy` for a long, protected
   * by a sell), triggerPrice, triggerType `mark_price` (Bulwark's default; `fill_price` for
   * CONTRACT_PRICE), size, clientOid. A position TP/SL closes the position and can only
   * reduce it: the reduce-only semantics of Binance's closing STOP_MARKET. `triggerPrice`
   * instead would go to place-plan-order (normal_plan), an ordinary trigger order that could
   * open a position — not used.
   * Source: https://www.bitget.com/api-doc/contract/plan/Place-Tpsl-Order
   *
   * Read back after placing (orders-plan-pending by clientOid): a missing order or one whose
   * symbol, side, type, trigger or trigger type differ is canceled and the answer is
   * PROTECTION_MISMATCH. Outcome unknown → query by clientOid first.
   */
  async placeProtectiveOrder(accountId: string, p: ProtectiveOrderRequest): Promise<Result<{ algoId: string }, VenueRejection>> {
    const ready = await this.readyToTrade(accountId);
    if (!ready.ok) return ready;
    const sym = this.unified(p.symbol);
    this.placed.set(p.clientAlgoId, { symbol: p.symbol, purpose: p.kind });
    const triggerType = (p.workingType ?? 'MARK_PRICE') === 'MARK_PRICE' ? 'mark_price' : 'fill_price';
    const params: Raw = { clientOid: p.clientAlgoId, triggerType, [p.kind === 'STOP_LOSS' ? 'stopLossPrice' : 'takeProfitPrice']: Number(str(p.triggerPrice)) };
    const place = async (): Promise<Result<{ algoId: string }, VenueFailure>> => {
      const r = await this.call('write', BITGET_ENDPOINT_COST.order, (ex) => ex.createOrder(sym, 'market', p.side === 'BUY' ? 'buy' : 'sell', Number(str(p.quantity)), undefined, params));
      if (!r.ok) return r;
      const info = (r.value.info ?? {}) as Raw;
      return ok({ algoId: s(info['orderId'] ?? r.value.id) });
    };
    const query = async (): Promise<Result<{ algoId: string } | null, VenueFailure>> => {
      const q = await this.queryPlan(p.symbol, p.clientAlgoId);
      return q.ok ? ok(q.value ? { algoId: q.value.algoId } : null) : q;
    };
    const r = await this.requests.placeResolvingUnknown(place, query);
    if (!r.ok) return r;
    this.openAlgoIds.add(p.clientAlgoId);
    const back = await this.queryPlan(p.symbol, p.clientAlgoId);
    if (!back.ok) return err({ code: 'PROTECTION_UNVERIFIED', message: `TP/SL order ${r.value.algoId} placed but could not be read back: ${back.error.rejection.code} ${back.error.rejection.message}` });
    const a = back.value;
    const type = p.kind === 'STOP_LOSS' ? 'STOP_MARKET' : 'TAKE_PROFIT_MARKET';
    const problems: string[] = [];
    if (!a) problems.push('not found');
    else {
      if (a.algoId !== r.value.algoId) problems.push(`orderId ${a.algoId} ≠ ${r.value.algoId}`);
      if (a.symbol !== p.symbol) problems.push(`symbol ${a.symbol}`);
      if (a.side !== p.side) problems.push(`side ${a.side}`);
      if (a.type !== type) problems.push(`type ${a.type}`);
      if (!a.triggerPrice.eq(p.triggerPrice)) problems.push(`triggerPrice ${str(a.triggerPrice)} ≠ ${str(p.triggerPrice)}`);
      if (a.quantity && !a.closePosition && !a.quantity.eq(p.quantity)) problems.push(`quantity ${str(a.quantity)} ≠ ${str(p.quantity)}`);
      const want = triggerType === 'mark_price' ? 'MARK_PRICE' : 'CONTRACT_PRICE';
      if (a.workingType !== undefined && a.workingType !== want) problems.push(`triggerType ${a.workingType} ≠ ${want}`);
    }
    if (problems.length > 0) {
      if (a && a.status === 'NEW') await this.cancelProtectiveOrder(accountId, p.symbol, p.clientAlgoId);
      return err({ code: 'PROTECTION_MISMATCH', message: `TP/SL order ${p.clientAlgoId} read back differs: ${problems.join(', ')}` });
    }
    return r;
  }

  /**
   * A TP/SL order by clientOid: `GET /api/v2/mix/order/orders-plan-pending` planType
   * profit_loss, then `GET /api/v2/mix/order/orders-plan-history` (finished ones); null when
   * neither lists it. https://www.bitget.com/api-doc/contract/plan/get-orders-plan-pending
   */
  protected async queryPlan(symbol: string, clientAlgoId: string): Promise<Result<VenueAlgoSnapshot | null, VenueFailure>> {
    const q = { symbol, productType: BITGET_PRODUCT_TYPE, planType: 'profit_loss', clientOid: clientAlgoId };
    for (const history of [false, true]) {
      const r = await this.call('read', BITGET_ENDPOINT_COST.read, (ex) => (history ? ex.privateMixGetV2MixOrderOrdersPlanHistory(q) : ex.privateMixGetV2MixOrderOrdersPlanPending(q)));
      if (!r.ok) {
        if (r.error.class.reason === 'UNKNOWN_ORDER') continue;
        return r;
      }
      const a = list(dataOf(r.value), 'entrustedList').find((x) => s(x['clientOid']) === clientAlgoId);
      if (a) return ok(bitgetPlanSnapshot(a));
    }
    return ok(null);
  }

  /**
   * `POST /api/v2/mix/order/cancel-plan-order` with orderIdList [{clientOid}] and planType
   * profit_loss (ccxt implicit `privateMixPostV2MixOrderCancelPlanOrder`; ccxt's cancelOrder
   * with trigger sends no planType, and Bitget then looks among normal_plan orders only;
   * https://www.bitget.com/api-doc/contract/plan/Cancel-Plan-Order). A failureList entry is the
   * rejection; unknown outcome or "does not exist" → queried: CANCELED counts as done.
   */
  async cancelProtectiveOrder(accountId: string, symbol: string, clientAlgoId: string): Promise<Result<{ algoId: string }, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    const r = await this.call('write', BITGET_ENDPOINT_COST.cancel, (ex) =>
      ex.privateMixPostV2MixOrderCancelPlanOrder({ ...this.mix(symbol), planType: 'profit_loss', orderIdList: [{ clientOid: clientAlgoId }] }),
    );
    let rejection: VenueRejection;
    let check: boolean;
    if (r.ok) {
      const d = dataOf(r.value) as Raw | undefined;
      const done = list(d, 'successList').find((x) => s(x['clientOid']) === clientAlgoId || list(d, 'successList').length === 1);
      if (done) {
        this.openAlgoIds.delete(clientAlgoId);
        return ok({ algoId: s(done['orderId']) });
      }
      const f = list(d, 'failureList')[0];
      rejection = bitgetRejection(s(f?.['errorCode']) || '43025', this.redact(s(f?.['errorMsg']) || 'Plan order does not exist'));
      check = true;
    } else {
      rejection = r.error.rejection;
      check = r.error.class.outcomeUnknown || r.error.class.reason === 'UNKNOWN_ORDER';
    }
    if (check) {
      const q = await this.queryPlan(symbol, clientAlgoId);
      if (q.ok && q.value && q.value.status === 'CANCELED') {
        this.openAlgoIds.delete(clientAlgoId);
        return ok({ algoId: q.value.algoId });
      }
    }
    return err(rejection);
  }

  /** `GET /api/v2/mix/order/orders-plan-pending?symbol=&planType=profit_loss`: the open TP/SL orders. */
  async openProtectiveOrders(accountId: string, symbol: string): Promise<VenueAlgoSnapshot[]> {
    if (!this.mine(accountId).ok) return [];
    const raw = await this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixOrderOrdersPlanPending({ symbol, productType: BITGET_PRODUCT_TYPE, planType: 'profit_loss' }));
    return list(dataOf(raw), 'entrustedList').map(bitgetPlanSnapshot).filter((a) => !TERMINAL_ALGO.has(a.status));
  }

  /** The TP/SL order with this clientOid (pending or history), null when Bitget does not know it. */
  async protectiveOrder(accountId: string, symbol: string, clientAlgoId: string): Promise<VenueAlgoSnapshot | null> {
    if (!this.mine(accountId).ok) return null;
    const r = await this.queryPlan(symbol, clientAlgoId);
    if (!r.ok) throw new VenueCallError(r.error.rejection);
    return r.value;
  }

  /**
   * Cancel every open order (ccxt cancelAllOrders → `POST /api/v2/mix/order/batch-cancel-orders`
   * with symbol and no list) and every open TP/SL order (`POST /api/v2/mix/order/cancel-plan-order`
   * symbol + planType profit_loss) of a symbol; answers how many were open just before.
   * https://www.bitget.com/api-doc/contract/trade/Batch-Cancel-Orders
   */
  async cancelAll(accountId: string, symbol: string): Promise<{ orders: number; algoOrders: number }> {
    if (!this.mine(accountId).ok) return { orders: 0, algoOrders: 0 };
    await this.ensureMarkets();
    const sym = this.unified(symbol);
    const orders = await this.openOrders(accountId, symbol);
    const algos = await this.openProtectiveOrders(accountId, symbol);
    if (orders.length > 0) await this.read(BITGET_ENDPOINT_COST.cancel, (ex) => ex.cancelAllOrders(sym));
    if (algos.length > 0) await this.read(BITGET_ENDPOINT_COST.cancel, (ex) => ex.privateMixPostV2MixOrderCancelPlanOrder({ ...this.mix(symbol), planType: 'profit_loss' }));
    for (const o of orders) this.openOrderIds.delete(o.clientOrderId);
    for (const a of algos) this.openAlgoIds.delete(a.clientAlgoId);
    return { orders: orders.length, algoOrders: algos.length };
  }

  /**
   * Flash close: the whole position of a symbol at market, by Bitget — ccxt closePosition →
   * `POST /api/v2/mix/order/close-positions` (one-way: no holdSide;
   * https://www.bitget.com/api-doc/contract/trade/Flash-Close-Position). Answers the order ids
   * Bitget created (its successList); 22002 when there is no position.
   */
  async closePosition(accountId: string, symbol: string): Promise<Result<{ venueOrderIds: string[] }, VenueRejection>> {
    const ready = await this.readyToTrade(accountId);
    if (!ready.ok) return ready;
    const sym = this.unified(symbol);
    const r = await this.call('write', BITGET_ENDPOINT_COST.order, (ex) => ex.privateMixPostV2MixOrderClosePositions({ symbol, productType: BITGET_PRODUCT_TYPE }));
    void sym;
    if (!r.ok) return err(r.error.rejection);
    const d = dataOf(r.value) as Raw | undefined;
    const done = list(d, 'successList');
    const failed = list(d, 'failureList');
    if (done.length === 0 && failed.length > 0) return err(bitgetRejection(s(failed[0]['errorCode']) || '22002', this.redact(s(failed[0]['errorMsg']) || 'No position to close')));
    for (const x of done) if (s(x['clientOid'])) this.clientIdOf.set(s(x['orderId']), s(x['clientOid']));
    return ok({ venueOrderIds: done.map((x) => s(x['orderId'])) });
  }

  // ---------------------------------------------------------------- account reads

  /**
   * `GET /api/v2/mix/order/fills` (ccxt `privateMixGetV2MixOrderFills`, paged by idLessThan,
   * oldest first; https://www.bitget.com/api-doc/contract/trade/Get-Order-Fills); client ids
   * where this adapter placed the order (or Bitget reports it).
   */
  async trades(accountId: string, symbol: string, sinceMs?: number): Promise<VenueTrade[]> {
    if (!this.mine(accountId).ok) return [];
    const rows = await this.paged((q) => this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixOrderFills(q)), { symbol, productType: BITGET_PRODUCT_TYPE }, 'fillList', sinceMs);
    return rows
      .map((t) => bitgetTrade(t, s(t['clientOid']) || this.clientIdOf.get(s(t['orderId'])) || null))
      .sort((a, b) => a.ts - b.ts || (a.tradeId < b.tradeId ? -1 : a.tradeId > b.tradeId ? 1 : 0));
  }

  /**
   * Open positions: `GET /api/v2/mix/position/all-position` (or single-position for one
   * symbol; https://www.bitget.com/api-doc/contract/position/get-all-position): `total` base
   * quantity, `openPriceAvg`, `marginSize` (the isolated margin, USDT), `leverage`,
   * `marginMode` isolated|crossed, `liquidationPrice`, `markPrice`; holdSide long|short.
   */
  async positions(accountId: string, symbol?: string): Promise<VenuePositionSnapshot[]> {
    if (!this.mine(accountId).ok) return [];
    const raw = await this.read(BITGET_ENDPOINT_COST.read, (ex) =>
      symbol ? ex.privateMixGetV2MixPositionSinglePosition(this.mix(symbol)) : ex.privateMixGetV2MixPositionAllPosition(this.mix()),
    );
    const out: VenuePositionSnapshot[] = [];
    for (const p of list(dataOf(raw))) {
      const qty = dOr(p['total']);
      if (qty.isZero()) continue;
      out.push({
        symbol: s(p['symbol']).toUpperCase(),
        side: s(p['holdSide']).toLowerCase() === 'short' ? 'SHORT' : 'LONG',
        quantity: qty.abs(),
        entryPrice: dOr(p['openPriceAvg']),
        isolatedMargin: dOr(p['marginSize']),
        leverage: Number(s(p['leverage']) || '0'),
        marginType: s(p['marginMode']) === 'crossed' ? 'cross' : 'isolated',
        liquidationPrice: dOrNull(p['liquidationPrice']),
        markPrice: dOrNull(p['markPrice']),
      });
    }
    if (symbol === undefined) {
      this.positionQty.clear();
      for (const p of out) this.positionQty.set(p.symbol, p.side === 'LONG' ? p.quantity : p.quantity.neg());
    } else {
      this.positionQty.delete(symbol);
      for (const p of out) this.positionQty.set(p.symbol, p.side === 'LONG' ? p.quantity : p.quantity.neg());
    }
    return out;
  }

  /**
   * Funding settled on a symbol: `GET /api/v2/mix/account/bill` businessType
   * contract_settle_fee (what ccxt fetchFundingHistory sends; raw `amount` strings, signed USDT,
   * paid < 0; https://www.bitget.com/api-doc/contract/account/Get-Account-Bill), oldest first.
   */
  async fundingHistory(accountId: string, symbol: string, sinceMs?: number): Promise<Array<{ symbol: string; amount: D; ts: number }>> {
    if (!this.mine(accountId).ok) return [];
    const rows = await this.paged(
      (q) => this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixAccountBill(q)),
      { ...this.mix(symbol), businessType: 'contract_settle_fee' },
      'bills',
      sinceMs,
    );
    return rows.map((b) => ({ symbol: s(b['symbol']).toUpperCase() || symbol, amount: dOr(b['amount']), ts: Number(b['cTime'] ?? 0) })).sort((a, b) => a.ts - b.ts);
  }

  /**
   * Balances and positions: `GET /api/v2/mix/account/accounts` productType USDT-FUTURES (the
   * USDT entry; https://www.bitget.com/api-doc/contract/account/Get-Account-List): wallet =
   * accountEquity − unrealizedPL (Binance's wallet balance excludes unrealised PnL),
   * available = `available`; and `positions`. null when the account is not this adapter's.
   */
  async account(accountId: string): Promise<PaperAccountView | null> {
    if (!this.mine(accountId).ok) return null;
    const raw = await this.read(BITGET_ENDPOINT_COST.read, (ex) => ex.privateMixGetV2MixAccountAccounts({ productType: BITGET_PRODUCT_TYPE }));
    const usdt = list(dataOf(raw)).find((b) => s(b['marginCoin']).toUpperCase() === BITGET_MARGIN_COIN);
    const positions = await this.positions(accountId);
    this.accountSeen();
    const equity = dOr(usdt?.['accountEquity']);
    return {
      accountId,
      walletBalance: equity.minus(dOr(usdt?.['unrealizedPL'])),
      availableBalance: dOr(usdt?.['available']),
      positions: positions.map((p) => ({ symbol: p.symbol, side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, isolatedMargin: p.isolatedMargin, leverage: p.leverage, liquidationPrice: p.liquidationPrice })),
    };
  }

  /** Hook: a balance read succeeded. */
  protected accountSeen(): void {
    /* LocalBitgetVenue records that the account exists */
  }

  // ---------------------------------------------------------------- private websocket

  /**
   * A fill event from an `orders` channel push that reports a trade (`tradeId` set): Bitget's
   * private orders channel (https://www.bitget.com/api-doc/contract/websocket/private/Order-Channel)
   * sends one entry per trade with `fillPrice`, `baseVolume` (this trade), `fillFee` (negative
   * when paid), `pnl` (realised, gross of fees), `tradeScope`, `accBaseVolume` (the order's
   * cumulative filled quantity → cumulativeQuantity). `reported` adds what a step report knows.
   */
  protected fillOf(o: Raw, ts: number, reported: Raw = {}): PaperVenueEvent {
    const clientOrderId = s(o['clientOid']) || this.clientIdOf.get(s(o['orderId'])) || s(reported['clientOrderId']);
    const symbol = s(o['instId'] ?? o['symbol']).toUpperCase();
    const liquidation = /liquidat|burst/i.test(s(o['enterPointSource']) + s(o['orderSource']));
    const purpose: OrderPurpose = liquidation ? 'LIQUIDATION' : (this.placed.get(clientOrderId)?.purpose ?? ((s(reported['purpose']) || 'ENTRY') as OrderPurpose));
    const leverage = this.leverageBySymbol.get(symbol) ?? Number(s(o['leverage']) || s(reported['leverage']) || '20');
    const fee = dOr(o['fillFee']).neg();
    const fill: PaperFill = {
      accountId: this.accountId, clientOrderId, venueOrderId: s(o['orderId']), tradeId: s(o['tradeId']), symbol, side: upperSide(o['side']), purpose,
      quantity: dOr(o['baseVolume']), price: dOr(o['fillPrice']), fee: fee.isZero() ? ZERO : fee, liquidity: s(o['tradeScope']).toLowerCase() === 'maker' ? 'MAKER' : 'TAKER',
      leverage, realisedPnl: dOr(o['pnl']), liquidationFee: dOr(reported['liquidationFee']), venueGenerated: liquidation, ts,
    };
    if (s(o['accBaseVolume'])) fill.cumulativeQuantity = dec(s(o['accBaseVolume']));
    return { kind: 'fill', fill };
  }

  /** An expiry: an IOC/FOK/post-only order (or a reduce-only one with nothing to reduce) that Bitget canceled unfilled. */
  protected rejectedOf(o: Raw | null, ts: number, reported: Raw = {}): PaperVenueEvent {
    const clientOrderId = o ? s(o['clientOid']) : s(reported['clientOrderId']);
    this.openOrderIds.delete(clientOrderId);
    return { kind: 'rejected', accountId: this.accountId, clientOrderId, code: s(reported['code']) || '22002', message: s(reported['message']) || `order ${clientOrderId} expired (${s(o?.['force']) || 'canceled by the venue'})`, ts };
  }

  /** Subscribe to the raw private-channel messages (`{arg: {channel, …}, data: […]}`); answers the unsubscribe function. */
  onUserData(listener: (m: Raw) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Fills and expiries as Bitget pushes them on the private `orders` channel (live and demo):
   * each entry with a tradeId becomes a fill; a canceled IOC/FOK entry without one an expiry.
   * Delivered in arrival order; a listener that throws is logged and alerted.
   */
  onVenueEvents(listener: (events: PaperVenueEvent[], ts: number) => void): () => void {
    return this.onUserData((m) => {
      if (s((m['arg'] as Raw | undefined)?.['channel']) !== 'orders') return;
      for (const o of m['data'] as Raw[]) {
        const ts = Number(o['fillTime'] ?? o['uTime'] ?? Date.now());
        let ev: PaperVenueEvent | null = null;
        if (s(o['tradeId'])) ev = this.fillOf(o, ts);
        else if (bitgetOrderSnapshot(o).status === 'EXPIRED') ev = this.rejectedOf(o, ts);
        if (!ev) continue;
        try {
          listener([ev], ts);
        } catch (e) {
          const msg = this.redact(messageOf(e));
          this.logLine(`bitget ${this.accountId}: private event not delivered: ${msg}`);
          this.onAlert({ kind: 'USER_DATA_STREAM', message: `private event not delivered: ${msg}` });
        }
      }
    });
  }

  /**
   * Start the private websocket (ccxt.pro watchOrders: login, subscribe to `orders` of
   * USDT-FUTURES, reconnect) and resolve once it is logged in. Idempotent.
   */
  async startUserData(): Promise<void> {
    if (!this.userStream) {
      await this.ensureMarkets();
      if (String(this.exchange.urls['api']['ws']['private']).startsWith('ws://')) await this.exchange.loadHttpProxyAgent();
      this.userStream = this.userLoop();
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = Object.values(this.exchange.clients).find((x) => String((x as { url: string }).url).includes('/ws/private')) as unknown as { connected: Promise<unknown>; subscriptions: Raw } | undefined;
      if (c) {
        await c.connected;
        if (c.subscriptions['authenticated'] !== undefined) return;
      }
      if (Date.now() > deadline) throw new Error('private websocket did not log in within 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private userLoop(): Promise<void> {
    const loop = async () => {
      let failures = 0;
      while (!this.closed) {
        try {
          await this.exchange.watchOrders(undefined, undefined, undefined, { productType: BITGET_PRODUCT_TYPE });
          failures = 0;
        } catch (e) {
          if (this.closed) break;
          const msg = this.redact(messageOf(e));
          this.logLine(`bitget ${this.accountId}: private websocket error: ${msg}`);
          if (++failures === 5) this.onAlert({ kind: 'USER_DATA_STREAM', message: `private websocket failing: ${msg}` });
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** failures)));
        }
      }
    };
    void loop();
    return Promise.resolve();
  }

  /** Keep the adapter's view of open orders, TP/SL orders and positions current, then fan out. */
  protected onPrivateMessage(m: Raw): void {
    const channel = s((m['arg'] as Raw | undefined)?.['channel']);
    if (channel === 'orders') {
      for (const o of m['data'] as Raw[]) {
        const c = s(o['clientOid']);
        if (s(o['orderId']) && c) this.clientIdOf.set(s(o['orderId']), c);
        const st = s(o['status']).toLowerCase();
        if (st === 'live' || st === 'new' || st === 'partially_filled') this.openOrderIds.add(c);
        else this.openOrderIds.delete(c);
        if (s(o['tradeId'])) {
          const sym = s(o['instId'] ?? o['symbol']).toUpperCase();
          const q = dOr(o['baseVolume']);
          const prev = this.positionQty.get(sym) ?? ZERO;
          const next = upperSide(o['side']) === 'BUY' ? prev.plus(q) : prev.minus(q);
          if (next.isZero()) this.positionQty.delete(sym);
          else this.positionQty.set(sym, next);
        }
      }
    } else if (channel === 'orders-algo') {
      for (const a of m['data'] as Raw[]) {
        const st = bitgetPlanStatus(s(a['status'] ?? a['planStatus']));
        if (TERMINAL_ALGO.has(st)) this.openAlgoIds.delete(s(a['clientOid']));
      }
    }
    for (const l of this.listeners) l(m);
  }

  /** Stop the stream and close every socket. */
  async close(): Promise<void> {
    this.closed = true;
    await this.exchange.close();
  }

  /** Remove the credentials from a text (for subclasses' errors). */
  protected redact(text: string): string {
    return redact(text, this.secrets);
  }

  protected get credentials(): { apiKey: string; apiSecret: string; passphrase: string } {
    return { apiKey: this.secrets[0], apiSecret: this.secrets[1], passphrase: this.secrets[2] };
  }
}
