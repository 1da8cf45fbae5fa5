import type { BacktestResult } from '@bulwark/application';
import { dec } from '@bulwark/domain';
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

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A self-contained HTML page with the equity curve and the drawdown (inline SVG, no script),
 * the statistics and the trades, for a person to open in a browser.
 */
export function backtestHtml(r: BacktestResult, title: string): string {
  const pts = r.equityCurve;
  const W = 960, H = 260, DH = 120, P = 40;
  const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  // Plot coordinates are presentation only: equity strings become numbers for the SVG.
  const eq = pts.map((p) => Number(p.equity));
  const lo = Math.min(...eq), hi = Math.max(...eq, lo + 1);
  const x = (t: number) => P + ((t - t0) / (t1 - t0)) * (W - 2 * P);
  const y = (v: number) => P + (1 - (v - lo) / (hi - lo)) * (H - 2 * P);
  let peak = -Infinity;
  const dd = eq.map((v) => {
    peak = Math.max(peak, v);
    return peak > 0 ? (peak - v) / peak : 0;
  });
  const ddMax = Math.max(...dd, 0.0001);
  const yd = (v: number) => 10 + (v / ddMax) * (DH - 20);
  const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(eq[i]).toFixed(1)}`).join(' ');
  const area = `M${x(t0).toFixed(1)},10 ` + pts.map((p, i) => `L${x(p.t).toFixed(1)},${yd(dd[i]).toFixed(1)}`).join(' ') + ` L${x(pts[pts.length - 1].t).toFixed(1)},10 Z`;
  const stats = Object.entries(r.stats).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  const trades = r.trades
    .map((t) => `<tr><td>${esc(new Date(t.openedAt).toISOString())}</td><td>${esc(t.side)}</td><td>${esc(t.closedBy)}</td><td>${esc(t.netPnl)}</td><td>${esc(t.r)}</td></tr>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}svg{background:#fafafa}</style></head>
<body><h1>${esc(title)}</h1>
<p>${esc(r.config.candles)} — ${r.counters.candles} candles, capital ${esc(r.config.capital)} USDT, ${r.config.leverage}x, risk ${esc(r.config.riskPct)} %</p>
<h2>Equity (USDT)</h2>
<svg width="${W}" height="${H}" role="img" aria-label="equity curve"><text x="4" y="${P}">${hi.toFixed(0)}</text><text x="4" y="${H - P}">${lo.toFixed(0)}</text><path d="${line}" fill="none" stroke="#1f6feb" stroke-width="1.5"/></svg>
<h2>Drawdown from peak (max ${(ddMax * 100).toFixed(2)} %)</h2>
<svg width="${W}" height="${DH}" role="img" aria-label="drawdown"><path d="${area}" fill="#d73a4a" fill-opacity="0.5"/></svg>
<h2>Statistics</h2><table>${stats}</table>
<h2>Trades</h2><table><tr><th>opened</th><th>side</th><th>closed by</th><th>net PnL</th><th>R</th></tr>${trades}</table>
</body></html>`;
}
