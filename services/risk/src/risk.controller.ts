import { RiskService } from '@bulwark/application';
import { CancelOrderRequest, ClosePositionRequest, FlattenRequest, MarginEntryRequest, MarketTick, OpenAccountRequest, type RecordedEvent, ResumeTradingRequest, SetTradingStateRequest, Subjects } from '@bulwark/contracts';
import { ZodPipe, clockAck, clockInterest, eventPattern } from '@bulwark/messaging';
import { Controller, type OnModuleInit } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';

/** Turns messages into risk commands; the decisions are the domain's account decider. */
@Controller()
export class RiskController implements OnModuleInit {
  constructor(private readonly risk: RiskService) {}

  onModuleInit() {
    clockInterest.get = () => this.risk.interest();
  }

  @MessagePattern(Subjects.openAccount)
  openAccount(@Payload(new ZodPipe(OpenAccountRequest)) req: OpenAccountRequest) {
    return this.risk.configure(req, 'open');
  }

  @MessagePattern(Subjects.reconfigureAccount)
  reconfigure(@Payload(new ZodPipe(OpenAccountRequest)) req: OpenAccountRequest) {
    return this.risk.configure(req, 'reconfigure');
  }

  @MessagePattern(Subjects.setTradingState)
  setTradingState(@Payload(new ZodPipe(SetTradingStateRequest)) req: SetTradingStateRequest) {
    return this.risk.setTradingState(req);
  }

  @MessagePattern(Subjects.resumeTrading)
  resume(@Payload(new ZodPipe(ResumeTradingRequest)) req: ResumeTradingRequest) {
    return this.risk.resume(req);
  }

  @MessagePattern(Subjects.flatten)
  flatten(@Payload(new ZodPipe(FlattenRequest)) req: FlattenRequest) {
    return this.risk.operatorCommand(req, 'flatten');
  }

  @MessagePattern(Subjects.closePosition)
  closePosition(@Payload(new ZodPipe(ClosePositionRequest)) req: ClosePositionRequest) {
    return this.risk.operatorCommand(req, 'close-position');
  }

  @MessagePattern(Subjects.cancelOrder)
  cancelOrder(@Payload(new ZodPipe(CancelOrderRequest)) req: CancelOrderRequest) {
    return this.risk.operatorCommand(req, 'cancel-order');
  }

  @MessagePattern(Subjects.marginEntry)
  marginEntry(@Payload(new ZodPipe(MarginEntryRequest)) req: MarginEntryRequest) {
    return this.risk.marginEntry(req);
  }

  @MessagePattern(Subjects.clock('risk'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    await this.risk.onTick(tick);
    return clockAck('risk', this.risk.appender, this.risk.interest());
  }

  @EventPattern(eventPattern('signal'))
  onSignal(@Payload() e: RecordedEvent) {
    return this.risk.onEvent(e);
  }

  @EventPattern(eventPattern('position'))
  onPosition(@Payload() e: RecordedEvent) {
    return this.risk.onEvent(e);
  }

  @EventPattern(eventPattern('margin'))
  onMargin(@Payload() e: RecordedEvent) {
    return this.risk.onEvent(e);
  }

  @EventPattern(eventPattern('rules'))
  onRules(@Payload() e: RecordedEvent) {
    return this.risk.onEvent(e);
  }
}
