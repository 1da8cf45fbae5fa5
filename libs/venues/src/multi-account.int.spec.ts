/**
 * Many accounts behind one port (MultiAccountVenue / DrivenMultiAccountVenue) against the
 * local venues over HTTP and websockets: each account's calls on its own ccxt adapter, the
 * shared market stepped once per path step with every account's fills, and isolation — a 418
 * ban of one account (the local venue's fault injector, armed for that account) leaves the
 * others' order flow untouched.
 */
import { resolveDataDir } from '@bulwark/market-data';
import { bitgetLocalInputs, localVenueInputs, startBinanceLocal, startBitgetLocal, type BinanceLocal, type BitgetLocal } from '@bulwark/binance-local';
import { dec, str, type PaperVenueEvent } from '@bulwark/domain';
import { LocalBinanceVenue, type VenueAlert } from './binance';
import { LocalBitgetVenue } from './bitget';
import { DrivenMultiAccountVenue, multiAccountVenue } from './multi-account';
import type { VenueOrderRequest } from './port';

jest.setTimeout(120_000);

const SYMBOL = 'BTCUSDT';
const T0 = Date.parse('2025-11-21T07:30:59.999Z');
const IDS = ['multi-a', 'multi-b', 'multi-c'];
const cred = (id: string) => ({ accountId: id, apiKey: `${id}-key-0123456789abcdef`, apiSecret: `${id}-secret-0123456789abcdef` });
const step = (from: string, to: string, ts: number) => ({ from, to, gap: false, ts });
const fills = (ev: PaperVenueEvent[]) => ev.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));
const entry = (id: string, n: number, quantity: string): VenueOrderRequest => ({ clientOrderId: `${id}-e${n}`, symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec(quantity), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });

/** A clock whose sleeps pass instantly (recorded), so a Retry-After or a ban costs no real time; one per adapter, as each adapter has its own. */
function skipClock() {
  const c = { offset: 0, now: () => Date.now() + c.offset, sleep: async (ms: number) => void (c.offset += Math.max(0, ms)) };
  return c;
}

describe('DrivenMultiAccountVenue on the local Binance USDⓈ-M venue (ccxt binanceusdm, three accounts)', () => {
  let local: BinanceLocal;
  const alerts: Array<[string, VenueAlert['kind']]> = [];
  let adapters: LocalBinanceVenue[];
  let venue: DrivenMultiAccountVenue;

  beforeAll(async () => {
    local = await startBinanceLocal({ ...localVenueInputs(resolveDataDir()), accounts: IDS.map(cred) });
    adapters = IDS.map((id) => new LocalBinanceVenue({ ...cred(id), restBase: local.url, wsBase: local.wsUrl, clock: skipClock(), timeoutMs: 3_000, random: () => 0.5, onAlert: (a) => alerts.push([id, a.kind]) }));
    venue = multiAccountVenue(adapters) as DrivenMultiAccountVenue;
    for (const id of IDS) {
      await venue.deposit(id, dec('1000'));
      expect((await venue.setOneWayMode(id)).ok).toBe(true);
      expect((await venue.setIsolatedMargin(id, SYMBOL)).ok).toBe(true);
    }
    // Different leverage per account: each account's own setting at the venue.
    for (const [i, id] of IDS.entries()) expect(await venue.setLeverage(id, SYMBOL, [3, 5, 2][i])).toMatchObject({ ok: true, value: { leverage: [3, 5, 2][i] } });
  }, 60_000);

  afterAll(async () => {
    await venue?.close();
    await local?.close();
  });

  afterEach(() => {
    expect(local.faults.pending()).toEqual([]); // every armed fault fired
  });

  it('a step moves the one market once and brings every account\'s own fills, from each account\'s own stream', async () => {
    expect(venue).toBeInstanceOf(DrivenMultiAccountVenue);
    expect(venue.isIdle()).toBe(true);
    expect(await venue.advance(SYMBOL, step('85175.8', '85100.0', T0), null)).toEqual([]);
    for (const [i, id] of IDS.entries()) expect((await venue.placeOrder(id, entry(id, 1, ['0.002', '0.003', '0.004'][i]))).ok).toBe(true);
    expect(venue.isIdle()).toBe(false);
    const events = await venue.advance(SYMBOL, step('85100.0', '85050.0', T0 + 15_000), null);
    expect(fills(events).map((f) => [f.accountId, f.clientOrderId, str(f.price), str(f.quantity), f.leverage])).toEqual([
      ['multi-a', 'multi-a-e1', '85100', '0.002', 3],
      ['multi-b', 'multi-b-e1', '85100', '0.003', 5],
      ['multi-c', 'multi-c-e1', '85100', '0.004', 2],
    ]);
    // Each account holds its own position at the venue, read through its own adapter.
    for (const [i, id] of IDS.entries()) expect((await venue.positions(id, SYMBOL)).map((p) => [p.side, str(p.quantity), p.leverage])).toEqual([['LONG', ['0.002', '0.003', '0.004'][i], [3, 5, 2][i]]]);
    // An account the venue holds but this execution does not trade is refused, never served by another's keys.
    expect(await venue.placeOrder('local-stranger', entry('x', 1, '0.002'))).toMatchObject({ ok: false, error: { code: '-2015' } });
  });

  it('isolation: a 418 ban of one account refuses its calls (alert on its account); the others place, fill and cancel as before', async () => {
    const [a, b, c] = adapters;
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', accountId: 'multi-a', action: '418', retryAfterSec: 600 });
    const banned = await venue.placeOrder('multi-a', entry('multi-a', 2, '0.002'));
    expect(banned).toMatchObject({ ok: false, error: { code: 'HTTP_418' } });
    expect(alerts).toContainEqual(['multi-a', 'IP_BANNED']);
    expect(alerts.filter(([id]) => id !== 'multi-a')).toEqual([]);
    const sentA = jest.spyOn(a.exchange, 'fetch');
    const sentB = jest.spyOn(b.exchange, 'fetch');
    // During the ban: the banned account's calls never reach the venue; B and C trade on.
    expect(await venue.placeOrder('multi-a', entry('multi-a', 3, '0.002'))).toMatchObject({ ok: false, error: { code: 'HTTP_418' } });
    expect(sentA).not.toHaveBeenCalled();
    const [placedB, placedC] = await Promise.all([venue.placeOrder('multi-b', entry('multi-b', 2, '0.003')), venue.placeOrder('multi-c', entry('multi-c', 2, '0.004'))]);
    expect([placedB.ok, placedC.ok]).toEqual([true, true]);
    expect(sentB).toHaveBeenCalled();
    const resting = await venue.placeOrder('multi-b', { ...entry('multi-b', 3, '0.003'), type: 'LIMIT', price: dec('70000.0'), timeInForce: 'GTC' });
    expect(resting.ok).toBe(true);
    expect(await venue.cancelOrder('multi-b', 'multi-b-e3')).toMatchObject({ ok: true });
    const events = await venue.advance(SYMBOL, step('85050.0', '85020.0', T0 + 30_000), null);
    expect(fills(events).map((f) => [f.accountId, f.clientOrderId])).toEqual([['multi-b', 'multi-b-e2'], ['multi-c', 'multi-c-e2']]);
    expect(local.engine.orders('multi-a', SYMBOL).map((o) => o.clientOrderId)).toEqual(['multi-a-e1']);
    expect(c.isIdle()).toBe(false);
    sentA.mockRestore();
    sentB.mockRestore();
  });
});

