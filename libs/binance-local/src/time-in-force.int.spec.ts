/**
 * Time in force on the local venue through ccxt itself (4.5.x `binanceusdm`, unmodified, urls
 * pointed at the local venue) on real BTCUSDT candles: a post-only (GTX) order that would take
 * is refused with Binance's -5022 (ccxt: OrderNotFillable on Binance's own host, its parent
 * InvalidOrder elsewhere); an IOC that cannot
 * fill ends 'expired'; an unknown timeInForce is -1130.
 * Sources: Binance "New Order (TRADE)" (timeInForce GTC | IOC | FOK | GTX),
 * https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Order,
 * and the error codes -5021 / -5022 / -1130,
 * https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code.
 */
import * as ccxt from 'ccxt';
import { resolveDataDir } from '@bulwark/market-data';
import { ccxtFor } from './ccxt-urls';
import { localVenueInputs } from './data';
import { startBinanceLocal, type BinanceLocal } from './server';

const creds = { apiKey: 'tif-key-0123456789', apiSecret: 'tif-secret-abcdefghijklmnop' };
const START = Date.parse('2025-11-21T07:30:00Z'); // 07:30 open 85,175.8 (ccxt.int.spec.ts)
const SYMBOL = 'BTC/USDT:USDT';

let local: BinanceLocal;

beforeAll(async () => {
  const inputs = localVenueInputs(resolveDataDir());
  local = await startBinanceLocal({ ...inputs, startTime: START, accounts: [{ accountId: 'acc-tif', ...creds, balance: '10000' }] });
});
afterAll(async () => {
  await local?.close();
});

function rest() {
  const cfg = ccxtFor(local, creds);
  const ex = new ccxt.binanceusdm(cfg.config);
  ex.urls['api'] = cfg.urlsApi as typeof ex.urls['api'];
  return ex;
}

describe('time in force through ccxt binanceusdm against the local venue', () => {
  it('post-only that would take → -5022 as ccxt InvalidOrder (not recorded); resting post-only reports GTX; IOC that cannot fill → expired', async () => {
    const ex = rest();
    local.clock.advance(1); // the last price is now the 07:30 open, 85,175.8
    await ex.loadMarkets();
    await ex.setMarginMode('isolated', SYMBOL);
    await ex.setLeverage(5, SYMBOL);

    // A post-only BUY at 86,000 ≥ 85,175.8 would take: ccxt sends timeInForce=GTX, Binance answers -5022.
    const post = ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 86000, { postOnly: true, clientOrderId: 'bwtif0000000-1E' });
    // ccxt picks its per-market error table by host: on fapi.binance.com -5022 is OrderNotFillable
    // (its `linear` table), on any other host its generic table's InvalidOrder, OrderNotFillable's parent.
    expect(ex.exceptions['linear']['exact']['-5022']).toBe(ccxt.OrderNotFillable);
    await expect(post).rejects.toBeInstanceOf(ccxt.InvalidOrder);
    await expect(post).rejects.toThrow('"code":-5022');
    await expect(ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 86000, { postOnly: true, clientOrderId: 'bwtif0000000-1E' })).rejects.toThrow(
      'Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history.',
    );
    await expect(ex.fetchOrders(SYMBOL)).resolves.toEqual([]);

    // A post-only BUY at 80,000 rests: GTX in the answer, ccxt reads it as post-only.
    const resting = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 80000, { postOnly: true, clientOrderId: 'bwtif0000000-2E' });
    expect(resting).toMatchObject({ status: 'open', postOnly: true, info: { timeInForce: 'GTX' } });
    await expect(ex.cancelOrder(resting.id!, SYMBOL)).resolves.toMatchObject({ status: 'canceled' });

    // An IOC BUY at 80,000, below the next step's price: accepted, then expired with nothing filled.
    const ioc = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 80000, { timeInForce: 'IOC', clientOrderId: 'bwtif0000000-3E' });
    expect(ioc).toMatchObject({ status: 'open', timeInForce: 'IOC' });
    local.clock.advance(1);
    await expect(ex.fetchOrder(ioc.id!, SYMBOL)).resolves.toMatchObject({ status: 'expired', filled: 0, timeInForce: 'IOC' });
    await expect(ex.fetchPositions([SYMBOL])).resolves.toEqual([]);

    // A FOK BUY at 80,000 cannot fill at once: -5021, OrderNotFillable too.
    const fok = ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 80000, { timeInForce: 'FOK', clientOrderId: 'bwtif0000000-4E' });
    await expect(fok).rejects.toBeInstanceOf(ccxt.InvalidOrder);
    await expect(fok).rejects.toThrow('{"code":-5021,"msg":"Due to the order could not be filled immediately, the FOK order has been rejected. The order would not be recorded in the order history."}');

    // A timeInForce Binance has but the venue does not model (GTD) is -1130.
    await expect(ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 80000, { timeInForce: 'GTD', goodTillDate: START + 86_400_000, clientOrderId: 'bwtif0000000-5E' })).rejects.toThrow(
      "Data sent for parameter 'timeInForce' is not valid.",
    );
  }, 20_000);
});
