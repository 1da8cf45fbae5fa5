/**
 * Every mapped Bitget error the local Bitget USDT-M venue's fault injector can force, on the
 * first entry of 2025-11-21 (real candles: the local Bitget venue is priced by Binance's
 * recorded BTCUSDT candles and trades with Bitget's recorded rules, tiers and fees), through
 * the whole in-process pipeline and unmodified ccxt `bitget` (LocalBitgetVenue), with the
 * domain event it ends in: a rejection with the domain code and Bitget's code in its message,
 * a recovered order (exactly one at the venue, found by clientOid), an order whose outcome
 * stays unknown, a venue alert with the internal stop still protecting.
 * The Binance counterpart is execution.faults.int.spec.ts. Not forceable on Bitget: the ban
 * (HTTP 418 with Retry-After) — Bitget documents no IP ban answer and the local Bitget venue
 * answers a `418` rule with its 429.
 */
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { startBitgetLocal, bitgetLocalInputs, type BitgetLocal, type FaultRule } from '@bulwark/binance-local';
import { shortHash } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { instrumentFiles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { LocalBitgetVenue } from '@bulwark/venues';
import { InProcessSystem } from './in-process';
import { replayCandles } from './replay';
import type { VenueFactory } from './venue-factory';

jest.setTimeout(180_000);

const SYMBOL = 'BTCUSDT';
const VENUE = 'bitget-usdtm';
const DAY = Date.parse('2025-11-21T00:00:00Z');
/** The first entry of the day (a SHORT) is approved on the 02:06 bar and filled at 02:07. */
const UNTIL = Date.parse('2025-11-21T02:10:00Z');
/** Its take-profit triggers at 02:44:40 (internal protection: a reduce-only market close). */
const UNTIL_FIRST_CLOSE = Date.parse('2025-11-21T02:45:00Z');
/** The second position (02:45) is stopped out at 05:20:40. */
const UNTIL_SECOND_STOP = Date.parse('2025-11-21T05:22:00Z');
/** The candles are Binance's recorded BTCUSDT futures (this project has no Bitget candles). */
const files = instrumentFiles(resolveDataDir(), 'binance-usdm', SYMBOL);

const PLACE = '/api/v2/mix/order/place-order';
const DETAIL = '/api/v2/mix/order/detail';
const TPSL = '/api/v2/mix/order/place-tpsl-order';

const CASES = [
  'margin40762', 'margin43012', 'notional45110', 'qty45111', 'scale40808', 'tier40763', 'tier45113', 'side40774', 'dup45034',
  'timestamp', 'rate', 'unknown503', 'before503', 'timeout', 'dropBefore', 'lost', 'dupResend', 'close22002', 'close40757', 'exchangeStop',
] as const;
type Case = (typeof CASES)[number];
const cred = (c: Case) => ({
  accountId: `bgf-${c}`, apiKey: `bgf-key-${c}-0123456789abcdef`, apiSecret: `bgf-secret-${c}-fedcba9876543210`, passphrase: `bgf-pass-${c}-Zm9vYmFy`,
});

let local: BitgetLocal;
beforeAll(async () => {
  local = await startBitgetLocal({ ...bitgetLocalInputs(resolveDataDir()), accounts: CASES.map((c) => ({ ...cred(c), balance: '0' })) });
}, 60_000);
afterAll(async () => {
  await local?.close();
});
afterEach(() => local.faults.clear());

interface Run {
  events: RecordedEvent[];
  /** The adapter's redacted diagnostic lines (every failed request with its domain code and Bitget's). */
  logs: string[];
  venue: LocalBitgetVenue;
}

/** Run the pipeline from 00:00 to `until` with `rules` armed for this account; the account's events. */
async function runWith(
  c: Case,
  rules: Array<Omit<FaultRule, 'accountId'>>,
  o: { protection?: 'INTERNAL' | 'EXCHANGE'; until?: number; onVenue?: (v: LocalBitgetVenue) => void } = {},
): Promise<Run> {
  const { accountId } = cred(c);
  const logs: string[] = [];
  let venue: LocalBitgetVenue | null = null;
  const factory: VenueFactory = async (_rules, onAlert) => {
    venue = new LocalBitgetVenue({ ...cred(c), restBase: local.url, wsBase: local.wsUrl, onAlert, log: (l) => logs.push(l), timeoutMs: 1_000, retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100, maxTotalDelayMs: 1_000 } });
    o.onVenue?.(venue);
    return { venue, reconcileSeconds: 0, accountIds: [accountId] };
  };
  const store = new InMemoryEventStore();
  const sys = await InProcessSystem.create(store, factory);
  await sys.command(Subjects.openAccount, { accountId, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 5, riskFraction: '0.01', venueBalance: '10000', protection: o.protection ?? 'INTERNAL', at: DAY });
  await sys.command(Subjects.attachStrategy, { accountId, venue: VENUE, symbol: SYMBOL, strategy: 'donchian-atr', params: {}, at: DAY });
  for (const r of rules) local.faults.add({ ...r, accountId });
  const funding = await readFundingRates(files.fundingRates);
  try {
    await replayCandles(sys.clock(), { runId: accountId, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: DAY, to: o.until ?? UNTIL, schedule: [] }, funding);
    await sys.drain();
  } finally {
    await sys.execution.onModuleDestroy();
  }
  // Every armed rule fired (a rule left armed would mean the case did not force what it says).
  expect(local.faults.pending().filter((r) => r.accountId === accountId && r.count !== -1)).toEqual([]);
  const tag = shortHash(accountId);
  const events: RecordedEvent[] = [];
  const all: RecordedEvent[] = [];
  for await (const e of store.readAll()) {
    all.push(e);
    if (e.streamId.includes(accountId) || e.streamId.includes(tag)) events.push(e);
  }
  // Whatever went wrong, the key, secret and passphrase are in no event (data or metadata) and no log line.
  const log = JSON.stringify(all) + logs.join('\n');
  for (const secret of [cred(c).apiKey, cred(c).apiSecret, cred(c).passphrase]) expect(log).not.toContain(secret);
  return { events, logs, venue: venue! };
}

