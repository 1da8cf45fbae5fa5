/**
 * Time in force through the ccxt adapter (LocalBinanceVenue on unmodified ccxt binanceusdm)
 * against the local Binance-compatible venue, on the real BTCUSDT 1m bar of 2025-11-21 07:29
 * (O 85,266.1 H 85,266.2 L 85,160.8 C 85,175.9, V 154.547; shared/data) and its real rules
 * (VIP 0: maker 0.0002). Binance semantics: "New Order (TRADE)" timeInForce GTC | IOC | FOK |
 * GTX and errors -5021 / -5022
 * (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Order,
 * https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code).
 */
import type { Candle } from '@bulwark/contracts';
import { resolveDataDir } from '@bulwark/market-data';
import { startBinanceLocal, localVenueInputs, type BinanceLocal } from '@bulwark/binance-local';
import { dec, IOC_EXPIRED, pathSteps, str, VenueErrors, type PaperOrderRequest, type PaperVenueEvent } from '@bulwark/domain';
import { LocalBinanceVenue } from './index';
import { classifyVenueError } from './errors';

const KEY = 'tif-key-VGltZUluRm9yY2VLZXlGb3JUZXN0cw';
const SECRET = 'tif-secret-VGltZUluRm9yY2VTZWNyZXRGb3JUZXN0cw';
const ACC = 'acc-tif';
const SYMBOL = 'BTCUSDT';
const BAR: Candle = { openTime: Date.parse('2025-11-21T07:29:00Z'), interval: '1m', open: '85266.1', high: '85266.2', low: '85160.8', close: '85175.9', volume: '154.547' };

let local: BinanceLocal;

beforeAll(async () => {
  local = await startBinanceLocal({ ...localVenueInputs(resolveDataDir()), accounts: [{ accountId: ACC, apiKey: KEY, apiSecret: SECRET }] });
});
afterAll(async () => {
  await local?.close();
});

function venue() {
  const clock = { now: () => Date.now(), sleep: async () => undefined };
  return new LocalBinanceVenue({ accountId: ACC, apiKey: KEY, apiSecret: SECRET, restBase: local.url, wsBase: local.wsUrl, clock, timeoutMs: 3_000, leverageCap: 20, log: () => undefined, onAlert: () => undefined, random: () => 0.5 });
}
const limit = (clientOrderId: string, price: string, timeInForce: PaperOrderRequest['timeInForce']): PaperOrderRequest => ({
  clientOrderId, symbol: SYMBOL, side: 'BUY', type: 'LIMIT', quantity: dec('0.002'), price: dec(price), reduceOnly: false, purpose: 'ENTRY', triggerPrice: null, timeInForce,
});
const kinds = (ev: PaperVenueEvent[]) => ev.map((e) => (e.kind === 'fill' ? ['fill', e.fill.clientOrderId, str(e.fill.price), str(e.fill.fee), e.fill.liquidity] : e.kind === 'rejected' ? ['rejected', e.clientOrderId, e.code] : [e.kind]));

describe('LocalBinanceVenue: time in force', () => {
  it('GTX that would take → -5022 (POST_ONLY_REJECTED); FOK that cannot fill → -5021 (FOK_REJECTED); IOC expires; a resting GTX fills as maker', async () => {
    const v = venue();
    try {
      await v.deposit(ACC, dec('1000'));
      expect((await v.setOneWayMode(ACC)).ok).toBe(true);
      expect((await v.setIsolatedMargin(ACC, SYMBOL)).ok).toBe(true);
      expect((await v.setLeverage(ACC, SYMBOL, 10)).ok).toBe(true);
      const [s0, s1, s2, s3] = pathSteps(BAR, null);
      expect([s0, s1, s2, s3].map((s) => [s.from, s.to])).toEqual([['85266.1', '85266.1'], ['85266.1', '85266.2'], ['85266.2', '85160.8'], ['85160.8', '85175.9']]);
      expect(await v.advance(SYMBOL, s0, null)).toEqual([]); // the last price: 85,266.1

      const post = await v.placeOrder(ACC, limit('tif-gtx-1', '85300', 'GTX'));
      expect(post).toEqual({ ok: false, error: expect.objectContaining({ code: '-5022' }) });
      expect(!post.ok && post.error.message).toContain(VenueErrors.GTX_REJECTED.message);
      expect(classifyVenueError('-5022').reason).toBe('POST_ONLY_REJECTED');
      const fok = await v.placeOrder(ACC, limit('tif-fok-1', '85200', 'FOK'));
      expect(fok).toEqual({ ok: false, error: expect.objectContaining({ code: '-5021' }) });
      expect(classifyVenueError('-5021').reason).toBe('FOK_REJECTED');
      expect(local.engine.orders(ACC, SYMBOL)).toEqual([]); // neither is recorded

      expect((await v.placeOrder(ACC, limit('tif-gtx-2', '85200', 'GTX'))).ok).toBe(true);
      expect((await v.placeOrder(ACC, limit('tif-ioc-1', '85200', 'IOC'))).ok).toBe(true);
      expect(local.engine.order(ACC, { clientOrderId: 'tif-gtx-2' })?.timeInForce).toBe('GTX');

      // s1 starts at 85,266.1 > 85,200: the IOC cannot fill and expires at once.
      expect(kinds(await v.advance(SYMBOL, s1, null))).toEqual([['rejected', 'tif-ioc-1', IOC_EXPIRED.code]]);
      expect(local.engine.order(ACC, { clientOrderId: 'tif-ioc-1' })?.status).toBe('EXPIRED');
      // s2 falls through 85,200: the post-only fills at its price as maker, fee 0.002 × 85,200 × 0.0002 = 0.03408.
      expect(kinds(await v.advance(SYMBOL, s2, null))).toEqual([['fill', 'tif-gtx-2', '85200', '0.03408', 'MAKER']]);
      const [pos] = await v.positions(ACC, SYMBOL);
      expect([pos.side, str(pos.quantity), str(pos.entryPrice)]).toEqual(['LONG', '0.002', '85200']);
    } finally {
      await v.close();
    }
  });
});
