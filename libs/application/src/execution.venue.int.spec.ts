/**
 * The whole pipeline (in process) trading through ccxt against the local Binance-compatible
 * venue, with the stops at the exchange: the execution service places reduce-only algo
 * stop-loss / take-profit orders, reads them back, lets the venue close the position, cancels
 * the sibling, and accounting's PnL equals the venue's to the cent. Then a restart of the
 * execution service with an open position and a resting algo stop reconciles without
 * duplicating or dropping the stop. Real BTCUSDT candles, rules and funding from ../shared/data.
 */
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { startBinanceLocal, localVenueInputs, type BinanceLocal } from '@bulwark/binance-local';
import { dec, emergencyStopPrice, type Rules, shortHash, str, ZERO } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { instrumentFiles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { LocalBinanceVenue } from '@bulwark/venues';
import { InProcessSystem } from './in-process';
import { replayCandles } from './replay';
import type { VenueFactory } from './venue-factory';

const SYMBOL = 'BTCUSDT';
const VENUE = 'binance-usdm';
const DAY = Date.parse('2025-11-21T00:00:00Z');
const files = instrumentFiles(resolveDataDir(), VENUE, SYMBOL);

let local: BinanceLocal;
const rules = (): Rules => localVenueInputs(resolveDataDir(), SYMBOL).rules.get(SYMBOL)!;
const accounts = [
  { accountId: 'exch-1', apiKey: 'exch-key-1-AAAAAAAAAAAAAAAA', apiSecret: 'exch-secret-1-BBBBBBBBBBBBBBBB' },
  { accountId: 'exch-2', apiKey: 'exch-key-2-CCCCCCCCCCCCCCCC', apiSecret: 'exch-secret-2-DDDDDDDDDDDDDDDD' },
  { accountId: 'exch-3', apiKey: 'exch-key-3-EEEEEEEEEEEEEEEE', apiSecret: 'exch-secret-3-FFFFFFFFFFFFFFFF' },
  { accountId: 'exch-4', apiKey: 'exch-key-4-GGGGGGGGGGGGGGGG', apiSecret: 'exch-secret-4-HHHHHHHHHHHHHHHH' },
  { accountId: 'exch-5', apiKey: 'exch-key-5-JJJJJJJJJJJJJJJJ', apiSecret: 'exch-secret-5-KKKKKKKKKKKKKKKK' },
];

beforeAll(async () => {
  local = await startBinanceLocal({ ...localVenueInputs(resolveDataDir(), SYMBOL), accounts: accounts.map((a) => ({ ...a, balance: '0' })) });
});
/** Every pipeline a test built: its execution service (and venue connection) is closed after the test, pass or fail. */
const systems: InProcessSystem[] = [];
afterEach(async () => {
  for (const sys of systems.splice(0)) await sys.execution.onModuleDestroy();
});
afterAll(async () => {
  await local?.close();
});

const venueFor = (i: number): VenueFactory => async (_rules, onAlert) => ({
  venue: new LocalBinanceVenue({ ...accounts[i], restBase: local.url, wsBase: local.wsUrl, onAlert, timeoutMs: 5_000 }),
  reconcileSeconds: 0,
  accountIds: [accounts[i].accountId],
});

async function openAccount(sys: InProcessSystem, accountId: string, at: number) {
  await sys.command(Subjects.openAccount, { accountId, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 5, riskFraction: '0.01', venueBalance: '10000', protection: 'EXCHANGE', at });
  await sys.command(Subjects.attachStrategy, { accountId, venue: VENUE, symbol: SYMBOL, strategy: 'donchian-atr', params: {}, at });
}

async function replay(sys: InProcessSystem, accountId: string, from: number, to: number) {
  const funding = await readFundingRates(files.fundingRates);
  return replayCandles(sys.clock(), { runId: accountId, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from, to, schedule: [] }, funding);
}

async function eventsOf(store: InMemoryEventStore, accountId: string): Promise<RecordedEvent[]> {
  const tag = shortHash(accountId);
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) if (e.streamId.includes(accountId) || e.streamId.includes(tag)) out.push(e);
  return out;
}

