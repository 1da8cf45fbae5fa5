/**
 * The replay clock's waiting: a service that does not answer is asked again (the same step,
 * same runId/seq) with a growing pause until it answers or the stall limit passes; meanwhile
 * the clock says whom it waits for, since when and why. A fake port and a fake wall clock make
 * every case instant and deterministic.
 */
import { describe, expect, it } from '@jest/globals';
import type { ClockAck, MarketTick, ServiceName } from '@bulwark/contracts';
import {
  type ClockPort,
  type ClockTime,
  type ClockWait,
  clockSettingsFromEnv,
  ReplayCancelledError,
  ReplayClock,
  ReplayClockError,
  ReplayStalledError,
} from './replay-clock';

const SERVICES: ServiceName[] = ['signals', 'risk', 'execution', 'stop-monitor', 'accounting'];

/** Wall time that moves only when someone waits: `sleep` and the port's simulated timeouts advance it. */
class FakeTime implements ClockTime {
  t = 1_000_000;
  sleeps: number[] = [];
  now() {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal) {
    this.sleeps.push(ms);
    if (!signal?.aborted) this.t += ms;
  }
}

type Call = { kind: 'deliver' | 'sync' | 'command'; service: string; seq?: number };
/** What a request meets: an answer, or an error after `ms` of wall time (a request timeout). */
type Outcome = { fail: ReplayClockError; ms: number } | null;

/**
 * A port whose services answer at once with a fixed append count, except when `script`
 * says otherwise for a call (no answer after a timeout, a refusal).
 */
class FakePort implements ClockPort {
  calls: Call[] = [];
  appended = new Map<string, number>();
  constructor(private readonly time: FakeTime, private readonly script: (c: Call, n: number) => Outcome = () => null) {}

  private async answer(c: Call): Promise<ClockAck> {
    this.calls.push(c);
    const out = this.script(c, this.calls.filter((x) => x.kind === c.kind && x.service === c.service && x.seq === c.seq).length);
    if (out) {
      this.time.t += out.ms;
      throw out.fail;
    }
    return { service: c.service, appended: this.appended.get(c.service) ?? 0, idle: true, interest: 'STEP' };
  }
  deliver(service: ServiceName, tick: MarketTick) {
    return this.answer({ kind: 'deliver', service, seq: tick.seq });
  }
  sync(service: ServiceName) {
    return this.answer({ kind: 'sync', service });
  }
  async command(subject: string) {
    await this.answer({ kind: 'command', service: subject });
    return { ok: true };
  }
}

const tick = (seq: number): MarketTick => ({
  runId: 'run1', venue: 'binance-usdm', symbol: 'BTCUSDT', seq, ts: 1_763_683_200_000 + seq * 15_000, candleOpenTime: 1_763_683_200_000,
  pathIndex: seq % 4, from: '86000.1', to: '86010.5', gap: false, candle: null, funding: null,
});

const silent = (service: string, ms = 2_000) => ({ fail: new ReplayClockError(service, `no answer to step within ${ms / 1000} s`, true), ms });

