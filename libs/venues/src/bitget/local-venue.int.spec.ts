/**
 * The ccxt Bitget adapter (BitgetUsdtmVenue / LocalBitgetVenue on unmodified ccxt 4.5.84
 * `bitget`) against the local Bitget USDT-M venue over HTTP, with Bitget's recorded BTCUSDT
 * rules, tiers and fees (maker 0.02 %, taker 0.06 %) from data/venues/bitget-usdtm.
 */
import { loadBitgetUsdtmRulesFromDir, resolveDataDir } from '@bulwark/market-data';
import { bitgetLocalInputs, startBitgetLocal, type BitgetLocal } from '@bulwark/binance-local';
import { dec, str, type PaperVenueEvent } from '@bulwark/domain';
import { classifyVenueError } from '../binance/errors';
import { LocalBitgetVenue } from './index';

jest.setTimeout(120_000);

const KEY = 'bg-int-key-Q2hlY2tUaGF0VGhpc05ldmVy';
const SECRET = 'bg-int-secret-U2VjcmV0U2hvdWxkTmV2ZXJMZWFr';
const PASS = 'bg-int-pass-UGFzc3BocmFzZQ';
const F_KEY = 'bg-flt-key-b3RoZXJBY2NvdW50S2V5';
const F_SECRET = 'bg-flt-secret-b3RoZXJBY2NvdW50U2VjcmV0';
const F_PASS = 'bg-flt-pass-ZmF1bHRz';
const ACC = 'acc-bg-int';
const SYMBOL = 'BTCUSDT';
const T0 = Date.parse('2025-11-21T07:30:59.999Z');

let local: BitgetLocal;

function skipClock() {
  const c = { offset: 0, sleeps: [] as number[], now: () => Date.now() + c.offset, sleep: async (ms: number) => void (c.sleeps.push(ms), (c.offset += Math.max(0, ms))) };
  return c;
}

const logs: string[] = [];
function venue(accountId = ACC, apiKey = KEY, apiSecret = SECRET, passphrase = PASS, clock = skipClock(), timeoutMs = 3_000) {
  return new LocalBitgetVenue({ accountId, apiKey, apiSecret, passphrase, restBase: local.url, wsBase: local.wsUrl, clock, timeoutMs, leverageCap: 20, random: () => 0.5, log: (l) => logs.push(l) });
}

beforeAll(async () => {
  local = await startBitgetLocal({
    ...bitgetLocalInputs(resolveDataDir()),
    accounts: [
      { accountId: ACC, apiKey: KEY, apiSecret: SECRET, passphrase: PASS },
      { accountId: 'acc-bg-faults', apiKey: F_KEY, apiSecret: F_SECRET, passphrase: F_PASS, balance: '5000' },
      { accountId: 'acc-bg-x', apiKey: 'bg-x-key-0123456789', apiSecret: 'bg-x-secret-0123456789', passphrase: 'bg-x-pass-0123', balance: '5000' },
    ],
  });
}, 60_000);
afterAll(async () => {
  await local?.close();
});
afterEach(() => {
  expect(local.faults.pending().filter((r) => r.count !== -1)).toEqual([]); // every armed fault fired
  local.faults.clear();
});

const step = (from: string, to: string, ts: number, gap = false) => ({ from, to, gap, ts });
const fills = (ev: PaperVenueEvent[]) => ev.flatMap((e) => (e.kind === 'fill' ? [e.fill] : []));

describe('rules from the venue', () => {
  it("instrumentRules: Bitget's contract and position tiers as the venue answers them equal the recorded files", async () => {
    const v = venue();
    try {
      const { contract, source } = await v.instrumentRules(SYMBOL);
      expect(contract).toEqual(loadBitgetUsdtmRulesFromDir(undefined, SYMBOL));
      expect(source).toMatch(/contracts .*query-position-lever/);
    } finally {
      await v.close();
    }
  });
});

