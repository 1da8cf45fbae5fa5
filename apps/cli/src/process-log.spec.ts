/**
 * A child process's log (processes.ts): output a stopping child flushes after the log was ended
 * must not become an uncaught 'error' (found by the fresh-clone run: demo-faults.e2e failed with
 * "write after end" when a killed service's last lines arrived after its exit).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processLog } from './processes';

describe('processLog', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bulwark-process-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends, and drops a write after the end instead of emitting an unhandled error', async () => {
    const file = path.join(dir, 'svc.log');
    const log = processLog(file);
    log.write('first line\n');
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      // The log is ending (not yet closed) when a stopping child's last output arrives: Node's "write after end".
      const ended = new Promise<void>((r) => log.end(() => r()));
      log.write('late line from a stopping child\n');
      await ended;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe('first line\n');
    // Appends across runs, as each service's log does across restarts.
    const again = processLog(file);
    await new Promise<void>((r) => again.end('second run\n', () => r()));
    expect(readFileSync(file, 'utf8')).toBe('first line\nsecond run\n');
  });

  it('reports another write error once on stderr and does not throw', async () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const log = processLog(path.join(dir, 'no-such-dir', 'svc.log')); // open fails: ENOENT
      log.write('x\n');
      await new Promise<void>((r) => log.once('close', () => r()));
    } finally {
      spy.mockRestore();
    }
    expect(writes.filter((w) => w.startsWith('bulwark: cannot write '))).toHaveLength(1);
    expect(writes.join('')).toContain('ENOENT');
  });
});
