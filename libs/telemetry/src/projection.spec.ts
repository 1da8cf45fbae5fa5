import { describe, expect, it, beforeAll } from '@jest/globals';
import { ROOT_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { Counter, Gauge } from 'prom-client';
import { orderFilled, orderInitialized } from '@bulwark/testing';
import { BulwarkMetrics, METRIC_NAMES } from './metrics';
import { MetricsProjection } from './projection';
import { observeTickToOrder, processMetrics } from './process';
import { TimedIdGenerator, traceStartMs } from './tracing';

const meta = (tsEvent = Date.parse('2025-11-21T10:00:00Z')) => ({ correlationId: 'candle-binance-usdm-BTCUSDT-1', tsEvent });
const ev = (type: string, data: unknown, tsEvent?: number) => ({ type, data, metadata: meta(tsEvent) });

async function series<T extends string>(m: Counter<T> | Gauge<T>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.get()).values) out[Object.values(v.labels).join('|')] = v.value;
  return out;
}

const order = orderInitialized({ clientOrderId: 'bw1-1E', accountId: 'a1' });
const fill = (leaves: string) => orderFilled({ clientOrderId: 'bw1-1E', tradeId: `t${leaves}`, accountId: 'a1', quantity: '0.005', price: '100', feeRate: '0', leavesQuantity: leaves });
const guards = (liq: string | null) => ({ liquidationPrice: liq, marginRatioWarnPrice: null, marginRatioClosePrice: null, liquidationDistanceWarnPrice: null, liquidationDistanceClosePrice: null });

