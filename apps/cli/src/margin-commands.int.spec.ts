import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { type EventData, type EventType, Streams, Subjects } from '@bulwark/contracts';
import { type EventStore, InMemoryEventStore } from '@bulwark/event-store';
import { connectNats, DEFAULT_NATS_URL } from '@bulwark/messaging';
import { rawEvent } from '@bulwark/testing';
import { Command } from 'commander';
import { JSONCodec, type NatsConnection, type Subscription } from 'nats';
import type { OperatorBus } from './account-commands';
import type { OpenedStore } from './audit';
import { buildProgram, exitOf } from './main';
import { registerMarginCommands } from './margin-commands';

// Drives `bulwark margin …` through commander, configured like main.ts's program, and maps a
// thrown error to its exit code with main.ts's own exitOf.
// - The NATS commands run against the real nats-server (NATS_URL, default 127.0.0.1:4223; start
//   it with scripts/ensure-nats.sh): every run prefixes its subjects with a random tag
//   (OperatorBus.subjectPrefix) and answers them with a tiny responder, so no request reaches a
//   Bulwark running on the same server. Refusals come the way the NATS transport sends them:
//   {error:{code,message}}.
// - positions and interest read an in-memory event log holding the 2024-08-04 crash run of
//   libs/projections/src/margin.int.spec.ts: a BTCUSDT long of 0.02445 BTC at 58459.98 (stop
//   58167.68) with 429.346511 USDT borrowed, two hourly accruals of 0.00849749 USDT, stopped
//   out at 58080.62; an ETHUSDT short still open; another account's lone transfer.

const NATS_URL = process.env.NATS_URL || DEFAULT_NATS_URL;
const json = JSONCodec();
const PREFIX = `t${randomBytes(4).toString('hex')}.`;
const WHO = process.env.USER || 'operator';

interface Received {
  subject: string;
  data: unknown;
}

// ---------------------------------------------------------------------------------------
// The event log
// ---------------------------------------------------------------------------------------

const A = 'spot-m1';
const BTC = Streams.margin(A, 'BTCUSDT');
const ETH = Streams.margin(A, 'ETHUSDT');
const t = (hhmmss: string, day = '2024-08-04') => Date.parse(`${day}T${hhmmss}Z`);
const btc = { accountId: A, symbol: 'BTCUSDT' };
const eth = { accountId: A, symbol: 'ETHUSDT' };
const OPEN = t('22:00:00');
const STOPPED = t('23:04:12');

let ids = 0;
async function putRaw(store: EventStore, streamId: string, type: string, data: unknown, tsEvent: number): Promise<void> {
  await store.append(streamId, [rawEvent(type, data, { eventId: `margin-cli-${++ids}`, tsEvent, correlationId: 'margin-cli' })], 'any');
}
/** Append one event (the store checks it against its schema). */
const put = <T extends EventType>(store: EventStore, streamId: string, type: T, data: EventData<T>, tsEvent: number) => putRaw(store, streamId, type, data, tsEvent);

