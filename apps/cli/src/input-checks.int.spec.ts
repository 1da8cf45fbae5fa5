import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Subjects } from '@bulwark/contracts';
import { accountDecider, type AccountCommand, accountInitialState, dec } from '@bulwark/domain';
import { Command } from 'commander';
import { connectNats, DEFAULT_NATS_URL } from '@bulwark/messaging';
import { BTCUSDT_FILES, SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { JSONCodec, type NatsConnection, type Subscription } from 'nats';
import { registerAccountCommands } from './account-commands';
import { registerBacktestCommand } from './backtest-cmd';
import { checkCandleInput, checkWindow, gapWarnings, InputError } from './input-checks';
import { buildProgram, exitOf } from './main';

// Command-line inputs that cannot be used exit 2 with one line (main's exitOf), before any
// work starts; a gap in the candles is a warning and the run goes on. Candle data is real:
// Binance USDⓈ-M BTCUSDT 1m (shared/data, PROVENANCE.md) and, for a real gap, the Binance
// spot BTCUSDT 1m file of 2021-04-20..05-20 (284 bars missing on 2021-04-25, 04:01 to 08:44 UTC).

const MONTH_1M = BTCUSDT_FILES.candles1m;
const FUNDING = BTCUSDT_FILES.fundingRates;
const SPOT_GAP = SPOT_BTCUSDT_FILES.candles1mApril2021;
const HEADER = 'open_time,open,high,low,close,volume';
const at = (iso: string) => Date.parse(iso);

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-input-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
const put = (name: string, content: string) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, content);
  return file;
};

