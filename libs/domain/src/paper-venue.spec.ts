import { liquidationPrice } from './liquidation';
import type { PathStep } from './market-path';
import { dec, str, type D } from './money';
import { maxNotionalAt, PaperVenue, type PaperFill, type PaperOrderRequest, type PaperVenueEvent } from './paper-venue';
import { parseBinanceUsdmRules, rulesFromContract, type Rules } from './rules';
import { BAR_COUNT, barAt, indexOf, readJson, RULES, steps, stepsAt } from '../test/real-btcusdt';

// Real Binance USD-M BTCUSDT data (shared/data, see PROVENANCE.md): mainnet filters (tick 0.1,
// step 0.001, market max 120, min notional 5), the 2025-11-20 leverage brackets (bracket 1:
// 0–300,000 at 150x, MMR 0.004, cum 0; bracket 6 up to 100,000,000 at 20x), VIP 0 taker fee
// 0.0005, and the 1m klines of 2025-11-10 … 2025-12-10 (the 2025-11 sell-off).
const BRACKETS = readJson('binance-usdm/BTCUSDT/leverage-brackets.json');
// The 2025-11-26 (testnet-like) exchangeInfo has MIN_NOTIONAL 100, the value later mainnet responses show.
const TESTNET_INFO = readJson('binance-usdm/exchange-info/exchangeInfo-2025-11-26-testnet.json') as { symbols: Array<{ symbol: string }> };
const RULES_MIN_NOTIONAL_100: Rules = rulesFromContract(
  parseBinanceUsdmRules({ venue: 'binance-usdm', exchangeInfoSymbol: TESTNET_INFO.symbols.find((s) => s.symbol === 'BTCUSDT'), leverageBrackets: BRACKETS }),
);


const SYMBOL = 'BTCUSDT';
const ACC = 'acc1';

function venue(opts: { fund?: string; leverage?: number; rules?: Rules; isolated?: boolean } = {}): PaperVenue {
  const v = new PaperVenue(new Map([[SYMBOL, opts.rules ?? RULES]]));
  v.fund(ACC, dec(opts.fund ?? '10000'));
  expect(v.setOneWayMode(ACC)).toEqual({ ok: true, value: 'CHANGED' });
  if (opts.isolated ?? true) expect(v.setIsolated(ACC, SYMBOL)).toEqual({ ok: true, value: 'CHANGED' });
  expect(v.setLeverage(ACC, SYMBOL, opts.leverage ?? 20).ok).toBe(true);
  return v;
}

function order(clientOrderId: string, over: Partial<PaperOrderRequest> = {}): PaperOrderRequest {
  return { clientOrderId, symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.05'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null, ...over };
}

const close = (clientOrderId: string, quantity: string, triggerPrice: string | null, purpose: PaperOrderRequest['purpose'] = 'STOP_LOSS') =>
  order(clientOrderId, { side: 'SELL', quantity: dec(quantity), reduceOnly: true, purpose, triggerPrice: triggerPrice === null ? null : dec(triggerPrice) });

function place(v: PaperVenue, o: PaperOrderRequest): string {
  const r = v.placeOrder(ACC, o);
  if (!r.ok) throw new Error(`expected acceptance, got ${r.error.code} ${r.error.message}`);
  return r.value.venueOrderId;
}

const run = (v: PaperVenue, ss: PathStep[], funding: { rate: string } | null = null): PaperVenueEvent[] => ss.flatMap((s, k) => v.step(SYMBOL, s, k === 0 ? funding : null));

/** An event with its decimals as strings, for exact comparison. */
function plain(e: PaperVenueEvent): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const src = (e.kind === 'fill' ? { kind: 'fill', ...e.fill } : e) as Record<string, unknown>;
  for (const [k, val] of Object.entries(src)) o[k] = val !== null && typeof val === 'object' && 'toFixed' in val ? str(val as D) : val;
  return o;
}
const fills = (events: PaperVenueEvent[]): PaperFill[] => events.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));

function position(v: PaperVenue) {
  const a = v.account(ACC)!;
  const p = a.positions[0];
  return p
    ? { side: p.side, quantity: str(p.quantity), entryPrice: str(p.entryPrice), isolatedMargin: str(p.isolatedMargin), leverage: p.leverage, liquidationPrice: p.liquidationPrice && str(p.liquidationPrice) }
    : null;
}
const wallet = (v: PaperVenue) => str(v.account(ACC)!.walletBalance);
const available = (v: PaperVenue) => str(v.account(ACC)!.availableBalance);

