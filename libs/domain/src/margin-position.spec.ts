import { event } from '@bulwark/contracts';
import { foldMarginPair, marginClosePnl, marginExitReached, marginPairEvolve, marginPairInitialState, shortCoverQuantity } from './margin-position';
import { dec, str } from './money';

const pair = { accountId: 'm1', symbol: 'BTCUSDT' };
const by = { by: 'alice', at: 1_722_808_800_000 };

describe('a spot isolated-margin pair folded from its stream', () => {
  // The long of the 2024-08-04 crash run (docs/risk.md): 0.02445 BTC at 58,459.98, 429.346511 USDT borrowed.
  const opened = event('MarginPositionOpened', {
    ...pair, sequence: 1, side: 'LONG', quantity: '0.02442555', entryQuantity: '0.02445', entryPrice: '58459.98', entryQuote: '1429.346511', baseCommission: '0.00002445', quoteCommission: '0', commissionQuote: '1.4293465',
    stopPrice: '58167.68', takeProfitPrice: null, riskAmount: '10', requestId: null, clientOrderId: 'bwm-1', orderId: '7', ...by,
  });

  it('counts transfers, loans, interest and repayments per asset, and the interest of the open position', () => {
    const s = foldMarginPair([
      event('MarginTransferred', { ...pair, asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', tranId: 't1', ...by }),
      event('MarginBorrowed', { ...pair, asset: 'USDT', amount: '429.346511', tranId: 'bwm-1', ...by }),
      opened,
      event('MarginInterestCharged', { ...pair, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'ON_BORROW', txId: 'i1', price: '58459.98', quoteValue: '0.00849749', at: by.at }),
      event('MarginInterestCharged', { ...pair, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'PERIODIC', txId: 'i2', price: '58100', quoteValue: '0.00849749', at: by.at + 3_600_000 }),
      event('MarginRepaid', { ...pair, asset: 'USDT', principal: '429.346511', interest: '0.01699498', tranId: 'bwm-2', ...by }),
    ]);
    expect(str(s.borrowed.USDT)).toBe('0');
    expect(str(s.interestOwed.USDT)).toBe('0');
    expect(str(s.netTransferred.USDT)).toBe('1000');
    expect(str(s.open!.interestQuote)).toBe('0.01699498');
    expect(str(s.open!.interest.USDT)).toBe('0.01699498');
    expect(str(s.interestQuoteTotal)).toBe('0.01699498');
    expect(s.lastSequence).toBe(1);
  });

  it('marks the trigger and clears the position when it closes; a close of another sequence changes nothing', () => {
    let s = marginPairEvolve(marginPairInitialState(), opened);
    s = marginPairEvolve(s, event('MarginStopTriggered', { ...pair, sequence: 1, kind: 'STOP_LOSS', triggerPrice: '58167.68', price: '58100', at: by.at }));
    expect(s.open!.triggered).toBe('STOP_LOSS');
    const close = { ...pair, status: 'STOPPED_OUT' as const, reason: 'STOP_LOSS', quantity: '0.02442555', exitPrice: '58080.62', exitQuote: '1418.64', realisedPnl: '-10.706511', commissionQuote: '2.84', interestQuote: '0.01699498', shortfall: '0', netPnl: '-13.56350598', equityAfter: '986.43', clientOrderId: 'bwm-2', ...by };
    expect(marginPairEvolve(s, event('MarginPositionClosed', { ...close, sequence: 2 }))).toBe(s);
    s = marginPairEvolve(s, event('MarginPositionClosed', { ...close, sequence: 1 }));
    expect(s.open).toBeNull();
    expect(str(s.netPnlTotal)).toBe('-13.56350598');
    expect(s.closedPositions).toBe(1);
  });
});

describe('marginClosePnl', () => {
  it('long: valued at the exit price, it is the change of the pair equity (dust kept, base commission lost)', () => {
    // Bought 0.02445 for 1429.346511, 0.00002445 BTC commission; sold 0.02442 at 58080.62 (1418.3287404), 1.4183287404 USDT commission;
    // 0.01699498 USDT interest. Dust 0.00000555 BTC stays.
    const px = dec('58080.62');
    const r = marginClosePnl({ side: 'LONG', entryQuantity: dec('0.02445'), entryQuote: dec('1429.346511'), exitPrice: px, baseCommission: dec('0.00002445'), quoteCommission: dec('1.4183287404'), baseInterest: dec(0), quoteInterest: dec('0.01699498'), shortfall: dec(0) });
    expect(str(r.realisedPnl)).toBe('-9.275352');
    const quoteChange = dec('1418.3287404').minus('1429.346511').minus('1.4183287404').minus('0.01699498');
    const equityChange = quoteChange.plus(dec('0.00000555').mul(px));
    expect(str(r.netPnl)).toBe(str(equityChange));
  });
  it('short: entry − exit; base commission and base interest valued at the exit; a shortfall is a loss', () => {
    const r = marginClosePnl({ side: 'SHORT', entryQuantity: dec('0.01'), entryQuote: dec('1000'), exitPrice: dec('110000'), baseCommission: dec('0.00001'), quoteCommission: dec('1'), baseInterest: dec('0.000001'), quoteInterest: dec(0), shortfall: dec('3') });
    expect([str(r.realisedPnl), str(r.commissionQuote), str(r.interestQuote), str(r.netPnl)]).toEqual(['-100', '2.1', '0.11', '-105.21']);
  });
});

describe('marginExitReached', () => {
  const long = { side: 'LONG' as const, stopPrice: dec(100), takeProfitPrice: dec(120) };
  const short = { side: 'SHORT' as const, stopPrice: dec(120), takeProfitPrice: dec(100) };
  it.each([
    [long, '100', 'STOP_LOSS'], [long, '99', 'STOP_LOSS'], [long, '100.01', null], [long, '120', 'TAKE_PROFIT'],
    [short, '120', 'STOP_LOSS'], [short, '119.99', null], [short, '100', 'TAKE_PROFIT'], [{ ...short, takeProfitPrice: null }, '1', null],
  ])('%o at %s → %s', (p, price, want) => expect(marginExitReached(p, dec(price))).toBe(want));
});

describe('shortCoverQuantity', () => {
  it('buys enough that the base left after the commission repays what is owed, rounded up to the step', () => {
    // 0.01 BTC + 0.0000026125 interest owed, 0.1 % taker: 0.0100026125 / 0.999 = 0.010012625..., up to 0.00001 → 0.01002.
    const r = shortCoverQuantity(dec('0.0100026125'), dec('0.001'), dec('0.00001'));
    expect(r.ok && str(r.value)).toBe('0.01002');
    expect(r.ok && r.value.times(dec('0.999')).gte(dec('0.0100026125'))).toBe(true);
  });
  it('refuses what it cannot compute', () => {
    expect(shortCoverQuantity(dec(0), dec('0.001'), dec('0.00001')).ok).toBe(false);
    expect(shortCoverQuantity(dec(1), dec(1), dec('0.00001')).ok).toBe(false);
    expect(shortCoverQuantity(dec(1), dec('0.001'), dec(0)).ok).toBe(false);
  });
});