describe('ReplayClock waits out a silent service', () => {
  it('sends the same step again with a doubling, capped pause until the service answers, and says whom it waits for', async () => {
    const time = new FakeTime();
    const waits: Array<ClockWait | null> = [];
    // execution is silent for its first 6 attempts at step 7 (each attempt times out after 2 s).
    const port = new FakePort(time, (c, n) => (c.kind === 'deliver' && c.service === 'execution' && n <= 6 ? silent('execution') : null));
    const clock = new ReplayClock(port, SERVICES, { time, stall: { stallLimitMs: 60_000, initialBackoffMs: 250, maxBackoffMs: 4_000 }, onWait: (w) => waits.push(w) });
    await clock.prime();
    const since = time.now();
    await clock.step(tick(7));

    const toExecution = port.calls.filter((c) => c.kind === 'deliver' && c.service === 'execution');
    expect(toExecution).toEqual(Array.from({ length: 7 }, () => ({ kind: 'deliver', service: 'execution', seq: 7 })));
    expect(time.sleeps).toEqual([250, 500, 1000, 2000, 4000, 4000]);
    expect(clock.retries).toBe(6);
    // Accounting got step 7 only after execution answered it: the order of the phases holds.
    const order = port.calls.filter((c) => c.kind === 'deliver').map((c) => c.service);
    expect(order).toEqual(['stop-monitor', ...Array(7).fill('execution'), 'accounting', 'risk', 'signals']);
    // One wait reported (same service, same start, same reason), then cleared.
    expect(waits).toEqual([{ service: 'execution', since, reason: 'no answer to step within 2 s' }, null]);
    expect(clock.waitingFor).toBeNull();
  });

  it('gives up after the stall limit with an error naming the service, the time waited and the limit', async () => {
    const time = new FakeTime();
    const port = new FakePort(time, (c) => (c.kind === 'deliver' && c.service === 'risk' ? silent('risk', 10_000) : null));
    const clock = new ReplayClock(port, SERVICES, { time, stall: { stallLimitMs: 45_000, initialBackoffMs: 1_000, maxBackoffMs: 5_000 } });
    await clock.prime();
    const err = await clock.step(tick(3)).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(ReplayStalledError);
    const stalled = err as ReplayStalledError;
    expect(stalled.service).toBe('risk');
    expect(stalled.limitMs).toBe(45_000);
    // Attempts end at 10, 21, 33 and 47 s (10 s timeouts after pauses of 1, 2 and 4 s): 47 s is past the limit.
    expect(stalled.waitedMs).toBe(47_000);
    expect(stalled.message).toBe('risk: gave up after 47 s without an answer (stall limit 45 s: BULWARK_STALL_LIMIT_SECONDS or --stall-limit); last: no answer to step within 10 s');
    expect(port.calls.filter((c) => c.service === 'risk' && c.kind === 'deliver')).toEqual(Array.from({ length: 4 }, () => ({ kind: 'deliver', service: 'risk', seq: 3 })));
    expect(time.sleeps).toEqual([1_000, 2_000, 4_000]);
  });

  it('fails at once on an answer no retry can change (an invalid message)', async () => {
    const time = new FakeTime();
    const port = new FakePort(time, (c) => (c.kind === 'deliver' && c.service === 'signals' ? { fail: new ReplayClockError('signals', 'refused step 0: INVALID_MESSAGE: bad', false), ms: 0 } : null));
    const clock = new ReplayClock(port, SERVICES, { time });
    await clock.prime();
    await expect(clock.step(tick(0))).rejects.toThrow('signals: refused step 0: INVALID_MESSAGE: bad');
    expect(port.calls.filter((c) => c.service === 'signals' && c.kind === 'deliver')).toHaveLength(1);
    expect(time.sleeps).toEqual([]);
  });

  it('an error that is not the clock port\'s own (a bug) is not retried', async () => {
    const time = new FakeTime();
    const port = new FakePort(time);
    port.deliver = async () => {
      throw new TypeError('boom');
    };
    const clock = new ReplayClock(port, SERVICES, { time });
    await clock.prime();
    await expect(clock.step(tick(0))).rejects.toThrow(TypeError);
    expect(time.sleeps).toEqual([]);
  });

  it('waits out a silent sync while quiescing and reports the longest wait when several services are silent', async () => {
    const time = new FakeTime();
    const waits: Array<ClockWait | null> = [];
    let phase = 'prime';
    // After stop-monitor appends at step 0, accounting's and risk's syncs go unanswered for a while.
    const port = new FakePort(time, (c, n) => {
      if (phase !== 'quiesce' || c.kind !== 'sync') return null;
      // n counts this service's syncs since the start, the one of prime() included.
      if (c.service === 'accounting' && n <= 4) return silent('accounting', 1_000);
      if (c.service === 'risk' && n <= 2) return silent('risk', 1_000);
      return null;
    });
    const clock = new ReplayClock(port, SERVICES, { time, stall: { stallLimitMs: 30_000, initialBackoffMs: 100, maxBackoffMs: 400 }, onWait: (w) => waits.push(w) });
    await clock.prime();
    port.appended.set('stop-monitor', 2);
    phase = 'quiesce';
    const t0 = time.now();
    await clock.step(tick(0));
    expect(clock.quiesceRounds).toBe(1);
    // risk's sync is asked first and times out (1 s) before accounting's is sent: risk waits
    // longest, is reported first, then accounting until it answers, then nothing.
    expect(waits).toEqual([
      { service: 'risk', since: t0, reason: 'no answer to step within 1 s' },
      { service: 'accounting', since: t0 + 1_000, reason: 'no answer to step within 1 s' },
      null,
    ]);
    expect(port.calls.filter((c) => c.kind === 'sync' && c.service === 'accounting')).toHaveLength(5); // prime's, then 3 silent and 1 answered
  });

  it('retries an unanswered operator command and names the service from its subject', async () => {
    const time = new FakeTime();
    const waits: Array<ClockWait | null> = [];
    const port = new FakePort(time, (c, n) => (c.kind === 'command' && n <= 2 ? { fail: new ReplayClockError('risk', 'no answer to bulwark.risk.resume: nobody listens', true), ms: 0 } : null));
    const clock = new ReplayClock(port, SERVICES, { time, onWait: (w) => waits.push(w) });
    await clock.prime();
    await expect(clock.command('bulwark.risk.resume', { accountId: 'a' })).resolves.toEqual({ ok: true });
    expect(waits[0]).toMatchObject({ service: 'risk', reason: 'no answer to bulwark.risk.resume: nobody listens' });
    expect(port.calls.filter((c) => c.kind === 'command')).toHaveLength(3);
  });

  it('a cancelled run stops waiting with ReplayCancelledError', async () => {
    const time = new FakeTime();
    const abort = new AbortController();
    const port = new FakePort(time, (c, n) => {
      if (c.kind === 'deliver' && c.service === 'execution') {
        if (n === 3) abort.abort('operator stopped the demo');
        return silent('execution');
      }
      return null;
    });
    const clock = new ReplayClock(port, SERVICES, { time, signal: abort.signal });
    await clock.prime();
    const err = await clock.step(tick(1)).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(ReplayCancelledError);
    expect(err!.message).toBe('replay cancelled: operator stopped the demo');
    expect(port.calls.filter((c) => c.kind === 'deliver' && c.service === 'execution')).toHaveLength(3);
  });
});

