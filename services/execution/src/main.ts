import { venuesLib } from '@bulwark/application';
import { bootstrapService } from '@bulwark/messaging';
import { ExecutionModule } from './execution.module';

// Execution drives a venue in every mode, so it loads the venue library (ccxt) at boot rather
// than on first use: a standby must be warm. Loaded at takeover, it cost execution's standby
// 1.6 s between the lease's release and acting, on a busy 2-core machine (standby.e2e).
venuesLib();

void bootstrapService('execution', ExecutionModule);
