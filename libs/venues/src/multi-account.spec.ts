import type { InstrumentRules } from '@bulwark/contracts';
import { dec, err, ok, type PaperStep, type PaperVenueEvent, type Result, type VenueRejection } from '@bulwark/domain';
import { VenueCallError } from './binance/requests';
import { type AccountVenue, DrivenMultiAccountVenue, MultiAccountVenue, MultiAccountVenueError, multiAccountVenue, type SharedMarketAccountVenue } from './multi-account';
import type { AccountStepReport, VenueOrderRequest } from './port';

const ORDER: VenueOrderRequest = { clientOrderId: 'bw1-1E', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.01'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null };
const BANNED: VenueRejection = { code: '-1003', message: 'Way too many requests; IP banned until 1763700000000.' };

/**
 * One account's adapter as the ccxt adapters behave: its own ban state (while banned, every
 * call of this adapter is refused, as the rate budget of BinanceUsdmVenue refuses them), its
 * own calls recorded; a foreign account answered -2015.
 */
class FakeAccount implements AccountVenue {
  readonly venue = 'binance-usdm' as const;
  readonly calls: string[] = [];
  banned = false;
  failRules = false;
  private listener: ((events: PaperVenueEvent[], ts: number) => void) | null = null;

  constructor(readonly accountId: string) {}

  private answer<T>(call: string, value: T): Promise<Result<T, VenueRejection>> {
    this.calls.push(call);
    return Promise.resolve(this.banned ? err(BANNED) : ok(value));
  }

  setOneWayMode = (id: string) => this.answer(`oneWay ${id}`, 'UNCHANGED' as const);
  setIsolatedMargin = (id: string, symbol: string) => this.answer(`isolated ${id} ${symbol}`, 'CHANGED' as const);
  setLeverage = (id: string, symbol: string, leverage: number) => this.answer(`leverage ${id} ${symbol} ${leverage}`, { leverage, maxNotional: dec(1_000_000) });
  placeOrder = (id: string, o: VenueOrderRequest) => this.answer(`place ${id} ${o.clientOrderId}`, { venueOrderId: `${this.accountId}-1` });
  cancelOrder = (id: string, clientOrderId: string) => this.answer(`cancel ${id} ${clientOrderId}`, { venueOrderId: `${this.accountId}-1` });
  placeProtectiveOrder = (id: string) => this.answer(`algo ${id}`, { algoId: '7' });
  cancelProtectiveOrder = (id: string) => this.answer(`cancelAlgo ${id}`, { algoId: '7' });
  account = async (id: string) => {
    this.calls.push(`account ${id}`);
    return { accountId: id, walletBalance: dec(100), availableBalance: dec(100), positions: [] } as never;
  };
  order = async () => null;
  openOrders = async (id: string) => {
    this.calls.push(`openOrders ${id}`);
    if (this.banned) throw new VenueCallError(BANNED);
    return [];
  };
  openProtectiveOrders = async () => [];
  protectiveOrder = async () => null;
  trades = async () => [];
  positions = async () => [];
  cancelAll = async () => ({ orders: 1, algoOrders: 0 });
  fundingHistory = async () => [];
  positionMode = async () => 'ONE_WAY' as const;
  close = async () => {
    this.calls.push('close');
  };
  instrumentRules = async (symbol: string) => {
    this.calls.push(`rules ${symbol}`);
    if (this.failRules || this.banned) throw new VenueCallError(BANNED);
    return { contract: { symbol } as unknown as InstrumentRules, source: `${this.accountId} exchangeInfo` };
  };
  onVenueEvents(listener: (events: PaperVenueEvent[], ts: number) => void): () => void {
    this.listener = listener;
    return () => (this.listener = null);
  }
  startUserData = async () => {
    if (this.banned) throw new Error('listen key refused');
  };
  /** The venue pushes one fill of this account. */
  push(clientOrderId: string): void {
    this.listener?.([{ kind: 'rejected', accountId: this.accountId, clientOrderId, code: 'EXPIRED', message: 'expired', ts: 1 }], 1);
  }
}

/** A local-venue account: the shared market is stepped by whichever adapter is asked; each reads its own part. */
class FakeLocalAccount extends FakeAccount implements SharedMarketAccountVenue {
  static steps: Array<{ by: string; ts: number }> = [];
  idle = true;
  streamDown = false;
  hasAccount = (id: string) => id === this.accountId;
  isIdle = () => this.idle;
  deposit = async (id: string) => {
    this.calls.push(`deposit ${id}`);
  };
  advance = async (): Promise<PaperVenueEvent[]> => {
    throw new Error('a shared market is stepped through stepAll');
  };
  stepAll = async (_symbol: string, step: PaperStep): Promise<Record<string, AccountStepReport>> => {
    FakeLocalAccount.steps.push({ by: this.accountId, ts: step.ts });
    return { a: { orderUpdates: 1, events: [{ kind: 'fill', accountId: 'a' }] }, b: { orderUpdates: 1, events: [{ kind: 'fill', accountId: 'b' }] }, c: { orderUpdates: 0, events: [] } };
  };
  stepEvents = async (_symbol: string, ts: number, report: AccountStepReport | undefined): Promise<PaperVenueEvent[]> => {
    this.calls.push(`stepEvents ${ts} ${report?.orderUpdates ?? 'none'}`);
    if (this.streamDown) throw new Error('user-data stream delivered 0 of 1 order updates within 10000 ms');
    return (report?.events ?? []).map(() => ({ kind: 'rejected' as const, accountId: this.accountId, clientOrderId: `${this.accountId}-order`, code: 'EXPIRED', message: 'expired', ts }));
  };
}

const STEP: PaperStep = { from: '100', to: '101', gap: false, ts: 60_000 };

describe('MultiAccountVenue: many venue accounts behind one port, each call on its own account\'s adapter', () => {
  it('routes every account-scoped call to that account\'s adapter only', async () => {
    const [a, b] = [new FakeAccount('a'), new FakeAccount('b')];
    const v = new MultiAccountVenue([a, b]);
    expect(await v.placeOrder('b', ORDER)).toEqual(ok({ venueOrderId: 'b-1' }));
    expect(await v.setLeverage('a', 'BTCUSDT', 3)).toMatchObject({ ok: true, value: { leverage: 3 } });
    expect(await v.cancelOrder('b', 'bw1-1E')).toEqual(ok({ venueOrderId: 'b-1' }));
    expect((await v.account('a'))?.accountId).toBe('a');
    expect(await v.cancelAll('b', 'BTCUSDT')).toEqual({ orders: 1, algoOrders: 0 });
    expect(a.calls).toEqual(['leverage a BTCUSDT 3', 'account a']);
    expect(b.calls).toEqual(['place b bw1-1E', 'cancel b bw1-1E']);
    expect([v.venue, v.accountIds]).toEqual(['binance-usdm', ['a', 'b']]);
  });

  it('answers a call for an account it does not trade with the typed rejection UNKNOWN_ACCOUNT (writes) or nothing (reads), as a single adapter does', async () => {
    const a = new FakeAccount('a');
    const v = new MultiAccountVenue([a]);
    const r = await v.placeOrder('stranger', ORDER);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toEqual({ code: '-2015', message: expect.stringMatching(/this execution trades a; not stranger/) });
    expect(await v.setOneWayMode('stranger')).toMatchObject({ ok: false, error: { code: '-2015' } });
    expect(await v.cancelProtectiveOrder('stranger', 'BTCUSDT', 'x')).toMatchObject({ ok: false, error: { code: '-2015' } });
    expect([await v.account('stranger'), await v.order('stranger', 'BTCUSDT', 'x'), await v.openOrders('stranger', 'BTCUSDT'), await v.positions('stranger')]).toEqual([null, null, [], []]);
    expect(await v.cancelAll('stranger', 'BTCUSDT')).toEqual({ orders: 0, algoOrders: 0 });
    await expect(v.positionMode('stranger')).rejects.toBeInstanceOf(VenueCallError);
    expect(a.calls).toEqual([]);
  });

  it('isolation: a ban of one account refuses that account\'s calls only; the other\'s order flow is untouched', async () => {
    const [a, b] = [new FakeAccount('a'), new FakeAccount('b')];
    const v = new MultiAccountVenue([a, b]);
    a.banned = true;
    const [refused, placed] = await Promise.all([v.placeOrder('a', ORDER), v.placeOrder('b', ORDER)]);
    expect(refused).toEqual(err(BANNED));
    expect(placed).toEqual(ok({ venueOrderId: 'b-1' }));
    await expect(v.openOrders('a', 'BTCUSDT')).rejects.toBeInstanceOf(VenueCallError);
    expect(await v.openOrders('b', 'BTCUSDT')).toEqual([]);
    expect(await v.cancelOrder('b', 'bw1-1E')).toEqual(ok({ venueOrderId: 'b-1' }));
    expect(b.calls).toEqual(['place b bw1-1E', 'openOrders b', 'cancel b bw1-1E']);
  });

  it('asks the first adapter for a symbol\'s rules, and the next when it fails (same venue, same market: the same rules)', async () => {
    const [a, b] = [new FakeAccount('a'), new FakeAccount('b')];
    const v = new MultiAccountVenue([a, b]);
    expect((await v.instrumentRules('BTCUSDT')).source).toBe('a exchangeInfo');
    a.banned = true;
    expect((await v.instrumentRules('BTCUSDT')).source).toBe('b exchangeInfo');
    b.failRules = true;
    await expect(v.instrumentRules('BTCUSDT')).rejects.toBeInstanceOf(VenueCallError);
  });

  it('merges every account\'s pushed events; a user-data stream that does not start is reported for its account and the others start', async () => {
    const [a, b] = [new FakeAccount('a'), new FakeAccount('b')];
    const failures: Array<[string, string]> = [];
    const v = new MultiAccountVenue([a, b], { onAccountFailure: (id, m) => failures.push([id, m]) });
    const got: string[] = [];
    const stop = v.onVenueEvents((events) => got.push(...events.map((e) => (e.kind === 'rejected' ? `${e.accountId}:${e.clientOrderId}` : e.kind))));
    b.push('o-b');
    a.push('o-a');
    expect(got).toEqual(['b:o-b', 'a:o-a']);
    stop();
    a.push('later');
    expect(got).toHaveLength(2);
    a.banned = true;
    await v.startUserData();
    expect(failures).toEqual([['a', 'user-data stream did not start: listen key refused']]);
    await v.close();
    expect([a.calls.at(-1), b.calls.at(-1)]).toEqual(['close', 'close']);
  });

  it('refuses adapters it cannot serve together: none, two venues, one account twice', () => {
    expect(() => new MultiAccountVenue([])).toThrow(MultiAccountVenueError);
    const bitget = Object.assign(new FakeAccount('b'), { venue: 'bitget-usdtm' as const });
    expect(() => new MultiAccountVenue([new FakeAccount('a'), bitget as unknown as AccountVenue])).toThrow(/one venue, got binance-usdm and bitget-usdtm/);
    expect(() => new MultiAccountVenue([new FakeAccount('a'), new FakeAccount('a')])).toThrow(/account a has two adapters/);
  });
});

describe('DrivenMultiAccountVenue: many accounts of a local venue driven by the replay clock', () => {
  beforeEach(() => {
    FakeLocalAccount.steps = [];
  });

  it('multiAccountVenue picks the driven form when every adapter shares a local market, and refuses a mix', () => {
    expect(multiAccountVenue([new FakeLocalAccount('a'), new FakeLocalAccount('b')])).toBeInstanceOf(DrivenMultiAccountVenue);
    expect(multiAccountVenue([new FakeAccount('a'), new FakeAccount('b')])).not.toBeInstanceOf(DrivenMultiAccountVenue);
    expect(() => multiAccountVenue([new FakeLocalAccount('a'), new FakeAccount('b')])).toThrow(/local and remote accounts cannot be mixed/);
  });

  it('steps the shared market once per path step, then gives every account\'s own events', async () => {
    const [a, b, c] = [new FakeLocalAccount('a'), new FakeLocalAccount('b'), new FakeLocalAccount('c')];
    const v = new DrivenMultiAccountVenue([a, b, c]);
    const events = await v.advance('BTCUSDT', STEP, null);
    expect(FakeLocalAccount.steps).toEqual([{ by: 'a', ts: 60_000 }]);
    expect(events.map((e) => (e.kind === 'rejected' ? e.clientOrderId : e.kind))).toEqual(['a-order', 'b-order']);
    expect([a.calls, b.calls, c.calls]).toEqual([['stepEvents 60000 1'], ['stepEvents 60000 1'], ['stepEvents 60000 0']]);
  });

  it('isolation: an account whose stream cannot deliver its part is reported; the others\' events of the step are recorded', async () => {
    const [a, b] = [new FakeLocalAccount('a'), new FakeLocalAccount('b')];
    const failures: Array<[string, string]> = [];
    const v = new DrivenMultiAccountVenue([a, b], { onAccountFailure: (id, m) => failures.push([id, m]) });
    a.streamDown = true;
    const events = await v.advance('BTCUSDT', STEP, null);
    expect(events.map((e) => (e.kind === 'rejected' ? e.accountId : e.kind))).toEqual(['b']);
    expect(failures).toEqual([['a', 'step 60000 of BTCUSDT not read: user-data stream delivered 0 of 1 order updates within 10000 ms']]);
  });

  it('is idle when every account is; deposits and account checks go to the account\'s adapter; an unknown account is refused', async () => {
    const [a, b] = [new FakeLocalAccount('a'), new FakeLocalAccount('b')];
    const v = new DrivenMultiAccountVenue([a, b]);
    expect(v.isIdle()).toBe(true);
    b.idle = false;
    expect(v.isIdle()).toBe(false);
    expect([v.hasAccount('a'), v.hasAccount('b'), v.hasAccount('z')]).toEqual([true, true, false]);
    await v.deposit('b', dec(100));
    expect(b.calls).toEqual(['deposit b']);
    await expect(v.deposit('z', dec(100))).rejects.toThrow(/-2015.*not z/);
  });
});
