import * as fs from 'node:fs';
import { parseEvent, type DomainEvent, type EquitySnapshot, type EventData, type IntentEmitted } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules } from '@bulwark/testing';
import { accountDecider, accountEvolve, accountInitialState, entryOrder, type AccountCommand, type AccountState } from './account';
import { fold } from './decider';
import { dec, str } from './money';
import type { Rules } from './rules';
import { sizeEntry, type SizingInput } from './sizing';

// Entry order types (docs/risk.md "Entry order types") on the real BTCUSDT rules: tick 0.1,
// LOT_SIZE step 0.001 max 1000, MARKET_LOT_SIZE step 0.001 max 120, VIP 0 taker 0.0005, maker 0.0002.
const RULES: Rules = btcusdtRules();
// The first real bar of the November file, 2025-11-10 00:00 UTC: its close is the signal's price.
const FIRST_BAR = fs.readFileSync(BTCUSDT_FILES.candles1m, 'utf8').split('\n')[1].split(',');
const OPEN_TIME = Number(FIRST_BAR[0]);
const CLOSE = FIRST_BAR[4];
const CLOSE_TS = OPEN_TIME + 59_999;

const intent = (over: Partial<IntentEmitted> = {}): IntentEmitted => ({
  intentId: 'i1', accountId: 'acc1', venue: 'binance-usdm', symbol: 'BTCUSDT', side: 'BUY',
  entryPrice: CLOSE, stopPrice: '103500', takeProfitPrice: null, strategy: 'donchian-atr', reason: 'test', candleOpenTime: OPEN_TIME, ...over,
});

describe('entryOrder: the venue order of an entry type', () => {
  it('MARKET is a market order without price, time in force or expiry (absent type = MARKET)', () => {
    expect(entryOrder(intent(), RULES)).toEqual({ ok: true, value: { entryType: 'MARKET', price: null, timeInForce: null, goodTillDate: null } });
  });

  it.each([
    ['LIMIT', 'GTC'],
    ['POST_ONLY', 'GTX'],
    ['IOC', 'IOC'],
    ['FOK', 'FOK'],
  ] as const)('%s is a LIMIT order with time in force %s at the signal price', (entryType, tif) => {
    const resting = entryType === 'LIMIT' || entryType === 'POST_ONLY';
    const r = entryOrder(intent({ entryType, ...(resting ? { expiresAfterBars: 3, barIntervalMs: 60_000 } : {}) }), RULES);
    if (!r.ok) throw new Error(r.error);
    expect(r.value.timeInForce).toBe(tif);
    // A post-only BUY joins the bid one tick below the last trade; the others take the signal price.
    expect(str(r.value.price!)).toBe(str(entryType === 'POST_ONLY' ? dec(CLOSE).minus('0.1') : dec(CLOSE)));
    // Expires at the close of the third bar after the signal's: the first step at or after it cancels.
    expect(r.value.goodTillDate).toBe(resting ? OPEN_TIME + 4 * 60_000 : null);
  });

  it('moves an off-tick price onto the tick toward the trader: a BUY down, a SELL up', () => {
    const buy = entryOrder(intent({ entryType: 'IOC', entryPrice: '104587.74' }), RULES);
    const sell = entryOrder(intent({ entryType: 'IOC', side: 'SELL', stopPrice: '105000', entryPrice: '104587.71' }), RULES);
    expect(buy.ok && str(buy.value.price!)).toBe('104587.7');
    expect(sell.ok && str(sell.value.price!)).toBe('104587.8');
  });

  it('refuses a resting entry without its life in bars, and an expiry on an entry that does not rest', () => {
    expect(entryOrder(intent({ entryType: 'LIMIT' }), RULES)).toEqual({ ok: false, error: 'a LIMIT entry rests at the venue: it needs expiresAfterBars and barIntervalMs' });
    expect(entryOrder(intent({ entryType: 'POST_ONLY', expiresAfterBars: 2 }), RULES).ok).toBe(false);
    expect(entryOrder(intent({ entryType: 'FOK', expiresAfterBars: 2 }), RULES)).toEqual({ ok: false, error: 'a FOK entry does not rest and cannot expire after bars' });
    expect(entryOrder(intent({ expiresAfterBars: 2 }), RULES).ok).toBe(false);
  });
});

