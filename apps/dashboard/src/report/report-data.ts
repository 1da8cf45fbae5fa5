/*
 * The backtest report's data: what `bulwark backtest` embeds in its HTML page
 * (libs/application/src/backtest-report-data.ts `backtestReportData`) and what the gateway's
 * `POST /api/backtest` answers. Decimals are strings (USDT, prices in the quote asset,
 * fractions), times epoch ms UTC. Only the fields the page shows are listed.
 */

/** One closed trade with its price levels (null when the log does not say). */
export interface ReportTrade {
  positionStreamId: string;
  side: string;
  openedAt: number;
  closedAt: number;
  netPnl: string;
  riskAmount: string;
  r: string;
  closedBy: string;
  quantity?: string | null;
  entryPrice?: string | null;
  exitPrice?: string | null;
  stopPrice?: string | null;
  takeProfitPrice?: string | null;
  liquidationPrice?: string | null;
}

/** The statistics of a run (libs/application `BacktestStats`). */
export interface ReportStats {
  trades: number;
  wins: number;
  winRate: string;
  averageR: string;
  realisedPnl: string;
  fees: string;
  funding: string;
  netPnl: string;
  maxDrawdown: string;
  maxDrawdownFraction: string;
  sharpe: string;
  exposure: string;
  liquidations: number;
  finalEquity: string;
  longestLosingStreak: number;
  losingStreakAtEnd: number;
  worstTradeR: string;
}

/** The run (libs/application `BacktestResult` without its event store). */
export interface ReportResult {
  config: { accountId: string; candles: string; capital: string; leverage: number; riskPct: string; symbol?: string; venue?: string; from?: number | null; to?: number | null };
  interval: number;
  counters: { candles: number; steps: number };
  stats: ReportStats;
  trades: ReportTrade[];
  equityCurve: Array<{ t: number; equity: string }>;
  breakers: Array<{ at: number; type: string; detail: string }>;
  months?: Array<{ month: string; base: string; limit: string; realisedNet: string; paused: boolean; overshoot: string }>;
  gaps: Array<{ kind: string; from: number; to: number; bars: number }>;
  decisions: { intents: number; approvals: number; denials: Record<string, number> };
}

/** The report page's input. */
export interface BacktestReportData {
  title: string;
  result: ReportResult;
  /** Equity with the drawdown from the running peak as a fraction, computed by the server. */
  equity?: Array<{ t: number; equity: string; drawdownFraction: string }>;
  /** The candles the run saw (downsampled for long runs: see `chart`). */
  candles?: Array<{ openTime: number; open: string; high: string; low: string; close: string }>;
  chart?: { sourceBars: number; shownBars: number; barMs: number; sourceBarMs: number };
}

/**
 * Accept what a caller has: the report data, a bare `BacktestResult` (`bulwark backtest --json`
 * prints an array of them), or `{ report }`. Throws when it is none of these.
 */
export function toReportData(input: unknown, title = 'Backtest'): BacktestReportData {
  const x = Array.isArray(input) ? input[0] : input;
  if (x && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    if (o.result && typeof o.result === 'object' && 'stats' in (o.result as object)) return o as unknown as BacktestReportData;
    if (o.report && typeof o.report === 'object') return toReportData(o.report, title);
    if ('stats' in o && 'config' in o) return { title, result: o as unknown as ReportResult };
  }
  throw new Error('not a backtest report: expected { title, result } or a BacktestResult');
}
