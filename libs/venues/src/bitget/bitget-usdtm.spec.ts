/**
 * BitgetUsdtmVenue without a network: symbol mapping, order / plan status mapping, Bitget
 * errors → domain rejections, exact decimals from Bitget's strings, and what ccxt 4.5.84
 * `bitget` sends for each port call (ccxt's `fetch` answered by a stub router).
 */
import { dec, str } from '@bulwark/domain';
import { classifyVenueError } from '../binance/errors';
import {
  BITGET_ERRORS,
  BitgetUsdtmVenue,
  bitgetOrderSnapshot,
  bitgetOrderStatus,
  bitgetPlanSnapshot,
  bitgetPlanStatus,
  bitgetTrade,
  bitgetUnifiedSymbol,
  bulwarkSymbol,
} from './bitget-usdtm';

const KEY = 'bg-key-0123456789abcdef';
const SECRET = 'bg-secret-fedcba9876543210';
const PASS = 'bg-pass-0011223344';

describe('symbols: Bulwark (Binance-style) ↔ ccxt bitget USDT-M perpetual', () => {
  it.each([
    ['BTCUSDT', 'BTC/USDT:USDT'],
    ['ETHUSDT', 'ETH/USDT:USDT'],
    ['1000PEPEUSDT', '1000PEPE/USDT:USDT'],
  ])('%s ↔ %s', (bulwark, unified) => {
    expect(bitgetUnifiedSymbol(bulwark)).toBe(unified);
    expect(bulwarkSymbol(unified)).toBe(bulwark);
  });

  it('a symbol that is not USDT-margined is refused as an unknown symbol', () => {
    expect(() => bitgetUnifiedSymbol('BTCUSD')).toThrow(/Symbol does not exist/);
    expect(() => bulwarkSymbol('BTC/USD:BTC')).toThrow();
  });
});

describe('order status mapping (Bitget state / force → the port)', () => {
  it.each([
    ['live', 'gtc', '0', 'NEW'],
    ['live', 'post_only', '0', 'NEW'],
    ['partially_filled', 'gtc', '0.01', 'PARTIALLY_FILLED'],
    ['filled', 'gtc', '0.02', 'FILLED'],
    ['canceled', 'gtc', '0', 'CANCELED'],
    ['cancelled', 'post_only', '0', 'CANCELED'],
    // IOC / FOK that did not (fully) fill end EXPIRED, never NEW or CANCELED.
    ['canceled', 'ioc', '0', 'EXPIRED'],
    ['canceled', 'IOC', '0.01', 'EXPIRED'],
    ['canceled', 'fok', '0', 'EXPIRED'],
    ['filled', 'ioc', '0.02', 'FILLED'],
  ])('%s with force %s (filled %s) → %s', (state, force, filled, want) => {
    expect(bitgetOrderStatus(state, force, dec(filled))).toBe(want);
  });

  it('a post-only order Bitget canceled because it would take is EXPIRED (Binance GTX)', () => {
    expect(bitgetOrderStatus('canceled', 'post_only', dec(0), 'post only order would be filled immediately')).toBe('EXPIRED');
  });

  it.each([
    ['live', 'NEW'],
    ['not_trigger', 'NEW'],
    ['executing', 'TRIGGERED'],
    ['executed', 'FINISHED'],
    ['fail_trigger', 'REJECTED'],
    ['fail_execute', 'REJECTED'],
    ['cancelled', 'CANCELED'],
  ])('plan status %s → %s', (planStatus, want) => {
    expect(bitgetPlanStatus(planStatus)).toBe(want);
  });
});

