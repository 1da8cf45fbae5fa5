import { EventCatalogue } from '@bulwark/contracts';
import { InMemoryEventStore } from '@bulwark/event-store';
import { rebuildReadModels, type ReadModels } from './read-models';

/*
 * The rebuild reads the log once and folds each stream from what that read kept: events it cannot
 * use must still be reported (stream, revision, position, type, reason) and left out, never skipped
 * in silence, and the rest of the account still rebuilt. A store without schema checks holds them.
 */

const A = 'acct1';
const VENUE = 'binance-usdm';
const SYMBOL = 'BTCUSDT';
let n = 0;

/** Append one event (current schema version unless `version`) to a store that does not validate. */
async function put(store: InMemoryEventStore, streamId: string, type: string, data: unknown, version?: number): Promise<number> {
  n++;
  const schemaVersion = version ?? (EventCatalogue as Record<string, { version: number } | undefined>)[type]?.version ?? 1;
  const metadata = { eventId: `e-${n}`, tsEvent: 1_700_000_000_000 + n, tsInit: 1_700_000_000_000 + n, correlationId: `c-${n}`, causationId: `c-${n}`, schemaVersion };
  return (await store.append(streamId, [{ type, data, metadata }], 'any')).position;
}

const fill = (clientOrderId: string, tradeId: string, over: Record<string, unknown> = {}) => ({
  accountId: A, venue: VENUE, symbol: SYMBOL, clientOrderId, venueOrderId: `v-${clientOrderId}`, tradeId, side: 'BUY', purpose: 'ENTRY',
  quantity: '2', filledQuantity: '2', leavesQuantity: '0', price: '100', fee: '0.1', ...over,
});

/** One filled entry order `o<i>` and the position lifecycle `i` it opened (closed with the given totals when `close`). */
async function trade(store: InMemoryEventStore, i: number, opts: { fill?: Record<string, unknown>; close?: Record<string, unknown> } = {}): Promise<void> {
  const o = `o${i}`;
  await put(store, `order-${o}`, 'OrderInitialized', { accountId: A, venue: VENUE, symbol: SYMBOL, clientOrderId: o, side: 'BUY', purpose: 'ENTRY', quantity: '2' });
  await put(store, `order-${o}`, 'OrderSubmitted', { clientOrderId: o });
  await put(store, `order-${o}`, 'OrderAccepted', { clientOrderId: o, venueOrderId: `v-${o}` });
  await put(store, `order-${o}`, 'OrderFilled', fill(o, `t${i}`, opts.fill));
  const p = `position-${A}-${VENUE}-${SYMBOL}-${i}`;
  await put(store, p, 'PositionOpened', {
    accountId: A, venue: VENUE, symbol: SYMBOL, sequence: i, side: 'LONG', quantity: '2', entryPrice: '100', leverage: 1, fee: '0.1', clientOrderId: o, tradeId: `t${i}`, purpose: 'ENTRY',
  });
  if (opts.close) {
    const c = `c${i}`;
    await put(store, `order-${c}`, 'OrderInitialized', { accountId: A, venue: VENUE, symbol: SYMBOL, clientOrderId: c, side: 'SELL', purpose: 'CLOSE', quantity: '2' });
    await put(store, `order-${c}`, 'OrderSubmitted', { clientOrderId: c });
    await put(store, `order-${c}`, 'OrderAccepted', { clientOrderId: c, venueOrderId: `v-${c}` });
    await put(store, `order-${c}`, 'OrderFilled', fill(c, `tc${i}`, { side: 'SELL', purpose: 'CLOSE', price: '110' }));
    await put(store, p, 'PositionClosed', {
      accountId: A, venue: VENUE, symbol: SYMBOL, sequence: i, side: 'LONG', quantity: '2', price: '110', fee: '0.1', realisedPnl: '20', clientOrderId: c, tradeId: `tc${i}`, purpose: 'CLOSE',
      totalRealisedPnl: '20', totalFees: '0.2', totalFunding: '0', netPnl: '19.8', ...opts.close,
    });
  }
}

const failures = (m: ReadModels, name: string) => m.checks.find((c) => c.name === name)!.failures;

