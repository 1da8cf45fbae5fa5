import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { comparableLog, seededFractions } from '@bulwark/application';
import type { RecordedEvent, ReplayProgress, ServiceName } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import { type ClockWait, connectNats, createBusStreams, freePort, privateNatsServerCommand } from '@bulwark/messaging';
import type { NatsConnection } from 'nats';
import { belongsTo, defaultDemoFiles, type DemoOptions, type DemoReport, runDemo } from './demo';
import { dropIsolatedBus, isolatedBus } from './isolated-bus';
import type { RunningServices, SupervisorEvent } from './processes';

/**
 * Faults injected into a demo run (for tests, and for the lead to extend to every service):
 * - a kill: `signal` (default SIGKILL) to `service`'s process once the run has replayed
 *   `atProgress` of its candles (a fraction in [0, 1]; drawn from `seed` in [0.2, 0.8] when absent);
 *   the supervisor restarts the process;
 * - a pause: SIGSTOP to `service` at `atProgress`, SIGCONT `forMs` later (a service that is
 *   alive but silent: the clock's requests time out and are sent again).
 */
export interface KillFault {
  service: ServiceName;
  atProgress?: number;
  signal?: NodeJS.Signals;
}
export interface PauseFault {
  service: ServiceName;
  atProgress?: number;
  forMs: number;
}

export interface FaultRunOptions {
  kills?: KillFault[];
  pauses?: PauseFault[];
  /** Seeds the progress points of faults that give none (a run is repeatable with its seed). */
  seed?: number;
  /** NATS of the run (a private nats-server: core subjects are not isolated by the bus configuration). */
  natsUrl: string;
  /** The account (and run) id; runs with the same id on different buses write comparable logs. */
  accountId: string;
  /** Window [from, to) of the month file (epoch ms); default 2025-11-21, one day. */
  from?: number;
  to?: number;
  logDir: string;
  stallLimitSeconds?: number;
  serviceEnv?: Record<string, string>;
  /** Keep the run's JetStream streams (default: dropped after the log is read). */
  keepStreams?: boolean;
  /** NATS itself dies (SIGKILL) at `atProgress` and comes back on the same store `forMs` later. */
  natsOutage?: { nats: PrivateNats; atProgress: number; forMs: number };
  /** Two instances of each service (one standby): a kill reaches the active one, and the standby takes over. */
  standby?: boolean;
  /** Told of each fault right after its signal was sent (e.g. to probe the service during its takeover). */
  onFault?: (f: FaultRunResult['applied'][number]) => void;
}

export interface FaultRunResult {
  report: DemoReport;
  /**
   * The account's log as `comparableLog` rows, sorted by stream and revision (the global
   * interleaving of concurrent reactions is not defined in the distributed system), without the
   * replay journal (`replay-…`, the clock's bookkeeping).
   */
  log: unknown[][];
  /** The run's journal events (ReplayStarted, checkpoints, ReplayResumed, ReplayFinished). */
  journal: RecordedEvent[];
  /** Faults as they happened: which process got which signal at how many candles, and when (epoch ms). */
  applied: Array<{ service: ServiceName; signal: NodeJS.Signals; pid: number; candles: number; at: number }>;
  /** Every wait the demo reported (distinct service and start). */
  waits: ClockWait[];
  serviceEvents: SupervisorEvent[];
  /** How often NATS was crashed and brought back during the run (`natsOutage`). */
  natsCrashes: number;
}

/**
 * Run the demo (six supervised processes, paper venue, leverage 10, 1 % risk) on an isolated
 * bus of `natsUrl` and inject `kills` and `pauses` as it progresses; read back the account's
 * log in a comparable form. Two runs with the same `accountId` and window give equal `log`s and
 * summaries when the faults changed nothing.
 * @throws whatever runDemo throws (e.g. DemoError when the run gave up)
 */
