import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Candle, OrderSide } from '@bulwark/contracts';
import {
  dec,
  rulesFromContract,
  str,
  ZERO,
  PaperVenue,
  type D,
  type PaperAlgoRecord,
  type PaperAlgoType,
  type PaperFill,
  type PaperLiquidityModel,
  type PaperOrderRecord,
  type PaperStep,
  type Rules,
} from '@bulwark/domain';
import { instrumentFiles, loadBitgetUsdtmFiles, readFundingRates, BITGET_USDTM_DATA_DIR } from '@bulwark/market-data';
import { authenticateBitget, bitgetSign, sameSignature, type BitgetCredential } from './bitget-auth';
import { BitgetApiError, BitgetErrors, fromBitgetRejection } from './bitget-errors';
import {
  bitgetFillJson,
  bitgetOrderJson,
  bitgetOrderStatus,
  bitgetPlanJson,
  bitgetPositionJson,
  type BitgetForce,
  type BitgetOrderExtra,
  type BitgetPlanExtra,
} from './bitget-format';
import { BitgetRateLimiter, type BitgetRateLimitOptions } from './bitget-limits';
import { BitgetWsHub } from './bitget-ws';
import { BinanceApiError } from './errors';
import { FaultInjector, type FaultRule } from './faults';
import { faultAdminRoutes } from './http-core';
import { FundingSchedule, KlineBook } from './market';
import { CandlePath, candleClock, startPathOwnClock } from './candle-clock';
import { ownClockSpeed } from './own-clock';
import { purposeOf, type BinanceLocalClock, type StepReport } from './server';

/**
 * Options of a local Bitget USDT-M futures venue (see startBitgetLocal). Bitget's own rules,
 * tiers and fees (the recorded `data/venues/bitget-usdtm` files); prices from the recorded
 * Binance BTCUSDT 1m futures candles (there are no Bitget candles in this project).
 */
export interface BitgetLocalOptions {
  /** 0 = any free port (default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Accounts and their API keys (key, secret, passphrase); `balance` (USDT, default 0) is credited at start. */
  accounts: Array<{ accountId: string; apiKey: string; apiSecret: string; passphrase: string; balance?: string }>;
  /** symbol → domain Rules (venue 'bitget-usdtm'; brackets from the position tiers). */
  rules: ReadonlyMap<string, Rules>;
  /** The recorded `GET /api/v2/mix/market/contracts` JSON: one entry, the `data` list, or the whole answer. */
  contracts: unknown;
  /** The recorded `GET /api/v2/mix/market/query-position-lever` JSON: the `data` list (or the answer). */
  positionTiers: unknown;
  /** 1m candle CSV the clock walks (first symbol of `rules`): the recorded Binance BTCUSDT futures file. */
  candlesFile?: string;
  /** Funding-rate CSV: settlements applied when advancing from the candle file. */
  fundingFile?: string;
  /** First candle the clock walks (ms); earlier candles are history. Default: the file's first. */
  startTime?: number;
  /** ACCESS-TIMESTAMP window either side of the wall clock (ms). Default 30 000 (Bitget: "within 30 seconds"). */
  timestampWindowMs?: number;
  /** Per-endpoint rate limits (Bitget's documented ones, see BitgetRateLimiter). */
  limits?: BitgetRateLimitOptions;
  /** Wall clock for ACCESS-TIMESTAMP checks, requestTime and /api/v2/public/time (default Date.now). */
  wallClock?: () => number;
  /** The engine's liquidity model (see BinanceLocalOptions.liquidity). */
  liquidity?: PaperLiquidityModel;
  /** Trades per fill (see BinanceLocalOptions.tradesPerFill). */
  tradesPerFill?: number;
  /** Market ms per wall ms of the venue's own clock (see BinanceLocalOptions.speed; `--speed N`). */
  speed?: number;
}

/** The clock of the local Bitget venue: same semantics as BinanceLocalClock (`orderUpdates` counts `orders` pushes with a fill or a cancel at a step). */
export type BitgetLocalClock = BinanceLocalClock;

/** A running local Bitget venue. */
export interface BitgetLocal {
  /** REST base, e.g. http://127.0.0.1:PORT (the /api/v2 paths are below it; ccxt's urls.api.* are this). */
  url: string;
  /** WebSocket base, e.g. ws://127.0.0.1:PORT (private /v2/ws/private, public /v2/ws/public). */
  wsUrl: string;
  engine: PaperVenue;
  clock: BitgetLocalClock;
  faults: FaultInjector;
  /** Open WebSocket connections (for tests). */
  wsConnections(kind?: 'public' | 'private' | 'all'): number;
  /** Channel subscriptions held by open connections of a kind (for tests). */
  wsSubscriptions(kind?: 'public' | 'private' | 'all'): number;
  close(): Promise<void>;
}

/** The instType / productType of the venue's one product line. */
export const BITGET_PRODUCT_TYPE = 'USDT-FUTURES';

/**
 * The venue inputs of one instrument: Bitget's recorded rules, contract entry and position
 * tiers (`data/venues/bitget-usdtm/<SYMBOL>/`, via market-data's loadBitgetUsdtmFiles) and the
 * recorded Binance BTCUSDT futures 1m candles and funding rates of the market-data directory
 * (`<dataDir>/binance-usdm/<SYMBOL>/`) as prices: Bitget's rules, Binance's recorded prices.
 * @throws BitgetRulesFileError / Error when a file is missing or malformed
 */
export function bitgetLocalInputs(dataDir: string, symbol = 'BTCUSDT', bitgetDir: string = BITGET_USDTM_DATA_DIR): Pick<BitgetLocalOptions, 'rules' | 'contracts' | 'positionTiers' | 'candlesFile' | 'fundingFile'> {
  const b = loadBitgetUsdtmFiles(bitgetDir, symbol);
  const f = instrumentFiles(dataDir, 'binance-usdm', symbol);
  return { rules: new Map([[symbol, rulesFromContract(b.rules)]]), contracts: b.contract, positionTiers: b.positionTiers, candlesFile: f.defaultCandles, fundingFile: f.fundingRates };
}

interface Account {
  cred: BitgetCredential;
  posMode: 'one_way_mode' | 'hedge_mode';
  marginMode: Map<string, 'isolated' | 'crossed'>;
  leverage: Map<string, number>;
  /** Realised PnL of the current position per symbol (achievedProfits), reset when flat. */
  realised: Map<string, D>;
  openTime: Map<string, number>;
  updateTime: Map<string, number>;
}

interface Ctx {
  /** Query parameters and the JSON body's scalar fields, as strings (the query wins). */
  q: Record<string, string>;
  /** The JSON body (an object; {} for none). */
  body: Record<string, unknown>;
  rawBody: string;
  acct: Account | null;
  fault: FaultRule | null;
}

interface Route {
  private: boolean;
  /** Bitget's documented limit: requests per second per UID (private) or IP (public); 0 = none. */
  perSecond: number;
  handler: (c: Ctx) => unknown;
}

const CLIENT_OID = /^[A-Za-z0-9_.:/-]{1,50}$/;
const PLAN_ID_BASE = 9_000_000_000;

const listOf = (x: unknown, key: string): Array<Record<string, unknown>> => {
  if (Array.isArray(x)) return x as Array<Record<string, unknown>>;
  if (x && typeof x === 'object') {
    const d = (x as Record<string, unknown>)[key];
    if (Array.isArray(d)) return d as Array<Record<string, unknown>>;
    return [x as Record<string, unknown>];
  }
  return [];
};

/** Bitget candle granularities (`granularity`) in ms; `Hutc`/`Dutc` variants are the same bars on UTC boundaries. */
const GRANULARITY: Record<string, number> = {
  '1m': 60_000, '3m': 180_000, '5m': 300_000, '15m': 900_000, '30m': 1_800_000,
  '1H': 3_600_000, '4H': 14_400_000, '6H': 21_600_000, '12H': 43_200_000, '1D': 86_400_000,
  '6Hutc': 21_600_000, '12Hutc': 43_200_000, '1Dutc': 86_400_000,
};

function randomDigits(n = 18): string {
  const b = randomBytes(n);
  let s = '1';
  for (let i = 1; i < n; i++) s += String(b[i] % 10);
  return s;
}

