import { SignalsService } from '@bulwark/application';
import { AttachStrategyRequest, ManualEntryRequest, MarketTick, Subjects } from '@bulwark/contracts';
import { ZodPipe, clockAck, clockInterest } from '@bulwark/messaging';
import { Controller, type OnModuleInit } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';

@Controller()
export class SignalsController implements OnModuleInit {
  constructor(private readonly signals: SignalsService) {}

  onModuleInit() {
    clockInterest.get = () => this.signals.interest();
  }

  @MessagePattern(Subjects.attachStrategy)
  attach(@Payload(new ZodPipe(AttachStrategyRequest)) req: AttachStrategyRequest) {
    return this.signals.attach(req);
  }

  @MessagePattern(Subjects.manualEntry)
  manualEntry(@Payload(new ZodPipe(ManualEntryRequest)) req: ManualEntryRequest) {
    return this.signals.manualEntry(req);
  }

  @MessagePattern(Subjects.clock('signals'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    await this.signals.onTick(tick);
    return clockAck('signals', this.signals.appender, this.signals.interest());
  }
}
