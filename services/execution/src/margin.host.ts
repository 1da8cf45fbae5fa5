import { MarginCommandError, MarginExecution, marginSettingsFromEnv } from '@bulwark/application';
import type { EventStore } from '@bulwark/event-store';
import { EVENT_STORE, EventAppender } from '@bulwark/messaging';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';

/** Execution's spot-margin side: present only when BULWARK_MARGIN_VENUE names a venue (MarginExecution). */
@Injectable()
export class MarginHost implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('execution:margin');
  readonly margin: MarginExecution | null;

  constructor(appender: EventAppender, @Inject(EVENT_STORE) store: EventStore) {
    const settings = marginSettingsFromEnv();
    this.margin = settings
      ? new MarginExecution({ settings, store, appender, log: { info: (m) => this.log.log(m), warn: (m) => this.log.warn(m), error: (m) => this.log.error(m) } })
      : null;
  }

  async onModuleInit(): Promise<void> {
    await this.margin?.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.margin?.stop();
  }

  /** Run a margin command; a typed refusal becomes the service's `{error:{code,message}}` answer. */
  async run<T>(fn: (m: MarginExecution) => Promise<T>): Promise<T> {
    if (!this.margin) throw new RpcException({ code: 'MARGIN_NOT_CONFIGURED', message: 'this execution trades no spot-margin account (set BULWARK_MARGIN_VENUE)' });
    try {
      return await fn(this.margin);
    } catch (e) {
      if (e instanceof MarginCommandError) throw new RpcException({ code: e.code, message: e.message });
      throw e;
    }
  }
}
