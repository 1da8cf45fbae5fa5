/**
 * End-to-end: `npm run demo -- --venue binance-local` over one real day (2025-11-21): the six
 * services as processes, execution trading through unmodified ccxt (binanceusdm, REST and the
 * user-data websocket) against `bulwark venue serve` as its own process. Its summary must be
 * the paper venue's, to the last digit (the in-process backtest of the same day). Needs the
 * workspace built (`npm test` builds first) and NATS with JetStream.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBacktest } from '@bulwark/application';
import type { AccountSummary } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import { btcusdtContract } from '@bulwark/testing';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { defaultDemoFiles, type DemoReport, runDemo } from './demo';

const bus = isolatedBus('local');
const accountId = `e2e-local-${bus.tag}`;
const FROM = Date.parse('2025-11-21T00:00:00Z');
const TO = Date.parse('2025-11-22T00:00:00Z');

let nc: NatsConnection;
let report: DemoReport;
let paper: AccountSummary;

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  const files = defaultDemoFiles();
  report = await runDemo({
    candles: files.candles, funding: files.funding, speed: 0, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false,
    from: FROM, to: TO, accountId, bus, logDir: path.join(os.tmpdir(), `bulwark-e2e-${bus.tag}`), venue: 'binance-local',
  });
  const bt = await runBacktest({ accountId, candles: files.candles, funding: files.funding, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, from: FROM, to: TO });
  paper = bt.summary;
}, 240_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await nc.drain();
});

describe('demo --venue binance-local (ccxt against the local Binance-compatible venue, six processes)', () => {
  it('trades the day: entries, stops and targets through the venue', () => {
    expect(report.candles).toBe(1440);
    expect(report.fills).toBeGreaterThanOrEqual(10);
    expect(report.stopsHit + report.takeProfitsHit).toBeGreaterThanOrEqual(5);
  });

  it("gives the paper venue's summary to the last digit (realised PnL, fees, funding, drawdown, equity)", () => {
    const pick = (s: AccountSummary) => ({
      realisedPnl: s.realisedPnl, fees: s.fees, funding: s.funding, liquidationFees: s.liquidationFees, finalEquity: s.finalEquity,
      maxDrawdown: s.maxDrawdown, positionsOpened: s.positionsOpened, positionsClosed: s.positionsClosed, fills: s.fills, closesByPurpose: s.closesByPurpose,
    });
    expect(pick(report.summary)).toEqual(pick(paper));
  });

  it('the venue stream records the funding, one-way mode, isolated margin and leverage it set through ccxt; the rules come from the venue', async () => {
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const venue = (await store.readStream(`venue-${accountId}-binance-usdm`)).map((e) => e.type);
    expect(venue.slice(0, 4)).toEqual(['VenueAccountFunded', 'PositionModeSet', 'MarginModeSet', 'LeverageSet']);
    // The instrument rules were read from the venue through ccxt (exchangeInfo + leverageBracket)
    // and equal the recorded files the local venue serves.
    const rules = await store.readStream('rules-binance-usdm-BTCUSDT');
    const last = rules[rules.length - 1].data as { source: string };
    expect(last.source).toMatch(/GET \/fapi\/v1\/exchangeInfo \+ GET \/fapi\/v1\/leverageBracket \(ccxt\)/);
    const { source: _s, ...fromVenue } = last;
    expect(fromVenue).toEqual(btcusdtContract());
    await store.close();
  });
});