describe('sizing by entry fee: a post-only entry pays the maker rate, the exit at the stop the taker rate', () => {
  const input: SizingInput = {
    side: 'BUY', entryPrice: dec(CLOSE), stopPrice: dec('104300'), takeProfitPrice: null, equity: dec('10000'), availableMargin: dec('10000'),
    riskFraction: dec('0.01'), requestedLeverage: 20, leverageCap: 20, maxMarginFraction: dec('1'), liquidationBufferFraction: dec('0.1'),
    maxFeeRiskFraction: dec('0.5'), rules: RULES,
  };

  it('feePerUnit = makerFeeRate × entry + takerFeeRate × stop; more quantity for the same risk; recorded', () => {
    const taker = sizeEntry(input);
    const maker = sizeEntry({ ...input, orderType: 'LIMIT', entryFeeRate: RULES.makerFeeRate });
    if (!taker.ok || !maker.ok) throw new Error('both should pass');
    expect(maker.value.feePerUnit).toBe(str(dec('0.0002').mul(CLOSE).plus(dec('0.0005').mul('104300'))));
    expect(taker.value.feePerUnit).toBe(str(dec('0.0005').mul(dec(CLOSE).plus('104300'))));
    expect(dec(maker.value.quantity).gt(dec(taker.value.quantity))).toBe(true);
    // Never above the budget, fees included.
    expect(dec(maker.value.lossAtStop).lte(maker.value.riskAmount)).toBe(true);
    expect(maker.value.entryFeeRate).toBe('0.0002');
    expect(taker.value).not.toHaveProperty('entryFeeRate'); // a market entry's assessment keeps its earlier shape
  });

  it('the cost guard counts the maker fee: a stop the taker fees make too costly can pass post-only', () => {
    // Stop 62 USDT away: taker fees 0.0005 × (2 × 104.5k) ≈ 104.5 per BTC ≈ 63 % of the loss per unit; maker entry ≈ 73.1 ≈ 54 %.
    const close = { ...input, stopPrice: dec(CLOSE).minus(62), maxFeeRiskFraction: dec('0.6'), requestedLeverage: 20, maxMarginFraction: dec('1') };
    const taker = sizeEntry(close);
    const maker = sizeEntry({ ...close, orderType: 'LIMIT', entryFeeRate: RULES.makerFeeRate });
    expect(!taker.ok && taker.error.code).toBe('COST_TOO_HIGH');
    expect(maker.ok).toBe(true);
  });

  it('a LIMIT entry is sized on the LIMIT lot (max 1000), a MARKET one on the MARKET lot (max 120)', () => {
    // 50 USDT stop distance on 10 M equity at 1 %: 100,000 USDT of risk wants ~ 650 BTC.
    const big = { ...input, equity: dec('10000000'), availableMargin: dec('10000000'), stopPrice: dec(CLOSE).minus(50), maxFeeRiskFraction: null, maxMarginFraction: dec('1'), requestedLeverage: 20 };
    const market = sizeEntry(big);
    const limit = sizeEntry({ ...big, orderType: 'LIMIT', entryFeeRate: RULES.takerFeeRate });
    expect(!market.ok && market.error.code).toBe('ABOVE_MAX_QTY');
    expect(!market.ok && market.error.assessment.maxQuantity).toBe('120');
    if (!limit.ok) throw new Error(`${limit.error.code}: ${limit.error.message}`);
    expect(dec(limit.value.quantity).gt(120)).toBe(true);
  });
});

