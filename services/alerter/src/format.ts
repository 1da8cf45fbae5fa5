import type { RecordedEvent } from '@bulwark/contracts';
import { breakerDetail, utcTime } from '@bulwark/projections';

/**
 * The event types that are alerts: breakers (drawdown alert, pause, lifetime drawdown kill
 * switch, daily trade limit), protection and margin warnings (margin ratio and liquidation
 * distance guards, margin utilisation, spot margin level), a stop that could not close its
 * position, venue alerts and orders whose outcome is unknown. Every event of these types is
 * sent, once per channel; no other event is.
 */
export const ALERT_TYPES = [
  'DrawdownAlert',
  'TradingPaused',
  'LifetimeDrawdownBreached',
  'DailyTradeLimitReached',
  'ProtectionWarning',
  'MarginUtilisationChanged',
  'MarginLevelAlert',
  'ProtectionFailed',
  'VenueAlert',
  'OrderStatusUnknown',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

const ALERT_SET: ReadonlySet<string> = new Set(ALERT_TYPES);

/** Whether events of `type` are alerts ({@link ALERT_TYPES}). */
export function isAlertType(type: string): type is AlertType {
  return ALERT_SET.has(type);
}

/** An alert as it leaves Bulwark: the webhook's JSON body, and the source of the Telegram text. */
export interface AlertPayload {
  eventId: string;
  type: AlertType;
  /** The account the event's stream belongs to; null when the log does not say (a shared stream). */
  accountId: string | null;
  /** When it happened, market time (epoch ms, the event's tsEvent). */
  ts: number;
  /** One line for a person, e.g. "acct-1 TradingPaused: DAILY_LOSS_LIMIT — loss 312.50 USDT ≥ limit 300.00 USDT (2021-05-19)". */
  summary: string;
  /** The event's data as recorded (public fields of the log; the log holds no secret). */
  data: Record<string, unknown>;
}

/** Epoch ms as "2025-11-21 14:03 UTC". */
const utc = (ms: number) => `${utcTime(ms).slice(0, 16)} UTC`;

/** The icon a person sees first: a warning, a stop, an emergency, an all-clear or a question. */
function iconOf(e: RecordedEvent): string {
  const d = e.data as Record<string, unknown>;
  switch (e.type) {
    case 'LifetimeDrawdownBreached':
      return '🛑';
    case 'ProtectionFailed':
      return '🚨';
    case 'VenueAlert':
      return d.kind === 'MARK_PRICE_RESUMED' ? '✅' : '🚨';
    case 'MarginUtilisationChanged':
      return d.level === 'HIGH' ? '⚠️' : '✅';
    case 'MarginLevelAlert':
      return d.direction === 'DOWN' ? '⚠️' : '✅';
    case 'OrderStatusUnknown':
      return '❓';
    default:
      return '⚠️';
  }
}

/** An alert ready to send: the webhook's payload and the Telegram text. */
export interface FormattedAlert {
  payload: AlertPayload;
  /** Icon, summary and market time, plain text (no markup to escape). */
  text: string;
}

/**
 * The alert of an event of an {@link ALERT_TYPES} type, built only from the event's recorded
 * fields (never configuration, so never a token or key).
 * @param e a recorded event whose data passed its schema (parseEvent)
 * @param accountId the account of its stream (null: unknown)
 * @throws Error when `e.type` is not an alert type
 */
export function formatAlert(e: RecordedEvent, accountId: string | null): FormattedAlert {
  if (!isAlertType(e.type)) throw new Error(`${e.type} is not an alert type`);
  // The one description of breaker and guard events (@bulwark/projections), shared with the audits and the dashboard.
  const summary = `${accountId ?? 'account ?'} ${e.type}: ${breakerDetail(e.type, e.data as Record<string, unknown>, e.streamId) || e.type}`;
  return {
    payload: { eventId: e.metadata.eventId, type: e.type, accountId, ts: e.metadata.tsEvent, summary, data: e.data as Record<string, unknown> },
    text: `${iconOf(e)} ${summary} · ${utc(e.metadata.tsEvent)}`,
  };
}
