/**
 * PaperMarginPort answers as BinanceMarginVenue (unmodified ccxt `binance`) answers against the
 * local spot-margin venue for the same engine state. One scenario runs twice through
 * MarginExecution in driven mode, as the demo runs it: once on the local venue over HTTP (its
 * clock walked by `advanceLocalClock`, the demo's path), once on the port (each tick applied with
 * `applyStep`). The scenario: transfers in and out, loans, venue refusals, a long stopped out by
 * the Iron Exit, a short closed at its take-profit, a long closed by an operator, hourly interest;
 * and direct calls (account, interest rows, orders, refusals) while a position is open. The
 * recorded margin stream (types and data) and every answer are equal. The window is the evening
 * before the 2024-08-05 crash (2024-08-04 22:00 UTC) on the recorded BTCUSDT spot candles.
 */
import { startBinanceMarginLocal, type BinanceMarginLocal } from '@bulwark/binance-local';
import { type Candle, type EventData, event, type EventType, type MarketTick, type RecordedEvent, Streams } from '@bulwark/contracts';
import { D, dec, pathSteps, str } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { loadMarginPair, readCandles } from '@bulwark/market-data';
import { EventAppender } from '@bulwark/messaging';
import { SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { BinanceMarginVenue, RateBudget } from '@bulwark/venues';
import type { MarginVenuePort } from './margin-desk';
import { MarginExecution, type MarginVenueSettings } from './margin-execution';
import { PaperMarginPort } from './paper-margin-port';

jest.setTimeout(300_000);

const KEY = 'port-spec-key-bm9MZWFrc0luTG9nc09yRXJyb3Jz';
const SECRET = 'port-spec-secret-U2VjcmV0TmV2ZXJJbkFueU1lc3NhZ2U';
const ACC = 'acc-port';
const SYMBOL = 'BTCUSDT';
/** 2024-08-04 22:00 UTC: the evening before the 2024-08-05 crash. */
const START = Date.parse('2024-08-04T22:00:00Z');
/** Four hours of steps are more than the scenario needs. */
const END = START + 4 * 3_600_000;
const CANDLES = SPOT_BTCUSDT_FILES.candles1mAugust2024;
const { rules, ...pair } = loadMarginPair(SYMBOL);
const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };
const risk = { leverage: 3, riskFraction: dec('0.01'), maxMarginFraction: dec('0.5') };

/** The replay's ticks of the window, built as replayCandles builds them (the previous candle's close starts the first step). */
async function windowTicks(): Promise<MarketTick[]> {
  const ticks: MarketTick[] = [];
  let prev: string | null = null;
  for await (const c of readCandles(CANDLES)) {
    if (c.openTime >= END) break;
    if (c.openTime >= START) {
      for (const s of pathSteps(c, prev)) {
        ticks.push({ runId: 'port-spec', venue: 'binance-margin', symbol: SYMBOL, seq: ticks.length, ts: s.ts, candleOpenTime: c.openTime, pathIndex: s.pathIndex, from: s.from, to: s.to, gap: s.gap, candle: s.pathIndex === 3 ? (c as Candle) : null, funding: null, barVolume: c.volume });
      }
    }
    prev = c.close;
  }
  return ticks;
}

/** One side of the comparison: an execution on its venue, its store, and the venue to call directly. */
interface World {
  exec: MarginExecution;
  store: InMemoryEventStore;
  direct: MarginVenuePort;
  close(): Promise<void>;
}

async function localWorld(): Promise<World> {
  const local: BinanceMarginLocal = await startBinanceMarginLocal({
    port: 0, accounts: [{ accountId: ACC, apiKey: KEY, apiSecret: SECRET, spot: { USDT: '1000' } }], pair: { rules, ...pair }, candlesFile: CANDLES, startTime: START,
    limits: { weightPerMinute: 10_000_000, ordersPer10s: 100_000, ordersPerMinute: 1_000_000 },
  });
  const store = new InMemoryEventStore();
  const settings: MarginVenueSettings = { kind: 'binance-margin-local', accountId: ACC, symbols: [SYMBOL], apiKey: KEY, apiSecret: SECRET, restBase: local.url, wsBase: local.wsUrl, watchMs: 1000, driven: true, risk };
  // The default venue: BinanceMarginVenue, as the demo's execution builds it.
  const exec = new MarginExecution({ settings, store, appender: new EventAppender(store), log: SILENT });
  await exec.start();
  const direct = new BinanceMarginVenue({
    accountId: ACC, apiKey: KEY, apiSecret: SECRET, mode: 'local', restBase: local.url, wsBase: local.wsUrl, symbols: [SYMBOL], random: () => 0.5,
    budget: new RateBudget(undefined, undefined, { weightPer1m: 100_000_000, ordersPer10s: 1_000_000, ordersPer1m: 10_000_000 }),
  });
  return {
    exec, store, direct,
    close: async () => {
      await exec.stop();
      await direct.close();
      await local.close();
    },
  };
}

