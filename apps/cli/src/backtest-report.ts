import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BacktestResult, TradeResult } from '@bulwark/application';
import { type D, dec, str, ZERO } from '@bulwark/domain';
import { projectRoot, readCandles } from '@bulwark/market-data';
import { monthTable, usdt } from './format';

const pct = (s: string) => `${dec(s).mul(100).toDecimalPlaces(2).toFixed(2)} %`;
const day = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

/** The backtest report for people: decisions, trades, money, risk, breakers, data gaps. */
export function formatBacktest(r: BacktestResult): string {
  const s = r.stats;
  const rows: Array<[string, string]> = [
    ['candles', `${r.counters.candles} (${r.interval / 60_000}m bars, ${r.counters.steps} path steps)`],
    ['intents / approvals', `${r.decisions.intents} / ${r.decisions.approvals}`],
    ['denials', Object.entries(r.decisions.denials).map(([k, v]) => `${k} ${v}`).join(', ') || '0'],
    ['trades', `${s.trades} (${s.wins} won, win rate ${pct(s.winRate)})`],
    ['average R / worst trade', `${s.averageR} / ${s.worstTradeR} R`],
    ['losing streak', `longest ${s.longestLosingStreak}, at the end ${s.losingStreakAtEnd}`],
    ['realised PnL', `${usdt(s.realisedPnl)} USDT`],
    ['fees', `${usdt(s.fees)} USDT`],
    ['funding', `${usdt(s.funding)} USDT`],
    ['net PnL', `${usdt(s.netPnl)} USDT`],
    ['final equity', `${usdt(s.finalEquity)} USDT`],
    ['max drawdown', `${usdt(s.maxDrawdown)} USDT (${pct(s.maxDrawdownFraction)})`],
    ['Sharpe (daily, annualised)', s.sharpe],
    ['exposure', pct(s.exposure)],
    ['liquidations', String(s.liquidations)],
    ['breaker events', String(r.breakers.length)],
    ['data gaps', r.gaps.length ? r.gaps.map((g) => `${g.kind} ${day(g.from)} → ${day(g.to)} (${g.bars} bars)`).join('; ') : 'none'],
    ['speed', `${r.candlesPerSecond} candles/s (${(r.wallMs / 1000).toFixed(2)} s)`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
  lines.push('', ...monthTable(r.months));
  if (r.breakers.length) {
    lines.push('', '  breakers and guards (market time)');
    for (const b of r.breakers.slice(0, 20)) lines.push(`    ${day(b.at)}  ${b.type.padEnd(24)} ${b.detail}`);
    if (r.breakers.length > 20) lines.push(`    … ${r.breakers.length - 20} more`);
  }
  return lines.join('\n');
}

/** One row per run of a sweep. */
export function formatSweep(results: BacktestResult[]): string {
  const head = ['leverage', 'risk %', 'trades', 'win rate', 'avg R', 'net PnL', 'max DD', 'Sharpe', 'exposure', 'liq.', 'breakers'];
  const rows = results.map((r) => [
    `${r.config.leverage}x`, r.config.riskPct, String(r.stats.trades), pct(r.stats.winRate), r.stats.averageR, usdt(r.stats.netPnl),
    pct(r.stats.maxDrawdownFraction), r.stats.sharpe, pct(r.stats.exposure), String(r.stats.liquidations), String(r.breakers.length),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => '  ' + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(head), '  ' + widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

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
 * MAX_CHART_BARS bars; `chart` says how).
 */
export interface BacktestReportData {
  title: string;
  result: Omit<BacktestResult, 'store' | 'trades'> & { trades: ReportTrade[] };
  /** Equity (USDT) with the drawdown from the running peak as a fraction of the peak. */
  equity: Array<{ t: number; equity: string; drawdownFraction: string }>;
  candles: ReportBar[];
  chart: { sourceBars: number; shownBars: number; barMs: number; sourceBarMs: number };
}

/** Equity points with the drawdown from the running peak ((peak − equity) ÷ peak, 0 at a new peak). */
export function withDrawdown(curve: ReadonlyArray<{ t: number; equity: string }>): BacktestReportData['equity'] {
  let peak: D | null = null;
  return curve.map((p) => {
    const eq = dec(p.equity);
    if (peak === null || eq.gt(peak)) peak = eq;
    const dd = peak.gt(0) ? peak.minus(eq).div(peak) : ZERO;
    return { t: p.t, equity: p.equity, drawdownFraction: str(dd.toDecimalPlaces(6)) };
  });
}

/** Merge runs of `factor` consecutive bars into one (open of the first, close of the last, extreme high and low). */
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
 * liquidation price.
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
  const trades: ReportTrade[] = r.trades.map((t) => ({ ...t, ...(levels.get(t.positionStreamId) ?? of(t.positionStreamId)) }));
  const { store: _store, trades: _trades, ...rest } = r;
  return {
    title,
    result: { ...rest, trades },
    equity: withDrawdown(r.equityCurve),
    candles,
    chart: { sourceBars: source.length, shownBars: candles.length, barMs: r.interval * factor, sourceBarMs: r.interval },
  };
}

/** The report page template: the dashboard's one-file report build (`npx nx run @bulwark/dashboard:build`). */
export function reportTemplateFile(): string {
  return path.join(projectRoot(__dirname), 'apps', 'dashboard', 'dist', 'report', 'report.html');
}

/** Thrown when the report template has not been built or lacks its data placeholder. */
export class ReportTemplateError extends Error {
  constructor(readonly file: string, reason: string) {
    super(`backtest report template ${file}: ${reason} (build it: npx nx run @bulwark/dashboard:build)`);
    this.name = 'ReportTemplateError';
  }
}

const PLACEHOLDER = /<script type="application\/json" id="bulwark-report">[\s\S]*?<\/script>/;

/**
 * JSON safe inside a <script> element: every `<` as `\u003c` (so no `</script>` or `<!--`
 * can end or bend the element) and U+2028/9 escaped; JSON.parse gives the same value back.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * One self-contained HTML page (scripts and styles inlined, no network) with the report:
 * the dashboard's report build with `data` in its `bulwark-report` JSON element.
 * @param template the template file (default `reportTemplateFile()`)
 * @throws ReportTemplateError when the template is missing or has no placeholder
 */
export function backtestHtml(data: BacktestReportData, template = reportTemplateFile()): string {
  if (!existsSync(template)) throw new ReportTemplateError(template, 'not found');
  const page = readFileSync(template, 'utf8');
  if (!PLACEHOLDER.test(page)) throw new ReportTemplateError(template, 'no <script type="application/json" id="bulwark-report"> element');
  const title = data.title.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  // Replacer functions: a `$` in the JSON must not be read as a replacement pattern.
  return page
    .replace(PLACEHOLDER, () => `<script type="application/json" id="bulwark-report">${scriptJson(data)}</script>`)
    .replace(/<title>[^<]*<\/title>/, () => `<title>${title}</title>`);
}
