import {
  type D,
  DEFAULT_MARGIN_LEVEL_BARS,
  type MarginExitKind,
  type MarginLevelBars,
  marginExitReached,
  type MarginPairRules,
  spotMarginGuardDecider,
} from '@bulwark/domain';
import { balancesOf, type MarginDesk } from './margin-desk';

export interface MarginWatchOptions {
  rules: MarginPairRules;
  /** Bulwark's guard levels (default 2.0 / 1.5 / 1.3 / 1.1). */
  bars?: MarginLevelBars;
  /** Close the position when the level falls to the guard's margin-call level (default true): before the venue's own margin call. */
  autoReduce?: boolean;
  /** Market time, epoch ms (default Date.now). */
  now?: () => number;
  /** Reconcile with the venue (adopt exposure the log does not know) on the first observation and every N-th after it (default 60). */
  reconcileEvery?: number;
}

/** What one observation saw and did. */
export interface MarginWatchStep {
  price: D;
  at: number;
  marginLevel: string | null;
  /** The exit that fired on this observation, if any. */
  exit: MarginExitKind | null;
  /** The close failed (venue refusal): the position is still open and the next observation tries again. */
  closeError: { code: string; message: string } | null;
  alerts: number;
  interestRecorded: number;
  /** Reconciliation on this observation: a position adopted or ended, else null. */
  reconciled: 'ADOPTED' | 'ENDED' | null;
}

/**
 * The protection of one spot isolated-margin pair, one observation at a time (`observe`) or on
 * an interval (`start`):
 * - **Iron Exit**: the venue's index price at or through the internal stop (or the take-profit)
 *   → MarginStopTriggered and a market close with AUTO_REPAY. A close the venue refuses is
 *   tried again on every observation until the position is flat: a triggered position is never
 *   left open quietly.
 * - **Margin-level guard**: one MarginLevelAlert per guard level crossed, both ways; at the
 *   guard's margin-call level (1.3 by default, before the venue's own margin call) the position is
 *   closed (MarginCallReductionTriggered, then the close).
 * - **Interest ledger**: new accruals at the venue recorded as MarginInterestCharged once per
 *   UTC hour seen (and on the first observation).
 * - **Reconciliation** (`MarginDesk.reconcile`) on the first observation and every
 *   `reconcileEvery`-th: exposure opened outside Bulwark is adopted with a stop.
 *
 * The stop is watched on the index price Binance values isolated margin at, as futures stops
 * watch the mark price.
 */
export class MarginWatch {
  private readonly bars: MarginLevelBars;
  private readonly autoReduce: boolean;
  private readonly now: () => number;
  private lastInterestHour: number | null = null;
  private observations = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly desk: MarginDesk, private readonly o: MarginWatchOptions) {
    this.bars = o.bars ?? DEFAULT_MARGIN_LEVEL_BARS;
    this.autoReduce = o.autoReduce ?? true;
    this.now = o.now ?? Date.now;
  }

  /**
   * One observation: read the venue's account, run the exits and the guard, record interest.
   * @throws VenueCallError when the venue cannot be read (the caller logs it and observes again).
   */
  async observe(): Promise<MarginWatchStep> {
    const at = this.now();
    let reconciled: MarginWatchStep['reconciled'] = null;
    if (this.observations++ % (this.o.reconcileEvery ?? 60) === 0) {
      const r = await this.desk.reconcile();
      if (r.action !== 'NONE') reconciled = r.action;
    }
    let interestRecorded = 0;
    const hour = Math.floor(at / 3_600_000);
    if (this.lastInterestHour !== hour) {
      interestRecorded = await this.desk.syncInterest();
      this.lastInterestHour = hour;
    }
    const { venue, equity } = await this.desk.account();
    const price = venue.indexPrice;
    const { events } = await this.desk.events();
    const { state: pair } = await this.desk.state();
    const guardState = events.reduce(spotMarginGuardDecider.evolve, spotMarginGuardDecider.initialState());
    const decided = spotMarginGuardDecider.decide({
      kind: 'ObserveMarginLevel', accountId: this.desk.accountId, symbol: this.desk.symbol, autoReduce: this.autoReduce && pair.open !== null,
      side: pair.open?.side ?? 'LONG', price, takerFeeRate: this.o.rules.takerFeeRate, stepSize: this.o.rules.stepSize, bars: this.bars,
      balances: balancesOf(venue),
    }, guardState);
    const guardEvents = decided.ok ? decided.value : [];
    if (guardEvents.length) await this.desk.record(guardEvents);
    const step: MarginWatchStep = {
      price, at, marginLevel: equity.marginLevel === null ? null : equity.marginLevel.toDecimalPlaces(8).toFixed(), exit: null, closeError: null,
      alerts: guardEvents.filter((e) => e.type === 'MarginLevelAlert').length, interestRecorded, reconciled,
    };
    const p = pair.open;
    if (!p) return step;
    const exit = p.triggered ?? (guardEvents.some((e) => e.type === 'MarginCallReductionTriggered') ? 'MARGIN_CALL_REDUCTION' : marginExitReached(p, price));
    if (!exit) return step;
    step.exit = exit;
    const r = await this.desk.triggerAndClose(exit, price, at);
    if (!r.ok) step.closeError = r.error;
    return step;
  }

  /**
   * Observe every `intervalMs` until `stop()`; an observation never overlaps the previous one.
   * @param onStep each observation's result; @param onError a failed read (the watch goes on).
   */
  start(intervalMs: number, onStep: (s: MarginWatchStep) => void = () => undefined, onError: (e: unknown) => void = () => undefined): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.observe().then(onStep, onError).finally(() => {
        if (this.timer) this.timer = setTimeout(tick, intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stop observing; resolves when the observation under way (if any) is done. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running.catch(() => undefined);
  }
}
