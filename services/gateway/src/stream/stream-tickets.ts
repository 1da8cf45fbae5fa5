import { randomBytes } from 'node:crypto';
import type { AuthUser } from '../auth/roles';

/** How long a stream ticket may wait before it is used (ms). */
export const STREAM_TICKET_TTL_MS = 30_000;
/** Unused tickets kept at most (the oldest are dropped). */
const MAX_TICKETS = 10_000;

/**
 * One-use tickets for the Server-Sent Events stream: a browser's EventSource cannot send an
 * Authorization header, so an authenticated caller first gets a ticket (32 random bytes) and
 * passes it in the URL. A ticket works once and for 30 s, so a URL in a log or history is dead.
 */
export class StreamTickets {
  private readonly tickets = new Map<string, { user: AuthUser; expiresAt: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** A new ticket for `user`. */
  issue(user: AuthUser): string {
    const now = this.clock();
    for (const [t, v] of this.tickets) if (v.expiresAt <= now) this.tickets.delete(t);
    if (this.tickets.size >= MAX_TICKETS) this.tickets.delete(this.tickets.keys().next().value as string);
    const ticket = randomBytes(32).toString('base64url');
    this.tickets.set(ticket, { user, expiresAt: now + STREAM_TICKET_TTL_MS });
    return ticket;
  }

  /** The ticket's user, spending the ticket; null when unknown, used or expired. */
  take(ticket: string): AuthUser | null {
    const v = this.tickets.get(ticket);
    if (!v) return null;
    this.tickets.delete(ticket);
    return v.expiresAt > this.clock() ? v.user : null;
  }
}
