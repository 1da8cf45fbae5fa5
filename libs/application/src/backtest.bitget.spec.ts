/**
 * The paper engine under Bitget USDT-M's id: the same day of real candles (Binance's recorded
 * BTCUSDT 1m futures prices; this project has no Bitget candles) trades with Bitget's recorded
 * rules, position tiers and fees (data/venues/bitget-usdtm), so fees are Bitget's 0.06 % taker.
 */
import type { EventData } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { runBacktest } from './backtest';


describe('runBacktest --venue bitget-usdtm (the paper engine with Bitget\'s recorded rules)', () => {
  it("records Bitget's rules and charges Bitget's taker fee on every market fill", async () => {
    const r = await runBacktest({
      accountId: 'bt-bitget', venue: 'bitget-usdtm', candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
      capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, from: Date.parse('2025-11-21T00:00:00Z'), to: Date.parse('2025-11-22T00:00:00Z'),
    });
    const events = [];
    for await (const e of r.store.readAll()) events.push(e);
    const rules = events.find((e) => e.type === 'InstrumentRulesRecorded')!.data as EventData<'InstrumentRulesRecorded'>;
    expect(rules.venue).toBe('bitget-usdtm');
    expect([rules.takerFeeRate, rules.makerFeeRate, rules.tickSize, rules.stepSize, rules.minNotional]).toEqual(['0.0006', '0.0002', '0.1', '0.0001', '5']);
    expect(rules.source).toMatch(/bitget-usdtm/);
    const fills = events.filter((e) => e.type === 'OrderFilled').map((e) => e.data as EventData<'OrderFilled'>);
    expect(fills.length).toBeGreaterThan(4);
    for (const f of fills) {
      expect(f.venue).toBe('bitget-usdtm');
      if (f.liquidity === 'TAKER') expect(f.fee).toBe(dec(f.quoteQuantity).mul('0.0006').toFixed());
    }
    expect(r.summary.positionsClosed).toBeGreaterThan(0);
    const s = r.summary;
    expect(dec(s.finalEquity).toFixed()).toBe(dec(s.capital).plus(s.realisedPnl).minus(s.fees).plus(s.funding).minus(s.liquidationFees).plus(s.unrealisedPnl).toFixed());
  }, 120_000);
});
