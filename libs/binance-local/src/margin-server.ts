import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { Candle } from '@bulwark/contracts';
import {
  dec,
  pathSteps,
  str,
  MarginVenueErrors,
  PaperMarginVenue,
  type D,
  type MarginFill,
  type MarginOrderRecord,
  type MarginOrderType,
  type MarginPairRules,
  type MarginSideEffectType,
  type MarginTimeInForce,
  type MarginVenueEvent,
  type PathStep,
  type PaperStep,
  type Rejection,
  type Result,
} from '@bulwark/domain';
import { readCandles } from '@bulwark/market-data';
import type { ApiCredential } from './auth';
import { BinanceApiError, BinanceErrors } from './errors';
import { FaultInjector } from './faults';
import { faultAdminRoutes, serveBinanceRoutes, type BinanceRequest, type BinanceRoute } from './http-core';
import { RateLimiter, type RateLimitOptions } from './limits';
import { KLINE_INTERVALS, KlineBook } from './market';
import { ownClockSpeed, startOwnClock } from './own-clock';

/**
 * A local Binance SPOT ISOLATED MARGIN venue: the `/api/v3` and `/sapi/v1` endpoints ccxt 4.5
 * `binance` calls for isolated margin (exchange info, klines, spot account, isolated
 * transfers, the isolated account, borrow and repay, interest history, the pair's tier and
 * rates, margin orders and trades) and the WebSocket API's user data stream
 * (`POST /sapi/v1/userListenToken`, then `userDataStream.subscribe.listenToken` on
 * `/ws-api/v3`), on the `PaperMarginVenue` engine, priced by a spot 1m candle file.
 *
 * Endpoints and shapes: https://developers.binance.com/docs/margin_trading (Trade, Account,
 * Borrow and Repay, Transfer, Market Data, User Data Stream), https://developers.binance.com/docs/wallet/asset/user-universal-transfer
 * and https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/user-data-stream-requests.
 * Amounts and prices are sent as Binance sends them: decimal strings with 8 decimals.
 */
export interface BinanceMarginLocalOptions {
  /** 0 = any free port (default). */
  port?: number;
  host?: string;
  /** Accounts, their keys and the spot wallet they start with (asset → amount). */
  accounts: Array<{ accountId: string; apiKey: string; apiSecret: string; spot?: Record<string, string> }>;
  /** The pair: its rules and the recorded JSON served as the tier and rate answers (`loadMarginPair`). */
  pair: { rules: MarginPairRules; exchangeInfoSymbol: unknown; tiers: unknown; marginData: unknown };
  /** Spot 1m candle CSV the clock walks (4 path steps a candle). */
  candlesFile?: string;
  /** First candle the clock walks (ms); earlier candles are kline history. */
  startTime?: number;
  /**
   * Market ms per wall ms of the own clock (see startOwnClock): when > 0, market time advances
   * by itself from the first step and `POST /bulwark/v1/advance` still jumps it ahead. Unset or
   * 0: it moves only on request. Negative, NaN or infinite: RangeError before the port opens.
   */
  speed?: number;
  recvWindowMaxMs?: number;
  limits?: RateLimitOptions;
  wallClock?: () => number;
}

/** The clock of the local margin venue. */
export interface BinanceMarginLocalClock {
  /** Walk `n` path steps of the candle file. @returns the steps walked. */
  advance(n: number): number;
  /** Walk every step whose time is <= `ts`. @returns the steps walked. */
  advanceTo(ts: number): number;
  /** Apply one explicit step. */
  step(step: PaperStep): void;
  /** Market time (ts of the last step, 0 before any). */
  now(): number;
  /** Steps of the candle file not walked yet. */
  remaining(): number;
}

/** A running local margin venue. */
export interface BinanceMarginLocal {
  url: string;
  wsUrl: string;
  engine: PaperMarginVenue;
  clock: BinanceMarginLocalClock;
  faults: FaultInjector;
  /** WebSocket connections with a user-data subscription (for tests). */
  userStreams(): number;
  close(): Promise<void>;
}

interface Account {
  cred: ApiCredential;
}

type Ctx = BinanceRequest<Account>;
type Route = BinanceRoute<Account>;

interface WsConn {
  ws: WebSocket;
  accountId: string | null;
  symbols: Set<string>;
  spot: boolean;
  nextSubscription: number;
}

const DAY_MS = 86_400_000;
/**
 * Transfers and borrow/repay are weighted per UID on Binance (900 and 1500 against 180,000 a
 * minute), not per IP; this venue keeps one IP budget, so they count 1 in it.
 */
const UID = 1;
/** Binance's decimal strings: 8 decimals. */
const f8 = (d: D) => d.toFixed(8);

