import { ReplayStartRequest, Subjects } from '@bulwark/contracts';
import { ZodPipe } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { ReplayService } from '@bulwark/application';
import { LiveFeedService } from './live-feed.service';

@Controller()
export class MarketDataController {
  constructor(private readonly replay: ReplayService, private readonly live: LiveFeedService) {}

  @MessagePattern(Subjects.replayStart)
  start(@Payload(new ZodPipe(ReplayStartRequest)) req: ReplayStartRequest) {
    if (this.live.running) throw new RpcException({ code: 'LIVE_FEED_RUNNING', message: 'the live market feed drives the services; file replays are refused while it runs' });
    return this.replay.start(req);
  }
}
