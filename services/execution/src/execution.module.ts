import { ExecutionService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { ExecutionController } from './execution.controller';
import { MarginHost } from './margin.host';

@Module({ controllers: [ExecutionController], providers: [ExecutionService, MarginHost] })
export class ExecutionModule {}
