/**
 * Standby and takeover, distributed: one real day (2025-11-21, 1,440 Binance USDⓈ-M BTCUSDT 1m
 * candles from shared/data) through TWO instances of each of the six services (one active, one
 * standby; docs/architecture.md "Standby and takeover") on a nats-server of the test's own.
 * - All twelve start at the same moment: exactly one instance of each service becomes active.
 * - SIGKILL: the active instance of each service in turn is killed at a moment drawn from
 *   STANDBY_SEED (printed; replay with STANDBY_SEED=<n> npx jest standby.e2e); its standby takes
 *   over once the lease expires, rebuilds from the log and carries on.
 * - SIGTERM (a rolling restart): the active instance hands its lease over at once; the standby
 *   acts in under a second, no step waiting on the lease's TTL.
 * - During each takeover a health request and an operator command (the kill switch, for an
 *   account that does not exist, so the run's log is untouched) are sent until answered: each
 *   is answered exactly once.
 * Every run's log must equal the undisturbed run's, stream by stream (the parity comparison,
 * apart from the bookkeeping types listed below), and its summary too. Takeover times are
 * printed (median, worst).
 * Needs the services built (`npm test` builds first) and nats-server on the PATH.
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { seededFractions } from '@bulwark/application';
import { Services, type ServiceName, Subjects } from '@bulwark/contracts';
import { connectNats } from '@bulwark/messaging';
import { JSONCodec, type NatsConnection, createInbox } from 'nats';
import { type FaultRunResult, type PrivateNats, runDemoWithKills, startPrivateNats } from './demo-faults';
import type { SupervisorEvent } from './processes';

const ACCOUNT = 'standby-e2e';
/**
 * Bookkeeping a takeover may add to the log (by name); none is a trading fact. The lease events
 * live in `lease-<service>`, outside the account's streams, and are listed for clarity.
 */
const BOOKKEEPING = new Set(['ServiceActivated', 'ServiceLeaseReleased', 'PoisonEventQuarantined', 'ReplayStepsAcknowledged', 'ReplayResumed']);
const SERVICE_ENV = { BULWARK_CLOCK_TIMEOUT_SECONDS: '2', BULWARK_REPLAY_CHECKPOINT_SECONDS: '1' };
/** The lease TTL the bucket gets (libs/messaging DEFAULT_LEASE_TTL_MS); a SIGKILL takeover must come within 10 s. */
const TAKEOVER_LIMIT_MS = 10_000;
const json = JSONCodec();
const logDir = (name: string) => path.join(os.tmpdir(), `bulwark-standby-${name}-${process.pid}`);
const trading = (r: FaultRunResult) => r.log.filter((row) => !BOOKKEEPING.has(String(row[2])));

type RoleEvent = Extract<SupervisorEvent, { kind: 'role' }>;
const roles = (r: FaultRunResult) => r.serviceEvents.filter((e): e is RoleEvent => e.kind === 'role');

