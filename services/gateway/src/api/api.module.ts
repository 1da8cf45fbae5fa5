import { type DynamicModule, Module } from '@nestjs/common';
import { API_OPTIONS, API_OPTIONS_OVERRIDES, type ApiOptions, DEFAULT_API_OPTIONS } from './api-options';
import { BacktestController, BacktestRunner } from './backtest.controller';
import { BusService } from './bus.service';
import { CalcController } from './calc.controller';
import { CommandsController } from './commands.controller';
import { IdempotencyService } from './idempotency.service';
import { MarginController } from './margin.controller';
import { ReadModelService } from './read-model.service';
import { ReadsController } from './reads.controller';

/**
 * The gateway's API: reads, commands, spot margin, calculators, backtests. Needs GATEWAY_NATS,
 * GATEWAY_STORE (provided globally by the app module); its settings are the defaults with
 * API_OPTIONS_OVERRIDES when provided. Exports ReadModelService for the event stream.
 */
@Module({
  controllers: [ReadsController, CommandsController, MarginController, CalcController, BacktestController],
  providers: [
    { provide: API_OPTIONS, useFactory: (over?: Partial<ApiOptions>): ApiOptions => ({ ...DEFAULT_API_OPTIONS, ...over }), inject: [{ token: API_OPTIONS_OVERRIDES, optional: true }] },
    BusService,
    IdempotencyService,
    ReadModelService,
    BacktestRunner,
  ],
  exports: [ReadModelService],
})
export class ApiModule {
  /** ApiModule with other settings (tests: a subject prefix, short waits); `imports: [ApiModule]` takes the defaults. */
  static withOptions(opts: Partial<ApiOptions>): DynamicModule {
    return { module: ApiModule, providers: [{ provide: API_OPTIONS, useValue: { ...DEFAULT_API_OPTIONS, ...opts } }] };
  }
}
