import * as ccxt from 'ccxt';
import type { OrderSide, VenueId } from '@bulwark/contracts';
import { dec, err, ok, str, ZERO, type D, type MarginOrderType, type MarginSideEffectType, type Result, type VenueRejection } from '@bulwark/domain';
import { BinanceRequests, VenueCallError } from '../binance/requests';
import { messageOf, redact, toVenueFailure, type VenueFailure } from '../binance/errors';
import { signedAdminPost } from '../binance/local-admin';
import { RateBudget, systemClock, type BudgetAlert, type Clock, type RequestCost } from '../binance/rate-budget';
import { DEFAULT_RETRY, type RetryPolicy } from '../binance/retry';
import { binanceMarginLocalUrls } from './local-urls';

/** The ccxt exchange classes the adapter drives: `binance` for REST, ccxt.pro `binance` for the user-data stream. */
type RestEx = InstanceType<typeof ccxt.binance>;
type ProEx = InstanceType<typeof ccxt.pro.binance>;

/**
 * Binance SAPI limits: every IP-limited /sapi endpoint has its own 12 000 weight a minute, every
 * UID-limited one its own 180 000 a minute (https://developers.binance.com/docs/margin_trading/general-info
 * "LIMITS"); spot ORDERS: 100 per 10 s (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits).
 * The adapter folds all its endpoints into ONE 12 000 window (never above any per-endpoint
 * limit). No per-minute order limit is published; 600 = 6 × the 10 s limit, so it never binds first.
 */
export const BINANCE_SAPI_LIMITS = {
  weightPer1m: 12_000,
  ordersPer10s: 100,
  ordersPer1m: 600,
  source: 'https://developers.binance.com/docs/margin_trading/general-info',
} as const;

/**
 * Costs of the endpoints the adapter calls, as IP weight in the 12 000 window. Weights from
 * Binance's margin docs as ccxt 4.5.84 records them (binance.js `api.sapi`, cost = 0.1 × IP
 * weight or 0.006667 × UID weight). UID-weighted endpoints are scaled by 12 000 / 180 000
 * (POST asset/transfer UID 900 → 60; POST margin/borrow-repay UID 3000 → 200; POST
 * margin/order UID 6 → 1, plus one order; DELETE margin/order UID 1 → 1).
 */
export const MARGIN_ENDPOINT_COST = {
  time: { weight: 1, orders: 0 },
  transfer: { weight: 60, orders: 0 },
  borrowRepay: { weight: 200, orders: 0 },
  isolatedAccount: { weight: 10, orders: 0 },
  maxBorrowable: { weight: 50, orders: 0 },
  maxTransferable: { weight: 50, orders: 0 },
  order: { weight: 1, orders: 1 },
  cancel: { weight: 1, orders: 0 },
  queryOrder: { weight: 10, orders: 0 },
  openOrders: { weight: 10, orders: 0 },
  myTrades: { weight: 10, orders: 0 },
  interestHistory: { weight: 1, orders: 0 },
} as const satisfies Record<string, RequestCost>;

/** Alerts the adapter raises (never containing credentials). */
export type MarginVenueAlert = BudgetAlert | { kind: 'USER_DATA_STREAM'; symbol: string; message: string };

export interface BinanceMarginVenueOptions {
  /** The Bulwark account these keys trade. */
  accountId: string;
  apiKey: string;
  apiSecret: string;
  /** live = api.binance.com (needs `liveTrading: 'yes'`); local = the local venue at restBase/wsBase. */
  mode: 'live' | 'local';
  /**
   * The explicit live-trading opt-in, as venue-config gates `binance-live`: mode live is refused
   * unless this is 'yes'. Default: the environment's BULWARK_LIVE_TRADING.
   */
  liveTrading?: string;
  /** Required for local: http://127.0.0.1:PORT. */
  restBase?: string;
  /** Required for local: ws://127.0.0.1:PORT. */
  wsBase?: string;
  /** The isolated pairs (Binance ids, e.g. BTCUSDT) this adapter may touch; any other is refused. Default: any. */
  symbols?: string[];
  clock?: Clock;
  /** Jitter source for retries (default Math.random). */
  random?: () => number;
  onAlert?: (a: MarginVenueAlert) => void;
  /** A budget shared with other adapters of the same account/IP (default: a new one on BINANCE_SAPI_LIMITS). */
  budget?: RateBudget;
  retry?: RetryPolicy;
  /** ccxt request timeout, ms (default 10 000). */
  timeoutMs?: number;
  /** Diagnostic lines, already redacted. */
  log?: (line: string) => void;
}

/** Every status Binance reports for a margin order (the paper engine uses a subset). */
export type VenueMarginOrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'PENDING_CANCEL' | 'REJECTED' | 'EXPIRED' | 'EXPIRED_IN_MATCH';

