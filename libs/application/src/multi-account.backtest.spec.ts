/**
 * Many accounts in one system: three accounts with different risk settings trade one real day
 * (Binance USDⓈ-M BTCUSDT 1m, 2025-11-21, with funding) at once in one in-process system, and
 * each account's log equals a run of that account alone, stream by stream (the parity
 * comparison: type, data, market time, correlation, causation as the stream@revision it names;
 * the venue's order and trade ids by the order they belong to, since the venue numbers them
 * across all its accounts). Then the isolation rule on the pipeline: one account's order
 * refused by the venue leaves the others' order flow as it is alone.
 */
import { Subjects, type RecordedEvent } from '@bulwark/contracts';
import { InMemoryEventStore, StreamAccounts } from '@bulwark/event-store';
import { readFundingRates } from '@bulwark/market-data';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { PaperVenueAdapter, type VenueOrderRequest } from '@bulwark/venues';
import { accountSet } from './account-set';
import { type BacktestAccount, openBacktestAccount, runBacktest } from './backtest';
import { InProcessSystem } from './in-process';
import { comparableStreams } from './log-compare';
import { replayCandles } from './replay';
import type { VenueFactory } from './venue-factory';

const FROM = Date.parse('2025-11-21T00:00:00Z');
const TO = Date.parse('2025-11-22T00:00:00Z');
const VENUE = 'binance-usdm' as const;
const SYMBOL = 'BTCUSDT';

const ACCOUNTS: BacktestAccount[] = accountSet('multi', 3).map((a) => ({ ...a, capital: '10000', confirmHighLeverage: false }));

/** Every event of the log, split by the account its stream belongs to (order streams by their OrderInitialized). */
async function byAccount(store: InMemoryEventStore): Promise<Map<string, RecordedEvent[]>> {
  const owners = new StreamAccounts();
  const out = new Map<string, RecordedEvent[]>();
  for await (const e of store.readAll()) {
    const owner = owners.of(e);
    if (owner) out.set(owner, [...(out.get(owner) ?? []), e]);
  }
  return out;
}

/** The accounts trading the day at once in one system (the paper venue holds them all). */
async function runTogether(accounts: readonly BacktestAccount[], venue?: VenueFactory): Promise<{ store: InMemoryEventStore; events: Map<string, RecordedEvent[]> }> {
  const store = new InMemoryEventStore();
  const sys = await InProcessSystem.create(store, venue);
  for (const a of accounts) await openBacktestAccount(sys, a, { venue: VENUE, symbol: SYMBOL, at: FROM });
  await replayCandles(sys.clock(), { runId: 'multi-run', venue: VENUE, symbol: SYMBOL, candlesFile: BTCUSDT_FILES.candles1m, from: FROM, to: TO, schedule: [] }, await readFundingRates(BTCUSDT_FILES.fundingRates));
  return { store, events: await byAccount(store) };
}

/** One account alone, as `bulwark backtest` runs it. */
async function runAlone(a: BacktestAccount): Promise<RecordedEvent[]> {
  const r = await runBacktest({ ...a, candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates, from: FROM, to: TO });
  return (await byAccount(r.store as InMemoryEventStore)).get(a.accountId) ?? [];
}

