import { AccountingService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { AccountingController } from './accounting.controller';

@Module({ controllers: [AccountingController], providers: [AccountingService] })
export class AccountingModule {}