describe('LocalBitgetVenue: the full lifecycle through ccxt bitget', () => {
  it('one-way, isolated, leverage read back, post-only entry rests then fills, exchange stop read back and triggered, PnL to the cent', async () => {
    const v = venue();
    try {
      expect(v.hasAccount(ACC)).toBe(false);
      await v.deposit(ACC, dec('1000'));
      expect(v.hasAccount(ACC)).toBe(true);
      expect(v.isIdle()).toBe(true);

      expect(await v.setOneWayMode(ACC)).toEqual({ ok: true, value: 'UNCHANGED' }); // a new Bitget account is one-way
      expect(await v.positionMode(ACC)).toBe('ONE_WAY');
      expect(await v.setIsolatedMargin(ACC, SYMBOL)).toEqual({ ok: true, value: 'CHANGED' });
      expect(await v.setIsolatedMargin(ACC, SYMBOL)).toEqual({ ok: true, value: 'UNCHANGED' });
      const fetches = jest.spyOn(v.exchange, 'fetch');
      expect(await v.setLeverage(ACC, SYMBOL, 50)).toEqual({ ok: false, error: expect.objectContaining({ code: 'LEVERAGE_CAP' }) });
      expect(fetches).not.toHaveBeenCalled();
      fetches.mockRestore();
      const lev = await v.setLeverage(ACC, SYMBOL, 10);
      expect(lev.ok && lev.value.leverage).toBe(10);
      expect(lev.ok && lev.value.maxNotional.gt(0)).toBe(true);
      expect((await v.accountSettings(SYMBOL)).isolatedLongLeverage).toBe(10);

      // The market: one step sets the price.
      expect(await v.advance(SYMBOL, step('85175.8', '85100.0', T0), null)).toEqual([]);
      // Post-only BUY below the market: it rests.
      const entry = await v.placeOrder(ACC, { clientOrderId: 'bg-entry-1', symbol: SYMBOL, side: 'BUY', type: 'LIMIT', quantity: dec('0.023'), price: dec('85000.0'), reduceOnly: false, purpose: 'ENTRY', triggerPrice: null, timeInForce: 'PO' });
      expect(entry.ok).toBe(true);
      const resting = await v.order(ACC, SYMBOL, 'bg-entry-1');
      expect(resting && [resting.status, resting.type, str(resting.quantity), str(resting.executedQty)]).toEqual(['NEW', 'LIMIT', '0.023', '0']);
      expect((await v.openOrders(ACC, SYMBOL)).map((o) => o.clientOrderId)).toEqual(['bg-entry-1']);
      expect(v.isIdle()).toBe(false);

      // The price falls through 85,000: the entry fills at its price, maker: fee 0.023 × 85,000 × 0.0002 = 0.391.
      const e1 = await v.advance(SYMBOL, step('85100.0', '84950.0', T0 + 15_000), null);
      expect(fills(e1)).toHaveLength(1);
      const f1 = fills(e1)[0];
      expect([f1.clientOrderId, f1.venueOrderId, f1.side, f1.purpose, str(f1.price), str(f1.quantity), str(f1.fee), f1.liquidity, f1.leverage]).toEqual(
        ['bg-entry-1', entry.ok ? entry.value.venueOrderId : '', 'BUY', 'ENTRY', '85000', '0.023', '0.391', 'MAKER', 10],
      );
      expect((await v.order(ACC, SYMBOL, 'bg-entry-1'))?.status).toBe('FILLED');
      const [pos] = await v.positions(ACC, SYMBOL);
      expect([pos.side, str(pos.quantity), str(pos.entryPrice), str(pos.isolatedMargin), pos.leverage, pos.marginType]).toEqual(['LONG', '0.023', '85000', '195.5', 10, 'isolated']);

      // Protection at the exchange: position TP/SL orders, read back.
      const sl = await v.placeProtectiveOrder(ACC, { clientAlgoId: 'bg-sl-1', symbol: SYMBOL, side: 'SELL', kind: 'STOP_LOSS', triggerPrice: dec('84000.0'), quantity: dec('0.023') });
      const tp = await v.placeProtectiveOrder(ACC, { clientAlgoId: 'bg-tp-1', symbol: SYMBOL, side: 'SELL', kind: 'TAKE_PROFIT', triggerPrice: dec('87000.0'), quantity: dec('0.023') });
      expect(sl).toEqual({ ok: true, value: { algoId: expect.any(String) } });
      expect(tp.ok).toBe(true);
      const back = await v.protectiveOrder(ACC, SYMBOL, 'bg-sl-1');
      expect(back && [back.algoId, back.type, back.side, str(back.triggerPrice), back.reduceOnly, back.status, back.workingType]).toEqual([
        sl.ok ? sl.value.algoId : '', 'STOP_MARKET', 'SELL', '84000', true, 'NEW', 'MARK_PRICE',
      ]);
      expect((await v.openProtectiveOrders(ACC, SYMBOL)).map((a) => [a.clientAlgoId, a.type]).sort()).toEqual([['bg-sl-1', 'STOP_MARKET'], ['bg-tp-1', 'TAKE_PROFIT_MARKET']]);

      // Price falls through 84,000: Bitget's stop triggers, fills at the trigger.
      const e2 = await v.advance(SYMBOL, step('84950.0', '83900.0', T0 + 30_000), null);
      expect(e2.map((e) => e.kind)).toEqual(['algoTriggered', 'fill']);
      const f2 = fills(e2)[0];
      // Realised (84,000 − 85,000) × 0.023 = −23; fee 0.023 × 84,000 × 0.0006 = 1.1592 (taker).
      expect([f2.clientOrderId, f2.side, f2.purpose, str(f2.price), str(f2.realisedPnl), str(f2.fee), f2.liquidity]).toEqual(['bg-sl-1', 'SELL', 'STOP_LOSS', '84000', '-23', '1.1592', 'TAKER']);
      expect(await v.positions(ACC, SYMBOL)).toEqual([]);
      expect((await v.protectiveOrder(ACC, SYMBOL, 'bg-sl-1'))?.status).toBe('FINISHED');

      // The take-profit still rests: cancel-all removes it.
      expect(await v.cancelAll(ACC, SYMBOL)).toEqual({ orders: 0, algoOrders: 1 });
      expect((await v.protectiveOrder(ACC, SYMBOL, 'bg-tp-1'))?.status).toBe('CANCELED');
      expect(v.isIdle()).toBe(true);

      // The venue's fills: realised PnL and fees to the cent.
      const trades = await v.trades(ACC, SYMBOL);
      expect(trades.map((t) => [t.side, str(t.price), str(t.quantity), str(t.fee), str(t.realisedPnl), t.maker])).toEqual([
        ['BUY', '85000', '0.023', '0.391', '0', true],
        ['SELL', '84000', '0.023', '1.1592', '-23', false],
      ]);
      expect(trades.reduce((a, t) => a.plus(t.realisedPnl), dec(0)).toFixed(2)).toBe('-23.00');
      expect(trades.reduce((a, t) => a.plus(t.fee), dec(0)).toFixed(2)).toBe('1.55');
      const acct = (await v.account(ACC))!;
      expect(str(acct.walletBalance)).toBe('975.4498'); // 1,000 − 23 − 1.5502
      expect(acct.positions).toEqual([]);
    } finally {
      await v.close();
    }
  });
});

