import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Subjects } from '@bulwark/contracts';
import { BTCUSDT_FILES, DATA_DIR } from '@bulwark/testing';
import { type BacktestConfig, runBacktest } from './backtest';
import { comparableLog } from './log-compare';

/**
 * Golden logs of whole-month backtests (the README month of 1m candles, 2025-11-10 → 12-10):
 * every event of the run, in log order, as `comparableLog` normalises it (event ids → the
 * `stream@revision` they name, the rules' load time → "loaded"), must equal the recorded file.
 * They were recorded on the code before the throughput work (docs/benchmarks.md "Backtest
 * throughput"): any speed-up must leave every decision and every event as it was.
 *
 * Golden file: `__golden__/<case>.jsonl.gz`, one normalised event per line (JSON). Recording a
 * new one (only when the log is meant to change, and said so in the commit):
 * `BULWARK_GOLDEN_RECORD=1 npx jest -c libs/application/jest.config.js backtest.golden`.
 * Two whole months take ~40 s: named `.int.spec` so the one-minute unit loop (`npm run test:unit`)
 * leaves it to the full suite, although it opens no socket.
 */
const GOLDEN_DIR = path.join(__dirname, '__golden__');
const RECORD = process.env['BULWARK_GOLDEN_RECORD'] === '1';

const DAY = 86_400_000;
const FIRST_DAY = Date.parse('2025-11-10T00:00:00Z');
/** An operator who resumes at 00:00 every day (a refused resume, nothing paused, is the operator's answer). */
const dailyResumes = (accountId: string): NonNullable<BacktestConfig['schedule']> =>
  Array.from({ length: 31 }, (_, i) => ({ at: FIRST_DAY + (i + 1) * DAY, subject: Subjects.resumeTrading, payload: { accountId, reason: 'golden', by: 'golden' } }));

const month = { candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false };
const CASES: Array<{ name: string; cfg: BacktestConfig }> = [
  // Default strategy and policy: the monthly breaker pauses the account on the first day.
  { name: 'month-default', cfg: { ...month, accountId: 'golden-default' } },
  // Resumed every day with a faster channel: positions open much of the month (stops, targets, funding, guards).
  { name: 'month-exposed', cfg: { ...month, accountId: 'golden-exposed', strategy: { channel: 30, atrPeriod: 14 }, schedule: dailyResumes('golden-exposed') } },
];

/** The data directory's path (in the rules' `source`) as `<data>`: the log must not depend on where the checkout sits. */
const lines = (log: unknown[][]): string[] => log.map((e) => JSON.stringify(e).split(DATA_DIR).join('<data>'));
const sha256 = (ls: readonly string[]) => createHash('sha256').update(ls.join('\n')).digest('hex');
const countByType = (ls: readonly string[]) => {
  const counts: Record<string, number> = {};
  for (const l of ls) {
    const type = (JSON.parse(l) as unknown[])[2] as string;
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
};

describe('whole-month backtests give the recorded event log, event for event', () => {
  it.each(CASES)('$name', async ({ name, cfg }) => {
    const file = path.join(GOLDEN_DIR, `${name}.jsonl.gz`);
    const r = await runBacktest(cfg);
    const actual = lines(await comparableLog(r.store));
    if (RECORD) {
      fs.mkdirSync(GOLDEN_DIR, { recursive: true });
      fs.writeFileSync(file, gzipSync(actual.join('\n') + '\n', { level: 9 }));
      console.log(`${name}: recorded ${actual.length} events (sha256 ${sha256(actual)}), trades ${r.stats.trades}, exposure ${r.stats.exposure}`, countByType(actual));
    }
    const golden = gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== '');
    // Where the logs part: the first differing event (index in the log) and the totals by type.
    const at = golden.findIndex((l, i) => actual[i] !== l);
    if (at >= 0 || actual.length !== golden.length) {
      const i = at >= 0 ? at : golden.length;
      throw new Error(
        `${name}: the log differs from the golden first at event ${i} (of ${golden.length} recorded, ${actual.length} now)\n` +
          `recorded: ${golden[i] ?? '(end of log)'}\nnow:      ${actual[i] ?? '(end of log)'}\n` +
          `events by type, recorded: ${JSON.stringify(countByType(golden))}\nnow:      ${JSON.stringify(countByType(actual))}`,
      );
    }
    expect(actual.length).toBe(golden.length);
    expect(sha256(actual)).toBe(sha256(golden));
  }, 600_000);
});