/** Run bars from index `from` until `until` returns true for a step's events; returns the step and its events. */
function runUntil(v: PaperVenue, from: number, until: (events: PaperVenueEvent[], s: PathStep) => boolean, before?: (s: PathStep) => void) {
  for (let i = from; i < BAR_COUNT; i++) {
    for (const s of stepsAt(i)) {
      before?.(s);
      const events = v.step(SYMBOL, s);
      if (until(events, s)) return { step: s, events };
    }
  }
  throw new Error('condition never met in the file');
}

// 2025-11-10 00:00: O 104670.7 H 104670.7 L 104570.6 C 104587.7; 00:01: O 104587.8 H 104587.8 L 104412 C 104427.3.
const BAR_0000 = '2025-11-10T00:00:00Z';
const BAR_0001 = '2025-11-10T00:01:00Z';

describe('PaperVenue: account setup answers', () => {
  it('one-way mode: CHANGED, then UNCHANGED; an unknown account → -2015', () => {
    const v = new PaperVenue(new Map([[SYMBOL, RULES]]));
    expect(v.setOneWayMode(ACC)).toEqual({ ok: false, error: { code: '-2015', message: 'Invalid API-key, IP, or permissions for action.' } });
    v.fund(ACC, dec('100'));
    expect(v.hasAccount(ACC)).toBe(true);
    expect(v.setOneWayMode(ACC)).toEqual({ ok: true, value: 'CHANGED' });
    expect(v.setOneWayMode(ACC)).toEqual({ ok: true, value: 'UNCHANGED' });
  });

  it('isolated margin: CHANGED, then UNCHANGED; an unknown symbol → -1121', () => {
    const v = new PaperVenue(new Map([[SYMBOL, RULES]]));
    v.fund(ACC, dec('100'));
    expect(v.setIsolated(ACC, SYMBOL)).toEqual({ ok: true, value: 'CHANGED' });
    expect(v.setIsolated(ACC, SYMBOL)).toEqual({ ok: true, value: 'UNCHANGED' });
    expect(v.setIsolated(ACC, 'ETHUSDT')).toEqual({ ok: false, error: { code: '-1121', message: 'Invalid symbol. ETHUSDT' } });
  });

  it('switching to isolated with an open position → -4048', () => {
    const v = venue({ isolated: false });
    run(v, steps(BAR_0000));
    place(v, order('e1'));
    run(v, steps(BAR_0001));
    expect(position(v)?.quantity).toBe('0.05');
    expect(v.setIsolated(ACC, SYMBOL)).toEqual({ ok: false, error: { code: '-4048', message: 'Margin type cannot be changed if there exists position.' } });
  });

  it.each([
    [1, '1800000000'], // every bracket allows 1x: the last cap
    [20, '100000000'], // brackets 1–6 allow 20x: bracket 6's cap
    [50, '12000000'],
    [75, '3000000'],
    [100, '800000'],
    [125, '300000'], // only bracket 1 (150x) allows 125x
    [150, '300000'],
  ])('leverage %ix is accepted; the max notional at it is %s (the cap of the last bracket whose max leverage allows it)', (lev, cap) => {
    const v = venue();
    const r = v.setLeverage(ACC, SYMBOL, lev);
    expect(r.ok && { leverage: r.value.leverage, maxNotional: str(r.value.maxNotional) }).toEqual({ leverage: lev, maxNotional: cap });
    expect(str(maxNotionalAt(RULES, lev))).toBe(cap);
  });

  it.each([0, 151, 2.5, -1])('leverage %p → -4028 (above bracket 1’s 150x, below 1, or not an integer)', (lev) => {
    expect(venue().setLeverage(ACC, SYMBOL, lev)).toEqual({ ok: false, error: { code: '-4028', message: `Leverage is not valid (${lev})` } });
  });

  it('raising leverage over what the open position allows → -2027: 3 BTC at 104,587.8 = 313,763.4 notional > 300,000 (the 125x cap); 100x (cap 800,000) is fine', () => {
    const v = venue({ fund: '20000' });
    run(v, steps(BAR_0000));
    place(v, order('e1', { quantity: dec('3') }));
    run(v, steps(BAR_0001));
    expect(position(v)).toMatchObject({ quantity: '3', entryPrice: '104587.8' });
    expect(v.setLeverage(ACC, SYMBOL, 125)).toEqual({ ok: false, error: { code: '-2027', message: 'Exceeded the maximum allowable position at current leverage.' } });
    expect(v.setLeverage(ACC, SYMBOL, 100).ok).toBe(true);
  });
});

