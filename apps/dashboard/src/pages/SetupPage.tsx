/*
 * The setup wizard (seed 003): capital, leverage, risk per trade, loss limits. A live panel
 * asks the server (POST /api/calc/size, /api/calc/liquidation) for the maximum position size,
 * its initial margin and liquidation price at the current price, and where a typical stop sits
 * against the liquidation buffer. Validate shows each rule's verdict; above 5x the trader must
 * tick the confirmation; Save opens the account; Backtest runs it on a data set.
 */
import { useEffect, useMemo, useState } from 'react';
import Decimal from 'decimal.js';
import { api, ApiError, type Dataset, type LiquidationCalc, type OpenAccountBody, type SizeCalc, type Validation } from '../api';
import { ErrorLine } from '../components/widgets';
import { HIGH_LEVERAGE_ABOVE, isDecimalText, meterWidth, percentToFraction, percentValue, price, qty, usdt, utc } from '../format';
import { BacktestReport } from '../report/BacktestReport';
import { toReportData, type BacktestReportData } from '../report/report-data';
import { href } from '../route';

const VENUE = 'binance-usdm';

interface Form {
  accountId: string;
  symbol: string;
  capital: string;
  leverage: number;
  riskPct: string;
  dailyLossPct: string;
  monthlyDrawdownPct: string;
  side: 'LONG' | 'SHORT';
  stopPct: string;
  confirmed: boolean;
}

/** The typical stop for the preview, `stopPct` % from the price on the losing side, on a 0.1 tick. */
function typicalStop(entry: string, stopPct: string, side: 'LONG' | 'SHORT'): string {
  const d = new Decimal(entry).mul(new Decimal(stopPct).div(100));
  return (side === 'LONG' ? new Decimal(entry).minus(d) : new Decimal(entry).plus(d)).toDecimalPlaces(1, Decimal.ROUND_HALF_EVEN).toFixed(1);
}

/** The problems of a form, by field (empty: sendable). */
function check(f: Form): Record<string, string> {
  const e: Record<string, string> = {};
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(f.accountId)) e.accountId = 'letters, digits, - and _ (up to 63)';
  if (!isDecimalText(f.capital, { positive: true })) e.capital = 'a positive amount of USDT';
  for (const k of ['riskPct', 'dailyLossPct', 'monthlyDrawdownPct', 'stopPct'] as const) {
    if (!isDecimalText(f[k], { positive: true }) || new Decimal(f[k]).gt(100)) e[k] = 'a percentage above 0 and at most 100';
  }
  return e;
}

function body(f: Form): OpenAccountBody {
  return {
    accountId: f.accountId,
    venue: VENUE,
    symbol: f.symbol,
    capital: f.capital,
    leverage: f.leverage,
    riskFraction: percentToFraction(f.riskPct),
    dailyLossLimitFraction: percentToFraction(f.dailyLossPct),
    maxMonthlyDrawdownFraction: percentToFraction(f.monthlyDrawdownPct),
    highLeverageConfirmed: f.confirmed,
    venueBalance: f.capital,
  };
}

