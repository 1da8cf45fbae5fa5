/**
 * Entry order types end to end through ccxt on the local venue (issue 16): the whole pipeline in
 * process (InProcessSystem: signals → risk → execution → stop-monitor → accounting) trading
 * through ccxt (`LocalBinanceVenue`, the `binanceusdm` adapter) against the local
 * Binance-compatible venue (@bulwark/binance-local) on real BTCUSDT 1m candles, rules and
 * funding from ../shared/data. The donchian-atr strategy is attached with each entry type
 * (MARKET, LIMIT GTC, POST_ONLY GTX, IOC, FOK); everything is read from the event log and, for
 * what the venue holds, from the venue's own REST answers (`GET /fapi/v1/allOrders`, `/order`).
 *
 * Two local venues, one per liquidity model (the model is the engine's, for all its accounts):
 * - `whole` (the default: an order fills whole in one trade where the price path reaches it),
 *   for the entry types, the post-only that would take and the IOC / FOK that cannot fill;
 * - `thin` (VOLUME_SHARE:0.0005: an order takes at most 0.05 % of a bar's volume per path step),
 *   where a resting entry of ~0.25 BTC fills in parts over several steps and expires with part
 *   of it filled.
 * One venue account (its own API keys) per test; protection INTERNAL (the default).
 */
