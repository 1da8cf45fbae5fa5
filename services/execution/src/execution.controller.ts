import { ExecutionService } from '@bulwark/application';
import { MarginAccountQuery, MarginCloseRequest, MarginLoanRequest, MarginTransferRequest, MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, clockAck, clockInterest, eventPattern } from '@bulwark/messaging';
import { Controller, type OnModuleInit } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { MarginHost } from './margin.host';

@Controller()
export class ExecutionController implements OnModuleInit {
  constructor(private readonly execution: ExecutionService, private readonly margin: MarginHost) {}

  onModuleInit() {
    clockInterest.get = () => this.interest();
  }

  /** Steps are wanted while futures need them, and always while the replay clock drives a spot-margin venue. */
  private interest() {
    return this.margin.margin?.wantsSteps ? 'STEP' : this.execution.interest();
  }

  @EventPattern(eventPattern('account'))
  async onAccount(@Payload() e: RecordedEvent) {
    await this.execution.onEvent(e);
    await this.margin.margin?.onEvent(e);
  }

  @MessagePattern(Subjects.margin('transfer'))
  marginTransfer(@Payload(new ZodPipe(MarginTransferRequest)) req: MarginTransferRequest) {
    return this.margin.run((m) => m.transfer(req));
  }

  @MessagePattern(Subjects.margin('loan'))
  marginLoan(@Payload(new ZodPipe(MarginLoanRequest)) req: MarginLoanRequest) {
    return this.margin.run((m) => m.loan(req));
  }

  @MessagePattern(Subjects.margin('close'))
  marginClose(@Payload(new ZodPipe(MarginCloseRequest)) req: MarginCloseRequest) {
    return this.margin.run((m) => m.close(req));
  }

  @MessagePattern(Subjects.margin('account'))
  marginAccount(@Payload(new ZodPipe(MarginAccountQuery)) req: MarginAccountQuery) {
    return this.margin.run((m) => m.account(req));
  }

  @EventPattern(eventPattern('stop'))
  onStop(@Payload() e: RecordedEvent) {
    return this.execution.onEvent(e);
  }

  @MessagePattern(Subjects.clock('execution'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    await this.execution.onTick(tick);
    await this.margin.margin?.onTick(tick);
    return clockAck('execution', this.execution.appender, this.interest());
  }
}