describe('snapshots: exact decimals from Bitget strings', () => {
  it('an order: size, filled, average price and reduce-only from the strings', () => {
    const o = bitgetOrderSnapshot({
      symbol: 'BTCUSDT', size: '0.023', orderId: '1234567890123456789', clientOid: 'b-entry-1', baseVolume: '0.023', priceAvg: '85100.10000000000000001',
      state: 'filled', side: 'buy', force: 'gtc', orderType: 'market', reduceOnly: 'NO', cTime: '1763710259999', uTime: '1763710260001',
    });
    expect([o.clientOrderId, o.venueOrderId, o.side, o.type, o.status, str(o.quantity), str(o.executedQty), str(o.avgPrice), o.reduceOnly, o.updateTime]).toEqual([
      'b-entry-1', '1234567890123456789', 'BUY', 'MARKET', 'FILLED', '0.023', '0.023', '85100.10000000000000001', false, 1763710260001,
    ]);
    // A pending order: no fill yet, priceAvg "" → ZERO; status under `status`.
    const p = bitgetOrderSnapshot({ symbol: 'BTCUSDT', size: '0.5', orderId: '9', clientOid: 'c', baseVolume: '0', priceAvg: '', status: 'live', side: 'sell', force: 'post_only', orderType: 'limit', reduceOnly: 'YES' });
    expect([p.status, str(p.avgPrice), p.reduceOnly, p.side]).toEqual(['NEW', '0', true, 'SELL']);
  });

  it('a position TP/SL plan order: pos_loss → STOP_MARKET, closing side, mark price, exact trigger', () => {
    const a = bitgetPlanSnapshot({
      planType: 'pos_loss', symbol: 'BTCUSDT', size: '0.023', orderId: '77', clientOid: 'b-sl-1', triggerPrice: '84000.1', triggerType: 'mark_price', planStatus: 'live', side: 'sell', posSide: 'net',
    });
    expect([a.clientAlgoId, a.algoId, a.type, a.side, str(a.triggerPrice), a.quantity && str(a.quantity), a.reduceOnly, a.closePosition, a.status, a.workingType]).toEqual([
      'b-sl-1', '77', 'STOP_MARKET', 'SELL', '84000.1', '0.023', true, true, 'NEW', 'MARK_PRICE',
    ]);
    const tp = bitgetPlanSnapshot({ planType: 'pos_profit', symbol: 'BTCUSDT', size: '', orderId: '78', clientOid: 'b-tp-1', triggerPrice: '87000', triggerType: 'fill_price', planStatus: 'executed', holdSide: 'short' });
    expect([tp.type, tp.side, tp.quantity, tp.status, tp.workingType]).toEqual(['TAKE_PROFIT_MARKET', 'BUY', null, 'FINISHED', 'CONTRACT_PRICE']);
  });

  it('a fill: commission positive when paid (Bitget totalFee is negative), realised PnL, maker', () => {
    const t = bitgetTrade(
      { tradeId: 't1', symbol: 'BTCUSDT', orderId: 'o1', price: '84000', baseVolume: '0.023', feeDetail: [{ feeCoin: 'USDT', totalFee: '-0.966', deduction: 'no', totalDeductionFee: '0' }], side: 'sell', profit: '-25.3', tradeScope: 'taker', cTime: '1763710290000' },
      'b-sl-1',
    );
    expect([t.tradeId, t.clientOrderId, t.side, str(t.price), str(t.quantity), str(t.fee), t.feeAsset, str(t.realisedPnl), t.maker, t.ts]).toEqual([
      't1', 'b-sl-1', 'SELL', '84000', '0.023', '0.966', 'USDT', '-25.3', false, 1763710290000,
    ]);
    const maker = bitgetTrade({ tradeId: 't2', orderId: 'o2', price: '85000.5', baseVolume: '0.001', feeDetail: [{ feeCoin: 'USDT', totalFee: '-0.0170001' }], side: 'buy', profit: '0', tradeScope: 'maker', cTime: '1' }, null);
    expect([str(maker.fee), maker.maker]).toEqual(['0.0170001', true]);
  });
});

