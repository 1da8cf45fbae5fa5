import * as ccxt from 'ccxt';

/** The ccxt.pro exchange class the adapter drives. */
type Ex = InstanceType<typeof ccxt.pro.binanceusdm>;
import type { InstrumentRules, OrderPurpose, OrderSide, VenueId } from '@bulwark/contracts';
import { dec, err, IOC_EXPIRED, ok, parseBinanceUsdmRules, str, VenueErrors, ZERO, type D, type PaperAccountView, type PaperFill, type PaperVenueEvent, type Result, type VenueRejection } from '@bulwark/domain';
import type {
  LiveVenuePort,
  ProtectiveOrderRequest,
  VenueAlgoSnapshot,
  VenueOrderRequest,
  VenueOrderSnapshot,
  VenuePositionSnapshot,
  VenueTrade,
} from '../port';
import { messageOf, redact, type VenueFailure } from './errors';
import { localApiUrls } from './local-urls';
import { RateBudget, systemClock, type BudgetAlert, type Clock, type RequestCost } from './rate-budget';
import { DEFAULT_RETRY, type RetryPolicy } from './retry';
import { VenueRequests, VenueCallError } from './requests';


/**
 * Request costs of the endpoints the adapter calls (IP weight, order count), from Binance's
 * USDⓈ-M REST docs (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api
 * and …/account/rest-api): New Order / New Algo Order weigh 0 on the IP limit and 1 on both
 * order-count limits; queries 1 (userTrades, positionRisk, balance 5; positionSide/dual 30;
 * income 30; openOrders without symbol 40).
 */
export const ENDPOINT_COST = {
  exchangeInfo: { weight: 1, orders: 0 },
  leverageBracket: { weight: 1, orders: 0 },
  time: { weight: 1, orders: 0 },
  leverage: { weight: 1, orders: 0 },
  marginType: { weight: 1, orders: 0 },
  positionSideDualGet: { weight: 30, orders: 0 },
  positionSideDualPost: { weight: 1, orders: 0 },
  order: { weight: 0, orders: 1 },
  algoOrder: { weight: 0, orders: 1 },
  cancel: { weight: 1, orders: 0 },
  queryOrder: { weight: 1, orders: 0 },
  openOrders: { weight: 1, orders: 0 },
  openOrdersAll: { weight: 40, orders: 0 },
  userTrades: { weight: 5, orders: 0 },
  positionRisk: { weight: 5, orders: 0 },
  balance: { weight: 5, orders: 0 },
  income: { weight: 30, orders: 0 },
  admin: { weight: 1, orders: 0 },
} as const satisfies Record<string, RequestCost>;

/** Alerts the adapter raises (never containing credentials). */
export type VenueAlert = BudgetAlert | { kind: 'USER_DATA_STREAM'; message: string };

export interface BinanceUsdmVenueOptions {
  /** The Bulwark account these keys trade; calls for any other account are refused. */
  accountId: string;
  apiKey: string;
  apiSecret: string;
  /** live = fapi.binance.com; demo = Binance demo trading (ccxt `enableDemoTrading`); local = the local venue at restBase/wsBase. */
  mode: 'live' | 'demo' | 'local';
  /** Required for local: http://127.0.0.1:PORT. */
  restBase?: string;
  /** Required for local: ws://127.0.0.1:PORT. */
  wsBase?: string;
  clock?: Clock;
  /** Jitter source for retries (default Math.random). */
  random?: () => number;
  onAlert?: (a: VenueAlert) => void;
  /** Highest leverage this adapter will ever set (default 20). */
  leverageCap?: number;
  /** A budget shared with other adapters of the same account/IP (default: a new one). */
  budget?: RateBudget;
  retry?: RetryPolicy;
  /** ccxt request timeout, ms (default 10 000). */
  timeoutMs?: number;
  /** Diagnostic lines, already redacted. */
  log?: (line: string) => void;
}


/** Raw user-data stream message (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE, …). */
export type UserDataMessage = { e: string; [k: string]: unknown };

type Raw = Record<string, unknown>;
const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const dOr = (v: unknown, fallback: D = ZERO): D => (v === undefined || v === null || v === '' ? fallback : dec(String(v)));
const dOrNull = (v: unknown): D | null => (v === undefined || v === null || v === '' || String(v) === '0' ? null : dec(String(v)));
const bool = (v: unknown): boolean => v === true || v === 'true';

