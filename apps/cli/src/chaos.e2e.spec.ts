/**
 * Chaos, distributed: one real day (2025-11-21, 1,440 Binance USDⓈ-M BTCUSDT 1m candles from
 * shared/data) through the six services as supervised processes on a nats-server of the test's
 * own (never the shared one on 4222).
 * - Each service in turn gets SIGKILL at a moment drawn from CHAOS_SEED (printed, so a failure
 *   can be replayed: CHAOS_SEED=<n> npx jest chaos.e2e) and is restarted by the supervisor; it
 *   rebuilds its working state from the log and carries on.
 * - NATS itself is killed (SIGKILL) mid-run and restarted on the same store: services, clock and
 *   demo reconnect and resume; the day completes with every position protected and closed and
 *   every trade booked once.
 * Every run must end flat, with every position protected by its stop and every trade booked
 * once, and its event log must equal the undisturbed run's, stream by stream (the parity
 * comparison, `comparableLog`, apart from the restart bookkeeping listed below), and its summary
 * too. A run that differs writes both logs to a file named in the failure.
 * Needs the services built (`npm test` builds first) and nats-server on the PATH.
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { seededFractions } from '@bulwark/application';
import { Services, type ServiceName } from '@bulwark/contracts';
import { type FaultRunResult, type PrivateNats, runDemoWithKills, startPrivateNats } from './demo-faults';

const ACCOUNT = 'chaos-e2e';
/** Restart bookkeeping: event types a restart may add to the log (by name); none is a trading fact. */
const BOOKKEEPING = new Set(['PoisonEventQuarantined', 'ReplayStepsAcknowledged', 'ReplayResumed']);
const SERVICE_ENV = { BULWARK_CLOCK_TIMEOUT_SECONDS: '2', BULWARK_REPLAY_CHECKPOINT_SECONDS: '1' };
const logDir = (name: string) => path.join(os.tmpdir(), `bulwark-chaos-${name}-${process.pid}`);
const trading = (r: FaultRunResult) => r.log.filter((row) => !BOOKKEEPING.has(String(row[2])));

/** What protection needs from any run, however disturbed: flat at the end, every position stopped, every trade booked once, the books add up. */
function protectedAndBooked(run: FaultRunResult): void {
  const s = run.report.summary;
  expect(s.openPositions).toBe(0);
  expect(s.positionsOpened).toBe(s.positionsClosed);
  expect(s.positionsOpened).toBeGreaterThan(0);
  expect(Number(s.finalEquity)).toBeCloseTo(Number(s.capital) + Number(s.realisedPnl) - Number(s.fees) + Number(s.funding) - Number(s.liquidationFees), 8);
  const rows = trading(run);
  const trades = rows.filter((r) => r[2] === 'OrderFilled').map((r) => (r[3] as { tradeId: string }).tradeId);
  expect(new Set(trades).size).toBe(trades.length);
  const opened = rows.filter((r) => r[2] === 'PositionOpened').map((r) => r[0]);
  for (const p of opened) expect([p, rows.filter((r) => r[0] === `stop-${p}` && r[2] === 'StopPlaced').length]).toEqual([p, 1]);
  expect(rows.filter((r) => r[2] === 'PoisonEventQuarantined')).toEqual([]);
}

/** Write both logs (and the journal) of a run that differs, for diagnosis; returns where and the first differing rows. */
function keepDifference(name: string, run: FaultRunResult): string {
  const file = path.join(os.tmpdir(), `bulwark-chaos-diff-${name}-${process.pid}.json`);
  writeFileSync(file, JSON.stringify({ undisturbed: trading(undisturbed), disturbed: trading(run), journal: run.journal, applied: run.applied, waits: run.waits }, null, 1));
  const a = trading(undisturbed).map((r) => JSON.stringify(r));
  const b = new Set(trading(run).map((r) => JSON.stringify(r)));
  const aSet = new Set(a);
  const missing = a.filter((r) => !b.has(r)).slice(0, 3);
  const extra = [...b].filter((r) => !aSet.has(r)).slice(0, 3);
  return `both logs in ${file}; missing ${missing.join(' ')}; extra ${extra.join(' ')}`;
}

let nats: PrivateNats;
let undisturbed: FaultRunResult;

beforeAll(async () => {
  nats = await startPrivateNats();
  undisturbed = await runDemoWithKills({ natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir('ref'), serviceEnv: SERVICE_ENV, stallLimitSeconds: 180 });
}, 300_000);

afterAll(async () => {
  await nats?.stop();
}, 30_000);

describe('chaos: the distributed system under SIGKILL (one real day)', () => {
  it('each of the six services killed in turn at seeded moments: restarted, the day completes, every position is protected and closed, every trade is booked once', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 1_000_000));
    console.log(`CHAOS_SEED=${seed}`);
    const next = seededFractions(seed);
    const order: ServiceName[] = [...Services].sort(() => next() - 0.5);
    // Six moments between 10 % and 90 % of the day, one per service, in the drawn order.
    const moments = order.map(() => 0.1 + 0.8 * next()).sort((a, b) => a - b);
    const run = await runDemoWithKills({
      natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir(`kill-${seed}`), serviceEnv: SERVICE_ENV, stallLimitSeconds: 180, seed,
      kills: order.map((service, i) => ({ service, atProgress: moments[i] })),
    });
    const kills = run.applied.filter((a) => a.signal === 'SIGKILL');
    expect(kills.map((k) => k.service).sort()).toEqual([...Services].sort());
    for (const s of Services) expect([s, run.report.restarts[s]]).toEqual([s, 1]);
    expect(run.report.candles).toBe(1440);
    protectedAndBooked(run);
    // The undisturbed run's log and summary, event for event.
    const same = isDeepStrictEqual(trading(run), trading(undisturbed)) && isDeepStrictEqual(run.report.summary, undisturbed.report.summary);
    const line = `chaos ${seed}: ${kills.map((k) => `${k.service}@${k.candles}`).join(', ')}; restarts ${JSON.stringify(run.report.restarts)}; ${run.log.length} events, ${same ? 'equal to' : 'DIFFERENT from'} the undisturbed run`;
    console.log(line);
    if (!same) throw new Error(`${line} (replay with CHAOS_SEED=${seed}): ${keepDifference(`kill-${seed}`, run)}`);
  }, 600_000);

  it('NATS killed mid-run and restarted on the same store: everyone reconnects, the day completes, every position is protected and closed, every trade is booked once', async () => {
    const run = await runDemoWithKills({
      natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir('nats'), serviceEnv: SERVICE_ENV, stallLimitSeconds: 180,
      natsOutage: { nats, atProgress: 0.5, forMs: 3_000 },
    });
    expect(run.natsCrashes).toBe(1);
    expect(run.report.candles).toBe(1440);
    expect(run.report.restarts).toEqual({});
    protectedAndBooked(run);
    const rows = trading(run);
    const same = isDeepStrictEqual(rows, trading(undisturbed)) && isDeepStrictEqual(run.report.summary, undisturbed.report.summary);
    console.log(`NATS outage: ${rows.length} events, the log ${same ? 'equals' : 'differs from'} the undisturbed run's`);
    if (!same) throw new Error(`NATS outage: the log differs from the undisturbed run's: ${keepDifference('nats', run)}`);
  }, 600_000);
});
