/*
 * The audit trail of one order (GET /api/audit/orders/:clientOrderId, the JSON of
 * `bulwark audit order`): candle → intent → assessment ("why this size") → order → fills →
 * position, and for a protective order the stop that fired and the entry it protected.
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { ErrorLine } from '../components/widgets';
import { pct, price, qty, usdt, utc } from '../format';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

function Step(props: { n: number; title: string; children: React.ReactNode }) {
  return (
    <li className="audit-step">
      <div className="audit-n">{props.n}</div>
      <div>
        <h4>{props.title}</h4>
        {props.children}
      </div>
    </li>
  );
}

/** "Why this size": the sizing chain of the assessment, each value as the risk service recorded it. */
function WhySize({ a }: { a: Obj }) {
  const s = (k: string) => text(a[k]);
  return (
    <div className="why" data-testid="audit-why-size">
      <p>
        risk amount = equity {usdt(s('equity'))} × risk {pct(s('riskFraction'))} = <b>{usdt(s('riskAmount'))}</b>
      </p>
      <p>
        loss per unit = stop distance {price(s('stopDistance'))} + fees {price(s('feePerUnit'), 4)} = {price(s('lossPerUnit'), 4)} USDT per BTC
      </p>
      <p>
        quantity by risk = risk amount ÷ loss per unit = {qty(s('rawQuantity'), 6)} BTC; capped by margin {usdt(s('maxMargin'))} at {s('leverage')}x: {qty(s('marginCappedQuantity'), 6)} BTC;
        rounded to the step: <b>{qty(s('quantity'))} BTC</b> (notional {usdt(s('notional'))}, initial margin {usdt(s('initialMargin'))})
      </p>
      <p>
        liquidation {price(s('liquidationPrice'))}; stop to liquidation {price(s('stopToLiquidation'))} against the required buffer {price(s('requiredBuffer'))}; loss at the stop{' '}
        {usdt(s('lossAtStop'))}
      </p>
    </div>
  );
}

function Source({ source }: { source: Obj }) {
  const kind = text(source.kind);
  if (kind === 'ENTRY') {
    const candle = obj(source.candle);
    const intent = obj(obj(source.intent)?.data);
    const assessment = obj(source.assessment);
    return (
      <>
        <Step n={1} title="Candle">
          {candle ? <p>{text(candle.venue)} {text(candle.symbol)} bar of {utc(candle.openTime as number)}</p> : <p className="muted">not recorded</p>}
        </Step>
        <Step n={2} title="Intent">
          {intent ? (
            <p>
              {text(intent.strategy) ?? 'strategy'}: {text(intent.side)} with stop {price(text(intent.stopPrice))}
              {intent.takeProfitPrice ? `, take-profit ${price(text(intent.takeProfitPrice))}` : ''}
              {intent.reason ? ` — ${text(intent.reason)}` : ''}
            </p>
          ) : (
            <p className="muted">not recorded</p>
          )}
        </Step>
        <Step n={3} title="Assessment: why this size">{assessment ? <WhySize a={assessment} /> : <p className="muted">not recorded</p>}</Step>
      </>
    );
  }
  if (kind === 'PROTECTIVE') {
    const trig = obj(obj(source.trigger)?.data);
    const placed = obj(obj(source.stopPlaced)?.data);
    return (
      <>
        <Step n={1} title="Protection">
          {placed && (
            <p>
              stop {price(text(placed.stopPrice))}, take-profit {price(text(placed.takeProfitPrice))} for the {text(placed.positionSide)} of {qty(text(placed.quantity))} from{' '}
              {price(text(placed.entryPrice))}
            </p>
          )}
          {trig && (
            <p>
              {text(trig.kind)} fired at {price(text(trig.triggerPrice))} (level {price(text(trig.level))})
            </p>
          )}
        </Step>
        <Step n={2} title="Entry it protected">
          {obj(source.entry) ? <p>{text(obj(source.entry)!.clientOrderId)}</p> : <p className="muted">not found</p>}
        </Step>
        <Step n={3} title="Assessment">
          {obj(obj(obj(source.entry)?.source)?.assessment) ? <WhySize a={obj(obj(obj(source.entry)?.source)?.assessment)!} /> : <p className="muted">see the entry</p>}
        </Step>
      </>
    );
  }
  return (
    <Step n={1} title="Source">
      <p>{kind ?? 'unknown'}</p>
    </Step>
  );
}

/** The audit trail of one order, loaded from the gateway. */
export function AuditPanel({ clientOrderId }: { clientOrderId: string }) {
  const [audit, setAudit] = useState<Obj | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setAudit(null);
    setError(null);
    api.auditOrder(clientOrderId).then(setAudit, setError);
  }, [clientOrderId]);
  if (error) return <ErrorLine error={error} />;
  if (!audit) return <p className="muted">Loading the audit of {clientOrderId}…</p>;
  const order = obj(audit.order);
  const fills = Array.isArray(audit.fills) ? (audit.fills as Obj[]) : [];
  const positions = Array.isArray(audit.positions) ? (audit.positions as Obj[]) : [];
  const problems = Array.isArray(audit.problems) ? (audit.problems as string[]) : [];
  return (
    <div className="card audit" data-testid="audit-panel">
      <h3>
        Order {clientOrderId} <span className="muted small">{text(audit.purpose)} · {text(audit.status)}</span>
      </h3>
      <ol className="audit-chain">
        {obj(audit.source) && <Source source={obj(audit.source)!} />}
        <Step n={4} title="Order">
          {order ? (
            <p>
              {text(order.side)} {text(order.type)} {qty(text(order.quantity))} {text(order.symbol)}
              {order.reduceOnly ? ' reduce-only' : ''} → {text(audit.status)}, filled {qty(text(audit.filledQuantity))} at {price(text(audit.averageFillPrice))}, fees {usdt(text(audit.fees))}
            </p>
          ) : (
            <p className="muted">not recorded</p>
          )}
        </Step>
        <Step n={5} title={`Fills (${fills.length})`}>
          {fills.map((f) => (
            <p key={String(f.tradeId)}>
              {utc(f.tsEvent as number, { seconds: true })}: {text(f.side)} {qty(text(f.quantity))} at {price(text(f.price))}, fee {usdt(text(f.fee), { unit: false })} {text(f.feeAsset)} ({text(f.liquidity)})
            </p>
          ))}
        </Step>
        <Step n={6} title="Position">
          {positions.map((p) => {
            const pnl = obj(p.pnl);
            return (
              <p key={String(p.streamId)}>
                {text(p.streamId)}: {text(p.status)} {text(p.side)} from {price(text(p.entryPrice))} at {String(p.leverage)}x{pnl ? `; net ${usdt(text(pnl.net), { sign: true })}` : ''}
              </p>
            );
          })}
          {positions.length === 0 && <p className="muted">none</p>}
        </Step>
      </ol>
      {problems.length > 0 && <p className="error">Problems: {problems.join('; ')}</p>}
      <details>
        <summary>the full audit (JSON)</summary>
        <pre className="json">{JSON.stringify(audit, null, 2)}</pre>
      </details>
    </div>
  );
}
