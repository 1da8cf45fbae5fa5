import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import { type ServiceName, Services, Subjects } from '@bulwark/contracts';
import { JSONCodec, type NatsConnection } from 'nats';

const json = JSONCodec();

/** Thrown when a service process cannot be started or does not become ready. */
export class ServiceStartError extends Error {
  constructor(readonly service: string, message: string, readonly logFile: string) {
    super(`${service}: ${message} (log: ${logFile})`);
    this.name = 'ServiceStartError';
  }
}

/** What the supervisor did with a service process (for the operator's console and tests). */
export type SupervisorEvent =
  | { kind: 'started'; service: string; pid: number; restarts: number }
  | { kind: 'exited'; service: string; pid: number; code: number | null; signal: NodeJS.Signals | null; restarts: number }
  | { kind: 'restarting'; service: string; restarts: number; delayMs: number }
  /**
   * An instance's lease role as it logged it (docs/architecture.md "Standby and takeover"):
   * `standby` (waiting for the lease), `active` (acting; `at` is the epoch ms it started acting),
   * `released` (a graceful stop handed the lease over at `at`).
   */
  | { kind: 'role'; service: string; pid: number; role: 'standby' | 'active' | 'released'; at: number };

/**
 * How a crashed service is restarted, as Kubernetes restarts a pod (CrashLoopBackOff, scaled
 * down for a demo): after `initialBackoffMs`, doubled at each restart up to `maxBackoffMs`, and
 * back to the initial pause once a process has run `resetAfterMs` without exiting.
 */
export interface RestartPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialBackoffMs: 500, maxBackoffMs: 10_000, resetAfterMs: 30_000 };

export interface RunningServices {
  logDir: string;
  /** The current process id of each service's active instance (undefined while it has none). */
  pids(): Partial<Record<ServiceName, number>>;
  /** How often each service was restarted after an unexpected exit (all its instances). */
  restarts(): Record<ServiceName, number>;
  /**
   * Send `signal` to a service's active instance (e.g. SIGKILL to see a standby take over and
   * the killed one restarted as a standby); with one instance, to its process.
   * @returns the pid signalled, or null when the service has no process right now
   */
  kill(service: ServiceName, signal?: NodeJS.Signals): number | null;
  /** Stop every process (SIGTERM, SIGKILL after 5 s) and restart nothing any more. */
  stop(): Promise<void>;
  /** Where each service's active process serves /metrics, /healthz and /readyz (from its log line; absent until logged). */
  telemetry(): Partial<Record<ServiceName, { host: string; port: number }>>;
}

/** The line a service logs with its telemetry server's address (libs/messaging bootstrap). */
const TELEMETRY_LINE = /telemetry on http:\/\/([^\s:/]+):(\d+)/;
/** The lines an instance logs about its lease (libs/messaging bootstrap). */
const ROLE_LINE = /bulwark-lease: (standby|active at (\d+)|released at (\d+))/;

/** One supervised service instance: its current process, its log, its restart count and pending restart. */
interface Supervised {
  name: ServiceName;
  /** 1, 2, …: instances of one service run side by side, one active (docs/architecture.md "Standby and takeover"). */
  instance: number;
  /** Its current process's lease role, once logged (null before, and after its process ended). */
  role: 'standby' | 'active' | null;
  child: ChildProcess | null;
  startedAt: number;
  restarts: number;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
  log: WriteStream;
  /** Its current (or last) process's output all read: the log is ended after it. */
  drained: Promise<void>;
  logFile: string;
  /** Its current process's telemetry address, once logged. */
  telemetry: { host: string; port: number } | null;
  /** How its last process ended ("code 1", "SIGKILL"), null before any exit. */
  lastExit: string | null;
}

/**
 * Node flags of every service and gateway process started here (the images set the same in
 * NODE_OPTIONS, deploy/Dockerfile): a 4 MiB young generation. The services keep little live data
 * and allocate fast; with Node's default (16 MiB semi-spaces) short-lived garbage made each hold
 * 20–40 MiB more at no gain in speed (docs/benchmarks.md, "Resident memory during the demo").
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * Start the six services as separate Node processes (`services/<name>/dist/main.js`), `instances`
 * of each (default 1; with 2, one active and one standby), logging to `<logDir>/<name>.log`
 * (a second instance to `<name>.2.log`), and wait until each service answers its health subject
 * (its active instance) and every instance has said its lease role. Once all
 * are up, a process that exits while the services are not being stopped is restarted (see
 * {@link RestartPolicy}); its log file is kept and appended to, with a line per restart.
 * @throws ServiceStartError when a service exits or is not ready within `readyTimeoutMs` during start-up
 */
