/**
 * An intent on a symbol whose instrument rules are not recorded: risk has nothing to size it
 * with, and the account decider denies it UNKNOWN_SYMBOL like any other denial (one decision per
 * intent, recorded with accounting's equity answer), never a missing decision.
 */
import { parseEvent, type DomainEvent, type EquitySnapshot, type IntentEmitted } from '@bulwark/contracts';
import { btcusdtRules } from '@bulwark/testing';
import { accountDecider, accountEvolve, accountInitialState, type AccountCommand, type AccountState } from './account';
import type { Rules } from './rules';
import { fold } from './decider';
import { dec } from './money';

const RULES = btcusdtRules();
const ACCOUNT = 'acc-multi';
const TS = Date.parse('2025-11-10T00:00:59.999Z');
const CONFIG = { accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, venueBalance: '10000' };

function intent(intentId: string, over: Partial<IntentEmitted> = {}): IntentEmitted {
  // BTCUSDT levels of the first recorded bar of 2025-11-10 (entry its close 104587.7).
  return {
    intentId, accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', side: 'BUY', entryPrice: '104587.7', stopPrice: '103500', takeProfitPrice: null,
    strategy: 'donchian-atr', reason: 'test', candleOpenTime: 1762732800000, ...over,
  };
}

const EQUITY: EquitySnapshot = { accountId: ACCOUNT, known: true, walletBalance: '10000', unrealisedPnl: '0', equity: '10000', usedMargin: '0', availableMargin: '10000', openPositions: 0, asOf: TS };

const assess = (intentId: string, rules: Rules | null, i: Partial<IntentEmitted> = {}, equity: EquitySnapshot = EQUITY): AccountCommand => ({
  kind: 'AssessEntry', intent: intent(intentId, i), signalStreamId: `signal-${ACCOUNT}`, equity, rules, ts: TS,
});

/** Decide, require success, check every event against its contract, fold into the state. */
function run(s: AccountState, c: AccountCommand): { events: DomainEvent[]; state: AccountState } {
  const r = accountDecider.decide(c, s);
  if (!r.ok) throw new Error(`expected events, got ${r.error.code}: ${r.error.message}`);
  for (const e of r.value) expect(parseEvent(e.type, e.data)).toEqual({ ok: true, event: e });
  return { events: r.value, state: fold(accountEvolve, s, r.value) };
}

/** Opened, with November's drawdown base at 10,000 (so an assessment at 10,000 emits only its decision). */
const ready = () => run(run(accountInitialState(), { kind: 'OpenAccount', config: CONFIG }).state, { kind: 'ObserveEquity', equity: dec('10000'), ts: TS }).state;

describe('AssessEntry without recorded rules', () => {
  it('is denied UNKNOWN_SYMBOL, naming the venue and the symbol and where rules come from; it counts no trade', () => {
    const s0 = ready();
    const { events, state } = run(s0, assess('i-eth', null, { symbol: 'ETHUSDT', entryPrice: '3000', stopPrice: '2900' }));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'EntryDenied' });
    const { accountId: _a, asOf: _t, ...recordedEquity } = EQUITY;
    expect(events[0].data).toEqual({
      intentId: 'i-eth', signalStreamId: `signal-${ACCOUNT}`, accountId: ACCOUNT, reason: 'UNKNOWN_SYMBOL',
      detail: "no instrument rules recorded for binance-usdm ETHUSDT: execution records a symbol's rules when it first trades it or when BULWARK_SYMBOLS lists it",
      tradingDay: '2025-11-10', assessment: null, equitySnapshot: recordedEquity,
    });
    expect([state.entries, state.tradesToday]).toEqual([s0.entries, s0.tradesToday]);
    expect(state.assessedIntents.has('i-eth')).toBe(true);
  });

  it('a redelivered intent gets no second decision, even once rules are recorded', () => {
    const { state } = run(ready(), assess('i-1', null));
    expect(run(state, assess('i-1', null)).events).toEqual([]);
    expect(run(state, assess('i-1', RULES)).events).toEqual([]);
    // A new intent on a symbol with rules is sized and approved as ever.
    expect(run(state, assess('i-2', RULES)).events.map((e) => e.type)).toEqual(['EntryApproved']);
  });

  it('the account gate comes first (a halted account says so); an unknown symbol comes before the equity checks', () => {
    const halted = run(ready(), { kind: 'SetTradingState', state: 'HALTED', reason: 'venue incident', by: 'ops' }).state;
    expect(run(halted, assess('i-h', null)).events[0].data).toMatchObject({ reason: 'TRADING_HALTED' });
    const noEquity = { ...EQUITY, known: false };
    expect(run(ready(), assess('i-n', null, {}, noEquity)).events[0].data).toMatchObject({ reason: 'UNKNOWN_SYMBOL' });
    expect(run(ready(), assess('i-p', null, {}, { ...EQUITY, openPositions: 1 })).events[0].data).toMatchObject({ reason: 'UNKNOWN_SYMBOL' });
  });
});
