import { CANDLE_HISTORY, NatsCandleHistory, SignalsService } from '@bulwark/application';
import { NATS } from '@bulwark/messaging';
import { Module } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { SignalsController } from './signals.controller';

@Module({
  controllers: [SignalsController],
  // A restarted signals warms its strategies up from market-data's candles.
  providers: [SignalsService, { provide: CANDLE_HISTORY, useFactory: (nc: NatsConnection) => new NatsCandleHistory(nc), inject: [NATS] }],
})
export class SignalsModule {}
