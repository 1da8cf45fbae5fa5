import { type RecordedEvent } from '@bulwark/contracts';
import type { EventStore, Subscription } from '@bulwark/event-store';
import { foldUser, readUser, type UserRecord } from '@bulwark/messaging';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { GATEWAY_STORE } from '../tokens';

/** Injection token of the gateway's `CredentialsStore` (@bulwark/messaging; the `bulwark-credentials` bucket). */
export const GATEWAY_CREDENTIALS = Symbol('GATEWAY_CREDENTIALS');

/**
 * The gateway's users as the log holds them (streams `user-<username>`), kept current by a
 * subscription to the `user` category: a role change or a disable takes effect on the next
 * request, not when the access token expires. A user the subscription has not reached yet
 * (just created) is read from its stream.
 */
@Injectable()
export class UserDirectory implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('UserDirectory');
  private readonly events = new Map<string, RecordedEvent[]>();
  private readonly users = new Map<string, UserRecord>();
  private sub: Subscription | null = null;

  constructor(@Inject(GATEWAY_STORE) private readonly store: EventStore) {}

  onModuleInit(): void {
    this.sub = this.store.subscribeToAll({ categories: ['user'] }, async (e) => {
      const list = this.events.get(e.streamId) ?? [];
      if (list.length > 0 && list[list.length - 1].revision >= e.revision) return;
      list.push(e);
      this.events.set(e.streamId, list);
      const u = foldUser(list);
      if (u) this.users.set(u.username, u);
    });
    this.sub.done.catch((err: unknown) => this.log.error(`user subscription ended: ${(err as Error).message}`));
  }

  async onModuleDestroy(): Promise<void> {
    await this.sub?.stop();
  }

  /** The user named `username` (null when unknown or the name is malformed). */
  async get(username: string): Promise<UserRecord | null> {
    const known = this.users.get(username);
    if (known) return known;
    try {
      return await readUser(this.store, username);
    } catch {
      return null;
    }
  }
}
