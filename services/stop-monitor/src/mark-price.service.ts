import { StopMonitorService, markWatchSettingsFromEnv, venueOfKind } from '@bulwark/application';
import { DeadLetters, NATS } from '@bulwark/messaging';
import type { BinanceMarkPriceRest } from '@bulwark/venues/dist/binance/mark-price-rest';
import type { BitgetMarkPriceRest } from '@bulwark/venues/dist/bitget/mark-price-rest';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { type LiveMarkWatch, startLiveMarkWatch } from './mark-prices';

/*
 * The REST pollers bring ccxt: required only when a live venue is configured, so paper and the
 * local venues never load it. Synchronous so start-up keeps its order; `import()` of a deep path
 * would also need a file extension the tests' source mapping does not take.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const binanceRest = () => require('@bulwark/venues/dist/binance/mark-price-rest') as { BinanceMarkPriceRest: typeof BinanceMarkPriceRest };
const bitgetRest = () => require('@bulwark/venues/dist/bitget/mark-price-rest') as { BitgetMarkPriceRest: typeof BitgetMarkPriceRest };
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Stop-monitor's mark-price mode on the live venues (BULWARK_VENUE binance-demo, binance-live,
 * bitget-demo or bitget-live): MARK_PRICE stops are evaluated on every
 * `md.mark.<venue>.<symbol>` update, and a symbol silent for BULWARK_MARK_STALE_SECONDS
 * (default 5) is alerted on and polled over REST every second until its stream is back
 * (Binance `GET /fapi/v1/premiumIndex`, Bitget `GET /api/v2/mix/market/symbol-price`, picked
 * by the venue's exchange). Off for paper and the local venues: replays evaluate stops on the
 * candle path only.
 */
@Injectable()
export class MarkPriceService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('stop-monitor');
  private live: LiveMarkWatch | null = null;
  private poller: BinanceMarkPriceRest | BitgetMarkPriceRest | null = null;

  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly stops: StopMonitorService,
    private readonly deadLetters: DeadLetters,
  ) {}

  /** After every module's init (the stops are rebuilt from the log first). */
  onApplicationBootstrap(): void {
    const settings = markWatchSettingsFromEnv();
    if (!settings) return;
    this.poller = venueOfKind(settings.venue)!.exchange === 'bitget' ? new (bitgetRest().BitgetMarkPriceRest)({ mode: settings.mode }) : new (binanceRest().BinanceMarkPriceRest)({ mode: settings.mode });
    this.live = startLiveMarkWatch({
      nc: this.nc,
      stops: this.stops,
      poller: this.poller,
      staleMs: settings.staleMs,
      refuse: (subject, reason, payload) => void this.deadLetters.send(subject, reason, payload).catch(() => undefined),
      log: (line) => this.log.log(line),
    });
    this.log.log(`mark prices drive MARK_PRICE stops (${settings.venue}); stale after ${settings.staleMs} ms`);
  }

  async onModuleDestroy(): Promise<void> {
    await this.live?.stop();
    await this.poller?.close();
    this.live = null;
    this.poller = null;
  }
}
