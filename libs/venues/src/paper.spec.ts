import { dec, str } from '@bulwark/domain';
import { btcusdtRules } from '@bulwark/testing';
import { PaperVenueAdapter } from './paper';

const rules = btcusdtRules();

describe('PaperVenueAdapter (VenuePort over the paper engine)', () => {
  it('the same clock step asked again (its outcome was not recorded) answers the same fill and matches nothing twice; an older step answers nothing', async () => {
    const v = new PaperVenueAdapter('binance-usdm', new Map([['BTCUSDT', rules]]));
    v.deposit('a1', dec('1000'));
    await v.setOneWayMode('a1');
    await v.setIsolatedMargin('a1', 'BTCUSDT');
    await v.setLeverage('a1', 'BTCUSDT', 10);
    v.advance('BTCUSDT', { from: '104670.7', to: '104587.7', gap: false, ts: 1762732859999, runId: 'r1', seq: 3 }, null);
    await v.placeOrder('a1', { clientOrderId: 'c1', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.010'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
    const step = { from: '104587.7', to: '104587.8', gap: true, ts: 1762732860000, runId: 'r1', seq: 4 };
    const first = v.advance('BTCUSDT', step, null);
    expect(first).toHaveLength(1);
    const wallet = str((await v.account('a1'))!.walletBalance);
    expect(v.advance('BTCUSDT', step, null)).toEqual(first);
    expect(v.advance('BTCUSDT', { ...step, seq: 3 }, null)).toEqual([]);
    // One fill, one fee: the wallet did not move again.
    expect(str((await v.account('a1'))!.walletBalance)).toBe(wallet);
    expect((await v.account('a1'))!.positions[0].quantity.toFixed()).toBe('0.01');
  });

  it('sets up an account, fills a market entry at the next step and reports the isolated position', async () => {
    const v = new PaperVenueAdapter('binance-usdm', new Map([['BTCUSDT', rules]]));
    v.deposit('a1', dec('1000'));
    expect(await v.setOneWayMode('a1')).toEqual({ ok: true, value: 'CHANGED' });
    expect(await v.setOneWayMode('a1')).toEqual({ ok: true, value: 'UNCHANGED' });
    expect((await v.setIsolatedMargin('a1', 'BTCUSDT')).ok).toBe(true);
    expect((await v.setLeverage('a1', 'BTCUSDT', 10)).ok).toBe(true);
    // First real bar of 2025-11-10: open 104,670.7 (a falling bar, close 104,587.7).
    v.advance('BTCUSDT', { from: '104670.7', to: '104587.7', gap: false, ts: 1762732859999 }, null);
    const placed = await v.placeOrder('a1', { clientOrderId: 'c1', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.010'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
    expect(placed.ok).toBe(true);
    // Next bar opens at 104,587.8: the entry fills there, taker fee 0.05 % of 1,045.878 = 0.522939.
    const out = v.advance('BTCUSDT', { from: '104587.7', to: '104587.8', gap: true, ts: 1762732860000 }, null);
    expect(out).toHaveLength(1);
    const fill = out[0].kind === 'fill' ? out[0].fill : null;
    expect(str(fill!.price)).toBe('104587.8');
    expect(str(fill!.fee)).toBe('0.522939');
    const acct = (await v.account('a1'))!;
    // Isolated margin = 1,045.878 / 10 = 104.5878; wallet = 1,000 − 0.522939.
    expect(str(acct.positions[0].isolatedMargin)).toBe('104.5878');
    expect(str(acct.walletBalance)).toBe('999.477061');
    expect(str(acct.availableBalance)).toBe('894.889261');
  });

  it('answers a typed venue rejection for an order it refuses', async () => {
    const v = new PaperVenueAdapter('binance-usdm', new Map([['BTCUSDT', rules]]));
    v.deposit('a1', dec('10'));
    await v.setOneWayMode('a1');
    v.advance('BTCUSDT', { from: '104670.7', to: '104587.7', gap: false, ts: 1 }, null);
    const r = await v.placeOrder('a1', { clientOrderId: 'c1', symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: dec('0.001'), price: null, reduceOnly: true, purpose: 'STOP_LOSS', triggerPrice: null });
    expect(r).toEqual({ ok: false, error: { code: '-2022', message: 'ReduceOnly Order is rejected.' } });
  });
});