/** An isolated-margin order as the adapter sends it (`POST /sapi/v1/margin/order`). */
export interface MarginOrderPlacement {
  /** Binance id, e.g. BTCUSDT. */
  symbol: string;
  side: OrderSide;
  type: MarginOrderType;
  /** Base quantity, sent exactly as given (the venue checks LOT_SIZE / NOTIONAL: -1013). */
  quantity: D;
  /** LIMIT and LIMIT_MAKER only. */
  price?: D;
  /** LIMIT only (default GTC). */
  timeInForce?: 'GTC' | 'IOC' | 'FOK';
  sideEffectType: MarginSideEffectType;
  /** Sent as newClientOrderId; the key used to resolve an unknown outcome. */
  clientOrderId: string;
}

/** One trade of an order as the FULL answer lists it (`fills[]`). */
export interface MarginOrderFill {
  tradeId: string;
  price: D;
  qty: D;
  commission: D;
  commissionAsset: string;
}

/** An isolated-margin order (POST answer, GET order, open orders, cancel answer), exact decimals. */
export interface MarginOrderSnapshot {
  symbol: string;
  orderId: string;
  clientOrderId: string;
  side: OrderSide;
  type: string;
  status: VenueMarginOrderStatus;
  timeInForce: string;
  price: D;
  origQty: D;
  executedQty: D;
  cummulativeQuoteQty: D;
  /** FULL answers; filled from GET /sapi/v1/margin/myTrades when an unknown outcome was resolved by query. Empty otherwise. */
  fills: MarginOrderFill[];
  /** What a MARGIN_BUY / AUTO_BORROW_REPAY order borrowed (FULL answer only); null when nothing or unknown. */
  marginBuyBorrowAmount: D | null;
  marginBuyBorrowAsset: string | null;
  /** transactTime (POST answer) or updateTime / time (queries), ms. */
  updateTime: number;
}

/** A trade of GET /sapi/v1/margin/myTrades. */
export interface MarginTrade {
  tradeId: string;
  orderId: string;
  symbol: string;
  side: OrderSide;
  price: D;
  qty: D;
  commission: D;
  commissionAsset: string;
  maker: boolean;
  ts: number;
}

/** One asset of an isolated pair's account. */
export interface IsolatedAssetBalance {
  asset: string;
  free: D;
  locked: D;
  borrowed: D;
  interest: D;
  netAsset: D;
  totalAsset: D;
}

/** GET /sapi/v1/margin/isolated/account?symbols= for one pair. */
export interface IsolatedMarginAccount {
  symbol: string;
  base: IsolatedAssetBalance;
  quote: IsolatedAssetBalance;
  marginLevel: D;
  /** EXCESSIVE, NORMAL, MARGIN_CALL, PRE_LIQUIDATION or FORCE_LIQUIDATION. */
  marginLevelStatus: string;
  liquidatePrice: D;
  indexPrice: D;
  tradeEnabled: boolean;
  enabled: boolean;
}

/** A row of GET /sapi/v1/margin/interestHistory. */
export interface MarginInterestRow {
  txId: string;
  asset: string;
  isolatedSymbol: string;
  principal: D;
  interest: D;
  /** The daily rate the accrual was charged at (interest = principal × interestRate ÷ 24). */
  interestRate: D;
  /** ON_BORROW, PERIODIC, PERIODIC_CONVERTED, ON_BORROW_CONVERTED, PORTFOLIO. */
  type: string;
  ts: number;
}

/** A raw user-data event (executionReport, outboundAccountPosition, balanceUpdate), unwrapped from the WS-API frame. */
export type MarginUserDataMessage = { e: string; [k: string]: unknown };

type Raw = Record<string, unknown>;
const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const dOr = (v: unknown, fallback: D = ZERO): D => (v === undefined || v === null || v === '' ? fallback : dec(String(v)));
const bool = (v: unknown): boolean => v === true || v === 'true';

