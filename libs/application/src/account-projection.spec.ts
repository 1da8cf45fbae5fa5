/**
 * The gateway's incremental projection (libs/projections) against the replay's rebuild, on a
 * real log (here, beside the backtest that makes it: the projections may not depend on it): the
 * in-process backtest (the same services and deciders as the distributed system, the paper
 * venue) over the real Binance USDⓈ-M BTCUSDT 1m candles of 2025-11-17 .. 2025-11-22 with funding.
 * The projection folds the log event by event; `rebuildReadModels` reads it back in one go; the
 * two must agree on the ledger, the positions and the orders, at the end and at a moment a
 * position is open, and the accounting service's summary of the run must agree with both.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type AccountSummary, type Candle, type EventData, type RecordedEvent } from '@bulwark/contracts';
import { bracketsFromContract, dec, initialMargin, liquidationPrice, maintenanceMargin, marginRatio, str, unrealisedPnl } from '@bulwark/domain';
import { InMemoryEventStore, withoutChain } from '@bulwark/event-store';
import { readCandles } from '@bulwark/market-data';
import { type AccountReadModel, AccountProjection, foldPosition, MarkPriceError, rebuildReadModels } from '@bulwark/projections';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { runBacktest } from './backtest';

const CANDLES = BTCUSDT_FILES.candles1m;
const ACCOUNT = 'projection-spec';

let store: InMemoryEventStore;
let log: RecordedEvent[];
let summary: AccountSummary;

beforeAll(async () => {
  store = new InMemoryEventStore();
  const r = await runBacktest({
    accountId: ACCOUNT, candles: CANDLES, funding: BTCUSDT_FILES.fundingRates, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true,
    from: Date.parse('2025-11-17T00:00:00Z'), to: Date.parse('2025-11-22T00:00:00Z'), store,
  });
  summary = r.summary;
  log = [];
  for await (const e of store.readAll()) log.push(e);
}, 600_000);

afterAll(async () => {
  await store.close();
});

/** A store holding the log's events up to and including global position `through` (same streams, same revisions). */
async function prefixStore(through: number): Promise<InMemoryEventStore> {
  const s = new InMemoryEventStore();
  for (const e of log) {
    if (e.position > through) break;
    await s.append(e.streamId, [{ type: e.type, data: e.data, metadata: withoutChain(e.metadata) }], e.revision === 0 ? 'no_stream' : e.revision - 1);
  }
  return s;
}

function project(through = Number.MAX_SAFE_INTEGER): AccountProjection {
  const p = new AccountProjection();
  for (const e of log) if (e.position <= through) p.apply(e);
  return p;
}

/** The projection and the rebuild agree on the ledger, the open positions and the orders of the account. */
function expectAgreement(p: AccountProjection, m: AccountReadModel): void {
  const l = p.ledger(ACCOUNT)!;
  const r = m.ledger;
  expect({ ...l }).toEqual({
    capital: r.capital, capitalKnown: r.capitalKnown, realisedPnl: r.realisedPnl, fees: r.fees, funding: r.funding, liquidationFees: r.liquidationFees,
    walletBalance: r.walletBalance, positionsOpened: r.positionsOpened, positionsClosed: r.positionsClosed, liquidations: r.liquidations, fills: r.fills,
    closesByPurpose: r.closesByPurpose,
  });
  const view = p.account(ACCOUNT)!;
  expect(view.walletBalance).toBe(r.walletBalance);
  expect(view.openPositions).toBe(r.openPositions);
  const open = m.positions.filter((x) => x.status === 'OPEN');
  expect(p.positions(ACCOUNT)!.map((x) => [x.positionStreamId, x.side, x.quantity, x.entryPrice, x.leverage, x.markPrice, x.unrealisedPnl])).toEqual(
    open.map((x) => [x.streamId, x.side, x.quantity, x.entryPrice, x.leverage, x.markPrice, x.unrealisedPnl]),
  );
  // No live mark: the projection values open positions at the last fill, as the rebuild does.
  expect(view.unrealisedPnl).toBe(r.unrealisedPnl);
  expect(view.equity).toBe(r.finalEquity);
  const orders = new Map(p.orders(ACCOUNT)!.map((o) => [o.clientOrderId, o]));
  expect(orders.size).toBe(m.orders.list.length);
  for (const o of m.orders.list) {
    const v = orders.get(o.clientOrderId);
    expect(v && [v.purpose, v.side, v.quantity, v.status, v.filledQuantity, v.averageFillPrice, v.fees]).toEqual([o.purpose, o.side, o.quantity, o.status, o.filledQuantity, o.averageFillPrice, o.fees]);
  }
  expect(p.fills(ACCOUNT)!.length).toBe(m.orders.list.reduce((n, o) => n + o.fills, 0));
}