describe('Bitget errors → domain rejections (through the shared request machinery’s dialect)', () => {
  const fail = (code: string, msg: string, status = 400, headers: Record<string, string> = {}) => {
    const body = JSON.stringify({ code, msg, requestTime: 1, data: null });
    return BITGET_ERRORS.toFailure(new Error(`bitget ${body}`), { status, body, headers }, [KEY, SECRET, PASS]);
  };

  it.each([
    ['40762', 'The order amount exceeds the balance', '-2019', 'INSUFFICIENT_MARGIN'],
    ['45110', 'less than the minimum amount 5 USDT', '-4164', 'MIN_NOTIONAL'],
    ['22002', 'No position to close', '-2022', 'REDUCE_ONLY_REJECTED'],
    ['40774', 'The order type for unilateral position must also be the unilateral position type.', '-4061', 'POSITION_SIDE'],
    ['40768', 'Order does not exist', '-2011', 'UNKNOWN_ORDER'],
    ['40008', 'Request timestamp expired', 'BITGET_40008', 'TIMESTAMP'],
  ])('%s %s → rejection %s (%s), Bitget code kept in the message', (code, msg, domain, reason) => {
    const f = fail(code, msg);
    expect(f.rejection.code).toBe(domain);
    expect(f.rejection.message).toContain(`Bitget ${code}: ${msg}`);
    expect(f.class.reason).toBe(reason);
    if (domain.startsWith('-')) expect(classifyVenueError(domain).reason).toBe(reason); // one vocabulary with Binance
  });

  it('transport: 503 → outcome unknown, 429 → rate limited with Retry-After, timeout → TIMEOUT', () => {
    const u = fail('40015', 'System is abnormal, please try again later', 503);
    expect([u.rejection.code, u.class.reason, u.class.outcomeUnknown]).toEqual(['HTTP_503', 'OUTCOME_UNKNOWN', true]);
    const r = fail('429', 'Too Many Requests', 429, { 'Retry-After': '3' });
    expect([r.rejection.code, r.class.reason, r.retryAfterMs]).toEqual(['HTTP_429', 'RATE_LIMITED', 3000]);
    class RequestTimeout extends Error {}
    const t = BITGET_ERRORS.toFailure(new RequestTimeout('bitget GET https://api.bitget.com/api/v2/mix/order/detail request timed out (10000 ms)'), {}, []);
    expect([t.rejection.code, t.class.outcomeUnknown]).toEqual(['TIMEOUT', true]);
  });

  it('never shows the key, the secret or the passphrase', () => {
    const f = fail('40012', `apikey/password is incorrect ${KEY} ${PASS} ${SECRET}`);
    expect(f.rejection.message).not.toMatch(new RegExp(`${KEY}|${SECRET}|${PASS}`));
  });
});

/** A market entry as GET /api/v2/mix/market/contracts answers it (ccxt bitget.js comments). */
const CONTRACT = {
  symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT', buyLimitPriceRatio: '0.01', sellLimitPriceRatio: '0.01', feeRateUpRatio: '0.005', makerFeeRate: '0.0002', takerFeeRate: '0.0006',
  openCostUpRatio: '0.01', supportMarginCoins: ['USDT'], minTradeNum: '0.001', priceEndStep: '1', volumePlace: '3', pricePlace: '1', sizeMultiplier: '0.001', symbolType: 'perpetual',
  minTradeUSDT: '5', maxSymbolOrderNum: '200', maxProductOrderNum: '400', maxPositionNum: '150', symbolStatus: 'normal', offTime: '-1', limitOpenTime: '-1', deliveryTime: '', deliveryStartTime: '',
  deliveryPeriod: '', launchTime: '', fundInterval: '8', minLever: '1', maxLever: '125', posLimit: '0.05', maintainTime: '',
};

interface Sent {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | null;
  headers: Record<string, string>;
}

