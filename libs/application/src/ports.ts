import { type ClockInterest, EquitySnapshot, type RecordedEvent, type ServiceName, Subjects } from '@bulwark/contracts';
import { type EventAppender, requestJson } from '@bulwark/messaging';
import type { NatsConnection } from 'nats';

/** Injection token of the equity source (risk asks accounting "what can this account trade with now"). */
export const EQUITY_SOURCE = Symbol('EQUITY_SOURCE');

/** Accounting's equity read model, as risk sees it. */
export interface EquitySource {
  equity(accountId: string): Promise<EquitySnapshot>;
}

/** The equity source over NATS request/reply (the distributed system). */
export class NatsEquitySource implements EquitySource {
  constructor(private readonly nc: NatsConnection) {}
  async equity(accountId: string): Promise<EquitySnapshot> {
    return EquitySnapshot.parse(await requestJson(this.nc, Subjects.equity, { accountId }, 10_000));
  }
}

/**
 * What every service of the trading pipeline offers, whatever carries its messages (the
 * NestJS transport over NATS, or the in-process backtest): the stored-event categories it
 * consumes, a handler for them, a handler for the replay clock's steps, and which steps it
 * needs next.
 */
export interface PipelineService {
  readonly name: ServiceName;
  readonly appender: EventAppender;
  readonly categories: readonly string[];
  onEvent(e: RecordedEvent): Promise<void>;
  interest(): ClockInterest;
}
