import { AttachStrategyRequest, MarketTick, Subjects } from '@bulwark/contracts';
import { ZodPipe } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { SignalsService } from './signals.service';

@Controller()
export class SignalsController {
  constructor(private readonly signals: SignalsService) {}

  @MessagePattern(Subjects.attachStrategy)
  attach(@Payload(new ZodPipe(AttachStrategyRequest)) req: AttachStrategyRequest) {
    return this.signals.attach(req);
  }

  @MessagePattern(Subjects.clock('signals'))
  onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    return this.signals.onTick(tick);
  }
}
