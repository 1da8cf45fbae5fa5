import { bracketForNotional, str, type D, type PaperAlgoRecord, type PaperFill, type PaperOrderRecord, type Rules } from '@bulwark/domain';
import type { PositionView } from './format';

/**
 * Bitget USDT-M futures (mix v2) JSON shapes built from the paper engine's state, field for
 * field as Bitget answers them (shapes quoted in ccxt's bitget.js comments and Bitget's docs,
 * https://www.bitget.com/api-doc/contract/intro). Decimals are strings, exact (decimal.js
 * `toFixed()` of the value, never floats); times are ms as strings, as Bitget sends them.
 * The local venue trades one-way mode and isolated margin only: posMode "one_way_mode",
 * posSide "net", marginMode "isolated".
 */

/** Bitget's order status of an engine record: live | partially_filled | filled | canceled (an engine EXPIRED — a reduce-only refused when it came to fill — is canceled). */
export function bitgetOrderStatus(s: PaperOrderRecord['status']): string {
  switch (s) {
    case 'NEW':
      return 'live';
    case 'PARTIALLY_FILLED':
      return 'partially_filled';
    case 'FILLED':
      return 'filled';
    default:
      return 'canceled';
  }
}

/** Bitget's `force` of an order: gtc | ioc | fok | post_only (a market order is gtc). */
export type BitgetForce = 'gtc' | 'ioc' | 'fok' | 'post_only';

/** What the venue keeps of an order besides the engine's record. */
export interface BitgetOrderExtra {
  force: BitgetForce;
  leverage: number;
  /** Σ fees paid (USDT, positive = paid). */
  fee: D;
  /** Σ realised PnL of its trades (USDT). */
  profit: D;
  /** Σ quantity × price of its trades (USDT). */
  quoteVolume: D;
  cancelReason: string;
}

/** One-way tradeSide of an order: buy_single / sell_single (Bitget's one-way values). */
export const oneWayTradeSide = (side: 'BUY' | 'SELL') => (side === 'BUY' ? 'buy_single' : 'sell_single');

/**
 * An order as `GET /api/v2/mix/order/detail` (status under `state`), `orders-pending` and
 * `orders-history` (status under `status`) answer it
 * (https://www.bitget.com/api-doc/contract/trade/Get-Order-Details). `fee` is negative
 * (paid), `priceAvg` "" before any fill, `price` "" for a market order, as Bitget (ccxt's recorded answers).
 */
export function bitgetOrderJson(o: PaperOrderRecord, x: BitgetOrderExtra, statusKey: 'state' | 'status'): Record<string, unknown> {
  return {
    symbol: o.symbol,
    size: str(o.quantity),
    orderId: o.venueOrderId,
    clientOid: o.clientOrderId,
    baseVolume: str(o.executedQty),
    fee: x.fee.isZero() ? '0' : str(x.fee.neg()),
    price: o.price ? str(o.price) : '', // a market order: "" as Bitget sends it (ccxt fixtures fetchOrder / orders-history)
    priceAvg: o.avgPrice.isZero() ? '' : str(o.avgPrice),
    [statusKey]: bitgetOrderStatus(o.status),
    side: o.side === 'BUY' ? 'buy' : 'sell',
    force: x.force,
    totalProfits: str(x.profit),
    posSide: 'net',
    marginCoin: 'USDT',
    presetStopSurplusPrice: '',
    presetStopLossPrice: '',
    quoteVolume: str(x.quoteVolume),
    orderType: o.type === 'LIMIT' ? 'limit' : 'market',
    leverage: String(x.leverage),
    marginMode: 'isolated',
    reduceOnly: o.reduceOnly ? 'YES' : 'NO',
    enterPointSource: o.purpose === 'LIQUIDATION' ? 'SYS' : 'API',
    tradeSide: oneWayTradeSide(o.side),
    posMode: 'one_way_mode',
    // normal = a limit order, market = a market order (Bitget's values; ccxt fixtures fetchOrder / orders-history).
    orderSource: o.purpose === 'LIQUIDATION' ? 'liquidation' : o.triggerPrice ? 'plan_market' : o.type === 'MARKET' ? 'market' : 'normal',
    cancelReason: x.cancelReason,
    cTime: String(o.time),
    uTime: String(o.updateTime),
  };
}

/** A plan (trigger / TP-SL) order as the venue keeps it besides the engine's algo record. */
export interface BitgetPlanExtra {
  /** Bitget id of the plan order (distinct from order ids). */
  orderId: string;
  planType: 'normal_plan' | 'pos_loss' | 'pos_profit';
  triggerType: 'mark_price' | 'fill_price';
  side: 'BUY' | 'SELL';
}

/** Bitget's planStatus of an algo record: live | executed | cancelled | fail_execute. */
export function bitgetPlanStatus(s: PaperAlgoRecord['status']): string {
  switch (s) {
    case 'NEW':
      return 'live';
    case 'TRIGGERED':
    case 'FINISHED':
      return 'executed';
    case 'CANCELED':
      return 'cancelled';
    default:
      return 'fail_execute';
  }
}

