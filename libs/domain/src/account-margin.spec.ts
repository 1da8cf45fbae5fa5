import type { DomainEvent, EventData } from '@bulwark/contracts';
import { accountDecider, type AccountCommand, type AccountState } from './account';
import { fold } from './decider';
import { dec } from './money';

/** A spot isolated-margin account on BTCUSDT: 3x, 1 % risk, 50 % margin cap, 50 trades a day, 4 % monthly drawdown pause. */
const CONFIG = {
  accountId: 'm1', venue: 'binance-margin', symbol: 'BTCUSDT', capital: '1000', leverage: 3, leverageCap: 10, riskFraction: '0.01', maxMarginFraction: '0.5',
  liquidationBufferFraction: '0.1', maxTradesPerDay: 50, dailyLossLimitFraction: null, dailyProfitTargetFraction: null, maxMonthlyDrawdownFraction: '0.04',
  maxFeeRiskFraction: null, maxLifetimeDrawdownFraction: null, losingStreakPause: null, maxMarginUtilisationFraction: '0.95', marginMode: 'ISOLATED',
  protection: 'INTERNAL', workingType: 'MARK_PRICE', highLeverageConfirmed: false, venueBalance: '1000',
} as const;
const DAY = Date.parse('2024-08-04T22:00:00Z');

function run(s: AccountState, c: AccountCommand): { state: AccountState; events: DomainEvent[] } {
  const r = accountDecider.decide(c, s);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return { state: fold(accountDecider.evolve, s, r.value), events: r.value };
}
const entry = (requestId: string, ts = DAY): AccountCommand => ({ kind: 'AssessMarginEntry', request: { requestId, accountId: 'm1', symbol: 'BTCUSDT', side: 'LONG', stopPrice: '58167.68', by: 'alice' }, ts });
const opened = () => run(accountDecider.initialState(), { kind: 'OpenAccount', config: CONFIG }).state;

describe('spot-margin entries through the account gate', () => {
  it('approves while active and counts the entry in the day: the warning at 40, the limit at 50, the 51st denied; a request seen before decides nothing', () => {
    let s = opened();
    const seen: string[] = [];
    for (let i = 1; i <= 51; i++) {
      const r = run(s, entry(`r-${i}`));
      s = r.state;
      seen.push(...r.events.map((e) => (e.type === 'MarginEntryApproved' ? `ok${e.data.count}` : e.type === 'MarginEntryDenied' ? `no:${e.data.reason}` : e.type)));
    }
    expect(seen.filter((x) => !x.startsWith('ok'))).toEqual(['DailyTradeLimitWarning', 'DailyTradeLimitReached', 'no:DAILY_TRADE_LIMIT']);
    expect(seen.indexOf('DailyTradeLimitWarning')).toBe(seen.indexOf('ok40') + 1);
    expect(run(s, entry('r-3')).events).toEqual([]);
    // The next UTC day counts from zero.
    expect(run(s, entry('r-52', Date.parse('2024-08-05T00:00:00Z'))).events[0]).toMatchObject({ type: 'MarginEntryApproved', data: { count: 1, tradingDay: '2024-08-05' } });
  });

  it('denies when halted, paused by the monthly drawdown (until an audited resume), or when the account is not a spot-margin account', () => {
    let s = run(opened(), { kind: 'SetTradingState', state: 'HALTED', reason: 'kill switch', by: 'ops' }).state;
    expect(run(s, entry('h-1')).events[0]).toMatchObject({ type: 'MarginEntryDenied', data: { reason: 'TRADING_HALTED' } });
    s = run(s, { kind: 'SetTradingState', state: 'ACTIVE', reason: 'checked', by: 'ops' }).state;
    // Equity 1,000 at the month's start, then 959 after a loss: 4.1 % down ≥ 4 % → paused.
    s = run(s, { kind: 'ObserveEquity', equity: dec('1000'), ts: DAY }).state;
    const paused = run(s, { kind: 'ObserveEquity', equity: dec('959'), ts: DAY + 60_000 });
    expect(paused.events.map((e) => e.type)).toContain('TradingPaused');
    s = paused.state;
    const denied = run(s, entry('p-1')).events[0] as { type: string; data: EventData<'MarginEntryDenied'> };
    expect(denied).toMatchObject({ type: 'MarginEntryDenied', data: { reason: 'TRADING_PAUSED' } });
    s = run(s, { kind: 'ResumeTrading', reason: 'reviewed the crash', by: 'ops', equity: dec('959'), ts: DAY + 120_000 }).state;
    expect(run(s, entry('p-2')).events[0]).toMatchObject({ type: 'MarginEntryApproved' });
    const futures = run(accountDecider.initialState(), { kind: 'OpenAccount', config: { ...CONFIG, venue: 'binance-usdm' } }).state;
    expect(run(futures, entry('f-1')).events[0]).toMatchObject({ type: 'MarginEntryDenied', data: { reason: 'INVALID_INTENT' } });
  });
});
