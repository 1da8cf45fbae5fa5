/**
 * Exchange stops carry the account's trigger price type (Binance `workingType`): through the
 * ccxt adapter (LocalBinanceVenue on unmodified ccxt 4.5.84) against the local venue, with
 * real BTCUSDT rules and prices from ../shared/data (the 2025-11-21 07:30 close, 85,201.3).
 */
import { resolveDataDir } from '@bulwark/market-data';
import { startBinanceLocal, localVenueInputs, type BinanceLocal } from '@bulwark/binance-local';
import { dec } from '@bulwark/domain';
import { LocalBinanceVenue } from './index';

const KEY = 'wt-key-V29ya2luZ1R5cGVLZXlGb3JUZXN0cw';
const SECRET = 'wt-secret-V29ya2luZ1R5cGVTZWNyZXRGb3JUZXN0cw';
const ACC = 'acc-wt';
const SYMBOL = 'BTCUSDT';
const T0 = Date.parse('2025-11-21T07:30:59.999Z');

let local: BinanceLocal;
let v: LocalBinanceVenue;

beforeAll(async () => {
  local = await startBinanceLocal({ ...localVenueInputs(resolveDataDir()), accounts: [{ accountId: ACC, apiKey: KEY, apiSecret: SECRET, balance: '1000' }] });
  const clock = { now: () => Date.now(), sleep: async () => undefined };
  v = new LocalBinanceVenue({ accountId: ACC, apiKey: KEY, apiSecret: SECRET, restBase: local.url, wsBase: local.wsUrl, clock, timeoutMs: 5_000, leverageCap: 20, random: () => 0.5 });
  expect((await v.setOneWayMode(ACC)).ok).toBe(true);
  expect((await v.setIsolatedMargin(ACC, SYMBOL)).ok).toBe(true);
  expect((await v.setLeverage(ACC, SYMBOL, 5)).ok).toBe(true);
  // A long of 0.002 BTC to protect: the entry fills at the next step's first price.
  await v.advance(SYMBOL, { from: '85175.8', to: '85201.3', gap: false, ts: T0 }, null);
  const entry = await v.placeOrder(ACC, { clientOrderId: 'wt-entry-1', symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.002'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
  expect(entry.ok).toBe(true);
  await v.advance(SYMBOL, { from: '85201.3', to: '85201.2', gap: false, ts: T0 + 15_000 }, null);
  expect((await v.positions(ACC, SYMBOL)).map((p) => p.side)).toEqual(['LONG']);
}, 60_000);

afterAll(async () => {
  await v?.close();
  await local?.close();
}, 30_000);

describe('protective orders and workingType', () => {
  it('each algo order carries the workingType asked for (MARK_PRICE when none is named), read back', async () => {
    const base = { symbol: SYMBOL, side: 'SELL' as const, quantity: dec('0.002') };
    expect((await v.placeProtectiveOrder(ACC, { ...base, clientAlgoId: 'wt-sl-mark', kind: 'STOP_LOSS', triggerPrice: dec('84000.0'), workingType: 'MARK_PRICE' })).ok).toBe(true);
    expect((await v.placeProtectiveOrder(ACC, { ...base, clientAlgoId: 'wt-tp-contract', kind: 'TAKE_PROFIT', triggerPrice: dec('87000.0'), workingType: 'CONTRACT_PRICE' })).ok).toBe(true);
    expect((await v.placeProtectiveOrder(ACC, { ...base, clientAlgoId: 'wt-sl-default', kind: 'STOP_LOSS', triggerPrice: dec('83000.0') })).ok).toBe(true);
    const back = await Promise.all(['wt-sl-mark', 'wt-tp-contract', 'wt-sl-default'].map((id) => v.protectiveOrder(ACC, SYMBOL, id)));
    expect(back.map((a) => a?.workingType)).toEqual(['MARK_PRICE', 'CONTRACT_PRICE', 'MARK_PRICE']);
  }, 60_000);

  it('the local venue answers Binance\'s default CONTRACT_PRICE when the request names none, and refuses an unknown value with -1130', async () => {
    const raw = { algoType: 'CONDITIONAL', symbol: SYMBOL, side: 'SELL', type: 'STOP_MARKET', triggerPrice: '82000', quantity: '0.002', reduceOnly: 'true' };
    const plain = (await v.exchange.fapiPrivatePostAlgoOrder({ ...raw, clientAlgoId: 'wt-raw-plain' })) as Record<string, unknown>;
    expect(plain['workingType']).toBe('CONTRACT_PRICE');
    const bad = await v.exchange.fapiPrivatePostAlgoOrder({ ...raw, clientAlgoId: 'wt-raw-bad', workingType: 'LAST_PRICE' }).catch((e: unknown) => e);
    expect(String((bad as Error).message)).toContain('-1130');
    expect(String((bad as Error).message)).toContain('workingType');
    expect(await v.protectiveOrder(ACC, SYMBOL, 'wt-raw-bad')).toBeNull();
  }, 60_000);

  it('a venue that reads back another workingType than asked: PROTECTION_MISMATCH, and the order is cancelled', async () => {
    const query = v.exchange.fapiPrivateGetAlgoOrder.bind(v.exchange);
    // The venue answers as if it had ignored the parameter (Binance's default).
    const spy = jest.spyOn(v.exchange, 'fapiPrivateGetAlgoOrder').mockImplementation(async (p?: object) => ({ ...((await query(p)) as object), workingType: 'CONTRACT_PRICE' }));
    try {
      const r = await v.placeProtectiveOrder(ACC, { symbol: SYMBOL, side: 'SELL', quantity: dec('0.002'), clientAlgoId: 'wt-sl-ignored', kind: 'STOP_LOSS', triggerPrice: dec('84500.0'), workingType: 'MARK_PRICE' });
      expect(r).toEqual({ ok: false, error: expect.objectContaining({ code: 'PROTECTION_MISMATCH', message: expect.stringContaining('workingType CONTRACT_PRICE ≠ MARK_PRICE') }) });
    } finally {
      spy.mockRestore();
    }
    expect((await v.protectiveOrder(ACC, SYMBOL, 'wt-sl-ignored'))?.status).toBe('CANCELED');
  }, 60_000);
});