describe('account decider: entry types', () => {
  const CONFIG = {
    accountId: 'acc1', venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, maxLifetimeDrawdownFraction: null, venueBalance: '10000',
  };
  const equity: EquitySnapshot = { accountId: 'acc1', known: true, walletBalance: '10000', unrealisedPnl: '0', equity: '10000', usedMargin: '0', availableMargin: '10000', openPositions: 0, asOf: CLOSE_TS };
  const assess = (i: Partial<IntentEmitted>, ts: number): AccountCommand => ({ kind: 'AssessEntry', intent: intent(i), signalStreamId: 'signal-acc1', equity, rules: RULES, ts });
  function run(s: AccountState, c: AccountCommand): { events: DomainEvent[]; state: AccountState } {
    const r = accountDecider.decide(c, s);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    for (const e of r.value) expect(parseEvent(e.type, e.data)).toEqual({ ok: true, event: e });
    return { events: r.value, state: fold(accountEvolve, s, r.value) };
  }
  const opened = () => run(run(accountInitialState(), { kind: 'OpenAccount', config: CONFIG }).state, { kind: 'ObserveEquity', equity: dec('10000'), ts: OPEN_TIME }).state;
  const decision = (events: DomainEvent[]) => {
    const d = events.find((e) => e.type === 'EntryApproved' || e.type === 'EntryDenied');
    if (!d) throw new Error(`no decision in ${events.map((e) => e.type).join(', ')}`);
    return d;
  };

  it('approves a POST_ONLY entry as LIMIT GTX at the signal price, sized with the maker fee, good till the third bar after', () => {
    const { events } = run(opened(), assess({ entryType: 'POST_ONLY', expiresAfterBars: 3, barIntervalMs: 60_000 }, CLOSE_TS));
    const d = decision(events);
    if (d.type !== 'EntryApproved') throw new Error(JSON.stringify(d.data));
    const a = d.data as EventData<'EntryApproved'>;
    expect({ type: a.type, entryType: a.entryType, price: a.price, timeInForce: a.timeInForce, goodTillDate: a.goodTillDate }).toEqual({
      type: 'LIMIT', entryType: 'POST_ONLY', price: str(dec(CLOSE).minus('0.1')), timeInForce: 'GTX', goodTillDate: OPEN_TIME + 4 * 60_000,
    });
    expect(a.assessment.entryFeeRate).toBe('0.0002');
    expect(a.assessment.entryPrice).toBe(a.price);
  });

  it('a MARKET approval has the shape it had before entry types (no entry-type fields)', () => {
    const d = decision(run(opened(), assess({}, CLOSE_TS)).events);
    expect(d.type).toBe('EntryApproved');
    expect(Object.keys(d.data).filter((k) => ['entryType', 'price', 'timeInForce', 'goodTillDate'].includes(k))).toEqual([]);
    expect((d.data as EventData<'EntryApproved'>).type).toBe('MARKET');
  });

  it('holds the next entry while a resting one may still be at the venue, then takes it', () => {
    const first = run(opened(), assess({ entryType: 'LIMIT', expiresAfterBars: 2, barIntervalMs: 60_000 }, CLOSE_TS));
    const until = OPEN_TIME + 3 * 60_000;
    const held = decision(run(first.state, assess({ intentId: 'i2' }, until - 1)).events);
    expect(held.type).toBe('EntryDenied');
    expect((held.data as EventData<'EntryDenied'>).reason).toBe('ENTRY_ORDER_RESTING');
    expect(decision(run(first.state, assess({ intentId: 'i3' }, until)).events).type).toBe('EntryApproved');
  });

  it('IOC and FOK do not rest: the next entry is not held', () => {
    for (const entryType of ['IOC', 'FOK'] as const) {
      const first = run(opened(), assess({ entryType }, CLOSE_TS));
      expect((decision(first.events).data as EventData<'EntryApproved'>).goodTillDate).toBeNull();
      expect(decision(run(first.state, assess({ intentId: 'i2' }, CLOSE_TS + 60_000)).events).type).toBe('EntryApproved');
    }
  });

  it('denies an incomplete entry type as INVALID_INTENT with the reason', () => {
    const d = decision(run(opened(), assess({ entryType: 'LIMIT' }, CLOSE_TS)).events);
    expect(d.data).toMatchObject({ reason: 'INVALID_INTENT', detail: 'a LIMIT entry rests at the venue: it needs expiresAfterBars and barIntervalMs' });
  });

  describe('order splitting', () => {
    // The first bar's own base volume (column 5 of the file), the split's volume limit.
    const BAR_VOLUME = FIRST_BAR[5];
    const sliced = (split: IntentEmitted['split'], over: Partial<IntentEmitted> = {}) => assess({ barIntervalMs: 60_000, barVolume: BAR_VOLUME, split, ...over }, CLOSE_TS);

    it('splits a parent above the notional limit into children that sum to it, each within the limit, paced by the interval', () => {
      const d = decision(run(opened(), sliced({ style: 'SLICES', maxOrderNotional: '5000', intervalBars: 2 })).events);
      if (d.type !== 'EntryApproved') throw new Error(JSON.stringify(d.data));
      const a = d.data as EventData<'EntryApproved'>;
      const split = a.split!;
      expect(split.style).toBe('SLICES');
      expect(split.intervalMs).toBe(120_000);
      const quantities = split.children.map((c) => dec(c.quantity));
      expect(str(quantities.reduce((x, y) => x.plus(y)))).toBe(a.quantity);
      for (const q of quantities) expect(q.mul(CLOSE).lte(5000)).toBe(true);
      expect(split.children.map((c) => c.clientOrderId)).toEqual(quantities.map((_, i) => `${a.clientOrderId}-${i + 1}`));
      // The last child goes (n − 1) intervals after the approval; a bar of grace per child.
      expect(split.deadline).toBe(CLOSE_TS + (quantities.length - 1) * 120_000 + quantities.length * 60_000);
    });

    it('leaves a parent that fits one order unsplit (no split on the approval)', () => {
      const d = decision(run(opened(), sliced({ style: 'SLICES', maxOrderNotional: '10000000', intervalBars: 1 })).events);
      expect(d.type).toBe('EntryApproved');
      expect(d.data).not.toHaveProperty('split');
    });

    it('an ICEBERG needs a resting entry; a limit below the venue minimum is SPLIT_BELOW_MINIMUM', () => {
      expect(decision(run(opened(), sliced({ style: 'ICEBERG', intervalBars: 1 })).events).data).toMatchObject({ reason: 'INVALID_INTENT' });
      expect(decision(run(opened(), sliced({ style: 'SLICES', maxOrderNotional: '1', intervalBars: 1 })).events).data).toMatchObject({ reason: 'SPLIT_BELOW_MINIMUM' });
    });

    it('an ICEBERG of a post-only entry: LIMIT children that rest until the entry expires; the next entry is held until then', () => {
      const first = run(opened(), sliced({ style: 'ICEBERG', maxVolumeShare: '0.001', intervalBars: 0 }, { entryType: 'POST_ONLY', expiresAfterBars: 5 }));
      const a = decision(first.events).data as EventData<'EntryApproved'>;
      expect(a.split?.deadline).toBe(a.goodTillDate);
      expect(a.split!.children.length).toBeGreaterThan(1);
      for (const c of a.split!.children) expect(dec(c.quantity).lte(dec(BAR_VOLUME).mul('0.001'))).toBe(true);
      expect(decision(run(first.state, assess({ intentId: 'i2' }, a.goodTillDate! - 1)).events).data).toMatchObject({ reason: 'ENTRY_ORDER_RESTING' });
    });
  });
});
