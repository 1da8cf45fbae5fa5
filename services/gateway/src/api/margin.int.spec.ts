import { randomBytes, randomUUID } from 'node:crypto';
import {
  type EventData, type EventType, MarginAccountQuery, MarginCloseRequest, MarginEntryRequest, MarginLoanRequest, MarginTransferRequest, Streams, Subjects,
} from '@bulwark/contracts';
import { dec, marginClosePnl, str } from '@bulwark/domain';
import { rebuildMarginReadModels } from '@bulwark/projections';
import { newEvent } from '@bulwark/testing';
import { JSONCodec, type Msg } from 'nats';
import type { z } from 'zod';
import { type GatewayKit, login, startGatewayKit } from '../gateway-test-kit';
import { createIdempotencyBucket } from './idempotency-bucket';
import { ReadModelService } from './read-model.service';

// The spot-margin routes on the whole gateway (createGatewayApp: the real auth guard, roles,
// error filter and fastify settings) with an in-memory event log, and stand-ins for risk and
// execution answering on prefixed subjects of Bulwark's nats-server as the services do: they
// check each request against its contract, record what the service records, then answer.
// The figures are the 2024-08-04 crash run's (libs/projections/src/margin.int.spec.ts): a long of
// 0.02445 BTC bought at 58459.98 (0.02442555 held after the base commission), stop 58167.68,
// 429.346511 USDT borrowed at 0.0475 %/day, i.e. 0.00849749 USDT of interest an hour.

const json = JSONCodec();
const A = 'spot-m1'; // an account id holding '-'
const BTC = Streams.margin(A, 'BTCUSDT');
const btc = { accountId: A, symbol: 'BTCUSDT' };
/** The pair the money commands move (transfers, loans): its books are not the read tests' pair. */
const desk = { accountId: 'spot-m2', symbol: 'BTCUSDT' };
const DESK = Streams.margin(desk.accountId, desk.symbol);
const t = (iso: string) => Date.parse(iso);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The URL and the same with a trailing slash on its path: both must be one route. */
const forms = (url: string): [string, string] => {
  const [path, query] = url.split('?');
  return [url, `${path}/${query === undefined ? '' : `?${query}`}`];
};

