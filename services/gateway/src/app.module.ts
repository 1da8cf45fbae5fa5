import type { EventStore } from '@bulwark/event-store';
import type { CredentialsStore } from '@bulwark/messaging';
import { type DynamicModule, Global, Module, type ModuleMetadata } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { API_OPTIONS_OVERRIDES, type ApiOptions } from './api/api-options';
import { ApiModule } from './api/api.module';
import { AuthModule } from './auth/auth.module';
import type { GatewayConfig } from './config';
import { StreamModule } from './stream/stream.module';
import { GATEWAY_CONFIG, GATEWAY_NATS, GATEWAY_STORE } from './tokens';
import { GATEWAY_CREDENTIALS } from './users/user-directory';

/** What the gateway runs on: its NATS connection, the event log, its settings and the credentials bucket. */
export interface GatewayRuntime {
  nc: NatsConnection;
  store: EventStore;
  config: GatewayConfig;
  credentials: CredentialsStore;
  /** API settings over the defaults (tests: a subject prefix, their own idempotency bucket). */
  api?: Partial<ApiOptions>;
}

@Global()
@Module({})
class GatewayCoreModule {
  static forRuntime(rt: GatewayRuntime): DynamicModule {
    const providers = [
      { provide: GATEWAY_NATS, useValue: rt.nc },
      { provide: GATEWAY_STORE, useValue: rt.store },
      { provide: GATEWAY_CONFIG, useValue: rt.config },
      { provide: GATEWAY_CREDENTIALS, useValue: rt.credentials },
      { provide: API_OPTIONS_OVERRIDES, useValue: rt.api ?? {} },
    ];
    return { module: GatewayCoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}

/** The gateway: auth (global guard), the API (reads, commands, calculators) and the live stream. */
@Module({})
export class AppModule {
  static forRuntime(rt: GatewayRuntime, imports: NonNullable<ModuleMetadata['imports']> = []): DynamicModule {
    return { module: AppModule, imports: [GatewayCoreModule.forRuntime(rt), ...imports, AuthModule, ApiModule, StreamModule] };
  }
}