/** A venue whose ccxt `fetch` is answered by `route` (no network); every request recorded. */
function stubbed(route: (r: Sent) => unknown, mode: 'live' | 'demo' = 'live') {
  const v = new BitgetUsdtmVenue({ accountId: 'a1', apiKey: KEY, apiSecret: SECRET, passphrase: PASS, mode, leverageCap: 20 });
  const sent: Sent[] = [];
  const ok = (data: unknown) => ({ code: '00000', msg: 'success', requestTime: Date.now(), data });
  (v.exchange as unknown as { fetch: unknown }).fetch = async (url: string, method: string, headers: Record<string, string>, body: string | undefined) => {
    const u = new URL(url);
    const r: Sent = { method, path: u.pathname, query: Object.fromEntries(u.searchParams), body: body ? (JSON.parse(body) as Record<string, unknown>) : null, headers: headers ?? {} };
    sent.push(r);
    if (r.path === '/api/v2/mix/market/contracts') return ok(r.query['productType'] === 'USDT-FUTURES' ? [CONTRACT] : []);
    if (r.path === '/api/v2/mix/account/account') return ok({ marginCoin: 'USDT', marginMode: 'isolated', posMode: 'one_way_mode', isolatedLongLever: '10', isolatedShortLever: '10', crossedMarginLeverage: '10' });
    return ok(route(r));
  };
  return { v, sent };
}

