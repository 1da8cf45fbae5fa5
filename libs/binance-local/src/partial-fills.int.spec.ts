/**
 * Orders filled in several trades at the local venue, seen through ccxt itself (4.5.84,
 * unmodified `binanceusdm` REST and `ccxt.pro.binanceusdm` user-data stream) on real BTCUSDT
 * candles (shared/data, see PROVENANCE.md):
 *   2025-11-21 07:30 O 85175.8 H 85278.2 L 85147.2 C 85201.3 V 338.887 (rising: O → L → H → C)
 *   2025-11-21 07:31 O 85201.2 H 85222.1 L 85076.8 C 85130   V 450.095 (falling: O → H → L → C)
 * Field semantics of ORDER_TRADE_UPDATE (x TRADE: `l` last filled qty, `z` cumulative, `L` last
 * price, `ap` average price, `n` commission of the trade, `rp` its realised PnL, `t` trade id,
 * `X` PARTIALLY_FILLED … FILLED): https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Order-Update
 */
import * as ccxt from 'ccxt';
import { resolveDataDir } from '@bulwark/market-data';
import { dec } from '@bulwark/domain';
import { until } from '@bulwark/testing';
import { binanceLocalAdmin, BinanceLocalHttpError } from './admin';
import { binanceLocalUrls, ccxtFor } from './ccxt-urls';
import { localVenueInputs } from './data';
import { parseFaultRule } from './faults';
import { LiquidityConfigError, parseLiquidity } from '@bulwark/domain';
import { startBinanceLocal, type BinanceLocal, type BinanceLocalOptions } from './server';

const creds = { apiKey: 'split-key-0123456789', apiSecret: 'split-secret-abcdefghijklmnop' };
const ACC = 'acc-split';
const SYMBOL = 'BTC/USDT:USDT';
const T0730 = Date.parse('2025-11-21T07:30:00Z');
const T0731 = Date.parse('2025-11-21T07:31:00Z');
type Raw = Record<string, unknown>;

const open: BinanceLocal[] = [];
const sockets: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.allSettled(sockets.splice(0).map((s) => s.close()));
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function venue(extra: Partial<BinanceLocalOptions> = {}): Promise<BinanceLocal> {
  const l = await startBinanceLocal({ ...localVenueInputs(resolveDataDir()), startTime: T0730, accounts: [{ accountId: ACC, ...creds, balance: '10000' }], ...extra });
  open.push(l);
  return l;
}

function rest(l: BinanceLocal) {
  const cfg = ccxtFor(l, creds);
  const ex = new ccxt.binanceusdm(cfg.config);
  ex.urls['api'] = cfg.urlsApi as typeof ex.urls['api'];
  return ex;
}

/**
 * ccxt.pro on the user-data stream, with every raw ORDER_TRADE_UPDATE `o` recorded in arrival
 * order (taken before ccxt's caches, as the adapter does) and watchMyTrades / watchOrders pumped.
 */
