/**
 * Orders filled in several trades, through the ccxt adapter (LocalBinanceVenue on unmodified
 * ccxt 4.5.84 binanceusdm + ccxt.pro) against the local Binance-compatible venue, on the real
 * BTCUSDT candles of 2025-11-21 (shared/data, see PROVENANCE.md):
 *   07:29 C 85175.9
 *   07:30 O 85175.8 H 85278.2 L 85147.2 C 85201.3 V 338.887 (rising: s0 ⇒ 85175.8 gap, s1 → 85147.2, s2 → 85278.2, s3 → 85201.3)
 *   07:31 O 85201.2 H 85222.1 L 85076.8 C 85130   V 450.095 (falling: s0 ⇒ 85201.2 gap, s1 → 85222.1, s2 → 85076.8, s3 → 85130)
 * Every trade reaches the caller as its own fill (trade id `t`, `l`, `L`, `n`, `rp`, cumulative
 * `z`), carrying the trade id `GET /fapi/v1/userTrades` answers for it.
 */
import { localVenueInputs, startBinanceLocal, type BinanceLocal } from '@bulwark/binance-local';
import type { Candle } from '@bulwark/contracts';
import { dec, pathSteps, str, ZERO, type D, type PaperFill, type PaperStep, type PaperVenueEvent } from '@bulwark/domain';
import { readCandles, resolveDataDir } from '@bulwark/market-data';
import { until } from '@bulwark/testing';
import { LocalBinanceVenue } from './index';

const SYMBOL = 'BTCUSDT';
const A = 'acc-split';
const B = 'acc-share-market';
const C = 'acc-share-limit';
const KEYS: Record<string, { apiKey: string; apiSecret: string }> = {
  [A]: { apiKey: 'split-key-ZmlsbHNBcmVUcmFkZXNIZXJl', apiSecret: 'split-secret-c2VjcmV0Rm9yU3BsaXRGaWxscw' },
  [B]: { apiKey: 'share-key-bWFya2V0T3JkZXJTaGFyZQ', apiSecret: 'share-secret-bWFya2V0U2hhcmVTZWNyZXQ' },
  [C]: { apiKey: 'limit-key-bGltaXRPcmRlclNoYXJl', apiSecret: 'limit-secret-bGltaXRTaGFyZVNlY3JldA' },
};

let whole: BinanceLocal;
let share: BinanceLocal;
/** The path steps of the 07:30 and 07:31 bars, each carrying its bar's volume. */
let bar0730: PaperStep[];
let bar0731: PaperStep[];
const adapters: LocalBinanceVenue[] = [];

beforeAll(async () => {
  const inputs = localVenueInputs(resolveDataDir());
  const bars = new Map<number, Candle>();
  for await (const c of readCandles(inputs.candlesFile!)) {
    if (c.openTime >= Date.parse('2025-11-21T07:29:00Z') && c.openTime <= Date.parse('2025-11-21T07:31:00Z')) bars.set(c.openTime, c);
  }
  const at = (iso: string) => bars.get(Date.parse(iso))!;
  const stepsOf = (c: Candle, prev: Candle): PaperStep[] => pathSteps(c, prev.close).map((s) => ({ from: s.from, to: s.to, gap: s.gap, ts: s.ts, barVolume: c.volume }));
  bar0730 = stepsOf(at('2025-11-21T07:30:00Z'), at('2025-11-21T07:29:00Z'));
  bar0731 = stepsOf(at('2025-11-21T07:31:00Z'), at('2025-11-21T07:30:00Z'));
  const accounts = (ids: string[]) => ids.map((accountId) => ({ accountId, ...KEYS[accountId] }));
  whole = await startBinanceLocal({ ...inputs, accounts: accounts([A]) });
  // share 0.0001: at most 0.0001 × bar volume / 4 per order and step (07:30: 0.00847 → 0.008; 07:31: 0.01125 → 0.011).
  share = await startBinanceLocal({ ...inputs, accounts: accounts([B, C]), liquidity: { kind: 'VOLUME_SHARE', share: dec('0.0001') } });
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(adapters.map((v) => v.close()));
  await whole?.close();
  await share?.close();
});

async function adapter(local: BinanceLocal, accountId: string): Promise<LocalBinanceVenue> {
  const v = new LocalBinanceVenue({ accountId, ...KEYS[accountId], restBase: local.url, wsBase: local.wsUrl, timeoutMs: 5_000, leverageCap: 20 });
  adapters.push(v);
  await v.deposit(accountId, dec('1000'));
  expect((await v.setOneWayMode(accountId)).ok).toBe(true);
  expect((await v.setIsolatedMargin(accountId, SYMBOL)).ok).toBe(true);
  expect((await v.setLeverage(accountId, SYMBOL, 10)).ok).toBe(true);
  return v;
}