describe('what ccxt bitget sends for each port call', () => {
  it('placeProtectiveOrder: place-tpsl-order, planType pos_loss, holdSide of the position, mark price, clientOid; read back by clientOid', async () => {
    const { v, sent } = stubbed((r) => {
      if (r.path === '/api/v2/mix/order/place-tpsl-order') return { orderId: '555', clientOid: r.body?.['clientOid'] };
      if (r.path === '/api/v2/mix/order/orders-plan-pending') {
        return { entrustedList: [{ planType: 'pos_loss', symbol: 'BTCUSDT', size: '0.023', orderId: '555', clientOid: 'sl-1', triggerPrice: '84000.0', triggerType: 'mark_price', planStatus: 'live', side: 'sell', posSide: 'net' }], endId: '555' };
      }
      throw new Error(`unexpected ${r.method} ${r.path}`);
    });
    try {
      const r = await v.placeProtectiveOrder('a1', { clientAlgoId: 'sl-1', symbol: 'BTCUSDT', side: 'SELL', kind: 'STOP_LOSS', triggerPrice: dec('84000.0'), quantity: dec('0.023') });
      expect(r).toEqual({ ok: true, value: { algoId: '555' } });
      const place = sent.find((x) => x.path === '/api/v2/mix/order/place-tpsl-order')!;
      expect(place.method).toBe('POST');
      expect(place.body).toMatchObject({ symbol: 'BTCUSDT', productType: 'USDT-FUTURES', marginCoin: 'USDT', planType: 'pos_loss', holdSide: 'buy', triggerType: 'mark_price', triggerPrice: '84000', size: '0.023', clientOid: 'sl-1' });
      const readBack = sent.find((x) => x.path === '/api/v2/mix/order/orders-plan-pending')!;
      expect(readBack.query).toMatchObject({ symbol: 'BTCUSDT', planType: 'profit_loss', clientOid: 'sl-1', productType: 'USDT-FUTURES' });
      expect(place.headers['PAPTRADING']).toBeUndefined(); // live
    } finally {
      await v.close();
    }
  });

  it('a read-back that differs is canceled and answered PROTECTION_MISMATCH', async () => {
    const { v, sent } = stubbed((r) => {
      if (r.path === '/api/v2/mix/order/place-tpsl-order') return { orderId: '556', clientOid: 'tp-1' };
      if (r.path === '/api/v2/mix/order/orders-plan-pending') return { entrustedList: [{ planType: 'pos_profit', symbol: 'BTCUSDT', size: '0.023', orderId: '556', clientOid: 'tp-1', triggerPrice: '86000', triggerType: 'mark_price', planStatus: 'live', side: 'sell' }] };
      if (r.path === '/api/v2/mix/order/cancel-plan-order') return { successList: [{ orderId: '556', clientOid: 'tp-1' }], failureList: [] };
      throw new Error(`unexpected ${r.path}`);
    });
    try {
      const r = await v.placeProtectiveOrder('a1', { clientAlgoId: 'tp-1', symbol: 'BTCUSDT', side: 'SELL', kind: 'TAKE_PROFIT', triggerPrice: dec('87000'), quantity: dec('0.023') });
      expect(r.ok).toBe(false);
      if (!r.ok) expect([r.error.code, r.error.message]).toEqual(['PROTECTION_MISMATCH', expect.stringContaining('triggerPrice 86000 ≠ 87000')]);
      expect(sent.find((x) => x.path === '/api/v2/mix/order/place-tpsl-order')!.body).toMatchObject({ planType: 'pos_profit' });
      expect(sent.find((x) => x.path === '/api/v2/mix/order/cancel-plan-order')!.body).toMatchObject({ planType: 'profit_loss', orderIdList: [{ clientOid: 'tp-1' }] });
    } finally {
      await v.close();
    }
  });

  it.each([
    ['PO', 'post_only'],
    ['GTC', 'GTC'],
    ['IOC', 'IOC'],
    ['FOK', 'FOK'],
  ] as const)('placeOrder LIMIT %s: place-order with force %s, isolated, clientOid, exact size and price', async (tif, force) => {
    const { v, sent } = stubbed((r) => {
      if (r.path === '/api/v2/mix/order/place-order') return { orderId: '9001', clientOid: r.body?.['clientOid'] };
      throw new Error(`unexpected ${r.path}`);
    });
    try {
      const r = await v.placeOrder('a1', { clientOrderId: `e-${tif}`, symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: dec('0.023'), price: dec('85000.5'), reduceOnly: false, purpose: 'ENTRY', triggerPrice: null, timeInForce: tif });
      expect(r).toEqual({ ok: true, value: { venueOrderId: '9001' } });
      const body = sent.find((x) => x.path === '/api/v2/mix/order/place-order')!.body!;
      expect(body).toMatchObject({ symbol: 'BTCUSDT', productType: 'USDT-FUTURES', marginCoin: 'USDT', marginMode: 'isolated', side: 'buy', orderType: 'limit', size: '0.023', price: '85000.5', force, clientOid: `e-${tif}` });
      expect(body['reduceOnly']).toBeUndefined();
      expect(body['tradeSide']).toBeUndefined(); // one-way mode
    } finally {
      await v.close();
    }
  });

  it('placeOrder MARKET reduce-only: reduceOnly YES; the leverage cap is enforced before any request', async () => {
    const { v, sent } = stubbed((r) => ({ orderId: '9002', clientOid: r.body?.['clientOid'] }));
    try {
      expect((await v.placeOrder('a1', { clientOrderId: 'x-1', symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: dec('0.023'), price: null, reduceOnly: true, purpose: 'CLOSE', triggerPrice: null })).ok).toBe(true);
      expect(sent.find((x) => x.path === '/api/v2/mix/order/place-order')!.body).toMatchObject({ side: 'sell', orderType: 'market', reduceOnly: 'YES', size: '0.023', clientOid: 'x-1' });
      const n = sent.length;
      expect(await v.setLeverage('a1', 'BTCUSDT', 50)).toEqual({ ok: false, error: expect.objectContaining({ code: 'LEVERAGE_CAP' }) });
      expect(sent.length).toBe(n);
      expect((await v.placeOrder('other', { clientOrderId: 'x-2', symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: dec('1'), price: null, reduceOnly: true, purpose: 'CLOSE', triggerPrice: null })).ok).toBe(false);
      expect(sent.length).toBe(n);
    } finally {
      await v.close();
    }
  });

  it('setLeverage: set-leverage, read back, maxNotional from the position tiers', async () => {
    const { v, sent } = stubbed((r) => {
      if (r.path === '/api/v2/mix/account/set-leverage') return { symbol: 'BTCUSDT', marginCoin: 'USDT', longLeverage: '10', shortLeverage: '10', marginMode: 'isolated' };
      if (r.path === '/api/v2/mix/market/query-position-lever') {
        return [
          { symbol: 'BTCUSDT', level: '1', startUnit: '0', endUnit: '150000', leverage: '125', keepMarginRate: '0.004' },
          { symbol: 'BTCUSDT', level: '2', startUnit: '150000', endUnit: '900000', leverage: '100', keepMarginRate: '0.005' },
          { symbol: 'BTCUSDT', level: '3', startUnit: '900000', endUnit: '45000000.5', leverage: '10', keepMarginRate: '0.05' },
          { symbol: 'BTCUSDT', level: '4', startUnit: '45000000.5', endUnit: '90000000', leverage: '5', keepMarginRate: '0.1' },
        ];
      }
      throw new Error(`unexpected ${r.path}`);
    });
    try {
      const r = await v.setLeverage('a1', 'BTCUSDT', 10);
      expect(r.ok && [r.value.leverage, str(r.value.maxNotional)]).toEqual([10, '45000000.5']);
      expect(sent.find((x) => x.path === '/api/v2/mix/account/set-leverage')!.body).toMatchObject({ symbol: 'BTCUSDT', leverage: '10', marginCoin: 'USDT', productType: 'USDT-FUTURES' });
    } finally {
      await v.close();
    }
  });

  it('demo trading: every private request carries the paptrading header (ccxt setSandboxMode)', async () => {
    const { v, sent } = stubbed(() => ({ entrustedList: [] }), 'demo');
    try {
      expect(await v.openOrders('a1', 'BTCUSDT')).toEqual([]);
      expect(sent.find((x) => x.path === '/api/v2/mix/order/orders-pending')!.headers['PAPTRADING']).toBe('1');
    } finally {
      await v.close();
    }
  });
});

