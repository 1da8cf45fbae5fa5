/*
 * Piscina worker of `bulwark backtest --workers <n>`: one run of a sweep per task, in a worker
 * thread. Like the gateway's backtest worker (services/gateway/src/api/backtest.worker.ts) it
 * loads the backtest and its report data by their dist paths, never the @bulwark/application
 * barrel (which loads ccxt), and answers plain data: the run's result without its event store,
 * and the report page's data read from that store before it is closed. The imports are static:
 * piscina loads this file when a thread starts, so the threads load the backtest while the CLI
 * checks the inputs. The CLI's in-thread path (`--workers 1`, or a single run) calls
 * {@link runSweepCell} too, so both give the same results.
 */
import type { BacktestConfig } from '@bulwark/application/dist/backtest.js';
import { type BacktestRunReport, runBacktestReport } from '@bulwark/application/dist/backtest-report-data.js';
import type { ReplayCounters } from '@bulwark/application/dist/replay.js';
import { nestLogsToStderr } from '@bulwark/messaging/dist/stderr-logs.js';

/** One run of a sweep: the backtest's configuration (a fresh in-memory log, the paper venue) and the report page's title. */
export type SweepTask = Omit<BacktestConfig, 'store' | 'venueFactory'> & { title: string };
/** A run's result as plain data: runBacktest's BacktestResult without `store`. */
export type SweepRunResult = BacktestRunReport['result'];
/** What a run answers: its result and its report page's data (runBacktestReport). */
export type SweepAnswer = BacktestRunReport;

/**
 * Run one backtest of a sweep and read its report data from the run's log, then close the log.
 * @param onProgress runBacktest's progress callback (candles done, candles in the window); only in-thread, a worker task has none
 * @throws whatever runBacktestReport throws (a malformed candle file, a refused account)
 */
export async function runSweepCell(task: SweepTask, onProgress?: (c: ReplayCounters, total: number) => void): Promise<SweepAnswer> {
  const { title, ...config } = task;
  return runBacktestReport(config, title, onProgress);
}

/** The pool's entry: Nest's logs of the in-process services go to stderr (stdout carries the sweep's answer). */
export default async function run(task: SweepTask): Promise<SweepAnswer> {
  nestLogsToStderr();
  return runSweepCell(task);
}
