import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { instrumentFiles, resolveDataDir } from '@bulwark/market-data';
import { Body, Controller, Get, HttpCode, Inject, Injectable, type OnModuleDestroy, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Piscina } from 'piscina';
import type { z } from 'zod';
import { Roles } from '../auth/roles';
import { HttpRefusal } from '../security/http-errors';
import { API_OPTIONS, type ApiOptions } from './api-options';
import type { BacktestAnswer, BacktestTask } from './backtest.worker';
import { BacktestBody } from './schemas';
import { ZodBody } from './zod-body';

/** A candle file of the data directory a backtest can run on. `from`/`to` come from the file name (UTC dates), null when it does not say. */
export interface Dataset {
  id: string;
  /** Path relative to the data directory. */
  file: string;
  venue: string;
  symbol: string;
  interval: string;
  from: string | null;
  to: string | null;
}

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

/** Runs backtests in worker threads (piscina): the gateway's event loop never waits for one. */
@Injectable()
export class BacktestRunner implements OnModuleDestroy {
  private pool: Piscina<BacktestTask, BacktestAnswer> | null = null;
  constructor(@Inject(API_OPTIONS) private readonly opts: ApiOptions) {}

  /** @throws HttpRefusal 429 BUSY when as many backtests wait as can run */
  run(task: BacktestTask): Promise<BacktestAnswer> {
    this.pool ??= new Piscina<BacktestTask, BacktestAnswer>({ filename: workerFile(), maxThreads: this.opts.backtestThreads, minThreads: 0, idleTimeout: 30_000, maxQueue: this.opts.backtestThreads * 2 });
    if (this.pool.queueSize >= this.opts.backtestThreads * 2) throw new HttpRefusal(429, 'BUSY', 'too many backtests are running; try again when one has finished');
    return this.pool.run(task);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool?.destroy();
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
  @ApiOperation({ summary: 'Run the in-process backtest on a data set and window (in a worker thread); `bulwark backtest --json` shape' })
  @ApiBody({ description: '{ dataset | dataFile, from?, to?, capital?, leverage?, riskPct?, highLeverageConfirmed?, funding? }' })
  @ApiOkResponse({ description: 'BacktestResult without its store: config, summary, stats, trades, equityCurve, breakers, months, gaps, decisions' })
  async backtest(@Body(new ZodBody(BacktestBody)) b: z.infer<typeof BacktestBody>): Promise<BacktestAnswer> {
    const dir = this.dataDir();
    const all = listDatasets(dir);
    // Only files of the data directory's list: a request never names an arbitrary path on the server.
    const ds = b.dataset !== undefined ? all.find((d) => d.id === b.dataset) : all.find((d) => d.file === path.normalize(b.dataFile ?? ''));
    if (!ds) throw new HttpRefusal(404, 'UNKNOWN_DATASET', `no data set ${b.dataset ?? b.dataFile} (GET /api/datasets lists them)`, b.dataset !== undefined ? 'dataset' : 'dataFile', 'not a data set of the data directory');
    const funding = instrumentFiles(dir, ds.venue, ds.symbol).fundingRates;
    return this.runner.run({
      accountId: `bt-web-${randomBytes(4).toString('hex')}`,
      venue: ds.venue as BacktestTask['venue'],
      symbol: ds.symbol,
      candles: path.join(dir, ds.file),
      funding: b.funding && existsSync(funding) ? funding : null,
      capital: b.capital,
      leverage: b.leverage,
      riskPct: b.riskPct,
      confirmHighLeverage: b.highLeverageConfirmed,
      from: b.from ?? null,
      to: b.to ?? null,
    });
  }
}
