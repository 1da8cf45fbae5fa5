import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BacktestReportData, BacktestResult } from '@bulwark/application';
import { dec } from '@bulwark/domain';
import { projectRoot } from '@bulwark/market-data';
import { monthTable, usdt } from './format';

const pct = (s: string) => `${dec(s).mul(100).toDecimalPlaces(2).toFixed(2)} %`;
const day = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

/** The backtest report for people: decisions, trades, money, risk, breakers, data gaps. */
export function formatBacktest(r: Omit<BacktestResult, 'store'>): string {
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

/** One row per run of a sweep (a result with or without its store: a worker's or a shard file's). */
export function formatSweep(results: ReadonlyArray<Pick<BacktestResult, 'config' | 'stats' | 'breakers'>>): string {
  const head = ['leverage', 'risk %', 'trades', 'win rate', 'avg R', 'net PnL', 'max DD', 'Sharpe', 'exposure', 'liq.', 'breakers'];
  const rows = results.map((r) => [
    `${r.config.leverage}x`, r.config.riskPct, String(r.stats.trades), pct(r.stats.winRate), r.stats.averageR, usdt(r.stats.netPnl),
    pct(r.stats.maxDrawdownFraction), r.stats.sharpe, pct(r.stats.exposure), String(r.stats.liquidations), String(r.breakers.length),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => '  ' + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(head), '  ' + widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
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
