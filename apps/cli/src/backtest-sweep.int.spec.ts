/**
 * `bulwark backtest` sweeps on worker threads and in shards, as a user types them, on two days of
 * the data directory's default BTCUSDT 1m file (2025-11-10 .. 2025-11-12): a 2 × 2 grid on 2
 * worker threads equals the same grid run in this thread; shards 0/3, 1/3, 2/3 merged give the
 * unsharded sweep table; merge refuses incomplete or mixed shard files; bad flags exit 2.
 * The sweeps run the built CLI (apps/cli/bin/bulwark.js, as a user does; its pool runs the built
 * worker), so the in-thread and the pooled runs load the same built libraries: build first
 * (`npx nx run @bulwark/cli:build`). Merges and flag checks run in this process (main()).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { instrumentFiles, resolveDataDir } from '@bulwark/market-data';
import { formatSweep } from './backtest-report';
import { BacktestRunError, cellId, gridCells, runOnPool, startSweepPool, type SweepCell } from './backtest-sweep';
import type { SweepRunResult, SweepTask } from './backtest-sweep.worker';
import { main } from './main';

const GRID = ['--leverage', '2,5', '--risk-pct', '0.5,1'];
const WINDOW = ['--from', '2025-11-10', '--to', '2025-11-12'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'bulwark-sweep-'));
const file = (name: string) => path.join(dir, name);

/** `bulwark <args>` in this process: exit code, stdout (console.log) and stderr (console.error and commander's errors). */
async function bulwark(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out += `${a.join(' ')}\n`));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (err += `${a.join(' ')}\n`));
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

const BIN = path.resolve(__dirname, '../bin/bulwark.js');

