import { bootstrapService } from '@bulwark/messaging';
import { ExecutionModule } from './execution.module';

void bootstrapService('execution', ExecutionModule);