describe('PaperVenue: placeOrder validations (last price 104,587.7, the 2025-11-10 00:00 close)', () => {
  const ready = (opts: Parameters<typeof venue>[0] = {}) => {
    const v = venue(opts);
    run(v, steps(BAR_0000));
    return v;
  };
  const rejected = (v: PaperVenue, o: PaperOrderRequest) => {
    const r = v.placeOrder(ACC, o);
    if (r.ok) throw new Error(`expected a rejection, got venue order ${r.value.venueOrderId}`);
    return r.error;
  };

  it('-4061 before one-way mode is set', () => {
    const v = new PaperVenue(new Map([[SYMBOL, RULES]]));
    v.fund(ACC, dec('10000'));
    expect(rejected(v, order('e1'))).toEqual({ code: '-4061', message: "Order's position side does not match user's setting. (set one-way mode first)" });
  });

  it('-1121 before the symbol has a market price', () => {
    expect(rejected(venue(), order('e1'))).toEqual({ code: '-1121', message: 'Invalid symbol. (no market price yet)' });
  });

  it('-2019 margin insufficient: 0.1 BTC at 104,587.7, 20x, needs 10,458.77 / 20 + 0.0005 × 10,458.77 = 522.9385 + 5.229385 = 528.167885 > 100 funded', () => {
    expect(rejected(ready({ fund: '100' }), order('e1', { quantity: dec('0.1') }))).toEqual({ code: '-2019', message: 'Margin is insufficient. (needs 528.167885, available 100)' });
  });

  it('exactly enough margin is accepted: funding 528.167885 covers the 0.1 BTC order', () => {
    expect(ready({ fund: '528.167885' }).placeOrder(ACC, order('e1', { quantity: dec('0.1') }))).toEqual({ ok: true, value: { venueOrderId: '1' } });
  });

  it('-2022 reduce-only without a position, on the position’s own side, or larger than the position', () => {
    const v = ready();
    expect(rejected(v, close('c1', '0.05', null))).toEqual({ code: '-2022', message: 'ReduceOnly Order is rejected.' });
    place(v, order('e1'));
    run(v, steps(BAR_0001)); // long 0.05
    expect(rejected(v, order('c2', { reduceOnly: true }))).toMatchObject({ code: '-2022' }); // BUY on a long
    expect(rejected(v, close('c3', '0.051', null))).toMatchObject({ code: '-2022' }); // 0.051 > 0.05
    expect(v.placeOrder(ACC, close('c4', '0.05', null)).ok).toBe(true);
  });

  it('-4164 min notional 100 (2025-11-26 exchangeInfo) at the 2025-11-21 12:29 close 80,920.1: 0.001 × 80,920.1 = 80.9201 < 100; 0.002 (161.8402) passes; a reduce-only 0.001 is exempt', () => {
    const v = venue({ rules: RULES_MIN_NOTIONAL_100 });
    const bar = barAt(indexOf('2025-11-21T12:29:00Z'));
    expect(bar).toMatchObject({ open: '80685.5', high: '80931.7', low: '80600', close: '80920.1' });
    run(v, steps('2025-11-21T12:29:00Z'));
    expect(rejected(v, order('e1', { quantity: dec('0.001') }))).toEqual({
      code: '-4164',
      message: "Order's notional must be no smaller than the minimum (unless you choose reduce only). notional 0.001 × 80920.1 = 80.9201 is below the minimum notional 100",
    });
    place(v, order('e2', { quantity: dec('0.002') }));
    run(v, steps('2025-11-21T12:30:00Z'));
    expect(v.placeOrder(ACC, close('c1', '0.001', null)).ok).toBe(true);
  });

  it('-1111 quantity off the 0.001 step (0.0015) and a LIMIT price off the 0.1 tick (104587.75)', () => {
    const v = ready();
    expect(rejected(v, order('e1', { quantity: dec('0.0015') }))).toEqual({ code: '-1111', message: 'Precision is over the maximum defined for this asset. (quantity 0.0015, step 0.001)' });
    expect(rejected(v, order('e2', { type: 'LIMIT', price: dec('104587.75') }))).toEqual({ code: '-1111', message: 'Precision is over the maximum defined for this asset. (price)' });
  });

  it('-4003 zero quantity; -4005 above the MARKET max quantity 120', () => {
    const v = ready({ fund: '1000000000' });
    expect(rejected(v, order('e1', { quantity: dec('0') }))).toMatchObject({ code: '-4003' });
    expect(rejected(v, order('e2', { quantity: dec('120.001') }))).toEqual({ code: '-4005', message: 'Quantity greater than max quantity. quantity 120.001 is above the MARKET maximum 120' });
  });

  it('-2027 an order over the bracket cap at the leverage: 150x allows 300,000; 2.869 × 104,587.7 = 300,062.1 > 300,000, 2.868 (299,957.5) passes', () => {
    const v = ready({ leverage: 150 });
    expect(rejected(v, order('e1', { quantity: dec('2.869') }))).toEqual({ code: '-2027', message: 'Exceeded the maximum allowable position at current leverage.' });
    expect(v.placeOrder(ACC, order('e2', { quantity: dec('2.868') })).ok).toBe(true);
  });

  it('-4015 a client order id already used (accepted, even after it filled)', () => {
    const v = ready();
    expect(v.placeOrder(ACC, order('e1'))).toEqual({ ok: true, value: { venueOrderId: '1' } });
    expect(rejected(v, order('e1'))).toEqual({ code: '-4015', message: 'Client order id is not valid (duplicate). e1' });
    run(v, steps(BAR_0001));
    expect(rejected(v, order('e1'))).toMatchObject({ code: '-4015' });
  });

  it('a rejected client order id is not burnt: -2019 then accepted with the same id after funding', () => {
    const v = ready({ fund: '100' });
    expect(rejected(v, order('e1', { quantity: dec('0.1') })).code).toBe('-2019');
    v.fund(ACC, dec('1000'));
    expect(v.placeOrder(ACC, order('e1', { quantity: dec('0.1') })).ok).toBe(true);
  });

  it('cancelOrder removes a resting order; a second cancel → -2011', () => {
    const v = ready();
    place(v, order('e1'));
    expect(v.openOrders(ACC).map((o) => o.clientOrderId)).toEqual(['e1']);
    expect(v.cancelOrder(ACC, 'e1')).toEqual({ ok: true, value: { venueOrderId: '1' } });
    expect(v.cancelOrder(ACC, 'e1')).toEqual({ ok: false, error: { code: '-2011', message: 'Unknown order sent.' } });
    expect(run(v, steps(BAR_0001))).toEqual([]);
  });
});