/**
 * Start a local Bitget USDT-M futures venue (classic account, one-way mode, isolated margin):
 * the paper engine behind Bitget's mix v2 REST API and its private WebSocket, on one port, so
 * ccxt's `bitget` / `ccxt.pro.bitget` trade it unmodified (see bitgetCcxtFor for the options
 * ccxt needs). Bitget's rules, tiers and fees; the recorded Binance BTCUSDT 1m candles as prices.
 * Every answer is Bitget's envelope `{code:"00000", msg:"success", requestTime, data}`; errors
 * `{code, msg, requestTime, data:null}` with HTTP 400 (429 rate limit, 404 unknown path).
 *
 * Served (https://www.bitget.com/api-doc/contract/intro):
 * - public: GET /api/v2/public/time, /api/v2/mix/market/{contracts, ticker, tickers,
 *   symbol-price, candles, history-candles, history-mark-candles, history-index-candles,
 *   current-fund-rate, history-fund-rate, funding-time, query-position-lever},
 *   /api/v2/spot/public/{symbols, coins} and /api/v2/margin/currencies (empty: no spot here);
 * - private: /api/v2/mix/account/{accounts, account, set-leverage, set-margin-mode,
 *   set-position-mode}, /api/v2/mix/position/{all-position, single-position},
 *   /api/v2/mix/order/{place-order, batch-place-order, cancel-order, batch-cancel-orders,
 *   cancel-all-orders, close-positions, detail, orders-pending, orders-history, fills,
 *   fill-history, place-plan-order, place-tpsl-order, cancel-plan-order, orders-plan-pending,
 *   orders-plan-history};
 * - every /api/v3/* (unified account) → 40084 (a classic account);
 * - admin (Bitget-signed): POST /bulwark/v1/{deposit, step, advance, faults, ws/disconnect},
 *   DELETE /bulwark/v1/faults.
 * @throws RangeError when `speed` is negative, NaN or infinite (before the port opens)
 */
