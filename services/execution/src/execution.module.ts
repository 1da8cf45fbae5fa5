import { ExecutionService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { ExecutionController } from './execution.controller';

@Module({ controllers: [ExecutionController], providers: [ExecutionService] })
export class ExecutionModule {}
