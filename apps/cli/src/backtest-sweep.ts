/*
 * Sweeps of `bulwark backtest` on worker threads and in shards. A sweep is a grid (candle files ×
 * leverages × risks per trade, file-major: position = (file · leverages + leverage) · risks + risk);
 * its runs go to a piscina pool of worker threads (backtest-sweep.worker.ts) and come back in grid
 * order. A shard (`--shard i/n`, a Kubernetes Indexed Job's JOB_COMPLETION_INDEX) runs the positions
 * p with p % n = i and writes them to a JSON file; `bulwark backtest merge` checks that shard files
 * come from one grid and cover it exactly once, and gives the sweep back in grid order.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { InvalidArgumentError } from 'commander';
import { Piscina } from 'piscina';
import type { SweepAnswer, SweepRunResult, SweepTask } from './backtest-sweep.worker';
import { InputError } from './input-checks';

/**
 * Everything that decides a sweep's results (the flags of `bulwark backtest` as its runs read them).
 * Shards of one sweep carry equal grids; `leverage` and `riskPct` are the sweep's lists.
 */
export interface SweepGrid {
  venue: NonNullable<SweepTask['venue']>;
  candles: string[];
  funding: string | null;
  capital: string;
  leverage: number[];
  riskPct: string[];
  confirmHighLeverage: boolean;
  policy: SweepTask['policy'];
  strategy: SweepTask['strategy'];
  entry: SweepTask['entry'];
  /** The window [from, to) in epoch ms, null = open. */
  from: number | null;
  to: number | null;
  resumeMonthly: boolean;
}

/** One run of a grid: its position (0-based, grid order) and the values it sweeps. */
export interface SweepCell {
  position: number;
  candles: string;
  leverage: number;
  riskPct: string;
}

/** Which part of a grid a process runs: the positions p with p % count === index. */
export interface Shard {
  index: number;
  count: number;
}

/** The cells of a grid in grid order: candle files, then leverages, then risks. */
export function gridCells(grid: Pick<SweepGrid, 'candles' | 'leverage' | 'riskPct'>): SweepCell[] {
  const cells: SweepCell[] = [];
  for (const candles of grid.candles) for (const leverage of grid.leverage) for (const riskPct of grid.riskPct) cells.push({ position: cells.length, candles, leverage, riskPct });
  return cells;
}

/** The cells a shard runs (all of them without a shard). */
export function shardCells(cells: readonly SweepCell[], shard: Shard | null): SweepCell[] {
  return shard ? cells.filter((c) => c.position % shard.count === shard.index) : [...cells];
}

/** The account id (and report file name) of a run: `bt-<file>-<leverage>x-<risk>`. */
export function cellId(cell: SweepCell): string {
  return `bt-${path.basename(cell.candles).replace(/[^A-Za-z0-9]+/g, '-').slice(0, 30)}-${cell.leverage}x-${cell.riskPct.replace('.', '_')}`;
}

/** How a run is named in progress lines and errors: `#2 <file> 5x, risk 1 %`. */
export function cellLabel(cell: SweepCell): string {
  return `#${cell.position} ${path.basename(cell.candles)} ${cell.leverage}x, risk ${cell.riskPct} %`;
}

/**
 * `--shard <index>/<count>` (commander's argument parser): 0-based, e.g. 3/8 is the fourth of eight.
 * @throws InvalidArgumentError (exit 2) unless both are integers with 0 <= index < count
 */
