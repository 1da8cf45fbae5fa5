/**
 * The ccxt adapter (BinanceUsdmVenue / LocalBinanceVenue on unmodified ccxt 4.5.84
 * binanceusdm + ccxt.pro) against the local Binance-compatible venue, over HTTP and the
 * user-data websocket, with real BTCUSDT rules from ../shared/data.
 */
import { resolveDataDir } from '@bulwark/market-data';
import { startBinanceLocal, localVenueInputs, type BinanceLocal } from '@bulwark/binance-local';
import { dec, normalizeQuantity, str, type PaperVenueEvent, type Rules } from '@bulwark/domain';
import { LocalBinanceVenue, VenueCallError, type VenueAlert } from './index';
import { classifyVenueError } from './errors';


const KEY = 'int-key-Q2hlY2tUaGF0VGhpc05ldmVyTGVha3M0';
const SECRET = 'int-secret-U2VjcmV0U2hvdWxkTmV2ZXJMZWFrQW55d2hlcmU';
const OTHER_KEY = 'int-key2-b3RoZXJBY2NvdW50S2V5Rm9yVGVzdHM';
const OTHER_SECRET = 'int-secret2-b3RoZXJBY2NvdW50U2VjcmV0Rm9yVGVzdHM';
const ACC = 'acc-int';
const SYMBOL = 'BTCUSDT';
const T0 = Date.parse('2025-11-21T07:30:59.999Z');

let local: BinanceLocal;
let rules: Rules;

/** A clock whose sleeps pass instantly (recorded), so Retry-After and bans cost no real time. */
function skipClock() {
  const c = { offset: 0, sleeps: [] as number[], now: () => Date.now() + c.offset, sleep: async (ms: number) => void (c.sleeps.push(ms), (c.offset += Math.max(0, ms))) };
  return c;
}

const logs: string[] = [];
const alerts: VenueAlert[] = [];

function venue(accountId = ACC, key = KEY, secret = SECRET, clock = skipClock(), timeoutMs = 3_000) {
  return new LocalBinanceVenue({ accountId, apiKey: key, apiSecret: secret, restBase: local.url, wsBase: local.wsUrl, clock, timeoutMs, leverageCap: 20, log: (l) => (logs.push(l), process.env.VENUE_DEBUG && console.log(l)), onAlert: (a) => alerts.push(a), random: () => 0.5 });
}

beforeAll(async () => {
  const inputs = localVenueInputs(resolveDataDir());
  rules = inputs.rules.get(SYMBOL)!;
  local = await startBinanceLocal({
    ...inputs,
    accounts: [
      { accountId: ACC, apiKey: KEY, apiSecret: SECRET },
      { accountId: 'acc-faults', apiKey: OTHER_KEY, apiSecret: OTHER_SECRET, balance: '5000' },
      { accountId: 'acc-hedge', apiKey: 'hedge-key-0123456789', apiSecret: 'hedge-secret-0123456789', balance: '1000' },
    ],
  });
});
afterAll(async () => {
  await local?.close();
});
afterEach(() => {
  expect(local.faults.pending().filter((r) => r.count !== -1)).toEqual([]); // every armed fault really fired
  local.faults.clear();
});

const step = (from: string, to: string, ts: number, gap = false) => ({ from, to, gap, ts });
const fills = (ev: PaperVenueEvent[]) => ev.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));