/**
 * A plan order as `GET /api/v2/mix/order/orders-plan-pending` / `orders-plan-history` answer it
 * (https://www.bitget.com/api-doc/contract/plan/get-orders-plan-pending): market execution
 * (`executePrice` "0", orderType market); `triggerPrice`, `planType`, `planStatus`.
 */
export function bitgetPlanJson(a: PaperAlgoRecord, x: BitgetPlanExtra, actual: PaperOrderRecord | null): Record<string, unknown> {
  const isTpsl = x.planType !== 'normal_plan';
  return {
    planType: x.planType,
    symbol: a.symbol,
    size: a.quantity ? str(a.quantity) : '0',
    orderId: x.orderId,
    clientOid: a.clientAlgoId,
    price: '0',
    executePrice: '0',
    priceAvg: actual && !actual.avgPrice.isZero() ? str(actual.avgPrice) : '',
    baseVolume: actual ? str(actual.executedQty) : '0',
    callbackRatio: '',
    triggerPrice: str(a.triggerPrice),
    triggerType: x.triggerType,
    planStatus: bitgetPlanStatus(a.status),
    side: x.side === 'BUY' ? 'buy' : 'sell',
    posSide: 'net',
    marginCoin: 'USDT',
    marginMode: 'isolated',
    enterPointSource: 'API',
    tradeSide: oneWayTradeSide(x.side),
    posMode: 'one_way_mode',
    orderType: 'market',
    orderSource: isTpsl ? x.planType : 'plan_market',
    reduceOnly: a.reduceOnly || a.closePosition ? 'YES' : 'NO',
    stopSurplusTriggerPrice: '',
    stopSurplusExecutePrice: '',
    stopSurplusTriggerType: '',
    stopLossTriggerPrice: '',
    stopLossExecutePrice: '',
    stopLossTriggerType: '',
    cTime: String(a.time),
    uTime: String(a.updateTime),
  };
}

/**
 * A trade as `GET /api/v2/mix/order/fills` / `fill-history` answer it
 * (https://www.bitget.com/api-doc/contract/trade/Get-Order-Fills): feeDetail a list with the
 * (negative) totalFee, `profit` the realised PnL, tradeScope taker | maker.
 */
export function bitgetFillJson(t: PaperFill): Record<string, unknown> {
  return {
    tradeId: t.tradeId,
    symbol: t.symbol,
    orderId: t.venueOrderId,
    price: str(t.price),
    baseVolume: str(t.quantity),
    feeDetail: [{ deduction: 'no', feeCoin: 'USDT', totalDeductionFee: '0', totalFee: t.fee.isZero() ? '0' : str(t.fee.neg()) }],
    side: t.side === 'BUY' ? 'buy' : 'sell',
    quoteVolume: str(t.quantity.mul(t.price)),
    profit: str(t.realisedPnl),
    enterPointSource: t.purpose === 'LIQUIDATION' ? 'SYS' : 'API',
    tradeSide: oneWayTradeSide(t.side),
    posMode: 'one_way_mode',
    tradeScope: t.liquidity === 'MAKER' ? 'maker' : 'taker',
    cTime: String(t.ts),
  };
}

/** Maintenance margin rate of a notional: the tier's keepMarginRate (the engine's bracket ratio). */
export function keepMarginRate(r: Rules, notional: D): D {
  return bracketForNotional(r.brackets, notional).maintMarginRatio;
}

/**
 * A position as `GET /api/v2/mix/position/all-position` / `single-position` answer it
 * (https://www.bitget.com/api-doc/contract/position/get-all-position): isolated, one-way;
 * `marginSize` the isolated margin, `total`/`available` the size, `achievedProfits` the
 * realised PnL since it opened, `unrealizedPL` at `mark`.
 */
export function bitgetPositionJson(r: Rules, p: PositionView, ctx: { mark: D; realised: D; openTime: number; updateTime: number }): Record<string, unknown> {
  const upnl = (p.side === 'LONG' ? ctx.mark.minus(p.entryPrice) : p.entryPrice.minus(ctx.mark)).mul(p.quantity);
  const notional = p.quantity.mul(ctx.mark);
  const mmr = keepMarginRate(r, notional);
  const equity = p.isolatedMargin.plus(upnl);
  return {
    marginCoin: 'USDT',
    symbol: p.symbol,
    holdSide: p.side === 'LONG' ? 'long' : 'short',
    openDelegateSize: '0',
    marginSize: str(p.isolatedMargin),
    available: str(p.quantity),
    locked: '0',
    total: str(p.quantity),
    leverage: String(p.leverage),
    achievedProfits: str(ctx.realised),
    openPriceAvg: str(p.entryPrice),
    marginMode: 'isolated',
    posMode: 'one_way_mode',
    unrealizedPL: str(upnl),
    liquidationPrice: p.liquidationPrice ? str(p.liquidationPrice) : '0',
    keepMarginRate: str(mmr),
    markPrice: str(ctx.mark),
    marginRatio: equity.gt(0) ? str(notional.mul(mmr).div(equity).toDecimalPlaces(12)) : '0',
    breakEvenPrice: str(p.entryPrice),
    totalFee: '0',
    deductedFee: '0',
    cTime: String(ctx.openTime),
    uTime: String(ctx.updateTime),
  };
}
