import { EventCatalogue, parseEvent, upcast } from './events';

const v1AccountOpened = {
  accountId: 'demo-1', venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 10, leverageCap: 20, riskFraction: '0.01',
  maxMarginFraction: '0.5', liquidationBufferFraction: '0.1', maxTradesPerDay: 50, dailyLossLimitFraction: null,
  maxMonthlyDrawdownFraction: '0.04', marginMode: 'ISOLATED', protection: 'INTERNAL',
};

describe('schema versions', () => {
  it('upcasts AccountOpened v1 (before the risk configuration) to v2 without inventing facts', () => {
    expect(EventCatalogue.AccountOpened.version).toBe(2);
    expect(upcast('AccountOpened', v1AccountOpened, 1)).toEqual({ ...v1AccountOpened, dailyProfitTargetFraction: null, highLeverageConfirmed: false, venueBalance: '10000' });
    const r = parseEvent('AccountOpened', v1AccountOpened, 1);
    expect(r.ok && r.event.data).toMatchObject({ highLeverageConfirmed: false, venueBalance: '10000' });
  });

  it('refuses a v1 event as v2 (missing fields named) and a version newer than the code', () => {
    expect(parseEvent('AccountOpened', v1AccountOpened, 2)).toMatchObject({ ok: false, reason: expect.stringContaining('venueBalance') });
    expect(parseEvent('AccountOpened', v1AccountOpened, 3)).toEqual({ ok: false, reason: 'AccountOpened v3 is newer than this code (v2)' });
  });

  it('leaves StopPlaced v1 invalid: its entry price and guard levels were never recorded', () => {
    const v1 = { positionStreamId: 'position-a-binance-usdm-BTCUSDT-1', accountId: 'a', venue: 'binance-usdm', symbol: 'BTCUSDT', positionSide: 'LONG', quantity: '0.1', stopPrice: '100', takeProfitPrice: null, entryClientOrderId: 'bw1-1E' };
    expect(parseEvent('StopPlaced', v1, 1)).toMatchObject({ ok: false, reason: expect.stringContaining('guards') });
  });

  it('refuses an unknown type', () => {
    expect(parseEvent('Nope', {})).toEqual({ ok: false, reason: 'unknown event type "Nope"' });
  });
});
