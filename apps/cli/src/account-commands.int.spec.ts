import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { type AccountConfigInput, validateAccountConfig } from '@bulwark/domain';
import { Subjects } from '@bulwark/contracts';
import { Command, CommanderError } from 'commander';
import { connectNats, DEFAULT_NATS_URL } from '@bulwark/messaging';
import { JSONCodec, type NatsConnection, type Subscription } from 'nats';
import { registerAccountCommands, type OperatorBus } from './account-commands';
import { DemoError } from './demo';
import { registerStrategyCommands } from './strategy-commands';

// Drives `bulwark account …` and `bulwark strategy attach` through commander, configured like
// main.ts's program, against the real nats-server (NATS_URL, default 127.0.0.1:4223). Every run
// prefixes its subjects with a random tag (OperatorBus.subjectPrefix) and answers them with a
// tiny responder, so no request ever reaches a Bulwark system running on the same server.
// The responder answers open/reconfigure with the domain's own validateAccountConfig, and
// refusals the way the NATS transport sends them: {error:{code,message}} (field, value and
// allowed ranges only inside the message).

const NATS_URL = process.env.NATS_URL || DEFAULT_NATS_URL;
const json = JSONCodec();
const PREFIX = `t${randomBytes(4).toString('hex')}.`;

interface Received {
  subject: string;
  data: unknown;
}

/** main()'s mapping of a thrown error to an exit code and stderr line (apps/cli/src/main.ts). */
async function bulwark(bus: OperatorBus, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    out += `${a.map(String).join(' ')}\n`;
  });
  const program = new Command('bulwark')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s), outputError: (s, write) => write(s) });
  registerAccountCommands(program, bus);
  registerStrategyCommands(program, bus);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CommanderError) return { code: e.code === 'commander.helpDisplayed' ? 0 : 2, out, err };
    if (e instanceof DemoError) return { code: 1, out, err: err + `bulwark: ${e.message}\n` };
    throw e;
  } finally {
    log.mockRestore();
  }
}

// Prefixed subjects are the test's own, outside what `operator` may publish: the harness user sends them.
const bus: OperatorBus = { natsUrl: NATS_URL, subjectPrefix: PREFIX, timeoutMs: 5000, user: 'admin' };
let nc: NatsConnection;
let sub: Subscription;
const received: Received[] = [];
/** What the responder answers; tests replace it. */
let answer: (subject: string, data: unknown) => unknown = () => ({});

beforeAll(async () => {
  nc = await connectNats({ user: 'admin', servers: NATS_URL, name: 'account-commands-spec' });
  sub = nc.subscribe(`${PREFIX}>`);
  void (async () => {
    for await (const m of sub) {
      const data = json.decode(m.data);
      received.push({ subject: m.subject, data });
      m.respond(json.encode(answer(m.subject.slice(PREFIX.length), data)));
    }
  })();
  await nc.flush();
});

afterAll(async () => {
  sub.unsubscribe();
  await nc.close();
});

afterEach(() => {
  received.length = 0;
  answer = () => ({});
});

/** The risk service's answer to open/reconfigure: the validated configuration, or its refusal as the transport sends it. */
function riskAnswer(_subject: string, data: unknown): unknown {
  const { at: _at, ...config } = data as AccountConfigInput & { at?: number };
  const r = validateAccountConfig(config);
  return r.ok ? { accountId: config.accountId, config: r.value } : { error: { code: r.error.code, message: r.error.message } };
}

const OPEN = ['--account', 'acc-1', '--symbol', 'BTCUSDT', '--capital', '1000', '--leverage', '5'];

