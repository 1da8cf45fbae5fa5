/*
 * Piscina worker: one in-process backtest per task, off the gateway's event loop. It loads the
 * backtest module by its dist path (never the @bulwark/application barrel in the gateway's
 * own thread) and answers `bulwark backtest --json`'s shape of one run (the result without its store).
 */
import type { BacktestConfig, BacktestResult } from '@bulwark/application/dist/backtest';

export type BacktestTask = Omit<BacktestConfig, 'store' | 'venueFactory'>;
export type BacktestAnswer = Omit<BacktestResult, 'store'>;

export default async function run(task: BacktestTask): Promise<BacktestAnswer> {
  // Nest's logger of the in-process services would write to the gateway's stdout: quiet in the worker.
  const { Logger } = await import('@nestjs/common');
  Logger.overrideLogger(['error']);
  const { runBacktest } = (await import('@bulwark/application/dist/backtest.js')) as typeof import('@bulwark/application/dist/backtest');
  const { store: _store, ...result } = await runBacktest(task);
  await _store.close().catch(() => undefined);
  return JSON.parse(JSON.stringify(result)) as BacktestAnswer;
}
