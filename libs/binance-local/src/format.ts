import { bracketForNotional, dec, str, ZERO, type D, type PaperAccountView, type PaperAlgoRecord, type PaperFill, type PaperOrderRecord, type Rules } from '@bulwark/domain';

/**
 * Binance USDⓈ-M JSON shapes built from the paper engine's state. Numbers that Binance sends
 * as strings are strings here, exact (decimal.js, never floats): a value that is a multiple
 * of the instrument's tick (step) is printed with the symbol's pricePrecision
 * (quantityPrecision) decimals, as Binance does ("104670.70", "0.010"); any other value is
 * printed exactly (`toFixed()`), so nothing is rounded. Ids are JSON numbers as on Binance.
 */
export interface SymbolFormat {
  rules: Rules;
  pricePrecision: number;
  quantityPrecision: number;
}

/** A price: fixed pricePrecision decimals when on the tick grid, else exact. */
export function px(f: SymbolFormat, d: D): string {
  return d.mod(f.rules.tickSize).isZero() ? d.toFixed(f.pricePrecision) : str(d);
}

/** A quantity: fixed quantityPrecision decimals when on the step grid, else exact. */
export function qty(f: SymbolFormat, d: D): string {
  return d.mod(f.rules.stepSize).isZero() ? d.toFixed(f.quantityPrecision) : str(d);
}

/** A USDT amount with 8 decimals when exact at 8, else exact (Binance prints balances with 8). */
export function usdt(d: D): string {
  return d.toDecimalPlaces(8).eq(d) ? d.toFixed(8) : str(d);
}

/** Binance's `origType`/`type` of an engine order; the venue's own liquidation orders are LIQUIDATION. */
function orderTypeOf(o: PaperOrderRecord): string {
  return o.purpose === 'LIQUIDATION' ? 'LIQUIDATION' : o.type;
}

/**
 * An order as `GET /fapi/v1/order` / `openOrders` / `allOrders` answer it
 * (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Query-Order).
 * `forPlace` gives the POST /fapi/v1/order shape (no `time`). While partly filled: status
 * PARTIALLY_FILLED, executedQty so far; `cumQuote` (USDT) = Σ qty × price of the order's
 * trades (PaperVenue.cumQuote; default executedQty × avgPrice, exact for a single price).
 */
export function orderJson(f: SymbolFormat, o: PaperOrderRecord, forPlace = false, cumQuote: D = o.executedQty.mul(o.avgPrice)): Record<string, unknown> {
  const base: Record<string, unknown> = {
    orderId: Number(o.venueOrderId),
    symbol: o.symbol,
    status: o.status,
    clientOrderId: o.clientOrderId,
    price: o.price ? px(f, o.price) : '0',
    avgPrice: o.avgPrice.isZero() ? '0.00' : px(f, o.avgPrice),
    origQty: qty(f, o.quantity),
    executedQty: qty(f, o.executedQty),
    cumQty: qty(f, o.executedQty),
    cumQuote: usdt(cumQuote),
    // The order's own (LIMIT: GTC | IOC | FOK | GTX); Binance answers GTC for MARKET orders.
    timeInForce: o.timeInForce ?? 'GTC',
    type: orderTypeOf(o),
    reduceOnly: o.reduceOnly,
    closePosition: false,
    side: o.side,
    positionSide: 'BOTH',
    stopPrice: '0',
    workingType: 'CONTRACT_PRICE',
    priceProtect: false,
    origType: orderTypeOf(o),
    priceMatch: 'NONE',
    selfTradePreventionMode: 'EXPIRE_MAKER',
    goodTillDate: 0,
  };
  if (!forPlace) base['time'] = o.time;
  base['updateTime'] = o.updateTime;
  return base;
}

/**
 * A conditional order as `POST/GET /fapi/v1/algoOrder`, `openAlgoOrders`, `allAlgoOrders`
 * answer it (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order).
 */
export function algoJson(f: SymbolFormat, a: PaperAlgoRecord, actual: PaperOrderRecord | null, workingType: 'MARK_PRICE' | 'CONTRACT_PRICE' = 'CONTRACT_PRICE'): Record<string, unknown> {
  return {
    algoId: Number(a.algoId),
    clientAlgoId: a.clientAlgoId,
    algoType: 'CONDITIONAL',
    orderType: a.type,
    symbol: a.symbol,
    side: a.side,
    positionSide: 'BOTH',
    timeInForce: 'GTC',
    quantity: a.quantity ? qty(f, a.quantity) : '0',
    algoStatus: a.status,
    actualOrderId: a.actualOrderId ?? '',
    actualPrice: actual && !actual.avgPrice.isZero() ? px(f, actual.avgPrice) : '0.00000',
    triggerPrice: px(f, a.triggerPrice),
    price: '0.00',
    icebergQuantity: null,
    selfTradePreventionMode: 'EXPIRE_MAKER',
    workingType,
    priceMatch: 'NONE',
    closePosition: a.closePosition,
    priceProtect: false,
    reduceOnly: a.reduceOnly,
    createTime: a.time,
    updateTime: a.updateTime,
    triggerTime: a.status === 'NEW' || a.status === 'CANCELED' ? 0 : a.updateTime,
    goodTillDate: 0,
  };
}

