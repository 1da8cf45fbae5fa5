import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvent, type DomainEvent, type EquitySnapshot, type EventData, type IntentEmitted } from '@bulwark/contracts';
import { ACCOUNT_DEFAULTS, accountDecider, accountEvolve, accountInitialState, validateAccountConfig, type AccountCommand, type AccountState } from './account';
import { fold } from './decider';
import { dec, str } from './money';
import { parseBinanceUsdmRules, rulesFromContract, type Rules } from './rules';

// Rules: mainnet BTCUSDT filters (tick 0.1, step 0.001, min notional 5) and the 2025-11-20
// leverage brackets (bracket 1: 0–300,000 at 150x, MMR 0.004, cum 0), VIP 0 taker fee 0.0005.
const DATA_DIR = process.env['BULWARK_DATA_DIR'] ?? path.resolve(__dirname, '../../../../shared/data');
const BTC = path.join(DATA_DIR, 'binance-usdm/BTCUSDT');
const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(BTC, file), 'utf8'));
const RULES: Rules = rulesFromContract(
  parseBinanceUsdmRules({ venue: 'binance-usdm', exchangeInfoSymbol: readJson('exchange-info.json'), leverageBrackets: readJson('leverage-brackets.json') }),
);

// The entry price is the close of the first real bar, 2025-11-10 00:00 (104587.7); the stop
// and target are the strategy's technical levels: stop 103500, target = 104587.7 + 2 × 1087.7.
const FIRST_BAR = fs.readFileSync(path.join(BTC, 'klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv'), 'utf8').split('\n')[1];
const ENTRY = FIRST_BAR.split(',')[4];

const ACCOUNT = 'acc1';
const SIGNALS = 'signal-acc1';
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
  maxMonthlyDrawdownFraction: '0.04',
  marginMode: 'ISOLATED',
  protection: 'INTERNAL',
} as const;

const at = (iso: string) => Date.parse(iso);
const NOV10 = at('2025-11-10T00:00:59.999Z'); // close time of the 00:00 bar the intent was made on

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

const assess = (intentId: string, ts: number, eq: Partial<EquitySnapshot> = {}, i: Partial<IntentEmitted> = {}): AccountCommand => ({
  kind: 'AssessEntry',
  intent: intent(intentId, i),
  signalStreamId: SIGNALS,
  equity: equity(eq),
  rules: RULES,
  ts,
});
const result = (n: number, netPnl: string, ts: number): AccountCommand => ({ kind: 'RecordPositionResult', positionStreamId: `position-acc1-binance-usdm-BTCUSDT-${n}`, netPnl: dec(netPnl), ts });

/** Decide, require success, check every event against its contract, fold into the state. */
function run(s: AccountState, c: AccountCommand): { events: DomainEvent[]; state: AccountState } {
  const r = accountDecider.decide(c, s);
  if (!r.ok) throw new Error(`expected events, got ${r.error.code}: ${r.error.message}`);
  for (const e of r.value) expect(parseEvent(e.type, e.data)).toEqual({ ok: true, event: e });
  return { events: r.value, state: fold(accountEvolve, s, r.value) };
}

const opened = (over: Record<string, unknown> = {}) => run(accountInitialState(), { kind: 'OpenAccount', config: { ...CONFIG, ...over } }).state;

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

const only = (events: DomainEvent[]) => {
  expect(events).toHaveLength(1);
  return events[0];
};
const denial = (events: DomainEvent[]) => {
  const e = only(events);
  expect(e.type).toBe('EntryDenied');
  return e.data as EventData<'EntryDenied'>;
};
const approval = (events: DomainEvent[]) => {
  const e = only(events);
  if (e.type !== 'EntryApproved') throw new Error(`expected EntryApproved, got ${e.type}: ${JSON.stringify(e.data)}`);
  return e.data;
};