const data = <T extends string>(events: RecordedEvent[], type: T) => events.filter((e) => e.type === type).map((e) => ({ streamId: e.streamId, ...(e.data as object) })) as Array<{ streamId: string } & EventData<T & never> & Record<string, unknown>>;

describe('exchange protection through ccxt against the local venue (in-process pipeline)', () => {
  it('places algo stop-loss and take-profit per position, read back; the venue closes each position; the sibling is cancelled; PnL matches the venue to the cent', async () => {
    const store = new InMemoryEventStore();
    const sys = await InProcessSystem.create(store, venueFor(0));
    systems.push(sys);
    const acc = accounts[0].accountId;
    await openAccount(sys, acc, DAY);
    await replay(sys, acc, DAY, DAY + 86_400_000);
    const ev = await eventsOf(store, acc);

    const stops = data(ev, 'StopPlaced') as Array<{ streamId: string; stopPrice: string; takeProfitPrice: string | null; quantity: string }>;
    expect(stops.length).toBeGreaterThanOrEqual(2);
    const inits = data(ev, 'OrderInitialized') as Array<{ clientOrderId: string; type: string; purpose: string; triggerPrice: string | null; quantity: string; sourceStreamId: string }>;
    const accepted = new Map((data(ev, 'OrderAccepted') as Array<{ clientOrderId: string; venueOrderId: string }>).map((a) => [a.clientOrderId, a.venueOrderId]));
    for (const s of stops) {
      const protective = inits.filter((o) => o.sourceStreamId === s.streamId && (o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET'));
      // One reduce-only algo order per level, at the stop's own prices, accepted under the venue's algo id.
      expect(protective.map((o) => [o.type, o.triggerPrice, o.quantity])).toEqual([
        ['STOP_MARKET', s.stopPrice, s.quantity],
        ...(s.takeProfitPrice ? [['TAKE_PROFIT_MARKET', s.takeProfitPrice, s.quantity]] : []),
      ]);
      for (const o of protective) {
        const algoId = accepted.get(o.clientOrderId);
        expect(algoId).toBeDefined();
        expect(local.engine.algoOrder(acc, { clientAlgoId: o.clientOrderId })?.algoId).toBe(algoId);
      }
    }
    // Every position was closed by one of its exchange orders (no internal close order) and its sibling cancelled.
    const closes = (data(ev, 'OrderFilled') as Array<{ clientOrderId: string; purpose: string }>).filter((f) => f.purpose !== 'ENTRY');
    const protectiveIds = new Set(inits.filter((o) => o.type !== 'MARKET' && o.type !== 'LIMIT').map((o) => o.clientOrderId));
    expect(closes.length).toBeGreaterThanOrEqual(1);
    for (const c of closes) expect({ close: c.clientOrderId, atExchange: protectiveIds.has(c.clientOrderId) }).toEqual({ close: c.clientOrderId, atExchange: true });
    expect(inits.filter((o) => o.type === 'MARKET' && o.purpose !== 'ENTRY')).toEqual([]);
    // Per position: exactly one of its exchange orders filled; once flat, the other one was cancelled.
    const filled = new Set(closes.map((c) => c.clientOrderId));
    const canceled = new Set((data(ev, 'OrderCanceled') as Array<{ clientOrderId: string }>).map((c) => c.clientOrderId));
    let closedByExchange = 0;
    for (const s of stops) {
      const ids = inits.filter((o) => o.sourceStreamId === s.streamId && o.type !== 'MARKET' && o.type !== 'LIMIT').map((o) => o.clientOrderId);
      const hit = ids.filter((id) => filled.has(id));
      if (hit.length === 0) continue; // still open at the end of the window
      closedByExchange++;
      expect({ stop: s.streamId, filled: hit.length, cancelled: ids.filter((id) => canceled.has(id)).length }).toEqual({ stop: s.streamId, filled: 1, cancelled: ids.length - 1 });
    }
    expect(closedByExchange).toBe(data(ev, 'PositionClosed').length);
    expect(closedByExchange).toBeGreaterThanOrEqual(1);

    // Accounting against the venue's own trade history, to the cent.
    const summary = await sys.accounting.summary(acc);
    const trades = local.engine.trades(acc);
    // The venue's stops fill where the internal ones would: the same day as the paper demo with
    // internal stops (`npm run demo -- --from 2025-11-21 --to 2025-11-22`: 15 positions, 9 stops, 6 targets, 9,976.95).
    expect({ realised: dec(summary.realisedPnl).toFixed(2), fees: dec(summary.fees).toFixed(2), equity: dec(summary.finalEquity).toFixed(2), closes: summary.closesByPurpose }).toEqual({
      realised: '214.10', fees: '237.44', equity: '9976.95', closes: { STOP_LOSS: 9, TAKE_PROFIT: 6 },
    });
    const realised = trades.reduce((s, t) => s.plus(t.realisedPnl), ZERO);
    const fees = trades.reduce((s, t) => s.plus(t.fee), ZERO);
    expect(dec(summary.realisedPnl).toFixed(2)).toBe(realised.toFixed(2));
    expect(dec(summary.fees).toFixed(2)).toBe(fees.toFixed(2));
    if (summary.openPositions === 0) expect(dec(summary.finalEquity).toFixed(2)).toBe(local.engine.account(acc)!.walletBalance.toFixed(2));
    expect(trades.length).toBe(data(ev, 'OrderFilled').length);
  }, 120_000);

  it('a restart of execution with an open position and resting algo stops reconciles without duplicating or dropping them; the stop still closes the position once', async () => {
    const store = new InMemoryEventStore();
    const acc = accounts[1].accountId;
    const sys = await InProcessSystem.create(store, venueFor(1));
    systems.push(sys);
    await openAccount(sys, acc, DAY);
    // Replay until a position is open with its exchange stops resting at the venue.
    const funding = await readFundingRates(files.fundingRates);
    let stopAt = 0;
    await replayCandles(sys.clock(), { runId: acc, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: DAY, to: DAY + 86_400_000, schedule: [] }, funding, {
      onCandle: (c) => {
        if (stopAt === 0 && local.engine.openAlgoOrders(acc).length > 0 && (local.engine.account(acc)?.positions.length ?? 0) > 0) stopAt = c.openTime + 60_000;
      },
      stopped: () => stopAt !== 0,
    });
    expect(stopAt).toBeGreaterThan(0);
    const resting = local.engine.openAlgoOrders(acc).map((a) => [a.clientAlgoId, a.type, str(a.triggerPrice)]).sort();
    expect(resting.length).toBeGreaterThanOrEqual(1);
    const algoCount = local.engine.algoOrders(acc).length;

    await sys.restartExecution(venueFor(1));
    const ev = await eventsOf(store, acc);
    const recon = data(ev, 'ReconciliationCompleted') as Array<{ trigger: string; differences: number; protectiveOrders: number; positions: number }>;
    expect(recon).toEqual([expect.objectContaining({ trigger: 'STARTUP', differences: 0, protectiveOrders: resting.length, positions: 1 })]);
    expect(data(ev, 'ReconciliationDifference')).toEqual([]);
    // Nothing placed again, nothing cancelled.
    expect(local.engine.algoOrders(acc).length).toBe(algoCount);
    expect(local.engine.openAlgoOrders(acc).map((a) => [a.clientAlgoId, a.type, str(a.triggerPrice)]).sort()).toEqual(resting);

    // The market goes on: the resting stop (or target) closes the position exactly once.
    const positionsBefore = data(ev, 'PositionClosed').length;
    let closedAt = 0;
    await replayCandles(sys.clock(), { runId: acc, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: stopAt, to: DAY + 86_400_000, schedule: [] }, funding, {
      onCandle: (c) => {
        if (closedAt === 0 && (local.engine.account(acc)?.positions.length ?? 0) === 0) closedAt = c.openTime;
      },
      stopped: () => closedAt !== 0,
    });
    expect(closedAt).toBeGreaterThan(0);
    const after = await eventsOf(store, acc);
    expect(data(after, 'PositionClosed').length).toBe(positionsBefore + 1);
    const restingIds = new Set(resting.map((r) => r[0]));
    const fillsOfResting = (data(after, 'OrderFilled') as Array<{ clientOrderId: string }>).filter((f) => restingIds.has(f.clientOrderId));
    expect(fillsOfResting).toHaveLength(1);
    expect(local.engine.openAlgoOrders(acc)).toEqual([]); // the sibling was cancelled by the restarted service
  }, 120_000);

  it('a position opened at the venue while execution was down is found at start-up and protected at once (an emergency stop at the 1 %-risk price)', async () => {
    const store = new InMemoryEventStore();
    const acc = accounts[2].accountId;
    const sys = await InProcessSystem.create(store, venueFor(2));
    systems.push(sys);
    await sys.command(Subjects.openAccount, { accountId: acc, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 5, riskFraction: '0.01', venueBalance: '10000', at: DAY });
    await replay(sys, acc, DAY, DAY + 10 * 60_000);
    const mark = local.engine.markPrice(SYMBOL)!;
    await sys.restartExecution(venueFor(2), async () => {
      // Someone buys 0.010 BTC on the account by hand; it fills on the venue's next step.
      const placed = local.engine.placeOrder(acc, { clientOrderId: 'manual-1', symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.010'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
      expect(placed.ok).toBe(true);
      local.clock.step(SYMBOL, { from: str(mark), to: str(mark), gap: false, ts: DAY + 10 * 60_000 + 1 }, null);
    });
    const ev = await eventsOf(store, acc);
    const diffs = data(ev, 'ReconciliationDifference') as Array<{ kind: string; action: string; observed: string }>;
    expect(diffs.map((d) => [d.kind, d.action])).toEqual([['UNKNOWN_POSITION', 'PROTECTED']]);
    const position = local.engine.account(acc)!.positions[0];
    const wallet = local.engine.account(acc)!.walletBalance;
    const expected = emergencyStopPrice({ symbol: SYMBOL, side: 'LONG', quantity: position.quantity, entryPrice: position.entryPrice, isolatedMargin: position.isolatedMargin, brackets: rules().brackets }, wallet, dec('0.01'), dec('0.1'), mark)!;
    const stops = local.engine.openAlgoOrders(acc);
    expect(stops.map((a) => [a.type, a.side, str(a.quantity!), str(a.triggerPrice)])).toEqual([['STOP_MARKET', 'SELL', '0.01', str(expected.div(rules().tickSize).ceil().mul(rules().tickSize))]]);
    // Recorded like any exchange stop: an order stream, accepted under its algo id.
    const accepted = data(ev, 'OrderAccepted') as Array<{ clientOrderId: string; venueOrderId: string }>;
    expect(accepted).toEqual([expect.objectContaining({ clientOrderId: stops[0].clientAlgoId, venueOrderId: stops[0].algoId })]);
  }, 60_000);

  it('an exchange stop cancelled at the venue while execution was down is placed again at start-up', async () => {
    const store = new InMemoryEventStore();
    const acc = accounts[3].accountId;
    const sys = await InProcessSystem.create(store, venueFor(3));
    systems.push(sys);
    await openAccount(sys, acc, DAY);
    const funding = await readFundingRates(files.fundingRates);
    await replayCandles(sys.clock(), { runId: acc, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: DAY, to: DAY + 86_400_000, schedule: [] }, funding, {
      stopped: () => local.engine.openAlgoOrders(acc).length === 2 && (local.engine.account(acc)?.positions.length ?? 0) === 1,
    });
    const [sl] = local.engine.openAlgoOrders(acc).filter((a) => a.type === 'STOP_MARKET');
    await sys.restartExecution(venueFor(3), async () => {
      expect(local.engine.cancelAlgoOrder(acc, { clientAlgoId: sl.clientAlgoId }).ok).toBe(true);
    });
    const ev = await eventsOf(store, acc);
    expect((data(ev, 'ReconciliationDifference') as Array<{ kind: string; action: string; clientOrderId: string }>).map((d) => [d.kind, d.action, d.clientOrderId])).toEqual([
      ['MISSING_PROTECTIVE_ORDER', 'RESTORED', sl.clientAlgoId],
    ]);
    const now = local.engine.openAlgoOrders(acc).filter((a) => a.type === 'STOP_MARKET');
    expect(now.map((a) => [a.side, str(a.quantity!), str(a.triggerPrice)])).toEqual([[sl.side, str(sl.quantity!), str(sl.triggerPrice)]]);
    expect(now[0].clientAlgoId).not.toBe(sl.clientAlgoId);
  }, 60_000);

  it('flatten with the stops resting at the exchange: HALTED, the position closed reduce-only at market, its algo stop-loss and take-profit cancelled; nothing left at the venue; the audit names who and why', async () => {
    const store = new InMemoryEventStore();
    const acc = accounts[4].accountId;
    const sys = await InProcessSystem.create(store, venueFor(4));
    systems.push(sys);
    await openAccount(sys, acc, DAY);
    const funding = await readFundingRates(files.fundingRates);
    let at = 0;
    await replayCandles(sys.clock(), { runId: acc, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: DAY, to: DAY + 86_400_000, schedule: [] }, funding, {
      onCandle: (c) => {
        if (at === 0 && local.engine.openAlgoOrders(acc).length === 2 && (local.engine.account(acc)?.positions.length ?? 0) === 1) at = c.openTime + 60_000;
      },
      stopped: () => at !== 0,
    });
    expect(at).toBeGreaterThan(0);
    const resting = local.engine.openAlgoOrders(acc).map((a) => a.clientAlgoId).sort();
    expect(resting).toHaveLength(2);

    await sys.command(Subjects.flatten, { accountId: acc, reason: 'end of session', by: 'carol', at });
    // The venue fills the market close at its next price step: the market goes on until it is flat and bare.
    const bare = () => (local.engine.account(acc)?.positions.length ?? 0) === 0 && local.engine.openAlgoOrders(acc).length === 0;
    await replayCandles(sys.clock(), { runId: `${acc}-after`, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: at, to: at + 10 * 60_000, schedule: [] }, funding, { stopped: bare });
    expect(local.engine.account(acc)?.positions ?? []).toEqual([]);
    expect(local.engine.openAlgoOrders(acc)).toEqual([]);
    expect(local.engine.openOrders(acc)).toEqual([]);

    const ev = await eventsOf(store, acc);
    const acct = ev.filter((e) => e.streamId === `account-${acc}`);
    const halted = acct.find((e) => e.type === 'TradingStateChanged')!;
    const cmd = acct.find((e) => e.type === 'FlattenRequested')!;
    expect(halted.data).toMatchObject({ state: 'HALTED' });
    expect(halted.position).toBeLessThan(cmd.position);
    expect(cmd.data).toEqual({ by: 'carol', reason: 'end of session' });
    const close = (data(ev, 'OrderInitialized') as Array<{ clientOrderId: string; sourceEventId: string; reduceOnly: boolean; purpose: string; type: string }>).filter((o) => o.sourceEventId === cmd.metadata.eventId);
    expect(close.map((o) => [o.type, o.purpose, o.reduceOnly])).toEqual([['MARKET', 'CLOSE', true]]);
    const closed = data(ev, 'PositionClosed') as Array<{ clientOrderId: string }>;
    expect(closed.at(-1)!.clientOrderId).toBe(close[0].clientOrderId);
    // Both exchange orders of the position were cancelled once it was flat.
    const canceled = (data(ev, 'OrderCanceled') as Array<{ streamId: string }>).map((c) => c.streamId.slice('order-'.length)).sort();
    expect(canceled).toEqual(resting);
    expect(data(ev, 'OrderDenied')).toEqual([]);
  }, 120_000);
});
