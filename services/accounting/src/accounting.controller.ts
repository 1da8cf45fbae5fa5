import { AccountQuery, type EventData, MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, eventPattern } from '@bulwark/messaging';
import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { AccountingService } from './accounting.service';

@Controller()
export class AccountingController {
  constructor(private readonly accounting: AccountingService) {}

  @EventPattern(eventPattern('account'))
  onAccount(@Payload() e: RecordedEvent) {
    if (e.type === 'AccountOpened') this.accounting.accountOpened(e.data as EventData<'AccountOpened'>);
  }

  @EventPattern(eventPattern('order'))
  async onOrder(@Payload() e: RecordedEvent) {
    if (e.type === 'OrderFilled') await this.accounting.applyFill(e as RecordedEvent<'OrderFilled', EventData<'OrderFilled'>>);
  }

  @MessagePattern(Subjects.clock('accounting'))
  onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    return this.accounting.onTick(tick);
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
