/*
 * One account: equity, drawdown, trading state, breakers; the live panel (per position a
 * liquidation meter, a margin-ratio gauge and a price chart with its levels); equity and
 * drawdown chart; orders and fills; kill switch, flatten, resume; manual entry. Live: refetches
 * on the account's events, moves the marks on `mark` ticks.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, openStream, type Candle, type MarkTick } from '../api';
import { COLORS, EquityChart, PriceChart, type ChartMarker, type PriceLevel } from '../components/charts';
import { ConfirmDialog, ErrorBoundary, ErrorLine, LiquidationMeter, MarginGauge, Stat, StateBadge, Table } from '../components/widgets';
import { isDecimalText, pct, price, qty, signOf, usdt, utc } from '../format';
import { href } from '../route';
import type { AccountView, EquityPoint, FillView, OrderView, PositionView } from '../views';
import { AuditPanel } from './AuditPanel';

/** Event types that change what this page shows. */
const LIVE_TYPES = [
  'OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderRejected', 'OrderCanceled', 'OrderExpired', 'OrderFilled', 'OrderStatusUnknown',
  'PositionOpened', 'PositionIncreased', 'PositionReduced', 'PositionClosed', 'PositionLiquidated', 'FundingApplied', 'EquityMarked',
  'StopPlaced', 'StopResized', 'StopTriggered', 'StopCancelled', 'ProtectionWarning', 'ProtectionFailed',
  'TradingPaused', 'TradingResumed', 'TradingStateChanged', 'DrawdownAlert', 'LifetimeDrawdownBreached', 'DailyTradeLimitWarning', 'DailyTradeLimitReached',
  'MarginLevelAlert', 'VenueAlert', 'AccountReconfigured', 'EntryApproved', 'EntryDenied',
];

interface Data {
  account: AccountView;
  positions: PositionView[];
  orders: OrderView[];
  fills: FillView[];
  equity: EquityPoint[];
}

type Dialog = 'halt' | 'flatten' | 'resume' | null;