/** Per fault: the killed pid's service, when it was signalled, when it released (SIGTERM), and when another instance acted. */
function takeovers(run: FaultRunResult) {
  return run.applied.map((f) => {
    const after = roles(run).filter((e) => e.service === f.service && e.at >= f.at - 5);
    const released = after.find((e) => e.role === 'released' && e.pid === f.pid) ?? null;
    const next = after.find((e) => e.role === 'active' && e.pid !== f.pid) ?? null;
    return { service: f.service, signal: f.signal, candles: f.candles, signalledAt: f.at, releasedAt: released?.at ?? null, activeAt: next?.at ?? null };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Flat at the end, every position stopped, every trade booked once. */
function protectedAndBooked(run: FaultRunResult): void {
  const s = run.report.summary;
  expect(run.report.candles).toBe(1440);
  expect(s.openPositions).toBe(0);
  expect(s.positionsOpened).toBe(s.positionsClosed);
  expect(s.positionsOpened).toBeGreaterThan(0);
  const rows = trading(run);
  const trades = rows.filter((r) => r[2] === 'OrderFilled').map((r) => (r[3] as { tradeId: string }).tradeId);
  expect(new Set(trades).size).toBe(trades.length);
  const opened = rows.filter((r) => r[2] === 'PositionOpened').map((r) => r[0]);
  for (const p of opened) expect([p, rows.filter((r) => r[0] === `stop-${p}` && r[2] === 'StopPlaced').length]).toEqual([p, 1]);
}

function sameAsUndisturbed(name: string, run: FaultRunResult): string | null {
  if (isDeepStrictEqual(trading(run), trading(undisturbed)) && isDeepStrictEqual(run.report.summary, undisturbed.report.summary)) return null;
  const file = path.join(os.tmpdir(), `bulwark-standby-diff-${name}-${process.pid}.json`);
  writeFileSync(file, JSON.stringify({ undisturbed: trading(undisturbed), disturbed: trading(run), applied: run.applied, roles: roles(run) }, null, 1));
  return `the log differs from the undisturbed run's (both in ${file})`;
}

/**
 * Send a request to `subject` until it is answered, re-sending only when nobody was there to
 * receive it (a "no responders" status: safe to send again) or nothing came within 1 s; count
 * every answer that arrives until 1.5 s after the first, to see a second answer if one came.
 */
async function probe(nc: NatsConnection, subject: string, payload: unknown, giveUpMs = 60_000): Promise<{ subject: string; answers: number; sent: number; ms: number }> {
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  const started = Date.now();
  let answers = 0;
  let noResponders = 0;
  let sent = 0;
  let firstAnswerAt = 0;
  const reader = (async () => {
    for await (const m of sub) {
      if (m.headers?.code === 503) noResponders++;
      else {
        answers++;
        firstAnswerAt ||= Date.now();
      }
    }
  })();
  while (Date.now() - started < giveUpMs) {
    if (answers > 0) {
      if (Date.now() - firstAnswerAt > 1_500) break;
    } else {
      const before = noResponders;
      nc.publish(subject, json.encode(payload), { reply: inbox });
      sent++;
      const until = Date.now() + 1_000;
      while (Date.now() < until && answers === 0 && noResponders === before) await new Promise((r) => setTimeout(r, 20));
      if (answers === 0 && noResponders === before) continue; // no answer within 1 s: the outcome is open, sent again below
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  sub.unsubscribe();
  await reader;
  return { subject, answers, sent, ms: firstAnswerAt ? firstAnswerAt - started : -1 };
}

let nats: PrivateNats;
let undisturbed: FaultRunResult;

beforeAll(async () => {
  nats = await startPrivateNats();
  undisturbed = await runDemoWithKills({ natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir('ref'), serviceEnv: SERVICE_ENV, stallLimitSeconds: 180, standby: true });
}, 400_000);

afterAll(async () => {
  await nats?.stop();
}, 30_000);

describe('standby: two instances of every service, the active one killed or stopped in turn (one real day)', () => {
  it('twelve instances started at the same moment: exactly one of each service became active, the other waited as a standby', () => {
    for (const s of Services) {
      const own = roles(undisturbed).filter((e) => e.service === s);
      // Both instances said "standby" (each waited for the lease) ...
      expect([s, new Set(own.filter((e) => e.role === 'standby').map((e) => e.pid)).size]).toEqual([s, 2]);
      // ... and exactly one of them became active; nobody else took over during the undisturbed run.
      expect([s, own.filter((e) => e.role === 'active').length]).toEqual([s, 1]);
    }
    protectedAndBooked(undisturbed);
  });

  it('SIGKILL to the active instance of each service in turn at seeded moments: the standby takes over within 10 s, requests during the takeover are answered once, the log equals the undisturbed run', async () => {
    const seed = Number(process.env.STANDBY_SEED ?? Math.floor(Math.random() * 1_000_000));
    console.log(`STANDBY_SEED=${seed}`);
    const next = seededFractions(seed);
    const order: ServiceName[] = [...Services].sort(() => next() - 0.5);
    const moments = order.map(() => 0.1 + 0.8 * next()).sort((a, b) => a - b);
    const nc = await connectNats({ user: 'admin', servers: nats.url, name: 'standby-probe' });
    const probes: Array<Promise<Awaited<ReturnType<typeof probe>>>> = [];
    try {
      const run = await runDemoWithKills({
        natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir(`kill-${seed}`), serviceEnv: SERVICE_ENV, stallLimitSeconds: 180, seed, standby: true,
        kills: order.map((service, i) => ({ service, atProgress: moments[i] })),
        onFault: (f) => {
          probes.push(probe(nc, Subjects.health(f.service), {}));
          // An operator command during risk's takeover: the kill switch for an account nobody opened (refused, nothing recorded).
          if (f.service === 'risk') probes.push(probe(nc, Subjects.setTradingState, { accountId: 'standby-e2e-nobody', state: 'HALTED', reason: 'takeover probe', by: 'standby-e2e' }));
        },
      });
      const answered = await Promise.all(probes);
      const t = takeovers(run);
      const times = t.map((x) => (x.activeAt ?? Number.NaN) - x.signalledAt);
      console.log(`standby SIGKILL ${seed}: ${t.map((x, i) => `${x.service}@${x.candles} ${times[i]} ms`).join(', ')}; median ${median(times)} ms, worst ${Math.max(...times)} ms; probes ${answered.map((p) => `${p.subject} ${p.answers} answer(s) after ${p.ms} ms (${p.sent} sent)`).join('; ')}`);
      expect(run.applied.map((a) => a.service).sort()).toEqual([...Services].sort());
      for (const x of t) {
        expect([x.service, x.activeAt !== null]).toEqual([x.service, true]);
        expect([x.service, (x.activeAt ?? 0) - x.signalledAt < TAKEOVER_LIMIT_MS]).toEqual([x.service, true]);
      }
      for (const p of answered) expect([p.subject, p.answers]).toEqual([p.subject, 1]);
      // The killed instance came back (as a standby), as Kubernetes restarts a pod.
      for (const s of Services) expect([s, run.report.restarts[s]]).toEqual([s, 1]);
      protectedAndBooked(run);
      const diff = sameAsUndisturbed(`kill-${seed}`, run);
      if (diff) throw new Error(`STANDBY_SEED=${seed}: ${diff}`);
    } finally {
      await nc.drain();
    }
  }, 600_000);

  it('SIGTERM to the active instance of each service in turn (a rolling restart): the lease is handed over and the standby acts in under 1 s, the log equals the undisturbed run', async () => {
    const moments = Services.map((_, i) => 0.1 + (0.8 * i) / Services.length);
    const run = await runDemoWithKills({
      natsUrl: nats.url, accountId: ACCOUNT, logDir: logDir('term'), serviceEnv: SERVICE_ENV, stallLimitSeconds: 180, standby: true,
      kills: Services.map((service, i) => ({ service, atProgress: moments[i], signal: 'SIGTERM' as NodeJS.Signals })),
    });
    const t = takeovers(run);
    const gaps = t.map((x) => (x.activeAt ?? Number.NaN) - (x.releasedAt ?? Number.NaN));
    const fromSignal = t.map((x) => (x.activeAt ?? Number.NaN) - x.signalledAt);
    console.log(`standby SIGTERM: ${t.map((x, i) => `${x.service}@${x.candles} released→active ${gaps[i]} ms (signal→active ${fromSignal[i]} ms)`).join(', ')}; released→active median ${median(gaps)} ms, worst ${Math.max(...gaps)} ms; signal→active median ${median(fromSignal)} ms, worst ${Math.max(...fromSignal)} ms`);
    for (const [i, x] of t.entries()) {
      expect([x.service, x.releasedAt !== null, x.activeAt !== null]).toEqual([x.service, true, true]);
      expect([x.service, gaps[i] < 1_000]).toEqual([x.service, true]);
    }
    protectedAndBooked(run);
    const diff = sameAsUndisturbed('term', run);
    if (diff) throw new Error(`rolling restart: ${diff}`);
  }, 600_000);
});
