import { Module } from '@nestjs/common';
import { RiskController } from './risk.controller';
import { RiskService } from './risk.service';

@Module({ controllers: [RiskController], providers: [RiskService] })
export class RiskModule {}
