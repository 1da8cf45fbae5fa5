import * as fs from 'node:fs';
import { parseEvent, type DomainEvent, type EquitySnapshot, type EventData, type IntentEmitted, type TradingState } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules } from '@bulwark/testing';
import {
  ACCOUNT_DEFAULTS,
  ACCOUNT_RANGES,
  accountDecider,
  accountEvolve,
  accountInitialState,
  validateAccountConfig,
  type AccountCommand,
  type AccountConfigInput,
  type AccountState,
} from './account';
import { fold } from './decider';
import { dec, str } from './money';

// Rules: mainnet BTCUSDT filters (tick 0.1, step 0.001, min notional 5) and the 2025-11-20
// leverage brackets (bracket 1: 0–300,000 at 150x, MMR 0.004, cum 0), VIP 0 taker fee 0.0005.
const RULES = btcusdtRules();

// The entry price is the close of the first real bar, 2025-11-10 00:00 (104587.7); the stop
// and target are the strategy's technical levels: stop 103500, target = 104587.7 + 2 × 1087.7.
const FIRST_BAR = fs.readFileSync(BTCUSDT_FILES.candles1m, 'utf8').split('\n')[1];
const ENTRY = FIRST_BAR.split(',')[4];

const ACCOUNT = 'acc1';
const SIGNALS = 'signal-acc1';
/** A complete configuration (every field given): 10x needs the high-leverage confirmation; capital = the venue balance. */
const CONFIG = {
  accountId: ACCOUNT,
  venue: 'binance-usdm',
  symbol: 'BTCUSDT',
  capital: '10000',
  leverage: 10,
  leverageCap: 20,
  riskFraction: '0.01',
  maxMarginFraction: '0.5',
  liquidationBufferFraction: '0.1',
  maxTradesPerDay: 50,
  dailyLossLimitFraction: '0.03',
  dailyProfitTargetFraction: null,
  maxMonthlyDrawdownFraction: '0.04',
  maxFeeRiskFraction: '0.5',
  // The monthly breaker tests below watch the month alone; the lifetime switch has its own tests.
  maxLifetimeDrawdownFraction: null,
  losingStreakPause: null,
  maxMarginUtilisationFraction: '0.95',
  marginMode: 'ISOLATED',
  protection: 'INTERNAL',
  workingType: 'MARK_PRICE',
  highLeverageConfirmed: true,
  venueBalance: '10000',
} as const;

const at = (iso: string) => Date.parse(iso);
const NOV10 = at('2025-11-10T00:00:59.999Z'); // close time of the 00:00 bar the intent was made on
const HASH = 'bw2d4c10hkbtg'; // bw + cyrb53("acc1") in base 36

function intent(intentId: string, over: Partial<IntentEmitted> = {}): IntentEmitted {
  return {
    intentId,
    accountId: ACCOUNT,
    venue: 'binance-usdm',
    symbol: 'BTCUSDT',
    side: 'BUY',
    entryPrice: ENTRY,
    stopPrice: '103500',
    takeProfitPrice: '106763.1',
    strategy: 'donchian-atr',
    reason: 'test',
    candleOpenTime: 1762732800000,
    ...over,
  };
}

function equity(over: Partial<EquitySnapshot> = {}): EquitySnapshot {
  return { accountId: ACCOUNT, known: true, walletBalance: '10000', unrealisedPnl: '0', equity: '10000', usedMargin: '0', availableMargin: '10000', openPositions: 0, asOf: NOV10, ...over };
}
/** An equity snapshot of `v` USDT, all of it available. */
/** The equity answer as a decision records it (no account id, no asOf). */
const recordedEquity = ({ accountId: _a, asOf: _t, ...rest }: EquitySnapshot) => rest;

const eqOf = (v: string): Partial<EquitySnapshot> => ({ walletBalance: v, equity: v, availableMargin: v });

const assess = (intentId: string, ts: number, eq: Partial<EquitySnapshot> = {}, i: Partial<IntentEmitted> = {}): AccountCommand => ({
  kind: 'AssessEntry',
  intent: intent(intentId, i),
  signalStreamId: SIGNALS,
  equity: equity(eq),
  rules: RULES,
  ts,
});
const result = (n: number, netPnl: string, ts: number): AccountCommand => ({ kind: 'RecordPositionResult', positionStreamId: `position-acc1-binance-usdm-BTCUSDT-${n}`, netPnl: dec(netPnl), ts });
const observe = (v: string, iso: string): AccountCommand => ({ kind: 'ObserveEquity', equity: dec(v), ts: at(iso) });
const resume = (v: string, iso: string, reason = 'drawdown reviewed'): AccountCommand => ({ kind: 'ResumeTrading', reason, by: 'trader', equity: dec(v), ts: at(iso) });
const setState = (state: TradingState, reason = 'venue incident'): AccountCommand => ({ kind: 'SetTradingState', state, reason, by: 'ops' });

/** Decide, require success, check every event against its contract, fold into the state. */
function run(s: AccountState, c: AccountCommand): { events: DomainEvent[]; state: AccountState } {
  const r = accountDecider.decide(c, s);
  if (!r.ok) throw new Error(`expected events, got ${r.error.code}: ${r.error.message}`);
  for (const e of r.value) expect(parseEvent(e.type, e.data)).toEqual({ ok: true, event: e });
  return { events: r.value, state: fold(accountEvolve, s, r.value) };
}

/** Run commands in order; returns every event and the final state. */
function history(s0: AccountState, commands: AccountCommand[]): { events: DomainEvent[]; state: AccountState } {
  let s = s0;
  const events: DomainEvent[] = [];
  for (const c of commands) {
    const r = run(s, c);
    events.push(...r.events);
    s = r.state;
  }
  return { events, state: s };
}

const opened = (over: Partial<AccountConfigInput> = {}) => run(accountInitialState(), { kind: 'OpenAccount', config: { ...CONFIG, ...over } }).state;
/** Open, and open November at 10,000 (so that a November assessment at 10,000 emits only its decision). */
const ready = (over: Partial<AccountConfigInput> = {}) => run(opened(over), observe('10000', '2025-11-10T00:00:00Z')).state;

const types = (events: DomainEvent[]) => events.map((e) => e.type);
const only = (events: DomainEvent[]) => {
  expect(events).toHaveLength(1);
  return events[0];
};
const denial = (events: DomainEvent[]) => {
  const e = only(events);
  if (e.type !== 'EntryDenied') throw new Error(`expected EntryDenied, got ${e.type}: ${JSON.stringify(e.data)}`);
  return e.data;
};
const approval = (events: DomainEvent[]) => {
  const e = only(events);
  if (e.type !== 'EntryApproved') throw new Error(`expected EntryApproved, got ${e.type}: ${JSON.stringify(e.data)}`);
  return e.data;
};
const refusal = (c: AccountCommand, s: AccountState) => {
  const r = accountDecider.decide(c, s);
  if (r.ok) throw new Error(`expected a refusal, got ${JSON.stringify(r.value)}`);
  return r.error;
};