async function userStream(l: BinanceLocal) {
  const ws = new ccxt.pro.binanceusdm({ apiKey: creds.apiKey, secret: creds.apiSecret, enableRateLimit: false });
  ws.options['listenKeyRefreshRate'] = 300;
  ws.urls['api'] = binanceLocalUrls(l.url, l.wsUrl) as typeof ws.urls['api'];
  await ws.loadHttpProxyAgent();
  sockets.push(ws);
  const raw: Raw[] = [];
  const onMessage = ws.handleMessage.bind(ws);
  ws.handleMessage = (client: Parameters<typeof ws.handleMessage>[0], message: unknown) => {
    const m = message as Raw;
    if (m && m['e'] === 'ORDER_TRADE_UPDATE') raw.push(m['o'] as Raw);
    return onMessage(client, message);
  };
  const trades: ccxt.Trade[] = [];
  const orders: ccxt.Order[] = [];
  let stop = false;
  const pump = async <T>(watch: () => Promise<T[]>, into: T[]) => {
    while (!stop) {
      try {
        into.push(...(await watch()));
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  void pump(() => ws.watchMyTrades(SYMBOL), trades);
  void pump(() => ws.watchOrders(SYMBOL), orders);
  await until('the user-data connection', () => l.wsConnections('user') === 1);
  sockets.push({ close: async () => void (stop = true) });
  return { raw, trades, orders };
}


/** The fills of a step report's events (JSON). */
const reportFills = (events: unknown[]): Raw[] => events.flatMap((e) => ((e as Raw)['kind'] === 'fill' ? [(e as { fill: Raw }).fill] : []));
const tradeMsgs = (raw: Raw[], clientOrderId: string) => raw.filter((o) => o['x'] === 'TRADE' && o['c'] === clientOrderId);
const fields = (o: Raw) => [o['X'], o['l'], o['z'], o['L'], o['ap'], o['n'], o['rp']];

describe('splitFill fault: one market order answered by N trades', () => {
  it('an entry and its close each in 3 trades: 3 ORDER_TRADE_UPDATEs (PARTIALLY_FILLED, PARTIALLY_FILLED, FILLED), 3 userTrades rows with the same trade ids, the order FILLED', async () => {
    const l = await venue();
    const ex = rest(l);
    const ws = await userStream(l);
    l.clock.advance(1); // 07:30 s0: the open 85,175.8
    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 3 });
    const entry = await ex.createOrder(SYMBOL, 'market', 'buy', 0.012, undefined, { clientOrderId: 'bwsplit00000-1E' });
    expect(l.faults.pending()).toEqual([]);
    expect(l.clock.advance(1).orderUpdates[ACC]).toBe(3); // 07:30 s1 starts at 85,175.8
    await until('the entry\'s 3 partial fills', () => tradeMsgs(ws.raw, 'bwsplit00000-1E').length === 3 && ws.trades.length === 3);
    // Fee per trade 0.004 × 85,175.8 × 0.0005 = 0.1703516.
    expect(tradeMsgs(ws.raw, 'bwsplit00000-1E').map(fields)).toEqual([
      ['PARTIALLY_FILLED', '0.004', '0.004', '85175.80', '85175.80', '0.17035160', '0.00000000'],
      ['PARTIALLY_FILLED', '0.004', '0.008', '85175.80', '85175.80', '0.17035160', '0.00000000'],
      ['FILLED', '0.004', '0.012', '85175.80', '85175.80', '0.17035160', '0.00000000'],
    ]);
    const wsIds = tradeMsgs(ws.raw, 'bwsplit00000-1E').map((o) => String(o['t']));
    expect(new Set(wsIds).size).toBe(3);

    // The reduce-only close, split again: 07:30 s2 starts at 85,147.2; PnL per trade (85,147.2 − 85,175.8) × 0.004 = −0.1144, fee 0.004 × 85,147.2 × 0.0005 = 0.1702944.
    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 3 });
    await ex.createOrder(SYMBOL, 'market', 'sell', 0.012, undefined, { clientOrderId: 'bwsplit00000-1C', reduceOnly: true });
    expect(l.clock.advance(1).orderUpdates[ACC]).toBe(3);
    await until('the close\'s 3 partial fills', () => tradeMsgs(ws.raw, 'bwsplit00000-1C').length === 3 && ws.trades.length === 6);
    expect(tradeMsgs(ws.raw, 'bwsplit00000-1C').map(fields)).toEqual([
      ['PARTIALLY_FILLED', '0.004', '0.004', '85147.20', '85147.20', '0.17029440', '-0.11440000'],
      ['PARTIALLY_FILLED', '0.004', '0.008', '85147.20', '85147.20', '0.17029440', '-0.11440000'],
      ['FILLED', '0.004', '0.012', '85147.20', '85147.20', '0.17029440', '-0.11440000'],
    ]);
    const allWsIds = [...wsIds, ...tradeMsgs(ws.raw, 'bwsplit00000-1C').map((o) => String(o['t']))];

    // REST: one row per trade, the same ids; ccxt.pro's watchMyTrades got every trade too.
    const mine = await ex.fetchMyTrades(SYMBOL);
    expect(mine.map((t) => [t.id, t.side, t.amount, t.price, t.info['commission'], t.info['realizedPnl']])).toEqual(
      allWsIds.map((id, i) => [id, i < 3 ? 'buy' : 'sell', 0.004, i < 3 ? 85175.8 : 85147.2, i < 3 ? '0.17035160' : '0.17029440', i < 3 ? '0.00000000' : '-0.11440000']),
    );
    expect(ws.trades.map((t) => t.id)).toEqual(allWsIds);
    // …while watchOrders keeps an order's latest state only (ccxt's cache is keyed by order id).
    expect(ws.orders.filter((o) => o.id === entry.id).pop()).toMatchObject({ status: 'closed', filled: 0.012, amount: 0.012 });

    const back = await ex.fetchOrder(entry.id!, SYMBOL);
    expect([back.status, back.filled, back.average, back.info['status'], back.info['executedQty'], back.info['cumQuote']]).toEqual(['closed', 0.012, 85175.8, 'FILLED', '0.012', '1022.10960000']);
    await expect(ex.fetchPositions([SYMBOL])).resolves.toEqual([]);
    // Realised −0.3432 and fees 3 × (0.1703516 + 0.1702944) = 1.0219380: the wallet to the cent.
    const bal = await ex.fetchBalance();
    expect(bal.info['totalWalletBalance']).toBe('9998.63486200');

    // The fault fired once: the next order fills in one trade.
    await ex.createOrder(SYMBOL, 'market', 'buy', 0.002, undefined, { clientOrderId: 'bwsplit00000-2E' });
    expect(l.clock.advance(1).orderUpdates[ACC]).toBe(1);
  }, 60_000);

  it('splits as many ways as the order has lots, and refuses malformed splitFill rules', async () => {
    const l = await venue();
    const ex = rest(l);
    l.clock.advance(1);
    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 5 });
    await ex.createOrder(SYMBOL, 'market', 'buy', 0.002, undefined, { clientOrderId: 'bwsplit00000-3E' });
    l.clock.advance(1);
    const rows = await ex.fetchMyTrades(SYMBOL);
    expect(rows.map((t) => t.info['qty'])).toEqual(['0.001', '0.001']);
    expect(() => parseFaultRule({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill' })).toThrow('action splitFill needs trades, an integer from 1 to 1000');
    expect(() => parseFaultRule({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 0 })).toThrow('an integer from 1 to 1000');
    expect(() => parseFaultRule({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 2.5 })).toThrow('trades must be an integer');
    expect(() => parseFaultRule({ method: 'DELETE', path: '/fapi/v1/order', action: 'splitFill', trades: 2 })).toThrow('applies to POST /fapi/v1/order');
    expect(parseFaultRule({ method: 'post', path: '/fapi/v1/order', action: 'splitFill', trades: 2, count: 3 })).toMatchObject({ trades: 2, count: 3 });
  }, 60_000);
});