async function inputError(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

/**
 * Run a program like main() does; what it printed, and main's exit code and line.
 * @param build registers the commands (after exitOverride, so the subcommands inherit it), or main's whole program
 */
async function run(build: ((p: Command) => void) | 'main', args: string[]) {
  let out = '';
  let err = '';
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out += `${a.map(String).join(' ')}\n`));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (err += `${a.map(String).join(' ')}\n`));
  const output = { writeOut: (s: string) => (out += s), writeErr: (s: string) => (err += s), outputError: (s: string, write: (s: string) => void) => write(s) };
  let program: Command;
  if (build === 'main') program = buildProgram().configureOutput(output);
  else {
    program = new Command('bulwark').exitOverride().configureOutput(output);
    build(program);
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, line: null as string | null, out, err, error: null as unknown };
  } catch (e) {
    const x = exitOf(e);
    return { code: x.code, line: x.line, out, err, error: e };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('checkWindow and checkCandleInput', () => {
  it('--from equal to or after --to is an empty window', () => {
    expect(() => checkWindow(at('2025-11-12T00:00:00Z'), at('2025-11-11T00:00:00Z'))).toThrow(
      new InputError('--from 2025-11-12 00:00 UTC is after --to 2025-11-11 00:00 UTC: the window [from, to) holds no candle'),
    );
    expect(() => checkWindow(at('2025-11-12T00:00:00Z'), at('2025-11-12T00:00:00Z'))).toThrow(/is equal to --to 2025-11-12 00:00 UTC/);
    expect(() => checkWindow(null, at('2025-11-12T00:00:00Z'))).not.toThrow();
  });

  it('the real month file: 1,440 candles on 2025-11-21, no gap, no warning', async () => {
    const r = await checkCandleInput({ candles: MONTH_1M, funding: FUNDING, from: at('2025-11-21T00:00:00Z'), to: at('2025-11-22T00:00:00Z') });
    expect(r).toEqual({ candles: 1440, first: at('2025-11-21T00:00:00Z'), interval: 60_000, gaps: [], warnings: [] });
  }, 60_000);

  it('a real gap (Binance spot maintenance, 2021-04-25) is a warning naming the first missing minute and the count', async () => {
    const r = await checkCandleInput({ candles: SPOT_GAP, from: at('2021-04-25T00:00:00Z'), to: at('2021-04-25T12:00:00Z') });
    expect(r.gaps).toEqual([{ kind: 'MISSING_BARS', from: at('2021-04-25T04:01:00Z'), to: at('2021-04-25T08:45:00Z'), bars: 284 }]);
    expect(r.warnings).toEqual([
      'warning: BTCUSDT-1m-2021-04-20_2021-05-20.csv: gap in the candles: 284 missing 1m bar(s) from 2021-04-25 04:01 UTC (first missing) to 2021-04-25 08:44 UTC; the run goes on across it',
    ]);
    expect(r.candles).toBe(720 - 284);
    // Many gaps: ten lines, then the rest summed up.
    const many = Array.from({ length: 12 }, (_, i) => ({ kind: 'MISSING_BARS' as const, from: at('2021-04-25T00:00:00Z') + i * 600_000, to: at('2021-04-25T00:02:00Z') + i * 600_000, bars: 2 }));
    const w = gapWarnings(SPOT_GAP, many, 60_000);
    expect(w).toHaveLength(11);
    expect(w[10]).toBe('warning: BTCUSDT-1m-2021-04-20_2021-05-20.csv: 2 more gap(s), 4 missing bar(s) in all');
  }, 60_000);

  it('an empty file, a header only, a window without candles, a bad row, a missing file, a device and a bad funding file are InputErrors', async () => {
    const [header, row1, row2] = fs.readFileSync(MONTH_1M, 'utf8').split('\n');
    const empty = put('empty.csv', '');
    expect((await inputError(checkCandleInput({ candles: empty, from: null, to: null }))).message).toBe(`candle file ${empty}: the file is empty`);
    const headerOnly = put('header-only.csv', `${header}\n`);
    expect((await inputError(checkCandleInput({ candles: headerOnly, from: null, to: null }))).message).toBe(`no candle in ${headerOnly}`);
    expect((await inputError(checkCandleInput({ candles: MONTH_1M, from: at('2026-01-01T00:00:00Z'), to: null }))).message).toBe(
      `no candle in ${MONTH_1M} between 2026-01-01 00:00 UTC and its end (--from / --to)`,
    );
    const badRow = put('bad-row.csv', `${header}\n${row1}\n${row2.replace(/,[^,]+$/, ',-1')}\n`);
    expect((await inputError(checkCandleInput({ candles: badRow, from: null, to: null }))).message).toBe(`candle file ${badRow}: line 3: volume "-1" is not a plain decimal`);
    const missing = path.join(tmp, 'missing.csv');
    expect((await inputError(checkCandleInput({ candles: missing, from: null, to: null }))).message).toBe(`candle file not found: ${missing}`);
    expect((await inputError(checkCandleInput({ candles: '/dev/zero', from: null, to: null }))).message).toBe('candle file /dev/zero: not a regular file (a character device)');
    expect((await inputError(checkCandleInput({ candles: MONTH_1M, funding: '/etc/passwd', from: null, to: null }))).message).toBe(
      'funding-rate file /etc/passwd: the name passwd does not end in .csv or .csv.gz',
    );
    const badFunding = put('funding-bad.csv', 'calc_time,funding_interval_hours,last_funding_rate\n1762761600000,8,abc\n');
    expect((await inputError(checkCandleInput({ candles: MONTH_1M, funding: badFunding, from: null, to: null }))).message).toBe(`funding-rate file ${badFunding}: line 2: rate "abc" is not a number`);
    expect(HEADER).toBe(header);
  }, 60_000);
});

describe('bulwark backtest and demo: input errors exit 2 with one line, before any run', () => {
  const backtest = (p: Command) => registerBacktestCommand(p);

  it('backtest: an empty candle file, --from after --to, a header-only file', async () => {
    const empty = put('bt-empty.csv', '');
    const reports = path.join(tmp, 'reports');
    const e = await run(backtest, ['backtest', '--candles', empty, '--report', reports]);
    expect([e.code, e.line]).toEqual([2, `bulwark: candle file ${empty}: the file is empty`]);
    const w = await run(backtest, ['backtest', '--candles', MONTH_1M, '--from', '2025-11-12', '--to', '2025-11-11', '--report', reports]);
    expect([w.code, w.line]).toEqual([2, 'bulwark: --from 2025-11-12 00:00 UTC is after --to 2025-11-11 00:00 UTC: the window [from, to) holds no candle']);
    const v = await run(backtest, ['backtest', '--venue', 'bitget', '--candles', MONTH_1M, '--report', reports]);
    expect(v.code).toBe(2);
    expect(v.err).toContain('--venue must be one of binance-usdm, bitget-usdtm, got "bitget"');
    const h = await run(backtest, ['backtest', '--candles', put('bt-header.csv', `${HEADER}\n`), '--report', reports]);
    expect(h.code).toBe(2);
    expect(h.line).toMatch(/^bulwark: no candle in .*bt-header\.csv$/);
    // Nothing ran: no report was written.
    expect(fs.existsSync(reports) ? fs.readdirSync(reports) : []).toEqual([]);
  }, 60_000);

  it('backtest over a real gap: the warning names it on stderr and the run goes on (exit 0, the report lists the gap)', async () => {
    const reports = path.join(tmp, 'gap-reports');
    const r = await run(backtest, ['backtest', '--candles', SPOT_GAP, '--funding', 'none', '--from', '2021-04-25T02:00:00Z', '--to', '2021-04-25T10:00:00Z', '--report', reports]);
    expect(r.error).toBeNull();
    expect(r.code).toBe(0);
    expect(r.err).toContain('warning: BTCUSDT-1m-2021-04-20_2021-05-20.csv: gap in the candles: 284 missing 1m bar(s) from 2021-04-25 04:01 UTC (first missing) to 2021-04-25 08:44 UTC');
    expect(r.out).toMatch(/data gaps +MISSING_BARS 2021-04-25 04:01 → 2021-04-25 08:45 \(284 bars\)/);
    expect(fs.readdirSync(reports)).toHaveLength(1);
  }, 180_000);

  it('demo: an empty candle file and an empty window exit 2 before any service starts', async () => {
    const empty = put('demo-empty.csv', '');
    const e = await run('main', ['demo', '--candles', empty]);
    expect([e.code, e.line]).toEqual([2, `bulwark: candle file ${empty}: the file is empty`]);
    expect(e.out).toBe('');
    const w = await run('main', ['demo', '--from', '2025-11-21', '--to', '2025-11-21']);
    expect([w.code, w.line]).toEqual([2, 'bulwark: --from 2025-11-21 00:00 UTC is equal to --to 2025-11-21 00:00 UTC: the window [from, to) holds no candle']);
  }, 60_000);

  it('demo --accounts: 1 to 10 accounts, each with the set\'s own risk and leverage (so --risk-pct and --leverage are refused beside it); one account only on spot margin', async () => {
    for (const n of ['0', '11', 'two']) {
      const r = await run('main', ['demo', '--accounts', n]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--accounts must be an integer in 1..10, got "${n}"`);
    }
    const risk = await run('main', ['demo', '--accounts', '3', '--risk-pct', '2', '--leverage', '4']);
    expect(risk.code).toBe(2);
    expect(risk.err).toContain('--accounts gives each account its own --risk-pct and --leverage (account i: 0.5 + 0.5·i %, leverage 3, 5, 2, 4, 1, …): leave them out');
    const spot = await run('main', ['demo', '--accounts', '2', '--market', 'spot-margin']);
    expect(spot.code).toBe(2);
    expect(spot.err).toContain('--market spot-margin trades one account: leave --accounts out');
    expect(risk.out + spot.out).toBe('');
  }, 60_000);
});

describe('account trading-state | resume for an account that does not exist (against nats-server)', () => {
  // A responder on tagged subjects answers as the risk service does: its account decider on an
  // account that was never opened, the refusal sent the way the NATS transport sends it.
  const NATS_URL = process.env.NATS_URL || DEFAULT_NATS_URL;
  const PREFIX = `t${randomBytes(4).toString('hex')}.`;
  const json = JSONCodec();
  let nc: NatsConnection;
  let sub: Subscription;
  const received: string[] = [];

  beforeAll(async () => {
    nc = await connectNats({ user: 'admin', servers: NATS_URL, name: 'input-checks-spec' }).catch((e) => {
      throw new Error(`this test needs Bulwark's nats-server at ${NATS_URL} (npm run setup): ${String(e)}`);
    });
    sub = nc.subscribe(`${PREFIX}>`);
    void (async () => {
      for await (const m of sub) {
        const subject = m.subject.slice(PREFIX.length);
        const req = json.decode(m.data) as { state?: string; reason: string; by: string };
        received.push(subject);
        const command: AccountCommand =
          subject === Subjects.setTradingState
            ? { kind: 'SetTradingState', state: req.state as 'HALTED', reason: req.reason, by: req.by }
            : { kind: 'ResumeTrading', reason: req.reason, by: req.by, equity: dec(0), ts: Date.now() };
        const r = accountDecider.decide(command, accountInitialState());
        m.respond(json.encode(r.ok ? { ok: true } : { error: r.error }));
      }
    })();
    await nc.flush();
  });

  afterAll(async () => {
    sub?.unsubscribe();
    await nc?.close();
  });

  const account = (p: Command) => registerAccountCommands(p, { natsUrl: NATS_URL, subjectPrefix: PREFIX, timeoutMs: 5_000, user: 'admin' });

  it('exit 2 with one line naming the account; a malformed id is refused before anything is sent', async () => {
    const t = await run(account, ['account', 'trading-state', 'HALTED', '--account', 'ghost', '--reason', 'test']);
    expect([t.code, t.line]).toEqual([2, `bulwark: account ghost does not exist: ${PREFIX}${Subjects.setTradingState} answered UNKNOWN_ACCOUNT (account is not open); open it first with \`bulwark account open --account ghost …\``]);
    const r = await run(account, ['account', 'resume', '--account', 'ghost', '--reason', 'test']);
    expect(r.code).toBe(2);
    expect(r.line).toContain('account ghost does not exist');
    expect(received).toEqual([Subjects.setTradingState, Subjects.resumeTrading]);
    const bad = await run(account, ['account', 'resume', '--account', 'no spaces!', '--reason', 'test']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`--account must be 1..64 letters, digits, '_' or '-', got "no spaces!"`);
    expect(received).toHaveLength(2);
  }, 30_000);
});