import { type EntryType, type EventData, type RecordedEvent, type TimeInForce, EventCatalogue, Subjects, event, parseEvent } from '@bulwark/contracts';
import { binanceLocalAdmin, BinanceLocalHttpError, localVenueInputs, startBinanceLocal, type BinanceLocal } from '@bulwark/binance-local';
import { ceilToStep, clientOrderIdFor, dec, floorToStep, parseLiquidity, shortHash, str, ZERO, type D } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { instrumentFiles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { EventAppender } from '@bulwark/messaging';
import { LocalBinanceVenue } from '@bulwark/venues';
import { InProcessSystem } from './in-process';
import { replayCandles, type ReplayHooks } from './replay';
import type { VenueFactory } from './venue-factory';

// A busy 2-core CI machine: each test replays hours of 1m bars through HTTP and websockets.
jest.setTimeout(300_000);

const SYMBOL = 'BTCUSDT';
const VENUE = 'binance-usdm';
const files = instrumentFiles(resolveDataDir(), VENUE, SYMBOL);
const RULES = localVenueInputs(resolveDataDir(), SYMBOL).rules.get(SYMBOL)!;
const TICK = RULES.tickSize;
const BAR = 60_000;

/**
 * 2025-11-21 10:30–18:00 UTC: 120 bars warm the strategy's channel up, then its entries come on
 * both sides (BUY at the 12:50, 14:41, 14:54 and 17:04 closes, SELL at 15:34; with IOC / FOK one
 * more BUY at 17:06), and IOC / FOK entries both fill and fail to fill.
 */
const DAY_FROM = Date.parse('2025-11-21T10:30:00Z');
const DAY_TO = Date.parse('2025-11-21T18:00:00Z');
/**
 * 2025-11-21 00:00–05:30 UTC on the thin venue: a SELL signal at the 02:06 close (~0.25 BTC, more
 * than the venue fills in a bar), a second one at 02:44 whose position's stop-loss (05:20) closes
 * it in parts, so its stop shrinks with it.
 */
const THIN_FROM = Date.parse('2025-11-21T00:00:00Z');
const THIN_TO = Date.parse('2025-11-21T05:30:00Z');
/** IOC / FOK on the thin venue: 2025-11-21 00:00–03:00, SELL signals from 02:06 on. */
const THIN_IMMEDIATE_TO = Date.parse('2025-11-21T03:00:00Z');
const THIN_LIQUIDITY = 'VOLUME_SHARE:0.0005';

const TIF: Record<EntryType, TimeInForce | null> = { MARKET: null, LIMIT: 'GTC', POST_ONLY: 'GTX', IOC: 'IOC', FOK: 'FOK' };
const resting = (t: EntryType) => t === 'LIMIT' || t === 'POST_ONLY';

const accountNames = ['et-market', 'et-limit', 'et-post', 'et-ioc', 'et-fok', 'et-thin-limit', 'et-thin-post', 'et-thin-ioc', 'et-thin-fok', 'et-cross', 'et-nofill'] as const;
type AccountName = (typeof accountNames)[number];
const creds = (name: AccountName) => {
  const i = accountNames.indexOf(name);
  return { accountId: name, apiKey: `et-key-${i}-${'A'.repeat(16)}`, apiSecret: `et-secret-${i}-${'B'.repeat(16)}` };
};

let whole: BinanceLocal;
let thin: BinanceLocal;
beforeAll(async () => {
  const accounts = accountNames.map((n) => ({ ...creds(n), balance: '0' }));
  whole = await startBinanceLocal({ ...localVenueInputs(resolveDataDir(), SYMBOL), accounts });
  thin = await startBinanceLocal({ ...localVenueInputs(resolveDataDir(), SYMBOL), accounts, liquidity: parseLiquidity(THIN_LIQUIDITY) });
});
/** Every pipeline a test built: its execution service (and venue connection) is closed after the test, pass or fail. */
const systems: InProcessSystem[] = [];
afterEach(async () => {
  for (const sys of systems.splice(0)) await sys.execution.onModuleDestroy();
});
afterAll(async () => {
  await whole?.close();
  await thin?.close();
});

const venueFor = (local: BinanceLocal, name: AccountName): VenueFactory => async (_rules, onAlert) => ({
  venue: new LocalBinanceVenue({ ...creds(name), restBase: local.url, wsBase: local.wsUrl, onAlert, timeoutMs: 5_000 }),
  reconcileSeconds: 0,
  accountIds: [name],
});

interface Run {
  sys: InProcessSystem;
  store: InMemoryEventStore;
  acc: AccountName;
  local: BinanceLocal;
}

/** The pipeline on `local` for one account: 10,000 USDT, 5×, 1 % risk, the strategy attached with `entry`. */
async function pipeline(local: BinanceLocal, acc: AccountName, entry: { entryType: EntryType; expiresAfterBars?: number }, at: number): Promise<Run> {
  const store = new InMemoryEventStore();
  const sys = await InProcessSystem.create(store, venueFor(local, acc));
  systems.push(sys);
  await sys.command(Subjects.openAccount, { accountId: acc, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 5, riskFraction: '0.01', venueBalance: '10000', at });
  await sys.command(Subjects.attachStrategy, { accountId: acc, venue: VENUE, symbol: SYMBOL, strategy: 'donchian-atr', params: {}, at, ...entry });
  return { sys, store, acc, local };
}

async function replay(r: Run, from: number, to: number, hooks: ReplayHooks = {}) {
  const funding = await readFundingRates(files.fundingRates);
  return replayCandles(r.sys.clock(), { runId: `${r.acc}-${from}`, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from, to, schedule: [] }, funding, hooks);
}

async function eventsOf(r: Run): Promise<RecordedEvent[]> {
  const tag = shortHash(r.acc);
  const out: RecordedEvent[] = [];
  for await (const e of r.store.readAll()) if (e.streamId.includes(r.acc) || e.streamId.includes(tag)) out.push(e);
  return out;
}

const ofType = <T extends keyof typeof EventCatalogue>(ev: RecordedEvent[], type: T) => ev.filter((e) => e.type === type) as Array<RecordedEvent & { data: EventData<T> }>;
const data = (ev: RecordedEvent[], type: string) => ev.filter((e) => e.type === type).map((e) => ({ streamId: e.streamId, ...(e.data as object) }));
const same = (a: string | null | undefined, b: string | null | undefined) => (a == null || b == null ? a == b : dec(a).eq(dec(b)));
const norm = (x: string) => str(dec(x));

type Raw = Record<string, unknown>;
/** The account's orders as the venue answers `GET /fapi/v1/allOrders` (Binance's own order query, signed with the account's keys). */
async function venueOrders(r: Run): Promise<Map<string, Raw>> {
  const list = (await binanceLocalAdmin(r.local.url, creds(r.acc)).call('GET', '/fapi/v1/allOrders', { symbol: SYMBOL, limit: 1000 })) as Raw[];
  return new Map(list.map((o) => [String(o['clientOrderId']), o]));
}

/** `GET /fapi/v1/order` by client order id: the venue's answer, or its error code (-2013: the venue has no such order). */
async function venueOrder(r: Run, clientOrderId: string): Promise<Raw | number> {
  try {
    return (await binanceLocalAdmin(r.local.url, creds(r.acc)).call('GET', '/fapi/v1/order', { symbol: SYMBOL, origClientOrderId: clientOrderId })) as Raw;
  } catch (e) {
    if (e instanceof BinanceLocalHttpError && e.code !== null) return e.code;
    throw e;
  }
}

type End = 'FILLED' | 'EXPIRED' | 'CANCELED' | 'REJECTED' | 'OPEN';
interface EntryReport {
  clientOrderId: string;
  entryType: EntryType;
  side: string;
  quantity: D;
  goodTillDate: number | null;
  fills: number;
  filled: D;
  liquidity: string[];
  end: End;
  cancelReason: string | null;
  rejectCode: string | null;
}

/**
 * What every entry of the log must satisfy, whatever its type:
 * - its OrderInitialized has the type, time in force, price, quantity and goodTillDate of its
 *   EntryApproved, which are those of its entry type at the signal's price (on the tick toward
 *   the trader; a post-only one tick further, passive);
 * - the venue holds it with that time in force, type, price and quantity, in the state the log
 *   says (filled quantity included), under the venue order id the log recorded;
 * - POST_ONLY fills are all MAKER; MARKET, IOC and FOK fills all TAKER;
 * - a resting entry fills only before its goodTillDate; at the end it is filled, cancelled
 *   (expired, or the rest of it once its position's stop triggered), or still open because
 *   its goodTillDate has not come; IOC / FOK are filled or expired; MARKET is filled;
 * - every position's stop quantities follow its quantities one for one;
 * - no entry is open at the end except one whose goodTillDate has not come, and the venue's
 *   open orders are exactly those.
 * `injected`: entries appended to the log by the test (no signal behind them) and the end each must have.
 */
async function checkEntries(r: Run, ev: RecordedEvent[], endTs: number, injected = new Map<string, { end: End; code?: string }>()): Promise<EntryReport[]> {
  const intents = new Map(ofType(ev, 'IntentEmitted').map((e) => [e.data.intentId, e.data]));
  const atVenue = await venueOrders(r);
  const reports: EntryReport[] = [];
  for (const approval of ofType(ev, 'EntryApproved')) {
    const a = approval.data;
    const id = a.clientOrderId;
    const et: EntryType = a.entryType ?? 'MARKET';
    expect({ id, type: a.type, timeInForce: a.timeInForce ?? null }).toEqual({ id, type: et === 'MARKET' ? 'MARKET' : 'LIMIT', timeInForce: TIF[et] });
    if (!injected.has(id)) {
      const intent = intents.get(a.intentId)!;
      expect(intent.entryType ?? 'MARKET').toBe(et);
      if (et === 'MARKET') expect({ id, price: a.price ?? null, goodTillDate: a.goodTillDate ?? null }).toEqual({ id, price: null, goodTillDate: null });
      else {
        const raw = dec(intent.entryPrice);
        const onTick = a.side === 'BUY' ? floorToStep(raw, TICK) : ceilToStep(raw, TICK);
        const price = et !== 'POST_ONLY' ? onTick : a.side === 'BUY' ? onTick.minus(TICK) : onTick.plus(TICK);
        const gtd = resting(et) ? intent.candleOpenTime + (1 + intent.expiresAfterBars!) * intent.barIntervalMs! : null;
        expect({ id, price: norm(a.price!), goodTillDate: a.goodTillDate ?? null }).toEqual({ id, price: str(price), goodTillDate: gtd });
      }
    }

    const os = ev.filter((e) => e.streamId === `order-${id}`);
    const init = os.find((e) => e.type === 'OrderInitialized')!.data as EventData<'OrderInitialized'>;
    expect({ id, type: init.type, side: init.side, quantity: init.quantity, price: init.price, timeInForce: init.timeInForce, goodTillDate: init.goodTillDate ?? null, purpose: init.purpose, reduceOnly: init.reduceOnly }).toEqual({
      id, type: a.type, side: a.side, quantity: a.quantity, price: a.price ?? null, timeInForce: a.timeInForce ?? null, goodTillDate: a.goodTillDate ?? null, purpose: 'ENTRY', reduceOnly: false,
    });

    const fills = os.filter((e) => e.type === 'OrderFilled') as Array<RecordedEvent & { data: EventData<'OrderFilled'> }>;
    const filled = fills.reduce((s, f) => s.plus(f.data.quantity), ZERO);
    const liquidity = fills.map((f) => f.data.liquidity);
    // The venue charged each fill the fee of its liquidity (maker 0.02 %, taker 0.05 % on BTCUSDT).
    for (const f of fills) {
      const rate = f.data.liquidity === 'MAKER' ? RULES.makerFeeRate : RULES.takerFeeRate;
      expect({ id, trade: f.data.tradeId, feeMatchesLiquidity: dec(f.data.fee).minus(dec(f.data.quoteQuantity).mul(rate)).abs().lte('0.00000001') }).toEqual({ id, trade: f.data.tradeId, feeMatchesLiquidity: true });
    }
    if (et === 'POST_ONLY') expect({ id, liquidity }).toEqual({ id, liquidity: liquidity.map(() => 'MAKER') });
    if (et === 'MARKET' || et === 'IOC' || et === 'FOK') expect({ id, liquidity }).toEqual({ id, liquidity: liquidity.map(() => 'TAKER') });
    if (a.goodTillDate != null) for (const f of fills) expect({ id, filledBefore: f.metadata.tsEvent < a.goodTillDate }).toEqual({ id, filledBefore: true });

    const last = [...os].reverse().find((e) => ['OrderFilled', 'OrderExpired', 'OrderCanceled', 'OrderRejected', 'OrderDenied'].includes(e.type));
    const end: End = !last
      ? 'OPEN'
      : last.type === 'OrderFilled'
        ? dec((last.data as EventData<'OrderFilled'>).leavesQuantity).isZero() ? 'FILLED' : 'OPEN'
        : last.type === 'OrderExpired' ? 'EXPIRED' : last.type === 'OrderCanceled' ? 'CANCELED' : 'REJECTED';
    const cancelReason = (os.find((e) => e.type === 'OrderCancelRequested')?.data as EventData<'OrderCancelRequested'> | undefined)?.reason ?? null;
    const rejectCode = (os.find((e) => e.type === 'OrderRejected')?.data as EventData<'OrderRejected'> | undefined)?.code ?? null;
    if (end === 'FILLED') expect({ id, filled: str(filled) }).toEqual({ id, filled: norm(a.quantity) });

    const want = injected.get(id);
    if (want) expect({ id, end, rejectCode }).toEqual({ id, end: want.end, rejectCode: want.code ?? null });
    else if (et === 'MARKET') expect({ id, end }).toEqual({ id, end: 'FILLED' });
    else if (et === 'IOC') expect({ id, end: end === 'FILLED' || end === 'EXPIRED' }).toEqual({ id, end: true });
    else if (et === 'FOK') {
      // All or nothing: filled whole, or refused whole at the step (-5021, EXPIRED at the venue, nothing filled).
      expect({ id, ok: end === 'FILLED' || (end === 'EXPIRED' && fills.length === 0) }).toEqual({ id, ok: true });
    } else {
      const expiredAt = `expired: good till ${new Date(a.goodTillDate!).toISOString()}`;
      const ok =
        end === 'FILLED' ||
        (end === 'CANCELED' && (cancelReason === expiredAt || / triggered: the rest of the entry is cancelled$/.test(cancelReason ?? ''))) ||
        (end === 'OPEN' && a.goodTillDate! > endTs);
      expect({ id, end, cancelReason, ok }).toEqual({ id, end, cancelReason, ok: true });
    }

    // The venue's own record of it.
    const accepted = os.find((e) => e.type === 'OrderAccepted')?.data as EventData<'OrderAccepted'> | undefined;
    const v = atVenue.get(id);
    if (!accepted) expect({ id, atVenue: v ?? null }).toEqual({ id, atVenue: null });
    else {
      expect(v).toBeDefined();
      const status: string[] = { FILLED: ['FILLED'], EXPIRED: ['EXPIRED'], CANCELED: ['CANCELED'], OPEN: ['NEW', 'PARTIALLY_FILLED'], REJECTED: [] }[end];
      expect({
        id, orderId: String(v!['orderId']), type: v!['type'], side: v!['side'], timeInForce: v!['timeInForce'], price: same(String(v!['price']), a.price ?? '0'),
        origQty: same(String(v!['origQty']), a.quantity), executedQty: same(String(v!['executedQty']), str(filled)), status: status.includes(String(v!['status'])), reduceOnly: v!['reduceOnly'],
      }).toEqual({ id, orderId: accepted.venueOrderId, type: a.type, side: a.side, timeInForce: a.timeInForce ?? 'GTC', price: true, origQty: true, executedQty: true, status: true, reduceOnly: false });
    }
    reports.push({ clientOrderId: id, entryType: et, side: a.side, quantity: dec(a.quantity), goodTillDate: a.goodTillDate ?? null, fills: fills.length, filled, liquidity, end, cancelReason, rejectCode });
  }

  // Every position's stop follows its quantity one for one.
  const entryIds = new Set(reports.map((x) => x.clientOrderId));
  for (const opened of ofType(ev, 'PositionOpened')) {
    const pos = opened.streamId;
    expect({ pos, openedBy: entryIds.has(opened.data.clientOrderId) }).toEqual({ pos, openedBy: true });
    const quantities = ev
      .filter((e) => e.streamId === pos && ['PositionOpened', 'PositionIncreased', 'PositionReduced'].includes(e.type))
      .map((e) => norm(e.type === 'PositionOpened' ? (e.data as EventData<'PositionOpened'>).quantity : (e.data as EventData<'PositionIncreased'>).newQuantity));
    const stops = ev.filter((e) => e.streamId === `stop-${pos}` && (e.type === 'StopPlaced' || e.type === 'StopResized')).map((e) => norm((e.data as EventData<'StopPlaced'>).quantity));
    expect({ pos, stops }).toEqual({ pos, stops: quantities });
  }

  // Nothing left open but an entry whose goodTillDate has not come; the venue agrees.
  const open = reports.filter((x) => x.end === 'OPEN');
  for (const o of open) expect({ id: o.clientOrderId, gtdAhead: o.goodTillDate !== null && o.goodTillDate > endTs }).toEqual({ id: o.clientOrderId, gtdAhead: true });
  const openAtVenue = [...atVenue.values()].filter((o) => (o['status'] === 'NEW' || o['status'] === 'PARTIALLY_FILLED') && o['reduceOnly'] !== true).map((o) => String(o['clientOrderId']));
  expect(openAtVenue.sort()).toEqual(open.map((o) => o.clientOrderId).sort());
  return reports;
}

const count = (reports: EntryReport[], f: (x: EntryReport) => boolean) => reports.filter(f).length;

describe('entry types through ccxt against the local venue (in-process pipeline, real BTCUSDT candles)', () => {
  describe.each([
    ['MARKET', 'et-market', {}],
    ['LIMIT', 'et-limit', { expiresAfterBars: 3 }],
    ['POST_ONLY', 'et-post', { expiresAfterBars: 3 }],
    ['IOC', 'et-ioc', {}],
    ['FOK', 'et-fok', {}],
  ] as const)('%s entries', (entryType, acc, extra) => {
    it(`the strategy's ${entryType} entries reach the venue as approved (type, time in force, price), fill as their type allows, and every position's stop follows its quantity`, async () => {
      const r = await pipeline(whole, acc, { entryType, ...extra }, DAY_FROM);
      await replay(r, DAY_FROM, DAY_TO);
      const ev = await eventsOf(r);
      const reports = await checkEntries(r, ev, DAY_TO);

      expect(reports.length).toBeGreaterThanOrEqual(4);
      expect(reports.every((x) => x.entryType === entryType)).toBe(true);
      const fills = reports.flatMap((x) => x.liquidity);
      expect(ofType(ev, 'PositionOpened').length).toBe(count(reports, (x) => x.fills > 0));
      expect(ofType(ev, 'StopPlaced').length).toBe(ofType(ev, 'PositionOpened').length);
      if (entryType === 'MARKET') expect(count(reports, (x) => x.end === 'FILLED')).toBe(reports.length);
      if (entryType === 'POST_ONLY') {
        expect(fills.length).toBeGreaterThanOrEqual(4);
        expect(fills.every((l) => l === 'MAKER')).toBe(true);
      }
      if (entryType === 'IOC' || entryType === 'FOK') {
        // On this window both outcomes happen: filled at once, or expired when the next price is past the limit.
        expect(count(reports, (x) => x.end === 'FILLED')).toBeGreaterThanOrEqual(1);
        expect(count(reports, (x) => x.end === 'EXPIRED' && x.fills === 0)).toBeGreaterThanOrEqual(1);
        // An expired IOC / FOK opened nothing.
        const openedBy = new Set(ofType(ev, 'PositionOpened').map((p) => p.data.clientOrderId));
        for (const x of reports.filter((y) => y.fills === 0)) expect(openedBy.has(x.clientOrderId)).toBe(false);
      }
      expect(data(ev, 'OrderDenied')).toEqual([]);
    });
  });

  describe.each([
    ['LIMIT', 'et-thin-limit'],
    ['POST_ONLY', 'et-thin-post'],
  ] as const)(`a %s entry on the thin venue (${THIN_LIQUIDITY})`, (entryType, acc) => {
    it('fills in part, then expires at its goodTillDate; the position is the filled part and its stop covers exactly that', async () => {
      const r = await pipeline(thin, acc, { entryType, expiresAfterBars: 1 }, THIN_FROM);
      await replay(r, THIN_FROM, THIN_TO);
      const ev = await eventsOf(r);
      const reports = await checkEntries(r, ev, THIN_TO);

      const partial = reports.filter((x) => x.fills >= 1 && x.end === 'CANCELED' && x.cancelReason?.startsWith('expired: good till '));
      expect(partial.length).toBeGreaterThanOrEqual(1);
      const atVenue = await venueOrders(r);
      for (const p of partial) {
        const id = p.clientOrderId;
        expect(p.filled.gt(0) && p.filled.lt(p.quantity)).toBe(true);
        expect(p.cancelReason).toBe(`expired: good till ${new Date(p.goodTillDate!).toISOString()}`);
        // Cancelled at the first step at or after its goodTillDate, after its last fill.
        const os = ev.filter((e) => e.streamId === `order-${id}`);
        const cancelAt = os.find((e) => e.type === 'OrderCanceled')!.metadata.tsEvent;
        expect(cancelAt).toBe(p.goodTillDate); // a bar's open: the first step at or after it
        expect(os.map((e) => e.type).indexOf('OrderCancelRequested')).toBeGreaterThan(os.map((e) => e.type).lastIndexOf('OrderFilled'));
        // The venue cancelled it with the same filled quantity.
        expect({ status: atVenue.get(id)!['status'], executedQty: norm(String(atVenue.get(id)!['executedQty'])) }).toEqual({ status: 'CANCELED', executedQty: str(p.filled) });

        // Its position: the filled part, protected by a stop of that quantity.
        const opened = ofType(ev, 'PositionOpened').find((e) => e.data.clientOrderId === id)!;
        expect(opened).toBeDefined();
        const pos = ev.filter((e) => e.streamId === opened.streamId);
        const lastEntryFill = pos.map((e) => (e.data as { clientOrderId?: string }).clientOrderId).lastIndexOf(id);
        const afterEntry = pos[lastEntryFill];
        const quantity = afterEntry.type === 'PositionOpened' ? (afterEntry.data as EventData<'PositionOpened'>).quantity : (afterEntry.data as EventData<'PositionIncreased'>).newQuantity;
        expect(norm(quantity)).toBe(str(p.filled));
        expect(pos.slice(lastEntryFill + 1).some((e) => e.type === 'PositionIncreased')).toBe(false);
        const stop = ev.filter((e) => e.streamId === `stop-${opened.streamId}` && (e.type === 'StopPlaced' || e.type === 'StopResized'));
        expect(stop.map((e) => norm((e.data as EventData<'StopPlaced'>).quantity))).toContain(str(p.filled));
        // The stop sized to the whole entry before any part of the position was closed.
        const beforeClose = stop.filter((e) => e.type === 'StopPlaced' || (e.data as EventData<'StopResized'>).cause === 'POSITION_INCREASED');
        expect(norm((beforeClose.at(-1)!.data as EventData<'StopPlaced'>).quantity)).toBe(str(p.filled));
        if (entryType === 'POST_ONLY') expect(p.liquidity.every((l) => l === 'MAKER')).toBe(true);
      }
      // A position closed in parts: each PositionReduced resized its stop (checked one for one above).
      expect(ofType(ev, 'PositionReduced').length).toBeGreaterThanOrEqual(1);
      expect(ofType(ev, 'StopResized').filter((e) => e.data.cause === 'POSITION_REDUCED').length).toBe(ofType(ev, 'PositionReduced').length);
      expect(data(ev, 'OrderDenied')).toEqual([]);
    });
  });

  it(`IOC on the thin venue (${THIN_LIQUIDITY}): what fills at once stays, protected; the rest expires at once`, async () => {
    const r = await pipeline(thin, 'et-thin-ioc', { entryType: 'IOC' }, THIN_FROM);
    await replay(r, THIN_FROM, THIN_IMMEDIATE_TO);
    const ev = await eventsOf(r);
    const reports = await checkEntries(r, ev, THIN_IMMEDIATE_TO);
    const partial = reports.filter((x) => x.fills >= 1 && x.end === 'EXPIRED');
    expect(partial.length).toBeGreaterThanOrEqual(1);
    for (const p of partial) {
      expect(p.filled.gt(0) && p.filled.lt(p.quantity)).toBe(true);
      // Filled and expired on the same step, the first after it was placed.
      const os = ev.filter((e) => e.streamId === `order-${p.clientOrderId}`);
      const fills = os.filter((e) => e.type === 'OrderFilled');
      expect(new Set([...fills, os.find((e) => e.type === 'OrderExpired')!].map((e) => e.metadata.tsEvent)).size).toBe(1);
      const opened = ofType(ev, 'PositionOpened').find((e) => e.data.clientOrderId === p.clientOrderId)!;
      const positionAfterEntry = ev.filter((e) => e.streamId === opened.streamId && (e.data as { clientOrderId?: string }).clientOrderId === p.clientOrderId).at(-1)!;
      const qty = positionAfterEntry.type === 'PositionOpened' ? (positionAfterEntry.data as EventData<'PositionOpened'>).quantity : (positionAfterEntry.data as EventData<'PositionIncreased'>).newQuantity;
      expect(norm(qty)).toBe(str(p.filled));
      const placed = ev.find((e) => e.streamId === `stop-${opened.streamId}` && e.type === 'StopPlaced')!.data as EventData<'StopPlaced'>;
      expect(norm(placed.quantity)).toBe(str(p.filled));
    }
  });

  it(`FOK on the thin venue (${THIN_LIQUIDITY}): the step cannot fill any entry whole, so every one is refused whole and nothing opens`, async () => {
    const r = await pipeline(thin, 'et-thin-fok', { entryType: 'FOK' }, THIN_FROM);
    await replay(r, THIN_FROM, THIN_IMMEDIATE_TO);
    const ev = await eventsOf(r);
    const reports = await checkEntries(r, ev, THIN_IMMEDIATE_TO);
    expect(reports.length).toBeGreaterThanOrEqual(1);
    // Accepted (marketable against the last price when placed), then refused whole at the step: EXPIRED at the venue, nothing filled.
    expect(reports.map((x) => [x.end, x.fills])).toEqual(reports.map(() => ['EXPIRED', 0]));
    expect(ofType(ev, 'OrderFilled')).toEqual([]);
    expect(ofType(ev, 'PositionOpened')).toEqual([]);
  });

  /**
   * Replay the day until the account has traded, is flat and has no open order at the venue;
   * returns the first approval (the shape to copy), the close of the
   * last bar replayed (the venue's last price) and the next bar's open time.
   */
  async function untilFlat(r: Run) {
    let stopAt = 0;
    let last = '';
    const engine = r.local.engine;
    await replay(r, DAY_FROM, DAY_TO, {
      onCandle: (c) => {
        last = c.close;
        if (stopAt === 0 && engine.trades(r.acc).length > 0 && (engine.account(r.acc)?.positions.length ?? 0) === 0 && engine.openOrders(r.acc).length === 0) stopAt = c.openTime + BAR;
      },
      stopped: () => stopAt !== 0,
    });
    expect(stopAt).toBeGreaterThan(0);
    expect(str(r.local.engine.markPrice(SYMBOL)!)).toBe(norm(last));
    const template = ofType(await eventsOf(r), 'EntryApproved')[0];
    return { stopAt, last: dec(last), template };
  }

  /** Append an approval risk did not decide (a copy of a real one, changed) to the account stream, as risk would, and let the services handle it. */
  async function injectApproval(r: Run, template: RecordedEvent & { data: EventData<'EntryApproved'> }, patch: Partial<EventData<'EntryApproved'>>, at: number) {
    const approved: EventData<'EntryApproved'> = { ...template.data, ...patch };
    expect(parseEvent('EntryApproved', approved, EventCatalogue.EntryApproved.version)).toMatchObject({ ok: true });
    await new EventAppender(r.store).append(template.streamId, [event('EntryApproved', approved)], 'any', { tsEvent: at, correlationId: `test-${patch.clientOrderId}`, causationId: template.metadata.eventId });
    await r.sys.drain();
    return approved;
  }

  it('a post-only entry that would take is refused by the venue as Binance does (-5022, not recorded): no fill, no position; later entries still go through', async () => {
    const r = await pipeline(whole, 'et-cross', { entryType: 'POST_ONLY', expiresAfterBars: 3 }, DAY_FROM);
    const { stopAt, last, template } = await untilFlat(r);
    expect(template.data).toMatchObject({ entryType: 'POST_ONLY', timeInForce: 'GTX', side: 'BUY' });
    // A post-only BUY ten ticks above the last price would meet the ask and take.
    const id = clientOrderIdFor(r.acc, 'x1', 'E');
    const price = last.plus(TICK.mul(10));
    await injectApproval(r, template, {
      clientOrderId: id, intentId: 'test-cross-1', price: str(price), goodTillDate: stopAt + 3 * BAR,
    }, stopAt);

    let ev = await eventsOf(r);
    const os = ev.filter((e) => e.streamId === `order-${id}`);
    expect(os.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderRejected']);
    expect(os[0].data).toMatchObject({ type: 'LIMIT', timeInForce: 'GTX', price: str(price), side: 'BUY' });
    expect(os[2].data).toMatchObject({ code: '-5022' });
    expect((os[2].data as EventData<'OrderRejected'>).message).toContain('Post Only order will be rejected');
    // "The order will not be recorded in the order history": the venue does not know it.
    expect(await venueOrder(r, id)).toBe(-2013);
    expect(r.local.engine.account(r.acc)!.positions).toEqual([]);

    // The market goes on: the service keeps trading.
    await replay(r, stopAt, DAY_TO);
    ev = await eventsOf(r);
    expect(ev.filter((e) => e.streamId === `order-${id}`).map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderRejected']);
    expect(ofType(ev, 'PositionOpened').filter((p) => p.data.clientOrderId === id)).toEqual([]);
    const reports = await checkEntries(r, ev, DAY_TO, new Map([[id, { end: 'REJECTED' as const, code: '-5022' }]]));
    const later = reports.filter((x) => x.clientOrderId !== id && ofType(ev, 'EntryApproved').find((a) => a.data.clientOrderId === x.clientOrderId)!.metadata.tsEvent > stopAt);
    expect(later.filter((x) => x.fills > 0).length).toBeGreaterThanOrEqual(1);
    expect(data(ev, 'OrderDenied')).toEqual([]);
  });

  it('IOC and FOK entries that cannot fill never open: the IOC is accepted and expires at the next step, the FOK is refused at once (-5021, not recorded)', async () => {
    const r = await pipeline(whole, 'et-nofill', { entryType: 'IOC' }, DAY_FROM);
    const { stopAt, last, template } = await untilFlat(r);
    expect(template.data).toMatchObject({ entryType: 'IOC', timeInForce: 'IOC', side: 'BUY', goodTillDate: null });
    // BUYs 1 % below the last price: the next bar opens far above them.
    const price = floorToStep(last.mul('0.99'), TICK);
    const ioc = clientOrderIdFor(r.acc, 'x1', 'E');
    const fok = clientOrderIdFor(r.acc, 'x2', 'E');
    await injectApproval(r, template, { clientOrderId: ioc, intentId: 'test-ioc-1', price: str(price) }, stopAt);
    await injectApproval(r, template, { clientOrderId: fok, intentId: 'test-fok-1', price: str(price), entryType: 'FOK', timeInForce: 'FOK' }, stopAt);

    let ev = await eventsOf(r);
    // Binance accepts an IOC and expires what it cannot fill at once (ORDER_TRADE_UPDATE x = EXPIRED).
    expect(ev.filter((e) => e.streamId === `order-${ioc}`).map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted']);
    // Binance refuses a FOK that cannot fill whole at once: -5021 FOK_ORDER_REJECT, "The order would not be recorded in the order history".
    const fokStream = ev.filter((e) => e.streamId === `order-${fok}`);
    expect(fokStream.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderRejected']);
    expect(fokStream[0].data).toMatchObject({ type: 'LIMIT', timeInForce: 'FOK', price: str(price) });
    expect(fokStream[2].data).toMatchObject({ code: '-5021' });
    expect(await venueOrder(r, fok)).toBe(-2013);

    await replay(r, stopAt, DAY_TO);
    ev = await eventsOf(r);
    const iocStream = ev.filter((e) => e.streamId === `order-${ioc}`);
    expect(iocStream.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderExpired']);
    expect(iocStream[3].metadata.tsEvent).toBe(stopAt); // at the first step after it was placed
    expect(await venueOrder(r, ioc)).toMatchObject({ status: 'EXPIRED', timeInForce: 'IOC', executedQty: '0.000' });
    const opened = new Set(ofType(ev, 'PositionOpened').map((p) => p.data.clientOrderId));
    expect([opened.has(ioc), opened.has(fok)]).toEqual([false, false]);
    expect(ev.filter((e) => e.type === 'OrderFilled' && [ioc, fok].includes((e.data as EventData<'OrderFilled'>).clientOrderId))).toEqual([]);
    const reports = await checkEntries(r, ev, DAY_TO, new Map([[ioc, { end: 'EXPIRED' as const }], [fok, { end: 'REJECTED' as const, code: '-5021' }]]));
    const later = reports.filter((x) => ![ioc, fok].includes(x.clientOrderId) && ofType(ev, 'EntryApproved').find((a) => a.data.clientOrderId === x.clientOrderId)!.metadata.tsEvent > stopAt);
    expect(later.filter((x) => x.fills > 0).length).toBeGreaterThanOrEqual(1);
    expect(data(ev, 'OrderDenied')).toEqual([]);
  });
});
