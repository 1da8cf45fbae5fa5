import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
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

export interface RunningServices {
  logDir: string;
  stop(): Promise<void>;
}

/**
 * Start the six services as separate Node processes (`services/<name>/dist/main.js`), each
 * logging to `<logDir>/<name>.log`, and wait until each answers its health subject.
 */
export async function startServices(opts: {
  root: string;
  nc: NatsConnection;
  env: NodeJS.ProcessEnv;
  logDir: string;
  readyTimeoutMs?: number;
}): Promise<RunningServices> {
  mkdirSync(opts.logDir, { recursive: true });
  const children = new Map<ServiceName, ChildProcess>();
  const exited = new Map<ServiceName, number | null>();
  const stop = async () => {
    const waits = [...children.entries()].map(
      ([name, child]) =>
        new Promise<void>((resolve) => {
          if (exited.has(name)) return resolve();
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(waits);
  };
  for (const name of Services) {
    const main = path.join(opts.root, 'services', name, 'dist', 'main.js');
    const logFile = path.join(opts.logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(process.execPath, [main], { cwd: opts.root, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    child.once('exit', (code) => exited.set(name, code));
    children.set(name, child);
  }
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  try {
    for (const name of Services) {
      const logFile = path.join(opts.logDir, `${name}.log`);
      for (;;) {
        if (exited.has(name)) throw new ServiceStartError(name, `exited with code ${exited.get(name)} during start-up`, logFile);
        try {
          const m = await opts.nc.request(Subjects.health(name), json.encode({}), { timeout: 500 });
          if ((json.decode(m.data) as { ready?: boolean }).ready) break;
        } catch {
          // not up yet
        }
        if (Date.now() > deadline) throw new ServiceStartError(name, 'did not become ready in time', logFile);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { logDir: opts.logDir, stop };
}

/** A `bulwark venue serve` child process and where it answers. */
export interface RunningLocalVenue {
  restBase: string;
  wsBase: string;
  /** The key pair of its one account (generated per run; passed by environment, never on a command line). */
  apiKey: string;
  apiSecret: string;
  stop(): Promise<void>;
}

/**
 * Start the local Binance USDⓈ-M venue (`bulwark venue serve --port 0`) as its own process for
 * one account with a fresh random key pair and an empty wallet (execution funds it, as it
 * funds the paper venue), logging to `<logDir>/venue.log`; resolves once it prints its URLs.
 * @throws ServiceStartError when it exits or prints no URLs within `readyTimeoutMs`
 */
export async function startLocalVenue(opts: { root: string; env: NodeJS.ProcessEnv; logDir: string; accountId: string; readyTimeoutMs?: number }): Promise<RunningLocalVenue> {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, 'venue.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const apiKey = randomBytes(32).toString('hex');
  const apiSecret = randomBytes(32).toString('hex');
  const cli = path.join(opts.root, 'apps', 'cli', 'bin', 'bulwark.js');
  const child = spawn(process.execPath, [cli, 'venue', 'serve', '--port', '0', '--account', opts.accountId, '--balance', '0'], {
    cwd: opts.root,
    env: { ...opts.env, BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: apiSecret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.pipe(log);
  let exited = false;
  child.once('exit', () => (exited = true));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  const urls = await new Promise<{ restBase: string; wsBase: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new ServiceStartError('venue', 'printed no URLs in time', logFile)), opts.readyTimeoutMs ?? 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      out += chunk.toString('utf8');
      const rest = /REST\s+(http:\/\/\S+?)\/fapi\//.exec(out);
      const ws = /WebSocket\s+(ws:\/\/\S+?)\/ws\b/.exec(out);
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
  return { ...urls, apiKey, apiSecret, stop };
}
