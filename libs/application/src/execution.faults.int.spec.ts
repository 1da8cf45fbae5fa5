/**
 * Every venue error the issue names, forced by the local venue's fault injector on the first
 * entry of 2025-11-21 (real candles), through the whole in-process pipeline and ccxt, with the
 * domain event it ends in: a rejection with Binance's code, a recovered order (exactly one at
 * the venue), an order whose outcome stays unknown, a venue alert.
 */
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { startBinanceLocal, localVenueInputs, type BinanceLocal, type FaultRule } from '@bulwark/binance-local';
import { shortHash } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { instrumentFiles, readFundingRates, resolveDataDir } from '@bulwark/market-data';
import { LocalBinanceVenue } from '@bulwark/venues';
import { InProcessSystem } from './in-process';
import { replayCandles } from './replay';
import type { VenueFactory } from './venue-factory';

const SYMBOL = 'BTCUSDT';
const VENUE = 'binance-usdm';
const DAY = Date.parse('2025-11-21T00:00:00Z');
/** The first entry of the day is approved on the 02:06 bar and filled at 02:07. */
const UNTIL = Date.parse('2025-11-21T02:10:00Z');
const files = instrumentFiles(resolveDataDir(), VENUE, SYMBOL);

const CASES = [
  'margin', 'notional', 'position', 'side', 'timestamp', 'rate', 'ban', 'unknown503', 'timeout', 'lost', 'stopReduceOnly',
] as const;
type Case = (typeof CASES)[number];
const cred = (c: Case) => ({ accountId: `fault-${c}`, apiKey: `fault-key-${c}-0123456789abcdef`, apiSecret: `fault-secret-${c}-fedcba9876543210` });

let local: BinanceLocal;
beforeAll(async () => {
  local = await startBinanceLocal({ ...localVenueInputs(resolveDataDir(), SYMBOL), accounts: CASES.map((c) => ({ ...cred(c), balance: '0' })) });
});
afterAll(async () => {
  await local?.close();
});

/** Run the pipeline over the first two hours with `rules` armed for this account; the account's events. */
async function runWith(c: Case, rules: Array<Omit<FaultRule, 'accountId'>>, protection: 'INTERNAL' | 'EXCHANGE' = 'INTERNAL'): Promise<{ events: RecordedEvent[]; sys: InProcessSystem }> {
  const { accountId } = cred(c);
  const factory: VenueFactory = async (_rules, onAlert) => ({
    venue: new LocalBinanceVenue({ ...cred(c), restBase: local.url, wsBase: local.wsUrl, onAlert, timeoutMs: 1_000, retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100, maxTotalDelayMs: 1_000 } }),
    reconcileSeconds: 0,
    accountIds: [accountId],
  });
  const store = new InMemoryEventStore();
  const sys = await InProcessSystem.create(store, factory);
  await sys.command(Subjects.openAccount, { accountId, venue: VENUE, symbol: SYMBOL, capital: '10000', leverage: 5, riskFraction: '0.01', venueBalance: '10000', protection, at: DAY });
  await sys.command(Subjects.attachStrategy, { accountId, venue: VENUE, symbol: SYMBOL, strategy: 'donchian-atr', params: {}, at: DAY });
  for (const r of rules) local.faults.add({ ...r, accountId });
  const funding = await readFundingRates(files.fundingRates);
  try {
    await replayCandles(sys.clock(), { runId: accountId, venue: VENUE, symbol: SYMBOL, candlesFile: files.defaultCandles, from: DAY, to: UNTIL, schedule: [] }, funding);
    await sys.drain();
  } finally {
    await sys.execution.onModuleDestroy();
  }
  const tag = shortHash(accountId);
  const events: RecordedEvent[] = [];
  const all: RecordedEvent[] = [];
  for await (const e of store.readAll()) {
    all.push(e);
    if (e.streamId.includes(accountId) || e.streamId.includes(tag)) events.push(e);
  }
  // Whatever went wrong, the keys are in no event (data or metadata).
  const log = JSON.stringify(all);
  expect(log).not.toContain(cred(c).apiKey);
  expect(log).not.toContain(cred(c).apiSecret);
  return { events, sys };
}

/** The entry order's stream, as (type, code) pairs. */
const entryTrail = (events: RecordedEvent[]) =>
  events.filter((e) => e.streamId.startsWith('order-') && e.streamId.endsWith('-1E')).map((e) => [e.type, (e.data as { code?: string }).code ?? null]);

afterEach(() => local.faults.clear());

