import { SignalsService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { SignalsController } from './signals.controller';

@Module({ controllers: [SignalsController], providers: [SignalsService] })
export class SignalsModule {}
