/**
 * Reconciliation covers every symbol an account trades, not only the one it was opened with:
 * the configured symbol and each symbol the log's view holds a position, an open order or an
 * exchange stop on, each asked of the venue once per pass and compared with the log's view of
 * that symbol alone.
 *
 * A recording fake live venue answers exactly what the log holds, so a correct pass records no
 * difference. Prices: the close of the first recorded BTCUSDT bar of 2025-11-10 (104587.7) as
 * the entry and 103500 as the stop (the levels of the domain's account specs); the ETHUSDT
 * order carries no price in either view.
 */
import { type AccountConfig, type EventData, Streams } from '@bulwark/contracts';
import { clientOrderIdFor, dec, positionInitialState, validateAccountConfig, ZERO } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { EventAppender, Quarantine } from '@bulwark/messaging';
import type { LiveVenuePort, VenueAlgoSnapshot, VenueOrderSnapshot, VenuePositionSnapshot } from '@bulwark/venues';
import { Logger } from '@nestjs/common';
import { Reconciliation, ReconciliationError } from './execution/reconciliation';
import { ExecutionState } from './execution/state';
import { ExecutionStreams } from './execution/streams';

const AT = Date.parse('2025-11-10T00:00:59.999Z');
const A = 'recon-a';
const B = 'recon-b';
const ENTRY = dec('104587.7');
const STOP = dec('103500');
const ORDER_ETH = clientOrderIdFor(A, 1, 'E');
const STOP_BTC = clientOrderIdFor(B, 1, 'S');

function config(accountId: string, symbol: string, venue = 'binance-usdm'): AccountConfig {
  const cfg = validateAccountConfig({ accountId, venue, symbol, capital: '10000', leverage: 5, venueBalance: '10000' });
  if (!cfg.ok) throw new Error(cfg.error.message);
  return cfg.value;
}

