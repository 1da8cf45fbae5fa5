/*
 * Piscina worker: one in-process backtest per task, off the gateway's event loop. It loads the
 * backtest and its report data by their dist paths (never the @bulwark/application barrel,
 * which loads ccxt) and answers the backtest report's data: the shape the dashboard's report
 * page draws and `bulwark backtest --html` embeds.
 */
import type { BacktestConfig } from '@bulwark/application/dist/backtest';
import type { BacktestReportData } from '@bulwark/application/dist/backtest-report-data';

/** A run to make: the backtest's configuration (no store, no venue: a fresh in-memory log and the paper venue) and the report's title. */
export type BacktestTask = Omit<BacktestConfig, 'store' | 'venueFactory'> & { title: string };
/** The report data of the run (plain JSON). */
export type BacktestAnswer = BacktestReportData;

/**
 * Run one backtest and read its report data from the run's log before the log is closed (runBacktestReport).
 * @throws whatever runBacktestReport throws (a malformed candle file, a refused account): the pool rejects the task with it
 */
export default async function run(task: BacktestTask): Promise<BacktestAnswer> {
  // Nest's logger of the in-process services would write to the gateway's stdout: quiet in the worker.
  const { Logger } = await import('@nestjs/common');
  Logger.overrideLogger(['error']);
  const { runBacktestReport } = (await import('@bulwark/application/dist/backtest-report-data.js')) as typeof import('@bulwark/application/dist/backtest-report-data');
  const { title, ...config } = task;
  return (await runBacktestReport(config, title)).report;
}
