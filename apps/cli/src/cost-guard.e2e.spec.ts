/**
 * The cost guard on the README's month (Binance USDⓈ-M BTCUSDT 1m, 2025-11-10..12-10, shared/data)
 * through the built CLI, as a user scripts it: `bulwark backtest --json` prints one JSON document
 * on stdout (the services' logs go to stderr), whole even past 64 KiB on a pipe, and at 10x a 25 %
 * guard denies entries COST_TOO_HIGH with their numbers, where the default 50 % denies none.
 * Needs the CLI built (`npm test` builds first).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { BacktestResult } from '@bulwark/application';

const bin = path.resolve(__dirname, '../bin/bulwark.js');

function backtest(...flags: string[]): { results: BacktestResult[]; bytes: number } {
  const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-cost-'));
  try {
    const r = spawnSync(process.execPath, [bin, 'backtest', '--leverage', '10', '--confirm-high-leverage', '--json', '--report', reports, ...flags], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect({ status: r.status, stderrTail: r.status === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ status: 0, stderrTail: '' });
    return { results: JSON.parse(r.stdout) as BacktestResult[], bytes: Buffer.byteLength(r.stdout) };
  } finally {
    fs.rmSync(reports, { recursive: true, force: true });
  }
}

describe('cost guard on the README month at 10x (bulwark backtest --json)', () => {
  it('25 % denies entries COST_TOO_HIGH where 50 % (the default) denies none; the JSON is whole', () => {
    const tight = backtest('--max-fee-risk-pct', '25');
    expect(tight.bytes).toBeGreaterThan(64 * 1024); // one document, not cut at the pipe's 64 KiB
    const [t] = tight.results;
    expect(t.decisions.denials['COST_TOO_HIGH']).toBeGreaterThan(0);
    const [d] = backtest().results;
    expect(d.decisions.denials['COST_TOO_HIGH']).toBeUndefined();
    expect(t.decisions.intents).toBe(d.decisions.intents); // the same signals; only the decisions differ
  }, 300_000);
});
