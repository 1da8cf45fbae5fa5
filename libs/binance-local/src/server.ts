import { randomBytes } from 'node:crypto';
import type { Candle, OrderPurpose, OrderSide, TimeInForce } from '@bulwark/contracts';
import {
  dec,
  maxNotionalAt,
  str,
  ZERO,
  PaperVenue,
  type D,
  type PaperAlgoRecord,
  type PaperFill,
  type PaperLiquidityModel,
  type PaperOrderRecord,
  type PaperStep,
  type Rules,
} from '@bulwark/domain';
import { readFundingRates } from '@bulwark/market-data';
import type { ApiCredential } from './auth';
import { faultAdminRoutes, serveBinanceRoutes, type BinanceRequest, type BinanceRoute } from './http-core';
import { BinanceErrors, fromRejection } from './errors';
import { FaultInjector } from './faults';
import { algoJson, decParam, maintMargin, orderJson, plain, positionRiskJson, px, qty, tradeJson, unrealised, usdt, type SymbolFormat } from './format';
import { RateLimiter, type RateLimitOptions } from './limits';
import { FundingSchedule, KLINE_INTERVALS, KlineBook } from './market';
import { CandlePath, candleClock, startPathOwnClock, type LocalVenueClock, type StepReport } from './candle-clock';
import { ownClockSpeed } from './own-clock';
import { WsHub } from './ws-hub';

/** Options of a local Binance USDⓈ-M venue (see startBinanceLocal). */
export interface BinanceLocalOptions {
  /** 0 = any free port (default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Accounts and their API keys; `balance` (USDT, default 0) is credited at start. */
  accounts: Array<{ accountId: string; apiKey: string; apiSecret: string; balance?: string }>;
  /** symbol → domain Rules (matching, filters, brackets, fees). */
  rules: ReadonlyMap<string, Rules>;
  /** exchange-info JSON: one symbol entry (shared/data layout), a list of them, or a full exchangeInfo answer. */
  exchangeInfo: unknown;
  /** leverage-brackets JSON (`[{symbol, brackets:[…]}]`), served by GET /fapi/v1/leverageBracket. */
  leverageBrackets: unknown;
  /** 1m candle CSV the clock walks with `advance` (first symbol of `rules`). */
  candlesFile?: string;
  /** Funding-rate CSV: settlements applied when advancing from the candle file, served by /fapi/v1/fundingRate. */
  fundingFile?: string;
  /** First candle the clock walks (ms); earlier candles are kline history. Default: the file's first. */
  startTime?: number;
  /** Largest accepted recvWindow (ms). Default 60 000. */
  recvWindowMaxMs?: number;
  /** Rate limits (Binance's published defaults unless given). */
  limits?: RateLimitOptions;
  /** Validity of a listen key without keep-alive (ms). Default 60 min, as Binance. */
  listenKeyTtlMs?: number;
  /** Wall clock for timestamps, recvWindow and /fapi/v1/time (default Date.now). */
  wallClock?: () => number;
  /**
   * The engine's liquidity model (default WHOLE: one trade per order). VOLUME_SHARE fills an
   * order over several steps at most share × bar volume / 4 a step; the bar volume comes from
   * the candle file (`advance`) or the `barVolume` parameter of `POST /bulwark/v1/step`.
   * `parseLiquidity` reads it from config text.
   */
  liquidity?: PaperLiquidityModel;
  /** Every fill of an order is split into this many trades (integer 1..1000, default 1); the `splitFill` fault does it for one order. */
  tradesPerFill?: number;
  /**
   * Market ms per wall ms of the venue's own clock (see startOwnClock). Unset or 0: market time
   * moves only on request (`clock.advance` / `advanceTo` / `step`, the admin routes). When > 0
   * and the candle file has steps left, the clock walks the file by itself at `speed` × wall
   * time from the first step, with its funding settlements, until the file ends or `close()`;
   * `POST /bulwark/v1/advance` and `/bulwark/v1/step` still work and jump market time ahead
   * (the own clock then waits until its target passes the new time). Negative, NaN or
   * infinite: RangeError before the port opens.
   */
  speed?: number;
}

/** What a clock step did (on this venue the order updates are ORDER_TRADE_UPDATE messages with x = TRADE | EXPIRED). */
export type { StepReport } from './candle-clock';

/** The clock of the local venue: prices move only when told, or by themselves with the `speed` option. */
export type BinanceLocalClock = LocalVenueClock;

/** A running local venue. */
export interface BinanceLocal {
  /** REST base, e.g. http://127.0.0.1:PORT (the /fapi paths are below it). */
  url: string;
  /** WebSocket base, e.g. ws://127.0.0.1:PORT (market streams /ws, /market/ws, /public/ws, /stream; user data /private/ws?listenKey=K and /ws/<listenKey>). */
  wsUrl: string;
  engine: PaperVenue;
  clock: BinanceLocalClock;
  faults: FaultInjector;
  /** Open WebSocket connections (for tests). */
  wsConnections(kind?: 'market' | 'user' | 'all'): number;
  /** Market connections subscribed to a stream such as "btcusdt@kline_1m" (for tests). */
  wsSubscribers(stream: string): number;
  close(): Promise<void>;
}

interface Account {
  cred: ApiCredential;
  dual: boolean;
  marginType: Map<string, 'ISOLATED' | 'CROSSED'>;
  leverage: Map<string, number>;
  income: Array<Record<string, unknown>>;
  realised: Map<string, D>;
  positionTime: Map<string, number>;
  listenKey: { key: string; expires: number } | null;
}

type Ctx = BinanceRequest<Account>;
type Route = BinanceRoute<Account>;

const ROLE_PURPOSE: Record<string, OrderPurpose> = { E: 'ENTRY', S: 'STOP_LOSS', T: 'TAKE_PROFIT', C: 'CLOSE' };
const CLIENT_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const SUCCESS = { code: 200, msg: 'success' };
const CANCEL_ALL_DONE = { code: 200, msg: 'The operation of cancel all open order is done.' };

/** Purpose of an order from a Bulwark client order id (`bw<hash>-<n><role>`), else ENTRY / CLOSE by reduceOnly. */
export function purposeOf(clientOrderId: string, reduceOnly: boolean): OrderPurpose {
  const m = /^bw[0-9a-z]{11}-\w*?([ESTC])$/.exec(clientOrderId);
  return m ? ROLE_PURPOSE[m[1]] : reduceOnly ? 'CLOSE' : 'ENTRY';
}

function randomId(n = 22): string {
  return randomBytes(n).toString('base64url').slice(0, n);
}

function num(v: string | undefined, name: string): number | null {
  if (v === undefined || v === '') return null;
  if (!/^-?\d{1,16}$/.test(v)) throw BinanceErrors.invalidParam(name);
  return Number(v);
}

function need(p: Record<string, string>, name: string): string {
  const v = p[name];
  if (v === undefined || v === '') throw BinanceErrors.mandatory(name);
  return v;
}

function decimal(p: Record<string, string>, name: string): D | null {
  try {
    return decParam(p[name]);
  } catch {
    throw BinanceErrors.invalidParam(name);
  }
}

function bool(v: string | undefined): boolean {
  return v === 'true' || v === 'TRUE' || v === 'True';
}

function limitOf(p: Record<string, string>, dflt: number, maxN: number): number {
  const l = num(p['limit'], 'limit') ?? dflt;
  return Math.max(1, Math.min(l, maxN));
}

const toNum = (v: unknown) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v);

