import { type EventData, MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, eventPattern } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { StopMonitorService } from './stop-monitor.service';

@Controller()
export class StopMonitorController {
  constructor(private readonly stops: StopMonitorService) {}

  @EventPattern(eventPattern('account'))
  onAccount(@Payload() e: RecordedEvent) {
    if (e.type === 'EntryApproved') this.stops.entryApproved(e.data as EventData<'EntryApproved'>);
  }

  @EventPattern(eventPattern('position'))
  async onPosition(@Payload() e: RecordedEvent) {
    if (e.type === 'PositionOpened') await this.stops.positionOpened(e as RecordedEvent<'PositionOpened', EventData<'PositionOpened'>>);
    else if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') await this.stops.positionEnded(e);
  }

  @EventPattern(eventPattern('rules'))
  onRules(@Payload() e: RecordedEvent) {
    if (e.type === 'InstrumentRulesRecorded') this.stops.rulesRecorded(e.data as EventData<'InstrumentRulesRecorded'>);
  }

  @MessagePattern(Subjects.clock('stop-monitor'))
  onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    return this.stops.onTick(tick);
  }
}
