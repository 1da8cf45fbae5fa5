/* Small building blocks: meters, gauges, a confirmation dialog, tables, badges, errors. */
import { Component, useState, type ErrorInfo, type ReactNode } from 'react';
import { ApiError } from '../api';
import { liquidationLevel, liquidationShareLeft, marginRatioLevel, meterWidth, pct, price, tradingStateLevel, type GuardThresholds } from '../format';

/**
 * Liquidation meter: the share of the entry-to-liquidation distance the mark price has left
 * (full at the entry, empty at the liquidation price), coloured by the stop-monitor's guards,
 * with the distance from mark to liquidation as the server computed it.
 */
export function LiquidationMeter(props: {
  side: 'LONG' | 'SHORT';
  entryPrice: string;
  markPrice: string;
  liquidationPrice: string | null;
  liquidationDistance: string | null;
  guards: GuardThresholds | null;
}) {
  const share = liquidationShareLeft(props.entryPrice, props.markPrice, props.liquidationPrice, props.side);
  const level = liquidationLevel(share, props.guards);
  return (
    <div className="meter-wrap" data-testid="liquidation-meter" data-level={level}>
      <div className="meter-label">
        <span>liquidation {props.liquidationPrice === null ? 'none' : price(props.liquidationPrice)}</span>
        <span data-testid="liquidation-distance">{props.liquidationDistance === null ? '—' : `${pct(props.liquidationDistance)} away`}</span>
      </div>
      <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={meterWidth(share)} aria-label="buffer to liquidation left">
        <div className={`meter-fill lvl-${level}`} style={{ width: `${meterWidth(share)}%` }} />
        {props.guards && <div className="meter-tick" style={{ left: `${meterWidth(props.guards.liquidationDistanceClose)}%` }} title="guard closes here" />}
      </div>
      <div className="meter-foot">{share === null ? 'no liquidation price' : `${pct(share, 1)} of the entry-to-liquidation buffer left`}</div>
    </div>
  );
}

/** Margin-ratio gauge: maintenance margin ÷ margin balance, warn and close ticks from the guards. */
export function MarginGauge(props: { marginRatio: string | null; guards: GuardThresholds | null }) {
  const level = marginRatioLevel(props.marginRatio, props.guards);
  return (
    <div className="meter-wrap" data-testid="margin-gauge" data-level={level}>
      <div className="meter-label">
        <span>margin ratio</span>
        <span>{pct(props.marginRatio)}</span>
      </div>
      <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={meterWidth(props.marginRatio)} aria-label="margin ratio">
        <div className={`meter-fill lvl-${level}`} style={{ width: `${meterWidth(props.marginRatio)}%` }} />
        {props.guards && (
          <>
            <div className="meter-tick warn" style={{ left: `${meterWidth(props.guards.marginRatioWarn)}%` }} title="warning" />
            <div className="meter-tick" style={{ left: `${meterWidth(props.guards.marginRatioClose)}%` }} title="guard closes here" />
          </>
        )}
      </div>
    </div>
  );
}

/** The trading state as a coloured badge. */
export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`badge lvl-${tradingStateLevel(state)}`} data-testid="trading-state">
      {state}
    </span>
  );
}

/**
 * A confirmation dialog for a dangerous command: says what will happen, asks for a reason
 * (recorded with the command), and runs it only on an explicit confirm.
 */
export function ConfirmDialog(props: { title: string; body: ReactNode; confirmLabel: string; defaultReason: string; onConfirm: (reason: string) => Promise<void>; onClose: () => void }) {
  const [reason, setReason] = useState(props.defaultReason);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="dialog-backdrop" role="presentation">
      <div className="dialog" role="dialog" aria-modal="true" aria-label={props.title} data-testid="confirm-dialog">
        <h3>{props.title}</h3>
        <div className="dialog-body">{props.body}</div>
        <label>
          reason (recorded with the command)
          <input data-testid="confirm-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
        </label>
        <ErrorLine error={error} />
        <div className="row gap">
          <button type="button" onClick={props.onClose} disabled={busy} data-testid="confirm-cancel">
            Cancel
          </button>
          <button
            type="button"
            className="danger"
            disabled={busy || !reason.trim()}
            data-testid="confirm-ok"
            onClick={async () => {
              setBusy(true);
              setError(null);
              try {
                await props.onConfirm(reason.trim());
                props.onClose();
              } catch (e) {
                setError(e);
                setBusy(false);
              }
            }}
          >
            {busy ? 'Sending…' : props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** An API error or other failure in one line (code, field and reason when the gateway says). */
export function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  const text =
    error instanceof ApiError
      ? `${error.code}${error.field ? ` (${error.field}${error.reason ? `: ${error.reason}` : ''})` : ''}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p className="error" role="alert" data-testid="error">
      {text}
    </p>
  );
}

/**
 * Keeps a failure while rendering (or in an effect) inside the part of the page that failed: React
 * unmounts the whole page on an error no boundary catches, and a trader watching a position must
 * not be left with a blank dashboard (and its kill switch gone) because one chart failed. Shows the
 * error and a retry that renders the part again.
 */
export class ErrorBoundary extends Component<{ label: string; children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: unknown } {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error(`${this.props.label} failed`, error, info.componentStack);
  }

  override render(): ReactNode {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="render-error" data-testid="render-error">
        <p className="muted small">{this.props.label} could not be shown.</p>
        <ErrorLine error={this.state.error} />
        <button type="button" className="ghost" onClick={() => this.setState({ error: null })}>
          Retry
        </button>
      </div>
    );
  }
}

/** A column of a table: header, cell renderer, right-aligned for numbers. */
export interface Column<T> {
  head: string;
  cell: (row: T) => ReactNode;
  num?: boolean;
}

/** A scrollable table (horizontal scroll on phones) with an empty-state line. */
export function Table<T>(props: { rows: readonly T[]; columns: readonly Column<T>[]; rowKey: (row: T) => string; empty: string; testId?: string; rowTestId?: string }) {
  if (!props.rows.length) return <p className="muted">{props.empty}</p>;
  return (
    <div className="table-wrap">
      <table data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c.head} className={c.num ? 'num' : undefined}>
                {c.head}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={props.rowKey(r)} data-testid={props.rowTestId}>
              {props.columns.map((c) => (
                <td key={c.head} className={c.num ? 'num' : undefined}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A labelled figure (statistic) with its unit in the text. */
export function Stat(props: { label: string; value: ReactNode; tone?: string; testId?: string }) {
  return (
    <div className="stat" data-testid={props.testId}>
      <div className="stat-label">{props.label}</div>
      <div className={`stat-value ${props.tone ?? ''}`}>{props.value}</div>
    </div>
  );
}