export function AccountPage({ accountId }: { accountId: string }) {
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [audit, setAudit] = useState<string | null>(null);
  const [marks, setMarks] = useState<Record<string, MarkTick>>({});
  const [live, setLive] = useState(false);

  const load = useCallback(async () => {
    try {
      const [account, positions, orders, fills, equity] = await Promise.all([
        api.account(accountId), api.positions(accountId), api.orders(accountId), api.fills(accountId), api.equity(accountId),
      ]);
      setData({ account, positions, orders, fills, equity });
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [accountId]);

  // Refetch at most every 750 ms however fast events arrive (a replay emits thousands).
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const scheduleLoad = useCallback(() => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      void load();
    }, 750);
  }, [load]);

  useEffect(() => {
    void load();
    const close = openStream(
      LIVE_TYPES,
      (e) => {
        setLive(true);
        if (e.accountId === accountId || e.streamId.includes(accountId)) scheduleLoad();
      },
      (m) => {
        setLive(true);
        setMarks((prev) => ({ ...prev, [`${m.venue}:${m.symbol}`]: m }));
      },
    );
    return () => {
      close();
      if (pending.current) clearTimeout(pending.current);
    };
  }, [accountId, load, scheduleLoad]);

  if (!data) {
    return (
      <section>
        <h2>{accountId}</h2>
        {error ? <ErrorLine error={error} /> : <p className="muted">Loading…</p>}
      </section>
    );
  }
  const a = data.account;
  return (
    <div className="account">
      <div className="row between wrap">
        <div>
          <h2 data-testid="account-id">{a.accountId}</h2>
          <p className="muted small">
            {a.venue ?? '—'} · {a.symbol ?? '—'} · {a.leverage === null ? '—' : `${a.leverage}x`} · as of {utc(a.asOf, { seconds: true })} ·{' '}
            <span className={live ? 'pos' : 'muted'}>{live ? '● live' : '○ connecting'}</span>
          </p>
        </div>
        <div className="row gap wrap">
          <StateBadge state={a.tradingState} />
          <button type="button" className="danger" data-testid="kill-switch" disabled={a.tradingState === 'HALTED'} onClick={() => setDialog('halt')}>
            Kill switch (HALT)
          </button>
          <button type="button" className="danger outline" data-testid="flatten" onClick={() => setDialog('flatten')}>
            Flatten
          </button>
          {(a.paused || a.tradingState !== 'ACTIVE') && (
            <button type="button" data-testid="resume" onClick={() => setDialog('resume')}>
              Resume
            </button>
          )}
        </div>
      </div>
      <ErrorLine error={error} />
      {a.paused && (
        <p className="banner warn" data-testid="paused-banner">
          Paused: {a.paused.reason}
          {a.paused.day ? ` (day ${a.paused.day})` : ''}
          {a.paused.month ? ` (month ${a.paused.month})` : ''}
        </p>
      )}

      <section className="stats-grid">
        <Stat label="equity" value={usdt(a.equity)} testId="equity" />
        <Stat label="wallet balance" value={usdt(a.walletBalance)} />
        <Stat label="unrealised PnL" value={usdt(a.unrealisedPnl, { sign: true })} tone={signOf(a.unrealisedPnl)} />
        <Stat label="realised PnL" value={usdt(a.realisedPnl, { sign: true })} tone={signOf(a.realisedPnl)} />
        <Stat label="fees / funding" value={`${usdt(a.fees, { unit: false })} / ${usdt(a.funding, { unit: false, sign: true })} USDT`} />
        <Stat label="drawdown" value={`${usdt(a.drawdown)} (${pct(a.drawdownFraction)})`} tone={signOf(a.drawdown) === 'pos' ? 'neg' : ''} />
        <Stat label="max drawdown" value={`${usdt(a.maxDrawdown)} (${pct(a.maxDrawdownFraction)})`} />
        <Stat label="today" value={`${a.tradesToday} trades, ${usdt(a.pnlToday, { sign: true })}`} />
      </section>

      <section>
        <h3>Open positions</h3>
        {data.positions.length === 0 && <p className="muted">No open position.</p>}
        <div className="positions">
          {data.positions.map((p) => (
            <ErrorBoundary key={p.positionStreamId} label={`The card of ${p.symbol} ${p.side}`}>
              <PositionCard position={p} mark={marks[`${p.venue}:${p.symbol}`] ?? null} fills={data.fills} />
            </ErrorBoundary>
          ))}
        </div>
      </section>

      <section>
        <h3>Equity and drawdown</h3>
        {data.equity.length ? (
          <ErrorBoundary label="The equity chart">
            <EquityChart points={data.equity.map((e) => ({ ts: e.ts, equity: e.equity, drawdown: e.drawdown }))} drawdownUnit="USDT" breakers={a.breakers.map((b) => ({ ts: b.ts, position: 'aboveBar', shape: 'square', color: COLORS.breaker, text: b.type }))} height={280} />
          </ErrorBoundary>
        ) : (
          <p className="muted">No equity points yet.</p>
        )}
      </section>

      <section>
        <h3>Breakers timeline</h3>
        <Table rows={[...a.breakers].reverse()} rowKey={(b) => b.eventId} empty="No breaker has fired." testId="breakers" rowTestId="breaker-row" columns={[
          { head: 'time', cell: (b) => utc(b.ts, { seconds: true }) },
          { head: 'event', cell: (b) => b.type },
          { head: 'reason', cell: (b) => b.reason ?? '—' },
          { head: 'detail', cell: (b) => b.detail },
        ]} />
      </section>

      <ManualEntry accountId={a.accountId} symbol={a.symbol ?? 'BTCUSDT'} onDone={load} />

      <section>
        <h3>Orders</h3>
        <Table rows={[...data.orders].reverse()} rowKey={(o) => o.clientOrderId} empty="No orders." testId="orders" rowTestId="order-row" columns={[
          { head: 'client order id', cell: (o) => <button type="button" className="link" data-testid="audit-link" onClick={() => setAudit(o.clientOrderId)}>{o.clientOrderId}</button> },
          { head: 'purpose', cell: (o) => o.purpose ?? '—' },
          { head: 'side', cell: (o) => o.side ?? '—' },
          { head: 'type', cell: (o) => o.type ?? '—' },
          { head: 'qty', cell: (o) => qty(o.quantity), num: true },
          { head: 'filled', cell: (o) => qty(o.filledQuantity), num: true },
          { head: 'avg price', cell: (o) => price(o.averageFillPrice), num: true },
          { head: 'fees USDT', cell: (o) => usdt(o.fees, { unit: false }), num: true },
          { head: 'status', cell: (o) => o.status },
          { head: 'updated', cell: (o) => utc(o.updatedAt ?? o.createdAt, { seconds: true }) },
        ]} />
      </section>
      {audit && (
        <section>
          <div className="row between">
            <h3>Audit</h3>
            <div className="row gap">
              <a href={href({ page: 'audit', clientOrderId: audit })}>open on its own page</a>
              <button type="button" className="ghost" onClick={() => setAudit(null)}>close</button>
            </div>
          </div>
          <AuditPanel clientOrderId={audit} />
        </section>
      )}

      <section>
        <h3>Fills</h3>
        <Table rows={[...data.fills].reverse()} rowKey={(f) => `${f.clientOrderId}:${f.tradeId}`} empty="No fills." testId="fills" rowTestId="fill-row" columns={[
          { head: 'time', cell: (f) => utc(f.ts, { seconds: true }) },
          { head: 'client order id', cell: (f) => f.clientOrderId },
          { head: 'side', cell: (f) => f.side },
          { head: 'qty', cell: (f) => qty(f.quantity), num: true },
          { head: 'price', cell: (f) => price(f.price), num: true },
          { head: 'fee', cell: (f) => `${usdt(f.fee, { unit: false })} ${f.feeAsset ?? ''}`, num: true },
          { head: 'liquidity', cell: (f) => f.liquidity ?? '—' },
        ]} />
      </section>

      {dialog === 'halt' && (
        <ConfirmDialog title="Kill switch" confirmLabel="HALT trading" defaultReason="kill switch from the dashboard" onClose={() => setDialog(null)}
          body={<p>The account goes to <b>HALTED</b>: no new entries. Open positions keep their stops and take-profits (reduce-only orders are never refused).</p>}
          onConfirm={async (reason) => { await api.halt(a.accountId, reason); await load(); }} />
      )}
      {dialog === 'flatten' && (
        <ConfirmDialog title="Flatten the account" confirmLabel="Flatten" defaultReason="flatten from the dashboard" onClose={() => setDialog(null)}
          body={<p>HALTED first, then every open order is cancelled and every position closed at market ({data.positions.length} open).</p>}
          onConfirm={async (reason) => { await api.flatten(a.accountId, reason); await load(); }} />
      )}
      {dialog === 'resume' && (
        <ConfirmDialog title="Resume trading" confirmLabel="Resume" defaultReason="resumed from the dashboard" onClose={() => setDialog(null)}
          body={<p>Entries are allowed again (after a pause or the kill switch).</p>}
          onConfirm={async (reason) => { await api.resume(a.accountId, reason); await load(); }} />
      )}
    </div>
  );
}