function need(p: Record<string, string>, name: string): string {
  const v = p[name];
  if (v === undefined || v === '') throw BinanceErrors.mandatory(name);
  return v;
}

function amountParam(p: Record<string, string>, name: string): D {
  const raw = need(p, name);
  if (!/^\d+(\.\d+)?$/.test(raw)) throw BinanceErrors.invalidParam(name);
  return dec(raw);
}

function optInt(p: Record<string, string>, name: string): number | null {
  const v = p[name];
  if (v === undefined || v === '') return null;
  if (!/^\d+$/.test(v)) throw BinanceErrors.invalidParam(name);
  return Number(v);
}

function isolatedFlag(p: Record<string, string>): void {
  // Only isolated margin is served here; a cross-margin call has no account.
  if ((p['isIsolated'] ?? '').toUpperCase() !== 'TRUE') throw new BinanceApiError(400, -3003, 'Margin account does not exist.');
}

/** The engine's rejection as Binance answers it: the code and the venue's exact text (clients match on it), without the engine's detail. */
function unwrap<T>(r: Result<T, Rejection>): T {
  if (r.ok) return r.value;
  const code = Number(r.error.code);
  const canonical = Object.values(MarginVenueErrors).find((e) => e.code === r.error.code && r.error.message.startsWith(e.message));
  throw new BinanceApiError(400, Number.isFinite(code) ? code : -1000, canonical?.message ?? r.error.message);
}

