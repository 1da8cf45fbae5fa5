import { type ClockInterest, EquitySnapshot, type RecordedEvent, type ServiceName, Subjects } from '@bulwark/contracts';
import { type EventAppender, requestJson } from '@bulwark/messaging';
import type { NatsConnection } from 'nats';
import type { D } from '@bulwark/domain';

/** Injection token of the equity source (risk asks accounting "what can this account trade with now"). */
export const EQUITY_SOURCE = Symbol('EQUITY_SOURCE');

/** Accounting's equity read model, as risk sees it. */
export interface EquitySource {
  equity(accountId: string): Promise<EquitySnapshot>;
  /**
   * The snapshot's equity and used margin as decimals (USDT), the same values: a source in the
   * same process (accounting itself) hands them over without a round trip through strings.
   * Optional: without it risk parses the snapshot's.
   */
  equityValues?(accountId: string): Promise<EquityValues>;
}

/** An account's equity and used margin (USDT); `known` false for an account accounting does not have (both zero then). */
export interface EquityValues {
  known: boolean;
  equity: D;
  usedMargin: D;
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
