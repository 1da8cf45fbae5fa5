import { ReplayService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { MarketDataController } from './market-data.controller';

@Module({ controllers: [MarketDataController], providers: [ReplayService] })
export class MarketDataModule {}