describe('LocalBinanceVenue: the full lifecycle through ccxt (HTTP + user-data websocket)', () => {
  it('leverage, isolated, one-way, normalised market entry, algo stop and take-profit read back, stop triggered by price, position closed, PnL to the cent', async () => {
    const v = venue();
    try {
      expect(v.hasAccount(ACC)).toBe(false);
      await v.deposit(ACC, dec('1000'));
      expect(v.hasAccount(ACC)).toBe(true);
      expect(v.isIdle()).toBe(true);

      expect((await v.setOneWayMode(ACC)).ok).toBe(true); // -4059 "No need to change position side." is success
      expect(await v.setOneWayMode(ACC)).toEqual({ ok: true, value: 'UNCHANGED' });
      expect(await v.positionMode(ACC)).toBe('ONE_WAY');
      expect(await v.setIsolatedMargin(ACC, SYMBOL)).toEqual({ ok: true, value: 'CHANGED' });
      expect(await v.setIsolatedMargin(ACC, SYMBOL)).toEqual({ ok: true, value: 'UNCHANGED' }); // -4046
      const fetches = jest.spyOn(v.exchange, 'fetch');
      expect(await v.setLeverage(ACC, SYMBOL, 50)).toEqual({ ok: false, error: expect.objectContaining({ code: 'LEVERAGE_CAP' }) });
      expect(fetches).not.toHaveBeenCalled(); // the cap is enforced before any call
      const lev = await v.setLeverage(ACC, SYMBOL, 10);
      expect(lev.ok && lev.value.leverage).toBe(10);
      expect(lev.ok && lev.value.maxNotional.gt(0)).toBe(true);

      // The market: one step sets the price.
      expect(await v.advance(SYMBOL, step('85175.8', '85100.0', T0), null)).toEqual([]);
      const q = normalizeQuantity(rules, dec('0.02345'), dec('85100'), 'MARKET');
      if (!q.ok) throw new Error(q.error.message);
      expect(str(q.value)).toBe('0.023');
      const entry = await v.placeOrder(ACC, { clientOrderId: 'int-entry-1', symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: q.value, price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
      expect(entry.ok).toBe(true);
      expect(v.isIdle()).toBe(false);

      // Next step: the entry fills at its first price, 85,100.0, taker: fee 0.023 × 85,100 × 0.0005 = 0.97865.
      const e1 = await v.advance(SYMBOL, step('85100.0', '85050.0', T0 + 15_000), null);
      expect(fills(e1)).toHaveLength(1);
      const f1 = fills(e1)[0];
      expect([f1.clientOrderId, f1.venueOrderId, f1.side, f1.purpose, str(f1.price), str(f1.quantity), str(f1.fee), f1.liquidity, f1.leverage]).toEqual(
        ['int-entry-1', entry.ok ? entry.value.venueOrderId : '', 'BUY', 'ENTRY', '85100', '0.023', '0.97865', 'TAKER', 10],
      );
      const [pos] = await v.positions(ACC, SYMBOL);
      expect([pos.side, str(pos.quantity), str(pos.entryPrice), str(pos.isolatedMargin), pos.leverage, pos.marginType]).toEqual(['LONG', '0.023', '85100', '195.73', 10, 'isolated']);

      // Protection at the exchange: algo stop and take-profit, read back.
      const sl = await v.placeProtectiveOrder(ACC, { clientAlgoId: 'int-sl-1', symbol: SYMBOL, side: 'SELL', kind: 'STOP_LOSS', triggerPrice: dec('84000.0'), quantity: q.value });
      const tp = await v.placeProtectiveOrder(ACC, { clientAlgoId: 'int-tp-1', symbol: SYMBOL, side: 'SELL', kind: 'TAKE_PROFIT', triggerPrice: dec('87000.0'), quantity: q.value });
      expect(sl.ok && tp.ok).toBe(true);
      const back = await v.protectiveOrder(ACC, SYMBOL, 'int-sl-1');
      expect(back && [back.algoId, back.type, back.side, str(back.triggerPrice), back.quantity && str(back.quantity), back.reduceOnly, back.status]).toEqual([
        sl.ok ? sl.value.algoId : '', 'STOP_MARKET', 'SELL', '84000', '0.023', true, 'NEW',
      ]);
      expect((await v.openProtectiveOrders(ACC, SYMBOL)).map((a) => [a.clientAlgoId, a.type]).sort()).toEqual([['int-sl-1', 'STOP_MARKET'], ['int-tp-1', 'TAKE_PROFIT_MARKET']]);

      // Price falls through 84,000: the venue's stop triggers and fills at the trigger.
      const e2 = await v.advance(SYMBOL, step('85050.0', '83900.0', T0 + 30_000), null);
      expect(e2.map((e) => e.kind)).toEqual(['algoTriggered', 'fill']);
      const f2 = fills(e2)[0];
      // Realised (84,000 − 85,100) × 0.023 = −25.3; fee 0.023 × 84,000 × 0.0005 = 0.966.
      expect([f2.clientOrderId, f2.side, f2.purpose, str(f2.price), str(f2.realisedPnl), str(f2.fee)]).toEqual(['int-sl-1', 'SELL', 'STOP_LOSS', '84000', '-25.3', '0.966']);
      expect(await v.positions(ACC, SYMBOL)).toEqual([]);
      expect((await v.protectiveOrder(ACC, SYMBOL, 'int-sl-1'))?.status).toBe('FINISHED');

      // The take-profit is still resting: cancel-all removes it (regular and algo orders).
      expect(await v.cancelAll(ACC, SYMBOL)).toEqual({ orders: 0, algoOrders: 1 });
      expect(v.isIdle()).toBe(true);

      // The venue's trades: realised PnL and fees to the cent, as hand-computed.
      const trades = await v.trades(ACC, SYMBOL);
      expect(trades.map((t) => [t.side, str(t.price), str(t.quantity), str(t.fee), str(t.realisedPnl), t.maker])).toEqual([
        ['BUY', '85100', '0.023', '0.97865', '0', false],
        ['SELL', '84000', '0.023', '0.966', '-25.3', false],
      ]);
      const realised = trades.reduce((a, t) => a.plus(t.realisedPnl), dec(0));
      const feesPaid = trades.reduce((a, t) => a.plus(t.fee), dec(0));
      expect(realised.toFixed(2)).toBe('-25.30');
      expect(feesPaid.toFixed(2)).toBe('1.94');
      const acct = (await v.account(ACC))!;
      expect(str(acct.walletBalance)).toBe('972.75535'); // 1,000 − 25.3 − 1.94465
      expect(acct.positions).toEqual([]);
      expect(local.engine.orders(ACC, SYMBOL).map((o) => o.clientOrderId)).toEqual(['int-entry-1', 'int-sl-1']);
    } finally {
      await v.close();
    }
  });
});

describe('BinanceUsdmVenue: every error mapping, forced by the fault injector', () => {
  const A = 'acc-faults';
  let v: LocalBinanceVenue;
  let clock: ReturnType<typeof skipClock>;
  let n = 0;
  const order = (over: Partial<{ clientOrderId: string; quantity: string; reduceOnly: boolean }> = {}) => ({
    clientOrderId: over.clientOrderId ?? `f-${++n}`, symbol: SYMBOL, side: 'BUY' as const, type: 'MARKET' as const, quantity: dec(over.quantity ?? '0.002'), price: null,
    reduceOnly: over.reduceOnly ?? false, purpose: 'ENTRY' as const, triggerPrice: null,
  });
  const atVenue = (clientOrderId: string) => local.engine.orders(A).filter((o) => o.clientOrderId === clientOrderId).length;

  beforeAll(async () => {
    clock = skipClock();
    v = venue(A, OTHER_KEY, OTHER_SECRET, clock, 1_000);
    expect((await v.account(A))?.walletBalance.toString()).toBe('5000');
    expect(v.hasAccount(A)).toBe(true); // a successful balance read
    await v.setOneWayMode(A);
    await v.setIsolatedMargin(A, SYMBOL);
    await v.setLeverage(A, SYMBOL, 5);
  });
  afterAll(async () => {
    await v.close();
  });

  it.each([
    [-2019, 'Margin is insufficient.', 'INSUFFICIENT_MARGIN'],
    [-4164, "Order's notional must be no smaller than 100 (unless you choose reduce only).", 'MIN_NOTIONAL'],
    [-2022, 'ReduceOnly Order is rejected.', 'REDUCE_ONLY_REJECTED'],
    [-2027, 'Exceeded the maximum allowable position at current leverage.', 'MAX_POSITION_AT_LEVERAGE'],
    [-4061, "Order's position side does not match user's setting.", 'POSITION_SIDE'],
  ])('%i → typed rejection %s / %s, nothing placed', async (code, msg, reason) => {
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'error', code, msg });
    const o = order();
    const r = await v.placeOrder(A, o);
    expect(r).toEqual({ ok: false, error: { code: String(code), message: msg } });
    if (!r.ok) expect(classifyVenueError(r.error.code).reason).toBe(reason);
    expect(atVenue(o.clientOrderId)).toBe(0);
  });

  it('-1021: resyncs the clock (GET /fapi/v1/time) and retries once', async () => {
    const resync = jest.spyOn(v.exchange, 'loadTimeDifference');
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'error', code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' });
    const o = order();
    expect((await v.placeOrder(A, o)).ok).toBe(true);
    expect(resync).toHaveBeenCalledTimes(1);
    expect(atVenue(o.clientOrderId)).toBe(1);
    // Twice in a row: one retry only, then the typed rejection.
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'error', code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.', count: 2 });
    const o2 = order();
    expect(await v.placeOrder(A, o2)).toEqual({ ok: false, error: { code: '-1021', message: 'Timestamp for this request is outside of the recvWindow.' } });
    expect(atVenue(o2.clientOrderId)).toBe(0);
  });

  it('429: waits Retry-After through the budget (no hammering), then succeeds', async () => {
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: '429', retryAfterSec: 7 });
    const sleepsBefore = clock.sleeps.length;
    const t0 = clock.now();
    const o = order();
    expect((await v.placeOrder(A, o)).ok).toBe(true);
    // It waited (sleeps, not a hammering loop), and the order went out no sooner than Retry-After
    // on the clock: the sleeps plus the real milliseconds that passed meanwhile (a loaded machine).
    expect(clock.sleeps.length).toBeGreaterThan(sleepsBefore);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(7_000);
    expect(atVenue(o.clientOrderId)).toBe(1);
  });

  it('timeout after the venue processed the order: queried by client id, no second order', async () => {
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'drop', when: 'after', ms: 2_500 });
    const o = order();
    const r = await v.placeOrder(A, o);
    expect(r.ok).toBe(true);
    expect(atVenue(o.clientOrderId)).toBe(1);
    expect(r.ok && r.value.venueOrderId).toBe(local.engine.order(A, { clientOrderId: o.clientOrderId })!.venueOrderId);
  });

  it('503 after processing: exactly one order at the venue', async () => {
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: '503', when: 'after' });
    const o = order();
    const r = await v.placeOrder(A, o);
    expect(r.ok).toBe(true);
    expect(atVenue(o.clientOrderId)).toBe(1);
  });

  it('503 before processing: the query says -2013, the same client id is sent again, exactly one order', async () => {
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: '503', when: 'before' });
    const o = order();
    expect((await v.placeOrder(A, o)).ok).toBe(true);
    expect(atVenue(o.clientOrderId)).toBe(1);
  });

  it('503 while the query fails too: OUTCOME_UNKNOWN, never a blind second order', async () => {
    local.faults.add({ method: 'POST', path: '/fapi/v1/order', action: '503', when: 'before' });
    local.faults.add({ method: 'GET', path: '/fapi/v1/order', action: '503', count: -1 });
    const o = order();
    const r = await v.placeOrder(A, o);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(classifyVenueError(r.error.code).reason).toBe('OUTCOME_UNKNOWN');
    expect(atVenue(o.clientOrderId)).toBe(0);
  });

  it('418: every call stops until the ban ends, and an alert is raised', async () => {
    local.faults.add({ method: 'GET', path: '/fapi/v1/openOrders', action: '418', retryAfterSec: 120 });
    const err = await v.openOrders(A, SYMBOL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueCallError);
    expect((err as VenueCallError).rejection.code).toBe('HTTP_418');
    expect(alerts.some((a) => a.kind === 'IP_BANNED')).toBe(true);
    const fetches = jest.spyOn(v.exchange, 'fetch');
    const r = await v.placeOrder(A, order());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('HTTP_418');
    expect(fetches).not.toHaveBeenCalled(); // nothing reached the venue during the ban
    clock.offset += 120_000; // the ban ends
    expect((await v.placeOrder(A, order())).ok).toBe(true);
    fetches.mockRestore();
  });

  it('503 on a protective order after processing: exactly one algo order, read back', async () => {
    // A position to protect.
    await v.advance(SYMBOL, step('85000.0', '85010.0', T0 + 60_000), null);
    local.faults.add({ method: 'POST', path: '/fapi/v1/algoOrder', action: '503', when: 'after' });
    const r = await v.placeProtectiveOrder(A, { clientAlgoId: 'f-sl-1', symbol: SYMBOL, side: 'SELL', kind: 'STOP_LOSS', triggerPrice: dec('80000.0'), quantity: dec('0.002') });
    expect(r.ok).toBe(true);
    expect(local.engine.openAlgoOrders(A, SYMBOL).filter((a) => a.clientAlgoId === 'f-sl-1')).toHaveLength(1);
  });
});