describe('VOLUME_SHARE liquidity (server config): orders fill over several path steps', () => {
  // share 0.0001 of 07:30's 338.887 BTC: 0.0001 × 338.887 / 4 = 0.00847 → 0.008 a step.
  it('a market BUY 0.02 fills 0.008 / 0.008 / 0.004 on three steps; GET /fapi/v1/order and openOrders show it PARTIALLY_FILLED until the last trade', async () => {
    const l = await venue({ liquidity: { kind: 'VOLUME_SHARE', share: dec('0.0001') } });
    const ex = rest(l);
    const ws = await userStream(l);
    l.clock.advance(1);
    const o = await ex.createOrder(SYMBOL, 'market', 'buy', 0.02, undefined, { clientOrderId: 'bwshare00000-1E' });
    const query = async () => (await ex.fapiPrivateGetOrder({ symbol: 'BTCUSDT', orderId: o.id })) as Raw;
    const seen: unknown[][] = [];
    for (let i = 0; i < 3; i++) {
      expect(l.clock.advance(1).orderUpdates[ACC]).toBe(1);
      const q = await query();
      seen.push([q['status'], q['executedQty'], q['avgPrice'], q['cumQuote'], (await ex.fetchOpenOrders(SYMBOL)).length]);
    }
    // Trades at 85,175.8 (s1's start), 85,147.2 (s2), 85,278.2 (s3); average (681.4064 + 681.1776 + 341.1128) / 0.02 = 85,184.84.
    expect(seen).toEqual([
      ['PARTIALLY_FILLED', '0.008', '85175.80', '681.40640000', 1],
      ['PARTIALLY_FILLED', '0.016', '85161.50', '1362.58400000', 1],
      ['FILLED', '0.020', '85184.84', '1703.69680000', 0],
    ]);
    await until('the 3 fills of the volume-share order', () => tradeMsgs(ws.raw, 'bwshare00000-1E').length === 3);
    expect(tradeMsgs(ws.raw, 'bwshare00000-1E').map((m) => [m['X'], m['l'], m['z'], m['L'], m['ap']])).toEqual([
      ['PARTIALLY_FILLED', '0.008', '0.008', '85175.80', '85175.80'],
      ['PARTIALLY_FILLED', '0.008', '0.016', '85147.20', '85161.50'],
      ['FILLED', '0.004', '0.020', '85278.20', '85184.84'],
    ]);
    const [p] = await ex.fetchPositions([SYMBOL]);
    expect([p.contracts, p.entryPrice, p.info['isolatedWallet']]).toEqual([0.02, 85184.84, '85.18484000']); // 1,703.6968 / 20
    expect((await ex.fetchMyTrades(SYMBOL)).map((t) => t.info['qty'])).toEqual(['0.008', '0.008', '0.004']);
  }, 60_000);

  it('a LIMIT BUY partly filled then canceled: CANCELED with executedQty = the filled part, a position of exactly that size', async () => {
    // 07:31: s2 falls 85,222.1 → 85,076.8 through 85,100; 0.0001 × 450.095 / 4 = 0.01125 → 0.011 fills there (maker).
    const l = await venue({ startTime: T0731, liquidity: parseLiquidity('VOLUME_SHARE:0.0001') });
    const ex = rest(l);
    const ws = await userStream(l);
    l.clock.advance(1);
    const o = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.05, 85100, { clientOrderId: 'bwshare00000-2E' });
    expect(l.clock.advance(2).orderUpdates[ACC]).toBe(1);
    await expect(ex.fetchOrder(o.id!, SYMBOL)).resolves.toMatchObject({ status: 'open', filled: 0.011, remaining: 0.039, info: { status: 'PARTIALLY_FILLED' } });
    const canceled = await ex.cancelOrder(o.id!, SYMBOL);
    expect([canceled.status, canceled.info['status'], canceled.info['executedQty'], canceled.info['avgPrice']]).toEqual(['canceled', 'CANCELED', '0.011', '85100.00']);
    await until('the cancel of the resting order', () => ws.raw.some((m) => m['c'] === 'bwshare00000-2E' && m['x'] === 'CANCELED'));
    expect(ws.raw.filter((m) => m['c'] === 'bwshare00000-2E').map((m) => [m['x'], m['X'], m['z']])).toEqual([
      ['NEW', 'NEW', '0.000'],
      ['TRADE', 'PARTIALLY_FILLED', '0.011'],
      ['CANCELED', 'CANCELED', '0.011'],
    ]);
    const [p] = await ex.fetchPositions([SYMBOL]);
    expect([p.side, p.contracts, p.entryPrice]).toEqual(['long', 0.011, 85100]);
    const [t] = await ex.fetchMyTrades(SYMBOL);
    expect([t.info['qty'], t.info['price'], t.info['commission'], t.info['maker']]).toEqual(['0.011', '85100.00', '0.18722000', true]); // 0.011 × 85,100 × 0.0002
    await expect(ex.cancelOrder(o.id!, SYMBOL)).rejects.toThrow(/Unknown order sent/);
    expect(l.clock.advance(4).orderUpdates[ACC]).toBe(0); // nothing left to fill
  }, 60_000);
});

