import { ClockAck, type ClockInterest, type MarketTick, type ServiceName, Subjects } from '@bulwark/contracts';
import type { NatsConnection } from 'nats';
import { RefusedError, requestJson } from './request';
import { INVALID_MESSAGE } from './zod-pipe';

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

/**
 * Thrown when a service answers a clock step, a sync or a command with an error, or not at all.
 * `retryable`: the same request may be sent again (no answer: the service is down, restarting,
 * cut off from NATS or busy; or a refusal that a later attempt may not meet, e.g. a venue's
 * rate limit). Not retryable: an invalid message or answer, which no retry changes.
 */
export class ReplayClockError extends Error {
  constructor(readonly service: string, message: string, readonly retryable = false) {
    super(`${service}: ${message}`);
    this.name = 'ReplayClockError';
  }
}

/** The replay clock gave up: `service` did not answer (or kept refusing) for the whole stall limit. */
export class ReplayStalledError extends ReplayClockError {
  constructor(service: string, readonly waitedMs: number, readonly limitMs: number, readonly lastReason: string) {
    super(
      service,
      `gave up after ${Math.round(waitedMs / 1000)} s without an answer (stall limit ${Math.round(limitMs / 1000)} s: BULWARK_STALL_LIMIT_SECONDS or --stall-limit); last: ${lastReason}`,
    );
    this.name = 'ReplayStalledError';
  }
}

/** The run was cancelled (by an operator) while the clock waited or between two requests. */
export class ReplayCancelledError extends Error {
  constructor(readonly reason: string) {
    super(`replay cancelled: ${reason}`);
    this.name = 'ReplayCancelledError';
  }
}

/** What the clock waits for: the service that has not answered, since when (wall clock, epoch ms) and why. */
export interface ClockWait {
  service: string;
  since: number;
  reason: string;
}

/**
 * How long the clock waits out a service that does not answer.
 * - `stallLimitMs`: give up (ReplayStalledError) when one request has gone unanswered this long;
 * - `initialBackoffMs`, `maxBackoffMs`: the pause after a failed attempt, doubled after each
 *   one up to the maximum (the attempt itself lasts up to the port's timeout).
 */
