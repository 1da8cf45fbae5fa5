/**
 * Resuming a replay run: `replayCandles` taken up again at a checkpoint sends every step from
 * there exactly once and skips the operator commands already sent, so an interrupted and
 * resumed run writes the same log as an uninterrupted one (here in one process, on real
 * Binance USDⓈ-M BTCUSDT candles of 2025-11-21); the run's journal (`replay-<runId>`)
 * checkpoints by wall time, not per step, and tells which runs are unfinished.
 */
import { describe, expect, it } from '@jest/globals';
import { type ReplayStartRequest, Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { readFundingRates } from '@bulwark/market-data';
import { EventAppender } from '@bulwark/messaging';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { InProcessSystem } from './in-process';
import { comparableLog } from './log-compare';
import { type ReplayAcknowledged, ReplayJournal, ReplayRunExistsError, replayCandles, unfinishedReplays } from './replay';

const CANDLES = BTCUSDT_FILES.candles1m;
const FUNDING = BTCUSDT_FILES.fundingRates;
const FROM = Date.parse('2025-11-21T00:00:00Z');
const TO = Date.parse('2025-11-21T12:00:00Z');
const ACCOUNT = 'resume-spec';

/** An account on the paper venue with the baseline strategy, in a fresh in-process system. */
async function system(): Promise<InProcessSystem> {
  const sys = await InProcessSystem.create(new InMemoryEventStore());
  await sys.command(Subjects.openAccount, {
    accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 10,
    riskFraction: dec('1').div(100).toFixed(), highLeverageConfirmed: true, venueBalance: '10000', at: FROM,
  });
  await sys.command(Subjects.attachStrategy, { accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: {}, at: FROM });
  return sys;
}

/** Two operator commands in market time (a resume with nothing paused is refused: an answer, not a failure). */
const schedule: ReplayStartRequest['schedule'] = [
  { at: FROM + 2 * 3_600_000, subject: Subjects.resumeTrading, payload: { accountId: ACCOUNT, reason: 'spec resume 1', by: 'spec' } },
  { at: FROM + 9 * 3_600_000, subject: Subjects.resumeTrading, payload: { accountId: ACCOUNT, reason: 'spec resume 2', by: 'spec' } },
];
const request = { runId: ACCOUNT, venue: 'binance-usdm' as const, symbol: 'BTCUSDT', candlesFile: CANDLES, from: FROM, to: TO, schedule };

class Interrupted extends Error {}

describe('replayCandles resumed at a checkpoint', () => {
  it('sends the remaining steps once, skips the commands already sent, and writes the same log as an uninterrupted run', async () => {
    const funding = await readFundingRates(FUNDING);
    const whole = await system();
    const wholeTicks: number[] = [];
    const wholeCommands: string[] = [];
    const wholeCounters = await replayCandles(whole.clock(), request, funding, {
      onStep: (t) => wholeTicks.push(t.seq),
      onCommand: (s, at) => wholeCommands.push(`${s}@${at}`),
    });
    expect(wholeCounters).toMatchObject({ candles: 720, steps: 2880 });
    expect(wholeCommands).toHaveLength(2);

    // Interrupted after step 1,633 (mid-candle, after the first command), as a crash of market-data would.
    const broken = await system();
    let checkpoint: ReplayAcknowledged | null = null;
    const sent: number[] = [];
    const commands: string[] = [];
    const stopAt = 1_634;
    await expect(
      replayCandles(broken.clock(), request, funding, {
        onStep: (t) => sent.push(t.seq),
        onCommand: (s, at) => commands.push(`${s}@${at}`),
        onAcknowledged: (a) => {
          checkpoint = a;
          if (a.nextSeq === stopAt) throw new Interrupted('market-data died');
        },
      }),
    ).rejects.toThrow(Interrupted);
    expect(checkpoint).toEqual({ nextSeq: stopAt, candles: 408, marketTime: FROM + 407 * 60_000, commandsSent: 1 });
    const resumed = await replayCandles(broken.clock(), { ...request, resume: { nextSeq: stopAt, commandsSent: 1 } }, funding, {
      onStep: (t) => sent.push(t.seq),
      onCommand: (s, at) => commands.push(`${s}@${at}`),
    });
    expect(resumed).toEqual(wholeCounters);
    expect(sent).toEqual(wholeTicks);
    expect(commands).toEqual(wholeCommands);
    expect(await comparableLog(broken.store)).toEqual(await comparableLog(whole.store));
    expect((await whole.accounting.summary(ACCOUNT)).positionsOpened).toBeGreaterThan(0);
  }, 120_000);
});

describe('ReplayJournal', () => {
  const req: ReplayStartRequest = { ...request, fundingFile: FUNDING, speed: 0, runId: 'journal-spec' };

  it('records the run, checkpoints at most once per interval (and right after a command), and lists it until it finished', async () => {
    const store = new InMemoryEventStore();
    let now = 1_000_000;
    const appender = new EventAppender(store, () => now);
    const journal = await ReplayJournal.open(appender, req, 720, { checkpointMs: 5_000, now: () => now });
    const ack = (nextSeq: number, commandsSent = 0): ReplayAcknowledged => ({ nextSeq, candles: Math.floor(nextSeq / 4), marketTime: FROM + Math.floor(nextSeq / 4) * 60_000, commandsSent });
    for (let seq = 1; seq <= 400; seq++) {
      now += 100; // 10 steps a second
      await journal.acknowledged(ack(seq));
    }
    await journal.acknowledged(ack(401, 1)); // a command was sent: checkpoint at once
    const events = await store.readStream('replay-journal-spec');
    expect(events.map((e) => e.type)).toEqual(['ReplayStarted', ...Array(8).fill('ReplayStepsAcknowledged'), 'ReplayStepsAcknowledged']);
    expect(events.slice(1, 4).map((e) => (e.data as ReplayAcknowledged).nextSeq)).toEqual([50, 100, 150]);
    expect(events.at(-1)!.data).toEqual(ack(401, 1));

    const [run] = await unfinishedReplays(store);
    expect(run).toEqual({ request: req, total: 720, acknowledged: ack(401, 1), resumes: 0, lastWrite: now });

    await expect(ReplayJournal.open(appender, req, 720, { checkpointMs: 5_000 })).rejects.toThrow(ReplayRunExistsError);

    const again = ReplayJournal.reopen(appender, run, { checkpointMs: 5_000, now: () => now });
    await again.resumed(401, 1);
    expect((await unfinishedReplays(store))[0].resumes).toBe(1);
    expect(await again.finished('COMPLETED', { candles: 720, steps: 2880 }, null)).toBe(true);
    expect(await unfinishedReplays(store)).toEqual([]);
    expect((await store.readStream('replay-journal-spec')).at(-1)).toMatchObject({ type: 'ReplayFinished', data: { outcome: 'COMPLETED', candles: 720, steps: 2880, detail: null } });
  });

  it('a checkpoint that cannot be written is reported and the run goes on', async () => {
    const store = new InMemoryEventStore();
    const errors: string[] = [];
    let now = 0;
    const journal = await ReplayJournal.open(new EventAppender(store), { ...req, runId: 'journal-spec-2' }, 720, { checkpointMs: 1_000, now: () => now, onError: (e) => errors.push(e.message) });
    await store.close();
    now = 2_000;
    await expect(journal.acknowledged({ nextSeq: 10, candles: 2, marketTime: FROM + 60_000, commandsSent: 0 })).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