describe('venue errors forced by the fault injector end in the right domain event', () => {
  it.each([
    ['margin', -2019, 'Margin is insufficient.'],
    ['notional', -4164, "Order's notional must be no smaller than 100 (unless you choose reduce only)."],
    ['position', -2027, 'Exceeded the maximum allowable position at current leverage.'],
    ['side', -4061, "Order's position side does not match user's setting."],
  ] as const)('%s: Binance %d on the entry → OrderRejected with that code; nothing at the venue, no position', async (c, code, msg) => {
    const { events } = await runWith(c, [{ method: 'POST', path: '/fapi/v1/order', action: 'error', code, msg }]);
    expect(entryTrail(events)).toEqual([['OrderInitialized', null], ['OrderSubmitted', null], ['OrderRejected', String(code)]]);
    expect(local.engine.orders(cred(c).accountId)).toEqual([]);
    expect(events.filter((e) => e.type === 'PositionOpened')).toEqual([]);
  }, 60_000);

  it('timestamp: -1021 once → the adapter resyncs its clock and retries once → the entry is accepted and filled', async () => {
    const { events } = await runWith('timestamp', [{ method: 'POST', path: '/fapi/v1/order', action: 'error', code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' }]);
    expect(entryTrail(events).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
    expect(local.engine.orders(cred('timestamp').accountId)).toHaveLength(1);
  }, 60_000);

  it('rate limit: 429 with Retry-After 1 → the adapter waits, sends once more → accepted; exactly one order', async () => {
    const t0 = Date.now();
    const { events } = await runWith('rate', [{ method: 'POST', path: '/fapi/v1/order', action: '429', retryAfterSec: 1 }]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(entryTrail(events).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
    expect(local.engine.orders(cred('rate').accountId)).toHaveLength(1);
  }, 60_000);

  it('ban: 418 with Retry-After → OrderRejected HTTP_418 and a VenueAlert IP_BANNED with the ban end on the venue stream', async () => {
    const { events } = await runWith('ban', [{ method: 'POST', path: '/fapi/v1/order', action: '418', retryAfterSec: 2 }]);
    expect(entryTrail(events)).toEqual([['OrderInitialized', null], ['OrderSubmitted', null], ['OrderRejected', 'HTTP_418']]);
    const alerts = events.filter((e) => e.type === 'VenueAlert').map((e) => e.data as EventData<'VenueAlert'>);
    expect(alerts).toEqual([expect.objectContaining({ kind: 'IP_BANNED' })]);
    expect(alerts[0].until).toBeGreaterThan(Date.now() - 60_000);
    expect(local.engine.orders(cred('ban').accountId)).toEqual([]);
  }, 60_000);

  it('503 after the venue placed the order (outcome unknown) → queried by client order id → OrderAccepted; exactly one order at the venue', async () => {
    const { events } = await runWith('unknown503', [{ method: 'POST', path: '/fapi/v1/order', action: '503', when: 'after' }]);
    expect(entryTrail(events).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
    expect(local.engine.orders(cred('unknown503').accountId)).toHaveLength(1);
  }, 60_000);

  it('timeout after the venue placed the order → queried by client order id → accepted once; exactly one order at the venue', async () => {
    const { events } = await runWith('timeout', [{ method: 'POST', path: '/fapi/v1/order', action: 'drop', when: 'after', ms: 1_500 }]);
    expect(entryTrail(events).map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderFilled']);
    expect(local.engine.orders(cred('timeout').accountId)).toHaveLength(1);
  }, 60_000);

  it('503 and the venue cannot be asked either → OrderStatusUnknown (never a second order sent blindly)', async () => {
    const { events } = await runWith('lost', [
      { method: 'POST', path: '/fapi/v1/order', action: '503', when: 'before' },
      { method: 'GET', path: '/fapi/v1/order', action: '503', count: -1 },
    ]);
    const trail = entryTrail(events);
    expect(trail.map((x) => x[0])).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderStatusUnknown']);
    expect(local.engine.orders(cred('lost').accountId)).toEqual([]);
  }, 60_000);

  it('-2022 on the exchange stop-loss (EXCHANGE protection) → that order is rejected with the code, a VenueAlert PROTECTION_FAILED, and the internal stop still protects the position', async () => {
    const { events } = await runWith('stopReduceOnly', [{ method: 'POST', path: '/fapi/v1/algoOrder', action: 'error', code: -2022, msg: 'ReduceOnly Order is rejected.' }], 'EXCHANGE');
    const stopLoss = events.filter((e) => e.streamId.startsWith('order-') && e.streamId.endsWith('-p1S')).map((e) => [e.type, (e.data as { code?: string }).code ?? null]);
    expect(stopLoss).toEqual([['OrderInitialized', null], ['OrderSubmitted', null], ['OrderRejected', '-2022']]);
    expect(events.filter((e) => e.type === 'VenueAlert').map((e) => (e.data as EventData<'VenueAlert'>).kind)).toEqual(['PROTECTION_FAILED']);
    expect(events.filter((e) => e.type === 'StopPlaced')).toHaveLength(1);
  }, 60_000);
});