describe('MetricsProjection', () => {
  it('counts each order status transition appended, by venue and symbol, FILLED vs PARTIALLY_FILLED by leaves quantity', async () => {
    const m = new BulwarkMetrics('execution', false);
    const p = new MetricsProjection(m);
    await p.appended('order-bw1-1E', [ev('OrderInitialized', order), ev('OrderSubmitted', { clientOrderId: 'bw1-1E' }), ev('OrderAccepted', { clientOrderId: 'bw1-1E', venueOrderId: '1' })]);
    await p.appended('order-bw1-1E', [ev('OrderFilled', fill('0.005'))]);
    await p.appended('order-bw1-1E', [ev('OrderFilled', fill('0'))]);
    expect(await series(m.orders)).toEqual({
      'binance-usdm|BTCUSDT|INITIALIZED': 1,
      'binance-usdm|BTCUSDT|SUBMITTED': 1,
      'binance-usdm|BTCUSDT|ACCEPTED': 1,
      'binance-usdm|BTCUSDT|PARTIALLY_FILLED': 1,
      'binance-usdm|BTCUSDT|FILLED': 1,
    });
  });

  it('asks where an order it never saw initialised trades (a restarted execution), and says unknown when nobody knows', async () => {
    const m = new BulwarkMetrics('execution', false);
    const asked: string[] = [];
    const p = new MetricsProjection(m, async (s) => (asked.push(s), s === 'order-known' ? { venue: 'binance-usdm', symbol: 'ETHUSDT' } : null));
    await p.appended('order-known', [ev('OrderCanceled', { clientOrderId: 'known' })]);
    await p.appended('order-known', [ev('OrderExpired', { clientOrderId: 'known' })]);
    await p.appended('order-lost', [ev('OrderRejected', { clientOrderId: 'lost', code: '-2019', message: 'margin' })]);
    expect(asked).toEqual(['order-known', 'order-lost']);
    expect(await series(m.orders)).toEqual({ 'binance-usdm|ETHUSDT|CANCELED': 1, 'binance-usdm|ETHUSDT|EXPIRED': 1, 'unknown|unknown|REJECTED': 1 });
  });

  it('counts risk decisions with the denial reason, and breaker events by type; other account events count nothing', async () => {
    const m = new BulwarkMetrics('risk', false);
    const p = new MetricsProjection(m);
    await p.appended('account-a1', [
      ev('EntryApproved', {}),
      ev('EntryDenied', { reason: 'DAILY_LOSS_LIMIT' }),
      ev('EntryDenied', { reason: 'DAILY_LOSS_LIMIT' }),
      ev('TradingPaused', { reason: 'DAILY_LOSS_LIMIT' }),
      ev('TradingStateChanged', { state: 'HALTED' }),
      ev('MonthOpened', { month: '2025-11', equity: '1' }),
    ]);
    expect(await series(m.riskDecisions)).toEqual({ 'approved|none': 1, 'denied|DAILY_LOSS_LIMIT': 2 });
    expect(await series(m.breakerEvents)).toEqual({ TradingPaused: 1, TradingStateChanged: 1 });
  });

  it('stop coverage follows the position (consumed) and its stop (appended) until the position closes', async () => {
    const m = new BulwarkMetrics('stop-monitor', false);
    const p = new MetricsProjection(m);
    const pos = 'position-a1-binance-usdm-BTCUSDT-1';
    const stop = `stop-${pos}`;
    const opened = { accountId: 'a1', venue: 'binance-usdm', symbol: 'BTCUSDT', sequence: 1, side: 'LONG', quantity: '0.5', entryPrice: '100', leverage: 10, fee: '0', clientOrderId: 'bw1-1E', tradeId: 't', purpose: 'ENTRY' };
    // The stop is appended while the PositionOpened is handled, i.e. before the transport reports it consumed.
    await p.appended(stop, [ev('StopPlaced', { positionStreamId: pos, accountId: 'a1', venue: 'binance-usdm', symbol: 'BTCUSDT', positionSide: 'LONG', quantity: '0.5', stopPrice: '95', takeProfitPrice: null, entryClientOrderId: 'bw1-1E', entryPrice: '100', guards: guards('90.5') })]);
    p.consumed(pos, ev('PositionOpened', opened));
    expect(await series(m.stopCoverage)).toEqual({ 'a1|BTCUSDT': 1 });
    p.consumed(pos, ev('PositionIncreased', { quantity: '0.5', price: '100', newQuantity: '1', newEntryPrice: '100', fee: '0', clientOrderId: 'bw1-1E', tradeId: 't2', purpose: 'ENTRY' }));
    expect(await series(m.stopCoverage)).toEqual({ 'a1|BTCUSDT': 0.5 });
    await p.appended(stop, [ev('StopResized', { quantity: '1', entryPrice: '100', guards: guards('90.5'), cause: 'POSITION_INCREASED' })]);
    expect(await series(m.stopCoverage)).toEqual({ 'a1|BTCUSDT': 1 });
    await p.appended(stop, [ev('StopTriggered', { kind: 'STOP_LOSS', triggerPrice: '95', level: '95', closeClientOrderId: 'bw1-1x1S', side: 'SELL', quantity: '1', attempt: 1 })]);
    expect(await series(m.stopCoverage)).toEqual({ 'a1|BTCUSDT': 0 });
    p.consumed(pos, ev('PositionClosed', { accountId: 'a1' }));
    expect(await series(m.stopCoverage)).toEqual({});
  });

  it('margin ratio (Binance isolated: maintenance margin / margin balance) and liquidation distance at a mark', async () => {
    const m = new BulwarkMetrics('stop-monitor', false);
    const p = new MetricsProjection(m);
    const pos = 'position-a1-binance-usdm-BTCUSDT-1';
    const bracket = { bracket: 1, initialLeverage: 125, notionalFloor: '0', notionalCap: '50000', maintMarginRatio: '0.004', cum: '0' };
    p.consumed('rules-binance-usdm-BTCUSDT', ev('InstrumentRulesRecorded', { venue: 'binance-usdm', symbol: 'BTCUSDT', brackets: [bracket] }));
    p.consumed(pos, ev('PositionOpened', { accountId: 'a1', venue: 'binance-usdm', symbol: 'BTCUSDT', sequence: 1, side: 'LONG', quantity: '1', entryPrice: '100', leverage: 10, fee: '0', clientOrderId: 'c', tradeId: 't', purpose: 'ENTRY' }));
    await p.appended(`stop-${pos}`, [ev('StopPlaced', { positionStreamId: pos, accountId: 'a1', venue: 'binance-usdm', symbol: 'BTCUSDT', positionSide: 'LONG', quantity: '1', stopPrice: '92', takeProfitPrice: null, entryClientOrderId: 'c', entryPrice: '100', guards: guards('90.5') })]);
    p.marked('binance-usdm', 'ETHUSDT', '95');
    expect(await series(m.marginRatio)).toEqual({});
    p.marked('binance-usdm', 'BTCUSDT', '95');
    // Isolated margin 1·100/10 = 10, PnL (95 − 100)·1 = −5 → balance 5; MM = 95·0.004 − 0 = 0.38.
    expect((await series(m.marginRatio))['a1|BTCUSDT']).toBeCloseTo(0.076, 12);
    expect((await series(m.liquidationDistance))['a1|BTCUSDT']).toBeCloseTo(4.5 / 95, 12);
    p.marked('binance-usdm', 'BTCUSDT', '89');
    // Balance 10 − 11 < 0: past liquidation, reported as 1.
    expect((await series(m.marginRatio))['a1|BTCUSDT']).toBe(1);
  });

  it('equity and drawdown per window: daily and monthly bases move with market time, lifetime uses the peak', async () => {
    const m = new BulwarkMetrics('accounting', false);
    const p = new MetricsProjection(m);
    p.equityObserved('a1', '1000', '1000', Date.parse('2025-11-30T10:00:00Z'));
    p.equityObserved('a1', '900', '1000', Date.parse('2025-11-30T23:00:00Z'));
    expect(await series(m.drawdown)).toEqual({ 'a1|daily': 0.1, 'a1|monthly': 0.1, 'a1|lifetime': 0.1 });
    // New UTC day and month: both bases reset to the first equity seen; the peak stays.
    p.equityObserved('a1', '800', '1000', Date.parse('2025-12-01T00:00:00Z'));
    p.equityObserved('a1', '720', '1000', Date.parse('2025-12-01T05:00:00Z'));
    expect(await series(m.drawdown)).toEqual({ 'a1|daily': 0.1, 'a1|monthly': 0.1, 'a1|lifetime': 0.28 });
    expect(await series(m.equity)).toEqual({ a1: 720 });
    // Above the base: no drawdown.
    p.equityObserved('a1', '1100', '1100', Date.parse('2025-12-01T06:00:00Z'));
    expect(await series(m.drawdown)).toEqual({ 'a1|daily': 0, 'a1|monthly': 0, 'a1|lifetime': 0 });
  });
});