async function crashRun(store: EventStore): Promise<void> {
  const alice = { by: 'alice' };
  await put(store, BTC, 'MarginTransferred', { ...btc, asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', tranId: '12', ...alice, at: t('21:55:00') }, t('21:55:00'));
  await put(store, BTC, 'MarginBorrowed', { ...btc, asset: 'USDT', amount: '429.346511', tranId: 'bwm-1', ...alice, at: OPEN }, OPEN);
  await put(store, BTC, 'MarginPositionOpened', {
    ...btc, sequence: 1, side: 'LONG', quantity: '0.02442555', entryPrice: '58459.98', entryQuantity: '0.02445', entryQuote: '1429.346511',
    baseCommission: '0.00002445', quoteCommission: '0', commissionQuote: '1.4293465',
    stopPrice: '58167.68', takeProfitPrice: null, riskAmount: '10', requestId: 'req-1', clientOrderId: 'bwm-1', orderId: '7', ...alice, at: OPEN,
  }, OPEN);
  await put(store, BTC, 'MarginInterestCharged', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'ON_BORROW', txId: 'i1', price: '58459.98', quoteValue: '0.00849749', at: OPEN }, OPEN);
  await put(store, ETH, 'MarginTransferred', { ...eth, asset: 'USDT', amount: '600', direction: 'TO_MARGIN', tranId: '13', ...alice, at: t('22:10:00') }, t('22:10:00'));
  await put(store, ETH, 'MarginBorrowed', { ...eth, asset: 'ETH', amount: '0.5', tranId: 'bwm-e1', ...alice, at: t('22:15:00') }, t('22:15:00'));
  await put(store, ETH, 'MarginPositionOpened', {
    ...eth, sequence: 1, side: 'SHORT', quantity: '0.5', entryPrice: '2700', entryQuantity: '0.5', entryQuote: '1350', baseCommission: '0', quoteCommission: '1.35', commissionQuote: '1.35',
    stopPrice: '2835', takeProfitPrice: '2430', riskAmount: '70.2', requestId: null, clientOrderId: 'bwm-e1', orderId: '8', ...alice, at: t('22:15:00'),
  }, t('22:15:00'));
  await put(store, ETH, 'MarginInterestCharged', { ...eth, asset: 'ETH', principal: '0.5', interest: '0.00000457', dailyRate: '0.000219', type: 'ON_BORROW', txId: 'e1', price: '2700', quoteValue: '0.012339', at: t('22:15:00') }, t('22:15:00'));
  await put(store, BTC, 'MarginInterestCharged', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'PERIODIC', txId: 'i2', price: '58210.5', quoteValue: '0.00849749', at: t('23:00:00') }, t('23:00:00'));
  await put(store, BTC, 'MarginStopTriggered', { ...btc, sequence: 1, kind: 'STOP_LOSS', triggerPrice: '58167.68', price: '58100', at: STOPPED }, STOPPED);
  await put(store, BTC, 'MarginRepaid', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.01699498', tranId: 'bwm-2', by: 'stop-monitor', at: STOPPED + 300 }, STOPPED + 300);
  // The close's amounts as the writer computes them (marginClosePnl at the exit price; libs/projections/src/margin.int.spec.ts).
  await put(store, BTC, 'MarginPositionClosed', {
    ...btc, sequence: 1, status: 'STOPPED_OUT', reason: 'STOP_LOSS', quantity: '0.02442', exitPrice: '58080.62', exitQuote: '1418.3287404',
    realisedPnl: '-9.275352', commissionQuote: '2.8383998994', interestQuote: '0.01699498', netPnl: '-12.1307468794',
    shortfall: '0', equityAfter: '987.8692531206', clientOrderId: 'bwm-2', by: 'stop-monitor', at: STOPPED + 300,
  }, STOPPED + 300);
  await put(store, Streams.margin('other', 'BTCUSDT'), 'MarginTransferred', { accountId: 'other', symbol: 'BTCUSDT', asset: 'USDT', amount: '50', direction: 'TO_MARGIN', tranId: '14', by: 'bob', at: t('23:50:00') }, t('23:50:00'));
}

const store = new InMemoryEventStore();
let opens = 0;
let closes = 0;
/** The command's store opener: counts opens and closes (the shared store itself stays open). */
const openStore = async (): Promise<OpenedStore> => {
  opens++;
  return { store, close: async () => void closes++ };
};

// ---------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------

/** Run `bulwark <args>` with the margin commands; exit code and the lines main() prints, as main() does. */
async function bulwark(b: OperatorBus, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    out += `${a.map(String).join(' ')}\n`;
  });
  const program = new Command('bulwark')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s), outputError: (s, write) => write(s) });
  registerMarginCommands(program, openStore, b);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    const { code, line } = exitOf(e);
    if (line === null) throw e;
    return { code, out, err: line ? `${err}${line}\n` : err };
  } finally {
    log.mockRestore();
  }
}

// Prefixed subjects are the test's own, outside what `operator` may publish: the harness user sends them.
const bus: OperatorBus = { natsUrl: NATS_URL, subjectPrefix: PREFIX, timeoutMs: 10_000, user: 'admin' };
let nc: NatsConnection;
let sub: Subscription;
const received: Received[] = [];
/** What the responder answers (subject without the prefix); tests replace it. */
let answer: (subject: string, data: unknown) => unknown = () => ({});