/** One open position: figures, liquidation meter, margin-ratio gauge, price chart with its levels. */
function PositionCard({ position: p, mark, fills }: { position: PositionView; mark: MarkTick | null; fills: FillView[] }) {
  const [candles, setCandles] = useState<Candle[]>([]);
  const [error, setError] = useState<unknown>(null);
  // A newer live tick than the server's view moves the meter until the next refetch.
  const markPrice = mark && (p.markTs === null || mark.ts > p.markTs) ? mark.price : p.markPrice;
  // Up to the mark's market time: in a replay market-data serves the whole file, later candles included.
  const [chartTo] = useState(() => (p.markTs === null ? undefined : p.markTs));
  useEffect(() => {
    // Two hours before the entry up to now (market time in a replay): the API pages by `next`, one page is enough for the chart.
    api.candles(p.venue, p.symbol, { from: Math.max(0, p.openedAt - 2 * 3_600_000), to: chartTo, limit: 1000 }).then((r) => setCandles(r.candles), setError);
  }, [p.venue, p.symbol, p.openedAt, chartTo]);
  const levels = useMemo<PriceLevel[]>(() => {
    const l: PriceLevel[] = [{ price: p.entryPrice, title: 'entry', color: COLORS.entry }];
    if (p.stopPrice) l.push({ price: p.stopPrice, title: 'stop', color: COLORS.stop, dashed: true });
    if (p.takeProfitPrice) l.push({ price: p.takeProfitPrice, title: 'take-profit', color: COLORS.takeProfit, dashed: true });
    if (p.liquidationPrice) l.push({ price: p.liquidationPrice, title: 'liquidation', color: COLORS.liquidation, dashed: true });
    return l;
  }, [p.entryPrice, p.stopPrice, p.takeProfitPrice, p.liquidationPrice]);
  const markers = useMemo<ChartMarker[]>(
    () => fills.filter((f) => f.symbol === p.symbol && f.ts >= p.openedAt).map((f) => ({ ts: f.ts, position: f.side === 'BUY' ? 'belowBar' : 'aboveBar', shape: f.side === 'BUY' ? 'arrowUp' : 'arrowDown', color: COLORS.entry, text: `${f.side} ${qty(f.quantity)}` })),
    [fills, p.symbol, p.openedAt],
  );
  const tick = useMemo(() => (mark ? { price: mark.price, ts: mark.ts } : null), [mark]);
  return (
    <div className="card position" data-testid="position-row" data-symbol={p.symbol} data-position={p.positionStreamId}>
      <div className="row between wrap">
        <h4>
          <span className={p.side === 'LONG' ? 'pos' : 'neg'}>{p.side}</span> {qty(p.quantity)} {p.symbol} · {p.leverage}x
        </h4>
        <span className={signOf(p.unrealisedPnl)} data-testid="position-upnl">{usdt(p.unrealisedPnl, { sign: true })}</span>
      </div>
      <div className="kv-grid">
        <span>entry</span><b>{price(p.entryPrice)}</b>
        <span>mark</span><b data-testid="mark-price">{price(markPrice)}</b>
        <span>stop</span><b>{price(p.stopPrice)}</b>
        <span>take-profit</span><b>{price(p.takeProfitPrice)}</b>
        <span>liquidation</span><b data-testid="position-liquidation-price">{price(p.liquidationPrice)}</b>
        <span>notional</span><b>{usdt(p.notional)}</b>
        <span>isolated margin</span><b>{usdt(p.isolatedMargin)}</b>
        <span>maintenance margin</span><b>{usdt(p.maintenanceMargin)}</b>
      </div>
      <LiquidationMeter side={p.side} entryPrice={p.entryPrice} markPrice={markPrice} liquidationPrice={p.liquidationPrice} liquidationDistance={p.liquidationDistance} guards={p.guards} />
      <MarginGauge marginRatio={p.marginRatio} guards={p.guards} />
      <ErrorLine error={error} />
      {candles.length > 0 && <PriceChart bars={candles} levels={levels} markers={markers} live={tick} height={260} />}
    </div>
  );
}

