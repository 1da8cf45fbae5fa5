/**
 * `replay --rerun` on a real-data backtest log (BTCUSDT 1m, 2025-11-12 .. 2025-11-22): today's
 * account decider decides every recorded decision again. Unchanged, nothing differs; with one
 * rule changed (a losing-streak pause of 2), exactly the position results that end a streak of
 * two or more losses differ, each by the pause it would have added.
 */
import type { EventData, RecordedEvent } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { runBacktest } from './backtest';
import { rerunAccount, RerunInputError } from './rerun';

const ACCOUNT = 'rerun-spec';

let store: InMemoryEventStore;
let account: RecordedEvent[];

beforeAll(async () => {
  store = new InMemoryEventStore();
  await runBacktest({
    accountId: ACCOUNT, candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
    capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: Date.parse('2025-11-12T00:00:00Z'), to: Date.parse('2025-11-22T00:00:00Z'), store,
  });
  account = [];
  for await (const e of store.readAll()) if (e.streamId === `account-${ACCOUNT}`) account.push(e);
}, 300_000);

describe('replay --rerun (first-order re-decision of an account stream)', () => {
  it('today\'s decider on the recorded configuration decides every entry, result and operator command the same way', async () => {
    const r = await rerunAccount(store, ACCOUNT);
    const kinds = new Set(r.decisions.map((d) => d.command));
    expect(kinds.has('AssessEntry')).toBe(true);
    expect(kinds.has('RecordPositionResult')).toBe(true);
    // Every entry decision and every result in the log was decided again.
    const entries = account.filter((e) => e.type === 'EntryApproved' || e.type === 'EntryDenied').length;
    const results = account.filter((e) => e.type === 'PositionResultRecorded').length;
    expect(r.decisions.filter((d) => d.command === 'AssessEntry')).toHaveLength(entries);
    expect(r.decisions.filter((d) => d.command === 'RecordPositionResult')).toHaveLength(results);
    expect(r.differences).toEqual([]);
    // What was not decided again says why: equity observations only (their input is not in the log).
    for (const n of r.notRerun) expect(n.reason).toMatch(/^equity observation/);
  }, 120_000);

  it('a losing-streak pause of 2 changes exactly the results that end a streak of 2+ losses, each by one TradingPaused LOSING_STREAK', async () => {
    // The expectation, from the recorded results alone.
    let streak = 0;
    const expected: number[] = [];
    for (const e of account.filter((x) => x.type === 'PositionResultRecorded')) {
      streak = dec((e.data as EventData<'PositionResultRecorded'>).netPnl).lt(0) ? streak + 1 : 0;
      if (streak >= 2) expected.push(e.revision);
    }
    expect(expected.length).toBeGreaterThan(0); // the window has two losses in a row

    const r = await rerunAccount(store, ACCOUNT, { losingStreakPause: 2 });
    expect(r.differences.map((d) => d.revision)).toEqual(expected);
    for (const d of r.differences) {
      expect(d.command).toBe('RecordPositionResult');
      const rerun = d.rerun as { type: string; data: unknown }[];
      expect(rerun.slice(0, d.recorded.length)).toEqual(d.recorded);
      expect(rerun.slice(d.recorded.length)).toEqual([{ type: 'TradingPaused', data: expect.objectContaining({ reason: 'LOSING_STREAK', limit: '2' }) }]);
    }
  }, 120_000);

  it('an unknown account and an invalid override are typed input errors', async () => {
    await expect(rerunAccount(store, 'no-such-account')).rejects.toThrow(RerunInputError);
    await expect(rerunAccount(store, ACCOUNT, { riskFraction: 'lots' })).rejects.toThrow(/override makes the configuration invalid: riskFraction/);
  }, 120_000);
});