describe('local mode URLs', () => {
  it('every ccxt URL (REST, websocket, demo websocket) points at the local venue', () => {
    const v = new BitgetUsdtmVenue({ accountId: 'a1', apiKey: KEY, apiSecret: SECRET, passphrase: PASS, mode: 'local', restBase: 'http://127.0.0.1:7001', wsBase: 'ws://127.0.0.1:7002' });
    const all = JSON.stringify(v.exchange.urls['api']);
    expect(all).not.toMatch(/bitget\.com/);
    const api = v.exchange.urls['api'] as unknown as Record<string, Record<string, string> | string>;
    expect(api['mix']).toBe('http://127.0.0.1:7001');
    expect((api['ws'] as Record<string, string>)['private']).toBe('ws://127.0.0.1:7002/v2/ws/private');
    expect(() => new BitgetUsdtmVenue({ accountId: 'a1', apiKey: KEY, apiSecret: SECRET, passphrase: PASS, mode: 'local' })).toThrow(/restBase and wsBase/);
    void v.close();
  });
});

describe('ccxt options', () => {
  it("keeps ccxt bitget's own defaults (timeDifference: signed calls carry a real timestamp) and adds USDT-M swap, classic account", () => {
    const v = new BitgetUsdtmVenue({ accountId: 'a1', apiKey: KEY, apiSecret: SECRET, passphrase: PASS, mode: 'live' });
    const o = v.exchange.options as Record<string, unknown>;
    expect(o['timeDifference']).toBe(0);
    expect(o['defaultType']).toBe('swap');
    expect(o['uta']).toBe(false);
    expect(o['fetchMarkets']).toEqual({ types: ['swap'] });
    expect(Number.isFinite(Number(v.exchange.nonce()))).toBe(true);
    void v.close();
  });
});