describe('validateAccountConfig / OpenAccount', () => {
  it('the defaults: 20x cap, 1 % risk, 50 % margin, 10 % liquidation buffer, 50 trades a day (warning at 80 %), no daily loss limit or profit target, 4 % monthly drawdown (alerts at 50 % and 75 % of it), confirmation above 5x', () => {
    expect(ACCOUNT_DEFAULTS).toEqual({
      leverageCap: 20,
      riskFraction: '0.01',
      maxMarginFraction: '0.5',
      liquidationBufferFraction: '0.1',
      maxTradesPerDay: 50,
      dailyLossLimitFraction: null,
      dailyProfitTargetFraction: null,
      maxMonthlyDrawdownFraction: '0.04',
      maxFeeRiskFraction: '0.5',
      maxLifetimeDrawdownFraction: '0.1',
      losingStreakPause: null,
      peakStep: '0.001',
      maxMarginUtilisationFraction: '0.95',
      marginUtilisationAlert: '0.9',
      workingType: 'MARK_PRICE',
      confirmLeverageAbove: 5,
      tradeWarningShare: '0.8',
      drawdownAlertShares: ['0.5', '0.75'],
    });
    expect(ACCOUNT_RANGES).toEqual({
      leverage: [1, 125],
      leverageCap: [1, 125],
      riskFraction: ['0.005', '0.1'],
      maxMonthlyDrawdownFraction: ['0.001', '0.5'],
      dailyLossLimitFraction: ['0.001', '0.5'],
      dailyProfitTargetFraction: ['0.001', '10'],
      maxTradesPerDay: [1, 10_000],
      maxMarginFraction: ['0.01', '1'],
      liquidationBufferFraction: ['0', '0.9'],
      maxFeeRiskFraction: ['0.01', '1'],
      maxLifetimeDrawdownFraction: ['0.05', '0.5'],
      losingStreakPause: [1, 100],
      maxMarginUtilisationFraction: ['0.5', '1'],
    });
  });

  it('the defaults are filled in: a minimal 5x configuration is recorded with every field', () => {
    const minimal: AccountConfigInput = { accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '5000', leverage: 5, venueBalance: '12000' };
    const expected = {
      accountId: ACCOUNT,
      venue: 'binance-usdm',
      symbol: 'BTCUSDT',
      capital: '5000',
      leverage: 5,
      leverageCap: 20,
      riskFraction: '0.01',
      maxMarginFraction: '0.5',
      liquidationBufferFraction: '0.1',
      maxTradesPerDay: 50,
      dailyLossLimitFraction: null,
      dailyProfitTargetFraction: null,
      maxMonthlyDrawdownFraction: '0.04',
      maxFeeRiskFraction: '0.5',
      maxLifetimeDrawdownFraction: '0.1',
      losingStreakPause: null,
      maxMarginUtilisationFraction: '0.95',
      marginMode: 'ISOLATED',
      protection: 'INTERNAL',
      workingType: 'MARK_PRICE',
      highLeverageConfirmed: false,
      venueBalance: '12000',
    };
    expect(validateAccountConfig(minimal)).toEqual({ ok: true, value: expected });
    expect(run(accountInitialState(), { kind: 'OpenAccount', config: minimal }).events).toEqual([{ type: 'AccountOpened', data: expected }]);
  });

  it('OpenAccount → AccountOpened with the config; the state starts ACTIVE, with no month, no entries and no pause', () => {
    const { events, state } = run(accountInitialState(), { kind: 'OpenAccount', config: CONFIG });
    expect(events).toEqual([{ type: 'AccountOpened', data: CONFIG }]);
    expect(state).toEqual({ ...accountInitialState(), config: CONFIG, lifetimePeak: dec('10000') }); // the lifetime switch's peak starts at the capital
    expect(state.tradingState).toBe('ACTIVE');
    expect(state.month).toBeNull();
    expect(state.monthBase).toBeNull();
  });

  it('who asked is recorded with the configuration when the command says (the gateway user, the CLI --by), and only then', () => {
    expect(run(accountInitialState(), { kind: 'OpenAccount', config: CONFIG, by: 'ada' }).events).toEqual([{ type: 'AccountOpened', data: { ...CONFIG, by: 'ada' } }]);
    expect(run(opened(), { kind: 'ReconfigureAccount', config: { ...CONFIG, riskFraction: '0.02' }, by: 'bob' }).events).toEqual([
      { type: 'AccountReconfigured', data: { ...CONFIG, riskFraction: '0.02', by: 'bob' } },
    ]);
    expect(run(opened(), { kind: 'ReconfigureAccount', config: CONFIG }).events[0].data).not.toHaveProperty('by');
  });

  it('opening twice → ACCOUNT_EXISTS', () => {
    expect(accountDecider.decide({ kind: 'OpenAccount', config: CONFIG }, opened())).toEqual({
      ok: false,
      error: { code: 'ACCOUNT_EXISTS', message: 'account acc1 is already open' },
    });
  });

  it.each([
    // Schema refusals: the field, the value received and the schema's rule.
    [{ capital: '-5' }, 'capital', '-5', 'expected a decimal string > 0'],
    [{ riskFraction: '1e-2' }, 'riskFraction', '1e-2', 'expected a plain decimal string such as "104587.7"'],
    [{ riskFraction: 0.01 as unknown as string }, 'riskFraction', 0.01, 'Expected string, received number'],
    [{ accountId: 'acc.1' }, 'accountId', 'acc.1', 'expected [A-Za-z0-9_-]{1,64}'],
    [{ protection: 'SOMETIMES' }, 'protection', 'SOMETIMES', "Invalid enum value. Expected 'INTERNAL' | 'EXCHANGE' | 'BOTH', received 'SOMETIMES'"],
    [{ venueBalance: 'lots' }, 'venueBalance', 'lots', 'expected a plain decimal string such as "104587.7"'],
  ] as const)('INVALID_CONFIG (schema) %j → field %s, value %j, rule "%s"', (over, field, value, rule) => {
    const expected = { ok: false, error: { code: 'INVALID_CONFIG', field, value, allowed: rule, message: `${field} = ${JSON.stringify(value)} is refused: ${rule}` } };
    expect(validateAccountConfig({ ...CONFIG, ...over } as AccountConfigInput)).toEqual(expected);
    expect(accountDecider.decide({ kind: 'OpenAccount', config: { ...CONFIG, ...over } as AccountConfigInput }, accountInitialState())).toEqual(expected);
  });

  it.each([
    // Range refusals: the field, the value and the allowed range.
    [{ leverage: 30 }, 'leverage', 30, 'at most the leverage cap 20'],
    [{ riskFraction: '0.004' }, 'riskFraction', '0.004', '0.005..0.1 (0.5 %..10 % per trade)'],
    [{ riskFraction: '0.11' }, 'riskFraction', '0.11', '0.005..0.1 (0.5 %..10 % per trade)'],
    [{ riskFraction: '0' }, 'riskFraction', '0', '0.005..0.1 (0.5 %..10 % per trade)'],
    [{ riskFraction: '-0.01' }, 'riskFraction', '-0.01', '0.005..0.1 (0.5 %..10 % per trade)'],
    [{ maxMarginFraction: '0' }, 'maxMarginFraction', '0', '0.01..1'],
    [{ maxMarginFraction: '1.5' }, 'maxMarginFraction', '1.5', '0.01..1'],
    [{ liquidationBufferFraction: '0.95' }, 'liquidationBufferFraction', '0.95', '0..0.9'],
    [{ liquidationBufferFraction: '-0.1' }, 'liquidationBufferFraction', '-0.1', '0..0.9'],
    [{ maxFeeRiskFraction: '0' }, 'maxFeeRiskFraction', '0', '0.01..1 or null (off)'],
    [{ maxFeeRiskFraction: '1.5' }, 'maxFeeRiskFraction', '1.5', '0.01..1 or null (off)'],
    [{ maxMonthlyDrawdownFraction: '0' }, 'maxMonthlyDrawdownFraction', '0', '0.001..0.5'],
    [{ maxMonthlyDrawdownFraction: '0.51' }, 'maxMonthlyDrawdownFraction', '0.51', '0.001..0.5'],
    [{ dailyLossLimitFraction: '0' }, 'dailyLossLimitFraction', '0', '0.001..0.5 or null'],
    [{ dailyLossLimitFraction: '0.6' }, 'dailyLossLimitFraction', '0.6', '0.001..0.5 or null'],
    [{ dailyProfitTargetFraction: '0.0009' }, 'dailyProfitTargetFraction', '0.0009', '0.001..10 or null'],
    [{ dailyProfitTargetFraction: '10.5' }, 'dailyProfitTargetFraction', '10.5', '0.001..10 or null'],
    [{ maxTradesPerDay: 10_001 }, 'maxTradesPerDay', 10_001, 'an integer in 1..10000'],
  ] as const)('INVALID_CONFIG (range) %j → field %s, value %j, allowed "%s"', (over, field, value, allowed) => {
    const expected = { ok: false, error: { code: 'INVALID_CONFIG', field, value, allowed, message: `${field} = ${JSON.stringify(value)} is refused: allowed ${allowed}` } };
    expect(validateAccountConfig({ ...CONFIG, ...over })).toEqual(expected);
    expect(accountDecider.decide({ kind: 'OpenAccount', config: { ...CONFIG, ...over } }, accountInitialState())).toEqual(expected);
  });

  // Integer settings are range-checked before the schema, so the refusal names the range.
  it.each([
    [{ leverage: 0 }, '1..125'],
    [{ leverage: 2.5 }, '1..125'],
    [{ leverage: 126 }, '1..125'],
    [{ leverageCap: 0 }, '1..125'],
    [{ leverageCap: 126 }, '1..125'],
    [{ maxTradesPerDay: 0 }, '1..10000'],
  ] as const)('the refusal of %j names the allowed range %s', (over, range) => {
    const r = validateAccountConfig({ ...CONFIG, ...over });
    expect(r.ok).toBe(false);
    expect(r.ok ? null : r.error.allowed).toContain(range);
  });

  it('marginMode CROSS → MARGIN_MODE_NOT_SUPPORTED (checked before anything else)', () => {
    const expected = {
      ok: false,
      error: { code: 'MARGIN_MODE_NOT_SUPPORTED', field: 'marginMode', value: 'CROSS', allowed: 'ISOLATED', message: 'marginMode = "CROSS" is refused: only isolated margin is supported (cross margin is not, yet)' },
    };
    expect(validateAccountConfig({ ...CONFIG, marginMode: 'CROSS' })).toEqual(expected);
    expect(validateAccountConfig({ ...CONFIG, marginMode: 'CROSS', leverage: 0 })).toEqual(expected);
    expect(accountDecider.decide({ kind: 'OpenAccount', config: { ...CONFIG, marginMode: 'CROSS' } }, accountInitialState())).toEqual(expected);
  });

  it.each(['INTERNAL', 'EXCHANGE', 'BOTH'] as const)('protection %s is accepted and recorded (INTERNAL when absent)', (protection) => {
    const r = validateAccountConfig({ ...CONFIG, protection });
    expect(r.ok && r.value.protection).toBe(protection);
    const d = validateAccountConfig({ ...CONFIG, protection: undefined });
    expect(d.ok && d.value.protection).toBe('INTERNAL');
  });

  it('an unknown protection mode → INVALID_CONFIG naming the field', () => {
    const r = validateAccountConfig({ ...CONFIG, protection: 'SOMETIMES' });
    expect(r.ok).toBe(false);
    expect(r.ok ? null : [r.error.code, r.error.field]).toEqual(['INVALID_CONFIG', 'protection']);
  });

  it('leverage 6 (above 5x) without highLeverageConfirmed → CONFIRMATION_REQUIRED', () => {
    const expected = {
      ok: false,
      error: { code: 'CONFIRMATION_REQUIRED', field: 'highLeverageConfirmed', value: false, allowed: 'true', message: 'highLeverageConfirmed = false is refused: leverage 6x is above 5x and needs an explicit confirmation' },
    };
    expect(validateAccountConfig({ ...CONFIG, leverage: 6, highLeverageConfirmed: false })).toEqual(expected);
    expect(validateAccountConfig({ ...CONFIG, leverage: 6, highLeverageConfirmed: undefined })).toEqual(expected); // not given = not confirmed
    expect(accountDecider.decide({ kind: 'OpenAccount', config: { ...CONFIG, leverage: 6, highLeverageConfirmed: false } }, accountInitialState())).toEqual(expected);
  });

  it('leverage 6 with highLeverageConfirmed is accepted and the confirmation is recorded in AccountOpened; 5x needs none', () => {
    const { events } = run(accountInitialState(), { kind: 'OpenAccount', config: { ...CONFIG, leverage: 6, highLeverageConfirmed: true } });
    expect(events).toEqual([{ type: 'AccountOpened', data: { ...CONFIG, leverage: 6, highLeverageConfirmed: true } }]);
    const five = run(accountInitialState(), { kind: 'OpenAccount', config: { ...CONFIG, leverage: 5, highLeverageConfirmed: false } }).events;
    expect(five).toEqual([{ type: 'AccountOpened', data: { ...CONFIG, leverage: 5, highLeverageConfirmed: false } }]);
  });

  it('capital 10,000.01 above the venue balance 10,000 → CAPITAL_ABOVE_BALANCE; capital = balance is accepted', () => {
    const expected = {
      ok: false,
      error: { code: 'CAPITAL_ABOVE_BALANCE', field: 'capital', value: '10000.01', allowed: 'at most the venue balance 10000', message: 'capital = "10000.01" is refused: allowed at most the venue balance 10000' },
    };
    expect(validateAccountConfig({ ...CONFIG, capital: '10000.01' })).toEqual(expected);
    expect(accountDecider.decide({ kind: 'OpenAccount', config: { ...CONFIG, capital: '10000.01' } }, accountInitialState())).toEqual(expected);
    expect(validateAccountConfig({ ...CONFIG, capital: '10000', venueBalance: '10000' }).ok).toBe(true);
  });

  it('the range bounds themselves are accepted: riskFraction 0.005 and 0.1, maxMarginFraction 0.01 and 1, buffer 0 and 0.9, drawdown 0.001 and 0.5, daily loss 0.5, profit target 10, leverage = cap = 125, 1 and 10,000 trades', () => {
    for (const over of [
      { riskFraction: '0.005', maxMarginFraction: '0.01', liquidationBufferFraction: '0', maxMonthlyDrawdownFraction: '0.001', dailyLossLimitFraction: '0.001', dailyProfitTargetFraction: '0.001', maxTradesPerDay: 1 },
      { riskFraction: '0.1', maxMarginFraction: '1', liquidationBufferFraction: '0.9', maxMonthlyDrawdownFraction: '0.5', dailyLossLimitFraction: '0.5', dailyProfitTargetFraction: '10', maxTradesPerDay: 10_000 },
      { leverage: 125, leverageCap: 125 },
      { leverage: 20, leverageCap: 20 },
      { leverage: 1, leverageCap: 1, highLeverageConfirmed: false },
    ]) {
      expect(validateAccountConfig({ ...CONFIG, ...over })).toEqual({ ok: true, value: { ...CONFIG, ...over } });
    }
  });

  it('every other command for an account that is not open → UNKNOWN_ACCOUNT', () => {
    const s = accountInitialState();
    for (const c of [assess('i-1', NOV10), result(1, '-1', NOV10), observe('10000', '2025-11-10T00:00:00Z'), resume('10000', '2025-11-10T00:00:00Z'), setState('HALTED'), { kind: 'ReconfigureAccount', config: CONFIG } as const]) {
      expect(accountDecider.decide(c, s)).toEqual({ ok: false, error: { code: 'UNKNOWN_ACCOUNT', message: 'account is not open' } });
    }
  });
});

