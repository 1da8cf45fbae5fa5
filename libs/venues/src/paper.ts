import type { VenueId } from '@bulwark/contracts';
import {
  type ClockStepRef,
  type D,
  PaperRestoreError,
  type PaperRestoreEvent,
  type PaperRestoreProblem,
  type PaperStep,
  PaperVenue,
  type PaperVenueEvent,
  type PaperVenueOptions,
  type PaperVenueSnapshot,
  type Rules,
  restorePaperVenue,
} from '@bulwark/domain';
import type { SimulatedVenue, VenueOrderRequest } from './port';
import { reportVenueWeight, timeVenueRequest } from '@bulwark/telemetry';

/** A step as the replay clock sends it (MarketTick): its run and number travel with it. */
export type PaperClockStep = PaperStep & { runId?: string; seq?: number };
/** A funding settlement riding on a step, with its time when the clock gives it (MarketTick.funding). */
export type PaperStepFunding = { rate: string; fundingTime?: number };

/** What a restore put back (see PaperVenueAdapter.restore). */
export interface PaperRestoreReport {
  /** Accounts the venue holds again. */
  accounts: number;
  /** Facts that could not be applied (index into the events given, and why). */
  problems: PaperRestoreProblem[];
  /** The last clock step whose venue facts the log holds. */
  lastStep: ClockStepRef | null;
}

/** A call made on a restored venue before any new step, and its answer: made again if the venue is rebuilt. */
interface JournalledCall {
  name: string;
  call: (v: PaperVenue) => unknown;
  answer: unknown;
}

interface RestoredState {
  lastStep: ClockStepRef;
  /** The highest step of `lastStep.runId` this venue has taken (restored or run). */
  seq: number;
  settledFunding: ReadonlyMap<string, number>;
  /** What rebuilding the venue just before `lastStep` needs; null once a later step ran. */
  rewind: { events: readonly PaperRestoreEvent[]; problems: ReadonlySet<string>; calls: JournalledCall[] } | null;
}

/** An answer's gist: ok with its ids, or the error code. */
function gist(answer: unknown): string {
  if (answer === undefined) return 'done';
  const r = answer as { ok: boolean; value?: unknown; error?: { code: string } };
  if (!r.ok) return `error ${r.error?.code}`;
  const v = r.value;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `ok ${String(o['venueOrderId'] ?? '')} ${String(o['leverage'] ?? '')}`;
  }
  return `ok ${String(v)}`;
}

/**
 * The paper venue behind the VenuePort: the domain's PaperVenue engine (Binance USDⓈ-M
 * matching and isolated margin) with the port's asynchronous shape.
 *
 * The engine lives in this process. After a restart, `restore` rebuilds it from the facts the
 * event log holds (domain `restorePaperVenue`), and `advance` then takes the replay clock's
 * steps as the original would have: a step of the same run at or before the last step the log
 * shows facts of was taken already (nothing happens again), except that last step itself — the
 * step in flight when the process died, which the clock sends again — which is run again on
 * the venue rebuilt just before it (then the calls made since the restore are made again), so
 * it produces exactly what the original produced, trades the crash kept from the log included
 * (the order streams keep each trade id once). A funding settlement the log already shows is
 * not booked twice.
 *
 * A running venue asked for the step it just took again (the caller failed to record its
 * outcome — an append during a NATS outage — and the clock sends the step again) answers with
 * that step's events again, without matching anything a second time; an older step of the
 * run answers nothing.
 */
export class PaperVenueAdapter implements SimulatedVenue {
  private engine: PaperVenue;
  private restored: RestoredState | null = null;
  /** The last clock step this running venue took, and what it answered. */
  private lastTaken: { runId: string; seq: number; out: PaperVenueEvent[] } | null = null;
  /**
   * @param options the engine's liquidity model and trade split (default: whole fills, one trade each)
   * @throws PaperVenueOptionsError when an option is out of range
   */
  constructor(readonly venue: VenueId, private readonly rules: ReadonlyMap<string, Rules>, private readonly options: PaperVenueOptions = {}) {
    this.engine = new PaperVenue(rules, options);
    // The paper venue has no request weight limit: it reports 0 used.
    reportVenueWeight(venue, 0);
  }

  /** True when the venue holds no account (a new process before any funding or restore). */
  isEmpty(): boolean {
    return this.engine.snapshot().accounts.length === 0;
  }

  /**
   * Rebuild the venue from the log's facts about it (domain `restorePaperVenue`: the `venue`,
   * `order`, `position` and `signal` events of the log, validated, in log order).
   * @returns how many accounts it holds again, the facts that could not be applied, the last step with facts
   * @throws Error when the venue already holds an account (a running venue is not rebuilt over itself)
   */
  restore(events: readonly PaperRestoreEvent[]): PaperRestoreReport {
    if (!this.isEmpty()) throw new Error('restore: this paper venue already holds accounts');
    const r = restorePaperVenue(this.rules, this.options, events);
    this.engine = r.venue;
    this.restored = r.lastStep
      ? { lastStep: r.lastStep, seq: r.lastStep.seq, settledFunding: r.settledFunding, rewind: { events, problems: new Set(r.problems.map((p) => `${p.index}:${p.reason}`)), calls: [] } }
      : null;
    return { accounts: r.venue.snapshot().accounts.length, problems: r.problems, lastStep: r.lastStep };
  }