describe('time in force, batches, flash close', () => {
  const A = 'acc-bg-x';
  let v: LocalBitgetVenue;
  beforeAll(async () => {
    v = venue(A, 'bg-x-key-0123456789', 'bg-x-secret-0123456789', 'bg-x-pass-0123');
    await v.setIsolatedMargin(A, SYMBOL);
    await v.setLeverage(A, SYMBOL, 5);
    await v.advance(SYMBOL, step('85000.0', '85000.0', T0 + 100_000), null);
  }, 60_000);
  afterAll(async () => {
    await v.close();
  });
  const limit = (clientOrderId: string, side: 'BUY' | 'SELL', price: string, timeInForce: 'GTC' | 'PO' | 'IOC' | 'FOK', quantity = '0.002') => ({
    clientOrderId, symbol: SYMBOL, side, type: 'LIMIT' as const, quantity: dec(quantity), price: dec(price), reduceOnly: false, purpose: 'ENTRY' as const, triggerPrice: null, timeInForce,
  });

  it.each([
    ['IOC', 'BUY', '84000.0'],
    ['FOK', 'BUY', '84000.0'],
    ['PO', 'BUY', '86000.0'], // post-only that would take
  ] as const)('%s %s at %s cannot fill: the order ends EXPIRED, never NEW; nothing rests', async (tif, side, price) => {
    const id = `bg-${tif.toLowerCase()}-1`;
    expect((await v.placeOrder(A, limit(id, side, price, tif))).ok).toBe(true);
    const o = await v.order(A, SYMBOL, id);
    expect(o?.status).toBe('EXPIRED');
    expect(await v.openOrders(A, SYMBOL)).toEqual([]);
  });

  it('batch place: one result per order, in order; a refused one carries its domain rejection; batch cancel', async () => {
    const r = await v.batchPlaceOrders(A, [limit('bg-b-1', 'BUY', '80000.0', 'GTC'), limit('bg-b-2', 'BUY', '80010.0', 'GTC', '10'), limit('bg-b-3', 'BUY', '80020.0', 'GTC')]);
    expect(r.map((x) => (x.ok ? 'ok' : x.error.code + ' ' + x.error.message))).toEqual(['ok', expect.stringMatching(/^-2019 .*Bitget 40762/), 'ok']); // 10 BTC at 5×: far beyond the margin
    const bad = r[1];
    if (!bad.ok) expect([bad.error.code, classifyVenueError(bad.error.code).reason]).toEqual(['-2019', 'INSUFFICIENT_MARGIN']);
    expect((await v.openOrders(A, SYMBOL)).map((o) => o.clientOrderId).sort()).toEqual(['bg-b-1', 'bg-b-3']);
    const c = await v.batchCancelOrders(A, SYMBOL, ['bg-b-1', 'bg-nope']);
    expect(c[0].ok).toBe(true);
    expect(c[1].ok).toBe(false);
    if (!c[1].ok) expect(classifyVenueError(c[1].error.code).reason).toBe('UNKNOWN_ORDER');
    expect(await v.cancelAll(A, SYMBOL)).toEqual({ orders: 1, algoOrders: 0 });
    expect((await v.order(A, SYMBOL, 'bg-b-3'))?.status).toBe('CANCELED');
  });

  it('a client order id sent twice: Bitget refuses the second (45034), classified DUPLICATE_ORDER; one order rests', async () => {
    expect((await v.placeOrder(A, limit('bg-dup-1', 'BUY', '80000.0', 'GTC'))).ok).toBe(true);
    const again = await v.placeOrder(A, limit('bg-dup-1', 'BUY', '80000.0', 'GTC'));
    expect(again.ok).toBe(false);
    if (!again.ok) expect(classifyVenueError(again.error.code).reason).toBe('DUPLICATE_ORDER');
    expect((await v.openOrders(A, SYMBOL)).map((o) => o.clientOrderId)).toEqual(['bg-dup-1']);
    expect(await v.cancelAll(A, SYMBOL)).toEqual({ orders: 1, algoOrders: 0 });
  });

  it('flash close: the whole position at market, by Bitget', async () => {
    const e = await v.placeOrder(A, { clientOrderId: 'bg-fc-entry', symbol: SYMBOL, side: 'SELL', type: 'MARKET', quantity: dec('0.004'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
    expect(e.ok).toBe(true);
    expect(fills(await v.advance(SYMBOL, step('85000.0', '85100.0', T0 + 115_000), null))).toHaveLength(1);
    expect((await v.positions(A, SYMBOL)).map((p) => [p.side, str(p.quantity)])).toEqual([['SHORT', '0.004']]);
    const c = await v.closePosition(A, SYMBOL);
    expect(c.ok && c.value.venueOrderIds.length).toBe(1);
    const closed = fills(await v.advance(SYMBOL, step('85100.0', '85200.0', T0 + 130_000), null));
    // Short 0.004 from 85,000, closed at 85,100: realised −0.4.
    expect(closed.map((f) => [f.side, str(f.quantity), str(f.price), str(f.realisedPnl)])).toEqual([['BUY', '0.004', '85100', '-0.4']]);
    expect(await v.positions(A, SYMBOL)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_100)); // close-positions: 1 request/s per UID (the skip clock's waits are not real)
    const none = await v.closePosition(A, SYMBOL);
    expect(none.ok).toBe(false);
    if (!none.ok) expect([none.error.code, classifyVenueError(none.error.code).reason]).toEqual(['-2022', 'REDUCE_ONLY_REJECTED']);
  });
});

describe('BitgetUsdtmVenue: each fault-injected Bitget error ends as its domain rejection', () => {
  const A = 'acc-bg-faults';
  let v: LocalBitgetVenue;
  let clock: ReturnType<typeof skipClock>;
  let n = 0;
  const order = () => ({ clientOrderId: `bgf-${++n}`, symbol: SYMBOL, side: 'BUY' as const, type: 'MARKET' as const, quantity: dec('0.002'), price: null, reduceOnly: false, purpose: 'ENTRY' as const, triggerPrice: null });
  const atVenue = (clientOrderId: string) => local.engine.orders(A).filter((o) => o.clientOrderId === clientOrderId).length;
  const PLACE = '/api/v2/mix/order/place-order';

  beforeAll(async () => {
    clock = skipClock();
    v = venue(A, F_KEY, F_SECRET, F_PASS, clock, 1_000);
    expect(str((await v.account(A))!.walletBalance)).toBe('5000');
    await v.setIsolatedMargin(A, SYMBOL);
    await v.setLeverage(A, SYMBOL, 5);
  }, 60_000);
  afterAll(async () => {
    await v.close();
  });

  it.each([
    ['40762', 'The order amount exceeds the balance', '-2019', 'INSUFFICIENT_MARGIN'],
    ['45110', 'less than the minimum amount 5 USDT', '-4164', 'MIN_NOTIONAL'],
    ['22002', 'No position to close', '-2022', 'REDUCE_ONLY_REJECTED'],
    ['40763', 'Exceeds position tier limit', '-2027', 'MAX_POSITION_AT_LEVERAGE'],
    ['40774', 'The order type for unilateral position must also be the unilateral position type.', '-4061', 'POSITION_SIDE'],
    ['45111', 'less than the minimum order quantity', '-4003', 'INVALID'],
  ])('Bitget %s → domain %s (%s); nothing placed', async (code, msg, domain, reason) => {
    local.faults.add({ method: 'POST', path: PLACE, action: 'error', code: Number(code), msg });
    const o = order();
    const r = await v.placeOrder(A, o);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(domain);
      expect(r.error.message).toContain(`Bitget ${code}: ${msg}`);
      expect(classifyVenueError(r.error.code).reason).toBe(reason);
    }
    expect(atVenue(o.clientOrderId)).toBe(0);
  });

  it('40008 (timestamp expired): resyncs the clock and retries once', async () => {
    const resync = jest.spyOn(v.exchange, 'loadTimeDifference');
    local.faults.add({ method: 'POST', path: PLACE, action: 'error', code: 40008, msg: 'Request timestamp expired' });
    const o = order();
    expect((await v.placeOrder(A, o)).ok).toBe(true);
    expect(resync).toHaveBeenCalledTimes(1);
    expect(atVenue(o.clientOrderId)).toBe(1);
  });

  it('429: waits Retry-After through the budget, then succeeds', async () => {
    local.faults.add({ method: 'POST', path: PLACE, action: '429', retryAfterSec: 7 });
    const t0 = clock.now();
    const o = order();
    expect((await v.placeOrder(A, o)).ok).toBe(true);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(7_000);
    expect(atVenue(o.clientOrderId)).toBe(1);
  });

  it('503 after processing: queried by clientOid, exactly one order', async () => {
    local.faults.add({ method: 'POST', path: PLACE, action: '503', when: 'after' });
    const o = order();
    const r = await v.placeOrder(A, o);
    expect(r.ok).toBe(true);
    expect(atVenue(o.clientOrderId)).toBe(1);
    expect(r.ok && r.value.venueOrderId).toBe(local.engine.order(A, { clientOrderId: o.clientOrderId })!.venueOrderId);
  });

  it('503 before processing: Bitget says the order does not exist, the same clientOid is sent again, exactly one order', async () => {
    local.faults.add({ method: 'POST', path: PLACE, action: '503', when: 'before' });
    const o = order();
    expect((await v.placeOrder(A, o)).ok).toBe(true);
    expect(atVenue(o.clientOrderId)).toBe(1);
  });

  it('503 while the query fails too: OUTCOME_UNKNOWN, never a blind second order', async () => {
    local.faults.add({ method: 'POST', path: PLACE, action: '503', when: 'before' });
    local.faults.add({ method: 'GET', path: '/api/v2/mix/order/detail', action: '503', count: -1 });
    const o = order();
    const r = await v.placeOrder(A, o);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(classifyVenueError(r.error.code).reason).toBe('OUTCOME_UNKNOWN');
    expect(atVenue(o.clientOrderId)).toBe(0);
  });

  it('a wrong passphrase: AUTH, and no key, secret or passphrase in any message', async () => {
    const wrong = venue(A, F_KEY, F_SECRET, 'wrong-pass-aGVsbG9Xb3JsZA');
    try {
      const r = await wrong.placeOrder(A, order());
      expect(r.ok).toBe(false);
      const all = JSON.stringify(r) + logs.join('\n');
      if (!r.ok) expect(classifyVenueError(r.error.code).reason).toBe('AUTH');
      for (const secret of [KEY, SECRET, PASS, F_KEY, F_SECRET, F_PASS, 'wrong-pass-aGVsbG9Xb3JsZA']) expect(all).not.toContain(secret);
    } finally {
      await wrong.close();
    }
  });
});
