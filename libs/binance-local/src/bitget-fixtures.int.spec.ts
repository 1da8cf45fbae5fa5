/**
 * The local Bitget venue answers with the fields and JSON types of Bitget's real answers as
 * ccxt recorded them in its static test fixtures (ccxt/ccxt `ts/src/test/static/response/bitget.json`
 * @ 010f1aee23bee40220d1fe3ac841a594a4ebddb6, the classic-account USDT-FUTURES entries; and the
 * `BTC/USDT:USDT` contract of `ts/src/test/static/markets/bitget.json` @ f90f9bc4…), copied
 * verbatim into data/venues/bitget-usdtm/ccxt-fixtures.json (data/venues/PROVENANCE.md §9).
 *
 * Each fixture's ccxt method is called on unmodified ccxt 4.5.84 `bitget` against the local venue
 * (after putting the venue in a state where the endpoint has something to answer) and the raw
 * answer (`last_http_response`) is compared with the fixture's `httpResponse`:
 * - the envelope has the fixture's keys (code, msg, requestTime, data);
 * - recursively in `data`: every key of the fixture is in the local answer with the same JSON type
 *   (string / number / boolean / null / object / array); a fixture null matches anything; arrays
 *   compare their first elements, except rows of scalars (candles), compared position by position;
 * - EXCEPTIONS lists the differences kept on purpose, with the reason; EXTRA_KEYS the local keys
 *   the fixture does not have (allowed, listed so that a new one shows here).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ccxt from 'ccxt';
import { BITGET_USDTM_DATA_DIR, resolveDataDir } from '@bulwark/market-data';
import { bitgetCcxtFor, useBitgetLocal } from './bitget-ccxt-urls';
import { bitgetLocalInputs, startBitgetLocal, type BitgetLocal } from './bitget-server';

jest.setTimeout(120_000);

interface Fixture {
  endpoint: string;
  httpResponse?: Record<string, unknown>;
  /** fetchMarkets: one `data` entry (ccxt's markets fixture keeps `info` only, no envelope). */
  dataEntry?: Record<string, unknown>;
}
const FIXTURES = JSON.parse(readFileSync(path.join(BITGET_USDTM_DATA_DIR, 'ccxt-fixtures.json'), 'utf8')) as Record<string, Fixture>;

/** Differences kept on purpose: fixture → path → reason. */
const EXCEPTIONS: Record<string, Record<string, string>> = {
  'fetchMarginMode: fetch linear swap margin mode': {
    // Bitget's own recordings of this endpoint disagree: strings on 2024-11-14 (this fixture),
    // JSON numbers on 2025-03-24 ("fetchLeverage: fetch leverage"); the venue follows the newer.
    'data.crossedMarginLeverage': 'number as Bitget sent it on 2025-03-24 (string on 2024-11-14)',
    'data.isolatedLongLever': 'number as Bitget sent it on 2025-03-24 (string on 2024-11-14)',
    'data.isolatedShortLever': 'number as Bitget sent it on 2025-03-24 (string on 2024-11-14)',
  },
};

/** Local keys a fixture does not have (allowed; listed). */
const EXTRA_KEYS: Record<string, string[]> = {
  'fetchLeverage: fetch leverage': ['data.symbol'],
  'fetchMarginMode: fetch linear swap margin mode': ['data.assetMode', 'data.crossedMargin', 'data.isolatedMargin', 'data.symbol'],
  'fetchMyTrades: swap trade': ['data.fillList[0].orderType'],
  'fetchClosedOrders: Swap closed order reduced only': ['data.entrustedList[0].cancelReason'],
  'fetchPositions: Linear position': ['data[0].breakEvenPrice', 'data[0].deductedFee', 'data[0].totalFee', 'data[0].uTime'],
  'fetchOHLCV: linear ohlcv': [],
  'fetchOrder: swap market buy': ['data.cancelReason'],
  'fetchOrder: Swap market sell': ['data.cancelReason'],
  'fetchOrder: swap reduceOnly sell order': ['data.cancelReason'],
  'fetchPosition: fetch position': [],
  'fetchFundingRate: Fetch the funding rate': [],
  'fetchFundingRate: Fetch the funding rate details with an alternative method': [],
  'fetchFundingRateHistory: fetchFundingRate history with a limit argument': [],
  'cancelOrder: linear swap cancelOrder by clientOrderId': [],
  'cancelOrder: trailing cancel order with clientOrderId': [],
  'fetchMarkets: BTC/USDT:USDT info': ['data[0].isRwa', 'data[0].maxMarketOrderQty', 'data[0].maxOrderQty'],
};

type JsonType = 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean';
const jsonType = (v: unknown): JsonType => (v === null ? 'null' : Array.isArray(v) ? 'array' : (typeof v as JsonType));

interface Diff {
  failures: string[];
  excepted: string[];
  extra: string[];
}

