/**
 * End-to-end: `npm run demo -- --venue bitget-local` over one real day (2025-11-21): the six
 * services as processes, execution trading through unmodified ccxt `bitget` against
 * `bulwark venue serve --venue bitget-local` as its own process. Its summary must be the paper
 * venue's run under Bitget's id (the in-process backtest with Bitget's recorded rules, tiers
 * and fees) to the last digit. The prices are Binance's recorded BTCUSDT futures candles: this
 * project has no Bitget candles. Needs the workspace built (`npm test` builds first) and NATS
 * with JetStream.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBacktest } from '@bulwark/application';
import type { AccountSummary, EventData } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import { loadBitgetUsdtmRulesFromDir } from '@bulwark/market-data';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { defaultDemoFiles, type DemoReport, runDemo } from './demo';

const bus = isolatedBus('bitget');
const accountId = `e2e-bitget-${bus.tag}`;
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
    from: FROM, to: TO, accountId, bus, logDir: path.join(os.tmpdir(), `bulwark-e2e-${bus.tag}`), venue: 'bitget-local',
  });
  const bt = await runBacktest({ accountId, venue: 'bitget-usdtm', candles: files.candles, funding: files.funding, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, from: FROM, to: TO });
  paper = bt.summary;
}, 300_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await nc.drain();
});

describe('demo --venue bitget-local (ccxt bitget against the local Bitget-compatible venue, six processes)', () => {
  it('trades the day: entries, stops and targets through the venue', () => {
    expect(report.candles).toBe(1440);
    expect(report.fills).toBeGreaterThanOrEqual(10);
    expect(report.stopsHit + report.takeProfitsHit).toBeGreaterThanOrEqual(5);
  });

  it("gives the paper venue's summary under Bitget's rules to the last digit (realised PnL, fees, funding, drawdown, equity)", () => {
    const pick = (s: AccountSummary) => ({
      realisedPnl: s.realisedPnl, fees: s.fees, funding: s.funding, liquidationFees: s.liquidationFees, finalEquity: s.finalEquity,
      maxDrawdown: s.maxDrawdown, positionsOpened: s.positionsOpened, positionsClosed: s.positionsClosed, fills: s.fills, closesByPurpose: s.closesByPurpose,
    });
    expect(pick(report.summary)).toEqual(pick(paper));
  });

  it("the venue stream records one-way mode, isolated margin and leverage set through ccxt; the rules are Bitget's, read from the venue", async () => {
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const venue = (await store.readStream(`venue-${accountId}-bitget-usdtm`)).map((e) => e.type);
    expect(venue.slice(0, 4)).toEqual(['VenueAccountFunded', 'PositionModeSet', 'MarginModeSet', 'LeverageSet']);
    const rules = await store.readStream('rules-bitget-usdtm-BTCUSDT');
    const last = rules[rules.length - 1].data as EventData<'InstrumentRulesRecorded'>;
    expect(last.source).toMatch(/GET \/api\/v2\/mix\/market\/contracts \+ GET \/api\/v2\/mix\/market\/query-position-lever \(ccxt\)/);
    const { source: _s, ...fromVenue } = last;
    expect(fromVenue).toEqual(loadBitgetUsdtmRulesFromDir(undefined, 'BTCUSDT'));
    const fills = (await store.readStream(`venue-${accountId}-bitget-usdtm`)).length;
    expect(fills).toBeGreaterThan(3);
    await store.close();
  });
});
