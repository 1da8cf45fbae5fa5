import { StopMonitorService } from '@bulwark/application';
import { MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, clockAck, clockInterest, eventPattern } from '@bulwark/messaging';
import { processProjection } from '@bulwark/telemetry';
import { Controller, type OnModuleInit } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';

@Controller()
export class StopMonitorController implements OnModuleInit {
  constructor(private readonly stops: StopMonitorService) {}

  onModuleInit() {
    clockInterest.get = () => this.stops.interest();
  }

  @EventPattern(eventPattern('account'))
  onAccount(@Payload() e: RecordedEvent) {
    return this.stops.onEvent(e);
  }

  @EventPattern(eventPattern('position'))
  onPosition(@Payload() e: RecordedEvent) {
    return this.stops.onEvent(e);
  }

  @EventPattern(eventPattern('rules'))
  onRules(@Payload() e: RecordedEvent) {
    return this.stops.onEvent(e);
  }

  @EventPattern(eventPattern('order'))
  onOrder(@Payload() e: RecordedEvent) {
    return this.stops.onEvent(e);
  }

  @MessagePattern(Subjects.clock('stop-monitor'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    await this.stops.onTick(tick);
    // The path price stands in for the mark in a replay: margin ratio and liquidation distance follow it.
    processProjection().marked(tick.venue, tick.symbol, tick.to);
    return clockAck('stop-monitor', this.stops.appender, this.stops.interest());
  }
}
