import { type EventData, type MarketTick, type RecordedEvent, event } from '@bulwark/contracts';
import { type D, type SplitProgress, dec, nextSplitStep, str, ZERO } from '@bulwark/domain';
import { type Causation, causedBy, causedByTick } from '@bulwark/messaging';
import type { Logger } from '@nestjs/common';
import type { OrderRouting } from './order-routing';
import type { ExecutionState } from './state';
import type { ExecutionStreams } from './streams';

type EndReason = EventData<'EntrySplitEnded'>['reason'];

/** A split entry execution is sending (ExecutionState.splits). */
export interface ActiveSplit {
  approval: EventData<'EntryApproved'>;
  /** The approving event (stream and id): each child's OrderInitialized names it. */
  sourceStreamId: string;
  sourceEventId: string;
  /** Children sent (the first `sent` of the plan) and the market time of the last. */
  sent: number;
  lastSentAt: number | null;
}

/**
 * Split entries (docs/risk.md "Order splitting"): risk approved the parent with its children;
 * execution sends them as `nextSplitStep` (domain) says — the first at once, the next after the
 * interval (SLICES) or when the one before filled whole (ICEBERG) — while the loss at the stop
 * stays within the approved risk, and records `EntrySplitEnded` when no more will go. Each child
 * is an order of its own (`parentClientOrderId`), filled and protected like any entry: its fills
 * grow the one position, and the stop-monitor resizes the stop on each. What the children filled
 * is read from their order streams at each step, so a restart loses nothing.
 */
export class EntrySplits {
  constructor(
    private readonly state: ExecutionState,
    private readonly streams: ExecutionStreams,
    private readonly routing: OrderRouting,
    private readonly log: Logger,
  ) {}

  /** An approved split entry: remember it and send its first child now. */
  async start(e: RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>): Promise<void> {
    const a = e.data;
    const plan = a.split!;
    if (this.state.splitsEnded.has(a.clientOrderId)) return; // redelivered after it ended
    if (!this.state.splits.has(a.clientOrderId)) this.state.splits.set(a.clientOrderId, { approval: a, sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, sent: 0, lastSentAt: null });
    const s = this.state.splits.get(a.clientOrderId)!;
    if (s.sent > 0) return;
    await this.routing.submitEntry(e, plan.children[0]);
    s.sent = 1;
    s.lastSentAt = e.metadata.tsEvent;
  }

  /** A market step: each split on the tick's symbol sends its next child, waits or ends. */
  async onTick(tick: MarketTick): Promise<void> {
    const c = causedByTick(tick);
    for (const [parent, s] of [...this.state.splits]) {
      if (s.approval.symbol !== tick.symbol) continue;
      const progress = await this.progress(s);
      const a = s.approval;
      // A limit child fills at its price or better; a market child at about the market's.
      const price = a.price ? dec(a.price) : dec(tick.to);
      const step = nextSplitStep(progress, tick.ts, price, {
        side: a.side, stopPrice: dec(a.stopPrice), riskAmount: dec(a.assessment.riskAmount),
        entryFeeRate: dec(a.assessment.entryFeeRate ?? a.assessment.takerFeeRate), takerFeeRate: dec(a.assessment.takerFeeRate),
      });
      if (step.kind === 'WAIT') continue;
      if (step.kind === 'END') {
        await this.end(parent, step.reason, step.detail, c, progress.filledQuantity);
        continue;
      }
      const child = a.split!.children[s.sent];
      await this.routing.placeEntry({ data: a, streamId: s.sourceStreamId, metadata: { eventId: s.sourceEventId } }, child, c);
      s.sent += 1;
      s.lastSentAt = tick.ts;
    }
  }

