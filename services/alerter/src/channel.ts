import type { FormattedAlert } from './format';

/** The channels an alert goes to; the name is part of the sent-ledger key. */
export type ChannelName = 'telegram' | 'webhook';

/** One way of telling a person: it sends one alert, or throws a {@link ChannelSendError}. */
export interface AlertChannel {
  readonly name: ChannelName;
  /** Where it sends, for logs (never a secret). */
  describe(): string;
  send(alert: FormattedAlert): Promise<void>;
}

/** A send that failed; the alerter retries it. `retryAfterMs`: the receiver asked to wait this long. */
export interface ChannelSendError extends Error {
  channel: ChannelName;
  retryAfterMs?: number;
}

/** A {@link ChannelSendError} whose message names the channel and the failure (the caller keeps secrets out of it). */
export function channelError(channel: ChannelName, message: string, retryAfterMs?: number): ChannelSendError {
  const e = new Error(`${channel}: ${message}`) as ChannelSendError;
  e.name = 'ChannelSendError';
  e.channel = channel;
  if (retryAfterMs !== undefined) e.retryAfterMs = retryAfterMs;
  return e;
}