describe('PaperVenue: fills', () => {
  it('a market entry queued after the 00:00 candle fills at the 00:01 open 104,587.8 (the gap step), taker fee 0.05 % and isolated margin = notional / leverage', () => {
    const v = venue();
    run(v, steps(BAR_0000));
    place(v, order('e1'));
    const ss = steps(BAR_0001);
    const events = v.step(SYMBOL, ss[0]);
    // notional = 0.05 × 104,587.8 = 5,229.39; fee = 5,229.39 × 0.0005 = 2.614695; margin = 5,229.39 / 20 = 261.4695
    expect(events.map(plain)).toEqual([
      {
        kind: 'fill', accountId: ACC, clientOrderId: 'e1', venueOrderId: '1', tradeId: '1', symbol: SYMBOL, side: 'BUY', purpose: 'ENTRY',
        quantity: '0.05', price: '104587.8', fee: '2.614695', liquidity: 'TAKER', leverage: 20, realisedPnl: '0', liquidationFee: '0', venueGenerated: false, ts: 1762732860000, cumulativeQuantity: '0.05',
      },
    ]);
    // liquidation price = (5,229.39 − 261.4695) / (0.05 × (1 − 0.004)) = 4,967.9205 / 0.0498 = 99,757.4397590…
    expect(position(v)).toEqual({ side: 'LONG', quantity: '0.05', entryPrice: '104587.8', isolatedMargin: '261.4695', leverage: 20, liquidationPrice: '99757.43975903614457831325301204819277108' });
    expect(wallet(v)).toBe('9997.385305'); // 10,000 − 2.614695
    expect(available(v)).toBe('9735.915805'); // 9,997.385305 − 261.4695
    expect(v.openOrders(ACC)).toEqual([]);
  });

  it('a triggered stop close fills at its trigger price on a continuous step: SELL 0.05 at 104,500 on 104,587.8 → 104,412', () => {
    const v = venue();
    run(v, steps(BAR_0000));
    place(v, order('e1'));
    const ss = steps(BAR_0001);
    v.step(SYMBOL, ss[0]);
    v.step(SYMBOL, ss[1]);
    place(v, close('s1', '0.05', '104500'));
    const events = v.step(SYMBOL, ss[2]);
    expect(ss[2]).toMatchObject({ from: '104587.8', to: '104412', gap: false });
    // fee = 0.05 × 104,500 × 0.0005 = 2.6125; PnL = (104,500 − 104,587.8) × 0.05 = −4.39
    expect(events.map(plain)).toEqual([
      {
        kind: 'fill', accountId: ACC, clientOrderId: 's1', venueOrderId: '2', tradeId: '2', symbol: SYMBOL, side: 'SELL', purpose: 'STOP_LOSS',
        quantity: '0.05', price: '104500', fee: '2.6125', liquidity: 'TAKER', leverage: 20, realisedPnl: '-4.39', liquidationFee: '0', venueGenerated: false, ts: 1762732900000, cumulativeQuantity: '0.05',
      },
    ]);
    expect(position(v)).toBeNull();
    expect(wallet(v)).toBe('9990.382805'); // 10,000 − 2.614695 − 2.6125 − 4.39
    expect(available(v)).toBe('9990.382805'); // the margin is released
  });

  it('a triggered close the step does not reach fills at the step start (104,587.8 → 104,587.8 never reaches 104,500)', () => {
    const v = venue();
    run(v, steps(BAR_0000));
    place(v, order('e1'));
    const ss = steps(BAR_0001);
    v.step(SYMBOL, ss[0]);
    place(v, close('s1', '0.05', '104500'));
    expect(fills(v.step(SYMBOL, ss[1])).map((f) => str(f.price))).toEqual(['104587.8']);
  });

  it('a short pays the fee and books PnL the other way: SELL 0.05 at 104,587.8, closed by a market BUY at the 00:02 open 104,427.2 → PnL (104,587.8 − 104,427.2) × 0.05 = 8.03', () => {
    const v = venue();
    run(v, steps(BAR_0000));
    place(v, order('e1', { side: 'SELL' }));
    run(v, steps(BAR_0001));
    expect(position(v)).toMatchObject({ side: 'SHORT', quantity: '0.05', entryPrice: '104587.8' });
    place(v, order('c1', { side: 'BUY', reduceOnly: true, purpose: 'CLOSE' }));
    const f = fills(v.step(SYMBOL, steps('2025-11-10T00:02:00Z')[0]));
    // 00:02 opens at 104427.2 after the 104427.3 close: the market close fills at the post-gap open.
    expect(f.map((x) => [str(x.price), str(x.fee), str(x.realisedPnl)])).toEqual([['104427.2', '2.61068', '8.03']]);
    // 10,000 − 2.614695 − 2.61068 + (104,587.8 − 104,427.2) × 0.05 = 10,002.804625
    expect(wallet(v)).toBe('10002.804625');
  });
});

