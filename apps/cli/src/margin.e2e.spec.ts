/**
 * End-to-end: a Binance spot isolated-margin account through the six services as processes.
 * Execution drives the local spot-margin venue (unmodified ccxt `binance`) priced by the
 * recorded BTCUSDT spot 1m candles of the 2024-08-05 crash; the test moves the venue's clock.
 * Risk decides the entries (and counts them), execution sizes and opens them and runs the Iron
 * Exit and the guard, risk counts the results; the kill switch closes a margin position.
 * Needs the workspace built (`npm test` builds first) and NATS with JetStream.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startBinanceMarginLocal, type BinanceMarginLocal } from '@bulwark/binance-local';
import { type EventCatalogue, type EventData, type OpenAccountRequest, type RecordedEvent, Streams, Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { JetStreamEventStore } from '@bulwark/event-store';
import { loadMarginPair, projectRoot, resolveDataDir } from '@bulwark/market-data';
import { requestJson } from '@bulwark/messaging';
import { SPOT_BTCUSDT_FILES, until } from '@bulwark/testing';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { type RunningServices, startServices } from './processes';

const bus = isolatedBus('margin');
const ACC = `e2e-margin-${bus.tag}`;
const SYMBOL = 'BTCUSDT';
const KEY = `e2e-margin-key-${bus.tag}-aGVsbG9Ob3RBU2VjcmV0`;
const SECRET = `e2e-margin-secret-${bus.tag}-bm90SW5Mb2dz`;
const START = Date.parse('2024-08-04T22:00:00Z');
const CANDLES = SPOT_BTCUSDT_FILES.candles1mAugust2024;

let nc: NatsConnection;
let local: BinanceMarginLocal;
let services: RunningServices;
let store: JetStreamEventStore;

const ask = async <T = unknown>(subject: string, body: unknown): Promise<T> => (await requestJson(nc, subject, body, 30_000)) as T;

async function events(streamId: string): Promise<RecordedEvent[]> {
  return store.readStream(streamId);
}
const ofType = <T extends keyof EventCatalogue>(es: RecordedEvent[], t: T) => es.filter((e) => e.type === t).map((e) => e.data as EventData<T>);

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  const pair = loadMarginPair(SYMBOL);
  local = await startBinanceMarginLocal({
    port: 0, accounts: [{ accountId: ACC, apiKey: KEY, apiSecret: SECRET, spot: { USDT: '1000' } }], pair, candlesFile: CANDLES, startTime: START,
    limits: { weightPerMinute: 1_000_000, ordersPer10s: 10_000, ordersPerMinute: 100_000 },
  });
  local.clock.advance(1);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NATS_URL: bus.natsUrl, BULWARK_ES_STREAM: bus.esStream, BULWARK_ES_PREFIX: bus.esPrefix, BULWARK_DLQ_STREAM: bus.dlqStream, BULWARK_DLQ_PREFIX: bus.dlqPrefix,
    BULWARK_CONSUMER_SUFFIX: bus.consumerSuffix, BULWARK_DATA_DIR: resolveDataDir(), BULWARK_VENUE: 'paper',
    BULWARK_MARGIN_VENUE: 'binance-margin-local', BULWARK_MARGIN_ACCOUNT_ID: ACC, BINANCE_MARGIN_API_KEY: KEY, BINANCE_MARGIN_API_SECRET: SECRET,
    BULWARK_MARGIN_REST: local.url, BULWARK_MARGIN_WS: local.wsUrl, BULWARK_MARGIN_WATCH_MS: '100',
  };
  services = await startServices({ root: projectRoot(__dirname), nc, env, logDir: path.join(os.tmpdir(), `bulwark-e2e-${bus.tag}`) });
}, 240_000);

afterAll(async () => {
  await services?.stop();
  await local?.close();
  await dropIsolatedBus(nc, bus);
  await nc.drain();
}, 120_000);

describe('a spot isolated-margin account through the six services (local venue through ccxt, 2024-08-05 crash)', () => {
  it('opens the account, moves the collateral in, has risk approve and execution open a sized long, stops it out by the Iron Exit and counts its result', async () => {
    const open: OpenAccountRequest = {
      accountId: ACC, venue: 'binance-margin', symbol: SYMBOL, capital: '1000', leverage: 3, riskFraction: '0.01', maxMarginFraction: '0.5', maxTradesPerDay: 50,
      maxMonthlyDrawdownFraction: '0.04', venueBalance: '1000', by: 'e2e',
    } as OpenAccountRequest;
    await ask(Subjects.openAccount, open);
    const moved = await ask<{ tranId: string }>(Subjects.margin('transfer'), { accountId: ACC, symbol: SYMBOL, asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', by: 'e2e' });
    expect(moved.tranId).toBeTruthy();
    const account = await ask<{ equity: string; assets: { asset: string; free: string }[] }>(Subjects.margin('account'), { accountId: ACC, symbol: SYMBOL });
    expect(account.equity).toBe('1000');

    const decision = await ask<{ decision: string; requestId: string }>(Subjects.marginEntry, { accountId: ACC, symbol: SYMBOL, side: 'LONG', stopPrice: '58167.68', by: 'e2e', requestId: 'entry-1' });
    expect(decision).toMatchObject({ decision: 'APPROVED', requestId: 'entry-1' });
    const margin = Streams.margin(ACC, SYMBOL);
    const opened = await until('the position opened by execution', async () => ofType(await events(margin), 'MarginPositionOpened')[0], { timeoutMs: 60_000 });
    expect(opened).toMatchObject({ side: 'LONG', requestId: 'entry-1', riskAmount: '10', stopPrice: '58167.68' });
    // The same request again decides nothing and opens nothing.
    expect(await ask(Subjects.marginEntry, { accountId: ACC, symbol: SYMBOL, side: 'LONG', stopPrice: '58167.68', by: 'e2e', requestId: 'entry-1' })).toMatchObject({ decision: 'ALREADY_DECIDED' });

    // The market moves (one minute a tick) and execution's watch closes the long at its stop.
    const closed = await until(
      'the Iron Exit',
      async () => {
        const c = ofType(await events(margin), 'MarginPositionClosed')[0];
        if (!c) local.clock.advance(4); // not yet: one more minute of prices (4 path steps) every 100 ms
        return c;
      },
      { timeoutMs: 180_000, intervalMs: 100 },
    );
    expect(closed).toMatchObject({ status: 'STOPPED_OUT', reason: 'STOP_LOSS', sequence: 1 });
    expect(dec(closed.netPnl).lt(0)).toBe(true);
    expect(dec(closed.exitPrice).lte(dec('58167.68'))).toBe(true);
    const venue = await ask<{ assets: { asset: string; borrowed: string; interest: string }[] }>(Subjects.margin('account'), { accountId: ACC, symbol: SYMBOL });
    expect(venue.assets.map((a) => `${a.asset} ${a.borrowed} ${a.interest}`)).toEqual(['BTC 0 0', 'USDT 0 0']);
    // Risk counted the entry in the day and the result in the limits.
    const acct = await until('the result in risk', async () => {
      const es = await events(Streams.account(ACC));
      return es.some((e) => e.type === 'PositionResultRecorded') ? es : null;
    }, { timeoutMs: 60_000 });
    expect(ofType(acct, 'MarginEntryApproved')).toEqual([expect.objectContaining({ requestId: 'entry-1', count: 1 })]);
    expect(ofType(acct, 'PositionResultRecorded')).toEqual([expect.objectContaining({ positionStreamId: `margin-${ACC}-${SYMBOL}-1`, netPnl: closed.netPnl })]);
  }, 400_000);

  it('the kill switch closes an open margin position, and risk denies the next entry', async () => {
    const d = await ask<{ decision: string }>(Subjects.marginEntry, { accountId: ACC, symbol: SYMBOL, side: 'SHORT', stopPrice: dec((await ask<{ indexPrice: string }>(Subjects.margin('account'), { accountId: ACC, symbol: SYMBOL })).indexPrice).plus(400).toFixed(2), by: 'e2e', requestId: 'entry-2' });
    expect(d.decision).toBe('APPROVED');
    const margin = Streams.margin(ACC, SYMBOL);
    await until('the short opened', async () => ofType(await events(margin), 'MarginPositionOpened').find((p) => p.requestId === 'entry-2'), { timeoutMs: 60_000 });
    await ask(Subjects.flatten, { accountId: ACC, reason: 'kill switch drill', by: 'ops' });
    const closed = await until('the kill switch close', async () => ofType(await events(margin), 'MarginPositionClosed').find((c) => c.sequence === 2), { timeoutMs: 60_000 });
    expect(closed).toMatchObject({ status: 'CLOSED', reason: 'flatten: kill switch drill', by: 'ops' });
    expect(ofType(await events(margin), 'MarginStopTriggered')).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'OPERATOR_CLOSE', sequence: 2, by: 'ops' })]));
    expect(await ask(Subjects.marginEntry, { accountId: ACC, symbol: SYMBOL, side: 'LONG', stopPrice: '1000', by: 'e2e', requestId: 'entry-3' })).toMatchObject({ decision: 'DENIED', denied: { reason: 'TRADING_HALTED' } });
    // A typed refusal from execution: a transfer of an asset the pair does not hold.
    await expect(ask(Subjects.margin('transfer'), { accountId: ACC, symbol: SYMBOL, asset: 'ETH', amount: '1', direction: 'TO_MARGIN', by: 'e2e' })).rejects.toMatchObject({ code: 'UNKNOWN_ASSET' });
  }, 300_000);
});