const ORDER_STATUSES = new Set<string>(['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'PENDING_CANCEL', 'REJECTED', 'EXPIRED', 'EXPIRED_IN_MATCH']);
const USER_EVENTS = new Set(['executionReport', 'outboundAccountPosition', 'balanceUpdate']);
/** isIsolated as Binance's margin docs write it ('TRUE'); the venue accepts any case. */
const ISOLATED = 'TRUE';


/** One user-data stream: a ccxt.pro instance for one isolated pair (ccxt keeps one listenToken per instance). */
interface UserStream {
  ex: ProEx;
  listeners: Set<(m: MarginUserDataMessage) => void>;
  ready: Promise<void>;
  timers: Set<ReturnType<typeof setTimeout>>;
}

/**
 * Binance SPOT ISOLATED MARGIN through ccxt 4.5.84 `binance` (REST, implicit API methods) and
 * ccxt.pro `binance` (user-data stream over the WebSocket API with a listenToken). One
 * instance trades one account's keys on one or more isolated pairs. The principles of the
 * futures adapter (BinanceUsdmVenue):
 *
 * - Decimals are exact: every number is read from the RAW answers with `dec()`, never from
 *   ccxt's float fields; quantities, prices and amounts are sent as the domain's strings.
 * - Every request goes through the account's `RateBudget` and the retry policy (full-jitter
 *   backoff, retryable classifications only; -1021 → clock resync and one retry).
 * - Writes are `Result`s with typed, redacted rejections; reads throw `VenueCallError`.
 * - An order whose outcome is unknown (timeout, HTTP 503, -1007) is resolved by querying it by
 *   client order id first; the same client id is re-sent only when the venue says it does not
 *   exist (-2013). Transfers and borrow/repay carry no client id: their unknown outcome is
 *   returned (reason OUTCOME_UNKNOWN, never re-sent) for the caller to reconcile with
 *   `isolatedAccount`.
 * - Messages never contain the API key, the secret or a signature (`redact`).
 */
export class BinanceMarginVenue {
  readonly venue: VenueId = 'binance-margin';
  readonly accountId: string;
  /** The ccxt REST exchange (exposed for tests and diagnostics only). */
  readonly exchange: RestEx;
  readonly budget: RateBudget;
  private readonly mode: 'live' | 'local';
  private readonly clock: Clock;
  private readonly secrets: string[];
  private readonly random: () => number;
  private readonly retryPolicy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly symbols: ReadonlySet<string> | null;
  private readonly restBase: string | null;
  private readonly wsBase: string | null;
  private readonly onAlert: (a: MarginVenueAlert) => void;
  private readonly logLine: (line: string) => void;
  private readonly requests: BinanceRequests<RestEx>;
  private readonly streams = new Map<string, UserStream>();
  private closed = false;

  constructor(o: BinanceMarginVenueOptions) {
    if (o.mode === 'live' && (o.liveTrading ?? process.env['BULWARK_LIVE_TRADING']) !== 'yes') {
      throw new Error('BinanceMarginVenue: mode live trades real money on api.binance.com: set BULWARK_LIVE_TRADING=yes (or liveTrading: "yes") to confirm');
    }
    if (o.mode === 'local' && (!o.restBase || !o.wsBase)) throw new Error('BinanceMarginVenue: mode local needs restBase and wsBase');
    this.accountId = o.accountId;
    this.mode = o.mode;
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
    this.retryPolicy = o.retry ?? DEFAULT_RETRY;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.symbols = o.symbols ? new Set(o.symbols) : null;
    this.restBase = o.restBase ?? null;
    this.wsBase = o.wsBase ?? null;
    this.secrets = [o.apiKey, o.apiSecret];
    Object.defineProperty(this, 'secrets', { enumerable: false });
    this.onAlert = (a) => (o.onAlert ?? (() => undefined))({ ...a, message: redact(a.message, this.secrets) });
    this.logLine = (line) => o.log?.(redact(line, this.secrets));
    this.budget = o.budget ?? new RateBudget(this.clock, (a) => this.onAlert(a), BINANCE_SAPI_LIMITS);
    const ex = new ccxt.binance(this.ccxtConfig());
    this.configure(ex);
    this.requests = new BinanceRequests<RestEx>({
      venue: this.venue, label: `binance-margin ${this.accountId}`, budget: this.budget, clock: this.clock, random: this.random, retryPolicy: this.retryPolicy,
      secrets: this.secrets, log: this.logLine, timeCost: MARGIN_ENDPOINT_COST.time, honourRetryAfter: true,
    });
    this.requests.attach(ex);
    this.exchange = ex;
  }

  private ccxtConfig() {
    return { apiKey: this.secrets[0], secret: this.secrets[1], enableRateLimit: false /* the RateBudget paces requests */, timeout: this.timeoutMs };
  }

  /**
   * Options set after construction (an `options` object given to the constructor from another
   * realm, e.g. under Jest, replaces ccxt's defaults instead of merging: no recvWindow, timestamp
   * NaN). Spot markets only: the default also loads /fapi and /dapi exchangeInfo, which the local
   * URL map has no entry for. No currencies (GET /sapi/v1/capital/config/getall): amounts are sent
   * as given, never truncated by ccxt. Local mode: the local URLs and Binance's spot error classes
   * (ccxt applies them only to api.binance.com URLs).
   */
  private configure(ex: RestEx | ProEx): void {
    ex.options['fetchMarkets'] = { ...(ex.options['fetchMarkets'] as object), types: ['spot'] };
    ex.options['fetchCurrencies'] = false;
    if (this.mode !== 'local' || !this.restBase || !this.wsBase) return;
    ex.urls['api'] = binanceMarginLocalUrls(this.restBase, this.wsBase) as unknown as (typeof ex.urls)['api'];
    const exceptions = ex.exceptions as { exact?: Record<string, unknown>; spot?: { exact?: Record<string, unknown> } };
    exceptions.exact = Object.assign({}, exceptions.exact, exceptions.spot?.exact);
  }

  // ---------------------------------------------------------------- request machinery

  private read<T>(cost: RequestCost, fn: (ex: RestEx) => Promise<T>): Promise<T> {
    return this.requests.read(cost, fn);
  }

  private write<T>(cost: RequestCost, fn: (ex: RestEx) => Promise<T>): Promise<Result<T, VenueRejection>> {
    return this.requests.write(cost, fn);
  }

  /** A pair this adapter may touch; the refusal is a typed rejection (nothing is sent). */
  private pair(symbol: string): Result<string, VenueRejection> {
    if (this.symbols && !this.symbols.has(symbol)) return err({ code: 'PAIR_NOT_CONFIGURED', message: `this adapter trades the isolated pairs ${[...this.symbols].join(', ')} only (asked for ${symbol})` });
    return ok(symbol);
  }

  private pairOrThrow(symbol: string): string {
    const p = this.pair(symbol);
    if (!p.ok) throw new VenueCallError(p.error);
    return p.value;
  }

  // ---------------------------------------------------------------- local venue's clock

  /**
   * Local mode only: walk the local venue's market to `ts` (epoch ms) — `POST /bulwark/v1/advance?to=`,
   * signed, outside the request budget — so a replay clock drives it step for step.
   * @returns the venue's market time after the walk
   * @throws VenueCallError (NOT_LOCAL in live mode; the venue's refusal; NETWORK)
   */
  async advanceLocalClock(ts: number): Promise<number> {
    if (this.mode !== 'local' || !this.restBase) throw new VenueCallError({ code: 'NOT_LOCAL', message: 'only the local venue has a clock to drive' });
    const [apiKey, apiSecret] = this.secrets;
    const res = await signedAdminPost(this.restBase, '/bulwark/v1/advance', { to: String(Math.floor(ts)) }, { apiKey, apiSecret }, Number(this.exchange.options['timeDifference'] ?? 0), (m) => redact(m, this.secrets));
    if (!res.ok) throw new VenueCallError(toVenueFailure(new Error(res.text), { status: res.status, body: res.text, headers: res.headers }, this.secrets).rejection);
    return Number((JSON.parse(res.text) as { now?: unknown }).now ?? 0);
  }

  // ---------------------------------------------------------------- transfers, borrow, repay

  /** `POST /sapi/v1/asset/transfer` type MAIN_ISOLATED_MARGIN toSymbol: spot wallet → the pair's isolated account. */
  async transferToMargin(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    const p = this.pair(symbol);
    if (!p.ok) return p;
    const r = await this.write(MARGIN_ENDPOINT_COST.transfer, (ex) => ex.sapiPostAssetTransfer({ asset, amount: str(amount), type: 'MAIN_ISOLATED_MARGIN', toSymbol: symbol }));
    return r.ok ? ok({ tranId: s((r.value as Raw)['tranId']) }) : r;
  }

  /** `POST /sapi/v1/asset/transfer` type ISOLATED_MARGIN_MAIN fromSymbol: the pair's isolated account → spot wallet (-3020 over maxTransferable). */
  async transferToSpot(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    const p = this.pair(symbol);
    if (!p.ok) return p;
    const r = await this.write(MARGIN_ENDPOINT_COST.transfer, (ex) => ex.sapiPostAssetTransfer({ asset, amount: str(amount), type: 'ISOLATED_MARGIN_MAIN', fromSymbol: symbol }));
    return r.ok ? ok({ tranId: s((r.value as Raw)['tranId']) }) : r;
  }

  /** `POST /sapi/v1/margin/borrow-repay` type BORROW, isIsolated TRUE (-3006 over maxBorrowable, -3045 pool empty, -11008 account limit). */
  async borrow(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    return this.borrowRepay(symbol, asset, amount, 'BORROW');
  }

  /** `POST /sapi/v1/margin/borrow-repay` type REPAY, isIsolated TRUE (interest first, then principal; -3015 over the loan). */
  async repay(symbol: string, asset: string, amount: D): Promise<Result<{ tranId: string }, VenueRejection>> {
    return this.borrowRepay(symbol, asset, amount, 'REPAY');
  }

  private async borrowRepay(symbol: string, asset: string, amount: D, type: 'BORROW' | 'REPAY'): Promise<Result<{ tranId: string }, VenueRejection>> {
    const p = this.pair(symbol);
    if (!p.ok) return p;
    const r = await this.write(MARGIN_ENDPOINT_COST.borrowRepay, (ex) => ex.sapiPostMarginBorrowRepay({ asset, isIsolated: ISOLATED, symbol, amount: str(amount), type }));
    return r.ok ? ok({ tranId: s((r.value as Raw)['tranId']) }) : r;
  }

  // ---------------------------------------------------------------- account reads

  /** `GET /sapi/v1/margin/isolated/account?symbols=`: the pair's balances, loans and margin level. */
  async isolatedAccount(symbol: string): Promise<IsolatedMarginAccount> {
    this.pairOrThrow(symbol);
    const raw = (await this.read(MARGIN_ENDPOINT_COST.isolatedAccount, (ex) => ex.sapiGetMarginIsolatedAccount({ symbols: symbol }))) as Raw;
    const a = ((raw['assets'] as Raw[] | undefined) ?? []).find((x) => s(x['symbol']) === symbol);
    if (!a) throw new VenueCallError({ code: '-3003', message: `Margin account does not exist. (no isolated account for ${symbol})` });
    return isolatedAccountOf(a);
  }

  /** `GET /sapi/v1/margin/maxBorrowable?asset&isolatedSymbol`: what may be borrowed now, and the pair's borrow limit. */
  async maxBorrowable(symbol: string, asset: string): Promise<{ amount: D; borrowLimit: D }> {
    this.pairOrThrow(symbol);
    const raw = (await this.read(MARGIN_ENDPOINT_COST.maxBorrowable, (ex) => ex.sapiGetMarginMaxBorrowable({ asset, isolatedSymbol: symbol }))) as Raw;
    return { amount: dOr(raw['amount']), borrowLimit: dOr(raw['borrowLimit']) };
  }

  /** `GET /sapi/v1/margin/maxTransferable?asset&isolatedSymbol`: what may be transferred out now. */
  async maxTransferable(symbol: string, asset: string): Promise<{ amount: D }> {
    this.pairOrThrow(symbol);
    const raw = (await this.read(MARGIN_ENDPOINT_COST.maxTransferable, (ex) => ex.sapiGetMarginMaxTransferable({ asset, isolatedSymbol: symbol }))) as Raw;
    return { amount: dOr(raw['amount']) };
  }

  /**
   * `GET /sapi/v1/margin/interestHistory?asset&isolatedSymbol[&startTime]`, every page
   * (`current`, `size` 100) — Binance answers newest first.
   */
  async interestHistory(symbol: string, asset: string, sinceMs?: number): Promise<MarginInterestRow[]> {
    this.pairOrThrow(symbol);
    const size = 100;
    const out: MarginInterestRow[] = [];
    const seen = new Set<string>();
    for (let current = 1; ; current++) {
      const q: Raw = { asset, isolatedSymbol: symbol, current, size };
      if (sinceMs !== undefined) q['startTime'] = sinceMs;
      const raw = (await this.read(MARGIN_ENDPOINT_COST.interestHistory, (ex) => ex.sapiGetMarginInterestHistory(q))) as Raw;
      const rows = (raw['rows'] as Raw[] | undefined) ?? [];
      let added = 0;
      for (const r of rows) {
        if (seen.has(s(r['txId']))) continue;
        seen.add(s(r['txId']));
        added++;
        out.push({
          txId: s(r['txId']), asset: s(r['asset']), isolatedSymbol: s(r['isolatedSymbol']), principal: dOr(r['principal']), interest: dOr(r['interest']),
          interestRate: dOr(r['interestRate']), type: s(r['type']), ts: Number(r['interestAccuredTime'] ?? r['interestAccruedTime'] ?? 0),
        });
      }
      const total = Number(raw['total'] ?? 0);
      // A venue that ignores `current` answers the same page again: nothing new ends the walk too.
      if (rows.length < size || out.length >= total || added === 0) break;
    }
    return out;
  }

  /** `GET /sapi/v1/margin/myTrades?symbol&isIsolated=TRUE` (paged by fromId, 1000 a page), from `sinceMs` when given. */
  async trades(symbol: string, sinceMs?: number): Promise<MarginTrade[]> {
    this.pairOrThrow(symbol);
    const out: MarginTrade[] = [];
    let fromId: string | undefined;
    for (;;) {
      const q: Raw = { symbol, isIsolated: ISOLATED, limit: 1000 };
      if (fromId) q['fromId'] = fromId;
      else if (sinceMs !== undefined) q['startTime'] = sinceMs;
      const page = (await this.read(MARGIN_ENDPOINT_COST.myTrades, (ex) => ex.sapiGetMarginMyTrades(q))) as Raw[];
      for (const t of page) if (!(fromId && s(t['id']) === fromId)) out.push(marginTradeOf(t));
      if (page.length < 1000) break;
      fromId = s(page[page.length - 1]['id']);
    }
    return out;
  }

  // ---------------------------------------------------------------- orders

  /**
   * `POST /sapi/v1/margin/order` isIsolated TRUE, newOrderRespType FULL, newClientOrderId =
   * clientOrderId, quantity and price as exact strings, sideEffectType as asked. Answers the
   * order with its fills and what a MARGIN_BUY borrowed. Outcome unknown (timeout, HTTP 503,
   * -1007) → `GET /sapi/v1/margin/order?origClientOrderId=` first (and its trades): found → that
   * order; -2013 → the same request (same client id) once more; cannot tell → the
   * OUTCOME_UNKNOWN rejection. Never a blind second order.
   */
  async placeOrder(o: MarginOrderPlacement): Promise<Result<MarginOrderSnapshot, VenueRejection>> {
    const p = this.pair(o.symbol);
    if (!p.ok) return p;
    const params: Raw = { symbol: o.symbol, side: o.side, type: o.type, quantity: str(o.quantity) };
    if (o.type !== 'MARKET' && o.price) params['price'] = str(o.price);
    if (o.type === 'LIMIT') params['timeInForce'] = o.timeInForce ?? 'GTC';
    Object.assign(params, { newClientOrderId: o.clientOrderId, isIsolated: ISOLATED, sideEffectType: o.sideEffectType, newOrderRespType: 'FULL' });
    const place = async (): Promise<Result<MarginOrderSnapshot, VenueFailure>> => {
      const r = await this.requests.call('write', MARGIN_ENDPOINT_COST.order, (ex) => ex.sapiPostMarginOrder(params));
      return r.ok ? ok(marginOrderSnapshot(r.value as Raw)) : r;
    };
    const query = async (): Promise<Result<MarginOrderSnapshot | null, VenueFailure>> => {
      const q = await this.queryOrder(o.symbol, { clientOrderId: o.clientOrderId });
      if (!q.ok || q.value === null || q.value.executedQty.isZero()) return q;
      const t = await this.requests.call('read', MARGIN_ENDPOINT_COST.myTrades, (ex) => ex.sapiGetMarginMyTrades({ symbol: o.symbol, isIsolated: ISOLATED, orderId: q.value?.orderId }));
      if (t.ok) q.value.fills = (t.value as Raw[]).map((x) => ({ tradeId: s(x['id']), price: dOr(x['price']), qty: dOr(x['qty']), commission: dOr(x['commission']), commissionAsset: s(x['commissionAsset']) }));
      else this.logLine(`binance-margin ${this.accountId}: order ${o.clientOrderId} found, its trades not (${t.error.rejection.code}); answered without fills`);
      return q;
    };
    return this.requests.placeResolvingUnknown(place, query);
  }

  /** `GET /sapi/v1/margin/order` by orderId or origClientOrderId; -2013 "Order does not exist." → null. */
  private async queryOrder(symbol: string, ref: { orderId?: string; clientOrderId?: string }): Promise<Result<MarginOrderSnapshot | null, VenueFailure>> {
    const q: Raw = { symbol, isIsolated: ISOLATED, ...refParams(ref) };
    const r = await this.requests.call('read', MARGIN_ENDPOINT_COST.queryOrder, (ex) => ex.sapiGetMarginOrder(q));
    if (r.ok) return ok(marginOrderSnapshot(r.value as Raw));
    if (r.error.class.reason === 'UNKNOWN_ORDER') return ok(null);
    return r;
  }

  /**
   * `DELETE /sapi/v1/margin/order` by orderId or origClientOrderId (-2011 "Unknown order sent."
   * when nothing open has that id). Unknown outcome or -2011 → the order is queried: CANCELED
   * counts as done.
   */
  async cancelOrder(symbol: string, ref: { orderId?: string; clientOrderId?: string }): Promise<Result<MarginOrderSnapshot, VenueRejection>> {
    const p = this.pair(symbol);
    if (!p.ok) return p;
    if (!ref.orderId && !ref.clientOrderId) return err({ code: '-1102', message: 'cancelOrder needs an orderId or a clientOrderId' });
    const q: Raw = { symbol, isIsolated: ISOLATED, ...refParams(ref) };
    const r = await this.requests.call('write', MARGIN_ENDPOINT_COST.cancel, (ex) => ex.sapiDeleteMarginOrder(q));
    if (r.ok) return ok(marginOrderSnapshot(r.value as Raw));
    if (r.error.class.outcomeUnknown || r.error.class.reason === 'UNKNOWN_ORDER') {
      const back = await this.queryOrder(symbol, ref);
      if (back.ok && back.value && back.value.status === 'CANCELED') return ok(back.value);
    }
    return err(r.error.rejection);
  }

  /** `GET /sapi/v1/margin/order`; null when the venue does not know the order. */
  async order(symbol: string, ref: { orderId?: string; clientOrderId?: string }): Promise<MarginOrderSnapshot | null> {
    this.pairOrThrow(symbol);
    const r = await this.queryOrder(symbol, ref);
    if (!r.ok) throw new VenueCallError(r.error.rejection);
    return r.value;
  }

  /** `GET /sapi/v1/margin/openOrders?symbol&isIsolated=TRUE`. */
  async openOrders(symbol: string): Promise<MarginOrderSnapshot[]> {
    this.pairOrThrow(symbol);
    const raw = (await this.read(MARGIN_ENDPOINT_COST.openOrders, (ex) => ex.sapiGetMarginOpenOrders({ symbol, isIsolated: ISOLATED }))) as Raw[];
    return raw.map(marginOrderSnapshot);
  }

  // ---------------------------------------------------------------- user data stream

  /**
   * The pair's user-data stream through ccxt.pro `binance`: `POST /sapi/v1/userListenToken`
   * (symbol, isIsolated) then `userDataStream.subscribe.listenToken` on the WebSocket API —
   * started by `watchOrders(pair, …, {type: 'margin', marginMode: 'isolated'})`. One ccxt.pro
   * instance per pair (ccxt keeps a single listenToken per instance). `onMessage` gets the raw
   * executionReport / outboundAccountPosition / balanceUpdate events, unwrapped from the
   * `{subscriptionId, event}` frame, before ccxt's caches. Resolves once the subscription is
   * confirmed; answers the function that stops this listener.
   * @throws VenueCallError when the stream cannot be opened
   */
  async watchUserData(symbol: string, onMessage: (m: MarginUserDataMessage) => void): Promise<() => void> {
    this.pairOrThrow(symbol);
    if (this.closed) throw new VenueCallError({ code: 'CLOSED', message: 'the adapter is closed' });
    let st = this.streams.get(symbol);
    if (!st) {
      st = this.startStream(symbol);
      this.streams.set(symbol, st);
    }
    const stream = st;
    stream.listeners.add(onMessage);
    try {
      await stream.ready;
    } catch (e) {
      stream.listeners.delete(onMessage);
      if (this.streams.get(symbol) === stream) {
        this.streams.delete(symbol);
        await this.closeStream(stream);
      }
      if (e instanceof VenueCallError) throw e;
      throw new VenueCallError({ code: 'USER_DATA_STREAM', message: redact(messageOf(e), this.secrets) });
    }
    return () => void stream.listeners.delete(onMessage);
  }

  private startStream(symbol: string): UserStream {
    const ex = new ccxt.pro.binance(this.ccxtConfig());
    this.configure(ex);
    const listeners = new Set<(m: MarginUserDataMessage) => void>();
    const timers = new Set<ReturnType<typeof setTimeout>>();
    // Tap the raw messages; ccxt.pro keeps handling them (caches, subscription answers).
    const onMessage = ex.handleMessage.bind(ex);
    ex.handleMessage = (client: Parameters<ProEx['handleMessage']>[0], message: unknown) => {
      const m = unwrapEvent(message);
      if (m && USER_EVENTS.has(m.e)) {
        for (const l of listeners) {
          try {
            l(m);
          } catch (e) {
            this.logLine(`binance-margin ${this.accountId} ${symbol}: user-data listener failed: ${messageOf(e)}`);
          }
        }
      } else if (m && m.e === 'eventStreamTerminated') {
        this.onAlert({ kind: 'USER_DATA_STREAM', symbol, message: `user-data stream of ${symbol} terminated by the venue; resubscribing` });
      }
      return onMessage(client, message);
    };
    // ccxt 4.5.84 creates an authentication future nobody awaits and rejects it when the
    // listenToken subscription fails: an unhandled rejection that ends the process. Mark every
    // future of this instance's clients handled (awaiters still see the rejection); nothing
    // process-wide is installed.
    const makeClient = ex.client.bind(ex);
    const guarded = new WeakSet<object>();
    ex.client = (url: Parameters<ProEx['client']>[0]) => {
      const c = makeClient(url);
      if (!guarded.has(c)) {
        guarded.add(c);
        const future = c.future.bind(c);
        c.future = (hash: Parameters<typeof c.future>[0]) => {
          const f = future(hash);
          (f as unknown as Promise<unknown>).catch(() => undefined);
          return f;
        };
      }
      return c;
    };
    // ccxt.pro schedules the listenToken renewal with a bare setTimeout (~24 h) that its
    // close() never clears: track those timers so close() can.
    ex.delay = (timeout: number, method: unknown, ...args: unknown[]) => {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!this.closed) ex.spawn(method, ...args);
      }, timeout);
      timers.add(t);
    };
    const stream: UserStream = { ex, listeners, timers, ready: Promise.resolve() };
    stream.ready = new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (e?: unknown) => {
        if (settled) return;
        settled = true;
        if (e === undefined) resolve();
        else reject(e);
      };
      const subscribed = () => {
        const o = ex.options['margin'] as { lastAuthenticatedTime?: number } | undefined;
        return (o?.lastAuthenticatedTime ?? 0) > 0;
      };
      const loop = async () => {
        try {
          await ex.loadMarkets();
          // ccxt refuses plain ws:// (the local venue) until its http agent is loaded.
          if (this.mode === 'local') await ex.loadHttpProxyAgent();
        } catch (e) {
          settle(new VenueCallError(toVenueFailure(e, {}, this.secrets).rejection));
          return;
        }
        const unified = (ex.markets_by_id?.[symbol] as Array<{ symbol: string }> | undefined)?.[0]?.symbol;
        if (!unified) {
          settle(new VenueCallError({ code: '-1121', message: `Invalid symbol. (${symbol})` }));
          return;
        }
        let failures = 0;
        while (!this.closed && this.streams.get(symbol) === stream) {
          // Catch the watch promise itself: a failed subscription must never be left unhandled.
          const watching = ex.watchOrders(unified, undefined, undefined, { type: 'margin', marginMode: 'isolated' });
          watching.catch(() => undefined);
          try {
            await watching;
            failures = 0;
          } catch (e) {
            if (this.closed) break;
            const msg = redact(messageOf(e), this.secrets);
            this.logLine(`binance-margin ${this.accountId} ${symbol}: user-data stream error: ${msg}`);
            if (!settled) {
              settle(new VenueCallError(toVenueFailure(e, {}, this.secrets).rejection));
              return;
            }
            if (++failures === 5) this.onAlert({ kind: 'USER_DATA_STREAM', symbol, message: `user-data stream failing: ${msg}` });
            // Real time, not the injected clock: this waits on real sockets.
            await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** failures)));
          }
        }
      };
      void loop();
      const deadline = Date.now() + Math.max(this.timeoutMs, 10_000);
      const poll = () => {
        if (settled) return;
        if (subscribed()) return settle();
        if (this.closed) return settle(new VenueCallError({ code: 'CLOSED', message: 'the adapter was closed' }));
        if (Date.now() > deadline) return settle(new VenueCallError({ code: 'TIMEOUT', message: `user-data stream of ${symbol} not subscribed within ${Math.max(this.timeoutMs, 10_000)} ms` }));
        setTimeout(poll, 5);
      };
      poll();
    });
    stream.ready.catch(() => undefined);
    return stream;
  }

  private async closeStream(st: UserStream): Promise<void> {
    for (const t of st.timers) clearTimeout(t);
    st.timers.clear();
    st.listeners.clear();
    try {
      await st.ex.close();
    } catch (e) {
      this.logLine(`binance-margin ${this.accountId}: closing a user-data stream: ${messageOf(e)}`);
    }
  }

  /** Stop every user-data stream and close every socket. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.streams.values()];
    this.streams.clear();
    await Promise.all(all.map((st) => this.closeStream(st)));
    await this.exchange.close();
  }
}

function refParams(ref: { orderId?: string; clientOrderId?: string }): Raw {
  return ref.orderId ? { orderId: ref.orderId } : { origClientOrderId: ref.clientOrderId };
}

/** `{subscriptionId, event: {...}}` (WebSocket API) or a bare event → the event, when it has `e`. */
function unwrapEvent(message: unknown): MarginUserDataMessage | null {
  if (!message || typeof message !== 'object' || Array.isArray(message)) return null;
  const inner = (message as Raw)['event'];
  const m = (inner && typeof inner === 'object' && !Array.isArray(inner) ? inner : message) as Raw;
  return typeof m['e'] === 'string' ? (m as MarginUserDataMessage) : null;
}

