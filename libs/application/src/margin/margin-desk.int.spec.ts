/**
 * The spot-margin desk and its watch (Iron Exit, margin-level guard, interest ledger) through
 * BinanceMarginVenue (unmodified ccxt `binance`) against the local spot isolated-margin venue,
 * priced by the recorded BTCUSDT spot 1m candles of 2024-07-26 … 2024-08-25 (../shared/data)
 * with the pair's recorded rules (data/venues/binance-margin). Every command and what the venue
 * answered is in the event log; the results equal the venue's balances.
 */
import { startBinanceMarginLocal, type BinanceMarginLocal } from '@bulwark/binance-local';
import { type DomainEvent, type EventData, parseEvent, Streams } from '@bulwark/contracts';
import { dec, type D, shortHash, str } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { loadMarginPair } from '@bulwark/market-data';
import { EventAppender } from '@bulwark/messaging';
import { auditDay } from '@bulwark/projections';
import { SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { BinanceMarginVenue } from '@bulwark/venues';
import { MarginDesk } from './margin-desk';
import { MarginWatch, type MarginWatchStep } from './margin-watch';

jest.setTimeout(180_000);

const KEY = 'desk-int-key-bm9MZWFrc0luTG9nc09yRXJyb3Jz';
const SECRET = 'desk-int-secret-U2VjcmV0TmV2ZXJJbkFueU1lc3NhZ2U';
const ACC = 'acc-desk';
const SYMBOL = 'BTCUSDT';
/** 2024-08-04 22:00 UTC: the evening before the 2024-08-05 crash. */
const START = Date.parse('2024-08-04T22:00:00Z');
const CANDLES = SPOT_BTCUSDT_FILES.candles1mAugust2024;

const { rules, ...pair } = loadMarginPair(SYMBOL);
let local: BinanceMarginLocal;
let venue: BinanceMarginVenue;
let store: InMemoryEventStore;
let desk: MarginDesk;

beforeEach(async () => {
  local = await startBinanceMarginLocal({
    port: 0, accounts: [{ accountId: ACC, apiKey: KEY, apiSecret: SECRET, spot: { USDT: '1000' } }], pair: { rules, ...pair }, candlesFile: CANDLES, startTime: START,
    limits: { weightPerMinute: 1_000_000, ordersPer10s: 10_000, ordersPerMinute: 100_000 },
  });
  local.clock.advance(1);
  venue = new BinanceMarginVenue({ accountId: ACC, apiKey: KEY, apiSecret: SECRET, mode: 'local', restBase: local.url, wsBase: local.wsUrl, symbols: [SYMBOL], timeoutMs: 10_000, random: () => 0.5 });
  store = new InMemoryEventStore();
  const now = () => local.clock.now();
  desk = new MarginDesk({ accountId: ACC, rules, venue, store, appender: new EventAppender(store, now), now });
}, 120_000);

afterEach(async () => {
  await venue?.close();
  await local?.close();
}, 120_000);

async function log(): Promise<DomainEvent[]> {
  return (await store.readStream(Streams.margin(ACC, SYMBOL))).map((r) => {
    const p = parseEvent(r.type, r.data, r.metadata.schemaVersion);
    if (!p.ok) throw new Error(p.reason);
    return p.event;
  });
}
const only = <T extends DomainEvent['type']>(events: DomainEvent[], t: T) => events.filter((e) => e.type === t).map((e) => e.data as EventData<T>);

function value<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }): T {
  if (!r.ok) throw new Error(`unexpected rejection ${r.error.code} ${r.error.message}`);
  return r.value;
}

/** Walk the market one minute (4 path steps) at a time, observing after each, until `done` or the end. */
async function walk(watch: MarginWatch, done: (s: MarginWatchStep) => boolean, minutes: number): Promise<MarginWatchStep[]> {
  const steps: MarginWatchStep[] = [];
  for (let i = 0; i < minutes; i++) {
    local.clock.advance(4);
    const s = await watch.observe();
    steps.push(s);
    if (done(s)) break;
  }
  return steps;
}

