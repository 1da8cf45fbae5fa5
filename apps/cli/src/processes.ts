import { type ChildProcess, spawn } from 'node:child_process';
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
