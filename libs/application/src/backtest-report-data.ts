/*
 * The backtest report's data: what the report page (apps/dashboard/src/report) draws, for
 * `bulwark backtest --html` and the gateway's `POST /api/backtest` alike. Imports only the
 * backtest's types, market-data's candle reader and the domain's decimals, so the gateway's
 * worker thread can load it by its dist path without the package barrel.
 */
import { type D, dec, str, ZERO } from '@bulwark/domain';
import { readCandles } from '@bulwark/market-data';
import { type BacktestConfig, type BacktestResult, runBacktest, type TradeResult } from './backtest';
import type { ReplayCounters } from './replay';

/** The most bars the report's price chart carries; longer runs are merged into wider bars. */
export const MAX_CHART_BARS = 20_000;

/** A closed trade with the price levels the log recorded for it (quote-asset prices, null when not recorded). */
export interface ReportTrade extends TradeResult {
  quantity: string | null;
  entryPrice: string | null;
  exitPrice: string | null;
  stopPrice: string | null;
  takeProfitPrice: string | null;
  liquidationPrice: string | null;
}

/** An OHLC bar of the report's chart (epoch ms, decimal strings). */
export interface ReportBar {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
}

/**
 * What the report page shows (apps/dashboard/src/report/report-data.ts reads the same shape):
 * the run without its event store, its trades with their levels, the equity curve with the
 * drawdown from the running peak, and the candles it ran on (merged into at most
 * MAX_CHART_BARS bars; `chart` says how). Plain JSON: it crosses a worker thread and HTTP.
 */
export interface BacktestReportData {
  title: string;
  result: Omit<BacktestResult, 'store' | 'trades'> & { trades: ReportTrade[] };
  /** Equity (USDT) with the drawdown from the running peak as a fraction of the peak. */
  equity: Array<{ t: number; equity: string; drawdownFraction: string }>;
  candles: ReportBar[];
  chart: { sourceBars: number; shownBars: number; barMs: number; sourceBarMs: number };
}

/** Equity points with the drawdown from the running peak ((peak − equity) ÷ peak, 0 at a new peak; 6 decimals). */
export function withDrawdown(curve: ReadonlyArray<{ t: number; equity: string }>): BacktestReportData['equity'] {
  let peak: D | null = null;
  return curve.map((p) => {
    const eq = dec(p.equity);
    if (peak === null || eq.gt(peak)) peak = eq;
    const dd = peak.gt(0) ? peak.minus(eq).div(peak) : ZERO;
    return { t: p.t, equity: p.equity, drawdownFraction: str(dd.toDecimalPlaces(6)) };
  });
}

/** Merge runs of `factor` consecutive bars into one (open of the first, close of the last, extreme high and low); a short tail stays one bar. */
export function mergeBars(bars: readonly ReportBar[], factor: number): ReportBar[] {
  if (factor <= 1) return [...bars];
  const out: ReportBar[] = [];
  for (let i = 0; i < bars.length; i += factor) {
    const group = bars.slice(i, i + factor);
    let high = dec(group[0].high);
    let low = dec(group[0].low);
    for (const b of group) {
      if (dec(b.high).gt(high)) high = dec(b.high);
      if (dec(b.low).lt(low)) low = dec(b.low);
    }
    out.push({ openTime: group[0].openTime, open: group[0].open, high: str(high), low: str(low), close: group[group.length - 1].close });
  }
  return out;
}

/**
 * The report data of a run: reads the run's candles (its window of `config.candles`) and its
 * position and stop events from `r.store` for each trade's entry, exit, stop, take-profit and
 * liquidation price. Call it before closing the run's store.
 * @param title the page's title
 * @throws CandleFileError when the candle file is malformed (runBacktest read it already)
 */
export async function backtestReportData(r: BacktestResult, title: string): Promise<BacktestReportData> {
  const from = r.config.from ?? null;
  const to = r.config.to ?? null;
  const source: ReportBar[] = [];
  for await (const c of readCandles(r.config.candles)) {
    if (from !== null && c.openTime < from) continue;
    if (to !== null && c.openTime >= to) break;
    source.push({ openTime: c.openTime, open: c.open, high: c.high, low: c.low, close: c.close });
  }
  const factor = Math.max(1, Math.ceil(source.length / MAX_CHART_BARS));
  const candles = mergeBars(source, factor);

  const ids = new Set(r.trades.map((t) => t.positionStreamId));
  const levels = new Map<string, Omit<ReportTrade, keyof TradeResult>>();
  const of = (id: string) => {
    let l = levels.get(id);
    if (!l) levels.set(id, (l = { quantity: null, entryPrice: null, exitPrice: null, stopPrice: null, takeProfitPrice: null, liquidationPrice: null }));
    return l;
  };
  for await (const e of r.store.readAll({ fromPosition: 1 })) {
    const d = e.data as Record<string, unknown>;
    if (ids.has(e.streamId)) {
      if (e.type === 'PositionOpened') Object.assign(of(e.streamId), { quantity: d.quantity as string, entryPrice: d.entryPrice as string });
      else if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') of(e.streamId).exitPrice = d.price as string;
    } else if (e.type === 'StopPlaced' && ids.has(d.positionStreamId as string)) {
      const guards = d.guards as { liquidationPrice: string | null };
      Object.assign(of(d.positionStreamId as string), { stopPrice: d.stopPrice as string, takeProfitPrice: (d.takeProfitPrice as string | null) ?? null, liquidationPrice: guards.liquidationPrice });
    }
  }
  const trades: ReportTrade[] = r.trades.map((t) => ({ ...t, ...of(t.positionStreamId) }));
  const { store: _store, trades: _trades, ...rest } = r;
  return {
    title,
    result: { ...rest, trades },
    equity: withDrawdown(r.equityCurve),
    candles,
    chart: { sourceBars: source.length, shownBars: candles.length, barMs: r.interval * factor, sourceBarMs: r.interval },
  };
}

/** A backtest run as a worker thread answers it: the result without its event store, and the report page's data. */
export interface BacktestRunReport {
  result: Omit<BacktestResult, 'store'>;
  report: BacktestReportData;
}

/**
 * Run one backtest on a fresh in-memory log, read its report data from that log, then close it:
 * what the gateway's backtest worker and `bulwark backtest`'s sweep answer, as plain data.
 * @param config runBacktest's configuration (without a store: a fresh in-memory log)
 * @param title the report page's title
 * @param onProgress runBacktest's progress callback (candles done, candles in the window)
 * @throws whatever runBacktest or {@link backtestReportData} throw (a malformed candle file, a refused account)
 */
export async function runBacktestReport(config: Omit<BacktestConfig, 'store'>, title: string, onProgress?: (c: ReplayCounters, total: number) => void): Promise<BacktestRunReport> {
  const { store, ...result } = await runBacktest(config, onProgress);
  try {
    return { result, report: await backtestReportData({ ...result, store }, title) };
  } finally {
    await store.close().catch(() => undefined);
  }
}
