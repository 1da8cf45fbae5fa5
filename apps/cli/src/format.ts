import type { MonthLine } from '@bulwark/application';
import { dec } from '@bulwark/domain';
import type { DemoAccountReport, DemoReport } from './demo';

/** A decimal string for people: `dp` decimals (half-even), thousands separated. */
export function grouped(s: string, dp = 2): string {
  const d = dec(s).toDecimalPlaces(dp);
  const [i, f] = d.abs().toFixed(dp).split('.');
  return `${d.isNeg() ? '-' : ''}${i.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${f === undefined ? '' : `.${f}`}`;
}

/** Format a USDT amount for people: 2 decimals, thousands separated. */
export function usdt(s: string): string {
  return grouped(s, 2);
}

/** What a run (not an account) reports beside its accounts. */
type RunFields = Pick<DemoReport, 'candles' | 'steps' | 'firstPosition' | 'lastPosition' | 'wallMs' | 'runEvents' | 'replayMs' | 'eventsPerSecond' | 'tickToOrder'>;

/** Rows as aligned text lines (`  key  value`). */
function aligned(rows: Array<[string, string]>): string[] {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
}

/** The run's throughput rows: events appended, per second of replay, and the tick-to-order latency execution measured. */
function throughputRows(r: RunFields): Array<[string, string]> {
  const t = r.tickToOrder;
  const latency = !t ? 'not measured (execution\'s metrics could not be read)' : t.orders === 0 ? 'no order sent' : `p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms over ${t.orders} orders (bulwark_tick_to_order_seconds)`;
  return [
    ['run events', `${r.runEvents} in ${(r.replayMs / 1000).toFixed(1)} s of replay: ${r.eventsPerSecond} events/s`],
    ['tick to order', latency],
  ];
}

/** One account's rows; with `run`, the run's own rows in their places (a one-account run's summary). */
function accountRows(a: DemoAccountReport, run?: RunFields): Array<[string, string]> {
  const s = a.summary;
  const check = dec(s.capital).plus(s.realisedPnl).minus(s.fees).plus(s.funding).minus(s.liquidationFees).plus(s.unrealisedPnl);
  return [
    ['account', run ? a.accountId : `${a.accountId} (risk ${a.riskPct} %, leverage ${a.leverage}x)`],
    ...(run ? ([['candles', String(run.candles)], ['path steps', String(run.steps)]] as Array<[string, string]>) : []),
    ['intents', String(a.intents)],
    ['approvals', String(a.approvals)],
    ['denials', Object.keys(a.denials).length ? Object.entries(a.denials).map(([k, v]) => `${k} ${v}`).join(', ') : '0'],
    ['orders', String(a.orders)],
    ['fills', String(a.fills)],
    ['stops hit', String(a.stopsHit)],
    ['take-profits hit', String(a.takeProfitsHit)],
    ['forced closes (guards)', String(a.forcedCloses)],
    ['liquidations', `${a.liquidations}${a.liquidations === 0 ? ' (none: the liquidation buffer held)' : ''}`],
    ['losing streak', `longest ${a.longestLosingStreak}, at the end ${a.losingStreakAtEnd}`],
    ['worst trade', `${a.worstTradeR} R`],
    ['positions opened/closed', `${s.positionsOpened}/${s.positionsClosed}${s.openPositions ? ` (${s.openPositions} still open)` : ''}`],
    ['capital', `${usdt(s.capital)} USDT`],
    ['realised PnL', `${usdt(s.realisedPnl)} USDT`],
    ['fees', `${usdt(s.fees)} USDT`],
    ['funding', `${usdt(s.funding)} USDT`],
    ['unrealised PnL', `${usdt(s.unrealisedPnl)} USDT`],
    ['max drawdown', `${usdt(s.maxDrawdown)} USDT (${dec(s.maxDrawdownFraction).mul(100).toDecimalPlaces(2).toFixed(2)} % of peak)`],
    ['final equity', `${usdt(s.finalEquity)} USDT`],
    ['equity check', `capital + realised − fees + funding − liquidation fees + unrealised = ${usdt(check.toFixed())} ${check.eq(s.finalEquity) ? '✓' : '✗ MISMATCH'}`],
    ['events appended', `${a.eventsAppended} (${Object.entries(a.eventsByCategory).map(([k, v]) => `${k} ${v}`).join(', ')})`],
    ...(run ? ([['event log positions', `${run.firstPosition}..${run.lastPosition}`], ['wall time', `${(run.wallMs / 1000).toFixed(1)} s`]] as Array<[string, string]>) : []),
  ];
}

/** The accounts' sums: realised PnL, fees, funding, final equity, positions. */
function totalRows(accounts: readonly DemoAccountReport[]): Array<[string, string]> {
  const sum = (f: (s: DemoAccountReport['summary']) => string) => usdt(accounts.reduce((t, a) => t.plus(f(a.summary)), dec(0)).toFixed());
  const n = (f: (s: DemoAccountReport['summary']) => number) => accounts.reduce((t, a) => t + f(a.summary), 0);
  return [
    ['accounts', String(accounts.length)],
    ['positions opened/closed', `${n((s) => s.positionsOpened)}/${n((s) => s.positionsClosed)}${n((s) => s.openPositions) ? ` (${n((s) => s.openPositions)} still open)` : ''}`],
    ['capital', `${sum((s) => s.capital)} USDT`],
    ['realised PnL', `${sum((s) => s.realisedPnl)} USDT`],
    ['fees', `${sum((s) => s.fees)} USDT`],
    ['funding', `${sum((s) => s.funding)} USDT`],
    ['final equity', `${sum((s) => s.finalEquity)} USDT`],
  ];
}