describe('spot isolated-margin API (/api/margin)', () => {
  const prefix = `t${randomBytes(4).toString('hex')}.`;
  const idempotencyBucket = `idem-margin-spec-${randomBytes(4).toString('hex')}`;
  let kit: GatewayKit;
  let trader: Record<string, string>;
  let viewer: Record<string, string>;
  /** What the stand-ins received (after their contract check), by subject name. */
  const sent: Record<string, unknown[]> = { transfer: [], loan: [], close: [], account: [], entry: [] };
  /** The close stand-in refuses while set (the venue holds nothing to sell). */
  let closeRefused = false;
  /** Risk answers ALREADY_DECIDED while set (a request id it decided before). */
  let entryRepeated = false;
  let ids = 0;

  /** Append one event as a service would, with its market time (the in-memory store checks it against its schema). */
  async function put<T extends EventType>(streamId: string, type: T, data: EventData<T>, tsEvent: number): Promise<void> {
    await kit.store.append(streamId, [newEvent(type, data, { tsEvent, correlationId: `margin-spec-${++ids}` })], 'any');
  }
  /** Wait until the gateway's read model has applied everything in the log. */
  const caughtUp = async () => expect(await kit.app.get(ReadModelService).waitFor(await kit.store.lastPosition(), 10_000)).toBe(true);

  /** A stand-in answering `subject` once its request passed `schema` (else INVALID_MESSAGE, as the services' ZodPipe does). */
  function serve<S extends z.ZodTypeAny>(name: string, subject: string, schema: S, answer: (req: z.infer<S>) => Promise<unknown>): void {
    kit.nc.subscribe(`${prefix}${subject}`, {
      callback: (_e, m: Msg) => {
        const parsed = schema.safeParse(json.decode(m.data));
        if (!parsed.success) return m.respond(json.encode({ error: { code: 'INVALID_MESSAGE', message: parsed.error.issues[0]?.message ?? 'invalid' } }));
        sent[name].push(parsed.data);
        answer(parsed.data).then(
          (a) => m.respond(json.encode(a)),
          (e: Error) => m.respond(json.encode({ error: { code: 'INTERNAL', message: e.message } })),
        );
      },
    });
  }
  const refuse = (code: string, message: string) => ({ error: { code, message } });

  /** A long of the crash run's size as the pair's `sequence`-th position, with its loan and first interest accrual. */
  async function openLong(sequence: number, clientOrderId: string, at: number): Promise<void> {
    await put(BTC, 'MarginTransferred', { ...btc, asset: 'USDT', amount: '1000', direction: 'TO_MARGIN', tranId: `${sequence}1`, by: 'alice', at: at - 300_000 }, at - 300_000);
    await put(BTC, 'MarginBorrowed', { ...btc, asset: 'USDT', amount: '429.346511', tranId: clientOrderId, by: 'alice', at }, at);
    await put(BTC, 'MarginPositionOpened', {
      ...btc, sequence, side: 'LONG', quantity: '0.02442555', entryPrice: '58459.98', entryQuantity: '0.02445', entryQuote: '1429.346511', baseCommission: '0.00002445', quoteCommission: '0',
      commissionQuote: '1.4293465', stopPrice: '58167.68', takeProfitPrice: null, riskAmount: '10', requestId: `me-${sequence}`, clientOrderId, orderId: String(7 + sequence), by: 'alice', at,
    }, at);
    await put(BTC, 'MarginInterestCharged', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'ON_BORROW', txId: `i${sequence}a`, price: '58459.98', quoteValue: '0.00849749', at }, at);
    await put(BTC, 'MarginInterestCharged', { ...btc, asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'PERIODIC', txId: `i${sequence}b`, price: '58210.5', quoteValue: '0.00849749', at: at + 3_600_000 }, at + 3_600_000);
  }

  /** Close the pair's open long as execution does: trigger, AUTO_REPAY (principal and the interest), the close; 0.02442 sold at `exit`. */
  async function closeOpenLong(status: 'CLOSED' | 'STOPPED_OUT', exit: string, reason: string, by: string, clientOrderId: string, at: number) {
    const [open] = rebuildMarginReadModels(await kit.store.readStream(BTC)).positions.filter((p) => p.status === 'OPEN');
    if (!open) return null;
    const exitQuote = dec('0.02442').mul(exit);
    const r = marginClosePnl({
      side: 'LONG', entryQuantity: dec('0.02445'), entryQuote: dec('1429.346511'), exitPrice: dec(exit), baseCommission: dec('0.00002445'),
      quoteCommission: exitQuote.mul('0.001'), baseInterest: dec(0), quoteInterest: dec(open.interestQuote), shortfall: dec(0),
    });
    const kind = status === 'STOPPED_OUT' ? 'STOP_LOSS' : 'OPERATOR_CLOSE';
    await put(BTC, 'MarginStopTriggered', { ...btc, sequence: open.sequence, kind, triggerPrice: status === 'STOPPED_OUT' ? '58167.68' : exit, price: exit, ...(kind === 'OPERATOR_CLOSE' ? { reason, by } : {}), at }, at);
    await put(BTC, 'MarginRepaid', { ...btc, asset: 'USDT', principal: '429.346511', interest: open.interestQuote, tranId: clientOrderId, by, at: at + 300 }, at + 300);
    await put(BTC, 'MarginPositionClosed', {
      ...btc, sequence: open.sequence, status, reason, quantity: '0.02442', exitPrice: exit, exitQuote: str(exitQuote), realisedPnl: str(r.realisedPnl), commissionQuote: str(r.commissionQuote),
      interestQuote: str(r.interestQuote), shortfall: '0', netPnl: str(r.netPnl), equityAfter: str(dec('1000').plus(r.netPnl)), clientOrderId, by, at: at + 300,
    }, at + 300);
    return { sequence: open.sequence, netPnl: str(r.netPnl) };
  }

  beforeAll(async () => {
    kit = await startGatewayKit({}, undefined, { subjectPrefix: prefix, requestTimeoutMs: 5_000, idempotencyBucket });
    await createIdempotencyBucket(kit.nc, idempotencyBucket);
    trader = { authorization: `Bearer ${(await login(kit.app, 'tom', kit.passwords.tom)).accessToken}` };
    viewer = { authorization: `Bearer ${(await login(kit.app, 'vic', kit.passwords.vic)).accessToken}` };

    // Stand-in execution: refusals as MarginExecution / MarginDesk / the venue give them.
    serve('transfer', Subjects.margin('transfer'), MarginTransferRequest, async (req) => {
      if (req.symbol !== 'BTCUSDT') return refuse('UNKNOWN_PAIR', `${req.accountId} trades the isolated pairs BTCUSDT, not ${req.symbol}`);
      if (req.direction === 'TO_MARGIN' && dec(req.amount).gt(5000)) return refuse('-3041', 'Balance is not enough');
      if (req.direction === 'TO_SPOT' && dec(req.amount).gte(900)) {
        return refuse('BELOW_SAFE_LEVEL', `moving ${req.amount} ${req.asset} out would leave the margin level at 1.2156 ≤ the safe level 2 while 429.36350598 USDT is owed`);
      }
      const tranId = String(100 + sent.transfer.length);
      await put(Streams.margin(req.accountId, req.symbol), 'MarginTransferred', { accountId: req.accountId, symbol: req.symbol, asset: req.asset, amount: req.amount, direction: req.direction, tranId, by: req.by, at: Date.now() }, Date.now());
      return { tranId };
    });
    serve('loan', Subjects.margin('loan'), MarginLoanRequest, async (req) => {
      const stream = Streams.margin(req.accountId, req.symbol);
      const pair = { accountId: req.accountId, symbol: req.symbol };
      const tranId = String(200 + sent.loan.length);
      if (req.action === 'BORROW') {
        if (dec(req.amount).gt(10_000)) return refuse('-3045', "The system doesn't have enough asset now.");
        await put(stream, 'MarginBorrowed', { ...pair, asset: req.asset, amount: req.amount, tranId, by: req.by, at: Date.now() }, Date.now());
        // An hour of interest at 0.0475 %/day, rounded up to 8 decimals as the venue charges it.
        const interest = str(dec(req.amount).mul('0.000475').div(24).toDecimalPlaces(8, 0));
        await put(stream, 'MarginInterestCharged', { ...pair, asset: req.asset, principal: req.amount, interest, dailyRate: '0.000475', type: 'ON_BORROW', txId: `i${tranId}`, price: '58210.5', quoteValue: interest, at: Date.now() }, Date.now());
        return { tranId };
      }
      if (req.asset === 'BTC') return refuse('NOTHING_OWED', `nothing of BTC is owed on ${req.symbol}`);
      const principal = req.amount === 'ALL' ? '429.346511' : req.amount;
      await put(stream, 'MarginRepaid', { ...pair, asset: req.asset, principal, interest: '0', tranId, by: req.by, at: Date.now() }, Date.now());
      return { tranId, principal, interest: '0' };
    });
    serve('close', Subjects.margin('close'), MarginCloseRequest, async (req) => {
      if (closeRefused) return refuse('NOTHING_TO_CLOSE', 'the venue holds no BTC to close position #2 (a liquidation?)');
      const done = await closeOpenLong('CLOSED', '58612.4', req.reason, req.by, `bwm-c${sent.close.length}`, Date.now());
      return done ?? refuse('NO_POSITION', `no open position on ${req.symbol}`);
    });
    serve('account', Subjects.margin('account'), MarginAccountQuery, async (q) => {
      if (q.symbol === 'ETHUSDT') return { accountId: q.accountId, symbol: q.symbol, assets: 'none' }; // off contract
      if (q.symbol !== 'BTCUSDT') return refuse('UNKNOWN_PAIR', `${q.accountId} trades the isolated pairs BTCUSDT, not ${q.symbol}`);
      return {
        accountId: q.accountId, symbol: q.symbol,
        assets: [
          { asset: 'BTC', free: '0.02442555', locked: '0', borrowed: '0', interest: '0', netAsset: '0.02442555' },
          { asset: 'USDT', free: '0', locked: '0', borrowed: '429.346511', interest: '0.01699498', netAsset: '-429.36350598' },
        ],
        indexPrice: '58210.5', marginLevel: '3.31146793', marginLevelStatus: 'NORMAL', liquidationPrice: '19336.3', equity: '992.45997229',
      };
    });
    // Stand-in risk: records its decision on the account stream, answers as RiskService.marginEntry.
    serve('entry', Subjects.marginEntry, MarginEntryRequest, async (req) => {
      if (req.accountId === 'nobody') return refuse('UNKNOWN_ACCOUNT', 'no account nobody');
      const requestId = req.requestId ?? `me-${randomUUID()}`;
      if (entryRepeated) return { requestId, decision: 'ALREADY_DECIDED' };
      const base = { requestId, accountId: req.accountId, symbol: req.symbol, by: req.by, tradingDay: new Date().toISOString().slice(0, 10) };
      if (req.accountId === 'spot-halted') {
        const denied = { ...base, reason: 'TRADING_HALTED' as const, detail: 'trading is HALTED (kill switch by ops: venue maintenance)' };
        await put(Streams.account(req.accountId), 'MarginEntryDenied', denied, Date.now());
        return { requestId, decision: 'DENIED', denied };
      }
      const approved = { ...base, side: req.side, stopPrice: req.stopPrice, takeProfitPrice: req.takeProfitPrice ?? null, count: sent.entry.length };
      await put(Streams.account(req.accountId), 'MarginEntryApproved', approved, Date.now());
      return { requestId, decision: 'APPROVED', approved };
    });
    await kit.nc.flush();

    // The log: #1 stopped out in the crash (entry bwm-1, close bwm-2), #2 open with the same figures.
    await openLong(1, 'bwm-1', t('2024-08-04T22:00:00Z'));
    await closeOpenLong('STOPPED_OUT', '58080.62', 'STOP_LOSS', 'stop-monitor', 'bwm-2', t('2024-08-04T23:04:12Z'));
    await openLong(2, 'bwm-3', t('2024-08-05T09:00:00Z'));
    await caughtUp();
  }, 120_000);

  afterAll(async () => {
    await (await kit?.nc.jetstreamManager())?.streams.delete(`KV_${idempotencyBucket}`).catch(() => undefined);
    await kit?.close();
  }, 60_000);

  type Method = 'GET' | 'POST' | 'DELETE';
  const call = (method: Method, url: string, headers: Record<string, string> | null, payload?: unknown, extra: Record<string, string> = {}) =>
    kit.app.inject({ method, url, payload: payload as never, headers: { ...(headers ?? {}), ...extra } });

  const transferBody = { ...desk, asset: 'usdt', amount: 250.5 };

  it('transfers to margin and back: MarginTransferRequest with the direction, the user as by and the request id; execution\'s answer and the recorded event', async () => {
    for (const [url, direction, amount] of [['/api/margin/transfer/to-margin', 'TO_MARGIN', 250.5], ['/api/margin/transfer/to-spot', 'TO_SPOT', '100']] as const) {
      for (const u of forms(url)) {
        const before = sent.transfer.length;
        const r = await call('POST', u, trader, { ...transferBody, amount });
        expect(r.statusCode).toBe(200);
        const req = sent.transfer[before] as MarginTransferRequest;
        expect(req).toEqual({ ...desk, asset: 'USDT', amount: String(amount), direction, by: 'tom', requestId: expect.stringMatching(UUID) });
        expect(r.json()).toEqual({
          result: { tranId: String(100 + before + 1) },
          events: [expect.objectContaining({ type: 'MarginTransferred', streamId: DESK, data: expect.objectContaining({ asset: 'USDT', amount: String(amount), direction, by: 'tom' }) })],
        });
      }
    }
    // Each request its own id: risk and execution correlate (and risk deduplicates) by it.
    const requestIds = (sent.transfer as MarginTransferRequest[]).map((q) => q.requestId);
    expect(new Set(requestIds).size).toBe(requestIds.length);
  }, 60_000);

  it('transfer refusals keep the service\'s code: an unknown pair 404, the venue\'s balance and the safe level 422', async () => {
    for (const [url, body, status, code] of [
      ['/api/margin/transfer/to-margin', { ...transferBody, symbol: 'ethbtc' }, 404, 'UNKNOWN_PAIR'],
      ['/api/margin/transfer/to-margin', { ...transferBody, amount: '6000' }, 422, '-3041'],
      ['/api/margin/transfer/to-spot', { ...transferBody, amount: '950' }, 422, 'BELOW_SAFE_LEVEL'],
    ] as const) {
      for (const u of forms(url)) {
        const r = await call('POST', u, trader, body);
        expect([u, r.statusCode]).toEqual([u, status]);
        expect(r.json()).toEqual({ error: { code, message: expect.any(String) } });
      }
    }
  }, 60_000);

  it('borrows and repays (an amount or ALL): MarginLoanRequest with the action; the venue\'s and execution\'s refusals by code', async () => {
    for (const u of forms('/api/margin/borrow')) {
      const before = sent.loan.length;
      const r = await call('POST', u, trader, { ...desk, asset: 'USDT', amount: '429.346511' });
      expect(r.statusCode).toBe(200);
      expect(sent.loan[before]).toEqual({ ...desk, asset: 'USDT', amount: '429.346511', action: 'BORROW', by: 'tom', requestId: expect.stringMatching(UUID) });
      expect(r.json().events.map((e: { type: string; data: { interest?: string } }) => [e.type, e.data.interest])).toEqual([['MarginBorrowed', undefined], ['MarginInterestCharged', '0.00849749']]);
      const refused = await call('POST', u, trader, { ...desk, asset: 'USDT', amount: '20000' });
      expect(refused.statusCode).toBe(422);
      expect(refused.json().error).toMatchObject({ code: '-3045' });
    }
    for (const [u, amount] of [...forms('/api/margin/repay').map((u) => [u, 'all']), ['/api/margin/repay', '100.25']] as const) {
      const before = sent.loan.length;
      const r = await call('POST', u, trader, { ...desk, asset: 'USDT', amount });
      expect(r.statusCode).toBe(200);
      expect(sent.loan[before]).toMatchObject({ amount: amount === 'all' ? 'ALL' : amount, action: 'REPAY', by: 'tom' });
      expect(r.json()).toMatchObject({ result: { tranId: expect.any(String), principal: amount === 'all' ? '429.346511' : amount, interest: '0' }, events: [{ type: 'MarginRepaid' }] });
    }
    for (const u of forms('/api/margin/repay')) {
      const r = await call('POST', u, trader, { ...desk, asset: 'BTC', amount: 'ALL' });
      expect(r.statusCode).toBe(422);
      expect(r.json().error).toEqual({ code: 'NOTHING_OWED', message: 'nothing of BTC is owed on BTCUSDT' });
    }
  }, 60_000);

  it('a repeated Idempotency-Key gets the first answer and sends nothing again', async () => {
    const key = { 'idempotency-key': `k-${randomUUID()}` };
    const before = sent.transfer.length;
    const [withSlash, without] = forms('/api/margin/transfer/to-margin');
    const first = await call('POST', withSlash, trader, transferBody, key);
    const again = await call('POST', without, trader, transferBody, key);
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(sent.transfer.length).toBe(before + 1);
    // The same key on another command is refused by name.
    const other = await call('POST', '/api/margin/borrow', trader, { ...desk, asset: 'USDT', amount: '1' }, key);
    expect(other.statusCode).toBe(422);
    expect(other.json().error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' });
  }, 60_000);

  it('the venue\'s account through execution: checked against MarginAccountAnswer; an unknown pair 404, an off-contract answer 502', async () => {
    for (const u of forms(`/api/margin/account/btcusdt?accountId=${A}`)) {
      const r = await call('GET', u, viewer);
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({ accountId: A, symbol: 'BTCUSDT', marginLevel: '3.31146793', equity: '992.45997229', assets: [{ asset: 'BTC', netAsset: '0.02442555' }, { asset: 'USDT', borrowed: '429.346511', interest: '0.01699498' }] });
      expect((await call('GET', u.replace('btcusdt', 'ETHBTC'), viewer)).json()).toMatchObject({ error: { code: 'UNKNOWN_PAIR' } });
      const bad = await call('GET', u.replace('btcusdt', 'ETHUSDT'), viewer);
      expect(bad.statusCode).toBe(502);
      expect(bad.json().error).toMatchObject({ code: 'BAD_ANSWER' });
    }
    expect(sent.account.at(-1)).toEqual({ accountId: A, symbol: 'ETHUSDT' });
  }, 60_000);

  it('a margin order goes to risk: approved → 202 with the decision (BUY → LONG); denied → the denial reason and detail; unknown account 404; a decided request id 409', async () => {
    for (const u of forms('/api/margin/order')) {
      const before = sent.entry.length;
      const r = await call('POST', u, trader, { ...btc, side: 'buy', stopPrice: 58167.68, takeProfitPrice: '59336.88' });
      expect(r.statusCode).toBe(202);
      const req = sent.entry[before] as MarginEntryRequest;
      expect(req).toEqual({ ...btc, side: 'LONG', stopPrice: '58167.68', takeProfitPrice: '59336.88', by: 'tom', requestId: expect.stringMatching(UUID) });
      expect(r.json()).toEqual({ requestId: req.requestId, decision: 'APPROVED', approved: expect.objectContaining({ requestId: req.requestId, side: 'LONG', stopPrice: '58167.68', takeProfitPrice: '59336.88', by: 'tom' }) });
      const short = await call('POST', u, trader, { ...btc, side: 'SELL', stopPrice: '58752.28' });
      expect(short.statusCode).toBe(202);
      expect(sent.entry.at(-1)).toMatchObject({ side: 'SHORT', takeProfitPrice: null });

      const denied = await call('POST', u, trader, { accountId: 'spot-halted', symbol: 'BTCUSDT', side: 'LONG', stopPrice: '58167.68' });
      expect(denied.statusCode).toBe(422);
      expect(denied.json()).toEqual({ error: { code: 'TRADING_HALTED', message: 'trading is HALTED (kill switch by ops: venue maintenance)' } });
      const unknown = await call('POST', u, trader, { accountId: 'nobody', symbol: 'BTCUSDT', side: 'LONG', stopPrice: '58167.68' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error.code).toBe('UNKNOWN_ACCOUNT');
    }
    // A denial is a recorded decision: kept for its Idempotency-Key, so a repeat does not ask risk again.
    const key = { 'idempotency-key': `k-${randomUUID()}` };
    const before = sent.entry.length;
    const body = { accountId: 'spot-halted', symbol: 'BTCUSDT', side: 'LONG', stopPrice: '58167.68' };
    expect((await call('POST', '/api/margin/order', trader, body, key)).statusCode).toBe(422);
    expect((await call('POST', '/api/margin/order/', trader, body, key)).json().error.code).toBe('TRADING_HALTED');
    expect(sent.entry.length).toBe(before + 1);
    entryRepeated = true;
    try {
      const repeated = await call('POST', '/api/margin/order', trader, { ...btc, side: 'LONG', stopPrice: '58167.68' });
      expect(repeated.statusCode).toBe(409);
      expect(repeated.json().error.code).toBe('ALREADY_DECIDED');
    } finally {
      entryRepeated = false;
    }
  }, 60_000);

  it('positions from the read model: the list with filters, one by id; an unknown id 404, a malformed one 400', async () => {
    for (const u of forms('/api/margin/positions')) {
      const r = await call('GET', u, viewer);
      expect(r.statusCode).toBe(200);
      expect(r.json().map((p: { positionId: string; status: string }) => [p.positionId, p.status])).toEqual([['margin-spot-m1-BTCUSDT-1', 'STOPPED_OUT'], ['margin-spot-m1-BTCUSDT-2', 'OPEN']]);
    }
    for (const u of forms(`/api/margin/positions?accountId=${A}&status=open`)) {
      expect((await call('GET', u, viewer)).json().map((p: { sequence: number }) => p.sequence)).toEqual([2]);
    }
    expect((await call('GET', '/api/margin/positions?accountId=other', viewer)).json()).toEqual([]);
    for (const u of forms('/api/margin/positions/margin-spot-m1-BTCUSDT-2')) {
      const r = await call('GET', u, viewer);
      expect(r.statusCode).toBe(200);
      expect(r.json()).toMatchObject({
        positionId: 'margin-spot-m1-BTCUSDT-2', accountId: A, symbol: 'BTCUSDT', sequence: 2, side: 'LONG', quantity: '0.02442555', entryPrice: '58459.98', stopPrice: '58167.68',
        borrowedAsset: 'USDT', borrowed: '429.346511', interestQuote: '0.01699498', clientOrderId: 'bwm-3', status: 'OPEN', exitPrice: null,
      });
      const unknown = await call('GET', u.replace('-2', '-9'), viewer);
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error).toMatchObject({ code: 'UNKNOWN_POSITION', field: 'positionId' });
    }
    for (const id of ['margin-spot-m1-BTCUSDT-0', 'margin-spot-m1-btcusdt-1', 'spot-m1-BTCUSDT-1', 'margin-BTCUSDT-1']) {
      for (const u of forms(`/api/margin/positions/${id}`)) {
        const r = await call('GET', u, viewer);
        expect([u, r.statusCode]).toEqual([u, 400]);
        expect(r.json().error).toMatchObject({ code: 'INVALID_INPUT', field: 'positionId' });
      }
    }
  }, 60_000);

  it("the pair's interest ledger from the read model: every accrual in log order; an unknown pair 404", async () => {
    for (const u of forms(`/api/margin/interest?accountId=${A}&symbol=BTCUSDT`)) {
      const r = await call('GET', u, viewer);
      expect(r.statusCode).toBe(200);
      const body = r.json();
      expect(body).toMatchObject({ accountId: A, symbol: 'BTCUSDT', quoteAsset: 'USDT' });
      expect(body.interest.slice(0, 4)).toEqual([
        { txId: 'i1a', asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'ON_BORROW', price: '58459.98', quoteValue: '0.00849749', at: t('2024-08-04T22:00:00Z') },
        { txId: 'i1b', asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'PERIODIC', price: '58210.5', quoteValue: '0.00849749', at: t('2024-08-04T23:00:00Z') },
        { txId: 'i2a', asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'ON_BORROW', price: '58459.98', quoteValue: '0.00849749', at: t('2024-08-05T09:00:00Z') },
        { txId: 'i2b', asset: 'USDT', principal: '429.346511', interest: '0.00849749', dailyRate: '0.000475', type: 'PERIODIC', price: '58210.5', quoteValue: '0.00849749', at: t('2024-08-05T10:00:00Z') },
      ]);
      const unknown = await call('GET', u.replace('BTCUSDT', 'ETHUSDT'), viewer);
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error.code).toBe('UNKNOWN_PAIR');
    }
  }, 60_000);

  it('cancelling a margin order: a filled entry or close is 409 ORDER_NOT_OPEN, anything else 404 UNKNOWN_ORDER; the route says why', async () => {
    for (const [id, status, code, what] of [['bwm-1', 409, 'ORDER_NOT_OPEN', 'the entry of margin-spot-m1-BTCUSDT-1'], ['bwm-2', 409, 'ORDER_NOT_OPEN', 'the close of margin-spot-m1-BTCUSDT-1'], ['bwm-3', 409, 'ORDER_NOT_OPEN', 'the entry of margin-spot-m1-BTCUSDT-2'], ['bwm-nope', 404, 'UNKNOWN_ORDER', 'no spot-margin order bwm-nope']] as const) {
      for (const u of forms(`/api/margin/order/${id}`)) {
        const r = await call('DELETE', u, trader);
        expect([u, r.statusCode]).toEqual([u, status]);
        expect(r.json().error).toMatchObject({ code, message: expect.stringContaining(what) });
        if (status === 409) expect(r.json().error.message).toContain('filled orders cannot be cancelled; close the position');
      }
    }
    const doc = (await call('GET', '/api/docs-json', null)).json();
    expect(doc.paths['/api/margin/order/{orderId}'].delete.summary).toMatch(/MARKET orders that fill at once.*409 ORDER_NOT_OPEN.*404 UNKNOWN_ORDER/);
    for (const p of ['/api/margin/transfer/to-margin', '/api/margin/transfer/to-spot', '/api/margin/borrow', '/api/margin/repay', '/api/margin/account/{symbol}', '/api/margin/order', '/api/margin/positions', '/api/margin/positions/{positionId}', '/api/margin/positions/{positionId}/close', '/api/margin/interest']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  }, 60_000);

  it('closes an open position through execution (accountId and symbol from its id); a refusal by code; a position not open is 409; a repeated key still gets its answer', async () => {
    for (const u of forms('/api/margin/positions/margin-spot-m1-BTCUSDT-2/close')) {
      closeRefused = true;
      try {
        const r = await call('POST', u, trader, { reason: 'take the gain' });
        expect(r.statusCode).toBe(422);
        expect(r.json().error.code).toBe('NOTHING_TO_CLOSE');
      } finally {
        closeRefused = false;
      }
    }
    const key = { 'idempotency-key': `k-${randomUUID()}` };
    let sequence = 2;
    for (const u of forms('/api/margin/positions/margin-spot-m1-BTCUSDT-{n}/close')) {
      const url = u.replace('{n}', String(sequence));
      const before = sent.close.length;
      const r = await call('POST', url, trader, { reason: 'take the gain' }, sequence === 2 ? key : {});
      expect([url, r.statusCode]).toEqual([url, 200]);
      expect(sent.close[before]).toEqual({ ...btc, sequence, reason: 'take the gain', by: 'tom', requestId: expect.stringMatching(UUID) });
      const body = r.json();
      expect(body.result).toEqual({ sequence, netPnl: expect.stringMatching(/^-?\d+(\.\d+)?$/) });
      expect(body.events.map((e: { type: string }) => e.type)).toEqual(['MarginStopTriggered', 'MarginRepaid', 'MarginPositionClosed']);
      await caughtUp();
      const view = (await call('GET', `/api/margin/positions/margin-spot-m1-BTCUSDT-${sequence}`, viewer)).json();
      expect(view).toMatchObject({ status: 'CLOSED', closeReason: 'take the gain', exitPrice: '58612.4', netPnl: body.result.netPnl, interestQuote: '0.01699498' });
      // Its close order is a filled order now.
      expect((await call('DELETE', `/api/margin/order/bwm-c${before + 1}`, trader)).json().error.code).toBe('ORDER_NOT_OPEN');
      if (sequence === 2) {
        // The first close's key returns its answer although the position is no longer open.
        const again = await call('POST', url, trader, { reason: 'take the gain' }, key);
        expect(again.statusCode).toBe(200);
        expect(again.json()).toEqual(body);
        // A third position for the form without the trailing slash.
        await openLong(3, 'bwm-5', t('2024-08-06T09:00:00Z'));
        await caughtUp();
        sequence = 3;
      }
    }
    for (const u of forms('/api/margin/positions/margin-spot-m1-BTCUSDT-1/close')) {
      const r = await call('POST', u, trader, { reason: 'again' });
      expect(r.statusCode).toBe(409);
      expect(r.json().error).toMatchObject({ code: 'POSITION_NOT_OPEN', message: 'margin-spot-m1-BTCUSDT-1 is STOPPED_OUT: only an open position closes' });
    }
    expect((await call('POST', '/api/margin/positions/margin-spot-m1-BTCUSDT-8/close', trader, { reason: 'x' })).json().error.code).toBe('UNKNOWN_POSITION');
  }, 60_000);

  const amount = { ...btc, asset: 'USDT', amount: '10' };
  it.each([
    ['/api/margin/transfer/to-margin', { ...btc, asset: 'USDT' }, 'amount'],
    ['/api/margin/transfer/to-margin', { ...amount, amount: '-5' }, 'amount'],
    ['/api/margin/transfer/to-spot', { ...amount, accountId: 'bad id' }, 'accountId'],
    ['/api/margin/transfer/to-spot', { ...amount, asset: 'U$DT' }, 'asset'],
    ['/api/margin/transfer/to-spot', { ...amount, ammount: '10' }, 'ammount'],
    ['/api/margin/borrow', { ...amount, amount: 'ALL' }, 'amount'],
    ['/api/margin/borrow', { accountId: A, asset: 'USDT', amount: '1' }, 'symbol'],
    ['/api/margin/repay', { ...amount, amount: 'some' }, 'amount'],
    ['/api/margin/repay', { ...amount, amount: 0 }, 'amount'],
    ['/api/margin/order', { ...btc, side: 'UP', stopPrice: '58167.68' }, 'side'],
    ['/api/margin/order', { ...btc, side: 'LONG' }, 'stopPrice'],
    ['/api/margin/order', { ...btc, side: 'LONG', stopPrice: '58167.68', takeProfit: '59000' }, 'takeProfit'],
    ['/api/margin/positions/margin-spot-m1-BTCUSDT-2/close', {}, 'reason'],
    ['/api/margin/positions/margin-spot-m1-BTCUSDT-2/close', { reason: 'x'.repeat(201) }, 'reason'],
    ['/api/margin/positions/margin-spot-m1-BTCUSDT-x/close', { reason: 'x' }, 'positionId'],
  ])('POST %s %j → 400 naming %s, with and without the trailing slash', async (url, body, field) => {
    for (const u of forms(url)) {
      const r = await call('POST', u, trader, body);
      expect([u, r.statusCode]).toEqual([u, 400]);
      expect(r.json().error).toMatchObject({ code: 'INVALID_INPUT', field });
    }
  }, 60_000);

  it.each([
    ['GET', '/api/margin/account/BTCUSDT', 'accountId'],
    ['GET', '/api/margin/account/BTC-USDT?accountId=spot-m1', 'symbol'],
    ['GET', '/api/margin/positions?status=PENDING', 'status'],
    ['GET', '/api/margin/interest?accountId=spot-m1', 'symbol'],
    ['DELETE', '/api/margin/order/bad%20id', 'orderId'],
  ] as const)('%s %s → 400 naming %s, with and without the trailing slash', async (method, url, field) => {
    for (const u of forms(url)) {
      const r = await call(method, u, trader);
      expect([u, r.statusCode]).toEqual([u, 400]);
      expect(r.json().error).toMatchObject({ code: 'INVALID_INPUT', field });
    }
  }, 60_000);

  const COMMANDS: [Method, string, unknown][] = [
    ['POST', '/api/margin/transfer/to-margin', amount],
    ['POST', '/api/margin/transfer/to-spot', amount],
    ['POST', '/api/margin/borrow', amount],
    ['POST', '/api/margin/repay', amount],
    ['POST', '/api/margin/order', { ...btc, side: 'LONG', stopPrice: '58167.68' }],
    ['DELETE', '/api/margin/order/bwm-1', undefined],
    ['POST', '/api/margin/positions/margin-spot-m1-BTCUSDT-3/close', { reason: 'x' }],
  ];
  const READS = ['/api/margin/account/BTCUSDT?accountId=spot-m1', '/api/margin/positions', '/api/margin/positions/margin-spot-m1-BTCUSDT-1', '/api/margin/interest?accountId=spot-m1&symbol=BTCUSDT'];

  it('auth: no credentials → 401 everywhere; a viewer reads but any command is 403 and reaches no service', async () => {
    const before = Object.values(sent).reduce((n, l) => n + l.length, 0);
    for (const [method, url, body] of COMMANDS) {
      for (const u of forms(url)) {
        const anon = await call(method, u, null, body);
        expect([u, anon.statusCode]).toEqual([u, 401]);
        expect(anon.json().error.code).toBe('UNAUTHENTICATED');
        const r = await call(method, u, viewer, body);
        expect([u, r.statusCode]).toEqual([u, 403]);
        expect(r.json().error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('trader') });
      }
    }
    for (const url of READS) {
      for (const u of forms(url)) {
        expect([u, (await call('GET', u, null)).statusCode]).toEqual([u, 401]);
        expect([u, (await call('GET', u, viewer)).statusCode]).toEqual([u, 200]);
      }
    }
    // An admin has the trader's rights.
    const admin = { authorization: `Bearer ${(await login(kit.app, 'ada', kit.passwords.ada)).accessToken}` };
    expect((await call('GET', '/api/margin/positions/', admin)).statusCode).toBe(200);
    expect(Object.values(sent).reduce((n, l) => n + l.length, 0)).toBe(before + 2); // the two reads of the venue's account
  }, 60_000);
});