export interface StallPolicy {
  stallLimitMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_STALL_POLICY: StallPolicy = { stallLimitMs: 600_000, initialBackoffMs: 250, maxBackoffMs: 5_000 };
/** How long one clock request (a step, a sync, a command) waits for its answer before it is sent again. */
export const DEFAULT_CLOCK_REQUEST_TIMEOUT_MS = 10_000;

/**
 * A positive number of seconds (decimals allowed) from the environment variable `name`, in ms.
 * @returns `fallbackMs` when the variable is unset or empty
 * @throws RangeError naming the variable when the value is not a positive number
 */
export function secondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number of seconds, got "${raw}"`);
  return Math.round(v * 1000);
}

/**
 * The clock's waiting settings from the environment: BULWARK_STALL_LIMIT_SECONDS (default 600)
 * and BULWARK_CLOCK_TIMEOUT_SECONDS (one attempt's timeout, default 10); decimals allowed.
 * @throws RangeError naming the variable when a value is not a positive number
 */
export function clockSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): { stall: StallPolicy; requestTimeoutMs: number } {
  const seconds = (name: string, fallbackMs: number) => secondsFromEnv(env, name, fallbackMs);
  return {
    stall: { ...DEFAULT_STALL_POLICY, stallLimitMs: seconds('BULWARK_STALL_LIMIT_SECONDS', DEFAULT_STALL_POLICY.stallLimitMs) },
    requestTimeoutMs: seconds('BULWARK_CLOCK_TIMEOUT_SECONDS', DEFAULT_CLOCK_REQUEST_TIMEOUT_MS),
  };
}

/** Wall time for the clock's waits (a fake one in tests). */
export interface ClockTime {
  now(): number;
  /** Resolve after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemTime: ClockTime = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface ReplayClockOptions {
  stall?: Partial<StallPolicy>;
  time?: ClockTime;
  /** Called when what the clock waits for changes: the longest-waiting request, or null once all answered. */
  onWait?: (wait: ClockWait | null) => void;
  /** Aborting it cancels the run at the next request or wait (ReplayCancelledError with the abort reason). */
  signal?: AbortSignal;
}

/** The service a request subject belongs to (`bulwark.risk.resume` → `risk`), for messages. */
function serviceOfSubject(subject: string): string {
  const parts = subject.split('.');
  return parts[0] === 'bulwark' && parts.length > 2 ? parts[1] : subject;
}

/**
 * The clock over NATS request/reply: `bulwark.clock.<service>`, `bulwark.sync.<service>`.
 * Each request waits `timeoutMs` (BULWARK_CLOCK_TIMEOUT_SECONDS); no answer is a retryable
 * ReplayClockError, and so is a refusal other than an invalid message.
 */
export class NatsClockPort implements ClockPort {
  constructor(private readonly nc: NatsConnection, private readonly timeoutMs = DEFAULT_CLOCK_REQUEST_TIMEOUT_MS) {}

  /** A request whose failure (no answer, refusal) is a ReplayClockError naming `who` and `what` was asked. */
  private async ask(subject: string, who: string, what: string, payload: unknown): Promise<unknown> {
    try {
      return await requestJson(this.nc, subject, payload, this.timeoutMs);
    } catch (e) {
      if (e instanceof RefusedError) throw new ReplayClockError(who, `refused ${what}: ${e.message}`, e.code !== INVALID_MESSAGE);
      const down = /\b503\b/.test((e as Error).message);
      throw new ReplayClockError(who, down ? `no answer to ${what}: nobody listens on ${subject} (down or restarting)` : `no answer to ${what} within ${Math.round(this.timeoutMs / 100) / 10} s`, true);
    }
  }

  private async ack(subject: string, service: string, what: string, payload: unknown): Promise<ClockAck> {
    const ack = ClockAck.safeParse(await this.ask(subject, service, what, payload));
    if (!ack.success) throw new ReplayClockError(service, `invalid answer on ${subject}`);
    return ack.data;
  }

  deliver(service: ServiceName, tick: MarketTick) {
    return this.ack(Subjects.clock(service), service, `step ${tick.seq}`, tick);
  }

  sync(service: ServiceName) {
    return this.ack(Subjects.sync(service), service, 'sync', {});
  }

  command(subject: string, payload: unknown) {
    return this.ask(subject, serviceOfSubject(subject), subject, payload);
  }
}

/**
 * What the clock compares to know whether a service appended: its count with the appender
 * instance that counted it. Found by the restart test: a restarted signals counted its first
 * intent as 1, its predecessor's count was 1 too, so no quiesce ran and the entry was placed
 * two candles late.
 */
const appendMark = (a: ClockAck) => `${a.instance ?? ''}#${a.appended}`;

/** The phases of a step, in order (see ReplayClock). */
export const STEP_PHASES: readonly ServiceName[] = ['stop-monitor', 'execution', 'accounting', 'risk', 'signals'];

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
 *
 * A request that gets no answer (or a retryable refusal) is sent again, the same step with the
 * same runId/seq, after a growing pause, until it is answered or has waited the stall limit;
 * meanwhile `onWait` says which service it waits for, since when and why. The services' transport
 * answers a step it has already handled without running it again.
 */
export class ReplayClock {
  /** Each service's append count as `<appender instance>#<count>`: a restarted service's count starts at 0 again. */
  private readonly appended = new Map<ServiceName, string>();
  private readonly interest = new Map<ServiceName, ClockInterest>();
  /** Each service's last handled step as its first sync answered (before this clock sent any). */
  private readonly handledBefore = new Map<ServiceName, { runId: string; seq: number } | null>();
  private readonly waits = new Map<number, ClockWait>();
  private waitIds = 0;
  private reported: ClockWait | null = null;
  private readonly stall: StallPolicy;
  private readonly time: ClockTime;
  /** Quiesce rounds run, phases delivered / skipped, and requests sent again (for benchmarks and logs). */
  quiesceRounds = 0;
  phasesDelivered = 0;
  phasesSkipped = 0;
  retries = 0;