export async function startBitgetLocal(o: BitgetLocalOptions): Promise<BitgetLocal> {
  const wall = o.wallClock ?? Date.now;
  const speed = ownClockSpeed(o.speed);
  const windowMs = o.timestampWindowMs ?? 30_000;
  const engine = new PaperVenue(o.rules, { liquidity: o.liquidity, tradesPerFill: o.tradesPerFill });
  const limiter = new BitgetRateLimiter(o.limits);
  const contracts = listOf(o.contracts, 'data');
  const tiers = listOf(o.positionTiers, 'data');
  const mainSymbol = [...o.rules.keys()][0];
  const books = new Map<string, KlineBook>([...o.rules.keys()].map((s) => [s, new KlineBook()]));
  const funding = new Map<string, FundingSchedule>([...o.rules.keys()].map((s) => [s, new FundingSchedule([])]));

  // The candle file: everything before startTime is history, the rest is the clock's path.
  const path = await CandlePath.load(o.candlesFile, o.startTime);
  const book = books.get(mainSymbol)!;
  for (const c of path.history()) book.closed.push({ t: c.openTime, o: c.open, h: c.high, l: c.low, c: c.close, v: c.volume });
  if (o.fundingFile) funding.set(mainSymbol, new FundingSchedule(await readFundingRates(o.fundingFile)));

  const accounts = new Map<string, Account>();
  const keys = new Map<string, BitgetCredential>();
  for (const a of o.accounts) {
    const cred: BitgetCredential = { accountId: a.accountId, apiKey: a.apiKey, apiSecret: a.apiSecret, passphrase: a.passphrase };
    keys.set(a.apiKey, cred);
    engine.fund(a.accountId, dec(a.balance ?? '0'));
    engine.setOneWayMode(a.accountId);
    accounts.set(a.accountId, { cred, posMode: 'one_way_mode', marginMode: new Map(), leverage: new Map(), realised: new Map(), openTime: new Map(), updateTime: new Map() });
  }

  // What Bitget reports that the engine does not keep: each order's force, fees, PnL; each plan's type.
  const extras = new Map<string, BitgetOrderExtra>();
  const plans = new Map<string, BitgetPlanExtra>(); // `${accountId}:${algoId}` → extra
  const planIds = new Map<string, { accountId: string; algoId: string }>(); // Bitget plan orderId → algo

  const hub = new BitgetWsHub((args) => {
    const key = String(args['apiKey'] ?? '');
    const cred = keys.get(key);
    if (!cred) return { code: 30011, msg: 'Invalid ACCESS_KEY' };
    if (!sameSignature(String(args['passphrase'] ?? ''), cred.passphrase)) return { code: 30012, msg: 'Invalid ACCESS_PASSPHRASE' };
    const ts = String(args['timestamp'] ?? '');
    if (!/^\d{9,13}$/.test(ts)) return { code: 30013, msg: 'Invalid ACCESS_TIMESTAMP' };
    const tsMs = ts.length > 11 ? Number(ts) : Number(ts) * 1000;
    if (Math.abs(wall() - tsMs) > windowMs) return { code: 30014, msg: 'Request timestamp expired' };
    if (!sameSignature(String(args['sign'] ?? ''), bitgetSign(cred.apiSecret, `${ts}GET/user/verify`))) return { code: 30015, msg: 'Invalid sign' };
    return { accountId: cred.accountId };
  });
  const faults = new FaultInjector((kind) => hub.disconnect(kind === 'market' ? 'public' : kind === 'user' ? 'private' : 'all'));

  const rulesOf = (symbol: string | undefined): Rules => {
    const r = symbol ? o.rules.get(symbol) : undefined;
    if (!r) throw BitgetErrors.badSymbol(symbol ?? '');
    return r;
  };
  const leverageOf = (a: Account, symbol: string) => engine.account(a.cred.accountId)?.positions.find((p) => p.symbol === symbol)?.leverage ?? a.leverage.get(symbol) ?? 20;
  const extraOf = (rec: PaperOrderRecord): BitgetOrderExtra => {
    let x = extras.get(rec.venueOrderId);
    if (!x) {
      const a = accounts.get(rec.accountId);
      x = { force: 'gtc', leverage: a ? leverageOf(a, rec.symbol) : 20, fee: ZERO, profit: ZERO, quoteVolume: ZERO, cancelReason: '' };
      extras.set(rec.venueOrderId, x);
    }
    return x;
  };
  const orderOut = (rec: PaperOrderRecord, key: 'state' | 'status') => bitgetOrderJson(rec, extraOf(rec), key);
  const planKey = (a: PaperAlgoRecord) => `${a.accountId}:${a.algoId}`;
  const planOut = (al: PaperAlgoRecord) => {
    const x = plans.get(planKey(al))!;
    return bitgetPlanJson(al, x, al.actualOrderId ? engine.order(al.accountId, { venueOrderId: al.actualOrderId }) : null);
  };
  const isOpen = (r: PaperOrderRecord) => r.status === 'NEW' || r.status === 'PARTIALLY_FILLED';

  // ---- private websocket pushes (https://www.bitget.com/api-doc/contract/websocket/private/Order-Channel) ----

  const push = (accountId: string, channel: string, data: unknown[], ts: number) => hub.publishPrivate(accountId, BITGET_PRODUCT_TYPE, channel, data, ts);

  /** An `orders` channel entry: the order as it is, with the trade's fields when `fill` is given. */
  function wsOrder(rec: PaperOrderRecord, fill: PaperFill | null): Record<string, unknown> {
    const x = extraOf(rec);
    const base = bitgetOrderJson(rec, x, 'status');
    return {
      ...base,
      instId: rec.symbol,
      accBaseVolume: str(rec.executedQty),
      notionalUsd: rec.price ? str(rec.quantity.mul(rec.price)) : '0',
      feeDetail: [{ feeCoin: 'USDT', fee: x.fee.isZero() ? '0' : str(x.fee.neg()) }],
      ...(fill
        ? {
            tradeId: fill.tradeId, fillPrice: str(fill.price), fillTime: String(fill.ts), fillFee: str(fill.fee.neg()), fillFeeCoin: 'USDT',
            fillNotionalUsd: str(x.quoteVolume), pnl: str(fill.realisedPnl), tradeScope: fill.liquidity === 'MAKER' ? 'maker' : 'taker',
          }
        : {}),
    };
  }

  function pushPositions(a: Account, ts: number): void {
    push(a.cred.accountId, 'positions', positionsOf(a, undefined), ts);
  }

  // ---- the clock ----

  function processStep(symbol: string, step: PaperStep, fundingRate: string | null, candle: { c: Candle; pathIndex: number } | null, market: boolean): StepReport {
    rulesOf(symbol);
    const events = engine.step(symbol, step, fundingRate === null ? null : { rate: fundingRate });
    const report: StepReport = { orderUpdates: {}, events: [] };
    for (const a of accounts.values()) report.orderUpdates[a.cred.accountId] = 0;
    if (fundingRate !== null) funding.get(symbol)!.record(step.ts, fundingRate);
    if (market) publishMarket(symbol, step.ts, books.get(symbol)!.onStep(step.ts, step.to, candle).k);
    const touched = new Set<string>();
    for (const ev of events) {
      report.events.push(ev);
      if (ev.kind === 'funding') {
        touched.add(ev.accountId);
      } else if (ev.kind === 'algoTriggered') {
        const al = engine.algoOrder(ev.accountId, { algoId: ev.algoId });
        if (al) push(ev.accountId, 'orders-algo', [planOut(al)], ev.ts);
        const rec = engine.order(ev.accountId, { venueOrderId: ev.venueOrderId });
        if (rec) {
          extraOf(rec);
          push(ev.accountId, 'orders', [wsOrder({ ...rec, status: 'NEW', executedQty: ZERO, avgPrice: ZERO }, null)], ev.ts);
        }
      } else if (ev.kind === 'fill') {
        const fl = ev.fill;
        const a = accounts.get(fl.accountId);
        if (!a) continue;
        const rec = engine.order(fl.accountId, { venueOrderId: fl.venueOrderId });
        if (rec) {
          const x = extraOf(rec);
          x.fee = x.fee.plus(fl.fee).plus(fl.liquidationFee);
          x.profit = x.profit.plus(fl.realisedPnl);
          x.quoteVolume = x.quoteVolume.plus(fl.quantity.mul(fl.price));
        }
        const view = engine.account(fl.accountId)!;
        const pos = view.positions.find((p) => p.symbol === fl.symbol);
        if (!pos) {
          a.realised.delete(fl.symbol);
          a.openTime.delete(fl.symbol);
        } else {
          if (!a.openTime.has(fl.symbol)) a.openTime.set(fl.symbol, fl.ts);
          a.realised.set(fl.symbol, (a.realised.get(fl.symbol) ?? ZERO).plus(fl.realisedPnl));
        }
        a.updateTime.set(fl.symbol, fl.ts);
        if (rec) {
          // The order as it was right after this trade (the engine shows the step's end state).
          let executedQty = ZERO;
          let cum = ZERO;
          for (const t of engine.orderTrades(rec.accountId, rec.venueOrderId)) {
            executedQty = executedQty.plus(t.quantity);
            cum = cum.plus(t.quantity.mul(t.price));
            if (t.tradeId === fl.tradeId) break;
          }
          const after: PaperOrderRecord = executedQty.isZero() ? rec : { ...rec, executedQty, avgPrice: cum.div(executedQty), status: executedQty.gte(rec.quantity) ? 'FILLED' : 'PARTIALLY_FILLED', updateTime: fl.ts };
          push(fl.accountId, 'orders', [wsOrder(after, fl)], fl.ts);
        }
        push(fl.accountId, 'fill', [{ ...bitgetFillJson(fl), orderType: rec?.type === 'LIMIT' ? 'limit' : 'market', uTime: String(fl.ts) }], fl.ts);
        report.orderUpdates[fl.accountId] = (report.orderUpdates[fl.accountId] ?? 0) + 1;
        const al = engine.algoOrder(fl.accountId, { clientAlgoId: fl.clientOrderId });
        if (al && al.actualOrderId === fl.venueOrderId && plans.has(planKey(al))) push(fl.accountId, 'orders-algo', [planOut(al)], fl.ts);
        touched.add(fl.accountId);
      } else if (ev.kind === 'rejected') {
        const rec = engine.order(ev.accountId, { clientOrderId: ev.clientOrderId });
        const al = engine.algoOrder(ev.accountId, { clientAlgoId: ev.clientOrderId });
        if (al && plans.has(planKey(al))) push(ev.accountId, 'orders-algo', [planOut(al)], ev.ts);
        if (rec) {
          extraOf(rec).cancelReason = ev.message;
          push(ev.accountId, 'orders', [wsOrder(rec, null)], ev.ts);
        }
        report.orderUpdates[ev.accountId] = (report.orderUpdates[ev.accountId] ?? 0) + 1;
      }
    }
    for (const id of touched) pushPositions(accounts.get(id)!, step.ts);
    return report;
  }

  /**
   * The public pushes of a market step, in Bitget's USDT-FUTURES formats, to the public
   * connections subscribed to the symbol:
   * - `ticker` (https://www.bitget.com/api-doc/contract/websocket/public/Tickers-Channel): one
   *   entry with instId, lastPr, markPrice, indexPrice (all the step's price: the local venue
   *   has one price), fundingRate and nextFundingTime (the next settlement), 24 h figures, ts;
   * - `candle1m` (https://www.bitget.com/api-doc/contract/websocket/public/Candlesticks-Channel):
   *   action "update", one row `[startTime, open, high, low, close, baseVolume, quoteVolume,
   *   usdtVolume]` (strings; the volumes other than the base volume are "0" here), the bar as
   *   it stands after the step — on its close step the recorded candle itself. Bitget marks no
   *   bar as closed: a bar is over once a later one is pushed or its end has passed.
   * `ts` (message and entry) is the step's market time, ms.
   */
  function publishMarket(symbol: string, ts: number, k: { t: number; o: string; h: string; l: string; c: string; v: string }): void {
    const next = funding.get(symbol)!.next(ts);
    const tk = tickerOf(symbol);
    hub.publishPublic(BITGET_PRODUCT_TYPE, 'ticker', symbol, [{ ...tk, instId: symbol, nextFundingTime: String(next.time), symbolType: '1', deliveryPrice: '0', ts: String(ts) }], ts);
    hub.publishPublic(BITGET_PRODUCT_TYPE, 'candle1m', symbol, [[String(k.t), k.o, k.h, k.l, k.c, k.v, '0', '0']], ts, 'update');
  }

  const clock: BitgetLocalClock = candleClock(path, {
    symbol: mainSymbol,
    accountIds: () => [...accounts.values()].map((a) => a.cred.accountId),
    fundingAt: (openTime) => funding.get(mainSymbol)!.at(openTime) ?? null,
    processStep,
    now: () => engine.now(),
  });
  /** A zero-length taker step at the mark: fills what is marketable now (IOC/FOK, fill-before-cancel). */
  const fillAtMark = (symbol: string) => {
    const mark = engine.markPrice(symbol);
    if (mark) processStep(symbol, { from: str(mark), to: str(mark), gap: true, ts: engine.now() }, null, null, false);
  };

  // ---- request helpers ----

  const need = (c: Ctx, name: string): string => {
    const v = c.q[name];
    if (v === undefined || v === '') throw BitgetErrors.mandatory(name);
    return v;
  };
  const decimal = (v: string | undefined, name: string): D | null => {
    if (v === undefined || v === '') return null;
    if (!/^\d+(\.\d+)?$/.test(v)) throw BitgetErrors.invalidParam(name);
    return dec(v);
  };
  const int = (v: string | undefined, name: string): number | null => {
    if (v === undefined || v === '') return null;
    if (!/^\d{1,15}$/.test(v)) throw BitgetErrors.invalidParam(name);
    return Number(v);
  };
  const productType = (c: Ctx, required = true) => {
    const pt = c.q['productType'];
    if (!pt) {
      if (required) throw BitgetErrors.mandatory('productType');
      return BITGET_PRODUCT_TYPE;
    }
    const u = pt.toUpperCase();
    if (!['USDT-FUTURES', 'COIN-FUTURES', 'USDC-FUTURES', 'SUSDT-FUTURES', 'SCOIN-FUTURES', 'SUSDC-FUTURES'].includes(u)) throw BitgetErrors.invalidParam('productType');
    return u;
  };
  /** Private trading is USDT-FUTURES with margin coin USDT only. */
  const usdtFutures = (c: Ctx) => {
    if (productType(c) !== BITGET_PRODUCT_TYPE) throw BitgetErrors.invalidParam('productType', 'only USDT-FUTURES is traded here');
    const mc = c.q['marginCoin'];
    if (mc !== undefined && mc.toUpperCase() !== 'USDT') throw BitgetErrors.invalidParam('marginCoin');
  };
  const acctOf = (c: Ctx): Account => c.acct!;
  const timeFilter = <T>(list: T[], time: (x: T) => number, c: Ctx) => {
    const s = int(c.q['startTime'], 'startTime');
    const e = int(c.q['endTime'], 'endTime');
    return list.filter((x) => (s === null || time(x) >= s) && (e === null || time(x) <= e));
  };
  const limitOf = (c: Ctx, dflt: number, max: number) => Math.max(1, Math.min(int(c.q['limit'], 'limit') ?? dflt, max));
  /** Newest first, `limit` of them, below the `idLessThan` cursor; endId = the last id returned. */
  const page = <T>(list: T[], id: (x: T) => string, c: Ctx, dflt = 100, max = 100) => {
    const below = c.q['idLessThan'];
    const sorted = [...list].reverse().filter((x) => !below || Number(id(x)) < Number(below));
    const out = sorted.slice(0, limitOf(c, dflt, max));
    return { out, endId: out.length ? id(out[out.length - 1]) : null };
  };
  const sideOf = (v: string | undefined): OrderSide => {
    if (v === 'buy') return 'BUY';
    if (v === 'sell') return 'SELL';
    throw BitgetErrors.invalidParam('side');
  };
  const markOf = (symbol: string): D => engine.markPrice(symbol) ?? ZERO;

  function positionsOf(a: Account, symbol: string | undefined): unknown[] {
    const view = engine.account(a.cred.accountId)!;
    return view.positions
      .filter((p) => !symbol || p.symbol === symbol)
      .map((p) => bitgetPositionJson(rulesOf(p.symbol), p, {
        mark: engine.markPrice(p.symbol) ?? p.entryPrice, realised: a.realised.get(p.symbol) ?? ZERO,
        openTime: a.openTime.get(p.symbol) ?? engine.now(), updateTime: a.updateTime.get(p.symbol) ?? engine.now(),
      }));
  }

  /** `GET /api/v2/mix/account/accounts` entry (https://www.bitget.com/api-doc/contract/account/Get-Account-List); with `symbol`, the single-account fields too. */
  function accountJson(a: Account, symbol?: string): Record<string, unknown> {
    const view = engine.account(a.cred.accountId)!;
    let upnl = ZERO;
    for (const p of view.positions) {
      const m = engine.markPrice(p.symbol) ?? p.entryPrice;
      upnl = upnl.plus((p.side === 'LONG' ? m.minus(p.entryPrice) : p.entryPrice.minus(m)).mul(p.quantity));
    }
    const equity = view.walletBalance.plus(upnl);
    const avail = view.availableBalance;
    const base: Record<string, unknown> = {
      marginCoin: 'USDT', locked: '0', available: str(avail), crossedMaxAvailable: str(avail), isolatedMaxAvailable: str(avail), maxTransferOut: str(avail),
      accountEquity: str(equity), usdtEquity: str(equity), btcEquity: '', crossedRiskRate: '0', unrealizedPL: str(upnl), coupon: '0',
      crossedUnrealizedPL: '0', isolatedUnrealizedPL: str(upnl), assetMode: 'single',
    };
    if (symbol) {
      const lev = leverageOf(a, symbol);
      // grant "" (no trial funds), isolatedMargin/crossedMargin null: as Bitget answered this endpoint (ccxt fixture, 2025-03-24).
      Object.assign(base, { symbol, crossedMarginLeverage: lev, isolatedLongLever: lev, isolatedShortLever: lev, marginMode: a.marginMode.get(symbol) ?? 'crossed', posMode: a.posMode, grant: '', isolatedMargin: null, crossedMargin: null });
    }
    return base;
  }

  // ---- orders ----

  interface PlaceInput {
    symbol: string;
    marginMode: string | undefined;
    o: Record<string, unknown>;
  }
  const s = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));

  /** Place one order (place-order, batch-place-order, close-positions). @returns {orderId, clientOid} */
  function placeOne(a: Account, p: PlaceInput, fault: FaultRule | null): { orderId: string; clientOid: string } {
    const { symbol, o: x } = p;
    const r = rulesOf(symbol);
    if ((p.marginMode ?? '').toLowerCase() !== 'isolated') {
      if (!p.marginMode) throw BitgetErrors.mandatory('marginMode');
      throw BitgetErrors.invalidParam('marginMode', 'the local venue trades isolated margin only');
    }
    if (a.posMode === 'hedge_mode') throw BitgetErrors.invalidParam('posMode', 'hedge_mode is recorded but only one_way_mode orders are executed here; set one_way_mode');
    if (s(x['tradeSide'])) throw BitgetErrors.unilateral();
    for (const k of ['presetStopSurplusPrice', 'presetStopLossPrice']) if (s(x[k])) throw BitgetErrors.invalidParam(k, 'preset TP/SL is not supported here; place a TP/SL order');
    const side = sideOf(s(x['side']));
    const type = s(x['orderType']);
    if (type !== 'limit' && type !== 'market') throw BitgetErrors.invalidParam('orderType');
    const size = decimal(s(x['size']), 'size');
    if (!size) throw BitgetErrors.mandatory('size');
    const price = type === 'limit' ? decimal(s(x['price']), 'price') : null;
    if (type === 'limit' && !price) throw BitgetErrors.mandatory('price');
    // Local venue only (Bitget has no such field): the level at which Bulwark's internal stop
    // triggered, so a stop's market close fills on the path as the paper venue fills it.
    const triggerPrice = type === 'market' ? decimal(s(x['bulwarkTriggerPrice']), 'bulwarkTriggerPrice') : null;
    const force = (s(x['force']) ?? 'gtc').toLowerCase() as BitgetForce;
    if (!['gtc', 'ioc', 'fok', 'post_only'].includes(force)) throw BitgetErrors.invalidParam('force');
    const reduceOnly = (s(x['reduceOnly']) ?? 'NO').toUpperCase();
    if (reduceOnly !== 'YES' && reduceOnly !== 'NO') throw BitgetErrors.invalidParam('reduceOnly');
    const clientOid = s(x['clientOid']) ?? randomDigits();
    if (!CLIENT_OID.test(clientOid)) throw BitgetErrors.invalidParam('clientOid');
    const iso = engine.setIsolated(a.cred.accountId, symbol);
    if (!iso.ok) throw fromBitgetRejection(iso.error);
    a.marginMode.set(symbol, 'isolated');
    const ro = reduceOnly === 'YES';
    const placed = engine.placeOrder(
      a.cred.accountId,
      { clientOrderId: clientOid, symbol, side, type: type === 'limit' ? 'LIMIT' : 'MARKET', quantity: size, price, reduceOnly: ro, purpose: purposeOf(clientOid, ro), triggerPrice },
      fault?.action === 'splitFill' ? { tradesPerFill: fault.trades } : {},
    );
    if (!placed.ok) throw fromBitgetRejection(placed.error, { minNotional: str(r.minNotional) });
    const id = placed.value.venueOrderId;
    extras.set(id, { force: type === 'limit' ? force : 'gtc', leverage: leverageOf(a, symbol), fee: ZERO, profit: ZERO, quoteVolume: ZERO, cancelReason: '' });
    const ts = engine.now();
    push(a.cred.accountId, 'orders', [wsOrder(engine.order(a.cred.accountId, { venueOrderId: id })!, null)], ts);
    if (type === 'limit' && force !== 'gtc') {
      const mark = engine.markPrice(symbol);
      const marketable = mark !== null && (side === 'BUY' ? price!.gte(mark) : price!.lte(mark));
      // Post-only that would take, or IOC/FOK with nothing to take: canceled at once (Bitget cancels them, never rests them).
      if (force === 'post_only' ? marketable : !marketable) cancelNow(a, id, force === 'post_only' ? 'post_only order would take liquidity' : `${force} order could not be filled`);
      else if (force !== 'post_only') {
        fillAtMark(symbol);
        const left = engine.order(a.cred.accountId, { venueOrderId: id })!;
        if (isOpen(left)) cancelNow(a, id, `${force} remainder canceled`);
      }
    }
    return { orderId: id, clientOid };
  }

  function cancelNow(a: Account, venueOrderId: string, reason: string): PaperOrderRecord {
    const rec = engine.order(a.cred.accountId, { venueOrderId })!;
    const r = engine.cancelOrder(a.cred.accountId, rec.clientOrderId);
    if (!r.ok) throw fromBitgetRejection(r.error);
    const done = engine.order(a.cred.accountId, { venueOrderId })!;
    extraOf(done).cancelReason = reason;
    push(a.cred.accountId, 'orders', [wsOrder(done, null)], engine.now());
    return done;
  }

  const orderRef = (a: Account, ref: { orderId?: string; clientOid?: string }, symbol?: string): PaperOrderRecord | null => {
    if (!ref.orderId && !ref.clientOid) throw BitgetErrors.mandatory('orderId');
    const rec = engine.order(a.cred.accountId, ref.orderId ? { venueOrderId: ref.orderId } : { clientOrderId: ref.clientOid });
    return rec && (!symbol || rec.symbol === symbol) ? rec : null;
  };

  function cancelOne(a: Account, ref: { orderId?: string; clientOid?: string }, symbol: string, fault: FaultRule | null): { orderId: string; clientOid: string } {
    let rec = orderRef(a, ref, symbol);
    if (!rec) throw BitgetErrors.orderNotFound();
    if (isOpen(rec) && fault?.action === 'fillBeforeCancel') {
      fillAtMark(rec.symbol);
      rec = engine.order(a.cred.accountId, { venueOrderId: rec.venueOrderId })!;
    }
    if (!isOpen(rec)) throw BitgetErrors.noOrderToCancel();
    const done = cancelNow(a, rec.venueOrderId, 'canceled by user');
    return { orderId: done.venueOrderId, clientOid: done.clientOrderId };
  }

  // ---- plan orders ----

  /**
   * A plan order on the engine's conditional orders: the trigger direction decides the engine
   * type (a SELL that triggers on a fall is a STOP_MARKET, on a rise a TAKE_PROFIT_MARKET, and
   * the reverse for a BUY). Market execution only (no executePrice).
   */
  function placePlan(a: Account, c: Ctx, kind: 'plan' | 'tpsl'): { orderId: string; clientOid: string } {
    usdtFutures(c);
    const symbol = need(c, 'symbol');
    rulesOf(symbol);
    if (a.posMode === 'hedge_mode') throw BitgetErrors.invalidParam('posMode', 'only one_way_mode is executed here');
    const planType = need(c, 'planType');
    const trigger = decimal(need(c, 'triggerPrice'), 'triggerPrice')!;
    const exec = decimal(c.q['executePrice'], 'executePrice');
    if (exec && !exec.isZero()) throw BitgetErrors.invalidParam('executePrice', 'only market execution (no executePrice) is supported here');
    const triggerType = (c.q['triggerType'] ?? (kind === 'tpsl' ? 'mark_price' : 'fill_price')) as BitgetPlanExtra['triggerType'];
    if (triggerType !== 'mark_price' && triggerType !== 'fill_price') throw BitgetErrors.invalidParam('triggerType');
    const mark = engine.markPrice(symbol);
    if (!mark) throw BitgetErrors.badSymbol(`${symbol} (no market price yet)`);
    let side: OrderSide;
    let reduceOnly: boolean;
    let size: D | null;
    let type: PaperAlgoType;
    let pt: BitgetPlanExtra['planType'];
    if (kind === 'tpsl') {
      if (planType !== 'pos_loss' && planType !== 'pos_profit') throw BitgetErrors.invalidParam('planType', 'pos_loss or pos_profit');
      const hold = need(c, 'holdSide');
      if (hold !== 'buy' && hold !== 'sell' && hold !== 'long' && hold !== 'short') throw BitgetErrors.invalidParam('holdSide');
      const long = hold === 'buy' || hold === 'long';
      const pos = engine.account(a.cred.accountId)!.positions.find((p) => p.symbol === symbol);
      if (!pos || (pos.side === 'LONG') !== long) throw BitgetErrors.noPositionForTpsl();
      side = long ? 'SELL' : 'BUY';
      type = planType === 'pos_loss' ? 'STOP_MARKET' : 'TAKE_PROFIT_MARKET';
      if (planType === 'pos_loss' && long && trigger.gte(mark)) throw BitgetErrors.longStopAboveMark(str(mark));
      if (planType === 'pos_loss' && !long && trigger.lte(mark)) throw BitgetErrors.shortStopBelowMark(str(mark));
      size = decimal(c.q['size'], 'size');
      reduceOnly = true;
      pt = planType;
    } else {
      if (planType !== 'normal_plan') throw BitgetErrors.invalidParam('planType', 'normal_plan (track_plan is not supported here)');
      if ((c.q['marginMode'] ?? '').toLowerCase() !== 'isolated') throw BitgetErrors.invalidParam('marginMode', 'the local venue trades isolated margin only');
      if (c.q['tradeSide']) throw BitgetErrors.unilateral();
      if ((c.q['orderType'] ?? 'market') !== 'market') throw BitgetErrors.invalidParam('orderType', 'only market execution is supported here');
      for (const k of ['stopSurplusTriggerPrice', 'stopLossTriggerPrice']) if (c.q[k]) throw BitgetErrors.invalidParam(k, 'attached TP/SL is not supported here');
      side = sideOf(c.q['side']);
      size = decimal(need(c, 'size'), 'size');
      reduceOnly = (c.q['reduceOnly'] ?? 'NO').toUpperCase() === 'YES';
      if (trigger.eq(mark)) throw BitgetErrors.invalidParam('triggerPrice', `equals the mark price ${str(mark)}`);
      const down = trigger.lt(mark);
      type = down === (side === 'SELL') ? 'STOP_MARKET' : 'TAKE_PROFIT_MARKET';
      pt = 'normal_plan';
      const iso = engine.setIsolated(a.cred.accountId, symbol);
      if (!iso.ok) throw fromBitgetRejection(iso.error);
      a.marginMode.set(symbol, 'isolated');
    }
    const clientOid = c.q['clientOid'] ?? randomDigits();
    if (!CLIENT_OID.test(clientOid)) throw BitgetErrors.invalidParam('clientOid');
    const role = purposeOf(clientOid, true);
    const r = engine.placeAlgoOrder(a.cred.accountId, {
      clientAlgoId: clientOid, symbol, side, type, triggerPrice: trigger, quantity: size, closePosition: size === null, reduceOnly: size === null ? false : reduceOnly,
      ...(role === 'STOP_LOSS' || role === 'TAKE_PROFIT' ? { purpose: role } : {}),
    });
    if (!r.ok) {
      if (r.error.code === '-2021') throw side === 'SELL' ? BitgetErrors.longStopAboveMark(str(mark)) : BitgetErrors.shortStopBelowMark(str(mark));
      throw fromBitgetRejection(r.error);
    }
    const orderId = String(PLAN_ID_BASE + Number(r.value.algoId));
    const al = engine.algoOrder(a.cred.accountId, { algoId: r.value.algoId })!;
    plans.set(planKey(al), { orderId, planType: pt, triggerType, side });
    planIds.set(orderId, { accountId: a.cred.accountId, algoId: al.algoId });
    push(a.cred.accountId, 'orders-algo', [planOut(al)], engine.now());
    return { orderId, clientOid };
  }

  const planMatches = (x: BitgetPlanExtra, planType: string | undefined) =>
    !planType || (planType === 'profit_loss' ? x.planType !== 'normal_plan' : x.planType === planType);
  const plansOf = (a: Account, c: Ctx, open: boolean) => {
    const symbol = c.q['symbol'];
    if (symbol) rulesOf(symbol);
    const planType = c.q['planType'];
    return engine.algoOrders(a.cred.accountId, symbol).filter((al) => {
      const x = plans.get(planKey(al));
      return x && (al.status === 'NEW') === open && planMatches(x, planType) && (!c.q['orderId'] || x.orderId === c.q['orderId']) && (!c.q['clientOid'] || al.clientAlgoId === c.q['clientOid']);
    });
  };

  // ---- routes (https://www.bitget.com/api-doc/contract/intro) ----

  const pub = (perSecond: number, handler: Route['handler']): Route => ({ private: false, perSecond, handler });
  const priv = (perSecond: number, handler: Route['handler']): Route => ({ private: true, perSecond, handler });
  const contractsOf = (c: Ctx) => {
    const pt = productType(c);
    const sym = c.q['symbol'];
    return pt === BITGET_PRODUCT_TYPE ? contracts.filter((x) => !sym || x['symbol'] === sym) : [];
  };
  const tickerOf = (symbol: string) => {
    const bars = books.get(symbol)!.all();
    const now = engine.now();
    const day = bars.filter((b) => b.t > now - 86_400_000);
    const last = markOf(symbol);
    let hi = ZERO;
    let lo: D | null = null;
    let vol = ZERO;
    for (const b of day) {
      if (dec(b.h).gt(hi)) hi = dec(b.h);
      if (!lo || dec(b.l).lt(lo)) lo = dec(b.l);
      vol = vol.plus(dec(b.v));
    }
    const open = day[0] ? dec(day[0].o) : last;
    const next = funding.get(symbol)!.next(now);
    return {
      symbol, lastPr: str(last), askPr: null, bidPr: null, bidSz: null, askSz: null, high24h: str(hi), low24h: str(lo ?? ZERO), ts: String(now),
      change24h: open.isZero() ? '0' : str(last.minus(open).div(open).toDecimalPlaces(5)), baseVolume: str(vol), quoteVolume: null, usdtVolume: null,
      openUtc: null, changeUtc24h: null, indexPrice: str(last), fundingRate: next.rate, holdingAmount: null, deliveryStartTime: null, deliveryTime: null,
      deliveryStatus: '', open24h: str(open), markPrice: str(last),
    };
  };
  const candlesOf = (c: Ctx, maxLimit: number) => {
    const symbol = need(c, 'symbol');
    rulesOf(symbol);
    const iv = GRANULARITY[need(c, 'granularity')];
    if (!iv) throw BitgetErrors.invalidParam('granularity');
    const rows = books.get(symbol)!.query(iv, null, int(c.q['endTime'], 'endTime'), 100_000);
    const start = int(c.q['startTime'], 'startTime');
    const sel = rows.filter((r) => start === null || (r[0] as number) >= start);
    return sel.slice(Math.max(0, sel.length - limitOf(c, 100, maxLimit))).map((r) => [String(r[0]), r[1], r[2], r[3], r[4], r[5], '0']);
  };

  const routes = new Map<string, Route>([
    // Public (https://www.bitget.com/api-doc/common/public/Get-Server-Time, .../contract/market/*).
    ['GET /api/v2/public/time', pub(20, () => ({ serverTime: String(wall()) }))],
    ['GET /api/v2/mix/market/contracts', pub(20, contractsOf)],
    ['GET /api/v2/spot/public/symbols', pub(20, () => [])],
    ['GET /api/v2/spot/public/coins', pub(3, () => [])],
    ['GET /api/v2/margin/currencies', pub(10, () => [])],
    ['GET /api/v2/mix/market/ticker', pub(20, (c) => {
      productType(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      return [tickerOf(symbol)];
    })],
    ['GET /api/v2/mix/market/tickers', pub(20, (c) => (productType(c) === BITGET_PRODUCT_TYPE ? [...o.rules.keys()].map(tickerOf) : []))],
    ['GET /api/v2/mix/market/symbol-price', pub(20, (c) => {
      productType(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      const m = str(markOf(symbol));
      return [{ symbol, price: m, indexPrice: m, markPrice: m, ts: String(engine.now()) }];
    })],
    ['GET /api/v2/mix/market/candles', pub(20, (c) => candlesOf(c, 1000))],
    ['GET /api/v2/mix/market/history-candles', pub(20, (c) => candlesOf(c, 200))],
    ['GET /api/v2/mix/market/history-mark-candles', pub(20, (c) => candlesOf(c, 200))],
    ['GET /api/v2/mix/market/history-index-candles', pub(20, (c) => candlesOf(c, 200))],
    ['GET /api/v2/mix/market/current-fund-rate', pub(20, (c) => {
      productType(c);
      const symbol = need(c, 'symbol');
      const r = rulesOf(symbol);
      const next = funding.get(symbol)!.next(engine.now());
      const interval = contracts.find((x) => x['symbol'] === r.symbol)?.['fundInterval'] ?? '8';
      // min/maxFundingRate: Bitget's funding caps; the local venue's rates are Binance's recorded ones, not capped by Bitget's, so "" (unknown here).
      return [{ symbol, fundingRate: next.rate, fundingRateInterval: String(interval), nextUpdate: String(next.time), minFundingRate: '', maxFundingRate: '' }];
    })],
    ['GET /api/v2/mix/market/funding-time', pub(20, (c) => {
      productType(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      return [{ symbol, nextFundingTime: String(funding.get(symbol)!.next(engine.now()).time), ratePeriod: '8' }];
    })],
    ['GET /api/v2/mix/market/history-fund-rate', pub(20, (c) => {
      productType(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      const size = Math.max(1, Math.min(int(c.q['pageSize'], 'pageSize') ?? 20, 100));
      const pageNo = Math.max(1, int(c.q['pageNo'], 'pageNo') ?? 1);
      const rows = funding.get(symbol)!.upTo(engine.now()).reverse(); // newest first, as Bitget
      return rows.slice((pageNo - 1) * size, pageNo * size).map((f) => ({ symbol, fundingRate: f.rate, fundingTime: String(f.fundingTime) }));
    })],
    ['GET /api/v2/mix/market/query-position-lever', pub(10, (c) => {
      productType(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      return tiers.filter((t) => t['symbol'] === undefined || t['symbol'] === symbol);
    })],
    // Account (https://www.bitget.com/api-doc/contract/account/*).
    ['GET /api/v2/mix/account/accounts', priv(10, (c) => {
      return productType(c) === BITGET_PRODUCT_TYPE ? [accountJson(acctOf(c))] : [];
    })],
    ['GET /api/v2/mix/account/account', priv(10, (c) => {
      usdtFutures(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      need(c, 'marginCoin');
      return accountJson(acctOf(c), symbol);
    })],
    ['POST /api/v2/mix/account/set-leverage', priv(5, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      const lev = int(need(c, 'leverage'), 'leverage')!;
      const r = engine.setLeverage(a.cred.accountId, symbol, lev);
      if (!r.ok) throw fromBitgetRejection(r.error);
      a.leverage.set(symbol, lev);
      return { symbol, marginCoin: 'USDT', longLeverage: String(lev), shortLeverage: String(lev), crossMarginLeverage: String(lev), marginMode: a.marginMode.get(symbol) ?? 'crossed' };
    })],
    ['POST /api/v2/mix/account/set-margin-mode', priv(5, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      const mm = need(c, 'marginMode');
      if (mm !== 'isolated' && mm !== 'crossed') throw BitgetErrors.invalidParam('marginMode');
      const busy = engine.account(a.cred.accountId)!.positions.some((p) => p.symbol === symbol) || engine.openOrders(a.cred.accountId).some((x) => x.symbol === symbol);
      if ((a.marginMode.get(symbol) ?? 'crossed') !== mm && busy) throw BitgetErrors.marginModeLocked();
      if (mm === 'crossed') throw BitgetErrors.invalidParam('marginMode', 'the local venue trades isolated margin only');
      const r = engine.setIsolated(a.cred.accountId, symbol);
      if (!r.ok) throw fromBitgetRejection(r.error);
      a.marginMode.set(symbol, 'isolated');
      const lev = String(leverageOf(a, symbol));
      return { symbol, marginCoin: 'USDT', longLeverage: lev, shortLeverage: lev, marginMode: 'isolated' };
    })],
    ['POST /api/v2/mix/account/set-position-mode', priv(5, (c) => {
      const a = acctOf(c);
      if (productType(c) !== BITGET_PRODUCT_TYPE) throw BitgetErrors.invalidParam('productType');
      const pm = need(c, 'posMode');
      if (pm !== 'one_way_mode' && pm !== 'hedge_mode') throw BitgetErrors.invalidParam('posMode');
      if (pm !== a.posMode && (engine.openOrders(a.cred.accountId).length > 0 || engine.account(a.cred.accountId)!.positions.length > 0 || engine.openAlgoOrders(a.cred.accountId).length > 0)) {
        throw new BitgetApiError(400, '40920', 'Position or order exists, the position mode cannot be changed');
      }
      a.posMode = pm;
      return { posMode: pm };
    })],
    // Positions (https://www.bitget.com/api-doc/contract/position/*).
    ['GET /api/v2/mix/position/all-position', priv(5, (c) => (productType(c) === BITGET_PRODUCT_TYPE ? positionsOf(acctOf(c), undefined) : []))],
    ['GET /api/v2/mix/position/single-position', priv(10, (c) => {
      usdtFutures(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      return positionsOf(acctOf(c), symbol);
    })],
    // Trade (https://www.bitget.com/api-doc/contract/trade/*).
    ['POST /api/v2/mix/order/place-order', priv(10, (c) => {
      usdtFutures(c);
      return placeOne(acctOf(c), { symbol: need(c, 'symbol'), marginMode: c.q['marginMode'], o: c.body }, c.fault);
    })],
    ['POST /api/v2/mix/order/batch-place-order', priv(5, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      const list = c.body['orderList'];
      if (!Array.isArray(list) || list.length === 0) throw BitgetErrors.mandatory('orderList');
      if (list.length > 20) throw BitgetErrors.batchTooLarge();
      const successList: unknown[] = [];
      const failureList: unknown[] = [];
      for (const x of list as Array<Record<string, unknown>>) {
        try {
          successList.push(placeOne(a, { symbol, marginMode: s(x['marginMode']) ?? c.q['marginMode'], o: x }, null));
        } catch (e) {
          if (!(e instanceof BitgetApiError)) throw e;
          failureList.push({ orderId: '', clientOid: s(x['clientOid']) ?? '', errorMsg: e.msg, errorCode: e.code });
        }
      }
      return { successList, failureList };
    })],
    ['POST /api/v2/mix/order/cancel-order', priv(10, (c) => {
      usdtFutures(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      return cancelOne(acctOf(c), { orderId: c.q['orderId'], clientOid: c.q['clientOid'] }, symbol, c.fault);
    })],
    ['POST /api/v2/mix/order/batch-cancel-orders', priv(10, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = c.q['symbol'];
      if (symbol) rulesOf(symbol);
      const list = c.body['orderIdList'];
      const successList: unknown[] = [];
      const failureList: unknown[] = [];
      if (Array.isArray(list) && list.length > 0) {
        if (!symbol) throw BitgetErrors.mandatory('symbol');
        for (const x of list as Array<Record<string, unknown>>) {
          try {
            successList.push(cancelOne(a, { orderId: s(x['orderId']), clientOid: s(x['clientOid']) }, symbol, null));
          } catch (e) {
            if (!(e instanceof BitgetApiError)) throw e;
            failureList.push({ orderId: s(x['orderId']) ?? '', clientOid: s(x['clientOid']) ?? '', errorMsg: e.msg, errorCode: e.code });
          }
        }
      } else {
        for (const rec of engine.orders(a.cred.accountId, symbol).filter(isOpen)) {
          const done = cancelNow(a, rec.venueOrderId, 'canceled by user');
          successList.push({ orderId: done.venueOrderId, clientOid: done.clientOrderId });
        }
      }
      return { successList, failureList };
    })],
    ['POST /api/v2/mix/order/cancel-all-orders', priv(1, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const successList = engine.orders(a.cred.accountId).filter(isOpen).map((rec) => {
        const done = cancelNow(a, rec.venueOrderId, 'canceled by user');
        return { orderId: done.venueOrderId, clientOid: done.clientOrderId };
      });
      return { successList, failureList: [] };
    })],
    // Flash close (https://www.bitget.com/api-doc/contract/trade/Flash-Close-Position): a reduce-only market order for the whole position; it fills at the next path step.
    ['POST /api/v2/mix/order/close-positions', priv(1, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = c.q['symbol'];
      if (symbol) rulesOf(symbol);
      const hold = c.q['holdSide'];
      const positions = engine.account(a.cred.accountId)!.positions.filter((p) => (!symbol || p.symbol === symbol) && (!hold || hold === (p.side === 'LONG' ? 'long' : 'short')));
      if (positions.length === 0) throw BitgetErrors.noPositionToClose();
      const successList = positions.map((p) =>
        placeOne(a, { symbol: p.symbol, marginMode: 'isolated', o: { side: p.side === 'LONG' ? 'sell' : 'buy', orderType: 'market', size: str(p.quantity), reduceOnly: 'YES' } }, null),
      );
      return { successList, failureList: [], result: true };
    })],
    ['GET /api/v2/mix/order/detail', priv(10, (c) => {
      usdtFutures(c);
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      const rec = orderRef(acctOf(c), { orderId: c.q['orderId'], clientOid: c.q['clientOid'] }, symbol);
      if (!rec) throw new BitgetApiError(400, '40109', 'The data of the order cannot be found, please confirm the order number');
      return orderOut(rec, 'state');
    })],
    ['GET /api/v2/mix/order/orders-pending', priv(10, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = c.q['symbol'];
      if (symbol) rulesOf(symbol);
      const st = c.q['status'];
      const list = timeFilter(engine.orders(a.cred.accountId, symbol).filter(isOpen), (x) => x.time, c).filter(
        (x) => (!c.q['orderId'] || x.venueOrderId === c.q['orderId']) && (!c.q['clientOid'] || x.clientOrderId === c.q['clientOid']) && (!st || bitgetOrderStatus(x.status) === st),
      );
      const { out, endId } = page(list, (x) => x.venueOrderId, c);
      return { entrustedList: out.length ? out.map((x) => orderOut(x, 'status')) : null, endId };
    })],
    ['GET /api/v2/mix/order/orders-history', priv(10, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = c.q['symbol'];
      if (symbol) rulesOf(symbol);
      const list = timeFilter(engine.orders(a.cred.accountId, symbol).filter((x) => !isOpen(x)), (x) => x.time, c).filter(
        (x) => (!c.q['orderId'] || x.venueOrderId === c.q['orderId']) && (!c.q['clientOid'] || x.clientOrderId === c.q['clientOid']),
      );
      const { out, endId } = page(list, (x) => x.venueOrderId, c);
      return { entrustedList: out.length ? out.map((x) => orderOut(x, 'status')) : null, endId };
    })],
    ...(['fills', 'fill-history'] as const).map((name): [string, Route] => [`GET /api/v2/mix/order/${name}`, priv(10, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = c.q['symbol'];
      if (symbol) rulesOf(symbol);
      const list = timeFilter(engine.trades(a.cred.accountId, symbol), (t) => t.ts, c).filter((t) => !c.q['orderId'] || t.venueOrderId === c.q['orderId']);
      const { out, endId } = page(list, (t) => t.tradeId, c);
      return { fillList: out.map((t) => ({ ...bitgetFillJson(t), orderType: engine.order(a.cred.accountId, { venueOrderId: t.venueOrderId })?.type === 'LIMIT' ? 'limit' : 'market' })), endId };
    })]),
    // Plan orders (https://www.bitget.com/api-doc/contract/plan/*).
    ['POST /api/v2/mix/order/place-plan-order', priv(10, (c) => placePlan(acctOf(c), c, 'plan'))],
    ['POST /api/v2/mix/order/place-tpsl-order', priv(10, (c) => placePlan(acctOf(c), c, 'tpsl'))],
    ['POST /api/v2/mix/order/cancel-plan-order', priv(10, (c) => {
      usdtFutures(c);
      const a = acctOf(c);
      const symbol = c.q['symbol'];
      if (symbol) rulesOf(symbol);
      const planType = c.q['planType'];
      const list = c.body['orderIdList'];
      const successList: unknown[] = [];
      const failureList: unknown[] = [];
      const cancel = (al: PaperAlgoRecord) => {
        const r = engine.cancelAlgoOrder(a.cred.accountId, { algoId: al.algoId });
        if (!r.ok) throw BitgetErrors.planNotFound();
        const done = engine.algoOrder(a.cred.accountId, { algoId: al.algoId })!;
        push(a.cred.accountId, 'orders-algo', [planOut(done)], engine.now());
        successList.push({ orderId: plans.get(planKey(done))!.orderId, clientOid: done.clientAlgoId });
      };
      if (Array.isArray(list) && list.length > 0) {
        for (const x of list as Array<Record<string, unknown>>) {
          const id = s(x['orderId']);
          const cid = s(x['clientOid']);
          const ref = id ? planIds.get(id) : undefined;
          const al = ref && ref.accountId === a.cred.accountId ? engine.algoOrder(a.cred.accountId, { algoId: ref.algoId }) : cid ? engine.algoOrder(a.cred.accountId, { clientAlgoId: cid }) : null;
          const x2 = al ? plans.get(planKey(al)) : undefined;
          if (!al || !x2 || al.status !== 'NEW' || (symbol && al.symbol !== symbol) || !planMatches(x2, planType)) {
            failureList.push({ orderId: id ?? '', clientOid: cid ?? '', errorMsg: 'Plan order does not exist', errorCode: '43025' });
            continue;
          }
          cancel(al);
        }
      } else {
        for (const al of engine.openAlgoOrders(a.cred.accountId, symbol)) {
          const x2 = plans.get(planKey(al));
          if (x2 && planMatches(x2, planType)) cancel(al);
        }
      }
      return { successList, failureList };
    })],
    ['GET /api/v2/mix/order/orders-plan-pending', priv(10, (c) => {
      usdtFutures(c);
      need(c, 'planType');
      const { out, endId } = page(plansOf(acctOf(c), c, true), (al) => plans.get(planKey(al))!.orderId, c);
      return { entrustedList: out.length ? out.map(planOut) : null, endId };
    })],
    ['GET /api/v2/mix/order/orders-plan-history', priv(10, (c) => {
      usdtFutures(c);
      need(c, 'planType');
      const { out, endId } = page(timeFilter(plansOf(acctOf(c), c, false), (al) => al.time, c), (al) => plans.get(planKey(al))!.orderId, c);
      return { entrustedList: out.length ? out.map(planOut) : null, endId };
    })],
    // ---- Bulwark admin endpoints (local only; signed with the account's Bitget key) ----
    ['POST /bulwark/v1/deposit', priv(0, (c) => {
      const a = acctOf(c);
      if ((c.q['coin'] ?? c.q['asset'] ?? 'USDT') !== 'USDT') throw BitgetErrors.invalidParam('coin');
      const amount = decimal(need(c, 'amount'), 'amount')!;
      if (amount.lte(0)) throw BitgetErrors.invalidParam('amount');
      engine.fund(a.cred.accountId, amount);
      return { coin: 'USDT', amount: str(amount), walletBalance: str(engine.account(a.cred.accountId)!.walletBalance) };
    })],
    ['POST /bulwark/v1/step', priv(0, (c) => {
      const symbol = need(c, 'symbol');
      rulesOf(symbol);
      const from = decimal(need(c, 'from'), 'from')!;
      const to = decimal(need(c, 'to'), 'to')!;
      const ts = int(need(c, 'ts'), 'ts')!;
      const rate = c.q['fundingRate'] && /^-?\d+(\.\d+)?$/.test(c.q['fundingRate']) ? c.q['fundingRate'] : null;
      if (c.q['fundingRate'] && rate === null) throw BitgetErrors.invalidParam('fundingRate');
      const barVolume = decimal(c.q['barVolume'], 'barVolume');
      const st: PaperStep = { from: str(from), to: str(to), gap: c.q['gap'] === 'true', ts, ...(barVolume ? { barVolume: str(barVolume) } : {}) };
      if (c.q['scope'] !== undefined && c.q['scope'] !== 'all') throw BitgetErrors.invalidParam('scope');
      return reportFor(acctOf(c), clock.step(symbol, st, rate ? { rate } : null), c.q['scope']);
    })],
    ['POST /bulwark/v1/advance', priv(0, (c) => reportFor(acctOf(c), clock.advance(int(need(c, 'steps'), 'steps')!)))],
    ['POST /bulwark/v1/ws/disconnect', priv(0, (c) => {
      const kind = c.q['kind'] ?? 'all';
      if (kind !== 'public' && kind !== 'private' && kind !== 'all') throw BitgetErrors.invalidParam('kind');
      return { closed: hub.disconnect(kind) };
    })],
  ]);
  // The fault injector's admin routes, as the Binance venue has them (a bad rule → 40017).
  for (const [key, r] of faultAdminRoutes<Account>(faults)) {
    routes.set(key, priv(0, (c) => {
      try {
        return r.handler({ params: c.q, acct: c.acct, fault: c.fault, rawBody: c.rawBody });
      } catch (e) {
        if (e instanceof BinanceApiError) throw BitgetErrors.invalidParam('fault rule', e.msg);
        throw e;
      }
    }));
  }

  function accountReport(accountId: string, r: StepReport) {
    return {
      orderUpdates: r.orderUpdates[accountId] ?? 0,
      events: r.events
        .filter((e) => {
          const x = e as { accountId?: string; fill?: { accountId?: string } };
          return (x.accountId ?? x.fill?.accountId) === accountId;
        })
        .map((e) => JSON.parse(JSON.stringify(e, (_k, v: unknown) => (v && typeof v === 'object' && 'd' in v && 'toFixed' in v ? str(v as D) : v)))),
    };
  }

  /** The signing account's part of a step; with `scope: "all"` also every account's part under `accounts` (as the Binance venue's step). */
  function reportFor(a: Account, r: StepReport, scope?: string) {
    return {
      ...accountReport(a.cred.accountId, r),
      ...(scope === 'all' ? { accounts: Object.fromEntries([...accounts.keys()].map((id) => [id, accountReport(id, r)])) } : {}),
    };
  }

  // ---- HTTP ----
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed || res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const ch of req) chunks.push(ch as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const rawQuery = url.search.startsWith('?') ? url.search.slice(1) : '';
    const ip = req.socket.remoteAddress ?? 'unknown';
    const keyHeader = req.headers['access-key'];
    const hintAccount = (typeof keyHeader === 'string' ? keys.get(keyHeader)?.accountId : undefined) ?? null;
    const fault = faults.take(method, path, hintAccount);
    try {
      if (fault && (fault.when ?? 'before') === 'before') {
        switch (fault.action) {
          case 'delay':
            await new Promise<void>((r) => later(fault.ms ?? 0, r));
            break;
          case 'drop':
            later(fault.ms ?? 0, () => req.socket.destroy());
            return;
          case '503':
            throw BitgetErrors.systemError(503);
          case '429':
          case '418':
            throw BitgetErrors.tooManyRequests(fault.retryAfterSec ?? 1);
          case 'error':
            throw new BitgetApiError(fault.status ?? 400, String(fault.code ?? 40015), fault.msg ?? 'System is abnormal, please try again later');
          default:
            break;
        }
      }
      if (path.startsWith('/api/v3/')) throw BitgetErrors.classicAccount();
      const route = routes.get(`${method} ${path}`);
      if (!route) throw BitgetErrors.notFound();
      let body: Record<string, unknown> = {};
      if (rawBody.trim()) {
        try {
          const parsed: unknown = JSON.parse(rawBody);
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
          body = parsed as Record<string, unknown>;
        } catch {
          throw BitgetErrors.invalidParam('body', 'JSON object expected');
        }
      }
      const q: Record<string, string> = {};
      for (const [k, v] of Object.entries(body)) if (v !== null && typeof v !== 'object') q[k] = String(v);
      for (const [k, v] of url.searchParams) q[k] = v;
      let acct: Account | null = null;
      if (route.private) {
        const cred = authenticateBitget({ headers: req.headers, method, path, rawQuery, rawBody, keys, now: wall(), windowMs });
        acct = accounts.get(cred.accountId)!;
        limiter.admit(cred.accountId, path, route.perSecond);
      } else limiter.admit(ip, path, route.perSecond);
      const data = route.handler({ q, body, rawBody, acct, fault });
      if (fault && fault.when === 'after') {
        if (fault.action === '503') throw BitgetErrors.systemError(503);
        if (fault.action === 'drop') {
          later(fault.ms ?? 0, () => req.socket.destroy());
          return;
        }
      }
      send(res, 200, { code: '00000', msg: 'success', requestTime: wall(), data });
    } catch (e) {
      if (e instanceof BitgetApiError) send(res, e.status, e.body(wall()), e.headers);
      else send(res, 500, { code: '40015', msg: 'System is abnormal, please try again later', requestTime: wall(), data: null });
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (sk) => {
    sockets.add(sk);
    sk.on('close', () => sockets.delete(sk));
  });
  server.on('upgrade', (req, socket, head) => hub.upgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  // Own clock: market time runs at `speed` × wall time from the next step of the candle file.
  const ownClock = startPathOwnClock(path, clock, speed, wall);

  let closed = false;
  return {
    url: `http://${host}:${addr.port}`,
    wsUrl: `ws://${host}:${addr.port}`,
    engine,
    clock,
    faults,
    wsConnections: (kind = 'all') => hub.count(kind),
    wsSubscriptions: (kind = 'all') => hub.subscriptions(kind),
    async close() {
      if (closed) return;
      closed = true;
      ownClock?.stop();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await hub.close();
      for (const sk of sockets) sk.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