describe('DrivenMultiAccountVenue on the local Bitget USDT-M venue (ccxt bitget, two accounts)', () => {
  let local: BitgetLocal;
  let venue: DrivenMultiAccountVenue;
  const ids = IDS.slice(0, 2);
  const bitgetCred = (id: string) => ({ ...cred(id), passphrase: `${id}-pass-0123` });

  beforeAll(async () => {
    local = await startBitgetLocal({ ...bitgetLocalInputs(resolveDataDir()), accounts: ids.map(bitgetCred) });
    venue = multiAccountVenue(ids.map((id) => new LocalBitgetVenue({ ...bitgetCred(id), restBase: local.url, wsBase: local.wsUrl, clock: skipClock(), timeoutMs: 3_000, random: () => 0.5 }))) as DrivenMultiAccountVenue;
    for (const id of ids) {
      await venue.deposit(id, dec('1000'));
      expect((await venue.setOneWayMode(id)).ok).toBe(true);
      expect((await venue.setIsolatedMargin(id, SYMBOL)).ok).toBe(true);
      expect((await venue.setLeverage(id, SYMBOL, 4)).ok).toBe(true);
    }
  }, 60_000);

  afterAll(async () => {
    await venue?.close();
    await local?.close();
  });

  it('a step moves the one market once and brings both accounts\' fills, Bitget fees to each', async () => {
    expect(venue.venue).toBe('bitget-usdtm');
    await venue.advance(SYMBOL, step('85175.8', '85100.0', T0), null);
    for (const id of ids) expect((await venue.placeOrder(id, entry(id, 1, '0.002'))).ok).toBe(true);
    const events = await venue.advance(SYMBOL, step('85100.0', '85050.0', T0 + 15_000), null);
    // Taker 0.06 %: 0.002 × 85,100 × 0.0006 = 0.10212 each.
    expect(fills(events).map((f) => [f.accountId, f.clientOrderId, str(f.price), str(f.fee)])).toEqual([
      ['multi-a', 'multi-a-e1', '85100', '0.10212'],
      ['multi-b', 'multi-b-e1', '85100', '0.10212'],
    ]);
    expect(venue.isIdle()).toBe(false);
  });
});
