import { type EventData, type EventType, type RecordedEvent, Streams } from '@bulwark/contracts';
import { dec, marginClosePnl, str } from '@bulwark/domain';
import { type EventStore, InMemoryEventStore } from '@bulwark/event-store';
import { rawEvent } from '@bulwark/testing';
import { auditDay } from './audit';
import { marginAssets, marginDetail, MarginProjection, marginPositionId, parseMarginPositionId, rebuildMarginReadModels } from './margin';

/*
 * The 2024-08-04 crash run (docs/risk.md, libs/domain/src/margin-position.spec.ts): a long of
 * 0.02442555 BTC at 58459.98 with 429.346511 USDT borrowed, stopped out at 58080.62 after two
 * hourly accruals of 0.00849749 USDT; beside it a short of 0.5 ETH on the same account, whose
 * margin level crosses the guard's borrow bar both ways.
 */

const A = 'spot-m1'; // an account id holding '-'
const BTC = Streams.margin(A, 'BTCUSDT');
const ETH = Streams.margin(A, 'ETHUSDT');
const t = (hhmmss: string, day = '2024-08-04') => Date.parse(`${day}T${hhmmss}Z`);
const btc = { accountId: A, symbol: 'BTCUSDT' };
const eth = { accountId: A, symbol: 'ETHUSDT' };

let ids = 0;
/** Append one event with its market time (the store checks it against its schema unless built with validate: false). */
async function put<T extends EventType>(store: EventStore, streamId: string, type: T, data: EventData<T>, tsEvent: number): Promise<void> {
  await putRaw(store, streamId, type, data, tsEvent);
}
async function putRaw(store: EventStore, streamId: string, type: string, data: unknown, tsEvent: number): Promise<void> {
  await store.append(streamId, [rawEvent(type, data, { eventId: `margin-spec-${++ids}`, tsEvent, correlationId: 'margin-spec' })], 'any');
}
async function all(store: EventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
}

const OPEN = t('22:00:00');
const STOPPED = t('23:04:12');
/** The close's amounts as the writer computes them (the domain's `marginClosePnl`, valued at the exit price). */
const closeAmounts = (r: ReturnType<typeof marginClosePnl>) => ({ realisedPnl: str(r.realisedPnl), commissionQuote: str(r.commissionQuote), interestQuote: str(r.interestQuote), netPnl: str(r.netPnl) });
// Bought 0.02445 for 1429.346511 (0.00002445 BTC commission); sold 0.02442 at 58080.62 for 1418.3287404 (1.4183287404 USDT commission).
const longClose = closeAmounts(
  marginClosePnl({
    side: 'LONG', entryQuantity: dec('0.02445'), entryQuote: dec('1429.346511'), exitPrice: dec('58080.62'), baseCommission: dec('0.00002445'),
    quoteCommission: dec('1.4183287404'), baseInterest: dec(0), quoteInterest: dec('0.01699498'), shortfall: dec(0),
  }),
);

/**
 * The run up to 2024-08-05 00:00 (the ETH short still open). `poison` is called between events
 * (a store built with validate: false takes what it writes).
 */
