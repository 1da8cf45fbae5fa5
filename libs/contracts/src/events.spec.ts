import { EventCatalogue, parseEvent, upcast } from './events';

const v1AccountOpened = {
  accountId: 'demo-1', venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 10, leverageCap: 20, riskFraction: '0.01',
  maxMarginFraction: '0.5', liquidationBufferFraction: '0.1', maxTradesPerDay: 50, dailyLossLimitFraction: null,
  maxMonthlyDrawdownFraction: '0.04', marginMode: 'ISOLATED', protection: 'INTERNAL',
};

describe('schema versions', () => {
  it('upcasts AccountOpened v1 (before the risk configuration) to v4 without inventing facts', () => {
    expect(EventCatalogue.AccountOpened.version).toBe(4);
    expect(upcast('AccountOpened', v1AccountOpened, 1)).toEqual({ ...v1AccountOpened, dailyProfitTargetFraction: null, highLeverageConfirmed: false, venueBalance: '10000', workingType: 'MARK_PRICE', maxFeeRiskFraction: null, maxLifetimeDrawdownFraction: null, losingStreakPause: null, maxMarginUtilisationFraction: '0.95' });
    const r = parseEvent('AccountOpened', v1AccountOpened, 1);
    expect(r.ok && r.event.data).toMatchObject({ highLeverageConfirmed: false, venueBalance: '10000', workingType: 'MARK_PRICE' });
  });

  it('reads AccountOpened / AccountReconfigured v2 (before the trigger price type) with workingType MARK_PRICE, the default', () => {
    const v2 = { ...v1AccountOpened, dailyProfitTargetFraction: null, highLeverageConfirmed: false, venueBalance: '10000' };
    for (const type of ['AccountOpened', 'AccountReconfigured'] as const) {
      expect(EventCatalogue[type].version).toBe(4);
      const r = parseEvent(type, v2, 2);
      expect(r).toEqual({ ok: true, event: { type, data: { ...v2, workingType: 'MARK_PRICE', maxFeeRiskFraction: null, maxLifetimeDrawdownFraction: null, losingStreakPause: null, maxMarginUtilisationFraction: '0.95' } } });
      // A v3 event keeps what it recorded; a v3 event without the field is invalid (nothing is guessed).
      expect(parseEvent(type, { ...v2, workingType: 'CONTRACT_PRICE' }, 3)).toMatchObject({ ok: true, event: { data: { workingType: 'CONTRACT_PRICE' } } });
      expect(parseEvent(type, v2, 3)).toMatchObject({ ok: false, reason: expect.stringContaining('workingType') });
    }
    expect(parseEvent('AccountOpened', { ...v2, workingType: 'LAST_PRICE' }, 3)).toMatchObject({ ok: false, reason: expect.stringContaining('workingType') });
  });

  it('reads AccountOpened / AccountReconfigured v3 (before the cost guard, the lifetime switch and the streak pause) with all three off: the account was opened without them', () => {
    const v3 = { ...v1AccountOpened, dailyProfitTargetFraction: null, highLeverageConfirmed: false, venueBalance: '10000', workingType: 'MARK_PRICE' };
    for (const type of ['AccountOpened', 'AccountReconfigured'] as const) {
      expect(parseEvent(type, v3, 3)).toEqual({ ok: true, event: { type, data: { ...v3, maxFeeRiskFraction: null, maxLifetimeDrawdownFraction: null, losingStreakPause: null, maxMarginUtilisationFraction: '0.95' } } });
      expect(parseEvent(type, { ...v3, maxFeeRiskFraction: '0.5', maxLifetimeDrawdownFraction: '0.1', losingStreakPause: 5, maxMarginUtilisationFraction: '0.9' }, 4)).toMatchObject({ ok: true, event: { data: { maxFeeRiskFraction: '0.5', maxLifetimeDrawdownFraction: '0.1', losingStreakPause: 5 } } });
      expect(parseEvent(type, v3, 4)).toMatchObject({ ok: false, reason: expect.stringContaining('maxFeeRiskFraction') });
    }
  });

  it('refuses a v1 event as v2 (missing fields named) and a version newer than the code', () => {
    expect(parseEvent('AccountOpened', v1AccountOpened, 2)).toMatchObject({ ok: false, reason: expect.stringContaining('venueBalance') });
    expect(parseEvent('AccountOpened', v1AccountOpened, 5)).toEqual({ ok: false, reason: 'AccountOpened v5 is newer than this code (v4)' });
  });

  it('leaves StopPlaced v1 invalid: its entry price and guard levels were never recorded', () => {
    const v1 = { positionStreamId: 'position-a-binance-usdm-BTCUSDT-1', accountId: 'a', venue: 'binance-usdm', symbol: 'BTCUSDT', positionSide: 'LONG', quantity: '0.1', stopPrice: '100', takeProfitPrice: null, entryClientOrderId: 'bw1-1E' };
    expect(parseEvent('StopPlaced', v1, 1)).toMatchObject({ ok: false, reason: expect.stringContaining('guards') });
  });

  it('refuses an unknown type', () => {
    expect(parseEvent('Nope', {})).toEqual({ ok: false, reason: 'unknown event type "Nope"' });
  });
});
