import { liveFeedSettingsFromEnv, liveMarketDataOverNats, LogCandleJournal, type LiveMarketData } from '@bulwark/application';
import { EventAppender, NATS } from '@bulwark/messaging';
import { processMetrics } from '@bulwark/telemetry';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { NatsConnection } from 'nats';

/**
 * Market-data's live mode: with BULWARK_VENUE binance-demo, binance-live, bitget-demo or
 * bitget-live, the closed 1m candles and funding settlements of BULWARK_LIVE_SYMBOLS (default
 * BTCUSDT) from the venue's public streams (`liveMarketFor`: Binance or Bitget) drive the services through the replay clock (`liveMarketDataOverNats`), from
 * module init until shutdown. Each replayed candle is recorded in the log (`CandleClosed`); a
 * restart resumes after the last one, back-filling the gap from the venue. A bar whose replay
 * begins more than BULWARK_LIVE_MAX_LAG_SECONDS after its close is not traded (the feed is
 * behind), and `bulwark_live_feed_lag_seconds` says how far behind each symbol is. Off for every
 * other venue: the service only replays files, as before.
 */
@Injectable()
export class LiveFeedService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('market-data');
  private live: LiveMarketData | null = null;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly appender: EventAppender,
  ) {}

  /** A live feed is running (file replays are refused meanwhile: one clock drives the services). */
  get running(): boolean {
    return this.live?.running ?? false;
  }

  /** The running live feed (its venue history serves warm-ups), null when none runs. */
  feed(): LiveMarketData | null {
    return this.running ? this.live : null;
  }

  /** Before the first message: find where each feed resumes (the log's last CandleClosed) and start it. */
  async onModuleInit(): Promise<void> {
    const settings = liveFeedSettingsFromEnv();
    if (!settings) return;
    this.live = liveMarketDataOverNats(this.nc, settings, {
      log: (line) => this.log.log(line),
      onAlert: (a) => this.log.error(`market data alert: ${a.message}`),
      journal: new LogCandleJournal(this.appender),
    });
    await this.live.start();
    // bulwark_live_feed_lag_seconds, read at each scrape: a stalled feed shows even with no bar arriving.
    processMetrics().liveFeedLags = () => this.live?.lags() ?? [];
    this.log.log(`live market data from ${settings.venue}: ${settings.symbols.join(', ')} (bars replayed over ${settings.maxLagMs / 1000} s after their close are not traded)`);
  }

  async onModuleDestroy(): Promise<void> {
    processMetrics().liveFeedLags = null;
    await this.live?.stop();
    this.live = null;
  }
}