describe('PaperVenue: liquidation on the 2025-11 sell-off', () => {
  // Entry: 0.5 BTC queued after the 2025-11-11 01:22 bar (the top, 107,473.7), filled at the
  // 01:23 open 107,233.4. Fee 0.5 × 107,233.4 × 0.0005 = 26.80835.
  const ENTRY_BAR = '2025-11-11T01:23:00Z';

  function longAtTheTop(leverage: number): PaperVenue {
    const v = venue({ leverage });
    run(v, stepsAt(indexOf(ENTRY_BAR) - 1));
    place(v, order('e1', { quantity: dec('0.5') }));
    const [f] = fills(v.step(SYMBOL, steps(ENTRY_BAR)[0]));
    expect([str(f.price), str(f.fee)]).toEqual(['107233.4', '26.80835']);
    expect(wallet(v)).toBe('9973.19165');
    return v;
  }

  it('50x: margin 53,616.7 / 50 = 1,072.334; LP = (53,616.7 − 1,072.334) / (0.5 × 0.996) = 105,510.775…; liquidated there on 2025-11-11 05:04:40 (105,583.5 → 105,462.2); the wallet loses exactly the margin', () => {
    const v = longAtTheTop(50);
    const before = position(v)!;
    expect(before).toMatchObject({ quantity: '0.5', entryPrice: '107233.4', isolatedMargin: '1072.334' });
    const lp = liquidationPrice({ side: 'LONG', quantity: dec('0.5'), entryPrice: dec('107233.4'), walletBalance: dec('1072.334'), brackets: RULES.brackets }).price!;
    expect(str(lp)).toBe('105510.7751004016064257028112449799196787');
    expect(before.liquidationPrice).toBe(str(lp));

    const { step, events } = runUntil(v, indexOf(ENTRY_BAR) + 1, (es) => es.length > 0);
    expect(step).toEqual({ pathIndex: 2, ts: Date.parse('2025-11-11T05:04:40Z'), from: '105583.5', to: '105462.2', gap: false });
    expect(events).toHaveLength(1);
    const f = fills(events)[0];
    expect(plain(events[0])).toMatchObject({ side: 'SELL', purpose: 'LIQUIDATION', quantity: '0.5', price: str(lp), fee: '0', liquidity: 'TAKER', leverage: 50, venueGenerated: true, ts: step.ts });
    expect(f.clientOrderId).toMatch(/^autoclose-[0-9a-z]{11}-\d+$/);
    // PnL = (LP − 107,233.4) × 0.5 = −861.312449799…; clearance fee = margin + PnL = 1,072.334 − 861.312… = 211.021550…
    expect(str(f.realisedPnl)).toBe('-861.31244979919678714859437751004016065');
    expect(str(f.liquidationFee)).toBe('211.02155020080321285140562248995983935');
    expect(str(f.liquidationFee.minus(f.realisedPnl))).toBe('1072.334'); // the whole isolated margin is gone
    // At LP, margin + PnL = maintenance margin = 0.5 × LP × 0.004 − 0 (bracket 1).
    expect(str(f.liquidationFee.toDecimalPlaces(30))).toBe(str(dec('0.5').mul(lp).mul('0.004').toDecimalPlaces(30)));
    expect(position(v)).toBeNull();
    expect(wallet(v)).toBe('8900.85765'); // 9,973.19165 − 1,072.334
    expect(available(v)).toBe('8900.85765');
  });

  it('20x: margin 2,680.835; LP = (53,616.7 − 2,680.835) / 0.498 = 102,280.853…; liquidated on 2025-11-12 15:52:40 (102,600 → 102,100); wallet 9,973.19165 − 2,680.835 = 7,292.35665', () => {
    const v = longAtTheTop(20);
    expect(position(v)).toMatchObject({ isolatedMargin: '2680.835', liquidationPrice: '102280.8534136546184738955823293172690763' });
    const { step, events } = runUntil(v, indexOf(ENTRY_BAR) + 1, (es) => es.length > 0);
    expect(step).toMatchObject({ ts: Date.parse('2025-11-12T15:52:40Z'), from: '102600', to: '102100', gap: false });
    const [f] = fills(events);
    expect(f.purpose).toBe('LIQUIDATION');
    expect(str(f.price)).toBe('102280.8534136546184738955823293172690763');
    expect(str(f.liquidationFee.minus(f.realisedPnl))).toBe('2680.835');
    expect(wallet(v)).toBe('7292.35665');
  });

  // On the 20x liquidation step (102,600 → 102,100, LP 102,280.853…) the liquidation is at
  // fraction (102,600 − 102,280.853…) / 500 = 0.638…
  const LIQ_STEP_TS = Date.parse('2025-11-12T15:52:40Z');

  it('a stop triggered earlier on the same step (102,400: fraction 200 / 500 = 0.4 < 0.638) closes first at 102,400; no liquidation', () => {
    const v = longAtTheTop(20);
    const { events } = runUntil(
      v,
      indexOf(ENTRY_BAR) + 1,
      (_es, s) => s.ts === LIQ_STEP_TS,
      (s) => {
        if (s.ts === LIQ_STEP_TS) place(v, close('s1', '0.5', '102400'));
      },
    );
    // PnL = (102,400 − 107,233.4) × 0.5 = −2,416.7; fee = 0.5 × 102,400 × 0.0005 = 25.6
    expect(events.map(plain)).toEqual([expect.objectContaining({ kind: 'fill', clientOrderId: 's1', purpose: 'STOP_LOSS', price: '102400', fee: '25.6', realisedPnl: '-2416.7', liquidationFee: '0' })]);
    expect(position(v)).toBeNull();
    expect(wallet(v)).toBe('7530.89165'); // 9,973.19165 − 2,416.7 − 25.6: 155.135 better than the liquidation
  });

  it('a reduce-only close whose trigger comes after the liquidation on the same step (102,200: fraction 0.8) is rejected with -2022', () => {
    const v = longAtTheTop(20);
    const { events } = runUntil(
      v,
      indexOf(ENTRY_BAR) + 1,
      (_es, s) => s.ts === LIQ_STEP_TS,
      (s) => {
        if (s.ts === LIQ_STEP_TS) place(v, close('s1', '0.5', '102200'));
      },
    );
    expect(events.map((e) => (e.kind === 'fill' ? e.fill.purpose : e.kind))).toEqual(['LIQUIDATION', 'rejected']);
    expect(events[1]).toEqual({ kind: 'rejected', accountId: ACC, clientOrderId: 's1', code: '-2022', message: 'ReduceOnly Order is rejected.', ts: LIQ_STEP_TS });
    expect(wallet(v)).toBe('7292.35665');
    expect(v.openOrders(ACC)).toEqual([]);
  });

  it('a constructed continuous step just over the 50x LP (105,600 → 105,500) liquidates at LP, not at the step end', () => {
    const v = longAtTheTop(50);
    const events = v.step(SYMBOL, { from: '105600', to: '105500', gap: false, ts: 1762824240000 });
    expect(fills(events).map((f) => [f.purpose, str(f.price)])).toEqual([['LIQUIDATION', '105510.7751004016064257028112449799196787']]);
    expect(wallet(v)).toBe('8900.85765');
    expect(v.step(SYMBOL, { from: '105600', to: '105520', gap: false, ts: 1762824240000 })).toEqual([]); // flat: nothing left
  });

  // A gap below the bankruptcy price (107,233.4 − 1,072.334 / 0.5 = 105,088.732): an isolated
  // position can lose at most its isolated margin (1,072.334); the insurance fund takes the
  // rest, so the liquidation is booked at the bankruptcy price and the clearance fee is 0.
  it('a gap through the bankruptcy price (105,600 ⇒ 105,000) still costs exactly the isolated margin 1,072.334', () => {
    const v = longAtTheTop(50);
    const events = v.step(SYMBOL, { from: '105600', to: '105000', gap: true, ts: 1762824240000 });
    const [f] = fills(events);
    expect([f.purpose, str(f.price)]).toEqual(['LIQUIDATION', '105088.732']);
    expect(str(f.realisedPnl)).toBe('-1072.334');
    expect(str(f.liquidationFee)).toBe('0');
    expect(wallet(v)).toBe('8900.85765'); // 9,973.19165 − 1,072.334
  });
});