/** Manual entry: the trader gives side, stop and optionally a take-profit; Bulwark sizes and protects it. */
function ManualEntry({ accountId, symbol, onDone }: { accountId: string; symbol: string; onDone: () => Promise<void> }) {
  const [side, setSide] = useState<'LONG' | 'SHORT'>('LONG');
  const [stop, setStop] = useState('');
  const [tp, setTp] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<string | null>(null);
  const valid = isDecimalText(stop, { positive: true }) && (tp === '' || isDecimalText(tp, { positive: true }));
  return (
    <section>
      <h3>Manual entry</h3>
      <form
        className="row gap wrap form-inline"
        data-testid="manual-entry"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          setResult(null);
          try {
            const r = await api.manualEntry(accountId, { symbol, side, stopPrice: stop.trim(), ...(tp.trim() ? { takeProfitPrice: tp.trim() } : {}) });
            setResult(r.events.map((ev) => ev.type).join(', ') || 'recorded');
            await onDone();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          side
          <select value={side} onChange={(e) => setSide(e.target.value as 'LONG' | 'SHORT')} data-testid="entry-side">
            <option value="LONG">LONG</option>
            <option value="SHORT">SHORT</option>
          </select>
        </label>
        <label>
          stop price
          <input inputMode="decimal" value={stop} onChange={(e) => setStop(e.target.value)} placeholder="USDT" data-testid="entry-stop" />
        </label>
        <label>
          take-profit (optional)
          <input inputMode="decimal" value={tp} onChange={(e) => setTp(e.target.value)} placeholder="USDT" data-testid="entry-take-profit" />
        </label>
        <button type="submit" className="primary" disabled={busy || !valid} data-testid="entry-submit">
          {busy ? 'Sending…' : `Enter ${side.toLowerCase()} ${symbol}`}
        </button>
      </form>
      <p className="muted small">Bulwark sizes the position from your risk per trade and the stop, and refuses it when the stop sits too close to liquidation.</p>
      <ErrorLine error={error} />
      {result && <p className="pos small" data-testid="entry-result">Recorded: {result}</p>}
    </section>
  );
}