describe('rebuildReadModels: events it cannot use are reported, never skipped in silence', () => {
  let store: InMemoryEventStore;
  const at: Record<string, number> = {};

  beforeAll(async () => {
    store = new InMemoryEventStore({ validate: false });
    await put(store, `account-${A}`, 'AccountOpened', { accountId: A, venue: VENUE, symbol: SYMBOL, capital: '1000', leverage: 1 });
    at.unknown = await put(store, `account-${A}`, 'NoSuchEvent', { accountId: A });
    await trade(store, 1, { close: {} }); // a clean round trip: the control
    await trade(store, 2, { fill: { quantity: 'two' } }); // the fill cannot be folded
    await trade(store, 3, { close: { totalFees: '0.3', netPnl: 'lots' } }); // a wrong recorded total, one that is not a decimal
    await trade(store, 5, { close: { totalFunding: 'none' } }); // a total the position fold cannot parse: the close cannot be folded
    await trade(store, 4, { fill: { fee: 'free' } }); // a fill fee that is not a decimal
  });

  it('trusting the log: each one is a failure of the right check, and the rest of the account is rebuilt', async () => {
    const m = await rebuildReadModels(store);
    expect(m.ok).toBe(false);
    const schema = failures(m, 'schema');
    // The unknown type: reported once with where it is; left out of the policy fold.
    expect(schema).toContainEqual(expect.objectContaining({ accountId: A, subject: `account-${A}#1`, position: at.unknown, eventType: 'NoSuchEvent' }));
    // Events a fold cannot use: reported and left out (o2's fill, position 5's close).
    const unusable = schema.filter((f) => f.detail.startsWith('cannot be folded: ')).map((f) => `${f.subject} ${f.eventType}`);
    expect(unusable).toEqual(['order-o2#3 OrderFilled', `position-${A}-${VENUE}-${SYMBOL}-5#1 PositionClosed`]);
    const [acct] = m.accounts;
    expect(acct.accountId).toBe(A);
    expect(acct.policy.config).toMatchObject({ capital: '1000' });
    expect(acct.orders.list.find((o) => o.clientOrderId === 'o2')).toMatchObject({ fills: 0, filledQuantity: '0' });
    expect(acct.orders.list.find((o) => o.clientOrderId === 'o1')).toMatchObject({ fills: 1, filledQuantity: '2', status: 'FILLED' });
    expect(acct.positions.find((p) => p.sequence === 5)).toMatchObject({ status: 'OPEN' });
    // Recorded totals and fees that do not add up are failures of their checks.
    const p3 = `position-${A}-${VENUE}-${SYMBOL}-3`;
    expect(failures(m, 'position-totals')).toEqual([
      { accountId: A, subject: p3, detail: "PositionClosed.totalFees = 0.3, recomputed from the stream's events: 0.2" },
      { accountId: A, subject: p3, detail: "PositionClosed.netPnl = lots, recomputed from the stream's events: 19.8" },
    ]);
    expect(failures(m, 'trade-ids').map((f) => f.detail)).toContain("position events book a fee of 0.1 for fill t4, the fill's fee is free");
    // The clean round trip is intact.
    expect(acct.positions.find((p) => p.sequence === 1)).toMatchObject({ status: 'CLOSED', realisedPnl: '20', fees: '0.2', netPnl: '19.8' });
    expect(failures(m, 'revisions')).toEqual([]);
  }, 60_000);

  it('verify: the unknown type and the fill that breaks its schema are schema failures too; the rebuild goes on', async () => {
    const m = await rebuildReadModels(store, { verify: true });
    const schema = failures(m, 'schema');
    expect(schema).toContainEqual(expect.objectContaining({ subject: `account-${A}#1`, position: at.unknown, eventType: 'NoSuchEvent' }));
    expect(schema.filter((f) => f.subject === 'order-o2#3')).toHaveLength(1);
    expect(m.accounts.map((a) => a.accountId)).toEqual([A]);
  }, 60_000);

  it('with --account, another account sees none of them', async () => {
    const m = await rebuildReadModels(store, { accountId: 'someone-else' });
    expect(m.accounts).toEqual([]);
    expect(m.ok).toBe(true);
  }, 60_000);
});