/** Start a local spot isolated-margin venue (see the module comment). */
export async function startBinanceMarginLocal(o: BinanceMarginLocalOptions): Promise<BinanceMarginLocal> {
  const wall = o.wallClock ?? Date.now;
  const speed = ownClockSpeed(o.speed);
  const rules = o.pair.rules;
  const symbol = rules.symbol;
  const engine = new PaperMarginVenue(new Map([[symbol, rules]]));
  const limiter = new RateLimiter(o.limits);
  const recvWindowMaxMs = o.recvWindowMaxMs ?? 60_000;
  const book = new KlineBook();

  const accounts = new Map<string, Account>();
  const keys = new Map<string, ApiCredential>();
  for (const a of o.accounts) {
    const cred = { accountId: a.accountId, apiKey: a.apiKey, apiSecret: a.apiSecret };
    keys.set(a.apiKey, cred);
    accounts.set(a.accountId, { cred });
    for (const [asset, amount] of Object.entries(a.spot ?? {})) engine.deposit(a.accountId, asset, dec(amount));
  }

  // ---- the clock: the candle file's path, 4 steps a candle ----
  const candles: Candle[] = [];
  const steps: Array<PathStep & { candle: Candle }> = [];
  if (o.candlesFile) {
    for await (const c of readCandles(o.candlesFile)) candles.push(c);
    const start = o.startTime ?? candles[0]?.openTime ?? 0;
    let prev: string | null = null;
    for (const c of candles) {
      if (c.openTime < start) {
        book.closed.push({ t: c.openTime, o: c.open, h: c.high, l: c.low, c: c.close, v: c.volume });
        prev = c.close;
        continue;
      }
      for (const s of pathSteps(c, prev)) steps.push({ ...s, candle: c });
      prev = c.close;
    }
  }
  let si = 0;
  const applyStep = (s: PaperStep, candle: { c: Candle; pathIndex: number } | null) => {
    engine.step(symbol, s);
    book.onStep(s.ts, s.to, candle);
    flush();
  };
  const clock: BinanceMarginLocalClock = {
    advance(n) {
      let k = 0;
      for (; k < n && si < steps.length; k++, si++) {
        const s = steps[si]!;
        applyStep({ from: s.from, to: s.to, gap: s.gap, ts: s.ts, barVolume: s.candle.volume }, { c: s.candle, pathIndex: s.pathIndex });
      }
      return k;
    },
    advanceTo(ts) {
      let k = 0;
      while (si < steps.length && steps[si]!.ts <= ts) k += clock.advance(1);
      return k;
    },
    step(s) {
      applyStep(s, null);
    },
    now: () => engine.time(),
    remaining: () => steps.length - si,
  };

  // ---- WebSocket API: user data stream by listen token ----
  const tokens = new Map<string, { accountId: string; symbol: string; expires: number }>();
  const conns = new Set<WsConn>();
  const wss = new WebSocketServer({ noServer: true });
  const wsSend = (c: WsConn, msg: unknown) => {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  };
  const disconnect = (kind: 'market' | 'user' | 'all') => {
    let n = 0;
    for (const c of conns) {
      if (kind === 'market') continue;
      c.ws.terminate();
      n++;
    }
    return n;
  };
  const faults = new FaultInjector(disconnect);

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'ws://local');
    if (url.pathname !== '/ws-api/v3') {
      socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: WsConn = { ws, accountId: null, symbols: new Set(), spot: false, nextSubscription: 0 };
      conns.add(c);
      ws.on('close', () => conns.delete(c));
      ws.on('message', (data) => onWsRequest(c, data.toString()));
    });
  };

  /** WebSocket API requests: `userDataStream.subscribe.listenToken` (margin) and `.signature` (spot, what ccxt's watchMyTrades sends). */
  function onWsRequest(c: WsConn, text: string): void {
    let req: { id?: unknown; method?: unknown; params?: Record<string, unknown> };
    try {
      req = JSON.parse(text);
    } catch {
      wsSend(c, { id: null, status: 400, error: { code: -1100, msg: 'Illegal characters found in a parameter.' } });
      return;
    }
    const id = req.id ?? null;
    const bad = (code: number, msg: string) => wsSend(c, { id, status: 400, error: { code, msg }, rateLimits: [] });
    const params = req.params ?? {};
    const subscribed = () => wsSend(c, { id, status: 200, result: { subscriptionId: c.nextSubscription++ }, rateLimits: [] });
    if (req.method === 'userDataStream.subscribe.listenToken') {
      const t = tokens.get(String(params['listenToken'] ?? ''));
      if (!t || t.expires <= wall()) return bad(-1209, 'Invalid listenToken.');
      if (c.accountId && c.accountId !== t.accountId) return bad(-1209, 'Invalid listenToken.');
      c.accountId = t.accountId;
      c.symbols.add(t.symbol);
      return subscribed();
    }
    if (req.method === 'userDataStream.subscribe.signature') {
      const cred = keys.get(String(params['apiKey'] ?? ''));
      if (!cred) return bad(-2015, 'Invalid API-key, IP, or permissions for action.');
      const payload = Object.keys(params)
        .filter((k) => k !== 'signature')
        .sort()
        .map((k) => `${k}=${String(params[k])}`)
        .join('&');
      const want = createHmac('sha256', cred.apiSecret).update(payload).digest();
      const got = Buffer.from(String(params['signature'] ?? ''), 'hex');
      if (got.length !== want.length || !timingSafeEqual(got, want)) return bad(-1022, 'Signature for this request is not valid.');
      if (c.accountId && c.accountId !== cred.accountId) return bad(-2015, 'Invalid API-key, IP, or permissions for action.');
      c.accountId = cred.accountId;
      c.spot = true;
      return subscribed();
    }
    bad(-1100, `Unknown method ${String(req.method)}.`);
  }

  /** Each engine event once to every socket of its account that follows the pair (or the account's spot stream). */
  function flush(): void {
    for (const e of engine.drain()) {
      const accountId = e.type === 'ORDER' ? e.order.accountId : e.type === 'TRANSFER' ? e.transfer.accountId : e.type === 'LOAN' ? e.loan.accountId : e.type === 'INTEREST' ? e.interest.accountId : e.accountId;
      const frames = framesOf(e);
      if (frames.length === 0) continue;
      for (const c of conns) {
        if (c.accountId !== accountId || (!c.symbols.has(symbol) && !c.spot)) continue;
        for (const event of frames) wsSend(c, { subscriptionId: 0, event });
      }
    }
  }

  function framesOf(e: MarginVenueEvent): Record<string, unknown>[] {
    switch (e.type) {
      case 'ORDER':
        return [executionReport(e.order, e.execution, e.fill, e.ts)];
      case 'TRANSFER':
        return [{ e: 'balanceUpdate', E: e.ts, a: e.transfer.asset, d: f8(e.transfer.direction === 'TO_MARGIN' ? e.transfer.amount : e.transfer.amount.neg()), T: e.ts }];
      case 'BALANCE': {
        const a = engine.account(e.accountId, e.symbol)!;
        return [{ e: 'outboundAccountPosition', E: e.ts, u: e.ts, B: [{ a: rules.baseAsset, f: f8(a.base.free), l: f8(a.base.locked) }, { a: rules.quoteAsset, f: f8(a.quote.free), l: f8(a.quote.locked) }] }];
      }
      default:
        // Loans, interest, the margin call and liquidation reach the user through the balance
        // position that follows them and through the REST histories.
        return [];
    }
  }

  function executionReport(r: MarginOrderRecord, x: 'NEW' | 'TRADE' | 'CANCELED' | 'EXPIRED', fill: MarginFill | null, ts: number): Record<string, unknown> {
    return {
      e: 'executionReport', E: ts, s: r.symbol, c: r.clientOrderId, S: r.side, o: r.type, f: r.timeInForce ?? 'GTC',
      q: f8(r.origQty), p: f8(r.price), P: '0.00000000', F: '0.00000000', g: -1, C: x === 'CANCELED' ? r.clientOrderId : '',
      x, X: r.status, r: 'NONE', i: r.orderId,
      l: fill ? f8(fill.qty) : '0.00000000', z: f8(r.executedQty), L: fill ? f8(fill.price) : '0.00000000',
      n: fill ? f8(fill.commission) : '0', N: fill ? fill.commissionAsset : null,
      T: ts, t: fill ? fill.tradeId : -1, I: r.orderId, w: r.status === 'NEW', m: fill ? fill.isMaker : false, M: false,
      O: r.time, Z: f8(r.cummulativeQuoteQty), Y: fill ? f8(fill.quoteQty) : '0.00000000', Q: '0.00000000', W: r.time, V: 'EXPIRE_MAKER',
    };
  }

  // ---- JSON shapes ----
  const orderRow = (r: MarginOrderRecord) => ({
    symbol: r.symbol, orderId: r.orderId, clientOrderId: r.clientOrderId, price: f8(r.price), origQty: f8(r.origQty), executedQty: f8(r.executedQty),
    cummulativeQuoteQty: f8(r.cummulativeQuoteQty), status: r.status, timeInForce: r.timeInForce ?? 'GTC', type: r.type, side: r.side,
    stopPrice: '0.00000000', icebergQty: '0.00000000', time: r.time, updateTime: r.updateTime, isWorking: r.status === 'NEW', isIsolated: true,
    selfTradePreventionMode: 'EXPIRE_MAKER',
  });
  const fullOrder = (r: MarginOrderRecord) => ({
    symbol: r.symbol, orderId: r.orderId, clientOrderId: r.clientOrderId, transactTime: r.time, price: f8(r.price), origQty: f8(r.origQty),
    executedQty: f8(r.executedQty), cummulativeQuoteQty: f8(r.cummulativeQuoteQty), status: r.status, timeInForce: r.timeInForce ?? 'GTC',
    type: r.type, side: r.side, selfTradePreventionMode: 'EXPIRE_MAKER',
    ...(r.marginBuyBorrowAsset ? { marginBuyBorrowAmount: f8(r.marginBuyBorrowAmount), marginBuyBorrowAsset: r.marginBuyBorrowAsset } : {}),
    isIsolated: true,
    fills: r.fills.map((x) => ({ price: f8(x.price), qty: f8(x.qty), commission: f8(x.commission), commissionAsset: x.commissionAsset, tradeId: x.tradeId })),
  });
  const cancelRow = (r: MarginOrderRecord) => ({ ...orderRow(r), orderId: String(r.orderId), origClientOrderId: r.clientOrderId });
  const assetJson = (asset: string, a: { free: D; locked: D; borrowed: D; interest: D }, price: D | null) => {
    const net = a.free.plus(a.locked).minus(a.borrowed).minus(a.interest);
    const inBtc = (x: D) => (asset === rules.baseAsset ? x : price ? x.div(price) : x.mul(0));
    return {
      asset, borrowEnabled: true, borrowed: f8(a.borrowed), free: f8(a.free), interest: f8(a.interest), locked: f8(a.locked),
      netAsset: f8(net), netAssetOfBtc: f8(inBtc(net)), repayEnabled: true, totalAsset: f8(a.free.plus(a.locked)),
    };
  };
  const levelStatus = (level: D | null) => {
    if (level === null || level.gte(rules.bars.transferOut)) return 'EXCESSIVE';
    if (level.gt(rules.bars.marginCall)) return 'NORMAL';
    if (level.gt(rules.bars.liquidation)) return 'MARGIN_CALL';
    return 'FORCE_LIQUIDATION';
  };
  const isolatedAccountJson = (accountId: string) => {
    const a = engine.account(accountId, symbol);
    if (!a) return { assets: [], totalAssetOfBtc: '0.00000000', totalLiabilityOfBtc: '0.00000000', totalNetAssetOfBtc: '0.00000000' };
    const e = a.equity;
    const level = e?.marginLevel ?? null;
    const btc = (x: D | undefined) => f8(x && a.price ? x.div(a.price) : dec(0));
    return {
      assets: [{
        baseAsset: assetJson(rules.baseAsset, a.base, a.price),
        quoteAsset: assetJson(rules.quoteAsset, a.quote, a.price),
        symbol, isolatedCreated: true, enabled: true,
        // Binance answers 999 for an account that owes nothing.
        marginLevel: level ? f8(level) : '999.00000000',
        marginLevelStatus: levelStatus(level),
        marginRatio: f8(rules.bars.borrow),
        indexPrice: a.price ? f8(a.price) : '0.00000000',
        liquidatePrice: a.liquidationPrice ? f8(a.liquidationPrice) : '0.00000000',
        liquidateRate: level ? f8(rules.bars.liquidation.div(level).mul(100)) : '0.00000000',
        tradeEnabled: true,
      }],
      totalAssetOfBtc: btc(e?.totalAssetValue),
      totalLiabilityOfBtc: btc(e?.totalLiabilityValue),
      totalNetAssetOfBtc: btc(e?.equity),
    };
  };
  const pairCheck = (s: string | undefined) => {
    if (s !== symbol) throw BinanceErrors.badSymbol();
  };
  const refOf = (p: Record<string, string>) => {
    const orderId = optInt(p, 'orderId');
    const clientOrderId = p['origClientOrderId'];
    if (orderId === null && !clientOrderId) throw BinanceErrors.mandatory('orderId');
    return orderId !== null ? { orderId } : { clientOrderId };
  };
  const window = <T extends { time: number }>(rows: T[], p: Record<string, string>, limitKey: string, dflt: number, maxN: number): T[] => {
    const start = optInt(p, 'startTime');
    const end = optInt(p, 'endTime');
    const limit = Math.min(optInt(p, limitKey) ?? dflt, maxN);
    return rows.filter((r) => (start === null || r.time >= start) && (end === null || r.time <= end)).slice(0, limit);
  };

  const w = (n: number) => () => n;
  const acctOf = (c: Ctx) => c.acct!.cred.accountId;
  const routes = new Map<string, Route>([
    // ---- spot market data and account ----
    ['GET /api/v3/ping', { security: 'NONE', weight: w(1), handler: () => ({}) }],
    ['GET /api/v3/time', { security: 'NONE', weight: w(1), handler: () => ({ serverTime: wall() }) }],
    ['GET /api/v3/exchangeInfo', {
      security: 'NONE', weight: w(20),
      handler: () => ({
        timezone: 'UTC', serverTime: wall(),
        rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: limiter.limits.weightPerMinute }],
        exchangeFilters: [],
        symbols: [o.pair.exchangeInfoSymbol],
      }),
    }],
    ['GET /api/v3/klines', {
      security: 'NONE', weight: w(2),
      handler: ({ params: p }) => {
        pairCheck(p['symbol']);
        const iv = KLINE_INTERVALS[need(p, 'interval')];
        if (!iv) throw BinanceErrors.invalidParam('interval');
        return book.query(iv, optInt(p, 'startTime'), optInt(p, 'endTime'), Math.min(optInt(p, 'limit') ?? 500, 1000));
      },
    }],
    ['GET /api/v3/ticker/price', {
      security: 'NONE', weight: w(2),
      handler: ({ params: p }) => {
        if (p['symbol']) pairCheck(p['symbol']);
        const price = engine.priceOf(symbol);
        const row = { symbol, price: price ? f8(price) : '0.00000000' };
        return p['symbol'] ? row : [row];
      },
    }],
    ['GET /api/v3/account', {
      security: 'SIGNED', weight: w(20),
      handler: (c) => ({
        makerCommission: 10, takerCommission: 10, buyerCommission: 0, sellerCommission: 0,
        commissionRates: { maker: f8(rules.makerFeeRate), taker: f8(rules.takerFeeRate), buyer: '0.00000000', seller: '0.00000000' },
        canTrade: true, canWithdraw: true, canDeposit: true, brokered: false, requireSelfTradePrevention: false, preventSor: false,
        updateTime: engine.time(), accountType: 'SPOT',
        balances: [rules.baseAsset, rules.quoteAsset].map((asset) => ({ asset, free: f8(engine.spotBalance(acctOf(c), asset)), locked: '0.00000000' })),
        permissions: ['SPOT', 'MARGIN'], uid: 0,
      }),
    }],
    // ccxt's loadMarkets with keys: currencies (8 decimals for both, so amounts are not truncated) and the margin pair lists.
    ['GET /sapi/v1/capital/config/getall', {
      security: 'SIGNED', weight: w(10),
      handler: () => [rules.baseAsset, rules.quoteAsset].map((coin) => ({
        coin, name: coin, depositAllEnable: true, withdrawAllEnable: true, free: '0', locked: '0', freeze: '0', withdrawing: '0', ipoing: '0', ipoable: '0', storage: '0', isLegalMoney: false, trading: true,
        networkList: [{ network: coin, coin, withdrawIntegerMultiple: '0.00000001', isDefault: true, depositEnable: true, withdrawEnable: true, name: coin, withdrawFee: '0', withdrawMin: '0', withdrawMax: '9999999', minConfirm: 1, unLockConfirm: 0 }],
      })),
    }],
    ['GET /sapi/v1/margin/allPairs', { security: 'SIGNED', weight: w(1), handler: () => [{ id: '1', symbol, base: rules.baseAsset, quote: rules.quoteAsset, isMarginTrade: true, isBuyAllowed: true, isSellAllowed: true }] }],
    ['GET /sapi/v1/margin/isolated/allPairs', { security: 'SIGNED', weight: w(10), handler: () => [{ symbol, base: rules.baseAsset, quote: rules.quoteAsset, isMarginTrade: true, isBuyAllowed: true, isSellAllowed: true }] }],
    ['GET /sapi/v1/margin/isolatedMarginTier', { security: 'SIGNED', weight: w(1), handler: ({ params: p }) => (pairCheck(p['symbol']), o.pair.tiers) }],
    ['GET /sapi/v1/margin/isolatedMarginData', { security: 'SIGNED', weight: w(1), handler: ({ params: p }) => (p['symbol'] && pairCheck(p['symbol']), o.pair.marginData) }],

    // ---- transfers ----
    ['POST /sapi/v1/asset/transfer', {
      security: 'SIGNED', weight: w(UID),
      handler: (c) => {
        const p = c.params;
        const type = need(p, 'type');
        const direction = type === 'MAIN_ISOLATED_MARGIN' ? 'TO_MARGIN' : type === 'ISOLATED_MARGIN_MAIN' ? 'TO_SPOT' : null;
        if (!direction) throw BinanceErrors.invalidParam('type');
        pairCheck(direction === 'TO_MARGIN' ? p['toSymbol'] : p['fromSymbol']);
        const r = unwrap(engine.transfer({ accountId: acctOf(c), symbol, asset: need(p, 'asset'), amount: amountParam(p, 'amount'), direction }));
        flush();
        return { tranId: r.tranId };
      },
    }],
    // The older isolated transfer endpoint (transFrom / transTo SPOT | ISOLATED_MARGIN).
    ['POST /sapi/v1/margin/isolated/transfer', {
      security: 'SIGNED', weight: w(UID),
      handler: (c) => {
        const p = c.params;
        pairCheck(p['symbol']);
        const from = need(p, 'transFrom');
        const to = need(p, 'transTo');
        const direction = from === 'SPOT' && to === 'ISOLATED_MARGIN' ? 'TO_MARGIN' : from === 'ISOLATED_MARGIN' && to === 'SPOT' ? 'TO_SPOT' : null;
        if (!direction) throw BinanceErrors.invalidParam('transFrom');
        const r = unwrap(engine.transfer({ accountId: acctOf(c), symbol, asset: need(p, 'asset'), amount: amountParam(p, 'amount'), direction }));
        flush();
        return { tranId: r.tranId };
      },
    }],
    ['GET /sapi/v1/margin/maxTransferable', {
      security: 'SIGNED', weight: w(50),
      handler: (c) => {
        pairCheck(c.params['isolatedSymbol']);
        return { amount: f8(unwrap(engine.maxTransferOut(acctOf(c), symbol, need(c.params, 'asset')))), borrowLimit: '0' };
      },
    }],

    // ---- the isolated account, loans and interest ----
    ['GET /sapi/v1/margin/isolated/account', {
      security: 'SIGNED', weight: w(10),
      handler: (c) => {
        const wanted = c.params['symbols'];
        if (wanted && !wanted.split(',').includes(symbol)) throw BinanceErrors.badSymbol();
        return isolatedAccountJson(acctOf(c));
      },
    }],
    ['GET /sapi/v1/margin/maxBorrowable', {
      security: 'SIGNED', weight: w(50),
      handler: (c) => {
        pairCheck(c.params['isolatedSymbol']);
        const asset = need(c.params, 'asset');
        const side = asset === rules.baseAsset ? 'base' : asset === rules.quoteAsset ? 'quote' : null;
        if (!side) throw new BinanceApiError(400, -3027, 'Not a valid margin asset.');
        return { amount: f8(unwrap(engine.maxBorrowable(acctOf(c), symbol, asset))), borrowLimit: f8(rules.maxBorrowable[side]) };
      },
    }],
    ['POST /sapi/v1/margin/borrow-repay', {
      security: 'SIGNED', weight: w(UID),
      handler: (c) => {
        const p = c.params;
        isolatedFlag(p);
        pairCheck(p['symbol']);
        const type = need(p, 'type');
        const asset = need(p, 'asset');
        const all = (p['isAll'] ?? '').toUpperCase() === 'TRUE';
        let r;
        if (type === 'BORROW') r = unwrap(engine.borrow({ accountId: acctOf(c), symbol, asset, amount: amountParam(p, 'amount') }));
        else if (type === 'REPAY') r = unwrap(engine.repay({ accountId: acctOf(c), symbol, asset, amount: all ? 'ALL' : amountParam(p, 'amount') }));
        else throw BinanceErrors.invalidParam('type');
        flush();
        return { tranId: r.tranId, clientTag: '' };
      },
    }],
    ['GET /sapi/v1/margin/borrow-repay', {
      security: 'SIGNED', weight: w(10),
      handler: (c) => {
        const p = c.params;
        const type = need(p, 'type');
        if (p['isolatedSymbol']) pairCheck(p['isolatedSymbol']);
        const rows = engine
          .loanHistory(acctOf(c), symbol)
          .filter((l) => l.type === type && (!p['asset'] || l.asset === p['asset']))
          .map((l) => ({ ...l, time: l.time }));
        const page = window(rows, p, 'size', 10, 100);
        return {
          rows: page.map((l) => ({ type: l.type, isolatedSymbol: l.symbol, amount: f8(l.amount), asset: l.asset, interest: f8(l.interest), principal: f8(l.principal), status: 'CONFIRMED', timestamp: l.time, txId: l.tranId })),
          total: rows.length,
        };
      },
    }],
    ['GET /sapi/v1/margin/interestHistory', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const p = c.params;
        if (p['isolatedSymbol']) pairCheck(p['isolatedSymbol']);
        const rows = engine.interestHistory(acctOf(c), symbol).filter((r) => !p['asset'] || r.asset === p['asset']);
        const page = window(rows, p, 'size', 10, 100);
        return {
          rows: page.map((r) => ({ txId: r.txId, interestAccuredTime: r.time, asset: r.asset, rawAsset: r.asset, principal: f8(r.principal), interest: f8(r.interest), interestRate: f8(r.interestRate), type: r.type, isolatedSymbol: r.symbol })),
          total: rows.length,
        };
      },
    }],

    // ---- orders and trades ----
    ['POST /sapi/v1/margin/order', {
      security: 'SIGNED', weight: w(6), orders: true,
      handler: (c) => {
        const p = c.params;
        isolatedFlag(p);
        pairCheck(p['symbol']);
        const side = need(p, 'side');
        if (side !== 'BUY' && side !== 'SELL') throw BinanceErrors.invalidSide();
        const type = need(p, 'type') as MarginOrderType;
        if (type !== 'MARKET' && type !== 'LIMIT' && type !== 'LIMIT_MAKER') throw BinanceErrors.invalidOrderType();
        const sideEffectType = (p['sideEffectType'] ?? 'NO_SIDE_EFFECT') as MarginSideEffectType;
        if (!['NO_SIDE_EFFECT', 'MARGIN_BUY', 'AUTO_REPAY', 'AUTO_BORROW_REPAY'].includes(sideEffectType)) throw BinanceErrors.invalidParam('sideEffectType');
        const tif = p['timeInForce'] as MarginTimeInForce | undefined;
        if (tif !== undefined && tif !== 'GTC' && tif !== 'IOC' && tif !== 'FOK') throw BinanceErrors.invalidParam('timeInForce');
        if (type === 'LIMIT' && !tif) throw BinanceErrors.mandatory('timeInForce');
        const clientOrderId = p['newClientOrderId'] || `x-${randomBytes(11).toString('hex')}`;
        const r = unwrap(engine.placeOrder({
          accountId: acctOf(c), symbol, side, type, sideEffectType, clientOrderId,
          quantity: p['quantity'] ? amountParam(p, 'quantity') : undefined,
          quoteOrderQty: p['quoteOrderQty'] ? amountParam(p, 'quoteOrderQty') : undefined,
          price: p['price'] ? amountParam(p, 'price') : undefined,
          timeInForce: tif,
        }));
        flush();
        return fullOrder(r);
      },
    }],
    ['DELETE /sapi/v1/margin/order', {
      security: 'SIGNED', weight: w(10),
      handler: (c) => {
        isolatedFlag(c.params);
        pairCheck(c.params['symbol']);
        const r = unwrap(engine.cancelOrder(acctOf(c), symbol, refOf(c.params)));
        flush();
        return cancelRow(r);
      },
    }],
    ['DELETE /sapi/v1/margin/openOrders', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        isolatedFlag(c.params);
        pairCheck(c.params['symbol']);
        const out = engine.ordersOf(acctOf(c), symbol, true).map((o2) => cancelRow(unwrap(engine.cancelOrder(acctOf(c), symbol, { orderId: o2.orderId }))));
        flush();
        return out;
      },
    }],
    ['GET /sapi/v1/margin/order', {
      security: 'SIGNED', weight: w(10),
      handler: (c) => {
        isolatedFlag(c.params);
        pairCheck(c.params['symbol']);
        const r = engine.order(acctOf(c), symbol, refOf(c.params));
        if (!r) throw BinanceErrors.noSuchOrder();
        return orderRow(r);
      },
    }],
    ['GET /sapi/v1/margin/openOrders', {
      security: 'SIGNED', weight: w(10),
      handler: (c) => {
        isolatedFlag(c.params);
        pairCheck(c.params['symbol']);
        return engine.ordersOf(acctOf(c), symbol, true).map(orderRow);
      },
    }],
    ['GET /sapi/v1/margin/allOrders', {
      security: 'SIGNED', weight: w(200),
      handler: (c) => {
        isolatedFlag(c.params);
        pairCheck(c.params['symbol']);
        return window(engine.ordersOf(acctOf(c), symbol), c.params, 'limit', 500, 500).map(orderRow);
      },
    }],
    ['GET /sapi/v1/margin/myTrades', {
      security: 'SIGNED', weight: w(10),
      handler: (c) => {
        const p = c.params;
        isolatedFlag(p);
        pairCheck(p['symbol']);
        const orderId = optInt(p, 'orderId');
        const trades = engine.tradesOf(acctOf(c), symbol).filter((t) => orderId === null || t.orderId === orderId);
        return window(trades, p, 'limit', 500, 1000).map((t) => ({
          symbol: t.symbol, id: t.tradeId, orderId: t.orderId, price: f8(t.price), qty: f8(t.qty), quoteQty: f8(t.quoteQty), commission: f8(t.commission),
          commissionAsset: t.commissionAsset, time: t.time, isBuyer: t.isBuyer, isMaker: t.isMaker, isBestMatch: true, isIsolated: true,
        }));
      },
    }],

    // ---- user data stream: a listen token for the WebSocket API (API key only, unsigned) ----
    ['POST /sapi/v1/userListenToken', {
      security: 'USER_STREAM', weight: w(1),
      handler: (c) => {
        const p = c.params;
        isolatedFlag(p);
        pairCheck(p['symbol']);
        const validity = Math.min(optInt(p, 'validity') ?? DAY_MS, DAY_MS);
        const token = randomBytes(32).toString('base64url');
        const expirationTime = wall() + validity;
        tokens.set(token, { accountId: acctOf(c), symbol, expires: expirationTime });
        return { token, expirationTime };
      },
    }],

    // ---- Bulwark admin endpoints (local only; signed with the account's key) ----
    ['POST /bulwark/v1/deposit', {
      security: 'SIGNED', weight: w(0),
      handler: (c) => {
        const asset = need(c.params, 'asset');
        if (asset !== rules.baseAsset && asset !== rules.quoteAsset) throw BinanceErrors.invalidParam('asset');
        const amount = amountParam(c.params, 'amount');
        engine.deposit(acctOf(c), asset, amount);
        return { asset, amount: str(amount), spot: str(engine.spotBalance(acctOf(c), asset)) };
      },
    }],
    ['POST /bulwark/v1/advance', {
      security: 'SIGNED', weight: w(0),
      handler: (c) => {
        // `to` (epoch ms): walk every step up to that market time (a replay clock drives the venue); else `steps` steps.
        const to = optInt(c.params, 'to');
        const walked = to !== null ? clock.advanceTo(to) : clock.advance(optInt(c.params, 'steps') ?? 1);
        return { walked, now: clock.now(), remaining: clock.remaining(), price: engine.priceOf(symbol) ? str(engine.priceOf(symbol)!) : null };
      },
    }],
    ...faultAdminRoutes<Account>(faults),
  ]);

  const http = await serveBinanceRoutes<Account>({
    routes,
    keys,
    accountOf: (id) => accounts.get(id)!,
    accountIdOf: (a) => a.cred.accountId,
    limiter,
    faults,
    wall,
    recvWindowMaxMs,
    upgrade,
    port: o.port,
    host: o.host,
  });

  // Own clock: market time runs at `speed` × wall time from the first step.
  const ownClock = speed !== null && steps.length > 0 ? startOwnClock({ speed, marketStart: steps[si]!.ts, advanceTo: (ts) => clock.advanceTo(ts), wall }) : null;

  let closed = false;
  return {
    url: http.url,
    wsUrl: http.wsUrl,
    engine,
    clock,
    faults,
    userStreams: () => [...conns].filter((c) => c.accountId !== null).length,
    async close() {
      if (closed) return;
      closed = true;
      ownClock?.stop();
      for (const c of conns) c.ws.terminate();
      wss.close();
      await http.close();
    },
  };
}
