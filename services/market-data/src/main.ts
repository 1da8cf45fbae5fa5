import { bootstrapService } from '@bulwark/messaging';
import { MarketDataModule } from './market-data.module';

void bootstrapService('market-data', MarketDataModule);
