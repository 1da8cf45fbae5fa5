import { bootstrapService } from '@bulwark/messaging';
import { SignalsModule } from './signals.module';

void bootstrapService('signals', SignalsModule);