describe('the admin endpoints: explicit steps with a bar volume, the splitFill fault over HTTP', () => {
  it('POST /bulwark/v1/step takes barVolume (a step without one does not limit the fill) and POST /bulwark/v1/faults takes splitFill', async () => {
    const l = await venue({ liquidity: { kind: 'VOLUME_SHARE', share: dec('0.0001') } });
    const ex = rest(l);
    const admin = binanceLocalAdmin(l.url, creds);
    // The real 07:30 path: s0 ⇒ 85,175.8 (gap from 07:29's close 85,175.9), s1 85,175.8 → 85,147.2, s2 → 85,278.2; volume 338.887.
    await admin.step('BTCUSDT', { from: '85175.9', to: '85175.8', gap: true, ts: T0730, barVolume: '338.887' });
    await admin.addFault({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 2 });
    await ex.createOrder(SYMBOL, 'market', 'buy', 0.02, undefined, { clientOrderId: 'bwshare00000-3E' });
    const r1 = await admin.step('BTCUSDT', { from: '85175.8', to: '85147.2', gap: false, ts: T0730 + 20_000, barVolume: '338.887' });
    // 0.008 this step (share × 338.887 / 4), split in two trades of 4 lots.
    expect([r1.orderUpdates, reportFills(r1.events).map((f) => [f['quantity'], f['cumulativeQuantity']])]).toEqual([2, [['0.004', '0.004'], ['0.004', '0.008']]]);
    const r2 = await admin.step('BTCUSDT', { from: '85147.2', to: '85278.2', gap: false, ts: T0730 + 40_000 }); // no volume: the rest at once, split in two
    expect(reportFills(r2.events).map((f) => [f['quantity'], f['price'], f['cumulativeQuantity']])).toEqual([['0.006', '85147.2', '0.014'], ['0.006', '85147.2', '0.02']]);
    await expect(admin.step('BTCUSDT', { from: '85278.2', to: '85201.3', gap: false, ts: T0730 + 59_999, barVolume: '-1' })).rejects.toEqual(
      new BinanceLocalHttpError(400, -1130, "Data sent for parameter 'barVolume' is not valid."),
    );
    await expect(admin.addFault({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill' } as never)).rejects.toMatchObject({ code: -1130 });
  }, 60_000);
});

describe('parseLiquidity', () => {
  it('reads WHOLE and VOLUME_SHARE:<share> text or objects, and names what it refuses', () => {
    expect(parseLiquidity('WHOLE')).toEqual({ kind: 'WHOLE' });
    expect(parseLiquidity({ kind: 'WHOLE' })).toEqual({ kind: 'WHOLE' });
    const v = parseLiquidity('volume_share:0.05');
    expect(v.kind === 'VOLUME_SHARE' && v.share.toString()).toBe('0.05');
    const o = parseLiquidity({ kind: 'VOLUME_SHARE', share: '1' });
    expect(o.kind === 'VOLUME_SHARE' && o.share.toString()).toBe('1');
    for (const bad of ['VOLUME_SHARE', 'VOLUME_SHARE:0', 'VOLUME_SHARE:1.5', 'VOLUME_SHARE:-0.1', 'HALF', { kind: 'VOLUME_SHARE', share: 'x' }, { kind: 'WHOLE', share: '0.1' }, 7, null]) {
      expect(() => parseLiquidity(bad)).toThrow(LiquidityConfigError);
    }
    expect(() => parseLiquidity('VOLUME_SHARE:2')).toThrow('liquidity: expected WHOLE, VOLUME_SHARE:<share> with 0 < share <= 1 (e.g. VOLUME_SHARE:0.01), or {"kind":"VOLUME_SHARE","share":"0.01"}; got "VOLUME_SHARE:2"');
  });
});