  constructor(
    private readonly port: ClockPort,
    private readonly services: readonly ServiceName[],
    private readonly options: ReplayClockOptions = {},
  ) {
    this.stall = { ...DEFAULT_STALL_POLICY, ...options.stall };
    this.time = options.time ?? systemTime;
  }

  /** What the clock waits for now (the longest-waiting unanswered request), null when nothing. */
  get waitingFor(): ClockWait | null {
    return this.reported;
  }

  /** Send an operator command in market time and wait for quiet afterwards (also after a refusal). */
  async command(subject: string, payload: unknown): Promise<unknown> {
    try {
      return await this.patiently(serviceOfSubject(subject), () => this.port.command(subject, payload));
    } finally {
      await this.quiesce();
    }
  }

  private note(service: ServiceName, ack: ClockAck): void {
    this.interest.set(service, ack.interest);
  }

  /** Report the longest-waiting request when it changed (a new wait, a new reason, or none left). */
  private report(): void {
    let oldest: ClockWait | null = null;
    for (const w of this.waits.values()) if (!oldest || w.since < oldest.since) oldest = w;
    const r = this.reported;
    if (r === oldest || (r && oldest && r.service === oldest.service && r.since === oldest.since && r.reason === oldest.reason)) return;
    this.reported = oldest ? { ...oldest } : null;
    this.options.onWait?.(this.reported);
  }

  private throwIfCancelled(): void {
    const s = this.options.signal;
    if (s?.aborted) throw new ReplayCancelledError(typeof s.reason === 'string' ? s.reason : String((s.reason as Error | undefined)?.message ?? 'aborted'));
  }

  /**
   * Run `call` until it answers: a retryable ReplayClockError is retried after a pause that
   * doubles from `initialBackoffMs` up to `maxBackoffMs`, while the wait is reported through
   * `onWait`; after `stallLimitMs` without an answer it throws ReplayStalledError.
   * @throws ReplayStalledError, ReplayCancelledError, or the call's non-retryable error
   */
  private async patiently<T>(service: string, call: () => Promise<T>): Promise<T> {
    const id = ++this.waitIds;
    const started = this.time.now();
    let backoff = this.stall.initialBackoffMs;
    try {
      for (;;) {
        this.throwIfCancelled();
        try {
          return await call();
        } catch (e) {
          if (!(e instanceof ReplayClockError) || !e.retryable) throw e;
          const reason = e.message.startsWith(`${e.service}: `) ? e.message.slice(e.service.length + 2) : e.message;
          const waited = this.time.now() - started;
          if (waited >= this.stall.stallLimitMs) throw new ReplayStalledError(service, waited, this.stall.stallLimitMs, reason);
          this.waits.set(id, { service, since: started, reason });
          this.report();
          this.retries++;
          await this.time.sleep(Math.min(backoff, this.stall.stallLimitMs - waited), this.options.signal);
          backoff = Math.min(backoff * 2, this.stall.maxBackoffMs);
        }
      }
    } finally {
      if (this.waits.delete(id)) this.report();
    }
  }

  private deliver(service: ServiceName, tick: MarketTick): Promise<ClockAck> {
    return this.patiently(service, () => this.port.deliver(service, tick));
  }

  private syncAll(): Promise<ClockAck[]> {
    return Promise.all(this.services.map((s) => this.patiently(s, () => this.port.sync(s))));
  }

  /** Ask every service for its append count (and the last step it handled) once, before the first step. */
  async prime(): Promise<void> {
    const acks = await this.syncAll();
    acks.forEach((a, i) => {
      this.appended.set(this.services[i], appendMark(a));
      this.handledBefore.set(this.services[i], a.lastStep ?? null);
      this.note(this.services[i], a);
    });
  }