/** `node apps/cli/bin/bulwark.js <args>` in a child process: exit code, stdout, stderr. */
function bulwarkBuilt(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** A result without its timings (wall time and speed differ from run to run). */
const timeless = (rs: SweepRunResult[]) => rs.map(({ wallMs: _w, candlesPerSecond: _c, ...r }) => r);

afterEach(() => {
  jest.restoreAllMocks();
});

describe('bulwark backtest --workers', () => {
  let inThread: SweepRunResult[];

  it('a 2 × 2 grid on 2 worker threads gives the results of --workers 1, in grid order, and a report per run', async () => {
    const one = await bulwarkBuilt(['backtest', ...GRID, ...WINDOW, '--workers', '1', '--json', '--report', file('reports-1')]);
    expect(one.code).toBe(0);
    inThread = JSON.parse(one.out) as SweepRunResult[];
    const two = await bulwarkBuilt(['backtest', ...GRID, ...WINDOW, '--workers', '2', '--json', '--report', file('reports-2')]);
    expect(two.code).toBe(0);
    const pooled = JSON.parse(two.out) as SweepRunResult[];

    expect(inThread.map((r) => [r.config.leverage, r.config.riskPct])).toEqual([[2, '0.5'], [2, '1'], [5, '0.5'], [5, '1']]);
    expect(inThread.map((r) => r.config.candles)).toEqual(Array(4).fill(instrumentFiles(resolveDataDir()).defaultCandles));
    expect(inThread.every((r) => r.counters.candles === 2880 && r.stats.trades > 0)).toBe(true);
    expect(timeless(pooled)).toEqual(timeless(inThread));
    const cells = gridCells({ candles: [instrumentFiles(resolveDataDir()).defaultCandles], leverage: [2, 5], riskPct: ['0.5', '1'] });
    expect(readdirSync(file('reports-2')).sort()).toEqual(cells.map((c) => `${cellId(c)}.html`).sort());
  }, 300_000);

  it('shards 0/3, 1/3 (from JOB_COMPLETION_INDEX) and 2/3 merged print the unsharded sweep table; --json the same results', async () => {
    expect(inThread).toHaveLength(4);
    // Shard 0/3 holds positions 0 and 3: two runs on the pool, a line per finished run, blocks in grid order.
    const s0 = await bulwarkBuilt(['backtest', ...GRID, ...WINDOW, '--shard', '0/3', '--workers', '2', '--out', file('shard-0.json'), '--report', file('reports-s')]);
    expect(s0.code).toBe(0);
    expect(s0.err).toMatch(/2 runs on 2 worker threads/);
    expect(s0.err.match(/\d\/2 done {2}#\d/g)?.length).toBe(2);
    expect(s0.out.indexOf('— 2x, risk 0.5 %')).toBeLessThan(s0.out.indexOf('— 5x, risk 1 %'));
    expect(s0.out).not.toMatch(/— 2x, risk 1 %|— 5x, risk 0.5 %/);
    const s1 = await bulwarkBuilt(['backtest', ...GRID, ...WINDOW, '--shard-count', '3', '--json', '--out', file('shard-1.json'), '--report', file('reports-s')], { JOB_COMPLETION_INDEX: '1' });
    expect(s1.code).toBe(0);
    expect((JSON.parse(s1.out) as SweepRunResult[]).map((r) => [r.config.leverage, r.config.riskPct])).toEqual([[2, '1']]);
    const s2 = await bulwarkBuilt(['backtest', ...GRID, ...WINDOW, '--shard', '2/3', '--json', '--out', file('shard-2.json'), '--report', file('reports-s')]);
    expect(s2.code).toBe(0);

    const merged = await bulwark(['backtest', 'merge', file('shard-2.json'), file('shard-0.json'), file('shard-1.json')]);
    expect(merged.code).toBe(0);
    expect(merged.out).toBe(`Sweep\n${formatSweep(inThread)}\n`);
    const json = await bulwark(['backtest', 'merge', '--json', file('shard-0.json'), file('shard-1.json'), file('shard-2.json')]);
    expect(json.code).toBe(0);
    expect(timeless(JSON.parse(json.out) as SweepRunResult[])).toEqual(timeless(inThread));
  }, 300_000);

  it('merge refuses a missing shard, a shard twice, a shard of another grid and a file that is no shard: exit 2 naming them', async () => {
    const missing = await bulwark(['backtest', 'merge', file('shard-0.json'), file('shard-2.json')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('bulwark: the shard files do not cover the sweep of 4 runs exactly once: missing grid position(s) 1 (shard 1/3)');
    expect(missing.out).toBe('');

    const twice = await bulwark(['backtest', 'merge', file('shard-0.json'), file('shard-1.json'), file('shard-1.json'), file('shard-2.json')]);
    expect(twice.code).toBe(2);
    expect(twice.err).toContain(`duplicate grid position(s) 1 (in ${file('shard-1.json')}, ${file('shard-1.json')})`);

    // Shard 1/3 of a grid with another capital: a real run, not an edited file.
    const other = await bulwarkBuilt(['backtest', ...GRID, ...WINDOW, '--capital', '5000', '--shard', '1/3', '--json', '--out', file('other-1.json'), '--report', file('reports-s')]);
    expect(other.code).toBe(0);
    const mixed = await bulwark(['backtest', 'merge', file('shard-0.json'), file('other-1.json'), file('shard-2.json')]);
    expect(mixed.code).toBe(2);
    expect(mixed.err).toContain(`bulwark: ${file('other-1.json')} belongs to another sweep grid than ${file('shard-0.json')} (capital differs)`);

    writeFileSync(file('not-a-shard.json'), '[]');
    const junk = await bulwark(['backtest', 'merge', file('shard-0.json'), file('not-a-shard.json')]);
    expect(junk.code).toBe(2);
    expect(junk.err).toContain(`bulwark: ${file('not-a-shard.json')}: not a bulwark.backtest-shard/1 file`);
  }, 300_000);
});

describe('bad sweep flags exit 2 with one clear line, before any run', () => {
  it.each([
    [['--workers', '0'], '--workers must be an integer >= 1, got "0"'],
    [['--workers', 'x'], '--workers must be an integer >= 1, got "x"'],
    [['--shard', '3/3'], '--shard index is 0-based and must be below the count (0/3 … 2/3), got "3/3"'],
    [['--shard', 'a/b'], '--shard must be <index>/<count> with integers, 0-based (e.g. 3/8), got "a/b"'],
    [['--shard', '0/0'], '--shard count must be at least 1, got "0/0"'],
    [['--shard-count', '3'], '--shard-count 3 takes the shard index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it), which is not set'],
    [['--shard', '0/3', '--shard-count', '3'], 'give --shard <index>/<count> or --shard-count <n> (index from JOB_COMPLETION_INDEX), not both'],
    [['--market', 'spot-margin', '--shard', '0/3'], '--market spot-margin: --report, --shard apply to futures backtests only'],
  ])('%j', async (flags, message) => {
    const saved = process.env.JOB_COMPLETION_INDEX;
    delete process.env.JOB_COMPLETION_INDEX;
    try {
      const r = await bulwark(['backtest', ...WINDOW, ...flags, '--report', file('reports-bad')]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(message);
      expect(r.out).toBe('');
    } finally {
      if (saved !== undefined) process.env.JOB_COMPLETION_INDEX = saved;
    }
  }, 60_000);

  it('JOB_COMPLETION_INDEX outside 0..count-1 exits 2', async () => {
    const r = await bulwark(['backtest', ...WINDOW, '--shard-count', '3', '--report', file('reports-bad')], { JOB_COMPLETION_INDEX: '3' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('JOB_COMPLETION_INDEX must be an integer in 0..2 for --shard-count 3, got "3"');
  }, 60_000);
});

describe('a run that fails on the pool', () => {
  it('rejects the sweep with a BacktestRunError naming the run', async () => {
    const good = instrumentFiles(resolveDataDir()).defaultCandles;
    const cells: SweepCell[] = [
      { position: 0, candles: good, leverage: 2, riskPct: '1' },
      { position: 1, candles: path.join(dir, 'no-such-candles.csv'), leverage: 5, riskPct: '1' },
    ];
    const tasks: SweepTask[] = cells.map((c) => ({
      accountId: cellId(c), candles: c.candles, funding: null, capital: '10000', leverage: c.leverage, riskPct: c.riskPct, confirmHighLeverage: false,
      from: Date.parse('2025-11-10T00:00:00Z'), to: Date.parse('2025-11-12T00:00:00Z'), title: cellId(c),
    }));
    const pool = startSweepPool(2);
    try {
      const run = runOnPool(pool, tasks, cells);
      await expect(run).rejects.toThrow(BacktestRunError);
      await expect(run).rejects.toThrow(/^backtest run #1 no-such-candles\.csv 5x, risk 1 % failed: .*no-such-candles\.csv/);
    } finally {
      await pool.destroy();
    }
  }, 300_000);
});