describe('flag validation (nothing is sent)', () => {
  it.each([
    [['account', 'open', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--leverage', '5'], "required option '--capital <usdt>' not specified"],
    [['account', 'open', '--account', 'acc-1', '--capital', '1000', '--leverage', '5'], "required option '--symbol <SYMBOL>' not specified"],
    [['account', 'open', ...OPEN.slice(0, 6)], "required option '--leverage <n>' not specified"],
    [['account', 'open', ...OPEN.slice(0, 6), '--leverage', '0'], '--leverage must be an integer in 1..125, got "0"'],
    [['account', 'open', ...OPEN.slice(0, 6), '--leverage', '126'], '--leverage must be an integer in 1..125, got "126"'],
    [['account', 'open', ...OPEN.slice(0, 6), '--leverage', '2.5'], '--leverage must be an integer in 1..125, got "2.5"'],
    [['account', 'open', ...OPEN.slice(0, 6), '--leverage', '10'], '--leverage 10 is above 5x: add --confirm-high-leverage to confirm it'],
    [['account', 'open', '--account', 'acc 1', ...OPEN.slice(2)], `--account must be 1..64 letters, digits, '_' or '-', got "acc 1"`],
    [['account', 'open', '--account', 'acc.1', ...OPEN.slice(2)], `--account must be 1..64 letters, digits, '_' or '-', got "acc.1"`],
    [['account', 'open', ...OPEN.slice(0, 2), '--symbol', 'BTC-USDT', ...OPEN.slice(4)], '--symbol must be an instrument such as BTCUSDT'],
    [['account', 'open', ...OPEN.slice(0, 4), '--capital', 'abc', ...OPEN.slice(6)], '--capital must be a decimal number > 0 such as 1000 or 250.5, got "abc"'],
    [['account', 'open', ...OPEN.slice(0, 4), '--capital', '0', ...OPEN.slice(6)], '--capital must be a decimal number > 0'],
    [['account', 'open', ...OPEN.slice(0, 4), '--capital', '1e3', ...OPEN.slice(6)], '--capital must be a decimal number > 0'],
    [['account', 'open', ...OPEN.slice(0, 4), '--capital', '01000', ...OPEN.slice(6)], '--capital must be a decimal number > 0'],
    [['account', 'open', ...OPEN, '--capital=-5'], '--capital must be a decimal number > 0'],
    [['account', 'open', ...OPEN, '--risk-pct', 'one'], '--risk-pct must be a decimal number > 0'],
    [['account', 'open', ...OPEN, '--daily-loss-limit-pct', '0'], '--daily-loss-limit-pct must be a decimal number > 0'],
    [['account', 'open', ...OPEN, '--venue-balance', '1,000'], '--venue-balance must be a decimal number >= 0'],
    [['account', 'open', ...OPEN, '--max-trades-per-day', '0'], '--max-trades-per-day must be an integer in 1..10000, got "0"'],
    [['account', 'open', ...OPEN, '--protection', 'STOPS'], '--protection must be one of INTERNAL, EXCHANGE, BOTH, got "STOPS"'],
    [['account', 'reconfigure', ...OPEN, '--protection', 'both', '--leverage', '25'], '--leverage 25 is above 5x'],
    [['strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT'], "required option '--strategy <name>' not specified"],
    [['strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'Donchian ATR'], '--strategy must be a strategy name such as donchian-atr'],
    [['strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr', '--params', '{channel:120}'], '--params must be a JSON object such as'],
    [['strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr', '--params', '[120]'], '--params must be a JSON object, got [120]'],
    [['strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr', '--params', '{"channel":{"n":1}}'], '--params values must be numbers or strings; "channel" is {"n":1}'],
    [['strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr', '--params', '{"fast":true}'], '--params values must be numbers or strings; "fast" is true'],
  ])('%j → exit 2: %s', async (args, message) => {
    const r = await bulwark(bus, ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.out).toBe('');
    await nc.flush();
    expect(received).toEqual([]);
  });

  it('--help lists every option of account open', async () => {
    const r = await bulwark(bus, 'account', 'open', '--help');
    expect(r.code).toBe(0);
    for (const flag of ['--account', '--symbol', '--capital', '--leverage', '--confirm-high-leverage', '--risk-pct', '--protection', '--venue-balance', '--daily-loss-limit-pct', '--max-trades-per-day', '--json']) {
      expect(r.out).toContain(flag);
    }
  });
});

describe('against NATS with a responder on the subjects', () => {
  it('account open sends the OpenAccountRequest on Subjects.openAccount and prints the recorded configuration', async () => {
    answer = riskAnswer;
    const r = await bulwark(
      bus,
      'account', 'open', '--account', 'demo-acc', '--symbol', 'btcusdt', '--capital', '2500.50', '--leverage', '10', '--confirm-high-leverage',
      '--risk-pct', '0.75', '--protection', 'both', '--venue-balance', '3000', '--daily-loss-limit-pct', '3', '--max-trades-per-day', '20', '--by', 'ada',
    );
    expect(received).toEqual([
      {
        subject: `${PREFIX}${Subjects.openAccount}`,
        data: {
          accountId: 'demo-acc',
          by: 'ada',
          venue: 'binance-usdm',
          symbol: 'BTCUSDT',
          capital: '2500.50',
          leverage: 10,
          highLeverageConfirmed: true,
          venueBalance: '3000',
          riskFraction: '0.0075',
          protection: 'BOTH',
          dailyLossLimitFraction: '0.03',
          maxTradesPerDay: 20,
        },
      },
    ]);
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'account demo-acc opened: binance-usdm BTCUSDT',
        '  capital                2500.50 USDT (venue balance 3000 USDT)',
        '  leverage               10x (cap 20x, above 5x confirmed)',
        '  risk per trade         0.75 % of equity',
        '  protection             BOTH',
        '  margin mode            ISOLATED',
        '  max trades per day     20',
        '  daily loss limit       3 %',
        '  daily profit target    none',
        '  monthly drawdown limit 4 %',
        '  cost guard             fees at most 50 % of the risk amount',
        '  lifetime kill switch   10 % below the equity peak',
        '  losing-streak pause    off',
        '  margin use stop        entries stop at 95 % of equity in use',
        '',
      ].join('\n'),
    });
  });

  it('account open with only the required flags leaves the policy to the risk service (venue balance = capital); --json prints the answer', async () => {
    answer = riskAnswer;
    const r = await bulwark(bus, 'account', 'open', ...OPEN, '--json');
    expect(received.map((m) => m.data)).toEqual([
      // Without --by, who asks is the shell's user.
      { accountId: 'acc-1', venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '1000', leverage: 5, highLeverageConfirmed: false, venueBalance: '1000', by: process.env.USER ?? 'operator' },
    ]);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out) as { accountId: string; config: Record<string, unknown> };
    expect(printed.accountId).toBe('acc-1');
    expect(printed.config).toMatchObject({ riskFraction: '0.01', leverageCap: 20, maxTradesPerDay: 50, protection: 'INTERNAL', dailyLossLimitFraction: null });
  });

  it('account reconfigure sends the same request on Subjects.reconfigureAccount', async () => {
    answer = riskAnswer;
    const r = await bulwark(bus, 'account', 'reconfigure', ...OPEN, '--protection', 'EXCHANGE', '--risk-pct', '2');
    expect(received).toEqual([
      {
        subject: `${PREFIX}${Subjects.reconfigureAccount}`,
        data: { accountId: 'acc-1', venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '1000', leverage: 5, highLeverageConfirmed: false, venueBalance: '1000', riskFraction: '0.02', protection: 'EXCHANGE', by: process.env.USER ?? 'operator' },
      },
    ]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('account acc-1 reconfigured: binance-usdm BTCUSDT');
  });

  it('a refusal (capital above the venue balance) prints the code, the field with its flag, the value and what is allowed; exit 1', async () => {
    answer = riskAnswer;
    const r = await bulwark(bus, 'account', 'open', ...OPEN.slice(0, 4), '--capital', '10000.01', '--leverage', '5', '--venue-balance', '10000');
    expect(r).toEqual({
      code: 1,
      out: '',
      err: [
        `bulwark: refused by ${PREFIX}${Subjects.openAccount}: CAPITAL_ABOVE_BALANCE`,
        '  field    capital (--capital)',
        '  value    "10000.01"',
        '  allowed  at most the venue balance 10000',
        '  reason   capital = "10000.01" is refused: allowed at most the venue balance 10000',
        '',
      ].join('\n'),
    });
  });

  it('a range refusal names the percentage flag behind a fraction field', async () => {
    answer = riskAnswer;
    const r = await bulwark(bus, 'account', 'open', ...OPEN, '--risk-pct', '20');
    expect(r.code).toBe(1);
    expect(r.err).toContain('refused by');
    expect(r.err).toContain(': INVALID_CONFIG\n');
    expect(r.err).toContain('  field    riskFraction (--risk-pct, a percentage: 1 = 0.01)\n');
    expect(r.err).toContain('  value    "0.2"\n');
    expect(r.err).toContain('  allowed  0.005..0.1 (0.5 %..10 % per trade)\n');
  });

  it('a refusal that carries field, value and allowed prints them as given; --json also prints it on stdout', async () => {
    const error = { code: 'CONFIRMATION_REQUIRED', field: 'highLeverageConfirmed', value: false, allowed: 'true', message: 'leverage 6x is above 5x and needs an explicit confirmation' };
    answer = () => ({ error });
    const r = await bulwark(bus, 'account', 'reconfigure', ...OPEN, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({ error });
    expect(r.err).toBe(
      [
        `bulwark: refused by ${PREFIX}${Subjects.reconfigureAccount}: CONFIRMATION_REQUIRED`,
        '  field    highLeverageConfirmed (--confirm-high-leverage)',
        '  value    false',
        '  allowed  true',
        '  reason   leverage 6x is above 5x and needs an explicit confirmation',
        '',
      ].join('\n'),
    );
  });

  it('strategy attach sends the AttachStrategyRequest on Subjects.attachStrategy with the parameters', async () => {
    answer = (_s, d) => {
      const req = d as { accountId: string; strategy: string; params: Record<string, unknown> };
      return { accountId: req.accountId, strategy: req.strategy, params: { channel: 120, atrPeriod: 30, atrMultiple: 3, rewardRisk: 2, tickSize: '0.1', ...req.params } };
    };
    const r = await bulwark(bus, 'strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr', '--params', '{"channel":55,"tickSize":"0.1"}');
    expect(received).toEqual([
      {
        subject: `${PREFIX}${Subjects.attachStrategy}`,
        data: { accountId: 'acc-1', venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: { channel: 55, tickSize: '0.1' } },
      },
    ]);
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'strategy donchian-atr attached to acc-1: binance-usdm BTCUSDT (closed candles → entry intents; risk sizes them)',
        '  channel       55',
        '  atrPeriod     30',
        '  atrMultiple   3',
        '  rewardRisk    2',
        '  tickSize      0.1',
        '',
      ].join('\n'),
    });
  });

  it('strategy attach with an entry type and a split sends them on the request', async () => {
    answer = (_s, d) => ({ accountId: (d as { accountId: string }).accountId, strategy: 'donchian-atr', params: { channel: 120 } });
    const r = await bulwark(bus, 'strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr', '--entry-type', 'post-only', '--expires-after-bars', '4', '--split', 'iceberg', '--max-order-notional', '5000');
    expect(received.map((m) => m.data)).toEqual([
      { accountId: 'acc-1', venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: {}, entryType: 'POST_ONLY', expiresAfterBars: 4, split: { style: 'ICEBERG', maxOrderNotional: '5000', intervalBars: 1 } },
    ]);
    expect(r.code).toBe(0);
  });

  it('strategy attach without --params sends {}; a refusal exits 1', async () => {
    answer = () => ({ error: { code: 'ALREADY_ATTACHED', message: 'a strategy is already attached to acc-1' } });
    const r = await bulwark(bus, 'strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr');
    expect(received.map((m) => m.data)).toEqual([{ accountId: 'acc-1', venue: 'binance-usdm', symbol: 'BTCUSDT', strategy: 'donchian-atr', params: {} }]);
    expect(r).toEqual({ code: 1, out: '', err: `bulwark: refused by ${PREFIX}${Subjects.attachStrategy}: ALREADY_ATTACHED\n  reason   a strategy is already attached to acc-1\n` });
  });

  it('account trading-state still sends its request (now through the same path)', async () => {
    answer = () => ({ accountId: 'acc-1', tradingState: 'HALTED' });
    const r = await bulwark(bus, 'account', 'trading-state', 'halted', '--account', 'acc-1', '--reason', 'maintenance', '--by', 'ops');
    expect(received).toEqual([{ subject: `${PREFIX}${Subjects.setTradingState}`, data: { accountId: 'acc-1', state: 'HALTED', reason: 'maintenance', by: 'ops' } }]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ accountId: 'acc-1', tradingState: 'HALTED' });
  });

  it('account flatten, position close and order cancel send their requests with who and why', async () => {
    answer = () => ({ accountId: 'acc-1', accepted: true, tradingState: 'HALTED' });
    await bulwark(bus, 'account', 'flatten', '--account', 'acc-1', '--reason', 'end of day', '--by', 'ops');
    await bulwark(bus, 'position', 'close', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--reason', 'news', '--by', 'ops');
    const r = await bulwark(bus, 'order', 'cancel', '--account', 'acc-1', '--client-order-id', 'bw2d4c10hkbtg-7E', '--reason', 'stale', '--by', 'ops');
    expect(received).toEqual([
      { subject: `${PREFIX}${Subjects.flatten}`, data: { accountId: 'acc-1', reason: 'end of day', by: 'ops' } },
      { subject: `${PREFIX}${Subjects.closePosition}`, data: { accountId: 'acc-1', symbol: 'BTCUSDT', reason: 'news', by: 'ops' } },
      { subject: `${PREFIX}${Subjects.cancelOrder}`, data: { accountId: 'acc-1', clientOrderId: 'bw2d4c10hkbtg-7E', reason: 'stale', by: 'ops' } },
    ]);
    expect(r.code).toBe(0);
  });

  it('account flatten without a reason is refused before anything is sent (exit 2)', async () => {
    const r = await bulwark(bus, 'account', 'flatten', '--account', 'acc-1');
    expect(received).toEqual([]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--reason');
  });
});