/** Raw margin order (POST FULL answer, GET order, openOrders entry, DELETE answer) → snapshot (exact decimals from the strings). */
export function marginOrderSnapshot(o: Raw): MarginOrderSnapshot {
  const status = s(o['status']);
  const fills = ((o['fills'] as Raw[] | undefined) ?? []).map((f) => ({
    tradeId: s(f['tradeId']), price: dOr(f['price']), qty: dOr(f['qty']), commission: dOr(f['commission']), commissionAsset: s(f['commissionAsset']),
  }));
  const borrowed = o['marginBuyBorrowAmount'];
  return {
    symbol: s(o['symbol']), orderId: s(o['orderId']), clientOrderId: s(o['clientOrderId']), side: s(o['side']) as OrderSide, type: s(o['type']),
    status: (ORDER_STATUSES.has(status) ? status : 'NEW') as VenueMarginOrderStatus, timeInForce: s(o['timeInForce']), price: dOr(o['price']), origQty: dOr(o['origQty']),
    executedQty: dOr(o['executedQty']), cummulativeQuoteQty: dOr(o['cummulativeQuoteQty']), fills,
    marginBuyBorrowAmount: borrowed === undefined || borrowed === null || borrowed === '' ? null : dec(String(borrowed)),
    marginBuyBorrowAsset: o['marginBuyBorrowAsset'] ? s(o['marginBuyBorrowAsset']) : null,
    updateTime: Number(o['transactTime'] ?? o['updateTime'] ?? o['time'] ?? 0),
  };
}