  /** The engine's state (PaperVenue.snapshot). */
  snapshot(): PaperVenueSnapshot {
    return this.engine.snapshot();
  }

  private journal<T>(name: string, call: (v: PaperVenue) => T): T {
    const answer = call(this.engine);
    this.restored?.rewind?.calls.push({ name, call, answer });
    return answer;
  }

  hasAccount(accountId: string) {
    return this.engine.hasAccount(accountId);
  }
  isIdle() {
    return this.engine.isIdle();
  }
  deposit(accountId: string, amount: D) {
    this.journal('deposit', (v) => v.fund(accountId, amount));
  }

  /**
   * One path step. A clock step (with runId and seq) of a restored venue's run is taken at
   * most once, see the class note.
   * @throws PaperRestoreError when the step run again does not reproduce what the log recorded of it
   */
  advance(symbol: string, step: PaperClockStep, funding: PaperStepFunding | null): PaperVenueEvent[] {
    const g = this.restored;
    if (g && step.runId === g.lastStep.runId && step.seq !== undefined) {
      if (step.seq < g.seq) return [];
      if (step.seq === g.seq) return g.rewind ? this.again(g, symbol, step, funding) : [];
      g.seq = step.seq;
      g.rewind = null;
      const settled = g.settledFunding.get(symbol);
      if (funding && funding.fundingTime !== undefined && settled !== undefined && funding.fundingTime <= settled) funding = null;
    } else if (g) g.rewind = null;
    const last = this.lastTaken;
    if (!g && last && step.runId === last.runId && step.seq !== undefined) {
      if (step.seq < last.seq) return [];
      if (step.seq === last.seq) return last.out;
    }
    const out = this.engine.step(symbol, step, funding);
    if (step.runId !== undefined && step.seq !== undefined) this.lastTaken = { runId: step.runId, seq: step.seq, out };
    return out;
  }

  /** Rebuild the venue just before the restored last step, run the step, make the calls since the restore again. */
  private again(g: RestoredState, symbol: string, step: PaperClockStep, funding: PaperStepFunding | null): PaperVenueEvent[] {
    const rewind = g.rewind!;
    g.rewind = null;
    let out: PaperVenueEvent[] = [];
    const r = restorePaperVenue(this.rules, this.options, rewind.events, { rerun: { causationId: g.lastStep.causationId, run: (v) => (out = v.step(symbol, step, funding)) } });
    const fresh = r.problems.filter((p) => !rewind.problems.has(`${p.index}:${p.reason}`));
    if (fresh.length > 0) throw new PaperRestoreError(`step ${g.lastStep.causationId} run again: ${fresh.map((p) => p.reason).join('; ')}`);
    for (const c of rewind.calls) {
      const answer = c.call(r.venue);
      if (gist(answer) !== gist(c.answer)) throw new PaperRestoreError(`step ${g.lastStep.causationId} run again: ${c.name} answered ${gist(answer)}, before ${gist(c.answer)}`);
    }
    this.engine = r.venue;
    return out;
  }

  // Each request is timed under the Binance endpoint it stands for (bulwark_venue_request_seconds).
  async setOneWayMode(accountId: string) {
    return timeVenueRequest(this.venue, 'POST /fapi/v1/positionSide/dual', async () => this.journal('setOneWayMode', (v) => v.setOneWayMode(accountId)));
  }
  async setIsolatedMargin(accountId: string, symbol: string) {
    return timeVenueRequest(this.venue, 'POST /fapi/v1/marginType', async () => this.journal('setIsolatedMargin', (v) => v.setIsolated(accountId, symbol)));
  }
  async setLeverage(accountId: string, symbol: string, leverage: number) {
    return timeVenueRequest(this.venue, 'POST /fapi/v1/leverage', async () => this.journal('setLeverage', (v) => v.setLeverage(accountId, symbol, leverage)));
  }
  async placeOrder(accountId: string, order: VenueOrderRequest) {
    return timeVenueRequest(this.venue, 'POST /fapi/v1/order', async () => this.journal('placeOrder', (v) => v.placeOrder(accountId, order)));
  }
  async cancelOrder(accountId: string, clientOrderId: string) {
    return timeVenueRequest(this.venue, 'DELETE /fapi/v1/order', async () => this.journal('cancelOrder', (v) => v.cancelOrder(accountId, clientOrderId)));
  }
  async account(accountId: string) {
    return timeVenueRequest(this.venue, 'GET /fapi/v2/account', async () => this.engine.account(accountId));
  }
  /** The order with this client order id, as the venue holds it (`GET /fapi/v1/order?origClientOrderId=`); null when it never arrived. */
  async order(accountId: string, _symbol: string, clientOrderId: string): Promise<{ venueOrderId: string } | null> {
    const rec = this.engine.order(accountId, { clientOrderId });
    return rec ? { venueOrderId: rec.venueOrderId } : null;
  }
}
