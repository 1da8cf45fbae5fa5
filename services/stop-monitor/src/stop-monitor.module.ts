import { StopMonitorService } from '@bulwark/application';
import { Module } from '@nestjs/common';
import { MarkPriceService } from './mark-price.service';
import { StopMonitorController } from './stop-monitor.controller';

@Module({ controllers: [StopMonitorController], providers: [StopMonitorService, MarkPriceService] })
export class StopMonitorModule {}
