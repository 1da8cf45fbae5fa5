import { type DomainEvent, Streams } from '@bulwark/contracts';
import { type OrderCommand, type OrderState, orderDecider } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { AggregateRepository, type Causation, type EventAppender, Quarantine } from '@bulwark/messaging';
import type { Logger } from '@nestjs/common';
import { type ExecutionState, OPEN_STATUSES, openOrderOf } from './state';

/**
 * What execution appends: order commands on the order streams (`order-<clientOrderId>`,
 * decided by the domain's order decider), keeping the log's view of open orders and exchange
 * stops current; and events on an account's venue stream (account settings, reconciliations,
 * venue alerts).
 */
export class ExecutionStreams {
  private readonly orders: AggregateRepository<OrderState>;
  private readonly venueRevision = new Map<string, number>();

  constructor(
    private readonly appender: EventAppender,
    private readonly store: EventStore,
    quarantine: Quarantine,
    private readonly state: ExecutionState,
    private readonly log: Logger,
  ) {
    this.orders = new AggregateRepository(
      appender,
      { initialState: orderDecider.initialState, evolve: (s, e) => orderDecider.evolve(s, e as never) },
      (e, reason) => quarantine.report(Quarantine.of(e), reason).then(() => undefined),
    );
  }

  /** The order's state and stream revision (`status` NONE for an order no stream knows). */
  loadOrder(clientOrderId: string): Promise<{ state: OrderState; revision: number | null }> {
    return this.orders.load(Streams.order(clientOrderId));
  }

  /** Run order commands in sequence on one order stream and append what they decide, in one append. */
  async orderCommands(clientOrderId: string, commands: OrderCommand[], c: Causation): Promise<OrderState> {
    const { result, state } = await this.orders.handle(
      Streams.order(clientOrderId),
      (s0) => {
        let s = s0;
        const out: DomainEvent[] = [];
        for (const cmd of commands) {
          const r = orderDecider.decide(cmd, s);
          if (!r.ok) return r;
          for (const ev of r.value) {
            out.push(ev);
            s = orderDecider.evolve(s, ev as never);
          }
        }
        return { ok: true as const, value: out };
      },
      c,
    );
    // A refused transition is not an error of the caller (e.g. a fill reported twice), but it is worth seeing.
    if (!result.ok) this.log.warn(`order ${clientOrderId}: ${commands.map((x) => x.kind).join(', ')} refused in ${state.status}: ${JSON.stringify((result as { error?: unknown }).error)}`);
    this.track(clientOrderId, state);
    return state;
  }

  /** Keep the log's view of open orders and exchange stops current. */
  private track(clientOrderId: string, s: OrderState): void {
    const o = s.order;
    if (!o) return;
    const open = OPEN_STATUSES.has(s.status);
    if (o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') {
      const p = this.state.protective.get(clientOrderId);
      if (!open) this.state.protective.delete(clientOrderId);
      else if (p) p.accepted = s.status === 'ACCEPTED';
      return;
    }
    if (open) this.state.openOrders.set(clientOrderId, openOrderOf(o, s.status));
    else this.state.openOrders.delete(clientOrderId);
  }

  /** Append to the account's venue stream (its expected revision read once, then kept). */
  async appendVenue(accountId: string, events: DomainEvent[], c: Causation): Promise<void> {
    const streamId = Streams.venue(accountId, this.state.venueId);
    if (!this.venueRevision.has(streamId)) this.venueRevision.set(streamId, (await this.store.streamRevision(streamId)) ?? -1);
    const rev = this.venueRevision.get(streamId)!;
    const r = await this.appender.append(streamId, events, rev < 0 ? 'no_stream' : rev, c);
    if (r) this.venueRevision.set(streamId, r.result.nextExpectedRevision);
  }
}