export function SetupPage() {
  const [f, setF] = useState<Form>({
    accountId: `acct-${new Date().toISOString().slice(0, 10)}`,
    symbol: 'BTCUSDT',
    capital: '10000',
    leverage: 5,
    riskPct: '1',
    dailyLossPct: '3',
    monthlyDrawdownPct: '10',
    side: 'LONG',
    stopPct: '1',
    confirmed: false,
  });
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setF((p) => ({ ...p, [k]: v }));
  const errors = useMemo(() => check(f), [f]);
  const high = f.leverage > HIGH_LEVERAGE_ABOVE;
  const sendable = Object.keys(errors).length === 0 && (!high || f.confirmed);

  // The current price: the newest mark price (a replay's market time). Without a running feed,
  // the last close of the first page of candles market-data serves (its history).
  const [last, setLast] = useState<{ price: string; ts: number; source: 'mark' | 'close' } | null>(null);
  const [priceError, setPriceError] = useState<unknown>(null);
  useEffect(() => {
    let stale = false;
    api.mark(VENUE, f.symbol).then(
      (m) => {
        if (stale) return;
        setLast({ price: m.price, ts: m.ts, source: 'mark' });
        setPriceError(null);
      },
      (e: unknown) => {
        if (stale) return;
        if (!(e instanceof ApiError && e.code === 'NO_MARK')) return setPriceError(e);
        api.candles(VENUE, f.symbol).then((r) => {
          if (stale) return;
          const c = r.candles[r.candles.length - 1];
          setLast(c ? { price: c.close, ts: c.openTime, source: 'close' } : null);
          setPriceError(c ? null : new Error(`no candles for ${f.symbol} yet`));
        }, setPriceError);
      },
    );
    return () => {
      stale = true;
    };
  }, [f.symbol]);

  // The live panel, recomputed by the server 300 ms after the last change.
  const [size, setSize] = useState<SizeCalc | null>(null);
  const [liq, setLiq] = useState<LiquidationCalc | null>(null);
  const [calcError, setCalcError] = useState<unknown>(null);
  const stop = last && !errors.stopPct ? typicalStop(last.price, f.stopPct, f.side) : null;
  useEffect(() => {
    if (!last || !stop || errors.capital || errors.riskPct) return;
    let stale = false;
    const t = setTimeout(async () => {
      try {
        const s = await api.calcSize({ symbol: f.symbol, side: f.side, entry: last.price, stop, equity: f.capital, riskPct: f.riskPct, leverage: f.leverage });
        const q = s.quantity && new Decimal(s.quantity).gt(0) ? s.quantity : s.maxQuantity;
        const l = q ? await api.calcLiquidation({ symbol: f.symbol, side: f.side, entry: last.price, qty: q, leverage: f.leverage }) : null;
        if (stale) return;
        setSize(s);
        setLiq(l);
        setCalcError(null);
      } catch (e) {
        if (!stale) setCalcError(e);
      }
    }, 300);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [last, stop, f.symbol, f.side, f.capital, f.riskPct, f.leverage, errors.capital, errors.riskPct]);

  const [validation, setValidation] = useState<Validation | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setActionError(null);
    try {
      await fn();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(false);
    }
  };

  // Where the typical stop sits on the way from the entry to the liquidation price (display ratio of server figures).
  const stopShare = liq?.bufferToLiquidation && size?.stopDistance && new Decimal(liq.bufferToLiquidation).gt(0) ? new Decimal(size.stopDistance).div(liq.bufferToLiquidation).toFixed() : null;

  return (
    <div className="setup">
      <h2>Set up an account</h2>
      <div className="setup-grid">
        <form className="card" data-testid="wizard" onSubmit={(e) => e.preventDefault()}>
          <Field label="account id" error={errors.accountId}>
            <input value={f.accountId} onChange={(e) => set('accountId', e.target.value.trim())} data-testid="wizard-account-id" />
          </Field>
          <Field label="symbol">
            <select value={f.symbol} onChange={(e) => set('symbol', e.target.value)} data-testid="wizard-symbol">
              <option value="BTCUSDT">BTCUSDT (Binance USD-M perpetual)</option>
            </select>
          </Field>
          <Field label="capital, USDT" error={errors.capital}>
            <input inputMode="decimal" value={f.capital} onChange={(e) => set('capital', e.target.value)} data-testid="wizard-capital" />
          </Field>
          <Field label={`leverage: ${f.leverage}x`}>
            <input type="range" min={1} max={20} step={1} value={f.leverage} onChange={(e) => set('leverage', Number(e.target.value))} data-testid="wizard-leverage" aria-valuetext={`${f.leverage}x`} />
            <div className="range-scale">
              <span>1x</span>
              <span>5x</span>
              <span>10x</span>
              <span>20x</span>
            </div>
          </Field>
          {high && (
            <label className="confirm-high" data-testid="wizard-high-leverage">
              <input type="checkbox" checked={f.confirmed} onChange={(e) => set('confirmed', e.target.checked)} data-testid="wizard-confirm-high-leverage" />
              I confirm {f.leverage}x: above {HIGH_LEVERAGE_ABOVE}x the liquidation price sits close to the entry (see the panel) and a gap can liquidate the position before its stop.
            </label>
          )}
          <Field label="risk per trade, % of equity" error={errors.riskPct}>
            <input inputMode="decimal" value={f.riskPct} onChange={(e) => set('riskPct', e.target.value)} data-testid="wizard-risk-pct" />
          </Field>
          <Field label="daily loss limit, % of the day's starting equity" error={errors.dailyLossPct}>
            <input inputMode="decimal" value={f.dailyLossPct} onChange={(e) => set('dailyLossPct', e.target.value)} data-testid="wizard-daily-loss-pct" />
          </Field>
          <Field label="monthly drawdown limit, %" error={errors.monthlyDrawdownPct}>
            <input inputMode="decimal" value={f.monthlyDrawdownPct} onChange={(e) => set('monthlyDrawdownPct', e.target.value)} data-testid="wizard-monthly-drawdown-pct" />
          </Field>
          <div className="row gap wrap">
            <button type="button" disabled={busy || Object.keys(errors).length > 0} data-testid="wizard-validate" onClick={() => run(async () => setValidation(await api.validateAccount(body(f))))}>
              Validate
            </button>
            <button type="button" className="primary" disabled={busy || !sendable} data-testid="wizard-save"
              onClick={() => run(async () => {
                const r = await api.openAccount(body(f));
                setSaved(r.events.map((e) => e.type).join(', ') || 'recorded');
              })}>
              Save
            </button>
          </div>
          {high && !f.confirmed && <p className="warn small" data-testid="wizard-confirm-needed">Leverage above {HIGH_LEVERAGE_ABOVE}x needs the confirmation above before saving.</p>}
          <ErrorLine error={actionError} />
          {saved && (
            <p className="pos" data-testid="wizard-saved">
              Saved ({saved}). <a href={href({ page: 'account', accountId: f.accountId })}>Open the account</a>
            </p>
          )}
          {validation && (
            <div data-testid="wizard-verdicts">
              <h4>{validation.ok ? 'Every rule passes' : 'Some rules refuse this configuration'}</h4>
              <ul className="verdicts">
                {validation.verdicts.map((v) => (
                  <li key={v.rule} className={v.ok ? 'pos' : 'neg'} data-testid="wizard-verdict" data-ok={v.ok}>
                    {v.ok ? '✓' : '✗'} {v.rule}: {v.detail}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </form>

        <div className="card live-panel" data-testid="wizard-preview">
          <h3>At the current price</h3>
          <ErrorLine error={priceError} />
          {last && (
            <p className="muted small">
              {last.source === 'mark' ? 'mark price' : 'last close'} {price(last.price)} USDT at <span data-testid="preview-time">{utc(last.ts)}</span> (<span data-testid="preview-entry">{last.price}</span>)
            </p>
          )}
          <div className="row gap wrap">
            <label>
              side
              <select value={f.side} onChange={(e) => set('side', e.target.value as 'LONG' | 'SHORT')} data-testid="wizard-side">
                <option value="LONG">LONG</option>
                <option value="SHORT">SHORT</option>
              </select>
            </label>
            <label>
              typical stop, % from the price
              <input inputMode="decimal" value={f.stopPct} onChange={(e) => set('stopPct', e.target.value)} data-testid="wizard-stop-pct" />
            </label>
          </div>
          <ErrorLine error={calcError} />
          {size && (
            <div className="kv-grid">
              <span>stop</span>
              <b>{price(stop)}</b>
              <span>sizing</span>
              <b data-testid="preview-decision" className={size.decision === 'APPROVED' ? 'pos' : 'neg'}>
                {size.decision}
                {size.reason ? ` (${size.reason})` : ''}
              </b>
              <span>max position size</span>
              <b>
                <span data-testid="preview-qty">{liq?.quantity ?? size.quantity ?? '—'}</span> BTC
              </b>
              <span>notional</span>
              <b>{usdt(liq?.notional ?? size.notional)}</b>
              <span>initial margin</span>
              <b data-testid="preview-initial-margin">{usdt(liq?.initialMargin ?? size.initialMargin)}</b>
              <span>risk at the stop</span>
              <b>{usdt(size.lossAtStop)}</b>
              <span>liquidation price</span>
              <b className="neg" data-testid="liquidation-price">{liq?.liquidationPriceRounded ?? '—'}</b>
              <span>buffer to liquidation</span>
              <b>{liq?.bufferToLiquidation ? `${price(liq.bufferToLiquidation)} USDT (${percentValue(liq.bufferToLiquidationPct)} of the entry)` : '—'}</b>
            </div>
          )}
          {size?.message && <p className="warn small">{size.message}</p>}
          {stopShare && (
            <div className="buffer-bar" data-testid="stop-vs-liquidation">
              <div className="buffer-track">
                <div className="buffer-stop" style={{ left: `${meterWidth(stopShare)}%` }} title="stop" />
              </div>
              <div className="row between small muted">
                <span>entry</span>
                <span>stop uses {percentValue(new Decimal(stopShare).mul(100).toFixed(), 1)} of the buffer</span>
                <span>liquidation</span>
              </div>
            </div>
          )}
          {liq?.warnings.map((w) => (
            <p key={w} className="warn small">
              {w}
            </p>
          ))}
          {size?.quantity && <p className="muted small">Quantity {qty(size.quantity)} BTC: risk ÷ (stop distance + fees), capped by the margin the leverage allows.</p>}
        </div>
      </div>
      <BacktestBox form={f} sendable={sendable} />
    </div>
  );
}

function Field(props: { label: string; error?: string; children: React.ReactNode }) {
  return (
    <label className={props.error ? 'field invalid' : 'field'}>
      {props.label}
      {props.children}
      {props.error && <span className="field-error">{props.error}</span>}
    </label>
  );
}

/** Backtest the wizard's configuration on a data set and window; shows the report. */
function BacktestBox({ form, sendable }: { form: Form; sendable: boolean }) {
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [dataset, setDataset] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [report, setReport] = useState<BacktestReportData | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.datasets().then((d) => {
      setDatasets(d);
      // The newest data set's first day by default: a quick run.
      const first = [...d].reverse().find((x) => x.from !== null) ?? d[0];
      if (first) {
        setDataset(first.id);
        if (first.from !== null) {
          setFrom(first.from);
          setTo(new Date(Date.parse(`${first.from}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10));
        }
      }
    }, setError);
  }, []);
  return (
    <section className="card">
      <h3>Backtest this configuration</h3>
      <div className="row gap wrap form-inline">
        <label>
          data set
          <select value={dataset} onChange={(e) => setDataset(e.target.value)} data-testid="backtest-dataset">
            {(datasets ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.venue} {d.symbol} {d.interval} {d.from ?? '?'} → {d.to ?? '?'}
              </option>
            ))}
          </select>
        </label>
        <label>
          from (UTC)
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="backtest-from" />
        </label>
        <label>
          to (UTC)
          <input type="date" value={to} onChange={(e) => setTo(e.target.value)} data-testid="backtest-to" />
        </label>
        <button type="button" className="primary" disabled={busy || !sendable || !dataset} data-testid="wizard-backtest"
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              // The open-account body's names, so the backtest runs the account Save would record.
              const b = body(form);
              const answer = await api.backtest({
                dataset, from: from || null, to: to || null, capital: b.capital, leverage: b.leverage, riskPct: form.riskPct, highLeverageConfirmed: b.highLeverageConfirmed,
                dailyLossLimitFraction: b.dailyLossLimitFraction, maxMonthlyDrawdownFraction: b.maxMonthlyDrawdownFraction,
              });
              setReport(toReportData(answer));
            } catch (e) {
              setError(e);
            } finally {
              setBusy(false);
            }
          }}>
          {busy ? 'Running…' : 'Backtest'}
        </button>
      </div>
      <ErrorLine error={error} />
      {report && <BacktestReport data={report} />}
    </section>
  );
}
