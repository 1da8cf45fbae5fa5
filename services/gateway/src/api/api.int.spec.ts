import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { type Candle, Streams, Subjects } from '@bulwark/contracts';
import { instrumentFiles, readCandles, resolveDataDir } from '@bulwark/market-data';
import { InMemoryEventStore } from '@bulwark/event-store';
import { connectNats, EventAppender } from '@bulwark/messaging';
import { event } from '@bulwark/contracts';
import { type CanActivate, type ExecutionContext, Global, Injectable, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { JSONCodec, type NatsConnection } from 'nats';
import { ROLE_KEY, type Role, roleAllows } from '../auth/roles';
import { HttpErrorFilter } from '../security/http-errors';
import { GATEWAY_CONFIG, GATEWAY_NATS, GATEWAY_STORE } from '../tokens';
import { createIdempotencyBucket } from './idempotency-bucket';
import { ApiModule } from './api.module';

// The API's controllers in a Nest testing module (Fastify inject) with a stand-in guard that
// takes the caller's role from `x-test-role`, an in-memory event log, and stand-ins for risk
// and signals answering on prefixed subjects of Bulwark's nats-server (127.0.0.1:4223).

const json = JSONCodec();
const CLI = path.resolve(__dirname, '../../../../apps/cli/dist/main.js');

@Injectable()
class TestGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown }>();
    const role = req.headers['x-test-role'] as Role | undefined;
    if (!role) return false;
    req.user = { username: `${role}-user`, role, via: 'jwt' };
    const need = this.reflector.getAllAndOverride<Role>(ROLE_KEY, [ctx.getHandler(), ctx.getClass()]) ?? 'viewer';
    return roleAllows(role, need);
  }
}

