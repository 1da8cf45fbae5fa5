/**
 * `bulwark replay --rerun` as a user types it, on the log of a real-data backtest
 * (BTCUSDT 1m, 2025-11-12 .. 2025-11-19): exit 0 when today's rules decide everything the same
 * way, 1 and the differing decisions when a rule changes, 2 for unusable input.
 */
import { runBacktest } from '@bulwark/application';
import { InMemoryEventStore } from '@bulwark/event-store';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { Command } from 'commander';
import { exitOf } from './main';
import { registerReplayCommand } from './replay';
import { parseOverrides } from './rerun-cmd';

const ACCOUNT = 'rerun-cli';
const store = new InMemoryEventStore();

async function bulwark(args: string[]) {
  let out = '';
  const program = new Command('bulwark').exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: () => undefined });
  registerReplayCommand(program, async () => ({ store, close: async () => undefined }));
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, error: null as unknown };
  } catch (e) {
    return { code: exitOf(e).code, out, error: e };
  }
}

beforeAll(async () => {
  await runBacktest({
    accountId: ACCOUNT, candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
    capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: Date.parse('2025-11-12T00:00:00Z'), to: Date.parse('2025-11-19T00:00:00Z'), store,
  });
}, 300_000);

describe('bulwark replay --rerun', () => {
  it('unchanged rules: exit 0, every decision decided again and the same', async () => {
    const r = await bulwark(['replay', '--rerun', '--account', ACCOUNT]);
    expect(r.error).toBeNull();
    expect(r.out).toMatch(/^rerun of account rerun-cli\n/);
    expect(r.out).toMatch(/\n[1-9]\d* decision\(s\) decided again, 0 differ; \d+ not re-run\n/);
  }, 120_000);

  it('--set losingStreakPause=1: exit 1 and each losing result shown with the pause it would add', async () => {
    const r = await bulwark(['replay', '--rerun', '--account', ACCOUNT, '--set', 'losingStreakPause=1', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as { overrides: unknown; differences: { command: string; rerun: { type: string }[] }[] };
    expect(report.overrides).toEqual({ losingStreakPause: 1 });
    expect(report.differences.length).toBeGreaterThan(0);
    for (const d of report.differences) {
      expect(d.command).toBe('RecordPositionResult');
      expect(d.rerun.map((e) => e.type)).toContain('TradingPaused');
    }
  }, 120_000);

  it('unusable input exits 2: no --account, --set without --rerun, an unknown field, an invalid value, an unknown account', async () => {
    for (const args of [
      ['replay', '--rerun'],
      ['replay', '--set', 'leverage=3', '--account', ACCOUNT],
      ['replay', '--rerun', '--account', ACCOUNT, '--set', 'leverag=3'],
      ['replay', '--rerun', '--account', ACCOUNT, '--set', 'leverage=x'],
      ['replay', '--rerun', '--account', 'nobody'],
    ]) {
      expect({ args, code: (await bulwark(args)).code }).toEqual({ args, code: 2 });
    }
  }, 120_000);

  it('overrides are typed by the configuration schema', () => {
    expect(parseOverrides(['leverage=3', 'maxFeeRiskFraction=0.2', 'losingStreakPause=null', 'highLeverageConfirmed=true'])).toEqual({
      leverage: 3, maxFeeRiskFraction: '0.2', losingStreakPause: null, highLeverageConfirmed: true,
    });
  });
});