/** Each stream's events equal in both runs, in order; on a divergence the failure shows the stream, the index and both events. */
function expectSameStreams(together: readonly RecordedEvent[], alone: readonly RecordedEvent[]): void {
  const t = comparableStreams(together, { venueIds: 'by-order' });
  const a = comparableStreams(alone, { venueIds: 'by-order' });
  expect([...t.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [streamId, events] of a) {
    const other = t.get(streamId) ?? [];
    for (let i = 0; i < Math.max(events.length, other.length); i++) expect({ streamId, index: i, event: other[i] ?? null }).toEqual({ streamId, index: i, event: events[i] ?? null });
  }
}

describe('three accounts in one system on 2025-11-21: each account\'s log equals its run alone', () => {
  let together: Map<string, RecordedEvent[]>;
  const alone = new Map<string, RecordedEvent[]>();

  beforeAll(async () => {
    together = (await runTogether(ACCOUNTS)).events;
    for (const a of ACCOUNTS) alone.set(a.accountId, await runAlone(a));
  }, 600_000);

  it('the accounts have different risk settings and all trade the day', () => {
    expect(ACCOUNTS.map((a) => [a.accountId, a.riskPct, a.leverage])).toEqual([['multi-1', '1', 3], ['multi-2', '1.5', 5], ['multi-3', '2', 2]]);
    for (const a of ACCOUNTS) expect(together.get(a.accountId)!.filter((e) => e.type === 'OrderFilled').length).toBeGreaterThanOrEqual(2);
    // Different risk, different sizes: the first entries' quantities differ.
    const firstQty = ACCOUNTS.map((a) => (together.get(a.accountId)!.find((e) => e.type === 'EntryApproved')?.data as { quantity: string }).quantity);
    expect(new Set(firstQty).size).toBe(3);
  });

  it.each(ACCOUNTS.map((a) => a.accountId))('%s: every stream of the account has the same events as its run alone', (accountId) => {
    expect(alone.get(accountId)!.length).toBeGreaterThan(50);
    expectSameStreams(together.get(accountId)!, alone.get(accountId)!);
  });

  it('the accounts\' orders never share a stream, and no account stream is another\'s', () => {
    const streamsOf = (id: string) => new Set(together.get(id)!.map((e) => e.streamId));
    const [s1, s2, s3] = ACCOUNTS.map((a) => streamsOf(a.accountId));
    for (const [x, y] of [[s1, s2], [s1, s3], [s2, s3]]) expect([...x].filter((s) => y.has(s))).toEqual([]);
    for (const a of ACCOUNTS) {
      const orders = together.get(a.accountId)!.filter((e) => e.type === 'OrderInitialized');
      expect(orders.length).toBeGreaterThan(0);
      for (const o of orders) expect((o.data as { accountId: string }).accountId).toBe(a.accountId);
    }
  });
});

/** The paper venue, except that it refuses every order of one account (as a venue refuses a banned or unfunded account). */
class RefusingOneAccount extends PaperVenueAdapter {
  constructor(private readonly refused: string, ...args: ConstructorParameters<typeof PaperVenueAdapter>) {
    super(...args);
  }

  override async placeOrder(accountId: string, o: VenueOrderRequest) {
    if (accountId === this.refused) return { ok: false as const, error: { code: 'HTTP_418', message: 'Way too many requests; IP banned.' } };
    return super.placeOrder(accountId, o);
  }
}

describe('isolation in the pipeline: one account\'s orders refused by the venue leave the others\' order flow untouched', () => {
  it('the refused account records rejections only; the others\' logs equal their runs alone', async () => {
    const [refused, ...others] = ACCOUNTS;
    const { events } = await runTogether(ACCOUNTS, async (rules) => ({ venue: new RefusingOneAccount(refused.accountId, VENUE, rules), reconcileSeconds: 0 }));
    const mine = events.get(refused.accountId)!;
    expect(mine.filter((e) => e.type === 'OrderRejected').length).toBeGreaterThan(0);
    expect(mine.filter((e) => e.type === 'OrderFilled')).toEqual([]);
    for (const a of others) expectSameStreams(events.get(a.accountId)!, await runAlone(a));
  }, 600_000);
});

describe('commands reach only the account they name', () => {
  it('a kill switch on one account halts it alone', async () => {
    const store = new InMemoryEventStore();
    const sys = await InProcessSystem.create(store);
    for (const a of ACCOUNTS) await openBacktestAccount(sys, a, { venue: VENUE, symbol: SYMBOL, at: FROM });
    await sys.command(Subjects.setTradingState, { accountId: 'multi-2', state: 'HALTED', reason: 'spec: one account halted', by: 'spec', at: FROM });
    const states = (await byAccount(store));
    expect(states.get('multi-2')!.filter((e) => e.type === 'TradingStateChanged').map((e) => (e.data as { state: string }).state)).toEqual(['HALTED']);
    for (const id of ['multi-1', 'multi-3']) expect(states.get(id)!.filter((e) => e.type === 'TradingStateChanged')).toEqual([]);
  });
});