describe('when the system is not there', () => {
  it('no service on the subject → says which service to start; exit 1', async () => {
    const other = `n${randomBytes(4).toString('hex')}.`;
    const r = await bulwark({ ...bus, subjectPrefix: other }, 'account', 'open', ...OPEN);
    expect(r).toEqual({ code: 1, out: '', err: `bulwark: nobody answers on ${other}${Subjects.openAccount}: is the risk service running and connected to ${NATS_URL}?\n` });
  });

  it('a service that does not answer in time → the outcome is unknown; exit 1', async () => {
    const silent = `s${randomBytes(4).toString('hex')}.`;
    const s = nc.subscribe(`${silent}>`);
    await nc.flush();
    try {
      const r = await bulwark({ ...bus, subjectPrefix: silent, timeoutMs: 300 }, 'strategy', 'attach', '--account', 'acc-1', '--symbol', 'BTCUSDT', '--strategy', 'donchian-atr');
      expect(r.code).toBe(1);
      expect(r.err).toBe(`bulwark: no answer on ${silent}${Subjects.attachStrategy} within 0.3 s from the signals service; the outcome is unknown (sending the command again is safe: a repeat is refused, not applied twice)\n`);
    } finally {
      s.unsubscribe();
    }
  });

  it('no NATS → names the URL; exit 1', async () => {
    const r = await bulwark({ ...bus, natsUrl: 'nats://127.0.0.1:1' }, 'account', 'open', ...OPEN);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^bulwark: cannot reach NATS at nats:\/\/127\.0\.0\.1:1 \(.+\): start the system first/);
  });
});