describe('tick to order', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });

  it('trace ids carry their start time; an order sent in a candle-correlated trace observes now − that start', async () => {
    const t0 = Date.parse('2026-01-02T03:04:05.678Z');
    const traceId = new TimedIdGenerator(() => t0).generateTraceId();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceStartMs(traceId)).toBe(t0);
    expect(traceStartMs('0af7651916cd43dd8448eb211c80319c')).toBeNull();
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED });
    const before = (await processMetrics().tickToOrderSeconds.get()).values.find((v) => v.metricName === 'bulwark_tick_to_order_seconds_count')?.value ?? 0;
    await context.with(ctx, async () => {
      expect(observeTickToOrder('candle-binance-usdm-BTCUSDT-1', t0 + 250)).toBe(0.25);
      // An operator's request is no market tick.
      expect(observeTickToOrder('req-flatten-1', t0 + 250)).toBeNull();
    });
    expect(observeTickToOrder('candle-binance-usdm-BTCUSDT-1', t0 + 250)).toBeNull();
    const after = (await processMetrics().tickToOrderSeconds.get()).values.find((v) => v.metricName === 'bulwark_tick_to_order_seconds_count')!.value;
    expect(after - before).toBe(1);
  });

  it('every metric name is registered once in a process registry', async () => {
    const m = new BulwarkMetrics('x', false);
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    expect(names.sort()).toEqual([...METRIC_NAMES].sort());
  });
});