describe('hedge mode', () => {
  it('placeOrder refuses (POSITION_SIDE) when GET /fapi/v1/positionSide/dual says hedge mode; nothing is sent', async () => {
    const v = venue('acc-hedge', 'hedge-key-0123456789', 'hedge-secret-0123456789');
    try {
      await v.exchange.fapiPrivatePostPositionSideDual({ dualSidePosition: 'true' });
      expect(await v.positionMode('acc-hedge')).toBe('HEDGE');
      const r = await v.placeOrder('acc-hedge', { clientOrderId: 'h-1', symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.002'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
      expect(r.ok).toBe(false);
      if (!r.ok) expect([r.error.code, classifyVenueError(r.error.code).reason]).toEqual(['-4061', 'POSITION_SIDE']);
      expect(local.engine.orders('acc-hedge')).toEqual([]);
      expect((await v.setOneWayMode('acc-hedge')).ok).toBe(true);
      expect(await v.positionMode('acc-hedge')).toBe('ONE_WAY');
    } finally {
      await v.close();
    }
  });
});

describe('credentials never leak', () => {
  it('keys, secrets and signatures appear in no rejection, error, alert or log line', async () => {
    const wrong = venue('acc-int', KEY, 'wrong-secret-aGVsbG9Xb3JsZEhlbGxvV29ybGQ');
    const seen: string[] = [];
    const out = jest.spyOn(process.stdout, 'write');
    const errOut = jest.spyOn(process.stderr, 'write');
    try {
      const r = await wrong.placeOrder('acc-int', { clientOrderId: 'leak-1', symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.002'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('-1022'); // Signature for this request is not valid.
      seen.push(JSON.stringify(r));
      seen.push(String(await wrong.account('acc-int').catch((e: unknown) => JSON.stringify(e) + String(e))));
      seen.push(String(await wrong.deposit('acc-int', dec('1')).catch((e: unknown) => JSON.stringify(e) + String(e))));
      seen.push(JSON.stringify(alerts), ...logs);
      for (const c of [...out.mock.calls, ...errOut.mock.calls]) seen.push(String(c[0]));
    } finally {
      out.mockRestore();
      errOut.mockRestore();
      await wrong.close();
    }
    const all = seen.join('\n');
    expect(all).toContain('-1022');
    for (const secret of [KEY, SECRET, OTHER_KEY, OTHER_SECRET, 'wrong-secret-aGVsbG9Xb3JsZEhlbGxvV29ybGQ']) expect(all).not.toContain(secret);
    expect(all).not.toMatch(/signature=[0-9a-f]{8}/);
  });
});
