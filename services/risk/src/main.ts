import { bootstrapService } from '@bulwark/messaging';
import { RiskModule } from './risk.module';

void bootstrapService('risk', RiskModule);