describe('ReconfigureAccount', () => {
  it('→ AccountReconfigured with the whole new configuration; the counters of the day are kept', () => {
    const { state: s1 } = history(ready(), [assess('i-1', NOV10), assess('i-2', NOV10 + 60_000)]);
    const next = { ...CONFIG, riskFraction: '0.02', maxTradesPerDay: 3 };
    const { events, state } = run(s1, { kind: 'ReconfigureAccount', config: next });
    expect(events).toEqual([{ type: 'AccountReconfigured', data: next }]);
    expect(state.config).toEqual(next);
    expect(state.tradesToday).toBe(2);
    expect(state.entries).toBe(2);
  });

  it('the new configuration drives the next decisions: risk 2 % of 10,000 = 200 → 200 / 1,191.74385 = 0.1678… → 0.167 BTC; 3 a day → the 3rd entry reaches the limit', () => {
    const { state: s1 } = history(ready(), [assess('i-1', NOV10), assess('i-2', NOV10 + 60_000), { kind: 'ReconfigureAccount', config: { ...CONFIG, riskFraction: '0.02', maxTradesPerDay: 3 } }]);
    const { events } = run(s1, assess('i-3', NOV10 + 120_000));
    expect(types(events)).toEqual(['EntryApproved', 'DailyTradeLimitReached']);
    const a = events[0].data as EventData<'EntryApproved'>;
    expect(a.assessment.riskAmount).toBe('200');
    expect(a.quantity).toBe('0.167');
    expect(a.clientOrderId).toBe(`${HASH}-3E`);
    expect(events[1].data).toEqual({ tradingDay: '2025-11-10', count: 3, limit: 3 });
  });

  it('a lower drawdown limit applies from the next observation: 2 % of 10,000 → 9,800 alerts at 1 % and 1.5 % and pauses at 2 %', () => {
    const s = run(ready(), { kind: 'ReconfigureAccount', config: { ...CONFIG, maxMonthlyDrawdownFraction: '0.02' } }).state;
    const { events } = run(s, observe('9800', '2025-11-12T00:00:00Z'));
    expect(events.map((e) => (e.type === 'DrawdownAlert' ? `alert ${e.data.threshold}` : e.type))).toEqual(['alert 0.5', 'alert 0.75', 'TradingPaused']);
    expect(events[2].data).toEqual({ reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-11-12', month: '2025-11', loss: '200', limit: '200' });
  });

  it('is validated like OpenAccount: riskFraction 0.11 → INVALID_CONFIG, CROSS → MARGIN_MODE_NOT_SUPPORTED, 6x unconfirmed → CONFIRMATION_REQUIRED, capital above balance → CAPITAL_ABOVE_BALANCE', () => {
    const s = opened();
    expect(refusal({ kind: 'ReconfigureAccount', config: { ...CONFIG, riskFraction: '0.11' } }, s)).toEqual({
      code: 'INVALID_CONFIG',
      field: 'riskFraction',
      value: '0.11',
      allowed: '0.005..0.1 (0.5 %..10 % per trade)',
      message: 'riskFraction = "0.11" is refused: allowed 0.005..0.1 (0.5 %..10 % per trade)',
    });
    expect(refusal({ kind: 'ReconfigureAccount', config: { ...CONFIG, marginMode: 'CROSS' } }, s).code).toBe('MARGIN_MODE_NOT_SUPPORTED');
    expect(refusal({ kind: 'ReconfigureAccount', config: { ...CONFIG, leverage: 6, highLeverageConfirmed: false } }, s).code).toBe('CONFIRMATION_REQUIRED');
    expect(refusal({ kind: 'ReconfigureAccount', config: { ...CONFIG, venueBalance: '9999.99' } }, s).code).toBe('CAPITAL_ABOVE_BALANCE');
  });

  it('the account id cannot change → INVALID_COMMAND naming the field', () => {
    expect(refusal({ kind: 'ReconfigureAccount', config: { ...CONFIG, accountId: 'acc2' } }, opened())).toEqual({
      code: 'INVALID_COMMAND',
      field: 'accountId',
      value: 'acc2',
      allowed: 'acc1',
      message: 'the account id cannot change',
    });
  });
});

describe('AssessEntry: approval', () => {
  // Worked example (Binance USD-M BTCUSDT, isolated, 10x requested, cap 20):
  //   risk amount     = 10,000 × 0.01 = 100
  //   stop distance   = 104,587.7 − 103,500 = 1,087.7
  //   fee per unit    = 0.0005 × (104,587.7 + 103,500) = 104.04385
  //   loss per unit   = 1,087.7 + 104.04385 = 1,191.74385
  //   raw quantity    = 100 / 1,191.74385 = 0.08391064908788914664841777870303253505356 (rounded toward 0)
  //   margin cap      = 0.5 × 10,000 = 5,000 → 5,000 × 10 / 104,587.7 ≈ 0.478 BTC, not binding
  //   quantity        = floor to step 0.001 → 0.083; notional = 0.083 × 104,587.7 = 8,680.7791
  //   initial margin  = 8,680.7791 / 10 = 868.07791 (bracket 1: 150x max, MMR 0.004, cum 0)
  //   liquidation     = (8,680.7791 − 868.07791 − 0) / (0.083 × 0.996) = 7,812.70119 / 0.082668 = 94,506.957831…
  //   liq. distance   = 104,587.7 − 94,506.957831… = 10,080.742168…; buffer 10 % = 1,008.0742168…
  //   stop to liq.    = 103,500 − 94,506.957831… = 8,993.042168… >= buffer → approved
  //   loss at stop    = 0.083 × 1,191.74385 = 98.91473955 (<= the 100 risked)
  const ASSESSMENT = {
    side: 'BUY',
    entryPrice: '104587.7',
    stopPrice: '103500',
    takeProfitPrice: '106763.1',
    equity: '10000',
    availableMargin: '10000',
    riskFraction: '0.01',
    riskAmount: '100',
    stopDistance: '1087.7',
    feePerUnit: '104.04385',
    lossPerUnit: '1191.74385',
    rawQuantity: '0.08391064908788914664841777870303253505356',
    marginCappedQuantity: '0.08391064908788914664841777870303253505356',
    quantity: '0.083',
    notional: '8680.7791',
    requestedLeverage: 10,
    leverageCap: 20,
    bracketMaxLeverage: 150,
    leverage: 10,
    bracket: 1,
    maintMarginRatio: '0.004',
    maintAmount: '0',
    initialMargin: '868.07791',
    maxMargin: '5000',
    liquidationPrice: '94506.95783132530120481927710843373493976',
    liquidationDistance: '10080.74216867469879518072289156626506024',
    stopToLiquidation: '8993.04216867469879518072289156626506024',
    requiredBuffer: '1008.074216867469879518072289156626506024',
    lossAtStop: '98.91473955',
    takerFeeRate: '0.0005',
    feesAtStop: '8.63563955', // 0.083 × 104.04385
    feeRiskShare: '0.0863563955', // of the 100 USDT risk amount
    maxFeeRiskFraction: '0.5',
  };

  it('the entry price is the real close of 2025-11-10 00:00', () => {
    expect(ENTRY).toBe('104587.7');
  });

  it('entry 104,587.7 / stop 103,500 / target 106,763.1 on 10,000 equity, the first event of the month → MonthOpened(2025-11, 10,000), then EntryApproved 0.083 BTC at 10x with the full assessment and client order id bw<hash(acc1)>-1E', () => {
    const { events, state } = run(opened(), assess('i-1', NOV10));
    expect(events).toEqual([
      { type: 'MonthOpened', data: { month: '2025-11', equity: '10000' } },
      {
        type: 'EntryApproved',
        data: {
          intentId: 'i-1',
          signalStreamId: SIGNALS,
          accountId: ACCOUNT,
          clientOrderId: `${HASH}-1E`,
          venue: 'binance-usdm',
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'MARKET',
          quantity: '0.083',
          leverage: 10,
          stopPrice: '103500',
          takeProfitPrice: '106763.1',
          tradingDay: '2025-11-10',
          assessment: ASSESSMENT,
          equitySnapshot: recordedEquity(equity({})),
        },
      },
    ]);
    expect(state.entries).toBe(1);
    expect(state.tradesToday).toBe(1);
    expect(state.day).toBe('2025-11-10');
    expect(state.month).toBe('2025-11');
    expect(str(state.monthBase!)).toBe('10000');
    expect([...state.assessedIntents]).toEqual(['i-1']);
  });

  it('once the month is open, an approval at the same equity is the only event', () => {
    expect(approval(run(ready(), assess('i-1', NOV10)).events).assessment).toEqual(ASSESSMENT);
  });

  it('client order ids follow the approved entries: -1E, -2E, -3E (deterministic, the same in every run)', () => {
    const ids = (s0: AccountState) =>
      history(s0, [assess('i-1', NOV10), assess('i-2', NOV10 + 60_000), assess('i-3', NOV10 + 120_000)]).events.map((e) => (e.data as EventData<'EntryApproved'>).clientOrderId);
    expect(ids(ready())).toEqual([`${HASH}-1E`, `${HASH}-2E`, `${HASH}-3E`]);
    expect(ids(ready())).toEqual(ids(ready()));
  });

  it('a denial does not use up a client order id: approve (-1E), deny (position open), approve (-2E)', () => {
    const { events } = history(ready(), [assess('i-1', NOV10), assess('i-2', NOV10 + 60_000, { openPositions: 1 }), assess('i-3', NOV10 + 120_000)]);
    expect(events.map((e) => (e.type === 'EntryApproved' ? e.data.clientOrderId : e.type))).toEqual([`${HASH}-1E`, 'EntryDenied', `${HASH}-2E`]);
  });

  it('a short is sized the same way: SELL at 104,587.7 with stop 105,675.4 (distance 1,087.7) → 0.083 BTC, liquidation above the entry', () => {
    const a = approval(run(ready(), assess('i-1', NOV10, {}, { side: 'SELL', stopPrice: '105675.4', takeProfitPrice: '102412.3' })).events);
    // fee per unit = 0.0005 × (104,587.7 + 105,675.4) = 105.13155; loss/unit 1,192.83155; 100 / that = 0.0838…
    expect(a).toMatchObject({ side: 'SELL', quantity: '0.083', leverage: 10, clientOrderId: `${HASH}-1E` });
    expect(a.assessment.feePerUnit).toBe('105.13155');
    expect(a.assessment.lossAtStop).toBe('99.00501865'); // 0.083 × 1,192.83155
    expect(dec(a.assessment.liquidationPrice!).gt(dec(ENTRY))).toBe(true);
  });
});

describe('AssessEntry: denials', () => {
  it('POSITION_ALREADY_OPEN when accounting reports an open position (one position per symbol, one-way mode)', () => {
    const d = denial(run(ready(), assess('i-1', NOV10, { openPositions: 1 })).events);
    expect(d).toEqual({
      intentId: 'i-1',
      signalStreamId: SIGNALS,
      accountId: ACCOUNT,
      reason: 'POSITION_ALREADY_OPEN',
      detail: '1 position(s) open; one position per symbol in one-way mode',
      tradingDay: '2025-11-10',
      assessment: null,
      equitySnapshot: recordedEquity(equity({ openPositions: 1 })),
    });
  });

  it('NO_EQUITY while accounting has no equity yet (an unknown equity is no drawdown observation: no MonthOpened)', () => {
    const d = denial(run(opened(), assess('i-1', NOV10, { known: false })).events);
    expect(d).toMatchObject({ reason: 'NO_EQUITY', detail: 'accounting has no equity for this account yet', assessment: null });
  });

  it('a sizing denial passes through with its partial assessment: a BUY with its stop 105,000 above the entry → STOP_ON_WRONG_SIDE', () => {
    const d = denial(run(ready(), assess('i-1', NOV10, {}, { stopPrice: '105000', takeProfitPrice: null })).events);
    expect(d.reason).toBe('STOP_ON_WRONG_SIDE');
    expect(d.detail).toBe("a BUY's stop must be below the entry 104587.7, got 105000");
    expect(d.assessment).toMatchObject({ entryPrice: '104587.7', stopPrice: '105000', equity: '10000' });
  });

  it('a denial is recorded but does not count as a trade', () => {
    const { state } = run(ready(), assess('i-1', NOV10, { openPositions: 1 }));
    expect(state.tradesToday).toBe(0);
    expect(state.entries).toBe(0);
    expect(state.assessedIntents.has('i-1')).toBe(true);
  });
});

describe('kill switch (SetTradingState)', () => {
  it('ACTIVE → HALTED → TradingStateChanged; entries are denied TRADING_HALTED', () => {
    const { events, state } = run(ready(), setState('HALTED'));
    expect(events).toEqual([{ type: 'TradingStateChanged', data: { state: 'HALTED', previous: 'ACTIVE', reason: 'venue incident', by: 'ops' } }]);
    expect(state.tradingState).toBe('HALTED');
    expect(denial(run(state, assess('i-1', NOV10)).events)).toMatchObject({ reason: 'TRADING_HALTED', detail: 'trading is halted (kill switch): no new orders', tradingDay: '2025-11-10', assessment: null });
  });

  it('HALTED → REDUCING: entries are denied TRADING_REDUCING', () => {
    const { events, state } = history(ready(), [setState('HALTED'), setState('REDUCING', 'closing out')]);
    expect(events[1]).toEqual({ type: 'TradingStateChanged', data: { state: 'REDUCING', previous: 'HALTED', reason: 'closing out', by: 'ops' } });
    expect(denial(run(state, assess('i-1', NOV10)).events)).toMatchObject({ reason: 'TRADING_REDUCING', detail: 'trading is reducing: only reduce-only orders' });
  });

  it('back to ACTIVE → approvals again; the denials used no client order id (-1E)', () => {
    const { state } = history(ready(), [setState('HALTED'), assess('i-1', NOV10), setState('REDUCING'), assess('i-2', NOV10 + 1), setState('ACTIVE', 'incident over')]);
    expect(state.tradingState).toBe('ACTIVE');
    expect(approval(run(state, assess('i-3', NOV10 + 2)).events).clientOrderId).toBe(`${HASH}-1E`);
  });

  it('the same state again → no event', () => {
    expect(run(ready(), setState('ACTIVE')).events).toEqual([]);
    const halted = run(ready(), setState('HALTED')).state;
    expect(run(halted, setState('HALTED', 'still')).events).toEqual([]);
  });

  it.each(['', '   '])('an empty reason (%j) → INVALID_COMMAND', (reason) => {
    expect(refusal(setState('HALTED', reason), ready())).toEqual({ code: 'INVALID_COMMAND', field: 'reason', value: reason, allowed: 'a non-empty reason', message: 'a trading-state change needs a reason' });
  });

  it('the kill switch outranks the other checks: HALTED with a position open → TRADING_HALTED; the first assessment of a month still opens it first', () => {
    const halted = run(opened(), setState('HALTED')).state;
    const { events } = run(halted, assess('i-1', NOV10, { openPositions: 1 }));
    expect(types(events)).toEqual(['MonthOpened', 'EntryDenied']);
    expect(events[1].data).toMatchObject({ reason: 'TRADING_HALTED' });
  });

  it('results are still recorded while HALTED (closes are always allowed)', () => {
    const halted = run(ready(), setState('HALTED')).state;
    expect(types(run(halted, result(1, '-50', NOV10)).events)).toEqual(['PositionResultRecorded']);
  });

  // An empty `by` is refused: the decider never emits an event that fails its own contract.
  it.each([
    ['SetTradingState', { kind: 'SetTradingState', state: 'HALTED', reason: 'venue incident', by: '' } as AccountCommand, false],
    ['ResumeTrading', { kind: 'ResumeTrading', reason: 'reviewed', by: '', equity: dec('9600'), ts: at('2025-11-20T00:00:00Z') } as AccountCommand, true],
  ] as const)('%s with an empty `by` is refused, never decided into an event that fails parseEvent', (_name, c, paused) => {
    const s = paused ? run(ready(), observe('9600', '2025-11-19T00:00:00Z')).state : ready();
    const r = accountDecider.decide(c, s);
    expect(r.ok ? r.value.map((e) => e.type) : r.error).toMatchObject({ code: 'INVALID_COMMAND', field: 'by' });
  });
});

describe('daily trade limit', () => {
  it('maxTradesPerDay 50: DailyTradeLimitWarning with the 40th approval (⌈50 × 0.8⌉ = 40), DailyTradeLimitReached with the 50th, the 51st denied DAILY_TRADE_LIMIT; reset at 00:00 UTC', () => {
    let s = ready();
    const extras: [number, DomainEvent[]][] = [];
    for (let n = 1; n <= 50; n++) {
      const { events, state } = run(s, assess(`i-${n}`, NOV10 + n * 60_000));
      expect(events[0].type).toBe('EntryApproved');
      expect((events[0].data as EventData<'EntryApproved'>).clientOrderId).toBe(`${HASH}-${n}E`);
      if (events.length > 1) extras.push([n, events.slice(1)]);
      s = state;
    }
    expect(extras).toEqual([
      [40, [{ type: 'DailyTradeLimitWarning', data: { tradingDay: '2025-11-10', count: 40, limit: 50 } }]],
      [50, [{ type: 'DailyTradeLimitReached', data: { tradingDay: '2025-11-10', count: 50, limit: 50 } }]],
    ]);
    expect(s.tradesToday).toBe(50);

    const late = run(s, assess('i-51', at('2025-11-10T23:59:59.999Z')));
    expect(denial(late.events)).toMatchObject({ reason: 'DAILY_TRADE_LIMIT', detail: '50 of 50 entries already taken on 2025-11-10; closes are still allowed', tradingDay: '2025-11-10' });
    expect(late.state.tradesToday).toBe(50);
    expect(types(run(late.state, result(1, '12.5', at('2025-11-10T23:59:59.999Z'))).events)).toEqual(['PositionResultRecorded']); // closes still counted

    const next = run(late.state, assess('i-52', at('2025-11-11T00:00:00Z')));
    expect(approval(next.events)).toMatchObject({ clientOrderId: `${HASH}-51E`, tradingDay: '2025-11-11' });
    expect(next.state.tradesToday).toBe(1);
    expect(next.state.day).toBe('2025-11-11');
  });

  it('maxTradesPerDay 2: ⌈2 × 0.8⌉ = 2 is the limit itself, so no warning; Reached with the 2nd, the 3rd denied', () => {
    const { events, state } = history(ready({ maxTradesPerDay: 2 }), [assess('i-1', NOV10), assess('i-2', at('2025-11-10T12:00:00Z'))]);
    expect(types(events)).toEqual(['EntryApproved', 'EntryApproved', 'DailyTradeLimitReached']);
    expect(events[2].data).toEqual({ tradingDay: '2025-11-10', count: 2, limit: 2 });
    expect(denial(run(state, assess('i-3', at('2025-11-10T23:59:59.999Z'))).events)).toMatchObject({ reason: 'DAILY_TRADE_LIMIT', detail: '2 of 2 entries already taken on 2025-11-10; closes are still allowed' });
  });

  it('maxTradesPerDay 5: warning with the 4th (⌈5 × 0.8⌉ = 4), reached with the 5th', () => {
    const { events } = history(
      ready({ maxTradesPerDay: 5 }),
      [1, 2, 3, 4, 5].map((n) => assess(`i-${n}`, NOV10 + n)),
    );
    expect(types(events)).toEqual(['EntryApproved', 'EntryApproved', 'EntryApproved', 'EntryApproved', 'DailyTradeLimitWarning', 'EntryApproved', 'DailyTradeLimitReached']);
    expect(events[4].data).toEqual({ tradingDay: '2025-11-10', count: 4, limit: 5 });
  });
});

describe('daily loss limit and daily profit target (realised results, per UTC day)', () => {
  it('daily loss limit 3 % of 10,000 = 300: −120.5 then −180 (day −300.5) → TradingPaused(DAILY_LOSS_LIMIT); entries denied DAILY_LOSS_LIMIT that day, approved the next', () => {
    const s0 = ready();
    const first = run(s0, result(1, '-120.5', at('2025-11-10T02:00:00Z')));
    expect(first.events).toEqual([
      { type: 'PositionResultRecorded', data: { positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-1', netPnl: '-120.5', tradingDay: '2025-11-10', month: '2025-11' } },
    ]);
    const second = run(first.state, result(2, '-180', at('2025-11-10T03:00:00Z')));
    expect(second.events).toEqual([
      { type: 'PositionResultRecorded', data: { positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-2', netPnl: '-180', tradingDay: '2025-11-10', month: '2025-11' } },
      { type: 'TradingPaused', data: { reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-10', month: '2025-11', loss: '300.5', limit: '300' } },
    ]);
    expect(second.state.pausedForDay).toEqual({ day: '2025-11-10', reason: 'DAILY_LOSS_LIMIT' });
    expect(str(second.state.pnlToday)).toBe('-300.5');

    // A further loss the same day is recorded without a second pause.
    const third = run(second.state, result(3, '-10', at('2025-11-10T04:00:00Z')));
    expect(types(third.events)).toEqual(['PositionResultRecorded']);

    const sameDay = run(third.state, assess('i-1', at('2025-11-10T23:59:59.999Z')));
    expect(denial(sameDay.events)).toMatchObject({ reason: 'DAILY_LOSS_LIMIT', detail: 'daily loss limit reached on 2025-11-10; entries resume at 00:00 UTC', tradingDay: '2025-11-10' });
    const nextDay = run(sameDay.state, assess('i-2', at('2025-11-11T00:00:00Z')));
    expect(approval(nextDay.events)).toMatchObject({ clientOrderId: `${HASH}-1E`, tradingDay: '2025-11-11' });
    expect(str(nextDay.state.pnlToday)).toBe('0');
    expect(nextDay.state.pausedForDay).toBeNull();
  });

  it('a loss exactly at the daily limit pauses (−300 >= 300); a profit earlier in the day is netted (+75.25 − 375.25 = −300)', () => {
    expect(run(ready(), result(1, '-300', NOV10)).events[1]).toEqual({ type: 'TradingPaused', data: { reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-10', month: '2025-11', loss: '300', limit: '300' } });
    const { events } = history(ready(), [result(1, '75.25', NOV10), result(2, '-375.25', NOV10 + 1)]);
    expect(types(events)).toEqual(['PositionResultRecorded', 'PositionResultRecorded', 'TradingPaused']);
    expect(events[2].data).toMatchObject({ loss: '300', limit: '300' });
  });

  it('a loss just under the limit does not pause (−299.99); yesterday’s losses do not count (−200 on the 10th, −200 on the 11th)', () => {
    expect(types(run(ready(), result(1, '-299.99', NOV10)).events)).toEqual(['PositionResultRecorded']);
    const { events } = history(ready(), [result(1, '-200', at('2025-11-10T12:00:00Z')), result(2, '-200', at('2025-11-11T12:00:00Z'))]);
    expect(types(events)).toEqual(['PositionResultRecorded', 'PositionResultRecorded']);
  });

  it('no daily limit configured (null): a −300 day does not pause', () => {
    expect(types(run(ready({ dailyLossLimitFraction: null }), result(1, '-300', NOV10)).events)).toEqual(['PositionResultRecorded']);
  });

  it('ResumeTrading after a daily pause, the same day → TradingResumed(DAILY_LOSS_LIMIT); entries approved again that day', () => {
    const { state } = history(ready(), [result(1, '-300.5', at('2025-11-10T03:00:00Z'))]);
    const { events, state: resumed } = run(state, resume('9699.5', '2025-11-10T05:00:00Z', 'loss reviewed'));
    expect(events).toEqual([
      { type: 'TradingResumed', data: { reason: 'loss reviewed', by: 'trader', pausedReason: 'DAILY_LOSS_LIMIT', month: '2025-11', tradingDay: '2025-11-10', equity: '9699.5' } },
    ]);
    expect(resumed.pausedForDay).toBeNull();
    expect(types(run(resumed, assess('i-1', at('2025-11-10T06:00:00Z'))).events)).toEqual(['EntryApproved']);
  });

  it('a daily pause is over the next day: ResumeTrading then → NOT_PAUSED', () => {
    const { state } = history(ready(), [result(1, '-300.5', at('2025-11-10T03:00:00Z'))]);
    expect(refusal(resume('9699.5', '2025-11-11T00:00:00Z'), state)).toEqual({ code: 'NOT_PAUSED', message: 'trading is not paused' });
  });

  it('daily profit target 2 % of 10,000 = 200: +150 then +60 (day +210) → TradingPaused(DAILY_PROFIT_TARGET); entries denied DAILY_PROFIT_TARGET that day, approved the next', () => {
    const s0 = ready({ dailyProfitTargetFraction: '0.02' });
    const { events, state } = history(s0, [result(1, '150', at('2025-11-10T02:00:00Z')), result(2, '60', at('2025-11-10T03:00:00Z'))]);
    expect(types(events)).toEqual(['PositionResultRecorded', 'PositionResultRecorded', 'TradingPaused']);
    expect(events[2].data).toEqual({ reason: 'DAILY_PROFIT_TARGET', tradingDay: '2025-11-10', month: '2025-11', loss: '210', limit: '200' });
    expect(state.pausedForDay).toEqual({ day: '2025-11-10', reason: 'DAILY_PROFIT_TARGET' });
    const sameDay = run(state, assess('i-1', at('2025-11-10T20:00:00Z')));
    expect(denial(sameDay.events)).toMatchObject({ reason: 'DAILY_PROFIT_TARGET', detail: 'daily profit target reached on 2025-11-10; entries resume at 00:00 UTC' });
    expect(types(run(sameDay.state, assess('i-2', at('2025-11-11T00:00:00Z'))).events)).toEqual(['EntryApproved']);
  });

  it('a profit exactly at the target pauses (+200 >= 200); +199.99 does not; none configured (null, the default) never pauses', () => {
    expect(run(ready({ dailyProfitTargetFraction: '0.02' }), result(1, '200', NOV10)).events[1]).toEqual({
      type: 'TradingPaused',
      data: { reason: 'DAILY_PROFIT_TARGET', tradingDay: '2025-11-10', month: '2025-11', loss: '200', limit: '200' },
    });
    expect(types(run(ready({ dailyProfitTargetFraction: '0.02' }), result(1, '199.99', NOV10)).events)).toEqual(['PositionResultRecorded']);
    expect(types(run(ready(), result(1, '5000', NOV10)).events)).toEqual(['PositionResultRecorded']);
  });
});

describe('monthly drawdown (realised + unrealised equity; 10,000 at the start of the month, limit 4 % = 400)', () => {
  const alert = (threshold: string, eq: string, drawdown: string, fraction: string, base = '10000', month = '2025-11') => ({
    type: 'DrawdownAlert',
    data: { month, threshold, equity: eq, monthStartEquity: base, drawdown, drawdownFraction: fraction, limitFraction: '0.04' },
  });

  it('the first observation of the month → MonthOpened with its equity', () => {
    const { events, state } = run(opened(), observe('10000', '2025-11-10T00:00:00Z'));
    expect(events).toEqual([{ type: 'MonthOpened', data: { month: '2025-11', equity: '10000' } }]);
    expect(state.month).toBe('2025-11');
    expect(str(state.monthBase!)).toBe('10000');
    expect(run(state, observe('10000', '2025-11-10T01:00:00Z')).events).toEqual([]);
  });

  it('9,800 (200 / 10,000 = 2 % = 0.5 × 4 %) → DrawdownAlert 0.5; 9,700 (3 % = 0.75 × 4 %) → 0.75; 9,600 (4 %) → TradingPaused(MONTHLY_DRAWDOWN_LIMIT); each exactly once', () => {
    const steps: [string, string][] = [
      ['9900', '2025-11-11T00:00:00Z'], // 1 %: nothing
      ['9800.01', '2025-11-11T01:00:00Z'], // 199.99 / 10,000 = 1.9999 % < 2 %: nothing
      ['9800', '2025-11-11T02:00:00Z'], // 2 %: alert 0.5
      ['9800', '2025-11-11T03:00:00Z'], // again: nothing
      ['9750', '2025-11-11T04:00:00Z'], // 2.5 %: nothing
      ['9700', '2025-11-12T00:00:00Z'], // 3 %: alert 0.75
      ['9650', '2025-11-12T01:00:00Z'], // 3.5 %: nothing
      ['9600', '2025-11-13T00:00:00Z'], // 4 %: pause
      ['9500', '2025-11-13T01:00:00Z'], // 5 %: already paused, nothing
      ['10100', '2025-11-14T00:00:00Z'], // recovered: still nothing (the pause holds)
    ];
    let s = ready();
    const seen: DomainEvent[][] = [];
    for (const [v, iso] of steps) {
      const r = run(s, observe(v, iso));
      seen.push(r.events);
      s = r.state;
    }
    expect(seen).toEqual([
      [],
      [],
      [alert('0.5', '9800', '200', '0.02')],
      [],
      [],
      [alert('0.75', '9700', '300', '0.03')],
      [],
      [{ type: 'TradingPaused', data: { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-11-13', month: '2025-11', loss: '400', limit: '400' } }],
      [],
      [],
    ]);
    expect(s.monthlyPause).toEqual({ month: '2025-11' });
    expect([...s.alertsThisMonth]).toEqual(['0.5', '0.75']);
  });

  it('one observation past the limit (10,000 → 9,600) raises the alerts in order, then the pause', () => {
    const { events } = run(ready(), observe('9600', '2025-11-13T00:00:00Z'));
    expect(events).toEqual([
      alert('0.5', '9600', '400', '0.04'),
      alert('0.75', '9600', '400', '0.04'),
      { type: 'TradingPaused', data: { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-11-13', month: '2025-11', loss: '400', limit: '400' } },
    ]);
  });

  it('after the pause entries are denied TRADING_PAUSED, for the rest of the month and in the next month too: the pause holds until resumed', () => {
    const { state } = run(ready(), observe('9600', '2025-11-13T00:00:00Z'));
    for (const [id, iso] of [
      ['i-1', '2025-11-13T00:01:00Z'],
      ['i-2', '2025-11-30T23:59:59.999Z'],
    ] as const) {
      expect(denial(run(state, assess(id, at(iso), eqOf('9600'))).events)).toMatchObject({
        reason: 'TRADING_PAUSED',
        detail: 'monthly drawdown limit reached in 2025-11; entries resume only by command',
        tradingDay: iso.slice(0, 10),
      });
    }
    // December: the assessment's equity opens the month first, then the entry is still denied.
    const dec1 = run(state, assess('i-3', at('2025-12-01T00:00:00Z'), eqOf('9600')));
    expect(dec1.events).toEqual([
      { type: 'MonthOpened', data: { month: '2025-12', equity: '9600' } },
      {
        type: 'EntryDenied',
        data: {
          intentId: 'i-3',
          signalStreamId: SIGNALS,
          accountId: ACCOUNT,
          reason: 'TRADING_PAUSED',
          detail: 'monthly drawdown limit reached in 2025-11; entries resume only by command',
          tradingDay: '2025-12-01',
          assessment: null,
          equitySnapshot: recordedEquity(equity(eqOf('9600'))),
        },
      },
    ]);
    expect(dec1.state.monthlyPause).toEqual({ month: '2025-11' });
  });

  it('ResumeTrading with nothing paused → NOT_PAUSED; with an empty reason → INVALID_COMMAND (even when paused)', () => {
    expect(refusal(resume('10000', '2025-11-13T00:00:00Z'), ready())).toEqual({ code: 'NOT_PAUSED', message: 'trading is not paused' });
    const paused = run(ready(), observe('9600', '2025-11-13T00:00:00Z')).state;
    expect(refusal(resume('9600', '2025-11-13T01:00:00Z', ' '), paused)).toEqual({
      code: 'INVALID_COMMAND',
      field: 'reason',
      value: ' ',
      allowed: 'a non-empty reason',
      message: 'a resume needs a reason',
    });
  });

  it('after a pause, ResumeTrading → TradingResumed with the equity; entries are approved; the drawdown is then measured from the resume equity 9,600 (limit 4 % × 9,600 = 384)', () => {
    const paused = run(ready(), observe('9600', '2025-11-13T00:00:00Z')).state;
    const { events, state } = run(paused, resume('9600', '2025-11-14T09:00:00Z'));
    expect(events).toEqual([
      { type: 'TradingResumed', data: { reason: 'drawdown reviewed', by: 'trader', pausedReason: 'MONTHLY_DRAWDOWN_LIMIT', month: '2025-11', tradingDay: '2025-11-14', equity: '9600' } },
    ]);
    expect(state.monthlyPause).toBeNull();
    expect(str(state.monthBase!)).toBe('9600');
    expect(state.alertsThisMonth.size).toBe(0);
    expect(refusal(resume('9600', '2025-11-14T09:01:00Z'), state)).toEqual({ code: 'NOT_PAUSED', message: 'trading is not paused' });

    // 9,600 is no drawdown from the new base: the entry is the only event.
    const entry = run(state, assess('i-1', at('2025-11-14T10:00:00Z'), eqOf('9600')));
    expect(types(entry.events)).toEqual(['EntryApproved']);

    const { events: later } = history(entry.state, [
      observe('9408', '2025-11-15T00:00:00Z'), // 192 / 9,600 = 2 %
      observe('9312', '2025-11-16T00:00:00Z'), // 288 / 9,600 = 3 %
      observe('9216', '2025-11-17T00:00:00Z'), // 384 / 9,600 = 4 %
    ]);
    expect(later).toEqual([
      alert('0.5', '9408', '192', '0.02', '9600'),
      alert('0.75', '9312', '288', '0.03', '9600'),
      { type: 'TradingPaused', data: { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-11-17', month: '2025-11', loss: '384', limit: '384' } },
    ]);
  });

  it('paused by both breakers the same day: one resume per pause, the monthly one first; the daily one still holds after the first resume', () => {
    const { state } = history(ready(), [result(1, '-310', at('2025-11-11T01:00:00Z')), observe('9600', '2025-11-11T02:00:00Z')]);
    expect(state.pausedForDay).toEqual({ day: '2025-11-11', reason: 'DAILY_LOSS_LIMIT' });
    expect(state.monthlyPause).toEqual({ month: '2025-11' });
    const first = run(state, resume('9600', '2025-11-11T03:00:00Z'));
    expect(first.events[0].data).toMatchObject({ pausedReason: 'MONTHLY_DRAWDOWN_LIMIT' });
    expect(denial(run(first.state, assess('i-1', at('2025-11-11T04:00:00Z'), eqOf('9600'))).events).reason).toBe('DAILY_LOSS_LIMIT');
    const second = run(first.state, resume('9600', '2025-11-11T05:00:00Z', 'loss reviewed'));
    expect(second.events[0].data).toMatchObject({ pausedReason: 'DAILY_LOSS_LIMIT' });
    expect(types(run(second.state, assess('i-2', at('2025-11-11T06:00:00Z'), eqOf('9600'))).events)).toEqual(['EntryApproved']);
  });

  it('a new month re-opens with MonthOpened at its first equity and fresh alerts: November alert 0.5 at 9,800; December opens at 9,900, alert 0.5 again at 9,702 (198 / 9,900 = 2 %)', () => {
    const { events } = history(ready(), [observe('9800', '2025-11-20T00:00:00Z'), observe('9900', '2025-12-01T00:00:00Z'), observe('9702', '2025-12-02T00:00:00Z')]);
    expect(events).toEqual([
      alert('0.5', '9800', '200', '0.02'),
      { type: 'MonthOpened', data: { month: '2025-12', equity: '9900' } },
      alert('0.5', '9702', '198', '0.02', '9900', '2025-12'),
    ]);
  });

  it('a paused account observed in the next month: MonthOpened and December alerts, but no second pause', () => {
    const paused = run(ready(), observe('9600', '2025-11-13T00:00:00Z')).state;
    const { events, state } = history(paused, [observe('9500', '2025-12-01T00:00:00Z'), observe('9000', '2025-12-02T00:00:00Z')]);
    // 500 / 9,500 = 0.0526… ≥ 4 %: both alerts, the pause is already in force.
    expect(types(events)).toEqual(['MonthOpened', 'DrawdownAlert', 'DrawdownAlert']);
    expect(state.monthlyPause).toEqual({ month: '2025-11' });
  });

  it("an AssessEntry's equity feeds the drawdown: 9,700 → both alerts, then the approval; 9,600 → the pause, then the denial (breaker events come first)", () => {
    const s0 = ready();
    const first = run(s0, assess('i-1', at('2025-11-12T00:00:00Z'), eqOf('9700')));
    expect(types(first.events)).toEqual(['DrawdownAlert', 'DrawdownAlert', 'EntryApproved']);
    expect(first.events.slice(0, 2)).toEqual([alert('0.5', '9700', '300', '0.03'), alert('0.75', '9700', '300', '0.03')]);
    expect((first.events[2].data as EventData<'EntryApproved'>).assessment.equity).toBe('9700');

    const second = run(first.state, assess('i-2', at('2025-11-13T00:00:00Z'), { ...eqOf('9600'), openPositions: 1 }));
    expect(second.events).toEqual([
      { type: 'TradingPaused', data: { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-11-13', month: '2025-11', loss: '400', limit: '400' } },
      {
        type: 'EntryDenied',
        data: {
          intentId: 'i-2',
          signalStreamId: SIGNALS,
          accountId: ACCOUNT,
          reason: 'TRADING_PAUSED', // the pause it just tripped outranks the open position
          detail: 'monthly drawdown limit reached in 2025-11; entries resume only by command',
          tradingDay: '2025-11-13',
          assessment: null,
          equitySnapshot: recordedEquity(equity({ ...eqOf('9600'), openPositions: 1 })),
        },
      },
    ]);
  });

  it('the first AssessEntry of a month opens it: [MonthOpened, EntryApproved]; a second one the same month at the same equity: [EntryApproved]', () => {
    const { events } = history(ready(), [assess('i-1', at('2025-12-01T10:00:00Z'), eqOf('9950')), assess('i-2', at('2025-12-01T11:00:00Z'), eqOf('9950'))]);
    expect(types(events)).toEqual(['MonthOpened', 'EntryApproved', 'EntryApproved']);
    expect(events[0].data).toEqual({ month: '2025-12', equity: '9950' });
  });

  // A resume sets the month too (it was once forgotten: the resume equity was thrown away as the base).
  it('a resume in a new month re-bases that month too: resumed at 9,600 on 2025-12-01, a fall to 9,216 (384 / 9,600 = 4 %) pauses again', () => {
    const { state: paused } = run(ready(), observe('9600', '2025-11-13T00:00:00Z'));
    const { events: resumed, state } = run(paused, resume('9600', '2025-12-01T08:00:00Z'));
    expect(resumed[0].data).toMatchObject({ month: '2025-12', equity: '9600' });
    const { events } = run(state, observe('9216', '2025-12-01T09:00:00Z'));
    expect(events.filter((e) => e.type === 'TradingPaused').map((e) => e.data)).toEqual([
      { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-12-01', month: '2025-12', loss: '384', limit: '384' },
    ]);
  });
});

describe('at-least-once delivery', () => {
  it('a redelivered intent (same intentId) yields no event, after an approval and after a denial — even in a later month (no MonthOpened)', () => {
    const a = run(ready(), assess('i-1', NOV10));
    expect(run(a.state, assess('i-1', NOV10)).events).toEqual([]);
    expect(run(a.state, assess('i-1', NOV10 + 86_400_000)).events).toEqual([]); // a later day
    expect(run(a.state, assess('i-1', at('2025-12-05T00:00:00Z'), eqOf('9000'))).events).toEqual([]); // a later month, a lower equity
    const d = run(ready(), assess('i-9', NOV10, { openPositions: 1 }));
    expect(run(d.state, assess('i-9', NOV10)).events).toEqual([]);
  });

  it('a redelivered position result yields no event and is not counted twice', () => {
    const first = run(ready(), result(1, '-100', NOV10));
    const again = run(first.state, result(1, '-100', NOV10));
    expect(again.events).toEqual([]);
    expect(str(again.state.pnlToday)).toBe('-100');
    expect([...again.state.recordedPositions]).toEqual(['position-acc1-binance-usdm-BTCUSDT-1']);
  });

  it('a redelivered result that would have tripped the daily limit does not pause (−300 delivered twice: recorded once, pause once)', () => {
    const { events } = history(ready(), [result(1, '-300', NOV10), result(1, '-300', NOV10 + 1)]);
    expect(types(events)).toEqual(['PositionResultRecorded', 'TradingPaused']);
  });
});

describe('evolve', () => {
  it('folding the decided events from the initial state rebuilds the state, field by field', () => {
    const { events, state } = history(accountInitialState(), [
      { kind: 'OpenAccount', config: { ...CONFIG, maxTradesPerDay: 2 } },
      assess('i-1', NOV10), // MonthOpened(2025-11, 10,000), approved
      result(1, '75.25', at('2025-11-10T05:00:00Z')),
      assess('i-2', at('2025-11-10T06:00:00Z')), // approved, the 2nd of 2: Reached
      assess('i-3', at('2025-11-10T07:00:00Z')), // DAILY_TRADE_LIMIT
      result(2, '-320', at('2025-11-10T08:00:00Z')), // day 75.25 − 320 = −244.75: no daily pause
      setState('REDUCING'),
      assess('i-4', at('2025-11-10T09:00:00Z')), // TRADING_REDUCING
      setState('ACTIVE', 'incident over'),
      observe('9800', '2025-11-11T00:00:00Z'), // 2 %: alert 0.5
      result(3, '-310', at('2025-11-11T01:00:00Z')), // day −310 >= 300: daily pause on the 11th
      observe('9600', '2025-11-11T02:00:00Z'), // 4 %: alert 0.75, monthly pause
      resume('9600', '2025-11-11T03:00:00Z'), // resumes the monthly pause first
      assess('i-5', at('2025-11-12T00:00:00Z'), eqOf('9600')), // a new day: approved
    ]);
    expect(types(events)).toEqual([
      'AccountOpened',
      'MonthOpened',
      'EntryApproved',
      'PositionResultRecorded',
      'EntryApproved',
      'DailyTradeLimitReached',
      'EntryDenied',
      'PositionResultRecorded',
      'TradingStateChanged',
      'EntryDenied',
      'TradingStateChanged',
      'DrawdownAlert',
      'PositionResultRecorded',
      'TradingPaused',
      'DrawdownAlert',
      'TradingPaused',
      'TradingResumed',
      'EntryApproved',
    ]);
    const rebuilt = fold(accountEvolve, accountInitialState(), events);
    expect(rebuilt).toEqual(state);
    expect({
      tradingState: rebuilt.tradingState,
      entries: rebuilt.entries,
      day: rebuilt.day,
      tradesToday: rebuilt.tradesToday,
      pnlToday: str(rebuilt.pnlToday),
      pausedForDay: rebuilt.pausedForDay,
      month: rebuilt.month,
      monthBase: str(rebuilt.monthBase!),
      alertsThisMonth: [...rebuilt.alertsThisMonth],
      monthlyPause: rebuilt.monthlyPause,
      recordedPositions: [...rebuilt.recordedPositions],
      assessedIntents: [...rebuilt.assessedIntents],
    }).toEqual({
      tradingState: 'ACTIVE',
      entries: 3,
      day: '2025-11-12',
      tradesToday: 1,
      pnlToday: '0',
      pausedForDay: null, // the 11th's pause ended with the day
      month: '2025-11',
      monthBase: '9600', // re-based by the resume
      alertsThisMonth: [],
      monthlyPause: null,
      recordedPositions: [1, 2, 3].map((n) => `position-acc1-binance-usdm-BTCUSDT-${n}`),
      assessedIntents: ['i-1', 'i-2', 'i-3', 'i-4', 'i-5'],
    });
    expect(events[13].data).toEqual({ reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-11', month: '2025-11', loss: '310', limit: '300' });
    expect(events[16].data).toMatchObject({ pausedReason: 'MONTHLY_DRAWDOWN_LIMIT', equity: '9600' });
  });

  it('events of other aggregates leave the state unchanged', () => {
    const s = opened();
    expect(accountEvolve(s, { type: 'StopCancelled', data: { reason: 'POSITION_CLOSED' } })).toBe(s);
  });
});

describe('AssessEntry: cost guard', () => {
  // Entry 104,587.7 with the stop 100 below: fees 0.0005 × (104,587.7 + 104,487.7) = 104.5377 per unit of a
  // 204.5377 loss per unit; the margin cap (5,000 at 10x) sizes 0.478 BTC, whose fees are 49.97 of the 100 risk amount.
  const tight = { stopPrice: '104487.7' };
  it('fees taking more of the risk amount than the account allows: denied COST_TOO_HIGH with the fee, the risk amount and the share in the event', () => {
    const d = denial(run(ready({ maxFeeRiskFraction: '0.4' }), assess('i-fee', NOV10, {}, tight)).events);
    expect(d.reason).toBe('COST_TOO_HIGH');
    expect(d.assessment).toMatchObject({ riskAmount: '100', feesAtStop: '49.9690206', feeRiskShare: '0.499690206', maxFeeRiskFraction: '0.4', quantity: '0.478' });
    expect(d.detail).toBe('taker fees at entry and stop 49.97 USDT are 50 % of the risk amount 100 USDT; at most 40 % allowed (widen the stop or raise the limit)');
  });

  it('the same intent passes the default 50 % guard, and an account without a guard (null, as before v4)', () => {
    expect(approval(run(ready(), assess('i-fee', NOV10, {}, tight)).events).quantity).toBe('0.478');
    expect(approval(run(ready({ maxFeeRiskFraction: null }), assess('i-fee', NOV10, {}, tight)).events).assessment.maxFeeRiskFraction).toBeNull();
  });
});

describe('lifetime drawdown kill switch (default 10 % below the peak; the peak starts at the capital)', () => {
  const live = () => ready({ maxLifetimeDrawdownFraction: '0.1', maxMonthlyDrawdownFraction: '0.5' });

  it('equity rising past the peak by more than 0.1 % records the new peak; 10 % below it halts and flattens, once', () => {
    const { events, state } = history(live(), [
      observe('10005', '2025-11-10T01:00:00Z'), // within the 0.1 % step: nothing
      observe('11000', '2025-11-10T02:00:00Z'), // a new peak
      observe('9901', '2025-11-11T00:00:00Z'), // 9.99 % below 11,000: nothing
      observe('9900', '2025-11-12T00:00:00Z'), // 10 %: fires
      observe('9000', '2025-11-13T00:00:00Z'), // deeper: fires once only
    ]);
    const relevant = events.filter((e) => !['MonthOpened', 'DrawdownAlert'].includes(e.type));
    expect(relevant).toEqual([
      { type: 'EquityPeakRaised', data: { peakEquity: '11000' } },
      { type: 'LifetimeDrawdownBreached', data: { peakEquity: '11000', equity: '9900', drawdown: '1100', drawdownFraction: '0.1', limitFraction: '0.1' } },
      { type: 'TradingStateChanged', data: { state: 'HALTED', previous: 'ACTIVE', reason: 'lifetime drawdown 10 % of the peak 11000 USDT reached the limit 10 %', by: 'risk' } },
      { type: 'FlattenRequested', data: { by: 'risk', reason: 'lifetime drawdown 10 % of the peak 11000 USDT reached the limit 10 %' } },
    ]);
    expect(state.tradingState).toBe('HALTED');
    expect(state.lifetimeBreach).toBe(true);
  });

  it('an intent whose own equity reading crosses the line is denied TRADING_HALTED after the switch fires', () => {
    const { events } = run(live(), assess('i-dd', NOV10, eqOf('8999')));
    expect(types(events).filter((t) => t !== 'MonthOpened' && t !== 'DrawdownAlert')).toEqual(['LifetimeDrawdownBreached', 'TradingStateChanged', 'FlattenRequested', 'EntryDenied']);
    expect((events.at(-1)!.data as { reason: string }).reason).toBe('TRADING_HALTED');
  });

  it('only a resume with a reason lets trading start again: ACTIVE, the peak re-based on the equity at the resume; setting the state by hand is refused', () => {
    const fired = history(live(), [observe('8900', '2025-11-12T00:00:00Z')]).state;
    expect(refusal(setState('ACTIVE'), fired)).toMatchObject({ code: 'INVALID_COMMAND', field: 'state' });
    expect(run(fired, setState('HALTED')).events).toEqual([]); // already halted
    const { events, state } = run(fired, resume('8900', '2025-11-12T06:00:00Z', 'loss accepted, strategy reviewed'));
    expect(events).toEqual([
      { type: 'TradingResumed', data: { reason: 'loss accepted, strategy reviewed', by: 'trader', pausedReason: 'LIFETIME_DRAWDOWN_LIMIT', month: '2025-11', tradingDay: '2025-11-12', equity: '8900' } },
      { type: 'TradingStateChanged', data: { state: 'ACTIVE', previous: 'HALTED', reason: 'resume: loss accepted, strategy reviewed', by: 'trader' } },
    ]);
    expect(state.lifetimePeak!.toFixed()).toBe('8900');
    // Watching from 8,900 now: 10 % below it fires again.
    expect(types(run(state, observe('8010', '2025-11-13T00:00:00Z')).events)).toContain('LifetimeDrawdownBreached');
  });

  it('off (null) never fires; the range is 5 %..50 %', () => {
    expect(types(history(ready({ maxLifetimeDrawdownFraction: null, maxMonthlyDrawdownFraction: '0.5' }), [observe('5000', '2025-11-12T00:00:00Z')]).events)).not.toContain('LifetimeDrawdownBreached');
    for (const bad of ['0.04', '0.51']) expect(refusal({ kind: 'OpenAccount', config: { ...CONFIG, maxLifetimeDrawdownFraction: bad } }, accountInitialState())).toMatchObject({ field: 'maxLifetimeDrawdownFraction' });
  });
});

describe('losing streaks', () => {
  it('are counted (current and longest); with a limit of 3 the third loss in a row pauses entries until a resume', () => {
    const s0 = ready({ losingStreakPause: 3 });
    const { events, state } = history(s0, [
      result(1, '-10', at('2025-11-10T01:00:00Z')),
      result(2, '5', at('2025-11-10T02:00:00Z')), // a win ends the run
      result(3, '-20', at('2025-11-10T03:00:00Z')),
      result(4, '-30', at('2025-11-10T04:00:00Z')),
      result(5, '-40', at('2025-11-10T05:00:00Z')),
    ]);
    expect(events.filter((e) => e.type === 'TradingPaused').map((e) => e.data)).toEqual([{ reason: 'LOSING_STREAK', tradingDay: '2025-11-10', month: '2025-11', loss: '90', limit: '3' }]);
    expect([state.losingStreak, state.longestLosingStreak, state.streakPause]).toEqual([3, 3, true]);
    expect(denial(run(state, assess('i-s', at('2025-11-10T06:00:00Z'))).events)).toMatchObject({ reason: 'TRADING_PAUSED', detail: '3 losing trades in a row (limit 3); entries resume only by command' });
    const resumed = run(state, resume('9910', '2025-11-10T07:00:00Z'));
    expect(resumed.events.map((e) => (e.data as { pausedReason?: string }).pausedReason)).toEqual(['LOSING_STREAK']);
    expect([resumed.state.streakPause, resumed.state.losingStreak, resumed.state.longestLosingStreak]).toEqual([false, 0, 3]);
  });

  it('off by default: a long run of losses is counted but pauses nothing', () => {
    const losses = Array.from({ length: 6 }, (_, i) => result(i + 1, '-1', at(`2025-11-10T0${i}:30:00Z`)));
    const { events, state } = history(ready(), losses);
    expect(types(events).filter((t) => t === 'TradingPaused')).toEqual([]);
    expect(state.longestLosingStreak).toBe(6);
  });
});

describe('margin utilisation (used margin ÷ equity)', () => {
  it('entries are denied MARGIN_UTILISATION_LIMIT at or above 95 %, before any other position check', () => {
    const d = denial(run(ready(), assess('i-u', NOV10, { usedMargin: '9500', availableMargin: '500', openPositions: 1 })).events);
    expect(d).toMatchObject({ reason: 'MARGIN_UTILISATION_LIMIT', detail: 'used margin 9500 USDT is 95 % of equity; entries stop at 95 %' });
    // Just below: the next check answers (one position per symbol).
    expect(denial(run(ready(), assess('i-u', NOV10, { usedMargin: '9499', availableMargin: '501', openPositions: 1 })).events).reason).toBe('POSITION_ALREADY_OPEN');
  });

  it('crossing 90 % records HIGH once, falling back below records NORMAL; a configured limit applies', () => {
    const obs = (used: string, iso: string): AccountCommand => ({ kind: 'ObserveEquity', equity: dec('10000'), usedMargin: dec(used), ts: at(iso) });
    const { events } = history(ready(), [obs('8999', '2025-11-10T01:00:00Z'), obs('9000', '2025-11-10T02:00:00Z'), obs('9200', '2025-11-10T03:00:00Z'), obs('100', '2025-11-10T04:00:00Z')]);
    expect(events.filter((e) => e.type === 'MarginUtilisationChanged').map((e) => [(e.data as { level: string }).level, (e.data as { utilisation: string }).utilisation])).toEqual([
      ['HIGH', '0.9'],
      ['NORMAL', '0.01'],
    ]);
    expect(denial(run(ready({ maxMarginUtilisationFraction: '0.6' }), assess('i-u', NOV10, { usedMargin: '6000', availableMargin: '4000', openPositions: 1 })).events).reason).toBe('MARGIN_UTILISATION_LIMIT');
    expect(refusal({ kind: 'OpenAccount', config: { ...CONFIG, maxMarginUtilisationFraction: '0.4' } }, accountInitialState())).toMatchObject({ field: 'maxMarginUtilisationFraction' });
  });
});