/** Raw `GET /sapi/v1/margin/myTrades` row → trade. */
export function marginTradeOf(t: Raw): MarginTrade {
  return {
    tradeId: s(t['id']), orderId: s(t['orderId']), symbol: s(t['symbol']), side: bool(t['isBuyer']) ? 'BUY' : 'SELL', price: dOr(t['price']), qty: dOr(t['qty']),
    commission: dOr(t['commission']), commissionAsset: s(t['commissionAsset']), maker: bool(t['isMaker']), ts: Number(t['time'] ?? 0),
  };
}

/** One `assets[]` entry of `GET /sapi/v1/margin/isolated/account` → account. */
export function isolatedAccountOf(a: Raw): IsolatedMarginAccount {
  const asset = (x: unknown): IsolatedAssetBalance => {
    const r = (x ?? {}) as Raw;
    return { asset: s(r['asset']), free: dOr(r['free']), locked: dOr(r['locked']), borrowed: dOr(r['borrowed']), interest: dOr(r['interest']), netAsset: dOr(r['netAsset']), totalAsset: dOr(r['totalAsset']) };
  };
  return {
    symbol: s(a['symbol']), base: asset(a['baseAsset']), quote: asset(a['quoteAsset']), marginLevel: dOr(a['marginLevel']), marginLevelStatus: s(a['marginLevelStatus']),
    liquidatePrice: dOr(a['liquidatePrice']), indexPrice: dOr(a['indexPrice']), tradeEnabled: a['tradeEnabled'] === undefined ? true : bool(a['tradeEnabled']),
    enabled: a['enabled'] === undefined ? true : bool(a['enabled']),
  };
}