/**
 * The demo's closing summary as aligned text lines: one account's summary with the run's rows;
 * for an account set, the run's rows, then one summary per account (the same rows), then the
 * accounts' total.
 */
export function formatReport(r: DemoReport): string {
  if (r.accounts.length <= 1) {
    const lines = aligned([...accountRows(r, r), ...throughputRows(r)]);
    lines.push('', ...monthTable(r.months), ...breakerLines(r));
    return lines.join('\n');
  }
  const lines = aligned([
    ['candles', String(r.candles)],
    ['path steps', String(r.steps)],
    ...throughputRows(r),
    ['event log positions', `${r.firstPosition}..${r.lastPosition}`],
    ['wall time', `${(r.wallMs / 1000).toFixed(1)} s`],
  ]);
  r.accounts.forEach((a, i) => {
    lines.push('', `  account ${i + 1} of ${r.accounts.length}`, ...aligned(accountRows(a)), '', ...monthTable(a.months), ...breakerLines(a));
  });
  lines.push('', '  total', ...aligned(totalRows(r.accounts)));
  return lines.join('\n');
}

/** The breakers and guards of a run (market time), at most 40 lines. */
function breakerLines(r: Pick<DemoReport, 'breakers'>): string[] {
  if (!r.breakers.length) return [];
  const out = ['', '  breakers and guards (market time)'];
  for (const b of r.breakers.slice(0, 40)) out.push(`    ${new Date(b.at).toISOString().slice(0, 16).replace('T', ' ')}  ${b.type.padEnd(24)} ${b.detail}`);
  if (r.breakers.length > 40) out.push(`    … ${r.breakers.length - 40} more`);
  return out;
}

/** Each month's realised result against its monthly drawdown limit, and the overshoot of the pause, as text lines. */
export function monthTable(months: readonly MonthLine[]): string[] {
  const out = ['  month     base equity    limit     realised net  paused  past the limit'];
  for (const m of months) {
    out.push(`  ${m.month}  ${usdt(m.base).padStart(11)}  ${usdt(m.limit).padStart(8)}  ${usdt(m.realisedNet).padStart(12)}  ${(m.paused ? 'yes' : 'no').padEnd(6)}  ${usdt(m.overshoot)}`);
  }
  return out;
}

/**
 * What a spot-margin summary shows: a demo's report, or a backtest's (runSpotMarginBacktest's
 * result has the same fields).
 */
export type MarginRunSummary = Pick<DemoReport, 'accountId' | 'candles' | 'steps' | 'intents' | 'breakers' | 'eventsByCategory' | 'eventsAppended' | 'firstPosition' | 'lastPosition' | 'wallMs' | 'margin'>;

/** A spot-margin run's summary (demo or backtest): the pair's positions, results, interest and the guard, from the read model. */
export function formatMarginReport(r: MarginRunSummary): string {
  const m = r.margin!;
  const ended = m.positions.filter((p) => p.status !== 'OPEN');
  const wins = ended.filter((p) => p.netPnl !== null && dec(p.netPnl).gt(0)).length;
  const byStatus = (s: string) => m.positions.filter((p) => p.status === s).length;
  const net = m.pair ? m.pair.netPnlTotal : '0';
  const rows: Array<[string, string]> = [
    ['account', `${r.accountId} (spot isolated margin ${m.symbol})`],
    ['candles', String(r.candles)],
    ['path steps', String(r.steps)],
    ['intents', String(r.intents)],
    ['positions', `${m.positions.length} (stopped out ${byStatus('STOPPED_OUT')}, closed ${byStatus('CLOSED')}, liquidated ${m.liquidations}, open ${byStatus('OPEN')})`],
    ['liquidations', `${m.liquidations}${m.liquidations === 0 ? ' (none: the Iron Exit and the guard closed first)' : ''}`],
    ['wins / losses', `${wins} / ${ended.length - wins}`],
    ['net PnL', `${usdt(net)} USDT (commissions and interest included)`],
    ['interest charged', `${m.pair ? usdt(m.pair.interestQuoteTotal) : '0.00'} USDT in ${m.pair ? m.pair.interest.length : 0} hourly accruals`],
    ['guard', m.guard.length ? m.guard.join(' → ') : 'no margin-level crossing'],
    ['events appended', `${r.eventsAppended} (${Object.entries(r.eventsByCategory).map(([k, v]) => `${k} ${v}`).join(', ')})`],
    ['event log positions', `${r.firstPosition}..${r.lastPosition}`],
    ['wall time', `${(r.wallMs / 1000).toFixed(1)} s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
  if (m.positions.length) {
    lines.push('', '  #   side   quantity     entry        stop         exit         status       net PnL');
    for (const p of m.positions.slice(0, 40)) {
      lines.push(`  ${String(p.sequence).padEnd(3)} ${p.side.padEnd(6)} ${p.quantity.padEnd(12)} ${usdt(p.entryPrice).padEnd(12)} ${usdt(p.stopPrice).padEnd(12)} ${(p.exitPrice ? usdt(p.exitPrice) : '-').padEnd(12)} ${p.status.padEnd(12)} ${p.netPnl === null ? '-' : usdt(p.netPnl)}`);
    }
    if (m.positions.length > 40) lines.push(`  … ${m.positions.length - 40} more`);
  }
  lines.push(...breakerLines(r));
  return lines.join('\n');
}
