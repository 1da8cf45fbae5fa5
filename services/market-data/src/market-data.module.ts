import { Module } from '@nestjs/common';
import { MarketDataController } from './market-data.controller';
import { ReplayService } from './replay.service';

@Module({ controllers: [MarketDataController], providers: [ReplayService] })
export class MarketDataModule {}