export function parseShard(v: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`--shard must be <index>/<count> with integers, 0-based (e.g. 3/8), got "${v}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new InvalidArgumentError(`--shard count must be at least 1, got "${v}"`);
  if (index >= count) throw new InvalidArgumentError(`--shard index is 0-based and must be below the count (0/${count} … ${count - 1}/${count}), got "${v}"`);
  return { index, count };
}

/**
 * The shard of this process: `--shard i/n`, or `--shard-count n` with the index from
 * JOB_COMPLETION_INDEX (which Kubernetes sets in each pod of an Indexed Job); null = the whole grid.
 * @throws InputError (exit 2) for both flags at once, or --shard-count without a usable JOB_COMPLETION_INDEX
 */
export function shardOf(o: { shard?: Shard; shardCount?: number }, env: NodeJS.ProcessEnv = process.env): Shard | null {
  if (o.shard && o.shardCount !== undefined) throw new InputError('give --shard <index>/<count> or --shard-count <n> (index from JOB_COMPLETION_INDEX), not both');
  if (o.shard) return o.shard;
  if (o.shardCount === undefined) return null;
  const raw = env.JOB_COMPLETION_INDEX;
  if (raw === undefined || raw === '') throw new InputError(`--shard-count ${o.shardCount} takes the shard index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it), which is not set: give --shard <index>/${o.shardCount}`);
  const index = Number(raw);
  if (!/^\d+$/.test(raw) || index >= o.shardCount) throw new InputError(`JOB_COMPLETION_INDEX must be an integer in 0..${o.shardCount - 1} for --shard-count ${o.shardCount}, got "${raw}"`);
  return { index, count: o.shardCount };
}

/** The format tag of a shard file (version 1). */
export const SHARD_FORMAT = 'bulwark.backtest-shard/1';

/** A shard file (`bulwark backtest --out`): the grid, which shard, and its results with their grid positions. */
export interface ShardFile {
  format: typeof SHARD_FORMAT;
  grid: SweepGrid;
  shard: Shard;
  results: Array<{ position: number; result: SweepRunResult }>;
}

/** Shard files that cannot be merged: not a shard file, another grid, positions missing or twice (exit 2). */
export class SweepShardError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'SweepShardError';
  }
}

/** A run of a sweep failed (exit 1): names the run; `cause` is what the run threw. */
export class BacktestRunError extends Error {
  constructor(
    readonly cell: SweepCell,
    cause: unknown,
  ) {
    super(`backtest run ${cellLabel(cell)} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'BacktestRunError';
  }
}

/**
 * Write a shard's results as a {@link ShardFile} (JSON; the folder is created).
 * @param results the shard's runs, each with its grid position
 */
export function writeShardFile(file: string, grid: SweepGrid, shard: Shard, results: ShardFile['results']): void {
  const body: ShardFile = { format: SHARD_FORMAT, grid, shard, results };
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
}

const isInt = (v: unknown, lo: number) => typeof v === 'number' && Number.isInteger(v) && v >= lo;

/**
 * Read a shard file and check its shape.
 * @throws SweepShardError when the file is unreadable, not JSON or not a version-1 shard file
 */
export function readShardFile(file: string): ShardFile {
  let body: Partial<ShardFile>;
  try {
    body = JSON.parse(readFileSync(file, 'utf8')) as Partial<ShardFile>;
  } catch (e) {
    throw new SweepShardError(`${file}: cannot read a shard file (${(e as Error).message})`);
  }
  const ok =
    body?.format === SHARD_FORMAT &&
    typeof body.grid === 'object' && body.grid !== null && Array.isArray(body.grid.candles) && Array.isArray(body.grid.leverage) && Array.isArray(body.grid.riskPct) &&
    isInt(body.shard?.count, 1) && isInt(body.shard?.index, 0) && body.shard!.index < body.shard!.count &&
    Array.isArray(body.results) && body.results.every((r) => isInt(r?.position, 0) && typeof r.result === 'object' && r.result !== null);
  if (!ok) throw new SweepShardError(`${file}: not a ${SHARD_FORMAT} file (written by \`bulwark backtest --shard <i>/<n> --out <file>\`)`);
  return body as ShardFile;
}

/**
 * The sweep of a set of shard files, in grid order: checks that every file has the same grid
 * and that together they hold every position of it exactly once.
 * @param shards the files' names and contents (readShardFile)
 * @returns the results in grid order, as an unsharded run of the grid gives them
 * @throws SweepShardError naming the file of another grid, or the missing and duplicate positions (with the shard each belongs to)
 */
