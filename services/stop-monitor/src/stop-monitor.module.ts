import { Module } from '@nestjs/common';
import { StopMonitorController } from './stop-monitor.controller';
import { StopMonitorService } from './stop-monitor.service';

@Module({ controllers: [StopMonitorController], providers: [StopMonitorService] })
export class StopMonitorModule {}