const ORDER_STATUSES = new Set(['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'EXPIRED', 'REJECTED']);
const TERMINAL_ALGO = new Set(['CANCELED', 'FINISHED', 'REJECTED', 'EXPIRED', 'TRIGGERED']);
const USER_EVENTS = new Set(['ORDER_TRADE_UPDATE', 'ALGO_UPDATE', 'ACCOUNT_UPDATE', 'ACCOUNT_CONFIG_UPDATE', 'listenKeyExpired', 'MARGIN_CALL']);

/**
 * `LiveVenuePort` on Binance USDⓈ-M through ccxt 4.5.84 `binanceusdm` (REST) and ccxt.pro
 * (user-data websocket). One instance trades one account with its keys.
 *
 * - Decimals are exact: every number is read from ccxt's raw `info` / implicit-API strings
 *   with `dec()`, never from ccxt's float fields; quantities and prices are sent as the
 *   domain's strings.
 * - Every request goes through the account's `RateBudget` (≤ 80 % of Binance's limits, 429 →
 *   wait Retry-After, 418 → all calls stopped and an alert) and the retry policy (full-jitter
 *   backoff, retryable classifications only; -1021 → `loadTimeDifference()` and one retry).
 * - Writes whose outcome is unknown (timeout, HTTP 503, -1007) are resolved by querying the
 *   order by its client id first; the same client id is re-sent only when the venue says the
 *   order does not exist (-2013). No second order is ever placed blindly.
 * - Messages never contain the API key, the secret or a signature (`redact`).
 */
export class BinanceUsdmVenue implements LiveVenuePort {
  readonly venue: VenueId = 'binance-usdm';
  readonly accountId: string;
  /** The ccxt.pro exchange (exposed for tests and diagnostics only). */
  readonly exchange: Ex;
  readonly budget: RateBudget;
  protected readonly mode: 'live' | 'demo' | 'local';
  protected readonly clock: Clock;
  protected readonly leverageCap: number;
  private readonly secrets: string[];
  private readonly random: () => number;
  private readonly retryPolicy: RetryPolicy;
  private readonly onAlert: (a: VenueAlert) => void;
  private readonly logLine: (line: string) => void;
  private readonly requests: VenueRequests<Ex>;
  private marketsLoaded = false;
  private knownMode: 'ONE_WAY' | 'HEDGE' | null = null;
  /** symbol → leverage this adapter set. */
  protected readonly leverageBySymbol = new Map<string, number>();
  /** clientOrderId → what Bulwark placed (purpose, symbol). */
  protected readonly placed = new Map<string, { symbol: string; purpose: OrderPurpose }>();
  /** venueOrderId → clientOrderId, for trades (userTrades carries no client id). */
  private readonly clientIdOf = new Map<string, string>();
  /** Open regular orders and algo orders by client id, and signed position quantities, as far as this adapter has seen. */
  protected readonly openOrderIds = new Set<string>();
  protected readonly openAlgoIds = new Set<string>();
  protected readonly positionQty = new Map<string, D>();
  private readonly listeners = new Set<(m: UserDataMessage) => void>();
  private userStream: Promise<void> | null = null;
  private closed = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(o: BinanceUsdmVenueOptions) {
    this.accountId = o.accountId;
    this.mode = o.mode;
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
    this.retryPolicy = o.retry ?? DEFAULT_RETRY;
    this.leverageCap = o.leverageCap ?? 20;
    this.secrets = [o.apiKey, o.apiSecret];
    Object.defineProperty(this, 'secrets', { enumerable: false });
    this.onAlert = (a) => (o.onAlert ?? (() => undefined))({ ...a, message: redact(a.message, this.secrets) });
    this.logLine = (line) => o.log?.(redact(line, this.secrets));
    this.budget = o.budget ?? new RateBudget(this.clock, (a) => this.onAlert(a));
    const ex = new ccxt.pro.binanceusdm({ apiKey: o.apiKey, secret: o.apiSecret, enableRateLimit: false, timeout: o.timeoutMs ?? 10_000 });
    ex.options['fetchCurrencies'] = false; // sapi capital endpoints: not needed, absent on demo/local
    ex.options['warnOnFetchOpenOrdersWithoutSymbol'] = false;
    if (o.mode === 'demo') ex.enableDemoTrading(true);
    if (o.mode === 'local') {
      if (!o.restBase || !o.wsBase) throw new Error('BinanceUsdmVenue: mode local needs restBase and wsBase');
      ex.urls['api'] = localApiUrls(ex.urls['api'], o.restBase, o.wsBase) as typeof ex.urls['api'];
    }
    this.requests = new VenueRequests<Ex>({
      venue: this.venue, label: `binanceusdm ${this.accountId}`, budget: this.budget, clock: this.clock, random: this.random, retryPolicy: this.retryPolicy,
      secrets: this.secrets, log: this.logLine, timeCost: ENDPOINT_COST.time,
    });
    this.requests.attach(ex);
    // Tap the raw user-data messages; ccxt.pro keeps handling them (caches, listen key).
    const onMessage = ex.handleMessage.bind(ex);
    ex.handleMessage = (client: Parameters<Ex['handleMessage']>[0], message: unknown) => {
      if (message && typeof message === 'object' && !Array.isArray(message) && USER_EVENTS.has(s((message as Raw)['e']))) this.onUserMessage(message as UserDataMessage);
      return onMessage(client, message);
    };
    // ccxt.pro schedules the listen-key keep-alive with a bare 20-minute setTimeout that its
    // close() never clears: track those timers so close() can (the process may then exit).
    ex.delay = (timeout: number, method: unknown, ...args: unknown[]) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.closed) ex.spawn(method, ...args);
      }, timeout);
      this.timers.add(t);
    };
    this.exchange = ex;
  }

  // ---------------------------------------------------------------- request machinery

  /** A request with the retry policy (see `VenueRequests.call`). */
  protected call<T>(kind: 'read' | 'write', cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<Result<T, VenueFailure>> {
    return this.requests.call(kind, cost, fn);
  }

  /** A read that must succeed: the value, or a VenueCallError carrying the redacted rejection. */
  protected read<T>(cost: RequestCost, fn: (ex: Ex) => Promise<T>): Promise<T> {
    return this.requests.read(cost, fn);
  }

  protected async ensureMarkets(): Promise<void> {
    if (this.marketsLoaded) return;
    await this.read(ENDPOINT_COST.exchangeInfo, (ex) => ex.loadMarkets());
    this.marketsLoaded = true;
  }

  /** Binance id (BTCUSDT) → ccxt's unified symbol (BTC/USDT:USDT). */
  protected unified(symbol: string): string {
    const m = this.exchange.markets_by_id?.[symbol];
    const first = Array.isArray(m) ? m[0] : m;
    if (!first) throw new VenueCallError({ code: '-1121', message: `Invalid symbol. (${symbol})` });
    return first.symbol as string;
  }

  private mine(accountId: string): Result<true, VenueRejection> {
    return accountId === this.accountId ? ok(true) : err({ code: '-2015', message: `this adapter trades account ${this.accountId} only (asked for ${accountId})` });
  }

  // ---------------------------------------------------------------- market and account setup

  /**
   * The raw rules of a symbol: its exchangeInfo entry (GET /fapi/v1/exchangeInfo) and its
   * leverage brackets (GET /fapi/v1/leverageBracket), as `parseBinanceUsdmRules` takes them.
   * https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
   */
  async loadRules(symbol: string): Promise<{ exchangeInfoSymbol: unknown; leverageBrackets: unknown }> {
    await this.ensureMarkets();
    const info = (this.exchange.markets?.[this.unified(symbol)] as { info: unknown } | undefined)?.info;
    const brackets = await this.read(ENDPOINT_COST.leverageBracket, (ex) => ex.fapiPrivateGetLeverageBracket({ symbol }));
    return { exchangeInfoSymbol: info, leverageBrackets: brackets };
  }

  /** The symbol's rules from the venue (`loadRules`), parsed (`parseBinanceUsdmRules`: filters, brackets, VIP 0 fees). @throws RulesParseError on an answer that is not rules */
  async instrumentRules(symbol: string): Promise<{ contract: InstrumentRules; source: string }> {
    const raw = await this.loadRules(symbol);
    const contract = parseBinanceUsdmRules({ venue: this.venue, exchangeInfoSymbol: raw.exchangeInfoSymbol, leverageBrackets: raw.leverageBrackets });
    return { contract, source: `${this.venue} GET /fapi/v1/exchangeInfo + GET /fapi/v1/leverageBracket (ccxt)` };
  }

  /** `POST /fapi/v1/positionSide/dual` dualSidePosition=false; -4059 "No need to change position side." = UNCHANGED. */
  async setOneWayMode(accountId: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    const r = await this.call('write', ENDPOINT_COST.positionSideDualPost, (ex) => ex.fapiPrivatePostPositionSideDual({ dualSidePosition: 'false' }));
    if (r.ok) return (this.knownMode = 'ONE_WAY'), ok('CHANGED');
    if (r.error.rejection.code === '-4059') return (this.knownMode = 'ONE_WAY'), ok('UNCHANGED');
    return err(r.error.rejection);
  }

  /** `POST /fapi/v1/marginType` ISOLATED; -4046 "No need to change margin type." = UNCHANGED. */
  async setIsolatedMargin(accountId: string, symbol: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    const r = await this.call('write', ENDPOINT_COST.marginType, (ex) => ex.fapiPrivatePostMarginType({ symbol, marginType: 'ISOLATED' }));
    if (r.ok) return ok('CHANGED');
    if (r.error.rejection.code === '-4046') return ok('UNCHANGED');
    return err(r.error.rejection);
  }

  /**
   * `POST /fapi/v1/leverage`. The adapter's leverage cap is enforced before any call
   * (rejection LEVERAGE_CAP). Answers the leverage and `maxNotionalValue` (USDT).
   */
  async setLeverage(accountId: string, symbol: string, leverage: number): Promise<Result<{ leverage: number; maxNotional: D }, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    if (!Number.isInteger(leverage) || leverage < 1 || leverage > this.leverageCap) {
      return err({ code: 'LEVERAGE_CAP', message: `leverage ${leverage} refused: this adapter's cap is ${this.leverageCap}` });
    }
    const r = await this.call('write', ENDPOINT_COST.leverage, (ex) => ex.fapiPrivatePostLeverage({ symbol, leverage }));
    if (!r.ok) return err(r.error.rejection);
    const raw = r.value as Raw;
    const lev = Number(s(raw['leverage']) || leverage);
    this.leverageBySymbol.set(symbol, lev);
    return ok({ leverage: lev, maxNotional: dOr(raw['maxNotionalValue']) });
  }

  /** `GET /fapi/v1/positionSide/dual` (weight 30): ONE_WAY unless dualSidePosition. */
  async positionMode(accountId: string): Promise<'ONE_WAY' | 'HEDGE'> {
    if (!this.mine(accountId).ok) throw new VenueCallError({ code: '-2015', message: `unknown account ${accountId}` });
    const raw = (await this.read(ENDPOINT_COST.positionSideDualGet, (ex) => ex.fapiPrivateGetPositionSideDual())) as Raw;
    this.knownMode = bool(raw['dualSidePosition']) ? 'HEDGE' : 'ONE_WAY';
    return this.knownMode;
  }

  // ---------------------------------------------------------------- orders

  /**
   * Before any order: the keys' own account, one-way mode (read once, then cached; hedge mode
   * is refused with -4061 without sending anything) and the markets loaded.
   */
  private async readyToTrade(accountId: string): Promise<Result<void, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    try {
      const mode = this.knownMode ?? (await this.positionMode(accountId));
      if (mode === 'HEDGE') return err({ code: '-4061', message: "refused: the account is in hedge mode; Bulwark trades in one-way mode only (Order's position side does not match user's setting.)" });
      await this.ensureMarkets();
    } catch (e) {
      if (e instanceof VenueCallError) return err(e.rejection);
      throw e;
    }
    return ok(undefined);
  }

  /**
   * `POST /fapi/v1/order` (ccxt createOrder) with newClientOrderId = clientOrderId, quantity
   * and price as exact strings, reduceOnly. Refused with -4061 (POSITION_SIDE) when the account
   * is in hedge mode. Local mode only: a MARKET order with a triggerPrice carries
   * `bulwarkTriggerPrice` (real Binance would answer -1104). Outcome unknown → query by client
   * id first (see class doc).
   */
  async placeOrder(accountId: string, o: VenueOrderRequest): Promise<Result<{ venueOrderId: string }, VenueRejection>> {
    const ready = await this.readyToTrade(accountId);
    if (!ready.ok) return ready;
    const params: Raw = { newClientOrderId: o.clientOrderId, quantity: str(o.quantity) };
    if (o.reduceOnly) params['reduceOnly'] = true;
    // timeInForce (LIMIT only): the order's own GTC | IOC | FOK | GTX (post-only), GTC when absent.
    if (o.type === 'LIMIT' && o.price) Object.assign(params, { price: str(o.price), timeInForce: o.timeInForce ?? 'GTC' });
    if (this.mode === 'local' && o.type === 'MARKET' && o.triggerPrice) params['bulwarkTriggerPrice'] = str(o.triggerPrice);
    this.placed.set(o.clientOrderId, { symbol: o.symbol, purpose: o.purpose });
    const sym = this.unified(o.symbol);
    const place = async (): Promise<Result<{ venueOrderId: string }, VenueFailure>> => {
      const r = await this.call('write', ENDPOINT_COST.order, (ex) =>
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

  /** `GET /fapi/v1/order` by origClientOrderId; -2013 "Order does not exist." → null. */
  private async queryOrder(symbol: string, clientOrderId: string): Promise<Result<VenueOrderSnapshot | null, VenueFailure>> {
    const r = await this.call('read', ENDPOINT_COST.queryOrder, (ex) => ex.fapiPrivateGetOrder({ symbol, origClientOrderId: clientOrderId }));
    if (r.ok) return ok(orderSnapshot(r.value as Raw));
    if (r.error.class.reason === 'UNKNOWN_ORDER') return ok(null);
    return r;
  }

  /**
   * `DELETE /fapi/v1/order` by origClientOrderId. The symbol is the one the order was placed
   * with (else found among all open orders). Unknown outcome → the order is queried: CANCELED
   * counts as done.
   */
  async cancelOrder(accountId: string, clientOrderId: string): Promise<Result<{ venueOrderId: string }, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    let symbol = this.placed.get(clientOrderId)?.symbol;
    if (!symbol) {
      const all = await this.call('read', ENDPOINT_COST.openOrdersAll, (ex) => ex.fapiPrivateGetOpenOrders());
      if (!all.ok) return err(all.error.rejection);
      symbol = (all.value as Raw[]).map((x) => x).find((x) => s(x['clientOrderId']) === clientOrderId)?.['symbol'] as string | undefined;
      if (!symbol) return err({ code: '-2011', message: 'Unknown order sent.' });
    }
    const sym = symbol;
    const r = await this.call('write', ENDPOINT_COST.cancel, (ex) => ex.fapiPrivateDeleteOrder({ symbol: sym, origClientOrderId: clientOrderId }));
    if (r.ok) {
      this.openOrderIds.delete(clientOrderId);
      return ok({ venueOrderId: s((r.value as Raw)['orderId']) });
    }
    if (r.error.class.outcomeUnknown || r.error.class.reason === 'UNKNOWN_ORDER') {
      const q = await this.queryOrder(sym, clientOrderId);
      if (q.ok && q.value && q.value.status === 'CANCELED') {
        this.openOrderIds.delete(clientOrderId);
        return ok({ venueOrderId: q.value.venueOrderId });
      }
    }
    return err(r.error.rejection);
  }

  /** `GET /fapi/v1/order` by client order id; null when the venue does not know it. */
  async order(accountId: string, symbol: string, clientOrderId: string): Promise<VenueOrderSnapshot | null> {
    if (!this.mine(accountId).ok) return null;
    const r = await this.queryOrder(symbol, clientOrderId);
    if (!r.ok) throw new VenueCallError(r.error.rejection);
    return r.value;
  }

  /** `GET /fapi/v1/openOrders?symbol=`. */
  async openOrders(accountId: string, symbol: string): Promise<VenueOrderSnapshot[]> {
    if (!this.mine(accountId).ok) return [];
    const raw = (await this.read(ENDPOINT_COST.openOrders, (ex) => ex.fapiPrivateGetOpenOrders({ symbol }))) as Raw[];
    return raw.map(orderSnapshot);
  }

  // ---------------------------------------------------------------- protective (algo) orders

  /**
   * A reduce-only STOP_MARKET / TAKE_PROFIT_MARKET through ccxt createOrder with triggerPrice:
   * ccxt 4.5.84 routes conditional linear orders to `POST /fapi/v1/algoOrder` (algoType
   * CONDITIONAL) and sends the client id as `clientAlgoId` (binance.js createOrder /
   * createOrderRequest). Read back after placing (`GET /fapi/v1/algoOrder`): a missing order or
   * one whose symbol, side, type, trigger, quantity or reduce-only differ is canceled and the
   * answer is a PROTECTION_MISMATCH rejection. Outcome unknown → query by clientAlgoId first.
   */
  async placeProtectiveOrder(accountId: string, p: ProtectiveOrderRequest): Promise<Result<{ algoId: string }, VenueRejection>> {
    const ready = await this.readyToTrade(accountId);
    if (!ready.ok) return ready;
    const type = p.kind === 'STOP_LOSS' ? 'STOP_MARKET' : 'TAKE_PROFIT_MARKET';
    const sym = this.unified(p.symbol);
    this.placed.set(p.clientAlgoId, { symbol: p.symbol, purpose: p.kind });
    // workingType always sent: Binance's default is CONTRACT_PRICE, Bulwark's is MARK_PRICE.
    const params: Raw = { clientAlgoId: p.clientAlgoId, triggerPrice: str(p.triggerPrice), quantity: str(p.quantity), reduceOnly: true, workingType: p.workingType ?? 'MARK_PRICE' };
    const place = async (): Promise<Result<{ algoId: string }, VenueFailure>> => {
      const r = await this.call('write', ENDPOINT_COST.algoOrder, (ex) => ex.createOrder(sym, type, p.side === 'BUY' ? 'buy' : 'sell', Number(str(p.quantity)), undefined, params));
      if (!r.ok) return r;
      const info = (r.value.info ?? {}) as Raw;
      return ok({ algoId: s(info['algoId'] ?? r.value.id) });
    };
    const query = async (): Promise<Result<{ algoId: string } | null, VenueFailure>> => {
      const q = await this.queryAlgo(p.clientAlgoId);
      return q.ok ? ok(q.value ? { algoId: q.value.algoId } : null) : q;
    };
    const r = await this.requests.placeResolvingUnknown(place, query);
    if (!r.ok) return r;
    this.openAlgoIds.add(p.clientAlgoId);
    const back = await this.queryAlgo(p.clientAlgoId);
    if (!back.ok) return err({ code: 'PROTECTION_UNVERIFIED', message: `algo order ${r.value.algoId} placed but could not be read back: ${back.error.rejection.code} ${back.error.rejection.message}` });
    const a = back.value;
    const problems: string[] = [];
    if (!a) problems.push('not found');
    else {
      if (a.algoId !== r.value.algoId) problems.push(`algoId ${a.algoId} ≠ ${r.value.algoId}`);
      if (a.symbol !== p.symbol) problems.push(`symbol ${a.symbol}`);
      if (a.side !== p.side) problems.push(`side ${a.side}`);
      if (a.type !== type) problems.push(`type ${a.type}`);
      if (!a.triggerPrice.eq(p.triggerPrice)) problems.push(`triggerPrice ${str(a.triggerPrice)} ≠ ${str(p.triggerPrice)}`);
      if (!a.quantity || !a.quantity.eq(p.quantity)) problems.push(`quantity ${a.quantity ? str(a.quantity) : 'none'} ≠ ${str(p.quantity)}`);
      if (!a.reduceOnly) problems.push('not reduce-only');
      if (a.workingType !== undefined && a.workingType !== params['workingType']) problems.push(`workingType ${a.workingType} ≠ ${String(params['workingType'])}`);
    }
    if (problems.length > 0) {
      if (a && a.status === 'NEW') await this.cancelProtectiveOrder(accountId, p.symbol, p.clientAlgoId);
      return err({ code: 'PROTECTION_MISMATCH', message: `algo order ${p.clientAlgoId} read back differs: ${problems.join(', ')}` });
    }
    return r;
  }

  /** `GET /fapi/v1/algoOrder?clientAlgoId=`; -2013/-2011 → null. */
  private async queryAlgo(clientAlgoId: string): Promise<Result<VenueAlgoSnapshot | null, VenueFailure>> {
    const r = await this.call('read', ENDPOINT_COST.queryOrder, (ex) => ex.fapiPrivateGetAlgoOrder({ clientAlgoId }));
    if (r.ok) return ok(algoSnapshot(r.value as Raw));
    if (r.error.class.reason === 'UNKNOWN_ORDER') return ok(null);
    return r;
  }

  /** `DELETE /fapi/v1/algoOrder?clientAlgoId=`. */
  async cancelProtectiveOrder(accountId: string, _symbol: string, clientAlgoId: string): Promise<Result<{ algoId: string }, VenueRejection>> {
    const m = this.mine(accountId);
    if (!m.ok) return m;
    const r = await this.call('write', ENDPOINT_COST.cancel, (ex) => ex.fapiPrivateDeleteAlgoOrder({ clientAlgoId }));
    if (r.ok) {
      this.openAlgoIds.delete(clientAlgoId);
      return ok({ algoId: s((r.value as Raw)['algoId']) });
    }
    if (r.error.class.outcomeUnknown || r.error.class.reason === 'UNKNOWN_ORDER') {
      const q = await this.queryAlgo(clientAlgoId);
      if (q.ok && q.value && q.value.status === 'CANCELED') {
        this.openAlgoIds.delete(clientAlgoId);
        return ok({ algoId: q.value.algoId });
      }
    }
    return err(r.error.rejection);
  }

  /** `GET /fapi/v1/openAlgoOrders?symbol=`. */
  async openProtectiveOrders(accountId: string, symbol: string): Promise<VenueAlgoSnapshot[]> {
    if (!this.mine(accountId).ok) return [];
    const raw = await this.read(ENDPOINT_COST.openOrders, (ex) => ex.fapiPrivateGetOpenAlgoOrders({ symbol }));
    const list = Array.isArray(raw) ? raw : ((raw as Raw)['orders'] as Raw[] | undefined) ?? [];
    return (list as Raw[]).map(algoSnapshot);
  }

  /** The algo order with this clientAlgoId, null when the venue does not know it. */
  async protectiveOrder(accountId: string, _symbol: string, clientAlgoId: string): Promise<VenueAlgoSnapshot | null> {
    if (!this.mine(accountId).ok) return null;
    const r = await this.queryAlgo(clientAlgoId);
    if (!r.ok) throw new VenueCallError(r.error.rejection);
    return r.value;
  }

  /**
   * Cancel every open regular order (`DELETE /fapi/v1/allOpenOrders`) and algo order
   * (`DELETE /fapi/v1/algoOpenOrders`) of a symbol; answers how many were open just before.
   */
  async cancelAll(accountId: string, symbol: string): Promise<{ orders: number; algoOrders: number }> {
    if (!this.mine(accountId).ok) return { orders: 0, algoOrders: 0 };
    const orders = await this.openOrders(accountId, symbol);
    const algos = await this.openProtectiveOrders(accountId, symbol);
    if (orders.length > 0) await this.read(ENDPOINT_COST.cancel, (ex) => ex.fapiPrivateDeleteAllOpenOrders({ symbol }));
    if (algos.length > 0) await this.read(ENDPOINT_COST.cancel, (ex) => ex.fapiPrivateDeleteAlgoOpenOrders({ symbol }));
    for (const o of orders) this.openOrderIds.delete(o.clientOrderId);
    for (const a of algos) this.openAlgoIds.delete(a.clientAlgoId);
    return { orders: orders.length, algoOrders: algos.length };
  }

  // ---------------------------------------------------------------- account reads

  /** `GET /fapi/v1/userTrades` (paged by fromId, 1000 a page); client ids where this adapter placed the order. */
  async trades(accountId: string, symbol: string, sinceMs?: number): Promise<VenueTrade[]> {
    if (!this.mine(accountId).ok) return [];
    const out: VenueTrade[] = [];
    let fromId: string | undefined;
    for (;;) {
      const q: Raw = { symbol, limit: 1000 };
      if (fromId) q['fromId'] = fromId;
      else if (sinceMs !== undefined) q['startTime'] = sinceMs;
      const page = (await this.read(ENDPOINT_COST.userTrades, (ex) => ex.fapiPrivateGetUserTrades(q))) as Raw[];
      for (const t of page) {
        if (fromId && s(t['id']) === fromId) continue;
        out.push({
          tradeId: s(t['id']), venueOrderId: s(t['orderId']), clientOrderId: this.clientIdOf.get(s(t['orderId'])) ?? null, symbol: s(t['symbol']),
          side: s(t['side']) as OrderSide, price: dOr(t['price']), quantity: dOr(t['qty']), fee: dOr(t['commission']), feeAsset: s(t['commissionAsset']),
          realisedPnl: dOr(t['realizedPnl']), maker: bool(t['maker']), ts: Number(t['time']),
        });
      }
      if (page.length < 1000) break;
      fromId = s(page[page.length - 1]['id']);
    }
    return out;
  }

  /** `GET /fapi/v2/positionRisk` (v2 carries leverage and marginType); open positions only. */
  async positions(accountId: string, symbol?: string): Promise<VenuePositionSnapshot[]> {
    if (!this.mine(accountId).ok) return [];
    const raw = (await this.read(ENDPOINT_COST.positionRisk, (ex) => ex.fapiPrivateV2GetPositionRisk(symbol ? { symbol } : {}))) as Raw[];
    const out: VenuePositionSnapshot[] = [];
    for (const p of raw) {
      const amt = dOr(p['positionAmt']);
      if (amt.isZero()) continue;
      out.push({
        symbol: s(p['symbol']), side: amt.gt(0) ? 'LONG' : 'SHORT', quantity: amt.abs(), entryPrice: dOr(p['entryPrice']),
        isolatedMargin: dOr(p['isolatedWallet'] ?? p['isolatedMargin']), leverage: Number(s(p['leverage']) || '0'),
        marginType: s(p['marginType']).toLowerCase() === 'cross' ? 'cross' : 'isolated', liquidationPrice: dOrNull(p['liquidationPrice']), markPrice: dOrNull(p['markPrice']),
      });
    }
    if (symbol === undefined) {
      this.positionQty.clear();
      for (const p of out) this.positionQty.set(p.symbol, p.side === 'LONG' ? p.quantity : p.quantity.neg());
    }
    return out;
  }

  /** `GET /fapi/v1/income` incomeType FUNDING_FEE: signed USDT amounts (paid < 0). */
  async fundingHistory(accountId: string, symbol: string, sinceMs?: number): Promise<Array<{ symbol: string; amount: D; ts: number }>> {
    return (await this.income(accountId, symbol, 'FUNDING_FEE', sinceMs)).map((i) => ({ symbol: i.symbol, amount: i.amount, ts: i.ts }));
  }

  /** `GET /fapi/v1/income` of one incomeType (limit 1000). */
  async income(accountId: string, symbol: string, incomeType: string, sinceMs?: number): Promise<Array<{ symbol: string; amount: D; ts: number; tradeId: string; tranId: string }>> {
    if (!this.mine(accountId).ok) return [];
    const q: Raw = { symbol, incomeType, limit: 1000 };
    if (sinceMs !== undefined) q['startTime'] = sinceMs;
    const raw = (await this.read(ENDPOINT_COST.income, (ex) => ex.fapiPrivateGetIncome(q))) as Raw[];
    return raw.map((i) => ({ symbol: s(i['symbol']), amount: dOr(i['income']), ts: Number(i['time']), tradeId: s(i['tradeId']), tranId: s(i['tranId']) }));
  }

  /**
   * Balances and positions: `GET /fapi/v2/balance` (USDT: balance = wallet, availableBalance)
   * and `positions`. null when the account is not this adapter's.
   */
  async account(accountId: string): Promise<PaperAccountView | null> {
    if (!this.mine(accountId).ok) return null;
    const bal = (await this.read(ENDPOINT_COST.balance, (ex) => ex.fapiPrivateV2GetBalance())) as Raw[];
    const usdt = bal.find((b) => s(b['asset']) === 'USDT');
    const positions = await this.positions(accountId);
    this.accountSeen();
    return {
      accountId,
      walletBalance: dOr(usdt?.['balance']),
      availableBalance: dOr(usdt?.['availableBalance']),
      positions: positions.map((p) => ({ symbol: p.symbol, side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, isolatedMargin: p.isolatedMargin, leverage: p.leverage, liquidationPrice: p.liquidationPrice })),
    };
  }

  /**
   * A fill event from an ORDER_TRADE_UPDATE message with x = TRADE: one trade of the order
   * (Binance's user-data stream: `L` price, `l` quantity, `n` commission, `rp` realised PnL,
   * `t` trade id, `m` maker, `z` the order's cumulative filled quantity after this trade →
   * cumulativeQuantity; `o` = LIQUIDATION for a liquidation, whose clearance fee is read from
   * the income history, INSURANCE_CLEAR). An order filled in several trades gives one message
   * and so one fill per trade; `t` is the same id `GET /fapi/v1/userTrades` answers as `id`
   * (trades()), so a caller can de-duplicate what it saw on both. `reported` adds what the
   * local venue's step report knows.
   */
  protected async fillOf(o: Raw, ts: number, reported: Raw): Promise<PaperVenueEvent> {
    const clientOrderId = s(o['c']);
    const symbol = s(o['s']);
    const liquidation = s(o['o']) === 'LIQUIDATION';
    const purpose: OrderPurpose = liquidation ? 'LIQUIDATION' : (this.placed.get(clientOrderId)?.purpose ?? ((s(reported['purpose']) || 'ENTRY') as OrderPurpose));
    const tradeId = s(o['t']);
    let liquidationFee = ZERO;
    if (liquidation) {
      const clears = await this.income(this.accountId, symbol, 'INSURANCE_CLEAR');
      const c = clears.find((i) => i.tradeId === tradeId) ?? clears[clears.length - 1];
      if (c) liquidationFee = c.amount.abs();
    }
    const leverage = this.leverageBySymbol.get(symbol) ?? (reported['leverage'] !== undefined ? Number(reported['leverage']) : 20);
    const fill: PaperFill = {
      accountId: this.accountId, clientOrderId, venueOrderId: s(o['i']), tradeId, symbol, side: s(o['S']) as OrderSide, purpose,
      quantity: dOr(o['l']), price: dOr(o['L']), fee: dOr(o['n']), liquidity: o['m'] === true || o['m'] === 'true' ? 'MAKER' : 'TAKER', leverage,
      realisedPnl: dOr(o['rp']), liquidationFee, venueGenerated: liquidation, ts,
    };
    if (o['z'] !== undefined && o['z'] !== null && o['z'] !== '') fill.cumulativeQuantity = dec(String(o['z']));
    return { kind: 'fill', fill };
  }

  /**
   * An expiry event from an ORDER_TRADE_UPDATE message with x = EXPIRED: the code the local
   * venue's step report gives, else by the order's time in force (`f`): an IOC's unfilled
   * rest (IOC_EXPIRED), a FOK refused whole (-5021), otherwise a reduce-only order with
   * nothing left to reduce (-2022).
   */
  protected rejectedOf(o: Raw | null, ts: number, reported: Raw): PaperVenueEvent {
    const clientOrderId = o ? s(o['c']) : s(reported['clientOrderId']);
    this.openOrderIds.delete(clientOrderId);
    const tif = o ? s(o['f']) : '';
    const byTif = tif === 'IOC' ? IOC_EXPIRED : tif === 'FOK' ? VenueErrors.FOK_REJECTED : VenueErrors.REDUCE_ONLY_REJECTED;
    return { kind: 'rejected', accountId: this.accountId, clientOrderId, code: s(reported['code']) || byTif.code, message: s(reported['message']) || byTif.message, ts };
  }

  /**
   * Fills and expiries as the user-data stream pushes them (live and demo venues, where no
   * replay clock drives the market): each ORDER_TRADE_UPDATE with x = TRADE (one trade: a
   * partly filled order sends one per trade) or EXPIRED becomes one event, delivered in
   * arrival order even when a liquidation's fill waits for its income read; `ts` is the
   * message's transaction time `T` (ms). The raw messages are taken before ccxt.pro's caches:
   * `watchOrders` keeps only an order's latest state (an ArrayCacheBySymbolById keyed by order
   * id), so several trades of one order arriving together would collapse into one there.
   * A delivery that fails (the listener throws, or a liquidation's income read fails) is
   * logged and raised as a USER_DATA_STREAM alert; later messages still arrive.
   * @returns a function that stops listening
   */
  onVenueEvents(listener: (events: PaperVenueEvent[], ts: number) => void): () => void {
    let chain: Promise<void> = Promise.resolve();
    const deliver = (make: () => Promise<PaperVenueEvent> | PaperVenueEvent, ts: number) => {
      chain = chain
        .then(async () => listener([await make()], ts))
        .catch((e: unknown) => {
          const msg = redact(messageOf(e), this.secrets);
          this.logLine(`binanceusdm ${this.accountId}: user-data event not delivered: ${msg}`);
          this.onAlert({ kind: 'USER_DATA_STREAM', message: `user-data event not delivered: ${msg}` });
        });
    };
    return this.onUserData((m) => {
      if (m.e !== 'ORDER_TRADE_UPDATE') return;
      const o = (m['o'] ?? {}) as Raw;
      const x = s(o['x']);
      const ts = Number(m['T'] ?? m['E'] ?? Date.now());
      if (x === 'TRADE') deliver(() => this.fillOf(o, ts, {}), ts);
      else if (x === 'EXPIRED') {
        const ev = this.rejectedOf(o, ts, {});
        deliver(() => ev, ts);
      }
    });
  }

  /** Hook: a balance read succeeded. */
  protected accountSeen(): void {
    /* LocalBinanceVenue records that the account exists */
  }

  // ---------------------------------------------------------------- user data stream

  /** Subscribe to raw user-data messages; answers the unsubscribe function. */
  onUserData(listener: (m: UserDataMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Start the user-data stream (ccxt.pro watchOrders: listen key, keep-alive, reconnect) and
   * resolve once its websocket is open. Idempotent.
   */
  async startUserData(): Promise<void> {
    if (!this.userStream) {
      await this.ensureMarkets();
      // ccxt refuses plain ws:// (the local venue) until its http agent is loaded.
      if (String(this.exchange.urls['api']['ws']['future']).startsWith('ws://')) await this.exchange.loadHttpProxyAgent();
      this.userStream = this.userLoop();
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = Object.values(this.exchange.clients).find((x) => String((x as { url: string }).url).includes('listenKey='));
      if (c) {
        await (c as unknown as { connected: Promise<unknown> }).connected;
        return;
      }
      if (Date.now() > deadline) throw new Error('user-data stream did not connect within 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private userLoop(): Promise<void> {
    const loop = async () => {
      let failures = 0;
      while (!this.closed) {
        try {
          await this.exchange.watchOrders();
          failures = 0;
        } catch (e) {
          if (this.closed) break;
          const msg = redact(messageOf(e), this.secrets);
          this.logLine(`binanceusdm ${this.accountId}: user-data stream error: ${msg}`);
          if (++failures === 5) this.onAlert({ kind: 'USER_DATA_STREAM', message: `user-data stream failing: ${msg}` });
          // Real time, not the injected clock: this waits on real sockets.
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** failures)));
        }
      }
    };
    void loop();
    return Promise.resolve();
  }

  /** Keep the adapter's view of open orders, algo orders and positions current, then fan out. */
  protected onUserMessage(m: UserDataMessage): void {
    if (m.e === 'ORDER_TRADE_UPDATE') {
      const o = (m['o'] ?? {}) as Raw;
      const c = s(o['c']);
      const status = s(o['X']);
      if (s(o['i'])) this.clientIdOf.set(s(o['i']), c);
      if (status === 'NEW' || status === 'PARTIALLY_FILLED') this.openOrderIds.add(c);
      else this.openOrderIds.delete(c);
      if (s(o['x']) === 'TRADE') {
        const q = dOr(o['l']);
        const prev = this.positionQty.get(s(o['s'])) ?? ZERO;
        const next = s(o['S']) === 'BUY' ? prev.plus(q) : prev.minus(q);
        if (next.isZero()) this.positionQty.delete(s(o['s']));
        else this.positionQty.set(s(o['s']), next);
      }
    } else if (m.e === 'ALGO_UPDATE') {
      const o = (m['o'] ?? {}) as Raw;
      if (TERMINAL_ALGO.has(s(o['X']))) this.openAlgoIds.delete(s(o['caid']));
      else if (s(o['X']) === 'NEW') this.openAlgoIds.add(s(o['caid']));
    }
    for (const l of this.listeners) l(m);
  }

  /** Stop the stream and close every socket. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.exchange.close();
  }

  /** The credentials to strip from any text this adapter shows (for subclasses' errors). */
  protected redact(text: string): string {
    return redact(text, this.secrets);
  }

  protected get credentials(): { apiKey: string; apiSecret: string } {
    return { apiKey: this.secrets[0], apiSecret: this.secrets[1] };
  }
}

/** Raw `GET /fapi/v1/order` / openOrders entry → snapshot (exact decimals from the strings). */
export function orderSnapshot(o: Raw): VenueOrderSnapshot {
  const status = s(o['status']);
  return {
    clientOrderId: s(o['clientOrderId']), venueOrderId: s(o['orderId']), symbol: s(o['symbol']), side: s(o['side']) as OrderSide, type: s(o['type'] ?? o['origType']),
    status: (ORDER_STATUSES.has(status) ? status : 'NEW') as VenueOrderSnapshot['status'], quantity: dOr(o['origQty']), executedQty: dOr(o['executedQty']),
    avgPrice: dOr(o['avgPrice']), reduceOnly: bool(o['reduceOnly']), updateTime: Number(o['updateTime'] ?? o['time'] ?? 0),
  };
}

/** Raw algo order (New/Query Algo Order answer) → snapshot. */
export function algoSnapshot(a: Raw): VenueAlgoSnapshot {
  const closePosition = bool(a['closePosition']);
  const qty = a['quantity'] ?? a['origQty'];
  return {
    clientAlgoId: s(a['clientAlgoId']), algoId: s(a['algoId']), symbol: s(a['symbol']), side: s(a['side']) as OrderSide,
    type: s(a['orderType'] ?? a['type']) as VenueAlgoSnapshot['type'], triggerPrice: dOr(a['triggerPrice']),
    quantity: closePosition && (qty === undefined || dOr(qty).isZero()) ? null : dOr(qty), closePosition, reduceOnly: bool(a['reduceOnly']),
    status: s(a['algoStatus'] ?? a['status']), actualOrderId: a['actualOrderId'] === undefined || a['actualOrderId'] === null || s(a['actualOrderId']) === '' ? null : s(a['actualOrderId']),
    ...(a['workingType'] ? { workingType: s(a['workingType']) } : {}),
  };
}