export async function startServices(opts: {
  root: string;
  nc: NatsConnection;
  env: NodeJS.ProcessEnv;
  logDir: string;
  readyTimeoutMs?: number;
  restart?: Partial<RestartPolicy>;
  onEvent?: (e: SupervisorEvent) => void;
  /** Metrics port of a service (default 0: a free port, whatever BULWARK_METRICS_PORT says; a second instance always takes a free port). */
  metricsPorts?: Partial<Record<ServiceName, number>>;
  /** Instances of each service (default 1): more run as standbys for the active one. */
  instances?: number;
}): Promise<RunningServices> {
  mkdirSync(opts.logDir, { recursive: true });
  const policy: RestartPolicy = { ...DEFAULT_RESTART_POLICY, ...opts.restart };
  const units: Supervised[] = [];
  let supervising = false;
  let stopping = false;

  const spawnUnit = (u: Supervised) => {
    const main = path.join(opts.root, 'services', u.name, 'dist', 'main.js');
    // A process group of its own: Ctrl-C in the terminal reaches the demo only, which cancels the
    // run and then stops the services (else they would exit on the SIGINT and be restarted).
    // Each service connects as itself (its seed in BULWARK_NATS_CREDS_DIR or var/nats/creds): the
    // launcher's own single-user credentials are not passed on (docs/security.md).
    const env = withoutLauncherCredentials(opts.env);
    // Every service on a free metrics port unless the caller chose ports (the defaults 9101-9106 would collide with another run).
    const metricsPort = u.instance === 1 ? opts.metricsPorts?.[u.name] : undefined;
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, main], { cwd: opts.root, env: { ...env, BULWARK_METRICS_PORT: String(metricsPort ?? 0) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    u.telemetry = null;
    u.role = null;
    let partial = '';
    const onLine = (line: string) => {
      const t = u.telemetry ? null : TELEMETRY_LINE.exec(line);
      if (t) u.telemetry = { host: t[1], port: Number(t[2]) };
      const r = ROLE_LINE.exec(line);
      if (!r || child.pid === undefined) return;
      const role = r[1] === 'standby' ? 'standby' : r[2] ? 'active' : 'released';
      if (u.child === child) u.role = role === 'released' ? null : role;
      opts.onEvent?.({ kind: 'role', service: u.name, pid: child.pid, role, at: Number(r[2] ?? r[3] ?? Date.now()) });
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    // One log per service across restarts: the stream stays open when a process ends.
    child.stdout!.pipe(u.log, { end: false });
    child.stderr!.pipe(u.log, { end: false });
    u.drained = drained(child);
    u.child = child;
    u.startedAt = Date.now();
    u.timer = null;
    if (child.pid !== undefined) opts.onEvent?.({ kind: 'started', service: u.name, pid: child.pid, restarts: u.restarts });
    child.once('exit', (code, signal) => {
      if (u.child === child) {
        u.child = null;
        u.role = null;
      }
      u.lastExit = signal ?? `code ${code}`;
      const pid = child.pid ?? 0;
      u.log.write(`--- ${new Date().toISOString()} bulwark supervisor: ${u.name} pid ${pid} exited (${signal ?? `code ${code}`}) ---\n`);
      opts.onEvent?.({ kind: 'exited', service: u.name, pid, code, signal, restarts: u.restarts });
      if (!supervising || stopping) return;
      if (Date.now() - u.startedAt >= policy.resetAfterMs) u.backoffMs = policy.initialBackoffMs;
      const delayMs = u.backoffMs;
      u.backoffMs = Math.min(u.backoffMs * 2, policy.maxBackoffMs);
      u.restarts++;
      opts.onEvent?.({ kind: 'restarting', service: u.name, restarts: u.restarts, delayMs });
      u.timer = setTimeout(() => {
        if (stopping) return;
        u.log.write(`--- ${new Date().toISOString()} bulwark supervisor: restart ${u.restarts} of ${u.name} ---\n`);
        spawnUnit(u);
      }, delayMs);
    });
  };

  const stopUnit = (u: Supervised) =>
    new Promise<void>((resolve) => {
      if (u.timer) clearTimeout(u.timer);
      const child = u.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });

  // Detached children do not die with this process: take them along if it exits without stop().
  const onExit = () => {
    for (const u of units) u.child?.kill('SIGTERM');
  };
  process.once('exit', onExit);
  const stop = async () => {
    stopping = true;
    process.removeListener('exit', onExit);
    await Promise.all(units.map(stopUnit));
    // The last lines a stopping process wrote can arrive after its exit: the logs end after them.
    await Promise.all(units.map((u) => u.drained));
    await Promise.all(units.map((u) => new Promise<void>((resolve) => u.log.end(() => resolve()))));
  };

  const instances = Math.max(1, opts.instances ?? 1);
  for (const name of Services) {
    for (let instance = 1; instance <= instances; instance++) {
      const logFile = path.join(opts.logDir, instance === 1 ? `${name}.log` : `${name}.${instance}.log`);
      const u: Supervised = { name, instance, role: null, child: null, startedAt: 0, restarts: 0, backoffMs: policy.initialBackoffMs, timer: null, log: processLog(logFile), drained: Promise.resolve(), logFile, telemetry: null, lastExit: null };
      units.push(u);
    }
  }
  // Every instance at once: which one becomes active is the lease's decision, not the start order.
  for (const u of units) spawnUnit(u);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  const active = (service: ServiceName) => units.find((u) => u.name === service && u.child && u.role === 'active') ?? units.find((u) => u.name === service && u.child) ?? null;
  try {
    for (const name of Services) {
      const own = units.filter((u) => u.name === name);
      for (;;) {
        // During start-up an exit is an error (a broken build or configuration would only loop).
        const gone = own.find((u) => !u.child);
        if (gone) throw new ServiceStartError(name, `exited with ${gone.lastExit} during start-up`, gone.logFile);
        let answered = false;
        try {
          const m = await opts.nc.request(Subjects.health(name), json.encode({}), { timeout: 500 });
          answered = (json.decode(m.data) as { ready?: boolean }).ready === true;
        } catch {
          // not up yet
        }
        // One instance: its health answer is enough; several: each must also have said its role.
        if (answered && (own.length === 1 || own.every((u) => u.role !== null))) break;
        if (Date.now() > deadline) throw new ServiceStartError(name, 'did not become ready in time', own[0].logFile);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  supervising = true;
  return {
    logDir: opts.logDir,
    pids: () => Object.fromEntries(Services.map((s) => [s, active(s)?.child?.pid]).filter(([, pid]) => pid !== undefined)),
    restarts: () => Object.fromEntries(Services.map((s) => [s, units.filter((u) => u.name === s).reduce((n, u) => n + u.restarts, 0)])) as Record<ServiceName, number>,
    kill: (service, signal = 'SIGKILL') => {
      const child = active(service)?.child;
      if (!child?.pid) return null;
      child.kill(signal);
      return child.pid;
    },
    stop,
    telemetry: () => Object.fromEntries(Services.map((s) => [s, active(s)?.telemetry]).filter(([, t]) => t)),
  };
}

/**
 * A child's environment without the launcher's own NATS credentials: each process connects as
 * its own user (its seed in BULWARK_NATS_CREDS_DIR or var/nats/creds; docs/security.md).
 */
function withoutLauncherCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NATS_NKEY_SEED_FILE: _seed, NATS_USER: _user, NATS_PASSWORD_FILE: _password, ...rest } = env;
  return rest;
}

/**
 * Resolves once a child's output has all been read (its 'close'), or `graceMs` after it exited
 * when something else still holds its pipes. Call it at spawn: events before the call are missed.
 */
function drained(child: ChildProcess, graceMs = 2_000): Promise<void> {
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.once('exit', () => setTimeout(resolve, graceMs).unref());
  });
}

/**
 * A child process's log file, appended to. Output a stopping child still flushed after the log
 * was ended is dropped (the lines before it are kept); any write error (a full disk) is reported
 * once on stderr. Never an uncaught 'error' event, which would end the run for a log line.
 */
export function processLog(file: string): WriteStream {
  const log = createWriteStream(file, { flags: 'a' });
  // Dropped before Node sees it: a write after end() would destroy the stream before it flushed the lines before it.
  const write = log.write.bind(log) as (...args: unknown[]) => boolean;
  log.write = ((...args: unknown[]) => (log.writableEnded ? true : write(...args))) as WriteStream['write'];
  let reported = false;
  log.on('error', (e: Error) => {
    if (reported) return;
    reported = true;
    process.stderr.write(`bulwark: cannot write ${file}: ${e.message}\n`);
  });
  return log;
}

/** Stop a child process now: SIGTERM, SIGKILL after 5 s; resolves once it has exited (at once when it already has). */
export function stopChild(child: ChildProcess): Promise<void> {
  return stopper(child)();
}

/** Stop a child process: SIGTERM, SIGKILL after 5 s; resolves once it has exited (at once when it already has). */
function stopper(child: ChildProcess): () => Promise<void> {
  let exited = child.exitCode !== null || child.signalCode !== null;
  child.once('exit', () => (exited = true));
  return () =>
    new Promise<void>((resolve) => {
      if (exited) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** A `bulwark venue serve` child process and where it answers. */
export interface RunningLocalVenue {
  restBase: string;
  wsBase: string;
  /**
   * What execution needs to trade it: BULWARK_VENUE, BULWARK_VENUE_REST / BULWARK_VENUE_WS,
   * and BULWARK_ACCOUNT_ID with the one account's keys (generated per run) or
   * BULWARK_ACCOUNTS_FILE (an account set). Passed by environment, never on a command line.
   */
  executionEnv: Record<string, string>;
  /** Stop the process; an account set's accounts file and key files are removed. */
  stop(): Promise<void>;
}

/** The local venues a futures demo can trade through ccxt: Binance USDⓈ-M or Bitget USDT-M. */
export type LocalFuturesVenue = 'binance-local' | 'bitget-local';

/** Fresh random key material for one local account (a passphrase for Bitget's). */
function freshKeys(venue: LocalFuturesVenue): { apiKey: string; apiSecret: string; passphrase: string | null } {
  return { apiKey: randomBytes(32).toString('hex'), apiSecret: randomBytes(32).toString('hex'), passphrase: venue === 'bitget-local' ? randomBytes(16).toString('hex') : null };
}

/**
 * Write an accounts file (execution's BULWARK_ACCOUNTS_FILE format, which `bulwark venue serve
 * --accounts-file` also reads) for `accountIds` on `venue`, each with fresh random keys: in
 * `dir` (made owner-only), the key files and the file itself owner-read/write only (0600).
 * @returns the file's path and how to remove the directory
 */
export function writeAccountsFile(dir: string, venue: LocalFuturesVenue, accountIds: readonly string[]): { file: string; remove(): void } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = (name: string, value: string) => {
    writeFileSync(path.join(dir, name), value, { mode: 0o600 });
    return name;
  };
  const entries = accountIds.map((accountId) => {
    const k = freshKeys(venue);
    return {
      accountId, venue, keyFile: secret(`${accountId}.key`, k.apiKey), secretFile: secret(`${accountId}.secret`, k.apiSecret),
      ...(k.passphrase ? { passphraseFile: secret(`${accountId}.passphrase`, k.passphrase) } : {}),
    };
  });
  const file = path.join(dir, 'accounts.json');
  writeFileSync(file, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600 });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Start a local futures venue (`bulwark venue serve --port 0`: Binance USDⓈ-M, or Bitget USDT-M
 * with `venue: 'bitget-local'`) as its own process, logging to `<logDir>/venue.log`; resolves
 * once it prints its URLs. It serves one account with a fresh random key pair (and passphrase
 * for Bitget), or, with `accountSet`, every account of a generated accounts file written in
 * `accountSet.dir` (see {@link writeAccountsFile}; removed by `stop`). Wallets start empty
 * (execution funds them, as it funds the paper venue).
 * @throws ServiceStartError when it exits or prints no URLs within `readyTimeoutMs`
 */
export async function startLocalVenue(opts: {
  root: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  accountId: string;
  venue?: LocalFuturesVenue;
  readyTimeoutMs?: number;
  accountSet?: { accountIds: readonly string[]; dir: string };
}): Promise<RunningLocalVenue> {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, 'venue.log');
  const log = processLog(logFile);
  const venue: LocalFuturesVenue = opts.venue ?? 'binance-local';
  const bitget = venue === 'bitget-local';
  const set = opts.accountSet ? writeAccountsFile(opts.accountSet.dir, venue, opts.accountSet.accountIds) : null;
  const k = set ? null : freshKeys(venue);
  // Keys by environment or in owner-only files, never on a command line (visible to every user of the machine).
  const keys: Record<string, string> = !k ? {} : bitget ? { BITGET_API_KEY: k.apiKey, BITGET_API_SECRET: k.apiSecret, BITGET_API_PASSPHRASE: k.passphrase! } : { BINANCE_API_KEY: k.apiKey, BINANCE_API_SECRET: k.apiSecret };
  const accounts = set ? ['--accounts-file', set.file] : ['--account', opts.accountId];
  const cli = path.join(opts.root, 'apps', 'cli', 'bin', 'bulwark.js');
  const child = spawn(process.execPath, [cli, 'venue', 'serve', '--venue', bitget ? 'bitget-local' : 'binance-usdm', '--port', '0', ...accounts, '--balance', '0'], {
    cwd: opts.root,
    env: { ...opts.env, ...keys },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.pipe(log);
  const stopChild = stopper(child);
  const stop = async () => {
    await stopChild();
    set?.remove();
  };
  const urls = await new Promise<{ restBase: string; wsBase: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new ServiceStartError('venue', 'printed no URLs in time', logFile)), opts.readyTimeoutMs ?? 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      out += chunk.toString('utf8');
      const rest = bitget ? /REST\s+(http:\/\/\S+?)\/api\/v2\//.exec(out) : /REST\s+(http:\/\/\S+?)\/fapi\//.exec(out);
      const ws = bitget ? /WebSocket\s+(ws:\/\/\S+?)\/v2\/ws\/private\b/.exec(out) : /WebSocket\s+(ws:\/\/\S+?)\/ws\b/.exec(out);
      if (rest && ws) {
        clearTimeout(timer);
        resolve({ restBase: rest[1], wsBase: ws[1] });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new ServiceStartError('venue', `exited with code ${code} during start-up`, logFile));
    });
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  const executionEnv: Record<string, string> = { BULWARK_VENUE: venue, BULWARK_VENUE_REST: urls.restBase, BULWARK_VENUE_WS: urls.wsBase, ...(set ? { BULWARK_ACCOUNTS_FILE: set.file } : { BULWARK_ACCOUNT_ID: opts.accountId, ...keys }) };
  return { ...urls, executionEnv, stop };
}

/** A gateway child process (`services/gateway/dist/main.js`) and where it serves the dashboard. */
export interface RunningGateway {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/** The gateway could not listen: its port is taken by another process. */
export class GatewayPortInUseError extends ServiceStartError {
  constructor(readonly port: number, logFile: string) {
    super('gateway', `port ${port} on 127.0.0.1 is taken by another process (--gateway-port or BULWARK_GATEWAY_PORT chooses another)`, logFile);
    this.name = 'GatewayPortInUseError';
  }
}

/** The line the gateway logs once it listens (services/gateway/src/main.ts). */
const GATEWAY_LINE = /gateway on (https?:\/\/[^\s"]+?:\d+)/;

/**
 * The gateway's JWT signing key file, `var/gateway/jwt-secret` under `root`: set-up creates it;
 * made here (48 random bytes, base64, owner-only) when a run starts without it.
 */
export function ensureJwtSecretFile(root: string): string {
  const dir = path.join(root, 'var', 'gateway');
  const file = path.join(dir, 'jwt-secret');
  if (existsSync(file) && statSync(file).size > 0) return file;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, randomBytes(48).toString('base64'), { mode: 0o600 });
  return file;
}

/**
 * Start the gateway as its own process on `port` (0 = a free port), logging to
 * `<logDir>/gateway.log`; resolves once it logs the address it listens on.
 * @throws ServiceStartError when it exits (e.g. the port is taken) or is not listening within `readyTimeoutMs`
 */
export async function startGateway(opts: { root: string; env: NodeJS.ProcessEnv; logDir: string; port: number; readyTimeoutMs?: number }): Promise<RunningGateway> {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, 'gateway.log');
  const log = processLog(logFile);
  const main = path.join(opts.root, 'services', 'gateway', 'dist', 'main.js');
  // Connects as NATS user `gateway` (its own seed), like the services: the launcher's credentials are not passed on.
  const env = withoutLauncherCredentials(opts.env);
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, main], {
    cwd: opts.root,
    env: { BULWARK_JWT_SECRET_FILE: ensureJwtSecretFile(opts.root), ...env, BULWARK_GATEWAY_PORT: String(opts.port), BULWARK_METRICS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stderr!.pipe(log, { end: false });
  const stopChild = stopper(child);
  const outputRead = drained(child);
  const stop = () => stopChild().then(() => outputRead).then(() => void log.end());
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let errors = '';
    let found = false;
    child.stderr!.on('data', (chunk: Buffer) => {
      if (errors.length < 10_000) errors += chunk.toString('utf8');
    });
    const timer = setTimeout(() => reject(new ServiceStartError('gateway', 'was not listening in time', logFile)), opts.readyTimeoutMs ?? 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (found) return;
      out += chunk.toString('utf8');
      const m = GATEWAY_LINE.exec(out);
      if (m) {
        found = true;
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(/EADDRINUSE/.test(errors + out) ? new GatewayPortInUseError(opts.port, logFile) : new ServiceStartError('gateway', `exited with code ${code} during start-up`, logFile));
    });
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  return { url, pid: child.pid!, logFile, stop };
}