async function crashRun(store: EventStore, poison: (at: number) => Promise<void> = async () => undefined): Promise<void> {
  const alice = { by: 'alice' };
  await put(store, BTC, 'MarginTransferred', { ...btc, asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', tranId: '12', ...alice, at: t('21:55:00') }, t('21:55:00'));
  await put(store, BTC, 'MarginBorrowed', { ...btc, asset: 'USDT', amount: '429.346511', tranId: 'bwm-1', ...alice, at: OPEN }, OPEN);
  await poison(OPEN);
  await put(store, BTC, 'MarginPositionOpened', {
    ...btc, sequence: 1, side: 'LONG', quantity: '0.02442555', entryPrice: '58459.98', entryQuantity: '0.02445', entryQuote: '1429.346511',
    baseCommission: '0.00002445', quoteCommission: '0', commissionQuote: '1.4293465',
    stopPrice: '58167.68', takeProfitPrice: null, riskAmount: '10', requestId: 'req-1', clientOrderId: 'bwm-1', orderId: '7', ...alice, at: OPEN,
  }, OPEN);
  await put(store, BTC, 'MarginInterestCharged', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'ON_BORROW', txId: 'i1', price: '58459.98', quoteValue: '0.00849749', at: OPEN }, OPEN);
  await put(store, ETH, 'MarginTransferred', { ...eth, asset: 'USDT', amount: '600', direction: 'TO_MARGIN', tranId: '13', ...alice, at: t('22:10:00') }, t('22:10:00'));
  await put(store, ETH, 'MarginBorrowed', { ...eth, asset: 'ETH', amount: '0.5', tranId: 'bwm-e1', ...alice, at: t('22:15:00') }, t('22:15:00'));
  await put(store, ETH, 'MarginPositionOpened', {
    ...eth, sequence: 1, side: 'SHORT', quantity: '0.5', entryPrice: '2700', entryQuantity: '0.5', entryQuote: '1350', baseCommission: '0', quoteCommission: '1.35', commissionQuote: '1.35',
    stopPrice: '2835', takeProfitPrice: '2430', riskAmount: '70.2', requestId: null, clientOrderId: 'bwm-e1', orderId: '8', ...alice, at: t('22:15:00'),
  }, t('22:15:00'));
  // 600 + 1350 USDT against 0.5 ETH at 2700: 1.44444444, under the borrow bar.
  await put(store, ETH, 'MarginLevelAlert', { ...eth, bar: 'borrow', threshold: '1.5', direction: 'DOWN', marginLevel: '1.44444444', price: '2700' }, t('22:15:00'));
  await put(store, ETH, 'MarginInterestCharged', { ...eth, asset: 'ETH', principal: '0.5', interest: '0.00000457', dailyRate: '0.000219', type: 'ON_BORROW', txId: 'e1', price: '2700', quoteValue: '0.012339', at: t('22:15:00') }, t('22:15:00'));
  await put(store, BTC, 'MarginInterestCharged', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'PERIODIC', txId: 'i2', price: '58210.5', quoteValue: '0.00849749', at: t('23:00:00') }, t('23:00:00'));
  await put(store, ETH, 'MarginInterestCharged', { ...eth, asset: 'ETH', principal: '0.5', interest: '0.00000457', dailyRate: '0.000219', type: 'PERIODIC', txId: 'e2', price: '2610', quoteValue: '0.0119277', at: t('23:00:00') }, t('23:00:00'));
  await poison(t('23:01:00'));
  await put(store, BTC, 'MarginStopTriggered', { ...btc, sequence: 1, kind: 'STOP_LOSS', triggerPrice: '58167.68', price: '58100', at: STOPPED }, STOPPED);
  await put(store, BTC, 'MarginRepaid', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.01699498', tranId: 'bwm-2', by: 'stop-monitor', at: STOPPED + 300 }, STOPPED + 300);
  await put(store, BTC, 'MarginPositionClosed', {
    ...btc, sequence: 1, status: 'STOPPED_OUT', reason: 'STOP_LOSS', quantity: '0.02442', exitPrice: '58080.62', exitQuote: '1418.3287404', ...longClose,
    // 1000 USDT in, 987.5469056796 USDT and 0.00000555 BTC of dust (at 58080.62) left: the change is the net PnL.
    shortfall: '0', equityAfter: '987.8692531206', clientOrderId: 'bwm-2', by: 'stop-monitor', at: STOPPED + 300,
  }, STOPPED + 300);
  // ETH falls: 1950 ÷ (0.5 × 2550) = 1.52941176, back over the borrow bar.
  await put(store, ETH, 'MarginLevelAlert', { ...eth, bar: 'borrow', threshold: '1.5', direction: 'UP', marginLevel: '1.52941176', price: '2550' }, t('23:30:00'));
  await put(store, ETH, 'MarginCommandRejected', { ...eth, command: 'REPAY', requestId: null, sequence: null, asset: 'ETH', amount: '1', code: '-3015', message: 'Repayment amount exceeds borrowed amount.', ...alice, at: t('23:40:00') }, t('23:40:00'));
  await put(store, Streams.signal(A), 'StrategyAttached', { accountId: A, venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: { n: 20 } }, t('23:45:00'));
  await put(store, Streams.margin('other', 'BTCUSDT'), 'MarginTransferred', { accountId: 'other', symbol: 'BTCUSDT', asset: 'USDT', amount: '50', direction: 'TO_MARGIN', tranId: '14', by: 'bob', at: t('23:50:00') }, t('23:50:00'));
  const day2 = t('00:00:00', '2024-08-05');
  await put(store, ETH, 'MarginInterestCharged', { ...eth, asset: 'ETH', principal: '0.5', interest: '0.00000457', dailyRate: '0.000219', type: 'PERIODIC', txId: 'e3', price: '2480', quoteValue: '0.0113336', at: day2 }, day2);
}

const closedLong = {
  positionId: 'margin-spot-m1-BTCUSDT-1', accountId: A, symbol: 'BTCUSDT', sequence: 1, side: 'LONG', quantity: '0.02442555', entryPrice: '58459.98',
  stopPrice: '58167.68', takeProfitPrice: null, riskAmount: '10', requestId: 'req-1', clientOrderId: 'bwm-1', borrowedAsset: 'USDT', borrowed: '429.346511', interestQuote: '0.01699498', commissionQuote: '2.8383998994',
  marginLevel: null, triggered: 'STOP_LOSS', closeAttempts: 0, status: 'STOPPED_OUT', closeReason: 'STOP_LOSS', exitPrice: '58080.62', realisedPnl: '-9.275352', netPnl: '-12.1307468794', equityAfter: '987.8692531206',
  openedAt: OPEN, closedAt: STOPPED + 300,
};

const openShort = {
  positionId: 'margin-spot-m1-ETHUSDT-1', accountId: A, symbol: 'ETHUSDT', sequence: 1, side: 'SHORT', quantity: '0.5', entryPrice: '2700', stopPrice: '2835',
  takeProfitPrice: '2430', riskAmount: '70.2', requestId: null, clientOrderId: 'bwm-e1', borrowedAsset: 'ETH', borrowed: '0.5', interestQuote: '0.0356003', commissionQuote: '1.35', marginLevel: '1.52941176',
  triggered: null, closeAttempts: 0, status: 'OPEN', closeReason: null, exitPrice: null, realisedPnl: null, netPnl: null, equityAfter: null, openedAt: t('22:15:00'), closedAt: null,
};

describe('MarginProjection over the 2024-08-04 crash run', () => {
  let store: InMemoryEventStore;
  let events: RecordedEvent[];
  beforeAll(async () => {
    store = new InMemoryEventStore();
    await crashRun(store);
    events = await all(store);
  });

  it('follows the long event by event: live loan and interest while open, the loan at open once closed', () => {
    const p = new MarginProjection();
    const upTo = (type: string, streamId: string) => {
      const i = events.findIndex((e) => e.type === type && e.streamId === streamId && e.position > p.lastPosition());
      for (const e of events.slice(0, i + 1)) expect(p.apply(e)).toBeNull();
      return p.position('margin-spot-m1-BTCUSDT-1');
    };
    expect(upTo('MarginInterestCharged', BTC)).toMatchObject({ status: 'OPEN', borrowed: '429.346511', interestQuote: '0.00849749', commissionQuote: '1.4293465', triggered: null, realisedPnl: null, closedAt: null });
    expect(upTo('MarginStopTriggered', BTC)).toMatchObject({ status: 'OPEN', interestQuote: '0.01699498', triggered: 'STOP_LOSS' });
    expect(upTo('MarginRepaid', BTC)).toMatchObject({ status: 'OPEN', borrowed: '0' }); // AUTO_REPAY landed before the close
    expect(p.pair(A, 'BTCUSDT')?.openPositionId).toBe('margin-spot-m1-BTCUSDT-1');
    expect(upTo('MarginPositionClosed', BTC)).toEqual(closedLong);
    expect(p.pair(A, 'BTCUSDT')?.openPositionId).toBeNull();
  });

  it('holds every pair to the last digit: books per asset, the interest ledger, movements and rejections', () => {
    const p = new MarginProjection();
    for (const e of events) expect(p.apply(e)).toBeNull();
    expect(p.positions()).toEqual([closedLong, openShort]);
    expect(p.positions({ status: 'OPEN' })).toEqual([openShort]);
    expect(p.positions({ accountId: 'other' })).toEqual([]);
    expect(p.pair(A, 'BTCUSDT')).toEqual({
      accountId: A, symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT',
      borrowed: { USDT: '0' }, interestOwed: { USDT: '0' }, netTransferred: { USDT: '1000' },
      interestQuoteTotal: '0.01699498', netPnlTotal: '-12.1307468794', closedPositions: 1, openPositionId: null, lastMarginLevel: null,
      interest: [
        { txId: 'i1', asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'ON_BORROW', price: '58459.98', quoteValue: '0.00849749', at: OPEN },
        { txId: 'i2', asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'PERIODIC', price: '58210.5', quoteValue: '0.00849749', at: t('23:00:00') },
      ],
      movements: [
        { type: 'TRANSFER', asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', tranId: '12', by: 'alice', at: t('21:55:00') },
        { type: 'BORROW', asset: 'USDT', amount: '429.346511', tranId: 'bwm-1', by: 'alice', at: OPEN },
        { type: 'REPAY', asset: 'USDT', principal: '429.346511', interest: '0.01699498', tranId: 'bwm-2', by: 'stop-monitor', at: STOPPED + 300 },
      ],
      rejections: [],
      asOf: STOPPED + 300,
    });
    expect(p.pair(A, 'ETHUSDT')).toMatchObject({
      baseAsset: 'ETH', quoteAsset: 'USDT', borrowed: { ETH: '0.5' }, interestOwed: { ETH: '0.00001371' }, netTransferred: { USDT: '600' },
      interestQuoteTotal: '0.0356003', netPnlTotal: '0', closedPositions: 0, openPositionId: 'margin-spot-m1-ETHUSDT-1', lastMarginLevel: '1.52941176',
      rejections: [{ command: 'REPAY', requestId: null, sequence: null, asset: 'ETH', amount: '1', code: '-3015', message: 'Repayment amount exceeds borrowed amount.', by: 'alice', at: t('23:40:00') }],
    });
    expect(p.pairs().map((x) => `${x.accountId}/${x.symbol}`)).toEqual(['other/BTCUSDT', 'spot-m1/BTCUSDT', 'spot-m1/ETHUSDT']);
    expect(p.problems()).toEqual([]);
    expect(p.skipped()).toEqual({ count: 0, events: [] });
  });

  it('the short: borrows the base; keeps the margin level seen while open once closed; a re-read overlap changes nothing', async () => {
    const s = new InMemoryEventStore();
    await crashRun(s);
    const p = new MarginProjection();
    for (const e of await all(s)) p.apply(e);
    const at = t('01:12:00', '2024-08-05');
    // Owed 0.50001371 ETH: bought back 0.5006 (shortCoverQuantity at 0.1 %, step 0.0001) at 2430.1, 0.0005006 ETH commission.
    const shortClose = closeAmounts(
      marginClosePnl({
        side: 'SHORT', entryQuantity: dec('0.5'), entryQuote: dec('1350'), exitPrice: dec('2430.1'), baseCommission: dec('0.0005006'), quoteCommission: dec('1.35'),
        baseInterest: dec('0.00001371'), quoteInterest: dec(0), shortfall: dec(0),
      }),
    );
    await put(s, ETH, 'MarginStopTriggered', { ...eth, sequence: 1, kind: 'TAKE_PROFIT', triggerPrice: '2430', price: '2429.5', at }, at);
    await put(s, ETH, 'MarginCommandRejected', { ...eth, command: 'CLOSE', requestId: null, sequence: 1, asset: null, amount: null, code: '-1003', message: 'Too many requests.', by: 'stop-monitor', at: at + 100 }, at + 100);
    await put(s, ETH, 'MarginRepaid', { ...eth, asset: 'ETH', principal: '0.5', interest: '0.00001371', tranId: 'bwm-e2', by: 'stop-monitor', at: at + 200 }, at + 200);
    await put(s, ETH, 'MarginPositionClosed', {
      ...eth, sequence: 1, status: 'CLOSED', reason: 'TAKE_PROFIT', quantity: '0.5006', exitPrice: '2430.1', exitQuote: '1216.50806', ...shortClose, shortfall: '0', equityAfter: '732.350175269', clientOrderId: 'bwm-e2', by: 'stop-monitor', at: at + 200,
    }, at + 200);
    await put(s, ETH, 'MarginLevelAlert', { ...eth, bar: 'transferOut', threshold: '2', direction: 'UP', marginLevel: null, price: '2430.1' }, at + 300);
    for (const e of await all(s)) p.apply(e); // from position 1 again: what was applied is ignored
    expect(p.position('margin-spot-m1-ETHUSDT-1')).toEqual({
      ...openShort, commissionQuote: '2.56650806', interestQuote: '0.033316671', triggered: 'TAKE_PROFIT', closeAttempts: 1, status: 'CLOSED', closeReason: 'TAKE_PROFIT', exitPrice: '2430.1',
      realisedPnl: '134.95', netPnl: '132.350175269', equityAfter: '732.350175269', closedAt: at + 200,
    });
    expect(p.pair(A, 'ETHUSDT')).toMatchObject({ borrowed: { ETH: '0' }, interestOwed: { ETH: '0' }, netPnlTotal: '132.350175269', closedPositions: 1, openPositionId: null, lastMarginLevel: null });
    expect(p.pair(A, 'BTCUSDT')?.netPnlTotal).toBe('-12.1307468794'); // folded once, not twice
    expect(rebuildMarginReadModels(await all(s))).toEqual({ pairs: p.pairs(), positions: p.positions(), skipped: { count: 0, events: [] }, problems: [] });
  });

  it('reports a poison event and skips it: the views are those of the clean log', async () => {
    const bad = new InMemoryEventStore({ validate: false });
    await crashRun(bad, async (at) => {
      await putRaw(bad, BTC, 'MarginBorrowed', { ...btc, asset: 'USDT', amount: '-5', tranId: 'x', by: 'mallory', at }, at);
      await putRaw(bad, BTC, 'MarginRepaid', { ...btc, asset: 'USDT', principal: '429.346511', tranId: 'y', by: 'mallory', at }, at); // no interest
      await putRaw(bad, BTC, 'MarginTransferred', { ...eth, asset: 'USDT', amount: '1', direction: 'TO_MARGIN', tranId: 'z', by: 'mallory', at }, at); // another pair's data
      await putRaw(bad, 'margin-spot-m1-btcusdt', 'MarginBorrowed', { ...btc, asset: 'USDT', amount: '1', tranId: 'w', by: 'mallory', at }, at); // not a margin stream id
    });
    const p = new MarginProjection();
    const returned = (await all(bad)).map((e) => p.apply(e)).filter((x) => x !== null);
    const clean = rebuildMarginReadModels(events);
    expect(p.pairs()).toEqual(clean.pairs);
    expect(p.positions()).toEqual(clean.positions);
    expect(p.skipped().count).toBe(8);
    expect(p.skipped().events).toEqual(returned);
    expect(returned.slice(0, 4).map((x) => [x?.kind, x?.streamId, x?.type, x?.tsEvent])).toEqual([
      ['INVALID', BTC, 'MarginBorrowed', OPEN], ['INVALID', BTC, 'MarginRepaid', OPEN], ['INVALID', BTC, 'MarginTransferred', OPEN], ['INVALID', 'margin-spot-m1-btcusdt', 'MarginBorrowed', OPEN],
    ]);
    expect(returned[0]?.reason).toMatch(/^MarginBorrowed v1: amount /);
    expect(returned[1]?.reason).toMatch(/^MarginRepaid v1: interest /);
    expect(returned[2]?.reason).toBe("its data names the pair spot-m1/ETHUSDT, not its stream's");
    expect(returned[3]?.reason).toBe('margin-spot-m1-btcusdt is not a margin stream id (margin-<accountId>-<symbol>)');

    const day = await auditDay(bad, '2024-08-04', { accountId: A });
    const cleanDay = await auditDay(store, '2024-08-04', { accountId: A });
    // The audit lists what the log holds: schema failures are skipped; the valid transfer filed on the wrong stream is shown as it is.
    expect(day.skipped.map((x) => x.type)).toEqual(['MarginBorrowed', 'MarginRepaid', 'MarginBorrowed', 'MarginRepaid']);
    expect(day.margin.filter((x) => !x.detail.endsWith('by mallory')).map((x) => x.detail)).toEqual(cleanDay.margin.map((x) => x.detail));
  });

  it('reports a position it cannot place and folds it as the domain does', async () => {
    const s = new InMemoryEventStore();
    await crashRun(s);
    await put(s, BTC, 'MarginPositionClosed', { ...btc, sequence: 1, status: 'CLOSED', reason: 'USER', quantity: '0.02442555', exitPrice: '58000', exitQuote: '1416.68', realisedPnl: '-1', commissionQuote: '0', interestQuote: '0', shortfall: '0', netPnl: '-1', equityAfter: '999', clientOrderId: null, by: 'alice', at: t('02:00:00', '2024-08-05') }, t('02:00:00', '2024-08-05'));
    const m = rebuildMarginReadModels(await all(s));
    expect(m.problems).toEqual([`${BTC}#8: MarginPositionClosed of position #1, but none is open: ignored`]);
    expect(m.positions[0]).toEqual(closedLong);
  });
});

describe('margin position ids', () => {
  it('round-trip with an account id holding "-"', () => {
    const id = marginPositionId('desk-7-margin', 'BTCUSDT', 12);
    expect(id).toBe('margin-desk-7-margin-BTCUSDT-12');
    expect(parseMarginPositionId(id)).toEqual({ accountId: 'desk-7-margin', symbol: 'BTCUSDT', sequence: 12 });
    expect(parseMarginPositionId(marginPositionId('a', 'ETHBTC', 1))).toEqual({ accountId: 'a', symbol: 'ETHBTC', sequence: 1 });
  });
  it.each(['margin-desk-BTCUSDT-0', 'margin-desk-btcusdt-1', 'margin-BTCUSDT-1', 'margin-a b-BTCUSDT-1', 'margin-desk-BTCUSDT-1.5', 'margin-desk-BTCUSDT-01', 'position-desk-BTCUSDT-1', 'margin--BTCUSDT-1', ''])(
    'rejects %j',
    (id) => expect(parseMarginPositionId(id)).toBeNull(),
  );
  it('refuses to build an id from parts it could not read back', () => {
    expect(() => marginPositionId('a b', 'BTCUSDT', 1)).toThrow(RangeError);
    expect(() => marginPositionId('a', 'BTC-USDT', 1)).toThrow(RangeError);
    expect(() => marginPositionId('a', 'BTCUSDT', 0)).toThrow(RangeError);
  });
  it('splits a symbol by its quote asset', () => {
    expect(['BTCUSDT', 'ETHBTC', 'BTCFDUSD', 'USDTTRY', 'BNBETH', 'XYZ', 'USDT'].map((s) => marginAssets(s))).toEqual([
      { base: 'BTC', quote: 'USDT' }, { base: 'ETH', quote: 'BTC' }, { base: 'BTC', quote: 'FDUSD' }, { base: 'USDT', quote: 'TRY' }, { base: 'BNB', quote: 'ETH' }, null, null,
    ]);
  });
});

describe('the margin lines of the day audit', () => {
  it('lists the margin events of 2024-08-04 for the account, in global order with their time', async () => {
    const store = new InMemoryEventStore();
    await crashRun(store);
    const d = await auditDay(store, '2024-08-04', { accountId: A });
    expect(d.margin.map((x) => [x.time, x.streamId, x.detail])).toEqual([
      ['2024-08-04 21:55:00.000', BTC, 'TO_MARGIN 1000 USDT (tran 12) by alice'],
      ['2024-08-04 22:00:00.000', BTC, 'borrowed 429.346511 USDT (tran bwm-1) by alice'],
      ['2024-08-04 22:00:00.000', BTC, 'LONG #1 0.02442555 BTCUSDT at 58459.98, stop 58167.68, risk 10 (bwm-1 by alice)'],
      ['2024-08-04 22:00:00.000', BTC, 'interest 0.00849749 USDT on 429.346511 at 0.0475 %/day (ON_BORROW)'],
      ['2024-08-04 22:10:00.000', ETH, 'TO_MARGIN 600 USDT (tran 13) by alice'],
      ['2024-08-04 22:15:00.000', ETH, 'borrowed 0.5 ETH (tran bwm-e1) by alice'],
      ['2024-08-04 22:15:00.000', ETH, 'SHORT #1 0.5 ETHUSDT at 2700, stop 2835, target 2430, risk 70.2 (bwm-e1 by alice)'],
      ['2024-08-04 22:15:00.000', ETH, 'ETHUSDT margin level 1.4444 crossed the borrow bar 1.5 going DOWN at price 2700'],
      ['2024-08-04 22:15:00.000', ETH, 'interest 0.00000457 ETH on 0.5 at 0.0219 %/day (ON_BORROW), 0.012339 USDT at 2700'],
      ['2024-08-04 23:00:00.000', BTC, 'interest 0.00849749 USDT on 429.346511 at 0.0475 %/day (PERIODIC)'],
      ['2024-08-04 23:00:00.000', ETH, 'interest 0.00000457 ETH on 0.5 at 0.0219 %/day (PERIODIC), 0.0119277 USDT at 2610'],
      ['2024-08-04 23:04:12.000', BTC, '#1 STOP_LOSS at 58100 (trigger 58167.68)'],
      ['2024-08-04 23:04:12.300', BTC, 'repaid 0.01699498 interest + 429.346511 principal USDT (tran bwm-2) by stop-monitor'],
      ['2024-08-04 23:04:12.300', BTC, '#1 STOPPED_OUT at 58080.62: net −12.13 USDT (realised −9.28, commission 2.84, interest 0.017)'],
      ['2024-08-04 23:30:00.000', ETH, 'ETHUSDT margin level 1.5294 crossed the borrow bar 1.5 going UP at price 2550'],
      ['2024-08-04 23:40:00.000', ETH, 'REPAY refused -3015: Repayment amount exceeds borrowed amount. (1 ETH, by alice)'],
    ]);
    expect(d.margin.map((x) => x.position)).toEqual([...d.margin.map((x) => x.position)].sort((a, b) => a - b));
    expect(d.margin.every((x) => x.accountId === A)).toBe(true);
    expect(d.timeline.filter((x) => x.streamId.startsWith('margin-'))).toEqual(d.margin);
    expect(d.counts.byType.MarginInterestCharged).toBe(4);

    expect((await auditDay(store, '2024-08-04')).margin.map((x) => x.accountId).filter((a) => a === 'other')).toEqual(['other']);
    expect((await auditDay(store, '2024-08-05', { accountId: A })).margin.map((x) => x.detail)).toEqual(['interest 0.00000457 ETH on 0.5 at 0.0219 %/day (PERIODIC), 0.0113336 USDT at 2480']);
  });

  it('reads each margin event in one line, whatever reads it', () => {
    const d = { accountId: A, symbol: 'BTCUSDT', sequence: 2, status: 'LIQUIDATED', reason: 'VENUE_LIQUIDATION', exitPrice: '49000', netPnl: '-412.3', realisedPnl: '-400', commissionQuote: '1.2', interestQuote: '0.9', shortfall: '10.1' };
    expect(marginDetail('MarginPositionClosed', d)).toBe('#2 LIQUIDATED (VENUE_LIQUIDATION) at 49000: net −412.30 USDT (realised −400.00, commission 1.20, interest 0.9, shortfall 10.10)');
    expect(marginDetail('MarginCallReductionTriggered', { accountId: A, symbol: 'BTCUSDT', orderSide: 'SELL', quantity: '0.01', marginLevel: '1.29871', price: '50000' })).toBe(
      'BTCUSDT margin level 1.2987 reached the margin-call bar: SELL 0.01 at price 50000 toward the borrow bar',
    );
    expect(marginDetail('MarginTransferred', { accountId: A, symbol: 'BTCUSDT', direction: 'TO_SPOT', amount: '5', asset: 'BTC', tranId: '9', by: 'alice' })).toBe('TO_SPOT 5 BTC (tran 9) by alice');
    expect(marginDetail('MarginCommandRejected', { accountId: A, symbol: 'ETHUSDT', command: 'CLOSE', requestId: null, sequence: 1, asset: null, amount: null, code: '-1003', message: 'Too many requests.', by: 'stop-monitor' })).toBe(
      'CLOSE #1 refused -1003: Too many requests. (by stop-monitor)',
    );
    expect(marginDetail('OrderFilled', {})).toBe('');
  });
});
