import { AccountingService } from '@bulwark/application';
import { AccountQuery, MarketTick, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { ZodPipe, clockAck, clockInterest, eventPattern } from '@bulwark/messaging';
import { processProjection } from '@bulwark/telemetry';
import { Controller, type OnModuleInit } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';

@Controller()
export class AccountingController implements OnModuleInit {
  constructor(private readonly accounting: AccountingService) {}

  onModuleInit() {
    clockInterest.get = () => this.accounting.interest();
  }

  @EventPattern(eventPattern('account'))
  async onAccount(@Payload() e: RecordedEvent) {
    await this.accounting.onEvent(e);
    if (e.type === 'AccountOpened') {
      processProjection().accounts.add((e.data as { accountId: string }).accountId);
      await this.observeEquity(e.metadata.tsEvent);
    }
  }

  @EventPattern(eventPattern('order'))
  async onOrder(@Payload() e: RecordedEvent) {
    await this.accounting.onEvent(e);
    if (e.type === 'OrderFilled') await this.observeEquity(e.metadata.tsEvent);
  }

  @MessagePattern(Subjects.clock('accounting'))
  async onTick(@Payload(new ZodPipe(MarketTick)) tick: MarketTick) {
    await this.accounting.onTick(tick);
    await this.observeEquity(tick.ts);
    return clockAck('accounting', this.accounting.appender, this.accounting.interest());
  }

  /** Equity and drawdown gauges of every account seen opened, after a mark or a fill moved them (market time `ts`). */
  private async observeEquity(ts: number): Promise<void> {
    for (const accountId of processProjection().accounts) {
      const s = await this.accounting.summary(accountId).catch(() => null);
      if (s) processProjection().equityObserved(accountId, s.finalEquity, s.peakEquity, ts);
    }
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