export function mergeShards(shards: ReadonlyArray<{ file: string; body: ShardFile }>): SweepRunResult[] {
  if (shards.length === 0) throw new SweepShardError('no shard files to merge');
  const [first] = shards;
  for (const s of shards.slice(1)) {
    if (!isDeepStrictEqual(s.body.grid, first.body.grid)) {
      const keys = [...new Set([...Object.keys(first.body.grid), ...Object.keys(s.body.grid)])] as Array<keyof SweepGrid>;
      const differ = keys.filter((k) => !isDeepStrictEqual(first.body.grid[k], s.body.grid[k]));
      throw new SweepShardError(`${s.file} belongs to another sweep grid than ${first.file} (${differ.join(', ')} differ${differ.length === 1 ? 's' : ''})`);
    }
  }
  const total = gridCells(first.body.grid).length;
  const at = new Map<number, { file: string; result: SweepRunResult }[]>();
  for (const s of shards) for (const r of s.body.results) at.set(r.position, [...(at.get(r.position) ?? []), { file: s.file, result: r.result }]);
  const outside = [...at.keys()].filter((p) => p >= total).sort((a, b) => a - b);
  const counts = new Set(shards.map((s) => s.body.shard.count));
  const shardOfPosition = (p: number) => (counts.size === 1 ? ` (shard ${p % first.body.shard.count}/${first.body.shard.count})` : '');
  const missing = Array.from({ length: total }, (_, p) => p).filter((p) => !at.has(p));
  const twice = [...at.entries()].filter(([, rs]) => rs.length > 1).sort(([a], [b]) => a - b);
  const problems = [
    outside.length ? `position(s) ${outside.join(', ')} outside the grid of ${total} runs` : '',
    missing.length ? `missing grid position(s) ${missing.map((p) => `${p}${shardOfPosition(p)}`).join(', ')}` : '',
    twice.length ? `duplicate grid position(s) ${twice.map(([p, rs]) => `${p} (in ${rs.map((r) => r.file).join(', ')})`).join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length) throw new SweepShardError(`the shard files do not cover the sweep of ${total} runs exactly once: ${problems.join('; ')}`);
  return Array.from({ length: total }, (_, p) => at.get(p)![0].result);
}

/** The compiled sweep worker: beside this file in dist, or the package's dist when running from sources (tests). */
export function sweepWorkerFile(): string {
  for (const f of [path.join(__dirname, 'backtest-sweep.worker.js'), path.resolve(__dirname, '../dist/backtest-sweep.worker.js')]) if (existsSync(f)) return f;
  throw new Error('the backtest sweep worker is not built: npx nx run @bulwark/cli:build');
}

/**
 * A pool of `threads` sweep worker threads (piscina), all started at once: each loads the
 * backtest modules as it starts (so start it before other work), and threads piscina would add
 * later can hang under Jest (see services/gateway's BacktestRunner). Destroy it when done.
 * @throws Error when the worker is not built
 */
export function startSweepPool(threads: number): Piscina<SweepTask, SweepAnswer> {
  return new Piscina<SweepTask, SweepAnswer>({ filename: sweepWorkerFile(), minThreads: threads, maxThreads: threads });
}

/**
 * Run a sweep's tasks on a pool; the first failing run rejects the sweep at once (the caller
 * then destroys the pool, which stops the other runs).
 * @param cells the grid cells of the tasks (same order), for progress and errors
 * @param onDone called as each run finishes, in completion order
 * @returns the answers in the tasks' order, whatever order they finished in
 * @throws BacktestRunError naming the first run that failed
 */
export async function runOnPool(
  pool: Piscina<SweepTask, SweepAnswer>,
  tasks: readonly SweepTask[],
  cells: readonly SweepCell[],
  onDone?: (cell: SweepCell, answer: SweepAnswer) => void,
): Promise<SweepAnswer[]> {
  let failed: BacktestRunError | null = null;
  return Promise.all(
    tasks.map((task, i) =>
      pool.run(task).then(
        (answer) => {
          onDone?.(cells[i], answer);
          return answer;
        },
        (e: unknown) => {
          throw (failed ??= new BacktestRunError(cells[i], e));
        },
      ),
    ),
  );
}