describe('gateway API', () => {
  const prefix = `t${randomBytes(4).toString('hex')}.`;
  const store = new InMemoryEventStore();
  const appender = new EventAppender(store);
  let nc: NatsConnection;
  let app: NestFastifyApplication;
  const riskRequests: unknown[] = [];
  const idempotencyBucket = `idem-spec-${randomBytes(4).toString('hex')}`;
  let manualEntries = 0;
  let firstCandles: Candle[] = [];
  /** The API module as the gateway builds it: a second one stands for the gateway after a restart. */
  let makeApp: () => Promise<NestFastifyApplication>;

  beforeAll(async () => {
    nc = await connectNats({ user: 'admin', name: 'gateway-api-spec' });
    // Stand-in risk: records a TradingStateChanged for the kill switch and answers like risk does.
    nc.subscribe(`${prefix}${Subjects.setTradingState}`, {
      callback: async (_e, m) => {
        const req = json.decode(m.data) as { accountId: string; state: string; reason: string; by: string };
        riskRequests.push(req);
        const rev = await store.streamRevision(Streams.account(req.accountId));
        await appender.append(Streams.account(req.accountId), [event('TradingStateChanged', { state: req.state, previous: 'ACTIVE', reason: req.reason, by: req.by } as never)], rev ?? 'no_stream', { tsEvent: Date.now(), correlationId: 'c', causationId: 'c' });
        m.respond(json.encode({ accountId: req.accountId, tradingState: req.state }));
      },
    });
    nc.subscribe(`${prefix}${Subjects.manualEntry}`, {
      callback: (_e, m) => {
        manualEntries++;
        m.respond(json.encode({ error: { code: 'NO_MARKET_PRICE', message: 'no closed candle seen yet' } }));
      },
    });
    await createIdempotencyBucket(nc, idempotencyBucket);
    // Stand-in market-data: the first real candles of the demo's file, answered like market-data answers.
    const candles: Candle[] = [];
    for await (const c of readCandles(instrumentFiles(resolveDataDir()).defaultCandles)) {
      candles.push(c);
      if (candles.length === 3) break;
    }
    nc.subscribe(`${prefix}${Subjects.candles}`, {
      callback: (_e, m) => {
        const req = json.decode(m.data) as { symbol: string; from: number; to: number };
        if (req.symbol !== 'BTCUSDT') return m.respond(json.encode({ error: { code: 'NO_HISTORY', message: `no candles of ${req.symbol}` } }));
        m.respond(json.encode({ candles: candles.filter((c) => c.openTime >= req.from && c.openTime < req.to), next: null }));
      },
    });
    firstCandles = candles;
    await appender.append(Streams.account('acct-1'), [event('AccountOpened', { accountId: 'acct-1', venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, leverageCap: 20, riskFraction: '0.01', maxMarginFraction: '0.5', liquidationBufferFraction: '0.1', maxTradesPerDay: 50, dailyLossLimitFraction: null, dailyProfitTargetFraction: null, maxMonthlyDrawdownFraction: '0.04', maxFeeRiskFraction: '0.5', maxLifetimeDrawdownFraction: '0.1', losingStreakPause: null, maxMarginUtilisationFraction: '0.95', marginMode: 'ISOLATED', protection: 'INTERNAL', workingType: 'MARK_PRICE', highLeverageConfirmed: false, venueBalance: '10000' } as never)], 'no_stream', { tsEvent: Date.now(), correlationId: 'c', causationId: 'c' });

    @Global()
    @Module({ providers: [{ provide: GATEWAY_NATS, useValue: nc }, { provide: GATEWAY_STORE, useValue: store }, { provide: GATEWAY_CONFIG, useValue: {} }], exports: [GATEWAY_NATS, GATEWAY_STORE, GATEWAY_CONFIG] })
    class Infra {}
    @Module({ imports: [Infra, ApiModule.withOptions({ subjectPrefix: prefix, requestTimeoutMs: 3000, entryDecisionWaitMs: 500, idempotencyBucket })], providers: [{ provide: APP_GUARD, useClass: TestGuard }, { provide: APP_FILTER, useClass: HttpErrorFilter }] })
    class Root {}
    makeApp = async () => {
      const a = await NestFactory.create<NestFastifyApplication>(Root, new FastifyAdapter(), { logger: ['error'] });
      await a.init();
      await a.getHttpAdapter().getInstance().ready();
      return a;
    };
    app = await makeApp();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await (await nc?.jetstreamManager())?.streams.delete(`KV_${idempotencyBucket}`).catch(() => undefined);
    await nc?.close();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, role: Role | null, payload?: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method, url, payload: payload as never, headers: { ...(role ? { 'x-test-role': role } : {}), ...headers } });

  it('reads: the account list, one account, its lists; an unknown account is 404 UNKNOWN_ACCOUNT', async () => {
    const list = await call('GET', '/api/accounts', 'viewer');
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([expect.objectContaining({ accountId: 'acct-1', symbol: 'BTCUSDT' })]);
    for (const p of ['', '/positions', '/orders', '/fills', '/equity']) {
      expect((await call('GET', `/api/accounts/acct-1${p}`, 'viewer')).statusCode).toBe(200);
      const r = await call('GET', `/api/accounts/nobody${p}`, 'viewer');
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ error: { code: 'UNKNOWN_ACCOUNT' } });
    }
    expect((await call('GET', '/api/accounts/bad%20id', 'viewer')).statusCode).toBe(400);
  });

  it('calculators answer exactly what `bulwark calc … --json` answers, without file paths', async () => {
    const cli = (args: string[]) => {
      const { files: _f, ...rest } = JSON.parse(execFileSync(process.execPath, [CLI, 'calc', ...args, '--json'], { encoding: 'utf8' })) as Record<string, unknown>;
      return rest;
    };
    const liq = await call('POST', '/api/calc/liquidation', 'viewer', { side: 'long', entry: 60000, qty: '0.01', leverage: 10, walletBalance: '60' });
    expect(liq.statusCode).toBe(200);
    expect(liq.json()).toEqual(cli(['liquidation', '--side', 'long', '--entry', '60000', '--qty', '0.01', '--leverage', '10', '--wallet-balance', '60']));
    const size = await call('POST', '/api/calc/size', 'viewer', { side: 'long', entry: '104587.7', stop: 103500, equity: '10000', riskPct: 1, leverage: 10 });
    expect(size.statusCode).toBe(200);
    expect(size.json()).toEqual(cli(['size', '--side', 'long', '--entry', '104587.7', '--stop', '103500', '--equity', '10000', '--risk-pct', '1', '--leverage', '10']));
  }, 60_000);

  it.each([
    ['/api/calc/liquidation', { side: 'up', entry: 1, qty: 1, leverage: 1 }, 'side'],
    ['/api/calc/liquidation', { side: 'long', entry: '-5', qty: 1, leverage: 1 }, 'entry'],
    ['/api/calc/liquidation', { side: 'long', entry: 1, qty: 1, leverage: 200 }, 'leverage'],
    ['/api/calc/size', { side: 'long', entry: 1, stop: 'abc', equity: 1, leverage: 2 }, 'stop'],
    ['/api/accounts/validate', { accountId: 'a', symbol: 'BTCUSDT', capital: 'x', leverage: 5 }, 'capital'],
    ['/api/accounts/acct-1/trading-state', { state: 'SLEEPING', reason: 'x' }, 'state'],
    ['/api/accounts/acct-1/trading-state', { state: 'HALTED' }, 'reason'],
    ['/api/accounts/acct-1/entries', { symbol: 'BTCUSDT', side: 'long', stopPrice: 0 }, 'stopPrice'],
    ['/api/backtest', { leverage: 5 }, 'dataset'],
  ])('POST %s %j → 400 naming %s', async (url, body, field) => {
    const r = await call('POST', url, 'trader', body);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'INVALID_INPUT', field } });
  });

  it('validate: every rule has a verdict; 10x without confirmation is refused by name', async () => {
    const r = await call('POST', '/api/accounts/validate', 'viewer', { accountId: 'a', symbol: 'BTCUSDT', capital: '1000', leverage: 10 });
    expect(r.statusCode).toBe(200);
    const body = r.json() as { ok: boolean; verdicts: { rule: string; ok: boolean }[] };
    expect(body.ok).toBe(false);
    expect(body.verdicts).toContainEqual(expect.objectContaining({ rule: 'highLeverageConfirmed', ok: false }));
    expect((await call('POST', '/api/accounts', 'trader', { accountId: 'a', symbol: 'BTCUSDT', capital: '1000', leverage: 10 })).json()).toMatchObject({ error: { code: 'CONFIRMATION_REQUIRED', field: 'highLeverageConfirmed' } });
  });

  it('a command answers with its recorded events; a repeated Idempotency-Key returns the first answer and records nothing new', async () => {
    const body = { state: 'HALTED', reason: 'spec kill switch' };
    const first = await call('POST', '/api/accounts/acct-1/trading-state', 'trader', body, { 'idempotency-key': 'k-1' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ events: [expect.objectContaining({ type: 'TradingStateChanged', streamId: 'account-acct-1', data: expect.objectContaining({ by: 'trader-user' }) })] });
    const positions = await store.lastPosition();
    const again = await call('POST', '/api/accounts/acct-1/trading-state', 'trader', body, { 'idempotency-key': 'k-1' });
    expect(again.json()).toEqual(first.json());
    expect(await store.lastPosition()).toBe(positions);
    expect(riskRequests).toHaveLength(1);
    // The key outlives the gateway: after a restart the repeat still gets the first answer.
    const restarted = await makeApp();
    try {
      const afterRestart = await restarted.inject({ method: 'POST', url: '/api/accounts/acct-1/trading-state', payload: body, headers: { 'x-test-role': 'trader', 'idempotency-key': 'k-1' } });
      expect(afterRestart.json()).toEqual(first.json());
    } finally {
      await restarted.close();
    }
    expect(await store.lastPosition()).toBe(positions);
    expect(riskRequests).toHaveLength(1);
    // The same key on another command is a client error, not a silent replay of the wrong answer.
    const reused = await call('POST', '/api/accounts/acct-1/flatten', 'trader', { reason: 'x' }, { 'idempotency-key': 'k-1' });
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    // A refused command keeps nothing: the repeat is a new attempt.
    const entry = { symbol: 'BTCUSDT', side: 'long', stopPrice: '90000' };
    const before = manualEntries;
    expect((await call('POST', '/api/accounts/acct-1/entries', 'trader', entry, { 'idempotency-key': 'k-2' })).statusCode).toBe(422);
    expect((await call('POST', '/api/accounts/acct-1/entries', 'trader', entry, { 'idempotency-key': 'k-2' })).statusCode).toBe(422);
    expect(manualEntries).toBe(before + 2);
  });

  it('a viewer may not send a command (403); a manual entry without a market price is refused NO_MARKET_PRICE', async () => {
    expect((await call('POST', '/api/accounts/acct-1/flatten', 'viewer', { reason: 'x' })).statusCode).toBe(403);
    const r = await call('POST', '/api/accounts/acct-1/entries', 'trader', { symbol: 'BTCUSDT', side: 'long', stopPrice: '90000' });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: { code: 'NO_MARKET_PRICE' } });
    expect((await call('POST', '/api/accounts/nobody/entries', 'trader', { symbol: 'BTCUSDT', side: 'long', stopPrice: '90000' })).statusCode).toBe(404);
  });

  // The backtest runs in a real piscina worker thread (the built services/gateway/dist/api/backtest.worker.js,
  // which loads libs/application's dist): build both first (npx tsc -b services/gateway/tsconfig.lib.json).
  it('lists the data sets; a one-day 10x backtest runs in a worker thread and answers the backtest report\'s data', async () => {
    const ds = (await call('GET', '/api/datasets', 'viewer')).json() as { id: string; symbol: string; from: string; to: string }[];
    const month = ds.find((d) => d.id === 'binance-usdm.BTCUSDT-1m-2025-11-10_2025-12-10');
    expect(month).toMatchObject({ symbol: 'BTCUSDT', from: '2025-11-10', to: '2025-12-10' });
    const body = { dataset: month!.id, from: '2025-11-21', to: '2025-11-22', capital: '10000', leverage: 10, riskPct: '1', highLeverageConfirmed: true, dailyLossLimitFraction: '0.03', maxMonthlyDrawdownFraction: '0.05' };
    const r = await call('POST', '/api/backtest', 'trader', body);
    expect(r.statusCode).toBe(200);
    const b = r.json() as {
      title: string;
      result: { config: { leverage: number; policy: unknown }; summary: { capital: string }; stats: { trades: number }; months: { month: string; limit: string }[]; trades: Record<string, string | null>[] };
      equity: { t: number; equity: string; drawdownFraction: string }[];
      candles: { openTime: number; open: string; high: string; low: string; close: string }[];
      chart: unknown;
    };
    expect(b.title).toBe('Backtest BTCUSDT 1m 2025-11-21 → 2025-11-22, 10x, risk 1 % per trade');
    expect(b.result.summary.capital).toBe('10000');
    expect(b.result.config).toMatchObject({ leverage: 10, policy: { dailyLossLimitFraction: '0.03', maxMonthlyDrawdownFraction: '0.05' } });
    expect(b.result).not.toHaveProperty('store');
    // The policy override reached the run: the month's limit is 5 % of its base.
    expect(b.result.months).toEqual([expect.objectContaining({ month: '2025-11', limit: '500' })]);
    // The day's 1440 one-minute candles, from the data file.
    expect(b.candles).toHaveLength(1440);
    expect(b.candles[0]).toEqual({ openTime: Date.parse('2025-11-21T00:00:00Z'), open: expect.stringMatching(/^\d+(\.\d+)?$/), high: expect.any(String), low: expect.any(String), close: expect.any(String) });
    expect(b.chart).toEqual({ sourceBars: 1440, shownBars: 1440, barMs: 60_000, sourceBarMs: 60_000 });
    // Equity with its drawdown from the running peak.
    expect(b.equity[0]).toEqual({ t: Date.parse('2025-11-21T00:00:00Z'), equity: '10000', drawdownFraction: '0' });
    expect(b.equity.some((p) => Number(p.drawdownFraction) > 0)).toBe(true);
    // Trades with their price levels.
    expect(b.result.stats.trades).toBeGreaterThan(0);
    expect(b.result.trades).toHaveLength(b.result.stats.trades);
    for (const t of b.result.trades) for (const k of ['quantity', 'entryPrice', 'exitPrice', 'stopPrice', 'liquidationPrice']) expect(t[k]).toMatch(/^\d+(\.\d+)?$/);
  }, 240_000);

  it('backtest refusals: 10x without confirmation names highLeverageConfirmed; an unknown data set is 404; a bad window is 400', async () => {
    const dataset = 'binance-usdm.BTCUSDT-1m-2025-11-10_2025-12-10';
    const unconfirmed = await call('POST', '/api/backtest', 'trader', { dataset, from: '2025-11-21', to: '2025-11-22', leverage: 10 });
    expect(unconfirmed.statusCode).toBe(422);
    expect(unconfirmed.json()).toMatchObject({ error: { code: 'CONFIRMATION_REQUIRED', field: 'highLeverageConfirmed' } });
    const unknown = await call('POST', '/api/backtest', 'trader', { dataset: 'binance-usdm.NOPE-1m-2025-11-10_2025-12-10' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'UNKNOWN_DATASET', field: 'dataset' } });
    for (const [window, field] of [
      [{ from: '2025-11-22', to: '2025-11-21' }, 'from'],
      [{ from: 'yesterday' }, 'from'],
      [{ from: '2026-01-01' }, 'from'],
      [{ to: '2025-11-01' }, 'to'],
    ] as const) {
      const r = await call('POST', '/api/backtest', 'trader', { dataset, ...window });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ error: { code: 'INVALID_INPUT', field } });
    }
    // The dashboard's old names are refused by name, never silently ignored.
    const old = await call('POST', '/api/backtest', 'trader', { dataset, confirmHighLeverage: true });
    expect(old.statusCode).toBe(400);
    expect(old.json()).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.stringContaining('confirmHighLeverage') } });
    expect((await call('POST', '/api/backtest', 'viewer', { dataset })).statusCode).toBe(403);
  });

  it('audits: an unknown order is 404, a malformed date 400, a day with nothing in it an empty audit', async () => {
    expect((await call('GET', '/api/audit/orders/e-nobody-0001', 'viewer')).statusCode).toBe(404);
    const bad = await call('GET', '/api/audit/days/2025-13-45', 'viewer');
    expect(bad.statusCode).toBe(400);
    const day = await call('GET', '/api/audit/days/2025-11-21', 'viewer');
    expect(day.statusCode).toBe(200);
    expect(day.json()).toMatchObject({ day: '2025-11-21' });
  });

  it('candles for the chart come from market-data: a window of real candles, an unknown symbol 404, a reversed window 400', async () => {
    const [first, second] = firstCandles;
    const page = await call('GET', `/api/market/binance-usdm/BTCUSDT/candles?from=${first.openTime}&to=${second.openTime + 1}`, 'viewer');
    expect(page.json()).toEqual({ candles: [first, second], next: null });
    expect(page.statusCode).toBe(200);
    expect((await call('GET', '/api/market/binance-usdm/ETHUSDT/candles', 'viewer')).json()).toMatchObject({ error: { code: 'NO_HISTORY' } });
    const reversed = await call('GET', `/api/market/binance-usdm/BTCUSDT/candles?from=${second.openTime}&to=${first.openTime}`, 'viewer');
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json()).toMatchObject({ error: { field: 'from' } });
  });

  it('the current price is the newest mark market-data published (market time), 404 NO_MARK before any', async () => {
    const none = await call('GET', '/api/market/binance-usdm/BTCUSDT/mark', 'viewer');
    expect(none.statusCode).toBe(404);
    expect(none.json()).toMatchObject({ error: { code: 'NO_MARK' } });
    const [first, second] = firstCandles;
    // A replay's marks: market time, an older one arriving late does not replace the newer.
    nc.publish(`${prefix}md.mark.binance-usdm.BTCUSDT`, json.encode({ ts: second.openTime, price: second.open }));
    nc.publish(`${prefix}md.mark.binance-usdm.BTCUSDT`, json.encode({ ts: first.openTime, price: first.open }));
    // Then a mark of another venue on the same connection: the gateway's one `md.mark.>`
    // subscription gets them in publish order, so once it shows, both BTCUSDT marks were applied
    // (a fixed sleep instead was a race on a loaded machine).
    nc.publish(`${prefix}md.mark.bitget-usdtm.BTCUSDT`, json.encode({ ts: second.openTime, price: second.open }));
    await nc.flush();
    const deadline = Date.now() + 30_000;
    while ((await call('GET', '/api/market/bitget-usdtm/BTCUSDT/mark', 'viewer')).statusCode !== 200) {
      if (Date.now() > deadline) throw new Error('the gateway never applied the bitget-usdtm mark');
      await new Promise((res) => setTimeout(res, 20));
    }
    const r = await call('GET', '/api/market/binance-usdm/btcusdt/mark', 'viewer');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ venue: 'binance-usdm', symbol: 'BTCUSDT', price: second.open, ts: second.openTime });
  });

  it("during a replay an operator command is stamped with the account's market time (its last mark), not the wall clock", async () => {
    const [, second] = firstCandles; // the previous test left this 2025-11-10 mark as the newest
    const before = riskRequests.length;
    const r = await call('POST', '/api/accounts/acct-1/trading-state', 'trader', { state: 'REDUCING', reason: 'replay kill switch' });
    expect(r.statusCode).toBe(200);
    expect(riskRequests.slice(before)).toEqual([expect.objectContaining({ state: 'REDUCING', at: second.openTime, by: 'trader-user' })]);
  });
});
