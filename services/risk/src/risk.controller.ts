import { type EventData, type RecordedEvent, OpenAccountRequest, Subjects } from '@bulwark/contracts';
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
    return this.risk.openAccount(req);
  }

  @EventPattern(eventPattern('signal'))
  async onSignal(@Payload() e: RecordedEvent) {
    if (e.type === 'IntentEmitted') await this.risk.assess(e as RecordedEvent<'IntentEmitted', EventData<'IntentEmitted'>>);
  }

  @EventPattern(eventPattern('position'))
  async onPosition(@Payload() e: RecordedEvent) {
    if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
      await this.risk.recordResult(e as RecordedEvent<string, EventData<'PositionClosed'>>);
    }
  }

  @EventPattern(eventPattern('rules'))
  onRules(@Payload() e: RecordedEvent) {
    if (e.type === 'InstrumentRulesRecorded') this.risk.rulesRecorded(e.data as EventData<'InstrumentRulesRecorded'>);
  }
}
