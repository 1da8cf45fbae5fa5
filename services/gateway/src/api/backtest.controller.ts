import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { VenueId } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { instrumentFiles, resolveDataDir } from '@bulwark/market-data';
import type { DatasetView } from '@bulwark/projections';
import { Body, Controller, Get, HttpCode, Inject, Injectable, type OnModuleDestroy, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Piscina } from 'piscina';
import { Roles } from '../auth/roles';
import { HttpRefusal } from '../security/http-errors';
import { API_OPTIONS, type ApiOptions } from './api-options';
import type { BacktestAnswer, BacktestTask } from './backtest.worker';
import { openRequest } from './commands.controller';
import { BacktestBody } from './schemas';
import { ZodBody } from './zod-body';

/** A candle file of the data directory a backtest can run on (the view `GET /api/datasets` answers). */
export type Dataset = DatasetView;

const NAME = /^([A-Z0-9]+)-(\d+[mhd])-(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})\.csv(\.gz)?$/;

/** The candle files under `<dataDir>/<venue>/<SYMBOL>/klines-<interval>/`, sorted by id. */
export function listDatasets(dataDir: string): Dataset[] {
  const out: Dataset[] = [];
  const dirs = (p: string) => (existsSync(p) ? readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : []);
  for (const venue of dirs(dataDir)) {
    for (const symbol of dirs(path.join(dataDir, venue))) {
      for (const k of dirs(path.join(dataDir, venue, symbol)).filter((d) => d.startsWith('klines-'))) {
        for (const f of readdirSync(path.join(dataDir, venue, symbol, k))) {
          if (!/\.csv(\.gz)?$/.test(f)) continue;
          const m = NAME.exec(f);
          out.push({ id: `${venue}.${f.replace(/\.csv(\.gz)?$/, '')}`, file: path.join(venue, symbol, k, f), venue, symbol, interval: k.slice('klines-'.length), from: m?.[3] ?? null, to: m?.[4] ?? null });
        }
      }
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** The compiled worker: beside this file in dist, or the package's dist when running from sources (tests). */
function workerFile(): string {
  const beside = path.join(__dirname, 'backtest.worker.js');
  if (existsSync(beside)) return beside;
  const built = path.resolve(__dirname, '../../dist/api/backtest.worker.js');
  if (existsSync(built)) return built;
  throw new HttpRefusal(503, 'SERVICE_UNAVAILABLE', 'the backtest worker is not built (npx tsc -b services/gateway/tsconfig.lib.json)');
}

/** How long the pool's threads stay up after the last backtest (ms). */
const POOL_IDLE_MS = 30_000;

/**
 * Runs backtests in worker threads (piscina): the gateway's event loop never waits for one.
 * The pool starts all its `backtestThreads` threads at once and is destroyed after
 * POOL_IDLE_MS without a run (freeing the threads and the backtest modules they loaded).
 * Why not piscina's own idle timeout: a thread piscina adds later is used only after its ready
 * message passes `message instanceof Object`, which fails when piscina runs in a realm other
 * than the worker's messages (Jest's module sandbox): the task then waits forever. Threads
 * started with the pool are taken as ready from the start.
 */
@Injectable()
export class BacktestRunner implements OnModuleDestroy {
  private pool: Piscina<BacktestTask, BacktestAnswer> | null = null;
  /** Runs accepted and not yet settled (running or queued). */
  private inFlight = 0;
  private idle: NodeJS.Timeout | null = null;
  constructor(@Inject(API_OPTIONS) private readonly opts: ApiOptions) {}

  /**
   * Run one backtest in a worker thread.
   * @throws HttpRefusal 429 BUSY when as many backtests wait as can run; 503 when the worker is not built
   */
  async run(task: BacktestTask): Promise<BacktestAnswer> {
    const threads = this.opts.backtestThreads;
    if (this.inFlight >= threads * 3) throw new HttpRefusal(429, 'BUSY', 'too many backtests are running; try again when one has finished');
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    this.pool ??= new Piscina<BacktestTask, BacktestAnswer>({ filename: workerFile(), minThreads: threads, maxThreads: threads, maxQueue: threads * 2 });
    const pool = this.pool;
    this.inFlight++;
    try {
      return await pool.run(task);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        this.idle = setTimeout(() => {
          if (this.pool === pool) this.pool = null;
          void pool.destroy();
        }, POOL_IDLE_MS).unref();
      }
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }
}

/** Data sets (viewer) and the in-process backtest (trader). */
@ApiTags('backtest')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('api')
export class BacktestController {
  constructor(
    private readonly runner: BacktestRunner,
    @Inject(API_OPTIONS) private readonly opts: ApiOptions,
  ) {}

  private dataDir(): string {
    return this.opts.dataDir ?? resolveDataDir();
  }

  @Get('datasets')
  @Roles('viewer')
  @ApiOperation({ summary: 'Candle files of the data directory' })
  @ApiOkResponse({ description: '[{ id, file, venue, symbol, interval, from, to }]' })
  datasets(): Dataset[] {
    return listDatasets(this.dataDir());
  }

  @Post('backtest')
  @Roles('trader')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run the in-process backtest on a data set and window (in a worker thread); answers the backtest report\'s data (the dashboard\'s report page, `bulwark backtest --html`)' })
  @ApiBody({
    description:
      '{ dataset | dataFile, from?, to? (UTC date, ISO time or epoch ms), capital?, leverage?, riskPct? (percent), highLeverageConfirmed? (required true above 5x), funding?, ' +
      'leverageCap?, maxTradesPerDay?, dailyLossLimitFraction?, dailyProfitTargetFraction?, maxMonthlyDrawdownFraction?, maxFeeRiskFraction?, maxLifetimeDrawdownFraction?, losingStreakPause? (as POST /api/accounts) }',
  })
  @ApiOkResponse({ description: '{ title, result (BacktestResult without its store; trades with quantity, entry, exit, stop, take-profit and liquidation prices), equity [{ t, equity, drawdownFraction }], candles [{ openTime, open, high, low, close }], chart }' })
  async backtest(@Body(new ZodBody(BacktestBody)) b: BacktestBody): Promise<BacktestAnswer> {
    const dir = this.dataDir();
    const all = listDatasets(dir);
    // Only files of the data directory's list: a request never names an arbitrary path on the server.
    const ds = b.dataset !== undefined ? all.find((d) => d.id === b.dataset) : all.find((d) => d.file === path.normalize(b.dataFile ?? ''));
    if (!ds) throw new HttpRefusal(404, 'UNKNOWN_DATASET', `no data set ${b.dataset ?? b.dataFile} (GET /api/datasets lists them)`, b.dataset !== undefined ? 'dataset' : 'dataFile', 'not a data set of the data directory');
    const from = b.from ?? null;
    const to = b.to ?? null;
    checkWindow(ds, from, to);
    const { dataset: _d, dataFile: _f, from: _from, to: _to, riskPct, funding: withFunding, highLeverageConfirmed, capital, leverage, ...policy } = b;
    const accountId = `bt-web-${randomBytes(4).toString('hex')}`;
    // The account rules as for an account opened (e.g. CONFIRMATION_REQUIRED above 5x), before a thread is taken.
    openRequest({ accountId, venue: ds.venue as VenueId, symbol: ds.symbol, capital, leverage, riskFraction: dec(riskPct).div(100).toFixed(), highLeverageConfirmed, ...policy });
    const funding = instrumentFiles(dir, ds.venue, ds.symbol).fundingRates;
    const window = `${from === null ? ds.from ?? 'start' : utcDay(from)} → ${to === null ? ds.to ?? 'end' : utcDay(to)}`;
    return this.runner.run({
      title: `Backtest ${ds.symbol} ${ds.interval} ${window}, ${leverage}x, risk ${riskPct} % per trade`,
      accountId,
      venue: ds.venue as VenueId,
      symbol: ds.symbol,
      candles: path.join(dir, ds.file),
      funding: withFunding && existsSync(funding) ? funding : null,
      capital,
      leverage,
      riskPct,
      confirmHighLeverage: highLeverageConfirmed,
      policy,
      from,
      to,
    });
  }
}

const DAY_MS = 86_400_000;
/** A UTC day (2025-11-21), or day and minute when the time is not midnight. */
const utcDay = (t: number) => (t % DAY_MS === 0 ? new Date(t).toISOString().slice(0, 10) : `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`);

/**
 * Refuse a window that misses the data set's dates (its file name's first day through its last day, UTC).
 * @throws HttpRefusal 400 INVALID_INPUT naming `from` or `to`
 */
function checkWindow(ds: Dataset, from: number | null, to: number | null): void {
  const first = ds.from === null ? null : Date.parse(`${ds.from}T00:00:00Z`);
  const end = ds.to === null ? null : Date.parse(`${ds.to}T00:00:00Z`) + DAY_MS;
  const range = `${ds.from ?? '?'} → ${ds.to ?? '?'}`;
  if (from !== null && end !== null && from >= end) throw new HttpRefusal(400, 'INVALID_INPUT', `from: after the data set's last day (${range})`, 'from', `after the data set's last day (${range})`);
  if (to !== null && first !== null && to <= first) throw new HttpRefusal(400, 'INVALID_INPUT', `to: before the data set's first day (${range})`, 'to', `before the data set's first day (${range})`);
}