/** Normalise the recorded exchange-info into Binance's full `GET /fapi/v1/exchangeInfo` answer's symbol list (numeric fields as numbers). */
function symbolsOf(x: unknown): Array<Record<string, unknown>> {
  const list = Array.isArray(x) ? x : x && typeof x === 'object' && Array.isArray((x as { symbols?: unknown }).symbols) ? (x as { symbols: unknown[] }).symbols : [x];
  return list.map((s0) => {
    const s = { ...(s0 as Record<string, unknown>) };
    for (const k of ['pricePrecision', 'quantityPrecision', 'baseAssetPrecision', 'quotePrecision', 'deliveryDate', 'onboardDate', 'settlePlan']) s[k] = toNum(s[k]);
    if (Array.isArray(s['filters'])) s['filters'] = (s['filters'] as Array<Record<string, unknown>>).map((f) => ('limit' in f ? { ...f, limit: toNum(f['limit']) } : f));
    return s;
  });
}

/**
 * Start a local Binance USDⓈ-M compatible venue: the paper engine behind Binance's REST
 * (`/fapi/...`) and WebSocket APIs, on one port. See the package README in index.ts for the
 * endpoint list; each route below names Binance's documentation page. Market time moves on
 * request, or by itself with `speed` (see BinanceLocalOptions.speed); `close()` stops it.
 * @throws RangeError when `speed` is negative, NaN or infinite (before the port opens)
 */
