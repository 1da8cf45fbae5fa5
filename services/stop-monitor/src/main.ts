import { bootstrapService } from '@bulwark/messaging';
import { StopMonitorModule } from './stop-monitor.module';

void bootstrapService('stop-monitor', StopMonitorModule);