/** Fixture `f` against local `l` at `at` (see the file's comment for the rules). */
function compare(f: unknown, l: unknown, at: string, exceptions: Record<string, string>, d: Diff): void {
  const ft = jsonType(f);
  if (ft === 'null') return;
  const lt = jsonType(l);
  if (ft !== lt) {
    if (exceptions[at]) d.excepted.push(`${at}: ${exceptions[at]}`);
    else d.failures.push(`${at}: fixture ${ft} ${JSON.stringify(f)}, local ${lt} ${JSON.stringify(l)}`);
    return;
  }
  if (ft === 'object') {
    const fo = f as Record<string, unknown>;
    const lo = l as Record<string, unknown>;
    for (const k of Object.keys(fo)) {
      const p = `${at}.${k}`;
      if (!(k in lo)) {
        if (exceptions[p]) d.excepted.push(`${p}: ${exceptions[p]}`);
        else d.failures.push(`${p}: missing (fixture ${jsonType(fo[k])} ${JSON.stringify(fo[k])})`);
      } else compare(fo[k], lo[k], p, exceptions, d);
    }
    for (const k of Object.keys(lo)) if (!(k in fo)) d.extra.push(`${at}.${k}`);
  } else if (ft === 'array') {
    const fa = f as unknown[];
    const la = l as unknown[];
    if (fa.length === 0) return;
    if (la.length === 0) {
      d.failures.push(`${at}: local [] — nothing to compare with the fixture's ${jsonType(fa[0])}`);
      return;
    }
    const tuple = fa.every((x) => x === null || typeof x !== 'object');
    if (tuple) {
      if (la.length < fa.length) d.failures.push(`${at}: ${la.length} elements, fixture ${fa.length}`);
      fa.forEach((x, i) => i < la.length && compare(x, la[i], `${at}[${i}]`, exceptions, d));
    } else compare(fa[0], la[0], `${at}[0]`, exceptions, d);
  }
}

/** The envelope's keys, then `data` recursively. */
function diffAnswer(name: string, local: Record<string, unknown>): Diff {
  const fx = FIXTURES[name];
  if (!fx) throw new Error(`no fixture ${name}`);
  const d: Diff = { failures: [], excepted: [], extra: [] };
  const exceptions = EXCEPTIONS[name] ?? {};
  if (fx.httpResponse) {
    for (const k of Object.keys(fx.httpResponse)) if (!(k in local)) d.failures.push(`${k}: missing from the envelope`);
    // code/msg: strings as Bitget sends them. requestTime: Bitget's recordings disagree (a JSON
    // number in the 2025-03/04 fixtures, a string in the others), so only its presence is checked.
    for (const k of ['code', 'msg']) if (typeof local[k] !== 'string') d.failures.push(`${k}: not a string`);
    compare(fx.httpResponse['data'], local['data'], 'data', exceptions, d);
  } else if (fx.dataEntry) {
    compare([fx.dataEntry], local['data'], 'data', exceptions, d);
  }
  return d;
}

const creds = { apiKey: 'bg-fx-key-0123456789', apiSecret: 'bg-fx-secret-abcdefghijklmnop', passphrase: 'bg-fx-pass-42' };
const START = Date.parse('2025-11-21T07:30:00Z'); // 07:30 open 85,175.8; 07:32 low 84,287.6
const SYMBOL = 'BTC/USDT:USDT';
const MIX = { symbol: 'BTCUSDT', productType: 'USDT-FUTURES', marginCoin: 'USDT' };

let local: BitgetLocal;
let ex: ccxt.bitget;
/** Raw answers by fixture name, collected in beforeAll. */
const answers = new Map<string, Record<string, unknown>>();

const lastAnswer = () => JSON.parse(String(ex.last_http_response)) as Record<string, unknown>;
async function record(name: string, call: () => Promise<unknown>): Promise<void> {
  const r = await call();
  // A ccxt implicit method returns the parsed answer itself; a unified one leaves it in last_http_response.
  const isEnvelope = r !== null && typeof r === 'object' && !Array.isArray(r) && 'code' in r && 'data' in r;
  answers.set(name, isEnvelope ? (r as Record<string, unknown>) : lastAnswer());
}

