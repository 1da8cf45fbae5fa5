/**
 * The cost guard on the README's month (Binance USDⓈ-M BTCUSDT 1m, 2025-11-10..12-10, shared/data)
 * through the built CLI, as a user scripts it: `bulwark backtest --json` prints one JSON document
 * on stdout (the services' logs go to stderr), whole even past 64 KiB on a pipe, and at 10x a 25 %
 * guard denies entries COST_TOO_HIGH with their numbers, where the default 50 % denies none.
 * And the distributed demo (six services over NATS) with the 25 % guard at 10x decides exactly as
 * the in-process backtest: the same denials with their numbers, the same summary. The distributed
 * run covers the month's first two days (2025-11-10..12: 2,880 candles, 100+ COST_TOO_HIGH
 * denials and approvals between them; the rest of the month the account sits halted by its
 * drawdown limit), so the suite pays for two days of processes, not thirty. Needs the CLI built (`npm test` builds first) and nats-server.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { type BacktestResult, runBacktest } from '@bulwark/application';
import type { EventData } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import type { NatsConnection } from 'nats';
import { belongsTo, defaultDemoFiles, runDemo } from './demo';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';

const bin = path.resolve(__dirname, '../bin/bulwark.js');

function backtest(...flags: string[]): { results: BacktestResult[]; bytes: number } {
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-cost-'));
  try {
    const r = spawnSync(process.execPath, [bin, 'backtest', '--leverage', '10', '--confirm-high-leverage', '--json', '--report', reports, ...flags], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect({ status: r.status, stderrTail: r.status === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ status: 0, stderrTail: '' });
    return { results: JSON.parse(r.stdout) as BacktestResult[], bytes: Buffer.byteLength(r.stdout) };
  } finally {
    fs.rmSync(reports, { recursive: true, force: true });
  }
}

describe('cost guard on the README month at 10x (bulwark backtest --json)', () => {
  it('25 % denies entries COST_TOO_HIGH where 50 % (the default) denies none; the JSON is whole', () => {
    const tight = backtest('--max-fee-risk-pct', '25');
    expect(tight.bytes).toBeGreaterThan(64 * 1024); // one document, not cut at the pipe's 64 KiB
    const [t] = tight.results;
    expect(t.decisions.denials['COST_TOO_HIGH']).toBeGreaterThan(0);
    const [d] = backtest().results;
    expect(d.decisions.denials['COST_TOO_HIGH']).toBeUndefined();
    expect(t.decisions.intents).toBe(d.decisions.intents); // the same signals; only the decisions differ
  }, 300_000);
});

describe('cost guard: the distributed demo decides as the in-process backtest (2025-11-10..12, 10x, 25 %)', () => {
  const bus = isolatedBus('cg');
  let nc: NatsConnection | undefined;
  afterAll(async () => {
    if (nc) {
      await dropIsolatedBus(nc, bus);
      await nc.drain();
    }
  });

  it('the same COST_TOO_HIGH denials, each with its fees, risk amount and share, and the same summary', async () => {
    const files = defaultDemoFiles();
    const accountId = `cg-${bus.tag}`;
    const common = { candles: files.candles, funding: files.funding, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: Date.parse('2025-11-10T00:00:00Z'), to: Date.parse('2025-11-12T00:00:00Z'), policy: { maxFeeRiskFraction: '0.25' } };
    nc = await openIsolatedBus(bus); // as admin: creates the bus's streams (the demo's driver may not)
    const report = await runDemo({ ...common, speed: 0, accountId, bus, logDir: path.join(os.tmpdir(), `bulwark-cost-guard-${bus.tag}`) });
    const bt = await runBacktest({ ...common, accountId });
    expect(report.denials).toEqual(bt.decisions.denials);
    expect(report.denials['COST_TOO_HIGH']).toBeGreaterThan(0);
    expect(report.summary).toEqual(bt.summary);
    // Each denial says why in numbers.
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const denied: Array<EventData<'EntryDenied'>> = [];
    for await (const e of store.readAll({ fromPosition: report.firstPosition })) if (belongsTo(e, accountId) && e.type === 'EntryDenied') denied.push(e.data as EventData<'EntryDenied'>);
    const costly = denied.filter((d) => d.reason === 'COST_TOO_HIGH');
    expect(costly).toHaveLength(report.denials['COST_TOO_HIGH']);
    for (const d of costly) {
      const a = d.assessment!;
      expect(Number(a.feeRiskShare)).toBeGreaterThan(0.25);
      expect(Number(a.feesAtStop)).toBeCloseTo(Number(a.feeRiskShare) * Number(a.riskAmount), 8);
      expect(a.maxFeeRiskFraction).toBe('0.25');
    }
  }, 300_000);
});