const fills = (ev: PaperVenueEvent[]): PaperFill[] => ev.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));
const sum = (xs: D[]) => xs.reduce((a, b) => a.plus(b), ZERO);
const row = (f: PaperFill) => [f.clientOrderId, str(f.quantity), str(f.price), str(f.fee), str(f.realisedPnl), f.liquidity, f.cumulativeQuantity && str(f.cumulativeQuantity)];
const entry = (clientOrderId: string, quantity: string, over: { side?: 'BUY' | 'SELL'; type?: 'MARKET' | 'LIMIT'; price?: string; reduceOnly?: boolean; purpose?: 'ENTRY' | 'CLOSE' } = {}) => ({
  clientOrderId, symbol: SYMBOL, side: over.side ?? ('BUY' as const), type: over.type ?? ('MARKET' as const), quantity: dec(quantity), price: over.price ? dec(over.price) : null,
  reduceOnly: over.reduceOnly ?? false, purpose: over.purpose ?? ('ENTRY' as const), triggerPrice: null,
});

describe('LocalBinanceVenue: one order, several trades (splitFill fault)', () => {
  it('a market entry and its close each filled in 3 trades: 3 fills each, quantities sum to the order, cumulative 1/3, 2/3, 3/3, fees and PnL exact vs the venue\'s own numbers, websocket and REST trade ids the same', async () => {
    const v = await adapter(whole, A);
    const live: PaperVenueEvent[] = [];
    v.onVenueEvents((events) => live.push(...events)); // the live/demo path sees the same messages
    expect(await v.advance(SYMBOL, bar0730[0], null)).toEqual([]); // the 07:30 open 85,175.8

    whole.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 3 });
    expect((await v.placeOrder(A, entry('bwsplitint00-1E', '0.012'))).ok).toBe(true);
    const opened = fills(await v.advance(SYMBOL, bar0730[1], null)); // fills at s1's start, 85,175.8
    // Fee per trade 0.004 × 85,175.8 × 0.0005 = 0.1703516.
    expect(opened.map(row)).toEqual([
      ['bwsplitint00-1E', '0.004', '85175.8', '0.1703516', '0', 'TAKER', '0.004'],
      ['bwsplitint00-1E', '0.004', '85175.8', '0.1703516', '0', 'TAKER', '0.008'],
      ['bwsplitint00-1E', '0.004', '85175.8', '0.1703516', '0', 'TAKER', '0.012'],
    ]);
    expect(str(sum(opened.map((f) => f.quantity)))).toBe('0.012');
    expect(new Set(opened.map((f) => f.tradeId)).size).toBe(3);
    expect(opened.every((f) => f.purpose === 'ENTRY' && f.leverage === 10 && f.side === 'BUY')).toBe(true);
    const [pos] = await v.positions(A, SYMBOL);
    expect([str(pos.quantity), str(pos.entryPrice), str(pos.isolatedMargin)]).toEqual(['0.012', '85175.8', '102.21096']); // 0.012 × 85,175.8 / 10

    whole.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'splitFill', trades: 3 });
    expect((await v.placeOrder(A, entry('bwsplitint00-1C', '0.012', { side: 'SELL', reduceOnly: true, purpose: 'CLOSE' }))).ok).toBe(true);
    const closed = fills(await v.advance(SYMBOL, bar0730[2], null)); // at s2's start, 85,147.2
    // PnL per trade (85,147.2 − 85,175.8) × 0.004 = −0.1144; fee 0.004 × 85,147.2 × 0.0005 = 0.1702944.
    expect(closed.map(row)).toEqual([
      ['bwsplitint00-1C', '0.004', '85147.2', '0.1702944', '-0.1144', 'TAKER', '0.004'],
      ['bwsplitint00-1C', '0.004', '85147.2', '0.1702944', '-0.1144', 'TAKER', '0.008'],
      ['bwsplitint00-1C', '0.004', '85147.2', '0.1702944', '-0.1144', 'TAKER', '0.012'],
    ]);
    expect(await v.positions(A, SYMBOL)).toEqual([]);
    expect(v.isIdle()).toBe(true);

    // The venue's own numbers: REST userTrades (same trade ids as the websocket) and the engine.
    const all = [...opened, ...closed];
    const rest = await v.trades(A, SYMBOL);
    expect(rest.map((t) => [t.tradeId, t.clientOrderId, str(t.quantity), str(t.price), str(t.fee), str(t.realisedPnl)])).toEqual(
      all.map((f) => [f.tradeId, f.clientOrderId, str(f.quantity), str(f.price), str(f.fee), str(f.realisedPnl)]),
    );
    expect(whole.engine.trades(A).map((t) => [t.tradeId, str(t.fee), str(t.realisedPnl), t.cumulativeQuantity && str(t.cumulativeQuantity)])).toEqual(
      all.map((f) => [f.tradeId, str(f.fee), str(f.realisedPnl), f.cumulativeQuantity && str(f.cumulativeQuantity)]),
    );
    const realised = sum(all.map((f) => f.realisedPnl));
    const fees = sum(all.map((f) => f.fee));
    expect([realised.toFixed(2), fees.toFixed(2)]).toEqual([sum(rest.map((t) => t.realisedPnl)).toFixed(2), sum(rest.map((t) => t.fee)).toFixed(2)]);
    expect([str(realised), str(fees)]).toEqual(['-0.3432', '1.021938']);
    expect(str((await v.account(A))!.walletBalance)).toBe('998.634862'); // 1,000 − 0.3432 − 1.021938
    const order = await v.order(A, SYMBOL, 'bwsplitint00-1E');
    expect(order && [order.status, str(order.executedQty), str(order.avgPrice)]).toEqual(['FILLED', '0.012', '85175.8']);

    // onVenueEvents: the same six trades, in arrival order, with the same ids (so a caller seeing both can de-duplicate).
    await until('the six trades on onVenueEvents', () => fills(live).length >= 6);
    expect(fills(live).map((f) => [f.tradeId, str(f.quantity), f.cumulativeQuantity && str(f.cumulativeQuantity)])).toEqual(
      all.map((f) => [f.tradeId, str(f.quantity), f.cumulativeQuantity && str(f.cumulativeQuantity)]),
    );
  }, 120_000);
});

