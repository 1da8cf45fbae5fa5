import { CandleHistoryServer, ReplayService } from '@bulwark/application';
import { EVENT_STORE } from '@bulwark/messaging';
import { Module } from '@nestjs/common';
import { LiveFeedService } from './live-feed.service';
import { MarketDataController } from './market-data.controller';

@Module({
  controllers: [MarketDataController],
  providers: [
    ReplayService,
    LiveFeedService,
    // The candles a restarted signals service warms up from: the live feed's history, else the newest replay's file.
    { provide: CandleHistoryServer, useFactory: (store: ConstructorParameters<typeof CandleHistoryServer>[0], live: LiveFeedService) => new CandleHistoryServer(store, () => live.feed()), inject: [EVENT_STORE, LiveFeedService] },
  ],
})
export class MarketDataModule {}