beforeAll(async () => {
  await crashRun(store);
  nc = await connectNats({ user: 'admin', servers: NATS_URL, name: 'margin-commands-spec' });
  sub = nc.subscribe(`${PREFIX}>`);
  void (async () => {
    for await (const m of sub) {
      const data = json.decode(m.data);
      received.push({ subject: m.subject, data });
      m.respond(json.encode(answer(m.subject.slice(PREFIX.length), data)));
    }
  })();
  await nc.flush();
}, 60_000);

afterAll(async () => {
  sub?.unsubscribe();
  await nc?.close();
  await store.close();
});

afterEach(() => {
  received.length = 0;
  answer = () => ({});
});

const PAIR = ['--account', 'acc-1', '--symbol', 'BTCUSDT'];

// ---------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------

describe('flag validation (nothing is sent)', () => {
  it.each([
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--amount', '1000'], "required option '--to <margin|spot>' not specified"],
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--to', 'margin'], "required option '--amount <decimal>' not specified"],
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--amount', '1000', '--to', 'futures'], '--to must be margin (spot wallet → the pair\'s isolated account) or spot (back), got "futures"'],
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--amount', '0', '--to', 'margin'], '--amount must be a decimal number > 0 such as 1000 or 0.5, got "0"'],
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--amount', '1e3', '--to', 'margin'], '--amount must be a decimal number > 0'],
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--amount=-5', '--to', 'margin'], '--amount must be a decimal number > 0'],
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--amount', '1,000', '--to', 'margin'], '--amount must be a decimal number > 0'],
    [['margin', 'transfer', ...PAIR, '--asset', 'US-DT', '--amount', '1000', '--to', 'margin'], '--asset must be an asset such as USDT or BTC (2..20 letters and digits), got "US-DT"'],
    [['margin', 'transfer', ...PAIR, '--asset', 'ETH', '--amount', '1000', '--to', 'margin'], 'bulwark: --asset ETH is not an asset of BTCUSDT: it holds BTC and USDT'],
    [['margin', 'transfer', '--account', 'acc 1', '--symbol', 'BTCUSDT', '--asset', 'USDT', '--amount', '1', '--to', 'spot'], `--account must be 1..64 letters, digits, '_' or '-', got "acc 1"`],
    [['margin', 'borrow', '--account', 'acc-1', '--symbol', 'BTC/USDT', '--asset', 'USDT', '--amount', '1'], '--symbol must be an instrument such as BTCUSDT'],
    [['margin', 'borrow', ...PAIR, '--asset', 'USDT', '--amount', 'all'], '--amount must be a decimal number > 0 such as 429.346511, got "all"'],
    [['margin', 'borrow', ...PAIR, '--asset', 'USDT', '--amount', '1', '--by', ''], '--by must be 1..100 characters, got ""'],
    [['margin', 'repay', ...PAIR, '--asset', 'USDT', '--amount', 'everything'], '--amount must be a decimal number > 0 such as 429.346511, or "all", got "everything"'],
    [['margin', 'repay', ...PAIR, '--asset', 'USDT'], "required option '--amount <decimal|all>' not specified"],
    [['margin', 'open', ...PAIR, '--side', 'up', '--stop', '58167.68'], '--side must be long or short, got "up"'],
    [['margin', 'open', ...PAIR, '--side', 'long'], "required option '--stop <price>' not specified"],
    [['margin', 'open', ...PAIR, '--side', 'long', '--stop', '0'], '--stop must be a decimal number > 0 such as 58167.68, got "0"'],
    [['margin', 'open', ...PAIR, '--side', 'long', '--stop', 'abc'], '--stop must be a decimal number > 0'],
    [['margin', 'open', ...PAIR, '--side', 'long', '--stop', '58167.68', '--take-profit', '-1'], '--take-profit must be a decimal number > 0'],
    [['margin', 'open', ...PAIR, '--side', 'long', '--stop', '58167.68', '--take-profit', '58000'], 'bulwark: --take-profit 58000 must be above --stop 58167.68 for a long (the entry lies between them)'],
    [['margin', 'open', ...PAIR, '--side', 'short', '--stop', '2835', '--take-profit', '2900'], 'bulwark: --take-profit 2900 must be below --stop 2835 for a short'],
    [['margin', 'open', ...PAIR, '--side', 'long', '--stop', '58167.68', '--request-id', 'a.b'], `--request-id must be 1..64 letters, digits, '_' or '-', got "a.b"`],
    [['margin', 'close', ...PAIR], "required option '--reason <text>' not specified"],
    [['margin', 'close', ...PAIR, '--reason', 'x'.repeat(201)], '--reason must be 1..200 characters, got 201 characters'],
    [['margin', 'account', '--account', 'acc-1'], "required option '--symbol <SYMBOL>' not specified"],
    [['margin', 'positions', '--status', 'GONE'], '--status must be one of OPEN, CLOSED, STOPPED_OUT, LIQUIDATED, got "GONE"'],
    [['margin', 'interest', '--account', A], "required option '--symbol <SYMBOL>' not specified"],
  ])('%j → exit 2: %s', async (args, message) => {
    const r = await bulwark(bus, ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.out).toBe('');
    await nc.flush();
    expect(received).toEqual([]);
  });

  it('main.ts registers every margin command, with its flags in --help', async () => {
    const margin = buildProgram().commands.find((c) => c.name() === 'margin');
    expect(margin?.commands.map((c) => c.name())).toEqual(['transfer', 'borrow', 'repay', 'account', 'open', 'close', 'positions', 'interest']);
    const r = await bulwark(bus, 'margin', 'open', '--help');
    expect(r.code).toBe(0);
    for (const flag of ['--account', '--symbol', '--side', '--stop', '--take-profit', '--request-id', '--by', '--json']) expect(r.out).toContain(flag);
  });
});