beforeAll(async () => {
  local = await startBitgetLocal({ ...bitgetLocalInputs(resolveDataDir()), startTime: START, accounts: [{ accountId: 'acc-bg-fx', ...creds, balance: '10000' }], limits: { scale: 100 } });
  local.clock.advance(1); // the 07:30 open
  const cfg = bitgetCcxtFor(local, creds);
  ex = useBitgetLocal(new ccxt.bitget(cfg.config), cfg);
  await ex.loadMarkets();
  await ex.setMarginMode('isolated', SYMBOL);
  await ex.setLeverage(5, SYMBOL);

  // A filled market entry (a position), a filled reduce-only exit and re-entry, a resting limit
  // order, a TP/SL stop on the position.
  const entry = await ex.createOrder(SYMBOL, 'market', 'buy', 0.02, undefined, { clientOrderId: 'bwfx-entry-1' });
  local.clock.advance(1);
  const exit = await ex.createOrder(SYMBOL, 'market', 'sell', 0.01, undefined, { reduceOnly: true, clientOrderId: 'bwfx-exit-1' });
  local.clock.advance(1);
  const short = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 70000, { clientOrderId: 'bwfx-rest-1' });
  expect(short.id).toEqual(expect.any(String));
  await ex.createOrder(SYMBOL, 'market', 'sell', 0.01, undefined, { stopLossPrice: 80000, clientOrderId: 'bwfx-sl-1' });

  await record('fetchLeverage: fetch leverage', () => ex.fetchLeverage(SYMBOL));
  await record('fetchMarginMode: fetch linear swap margin mode', () => ex.fetchMarginMode(SYMBOL));
  await record('fetchMyTrades: swap trade', () => ex.fetchMyTrades(SYMBOL, undefined, 1));
  await record('fetchClosedOrders: Swap closed order reduced only', () => ex.fetchClosedOrders(SYMBOL, undefined, 1));
  await record('fetchPositions: Linear position', () => ex.fetchPositions([SYMBOL]));
  await record('fetchOHLCV: linear ohlcv', () => ex.fetchOHLCV(SYMBOL, '1m', undefined, 1));
  await record('fetchOrder: swap market buy', () => ex.fetchOrder(entry.id!, SYMBOL));
  await record('fetchOrder: Swap market sell', () => ex.fetchOrder(exit.id!, SYMBOL));
  await record('fetchOrder: swap reduceOnly sell order', () => ex.fetchOrder(exit.id!, SYMBOL));
  await record('fetchPosition: fetch position', () => ex.fetchPosition(SYMBOL));
  await record('fetchFundingRate: Fetch the funding rate', () => ex.fetchFundingRate(SYMBOL));
  await record('fetchFundingRate: Fetch the funding rate details with an alternative method', () => ex.fetchFundingRate(SYMBOL, { method: 'publicMixGetV2MixMarketFundingTime' }));
  await record('fetchFundingRateHistory: fetchFundingRate history with a limit argument', () => ex.fetchFundingRateHistory(SYMBOL, undefined, 1));
  await record('fetchMarkets: BTC/USDT:USDT info', () => ex.publicMixGetV2MixMarketContracts({ productType: MIX.productType, symbol: MIX.symbol }));
  await record('cancelOrder: linear swap cancelOrder by clientOrderId', () => ex.cancelOrder('', SYMBOL, { clientOrderId: 'bwfx-rest-1' }));
  // ccxt's trailing cancel goes to cancel-plan-order (planType track_plan); the local venue has no
  // trailing orders, so the same endpoint cancels the TP/SL stop (planType profit_loss).
  await record('cancelOrder: trailing cancel order with clientOrderId', () => ex.cancelOrder('', SYMBOL, { clientOrderId: 'bwfx-sl-1', trailing: true, planType: 'profit_loss' }));
}, 120_000);
afterAll(async () => {
  await local?.close();
});

describe("the local Bitget venue's answers against ccxt's recorded Bitget USDT-FUTURES answers", () => {
  it('has an answer for every fixture, and a fixture for every answer', () => {
    expect([...answers.keys()].sort()).toEqual(Object.keys(FIXTURES).sort());
    expect(Object.keys(EXTRA_KEYS).sort()).toEqual(Object.keys(FIXTURES).sort());
  }, 60_000);

  it.each(Object.keys(FIXTURES))('%s: same fields and JSON types', (name) => {
    const d = diffAnswer(name, answers.get(name)!);
    expect(d.failures).toEqual([]);
    expect(d.excepted.length).toBe(Object.keys(EXCEPTIONS[name] ?? {}).length); // every exception is still needed
    expect(d.extra.sort()).toEqual(EXTRA_KEYS[name]);
  }, 60_000);

  it('a market order carries the values every recorded Bitget market order has: price "", orderSource "market", force "gtc"', () => {
    for (const name of ['fetchOrder: swap market buy', 'fetchOrder: swap reduceOnly sell order']) {
      const fx = FIXTURES[name].httpResponse!['data'] as Record<string, unknown>;
      const got = answers.get(name)!['data'] as Record<string, unknown>;
      for (const k of ['price', 'orderSource', 'force', 'orderType', 'marginCoin', 'presetStopSurplusPrice', 'presetStopLossPrice']) expect([name, k, got[k]]).toEqual([name, k, fx[k]]);
      expect(got['reduceOnly']).toBe(name.includes('reduceOnly') ? 'YES' : 'NO');
    }
  }, 60_000);

  it('the comparison itself: a missing key, a changed type and a null for a string fail; a fixture null matches anything', () => {
    const d: Diff = { failures: [], excepted: [], extra: [] };
    compare({ a: '1', b: '2', c: null, e: [['1', '2']] }, { a: 1, c: 5, x: true, e: [['1', 2]] }, 'data', {}, d);
    expect(d.failures).toEqual(['data.a: fixture string "1", local number 1', 'data.b: missing (fixture string "2")', 'data.e[0][1]: fixture string "2", local number 2']);
    expect(d.extra).toEqual(['data.x']);
    const n: Diff = { failures: [], excepted: [], extra: [] };
    compare({ s: 'x' }, { s: null }, 'data', {}, n);
    expect(n.failures).toEqual(['data.s: fixture string "x", local null null']);
  }, 60_000);
});
