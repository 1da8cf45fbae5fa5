import { StopMonitorService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { StopMonitorController } from './stop-monitor.controller';

@Module({ controllers: [StopMonitorController], providers: [StopMonitorService] })
export class StopMonitorModule {}