describe('LocalBinanceVenue: VOLUME_SHARE liquidity (orders filled over several steps)', () => {
  it('a market BUY 0.02 fills 0.008 / 0.008 / 0.004 on three steps; the order is PARTIALLY_FILLED and the adapter not idle until the last trade', async () => {
    const v = await adapter(share, B);
    expect(await v.advance(SYMBOL, bar0730[0], null)).toEqual([]);
    expect((await v.placeOrder(B, entry('bwshareint00-1E', '0.02'))).ok).toBe(true);
    const seen: unknown[] = [];
    for (const s of bar0730.slice(1)) {
      const f = fills(await v.advance(SYMBOL, s, null));
      const o = (await v.order(B, SYMBOL, 'bwshareint00-1E'))!;
      seen.push([f.map(row), o.status, str(o.executedQty), v.isIdle()]);
    }
    // Each at its step's first price: 85,175.8, 85,147.2, 85,278.2; fees 0.008 × 85,175.8 × 0.0005 = 0.3407032, 0.3405888, 0.004 × 85,278.2 × 0.0005 = 0.1705564.
    expect(seen).toEqual([
      [[['bwshareint00-1E', '0.008', '85175.8', '0.3407032', '0', 'TAKER', '0.008']], 'PARTIALLY_FILLED', '0.008', false],
      [[['bwshareint00-1E', '0.008', '85147.2', '0.3405888', '0', 'TAKER', '0.016']], 'PARTIALLY_FILLED', '0.016', false],
      [[['bwshareint00-1E', '0.004', '85278.2', '0.1705564', '0', 'TAKER', '0.02']], 'FILLED', '0.02', false],
    ]);
    const [pos] = await v.positions(B, SYMBOL);
    // Entry (681.4064 + 681.1776 + 341.1128) / 0.02 = 85,184.84; isolated margin 1,703.6968 / 10.
    expect([str(pos.quantity), str(pos.entryPrice), str(pos.isolatedMargin)]).toEqual(['0.02', '85184.84', '170.36968']);
  }, 120_000);

  it('a LIMIT BUY partly filled then canceled: the order ends CANCELED with executedQty = the filled part, and the position is exactly that size', async () => {
    const v = await adapter(share, C);
    expect(await v.advance(SYMBOL, bar0731[0], null)).toEqual([]);
    expect((await v.placeOrder(C, entry('bwshareint00-2E', '0.05', { type: 'LIMIT', price: '85100' }))).ok).toBe(true);
    expect(await v.advance(SYMBOL, bar0731[1], null)).toEqual([]); // 85,201.2 → 85,222.1: not reached
    const f = fills(await v.advance(SYMBOL, bar0731[2], null)); // 85,222.1 → 85,076.8 reaches 85,100
    // 0.011 as a maker: fee 0.011 × 85,100 × 0.0002 = 0.18722.
    expect(f.map(row)).toEqual([['bwshareint00-2E', '0.011', '85100', '0.18722', '0', 'MAKER', '0.011']]);
    const working = (await v.order(C, SYMBOL, 'bwshareint00-2E'))!;
    expect([working.status, str(working.executedQty), str(working.quantity)]).toEqual(['PARTIALLY_FILLED', '0.011', '0.05']);
    expect((await v.openOrders(C, SYMBOL)).map((o) => o.clientOrderId)).toEqual(['bwshareint00-2E']);
    expect(v.isIdle()).toBe(false);

    expect((await v.cancelOrder(C, 'bwshareint00-2E')).ok).toBe(true);
    const done = (await v.order(C, SYMBOL, 'bwshareint00-2E'))!;
    expect([done.status, str(done.executedQty), str(done.avgPrice)]).toEqual(['CANCELED', '0.011', '85100']);
    expect(await v.openOrders(C, SYMBOL)).toEqual([]);
    const [pos] = await v.positions(C, SYMBOL);
    expect([pos.side, str(pos.quantity), str(pos.entryPrice), str(pos.isolatedMargin)]).toEqual(['LONG', '0.011', '85100', '93.61']); // 0.011 × 85,100 / 10
    expect(await v.advance(SYMBOL, bar0731[3], null)).toEqual([]); // canceled: nothing more fills
    expect((await v.trades(C, SYMBOL)).map((t) => [str(t.quantity), t.maker])).toEqual([['0.011', true]]);
  }, 120_000);
});