async function portWorld(): Promise<World> {
  const port = new PaperMarginPort({ accountId: ACC, rules: [rules] });
  port.deposit('USDT', dec('1000'));
  const store = new InMemoryEventStore();
  const settings: MarginVenueSettings = { kind: 'binance-margin-local', accountId: ACC, symbols: [SYMBOL], apiKey: '', apiSecret: '', restBase: null, wsBase: null, watchMs: 1000, driven: true, risk };
  const exec = new MarginExecution({ settings, store, appender: new EventAppender(store), log: SILENT, venue: async () => port });
  await exec.start();
  return { exec, store, direct: port, close: () => exec.stop() };
}

/** Decimals as strings, errors as their name, code and message: what two answers are compared on. */
function norm(x: unknown): unknown {
  if (D.isDecimal(x)) return str(x as D);
  if (Array.isArray(x)) return x.map(norm);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, norm(v)]));
  return x;
}

async function answer(f: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: norm(await f()) };
  } catch (e) {
    const x = e as Error & { code?: string; rejection?: { code: string } };
    return { thrown: { name: x.name, code: x.code ?? x.rejection?.code ?? null, message: x.message } };
  }
}

/**
 * The scenario, the same calls in the same order on either world.
 * @returns every answer, in order, and the pair's margin stream as recorded
 */