/** A trade as `GET /fapi/v1/userTrades` answers it (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Account-Trade-List). */
export function tradeJson(f: SymbolFormat, t: PaperFill): Record<string, unknown> {
  return {
    buyer: t.side === 'BUY',
    commission: usdt(t.fee),
    commissionAsset: 'USDT',
    id: Number(t.tradeId),
    maker: t.liquidity === 'MAKER',
    orderId: Number(t.venueOrderId),
    price: px(f, t.price),
    qty: qty(f, t.quantity),
    quoteQty: usdt(t.quantity.mul(t.price)),
    realizedPnl: usdt(t.realisedPnl),
    side: t.side,
    positionSide: 'BOTH',
    symbol: t.symbol,
    time: t.ts,
  };
}

export type PositionView = PaperAccountView['positions'][number];

/** Maintenance margin of a notional by Binance's bracket formula: notional × mmr − cum. */
export function maintMargin(r: Rules, notional: D): D {
  const b = bracketForNotional(r.brackets, notional);
  return notional.mul(b.maintMarginRatio).minus(b.cum);
}

/** Unrealised PnL of a position at `mark`. */
export function unrealised(p: PositionView, mark: D): D {
  return (p.side === 'LONG' ? mark.minus(p.entryPrice) : p.entryPrice.minus(mark)).mul(p.quantity);
}

/** The state positionRisk needs besides the engine's position (leverage, margin type, update time). */
export interface PositionContext {
  symbol: string;
  leverage: number;
  marginType: 'isolated' | 'cross';
  maxNotional: D;
  mark: D | null;
  updateTime: number;
}

/**
 * One position row of `GET /fapi/v2/positionRisk` (v2 = with leverage and marginType) or
 * `/fapi/v3/positionRisk` (v3 = without them, with margins)
 * (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V3).
 * `p` null = a flat symbol (v2 lists every symbol).
 */
export function positionRiskJson(f: SymbolFormat, p: PositionView | null, c: PositionContext, version: 2 | 3): Record<string, unknown> {
  const mark = c.mark ?? p?.entryPrice ?? ZERO;
  const signedQty = p ? (p.side === 'LONG' ? p.quantity : p.quantity.neg()) : ZERO;
  const notional = signedQty.mul(mark);
  const upnl = p ? unrealised(p, mark) : ZERO;
  const wallet = p?.isolatedMargin ?? ZERO;
  const common = {
    symbol: c.symbol,
    positionSide: 'BOTH',
    positionAmt: p ? qty(f, signedQty) : qty(f, ZERO),
    entryPrice: p ? str(p.entryPrice) : '0.0',
    breakEvenPrice: p ? str(p.entryPrice) : '0.0',
    markPrice: str(mark),
    unRealizedProfit: usdt(upnl),
    liquidationPrice: p?.liquidationPrice ? str(p.liquidationPrice) : '0',
    isolatedMargin: usdt(p ? wallet.plus(upnl) : ZERO),
    notional: usdt(notional),
    marginAsset: 'USDT',
    isolatedWallet: usdt(wallet),
  };
  if (version === 2) {
    return {
      ...common,
      marginType: c.marginType,
      isAutoAddMargin: 'false',
      leverage: String(c.leverage),
      maxNotionalValue: str(c.maxNotional),
      updateTime: c.updateTime,
    };
  }
  const im = notional.abs().div(c.leverage);
  return {
    ...common,
    initialMargin: usdt(im),
    maintMargin: usdt(p ? maintMargin(f.rules, notional.abs()) : ZERO),
    positionInitialMargin: usdt(im),
    openOrderInitialMargin: '0',
    adl: 0,
    bidNotional: '0',
    askNotional: '0',
    updateTime: c.updateTime,
  };
}

/** Convert JSON-ish engine values (Decimals) into plain JSON: decimals become exact strings. */
export function plain(x: unknown): unknown {
  if (x === null || x === undefined) return x ?? null;
  if (typeof x === 'object' && x !== null && 'toFixed' in x && typeof (x as D).toFixed === 'function' && 'd' in x) return str(x as D);
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object') return Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([k, v]) => [k, plain(v)]));
  return x;
}

/** Parse a decimal request parameter; null when absent; throws on malformed. */
export function decParam(v: string | undefined): D | null {
  if (v === undefined || v === '') return null;
  if (!/^-?\d+(\.\d+)?$/.test(v)) throw new RangeError(v);
  return dec(v);
}