// ---------------------------------------------------------------------------------------
// Against NATS
// ---------------------------------------------------------------------------------------

describe('against NATS with a responder on the subjects', () => {
  it('transfer sends exactly the MarginTransferRequest on Subjects.margin("transfer") and prints the transaction', async () => {
    answer = () => ({ tranId: '12' });
    const r = await bulwark(bus, 'margin', 'transfer', '--account', 'acc-1', '--symbol', 'btcusdt', '--asset', 'usdt', '--amount', '1000', '--to', 'margin', '--by', 'alice');
    expect(received).toEqual([
      { subject: `${PREFIX}${Subjects.margin('transfer')}`, data: { accountId: 'acc-1', symbol: 'BTCUSDT', asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', by: 'alice' } },
    ]);
    expect(r).toEqual({ code: 0, err: '', out: 'transferred 1000 USDT, spot wallet → BTCUSDT isolated margin of account acc-1 (tran 12)\n' });
  });

  it('transfer --to spot without --by: who asks is the shell\'s user; --json prints the answer', async () => {
    answer = () => ({ tranId: '99' });
    const r = await bulwark(bus, 'margin', 'transfer', ...PAIR, '--asset', 'BTC', '--amount', '0.00000555', '--to', 'spot', '--json');
    expect(received.map((m) => m.data)).toEqual([{ accountId: 'acc-1', symbol: 'BTCUSDT', asset: 'BTC', amount: '0.00000555', direction: 'TO_SPOT', by: WHO }]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ tranId: '99' });
  });

  it('borrow sends a BORROW MarginLoanRequest on Subjects.margin("loan")', async () => {
    answer = () => ({ tranId: 'bw-7' });
    const r = await bulwark(bus, 'margin', 'borrow', ...PAIR, '--asset', 'USDT', '--amount', '429.346511', '--by', 'alice');
    expect(received).toEqual([
      { subject: `${PREFIX}${Subjects.margin('loan')}`, data: { accountId: 'acc-1', symbol: 'BTCUSDT', asset: 'USDT', amount: '429.346511', action: 'BORROW', by: 'alice' } },
    ]);
    expect(r).toEqual({ code: 0, err: '', out: 'borrowed 429.346511 USDT in BTCUSDT isolated margin of account acc-1 (tran bw-7)\n' });
  });

  it('repay --amount all sends amount ALL and prints the interest and principal the venue took', async () => {
    answer = () => ({ tranId: 'rp-1', principal: '429.346511', interest: '0.01699498' });
    const r = await bulwark(bus, 'margin', 'repay', ...PAIR, '--asset', 'USDT', '--amount', 'ALL', '--by', 'alice');
    expect(received).toEqual([
      { subject: `${PREFIX}${Subjects.margin('loan')}`, data: { accountId: 'acc-1', symbol: 'BTCUSDT', asset: 'USDT', amount: 'ALL', action: 'REPAY', by: 'alice' } },
    ]);
    expect(r).toEqual({ code: 0, err: '', out: 'repaid 0.01699498 interest + 429.346511 principal USDT in BTCUSDT isolated margin of account acc-1 (tran rp-1)\n' });
  });

  it('repay with an amount sends it as the decimal string given', async () => {
    answer = () => ({ tranId: 'rp-2', principal: '99.99150251', interest: '0.00849749' });
    const r = await bulwark(bus, 'margin', 'repay', ...PAIR, '--asset', 'USDT', '--amount', '100.00000000', '--by', 'alice');
    expect(received.map((m) => m.data)).toEqual([{ accountId: 'acc-1', symbol: 'BTCUSDT', asset: 'USDT', amount: '100.00000000', action: 'REPAY', by: 'alice' }]);
    expect(r.code).toBe(0);
  });

  it('account sends the MarginAccountQuery and prints balances, index price, margin level with its status, liquidation price and equity', async () => {
    answer = () => ({
      accountId: 'acc-1', symbol: 'BTCUSDT',
      assets: [
        { asset: 'BTC', free: '0.02442555', locked: '0', borrowed: '0', interest: '0', netAsset: '0.02442555' },
        { asset: 'USDT', free: '0', locked: '0', borrowed: '429.346511', interest: '0.00849749', netAsset: '-429.35500849' },
      ],
      indexPrice: '58459.98', marginLevel: '3.32563717', marginLevelStatus: 'NORMAL', liquidationPrice: '19404.17', equity: '998.56226601',
    });
    const r = await bulwark(bus, 'margin', 'account', ...PAIR);
    expect(received).toEqual([{ subject: `${PREFIX}${Subjects.margin('account')}`, data: { accountId: 'acc-1', symbol: 'BTCUSDT' } }]);
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'margin account acc-1 BTCUSDT (isolated)',
        '  asset  free        locked  borrowed    interest    net asset',
        '  BTC    0.02442555  0       0           0           0.02442555',
        '  USDT   0           0       429.346511  0.00849749  -429.35500849',
        '  index price        58459.98',
        '  margin level       3.32563717 (NORMAL)',
        '  liquidation price  19404.17',
        '  equity             998.56226601 USDT (net assets at the index price)',
        '',
      ].join('\n'),
    });
  });

  it('account with nothing borrowed says so for the margin level and the liquidation price', async () => {
    answer = () => ({
      accountId: 'acc-1', symbol: 'BTCUSDT',
      assets: [
        { asset: 'BTC', free: '0', locked: '0', borrowed: '0', interest: '0', netAsset: '0' },
        { asset: 'USDT', free: '1000', locked: '0', borrowed: '0', interest: '0', netAsset: '1000' },
      ],
      indexPrice: '58459.98', marginLevel: null, marginLevelStatus: 'EXCESSIVE', liquidationPrice: '0', equity: '1000',
    });
    const r = await bulwark(bus, 'margin', 'account', ...PAIR);
    expect(r.code).toBe(0);
    expect(r.out).toContain('  margin level       none: nothing borrowed (EXCESSIVE)\n');
    expect(r.out).toContain('  liquidation price  none\n');
  });

  it('open sends the MarginEntryRequest to risk on Subjects.marginEntry and prints the approval', async () => {
    answer = (_s, d) => {
      const q = d as { requestId: string; accountId: string; symbol: string; side: 'LONG'; stopPrice: string; takeProfitPrice: string; by: string };
      return { requestId: q.requestId, decision: 'APPROVED', approved: { ...q, tradingDay: '2024-08-04', count: 3 } };
    };
    const r = await bulwark(bus, 'margin', 'open', ...PAIR, '--side', 'long', '--stop', '58167.68', '--take-profit', '59044.58', '--request-id', 'req-1', '--by', 'alice');
    expect(received).toEqual([
      {
        subject: `${PREFIX}${Subjects.marginEntry}`,
        data: { accountId: 'acc-1', symbol: 'BTCUSDT', side: 'LONG', stopPrice: '58167.68', takeProfitPrice: '59044.58', by: 'alice', requestId: 'req-1' },
      },
    ]);
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'margin entry req-1 APPROVED: LONG BTCUSDT on account acc-1',
        '  stop           58167.68',
        '  take-profit    59044.58',
        '  entries today  3 on trading day 2024-08-04',
        "  next           execution sizes it from the pair's equity and opens it (bulwark margin positions --account acc-1)",
        '',
      ].join('\n'),
    });
  });

  it('open without --take-profit or --request-id leaves them out (risk makes the id)', async () => {
    answer = () => ({ requestId: 'me-1', decision: 'ALREADY_DECIDED' });
    const r = await bulwark(bus, 'margin', 'open', ...PAIR, '--side', 'SHORT', '--stop', '60000');
    expect(received.map((m) => m.data)).toEqual([{ accountId: 'acc-1', symbol: 'BTCUSDT', side: 'SHORT', stopPrice: '60000', by: WHO }]);
    expect(r).toEqual({ code: 0, err: '', out: 'margin entry me-1 was decided before (ALREADY_DECIDED): nothing new is recorded; the decision is on stream account-acc-1\n' });
  });

  it('a denied entry exits 1 with the reason and risk\'s detail; --json also prints the answer', async () => {
    const denied = { requestId: 'me-2', accountId: 'acc-1', symbol: 'BTCUSDT', reason: 'TRADING_HALTED', detail: 'trading is HALTED: kill switch by ops', by: 'alice', tradingDay: '2024-08-04' };
    answer = () => ({ requestId: 'me-2', decision: 'DENIED', denied });
    const r = await bulwark(bus, 'margin', 'open', ...PAIR, '--side', 'long', '--stop', '58167.68', '--by', 'alice', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({ requestId: 'me-2', decision: 'DENIED', denied });
    expect(r.err).toBe(
      [`bulwark: margin entry me-2 denied by ${PREFIX}${Subjects.marginEntry}: TRADING_HALTED`, '  reason   TRADING_HALTED', '  detail   trading is HALTED: kill switch by ops', ''].join('\n'),
    );
  });

  it('close sends the MarginCloseRequest and prints the sequence and net PnL', async () => {
    answer = () => ({ sequence: 1, netPnl: '-12.1307468794' });
    const r = await bulwark(bus, 'margin', 'close', ...PAIR, '--reason', 'news in an hour', '--by', 'alice');
    expect(received).toEqual([{ subject: `${PREFIX}${Subjects.margin('close')}`, data: { accountId: 'acc-1', symbol: 'BTCUSDT', reason: 'news in an hour', by: 'alice' } }]);
    expect(r).toEqual({ code: 0, err: '', out: 'closed margin position #1 of BTCUSDT on account acc-1: net PnL -12.1307468794 USDT\n' });
  });

  it.each([
    [['margin', 'transfer', ...PAIR, '--asset', 'USDT', '--amount', '1000', '--to', 'margin'], Subjects.margin('transfer')],
    [['margin', 'borrow', ...PAIR, '--asset', 'USDT', '--amount', '1'], Subjects.margin('loan')],
    [['margin', 'repay', ...PAIR, '--asset', 'USDT', '--amount', 'all'], Subjects.margin('loan')],
    [['margin', 'account', ...PAIR], Subjects.margin('account')],
    [['margin', 'open', ...PAIR, '--side', 'long', '--stop', '1'], Subjects.marginEntry],
    [['margin', 'close', ...PAIR, '--reason', 'x'], Subjects.margin('close')],
  ])('a refusal of %j exits 1 with its code (CommandRefusedError)', async (args, subject) => {
    answer = () => ({ error: { code: 'UNKNOWN_PAIR', message: 'acc-1 trades the isolated pairs ETHUSDT, not BTCUSDT' } });
    const r = await bulwark(bus, ...args);
    expect(received.map((m) => m.subject)).toEqual([`${PREFIX}${subject}`]);
    expect(r).toEqual({
      code: 1,
      out: '',
      err: [`bulwark: refused by ${PREFIX}${subject}: UNKNOWN_PAIR`, '  reason   acc-1 trades the isolated pairs ETHUSDT, not BTCUSDT', ''].join('\n'),
    });
  });

  it('with --json a refusal is printed on stdout too', async () => {
    const error = { code: 'MARGIN_NOT_CONFIGURED', message: 'this execution trades no spot-margin account (set BULWARK_MARGIN_VENUE)' };
    answer = () => ({ error });
    const r = await bulwark(bus, 'margin', 'borrow', ...PAIR, '--asset', 'USDT', '--amount', '1', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({ error });
    expect(r.err).toContain(': MARGIN_NOT_CONFIGURED\n');
  });

  it('nobody answering is exit 1 naming the subject and the service', async () => {
    // A prefix outside the responder's `${PREFIX}>`.
    const silent = `n${randomBytes(4).toString('hex')}.`;
    const r = await bulwark({ ...bus, subjectPrefix: silent }, 'margin', 'close', ...PAIR, '--reason', 'x');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`bulwark: nobody answers on ${silent}${Subjects.margin('close')}: is the execution service running`);
    expect(received).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// From the event log
// ---------------------------------------------------------------------------------------

describe('positions and interest from the event log (no service)', () => {
  it('positions lists every pair\'s positions through the margin read model, and closes the store', async () => {
    const before = { opens, closes };
    const r = await bulwark(bus, 'margin', 'positions');
    expect({ opens: opens - before.opens, closes: closes - before.closes }).toEqual({ opens: 1, closes: 1 });
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        `Margin positions: 2 (event log up to position ${await store.lastPosition()})`,
        '  position                  status       side   quantity    entry     stop      target  exit      borrowed         interest         net PnL              opened (UTC)         closed (UTC)',
        '  margin-spot-m1-BTCUSDT-1  STOPPED_OUT  LONG   0.02442555  58459.98  58167.68  —       58080.62  429.346511 USDT  0.01699498 USDT  -12.1307468794 USDT  2024-08-04 22:00:00  2024-08-04 23:04:12',
        '  margin-spot-m1-ETHUSDT-1  OPEN         SHORT  0.5         2700      2835      2430    —         0.5 ETH          0.012339 USDT    —                    2024-08-04 22:15:00  —',
        '',
      ].join('\n'),
    });
    await nc.flush();
    expect(received).toEqual([]);
  });

  it('positions --status and --account filter; --json prints the read model\'s views', async () => {
    const r = await bulwark(bus, 'margin', 'positions', '--account', A, '--status', 'stopped_out', '--json');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out) as { positions: Record<string, unknown>[]; skipped: { count: number }; problems: string[] };
    expect(printed.skipped.count).toBe(0);
    expect(printed.problems).toEqual([]);
    expect(printed.positions).toEqual([
      expect.objectContaining({
        positionId: 'margin-spot-m1-BTCUSDT-1', side: 'LONG', quantity: '0.02442555', entryPrice: '58459.98', stopPrice: '58167.68', borrowedAsset: 'USDT', borrowed: '429.346511',
        interestQuote: '0.01699498', status: 'STOPPED_OUT', exitPrice: '58080.62', realisedPnl: '-9.275352', netPnl: '-12.1307468794', equityAfter: '987.8692531206',
      }),
    ]);
    const open = await bulwark(bus, 'margin', 'positions', '--account', A, '--status', 'OPEN');
    expect(open.out.split('\n')[0]).toBe(`Margin positions of account ${A}, status OPEN: 1 (event log up to position ${await store.lastPosition()})`);
    expect(open.out).toContain('margin-spot-m1-ETHUSDT-1');
    expect(open.out).not.toContain('margin-spot-m1-BTCUSDT-1');
  });

  it('an account with a pair but no position lists none; an account the log does not hold is exit 2', async () => {
    const other = await bulwark(bus, 'margin', 'positions', '--account', 'other');
    expect(other.code).toBe(0);
    expect(other.out).toBe(`Margin positions of account other: 0 (event log up to position ${await store.lastPosition()})\n  none\n`);
    const typo = await bulwark(bus, 'margin', 'positions', '--account', 'spot-m2');
    expect(typo).toEqual({ code: 2, out: '', err: 'bulwark: the event log holds no isolated-margin pair of account spot-m2: check --account and --symbol (bulwark margin positions lists every pair\'s positions)\n' });
  });

  it('interest shows what is owed, the total charged and every hourly accrual of the pair', async () => {
    const r = await bulwark(bus, 'margin', 'interest', '--account', A, '--symbol', 'BTCUSDT');
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'Interest of spot-m1 BTCUSDT (isolated margin, BTC/USDT), up to 2024-08-04 23:04:12 UTC',
        '  borrowed now      0 USDT',
        '  interest owed     0 USDT',
        '  interest charged  0.01699498 USDT in 2 accrual(s), each valued at its price',
        '  open position     none',
        '',
        'Accruals',
        '  market time (UTC)    type       asset  principal   rate %/day  interest    in USDT     price     tx',
        '  2024-08-04 22:00:00  ON_BORROW  USDT   429.346511  0.0475      0.00849749  0.00849749  58459.98  i1',
        '  2024-08-04 23:00:00  PERIODIC   USDT   429.346511  0.0475      0.00849749  0.00849749  58210.5   i2',
        '',
      ].join('\n'),
    });
  });

  it('interest of an open short: the loan in the base asset, accruals valued in quote; --json prints the pair view', async () => {
    const r = await bulwark(bus, 'margin', 'interest', '--account', A, '--symbol', 'ethusdt', '--json');
    expect(r.code).toBe(0);
    const { pair } = JSON.parse(r.out) as { pair: Record<string, unknown> };
    expect(pair).toMatchObject({
      accountId: A, symbol: 'ETHUSDT', borrowed: { ETH: '0.5' }, interestOwed: { ETH: '0.00000457' }, interestQuoteTotal: '0.012339', openPositionId: 'margin-spot-m1-ETHUSDT-1',
      interest: [{ txId: 'e1', asset: 'ETH', principal: '0.5', interest: '0.00000457', dailyRate: '0.000219', type: 'ON_BORROW', price: '2700', quoteValue: '0.012339', at: t('22:15:00') }],
    });
  });

  it('interest of a pair the log does not hold is exit 2 naming the stream', async () => {
    const r = await bulwark(bus, 'margin', 'interest', '--account', A, '--symbol', 'SOLUSDT');
    expect(r.code).toBe(2);
    expect(r.err).toBe('bulwark: the event log holds no isolated-margin pair SOLUSDT of account spot-m1 (no stream margin-spot-m1-SOLUSDT): check --account and --symbol (bulwark margin positions lists every pair\'s positions)\n');
  });

  it('a stored message that is not a valid margin event is listed under Skipped; the rest is answered', async () => {
    const poisoned = new InMemoryEventStore({ validate: false });
    await putRaw(poisoned, BTC, 'MarginTransferred', { ...btc, asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', tranId: '12', by: 'alice', at: t('21:55:00') }, t('21:55:00'));
    await putRaw(poisoned, BTC, 'MarginBorrowed', { ...btc, asset: 'USDT', amount: 429.346511, tranId: 'bwm-1', by: 'alice', at: OPEN }, OPEN);
    const program = new Command('bulwark').exitOverride();
    registerMarginCommands(program, async () => ({ store: poisoned, close: () => poisoned.close() }), bus);
    let out = '';
    const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out += `${a.map(String).join(' ')}\n`));
    try {
      await program.parseAsync(['margin', 'interest', '--account', A, '--symbol', 'BTCUSDT'], { from: 'user' });
    } finally {
      log.mockRestore();
    }
    expect(out).toContain('  borrowed now      none\n');
    expect(out).toContain('Skipped: 1 stored message(s) that are not valid margin events, left out\n');
    expect(out).toMatch(/ {2}! margin-spot-m1-BTCUSDT#1 \(position 2, MarginBorrowed\): invalid: .*amount/);
  });
});