  /**
   * Where a clock that took over run `runId` from a dead one goes on (after {@link prime}): the
   * highest step any service handled, H, and the phases of H already done. Steps run phase by
   * phase in a fixed order and the next step starts only after every phase of this one, so
   * every step below H reached every service that wanted it then; a service that skipped one
   * (interest NONE) must not get it now, when its state has moved on (a stop placed later would
   * be judged on older prices). At H, the phases up to the last service that handled H are done.
   * @returns null when no service handled a step of `runId` (nothing to go by)
   */
  takeOver(runId: string): { seq: number; donePhases: ServiceName[] } | null {
    const seqs = this.services.map((s) => {
      const l = this.handledBefore.get(s);
      return l && l.runId === runId ? l.seq : -1;
    });
    const h = Math.max(...seqs);
    if (h < 0) return null;
    const last = STEP_PHASES.reduce((at, s, i) => (seqs[this.services.indexOf(s)] === h ? i : at), -1);
    return { seq: h, donePhases: STEP_PHASES.slice(0, last + 1) };
  }

  /** Does `service` sit this step out (its last answer said it needs no such step)? Counts the skip. */
  private skips(service: ServiceName, tick: MarketTick): boolean {
    const wants = this.interest.get(service) ?? 'STEP';
    if (wants === 'NONE' || (wants === 'CLOSE' && !tick.candle)) {
      this.phasesSkipped++;
      return true;
    }
    return false;
  }

  /** Deliver one step to one service; quiesce when it appended anything. */
  async phase(service: ServiceName, tick: MarketTick): Promise<void> {
    if (this.skips(service, tick)) return;
    return this.deliverPhase(service, tick);
  }

  private async deliverPhase(service: ServiceName, tick: MarketTick): Promise<void> {
    this.phasesDelivered++;
    const ack = await this.deliver(service, tick);
    this.note(service, ack);
    if (appendMark(ack) !== this.appended.get(service)) {
      this.appended.set(service, appendMark(ack));
      await this.quiesce();
    }
  }

  /** Wait until no service has anything left to handle and nobody appended since the last round. */
  async quiesce(): Promise<void> {
    for (;;) {
      this.quiesceRounds++;
      const acks = await this.syncAll();
      let changed = false;
      acks.forEach((a, i) => {
        const s = this.services[i];
        if (this.appended.get(s) !== appendMark(a)) changed = true;
        this.appended.set(s, appendMark(a));
        this.note(s, a);
      });
      if (!changed) return;
    }
  }

  /** Run one market step through the phases, leaving out `done` (phases a replaced clock already ran). */
  step(tick: MarketTick, done: readonly ServiceName[] = []): Promise<void> {
    return this.stepUnlessSkipped(tick, done) ?? Promise.resolve();
  }

  /**
   * {@link step}, without a promise when every phase was skipped (nothing sent): a quiet step
   * then costs its caller no microtask (most steps of an in-process backtest of a flat account).
   * @returns undefined when nothing was sent, else a promise of the step's end
   */
  stepUnlessSkipped(tick: MarketTick, done: readonly ServiceName[] = []): Promise<void> | undefined {
    // Skipping has no effect on any service, so the phases before the first one delivered are judged at once.
    for (let i = 0; i < STEP_PHASES.length; i++) {
      const s = STEP_PHASES[i];
      if (done.includes(s) || this.skips(s, tick)) continue;
      return this.stepFrom(i, tick, done);
    }
    return undefined;
  }

  private async stepFrom(first: number, tick: MarketTick, done: readonly ServiceName[]): Promise<void> {
    await this.deliverPhase(STEP_PHASES[first], tick);
    for (let i = first + 1; i < STEP_PHASES.length; i++) if (!done.includes(STEP_PHASES[i])) await this.phase(STEP_PHASES[i], tick);
  }
}