/** An order stream (by the client order id's suffix: `-1E` the first entry, `-p1S` its exchange stop-loss, …) as (type, code) pairs. */
const trail = (events: RecordedEvent[], suffix: string) =>
  events.filter((e) => e.streamId.startsWith('order-') && e.streamId.endsWith(suffix)).map((e) => [e.type, (e.data as { code?: string }).code ?? null]);
const entryTrail = (events: RecordedEvent[]) => trail(events, '-1E');
const dataOf = <T extends string>(events: RecordedEvent[], type: T, suffix = '-1E') =>
  events.filter((e) => e.type === type && e.streamId.endsWith(suffix)).map((e) => e.data as Record<string, unknown>);
const atVenue = (c: Case) => local.engine.orders(cred(c).accountId);
const alerts = (events: RecordedEvent[]) => events.filter((e) => e.type === 'VenueAlert').map((e) => e.data as EventData<'VenueAlert'>);

/** The first entry accepted and filled, exactly one order at the venue: the one with the entry's clientOid and the venue order id recorded. */
function expectOneEntryAtVenue(c: Case, events: RecordedEvent[]): void {
  expect(entryTrail(events).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
  const clientOrderId = dataOf(events, 'OrderInitialized')[0]['clientOrderId'];
  const orders = atVenue(c);
  expect(orders.map((o) => o.clientOrderId)).toEqual([clientOrderId]);
  expect(dataOf(events, 'OrderAccepted')[0]['venueOrderId']).toBe(orders[0].venueOrderId);
  expect(events.filter((e) => e.type === 'PositionOpened')).toHaveLength(1);
}

describe('Bitget errors forced by the local venue\'s fault injector end in the right domain event (in-process pipeline, ccxt bitget)', () => {
  it.each([
    ['margin40762', 40762, 'The order amount exceeds the balance', '-2019'],
    ['margin43012', 43012, 'Insufficient balance', '-2019'],
    ['notional45110', 45110, 'less than the minimum amount 5 USDT', '-4164'],
    ['qty45111', 45111, 'less than the minimum order quantity', '-4003'],
    ['scale40808', 40808, 'Parameter verification exception size checkBDScale error value=0.24131 checkScale=4', '-1111'],
    ['tier40763', 40763, 'Exceeds position tier limit', '-2027'],
    // What the local venue itself answers when an order is above the symbol's maximum order quantity.
    ['tier45113', 45113, 'Maximum order value limit triggered', '-4005'],
    ['side40774', 40774, 'The order type for unilateral position must also be the unilateral position type.', '-4061'],
    // A first send answered "clientOid duplicate" (nothing placed by this request): a rejection, never a second send.
    ['dup45034', 45034, 'clientOid duplicate', '-4015'],
  ] as const)('%s: Bitget %d "%s" on the entry → OrderRejected %s with Bitget\'s code in the message; nothing at the venue, no position', async (c, code, msg, domain) => {
    const { events } = await runWith(c, [{ method: 'POST', path: PLACE, action: 'error', code, msg }]);
    expect(entryTrail(events)).toEqual([['OrderInitialized', null], ['OrderSubmitted', null], ['OrderRejected', domain]]);
    expect(String(dataOf(events, 'OrderRejected')[0]['message'])).toContain(`Bitget ${code}: ${msg}`);
    expect(atVenue(c)).toEqual([]);
    expect(events.filter((e) => e.type === 'PositionOpened')).toEqual([]);
    expect(alerts(events)).toEqual([]);
  });

  it('timestamp: Bitget 40008 once → the adapter resyncs its clock (GET /api/v2/public/time) and sends once more → accepted and filled; exactly one order', async () => {
    // Every request ccxt signs, in order (the path only). Counted around the place-order, not as
    // loadTimeDifference calls: under Jest the adapter's first private call is already answered 40005
    // (ccxt gets its `options` from Jest's realm, its deepExtend does not merge them, timeDifference is
    // undefined, ACCESS-TIMESTAMP "NaN") and resynced once before the entry.
    const signed: string[] = [];
    const { events, logs } = await runWith('timestamp', [{ method: 'POST', path: PLACE, action: 'error', code: 40008, msg: 'Request timestamp expired' }], {
      onVenue: (v) => {
        const sign = v.exchange.sign.bind(v.exchange);
        jest.spyOn(v.exchange, 'sign').mockImplementation((path, ...rest) => (signed.push(String(path)), sign(path, ...rest)));
      },
    });
    expect(logs.filter((l) => l.includes(PLACE))).toEqual([expect.stringContaining('BITGET_40008 Bitget 40008: Request timestamp expired')]);
    const first = signed.indexOf('v2/mix/order/place-order');
    expect(signed.slice(first)).toEqual(['v2/mix/order/place-order', 'v2/public/time', 'v2/mix/order/place-order']);
    expectOneEntryAtVenue('timestamp', events);
  });

  it('rate limit: HTTP 429 with Retry-After 1 → the adapter waits, sends once more → accepted and filled; exactly one order', async () => {
    const t0 = Date.now();
    const { events, logs } = await runWith('rate', [{ method: 'POST', path: PLACE, action: '429', retryAfterSec: 1 }]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(logs.filter((l) => l.includes(PLACE) && l.includes('HTTP_429'))).toHaveLength(1);
    expectOneEntryAtVenue('rate', events);
  });

  it('503 after Bitget placed the order (outcome unknown) → queried by clientOid → OrderAccepted with its order id; exactly one order at the venue', async () => {
    const { events } = await runWith('unknown503', [{ method: 'POST', path: PLACE, action: '503', when: 'after' }]);
    expectOneEntryAtVenue('unknown503', events);
  });

  it('503 before processing → queried by clientOid: Bitget has no such order → the same clientOid sent again → accepted; exactly one order', async () => {
    const { events, logs } = await runWith('before503', [{ method: 'POST', path: PLACE, action: '503', when: 'before' }]);
    expect(logs.filter((l) => l.includes('re-sending with the same client id'))).toHaveLength(1);
    expectOneEntryAtVenue('before503', events);
  });

  it('timeout: the answer is lost after Bitget placed the order → queried by clientOid → accepted once; exactly one order (no blind second order)', async () => {
    const { events, logs } = await runWith('timeout', [{ method: 'POST', path: PLACE, action: 'drop', when: 'after', ms: 1_500 }]);
    expect(logs.filter((l) => l.includes('re-sending'))).toEqual([]);
    expectOneEntryAtVenue('timeout', events);
  });

  it('timeout: the request is lost before Bitget processed it → queried: no such order → the same clientOid again → accepted; exactly one order', async () => {
    const { events, logs } = await runWith('dropBefore', [{ method: 'POST', path: PLACE, action: 'drop', when: 'before', ms: 1_500 }]);
    expect(logs.filter((l) => l.includes('re-sending with the same client id'))).toHaveLength(1);
    expectOneEntryAtVenue('dropBefore', events);
  });

  it('503 and Bitget cannot be asked either → OrderStatusUnknown (never a second order sent blindly)', async () => {
    const { events } = await runWith('lost', [
      { method: 'POST', path: PLACE, action: '503', when: 'before' },
      { method: 'GET', path: DETAIL, action: '503', count: -1 },
    ]);
    expect(entryTrail(events).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderStatusUnknown']);
    expect(String(dataOf(events, 'OrderStatusUnknown')[0]['detail'])).toMatch(/^HTTP_503 .*outcome unknown and the order could not be queried/);
    expect(atVenue('lost')).toEqual([]);
    expect(events.filter((e) => e.type === 'PositionOpened')).toEqual([]);
  });

  it('duplicate clientOid for real: 503 after placing, the query wrongly says 40768 "Order does not exist", the re-send is refused by Bitget with 45034 → queried again → accepted; exactly one order', async () => {
    const { events, logs } = await runWith('dupResend', [
      { method: 'POST', path: PLACE, action: '503', when: 'after' },
      { method: 'GET', path: DETAIL, action: 'error', code: 40768, msg: 'Order does not exist' },
    ]);
    // The venue's own answer to the re-send (not injected): Bitget's 45034, classified DUPLICATE_ORDER (-4015).
    expect(logs.filter((l) => l.includes(PLACE) && l.includes('-4015') && l.includes('Bitget 45034: clientOid duplicate'))).toHaveLength(1);
    expectOneEntryAtVenue('dupResend', events);
  });

  it.each([
    ['close22002', 22002, 'No position to close'],
    ['close40757', 40757, 'Not enough position is available.'],
  ] as const)('%s: the take-profit\'s reduce-only close refused with Bitget %d → OrderRejected -2022, the stop sends the close again → the position is closed at the venue', async (c, code, msg) => {
    // The entry goes through (a zero delay consumes the first place-order), the first close is refused.
    const { events } = await runWith(c, [
      { method: 'POST', path: PLACE, action: 'delay', ms: 0 },
      { method: 'POST', path: PLACE, action: 'error', code, msg },
    ], { until: UNTIL_FIRST_CLOSE });
    expect(trail(events, '-1x1T')).toEqual([['OrderInitialized', null], ['OrderSubmitted', null], ['OrderRejected', '-2022']]);
    expect(String(dataOf(events, 'OrderRejected', '-1x1T')[0]['message'])).toContain(`Bitget ${code}: ${msg}`);
    const stop = events.filter((e) => e.streamId.endsWith('BTCUSDT-1') && e.streamId.startsWith('stop-'));
    const triggers = stop.filter((e) => e.type === 'StopTriggered').map((e) => e.data as EventData<'StopTriggered'>);
    expect(triggers.map((t) => [t.kind, t.attempt])).toEqual([['TAKE_PROFIT', 1], ['TAKE_PROFIT', 2]]);
    const second = triggers[1].closeClientOrderId;
    expect(trail(events, second.slice(second.lastIndexOf('-'))).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
    expect(events.filter((e) => e.type === 'PositionClosed' && e.streamId.endsWith('BTCUSDT-1'))).toHaveLength(1);
    expect(stop.map((e) => e.type)).toContain('StopCancelled');
    expect(alerts(events)).toEqual([]); // one refused close is retried, not yet a protection failure
    // At the venue: the entry and the one close that was accepted; the first position is flat.
    const orders = atVenue(c).filter((o) => o.clientOrderId.includes('-1'));
    expect(orders.map((o) => o.clientOrderId)).toEqual([dataOf(events, 'OrderInitialized')[0]['clientOrderId'], second]);
  });

  it('exchange stop (EXCHANGE protection): the position TP/SL stop-loss refused with Bitget 40757 → OrderRejected -2022, a VenueAlert PROTECTION_FAILED, and the internal stop closes the position when hit', async () => {
    // place-tpsl-order: the 1st position's stop-loss and take-profit pass, the 2nd position's stop-loss is refused, its take-profit passes.
    const { events } = await runWith('exchangeStop', [
      { method: 'POST', path: TPSL, action: 'delay', ms: 0, count: 2 },
      { method: 'POST', path: TPSL, action: 'error', code: 40757, msg: 'Not enough position is available.' },
    ], { protection: 'EXCHANGE', until: UNTIL_SECOND_STOP });
    // The 1st position: both exchange orders accepted; Bitget's take-profit closed it (no internal close sent), its stop-loss was then cancelled.
    expect(trail(events, '-p1T').map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
    expect(trail(events, '-p1S').map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderCancelRequested', 'OrderCanceled']);
    expect(trail(events, '-1x1T')).toEqual([]);
    // The 2nd position: its exchange stop-loss refused.
    expect(trail(events, '-p2S')).toEqual([['OrderInitialized', null], ['OrderSubmitted', null], ['OrderRejected', '-2022']]);
    expect(String(dataOf(events, 'OrderRejected', '-p2S')[0]['message'])).toContain('Bitget 40757: Not enough position is available.');
    const a = alerts(events);
    expect(a.map((x) => x.kind)).toEqual(['PROTECTION_FAILED']);
    expect(a[0].detail).toMatch(/exchange STOP_LOSS .*-p2S refused: -2022 .*Bitget 40757.*the internal stop protects the position/);
    // The internal stop of the 2nd position was placed, was never cancelled before it triggered, and its close flattened the position.
    const stop2 = events.filter((e) => e.streamId.startsWith('stop-') && e.streamId.endsWith('BTCUSDT-2'));
    expect(stop2.map((e) => e.type)).toEqual(['StopPlaced', 'StopTriggered', 'StopCancelled']);
    const t = stop2[1].data as EventData<'StopTriggered'>;
    expect([t.kind, t.attempt]).toEqual(['STOP_LOSS', 1]);
    expect(trail(events, t.closeClientOrderId.slice(t.closeClientOrderId.lastIndexOf('-'))).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
    expect(events.filter((e) => e.type === 'PositionClosed' && e.streamId.endsWith('BTCUSDT-2'))).toHaveLength(1);
    // Its exchange take-profit, left alone, is cancelled when the position is flat.
    expect(trail(events, '-p2T').map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderCancelRequested', 'OrderCanceled']);
    expect(local.engine.openAlgoOrders(cred('exchangeStop').accountId)).toEqual([]);
    expect(local.engine.account(cred('exchangeStop').accountId)!.positions).toEqual([]);
  });
});
