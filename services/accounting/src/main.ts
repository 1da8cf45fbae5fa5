import { bootstrapService } from '@bulwark/messaging';
import { AccountingModule } from './accounting.module';

void bootstrapService('accounting', AccountingModule);
