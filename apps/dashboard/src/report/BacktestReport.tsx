/*
 * The backtest report: price candles with entries, exits and each trade's stop, take-profit
 * and liquidation levels; equity and drawdown on a time axis with the breakers marked; the
 * statistics with units; the breakers timeline; the trades. Shared by the dashboard's
 * Backtest button and `bulwark backtest`'s one-file HTML page.
 */
import { useMemo, useState } from 'react';
import { COLORS, EquityChart, PriceChart, type ChartMarker, type PriceLevel } from '../components/charts';
import { Stat, Table } from '../components/widgets';
import { pct, price, qty, rMultiple, signOf, usdt, utc } from '../format';
import type { BacktestReportData, ReportTrade } from './report-data';

const minutes = (ms: number) => (ms >= 3_600_000 && ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`);

/** Entry and exit markers of every trade, breakers as squares. */
function tradeMarkers(trades: readonly ReportTrade[]): ChartMarker[] {
  const out: ChartMarker[] = [];
  for (const t of trades) {
    const long = t.side === 'LONG';
    out.push({ ts: t.openedAt, position: long ? 'belowBar' : 'aboveBar', shape: long ? 'arrowUp' : 'arrowDown', color: COLORS.entry, text: `${long ? 'long' : 'short'} ${t.entryPrice ? price(t.entryPrice) : ''}`.trim() });
    const won = signOf(t.netPnl) === 'pos';
    out.push({ ts: t.closedAt, position: long ? 'aboveBar' : 'belowBar', shape: 'circle', color: t.closedBy === 'LIQUIDATION' ? COLORS.liquidation : won ? COLORS.up : COLORS.down, text: `${t.closedBy.toLowerCase().replace(/_/g, ' ')} ${rMultiple(t.r)}` });
  }
  return out;
}

/** The levels of one trade as price lines. */
function tradeLevels(t: ReportTrade | undefined): PriceLevel[] {
  if (!t) return [];
  const l: PriceLevel[] = [];
  if (t.entryPrice) l.push({ price: t.entryPrice, title: 'entry', color: COLORS.entry });
  if (t.stopPrice) l.push({ price: t.stopPrice, title: 'stop', color: COLORS.stop, dashed: true });
  if (t.takeProfitPrice) l.push({ price: t.takeProfitPrice, title: 'take-profit', color: COLORS.takeProfit, dashed: true });
  if (t.liquidationPrice) l.push({ price: t.liquidationPrice, title: 'liquidation', color: COLORS.liquidation, dashed: true });
  if (t.exitPrice) l.push({ price: t.exitPrice, title: 'exit', color: '#b0bec5' });
  return l;
}

/** The whole report. */
export function BacktestReport({ data }: { data: BacktestReportData }) {
  const r = data.result;
  const s = r.stats;
  const [selected, setSelected] = useState<number>(0);
  const markers = useMemo(() => tradeMarkers(r.trades), [r.trades]);
  const levels = useMemo(() => tradeLevels(r.trades[selected]), [r.trades, selected]);
  const breakerMarkers = useMemo<ChartMarker[]>(() => r.breakers.map((b) => ({ ts: b.at, position: 'aboveBar', shape: 'square', color: COLORS.breaker, text: b.type })), [r.breakers]);
  const equity = useMemo(() => (data.equity ?? []).map((p) => ({ ts: p.t, equity: p.equity, drawdown: p.drawdownFraction })), [data.equity]);
  const candles = data.candles ?? [];
  const denials = Object.entries(r.decisions.denials);
  return (
    <div className="report" data-testid="backtest-report">
      <header className="report-head">
        <h1>{data.title}</h1>
        <p className="muted">
          {r.config.symbol ?? 'BTCUSDT'} · {r.counters.candles.toLocaleString('en')} candles of {minutes(r.interval)} ({r.counters.steps.toLocaleString('en')} path steps) · capital {usdt(r.config.capital)} ·{' '}
          {r.config.leverage}x · risk {r.config.riskPct} % per trade · {utc(r.equityCurve[0]?.t)} → {utc(r.equityCurve[r.equityCurve.length - 1]?.t)}
        </p>
      </header>

      <section className="stats-grid" data-testid="report-stats">
        <Stat label="net PnL" value={usdt(s.netPnl, { sign: true })} tone={signOf(s.netPnl)} />
        <Stat label="final equity" value={usdt(s.finalEquity)} />
        <Stat label="max drawdown" value={`${usdt(s.maxDrawdown)} (${pct(s.maxDrawdownFraction)})`} />
        <Stat label="trades" value={`${s.trades} (${s.wins} won, ${pct(s.winRate)})`} />
        <Stat label="average R / worst trade" value={`${rMultiple(s.averageR)} / ${rMultiple(s.worstTradeR)}`} />
        <Stat label="realised PnL" value={usdt(s.realisedPnl, { sign: true })} tone={signOf(s.realisedPnl)} />
        <Stat label="fees" value={usdt(s.fees)} />
        <Stat label="funding" value={usdt(s.funding, { sign: true })} />
        <Stat label="Sharpe (daily, annualised)" value={price(s.sharpe)} />
        <Stat label="time in market" value={pct(s.exposure)} />
        <Stat label="liquidations" value={String(s.liquidations)} tone={s.liquidations ? 'neg' : ''} />
        <Stat label="losing streak (longest / at end)" value={`${s.longestLosingStreak} / ${s.losingStreakAtEnd}`} />
        <Stat label="intents / approved" value={`${r.decisions.intents} / ${r.decisions.approvals}`} />
        <Stat label="denials" value={denials.length ? denials.map(([k, v]) => `${k.toLowerCase().replace(/_/g, ' ')} ${v}`).join(', ') : 'none'} />
        <Stat label="breaker events" value={String(r.breakers.length)} tone={r.breakers.length ? 'warn' : ''} />
        <Stat label="data gaps" value={r.gaps.length ? r.gaps.map((g) => `${g.kind.toLowerCase().replace(/_/g, ' ')} ${utc(g.from)} → ${utc(g.to)} (${g.bars} bars)`).join('; ') : 'none'} />
      </section>

      <section>
        <h2>Price</h2>
        {candles.length ? (
          <>
            <p className="muted small">
              {data.chart && data.chart.shownBars < data.chart.sourceBars
                ? `Downsampled for the chart: ${data.chart.sourceBars.toLocaleString('en')} bars of ${minutes(data.chart.sourceBarMs)} shown as ${data.chart.shownBars.toLocaleString('en')} bars of ${minutes(data.chart.barMs)}. `
                : ''}
              Arrows: entries; circles: exits (with R). Lines: the selected trade&apos;s entry, stop, take-profit, liquidation and exit{r.trades.length ? '' : ' (no trades)'}.
            </p>
            <PriceChart bars={candles} markers={markers} levels={levels} height={380} testId="report-price-chart" />
          </>
        ) : (
          <p className="muted">No candles in the report data.</p>
        )}
      </section>

      <section>
        <h2>Equity and drawdown</h2>
        {equity.length ? <EquityChart points={equity} drawdownUnit="%" breakers={breakerMarkers} height={320} testId="report-equity-chart" /> : <p className="muted">No equity curve in the report data.</p>}
      </section>

      {r.breakers.length > 0 && (
        <section>
          <h2>Breakers and guards (market time)</h2>
          <Table rows={r.breakers} rowKey={(b) => `${b.at}-${b.type}-${b.detail}`} empty="none" testId="report-breakers" columns={[
            { head: 'time', cell: (b) => utc(b.at) },
            { head: 'event', cell: (b) => b.type },
            { head: 'detail', cell: (b) => b.detail },
          ]} />
        </section>
      )}

      {r.months && r.months.length > 0 && (
        <section>
          <h2>Months against the drawdown limit</h2>
          <Table rows={r.months} rowKey={(m) => m.month} empty="none" columns={[
            { head: 'month', cell: (m) => m.month },
            { head: 'base equity', cell: (m) => usdt(m.base), num: true },
            { head: 'loss limit', cell: (m) => usdt(m.limit), num: true },
            { head: 'realised net', cell: (m) => <span className={signOf(m.realisedNet)}>{usdt(m.realisedNet, { sign: true })}</span>, num: true },
            { head: 'paused', cell: (m) => (m.paused ? 'yes' : 'no') },
            { head: 'overshoot', cell: (m) => usdt(m.overshoot), num: true },
          ]} />
        </section>
      )}

      <section>
        <h2>Trades</h2>
        <p className="muted small">Select a trade to draw its levels on the price chart.</p>
        <Table rows={r.trades.map((t, i) => ({ t, i }))} rowKey={({ t }) => t.positionStreamId} empty="No trades." testId="report-trades" rowTestId="trade-row" columns={[
          { head: '#', cell: ({ i }) => <button type="button" className={`link ${i === selected ? 'selected' : ''}`} onClick={() => setSelected(i)}>{i + 1}</button> },
          { head: 'opened', cell: ({ t }) => utc(t.openedAt) },
          { head: 'closed', cell: ({ t }) => utc(t.closedAt) },
          { head: 'side', cell: ({ t }) => t.side },
          { head: 'qty BTC', cell: ({ t }) => qty(t.quantity), num: true },
          { head: 'entry', cell: ({ t }) => price(t.entryPrice), num: true },
          { head: 'stop', cell: ({ t }) => price(t.stopPrice), num: true },
          { head: 'take-profit', cell: ({ t }) => price(t.takeProfitPrice), num: true },
          { head: 'liquidation', cell: ({ t }) => price(t.liquidationPrice), num: true },
          { head: 'exit', cell: ({ t }) => price(t.exitPrice), num: true },
          { head: 'closed by', cell: ({ t }) => t.closedBy.toLowerCase().replace(/_/g, ' ') },
          { head: 'risk USDT', cell: ({ t }) => usdt(t.riskAmount, { unit: false }), num: true },
          { head: 'net PnL USDT', cell: ({ t }) => <span className={signOf(t.netPnl)}>{usdt(t.netPnl, { unit: false, sign: true })}</span>, num: true },
          { head: 'R', cell: ({ t }) => <span className={signOf(t.r)}>{rMultiple(t.r)}</span>, num: true },
        ]} />
      </section>
    </div>
  );
}
