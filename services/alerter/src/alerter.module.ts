import { Inject, Injectable, Logger, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Alerter, type AlerterOptions } from './alerter';

/** Injection token of the alerter's options (built by main.ts from the environment and the runtime). */
export const ALERTER_OPTIONS = Symbol('ALERTER_OPTIONS');

/** Runs the {@link Alerter} for the Nest application's lifetime: starts after bootstrap, stops on shutdown. */
@Injectable()
export class AlerterService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly alerter: Alerter;

  constructor(@Inject(ALERTER_OPTIONS) options: Omit<AlerterOptions, 'logger'>) {
    this.alerter = new Alerter({ ...options, logger: new Logger('Alerter') });
  }

  onApplicationBootstrap(): Promise<void> {
    return this.alerter.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.alerter.close();
  }
}

/** The alerter's Nest module: {@link AlerterService} with its options. */
@Module({})
export class AlerterModule {
  static forOptions(options: Omit<AlerterOptions, 'logger'>): DynamicModule {
    return { module: AlerterModule, providers: [{ provide: ALERTER_OPTIONS, useValue: options }, AlerterService], exports: [AlerterService] };
  }
}
