import { ClockAck, type ClockInterest, type MarketTick, type ServiceName, Subjects } from '@bulwark/contracts';
import type { NatsConnection } from 'nats';
import { requestJson } from './request';

/**
 * How the replay clock reaches the services: over NATS for the distributed system
 * (`NatsClockPort`), by direct calls for the in-process backtest. Same clock, same order.
 */
export interface ClockPort {
  /** Deliver one step to one service; it answers when it has handled it. */
  deliver(service: ServiceName, tick: MarketTick): Promise<ClockAck>;
  /** Answer when the service has handled every stored event so far and nothing runs. */
  sync(service: ServiceName): Promise<ClockAck>;
  /** An operator command (request/reply); throws on a refusal. */
  command(subject: string, payload: unknown): Promise<unknown>;
}

/** Thrown when a service answers a clock step or a sync with an error, or not at all. */
export class ReplayClockError extends Error {
  constructor(readonly service: string, message: string) {
    super(`${service}: ${message}`);
    this.name = 'ReplayClockError';
  }
}

/**
 * The replay clock: drives market time through the services in a fixed order, one path
 * step at a time, and waits for the system to be quiet before the next step. That makes a
 * distributed replay deterministic: the same candles give the same events in the same order.
 *
 * Per step: stop-monitor (internal stops and guards see the price first, as they would on a
 * live mark-price stream) → execution (the paper venue matches: queued orders, triggered
 * stops, liquidations) → accounting (mark-to-market, funding) → risk (the drawdown breakers
 * observe equity) → signals (on the bar's close only). A phase is skipped when its service
 * said it needs no such step (`ClockAck.interest`).
 * After each phase that appended events, `quiesce` waits until every service's durable
 * consumer has caught up and nobody appends any more (the cascade of fills → positions →
 * stops, or intents → risk → orders, has run out).
 */
/** The clock over NATS request/reply: `bulwark.clock.<service>`, `bulwark.sync.<service>`. */
export class NatsClockPort implements ClockPort {
  constructor(private readonly nc: NatsConnection, private readonly timeoutMs = 30_000) {}

  /** A request whose failure (no answer, refusal) is a ReplayClockError naming `who`. */
  private async ask(subject: string, who: string, payload: unknown): Promise<unknown> {
    try {
      return await requestJson(this.nc, subject, payload, this.timeoutMs);
    } catch (e) {
      throw new ReplayClockError(who, (e as Error).message);
    }
  }

  private async ack(subject: string, service: string, payload: unknown): Promise<ClockAck> {
    const ack = ClockAck.safeParse(await this.ask(subject, service, payload));
    if (!ack.success) throw new ReplayClockError(service, `invalid answer on ${subject}`);
    return ack.data;
  }

  deliver(service: ServiceName, tick: MarketTick) {
    return this.ack(Subjects.clock(service), service, tick);
  }

  sync(service: ServiceName) {
    return this.ack(Subjects.sync(service), service, {});
  }

  command(subject: string, payload: unknown) {
    return this.ask(subject, subject, payload);
  }
}

export class ReplayClock {
  private readonly appended = new Map<ServiceName, number>();
  private readonly interest = new Map<ServiceName, ClockInterest>();
  /** Quiesce rounds run and phases delivered / skipped (for benchmarks and logs). */
  quiesceRounds = 0;
  phasesDelivered = 0;
  phasesSkipped = 0;

  constructor(
    private readonly port: ClockPort,
    private readonly services: readonly ServiceName[],
  ) {}

  /** Send an operator command in market time and wait for quiet afterwards (also after a refusal). */
  async command(subject: string, payload: unknown): Promise<unknown> {
    try {
      return await this.port.command(subject, payload);
    } finally {
      await this.quiesce();
    }
  }

  private note(service: ServiceName, ack: ClockAck): void {
    this.interest.set(service, ack.interest);
  }


  /** Ask every service for its append count once (before the first step). */
  async prime(): Promise<void> {
    const acks = await Promise.all(this.services.map((s) => this.port.sync(s)));
    acks.forEach((a, i) => {
      this.appended.set(this.services[i], a.appended);
      this.note(this.services[i], a);
    });
  }

  /** Deliver one step to one service; quiesce when it appended anything. */
  async phase(service: ServiceName, tick: MarketTick): Promise<void> {
    const wants = this.interest.get(service) ?? 'STEP';
    if (wants === 'NONE' || (wants === 'CLOSE' && !tick.candle)) {
      this.phasesSkipped++;
      return;
    }
    this.phasesDelivered++;
    const ack = await this.port.deliver(service, tick);
    this.note(service, ack);
    if (ack.appended !== this.appended.get(service)) {
      this.appended.set(service, ack.appended);
      await this.quiesce();
    }
  }

  /** Wait until no service has anything left to handle and nobody appended since the last round. */
  async quiesce(): Promise<void> {
    for (;;) {
      this.quiesceRounds++;
      const acks = await Promise.all(this.services.map((s) => this.port.sync(s)));
      let changed = false;
      acks.forEach((a, i) => {
        const s = this.services[i];
        if (this.appended.get(s) !== a.appended) changed = true;
        this.appended.set(s, a.appended);
        this.note(s, a);
      });
      if (!changed) return;
    }
  }

  /** Run one market step through the phases. */
  async step(tick: MarketTick): Promise<void> {
    await this.phase('stop-monitor', tick);
    await this.phase('execution', tick);
    await this.phase('accounting', tick);
    await this.phase('risk', tick);
    await this.phase('signals', tick);
  }
}
