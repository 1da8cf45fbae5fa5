import { ExecutionService } from '@bulwark/application';
import { MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, clockAck, clockInterest, eventPattern } from '@bulwark/messaging';
import { Controller, type OnModuleInit } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';

@Controller()
export class ExecutionController implements OnModuleInit {
  constructor(private readonly execution: ExecutionService) {}

  onModuleInit() {
    clockInterest.get = () => this.execution.interest();
  }

  @EventPattern(eventPattern('account'))
  onAccount(@Payload() e: RecordedEvent) {
    return this.execution.onEvent(e);
  }

  @EventPattern(eventPattern('stop'))
  onStop(@Payload() e: RecordedEvent) {
    return this.execution.onEvent(e);
  }

  @MessagePattern(Subjects.clock('execution'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    await this.execution.onTick(tick);
    return clockAck('execution', this.execution.appender, this.execution.interest());
  }
}