describe('AccountProjection against rebuildReadModels (a real backtest log)', () => {
  it('the log has trades, an open-position moment and no invalid event', () => {
    expect(summary.positionsClosed).toBeGreaterThanOrEqual(2);
    expect(log.some((e) => e.type === 'StopPlaced')).toBe(true);
    expect(log.some((e) => e.type === 'FundingApplied')).toBe(true);
  });

  it('after the whole log: the same ledger, positions and orders; the ledger is the accounting service\'s', async () => {
    const p = project();
    const models = await rebuildReadModels(store);
    expect(models.ok).toBe(true);
    const m = models.accounts.find((a) => a.accountId === ACCOUNT)!;
    expectAgreement(p, m);
    expect(p.lastPosition()).toBe(await store.lastPosition());
    expect(p.skipped().count).toBe(0);
    const l = p.ledger(ACCOUNT)!;
    for (const f of ['capital', 'realisedPnl', 'fees', 'funding', 'liquidationFees'] as const) expect(dec(l[f]).eq(dec(summary[f]))).toBe(true);
    for (const f of ['positionsOpened', 'positionsClosed', 'liquidations', 'fills'] as const) expect(l[f]).toBe(summary[f]);
    expect(l.closesByPurpose).toEqual(summary.closesByPurpose);
    // The peak and deepest drawdown: at least what accounting recorded from its marks (EquityMarked).
    const a = p.account(ACCOUNT)!;
    expect(dec(a.peakEquity).gte(dec(summary.peakEquity))).toBe(true);
    expect(dec(a.maxDrawdown).gte(dec(summary.maxDrawdown))).toBe(true);
    if (summary.openPositions === 0) expect(a.equity).toBe(str(dec(summary.finalEquity)));
    const curve = p.equityCurve(ACCOUNT)!;
    expect(curve[curve.length - 1].equity).toBe(a.equity);
    expect(curve.every((x, i) => i === 0 || x.ts >= curve[i - 1].ts)).toBe(true);
    expect(p.accounts().map((x) => x.accountId)).toEqual([ACCOUNT]);
    expect(a.config?.['leverage']).toBe(10);
  });

  it('while a position is open: the same models, and its liquidation price is the domain\'s for the stop-monitor\'s inputs', async () => {
    const placed = log.find((e) => e.type === 'StopPlaced')!;
    const p = project(placed.position);
    const models = await rebuildReadModels(await prefixStore(placed.position));
    expect(models.ok).toBe(true);
    expectAgreement(p, models.accounts.find((a) => a.accountId === ACCOUNT)!);

    const stop = placed.data as EventData<'StopPlaced'>;
    const [view] = p.positions(ACCOUNT)!;
    expect(view.positionStreamId).toBe(stop.positionStreamId);
    const state = foldPosition(log.filter((e) => e.streamId === stop.positionStreamId && e.position <= placed.position));
    const rules = log.filter((e) => e.type === 'InstrumentRulesRecorded' && e.position <= placed.position).pop()!.data as EventData<'InstrumentRulesRecorded'>;
    const isolated = initialMargin(state.quantity.mul(state.entryPrice), state.leverage);
    const lp = liquidationPrice({ side: state.side!, quantity: state.quantity, entryPrice: state.entryPrice, walletBalance: isolated, brackets: bracketsFromContract(rules.brackets) }).price;
    expect(lp).not.toBeNull();
    expect(view.liquidationPrice).toBe(str(lp!));
    expect(view.isolatedMargin).toBe(str(isolated));
    // The stop-monitor recorded the same liquidation price with the position's stop.
    expect(view.liquidationPrice).toBe(stop.guards.liquidationPrice);
    expect([view.stopPrice, view.takeProfitPrice]).toEqual([stop.stopPrice, stop.takeProfitPrice]);
    expect(view.markSource).toBe('fill');
    expect(view.guards).toEqual({ marginRatioWarn: '0.9', marginRatioClose: '0.95', liquidationDistanceWarn: '0.1', liquidationDistanceClose: '0.05' });
  });

  it('a live mark (the next real candle\'s close) values the position, moves equity and the curve, and gives the margin ratio', async () => {
    const placed = log.find((e) => e.type === 'StopPlaced')!;
    const p = project(placed.position);
    const before = p.account(ACCOUNT)!;
    const points = p.equityCurve(ACCOUNT)!.length;
    const ts = placed.metadata.tsEvent;
    let candle: Candle | null = null;
    for await (const c of readCandles(CANDLES)) {
      if (c.openTime > ts) {
        candle = c;
        break;
      }
    }
    const markTs = candle!.openTime + 59_999;
    const close = candle!.close;
    p.applyMark('binance-usdm', 'BTCUSDT', close, markTs);
    const [view] = p.positions(ACCOUNT)!;
    const state = foldPosition(log.filter((e) => e.streamId === view.positionStreamId && e.position <= placed.position));
    const mark = dec(close);
    expect([view.markPrice, view.markSource, view.markTs]).toEqual([close, 'mark', markTs]);
    const upnl = unrealisedPnl(state, mark);
    expect(view.unrealisedPnl).toBe(str(upnl));
    const rules = log.filter((e) => e.type === 'InstrumentRulesRecorded').pop()!.data as EventData<'InstrumentRulesRecorded'>;
    const mm = maintenanceMargin(state.quantity.mul(mark), bracketsFromContract(rules.brackets)).maintenanceMargin;
    expect(view.maintenanceMargin).toBe(str(mm));
    expect(view.marginRatio).toBe(str(marginRatio(mm, dec(view.isolatedMargin).plus(upnl))!));
    expect(view.liquidationDistance).toBe(str(mark.minus(dec(view.liquidationPrice!)).abs().div(mark)));
    const after = p.account(ACCOUNT)!;
    expect(after.equity).toBe(str(dec(before.walletBalance).plus(upnl)));
    expect(after.asOf).toBe(markTs);
    if (after.equity !== before.equity) expect(p.equityCurve(ACCOUNT)!.length).toBe(points + 1);
    expect(() => p.applyMark('binance-usdm', 'BTCUSDT', '-1', markTs)).toThrow(MarkPriceError);
    expect(() => p.applyMark('binance-usdm', 'BTCUSDT', '1e5', markTs)).toThrow(/price/);
  });

  it('a bad event is recorded as skipped and changes nothing; an event at or before lastPosition is ignored; unrelated types are ignored', () => {
    const p = project();
    const before = JSON.stringify([p.account(ACCOUNT), p.positions(ACCOUNT), p.orders(ACCOUNT)]);
    const last = p.lastPosition();
    const fill = log.find((e) => e.type === 'OrderFilled')!;
    p.apply({ ...fill, position: last + 1, data: { ...(fill.data as object), price: 'not a price' } });
    p.apply({ ...fill, position: last + 2, type: 'NoSuchEvent' });
    p.apply(fill); // applied already
    p.apply({ ...log.find((e) => e.type === 'CandleClosed' || e.type === 'IntentEmitted')!, position: last + 3 });
    expect(JSON.stringify([p.account(ACCOUNT), p.positions(ACCOUNT), p.orders(ACCOUNT)])).toBe(before);
    const skipped = p.skipped();
    expect(skipped.count).toBe(2);
    expect(skipped.events.map((s) => [s.position, s.type])).toEqual([[last + 1, 'OrderFilled'], [last + 2, 'NoSuchEvent']]);
    expect(skipped.events[1].reason).toMatch(/unknown event type/);
    expect(p.lastPosition()).toBe(last + 3);
    expect(p.account('nobody')).toBeNull();
    expect([p.positions('nobody'), p.orders('nobody'), p.fills('nobody'), p.equityCurve('nobody'), p.breakers('nobody')]).toEqual([null, null, null, null, null]);
  });
});
