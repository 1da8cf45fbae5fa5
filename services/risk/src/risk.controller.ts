import {
  type EventData,
  MarketTick,
  OpenAccountRequest,
  type RecordedEvent,
  ResumeTradingRequest,
  SetTradingStateRequest,
  Subjects,
} from '@bulwark/contracts';
import { ZodPipe, eventPattern } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { RiskService } from './risk.service';

/** Turns messages into risk commands; all decisions are in the domain's account decider. */
@Controller()
export class RiskController {
  constructor(private readonly risk: RiskService) {}

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

  @MessagePattern(Subjects.clock('risk'))
  onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    return this.risk.onTick(tick);
  }

  @EventPattern(eventPattern('signal'))
  async onSignal(@Payload() e: RecordedEvent) {
    if (e.type === 'IntentEmitted') await this.risk.assess(e as RecordedEvent<'IntentEmitted', EventData<'IntentEmitted'>>);
  }

  @EventPattern(eventPattern('position'))
  async onPosition(@Payload() e: RecordedEvent) {
    if (e.type === 'PositionOpened') this.risk.positionOpened(e.data as EventData<'PositionOpened'>);
    else if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
      await this.risk.recordResult(e as RecordedEvent<string, EventData<'PositionClosed'>>);
    }
  }

  @EventPattern(eventPattern('rules'))
  onRules(@Payload() e: RecordedEvent) {
    if (e.type === 'InstrumentRulesRecorded') this.risk.rulesRecorded(e.data as EventData<'InstrumentRulesRecorded'>);
  }
}
