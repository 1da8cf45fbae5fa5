import { AccountingService } from '@bulwark/application';
import { AccountQuery, MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, clockAck, clockInterest, eventPattern } from '@bulwark/messaging';
import { Controller, type OnModuleInit } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';

@Controller()
export class AccountingController implements OnModuleInit {
  constructor(private readonly accounting: AccountingService) {}

  onModuleInit() {
    clockInterest.get = () => this.accounting.interest();
  }

  @EventPattern(eventPattern('account'))
  onAccount(@Payload() e: RecordedEvent) {
    return this.accounting.onEvent(e);
  }

  @EventPattern(eventPattern('order'))
  onOrder(@Payload() e: RecordedEvent) {
    return this.accounting.onEvent(e);
  }

  @MessagePattern(Subjects.clock('accounting'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    await this.accounting.onTick(tick);
    return clockAck('accounting', this.accounting.appender, this.accounting.interest());
  }

  @MessagePattern(Subjects.equity)
  equity(@Payload(new ZodPipe(AccountQuery)) q: AccountQuery) {
    return this.accounting.equity(q.accountId);
  }

  @MessagePattern(Subjects.summary)
  summary(@Payload(new ZodPipe(AccountQuery)) q: AccountQuery) {
    return this.accounting.summary(q.accountId);
  }
}