describe('validateAccountConfig / OpenAccount', () => {
  it('the defaults: 20x cap, 1 % risk, 50 % margin, 10 % liquidation buffer, 50 trades a day, no daily loss limit, 4 % monthly drawdown', () => {
    expect(ACCOUNT_DEFAULTS).toEqual({
      leverageCap: 20,
      riskFraction: '0.01',
      maxMarginFraction: '0.5',
      liquidationBufferFraction: '0.1',
      maxTradesPerDay: 50,
      dailyLossLimitFraction: null,
      maxMonthlyDrawdownFraction: '0.04',
    });
    expect(validateAccountConfig({ ...CONFIG, ...ACCOUNT_DEFAULTS }).ok).toBe(true);
  });

  it('OpenAccount → AccountOpened with the config; the month starts with equity = capital 10,000', () => {
    const { events, state } = run(accountInitialState(), { kind: 'OpenAccount', config: CONFIG });
    expect(events).toEqual([{ type: 'AccountOpened', data: CONFIG }]);
    expect(state.config).toEqual(CONFIG);
    expect(str(state.monthStartEquity)).toBe('10000');
    expect(state.entries).toBe(0);
  });

  it('opening twice → ACCOUNT_EXISTS', () => {
    expect(accountDecider.decide({ kind: 'OpenAccount', config: CONFIG }, opened())).toEqual({
      ok: false,
      error: { code: 'ACCOUNT_EXISTS', message: 'account acc1 is already open' },
    });
  });

  it.each([
    // Schema refusals: field, rule and the value received.
    ['leverage: Number must be greater than or equal to 1 (got 0)', { leverage: 0 }],
    ['leverage: Number must be less than or equal to 125 (got 126)', { leverage: 126 }],
    ['leverage: Expected integer, received float (got 2.5)', { leverage: 2.5 }],
    ['capital: expected a decimal string > 0 (got "-5")', { capital: '-5' }],
    ['riskFraction: expected a plain decimal string such as "104587.7" (got "1e-2")', { riskFraction: '1e-2' }],
    ['riskFraction: Expected string, received number (got 0.01)', { riskFraction: 0.01 }],
    ['marginMode: Invalid literal value, expected "ISOLATED" (got "CROSS")', { marginMode: 'CROSS' }],
    ['maxTradesPerDay: Number must be greater than 0 (got 0)', { maxTradesPerDay: 0 }],
    ['accountId: expected [A-Za-z0-9_-]{1,64} (got "acc.1")', { accountId: 'acc.1' }],
    ['leverage: Required (got undefined)', { leverage: undefined }],
    // Range refusals: field, value and the allowed range.
    ['leverage 30 is above the leverage cap 20', { leverage: 30 }],
    ['riskFraction 0.2 must be in (0, 0.1]', { riskFraction: '0.2' }],
    ['riskFraction 0 must be in (0, 0.1]', { riskFraction: '0' }],
    ['riskFraction -0.01 must be in (0, 0.1]', { riskFraction: '-0.01' }],
    ['maxMarginFraction 0 must be in (0, 1]', { maxMarginFraction: '0' }],
    ['maxMarginFraction 1.5 must be in (0, 1]', { maxMarginFraction: '1.5' }],
    ['liquidationBufferFraction 1 must be in [0, 1)', { liquidationBufferFraction: '1' }],
    ['liquidationBufferFraction -0.1 must be in [0, 1)', { liquidationBufferFraction: '-0.1' }],
    ['maxMonthlyDrawdownFraction 0 must be in (0, 1]', { maxMonthlyDrawdownFraction: '0' }],
    ['maxMonthlyDrawdownFraction 1.01 must be in (0, 1]', { maxMonthlyDrawdownFraction: '1.01' }],
    ['dailyLossLimitFraction 0 must be in (0, 1]', { dailyLossLimitFraction: '0' }],
    ['dailyLossLimitFraction 1.01 must be in (0, 1]', { dailyLossLimitFraction: '1.01' }],
  ])('INVALID_CONFIG "%s"', (message, over) => {
    const expected = { ok: false, error: { code: 'INVALID_CONFIG', message } };
    expect(validateAccountConfig({ ...CONFIG, ...over })).toEqual(expected);
    expect(accountDecider.decide({ kind: 'OpenAccount', config: { ...CONFIG, ...over } }, accountInitialState())).toEqual(expected);
  });

  it('several bad fields are all named, joined by "; "', () => {
    expect(validateAccountConfig({ ...CONFIG, leverage: 30, riskFraction: '0.5' })).toEqual({
      ok: false,
      error: { code: 'INVALID_CONFIG', message: 'leverage 30 is above the leverage cap 20; riskFraction 0.5 must be in (0, 0.1]' },
    });
  });

  it('the range bounds themselves are accepted: riskFraction 0.1, maxMarginFraction 1, buffer 0, leverage = cap', () => {
    expect(validateAccountConfig({ ...CONFIG, riskFraction: '0.1', maxMarginFraction: '1', liquidationBufferFraction: '0', leverage: 20, dailyLossLimitFraction: '1' }).ok).toBe(true);
  });

  it('commands for an account that is not open → UNKNOWN_ACCOUNT', () => {
    expect(accountDecider.decide(assess('i-1', NOV10), accountInitialState())).toEqual({ ok: false, error: { code: 'UNKNOWN_ACCOUNT', message: 'account acc1 is not open' } });
    expect(accountDecider.decide(result(1, '-1', NOV10), accountInitialState())).toEqual({ ok: false, error: { code: 'UNKNOWN_ACCOUNT', message: 'account is not open' } });
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
  };

  it('the entry price is the real close of 2025-11-10 00:00', () => {
    expect(ENTRY).toBe('104587.7');
  });

  it('entry 104,587.7 / stop 103,500 / target 106,763.1 on 10,000 equity → EntryApproved 0.083 BTC at 10x with the full assessment and client order id bw<hash(acc1)>-1E', () => {
    const { events, state } = run(opened(), assess('i-1', NOV10));
    expect(events).toEqual([
      {
        type: 'EntryApproved',
        data: {
          intentId: 'i-1',
          signalStreamId: SIGNALS,
          accountId: ACCOUNT,
          clientOrderId: 'bw2d4c10hkbtg-1E',
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
        },
      },
    ]);
    expect(state.entries).toBe(1);
    expect(state.tradesToday).toBe(1);
    expect(state.day).toBe('2025-11-10');
    expect(state.month).toBe('2025-11');
    expect([...state.assessedIntents]).toEqual(['i-1']);
  });

  it('client order ids follow the approved entries: -1E, -2E, -3E (deterministic, the same in every run)', () => {
    const ids = (s0: AccountState) =>
      history(s0, [assess('i-1', NOV10), assess('i-2', NOV10 + 60_000), assess('i-3', NOV10 + 120_000)]).events.map((e) => (e.data as EventData<'EntryApproved'>).clientOrderId);
    expect(ids(opened())).toEqual(['bw2d4c10hkbtg-1E', 'bw2d4c10hkbtg-2E', 'bw2d4c10hkbtg-3E']);
    expect(ids(opened())).toEqual(ids(opened()));
  });

  it('a denial does not use up a client order id: approve (-1E), deny (position open), approve (-2E)', () => {
    const { events } = history(opened(), [assess('i-1', NOV10), assess('i-2', NOV10 + 60_000, { openPositions: 1 }), assess('i-3', NOV10 + 120_000)]);
    expect(events.map((e) => (e.type === 'EntryApproved' ? e.data.clientOrderId : e.type))).toEqual(['bw2d4c10hkbtg-1E', 'EntryDenied', 'bw2d4c10hkbtg-2E']);
  });

  it('a short is sized the same way: SELL at 104,587.7 with stop 105,675.4 (distance 1,087.7) → 0.083 BTC, liquidation above the entry', () => {
    const a = approval(run(opened(), assess('i-1', NOV10, {}, { side: 'SELL', stopPrice: '105675.4', takeProfitPrice: '102412.3' })).events);
    // fee per unit = 0.0005 × (104,587.7 + 105,675.4) = 105.13155; loss/unit 1,192.83155; 100 / that = 0.0838…
    expect(a).toMatchObject({ side: 'SELL', quantity: '0.083', leverage: 10, clientOrderId: 'bw2d4c10hkbtg-1E' });
    expect(a.assessment.feePerUnit).toBe('105.13155');
    expect(a.assessment.lossAtStop).toBe('99.00501865'); // 0.083 × 1,192.83155
    expect(dec(a.assessment.liquidationPrice!).gt(dec(ENTRY))).toBe(true);
  });
});

describe('AssessEntry: denials', () => {
  it('POSITION_ALREADY_OPEN when accounting reports an open position (one position per symbol, one-way mode)', () => {
    const d = denial(run(opened(), assess('i-1', NOV10, { openPositions: 1 })).events);
    expect(d).toEqual({
      intentId: 'i-1',
      signalStreamId: SIGNALS,
      accountId: ACCOUNT,
      reason: 'POSITION_ALREADY_OPEN',
      detail: '1 position(s) open; one position per symbol in one-way mode',
      tradingDay: '2025-11-10',
      assessment: null,
    });
  });

  it('NO_EQUITY while accounting has no equity yet', () => {
    const d = denial(run(opened(), assess('i-1', NOV10, { known: false })).events);
    expect(d).toMatchObject({ reason: 'NO_EQUITY', detail: 'accounting has no equity for this account yet', assessment: null });
  });

  it('a sizing denial passes through with its partial assessment: a BUY with its stop 105,000 above the entry → STOP_ON_WRONG_SIDE', () => {
    const d = denial(run(opened(), assess('i-1', NOV10, {}, { stopPrice: '105000', takeProfitPrice: null })).events);
    expect(d.reason).toBe('STOP_ON_WRONG_SIDE');
    expect(d.detail).toBe("a BUY's stop must be below the entry 104587.7, got 105000");
    expect(d.assessment).toMatchObject({ entryPrice: '104587.7', stopPrice: '105000', equity: '10000' });
  });

  it('a denial is recorded but does not count as a trade', () => {
    const { state } = run(opened(), assess('i-1', NOV10, { openPositions: 1 }));
    expect(state.tradesToday).toBe(0);
    expect(state.entries).toBe(0);
    expect(state.assessedIntents.has('i-1')).toBe(true);
  });

  it('DAILY_TRADE_LIMIT at maxTradesPerDay (2): two approvals on 2025-11-10, the third is denied; the counter resets at 00:00 UTC on 2025-11-11', () => {
    const s0 = opened({ maxTradesPerDay: 2 });
    const { state: s2 } = history(s0, [assess('i-1', NOV10), assess('i-2', at('2025-11-10T12:00:00Z'))]);
    expect(s2.tradesToday).toBe(2);
    const late = run(s2, assess('i-3', at('2025-11-10T23:59:59.999Z')));
    expect(denial(late.events)).toMatchObject({ reason: 'DAILY_TRADE_LIMIT', detail: '2 of 2 entries already taken on 2025-11-10', tradingDay: '2025-11-10' });
    const next = run(late.state, assess('i-4', at('2025-11-11T00:00:00Z')));
    expect(approval(next.events)).toMatchObject({ clientOrderId: 'bw2d4c10hkbtg-3E', tradingDay: '2025-11-11' });
    expect(next.state.tradesToday).toBe(1);
    expect(next.state.day).toBe('2025-11-11');
  });

  it('daily loss limit 3 % of 10,000 = 300: −120.5 then −180 (day −300.5) → TradingPaused(DAILY_LOSS_LIMIT); entries denied DAILY_LOSS_LIMIT that day, approved the next', () => {
    const s0 = opened();
    const first = run(s0, result(1, '-120.5', at('2025-11-10T02:00:00Z')));
    expect(first.events).toEqual([
      { type: 'PositionResultRecorded', data: { positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-1', netPnl: '-120.5', tradingDay: '2025-11-10', month: '2025-11' } },
    ]);
    const second = run(first.state, result(2, '-180', at('2025-11-10T03:00:00Z')));
    expect(second.events).toEqual([
      { type: 'PositionResultRecorded', data: { positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-2', netPnl: '-180', tradingDay: '2025-11-10', month: '2025-11' } },
      // Monthly limit 4 % × 10,000 = 400 is not reached by 300.5.
      { type: 'TradingPaused', data: { reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-10', month: '2025-11', loss: '300.5', limit: '300' } },
    ]);
    expect(second.state.pausedForDay).toBe('2025-11-10');
    expect(str(second.state.pnlToday)).toBe('-300.5');

    // A further loss the same day is recorded without a second pause.
    const third = run(second.state, result(3, '-10', at('2025-11-10T04:00:00Z')));
    expect(third.events.map((e) => e.type)).toEqual(['PositionResultRecorded']);

    const sameDay = run(third.state, assess('i-1', at('2025-11-10T23:59:59.999Z')));
    expect(denial(sameDay.events)).toMatchObject({ reason: 'DAILY_LOSS_LIMIT', detail: 'daily loss limit reached on 2025-11-10', tradingDay: '2025-11-10' });
    const nextDay = run(sameDay.state, assess('i-2', at('2025-11-11T00:00:00Z')));
    expect(approval(nextDay.events)).toMatchObject({ clientOrderId: 'bw2d4c10hkbtg-1E', tradingDay: '2025-11-11' });
    expect(str(nextDay.state.pnlToday)).toBe('0');
    expect(str(nextDay.state.pnlThisMonth)).toBe('-310.5');
  });

  it('a loss exactly at the daily limit pauses (−300 >= 300)', () => {
    const { events } = run(opened(), result(1, '-300', NOV10));
    expect(events[1]).toEqual({ type: 'TradingPaused', data: { reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-10', month: '2025-11', loss: '300', limit: '300' } });
  });

  it('no daily limit configured (null): a −300 day does not pause', () => {
    expect(run(opened({ dailyLossLimitFraction: null }), result(1, '-300', NOV10)).events.map((e) => e.type)).toEqual(['PositionResultRecorded']);
  });

  it('monthly drawdown 4 % of 10,000 = 400: −250 (11-12) then −200 (11-20), month −450 → TradingPaused(MONTHLY_DRAWDOWN_LIMIT); TRADING_PAUSED for the rest of November', () => {
    const s0 = opened({ dailyLossLimitFraction: null });
    const { events, state } = history(s0, [result(1, '-250', at('2025-11-12T10:00:00Z')), result(2, '-200', at('2025-11-20T10:00:00Z'))]);
    expect(events.slice(1)).toEqual([
      { type: 'PositionResultRecorded', data: { positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-2', netPnl: '-200', tradingDay: '2025-11-20', month: '2025-11' } },
      { type: 'TradingPaused', data: { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-11-20', month: '2025-11', loss: '450', limit: '400' } },
    ]);
    expect(state.pausedForMonth).toBe('2025-11');
    for (const [id, iso] of [
      ['i-1', '2025-11-20T10:01:00Z'],
      ['i-2', '2025-11-25T00:00:00Z'],
      ['i-3', '2025-11-30T23:59:59.999Z'],
    ] as const) {
      expect(denial(run(state, assess(id, at(iso))).events)).toMatchObject({
        reason: 'TRADING_PAUSED',
        detail: 'monthly drawdown limit reached in 2025-11; resume by command',
        tradingDay: iso.slice(0, 10),
      });
    }
  });

  it('one result can trip both breakers: −450 in one trade → daily (450 >= 300) and monthly (450 >= 400); the monthly pause is reported first on entries', () => {
    const { events, state } = run(opened(), result(1, '-450', NOV10));
    expect(events.slice(1)).toEqual([
      { type: 'TradingPaused', data: { reason: 'DAILY_LOSS_LIMIT', tradingDay: '2025-11-10', month: '2025-11', loss: '450', limit: '300' } },
      { type: 'TradingPaused', data: { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-11-10', month: '2025-11', loss: '450', limit: '400' } },
    ]);
    expect(denial(run(state, assess('i-1', NOV10 + 1)).events).reason).toBe('TRADING_PAUSED');
  });

  it("the monthly limit is taken from the month's starting equity: November −300 → December starts at 9,700, limit 4 % × 9,700 = 388", () => {
    const s0 = opened({ dailyLossLimitFraction: null });
    const { state } = history(s0, [result(1, '-300', at('2025-11-15T00:00:00Z'))]);
    const below = run(state, result(2, '-387.9', at('2025-12-02T00:00:00Z')));
    expect(below.events.map((e) => e.type)).toEqual(['PositionResultRecorded']);
    expect(str(below.state.monthStartEquity)).toBe('9700');
    const s1 = history(state, [result(3, '-388', at('2025-12-02T00:00:00Z'))]);
    expect(s1.events[1]).toEqual({ type: 'TradingPaused', data: { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: '2025-12-02', month: '2025-12', loss: '388', limit: '388' } });
  });
});

describe('at-least-once delivery', () => {
  it('a redelivered intent (same intentId) yields no event, after an approval and after a denial', () => {
    const a = run(opened(), assess('i-1', NOV10));
    expect(run(a.state, assess('i-1', NOV10)).events).toEqual([]);
    expect(run(a.state, assess('i-1', NOV10 + 86_400_000)).events).toEqual([]); // even on a later day
    const d = run(opened(), assess('i-9', NOV10, { openPositions: 1 }));
    expect(run(d.state, assess('i-9', NOV10)).events).toEqual([]);
  });

  it('a redelivered position result yields no event and is not counted twice', () => {
    const first = run(opened(), result(1, '-100', NOV10));
    const again = run(first.state, result(1, '-100', NOV10));
    expect(again.events).toEqual([]);
    expect(str(again.state.pnlToday)).toBe('-100');
    expect(str(again.state.cumulativePnl)).toBe('-100');
  });
});

describe('evolve', () => {
  it('folding the decided events from the initial state rebuilds the state, field by field', () => {
    const { events, state } = history(accountInitialState(), [
      { kind: 'OpenAccount', config: { ...CONFIG, maxTradesPerDay: 2 } },
      assess('i-1', NOV10),
      result(1, '75.25', at('2025-11-10T05:00:00Z')),
      assess('i-2', at('2025-11-10T06:00:00Z')),
      assess('i-3', at('2025-11-10T07:00:00Z')), // DAILY_TRADE_LIMIT
      result(2, '-320', at('2025-11-10T08:00:00Z')), // day 75.25 − 320 = −244.75: no daily pause
      result(3, '-60', at('2025-11-11T01:00:00Z')), // new day −60; month −304.75
      assess('i-4', at('2025-11-11T02:00:00Z')),
      result(4, '-100', at('2025-11-11T03:00:00Z')), // month −404.75 >= 400 → monthly pause
    ]);
    expect(events.map((e) => e.type)).toEqual([
      'AccountOpened',
      'EntryApproved',
      'PositionResultRecorded',
      'EntryApproved',
      'EntryDenied',
      'PositionResultRecorded',
      'PositionResultRecorded',
      'EntryApproved',
      'PositionResultRecorded',
      'TradingPaused',
    ]);
    const rebuilt = fold(accountEvolve, accountInitialState(), events);
    expect(rebuilt).toEqual(state);
    expect({
      entries: rebuilt.entries,
      day: rebuilt.day,
      tradesToday: rebuilt.tradesToday,
      pnlToday: str(rebuilt.pnlToday),
      month: rebuilt.month,
      pnlThisMonth: str(rebuilt.pnlThisMonth),
      monthStartEquity: str(rebuilt.monthStartEquity),
      cumulativePnl: str(rebuilt.cumulativePnl),
      pausedForDay: rebuilt.pausedForDay,
      pausedForMonth: rebuilt.pausedForMonth,
      recordedPositions: [...rebuilt.recordedPositions],
      assessedIntents: [...rebuilt.assessedIntents],
    }).toEqual({
      entries: 3,
      day: '2025-11-11',
      tradesToday: 1,
      pnlToday: '-160', // −60 − 100
      month: '2025-11',
      pnlThisMonth: '-404.75', // 75.25 − 320 − 60 − 100
      monthStartEquity: '10000',
      cumulativePnl: '-404.75',
      pausedForDay: null,
      pausedForMonth: '2025-11',
      recordedPositions: [1, 2, 3, 4].map((n) => `position-acc1-binance-usdm-BTCUSDT-${n}`),
      assessedIntents: ['i-1', 'i-2', 'i-3', 'i-4'],
    });
    expect((events[9].data as EventData<'TradingPaused'>).loss).toBe('404.75');
  });

  it('events of other aggregates leave the state unchanged', () => {
    const s = opened();
    expect(accountEvolve(s, { type: 'StopCancelled', data: { reason: 'POSITION_CLOSED' } })).toBe(s);
  });
});
