/**
 * End-to-end: `npm run demo -- --accounts 3 --venue binance-local` over one real day
 * (2025-11-21): the six services as processes, one execution trading three accounts with
 * different risk settings through unmodified ccxt (one binanceusdm adapter per account, from a
 * generated BULWARK_ACCOUNTS_FILE) against `bulwark venue serve --accounts-file` as its own
 * process. Each account's log must equal the in-process backtest of that account alone, stream
 * by stream (the venue's order and trade ids compared by the order they belong to: the venue
 * numbers them across its accounts). Needs the workspace built and NATS with JetStream.
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { comparableStreams, runBacktest } from '@bulwark/application';
import type { RecordedEvent } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { JetStreamEventStore, StreamAccounts, type EventStore } from '@bulwark/event-store';
import { projectRoot } from '@bulwark/market-data';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { type DemoReport, runDemo } from './demo';
import { formatReport } from './format';
import { realDayAt10x } from './real-day.fixture';

const bus = isolatedBus('accounts');
const base = `e2e-acc-${bus.tag}`;
const day = realDayAt10x();

let nc: NatsConnection;
let report: DemoReport;
const distributed = new Map<string, RecordedEvent[]>();
const alone = new Map<string, RecordedEvent[]>();

/** The events of `store` from `fromPosition`, by the account their stream belongs to. */
async function byAccount(store: EventStore, fromPosition: number, into: Map<string, RecordedEvent[]>): Promise<void> {
  const owners = new StreamAccounts();
  for await (const e of store.readAll({ fromPosition })) {
    const owner = owners.of(e);
    if (owner) into.set(owner, [...(into.get(owner) ?? []), e]);
  }
}

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  // The set's leverage is at most 5x: no confirmation (the account opening records it, compared below).
  report = await runDemo({ ...day, confirmHighLeverage: false, speed: 0, accountId: base, accounts: 3, bus, logDir: path.join(os.tmpdir(), `bulwark-e2e-${bus.tag}`), venue: 'binance-local' });
  const js = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  await byAccount(js, report.firstPosition, distributed);
  await js.close();
  for (const a of report.accounts) {
    const bt = await runBacktest({ accountId: a.accountId, candles: day.candles, funding: day.funding, capital: day.capital, leverage: a.leverage, riskPct: a.riskPct, confirmHighLeverage: false, from: day.from, to: day.to });
    await byAccount(bt.store, 1, alone);
  }
}, 600_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await nc.drain();
});

describe('demo --accounts 3 --venue binance-local (one execution, three venue accounts, six processes)', () => {
  it('trades three accounts with their own risk settings on the same day, one summary each and a total', () => {
    expect(report.accounts.map((a) => [a.accountId, a.riskPct, a.leverage])).toEqual([[`${base}-1`, '1', 3], [`${base}-2`, '1.5', 5], [`${base}-3`, '2', 2]]);
    expect(report.candles).toBe(1440);
    for (const a of report.accounts) {
      expect(a.fills).toBeGreaterThanOrEqual(2);
      const s = a.summary;
      expect(dec(s.capital).plus(s.realisedPnl).minus(s.fees).plus(s.funding).minus(s.liquidationFees).plus(s.unrealisedPnl).eq(s.finalEquity)).toBe(true);
    }
    const text = formatReport(report);
    for (const a of report.accounts) expect(text).toContain(`${a.accountId} (risk ${a.riskPct} %, leverage ${a.leverage}x)`);
    const total = report.accounts.reduce((t, a) => t.plus(a.summary.finalEquity), dec(0));
    expect(text).toMatch(new RegExp(`total[\\s\\S]*final equity\\s+${total.toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} USDT`));
  });

  it('reports the run\'s throughput and the tick-to-order latency execution measured', () => {
    expect(report.runEvents).toBeGreaterThan(report.accounts.reduce((n, a) => n + a.eventsAppended, 0) - 1);
    expect(report.eventsPerSecond).toBeGreaterThan(0);
    expect(report.tickToOrder?.orders).toBeGreaterThan(0);
    expect(report.tickToOrder!.p50Ms!).toBeGreaterThan(0);
    expect(report.tickToOrder!.p99Ms!).toBeGreaterThanOrEqual(report.tickToOrder!.p50Ms!);
  });

  it.each([1, 2, 3])('account %i: every stream has the same events as the account\'s backtest alone', (i) => {
    const id = `${base}-${i}`;
    const d = comparableStreams(distributed.get(id)!, { venueIds: 'by-order' });
    const p = comparableStreams(alone.get(id)!, { venueIds: 'by-order' });
    expect([...d.keys()].sort()).toEqual([...p.keys()].sort());
    for (const [streamId, events] of p) {
      const other = d.get(streamId) ?? [];
      for (let k = 0; k < Math.max(events.length, other.length); k++) expect({ streamId, k, event: other[k] ?? null }).toEqual({ streamId, k, event: events[k] ?? null });
    }
  });

  it('the accounts file and its key files are gone after the run', () => {
    expect(existsSync(path.join(projectRoot(__dirname), 'var', 'accounts', base))).toBe(false);
  });
});
