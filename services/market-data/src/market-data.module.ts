import { ReplayService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { LiveFeedService } from './live-feed.service';
import { MarketDataController } from './market-data.controller';

@Module({ controllers: [MarketDataController], providers: [ReplayService, LiveFeedService] })
export class MarketDataModule {}