describe('the spot-margin desk on the 2024-08-04/05 crash (BTCUSDT isolated, local venue through ccxt)', () => {
  it('transfers in, opens a 1 %-risk long with MARGIN_BUY, refuses an unsafe transfer out, records hourly interest, stops out by the Iron Exit with AUTO_REPAY; the result equals the venue balances', async () => {
    value(await desk.transferToMargin('USDT', dec('1000'), 'alice'));
    const opened = value(await desk.open({ side: 'LONG', stopPrice: dec('58167.68'), by: 'alice' }));
    // 1 % of 1,000 at risk: stop distance + the taker fee of entry and exit per BTC; margin 1/3 of the notional ≤ 50 % of equity.
    expect(opened.sizing.riskAmount).toBe('10');
    expect(dec(opened.sizing.lossAtStop).lte(10)).toBe(true);
    expect(dec(opened.sizing.marginRequired).lte(500)).toBe(true);
    const entry = only(await log(), 'MarginPositionOpened')[0]!;
    expect(entry).toMatchObject({ side: 'LONG', sequence: 1, entryQuantity: opened.sizing.quantity, stopPrice: '58167.68' });
    const borrowed = only(await log(), 'MarginBorrowed')[0]!;
    expect(borrowed).toMatchObject({ asset: 'USDT', tranId: entry.clientOrderId });
    // The venue lent what the log says.
    expect(str((await venue.isolatedAccount(SYMBOL)).quote.borrowed)).toBe(borrowed.amount);

    // The entry spent the quote (own and borrowed): moving USDT out is refused by the venue (its code kept); moving 0.01 BTC out
    // would leave the margin level (1,429 − 585) ÷ 429 < 2.0: refused by Bulwark before the venue is asked. Both recorded, books unchanged.
    const before = await venue.isolatedAccount(SYMBOL);
    expect(await desk.transferToSpot('USDT', dec('400'), 'alice')).toMatchObject({ ok: false, error: { code: '-3041' } });
    expect(await desk.transferToSpot('BTC', dec('0.01'), 'alice')).toMatchObject({ ok: false, error: { code: 'BELOW_SAFE_LEVEL' } });
    expect(only(await log(), 'MarginCommandRejected')).toEqual([
      expect.objectContaining({ command: 'TRANSFER_TO_SPOT', code: '-3041', asset: 'USDT', amount: '400', by: 'alice' }),
      expect.objectContaining({ command: 'TRANSFER_TO_SPOT', code: 'BELOW_SAFE_LEVEL', asset: 'BTC', amount: '0.01', by: 'alice' }),
    ]);
    expect(str((await venue.isolatedAccount(SYMBOL)).base.free)).toBe(str(before.base.free));

    const watch = new MarginWatch(desk, { rules, now: () => local.clock.now() });
    const steps = await walk(watch, (s) => s.exit !== null, 24 * 60);
    const last = steps[steps.length - 1]!;
    expect(last.exit).toBe('STOP_LOSS');
    expect(last.closeError).toBeNull();
    expect(last.price.lte(dec('58167.68'))).toBe(true);

    const events = await log();
    const [trigger] = only(events, 'MarginStopTriggered');
    expect(trigger).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: '58167.68', sequence: 1 });
    const [closed] = only(events, 'MarginPositionClosed');
    expect(closed).toMatchObject({ status: 'STOPPED_OUT', reason: 'STOP_LOSS', sequence: 1, shortfall: '0' });
    // Interest: charged at borrowing and at each full hour, every accrual an event with the venue's txId, once.
    const interest = only(events, 'MarginInterestCharged');
    const venueRows = await venue.interestHistory(SYMBOL, 'USDT');
    expect(interest.map((i) => i.txId).sort()).toEqual(venueRows.map((r) => r.txId).sort());
    expect(interest[0]).toMatchObject({ type: 'ON_BORROW', asset: 'USDT', principal: borrowed.amount });
    // Right to the cent and below: principal × daily rate ÷ 24 (rounded up to 8 decimals), at borrowing and at each full UTC hour held.
    const H = 3_600_000;
    expect(interest).toHaveLength(1 + Math.floor(closed.at / H) - Math.floor(borrowed.at / H));
    for (const i of interest) expect(i.interest).toBe(str(dec(i.principal).mul(dec(i.dailyRate)).div(24).toDecimalPlaces(8, 0 /* ROUND_UP */)));
    expect(interest.map((i) => i.dailyRate)).toEqual(interest.map(() => str(rules.dailyInterestRate.quote)));
    // The loan is repaid, interest first; nothing is owed at the venue afterwards.
    const after = await venue.isolatedAccount(SYMBOL);
    expect([str(after.quote.borrowed), str(after.quote.interest), str(after.base.borrowed)]).toEqual(['0', '0', '0']);
    const repaid = only(events, 'MarginRepaid');
    const sum = (xs: D[]) => xs.reduce((a, b) => a.plus(b), dec(0));
    expect(str(sum(repaid.map((r) => dec(r.principal))))).toBe(borrowed.amount);
    expect(str(sum(repaid.map((r) => dec(r.interest))))).toBe(str(sum(interest.map((i) => dec(i.interest)))));
    // The result counts every accrual of the position's loan (recorded before the close computed it).
    expect(closed.interestQuote).toBe(str(sum(interest.map((i) => dec(i.interest)))));
    // The result is the change of the pair's equity at the exit price (quote + the base dust the close could not sell), to the 8th decimal.
    const equityChange = after.quote.free.plus(after.base.free.mul(dec(closed.exitPrice))).minus(1000);
    expect(dec(closed.netPnl).minus(equityChange).abs().lte(dec('0.00000001'))).toBe(true);
    // A loss at the stop near the 1 % the sizing allowed (the exit fills at the next path price, below the stop).
    expect(dec(closed.netPnl).lt(0)).toBe(true);
    expect(dec(closed.netPnl).abs().lt(dec('20'))).toBe(true);

    // Flat: everything may go back to the spot wallet now.
    const free = after.quote.free;
    value(await desk.transferToSpot('USDT', free, 'alice'));
    expect(only(await log(), 'MarginTransferred').map((t) => `${t.direction} ${t.amount}`)).toEqual(['TO_MARGIN 1000', `TO_SPOT ${str(free)}`]);

    // The audit of the day shows every transfer, loan, repayment and accrual, with its line.
    const days = ['2024-08-04', '2024-08-05'];
    const items = (await Promise.all(days.map((d) => auditDay(store, d, { accountId: ACC })))).flatMap((a) => a.margin);
    const shown = (type: string) => items.filter((i) => i.type === type).length;
    expect(shown('MarginTransferred')).toBe(2);
    expect(shown('MarginBorrowed')).toBe(1);
    expect(shown('MarginRepaid')).toBe(repaid.length);
    expect(shown('MarginInterestCharged')).toBe(interest.length);
    expect(items.find((i) => i.type === 'MarginBorrowed')!.detail).toContain(borrowed.amount);
  });

  it('a short borrows the base and sells it; the close buys back the loan plus interest and the commission; refusals are typed and recorded', async () => {
    value(await desk.transferToMargin('USDT', dec('1000'), 'bob'));
    const price = (await venue.isolatedAccount(SYMBOL)).indexPrice;
    // A stop on the wrong side, a take-profit on the wrong side, an unknown asset, a zero amount, a repay of nothing.
    expect(await desk.open({ side: 'SHORT', stopPrice: price.minus(100), by: 'bob' })).toMatchObject({ ok: false, error: { code: 'STOP_ON_WRONG_SIDE' } });
    expect(await desk.open({ side: 'SHORT', stopPrice: price.plus(300), takeProfitPrice: price.plus(10), by: 'bob' })).toMatchObject({ ok: false, error: { code: 'TAKE_PROFIT_ON_WRONG_SIDE' } });
    expect(await desk.borrow('ETH', dec('1'), 'bob')).toMatchObject({ ok: false, error: { code: 'UNKNOWN_ASSET' } });
    expect(await desk.borrow('USDT', dec('0'), 'bob')).toMatchObject({ ok: false, error: { code: 'INVALID_AMOUNT' } });
    expect(await desk.repay('BTC', 'ALL', 'bob')).toMatchObject({ ok: false, error: { code: 'NOTHING_OWED' } });
    // The venue's own refusal keeps its code: more than the tier lets this account borrow.
    expect(await desk.borrow('BTC', dec('100'), 'bob')).toMatchObject({ ok: false, error: { code: '-3006' } });
    expect(only(await log(), 'MarginCommandRejected').map((r) => r.code)).toEqual(['STOP_ON_WRONG_SIDE', 'TAKE_PROFIT_ON_WRONG_SIDE', 'UNKNOWN_ASSET', 'INVALID_AMOUNT', 'NOTHING_OWED', '-3006']);
    expect(await desk.close('nothing open', 'bob')).toMatchObject({ ok: false, error: { code: 'NO_POSITION' } });

    const opened = value(await desk.open({ side: 'SHORT', stopPrice: price.plus(300), by: 'bob' }));
    expect(opened.order.side).toBe('SELL');
    expect(await desk.open({ side: 'LONG', stopPrice: price.minus(300), by: 'bob' })).toMatchObject({ ok: false, error: { code: 'POSITION_OPEN' } });
    const [b] = only(await log(), 'MarginBorrowed');
    expect(b).toMatchObject({ asset: 'BTC', amount: opened.sizing.quantity });
    // An hour later, the user closes: interest charged on the BTC loan, then everything repaid.
    local.clock.advance(4 * 61);
    const watch = new MarginWatch(desk, { rules, now: () => local.clock.now() });
    await watch.observe();
    // A close aimed at another position changes nothing.
    expect(await desk.close('stale', 'bob', 'CLOSED', 2)).toMatchObject({ ok: false, error: { code: 'POSITION_NOT_OPEN' } });
    const closed = value(await desk.close('manual', 'bob', 'CLOSED', 1));
    expect(closed.sequence).toBe(1);
    const after = await venue.isolatedAccount(SYMBOL);
    expect([str(after.base.borrowed), str(after.base.interest), str(after.quote.borrowed)]).toEqual(['0', '0', '0']);
    const events = await log();
    const [c] = only(events, 'MarginPositionClosed');
    expect(c).toMatchObject({ status: 'CLOSED', reason: 'manual' });
    const baseInterest = only(events, 'MarginInterestCharged').filter((i) => i.asset === 'BTC');
    expect(baseInterest.length).toBeGreaterThanOrEqual(2);
    const equityChange = after.quote.free.plus(after.base.free.mul(dec(c.exitPrice))).minus(1000);
    expect(dec(c.netPnl).minus(equityChange).abs().lte(dec('0.00000001'))).toBe(true);
    // A second close finds nothing open.
    expect(await desk.close('again', 'bob')).toMatchObject({ ok: false, error: { code: 'NO_POSITION' } });
  });

  it('the guard: a loan that takes the margin level below 1.3 raises its alerts in order and closes the position before the venue margin call', async () => {
    value(await desk.transferToMargin('USDT', dec('1000'), 'carol'));
    value(await desk.open({ side: 'LONG', stopPrice: dec('58167.68'), by: 'carol' }));
    const watch = new MarginWatch(desk, { rules, now: () => local.clock.now() });
    expect((await watch.observe()).exit).toBeNull();
    // 3,000 USDT more borrowed and left free: level (1,429 + 3,000) ÷ 3,429 ≈ 1.29.
    value(await desk.borrow('USDT', dec('3000'), 'carol'));
    const s = await watch.observe();
    expect(dec(s.marginLevel!).lt(dec('1.3'))).toBe(true);
    expect(dec(s.marginLevel!).gt(rules.bars.marginCall)).toBe(true); // the venue's own margin call (1.1) is not reached
    expect(s.exit).toBe('MARGIN_CALL_REDUCTION');
    expect(s.closeError).toBeNull();
    const events = await log();
    expect(only(events, 'MarginLevelAlert').map((a) => `${a.bar} ${a.direction}`).slice(0, 3)).toEqual(['transferOut DOWN', 'borrow DOWN', 'marginCall DOWN']);
    expect(only(events, 'MarginCallReductionTriggered')).toHaveLength(1);
    expect(only(events, 'MarginStopTriggered')).toEqual([expect.objectContaining({ kind: 'MARGIN_CALL_REDUCTION' })]);
    expect(only(events, 'MarginPositionClosed')).toEqual([expect.objectContaining({ status: 'CLOSED', reason: 'MARGIN_CALL_REDUCTION', by: 'guard' })]);
    // What the close did not repay was repaid from the free quote: nothing is owed.
    const after = await venue.isolatedAccount(SYMBOL);
    expect([str(after.quote.borrowed), str(after.quote.interest)]).toEqual(['0', '0']);
  });

  it('an entry request carried out once: repeated, it is not opened again; an entry the venue filled before a crash is adopted, never sent twice', async () => {
    value(await desk.transferToMargin('USDT', dec('1000'), 'dan'));
    // The crash: the venue filled the entry of position #1, the log never heard of it.
    const clientOrderId = `bwm${shortHash(`${ACC}/${SYMBOL}`)}-1E`;
    value(await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.01'), sideEffectType: 'MARGIN_BUY', clientOrderId }));
    const opened = value(await desk.open({ side: 'LONG', stopPrice: dec('58167.68'), by: 'dan', requestId: 'req-1' }));
    expect(opened.order.clientOrderId).toBe(clientOrderId);
    expect(str(opened.order.executedQty)).toBe('0.01');
    expect((await venue.trades(SYMBOL)).length).toBe(1);
    expect(await desk.open({ side: 'LONG', stopPrice: dec('58167.68'), by: 'dan', requestId: 'req-1' })).toMatchObject({ ok: false, error: { code: 'ALREADY_HANDLED' } });
    expect(only(await log(), 'MarginPositionOpened')).toEqual([expect.objectContaining({ requestId: 'req-1', clientOrderId, entryQuantity: '0.01' })]);
    // The close reports the pair's equity after it, as the venue values it.
    value(await desk.close('done', 'dan'));
    const [c] = only(await log(), 'MarginPositionClosed');
    const a = await venue.isolatedAccount(SYMBOL);
    expect(dec(c.equityAfter).minus(a.quote.free.plus(a.base.free.mul(a.indexPrice))).abs().lte(dec('0.00000001'))).toBe(true);
  });

  it('a long opened outside Bulwark with a high borrow is adopted by reconciliation with its stop at the guard level; on the crash the alerts fire in order and it is closed before the venue margin call, never liquidated', async () => {
    value(await desk.transferToMargin('USDT', dec('1000'), 'erin'));
    // Through ccxt directly, not through the desk: 0.05 BTC (about 2,923 USDT) on 1,000 of own money, margin level ≈ 1.52.
    value(await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.05'), sideEffectType: 'MARGIN_BUY', clientOrderId: 'outside-1' }));
    const watch = new MarginWatch(desk, { rules, now: () => local.clock.now() });
    const first = await watch.observe();
    expect(first.reconciled).toBe('ADOPTED');
    const [adopted] = only(await log(), 'MarginPositionOpened');
    expect(adopted).toMatchObject({ side: 'LONG', quantity: '0.04995', by: 'reconciliation', requestId: null });
    // Its stop: where the margin level reaches 1.3, well below the price, well above where the venue calls (1.1).
    const stop = dec(adopted.stopPrice);
    expect(stop.lt(dec(adopted.entryPrice))).toBe(true);
    let minLevel = dec(first.marginLevel!);
    const steps = await walk(watch, (s) => s.exit !== null, 20 * 60);
    for (const s of steps) if (s.marginLevel && dec(s.marginLevel).lt(minLevel)) minLevel = dec(s.marginLevel);
    const last = steps[steps.length - 1]!;
    expect(last.exit).toBe('MARGIN_CALL_REDUCTION');
    expect(minLevel.gt(rules.bars.marginCall)).toBe(true);
    expect(local.engine.drain().filter((e) => e.type === 'LIQUIDATION' || e.type === 'MARGIN_CALL')).toEqual([]);
    const events = await log();
    // Each crossing once, both ways: the level dips under the borrow bar, recovers, and falls through it for good before the margin-call level.
    expect(only(events, 'MarginLevelAlert').map((a) => `${a.bar} ${a.direction}`)).toEqual(['transferOut DOWN', 'borrow DOWN', 'borrow UP', 'borrow DOWN', 'marginCall DOWN']);
    expect(only(events, 'MarginPositionClosed')).toEqual([expect.objectContaining({ status: 'CLOSED', reason: 'MARGIN_CALL_REDUCTION', sequence: 1 })]);
    const after = await venue.isolatedAccount(SYMBOL);
    expect([str(after.quote.borrowed), str(after.base.borrowed)]).toEqual(['0', '0']);
  });
});