export async function runDemoWithKills(o: FaultRunOptions): Promise<FaultRunResult> {
  const next = seededFractions(o.seed ?? 1);
  const point = (p: number | undefined) => p ?? 0.2 + 0.6 * next();
  const plan = [
    ...(o.kills ?? []).map((k) => ({ service: k.service, at: point(k.atProgress), signal: k.signal ?? ('SIGKILL' as NodeJS.Signals), forMs: 0, done: false })),
    ...(o.pauses ?? []).map((p) => ({ service: p.service, at: point(p.atProgress), signal: 'SIGSTOP' as NodeJS.Signals, forMs: p.forMs, done: false })),
  ];
  const bus = { ...isolatedBus('flt'), natsUrl: o.natsUrl };
  const applied: FaultRunResult['applied'] = [];
  const waits: ClockWait[] = [];
  const serviceEvents: SupervisorEvent[] = [];
  let services: RunningServices | null = null;
  const timers: NodeJS.Timeout[] = [];
  const files = defaultDemoFiles();
  let outage: Promise<void> | null = null;
  const onProgress = (p: ReplayProgress) => {
    if (!services || p.total === 0) return;
    const o2 = o.natsOutage;
    if (o2 && !outage && p.candles >= o2.atProgress * p.total) {
      outage = o2.nats.crash(o2.forMs);
      outage.catch(() => undefined);
    }
    for (const f of plan) {
      if (f.done || p.candles < f.at * p.total) continue;
      f.done = true;
      const pid = services.kill(f.service, f.signal);
      if (pid === null) continue;
      const fault = { service: f.service, signal: f.signal, pid, candles: p.candles, at: Date.now() };
      applied.push(fault);
      o.onFault?.(fault);
      if (f.signal === 'SIGSTOP') {
        timers.push(setTimeout(() => process.kill(pid, 'SIGCONT'), f.forMs));
      }
    }
  };
  const demo: DemoOptions = {
    candles: files.candles, funding: files.funding, speed: 0, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true,
    from: o.from ?? Date.parse('2025-11-21T00:00:00Z'), to: o.to ?? Date.parse('2025-11-22T00:00:00Z'),
    accountId: o.accountId, bus, logDir: o.logDir,
    ...(o.stallLimitSeconds !== undefined ? { stallLimitSeconds: o.stallLimitSeconds } : {}),
    serviceEnv: o.serviceEnv,
    standby: o.standby,
    onServicesReady: async (_nc, s) => {
      services = s;
    },
    onProgress,
    onWait: (w) => {
      if (w && !waits.some((x) => x.service === w.service && x.since === w.since)) waits.push(w);
    },
    onServiceEvent: (e) => serviceEvents.push(e),
  };
  // The harness is `admin`: it creates the isolated bus's streams (the demo's `driver` may not) and reads them back.
  const nc: NatsConnection = await connectNats({ user: 'admin', servers: o.natsUrl, name: 'demo-faults' });
  try {
    await createBusStreams(nc, bus);
    const report = await runDemo(demo);
    await outage;
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const rows = await comparableLog(store);
    const log = rows
      .filter((r) => !String(r[0]).startsWith('replay-') && (String(r[0]).startsWith('rules-') || belongsTo({ streamId: String(r[0]) } as RecordedEvent, o.accountId)))
      .sort((a, b) => (a[0] === b[0] ? Number(a[1]) - Number(b[1]) : String(a[0]) < String(b[0]) ? -1 : 1));
    const journal: RecordedEvent[] = [];
    for await (const e of store.readAll({ categories: ['replay'] })) journal.push(e);
    await store.close();
    return { report, log, journal, applied, waits, serviceEvents, natsCrashes: outage ? 1 : 0 };
  } finally {
    for (const t of timers) clearTimeout(t);
    if (!o.keepStreams) await dropIsolatedBus(nc, bus).catch(() => undefined);
    await nc.drain().catch(() => undefined);
  }
}

/** A nats-server with JetStream of its own (store in a temp dir, a free loopback port), for runs that must not share core subjects. */
export interface PrivateNats {
  url: string;
  stop(): Promise<void>;
  /** SIGKILL the server (its store stays), then start it again on the same port and store after `downMs`. */
  crash(downMs: number): Promise<void>;
}

/**
 * Start `nats-server -js` (NATS_SERVER_BIN, default `nats-server` on the PATH) with Bulwark's
 * authorization (privateNatsServerCommand) on a free port of 127.0.0.1 with its store in a new
 * temp dir; resolves once it accepts a connection as `admin`.
 * @throws Error when it exits or does not answer within 15 s
 */
export async function startPrivateNats(): Promise<PrivateNats> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bulwark-nats-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess;
  let exited: string | null = null;
  const spawnServer = () => {
    exited = null;
    // The deployed authorization (var/nats/nats-server.conf): every process connects with its own credentials.
    const server = privateNatsServerCommand(port, path.join(dir, 'js'));
    child = spawn(server.bin, server.args, { stdio: 'ignore' });
    child.once('error', (e) => (exited = String(e)));
    child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`));
  };
  const kill = async (signal: NodeJS.Signals) => {
    if (exited !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000).unref())]);
    if (exited === null) child.kill('SIGKILL');
  };
  const stop = async () => {
    await kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const ready = async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (exited !== null) throw new Error(`nats-server exited (${exited}) before it answered on ${url}`);
      const nc = await connectNats({ user: 'admin', servers: url, timeoutMs: 1_000, reconnect: 'never' }).catch(() => null);
      if (nc) {
        await nc.close();
        return;
      }
      if (Date.now() > deadline) throw new Error(`nats-server did not answer on ${url} within 15 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const crash = async (downMs: number) => {
    await kill('SIGKILL');
    await new Promise((r) => setTimeout(r, downMs));
    spawnServer();
    await ready();
  };
  spawnServer();
  try {
    await ready();
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, stop, crash };
}
