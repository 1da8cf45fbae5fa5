import { D, PaperMarginVenue, RulesParseError, parseBinanceMarginPairRules, str } from '@bulwark/domain';
import { loadMarginPair } from './margin-rules-file';

describe('the recorded Binance spot isolated-margin rules of BTCUSDT', () => {
  it('reads the spot filters, tier 1 bars and limits, interest rates and fees from data/venues', () => {
    const { rules } = loadMarginPair('BTCUSDT');
    expect([rules.baseAsset, rules.quoteAsset]).toEqual(['BTC', 'USDT']);
    expect([str(rules.tickSize), str(rules.stepSize), str(rules.minQty), str(rules.maxQty), str(rules.minNotional)]).toEqual(['0.01', '0.00001', '0.00001', '9000', '5']);
    expect([str(rules.makerFeeRate), str(rules.takerFeeRate)]).toEqual(['0.001', '0.001']);
    const b = rules.bars;
    expect([str(b.transferOut), str(b.borrow), str(b.marginCall), str(b.liquidation)]).toEqual(['2', '1.111', '1.1', '1.05']);
    expect([str(rules.maxBorrowable.base), str(rules.maxBorrowable.quote)]).toEqual(['9', '70000']);
    expect([str(rules.dailyInterestRate.base), str(rules.dailyInterestRate.quote)]).toEqual(['0.00026125', '0.000475']);
  });

  it('charges the recorded USDT rate per hour, rounded up to 8 decimals', () => {
    const v = new PaperMarginVenue(new Map([['BTCUSDT', loadMarginPair().rules]]));
    v.deposit('a', 'USDT', new D('1000'));
    v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000'), direction: 'TO_MARGIN' });
    v.step('BTCUSDT', { from: '50000', to: '50000', gap: true, ts: Date.UTC(2024, 7, 5, 0, 30) });
    expect(v.borrow({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000') }).ok).toBe(true);
    // 1000 × 0.000475 / 24 = 0.0197916666… → 0.01979167
    expect(v.interestHistory('a').map((r) => str(r.interest))).toEqual(['0.01979167']);
    // Tier 1: (1000 + 1000 − 1.111 × 1000.01979167) / 0.111, 8 decimals down
    const room = v.maxBorrowable('a', 'BTCUSDT', 'USDT');
    expect(room.ok && str(room.value)).toBe(str(new D('2000').minus(new D('1.111').mul('1000.01979167')).div('0.111').toDecimalPlaces(8, D.ROUND_DOWN)));
  });

  it('refuses malformed inputs naming the field', () => {
    const { exchangeInfoSymbol, tiers, marginData } = loadMarginPair();
    const fees = { makerCommission: '0.001', takerCommission: '0.001' };
    expect(() => parseBinanceMarginPairRules({ exchangeInfoSymbol, tiers, marginData, fees, tier: 7 })).toThrow(/no tier 7 for BTCUSDT/);
    expect(() => parseBinanceMarginPairRules({ exchangeInfoSymbol, tiers: [{ ...(tiers as object[])[0], liquidationRiskRatio: '1.2' }], marginData, fees })).toThrow(/bars out of order/);
    expect(() => parseBinanceMarginPairRules({ exchangeInfoSymbol, tiers, marginData: [], fees })).toThrow(RulesParseError);
    expect(() => parseBinanceMarginPairRules({ exchangeInfoSymbol: { symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', filters: [] }, tiers, marginData, fees })).toThrow(/no PRICE_FILTER/);
  });
});