  /** What the sent children did: their fills (from their order streams) and whether the last one filled whole. */
  private async progress(s: ActiveSplit): Promise<SplitProgress> {
    const plan = s.approval.split!;
    let filledQuantity: D = ZERO;
    let filledNotional: D = ZERO;
    let fees: D = ZERO;
    let lastChildFilled = false;
    for (let i = 0; i < s.sent; i++) {
      const { state } = await this.streams.loadOrder(plan.children[i].clientOrderId);
      filledQuantity = filledQuantity.plus(state.filledQuantity);
      filledNotional = filledNotional.plus(state.filledNotional);
      fees = fees.plus(state.fees);
      if (i === s.sent - 1) lastChildFilled = state.status === 'FILLED';
    }
    return { plan, sent: s.sent, lastSentAt: s.lastSentAt, lastChildFilled, filledQuantity, filledNotional, fees };
  }

  /**
   * End a split: record EntrySplitEnded on the account's venue stream and, unless every child
   * was sent, cancel the children still resting.
   */
  async end(parent: string, reason: EndReason, detail: string, c: Causation, filled?: D): Promise<void> {
    const s = this.state.splits.get(parent);
    if (!s) return;
    this.state.splits.delete(parent);
    this.state.splitsEnded.add(parent);
    const plan = s.approval.split!;
    const filledQuantity = filled ?? (await this.progress(s)).filledQuantity;
    this.log.log(`split entry ${parent}: ${reason}, ${s.sent} of ${plan.children.length} children sent, ${str(filledQuantity)} filled (${detail})`);
    await this.streams.appendVenue(s.approval.accountId, [
      event('EntrySplitEnded', { parentClientOrderId: parent, symbol: s.approval.symbol, reason, sent: s.sent, children: plan.children.length, filledQuantity: str(filledQuantity), detail }),
    ], c);
    if (reason === 'COMPLETED') return;
    const children = new Set(plan.children.slice(0, s.sent).map((x) => x.clientOrderId));
    await this.routing.cancelOrders([...children], `split ended (${reason.toLowerCase().replace(/_/g, ' ')}): ${detail}`, c);
  }

  /** End the account's splits (all, or on one symbol) for a kill switch, a triggered stop or an operator's cancel. */
  async endWhere(match: (s: ActiveSplit, parent: string) => boolean, reason: EndReason, detail: string, e: RecordedEvent): Promise<void> {
    for (const [parent, s] of [...this.state.splits]) if (match(s, parent)) await this.end(parent, reason, detail, causedBy(e));
  }

  /**
   * Log rebuild: a split approved for this venue is active until its EntrySplitEnded; children
   * recorded say how many were sent and when the last went.
   */
  rebuild(e: RecordedEvent): void {
    if (e.type === 'EntryApproved') {
      const a = e.data as EventData<'EntryApproved'>;
      if (a.split && a.venue === this.state.venueId && !this.state.splitsEnded.has(a.clientOrderId)) {
        this.state.splits.set(a.clientOrderId, { approval: a, sourceStreamId: e.streamId, sourceEventId: e.metadata.eventId, sent: 0, lastSentAt: null });
      }
    } else if (e.type === 'OrderInitialized') {
      const o = e.data as EventData<'OrderInitialized'>;
      const s = o.parentClientOrderId ? this.state.splits.get(o.parentClientOrderId) : undefined;
      if (!s) return;
      const k = s.approval.split!.children.findIndex((x) => x.clientOrderId === o.clientOrderId);
      if (k + 1 > s.sent) {
        s.sent = k + 1;
        s.lastSentAt = e.metadata.tsEvent;
      }
    } else if (e.type === 'EntrySplitEnded') {
      const parent = (e.data as EventData<'EntrySplitEnded'>).parentClientOrderId;
      this.state.splits.delete(parent);
      this.state.splitsEnded.add(parent);
    }
  }

  /** Whether `clientOrderId` is a split's parent still sending (an operator's cancel of it ends the split). */
  isActiveParent(clientOrderId: string): boolean {
    return this.state.splits.has(clientOrderId);
  }

  /** Log line of the active splits (start-up). */
  describe(): string {
    return [...this.state.splits.values()].map((s) => `${s.approval.clientOrderId} ${s.sent}/${s.approval.split!.children.length}`).join(', ') || 'none';
  }
}