describe('ReplayClock.takeOver: where a clock that replaces a dead one goes on', () => {
  /** A port whose sync answers carry each service's last handled step. */
  const clockWith = (last: Partial<Record<ServiceName, { runId: string; seq: number } | null>>) => {
    const time = new FakeTime();
    const port = new FakePort(time);
    const sync = port.sync.bind(port);
    port.sync = async (service: ServiceName) => ({ ...(await sync(service)), lastStep: last[service] ?? null });
    return { clock: new ReplayClock(port, SERVICES, { time }), port };
  };

  it('at the highest step any service handled; the phases up to the last service that handled it are done', async () => {
    // The dead clock was in step 41: stop-monitor and execution had it, accounting had not yet
    // (risk and signals last had earlier steps: they skipped the ones since).
    const { clock, port } = clockWith({ 'stop-monitor': { runId: 'run1', seq: 41 }, execution: { runId: 'run1', seq: 41 }, accounting: { runId: 'run1', seq: 40 }, risk: { runId: 'run1', seq: 12 }, signals: { runId: 'run1', seq: 39 } });
    await clock.prime();
    const took = clock.takeOver('run1');
    expect(took).toEqual({ seq: 41, donePhases: ['stop-monitor', 'execution'] });
    await clock.step(tick(41), took!.donePhases);
    expect(port.calls.filter((c) => c.kind === 'deliver').map((c) => c.service)).toEqual(['accounting', 'risk', 'signals']);
  });

  it('nothing to go by: another run, or no step handled', async () => {
    const { clock } = clockWith({ 'stop-monitor': { runId: 'other', seq: 99 } });
    await clock.prime();
    expect(clock.takeOver('run1')).toBeNull();
  });
});

describe('ReplayClock: what counts as "appended"', () => {
  it('a restarted service whose new count equals its predecessor\'s still makes the clock wait for quiet', async () => {
    const time = new FakeTime();
    const port = new FakePort(time);
    port.appended.set('signals', 1);
    let instance = 'first';
    const deliver = port.deliver.bind(port);
    const sync = port.sync.bind(port);
    port.deliver = async (service, t) => ({ ...(await deliver(service, t)), instance: service === 'signals' ? instance : 'x' });
    port.sync = async (service) => ({ ...(await sync(service)), instance: service === 'signals' ? instance : 'x' });
    const clock = new ReplayClock(port, SERVICES, { time });
    await clock.prime();
    instance = 'second'; // signals restarted: its first append counts 1 again
    const before = port.calls.filter((c) => c.kind === 'sync').length;
    await clock.phase('signals', tick(3));
    expect(port.calls.filter((c) => c.kind === 'sync').length).toBeGreaterThan(before); // quiesced
    // The same instance and count again: nothing appended, no quiesce.
    const again = port.calls.filter((c) => c.kind === 'sync').length;
    await clock.phase('signals', tick(7));
    expect(port.calls.filter((c) => c.kind === 'sync').length).toBe(again);
  });
});

describe('clockSettingsFromEnv', () => {
  it('reads the stall limit and the request timeout in seconds, with defaults of 600 s and 10 s', () => {
    expect(clockSettingsFromEnv({})).toEqual({ stall: { stallLimitMs: 600_000, initialBackoffMs: 250, maxBackoffMs: 5_000 }, requestTimeoutMs: 10_000 });
    expect(clockSettingsFromEnv({ BULWARK_STALL_LIMIT_SECONDS: '20', BULWARK_CLOCK_TIMEOUT_SECONDS: '1.5' })).toMatchObject({ stall: { stallLimitMs: 20_000 }, requestTimeoutMs: 1_500 });
  });

  it('refuses a value that is not a positive number, naming the variable', () => {
    expect(() => clockSettingsFromEnv({ BULWARK_STALL_LIMIT_SECONDS: 'ten' })).toThrow('BULWARK_STALL_LIMIT_SECONDS must be a positive number of seconds, got "ten"');
    expect(() => clockSettingsFromEnv({ BULWARK_CLOCK_TIMEOUT_SECONDS: '0' })).toThrow(RangeError);
  });
});
