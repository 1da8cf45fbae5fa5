import { EQUITY_SOURCE, NatsEquitySource, RiskService } from '@bulwark/application';
import { NATS } from '@bulwark/messaging';
import { Module } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { RiskController } from './risk.controller';

@Module({
  controllers: [RiskController],
  providers: [RiskService, { provide: EQUITY_SOURCE, useFactory: (nc: NatsConnection) => new NatsEquitySource(nc), inject: [NATS] }],
})
export class RiskModule {}