export async function startBinanceLocal(o: BinanceLocalOptions): Promise<BinanceLocal> {
  const wall = o.wallClock ?? Date.now;
  const speed = ownClockSpeed(o.speed);
  const engine = new PaperVenue(o.rules, { liquidity: o.liquidity, tradesPerFill: o.tradesPerFill });
  // Each algo order's workingType, as placed (`<accountId>:<algoId>`). Recorded and answered, not
  // simulated: the local venue's path price is both its mark and its last price.
  const algoWorkingType = new Map<string, 'MARK_PRICE' | 'CONTRACT_PRICE'>();
  const wtOf = (a: PaperAlgoRecord) => algoWorkingType.get(`${a.accountId}:${a.algoId}`) ?? 'CONTRACT_PRICE';
  const limiter = new RateLimiter(o.limits);
  const listenKeyTtl = o.listenKeyTtlMs ?? 3_600_000;
  const recvWindowMaxMs = o.recvWindowMaxMs ?? 60_000;
  const symbols = symbolsOf(o.exchangeInfo);
  const formats = new Map<string, SymbolFormat>();
  for (const [sym, rules] of o.rules) {
    const s = symbols.find((x) => x['symbol'] === sym);
    const pp = typeof s?.['pricePrecision'] === 'number' ? (s['pricePrecision'] as number) : Math.max(0, rules.tickSize.decimalPlaces());
    const qp = typeof s?.['quantityPrecision'] === 'number' ? (s['quantityPrecision'] as number) : Math.max(0, rules.stepSize.decimalPlaces());
    formats.set(sym, { rules, pricePrecision: pp, quantityPrecision: qp });
  }
  const mainSymbol = [...o.rules.keys()][0];
  const books = new Map<string, KlineBook>([...o.rules.keys()].map((s) => [s, new KlineBook()]));
  const funding = new Map<string, FundingSchedule>([...o.rules.keys()].map((s) => [s, new FundingSchedule([])]));

  // The candle file: everything before startTime is history, the rest is the clock's path.
  const path = await CandlePath.load(o.candlesFile, o.startTime);
  const book = books.get(mainSymbol)!;
  for (const c of path.history()) book.closed.push({ t: c.openTime, o: c.open, h: c.high, l: c.low, c: c.close, v: c.volume });
  if (o.fundingFile) funding.set(mainSymbol, new FundingSchedule(await readFundingRates(o.fundingFile)));

  const accounts = new Map<string, Account>();
  const keys = new Map<string, ApiCredential>();
  for (const a of o.accounts) {
    const cred = { accountId: a.accountId, apiKey: a.apiKey, apiSecret: a.apiSecret };
    keys.set(a.apiKey, cred);
    engine.fund(a.accountId, dec(a.balance ?? '0'));
    // Binance accounts start in one-way mode (dualSidePosition false), cross margin, leverage 20.
    engine.setOneWayMode(a.accountId);
    accounts.set(a.accountId, { cred, dual: false, marginType: new Map(), leverage: new Map(), income: [], realised: new Map(), positionTime: new Map(), listenKey: null });
  }
  let tranSeq = 0;

  const hub = new WsHub((key) => {
    for (const a of accounts.values()) if (a.listenKey && a.listenKey.key === key && a.listenKey.expires > wall()) return a.cred.accountId;
    return null;
  });
  const faults = new FaultInjector((kind) => hub.disconnect(kind));

  const fmt = (symbol: string): SymbolFormat => {
    const f = formats.get(symbol);
    if (!f) throw BinanceErrors.badSymbol();
    return f;
  };
  const acctOf = (c: Ctx): Account => c.acct!;
  const leverageOf = (a: Account, symbol: string) => engine.account(a.cred.accountId)?.positions.find((p) => p.symbol === symbol)?.leverage ?? a.leverage.get(symbol) ?? 20;

  // ---- user-data stream messages (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams) ----

  /**
   * ORDER_TRADE_UPDATE (Event-Order-Update) for an order record, with the fill when x = TRADE:
   * for a trade, `rec` is the order as it was right after that trade (see afterTrade), so X is
   * PARTIALLY_FILLED or FILLED, `z` the cumulative and `ap` the average price up to this
   * trade, while `l`, `L`, `n`, `rp`, `t` are the trade's own.
   */
  function orderUpdate(rec: PaperOrderRecord, x: 'NEW' | 'TRADE' | 'CANCELED' | 'EXPIRED', fill: PaperFill | null, ts: number): Record<string, unknown> {
    const f = fmt(rec.symbol);
    const type = rec.purpose === 'LIQUIDATION' ? 'LIQUIDATION' : rec.type;
    return {
      e: 'ORDER_TRADE_UPDATE', E: ts, T: ts,
      o: {
        s: rec.symbol, c: rec.clientOrderId, S: rec.side, o: type, f: rec.timeInForce ?? 'GTC',
        q: qty(f, rec.quantity), p: rec.price ? px(f, rec.price) : '0', ap: rec.avgPrice.isZero() ? '0' : px(f, rec.avgPrice),
        sp: rec.triggerPrice ? px(f, rec.triggerPrice) : '0', x, X: x === 'TRADE' ? rec.status : x, i: Number(rec.venueOrderId),
        l: fill ? qty(f, fill.quantity) : '0', z: qty(f, rec.executedQty), L: fill ? px(f, fill.price) : '0',
        N: 'USDT', n: fill ? usdt(fill.fee) : '0', T: ts, t: fill ? Number(fill.tradeId) : 0,
        b: '0', a: '0', m: fill ? fill.liquidity === 'MAKER' : false, R: rec.reduceOnly, wt: 'CONTRACT_PRICE', ot: type, ps: 'BOTH', cp: false,
        rp: fill ? usdt(fill.realisedPnl) : '0', pP: false, si: 0, ss: 0, V: 'EXPIRE_MAKER', pm: 'NONE', gtd: 0,
      },
    };
  }

  /** ALGO_UPDATE (Event-Algo-Order-Update) for an algo record. */
  function algoUpdate(a: PaperAlgoRecord, X: string, ts: number, reason?: string): Record<string, unknown> {
    const f = fmt(a.symbol);
    const actual = a.actualOrderId ? engine.order(a.accountId, { venueOrderId: a.actualOrderId }) : null;
    return {
      e: 'ALGO_UPDATE', T: ts, E: ts,
      o: {
        caid: a.clientAlgoId, aid: Number(a.algoId), at: 'CONDITIONAL', o: a.type, s: a.symbol, S: a.side, ps: 'BOTH', f: 'GTC',
        q: a.quantity ? qty(f, a.quantity) : '0', X, ai: a.actualOrderId ?? '',
        ap: actual && !actual.avgPrice.isZero() ? px(f, actual.avgPrice) : '0.00000', aq: actual ? qty(f, actual.executedQty) : '0', act: actual ? 'MARKET' : '0',
        tp: px(f, a.triggerPrice), p: '0', V: 'EXPIRE_MAKER', wt: wtOf(a), pm: 'NONE', cp: a.closePosition, pP: false, R: a.reduceOnly,
        tt: X === 'TRIGGERED' || X === 'FINISHED' || X === 'EXPIRED' ? ts : 0, gtd: 0, ...(reason ? { rm: reason } : {}),
      },
    };
  }

  /** ACCOUNT_UPDATE (Event-Balance-and-Position-Update): the USDT balance and the symbol's position. */
  function accountUpdate(a: Account, symbol: string | null, reason: string, ts: number, balanceChange: D = ZERO): Record<string, unknown> {
    const view = engine.account(a.cred.accountId)!;
    const used = view.positions.reduce((s, p) => s.plus(p.isolatedMargin), ZERO);
    const P: unknown[] = [];
    if (symbol) {
      const f = fmt(symbol);
      const p = view.positions.find((x) => x.symbol === symbol) ?? null;
      const mark = engine.markPrice(symbol) ?? ZERO;
      P.push({
        s: symbol, pa: p ? qty(f, p.side === 'LONG' ? p.quantity : p.quantity.neg()) : '0', ep: p ? str(p.entryPrice) : '0', bep: p ? str(p.entryPrice) : '0',
        cr: usdt(a.realised.get(symbol) ?? ZERO), up: usdt(p ? unrealised(p, mark) : ZERO), mt: (a.marginType.get(symbol) ?? 'CROSSED') === 'ISOLATED' ? 'isolated' : 'cross',
        iw: usdt(p?.isolatedMargin ?? ZERO), ps: 'BOTH',
      });
    }
    return { e: 'ACCOUNT_UPDATE', E: ts, T: ts, a: { m: reason, B: [{ a: 'USDT', wb: usdt(view.walletBalance), cw: usdt(view.walletBalance.minus(used)), bc: usdt(balanceChange) }], P } };
  }

  /**
   * The order as it was right after `fill`: status PARTIALLY_FILLED until the trade that
   * completes it, executedQty = the fill's cumulative quantity, avgPrice over the order's
   * trades up to this one (the engine's record only shows the state after the step).
   */
  function afterTrade(rec: PaperOrderRecord, fill: PaperFill): PaperOrderRecord {
    let executedQty = ZERO;
    let cumQuote = ZERO;
    for (const t of engine.orderTrades(rec.accountId, rec.venueOrderId)) {
      executedQty = executedQty.plus(t.quantity);
      cumQuote = cumQuote.plus(t.quantity.mul(t.price));
      if (t.tradeId === fill.tradeId) break;
    }
    if (executedQty.isZero()) return rec;
    return { ...rec, status: executedQty.gte(rec.quantity) ? 'FILLED' : 'PARTIALLY_FILLED', executedQty, avgPrice: cumQuote.div(executedQty), updateTime: fill.ts };
  }

  function addIncome(a: Account, symbol: string, type: string, amount: D, ts: number, tradeId: string): void {
    if (amount.isZero()) return;
    a.income.push({ symbol, incomeType: type, income: usdt(amount), asset: 'USDT', info: type === 'INSURANCE_CLEAR' ? 'LIQUIDATION' : type, time: ts, tranId: ++tranSeq, tradeId });
  }

  // ---- the clock ----

  function processStep(symbol: string, step: PaperStep, fundingRate: string | null, candle: { c: Candle; pathIndex: number } | null, market: boolean): StepReport {
    if (!o.rules.has(symbol)) throw BinanceErrors.badSymbol();
    const events = engine.step(symbol, step, fundingRate === null ? null : { rate: fundingRate });
    // An order's ACCOUNT_UPDATE follows its last trade of the step (the engine's state is the step's end state).
    const lastTradeOf = new Map<string, string>();
    for (const ev of events) if (ev.kind === 'fill') lastTradeOf.set(ev.fill.venueOrderId, ev.fill.tradeId);
    const report: StepReport = { orderUpdates: {}, events: [] };
    for (const a of accounts.values()) report.orderUpdates[a.cred.accountId] = 0;
    if (fundingRate !== null) funding.get(symbol)!.record(step.ts, fundingRate);
    if (market) publishMarket(symbol, step, candle);
    const send = (accountId: string, m: unknown) => hub.publishUser(accountId, m);
    for (const ev of events) {
      report.events.push(plain(ev));
      if (ev.kind === 'funding') {
        const a = accounts.get(ev.accountId);
        if (!a) continue;
        addIncome(a, ev.symbol, 'FUNDING_FEE', ev.amount, ev.ts, '');
        send(a.cred.accountId, accountUpdate(a, ev.symbol, 'FUNDING_FEE', ev.ts, ev.amount));
      } else if (ev.kind === 'algoTriggered') {
        const algo = engine.algoOrder(ev.accountId, { algoId: ev.algoId });
        const rec = engine.order(ev.accountId, { venueOrderId: ev.venueOrderId });
        if (algo) send(ev.accountId, algoUpdate({ ...algo, actualOrderId: ev.venueOrderId }, 'TRIGGERED', ev.ts));
        if (rec) send(ev.accountId, orderUpdate({ ...rec, status: 'NEW', executedQty: ZERO, avgPrice: ZERO }, 'NEW', null, ev.ts));
      } else if (ev.kind === 'fill') {
        const fl = ev.fill;
        const a = accounts.get(fl.accountId);
        if (!a) continue;
        addIncome(a, fl.symbol, 'REALIZED_PNL', fl.realisedPnl, fl.ts, fl.tradeId);
        addIncome(a, fl.symbol, 'COMMISSION', fl.fee.neg(), fl.ts, fl.tradeId);
        addIncome(a, fl.symbol, 'INSURANCE_CLEAR', fl.liquidationFee.neg(), fl.ts, fl.tradeId);
        a.realised.set(fl.symbol, (a.realised.get(fl.symbol) ?? ZERO).plus(fl.realisedPnl));
        a.positionTime.set(fl.symbol, fl.ts);
        const rec = engine.order(fl.accountId, { venueOrderId: fl.venueOrderId });
        const r: PaperOrderRecord = rec ?? {
          accountId: fl.accountId, venueOrderId: fl.venueOrderId, clientOrderId: fl.clientOrderId, symbol: fl.symbol, side: fl.side, type: 'MARKET',
          quantity: fl.quantity, price: null, reduceOnly: true, purpose: fl.purpose, triggerPrice: null, status: 'FILLED', executedQty: fl.quantity, avgPrice: fl.price, time: fl.ts, updateTime: fl.ts,
        };
        send(fl.accountId, orderUpdate(rec ? afterTrade(rec, fl) : r, 'TRADE', fl, fl.ts));
        report.orderUpdates[fl.accountId] = (report.orderUpdates[fl.accountId] ?? 0) + 1;
        const algo = engine.algoOrder(fl.accountId, { clientAlgoId: fl.clientOrderId });
        const firstTrade = fl.cumulativeQuantity === undefined || fl.cumulativeQuantity.eq(fl.quantity);
        if (algo && algo.actualOrderId === fl.venueOrderId && firstTrade) send(fl.accountId, algoUpdate(algo, 'FINISHED', fl.ts));
        if (lastTradeOf.get(fl.venueOrderId) === fl.tradeId) send(fl.accountId, accountUpdate(a, fl.symbol, 'ORDER', fl.ts));
      } else if (ev.kind === 'rejected') {
        const rec = engine.order(ev.accountId, { clientOrderId: ev.clientOrderId });
        const algo = engine.algoOrder(ev.accountId, { clientAlgoId: ev.clientOrderId });
        if (algo && (algo.status === 'EXPIRED' || algo.status === 'CANCELED')) send(ev.accountId, algoUpdate(algo, 'EXPIRED', ev.ts, ev.message));
        const r: PaperOrderRecord = rec ?? {
          accountId: ev.accountId, venueOrderId: algo?.actualOrderId ?? '0', clientOrderId: ev.clientOrderId, symbol, side: algo?.side ?? 'SELL', type: 'MARKET',
          quantity: algo?.quantity ?? ZERO, price: null, reduceOnly: true, purpose: algo?.purpose ?? 'CLOSE', triggerPrice: algo?.triggerPrice ?? null,
          status: 'EXPIRED', executedQty: ZERO, avgPrice: ZERO, time: ev.ts, updateTime: ev.ts,
        };
        send(ev.accountId, orderUpdate({ ...r, status: 'EXPIRED' }, 'EXPIRED', null, ev.ts));
        report.orderUpdates[ev.accountId] = (report.orderUpdates[ev.accountId] ?? 0) + 1;
      }
    }
    return report;
  }

  function publishMarket(symbol: string, step: { to: string; ts: number }, candle: { c: Candle; pathIndex: number } | null): void {
    const lower = symbol.toLowerCase();
    const { k, closed } = books.get(symbol)!.onStep(step.ts, step.to, candle);
    hub.publishMarket(`${lower}@kline_1m`, {
      e: 'kline', E: step.ts, s: symbol,
      k: { t: k.t, T: k.t + path.intervalMs - 1, s: symbol, i: '1m', f: 0, L: 0, o: k.o, c: k.c, h: k.h, l: k.l, v: k.v, n: 0, x: closed, q: '0', V: '0', Q: '0', B: '0' },
    });
    const mp = markPriceJson(symbol, step.ts);
    const ev = { e: 'markPriceUpdate', E: step.ts, s: symbol, p: mp.markPrice, ap: mp.markPrice, P: mp.estimatedSettlePrice, i: mp.indexPrice, r: mp.lastFundingRate, T: mp.nextFundingTime };
    hub.publishMarket(`${lower}@markPrice`, ev);
    hub.publishMarket(`${lower}@markPrice@1s`, ev);
  }

  function markPriceJson(symbol: string, ts: number) {
    const mark = engine.markPrice(symbol);
    const next = funding.get(symbol)!.next(ts);
    const m = mark ? str(mark) : '0';
    return { symbol, markPrice: m, indexPrice: m, estimatedSettlePrice: m, lastFundingRate: next.rate, interestRate: '0.00010000', nextFundingTime: next.time, time: ts };
  }

  const clock: BinanceLocalClock = candleClock(path, {
    symbol: mainSymbol,
    accountIds: () => [...accounts.values()].map((a) => a.cred.accountId),
    fundingAt: (openTime) => funding.get(mainSymbol)!.at(openTime) ?? null,
    processStep,
    now: () => engine.now(),
  });

  /** Fill-before-cancel: a zero-length step at the mark fills what is marketable there (queued MARKET orders, reached limits). */
  function fillAtMark(symbol: string): void {
    const mark = engine.markPrice(symbol);
    if (!mark) return;
    processStep(symbol, { from: str(mark), to: str(mark), gap: false, ts: engine.now() }, null, null, false);
  }

  /** An order as Binance's order endpoints answer it, cumQuote summed over its trades. */
  const orderOut = (rec: PaperOrderRecord, forPlace = false) => orderJson(fmt(rec.symbol), rec, forPlace, engine.cumQuote(rec.venueOrderId));
  /** Still working at the venue: NEW or PARTIALLY_FILLED (openOrders lists it, cancel accepts it). */
  const isOpen = (r: PaperOrderRecord) => r.status === 'NEW' || r.status === 'PARTIALLY_FILLED';
  const orderRec = (a: Account, p: Record<string, string>): PaperOrderRecord | null => {
    const symbol = need(p, 'symbol');
    const id = p['orderId'];
    const cid = p['origClientOrderId'];
    if (!id && !cid) throw BinanceErrors.mandatory('orderId');
    const rec = engine.order(a.cred.accountId, id ? { venueOrderId: id } : { clientOrderId: cid });
    return rec && rec.symbol === symbol ? rec : null;
  };
  const algoRec = (a: Account, p: Record<string, string>): PaperAlgoRecord | null => {
    const id = p['algoId'];
    const cid = p['clientAlgoId'];
    if (!id && !cid) throw BinanceErrors.mandatory('algoId');
    return engine.algoOrder(a.cred.accountId, id ? { algoId: id } : { clientAlgoId: cid });
  };
  const timeFilter = <T>(list: T[], time: (x: T) => number, p: Record<string, string>) => {
    const s = num(p['startTime'], 'startTime');
    const e = num(p['endTime'], 'endTime');
    return list.filter((x) => (s === null || time(x) >= s) && (e === null || time(x) <= e));
  };
  const lastN = <T>(list: T[], n: number, fromStart: boolean) => (fromStart ? list.slice(0, n) : list.slice(Math.max(0, list.length - n)));
  const side = (p: Record<string, string>): OrderSide => {
    const s = need(p, 'side');
    if (s !== 'BUY' && s !== 'SELL') throw BinanceErrors.invalidSide();
    return s;
  };
  const checkPositionSide = (a: Account, p: Record<string, string>) => {
    if (a.dual || (p['positionSide'] !== undefined && p['positionSide'] !== 'BOTH')) throw fromRejection({ code: '-4061', message: '' });
  };
  const bracketsJson = (symbol: string | null) => {
    const list = (Array.isArray(o.leverageBrackets) ? o.leverageBrackets : [o.leverageBrackets]) as Array<Record<string, unknown>>;
    const out = list.map((b) => ({ symbol: b['symbol'], notionalCoef: 1.0, brackets: b['brackets'] }));
    if (symbol === null) return out;
    const one = out.find((b) => b.symbol === symbol);
    if (!one) throw BinanceErrors.badSymbol();
    return one;
  };
  const positionRows = (a: Account, symbol: string | undefined, version: 2 | 3) => {
    const view = engine.account(a.cred.accountId)!;
    const syms = symbol ? [symbol] : [...o.rules.keys()];
    const rows: unknown[] = [];
    for (const s of syms) {
      const f = fmt(s);
      const p = view.positions.find((x) => x.symbol === s) ?? null;
      if (version === 3 && !p) continue;
      const lev = leverageOf(a, s);
      rows.push(positionRiskJson(f, p, { symbol: s, leverage: lev, marginType: a.marginType.get(s) === 'ISOLATED' ? 'isolated' : 'cross', maxNotional: maxNotionalAt(f.rules, lev), mark: engine.markPrice(s), updateTime: a.positionTime.get(s) ?? 0 }, version));
    }
    return rows;
  };
  const totals = (a: Account) => {
    const view = engine.account(a.cred.accountId)!;
    let upnl = ZERO;
    let im = ZERO;
    let mm = ZERO;
    for (const p of view.positions) {
      const mark = engine.markPrice(p.symbol) ?? p.entryPrice;
      upnl = upnl.plus(unrealised(p, mark));
      im = im.plus(p.quantity.mul(mark).div(p.leverage));
      mm = mm.plus(maintMargin(fmt(p.symbol).rules, p.quantity.mul(mark)));
    }
    const used = view.positions.reduce((s, p) => s.plus(p.isolatedMargin), ZERO);
    return { view, upnl, im, mm, cross: view.walletBalance.minus(used) };
  };
  const balanceRows = (a: Account) => {
    const t = totals(a);
    return [{
      accountAlias: 'SgsR', asset: 'USDT', balance: usdt(t.view.walletBalance), crossWalletBalance: usdt(t.cross), crossUnPnl: '0.00000000',
      availableBalance: usdt(t.view.availableBalance), maxWithdrawAmount: usdt(t.view.availableBalance), marginAvailable: true, updateTime: engine.now(),
    }];
  };
  const accountJson = (a: Account, version: 2 | 3) => {
    const t = totals(a);
    const asset = {
      asset: 'USDT', walletBalance: usdt(t.view.walletBalance), unrealizedProfit: usdt(t.upnl), marginBalance: usdt(t.view.walletBalance.plus(t.upnl)),
      maintMargin: usdt(t.mm), initialMargin: usdt(t.im), positionInitialMargin: usdt(t.im), openOrderInitialMargin: '0.00000000',
      crossWalletBalance: usdt(t.cross), crossUnPnl: '0.00000000', availableBalance: usdt(t.view.availableBalance), maxWithdrawAmount: usdt(t.view.availableBalance),
      ...(version === 2 ? { marginAvailable: true } : {}), updateTime: engine.now(),
    };
    const positions = positionRows(a, undefined, version === 2 ? 2 : 3).map((r) => {
      const x = r as Record<string, unknown>;
      const pos: Record<string, unknown> = {
        symbol: x['symbol'], positionSide: 'BOTH', positionAmt: x['positionAmt'], unrealizedProfit: x['unRealizedProfit'], isolatedMargin: x['isolatedMargin'],
        notional: x['notional'], isolatedWallet: x['isolatedWallet'], initialMargin: x['initialMargin'] ?? '0', maintMargin: x['maintMargin'] ?? '0', updateTime: x['updateTime'],
      };
      if (version === 2) Object.assign(pos, { leverage: x['leverage'], entryPrice: x['entryPrice'], maxNotional: x['maxNotionalValue'], isolated: x['marginType'] === 'isolated' });
      return pos;
    });
    const head = {
      totalInitialMargin: usdt(t.im), totalMaintMargin: usdt(t.mm), totalWalletBalance: usdt(t.view.walletBalance), totalUnrealizedProfit: usdt(t.upnl),
      totalMarginBalance: usdt(t.view.walletBalance.plus(t.upnl)), totalPositionInitialMargin: usdt(t.im), totalOpenOrderInitialMargin: '0.00000000',
      totalCrossWalletBalance: usdt(t.cross), totalCrossUnPnl: '0.00000000', availableBalance: usdt(t.view.availableBalance), maxWithdrawAmount: usdt(t.view.availableBalance),
    };
    return version === 2
      ? { feeTier: 0, feeBurn: false, canTrade: true, canDeposit: true, canWithdraw: true, updateTime: 0, multiAssetsMargin: false, tradeGroupId: -1, ...head, assets: [asset], positions }
      : { ...head, assets: [asset], positions };
  };
  const accountReport = (accountId: string, r: StepReport) => ({
    orderUpdates: r.orderUpdates[accountId] ?? 0,
    events: r.events.filter((e) => {
      const x = e as { accountId?: string; fill?: { accountId?: string } };
      return (x.accountId ?? x.fill?.accountId) === accountId;
    }),
  });
  /**
   * The signing account's part of a step; with `scope=all` also every account's part under
   * `accounts` (the step moved the market of them all: one driver steps it for an execution
   * that trades many accounts, each of which reads its own order updates on its own stream).
   */
  const stepReportFor = (a: Account, r: StepReport, scope?: string) => ({
    ...accountReport(a.cred.accountId, r),
    ...(scope === 'all' ? { accounts: Object.fromEntries([...accounts.keys()].map((id) => [id, accountReport(id, r)])) } : {}),
  });

  const w = (n: number) => () => n;
  const withSymbol = (a: number, b: number) => (p: Record<string, string>) => (p['symbol'] ? a : b);

  // ---- routes: Binance USDⓈ-M REST (https://developers.binance.com/docs/derivatives/usds-margined-futures/) ----
  const routes = new Map<string, Route>([
    // Market data: Test Connectivity, Check Server Time, Exchange Information.
    ['GET /fapi/v1/ping', { security: 'NONE', weight: w(1), handler: () => ({}) }],
    ['GET /fapi/v1/time', { security: 'NONE', weight: w(1), handler: () => ({ serverTime: wall() }) }],
    ['GET /fapi/v1/exchangeInfo', {
      security: 'NONE', weight: w(1),
      handler: () => ({
        timezone: 'UTC', serverTime: wall(), futuresType: 'U_MARGINED',
        rateLimits: [
          { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: limiter.limits.weightPerMinute },
          { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: limiter.limits.ordersPerMinute },
          { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: limiter.limits.ordersPer10s },
        ],
        exchangeFilters: [],
        assets: [{ asset: 'USDT', marginAvailable: true, autoAssetExchange: '-10000' }],
        symbols,
      }),
    }],
    // Kline/Candlestick Data: weight by limit ([1,100) 1, [100,500) 2, [500,1000] 5, >1000 10).
    ['GET /fapi/v1/klines', {
      security: 'NONE',
      weight: (p) => {
        const l = Number(p['limit'] ?? 500);
        return l < 100 ? 1 : l < 500 ? 2 : l <= 1000 ? 5 : 10;
      },
      handler: ({ params: p }) => {
        const symbol = need(p, 'symbol');
        const iv = KLINE_INTERVALS[need(p, 'interval')];
        if (!iv) throw BinanceErrors.invalidParam('interval');
        const book = books.get(symbol);
        if (!book) throw BinanceErrors.badSymbol();
        return book.query(iv, num(p['startTime'], 'startTime'), num(p['endTime'], 'endTime'), limitOf(p, 500, 1500));
      },
    }],
    // Mark Price (premiumIndex): mark = last price of the path; funding from the funding file.
    ['GET /fapi/v1/premiumIndex', {
      security: 'NONE', weight: withSymbol(1, 10),
      handler: ({ params: p }) => (p['symbol'] ? (fmt(p['symbol']), markPriceJson(p['symbol'], engine.now())) : [...o.rules.keys()].map((s) => markPriceJson(s, engine.now()))),
    }],
    // Get Funding Rate History. The window and the limit are applied first; then one pass over the
    // closed bars gives each answered settlement its mark (the open of its bar). Looking the bar
    // up for every recorded settlement (years of them) took ~0.4–1.5 s a call, and a live
    // market stream asks at every settlement it sees pass.
    ['GET /fapi/v1/fundingRate', {
      security: 'NONE', weight: w(1),
      handler: ({ params: p }) => {
        const syms = p['symbol'] ? [p['symbol']] : [...o.rules.keys()];
        const rows: Array<{ symbol: string; fundingTime: number; fundingRate: string; markPrice: string }> = [];
        for (const s of syms) {
          fmt(s);
          for (const f of funding.get(s)!.upTo(engine.now())) rows.push({ symbol: s, fundingTime: f.fundingTime, fundingRate: f.rate, markPrice: '' });
        }
        const sel = lastN(timeFilter(rows, (r) => r.fundingTime, p), limitOf(p, 100, 1000), p['startTime'] !== undefined);
        for (const s of syms) {
          const wanted = new Map(sel.filter((r) => r.symbol === s).map((r) => [r.fundingTime, r]));
          for (const b of wanted.size ? books.get(s)!.closed : []) {
            const r = wanted.get(b.t);
            if (!r) continue;
            r.markPrice = b.o; // the first bar of that open time, as before
            wanted.delete(b.t);
            if (!wanted.size) break;
          }
        }
        return sel;
      },
    }],
    // Notional and Leverage Brackets (USER_DATA).
    ['GET /fapi/v1/leverageBracket', { security: 'SIGNED', weight: w(1), handler: ({ params: p }) => bracketsJson(p['symbol'] ?? null) }],
    // Change Initial Leverage (TRADE).
    ['POST /fapi/v1/leverage', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        const symbol = need(c.params, 'symbol');
        fmt(symbol);
        const lev = num(need(c.params, 'leverage'), 'leverage')!;
        const r = engine.setLeverage(a.cred.accountId, symbol, lev);
        if (!r.ok) throw fromRejection(r.error);
        a.leverage.set(symbol, lev);
        return { leverage: lev, maxNotionalValue: str(r.value.maxNotional), symbol };
      },
    }],
    // Change Margin Type (TRADE): ISOLATED | CROSSED; -4046 when unchanged, -4048 with a position.
    ['POST /fapi/v1/marginType', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        const symbol = need(c.params, 'symbol');
        fmt(symbol);
        const mt = need(c.params, 'marginType').toUpperCase();
        if (mt !== 'ISOLATED' && mt !== 'CROSSED') throw BinanceErrors.invalidParam('marginType');
        if ((a.marginType.get(symbol) ?? 'CROSSED') === mt) throw fromRejection({ code: '-4046', message: '' });
        if (engine.account(a.cred.accountId)!.positions.some((p) => p.symbol === symbol)) throw fromRejection({ code: '-4048', message: '' });
        if (mt === 'ISOLATED') {
          const r = engine.setIsolated(a.cred.accountId, symbol);
          if (!r.ok) throw fromRejection(r.error);
        }
        a.marginType.set(symbol, mt);
        return SUCCESS;
      },
    }],
    // Get / Change Position Mode (dualSidePosition).
    ['GET /fapi/v1/positionSide/dual', { security: 'SIGNED', weight: w(30), handler: (c) => ({ dualSidePosition: acctOf(c).dual }) }],
    ['POST /fapi/v1/positionSide/dual', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        const v = need(c.params, 'dualSidePosition');
        if (v !== 'true' && v !== 'false') throw BinanceErrors.invalidParam('dualSidePosition');
        const dual = v === 'true';
        if (dual === a.dual) throw BinanceErrors.noNeedPositionSide();
        if (engine.openOrders(a.cred.accountId).length > 0 || engine.openAlgoOrders(a.cred.accountId).length > 0) throw BinanceErrors.positionSideOpenOrders();
        if (engine.account(a.cred.accountId)!.positions.length > 0) throw BinanceErrors.positionSideWithPosition();
        a.dual = dual;
        return SUCCESS;
      },
    }],
    // New Order (TRADE): MARKET | LIMIT; conditional types → -4120 (use the algo API since 2025-12).
    ['POST /fapi/v1/order', {
      security: 'SIGNED', weight: w(0), orders: true,
      handler: (c) => {
        const a = acctOf(c);
        const p = c.params;
        const symbol = need(p, 'symbol');
        fmt(symbol);
        const s = side(p);
        const type = need(p, 'type');
        if (['STOP', 'STOP_MARKET', 'TAKE_PROFIT', 'TAKE_PROFIT_MARKET', 'TRAILING_STOP_MARKET'].includes(type)) throw BinanceErrors.useAlgoApi();
        if (type !== 'MARKET' && type !== 'LIMIT') throw BinanceErrors.invalidOrderType();
        checkPositionSide(a, p);
        const quantity = decimal(p, 'quantity');
        if (!quantity) throw BinanceErrors.mandatory('quantity');
        const price = decimal(p, 'price');
        // timeInForce (LIMIT): GTC | IOC | FOK | GTX (post-only); the engine applies it (PaperOrderRequest.timeInForce).
        // GTD is Binance's too but not modelled: refused like any other value (-1130).
        let timeInForce: TimeInForce | undefined;
        if (type === 'LIMIT') {
          if (!price) throw BinanceErrors.mandatory('price');
          const tif = need(p, 'timeInForce');
          if (tif !== 'GTC' && tif !== 'IOC' && tif !== 'FOK' && tif !== 'GTX') throw BinanceErrors.invalidParam('timeInForce');
          timeInForce = tif;
        }
        const clientOrderId = p['newClientOrderId'] ?? randomId();
        if (!CLIENT_ID.test(clientOrderId)) throw BinanceErrors.invalidParam('newClientOrderId');
        const reduceOnly = bool(p['reduceOnly']);
        const r = engine.placeOrder(
          a.cred.accountId,
          { clientOrderId, symbol, side: s, type, quantity, price: type === 'LIMIT' ? price : null, reduceOnly, purpose: purposeOf(clientOrderId, reduceOnly), triggerPrice: decimal(p, 'bulwarkTriggerPrice'), ...(timeInForce ? { timeInForce } : {}) },
          c.fault?.action === 'splitFill' ? { tradesPerFill: c.fault.trades } : {},
        );
        if (!r.ok) throw fromRejection(r.error);
        const rec = engine.order(a.cred.accountId, { venueOrderId: r.value.venueOrderId })!;
        hub.publishUser(a.cred.accountId, orderUpdate(rec, 'NEW', null, engine.now()));
        return orderOut(rec, true);
      },
    }],
    // Query Order (USER_DATA): -2013 when unknown.
    ['GET /fapi/v1/order', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const rec = orderRec(acctOf(c), c.params);
        if (!rec) throw BinanceErrors.noSuchOrder();
        return orderOut(rec);
      },
    }],
    // Cancel Order (TRADE): -2011 when unknown or no longer open.
    ['DELETE /fapi/v1/order', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        let rec = orderRec(a, c.params);
        if (rec && isOpen(rec) && c.fault?.action === 'fillBeforeCancel') {
          fillAtMark(rec.symbol);
          rec = engine.order(a.cred.accountId, { venueOrderId: rec.venueOrderId });
        }
        if (!rec || !isOpen(rec)) throw fromRejection({ code: '-2011', message: '' });
        const r = engine.cancelOrder(a.cred.accountId, rec.clientOrderId);
        if (!r.ok) throw fromRejection(r.error);
        const done = engine.order(a.cred.accountId, { venueOrderId: rec.venueOrderId })!;
        hub.publishUser(a.cred.accountId, orderUpdate(done, 'CANCELED', null, engine.now()));
        return orderOut(done, true);
      },
    }],
    // Current All Open Orders (USER_DATA): weight 1 with symbol, 40 without.
    ['GET /fapi/v1/openOrders', {
      security: 'SIGNED', weight: withSymbol(1, 40),
      handler: (c) => {
        const symbol = c.params['symbol'];
        if (symbol) fmt(symbol);
        return engine.orders(acctOf(c).cred.accountId, symbol).filter(isOpen).map((x) => orderOut(x));
      },
    }],
    // All Orders (USER_DATA).
    ['GET /fapi/v1/allOrders', {
      security: 'SIGNED', weight: w(5),
      handler: (c) => {
        const p = c.params;
        const symbol = need(p, 'symbol');
        fmt(symbol);
        const from = num(p['orderId'], 'orderId');
        const list = timeFilter(engine.orders(acctOf(c).cred.accountId, symbol), (x) => x.time, p).filter((x) => from === null || Number(x.venueOrderId) >= from);
        return lastN(list, limitOf(p, 500, 1000), from !== null || p['startTime'] !== undefined).map((x) => orderOut(x));
      },
    }],
    // Cancel All Open Orders (TRADE).
    ['DELETE /fapi/v1/allOpenOrders', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        const symbol = need(c.params, 'symbol');
        fmt(symbol);
        for (const rec of engine.cancelAllOrders(a.cred.accountId, symbol)) hub.publishUser(a.cred.accountId, orderUpdate(rec, 'CANCELED', null, engine.now()));
        return CANCEL_ALL_DONE;
      },
    }],
    // New Algo Order (TRADE): algoType CONDITIONAL, STOP_MARKET | TAKE_PROFIT_MARKET.
    ['POST /fapi/v1/algoOrder', {
      security: 'SIGNED', weight: w(0), orders: true,
      handler: (c) => {
        const a = acctOf(c);
        const p = c.params;
        if (need(p, 'algoType') !== 'CONDITIONAL') throw BinanceErrors.invalidParam('algoType');
        const symbol = need(p, 'symbol');
        const f = fmt(symbol);
        const s = side(p);
        const type = need(p, 'type');
        if (type !== 'STOP_MARKET' && type !== 'TAKE_PROFIT_MARKET') throw BinanceErrors.invalidOrderType();
        checkPositionSide(a, p);
        const triggerPrice = decimal(p, 'triggerPrice');
        if (!triggerPrice) throw BinanceErrors.mandatory('triggerPrice');
        const clientAlgoId = p['clientAlgoId'] ?? randomId();
        if (!CLIENT_ID.test(clientAlgoId)) throw BinanceErrors.invalidParam('clientAlgoId');
        const reduceOnly = bool(p['reduceOnly']);
        const workingType = p['workingType'] ?? 'CONTRACT_PRICE'; // Binance's default
        if (workingType !== 'MARK_PRICE' && workingType !== 'CONTRACT_PRICE') throw BinanceErrors.invalidParam('workingType');
        const role = purposeOf(clientAlgoId, true);
        const r = engine.placeAlgoOrder(a.cred.accountId, {
          clientAlgoId, symbol, side: s, type, triggerPrice, quantity: decimal(p, 'quantity'), closePosition: bool(p['closePosition']), reduceOnly,
          ...(role === 'STOP_LOSS' || role === 'TAKE_PROFIT' ? { purpose: role } : {}),
        });
        if (!r.ok) throw fromRejection(r.error);
        const rec = engine.algoOrder(a.cred.accountId, { algoId: r.value.algoId })!;
        algoWorkingType.set(`${rec.accountId}:${rec.algoId}`, workingType);
        hub.publishUser(a.cred.accountId, algoUpdate(rec, 'NEW', engine.now()));
        return algoJson(f, rec, null, wtOf(rec));
      },
    }],
    // Query Algo Order (USER_DATA).
    ['GET /fapi/v1/algoOrder', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        const rec = algoRec(a, c.params);
        if (!rec) throw BinanceErrors.noSuchOrder();
        return algoJson(fmt(rec.symbol), rec, rec.actualOrderId ? engine.order(a.cred.accountId, { venueOrderId: rec.actualOrderId }) : null, wtOf(rec));
      },
    }],
    // Cancel Algo Order (TRADE).
    ['DELETE /fapi/v1/algoOrder', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        const rec = algoRec(a, c.params);
        const r = engine.cancelAlgoOrder(a.cred.accountId, rec ? { algoId: rec.algoId } : { algoId: '-1' });
        if (!r.ok) throw fromRejection(r.error);
        const done = engine.algoOrder(a.cred.accountId, { algoId: r.value.algoId })!;
        hub.publishUser(a.cred.accountId, algoUpdate(done, 'CANCELED', engine.now()));
        return { algoId: Number(done.algoId), clientAlgoId: done.clientAlgoId, code: '200', msg: 'success' };
      },
    }],
    // Current All Algo Open Orders (USER_DATA).
    ['GET /fapi/v1/openAlgoOrders', {
      security: 'SIGNED', weight: withSymbol(1, 40),
      handler: (c) => {
        const symbol = c.params['symbol'];
        if (symbol) fmt(symbol);
        return engine.openAlgoOrders(acctOf(c).cred.accountId, symbol).map((x) => algoJson(fmt(x.symbol), x, null, wtOf(x)));
      },
    }],
    // Cancel All Algo Open Orders (TRADE).
    ['DELETE /fapi/v1/algoOpenOrders', {
      security: 'SIGNED', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        const symbol = need(c.params, 'symbol');
        fmt(symbol);
        for (const rec of engine.cancelAllAlgoOrders(a.cred.accountId, symbol)) hub.publishUser(a.cred.accountId, algoUpdate(rec, 'CANCELED', engine.now()));
        return CANCEL_ALL_DONE;
      },
    }],
    // Query All Algo Orders (USER_DATA).
    ['GET /fapi/v1/allAlgoOrders', {
      security: 'SIGNED', weight: w(5),
      handler: (c) => {
        const a = acctOf(c);
        const p = c.params;
        const symbol = need(p, 'symbol');
        const f = fmt(symbol);
        const from = num(p['algoId'], 'algoId');
        const list = timeFilter(engine.algoOrders(a.cred.accountId, symbol), (x) => x.time, p).filter((x) => from === null || Number(x.algoId) >= from);
        return lastN(list, limitOf(p, 500, 1000), from !== null || p['startTime'] !== undefined).map((x) =>
          algoJson(f, x, x.actualOrderId ? engine.order(a.cred.accountId, { venueOrderId: x.actualOrderId }) : null, wtOf(x)),
        );
      },
    }],
    // Account Trade List (USER_DATA).
    ['GET /fapi/v1/userTrades', {
      security: 'SIGNED', weight: w(5),
      handler: (c) => {
        const p = c.params;
        const symbol = need(p, 'symbol');
        const f = fmt(symbol);
        const oid = p['orderId'];
        const fromId = num(p['fromId'], 'fromId');
        const list = timeFilter(engine.trades(acctOf(c).cred.accountId, symbol), (t) => t.ts, p).filter(
          (t) => (oid === undefined || t.venueOrderId === oid) && (fromId === null || Number(t.tradeId) >= fromId),
        );
        return lastN(list, limitOf(p, 500, 1000), fromId !== null || p['startTime'] !== undefined).map((t) => tradeJson(f, t));
      },
    }],
    // Position Information V2 / V3 (USER_DATA).
    ['GET /fapi/v2/positionRisk', { security: 'SIGNED', weight: w(5), handler: (c) => positionRows(acctOf(c), c.params['symbol'], 2) }],
    ['GET /fapi/v3/positionRisk', { security: 'SIGNED', weight: w(5), handler: (c) => positionRows(acctOf(c), c.params['symbol'], 3) }],
    // Symbol Configuration (USER_DATA): margin type and leverage per symbol (v3 positionRisk has neither).
    ['GET /fapi/v1/symbolConfig', {
      security: 'SIGNED', weight: w(5),
      handler: (c) => {
        const a = acctOf(c);
        const syms = c.params['symbol'] ? [c.params['symbol']] : [...o.rules.keys()];
        return syms.map((s) => {
          const lev = leverageOf(a, s);
          return { symbol: s, marginType: a.marginType.get(s) ?? 'CROSSED', isAutoAddMargin: false, leverage: lev, maxNotionalValue: str(maxNotionalAt(fmt(s).rules, lev)) };
        });
      },
    }],
    // Futures Account Balance V2 / V3, Account Information V2 / V3 (USER_DATA).
    ['GET /fapi/v2/balance', { security: 'SIGNED', weight: w(5), handler: (c) => balanceRows(acctOf(c)) }],
    ['GET /fapi/v3/balance', { security: 'SIGNED', weight: w(5), handler: (c) => balanceRows(acctOf(c)) }],
    ['GET /fapi/v2/account', { security: 'SIGNED', weight: w(5), handler: (c) => accountJson(acctOf(c), 2) }],
    ['GET /fapi/v3/account', { security: 'SIGNED', weight: w(5), handler: (c) => accountJson(acctOf(c), 3) }],
    // Get Income History (USER_DATA): REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR, TRANSFER.
    ['GET /fapi/v1/income', {
      security: 'SIGNED', weight: w(30),
      handler: (c) => {
        const p = c.params;
        const list = timeFilter(acctOf(c).income, (r) => r['time'] as number, p).filter(
          (r) => (!p['symbol'] || r['symbol'] === p['symbol']) && (!p['incomeType'] || r['incomeType'] === p['incomeType']),
        );
        const n = limitOf(p, 100, 1000);
        const page = Math.max(1, num(p['page'], 'page') ?? 1);
        return p['startTime'] !== undefined ? list.slice((page - 1) * n, page * n) : lastN(list, n, false);
      },
    }],
    // User data stream: Start / Keepalive / Close (USER_STREAM: API key, no signature).
    ['POST /fapi/v1/listenKey', {
      security: 'USER_STREAM', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        if (!a.listenKey || a.listenKey.expires <= wall()) a.listenKey = { key: randomBytes(32).toString('hex'), expires: 0 };
        a.listenKey.expires = wall() + listenKeyTtl;
        return { listenKey: a.listenKey.key };
      },
    }],
    ['PUT /fapi/v1/listenKey', {
      security: 'USER_STREAM', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        if (!a.listenKey || a.listenKey.expires <= wall()) throw BinanceErrors.invalidListenKey();
        a.listenKey.expires = wall() + listenKeyTtl;
        return { listenKey: a.listenKey.key };
      },
    }],
    ['DELETE /fapi/v1/listenKey', {
      security: 'USER_STREAM', weight: w(1),
      handler: (c) => {
        const a = acctOf(c);
        if (a.listenKey) hub.expireListenKey(a.listenKey.key, wall());
        a.listenKey = null;
        return {};
      },
    }],
    // ccxt's loadMarkets asks the spot wallet for currencies when it has keys (sapi, "All Coins' Information"): a minimal answer.
    ['GET /sapi/v1/capital/config/getall', {
      security: 'SIGNED', weight: w(10),
      handler: () => ['USDT', 'BTC'].map((coin) => ({ coin, name: coin, depositAllEnable: false, withdrawAllEnable: false, free: '0', locked: '0', freeze: '0', withdrawing: '0', ipoing: '0', ipoable: '0', storage: '0', isLegalMoney: false, trading: true, networkList: [] })),
    }],
    // …and, with options.fetchMargins (ccxt's default), "Get All Cross Margin Pairs": none here.
    ['GET /sapi/v1/margin/allPairs', { security: 'SIGNED', weight: w(1), handler: () => [] }],
    ['GET /sapi/v1/margin/isolated/allPairs', { security: 'SIGNED', weight: w(10), handler: () => [] }],
    // ---- Bulwark admin endpoints (local only; signed with the account's key) ----
    ['POST /bulwark/v1/deposit', {
      security: 'SIGNED', weight: w(0),
      handler: (c) => {
        const a = acctOf(c);
        if (need(c.params, 'asset') !== 'USDT') throw BinanceErrors.invalidParam('asset');
        const amount = decimal(c.params, 'amount');
        if (!amount || amount.lte(0)) throw BinanceErrors.mandatory('amount');
        engine.fund(a.cred.accountId, amount);
        addIncome(a, '', 'TRANSFER', amount, engine.now(), '');
        hub.publishUser(a.cred.accountId, accountUpdate(a, null, 'DEPOSIT', engine.now(), amount));
        return { asset: 'USDT', amount: str(amount), walletBalance: usdt(engine.account(a.cred.accountId)!.walletBalance) };
      },
    }],
    ['POST /bulwark/v1/step', {
      security: 'SIGNED', weight: w(0),
      handler: (c) => {
        const p = c.params;
        const symbol = need(p, 'symbol');
        fmt(symbol);
        const from = decimal(p, 'from');
        const to = decimal(p, 'to');
        if (!from) throw BinanceErrors.mandatory('from');
        if (!to) throw BinanceErrors.mandatory('to');
        const ts = num(need(p, 'ts'), 'ts')!;
        const rate = decimal(p, 'fundingRate');
        const barVolume = decimal(p, 'barVolume');
        if (barVolume && barVolume.lt(0)) throw BinanceErrors.invalidParam('barVolume');
        const s: PaperStep = { from: str(from), to: str(to), gap: bool(p['gap']), ts, ...(barVolume ? { barVolume: str(barVolume) } : {}) };
        if (p['scope'] !== undefined && p['scope'] !== 'all') throw BinanceErrors.invalidParam('scope');
        return stepReportFor(acctOf(c), clock.step(symbol, s, rate ? { rate: str(rate) } : null), p['scope']);
      },
    }],
    ['POST /bulwark/v1/advance', {
      security: 'SIGNED', weight: w(0),
      handler: (c) => stepReportFor(acctOf(c), clock.advance(num(need(c.params, 'steps'), 'steps')!)),
    }],
    ...faultAdminRoutes<Account>(faults),
    ['POST /bulwark/v1/ws/disconnect', {
      security: 'SIGNED', weight: w(0),
      handler: (c) => {
        const kind = c.params['kind'] ?? 'all';
        if (kind !== 'market' && kind !== 'user' && kind !== 'all') throw BinanceErrors.invalidParam('kind');
        return { closed: faults.disconnectWs(kind) };
      },
    }],
  ]);

  // ---- HTTP ----
  const http = await serveBinanceRoutes<Account>({
    routes,
    keys,
    accountOf: (id) => accounts.get(id)!,
    accountIdOf: (a) => a.cred.accountId,
    limiter,
    faults,
    wall,
    recvWindowMaxMs,
    upgrade: (req, socket, head) => hub.upgrade(req, socket, head),
    port: o.port,
    host: o.host,
  });

  // Listen keys expire without keep-alive: listenKeyExpired, then the stream closes.
  const sweep = setInterval(() => {
    const t = wall();
    for (const a of accounts.values()) {
      if (a.listenKey && a.listenKey.expires <= t) {
        hub.expireListenKey(a.listenKey.key, t);
        a.listenKey = null;
      }
    }
  }, Math.max(20, Math.min(60_000, Math.floor(listenKeyTtl / 4))));
  sweep.unref();

  // Own clock: market time runs at `speed` × wall time from the next step of the candle file.
  const ownClock = startPathOwnClock(path, clock, speed, wall);

  let closed = false;
  return {
    url: http.url,
    wsUrl: http.wsUrl,
    engine,
    clock,
    faults,
    wsConnections: (kind = 'all') => hub.count(kind),
    wsSubscribers: (stream) => hub.subscribers(stream),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      ownClock?.stop();
      await hub.close();
      await http.close();
    },
  };
}
