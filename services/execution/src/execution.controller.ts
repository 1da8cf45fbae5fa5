import { type EventData, MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, eventPattern } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { ExecutionService } from './execution.service';

@Controller()
export class ExecutionController {
  constructor(private readonly execution: ExecutionService) {}

  @EventPattern(eventPattern('account'))
  async onAccount(@Payload() e: RecordedEvent) {
    if (e.type === 'AccountOpened') await this.execution.configureAccount(e as RecordedEvent<'AccountOpened', EventData<'AccountOpened'>>);
    else if (e.type === 'EntryApproved') await this.execution.submitEntry(e as RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>);
    else if (e.type === 'TradingStateChanged') this.execution.tradingStateChanged(e.streamId.slice('account-'.length), (e.data as EventData<'TradingStateChanged'>).state);
  }

  @EventPattern(eventPattern('stop'))
  async onStop(@Payload() e: RecordedEvent) {
    if (e.type === 'StopTriggered') await this.execution.submitProtectiveClose(e as RecordedEvent<'StopTriggered', EventData<'StopTriggered'>>);
  }

  @MessagePattern(Subjects.clock('execution'))
  onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    return this.execution.onTick(tick);
  }
}