describe('PaperVenue: funding and the wallet identity', () => {
  // Real funding settlement 2025-11-10 08:00 UTC (funding-rates.csv): rate 0.00007355.
  // Bars: 07:58 C 106392.1; 07:59 O 106392 C 106417.7; 08:00 O 106417.6 H 106428 L 106417.6 C 106428;
  // 08:01 O 106428 H 106428 L 106401 C 106419.2.
  const RATE = '0.00007355';

  function longBefore0800(side: 'BUY' | 'SELL' = 'BUY'): PaperVenue {
    const v = venue();
    run(v, steps('2025-11-10T07:58:00Z'));
    place(v, order('e1', { side, quantity: dec('0.5') }));
    const f = fills(run(v, steps('2025-11-10T07:59:00Z')));
    expect(f.map((x) => [str(x.price), str(x.fee)])).toEqual([['106392', '26.598']]); // 0.5 × 106,392 × 0.0005
    return v;
  }

  it('funding settles before the fills of its step: a long 0.5 pays 0.5 × 106,417.6 × 0.00007355 = 3.91350724 on the full size, then the queued SELL 0.2 fills', () => {
    const v = longBefore0800();
    expect(position(v)?.isolatedMargin).toBe('2659.8'); // 53,196 / 20
    place(v, close('c1', '0.2', null, 'CLOSE'));
    const [s0] = steps('2025-11-10T08:00:00Z');
    const events = v.step(SYMBOL, s0, { rate: RATE });
    expect(events.map(plain)).toEqual([
      { kind: 'funding', accountId: ACC, symbol: SYMBOL, amount: '-3.91350724', rate: '0.00007355', markPrice: '106417.6', ts: Date.parse('2025-11-10T08:00:00Z') },
      expect.objectContaining({ kind: 'fill', clientOrderId: 'c1', quantity: '0.2', price: '106417.6', fee: '10.64176', realisedPnl: '5.12' }),
    ]);
    // Isolated margin: 2,659.8 − 3.91350724 = 2,655.88649276, then 0.2/0.5 of it released → 1,593.531895656
    expect(position(v)).toMatchObject({ quantity: '0.3', isolatedMargin: '1593.531895656' });
    // Wallet: 10,000 − 26.598 − 3.91350724 − 10.64176 + 5.12
    expect(wallet(v)).toBe('9963.96673276');
  });

  it('a short receives the same positive rate: +3.91350724', () => {
    const v = longBefore0800('SELL');
    const events = v.step(SYMBOL, steps('2025-11-10T08:00:00Z')[0], { rate: RATE });
    expect(events.map(plain)).toEqual([{ kind: 'funding', accountId: ACC, symbol: SYMBOL, amount: '3.91350724', rate: RATE, markPrice: '106417.6', ts: Date.parse('2025-11-10T08:00:00Z') }]);
    expect(position(v)?.isolatedMargin).toBe('2663.71350724'); // 2,659.8 + 3.91350724
    expect(wallet(v)).toBe('9977.31550724'); // 10,000 − 26.598 + 3.91350724
  });

  it('no position, no funding event', () => {
    const v = venue();
    expect(v.step(SYMBOL, steps('2025-11-10T08:00:00Z')[0], { rate: RATE })).toEqual([]);
    expect(wallet(v)).toBe('10000');
  });

  it('wallet = funded − fees + realised PnL + funding after entry, funding, partial close, increase and a triggered stop', () => {
    const v = longBefore0800();
    const events: PaperVenueEvent[] = [];
    place(v, close('c1', '0.2', null, 'CLOSE'));
    const s0800 = steps('2025-11-10T08:00:00Z');
    events.push(...v.step(SYMBOL, s0800[0], { rate: RATE })); // funding −3.91350724, SELL 0.2 at 106,417.6
    place(v, order('e2', { quantity: dec('0.1') }));
    events.push(...v.step(SYMBOL, s0800[1])); // BUY 0.1 at 106,417.6 (the step start)
    // Entry (0.3 × 106,392 + 0.1 × 106,417.6) / 0.4 = 42,559.36 / 0.4 = 106,398.4
    expect(position(v)).toMatchObject({ quantity: '0.4', entryPrice: '106398.4' });
    events.push(...v.step(SYMBOL, s0800[2]), ...v.step(SYMBOL, s0800[3]));
    const s0801 = steps('2025-11-10T08:01:00Z');
    events.push(...v.step(SYMBOL, s0801[0]), ...v.step(SYMBOL, s0801[1]));
    place(v, close('s1', '0.4', '106410'));
    events.push(...v.step(SYMBOL, s0801[2])); // 106,428 → 106,401 crosses 106,410: SELL 0.4 at 106,410, PnL (106,410 − 106,398.4) × 0.4 = 4.64
    expect(position(v)).toBeNull();

    const all = [...fills(events), { fee: dec('26.598'), realisedPnl: dec(0) }]; // + the entry fill of longBefore0800
    const fees = all.reduce((a, f) => a.plus(f.fee), dec(0));
    const pnl = all.reduce((a, f) => a.plus(f.realisedPnl), dec(0));
    const funding = events.reduce((a, e) => (e.kind === 'funding' ? a.plus(e.amount) : a), dec(0));
    expect([str(fees), str(pnl), str(funding)]).toEqual(['63.84264', '9.76', '-3.91350724']); // 26.598 + 10.64176 + 5.32088 + 21.282; 5.12 + 4.64
    expect(wallet(v)).toBe(str(dec('10000').minus(fees).plus(pnl).plus(funding)));
    expect(wallet(v)).toBe('9942.00385276');
    expect(available(v)).toBe('9942.00385276');
  });
});
