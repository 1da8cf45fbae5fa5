/**
 * The demo under faults, on one real day (2025-11-21: 1,440 candles of Binance USDⓈ-M BTCUSDT,
 * shared/data) with the six services as supervised processes on a nats-server of its own (the
 * clock's core subjects are not isolated by the bus configuration, so a shared server would mix
 * runs):
 * - undisturbed, for reference;
 * - execution frozen (SIGSTOP) for 5 s with a 2 s clock request timeout: the clock sends the same
 *   step again until execution answers, says it waits for execution, and the run writes the same
 *   events as the undisturbed one;
 * - market-data killed (SIGKILL) mid-run: the supervisor restarts it, it resumes the run from its
 *   journal, the demo keeps waiting, and the summary and the log equal the undisturbed run's.
 * Needs the services built (`npm test` builds first) and nats-server on the PATH.
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type FaultRunResult, type PrivateNats, runDemoWithKills, startPrivateNats } from './demo-faults';

const ACCOUNT = 'faults-e2e';
/** Small limits so waiting out a 5 s silence takes seconds; the stall limit stays far above it. */
const SERVICE_ENV = { BULWARK_CLOCK_TIMEOUT_SECONDS: '2', BULWARK_REPLAY_CHECKPOINT_SECONDS: '1' };
const logDir = (name: string) => path.join(os.tmpdir(), `bulwark-faults-${name}-${process.pid}`);

let nats: PrivateNats;
let undisturbed: FaultRunResult;

beforeAll(async () => {
  nats = await startPrivateNats();
  undisturbed = await runDemoWithKills({ natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir('ref'), serviceEnv: SERVICE_ENV, stallLimitSeconds: 120 });
}, 300_000);

afterAll(async () => {
  await nats?.stop();
}, 30_000);

describe('the demo under faults (one real day, 2025-11-21)', () => {
  it('undisturbed: replays the day, trades, and journals the run in a few checkpoints', () => {
    expect(undisturbed.report.candles).toBe(1440);
    expect(undisturbed.report.steps).toBe(5760);
    expect(undisturbed.report.fills).toBeGreaterThanOrEqual(2);
    expect(undisturbed.report.restarts).toEqual({});
    const types = undisturbed.journal.map((e) => e.type);
    expect(types[0]).toBe('ReplayStarted');
    expect(types.at(-1)).toBe('ReplayFinished');
    expect(undisturbed.journal.at(-1)!.data).toMatchObject({ outcome: 'COMPLETED', candles: 1440, steps: 5760 });
    // Checkpoints are per second of wall time here (BULWARK_REPLAY_CHECKPOINT_SECONDS=1), never per step.
    const checkpoints = types.filter((t) => t === 'ReplayStepsAcknowledged').length;
    expect(checkpoints).toBeGreaterThan(0);
    expect(checkpoints).toBeLessThan(5760 / 50);
  });

  it('a service silent for 5 s (longer than the 2 s request timeout) is waited out: same events as undisturbed', async () => {
    const run = await runDemoWithKills({
      natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir('pause'), serviceEnv: SERVICE_ENV, stallLimitSeconds: 120,
      pauses: [{ service: 'execution', atProgress: 0.3, forMs: 5_000 }],
    });
    expect(run.applied).toEqual([expect.objectContaining({ service: 'execution', signal: 'SIGSTOP' })]);
    // The clock said whom it waited for, and why.
    expect(run.waits.some((w) => w.service === 'execution' && /^no answer to (step \d+|sync) within 2 s$/.test(w.reason))).toBe(true);
    expect(run.report.restarts).toEqual({});
    expect(run.report.summary).toEqual(undisturbed.report.summary);
    expect(run.log).toEqual(undisturbed.log);
  }, 300_000);

  it('market-data killed mid-run is restarted, resumes the run from its journal, and the run ends as undisturbed', async () => {
    const run = await runDemoWithKills({
      natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir('kill-md'), serviceEnv: SERVICE_ENV, stallLimitSeconds: 120,
      kills: [{ service: 'market-data', atProgress: 0.4 }],
    });
    expect(run.applied).toEqual([expect.objectContaining({ service: 'market-data', signal: 'SIGKILL' })]);
    expect(run.report.restarts).toEqual({ 'market-data': 1 });
    expect(run.serviceEvents.filter((e) => e.kind === 'started' && e.service === 'market-data')).toHaveLength(2);
    const resumed = run.journal.filter((e) => e.type === 'ReplayResumed');
    expect(resumed).toHaveLength(1);
    const nextSeq = (resumed[0].data as { nextSeq: number }).nextSeq;
    expect(nextSeq).toBeGreaterThan(0);
    expect(nextSeq).toBeLessThanOrEqual(run.applied[0].candles * 4 + 4);
    expect(run.journal.at(-1)!.data).toMatchObject({ outcome: 'COMPLETED', candles: 1440, steps: 5760 });
    expect(run.report.candles).toBe(1440);
    if (!isDeepStrictEqual(run.log, undisturbed.log)) {
      // Keep both logs for diagnosis before failing.
      const file = path.join(os.tmpdir(), `bulwark-faults-diff-kill-md-${process.pid}.json`);
      writeFileSync(file, JSON.stringify({ undisturbed: undisturbed.log, disturbed: run.log, journal: run.journal, applied: run.applied }, null, 1));
      console.log(`the disturbed log differs from the undisturbed one: both in ${file}`);
    }
    expect(run.report.summary).toEqual(undisturbed.report.summary);
    expect(run.log).toEqual(undisturbed.log);
  }, 300_000);
});