/** What the venue holds, per `account|symbol`; `calls` records each read as `<method> <account> <symbol>`. */
function fakeLiveVenue(calls: string[], fail: Set<string> = new Set()) {
  const positions = new Map<string, VenuePositionSnapshot[]>([
    [`${A}|BTCUSDT`, [{ symbol: 'BTCUSDT', side: 'LONG', quantity: dec('0.01'), entryPrice: ENTRY, isolatedMargin: ENTRY.mul('0.01').div(5), leverage: 5, marginType: 'isolated', liquidationPrice: null, markPrice: null }]],
  ]);
  const orders = new Map<string, VenueOrderSnapshot[]>([
    [`${A}|ETHUSDT`, [{ clientOrderId: ORDER_ETH, venueOrderId: '11', symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', status: 'NEW', quantity: dec('0.015'), executedQty: ZERO, avgPrice: ZERO, reduceOnly: false, updateTime: AT }]],
  ]);
  const algos = new Map<string, VenueAlgoSnapshot[]>([
    [`${B}|BTCUSDT`, [{ clientAlgoId: STOP_BTC, algoId: '21', symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: STOP, quantity: dec('0.01'), closePosition: false, reduceOnly: true, status: 'NEW', actualOrderId: null }]],
  ]);
  const read = <T>(method: string, map: Map<string, T[]>) => async (accountId: string, symbol: string) => {
    calls.push(`${method} ${accountId} ${symbol}`);
    if (fail.has(`${method} ${accountId} ${symbol}`)) throw new Error(`ETIMEDOUT ${method} ${symbol}`);
    return map.get(`${accountId}|${symbol}`) ?? [];
  };
  const unexpected = (method: string) => async () => {
    throw new Error(`reconciliation called ${method}: the views were equal, nothing to settle or act on`);
  };
  return {
    venue: 'binance-usdm',
    positions: read('positions', positions),
    openOrders: read('openOrders', orders),
    openProtectiveOrders: read('openProtectiveOrders', algos),
    async account(accountId: string) {
      calls.push(`account ${accountId}`);
      return { walletBalance: dec('10000') };
    },
    placeProtectiveOrder: unexpected('placeProtectiveOrder'),
    cancelProtectiveOrder: unexpected('cancelProtectiveOrder'),
    order: unexpected('order'),
    protectiveOrder: unexpected('protectiveOrder'),
    trades: unexpected('trades'),
  } as unknown as LiveVenuePort;
}

/**
 * Execution's view: A opened on SOLUSDT (nothing on it) with a BTCUSDT position and an open
 * ETHUSDT order; B opened on ETHUSDT with an exchange stop on BTCUSDT; C on another venue.
 */
function reconciliationOver(venue: LiveVenuePort) {
  const store = new InMemoryEventStore();
  const appender = new EventAppender(store);
  const log = new Logger('spec');
  const state = new ExecutionState();
  state.venue = venue as never;
  state.accounts.set(A, config(A, 'SOLUSDT'));
  state.accounts.set(B, config(B, 'ETHUSDT'));
  state.accounts.set('recon-c', config('recon-c', 'BTCUSDT', 'bitget-usdtm'));
  state.net.set(`${A}|BTCUSDT`, { ...positionInitialState(), status: 'OPEN', accountId: A, venue: 'binance-usdm', symbol: 'BTCUSDT', sequence: 1, side: 'LONG', quantity: dec('0.01'), entryPrice: ENTRY, costBasis: ENTRY.mul('0.01'), leverage: 5 });
  state.openOrders.set(ORDER_ETH, { accountId: A, symbol: 'ETHUSDT', status: 'ACCEPTED', reduceOnly: false, goodTillDate: null });
  state.protective.set(STOP_BTC, { clientOrderId: STOP_BTC, accountId: B, symbol: 'BTCUSDT', kind: 'STOP_LOSS', side: 'SELL', triggerPrice: STOP, quantity: dec('0.01'), stopStreamId: 'stop-position-recon-b-binance-usdm-BTCUSDT-1', accepted: true });
  const streams = new ExecutionStreams(appender, store, new Quarantine('execution', appender, () => undefined), state, log);
  const recon = new Reconciliation(state, streams, {} as never, {} as never, {} as never, log, async (symbol) => {
    throw new Error(`no rules needed for ${symbol}`);
  });
  return { store, recon, state };
}

const venueStream = async (store: InMemoryEventStore, accountId: string) => (await store.readStream(Streams.venue(accountId, 'binance-usdm'))).map((e) => ({ type: e.type, data: e.data as EventData<'ReconciliationCompleted'> }));

describe('reconciliation of every symbol an account trades', () => {
  it('asks the venue about the configured symbol and each symbol with a position, an open order or an exchange stop, once each; no false difference', async () => {
    const calls: string[] = [];
    const { store, recon } = reconciliationOver(fakeLiveVenue(calls));
    await recon.reconcileAll('PERIODIC');
    const asked = (accountId: string, symbol: string) => ['positions', 'openOrders', 'openProtectiveOrders'].map((m) => `${m} ${accountId} ${symbol}`);
    expect(calls).toEqual([
      `account ${A}`, ...asked(A, 'SOLUSDT'), ...asked(A, 'BTCUSDT'), ...asked(A, 'ETHUSDT'),
      `account ${B}`, ...asked(B, 'ETHUSDT'), ...asked(B, 'BTCUSDT'),
    ]);
    const a = await venueStream(store, A);
    expect(a.map((e) => e.type)).toEqual(['ReconciliationCompleted', 'ReconciliationCompleted', 'ReconciliationCompleted']);
    expect(a.map((e) => [e.data.symbol, e.data.positions, e.data.openOrders, e.data.protectiveOrders, e.data.differences, e.data.walletBalance])).toEqual([
      ['SOLUSDT', 0, 0, 0, 0, '10000'],
      ['BTCUSDT', 1, 0, 0, 0, '10000'],
      ['ETHUSDT', 0, 1, 0, 0, '10000'],
    ]);
    expect((await venueStream(store, B)).map((e) => [e.type, e.data.symbol, e.data.protectiveOrders, e.data.differences])).toEqual([
      ['ReconciliationCompleted', 'ETHUSDT', 0, 0],
      ['ReconciliationCompleted', 'BTCUSDT', 1, 0],
    ]);
  });

  it('an account this execution does not trade is not reconciled (its venue answers would be empty: false differences)', async () => {
    const calls: string[] = [];
    const { store, recon, state } = reconciliationOver(fakeLiveVenue(calls));
    state.tradedAccounts = new Set([B]);
    await recon.reconcileAll('PERIODIC');
    expect(calls.filter((c) => c.includes(A))).toEqual([]);
    expect(await venueStream(store, A)).toEqual([]);
    expect((await venueStream(store, B)).map((e) => e.data.symbol)).toEqual(['ETHUSDT', 'BTCUSDT']);
  });

  it('a symbol the venue cannot be asked about is skipped, the others still reconciled; the pass then throws ReconciliationError naming it', async () => {
    const calls: string[] = [];
    const { store, recon } = reconciliationOver(fakeLiveVenue(calls, new Set([`openOrders ${A} BTCUSDT`])));
    const failed = await recon.reconcileAll('PERIODIC').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ReconciliationError);
    expect((failed as ReconciliationError).failures.map((f) => [f.accountId, f.symbol])).toEqual([[A, 'BTCUSDT']]);
    expect((failed as Error).message).toBe(`periodic reconciliation incomplete: ${A} BTCUSDT: ETIMEDOUT openOrders BTCUSDT`);
    expect((await venueStream(store, A)).map((e) => e.data.symbol)).toEqual(['SOLUSDT', 'ETHUSDT']);
    expect((await venueStream(store, B)).map((e) => e.data.symbol)).toEqual(['ETHUSDT', 'BTCUSDT']);
  });
});
