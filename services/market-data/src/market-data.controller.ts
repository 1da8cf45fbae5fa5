import { CandlesRequest, ReplayCancelRequest, ReplayPaceRequest, ReplayStartRequest, Subjects } from '@bulwark/contracts';
import { DeadLetters, ZodPipe } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { CandleHistoryServer, NoCandleHistoryError, REPLAY_INPUT_REFUSALS, ReplayService } from '@bulwark/application';
import { LiveFeedService } from './live-feed.service';

@Controller()
export class MarketDataController {
  constructor(
    private readonly replay: ReplayService,
    private readonly live: LiveFeedService,
    private readonly deadLetters: DeadLetters,
    private readonly history: CandleHistoryServer,
  ) {}

  /**
   * Start a file replay. A request refused for its files or window (REPLAY_INPUT_REFUSALS:
   * a file that is missing, outside the allowed directories, not a kline / funding CSV, an
   * empty window) is answered with its typed error and kept in the dead-letter stream with
   * the reason, as an invalid message is.
   */
  @MessagePattern(Subjects.replayStart)
  async start(@Payload(new ZodPipe(ReplayStartRequest)) req: ReplayStartRequest) {
    if (this.live.running) throw new RpcException({ code: 'LIVE_FEED_RUNNING', message: 'the live market feed drives the services; file replays are refused while it runs' });
    try {
      return await this.replay.start(req);
    } catch (e) {
      const err = e instanceof RpcException ? (e.getError() as { code?: unknown; message?: unknown }) : null;
      if (err && typeof err.code === 'string' && REPLAY_INPUT_REFUSALS.has(err.code)) {
        await this.deadLetters.send(Subjects.replayStart, `${err.code}: ${String(err.message)}`, JSON.stringify(req)).catch(() => undefined);
      }
      throw e;
    }
  }

  /**
   * A page of the candles market-data serves (`CandlesRequest` → `CandlesPage`): a restarted
   * signals service warms its strategies up from them. NO_HISTORY when there are none.
   */
  @MessagePattern(Subjects.candles)
  async candles(@Payload(new ZodPipe(CandlesRequest)) req: CandlesRequest) {
    try {
      return await this.history.page(req);
    } catch (e) {
      if (e instanceof NoCandleHistoryError) throw new RpcException({ code: e.code, message: e.message });
      throw e;
    }
  }

  /** Stop a replay run for good (not resumed after a restart): `{ runId, cancelled }`. */
  @MessagePattern(Subjects.replayCancel)
  cancel(@Payload(new ZodPipe(ReplayCancelRequest)) req: ReplayCancelRequest) {
    return this.replay.cancel(req);
  }

  /** Change a running replay's pace from its next candle on: `{ runId, paced }`. */
  @MessagePattern(Subjects.replayPace)
  pace(@Payload(new ZodPipe(ReplayPaceRequest)) req: ReplayPaceRequest) {
    return this.replay.pace(req);
  }
}
