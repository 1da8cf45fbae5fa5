import { type AttachStrategyRequest, type ClockAck, type MarketTick, Streams, event } from '@bulwark/contracts';
import { EventAppender, clockAck, clockInterest } from '@bulwark/messaging';
import { DEFAULT_DONCHIAN_ATR, DonchianAtrStrategy, type DonchianAtrParams } from '@bulwark/strategies';
import { Injectable } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';

interface Attached {
  req: AttachStrategyRequest;
  strategy: DonchianAtrStrategy;
  revision: number;
}

/**
 * Runs the attached strategies on closed candles and records their entry intents on the
 * account's signal stream. WHEN to trade is decided here; HOW MUCH is risk's job.
 */
@Injectable()
export class SignalsService {
  private readonly attached = new Map<string, Attached>();

  constructor(private readonly appender: EventAppender) {
    clockInterest.get = () => (this.attached.size > 0 ? 'CLOSE' : 'NONE');
  }

  async attach(req: AttachStrategyRequest) {
    if (req.strategy !== DonchianAtrStrategy.strategyName) {
      throw new RpcException({ code: 'UNKNOWN_STRATEGY', message: `unknown strategy "${req.strategy}" (known: ${DonchianAtrStrategy.strategyName})` });
    }
    if (this.attached.has(req.accountId)) throw new RpcException({ code: 'ALREADY_ATTACHED', message: `a strategy is already attached to ${req.accountId}` });
    let strategy: DonchianAtrStrategy;
    try {
      strategy = new DonchianAtrStrategy({ ...DEFAULT_DONCHIAN_ATR, ...(req.params as Partial<DonchianAtrParams>) });
    } catch (e) {
      throw new RpcException({ code: 'INVALID_PARAMS', message: (e as Error).message });
    }
    const streamId = Streams.signal(req.accountId);
    const r = await this.appender.append(streamId, [event('StrategyAttached', { ...req, params: { ...strategy.params } })], 'no_stream', {
      tsEvent: Date.now(),
      correlationId: `attach-${req.accountId}`,
      causationId: `attach-${req.accountId}`,
    });
    this.attached.set(req.accountId, { req, strategy, revision: r!.result.nextExpectedRevision });
    return { accountId: req.accountId, strategy: req.strategy, params: strategy.params };
  }

  async onTick(tick: MarketTick): Promise<ClockAck> {
    if (tick.candle) {
      for (const a of this.attached.values()) {
        if (a.req.venue !== tick.venue || a.req.symbol !== tick.symbol) continue;
        const s = a.strategy.onCandle(tick.candle);
        if (!s) continue;
        const intent = event('IntentEmitted', {
          intentId: `i${tick.candle.openTime}`,
          accountId: a.req.accountId,
          venue: tick.venue,
          symbol: tick.symbol,
          side: s.side,
          entryPrice: s.entryPrice,
          stopPrice: s.stopPrice,
          takeProfitPrice: s.takeProfitPrice,
          strategy: DonchianAtrStrategy.strategyName,
          reason: s.reason,
          candleOpenTime: tick.candle.openTime,
        });
        const candleId = `candle-${tick.venue}-${tick.symbol}-${tick.candle.openTime}`;
        const r = await this.appender.append(Streams.signal(a.req.accountId), [intent], a.revision, {
          tsEvent: tick.ts,
          correlationId: candleId,
          causationId: candleId,
        });
        a.revision = r!.result.nextExpectedRevision;
      }
    }
    return clockAck('signals', this.appender);
  }
}
