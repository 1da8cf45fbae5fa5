/** A local venue's own clock: market time that advances by itself, `speed` × wall time. */
export interface OwnClock {
  /** Clear the timer; idempotent. */
  stop(): void;
}

/** Options of `startOwnClock`. */
export interface OwnClockOptions {
  /** Market ms per wall ms: a finite number > 0 (600 = ten market minutes a wall second). */
  speed: number;
  /** Market time (ms) at the start: the ts of the first step to walk. */
  marketStart: number;
  /** Walk the venue's steps up to market time `ts` (ms), inclusive; called with non-decreasing `ts`. */
  advanceTo: (ts: number) => unknown;
  /** Wall clock (ms; default Date.now). */
  wall?: () => number;
  /** Wall ms between ticks (integer > 0, default 50). */
  periodMs?: number;
}

/**
 * Check a venue's `speed` option before the venue starts (so a bad value never leaves a port open).
 * @returns null when the own clock is off (`undefined` or 0: market time moves only on request), else `speed`
 * @throws RangeError when `speed` is negative, NaN or infinite
 */
export function ownClockSpeed(speed: number | undefined): number | null {
  if (speed === undefined || speed === 0) return null;
  if (!Number.isFinite(speed) || speed < 0) throw new RangeError(`speed must be a finite number >= 0 (0 = no own clock), got ${speed}`);
  return speed;
}

/**
 * Run a venue's market time at `speed` × wall time from `marketStart`: at once (so the first
 * step is walked before the first request) and then every `periodMs`, call
 * `advanceTo(marketStart + (wall() − wallStart) × speed)`. The target is computed from the
 * elapsed wall time, not by summing ticks, so late timers on a busy machine never slow market
 * time down; they only make a tick walk more steps. Steps walked by other means (an admin
 * advance) are simply not walked again: the clock waits until its target passes them.
 * The timer is unref'd: it never keeps the process alive on its own.
 * @returns the running clock; `stop()` clears the timer.
 * @throws RangeError when `speed` is not a finite number > 0 or `periodMs` not an integer > 0
 */
export function startOwnClock(o: OwnClockOptions): OwnClock {
  const { marketStart, advanceTo } = o;
  const wall = o.wall ?? Date.now;
  const periodMs = o.periodMs ?? 50;
  const speed = ownClockSpeed(o.speed);
  if (speed === null) throw new RangeError('own clock: speed must be > 0, got 0');
  if (!Number.isInteger(periodMs) || periodMs <= 0) throw new RangeError(`own clock: periodMs must be an integer > 0, got ${periodMs}`);
  const wallStart = wall();
  const tick = () => advanceTo(marketStart + (wall() - wallStart) * speed);
  tick();
  let timer: NodeJS.Timeout | null = setInterval(tick, periodMs);
  timer.unref();
  return {
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
