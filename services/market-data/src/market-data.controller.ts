import { ReplayStartRequest, Subjects } from '@bulwark/contracts';
import { ZodPipe } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ReplayService } from '@bulwark/application';

@Controller()
export class MarketDataController {
  constructor(private readonly replay: ReplayService) {}

  @MessagePattern(Subjects.replayStart)
  start(@Payload(new ZodPipe(ReplayStartRequest)) req: ReplayStartRequest) {
    return this.replay.start(req);
  }
}