async function scenario(w: World, ticks: MarketTick[]): Promise<{ answers: Array<[string, unknown]>; events: Array<{ type: string; data: unknown }> }> {
  const answers: Array<[string, unknown]> = [];
  const note = async (label: string, f: () => Promise<unknown>) => answers.push([label, await answer(f)]);
  const appender = new EventAppender(w.store);
  const pairEvents = async () => w.store.readStream(Streams.margin(ACC, SYMBOL));
  const closed = async () => (await pairEvents()).filter((e) => e.type === 'MarginPositionClosed').length;
  let i = 0;
  const tick = () => w.exec.onTick(ticks[i++]!);
  /** Walk until `done` or the window's end. */
  const walk = async (done: () => Promise<boolean>) => {
    while (i < ticks.length) {
      await tick();
      if (await done()) return;
    }
    throw new Error('the window ended before the scenario step did');
  };
  const onAccount = async <T extends EventType>(type: T, data: EventData<T>): Promise<void> => {
    const c = { tsEvent: ticks[i - 1]?.ts ?? START, correlationId: 'port-spec', causationId: 'port-spec' };
    await appender.append(Streams.account(ACC), [event(type, data)], 'any', c);
    const all = await w.store.readStream(Streams.account(ACC));
    await w.exec.onEvent(all[all.length - 1] as RecordedEvent);
  };
  const entry = (n: number, side: 'LONG' | 'SHORT', stopPrice: string, takeProfitPrice: string | null) =>
    onAccount('MarginEntryApproved', { requestId: `req-${n}`, accountId: ACC, symbol: SYMBOL, side, stopPrice, takeProfitPrice, by: 'port-spec', tradingDay: '2024-08-04', count: n });
  const price = async () => dec(((await w.exec.account({ accountId: ACC, symbol: SYMBOL })) as { indexPrice: string }).indexPrice);
  const q = { accountId: ACC, symbol: SYMBOL };

  // No isolated account before anything is transferred in: -3003 from the venue, VENUE_UNAVAILABLE from execution.
  await note('account before any transfer', () => w.direct.isolatedAccount(SYMBOL));
  await note('execution account before any transfer', () => w.exec.account(q));
  // The venue walks the step; the watch cannot read an account that does not exist yet (the clock would send the step again).
  await note('step before any transfer', () => tick());
  await note('transfer in', () => w.exec.transfer({ ...q, asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', by: 'alice' }));
  await note('transfer out over the free balance', () => w.exec.transfer({ ...q, asset: 'USDT', amount: '2000', direction: 'TO_SPOT', by: 'alice' }));
  await note('borrow', () => w.exec.loan({ ...q, asset: 'USDT', action: 'BORROW', amount: '100', by: 'alice' }));
  await note('repay all', () => w.exec.loan({ ...q, asset: 'USDT', action: 'REPAY', amount: 'ALL', by: 'alice' }));
  await note('repay with nothing owed', () => w.exec.loan({ ...q, asset: 'USDT', action: 'REPAY', amount: '5', by: 'alice' }));
  await note('borrow over the maximum', () => w.exec.loan({ ...q, asset: 'USDT', action: 'BORROW', amount: '1000000', by: 'alice' }));
  await note('account after the loans', () => w.exec.account(q));
  await tick();

  // 1: a long stopped out by the Iron Exit (the crash's first leg); hourly interest meanwhile.
  await entry(1, 'LONG', '58167.68', null);
  const hourAfterOpen = (Math.floor(ticks[i - 1]!.ts / 3_600_000) + 1) * 3_600_000;
  await walk(async () => ticks[i - 1]!.ts > hourAfterOpen + 60_000);
  // The same step again (a clock re-sending it): the venue walks nothing, the watch looks once more.
  await w.exec.onTick(ticks[i - 1]!);
  const opened = (await pairEvents()).find((e) => e.type === 'MarginPositionOpened')!.data as EventData<'MarginPositionOpened'>;
  await note('direct account, long open', () => w.direct.isolatedAccount(SYMBOL));
  await note('interest rows USDT', () => w.direct.interestHistory(SYMBOL, 'USDT'));
  await note('interest rows USDT since the open', () => w.direct.interestHistory(SYMBOL, 'USDT', opened.at + 1));
  await note('interest rows BTC', () => w.direct.interestHistory(SYMBOL, 'BTC'));
  await note('entry by client id', () => w.direct.order(SYMBOL, { clientOrderId: opened.clientOrderId }));
  await note('entry by order id', () => w.direct.order(SYMBOL, { orderId: opened.orderId }));
  await note('unknown order', () => w.direct.order(SYMBOL, { clientOrderId: 'nobody-1' }));
  await note('bad order id', () => w.direct.order(SYMBOL, { orderId: 'x1' }));
  const order = { symbol: SYMBOL, type: 'MARKET' as const, sideEffectType: 'NO_SIDE_EFFECT' as const };
  await note('lot size', () => w.direct.placeOrder({ ...order, side: 'BUY', quantity: dec('0.000001'), clientOrderId: 'spec-lot' }));
  await note('notional', () => w.direct.placeOrder({ ...order, side: 'BUY', quantity: dec('0.00001'), clientOrderId: 'spec-notional' }));
  await note('insufficient balance', () => w.direct.placeOrder({ ...order, side: 'BUY', quantity: dec('1'), clientOrderId: 'spec-balance' }));
  await note('duplicate client id', () => w.direct.placeOrder({ ...order, side: 'SELL', quantity: dec('0.001'), clientOrderId: opened.clientOrderId }));
  await note('limit price off the tick', () => w.direct.placeOrder({ ...order, type: 'LIMIT', side: 'BUY', quantity: dec('0.001'), price: dec('50000.001'), clientOrderId: 'spec-tick' }));
  await note('transfer out under the bar', () => w.direct.transferToSpot(SYMBOL, 'BTC', dec('0.01')));
  await note('transfer out with debt', () => w.direct.transferToSpot(SYMBOL, 'USDT', dec('1')));
  await note('repay over the loan', () => w.direct.repay(SYMBOL, 'BTC', dec('1')));
  await note('borrow over the maximum, direct', () => w.direct.borrow(SYMBOL, 'USDT', dec('100000')));
  await note('another pair', () => w.direct.placeOrder({ ...order, symbol: 'ETHUSDT', side: 'BUY', quantity: dec('1'), clientOrderId: 'spec-eth' }));
  await note('another pair account', () => w.direct.isolatedAccount('ETHUSDT'));
  await note('execution account, long open', () => w.exec.account(q));
  await walk(async () => (await closed()) === 1);

  // 2: a short closed at its take-profit (1 % away).
  const p2 = await price();
  await entry(2, 'SHORT', str(p2.mul('1.01').toDecimalPlaces(2)), str(p2.mul('0.99').toDecimalPlaces(2)));
  await walk(async () => (await closed()) === 2);

  // 3: a long with a far stop, closed by an operator ten minutes in; a close of a position no longer open is refused.
  const p3 = await price();
  await entry(3, 'LONG', str(p3.mul('0.9').toDecimalPlaces(2)), null);
  for (let k = 0; k < 40; k++) await tick();
  await onAccount('PositionCloseRequested', { symbol: SYMBOL, by: 'bob', reason: 'operator close' });
  await note('close of a closed position', () => w.exec.close({ ...q, sequence: 3, reason: 'again', by: 'bob' }));

  // Flat: an hour passes without interest; everything goes back to the spot wallet.
  for (let k = 0; k < 240 && i < ticks.length; k++) await tick();
  const after = (await w.exec.account(q)) as { assets: Array<{ asset: string; free: string }> };
  await note('account at the end', async () => after);
  await note('transfer out the rest', () => w.exec.transfer({ ...q, asset: 'USDT', amount: after.assets.find((a) => a.asset === 'USDT')!.free, direction: 'TO_SPOT', by: 'alice' }));
  return { answers, events: (await pairEvents()).map((e) => ({ type: e.type, data: e.data })) };
}

describe('PaperMarginPort equals BinanceMarginVenue on the local venue', () => {
  it('the same scenario through MarginExecution (driven) records the same margin stream and gets the same answers on both', async () => {
    const ticks = await windowTicks();
    const local = await localWorld();
    let viaLocal: Awaited<ReturnType<typeof scenario>>;
    try {
      viaLocal = await scenario(local, ticks);
    } finally {
      await local.close();
    }
    const port = await portWorld();
    let viaPort: Awaited<ReturnType<typeof scenario>>;
    try {
      viaPort = await scenario(port, ticks);
    } finally {
      await port.close();
    }

    // What the scenario must have exercised (so equal streams are not equal by being empty).
    const types = viaLocal.events.map((e) => e.type);
    expect(types.filter((t) => t === 'MarginPositionOpened')).toHaveLength(3);
    const closes = viaLocal.events.filter((e) => e.type === 'MarginPositionClosed').map((e) => (e.data as EventData<'MarginPositionClosed'>).status);
    expect(closes).toEqual(['STOPPED_OUT', 'CLOSED', 'CLOSED']);
    expect(viaLocal.events.filter((e) => e.type === 'MarginStopTriggered').map((e) => (e.data as EventData<'MarginStopTriggered'>).kind)).toEqual(['STOP_LOSS', 'TAKE_PROFIT', 'OPERATOR_CLOSE']);
    expect(types.filter((t) => t === 'MarginInterestCharged').length).toBeGreaterThanOrEqual(4);
    expect(types).toContain('MarginBorrowed');
    expect(types).toContain('MarginRepaid');
    const refusals = viaLocal.events.filter((e) => e.type === 'MarginCommandRejected').map((e) => (e.data as EventData<'MarginCommandRejected'>).code);
    expect(refusals).toEqual(expect.arrayContaining(['-3041', '-3015', '-3006']));
    const venueCodes = viaLocal.answers.map(([, a]) => (a as { ok?: { ok?: boolean; error?: { code: string } }; thrown?: { code: string } }).ok?.error?.code ?? (a as { thrown?: { code: string } }).thrown?.code).filter(Boolean);
    expect(venueCodes).toEqual(expect.arrayContaining(['-3003', '-1013', '-2010', '-1130', '-3020', '-3015', '-3006', 'PAIR_NOT_CONFIGURED']));

    // Equal, answer by answer and event by event.
    expect(viaPort.answers.map(([label]) => label)).toEqual(viaLocal.answers.map(([label]) => label));
    for (let k = 0; k < viaLocal.answers.length; k++) expect({ [viaPort.answers[k]![0]]: viaPort.answers[k]![1] }).toEqual({ [viaLocal.answers[k]![0]]: viaLocal.answers[k]![1] });
    expect(viaPort.events.length).toBe(viaLocal.events.length);
    for (let k = 0; k < viaLocal.events.length; k++) expect({ at: k, ...viaPort.events[k]! }).toEqual({ at: k, ...viaLocal.events[k]! });
  });
});
